/* Exa.TrkX weights: a small strict safetensors reader (8-byte little-endian header
 * length, JSON header, data) and the checks of every tensor the networks need
 * (names and shapes from training/exatrkx_models.py). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ex_internal.h"
#include "trk/log.h"

#define ST_MAX_HEADER (64u << 20) /* header bytes, at most */
#define ST_MAX_TENSORS 4096u

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- JSON header ------------------------------------------------------------------- */

struct js {
    const char *s;
    size_t n, i;
    size_t base; /* file offset of s[0], for messages */
    char *err;
    size_t errlen;
};

static bool js_fail(struct js *j, const char *what)
{
    set_err(j->err, j->errlen, "safetensors header byte %zu: %s", j->base + j->i, what);
    return false;
}

static void js_ws(struct js *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static bool js_char(struct js *j, char c)
{
    js_ws(j);
    if (j->i >= j->n || j->s[j->i] != c) {
        char msg[32];
        snprintf(msg, sizeof msg, "expected '%c'", c);
        return js_fail(j, msg);
    }
    j->i++;
    return true;
}

/* Peeks the next non-space character (0 at the end). */
static char js_peek(struct js *j)
{
    js_ws(j);
    return j->i < j->n ? j->s[j->i] : 0;
}

static int js_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A JSON string into out (NUL-terminated, at most cap-1 bytes, UTF-8). */
static bool js_string(struct js *j, char *out, size_t cap)
{
    if (!js_char(j, '"'))
        return false;
    size_t o = 0;
    for (;;) {
        if (j->i >= j->n)
            return js_fail(j, "unterminated string");
        unsigned char c = (unsigned char)j->s[j->i++];
        if (c == '"')
            break;
        if (c < 0x20)
            return js_fail(j, "control character in a string");
        char buf[4];
        size_t len = 1;
        buf[0] = (char)c;
        if (c == '\\') {
            if (j->i >= j->n)
                return js_fail(j, "unterminated escape");
            char e = j->s[j->i++];
            switch (e) {
            case '"': case '\\': case '/': buf[0] = e; break;
            case 'b': buf[0] = '\b'; break;
            case 'f': buf[0] = '\f'; break;
            case 'n': buf[0] = '\n'; break;
            case 'r': buf[0] = '\r'; break;
            case 't': buf[0] = '\t'; break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    int h = j->i < j->n ? js_hex(j->s[j->i]) : -1;
                    if (h < 0)
                        return js_fail(j, "bad \\u escape");
                    v = v * 16 + (unsigned)h;
                    j->i++;
                }
                if (v == 0 || (v >= 0xd800 && v <= 0xdfff))
                    return js_fail(j, "unsupported \\u escape (NUL or surrogate)");
                if (v < 0x80) {
                    buf[0] = (char)v;
                } else if (v < 0x800) {
                    buf[0] = (char)(0xc0 | (v >> 6));
                    buf[1] = (char)(0x80 | (v & 0x3f));
                    len = 2;
                } else {
                    buf[0] = (char)(0xe0 | (v >> 12));
                    buf[1] = (char)(0x80 | ((v >> 6) & 0x3f));
                    buf[2] = (char)(0x80 | (v & 0x3f));
                    len = 3;
                }
                break;
            }
            default:
                return js_fail(j, "bad escape");
            }
        }
        if (o + len >= cap)
            return js_fail(j, "string too long");
        memcpy(out + o, buf, len);
        o += len;
    }
    out[o] = 0;
    return true;
}

/* A non-negative integer below 2^53. */
static bool js_uint(struct js *j, uint64_t *out)
{
    js_ws(j);
    size_t start = j->i;
    uint64_t v = 0;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
        v = v * 10 + (uint64_t)(j->s[j->i] - '0');
        if (v >= (1ull << 53))
            return js_fail(j, "integer too large");
        j->i++;
    }
    if (j->i == start)
        return js_fail(j, "expected a non-negative integer");
    if (j->i - start > 1 && j->s[start] == '0')
        return js_fail(j, "leading zero");
    *out = v;
    return true;
}

