/* Request inputs generated from a model's metadata, the way perf_analyzer generates them
 * (--shape for dynamic dims, -b for the batch dim, zero or random data). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

static uint64_t next_rand(uint64_t *s)
{
    /* splitmix64: fast and good enough for test data */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

enum trk_status trk_client_tensor_fill(struct trk_tensor *t, bool random, uint64_t *seed)
{
    size_t numel;
    if (!t || trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK)
        return TRK_ERR_INVALID_ARG;
    if (t->dtype == TRK_DTYPE_BYTES) {
        /* each element: u32 length + up to 10 decimal digits ("" when zero) */
        if (numel > SIZE_MAX / 16)
            return TRK_ERR_INVALID_ARG;
        unsigned char *buf = malloc(numel * 14 + 1), *p = buf;
        if (!buf)
            return TRK_ERR_NO_MEMORY;
        for (size_t i = 0; i < numel; i++) {
            char s[16];
            uint32_t l = random ? (uint32_t)snprintf(s, sizeof s, "%u",
                                                     (unsigned)(next_rand(seed) % 1000000u))
                                : 0;
            memcpy(p, &l, 4);
            memcpy(p + 4, s, l);
            p += 4 + l;
        }
        if (t->owns_data)
            free(t->data);
        t->data = buf;
        t->nbytes = (size_t)(p - buf);
        t->owns_data = true;
        return TRK_OK;
    }
    size_t es = trk_dtype_size(t->dtype);
    if (!es || numel * es != t->nbytes || (t->nbytes && !t->data))
        return TRK_ERR_INVALID_ARG;
    unsigned char *d = t->data;
    if (!random) {
        memset(d, 0, t->nbytes);
        return TRK_OK;
    }
    for (size_t i = 0; i < numel; i++) {
        uint64_t r = next_rand(seed);
        double u = (double)(r >> 11) * 0x1.0p-53;
        unsigned char *p = d + i * es;
        switch (t->dtype) {
        case TRK_DTYPE_BOOL: *p = (unsigned char)(r & 1); break;
        case TRK_DTYPE_FP32: { float f = (float)u; memcpy(p, &f, 4); break; }
        case TRK_DTYPE_FP64: memcpy(p, &u, 8); break;
        case TRK_DTYPE_FP16: {
            /* [0,1): exponent 0..14 with a random mantissa is enough for test data */
            uint16_t h = (uint16_t)(((r >> 10) % 15) << 10 | (r & 0x3ff));
            memcpy(p, &h, 2);
            break;
        }
        default: {
            uint64_t v = r % 100; /* the same bytes for every integer width (LE) */
            memcpy(p, &v, es);
            break;
        }
        }
    }
    return TRK_OK;
}

void trk_client_tensors_free(struct trk_tensor **t, uint32_t n)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < n; i++)
        trk_tensor_free(t[i]);
    free(t);
}

/* The dims given for `name` in shapes ("NAME:d1,d2"), or -1 when none; -2 on a bad spec. */
static int find_shape(const char *name, uint32_t nshapes, const char *const *shapes,
                      int64_t *dims, char *err, size_t errlen)
{
    size_t nl = strlen(name);
    for (uint32_t i = 0; i < nshapes; i++) {
        const char *s = shapes[i];
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) != nl || strncmp(s, name, nl))
            continue;
        int nd = 0;
        const char *p = colon + 1;
        while (*p) {
            char *end;
            long long v = strtoll(p, &end, 10);
            if (end == p || v < 0 || nd == TRK_TENSOR_MAX_DIMS || (*end && *end != ',')) {
                trk_client_errf(err, errlen,
                                "shape '%s': give NAME:d1,d2,... with up to %d dims >= 0", s,
                                TRK_TENSOR_MAX_DIMS);
                return -2;
            }
            dims[nd++] = v;
            p = *end ? end + 1 : end;
        }
        return nd;
    }
    return -1;
}

