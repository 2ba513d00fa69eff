/* trkserve gRPC front end: inference.GRPCInferenceService on gRPC's C core.
 *
 * One completion queue, polled by `threads` threads. Calls are accepted with the generic
 * grpc_server_request_call and dispatched on the method path. Every call object (struct
 * gcall) is reference-counted: one reference per batch in flight and per inference request
 * in the server core; the last one frees it. Per call at most one batch of each kind is in
 * flight: one receive (the next message is asked for after the previous is handled), one
 * send (answers wait in a queue while one is being sent), and RECV_CLOSE_ON_SERVER, which
 * is started first and completes when the call ends; its `cancelled` flag (client cancel,
 * deadline, broken connection, server stop) cancels the call's requests in the core.
 *
 * ModelInfer and ModelStreamInfer submit with trk_server_infer_async and answer from the
 * done callback on the worker thread (grpc_call_start_batch is thread-safe). Everything
 * else is answered on the polling thread. */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grpc_convert.h"
#include "trk/frontend.h"
#include "trk/log.h"

#define GRPC_DEFAULT_THREADS 2 /* at least; one per CPU up to 8 */
#define GRPC_PENDING_ACCEPTS 4 /* calls requested from the core ahead of time */
#define SERVICE "/inference.GRPCInferenceService/"

struct trk_grpc;
struct gcall;

/* A completion-queue tag: what to run when its batch completes. */
struct tag {
    void (*fn)(struct gcall *c, bool ok);
    struct gcall *call;
};

enum method {
    M_UNKNOWN = 0,
    M_SERVER_LIVE,
    M_SERVER_READY,
    M_MODEL_READY,
    M_SERVER_METADATA,
    M_MODEL_METADATA,
    M_MODEL_CONFIG,
    M_MODEL_INFER,
    M_MODEL_STREAM_INFER,
    M_MODEL_STATISTICS,
    M_REPOSITORY_INDEX,
    M_REPOSITORY_MODEL_LOAD,
    M_REPOSITORY_MODEL_UNLOAD,
};

static const struct {
    const char *name;
    enum method m;
    bool open; /* answered without the bearer token (health probes) */
} methods[] = {
    {SERVICE "ServerLive", M_SERVER_LIVE, true},
    {SERVICE "ServerReady", M_SERVER_READY, true},
    {SERVICE "ModelReady", M_MODEL_READY, false},
    {SERVICE "ServerMetadata", M_SERVER_METADATA, false},
    {SERVICE "ModelMetadata", M_MODEL_METADATA, false},
    {SERVICE "ModelConfig", M_MODEL_CONFIG, false},
    {SERVICE "ModelInfer", M_MODEL_INFER, false},
    {SERVICE "ModelStreamInfer", M_MODEL_STREAM_INFER, false},
    {SERVICE "ModelStatistics", M_MODEL_STATISTICS, false},
    {SERVICE "RepositoryIndex", M_REPOSITORY_INDEX, false},
    {SERVICE "RepositoryModelLoad", M_REPOSITORY_MODEL_LOAD, false},
    {SERVICE "RepositoryModelUnload", M_REPOSITORY_MODEL_UNLOAD, false},
};

/* One answer waiting to be sent: a message, a final status, or both. */
struct outmsg {
    grpc_byte_buffer *msg;   /* NULL: none */
    bool final;              /* sends the status; nothing may follow */
    grpc_status_code code;
    grpc_slice details;
    struct outmsg *next;
};

/* One request in the server core. */
struct ginfer {
    struct gcall *c;
    Inference__ModelInferRequest *msg; /* raw inputs are borrowed from here */
    struct trk_infer_request *req;
    struct ginfer *next;
};

struct gcall {
    struct trk_grpc *g;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    enum method method;
    struct tag t_new, t_recv, t_send, t_close;
    grpc_byte_buffer *recv_buf;
    int cancelled;           /* set by RECV_CLOSE_ON_SERVER */

    pthread_mutex_t mu;      /* guards everything below */
    int refs;
    bool closed;             /* RECV_CLOSE_ON_SERVER completed */
    bool dead;               /* a send failed: drop further answers */
    bool sent_initial;
    bool send_busy;
    bool final_queued;
    bool reading_done;       /* stream: the client half-closed */
    struct outmsg *out_head, *out_tail;
    struct outmsg *sending;  /* the answer in flight */
    struct ginfer *inflight;
};

struct trk_grpc {
    struct trk_server *s;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t *threads;
    uint32_t nthreads;
    uint16_t port;
    char *bearer;            /* "Bearer <token>" or NULL */
    struct tag t_shutdown;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint32_t ncalls;         /* gcall objects alive */
    bool shutting_down;
    bool shutdown_done;
};

/* ---- helpers ----------------------------------------------------------------------- */

