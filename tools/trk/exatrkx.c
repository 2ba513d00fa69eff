/* trk reco exatrkx — Exa.TrkX GNN tracking in-process on TrackML events (an event file or
 * a TrackML hits CSV); trk bench exatrkx — its time per event and per stage, and memory,
 * on each device at three event sizes, beside the PyTorch reference on the same events. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trk/evfile.h"
#include "trk/exatrkx.h"
#include "trk/gen.h"
#include "trk/score.h"
#include "trk/trackml.h"
#include "trk/trackml_csv.h"
#include "trk_tool.h"

#define EX_WEIGHTS_REL "config/examples/models/exatrkx/1/exatrkx.safetensors"
#define EX_REFERENCE_REL "algorithms/exatrkx/training/reference_infer.py"
/* Scoring cuts of the Exa.TrkX goals: double-majority efficiency of particles with
 * pT > 1 GeV and >= 5 hits. */
#define EX_SCORE_MIN_PT 1.0
#define EX_SCORE_MIN_HITS 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "<source dir>/rel" when this trk was built from a source tree that still exists,
 * else rel (relative to the working directory). */
static void source_path(const char *rel, char *buf, size_t len)
{
#ifdef TRK_SOURCE_DIR
    snprintf(buf, len, "%s/%s", TRK_SOURCE_DIR, rel);
    if (access(buf, F_OK) == 0)
        return;
#endif
    snprintf(buf, len, "%s", rel);
}

/* Loads the weights (path NULL: the example model's), printing why on failure. */
static struct trk_ex_weights *load_weights(const char *cmd, const char *path)
{
    char def[4096];
    if (!path) {
        source_path(EX_WEIGHTS_REL, def, sizeof def);
        path = def;
    }
    struct trk_ex_weights *w = NULL;
    char err[512] = "";
    enum trk_status st = trk_ex_weights_load(path, &w, err, sizeof err);
    if (st != TRK_OK) {
        fprintf(stderr, "%s: cannot load the weights %s: %s (%s); give the file with -w\n", cmd,
                path, err[0] ? err : "see the log", trk_status_str(st));
        return NULL;
    }
    return w;
}

/* The features of an event's hit_pos column into *feat (malloc'ed, [n,3]). Prints why
 * on failure (no hit_pos). */
static int event_features(const char *cmd, const struct trk_event *ev, float **feat, size_t *n)
{
    const float *pos = trk_event_column(ev, "hit_pos", TRK_DTYPE_FP32, 3, n);
    if (!pos) {
        fprintf(stderr, "%s: event %" PRIu64 " has no hit_pos column (TrackML spacepoints; "
                        "make events with trk gen -d trackml)\n", cmd, ev->number);
        return 1;
    }
    float *xyz = malloc(3 * (*n ? *n : 1) * sizeof(float));
    *feat = malloc(3 * (*n ? *n : 1) * sizeof(float));
    if (!xyz || !*feat) {
        free(xyz);
        free(*feat);
        *feat = NULL;
        fprintf(stderr, "%s: out of memory\n", cmd);
        return 1;
    }
    for (size_t i = 0; i < *n; i++) {
        xyz[i] = pos[3 * i];
        xyz[*n + i] = pos[3 * i + 1];
        xyz[2 * *n + i] = pos[3 * i + 2];
    }
    trk_ex_features(xyz, xyz + *n, xyz + 2 * *n, *n, *feat);
    free(xyz);
    return 0;
}

/* Adds the reco columns trk score reads to reco: reco_hit_track (label, −1 none) and
 * the same tracks as reco_track_offsets / reco_track_hits. */
static enum trk_status labels_to_reco(const int64_t *labels, size_t n, struct trk_event *reco)
{
    int32_t *ht = NULL;
    enum trk_status st =
        trk_event_add_column(reco, "reco_hit_track", TRK_DTYPE_INT32, n, 0, (void **)&ht);
    for (size_t i = 0; st == TRK_OK && i < n; i++)
        ht[i] = labels[i] < 0 || labels[i] > INT32_MAX ? -1 : (int32_t)labels[i];
    size_t nt = 0;
    uint32_t *off = NULL, *hits = NULL, *o = NULL, *h = NULL;
    if (st == TRK_OK)
        st = trk_score_tracks_from_labels(n, ht, &nt, &off, &hits, NULL);
    if (st == TRK_OK)
        st = trk_event_add_column(reco, "reco_track_offsets", TRK_DTYPE_UINT32, nt + 1, 0,
                                  (void **)&o);
    if (st == TRK_OK)
        st = trk_event_add_column(reco, "reco_track_hits", TRK_DTYPE_UINT32, off[nt], 0,
                                  (void **)&h);
    if (st == TRK_OK) {
        memcpy(o, off, (nt + 1) * sizeof *o);
        if (off[nt])
            memcpy(h, hits, off[nt] * sizeof *h);
    }
    free(off);
    free(hits);
    return st;
}

static void score_config(struct trk_score_config *sc)
{
    trk_score_config_default(sc);
    sc->min_pt = EX_SCORE_MIN_PT;
    sc->min_hits = EX_SCORE_MIN_HITS;
}

/* Prints the TrackML score, double-majority efficiency and fake rate of acc. */
static void print_score(const struct trk_score_result *acc)
{
    const struct trk_score_track_counts *dm = &acc->rule[TRK_SCORE_DOUBLE_MAJORITY];
    double e_err, f_err;
    double eff = trk_score_ratio(dm->matched, dm->particles, &e_err);
    double fake = trk_score_ratio(dm->fake, dm->tracks, &f_err);
    printf("score: TrackML %.4f (mean over %" PRIu64 " event%s of score / weights present); "
           "double-majority efficiency %.4f +- %.4f (%" PRIu64 "/%" PRIu64 " particles with pT > "
           "%.1f GeV, >= %d hits); fake rate %.4f (%" PRIu64 "/%" PRIu64 " tracks)\n",
           acc->trackml_events ? acc->trackml_norm_sum / (double)acc->trackml_events : 0.,
           acc->trackml_events, acc->trackml_events == 1 ? "" : "s", eff, e_err, dm->matched, dm->particles, acc->cfg.min_pt,
           acc->cfg.min_hits, fake, dm->fake, dm->tracks);
}