enum trk_status trk_client_inputs_from_metadata(const char *metadata_json, uint32_t nshapes,
                                                const char *const *shapes, uint32_t batch,
                                                bool random, uint64_t seed,
                                                const char *const *skip, uint32_t nskip,
                                                struct trk_tensor ***out, uint32_t *n,
                                                char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    json_error_t jerr;
    json_t *root = json_loads(metadata_json ? metadata_json : "", 0, &jerr);
    json_t *ins = root ? json_object_get(root, "inputs") : NULL;
    struct trk_tensor **ts = NULL;
    uint32_t cnt = 0;
    enum trk_status st = TRK_ERR_PARSE;
    if (!json_is_array(ins)) {
        trk_client_errf(err, errlen, "model metadata has no \"inputs\" list%s%s",
                        root ? "" : ": ", root ? "" : jerr.text);
        goto fail;
    }
    if (!batch)
        batch = 1;
    size_t nin = json_array_size(ins);
    ts = calloc(nin ? nin : 1, sizeof *ts);
    if (!ts) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    for (size_t k = 0; k < nin; k++) {
        json_t *in = json_array_get(ins, k), *shape = json_object_get(in, "shape");
        const char *name = json_string_value(json_object_get(in, "name"));
        const char *dts = json_string_value(json_object_get(in, "datatype"));
        enum trk_dtype dt = dts ? trk_dtype_from_name(dts) : TRK_DTYPE_INVALID;
        if (!name || dt == TRK_DTYPE_INVALID || !json_is_array(shape) ||
            json_array_size(shape) > TRK_TENSOR_MAX_DIMS) {
            trk_client_errf(err, errlen, "model metadata input %zu is malformed", k);
            goto fail;
        }
        bool skipped = false;
        for (uint32_t i = 0; i < nskip && !skipped; i++)
            skipped = skip[i] && !strcmp(skip[i], name);
        if (skipped)
            continue;
        uint32_t nd = (uint32_t)json_array_size(shape);
        int64_t meta[TRK_TENSOR_MAX_DIMS], dims[TRK_TENSOR_MAX_DIMS], given[TRK_TENSOR_MAX_DIMS];
        for (uint32_t d = 0; d < nd; d++)
            meta[d] = json_integer_value(json_array_get(shape, d));
        int ng = find_shape(name, nshapes, shapes, given, err, errlen);
        st = TRK_ERR_INVALID_ARG;
        if (ng == -2)
            goto fail;
        uint32_t lead = 0; /* 1 when the leading dim is the batch dim we fill in */
        if (ng >= 0 && (uint32_t)ng == nd) {
            memcpy(dims, given, nd * sizeof *dims);
        } else if (ng >= 0 && nd && (uint32_t)ng == nd - 1 && meta[0] == -1) {
            dims[0] = batch;
            memcpy(dims + 1, given, (nd - 1) * sizeof *dims);
            lead = 1;
        } else if (ng >= 0) {
            char ms[128];
            trk_shape_format(nd, meta, ms, sizeof ms);
            trk_client_errf(err, errlen, "--shape for input '%s' has %d dims; its shape is %s",
                            name, ng, ms);
            goto fail;
        } else {
            memcpy(dims, meta, nd * sizeof *dims);
            if (nd && meta[0] == -1) {
                dims[0] = batch;
                lead = 1;
            }
        }
        for (uint32_t d = lead; d < nd; d++) {
            char ms[128];
            trk_shape_format(nd, meta, ms, sizeof ms);
            if (dims[d] < 0) {
                trk_client_errf(err, errlen,
                                "input '%s' has the dynamic shape %s; give its extents with "
                                "--shape %s:d1,d2,...",
                                name, ms, name);
                goto fail;
            }
            if (meta[d] >= 0 && dims[d] != meta[d]) {
                trk_client_errf(err, errlen, "--shape for input '%s': dim %u must be %lld (%s)",
                                name, d, (long long)meta[d], ms);
                goto fail;
            }
        }
        if (dt == TRK_DTYPE_BYTES) {
            ts[cnt] = trk_client_tensor_copy(name, dt, nd, dims, "", 0); /* filled below */
            st = ts[cnt] ? TRK_OK : TRK_ERR_NO_MEMORY;
        } else {
            st = trk_tensor_alloc(name, dt, nd, dims, &ts[cnt]);
        }
        if (st != TRK_OK) {
            trk_client_errf(err, errlen, "input '%s': cannot allocate its tensor (%s)", name,
                            trk_status_str(st));
            goto fail;
        }
        cnt++;
        st = trk_client_tensor_fill(ts[cnt - 1], random, &seed);
        if (st != TRK_OK) {
            trk_client_errf(err, errlen, "input '%s': cannot fill it (%s)", name,
                            trk_status_str(st));
            goto fail;
        }
    }
    json_decref(root);
    *out = ts;
    *n = cnt;
    return TRK_OK;
fail:
    json_decref(root);
    trk_client_tensors_free(ts, cnt);
    return st;
}
