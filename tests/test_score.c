/* Scoring (trk/score.h): hand-computed cases for every rule, the event layer, the
 * writers, and the TrackML reference events (perfect, one-hit and scrambled tracks). */
#include "test_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trk/data.h"
#include "trk/event.h"
#include "trk/score.h"
#include "trk/trackml_csv.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void capture_log(void)
{
    tt_log_text[0] = '\0';
    trk_log_set_sink(tt_log_capture, NULL);
}

static void release_log(void)
{
    trk_log_set_sink(NULL, NULL);
}

/* Adds a column holding a copy of data (n rows of width values; width 0: 1-D). */
static void add_col(struct trk_event *ev, const char *name, enum trk_dtype dt, size_t n,
                    uint32_t width, const void *data)
{
    void *dst = NULL;
    assert_int_equal(trk_event_add_column(ev, name, dt, n, width, &dst), TRK_OK);
    size_t bytes = n * (width ? width : 1) * trk_dtype_size(dt);
    if (bytes)
        memcpy(dst, data, bytes);
}

/* ---- TrackML score ------------------------------------------------------------ */

/* 10 hits: p0 x4 (w .1), p1 x3 (w .2), p2 x2 (w .3), one noise hit (w 0).
 * label 5 = {h0,h1,h2 (p0), h4 (p1)}: 3/4 of the track, 3/4 of p0     → +0.3
 * label 7 = {h3 (p0), h5,h6 (p1)}:    2/3 of the track, 2/3 of p1     → +0.4
 * label 2 = {h7 (p2), h9 (noise)}:    tie, 1/2 is not a majority      → 0
 * h8 unassigned. Score 0.7 of total weight 1.6. */
static const int32_t T_HP[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, -1};
static const float T_W[] = {.1f, .1f, .1f, .1f, .2f, .2f, .2f, .3f, .3f, 0.f};
static const int32_t T_LAB[] = {5, 5, 5, 7, 5, 7, 7, 2, -1, 2};

static void test_trackml_weights(void **state)
{
    (void)state;
    double s = -1, w = -1;
    assert_int_equal(trk_score_trackml(N(T_HP), T_HP, T_W, T_LAB, &s, &w), TRK_OK);
    assert_true(fabs(s - 0.7) < 1e-6);
    assert_true(fabs(w - 1.6) < 1e-6);
    /* Unit weights: 1 per non-noise hit: 3 + 2 of 9. */
    assert_int_equal(trk_score_trackml(N(T_HP), T_HP, NULL, T_LAB, &s, &w), TRK_OK);
    assert_true(s == 5.0 && w == 9.0);
    /* Nothing assigned scores 0. */
    int32_t none[N(T_HP)];
    for (size_t i = 0; i < N(none); i++)
        none[i] = -1;
    assert_int_equal(trk_score_trackml(N(T_HP), T_HP, T_W, none, &s, &w), TRK_OK);
    assert_true(s == 0.0 && fabs(w - 1.6) < 1e-6);
}

/* Exactly 50% on either side does not count (both comparisons are strict). */
static void test_trackml_strict_half(void **state)
{
    (void)state;
    double s, w;
    /* Track purity exactly 1/2: {p0,p0,p1,p1}, every particle fully inside. */
    const int32_t hp1[] = {0, 0, 1, 1};
    const int32_t lab1[] = {0, 0, 0, 0};
    assert_int_equal(trk_score_trackml(4, hp1, NULL, lab1, &s, &w), TRK_OK);
    assert_true(s == 0.0);
    /* Particle purity exactly 1/2: p0 has 4 hits, the track holds 2 (and nothing else). */
    const int32_t hp2[] = {0, 0, 0, 0};
    const int32_t lab2[] = {0, 0, 1, 1};
    assert_int_equal(trk_score_trackml(4, hp2, NULL, lab2, &s, &w), TRK_OK);
    assert_true(s == 0.0);
    /* 3 of 4 is enough: track {h0,h1,h2} scores 3. */
    const int32_t lab3[] = {0, 0, 0, 1};
    assert_int_equal(trk_score_trackml(4, hp2, NULL, lab3, &s, &w), TRK_OK);
    assert_true(s == 3.0 && w == 4.0);
    /* 3 of 5 of the track (60%) and 3 of 3 of the particle: counts. */
    const int32_t hp4[] = {0, 0, 0, 1, 2};
    const int32_t lab4[] = {9, 9, 9, 9, 9};
    assert_int_equal(trk_score_trackml(5, hp4, NULL, lab4, &s, &w), TRK_OK);
    assert_true(s == 3.0);
}

/* Noise belongs to no particle: a noise-majority track scores 0 even when the rest
 * is a whole particle and the noise hits carry weight; noise hits never score. */
static void test_trackml_noise(void **state)
{
    (void)state;
    double s, w;
    const int32_t hp[] = {-1, -1, -1, 0, 0};
    const float wt[] = {1.f, 1.f, 1.f, .5f, .5f};
    const int32_t lab[] = {0, 0, 0, 0, 0};
    assert_int_equal(trk_score_trackml(5, hp, wt, lab, &s, &w), TRK_OK);
    assert_true(s == 0.0 && w == 4.0);
    /* A pure-noise track next to a pure particle track: only the particle scores. */
    const int32_t lab2[] = {1, 1, 1, 0, 0};
    assert_int_equal(trk_score_trackml(5, hp, wt, lab2, &s, &w), TRK_OK);
    assert_true(s == 1.0);

    capture_log();
    const int32_t bad[] = {-2, 0};
    const int32_t l[] = {0, 0};
    assert_int_equal(trk_score_trackml(2, bad, NULL, l, &s, &w), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "hit_particle[0] = -2"));
    const int32_t hp2[] = {0, 0};
    const int32_t l2[] = {0, -5};
    assert_int_equal(trk_score_trackml(2, hp2, NULL, l2, &s, &w), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "hit_track[1] = -5"));
    release_log();
}