static void call_unref(struct gcall *c);
static void on_send(struct gcall *c, bool ok);

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The call's deadline as a CLOCK_MONOTONIC time in ns (0: none). */
static uint64_t deadline_ns(gpr_timespec d)
{
    if (d.tv_sec >= INT64_MAX / 4)
        return 0;
    gpr_timespec left = gpr_time_sub(d, gpr_now(d.clock_type));
    int64_t ns = left.tv_sec > INT64_MAX / 2000000000 ? INT64_MAX / 2
                                                      : left.tv_sec * 1000000000 + left.tv_nsec;
    if (ns < 1)
        ns = 1;
    return mono_ns() + (uint64_t)ns;
}

static bool slice_eq(grpc_slice s, const char *str)
{
    size_t n = strlen(str);
    return GRPC_SLICE_LENGTH(s) == n && memcmp(GRPC_SLICE_START_PTR(s), str, n) == 0;
}

/* Copies the received message out of the byte buffer (decompressed by the core) and
 * decodes it. NULL when it is not a valid message of that type. */
static ProtobufCMessage *decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

/* Serializes msg into a new byte buffer (one copy: straight into the slice). */
static grpc_byte_buffer *encode(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static void outmsg_free(struct outmsg *o)
{
    if (!o)
        return;
    if (o->msg)
        grpc_byte_buffer_destroy(o->msg);
    grpc_slice_unref(o->details);
    free(o);
}

/* ---- sending ------------------------------------------------------------------------- */

/* Starts the next queued answer when none is in flight. Caller holds c->mu. */
static void send_next_locked(struct gcall *c)
{
    if (c->send_busy || !c->out_head)
        return;
    struct outmsg *o = c->out_head;
    c->out_head = o->next;
    if (!c->out_head)
        c->out_tail = NULL;
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->sent_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
    }
    if (o->msg) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = o->msg;
        n++;
    }
    if (o->final) {
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = o->code;
        ops[n].data.send_status_from_server.status_details =
            GRPC_SLICE_LENGTH(o->details) ? &o->details : NULL;
        n++;
    }
    c->refs++;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, &c->t_send, NULL);
    if (e != GRPC_CALL_OK) {
        TRK_LOGE("grpc_call_start_batch (send): %s", grpc_call_error_to_string(e));
        c->refs--;
        c->dead = true;
        outmsg_free(o);
        return;
    }
    c->sent_initial = true;
    c->send_busy = true;
    c->sending = o;
}

/* Queues an answer (takes msg). Caller holds c->mu. */
static void queue_locked(struct gcall *c, grpc_byte_buffer *msg, bool final, grpc_status_code code,
                         const char *details)
{
    if (c->dead || c->final_queued) {
        if (msg)
            grpc_byte_buffer_destroy(msg);
        return;
    }
    struct outmsg *o = calloc(1, sizeof(*o));
    if (!o) {
        TRK_LOGE("out of memory for an answer");
        if (msg)
            grpc_byte_buffer_destroy(msg);
        return;
    }
    o->msg = msg;
    o->final = final;
    o->code = code;
    o->details = grpc_slice_from_copied_string(details ? details : "");
    if (final)
        c->final_queued = true;
    if (c->out_tail)
        c->out_tail->next = o;
    else
        c->out_head = o;
    c->out_tail = o;
    send_next_locked(c);
}

static void send_final(struct gcall *c, grpc_byte_buffer *msg, grpc_status_code code,
                       const char *details)
{
    pthread_mutex_lock(&c->mu);
    queue_locked(c, msg, true, code, details);
    pthread_mutex_unlock(&c->mu);
}

static void send_error(struct gcall *c, enum trk_status st, const char *msg)
{
    send_final(c, NULL, (grpc_status_code)trk_status_grpc_code(st), msg);
}

static void on_send(struct gcall *c, bool ok)
{
    pthread_mutex_lock(&c->mu);
    outmsg_free(c->sending);
    c->sending = NULL;
    c->send_busy = false;
    if (!ok) {
        /* The call is gone (cancelled, deadline, connection lost): drop the rest. */
        c->dead = true;
        while (c->out_head) {
            struct outmsg *o = c->out_head;
            c->out_head = o->next;
            outmsg_free(o);
        }
        c->out_tail = NULL;
    } else {
        send_next_locked(c);
    }
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
}

/* ---- call lifetime ------------------------------------------------------------------- */

static void on_new_call(struct gcall *c, bool ok);
static void on_recv(struct gcall *c, bool ok);
static void on_close(struct gcall *c, bool ok);

