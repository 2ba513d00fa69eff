/* Stages 5–6 of Patatrack: doublets over the layer pairs, the cellular automaton
 * (connections, early fishbone), ntuplets and the early duplicate remover
 * (kernels/pt_ca.kc). Every variable-length output is laid out by count → scan → fill
 * in a fixed visiting order, so the tuples are the same bytes on every device. */
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"

#define PT_CA_PAIR_FIELDS 6u   /* as PTCA_PAIR_FIELDS in pt_ca.kc */
#define PT_CA_LINKS_PER_CELL 2u /* capacity of the neighbour links per doublet slot */

/* Patatrack's layer pairs (gpuPixelDoublets.h): inner, outer, φ cut (0.05/0.06/0.07 rad
 * as int16), inner z window (cm), max Δr (cm). 0–12 standard, 13–14 jumping barrel,
 * 15–18 jumping forward. */
static const float pt_ca_pairs[PT_NPAIRS][PT_CA_PAIR_FIELDS] = {
    {0, 1, 522, -20, 20, 20}, {0, 4, 730, 0, 30, 9},    {0, 7, 730, -30, 0, 9},
    {1, 2, 522, -22, 22, 20}, {1, 4, 626, 10, 30, 7},   {1, 7, 626, -30, -10, 7},
    {4, 5, 522, -70, 70, 5},  {7, 8, 522, -70, 70, 5},  {2, 3, 626, -22, 22, 20},
    {2, 4, 626, 15, 30, 6},   {2, 7, 626, -30, -15, 6}, {5, 6, 522, -70, 70, 5},
    {8, 9, 522, -70, 70, 5},  {0, 2, 522, -20, 20, 20}, {1, 3, 522, -22, 22, 20},
    {0, 5, 522, 0, 30, 9},    {0, 8, 522, -30, 0, 9},   {4, 6, 522, -70, 70, 9},
    {7, 9, 522, -70, 70, 9},
};

struct pt_ca {
    struct trk_buffer *pairs;           /* float[PT_NPAIRS·6] */
    struct trk_buffer *hit_off;         /* u32[max_hits+1]: cells by inner hit (scanned) */
    struct trk_buffer *c_in, *c_out, *c_pair; /* u32[max_doublets]: the cells */
    struct trk_buffer *used, *killed;   /* u32[max_doublets] */
    struct trk_buffer *pos;             /* u32[max_doublets]: rank in the outer bucket, then
                                           the longest tuple through each cell */
    struct trk_buffer *o_off;           /* u32[max_hits+1]: cells by outer hit */
    struct trk_buffer *o_cells;         /* u32[max_doublets] */
    struct trk_buffer *cell_off;        /* u32[max_doublets+1]: links by inner cell */
    struct trk_buffer *links;           /* u32[link_cap]: outer neighbours */
    struct trk_buffer *tuple_off;       /* u32[max_doublets+1]: tuples by starting cell */
    struct trk_buffer *stage;           /* u32[max_doublets]: doublets kept aside by the
                                           count pass */
    struct trk_buffer *stage_at;        /* u32[max_hits]: first stage slot per inner hit */
    struct trk_buffer *stage_total;     /* u32[1]: stage slots taken */
    struct trk_buffer *mask;            /* u32[max_doublets]: connect answers per cell */
    struct trk_buffer *scratch;         /* scan */
    uint32_t link_cap;
};

static void pt_ca_buf_free(struct trk_pt_instance *pt, struct trk_buffer **b)
{
    if (*b)
        pt->mem_bytes -= trk_buffer_size(*b);
    trk_buffer_free(*b);
    *b = NULL;
}

