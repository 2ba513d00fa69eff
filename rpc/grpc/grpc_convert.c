/* trkserve gRPC front end: protobuf-c messages <-> server core objects (grpc_convert.h). */
#include "grpc_convert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ----------------------------------------------------------------------------- */

void *trk_pb_alloc(struct trk_pb_arena *a, size_t bytes)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        void **p = realloc(a->ptrs, cap * sizeof(*p));
        if (!p) {
            a->failed = true;
            return NULL;
        }
        a->ptrs = p;
        a->cap = cap;
    }
    void *m = calloc(1, bytes ? bytes : 1);
    if (!m) {
        a->failed = true;
        return NULL;
    }
    a->ptrs[a->n++] = m;
    return m;
}

char *trk_pb_strdup(struct trk_pb_arena *a, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *d = trk_pb_alloc(a, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *trk_pb_printf(struct trk_pb_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        a->failed = true;
        return NULL;
    }
    char *d = trk_pb_alloc(a, (size_t)n + 1);
    if (!d)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void trk_pb_arena_fini(struct trk_pb_arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->ptrs[i]);
    free(a->ptrs);
    memset(a, 0, sizeof(*a));
}

#define ARENA_NEW(a, type, init)                                                          \
    __extension__({                                                                       \
        type *p_ = trk_pb_alloc((a), sizeof(type));                                       \
        if (p_)                                                                           \
            init(p_);                                                                     \
        p_;                                                                               \
    })

static void errf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- requests -------------------------------------------------------------------------- */

enum trk_status trk_grpc_parse_version(const char *s, int64_t *out, char *err, size_t errlen)
{
    if (!s || !*s) {
        *out = -1;
        return TRK_OK;
    }
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10) {
            errf(err, errlen, "invalid model version '%.64s': expected a positive decimal "
                 "number or \"\" for the server's choice", s);
            return TRK_ERR_INVALID_ARG;
        }
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return TRK_OK;
}

static const char *param_name(const char *key)
{
    return key ? key : "";
}

/* Request-level parameters: the ones the core understands, the rest ignored (as Triton
 * passes unknown ones on to the backend). */
static enum trk_status request_params(const Inference__ModelInferRequest *msg,
                                      struct trk_infer_request *req, char *err, size_t errlen)
{
    for (size_t i = 0; i < msg->n_parameters; i++) {
        const Inference__ModelInferRequest__ParametersEntry *e = msg->parameters[i];
        if (!e)
            continue;
        const char *key = param_name(e->key);
        bool is_timeout = strcmp(key, "timeout") == 0;
        if (!is_timeout && strcmp(key, "priority") != 0)
            continue;
        const Inference__InferParameter *v = e->value;
        int64_t x = -1;
        if (v && v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM)
            x = v->int64_param;
        else if (v &&
                 v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM &&
                 v->uint64_param <= (uint64_t)INT64_MAX)
            x = (int64_t)v->uint64_param;
        if (x < 0) {
            errf(err, errlen, "parameter '%s' must be a non-negative int64 (%s)", key,
                 is_timeout ? "microseconds" : "priority level");
            return TRK_ERR_INVALID_ARG;
        }
        if (is_timeout)
            req->timeout_us = (uint64_t)x;
        else
            req->priority = (uint64_t)x;
    }
    return TRK_OK;
}

/* Converts n typed elements into dst of element size esz. */
#define CONVERT_ELEMS(dst_type, src, n, dst)                                              \
    do {                                                                                  \
        dst_type *d_ = (dst_type *)(dst);                                                 \
        for (size_t k_ = 0; k_ < (n); k_++)                                               \
            d_[k_] = (dst_type)(src)[k_];                                                 \
    } while (0)

