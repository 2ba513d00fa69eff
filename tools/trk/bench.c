/* trk bench primitives: throughput of every primitive on one device, printed next
 * to the references measured in the same run (a threaded host memcpy for the
 * bandwidth-bound primitives, OpenBLAS's own cblas_sgemm for dense layers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trk/pool.h"
#include "trk/prim.h"
#include "trk_tool.h"

#ifdef TRK_BENCH_HAVE_CBLAS
#include <cblas.h>
#endif

struct bench {
    struct trk_device *dev;
    struct trk_queue *q;
    FILE *csv;
    int reps;
    double budget_s; /* time budget per measurement */
    unsigned threads;
    struct trk_pool *pool;
    double memcpy_gbs; /* reference at the current size */
    int failures;
    /* summary for the targets */
    double sgemm_ratio_min, scan_ratio_min, hist_ratio_min, sort_mpairs_1e6;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef enum trk_status (*run_fn)(struct bench *b, void *ctx);

/* Median wall time in ms of fn (+ finishing q, unless q is NULL for host work),
 * after one warm-up run; up to b->reps runs within b->budget_s. NAN on failure. */
static double time_median(struct bench *b, struct trk_queue *q, run_fn fn, void *ctx)
{
    double times[101];
    int n = -1; /* run -1 is the warm-up */
    double start = now_s();
    while (n < b->reps && n < 101) {
        double t0 = now_s();
        enum trk_status st = fn(b, ctx);
        if (st == TRK_OK && q)
            st = trk_queue_finish(q);
        double t1 = now_s();
        if (st != TRK_OK) {
            fprintf(stderr, "trk bench: a run failed: %s\n", trk_status_str(st));
            b->failures++;
            return NAN;
        }
        if (n < 0) {
            start = t1;
        } else {
            times[n] = (t1 - t0) * 1e3;
        }
        if (++n >= 3 && t1 - start > b->budget_s)
            break;
    }
    qsort(times, (size_t)n, sizeof *times, cmp_double);
    return n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

/* Device work on the bench queue. */
static double measure(struct bench *b, run_fn fn, void *ctx)
{
    return time_median(b, b->q, fn, ctx);
}

static void report(struct bench *b, const char *prim, const char *size, double ms, double value,
                   const char *unit, double ref, const char *ref_name)
{
    char ratio[48] = "";
    if (ref > 0 && !isnan(value))
        snprintf(ratio, sizeof ratio, "%.2fx %s", value / ref, ref_name);
    printf("  %-22s %-16s %10.3f ms %10.2f %-9s %s\n", prim, size, ms, value, unit, ratio);
    if (b->csv)
        fprintf(b->csv, "%s,%s,%s,%.6f,%.4f,%s,%.4f,%s\n", trk_device_id(b->dev), prim, size, ms,
                value, unit, ref > 0 ? value / ref : 0.0, ref > 0 ? ref_name : "");
    fflush(stdout);
}

/* ---- host memcpy reference on the CPU device's thread count ---------------- */

struct memcpy_ctx {
    char *dst;
    const char *src;
    size_t bytes;
};

static void memcpy_range(void *ctx, size_t begin, size_t end, unsigned worker)
{
    (void)worker;
    struct memcpy_ctx *c = ctx;
    memcpy(c->dst + begin, c->src + begin, end - begin);
}

static enum trk_status run_memcpy(struct bench *b, void *ctx)
{
    struct memcpy_ctx *c = ctx;
    return trk_pool_parallel_for(b->pool, c->bytes, (c->bytes + b->threads - 1) / b->threads,
                                 memcpy_range, c);
}

static double host_memcpy_gbs(struct bench *b, size_t bytes)
{
    char *src = malloc(bytes), *dst = malloc(bytes);
    double gbs = NAN;
    if (src && dst) {
        memset(src, 1, bytes);
        memset(dst, 0, bytes);
        struct memcpy_ctx c = {dst, src, bytes};
        double ms = time_median(b, NULL, run_memcpy, &c);
        gbs = 2.0 * (double)bytes / ms / 1e6; /* read + write */
    }
    free(src);
    free(dst);
    return gbs;
}

/* ---- the primitives ----------------------------------------------------------- */

struct prim_ctx {
    uint32_t n, nbins, key_bits, nedge;
    struct trk_buffer *a, *b, *c, *d, *e, *scratch, *out1;
    enum trk_reduce_op op;
    struct trk_dense dense;
    bool force_kernel;
};

static enum trk_status run_fill(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_fill_u32(b->q, c->a, c->n, 7);
}
static enum trk_status run_copy(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_copy_u32(b->q, c->b, c->a, c->n);
}
static enum trk_status run_scan(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_scan_u32(b->q, c->a, c->b, c->n, c->out1, c->scratch);
}
static enum trk_status run_hist(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    enum trk_status st = trk_buffer_memset(b->q, c->c, 0, 0, (size_t)c->nbins * 4);
    return st == TRK_OK ? trk_histogram_u32(b->q, c->a, c->n, c->nbins, c->c) : st;
}
static enum trk_status run_assoc(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_assoc_build(b->q, c->a, c->n, c->nbins, c->c, c->b, c->scratch);
}
static enum trk_status run_compact(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_compact_u32(b->q, c->a, c->d, c->n, c->b, c->out1, c->scratch);
}
static enum trk_status run_reduce(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_reduce_f32(b->q, c->e, c->n, c->op, c->out1, c->scratch);
}
static enum trk_status run_sort(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_sort_pairs_u32(b->q, c->a, c->d, c->b, c->c, c->n, c->key_bits, c->scratch);
}
static enum trk_status run_cc(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_components(b->q, c->n, c->a, c->d, c->nedge, c->b, c->out1, c->scratch);
}
static enum trk_status run_dense(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_dense_forward(b->q, &c->dense, c->force_kernel);
}
static enum trk_status run_layernorm(struct bench *b, void *p)
{
    struct prim_ctx *c = p;
    return trk_layernorm_f32(b->q, c->e, c->e, c->n / 64, 64, NULL, NULL, 1e-5f);
}

static uint32_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

static struct trk_buffer *upload(struct bench *b, const void *data, size_t bytes)
{
    struct trk_buffer *buf = NULL;
    if (trk_buffer_alloc(b->dev, bytes, &buf) != TRK_OK)
        return NULL;
    if (trk_buffer_write(b->q, buf, 0, data, bytes, true) != TRK_OK) {
        trk_buffer_free(buf);
        return NULL;
    }
    return buf;
}

static void fmt_size(uint64_t n, char *buf, size_t len)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(buf, len, "%llue6", (unsigned long long)(n / 1000000));
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(buf, len, "%llue3", (unsigned long long)(n / 1000));
    else
        snprintf(buf, len, "%llu", (unsigned long long)n);
}

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

