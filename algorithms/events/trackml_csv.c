/* trkserve — TrackML CSV reader and writer (trk/trackml_csv.h). */
#include "trk/trackml_csv.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "trackml_csv_internal.h"
#include "trk/log.h"

static const char *const part_names[TRK_TRACKML_NPARTS] = {"hits", "cells", "particles",
                                                          "truth"};

/* ---- numbers: locale-independent, bounded (no NUL terminator needed) -------------- */

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static double c_strtod(const char *s, char **end)
{
#if defined(__GLIBC__)
    static locale_t c_locale; /* created once; a benign race creates two at worst */
    locale_t loc = __atomic_load_n(&c_locale, __ATOMIC_ACQUIRE);
    if (!loc) {
        loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (loc) {
            locale_t expected = (locale_t)0;
            if (!__atomic_compare_exchange_n(&c_locale, &expected, loc, false, __ATOMIC_ACQ_REL,
                                              __ATOMIC_ACQUIRE)) {
                freelocale(loc);
                loc = expected;
            }
        }
    }
    if (loc)
        return strtod_l(s, end, loc);
#endif
    return strtod(s, end);
}

/* Parses s[0, n) (surrounding blanks allowed) as a decimal number. Exact for
 * mantissas up to 2^53 with decimal exponents within ±22 (Clinger's fast path),
 * otherwise strtod in the C locale. "nan" and "inf" are accepted. */
static bool parse_f64(const char *s, size_t n, double *out)
{
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    trim(&s, &n);
    if (!n)
        return false;
    size_t i = 0;
    bool neg = false, any = false, fast = true;
    if (s[i] == '+' || s[i] == '-')
        neg = s[i++] == '-';
    uint64_t mant = 0;
    int sig = 0;
    long exp10 = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        any = true;
        if (mant || s[i] != '0') {
            if (sig < 19)
                mant = mant * 10 + (uint64_t)(s[i] - '0');
            else
                fast = false;
            sig++;
        }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            any = true;
            if (mant || s[i] != '0') {
                if (sig < 19)
                    mant = mant * 10 + (uint64_t)(s[i] - '0');
                else
                    fast = false;
                sig++;
            }
            if (exp10 > -100000)
                exp10--;
        }
    }
    if (!any)
        goto slow; /* nan, inf, infinity */
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i == n || s[i] < '0' || s[i] > '9')
            return false;
        long e = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return false;
    if (fast && mant == 0) {
        *out = neg ? -0.0 : 0.0;
        return true;
    }
    if (fast && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mant;
        v = exp10 >= 0 ? v * p10[exp10] : v / p10[-exp10];
        *out = neg ? -v : v;
        return true;
    }