static enum trk_status contents_to_tensor(const Inference__InferTensorContents *c,
                                          struct trk_tensor *t, size_t numel, char *err,
                                          size_t errlen)
{
    static const Inference__InferTensorContents empty = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    if (!c)
        c = &empty;
    size_t have = 0;
    const char *field = "";
    switch (t->dtype) {
    case TRK_DTYPE_BOOL: have = c->n_bool_contents; field = "bool_contents"; break;
    case TRK_DTYPE_UINT8:
    case TRK_DTYPE_UINT16:
    case TRK_DTYPE_UINT32: have = c->n_uint_contents; field = "uint_contents"; break;
    case TRK_DTYPE_UINT64: have = c->n_uint64_contents; field = "uint64_contents"; break;
    case TRK_DTYPE_INT8:
    case TRK_DTYPE_INT16:
    case TRK_DTYPE_INT32: have = c->n_int_contents; field = "int_contents"; break;
    case TRK_DTYPE_INT64: have = c->n_int64_contents; field = "int64_contents"; break;
    case TRK_DTYPE_FP32: have = c->n_fp32_contents; field = "fp32_contents"; break;
    case TRK_DTYPE_FP64: have = c->n_fp64_contents; field = "fp64_contents"; break;
    case TRK_DTYPE_BYTES: have = c->n_bytes_contents; field = "bytes_contents"; break;
    default:
        if (numel == 0) {
            t->data = NULL;
            t->nbytes = 0;
            return TRK_OK;
        }
        errf(err, errlen, "input '%s': %s data must be sent in raw_input_contents "
             "(InferTensorContents has no field for it)", t->name, trk_dtype_name(t->dtype));
        return TRK_ERR_INVALID_ARG;
    }
    if (have != numel) {
        errf(err, errlen, "input '%s': the shape needs %zu elements but %s holds %zu",
             t->name, numel, field, have);
        return TRK_ERR_INVALID_ARG;
    }
    size_t nbytes;
    if (t->dtype == TRK_DTYPE_BYTES) {
        nbytes = 0;
        for (size_t k = 0; k < have; k++) {
            size_t len = c->bytes_contents[k].len;
            if (len > UINT32_MAX || nbytes > SIZE_MAX - 4 - len) {
                errf(err, errlen, "input '%s': element %zu is too long", t->name, k);
                return TRK_ERR_INVALID_ARG;
            }
            nbytes += 4 + len;
        }
    } else {
        nbytes = numel * trk_dtype_size(t->dtype); /* numel = have: bounded by the message */
    }
    unsigned char *d = malloc(nbytes ? nbytes : 1);
    if (!d) {
        errf(err, errlen, "input '%s': out of memory for %zu bytes", t->name, nbytes);
        return TRK_ERR_NO_MEMORY;
    }
    switch (t->dtype) {
    case TRK_DTYPE_BOOL: CONVERT_ELEMS(uint8_t, c->bool_contents, have, d); break;
    case TRK_DTYPE_UINT8: CONVERT_ELEMS(uint8_t, c->uint_contents, have, d); break;
    case TRK_DTYPE_UINT16: CONVERT_ELEMS(uint16_t, c->uint_contents, have, d); break;
    case TRK_DTYPE_UINT32: CONVERT_ELEMS(uint32_t, c->uint_contents, have, d); break;
    case TRK_DTYPE_UINT64: CONVERT_ELEMS(uint64_t, c->uint64_contents, have, d); break;
    case TRK_DTYPE_INT8: CONVERT_ELEMS(int8_t, c->int_contents, have, d); break;
    case TRK_DTYPE_INT16: CONVERT_ELEMS(int16_t, c->int_contents, have, d); break;
    case TRK_DTYPE_INT32: CONVERT_ELEMS(int32_t, c->int_contents, have, d); break;
    case TRK_DTYPE_INT64: CONVERT_ELEMS(int64_t, c->int64_contents, have, d); break;
    case TRK_DTYPE_FP32: CONVERT_ELEMS(float, c->fp32_contents, have, d); break;
    case TRK_DTYPE_FP64: CONVERT_ELEMS(double, c->fp64_contents, have, d); break;
    case TRK_DTYPE_BYTES: {
        unsigned char *p = d;
        for (size_t k = 0; k < have; k++) {
            uint32_t len = (uint32_t)c->bytes_contents[k].len;
            p[0] = (unsigned char)len; /* little-endian, as the protocol says */
            p[1] = (unsigned char)(len >> 8);
            p[2] = (unsigned char)(len >> 16);
            p[3] = (unsigned char)(len >> 24);
            if (len)
                memcpy(p + 4, c->bytes_contents[k].data, len);
            p += 4 + len;
        }
        break;
    }
    default: break;
    }
    t->data = d;
    t->nbytes = nbytes;
    t->owns_data = true;
    return TRK_OK;
}

