/* Stage 8: vertices (kernels/pt_vertex.kc): eligible tracks compacted in tuple order,
 * then the density clustering, fits, split and Σpt² ranking in one block. */
#include <stdlib.h>

#include "pt_internal.h"

#define PT_VTX_BLOCK 256u /* threads of the one-block kernels on multi-thread devices */

struct pt_vtx {
    struct trk_buffer *flags;   /* uint32[cap] */
    struct trk_buffer *itrk;    /* uint32[cap]: eligible tuples, in order */
    struct trk_buffer *count;   /* uint32[1] */
    struct trk_buffer *wsf;     /* float[3·cap] */
    struct trk_buffer *wsu;     /* uint32[8·cap] */
    struct trk_buffer *wvf;     /* float[4·vcap] */
    struct trk_buffer *wvu;     /* uint32[4 + 4·vcap + 1] */
    struct trk_buffer *scratch; /* trk_compact_u32 */
};

static void pt_vtx_buf_free(struct trk_pt_instance *pt, struct trk_buffer **b)
{
    if (*b)
        pt->mem_bytes -= trk_buffer_size(*b);
    trk_buffer_free(*b);
    *b = NULL;
}

/* Frees pt->vertices and the scratch; safe on a stage never or half allocated. */
void pt_vertex_free(struct trk_pt_instance *pt)
{
    struct pt_vertices *v = &pt->vertices;
    pt_vtx_buf_free(pt, &v->z);
    pt_vtx_buf_free(pt, &v->zerr2);
    pt_vtx_buf_free(pt, &v->ptv2);
    pt_vtx_buf_free(pt, &v->chi2);
    pt_vtx_buf_free(pt, &v->ndof);
    if (pt->vtx) {
        struct pt_vtx *w = pt->vtx;
        pt_vtx_buf_free(pt, &w->flags);
        pt_vtx_buf_free(pt, &w->itrk);
        pt_vtx_buf_free(pt, &w->count);
        pt_vtx_buf_free(pt, &w->wsf);
        pt_vtx_buf_free(pt, &w->wsu);
        pt_vtx_buf_free(pt, &w->wvf);
        pt_vtx_buf_free(pt, &w->wvu);
        pt_vtx_buf_free(pt, &w->scratch);
        free(w);
        pt->vtx = NULL;
    }
}

/* Allocates pt->vertices (capacity max_vertices) and the per-track scratch (capacity
 * max_tuples). */
enum trk_status pt_vertex_alloc(struct trk_pt_instance *pt)
{
    size_t cap = pt->p.max_tuples, vcap = pt->p.max_vertices;
    struct pt_vertices *v = &pt->vertices;
    enum trk_status st = TRK_OK;
    if (vcap == 0 || vcap > (1u << 24)) {
        TRK_LOGE("max_vertices %zu: pick 1 … 16M", vcap);
        return TRK_ERR_INVALID_ARG;
    }
    if (!pt->vtx && !(pt->vtx = calloc(1, sizeof *pt->vtx)))
        return TRK_ERR_NO_MEMORY;
    struct pt_vtx *w = pt->vtx;
#define PT_VTX_ALLOC(ptr, bytes, what)                                                 \
    if (st == TRK_OK)                                                                  \
    st = pt_alloc(pt, &(ptr), (bytes), (what))
    PT_VTX_ALLOC(v->z, vcap * 4, "vertices.z");
    PT_VTX_ALLOC(v->zerr2, vcap * 4, "vertices.zerr2");
    PT_VTX_ALLOC(v->ptv2, vcap * 4, "vertices.ptv2");
    PT_VTX_ALLOC(v->chi2, vcap * 4, "vertices.chi2");
    PT_VTX_ALLOC(v->ndof, vcap * 4, "vertices.ndof");
    PT_VTX_ALLOC(w->flags, cap * 4, "vertex flags");
    PT_VTX_ALLOC(w->itrk, cap * 4, "vertex tracks");
    PT_VTX_ALLOC(w->count, 4, "vertex track count");
    PT_VTX_ALLOC(w->wsf, cap * 3 * 4, "vertex track scratch");
    PT_VTX_ALLOC(w->wsu, cap * 8 * 4, "vertex track scratch");
    PT_VTX_ALLOC(w->wvf, vcap * 4 * 4, "vertex scratch");
    PT_VTX_ALLOC(w->wvu, (4 + 4 * vcap + 1) * 4, "vertex scratch");
    PT_VTX_ALLOC(w->scratch, trk_compact_scratch_size(pt->dev, (uint32_t)cap), "vertex compaction");
#undef PT_VTX_ALLOC
    if (st != TRK_OK)
        pt_vertex_free(pt);
    return st;
}

