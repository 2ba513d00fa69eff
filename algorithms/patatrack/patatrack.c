/* Patatrack: the instance, the pipeline over the stages (pt_internal.h), the read back
 * and the conversions of the result. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"

void trk_pt_params_default(struct trk_pt_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_fed_words = 1u << 20;
    p->max_hits = 128u * 1024u;
    p->max_doublets = 2u * 1024u * 1024u;
    p->max_tuples = 64u * 1024u;
    p->max_vertices = 1024;
    p->include_jumping_forward = true;
    p->do_cluster_cut = true;
    p->do_z0_cut = true;
    p->do_pt_cut = true;
    p->min_hits_per_ntuplet = 3;
    p->ptmin = 0.9f;
    p->ca_theta_cut_barrel = 0.002f;
    p->ca_theta_cut_forward = 0.003f;
    p->hard_curv_cut = 0.0328407224959f;
    p->dca_cut_inner_triplet = 0.15f;
    p->dca_cut_outer_triplet = 0.25f;
    p->early_fishbone = true;
    p->use_riemann_fit = false;
    p->fit_5_as_4 = true;
    p->chi2_coeff[0] = 0.68177776f;
    p->chi2_coeff[1] = 0.74609577f;
    p->chi2_coeff[2] = -0.08035491f;
    p->chi2_coeff[3] = 0.00315399f;
    p->chi2_scale = 30.f;
    p->triplet_max_tip = 0.05f; /* Patatrack: 0.3; see patatrack.h */
    p->triplet_min_pt = 0.5f;
    p->triplet_max_zip = 12.f;
    p->quad_max_tip = 0.5f;
    p->quad_min_pt = 0.3f;
    p->quad_max_zip = 12.f;
    p->vtx_min_tracks = 2;
    p->vtx_eps = 0.07f;
    p->vtx_errmax = 0.01f;
    p->vtx_chi2max = 9.f;
    p->vtx_track_ptmin = 0.5f;
    p->vtx_track_min_hits = 4;
}

enum trk_status pt_instance_bare(struct trk_device *dev, const struct trk_pt_params *p,
                                 float bfield, struct trk_pt_instance **out)
{
    *out = NULL;
    struct trk_pt_instance *pt = calloc(1, sizeof *pt);
    if (!pt)
        return TRK_ERR_NO_MEMORY;
    if (p)
        pt->p = *p;
    else
        trk_pt_params_default(&pt->p);
    pt->dev = dev;
    const struct trk_device_props *props = trk_device_props(dev);
    pt->serial = props->serial_blocks;
    pt->block = props->preferred_block ? props->preferred_block : 1;
    pt->bfield = bfield;
    pt->bfield_inv_c = 0.00299792458f * bfield;
    enum trk_status st = trk_queue_create(dev, &pt->q);
    if (st == TRK_OK)
        st = pt_alloc(pt, &pt->counters, PT_C_N * sizeof(uint32_t), "counters");
    if (st != TRK_OK) {
        trk_pt_instance_free(pt);
        return st;
    }
    *out = pt;
    return TRK_OK;
}

static void rb_free(struct pt_readback *b);

void trk_pt_instance_free(struct trk_pt_instance *pt)
{
    if (!pt)
        return;
    if (pt->q)
        (void)trk_queue_finish(pt->q);
    pt_vertex_free(pt);
    pt_fit_free(pt);
    pt_ca_free(pt);
    pt_local_free(pt);
    pt_hits_free(pt);
    trk_buffer_free(pt->counters);
    trk_buffer_free(pt->hole_geo);
    rb_free(pt->rb);
    trk_queue_free(pt->q);
    free(pt);
}

uint64_t trk_pt_memory_bytes(const struct trk_pt_instance *pt)
{
    return pt ? pt->mem_bytes : 0;
}

