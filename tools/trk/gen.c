/* trk gen — simulated events: particles, propagation, then CMS raw data or TrackML
 * spacepoints, written to an event file (or TrackML CSV). Events are made in
 * parallel, one per thread, and written in order; the run is deterministic for a
 * seed whatever the thread count. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trk/cms.h"
#include "trk/data.h"
#include "trk/evfile.h"
#include "trk/gen.h"
#include "trk/trackml.h"
#include "trk/trackml_csv.h"
#include "trk_tool.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: trk gen [OPTIONS] -o OUTPUT\n"
            "\n"
            "Simulates events: a ttbar-like hard scatter plus Poisson pile-up, propagated\n"
            "through the detector, digitised (CMS: raw FED data, zstd-compressed; TrackML:\n"
            "spacepoints with cells), with full truth.\n"
            "\n"
            "  -d, --detector cms|trackml  detector (default cms)\n"
            "  -p, --pileup MU             mean pile-up (default 50 for cms, 200 for trackml)\n"
            "  -n, --events N              number of events (default 10)\n"
            "  -s, --seed S                random seed (default 1); same seed, same events\n"
            "      --first N               number of the first event (default 0)\n"
            "  -g, --geometry CSV|data     module geometry from a CSV (cms_phase1_pixel_modules.csv\n"
            "                              or detectors.csv); 'data' takes it from TRK_DATA_DIR;\n"
            "                              default: the built-in layout\n"
            "  -o, --output PATH           event file to write (.trkev), or a folder for --format csv\n"
            "  -f, --format evfile|csv     event file (default) or TrackML CSV (trackml only)\n"
            "      --gzip                  with --format csv: write .csv.gz\n"
            "      --conditions DIR        cms: write the cabling map, gains and beam spot here\n"
            "                              (default OUTPUT.conditions)\n"
            "      --no-hard-scatter       pile-up only\n"
            "  -j, --threads N             generator threads (default: all cores)\n"
            "  -q, --quiet                 no progress lines\n"
            "  -h, --help                  this help\n"
            "\n"
            "Prints the event rate and the time per event in each stage when done.\n");
}

struct job {
    const struct trk_gen_config *cfg;
    const struct trk_detector *det;
    const struct trk_cms_conditions *cond;
    uint64_t first;
    size_t nevents;
    struct trk_event *slots;    /* one per event of the current batch */
    enum trk_status *status;
    size_t batch_first, batch_n;
    atomic_size_t next;
    double t_truth, t_digi;     /* summed seconds, guarded by lock */
    uint64_t nsimhits, nparticles;
    pthread_mutex_t lock;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static enum trk_status make_event(struct job *j, uint64_t number, struct trk_truth *truth,
                                  struct trk_event *ev, double *tt, double *td)
{
    double t0 = now();
    enum trk_status st = trk_gen_truth(j->cfg, j->det, number, truth);
    double t1 = now();
    trk_event_init(ev, number);
    if (st == TRK_OK)
        st = trk_truth_to_event(truth, ev);
    struct trk_rng rng;
    trk_rng_seed(&rng, j->cfg->seed ^ 0x5eed0d161ull, number);
    if (st == TRK_OK) {
        if (j->det->kind == TRK_DETECTOR_CMS)
            st = trk_cms_digitize(j->det, j->cond, truth, &rng, ev);
        else
            st = trk_trackml_digitize(j->det, truth, &rng, ev);
    }
    *tt += t1 - t0;
    *td += now() - t1;
    return st;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct trk_truth truth;
    trk_truth_init(&truth);
    double tt = 0, td = 0;
    uint64_t nsim = 0, npart = 0;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->batch_n)
            break;
        uint64_t number = j->first + j->batch_first + i;
        j->status[i] = make_event(j, number, &truth, &j->slots[i], &tt, &td);
        nsim += truth.nsimhits;
        npart += truth.nparticles;
    }
    trk_truth_fini(&truth);
    pthread_mutex_lock(&j->lock);
    j->t_truth += tt;
    j->t_digi += td;
    j->nsimhits += nsim;
    j->nparticles += npart;
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static int mkdir_p(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "trk gen: cannot create folder %s: %s\n", dir, strerror(errno));
    return -1;
}