/* Asks the core for the next incoming call. Caller holds g->mu. */
static void request_call_locked(struct trk_grpc *g)
{
    if (g->shutting_down)
        return;
    struct gcall *c = calloc(1, sizeof(*c));
    if (!c) {
        TRK_LOGE("out of memory: no more gRPC calls accepted");
        return;
    }
    c->g = g;
    pthread_mutex_init(&c->mu, NULL);
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    c->t_new = (struct tag){on_new_call, c};
    c->t_recv = (struct tag){on_recv, c};
    c->t_send = (struct tag){on_send, c};
    c->t_close = (struct tag){on_close, c};
    c->refs = 1;
    g->ncalls++;
    grpc_call_error e =
        grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq, &c->t_new);
    if (e != GRPC_CALL_OK) {
        TRK_LOGE("grpc_server_request_call: %s", grpc_call_error_to_string(e));
        g->ncalls--;
        grpc_call_details_destroy(&c->details);
        grpc_metadata_array_destroy(&c->md);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
}

/* Frees what gRPC filled in for the call. Kept out of line: the test's ThreadSanitizer
 * suppressions name it (gRPC writes these on whichever thread polls, and TSan cannot see
 * the hand-over inside the uninstrumented library). */
__attribute__((noinline)) static void gcall_free_grpc_owned(struct gcall *c)
{
    if (c->recv_buf)
        grpc_byte_buffer_destroy(c->recv_buf);
    if (c->call)
        grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
}

static void call_unref(struct gcall *c)
{
    pthread_mutex_lock(&c->mu);
    int left = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (left > 0)
        return;
    struct trk_grpc *g = c->g;
    while (c->out_head) {
        struct outmsg *o = c->out_head;
        c->out_head = o->next;
        outmsg_free(o);
    }
    gcall_free_grpc_owned(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
    pthread_mutex_lock(&g->mu);
    g->ncalls--;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Starts a batch of one op on the call, holding a reference for it. */
static bool start_op(struct gcall *c, grpc_op *op, struct tag *t)
{
    pthread_mutex_lock(&c->mu);
    c->refs++;
    pthread_mutex_unlock(&c->mu);
    grpc_call_error e = grpc_call_start_batch(c->call, op, 1, t, NULL);
    if (e == GRPC_CALL_OK)
        return true;
    TRK_LOGE("grpc_call_start_batch: %s", grpc_call_error_to_string(e));
    call_unref(c);
    return false;
}

static void start_recv(struct gcall *c)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_buf;
    start_op(c, &op, &c->t_recv);
}

static bool authorized(const struct gcall *c)
{
    const char *want = c->g->bearer;
    if (!want)
        return true;
    for (size_t i = 0; i < c->md.count; i++) {
        if (slice_eq(c->md.metadata[i].key, "authorization") &&
            slice_eq(c->md.metadata[i].value, want))
            return true;
    }
    return false;
}

static void on_new_call(struct gcall *c, bool ok)
{
    struct trk_grpc *g = c->g;
    pthread_mutex_lock(&g->mu);
    request_call_locked(g); /* keep accepting while this one is handled */
    pthread_mutex_unlock(&g->mu);
    if (!ok) { /* the server is shutting down */
        call_unref(c);
        return;
    }
    bool open = false;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (slice_eq(c->details.method, methods[i].name)) {
            c->method = methods[i].m;
            open = methods[i].open;
            break;
        }
    }
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    if (!start_op(c, &op, &c->t_close)) {
        call_unref(c);
        return;
    }
    if (c->method == M_UNKNOWN) {
        char msg[256];
        int n = (int)GRPC_SLICE_LENGTH(c->details.method);
        snprintf(msg, sizeof(msg), "method '%.*s' is not implemented by %s", n > 160 ? 160 : n,
                 (const char *)GRPC_SLICE_START_PTR(c->details.method), TRK_SERVER_NAME);
        send_final(c, NULL, GRPC_STATUS_UNIMPLEMENTED, msg);
    } else if (!open && !authorized(c)) {
        send_final(c, NULL, GRPC_STATUS_UNAUTHENTICATED,
                   "missing or wrong bearer token: send metadata "
                   "'authorization: Bearer <token>'");
    } else {
        start_recv(c);
    }
    call_unref(c); /* the accept's reference */
}

static void on_close(struct gcall *c, bool ok)
{
    (void)ok;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    if (c->cancelled) {
        for (struct ginfer *i = c->inflight; i; i = i->next)
            trk_infer_request_cancel(i->req);
    }
    pthread_mutex_unlock(&c->mu);
    call_unref(c);
}

/* ---- inference ------------------------------------------------------------------------ */

static void ginfer_free(struct ginfer *gi)
{
    if (!gi)
        return;
    trk_infer_request_free(gi->req);
    if (gi->msg)
        inference__model_infer_request__free_unpacked(gi->msg, NULL);
    free(gi);
}

/* A stream answer carrying an error for one request (the stream goes on). */
static grpc_byte_buffer *stream_error(const Inference__ModelInferRequest *msg, const char *error)
{
    Inference__ModelStreamInferResponse r = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
    Inference__ModelInferResponse ir = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    if (msg) {
        ir.model_name = msg->model_name;
        ir.model_version = msg->model_version;
        ir.id = msg->id;
    }
    r.error_message = (char *)error;
    r.infer_response = &ir;
    return encode(&r.base);
}