uint32_t pt_counter(struct trk_pt_instance *pt, enum pt_counter c)
{
    uint32_t v = 0;
    if (trk_buffer_read(pt->q, &v, pt->counters, (size_t)c * sizeof v, sizeof v, true) != TRK_OK)
        return 0;
    return v;
}

/* One barrel layer's ladders into g (PT_HOLE_* layout from `at`): modules of layer
 * `layer` come 8 per ladder, ladder-major, in φ order (CMS_RAW.md §1). */
static void hole_layer(const struct trk_detector *det, uint32_t layer, uint32_t nladders, float *g)
{
    uint32_t first = trk_cms_layer_start[layer];
    g[0] = (float)nladders;
    for (uint32_t l = 0; l < nladders; l++) {
        double r = 0, z = 0, zmin = 1e9, zmax = -1e9;
        for (uint32_t k = 0; k < 8; k++) {
            const struct trk_module *m = &det->modules[first + 8 * l + k];
            r += hypot(m->c[0], m->c[1]) / 8;
            z += m->c[2] / 8;
            zmin = fmin(zmin, m->c[2] - m->hv);
            zmax = fmax(zmax, m->c[2] + m->hv);
        }
        g[3 + l] = (float)(0.1 * r);
        g[3 + nladders + l] = (float)(0.1 * z);
        g[3 + 2 * nladders + l] = (float)(0.1 * zmin);
        g[3 + 3 * nladders + l] = (float)(0.1 * zmax);
    }
    const double *c0 = det->modules[first].c, *c1 = det->modules[first + 8].c;
    double phi0 = atan2(c0[1], c0[0]), phi1 = atan2(c1[1], c1[0]);
    double step = 2 * M_PI / nladders, d = remainder(phi1 - phi0, 2 * M_PI);
    g[1] = (float)phi0;
    g[2] = (float)(d >= 0 ? step : -step);
}

_Static_assert(PT_HOLE_L4 == 51u && PT_HOLE_ENDCAP == 310u,
               "keep PTCA_HOLE_* in kernels/pt_ca.kc equal to PT_HOLE_*");

static enum trk_status hole_upload(struct trk_pt_instance *pt, const struct trk_detector *det)
{
    float g[PT_HOLE_N];
    hole_layer(det, 0, PT_HOLE_L1_LADDERS, g + PT_HOLE_L1);
    hole_layer(det, 3, PT_HOLE_L4_LADDERS, g + PT_HOLE_L4);
    double zp = 1e9, zn = -1e9;
    for (uint32_t m = trk_cms_layer_start[4]; m < trk_cms_layer_start[5]; m++)
        zp = fmin(zp, det->modules[m].c[2]);
    for (uint32_t m = trk_cms_layer_start[7]; m < trk_cms_layer_start[8]; m++)
        zn = fmax(zn, det->modules[m].c[2]);
    g[PT_HOLE_ENDCAP] = (float)(0.1 * zp);
    g[PT_HOLE_ENDCAP + 1] = (float)(0.1 * zn);
    enum trk_status st = pt_alloc(pt, &pt->hole_geo, sizeof g, "ladder geometry");
    if (st == TRK_OK)
        st = trk_buffer_write(pt->q, pt->hole_geo, 0, g, sizeof g, true);
    return st;
}

