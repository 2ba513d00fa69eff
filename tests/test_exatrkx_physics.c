/* Exa.TrkX physics with the committed weights on the CPU device: simulated μ=200 TrackML
 * events (TrackML score, double-majority efficiency for pT > 1 GeV and >= 5 hits, fake
 * rate), the real TrackML events in $TRK_DATA_DIR/trackml (skipped with a message when
 * absent), and the "exatrkx" model's interface (trk/algorithm.h): config checks, weights
 * errors and bad requests answered with clear errors. Every figure is printed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"
#include "trk/algorithm.h"
#include "trk/data.h"
#include "trk/exatrkx.h"
#include "trk/gen.h"
#include "trk/model_config.h"
#include "trk/score.h"
#include "trk/trackml.h"
#include "trk/trackml_csv.h"

/* The goals, printed beside every figure. */
#define SIM_GOAL_TRACKML 0.85  /* TrackML score, simulated μ=200 */
#define SIM_GOAL_EFF 0.95      /* double-majority efficiency, pT > 1 GeV, >= 5 hits */
#define REAL_GOAL_TRACKML 0.80 /* TrackML score of each real event */
/* What the committed weights reach, less a margin (MODEL_CARD.md has the measured
 * figures): the test fails when the inference or the weights regress below these. Raise
 * them with every better set of weights; the goals above are not reached yet. */
#define SIM_MIN_TRACKML 0.45   /* measured 0.496 */
#define SIM_MIN_EFF 0.68       /* measured 0.724 */
#define REAL_MIN_TRACKML_0 0.63 /* event000000001: measured 0.693 */
#define REAL_MIN_TRACKML_1 0.70 /* event000001000-barrel10: measured 0.766 */
#define SIM_EVENTS 1
#define SIM_PILEUP 200.0
#define SIM_SEED 5001          /* distinct from the training sets' seeds (data.py) */
#define SCORE_MIN_PT 1.0
#define SCORE_MIN_HITS 5