enum trk_status pt_ca_alloc(struct trk_pt_instance *pt)
{
    struct pt_tuples *t = &pt->tuples;
    size_t tcap = pt->p.max_tuples;
    size_t hcap = (size_t)pt->p.max_hits + 1, dcap = (size_t)pt->p.max_doublets + 1;
    enum trk_status st = TRK_OK;
    if (pt->p.max_hits > (1u << 27)) { /* the count pass packs a hit index in 27 bits */
        TRK_LOGE("max_hits %u is above 2^27: lower it", pt->p.max_hits);
        return TRK_ERR_INVALID_ARG;
    }
    if (!pt->ca && !(pt->ca = calloc(1, sizeof *pt->ca))) {
        TRK_LOGE("out of host memory");
        return TRK_ERR_NO_MEMORY;
    }
    struct pt_ca *ca = pt->ca;
    uint64_t links = (uint64_t)pt->p.max_doublets * PT_CA_LINKS_PER_CELL;
    ca->link_cap = links > UINT32_MAX ? UINT32_MAX : (uint32_t)links;
    size_t scan_n = hcap > dcap ? hcap : dcap;
#define PT_CA_ALLOC(field, bytes, what)                                                \
    if (st == TRK_OK)                                                                  \
    st = pt_alloc(pt, &(field), (bytes), what)
    PT_CA_ALLOC(t->hits, tcap * TRK_PT_MAX_TUPLE_HITS * 4, "tuples.hits");
    PT_CA_ALLOC(t->cells, tcap * (TRK_PT_MAX_TUPLE_HITS - 1) * 4, "tuples.cells");
    PT_CA_ALLOC(t->nhits, tcap * 4, "tuples.nhits");
    PT_CA_ALLOC(t->quality, tcap * 4, "tuples.quality");
    PT_CA_ALLOC(ca->pairs, sizeof pt_ca_pairs, "ca.pairs");
    PT_CA_ALLOC(ca->hit_off, hcap * 4, "ca.hit_off");
    PT_CA_ALLOC(ca->c_in, dcap * 4, "ca.c_in");
    PT_CA_ALLOC(ca->c_out, dcap * 4, "ca.c_out");
    PT_CA_ALLOC(ca->c_pair, dcap * 4, "ca.c_pair");
    PT_CA_ALLOC(ca->used, dcap * 4, "ca.used");
    PT_CA_ALLOC(ca->killed, dcap * 4, "ca.killed");
    PT_CA_ALLOC(ca->pos, dcap * 4, "ca.pos");
    PT_CA_ALLOC(ca->o_off, hcap * 4, "ca.o_off");
    PT_CA_ALLOC(ca->o_cells, dcap * 4, "ca.o_cells");
    PT_CA_ALLOC(ca->cell_off, dcap * 4, "ca.cell_off");
    PT_CA_ALLOC(ca->links, ((size_t)ca->link_cap + 1) * 4, "ca.links");
    PT_CA_ALLOC(ca->tuple_off, dcap * 4, "ca.tuple_off");
    PT_CA_ALLOC(ca->stage, dcap * 4, "ca.stage");
    PT_CA_ALLOC(ca->stage_at, hcap * 4, "ca.stage_at");
    PT_CA_ALLOC(ca->stage_total, 4, "ca.stage_total");
    PT_CA_ALLOC(ca->mask, dcap * 4, "ca.mask");
    PT_CA_ALLOC(ca->scratch, trk_scan_scratch_size(pt->dev, (uint32_t)scan_n), "ca.scratch");
#undef PT_CA_ALLOC
    if (st == TRK_OK)
        st = trk_buffer_write(pt->q, ca->pairs, 0, pt_ca_pairs, sizeof pt_ca_pairs, true);
    if (st != TRK_OK)
        pt_ca_free(pt);
    return st;
}

