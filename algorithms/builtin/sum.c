/* sum: OUTPUT0[b] = sum of INPUT0[b, :] (FP32, accumulated in double), on the host.
 * Without batching INPUT0 is [N] and OUTPUT0 [1]; with max_batch_size > 0 they are
 * [B,N] and [B,1]. */
#include <stdio.h>
#include <string.h>

#include "builtin.h"

static enum trk_status sum_check(const struct trk_model_config *cfg, char *err, size_t errlen)
{
    if (cfg->ninputs != 1 || cfg->noutputs != 1) {
        snprintf(err, errlen, "sum needs exactly one input and one output (has %u and %u)",
                 cfg->ninputs, cfg->noutputs);
        return TRK_ERR_INVALID_ARG;
    }
    const struct trk_model_io *in = &cfg->inputs[0], *out = &cfg->outputs[0];
    if (in->data_type != TRK_DTYPE_FP32 || in->ndims != 1) {
        snprintf(err, errlen, "input '%s' must be TYPE_FP32 with dims [ -1 ] (or [ N ])",
                 in->name);
        return TRK_ERR_INVALID_ARG;
    }
    if (out->data_type != TRK_DTYPE_FP32 || out->ndims != 1 || out->dims[0] != 1) {
        snprintf(err, errlen, "output '%s' must be TYPE_FP32 with dims [ 1 ]", out->name);
        return TRK_ERR_INVALID_ARG;
    }
    if (in->has_reshape || out->has_reshape) {
        snprintf(err, errlen, "sum does not support reshape");
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

struct sum_state {
    int batching;
};

static enum trk_status sum_init(const struct trk_model_config *cfg, const char *version_dir,
                                struct trk_device *dev, void **state, char *err, size_t errlen)
{
    enum trk_status st = sum_check(cfg, err, errlen);
    if (st != TRK_OK)
        return st;
    static struct sum_state k_plain = {0}, k_batched = {1};
    *state = cfg->max_batch_size > 0 ? &k_batched : &k_plain; /* stateless: nothing to free */
    return TRK_OK;
}

static enum trk_status sum_execute(void *state, const struct trk_tensor *const *inputs,
                                   uint32_t ninputs, struct trk_tensor **outputs,
                                   uint32_t noutputs, struct trk_exec_timing *timing, char *err,
                                   size_t errlen)
{
    const struct sum_state *ss = state;
    const struct trk_tensor *in = ninputs ? inputs[0] : NULL;
    uint32_t want_ndim = ss->batching ? 2 : 1;
    if (noutputs != 1 || !in || in->dtype != TRK_DTYPE_FP32 || in->ndim != want_ndim) {
        snprintf(err, errlen, "input 'INPUT0': expected FP32 %s", ss->batching ? "[-1,-1]" : "[-1]");
        return TRK_ERR_INVALID_ARG;
    }
    int64_t rows = ss->batching ? in->shape[0] : 1;
    int64_t cols = in->shape[want_ndim - 1];
    if (rows < 0 || cols < 0 || (size_t)(rows * cols) * sizeof(float) != in->nbytes) {
        snprintf(err, errlen, "input '%s': %zu bytes do not match its shape", in->name,
                 in->nbytes);
        return TRK_ERR_INVALID_ARG;
    }
    int64_t shape[2] = {rows, 1};
    struct trk_tensor *out;
    enum trk_status st = ss->batching ? trk_tensor_alloc("OUTPUT0", TRK_DTYPE_FP32, 2, shape, &out)
                                      : trk_tensor_alloc("OUTPUT0", TRK_DTYPE_FP32, 1, &shape[1], &out);
    if (st != TRK_OK) {
        snprintf(err, errlen, "out of memory");
        return st;
    }
    const float *x = in->data;
    float *y = out->data;
    for (int64_t r = 0; r < rows; r++) {
        double acc = 0;
        for (int64_t c = 0; c < cols; c++)
            acc += x[r * cols + c];
        y[r] = (float)acc;
    }
    outputs[0] = out;
    if (timing)
        memset(timing, 0, sizeof *timing);
    return TRK_OK;
}

static void sum_fini(void *state)
{
    (void)state;
}

const struct trk_algorithm trk_algorithm_sum = {
    .name = "sum",
    .description = "OUTPUT0 = sum of the FP32 vector INPUT0 (per batch row), on the host",
    .check = sum_check,
    .init = sum_init,
    .execute = sum_execute,
    .fini = sum_fini,
    .memory_bytes = NULL,
};
