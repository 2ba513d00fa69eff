/* trk reco patatrack — runs Patatrack on an event file in-process; trk bench patatrack —
 * its throughput on every device at PU 50 and PU 200, with time per stage and memory. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "trk/cms.h"
#include "trk/evfile.h"
#include "trk/gen.h"
#include "trk/patatrack.h"
#include "trk_tool.h"

static const char *const k_stage_names[10] = {
    "unpack+upload", "raw2digi", "calib", "clusters", "hits", "doublets", "ca+ntuplets",
    "fit+clean", "vertices", "read back"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void reco_usage(FILE *out)
{
    fprintf(out,
            "usage: trk reco patatrack EVENTS [options]\n"
            "       trk reco exatrkx INPUT [options]   (see trk reco exatrkx --help)\n"
            "\n"
            "Reconstructs pixel tracks and vertices from the raw data (raw_zstd) of every CMS\n"
            "event in EVENTS (a trk gen event file), in-process on one device, and writes\n"
            "the reco_* columns trk score reads (clusters as digi lists, tracks as hit lists,\n"
            "track parameters, vertices) to RESULT: then `trk score EVENTS RESULT`.\n"
            "\n"
            "options:\n"
            "  -o, --output RESULT     event file to write (default: none, only the summary)\n"
            "  -d, --device SPEC       cpu, opencl, cuda:1, ... (default cpu)\n"
            "  -C, --conditions DIR    the conditions the events were made with (default\n"
            "                          EVENTS.conditions, as trk gen writes them)\n"
            "  -g, --geometry CSV      module frames from cms_phase1_pixel_modules.csv\n"
            "                          (default: the built-in layout trk gen uses)\n"
            "  -n, --events N          only the first N events\n"
            "  -p, --profile           drain the queue between stages and print time per stage\n"
            "  -h, --help\n"
            "Environment: TRK_NUM_THREADS sets the CPU device's threads.\n");
}

/* Loads the detector (CSV or built-in) and conditions (DIR). Prints why on failure. */
static int load_cms(const char *geometry, const char *conddir, struct trk_detector **det,
                    struct trk_cms_conditions **cond)
{
    enum trk_status st = trk_detector_load("cms", geometry, det);
    if (st != TRK_OK) {
        fprintf(stderr, "trk: cannot load the CMS geometry %s: %s\n",
                geometry ? geometry : "(built-in)", trk_status_str(st));
        return 1;
    }
    st = trk_cms_conditions_read(conddir, cond);
    if (st != TRK_OK) {
        fprintf(stderr,
                "trk: cannot read the CMS conditions in %s: %s (give the folder trk gen "
                "wrote with --conditions; see the message above)\n",
                conddir, trk_status_str(st));
        return 1;
    }
    return 0;
}

