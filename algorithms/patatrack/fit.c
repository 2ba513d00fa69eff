/* Stage 7: broken-line fit, quality classification, duplicate removal
 * (kernels/pt_fit.kc). The cleaners key on hit pairs rather than on cell ids: a cell is
 * exactly a pair of consecutive hits, so one hit → tuple-slot association serves both
 * the cell pass and the hit pass, and tuples uploaded without cells work alike. */
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"

#define PT_FIT_NPARAMS 13u

struct pt_fit {
    struct trk_buffer *fparams; /* float[PT_FIT_NPARAMS] (ptfit_fit, ptfit_classify) */
    struct trk_buffer *keys;    /* uint32[cap·6]: hit of each slot of a LOOSE tuple */
    struct trk_buffer *offsets; /* uint32[max_hits+1] */
    struct trk_buffer *content; /* uint32[cap·6] */
    struct trk_buffer *q2;      /* uint32[cap]: quality after the cell pass */
    struct trk_buffer *scratch; /* trk_assoc_build */
};

static void pt_fit_buf_free(struct trk_pt_instance *pt, struct trk_buffer **b)
{
    if (*b)
        pt->mem_bytes -= trk_buffer_size(*b);
    trk_buffer_free(*b);
    *b = NULL;
}

/* Frees pt->tracks and the fit scratch; safe on a stage never or half allocated. */
void pt_fit_free(struct trk_pt_instance *pt)
{
    struct pt_tracks *t = &pt->tracks;
    pt_fit_buf_free(pt, &t->state);
    pt_fit_buf_free(pt, &t->cov);
    pt_fit_buf_free(pt, &t->pt);
    pt_fit_buf_free(pt, &t->eta);
    pt_fit_buf_free(pt, &t->chi2);
    pt_fit_buf_free(pt, &t->charge);
    pt_fit_buf_free(pt, &t->vertex);
    if (pt->fit) {
        pt_fit_buf_free(pt, &pt->fit->fparams);
        pt_fit_buf_free(pt, &pt->fit->keys);
        pt_fit_buf_free(pt, &pt->fit->offsets);
        pt_fit_buf_free(pt, &pt->fit->content);
        pt_fit_buf_free(pt, &pt->fit->q2);
        pt_fit_buf_free(pt, &pt->fit->scratch);
        free(pt->fit);
        pt->fit = NULL;
    }
}

/* Allocates pt->tracks (capacity max_tuples) and the scratch, uploads the cuts.
 * Blocks. */