slow:;
    char buf[128];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (buf[0] == ' ' || (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')))
        return false;
    char *end;
    double v = c_strtod(buf, &end);
    if (end != buf + n)
        return false;
    *out = v;
    return true;
}

/* Parses s[0, n) (surrounding blanks allowed) as a decimal integer in [lo, hi], giving
 * its magnitude and sign. *range is set when it is an integer outside the range. */
static bool parse_int(const char *s, size_t n, int64_t lo, uint64_t hi, bool *range,
                      uint64_t *mag, bool *neg_out)
{
    trim(&s, &n);
    *range = false;
    if (!n)
        return false;
    size_t i = 0;
    bool neg = false;
    if (s[i] == '+' || s[i] == '-')
        neg = s[i++] == '-';
    if (i == n)
        return false;
    uint64_t v = 0;
    bool over = false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    neg = neg && v > 0;
    bool ok;
    if (over)
        ok = false;
    else if (neg) /* value -v: needs lo < 0 and v <= -lo */
        ok = lo < 0 && v - 1 <= (uint64_t)(-(lo + 1));
    else
        ok = v <= hi && (lo <= 0 || v >= (uint64_t)lo);
    if (!ok) {
        *range = true;
        return false;
    }
    *mag = v;
    *neg_out = neg;
    return true;
}

/* ---- CSV rows ----------------------------------------------------------------------- */

#define CSV_MAX_COLS 128

struct csv {
    const char *name;
    const char *p, *end;
    size_t line;                 /* line number of the current row (1 = header) */
    uint32_t ncols;
    const char *hs[CSV_MAX_COLS]; /* header names */
    size_t hl[CSV_MAX_COLS];
    const char *fs[CSV_MAX_COLS]; /* fields of the current row */
    size_t fl[CSV_MAX_COLS];
};

static bool blank(const char *s, size_t n)
{
    return n == 0 || (n == 1 && s[0] == '\r');
}

/* Splits the next line into fields; returns the line's field count, or -1 when the
 * line has more than `max` fields. */
static long split_line(struct csv *c, const char **fs, size_t *fl, uint32_t max, bool *eof)
{
    *eof = false;
    for (;;) {
        if (c->p >= c->end) {
            *eof = true;
            return 0;
        }
        const char *ls = c->p;
        const char *nl = memchr(ls, '\n', (size_t)(c->end - ls));
        const char *le = nl ? nl : c->end;
        c->p = nl ? nl + 1 : c->end;
        c->line++;
        if (le > ls && le[-1] == '\r')
            le--;
        if (le == ls)
            continue;
        uint32_t k = 0;
        const char *q = ls;
        for (;;) {
            const char *comma = memchr(q, ',', (size_t)(le - q));
            const char *fe = comma ? comma : le;
            if (k == max)
                return -1;
            fs[k] = q;
            fl[k] = (size_t)(fe - q);
            k++;
            if (!comma)
                return k;
            q = comma + 1;
        }
    }
}

static enum trk_status csv_open(struct csv *c, const struct trk_trackml_text *t)
{
    memset(c, 0, sizeof *c);
    c->name = t->name ? t->name : "<memory>";
    c->p = t->data;
    c->end = t->data + t->n;
    if (t->n >= 3 && !memcmp(t->data, "\xEF\xBB\xBF", 3))
        c->p += 3;
    bool eof;
    long k = split_line(c, c->hs, c->hl, CSV_MAX_COLS, &eof);
    if (eof) {
        TRK_LOGE("%s:1: the file is empty: expected a header line naming the columns", c->name);
        return TRK_ERR_PARSE;
    }
    if (k < 0) {
        TRK_LOGE("%s:%zu: the header has more than %d columns", c->name, c->line, CSV_MAX_COLS);
        return TRK_ERR_PARSE;
    }
    c->ncols = (uint32_t)k;
    for (uint32_t i = 0; i < c->ncols; i++)
        trim(&c->hs[i], &c->hl[i]);
    return TRK_OK;
}

/* Looks up the columns `names` (n of them) in the header; -1 for absent ones. A missing
 * required column (required[i], or all when required is NULL) is an error. */
static enum trk_status csv_cols(const struct csv *c, const char *const *names, size_t n,
                                const bool *required, int *idx)
{
    for (size_t i = 0; i < n; i++) {
        idx[i] = -1;
        size_t len = strlen(names[i]);
        for (uint32_t k = 0; k < c->ncols && idx[i] < 0; k++)
            if (c->hl[k] == len && !memcmp(c->hs[k], names[i], len))
                idx[i] = (int)k;
        if (idx[i] < 0 && (!required || required[i])) {
            char have[256] = "";
            size_t off = 0;
            for (uint32_t k = 0; k < c->ncols && off < sizeof have; k++)
                off += (size_t)snprintf(have + off, sizeof have - off, "%s%.*s", k ? "," : "",
                                        (int)(c->hl[k] < 64 ? c->hl[k] : 64), c->hs[k]);
            TRK_LOGE("%s:1: column '%s': missing from the header (the header has: %s)", c->name,
                     names[i], have);
            return TRK_ERR_PARSE;
        }
    }
    return TRK_OK;
}

/* Number of non-blank lines after the current position. */
static size_t csv_count_rows(const struct csv *c)
{
    size_t rows = 0;
    const char *p = c->p;
    while (p < c->end) {
        const char *nl = memchr(p, '\n', (size_t)(c->end - p));
        const char *le = nl ? nl : c->end;
        if (!blank(p, (size_t)(le - p)))
            rows++;
        p = nl ? nl + 1 : c->end;
    }
    return rows;
}

/* Next row: 1, 0 at the end, or TRK_ERR_PARSE (negated) for a short or long row. */
static int csv_next(struct csv *c)
{
    bool eof;
    long k = split_line(c, c->fs, c->fl, c->ncols, &eof);
    if (eof)
        return 0;
    if (k < 0) {
        TRK_LOGE("%s:%zu: column %u (after '%.*s'): the row has more fields than the header's %u",
                 c->name, c->line, c->ncols + 1, (int)c->hl[c->ncols - 1], c->hs[c->ncols - 1],
                 c->ncols);
        return -1;
    }
    if ((uint32_t)k < c->ncols) {
        TRK_LOGE("%s:%zu: column '%.*s': missing: the row has %ld fields, the header %u (short "
                 "or truncated row)", c->name, c->line, (int)c->hl[k], c->hs[k], k, c->ncols);
        return -1;
    }
    return 1;
}

#define FIELD_SHOWN(c, col) (int)((c)->fl[col] < 40 ? (c)->fl[col] : 40), (c)->fs[col]
#define COLNAME(c, col) (int)(c)->hl[col], (c)->hs[col]

static bool get_f32(const struct csv *c, int col, float *v)
{
    double d;
    if (!parse_f64(c->fs[col], c->fl[col], &d)) {
        TRK_LOGE("%s:%zu: column '%.*s': '%.*s' is not a number", c->name, c->line,
                 COLNAME(c, col), FIELD_SHOWN(c, col));
        return false;
    }
    if (isfinite(d) && fabs(d) > FLT_MAX) {
        TRK_LOGE("%s:%zu: column '%.*s': %.*s is outside the FP32 range", c->name, c->line,
                 COLNAME(c, col), FIELD_SHOWN(c, col));
        return false;
    }
    *v = (float)d;
    return true;
}

static bool get_int(const struct csv *c, int col, int64_t lo, uint64_t hi, uint64_t *mag,
                    bool *neg)
{
    bool range;
    if (!parse_int(c->fs[col], c->fl[col], lo, hi, &range, mag, neg)) {
        if (range)
            TRK_LOGE("%s:%zu: column '%.*s': %.*s is outside [%lld, %llu]", c->name, c->line,
                     COLNAME(c, col), FIELD_SHOWN(c, col), (long long)lo,
                     (unsigned long long)hi);
        else
            TRK_LOGE("%s:%zu: column '%.*s': '%.*s' is not an integer", c->name, c->line,
                     COLNAME(c, col), FIELD_SHOWN(c, col));
        return false;
    }
    return true;
}

static bool get_i32(const struct csv *c, int col, int32_t lo, int32_t *v)
{
    uint64_t mag;
    bool neg;
    if (!get_int(c, col, lo, INT32_MAX, &mag, &neg))
        return false;
    *v = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    return true;
}

static bool get_u64(const struct csv *c, int col, uint64_t lo, uint64_t *v)
{
    bool neg;
    if (!get_int(c, col, (int64_t)lo, UINT64_MAX, v, &neg))
        return false;
    return true;
}

static bool get_i64(const struct csv *c, int col, int64_t lo, int64_t *v)
{
    uint64_t mag;
    bool neg;
    if (!get_int(c, col, lo, INT64_MAX, &mag, &neg))
        return false;
    *v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}

/* ---- id → index map (open addressing; key 0 is "empty") -------------------------- */

struct idmap {
    uint64_t *keys;
    uint32_t *vals;
    size_t mask, used;
};

static size_t id_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return (size_t)k;
}

static void idmap_free(struct idmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static enum trk_status idmap_init(struct idmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    memset(m, 0, sizeof *m);
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        idmap_free(m);
        return TRK_ERR_NO_MEMORY;
    }
    m->mask = cap - 1;
    return TRK_OK;
}

/* The value slot for key (k != 0); *found tells whether it existed. The map must have
 * room (used < capacity / 2, see idmap_reserve). */
static uint32_t *idmap_slot(struct idmap *m, uint64_t k, bool *found)
{
    size_t i = id_hash(k) & m->mask;
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & m->mask;
    *found = m->keys[i] == k;
    if (!*found) {
        m->keys[i] = k;
        m->used++;
    }
    return &m->vals[i];
}

static bool idmap_get(const struct idmap *m, uint64_t k, uint32_t *v)
{
    if (!m->keys)
        return false;
    size_t i = id_hash(k) & m->mask;
    while (m->keys[i]) {
        if (m->keys[i] == k) {
            *v = m->vals[i];
            return true;
        }
        i = (i + 1) & m->mask;
    }
    return false;
}

static enum trk_status idmap_reserve(struct idmap *m, size_t more)
{
    if (m->keys && 2 * (m->used + more) + 2 <= m->mask + 1)
        return TRK_OK;
    struct idmap n;
    enum trk_status st = idmap_init(&n, m->used + more > 64 ? 2 * (m->used + more) : 64);
    if (st != TRK_OK)
        return st;
    for (size_t i = 0; m->keys && i <= m->mask; i++)
        if (m->keys[i]) {
            bool found;
            *idmap_slot(&n, m->keys[i], &found) = m->vals[i];
        }
    idmap_free(m);
    *m = n;
    return TRK_OK;
}

/* ---- event parsing -------------------------------------------------------------------- */

struct particle {
    uint64_t id;
    float v[3], p[3];
    int32_t q, pdg, nhits;
    bool appended; /* seen in truth only */
};

