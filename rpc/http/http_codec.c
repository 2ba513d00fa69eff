/* trkserve — KServe v2 / Triton HTTP infer request decoding and response encoding
 * (JSON with jansson, the binary tensor extension, gzip/deflate with zlib). */
#include "http_codec.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "trk/log.h"

/* Deeper nesting than any tensor needs; stops a hostile body from recursing far. */
#define DATA_MAX_DEPTH 64

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- codings ------------------------------------------------------------------------ */

enum trk_http_coding trk_http_content_coding(const char *value)
{
    if (!value)
        return TRK_HTTP_CODING_IDENTITY;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    if (n == 0 || (n == 8 && strncasecmp(value, "identity", 8) == 0))
        return TRK_HTTP_CODING_IDENTITY;
    if ((n == 4 && strncasecmp(value, "gzip", 4) == 0) ||
        (n == 6 && strncasecmp(value, "x-gzip", 6) == 0))
        return TRK_HTTP_CODING_GZIP;
    if (n == 7 && strncasecmp(value, "deflate", 7) == 0)
        return TRK_HTTP_CODING_DEFLATE;
    return TRK_HTTP_CODING_UNKNOWN;
}

enum trk_http_coding trk_http_accept_coding(const char *value)
{
    bool gzip = false, deflate = false;
    const char *p = value;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char tok[64];
        if (n < sizeof tok) {
            memcpy(tok, p, n);
            tok[n] = '\0';
            char *q = strchr(tok, ';');
            bool ok = true;
            if (q) {
                *q++ = '\0';
                while (*q == ' ')
                    q++;
                if (strncasecmp(q, "q=", 2) == 0 && strtod(q + 2, NULL) <= 0.0)
                    ok = false;
            }
            enum trk_http_coding c = trk_http_content_coding(tok);
            if (ok && c == TRK_HTTP_CODING_GZIP)
                gzip = true;
            if (ok && c == TRK_HTTP_CODING_DEFLATE)
                deflate = true;
        }
        p = end ? end + 1 : NULL;
    }
    return gzip ? TRK_HTTP_CODING_GZIP : deflate ? TRK_HTTP_CODING_DEFLATE
                                                 : TRK_HTTP_CODING_IDENTITY;
}

const char *trk_http_coding_name(enum trk_http_coding c)
{
    switch (c) {
    case TRK_HTTP_CODING_GZIP: return "gzip";
    case TRK_HTTP_CODING_DEFLATE: return "deflate";
    default: return NULL;
    }
}

enum trk_status trk_http_inflate(enum trk_http_coding coding, const void *in, size_t len,
                                 size_t limit, char **out, size_t *outlen, char *err,
                                 size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    if (coding != TRK_HTTP_CODING_GZIP && coding != TRK_HTTP_CODING_DEFLATE) {
        seterr(err, errlen, "unsupported content coding");
        return TRK_ERR_INVALID_ARG;
    }
    const char *name = trk_http_coding_name(coding);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, coding == TRK_HTTP_CODING_GZIP ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) {
        seterr(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    enum trk_status st = TRK_OK;
    size_t cap = len < 4096 ? 8192 : (len * 4 < limit ? len * 4 : limit + 1);
    if (cap > limit + 1)
        cap = limit + 1;
    char *buf = malloc(cap + 1);
    if (!buf) {
        st = TRK_ERR_NO_MEMORY;
        seterr(err, errlen, "out of memory");
        goto fail;
    }
    const unsigned char *src = in;
    size_t left = len, n = 0;
    for (;;) {
        if (n == cap) {
            if (cap > limit) {
                st = TRK_ERR_OVERFLOW;
                seterr(err, errlen,
                       "the %s-compressed request body inflates to more than the %zu-byte "
                       "limit",
                       name, limit);
                goto fail;
            }
            size_t ncap = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                st = TRK_ERR_NO_MEMORY;
                seterr(err, errlen, "out of memory");
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        uInt chunk_in = left > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)left;
        size_t room = cap - n;
        uInt chunk_out = room > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)room;
        zs.next_in = (Bytef *)(uintptr_t)src;
        zs.avail_in = chunk_in;
        zs.next_out = (Bytef *)buf + n;
        zs.avail_out = chunk_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        size_t used = chunk_in - zs.avail_in;
        src += used;
        left -= used;
        n += chunk_out - zs.avail_out;
        if (rc == Z_STREAM_END) {
            if (left != 0) {
                st = TRK_ERR_PARSE;
                seterr(err, errlen, "%zu bytes of garbage after the %s-compressed body", left,
                       name);
                goto fail;
            }
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            st = TRK_ERR_PARSE;
            seterr(err, errlen, "the request body is not valid %s data (Content-Encoding: %s): %s",
                   coding == TRK_HTTP_CODING_GZIP ? "gzip" : "zlib", name,
                   zs.msg ? zs.msg : "corrupt stream");
            goto fail;
        }
        if (left == 0 && zs.avail_out > 0) {
            st = TRK_ERR_PARSE;
            seterr(err, errlen, "the %s-compressed request body is truncated", name);
            goto fail;
        }
    }
    if (n > limit) {
        st = TRK_ERR_OVERFLOW;
        seterr(err, errlen,
               "the %s-compressed request body inflates to more than the %zu-byte limit", name,
               limit);
        goto fail;
    }
    inflateEnd(&zs);
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return TRK_OK;
fail:
    inflateEnd(&zs);
    free(buf);
    return st;
}

