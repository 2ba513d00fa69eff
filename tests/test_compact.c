/* trk_compact_u32 on every device against a serial stable compaction. */
#include "test_util.h"

#include <stdlib.h>

/* keep_per_256: how many flags in 256 are set (0 = none, 256 = all). */
static void check_compact(uint32_t n, uint32_t keep_per_256, bool with_in, uint64_t *rng)
{
    uint32_t *in = tt_malloc((size_t)n * 4), *flags = tt_malloc((size_t)n * 4);
    uint32_t *want = tt_malloc((size_t)n * 4), *got = tt_malloc((size_t)n * 4);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        in[i] = tt_rand_u32(rng);
        /* Any non-zero value is a set flag, not just 1. */
        flags[i] = (tt_rand_u32(rng) & 255) < keep_per_256 ? tt_rand_u32(rng) | 1u << 31 : 0;
        if (flags[i])
            want[kept++] = with_in ? in[i] : i;
    }
    struct trk_buffer *ib = tt_upload(in, (size_t)n * 4), *fb = tt_upload(flags, (size_t)n * 4);
    struct trk_buffer *ob = tt_alloc((size_t)n * 4), *cb = tt_alloc(4);
    struct trk_buffer *scratch = tt_alloc(trk_compact_scratch_size(tt.dev, n));
    assert_int_equal(trk_compact_u32(tt.q, with_in ? ib : NULL, fb, n, ob, cb, scratch), TRK_OK);
    uint32_t got_count;
    tt_download(&got_count, cb, 4);
    tt_assert_equal_u32(&got_count, &kept, 1, "compact_u32 count");
    tt_download(got, ob, (size_t)kept * 4);
    tt_assert_equal_u32(got, want, kept, with_in ? "compact_u32 values" : "compact_u32 indices");

    trk_buffer_free(ib);
    trk_buffer_free(fb);
    trk_buffer_free(ob);
    trk_buffer_free(cb);
    trk_buffer_free(scratch);
    free(in);
    free(flags);
    free(want);
    free(got);
}

static void test_compact_sizes(void **state)
{
    (void)state;
    uint64_t rng = 0xc0117ac7;
    for (size_t s = 0; s < tt_nsizes; s++) {
        check_compact(tt_sizes[s], 128, true, &rng);
        check_compact(tt_sizes[s], 128, false, &rng);
        check_compact(tt_sizes[s], 3, true, &rng);
        check_compact(tt_sizes[s], 0, true, &rng);
        check_compact(tt_sizes[s], 256, false, &rng);
    }
}

static void test_compact_errors(void **state)
{
    (void)state;
    uint32_t n = 100;
    struct trk_buffer *in = tt_alloc(n * 4), *flags = tt_alloc(n * 4), *out = tt_alloc(n * 4);
    struct trk_buffer *count = tt_alloc(4), *empty = tt_alloc(0), *short_buf = tt_alloc(n * 4 - 1);
    struct trk_buffer *scratch = tt_alloc(trk_compact_scratch_size(tt.dev, n));
    assert_int_equal(trk_compact_u32(NULL, in, flags, n, out, count, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, NULL, n, out, count, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, flags, n, NULL, count, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, flags, n, out, NULL, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, flags, n, out, count, NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, short_buf, flags, n, out, count, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, short_buf, n, out, count, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, flags, n, short_buf, count, scratch),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, flags, n, out, empty, scratch), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_compact_u32(tt.q, in, flags, n, out, count, empty), TRK_ERR_INVALID_ARG);

    /* n == 0 keeps nothing and says so. */
    uint32_t junk = 99, got;
    assert_int_equal(trk_buffer_write(tt.q, count, 0, &junk, 4, true), TRK_OK);
    struct trk_buffer *scratch0 = tt_alloc(trk_compact_scratch_size(tt.dev, 0));
    assert_int_equal(trk_compact_u32(tt.q, NULL, empty, 0, empty, count, scratch0), TRK_OK);
    tt_download(&got, count, 4);
    assert_int_equal(got, 0);

    trk_buffer_free(in);
    trk_buffer_free(flags);
    trk_buffer_free(out);
    trk_buffer_free(count);
    trk_buffer_free(empty);
    trk_buffer_free(short_buf);
    trk_buffer_free(scratch);
    trk_buffer_free(scratch0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_sizes),
        cmocka_unit_test(test_compact_errors),
    };
    return tt_run_on_all_devices("compact", tests, sizeof tests / sizeof tests[0]);
}
