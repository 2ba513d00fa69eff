/* trk score — scores reconstructed tracks and vertices against truth (TrackML score,
 * efficiency / fake / duplicate rates under the TrackML and CMS matching rules, vertex
 * efficiency / merge / split), summed over every event of the inputs. The rules live
 * in trk/score.h; this file reads the inputs and prints. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plot.h"
#include "trk/evfile.h"
#include "trk/score.h"
#include "trk/trackml_csv.h"
#include "trk_tool.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trk score TRUTH [RESULT] [OPTIONS]\n"
            "\n"
            "Scores reconstruction output against truth, summed over all events:\n"
            "  - the TrackML score (double majority, weighted; mean over events of score /\n"
            "    event weight, as the challenge ranked it)\n"
            "  - track efficiency, fake rate and duplicate rate under two matching rules:\n"
            "    TrackML double majority (>50%% of the track's hits from the particle and\n"
            "    >50%% of the particle's hits in the track) and CMS (>=75%% of the track's\n"
            "    hits from the particle)\n"
            "  - vertex efficiency, fake, merge and split rates (matched by track content\n"
            "    when RESULT has reco_track_vertex, else by nearest z)\n"
            "\n"
            "TRUTH   an event file with truth columns (trk gen), or a TrackML event prefix\n"
            "        (DIR/event000000001 for DIR/event000000001-hits.csv[.gz] etc.)\n"
            "RESULT  an event file with reco_* columns, event i scored against TRUTH event i;\n"
            "        or a TrackML submission CSV (hit_id,track_id[,event_id]); omitted or the\n"
            "        same path: TRUTH holds the reco_* columns too\n"
            "\n"
            "Reconstructable particles (efficiency denominator): charged, >= --min-hits hits,\n"
            "pT >= --min-pt, |eta| <= --max-eta. CMS truth is per digi: a cluster's particle\n"
            "is the one most of its digis come from.\n"
            "\n"
            "  --json FILE              also write the result as JSON ('-': stdout, and the\n"
            "                           table goes to stderr)\n"
            "  --plots DIR              write efficiency_pt.png and efficiency_eta.png into DIR\n"
            "                           (needs a build with cairo)\n"
            "  --min-pt GEV             default 0.5\n"
            "  --max-eta X              default 4\n"
            "  --min-hits N             default 3\n"
            "  --max-prod-r MM          only particles produced within MM of the beam line\n"
            "                           (prompt ones; default: no cut)\n"
            "  --vertex-window MM       z window when matching vertices by position (default 1)\n"
            "  --vertex-min-particles N truth vertices count with >= N reconstructable\n"
            "                           particles (default 2)\n"
            "  --vertex-rule dm|cms75   track matching used to match vertices by content\n"
            "                           (default dm)\n"
            "  --bins                   print the efficiency per pT and eta bin\n"
            "  --per-event              print one line per event\n"
            "  -h, --help               this help\n"
            "\n"
            "Exit status: 0 scored, 1 an input could not be read or scored, 2 usage.\n");
}

enum src_kind { SRC_EVFILE, SRC_TRACKML, SRC_SUBMISSION };

struct source {
    const char *role, *path;
    enum src_kind kind;
    struct trk_evfile *f;
    size_t n;
};

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static bool trackml_prefix(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s-hits.csv", path);
    if (is_file(buf))
        return true;
    snprintf(buf, sizeof buf, "%s-hits.csv.gz", path);
    return is_file(buf);
}

/* Opens path as role ("TRUTH"/"RESULT"); prints why not and returns false. */
static bool open_source(struct source *s, const char *role, const char *path, bool result)
{
    memset(s, 0, sizeof *s);
    s->role = role;
    s->path = path;
    bool csv = ends_with(path, ".csv") || ends_with(path, ".csv.gz");
    if (is_file(path) && csv) {
        if (!result) {
            fprintf(stderr,
                    "trk score: TRUTH '%s' is a CSV file: give the TrackML event prefix "
                    "instead (the path without -hits.csv, e.g. DIR/event000000001)\n",
                    path);
            return false;
        }
        s->kind = SRC_SUBMISSION;
        return true;
    }
    if (!is_file(path) && trackml_prefix(path)) {
        if (result) {
            fprintf(stderr,
                    "trk score: RESULT '%s' is a TrackML event prefix; TrackML events hold no "
                    "tracks: give a submission CSV or an event file with reco_* columns\n",
                    path);
            return false;
        }
        s->kind = SRC_TRACKML;
        s->n = 1;
        return true;
    }
    if (is_dir(path)) {
        fprintf(stderr,
                "trk score: %s '%s' is a folder: give an event file%s\n", role, path,
                result ? " or a TrackML submission CSV"
                       : " or a TrackML event prefix such as DIR/event000000001");
        return false;
    }
    if (!is_file(path)) {
        fprintf(stderr, "trk score: %s '%s': no such file%s\n", role, path,
                result ? "" : ", and no TrackML event with that prefix (-hits.csv[.gz])");
        return false;
    }
    enum trk_status st = trk_evfile_open(path, &s->f);
    if (st != TRK_OK) {
        fprintf(stderr, "trk score: %s '%s' is not a readable event file: %s (see the "
                        "message above)\n", role, path, trk_status_str(st));
        return false;
    }
    s->kind = SRC_EVFILE;
    s->n = trk_evfile_count(s->f);
    return true;
}

