/* Patatrack stages 0–4 (algorithms/patatrack/local.c) on every device: digis and errors
 * against the host decoder, clusters against the host clusterizer, hit positions
 * against the simulated crossings, corrupt input, and the same hits on every device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "pt_internal.h"
#include "trk/cms.h"
#include "trk/gen.h"
#include "trk/score.h"

#define NEV 2

static struct trk_detector *g_det;
static struct trk_cms_conditions *g_cond;

/* one generated event and what the host references make of it */
struct ref_event {
    struct trk_truth t;
    uint8_t *raw;
    size_t nraw;
    size_t ndigis;
    int32_t *digi_particle;
    struct trk_cms_digis d;
    struct trk_cms_clusters cl;
};
static struct ref_event g_ev[NEV];

/* the hits of one run, read back */
struct hits_out {
    uint32_t n, layer_start[PT_NLAYERS + 1];
    float *x, *y, *z, *r, *gcov, *xerr2, *yerr2;
    int16_t *iphi, *size_x, *size_y;
    int32_t *charge, *digi_hit;
    uint32_t *module;
    uint32_t counters[PT_C_N];
};
static struct hits_out g_cpu[NEV];
static bool g_have_cpu[NEV];

static void hits_out_free(struct hits_out *o)
{
    free(o->x);
    free(o->y);
    free(o->z);
    free(o->r);
    free(o->gcov);
    free(o->xerr2);
    free(o->yerr2);
    free(o->iphi);
    free(o->size_x);
    free(o->size_y);
    free(o->charge);
    free(o->digi_hit);
    free(o->module);
    memset(o, 0, sizeof *o);
}

/* A zstd frame of `data` made of raw (stored) blocks, with its content size: what
 * trk_cms_raw_decompress accepts, without linking a compressor. */
static uint8_t *raw_frame(const uint8_t *data, size_t n, size_t *nout)
{
    size_t nblocks = n ? (n + 131071) / 131072 : 1;
    uint8_t *f = tt_malloc(9 + 3 * nblocks + n);
    uint8_t *p = f;
    const uint8_t magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    memcpy(p, magic, 4);
    p[4] = 0xA0; /* 4-byte content size, single segment, no checksum */
    for (int k = 0; k < 4; k++)
        p[5 + k] = (uint8_t)(n >> (8 * k));
    p += 9;
    size_t pos = 0;
    for (size_t b = 0; b < nblocks; b++) {
        size_t len = n - pos < 131072 ? n - pos : 131072;
        uint32_t h = (uint32_t)(len << 3) | (b + 1 == nblocks ? 1u : 0u);
        p[0] = (uint8_t)h;
        p[1] = (uint8_t)(h >> 8);
        p[2] = (uint8_t)(h >> 16);
        memcpy(p + 3, data + pos, len);
        p += 3 + len;
        pos += len;
    }
    *nout = (size_t)(p - f);
    return f;
}