static int cmd_reco_patatrack(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},   {"device", required_argument, 0, 'd'},
        {"conditions", required_argument, 0, 'C'}, {"geometry", required_argument, 0, 'g'},
        {"events", required_argument, 0, 'n'},   {"profile", no_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *output = NULL, *device = "cpu", *conddir = NULL, *geometry = NULL;
    long maxev = -1;
    bool profile = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:d:C:g:n:ph", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'd': device = optarg; break;
        case 'C': conddir = optarg; break;
        case 'g': geometry = optarg; break;
        case 'n': {
            char *end;
            maxev = strtol(optarg, &end, 10);
            if (*end || maxev < 0) {
                fprintf(stderr, "trk reco: --events %s: give a count >= 0\n", optarg);
                return 2;
            }
            break;
        }
        case 'p': profile = true; break;
        case 'h': reco_usage(stdout); return 0;
        default: reco_usage(stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "trk reco patatrack: give exactly one EVENTS file (see --help)\n");
        return 2;
    }
    const char *events = argv[optind];
    char defcond[4096];
    if (!conddir) {
        snprintf(defcond, sizeof defcond, "%s.conditions", events);
        conddir = defcond;
    }
    struct trk_evfile *in = NULL;
    struct trk_evfile_writer *out = NULL;
    struct trk_registry *reg = NULL;
    struct trk_detector *det = NULL;
    struct trk_cms_conditions *cond = NULL;
    struct trk_pt_instance *pt = NULL;
    struct trk_pt_result res;
    trk_pt_result_init(&res);
    int rc = 1;
    enum trk_status st = trk_evfile_open(events, &in);
    if (st != TRK_OK) {
        fprintf(stderr, "trk reco: cannot open %s: %s\n", events, trk_status_str(st));
        goto done;
    }
    if (trk_evfile_detector(in) != TRK_DETECTOR_CMS) {
        fprintf(stderr, "trk reco patatrack: %s holds no CMS events (make them with "
                        "trk gen --detector cms)\n", events);
        goto done;
    }
    if (load_cms(geometry, conddir, &det, &cond))
        goto done;
    if (!(reg = trk_tool_open_registry()))
        goto done;
    struct trk_device *dev;
    if (trk_registry_select(reg, device, &dev) != TRK_OK) {
        fprintf(stderr, "trk reco: no device '%s' (trk devices lists them)\n", device);
        goto done;
    }
    st = trk_pt_instance_create(dev, cond, det, NULL, &pt);
    if (st != TRK_OK) {
        fprintf(stderr, "trk reco: cannot set up patatrack on %s: %s (see the message above)\n",
                trk_device_id(dev), trk_status_str(st));
        goto done;
    }
    if (output && (st = trk_evfile_create(output, TRK_DETECTOR_CMS, "trk reco patatrack",
                                          &out)) != TRK_OK) {
        fprintf(stderr, "trk reco: cannot create %s: %s\n", output, trk_status_str(st));
        goto done;
    }
    size_t nev = trk_evfile_count(in);
    if (maxev >= 0 && (size_t)maxev < nev)
        nev = (size_t)maxev;
    fprintf(stderr, "trk reco patatrack: %zu event%s from %s on %s (%s of device memory)\n", nev,
            nev == 1 ? "" : "s", events, trk_device_id(dev),
            trk_tool_bytes(trk_pt_memory_bytes(pt), (char[32]){0}, 32));
    double stage[10] = {0}, t_run = 0;
    uint64_t ntracks = 0, nvert = 0, nhits = 0, nerr = 0, novf = 0;
    size_t bad = 0;
    for (size_t i = 0; i < nev; i++) {
        struct trk_event ev;
        trk_event_init(&ev, 0);
        if ((st = trk_evfile_read(in, i, &ev)) != TRK_OK) {
            fprintf(stderr, "trk reco: cannot read event %zu of %s: %s\n", i, events,
                    trk_status_str(st));
            trk_event_fini(&ev);
            goto done;
        }
        size_t n;
        const uint8_t *raw = trk_event_column(&ev, "raw_zstd", TRK_DTYPE_UINT8, 0, &n);
        struct trk_event reco;
        trk_event_init(&reco, ev.number);
        if (!raw) {
            fprintf(stderr, "trk reco: event %zu has no raw_zstd column\n", i);
            trk_event_fini(&ev);
            goto done;
        }
        double t0 = now_s();
        st = trk_pt_run(pt, raw, n, &res, profile);
        t_run += now_s() - t0;
        if (st == TRK_ERR_PARSE) {
            bad++; /* a corrupt event: written empty, counted */
            fprintf(stderr, "trk reco: event %zu (number %" PRIu64 "): corrupt raw data, "
                            "skipped (see the message above)\n", i, ev.number);
        } else if (st != TRK_OK) {
            fprintf(stderr, "trk reco: event %zu failed: %s\n", i, trk_status_str(st));
            trk_event_fini(&ev);
            trk_event_fini(&reco);
            goto done;
        } else {
            for (int s = 0; s < 10; s++)
                stage[s] += res.stage_ms[s];
            ntracks += res.ntracks;
            nvert += res.nvertices;
            nhits += res.nhits;
            nerr += res.counts.errors;
            novf += res.counts.overflow_words + res.counts.overflow_hits +
                    res.counts.overflow_doublets + res.counts.overflow_tuples +
                    res.counts.overflow_vertices + res.counts.overflow_cell_links;
            if (out)
                st = trk_pt_result_to_event(&res, &reco);
        }
        if (st == TRK_OK && out)
            st = trk_evfile_append(out, &reco);
        trk_event_fini(&ev);
        trk_event_fini(&reco);
        if (out && st != TRK_OK && st != TRK_ERR_PARSE) {
            fprintf(stderr, "trk reco: cannot write %s: %s\n", output, trk_status_str(st));
            goto done;
        }
        if (nev >= 20 && (i + 1) % (nev / 10) == 0)
            fprintf(stderr, "  %zu/%zu events, %.1f events/s\n", i + 1, nev, (i + 1) / t_run);
    }
    if (out && (st = trk_evfile_finish(out)) != TRK_OK) {
        out = NULL;
        fprintf(stderr, "trk reco: cannot finish %s: %s\n", output, trk_status_str(st));
        goto done;
    }
    out = NULL;
    size_t good = nev - bad;
    printf("patatrack on %s: %zu events in %.3f s, %.1f events/s; per event %.0f hits, "
           "%.1f tracks, %.1f vertices; %" PRIu64 " data errors, %" PRIu64 " overflows, "
           "%zu corrupt events\n",
           trk_device_id(dev), nev, t_run, nev / (t_run > 0 ? t_run : 1),
           good ? (double)nhits / good : 0., good ? (double)ntracks / good : 0.,
           good ? (double)nvert / good : 0., nerr, novf, bad);
    if (profile && good) {
        printf("time per event by stage (ms):");
        for (int s = 0; s < 10; s++)
            printf(" %s %.2f%s", k_stage_names[s], stage[s] / good, s < 9 ? "," : "\n");
    }
    if (output)
        printf("wrote %s (score it: trk score %s %s)\n", output, events, output);
    rc = 0;