/* ---- track representations and matching ---------------------------------------- */

static void test_labels(void **state)
{
    (void)state;
    const int32_t lab[] = {5, -1, 2, 5, 2, 100};
    size_t nt = 0;
    uint32_t *off = NULL, *hits = NULL;
    int32_t *labels = NULL;
    assert_int_equal(trk_score_tracks_from_labels(6, lab, &nt, &off, &hits, &labels), TRK_OK);
    assert_int_equal(nt, 3);
    const uint32_t want_off[] = {0, 2, 4, 5}, want_hits[] = {2, 4, 0, 3, 5};
    tt_assert_equal_u32(off, want_off, 4, "offsets");
    tt_assert_equal_u32(hits, want_hits, 5, "hits");
    assert_int_equal(labels[0], 2);
    assert_int_equal(labels[1], 5);
    assert_int_equal(labels[2], 100);

    int32_t back[6];
    assert_int_equal(trk_score_labels_from_tracks(6, nt, off, hits, back), TRK_OK);
    const int32_t want_back[] = {1, -1, 0, 1, 0, 2};
    assert_memory_equal(back, want_back, sizeof back);
    free(off);
    free(hits);
    free(labels);

    /* Shared hit: refused without a log line. */
    const uint32_t soff[] = {0, 2, 4}, shits[] = {0, 1, 1, 2};
    capture_log();
    assert_int_equal(trk_score_labels_from_tracks(3, 2, soff, shits, back), TRK_ERR_INVALID_ARG);
    assert_string_equal(tt_log_text, "");
    /* Bad labels are errors. */
    const int32_t bad[] = {0, -3};
    assert_int_equal(trk_score_tracks_from_labels(2, bad, &nt, &off, &hits, NULL),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "hit_track[1] = -3"));
    release_log();

    /* No hits: no tracks. */
    assert_int_equal(trk_score_tracks_from_labels(0, NULL, &nt, &off, &hits, NULL), TRK_OK);
    assert_int_equal(nt, 0);
    assert_int_equal(off[0], 0);
    free(off);
    free(hits);
}

/* The tracks/particles of test_match and test_track_counts (all hand-computed):
 *  p0 q+1 pT 1   η 0     4 hits h0-h3   reconstructable
 *  p1 q 0 pT 2   η 0     3 hits h4-h6   neutral
 *  p2 q-1 pT 0.3 η 0     3 hits h7-h9   below min_pt (in the pT histogram only)
 *  p3 q+1 pT 5   η 0     2 hits h10-11  below min_hits
 *  p4 q+1 pT 2   η 1.25  3 hits h12-14  reconstructable
 *  noise h15, h16
 *  T0 {h0,h1,h2,h15}  p0 3/4          DM p0 (3/4, 3/4)   CMS p0 (75% exactly)
 *  T1 {h1,h2,h3}      p0 3/3          DM p0              CMS p0   → p0 duplicated
 *  T2 {h12,h13,h4,h5} tie p1/p4 → p1  fake               fake
 *  T3 {h15,h16,h7}    noise           fake               fake
 *  T4 {h12,h13,h14,h7,h8} p4 3/5      DM p4 (60%, 3/3)   fake (60% < 75%)
 *  T5 {h7,h8,h9}      p2 3/3          DM p2              CMS p2 (not reconstructable)
 *  T6 {}              empty           fake               fake */
static const int32_t M_HP[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, -1, -1};
static const uint32_t M_OFF[] = {0, 4, 7, 11, 14, 19, 22, 22};
static const uint32_t M_HITS[] = {0, 1, 2, 15, 1, 2, 3, 12, 13, 4, 5, 15, 16, 7,
                                  12, 13, 14, 7, 8, 7, 8, 9};
#define M_NT 7
#define M_NP 5
static const int32_t M_Q[M_NP] = {1, 0, -1, 1, 1};
static float M_P[M_NP * 3];

static void init_m_p(void)
{
    const float p[M_NP * 3] = {1, 0, 0, 2, 0, 0, 0.3f, 0, 0, 5, 0, 0,
                               0, 2, (float)(2.0 * sinh(1.25))};
    memcpy(M_P, p, sizeof p);
}