/* ---- trk reco exatrkx ----------------------------------------------------------- */

static void reco_usage(FILE *out)
{
    fprintf(out,
            "usage: trk reco exatrkx INPUT [options]\n"
            "\n"
            "Runs Exa.TrkX GNN tracking in-process on one device. INPUT is either\n"
            "  - an event file of TrackML events (trk gen -d trackml): every event is\n"
            "    reconstructed from its hit_pos column, a line per event is printed, and -o\n"
            "    writes the reco columns trk score reads (reco_hit_track and the same tracks\n"
            "    as reco_track_offsets/_hits): then `trk score INPUT RESULT`; or\n"
            "  - a TrackML hits CSV (PREFIX-hits.csv[.gz]): -o writes a TrackML submission\n"
            "    (event_id,hit_id,track_id). Every hit gets a track_id: tracks are 1..T (label\n"
            "    + 1) and each unassigned hit gets its own id from T+1 on, so it forms a\n"
            "    one-hit track that scores nothing.\n"
            "When the input has truth (an event file from trk gen, PREFIX-truth.csv beside\n"
            "the hits) the TrackML score, the double-majority efficiency (pT > 1 GeV, >= 5\n"
            "hits) and the fake rate are printed.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE       event file (event input) or submission CSV (CSV input)\n"
            "  -d, --device SPEC       cpu, opencl, cuda:1, ... (default cpu)\n"
            "  -w, --weights FILE      trained networks (default: the example model's\n"
            "                          %s)\n"
            "  -n, --events N          only the first N events\n"
            "  -p, --profile           drain the queue between stages and print time per stage\n"
            "  inference parameters (default: the weights file's metadata):\n"
            "      --radius R  --knn K  --filter-cut C  --edge-cut C  --min-hits N\n"
            "      --junction-removal true|false  --max-hits N  --max-edges N\n"
            "  -h, --help\n"
            "Environment: TRK_NUM_THREADS sets the CPU device's threads.\n",
            EX_WEIGHTS_REL);
}

/* Inference parameter overrides from the command line (NAN / -1: not given). */
struct ex_overrides {
    double radius, filter_cut, edge_cut;
    long knn, min_hits, junction, max_hits, max_edges;
};

static void apply_overrides(const struct ex_overrides *o, struct trk_ex_params *p)
{
    if (!isnan(o->radius))
        p->radius = (float)o->radius;
    if (!isnan(o->filter_cut))
        p->filter_cut = (float)o->filter_cut;
    if (!isnan(o->edge_cut))
        p->edge_cut = (float)o->edge_cut;
    if (o->knn >= 0)
        p->knn = (uint32_t)o->knn;
    if (o->min_hits >= 0)
        p->min_hits = (uint32_t)o->min_hits;
    if (o->junction >= 0)
        p->junction_removal = o->junction != 0;
    if (o->max_hits >= 0)
        p->max_hits = (uint32_t)o->max_hits;
    if (o->max_edges >= 0)
        p->max_edges = (uint32_t)o->max_edges;
}

/* Parses a number option into *out; prints the problem and returns 2 when bad. */
static int opt_num(const char *name, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "trk reco exatrkx: --%s %s: give a number in [%g, %g]\n", name, s, lo, hi);
        return 2;
    }
    *out = v;
    return 0;
}

static int opt_long(const char *name, const char *s, long lo, long hi, long *out)
{
    double v;
    if (opt_num(name, s, (double)lo, (double)hi, &v))
        return 2;
    if (v != floor(v)) {
        fprintf(stderr, "trk reco exatrkx: --%s %s: give a whole number\n", name, s);
        return 2;
    }
    *out = (long)v;
    return 0;
}

/* "dir/event000000001-hits.csv[.gz]" → prefix "dir/event000000001"; false otherwise. */
static bool hits_csv_prefix(const char *path, char *prefix, size_t len)
{
    static const char *const suffix[] = {"-hits.csv", "-hits.csv.gz"};
    size_t n = strlen(path);
    for (int i = 0; i < 2; i++) {
        size_t s = strlen(suffix[i]);
        if (n > s && !strcmp(path + n - s, suffix[i]) && n - s < len) {
            memcpy(prefix, path, n - s);
            prefix[n - s] = '\0';
            return true;
        }
    }
    return false;
}

/* Runs one event; prints its line. Returns the trk_ex_run status (message printed). */
static enum trk_status reco_event(struct trk_ex_instance *ex, const struct trk_event *ev,
                                  bool profile, struct trk_ex_result *res, double *ms)
{
    float *feat = NULL;
    size_t n;
    if (event_features("trk reco exatrkx", ev, &feat, &n))
        return TRK_ERR_INVALID_ARG;
    char err[512] = "";
    enum trk_status st = TRK_ERR_OVERFLOW;
    double t0 = now_s();
    if (n <= UINT32_MAX)
        st = trk_ex_run(ex, feat, (uint32_t)n, res, profile, false, err, sizeof err);
    *ms = 1e3 * (now_s() - t0);
    free(feat);
    if (st != TRK_OK) {
        fprintf(stderr, "trk reco exatrkx: event %" PRIu64 ": %s (%s)\n", ev->number,
                err[0] ? err : "failed", trk_status_str(st));
        return st;
    }
    printf("event %" PRIu64 ": %u hits, edges graph %u / filter %u / tracks %u, %u tracks, "
           "%.1f ms\n",
           ev->number, res->nhits, res->nedges_graph, res->nedges_filter, res->nedges_track,
           res->ntracks, *ms);
    return TRK_OK;
}