/* [uint, ...] with at most cap entries. */
static bool js_uint_array(struct js *j, uint64_t *out, uint32_t cap, uint32_t *count)
{
    if (!js_char(j, '['))
        return false;
    *count = 0;
    if (js_peek(j) == ']') {
        j->i++;
        return true;
    }
    for (;;) {
        if (*count >= cap)
            return js_fail(j, "too many entries");
        if (!js_uint(j, &out[(*count)++]))
            return false;
        char c = js_peek(j);
        j->i++;
        if (c == ']')
            return true;
        if (c != ',')
            return js_fail(j, "expected ',' or ']'");
    }
}

static bool parse_tensor(struct js *j, struct ex_tensor *t, uint64_t off[2])
{
    bool have_dtype = false, have_shape = false, have_off = false;
    if (!js_char(j, '{'))
        return false;
    if (js_peek(j) == '}')
        return js_fail(j, "empty tensor entry");
    for (;;) {
        char key[32];
        if (!js_string(j, key, sizeof key) || !js_char(j, ':'))
            return false;
        if (!strcmp(key, "dtype") && !have_dtype) {
            char dt[16];
            if (!js_string(j, dt, sizeof dt))
                return false;
            if (!strcmp(dt, "F32"))
                t->dtype = EX_F32;
            else if (!strcmp(dt, "I32"))
                t->dtype = EX_I32;
            else if (!strcmp(dt, "I64"))
                t->dtype = EX_I64;
            else
                return js_fail(j, "unsupported dtype (F32, I32, I64 are read)");
            have_dtype = true;
        } else if (!strcmp(key, "shape") && !have_shape) {
            if (!js_uint_array(j, t->shape, 8, &t->ndim))
                return false;
            have_shape = true;
        } else if (!strcmp(key, "data_offsets") && !have_off) {
            uint32_t cnt;
            if (!js_uint_array(j, off, 2, &cnt))
                return false;
            if (cnt != 2)
                return js_fail(j, "data_offsets needs two entries");
            have_off = true;
        } else {
            return js_fail(j, "unknown or repeated key in a tensor entry");
        }
        char c = js_peek(j);
        j->i++;
        if (c == '}')
            break;
        if (c != ',')
            return js_fail(j, "expected ',' or '}'");
    }
    if (!have_dtype || !have_shape || !have_off)
        return js_fail(j, "tensor entry lacks dtype, shape or data_offsets");
    return true;
}

static bool parse_metadata(struct js *j, struct ex_st *s)
{
    if (!js_char(j, '{'))
        return false;
    if (js_peek(j) == '}') {
        j->i++;
        return true;
    }
    for (;;) {
        if (s->nmeta >= 256)
            return js_fail(j, "too many metadata entries");
        void *k = realloc(s->meta_key, (s->nmeta + 1) * sizeof *s->meta_key);
        if (!k)
            return js_fail(j, "out of memory");
        s->meta_key = k;
        void *v = realloc(s->meta_val, (s->nmeta + 1) * sizeof *s->meta_val);
        if (!v)
            return js_fail(j, "out of memory");
        s->meta_val = v;
        if (!js_string(j, s->meta_key[s->nmeta], sizeof s->meta_key[0]) || !js_char(j, ':') ||
            !js_string(j, s->meta_val[s->nmeta], sizeof s->meta_val[0]))
            return false;
        for (uint32_t i = 0; i < s->nmeta; i++)
            if (!strcmp(s->meta_key[i], s->meta_key[s->nmeta]))
                return js_fail(j, "duplicated metadata key");
        s->nmeta++;
        char c = js_peek(j);
        j->i++;
        if (c == '}')
            return true;
        if (c != ',')
            return js_fail(j, "expected ',' or '}'");
    }
}

static size_t dtype_size(enum ex_dtype d)
{
    return d == EX_I64 ? 8 : 4;
}

static const char *dtype_name(enum ex_dtype d)
{
    return d == EX_F32 ? "F32" : d == EX_I32 ? "I32" : "I64";
}