static void test_match(void **state)
{
    (void)state;
    struct trk_score_track_match m[M_NT];
    assert_int_equal(trk_score_match_tracks(N(M_HP), M_HP, M_NP, M_NT, M_OFF, M_HITS, m),
                     TRK_OK);
    const int32_t want_p[M_NT] = {0, 0, 1, -1, 4, 2, -1};
    const uint32_t want_n[M_NT] = {4, 3, 4, 3, 5, 3, 0}, want_maj[M_NT] = {3, 3, 2, 2, 3, 3, 0};
    const int32_t want_dm[M_NT] = {0, 0, -1, -1, 4, 2, -1};
    const int32_t want_cms[M_NT] = {0, 0, -1, -1, -1, 2, -1};
    for (int t = 0; t < M_NT; t++) {
        assert_int_equal(m[t].particle, want_p[t]);
        assert_int_equal(m[t].nhits, want_n[t]);
        assert_int_equal(m[t].nmajor, want_maj[t]);
        assert_int_equal(m[t].matched[TRK_SCORE_DOUBLE_MAJORITY], want_dm[t]);
        assert_int_equal(m[t].matched[TRK_SCORE_CMS75], want_cms[t]);
    }
    /* Majority ties: the lowest particle index; noise before any particle. */
    const int32_t hp[] = {3, 3, 1, 1, -1, -1, 0, 0};
    const uint32_t off[] = {0, 4, 8}, hits[] = {0, 1, 2, 3, 4, 5, 6, 7};
    assert_int_equal(trk_score_match_tracks(8, hp, 4, 2, off, hits, m), TRK_OK);
    assert_int_equal(m[0].particle, 1);
    assert_int_equal(m[1].particle, -1);
    assert_int_equal(m[0].matched[0], -1);
    assert_int_equal(m[0].matched[1], -1);
    /* CMS: 2 of 3 is not 75%, 3 of 4 is. */
    const int32_t hp3[] = {0, 0, 1, 0, 0, 0, 1};
    const uint32_t off3[] = {0, 3, 7}, hits3[] = {0, 1, 2, 3, 4, 5, 6};
    assert_int_equal(trk_score_match_tracks(7, hp3, 2, 2, off3, hits3, m), TRK_OK);
    assert_int_equal(m[0].matched[TRK_SCORE_CMS75], -1);
    assert_int_equal(m[1].matched[TRK_SCORE_CMS75], 0);
    /* DM: p0 has 5 hits, 3 in track 1 (>50%), 2 in track 0 (40%). */
    assert_int_equal(m[0].matched[TRK_SCORE_DOUBLE_MAJORITY], -1);
    assert_int_equal(m[1].matched[TRK_SCORE_DOUBLE_MAJORITY], 0);

    capture_log();
    const uint32_t badhits[] = {0, 9};
    const uint32_t badoff[] = {0, 2};
    assert_int_equal(trk_score_match_tracks(8, hp, 4, 1, badoff, badhits, m),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "track 0 lists hit 9 but the event has 8 hits"));
    const int32_t badp[] = {7};
    const uint32_t one[] = {0, 1}, h0[] = {0};
    assert_int_equal(trk_score_match_tracks(1, badp, 4, 1, one, h0, m), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "hit_particle[0] = 7"));
    release_log();
}

static void test_track_counts(void **state)
{
    (void)state;
    init_m_p();
    struct trk_score_result acc;
    trk_score_result_init(&acc, NULL);
    assert_true(acc.cfg.min_pt == 0.5 && acc.cfg.min_hits == 3 && acc.cfg.max_eta == 4.0);
    struct trk_score_particles parts = {M_NP, M_Q, M_P, NULL, NULL, NULL};
    uint8_t flags[M_NP];
    assert_int_equal(trk_score_select_particles(&acc.cfg, N(M_HP), M_HP, &parts, flags), TRK_OK);
    assert_int_equal(flags[0], TRK_SCORE_SEL | TRK_SCORE_SEL_NOPT | TRK_SCORE_SEL_NOETA);
    assert_int_equal(flags[1], 0);
    assert_int_equal(flags[2], TRK_SCORE_SEL_NOPT);
    assert_int_equal(flags[3], 0);
    assert_int_equal(flags[4], TRK_SCORE_SEL | TRK_SCORE_SEL_NOPT | TRK_SCORE_SEL_NOETA);

    assert_int_equal(trk_score_tracks(&acc, N(M_HP), M_HP, &parts, M_NT, M_OFF, M_HITS, NULL),
                     TRK_OK);
    const struct trk_score_track_counts *dm = &acc.rule[TRK_SCORE_DOUBLE_MAJORITY];
    const struct trk_score_track_counts *cms = &acc.rule[TRK_SCORE_CMS75];
    assert_int_equal(dm->particles, 2);
    assert_int_equal(dm->matched, 2);
    assert_int_equal(dm->duplicated, 1);
    assert_int_equal(dm->tracks, 7);
    assert_int_equal(dm->fake, 3);
    assert_int_equal(cms->particles, 2);
    assert_int_equal(cms->matched, 1);
    assert_int_equal(cms->duplicated, 1);
    assert_int_equal(cms->tracks, 7);
    assert_int_equal(cms->fake, 4);
    /* pT bins (5 per decade from 0.1 GeV): 0.3 → 2, 1 → 5, 2 → 6; η bins: 0 → 8, 1.25 → 10. */
    for (int b = 0; b < TRK_SCORE_PT_BINS; b++) {
        uint64_t want = b == 2 || b == 5 || b == 6;
        assert_int_equal(dm->pt_total[b], want);
        assert_int_equal(dm->pt_matched[b], want);
        assert_int_equal(cms->pt_matched[b], b == 2 || b == 5);
        assert_int_equal(dm->pt_duplicated[b], b == 5);
    }
    for (int b = 0; b < TRK_SCORE_ETA_BINS; b++) {
        uint64_t want = b == 8 || b == 10;
        assert_int_equal(dm->eta_total[b], want);
        assert_int_equal(dm->eta_matched[b], want);
        assert_int_equal(cms->eta_matched[b], b == 8);
    }
    /* The cuts are parameters: min_hits 2 adds p3 (no track: not matched). */
    struct trk_score_config cfg;
    trk_score_config_default(&cfg);
    cfg.min_hits = 2;
    trk_score_result_init(&acc, &cfg);
    assert_int_equal(trk_score_tracks(&acc, N(M_HP), M_HP, &parts, M_NT, M_OFF, M_HITS, NULL),
                     TRK_OK);
    assert_int_equal(acc.rule[0].particles, 3);
    assert_int_equal(acc.rule[0].matched, 2);
    /* min_pt 0.2 adds p2 (matched by T5 under both rules). */
    cfg.min_hits = 3;
    cfg.min_pt = 0.2;
    trk_score_result_init(&acc, &cfg);
    assert_int_equal(trk_score_tracks(&acc, N(M_HP), M_HP, &parts, M_NT, M_OFF, M_HITS, NULL),
                     TRK_OK);
    assert_int_equal(acc.rule[0].particles, 3);
    assert_int_equal(acc.rule[0].matched, 3);
    assert_int_equal(acc.rule[1].matched, 2);
    /* max_eta 1 drops p4. */
    cfg.min_pt = 0.5;
    cfg.max_eta = 1.0;
    trk_score_result_init(&acc, &cfg);
    assert_int_equal(trk_score_tracks(&acc, N(M_HP), M_HP, &parts, M_NT, M_OFF, M_HITS, NULL),
                     TRK_OK);
    assert_int_equal(acc.rule[0].particles, 1);
}