/* Writes the TrackML submission of ev (its hit_id column, if any) with labels. */
static enum trk_status write_submission(const char *path, struct trk_event *ev,
                                        const int64_t *labels, size_t n)
{
    int32_t *tid = NULL;
    enum trk_status st =
        trk_event_add_column(ev, "reco_hit_track", TRK_DTYPE_INT32, n, 0, (void **)&tid);
    if (st != TRK_OK)
        return st;
    int64_t ntracks = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] + 1 > ntracks)
            ntracks = labels[i] + 1;
    int64_t next = ntracks + 1;
    for (size_t i = 0; i < n; i++)
        tid[i] = (int32_t)(labels[i] >= 0 ? labels[i] + 1 : next++);
    return trk_trackml_write_submission(path, ev);
}

int trk_cmd_reco_exatrkx(int argc, char **argv)
{
    const char *output = NULL, *device = "cpu", *wpath = NULL;
    long maxev = -1;
    bool profile = false;
    struct ex_overrides ov = {NAN, NAN, NAN, -1, -1, -1, -1, -1};
    const char *input = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            reco_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--profile")) {
            profile = true;
            continue;
        } else if (a[0] != '-' || !a[1]) {
            if (input) {
                fprintf(stderr, "trk reco exatrkx: give exactly one INPUT (see --help)\n");
                return 2;
            }
            input = a;
            continue;
        } else if (!v) {
            fprintf(stderr, "trk reco exatrkx: unknown or incomplete option %s (see --help)\n", a);
            return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            output = v;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--device")) {
            device = v;
        } else if (!strcmp(a, "-w") || !strcmp(a, "--weights")) {
            wpath = v;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--events")) {
            bad = opt_long("events", v, 0, LONG_MAX / 2, &maxev);
        } else if (!strcmp(a, "--radius")) {
            bad = opt_num("radius", v, 1e-6, 1e3, &ov.radius);
        } else if (!strcmp(a, "--filter-cut")) {
            bad = opt_num("filter-cut", v, 1e-6, 1 - 1e-6, &ov.filter_cut);
        } else if (!strcmp(a, "--edge-cut")) {
            bad = opt_num("edge-cut", v, 1e-6, 1 - 1e-6, &ov.edge_cut);
        } else if (!strcmp(a, "--knn")) {
            bad = opt_long("knn", v, 1, 4096, &ov.knn);
        } else if (!strcmp(a, "--min-hits")) {
            bad = opt_long("min-hits", v, 1, 1000, &ov.min_hits);
        } else if (!strcmp(a, "--max-hits")) {
            bad = opt_long("max-hits", v, 1, 1L << 26, &ov.max_hits);
        } else if (!strcmp(a, "--max-edges")) {
            bad = opt_long("max-edges", v, 1, 1L << 30, &ov.max_edges);
        } else if (!strcmp(a, "--junction-removal")) {
            if (!strcmp(v, "true") || !strcmp(v, "1"))
                ov.junction = 1;
            else if (!strcmp(v, "false") || !strcmp(v, "0"))
                ov.junction = 0;
            else {
                fprintf(stderr, "trk reco exatrkx: --junction-removal %s: give true or false\n",
                        v);
                bad = 2;
            }
        } else {
            fprintf(stderr, "trk reco exatrkx: unknown option %s (see --help)\n", a);
            return 2;
        }
        if (bad)
            return bad;
        i++;
    }
    if (!input) {
        fprintf(stderr, "trk reco exatrkx: give one INPUT: an event file or a TrackML "
                        "PREFIX-hits.csv (see --help)\n");
        return 2;
    }
    char prefix[4096];
    bool csv = hits_csv_prefix(input, prefix, sizeof prefix);
    struct trk_evfile *in = NULL;
    struct trk_evfile_writer *out = NULL;
    struct trk_registry *reg = NULL;
    struct trk_ex_weights *w = NULL;
    struct trk_ex_instance *ex = NULL;
    struct trk_ex_result res;
    trk_ex_result_init(&res);
    struct trk_event csv_ev;
    trk_event_init(&csv_ev, 0);
    int rc = 1;
    enum trk_status st;
    size_t nev = 1;
    if (csv) {
        if ((st = trk_trackml_read(prefix, &csv_ev)) != TRK_OK) {
            fprintf(stderr, "trk reco exatrkx: cannot read the TrackML event %s: %s (see the "
                            "message above)\n", prefix, trk_status_str(st));
            goto done;
        }
    } else {
        if ((st = trk_evfile_open(input, &in)) != TRK_OK) {
            fprintf(stderr, "trk reco exatrkx: cannot open %s: %s (give an event file or a "
                            "TrackML PREFIX-hits.csv)\n", input, trk_status_str(st));
            goto done;
        }
        if (trk_evfile_detector(in) != TRK_DETECTOR_TRACKML) {
            fprintf(stderr, "trk reco exatrkx: %s holds no TrackML events (make them with "
                            "trk gen --detector trackml)\n", input);
            goto done;
        }
        nev = trk_evfile_count(in);
        if (maxev >= 0 && (size_t)maxev < nev)
            nev = (size_t)maxev;
    }
    if (!(w = load_weights("trk reco exatrkx", wpath)))
        goto done;
    struct trk_ex_params p;
    trk_ex_params_default(&p, w);
    apply_overrides(&ov, &p);
    if (!(reg = trk_tool_open_registry()))
        goto done;
    struct trk_device *dev;
    if (trk_registry_select(reg, device, &dev) != TRK_OK) {
        fprintf(stderr, "trk reco exatrkx: no device '%s' (trk devices lists them)\n", device);
        goto done;
    }
    if ((st = trk_ex_instance_create(dev, w, &p, &ex)) != TRK_OK) {
        fprintf(stderr, "trk reco exatrkx: cannot set up exatrkx on %s: %s (see the message "
                        "above)\n", trk_device_id(dev), trk_status_str(st));
        goto done;
    }
    if (!csv && output &&
        (st = trk_evfile_create(output, TRK_DETECTOR_TRACKML, "trk reco exatrkx", &out)) !=
            TRK_OK) {
        fprintf(stderr, "trk reco exatrkx: cannot create %s: %s\n", output, trk_status_str(st));
        goto done;
    }
    fprintf(stderr, "trk reco exatrkx: %zu event%s from %s on %s (%s of device memory); radius "
                    "%g, knn %u, filter_cut %g, edge_cut %g, min_hits %u, junction_removal %s\n",
            nev, nev == 1 ? "" : "s", input, trk_device_id(dev),
            trk_tool_bytes(trk_ex_memory_bytes(ex), (char[32]){0}, 32), p.radius, p.knn,
            p.filter_cut, p.edge_cut, p.min_hits, p.junction_removal ? "true" : "false");
    struct trk_score_config sc;
    score_config(&sc);
    struct trk_score_result acc;
    trk_score_result_init(&acc, &sc);
    double stage[TRK_EX_NSTAGES] = {0}, t_all = 0, hits = 0, tracks = 0;
    size_t scored = 0;
    for (size_t i = 0; i < nev; i++) {
        struct trk_event ev, reco;
        trk_event_init(&ev, 0);
        if (!csv && (st = trk_evfile_read(in, i, &ev)) != TRK_OK) {
            fprintf(stderr, "trk reco exatrkx: cannot read event %zu of %s: %s\n", i, input,
                    trk_status_str(st));
            trk_event_fini(&ev);
            goto done;
        }
        struct trk_event *e = csv ? &csv_ev : &ev;
        trk_event_init(&reco, e->number);
        double ms;
        st = reco_event(ex, e, profile, &res, &ms);
        if (st == TRK_OK)
            st = labels_to_reco(res.labels, res.nhits, &reco);
        if (st == TRK_OK && trk_event_find(e, "hit_particle")) {
            if (trk_score_event(e, &reco, NULL, &acc) == TRK_OK)
                scored++;
            else
                fprintf(stderr, "trk reco exatrkx: event %" PRIu64 " cannot be scored (see the "
                                "message above)\n", e->number);
        }
        if (st == TRK_OK && out && (st = trk_evfile_append(out, &reco)) != TRK_OK)
            fprintf(stderr, "trk reco exatrkx: cannot write %s: %s\n", output, trk_status_str(st));
        if (st == TRK_OK && csv && output &&
            (st = write_submission(output, e, res.labels, res.nhits)) != TRK_OK)
            fprintf(stderr, "trk reco exatrkx: cannot write %s: %s\n", output, trk_status_str(st));
        trk_event_fini(&ev);
        trk_event_fini(&reco);
        if (st != TRK_OK)
            goto done;
        t_all += ms;
        hits += res.nhits;
        tracks += res.ntracks;
        for (int s = 0; s < TRK_EX_NSTAGES; s++)
            stage[s] += res.stage_ms[s];
    }
    if (out) {
        st = trk_evfile_finish(out);
        out = NULL;
        if (st != TRK_OK) {
            fprintf(stderr, "trk reco exatrkx: cannot finish %s: %s\n", output,
                    trk_status_str(st));
            goto done;
        }
    }
    printf("exatrkx on %s: %zu event%s, %.1f ms per event; per event %.0f hits, %.1f tracks\n",
           trk_device_id(dev), nev, nev == 1 ? "" : "s", nev ? t_all / (double)nev : 0., nev ? hits / (double)nev : 0.,
           nev ? tracks / (double)nev : 0.);
    if (profile && nev) {
        printf("time per event by stage (ms):");
        for (int s = 0; s < TRK_EX_NSTAGES; s++)
            printf(" %s %.2f%s", trk_ex_stage_name((enum trk_ex_stage)s), stage[s] / (double)nev,
                   s + 1 < TRK_EX_NSTAGES ? "," : "\n");
    }
    if (scored)
        print_score(&acc);
    if (output && !csv)
        printf("wrote %s (score it: trk score %s %s)\n", output, input, output);
    else if (output)
        printf("wrote the submission %s\n", output);
    rc = 0;
