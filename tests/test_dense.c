/* Dense layers (sgemm + bias + activation), activations and layer norm on every
 * device, against plain double-precision host references.
 *
 * Tolerance of a dense output (inputs uniform in [-1, 1]):
 *     |got - want| <= 1e-4 * sqrt(max(k, 1)) * (1 + |want|)
 * float rounding of a k-term dot product grows like sqrt(k); activations do not
 * amplify it (their slopes are at most ~1.1), while one missing or doubled term
 * (|a*b| ~ 0.25) is far outside it. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t dims[] = {0, 1, 31, 32, 33, 100, 257};
#define NDIMS (sizeof dims / sizeof dims[0])

static double ref_act(double v, enum trk_activation act)
{
    switch (act) {
    case TRK_ACT_RELU: return v < 0 ? 0 : v;
    case TRK_ACT_TANH: return tanh(v);
    case TRK_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case TRK_ACT_SILU: return v / (1 + exp(-v));
    default: return v;
    }
}

static float *random_f32(uint64_t *rng, size_t n, float lo, float hi)
{
    float *p = tt_malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = tt_rand_f32(rng, lo, hi);
    return p;
}

struct layer_case {
    uint32_t m, n, k;
    bool trans_b, bias;
    enum trk_activation act;
    size_t a_off, b_off, bias_off, c_off; /* elements */
};

/* Runs the layer through both paths (vendor BLAS when the device has it, and the
 * dialect kernel) and compares each with the reference; C's elements outside the
 * written range must keep their sentinel. */
static void check_layer(const struct layer_case *lc, uint64_t *rng)
{
    size_t na = (size_t)lc->m * lc->k, nb = (size_t)lc->k * lc->n, nc = (size_t)lc->m * lc->n;
    size_t a_len = lc->a_off + na, b_len = lc->b_off + nb, bias_len = lc->bias_off + lc->n;
    size_t c_len = lc->c_off + nc + 3; /* 3 sentinels past the end */
    float *a = random_f32(rng, a_len, -1, 1), *b = random_f32(rng, b_len, -1, 1);
    float *bias = random_f32(rng, bias_len, -1, 1);
    float *want = tt_malloc(nc * sizeof *want), *got = tt_malloc(c_len * sizeof *got);

    for (uint32_t i = 0; i < lc->m; i++) {
        for (uint32_t j = 0; j < lc->n; j++) {
            double s = lc->bias ? bias[lc->bias_off + j] : 0.0;
            for (uint32_t kk = 0; kk < lc->k; kk++) {
                float bv = lc->trans_b ? b[lc->b_off + (size_t)j * lc->k + kk]
                                       : b[lc->b_off + (size_t)kk * lc->n + j];
                s += (double)a[lc->a_off + (size_t)i * lc->k + kk] * bv;
            }
            want[(size_t)i * lc->n + j] = (float)ref_act(s, lc->act);
        }
    }

    struct trk_buffer *ba = tt_upload(a, a_len * 4), *bb = tt_upload(b, b_len * 4);
    struct trk_buffer *bbias = tt_upload(bias, bias_len * 4), *bc = tt_alloc(c_len * 4);
    struct trk_dense d = {
        .m = lc->m, .n = lc->n, .k = lc->k, .trans_b = lc->trans_b,
        .a = ba, .b = bb, .bias = lc->bias ? bbias : NULL, .c = bc,
        .a_off = lc->a_off, .b_off = lc->b_off, .bias_off = lc->bias_off, .c_off = lc->c_off,
        .act = lc->act,
    };
    float tol = 1e-4f * sqrtf((float)(lc->k ? lc->k : 1));
    bool vendor = trk_device_props(tt.dev)->vendor_blas && lc->k > 0;
    for (int force = 0; force < 2; force++) {
        assert_int_equal(trk_fill_f32(tt.q, bc, (uint32_t)c_len, -777.0f), TRK_OK);
        assert_int_equal(trk_dense_forward(tt.q, &d, force), TRK_OK);
        tt_download(got, bc, c_len * 4);
        char what[160];
        snprintf(what, sizeof what, "dense %ux%ux%u trans_b=%d bias=%d %s offs=%zu,%zu,%zu,%zu %s",
                 lc->m, lc->n, lc->k, lc->trans_b, lc->bias, trk_activation_name(lc->act),
                 lc->a_off, lc->b_off, lc->bias_off, lc->c_off,
                 vendor && !force ? "(vendor BLAS)" : "(dialect kernel)");
        tt_assert_close_f32(got + lc->c_off, want, nc, tol, tol, what);
        for (size_t i = 0; i < c_len; i++)
            if ((i < lc->c_off || i >= lc->c_off + nc) && got[i] != -777.0f)
                fail_msg("%s: C[%zu] outside the output was overwritten (%g)", what, i,
                         (double)got[i]);
    }
    trk_buffer_free(ba);
    trk_buffer_free(bb);
    trk_buffer_free(bbias);
    trk_buffer_free(bc);
    free(a);
    free(b);
    free(bias);
    free(want);
    free(got);
}