void ex_st_fini(struct ex_st *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nt; i++)
        free(s->t[i].data);
    free(s->t);
    free(s->meta_key);
    free(s->meta_val);
    memset(s, 0, sizeof *s);
}

struct st_range {
    uint64_t b, e;
    uint32_t t;
};

static int range_cmp(const void *a, const void *b)
{
    const struct st_range *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b ? 1 : (x->e > y->e) - (x->e < y->e);
}

enum trk_status ex_st_parse(const void *data, size_t n, struct ex_st *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    const uint8_t *b = data;
    struct st_range *ranges = NULL;
    uint64_t(*offs)[2] = NULL;
    if (!b || n < 8) {
        set_err(err, errlen, "safetensors: file of %zu bytes is shorter than its 8-byte "
                "header length", n);
        return TRK_ERR_PARSE;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | b[k];
    if (hlen < 2 || hlen > ST_MAX_HEADER || hlen > n - 8) {
        set_err(err, errlen, "safetensors: header length %llu does not fit the %zu-byte file "
                "(truncated or not a safetensors file)", (unsigned long long)hlen, n);
        return TRK_ERR_PARSE;
    }
    struct js j = {.s = (const char *)b + 8, .n = (size_t)hlen, .base = 8, .err = err,
                   .errlen = errlen};
    size_t data_len = n - 8 - (size_t)hlen;
    const uint8_t *d0 = b + 8 + hlen;
    bool have_meta = false;
    if (!js_char(&j, '{'))
        goto fail;
    if (js_peek(&j) == '}') {
        j.i++;
    } else {
        for (;;) {
            char name[256];
            if (!js_string(&j, name, sizeof name) || !js_char(&j, ':'))
                goto fail;
            if (!strcmp(name, "__metadata__")) {
                if (have_meta) {
                    js_fail(&j, "duplicated __metadata__");
                    goto fail;
                }
                have_meta = true;
                if (!parse_metadata(&j, out))
                    goto fail;
            } else {
                if (out->nt >= ST_MAX_TENSORS) {
                    js_fail(&j, "too many tensors");
                    goto fail;
                }
                for (uint32_t i = 0; i < out->nt; i++)
                    if (!strcmp(out->t[i].name, name)) {
                        set_err(err, errlen, "safetensors: tensor '%s' appears twice", name);
                        goto fail_quiet;
                    }
                void *nt = realloc(out->t, (out->nt + 1) * sizeof *out->t);
                void *no = realloc(offs, (out->nt + 1) * sizeof *offs);
                if (nt)
                    out->t = nt;
                if (no)
                    offs = no;
                if (!nt || !no) {
                    js_fail(&j, "out of memory");
                    goto fail;
                }
                struct ex_tensor *t = &out->t[out->nt];
                memset(t, 0, sizeof *t);
                snprintf(t->name, sizeof t->name, "%s", name);
                out->nt++;
                if (!parse_tensor(&j, t, offs[out->nt - 1]))
                    goto fail;
            }
            char c = js_peek(&j);
            j.i++;
            if (c == '}')
                break;
            if (c != ',') {
                j.i--;
                js_fail(&j, "expected ',' or '}'");
                goto fail;
            }
        }
    }
    js_ws(&j);
    if (j.i != j.n) {
        js_fail(&j, "trailing bytes after the header object");
        goto fail;
    }
    /* shapes, offsets, overlaps */
    ranges = calloc(out->nt ? out->nt : 1, sizeof *ranges);
    if (!ranges) {
        set_err(err, errlen, "safetensors: out of memory");
        goto fail_quiet;
    }
    for (uint32_t i = 0; i < out->nt; i++) {
        struct ex_tensor *t = &out->t[i];
        uint64_t count = 1;
        for (uint32_t k = 0; k < t->ndim; k++) {
            if (t->shape[k] != 0 && count > (UINT64_MAX >> 4) / t->shape[k]) {
                set_err(err, errlen, "safetensors: tensor '%s' shape is too large", t->name);
                goto fail_quiet;
            }
            count *= t->shape[k];
        }
        t->count = count;
        uint64_t ob = offs[i][0], oe = offs[i][1];
        if (ob > oe || oe > data_len) {
            set_err(err, errlen, "safetensors: tensor '%s' data [%llu, %llu) lies outside the "
                    "%zu data bytes (file truncated?)", t->name, (unsigned long long)ob,
                    (unsigned long long)oe, data_len);
            goto fail_quiet;
        }
        if (oe - ob != count * dtype_size(t->dtype)) {
            set_err(err, errlen, "safetensors: tensor '%s' has %llu data bytes, its shape and "
                    "dtype %s need %llu", t->name, (unsigned long long)(oe - ob),
                    dtype_name(t->dtype), (unsigned long long)(count * dtype_size(t->dtype)));
            goto fail_quiet;
        }
        ranges[i] = (struct st_range){ob, oe, i};
    }
    qsort(ranges, out->nt, sizeof *ranges, range_cmp);
    for (uint32_t i = 1; i < out->nt; i++)
        if (ranges[i].b < ranges[i - 1].e) {
            set_err(err, errlen, "safetensors: tensors '%s' and '%s' overlap",
                    out->t[ranges[i - 1].t].name, out->t[ranges[i].t].name);
            goto fail_quiet;
        }
    for (uint32_t i = 0; i < out->nt; i++) {
        struct ex_tensor *t = &out->t[i];
        size_t bytes = (size_t)(offs[i][1] - offs[i][0]);
        t->data = malloc(bytes ? bytes : 1);
        if (!t->data) {
            set_err(err, errlen, "safetensors: out of memory for tensor '%s' (%zu bytes)",
                    t->name, bytes);
            goto fail_quiet;
        }
        memcpy(t->data, d0 + offs[i][0], bytes);
    }
    free(ranges);
    free(offs);
    return TRK_OK;
fail:
fail_quiet:
    free(ranges);
    free(offs);
    ex_st_fini(out);
    return TRK_ERR_PARSE;
}

enum trk_status ex_st_load(const char *path, struct ex_st *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!path) {
        set_err(err, errlen, "no weights path given");
        return TRK_ERR_INVALID_ARG;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        set_err(err, errlen, "cannot open %s: %s", path, strerror(e));
        return e == ENOENT ? TRK_ERR_NOT_FOUND : TRK_ERR_IO;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    enum trk_status st = TRK_OK;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1u << 20;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                set_err(err, errlen, "out of memory reading %s", path);
                st = TRK_ERR_NO_MEMORY;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                set_err(err, errlen, "cannot read %s", path);
                st = TRK_ERR_IO;
            }
            break;
        }
    }
    fclose(f);
    if (st == TRK_OK) {
        st = ex_st_parse(buf, n, out, err, errlen);
        if (st != TRK_OK && err && errlen) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", err);
            set_err(err, errlen, "%s: %s", path, tmp);
        }
    }
    free(buf);
    return st;
}

