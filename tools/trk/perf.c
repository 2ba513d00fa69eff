/* trk perf: perf_analyzer's measurement for trkserve and Triton (same flag names), plus
 * the direct run of the same model in this process (--in-process / --compare-in-process)
 * and a host memcpy of the same payload measured in the same run, so that the service's
 * bytes/s are printed next to what the machine can move at all.
 *
 * Per load level (a concurrency or a request rate): measurement windows of -p ms until
 * three consecutive windows agree within -s percent in throughput and p50 latency (or
 * -r windows passed: then the level is reported as unstable), then the mean of those three
 * windows: infer/s, p50/p90/p99 (and --percentile) latency, bytes/s in and out. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trk_tool.h"

int trk_cmd_perf(int argc, char **argv);

#ifndef TRK_HAVE_CLIENT

int trk_cmd_perf(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "trk perf: this trk was built without the client library (trkclient: "
                    "needs libcurl and jansson)\n");
    return 1;
}

#else

#include "trk/client.h"
#include "trk/evfile.h"

#define MAX_URLS 64
#define MAX_SHAPES 256
#define MAX_LEVELS 1024

static void usage(FILE *out)
{
    fprintf(out,
        "usage: trk perf -m MODEL [-u URL ...] [options]\n"
        "\n"
        "Measures throughput and latency of a served model the way perf_analyzer does (the\n"
        "flags have its names), and the same model run in this process for comparison.\n"
        "\n"
        "target:\n"
        "  -m MODEL                   model (required); -x VERSION: a version\n"
        "  -u URL                     server (repeat: load balancing + failover); http://,\n"
        "                             https://, grpc://, grpcs://, inprocess:REPO, or\n"
        "                             HOST:PORT with the scheme from -i (default\n"
        "                             localhost:8000 / localhost:8001)\n"
        "  -i http|grpc               protocol (default http)\n"
        "  --in-process REPO          measure the model in this process (the server core\n"
        "                             over repository REPO) instead of a server\n"
        "  --compare-in-process       with --in-process: measure the servers AND in-process\n"
        "                             and print the ratios\n"
        "\n"
        "load:\n"
        "  --concurrency-range S:E:T  concurrency levels S, S+T, ..., E (default 1)\n"
        "  --request-rate-range S:E:T requests/s levels instead (floats; constant rate)\n"
        "  --max-threads N            client threads in request-rate mode (default 16)\n"
        "  --async | --sync           async API with a callback pool, or N blocking threads\n"
        "                             (default --sync)\n"
        "  -b N                       batch size: the leading -1 dim of inputs (default 1)\n"
        "  --shape NAME:d1,d2         extents of an input's dynamic dims (without the batch\n"
        "                             dim); repeat per input\n"
        "  --input-data zero|random   input contents (default random)\n"
        "  --event FILE               inputs named like a column of an event file (.trkev)\n"
        "                             take that column: real events, e.g. raw_zstd for\n"
        "                             the patatrack model\n"
        "  --event-index N            which event of FILE (default 0)\n"
        "  --tensor-format binary|json   HTTP tensor encoding (default binary)\n"
        "  --compression gzip|deflate  compress requests and responses\n"
        "  --timeout MS, --token TOKEN, --ca-file PEM, --insecure   as for trk infer\n"
        "\n"
        "measurement:\n"
        "  -p, --measurement-interval MS  window length (default 2000)\n"
        "  -s PERCENT                 stability threshold (default 10)\n"
        "  -r N                       max windows per level (default 10)\n"
        "  --percentile P             also report (and use for stability) the P-th\n"
        "                             percentile latency\n"
        "  -f FILE                    write the results as CSV\n"
        "  -h, --help                 this text\n"
        "\n"
        "Progress goes to stderr, results to stdout. Exit status: 0 measured, 1 a request\n"
        "failed or a level was unstable, 2 usage error.\n");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- what completed requests leave behind ------------------------------------------- */

struct sink {
    pthread_mutex_t lock;
    double *lat;        /* seconds, per completed request in this window */
    size_t n, cap;
    uint64_t bytes_in, bytes_out, errors;
    char first_error[TRK_CLIENT_ERR_MAX + 64];
};