static void bench_size(struct bench *b, uint32_t n, const char *only)
{
    char sz[32], label[64];
    fmt_size(n, sz, sizeof sz);
    const uint32_t nbins = 1024;
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ n;
    uint32_t *keys = malloc((size_t)n * 4), *flags = malloc((size_t)n * 4);
    float *vals = malloc((size_t)n * 4);
    if (!keys || !flags || !vals) {
        fprintf(stderr, "trk bench: out of host memory at n=%u\n", n);
        b->failures++;
        free(keys);
        free(flags);
        free(vals);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = xorshift(&rng);
        flags[i] = xorshift(&rng) & 1;
        vals[i] = (float)(xorshift(&rng) % 1000) * 1e-3f;
    }
    b->memcpy_gbs = host_memcpy_gbs(b, (size_t)n * 4);
    report(b, "memcpy (host)", sz, (double)n * 8 / b->memcpy_gbs / 1e6, b->memcpy_gbs, "GB/s", 0,
           "");
    size_t scratch = max_sz(trk_scan_scratch_size(b->dev, n),
                            trk_assoc_scratch_size(b->dev, n, nbins));
    scratch = max_sz(scratch, trk_compact_scratch_size(b->dev, n));
    scratch = max_sz(scratch, trk_reduce_scratch_size(b->dev, n));
    scratch = max_sz(scratch, trk_sort_scratch_size(b->dev, n));
    scratch = max_sz(scratch, trk_components_scratch_size(b->dev, n, n));
    struct prim_ctx c = {.n = n, .nbins = nbins, .key_bits = 32, .nedge = n};
    c.a = upload(b, keys, (size_t)n * 4);
    c.d = upload(b, flags, (size_t)n * 4);
    c.e = upload(b, vals, (size_t)n * 4);
    trk_buffer_alloc(b->dev, (size_t)n * 4, &c.b);
    trk_buffer_alloc(b->dev, max_sz((size_t)n * 4, (nbins + 1) * 4), &c.c);
    trk_buffer_alloc(b->dev, scratch, &c.scratch);
    trk_buffer_alloc(b->dev, 16, &c.out1);
    if (!c.a || !c.b || !c.c || !c.d || !c.e || !c.scratch || !c.out1) {
        fprintf(stderr, "trk bench: cannot allocate device buffers for n=%u\n", n);
        b->failures++;
        goto out;
    }
    /* Keys for the histogram, association and components must be in range. */
    uint32_t *small = malloc((size_t)n * 4);
    uint32_t *src = malloc((size_t)n * 4), *dst = malloc((size_t)n * 4);
    if (!small || !src || !dst) {
        free(small);
        free(src);
        free(dst);
        b->failures++;
        goto out;
    }

#define WANT(name) (!only || strstr(only, name))
    double ms;
    if (WANT("fill")) {
        ms = measure(b, run_fill, &c);
        report(b, "fill_u32", sz, ms, (double)n * 4 / ms / 1e6, "GB/s", b->memcpy_gbs, "memcpy");
    }
    if (WANT("copy")) {
        ms = measure(b, run_copy, &c);
        report(b, "copy_u32", sz, ms, (double)n * 8 / ms / 1e6, "GB/s", b->memcpy_gbs, "memcpy");
    }
    if (WANT("scan")) {
        ms = measure(b, run_scan, &c);
        double gbs = (double)n * 8 / ms / 1e6;
        report(b, "scan_u32", sz, ms, gbs, "GB/s", b->memcpy_gbs, "memcpy");
        if (n >= 1000000 && gbs / b->memcpy_gbs < b->scan_ratio_min)
            b->scan_ratio_min = gbs / b->memcpy_gbs;
    }
    for (uint32_t i = 0; i < n; i++)
        small[i] = keys[i] % nbins;
    trk_buffer_write(b->q, c.b, 0, small, (size_t)n * 4, true);
    struct trk_buffer *keys_buf = c.a;
    c.a = c.b; /* histogram keys */
    c.b = keys_buf;
    if (WANT("histogram")) {
        ms = measure(b, run_hist, &c);
        double gbs = (double)n * 4 / ms / 1e6;
        snprintf(label, sizeof label, "histogram_u32/%u", nbins);
        report(b, label, sz, ms, gbs, "GB/s", b->memcpy_gbs, "memcpy");
        if (n >= 1000000 && gbs / b->memcpy_gbs < b->hist_ratio_min)
            b->hist_ratio_min = gbs / b->memcpy_gbs;
    }
    if (WANT("assoc")) {
        ms = measure(b, run_assoc, &c);
        snprintf(label, sizeof label, "assoc_build/%u", nbins);
        report(b, label, sz, ms, (double)n * 8 / ms / 1e6, "GB/s", b->memcpy_gbs, "memcpy");
    }
    c.b = c.a;
    c.a = keys_buf;
    trk_buffer_write(b->q, c.a, 0, keys, (size_t)n * 4, true);
    if (WANT("compact")) {
        ms = measure(b, run_compact, &c);
        report(b, "compact_u32 (50%)", sz, ms, (double)n * 10 / ms / 1e6, "GB/s", b->memcpy_gbs,
               "memcpy");
    }
    if (WANT("reduce")) {
        c.op = TRK_REDUCE_SUM;
        ms = measure(b, run_reduce, &c);
        report(b, "reduce_f32 sum", sz, ms, (double)n * 4 / ms / 1e6, "GB/s", b->memcpy_gbs,
               "memcpy");
        c.op = TRK_REDUCE_MAX;
        ms = measure(b, run_reduce, &c);
        report(b, "reduce_f32 max", sz, ms, (double)n * 4 / ms / 1e6, "GB/s", b->memcpy_gbs,
               "memcpy");
    }
    if (WANT("sort")) {
        ms = measure(b, run_sort, &c);
        double mps = (double)n / ms / 1e3;
        report(b, "sort_pairs_u32 32-bit", sz, ms, mps, "Mpairs/s", 0, "");
        if (n == 1000000)
            b->sort_mpairs_1e6 = mps;
    }
    if (WANT("components")) {
        for (uint32_t i = 0; i < n; i++) {
            src[i] = xorshift(&rng) % n;
            dst[i] = xorshift(&rng) % n;
        }
        trk_buffer_write(b->q, c.a, 0, src, (size_t)n * 4, true);
        trk_buffer_write(b->q, c.d, 0, dst, (size_t)n * 4, true);
        ms = measure(b, run_cc, &c);
        report(b, "components (E=V)", sz, ms, (double)n / ms / 1e3, "Medges/s", 0, "");
    }
    if (WANT("layernorm") && n >= 64) {
        ms = measure(b, run_layernorm, &c);
        report(b, "layernorm_f32 x64", sz, ms, (double)(n / 64) * 64 * 8 / ms / 1e6, "GB/s",
               b->memcpy_gbs, "memcpy");
    }
#undef WANT
    free(small);
    free(src);
    free(dst);
out:
    trk_buffer_free(c.a);
    trk_buffer_free(c.b);
    trk_buffer_free(c.c);
    trk_buffer_free(c.d);
    trk_buffer_free(c.e);
    trk_buffer_free(c.scratch);
    trk_buffer_free(c.out1);
    free(keys);
    free(flags);
    free(vals);
}

