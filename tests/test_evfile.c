/* Event files (trk/evfile.h): round trips of every dtype, random access, and every kind
 * of corruption giving a clean TRK_ERR_PARSE with a useful message. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trk/evfile.h"

/* ---- helpers ------------------------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/trk_test_evfile_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* An independent CRC32 (IEEE, as zlib) so the test checks the documented format. */
static uint32_t crc32_ref(uint32_t c, const unsigned char *p, size_t n)
{
    c = ~c;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void wr64(unsigned char *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

/* Recomputes every CRC of a (patched) file so that deeper checks are reached. */
static void fix_crcs(unsigned char *b, size_t n)
{
    uint32_t meta = rd32(b + 32);
    if (64 + (uint64_t)meta <= n)
        wr32(b + 60, crc32_ref(crc32_ref(0, b, 60), b + 64, meta));
    uint64_t ix = rd64(b + 24);
    if (ix + 16 > n)
        return;
    uint64_t count = rd64(b + ix + 8);
    if (count > (n - ix - 20) / 24)
        return;
    for (uint64_t i = 0; i < count; i++) {
        unsigned char *e = b + ix + 16 + 24 * i;
        uint64_t off = rd64(e);
        if (off >= n || n - off < 32)
            continue;
        uint64_t ns = rd32(b + off + 16);
        uint64_t head = 32 + 160 * ns;
        if (head <= n - off)
            wr32(e + 16, crc32_ref(0, b + off, (size_t)head));
    }
    size_t ilen = (size_t)(16 + 24 * count);
    wr32(b + ix + ilen, crc32_ref(0, b + ix, ilen));
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = tt_malloc((size_t)len);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void add_col(struct trk_event *ev, const char *name, enum trk_dtype dt, uint32_t ndim,
                    const int64_t *shape, uint64_t *rng)
{
    struct trk_tensor *t = NULL;
    assert_int_equal(trk_tensor_alloc(name, dt, ndim, shape, &t), TRK_OK);
    unsigned char *d = t->data;
    for (size_t i = 0; i < t->nbytes; i++)
        d[i] = (unsigned char)tt_rand_u32(rng);
    if (dt == TRK_DTYPE_BOOL)
        for (size_t i = 0; i < t->nbytes; i++)
            d[i] &= 1;
    assert_int_equal(trk_event_add(ev, t), TRK_OK);
}

/* A BYTES tensor of `count` strings "s0", "s11", "s222", ... */
static void add_bytes_col(struct trk_event *ev, const char *name, size_t count)
{
    size_t cap = 16 + count * 32, off = 0;
    unsigned char *d = tt_malloc(cap);
    for (size_t i = 0; i < count; i++) {
        char s[24];
        int len = snprintf(s, sizeof s, "s%zu", i * 111);
        wr32(d + off, (uint32_t)len);
        memcpy(d + off + 4, s, (size_t)len);
        off += 4 + (size_t)len;
    }
    int64_t shape[1] = {(int64_t)count};
    struct trk_tensor *t = NULL;
    assert_int_equal(trk_tensor_wrap(name, TRK_DTYPE_BYTES, 1, shape, d, off, &t), TRK_OK);
    t->owns_data = true;
    assert_int_equal(trk_event_add(ev, t), TRK_OK);
}

/* Event k: every fixed dtype at a few shapes (0 rows, scalars, 3-D), plus BYTES. */
static void make_event(struct trk_event *ev, uint64_t k)
{
    uint64_t rng = 0x5eedull + k;
    trk_event_init(ev, 1000 + k);
    for (int dt = TRK_DTYPE_BOOL; dt < TRK_DTYPE_BYTES; dt++) {
        char name[64];
        int64_t s1[1] = {(int64_t)(k * 7 + (uint64_t)dt)};
        snprintf(name, sizeof name, "col_%s", trk_dtype_name((enum trk_dtype)dt));
        add_col(ev, name, (enum trk_dtype)dt, 1, s1, &rng);
        int64_t s0[2] = {0, 3};
        snprintf(name, sizeof name, "empty_%s", trk_dtype_name((enum trk_dtype)dt));
        add_col(ev, name, (enum trk_dtype)dt, 2, s0, &rng);
    }
    add_col(ev, "scalar", TRK_DTYPE_FP64, 0, NULL, &rng);
    int64_t s3[3] = {2, 3, (int64_t)k + 1};
    add_col(ev, "cube", TRK_DTYPE_INT16, 3, s3, &rng);
    int64_t s8[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    add_col(ev, "eight_dims", TRK_DTYPE_UINT8, 8, s8, &rng);
    add_col(ev, "a_name_of_exactly_sixty_three_characters_xxxxxxxxxxxxxxxxxxxxxx",
            TRK_DTYPE_FP32, 1, (int64_t[1]){5}, &rng);
    add_bytes_col(ev, "strings", k % 4);
}

static void assert_events_equal(const struct trk_event *a, const struct trk_event *b)
{
    assert_int_equal(a->number, b->number);
    assert_int_equal(a->ntensors, b->ntensors);
    for (uint32_t i = 0; i < a->ntensors; i++) {
        const struct trk_tensor *x = a->tensors[i], *y = b->tensors[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->ndim, y->ndim);
        for (uint32_t d = 0; d < x->ndim; d++)
            assert_int_equal(x->shape[d], y->shape[d]);
        assert_int_equal(x->nbytes, y->nbytes);
        if (x->nbytes)
            assert_memory_equal(x->data, y->data, x->nbytes);
    }
}

#define NEVENTS 12
static const char *meta_text = "trk gen --detector trackml --seed 42 --pileup 200 # é";

static void write_file(const char *path, size_t nev)
{
    struct trk_evfile_writer *w = NULL;
    assert_int_equal(trk_evfile_create(path, TRK_DETECTOR_TRACKML, meta_text, &w), TRK_OK);
    for (size_t k = 0; k < nev; k++) {
        struct trk_event ev;
        make_event(&ev, k);
        assert_int_equal(trk_evfile_append(w, &ev), TRK_OK);
        trk_event_fini(&ev);
    }
    assert_int_equal(trk_evfile_finish(w), TRK_OK);
}

static void check_all(struct trk_evfile *f, size_t nev)
{
    assert_int_equal(trk_evfile_count(f), nev);
    assert_int_equal(trk_evfile_detector(f), TRK_DETECTOR_TRACKML);
    assert_string_equal(trk_evfile_meta(f), meta_text);
    for (size_t k = 0; k < nev; k++) {
        struct trk_event want, got;
        make_event(&want, k);
        assert_int_equal(trk_evfile_read(f, k, &got), TRK_OK);
        assert_events_equal(&want, &got);
        trk_event_fini(&want);
        trk_event_fini(&got);
    }
}

/* ---- round trips ------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
    (void)state;
    char path[128];
    path_in_tmp(path, sizeof path, "rt.trkev");
    write_file(path, NEVENTS);

    struct trk_evfile *f = NULL;
    assert_int_equal(trk_evfile_open(path, &f), TRK_OK);
    check_all(f, NEVENTS);
    trk_evfile_close(f);

    /* The same bytes in memory, at an odd address. */
    size_t n;
    unsigned char *b = slurp(path, &n);
    unsigned char *odd = tt_malloc(n + 1);
    memcpy(odd + 1, b, n);
    assert_int_equal(trk_evfile_open_mem(odd + 1, n, "odd", &f), TRK_OK);
    check_all(f, NEVENTS);
    trk_evfile_close(f);
    free(odd);

    /* Documented layout: magic, version, events and sections 64-byte aligned. */
    assert_memory_equal(b, "TRKEVF\r\n", 8);
    assert_int_equal(rd32(b + 8), 1);
    assert_int_equal(rd32(b + 12), TRK_DETECTOR_TRACKML);
    assert_int_equal(rd64(b + 16), NEVENTS);
    uint64_t ix = rd64(b + 24);
    assert_int_equal(ix % 64, 0);
    assert_memory_equal(b + ix, "TRKINDEX", 8);
    assert_int_equal(n, ix + 16 + 24 * NEVENTS + 4);
    for (int i = 0; i < NEVENTS; i++) {
        uint64_t off = rd64(b + ix + 16 + 24 * (uint64_t)i);
        assert_int_equal(off % 64, 0);
        assert_memory_equal(b + off, "TRKEVENT", 8);
        assert_int_equal(rd64(b + off + 8), 1000 + (uint64_t)i);
        uint32_t ns = rd32(b + off + 16);
        for (uint32_t s = 0; s < ns; s++)
            assert_int_equal(rd64(b + off + 32 + 160 * s + 136) % 64, 0);
    }
    free(b);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    char path[128];
    path_in_tmp(path, sizeof path, "empty.trkev");
    struct trk_evfile_writer *w = NULL;
    assert_int_equal(trk_evfile_create(path, TRK_DETECTOR_NONE, NULL, &w), TRK_OK);
    struct trk_event ev;
    trk_event_init(&ev, 7); /* an event without tensors */
    assert_int_equal(trk_evfile_append(w, &ev), TRK_OK);
    assert_int_equal(trk_evfile_finish(w), TRK_OK);
    struct trk_evfile *f = NULL;
    assert_int_equal(trk_evfile_open(path, &f), TRK_OK);
    assert_int_equal(trk_evfile_count(f), 1);
    assert_string_equal(trk_evfile_meta(f), "");
    assert_int_equal(trk_evfile_read(f, 0, &ev), TRK_OK);
    assert_int_equal(ev.number, 7);
    assert_int_equal(ev.ntensors, 0);
    trk_event_fini(&ev);
    trk_evfile_close(f);

    /* Zero events. */
    assert_int_equal(trk_evfile_create(path, TRK_DETECTOR_CMS, "m", &w), TRK_OK);
    assert_int_equal(trk_evfile_finish(w), TRK_OK);
    assert_int_equal(trk_evfile_open(path, &f), TRK_OK);
    assert_int_equal(trk_evfile_count(f), 0);
    assert_int_equal(trk_evfile_detector(f), TRK_DETECTOR_CMS);
    trk_evfile_close(f);
    trk_evfile_close(NULL);
    assert_int_equal(trk_evfile_finish(NULL), TRK_ERR_INVALID_ARG);
}

static void test_random_access(void **state)
{
    (void)state;
    char path[128];
    path_in_tmp(path, sizeof path, "ra.trkev");
    write_file(path, 40);
    struct trk_evfile *f = NULL;
    assert_int_equal(trk_evfile_open(path, &f), TRK_OK);
    uint64_t rng = 99;
    for (int it = 0; it < 100; it++) {
        size_t k = tt_rand_u32(&rng) % 40;
        struct trk_event want, got;
        make_event(&want, k);
        assert_int_equal(trk_evfile_read(f, k, &got), TRK_OK);
        assert_events_equal(&want, &got);
        trk_event_fini(&want);
        trk_event_fini(&got);
    }
    struct trk_event ev;
    trk_log_set_sink(tt_log_capture, NULL);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_evfile_read(f, 40, &ev), TRK_ERR_INVALID_ARG);
    assert_int_equal(ev.ntensors, 0);
    assert_non_null(strstr(tt_log_text, "event 40 requested, the file has 40"));
    trk_log_set_sink(NULL, NULL);
    trk_evfile_close(f);
}

static void test_writer_errors(void **state)
{
    (void)state;
    struct trk_evfile_writer *w = NULL;
    trk_log_set_sink(tt_log_capture, NULL);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_evfile_create("/nonexistent-dir/x.trkev", TRK_DETECTOR_CMS, "", &w),
                     TRK_ERR_IO);
    assert_null(w);
    assert_non_null(strstr(tt_log_text, "/nonexistent-dir/x.trkev"));

    char path[128];
    path_in_tmp(path, sizeof path, "werr.trkev");
    assert_int_equal(trk_evfile_create(path, TRK_DETECTOR_CMS, "", &w), TRK_OK);
    struct trk_event ev;
    trk_event_init(&ev, 1);
    struct trk_tensor *t = NULL;
    float data[4] = {0};
    assert_int_equal(trk_tensor_wrap("x", TRK_DTYPE_FP32, 1, (int64_t[1]){4}, data, 16, &t),
                     TRK_OK);
    t->nbytes = 12; /* inconsistent with the shape */
    assert_int_equal(trk_event_add(&ev, t), TRK_OK);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_evfile_append(w, &ev), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "tensor 'x'"));
    t->nbytes = 16;
    assert_int_equal(trk_evfile_append(w, &ev), TRK_OK);
    assert_int_equal(trk_evfile_finish(w), TRK_OK);
    trk_event_fini(&ev);

    struct trk_evfile *f = NULL;
    tt_log_text[0] = '\0';
    assert_int_equal(trk_evfile_open("/nonexistent-dir/x.trkev", &f), TRK_ERR_NOT_FOUND);
    assert_null(f);
    trk_log_set_sink(NULL, NULL);
}