done:
    if (out)
        (void)trk_evfile_finish(out);
    trk_pt_result_fini(&res);
    trk_pt_instance_free(pt);
    trk_registry_close(reg);
    trk_cms_conditions_free(cond);
    trk_detector_free(det);
    trk_evfile_close(in);
    return rc;
}

int trk_cmd_reco(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        reco_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "patatrack"))
        return cmd_reco_patatrack(argc - 1, argv + 1);
    if (!strcmp(argv[1], "exatrkx"))
        return trk_cmd_reco_exatrkx(argc - 1, argv + 1);
    fprintf(stderr, "trk reco: unknown tracker '%s' (available: patatrack, exatrkx)\n",
            argv[1]);
    return 2;
}

/* ---- trk bench patatrack ------------------------------------------------------ */

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: trk bench patatrack [options]\n"
            "\n"
            "Generates CMS events in memory (PU 50 and PU 200 by default), then runs Patatrack\n"
            "on each device: events/s over all events after one warm-up event, time per\n"
            "stage from a second pass that drains the queue between stages, and the device\n"
            "memory one instance holds. The CPU device runs with each --threads count.\n"
            "\n"
            "options:\n"
            "  --pileup LIST       comma-separated mean pile-up values (default 50,200)\n"
            "  --events N          events per pile-up value (default 20)\n"
            "  --devices LIST      comma-separated device specs (default: cpu and every\n"
            "                      other device present)\n"
            "  --threads LIST      CPU device threads to try (default 1,2)\n"
            "  --seed N            generator and conditions seed (default 1)\n"
            "  -h, --help\n");
}

static int parse_list(const char *s, long *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0)
            return -1;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

struct bench_events {
    size_t n;
    uint8_t **raw;
    size_t *nraw;
    double digis;
};

