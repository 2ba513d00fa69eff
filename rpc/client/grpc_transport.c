/* trkserve client: the gRPC transport (inference.GRPCInferenceService over gRPC's C core,
 * messages from trkproto). One connection = one channel and one completion queue, used
 * by one thread at a time (trk/client.h), so each call simply waits for its own batch. */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/compression.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "grpc_service.pb-c.h"
#include "trk/log.h"

#define SERVICE "/inference.GRPCInferenceService/"
#define GRPC_DEFAULT_PORT "8001"

struct gconn {
    grpc_channel *ch;
    grpc_completion_queue *cq;
    uint32_t timeout_ms;
    char *bearer; /* "Bearer <token>" or NULL */
};

/* What one unary call brought back. */
struct reply {
    grpc_status_code code;
    char error[TRK_CLIENT_ERR_MAX];
    ProtobufCMessage *msg; /* decoded answer when code == OK */
};

static enum trk_status status_from_grpc(grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_OK: return TRK_OK;
    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_FAILED_PRECONDITION:
    case GRPC_STATUS_OUT_OF_RANGE:
    case GRPC_STATUS_UNAUTHENTICATED:
    case GRPC_STATUS_PERMISSION_DENIED: return TRK_ERR_INVALID_ARG;
    case GRPC_STATUS_NOT_FOUND: return TRK_ERR_NOT_FOUND;
    case GRPC_STATUS_UNAVAILABLE: return TRK_ERR_UNAVAILABLE;
    case GRPC_STATUS_UNIMPLEMENTED: return TRK_ERR_UNSUPPORTED;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
    case GRPC_STATUS_CANCELLED: return TRK_ERR_TIMEOUT;
    case GRPC_STATUS_RESOURCE_EXHAUSTED: return TRK_ERR_OVERFLOW;
    default: return TRK_ERR_INTERNAL;
    }
}

static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && n < (1L << 24) && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)n + 1);
            if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
                buf[n] = '\0';
            } else {
                free(buf);
                buf = NULL;
            }
        }
    }
    fclose(f);
    return buf;
}

static void gconn_close(void *conn)
{
    struct gconn *c = conn;
    if (!c)
        return;
    if (c->ch)
        grpc_channel_destroy(c->ch);
    if (c->cq) {
        grpc_completion_queue_shutdown(c->cq);
        while (grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
               GRPC_QUEUE_SHUTDOWN) {
        }
        grpc_completion_queue_destroy(c->cq);
    }
    free(c->bearer);
    free(c);
    grpc_shutdown();
}