/* ---- corruption --------------------------------------------------------------------- */

/* Opens buffer b and reads every event: returns TRK_OK only if everything decodes to
 * exactly the original events (so corruption never yields wrong data silently). */
static enum trk_status open_and_read_all(const unsigned char *b, size_t n, size_t nev,
                                         bool *identical)
{
    struct trk_evfile *f = NULL;
    enum trk_status st = trk_evfile_open_mem(b, n, "corrupt.trkev", &f);
    *identical = false;
    if (st != TRK_OK) {
        assert_null(f);
        return st;
    }
    bool same = trk_evfile_count(f) == nev && !strcmp(trk_evfile_meta(f), meta_text) &&
                trk_evfile_detector(f) == TRK_DETECTOR_TRACKML;
    for (size_t k = 0; k < trk_evfile_count(f); k++) {
        struct trk_event got;
        st = trk_evfile_read(f, k, &got);
        if (st != TRK_OK) {
            assert_int_equal(got.ntensors, 0);
            trk_evfile_close(f);
            return st;
        }
        if (same && k < nev) {
            struct trk_event want;
            make_event(&want, k);
            same = want.number == got.number && want.ntensors == got.ntensors;
            for (uint32_t i = 0; same && i < want.ntensors; i++) {
                const struct trk_tensor *x = want.tensors[i], *y = got.tensors[i];
                same = !strcmp(x->name, y->name) && x->dtype == y->dtype &&
                       x->ndim == y->ndim && x->nbytes == y->nbytes &&
                       !memcmp(x->shape, y->shape, sizeof x->shape) &&
                       (!x->nbytes || !memcmp(x->data, y->data, x->nbytes));
            }
            trk_event_fini(&want);
        }
        trk_event_fini(&got);
    }
    trk_evfile_close(f);
    *identical = same;
    return TRK_OK;
}