/* ---- CMS clusters --------------------------------------------------------------- */

static void test_clusters(void **state)
{
    (void)state;
    const int32_t dp[] = {1, 1, 0, 2, 0, -1, -1, 1, -1, 1, -1, 3, 3, -1, -1, -1};
    const uint32_t off[] = {0, 3, 5, 8, 10, 10, 11, 16};
    const uint32_t digis[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    int32_t cp[7];
    assert_int_equal(trk_score_cluster_particles(N(dp), dp, 7, off, digis, cp), TRK_OK);
    /* {1,1,0} → 1; {2,0} tie → 0 (lowest); {-1,-1,1} noise dominates → -1;
     * {-1,1} noise does not strictly dominate → 1; {} → -1; {-1} → -1;
     * {3,3,-1,-1,-1} → -1. */
    const int32_t want[] = {1, 0, -1, 1, -1, -1, -1};
    assert_memory_equal(cp, want, sizeof want);

    capture_log();
    const uint32_t bad[] = {0, 99};
    const uint32_t off1[] = {0, 2};
    assert_int_equal(trk_score_cluster_particles(N(dp), dp, 1, off1, bad, cp),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "cluster 0 lists digi 99"));
    const uint32_t dec[] = {0, 3, 2};
    assert_int_equal(trk_score_cluster_particles(N(dp), dp, 2, dec, digis, cp),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "cluster offsets decrease at cluster 1"));
    release_log();
}

/* ---- vertices ------------------------------------------------------------------ */

static void test_vertices_z(void **state)
{
    (void)state;
    /* Truth z 0, 0.5, 10, 20, 30 (the last one not reconstructable); reco z 0.2, 10.3,
     * 10.6, 50, 29.9; window 1 mm.
     * reco → truth: r0 → v0 (0.2 beats 0.3), r1, r2 → v2 (split), r3 → none (fake),
     * r4 → v4 (not fake, but v4 counts nowhere else).
     * truth → reco: v0, v1 → r0 (merged), v2 → r1, v3 → none. */
    const float tpos[] = {0, 0, 0, 0, 0, 0.5f, 0, 0, 10, 0, 0, 20, 0, 0, 30};
    const uint8_t ok[] = {1, 1, 1, 1, 0};
    const float rz[] = {0.2f, 10.3f, 10.6f, 50.f, 29.9f};
    struct trk_score_result acc;
    trk_score_result_init(&acc, NULL);
    struct trk_score_vertex_input in = {.ntruth = 5, .truth_pos = tpos, .truth_ok = ok,
                                        .nreco = 5, .reco_z = rz};
    assert_int_equal(trk_score_vertices(&acc, &in), TRK_OK);
    const struct trk_score_vertex_counts *v = &acc.vtx;
    assert_int_equal(v->truth, 5);
    assert_int_equal(v->truth_reconstructable, 4);
    assert_int_equal(v->truth_matched, 2);
    assert_int_equal(v->truth_split, 1);
    assert_int_equal(v->reco, 5);
    assert_int_equal(v->reco_fake, 1);
    assert_int_equal(v->reco_merged, 1);
    assert_int_equal(v->events_by_z, 1);
    assert_int_equal(v->events_by_tracks, 0);
    /* A 0.25 mm window: r0 → v0 (v1 is 0.3 away), r4 → v4, nothing else. */
    acc.cfg.vertex_z_window = 0.25;
    memset(&acc.vtx, 0, sizeof acc.vtx);
    assert_int_equal(trk_score_vertices(&acc, &in), TRK_OK);
    assert_int_equal(v->truth_matched, 1); /* v0 (r0); v2 is 0.3 away */
    assert_int_equal(v->reco_fake, 3);
    assert_int_equal(v->reco_merged, 0);
}

static void test_vertices_tracks(void **state)
{
    (void)state;
    /* r0 holds 3 tracks of v0 and 2 of v1; r1 one of v1; r2 two of v0; plus a track
     * in no reco vertex and one matched to no particle.
     * reco → truth: r0 → v0, r1 → v1, r2 → v0 (v0 split).
     * truth → reco: v0 → r0 (3 > 2), v1 → r0 (2 > 1): r0 merged. v2 nothing. */
    const int32_t tv[] = {0, 0, 0, 0, 0, 1, 2, 2, -1, 1};
    const int32_t ttv[] = {0, 0, 0, 1, 1, 1, 0, 0, 2, -1};
    const float tpos[] = {0, 0, 0, 0, 0, 5, 0, 0, 9};
    const float rz[] = {100, 200, 300}; /* z plays no role */
    struct trk_score_result acc;
    trk_score_result_init(&acc, NULL);
    struct trk_score_vertex_input in = {.ntruth = 3, .truth_pos = tpos, .nreco = 3,
                                        .reco_z = rz, .ntracks = N(tv), .track_vertex = tv,
                                        .track_truth_vertex = ttv};
    assert_int_equal(trk_score_vertices(&acc, &in), TRK_OK);
    const struct trk_score_vertex_counts *v = &acc.vtx;
    assert_int_equal(v->truth_reconstructable, 3);
    assert_int_equal(v->truth_matched, 2);
    assert_int_equal(v->truth_split, 1);
    assert_int_equal(v->reco, 3);
    assert_int_equal(v->reco_fake, 0);
    assert_int_equal(v->reco_merged, 1);
    assert_int_equal(v->events_by_tracks, 1);

    capture_log();
    const int32_t badtv[] = {5};
    const int32_t ttv1[] = {0};
    in.ntracks = 1;
    in.track_vertex = badtv;
    in.track_truth_vertex = ttv1;
    assert_int_equal(trk_score_vertices(&acc, &in), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "track 0: reco vertex 5"));
    release_log();
}