static int setup_events(void)
{
    if (trk_cms_detector_builtin(&g_det) != TRK_OK ||
        trk_cms_conditions_make(g_det, 7, &g_cond) != TRK_OK)
        return -1;
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.pileup = 50;
    cfg.seed = 2024;
    for (int e = 0; e < NEV; e++) {
        struct ref_event *r = &g_ev[e];
        trk_truth_init(&r->t);
        trk_cms_digis_init(&r->d);
        trk_cms_clusters_init(&r->cl);
        if (trk_gen_truth(&cfg, g_det, (uint64_t)e, &r->t) != TRK_OK)
            return -1;
        struct trk_event ev;
        trk_event_init(&ev, (uint64_t)e);
        struct trk_rng rng;
        trk_rng_seed(&rng, cfg.seed, (uint64_t)e + (1ull << 40));
        if (trk_cms_digitize(g_det, g_cond, &r->t, &rng, &ev) != TRK_OK)
            return -1;
        size_t n;
        const uint8_t *z = trk_event_column(&ev, "raw_zstd", TRK_DTYPE_UINT8, 0, &r->nraw);
        const int32_t *dp = trk_event_column(&ev, "digi_particle", TRK_DTYPE_INT32, 0, &n);
        if (!z || !dp)
            return -1;
        r->raw = malloc(r->nraw);
        r->digi_particle = malloc((n ? n : 1) * sizeof *dp);
        if (!r->raw || !r->digi_particle)
            return -1;
        memcpy(r->raw, z, r->nraw);
        memcpy(r->digi_particle, dp, n * sizeof *dp);
        r->ndigis = n;
        trk_event_fini(&ev);
        if (trk_cms_raw_decode(g_cond, r->raw, r->nraw, &r->d) != TRK_OK || r->d.n != n)
            return -1;
        if (trk_cms_cluster(g_cond, r->d.n, r->d.module, r->d.row, r->d.col, r->d.adc,
                            &r->cl) != TRK_OK)
            return -1;
    }
    return 0;
}

static void teardown_events(void)
{
    for (int e = 0; e < NEV; e++) {
        trk_truth_fini(&g_ev[e].t);
        trk_cms_digis_fini(&g_ev[e].d);
        trk_cms_clusters_fini(&g_ev[e].cl);
        free(g_ev[e].raw);
        free(g_ev[e].digi_particle);
        hits_out_free(&g_cpu[e]);
    }
    trk_cms_conditions_free(g_cond);
    trk_detector_free(g_det);
}

static struct trk_pt_instance *make_instance(const struct trk_pt_params *p)
{
    struct trk_pt_instance *pt = NULL;
    assert_int_equal(pt_instance_bare(tt.dev, p, (float)g_det->bfield, &pt), TRK_OK);
    assert_int_equal(pt_hits_alloc(pt), TRK_OK);
    assert_int_equal(pt_local_alloc(pt, g_cond, g_det), TRK_OK);
    return pt;
}

static enum trk_status run(struct trk_pt_instance *pt, const void *raw, size_t n,
                           double *stage_ms)
{
    assert_int_equal(trk_buffer_memset(pt->q, pt->counters, 0, 0, PT_C_N * 4), TRK_OK);
    double t0 = pt_now_ms();
    enum trk_status st = pt_local_run(pt, raw, n, stage_ms != NULL, stage_ms, &t0);
    assert_int_equal(trk_queue_finish(pt->q), TRK_OK);
    return st;
}

static void *rd(struct trk_pt_instance *pt, struct trk_buffer *b, size_t bytes)
{
    void *p = tt_malloc(bytes ? bytes : 1);
    if (bytes)
        assert_int_equal(trk_buffer_read(pt->q, p, b, 0, bytes, true), TRK_OK);
    return p;
}

static void read_hits(struct trk_pt_instance *pt, size_t ndigis, struct hits_out *o)
{
    struct pt_hits *h = &pt->hits;
    uint32_t n = o->n = pt->nhits;
    o->x = rd(pt, h->x, n * 4);
    o->y = rd(pt, h->y, n * 4);
    o->z = rd(pt, h->z, n * 4);
    o->r = rd(pt, h->r, n * 4);
    o->gcov = rd(pt, h->gcov, n * 24);
    o->xerr2 = rd(pt, h->xerr2, n * 4);
    o->yerr2 = rd(pt, h->yerr2, n * 4);
    o->iphi = rd(pt, h->iphi, n * 2);
    o->size_x = rd(pt, h->size_x, n * 2);
    o->size_y = rd(pt, h->size_y, n * 2);
    o->charge = rd(pt, h->charge, n * 4);
    o->module = rd(pt, h->module, n * 4);
    o->digi_hit = rd(pt, h->digi_hit, ndigis * 4);
    assert_int_equal(trk_buffer_read(pt->q, o->layer_start, h->layer_start, 0,
                                     sizeof o->layer_start, true),
                     TRK_OK);
    assert_int_equal(trk_buffer_read(pt->q, o->counters, pt->counters, 0, sizeof o->counters,
                                     true),
                     TRK_OK);
}