const struct ex_tensor *ex_st_find(const struct ex_st *s, const char *name)
{
    for (uint32_t i = 0; i < s->nt; i++)
        if (!strcmp(s->t[i].name, name))
            return &s->t[i];
    return NULL;
}

const char *ex_st_meta(const struct ex_st *s, const char *key)
{
    for (uint32_t i = 0; i < s->nmeta; i++)
        if (!strcmp(s->meta_key[i], key))
            return s->meta_val[i];
    return NULL;
}

/* ---- weights -------------------------------------------------------------------- */

void trk_ex_params_default(struct trk_ex_params *p, const struct trk_ex_weights *w)
{
    if (!p)
        return;
    if (w) {
        *p = w->meta;
        return;
    }
    memset(p, 0, sizeof *p);
    p->radius = 0.2f;
    p->knn = 12;
    p->filter_cut = 0.05f;
    p->edge_cut = 0.5f;
    p->min_hits = 3;
    p->junction_removal = false;
    p->max_hits = 262144;
    p->max_edges = 8388608;
    p->filter_chunk = 262144;
}

const float *ex_w(const struct trk_ex_weights *w, const char *name)
{
    const struct ex_tensor *t = ex_st_find(&w->st, name);
    return t ? t->data : NULL;
}

/* Checks that tensor `name` is F32 of shape [a] (b == 0) or [a, b]. */
static bool want(const struct trk_ex_weights *w, const char *name, uint64_t a, uint64_t b,
                 char *err, size_t errlen)
{
    const struct ex_tensor *t = ex_st_find(&w->st, name);
    if (!t) {
        set_err(err, errlen, "weights: missing tensor '%s' (file from another model or "
                "version? see MODEL_CARD.md)", name);
        return false;
    }
    bool ok = t->dtype == EX_F32 && t->ndim == (b ? 2u : 1u) && t->shape[0] == a &&
              (!b || t->shape[1] == b);
    if (!ok) {
        char got[96] = "";
        size_t o = 0;
        for (uint32_t k = 0; k < t->ndim && o < sizeof got - 24; k++)
            o += (size_t)snprintf(got + o, sizeof got - o, "%s%llu", k ? "," : "",
                                  (unsigned long long)t->shape[k]);
        if (b)
            set_err(err, errlen, "weights: tensor '%s' is %s [%s], expected F32 [%llu,%llu]",
                    name, dtype_name(t->dtype), got, (unsigned long long)a,
                    (unsigned long long)b);
        else
            set_err(err, errlen, "weights: tensor '%s' is %s [%s], expected F32 [%llu]", name,
                    dtype_name(t->dtype), got, (unsigned long long)a);
    }
    return ok;
}

