/* The built-in algorithms (identity, sum, gemm) called directly through trk/algorithm.h,
 * on every present device; gemm against a naive host reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "trk/algorithm.h"
#include "trk/model_config.h"

static struct trk_model_config *parse(const char *text)
{
    struct trk_model_config *cfg = NULL;
    char err[512];
    if (trk_model_config_parse(text, NULL, &cfg, err, sizeof err) != TRK_OK)
        fail_msg("config: %s", err);
    return cfg;
}

static void *init_or_fail(const struct trk_algorithm *a, const struct trk_model_config *cfg)
{
    void *state = NULL;
    char err[TRK_ALGORITHM_ERR_MAX] = "";
    if (a->check)
        assert_int_equal(a->check(cfg, err, sizeof err), TRK_OK);
    if (a->init(cfg, ".", tt.dev, &state, err, sizeof err) != TRK_OK)
        fail_msg("init %s on %s: %s", a->name, trk_device_id(tt.dev), err);
    return state;
}

static void test_table(void **st)
{
    (void)st;
    assert_true(trk_algorithm_count() >= 3);
    const char *names[] = {"identity", "sum", "gemm"};
    for (int i = 0; i < 3; i++) {
        const struct trk_algorithm *a = trk_algorithm_find(names[i]);
        assert_non_null(a);
        assert_string_equal(a->name, names[i]);
        assert_non_null(a->description);
        assert_non_null(a->init);
        assert_non_null(a->execute);
        assert_non_null(a->fini);
    }
    assert_null(trk_algorithm_find("nope"));
    assert_null(trk_algorithm_find(NULL));
    assert_null(trk_algorithm_at(trk_algorithm_count()));
    for (uint32_t i = 0; i < trk_algorithm_count(); i++)
        assert_ptr_equal(trk_algorithm_find(trk_algorithm_at(i)->name), trk_algorithm_at(i));
}

static void test_identity(void **st)
{
    (void)st;
    const struct trk_algorithm *a = trk_algorithm_find("identity");
    struct trk_model_config *cfg = parse(
        "name = \"id\"; algorithm = \"identity\";\n"
        "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
        "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
        "parameters = { any_dtype = true; any_shape = true; };\n");
    void *state = init_or_fail(a, cfg);
    static const unsigned char bytes[] = {1, 0, 0, 0, 'a', 2, 0, 0, 0, 'b', 'c'};
    struct trk_tensor in = {.name = "INPUT0", .dtype = TRK_DTYPE_BYTES, .ndim = 1,
                            .shape = {2}, .data = (void *)bytes, .nbytes = sizeof bytes};
    const struct trk_tensor *ins[1] = {&in};
    struct trk_tensor *outs[1] = {NULL};
    char err[TRK_ALGORITHM_ERR_MAX];
    assert_int_equal(a->execute(state, ins, 1, outs, 1, NULL, err, sizeof err), TRK_OK);
    assert_int_equal(outs[0]->dtype, TRK_DTYPE_BYTES);
    assert_int_equal(outs[0]->shape[0], 2);
    assert_memory_equal(outs[0]->data, bytes, sizeof bytes);
    trk_tensor_free(outs[0]);
    a->fini(state);
    trk_model_config_free(cfg);

    /* check: a typed identity needs matching types; delay_us must be a number */
    cfg = parse("name = \"id\"; algorithm = \"identity\";\n"
                "input = ( { name = \"I\"; data_type = \"TYPE_FP32\"; dims = [ 2 ]; } );\n"
                "output = ( { name = \"O\"; data_type = \"TYPE_INT32\"; dims = [ 2 ]; } );\n");
    assert_int_equal(a->check(cfg, err, sizeof err), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "data type"));
    trk_model_config_free(cfg);
    cfg = parse("name = \"id\"; algorithm = \"identity\";\n"
                "input = ( { name = \"I\"; data_type = \"TYPE_FP32\"; dims = [ 2 ]; } );\n"
                "output = ( { name = \"O\"; data_type = \"TYPE_FP32\"; dims = [ 2 ]; } );\n"
                "parameters = { delay_us = \"soon\"; };\n");
    assert_int_equal(a->check(cfg, err, sizeof err), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "delay_us"));
    trk_model_config_free(cfg);
}

