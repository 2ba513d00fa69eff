/* KServe v2 HTTP bodies: the request encoder and the response decoder, with Triton's
 * binary tensor extension (JSON header + raw chunks, Inference-Header-Content-Length,
 * binary_data_size) and gzip/deflate. No I/O here: the transport moves the bytes. */
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "client_internal.h"
#include "trk/log.h"

void trk_client_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

struct trk_tensor *trk_client_tensor_copy(const char *name, enum trk_dtype dt, uint32_t ndim,
                                          const int64_t *shape, const void *data,
                                          size_t nbytes)
{
    struct trk_tensor *t;
    if (trk_tensor_alloc_bytes(name, dt, ndim, shape, nbytes, &t) != TRK_OK)
        return NULL;
    if (nbytes)
        memcpy(t->data, data, nbytes);
    return t;
}

enum trk_status trk_client_http_status_from_code(int code)
{
    switch (code) {
    case 200: return TRK_OK;
    case 404: return TRK_ERR_NOT_FOUND;
    case 413: return TRK_ERR_OVERFLOW;
    case 501: return TRK_ERR_UNSUPPORTED;
    case 503: return TRK_ERR_UNAVAILABLE;
    case 408:
    case 504: return TRK_ERR_TIMEOUT;
    default: return code >= 500 ? TRK_ERR_INTERNAL : TRK_ERR_INVALID_ARG;
    }
}

/* ---- encoding ----------------------------------------------------------------------- */

void trk_client_http_body_fini(struct trk_client_http_body *b)
{
    if (!b)
        return;
    free(b->json);
    free(b->chunk);
    free(b->chunk_len);
    memset(b, 0, sizeof *b);
}

enum trk_status trk_client_http_body_flatten(const struct trk_client_http_body *b, char **out)
{
    char *p = malloc(b->total ? b->total : 1);
    if (!p)
        return TRK_ERR_NO_MEMORY;
    memcpy(p, b->json, b->json_len);
    size_t off = b->json_len;
    for (uint32_t i = 0; i < b->nchunks; i++) {
        if (b->chunk_len[i])
            memcpy(p + off, b->chunk[i], b->chunk_len[i]);
        off += b->chunk_len[i];
    }
    *out = p;
    return TRK_OK;
}

/* One element of a fixed-size dtype as a JSON value (little-endian host assumed, as
 * everywhere in trkserve). */
static json_t *json_element(enum trk_dtype dt, const unsigned char *p)
{
    switch (dt) {
    case TRK_DTYPE_BOOL: return json_boolean(*p != 0);
    case TRK_DTYPE_UINT8: return json_integer(*p);
    case TRK_DTYPE_INT8: return json_integer(*(const int8_t *)p);
    case TRK_DTYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); return json_integer(v); }
    case TRK_DTYPE_INT16: { int16_t v; memcpy(&v, p, 2); return json_integer(v); }
    case TRK_DTYPE_UINT32: { uint32_t v; memcpy(&v, p, 4); return json_integer(v); }
    case TRK_DTYPE_INT32: { int32_t v; memcpy(&v, p, 4); return json_integer(v); }
    case TRK_DTYPE_UINT64: { uint64_t v; memcpy(&v, p, 8);
        return v > (uint64_t)INT64_MAX ? json_real((double)v) : json_integer((json_int_t)v); }
    case TRK_DTYPE_INT64: { int64_t v; memcpy(&v, p, 8); return json_integer(v); }
    case TRK_DTYPE_FP32: { float v; memcpy(&v, p, 4); return json_real(v); }
    case TRK_DTYPE_FP64: { double v; memcpy(&v, p, 8); return json_real(v); }
    default: return NULL;
    }
}