static struct trk_registry *g_reg;
static struct trk_device *g_cpu;
static struct trk_ex_weights *g_w;
static struct trk_ex_instance *g_ex;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* <source dir>/rel, found from this file's path. */
static void source_path(const char *rel, char *buf, size_t len)
{
    snprintf(buf, len, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    assert_non_null(slash);
    snprintf(slash, len - (size_t)(slash - buf), "/../%s", rel);
}

static void quiet_sink(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

static int setup(void **state)
{
    (void)state;
    struct trk_registry_options ro = {.cpu_threads = 2};
    char path[4096], err[512] = "";
    if (trk_registry_open(&ro, &g_reg) != TRK_OK || trk_registry_select(g_reg, "cpu", &g_cpu)) {
        fprintf(stderr, "cannot open the CPU device\n");
        return -1;
    }
    source_path("config/examples/models/exatrkx/1/exatrkx.safetensors", path, sizeof path);
    enum trk_status st = trk_ex_weights_load(path, &g_w, err, sizeof err);
    if (st != TRK_OK) {
        fprintf(stderr, "cannot load the committed weights %s: %s (%s)\n", path, err,
                trk_status_str(st));
        return -1;
    }
    struct trk_ex_params p;
    trk_ex_params_default(&p, g_w);
    printf("weights %s: radius %g, knn %u, filter_cut %g, edge_cut %g, min_hits %u, "
           "junction_removal %s\n",
           path, p.radius, p.knn, p.filter_cut, p.edge_cut, p.min_hits,
           p.junction_removal ? "true" : "false");
    if (trk_ex_instance_create(g_cpu, g_w, &p, &g_ex) != TRK_OK) {
        fprintf(stderr, "cannot create the exatrkx instance on the CPU device\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trk_ex_instance_free(g_ex);
    trk_ex_weights_free(g_w);
    trk_registry_close(g_reg);
    return 0;
}

/* Runs the tracker on ev's hit_pos, adds reco_hit_track to a reco event, scores it into
 * acc (pT > 1 GeV, >= 5 hits), and prints the event's line. */
static void run_and_score(const char *what, const struct trk_event *ev,
                          struct trk_score_result *acc)
{
    size_t n;
    const float *pos = trk_event_column(ev, "hit_pos", TRK_DTYPE_FP32, 3, &n);
    assert_non_null(pos);
    float *xyz = tt_malloc(3 * (n + 1) * sizeof(float));
    float *feat = tt_malloc(3 * (n + 1) * sizeof(float));
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            xyz[(size_t)k * n + i] = pos[3 * i + (size_t)k];
    trk_ex_features(xyz, xyz + n, xyz + 2 * n, n, feat);
    struct trk_ex_result res;
    trk_ex_result_init(&res);
    char err[512] = "";
    double t0 = now_s();
    enum trk_status st = trk_ex_run(g_ex, feat, (uint32_t)n, &res, false, false, err, sizeof err);
    double ms = 1e3 * (now_s() - t0);
    if (st != TRK_OK)
        fail_msg("%s: trk_ex_run: %s (%s)", what, err, trk_status_str(st));
    assert_int_equal(res.nhits, n);
    struct trk_event reco;
    trk_event_init(&reco, ev->number);
    int32_t *ht = NULL;
    assert_int_equal(trk_event_add_column(&reco, "reco_hit_track", TRK_DTYPE_INT32, n, 0,
                                          (void **)&ht),
                     TRK_OK);
    for (size_t i = 0; i < n; i++) {
        assert_true(res.labels[i] >= -1 && res.labels[i] < (int64_t)res.ntracks);
        ht[i] = (int32_t)res.labels[i];
    }
    struct trk_score_result one;
    trk_score_result_init(&one, &acc->cfg);
    assert_int_equal(trk_score_event(ev, &reco, NULL, &one), TRK_OK);
    const struct trk_score_track_counts *dm = &one.rule[TRK_SCORE_DOUBLE_MAJORITY];
    printf("%s: %zu hits, edges graph %u / filter %u / tracks %u, %u tracks, %.0f ms; "
           "TrackML %.4f, DM efficiency %.4f (%llu/%llu), fake rate %.4f (%llu/%llu)\n",
           what, n, res.nedges_graph, res.nedges_filter, res.nedges_track, res.ntracks, ms,
           one.trackml_events ? one.trackml_norm_sum : 0.,
           trk_score_ratio(dm->matched, dm->particles, NULL),
           (unsigned long long)dm->matched, (unsigned long long)dm->particles,
           trk_score_ratio(dm->fake, dm->tracks, NULL), (unsigned long long)dm->fake,
           (unsigned long long)dm->tracks);
    trk_score_result_add(acc, &one);
    trk_event_fini(&reco);
    trk_ex_result_fini(&res);
    free(xyz);
    free(feat);
}

static void score_cfg(struct trk_score_config *sc)
{
    trk_score_config_default(sc);
    sc->min_pt = SCORE_MIN_PT;
    sc->min_hits = SCORE_MIN_HITS;
}

/* ---- simulated μ=200 events --------------------------------------------------------- */

static void test_simulated(void **state)
{
    (void)state;
    struct trk_detector *det = NULL;
    assert_int_equal(trk_trackml_detector_builtin(&det), TRK_OK);
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_TRACKML);
    cfg.pileup = SIM_PILEUP;
    cfg.seed = SIM_SEED;
    struct trk_score_config sc;
    score_cfg(&sc);
    struct trk_score_result acc;
    trk_score_result_init(&acc, &sc);
    struct trk_truth t;
    trk_truth_init(&t);
    for (uint64_t e = 0; e < SIM_EVENTS; e++) {
        struct trk_event ev;
        trk_event_init(&ev, e);
        struct trk_rng rng;
        trk_rng_seed(&rng, cfg.seed ^ 0x5eed0d161ull, e); /* as trk gen */
        assert_int_equal(trk_gen_truth(&cfg, det, e, &t), TRK_OK);
        assert_int_equal(trk_truth_to_event(&t, &ev), TRK_OK);
        assert_int_equal(trk_trackml_digitize(det, &t, &rng, &ev), TRK_OK);
        char what[64];
        snprintf(what, sizeof what, "simulated mu=%.0f event %llu", SIM_PILEUP,
                 (unsigned long long)e);
        run_and_score(what, &ev, &acc);
        trk_event_fini(&ev);
    }
    trk_truth_fini(&t);
    trk_detector_free(det);
    const struct trk_score_track_counts *dm = &acc.rule[TRK_SCORE_DOUBLE_MAJORITY];
    assert_int_equal(acc.trackml_events, SIM_EVENTS);
    double score = acc.trackml_norm_sum / (double)acc.trackml_events; /* as trk score */
    double eff = trk_score_ratio(dm->matched, dm->particles, NULL);
    double fake = trk_score_ratio(dm->fake, dm->tracks, NULL);
    printf("simulated mu=%.0f, %d events: TrackML score %.4f (goal >= %.2f), double-majority "
           "efficiency %.4f (goal >= %.2f; pT > %.1f GeV, >= %d hits), fake rate %.4f, "
           "duplicate rate %.4f; floors %.3f / %.3f\n",
           SIM_PILEUP, SIM_EVENTS, score, SIM_GOAL_TRACKML, eff, SIM_GOAL_EFF, SCORE_MIN_PT,
           SCORE_MIN_HITS, fake, trk_score_ratio(dm->duplicated, dm->matched, NULL),
           SIM_MIN_TRACKML, SIM_MIN_EFF);
    assert_true(score >= SIM_MIN_TRACKML);
    assert_true(eff >= SIM_MIN_EFF);
}

/* ---- the real TrackML events ---------------------------------------------------------- */

static void test_real(void **state)
{
    (void)state;
    static const char *const events[] = {"trackml/event000000001/event000000001",
                                         "trackml/event000001000-barrel10/event000001000"};
    char path[4096];
    if (!trk_data_path("trackml", path, sizeof path)) {
        printf("skipped: reference data not found at %s\n", path);
        skip();
    }
    int failed = 0;
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        trk_data_path(events[i], path, sizeof path);
        struct trk_event ev;
        enum trk_status st = trk_trackml_read(path, &ev);
        if (st == TRK_ERR_NOT_FOUND) {
            printf("skipped %s: not found\n", path);
            continue;
        }
        assert_int_equal(st, TRK_OK);
        struct trk_score_config sc;
        score_cfg(&sc);
        struct trk_score_result acc;
        trk_score_result_init(&acc, &sc);
        run_and_score(events[i], &ev, &acc);
        assert_int_equal(acc.trackml_events, 1);
        double score = acc.trackml_norm_sum;
        double floor = i == 0 ? REAL_MIN_TRACKML_0 : REAL_MIN_TRACKML_1;
        printf("%s: TrackML score %.4f normalised by the weights present (goal >= %.2f, "
               "floor %.2f)\n",
               events[i], score, REAL_GOAL_TRACKML, floor);
        failed += score < floor;
        trk_event_fini(&ev);
    }
    assert_int_equal(failed, 0);
}

/* ---- the "exatrkx" model ---------------------------------------------------------------- */

#define MODEL_CFG(io, params)                                                                \
    "name = \"exatrkx\"; algorithm = \"exatrkx\"; max_batch_size = 0;\n" io                 \
    "parameters = { " params " };\n"
#define GOOD_IO                                                                             \
    "input = ({ name = \"FEATURES\"; data_type = \"TYPE_FP32\"; dims = [ -1, 3 ]; });\n"    \
    "output = ({ name = \"LABELS\"; data_type = \"TYPE_INT64\"; dims = [ -1 ]; });\n"

/* check() on config text: returns its status, err gets its message. */
static enum trk_status check_text(const char *text, char *err, size_t len)
{
    const struct trk_algorithm *a = trk_algorithm_find("exatrkx");
    assert_non_null(a);
    struct trk_model_config *c = NULL;
    char perr[512];
    if (trk_model_config_parse(text, NULL, &c, perr, sizeof perr) != TRK_OK)
        fail_msg("config does not parse: %s", perr);
    err[0] = '\0';
    trk_log_set_sink(quiet_sink, NULL);
    enum trk_status st = a->check(c, err, len);
    trk_log_set_sink(NULL, NULL);
    trk_model_config_free(c);
    return st;
}

static void test_model_check(void **state)
{
    (void)state;
    char err[TRK_ALGORITHM_ERR_MAX];
    assert_int_equal(check_text(MODEL_CFG(GOOD_IO, "radius = 0.2;"), err, sizeof err), TRK_OK);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {MODEL_CFG("input = ({ name = \"FEATURES\"; data_type = \"TYPE_FP32\"; dims = [ -1, 4 ]; "
                   "});\noutput = ({ name = \"LABELS\"; data_type = \"TYPE_INT64\"; dims = [ -1 "
                   "]; });\n", ""),
         "FEATURES"},
        {MODEL_CFG("input = ({ name = \"FEATURES\"; data_type = \"TYPE_FP32\"; dims = [ -1, 3 ]; "
                   "});\noutput = ({ name = \"LABELS\"; data_type = \"TYPE_INT32\"; dims = [ -1 "
                   "]; });\n", ""),
         "LABELS"},
        {MODEL_CFG(GOOD_IO, "radius = -1.0;"), "radius"},
        {MODEL_CFG(GOOD_IO, "radius = \"abc\";"), "radius"},
        {MODEL_CFG(GOOD_IO, "edge_cut = 1.5;"), "edge_cut"},
        {MODEL_CFG(GOOD_IO, "filter_cut = 0.0;"), "filter_cut"},
        {MODEL_CFG(GOOD_IO, "knn = 0;"), "knn"},
        {MODEL_CFG(GOOD_IO, "min_hits = \"x\";"), "min_hits"},
        {MODEL_CFG(GOOD_IO, "max_hits = 0;"), "max_hits"},
        {MODEL_CFG(GOOD_IO, "junction_removal = \"maybe\";"), "junction_removal"},
        {MODEL_CFG(GOOD_IO, "weights = \"../x.safetensors\";"), "weights"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check_text(bad[i].text, err, sizeof err) != TRK_ERR_INVALID_ARG)
            fail_msg("case %zu accepted:\n%s", i, bad[i].text);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: message '%s' does not name '%s'", i, err, bad[i].want);
    }
    /* batching is refused */
    const char *batched = "name = \"exatrkx\"; algorithm = \"exatrkx\"; max_batch_size = 4;\n"
                          "input = ({ name = \"FEATURES\"; data_type = \"TYPE_FP32\"; dims = "
                          "[ -1, 3 ]; });\noutput = ({ name = \"LABELS\"; data_type = "
                          "\"TYPE_INT64\"; dims = [ -1 ]; });\n";
    assert_int_equal(check_text(batched, err, sizeof err), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "max_batch_size"));
}