static void test_dense_shapes(void **state)
{
    (void)state;
    uint64_t rng = 0xde45e001;
    unsigned combo = 0;
    for (size_t im = 0; im < NDIMS; im++)
        for (size_t in = 0; in < NDIMS; in++)
            for (size_t ik = 0; ik < NDIMS; ik++)
                for (int tb = 0; tb < 2; tb++, combo++) {
                    /* bias and activation vary with the shape: every 20 consecutive
                     * cases cover all (trans_b, act, bias) triples */
                    struct layer_case lc = {
                        .m = dims[im], .n = dims[in], .k = dims[ik], .trans_b = tb,
                        .bias = combo / 10 % 2 == 0, .act = (enum trk_activation)(combo % 5),
                    };
                    check_layer(&lc, &rng);
                }
}

static void test_dense_activations_and_bias(void **state)
{
    (void)state;
    uint64_t rng = 0xde45e002;
    static const uint32_t shapes[][3] = {{1000, 64, 128}, {1000, 128, 64}, {33, 100, 31}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int act = TRK_ACT_NONE; act <= TRK_ACT_SILU; act++)
            for (int bias = 0; bias < 2; bias++)
                for (int tb = 0; tb < 2; tb++) {
                    struct layer_case lc = {
                        .m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2],
                        .trans_b = tb, .bias = bias, .act = (enum trk_activation)act,
                    };
                    check_layer(&lc, &rng);
                }
}

static void test_dense_offsets(void **state)
{
    (void)state;
    uint64_t rng = 0xde45e003;
    static const uint32_t shapes[][3] = {{33, 31, 100}, {1, 257, 33}, {100, 1, 1}, {5, 7, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int tb = 0; tb < 2; tb++) {
            struct layer_case lc = {
                .m = shapes[s][0], .n = shapes[s][1], .k = shapes[s][2], .trans_b = tb,
                .bias = true, .act = TRK_ACT_SILU,
                .a_off = 3, .b_off = 17, .bias_off = 5, .c_off = 11,
            };
            check_layer(&lc, &rng);
        }
}

static void test_dense_errors(void **state)
{
    (void)state;
    struct trk_buffer *a = tt_alloc(4 * 6), *b = tt_alloc(4 * 12), *bias = tt_alloc(4 * 4),
                      *c = tt_alloc(4 * 8);
    /* A [2 x 3], B [3 x 4], C [2 x 4] */
    const struct trk_dense ok = {.m = 2, .n = 4, .k = 3, .a = a, .b = b, .bias = bias, .c = c,
                                 .act = TRK_ACT_RELU};
    struct trk_dense d = ok;
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_OK);
    assert_int_equal(trk_dense_forward(tt.q, &d, true), TRK_OK);
    assert_int_equal(trk_dense_forward(NULL, &d, false), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_dense_forward(tt.q, NULL, false), TRK_ERR_INVALID_ARG);
    d.a = NULL;
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_ERR_INVALID_ARG);
    d = ok;
    d.b = NULL;
    assert_int_equal(trk_dense_forward(tt.q, &d, true), TRK_ERR_INVALID_ARG);
    d = ok;
    d.c = NULL;
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_ERR_INVALID_ARG);
    d = ok;
    d.m = 3; /* A and C too small */
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_ERR_INVALID_ARG);
    d = ok;
    d.b_off = 1; /* B one element short */
    assert_int_equal(trk_dense_forward(tt.q, &d, true), TRK_ERR_INVALID_ARG);
    d = ok;
    d.bias_off = 1;
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_ERR_INVALID_ARG);
    d = ok;
    d.n = 5; /* bias, B and C too small */
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_ERR_INVALID_ARG);
    d = ok;
    d.act = (enum trk_activation)99;
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_ERR_INVALID_ARG);
    d = ok;
    d.m = 0; /* nothing to compute is fine */
    assert_int_equal(trk_dense_forward(tt.q, &d, false), TRK_OK);

    assert_int_equal(trk_activation_f32(tt.q, c, 9, TRK_ACT_RELU), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_activation_f32(tt.q, NULL, 1, TRK_ACT_RELU), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_activation_f32(NULL, c, 1, TRK_ACT_RELU), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_activation_f32(tt.q, c, 8, (enum trk_activation)5), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_activation_f32(tt.q, c, 8, (enum trk_activation)-1),
                     TRK_ERR_INVALID_ARG);

    /* layernorm: [2 x 4] in c */
    assert_int_equal(trk_layernorm_f32(tt.q, c, c, 2, 4, bias, bias, 1e-5f), TRK_OK);
    assert_int_equal(trk_layernorm_f32(NULL, c, c, 2, 4, NULL, NULL, 1e-5f), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, NULL, c, 2, 4, NULL, NULL, 1e-5f),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, c, NULL, 2, 4, NULL, NULL, 1e-5f),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, c, c, 3, 4, NULL, NULL, 1e-5f), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, a, a, 1, 6, bias, NULL, 1e-5f), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, a, a, 1, 6, NULL, bias, 1e-5f), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, c, c, 2, 4, NULL, NULL, -1.0f), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, c, c, 2, 4, NULL, NULL, NAN), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_layernorm_f32(tt.q, c, c, 0, 4, NULL, NULL, 1e-5f), TRK_OK);

    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);
    trk_buffer_free(a);
    trk_buffer_free(b);
    trk_buffer_free(bias);
    trk_buffer_free(c);
}