static enum trk_status gconn_open(const char *url, const struct trk_client_options *opt,
                                  void **conn, char *err, size_t errlen)
{
    *conn = NULL;
    bool tls;
    const char *rest;
    if (strncmp(url, "grpc://", 7) == 0) {
        tls = false;
        rest = url + 7;
    } else if (strncmp(url, "grpcs://", 8) == 0) {
        tls = true;
        rest = url + 8;
    } else {
        trk_client_errf(err, errlen, "'%s' is not a gRPC URL (grpc://host:port or "
                        "grpcs://host:port)", url);
        return TRK_ERR_INVALID_ARG;
    }
    size_t hostlen = strcspn(rest, "/");
    if (hostlen == 0 || hostlen > 255) {
        trk_client_errf(err, errlen, "'%s': missing or too long host", url);
        return TRK_ERR_INVALID_ARG;
    }
    char target[300];
    const char *close_br = memchr(rest, ']', hostlen);
    const char *colon = memrchr(rest, ':', hostlen);
    bool has_port = colon && (!close_br || colon > close_br);
    snprintf(target, sizeof(target), "%.*s%s", (int)hostlen, rest,
             has_port ? "" : ":" GRPC_DEFAULT_PORT);

    struct gconn *c = calloc(1, sizeof(*c));
    if (!c) {
        trk_client_errf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    grpc_init();
    c->timeout_ms = opt ? opt->timeout_ms : 0;
    if (opt && opt->auth_token) {
        size_t n = strlen(opt->auth_token) + sizeof("Bearer ");
        c->bearer = malloc(n);
        if (!c->bearer) {
            gconn_close(c);
            trk_client_errf(err, errlen, "out of memory");
            return TRK_ERR_NO_MEMORY;
        }
        snprintf(c->bearer, n, "Bearer %s", opt->auth_token);
    }

    grpc_arg args[3];
    size_t nargs = 0;
    args[nargs++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                               .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                               .value.integer = INT32_MAX};
    args[nargs++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                               .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
                               .value.integer = INT32_MAX};
    if (opt && opt->compression) {
        grpc_compression_algorithm alg;
        if (!grpc_compression_algorithm_parse(
                grpc_slice_from_static_string(opt->compression), &alg) ||
            (alg != GRPC_COMPRESS_GZIP && alg != GRPC_COMPRESS_DEFLATE)) {
            gconn_close(c);
            trk_client_errf(err, errlen, "unknown compression '%s' (use gzip or deflate)",
                            opt->compression);
            return TRK_ERR_INVALID_ARG;
        }
        args[nargs++] = (grpc_arg){.type = GRPC_ARG_INTEGER,
                                   .key = (char *)GRPC_COMPRESSION_CHANNEL_DEFAULT_ALGORITHM,
                                   .value.integer = (int)alg};
    }
    grpc_channel_args cargs = {.num_args = nargs, .args = args};

    grpc_channel_credentials *creds;
    if (tls) {
        char *ca = NULL;
        if (opt && opt->ca_file) {
            ca = read_text_file(opt->ca_file);
            if (!ca) {
                gconn_close(c);
                trk_client_errf(err, errlen, "cannot read the CA file '%s': %s", opt->ca_file,
                                strerror(errno));
                return TRK_ERR_IO;
            }
        }
        if (opt && opt->insecure)
            TRK_LOGW("%s: gRPC over TLS always verifies the server; pass the server's "
                     "certificate as the CA file for a self-signed one", url);
        creds = grpc_ssl_credentials_create_ex(ca, NULL, NULL, NULL);
        free(ca);
    } else {
        creds = grpc_insecure_credentials_create();
    }
    if (creds) {
        c->ch = grpc_channel_create(target, creds, &cargs);
        grpc_channel_credentials_release(creds);
    }
    c->cq = grpc_completion_queue_create_for_next(NULL);
    if (!c->ch || !c->cq) {
        gconn_close(c);
        trk_client_errf(err, errlen, "cannot create a gRPC channel to %s", target);
        return TRK_ERR_IO;
    }
    *conn = c;
    return TRK_OK;
}

/* One unary call. Returns TRK_OK when the server answered (r->code, r->error, r->msg),
 * TRK_ERR_IO when it could not be reached or the connection broke, TRK_ERR_TIMEOUT when
 * the deadline passed (r filled in as well). */
static enum trk_status unary(struct gconn *c, const char *method, const ProtobufCMessage *q,
                             const ProtobufCMessageDescriptor *rdesc, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    gpr_timespec deadline =
        c->timeout_ms ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                     gpr_time_from_millis(c->timeout_ms, GPR_TIMESPAN))
                      : gpr_inf_future(GPR_CLOCK_MONOTONIC);
    grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                               grpc_slice_from_static_string(method), NULL,
                                               deadline, NULL);
    if (!call) {
        r->code = GRPC_STATUS_INTERNAL;
        snprintf(r->error, sizeof(r->error), "cannot create a gRPC call");
        return TRK_ERR_IO;
    }
    size_t n = protobuf_c_message_get_packed_size(q);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(q, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);

    grpc_metadata auth;
    memset(&auth, 0, sizeof(auth));
    if (c->bearer) {
        auth.key = grpc_slice_from_static_string("authorization");
        auth.value = grpc_slice_from_static_string(c->bearer);
    }
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *recv = NULL;
    grpc_status_code code = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = c->bearer ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = c->bearer ? &auth : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &details;

    enum trk_status st = TRK_OK;
    grpc_call_error e = grpc_call_start_batch(call, ops, 6, (void *)c, NULL);
    if (e != GRPC_CALL_OK) {
        r->code = GRPC_STATUS_INTERNAL;
        snprintf(r->error, sizeof(r->error), "gRPC call failed: %s", grpc_call_error_to_string(e));
        st = TRK_ERR_IO;
        goto out;
    }
    /* The deadline (or the connection's fate) ends the batch. */
    grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

    r->code = code;
    snprintf(r->error, sizeof(r->error), "%.*s", (int)GRPC_SLICE_LENGTH(details),
             (const char *)GRPC_SLICE_START_PTR(details));
    if (code == GRPC_STATUS_OK) {
        grpc_byte_buffer_reader rd;
        if (recv && grpc_byte_buffer_reader_init(&rd, recv)) {
            grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
            grpc_byte_buffer_reader_destroy(&rd);
            r->msg = protobuf_c_message_unpack(rdesc, NULL, GRPC_SLICE_LENGTH(all),
                                               GRPC_SLICE_START_PTR(all));
            grpc_slice_unref(all);
        }
        if (!r->msg) {
            r->code = GRPC_STATUS_INTERNAL;
            snprintf(r->error, sizeof(r->error), "could not decode the server's %s answer",
                     method + strlen(SERVICE));
        }
    } else if (code == GRPC_STATUS_DEADLINE_EXCEEDED) {
        st = TRK_ERR_TIMEOUT;
    } else if (code == GRPC_STATUS_UNAVAILABLE &&
               grpc_channel_check_connectivity_state(c->ch, 0) != GRPC_CHANNEL_READY) {
        /* Refused, reset or closed: the server did not answer this call. A server's own
         * UNAVAILABLE (queue full, draining) comes over a working connection. */
        st = TRK_ERR_IO;
    }
