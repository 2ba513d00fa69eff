/* trk_sort_pairs_u32 on every device against a host stable sort (qsort on (key,
 * original index)): every standard size, every key width, duplicate-heavy and
 * degenerate key sets (the pass-skipping paths), keys only, and the error paths. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>

enum key_dist {
    DIST_RANDOM,  /* full 32-bit random: no pass skipped */
    DIST_FEW,     /* 16 distinct small keys: the upper passes are uniform */
    DIST_SAME,    /* one key: every pass uniform */
    DIST_MIDDLE,  /* only bits 8..15 vary: passes 0, 2, 3 uniform */
    DIST_HIGH,    /* only the top byte varies */
    DIST_COUNT
};

static uint32_t key_of(enum key_dist dist, uint64_t *rng)
{
    uint32_t r = tt_rand_u32(rng);
    switch (dist) {
    case DIST_RANDOM:
        return r;
    case DIST_FEW:
        return r % 16;
    case DIST_SAME:
        return 0xdeadbeefu;
    case DIST_MIDDLE:
        return (r % 5) << 8 | 0x11u;
    case DIST_HIGH:
        return r & 0xff000000u;
    default:
        return 0;
    }
}

static uint32_t ref_mask;
static const uint32_t *ref_keys;

static int ref_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    uint32_t ka = ref_keys[a] & ref_mask, kb = ref_keys[b] & ref_mask;
    if (ka != kb)
        return ka < kb ? -1 : 1;
    return a < b ? -1 : a > b; /* original order breaks ties: stable */
}

/* perm[r] = index of the key that a stable sort puts at rank r. */
static void ref_sort(const uint32_t *keys, uint32_t n, uint32_t key_bits, uint32_t *perm)
{
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    ref_keys = keys;
    ref_mask = key_bits == 32 ? 0xffffffffu : (1u << key_bits) - 1;
    qsort(perm, n, sizeof *perm, ref_cmp);
}

/* Sorts n keys of distribution dist by key_bits on the device, with and without
 * values, and compares keys, values and the untouched inputs with the reference. */
static void check_sort(uint32_t n, uint32_t key_bits, enum key_dist dist, uint64_t seed)
{
    uint64_t rng = seed;
    size_t bytes = (size_t)n * 4;
    uint32_t *keys = tt_malloc(bytes), *vals = tt_malloc(bytes), *perm = tt_malloc(bytes);
    uint32_t *want = tt_malloc(bytes), *got = tt_malloc(bytes);
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = key_of(dist, &rng);
        vals[i] = i * 2654435761u ^ 0x5a5a5a5au;
    }
    ref_sort(keys, n, key_bits, perm);

    struct trk_buffer *kin = tt_upload(keys, bytes), *vin = tt_upload(vals, bytes);
    struct trk_buffer *kout = tt_alloc(bytes), *vout = tt_alloc(bytes);
    struct trk_buffer *scratch = tt_alloc(trk_sort_scratch_size(tt.dev, n));
    char what[96];

    for (int with_vals = 1; with_vals >= 0; with_vals--) {
        assert_int_equal(trk_sort_pairs_u32(tt.q, kin, with_vals ? vin : NULL, kout,
                                            with_vals ? vout : NULL, n, key_bits, scratch),
                         TRK_OK);
        for (uint32_t r = 0; r < n; r++)
            want[r] = keys[perm[r]];
        snprintf(what, sizeof what, "keys n=%u bits=%u dist=%d vals=%d", n, key_bits, (int)dist,
                 with_vals);
        tt_download(got, kout, bytes);
        tt_assert_equal_u32(got, want, n, what);
        if (with_vals) {
            for (uint32_t r = 0; r < n; r++)
                want[r] = vals[perm[r]];
            snprintf(what, sizeof what, "vals n=%u bits=%u dist=%d", n, key_bits, (int)dist);
            tt_download(got, vout, bytes);
            tt_assert_equal_u32(got, want, n, what);
            tt_download(got, vin, bytes);
            tt_assert_equal_u32(got, vals, n, "vals_in unchanged");
        }
        tt_download(got, kin, bytes);
        tt_assert_equal_u32(got, keys, n, "keys_in unchanged");
    }

    trk_buffer_free(kin);
    trk_buffer_free(vin);
    trk_buffer_free(kout);
    trk_buffer_free(vout);
    trk_buffer_free(scratch);
    free(keys);
    free(vals);
    free(perm);
    free(want);
    free(got);
}

static void test_sort_all_sizes(void **state)
{
    (void)state;
    static const uint32_t bits[] = {32, 20};
    for (size_t s = 0; s < tt_nsizes; s++)
        for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++)
            check_sort(tt_sizes[s], bits[b], DIST_RANDOM, 0x50e70001 + s * 7 + b);
}