/* Runs execute on a FEATURES tensor of n rows (data: 3n floats); returns its status. */
static enum trk_status execute_rows(const struct trk_algorithm *a, void *inst, uint32_t ndim,
                                    int64_t rows, int64_t cols, float *data,
                                    struct trk_tensor **out, char *err, size_t len)
{
    struct trk_tensor *in = NULL;
    int64_t shape[2] = {rows, cols};
    size_t nb = (size_t)(rows * (ndim == 2 ? cols : 1)) * sizeof(float);
    assert_int_equal(trk_tensor_wrap("FEATURES", TRK_DTYPE_FP32, ndim, shape, data, nb, &in),
                     TRK_OK);
    const struct trk_tensor *ins[1] = {in};
    err[0] = '\0';
    trk_log_set_sink(quiet_sink, NULL);
    enum trk_status st = a->execute(inst, ins, 1, out, 1, NULL, err, len);
    trk_log_set_sink(NULL, NULL);
    trk_tensor_free(in);
    return st;
}

static void test_model_execute(void **state)
{
    (void)state;
    const struct trk_algorithm *a = trk_algorithm_find("exatrkx");
    assert_non_null(a);
    char path[4096], vdir[4096], err[TRK_ALGORITHM_ERR_MAX] = "";
    source_path("config/examples/models/exatrkx/config.cfg", path, sizeof path);
    source_path("config/examples/models/exatrkx/1", vdir, sizeof vdir);
    struct trk_model_config *cfg = NULL;
    assert_int_equal(trk_model_config_load(path, &cfg, err, sizeof err), TRK_OK);
    assert_int_equal(a->check(cfg, err, sizeof err), TRK_OK);

    /* a version folder without the weights: the error names the file */
    void *inst = NULL;
    trk_log_set_sink(quiet_sink, NULL);
    enum trk_status st = a->init(cfg, "/nonexistent", g_cpu, &inst, err, sizeof err);
    trk_log_set_sink(NULL, NULL);
    assert_int_not_equal(st, TRK_OK);
    assert_null(inst);
    printf("missing weights: %s\n", err);
    assert_non_null(strstr(err, "/nonexistent/exatrkx.safetensors"));

    assert_int_equal(a->init(cfg, vdir, g_cpu, &inst, err, sizeof err), TRK_OK);
    assert_true(a->memory_bytes(inst) > 0);

    /* a small event: the labels equal trk_ex_run's on the same features */
    struct trk_detector *det = NULL;
    assert_int_equal(trk_trackml_detector_builtin(&det), TRK_OK);
    struct trk_gen_config gc;
    trk_gen_config_default(&gc, TRK_DETECTOR_TRACKML);
    gc.pileup = 5;
    gc.seed = SIM_SEED + 1;
    struct trk_truth t;
    trk_truth_init(&t);
    struct trk_event ev;
    trk_event_init(&ev, 0);
    struct trk_rng rng;
    trk_rng_seed(&rng, 1, 0);
    assert_int_equal(trk_gen_truth(&gc, det, 0, &t), TRK_OK);
    assert_int_equal(trk_truth_to_event(&t, &ev), TRK_OK);
    assert_int_equal(trk_trackml_digitize(det, &t, &rng, &ev), TRK_OK);
    size_t n;
    const float *pos = trk_event_column(&ev, "hit_pos", TRK_DTYPE_FP32, 3, &n);
    assert_non_null(pos);
    float *xyz = tt_malloc(3 * n * sizeof(float)), *feat = tt_malloc(3 * n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            xyz[(size_t)k * n + i] = pos[3 * i + (size_t)k];
    trk_ex_features(xyz, xyz + n, xyz + 2 * n, n, feat);
    struct trk_tensor *out = NULL;
    assert_int_equal(execute_rows(a, inst, 2, (int64_t)n, 3, feat, &out, err, sizeof err),
                     TRK_OK);
    assert_string_equal(out->name, "LABELS");
    assert_int_equal(out->dtype, TRK_DTYPE_INT64);
    assert_int_equal(out->ndim, 1);
    assert_int_equal(out->shape[0], (int64_t)n);
    struct trk_ex_result res;
    trk_ex_result_init(&res);
    assert_int_equal(trk_ex_run(g_ex, feat, (uint32_t)n, &res, false, false, err, sizeof err),
                     TRK_OK);
    assert_memory_equal(out->data, res.labels, n * sizeof(int64_t));
    printf("model: %zu hits -> %u tracks, same labels as trk_ex_run\n", n, res.ntracks);
    trk_tensor_free(out);
    out = NULL;

    /* no hits: an empty answer */
    assert_int_equal(execute_rows(a, inst, 2, 0, 3, feat, &out, err, sizeof err), TRK_OK);
    assert_int_equal(out->shape[0], 0);
    trk_tensor_free(out);
    out = NULL;

    /* NaN and infinity: 400 with the row named */
    float keep = feat[3 * 7 + 1];
    feat[3 * 7 + 1] = NAN;
    assert_int_equal(execute_rows(a, inst, 2, (int64_t)n, 3, feat, &out, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_null(out);
    printf("NaN: %s\n", err);
    assert_non_null(strstr(err, "FEATURES"));
    feat[3 * 7 + 1] = INFINITY;
    assert_int_equal(execute_rows(a, inst, 2, (int64_t)n, 3, feat, &out, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    feat[3 * 7 + 1] = keep;

    /* wrong shapes */
    assert_int_equal(execute_rows(a, inst, 2, (int64_t)n, 2, feat, &out, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    printf("wrong shape: %s\n", err);
    assert_non_null(strstr(err, "[-1,3]"));
    assert_int_equal(execute_rows(a, inst, 1, (int64_t)n, 0, feat, &out, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_null(out);

    /* an event beyond max_hits: OVERFLOW naming the parameter */
    struct trk_model_config *small = NULL;
    char text[2048];
    snprintf(text, sizeof text, "%s", MODEL_CFG(GOOD_IO, "max_hits = 100;"));
    assert_int_equal(trk_model_config_parse(text, NULL, &small, err, sizeof err), TRK_OK);
    void *inst2 = NULL;
    assert_int_equal(a->init(small, vdir, g_cpu, &inst2, err, sizeof err), TRK_OK);
    assert_true(n > 100);
    assert_int_equal(execute_rows(a, inst2, 2, (int64_t)n, 3, feat, &out, err, sizeof err),
                     TRK_ERR_OVERFLOW);
    printf("too large: %s\n", err);
    assert_non_null(strstr(err, "max_hits"));
    a->fini(inst2);
    trk_model_config_free(small);

    trk_ex_result_fini(&res);
    free(xyz);
    free(feat);
    trk_event_fini(&ev);
    trk_truth_fini(&t);
    trk_detector_free(det);
    a->fini(inst);
    trk_model_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_check),
        cmocka_unit_test(test_model_execute),
        cmocka_unit_test(test_simulated),
        cmocka_unit_test(test_real),
    };
    return cmocka_run_group_tests_name("exatrkx_physics", tests, setup, teardown);
}