static int make_events(const struct trk_detector *det, const struct trk_cms_conditions *cond,
                       long pileup, long nev, uint64_t seed, struct bench_events *be)
{
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.pileup = (double)pileup;
    cfg.seed = seed;
    be->n = 0;
    be->raw = calloc((size_t)nev, sizeof *be->raw);
    be->nraw = calloc((size_t)nev, sizeof *be->nraw);
    if (!be->raw || !be->nraw)
        return 1;
    struct trk_truth t;
    trk_truth_init(&t);
    int rc = 0;
    for (long i = 0; i < nev && !rc; i++) {
        struct trk_event ev;
        trk_event_init(&ev, (uint64_t)i);
        struct trk_rng rng;
        trk_rng_seed(&rng, seed ^ 0x5eed0d161ull, (uint64_t)i);
        size_t n = 0;
        const uint8_t *raw = NULL;
        if (trk_gen_truth(&cfg, det, (uint64_t)i, &t) != TRK_OK ||
            trk_cms_digitize(det, cond, &t, &rng, &ev) != TRK_OK ||
            !(raw = trk_event_column(&ev, "raw_zstd", TRK_DTYPE_UINT8, 0, &n)) ||
            !(be->raw[i] = malloc(n ? n : 1))) {
            fprintf(stderr, "trk bench: cannot generate event %ld at PU %ld\n", i, pileup);
            rc = 1;
        } else {
            memcpy(be->raw[i], raw, n);
            be->nraw[i] = n;
            be->n++;
            size_t nd;
            if (trk_event_column(&ev, "digi_adc", TRK_DTYPE_UINT8, 0, &nd))
                be->digis += (double)nd;
        }
        trk_event_fini(&ev);
    }
    trk_truth_fini(&t);
    return rc;
}

static void free_events(struct bench_events *be)
{
    for (size_t i = 0; i < be->n; i++)
        free(be->raw[i]);
    free(be->raw);
    free(be->nraw);
    memset(be, 0, sizeof *be);
}

/* Runs the events on spec (with cpu_threads for the CPU device); prints one row. */
static int bench_one(const char *spec, unsigned threads, long pileup,
                     const struct trk_detector *det, const struct trk_cms_conditions *cond,
                     const struct bench_events *be)
{
    struct trk_registry_options ro = {.cpu_threads = threads};
    struct trk_registry *reg = NULL;
    struct trk_pt_instance *pt = NULL;
    struct trk_pt_result res;
    trk_pt_result_init(&res);
    int rc = 1;
    if (trk_registry_open(&ro, &reg) != TRK_OK) {
        fprintf(stderr, "trk bench: cannot open the device registry\n");
        return 1;
    }
    struct trk_device *dev;
    if (trk_registry_select(reg, spec, &dev) != TRK_OK) {
        printf("%-10s %7s %5ld  (no such device here: skipped)\n", spec, "", pileup);
        rc = 0;
        goto done;
    }
    if (trk_pt_instance_create(dev, cond, det, NULL, &pt) != TRK_OK) {
        fprintf(stderr, "trk bench: cannot set up patatrack on %s\n", spec);
        goto done;
    }
    /* warm-up (OpenCL builds its programs here) */
    if (trk_pt_run(pt, be->raw[0], be->nraw[0], &res, false) != TRK_OK)
        goto done;
    double t0 = now_s(), tracks = 0, hits = 0;
    for (size_t i = 0; i < be->n; i++) {
        if (trk_pt_run(pt, be->raw[i], be->nraw[i], &res, false) != TRK_OK)
            goto done;
        tracks += res.ntracks;
        hits += res.nhits;
    }
    double dt = now_s() - t0;
    double stage[10] = {0};
    for (size_t i = 0; i < be->n; i++) {
        if (trk_pt_run(pt, be->raw[i], be->nraw[i], &res, true) != TRK_OK)
            goto done;
        for (int s = 0; s < 10; s++)
            stage[s] += res.stage_ms[s] / be->n;
    }
    char thr[16] = "-";
    if (!strncmp(trk_device_id(dev), "cpu", 3))
        snprintf(thr, sizeof thr, "%u", threads);
    char mem[32];
    printf("%-10s %7s %5ld %8.1f %8.2f %8.0f %7.0f %9s ", trk_device_id(dev), thr, pileup,
           be->n / dt, 1e3 * dt / be->n, hits / be->n, tracks / be->n,
           trk_tool_bytes(trk_pt_memory_bytes(pt), mem, sizeof mem));
    for (int s = 0; s < 10; s++)
        printf(" %6.2f", stage[s]);
    printf("\n");
    fflush(stdout);
    rc = 0;
done:
    trk_pt_result_fini(&res);
    trk_pt_instance_free(pt);
    trk_registry_close(reg);
    return rc;
}