/* The "data" array of a tensor in JSON mode (flat, row-major). */
static json_t *json_data(const struct trk_tensor *t, char *err, size_t errlen)
{
    size_t numel;
    if (trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK) {
        trk_client_errf(err, errlen, "input '%s': invalid shape", t->name);
        return NULL;
    }
    json_t *a = json_array();
    if (!a)
        return NULL;
    if (t->dtype == TRK_DTYPE_BYTES) {
        const unsigned char *p = t->data, *end = p + t->nbytes;
        for (size_t i = 0; i < numel; i++) {
            uint32_t len;
            if ((size_t)(end - p) < 4 || (memcpy(&len, p, 4), (size_t)(end - p - 4) < len)) {
                trk_client_errf(err, errlen,
                                "input '%s': BYTES data is not %zu length-prefixed strings",
                                t->name, numel);
                goto fail;
            }
            json_t *s = json_stringn((const char *)p + 4, len);
            if (!s) {
                trk_client_errf(err, errlen,
                                "input '%s': element %zu is not UTF-8 text; use the binary "
                                "format for raw bytes",
                                t->name, i);
                goto fail;
            }
            json_array_append_new(a, s);
            p += 4 + len;
        }
        return a;
    }
    size_t es = trk_dtype_size(t->dtype);
    if (t->dtype == TRK_DTYPE_FP16 || !es) {
        trk_client_errf(err, errlen,
                        "input '%s': %s cannot be sent as JSON; use the binary format",
                        t->name, trk_dtype_name(t->dtype));
        goto fail;
    }
    if (numel * es != t->nbytes) {
        trk_client_errf(err, errlen, "input '%s': %zu bytes do not match its shape (%zu)",
                        t->name, t->nbytes, numel * es);
        goto fail;
    }
    for (size_t i = 0; i < numel; i++) {
        json_t *v = json_element(t->dtype, (const unsigned char *)t->data + i * es);
        if (!v || json_array_append_new(a, v))
            goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

enum trk_status trk_client_http_encode_request(const struct trk_client_request *req, bool binary,
                                               struct trk_client_http_body *body, char *err,
                                               size_t errlen)
{
    enum trk_status st = TRK_ERR_NO_MEMORY;
    json_t *root = json_object(), *inputs = json_array();
    memset(body, 0, sizeof *body);
    if (!root || !inputs)
        goto fail;
    if (!req->model || !*req->model || (req->ninputs && !req->inputs) ||
        (req->noutputs && !req->outputs)) {
        trk_client_errf(err, errlen, "request without a model name or with NULL inputs");
        st = TRK_ERR_INVALID_ARG;
        goto fail;
    }
    if (req->id && *req->id)
        json_object_set_new(root, "id", json_string(req->id));
    body->chunk = calloc(req->ninputs ? req->ninputs : 1, sizeof *body->chunk);
    body->chunk_len = calloc(req->ninputs ? req->ninputs : 1, sizeof *body->chunk_len);
    if (!body->chunk || !body->chunk_len)
        goto fail;
    size_t total = 0;
    for (uint32_t i = 0; i < req->ninputs; i++) {
        const struct trk_tensor *t = req->inputs[i];
        if (!t || !t->name[0] || t->ndim > TRK_TENSOR_MAX_DIMS ||
            t->dtype <= TRK_DTYPE_INVALID || t->dtype >= TRK_DTYPE_COUNT ||
            (t->nbytes && !t->data)) {
            trk_client_errf(err, errlen, "input %u is NULL, unnamed or has an invalid dtype",
                            i);
            st = TRK_ERR_INVALID_ARG;
            goto fail;
        }
        json_t *in = json_object(), *shape = json_array();
        json_object_set_new(in, "name", json_string(t->name));
        for (uint32_t d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_object_set_new(in, "shape", shape);
        json_object_set_new(in, "datatype", json_string(trk_dtype_name(t->dtype)));
        if (binary) {
            json_t *params = json_object();
            json_object_set_new(params, "binary_data_size", json_integer((json_int_t)t->nbytes));
            json_object_set_new(in, "parameters", params);
            body->chunk[body->nchunks] = t->data;
            body->chunk_len[body->nchunks++] = t->nbytes;
            total += t->nbytes;
        } else {
            json_t *data = json_data(t, err, errlen);
            if (!data) {
                json_decref(in);
                st = TRK_ERR_INVALID_ARG;
                goto fail;
            }
            json_object_set_new(in, "data", data);
        }
        json_array_append_new(inputs, in);
    }
    json_object_set_new(root, "inputs", inputs);
    inputs = NULL;
    if (req->noutputs) {
        json_t *outs = json_array();
        for (uint32_t i = 0; i < req->noutputs; i++) {
            json_t *o = json_object(), *p = json_object();
            json_object_set_new(o, "name", json_string(req->outputs[i] ? req->outputs[i] : ""));
            json_object_set_new(p, "binary_data", json_boolean(binary));
            json_object_set_new(o, "parameters", p);
            json_array_append_new(outs, o);
        }
        json_object_set_new(root, "outputs", outs);
    } else if (binary) {
        json_t *p = json_object();
        json_object_set_new(p, "binary_data_output", json_true());
        json_object_set_new(root, "parameters", p);
    }
    body->json = json_dumps(root, JSON_COMPACT);
    if (!body->json)
        goto fail;
    body->json_len = strlen(body->json);
    body->total = body->json_len + total;
    json_decref(root);
    return TRK_OK;
fail:
    if (st == TRK_ERR_NO_MEMORY)
        trk_client_errf(err, errlen, "out of memory encoding the request");
    json_decref(inputs);
    json_decref(root);
    trk_client_http_body_fini(body);
    return st;
}

/* ---- compression -------------------------------------------------------------------- */

enum trk_status trk_client_http_compress(const char *alg, const void *in, size_t n, void **out,
                                         size_t *outlen)
{
    int wbits;
    if (alg && !strcmp(alg, "gzip"))
        wbits = 15 + 16;
    else if (alg && !strcmp(alg, "deflate"))
        wbits = 15;
    else
        return TRK_ERR_INVALID_ARG;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return TRK_ERR_NO_MEMORY;
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return TRK_ERR_NO_MEMORY;
    }
    /* zlib counts in uInt: feed and drain in pieces so bodies above 4 GiB work. */
    const unsigned char *src = in;
    size_t left_in = n, done_out = 0;
    int rc;
    for (;;) {
        uInt ain = left_in > UINT_MAX ? UINT_MAX : (uInt)left_in;
        size_t room = cap - done_out;
        uInt aout = room > UINT_MAX ? UINT_MAX : (uInt)room;
        z.next_in = (Bytef *)(uintptr_t)src;
        z.avail_in = ain;
        z.next_out = buf + done_out;
        z.avail_out = aout;
        rc = deflate(&z, ain == left_in ? Z_FINISH : Z_NO_FLUSH);
        size_t used = ain - z.avail_in, made = aout - z.avail_out;
        src += used;
        left_in -= used;
        done_out += made;
        if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR) || (!used && !made))
            break;
    }
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return TRK_ERR_INTERNAL;
    }
    *out = buf;
    *outlen = done_out;
    return TRK_OK;
}

