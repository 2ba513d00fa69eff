/* The "exatrkx" model: spacepoint features in, one track label per spacepoint out
 * (trk/algorithm.h), the interface of the published Exa.TrkX Triton backend (the ACTS
 * Triton client sends FEATURES FP32 [N,3] and reads LABELS INT64 [N]). The instance
 * holds the trained networks on its device; a request carries one event's features.
 *
 * config.cfg: max_batch_size = 0; input FEATURES (TYPE_FP32, dims [ -1, 3 ]): per
 * spacepoint (r/1000, φ/π, z/1000), r and z in mm; output LABELS (TYPE_INT64, dims
 * [ -1 ]): track label per spacepoint, −1 for none, tracks numbered 0.. by their lowest
 * spacepoint index. Parameters (absent ones take the weights file's metadata, i.e. what
 * training validated; see trk/exatrkx.h for their meaning):
 *   weights           file in the version folder (default "exatrkx.safetensors")
 *   radius            embedding-space radius, > 0
 *   knn               neighbours per hit, 1..64 (the per-hit list is a fixed array)
 *   filter_cut, edge_cut   sigmoid cuts, in (0, 1)
 *   min_hits          smallest track kept, 1..1000
 *   junction_removal  true / false
 *   max_hits, max_edges, filter_chunk   capacities (scratch sized at init) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trk/algorithm.h"
#include "trk/exatrkx.h"

#define EX_DEFAULT_WEIGHTS "exatrkx.safetensors"

struct ex_model {
    struct trk_ex_instance *ex;
    struct trk_ex_result res;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Reads float parameter `key` into *out when present: a finite number in the interval
 * (lo, hi) (open ends) or [lo, hi] (closed ends). On failure writes why to err. */
static enum trk_status param_f32(const struct trk_model_config *cfg, const char *key, double lo,
                                 double hi, bool open, float *out, char *err, size_t errlen)
{
    const char *s = trk_model_config_param(cfg, key);
    if (!s)
        return TRK_OK;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    bool ok = end != s && !*end && errno == 0 && isfinite(v) &&
              (open ? v > lo && v < hi : v >= lo && v <= hi);
    if (!ok) {
        snprintf(err, errlen, "parameter '%s' = '%s' must be a number in %c%g, %g%c", key, s,
                 open ? '(' : '[', lo, hi, open ? ')' : ']');
        return TRK_ERR_INVALID_ARG;
    }
    *out = (float)v;
    return TRK_OK;
}

/* Reads integer parameter `key` in [lo, hi] into *out when present. */
static enum trk_status param_u32(const struct trk_model_config *cfg, const char *key, int64_t lo,
                                 int64_t hi, uint32_t *out, char *err, size_t errlen)
{
    int64_t v;
    if (trk_model_config_param_i64(cfg, key, *out, lo, hi, &v) != TRK_OK) {
        snprintf(err, errlen, "parameter '%s' = '%s' must be an integer in [%lld, %lld]", key,
                 trk_model_config_param(cfg, key), (long long)lo, (long long)hi);
        return TRK_ERR_INVALID_ARG;
    }
    *out = (uint32_t)v;
    return TRK_OK;
}