static bool has_contents(const Inference__InferTensorContents *c)
{
    return c && (c->n_bool_contents || c->n_int_contents || c->n_int64_contents ||
                 c->n_uint_contents || c->n_uint64_contents || c->n_fp32_contents ||
                 c->n_fp64_contents || c->n_bytes_contents);
}

enum trk_status trk_grpc_request_from_proto(const Inference__ModelInferRequest *msg,
                                            struct trk_infer_request **out, char *err,
                                            size_t errlen)
{
    enum trk_status st = TRK_ERR_INVALID_ARG;
    struct trk_infer_request *req = NULL;
    *out = NULL;
    const char *model = msg->model_name ? msg->model_name : "";
    if (!*model) {
        errf(err, errlen, "model_name is required");
        goto fail;
    }
    if (strlen(model) >= TRK_MODEL_NAME_MAX) {
        errf(err, errlen, "model_name is longer than %d bytes", TRK_MODEL_NAME_MAX - 1);
        goto fail;
    }
    if (msg->id && strlen(msg->id) >= TRK_REQUEST_ID_MAX) {
        errf(err, errlen, "request id is longer than %d bytes", TRK_REQUEST_ID_MAX - 1);
        goto fail;
    }
    if (msg->n_inputs > TRK_MODEL_MAX_IO || msg->n_outputs > TRK_MODEL_MAX_IO) {
        errf(err, errlen, "too many inputs or outputs (%zu, %zu; at most %d each)",
             msg->n_inputs, msg->n_outputs, TRK_MODEL_MAX_IO);
        goto fail;
    }
    bool raw = msg->n_raw_input_contents > 0;
    if (raw && msg->n_raw_input_contents != msg->n_inputs) {
        errf(err, errlen, "raw_input_contents has %zu entries for %zu inputs: send one per "
             "input, in the order of inputs", msg->n_raw_input_contents, msg->n_inputs);
        goto fail;
    }
    int64_t version;
    st = trk_grpc_parse_version(msg->model_version, &version, err, errlen);
    if (st != TRK_OK)
        goto fail;

    req = trk_infer_request_alloc((uint32_t)msg->n_inputs, (uint32_t)msg->n_outputs);
    if (!req) {
        errf(err, errlen, "out of memory");
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    snprintf(req->model_name, sizeof(req->model_name), "%s", model);
    req->model_version = version;
    snprintf(req->id, sizeof(req->id), "%s", msg->id ? msg->id : "");
    st = request_params(msg, req, err, errlen);
    if (st != TRK_OK)
        goto fail;

    st = TRK_ERR_INVALID_ARG;
    for (size_t i = 0; i < msg->n_inputs; i++) {
        const Inference__ModelInferRequest__InferInputTensor *in = msg->inputs[i];
        struct trk_tensor *t = &req->inputs[i];
        const char *name = in && in->name ? in->name : "";
        if (!*name || strlen(name) >= TRK_TENSOR_NAME_MAX) {
            errf(err, errlen, "input %zu: the name must have 1 to %d bytes", i,
                 TRK_TENSOR_NAME_MAX - 1);
            goto fail;
        }
        snprintf(t->name, sizeof(t->name), "%s", name);
        t->dtype = trk_dtype_from_name(in->datatype ? in->datatype : "");
        if (t->dtype == TRK_DTYPE_INVALID) {
            errf(err, errlen, "input '%s': unknown datatype '%.32s' (use BOOL, UINT8..UINT64, "
                 "INT8..INT64, FP16, FP32, FP64 or BYTES)", name, in->datatype ? in->datatype : "");
            goto fail;
        }
        if (in->n_shape > TRK_TENSOR_MAX_DIMS) {
            errf(err, errlen, "input '%s': %zu dimensions, at most %d are supported", name,
                 in->n_shape, TRK_TENSOR_MAX_DIMS);
            goto fail;
        }
        t->ndim = (uint32_t)in->n_shape;
        for (size_t d = 0; d < in->n_shape; d++) {
            if (in->shape[d] < 0) {
                errf(err, errlen, "input '%s': negative dimension %" PRId64 " in the shape",
                     name, in->shape[d]);
                goto fail;
            }
            t->shape[d] = in->shape[d];
        }
        size_t numel;
        if (trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK) {
            errf(err, errlen, "input '%s': the shape's element count overflows", name);
            goto fail;
        }
        if (raw) {
            if (has_contents(in->contents)) {
                errf(err, errlen, "input '%s': contents given together with "
                     "raw_input_contents; use one or the other", name);
                goto fail;
            }
            t->data = msg->raw_input_contents[i].data;
            t->nbytes = msg->raw_input_contents[i].len;
            t->owns_data = false;
        } else {
            st = contents_to_tensor(in->contents, t, numel, err, errlen);
            if (st != TRK_OK)
                goto fail;
            st = TRK_ERR_INVALID_ARG;
        }
    }

    for (size_t i = 0; i < msg->n_outputs; i++) {
        const Inference__ModelInferRequest__InferRequestedOutputTensor *o = msg->outputs[i];
        const char *name = o && o->name ? o->name : "";
        if (!*name || strlen(name) >= TRK_TENSOR_NAME_MAX) {
            errf(err, errlen, "requested output %zu: the name must have 1 to %d bytes", i,
                 TRK_TENSOR_NAME_MAX - 1);
            goto fail;
        }
        for (size_t k = 0; k < o->n_parameters; k++) {
            const char *key = o->parameters[k] ? param_name(o->parameters[k]->key) : "";
            if (strcmp(key, "classification") == 0) {
                errf(err, errlen, "output '%s': the classification extension is not "
                     "supported", name);
                st = TRK_ERR_UNSUPPORTED;
                goto fail;
            }
        }
        snprintf(req->requested[i], sizeof(req->requested[i]), "%s", name);
    }
    *out = req;
    return TRK_OK;
fail:
    trk_infer_request_free(req);
    return st;
}

/* ---- responses ------------------------------------------------------------------------- */

static Inference__DataType data_type_proto(enum trk_dtype dt)
{
    switch (dt) {
    case TRK_DTYPE_BOOL: return INFERENCE__DATA_TYPE__TYPE_BOOL;
    case TRK_DTYPE_UINT8: return INFERENCE__DATA_TYPE__TYPE_UINT8;
    case TRK_DTYPE_UINT16: return INFERENCE__DATA_TYPE__TYPE_UINT16;
    case TRK_DTYPE_UINT32: return INFERENCE__DATA_TYPE__TYPE_UINT32;
    case TRK_DTYPE_UINT64: return INFERENCE__DATA_TYPE__TYPE_UINT64;
    case TRK_DTYPE_INT8: return INFERENCE__DATA_TYPE__TYPE_INT8;
    case TRK_DTYPE_INT16: return INFERENCE__DATA_TYPE__TYPE_INT16;
    case TRK_DTYPE_INT32: return INFERENCE__DATA_TYPE__TYPE_INT32;
    case TRK_DTYPE_INT64: return INFERENCE__DATA_TYPE__TYPE_INT64;
    case TRK_DTYPE_FP16: return INFERENCE__DATA_TYPE__TYPE_FP16;
    case TRK_DTYPE_FP32: return INFERENCE__DATA_TYPE__TYPE_FP32;
    case TRK_DTYPE_FP64: return INFERENCE__DATA_TYPE__TYPE_FP64;
    case TRK_DTYPE_BYTES: return INFERENCE__DATA_TYPE__TYPE_STRING;
    default: return INFERENCE__DATA_TYPE__TYPE_INVALID;
    }
}

enum trk_status trk_grpc_response_from_request(const struct trk_infer_request *req,
                                               struct trk_pb_arena *a,
                                               Inference__ModelInferResponse **out)
{
    Inference__ModelInferResponse *r =
        ARENA_NEW(a, Inference__ModelInferResponse, inference__model_infer_response__init);
    if (!r)
        return TRK_ERR_NO_MEMORY;
    r->model_name = (char *)req->model_name;
    r->model_version = trk_pb_printf(a, "%" PRId64, req->served_version);
    r->id = (char *)req->id;
    uint32_t n = req->noutputs;
    r->n_outputs = n;
    r->n_raw_output_contents = n;
    r->outputs = trk_pb_alloc(a, n * sizeof(*r->outputs));
    r->raw_output_contents = trk_pb_alloc(a, n * sizeof(*r->raw_output_contents));
    if (a->failed)
        return TRK_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < n; i++) {
        const struct trk_tensor *t = req->outputs ? req->outputs[i] : NULL;
        if (!t)
            return TRK_ERR_INTERNAL;
        Inference__ModelInferResponse__InferOutputTensor *o =
            ARENA_NEW(a, Inference__ModelInferResponse__InferOutputTensor,
                      inference__model_infer_response__infer_output_tensor__init);
        if (!o)
            return TRK_ERR_NO_MEMORY;
        o->name = (char *)t->name;
        o->datatype = (char *)trk_dtype_name(t->dtype);
        o->n_shape = t->ndim;
        o->shape = (int64_t *)t->shape;
        r->outputs[i] = o;
        r->raw_output_contents[i].len = t->nbytes;
        r->raw_output_contents[i].data = t->data;
    }
    *out = r;
    return TRK_OK;
}