enum trk_status trk_client_http_decompress(const void *in, size_t n, size_t max, void **out,
                                           size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) /* +32: gzip or zlib header, detected */
        return TRK_ERR_NO_MEMORY;
    size_t cap = n * 4 + 1024, len = 0;
    if (cap > max + 1)
        cap = max + 1;
    unsigned char *buf = malloc(cap);
    enum trk_status st = TRK_ERR_NO_MEMORY;
    if (!buf)
        goto fail;
    const unsigned char *src = in;
    size_t left = n;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (len == cap) {
            if (cap > max) {
                st = TRK_ERR_OVERFLOW;
                goto fail;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb)
                goto fail;
            buf = nb;
            cap = ncap;
        }
        uInt ain = left > UINT_MAX ? UINT_MAX : (uInt)left;
        size_t room = cap - len;
        z.next_in = (Bytef *)(uintptr_t)src;
        z.avail_in = ain;
        z.next_out = buf + len;
        z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt aout = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        src += ain - z.avail_in;
        left -= ain - z.avail_in;
        len += aout - z.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && len == cap)) {
            st = TRK_ERR_PARSE;
            goto fail;
        }
        if (rc == Z_OK && !left && z.avail_out) { /* input ended before the stream did */
            st = TRK_ERR_PARSE;
            goto fail;
        }
    }
    if (len > max) {
        st = TRK_ERR_OVERFLOW;
        goto fail;
    }
    inflateEnd(&z);
    *out = buf;
    *outlen = len;
    return TRK_OK;