struct ctx {
    size_t nhits;
    uint64_t *hit_ids;       /* the file's hit_id per hit */
    struct idmap hits;       /* hit_id → hit index */
    struct idmap pmap;       /* particle_id → particle index */
    struct particle *parts;
    size_t nparts, cap_parts;
    size_t nappended;
};

static void ctx_fini(struct ctx *x)
{
    free(x->hit_ids);
    idmap_free(&x->hits);
    idmap_free(&x->pmap);
    free(x->parts);
}

static struct particle *push_particle(struct ctx *x)
{
    if (x->nparts == x->cap_parts) {
        size_t cap = x->cap_parts ? 2 * x->cap_parts : 256;
        struct particle *n = realloc(x->parts, cap * sizeof *n);
        if (!n)
            return NULL;
        x->parts = n;
        x->cap_parts = cap;
    }
    struct particle *p = &x->parts[x->nparts++];
    memset(p, 0, sizeof *p);
    return p;
}

#define ROW_FAIL()                                                                          \
    do {                                                                                    \
        st = TRK_ERR_PARSE;                                                                 \
        goto fail;                                                                          \
    } while (0)

static enum trk_status too_many_rows(const struct csv *c, size_t rows)
{
    TRK_LOGE("%s: %zu rows: more than the %d this reader supports", c->name, rows, INT32_MAX);
    return TRK_ERR_PARSE;
}

static enum trk_status parse_hits(const struct trk_trackml_text *t, struct ctx *x,
                                  struct trk_event *ev)
{
    static const char *const names[] = {"hit_id",    "x",        "y",        "z",
                                        "volume_id", "layer_id", "module_id"};
    struct csv c;
    int col[7];
    uint64_t *ids = NULL;
    enum trk_status st;
    if ((st = csv_open(&c, t)) != TRK_OK || (st = csv_cols(&c, names, 7, NULL, col)) != TRK_OK)
        return st;
    size_t n = csv_count_rows(&c);
    if (n > INT32_MAX)
        return too_many_rows(&c, n);
    float *pos;
    int32_t *vlm;
    if ((st = trk_event_add_column(ev, "hit_pos", TRK_DTYPE_FP32, n, 3, (void **)&pos)) ||
        (st = trk_event_add_column(ev, "hit_vlm", TRK_DTYPE_INT32, n, 3, (void **)&vlm)) ||
        (st = idmap_init(&x->hits, n)))
        goto fail;
    ids = x->hit_ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    bool sequential = true;
    size_t i = 0;
    for (int r; (r = csv_next(&c)) != 0; i++) {
        if (r < 0 || i >= n) /* i >= n cannot happen: csv_count_rows counted these rows */
            ROW_FAIL();
        uint64_t id;
        if (!get_u64(&c, col[0], 1, &id) || !get_f32(&c, col[1], &pos[3 * i]) ||
            !get_f32(&c, col[2], &pos[3 * i + 1]) || !get_f32(&c, col[3], &pos[3 * i + 2]) ||
            !get_i32(&c, col[4], INT32_MIN, &vlm[3 * i]) ||
            !get_i32(&c, col[5], INT32_MIN, &vlm[3 * i + 1]) ||
            !get_i32(&c, col[6], INT32_MIN, &vlm[3 * i + 2]))
            ROW_FAIL();
        bool found;
        uint32_t *slot = idmap_slot(&x->hits, id, &found);
        if (found) {
            TRK_LOGE("%s:%zu: column 'hit_id': hit_id %llu already appeared in data row %u (hit "
                     "ids must be unique)", c.name, c.line, (unsigned long long)id, *slot + 1);
            ROW_FAIL();
        }
        *slot = (uint32_t)i;
        ids[i] = id;
        sequential = sequential && id == i + 1;
    }
    x->nhits = n;
    if (!sequential) {
        uint64_t *col_ids;
        if ((st = trk_event_add_column(ev, "hit_id", TRK_DTYPE_UINT64, n, 0,
                                       (void **)&col_ids)) != TRK_OK)
            goto fail;
        memcpy(col_ids, ids, n * sizeof *ids);
    }
    st = TRK_OK;
fail:
    return st;
}

static enum trk_status parse_particles(const struct trk_trackml_text *t, struct ctx *x)
{
    static const char *const names[] = {"particle_id", "vx", "vy", "vz",    "px",
                                        "py",          "pz", "q",  "nhits", "particle_type"};
    static const bool req[] = {true, true, true, true, true, true, true, true, true, false};
    struct csv c;
    int col[10];
    enum trk_status st;
    if ((st = csv_open(&c, t)) != TRK_OK || (st = csv_cols(&c, names, 10, req, col)) != TRK_OK)
        return st;
    size_t n = csv_count_rows(&c);
    if (n > INT32_MAX / 2)
        return too_many_rows(&c, n);
    if ((st = idmap_reserve(&x->pmap, n)) != TRK_OK)
        return st;
    for (int r; (r = csv_next(&c)) != 0;) {
        if (r < 0)
            ROW_FAIL();
        struct particle *p = push_particle(x);
        if (!p) {
            st = TRK_ERR_NO_MEMORY;
            goto fail;
        }
        if (!get_u64(&c, col[0], 1, &p->id))
            ROW_FAIL();
        for (int k = 0; k < 3; k++)
            if (!get_f32(&c, col[1 + k], &p->v[k]) || !get_f32(&c, col[4 + k], &p->p[k]))
                ROW_FAIL();
        if (!get_i32(&c, col[7], INT32_MIN, &p->q) || !get_i32(&c, col[8], INT32_MIN, &p->nhits) ||
            (col[9] >= 0 && !get_i32(&c, col[9], INT32_MIN, &p->pdg)))
            ROW_FAIL();
        bool found;
        uint32_t *slot = idmap_slot(&x->pmap, p->id, &found);
        if (found) {
            TRK_LOGE("%s:%zu: column 'particle_id': particle_id %llu already appeared in data "
                     "row %u (particle ids must be unique)", c.name, c.line,
                     (unsigned long long)p->id, *slot + 1);
            ROW_FAIL();
        }
        *slot = (uint32_t)(x->nparts - 1);
    }
    st = TRK_OK;
fail:
    return st;
}

