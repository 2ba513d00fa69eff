/* gemm: a stack of `depth` dense layers on the instance's device (trk_dense_forward:
 * OpenBLAS on the CPU device, the vendor BLAS or the portable kernel elsewhere). The
 * stand-in for real compute in the benchmarks.
 *
 * Layer l maps width[l] -> width[l+1] with width = {input_size, hidden_size x (depth-1),
 * output_size}; every layer but the last applies `activation`. Weights are deterministic
 * from `seed` (splitmix64): per layer, W stored [k x n] row-major then bias[n], each value
 * (2u - 1) * a with u = (next() >> 40) * 2^-24, a = 1/sqrt(k) for W and 0.1 for the bias.
 * tests/test_builtin_models.c rebuilds them with this recipe. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "trk/prim.h"

#define GEMM_MAX_DEPTH 64
#define GEMM_MAX_WIDTH (1 << 20)

struct gemm_params {
    int64_t input_size, hidden_size, output_size, depth, seed;
    enum trk_activation act;
    int64_t rows; /* rows per execute the buffers hold */
};

struct gemm_state {
    struct gemm_params p;
    bool batching;
    struct trk_device *dev;
    struct trk_queue *q;
    struct trk_buffer *w[GEMM_MAX_DEPTH], *bias[GEMM_MAX_DEPTH];
    struct trk_buffer *act[2];
    uint64_t mem_bytes;
};

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float gemm_uniform(uint64_t *s, float a)
{
    float u = (float)(splitmix64(s) >> 40) * (1.0f / 16777216.0f);
    return (2.0f * u - 1.0f) * a;
}

static int64_t layer_width(const struct gemm_params *p, int64_t l)
{
    if (l == 0)
        return p->input_size;
    return l == p->depth ? p->output_size : p->hidden_size;
}

