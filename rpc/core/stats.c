/* Statistics (Triton's ModelStatistics semantics) and the Prometheus metrics text. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_internal.h"

static void dur_add(struct trk_duration_stat *d, uint64_t ns)
{
    d->count++;
    d->ns += ns;
}

void core_stats_free(struct core_stats *st)
{
    free(st->batch);
    st->batch = NULL;
    st->nbatch = st->capbatch = 0;
}

void core_stats_record_fail(struct trk_model *m, enum core_fail_reason why, uint64_t ns)
{
    pthread_mutex_lock(&m->stats_mu);
    dur_add(&m->stats.fail, ns);
    m->stats.fail_reason[why]++;
    pthread_mutex_unlock(&m->stats_mu);
}

void core_stats_record_batch(struct trk_model *m, const struct core_item *items, uint32_t k,
                             uint32_t rows, uint64_t t_start, uint64_t cin, uint64_t cinf,
                             uint64_t cout, uint64_t t_end)
{
    struct core_stats *st = &m->stats;
    pthread_mutex_lock(&m->stats_mu);
    for (uint32_t i = 0; i < k; i++) {
        dur_add(&st->success, t_end - items[i].enq_ns);
        dur_add(&st->queue, t_start - items[i].enq_ns);
        dur_add(&st->compute_input, cin);
        dur_add(&st->compute_infer, cinf);
        dur_add(&st->compute_output, cout);
    }
    st->inference_count += rows;
    st->execution_count++;
    st->last_inference_ms = core_wall_ms();
    uint32_t b = 0;
    while (b < st->nbatch && st->batch[b].batch_size < rows)
        b++;
    if (b == st->nbatch || st->batch[b].batch_size != rows) {
        if (st->nbatch == st->capbatch) {
            uint32_t cap = st->capbatch ? 2 * st->capbatch : 8;
            struct trk_batch_stat *nb = realloc(st->batch, cap * sizeof *nb);
            if (!nb) {
                pthread_mutex_unlock(&m->stats_mu);
                return;
            }
            st->batch = nb;
            st->capbatch = cap;
        }
        memmove(&st->batch[b + 1], &st->batch[b], (st->nbatch - b) * sizeof *st->batch);
        memset(&st->batch[b], 0, sizeof *st->batch);
        st->batch[b].batch_size = rows;
        st->nbatch++;
    }
    dur_add(&st->batch[b].compute_input, cin);
    dur_add(&st->batch[b].compute_infer, cinf);
    dur_add(&st->batch[b].compute_output, cout);
    pthread_mutex_unlock(&m->stats_mu);
}

/* A referenced snapshot of the active models matching name/version (s->lock taken here). */
static struct trk_model **snapshot(struct trk_server *s, const char *name, int64_t version,
                                   uint32_t *n)
{
    pthread_mutex_lock(&s->lock);
    struct trk_model **ms = calloc(s->nactive ? s->nactive : 1, sizeof *ms);
    uint32_t k = 0;
    for (uint32_t i = 0; ms && i < s->nactive; i++) {
        struct trk_model *m = s->active[i];
        if (name && strcmp(m->cfg->name, name) != 0)
            continue;
        if (version >= 0 && m->version != version)
            continue;
        atomic_fetch_add(&m->refs, 1);
        ms[k++] = m;
    }
    pthread_mutex_unlock(&s->lock);
    /* by name, then version, for a stable listing */
    for (uint32_t i = 1; i < k; i++)
        for (uint32_t j = i; j > 0; j--) {
            int c = strcmp(ms[j - 1]->cfg->name, ms[j]->cfg->name);
            if (c < 0 || (c == 0 && ms[j - 1]->version <= ms[j]->version))
                break;
            struct trk_model *t = ms[j - 1];
            ms[j - 1] = ms[j];
            ms[j] = t;
        }
    *n = k;
    return ms;
}

static void snapshot_release(struct trk_model **ms, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        trk_model_release(ms[i]);
    free(ms);
}

enum trk_status trk_server_stats(struct trk_server *s, const char *name, int64_t version,
                                 struct trk_model_stats **out, uint32_t *n)
{
    if (!s || !out || !n)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    *n = 0;
    uint32_t k;
    struct trk_model **ms = snapshot(s, name, version, &k);
    if (!ms)
        return TRK_ERR_NO_MEMORY;
    if (name && k == 0) {
        snapshot_release(ms, k);
        return TRK_ERR_NOT_FOUND;
    }
    struct trk_model_stats *st = calloc(k ? k : 1, sizeof *st);
    enum trk_status rc = st ? TRK_OK : TRK_ERR_NO_MEMORY;
    for (uint32_t i = 0; st && i < k; i++) {
        struct trk_model *m = ms[i];
        struct trk_model_stats *o = &st[i];
        snprintf(o->name, sizeof o->name, "%s", m->cfg->name);
        o->version = m->version;
        pthread_mutex_lock(&m->stats_mu);
        const struct core_stats *c = &m->stats;
        o->last_inference_ms = c->last_inference_ms;
        o->inference_count = c->inference_count;
        o->execution_count = c->execution_count;
        o->success = c->success;
        o->fail = c->fail;
        o->queue = c->queue;
        o->compute_input = c->compute_input;
        o->compute_infer = c->compute_infer;
        o->compute_output = c->compute_output;
        if (c->nbatch) {
            o->batch = malloc(c->nbatch * sizeof *o->batch);
            if (o->batch) {
                memcpy(o->batch, c->batch, c->nbatch * sizeof *o->batch);
                o->nbatch = c->nbatch;
            } else {
                rc = TRK_ERR_NO_MEMORY;
            }
        }
        pthread_mutex_unlock(&m->stats_mu);
    }
    snapshot_release(ms, k);
    if (rc != TRK_OK) {
        trk_model_stats_free(st, k);
        return rc;
    }
    *out = st;
    *n = k;
    return TRK_OK;
}