done:
    if (out)
        (void)trk_evfile_finish(out);
    trk_event_fini(&csv_ev);
    trk_ex_result_fini(&res);
    trk_ex_instance_free(ex);
    trk_ex_weights_free(w);
    trk_registry_close(reg);
    trk_evfile_close(in);
    return rc;
}

/* ---- trk bench exatrkx ---------------------------------------------------------- */

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: trk bench exatrkx [options]\n"
            "\n"
            "Generates simulated TrackML events of about each --sizes hit count (the pile-up\n"
            "is chosen for the size) or at a given pile-up, then runs Exa.TrkX on each\n"
            "device: the median time per event (one warm-up event first), the median time\n"
            "per stage from a second pass that drains the queue between stages, the device\n"
            "memory of the instance and the process's peak resident memory during the run.\n"
            "Then the PyTorch reference (%s) runs on the same events\n"
            "with the same weights and threads, and the ratio is printed.\n"
            "\n"
            "options:\n"
            "  --sizes LIST        hit counts (k = 1000) or pile-ups (muN), default\n"
            "                      10k,50k,mu200 (mu = 200: ~100k hits)\n"
            "  --events N          events per size (default 3)\n"
            "  --devices LIST      device specs (default: cpu and every other device present)\n"
            "  --threads N         CPU device threads and PyTorch threads (default 2)\n"
            "  --reference PYTHON  python with torch for the reference (default $TRK_PYTHON,\n"
            "                      else /opt/torchenv/bin/python when present); 'none' skips it\n"
            "  -w, --weights FILE  trained networks (default: the example model's)\n"
            "  --seed N            generator seed (default 1)\n"
            "  --csv FILE          also write the table as CSV\n"
            "  -h, --help\n",
            EX_REFERENCE_REL);
}