fail:
    inflateEnd(&z);
    free(buf);
    return st;
}

/* ---- decoding ----------------------------------------------------------------------- */

static void set_error(struct trk_client_result *r, enum trk_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void set_error(struct trk_client_result *r, enum trk_status st, const char *fmt, ...)
{
    r->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

/* Appends the leaves of a (possibly nested) JSON array to out[*n..], converting to dt. */
static bool json_leaves(json_t *v, enum trk_dtype dt, unsigned char *out, size_t es, size_t cap,
                        size_t *n)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_leaves(e, dt, out, es, cap, n))
                return false;
        }
        return true;
    }
    if (*n >= cap)
        return false;
    unsigned char *p = out + *n * es;
    bool isnum = json_is_number(v);
    double d = isnum ? json_number_value(v) : 0;
    json_int_t i = json_is_integer(v) ? json_integer_value(v) : (json_int_t)d;
    if (dt == TRK_DTYPE_BOOL) {
        if (!json_is_boolean(v) && !isnum)
            return false;
        *p = json_is_boolean(v) ? json_is_true(v) : d != 0;
    } else if (!isnum) {
        return false;
    } else {
        switch (dt) {
        case TRK_DTYPE_UINT8: { uint8_t x = (uint8_t)i; memcpy(p, &x, 1); break; }
        case TRK_DTYPE_INT8: { int8_t x = (int8_t)i; memcpy(p, &x, 1); break; }
        case TRK_DTYPE_UINT16: { uint16_t x = (uint16_t)i; memcpy(p, &x, 2); break; }
        case TRK_DTYPE_INT16: { int16_t x = (int16_t)i; memcpy(p, &x, 2); break; }
        case TRK_DTYPE_UINT32: { uint32_t x = (uint32_t)i; memcpy(p, &x, 4); break; }
        case TRK_DTYPE_INT32: { int32_t x = (int32_t)i; memcpy(p, &x, 4); break; }
        case TRK_DTYPE_UINT64: {
            uint64_t x = json_is_integer(v) ? (uint64_t)i : (uint64_t)d;
            memcpy(p, &x, 8);
            break;
        }
        case TRK_DTYPE_INT64: { int64_t x = (int64_t)i; memcpy(p, &x, 8); break; }
        case TRK_DTYPE_FP32: { float x = (float)d; memcpy(p, &x, 4); break; }
        case TRK_DTYPE_FP64: memcpy(p, &d, 8); break;
        default: return false;
        }
    }
    (*n)++;
    return true;
}

/* BYTES "data" (strings, possibly nested) into the length-prefixed form. */
static bool json_strings(json_t *v, unsigned char **buf, size_t *len, size_t *cap, size_t *n)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_strings(e, buf, len, cap, n))
                return false;
        }
        return true;
    }
    if (!json_is_string(v))
        return false;
    size_t sl = json_string_length(v);
    if (sl > UINT32_MAX)
        return false;
    while (*len + 4 + sl > *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        unsigned char *nb = realloc(*buf, nc);
        if (!nb)
            return false;
        *buf = nb;
        *cap = nc;
    }
    uint32_t l32 = (uint32_t)sl;
    memcpy(*buf + *len, &l32, 4);
    memcpy(*buf + *len + 4, json_string_value(v), sl);
    *len += 4 + sl;
    (*n)++;
    return true;
}