static Inference__ModelTensorReshape *reshape_proto(struct trk_pb_arena *a,
                                                    const struct trk_model_io *io)
{
    if (!io->has_reshape)
        return NULL;
    Inference__ModelTensorReshape *r =
        ARENA_NEW(a, Inference__ModelTensorReshape, inference__model_tensor_reshape__init);
    if (r) {
        r->n_shape = io->reshape_ndims;
        r->shape = (int64_t *)io->reshape;
    }
    return r;
}

static Inference__ModelQueuePolicy *queue_policy_proto(struct trk_pb_arena *a,
                                                       const struct trk_queue_policy *q)
{
    Inference__ModelQueuePolicy *p =
        ARENA_NEW(a, Inference__ModelQueuePolicy, inference__model_queue_policy__init);
    if (!p)
        return NULL;
    p->timeout_action = q->timeout_action == TRK_TIMEOUT_ACTION_DELAY
                            ? INFERENCE__MODEL_QUEUE_POLICY__TIMEOUT_ACTION__DELAY
                            : INFERENCE__MODEL_QUEUE_POLICY__TIMEOUT_ACTION__REJECT;
    p->default_timeout_microseconds = q->default_timeout_microseconds;
    p->allow_timeout_override = q->allow_timeout_override;
    p->max_queue_size = q->max_queue_size;
    return p;
}