static void test_activation_names(void **state)
{
    (void)state;
    for (int act = TRK_ACT_NONE; act <= TRK_ACT_SILU; act++)
        assert_int_equal(trk_activation_parse(trk_activation_name((enum trk_activation)act)), act);
    assert_string_equal(trk_activation_name(TRK_ACT_SIGMOID), "sigmoid");
    assert_int_equal(trk_activation_parse("ReLU"), TRK_ACT_RELU);
    assert_int_equal(trk_activation_parse("gelu"), -1);
    assert_int_equal(trk_activation_parse(""), -1);
    assert_int_equal(trk_activation_parse(NULL), -1);
    assert_string_equal(trk_activation_name((enum trk_activation)42), "unknown");
}

static void test_activation_in_place(void **state)
{
    (void)state;
    uint64_t rng = 0xde45e004;
    for (size_t s = 0; s < tt_nsizes; s++) {
        uint32_t n = tt_sizes[s];
        if (n > 100000)
            continue;
        float *x = random_f32(&rng, n, -8, 8), *want = tt_malloc((size_t)n * 4),
              *got = tt_malloc((size_t)n * 4);
        if (n > 2) { /* saturated tails, where expf over- and underflows */
            x[0] = 100.0f;
            x[1] = -100.0f;
        }
        for (int act = TRK_ACT_NONE; act <= TRK_ACT_SILU; act++) {
            struct trk_buffer *b = tt_upload(x, (size_t)n * 4);
            for (uint32_t i = 0; i < n; i++)
                want[i] = (float)ref_act(x[i], (enum trk_activation)act);
            assert_int_equal(trk_activation_f32(tt.q, b, n, (enum trk_activation)act), TRK_OK);
            tt_download(got, b, (size_t)n * 4);
            char what[64];
            snprintf(what, sizeof what, "activation %s n=%u",
                     trk_activation_name((enum trk_activation)act), n);
            tt_assert_close_f32(got, want, n, 1e-5f, 1e-6f, what);
            trk_buffer_free(b);
        }
        free(x);
        free(want);
        free(got);
    }
}

