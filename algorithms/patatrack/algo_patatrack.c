/* The "patatrack" model: one event's compressed raw pixel data in, pixel tracks and
 * vertices out (trk/algorithm.h). The instance holds the conditions on its device; a
 * request carries only the raw_zstd bytes of one event.
 *
 * config.cfg: max_batch_size = 0; input raw_zstd (TYPE_UINT8, dims [ -1 ]); any subset of
 * the outputs below, by name, with the dtype and rank listed. Parameters:
 *   conditions_seed  conditions made with this seed (as `trk gen --seed`) when the
 *                    version folder holds no cms_*.bin files (default 1)
 *   geometry         "builtin" (default) or a cms_phase1_pixel_modules.csv path
 *   max_hits, max_doublets, max_tuples, max_vertices, max_fed_words  capacities
 *   min_hits_per_ntuplet (3 or 4), include_jumping_forward (true) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pt_internal.h"
#include "trk/algorithm.h"

/* Outputs the model can produce. T tracks, V vertices, H hits. */
enum pt_out {
    OUT_TRACK_PARAMS,  /* FP32 [T,5] pT (GeV), η, φ, tip (mm), zip (mm) */
    OUT_TRACK_STATE,   /* FP32 [T,5] φ, tip, q/pT, cotθ, zip (Patatrack stateAtBS, mm) */
    OUT_TRACK_COV,     /* FP32 [T,15] */
    OUT_TRACK_CHI2,    /* FP32 [T] χ²/ndof */
    OUT_TRACK_CHARGE,  /* INT32 [T] */
    OUT_TRACK_QUALITY, /* UINT8 [T] enum trk_pt_quality */
    OUT_TRACK_VERTEX,  /* INT32 [T] */
    OUT_TRACK_HIT_OFFSETS, /* UINT32 [T+1] */
    OUT_TRACK_HITS,    /* UINT32 [N] hit indices */
    OUT_VERTEX_PARAMS, /* FP32 [V,4] z (mm), σz (mm), Σpt² (GeV²), χ²/ndof */
    OUT_VERTEX_NDOF,   /* INT32 [V] */
    OUT_HIT_POS,       /* FP32 [H,3] mm */
    OUT_HIT_MODULE,    /* UINT32 [H] */
    OUT_HIT_DIGI_OFFSETS, /* UINT32 [H+1] */
    OUT_HIT_DIGIS,     /* UINT32 [N] digi indices (raw-word order) */
    OUT_COUNTS,        /* UINT32 [16] see k_count_names */
    OUT_ERRORS,        /* UINT32 [64] data-level errors by CMS type */
    OUT_N
};

static const struct {
    const char *name;
    enum trk_dtype dt;
    uint32_t ndim;
} k_outs[OUT_N] = {
    [OUT_TRACK_PARAMS] = {"TRACK_PARAMS", TRK_DTYPE_FP32, 2},
    [OUT_TRACK_STATE] = {"TRACK_STATE", TRK_DTYPE_FP32, 2},
    [OUT_TRACK_COV] = {"TRACK_COV", TRK_DTYPE_FP32, 2},
    [OUT_TRACK_CHI2] = {"TRACK_CHI2", TRK_DTYPE_FP32, 1},
    [OUT_TRACK_CHARGE] = {"TRACK_CHARGE", TRK_DTYPE_INT32, 1},
    [OUT_TRACK_QUALITY] = {"TRACK_QUALITY", TRK_DTYPE_UINT8, 1},
    [OUT_TRACK_VERTEX] = {"TRACK_VERTEX", TRK_DTYPE_INT32, 1},
    [OUT_TRACK_HIT_OFFSETS] = {"TRACK_HIT_OFFSETS", TRK_DTYPE_UINT32, 1},
    [OUT_TRACK_HITS] = {"TRACK_HITS", TRK_DTYPE_UINT32, 1},
    [OUT_VERTEX_PARAMS] = {"VERTEX_PARAMS", TRK_DTYPE_FP32, 2},
    [OUT_VERTEX_NDOF] = {"VERTEX_NDOF", TRK_DTYPE_INT32, 1},
    [OUT_HIT_POS] = {"HIT_POS", TRK_DTYPE_FP32, 2},
    [OUT_HIT_MODULE] = {"HIT_MODULE", TRK_DTYPE_UINT32, 1},
    [OUT_HIT_DIGI_OFFSETS] = {"HIT_DIGI_OFFSETS", TRK_DTYPE_UINT32, 1},
    [OUT_HIT_DIGIS] = {"HIT_DIGIS", TRK_DTYPE_UINT32, 1},
    [OUT_COUNTS] = {"COUNTS", TRK_DTYPE_UINT32, 1},
    [OUT_ERRORS] = {"ERRORS", TRK_DTYPE_UINT32, 1},
};