/* ---- event layer --------------------------------------------------------------- */

/* The 10-hit TrackML case as an event, with particles and two vertices:
 * p0 (4 hits, pT 1) and p1 (3 hits, pT 2) reconstructable, p2 (2 hits) not.
 * Tracks (label order): t0 = label 2 (fake), t1 = label 5 → p0, t2 = label 7 → p1 (DM;
 * 2/3 < 75% for CMS). Vertices: p0, p2 from v0 (z 0), p1 from v1 (z 5); reco vertices
 * z 0.1 and 3.5 hold t1 and t2: content matching finds both (z matching misses v1). */
static void make_trackml_event(struct trk_event *truth, struct trk_event *reco)
{
    trk_event_init(truth, 7);
    trk_event_init(reco, 7);
    add_col(truth, "hit_particle", TRK_DTYPE_INT32, N(T_HP), 0, T_HP);
    add_col(truth, "hit_weight", TRK_DTYPE_FP32, N(T_W), 0, T_W);
    const int32_t q[] = {1, 1, 1}, pv[] = {0, 1, 0};
    const float p[] = {1, 0, 0, 0, 2, 0, 3, 0, 0};
    const uint64_t id[] = {11, 12, 13};
    add_col(truth, "particle_id", TRK_DTYPE_UINT64, 3, 0, id);
    add_col(truth, "particle_q", TRK_DTYPE_INT32, 3, 0, q);
    add_col(truth, "particle_p", TRK_DTYPE_FP32, 3, 3, p);
    add_col(truth, "particle_vertex", TRK_DTYPE_INT32, 3, 0, pv);
    const float vpos[] = {0, 0, 0, 0, 0, 5};
    const int32_t vnt[] = {2, 1};
    add_col(truth, "vertex_pos", TRK_DTYPE_FP32, 2, 3, vpos);
    add_col(truth, "vertex_ntracks", TRK_DTYPE_INT32, 2, 0, vnt);
    add_col(reco, "reco_hit_track", TRK_DTYPE_INT32, N(T_LAB), 0, T_LAB);
    const float rz[] = {0.1f, 3.5f};
    const int32_t rtv[] = {-1, 0, 1};
    add_col(reco, "reco_vertex_z", TRK_DTYPE_FP32, 2, 0, rz);
    add_col(reco, "reco_track_vertex", TRK_DTYPE_INT32, 3, 0, rtv);
}

static void test_event_trackml(void **state)
{
    (void)state;
    struct trk_event truth, reco;
    make_trackml_event(&truth, &reco);
    struct trk_score_config cfg;
    trk_score_config_default(&cfg);
    cfg.vertex_min_particles = 1;
    struct trk_score_result acc;
    trk_score_result_init(&acc, &cfg);
    for (int rep = 0; rep < 2; rep++)
        assert_int_equal(trk_score_event(&truth, &reco, NULL, &acc), TRK_OK);
    assert_int_equal(acc.events, 2);
    assert_int_equal(acc.trackml_events, 2);
    assert_true(fabs(acc.trackml_sum - 1.4) < 1e-6);
    assert_true(fabs(acc.trackml_weight - 3.2) < 1e-6);
    assert_true(fabs(acc.trackml_norm_sum / 2 - 0.7 / 1.6) < 1e-6);
    assert_false(acc.trackml_unit_weights);
    const struct trk_score_track_counts *dm = &acc.rule[0], *cms = &acc.rule[1];
    assert_int_equal(dm->particles, 4);
    assert_int_equal(dm->matched, 4);
    assert_int_equal(dm->duplicated, 0);
    assert_int_equal(dm->tracks, 6);
    assert_int_equal(dm->fake, 2);
    assert_int_equal(cms->matched, 2);
    assert_int_equal(cms->fake, 4);
    assert_int_equal(acc.vertex_events, 2);
    assert_int_equal(acc.vtx.events_by_tracks, 2);
    assert_int_equal(acc.vtx.truth_reconstructable, 4);
    assert_int_equal(acc.vtx.truth_matched, 4);
    assert_int_equal(acc.vtx.reco_fake, 0);
    assert_int_equal(acc.vtx.reco_merged, 0);
    assert_int_equal(acc.vtx.truth_split, 0);

    /* Two single-event results added give the two-event result. */
    struct trk_score_result a1, sum;
    trk_score_result_init(&a1, &cfg);
    trk_score_result_init(&sum, &cfg);
    assert_int_equal(trk_score_event(&truth, &reco, NULL, &a1), TRK_OK);
    trk_score_result_add(&sum, &a1);
    trk_score_result_add(&sum, &a1);
    assert_int_equal(sum.events, acc.events);
    assert_true(sum.trackml_sum == acc.trackml_sum && sum.trackml_norm_sum == acc.trackml_norm_sum);
    assert_memory_equal(sum.rule, acc.rule, sizeof acc.rule);
    assert_memory_equal(&sum.vtx, &acc.vtx, sizeof acc.vtx);

    /* The same event holding truth and reco works the same. */
    struct trk_event both;
    assert_int_equal(trk_event_copy(&both, &truth), TRK_OK);
    add_col(&both, "reco_hit_track", TRK_DTYPE_INT32, N(T_LAB), 0, T_LAB);
    struct trk_score_result one;
    trk_score_result_init(&one, &cfg);
    assert_int_equal(trk_score_event(&both, &both, NULL, &one), TRK_OK);
    assert_true(fabs(one.trackml_sum - 0.7) < 1e-6);
    assert_int_equal(one.vertex_events, 0);
    trk_event_fini(&both);

    /* Without reco_track_vertex vertices are matched by z: v1 (z 5) is 1.5 mm from the
     * reco vertex at 3.5, outside the 1 mm window: one matched, one fake. */
    struct trk_event reco2;
    trk_event_init(&reco2, 7);
    const float rz[] = {0.1f, 3.5f};
    add_col(&reco2, "reco_vertex_z", TRK_DTYPE_FP32, 2, 0, rz);
    trk_score_result_init(&one, &cfg);
    assert_int_equal(trk_score_event(&truth, &reco2, NULL, &one), TRK_OK);
    assert_int_equal(one.track_events, 0);
    assert_int_equal(one.vtx.events_by_z, 1);
    assert_int_equal(one.vtx.truth_matched, 1);
    assert_int_equal(one.vtx.reco_fake, 1);
    trk_event_fini(&reco2);

    trk_event_fini(&truth);
    trk_event_fini(&reco);
}

