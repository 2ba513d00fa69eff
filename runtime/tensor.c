#include "trk/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_impl.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[TRK_DTYPE_COUNT] = {
    [TRK_DTYPE_INVALID] = {"INVALID", 0}, [TRK_DTYPE_BOOL] = {"BOOL", 1},
    [TRK_DTYPE_UINT8] = {"UINT8", 1},     [TRK_DTYPE_UINT16] = {"UINT16", 2},
    [TRK_DTYPE_UINT32] = {"UINT32", 4},   [TRK_DTYPE_UINT64] = {"UINT64", 8},
    [TRK_DTYPE_INT8] = {"INT8", 1},       [TRK_DTYPE_INT16] = {"INT16", 2},
    [TRK_DTYPE_INT32] = {"INT32", 4},     [TRK_DTYPE_INT64] = {"INT64", 8},
    [TRK_DTYPE_FP16] = {"FP16", 2},       [TRK_DTYPE_FP32] = {"FP32", 4},
    [TRK_DTYPE_FP64] = {"FP64", 8},       [TRK_DTYPE_BYTES] = {"BYTES", 0},
};

size_t trk_dtype_size(enum trk_dtype dt)
{
    return (unsigned)dt < TRK_DTYPE_COUNT ? dtypes[dt].size : 0;
}

const char *trk_dtype_name(enum trk_dtype dt)
{
    return (unsigned)dt < TRK_DTYPE_COUNT ? dtypes[dt].name : "INVALID";
}

enum trk_dtype trk_dtype_from_name(const char *name)
{
    if (!name)
        return TRK_DTYPE_INVALID;
    if (!strncmp(name, "TYPE_", 5))
        name += 5;
    if (!strcmp(name, "STRING"))
        return TRK_DTYPE_BYTES;
    for (int i = 1; i < TRK_DTYPE_COUNT; i++)
        if (!strcmp(name, dtypes[i].name))
            return (enum trk_dtype)i;
    return TRK_DTYPE_INVALID;
}

enum trk_status trk_shape_numel(uint32_t ndim, const int64_t *shape, size_t *numel)
{
    if (!numel || ndim > TRK_TENSOR_MAX_DIMS || (ndim && !shape))
        return TRK_ERR_INVALID_ARG;
    size_t n = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return TRK_ERR_INVALID_ARG;
        if (shape[i] && n > SIZE_MAX / (uint64_t)shape[i])
            return TRK_ERR_OVERFLOW;
        n *= (size_t)shape[i];
    }
    *numel = n;
    return TRK_OK;
}

void trk_shape_format(uint32_t ndim, const int64_t *shape, char *buf, size_t len)
{
    if (!buf || !len)
        return;
    size_t off = 0;
    buf[0] = '\0';
    off += (size_t)snprintf(buf, len, "[");
    for (uint32_t i = 0; i < ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
}

static enum trk_status tensor_new(const char *name, enum trk_dtype dt, uint32_t ndim,
                                  const int64_t *shape, struct trk_tensor **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (!name || strlen(name) >= TRK_TENSOR_NAME_MAX || dt <= TRK_DTYPE_INVALID ||
        dt >= TRK_DTYPE_COUNT || ndim > TRK_TENSOR_MAX_DIMS || (ndim && !shape)) {
        TRK_LOGE("bad tensor description (name %s, dtype %d, %u dims)", name ? name : "NULL",
                 (int)dt, ndim);
        return TRK_ERR_INVALID_ARG;
    }
    if (trk_fault_alloc_fires())
        return TRK_ERR_NO_MEMORY;
    struct trk_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return TRK_ERR_NO_MEMORY;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->ndim = ndim;
    if (ndim)
        memcpy(t->shape, shape, ndim * sizeof *shape);
    *out = t;
    return TRK_OK;
}

enum trk_status trk_tensor_alloc(const char *name, enum trk_dtype dt, uint32_t ndim,
                                 const int64_t *shape, struct trk_tensor **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    size_t numel;
    enum trk_status st = trk_shape_numel(ndim, shape, &numel);
    if (st != TRK_OK)
        return st;
    size_t es = trk_dtype_size(dt);
    if (es == 0 || numel > SIZE_MAX / es) {
        TRK_LOGE("tensor %s: dtype %s has no fixed size or the shape is too large",
                 name ? name : "NULL", trk_dtype_name(dt));
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_tensor *t;
    if ((st = tensor_new(name, dt, ndim, shape, &t)) != TRK_OK)
        return st;
    t->nbytes = numel * es;
    t->data = calloc(1, t->nbytes ? t->nbytes : 1);
    if (!t->data) {
        free(t);
        return TRK_ERR_NO_MEMORY;
    }
    t->owns_data = true;
    *out = t;
    return TRK_OK;
}

enum trk_status trk_tensor_alloc_bytes(const char *name, enum trk_dtype dt, uint32_t ndim,
                                       const int64_t *shape, size_t nbytes,
                                       struct trk_tensor **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    struct trk_tensor *t;
    enum trk_status st = tensor_new(name, dt, ndim, shape, &t);
    if (st != TRK_OK)
        return st;
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->data) {
        free(t);
        return TRK_ERR_NO_MEMORY;
    }
    t->nbytes = nbytes;
    t->owns_data = true;
    *out = t;
    return TRK_OK;
}

enum trk_status trk_tensor_wrap(const char *name, enum trk_dtype dt, uint32_t ndim,
                                const int64_t *shape, void *data, size_t nbytes,
                                struct trk_tensor **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    size_t numel;
    enum trk_status st = trk_shape_numel(ndim, shape, &numel);
    if (st != TRK_OK)
        return st;
    size_t es = trk_dtype_size(dt);
    if ((es && (numel > SIZE_MAX / es || numel * es != nbytes)) || (nbytes && !data)) {
        TRK_LOGE("tensor %s: %zu bytes do not match %s x %zu elements", name ? name : "NULL",
                 nbytes, trk_dtype_name(dt), numel);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_tensor *t;
    if ((st = tensor_new(name, dt, ndim, shape, &t)) != TRK_OK)
        return st;
    t->data = data;
    t->nbytes = nbytes;
    *out = t;
    return TRK_OK;
}

void trk_tensor_free(struct trk_tensor *t)
{
    if (!t)
        return;
    if (t->owns_data)
        free(t->data);
    free(t);
}

enum trk_status trk_tensor_check(const struct trk_tensor *t, enum trk_dtype dt, uint32_t ndim,
                                 const int64_t *shape, char *msg, size_t msg_len)
{
    if (!t || (ndim && !shape))
        return TRK_ERR_INVALID_ARG;
    bool ok = t->dtype == dt && t->ndim == ndim;
    for (uint32_t i = 0; ok && i < ndim; i++)
        ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (ok)
        return TRK_OK;
    if (msg && msg_len) {
        char want[160], got[160];
        trk_shape_format(ndim, shape, want, sizeof want);
        trk_shape_format(t->ndim, t->shape, got, sizeof got);
        snprintf(msg, msg_len, "tensor '%s': expected %s %s, got %s %s", t->name,
                 trk_dtype_name(dt), want, trk_dtype_name(t->dtype), got);
    }
    return TRK_ERR_INVALID_ARG;
}