/* Digi lists of the hits from digi_hit (digis increasing within a hit). */
static void hit_digis(const struct hits_out *o, size_t ndigis, uint32_t **off, uint32_t **dig)
{
    uint32_t *cnt = calloc((size_t)o->n + 1, sizeof *cnt);
    uint32_t *d = tt_malloc((ndigis ? ndigis : 1) * sizeof *d);
    assert_non_null(cnt);
    for (size_t i = 0; i < ndigis; i++) {
        assert_true(o->digi_hit[i] >= -1 && o->digi_hit[i] < (int32_t)o->n);
        if (o->digi_hit[i] >= 0)
            cnt[o->digi_hit[i] + 1]++;
    }
    for (uint32_t h = 0; h < o->n; h++)
        cnt[h + 1] += cnt[h];
    uint32_t *fill = tt_malloc(((size_t)o->n + 1) * sizeof *fill);
    memcpy(fill, cnt, ((size_t)o->n + 1) * sizeof *fill);
    for (size_t i = 0; i < ndigis; i++)
        if (o->digi_hit[i] >= 0)
            d[fill[o->digi_hit[i]]++] = (uint32_t)i;
    free(fill);
    *off = cnt;
    *dig = d;
}

static void check_vs_reference(const struct ref_event *r, const struct hits_out *o)
{
    /* digis and errors as the host decoder */
    assert_int_equal(o->counters[PT_C_DIGIS], r->d.n);
    assert_int_equal(o->counters[PT_C_ERRORS], r->d.nerrors);
    uint32_t types[64] = {0};
    for (size_t i = 0; i < r->d.nerrors; i++)
        types[r->d.errors[i].type]++;
    for (int k = 0; k < 64; k++)
        assert_int_equal(o->counters[PT_C_ERROR_TYPES + k], types[k]);
    assert_int_equal(o->counters[PT_C_OVF_WORDS], 0);
    assert_int_equal(o->counters[PT_C_OVF_HITS], 0);
    /* clusters equal the host clusterizer's, in the same order */
    assert_int_equal(o->counters[PT_C_MODULES], r->cl.nmodules_active);
    assert_int_equal(o->n, r->cl.n);
    assert_int_equal(o->counters[PT_C_HITS], r->cl.n);
    uint32_t *off, *dig;
    hit_digis(o, r->d.n, &off, &dig);
    tt_assert_equal_u32(off, r->cl.offsets, r->cl.n + 1, "cluster offsets");
    tt_assert_equal_u32(dig, r->cl.digis, r->cl.offsets[r->cl.n], "cluster digis");
    tt_assert_equal_u32(o->module, r->cl.module, r->cl.n, "cluster modules");
    tt_assert_equal_u32((const uint32_t *)o->charge, (const uint32_t *)r->cl.charge, r->cl.n,
                        "cluster charges");
    for (uint32_t l = 0; l <= PT_NLAYERS; l++) {
        uint32_t want = 0;
        while (want < r->cl.n && r->cl.module[want] < trk_cms_layer_start[l])
            want++;
        assert_int_equal(o->layer_start[l], want);
    }
    free(off);
    free(dig);
}

/* Local residuals (hit − simulated crossing) of BPIX hits whose particle crosses the
 * module once; prints and checks the bias and RMS. */