static void test_event_errors(void **state)
{
    (void)state;
    struct trk_event truth, reco, empty;
    make_trackml_event(&truth, &reco);
    trk_event_init(&empty, 7);
    struct trk_score_result acc, before;
    trk_score_result_init(&acc, NULL);
    assert_int_equal(trk_score_event(&truth, &reco, NULL, &acc), TRK_OK);
    memcpy(&before, &acc, sizeof acc);

    capture_log();
    assert_int_equal(trk_score_event(&truth, &empty, NULL, &acc), TRK_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_log_text, "RESULT has no reco_hit_track or reco_track_* columns"));
    assert_memory_equal(&acc, &before, sizeof acc);

    /* A label column of the wrong length. */
    struct trk_event short_reco;
    trk_event_init(&short_reco, 7);
    add_col(&short_reco, "reco_hit_track", TRK_DTYPE_INT32, 9, 0, T_LAB);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_score_event(&truth, &short_reco, NULL, &acc), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "reco_hit_track has 9 rows but TRUTH has 10 hits"));
    assert_memory_equal(&acc, &before, sizeof acc);

    /* Truth without hit truth. */
    tt_log_text[0] = '\0';
    assert_int_equal(trk_score_event(&empty, &reco, NULL, &acc), TRK_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_log_text, "TRUTH has no hit_particle"));

    /* A column of the wrong type. */
    struct trk_event wrong;
    trk_event_init(&wrong, 7);
    add_col(&wrong, "reco_hit_track", TRK_DTYPE_FP32, 10, 0, T_W);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_score_event(&truth, &wrong, NULL, &acc), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "RESULT: column 'reco_hit_track' must be INT32"));

    /* Offsets without hits. */
    struct trk_event half;
    trk_event_init(&half, 7);
    const uint32_t off[] = {0, 1};
    add_col(&half, "reco_track_offsets", TRK_DTYPE_UINT32, 2, 0, off);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_score_event(&truth, &half, NULL, &acc), TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(tt_log_text, "reco_track_offsets but not reco_track_hits"));

    /* Vertices without truth vertices. */
    struct trk_event novtx;
    trk_event_init(&novtx, 7);
    add_col(&novtx, "hit_particle", TRK_DTYPE_INT32, N(T_HP), 0, T_HP);
    tt_log_text[0] = '\0';
    assert_int_equal(trk_score_event(&novtx, &reco, NULL, &acc), TRK_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_log_text, "TRUTH has no vertex_pos"));
    release_log();
    assert_memory_equal(&acc, &before, sizeof acc);

    trk_event_fini(&novtx);
    trk_event_fini(&half);
    trk_event_fini(&wrong);
    trk_event_fini(&short_reco);
    trk_event_fini(&empty);
    trk_event_fini(&truth);
    trk_event_fini(&reco);
}

/* CMS: digis → clusters c0..c5 with particles {0, 1, -1, 2, -1, 0}; particle_nhits
 * (measurements) {4, 3, 3} decides reconstructability (cluster counts would be 2, 1, 1).
 * T0 {c0,c5,c2}: p0 2/3, all of p0's clusters → DM p0; 67% → no CMS.
 * T1 {c1,c3}: tie p1/p2 → fake.  T2 {c0,c5}: p0 → DM and CMS.
 * Tracks share clusters: no TrackML score. */