static unsigned char *small_file(size_t *n)
{
    char path[128];
    path_in_tmp(path, sizeof path, "small.trkev");
    write_file(path, 3);
    return slurp(path, n);
}

static void test_truncated(void **state)
{
    (void)state;
    size_t n;
    unsigned char *b = small_file(&n);
    trk_log_set_sink(tt_log_capture, NULL);
    for (size_t len = 0; len < n; len++) {
        tt_log_text[0] = '\0';
        bool same;
        unsigned char *cut = tt_malloc(len);
        memcpy(cut, b, len);
        enum trk_status st = open_and_read_all(cut, len, 3, &same);
        free(cut);
        if (st != TRK_ERR_PARSE)
            fail_msg("truncated to %zu of %zu bytes: status %d, expected TRK_ERR_PARSE", len, n,
                     (int)st);
        if (!strstr(tt_log_text, "corrupt.trkev: "))
            fail_msg("truncated to %zu: the message does not name the file: %s", len,
                     tt_log_text);
    }
    tt_log_text[0] = '\0';
    bool same;
    assert_int_equal(open_and_read_all(b, 40, 3, &same), TRK_ERR_PARSE);
    assert_non_null(strstr(tt_log_text, "40 bytes is too short"));
    trk_log_set_sink(NULL, NULL);
    free(b);
}