void trk_model_stats_free(struct trk_model_stats *stats, uint32_t n)
{
    if (!stats)
        return;
    for (uint32_t i = 0; i < n; i++)
        free(stats[i].batch);
    free(stats);
}

/* ---- metrics ------------------------------------------------------------------------------ */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static void gpu_uuid(const struct trk_device *dev, char *buf, size_t len)
{
    snprintf(buf, len, "trk-%s", trk_device_id(dev));
    for (char *c = buf; *c; c++)
        if (*c == ':' || *c == '"' || *c == '\\')
            *c = '-';
}

static bool read_cpu(uint64_t *total, uint64_t *idle)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return false;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *idle = v[3] + v[4];
    return true;
}

static bool read_mem(uint64_t *total, uint64_t *used)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return false;
    char line[256];
    unsigned long long t = 0, a = 0;
    bool have_t = false, have_a = false;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemTotal: %llu kB", &t) == 1)
            have_t = true;
        else if (sscanf(line, "MemAvailable: %llu kB", &a) == 1)
            have_a = true;
    }
    fclose(f);
    if (!have_t || !have_a)
        return false;
    *total = t * 1024;
    *used = (t > a ? t - a : 0) * 1024;
    return true;
}

static const struct {
    const char *name, *help;
} k_counters[] = {
    {"nv_inference_request_success", "Number of successful inference requests, all batch sizes"},
    {"nv_inference_request_failure", "Number of failed inference requests, all batch sizes"},
    {"nv_inference_count", "Number of inferences performed (a batch of n counts n)"},
    {"nv_inference_exec_count", "Number of model executions performed"},
    {"nv_inference_request_duration_us", "Cumulative inference request duration in microseconds"},
    {"nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds"},
    {"nv_inference_compute_input_duration_us",
     "Cumulative compute input duration in microseconds"},
    {"nv_inference_compute_infer_duration_us",
     "Cumulative compute inference duration in microseconds"},
    {"nv_inference_compute_output_duration_us",
     "Cumulative inference compute output duration in microseconds"},
};

enum trk_status trk_server_metrics_text(struct trk_server *s, char **text)
{
    if (!s || !text)
        return TRK_ERR_INVALID_ARG;
    *text = NULL;
    uint32_t k;
    struct trk_model **ms = snapshot(s, NULL, -1, &k);
    if (!ms)
        return TRK_ERR_NO_MEMORY;
    struct core_stats *cs = calloc(k ? k : 1, sizeof *cs);
    unsigned *pending = calloc(k ? k : 1, sizeof *pending);
    if (!cs || !pending) {
        free(cs);
        free(pending);
        snapshot_release(ms, k);
        return TRK_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < k; i++) {
        pthread_mutex_lock(&ms[i]->stats_mu);
        cs[i] = ms[i]->stats;
        cs[i].batch = NULL;
        pthread_mutex_unlock(&ms[i]->stats_mu);
        pending[i] = atomic_load(&ms[i]->pending);
    }
    struct sbuf b = {0};
    static const char *const k_reasons[FAIL_NREASONS] = {"REJECTED", "CANCELED", "BACKEND",
                                                          "OTHER"};
    for (size_t c = 0; c < sizeof k_counters / sizeof k_counters[0]; c++) {
        sb_printf(&b, "# HELP %s %s\n# TYPE %s counter\n", k_counters[c].name,
                  k_counters[c].help, k_counters[c].name);
        for (uint32_t i = 0; i < k; i++) {
            const struct core_stats *st = &cs[i];
            const char *mn = ms[i]->cfg->name;
            int64_t v = ms[i]->version;
            if (c == 1) {
                for (int r = 0; r < FAIL_NREASONS; r++)
                    sb_printf(&b, "%s{model=\"%s\",reason=\"%s\",version=\"%" PRId64 "\"} %" PRIu64
                              "\n", k_counters[c].name, mn, k_reasons[r], v,
                              st->fail_reason[r]);
                continue;
            }
            uint64_t val = 0;
            switch (c) {
            case 0: val = st->success.count; break;
            case 2: val = st->inference_count; break;
            case 3: val = st->execution_count; break;
            case 4: val = (st->success.ns + st->fail.ns) / 1000u; break;
            case 5: val = st->queue.ns / 1000u; break;
            case 6: val = st->compute_input.ns / 1000u; break;
            case 7: val = st->compute_infer.ns / 1000u; break;
            case 8: val = st->compute_output.ns / 1000u; break;
            default: break;
            }
            sb_printf(&b, "%s{model=\"%s\",version=\"%" PRId64 "\"} %" PRIu64 "\n",
                      k_counters[c].name, mn, v, val);
        }
    }
    sb_printf(&b, "# HELP nv_inference_pending_request_count Instantaneous number of pending "
                  "requests awaiting execution per-model.\n"
                  "# TYPE nv_inference_pending_request_count gauge\n");
    for (uint32_t i = 0; i < k; i++)
        sb_printf(&b, "nv_inference_pending_request_count{model=\"%s\",version=\"%" PRId64
                  "\"} %u\n", ms[i]->cfg->name, ms[i]->version, pending[i]);