static void sink_add(struct sink *s, double lat, uint64_t bin,
                     const struct trk_client_result *r)
{
    uint64_t bout = 0;
    for (uint32_t i = 0; i < r->noutputs; i++)
        bout += r->outputs[i]->nbytes;
    pthread_mutex_lock(&s->lock);
    if (r->status != TRK_OK) {
        if (!s->errors++)
            snprintf(s->first_error, sizeof s->first_error, "%s%s%s", trk_status_str(r->status),
                     r->error[0] ? ": " : "", r->error);
    } else {
        if (s->n == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 4096;
            double *nl = realloc(s->lat, cap * sizeof *nl);
            if (!nl) {
                pthread_mutex_unlock(&s->lock);
                return;
            }
            s->lat = nl;
            s->cap = cap;
        }
        s->lat[s->n++] = lat;
        s->bytes_in += bin;
        s->bytes_out += bout;
    }
    pthread_mutex_unlock(&s->lock);
}

/* One finished window. */
struct window {
    double seconds;
    double *lat; /* sorted */
    size_t n;
    uint64_t bytes_in, bytes_out;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    return sorted[k ? k - 1 : 0];
}

/* ---- load generators ----------------------------------------------------------------- */

struct load {
    struct trk_client *client;
    const struct trk_client_request *req;
    uint64_t req_bytes;
    struct sink sink;
    atomic_bool stop;
    /* sync */
    pthread_t *threads;
    uint32_t nthreads;
    /* rate */
    double rate;
    pthread_t scheduler;
    bool have_scheduler;
};

static void *sync_main(void *arg)
{
    struct load *l = arg;
    while (!atomic_load(&l->stop)) {
        struct trk_client_result r;
        double t0 = now_s();
        trk_client_infer(l->client, l->req, &r);
        sink_add(&l->sink, now_s() - t0, l->req_bytes, &r);
        trk_client_result_fini(&r);
    }
    return NULL;
}

struct lane {
    struct load *l;
    double t0;
    bool reissue; /* concurrency mode: a lane keeps one request in flight */
};

static void async_done(struct trk_client_result *r, void *user)
{
    struct lane *ln = user;
    struct load *l = ln->l;
    sink_add(&l->sink, now_s() - ln->t0, l->req_bytes, r);
    if (ln->reissue && !atomic_load(&l->stop)) {
        ln->t0 = now_s();
        if (trk_client_infer_async(l->client, l->req, async_done, ln) == TRK_OK)
            return;
    }
    if (!ln->reissue)
        free(ln);
}

static void *rate_main(void *arg)
{
    struct load *l = arg;
    double next = now_s(), dt = 1.0 / l->rate;
    while (!atomic_load(&l->stop)) {
        double wait = next - now_s();
        if (wait > 0)
            sleep_s(wait > 0.05 ? 0.05 : wait); /* wake up now and then to see stop */
        if (now_s() < next)
            continue;
        struct lane *ln = malloc(sizeof *ln);
        if (!ln)
            break;
        *ln = (struct lane){l, now_s(), false};
        if (trk_client_infer_async(l->client, l->req, async_done, ln) != TRK_OK) {
            free(ln);
            break;
        }
        next += dt;
    }
    return NULL;
}

struct settings {
    bool async;
    uint32_t max_threads;
    double interval_s, stability;
    uint32_t max_trials;
    double percentile; /* 0: none */
};

struct level_result {
    const char *target;
    bool rate_mode;
    double level; /* concurrency or rate */
    double throughput, p50, p90, p95, p99, pp, avg, in_bps, out_bps;
    uint64_t errors;
    bool stable;
};

/* Runs one load level to a stable measurement (or max_trials windows). Returns false
 * when requests failed (message printed). */