/* Stream: the final OK status once the client half-closed and every answer is queued.
 * Caller holds c->mu. */
static void stream_maybe_finish_locked(struct gcall *c)
{
    if (c->method == M_MODEL_STREAM_INFER && c->reading_done && !c->inflight)
        queue_locked(c, NULL, true, GRPC_STATUS_OK, NULL);
}

static void infer_done(struct trk_infer_request *req, void *user)
{
    struct ginfer *gi = user;
    struct gcall *c = gi->c;
    bool stream = c->method == M_MODEL_STREAM_INFER;
    grpc_byte_buffer *bb = NULL;
    grpc_status_code code = GRPC_STATUS_OK;
    const char *details = NULL;
    struct trk_pb_arena a = {0};

    if (req->status == TRK_OK) {
        Inference__ModelInferResponse *r;
        enum trk_status st = trk_grpc_response_from_request(req, &a, &r);
        if (st != TRK_OK) {
            code = GRPC_STATUS_INTERNAL;
            details = "could not build the response (out of memory)";
        } else if (stream) {
            Inference__ModelStreamInferResponse sr = INFERENCE__MODEL_STREAM_INFER_RESPONSE__INIT;
            sr.infer_response = r;
            bb = encode(&sr.base);
        } else {
            bb = encode(&r->base);
        }
    } else {
        code = (grpc_status_code)trk_status_grpc_code(req->status);
        details = req->error[0] ? req->error : trk_status_str(req->status);
    }
    if (stream && code != GRPC_STATUS_OK)
        bb = stream_error(gi->msg, details);

    pthread_mutex_lock(&c->mu);
    for (struct ginfer **p = &c->inflight; *p; p = &(*p)->next) {
        if (*p == gi) {
            *p = gi->next;
            break;
        }
    }
    if (stream) {
        queue_locked(c, bb, false, GRPC_STATUS_OK, NULL);
        stream_maybe_finish_locked(c);
    } else {
        queue_locked(c, code == GRPC_STATUS_OK ? bb : NULL, true, code, details);
    }
    pthread_mutex_unlock(&c->mu);
    trk_pb_arena_fini(&a);
    ginfer_free(gi);
    call_unref(c);
}

/* Decodes and submits one ModelInferRequest (unary or one message of a stream). */
static void handle_infer(struct gcall *c, grpc_byte_buffer *bb)
{
    bool stream = c->method == M_MODEL_STREAM_INFER;
    char err[TRK_SERVER_ERR_MAX];
    enum trk_status st;
    struct ginfer *gi = calloc(1, sizeof(*gi));
    if (!gi) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    gi->c = c;
    gi->msg = (Inference__ModelInferRequest *)decode(bb, &inference__model_infer_request__descriptor);
    if (!gi->msg) {
        st = TRK_ERR_INVALID_ARG;
        snprintf(err, sizeof(err), "could not decode the ModelInferRequest message");
        goto fail;
    }
    st = trk_grpc_request_from_proto(gi->msg, &gi->req, err, sizeof(err));
    if (st != TRK_OK)
        goto fail;
    gi->req->deadline_ns = deadline_ns(c->details.deadline);
    gi->req->done = infer_done;
    gi->req->user = gi;

    pthread_mutex_lock(&c->mu);
    if (c->closed && c->cancelled) {
        pthread_mutex_unlock(&c->mu);
        ginfer_free(gi);
        return; /* nobody is listening */
    }
    gi->next = c->inflight;
    c->inflight = gi;
    c->refs++;
    pthread_mutex_unlock(&c->mu);

    st = trk_server_infer_async(c->g->s, gi->req);
    if (st == TRK_OK)
        return; /* gi now belongs to infer_done */

    snprintf(err, sizeof(err), "%s", gi->req->error[0] ? gi->req->error : trk_status_str(st));
    pthread_mutex_lock(&c->mu);
    for (struct ginfer **p = &c->inflight; *p; p = &(*p)->next) {
        if (*p == gi) {
            *p = gi->next;
            break;
        }
    }
    c->refs--; /* never the last: the caller's batch holds one */
    pthread_mutex_unlock(&c->mu);
fail:
    if (stream) {
        pthread_mutex_lock(&c->mu);
        queue_locked(c, stream_error(gi ? gi->msg : NULL, err), false, GRPC_STATUS_OK, NULL);
        pthread_mutex_unlock(&c->mu);
    } else {
        send_error(c, st, err);
    }
    ginfer_free(gi);
}

/* ---- the other RPCs (answered on the polling thread) --------------------------------- */

/* One RPC's answer: a message to encode, or an error. */
struct answer {
    enum trk_status st;
    char err[TRK_SERVER_ERR_MAX];
};

static void set_err(struct answer *a, enum trk_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void set_err(struct answer *a, enum trk_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, sizeof(a->err), fmt, ap);
    va_end(ap);
    a->st = st;
}