    /* Devices: every device in the registry, the CPU included (SuperSONIC counts servers
     * with count(nv_gpu_utilization)). */
    uint32_t nd = s->ndev;
    uint64_t *used = calloc(nd ? nd : 1, sizeof *used);
    for (uint32_t i = 0; used && i < k; i++)
        for (uint32_t j = 0; j < ms[i]->ninst; j++)
            used[ms[i]->inst[j].dev_index] += ms[i]->inst[j].mem_bytes;
    double *util = calloc(nd ? nd : 1, sizeof *util);
    uint64_t now = core_now_ns();
    uint64_t cpu_total = 0, cpu_idle = 0;
    double cpu_util = -1;
    pthread_mutex_lock(&s->metrics_mu);
    for (uint32_t d = 0; util && d < nd; d++) {
        struct core_devstat *ds = &s->devstat[d];
        uint64_t busy = atomic_load(&ds->busy_ns);
        uint64_t dt = now - ds->last_scrape_ns;
        double u = dt ? (double)(busy - ds->last_busy_ns) / (double)dt : 0.0;
        util[d] = u < 0 ? 0 : u > 1 ? 1 : u;
        ds->last_busy_ns = busy;
        ds->last_scrape_ns = now;
    }
    if (read_cpu(&cpu_total, &cpu_idle)) {
        uint64_t dt = cpu_total - s->cpu_last_total, di = cpu_idle - s->cpu_last_idle;
        cpu_util = dt ? 1.0 - (double)di / (double)dt : 0.0;
        if (cpu_util < 0)
            cpu_util = 0;
        s->cpu_last_total = cpu_total;
        s->cpu_last_idle = cpu_idle;
    }
    pthread_mutex_unlock(&s->metrics_mu);
    static const char *const k_dev[3][2] = {
        {"nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)"},
        {"nv_gpu_memory_total_bytes", "GPU total memory, in bytes"},
        {"nv_gpu_memory_used_bytes", "GPU used memory, in bytes"},
    };
    for (int f = 0; f < 3; f++) {
        sb_printf(&b, "# HELP %s %s\n# TYPE %s gauge\n", k_dev[f][0], k_dev[f][1], k_dev[f][0]);
        for (uint32_t d = 0; d < nd; d++) {
            const struct trk_device *dev = trk_registry_device(s->reg, d);
            char uuid[96];
            gpu_uuid(dev, uuid, sizeof uuid);
            if (f == 0)
                sb_printf(&b, "%s{gpu_uuid=\"%s\"} %.6f\n", k_dev[f][0], uuid,
                          util ? util[d] : 0.0);
            else
                sb_printf(&b, "%s{gpu_uuid=\"%s\"} %" PRIu64 "\n", k_dev[f][0], uuid,
                          f == 1 ? trk_device_props(dev)->global_mem : (used ? used[d] : 0));
        }
    }
    uint64_t mem_total, mem_used;
    if (cpu_util >= 0)
        sb_printf(&b, "# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]\n"
                      "# TYPE nv_cpu_utilization gauge\nnv_cpu_utilization %.6f\n", cpu_util);
    if (read_mem(&mem_total, &mem_used))
        sb_printf(&b, "# HELP nv_cpu_memory_total_bytes CPU total memory (RAM), in bytes\n"
                      "# TYPE nv_cpu_memory_total_bytes gauge\nnv_cpu_memory_total_bytes %" PRIu64
                      "\n# HELP nv_cpu_memory_used_bytes CPU used memory (RAM), in bytes\n"
                      "# TYPE nv_cpu_memory_used_bytes gauge\nnv_cpu_memory_used_bytes %" PRIu64
                      "\n", mem_total, mem_used);
    free(used);
    free(util);
    free(cs);
    free(pending);
    snapshot_release(ms, k);
    if (b.oom || !b.p) {
        free(b.p);
        return TRK_ERR_NO_MEMORY;
    }
    *text = b.p;
    return TRK_OK;
}