static enum trk_status parse_truth(const struct trk_trackml_text *t, struct ctx *x,
                                   struct trk_event *ev)
{
    static const char *const names[] = {"hit_id", "particle_id", "tx",  "ty",    "tz",
                                        "tpx",    "tpy",         "tpz", "weight"};
    struct csv c;
    int col[9];
    enum trk_status st;
    uint8_t *seen = NULL;
    if ((st = csv_open(&c, t)) != TRK_OK || (st = csv_cols(&c, names, 9, NULL, col)) != TRK_OK)
        return st;
    size_t n = x->nhits;
    int32_t *hp;
    float *w, *tp, *tm;
    if ((st = trk_event_add_column(ev, "hit_particle", TRK_DTYPE_INT32, n, 0, (void **)&hp)) ||
        (st = trk_event_add_column(ev, "hit_weight", TRK_DTYPE_FP32, n, 0, (void **)&w)) ||
        (st = trk_event_add_column(ev, "hit_truth_pos", TRK_DTYPE_FP32, n, 3, (void **)&tp)) ||
        (st = trk_event_add_column(ev, "hit_truth_mom", TRK_DTYPE_FP32, n, 3, (void **)&tm)))
        goto fail;
    seen = calloc(n ? n : 1, 1);
    if (!seen) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    size_t rows = 0;
    for (int r; (r = csv_next(&c)) != 0; rows++) {
        if (r < 0)
            ROW_FAIL();
        uint64_t hid, pid;
        uint32_t h;
        if (!get_u64(&c, col[0], 1, &hid) || !get_u64(&c, col[1], 0, &pid))
            ROW_FAIL();
        if (!idmap_get(&x->hits, hid, &h)) {
            TRK_LOGE("%s:%zu: column 'hit_id': hit_id %llu is not in the hits file", c.name,
                     c.line, (unsigned long long)hid);
            ROW_FAIL();
        }
        if (seen[h]) {
            TRK_LOGE("%s:%zu: column 'hit_id': hit_id %llu has a second truth row", c.name,
                     c.line, (unsigned long long)hid);
            ROW_FAIL();
        }
        seen[h] = 1;
        int32_t pi = -1;
        if (pid) {
            uint32_t v;
            if (!idmap_get(&x->pmap, pid, &v)) {
                /* In truth but not in particles: append an unknown-kinematics particle. */
                if (x->nparts >= INT32_MAX / 2) {
                    TRK_LOGE("%s:%zu: column 'particle_id': too many particles", c.name, c.line);
                    ROW_FAIL();
                }
                struct particle *p;
                if ((st = idmap_reserve(&x->pmap, 1)) != TRK_OK || !(p = push_particle(x))) {
                    st = st ? st : TRK_ERR_NO_MEMORY;
                    goto fail;
                }
                p->id = pid;
                for (int k = 0; k < 3; k++)
                    p->v[k] = p->p[k] = NAN;
                p->appended = true;
                v = (uint32_t)(x->nparts - 1);
                bool found;
                *idmap_slot(&x->pmap, pid, &found) = v;
                x->nappended++;
            }
            pi = (int32_t)v;
            if (x->parts[v].appended)
                x->parts[v].nhits++;
        }
        hp[h] = pi;
        for (int k = 0; k < 3; k++)
            if (!get_f32(&c, col[2 + k], &tp[3 * h + k]) ||
                !get_f32(&c, col[5 + k], &tm[3 * h + k]))
                ROW_FAIL();
        if (!get_f32(&c, col[8], &w[h]))
            ROW_FAIL();
    }
    if (rows != n) {
        size_t first = 0;
        while (first < n && seen[first])
            first++;
        TRK_LOGE("%s:%zu: column 'hit_id': %zu of the %zu hits have no truth row (the first is "
                 "hit_id %llu); truth files need one row per hit", c.name, c.line + 1, n - rows,
                 n, (unsigned long long)x->hit_ids[first]);
        ROW_FAIL();
    }
    if (x->nappended)
        TRK_LOGI("%s: %zu particle ids are not in the particles file; appended with NaN "
                 "vertex and momentum", c.name, x->nappended);
    st = TRK_OK;
fail:
    free(seen);
    return st;
}

static enum trk_status add_particles(const struct ctx *x, struct trk_event *ev)
{
    size_t n = x->nparts;
    uint64_t *id;
    int32_t *q, *pdg, *nh, *vtx;
    float *v, *p;
    enum trk_status st;
    if ((st = trk_event_add_column(ev, "particle_id", TRK_DTYPE_UINT64, n, 0, (void **)&id)) ||
        (st = trk_event_add_column(ev, "particle_pdg", TRK_DTYPE_INT32, n, 0, (void **)&pdg)) ||
        (st = trk_event_add_column(ev, "particle_q", TRK_DTYPE_INT32, n, 0, (void **)&q)) ||
        (st = trk_event_add_column(ev, "particle_vertex", TRK_DTYPE_INT32, n, 0, (void **)&vtx)) ||
        (st = trk_event_add_column(ev, "particle_v", TRK_DTYPE_FP32, n, 3, (void **)&v)) ||
        (st = trk_event_add_column(ev, "particle_p", TRK_DTYPE_FP32, n, 3, (void **)&p)) ||
        (st = trk_event_add_column(ev, "particle_nhits", TRK_DTYPE_INT32, n, 0, (void **)&nh)))
        return st;
    for (size_t i = 0; i < n; i++) {
        const struct particle *s = &x->parts[i];
        id[i] = s->id;
        pdg[i] = s->pdg;
        q[i] = s->q;
        vtx[i] = -1;
        nh[i] = s->nhits;
        memcpy(&v[3 * i], s->v, sizeof s->v);
        memcpy(&p[3 * i], s->p, sizeof s->p);
    }
    return TRK_OK;
}

static enum trk_status parse_cells(const struct trk_trackml_text *t, const struct ctx *x,
                                   struct trk_event *ev)
{
    static const char *const names[] = {"hit_id", "ch0", "ch1", "value"};
    struct csv c;
    int col[4];
    enum trk_status st;
    if ((st = csv_open(&c, t)) != TRK_OK || (st = csv_cols(&c, names, 4, NULL, col)) != TRK_OK)
        return st;
    size_t n = csv_count_rows(&c);
    if (n > INT32_MAX)
        return too_many_rows(&c, n);
    uint32_t *hit;
    int32_t *ch;
    float *val;
    if ((st = trk_event_add_column(ev, "cell_hit", TRK_DTYPE_UINT32, n, 0, (void **)&hit)) ||
        (st = trk_event_add_column(ev, "cell_ch", TRK_DTYPE_INT32, n, 2, (void **)&ch)) ||
        (st = trk_event_add_column(ev, "cell_value", TRK_DTYPE_FP32, n, 0, (void **)&val)))
        return st;
    size_t i = 0;
    for (int r; (r = csv_next(&c)) != 0; i++) {
        if (r < 0 || i >= n)
            ROW_FAIL();
        uint64_t hid;
        if (!get_u64(&c, col[0], 1, &hid) || !get_i32(&c, col[1], INT32_MIN, &ch[2 * i]) ||
            !get_i32(&c, col[2], INT32_MIN, &ch[2 * i + 1]) || !get_f32(&c, col[3], &val[i]))
            ROW_FAIL();
        if (!idmap_get(&x->hits, hid, &hit[i])) {
            TRK_LOGE("%s:%zu: column 'hit_id': hit_id %llu is not in the hits file", c.name,
                     c.line, (unsigned long long)hid);
            ROW_FAIL();
        }
    }
    st = TRK_OK;
fail:
    return st;
}

static bool text_present(const struct trk_trackml_text *t)
{
    return t && t->data;
}