enum trk_status pt_fit_alloc(struct trk_pt_instance *pt)
{
    const struct trk_pt_params *p = &pt->p;
    size_t cap = p->max_tuples;
    size_t nslots = cap * TRK_PT_MAX_TUPLE_HITS;
    struct pt_tracks *t = &pt->tracks;
    enum trk_status st = TRK_OK;
    if (nslots > UINT32_MAX || p->max_hits == UINT32_MAX) {
        TRK_LOGE("max_tuples %u (×%u hit slots) or max_hits %u too large: lower them",
                 p->max_tuples, TRK_PT_MAX_TUPLE_HITS, p->max_hits);
        return TRK_ERR_INVALID_ARG;
    }
    if (!pt->fit && !(pt->fit = calloc(1, sizeof *pt->fit)))
        return TRK_ERR_NO_MEMORY;
    struct pt_fit *f = pt->fit;
#define PT_FIT_ALLOC(ptr, bytes, what)                                                 \
    if (st == TRK_OK)                                                                  \
    st = pt_alloc(pt, &(ptr), (bytes), (what))
    PT_FIT_ALLOC(t->state, cap * 5 * 4, "tracks.state");
    PT_FIT_ALLOC(t->cov, cap * 15 * 4, "tracks.cov");
    PT_FIT_ALLOC(t->pt, cap * 4, "tracks.pt");
    PT_FIT_ALLOC(t->eta, cap * 4, "tracks.eta");
    PT_FIT_ALLOC(t->chi2, cap * 4, "tracks.chi2");
    PT_FIT_ALLOC(t->charge, cap * 4, "tracks.charge");
    PT_FIT_ALLOC(t->vertex, cap * 4, "tracks.vertex");
    PT_FIT_ALLOC(f->fparams, PT_FIT_NPARAMS * 4, "fit params");
    PT_FIT_ALLOC(f->keys, nslots * 4, "fit keys");
    PT_FIT_ALLOC(f->offsets, ((size_t)p->max_hits + 1) * 4, "fit hit offsets");
    PT_FIT_ALLOC(f->content, nslots * 4, "fit hit content");
    PT_FIT_ALLOC(f->q2, cap * 4, "fit quality");
    PT_FIT_ALLOC(f->scratch, trk_assoc_scratch_size(pt->dev, (uint32_t)nslots, p->max_hits),
                 "fit scratch");
#undef PT_FIT_ALLOC
    if (st == TRK_OK) {
        float fp[PT_FIT_NPARAMS] = {
            p->chi2_coeff[0],   p->chi2_coeff[1],  p->chi2_coeff[2],    p->chi2_coeff[3],
            p->chi2_scale,      p->triplet_max_tip, p->triplet_min_pt,  p->triplet_max_zip,
            p->quad_max_tip,    p->quad_min_pt,     p->quad_max_zip,    p->fit_5_as_4 ? 1.f : 0.f,
            pt->bfield_inv_c};
        st = trk_buffer_write(pt->q, f->fparams, 0, fp, sizeof fp, true);
    }
    if (st == TRK_OK && p->use_riemann_fit)
        TRK_LOGW("use_riemann_fit: the Riemann fit is not implemented; using the broken line");
    if (st != TRK_OK)
        pt_fit_free(pt);
    return st;
}

static enum trk_status pt_fit_launch(struct trk_pt_instance *pt, uint32_t kernel, uint32_t n,
                                     uint32_t nargs, const struct trk_arg *args)
{
    uint32_t grid, block;
    trk_device_launch_dims(pt->dev, n, &grid, &block);
    return trk_launch(pt->q, kernel, grid, block, nargs, args);
}

/* Fits, classifies and cleans the pt->ntuples tuples; enqueues only (plus the stage
 * timing when profiling). */
