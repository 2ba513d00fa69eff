/* Patatrack stages 0–4: raw FED collection → digis → calibration → clusters → hits.
 * Stage 0 (FED walk) runs on the host; the rest are the kernels of
 * kernels/pt_local.kc, whose header comment describes the data flow. */
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"

#define PTL_NMOD 1856u
#define PTL_MODPAR 16u
#define PTL_NACC 9u

/* the kernels' copies of the counter slots */
_Static_assert(PT_C_DIGIS == 1 && PT_C_ERRORS == 2 && PT_C_MODULES == 3 && PT_C_HITS == 4 &&
                   PT_C_OVF_HITS == 6 && PT_C_ERROR_TYPES == 15,
               "pt_local.kc mirrors these counter slots");

struct pt_local {
    /* conditions */
    struct trk_buffer *cabling; /* u32 [TRK_CMS_CABLING_SIZE], packed (pt_local.kc) */
    struct trk_buffer *gains;   /* u8 [1856·416·2·2] */
    struct trk_buffer *modpar;  /* f32 [16·1856 + 3]: frame, Lorentz, then the beam spot */
    float min_ped, ped_prec, min_gain, gain_prec;
    /* host staging of one event */
    uint32_t *h_words;
    uint8_t *h_feds;
    uint32_t h_counts[2]; /* PT_C_WORDS, PT_C_OVF_WORDS */
    /* per word (capacity max_fed_words) */
    struct trk_buffer *words, *feds, *wkey, *wadc, *wvalid, *wdig, *wq, *wiota;
    struct trk_buffer *skey, *sword, *sdig, *sq, *parent, *cq, *dkey, *dval, *hkey, *hpos;
    struct trk_buffer *hitof;
    struct trk_buffer *mstart, *mend; /* u32 [1856] */
    struct trk_buffer *acc;           /* u32 [9·max_hits] */
    struct trk_buffer *ndigis;        /* u32 [1] */
    struct trk_buffer *sort_scratch, *scan_scratch;
};

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Packs cabling entry i for ptl_raw2digi (bit layout in pt_local.kc). */
static uint32_t pack_cabling(const struct trk_cms_conditions *cond, uint32_t i)
{
    uint32_t m = cond->module[i];
    if (m >= PTL_NMOD)
        return 0x7FFu;
    uint32_t raw = cond->raw_id[i];
    bool barrel = ((raw >> 25) & 7u) == 1u;
    uint32_t layer = (raw >> 20) & 0xFu, mod = (raw >> 2) & 0x3FFu;
    bool l1 = barrel && layer == 1u;
    bool orient_a = !barrel || (mod < 5u && layer != 1u);
    return m | (cond->roc_in_det[i] & 0xFu) << 11 | (uint32_t)(cond->bad_roc[i] != 0) << 15 |
           (uint32_t)l1 << 16 | (uint32_t)orient_a << 17;
}

void pt_local_free(struct trk_pt_instance *pt)
{
    struct pt_local *l = pt ? pt->local : NULL;
    if (!l)
        return;
    struct trk_buffer *bufs[] = {l->cabling, l->gains,  l->modpar, l->words,  l->feds,
                                 l->wkey,    l->wadc,   l->wvalid, l->wdig,   l->wq,
                                 l->wiota,   l->skey,   l->sword,  l->sdig,   l->sq,
                                 l->parent,  l->cq,     l->dkey,   l->dval,   l->hkey,
                                 l->hpos,    l->hitof,  l->mstart, l->mend,   l->acc,
                                 l->ndigis,  l->sort_scratch, l->scan_scratch};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        trk_buffer_free(bufs[i]);
    free(l->h_words);
    free(l->h_feds);
    free(l);
    pt->local = NULL;
}