static void test_flipped_bytes(void **state)
{
    (void)state;
    size_t n;
    unsigned char *b = small_file(&n);
    trk_log_set_sink(tt_log_capture, NULL);
    size_t detected = 0, harmless = 0;
    for (size_t off = 0; off < n; off++) {
        for (int bit = 0; bit < 8; bit += 7) {
            b[off] ^= (unsigned char)(1u << bit);
            tt_log_text[0] = '\0';
            bool same;
            enum trk_status st = open_and_read_all(b, n, 3, &same);
            b[off] ^= (unsigned char)(1u << bit);
            if (st == TRK_OK && !same)
                fail_msg("flipping bit %d of byte %zu gave different data without an error",
                         bit, off);
            if (st != TRK_OK && st != TRK_ERR_PARSE)
                fail_msg("flipping bit %d of byte %zu: status %d", bit, off, (int)st);
            if (st == TRK_ERR_PARSE && !strstr(tt_log_text, "corrupt.trkev: "))
                fail_msg("byte %zu: the message does not name the file: %s", off, tt_log_text);
            if (st == TRK_OK)
                harmless++;
            else
                detected++;
        }
    }
    /* Only zero padding is unchecked; everything else must be detected. */
    print_message("flipped bits: %zu detected, %zu in padding\n", detected, harmless);
    assert_true(detected > harmless);

    /* Messages name the region: header, index, event table, section data. */
    struct {
        size_t off;
        const char *want;
    } cases[4];
    uint64_t ix = rd64(b + 24), ev0 = rd64(b + ix + 16);
    uint64_t data0 = rd64(b + ev0 + 32 + 136);
    cases[0].off = 13, cases[0].want = "header CRC mismatch";
    cases[1].off = (size_t)ix + 20, cases[1].want = "index CRC mismatch";
    cases[2].off = (size_t)ev0 + 40, cases[2].want = "event 0: byte offset";
    cases[3].off = (size_t)(ev0 + data0), cases[3].want = "section 'col_BOOL': byte offset";
    for (int i = 0; i < 4; i++) {
        b[cases[i].off] ^= 0x10;
        tt_log_text[0] = '\0';
        bool same;
        assert_int_equal(open_and_read_all(b, n, 3, &same), TRK_ERR_PARSE);
        if (!strstr(tt_log_text, cases[i].want))
            fail_msg("flip at %zu: expected '%s' in: %s", cases[i].off, cases[i].want,
                     tt_log_text);
        b[cases[i].off] ^= 0x10;
    }
    trk_log_set_sink(NULL, NULL);
    free(b);
}