/* ---- dense layers next to OpenBLAS ------------------------------------------- */

#ifdef TRK_BENCH_HAVE_CBLAS
struct gemm_ref {
    uint32_t m, n, k;
    bool trans_b;
    const float *a, *b;
    float *c;
};

static enum trk_status run_cblas(struct bench *b, void *ctx)
{
    (void)b;
    const struct gemm_ref *g = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, g->trans_b ? CblasTrans : CblasNoTrans, (int)g->m,
                (int)g->n, (int)g->k, 1.0f, g->a, (int)g->k, g->b,
                (int)(g->trans_b ? g->k : g->n), 0.0f, g->c, (int)g->n);
    return TRK_OK;
}
#endif

static void bench_dense(struct bench *b, uint32_t m, uint32_t n, uint32_t k, bool trans_b,
                        bool kernel_too)
{
    char sz[64];
    snprintf(sz, sizeof sz, "%ux%ux%u", m, n, k);
    size_t fa = (size_t)m * k, fb = (size_t)k * n, fc = (size_t)m * n;
    /* 64-byte alignment like the CPU device's buffers: OpenBLAS 0.3.21 speed on narrow
     * layers depends on it, and the comparison must use the same memory layout. */
    float *ha = aligned_alloc(64, (fa * 4 + 63) & ~(size_t)63);
    float *hb = aligned_alloc(64, (fb * 4 + 63) & ~(size_t)63);
    float *hc = aligned_alloc(64, (fc * 4 + 63) & ~(size_t)63);
    float *bias = malloc(n * 4);
    if (!ha || !hb || !hc || !bias) {
        free(ha);
        free(hb);
        free(hc);
        free(bias);
        b->failures++;
        return;
    }
    uint64_t rng = 42;
    for (size_t i = 0; i < fa; i++)
        ha[i] = (float)(xorshift(&rng) % 2001) * 1e-3f - 1.0f;
    for (size_t i = 0; i < fb; i++)
        hb[i] = (float)(xorshift(&rng) % 2001) * 1e-3f - 1.0f;
    for (uint32_t i = 0; i < n; i++)
        bias[i] = 0.01f * (float)i;
    double flop = 2.0 * m * n * k;
    double ref = 0;
#ifdef TRK_BENCH_HAVE_CBLAS
    {
        struct gemm_ref g = {m, n, k, trans_b, ha, hb, hc};
        double ms = time_median(b, NULL, run_cblas, &g);
        ref = flop / ms / 1e6;
        report(b, "openblas cblas_sgemm", sz, ms, ref, "GFLOP/s", 0, "");
    }
#endif
    struct prim_ctx c = {0};
    c.a = upload(b, ha, fa * 4);
    c.b = upload(b, hb, fb * 4);
    c.d = upload(b, bias, (size_t)n * 4);
    trk_buffer_alloc(b->dev, fc * 4, &c.c);
    if (c.a && c.b && c.c && c.d) {
        c.dense = (struct trk_dense){.m = m, .n = n, .k = k, .trans_b = trans_b, .a = c.a,
                                     .b = c.b, .bias = c.d, .c = c.c, .act = TRK_ACT_TANH};
        bool vendor = trk_device_props(b->dev)->vendor_blas;
        /* The sgemm alone (no bias, no activation) is what compares with OpenBLAS. */
        c.dense.bias = NULL;
        c.dense.act = TRK_ACT_NONE;
        c.force_kernel = false;
        double ms = measure(b, run_dense, &c);
        double g = flop / ms / 1e6;
        report(b, vendor ? "sgemm (trk, vendor)" : "sgemm (trk, kernel)", sz, ms, g, "GFLOP/s",
               ref, "openblas");
        if (ref > 0 && vendor && g / ref < b->sgemm_ratio_min)
            b->sgemm_ratio_min = g / ref;
        /* A whole network layer: + bias + tanh in one extra pass. */
        c.dense.bias = c.d;
        c.dense.act = TRK_ACT_TANH;
        ms = measure(b, run_dense, &c);
        report(b, "dense +bias+tanh", sz, ms, flop / ms / 1e6, "GFLOP/s", ref, "openblas");
        if (kernel_too && vendor) {
            c.force_kernel = true;
            ms = measure(b, run_dense, &c);
            report(b, "dense (dialect kernel)", sz, ms, flop / ms / 1e6, "GFLOP/s", ref,
                   "openblas");
        }
    } else {
        fprintf(stderr, "trk bench: cannot allocate dense buffers for %s\n", sz);
        b->failures++;
    }
    trk_buffer_free(c.a);
    trk_buffer_free(c.b);
    trk_buffer_free(c.c);
    trk_buffer_free(c.d);
    free(ha);
    free(hb);
    free(hc);
    free(bias);
}