static void test_sort_every_key_width(void **state)
{
    (void)state;
    for (uint32_t bits = 1; bits <= 32; bits++)
        check_sort(4099, bits, DIST_RANDOM, 0x50e70100 + bits);
    static const uint32_t bits_big[] = {8, 13, 16, 31};
    for (size_t b = 0; b < sizeof bits_big / sizeof bits_big[0]; b++)
        check_sort(123457, bits_big[b], DIST_RANDOM, 0x50e70200 + b);
}

/* Many equal keys make stability visible; uniform digits take the skipping paths. */
static void test_sort_duplicates(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {1, 33, 1000, 65537, 1000000};
    static const uint32_t bits[] = {32, 16, 8, 20};
    for (int d = DIST_FEW; d < DIST_COUNT; d++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++)
                if (sizes[s] < 1000000 || b == 0)
                    check_sort(sizes[s], bits[b], (enum key_dist)d, 0x50e70300 + s * 5 + b);
}

/* The same scratch and outputs reused by back-to-back sorts on one queue. */
static void test_sort_back_to_back(void **state)
{
    (void)state;
    enum { N = 70000 };
    uint64_t rng = 0x50e70400;
    uint32_t *a = tt_malloc(N * 4), *b = tt_malloc(N * 4), *perm = tt_malloc(N * 4);
    uint32_t *got = tt_malloc(N * 4), *want = tt_malloc(N * 4);
    for (uint32_t i = 0; i < N; i++) {
        a[i] = tt_rand_u32(&rng);
        b[i] = tt_rand_u32(&rng) % 1000;
    }
    struct trk_buffer *ka = tt_upload(a, N * 4), *kb = tt_upload(b, N * 4);
    struct trk_buffer *oa = tt_alloc(N * 4), *ob = tt_alloc(N * 4);
    struct trk_buffer *scratch = tt_alloc(trk_sort_scratch_size(tt.dev, N));
    assert_int_equal(trk_sort_pairs_u32(tt.q, ka, NULL, oa, NULL, N, 32, scratch), TRK_OK);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kb, NULL, ob, NULL, N, 32, scratch), TRK_OK);
    ref_sort(a, N, 32, perm);
    for (uint32_t r = 0; r < N; r++)
        want[r] = a[perm[r]];
    tt_download(got, oa, N * 4);
    tt_assert_equal_u32(got, want, N, "first sort");
    ref_sort(b, N, 32, perm);
    for (uint32_t r = 0; r < N; r++)
        want[r] = b[perm[r]];
    tt_download(got, ob, N * 4);
    tt_assert_equal_u32(got, want, N, "second sort");
    trk_buffer_free(ka);
    trk_buffer_free(kb);
    trk_buffer_free(oa);
    trk_buffer_free(ob);
    trk_buffer_free(scratch);
    free(a);
    free(b);
    free(perm);
    free(got);
    free(want);
}

static void test_sort_rejects_bad_args(void **state)
{
    (void)state;
    const uint32_t n = 100;
    uint32_t zeros[100] = {0};
    struct trk_buffer *kin = tt_upload(zeros, n * 4), *vin = tt_upload(zeros, n * 4);
    struct trk_buffer *kout = tt_alloc(n * 4), *vout = tt_alloc(n * 4);
    struct trk_buffer *small = tt_alloc(n * 4 - 4);
    size_t ss = trk_sort_scratch_size(tt.dev, n);
    assert_true(ss > 0);
    struct trk_buffer *scratch = tt_alloc(ss), *small_scratch = tt_alloc(ss - 1);

    assert_int_equal(trk_sort_pairs_u32(NULL, kin, vin, kout, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, NULL, vin, kout, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, NULL, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, vout, n, 32, NULL),
                     TRK_ERR_INVALID_ARG);
    /* values on one side only */
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, NULL, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, NULL, kout, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    /* too small */
    assert_int_equal(trk_sort_pairs_u32(tt.q, small, vin, kout, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, small, kout, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, small, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, small, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, vout, n, 32, small_scratch),
                     TRK_ERR_INVALID_ARG);
    /* key width */
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, vout, n, 0, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, vout, n, 33, scratch),
                     TRK_ERR_INVALID_ARG);
    /* aliasing */
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kin, vout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, kout, n, 32, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, NULL, kout, NULL, n, 32, kout),
                     TRK_ERR_INVALID_ARG);
    /* n == 0 is a no-op; the valid call goes through */
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, vout, 0, 32, scratch), TRK_OK);
    assert_int_equal(trk_sort_pairs_u32(tt.q, kin, vin, kout, vout, n, 32, scratch), TRK_OK);
    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);

    trk_buffer_free(kin);
    trk_buffer_free(vin);
    trk_buffer_free(kout);
    trk_buffer_free(vout);
    trk_buffer_free(small);
    trk_buffer_free(scratch);
    trk_buffer_free(small_scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_all_sizes),
        cmocka_unit_test(test_sort_every_key_width),
        cmocka_unit_test(test_sort_duplicates),
        cmocka_unit_test(test_sort_back_to_back),
        cmocka_unit_test(test_sort_rejects_bad_args),
    };
    return tt_run_on_all_devices("sort", tests, sizeof tests / sizeof tests[0]);
}