enum trk_status trk_trackml_parse_mem(const struct trk_trackml_text text[TRK_TRACKML_NPARTS],
                                      uint64_t number, struct trk_event *ev)
{
    if (ev)
        trk_event_init(ev, number);
    if (!text || !ev || !text_present(&text[TRK_TRACKML_HITS])) {
        TRK_LOGE("bad argument: texts %p, event %p (the hits text is required)",
                 (const void *)text, (void *)ev);
        return TRK_ERR_INVALID_ARG;
    }
    struct ctx x;
    memset(&x, 0, sizeof x);
    enum trk_status st;
    if ((st = parse_hits(&text[TRK_TRACKML_HITS], &x, ev)) != TRK_OK)
        goto fail;
    if (text_present(&text[TRK_TRACKML_PARTICLES]) &&
        (st = parse_particles(&text[TRK_TRACKML_PARTICLES], &x)) != TRK_OK)
        goto fail;
    if (text_present(&text[TRK_TRACKML_TRUTH]) &&
        (st = parse_truth(&text[TRK_TRACKML_TRUTH], &x, ev)) != TRK_OK)
        goto fail;
    if ((text_present(&text[TRK_TRACKML_PARTICLES]) || text_present(&text[TRK_TRACKML_TRUTH])) &&
        (st = add_particles(&x, ev)) != TRK_OK)
        goto fail;
    if (text_present(&text[TRK_TRACKML_CELLS]) &&
        (st = parse_cells(&text[TRK_TRACKML_CELLS], &x, ev)) != TRK_OK)
        goto fail;
    ctx_fini(&x);
    return TRK_OK;
fail:
    ctx_fini(&x);
    trk_event_fini(ev);
    return st;
}

/* ---- files ---------------------------------------------------------------------------- */

/* Reads a plain or gzip file whole. TRK_ERR_NOT_FOUND (not logged) when it does not
 * exist. */
static enum trk_status slurp(const char *path, char **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        if (errno == ENOENT)
            return TRK_ERR_NOT_FOUND;
        TRK_LOGE("%s: cannot open: %s", path, strerror(errno));
        return TRK_ERR_IO;
    }
    gzbuffer(gz, 256 * 1024);
    enum trk_status st = TRK_OK;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    for (;;) {
        if (len == cap) {
            char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                st = TRK_ERR_NO_MEMORY;
                goto fail;
            }
            buf = nb;
            cap *= 2;
        }
        size_t want = cap - len < (1u << 30) ? cap - len : (1u << 30);
        int r = gzread(gz, buf + len, (unsigned)want);
        if (r <= 0) {
            int err = Z_OK;
            const char *msg = gzerror(gz, &err);
            if (r < 0 || err != Z_OK) {
                TRK_LOGE("%s: byte offset %zu of the uncompressed data: %s (%s)", path, len,
                         err == Z_ERRNO ? strerror(errno) : msg,
                         err == Z_ERRNO ? "read error" : "corrupt or truncated gzip data");
                st = err == Z_ERRNO ? TRK_ERR_IO : TRK_ERR_PARSE;
                goto fail;
            }
            break;
        }
        len += (size_t)r;
    }
    *data = buf;
    *n = len;
    buf = NULL;
fail:
    free(buf);
    gzclose(gz);
    return st;
}

