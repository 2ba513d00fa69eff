/* Request validation (trk_server_infer_async's rules), with messages a client can act on. */
#include <stdio.h>
#include <string.h>

#include "core_internal.h"

static enum trk_status bad(struct trk_infer_request *req, const char *fmt, const char *a,
                           const char *b)
{
    snprintf(req->error, sizeof req->error, fmt, a, b);
    return TRK_ERR_INVALID_ARG;
}

static void expected_shape(const struct trk_model_config *cfg, const struct trk_model_io *io,
                           uint32_t *nd, int64_t *shape)
{
    uint32_t n = 0;
    if (cfg->max_batch_size > 0)
        shape[n++] = -1;
    for (uint32_t d = 0; d < io->ndims && n < TRK_TENSOR_MAX_DIMS; d++)
        shape[n++] = io->dims[d];
    *nd = n;
}

static uint32_t rd_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static enum trk_status check_bytes(struct trk_infer_request *req, const struct trk_tensor *t,
                                   size_t numel)
{
    if (t->nbytes && !t->data)
        return bad(req, "input '%s': the request carries no data%s", t->name, "");
    if (t->dtype != TRK_DTYPE_BYTES) {
        size_t es = trk_dtype_size(t->dtype);
        if (numel > SIZE_MAX / (es ? es : 1) || numel * es != t->nbytes) {
            char shp[160];
            trk_shape_format(t->ndim, t->shape, shp, sizeof shp);
            snprintf(req->error, sizeof req->error,
                     "input '%s': %zu bytes of data, but %s %s needs %zu", t->name, t->nbytes,
                     trk_dtype_name(t->dtype), shp, numel * es);
            return TRK_ERR_INVALID_ARG;
        }
        return TRK_OK;
    }
    const unsigned char *p = t->data;
    size_t pos = 0;
    for (size_t e = 0; e < numel; e++) {
        if (t->nbytes - pos < 4 || rd_le32(p + pos) > t->nbytes - pos - 4) {
            snprintf(req->error, sizeof req->error,
                     "input '%s': BYTES element %zu of %zu runs past the end of the data (%zu "
                     "bytes); each element is a 4-byte little-endian length and its bytes",
                     t->name, e, numel, t->nbytes);
            return TRK_ERR_INVALID_ARG;
        }
        pos += 4 + rd_le32(p + pos);
    }
    if (pos != t->nbytes) {
        snprintf(req->error, sizeof req->error,
                 "input '%s': %zu bytes of data after its %zu BYTES elements", t->name,
                 t->nbytes - pos, numel);
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

enum trk_status core_validate(const struct trk_model *m, struct trk_infer_request *req,
                              uint32_t *rows)
{
    const struct trk_model_config *cfg = m->cfg;
    const char *mname = cfg->name;
    bool batching = cfg->max_batch_size > 0;
    int64_t batch = -1;
    const char *batch_from = NULL;
    *rows = 1;

    for (uint32_t i = 0; i < req->ninputs; i++) {
        struct trk_tensor *t = &req->inputs[i];
        t->name[sizeof t->name - 1] = '\0';
        const struct trk_model_io *io = trk_model_config_input(cfg, t->name);
        if (!io)
            return bad(req, "unexpected input '%s' for model '%s'", t->name, mname);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(req->inputs[j].name, t->name) == 0)
                return bad(req, "input '%s' is given twice%s", t->name, "");
        if (t->ndim > TRK_TENSOR_MAX_DIMS)
            return bad(req, "input '%s' has more than 8 dimensions%s", t->name, "");
        for (uint32_t d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return bad(req, "input '%s': shape has a negative dimension%s", t->name, "");

        uint32_t nd;
        int64_t want[TRK_TENSOR_MAX_DIMS + 1];
        expected_shape(cfg, io, &nd, want);
        bool ok = m->any_dtype || t->dtype == io->data_type;
        if (!m->any_shape) {
            ok = ok && t->ndim == nd;
            for (uint32_t d = batching ? 1 : 0; ok && d < nd; d++)
                ok = want[d] < 0 || want[d] == t->shape[d];
        } else if (batching) {
            ok = ok && t->ndim >= 1;
        }
        if (t->dtype <= TRK_DTYPE_INVALID || t->dtype >= TRK_DTYPE_COUNT)
            ok = false;
        if (!ok) {
            char ws[160], gs[160];
            trk_shape_format(nd, want, ws, sizeof ws);
            trk_shape_format(t->ndim, t->shape, gs, sizeof gs);
            snprintf(req->error, sizeof req->error, "input '%s': expected %s %s, got %s %s",
                     t->name, m->any_dtype ? "any type" : trk_dtype_name(io->data_type),
                     m->any_shape ? "(any shape)" : ws, trk_dtype_name(t->dtype), gs);
            return TRK_ERR_INVALID_ARG;
        }
        if (batching) {
            int64_t b = t->shape[0];
            if (b < 1)
                return bad(req, "input '%s': batch size 0; send at least one row%s", t->name,
                           "");
            if (b > cfg->max_batch_size) {
                snprintf(req->error, sizeof req->error,
                         "batch size %lld exceeds max_batch_size %d of model '%s'", (long long)b,
                         cfg->max_batch_size, mname);
                return TRK_ERR_INVALID_ARG;
            }
            if (batch >= 0 && b != batch) {
                snprintf(req->error, sizeof req->error,
                         "input '%s' has batch size %lld but input '%s' has %lld; all inputs "
                         "need the same", t->name, (long long)b, batch_from, (long long)batch);
                return TRK_ERR_INVALID_ARG;
            }
            batch = b;
            batch_from = t->name;
        }
        size_t numel;
        if (trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK)
            return bad(req, "input '%s': the shape is too large%s", t->name, "");
        enum trk_status st = check_bytes(req, t, numel);
        if (st != TRK_OK)
            return st;
    }
    for (uint32_t i = 0; i < cfg->ninputs; i++) {
        const struct trk_model_io *io = &cfg->inputs[i];
        if (io->optional)
            continue;
        bool found = false;
        for (uint32_t j = 0; !found && j < req->ninputs; j++)
            found = strcmp(req->inputs[j].name, io->name) == 0;
        if (!found)
            return bad(req, "missing input '%s' for model '%s'", io->name, mname);
    }
    for (uint32_t i = 0; i < req->nrequested; i++) {
        req->requested[i][TRK_TENSOR_NAME_MAX - 1] = '\0';
        if (!trk_model_config_output(cfg, req->requested[i]))
            return bad(req, "model '%s' has no output '%s'", mname, req->requested[i]);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(req->requested[j], req->requested[i]) == 0)
                return bad(req, "output '%s' is requested twice%s", req->requested[i], "");
    }
    if (batching && batch > 0)
        *rows = (uint32_t)batch;
    return TRK_OK;
}