static grpc_byte_buffer *rpc_model_metadata(struct trk_server *s, const Inference__ModelMetadataRequest *q,
                                            struct answer *ans)
{
    int64_t version;
    struct trk_model *m = NULL;
    struct trk_pb_arena a = {0};
    grpc_byte_buffer *bb = NULL;
    int64_t *versions = NULL;
    ans->st = trk_grpc_parse_version(q->version, &version, ans->err, sizeof(ans->err));
    if (ans->st != TRK_OK)
        return NULL;
    ans->st = trk_server_model_acquire(s, q->name, version, &m, ans->err, sizeof(ans->err));
    if (ans->st != TRK_OK)
        return NULL;
    uint32_t nv = trk_server_model_versions(s, q->name, NULL, 0);
    versions = calloc(nv ? nv : 1, sizeof(*versions));
    if (!versions) {
        set_err(ans, TRK_ERR_NO_MEMORY, "out of memory");
        goto out;
    }
    nv = trk_server_model_versions(s, q->name, versions, nv);
    Inference__ModelMetadataResponse *r;
    ans->st = trk_grpc_metadata_to_proto(trk_model_config_get(m), versions, nv, &a, &r);
    if (ans->st != TRK_OK)
        set_err(ans, ans->st, "out of memory");
    else
        bb = encode(&r->base);
out:
    free(versions);
    trk_pb_arena_fini(&a);
    trk_model_release(m);
    return bb;
}

static grpc_byte_buffer *rpc_model_config(struct trk_server *s, const Inference__ModelConfigRequest *q,
                                          struct answer *ans)
{
    int64_t version;
    struct trk_model *m = NULL;
    struct trk_pb_arena a = {0};
    grpc_byte_buffer *bb = NULL;
    ans->st = trk_grpc_parse_version(q->version, &version, ans->err, sizeof(ans->err));
    if (ans->st != TRK_OK)
        return NULL;
    ans->st = trk_server_model_acquire(s, q->name, version, &m, ans->err, sizeof(ans->err));
    if (ans->st != TRK_OK)
        return NULL;
    Inference__ModelConfigResponse r = INFERENCE__MODEL_CONFIG_RESPONSE__INIT;
    ans->st = trk_grpc_config_to_proto(trk_model_config_get(m), &a, &r.config);
    if (ans->st != TRK_OK)
        set_err(ans, ans->st, "out of memory");
    else
        bb = encode(&r.base);
    trk_pb_arena_fini(&a);
    trk_model_release(m);
    return bb;
}

static grpc_byte_buffer *rpc_statistics(struct trk_server *s, const Inference__ModelStatisticsRequest *q,
                                        struct answer *ans)
{
    int64_t version;
    struct trk_model_stats *st = NULL;
    uint32_t n = 0;
    struct trk_pb_arena a = {0};
    grpc_byte_buffer *bb = NULL;
    ans->st = trk_grpc_parse_version(q->version, &version, ans->err, sizeof(ans->err));
    if (ans->st != TRK_OK)
        return NULL;
    const char *name = q->name && *q->name ? q->name : NULL;
    ans->st = trk_server_stats(s, name, version, &st, &n);
    if (ans->st != TRK_OK) {
        if (ans->st == TRK_ERR_NOT_FOUND)
            set_err(ans, ans->st, "unknown model '%.128s'", name ? name : "");
        else
            set_err(ans, ans->st, "statistics failed: %s", trk_status_str(ans->st));
        return NULL;
    }
    Inference__ModelStatisticsResponse *r;
    ans->st = trk_grpc_stats_to_proto(st, n, &a, &r);
    if (ans->st != TRK_OK)
        set_err(ans, ans->st, "out of memory");
    else
        bb = encode(&r->base);
    trk_pb_arena_fini(&a);
    trk_model_stats_free(st, n);
    return bb;
}

static grpc_byte_buffer *rpc_index(struct trk_server *s, const Inference__RepositoryIndexRequest *q,
                                   struct answer *ans)
{
    struct trk_repo_entry *e = NULL;
    uint32_t n = 0;
    struct trk_pb_arena a = {0};
    grpc_byte_buffer *bb = NULL;
    ans->st = trk_server_repository_index(s, q->ready, &e, &n);
    if (ans->st != TRK_OK) {
        set_err(ans, ans->st, "repository index failed: %s", trk_status_str(ans->st));
        return NULL;
    }
    Inference__RepositoryIndexResponse *r;
    ans->st = trk_grpc_index_to_proto(e, n, &a, &r);
    if (ans->st != TRK_OK)
        set_err(ans, ans->st, "out of memory");
    else
        bb = encode(&r->base);
    trk_pb_arena_fini(&a);
    free(e);
    return bb;
}