static uint64_t number_from_prefix(const char *prefix)
{
    const char *base = strrchr(prefix, '/');
    base = base ? base + 1 : prefix;
    if (strncmp(base, "event", 5) != 0 || !base[5])
        return 0;
    uint64_t v = 0;
    for (const char *p = base + 5; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return v;
}

static char *part_path(const char *prefix, int part, bool gz)
{
    size_t len = strlen(prefix) + 32;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s-%s.csv%s", prefix, part_names[part], gz ? ".gz" : "");
    return p;
}

enum trk_status trk_trackml_read(const char *prefix, struct trk_event *ev)
{
    if (ev)
        trk_event_init(ev, 0);
    if (!prefix || !ev) {
        TRK_LOGE("bad argument: prefix %s, event %p", prefix ? prefix : "NULL", (void *)ev);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_trackml_text text[TRK_TRACKML_NPARTS];
    char *bufs[TRK_TRACKML_NPARTS] = {0}, *paths[TRK_TRACKML_NPARTS] = {0};
    memset(text, 0, sizeof text);
    enum trk_status st = TRK_OK;
    for (int part = 0; part < TRK_TRACKML_NPARTS; part++) {
        st = TRK_ERR_NOT_FOUND;
        for (int gz = 0; gz < 2 && st == TRK_ERR_NOT_FOUND; gz++) {
            free(paths[part]);
            if (!(paths[part] = part_path(prefix, part, gz))) {
                st = TRK_ERR_NO_MEMORY;
                goto fail;
            }
            st = slurp(paths[part], &bufs[part], &text[part].n);
        }
        if (st == TRK_ERR_NOT_FOUND && part != TRK_TRACKML_HITS)
            continue;
        if (st == TRK_ERR_NOT_FOUND)
            TRK_LOGE("%s-hits.csv: no such file, nor %s-hits.csv.gz (the prefix is the path "
                     "without \"-hits.csv\", e.g. dir/event000000001)", prefix, prefix);
        if (st != TRK_OK)
            goto fail;
        text[part].data = bufs[part];
        text[part].name = paths[part];
    }
    st = trk_trackml_parse_mem(text, number_from_prefix(prefix), ev);
fail:
    for (int part = 0; part < TRK_TRACKML_NPARTS; part++) {
        free(bufs[part]);
        free(paths[part]);
    }
    if (st != TRK_OK)
        trk_event_fini(ev);
    return st;
}

/* ---- submissions ---------------------------------------------------------------------- */

/* The event's hit_id column when it has one with nhits rows; NULL when absent; sets
 * *bad when present but malformed. */
static const uint64_t *event_hit_ids(const struct trk_event *ev, size_t nhits, bool *bad)
{
    *bad = false;
    if (!trk_event_find(ev, "hit_id"))
        return NULL;
    size_t n;
    const uint64_t *ids = trk_event_column(ev, "hit_id", TRK_DTYPE_UINT64, 0, &n);
    if (!ids || n != nhits) {
        if (ids)
            TRK_LOGE("column 'hit_id': %zu rows, expected %zu (one per hit)", n, nhits);
        *bad = true;
        return NULL;
    }
    return ids;
}

struct sub_row {
    uint64_t event, hit;
    int32_t track;
    size_t line;
};

enum trk_status trk_trackml_parse_submission_mem(const struct trk_trackml_text *t, size_t nhits,
                                                 struct trk_event *ev)
{
    if (!t || !t->data || !ev || nhits > INT32_MAX) {
        TRK_LOGE("bad argument: text %p, event %p, %zu hits", (const void *)t, (void *)ev, nhits);
        return TRK_ERR_INVALID_ARG;
    }
    static const char *const names[] = {"hit_id", "track_id", "event_id"};
    static const bool req[] = {true, true, false};
    struct csv c;
    int col[3];
    enum trk_status st;
    struct sub_row *rows = NULL;
    struct idmap map = {0};
    int32_t *out = NULL;
    uint32_t *row_of = NULL;
    if (trk_event_find(ev, "reco_hit_track")) {
        TRK_LOGE("%s: the event already has a reco_hit_track column", t->name);
        return TRK_ERR_INVALID_ARG;
    }
    bool bad;
    const uint64_t *ids = event_hit_ids(ev, nhits, &bad);
    if (bad)
        return TRK_ERR_INVALID_ARG;
    if ((st = csv_open(&c, t)) != TRK_OK || (st = csv_cols(&c, names, 3, req, col)) != TRK_OK)
        return st;
    size_t n = csv_count_rows(&c);
    rows = malloc((n ? n : 1) * sizeof *rows);
    row_of = malloc((nhits ? nhits : 1) * sizeof *row_of);
    out = malloc((nhits ? nhits : 1) * sizeof *out);
    if (!rows || !row_of || !out) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    bool several = false;
    size_t k = 0;
    for (int r; (r = csv_next(&c)) != 0; k++) {
        if (r < 0 || k >= n)
            ROW_FAIL();
        int64_t track;
        rows[k].event = 0;
        rows[k].line = c.line;
        if (!get_u64(&c, col[0], 1, &rows[k].hit) || !get_i64(&c, col[1], -1, &track) ||
            (col[2] >= 0 && !get_u64(&c, col[2], 0, &rows[k].event)))
            ROW_FAIL();
        if (track > INT32_MAX) {
            TRK_LOGE("%s:%zu: column 'track_id': %lld does not fit INT32 (relabel the tracks "
                     "0, 1, 2, ...)", c.name, c.line, (long long)track);
            ROW_FAIL();
        }
        rows[k].track = (int32_t)track;
        several = several || rows[k].event != rows[0].event;
    }
    if (ids) {
        if ((st = idmap_init(&map, nhits)) != TRK_OK)
            goto fail;
        for (size_t i = 0; i < nhits; i++) {
            bool found;
            if (ids[i])
                *idmap_slot(&map, ids[i], &found) = (uint32_t)i;
        }
    }
    for (size_t i = 0; i < nhits; i++) {
        out[i] = -1;
        row_of[i] = UINT32_MAX;
    }
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        if (several && rows[i].event != ev->number)
            continue;
        uint32_t h;
        if (ids ? !idmap_get(&map, rows[i].hit, &h) : rows[i].hit > nhits) {
            TRK_LOGE("%s:%zu: column 'hit_id': hit_id %llu is not a hit of this event (%s)",
                     c.name, rows[i].line, (unsigned long long)rows[i].hit,
                     ids ? "not in its hit_id column" : "expected 1..number of hits");
            ROW_FAIL();
        }
        if (!ids)
            h = (uint32_t)(rows[i].hit - 1);
        if (row_of[h] != UINT32_MAX) {
            TRK_LOGE("%s:%zu: column 'hit_id': hit_id %llu is listed twice (also on line %zu)",
                     c.name, rows[i].line, (unsigned long long)rows[i].hit,
                     rows[row_of[h]].line);
            ROW_FAIL();
        }
        out[h] = rows[i].track;
        row_of[h] = (uint32_t)i;
        used++;
    }
    if (several && !used) {
        TRK_LOGE("%s: no row has event_id %llu, the number of this event (the file holds "
                 "several events)", c.name, (unsigned long long)ev->number);
        ROW_FAIL();
    }
    int32_t *dst;
    if ((st = trk_event_add_column(ev, "reco_hit_track", TRK_DTYPE_INT32, nhits, 0,
                                   (void **)&dst)) != TRK_OK)
        goto fail;
    memcpy(dst, out, nhits * sizeof *out);
fail:
    free(rows);
    free(row_of);
    free(out);
    idmap_free(&map);
    return st;
}

enum trk_status trk_trackml_read_submission(const char *path, size_t nhits, struct trk_event *ev)
{
    if (!path || !ev) {
        TRK_LOGE("bad argument: path %s, event %p", path ? path : "NULL", (void *)ev);
        return TRK_ERR_INVALID_ARG;
    }
    char *data;
    size_t n;
    enum trk_status st = slurp(path, &data, &n);
    if (st == TRK_ERR_NOT_FOUND)
        TRK_LOGE("%s: no such file", path);
    if (st != TRK_OK)
        return st;
    struct trk_trackml_text t = {data, n, path};
    st = trk_trackml_parse_submission_mem(&t, nhits, ev);
    free(data);
    return st;
}

/* ---- writing -------------------------------------------------------------------------- */

struct sink {
    FILE *fp;
    gzFile gz;
    const char *path;
    char *buf;
    size_t len, cap;
    enum trk_status st;
};

static enum trk_status sink_open(struct sink *s, const char *path, bool gz)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->cap = 256 * 1024;
    s->buf = malloc(s->cap);
    if (!s->buf)
        return TRK_ERR_NO_MEMORY;
    if (gz)
        s->gz = gzopen(path, "wb6");
    else
        s->fp = fopen(path, "wb");
    if (!s->gz && !s->fp) {
        TRK_LOGE("%s: cannot create: %s (check the directory exists and is writable)", path,
                 strerror(errno));
        free(s->buf);
        s->buf = NULL;
        return TRK_ERR_IO;
    }
    return TRK_OK;
}

static void sink_flush(struct sink *s)
{
    if (s->st == TRK_OK && s->len) {
        bool ok = s->gz ? gzwrite(s->gz, s->buf, (unsigned)s->len) == (int)s->len
                        : fwrite(s->buf, 1, s->len, s->fp) == s->len;
        if (!ok) {
            TRK_LOGE("%s: write failed: %s (disk full?)", s->path, strerror(errno));
            s->st = TRK_ERR_IO;
        }
    }
    s->len = 0;
}

/* Room for one row (rows are far shorter than 4 KiB). */
static char *sink_row(struct sink *s)
{
    if (s->cap - s->len < 4096)
        sink_flush(s);
    return s->buf + s->len;
}

