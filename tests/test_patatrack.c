/* Patatrack end to end on every device: generated CMS PU 50 events (raw data in), tracks
 * and vertices out, scored against truth with the physics cuts (prompt charged
 * particles, pT > 0.9 GeV, |η| < 2.5, ≥ 3 clusters; CMS 75% matching), and the same
 * tracks on every device as on the CPU device. Also the "patatrack" model through the
 * algorithm interface, and corrupt raw data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"
#include "trk/algorithm.h"
#include "trk/cms.h"
#include "trk/gen.h"
#include "trk/patatrack.h"
#include "trk/score.h"

#define NEVENTS 3

static struct trk_detector *g_det;
static struct trk_cms_conditions *g_cond;
static struct trk_event g_ev[NEVENTS];

/* The CPU device's results, kept for the other devices to compare with. */
static struct trk_pt_result g_ref[NEVENTS];
static bool g_have_ref;

static int setup_all(void)
{
    if (trk_cms_detector_builtin(&g_det) != TRK_OK ||
        trk_cms_conditions_make(g_det, 1, &g_cond) != TRK_OK)
        return -1;
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.pileup = 50;
    cfg.seed = 4242;
    struct trk_truth t;
    trk_truth_init(&t);
    for (int e = 0; e < NEVENTS; e++) {
        trk_event_init(&g_ev[e], (uint64_t)e);
        struct trk_rng rng;
        trk_rng_seed(&rng, cfg.seed ^ 0x5eed0d161ull, (uint64_t)e);
        if (trk_gen_truth(&cfg, g_det, (uint64_t)e, &t) != TRK_OK ||
            trk_truth_to_event(&t, &g_ev[e]) != TRK_OK ||
            trk_cms_digitize(g_det, g_cond, &t, &rng, &g_ev[e]) != TRK_OK)
            return -1;
    }
    trk_truth_fini(&t);
    for (int e = 0; e < NEVENTS; e++)
        trk_pt_result_init(&g_ref[e]);
    return 0;
}

static const uint8_t *raw_of(int e, size_t *n)
{
    return trk_event_column(&g_ev[e], "raw_zstd", TRK_DTYPE_UINT8, 0, n);
}