/* Width (rows) of the 2-D F32 tensor `name`, or 0 when absent / not 2-D F32. */
static uint64_t rows_of(const struct trk_ex_weights *w, const char *name)
{
    const struct ex_tensor *t = ex_st_find(&w->st, name);
    return t && t->dtype == EX_F32 && t->ndim == 2 ? t->shape[0] : 0;
}

/* Linear `pre`.weight [out,in] + .bias [out] (and LayerNorm `norm`.weight/.bias [out]
 * when norm is not NULL). */
static bool want_linear(const struct trk_ex_weights *w, const char *pre, const char *norm,
                        uint64_t out, uint64_t in, char *err, size_t errlen)
{
    char name[256];
    snprintf(name, sizeof name, "%s.weight", pre);
    if (!want(w, name, out, in, err, errlen))
        return false;
    snprintf(name, sizeof name, "%s.bias", pre);
    if (!want(w, name, out, 0, err, errlen))
        return false;
    if (norm) {
        snprintf(name, sizeof name, "%s.weight", norm);
        if (!want(w, name, out, 0, err, errlen))
            return false;
        snprintf(name, sizeof name, "%s.bias", norm);
        if (!want(w, name, out, 0, err, errlen))
            return false;
    }
    return true;
}

static bool meta_num(const struct trk_ex_weights *w, const char *key, double lo, double hi,
                     double *out, char *err, size_t errlen)
{
    const char *v = ex_st_meta(&w->st, key);
    if (!v)
        return true; /* built-in default stays */
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi) {
        set_err(err, errlen, "weights: metadata %s='%s' is not a number in [%g, %g]", key, v,
                lo, hi);
        return false;
    }
    *out = x;
    return true;
}

