/* trk_scan_u32 on every device against a serial exclusive scan. */
#include "test_util.h"

#include <stdlib.h>

static void check_scan(uint32_t n, uint64_t *rng, uint32_t mask, bool in_place, bool with_total)
{
    uint32_t *in = tt_malloc((size_t)n * 4), *want = tt_malloc((size_t)n * 4);
    uint32_t *got = tt_malloc((size_t)n * 4);
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        in[i] = tt_rand_u32(rng) & mask;
        want[i] = sum;
        sum += in[i];
    }
    struct trk_buffer *a = tt_upload(in, (size_t)n * 4);
    struct trk_buffer *b = in_place ? a : tt_alloc((size_t)n * 4);
    struct trk_buffer *total = tt_alloc(4);
    struct trk_buffer *scratch = tt_alloc(trk_scan_scratch_size(tt.dev, n));
    uint32_t poison = 0xdeadbeef;
    assert_int_equal(trk_buffer_write(tt.q, total, 0, &poison, 4, true), TRK_OK);

    assert_int_equal(trk_scan_u32(tt.q, a, b, n, with_total ? total : NULL, scratch), TRK_OK);
    tt_download(got, b, (size_t)n * 4);
    tt_assert_equal_u32(got, want, n, in_place ? "scan_u32 in place" : "scan_u32");
    uint32_t got_total;
    tt_download(&got_total, total, 4);
    uint32_t want_total = with_total ? sum : poison;
    tt_assert_equal_u32(&got_total, &want_total, 1, "scan_u32 total");
    if (!in_place) {
        tt_download(got, a, (size_t)n * 4);
        tt_assert_equal_u32(got, in, n, "scan_u32 input left alone");
    }

    trk_buffer_free(a);
    if (!in_place)
        trk_buffer_free(b);
    trk_buffer_free(total);
    trk_buffer_free(scratch);
    free(in);
    free(want);
    free(got);
}

static void test_scan_sizes(void **state)
{
    (void)state;
    uint64_t rng = 0x5ca40001;
    for (size_t s = 0; s < tt_nsizes; s++) {
        /* Small values, then full-range ones whose sums wrap. */
        check_scan(tt_sizes[s], &rng, 0xff, false, true);
        check_scan(tt_sizes[s], &rng, 0xffffffffu, true, false);
        check_scan(tt_sizes[s], &rng, 0x7, true, true);
    }
}

static void test_scan_errors(void **state)
{
    (void)state;
    uint32_t n = 100;
    struct trk_buffer *a = tt_alloc(n * 4), *b = tt_alloc(n * 4), *short_buf = tt_alloc(n * 4 - 4);
    struct trk_buffer *total = tt_alloc(4), *empty = tt_alloc(0);
    struct trk_buffer *scratch = tt_alloc(trk_scan_scratch_size(tt.dev, n));
    assert_int_equal(trk_scan_u32(NULL, a, b, n, NULL, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_scan_u32(tt.q, NULL, b, n, NULL, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_scan_u32(tt.q, a, NULL, n, NULL, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_scan_u32(tt.q, a, b, n, NULL, NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_scan_u32(tt.q, short_buf, b, n, NULL, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_scan_u32(tt.q, a, short_buf, n, NULL, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_scan_u32(tt.q, a, b, n, empty, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_scan_u32(tt.q, a, b, n, NULL, empty), TRK_ERR_INVALID_ARG);

    /* n == 0 touches nothing but the total, which is 0. */
    uint32_t seven = 7, got;
    assert_int_equal(trk_buffer_write(tt.q, total, 0, &seven, 4, true), TRK_OK);
    struct trk_buffer *scratch0 = tt_alloc(trk_scan_scratch_size(tt.dev, 0));
    assert_int_equal(trk_scan_u32(tt.q, empty, empty, 0, total, scratch0), TRK_OK);
    assert_int_equal(trk_scan_u32(tt.q, empty, empty, 0, NULL, scratch0), TRK_OK);
    tt_download(&got, total, 4);
    assert_int_equal(got, 0);

    trk_buffer_free(a);
    trk_buffer_free(b);
    trk_buffer_free(short_buf);
    trk_buffer_free(total);
    trk_buffer_free(empty);
    trk_buffer_free(scratch);
    trk_buffer_free(scratch0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_sizes),
        cmocka_unit_test(test_scan_errors),
    };
    return tt_run_on_all_devices("scan", tests, sizeof tests / sizeof tests[0]);
}