static int parse_sizes(const char *s, uint32_t *out, int cap)
{
    int n = 0;
    const char *p = s;
    while (*p && n < cap) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 1 || v > 4e9)
            return -1;
        out[n++] = (uint32_t)v;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return n;
}

static void bench_usage(FILE *out)
{
    fprintf(out,
            "usage: trk bench primitives [options]\n"
            "       trk bench patatrack [options]   (see trk bench patatrack --help)\n"
            "       trk bench exatrkx [options]     (see trk bench exatrkx --help)\n"
            "\n"
            "Measures every parallel primitive on one device (median of repeated runs,\n"
            "wall time including launch overhead) next to references measured in the\n"
            "same run: a host memcpy on the CPU device's thread count for the\n"
            "bandwidth-bound primitives (GB/s = minimal bytes read + written / time) and\n"
            "OpenBLAS's own cblas_sgemm for dense layers.\n"
            "\n"
            "options:\n"
            "  --device SPEC    cpu, opencl:0, cuda:1, an index, or auto (default: cpu)\n"
            "  --sizes LIST     element counts, e.g. 1e5,1e6,1e7 (default)\n"
            "  --only NAMES     comma list of: fill copy scan histogram assoc compact\n"
            "                   reduce sort components layernorm dense\n"
            "  --reps N         repetitions per measurement (default 11; capped by a\n"
            "                   2 s budget per measurement)\n"
            "  --csv FILE       also write the table as CSV\n"
            "  --quick          small sizes and few repetitions (smoke test)\n");
}