static bool measure_level(struct trk_client *client, const struct trk_client_request *req,
                          uint64_t req_bytes, const struct settings *set, bool rate_mode,
                          double level, struct level_result *res)
{
    struct load l;
    memset(&l, 0, sizeof l);
    l.client = client;
    l.req = req;
    l.req_bytes = req_bytes;
    pthread_mutex_init(&l.sink.lock, NULL);
    struct lane *lanes = NULL;
    struct window win[64];
    uint32_t nwin = 0;
    bool ok = true;
    uint32_t conc = rate_mode ? set->max_threads : (uint32_t)level;

    if (rate_mode || set->async) {
        trk_client_set_concurrency(client, conc);
    }
    if (rate_mode) {
        l.rate = level;
        l.have_scheduler = pthread_create(&l.scheduler, NULL, rate_main, &l) == 0;
    } else if (set->async) {
        lanes = calloc(conc, sizeof *lanes);
        for (uint32_t i = 0; lanes && i < conc; i++) {
            lanes[i] = (struct lane){&l, now_s(), true};
            trk_client_infer_async(client, req, async_done, &lanes[i]);
        }
    } else {
        l.threads = calloc(conc, sizeof *l.threads);
        for (uint32_t i = 0; l.threads && i < conc; i++)
            if (pthread_create(&l.threads[l.nthreads], NULL, sync_main, &l) == 0)
                l.nthreads++;
    }
    /* warm-up: connections, first-touch, caches; not measured */
    sleep_s(set->interval_s < 2 ? set->interval_s / 4 : 0.5);
    pthread_mutex_lock(&l.sink.lock);
    l.sink.n = 0;
    l.sink.bytes_in = l.sink.bytes_out = 0;
    pthread_mutex_unlock(&l.sink.lock);
    double t_start = now_s();
    uint32_t max_trials = set->max_trials < 3 ? 3 : set->max_trials;
    if (max_trials > 64)
        max_trials = 64;
    res->stable = false;
    for (uint32_t trial = 0; trial < max_trials; trial++) {
        sleep_s(set->interval_s);
        struct window *w = &win[nwin++];
        pthread_mutex_lock(&l.sink.lock);
        double t_end = now_s();
        w->seconds = t_end - t_start;
        t_start = t_end;
        w->lat = l.sink.lat;
        w->n = l.sink.n;
        w->bytes_in = l.sink.bytes_in;
        w->bytes_out = l.sink.bytes_out;
        l.sink.lat = NULL;
        l.sink.n = l.sink.cap = 0;
        l.sink.bytes_in = l.sink.bytes_out = 0;
        uint64_t errors = l.sink.errors;
        pthread_mutex_unlock(&l.sink.lock);
        if (w->n)
            qsort(w->lat, w->n, sizeof *w->lat, cmp_double);
        double thr = (double)w->n / w->seconds;
        double p50 = pct(w->lat, w->n, 50);
        fprintf(stderr, "trk perf: %s %s %g: window %u: %.1f infer/s, p50 %.0f usec\n",
                res->target, rate_mode ? "rate" : "concurrency", level, trial + 1, thr,
                p50 * 1e6);
        if (errors) {
            fprintf(stderr, "trk perf: %llu request(s) failed; first: %s\n",
                    (unsigned long long)errors, l.sink.first_error);
            res->errors = errors;
            ok = false;
            break;
        }
        if (nwin >= 3) {
            struct window *a = &win[nwin - 3];
            double t[3], p[3], mt = 0, mp = 0;
            bool stable = true;
            for (int k = 0; k < 3; k++) {
                t[k] = (double)a[k].n / a[k].seconds;
                p[k] = set->percentile > 0 ? pct(a[k].lat, a[k].n, set->percentile)
                                           : pct(a[k].lat, a[k].n, 50);
                mt += t[k] / 3;
                mp += p[k] / 3;
                stable = stable && a[k].n > 0;
            }
            for (int k = 0; k < 3 && stable; k++)
                stable = fabs(t[k] - mt) <= set->stability / 100 * mt &&
                         fabs(p[k] - mp) <= set->stability / 100 * mp;
            if (stable) {
                res->stable = true;
                break;
            }
        }
    }

    /* stop the load and wait for everything in flight */
    atomic_store(&l.stop, true);
    if (l.have_scheduler)
        pthread_join(l.scheduler, NULL);
    for (uint32_t i = 0; i < l.nthreads; i++)
        pthread_join(l.threads[i], NULL);
    if (rate_mode || set->async)
        trk_client_wait(client);
    free(l.threads);
    free(lanes);

    /* the last three windows (or what there is) together */
    uint32_t first = nwin > 3 ? nwin - 3 : 0;
    size_t total = 0;
    double secs = 0, sum = 0;
    uint64_t bin = 0, bout = 0;
    for (uint32_t k = first; k < nwin; k++) {
        total += win[k].n;
        secs += win[k].seconds;
        bin += win[k].bytes_in;
        bout += win[k].bytes_out;
    }
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t m = 0;
    for (uint32_t k = first; all && k < nwin; k++)
        for (size_t i = 0; i < win[k].n; i++) {
            all[m++] = win[k].lat[i];
            sum += win[k].lat[i];
        }
    if (all && m)
        qsort(all, m, sizeof *all, cmp_double);
    res->rate_mode = rate_mode;
    res->level = level;
    res->throughput = secs > 0 ? (double)m / secs : 0;
    res->p50 = pct(all, m, 50);
    res->p90 = pct(all, m, 90);
    res->p95 = pct(all, m, 95);
    res->p99 = pct(all, m, 99);
    res->pp = set->percentile > 0 ? pct(all, m, set->percentile) : NAN;
    res->avg = m ? sum / (double)m : NAN;
    res->in_bps = secs > 0 ? (double)bin / secs : 0;
    res->out_bps = secs > 0 ? (double)bout / secs : 0;
    free(all);
    for (uint32_t k = 0; k < nwin; k++)
        free(win[k].lat);
    free(l.sink.lat);
    pthread_mutex_destroy(&l.sink.lock);
    if (ok && !m) {
        fprintf(stderr, "trk perf: no request completed at %s %g within %u windows of %g ms\n",
                rate_mode ? "rate" : "concurrency", level, nwin, set->interval_s * 1e3);
        ok = false;
    }
    return ok;
}