/* Decodes the request of a non-inference RPC, runs it, and answers. */
static void handle_unary(struct gcall *c, grpc_byte_buffer *in)
{
    static const ProtobufCMessageDescriptor *const req_desc[] = {
        [M_SERVER_LIVE] = &inference__server_live_request__descriptor,
        [M_SERVER_READY] = &inference__server_ready_request__descriptor,
        [M_MODEL_READY] = &inference__model_ready_request__descriptor,
        [M_SERVER_METADATA] = &inference__server_metadata_request__descriptor,
        [M_MODEL_METADATA] = &inference__model_metadata_request__descriptor,
        [M_MODEL_CONFIG] = &inference__model_config_request__descriptor,
        [M_MODEL_STATISTICS] = &inference__model_statistics_request__descriptor,
        [M_REPOSITORY_INDEX] = &inference__repository_index_request__descriptor,
        [M_REPOSITORY_MODEL_LOAD] = &inference__repository_model_load_request__descriptor,
        [M_REPOSITORY_MODEL_UNLOAD] = &inference__repository_model_unload_request__descriptor,
    };
    struct trk_server *s = c->g->s;
    struct answer ans = {.st = TRK_OK};
    grpc_byte_buffer *out = NULL;
    ProtobufCMessage *q = decode(in, req_desc[c->method]);
    if (!q) {
        send_final(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                   "could not decode the request message");
        return;
    }
    switch (c->method) {
    case M_SERVER_LIVE: {
        Inference__ServerLiveResponse r = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
        r.live = trk_server_live(s);
        out = encode(&r.base);
        break;
    }
    case M_SERVER_READY: {
        Inference__ServerReadyResponse r = INFERENCE__SERVER_READY_RESPONSE__INIT;
        r.ready = trk_server_ready(s);
        out = encode(&r.base);
        break;
    }
    case M_MODEL_READY: {
        const Inference__ModelReadyRequest *m = (const void *)q;
        int64_t version;
        ans.st = trk_grpc_parse_version(m->version, &version, ans.err, sizeof(ans.err));
        if (ans.st != TRK_OK)
            break;
        Inference__ModelReadyResponse r = INFERENCE__MODEL_READY_RESPONSE__INIT;
        r.ready = trk_server_model_ready(s, m->name, version);
        out = encode(&r.base);
        break;
    }
    case M_SERVER_METADATA: {
        Inference__ServerMetadataResponse r = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
        const char *const *ext = trk_server_extensions();
        size_t n = 0;
        while (ext && ext[n])
            n++;
        r.name = (char *)TRK_SERVER_NAME;
        r.version = (char *)trk_server_version();
        r.n_extensions = n;
        r.extensions = (char **)ext;
        out = encode(&r.base);
        break;
    }
    case M_MODEL_METADATA:
        out = rpc_model_metadata(s, (const void *)q, &ans);
        break;
    case M_MODEL_CONFIG:
        out = rpc_model_config(s, (const void *)q, &ans);
        break;
    case M_MODEL_STATISTICS:
        out = rpc_statistics(s, (const void *)q, &ans);
        break;
    case M_REPOSITORY_INDEX:
        out = rpc_index(s, (const void *)q, &ans);
        break;
    case M_REPOSITORY_MODEL_LOAD: {
        const Inference__RepositoryModelLoadRequest *m = (const void *)q;
        if (m->n_parameters > 0) {
            set_err(&ans, TRK_ERR_UNSUPPORTED, "load parameters (config override, files) are "
                    "not supported: edit the model's config.cfg and load again");
            break;
        }
        if (!*m->model_name) {
            set_err(&ans, TRK_ERR_INVALID_ARG, "model_name is required");
            break;
        }
        ans.st = trk_server_model_load(s, m->model_name, ans.err, sizeof(ans.err));
        if (ans.st == TRK_OK) {
            Inference__RepositoryModelLoadResponse r = INFERENCE__REPOSITORY_MODEL_LOAD_RESPONSE__INIT;
            out = encode(&r.base);
        }
        break;
    }
    case M_REPOSITORY_MODEL_UNLOAD: {
        const Inference__RepositoryModelUnloadRequest *m = (const void *)q;
        if (!*m->model_name) {
            set_err(&ans, TRK_ERR_INVALID_ARG, "model_name is required");
            break;
        }
        ans.st = trk_server_model_unload(s, m->model_name, ans.err, sizeof(ans.err));
        if (ans.st == TRK_OK) {
            Inference__RepositoryModelUnloadResponse r =
                INFERENCE__REPOSITORY_MODEL_UNLOAD_RESPONSE__INIT;
            out = encode(&r.base);
        }
        break;
    }
    default:
        set_err(&ans, TRK_ERR_INTERNAL, "no handler");
        break;
    }
    protobuf_c_message_free_unpacked(q, NULL);
    if (ans.st == TRK_OK && out) {
        send_final(c, out, GRPC_STATUS_OK, NULL);
    } else {
        if (out)
            grpc_byte_buffer_destroy(out);
        if (ans.st == TRK_OK)
            set_err(&ans, TRK_ERR_INTERNAL, "could not encode the response");
        if (!ans.err[0])
            snprintf(ans.err, sizeof(ans.err), "%s", trk_status_str(ans.st));
        send_error(c, ans.st, ans.err);
    }
}

