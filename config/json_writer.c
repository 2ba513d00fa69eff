/* trkserve config — a growing string with a JSON string escaper, and small text helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static bool buf_reserve(struct trk_cfg_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra > (size_t)-1 / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void trk_cfg_buf_putn(struct trk_cfg_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void trk_cfg_buf_puts(struct trk_cfg_buf *b, const char *s)
{
    trk_cfg_buf_putn(b, s, strlen(s));
}

void trk_cfg_buf_printf(struct trk_cfg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        trk_cfg_buf_putn(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s starts an invalid one
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void trk_cfg_buf_json_string(struct trk_cfg_buf *b, const char *s)
{
    trk_cfg_buf_putn(b, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        size_t n;
        /* copy the longest run that needs no escaping in one go */
        while (*p && *p != '"' && *p != '\\' && *p >= 0x20 && (n = utf8_seq(p)) != 0)
            p += n;
        if (p > run)
            trk_cfg_buf_putn(b, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        switch (*p) {
        case '"': trk_cfg_buf_puts(b, "\\\""); break;
        case '\\': trk_cfg_buf_puts(b, "\\\\"); break;
        case '\b': trk_cfg_buf_puts(b, "\\b"); break;
        case '\f': trk_cfg_buf_puts(b, "\\f"); break;
        case '\n': trk_cfg_buf_puts(b, "\\n"); break;
        case '\r': trk_cfg_buf_puts(b, "\\r"); break;
        case '\t': trk_cfg_buf_puts(b, "\\t"); break;
        default:
            if (*p < 0x20)
                trk_cfg_buf_printf(b, "\\u%04x", *p);
            else
                trk_cfg_buf_puts(b, "\\ufffd"); /* a byte of invalid UTF-8 */
        }
        p++;
    }
    trk_cfg_buf_putn(b, "\"", 1);
}

char *trk_cfg_buf_finish(struct trk_cfg_buf *b)
{
    if (!b->oom && !b->p)
        buf_reserve(b, 0);
    if (b->oom) {
        trk_cfg_buf_free(b);
        return NULL;
    }
    b->p[b->len] = '\0';
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void trk_cfg_buf_free(struct trk_cfg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int lower(char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive edit distance counting a swap of neighbours as one edit (optimal
 * string alignment), giving up (returning limit + 1) once it must exceed limit. Words
 * longer than 63 characters are never close. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63 || (la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    size_t prev2[64], prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t best = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
            size_t v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
                lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
            if (v < best)
                best = v;
        }
        if (best > limit)
            return limit + 1;
        memcpy(prev2, prev, (lb + 1) * sizeof prev[0]);
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

static bool prefix_of(const char *p, const char *s)
{
    for (; *p; p++, s++)
        if (lower(*p) != lower(*s))
            return false;
    return true;
}

static bool subsequence_of(const char *w, const char *s)
{
    for (; *s && *w; s++)
        if (lower(*s) == lower(*w))
            w++;
    return !*w;
}

const char *trk_cfg_suggest(const char *word, const char *const *cands, size_t ncands)
{
    size_t len = strlen(word);
    size_t limit = len / 3 < 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t bestd = limit + 1;
    for (size_t i = 0; i < ncands; i++) {
        size_t d = edit_distance(word, cands[i], limit);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    if (best)
        return best;
    /* a shortened or abbreviated spelling: "max_batch", "dtype" */
    for (int pass = 0; pass < 2 && !best; pass++) {
        if (len < (pass ? 4u : 3u))
            break;
        for (size_t i = 0; i < ncands; i++) {
            bool hit = pass ? subsequence_of(word, cands[i])
                            : prefix_of(word, cands[i]) || prefix_of(cands[i], word);
            if (hit && (!best || strlen(cands[i]) < strlen(best)))
                best = cands[i];
        }
    }
    return best;
}

bool trk_cfg_model_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= TRK_MODEL_NAME_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}