static enum trk_status check_weights(struct trk_ex_weights *w, char *err, size_t errlen)
{
    const char *fmt = ex_st_meta(&w->st, "format");
    if (!fmt || strcmp(fmt, EX_FORMAT)) {
        set_err(err, errlen, "weights: metadata format is '%s', expected '%s' (not an "
                "Exa.TrkX weights file of this version)", fmt ? fmt : "(missing)", EX_FORMAT);
        return TRK_ERR_PARSE;
    }
    char name[256], norm[256];
    /* embedding: layers.0 [h, 4] ... layers.L-1 [D, h] */
    uint32_t nl = 0;
    w->emb_width[0] = 4;
    for (;;) {
        snprintf(name, sizeof name, "embedding.layers.%u.weight", nl);
        uint64_t out = rows_of(w, name);
        if (!ex_st_find(&w->st, name))
            break;
        if (nl >= EX_MAX_LAYERS || out == 0 || out > EX_MAX_WIDTH) {
            set_err(err, errlen, "weights: '%s' is not F32 [out<=%u, in] or the embedding has "
                    "more than %u layers", name, EX_MAX_WIDTH, EX_MAX_LAYERS);
            return TRK_ERR_PARSE;
        }
        snprintf(name, sizeof name, "embedding.layers.%u", nl);
        if (!want_linear(w, name, NULL, out, w->emb_width[nl], err, errlen))
            return TRK_ERR_PARSE;
        w->emb_width[++nl] = (uint32_t)out;
    }
    if (nl == 0) {
        set_err(err, errlen, "weights: missing tensor 'embedding.layers.0.weight'");
        return TRK_ERR_PARSE;
    }
    w->emb_layers = nl;
    w->dim = w->emb_width[nl];
    if (w->dim < 3 || w->dim > EX_MAX_DIM) {
        set_err(err, errlen, "weights: embedding dimension %u is outside [3, %u]", w->dim,
                EX_MAX_DIM);
        return TRK_ERR_PARSE;
    }
    uint32_t g = 4 + w->dim;
    /* filter */
    uint64_t hf = rows_of(w, "filter.layers.0.weight");
    if (hf == 0 || hf > EX_MAX_WIDTH) {
        if (!want(w, "filter.layers.0.weight", 1, 2 * g + EX_EDGE_DIM, err, errlen))
            return TRK_ERR_PARSE;
        set_err(err, errlen, "weights: filter width %llu is outside [1, %u]",
                (unsigned long long)hf, EX_MAX_WIDTH);
        return TRK_ERR_PARSE;
    }
    w->flt_hidden = (uint32_t)hf;
    nl = 0;
    for (;; nl++) {
        snprintf(name, sizeof name, "filter.layers.%u.weight", nl);
        if (!ex_st_find(&w->st, name))
            break;
        if (nl >= EX_MAX_LAYERS) {
            set_err(err, errlen, "weights: the filter has more than %u layers", EX_MAX_LAYERS);
            return TRK_ERR_PARSE;
        }
        snprintf(name, sizeof name, "filter.layers.%u", nl);
        snprintf(norm, sizeof norm, "filter.norms.%u", nl);
        if (!want_linear(w, name, norm, hf, nl ? hf : 2 * g + EX_EDGE_DIM, err, errlen))
            return TRK_ERR_PARSE;
    }
    w->flt_layers = nl;
    if (!want_linear(w, "filter.out", NULL, 1, hf, err, errlen))
        return TRK_ERR_PARSE;
    /* GNN */
    uint64_t h = rows_of(w, "gnn.node_enc.layers.0.weight");
    if (h == 0 || h > EX_MAX_WIDTH / 8) {
        if (!want(w, "gnn.node_enc.layers.0.weight", 1, g, err, errlen))
            return TRK_ERR_PARSE;
        set_err(err, errlen, "weights: GNN width %llu is outside [1, %u]",
                (unsigned long long)h, EX_MAX_WIDTH / 8);
        return TRK_ERR_PARSE;
    }
    w->gnn_hidden = (uint32_t)h;
    static const struct {
        const char *mlp;
        uint32_t in_mult; /* layers.0 input: in_mult·h (+ the edge features), or g when 0 */
        uint32_t nlayers, geom;
    } mlps[] = {{"node_enc", 0, 2, 0}, {"edge_enc", 2, 2, EX_EDGE_DIM}, {"node_net", 5, 2, 0},
                {"edge_net", 3, 2, 0}, {"out_head", 3, 1, 0}};
    for (size_t m = 0; m < sizeof mlps / sizeof mlps[0]; m++)
        for (uint32_t l = 0; l < mlps[m].nlayers; l++) {
            snprintf(name, sizeof name, "gnn.%s.layers.%u", mlps[m].mlp, l);
            snprintf(norm, sizeof norm, "gnn.%s.norms.%u", mlps[m].mlp, l);
            uint64_t in = l ? h : mlps[m].in_mult ? mlps[m].in_mult * h + mlps[m].geom : g;
            if (!want_linear(w, name, norm, h, in, err, errlen))
                return TRK_ERR_PARSE;
        }
    if (!want_linear(w, "gnn.out_final", NULL, 1, h, err, errlen))
        return TRK_ERR_PARSE;
    /* metadata */
    struct trk_ex_params *p = &w->meta;
    trk_ex_params_default(p, NULL);
    double radius = p->radius, knn = p->knn, fcut = p->filter_cut, ecut = p->edge_cut,
           minh = p->min_hits, iters = 0;
    const char *it = ex_st_meta(&w->st, "gnn_iters");
    if (!it) {
        set_err(err, errlen, "weights: metadata gnn_iters is missing");
        return TRK_ERR_PARSE;
    }
    if (!meta_num(w, "gnn_iters", 0, 64, &iters, err, errlen) ||
        !meta_num(w, "radius", 1e-30, 1e30, &radius, err, errlen) ||
        !meta_num(w, "knn", 1, EX_MAX_KNN, &knn, err, errlen) ||
        !meta_num(w, "filter_cut", 0, 1, &fcut, err, errlen) ||
        !meta_num(w, "edge_cut", 0, 1, &ecut, err, errlen) ||
        !meta_num(w, "min_hits", 0, 1e9, &minh, err, errlen))
        return TRK_ERR_PARSE;
    if (iters != floor(iters) || knn != floor(knn) || minh != floor(minh)) {
        set_err(err, errlen, "weights: metadata gnn_iters, knn and min_hits must be integers");
        return TRK_ERR_PARSE;
    }
    w->gnn_iters = (uint32_t)iters;
    p->radius = (float)radius;
    p->knn = (uint32_t)knn;
    p->filter_cut = (float)fcut;
    p->edge_cut = (float)ecut;
    p->min_hits = (uint32_t)minh;
    const char *jr = ex_st_meta(&w->st, "junction_removal");
    if (jr && strcmp(jr, "true") && strcmp(jr, "false")) {
        set_err(err, errlen, "weights: metadata junction_removal='%s', expected true or false",
                jr);
        return TRK_ERR_PARSE;
    }
    p->junction_removal = jr && !strcmp(jr, "true");
    return TRK_OK;
}

