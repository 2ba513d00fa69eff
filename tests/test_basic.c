/* fill / copy / iota on every device against a scalar reference. */
#include "test_util.h"

#include <stdlib.h>

static void test_fill_copy_iota(void **state)
{
    (void)state;
    uint64_t rng = 0x5eed0001;
    for (size_t s = 0; s < tt_nsizes; s++) {
        uint32_t n = tt_sizes[s];
        uint32_t *want = tt_malloc((size_t)n * 4), *got = tt_malloc((size_t)n * 4);
        uint32_t value = tt_rand_u32(&rng);
        struct trk_buffer *a = tt_alloc((size_t)n * 4), *b = tt_alloc((size_t)n * 4);

        assert_int_equal(trk_fill_u32(tt.q, a, n, value), TRK_OK);
        for (uint32_t i = 0; i < n; i++)
            want[i] = value;
        tt_download(got, a, (size_t)n * 4);
        tt_assert_equal_u32(got, want, n, "fill_u32");

        assert_int_equal(trk_iota_u32(tt.q, a, n, 7), TRK_OK);
        assert_int_equal(trk_copy_u32(tt.q, b, a, n), TRK_OK);
        for (uint32_t i = 0; i < n; i++)
            want[i] = 7 + i;
        tt_download(got, b, (size_t)n * 4);
        tt_assert_equal_u32(got, want, n, "iota_u32 + copy_u32");

        trk_buffer_free(a);
        trk_buffer_free(b);
        free(want);
        free(got);
    }
}

static void test_fill_rejects_short_buffer(void **state)
{
    (void)state;
    struct trk_buffer *a = tt_alloc(16);
    assert_int_equal(trk_fill_u32(tt.q, a, 5, 1), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_fill_u32(NULL, a, 4, 1), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_fill_u32(tt.q, NULL, 4, 1), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_fill_u32(tt.q, a, 4, 1), TRK_OK);
    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);
    trk_buffer_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_copy_iota),
        cmocka_unit_test(test_fill_rejects_short_buffer),
    };
    return tt_run_on_all_devices("basic", tests, sizeof tests / sizeof tests[0]);
}