enum trk_status pt_local_alloc(struct trk_pt_instance *pt, const struct trk_cms_conditions *cond,
                               const struct trk_detector *det)
{
    if (!pt || !cond || !det)
        return TRK_ERR_INVALID_ARG;
    if (cond->nmodules != PTL_NMOD || det->nmodules != PTL_NMOD) {
        TRK_LOGE("conditions have %u modules and the detector %zu: Patatrack needs the "
                 "1,856-module CMS Phase-1 pixel detector (trk_cms_detector_builtin)",
                 cond->nmodules, det->nmodules);
        return TRK_ERR_INVALID_ARG;
    }
    if (pt->local)
        return TRK_OK;
    struct pt_local *l = calloc(1, sizeof *l);
    uint32_t *cab = malloc(TRK_CMS_CABLING_SIZE * sizeof *cab);
    float *mp = malloc((PTL_MODPAR * PTL_NMOD + 3) * sizeof *mp);
    enum trk_status st = TRK_ERR_NO_MEMORY;
    if (!l || !cab || !mp)
        goto fail;
    pt->local = l;
    const uint32_t W = pt->p.max_fed_words, H = pt->p.max_hits;
    l->h_words = malloc((W ? W : 1) * sizeof *l->h_words);
    l->h_feds = malloc(W ? W : 1);
    if (!l->h_words || !l->h_feds)
        goto fail;

    /* cabling: each entry packed; bit 18 marks every entry of a link with a cabled ROC */
    for (uint32_t i = 0; i < TRK_CMS_CABLING_SIZE; i++)
        cab[i] = pack_cabling(cond, i);
    for (uint32_t f = 0; f < TRK_CMS_MAX_FED; f++)
        for (uint32_t link = 1; link <= TRK_CMS_MAX_LINK; link++) {
            uint32_t base = f * TRK_CMS_MAX_LINK * TRK_CMS_MAX_ROC + (link - 1) * TRK_CMS_MAX_ROC;
            bool any = false;
            for (uint32_t r = 1; r <= TRK_CMS_MAX_ROC; r++)
                any |= (cab[base + r] & 0x7FFu) != 0x7FFu;
            if (any)
                for (uint32_t r = 1; r <= TRK_CMS_MAX_ROC; r++)
                    cab[base + r] |= 1u << 18;
        }
    /* module frames (mm → cm) and Lorentz drifts, then the beam spot */
    for (uint32_t m = 0; m < PTL_NMOD; m++) {
        float *p = mp + PTL_MODPAR * m;
        for (int k = 0; k < 9; k++)
            p[k] = (float)det->modules[m].rot[k];
        for (int k = 0; k < 3; k++)
            p[9 + k] = (float)(det->modules[m].c[k] * PT_CPE_CM_PER_MM);
        p[12] = cond->lorentz[2 * m] * PT_CPE_CM_PER_MM;
        p[13] = cond->lorentz[2 * m + 1] * PT_CPE_CM_PER_MM;
        p[14] = p[15] = 0.f;
    }
    memcpy(pt->beamspot, cond->beamspot, sizeof pt->beamspot);
    for (int k = 0; k < 3; k++)
        mp[PTL_MODPAR * PTL_NMOD + k] = cond->beamspot[k];
    l->min_ped = cond->min_ped;
    l->min_gain = cond->min_gain;
    l->ped_prec = (cond->max_ped - cond->min_ped) / TRK_CMS_GAIN_NBINS;
    l->gain_prec = (cond->max_gain - cond->min_gain) / TRK_CMS_GAIN_NBINS;

    const size_t gain_bytes = (size_t)PTL_NMOD * TRK_CMS_COLS * 2 * 2;
    const size_t w4 = (size_t)(W ? W : 1) * 4;
    struct {
        struct trk_buffer **buf;
        size_t bytes;
        const char *what;
    } allocs[] = {
        {&l->cabling, TRK_CMS_CABLING_SIZE * 4, "cabling map"},
        {&l->gains, gain_bytes, "gains"},
        {&l->modpar, (PTL_MODPAR * PTL_NMOD + 3) * 4, "module frames"},
        {&l->words, w4, "FED words"},
        {&l->feds, W ? W : 1, "FED index per word"},
        {&l->wkey, w4, "digi keys"},
        {&l->wadc, W ? W : 1, "digi ADC"},
        {&l->wvalid, w4, "digi flags"},
        {&l->wdig, w4, "digi indices"},
        {&l->wq, w4, "digi charges"},
        {&l->wiota, w4, "word indices"},
        {&l->skey, w4, "sorted keys"},
        {&l->sword, w4, "sorted words"},
        {&l->sdig, w4, "sorted digi indices"},
        {&l->sq, w4, "sorted charges"},
        {&l->parent, w4, "cluster parents"},
        {&l->cq, w4, "cluster charges"},
        {&l->dkey, w4, "cluster keys"},
        {&l->dval, w4, "cluster roots"},
        {&l->hkey, w4, "sorted cluster keys"},
        {&l->hpos, w4, "sorted cluster roots"},
        {&l->hitof, w4, "hit of each root"},
        {&l->mstart, PTL_NMOD * 4, "module starts"},
        {&l->mend, PTL_NMOD * 4, "module ends"},
        {&l->acc, (size_t)PTL_NACC * (H ? H : 1) * 4, "CPE sums"},
        {&l->ndigis, 4, "digi count"},
        {&l->sort_scratch, trk_sort_scratch_size(pt->dev, W), "sort scratch"},
        {&l->scan_scratch, trk_scan_scratch_size(pt->dev, W), "scan scratch"},
    };
    for (size_t i = 0; i < sizeof allocs / sizeof allocs[0]; i++) {
        st = pt_alloc(pt, allocs[i].buf, allocs[i].bytes, allocs[i].what);
        if (st != TRK_OK)
            goto fail;
    }
    st = trk_buffer_write(pt->q, l->cabling, 0, cab, TRK_CMS_CABLING_SIZE * 4, true);
    if (st == TRK_OK)
        st = trk_buffer_write(pt->q, l->gains, 0, cond->gain_data, gain_bytes, true);
    if (st == TRK_OK)
        st = trk_buffer_write(pt->q, l->modpar, 0, mp, (PTL_MODPAR * PTL_NMOD + 3) * 4, true);
    if (st == TRK_OK && W)
        st = trk_iota_u32(pt->q, l->wiota, W, 0);
    if (st == TRK_OK)
        st = trk_queue_finish(pt->q);
    if (st != TRK_OK)
        goto fail;
    free(cab);
    free(mp);
    return TRK_OK;
fail:
    free(cab);
    free(mp);
    if (pt->local)
        pt_local_free(pt);
    else
        free(l);
    return st;
}