enum trk_status pt_fit_run(struct trk_pt_instance *pt, bool profile, double *stage_ms, double *t0)
{
    struct pt_fit *f = pt->fit;
    struct pt_tuples *tu = &pt->tuples;
    struct pt_tracks *tr = &pt->tracks;
    struct pt_hits *h = &pt->hits;
    uint32_t n = pt->ntuples < pt->p.max_tuples ? pt->ntuples : pt->p.max_tuples;
    if (!f || !tr->state || !tu->hits || !h->x) {
        TRK_LOGE("fit stage not allocated: call pt_hits_alloc, pt_ca_alloc, pt_fit_alloc");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    if (n > 0) {
        struct trk_arg fa[] = {trk_arg_buf(tu->hits),   trk_arg_buf(tu->nhits),
                               trk_arg_buf(tu->quality), trk_arg_buf(h->x),
                               trk_arg_buf(h->y),       trk_arg_buf(h->z),
                               trk_arg_buf(h->gcov),    trk_arg_buf(tr->state),
                               trk_arg_buf(tr->cov),    trk_arg_buf(tr->pt),
                               trk_arg_buf(tr->eta),    trk_arg_buf(tr->chi2),
                               trk_arg_buf(tr->charge), trk_arg_buf(f->fparams),
                               trk_arg_u32(n),          trk_arg_u32(pt->nhits)};
        st = pt_fit_launch(pt, TRK_KERNEL_ptfit_fit, n, 16, fa);
        struct trk_arg ca[] = {trk_arg_buf(tu->hits),  trk_arg_buf(tu->nhits),
                               trk_arg_buf(tu->quality), trk_arg_buf(tr->state),
                               trk_arg_buf(tr->pt),    trk_arg_buf(tr->chi2),
                               trk_arg_buf(f->keys),   trk_arg_buf(f->fparams),
                               trk_arg_u32(n)};
        if (st == TRK_OK)
            st = pt_fit_launch(pt, TRK_KERNEL_ptfit_classify, n, 9, ca);
        if (st == TRK_OK)
            st = trk_assoc_build(pt->q, f->keys, n * TRK_PT_MAX_TUPLE_HITS, pt->nhits, f->offsets,
                                 f->content, f->scratch);
        struct trk_arg pa[] = {trk_arg_buf(tu->hits),    trk_arg_buf(tu->nhits),
                               trk_arg_buf(tu->quality), trk_arg_buf(f->q2),
                               trk_arg_buf(tr->state),   trk_arg_buf(f->offsets),
                               trk_arg_buf(f->content),  trk_arg_u32(n)};
        if (st == TRK_OK)
            st = pt_fit_launch(pt, TRK_KERNEL_ptfit_dup_pairs, n, 8, pa);
        struct trk_arg ha[] = {trk_arg_buf(tu->hits),    trk_arg_buf(tu->nhits),
                               trk_arg_buf(f->q2),       trk_arg_buf(tu->quality),
                               trk_arg_buf(tr->state),   trk_arg_buf(f->offsets),
                               trk_arg_buf(f->content),  trk_arg_buf(pt->counters),
                               trk_arg_u32(n),           trk_arg_u32(PT_C_TRACKS)};
        if (st == TRK_OK)
            st = pt_fit_launch(pt, TRK_KERNEL_ptfit_dup_hits, n, 10, ha);
    }
    if (st != TRK_OK) {
        TRK_LOGE("fit of %u tuples failed on %s: %s", n, trk_device_id(pt->dev),
                 trk_status_str(st));
        return st;
    }
    return pt_stage_end(pt, profile, stage_ms, 7, t0);
}

/* Tests: uploads host tuples (cells none, quality LOOSE), sets pt->ntuples. Blocks. */
enum trk_status pt_tuples_upload(struct trk_pt_instance *pt, uint32_t ntuples,
                                 const uint32_t *hits, const uint32_t *nhits)
{
    struct pt_tuples *tu = &pt->tuples;
    if (!tu->hits) {
        TRK_LOGE("tuples are not allocated: call pt_ca_alloc first");
        return TRK_ERR_INVALID_ARG;
    }
    if (ntuples > pt->p.max_tuples) {
        TRK_LOGE("%u tuples exceed max_tuples %u: raise max_tuples", ntuples, pt->p.max_tuples);
        return TRK_ERR_INVALID_ARG;
    }
    size_t nn = ntuples ? ntuples : 1;
    size_t ncell = nn * (TRK_PT_MAX_TUPLE_HITS - 1);
    uint32_t *cells = malloc(ncell * sizeof *cells);
    uint32_t *qual = malloc(nn * sizeof *qual);
    enum trk_status st = TRK_ERR_NO_MEMORY;
    if (!cells || !qual)
        goto fail;
    memset(cells, 0xff, ncell * sizeof *cells);
    for (size_t i = 0; i < nn; i++)
        qual[i] = TRK_PT_LOOSE;
    st = TRK_OK;
    if (ntuples) {
        st = trk_buffer_write(pt->q, tu->hits, 0, hits,
                              (size_t)ntuples * TRK_PT_MAX_TUPLE_HITS * 4, false);
        if (st == TRK_OK)
            st = trk_buffer_write(pt->q, tu->nhits, 0, nhits, (size_t)ntuples * 4, false);
        if (st == TRK_OK)
            st = trk_buffer_write(pt->q, tu->cells, 0, cells,
                                  (size_t)ntuples * (TRK_PT_MAX_TUPLE_HITS - 1) * 4, false);
        if (st == TRK_OK)
            st = trk_buffer_write(pt->q, tu->quality, 0, qual, (size_t)ntuples * 4, false);
    }
    enum trk_status fst = trk_queue_finish(pt->q);
    if (st == TRK_OK)
        st = fst;
    if (st == TRK_OK)
        pt->ntuples = ntuples;
fail:
    if (st != TRK_OK)
        TRK_LOGE("cannot upload %u tuples: %s", ntuples, trk_status_str(st));
    free(cells);
    free(qual);
    return st;
}