/* NaN propagates (as in PyTorch) and infinities saturate. */
static void test_activation_special_values(void **state)
{
    (void)state;
    const float in[3] = {NAN, INFINITY, -INFINITY};
    const float want[][3] = {
        [TRK_ACT_NONE] = {NAN, INFINITY, -INFINITY},
        [TRK_ACT_RELU] = {NAN, INFINITY, 0.0f},
        [TRK_ACT_TANH] = {NAN, 1.0f, -1.0f},
        [TRK_ACT_SIGMOID] = {NAN, 1.0f, 0.0f},
        [TRK_ACT_SILU] = {NAN, INFINITY, NAN}, /* silu(-inf) is not checked */
    };
    for (int act = TRK_ACT_NONE; act <= TRK_ACT_SILU; act++) {
        float got[3];
        struct trk_buffer *b = tt_upload(in, sizeof in);
        assert_int_equal(trk_activation_f32(tt.q, b, 3, (enum trk_activation)act), TRK_OK);
        tt_download(got, b, sizeof got);
        for (int i = 0; i < 3; i++) {
            float w = want[act][i];
            if (act == TRK_ACT_SILU && i == 2)
                continue;
            if (isnan(w) ? !isnan(got[i]) : !(fabsf(got[i] - w) <= 1e-30f || got[i] == w))
                fail_msg("activation %s of %g gave %g, expected %g",
                         trk_activation_name((enum trk_activation)act), (double)in[i],
                         (double)got[i], (double)w);
        }
        trk_buffer_free(b);
    }
}

static void test_layernorm(void **state)
{
    (void)state;
    uint64_t rng = 0xde45e005;
    static const uint32_t shapes[][2] = {{1, 1}, {3, 31}, {1000, 64}, {17, 1000}};
    const float eps = 1e-5f;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint32_t rows = shapes[s][0], cols = shapes[s][1];
        size_t n = (size_t)rows * cols;
        /* an offset mean tests that the variance is not E[x^2] - mean^2 */
        float *x = random_f32(&rng, n, 2, 4), *gamma = random_f32(&rng, cols, 0.5f, 1.5f);
        float *beta = random_f32(&rng, cols, -1, 1);
        float *want = tt_malloc(n * 4), *got = tt_malloc(n * 4);
        struct trk_buffer *bx = tt_upload(x, n * 4), *by = tt_alloc(n * 4);
        struct trk_buffer *bg = tt_upload(gamma, cols * 4), *bbeta = tt_upload(beta, cols * 4);
        for (int affine = 0; affine < 4; affine++) {
            bool has_g = affine & 1, has_b = affine & 2;
            for (uint32_t r = 0; r < rows; r++) {
                const float *xr = x + (size_t)r * cols;
                double mean = 0, var = 0;
                for (uint32_t j = 0; j < cols; j++)
                    mean += xr[j];
                mean /= cols;
                for (uint32_t j = 0; j < cols; j++)
                    var += (xr[j] - mean) * (xr[j] - mean);
                var /= cols;
                for (uint32_t j = 0; j < cols; j++) {
                    double v = (xr[j] - mean) / sqrt(var + eps);
                    want[(size_t)r * cols + j] =
                        (float)(v * (has_g ? gamma[j] : 1.0) + (has_b ? beta[j] : 0.0));
                }
            }
            for (int in_place = 0; in_place < 2; in_place++) {
                if (in_place)
                    assert_int_equal(trk_buffer_write(tt.q, by, 0, x, n * 4, true), TRK_OK);
                assert_int_equal(trk_layernorm_f32(tt.q, in_place ? by : bx, by, rows, cols,
                                                   has_g ? bg : NULL, has_b ? bbeta : NULL, eps),
                                 TRK_OK);
                tt_download(got, by, n * 4);
                char what[96];
                snprintf(what, sizeof what, "layernorm %ux%u gamma=%d beta=%d in_place=%d", rows,
                         cols, has_g, has_b, in_place);
                tt_assert_close_f32(got, want, n, 1e-4f, 1e-4f, what);
            }
        }
        trk_buffer_free(bx);
        trk_buffer_free(by);
        trk_buffer_free(bg);
        trk_buffer_free(bbeta);
        free(x);
        free(gamma);
        free(beta);
        free(want);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_shapes),
        cmocka_unit_test(test_dense_activations_and_bias),
        cmocka_unit_test(test_dense_offsets),
        cmocka_unit_test(test_dense_errors),
        cmocka_unit_test(test_activation_names),
        cmocka_unit_test(test_activation_in_place),
        cmocka_unit_test(test_activation_special_values),
        cmocka_unit_test(test_layernorm),
    };
    return tt_run_on_all_devices("dense", tests, sizeof tests / sizeof tests[0]);
}
