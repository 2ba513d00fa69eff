/* Patatrack stages 7–8 on every device, from TRUTH tuples: the simhits of charged
 * particles of generated CMS PU 50 events, one per layer, smeared with pixel errors.
 * Checks the broken-line fit against truth (pT, charge, tip/zip pulls, η), the
 * classification (truth LOOSE, random hits BAD), the duplicate removal (copies and
 * sub-triplets DUP), the vertices against the truth primaries, and that every device
 * gives what the CPU device gives. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"
#include "trk/cms.h"
#include "trk/gen.h"

#define NEVENTS 2
#define NDUP 20    /* copies and sub-triplets of quads */
#define NRANDOM 10 /* tuples of random hits */
#define SLOTS TRK_PT_MAX_TUPLE_HITS

/* One event: hits (cm, by module) and tuples with their truth. */
struct ev {
    uint32_t nh;
    float *x, *y, *z, *gcov;
    uint32_t *module;
    uint32_t nt, ntruth;        /* tuples; the first ntruth are truth tracks */
    uint32_t *hits, *nhits;     /* [nt·6], [nt] */
    uint32_t *particle;         /* [nt] truth particle, UINT32_MAX for the extras */
    uint32_t dup_of[2 * NDUP];  /* tuple ntruth + k duplicates dup_of[k] */
    struct trk_truth truth;
};

/* What one device computed. */
struct res {
    uint32_t nt, nv, ntracks;
    uint32_t *quality;
    float *state, *cov, *pt, *eta, *chi2;
    int32_t *charge, *vertex;
    float *vz, *vzerr2, *vptv2;
    int32_t *vndof;
    double ms_fit, ms_vtx;
};

static struct trk_detector *g_det;
static struct ev g_ev[NEVENTS];
static bool g_ready;

static uint32_t layer_of_module(uint32_t m)
{
    uint32_t l = 0;
    while (l < TRK_CMS_NLAYERS && m >= trk_cms_layer_start[l + 1])
        l++;
    return l;
}

static double gauss(uint64_t *s)
{
    double u1 = (tt_rand_u64(s) >> 11) * 0x1.0p-53, u2 = (tt_rand_u64(s) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1 + 1e-300)) * cos(6.283185307179586 * u2);
}

struct tmp_hit {
    float x, y, z, g[6];
    uint32_t module, key; /* key: tuple·6 + slot, or UINT32_MAX */
};

static int cmp_hit(const void *a, const void *b)
{
    const struct tmp_hit *p = a, *q = b;
    if (p->module != q->module)
        return p->module < q->module ? -1 : 1;
    return p->key < q->key ? -1 : p->key > q->key;
}