/* Host memcpy bandwidth (bytes/s) for a payload of n bytes, one thread, ~0.2 s. */
static double memcpy_bandwidth(size_t n)
{
    if (!n)
        return NAN;
    /* small payloads: copy many at once so the timer's cost does not dominate */
    size_t reps_per_check = n < (1 << 20) ? ((1 << 20) / n) : 1;
    /* page-aligned, separate buffers: adjacent malloc blocks alias on 4 KiB and make
     * the copy several times slower than any real one */
    size_t cap = (n + 4095) / 4096 * 4096;
    char *a = aligned_alloc(4096, cap), *b = aligned_alloc(4096, cap);
    if (!a || !b) {
        free(a);
        free(b);
        return NAN;
    }
    memset(a, 1, n);
    memset(b, 2, n);
    memcpy(b, a, n); /* first touch */
    double t0 = now_s(), t;
    uint64_t bytes = 0;
    do {
        for (size_t i = 0; i < reps_per_check; i++) {
            memcpy(b, a, n);
            __asm__ volatile("" : : "r"(b) : "memory"); /* every copy happens */
        }
        bytes += (uint64_t)n * reps_per_check;
        t = now_s();
    } while (t - t0 < 0.2);
    volatile char sink = b[n / 2];
    (void)sink;
    free(a);
    free(b);
    return (double)bytes / (t - t0);
}

static const char *rate_str(double bps, char *buf, size_t len)
{
    if (bps >= 1e9)
        snprintf(buf, len, "%.2f GB/s", bps / 1e9);
    else if (bps >= 1e6)
        snprintf(buf, len, "%.2f MB/s", bps / 1e6);
    else
        snprintf(buf, len, "%.1f kB/s", bps / 1e3);
    return buf;
}

static void print_result(const struct level_result *r, double memcpy_bps, double pctl)
{
    char a[32], b[32];
    printf("%s  %s %g: %.1f infer/s, latency usec p50 %.0f p90 %.0f p99 %.0f avg %.0f", r->target,
           r->rate_mode ? "request rate" : "concurrency", r->level, r->throughput, r->p50 * 1e6,
           r->p90 * 1e6, r->p99 * 1e6, r->avg * 1e6);
    if (pctl > 0)
        printf(" p%g %.0f", pctl, r->pp * 1e6);
    printf(", in %s out %s", rate_str(r->in_bps, a, sizeof a), rate_str(r->out_bps, b, sizeof b));
    if (memcpy_bps > 0)
        printf(" (%.3g%% of memcpy)", 100 * (r->in_bps + r->out_bps) / memcpy_bps);
    printf("%s\n", r->stable ? "" : "  [not stable]");
    fflush(stdout);
}