/* Parses "10k,50000,mu200" into out (cap entries): a hit count (k = 1000) as is, a
 * pile-up "muN" as -N. Returns the count, or -1 when malformed. */
static int parse_sizes(const char *s, long *out, int cap)
{
    int n = 0;
    while (*s) {
        bool mu = !strncmp(s, "mu", 2);
        char *end;
        double v = strtod(mu ? s + 2 : s, &end);
        if (end == s || n >= cap)
            return -1;
        if (!mu && (*end == 'k' || *end == 'K')) {
            v *= 1000;
            end++;
        }
        if (!(mu ? v >= 1 && v <= 1000 && v == floor(v) : v >= 100 && v <= 4e6) ||
            (*end && *end != ','))
            return -1;
        out[n++] = mu ? -(long)v : (long)v;
        s = *end ? end + 1 : end;
    }
    return n;
}

struct bench_size {
    long target;          /* hits wanted; -N: pile-up N */
    char label[24];       /* "10k", "mu200" */
    double pileup;
    size_t n;
    struct trk_event *ev; /* [n] generated events */
    float **feat;         /* [n] features */
    uint32_t *nhits;
    double ref_ms;        /* PyTorch median ms per event, NAN if not run */
    double ref_stage[TRK_EX_NSTAGES]; /* its median ms per stage, NAN where it has none */
    double ref_rss;       /* its largest peak RSS over the events, bytes */
    double ref_counts[3]; /* its mean graph edges, filter edges, tracks */
};

/* Generates TrackML event `number` at pileup mu into ev (fresh). */
static enum trk_status gen_event(const struct trk_detector *det, double mu, uint64_t seed,
                                 uint64_t number, struct trk_truth *t, struct trk_event *ev)
{
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_TRACKML);
    cfg.pileup = mu;
    cfg.seed = seed;
    trk_event_init(ev, number);
    enum trk_status st = trk_gen_truth(&cfg, det, number, t);
    if (st == TRK_OK)
        st = trk_truth_to_event(t, ev);
    struct trk_rng rng;
    trk_rng_seed(&rng, seed ^ 0x5eed0d161ull, number);
    if (st == TRK_OK)
        st = trk_trackml_digitize(det, t, &rng, ev);
    return st;
}

static void free_size(struct bench_size *bs)
{
    for (size_t i = 0; i < bs->n; i++) {
        trk_event_fini(&bs->ev[i]);
        free(bs->feat[i]);
    }
    free(bs->ev);
    free(bs->feat);
    free(bs->nhits);
    memset(bs, 0, sizeof *bs);
}

/* Hits of a trial event (number 10^6 + k) at pile-up mu; 0 on failure. */
static double trial_hits(const struct trk_detector *det, double mu, uint64_t seed, uint64_t k,
                         struct trk_truth *t)
{
    struct trk_event ev;
    size_t nh = 0;
    if (gen_event(det, mu, seed, 1000000 + k, t, &ev) != TRK_OK ||
        !trk_event_column(&ev, "hit_pos", TRK_DTYPE_FP32, 3, &nh))
        nh = 0;
    trk_event_fini(&ev);
    return (double)nh;
}

/* Generates nev events of about bs->target hits (or at pile-up -bs->target). Hits grow
 * linearly with the pile-up on top of the hard scatter: the line comes from two trial
 * events (mu 0 and mu 200). */
static int make_size(const struct trk_detector *det, long nev, uint64_t seed,
                     struct bench_size *bs)
{
    struct trk_truth t;
    trk_truth_init(&t);
    int rc = 1;
    bs->ev = calloc((size_t)nev, sizeof *bs->ev);
    bs->feat = calloc((size_t)nev, sizeof *bs->feat);
    bs->nhits = calloc((size_t)nev, sizeof *bs->nhits);
    if (!bs->ev || !bs->feat || !bs->nhits)
        goto done;
    double mu = -(double)bs->target;
    if (bs->target > 0) {
        double h0 = trial_hits(det, 0, seed, 0, &t), h200 = trial_hits(det, 200, seed, 1, &t);
        double slope = h200 > h0 ? (h200 - h0) / 200 : 530;
        mu = fmax(0, ((double)bs->target - h0) / slope);
    }
    bs->pileup = mu;
    for (long i = 0; i < nev; i++) {
        size_t n;
        if (gen_event(det, mu, seed, (uint64_t)i, &t, &bs->ev[i]) != TRK_OK ||
            event_features("trk bench exatrkx", &bs->ev[i], &bs->feat[i], &n)) {
            fprintf(stderr, "trk bench exatrkx: cannot generate event %ld at mu %.1f\n", i, mu);
            bs->n = (size_t)i + 1;
            goto done;
        }
        bs->nhits[i] = (uint32_t)n;
        bs->n = (size_t)i + 1;
    }
    rc = 0;
done:
    trk_truth_fini(&t);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Resets the process's peak RSS (Linux clear_refs "5"); false where unsupported. */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Peak RSS of this process in bytes (VmHWM; getrusage when /proc is absent). */
static double peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = NAN;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            kb = strtod(line + 6, NULL);
    if (f)
        fclose(f);
    if (isnan(kb)) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
            kb = (double)ru.ru_maxrss;
    }
    return kb * 1024.0;
}

struct bench_ctx {
    const struct trk_ex_weights *w;
    unsigned threads;
    FILE *csv;
};