static void test_event_cms(void **state)
{
    (void)state;
    struct trk_event truth, reco;
    trk_event_init(&truth, 1);
    trk_event_init(&reco, 1);
    const int32_t dp[] = {0, 0, 1, 1, 1, -1, -1, 0, 2, 2, -1, 0};
    add_col(&truth, "digi_particle", TRK_DTYPE_INT32, N(dp), 0, dp);
    const int32_t q[] = {1, 1, 1}, nh[] = {4, 3, 3};
    const float p[] = {1, 0, 0, 1, 0, 0, 1, 0, 0};
    add_col(&truth, "particle_q", TRK_DTYPE_INT32, 3, 0, q);
    add_col(&truth, "particle_p", TRK_DTYPE_FP32, 3, 3, p);
    add_col(&truth, "particle_nhits", TRK_DTYPE_INT32, 3, 0, nh);
    const uint32_t coff[] = {0, 3, 5, 8, 10, 11, 12};
    const uint32_t cdig[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    add_col(&reco, "reco_cluster_offsets", TRK_DTYPE_UINT32, N(coff), 0, coff);
    add_col(&reco, "reco_cluster_digis", TRK_DTYPE_UINT32, N(cdig), 0, cdig);
    const uint32_t toff[] = {0, 3, 5, 7}, thits[] = {0, 5, 2, 1, 3, 0, 5};
    add_col(&reco, "reco_track_offsets", TRK_DTYPE_UINT32, N(toff), 0, toff);
    add_col(&reco, "reco_track_hits", TRK_DTYPE_UINT32, N(thits), 0, thits);

    struct trk_score_result acc;
    trk_score_result_init(&acc, NULL);
    assert_int_equal(trk_score_event(&truth, &reco, NULL, &acc), TRK_OK);
    assert_int_equal(acc.trackml_events, 0);
    assert_int_equal(acc.trackml_skipped, 1);
    assert_int_equal(acc.reco_hits, 6);
    const struct trk_score_track_counts *dm = &acc.rule[0], *cms = &acc.rule[1];
    assert_int_equal(dm->particles, 3);
    assert_int_equal(dm->matched, 1);
    assert_int_equal(dm->duplicated, 1);
    assert_int_equal(dm->fake, 1);
    assert_int_equal(cms->matched, 1);
    assert_int_equal(cms->duplicated, 0);
    assert_int_equal(cms->fake, 2);

    /* Unshared tracks get a TrackML score with unit weights per cluster: T1' = {c0,c5}
     * (p0, good: 2), T2' = {c1} (p1, good: 1); 4 clusters have a particle. */
    struct trk_event reco2;
    trk_event_init(&reco2, 1);
    add_col(&reco2, "reco_cluster_offsets", TRK_DTYPE_UINT32, N(coff), 0, coff);
    add_col(&reco2, "reco_cluster_digis", TRK_DTYPE_UINT32, N(cdig), 0, cdig);
    const uint32_t toff2[] = {0, 2, 3}, thits2[] = {0, 5, 1};
    add_col(&reco2, "reco_track_offsets", TRK_DTYPE_UINT32, N(toff2), 0, toff2);
    add_col(&reco2, "reco_track_hits", TRK_DTYPE_UINT32, N(thits2), 0, thits2);
    trk_score_result_init(&acc, NULL);
    assert_int_equal(trk_score_event(&truth, &reco2, NULL, &acc), TRK_OK);
    assert_int_equal(acc.trackml_events, 1);
    assert_true(acc.trackml_unit_weights);
    assert_true(acc.trackml_sum == 3.0 && acc.trackml_weight == 4.0);

    /* Without clusters the CMS truth cannot be used. */
    struct trk_event reco3;
    trk_event_init(&reco3, 1);
    add_col(&reco3, "reco_track_offsets", TRK_DTYPE_UINT32, N(toff2), 0, toff2);
    add_col(&reco3, "reco_track_hits", TRK_DTYPE_UINT32, N(thits2), 0, thits2);
    capture_log();
    assert_int_equal(trk_score_event(&truth, &reco3, NULL, &acc), TRK_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_log_text, "reco_cluster_offsets + reco_cluster_digis"));
    release_log();

    trk_event_fini(&reco3);
    trk_event_fini(&reco2);
    trk_event_fini(&truth);
    trk_event_fini(&reco);
}

/* ---- writers and helpers ---------------------------------------------------------- */

static void test_writers(void **state)
{
    (void)state;
    double err;
    assert_true(fabs(trk_score_ratio(1, 4, &err) - 0.25) < 1e-12);
    assert_true(fabs(err - sqrt(0.25 * 0.75 / 4)) < 1e-12);
    assert_true(trk_score_ratio(0, 0, &err) == 0.0 && err == 0.0);
    assert_true(fabs(trk_score_pt_edge(0) - 0.1) < 1e-12);
    assert_true(fabs(trk_score_pt_edge(TRK_SCORE_PT_BINS) - 100.0) < 1e-9);
    assert_true(trk_score_eta_edge(0) == -4.0 && trk_score_eta_edge(TRK_SCORE_ETA_BINS) == 4.0);

    struct trk_event truth, reco;
    make_trackml_event(&truth, &reco);
    struct trk_score_result acc;
    trk_score_result_init(&acc, NULL);
    assert_int_equal(trk_score_event(&truth, &reco, NULL, &acc), TRK_OK);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(trk_score_write_text(&acc, f, true), TRK_OK);
    fclose(f);
    assert_non_null(strstr(buf, "TrackML score          0.437500"));
    assert_non_null(strstr(buf, "double majority"));
    assert_non_null(strstr(buf, "Efficiency vs pT"));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(trk_score_write_json(&acc, f), TRK_OK);
    fclose(f);
    assert_non_null(strstr(buf, "\"double_majority\": {\"particles\": 2, \"matched\": 2"));
    const char *sc = strstr(buf, "\"score\": ");
    assert_non_null(sc);
    assert_true(fabs(strtod(sc + 9, NULL) - 0.7 / 1.6) < 1e-6);
    assert_non_null(strstr(buf, "\"cms75\""));
    int depth = 0, brackets = 0;
    for (const char *c = buf; *c; c++) {
        depth += (*c == '{') - (*c == '}');
        brackets += (*c == '[') - (*c == ']');
        assert_true(depth >= 0 && brackets >= 0);
    }
    assert_int_equal(depth, 0);
    assert_int_equal(brackets, 0);
    free(buf);
    trk_event_fini(&truth);
    trk_event_fini(&reco);
}