enum trk_status trk_http_deflate(enum trk_http_coding coding, const void *in, size_t len,
                                 char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (coding != TRK_HTTP_CODING_GZIP && coding != TRK_HTTP_CODING_DEFLATE)
        return TRK_ERR_INVALID_ARG;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                     coding == TRK_HTTP_CODING_GZIP ? 16 + MAX_WBITS : MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return TRK_ERR_NO_MEMORY;
    size_t cap = deflateBound(&zs, len > ULONG_MAX ? ULONG_MAX : (uLong)len) + 32;
    char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return TRK_ERR_NO_MEMORY;
    }
    const unsigned char *src = in;
    size_t left = len, n = 0;
    int rc;
    do {
        uInt chunk_in = left > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)left;
        size_t room = cap - n;
        uInt chunk_out = room > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uInt)room;
        zs.next_in = (Bytef *)(uintptr_t)src;
        zs.avail_in = chunk_in;
        zs.next_out = (Bytef *)buf + n;
        zs.avail_out = chunk_out;
        rc = deflate(&zs, left == chunk_in ? Z_FINISH : Z_NO_FLUSH);
        size_t used = chunk_in - zs.avail_in;
        src += used;
        left -= used;
        n += chunk_out - zs.avail_out;
    } while (rc == Z_OK && n < cap);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return TRK_ERR_INTERNAL;
    }
    *out = buf;
    *outlen = n;
    return TRK_OK;
}

