/* trk_reduce_{f32,u32,i32} on every device against serial references. Float sums
 * may differ in rounding (relative 1e-5 * log2 n, the contract); all else is exact. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const enum trk_reduce_op ops[] = {TRK_REDUCE_SUM, TRK_REDUCE_MIN, TRK_REDUCE_MAX};
static const char *const op_names[] = {"sum", "min", "max"};

/* Runs one reduction of the n words at data and returns out[0]'s bits. */
typedef enum trk_status (*reduce_fn)(struct trk_queue *, struct trk_buffer *, uint32_t,
                                     enum trk_reduce_op, struct trk_buffer *, struct trk_buffer *);

static uint32_t run_reduce(reduce_fn fn, const void *data, uint32_t n, enum trk_reduce_op op)
{
    struct trk_buffer *in = tt_upload(data, (size_t)n * 4), *out = tt_alloc(4);
    struct trk_buffer *scratch = tt_alloc(trk_reduce_scratch_size(tt.dev, n));
    uint32_t got = 0x7fc00001; /* a NaN nobody computes */
    assert_int_equal(trk_buffer_write(tt.q, out, 0, &got, 4, true), TRK_OK);
    assert_int_equal(fn(tt.q, in, n, op, out, scratch), TRK_OK);
    tt_download(&got, out, 4);
    trk_buffer_free(in);
    trk_buffer_free(out);
    trk_buffer_free(scratch);
    return got;
}

static void check_f32(uint32_t n, uint64_t *rng)
{
    float *x = tt_malloc((size_t)n * 4);
    double sum = 0, abs_sum = 0;
    float mn = INFINITY, mx = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        x[i] = tt_rand_f32(rng, -1.0f, 2.0f);
        sum += x[i];
        abs_sum += fabs(x[i]);
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    float want[3] = {(float)sum, mn, mx};
    for (int o = 0; o < 3; o++) {
        uint32_t bits = run_reduce(trk_reduce_f32, x, n, ops[o]);
        float got;
        memcpy(&got, &bits, 4);
        char what[64];
        snprintf(what, sizeof what, "reduce_f32 %s n=%u", op_names[o], n);
        if (ops[o] == TRK_REDUCE_SUM) {
            float rtol = 1e-5f * (n > 2 ? log2f((float)n) : 1.0f);
            tt_assert_close_f32(&got, &want[o], 1, rtol, 1e-7f * (float)abs_sum, what);
        } else {
            tt_assert_close_f32(&got, &want[o], 1, 0, 0, what);
        }
    }
    free(x);
}

static void check_u32(uint32_t n, uint64_t *rng)
{
    uint32_t *x = tt_malloc((size_t)n * 4);
    uint32_t want[3] = {0, UINT32_MAX, 0};
    for (uint32_t i = 0; i < n; i++) {
        /* Full range: sums wrap; the extremes are rarely 0 or UINT32_MAX. */
        x[i] = tt_rand_u32(rng);
        want[0] += x[i];
        want[1] = x[i] < want[1] ? x[i] : want[1];
        want[2] = x[i] > want[2] ? x[i] : want[2];
    }
    for (int o = 0; o < 3; o++) {
        uint32_t got = run_reduce(trk_reduce_u32, x, n, ops[o]);
        char what[64];
        snprintf(what, sizeof what, "reduce_u32 %s n=%u", op_names[o], n);
        tt_assert_equal_u32(&got, &want[o], 1, what);
    }
    free(x);
}