static void decode_outputs(json_t *root, const char *bin, size_t binlen,
                           struct trk_client_result *r)
{
    json_t *v = json_object_get(root, "model_version");
    if (json_is_string(v))
        snprintf(r->model_version, sizeof r->model_version, "%s", json_string_value(v));
    v = json_object_get(root, "id");
    if (json_is_string(v))
        snprintf(r->id, sizeof r->id, "%s", json_string_value(v));
    json_t *outs = json_object_get(root, "outputs");
    if (!outs) {
        r->status = TRK_OK; /* a model without outputs would be odd but is not malformed */
        return;
    }
    if (!json_is_array(outs)) {
        set_error(r, TRK_ERR_PARSE, "malformed response: \"outputs\" is not an array");
        return;
    }
    size_t nout = json_array_size(outs);
    r->outputs = calloc(nout ? nout : 1, sizeof *r->outputs);
    if (!r->outputs) {
        set_error(r, TRK_ERR_NO_MEMORY, "out of memory decoding the response");
        return;
    }
    size_t off = 0;
    for (size_t k = 0; k < nout; k++) {
        json_t *o = json_array_get(outs, k);
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *dts = json_string_value(json_object_get(o, "datatype"));
        json_t *shape = json_object_get(o, "shape");
        enum trk_dtype dt = dts ? trk_dtype_from_name(dts) : TRK_DTYPE_INVALID;
        if (!name || dt == TRK_DTYPE_INVALID || !json_is_array(shape) ||
            json_array_size(shape) > TRK_TENSOR_MAX_DIMS || strlen(name) >= TRK_TENSOR_NAME_MAX) {
            set_error(r, TRK_ERR_PARSE,
                      "malformed response: output %zu lacks a name, a known datatype or a "
                      "shape of at most %d dims",
                      k, TRK_TENSOR_MAX_DIMS);
            return;
        }
        int64_t dims[TRK_TENSOR_MAX_DIMS];
        uint32_t nd = (uint32_t)json_array_size(shape);
        for (uint32_t d = 0; d < nd; d++) {
            json_t *x = json_array_get(shape, d);
            if (!json_is_integer(x) || json_integer_value(x) < 0) {
                set_error(r, TRK_ERR_PARSE, "malformed response: output '%s' has a bad shape",
                          name);
                return;
            }
            dims[d] = json_integer_value(x);
        }
        size_t numel;
        if (trk_shape_numel(nd, dims, &numel) != TRK_OK) {
            set_error(r, TRK_ERR_PARSE, "malformed response: output '%s' shape overflows", name);
            return;
        }
        size_t es = trk_dtype_size(dt);
        if (es && numel > SIZE_MAX / es) {
            set_error(r, TRK_ERR_PARSE, "malformed response: output '%s' shape overflows", name);
            return;
        }
        json_t *params = json_object_get(o, "parameters");
        json_t *bds = params ? json_object_get(params, "binary_data_size") : NULL;
        struct trk_tensor *t = NULL;
        if (bds) {
            json_int_t sz = json_is_integer(bds) ? json_integer_value(bds) : -1;
            if (sz < 0 || (size_t)sz > binlen - off) {
                set_error(r, TRK_ERR_PARSE,
                          "malformed response: output '%s' binary_data_size %lld runs past the "
                          "body (%zu bytes left)",
                          name, (long long)sz, binlen - off);
                return;
            }
            if (es && (size_t)sz != numel * es) {
                set_error(r, TRK_ERR_PARSE,
                          "malformed response: output '%s' has %lld bytes for %s %zu elements",
                          name, (long long)sz, dts, numel);
                return;
            }
            t = trk_client_tensor_copy(name, dt, nd, dims, bin + off, (size_t)sz);
            off += (size_t)sz;
        } else {
            json_t *data = json_object_get(o, "data");
            if (!data) {
                set_error(r, TRK_ERR_PARSE,
                          "malformed response: output '%s' has neither data nor "
                          "binary_data_size",
                          name);
                return;
            }
            if (dt == TRK_DTYPE_BYTES) {
                unsigned char *buf = NULL;
                size_t len = 0, cap = 0, n = 0;
                bool ok = json_strings(data, &buf, &len, &cap, &n) && n == numel;
                if (ok)
                    t = trk_client_tensor_copy(name, dt, nd, dims, buf, len);
                free(buf);
                if (!ok) {
                    set_error(r, TRK_ERR_PARSE,
                              "malformed response: output '%s' data is not %zu strings", name,
                              numel);
                    return;
                }
            } else {
                if (!es || dt == TRK_DTYPE_FP16) {
                    set_error(r, TRK_ERR_PARSE,
                              "malformed response: output '%s' is %s in JSON form", name, dts);
                    return;
                }
                unsigned char *buf = malloc(numel * es + 1);
                size_t n = 0;
                bool ok = buf && json_leaves(data, dt, buf, es, numel, &n) && n == numel;
                if (ok)
                    t = trk_client_tensor_copy(name, dt, nd, dims, buf, numel * es);
                free(buf);
                if (!ok) {
                    set_error(r, TRK_ERR_PARSE,
                              "malformed response: output '%s' data is not %zu %s values", name,
                              numel, dts);
                    return;
                }
            }
        }
        if (!t) {
            set_error(r, TRK_ERR_NO_MEMORY, "out of memory decoding output '%s'", name);
            return;
        }
        r->outputs[r->noutputs++] = t;
    }
    r->status = TRK_OK;
}