/* Finds the vertices of the fitted, cleaned tracks; reads back their number into
 * pt->nvertices (blocks for that). */
enum trk_status pt_vertex_run(struct trk_pt_instance *pt, bool profile, double *stage_ms,
                              double *t0)
{
    struct pt_vtx *w = pt->vtx;
    struct pt_tracks *tr = &pt->tracks;
    struct pt_vertices *v = &pt->vertices;
    const struct trk_pt_params *p = &pt->p;
    uint32_t n = pt->ntuples < p->max_tuples ? pt->ntuples : p->max_tuples;
    uint32_t cap = p->max_tuples, vcap = p->max_vertices;
    if (!w || !v->z || !tr->state || !pt->tuples.hits) {
        TRK_LOGE("vertex stage not allocated: call pt_ca_alloc, pt_fit_alloc, pt_vertex_alloc");
        return TRK_ERR_INVALID_ARG;
    }
    uint32_t block = pt->serial ? 1u : (pt->block < PT_VTX_BLOCK ? pt->block : PT_VTX_BLOCK);
    uint32_t grid, gblock;
    trk_device_launch_dims(pt->dev, n ? n : 1, &grid, &gblock);
    struct trk_arg fa[] = {trk_arg_buf(pt->tuples.quality), trk_arg_buf(pt->tuples.nhits),
                           trk_arg_buf(tr->pt),             trk_arg_buf(tr->vertex),
                           trk_arg_buf(w->flags),           trk_arg_u32(n),
                           trk_arg_u32(p->vtx_track_min_hits), trk_arg_f32(p->vtx_track_ptmin)};
    enum trk_status st = trk_launch(pt->q, TRK_KERNEL_ptvtx_flag, grid, gblock, 8, fa);
    if (st == TRK_OK)
        st = trk_compact_u32(pt->q, NULL, w->flags, n, w->itrk, w->count, w->scratch);
    struct trk_arg la[] = {trk_arg_buf(w->itrk), trk_arg_buf(w->count), trk_arg_buf(tr->state),
                           trk_arg_buf(tr->cov), trk_arg_buf(tr->pt),   trk_arg_buf(w->wsf),
                           trk_arg_u32(cap)};
    if (st == TRK_OK)
        st = trk_launch(pt->q, TRK_KERNEL_ptvtx_load, grid, gblock, 7, la);
    struct trk_arg ka[] = {trk_arg_buf(w->count), trk_arg_buf(w->wsf),     trk_arg_buf(w->wsu),
                           trk_arg_buf(w->wvf),   trk_arg_buf(w->wvu),     trk_arg_buf(pt->counters),
                           trk_arg_u32(cap),      trk_arg_u32(vcap),       trk_arg_u32(p->vtx_min_tracks),
                           trk_arg_f32(p->vtx_eps), trk_arg_f32(p->vtx_errmax),
                           trk_arg_f32(p->vtx_chi2max), trk_arg_u32(PT_C_OVF_VERTICES)};
    if (st == TRK_OK)
        st = trk_launch(pt->q, TRK_KERNEL_ptvtx_cluster, 1, block, 13, ka);
    struct trk_arg sa[] = {trk_arg_buf(w->count), trk_arg_buf(w->itrk),  trk_arg_buf(w->wsu),
                           trk_arg_buf(w->wvf),   trk_arg_buf(w->wvu),   trk_arg_buf(v->z),
                           trk_arg_buf(v->zerr2), trk_arg_buf(v->ptv2),  trk_arg_buf(v->chi2),
                           trk_arg_buf(v->ndof),  trk_arg_buf(tr->vertex), trk_arg_buf(pt->counters),
                           trk_arg_u32(cap),      trk_arg_u32(vcap),     trk_arg_u32(PT_C_VERTICES)};
    if (st == TRK_OK)
        st = trk_launch(pt->q, TRK_KERNEL_ptvtx_store, 1, block, 15, sa);
    if (st != TRK_OK) {
        TRK_LOGE("vertex finding on %s failed: %s", trk_device_id(pt->dev), trk_status_str(st));
        return st;
    }
    pt->nvertices = pt_counter(pt, PT_C_VERTICES);
    return pt_stage_end(pt, profile, stage_ms, 8, t0);
}