/* ---- TrackML reference events ------------------------------------------------------ */

struct ref_case {
    const char *dir;    /* under the data dir */
    const char *prefix; /* under the data dir */
    double weight;      /* expected sum of the weights present */
};

static const struct ref_case ref_subset = {"trackml/event000000001",
                                           "trackml/event000000001/event000000001", 0.05126};
static const struct ref_case ref_barrel = {
    "trackml/event000001000-barrel10", "trackml/event000001000-barrel10/event000001000", 1.0};

static void check_reference(const struct ref_case *rc)
{
    char dir[1024], prefix[1024];
    if (!trk_data_path(rc->dir, dir, sizeof dir)) {
        printf("skipped: reference data not found at %s\n", dir);
        skip();
    }
    trk_data_path(rc->prefix, prefix, sizeof prefix);
    struct trk_event ev;
    assert_int_equal(trk_trackml_read(prefix, &ev), TRK_OK);
    size_t nh = 0, nw = 0;
    const int32_t *hp = trk_event_column(&ev, "hit_particle", TRK_DTYPE_INT32, 0, &nh);
    const float *w = trk_event_column(&ev, "hit_weight", TRK_DTYPE_FP32, 0, &nw);
    assert_non_null(hp);
    assert_non_null(w);
    assert_int_equal(nh, nw);

    /* Perfect tracks: label = particle, noise unassigned → every weight present. */
    int32_t *lab = tt_malloc(nh * sizeof *lab);
    memcpy(lab, hp, nh * sizeof *lab);
    double s, total;
    assert_int_equal(trk_score_trackml(nh, hp, w, lab, &s, &total), TRK_OK);
    assert_true(fabs(total - rc->weight) < 1e-4);
    if (!(fabs(s - total) <= 1e-9 * total))
        fail_msg("%s: perfect tracks score %.12g, expected the sum of weights %.12g",
                 rc->prefix, s, total);

    /* Through the event layer: efficiency 1, no fakes, no duplicates, score 1. */
    struct trk_event reco;
    trk_event_init(&reco, ev.number);
    add_col(&reco, "reco_hit_track", TRK_DTYPE_INT32, nh, 0, lab);
    struct trk_score_result acc;
    trk_score_result_init(&acc, NULL);
    assert_int_equal(trk_score_event(&ev, &reco, NULL, &acc), TRK_OK);
    assert_true(fabs(acc.trackml_norm_sum - 1.0) < 1e-9);
    for (int r = 0; r < TRK_SCORE_NRULES; r++) {
        assert_true(acc.rule[r].particles > 0);
        assert_int_equal(acc.rule[r].matched, acc.rule[r].particles);
        assert_int_equal(acc.rule[r].fake, 0);
        assert_int_equal(acc.rule[r].duplicated, 0);
    }
    printf("%s: %zu hits, %" PRIu64 " tracks, %" PRIu64 " reconstructable particles, "
           "weight %.6g\n", rc->prefix, nh, acc.rule[0].tracks, acc.rule[0].particles, total);
    trk_event_fini(&reco);

    /* One track per hit: only particles with a single hit could score, and TrackML
     * gives hits of particles with < 4 hits weight 0. */
    for (size_t i = 0; i < nh; i++)
        lab[i] = (int32_t)i;
    assert_int_equal(trk_score_trackml(nh, hp, w, lab, &s, &total), TRK_OK);
    assert_true(s == 0.0);

    /* Scrambled: the perfect labels shuffled over the hits (noise hits included). A
     * track then collects hits of ~its length from random particles; a good pair needs
     * > 50% of a random track from one particle, which only happens by chance for the
     * shortest tracks, whose hits TrackML weights 0. Bound: < 0.1% of the total
     * weight (measured: exactly 0 on both reference events with this seed). */
    memcpy(lab, hp, nh * sizeof *lab);
    uint64_t rng = 12345;
    for (size_t i = nh - 1; i > 0; i--) {
        size_t j = tt_rand_u64(&rng) % (i + 1);
        int32_t t = lab[i];
        lab[i] = lab[j];
        lab[j] = t;
    }
    assert_int_equal(trk_score_trackml(nh, hp, w, lab, &s, &total), TRK_OK);
    printf("%s: scrambled labels score %.3g of %.3g (%.3f%%)\n", rc->prefix, s, total,
           100.0 * s / total);
    assert_true(s < 1e-3 * total);
    free(lab);
    trk_event_fini(&ev);
}

static void test_reference_subset(void **state)
{
    (void)state;
    check_reference(&ref_subset);
}

static void test_reference_barrel(void **state)
{
    (void)state;
    check_reference(&ref_barrel);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trackml_weights),  cmocka_unit_test(test_trackml_strict_half),
        cmocka_unit_test(test_trackml_noise),    cmocka_unit_test(test_labels),
        cmocka_unit_test(test_match),            cmocka_unit_test(test_track_counts),
        cmocka_unit_test(test_clusters),         cmocka_unit_test(test_vertices_z),
        cmocka_unit_test(test_vertices_tracks),  cmocka_unit_test(test_event_trackml),
        cmocka_unit_test(test_event_errors),     cmocka_unit_test(test_event_cms),
        cmocka_unit_test(test_writers),          cmocka_unit_test(test_reference_subset),
        cmocka_unit_test(test_reference_barrel),
    };
    return cmocka_run_group_tests_name("score", tests, NULL, NULL);
}