void pt_ca_free(struct trk_pt_instance *pt)
{
    pt_ca_buf_free(pt, &pt->tuples.hits);
    pt_ca_buf_free(pt, &pt->tuples.cells);
    pt_ca_buf_free(pt, &pt->tuples.nhits);
    pt_ca_buf_free(pt, &pt->tuples.quality);
    struct pt_ca *ca = pt->ca;
    if (!ca)
        return;
    struct trk_buffer **all[] = {&ca->pairs,  &ca->hit_off,  &ca->c_in,     &ca->c_out,
                                 &ca->c_pair, &ca->used,     &ca->killed,   &ca->pos,
                                 &ca->o_off,  &ca->o_cells,  &ca->cell_off, &ca->links,
                                 &ca->tuple_off, &ca->stage, &ca->stage_at, &ca->stage_total,
                                 &ca->mask,
                                 &ca->scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        pt_ca_buf_free(pt, all[i]);
    free(ca);
    pt->ca = NULL;
}

/* Launch dimensions for an n-element grid loop on pt's device. */
static void pt_ca_dims(struct trk_pt_instance *pt, uint32_t n, uint32_t *grid, uint32_t *block)
{
    trk_device_launch_dims(pt->dev, n ? n : 1, grid, block);
}

/* counts[0..n) were written by a count pass: counts[n] = 0, exclusive scan in place,
 * *total = the sum (blocks). */
static enum trk_status pt_ca_scan(struct trk_pt_instance *pt, struct trk_buffer *counts,
                                  uint32_t n, uint32_t *total)
{
    enum trk_status st = trk_buffer_memset(pt->q, counts, (size_t)n * 4, 0, 4);
    if (st == TRK_OK)
        st = trk_scan_u32(pt->q, counts, counts, n + 1, NULL, pt->ca->scratch);
    if (st == TRK_OK)
        st = trk_buffer_read(pt->q, total, counts, (size_t)n * 4, 4, true);
    return st;
}

enum trk_status pt_ca_run(struct trk_pt_instance *pt, bool profile, double *stage_ms, double *t0)
{
    struct pt_ca *ca = pt->ca;
    struct pt_hits *h = &pt->hits;
    struct pt_tuples *t = &pt->tuples;
    const struct trk_pt_params *p = &pt->p;
    if (!ca || !h->x) {
        TRK_LOGE("stages not allocated: call pt_hits_alloc and pt_ca_alloc first");
        return TRK_ERR_INVALID_ARG;
    }
    uint32_t nhits = pt->nhits, grid, block;
    uint32_t npairs = PT_NPAIRS;
    if (!p->include_jumping_forward)
        npairs = 15;
    if (p->min_hits_per_ntuplet > 3)
        npairs = 13;
    uint32_t cuts = (p->do_cluster_cut ? 1u : 0u) | (p->do_z0_cut ? 2u : 0u) |
                    (p->do_pt_cut ? 4u : 0u);
    uint32_t min_hits = p->min_hits_per_ntuplet < 3 ? 3 : p->min_hits_per_ntuplet;
    uint32_t ndoub = 0, nlinks = 0, ntup = 0;
    uint32_t cnt[5] = {0}; /* PT_C_DOUBLETS … PT_C_OVF_TUPLES */
    enum trk_status st = TRK_OK;
    pt->ndoublets = pt->ntuples = 0;

    /* ---- stage 5: doublets ---- */
    if (nhits > 0) {
        pt_ca_dims(pt, nhits, &grid, &block);
        st = trk_buffer_memset(pt->q, ca->stage_total, 0, 0, 4);
        if (st == TRK_OK)
            st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_doublets, grid, block, trk_arg_buf(ca->pairs),
                            trk_arg_u32(npairs), trk_arg_buf(h->layer_start),
                            trk_arg_buf(h->phi_offsets), trk_arg_buf(h->phi_hits),
                            trk_arg_buf(h->z), trk_arg_buf(h->r), trk_arg_buf(h->iphi),
                            trk_arg_buf(h->module), trk_arg_buf(h->size_y), trk_arg_u32(nhits),
                            trk_arg_u32(cuts), trk_arg_buf(ca->hit_off), trk_arg_buf(ca->stage),
                            trk_arg_buf(ca->stage_at), trk_arg_buf(ca->stage_total),
                            trk_arg_u32(p->max_doublets));
        if (st == TRK_OK)
            st = pt_ca_scan(pt, ca->hit_off, nhits, &ndoub);
        if (st == TRK_OK)
            st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_doublets_place, grid, block,
                            trk_arg_buf(ca->pairs), trk_arg_u32(npairs),
                            trk_arg_buf(h->layer_start), trk_arg_buf(h->phi_offsets),
                            trk_arg_buf(h->phi_hits), trk_arg_buf(h->z), trk_arg_buf(h->r),
                            trk_arg_buf(h->iphi), trk_arg_buf(h->module), trk_arg_buf(h->size_y),
                            trk_arg_u32(nhits), trk_arg_u32(cuts), trk_arg_buf(ca->hit_off),
                            trk_arg_buf(ca->stage), trk_arg_buf(ca->stage_at),
                            trk_arg_u32(p->max_doublets), trk_arg_buf(ca->c_in),
                            trk_arg_buf(ca->c_out), trk_arg_buf(ca->c_pair));
    }
    if (ndoub > p->max_doublets) {
        cnt[1] = ndoub - p->max_doublets;
        ndoub = p->max_doublets;
    }
    cnt[0] = ndoub;
    if (st == TRK_OK)
        st = pt_stage_end(pt, profile, stage_ms, 5, t0);

    /* ---- stage 6: CA connections ---- */
    if (st == TRK_OK && ndoub > 0) {
        pt_ca_dims(pt, ndoub, &grid, &block);
        st = trk_buffer_memset(pt->q, ca->used, 0, 0, (size_t)ndoub * 4);
        for (uint32_t fill = 0; fill < 2 && st == TRK_OK; fill++) {
            st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_connect, grid, block, trk_arg_buf(ca->c_in),
                            trk_arg_buf(ca->c_out), trk_arg_u32(ndoub), trk_arg_buf(ca->hit_off),
                            trk_arg_buf(h->x), trk_arg_buf(h->y), trk_arg_buf(h->z),
                            trk_arg_buf(h->r), trk_arg_buf(h->module), trk_arg_f32(p->ptmin),
                            trk_arg_f32(p->ca_theta_cut_barrel),
                            trk_arg_f32(p->ca_theta_cut_forward), trk_arg_f32(p->hard_curv_cut),
                            trk_arg_f32(p->dca_cut_inner_triplet),
                            trk_arg_f32(p->dca_cut_outer_triplet), trk_arg_u32(fill),
                            trk_arg_buf(ca->cell_off), trk_arg_buf(ca->links),
                            trk_arg_u32(ca->link_cap), trk_arg_buf(ca->used),
                            trk_arg_buf(ca->mask));
            if (st == TRK_OK && fill == 0)
                st = pt_ca_scan(pt, ca->cell_off, ndoub, &nlinks);
        }
        if (nlinks > ca->link_cap) {
            cnt[2] = nlinks - ca->link_cap;
            nlinks = ca->link_cap;
        }
        /* early fishbone over the cells grouped by outer hit */
        if (st == TRK_OK && p->early_fishbone) {
            st = trk_buffer_memset(pt->q, ca->o_off, 0, 0, ((size_t)nhits + 1) * 4);
            if (st == TRK_OK)
                st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_outer_count, grid, block,
                                trk_arg_buf(ca->c_out), trk_arg_u32(ndoub), trk_arg_buf(ca->o_off),
                                trk_arg_buf(ca->pos));
            if (st == TRK_OK)
                st = trk_scan_u32(pt->q, ca->o_off, ca->o_off, nhits + 1, NULL, ca->scratch);
            if (st == TRK_OK)
                st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_outer_fill, grid, block,
                                trk_arg_buf(ca->c_out), trk_arg_u32(ndoub), trk_arg_buf(ca->o_off),
                                trk_arg_buf(ca->pos), trk_arg_buf(ca->o_cells));
            uint32_t hgrid, hblock;
            pt_ca_dims(pt, nhits, &hgrid, &hblock);
            if (st == TRK_OK)
                st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_fishbone, hgrid, hblock, trk_arg_u32(nhits),
                                trk_arg_buf(ca->o_off), trk_arg_buf(ca->o_cells),
                                trk_arg_buf(ca->c_in), trk_arg_buf(ca->used), trk_arg_buf(h->x),
                                trk_arg_buf(h->y), trk_arg_buf(h->z), trk_arg_buf(h->module),
                                trk_arg_u32(1), trk_arg_buf(ca->killed));
        } else if (st == TRK_OK) {
            st = trk_buffer_memset(pt->q, ca->killed, 0, 0, (size_t)ndoub * 4);
        }
        /* ntuplets */
        for (uint32_t fill = 0; fill < 2 && st == TRK_OK; fill++) {
            st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_ntuplets, grid, block, trk_arg_u32(ndoub),
                            trk_arg_u32(nlinks), trk_arg_buf(ca->cell_off), trk_arg_buf(ca->links),
                            trk_arg_buf(ca->killed), trk_arg_buf(ca->c_in),
                            trk_arg_buf(ca->c_out), trk_arg_buf(ca->c_pair),
                            trk_arg_u32(min_hits), trk_arg_u32(fill), trk_arg_buf(ca->tuple_off),
                            trk_arg_u32(p->max_tuples), trk_arg_buf(t->hits),
                            trk_arg_buf(t->cells), trk_arg_buf(t->nhits),
                            trk_arg_buf(t->quality), trk_arg_u32(pt->hole_geo != NULL),
                            trk_arg_buf(pt->hole_geo ? pt->hole_geo : pt->counters),
                            trk_arg_buf(pt->hits.x), trk_arg_buf(pt->hits.y),
                            trk_arg_buf(pt->hits.z), trk_arg_buf(pt->hits.r));
            if (st == TRK_OK && fill == 0)
                st = pt_ca_scan(pt, ca->tuple_off, ndoub, &ntup);
        }
        if (ntup > p->max_tuples) {
            cnt[4] = ntup - p->max_tuples;
            ntup = p->max_tuples;
        }
        cnt[3] = ntup;
        /* early duplicate remover */
        if (st == TRK_OK && ntup > 0) {
            uint32_t tgrid, tblock;
            pt_ca_dims(pt, ntup, &tgrid, &tblock);
            st = trk_buffer_memset(pt->q, ca->pos, 0, 0, (size_t)ndoub * 4);
            if (st == TRK_OK)
                st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_dup_max, tgrid, tblock, trk_arg_u32(ntup),
                                trk_arg_buf(t->cells), trk_arg_buf(t->nhits),
                                trk_arg_buf(ca->pos));
            if (st == TRK_OK)
                st = TRK_LAUNCH(pt->q, TRK_KERNEL_ptca_dup_mark, tgrid, tblock, trk_arg_u32(ntup),
                                trk_arg_buf(t->cells), trk_arg_buf(t->nhits),
                                trk_arg_buf(ca->pos), trk_arg_buf(t->quality));
        }
    }
    if (st == TRK_OK)
        st = trk_buffer_write(pt->q, pt->counters, (size_t)PT_C_DOUBLETS * 4, cnt, sizeof cnt,
                              true);
    if (st == TRK_OK)
        st = pt_stage_end(pt, profile, stage_ms, 6, t0);
    if (st != TRK_OK) {
        TRK_LOGE("doublets/CA/ntuplets failed on %s: %s", trk_device_id(pt->dev),
                 trk_status_str(st));
        return st;
    }
    pt->ndoublets = ndoub;
    pt->ntuples = ntup;
    return TRK_OK;
}