/* Runs one size on spec; prints one row (and a CSV row). */
static int bench_one(const struct bench_ctx *bc, const char *spec, struct bench_size *bs)
{
    struct trk_registry_options ro = {.cpu_threads = bc->threads};
    struct trk_registry *reg = NULL;
    struct trk_ex_instance *ex = NULL;
    struct trk_ex_result res;
    trk_ex_result_init(&res);
    double *t = calloc(bs->n, sizeof *t);
    double *ts = calloc(bs->n * TRK_EX_NSTAGES, sizeof *ts);
    int rc = 1;
    char err[512] = "";
    if (!t || !ts)
        goto done;
    if (trk_registry_open(&ro, &reg) != TRK_OK) {
        fprintf(stderr, "trk bench exatrkx: cannot open the device registry\n");
        goto done;
    }
    struct trk_device *dev;
    if (trk_registry_select(reg, spec, &dev) != TRK_OK) {
        printf("%-10s %7s %7s  (no such device here: skipped)\n", spec, "", bs->label);
        rc = 0;
        goto done;
    }
    bool rss_ok = reset_peak_rss();
    struct trk_ex_params p;
    trk_ex_params_default(&p, bc->w);
    uint32_t maxn = 0;
    for (size_t i = 0; i < bs->n; i++)
        maxn = bs->nhits[i] > maxn ? bs->nhits[i] : maxn;
    if (maxn > p.max_hits)
        p.max_hits = maxn;
    enum trk_status st = trk_ex_instance_create(dev, bc->w, &p, &ex);
    if (st != TRK_OK) {
        fprintf(stderr, "trk bench exatrkx: cannot set up exatrkx on %s: %s\n", spec,
                trk_status_str(st));
        goto done;
    }
    /* warm-up (OpenCL builds its programs here) */
    if ((st = trk_ex_run(ex, bs->feat[0], bs->nhits[0], &res, false, false, err, sizeof err)) !=
        TRK_OK)
        goto fail_run;
    double edges[3] = {0}, tracks = 0;
    for (size_t i = 0; i < bs->n; i++) {
        double t0 = now_s();
        st = trk_ex_run(ex, bs->feat[i], bs->nhits[i], &res, false, false, err, sizeof err);
        t[i] = 1e3 * (now_s() - t0);
        if (st != TRK_OK)
            goto fail_run;
        edges[0] += res.nedges_graph;
        edges[1] += res.nedges_filter;
        edges[2] += res.nedges_track;
        tracks += res.ntracks;
    }
    for (size_t i = 0; i < bs->n; i++) {
        st = trk_ex_run(ex, bs->feat[i], bs->nhits[i], &res, true, false, err, sizeof err);
        if (st != TRK_OK)
            goto fail_run;
        for (int s = 0; s < TRK_EX_NSTAGES; s++)
            ts[(size_t)s * bs->n + i] = res.stage_ms[s];
    }
    double stage[TRK_EX_NSTAGES];
    for (int s = 0; s < TRK_EX_NSTAGES; s++)
        stage[s] = median(ts + (size_t)s * bs->n, bs->n);
    double hits = 0;
    for (size_t i = 0; i < bs->n; i++)
        hits += bs->nhits[i];
    double ms = median(t, bs->n), nd = (double)bs->n;
    double rss = rss_ok ? peak_rss() : NAN;
    uint64_t devmem = trk_ex_memory_bytes(ex);
    char thr[16] = "-", mem[32], rssb[32];
    if (!strncmp(trk_device_id(dev), "cpu", 3))
        snprintf(thr, sizeof thr, "%u", bc->threads);
    printf("%-10s %7s %7.0f %5.0f %9.0f %8.0f %7.0f %9.1f %9s %9s", trk_device_id(dev), thr,
           hits / nd, bs->pileup, edges[0] / nd, edges[1] / nd, tracks / nd, ms,
           trk_tool_bytes(devmem, mem, sizeof mem),
           isnan(rss) ? "?" : trk_tool_bytes((uint64_t)rss, rssb, sizeof rssb));
    for (int s = 0; s < TRK_EX_NSTAGES; s++)
        printf(" %8.2f", stage[s]);
    if (!isnan(bs->ref_ms))
        printf("   x%.2f", bs->ref_ms / ms);
    printf("\n");
    fflush(stdout);
    if (bc->csv) {
        fprintf(bc->csv, "%s,%s,%s,%.1f,%.0f,%.0f,%.0f,%.1f,%.3f,%" PRIu64 ",%.0f",
                trk_device_id(dev), thr, bs->label, bs->pileup, hits / nd, edges[0] / nd,
                edges[1] / nd, tracks / nd, ms, devmem, rss);
        for (int s = 0; s < TRK_EX_NSTAGES; s++)
            fprintf(bc->csv, ",%.3f", stage[s]);
        fprintf(bc->csv, ",%.3f\n", isnan(bs->ref_ms) ? NAN : bs->ref_ms / ms);
    }
    rc = 0;
    goto done;
fail_run:
    if (err[0])
        fprintf(stderr, "trk bench exatrkx: run failed on %s: %s\n", spec, err);
    else
        fprintf(stderr, "trk bench exatrkx: run failed on %s: %s\n", spec, trk_status_str(st));
    printf("%-10s %7s %7s  (failed: see the message above)\n", spec, "", bs->label);
done:
    free(t);
    free(ts);
    trk_ex_result_fini(&res);
    trk_ex_instance_free(ex);
    trk_registry_close(reg);
    return rc;
}

/* The python for the reference: --reference, else $TRK_PYTHON, else the project's venv;
 * NULL when none (or "none"). */
static const char *reference_python(const char *opt)
{
    if (opt)
        return strcmp(opt, "none") ? opt : NULL;
    const char *env = getenv("TRK_PYTHON");
    if (env && *env)
        return env;
    return access("/opt/torchenv/bin/python", X_OK) == 0 ? "/opt/torchenv/bin/python" : NULL;
}

/* The reference's "--time" output, per event: lines "stage NAME SECONDS", "total
 * SECONDS", "peak_rss_mb MB", "nhits N edges_graph G edges_filter F edges_track T tracks K"
 * (counts gets G, F, K). Stages are matched to ours by name (NAN where absent).
 * Returns false when there is no total line. */