static void quiet_sink(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static void assert_same_result(const struct trk_pt_result *a, const struct trk_pt_result *b)
{
    assert_int_equal(a->nhits, b->nhits);
    assert_int_equal(a->ntracks, b->ntracks);
    assert_int_equal(a->nvertices, b->nvertices);
    assert_memory_equal(a->hit_digi_offsets, b->hit_digi_offsets,
                        ((size_t)a->nhits + 1) * sizeof(uint32_t));
    assert_memory_equal(a->track_hit_offsets, b->track_hit_offsets,
                        ((size_t)a->ntracks + 1) * sizeof(uint32_t));
    assert_memory_equal(a->track_hits, b->track_hits,
                        a->track_hit_offsets[a->ntracks] * sizeof(uint32_t));
    assert_memory_equal(a->track_quality, b->track_quality, a->ntracks);
    tt_assert_close_f32(a->hit_pos, b->hit_pos, 3 * (size_t)a->nhits, 1e-5f, 1e-4f, "hit_pos");
    /* tip and zip are differences of large numbers: 0.1 µm absolute */
    tt_assert_close_f32(a->track_state, b->track_state, 5 * (size_t)a->ntracks, 1e-4f, 1e-4f,
                        "track_state");
    tt_assert_close_f32(a->track_pt, b->track_pt, a->ntracks, 1e-4f, 0, "track_pt");
    tt_assert_close_f32(a->vertex_z, b->vertex_z, a->nvertices, 1e-4f, 1e-4f, "vertex_z");
}

/* Physics on NEVENTS PU 50 events, and the same result on every device and run. */
static void test_physics(void **state)
{
    (void)state;
    struct trk_pt_instance *pt = NULL;
    assert_int_equal(trk_pt_instance_create(tt.dev, g_cond, g_det, NULL, &pt), TRK_OK);
    struct trk_score_config sc;
    trk_score_config_default(&sc);
    sc.min_pt = 0.9;
    sc.max_eta = 2.5;
    sc.min_hits = 3;
    sc.max_prod_r = 1.0; /* prompt: produced within 1 mm of the beam line */
    sc.vertex_rule = TRK_SCORE_CMS75;
    struct trk_score_result acc;
    trk_score_result_init(&acc, &sc);
    struct trk_pt_result res;
    trk_pt_result_init(&res);
    double ms = 0;
    for (int e = 0; e < NEVENTS; e++) {
        size_t n;
        const uint8_t *raw = raw_of(e, &n);
        assert_non_null(raw);
        double t0 = now_ms();
        assert_int_equal(trk_pt_run(pt, raw, n, &res, false), TRK_OK);
        ms += now_ms() - t0;
        assert_int_equal(res.counts.overflow_hits + res.counts.overflow_doublets +
                             res.counts.overflow_tuples + res.counts.overflow_vertices +
                             res.counts.overflow_words,
                         0);
        struct trk_event reco;
        trk_event_init(&reco, g_ev[e].number);
        assert_int_equal(trk_pt_result_to_event(&res, &reco), TRK_OK);
        assert_int_equal(trk_score_event(&g_ev[e], &reco, NULL, &acc), TRK_OK);
        trk_event_fini(&reco);
        if (!g_have_ref) {
            struct trk_pt_result *r = &g_ref[e];
            *r = res; /* keep the CPU result: take ownership */
            trk_pt_result_init(&res);
            /* run it again: the same result run after run */
            assert_int_equal(trk_pt_run(pt, raw, n, &res, true), TRK_OK);
            assert_same_result(&res, r);
        } else {
            assert_same_result(&res, &g_ref[e]);
        }
    }
    g_have_ref = true;
    const struct trk_score_track_counts *c = &acc.rule[TRK_SCORE_CMS75];
    double eff = trk_score_ratio(c->matched, c->particles, NULL);
    double fake = trk_score_ratio(c->fake, c->tracks, NULL);
    double dup = trk_score_ratio(c->duplicated, c->matched, NULL);
    double veff = trk_score_ratio(acc.vtx.truth_matched, acc.vtx.truth_reconstructable, NULL);
    printf("  patatrack on %s: %d PU 50 events, %.1f ms/event; %llu tracks; efficiency %.4f "
           "(%llu/%llu), fake rate %.4f, duplicate rate %.4f; vertices %llu, vertex "
           "efficiency %.3f\n",
           trk_device_id(tt.dev), NEVENTS, ms / NEVENTS, (unsigned long long)c->tracks, eff,
           (unsigned long long)c->matched, (unsigned long long)c->particles, fake, dup,
           (unsigned long long)acc.vtx.reco, veff);
    /* The targets; the test fails when the physics regresses below them. */
    assert_true(c->particles > 100);
    assert_true(eff >= 0.90);
    assert_true(fake <= 0.05);
    assert_true(dup <= 0.02);
    assert_true(veff >= 0.5);
    trk_pt_result_fini(&res);
    trk_pt_instance_free(pt);
}

/* Corrupt and random raw data: rejected (TRK_ERR_PARSE) or processed, never a crash,
 * and the instance still gives the right answer afterwards. */
static void test_corrupt(void **state)
{
    (void)state;
    struct trk_pt_instance *pt = NULL;
    assert_int_equal(trk_pt_instance_create(tt.dev, g_cond, g_det, NULL, &pt), TRK_OK);
    struct trk_pt_result res;
    trk_pt_result_init(&res);
    size_t n;
    const uint8_t *raw = raw_of(0, &n);
    uint8_t *bad = tt_malloc(n);
    trk_log_set_sink(quiet_sink, NULL);
    /* truncated */
    for (size_t cut = 0; cut < n; cut += n / 7 + 1)
        assert_int_equal(trk_pt_run(pt, raw, cut, &res, false), TRK_ERR_PARSE);
    /* random bytes */
    uint64_t s = 99;
    for (size_t i = 0; i < n; i++)
        bad[i] = (uint8_t)tt_rand_u32(&s);
    assert_int_equal(trk_pt_run(pt, bad, n, &res, false), TRK_ERR_PARSE);
    /* flipped bytes inside the frame: the zstd checksum or the FED CRC rejects it */
    for (int k = 0; k < 5; k++) {
        memcpy(bad, raw, n);
        bad[n / 2 + (size_t)k * 97] ^= 0x5a;
        enum trk_status st = trk_pt_run(pt, bad, n, &res, false);
        assert_true(st == TRK_ERR_PARSE || st == TRK_OK);
    }
    trk_log_set_sink(NULL, NULL);
    /* still right */
    assert_int_equal(trk_pt_run(pt, raw, n, &res, false), TRK_OK);
    if (g_have_ref)
        assert_same_result(&res, &g_ref[0]);
    free(bad);
    trk_pt_result_fini(&res);
    trk_pt_instance_free(pt);
}

/* The model: the same tracks through the algorithm interface as from trk_pt_run. */
static void test_model(void **state)
{
    (void)state;
    const struct trk_algorithm *a = trk_algorithm_find("patatrack");
    assert_non_null(a);
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(slash, sizeof path - (size_t)(slash - path),
             "/../config/examples/models/patatrack/config.cfg");
    struct trk_model_config *cfg = NULL;
    char err[TRK_ALGORITHM_ERR_MAX] = "";
    assert_int_equal(trk_model_config_load(path, &cfg, err, sizeof err), TRK_OK);
    assert_int_equal(a->check(cfg, err, sizeof err), TRK_OK);
    /* The example model makes the conditions of seed 1, as g_cond. */
    void *inst = NULL;
    assert_int_equal(a->init(cfg, "/nonexistent", tt.dev, &inst, err, sizeof err), TRK_OK);
    size_t n;
    const uint8_t *raw = raw_of(1, &n);
    struct trk_tensor *in = NULL;
    int64_t shape[1] = {(int64_t)n};
    assert_int_equal(trk_tensor_wrap("raw_zstd", TRK_DTYPE_UINT8, 1, shape, (void *)raw, n, &in),
                     TRK_OK);
    struct trk_tensor *outs[16] = {0};
    const struct trk_tensor *ins[1] = {in};
    assert_int_equal(a->execute(inst, ins, 1, outs, cfg->noutputs, NULL, err, sizeof err),
                     TRK_OK);
    if (g_have_ref) {
        const struct trk_pt_result *r = &g_ref[1];
        for (uint32_t j = 0; j < cfg->noutputs; j++) {
            if (!strcmp(outs[j]->name, "TRACK_HITS"))
                assert_memory_equal(outs[j]->data, r->track_hits,
                                    r->track_hit_offsets[r->ntracks] * sizeof(uint32_t));
            if (!strcmp(outs[j]->name, "TRACK_PARAMS"))
                assert_int_equal(outs[j]->shape[0], r->ntracks);
        }
    }
    for (uint32_t j = 0; j < cfg->noutputs; j++)
        trk_tensor_free(outs[j]);
    /* bad request: not raw data */
    uint8_t junk[64] = {1, 2, 3};
    struct trk_tensor *jt = NULL;
    shape[0] = sizeof junk;
    assert_int_equal(trk_tensor_wrap("raw_zstd", TRK_DTYPE_UINT8, 1, shape, junk, sizeof junk, &jt),
                     TRK_OK);
    ins[0] = jt;
    trk_log_set_sink(quiet_sink, NULL);
    assert_int_equal(a->execute(inst, ins, 1, outs, cfg->noutputs, NULL, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    assert_non_null(strstr(err, "raw_zstd"));
    trk_tensor_free(jt);
    trk_tensor_free(in);
    a->fini(inst);
    trk_model_config_free(cfg);
}

int main(void)
{
    if (setup_all() != 0) {
        fprintf(stderr, "test_patatrack: cannot generate the events\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_physics),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_model),
    };
    int rc = tt_run_on_all_devices("patatrack", tests, sizeof tests / sizeof tests[0]);
    for (int e = 0; e < NEVENTS; e++) {
        trk_pt_result_fini(&g_ref[e]);
        trk_event_fini(&g_ev[e]);
    }
    trk_cms_conditions_free(g_cond);
    trk_detector_free(g_det);
    return rc;
}