static void make_events(void)
{
    if (g_ready)
        return;
    assert_int_equal(trk_cms_detector_builtin(&g_det), TRK_OK);
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.pileup = 50;
    cfg.seed = 3;
    for (int e = 0; e < NEVENTS; e++) {
        struct ev *v = &g_ev[e];
        memset(v, 0, sizeof *v);
        trk_truth_init(&v->truth);
        assert_int_equal(trk_gen_truth(&cfg, g_det, (uint64_t)e, &v->truth), TRK_OK);
        const struct trk_truth *t = &v->truth;
        size_t cap = t->nparticles + 2 * NDUP + NRANDOM + 1;
        v->hits = tt_malloc(cap * SLOTS * 4);
        v->nhits = tt_malloc(cap * 4);
        v->particle = tt_malloc(cap * 4);
        struct tmp_hit *th = tt_malloc((t->nsimhits + 1) * sizeof *th);
        uint32_t nh = 0, nt = 0;
        uint64_t rs = 1000 + (uint64_t)e;
        for (size_t s = 0; s < t->nsimhits;) {
            uint32_t ip = t->simhits[s].particle;
            size_t s1 = s;
            while (s1 < t->nsimhits && t->simhits[s1].particle == ip)
                s1++;
            double pt = hypot(t->p[3 * ip], t->p[3 * ip + 1]);
            uint32_t n = 0, used = 0;
            float lastr = 0.f;
            for (size_t k = s; k < s1 && n < SLOTS && t->q[ip] != 0 && pt > 0.5; k++) {
                const struct trk_simhit *h = &t->simhits[k];
                uint32_t l = layer_of_module(h->module);
                float x = h->pos[0] * 0.1f, y = h->pos[1] * 0.1f, z = h->pos[2] * 0.1f;
                float r = hypotf(x, y);
                if ((used >> l) & 1u || r < lastr)
                    break;
                used |= 1u << l;
                lastr = r;
                /* errors: rφ 12 µm; BPIX z 25 µm; FPIX r 25 µm, z 5 µm */
                float c = x / r, sn = y / r, srp = 12e-4f;
                float sr = l < 4 ? 0.f : 25e-4f, sz = l < 4 ? 25e-4f : 5e-4f;
                float drp = (float)gauss(&rs) * srp, dr = (float)gauss(&rs) * sr;
                struct tmp_hit *o = &th[nh + n];
                o->x = x - sn * drp + c * dr;
                o->y = y + c * drp + sn * dr;
                o->z = z + (float)gauss(&rs) * sz;
                o->g[0] = srp * srp * sn * sn + sr * sr * c * c;
                o->g[1] = -srp * srp * sn * c + sr * sr * sn * c;
                o->g[2] = srp * srp * c * c + sr * sr * sn * sn;
                o->g[3] = o->g[4] = 0.f;
                o->g[5] = sz * sz;
                o->module = h->module;
                o->key = nt * SLOTS + n;
                n++;
            }
            if (n >= 3) {
                v->nhits[nt] = n;
                v->particle[nt] = ip;
                nt++;
                nh += n;
            }
            s = s1;
        }
        v->ntruth = nt;
        qsort(th, nh, sizeof *th, cmp_hit);
        v->nh = nh;
        v->x = tt_malloc(nh * 4 + 4);
        v->y = tt_malloc(nh * 4 + 4);
        v->z = tt_malloc(nh * 4 + 4);
        v->gcov = tt_malloc(nh * 24 + 24);
        v->module = tt_malloc(nh * 4 + 4);
        for (uint32_t i = 0; i < nh; i++) {
            v->x[i] = th[i].x;
            v->y[i] = th[i].y;
            v->z[i] = th[i].z;
            memcpy(v->gcov + 6 * i, th[i].g, 24);
            v->module[i] = th[i].module;
            v->hits[th[i].key] = i;
        }
        /* extras: copies of quads, their first three hits, random-hit triplets */
        uint32_t k = 0;
        for (uint32_t i = 0; i < v->ntruth && k < NDUP; i++) {
            if (v->nhits[i] != 4)
                continue;
            memcpy(v->hits + (size_t)nt * SLOTS, v->hits + (size_t)i * SLOTS, SLOTS * 4);
            v->nhits[nt] = 4;
            v->particle[nt] = UINT32_MAX;
            v->dup_of[2 * k] = i;
            nt++;
            memcpy(v->hits + (size_t)nt * SLOTS, v->hits + (size_t)i * SLOTS, SLOTS * 4);
            v->nhits[nt] = 3;
            v->particle[nt] = UINT32_MAX;
            v->dup_of[2 * k + 1] = i;
            nt++;
            k++;
        }
        assert_int_equal(k, NDUP);
        uint64_t rr = 77 + (uint64_t)e;
        for (uint32_t j = 0; j < NRANDOM; j++) {
            for (uint32_t l = 0; l < 3; l++) {
                uint32_t h;
                do
                    h = tt_rand_u32(&rr) % nh;
                while (layer_of_module(v->module[h]) != l);
                v->hits[(size_t)nt * SLOTS + l] = h;
            }
            v->nhits[nt] = 3;
            v->particle[nt] = UINT32_MAX;
            nt++;
        }
        v->nt = nt;
        free(th);
    }
    g_ready = true;
}

static void res_free(struct res *r)
{
    free(r->quality);
    free(r->state);
    free(r->cov);
    free(r->pt);
    free(r->eta);
    free(r->chi2);
    free(r->charge);
    free(r->vertex);
    free(r->vz);
    free(r->vzerr2);
    free(r->vptv2);
    free(r->vndof);
    memset(r, 0, sizeof *r);
}