int trk_cmd_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"detector", required_argument, 0, 'd'}, {"pileup", required_argument, 0, 'p'},
        {"events", required_argument, 0, 'n'},   {"seed", required_argument, 0, 's'},
        {"first", required_argument, 0, 'F'},    {"geometry", required_argument, 0, 'g'},
        {"output", required_argument, 0, 'o'},   {"format", required_argument, 0, 'f'},
        {"gzip", no_argument, 0, 'z'},           {"conditions", required_argument, 0, 'C'},
        {"no-hard-scatter", no_argument, 0, 'H'}, {"threads", required_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *detname = "cms", *geometry = NULL, *output = NULL, *format = "evfile";
    const char *conddir = NULL;
    double pileup = -1;
    long nevents = 10, nthreads = 0;
    unsigned long long seed = 1, first = 0;
    int gz = 0, quiet = 0, no_hs = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:p:n:s:g:o:f:j:qh", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'd': detname = optarg; break;
        case 'p':
            pileup = strtod(optarg, &end);
            if (*end || pileup < 0 || pileup > 10000) {
                fprintf(stderr, "trk gen: --pileup %s: give a number from 0 to 10000\n", optarg);
                return 2;
            }
            break;
        case 'n':
            nevents = strtol(optarg, &end, 10);
            if (*end || nevents < 1) {
                fprintf(stderr, "trk gen: --events %s: give a positive count\n", optarg);
                return 2;
            }
            break;
        case 's':
            seed = strtoull(optarg, &end, 0);
            if (*end) {
                fprintf(stderr, "trk gen: --seed %s: give an integer\n", optarg);
                return 2;
            }
            break;
        case 'F':
            first = strtoull(optarg, &end, 0);
            if (*end) {
                fprintf(stderr, "trk gen: --first %s: give an integer\n", optarg);
                return 2;
            }
            break;
        case 'g': geometry = optarg; break;
        case 'o': output = optarg; break;
        case 'f': format = optarg; break;
        case 'z': gz = 1; break;
        case 'C': conddir = optarg; break;
        case 'H': no_hs = 1; break;
        case 'j':
            nthreads = strtol(optarg, &end, 10);
            if (*end || nthreads < 1 || nthreads > 1024) {
                fprintf(stderr, "trk gen: --threads %s: give 1 to 1024\n", optarg);
                return 2;
            }
            break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trk gen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!output) {
        fprintf(stderr, "trk gen: say where to write the events with -o FILE\n\n");
        usage(stderr);
        return 2;
    }
    enum trk_detector_kind kind;
    if (!strcmp(detname, "cms"))
        kind = TRK_DETECTOR_CMS;
    else if (!strcmp(detname, "trackml"))
        kind = TRK_DETECTOR_TRACKML;
    else {
        fprintf(stderr, "trk gen: --detector %s: use cms or trackml\n", detname);
        return 2;
    }
    int csv = !strcmp(format, "csv");
    if (!csv && strcmp(format, "evfile")) {
        fprintf(stderr, "trk gen: --format %s: use evfile or csv\n", format);
        return 2;
    }
    if (csv && kind != TRK_DETECTOR_TRACKML) {
        fprintf(stderr, "trk gen: --format csv is the TrackML format; use it with "
                        "--detector trackml\n");
        return 2;
    }
    char geopath[4096];
    if (geometry && !strcmp(geometry, "data")) {
        const char *rel = kind == TRK_DETECTOR_CMS ? "cms/cms_phase1_pixel_modules.csv"
                                                   : "trackml/detectors.csv";
        if (!trk_data_path(rel, geopath, sizeof geopath)) {
            fprintf(stderr, "trk gen: --geometry data: %s not found (set TRK_DATA_DIR)\n",
                    geopath);
            return 1;
        }
        geometry = geopath;
    }
    if (nthreads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n > 0 ? n : 1;
    }
    if (nthreads > nevents)
        nthreads = nevents;

    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, kind);
    cfg.seed = seed;
    if (pileup >= 0)
        cfg.pileup = pileup;
    if (no_hs)
        cfg.hard_scatter = 0;

    int rc = 1;
    struct trk_detector *det = NULL;
    struct trk_cms_conditions *cond = NULL;
    struct trk_evfile_writer *w = NULL;
    struct job j;
    memset(&j, 0, sizeof j);
    pthread_mutex_init(&j.lock, NULL);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    j.slots = calloc((size_t)nthreads, sizeof *j.slots);
    j.status = calloc((size_t)nthreads, sizeof *j.status);
    if (!th || !j.slots || !j.status) {
        fprintf(stderr, "trk gen: out of memory\n");
        goto out;
    }
    if (trk_detector_load(detname, geometry, &det) != TRK_OK) {
        fprintf(stderr, "trk gen: cannot load the %s detector%s%s (see the message above)\n",
                detname, geometry ? " from " : "", geometry ? geometry : "");
        goto out;
    }
    if (kind == TRK_DETECTOR_CMS) {
        char defdir[4096];
        if (!conddir) {
            snprintf(defdir, sizeof defdir, "%s.conditions", output);
            conddir = defdir;
        }
        if (trk_cms_conditions_make(det, cfg.seed, &cond) != TRK_OK || mkdir_p(conddir) ||
            trk_cms_conditions_write(cond, conddir) != TRK_OK) {
            fprintf(stderr, "trk gen: cannot write the CMS conditions to %s\n", conddir);
            goto out;
        }
    }
    char meta[1024];
    snprintf(meta, sizeof meta,
             "generator=trk gen\ndetector=%s\ngeometry=%s\nseed=%llu\npileup=%g\n"
             "hard_scatter=%d\nfirst_event=%llu\nevents=%ld\n",
             det->name, det->source, seed, cfg.pileup, cfg.hard_scatter, first, nevents);
    if (csv) {
        if (mkdir_p(output))
            goto out;
    } else if (trk_evfile_create(output, kind, meta, &w) != TRK_OK) {
        fprintf(stderr, "trk gen: cannot create %s\n", output);
        goto out;
    }
    if (!quiet)
        fprintf(stderr, "trk gen: %ld %s events, pile-up %g, seed %llu, %s geometry (%zu "
                        "modules), %ld threads -> %s\n",
                nevents, detname, cfg.pileup, seed, det->source, det->nmodules, nthreads,
                output);
    j.cfg = &cfg;
    j.det = det;
    j.cond = cond;
    j.first = first;
    j.nevents = (size_t)nevents;
    double t0 = now(), last_print = t0, t_write = 0;
    uint64_t bytes_raw = 0;
    for (size_t b = 0; b < (size_t)nevents; b += (size_t)nthreads) {
        j.batch_first = b;
        j.batch_n = (size_t)nevents - b < (size_t)nthreads ? (size_t)nevents - b
                                                           : (size_t)nthreads;
        atomic_store(&j.next, 0);
        size_t nt = j.batch_n;
        for (size_t t = 0; t < nt; t++)
            if (pthread_create(&th[t], NULL, worker, &j)) {
                nt = t;
                break;
            }
        if (nt == 0)
            worker(&j);
        for (size_t t = 0; t < nt; t++)
            pthread_join(th[t], NULL);
        double tw = now();
        enum trk_status st = TRK_OK;
        for (size_t i = 0; i < j.batch_n; i++) {
            struct trk_event *ev = &j.slots[i];
            if (st == TRK_OK && j.status[i] != TRK_OK) {
                st = j.status[i];
                fprintf(stderr, "trk gen: event %llu: %s\n",
                        (unsigned long long)(first + b + i), trk_status_str(st));
            }
            if (st == TRK_OK) {
                const struct trk_tensor *raw = trk_event_find(ev, "raw_zstd");
                if (raw)
                    bytes_raw += raw->nbytes;
                if (csv) {
                    char prefix[4096];
                    snprintf(prefix, sizeof prefix, "%s/event%09llu", output,
                             (unsigned long long)ev->number);
                    st = trk_trackml_write(prefix, ev, gz);
                } else {
                    st = trk_evfile_append(w, ev);
                }
                if (st != TRK_OK)
                    fprintf(stderr, "trk gen: writing event %llu to %s: %s\n",
                            (unsigned long long)ev->number, output, trk_status_str(st));
            }
            trk_event_fini(ev);
        }
        t_write += now() - tw;
        if (st != TRK_OK)
            goto out;
        double tn = now();
        size_t done = b + j.batch_n;
        if (!quiet && (tn - last_print > 2.0 || done == (size_t)nevents)) {
            fprintf(stderr, "trk gen: %zu/%ld events, %.1f events/s\n", done, nevents,
                    (double)done / (tn - t0));
            last_print = tn;
        }
    }
    if (w) {
        enum trk_status st = trk_evfile_finish(w);
        w = NULL;
        if (st != TRK_OK) {
            fprintf(stderr, "trk gen: finishing %s: %s\n", output, trk_status_str(st));
            goto out;
        }
    }
    double wall = now() - t0;
    printf("trk gen: %ld events in %.2f s: %.2f events/s with %ld threads\n", nevents, wall,
           (double)nevents / wall, nthreads);
    printf("  per event, one core: %.3f s generate+propagate, %.3f s digitise, %.3f s write\n",
           j.t_truth / (double)nevents, j.t_digi / (double)nevents, t_write / (double)nevents);
    printf("  per event: %.0f particles, %.0f sensor crossings", (double)j.nparticles / nevents,
           (double)j.nsimhits / nevents);
    if (bytes_raw)
        printf(", %.1f kB compressed raw data", (double)bytes_raw / nevents / 1e3);
    printf("\n");
    rc = 0;
out:
    if (w)
        trk_evfile_finish(w);
    trk_cms_conditions_free(cond);
    trk_detector_free(det);
    free(th);
    free(j.slots);
    free(j.status);
    pthread_mutex_destroy(&j.lock);
    return rc;
}