static enum trk_status read_event(struct source *s, size_t i, struct trk_event *ev)
{
    if (s->kind == SRC_TRACKML)
        return trk_trackml_read(s->path, ev);
    return trk_evfile_read(s->f, i, ev);
}

/* Rows of the first of the named columns the event has; 0 when none. */
static size_t event_hits(const struct trk_event *ev)
{
    static const char *names[] = {"hit_pos", "hit_particle", "hit_vlm", "hit_module"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const struct trk_tensor *t = trk_event_find(ev, names[i]);
        if (t && t->ndim >= 1)
            return (size_t)t->shape[0];
    }
    return 0;
}

static bool parse_double(const char *opt, const char *arg, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(arg, &end);
    if (!*arg || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "trk score: %s %s: give a number from %g to %g\n", opt, arg, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_int(const char *opt, const char *arg, long lo, long hi, int32_t *out)
{
    char *end = NULL;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < lo || v > hi) {
        fprintf(stderr, "trk score: %s %s: give an integer from %ld to %ld\n", opt, arg, lo,
                hi);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static void print_event_line(FILE *out, uint64_t number, const struct trk_score_result *r)
{
    fprintf(out, "event %" PRIu64 ":", number);
    if (r->trackml_events)
        fprintf(out, " TrackML %.4f",
                r->trackml_weight > 0 ? r->trackml_sum / r->trackml_weight : 0.0);
    if (r->track_events) {
        const struct trk_score_track_counts *dm = &r->rule[0], *cms = &r->rule[1];
        fprintf(out,
                " | tracks %" PRIu64 " | eff %.4f / %.4f | fake %.4f / %.4f | dup %.4f / %.4f"
                " (dm / cms75)",
                dm->tracks, trk_score_ratio(dm->matched, dm->particles, NULL),
                trk_score_ratio(cms->matched, cms->particles, NULL),
                trk_score_ratio(dm->fake, dm->tracks, NULL),
                trk_score_ratio(cms->fake, cms->tracks, NULL),
                trk_score_ratio(dm->duplicated, dm->matched, NULL),
                trk_score_ratio(cms->duplicated, cms->matched, NULL));
    }
    if (r->vertex_events)
        fprintf(out, " | vertices %" PRIu64 " reco, eff %.4f", r->vtx.reco,
                trk_score_ratio(r->vtx.truth_matched, r->vtx.truth_reconstructable, NULL));
    fprintf(out, "\n");
}

int trk_cmd_score(int argc, char **argv)
{
    enum { O_JSON = 1000, O_PLOTS, O_MINPT, O_MAXETA, O_MINHITS, O_MAXPRODR, O_VWIN, O_VMIN, O_VRULE,
           O_BINS, O_PEREVENT };
    static const struct option opts[] = {
        {"json", required_argument, 0, O_JSON},
        {"plots", required_argument, 0, O_PLOTS},
        {"min-pt", required_argument, 0, O_MINPT},
        {"max-eta", required_argument, 0, O_MAXETA},
        {"min-hits", required_argument, 0, O_MINHITS},
        {"max-prod-r", required_argument, 0, O_MAXPRODR},
        {"vertex-window", required_argument, 0, O_VWIN},
        {"vertex-min-particles", required_argument, 0, O_VMIN},
        {"vertex-rule", required_argument, 0, O_VRULE},
        {"bins", no_argument, 0, O_BINS},
        {"per-event", no_argument, 0, O_PEREVENT},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    struct trk_score_config cfg;
    trk_score_config_default(&cfg);
    const char *json = NULL, *plots = NULL;
    int bins = 0, per_event = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_JSON: json = optarg; break;
        case O_PLOTS: plots = optarg; break;
        case O_MINPT:
            if (!parse_double("--min-pt", optarg, 0, 1e6, &cfg.min_pt))
                return 2;
            break;
        case O_MAXETA:
            if (!parse_double("--max-eta", optarg, 0, 100, &cfg.max_eta))
                return 2;
            break;
        case O_MINHITS:
            if (!parse_int("--min-hits", optarg, 0, 1000000, &cfg.min_hits))
                return 2;
            break;
        case O_MAXPRODR:
            if (!parse_double("--max-prod-r", optarg, 0, 1e6, &cfg.max_prod_r))
                return 2;
            break;
        case O_VWIN:
            if (!parse_double("--vertex-window", optarg, 0, 1e6, &cfg.vertex_z_window))
                return 2;
            break;
        case O_VMIN:
            if (!parse_int("--vertex-min-particles", optarg, 0, 1000000,
                           &cfg.vertex_min_particles))
                return 2;
            break;
        case O_VRULE:
            if (!strcmp(optarg, "dm") || !strcmp(optarg, "double_majority"))
                cfg.vertex_rule = TRK_SCORE_DOUBLE_MAJORITY;
            else if (!strcmp(optarg, "cms75") || !strcmp(optarg, "cms"))
                cfg.vertex_rule = TRK_SCORE_CMS75;
            else {
                fprintf(stderr, "trk score: --vertex-rule %s: use dm or cms75\n", optarg);
                return 2;
            }
            break;
        case O_BINS: bins = 1; break;
        case O_PEREVENT: per_event = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2) {
        if (npos < 1)
            fprintf(stderr, "trk score: give the TRUTH input and the RESULT (see --help)\n");
        else
            fprintf(stderr, "trk score: unexpected argument '%s': give TRUTH and RESULT "
                            "(see --help)\n", argv[optind + 2]);
        return 2;
    }
    if (plots && !trk_plot_available()) {
        fprintf(stderr, "trk score: --plots: this trk was built without cairo, which draws "
                        "the PNGs: install libcairo2-dev (Debian/Ubuntu; cairo-devel on "
                        "Fedora) and rebuild\n");
        return 1;
    }
    const char *truth_path = argv[optind];
    const char *result_path = npos == 2 ? argv[optind + 1] : truth_path;
    bool same = !strcmp(truth_path, result_path);

    int rc = 1;
    struct source truth, result;
    memset(&truth, 0, sizeof truth);
    memset(&result, 0, sizeof result);
    FILE *jf = NULL; /* opened first: a bad path fails before the work */
    FILE *txt = json && !strcmp(json, "-") ? stderr : stdout; /* stdout: JSON only */
    if (json) {
        jf = strcmp(json, "-") ? fopen(json, "w") : stdout;
        if (!jf) {
            fprintf(stderr, "trk score: --json %s: cannot create the file: %s\n", json,
                    strerror(errno));
            return 1;
        }
    }
    if (!open_source(&truth, "TRUTH", truth_path, false))
        goto done;
    if (!same && !open_source(&result, "RESULT", result_path, true))
        goto done;
    if (truth.n == 0) {
        fprintf(stderr, "trk score: TRUTH '%s' holds no events\n", truth_path);
        goto done;
    }
    if (!same && result.kind == SRC_EVFILE && result.n != truth.n) {
        fprintf(stderr, "trk score: TRUTH '%s' has %zu event(s) but RESULT '%s' has %zu: "
                        "event i of RESULT is scored against event i of TRUTH\n",
                truth_path, truth.n, result_path, result.n);
        goto done;
    }

    struct trk_score_result total;
    trk_score_result_init(&total, &cfg);
    bool warned_numbers = false;
    for (size_t i = 0; i < truth.n; i++) {
        struct trk_event tev, rev;
        trk_event_init(&rev, 0);
        enum trk_status st = read_event(&truth, i, &tev);
        if (st != TRK_OK) {
            fprintf(stderr, "trk score: cannot read event %zu of TRUTH '%s': %s (see the "
                            "message above)\n", i, truth_path, trk_status_str(st));
            goto done;
        }
        const struct trk_event *reco = &tev;
        if (!same && result.kind == SRC_SUBMISSION) {
            size_t nh = event_hits(&tev);
            if (!nh) {
                fprintf(stderr, "trk score: RESULT '%s' is a TrackML submission but event %zu "
                                "of TRUTH '%s' has no hits (hit_pos / hit_particle)\n",
                        result_path, i, truth_path);
                trk_event_fini(&tev);
                goto done;
            }
            st = trk_trackml_read_submission(result_path, nh, &tev);
            if (st != TRK_OK) {
                fprintf(stderr, "trk score: cannot read the submission RESULT '%s' for event "
                                "%" PRIu64 " of TRUTH '%s': %s (see the message above)\n",
                        result_path, tev.number, truth_path, trk_status_str(st));
                trk_event_fini(&tev);
                goto done;
            }
        } else if (!same) {
            st = read_event(&result, i, &rev);
            if (st != TRK_OK) {
                fprintf(stderr, "trk score: cannot read event %zu of RESULT '%s': %s (see the "
                                "message above)\n", i, result_path, trk_status_str(st));
                trk_event_fini(&tev);
                goto done;
            }
            if (rev.number != tev.number && !warned_numbers) {
                fprintf(stderr, "trk score: warning: event %zu is number %" PRIu64 " in TRUTH "
                                "but %" PRIu64 " in RESULT; pairing events by position\n",
                        i, tev.number, rev.number);
                warned_numbers = true;
            }
            reco = &rev;
        }
        struct trk_score_result one;
        trk_score_result_init(&one, &cfg);
        st = trk_score_event(&tev, reco, &cfg, &one);
        if (st != TRK_OK) {
            fprintf(stderr, "trk score: cannot score event %zu (number %" PRIu64 ") of TRUTH "
                            "'%s' against RESULT '%s': %s (see the message above)\n",
                    i, tev.number, truth_path, result_path, trk_status_str(st));
            trk_event_fini(&tev);
            trk_event_fini(&rev);
            goto done;
        }
        if (per_event)
            print_event_line(txt, tev.number, &one);
        trk_score_result_add(&total, &one);
        trk_event_fini(&tev);
        trk_event_fini(&rev);
    }

    fprintf(txt, "TRUTH  %s\nRESULT %s\n", truth_path, same ? "(the same input)" : result_path);
    if (trk_score_write_text(&total, txt, bins) != TRK_OK) {
        fprintf(stderr, "trk score: cannot write the table\n");
        goto done;
    }
    if (jf) {
        enum trk_status st = trk_score_write_json(&total, jf);
        int closed = jf != stdout ? fclose(jf) : fflush(jf);
        jf = NULL;
        if (closed != 0 || st != TRK_OK) {
            fprintf(stderr, "trk score: --json %s: cannot write the JSON\n", json);
            goto done;
        }
    }
    if (plots) {
        char written[8192] = "";
        enum trk_status st = trk_plot_score(&total, plots, written, sizeof written);
        if (st != TRK_OK) {
            fprintf(stderr, "trk score: --plots %s: %s (see the message above)\n", plots,
                    trk_status_str(st));
            goto done;
        }
        fprintf(txt, "\nPlots: %s\n", written);
    }
    rc = 0;
done:
    if (jf && jf != stdout)
        fclose(jf);
    trk_evfile_close(truth.f);
    trk_evfile_close(result.f);
    return rc;
}