static Inference__ModelVersionPolicy *version_policy_proto(struct trk_pb_arena *a,
                                                           const struct trk_version_policy *v)
{
    Inference__ModelVersionPolicy *p =
        ARENA_NEW(a, Inference__ModelVersionPolicy, inference__model_version_policy__init);
    if (!p)
        return NULL;
    switch (v->kind) {
    case TRK_VERSION_POLICY_ALL:
        p->policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_ALL;
        p->all = ARENA_NEW(a, Inference__ModelVersionPolicy__All,
                           inference__model_version_policy__all__init);
        break;
    case TRK_VERSION_POLICY_SPECIFIC:
        p->policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_SPECIFIC;
        p->specific = ARENA_NEW(a, Inference__ModelVersionPolicy__Specific,
                                inference__model_version_policy__specific__init);
        if (p->specific) {
            p->specific->n_versions = v->nversions;
            p->specific->versions = v->versions;
        }
        break;
    default:
        p->policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_LATEST;
        p->latest = ARENA_NEW(a, Inference__ModelVersionPolicy__Latest,
                              inference__model_version_policy__latest__init);
        if (p->latest)
            p->latest->num_versions = v->num_versions;
        break;
    }
    return p;
}

enum trk_status trk_grpc_config_to_proto(const struct trk_model_config *c,
                                         struct trk_pb_arena *a, Inference__ModelConfig **out)
{
    Inference__ModelConfig *m = ARENA_NEW(a, Inference__ModelConfig, inference__model_config__init);
    if (!m)
        return TRK_ERR_NO_MEMORY;
    m->name = c->name ? c->name : (char *)"";
    m->platform = c->platform ? c->platform : (char *)"";
    m->backend = c->backend ? c->backend : (char *)"";
    m->version_policy = version_policy_proto(a, &c->version_policy);
    m->max_batch_size = c->max_batch_size;