void trk_client_http_decode_response(int http_code, const char *body, size_t len,
                                     int64_t header_len,
                                     struct trk_client_result *r)
{
    r->wire_code = http_code;
    r->status = trk_client_http_status_from_code(http_code);
    r->error[0] = 0;
    size_t jlen = len;
    if (header_len >= 0) {
        if ((uint64_t)header_len > len) {
            set_error(r, TRK_ERR_PARSE,
                      "malformed response: Inference-Header-Content-Length %lld exceeds the "
                      "body (%zu bytes)",
                      (long long)header_len, len);
            return;
        }
        jlen = (size_t)header_len;
    }
    json_error_t jerr;
    json_t *root = jlen ? json_loadb(body, jlen, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (http_code != 200) {
        const char *msg = root ? json_string_value(json_object_get(root, "error")) : NULL;
        if (msg)
            snprintf(r->error, sizeof r->error, "%s", msg);
        else if (!jlen)
            snprintf(r->error, sizeof r->error, "HTTP %d with an empty body", http_code);
        else
            snprintf(r->error, sizeof r->error, "HTTP %d: %.*s", http_code,
                     (int)(jlen > 200 ? 200 : jlen), body);
        if (r->status == TRK_OK) /* a 2xx other than 200: not what the protocol answers */
            r->status = TRK_ERR_PARSE;
        json_decref(root);
        return;
    }
    if (!root || !json_is_object(root)) {
        set_error(r, TRK_ERR_PARSE, "malformed response: %s",
                  !jlen ? "empty body" : root ? "not a JSON object" : jerr.text);
        json_decref(root);
        return;
    }
    decode_outputs(root, body + jlen, len - jlen, r);
    json_decref(root);
    if (r->status != TRK_OK) {
        for (uint32_t i = 0; i < r->noutputs; i++)
            trk_tensor_free(r->outputs[i]);
        free(r->outputs);
        r->outputs = NULL;
        r->noutputs = 0;
    }
}