enum trk_status trk_pt_instance_create(struct trk_device *dev, const struct trk_cms_conditions *cond,
                                       const struct trk_detector *det,
                                       const struct trk_pt_params *p,
                                       struct trk_pt_instance **out)
{
    *out = NULL;
    if (!dev || !cond || !det || det->kind != TRK_DETECTOR_CMS ||
        det->nmodules != TRK_CMS_NMODULES || cond->nmodules != TRK_CMS_NMODULES) {
        TRK_LOGE("patatrack needs the 1,856-module CMS Phase-1 pixel detector and its "
                 "conditions (got %zu modules, %u in the conditions)",
                 det ? det->nmodules : (size_t)0, cond ? cond->nmodules : 0u);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_pt_params dp;
    if (!p) {
        trk_pt_params_default(&dp);
        p = &dp;
    }
    if (p->max_hits == 0 || p->max_fed_words == 0 || p->max_doublets == 0 || p->max_tuples == 0 ||
        p->max_vertices == 0 || p->min_hits_per_ntuplet < 3 ||
        p->min_hits_per_ntuplet > TRK_PT_MAX_TUPLE_HITS) {
        TRK_LOGE("patatrack: capacities must be > 0 and min_hits_per_ntuplet in [3, %u]",
                 TRK_PT_MAX_TUPLE_HITS);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_pt_instance *pt;
    enum trk_status st = pt_instance_bare(dev, p, (float)det->bfield, &pt);
    if (st != TRK_OK)
        return st;
    memcpy(pt->beamspot, cond->beamspot, sizeof pt->beamspot);
    if ((st = hole_upload(pt, det)) != TRK_OK || (st = pt_hits_alloc(pt)) != TRK_OK || (st = pt_local_alloc(pt, cond, det)) != TRK_OK ||
        (st = pt_ca_alloc(pt)) != TRK_OK || (st = pt_fit_alloc(pt)) != TRK_OK ||
        (st = pt_vertex_alloc(pt)) != TRK_OK || (st = trk_queue_finish(pt->q)) != TRK_OK) {
        trk_pt_instance_free(pt);
        return st;
    }
    *out = pt;
    return TRK_OK;
}

void trk_pt_result_init(struct trk_pt_result *r)
{
    memset(r, 0, sizeof *r);
}

void trk_pt_result_fini(struct trk_pt_result *r)
{
    if (!r)
        return;
    void *arrays[] = {r->hit_pos, r->hit_module, r->hit_charge, r->hit_digi_offsets, r->hit_digis,
                      r->track_hit_offsets, r->track_hits, r->track_state, r->track_cov,
                      r->track_pt, r->track_eta, r->track_chi2, r->track_charge,
                      r->track_quality, r->track_vertex, r->vertex_z, r->vertex_zerr,
                      r->vertex_ptv2, r->vertex_chi2, r->vertex_ndof};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        free(arrays[i]);
    memset(r, 0, sizeof *r);
}

/* Host staging of one event's device results, kept by the instance and grown as events
 * need (cap[] per RD slot below), so the event loop does not allocate it again. */
#define PT_RB_SLOTS 21
struct pt_readback {
    size_t cap[PT_RB_SLOTS];
    uint32_t counters[PT_C_N];
    float *x, *y, *z;
    uint32_t *module;
    int32_t *charge, *digi_hit;
    uint32_t *tuple_hits, *tuple_nhits, *tuple_quality;
    float *state, *cov, *pt, *eta, *chi2;
    int32_t *tcharge, *tvertex;
    float *vz, *vzerr2, *vptv2, *vchi2;
    int32_t *vndof;
};

static enum trk_status rd(struct trk_pt_instance *pt, int slot, void **dst, struct trk_buffer *b,
                          size_t bytes)
{
    size_t *cap = &pt->rb->cap[slot];
    if (!*dst || bytes > *cap) {
        void *grown = realloc(*dst, bytes ? bytes : 1);
        if (!grown)
            return TRK_ERR_NO_MEMORY;
        *dst = grown;
        *cap = bytes;
    }
    if (!bytes)
        return TRK_OK;
    if (!b || trk_buffer_size(b) < bytes) {
        TRK_LOGE("patatrack: a stage left a result buffer smaller than its count says "
                 "(%zu < %zu bytes)", b ? trk_buffer_size(b) : (size_t)0, bytes);
        return TRK_ERR_INTERNAL;
    }
    return trk_buffer_read(pt->q, *dst, b, 0, bytes, false);
}

static void rb_free(struct pt_readback *b)
{
    if (!b)
        return;
    void *a[] = {b->x, b->y, b->z, b->module, b->charge, b->digi_hit, b->tuple_hits, b->tuple_nhits,
                 b->tuple_quality, b->state, b->cov, b->pt, b->eta, b->chi2, b->tcharge,
                 b->tvertex, b->vz, b->vzerr2, b->vptv2, b->vchi2, b->vndof};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        free(a[i]);
    free(b);
}

static int cmp_tracks(const void *pa, const void *pb, void *ctx)
{
    const struct pt_readback *b = ctx;
    uint32_t ta = *(const uint32_t *)pa, tb = *(const uint32_t *)pb;
    uint32_t na = b->tuple_nhits[ta], nb = b->tuple_nhits[tb];
    const uint32_t *ha = b->tuple_hits + (size_t)ta * TRK_PT_MAX_TUPLE_HITS;
    const uint32_t *hb = b->tuple_hits + (size_t)tb * TRK_PT_MAX_TUPLE_HITS;
    for (uint32_t i = 0; i < na && i < nb; i++)
        if (ha[i] != hb[i])
            return ha[i] < hb[i] ? -1 : 1;
    if (na != nb)
        return na < nb ? -1 : 1;
    return ta < tb ? -1 : ta > tb;
}

#define ALLOC_N(p, n) (((p) = calloc((size_t)(n) > 0 ? (size_t)(n) : 1u, sizeof *(p))) != NULL)

static enum trk_status pt_fill_result(struct trk_pt_instance *pt, struct pt_readback *b,
                                      struct trk_pt_result *r)
{
    const uint32_t *c = b->counters;
    struct trk_pt_counts *k = &r->counts;
    k->fed_words = c[PT_C_WORDS];
    k->digis = c[PT_C_DIGIS];
    k->errors = c[PT_C_ERRORS];
    for (int i = 0; i < 64; i++)
        k->error_types[i] = c[PT_C_ERROR_TYPES + i];
    k->modules = c[PT_C_MODULES];
    k->clusters = c[PT_C_HITS];
    k->doublets = c[PT_C_DOUBLETS];
    k->tuples = c[PT_C_TUPLES];
    k->tracks = c[PT_C_TRACKS];
    k->vertices = c[PT_C_VERTICES];
    k->overflow_words = c[PT_C_OVF_WORDS];
    k->overflow_hits = c[PT_C_OVF_HITS];
    k->overflow_doublets = c[PT_C_OVF_DOUBLETS];
    k->overflow_tuples = c[PT_C_OVF_TUPLES];
    k->overflow_vertices = c[PT_C_OVF_VERTICES];
    k->overflow_cell_links = c[PT_C_OVF_CELL_LINKS];

    /* hits, back to mm in the detector frame */
    uint32_t nh = pt->nhits, nd = k->digis;
    r->nhits = nh;
    if (!ALLOC_N(r->hit_pos, 3 * (size_t)nh) || !ALLOC_N(r->hit_module, nh) ||
        !ALLOC_N(r->hit_charge, nh) || !ALLOC_N(r->hit_digi_offsets, (size_t)nh + 1))
        return TRK_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < nh; i++) {
        r->hit_pos[3 * i + 0] = 10.f * (b->x[i] + pt->beamspot[0]);
        r->hit_pos[3 * i + 1] = 10.f * (b->y[i] + pt->beamspot[1]);
        r->hit_pos[3 * i + 2] = 10.f * (b->z[i] + pt->beamspot[2]);
        r->hit_module[i] = b->module[i];
        r->hit_charge[i] = b->charge[i];
    }
    /* digis per hit: counting sort of digi_hit (digis stay increasing within a hit) */
    size_t ndh = 0;
    for (uint32_t d = 0; d < nd; d++) {
        int32_t h = b->digi_hit[d];
        if (h >= 0 && (uint32_t)h < nh) {
            r->hit_digi_offsets[h + 1]++;
            ndh++;
        }
    }
    for (uint32_t i = 0; i < nh; i++)
        r->hit_digi_offsets[i + 1] += r->hit_digi_offsets[i];
    if (!ALLOC_N(r->hit_digis, ndh))
        return TRK_ERR_NO_MEMORY;
    uint32_t *fillp = malloc(((size_t)nh + 1) * sizeof *fillp);
    if (!fillp)
        return TRK_ERR_NO_MEMORY;
    memcpy(fillp, r->hit_digi_offsets, ((size_t)nh + 1) * sizeof *fillp);
    for (uint32_t d = 0; d < nd; d++) {
        int32_t h = b->digi_hit[d];
        if (h >= 0 && (uint32_t)h < nh)
            r->hit_digis[fillp[h]++] = d;
    }
    free(fillp);

    /* tracks: quality >= loose, canonical order */
    uint32_t nt = pt->ntuples, ntr = 0;
    uint32_t *order = malloc((nt ? nt : 1) * sizeof *order);
    if (!order)
        return TRK_ERR_NO_MEMORY;
    for (uint32_t t = 0; t < nt; t++)
        if (b->tuple_quality[t] >= TRK_PT_LOOSE && b->tuple_nhits[t] >= 3 &&
            b->tuple_nhits[t] <= TRK_PT_MAX_TUPLE_HITS)
            order[ntr++] = t;
    qsort_r(order, ntr, sizeof *order, cmp_tracks, b);
    r->ntracks = ntr;
    size_t nth = 0;
    for (uint32_t i = 0; i < ntr; i++)
        nth += b->tuple_nhits[order[i]];
    if (!ALLOC_N(r->track_hit_offsets, (size_t)ntr + 1) || !ALLOC_N(r->track_hits, nth) ||
        !ALLOC_N(r->track_state, 5 * (size_t)ntr) || !ALLOC_N(r->track_cov, 15 * (size_t)ntr) ||
        !ALLOC_N(r->track_pt, ntr) || !ALLOC_N(r->track_eta, ntr) || !ALLOC_N(r->track_chi2, ntr) ||
        !ALLOC_N(r->track_charge, ntr) || !ALLOC_N(r->track_quality, ntr) ||
        !ALLOC_N(r->track_vertex, ntr)) {
        free(order);
        return TRK_ERR_NO_MEMORY;
    }
    static const float scale[5] = {1.f, 10.f, 1.f, 1.f, 10.f}; /* φ, tip, q/pT, cotθ, zip */
    uint32_t pos = 0;
    for (uint32_t i = 0; i < ntr; i++) {
        uint32_t t = order[i];
        uint32_t n = b->tuple_nhits[t];
        r->track_hit_offsets[i] = pos;
        memcpy(r->track_hits + pos, b->tuple_hits + (size_t)t * TRK_PT_MAX_TUPLE_HITS,
               n * sizeof(uint32_t));
        pos += n;
        for (int j = 0; j < 5; j++)
            r->track_state[5 * i + j] = b->state[5 * (size_t)t + j] * scale[j];
        for (int a = 0, e = 0; a < 5; a++)
            for (int bb = 0; bb <= a; bb++, e++)
                r->track_cov[15 * i + e] = b->cov[15 * (size_t)t + e] * scale[a] * scale[bb];
        r->track_pt[i] = b->pt[t];
        r->track_eta[i] = b->eta[t];
        r->track_chi2[i] = b->chi2[t];
        r->track_charge[i] = b->tcharge[t];
        r->track_quality[i] = (uint8_t)b->tuple_quality[t];
        int32_t v = b->tvertex[t];
        r->track_vertex[i] = v >= 0 && (uint32_t)v < pt->nvertices ? v : -1;
    }
    r->track_hit_offsets[ntr] = pos;
    free(order);

    uint32_t nv = pt->nvertices;
    r->nvertices = nv;
    if (!ALLOC_N(r->vertex_z, nv) || !ALLOC_N(r->vertex_zerr, nv) || !ALLOC_N(r->vertex_ptv2, nv) ||
        !ALLOC_N(r->vertex_chi2, nv) || !ALLOC_N(r->vertex_ndof, nv))
        return TRK_ERR_NO_MEMORY;
    for (uint32_t v = 0; v < nv; v++) {
        r->vertex_z[v] = 10.f * (b->vz[v] + pt->beamspot[2]);
        r->vertex_zerr[v] = 10.f * sqrtf(fmaxf(b->vzerr2[v], 0.f));
        r->vertex_ptv2[v] = b->vptv2[v];
        r->vertex_ndof[v] = b->vndof[v];
        r->vertex_chi2[v] = b->vndof[v] > 0 ? b->vchi2[v] / (float)b->vndof[v] : 0.f;
    }
    return TRK_OK;
}

enum trk_status trk_pt_run(struct trk_pt_instance *pt, const void *raw, size_t n,
                           struct trk_pt_result *res, bool profile)
{
    trk_pt_result_fini(res);
    trk_pt_result_init(res);
    if (!pt || (!raw && n))
        return TRK_ERR_INVALID_ARG;
    pt->nhits = pt->ndoublets = pt->ntuples = pt->nvertices = 0;
    double t0 = pt_now_ms();
    double *sm = res->stage_ms;
    enum trk_status st = trk_buffer_memset(pt->q, pt->counters, 0, 0, PT_C_N * sizeof(uint32_t));
    if (st == TRK_OK)
        st = pt_local_run(pt, raw, n, profile, sm, &t0);
    if (st == TRK_OK)
        st = pt_ca_run(pt, profile, sm, &t0);
    if (st == TRK_OK)
        st = pt_fit_run(pt, profile, sm, &t0);
    if (st == TRK_OK)
        st = pt_vertex_run(pt, profile, sm, &t0);
    if (st != TRK_OK) {
        (void)trk_queue_finish(pt->q);
        return st;
    }
    /* Read back what the counts say is there. */
    if (!pt->rb && !(pt->rb = calloc(1, sizeof *pt->rb)))
        return TRK_ERR_NO_MEMORY;
    struct pt_readback *rb = pt->rb;
    uint32_t nh = pt->nhits, nt = pt->ntuples, nv = pt->nvertices;
    st = trk_buffer_read(pt->q, rb->counters, pt->counters, 0, sizeof rb->counters, true);
    uint32_t nd = rb->counters[PT_C_DIGIS];
    if (nd > pt->p.max_fed_words)
        nd = pt->p.max_fed_words;
    rb->counters[PT_C_DIGIS] = nd;
    const struct pt_hits *H = &pt->hits;
    const struct pt_tuples *T = &pt->tuples;
    const struct pt_tracks *K = &pt->tracks;
    const struct pt_vertices *V = &pt->vertices;
    const size_t f4 = sizeof(float), u4 = sizeof(uint32_t);
#define RD(slot, dst, buf, bytes)                                                              \
    if (st == TRK_OK)                                                                          \
    st = rd(pt, (slot), (void **)&rb->dst, (buf), (bytes))
    RD(0, x, H->x, nh * f4);
    RD(1, y, H->y, nh * f4);
    RD(2, z, H->z, nh * f4);
    RD(3, module, H->module, nh * u4);
    RD(4, charge, H->charge, nh * u4);
    RD(5, digi_hit, H->digi_hit, nd * u4);
    RD(6, tuple_hits, T->hits, (size_t)nt * TRK_PT_MAX_TUPLE_HITS * u4);
    RD(7, tuple_nhits, T->nhits, nt * u4);
    RD(8, tuple_quality, T->quality, nt * u4);
    RD(9, state, K->state, (size_t)nt * 5 * f4);
    RD(10, cov, K->cov, (size_t)nt * 15 * f4);
    RD(11, pt, K->pt, nt * f4);
    RD(12, eta, K->eta, nt * f4);
    RD(13, chi2, K->chi2, nt * f4);
    RD(14, tcharge, K->charge, nt * u4);
    RD(15, tvertex, K->vertex, nt * u4);
    RD(16, vz, V->z, nv * f4);
    RD(17, vzerr2, V->zerr2, nv * f4);
    RD(18, vptv2, V->ptv2, nv * f4);
    RD(19, vchi2, V->chi2, nv * f4);
    RD(20, vndof, V->ndof, nv * u4);
#undef RD
    if (st == TRK_OK)
        st = trk_queue_finish(pt->q);
    if (st == TRK_OK)
        st = pt_fill_result(pt, rb, res);
    if (st != TRK_OK) {
        trk_pt_result_fini(res);
        return st;
    }
    double t = pt_now_ms();
    res->stage_ms[9] += t - t0;
    return TRK_OK;
}

static enum trk_status add_col(struct trk_event *ev, const char *name, enum trk_dtype dt, size_t n,
                               uint32_t width, const void *src, size_t esize)
{
    void *data;
    enum trk_status st = trk_event_add_column(ev, name, dt, n, width, &data);
    if (st == TRK_OK && n)
        memcpy(data, src, n * (width ? width : 1) * esize);
    return st;
}

enum trk_status trk_pt_result_to_event(const struct trk_pt_result *r, struct trk_event *ev)
{
    uint32_t nt = r->ntracks;
    float *params = calloc(nt ? 5 * (size_t)nt : 1, sizeof *params);
    float *vz = calloc(r->nvertices ? r->nvertices : 1, sizeof *vz);
    if (!params || !vz) {
        free(params);
        free(vz);
        return TRK_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < nt; i++) {
        params[5 * i + 0] = r->track_pt[i];
        params[5 * i + 1] = r->track_eta[i];
        params[5 * i + 2] = r->track_state[5 * i + 0];
        params[5 * i + 3] = r->track_state[5 * i + 1];
        params[5 * i + 4] = r->track_state[5 * i + 4];
    }
    memcpy(vz, r->vertex_z, r->nvertices * sizeof *vz);
    enum trk_status st = add_col(ev, "reco_cluster_offsets", TRK_DTYPE_UINT32, (size_t)r->nhits + 1,
                                 0, r->hit_digi_offsets, 4);
    if (st == TRK_OK)
        st = add_col(ev, "reco_cluster_digis", TRK_DTYPE_UINT32, r->hit_digi_offsets[r->nhits], 0,
                     r->hit_digis, 4);
    if (st == TRK_OK)
        st = add_col(ev, "reco_hit_pos", TRK_DTYPE_FP32, r->nhits, 3, r->hit_pos, 4);
    if (st == TRK_OK)
        st = add_col(ev, "reco_track_offsets", TRK_DTYPE_UINT32, (size_t)nt + 1, 0,
                     r->track_hit_offsets, 4);
    if (st == TRK_OK)
        st = add_col(ev, "reco_track_hits", TRK_DTYPE_UINT32, r->track_hit_offsets[nt], 0,
                     r->track_hits, 4);
    if (st == TRK_OK)
        st = add_col(ev, "reco_track_vertex", TRK_DTYPE_INT32, nt, 0, r->track_vertex, 4);
    if (st == TRK_OK)
        st = add_col(ev, "reco_track_params", TRK_DTYPE_FP32, nt, 5, params, 4);
    if (st == TRK_OK)
        st = add_col(ev, "reco_track_quality", TRK_DTYPE_UINT8, nt, 0, r->track_quality, 1);
    if (st == TRK_OK)
        st = add_col(ev, "reco_vertex_z", TRK_DTYPE_FP32, r->nvertices, 0, vz, 4);
    free(params);
    free(vz);
    return st;
}