    m->n_input = c->ninputs;
    m->input = trk_pb_alloc(a, c->ninputs * sizeof(*m->input));
    for (uint32_t i = 0; m->input && i < c->ninputs; i++) {
        const struct trk_model_io *io = &c->inputs[i];
        Inference__ModelInput *x = ARENA_NEW(a, Inference__ModelInput, inference__model_input__init);
        if (!x)
            break;
        x->name = (char *)io->name;
        x->data_type = data_type_proto(io->data_type);
        x->n_dims = io->ndims;
        x->dims = (int64_t *)io->dims;
        x->reshape = reshape_proto(a, io);
        x->allow_ragged_batch = io->allow_ragged_batch;
        x->optional = io->optional;
        m->input[i] = x;
    }
    m->n_output = c->noutputs;
    m->output = trk_pb_alloc(a, c->noutputs * sizeof(*m->output));
    for (uint32_t i = 0; m->output && i < c->noutputs; i++) {
        const struct trk_model_io *io = &c->outputs[i];
        Inference__ModelOutput *x = ARENA_NEW(a, Inference__ModelOutput, inference__model_output__init);
        if (!x)
            break;
        x->name = (char *)io->name;
        x->data_type = data_type_proto(io->data_type);
        x->n_dims = io->ndims;
        x->dims = (int64_t *)io->dims;
        x->reshape = reshape_proto(a, io);
        m->output[i] = x;
    }
    m->n_instance_group = c->ninstance_groups;
    m->instance_group = trk_pb_alloc(a, c->ninstance_groups * sizeof(*m->instance_group));
    for (uint32_t i = 0; m->instance_group && i < c->ninstance_groups; i++) {
        const struct trk_instance_group *g = &c->instance_groups[i];
        Inference__ModelInstanceGroup *x =
            ARENA_NEW(a, Inference__ModelInstanceGroup, inference__model_instance_group__init);
        if (!x)
            break;
        x->name = g->name ? g->name : (char *)"";
        x->kind = (Inference__ModelInstanceGroup__Kind)g->kind; /* same numbers as Triton */
        x->count = (int32_t)g->count;
        x->n_gpus = g->ngpus;
        x->gpus = g->gpus;
        m->instance_group[i] = x;
    }
    const struct trk_dynamic_batching *db = &c->dynamic_batching;
    if (db->present) {
        Inference__ModelDynamicBatching *x =
            ARENA_NEW(a, Inference__ModelDynamicBatching, inference__model_dynamic_batching__init);
        if (x) {
            x->n_preferred_batch_size = db->npreferred;
            x->preferred_batch_size = db->preferred_batch_size;
            x->max_queue_delay_microseconds = db->max_queue_delay_microseconds;
            x->preserve_ordering = db->preserve_ordering;
            if (db->has_default_queue_policy)
                x->default_queue_policy = queue_policy_proto(a, &db->default_queue_policy);
        }
        m->scheduling_choice_case = INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_DYNAMIC_BATCHING;
        m->dynamic_batching = x;
    }
    m->n_parameters = c->nparameters;
    m->parameters = trk_pb_alloc(a, c->nparameters * sizeof(*m->parameters));
    for (uint32_t i = 0; m->parameters && i < c->nparameters; i++) {
        Inference__ModelConfig__ParametersEntry *e =
            ARENA_NEW(a, Inference__ModelConfig__ParametersEntry,
                      inference__model_config__parameters_entry__init);
        Inference__ModelParameter *v =
            ARENA_NEW(a, Inference__ModelParameter, inference__model_parameter__init);
        if (!e || !v)
            break;
        e->key = c->parameters[i].key;
        v->string_value = c->parameters[i].value ? c->parameters[i].value : (char *)"";
        e->value = v;
        m->parameters[i] = e;
    }
    if (a->failed)
        return TRK_ERR_NO_MEMORY;
    *out = m;
    return TRK_OK;
}