static void on_recv(struct gcall *c, bool ok)
{
    grpc_byte_buffer *bb = c->recv_buf;
    c->recv_buf = NULL;
    if (!ok || !bb) {
        /* !ok: the call failed; no message: the client half-closed. */
        if (c->method == M_MODEL_STREAM_INFER) {
            pthread_mutex_lock(&c->mu);
            c->reading_done = true;
            if (ok)
                stream_maybe_finish_locked(c);
            pthread_mutex_unlock(&c->mu);
        } else if (ok) {
            send_final(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                       "the client sent no request message");
        }
    } else if (c->method == M_MODEL_INFER || c->method == M_MODEL_STREAM_INFER) {
        handle_infer(c, bb);
        if (c->method == M_MODEL_STREAM_INFER)
            start_recv(c);
    } else {
        handle_unary(c, bb);
    }
    if (bb)
        grpc_byte_buffer_destroy(bb);
    call_unref(c);
}

/* ---- threads, start, stop --------------------------------------------------------------- */

static void on_shutdown(struct gcall *c, bool ok)
{
    (void)c;
    (void)ok;
}

#if defined(__SANITIZE_THREAD__)
#define TRK_GRPC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TRK_GRPC_TSAN 1
#endif
#endif

/* The hand-over of a tag through gRPC's completion queue is a real happens-before, but
 * ThreadSanitizer cannot see it inside the uninstrumented library. Calls are created
 * under g->mu and every batch is started after c->mu was released, so under TSan taking
 * both here makes the ordering visible. Nothing to do in other builds. */
static void tsan_handover(struct trk_grpc *g, struct tag *t)
{
#ifdef TRK_GRPC_TSAN
    pthread_mutex_lock(&g->mu);
    pthread_mutex_unlock(&g->mu);
    pthread_mutex_lock(&t->call->mu);
    pthread_mutex_unlock(&t->call->mu);
#else
    (void)g;
    (void)t;
#endif
}

static void *poll_thread(void *arg)
{
    struct trk_grpc *g = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        struct tag *t = ev.tag;
        if (t == &g->t_shutdown) {
            pthread_mutex_lock(&g->mu);
            g->shutdown_done = true;
            pthread_cond_broadcast(&g->cv);
            pthread_mutex_unlock(&g->mu);
            continue;
        }
        tsan_handover(g, t);
        t->fn(t->call, ev.success != 0);
    }
    return NULL;
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) {
        snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
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
    if (!buf)
        snprintf(err, errlen, "cannot read '%s'", path);
    fclose(f);
    return buf;
}

/* gRPC's own log lines go through trkserve's log: its errors as warnings (the caller gets
 * what they mean from trkserve itself, e.g. "cannot listen on ..."), the rest as debug. */
static void grpc_log_to_trk(gpr_log_func_args *a)
{
    trk_log(a->severity == GPR_LOG_SEVERITY_ERROR ? TRK_LOG_WARN : TRK_LOG_DEBUG, "grpc",
            "%s (%s:%d)", a->message, a->file, a->line);
}

static grpc_server_credentials *server_creds(const struct trk_listen_options *l, char *err,
                                             size_t errlen)
{
    if (!l->tls_cert && !l->tls_key)
        return grpc_insecure_server_credentials_create();
    if (!l->tls_cert || !l->tls_key) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file");
        return NULL;
    }
    char *cert = read_file(l->tls_cert, err, errlen);
    char *key = cert ? read_file(l->tls_key, err, errlen) : NULL;
    grpc_server_credentials *cr = NULL;
    if (cert && key) {
        grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
        cr = grpc_ssl_server_credentials_create_ex(NULL, &pair, 1,
                                                   GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
        if (!cr)
            snprintf(err, errlen, "invalid TLS certificate '%s' or key '%s'", l->tls_cert,
                     l->tls_key);
    }
    free(cert);
    free(key);
    return cr;
}