/* Stage 0: the FED collection walked with trk_cms_fed_walk (the checks and log lines
 * of the host decoder); each payload's words and their FED index go to the host
 * staging, words beyond the capacity are counted in h_counts[1]. */
struct walk_ctx {
    struct pt_local *l;
    uint32_t cap, nw, over;
};

static enum trk_status stage_payload(void *user, uint32_t fed, const uint8_t *payload,
                                     size_t nbytes, size_t offset)
{
    struct walk_ctx *w = user;
    (void)offset;
    /* zero words are skipped by the kernel */
    size_t k = nbytes / 4, fit = w->cap - w->nw < k ? w->cap - w->nw : k;
    for (size_t i = 0; i < fit; i++)
        w->l->h_words[w->nw + i] = le32(payload + 4 * i);
    memset(w->l->h_feds + w->nw, (int)(fed - TRK_CMS_FED_FIRST), fit);
    w->nw += (uint32_t)fit;
    w->over += (uint32_t)(k - fit);
    return TRK_OK;
}

static enum trk_status walk_feds(struct pt_local *l, uint32_t cap, const uint8_t *p, size_t n,
                                 uint32_t *nwords)
{
    struct walk_ctx w = {l, cap, 0, 0};
    *nwords = 0;
    l->h_counts[0] = l->h_counts[1] = 0;
    enum trk_status st = trk_cms_fed_walk(p, n, stage_payload, &w);
    if (st != TRK_OK)
        return st;
    if (w.over)
        TRK_LOGW("%u FED payload words beyond max_fed_words = %u were dropped: raise "
                 "max_fed_words",
                 w.over, cap);
    l->h_counts[0] = w.nw;
    l->h_counts[1] = w.over;
    *nwords = w.nw;
    return TRK_OK;
}