static void check_vs_truth(const struct ref_event *r, const struct hits_out *o,
                           double stat[4], size_t *nstat)
{
    uint32_t *off, *dig;
    hit_digis(o, r->d.n, &off, &dig);
    int32_t *part = tt_malloc(((size_t)o->n + 1) * sizeof *part);
    assert_int_equal(trk_score_cluster_particles(r->ndigis, r->digi_particle, o->n, off, dig,
                                                 part),
                     TRK_OK);
    /* simhits per (particle, module): first index and count, by a sorted scan */
    const struct trk_truth *t = &r->t;
    for (uint32_t h = 0; h < o->n; h++) {
        uint32_t m = o->module[h];
        if (part[h] < 0 || m >= TRK_CMS_NBPIX_MODULES)
            continue;
        size_t found = 0, s_at = 0;
        for (size_t s = 0; s < t->nsimhits; s++)
            if (t->simhits[s].particle == (uint32_t)part[h] && t->simhits[s].module == m) {
                found++;
                s_at = s;
            }
        if (found != 1)
            continue;
        const struct trk_module *mod = &g_det->modules[m];
        double g[3] = {10.0 * (o->x[h] + g_cond->beamspot[0]),
                       10.0 * (o->y[h] + g_cond->beamspot[1]),
                       10.0 * (o->z[h] + g_cond->beamspot[2])},
               loc[3];
        trk_module_to_local(mod, g, loc);
        double du = loc[0] - t->simhits[s_at].local[0], dv = loc[1] - t->simhits[s_at].local[1];
        if (fabs(du) > 0.5 || fabs(dv) > 1.0)
            continue; /* merged or broken clusters: outside the resolution core */
        stat[0] += du;
        stat[1] += dv;
        stat[2] += du * du;
        stat[3] += dv * dv;
        (*nstat)++;
    }
    free(part);
    free(off);
    free(dig);
}

static void compare_devices(const struct hits_out *a, const struct hits_out *b, size_t ndigis)
{
    assert_int_equal(a->n, b->n);
    uint32_t n = a->n;
    tt_assert_equal_u32(a->module, b->module, n, "module");
    tt_assert_equal_u32((const uint32_t *)a->charge, (const uint32_t *)b->charge, n, "charge");
    tt_assert_equal_u32((const uint32_t *)a->digi_hit, (const uint32_t *)b->digi_hit, ndigis,
                        "digi_hit");
    tt_assert_equal_u32(a->layer_start, b->layer_start, PT_NLAYERS + 1, "layer_start");
    tt_assert_equal_u32(a->counters, b->counters, PT_C_N, "counters");
    size_t iphi_off = 0;
    for (uint32_t h = 0; h < n; h++) {
        assert_int_equal(a->size_x[h], b->size_x[h]);
        assert_int_equal(a->size_y[h], b->size_y[h]);
        int d = abs(a->iphi[h] - b->iphi[h]);
        if (d == 65535)
            d = 1;
        assert_true(d <= 1); /* atan2f may differ by an ulp between math libraries */
        iphi_off += d != 0;
    }
    assert_true(iphi_off <= n / 1000 + 1);
    tt_assert_close_f32(a->x, b->x, n, 1e-5f, 1e-6f, "x");
    tt_assert_close_f32(a->y, b->y, n, 1e-5f, 1e-6f, "y");
    tt_assert_close_f32(a->z, b->z, n, 1e-5f, 1e-6f, "z");
    tt_assert_close_f32(a->r, b->r, n, 1e-5f, 1e-6f, "r");
    tt_assert_close_f32(a->xerr2, b->xerr2, n, 1e-5f, 0, "xerr2");
    tt_assert_close_f32(a->yerr2, b->yerr2, n, 1e-5f, 0, "yerr2");
    tt_assert_close_f32(a->gcov, b->gcov, 6 * (size_t)n, 1e-5f, 1e-12f, "gcov");
}

