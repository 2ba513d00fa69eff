/* trk_histogram_u32 and trk_assoc_build on every device against serial references.
 * The order inside an association bin is unspecified: bins are compared as sets. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

/* Both sides of the shared-memory limit (4096 bins) and far past it. */
static const uint32_t bin_counts[] = {1, 7, 1024, 4096, 4097, 100000};
#define NBIN_COUNTS (sizeof bin_counts / sizeof bin_counts[0])

/* Keys mostly below nbins; about one in nine lands past it and must be ignored. */
static uint32_t *random_keys(uint32_t n, uint32_t nbins, uint64_t *rng)
{
    uint32_t *keys = tt_malloc((size_t)n * 4);
    uint32_t range = nbins + nbins / 8 + 1;
    for (uint32_t i = 0; i < n; i++)
        keys[i] = tt_rand_u32(rng) % range;
    if (n > 2)
        keys[n / 2] = UINT32_MAX;
    return keys;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void check_histogram(uint32_t n, uint32_t nbins, uint64_t *rng)
{
    uint32_t *keys = random_keys(n, nbins, rng);
    uint32_t *want = tt_malloc((size_t)nbins * 4), *got = tt_malloc((size_t)nbins * 4);
    /* counts is not cleared by the helper: start from arbitrary values. */
    for (uint32_t k = 0; k < nbins; k++)
        want[k] = tt_rand_u32(rng) % 1000;
    struct trk_buffer *kb = tt_upload(keys, (size_t)n * 4);
    struct trk_buffer *cb = tt_upload(want, (size_t)nbins * 4);
    for (uint32_t i = 0; i < n; i++)
        if (keys[i] < nbins)
            want[keys[i]]++;

    assert_int_equal(trk_histogram_u32(tt.q, kb, n, nbins, cb), TRK_OK);
    tt_download(got, cb, (size_t)nbins * 4);
    tt_assert_equal_u32(got, want, nbins, "histogram_u32");

    trk_buffer_free(kb);
    trk_buffer_free(cb);
    free(keys);
    free(want);
    free(got);
}

static void check_assoc(uint32_t n, uint32_t nbins, uint64_t *rng)
{
    uint32_t *keys = random_keys(n, nbins, rng);
    uint32_t *want_off = tt_malloc(((size_t)nbins + 1) * 4);
    uint32_t *got_off = tt_malloc(((size_t)nbins + 1) * 4);
    uint32_t *want_content = tt_malloc((size_t)n * 4), *got_content = tt_malloc((size_t)n * 4);
    memset(want_off, 0, ((size_t)nbins + 1) * 4);
    for (uint32_t i = 0; i < n; i++)
        if (keys[i] < nbins)
            want_off[keys[i] + 1]++;
    for (uint32_t k = 0; k < nbins; k++)
        want_off[k + 1] += want_off[k];
    /* Filling in index order gives every bin sorted ascending. */
    uint32_t *cursor = tt_malloc((size_t)nbins * 4);
    memcpy(cursor, want_off, (size_t)nbins * 4);
    for (uint32_t i = 0; i < n; i++)
        if (keys[i] < nbins)
            want_content[cursor[keys[i]]++] = i;

    struct trk_buffer *kb = tt_upload(keys, (size_t)n * 4);
    struct trk_buffer *ob = tt_alloc(((size_t)nbins + 1) * 4);
    struct trk_buffer *content = tt_alloc((size_t)n * 4);
    struct trk_buffer *scratch = tt_alloc(trk_assoc_scratch_size(tt.dev, n, nbins));
    assert_int_equal(trk_assoc_build(tt.q, kb, n, nbins, ob, content, scratch), TRK_OK);
    tt_download(got_off, ob, ((size_t)nbins + 1) * 4);
    tt_assert_equal_u32(got_off, want_off, (size_t)nbins + 1, "assoc_build offsets");
    uint32_t placed = want_off[nbins];
    tt_download(got_content, content, (size_t)placed * 4);
    for (uint32_t k = 0; k < nbins; k++)
        qsort(got_content + want_off[k], want_off[k + 1] - want_off[k], 4, cmp_u32);
    tt_assert_equal_u32(got_content, want_content, placed, "assoc_build content (bins sorted)");

    trk_buffer_free(kb);
    trk_buffer_free(ob);
    trk_buffer_free(content);
    trk_buffer_free(scratch);
    free(keys);
    free(want_off);
    free(got_off);
    free(want_content);
    free(got_content);
    free(cursor);
}

static void test_histogram_sizes(void **state)
{
    (void)state;
    uint64_t rng = 0x4157001;
    for (size_t s = 0; s < tt_nsizes; s++)
        for (size_t b = 0; b < NBIN_COUNTS; b++)
            check_histogram(tt_sizes[s], bin_counts[b], &rng);
}

static void test_assoc_sizes(void **state)
{
    (void)state;
    uint64_t rng = 0xa550c001;
    for (size_t s = 0; s < tt_nsizes; s++)
        for (size_t b = 0; b < NBIN_COUNTS; b++)
            check_assoc(tt_sizes[s], bin_counts[b], &rng);
}

/* Every key in one bin: the worst case for atomics and for the fill cursors. */
static void test_assoc_one_hot_bin(void **state)
{
    (void)state;
    uint32_t n = 65537, nbins = 300;
    uint32_t *keys = tt_malloc((size_t)n * 4), *got = tt_malloc((size_t)n * 4);
    for (uint32_t i = 0; i < n; i++)
        keys[i] = 123;
    struct trk_buffer *kb = tt_upload(keys, (size_t)n * 4);
    struct trk_buffer *ob = tt_alloc(((size_t)nbins + 1) * 4);
    struct trk_buffer *content = tt_alloc((size_t)n * 4);
    struct trk_buffer *scratch = tt_alloc(trk_assoc_scratch_size(tt.dev, n, nbins));
    assert_int_equal(trk_assoc_build(tt.q, kb, n, nbins, ob, content, scratch), TRK_OK);
    uint32_t off[301];
    tt_download(off, ob, sizeof off);
    for (uint32_t k = 0; k <= nbins; k++)
        assert_int_equal(off[k], k <= 123 ? 0 : n);
    tt_download(got, content, (size_t)n * 4);
    qsort(got, n, 4, cmp_u32);
    for (uint32_t i = 0; i < n; i++)
        keys[i] = i;
    tt_assert_equal_u32(got, keys, n, "assoc_build one-hot content");
    trk_buffer_free(kb);
    trk_buffer_free(ob);
    trk_buffer_free(content);
    trk_buffer_free(scratch);
    free(keys);
    free(got);
}

static void test_histogram_errors(void **state)
{
    (void)state;
    uint32_t n = 100, nbins = 10;
    struct trk_buffer *keys = tt_alloc(n * 4), *counts = tt_alloc(nbins * 4);
    struct trk_buffer *offsets = tt_alloc((nbins + 1) * 4), *content = tt_alloc(n * 4);
    struct trk_buffer *scratch = tt_alloc(trk_assoc_scratch_size(tt.dev, n, nbins));
    struct trk_buffer *empty = tt_alloc(0);
    assert_int_equal(trk_histogram_u32(NULL, keys, n, nbins, counts), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_histogram_u32(tt.q, NULL, n, nbins, counts), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_histogram_u32(tt.q, keys, n, nbins, NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_histogram_u32(tt.q, keys, n + 1, nbins, counts), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_histogram_u32(tt.q, keys, n, nbins + 1, counts), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_histogram_u32(tt.q, empty, 0, nbins, counts), TRK_OK);
    assert_int_equal(trk_histogram_u32(tt.q, keys, n, 0, empty), TRK_OK);

    assert_int_equal(trk_assoc_build(NULL, keys, n, nbins, offsets, content, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_assoc_build(tt.q, NULL, n, nbins, offsets, content, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_assoc_build(tt.q, keys, n, nbins, NULL, content, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_assoc_build(tt.q, keys, n, nbins, offsets, NULL, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_assoc_build(tt.q, keys, n, nbins, offsets, content, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_assoc_build(tt.q, keys, n, nbins, counts, content, scratch),
                     TRK_ERR_INVALID_ARG); /* offsets needs nbins + 1 entries */
    assert_int_equal(trk_assoc_build(tt.q, keys, n + 1, nbins, offsets, content, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_assoc_build(tt.q, keys, n, nbins, offsets, content, empty),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_assoc_build(tt.q, keys, n, UINT32_MAX, offsets, content, scratch),
                     TRK_ERR_INVALID_ARG);

    /* n == 0 still leaves valid, empty offsets. */
    uint32_t junk[11], got[11], zero[11] = {0};
    for (int i = 0; i < 11; i++)
        junk[i] = 0xabcdef;
    assert_int_equal(trk_buffer_write(tt.q, offsets, 0, junk, sizeof junk, true), TRK_OK);
    assert_int_equal(trk_assoc_build(tt.q, empty, 0, nbins, offsets, empty, scratch), TRK_OK);
    tt_download(got, offsets, sizeof got);
    tt_assert_equal_u32(got, zero, 11, "assoc_build offsets for n == 0");

    trk_buffer_free(keys);
    trk_buffer_free(counts);
    trk_buffer_free(offsets);
    trk_buffer_free(content);
    trk_buffer_free(scratch);
    trk_buffer_free(empty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_sizes),
        cmocka_unit_test(test_assoc_sizes),
        cmocka_unit_test(test_assoc_one_hot_bin),
        cmocka_unit_test(test_histogram_errors),
    };
    return tt_run_on_all_devices("histogram", tests, sizeof tests / sizeof tests[0]);
}