/* Patches a field, fixes the CRCs so the deeper check is reached, expects PARSE and
 * `want` in the message. */
static void expect_patch(const unsigned char *orig, size_t n, size_t off, int width,
                         uint64_t value, const char *want)
{
    unsigned char *b = tt_malloc(n);
    memcpy(b, orig, n);
    if (width == 4)
        wr32(b + off, (uint32_t)value);
    else
        wr64(b + off, value);
    fix_crcs(b, n);
    tt_log_text[0] = '\0';
    bool same;
    enum trk_status st = open_and_read_all(b, n, 3, &same);
    if (st != TRK_ERR_PARSE || !strstr(tt_log_text, want))
        fail_msg("patching offset %zu to %llu: status %d, expected TRK_ERR_PARSE with '%s'; log: "
                 "%s", off, (unsigned long long)value, (int)st, want, tt_log_text);
    free(b);
}

static void test_bad_fields(void **state)
{
    (void)state;
    size_t n;
    unsigned char *b = small_file(&n);
    trk_log_set_sink(tt_log_capture, NULL);
    uint64_t ix = rd64(b + 24), ev0 = rd64(b + ix + 16), ev1 = rd64(b + ix + 16 + 24);
    size_t sec0 = (size_t)ev0 + 32; /* first section entry of event 0 */

    unsigned char *m = tt_malloc(n);
    memcpy(m, b, n);
    m[0] = 'X';
    tt_log_text[0] = '\0';
    bool same;
    assert_int_equal(open_and_read_all(m, n, 3, &same), TRK_ERR_PARSE);
    assert_non_null(strstr(tt_log_text, "bad magic"));
    free(m);

    expect_patch(b, n, 8, 4, 2, "format version 2 is not supported (this build reads version 1");
    expect_patch(b, n, 12, 4, 9, "unknown detector kind 9");
    expect_patch(b, n, 16, 8, 1ull << 62, "the index lists 3 events");
    expect_patch(b, n, 24, 8, 0, "the writer never finished this file");
    expect_patch(b, n, 24, 8, UINT64_MAX - 63, "outside the");
    expect_patch(b, n, 32, 4, 0xffffffffu, "metadata length");
    /* Both counts huge: the index cannot hold them. */
    {
        unsigned char *c = tt_malloc(n);
        memcpy(c, b, n);
        wr64(c + 16, 1ull << 61);
        expect_patch(c, n, (size_t)ix + 8, 8, 1ull << 61, "needs a");
        free(c);
    }
    /* Index entries. */
    expect_patch(b, n, (size_t)ix + 16, 8, UINT64_MAX - 63, "index entry");
    expect_patch(b, n, (size_t)ix + 24, 8, UINT64_MAX, "index entry");
    expect_patch(b, n, (size_t)ix + 16 + 24, 8, ev0, "overlaps");
    expect_patch(b, n, (size_t)ix + 16, 8, ev1 + 1, "misaligned");
    /* Event header. */
    expect_patch(b, n, (size_t)ev0 + 16, 4, 0xffffffffu, "section count 4294967295 does not fit");
    expect_patch(b, n, (size_t)ev0 + 24, 8, 12345, "block size 12345 differs");
    /* Section entries. */
    expect_patch(b, n, sec0 + 64, 4, 99, "unknown dtype 99");
    expect_patch(b, n, sec0 + 64, 4, 0, "unknown dtype 0");
    expect_patch(b, n, sec0 + 68, 4, 9, "ndim 9 exceeds 8");
    expect_patch(b, n, sec0 + 72, 8, 1ull << 62, "do not match");
    expect_patch(b, n, sec0 + 72, 8, 1ull << 63, "shape[0]");
    expect_patch(b, n, sec0 + 80, 8, 5, "shape[1] = 5 is invalid");
    expect_patch(b, n, sec0 + 136, 8, UINT64_MAX - 63, "outside the event's");
    expect_patch(b, n, sec0 + 136, 8, 0, "outside the event's");
    expect_patch(b, n, sec0 + 144, 8, UINT64_MAX, "do not match");
    expect_patch(b, n, sec0 + 0, 8, 0, "the name is empty");
    {
        unsigned char *c = tt_malloc(n);
        memcpy(c, b, n);
        memset(c + sec0, 'a', 64);
        fix_crcs(c, n);
        tt_log_text[0] = '\0';
        assert_int_equal(open_and_read_all(c, n, 3, &same), TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "not NUL-terminated"));
        /* Two sections with one name. */
        memcpy(c, b, n);
        memcpy(c + sec0 + 160, c + sec0, 64);
        fix_crcs(c, n);
        tt_log_text[0] = '\0';
        assert_int_equal(open_and_read_all(c, n, 3, &same), TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "a second section with this name"));
        free(c);
    }
    /* A shape whose element count overflows size_t. */
    {
        unsigned char *c = tt_malloc(n);
        memcpy(c, b, n);
        wr32(c + sec0 + 68, 3);
        wr64(c + sec0 + 72, 1ull << 40);
        wr64(c + sec0 + 80, 1ull << 40);
        wr64(c + sec0 + 88, 1ull << 40);
        fix_crcs(c, n);
        tt_log_text[0] = '\0';
        assert_int_equal(open_and_read_all(c, n, 3, &same), TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "overflows"));
        free(c);
    }
    /* BYTES payload whose length prefixes lie (the 'strings' section of event 1). */
    {
        struct trk_evfile *f = NULL;
        assert_int_equal(trk_evfile_open_mem(b, n, "x", &f), TRK_OK);
        trk_evfile_close(f);
        uint32_t ns = rd32(b + ev1 + 16);
        size_t e = (size_t)ev1 + 32 + 160 * (ns - 1); /* strings is the last section */
        assert_memory_equal(b + e, "strings", 8);
        uint64_t doff = rd64(b + e + 136);
        unsigned char *c = tt_malloc(n);
        memcpy(c, b, n);
        wr32(c + ev1 + doff, 1000);
        wr32(c + e + 152, crc32_ref(0, c + ev1 + doff, (size_t)rd64(c + e + 144)));
        fix_crcs(c, n);
        tt_log_text[0] = '\0';
        assert_int_equal(open_and_read_all(c, n, 3, &same), TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "event 1: section 'strings'"));
        assert_non_null(strstr(tt_log_text, "length-prefixed"));
        free(c);
    }
    trk_log_set_sink(NULL, NULL);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),      cmocka_unit_test(test_empty_and_null),
        cmocka_unit_test(test_random_access),  cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_truncated),      cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_bad_fields),
    };
    return cmocka_run_group_tests_name("evfile", tests, setup_dir, teardown_dir);
}