enum trk_status trk_ex_weights_parse(const void *data, size_t n, struct trk_ex_weights **out,
                                     char *err, size_t errlen)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    struct trk_ex_weights *w = calloc(1, sizeof *w);
    if (!w) {
        set_err(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    enum trk_status st = ex_st_parse(data, n, &w->st, err, errlen);
    if (st == TRK_OK)
        st = check_weights(w, err, errlen);
    if (st != TRK_OK) {
        trk_ex_weights_free(w);
        return st;
    }
    *out = w;
    return TRK_OK;
}

enum trk_status trk_ex_weights_load(const char *path, struct trk_ex_weights **out, char *err,
                                    size_t errlen)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    struct trk_ex_weights *w = calloc(1, sizeof *w);
    if (!w) {
        set_err(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    enum trk_status st = ex_st_load(path, &w->st, err, errlen);
    if (st == TRK_OK) {
        st = check_weights(w, err, errlen);
        if (st != TRK_OK && err && errlen) {
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", err);
            set_err(err, errlen, "%s: %s", path, tmp);
        }
    }
    if (st != TRK_OK) {
        trk_ex_weights_free(w);
        return st;
    }
    *out = w;
    return TRK_OK;
}

void trk_ex_weights_free(struct trk_ex_weights *w)
{
    if (!w)
        return;
    ex_st_fini(&w->st);
    free(w);
}