static void test_local_events(void **state)
{
    (void)state;
    struct trk_pt_instance *pt = make_instance(NULL);
    bool is_cpu = strcmp(trk_device_id(tt.dev), "cpu:0") == 0;
    double stat[4] = {0};
    size_t nstat = 0;
    double stage_ms[10] = {0};
    for (int e = 0; e < NEV; e++) {
        const struct ref_event *r = &g_ev[e];
        assert_int_equal(run(pt, r->raw, r->nraw, NULL), TRK_OK);
        struct hits_out o = {0};
        read_hits(pt, r->d.n, &o);
        check_vs_reference(r, &o);
        check_vs_truth(r, &o, stat, &nstat);
        if (is_cpu && !g_have_cpu[e]) {
            g_cpu[e] = o;
            g_have_cpu[e] = true;
        } else {
            if (g_have_cpu[e])
                compare_devices(&o, &g_cpu[e], r->d.n);
            hits_out_free(&o);
        }
    }
    /* timing: each event a few times, profiled per stage */
    const int reps = 5;
    double t0 = pt_now_ms();
    for (int k = 0; k < reps; k++)
        for (int e = 0; e < NEV; e++)
            assert_int_equal(run(pt, g_ev[e].raw, g_ev[e].nraw, stage_ms), TRK_OK);
    double per_ev = (pt_now_ms() - t0) / (reps * NEV);
    double n = (double)(reps * NEV);
    print_message("%s: pt_local_run %.2f ms/event (PU 50, %zu digis, %u hits); stages 0-4: "
                  "%.2f %.2f %.2f %.2f %.2f ms\n",
                  trk_device_id(tt.dev), per_ev, g_ev[0].d.n, g_cpu[0].n, stage_ms[0] / n,
                  stage_ms[1] / n, stage_ms[2] / n, stage_ms[3] / n, stage_ms[4] / n);
    double bu = 1e3 * stat[0] / nstat, bv = 1e3 * stat[1] / nstat;
    double ru = 1e3 * sqrt(stat[2] / nstat), rv = 1e3 * sqrt(stat[3] / nstat);
    print_message("%s: BPIX local residuals of %zu hits: bias u %.2f v %.2f um, rms u %.1f "
                  "v %.1f um\n",
                  trk_device_id(tt.dev), nstat, bu, bv, ru, rv);
    assert_true(nstat > 1000);
    assert_true(fabs(bu) < 3 && fabs(bv) < 3);
    /* measured here: rms u 17.3, v 36.6 um (this digitiser's Landau tails and delta
     * rays; Patatrack's generic CPE, no templates) */
    assert_true(ru < 26 && rv < 55);
    trk_pt_instance_free(pt);
}