/* Reads bytes of b on pt's queue (b may live on a device other than tt.dev). */
static void dl(struct trk_pt_instance *pt, void *dst, struct trk_buffer *b, size_t bytes)
{
    assert_int_equal(trk_buffer_read(pt->q, dst, b, 0, bytes, true), TRK_OK);
}

/* Runs stages 7–8 on dev for event e (twice: timing of the second run). */
static void run_event(struct trk_device *dev, int e, struct res *r)
{
    const struct ev *v = &g_ev[e];
    struct trk_pt_params p;
    trk_pt_params_default(&p);
    p.max_hits = 65536;
    p.max_tuples = 16384;
    struct trk_pt_instance *pt = NULL;
    assert_int_equal(pt_instance_bare(dev, &p, (float)g_det->bfield, &pt), TRK_OK);
    assert_int_equal(pt_hits_alloc(pt), TRK_OK);
    assert_int_equal(pt_ca_alloc(pt), TRK_OK);
    assert_int_equal(pt_fit_alloc(pt), TRK_OK);
    assert_int_equal(pt_vertex_alloc(pt), TRK_OK);
    struct pt_host_hits hh = {.n = v->nh, .x = v->x, .y = v->y, .z = v->z, .module = v->module,
                              .gcov = v->gcov};
    assert_int_equal(pt_hits_upload(pt, &hh), TRK_OK);
    for (int rep = 0; rep < 2; rep++) {
        assert_int_equal(pt_tuples_upload(pt, v->nt, v->hits, v->nhits), TRK_OK);
        assert_int_equal(trk_buffer_memset(pt->q, pt->counters, 0, 0, PT_C_N * 4), TRK_OK);
        assert_int_equal(trk_queue_finish(pt->q), TRK_OK);
        double ms[10] = {0}, t0 = pt_now_ms();
        assert_int_equal(pt_fit_run(pt, true, ms, &t0), TRK_OK);
        assert_int_equal(pt_vertex_run(pt, true, ms, &t0), TRK_OK);
        r->ms_fit = ms[7];
        r->ms_vtx = ms[8];
    }
    uint32_t nt = v->nt;
    r->nt = nt;
    r->nv = pt->nvertices;
    r->ntracks = pt_counter(pt, PT_C_TRACKS);
    assert_int_equal(pt_counter(pt, PT_C_OVF_VERTICES), 0);
    r->quality = tt_malloc(nt * 4);
    r->state = tt_malloc(nt * 20);
    r->cov = tt_malloc(nt * 60);
    r->pt = tt_malloc(nt * 4);
    r->eta = tt_malloc(nt * 4);
    r->chi2 = tt_malloc(nt * 4);
    r->charge = tt_malloc(nt * 4);
    r->vertex = tt_malloc(nt * 4);
    dl(pt, r->quality, pt->tuples.quality, nt * 4);
    dl(pt, r->state, pt->tracks.state, nt * 20);
    dl(pt, r->cov, pt->tracks.cov, nt * 60);
    dl(pt, r->pt, pt->tracks.pt, nt * 4);
    dl(pt, r->eta, pt->tracks.eta, nt * 4);
    dl(pt, r->chi2, pt->tracks.chi2, nt * 4);
    dl(pt, r->charge, pt->tracks.charge, nt * 4);
    dl(pt, r->vertex, pt->tracks.vertex, nt * 4);
    uint32_t nv = r->nv ? r->nv : 1;
    r->vz = tt_malloc(nv * 4);
    r->vzerr2 = tt_malloc(nv * 4);
    r->vptv2 = tt_malloc(nv * 4);
    r->vndof = tt_malloc(nv * 4);
    if (r->nv) {
        dl(pt, r->vz, pt->vertices.z, r->nv * 4);
        dl(pt, r->vzerr2, pt->vertices.zerr2, r->nv * 4);
        dl(pt, r->vptv2, pt->vertices.ptv2, r->nv * 4);
        dl(pt, r->vndof, pt->vertices.ndof, r->nv * 4);
    }
    trk_pt_instance_free(pt);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static double stddev(const double *a, uint32_t n)
{
    double s = 0, s2 = 0;
    for (uint32_t i = 0; i < n; i++) {
        s += a[i];
        s2 += a[i] * a[i];
    }
    return n > 1 ? sqrt(fmax(0.0, s2 / n - (s / n) * (s / n))) : 0.0;
}

/* ---- the fit against truth, classification, duplicates -------------------------- */

static void test_fit_truth(void **state)
{
    (void)state;
    make_events();
    for (int e = 0; e < NEVENTS; e++) {
        const struct ev *v = &g_ev[e];
        const struct trk_truth *t = &v->truth;
        struct res r;
        memset(&r, 0, sizeof r);
        run_event(tt.dev, e, &r);
        float *res_pt[4];
        uint32_t nres[4] = {0};
        for (int k = 0; k < 4; k++)
            res_pt[k] = tt_malloc(v->ntruth * 4 + 4);
        double *ptip = tt_malloc(v->ntruth * 8 + 8), *pzip = tt_malloc(v->ntruth * 8 + 8);
        uint32_t npull = 0, nq = 0, nqok = 0, nhi = 0, nloose = 0, neta = 0;
        for (uint32_t i = 0; i < v->ntruth; i++) {
            uint32_t ip = v->particle[i];
            double px = t->p[3 * ip], py = t->p[3 * ip + 1], pz = t->p[3 * ip + 2];
            double tpt = hypot(px, py), cot = pz / tpt, phi = atan2(py, px);
            double vx = t->v[3 * ip] * 0.1, vy = t->v[3 * ip + 1] * 0.1, vzz = t->v[3 * ip + 2] * 0.1;
            if (hypot(vx, vy) > 0.01 || tpt < 0.9)
                continue; /* primaries above the cut only */
            const float *s = r.state + 5 * i;
            float qpt = s[2];
            double tq = t->q[ip];
            int k = v->nhits[i] > 6 ? 3 : (int)v->nhits[i] - 3;
            res_pt[k < 3 ? k : 3][nres[k < 3 ? k : 3]++] = (float)fabs((qpt - tq / tpt) * tpt);
            nq++;
            nqok += r.charge[i] == (int)tq;
            nhi++;
            nloose += r.quality[i] == TRK_PT_LOOSE || r.quality[i] == TRK_PT_DUP;
            double eta = asinh(cot);
            neta += fabs(r.eta[i] - eta) < 0.01;
            double tip = cos(phi) * vy - sin(phi) * vx;
            double zip = vzz - (vx * cos(phi) + vy * sin(phi)) * cot;
            if (r.cov[15 * i + 2] > 0 && r.cov[15 * i + 14] > 0) {
                ptip[npull] = (s[1] - tip) / sqrt(r.cov[15 * i + 2]);
                pzip[npull] = (s[4] - zip) / sqrt(r.cov[15 * i + 14]);
                npull++;
            }
        }
        const char *names[4] = {"3", "4", "5", "6"};
        for (int k = 0; k < 4; k++) {
            if (!nres[k])
                continue;
            qsort(res_pt[k], nres[k], 4, cmp_float);
            float med = res_pt[k][nres[k] / 2];
            print_message("  %s: %s-hit tuples: median |d(1/pT)|·pT %.4f (%u tracks)\n",
                          trk_device_id(tt.dev), names[k], med, nres[k]);
            assert_true(med < (k == 1 ? 0.035f : 0.07f)); /* measured 0.02–0.04 */
        }
        double stip = stddev(ptip, npull), szip = stddev(pzip, npull);
        print_message("  charge ok %u/%u, |d eta| < 0.01 %u/%u, LOOSE %u/%u, pulls tip %.2f "
                      "zip %.2f (%u), fit %.2f ms, vertices %.2f ms (%u tuples)\n",
                      nqok, nq, neta, nhi, nloose, nhi, stip, szip, npull, r.ms_fit, r.ms_vtx,
                      v->nt);
        assert_true(nq > 100);
        assert_true(nqok >= nq * 99 / 100);
        assert_true(neta >= nhi * 95 / 100);
        assert_true(nloose >= nhi * 95 / 100);
        assert_true(stip > 0.5 && stip < 2.0);
        assert_true(szip > 0.5 && szip < 2.0);
        /* duplicates: the copy and the sub-triplet are DUP, the original not */
        for (uint32_t k = 0; k < 2 * NDUP; k++) {
            uint32_t orig = v->dup_of[k], d = v->ntruth + k;
            if (r.quality[orig] == TRK_PT_BAD)
                continue;
            assert_int_equal(r.quality[orig], TRK_PT_LOOSE);
            assert_int_equal(r.quality[d], TRK_PT_DUP);
        }
        uint32_t nbad = 0;
        for (uint32_t j = 0; j < NRANDOM; j++)
            nbad += r.quality[v->ntruth + 2 * NDUP + j] == TRK_PT_BAD;
        assert_true(nbad >= NRANDOM - 1);
        uint32_t count = 0;
        for (uint32_t i = 0; i < v->nt; i++)
            count += r.quality[i] >= TRK_PT_LOOSE;
        assert_int_equal(count, r.ntracks);
        for (int k = 0; k < 4; k++)
            free(res_pt[k]);
        free(ptip);
        free(pzip);
        res_free(&r);
    }
}

/* ---- vertices against the truth primaries ---------------------------------------- */

static void test_vertices(void **state)
{
    (void)state;
    make_events();
    for (int e = 0; e < NEVENTS; e++) {
        const struct ev *v = &g_ev[e];
        const struct trk_truth *t = &v->truth;
        struct res r;
        memset(&r, 0, sizeof r);
        run_event(tt.dev, e, &r);
        assert_true(r.nv > 0);
        for (uint32_t k = 1; k < r.nv; k++)
            assert_true(r.vptv2[k - 1] >= r.vptv2[k]);
        uint32_t *ntk = calloc(t->nvertices + 1, 4);
        assert_non_null(ntk);
        for (uint32_t i = 0; i < v->ntruth; i++) {
            uint32_t ip = v->particle[i];
            if (r.quality[i] == TRK_PT_LOOSE && v->nhits[i] >= 4 && r.pt[i] >= 0.5f &&
                t->vertex[ip] >= 0 && (size_t)t->vertex[ip] < t->nvertices)
                ntk[t->vertex[ip]]++;
            if (r.vertex[i] >= 0)
                assert_true((uint32_t)r.vertex[i] < r.nv);
        }
        uint32_t nprim = 0, nfound = 0;
        double dz_hs = NAN;
        for (size_t k = 0; k < t->nvertices; k++) {
            const float *p = t->vpos + 3 * k;
            if (hypotf(p[0], p[1]) > 0.1f || ntk[k] < 4)
                continue;
            nprim++;
            double best = 1e9;
            for (uint32_t j = 0; j < r.nv; j++)
                if (fabs(r.vz[j] - p[2] * 0.1) < fabs(best))
                    best = r.vz[j] - p[2] * 0.1;
            nfound += fabs(best) < 0.05;
            if (k == 0)
                dz_hs = best;
        }
        print_message("  %s: %u vertices, truth primaries with >= 4 tracks found %u/%u, "
                      "hard scatter dz %.1f um\n",
                      trk_device_id(tt.dev), r.nv, nfound, nprim, dz_hs * 1e4);
        assert_true(nprim > 10);
        assert_true(nfound >= nprim * 85 / 100);
        free(ntk);
        res_free(&r);
    }
}

/* ---- every device = the CPU device ----------------------------------------------- */

static void test_same_as_cpu(void **state)
{
    (void)state;
    make_events();
    struct trk_device *cpu = NULL;
    assert_int_equal(trk_registry_select(tt.reg, "cpu", &cpu), TRK_OK);
    for (int e = 0; e < NEVENTS; e++) {
        struct res a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        run_event(cpu, e, &a);
        run_event(tt.dev, e, &b);
        uint32_t nt = a.nt;
        tt_assert_equal_u32(b.quality, a.quality, nt, "quality");
        tt_assert_equal_u32((uint32_t *)b.vertex, (uint32_t *)a.vertex, nt, "track vertex");
        assert_int_equal(a.nv, b.nv);
        assert_int_equal(a.ntracks, b.ntracks);
        /* floats of the tracks that were fitted */
        for (uint32_t i = 0; i < nt; i++) {
            if (a.quality[i] != TRK_PT_LOOSE)
                continue;
            tt_assert_close_f32(b.state + 5 * i, a.state + 5 * i, 5, 1e-4f, 1e-5f, "state") /* tip, zip: 0.1 µm */;
            tt_assert_close_f32(b.pt + i, a.pt + i, 1, 1e-4f, 0.f, "pt");
            tt_assert_close_f32(b.eta + i, a.eta + i, 1, 1e-4f, 1e-6f, "eta");
            tt_assert_close_f32(b.cov + 15 * i, a.cov + 15 * i, 15, 1e-3f, 1e-12f, "cov");
        }
        tt_assert_close_f32(b.vz, a.vz, a.nv, 1e-4f, 1e-5f, "vertex z");
        tt_assert_close_f32(b.vptv2, a.vptv2, a.nv, 1e-4f, 0.f, "vertex ptv2");
        tt_assert_equal_u32((uint32_t *)b.vndof, (uint32_t *)a.vndof, a.nv, "vertex ndof");
        res_free(&a);
        res_free(&b);
    }
}

/* ---- nothing to do, and malformed tuples ------------------------------------------ */

static void test_empty_and_bad(void **state)
{
    (void)state;
    make_events();
    struct trk_pt_instance *pt = NULL;
    assert_int_equal(pt_instance_bare(tt.dev, NULL, (float)g_det->bfield, &pt), TRK_OK);
    /* half allocated: free must cope */
    trk_pt_instance_free(pt);
    assert_int_equal(pt_instance_bare(tt.dev, NULL, (float)g_det->bfield, &pt), TRK_OK);
    assert_int_equal(pt_hits_alloc(pt), TRK_OK);
    assert_int_equal(pt_ca_alloc(pt), TRK_OK);
    assert_int_equal(pt_fit_alloc(pt), TRK_OK);
    assert_int_equal(pt_vertex_alloc(pt), TRK_OK);
    const struct ev *v = &g_ev[0];
    struct pt_host_hits hh = {.n = v->nh, .x = v->x, .y = v->y, .z = v->z, .module = v->module,
                              .gcov = v->gcov};
    assert_int_equal(pt_hits_upload(pt, &hh), TRK_OK);
    assert_int_equal(trk_buffer_memset(pt->q, pt->counters, 0, 0, PT_C_N * 4), TRK_OK);
    assert_int_equal(pt_tuples_upload(pt, 0, NULL, NULL), TRK_OK);
    assert_int_equal(pt_fit_run(pt, false, NULL, NULL), TRK_OK);
    assert_int_equal(pt_vertex_run(pt, false, NULL, NULL), TRK_OK);
    assert_int_equal(pt->nvertices, 0);
    /* hit index out of range, too few hits, the same hit thrice: BAD, no crash */
    uint32_t hits[3 * SLOTS] = {0, 1, v->nh + 5, 0, 0, 0, 0, 1, 2, 0, 0, 0, 7, 7, 7, 0, 0, 0};
    uint32_t nh[3] = {3, 2, 3}, q[3];
    assert_int_equal(pt_tuples_upload(pt, 3, hits, nh), TRK_OK);
    assert_int_equal(pt_fit_run(pt, false, NULL, NULL), TRK_OK);
    assert_int_equal(pt_vertex_run(pt, false, NULL, NULL), TRK_OK);
    tt_download(q, pt->tuples.quality, sizeof q);
    for (int i = 0; i < 3; i++)
        assert_int_equal(q[i], TRK_PT_BAD);
    trk_pt_instance_free(pt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_truth),
        cmocka_unit_test(test_vertices),
        cmocka_unit_test(test_same_as_cpu),
        cmocka_unit_test(test_empty_and_bad),
    };
    int rc = tt_run_on_all_devices("pt_fit", tests, sizeof tests / sizeof tests[0]);
    for (int e = 0; e < NEVENTS && g_ready; e++) {
        struct ev *v = &g_ev[e];
        trk_truth_fini(&v->truth);
        free(v->x);
        free(v->y);
        free(v->z);
        free(v->gcov);
        free(v->module);
        free(v->hits);
        free(v->nhits);
        free(v->particle);
    }
    trk_detector_free(g_det);
    return rc;
}