int trk_cmd_bench_patatrack(int argc, char **argv)
{
    long pileups[8] = {50, 200}, threads[8] = {1, 2}, nev = 20, seed = 1;
    int npu = 2, nthr = 2;
    char devlist[1024] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--pileup") && v) {
            if ((npu = parse_list(v, pileups, 8)) <= 0) {
                fprintf(stderr, "trk bench patatrack: --pileup %s: give numbers like 50,200\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--threads") && v) {
            if ((nthr = parse_list(v, threads, 8)) <= 0) {
                fprintf(stderr, "trk bench patatrack: --threads %s: give numbers like 1,2\n", v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--events") && v) {
            long x[1];
            if (parse_list(v, x, 1) != 1) {
                fprintf(stderr, "trk bench patatrack: --events %s: give a count >= 1\n", v);
                return 2;
            }
            nev = x[0];
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            long x[1];
            if (parse_list(v, x, 1) != 1) {
                fprintf(stderr, "trk bench patatrack: --seed %s: give a number >= 1\n", v);
                return 2;
            }
            seed = x[0];
            i++;
        } else if (!strcmp(a, "--devices") && v) {
            snprintf(devlist, sizeof devlist, "%s", v);
            i++;
        } else {
            fprintf(stderr, "trk bench patatrack: unknown option %s\n", a);
            bench_usage(stderr);
            return 2;
        }
    }
    struct trk_detector *det = NULL;
    struct trk_cms_conditions *cond = NULL;
    if (trk_cms_detector_builtin(&det) != TRK_OK ||
        trk_cms_conditions_make(det, (uint64_t)seed, &cond) != TRK_OK) {
        fprintf(stderr, "trk bench patatrack: cannot build the CMS detector and conditions\n");
        trk_detector_free(det);
        return 1;
    }
    if (!devlist[0])
        trk_tool_default_devices(devlist, sizeof devlist);
    printf("trk bench patatrack: %ld events per pile-up, seed %ld; devices %s\n", nev, seed,
           devlist);
    printf("%-10s %7s %5s %8s %8s %8s %7s %9s ", "device", "threads", "PU", "events/s",
           "ms/event", "hits", "tracks", "memory");
    for (int s = 0; s < 10; s++)
        printf(" %6.6s", k_stage_names[s]);
    printf("   (stage columns: ms per event)\n");
    int rc = 0;
    for (int p = 0; p < npu && !rc; p++) {
        struct bench_events be = {0};
        fprintf(stderr, "generating %ld events at PU %ld...\n", nev, pileups[p]);
        if (make_events(det, cond, pileups[p], nev, (uint64_t)seed, &be)) {
            free_events(&be);
            rc = 1;
            break;
        }
        char *list = strdup(devlist), *save = NULL;
        for (char *spec = strtok_r(list, ",", &save); spec && !rc;
             spec = strtok_r(NULL, ",", &save)) {
            if (!strncmp(spec, "cpu", 3)) {
                for (int t = 0; t < nthr && !rc; t++)
                    rc = bench_one(spec, (unsigned)threads[t], pileups[p], det, cond, &be);
            } else {
                rc = bench_one(spec, 0, pileups[p], det, cond, &be);
            }
        }
        free(list);
        free_events(&be);
    }
    trk_cms_conditions_free(cond);
    trk_detector_free(det);
    return rc;
}