static Inference__ModelMetadataResponse__TensorMetadata *
tensor_metadata(struct trk_pb_arena *a, const struct trk_model_io *io, bool batch)
{
    Inference__ModelMetadataResponse__TensorMetadata *t =
        ARENA_NEW(a, Inference__ModelMetadataResponse__TensorMetadata,
                  inference__model_metadata_response__tensor_metadata__init);
    if (!t)
        return NULL;
    t->name = (char *)io->name;
    t->datatype = (char *)trk_dtype_name(io->data_type);
    t->n_shape = io->ndims + (batch ? 1 : 0);
    t->shape = trk_pb_alloc(a, t->n_shape * sizeof(int64_t));
    if (!t->shape)
        return NULL;
    size_t k = 0;
    if (batch)
        t->shape[k++] = -1;
    for (uint32_t d = 0; d < io->ndims; d++)
        t->shape[k++] = io->dims[d];
    return t;
}

enum trk_status trk_grpc_metadata_to_proto(const struct trk_model_config *c,
                                           const int64_t *versions, uint32_t nversions,
                                           struct trk_pb_arena *a,
                                           Inference__ModelMetadataResponse **out)
{
    Inference__ModelMetadataResponse *m =
        ARENA_NEW(a, Inference__ModelMetadataResponse, inference__model_metadata_response__init);
    if (!m)
        return TRK_ERR_NO_MEMORY;
    bool batch = c->max_batch_size > 0;
    m->name = c->name ? c->name : (char *)"";
    m->platform = (char *)trk_model_config_platform(c);
    m->n_versions = nversions;
    m->versions = trk_pb_alloc(a, nversions * sizeof(char *));
    for (uint32_t i = 0; m->versions && i < nversions; i++)
        m->versions[i] = trk_pb_printf(a, "%" PRId64, versions[i]);
    m->n_inputs = c->ninputs;
    m->inputs = trk_pb_alloc(a, c->ninputs * sizeof(*m->inputs));
    for (uint32_t i = 0; m->inputs && i < c->ninputs; i++)
        m->inputs[i] = tensor_metadata(a, &c->inputs[i], batch);
    m->n_outputs = c->noutputs;
    m->outputs = trk_pb_alloc(a, c->noutputs * sizeof(*m->outputs));
    for (uint32_t i = 0; m->outputs && i < c->noutputs; i++)
        m->outputs[i] = tensor_metadata(a, &c->outputs[i], batch);
    if (a->failed)
        return TRK_ERR_NO_MEMORY;
    *out = m;
    return TRK_OK;
}

static Inference__StatisticDuration *duration(struct trk_pb_arena *a,
                                              const struct trk_duration_stat *d)
{
    Inference__StatisticDuration *x =
        ARENA_NEW(a, Inference__StatisticDuration, inference__statistic_duration__init);
    if (x) {
        x->count = d->count;
        x->ns = d->ns;
    }
    return x;
}