static void check_i32(uint32_t n, uint64_t *rng)
{
    int32_t *x = tt_malloc((size_t)n * 4);
    uint32_t sum = 0;
    int32_t mn = INT32_MAX, mx = INT32_MIN;
    for (uint32_t i = 0; i < n; i++) {
        x[i] = (int32_t)(tt_rand_u32(rng) >> (i & 1 ? 1 : 8)) - (1 << 23);
        sum += (uint32_t)x[i];
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    uint32_t want[3] = {sum, (uint32_t)mn, (uint32_t)mx};
    for (int o = 0; o < 3; o++) {
        uint32_t got = run_reduce(trk_reduce_i32, x, n, ops[o]);
        char what[64];
        snprintf(what, sizeof what, "reduce_i32 %s n=%u", op_names[o], n);
        tt_assert_equal_u32(&got, &want[o], 1, what);
    }
    free(x);
}

static void test_reduce_sizes(void **state)
{
    (void)state;
    uint64_t rng = 0x4ed0ce01;
    for (size_t s = 0; s < tt_nsizes; s++) {
        check_f32(tt_sizes[s], &rng);
        check_u32(tt_sizes[s], &rng);
        check_i32(tt_sizes[s], &rng);
    }
}

/* n == 0 gives the identities prim.h documents. */
static void test_reduce_identities(void **state)
{
    (void)state;
    const float inf = INFINITY;
    float fwant[3] = {0.0f, inf, -inf};
    uint32_t uwant[3] = {0, UINT32_MAX, 0};
    int32_t iwant[3] = {0, INT32_MAX, INT32_MIN};
    for (int o = 0; o < 3; o++) {
        uint32_t fbits, ibits = (uint32_t)iwant[o];
        memcpy(&fbits, &fwant[o], 4);
        uint32_t got = run_reduce(trk_reduce_f32, NULL, 0, ops[o]);
        tt_assert_equal_u32(&got, &fbits, 1, "reduce_f32 identity");
        got = run_reduce(trk_reduce_u32, NULL, 0, ops[o]);
        tt_assert_equal_u32(&got, &uwant[o], 1, "reduce_u32 identity");
        got = run_reduce(trk_reduce_i32, NULL, 0, ops[o]);
        tt_assert_equal_u32(&got, &ibits, 1, "reduce_i32 identity");
    }
}

static void test_reduce_errors(void **state)
{
    (void)state;
    uint32_t n = 100;
    struct trk_buffer *in = tt_alloc(n * 4), *out = tt_alloc(4), *empty = tt_alloc(0);
    struct trk_buffer *scratch = tt_alloc(trk_reduce_scratch_size(tt.dev, n));
    const reduce_fn fns[] = {trk_reduce_f32, trk_reduce_u32, trk_reduce_i32};
    for (int f = 0; f < 3; f++) {
        assert_int_equal(fns[f](NULL, in, n, TRK_REDUCE_SUM, out, scratch), TRK_ERR_INVALID_ARG);
        assert_int_equal(fns[f](tt.q, NULL, n, TRK_REDUCE_SUM, out, scratch),
                         TRK_ERR_INVALID_ARG);
        assert_int_equal(fns[f](tt.q, in, n, TRK_REDUCE_SUM, NULL, scratch), TRK_ERR_INVALID_ARG);
        assert_int_equal(fns[f](tt.q, in, n, TRK_REDUCE_SUM, out, NULL), TRK_ERR_INVALID_ARG);
        assert_int_equal(fns[f](tt.q, in, n + 1, TRK_REDUCE_SUM, out, scratch),
                         TRK_ERR_INVALID_ARG);
        assert_int_equal(fns[f](tt.q, in, n, TRK_REDUCE_SUM, empty, scratch),
                         TRK_ERR_INVALID_ARG);
        assert_int_equal(fns[f](tt.q, in, n, (enum trk_reduce_op)3, out, scratch),
                         TRK_ERR_INVALID_ARG);
        if (trk_reduce_scratch_size(tt.dev, n) > 0)
            assert_int_equal(fns[f](tt.q, in, n, TRK_REDUCE_MAX, out, empty),
                             TRK_ERR_INVALID_ARG);
    }
    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);
    trk_buffer_free(in);
    trk_buffer_free(out);
    trk_buffer_free(empty);
    trk_buffer_free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reduce_sizes),
        cmocka_unit_test(test_reduce_identities),
        cmocka_unit_test(test_reduce_errors),
    };
    return tt_run_on_all_devices("reduce", tests, sizeof tests / sizeof tests[0]);
}