/* Overrides the fields of p that config.cfg names, validating each. */
static enum trk_status read_params(const struct trk_model_config *cfg, struct trk_ex_params *p,
                                   char *err, size_t errlen)
{
    enum trk_status st;
    if ((st = param_f32(cfg, "radius", 0, 1e3, true, &p->radius, err, errlen)) != TRK_OK ||
        (st = param_f32(cfg, "filter_cut", 0, 1, true, &p->filter_cut, err, errlen)) != TRK_OK ||
        (st = param_f32(cfg, "edge_cut", 0, 1, true, &p->edge_cut, err, errlen)) != TRK_OK ||
        (st = param_u32(cfg, "knn", 1, 64, &p->knn, err, errlen)) != TRK_OK ||
        (st = param_u32(cfg, "min_hits", 1, 1000, &p->min_hits, err, errlen)) != TRK_OK ||
        (st = param_u32(cfg, "max_hits", 1, 1 << 26, &p->max_hits, err, errlen)) != TRK_OK ||
        (st = param_u32(cfg, "max_edges", 1, 1 << 30, &p->max_edges, err, errlen)) != TRK_OK ||
        (st = param_u32(cfg, "filter_chunk", 1, 1 << 24, &p->filter_chunk, err, errlen)) !=
            TRK_OK)
        return st;
    if (trk_model_config_param_bool(cfg, "junction_removal", p->junction_removal,
                                    &p->junction_removal) != TRK_OK) {
        snprintf(err, errlen, "parameter 'junction_removal' must be true or false");
        return TRK_ERR_INVALID_ARG;
    }
    const char *w = trk_model_config_param(cfg, "weights");
    if (w && (!*w || strstr(w, "..") || strchr(w, '/'))) {
        snprintf(err, errlen, "parameter 'weights' = '%s' must be a file name in the version "
                              "folder (no '/' or '..')", w);
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

static enum trk_status ex_check(const struct trk_model_config *cfg, char *err, size_t errlen)
{
    if (cfg->max_batch_size != 0) {
        snprintf(err, errlen, "exatrkx serves one event per request: set max_batch_size = 0");
        return TRK_ERR_INVALID_ARG;
    }
    const struct trk_model_io *in = cfg->inputs, *out = cfg->outputs;
    if (cfg->ninputs != 1 || strcmp(in->name, "FEATURES") || in->data_type != TRK_DTYPE_FP32 ||
        in->ndims != 2 || in->dims[0] != -1 || in->dims[1] != 3 || in->has_reshape ||
        in->optional) {
        snprintf(err, errlen, "exatrkx takes one input: FEATURES as TYPE_FP32 with dims "
                              "[ -1, 3 ] (r/1000, phi/pi, z/1000 per spacepoint)");
        return TRK_ERR_INVALID_ARG;
    }
    if (cfg->noutputs != 1 || strcmp(out->name, "LABELS") || out->data_type != TRK_DTYPE_INT64 ||
        out->ndims != 1 || out->dims[0] != -1 || out->has_reshape) {
        snprintf(err, errlen, "exatrkx has one output: LABELS as TYPE_INT64 with dims [ -1 ] "
                              "(track label per spacepoint, -1 for none)");
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_ex_params p;
    trk_ex_params_default(&p, NULL);
    return read_params(cfg, &p, err, errlen);
}

static enum trk_status ex_init(const struct trk_model_config *cfg, const char *version_dir,
                               struct trk_device *dev, void **state, char *err, size_t errlen)
{
    *state = NULL;
    enum trk_status st = ex_check(cfg, err, errlen);
    if (st != TRK_OK)
        return st;
    const char *wname = trk_model_config_param(cfg, "weights");
    char path[4096], why[TRK_ALGORITHM_ERR_MAX] = "";
    snprintf(path, sizeof path, "%s/%s", version_dir ? version_dir : ".",
             wname ? wname : EX_DEFAULT_WEIGHTS);
    struct trk_ex_weights *w = NULL;
    struct ex_model *m = calloc(1, sizeof *m);
    if (!m)
        return TRK_ERR_NO_MEMORY;
    trk_ex_result_init(&m->res);
    st = trk_ex_weights_load(path, &w, why, sizeof why);
    if (st != TRK_OK) {
        snprintf(err, errlen, "cannot load the weights %s: %s (%s; parameter 'weights' names "
                              "the file in the version folder)",
                 path, why[0] ? why : "see the log", trk_status_str(st));
        goto fail;
    }
    struct trk_ex_params p;
    trk_ex_params_default(&p, w);
    if ((st = read_params(cfg, &p, err, errlen)) != TRK_OK)
        goto fail;
    st = trk_ex_instance_create(dev, w, &p, &m->ex);
    if (st != TRK_OK) {
        snprintf(err, errlen, "cannot create the exatrkx instance on %s: %s (see the log)",
                 trk_device_id(dev), trk_status_str(st));
        goto fail;
    }
    trk_ex_weights_free(w);
    *state = m;
    return TRK_OK;
fail:
    trk_ex_weights_free(w);
    trk_ex_result_fini(&m->res);
    free(m);
    return st;
}

static enum trk_status ex_execute(void *state, const struct trk_tensor *const *inputs,
                                  uint32_t ninputs, struct trk_tensor **outputs, uint32_t noutputs,
                                  struct trk_exec_timing *timing, char *err, size_t errlen)
{
    struct ex_model *m = state;
    const struct trk_tensor *in = ninputs == 1 ? inputs[0] : NULL;
    if (noutputs != 1)
        return TRK_ERR_INTERNAL;
    outputs[0] = NULL;
    if (!in || in->dtype != TRK_DTYPE_FP32 || in->ndim != 2 || in->shape[1] != 3 ||
        in->shape[0] < 0 || in->nbytes != (size_t)in->shape[0] * 3 * sizeof(float)) {
        char shape[64] = "none";
        if (in)
            trk_shape_format(in->ndim, in->shape, shape, sizeof shape);
        snprintf(err, errlen, "input 'FEATURES': expected FP32 [-1,3], got %s %s",
                 in ? trk_dtype_name(in->dtype) : "nothing", shape);
        return TRK_ERR_INVALID_ARG;
    }
    if (in->shape[0] > UINT32_MAX) {
        snprintf(err, errlen, "input 'FEATURES': %lld spacepoints is beyond any capacity "
                              "(raise parameter 'max_hits' up to 67108864)",
                 (long long)in->shape[0]);
        return TRK_ERR_OVERFLOW;
    }
    uint32_t n = (uint32_t)in->shape[0];
    char why[TRK_ALGORITHM_ERR_MAX] = "";
    uint64_t t0 = now_ns();
    enum trk_status st = trk_ex_run(m->ex, in->data, n, &m->res, false, false, why, sizeof why);
    uint64_t t1 = now_ns();
    if (st != TRK_OK) {
        if (st == TRK_ERR_INVALID_ARG)
            snprintf(err, errlen, "input 'FEATURES': %s", why[0] ? why : "invalid");
        else
            snprintf(err, errlen, "exatrkx: %s (%s)", why[0] ? why : "failed",
                     trk_status_str(st));
        return st;
    }
    int64_t shape[1] = {n};
    st = trk_tensor_alloc("LABELS", TRK_DTYPE_INT64, 1, shape, &outputs[0]);
    if (st != TRK_OK) {
        outputs[0] = NULL;
        snprintf(err, errlen, "exatrkx: cannot allocate the LABELS output: %s",
                 trk_status_str(st));
        return st;
    }
    if (n)
        memcpy(outputs[0]->data, m->res.labels, (size_t)n * sizeof(int64_t));
    if (timing) {
        timing->input_ns = 0;
        timing->infer_ns = t1 - t0;
        timing->output_ns = now_ns() - t1;
    }
    return TRK_OK;
}

static void ex_fini(void *state)
{
    struct ex_model *m = state;
    if (!m)
        return;
    trk_ex_result_fini(&m->res);
    trk_ex_instance_free(m->ex);
    free(m);
}

static uint64_t ex_memory(void *state)
{
    struct ex_model *m = state;
    return m ? trk_ex_memory_bytes(m->ex) : 0;
}

const struct trk_algorithm trk_algorithm_exatrkx = {
    .name = "exatrkx",
    .description = "Exa.TrkX GNN tracking: spacepoint FEATURES [N,3] (r/1000, phi/pi, "
                   "z/1000) to track LABELS [N]",
    .check = ex_check,
    .init = ex_init,
    .execute = ex_execute,
    .fini = ex_fini,
    .memory_bytes = ex_memory,
};