static enum trk_status gemm_params_read(const struct trk_model_config *cfg, struct gemm_params *p,
                                        char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (cfg->ninputs != 1 || cfg->noutputs != 1) {
        snprintf(err, errlen, "gemm needs exactly one input and one output (has %u and %u)",
                 cfg->ninputs, cfg->noutputs);
        return TRK_ERR_INVALID_ARG;
    }
    const struct trk_model_io *in = &cfg->inputs[0], *out = &cfg->outputs[0];
    if (in->data_type != TRK_DTYPE_FP32 || out->data_type != TRK_DTYPE_FP32 ||
        in->has_reshape || out->has_reshape) {
        snprintf(err, errlen, "gemm's input and output must be TYPE_FP32 without reshape");
        return TRK_ERR_INVALID_ARG;
    }
    bool batching = cfg->max_batch_size > 0;
    /* [size] with batching (rows come with the batch), [size] or [rows, size] without. */
    if (in->ndims > (batching ? 1u : 2u) || out->ndims != in->ndims) {
        snprintf(err, errlen, "gemm's input and output dims must be %s", batching ?
                 "[ input_size ] and [ output_size ]" :
                 "[ input_size ] and [ output_size ], or [ rows, input_size ] and [ rows, output_size ]");
        return TRK_ERR_INVALID_ARG;
    }
    p->rows = batching ? cfg->max_batch_size : 1;
    if (in->ndims == 2) {
        if (in->dims[0] < 1 || in->dims[0] != out->dims[0]) {
            snprintf(err, errlen, "gemm: input '%s' and output '%s' need the same fixed number "
                     "of rows (dims[0], not -1)", in->name, out->name);
            return TRK_ERR_INVALID_ARG;
        }
        p->rows = in->dims[0];
    }
    int64_t in_w = in->dims[in->ndims - 1], out_w = out->dims[out->ndims - 1];
    const char *act = trk_model_config_param(cfg, "activation");
    static const struct {
        const char *key;
        int64_t def, lo, hi;
    } k_ints[] = {
        {"input_size", -1, 1, GEMM_MAX_WIDTH}, {"hidden_size", 256, 1, GEMM_MAX_WIDTH},
        {"output_size", -1, 1, GEMM_MAX_WIDTH}, {"depth", 2, 1, GEMM_MAX_DEPTH},
        {"seed", 0, 0, INT64_MAX},
    };
    int64_t *dst[] = {&p->input_size, &p->hidden_size, &p->output_size, &p->depth, &p->seed};
    for (size_t i = 0; i < sizeof k_ints / sizeof k_ints[0]; i++) {
        int64_t def = k_ints[i].def;
        if (i == 0)
            def = in_w > 0 ? in_w : 1;
        if (i == 2)
            def = out_w > 0 ? out_w : 1;
        if (trk_model_config_param_i64(cfg, k_ints[i].key, def, k_ints[i].lo, k_ints[i].hi,
                                       dst[i]) != TRK_OK) {
            snprintf(err, errlen, "parameter '%s' = '%s' is not an integer in [%lld, %lld]",
                     k_ints[i].key, trk_model_config_param(cfg, k_ints[i].key),
                     (long long)k_ints[i].lo, (long long)k_ints[i].hi);
            return TRK_ERR_INVALID_ARG;
        }
    }
    int a = trk_activation_parse(act ? act : "relu");
    if (a < 0) {
        snprintf(err, errlen, "parameter 'activation' = '%s' is not one of none, relu, tanh, "
                 "sigmoid, silu", act);
        return TRK_ERR_INVALID_ARG;
    }
    p->act = (enum trk_activation)a;
    if (in_w != p->input_size) {
        snprintf(err, errlen, "input '%s' dims end in %lld but parameter 'input_size' is %lld; "
                 "make them agree", in->name, (long long)in_w, (long long)p->input_size);
        return TRK_ERR_INVALID_ARG;
    }
    if (out_w != p->output_size) {
        snprintf(err, errlen, "output '%s' dims end in %lld but parameter 'output_size' is "
                 "%lld; make them agree", out->name, (long long)out_w, (long long)p->output_size);
        return TRK_ERR_INVALID_ARG;
    }
    int64_t wmax = p->input_size > p->hidden_size ? p->input_size : p->hidden_size;
    if (p->output_size > wmax)
        wmax = p->output_size;
    if (p->rows * wmax > (int64_t)1 << 31 || wmax * wmax > (int64_t)1 << 31) {
        snprintf(err, errlen, "gemm: rows x width or width^2 is above 2^31 elements; use "
                 "smaller sizes");
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

static enum trk_status gemm_check(const struct trk_model_config *cfg, char *err, size_t errlen)
{
    struct gemm_params p;
    return gemm_params_read(cfg, &p, err, errlen);
}

static void gemm_fini(void *state)
{
    struct gemm_state *gs = state;
    if (!gs)
        return;
    if (gs->q)
        trk_queue_finish(gs->q);
    for (int i = 0; i < GEMM_MAX_DEPTH; i++) {
        trk_buffer_free(gs->w[i]);
        trk_buffer_free(gs->bias[i]);
    }
    trk_buffer_free(gs->act[0]);
    trk_buffer_free(gs->act[1]);
    trk_queue_free(gs->q);
    free(gs);
}

static enum trk_status gemm_alloc(struct gemm_state *gs, size_t bytes, struct trk_buffer **out,
                                  char *err, size_t errlen)
{
    enum trk_status st = trk_buffer_alloc(gs->dev, bytes, out);
    if (st != TRK_OK)
        snprintf(err, errlen, "cannot allocate %zu bytes on %s: %s", bytes,
                 trk_device_id(gs->dev), trk_status_str(st));
    else
        gs->mem_bytes += bytes;
    return st;
}

static enum trk_status gemm_init(const struct trk_model_config *cfg, const char *version_dir,
                                 struct trk_device *dev, void **state, char *err, size_t errlen)
{
    float *host = NULL;
    struct gemm_state *gs = calloc(1, sizeof *gs);
    if (!gs) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    enum trk_status st = gemm_params_read(cfg, &gs->p, err, errlen);
    if (st != TRK_OK)
        goto fail;
    gs->batching = cfg->max_batch_size > 0;
    gs->dev = dev;
    if ((st = trk_queue_create(dev, &gs->q)) != TRK_OK) {
        snprintf(err, errlen, "cannot create a queue on %s: %s", trk_device_id(dev),
                 trk_status_str(st));
        goto fail;
    }
    const struct gemm_params *p = &gs->p;
    int64_t wmax = 0;
    for (int64_t l = 0; l <= p->depth; l++)
        if (layer_width(p, l) > wmax)
            wmax = layer_width(p, l);
    size_t act_bytes = (size_t)(p->rows * wmax) * sizeof(float);
    if ((st = gemm_alloc(gs, act_bytes, &gs->act[0], err, errlen)) != TRK_OK ||
        (st = gemm_alloc(gs, act_bytes, &gs->act[1], err, errlen)) != TRK_OK)
        goto fail;
    host = malloc((size_t)(wmax * wmax) * sizeof(float));
    if (!host) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    uint64_t rng = (uint64_t)p->seed;
    for (int64_t l = 0; l < p->depth; l++) {
        int64_t k = layer_width(p, l), n = layer_width(p, l + 1);
        float a = 1.0f / sqrtf((float)k);
        for (int64_t i = 0; i < k * n; i++)
            host[i] = gemm_uniform(&rng, a);
        if ((st = gemm_alloc(gs, (size_t)(k * n) * sizeof(float), &gs->w[l], err, errlen)) !=
                TRK_OK ||
            (st = trk_buffer_write(gs->q, gs->w[l], 0, host, (size_t)(k * n) * sizeof(float),
                                   true)) != TRK_OK)
            goto fail;
        for (int64_t i = 0; i < n; i++)
            host[i] = gemm_uniform(&rng, 0.1f);
        if ((st = gemm_alloc(gs, (size_t)n * sizeof(float), &gs->bias[l], err, errlen)) !=
                TRK_OK ||
            (st = trk_buffer_write(gs->q, gs->bias[l], 0, host, (size_t)n * sizeof(float),
                                   true)) != TRK_OK)
            goto fail;
    }
    if ((st = trk_queue_finish(gs->q)) != TRK_OK) {
        snprintf(err, errlen, "uploading the weights to %s failed: %s", trk_device_id(dev),
                 trk_status_str(st));
        goto fail;
    }
    free(host);
    *state = gs;
    return TRK_OK;
fail:
    if (st != TRK_OK && !err[0])
        snprintf(err, errlen, "%s", trk_status_str(st));
    free(host);
    gemm_fini(gs);
    return st;
}

static enum trk_status gemm_execute(void *state, const struct trk_tensor *const *inputs,
                                    uint32_t ninputs, struct trk_tensor **outputs,
                                    uint32_t noutputs, struct trk_exec_timing *timing, char *err,
                                    size_t errlen)
{
    struct gemm_state *gs = state;
    const struct gemm_params *p = &gs->p;
    const struct trk_tensor *in = ninputs ? inputs[0] : NULL;
    struct trk_tensor *out = NULL;
    enum trk_status st;
    if (!in || noutputs != 1 || in->dtype != TRK_DTYPE_FP32 || in->ndim < 1 ||
        in->shape[in->ndim - 1] != p->input_size) {
        snprintf(err, errlen, "input: expected FP32 [..,%lld]", (long long)p->input_size);
        return TRK_ERR_INVALID_ARG;
    }
    int64_t rows = in->ndim == 2 ? in->shape[0] : 1;
    if (rows < 1 || rows > p->rows || in->nbytes != (size_t)(rows * p->input_size) * sizeof(float)) {
        snprintf(err, errlen, "input '%s': %lld rows (at most %lld) or %zu bytes do not fit",
                 in->name, (long long)rows, (long long)p->rows, in->nbytes);
        return TRK_ERR_INVALID_ARG;
    }
    int64_t shape[2] = {rows, p->output_size};
    if (in->ndim == 2)
        st = trk_tensor_alloc("OUTPUT0", TRK_DTYPE_FP32, 2, shape, &out);
    else
        st = trk_tensor_alloc("OUTPUT0", TRK_DTYPE_FP32, 1, &shape[1], &out);
    if (st != TRK_OK) {
        snprintf(err, errlen, "out of memory");
        return st;
    }
    uint64_t t0 = builtin_now_ns();
    if ((st = trk_buffer_write(gs->q, gs->act[0], 0, in->data, in->nbytes, false)) != TRK_OK ||
        (st = trk_queue_finish(gs->q)) != TRK_OK)
        goto fail;
    uint64_t t1 = builtin_now_ns();
    int cur = 0;
    for (int64_t l = 0; l < p->depth; l++) {
        struct trk_dense d = {
            .m = (uint32_t)rows,
            .n = (uint32_t)layer_width(p, l + 1),
            .k = (uint32_t)layer_width(p, l),
            .trans_b = false,
            .a = gs->act[cur],
            .b = gs->w[l],
            .bias = gs->bias[l],
            .c = gs->act[cur ^ 1],
            .act = l + 1 < p->depth ? p->act : TRK_ACT_NONE,
        };
        if ((st = trk_dense_forward(gs->q, &d, false)) != TRK_OK)
            goto fail;
        cur ^= 1;
    }
    if ((st = trk_queue_finish(gs->q)) != TRK_OK)
        goto fail;
    uint64_t t2 = builtin_now_ns();
    if ((st = trk_buffer_read(gs->q, out->data, gs->act[cur], 0, out->nbytes, true)) != TRK_OK)
        goto fail;
    uint64_t t3 = builtin_now_ns();
    if (timing) {
        timing->input_ns = t1 - t0;
        timing->infer_ns = t2 - t1;
        timing->output_ns = t3 - t2;
    }
    outputs[0] = out;
    return TRK_OK;
fail:
    snprintf(err, errlen, "gemm on %s failed: %s", trk_device_id(gs->dev), trk_status_str(st));
    trk_tensor_free(out);
    return st == TRK_ERR_INVALID_ARG ? TRK_ERR_INTERNAL : st;
}

static uint64_t gemm_memory_bytes(void *state)
{
    const struct gemm_state *gs = state;
    return gs ? gs->mem_bytes : 0;
}

const struct trk_algorithm trk_algorithm_gemm = {
    .name = "gemm",
    .description = "a stack of dense layers on the device (parameters input_size, hidden_size, "
                   "output_size, depth, activation, seed)",
    .check = gemm_check,
    .init = gemm_init,
    .execute = gemm_execute,
    .fini = gemm_fini,
    .memory_bytes = gemm_memory_bytes,
};