static enum trk_status sink_close(struct sink *s)
{
    sink_flush(s);
    if (s->gz && gzclose(s->gz) != Z_OK && s->st == TRK_OK) {
        TRK_LOGE("%s: gzclose failed (disk full?)", s->path);
        s->st = TRK_ERR_IO;
    }
    if (s->fp && fclose(s->fp) != 0 && s->st == TRK_OK) {
        TRK_LOGE("%s: close failed: %s (disk full?)", s->path, strerror(errno));
        s->st = TRK_ERR_IO;
    }
    free(s->buf);
    s->buf = NULL;
    return s->st;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, 0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* Formats m x 10^-k like %g (m > 0, without trailing zeros) into p; returns the end. */
static char *format_decimal(char *p, uint64_t m, int k)
{
    while (m && m % 10 == 0) {
        m /= 10;
        k--;
    }
    char d[24];
    int n = 0;
    uint64_t t = m;
    do {
        d[n++] = (char)('0' + t % 10);
        t /= 10;
    } while (t);
    for (int i = 0; i < n / 2; i++) {
        char c = d[i];
        d[i] = d[n - 1 - i];
        d[n - 1 - i] = c;
    }
    int e = n - 1 - k; /* decimal exponent of the leading digit */
    if (e < -4 || e >= 10) {
        *p++ = d[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)n - 1);
            p += n - 1;
        }
        *p++ = 'e';
        *p++ = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        if (ae < 10)
            *p++ = '0';
        return put_u64(p, (uint64_t)ae);
    }
    if (e < 0) {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -e - 1; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)n);
        return p + n;
    }
    for (int i = 0; i < n || i <= e; i++) {
        if (i == e + 1)
            *p++ = '.';
        *p++ = i < n ? d[i] : '0';
    }
    return p;
}