enum trk_status trk_http_parse_header_length(const char *value, size_t body_len, int64_t *out,
                                             char *err, size_t errlen)
{
    *out = -1;
    if (!value)
        return TRK_OK;
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t v = 0;
    bool digits = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        digits = true;
        if (v > (UINT64_MAX - 9) / 10) {
            digits = false;
            break;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (!digits || *p != '\0') {
        seterr(err, errlen,
               "Inference-Header-Content-Length '%.64s' is not a non-negative integer", value);
        return TRK_ERR_INVALID_ARG;
    }
    if (v > body_len) {
        seterr(err, errlen,
               "Inference-Header-Content-Length %" PRIu64
               " is larger than the request body (%zu bytes)",
               v, body_len);
        return TRK_ERR_INVALID_ARG;
    }
    *out = (int64_t)v;
    return TRK_OK;
}

/* ---- request decoding ------------------------------------------------------------------ */

static enum trk_status count_elems(const json_t *v, int depth, size_t *n)
{
    if (depth > DATA_MAX_DEPTH)
        return TRK_ERR_INVALID_ARG;
    if (!json_is_array(v)) {
        (*n)++;
        return TRK_OK;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (count_elems(e, depth + 1, n) != TRK_OK)
            return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

/* State of one JSON data fill: the flat element index and the destination. */
struct fill {
    const char *name;
    enum trk_dtype dt;
    unsigned char *dst;
    size_t k;       /* element index */
    size_t off;     /* byte offset (BYTES) */
    char *err;
    size_t errlen;
};

static enum trk_status fill_one(struct fill *f, const json_t *v)
{
    const char *dtn = trk_dtype_name(f->dt);
    size_t k = f->k++;
    if (f->dt == TRK_DTYPE_BOOL) {
        if (!json_is_boolean(v))
            goto wrong;
        f->dst[k] = json_is_true(v) ? 1 : 0;
        return TRK_OK;
    }
    if (f->dt == TRK_DTYPE_BYTES) {
        if (!json_is_string(v))
            goto wrong;
        size_t n = json_string_length(v);
        uint32_t n32 = (uint32_t)n;
        memcpy(f->dst + f->off, &n32, 4);
        memcpy(f->dst + f->off + 4, json_string_value(v), n);
        f->off += 4 + n;
        return TRK_OK;
    }
    if (f->dt == TRK_DTYPE_FP32 || f->dt == TRK_DTYPE_FP64) {
        if (!json_is_number(v))
            goto wrong;
        double d = json_number_value(v);
        if (f->dt == TRK_DTYPE_FP32) {
            float x = (float)d;
            memcpy(f->dst + k * 4, &x, 4);
        } else {
            memcpy(f->dst + k * 8, &d, 8);
        }
        return TRK_OK;
    }
    /* integers */
    if (!json_is_integer(v))
        goto wrong;
    json_int_t x = json_integer_value(v);
    long long lo = 0, hi = 0;
    switch (f->dt) {
    case TRK_DTYPE_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
    case TRK_DTYPE_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
    case TRK_DTYPE_INT32: lo = INT32_MIN, hi = INT32_MAX; break;
    case TRK_DTYPE_INT64: lo = INT64_MIN, hi = INT64_MAX; break;
    case TRK_DTYPE_UINT8: hi = UINT8_MAX; break;
    case TRK_DTYPE_UINT16: hi = UINT16_MAX; break;
    case TRK_DTYPE_UINT32: hi = UINT32_MAX; break;
    case TRK_DTYPE_UINT64: hi = INT64_MAX; break;
    default: goto wrong;
    }
    if (x < lo || x > hi) {
        seterr(f->err, f->errlen, "input '%s': element %zu (%lld) is out of range for %s",
               f->name, k, (long long)x, dtn);
        return TRK_ERR_INVALID_ARG;
    }
    switch (f->dt) {
    case TRK_DTYPE_INT8: { int8_t y = (int8_t)x; memcpy(f->dst + k, &y, 1); break; }
    case TRK_DTYPE_UINT8: { uint8_t y = (uint8_t)x; memcpy(f->dst + k, &y, 1); break; }
    case TRK_DTYPE_INT16: { int16_t y = (int16_t)x; memcpy(f->dst + k * 2, &y, 2); break; }
    case TRK_DTYPE_UINT16: { uint16_t y = (uint16_t)x; memcpy(f->dst + k * 2, &y, 2); break; }
    case TRK_DTYPE_INT32: { int32_t y = (int32_t)x; memcpy(f->dst + k * 4, &y, 4); break; }
    case TRK_DTYPE_UINT32: { uint32_t y = (uint32_t)x; memcpy(f->dst + k * 4, &y, 4); break; }
    case TRK_DTYPE_INT64: { int64_t y = (int64_t)x; memcpy(f->dst + k * 8, &y, 8); break; }
    default: { uint64_t y = (uint64_t)x; memcpy(f->dst + k * 8, &y, 8); break; }
    }
    return TRK_OK;
wrong:
    seterr(f->err, f->errlen, "input '%s': element %zu of 'data' is not %s (datatype %s)",
           f->name, k,
           f->dt == TRK_DTYPE_BOOL    ? "true or false"
           : f->dt == TRK_DTYPE_BYTES ? "a string"
           : (f->dt == TRK_DTYPE_FP32 || f->dt == TRK_DTYPE_FP64) ? "a number"
                                                                  : "an integer",
           dtn);
    return TRK_ERR_INVALID_ARG;
}

static enum trk_status fill_all(struct fill *f, const json_t *v)
{
    if (!json_is_array(v))
        return fill_one(f, v);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        enum trk_status st = fill_all(f, e);
        if (st != TRK_OK)
            return st;
    }
    return TRK_OK;
}

/* Bytes the BYTES strings of v need (4-byte length prefix each); fails on non-strings. */
static enum trk_status bytes_size(const json_t *v, size_t *total)
{
    if (!json_is_array(v)) {
        if (!json_is_string(v) || json_string_length(v) > UINT32_MAX)
            return TRK_ERR_INVALID_ARG;
        *total += 4 + json_string_length(v);
        return TRK_OK;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (bytes_size(e, total) != TRK_OK)
            return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

static enum trk_status decode_json_data(struct trk_tensor *t, const json_t *data, char *err,
                                        size_t errlen)
{
    size_t numel = 0, count = 0;
    if (trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK) {
        seterr(err, errlen, "input '%s': the shape has too many elements", t->name);
        return TRK_ERR_INVALID_ARG;
    }
    if (count_elems(data, 0, &count) != TRK_OK) {
        seterr(err, errlen, "input '%s': 'data' is nested deeper than %d levels", t->name,
               DATA_MAX_DEPTH);
        return TRK_ERR_INVALID_ARG;
    }
    if (!json_is_array(data)) {
        seterr(err, errlen, "input '%s': 'data' must be an array", t->name);
        return TRK_ERR_INVALID_ARG;
    }
    if (count != numel) {
        char sh[128];
        trk_shape_format(t->ndim, t->shape, sh, sizeof sh);
        seterr(err, errlen, "input '%s': 'data' has %zu elements but shape %s needs %zu",
               t->name, count, sh, numel);
        return TRK_ERR_INVALID_ARG;
    }
    size_t nbytes;
    if (t->dtype == TRK_DTYPE_BYTES) {
        nbytes = 0;
        if (bytes_size(data, &nbytes) != TRK_OK) {
            seterr(err, errlen, "input '%s': every element of 'data' must be a string "
                                "(datatype BYTES)", t->name);
            return TRK_ERR_INVALID_ARG;
        }
    } else {
        nbytes = numel * trk_dtype_size(t->dtype); /* numel <= JSON elements: no overflow */
    }
    unsigned char *buf = malloc(nbytes ? nbytes : 1);
    if (!buf) {
        seterr(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    struct fill f = {.name = t->name, .dt = t->dtype, .dst = buf, .err = err, .errlen = errlen};
    enum trk_status st = fill_all(&f, data);
    if (st != TRK_OK) {
        free(buf);
        return st;
    }
    t->data = buf;
    t->nbytes = nbytes;
    t->owns_data = true;
    return TRK_OK;
}

/* Reads a non-negative integer parameter (also accepted as a bool-free number). */
static bool param_u64(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static enum trk_status decode_request_params(const json_t *params, struct trk_http_infer *inf,
                                             char *err, size_t errlen)
{
    if (!params)
        return TRK_OK;
    if (!json_is_object(params)) {
        seterr(err, errlen, "'parameters' must be an object");
        return TRK_ERR_INVALID_ARG;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        if (strcmp(key, "binary_data_output") == 0) {
            if (!json_is_boolean(v)) {
                seterr(err, errlen, "parameter 'binary_data_output' must be true or false");
                return TRK_ERR_INVALID_ARG;
            }
            inf->binary_default = json_is_true(v);
        } else if (strcmp(key, "timeout") == 0) {
            if (!param_u64(v, &inf->req->timeout_us)) {
                seterr(err, errlen, "parameter 'timeout' must be a non-negative integer "
                                    "(microseconds)");
                return TRK_ERR_INVALID_ARG;
            }
        } else if (strcmp(key, "priority") == 0) {
            if (!param_u64(v, &inf->req->priority)) {
                seterr(err, errlen, "parameter 'priority' must be a non-negative integer");
                return TRK_ERR_INVALID_ARG;
            }
        } else if (strcmp(key, "sequence_id") == 0) {
            bool none = (json_is_integer(v) && json_integer_value(v) == 0) ||
                        (json_is_string(v) && json_string_length(v) == 0);
            if (!none) {
                seterr(err, errlen, "parameter 'sequence_id': trkserve has no sequence models; "
                                    "leave sequence_id out or 0");
                return TRK_ERR_INVALID_ARG;
            }
        } else if (strcmp(key, "sequence_start") == 0 || strcmp(key, "sequence_end") == 0) {
            if (!json_is_false(v)) {
                seterr(err, errlen, "parameter '%s': trkserve has no sequence models", key);
                return TRK_ERR_INVALID_ARG;
            }
        }
        /* Other parameters ("headers", "triton_*", custom ones) are accepted and unused. */
    }
    return TRK_OK;
}

static enum trk_status copy_name(char *dst, size_t cap, const json_t *v, const char *what,
                                 size_t index, char *err, size_t errlen)
{
    if (!json_is_string(v) || json_string_length(v) == 0) {
        seterr(err, errlen, "%s %zu: 'name' must be a non-empty string", what, index);
        return TRK_ERR_INVALID_ARG;
    }
    size_t n = json_string_length(v);
    if (n >= cap || memchr(json_string_value(v), '\0', n)) {
        seterr(err, errlen, "%s %zu: the name is longer than %zu bytes or contains NUL", what,
               index, cap - 1);
        return TRK_ERR_INVALID_ARG;
    }
    memcpy(dst, json_string_value(v), n + 1);
    return TRK_OK;
}

static enum trk_status decode_input(const json_t *in, size_t i, struct trk_tensor *t,
                                    const char *body, size_t len, int64_t header_len,
                                    size_t *bin_off, char *err, size_t errlen)
{
    if (!json_is_object(in)) {
        seterr(err, errlen, "input %zu must be an object with name, shape, datatype and data",
               i);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = copy_name(t->name, sizeof t->name, json_object_get(in, "name"),
                                   "input", i, err, errlen);
    if (st != TRK_OK)
        return st;
    const json_t *dtv = json_object_get(in, "datatype");
    if (!json_is_string(dtv)) {
        seterr(err, errlen, "input '%s': 'datatype' must be a string such as \"FP32\"", t->name);
        return TRK_ERR_INVALID_ARG;
    }
    t->dtype = trk_dtype_from_name(json_string_value(dtv));
    if (t->dtype == TRK_DTYPE_INVALID || strncmp(json_string_value(dtv), "TYPE_", 5) == 0) {
        seterr(err, errlen,
               "input '%s': unsupported datatype '%.32s'; use BOOL, UINT8, UINT16, UINT32, "
               "UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64 or BYTES",
               t->name, json_string_value(dtv));
        return TRK_ERR_INVALID_ARG;
    }
    const json_t *shv = json_object_get(in, "shape");
    if (!json_is_array(shv) || json_array_size(shv) > TRK_TENSOR_MAX_DIMS) {
        seterr(err, errlen, "input '%s': 'shape' must be an array of at most %d integers",
               t->name, TRK_TENSOR_MAX_DIMS);
        return TRK_ERR_INVALID_ARG;
    }
    t->ndim = (uint32_t)json_array_size(shv);
    for (uint32_t d = 0; d < t->ndim; d++) {
        const json_t *dv = json_array_get(shv, d);
        if (!json_is_integer(dv) || json_integer_value(dv) < 0) {
            seterr(err, errlen, "input '%s': shape[%u] must be a non-negative integer",
                   t->name, d);
            return TRK_ERR_INVALID_ARG;
        }
        t->shape[d] = json_integer_value(dv);
    }
    size_t numel;
    if (trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK) {
        seterr(err, errlen, "input '%s': the shape has too many elements", t->name);
        return TRK_ERR_INVALID_ARG;
    }
    const json_t *params = json_object_get(in, "parameters");
    const json_t *bds = NULL;
    if (params) {
        if (!json_is_object(params)) {
            seterr(err, errlen, "input '%s': 'parameters' must be an object", t->name);
            return TRK_ERR_INVALID_ARG;
        }
        bds = json_object_get(params, "binary_data_size");
        if (json_object_get(params, "shared_memory_region")) {
            seterr(err, errlen, "input '%s': shared memory is not supported by trkserve; send "
                                "the data in the request", t->name);
            return TRK_ERR_INVALID_ARG;
        }
    }
    const json_t *data = json_object_get(in, "data");
    if (bds) {
        uint64_t n;
        if (!param_u64(bds, &n)) {
            seterr(err, errlen, "input '%s': binary_data_size must be a non-negative integer",
                   t->name);
            return TRK_ERR_INVALID_ARG;
        }
        if (data) {
            seterr(err, errlen, "input '%s' has both 'data' and binary_data_size; send one",
                   t->name);
            return TRK_ERR_INVALID_ARG;
        }
        if (header_len < 0) {
            seterr(err, errlen,
                   "input '%s' has binary_data_size but the request has no "
                   "Inference-Header-Content-Length header giving the JSON length",
                   t->name);
            return TRK_ERR_INVALID_ARG;
        }
        if (n > len - *bin_off) {
            seterr(err, errlen,
                   "input '%s': binary_data_size %" PRIu64 " but only %zu bytes of binary "
                   "data are left in the request body (truncated?)",
                   t->name, n, len - *bin_off);
            return TRK_ERR_INVALID_ARG;
        }
        const char *p = body + *bin_off;
        *bin_off += (size_t)n;
        t->nbytes = (size_t)n;
        if (((uintptr_t)p & 15u) == 0 || n == 0) {
            t->data = (void *)(uintptr_t)p;
            t->owns_data = false;
        } else {
            /* Kernels read typed elements: never hand them a misaligned pointer. */
            t->data = malloc((size_t)n);
            if (!t->data) {
                seterr(err, errlen, "out of memory");
                return TRK_ERR_NO_MEMORY;
            }
            memcpy(t->data, p, (size_t)n);
            t->owns_data = true;
        }
        return TRK_OK;
    }
    if (!data) {
        seterr(err, errlen, "input '%s' has neither 'data' nor a binary_data_size parameter",
               t->name);
        return TRK_ERR_INVALID_ARG;
    }
    if (t->dtype == TRK_DTYPE_FP16) {
        seterr(err, errlen, "input '%s': FP16 data cannot be sent as JSON; send it as binary "
                            "data (binary_data_size)", t->name);
        return TRK_ERR_INVALID_ARG;
    }
    return decode_json_data(t, data, err, errlen);
}

static enum trk_status decode_outputs(const json_t *outs, struct trk_http_infer *inf, char *err,
                                      size_t errlen)
{
    struct trk_infer_request *req = inf->req;
    for (size_t i = 0; i < req->nrequested; i++) {
        const json_t *o = json_array_get(outs, i);
        if (!json_is_object(o)) {
            seterr(err, errlen, "output %zu must be an object with a name", i);
            return TRK_ERR_INVALID_ARG;
        }
        enum trk_status st = copy_name(req->requested[i], TRK_TENSOR_NAME_MAX,
                                       json_object_get(o, "name"), "output", i, err, errlen);
        if (st != TRK_OK)
            return st;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(req->requested[j], req->requested[i]) == 0) {
                seterr(err, errlen, "output '%s' is requested twice", req->requested[i]);
                return TRK_ERR_INVALID_ARG;
            }
        }
        inf->binary[i] = inf->binary_default;
        const json_t *params = json_object_get(o, "parameters");
        if (!params)
            continue;
        if (!json_is_object(params)) {
            seterr(err, errlen, "output '%s': 'parameters' must be an object",
                   req->requested[i]);
            return TRK_ERR_INVALID_ARG;
        }
        const json_t *b = json_object_get(params, "binary_data");
        if (b) {
            if (!json_is_boolean(b)) {
                seterr(err, errlen, "output '%s': binary_data must be true or false",
                       req->requested[i]);
                return TRK_ERR_INVALID_ARG;
            }
            inf->binary[i] = json_is_true(b);
        }
        if (json_object_get(params, "classification")) {
            seterr(err, errlen, "output '%s': classification is not supported by trkserve",
                   req->requested[i]);
            return TRK_ERR_INVALID_ARG;
        }
        if (json_object_get(params, "shared_memory_region")) {
            seterr(err, errlen, "output '%s': shared memory is not supported by trkserve",
                   req->requested[i]);
            return TRK_ERR_INVALID_ARG;
        }
    }
    return TRK_OK;
}

/* A raw binary request: the body is the tensor of the model's only input, batch 1. */
static enum trk_status decode_raw(const char *body, size_t len,
                                  const struct trk_model_config *cfg,
                                  struct trk_http_infer *out, char *err, size_t errlen)
{
    if (!cfg || cfg->ninputs != 1) {
        seterr(err, errlen,
               "a raw binary request (Inference-Header-Content-Length: 0) needs a model with "
               "exactly one input; this one has %u: send a JSON header",
               cfg ? cfg->ninputs : 0);
        return TRK_ERR_INVALID_ARG;
    }
    const struct trk_model_io *io = &cfg->inputs[0];
    if (io->data_type == TRK_DTYPE_BYTES && len > 0 && len < 4) {
        seterr(err, errlen, "input '%s': raw BYTES data is truncated", io->name);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_tensor t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", io->name);
    t.dtype = io->data_type;
    if (cfg->max_batch_size > 0)
        t.shape[t.ndim++] = 1;
    int var = -1;
    size_t fixed = 1;
    for (uint32_t d = 0; d < io->ndims && t.ndim < TRK_TENSOR_MAX_DIMS; d++) {
        if (io->dims[d] < 0) {
            if (var >= 0) {
                seterr(err, errlen,
                       "input '%s' has more than one variable dimension: a raw binary "
                       "request cannot give its shape; send a JSON header",
                       io->name);
                return TRK_ERR_INVALID_ARG;
            }
            var = (int)t.ndim;
        } else {
            fixed *= (size_t)io->dims[d];
        }
        t.shape[t.ndim++] = io->dims[d];
    }
    size_t numel;
    if (io->data_type == TRK_DTYPE_BYTES) {
        numel = 0;
        for (size_t off = 0; off < len;) {
            uint32_t n;
            if (len - off < 4) {
                seterr(err, errlen, "input '%s': raw BYTES data is truncated", io->name);
                return TRK_ERR_INVALID_ARG;
            }
            memcpy(&n, body + off, 4);
            if (n > len - off - 4) {
                seterr(err, errlen, "input '%s': raw BYTES element %zu is truncated", io->name,
                       numel);
                return TRK_ERR_INVALID_ARG;
            }
            off += 4 + n;
            numel++;
        }
    } else {
        size_t es = trk_dtype_size(io->data_type);
        if (len % es != 0) {
            seterr(err, errlen, "input '%s': %zu bytes is not a whole number of %s elements",
                   io->name, len, trk_dtype_name(io->data_type));
            return TRK_ERR_INVALID_ARG;
        }
        numel = len / es;
    }
    if (var >= 0) {
        if (fixed == 0 || numel % fixed != 0) {
            seterr(err, errlen, "input '%s': %zu elements do not fit its dims", io->name, numel);
            return TRK_ERR_INVALID_ARG;
        }
        t.shape[var] = (int64_t)(numel / fixed);
    }
    out->req = trk_infer_request_alloc(1, 0);
    if (!out->req) {
        seterr(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    out->binary_default = true;
    struct trk_tensor *dst = &out->req->inputs[0];
    *dst = t;
    dst->nbytes = len;
    if (((uintptr_t)body & 15u) == 0 || len == 0) {
        dst->data = (void *)(uintptr_t)body;
    } else {
        dst->data = malloc(len);
        if (!dst->data) {
            trk_http_infer_fini(out);
            seterr(err, errlen, "out of memory");
            return TRK_ERR_NO_MEMORY;
        }
        memcpy(dst->data, body, len);
        dst->owns_data = true;
    }
    return TRK_OK;
}

enum trk_status trk_http_decode_infer(const char *body, size_t len, int64_t header_len,
                                      const struct trk_model_config *cfg,
                                      struct trk_http_infer *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (header_len > (int64_t)len) {
        seterr(err, errlen, "Inference-Header-Content-Length %" PRId64
                            " is larger than the request body (%zu bytes)", header_len, len);
        return TRK_ERR_INVALID_ARG;
    }
    if (header_len == 0)
        return decode_raw(body, len, cfg, out, err, errlen);

    size_t hlen = header_len < 0 ? len : (size_t)header_len;
    enum trk_status st = TRK_OK;
    json_error_t jerr;
    json_t *root = json_loadb(body, hlen, 0, &jerr);
    if (!root) {
        seterr(err, errlen, "malformed JSON in the request %s: %s (line %d, column %d)",
               header_len < 0 ? "body" : "header", jerr.text, jerr.line, jerr.column);
        return TRK_ERR_PARSE;
    }
    if (!json_is_object(root)) {
        seterr(err, errlen, "the request must be a JSON object with an 'inputs' array");
        st = TRK_ERR_INVALID_ARG;
        goto fail;
    }
    const json_t *inputs = json_object_get(root, "inputs");
    const json_t *outputs = json_object_get(root, "outputs");
    if (!json_is_array(inputs)) {
        seterr(err, errlen, "the request has no 'inputs' array");
        st = TRK_ERR_INVALID_ARG;
        goto fail;
    }
    if (outputs && !json_is_array(outputs)) {
        seterr(err, errlen, "'outputs' must be an array");
        st = TRK_ERR_INVALID_ARG;
        goto fail;
    }
    if (json_array_size(inputs) > TRK_MODEL_MAX_IO ||
        json_array_size(outputs) > TRK_MODEL_MAX_IO) {
        seterr(err, errlen, "more than %d inputs or outputs", TRK_MODEL_MAX_IO);
        st = TRK_ERR_INVALID_ARG;
        goto fail;
    }
    uint32_t nin = (uint32_t)json_array_size(inputs);
    uint32_t nout = (uint32_t)json_array_size(outputs);
    out->req = trk_infer_request_alloc(nin, nout);
    out->binary = calloc(nout ? nout : 1, sizeof *out->binary);
    if (!out->req || !out->binary) {
        seterr(err, errlen, "out of memory");
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    const json_t *id = json_object_get(root, "id");
    if (id) {
        if (!json_is_string(id)) {
            seterr(err, errlen, "'id' must be a string");
            st = TRK_ERR_INVALID_ARG;
            goto fail;
        }
        size_t n = json_string_length(id);
        if (n >= TRK_REQUEST_ID_MAX || memchr(json_string_value(id), '\0', n)) {
            seterr(err, errlen, "'id' is longer than %d bytes or contains NUL",
                   TRK_REQUEST_ID_MAX - 1);
            st = TRK_ERR_INVALID_ARG;
            goto fail;
        }
        memcpy(out->req->id, json_string_value(id), n + 1);
    }
    st = decode_request_params(json_object_get(root, "parameters"), out, err, errlen);
    if (st != TRK_OK)
        goto fail;
    size_t bin_off = hlen;
    for (uint32_t i = 0; i < nin; i++) {
        st = decode_input(json_array_get(inputs, i), i, &out->req->inputs[i], body, len,
                          header_len, &bin_off, err, errlen);
        if (st != TRK_OK)
            goto fail;
    }
    if (header_len > 0 && bin_off != len) {
        seterr(err, errlen,
               "the inputs' binary_data_size add up to %zu bytes but %zu bytes follow the "
               "%" PRId64 "-byte JSON header",
               bin_off - hlen, len - hlen, header_len);
        st = TRK_ERR_INVALID_ARG;
        goto fail;
    }
    st = decode_outputs(outputs, out, err, errlen);
    if (st != TRK_OK)
        goto fail;
    json_decref(root);
    return TRK_OK;
fail:
    json_decref(root);
    trk_http_infer_fini(out);
    return st;
}

void trk_http_infer_fini(struct trk_http_infer *inf)
{
    if (!inf)
        return;
    trk_infer_request_free(inf->req);
    free(inf->binary);
    memset(inf, 0, sizeof *inf);
}

/* ---- response encoding ----------------------------------------------------------------- */

static json_t *shape_json(const struct trk_tensor *t)
{
    json_t *a = json_array();
    for (uint32_t d = 0; a && d < t->ndim; d++)
        json_array_append_new(a, json_integer(t->shape[d]));
    return a;
}

static enum trk_status data_json(const struct trk_tensor *t, json_t **out, char *err,
                                 size_t errlen)
{
    *out = NULL;
    size_t numel;
    if (trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK)
        return TRK_ERR_INTERNAL;
    if (t->dtype == TRK_DTYPE_FP16) {
        seterr(err, errlen, "output '%s' is FP16, which cannot be returned as JSON; request it "
                            "with binary_data", t->name);
        return TRK_ERR_INVALID_ARG;
    }
    size_t es = trk_dtype_size(t->dtype);
    if (t->dtype != TRK_DTYPE_BYTES && (es == 0 || t->nbytes != numel * es)) {
        seterr(err, errlen, "output '%s' has %zu bytes, not what its shape needs", t->name,
               t->nbytes);
        return TRK_ERR_INTERNAL;
    }
    json_t *a = json_array();
    if (!a)
        return TRK_ERR_NO_MEMORY;
    const unsigned char *p = t->data;
    size_t off = 0;
    for (size_t k = 0; k < numel; k++) {
        json_t *v = NULL;
        switch (t->dtype) {
        case TRK_DTYPE_BOOL: v = json_boolean(p[k] != 0); break;
        case TRK_DTYPE_UINT8: v = json_integer(p[k]); break;
        case TRK_DTYPE_INT8: { int8_t x; memcpy(&x, p + k, 1); v = json_integer(x); break; }
        case TRK_DTYPE_UINT16: { uint16_t x; memcpy(&x, p + 2 * k, 2); v = json_integer(x); break; }
        case TRK_DTYPE_INT16: { int16_t x; memcpy(&x, p + 2 * k, 2); v = json_integer(x); break; }
        case TRK_DTYPE_UINT32: { uint32_t x; memcpy(&x, p + 4 * k, 4); v = json_integer(x); break; }
        case TRK_DTYPE_INT32: { int32_t x; memcpy(&x, p + 4 * k, 4); v = json_integer(x); break; }
        case TRK_DTYPE_INT64: { int64_t x; memcpy(&x, p + 8 * k, 8); v = json_integer(x); break; }
        case TRK_DTYPE_UINT64: {
            uint64_t x;
            memcpy(&x, p + 8 * k, 8);
            if (x > (uint64_t)INT64_MAX) {
                seterr(err, errlen, "output '%s': a UINT64 value above 2^63-1 cannot be "
                                    "returned as JSON; request it with binary_data", t->name);
                json_decref(a);
                return TRK_ERR_INVALID_ARG;
            }
            v = json_integer((json_int_t)x);
            break;
        }
        case TRK_DTYPE_FP32: { float x; memcpy(&x, p + 4 * k, 4); v = json_real(x); break; }
        case TRK_DTYPE_FP64: { double x; memcpy(&x, p + 8 * k, 8); v = json_real(x); break; }
        case TRK_DTYPE_BYTES: {
            uint32_t n;
            if (t->nbytes - off < 4 || (memcpy(&n, p + off, 4), n > t->nbytes - off - 4)) {
                seterr(err, errlen, "output '%s': malformed BYTES data", t->name);
                json_decref(a);
                return TRK_ERR_INTERNAL;
            }
            v = json_stringn((const char *)p + off + 4, n);
            off += 4 + n;
            if (!v) {
                seterr(err, errlen, "output '%s' holds BYTES that are not UTF-8 text; request "
                                    "it with binary_data", t->name);
                json_decref(a);
                return TRK_ERR_INVALID_ARG;
            }
            break;
        }
        default: break;
        }
        if (!v && (t->dtype == TRK_DTYPE_FP32 || t->dtype == TRK_DTYPE_FP64)) {
            seterr(err, errlen, "output '%s' holds NaN or infinity, which JSON cannot carry; "
                                "request it with binary_data", t->name);
            json_decref(a);
            return TRK_ERR_INVALID_ARG;
        }
        if (!v || json_array_append_new(a, v) != 0) {
            json_decref(a);
            return TRK_ERR_NO_MEMORY;
        }
    }
    *out = a;
    return TRK_OK;
}

enum trk_status trk_http_encode_infer(const struct trk_http_infer *inf, char **body,
                                      size_t *len, size_t *header_len, char *err,
                                      size_t errlen)
{
    *body = NULL;
    *len = 0;
    *header_len = 0;
    const struct trk_infer_request *req = inf->req;
    enum trk_status st = TRK_ERR_NO_MEMORY;
    char *head = NULL;
    json_t *root = json_object();
    json_t *outs = json_array();
    if (!root || !outs)
        goto fail;
    char ver[32];
    snprintf(ver, sizeof ver, "%" PRId64, req->served_version);
    if (req->id[0] && json_object_set_new(root, "id", json_stringn(req->id, strlen(req->id))))
        goto fail;
    if (json_object_set_new(root, "model_name", json_string(req->model_name)) ||
        json_object_set_new(root, "model_version", json_string(ver)))
        goto fail;
    size_t nbin = 0;
    bool any_binary = false;
    for (uint32_t i = 0; i < req->noutputs; i++) {
        const struct trk_tensor *t = req->outputs[i];
        bool bin = req->nrequested ? inf->binary[i] : inf->binary_default;
        json_t *o = json_object();
        if (!o || json_array_append_new(outs, o))
            goto fail;
        if (json_object_set_new(o, "name", json_string(t->name)) ||
            json_object_set_new(o, "datatype", json_string(trk_dtype_name(t->dtype))) ||
            json_object_set_new(o, "shape", shape_json(t)))
            goto fail;
        if (bin) {
            any_binary = true;
            nbin += t->nbytes;
            json_t *p = json_pack("{s:I}", "binary_data_size", (json_int_t)t->nbytes);
            if (!p || json_object_set_new(o, "parameters", p))
                goto fail;
        } else {
            json_t *d;
            st = data_json(t, &d, err, errlen);
            if (st != TRK_OK)
                goto fail;
            st = TRK_ERR_NO_MEMORY;
            if (json_object_set_new(o, "data", d))
                goto fail;
        }
    }
    json_t *tmp = outs;
    outs = NULL; /* json_object_set_new consumes it, also on failure */
    if (json_object_set_new(root, "outputs", tmp))
        goto fail;
    head = json_dumps(root, JSON_COMPACT);
    if (!head)
        goto fail;
    size_t hl = strlen(head);
    if (!any_binary) {
        *body = head;
        *len = hl;
        json_decref(root);
        return TRK_OK;
    }
    char *buf = malloc(hl + nbin + 1);
    if (!buf)
        goto fail;
    memcpy(buf, head, hl);
    size_t off = hl;
    for (uint32_t i = 0; i < req->noutputs; i++) {
        const struct trk_tensor *t = req->outputs[i];
        bool bin = req->nrequested ? inf->binary[i] : inf->binary_default;
        if (bin && t->nbytes) {
            memcpy(buf + off, t->data, t->nbytes);
            off += t->nbytes;
        }
    }
    free(head);
    json_decref(root);
    *body = buf;
    *len = off;
    *header_len = hl;
    return TRK_OK;
fail:
    if (st == TRK_ERR_NO_MEMORY)
        seterr(err, errlen, "out of memory");
    free(head);
    json_decref(outs);
    json_decref(root);
    return st;
}

char *trk_http_error_json(const char *msg)
{
    size_t n = strlen(msg);
    char *out = malloc(n * 6 + 16);
    if (!out)
        return NULL;
    char *p = out;
    p += sprintf(p, "{\"error\":\"");
    for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
        if (*s == '"' || *s == '\\') {
            *p++ = '\\';
            *p++ = (char)*s;
        } else if (*s == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (*s < 0x20 || *s >= 0x7f) {
            *p++ = '?';
        } else {
            *p++ = (char)*s;
        }
    }
    strcpy(p, "\"}");
    return out;
}