static void test_sum(void **st)
{
    (void)st;
    const struct trk_algorithm *a = trk_algorithm_find("sum");
    struct trk_model_config *cfg = parse(
        "name = \"s\"; algorithm = \"sum\"; max_batch_size = 4;\n"
        "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
        "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n");
    void *state = init_or_fail(a, cfg);
    float x[2][3] = {{1, 2, 3}, {-1, 0.5f, 0.25f}};
    struct trk_tensor in = {.name = "INPUT0", .dtype = TRK_DTYPE_FP32, .ndim = 2,
                            .shape = {2, 3}, .data = x, .nbytes = sizeof x};
    const struct trk_tensor *ins[1] = {&in};
    struct trk_tensor *outs[1] = {NULL};
    char err[TRK_ALGORITHM_ERR_MAX];
    assert_int_equal(a->execute(state, ins, 1, outs, 1, NULL, err, sizeof err), TRK_OK);
    assert_int_equal(outs[0]->ndim, 2);
    assert_int_equal(outs[0]->shape[0], 2);
    assert_int_equal(outs[0]->shape[1], 1);
    assert_float_equal(((float *)outs[0]->data)[0], 6.0f, 1e-6);
    assert_float_equal(((float *)outs[0]->data)[1], -0.25f, 1e-6);
    trk_tensor_free(outs[0]);
    in.nbytes = 8; /* does not match the shape */
    assert_int_equal(a->execute(state, ins, 1, outs, 1, NULL, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    a->fini(state);
    trk_model_config_free(cfg);

    cfg = parse("name = \"s\"; algorithm = \"sum\";\n"
                "input = ( { name = \"INPUT0\"; data_type = \"TYPE_INT32\"; dims = [ -1 ]; } );\n"
                "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n");
    assert_int_equal(a->check(cfg, err, sizeof err), TRK_ERR_INVALID_ARG);
    trk_model_config_free(cfg);
}

/* gemm's documented weight recipe (algorithms/builtin/gemm.c). */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *s, float a)
{
    float u = (float)(splitmix64(s) >> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * a;
}

static double act(double x, const char *name)
{
    if (!strcmp(name, "relu"))
        return x > 0 ? x : 0;
    if (!strcmp(name, "tanh"))
        return tanh(x);
    if (!strcmp(name, "sigmoid"))
        return 1 / (1 + exp(-x));
    if (!strcmp(name, "silu"))
        return x / (1 + exp(-x));
    return x;
}

static void gemm_reference(const float *x, int rows, int in, int hidden, int out, int depth,
                           const char *activation, uint64_t seed, float *y)
{
    int wmax = in > hidden ? in : hidden;
    wmax = wmax > out ? wmax : out;
    double *cur = calloc((size_t)rows * wmax, sizeof *cur);
    double *nxt = calloc((size_t)rows * wmax, sizeof *nxt);
    float *w = malloc((size_t)wmax * wmax * sizeof *w);
    float *b = malloc((size_t)wmax * sizeof *b);
    assert_true(cur && nxt && w && b);
    for (int i = 0; i < rows * in; i++)
        cur[i] = x[i];
    uint64_t rng = seed;
    for (int l = 0; l < depth; l++) {
        int k = l == 0 ? in : hidden, n = l == depth - 1 ? out : hidden;
        for (int i = 0; i < k * n; i++)
            w[i] = uniform(&rng, 1.0f / sqrtf((float)k));
        for (int i = 0; i < n; i++)
            b[i] = uniform(&rng, 0.1f);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++) {
                double acc = b[j];
                for (int q = 0; q < k; q++)
                    acc += cur[r * k + q] * w[q * n + j];
                nxt[r * n + j] = l + 1 < depth ? act(acc, activation) : acc;
            }
        double *t = cur;
        cur = nxt;
        nxt = t;
    }
    for (int i = 0; i < rows * out; i++)
        y[i] = (float)cur[i];
    free(cur);
    free(nxt);
    free(w);
    free(b);
}

static void run_gemm(int maxb, int rows, int in, int hidden, int out, int depth,
                     const char *activation, uint64_t seed)
{
    char text[1024];
    snprintf(text, sizeof text,
             "name = \"g\"; algorithm = \"gemm\"; max_batch_size = %d;\n"
             "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ %d ]; } );\n"
             "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ %d ]; } );\n"
             "parameters = { input_size = %d; hidden_size = %d; output_size = %d; depth = %d;"
             " activation = \"%s\"; seed = %llu; };\n",
             maxb, in, out, in, hidden, out, depth, activation, (unsigned long long)seed);
    const struct trk_algorithm *a = trk_algorithm_find("gemm");
    struct trk_model_config *cfg = parse(text);
    void *state = init_or_fail(a, cfg);
    assert_true(a->memory_bytes(state) >= (uint64_t)(in * (depth > 1 ? hidden : out)) * sizeof(float));
    uint64_t r = seed + 1;
    float *x = tt_malloc((size_t)rows * in * sizeof *x);
    float *want = tt_malloc((size_t)rows * out * sizeof *want);
    for (int i = 0; i < rows * in; i++)
        x[i] = tt_rand_f32(&r, -1, 1);
    gemm_reference(x, rows, in, hidden, out, depth, activation, seed, want);
    struct trk_tensor t = {.name = "INPUT0", .dtype = TRK_DTYPE_FP32, .data = x,
                           .nbytes = (size_t)rows * in * sizeof *x};
    if (maxb > 0) {
        t.ndim = 2;
        t.shape[0] = rows;
        t.shape[1] = in;
    } else {
        t.ndim = 1;
        t.shape[0] = in;
    }
    const struct trk_tensor *ins[1] = {&t};
    struct trk_tensor *outs[1] = {NULL};
    struct trk_exec_timing tm = {0, 0, 0};
    char err[TRK_ALGORITHM_ERR_MAX];
    if (a->execute(state, ins, 1, outs, 1, &tm, err, sizeof err) != TRK_OK)
        fail_msg("gemm execute: %s", err);
    assert_int_equal(outs[0]->nbytes, (size_t)rows * out * sizeof(float));
    assert_int_equal(outs[0]->shape[outs[0]->ndim - 1], out);
    assert_true(tm.infer_ns > 0);
    tt_assert_close_f32(outs[0]->data, want, (size_t)rows * out, 1e-4f, 1e-5f, "gemm");
    trk_tensor_free(outs[0]);
    /* too many rows for the buffers sized at init */
    if (maxb > 0) {
        t.shape[0] = maxb + 1;
        t.nbytes = (size_t)(maxb + 1) * in * sizeof *x;
        float *big = tt_malloc(t.nbytes);
        memset(big, 0, t.nbytes);
        t.data = big;
        assert_int_equal(a->execute(state, ins, 1, outs, 1, NULL, err, sizeof err),
                         TRK_ERR_INVALID_ARG);
        free(big);
    }
    a->fini(state);
    trk_model_config_free(cfg);
    free(x);
    free(want);
}

static void test_gemm(void **st)
{
    (void)st;
    run_gemm(8, 5, 16, 32, 7, 3, "relu", 42);
    run_gemm(0, 1, 33, 17, 9, 1, "none", 1);
    run_gemm(4, 4, 8, 64, 8, 4, "tanh", 7);
    run_gemm(2, 2, 5, 6, 3, 2, "silu", 3);
}

static void expect_check_error(const char *params, const char *dims_in, const char *dims_out,
                               int maxb, const char *msg)
{
    char text[1024], err[TRK_ALGORITHM_ERR_MAX] = "";
    snprintf(text, sizeof text,
             "name = \"g\"; algorithm = \"gemm\"; max_batch_size = %d;\n"
             "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = %s; } );\n"
             "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = %s; } );\n"
             "parameters = { %s };\n", maxb, dims_in, dims_out, params);
    struct trk_model_config *cfg = parse(text);
    const struct trk_algorithm *a = trk_algorithm_find("gemm");
    assert_int_equal(a->check(cfg, err, sizeof err), TRK_ERR_INVALID_ARG);
    if (!strstr(err, msg))
        fail_msg("check error '%s' does not mention '%s'", err, msg);
    /* init refuses the same config */
    void *state = NULL;
    assert_int_not_equal(a->init(cfg, ".", tt.dev, &state, err, sizeof err), TRK_OK);
    assert_null(state);
    trk_model_config_free(cfg);
}

static void test_gemm_check(void **st)
{
    (void)st;
    expect_check_error("input_size = 5;", "[ 4 ]", "[ 3 ]", 4, "input_size");
    expect_check_error("output_size = 2;", "[ 4 ]", "[ 3 ]", 4, "output_size");
    expect_check_error("depth = 0;", "[ 4 ]", "[ 3 ]", 4, "depth");
    expect_check_error("depth = \"x\";", "[ 4 ]", "[ 3 ]", 4, "depth");
    expect_check_error("activation = \"gelu\";", "[ 4 ]", "[ 3 ]", 4, "activation");
    expect_check_error("hidden_size = -3;", "[ 4 ]", "[ 3 ]", 4, "hidden_size");
    expect_check_error("seed = 1;", "[ -1 ]", "[ 3 ]", 4, "input_size");
    expect_check_error("seed = 1;", "[ 2, 4 ]", "[ 2, 3 ]", 4, "dims");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),     cmocka_unit_test(test_identity),
        cmocka_unit_test(test_sum),       cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_gemm_check),
    };
    return tt_run_on_all_devices("builtin_models", tests, sizeof tests / sizeof tests[0]);
}