/* The shortest text (6 to 9 significant digits) that reads back as exactly f. */
static char *put_f32(char *p, float f)
{
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (isnan(f))
        return memcpy(p, "nan", 3), p + 3;
    if (isinf(f) || f == 0) {
        const char *s = f == 0 ? (signbit(f) ? "-0" : "0") : f < 0 ? "-inf" : "inf";
        size_t n = strlen(s);
        memcpy(p, s, n);
        return p + n;
    }
    char *start = p;
    if (f < 0)
        *p++ = '-';
    double a = fabs((double)f);
    int e = (int)floor(log10(a));
    for (int prec = 6; prec <= 9; prec++) {
        int k = prec - 1 - e; /* a x 10^k has prec digits before the point */
        if (k < -22 || k > 22)
            break;
        double scaled = k >= 0 ? a * p10[k] : a / p10[-k];
        uint64_t m = (uint64_t)llround(scaled);
        if (m == 0)
            continue;
        char *end = format_decimal(p, m, k);
        double d;
        if (parse_f64(p, (size_t)(end - p), &d) && (float)d == fabsf(f))
            return end;
    }
    /* Far from 1 or a near-tie: let the C library do it (locale-proofed). */
    p = start;
    int n = snprintf(p, 48, "%.9g", (double)f);
    for (int i = 0; i < n; i++)
        if (p[i] == ',')
            p[i] = '.';
    return p + n;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* The column `name` if the event has it with `rows` rows (width 0: 1-D); NULL when
 * absent; *bad when present with another dtype or shape. */
static const void *opt_col(const struct trk_event *ev, const char *name, enum trk_dtype dt,
                           uint32_t width, size_t rows, bool *bad)
{
    if (!trk_event_find(ev, name))
        return NULL;
    size_t n;
    const void *p = trk_event_column(ev, name, dt, width, &n);
    if (p && n != rows) {
        TRK_LOGE("column '%s': %zu rows, expected %zu", name, n, rows);
        p = NULL;
    }
    if (!p)
        *bad = true;
    return p;
}

struct wcols {
    size_t nh, np, nc;
    const float *pos, *tpos, *tmom, *weight, *pv, *pp, *cval;
    const int32_t *vlm, *hpart, *pq, *ppdg, *pnh, *cch;
    const uint64_t *hid, *pid;
    const uint32_t *chit;
};

static enum trk_status writer_columns(const struct trk_event *ev, struct wcols *w)
{
    memset(w, 0, sizeof *w);
    bool bad = false;
    w->pos = trk_event_column(ev, "hit_pos", TRK_DTYPE_FP32, 3, &w->nh);
    if (!w->pos)
        return TRK_ERR_INVALID_ARG;
    w->vlm = opt_col(ev, "hit_vlm", TRK_DTYPE_INT32, 3, w->nh, &bad);
    w->hid = opt_col(ev, "hit_id", TRK_DTYPE_UINT64, 0, w->nh, &bad);
    w->hpart = opt_col(ev, "hit_particle", TRK_DTYPE_INT32, 0, w->nh, &bad);
    w->tpos = opt_col(ev, "hit_truth_pos", TRK_DTYPE_FP32, 3, w->nh, &bad);
    w->tmom = opt_col(ev, "hit_truth_mom", TRK_DTYPE_FP32, 3, w->nh, &bad);
    w->weight = opt_col(ev, "hit_weight", TRK_DTYPE_FP32, 0, w->nh, &bad);
    if (trk_event_find(ev, "particle_id")) {
        w->pid = trk_event_column(ev, "particle_id", TRK_DTYPE_UINT64, 0, &w->np);
        if (!w->pid)
            return TRK_ERR_INVALID_ARG;
        w->pq = opt_col(ev, "particle_q", TRK_DTYPE_INT32, 0, w->np, &bad);
        w->ppdg = opt_col(ev, "particle_pdg", TRK_DTYPE_INT32, 0, w->np, &bad);
        w->pnh = opt_col(ev, "particle_nhits", TRK_DTYPE_INT32, 0, w->np, &bad);
        w->pv = opt_col(ev, "particle_v", TRK_DTYPE_FP32, 3, w->np, &bad);
        w->pp = opt_col(ev, "particle_p", TRK_DTYPE_FP32, 3, w->np, &bad);
    }
    if (trk_event_find(ev, "cell_hit")) {
        w->chit = trk_event_column(ev, "cell_hit", TRK_DTYPE_UINT32, 0, &w->nc);
        if (!w->chit)
            return TRK_ERR_INVALID_ARG;
        w->cch = opt_col(ev, "cell_ch", TRK_DTYPE_INT32, 2, w->nc, &bad);
        w->cval = opt_col(ev, "cell_value", TRK_DTYPE_FP32, 0, w->nc, &bad);
        if (!bad && (!w->cch || !w->cval)) {
            TRK_LOGE("the event has cell_hit but not cell_ch and cell_value");
            bad = true;
        }
    }
    if (bad)
        return TRK_ERR_INVALID_ARG;
    for (size_t i = 0; w->hpart && i < w->nh; i++)
        if (w->hpart[i] < -1 || (w->hpart[i] >= 0 && (size_t)w->hpart[i] >= w->np)) {
            TRK_LOGE("column 'hit_particle': hit %zu names particle %d, the event has %zu "
                     "particle_id rows", i, w->hpart[i], w->np);
            return TRK_ERR_INVALID_ARG;
        }
    for (size_t i = 0; w->chit && i < w->nc; i++)
        if (w->chit[i] >= w->nh) {
            TRK_LOGE("column 'cell_hit': cell %zu names hit %u, the event has %zu hits", i,
                     w->chit[i], w->nh);
            return TRK_ERR_INVALID_ARG;
        }
    return TRK_OK;
}

static uint64_t hit_id_of(const struct wcols *w, size_t i)
{
    return w->hid ? w->hid[i] : (uint64_t)i + 1;
}

static enum trk_status write_part(const char *prefix, int part, bool gz, const struct wcols *w)
{
    char *path = part_path(prefix, part, gz);
    if (!path)
        return TRK_ERR_NO_MEMORY;
    struct sink s;
    enum trk_status st = sink_open(&s, path, gz);
    if (st != TRK_OK) {
        free(path);
        return st;
    }
    char *p = sink_row(&s);
    static const float zero3[3] = {0, 0, 0};
    static const int32_t zero3i[3] = {0, 0, 0};
    switch (part) {
    case TRK_TRACKML_HITS:
        p = put_str(p, "hit_id,x,y,z,volume_id,layer_id,module_id\n");
        s.len = (size_t)(p - s.buf);
        for (size_t i = 0; i < w->nh; i++) {
            p = sink_row(&s);
            const int32_t *v = w->vlm ? &w->vlm[3 * i] : zero3i;
            p = put_u64(p, hit_id_of(w, i));
            for (int k = 0; k < 3; k++)
                *p++ = ',', p = put_f32(p, w->pos[3 * i + k]);
            for (int k = 0; k < 3; k++)
                *p++ = ',', p = put_i64(p, v[k]);
            *p++ = '\n';
            s.len = (size_t)(p - s.buf);
        }
        break;
    case TRK_TRACKML_CELLS:
        p = put_str(p, "hit_id,ch0,ch1,value\n");
        s.len = (size_t)(p - s.buf);
        for (size_t i = 0; i < w->nc; i++) {
            p = sink_row(&s);
            p = put_u64(p, hit_id_of(w, w->chit[i]));
            *p++ = ',', p = put_i64(p, w->cch[2 * i]);
            *p++ = ',', p = put_i64(p, w->cch[2 * i + 1]);
            *p++ = ',', p = put_f32(p, w->cval[i]);
            *p++ = '\n';
            s.len = (size_t)(p - s.buf);
        }
        break;
    case TRK_TRACKML_PARTICLES:
        p = put_str(p, "particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits\n");
        s.len = (size_t)(p - s.buf);
        for (size_t i = 0; i < w->np; i++) {
            p = sink_row(&s);
            p = put_u64(p, w->pid[i]);
            *p++ = ',', p = put_i64(p, w->ppdg ? w->ppdg[i] : 0);
            const float *v = w->pv ? &w->pv[3 * i] : zero3, *m = w->pp ? &w->pp[3 * i] : zero3;
            for (int k = 0; k < 3; k++)
                *p++ = ',', p = put_f32(p, v[k]);
            for (int k = 0; k < 3; k++)
                *p++ = ',', p = put_f32(p, m[k]);
            *p++ = ',', p = put_i64(p, w->pq ? w->pq[i] : 0);
            *p++ = ',', p = put_i64(p, w->pnh ? w->pnh[i] : 0);
            *p++ = '\n';
            s.len = (size_t)(p - s.buf);
        }
        break;
    default: /* truth */
        p = put_str(p, "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n");
        s.len = (size_t)(p - s.buf);
        for (size_t i = 0; i < w->nh; i++) {
            p = sink_row(&s);
            p = put_u64(p, hit_id_of(w, i));
            *p++ = ',', p = put_u64(p, w->hpart[i] >= 0 ? w->pid[w->hpart[i]] : 0);
            const float *tp = w->tpos ? &w->tpos[3 * i] : &w->pos[3 * i];
            const float *tm = w->tmom ? &w->tmom[3 * i] : zero3;
            for (int k = 0; k < 3; k++)
                *p++ = ',', p = put_f32(p, tp[k]);
            for (int k = 0; k < 3; k++)
                *p++ = ',', p = put_f32(p, tm[k]);
            *p++ = ',', p = put_f32(p, w->weight ? w->weight[i] : 0.0f);
            *p++ = '\n';
            s.len = (size_t)(p - s.buf);
        }
        break;
    }
    st = sink_close(&s);
    free(path);
    return st;
}

enum trk_status trk_trackml_write(const char *prefix, const struct trk_event *ev, bool gz)
{
    if (!prefix || !ev) {
        TRK_LOGE("bad argument: prefix %s, event %p", prefix ? prefix : "NULL",
                 (const void *)ev);
        return TRK_ERR_INVALID_ARG;
    }
    struct wcols w;
    enum trk_status st = writer_columns(ev, &w);
    if (st != TRK_OK) {
        TRK_LOGE("%s: the event cannot be written as TrackML CSV (see above)", prefix);
        return st;
    }
    bool want[TRK_TRACKML_NPARTS] = {true, w.chit != NULL, w.pid != NULL, w.hpart != NULL};
    /* Stale files of this prefix would be read back with the event: remove them. */
    for (int part = 0; part < TRK_TRACKML_NPARTS; part++)
        for (int z = 0; z < 2; z++) {
            char *path = part_path(prefix, part, z);
            if (!path)
                return TRK_ERR_NO_MEMORY;
            if (remove(path) != 0 && errno != ENOENT) {
                TRK_LOGE("%s: cannot remove the old file: %s", path, strerror(errno));
                st = TRK_ERR_IO;
            }
            free(path);
            if (st != TRK_OK)
                return st;
        }
    for (int part = 0; part < TRK_TRACKML_NPARTS; part++)
        if (want[part] && (st = write_part(prefix, part, gz, &w)) != TRK_OK)
            return st;
    return TRK_OK;
}

enum trk_status trk_trackml_write_submission(const char *path, const struct trk_event *ev)
{
    if (!path || !ev) {
        TRK_LOGE("bad argument: path %s, event %p", path ? path : "NULL", (const void *)ev);
        return TRK_ERR_INVALID_ARG;
    }
    size_t n;
    const int32_t *track = trk_event_column(ev, "reco_hit_track", TRK_DTYPE_INT32, 0, &n);
    if (!track)
        return TRK_ERR_INVALID_ARG;
    bool bad;
    struct wcols w;
    memset(&w, 0, sizeof w);
    w.hid = event_hit_ids(ev, n, &bad);
    if (bad)
        return TRK_ERR_INVALID_ARG;
    size_t len = strlen(path);
    bool gz = len > 3 && !strcmp(path + len - 3, ".gz");
    struct sink s;
    enum trk_status st = sink_open(&s, path, gz);
    if (st != TRK_OK)
        return st;
    char *p = put_str(sink_row(&s), "event_id,hit_id,track_id\n");
    s.len = (size_t)(p - s.buf);
    for (size_t i = 0; i < n; i++) {
        p = sink_row(&s);
        p = put_u64(p, ev->number);
        *p++ = ',', p = put_u64(p, hit_id_of(&w, i));
        *p++ = ',', p = put_i64(p, track[i]);
        *p++ = '\n';
        s.len = (size_t)(p - s.buf);
    }
    return sink_close(&s);
}