enum trk_status trk_grpc_start(struct trk_server *s, const struct trk_grpc_options *opt,
                               struct trk_grpc **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    *out = NULL;
    if (!s || !opt) {
        snprintf(err, errlen, "server and options are required");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_ERR_IO;
    struct trk_grpc *g = calloc(1, sizeof(*g));
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    grpc_init();
    gpr_set_log_function(grpc_log_to_trk);
    g->s = s;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->t_shutdown = (struct tag){on_shutdown, NULL};
    if (opt->listen.auth_token) {
        size_t n = strlen(opt->listen.auth_token) + sizeof("Bearer ");
        g->bearer = malloc(n);
        if (!g->bearer) {
            st = TRK_ERR_NO_MEMORY;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        snprintf(g->bearer, n, "Bearer %s", opt->listen.auth_token);
    }

    int32_t max_msg = opt->max_message_bytes > 0 ? opt->max_message_bytes : INT32_MAX;
    grpc_arg args[3] = {
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
         .value.integer = max_msg},
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
         .value.integer = max_msg},
        /* a port another process (or trkserve) already serves is an error, not shared */
        {.type = GRPC_ARG_INTEGER, .key = (char *)GRPC_ARG_ALLOW_REUSEPORT, .value.integer = 0},
    };
    grpc_channel_args cargs = {.num_args = 3, .args = args};
    g->server = grpc_server_create(&cargs, NULL);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    if (!g->server || !g->cq) {
        snprintf(err, errlen, "cannot create the gRPC server");
        goto fail;
    }
    grpc_server_register_completion_queue(g->server, g->cq, NULL);

    const char *host = opt->listen.address ? opt->listen.address : "127.0.0.1";
    char addr[300];
    bool v6 = strchr(host, ':') && host[0] != '[';
    snprintf(addr, sizeof(addr), v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)opt->listen.port);
    grpc_server_credentials *creds = server_creds(&opt->listen, err, errlen);
    if (!creds) {
        st = TRK_ERR_INVALID_ARG;
        goto fail;
    }
    int port = grpc_server_add_http2_port(g->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not a local address?)", addr);
        goto fail;
    }
    g->port = (uint16_t)port;
    grpc_server_start(g->server);

    g->nthreads = opt->listen.threads;
    if (g->nthreads == 0) { /* as the HTTP front end: one per CPU, 2 to 8 */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        g->nthreads = ncpu < GRPC_DEFAULT_THREADS ? GRPC_DEFAULT_THREADS
                      : ncpu > 8                  ? 8
                                                  : (uint32_t)ncpu;
    }
    g->threads = calloc(g->nthreads, sizeof(*g->threads));
    if (!g->threads) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, errlen, "out of memory");
        goto fail_started;
    }
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < GRPC_PENDING_ACCEPTS; i++)
        request_call_locked(g);
    pthread_mutex_unlock(&g->mu);
    for (uint32_t i = 0; i < g->nthreads; i++) {
        if (pthread_create(&g->threads[i], NULL, poll_thread, g) != 0) {
            g->nthreads = i;
            st = TRK_ERR_NO_MEMORY;
            snprintf(err, errlen, "cannot start the gRPC threads");
            goto fail_started;
        }
    }
    TRK_LOGI("gRPC listening on %s:%u%s", host, (unsigned)g->port,
             opt->listen.tls_cert ? " (TLS)" : "");
    *out = g;
    return TRK_OK;

fail_started:
    trk_grpc_stop(g); /* the running server must be shut down, not just destroyed */
    return st;
fail:
    if (g->server)
        grpc_server_destroy(g->server);
    if (g->cq)
        grpc_completion_queue_destroy(g->cq);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g->bearer);
    free(g);
    grpc_shutdown();
    return st;
}

uint16_t trk_grpc_port(const struct trk_grpc *g)
{
    return g ? g->port : 0;
}

void trk_grpc_stop(struct trk_grpc *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->shutting_down = true;
    pthread_mutex_unlock(&g->mu);
    grpc_server_shutdown_and_notify(g->server, g->cq, &g->t_shutdown);
    grpc_server_cancel_all_calls(g->server);
    if (g->nthreads == 0) {
        /* No poller (start failed half-way): this thread polls until everything ended. */
        for (;;) {
            pthread_mutex_lock(&g->mu);
            bool done = g->shutdown_done && g->ncalls == 0;
            pthread_mutex_unlock(&g->mu);
            if (done)
                break;
            grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type != GRPC_OP_COMPLETE)
                break;
            struct tag *t = ev.tag;
            if (t == &g->t_shutdown) {
                pthread_mutex_lock(&g->mu);
                g->shutdown_done = true;
                pthread_mutex_unlock(&g->mu);
            } else {
                t->fn(t->call, ev.success != 0);
            }
        }
    }
    /* Calls end as their requests in the core finish (cancelled ones are answered at once
     * when still queued; running ones complete). */
    pthread_mutex_lock(&g->mu);
    while (!g->shutdown_done || g->ncalls > 0)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    grpc_completion_queue_shutdown(g->cq);
    for (uint32_t i = 0; i < g->nthreads; i++)
        pthread_join(g->threads[i], NULL);
    if (g->nthreads == 0) {
        for (;;) {
            grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            if (ev.type == GRPC_QUEUE_SHUTDOWN)
                break;
        }
    }
    grpc_server_destroy(g->server);
    grpc_completion_queue_destroy(g->cq);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g->threads);
    free(g->bearer);
    free(g);
    grpc_shutdown();
}