static void csv_row(FILE *f, const struct level_result *r)
{
    if (!f)
        return;
    fprintf(f, "%s,%s,%g,%.3f,%.0f,%.0f,%.0f,%.0f,%.0f,", r->target,
            r->rate_mode ? "request_rate" : "concurrency", r->level, r->throughput, r->p50 * 1e6,
            r->p90 * 1e6, r->p95 * 1e6, r->p99 * 1e6, r->avg * 1e6);
    if (!isnan(r->pp))
        fprintf(f, "%.0f,", r->pp * 1e6);
    fprintf(f, "%.0f,%.0f,%llu,%d\n", r->in_bps, r->out_bps, (unsigned long long)r->errors,
            r->stable);
    fflush(f);
}

static bool parse_range(const char *s, double *a, double *b, double *step)
{
    char *end;
    *a = strtod(s, &end);
    *b = *a;
    *step = 1;
    if (end == s || *a <= 0)
        return false;
    if (*end == ':') {
        s = end + 1;
        *b = strtod(s, &end);
        if (end == s || *b < *a)
            return false;
        if (*end == ':') {
            s = end + 1;
            *step = strtod(s, &end);
            if (end == s || *step <= 0)
                return false;
        }
    }
    return *end == 0;
}

static char *normalise_url(const char *u, const char *proto)
{
    char *s = NULL;
    if (strstr(u, "://") || !strncmp(u, "inprocess:", 10))
        s = strdup(u);
    else if (asprintf(&s, "%s://%s", proto, u) < 0)
        s = NULL;
    return s;
}

/* Runs every level against one target. Returns the number of results stored. */
static uint32_t sweep(struct trk_client *client, const char *target,
                      const struct trk_client_request *req, uint64_t req_bytes,
                      const struct settings *set, bool rate_mode, double a, double b,
                      double step, double memcpy_bps, FILE *csv, struct level_result *out,
                      bool *failed)
{
    uint32_t n = 0;
    for (double lv = a; lv <= b + 1e-9 && n < MAX_LEVELS; lv += step) {
        double level = rate_mode ? lv : floor(lv + 0.5);
        struct level_result *r = &out[n];
        memset(r, 0, sizeof *r);
        r->target = target;
        if (!measure_level(client, req, req_bytes, set, rate_mode, level, r)) {
            *failed = true;
            return n;
        }
        if (!r->stable) {
            fprintf(stderr, "trk perf: %s %g did not stabilise within %u windows (-s %g); "
                            "reporting the last three\n",
                    rate_mode ? "rate" : "concurrency", level, set->max_trials, set->stability);
            *failed = true;
        }
        print_result(r, memcpy_bps, set->percentile);
        csv_row(csv, r);
        n++;
    }
    return n;
}

/* Replaces every input named like a column of event `index` of path by a copy of that
 * column. Prints why and returns nonzero on failure or when nothing matches. */
static int use_event_columns(const char *path, long index, struct trk_tensor **inputs,
                             uint32_t ninputs)
{
    struct trk_evfile *f = NULL;
    struct trk_event ev;
    trk_event_init(&ev, 0);
    enum trk_status st = trk_evfile_open(path, &f);
    if (st == TRK_OK && (size_t)index >= trk_evfile_count(f)) {
        fprintf(stderr, "trk perf: --event-index %ld: %s has %zu events\n", index, path,
                trk_evfile_count(f));
        trk_evfile_close(f);
        return 1;
    }
    if (st == TRK_OK)
        st = trk_evfile_read(f, (size_t)index, &ev);
    trk_evfile_close(f);
    if (st != TRK_OK) {
        fprintf(stderr, "trk perf: --event %s: %s (see the message above)\n", path,
                trk_status_str(st));
        trk_event_fini(&ev);
        return 1;
    }
    uint32_t matched = 0;
    for (uint32_t i = 0; i < ninputs && st == TRK_OK; i++) {
        const struct trk_tensor *col = trk_event_find(&ev, inputs[i]->name);
        if (!col)
            continue;
        struct trk_tensor *t = NULL;
        st = trk_tensor_alloc_bytes(col->name, col->dtype, col->ndim, col->shape, col->nbytes, &t);
        if (st == TRK_OK) {
            memcpy(t->data, col->data, col->nbytes);
            trk_tensor_free(inputs[i]);
            inputs[i] = t;
            matched++;
        }
    }
    trk_event_fini(&ev);
    if (st != TRK_OK || !matched) {
        fprintf(stderr, "trk perf: --event %s: %s\n", path,
                st != TRK_OK ? "out of memory" : "no input of the model is named like a column");
        return 1;
    }
    return 0;
}

