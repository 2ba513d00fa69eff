/* identity: OUTPUTi = INPUTi, byte for byte (any dtype, BYTES included). Parameters:
 * any_dtype / any_shape (the server's validation honours them), delay_us (sleep per
 * execute: tests use it for slow-model cases). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builtin.h"

#define IDENTITY_MAX_DELAY_US 60000000 /* one minute */

struct identity_state {
    int64_t delay_us;
};

static enum trk_status identity_check(const struct trk_model_config *cfg, char *err,
                                      size_t errlen)
{
    bool any_dtype = false, any_shape = false;
    int64_t delay;
    if (trk_model_config_param_bool(cfg, "any_dtype", false, &any_dtype) != TRK_OK ||
        trk_model_config_param_bool(cfg, "any_shape", false, &any_shape) != TRK_OK) {
        snprintf(err, errlen, "parameters 'any_dtype' and 'any_shape' must be true or false");
        return TRK_ERR_INVALID_ARG;
    }
    if (trk_model_config_param_i64(cfg, "delay_us", 0, 0, IDENTITY_MAX_DELAY_US, &delay) !=
        TRK_OK) {
        snprintf(err, errlen, "parameter 'delay_us' = '%s' is not an integer in [0, %d]",
                 trk_model_config_param(cfg, "delay_us"), IDENTITY_MAX_DELAY_US);
        return TRK_ERR_INVALID_ARG;
    }
    if (cfg->ninputs != cfg->noutputs) {
        snprintf(err, errlen, "identity needs as many outputs as inputs (%u inputs, %u outputs)",
                 cfg->ninputs, cfg->noutputs);
        return TRK_ERR_INVALID_ARG;
    }
    for (uint32_t i = 0; i < cfg->ninputs; i++) {
        const struct trk_model_io *in = &cfg->inputs[i], *out = &cfg->outputs[i];
        if (!any_dtype && in->data_type != out->data_type) {
            snprintf(err, errlen, "output '%s' must have the data type of input '%s' (%s)",
                     out->name, in->name, trk_dtype_config_name(in->data_type));
            return TRK_ERR_INVALID_ARG;
        }
        bool same = in->ndims == out->ndims;
        for (uint32_t d = 0; same && d < in->ndims; d++)
            same = in->dims[d] == out->dims[d];
        if (!any_shape && !same) {
            snprintf(err, errlen, "output '%s' must have the dims of input '%s'", out->name,
                     in->name);
            return TRK_ERR_INVALID_ARG;
        }
    }
    return TRK_OK;
}

static enum trk_status identity_init(const struct trk_model_config *cfg, const char *version_dir,
                                     struct trk_device *dev, void **state, char *err,
                                     size_t errlen)
{
    enum trk_status st = identity_check(cfg, err, errlen);
    if (st != TRK_OK)
        return st;
    struct identity_state *is = calloc(1, sizeof *is);
    if (!is) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    trk_model_config_param_i64(cfg, "delay_us", 0, 0, IDENTITY_MAX_DELAY_US, &is->delay_us);
    *state = is;
    return TRK_OK;
}

static enum trk_status identity_execute(void *state, const struct trk_tensor *const *inputs,
                                        uint32_t ninputs, struct trk_tensor **outputs,
                                        uint32_t noutputs, struct trk_exec_timing *timing,
                                        char *err, size_t errlen)
{
    const struct identity_state *is = state;
    if (is->delay_us > 0) {
        struct timespec ts = {(time_t)(is->delay_us / 1000000),
                              (long)(is->delay_us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    uint32_t n = ninputs < noutputs ? ninputs : noutputs;
    for (uint32_t i = 0; i < noutputs; i++)
        outputs[i] = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const struct trk_tensor *in = inputs[i];
        if (!in) { /* an omitted optional input gives an empty output */
            int64_t zero = 0;
            trk_tensor_alloc_bytes("", TRK_DTYPE_UINT8, 1, &zero, 0, &outputs[i]);
        } else {
            trk_tensor_alloc_bytes(in->name, in->dtype, in->ndim, in->shape, in->nbytes,
                                   &outputs[i]);
            if (outputs[i] && in->nbytes)
                memcpy(outputs[i]->data, in->data, in->nbytes);
        }
        if (!outputs[i]) {
            for (uint32_t j = 0; j < i; j++) {
                trk_tensor_free(outputs[j]);
                outputs[j] = NULL;
            }
            snprintf(err, errlen, "out of memory");
            return TRK_ERR_NO_MEMORY;
        }
    }
    if (timing)
        memset(timing, 0, sizeof *timing);
    return TRK_OK;
}

static void identity_fini(void *state)
{
    free(state);
}

const struct trk_algorithm trk_algorithm_identity = {
    .name = "identity",
    .description = "OUTPUTi = INPUTi byte for byte (parameters any_dtype, any_shape, delay_us)",
    .check = identity_check,
    .init = identity_init,
    .execute = identity_execute,
    .fini = identity_fini,
    .memory_bytes = NULL,
};