/* The COUNTS output: fed_words, digis, errors, modules, clusters, doublets, tuples,
 * tracks, vertices, overflow_words, overflow_hits, overflow_doublets, overflow_tuples,
 * overflow_vertices, overflow_cell_links, 0 (reserved). */
#define PT_NCOUNTS 16

static int out_index(const char *name)
{
    for (int i = 0; i < OUT_N; i++)
        if (!strcmp(k_outs[i].name, name))
            return i;
    return -1;
}

struct pt_model {
    struct trk_pt_instance *pt;
    struct trk_pt_result res;
    int outs[16]; /* config output j -> enum pt_out */
    uint32_t nouts;
};

static enum trk_status pt_check(const struct trk_model_config *cfg, char *err, size_t errlen)
{
    if (cfg->max_batch_size != 0) {
        snprintf(err, errlen, "patatrack serves one event per request: set max_batch_size = 0");
        return TRK_ERR_INVALID_ARG;
    }
    if (cfg->ninputs != 1 || cfg->inputs[0].data_type != TRK_DTYPE_UINT8 ||
        cfg->inputs[0].ndims != 1 || cfg->inputs[0].has_reshape) {
        snprintf(err, errlen, "patatrack takes one input: the event's raw_zstd bytes as "
                              "TYPE_UINT8 with dims [ -1 ]");
        return TRK_ERR_INVALID_ARG;
    }
    if (cfg->noutputs > 16) {
        snprintf(err, errlen, "patatrack has at most 16 outputs (%u given)", cfg->noutputs);
        return TRK_ERR_INVALID_ARG;
    }
    for (uint32_t j = 0; j < cfg->noutputs; j++) {
        const struct trk_model_io *o = &cfg->outputs[j];
        int k = out_index(o->name);
        if (k < 0) {
            char names[512] = "";
            for (int i = 0; i < OUT_N; i++) {
                strncat(names, k_outs[i].name, sizeof names - strlen(names) - 1);
                if (i + 1 < OUT_N)
                    strncat(names, ", ", sizeof names - strlen(names) - 1);
            }
            snprintf(err, errlen, "output '%s': patatrack has no such output (it has %s)",
                     o->name, names);
            return TRK_ERR_INVALID_ARG;
        }
        if (o->data_type != k_outs[k].dt || o->ndims != k_outs[k].ndim || o->has_reshape) {
            snprintf(err, errlen, "output '%s' must be TYPE_%s with %u dims", o->name,
                     trk_dtype_name(k_outs[k].dt), k_outs[k].ndim);
            return TRK_ERR_INVALID_ARG;
        }
    }
    int64_t v;
    static const char *const u32keys[] = {"max_hits", "max_doublets", "max_tuples",
                                          "max_vertices", "max_fed_words"};
    for (size_t i = 0; i < sizeof u32keys / sizeof u32keys[0]; i++)
        if (trk_model_config_param_i64(cfg, u32keys[i], 1, 1, 1 << 28, &v) != TRK_OK) {
            snprintf(err, errlen, "parameter '%s' must be an integer in [1, 268435456]",
                     u32keys[i]);
            return TRK_ERR_INVALID_ARG;
        }
    if (trk_model_config_param_i64(cfg, "min_hits_per_ntuplet", 3, 3, 4, &v) != TRK_OK) {
        snprintf(err, errlen, "parameter 'min_hits_per_ntuplet' must be 3 or 4");
        return TRK_ERR_INVALID_ARG;
    }
    bool b;
    if (trk_model_config_param_bool(cfg, "include_jumping_forward", true, &b) != TRK_OK) {
        snprintf(err, errlen, "parameter 'include_jumping_forward' must be true or false");
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static enum trk_status pt_init(const struct trk_model_config *cfg, const char *version_dir,
                               struct trk_device *dev, void **state, char *err, size_t errlen)
{
    *state = NULL;
    enum trk_status st = pt_check(cfg, err, errlen);
    if (st != TRK_OK)
        return st;
    struct trk_pt_params p;
    trk_pt_params_default(&p);
    int64_t v;
    (void)trk_model_config_param_i64(cfg, "max_hits", p.max_hits, 1, 1 << 28, &v);
    p.max_hits = (uint32_t)v;
    (void)trk_model_config_param_i64(cfg, "max_doublets", p.max_doublets, 1, 1 << 28, &v);
    p.max_doublets = (uint32_t)v;
    (void)trk_model_config_param_i64(cfg, "max_tuples", p.max_tuples, 1, 1 << 28, &v);
    p.max_tuples = (uint32_t)v;
    (void)trk_model_config_param_i64(cfg, "max_vertices", p.max_vertices, 1, 1 << 28, &v);
    p.max_vertices = (uint32_t)v;
    (void)trk_model_config_param_i64(cfg, "max_fed_words", p.max_fed_words, 1, 1 << 28, &v);
    p.max_fed_words = (uint32_t)v;
    (void)trk_model_config_param_i64(cfg, "min_hits_per_ntuplet", 3, 3, 4, &v);
    p.min_hits_per_ntuplet = (uint32_t)v;
    (void)trk_model_config_param_bool(cfg, "include_jumping_forward", true,
                                      &p.include_jumping_forward);

    const char *geometry = trk_model_config_param(cfg, "geometry");
    if (geometry && !strcmp(geometry, "builtin"))
        geometry = NULL;
    struct trk_detector *det = NULL;
    struct trk_cms_conditions *cond = NULL;
    struct pt_model *m = calloc(1, sizeof *m);
    if (!m)
        return TRK_ERR_NO_MEMORY;
    st = trk_detector_load("cms", geometry, &det);
    if (st != TRK_OK) {
        snprintf(err, errlen, "cannot load the CMS geometry '%s' (parameter 'geometry'): %s",
                 geometry ? geometry : "builtin", trk_status_str(st));
        goto fail;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/cms_cabling.bin", version_dir ? version_dir : ".");
    if (version_dir && file_exists(path)) {
        st = trk_cms_conditions_read(version_dir, &cond);
        if (st != TRK_OK) {
            snprintf(err, errlen, "cannot read the CMS conditions in %s: %s (see the log)",
                     version_dir, trk_status_str(st));
            goto fail;
        }
    } else {
        (void)trk_model_config_param_i64(cfg, "conditions_seed", 1, 0, INT64_MAX, &v);
        st = trk_cms_conditions_make(det, (uint64_t)v, &cond);
        if (st != TRK_OK) {
            snprintf(err, errlen, "cannot make the CMS conditions (seed %" PRId64 "): %s", v,
                     trk_status_str(st));
            goto fail;
        }
    }
    st = trk_pt_instance_create(dev, cond, det, &p, &m->pt);
    if (st != TRK_OK) {
        snprintf(err, errlen, "cannot create the patatrack instance on %s: %s (see the log)",
                 trk_device_id(dev), trk_status_str(st));
        goto fail;
    }
    m->nouts = cfg->noutputs;
    for (uint32_t j = 0; j < cfg->noutputs; j++)
        m->outs[j] = out_index(cfg->outputs[j].name);
    trk_pt_result_init(&m->res);
    trk_cms_conditions_free(cond);
    trk_detector_free(det);
    *state = m;
    return TRK_OK;
fail:
    trk_cms_conditions_free(cond);
    trk_detector_free(det);
    free(m);
    return st;
}

/* Allocates output tensor `name` of rows x width elements of k_outs[k] and copies src. */
static enum trk_status make_out(const char *name, int k, size_t rows, uint32_t width,
                                const void *src, struct trk_tensor **out)
{
    int64_t shape[2] = {(int64_t)rows, width};
    enum trk_status st = trk_tensor_alloc(name, k_outs[k].dt, k_outs[k].ndim, shape, out);
    if (st == TRK_OK && (*out)->nbytes && src)
        memcpy((*out)->data, src, (*out)->nbytes);
    return st;
}

static enum trk_status pt_execute(void *state, const struct trk_tensor *const *inputs,
                                  uint32_t ninputs, struct trk_tensor **outputs, uint32_t noutputs,
                                  struct trk_exec_timing *timing, char *err, size_t errlen)
{
    struct pt_model *m = state;
    (void)timing;
    if (ninputs != 1 || !inputs[0] || inputs[0]->dtype != TRK_DTYPE_UINT8) {
        snprintf(err, errlen, "input 'raw_zstd': expected the event's raw_zstd bytes as UINT8 [-1]");
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_pt_result *r = &m->res;
    enum trk_status st = trk_pt_run(m->pt, inputs[0]->data, inputs[0]->nbytes, r, false);
    if (st == TRK_ERR_PARSE) {
        snprintf(err, errlen, "input 'raw_zstd': not a valid CMS raw-data event (zstd frame of a "
                              "FED collection); see the server log for the offset and field");
        return TRK_ERR_INVALID_ARG;
    }
    if (st != TRK_OK) {
        snprintf(err, errlen, "patatrack failed: %s", trk_status_str(st));
        return st;
    }
    uint32_t nt = r->ntracks, nv = r->nvertices, nh = r->nhits;
    for (uint32_t j = 0; j < noutputs; j++)
        outputs[j] = NULL;
    for (uint32_t j = 0; j < noutputs && st == TRK_OK; j++) {
        int k = m->outs[j];
        const char *name = k_outs[k].name;
        struct trk_tensor **o = &outputs[j];
        switch (k) {
        case OUT_TRACK_PARAMS:
            st = make_out(name, k, nt, 5, NULL, o);
            for (uint32_t i = 0; st == TRK_OK && i < nt; i++) {
                float *d = (float *)(*o)->data + 5 * (size_t)i;
                d[0] = r->track_pt[i];
                d[1] = r->track_eta[i];
                d[2] = r->track_state[5 * i + 0];
                d[3] = r->track_state[5 * i + 1];
                d[4] = r->track_state[5 * i + 4];
            }
            break;
        case OUT_TRACK_STATE: st = make_out(name, k, nt, 5, r->track_state, o); break;
        case OUT_TRACK_COV: st = make_out(name, k, nt, 15, r->track_cov, o); break;
        case OUT_TRACK_CHI2: st = make_out(name, k, nt, 0, r->track_chi2, o); break;
        case OUT_TRACK_CHARGE: st = make_out(name, k, nt, 0, r->track_charge, o); break;
        case OUT_TRACK_QUALITY: st = make_out(name, k, nt, 0, r->track_quality, o); break;
        case OUT_TRACK_VERTEX: st = make_out(name, k, nt, 0, r->track_vertex, o); break;
        case OUT_TRACK_HIT_OFFSETS:
            st = make_out(name, k, (size_t)nt + 1, 0, r->track_hit_offsets, o);
            break;
        case OUT_TRACK_HITS:
            st = make_out(name, k, r->track_hit_offsets[nt], 0, r->track_hits, o);
            break;
        case OUT_VERTEX_PARAMS:
            st = make_out(name, k, nv, 4, NULL, o);
            for (uint32_t i = 0; st == TRK_OK && i < nv; i++) {
                float *d = (float *)(*o)->data + 4 * (size_t)i;
                d[0] = r->vertex_z[i];
                d[1] = r->vertex_zerr[i];
                d[2] = r->vertex_ptv2[i];
                d[3] = r->vertex_chi2[i];
            }
            break;
        case OUT_VERTEX_NDOF: st = make_out(name, k, nv, 0, r->vertex_ndof, o); break;
        case OUT_HIT_POS: st = make_out(name, k, nh, 3, r->hit_pos, o); break;
        case OUT_HIT_MODULE: st = make_out(name, k, nh, 0, r->hit_module, o); break;
        case OUT_HIT_DIGI_OFFSETS:
            st = make_out(name, k, (size_t)nh + 1, 0, r->hit_digi_offsets, o);
            break;
        case OUT_HIT_DIGIS:
            st = make_out(name, k, r->hit_digi_offsets[nh], 0, r->hit_digis, o);
            break;
        case OUT_COUNTS: {
            const struct trk_pt_counts *c = &r->counts;
            uint32_t a[PT_NCOUNTS] = {c->fed_words, c->digis, c->errors, c->modules,
                                      c->clusters, c->doublets, c->tuples, c->tracks,
                                      c->vertices, c->overflow_words, c->overflow_hits,
                                      c->overflow_doublets, c->overflow_tuples,
                                      c->overflow_vertices, c->overflow_cell_links, 0};
            st = make_out(name, k, PT_NCOUNTS, 0, a, o);
            break;
        }
        case OUT_ERRORS: st = make_out(name, k, 64, 0, r->counts.error_types, o); break;
        default: st = TRK_ERR_INTERNAL; break;
        }
    }
    if (st != TRK_OK) {
        for (uint32_t j = 0; j < noutputs; j++) {
            trk_tensor_free(outputs[j]);
            outputs[j] = NULL;
        }
        snprintf(err, errlen, "patatrack: cannot build the outputs: %s", trk_status_str(st));
    }
    return st;
}

static void pt_fini(void *state)
{
    struct pt_model *m = state;
    if (!m)
        return;
    trk_pt_result_fini(&m->res);
    trk_pt_instance_free(m->pt);
    free(m);
}

static uint64_t pt_memory(void *state)
{
    struct pt_model *m = state;
    return m ? trk_pt_memory_bytes(m->pt) : 0;
}

const struct trk_algorithm trk_algorithm_patatrack = {
    .name = "patatrack",
    .description = "CMS Patatrack pixel tracking: raw pixel data (raw_zstd) to pixel tracks "
                   "and vertices",
    .check = pt_check,
    .init = pt_init,
    .execute = pt_execute,
    .fini = pt_fini,
    .memory_bytes = pt_memory,
};