int trk_cmd_perf(int argc, char **argv)
{
    enum {
        O_CONC = 256, O_RATE, O_MAXT, O_ASYNC, O_SYNC, O_SHAPE, O_DATA, O_FORMAT, O_COMPRESSION,
        O_TIMEOUT, O_TOKEN, O_CA, O_INSECURE, O_PCT, O_INPROC, O_COMPARE, O_EVENT, O_EVINDEX
    };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},
        {"model-version", required_argument, 0, 'x'},
        {"url", required_argument, 0, 'u'},
        {"protocol", required_argument, 0, 'i'},
        {"concurrency-range", required_argument, 0, O_CONC},
        {"request-rate-range", required_argument, 0, O_RATE},
        {"max-threads", required_argument, 0, O_MAXT},
        {"async", no_argument, 0, O_ASYNC},
        {"sync", no_argument, 0, O_SYNC},
        {"batch-size", required_argument, 0, 'b'},
        {"shape", required_argument, 0, O_SHAPE},
        {"input-data", required_argument, 0, O_DATA},
        {"event", required_argument, 0, O_EVENT},
        {"event-index", required_argument, 0, O_EVINDEX},
        {"tensor-format", required_argument, 0, O_FORMAT},
        {"input-tensor-format", required_argument, 0, O_FORMAT},
        {"compression", required_argument, 0, O_COMPRESSION},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"token", required_argument, 0, O_TOKEN},
        {"ca-file", required_argument, 0, O_CA},
        {"insecure", no_argument, 0, O_INSECURE},
        {"measurement-interval", required_argument, 0, 'p'},
        {"stability-percentage", required_argument, 0, 's'},
        {"max-trials", required_argument, 0, 'r'},
        {"percentile", required_argument, 0, O_PCT},
        {"in-process", required_argument, 0, O_INPROC},
        {"compare-in-process", no_argument, 0, O_COMPARE},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *url_args[MAX_URLS], *proto = "http", *model = NULL, *csv_path = NULL;
    const char *shapes[MAX_SHAPES], *repo = NULL, *event_path = NULL;
    long event_index = 0;
    uint32_t nurl = 0, nshapes = 0, batch = 1;
    int64_t version = -1;
    bool random = true, rate_mode = false, compare = false;
    double ra = 1, rb = 1, rstep = 1;
    struct settings set = {.async = false, .max_threads = 16, .interval_s = 2.0,
                           .stability = 10, .max_trials = 10, .percentile = 0};
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:x:u:i:b:p:s:r:f:ah", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'm': model = optarg; break;
        case 'x':
            version = strtoll(optarg, &end, 10);
            if (*end || version < 1)
                goto bad_arg;
            break;
        case 'u':
            if (nurl == MAX_URLS)
                goto bad_arg;
            url_args[nurl++] = optarg;
            break;
        case 'i':
            if (strcmp(optarg, "http") && strcmp(optarg, "grpc"))
                goto bad_arg;
            proto = optarg;
            break;
        case O_CONC:
        case O_RATE:
            rate_mode = c == O_RATE;
            if (!parse_range(optarg, &ra, &rb, &rstep))
                goto bad_arg;
            if (!rate_mode && (ra != floor(ra) || rb != floor(rb) || rstep != floor(rstep) ||
                               rb > 65536))
                goto bad_arg;
            break;
        case O_MAXT:
            set.max_threads = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || !set.max_threads || set.max_threads > 4096)
                goto bad_arg;
            break;
        case 'a':
        case O_ASYNC: set.async = true; break;
        case O_SYNC: set.async = false; break;
        case 'b':
            batch = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || !batch)
                goto bad_arg;
            break;
        case O_SHAPE:
            if (nshapes == MAX_SHAPES || !strchr(optarg, ':'))
                goto bad_arg;
            shapes[nshapes++] = optarg;
            break;
        case O_EVENT: event_path = optarg; break;
        case O_EVINDEX: {
            char *stop;
            event_index = strtol(optarg, &stop, 10);
            if (*stop || event_index < 0) {
                fprintf(stderr, "trk perf: --event-index %s: give an index >= 0\n", optarg);
                return 2;
            }
            break;
        }
        case O_DATA:
            if (strcmp(optarg, "zero") && strcmp(optarg, "random")) {
                fprintf(stderr, "trk perf: --input-data %s: zero or random (files and JSON "
                                "data are not supported here; use trk infer --input)\n",
                        optarg);
                return 2;
            }
            random = !strcmp(optarg, "random");
            break;
        case O_FORMAT:
            if (strcmp(optarg, "binary") && strcmp(optarg, "json"))
                goto bad_arg;
            opt.binary = !strcmp(optarg, "binary");
            break;
        case O_COMPRESSION:
            if (strcmp(optarg, "gzip") && strcmp(optarg, "deflate"))
                goto bad_arg;
            opt.compression = optarg;
            break;
        case O_TIMEOUT:
            opt.timeout_ms = (uint32_t)strtoul(optarg, &end, 10);
            if (*end)
                goto bad_arg;
            break;
        case O_TOKEN: opt.auth_token = optarg; break;
        case O_CA: opt.ca_file = optarg; break;
        case O_INSECURE: opt.insecure = true; break;
        case 'p':
            set.interval_s = strtod(optarg, &end) / 1e3;
            if (*end || set.interval_s < 0.01 || set.interval_s > 3600)
                goto bad_arg;
            break;
        case 's':
            set.stability = strtod(optarg, &end);
            if (*end || set.stability <= 0)
                goto bad_arg;
            break;
        case 'r':
            set.max_trials = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || set.max_trials < 3 || set.max_trials > 64)
                goto bad_arg;
            break;
        case O_PCT:
            set.percentile = strtod(optarg, &end);
            if (*end || set.percentile <= 0 || set.percentile >= 100)
                goto bad_arg;
            break;
        case 'f': csv_path = optarg; break;
        case O_INPROC: repo = optarg; break;
        case O_COMPARE: compare = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        continue;
    bad_arg:
        fprintf(stderr, "trk perf: bad value '%s' for %s (trk perf --help)\n", optarg,
                argv[optind - 1]);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "trk perf: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!model) {
        fprintf(stderr, "trk perf: -m MODEL is required (trk perf --help)\n");
        return 2;
    }
    if (compare && !repo) {
        fprintf(stderr, "trk perf: --compare-in-process needs --in-process REPO\n");
        return 2;
    }

    int rc = 1;
    char *urls[MAX_URLS] = {0}, *inproc_url = NULL, *meta = NULL, err[TRK_CLIENT_ERR_MAX];
    struct trk_client *client = NULL, *direct = NULL;
    struct trk_tensor **inputs = NULL;
    uint32_t ninputs = 0;
    FILE *csv = NULL;
    struct level_result *res_net = calloc(MAX_LEVELS, sizeof *res_net);
    struct level_result *res_dir = calloc(MAX_LEVELS, sizeof *res_dir);
    uint32_t nnet = 0, ndir = 0;
    bool failed = false;
    if (!res_net || !res_dir)
        goto done;
    bool use_net = !repo || compare;
    if (use_net) {
        if (!nurl)
            url_args[nurl++] = !strcmp(proto, "grpc") ? "localhost:8001" : "localhost:8000";
        for (uint32_t i = 0; i < nurl; i++)
            if (!(urls[i] = normalise_url(url_args[i], proto)))
                goto done;
        if (trk_client_create((const char *const *)urls, nurl, &opt, &client, err,
                              sizeof err) != TRK_OK) {
            fprintf(stderr, "trk perf: %s\n", err);
            goto done;
        }
    }
    if (repo) {
        if (asprintf(&inproc_url, "inprocess:%s", repo) < 0) {
            inproc_url = NULL;
            goto done;
        }
        const char *u[1] = {inproc_url};
        if (trk_client_create(u, 1, &opt, &direct, err, sizeof err) != TRK_OK) {
            fprintf(stderr, "trk perf: --in-process %s: %s\n", repo, err);
            goto done;
        }
    }
    struct trk_client *first = client ? client : direct;
    if (trk_client_model_metadata(first, model, version, &meta, err, sizeof err) != TRK_OK) {
        fprintf(stderr, "trk perf: cannot get the metadata of model '%s': %s\n", model, err);
        goto done;
    }
    if (trk_client_inputs_from_metadata(meta, nshapes, shapes, batch, random, 1, NULL, 0, &inputs,
                                        &ninputs, err, sizeof err) != TRK_OK) {
        fprintf(stderr, "trk perf: model '%s': %s\n", model, err);
        goto done;
    }
    if (event_path && use_event_columns(event_path, event_index, inputs, ninputs))
        goto done;
    uint64_t req_bytes = 0;
    for (uint32_t i = 0; i < ninputs; i++)
        req_bytes += inputs[i]->nbytes;
    struct trk_client_request req = {.model = model, .version = version, .ninputs = ninputs,
                                     .inputs = (const struct trk_tensor *const *)inputs};
    /* one request first: a model that fails fails here with its message */
    struct trk_client_result r;
    enum trk_status st = trk_client_infer(first, &req, &r);
    uint64_t resp_bytes = 0;
    for (uint32_t i = 0; i < r.noutputs; i++)
        resp_bytes += r.outputs[i]->nbytes;
    if (st != TRK_OK)
        fprintf(stderr, "trk perf: the first request to '%s' failed: %s\n", model, r.error);
    trk_client_result_fini(&r);
    if (st != TRK_OK)
        goto done;

    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            fprintf(stderr, "trk perf: cannot write %s: %s\n", csv_path, strerror(errno));
            goto done;
        }
        /* perf_analyzer's column names where they exist; latencies in usec */
        fprintf(csv, "Target,Mode,Level,Inferences/Second,p50 latency,p90 latency,"
                     "p95 latency,p99 latency,Avg latency,");
        if (set.percentile > 0)
            fprintf(csv, "p%g latency,", set.percentile);
        fprintf(csv, "Bytes In/Second,Bytes Out/Second,Errors,Stable\n");
    }
    char b1[32], b2[32];
    double mbw = memcpy_bandwidth((size_t)(req_bytes + resp_bytes));
    trk_tool_bytes(req_bytes, b1, sizeof b1);
    trk_tool_bytes(resp_bytes, b2, sizeof b2);
    printf("model %s: %u input(s), %s in and %s out per request, batch %u, %s, %s API\n",
           model, ninputs, b1, b2, batch, opt.binary ? "binary tensors" : "JSON tensors",
           set.async ? "async" : "sync");
    printf("host memcpy of the %s payload (one thread, this run): %s\n",
           trk_tool_bytes(req_bytes + resp_bytes, b1, sizeof b1),
           rate_str(mbw, b2, sizeof b2));
    fflush(stdout);

    if (client) {
        nnet = sweep(client, urls[0], &req, req_bytes, &set, rate_mode, ra, rb, rstep, mbw, csv,
                     res_net, &failed);
    }
    if (direct && !(failed && !nnet)) {
        ndir = sweep(direct, "in-process", &req, req_bytes, &set, rate_mode, ra, rb, rstep, mbw,
                     csv, res_dir, &failed);
    }
    if (compare) {
        printf("service vs in-process (same model, same inputs, this run):\n");
        for (uint32_t i = 0; i < nnet && i < ndir; i++)
            printf("  %s %g: throughput %.1f vs %.1f infer/s (service/in-process %.3f), p50 "
                   "%.0f vs %.0f usec (x%.2f)\n",
                   rate_mode ? "rate" : "concurrency", res_net[i].level,
                   res_net[i].throughput, res_dir[i].throughput,
                   res_dir[i].throughput > 0 ? res_net[i].throughput / res_dir[i].throughput
                                             : NAN,
                   res_net[i].p50 * 1e6, res_dir[i].p50 * 1e6,
                   res_dir[i].p50 > 0 ? res_net[i].p50 / res_dir[i].p50 : NAN);
    }
    rc = failed ? 1 : 0;
done:
    if (csv && fclose(csv) != 0) {
        fprintf(stderr, "trk perf: writing %s failed\n", csv_path);
        rc = 1;
    }
    trk_client_tensors_free(inputs, ninputs);
    free(meta);
    trk_client_free(client);
    trk_client_free(direct);
    for (uint32_t i = 0; i < nurl; i++)
        free(urls[i]);
    free(inproc_url);
    free(res_net);
    free(res_dir);
    return rc;
}

#endif