static enum trk_status launch_1d(struct trk_pt_instance *pt, uint32_t kernel, uint32_t n,
                                 uint32_t nargs, const struct trk_arg *args)
{
    uint32_t grid, block;
    trk_device_launch_dims(pt->dev, n, &grid, &block);
    return trk_launch(pt->q, kernel, grid, block, nargs, args);
}

#define B(x) trk_arg_buf(x)
#define U(x) trk_arg_u32(x)
#define LAUNCH_1D(pt, k, n, ...)                                                              \
    launch_1d((pt), (k), (n),                                                                 \
              (uint32_t)(sizeof((struct trk_arg[]){__VA_ARGS__}) / sizeof(struct trk_arg)), \
              (struct trk_arg[]){__VA_ARGS__})

enum trk_status pt_local_run(struct trk_pt_instance *pt, const void *raw, size_t n, bool profile,
                             double *stage_ms, double *t0)
{
    struct pt_local *l = pt ? pt->local : NULL;
    if (!l || (!raw && n)) {
        TRK_LOGE("no local stage allocated (pt_local_alloc) or NULL raw data");
        return TRK_ERR_INVALID_ARG;
    }
    double t_start = pt_now_ms();
    if (!t0)
        t0 = &t_start;
    struct pt_hits *hh = &pt->hits;
    const uint32_t H = pt->p.max_hits;
    pt->nhits = 0;

    /* ---- stage 0: zstd, FEDs, one upload ---- */
    uint8_t *buf = NULL;
    size_t size = 0;
    uint32_t nw = 0;
    enum trk_status st = trk_cms_raw_decompress(raw, n, &buf, &size);
    if (st == TRK_OK)
        st = walk_feds(l, pt->p.max_fed_words, buf, size, &nw);
    free(buf);
    if (st != TRK_OK)
        return st;
    if (nw)
        st = trk_buffer_write(pt->q, l->words, 0, l->h_words, (size_t)nw * 4, false);
    if (st == TRK_OK && nw)
        st = trk_buffer_write(pt->q, l->feds, 0, l->h_feds, nw, false);
    if (st == TRK_OK)
        st = trk_buffer_write(pt->q, pt->counters, PT_C_WORDS * 4, &l->h_counts[0], 4, false);
    if (st == TRK_OK)
        st = trk_buffer_write(pt->q, pt->counters, PT_C_OVF_WORDS * 4, &l->h_counts[1], 4,
                              false);
    if (st == TRK_OK)
        st = pt_stage_end(pt, profile, stage_ms, 0, t0);

    /* ---- stage 1: raw → digis ---- */
    if (st == TRK_OK)
        st = LAUNCH_1D(pt, TRK_KERNEL_ptl_raw2digi, nw, B(l->words), B(l->feds), U(nw),
                       B(l->cabling), B(l->wkey), B(l->wadc), B(l->wvalid), B(pt->counters));
    if (st == TRK_OK)
        st = trk_scan_u32(pt->q, l->wvalid, l->wdig, nw, l->ndigis, l->scan_scratch);
    if (st == TRK_OK)
        st = trk_buffer_copy(pt->q, pt->counters, PT_C_DIGIS * 4, l->ndigis, 0, 4);
    if (st == TRK_OK)
        st = pt_stage_end(pt, profile, stage_ms, 1, t0);

    /* ---- stage 2: calibration ---- */
    if (st == TRK_OK)
        st = LAUNCH_1D(pt, TRK_KERNEL_ptl_calib, nw, B(l->wkey), B(l->wadc), U(nw), B(l->gains),
                       B(l->wq), trk_arg_f32(l->min_ped), trk_arg_f32(l->ped_prec),
                       trk_arg_f32(l->min_gain), trk_arg_f32(l->gain_prec));
    if (st == TRK_OK)
        st = pt_stage_end(pt, profile, stage_ms, 2, t0);

    /* ---- stage 3: clusters, numbered by module then lowest digi ---- */
    if (st == TRK_OK)
        st = trk_sort_pairs_u32(pt->q, l->wkey, l->wiota, l->skey, l->sword, nw, 28,
                                l->sort_scratch);
    if (st == TRK_OK)
        st = trk_buffer_memset(pt->q, l->mstart, 0, 0, PTL_NMOD * 4);
    if (st == TRK_OK)
        st = trk_buffer_memset(pt->q, l->mend, 0, 0, PTL_NMOD * 4);
    if (st == TRK_OK && nw)
        st = trk_buffer_memset(pt->q, l->dkey, 0, 0xFF, (size_t)nw * 4);
    if (st == TRK_OK)
        st = LAUNCH_1D(pt, TRK_KERNEL_ptl_bounds, nw, B(l->skey), B(l->sword), B(l->wdig),
                       B(l->wq), U(nw), B(l->sdig), B(l->sq), B(l->parent), B(l->mstart),
                       B(l->mend), B(pt->counters));
    if (st == TRK_OK)
        st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptl_cluster, PTL_NMOD, pt->block, B(l->skey),
                        B(l->sdig), B(l->sq), B(l->mstart), B(l->mend), B(l->parent), B(l->cq),
                        B(l->dkey), B(l->dval), B(l->hitof));
    if (st == TRK_OK)
        st = trk_sort_pairs_u32(pt->q, l->dkey, l->dval, l->hkey, l->hpos, nw, 11,
                                l->sort_scratch);
    if (st == TRK_OK)
        st = LAUNCH_1D(pt, TRK_KERNEL_ptl_hit_bounds, nw + 1, B(l->hkey), B(l->hpos), U(nw),
                       U(H), B(l->hitof), B(hh->module), B(l->acc), B(hh->layer_start),
                       B(pt->counters));
    if (st == TRK_OK)
        st = pt_stage_end(pt, profile, stage_ms, 3, t0);

    /* ---- stage 4: CPE ---- */
    if (st == TRK_OK)
        st = trk_buffer_read(pt->q, &pt->nhits, pt->counters, PT_C_HITS * 4, 4, true);
    if (st == TRK_OK && nw)
        st = trk_buffer_memset(pt->q, hh->digi_hit, 0, 0xFF, (size_t)nw * 4);
    if (st == TRK_OK)
        st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptl_cpe_accum, PTL_NMOD, pt->block, B(l->skey),
                        B(l->parent), B(l->sq), B(l->sdig), B(l->mstart), B(l->mend),
                        B(l->hitof), B(l->acc), U(H), B(hh->digi_hit));
    if (st == TRK_OK)
        st = LAUNCH_1D(pt, TRK_KERNEL_ptl_cpe, pt->nhits, B(l->acc), U(H), U(pt->nhits),
                       B(l->modpar), B(hh->x), B(hh->y), B(hh->z), B(hh->r), B(hh->iphi),
                       B(hh->gcov), B(hh->xerr2), B(hh->yerr2), B(hh->size_x), B(hh->size_y),
                       B(hh->charge), B(hh->module));
    if (st == TRK_OK)
        st = pt_hits_index(pt);
    if (st == TRK_OK)
        st = pt_stage_end(pt, profile, stage_ms, 4, t0);
    if (st != TRK_OK)
        TRK_LOGE("local reconstruction on %s failed: %s", trk_device_id(pt->dev),
                 trk_status_str(st));
    return st;
}