int trk_cmd_bench(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        bench_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "patatrack"))
        return trk_cmd_bench_patatrack(argc - 1, argv + 1);
    if (!strcmp(argv[1], "exatrkx"))
        return trk_cmd_bench_exatrkx(argc - 1, argv + 1);
    if (strcmp(argv[1], "primitives")) {
        fprintf(stderr,
                "trk bench: unknown benchmark '%s' (available: primitives, patatrack, exatrkx)\n",
                argv[1]);
        return 2;
    }
    const char *device = "cpu", *csv_path = NULL, *only = NULL;
    uint32_t sizes[16] = {100000, 1000000, 10000000};
    int nsizes = 3;
    struct bench b = {.reps = 11, .budget_s = 2.0, .sgemm_ratio_min = INFINITY,
                      .scan_ratio_min = INFINITY, .hist_ratio_min = INFINITY};
    bool quick = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--device") && v) {
            device = v;
            i++;
        } else if (!strcmp(a, "--sizes") && v) {
            nsizes = parse_sizes(v, sizes, 16);
            if (nsizes <= 0) {
                fprintf(stderr, "trk bench: --sizes %s: give numbers 1..4e9 separated by ','\n",
                        v);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--only") && v) {
            only = v;
            i++;
        } else if (!strcmp(a, "--reps") && v) {
            b.reps = atoi(v);
            if (b.reps < 1 || b.reps > 101) {
                fprintf(stderr, "trk bench: --reps must be 1..101\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--csv") && v) {
            csv_path = v;
            i++;
        } else if (!strcmp(a, "--quick")) {
            quick = true;
        } else {
            fprintf(stderr, "trk bench: unknown or incomplete option '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (quick) {
        sizes[0] = 1000;
        sizes[1] = 100000;
        nsizes = 2;
        b.reps = 3;
        b.budget_s = 0.2;
    }
    struct trk_registry *reg = trk_tool_open_registry();
    if (!reg)
        return 1;
    int rc = 1;
    if (trk_registry_select(reg, device, &b.dev) != TRK_OK) {
        fprintf(stderr, "trk bench: no device '%s' (run 'trk devices' to see what there is)\n",
                device);
        goto out;
    }
    if (trk_queue_create(b.dev, &b.q) != TRK_OK)
        goto out;
    struct trk_device *cpu = NULL;
    trk_registry_select(reg, "cpu", &cpu);
    b.threads = cpu ? trk_device_props(cpu)->compute_units : 1;
    if (trk_pool_create(b.threads > 1 ? b.threads - 1 : 1, &b.pool) != TRK_OK)
        goto out;
    if (csv_path) {
        b.csv = fopen(csv_path, "w");
        if (!b.csv) {
            fprintf(stderr, "trk bench: cannot write %s\n", csv_path);
            goto out;
        }
        fprintf(b.csv, "device,primitive,size,median_ms,value,unit,ratio,ratio_to\n");
    }
    const struct trk_device_props *p = trk_device_props(b.dev);
    char host[256] = "?";
    gethostname(host, sizeof host);
    printf("trk bench primitives on %s: %s (%s, driver %s)\n", trk_device_id(b.dev), p->name,
           p->vendor, p->driver);
    printf("host %s, reference memcpy on %u thread(s), median of up to %d runs\n\n", host,
           b.threads, b.reps);
    printf("  %-22s %-16s %13s %10s %-9s %s\n", "primitive", "size", "median", "throughput",
           "unit", "ratio");
    for (int s = 0; s < nsizes; s++)
        bench_size(&b, sizes[s], only);
    if (!only || strstr(only, "dense")) {
        if (quick) {
            bench_dense(&b, 128, 128, 128, false, true);
        } else {
            bench_dense(&b, 1024, 1024, 1024, false, true);
            bench_dense(&b, 100000, 64, 64, true, true);
            bench_dense(&b, 100000, 12, 64, true, false);
        }
    }
    printf("\ntargets (issue 'The runtime'): ");
    if (isfinite(b.sgemm_ratio_min))
        printf("sgemm >= 0.80x OpenBLAS: %.2fx %s; ", b.sgemm_ratio_min,
               b.sgemm_ratio_min >= 0.8 ? "met" : "NOT met");
    if (isfinite(b.scan_ratio_min))
        printf("scan >= 0.50x memcpy: %.2fx %s; ", b.scan_ratio_min,
               b.scan_ratio_min >= 0.5 ? "met" : "NOT met");
    if (isfinite(b.hist_ratio_min))
        printf("histogram >= 0.50x memcpy: %.2fx %s; ", b.hist_ratio_min,
               b.hist_ratio_min >= 0.5 ? "met" : "NOT met");
    if (b.sort_mpairs_1e6 > 0)
        printf("sort 1e6 >= 50 Mpairs/s: %.1f %s", b.sort_mpairs_1e6,
               b.sort_mpairs_1e6 >= 50 ? "met" : "NOT met");
    printf("\n");
    if (csv_path)
        printf("CSV written to %s\n", csv_path);
    rc = b.failures ? 1 : 0;
out:
    if (b.csv)
        fclose(b.csv);
    trk_pool_free(b.pool);
    trk_queue_free(b.q);
    trk_registry_close(reg);
    return rc;
}