out:
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_byte_buffer_destroy(send);
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_call_unref(call);
    return st;
}

static void reply_fini(struct reply *r)
{
    if (r->msg)
        protobuf_c_message_free_unpacked(r->msg, NULL);
    r->msg = NULL;
}

static enum trk_status gconn_infer(void *conn, const struct trk_client_request *req,
                                   struct trk_client_result *result)
{
    struct gconn *c = conn;
    enum trk_status st = TRK_OK;
    struct reply r = {0};
    char version[32] = "";
    /* result is zeroed or fini'd by the caller (trk/client.h) */
    result->status = TRK_ERR_INVALID_ARG;
    result->wire_code = 0;
    result->error[0] = '\0';

    Inference__ModelInferRequest q = INFERENCE__MODEL_INFER_REQUEST__INIT;
    Inference__ModelInferRequest__InferInputTensor *in = NULL, **inp = NULL;
    Inference__ModelInferRequest__InferRequestedOutputTensor *out = NULL, **outp = NULL;
    ProtobufCBinaryData *raw = NULL;
    if (!req->model || !*req->model) {
        trk_client_errf(result->error, sizeof(result->error), "model name is required");
        return TRK_OK;
    }
    if (req->version >= 0)
        snprintf(version, sizeof(version), "%" PRId64, req->version);
    q.model_name = (char *)req->model;
    q.model_version = version;
    q.id = (char *)(req->id ? req->id : "");
    in = calloc(req->ninputs + 1, sizeof(*in));
    inp = calloc(req->ninputs + 1, sizeof(*inp));
    raw = calloc(req->ninputs + 1, sizeof(*raw));
    out = calloc(req->noutputs + 1, sizeof(*out));
    outp = calloc(req->noutputs + 1, sizeof(*outp));
    if (!in || !inp || !raw || !out || !outp) {
        result->status = TRK_ERR_NO_MEMORY;
        trk_client_errf(result->error, sizeof(result->error), "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < req->ninputs; i++) {
        const struct trk_tensor *t = req->inputs[i];
        inference__model_infer_request__infer_input_tensor__init(&in[i]);
        in[i].name = (char *)t->name;
        in[i].datatype = (char *)trk_dtype_name(t->dtype);
        in[i].n_shape = t->ndim;
        in[i].shape = (int64_t *)t->shape;
        inp[i] = &in[i];
        raw[i].len = t->nbytes;
        raw[i].data = t->data;
    }
    q.n_inputs = req->ninputs;
    q.inputs = inp;
    q.n_raw_input_contents = req->ninputs;
    q.raw_input_contents = raw;
    for (uint32_t i = 0; i < req->noutputs; i++) {
        inference__model_infer_request__infer_requested_output_tensor__init(&out[i]);
        out[i].name = (char *)req->outputs[i];
        outp[i] = &out[i];
    }
    q.n_outputs = req->noutputs;
    q.outputs = outp;

    st = unary(c, SERVICE "ModelInfer", &q.base, &inference__model_infer_response__descriptor, &r);
    result->wire_code = (int)r.code;
    snprintf(result->error, sizeof(result->error), "%s", r.error);
    if (st == TRK_ERR_IO) {
        result->wire_code = 0;
        result->status = TRK_ERR_IO;
        goto done;
    }
    result->status = status_from_grpc(r.code);
    if (r.code != GRPC_STATUS_OK)
        goto done;

    const Inference__ModelInferResponse *a = (const void *)r.msg;
    snprintf(result->model_version, sizeof(result->model_version), "%s", a->model_version);
    snprintf(result->id, sizeof(result->id), "%s", a->id);
    if (a->n_raw_output_contents != a->n_outputs) {
        result->status = TRK_ERR_PARSE;
        trk_client_errf(result->error, sizeof(result->error),
                        "the server sent %zu outputs with %zu raw_output_contents; typed "
                        "output contents are not supported", a->n_outputs,
                        a->n_raw_output_contents);
        goto done;
    }
    result->outputs = calloc(a->n_outputs + 1, sizeof(*result->outputs));
    if (!result->outputs) {
        result->status = TRK_ERR_NO_MEMORY;
        trk_client_errf(result->error, sizeof(result->error), "out of memory");
        goto done;
    }
    for (size_t i = 0; i < a->n_outputs; i++) {
        const Inference__ModelInferResponse__InferOutputTensor *o = a->outputs[i];
        enum trk_dtype dt = trk_dtype_from_name(o->datatype);
        if (dt == TRK_DTYPE_INVALID || o->n_shape > TRK_TENSOR_MAX_DIMS) {
            result->status = TRK_ERR_PARSE;
            trk_client_errf(result->error, sizeof(result->error),
                            "output '%.64s': bad datatype '%.32s' or %zu dimensions", o->name,
                            o->datatype, o->n_shape);
            goto done;
        }
        struct trk_tensor *t = trk_client_tensor_copy(o->name, dt, (uint32_t)o->n_shape, o->shape,
                                                      a->raw_output_contents[i].data,
                                                      a->raw_output_contents[i].len);
        if (!t) {
            result->status = TRK_ERR_PARSE;
            trk_client_errf(result->error, sizeof(result->error),
                            "output '%.64s': invalid shape or out of memory", o->name);
            goto done;
        }
        result->outputs[result->noutputs++] = t;
    }
    result->status = TRK_OK;
    result->error[0] = '\0';
done:
    reply_fini(&r);
    free(in);
    free(inp);
    free(raw);
    free(out);
    free(outp);
    return st == TRK_ERR_IO || st == TRK_ERR_TIMEOUT ? st : TRK_OK;
}

static enum trk_status health(struct gconn *c, bool live, bool *ok)
{
    struct reply r;
    enum trk_status st;
    *ok = false;
    if (live) {
        Inference__ServerLiveRequest q = INFERENCE__SERVER_LIVE_REQUEST__INIT;
        st = unary(c, SERVICE "ServerLive", &q.base, &inference__server_live_response__descriptor, &r);
        if (st == TRK_OK && r.msg)
            *ok = ((const Inference__ServerLiveResponse *)(const void *)r.msg)->live;
    } else {
        Inference__ServerReadyRequest q = INFERENCE__SERVER_READY_REQUEST__INIT;
        st = unary(c, SERVICE "ServerReady", &q.base, &inference__server_ready_response__descriptor, &r);
        if (st == TRK_OK && r.msg)
            *ok = ((const Inference__ServerReadyResponse *)(const void *)r.msg)->ready;
    }
    reply_fini(&r);
    return st;
}

static enum trk_status gconn_live(void *conn, bool *ok)
{
    return health(conn, true, ok);
}

static enum trk_status gconn_ready(void *conn, bool *ok)
{
    return health(conn, false, ok);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_tensors(FILE *f, Inference__ModelMetadataResponse__TensorMetadata **t, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        json_str(f, t[i]->name);
        fputs(",\"datatype\":", f);
        json_str(f, t[i]->datatype);
        fputs(",\"shape\":[", f);
        for (size_t d = 0; d < t[i]->n_shape; d++)
            fprintf(f, d ? ",%" PRId64 : "%" PRId64, t[i]->shape[d]);
        fputs("]}", f);
    }
    fputc(']', f);
}

static enum trk_status gconn_model_metadata(void *conn, const char *model, int64_t version,
                                            char **json, char *err, size_t errlen)
{
    struct gconn *c = conn;
    struct reply r;
    char v[32] = "";
    *json = NULL;
    if (version >= 0)
        snprintf(v, sizeof(v), "%" PRId64, version);
    Inference__ModelMetadataRequest q = INFERENCE__MODEL_METADATA_REQUEST__INIT;
    q.name = (char *)(model ? model : "");
    q.version = v;
    enum trk_status st =
        unary(c, SERVICE "ModelMetadata", &q.base, &inference__model_metadata_response__descriptor, &r);
    if (st != TRK_OK || r.code != GRPC_STATUS_OK) {
        trk_client_errf(err, errlen, "%s", r.error[0] ? r.error : "model metadata failed");
        if (st == TRK_OK)
            st = status_from_grpc(r.code);
        reply_fini(&r);
        return st;
    }
    const Inference__ModelMetadataResponse *m = (const void *)r.msg;
    size_t len = 0;
    FILE *f = open_memstream(json, &len);
    if (!f) {
        reply_fini(&r);
        trk_client_errf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    fputs("{\"name\":", f);
    json_str(f, m->name);
    fputs(",\"versions\":[", f);
    for (size_t i = 0; i < m->n_versions; i++) {
        if (i)
            fputc(',', f);
        json_str(f, m->versions[i]);
    }
    fputs("],\"platform\":", f);
    json_str(f, m->platform);
    fputs(",\"inputs\":", f);
    json_tensors(f, m->inputs, m->n_inputs);
    fputs(",\"outputs\":", f);
    json_tensors(f, m->outputs, m->n_outputs);
    fputc('}', f);
    int bad = ferror(f);
    fclose(f);
    reply_fini(&r);
    if (bad || !*json) {
        free(*json);
        *json = NULL;
        trk_client_errf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    return TRK_OK;
}

static const struct trk_client_transport grpc_transport = {
    .scheme = "grpc",
    .open = gconn_open,
    .close = gconn_close,
    .infer = gconn_infer,
    .live = gconn_live,
    .ready = gconn_ready,
    .model_metadata = gconn_model_metadata,
};

const struct trk_client_transport *trk_client_transport_grpc(void)
{
    return &grpc_transport;
}