static bool parse_reference(const char *text, double *total_ms, double *stage_ms, double *rss,
                            double *counts)
{
    *total_ms = NAN;
    for (int s = 0; s < TRK_EX_NSTAGES; s++)
        stage_ms[s] = NAN;
    for (const char *l = text; l && *l;) {
        char name[32];
        double v;
        if (sscanf(l, "stage %31s %lf", name, &v) == 2) {
            for (int s = 0; s < TRK_EX_NSTAGES; s++)
                if (!strcmp(name, trk_ex_stage_name((enum trk_ex_stage)s)))
                    stage_ms[s] = 1e3 * v;
        } else if (sscanf(l, "total %lf", &v) == 1) {
            *total_ms = 1e3 * v;
        } else if (sscanf(l, "nhits %*f edges_graph %lf edges_filter %lf edges_track %*f "
                          "tracks %lf", &counts[0], &counts[1], &counts[2]) == 3) {
            /* the counts beside ours: the same graph and tracks expected */
        } else if (sscanf(l, "peak_rss_mb %lf", &v) == 1) {
            *rss = fmax(*rss, v * 1048576.0);
        }
        l = strchr(l, '\n');
        l = l ? l + 1 : NULL;
    }
    return !isnan(*total_ms);
}

/* Runs the PyTorch reference on every event of bs (written as TrackML CSVs into dir,
 * each timed as the median of 3 runs), filling bs->ref_* with medians over events. */
static void run_reference(const char *python, const char *script, const char *weights,
                          unsigned threads, const char *dir, struct bench_size *bs)
{
    bs->ref_ms = NAN;
    bs->ref_rss = 0;
    memset(bs->ref_counts, 0, sizeof bs->ref_counts);
    for (int s = 0; s < TRK_EX_NSTAGES; s++)
        bs->ref_stage[s] = NAN;
    double *t = calloc(bs->n * (TRK_EX_NSTAGES + 1), sizeof *t);
    size_t nt = 0;
    for (size_t i = 0; t && i < bs->n; i++) {
        char prefix[4096], cmd[16384];
        snprintf(prefix, sizeof prefix, "%s/event%09zu", dir, i);
        if (trk_trackml_write(prefix, &bs->ev[i], false) != TRK_OK) {
            fprintf(stderr, "trk bench exatrkx: cannot write %s-hits.csv for the reference\n",
                    prefix);
            break;
        }
        snprintf(cmd, sizeof cmd,
                 "OMP_NUM_THREADS=%u '%s' '%s' --weights '%s' --csv '%s-hits.csv' --threads %u "
                 "--repeat 3 --time 2>&1",
                 threads, python, script, weights, prefix, threads);
        FILE *p = popen(cmd, "r");
        char *out = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&out, &len);
        char buf[4096];
        size_t r;
        while (p && mem && (r = fread(buf, 1, sizeof buf, p)) > 0)
            fwrite(buf, 1, r, mem);
        int status = p ? pclose(p) : -1;
        if (mem)
            fclose(mem);
        double st[TRK_EX_NSTAGES], c[3] = {0};
        if (status != 0 || !out || !parse_reference(out, &t[nt], st, &bs->ref_rss, c)) {
            fprintf(stderr, "trk bench exatrkx: the reference failed on %s (exit %d):\n%s\n",
                    prefix, status, out ? out : "");
            free(out);
            break;
        }
        free(out);
        for (int s = 0; s < TRK_EX_NSTAGES; s++)
            t[(size_t)(s + 1) * bs->n + nt] = st[s];
        for (int k = 0; k < 3; k++)
            bs->ref_counts[k] += c[k] / (double)bs->n;
        nt++;
    }
    if (t && nt == bs->n) {
        bs->ref_ms = median(t, nt);
        for (int s = 0; s < TRK_EX_NSTAGES; s++)
            bs->ref_stage[s] = median(t + (size_t)(s + 1) * bs->n, nt);
    }
    free(t);
}