static void test_local_corrupt(void **state)
{
    (void)state;
    struct trk_pt_instance *pt = make_instance(NULL);
    const struct ref_event *r = &g_ev[0];
    trk_log_set_sink(tt_log_capture, NULL);
    /* truncated zstd frame */
    tt_log_text[0] = '\0';
    assert_int_equal(run(pt, r->raw, r->nraw / 2, NULL), TRK_ERR_PARSE);
    /* a flipped payload byte in a FED: CRC mismatch */
    uint8_t *fc;
    size_t nfc;
    assert_int_equal(trk_cms_raw_decompress(r->raw, r->nraw, &fc, &nfc), TRK_OK);
    fc[4 + 8 + 8 + 3] ^= 0x10; /* first payload word of the first FED */
    size_t nz;
    uint8_t *z = raw_frame(fc, nfc, &nz);
    tt_log_text[0] = '\0';
    assert_int_equal(run(pt, z, nz, NULL), TRK_ERR_PARSE);
    assert_non_null(strstr(tt_log_text, "CRC"));
    free(z);
    /* the unmodified collection through the stored-block frame: the good event again */
    fc[4 + 8 + 8 + 3] ^= 0x10;
    z = raw_frame(fc, nfc, &nz);
    assert_int_equal(run(pt, z, nz, NULL), TRK_OK);
    struct hits_out o = {0};
    read_hits(pt, r->d.n, &o);
    check_vs_reference(r, &o);
    uint32_t words_good = o.counters[PT_C_WORDS];
    hits_out_free(&o);
    free(z);
    free(fc);
    trk_log_set_sink(NULL, NULL);

    /* random payload words in every FED: counted errors, digis and clusters as the host */
    uint64_t seed = 77;
    size_t nw = 4000, per = nw / g_cond->nfeds + 2;
    uint8_t *coll = tt_malloc(4 + g_cond->nfeds * (8 + 16 + 4 * per));
    uint8_t *p = coll;
    uint32_t nf = g_cond->nfeds;
    memcpy(p, &nf, 4);
    p += 4;
    for (uint32_t f = 0; f < nf; f++) {
        uint32_t fed = g_cond->fed_ids[f], size = (uint32_t)(16 + 4 * per);
        memcpy(p, &fed, 4);
        memcpy(p + 4, &size, 4);
        uint8_t *b = p + 8;
        uint32_t hd[2] = {fed << 8, 0x5u << 28 | 1u << 24 | 7};
        memcpy(b, hd, 8);
        for (size_t i = 0; i < per; i++) {
            uint32_t w = tt_rand_u32(&seed);
            if (i % 3 == 0) /* a third with a plausible link and ROC */
                w = (w & 0x001FFFFFu) | (1u + w % 12u) << 26 | (1u + (w >> 8) % 8u) << 21;
            memcpy(b + 8 + 4 * i, &w, 4);
        }
        uint32_t tr[2] = {0x80, 0xAu << 28 | size / 8};
        memcpy(b + size - 8, tr, 8);
        tr[0] |= (uint32_t)trk_cms_fed_crc(b, size) << 16;
        memcpy(b + size - 8, tr, 8);
        p += 8 + size;
    }
    z = raw_frame(coll, (size_t)(p - coll), &nz);
    struct ref_event rr;
    memset(&rr, 0, sizeof rr);
    trk_cms_digis_init(&rr.d);
    trk_cms_clusters_init(&rr.cl);
    assert_int_equal(trk_cms_raw_decode(g_cond, z, nz, &rr.d), TRK_OK);
    assert_int_equal(trk_cms_cluster(g_cond, rr.d.n, rr.d.module, rr.d.row, rr.d.col, rr.d.adc,
                                     &rr.cl),
                     TRK_OK);
    assert_int_equal(run(pt, z, nz, NULL), TRK_OK);
    read_hits(pt, rr.d.n, &o);
    print_message("%s: random words: %zu digis, %zu errors, %zu clusters\n",
                  trk_device_id(tt.dev), rr.d.n, rr.d.nerrors, rr.cl.n);
    assert_true(rr.d.nerrors > 1000 && rr.d.n > 100);
    check_vs_reference(&rr, &o);
    hits_out_free(&o);

    /* capacities: fewer words and hits than the event has → counted, never written past */
    struct trk_pt_params small;
    trk_pt_params_default(&small);
    small.max_fed_words = 1000;
    small.max_hits = 50;
    struct trk_pt_instance *ps = make_instance(&small);
    assert_int_equal(run(ps, r->raw, r->nraw, NULL), TRK_OK);
    read_hits(ps, 0, &o);
    assert_int_equal(o.counters[PT_C_WORDS], 1000);
    assert_int_equal(o.counters[PT_C_OVF_WORDS], words_good - 1000);
    assert_true(o.n <= 50 && o.counters[PT_C_HITS] == o.n);
    assert_true(o.layer_start[PT_NLAYERS] <= 50);
    hits_out_free(&o);
    trk_pt_instance_free(ps);

    trk_cms_digis_fini(&rr.d);
    trk_cms_clusters_fini(&rr.cl);
    free(z);
    free(coll);
    trk_pt_instance_free(pt);
}

int main(void)
{
    if (setup_events() != 0) {
        fprintf(stderr, "test_pt_local: cannot generate the events\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_events),
        cmocka_unit_test(test_local_corrupt),
    };
    int fails = tt_run_on_all_devices("pt_local", tests, sizeof tests / sizeof tests[0]);
    teardown_events();
    return fails;
}