enum trk_status trk_grpc_stats_to_proto(const struct trk_model_stats *st, uint32_t n,
                                        struct trk_pb_arena *a,
                                        Inference__ModelStatisticsResponse **out)
{
    Inference__ModelStatisticsResponse *r =
        ARENA_NEW(a, Inference__ModelStatisticsResponse, inference__model_statistics_response__init);
    if (!r)
        return TRK_ERR_NO_MEMORY;
    r->n_model_stats = n;
    r->model_stats = trk_pb_alloc(a, n * sizeof(*r->model_stats));
    for (uint32_t i = 0; r->model_stats && i < n; i++) {
        const struct trk_model_stats *s = &st[i];
        Inference__ModelStatistics *m =
            ARENA_NEW(a, Inference__ModelStatistics, inference__model_statistics__init);
        Inference__InferStatistics *is =
            ARENA_NEW(a, Inference__InferStatistics, inference__infer_statistics__init);
        if (!m || !is)
            break;
        m->name = (char *)s->name;
        m->version = trk_pb_printf(a, "%" PRId64, s->version);
        m->last_inference = s->last_inference_ms;
        m->inference_count = s->inference_count;
        m->execution_count = s->execution_count;
        is->success = duration(a, &s->success);
        is->fail = duration(a, &s->fail);
        is->queue = duration(a, &s->queue);
        is->compute_input = duration(a, &s->compute_input);
        is->compute_infer = duration(a, &s->compute_infer);
        is->compute_output = duration(a, &s->compute_output);
        is->cache_hit = duration(a, &s->cache_hit);
        is->cache_miss = duration(a, &s->cache_miss);
        m->inference_stats = is;
        m->n_batch_stats = s->nbatch;
        m->batch_stats = trk_pb_alloc(a, s->nbatch * sizeof(*m->batch_stats));
        for (uint32_t b = 0; m->batch_stats && b < s->nbatch; b++) {
            Inference__InferBatchStatistics *x =
                ARENA_NEW(a, Inference__InferBatchStatistics, inference__infer_batch_statistics__init);
            if (!x)
                break;
            x->batch_size = s->batch[b].batch_size;
            x->compute_input = duration(a, &s->batch[b].compute_input);
            x->compute_infer = duration(a, &s->batch[b].compute_infer);
            x->compute_output = duration(a, &s->batch[b].compute_output);
            m->batch_stats[b] = x;
        }
        r->model_stats[i] = m;
    }
    if (a->failed)
        return TRK_ERR_NO_MEMORY;
    *out = r;
    return TRK_OK;
}

enum trk_status trk_grpc_index_to_proto(const struct trk_repo_entry *e, uint32_t n,
                                        struct trk_pb_arena *a,
                                        Inference__RepositoryIndexResponse **out)
{
    Inference__RepositoryIndexResponse *r =
        ARENA_NEW(a, Inference__RepositoryIndexResponse, inference__repository_index_response__init);
    if (!r)
        return TRK_ERR_NO_MEMORY;
    r->n_models = n;
    r->models = trk_pb_alloc(a, n * sizeof(*r->models));
    for (uint32_t i = 0; r->models && i < n; i++) {
        Inference__RepositoryIndexResponse__ModelIndex *m =
            ARENA_NEW(a, Inference__RepositoryIndexResponse__ModelIndex,
                      inference__repository_index_response__model_index__init);
        if (!m)
            break;
        m->name = (char *)e[i].name;
        m->version = e[i].version > 0 ? trk_pb_printf(a, "%" PRId64, e[i].version) : (char *)"";
        m->state = (char *)trk_model_state_name(e[i].state);
        m->reason = (char *)e[i].reason;
        r->models[i] = m;
    }
    if (a->failed)
        return TRK_ERR_NO_MEMORY;
    *out = r;
    return TRK_OK;
}