int trk_cmd_bench_exatrkx(int argc, char **argv)
{
    long sizes[8] = {10000, 50000, -200}, nev = 3, seed = 1, threads = 2;
    int nsizes = 3;
    const char *ref_opt = NULL, *wpath = NULL, *csv_path = NULL;
    char devlist[1024] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage(stdout);
            return 0;
        } else if (!v) {
            fprintf(stderr, "trk bench exatrkx: unknown or incomplete option %s (see --help)\n",
                    a);
            return 2;
        } else if (!strcmp(a, "--sizes")) {
            if ((nsizes = parse_sizes(v, sizes, 8)) <= 0) {
                fprintf(stderr, "trk bench exatrkx: --sizes %s: give hit counts or pile-ups "
                                "like 10k,50k,mu200 (100..4000k, mu1..mu1000, at most 8)\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--events") || !strcmp(a, "--seed") || !strcmp(a, "--threads")) {
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > 100000) {
                fprintf(stderr, "trk bench exatrkx: %s %s: give a number >= 1\n", a, v);
                return 2;
            }
            if (!strcmp(a, "--events"))
                nev = x;
            else if (!strcmp(a, "--seed"))
                seed = x;
            else
                threads = x;
        } else if (!strcmp(a, "--devices")) {
            snprintf(devlist, sizeof devlist, "%s", v);
        } else if (!strcmp(a, "--reference")) {
            ref_opt = v;
        } else if (!strcmp(a, "-w") || !strcmp(a, "--weights")) {
            wpath = v;
        } else if (!strcmp(a, "--csv")) {
            csv_path = v;
        } else {
            fprintf(stderr, "trk bench exatrkx: unknown option %s (see --help)\n", a);
            return 2;
        }
        i++;
    }
    char wdef[4096], script[4096], tmpdir[] = "/tmp/trk-bench-exatrkx-XXXXXX";
    if (!wpath) {
        source_path(EX_WEIGHTS_REL, wdef, sizeof wdef);
        wpath = wdef;
    }
    source_path(EX_REFERENCE_REL, script, sizeof script);
    struct trk_ex_weights *w = load_weights("trk bench exatrkx", wpath);
    if (!w)
        return 1;
    struct trk_detector *det = NULL;
    struct bench_ctx bc = {.w = w, .threads = (unsigned)threads};
    int rc = 1;
    bool have_tmp = false;
    if (trk_trackml_detector_builtin(&det) != TRK_OK) {
        fprintf(stderr, "trk bench exatrkx: cannot build the TrackML detector\n");
        goto done;
    }
    const char *python = reference_python(ref_opt);
    if (!python)
        printf("PyTorch reference: skipped (%s)\n",
               ref_opt ? "--reference none" : "no python: give --reference PYTHON or set "
                                              "TRK_PYTHON");
    else if (access(script, R_OK) != 0) {
        printf("PyTorch reference: skipped (%s not found)\n", script);
        python = NULL;
    } else {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", python);
        if (system(cmd) != 0) {
            printf("PyTorch reference: skipped (%s cannot import torch)\n", python);
            python = NULL;
        } else if (!mkdtemp(tmpdir)) {
            printf("PyTorch reference: skipped (cannot create %s: %s)\n", tmpdir,
                   strerror(errno));
            python = NULL;
        } else {
            have_tmp = true;
        }
    }
    if (!devlist[0])
        trk_tool_default_devices(devlist, sizeof devlist);
    if (csv_path) {
        if (!(bc.csv = fopen(csv_path, "w"))) {
            fprintf(stderr, "trk bench exatrkx: cannot write %s: %s\n", csv_path,
                    strerror(errno));
            goto done;
        }
        fprintf(bc.csv, "device,threads,size,pileup,hits,graph_edges,filter_edges,tracks,"
                        "median_ms,device_bytes,peak_rss_bytes");
        for (int s = 0; s < TRK_EX_NSTAGES; s++)
            fprintf(bc.csv, ",%s_ms", trk_ex_stage_name((enum trk_ex_stage)s));
        fprintf(bc.csv, ",speedup_vs_pytorch\n");
    }
    printf("trk bench exatrkx: %ld events per size, seed %ld, weights %s; devices %s\n", nev,
           seed, wpath, devlist);
    printf("%-10s %7s %7s %5s %9s %8s %7s %9s %9s %9s", "device", "threads", "hits", "mu",
           "graph", "filter", "tracks", "ms/event", "dev mem", "peak RSS");
    for (int s = 0; s < TRK_EX_NSTAGES; s++)
        printf(" %8.8s", trk_ex_stage_name((enum trk_ex_stage)s));
    printf("   (stage columns: median ms; xN: PyTorch time / ours)\n");
    rc = 0;
    int failures = 0;
    for (int k = 0; k < nsizes && !rc; k++) {
        struct bench_size bs = {.target = sizes[k], .ref_ms = NAN};
        if (sizes[k] < 0)
            snprintf(bs.label, sizeof bs.label, "mu%ld", -sizes[k]);
        else if (sizes[k] % 1000 == 0)
            snprintf(bs.label, sizeof bs.label, "%ldk", sizes[k] / 1000);
        else
            snprintf(bs.label, sizeof bs.label, "%ld", sizes[k]);
        fprintf(stderr, "generating %ld events (%s)...\n", nev, bs.label);
        if (make_size(det, nev, (uint64_t)seed, &bs)) {
            free_size(&bs);
            rc = 1;
            break;
        }
        if (python) {
            fprintf(stderr, "running the PyTorch reference...\n");
            run_reference(python, script, wpath, bc.threads, tmpdir, &bs);
            if (!isnan(bs.ref_ms)) {
                double hits = 0;
                for (size_t i = 0; i < bs.n; i++)
                    hits += bs.nhits[i];
                char rssb[32];
                printf("%-10s %7ld %7.0f %5.0f %9.0f %8.0f %7.0f %9.1f %9s %9s", "pytorch",
                       threads, hits / (double)bs.n, bs.pileup, bs.ref_counts[0],
                       bs.ref_counts[1], bs.ref_counts[2], bs.ref_ms, "-",
                       trk_tool_bytes((uint64_t)bs.ref_rss, rssb, sizeof rssb));
                for (int s = 0; s < TRK_EX_NSTAGES; s++) {
                    if (isnan(bs.ref_stage[s]))
                        printf(" %8s", "-");
                    else
                        printf(" %8.2f", bs.ref_stage[s]);
                }
                printf("\n");
                if (bc.csv) {
                    fprintf(bc.csv, "pytorch,%ld,%s,%.1f,%.0f,%.0f,%.0f,%.1f,%.3f,,%.0f", threads,
                            bs.label, bs.pileup, hits / (double)bs.n, bs.ref_counts[0],
                            bs.ref_counts[1], bs.ref_counts[2], bs.ref_ms, bs.ref_rss);
                    for (int s = 0; s < TRK_EX_NSTAGES; s++) {
                        if (isnan(bs.ref_stage[s]))
                            fprintf(bc.csv, ",");
                        else
                            fprintf(bc.csv, ",%.3f", bs.ref_stage[s]);
                    }
                    fprintf(bc.csv, ",1\n");
                }
            }
        }
        char *list = strdup(devlist), *save = NULL;
        for (char *spec = strtok_r(list, ",", &save); spec; spec = strtok_r(NULL, ",", &save))
            failures += bench_one(&bc, spec, &bs); /* a failing device does not stop the rest */
        free(list);
        free_size(&bs);
    }
    if (failures)
        rc = 1;
    if (csv_path && bc.csv)
        printf("CSV written to %s\n", csv_path);
done:
    if (have_tmp) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "trk bench exatrkx: could not remove %s\n", tmpdir);
    }
    if (bc.csv)
        fclose(bc.csv);
    trk_detector_free(det);
    trk_ex_weights_free(w);
    return rc;
}
