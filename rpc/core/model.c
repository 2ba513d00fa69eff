/* A loaded model version: its instances, one worker thread each, the bounded queue they
 * share, dynamic batching, and running a batch through the algorithm. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_internal.h"
#include "trk/log.h"

static void *worker_main(void *arg);

/* ---- building ------------------------------------------------------------------------ */

static enum trk_status resolve_devices(struct trk_server *s, const struct trk_model_config *cfg,
                                       const struct trk_instance_group *g,
                                       struct trk_device ***devs, uint32_t *ndevs, char *err,
                                       size_t errlen)
{
    uint32_t cap = g->ndevices ? g->ndevices : trk_registry_device_count(s->reg) + 1;
    struct trk_device **d = calloc(cap, sizeof *d);
    uint32_t n = 0;
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    char avail[512];
    trk_registry_describe(s->reg, avail, sizeof avail);
    if (g->ndevices) {
        for (uint32_t i = 0; i < g->ndevices; i++) {
            if (trk_registry_select(s->reg, g->devices[i], &d[n]) != TRK_OK) {
                snprintf(err, errlen, "instance group '%s': no device '%s' (present: %s)",
                         g->name, g->devices[i], avail);
                free(d);
                return TRK_ERR_NOT_FOUND;
            }
            n++;
        }
    } else if (g->kind == TRK_INSTANCE_KIND_GPU) {
        for (uint32_t i = 0; i < trk_registry_device_count(s->reg); i++) {
            struct trk_device *dev = trk_registry_device(s->reg, i);
            if (trk_device_props(dev)->kind == TRK_DEVICE_KIND_GPU)
                d[n++] = dev;
        }
        if (!n) {
            snprintf(err, errlen, "instance group '%s' is KIND_GPU but there is no GPU (present: "
                     "%s); use KIND_AUTO or KIND_CPU", g->name, avail);
            free(d);
            return TRK_ERR_NOT_FOUND;
        }
    } else {
        const char *spec = g->kind == TRK_INSTANCE_KIND_CPU ? "cpu" : "auto";
        if (trk_registry_select(s->reg, spec, &d[0]) != TRK_OK) {
            snprintf(err, errlen, "instance group '%s': no '%s' device (present: %s)", g->name,
                     spec, avail);
            free(d);
            return TRK_ERR_NOT_FOUND;
        }
        n = 1;
    }
    (void)cfg;
    *devs = d;
    *ndevs = n;
    return TRK_OK;
}

static uint32_t device_index(struct trk_server *s, const struct trk_device *dev)
{
    for (uint32_t i = 0; i < s->ndev; i++)
        if (trk_registry_device(s->reg, i) == dev)
            return i;
    return 0;
}

enum trk_status core_model_build(struct trk_server *s, struct trk_model_config *cfg,
                                 const struct trk_algorithm *algo, int64_t version,
                                 const char *version_dir, struct trk_model **out, char *err,
                                 size_t errlen)
{
    enum trk_status st = TRK_ERR_NO_MEMORY;
    struct trk_device **devs = NULL;
    *out = NULL;
    err[0] = '\0';
    struct trk_model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    atomic_init(&m->refs, 1);
    atomic_init(&m->pending, 0);
    m->srv = s;
    m->cfg = trk_model_config_ref(cfg);
    m->algo = algo;
    m->version = version;
    m->version_dir = strdup(version_dir);
    m->queue_cap = trk_model_config_queue_limit(cfg);
    if (m->queue_cap == 0)
        m->queue_cap = 1;
    trk_model_config_param_bool(cfg, "any_dtype", false, &m->any_dtype);
    trk_model_config_param_bool(cfg, "any_shape", false, &m->any_shape);
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->stats_mu, NULL);
    pthread_cond_init(&m->work_cv, NULL);
    pthread_cond_init(&m->idle_cv, NULL);
    m->ring = calloc(m->queue_cap, sizeof *m->ring);
    if (!m->version_dir || !m->ring) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    /* instances = groups x devices x count */
    uint32_t total = 0;
    for (uint32_t gi = 0; gi < cfg->ninstance_groups; gi++) {
        const struct trk_instance_group *g = &cfg->instance_groups[gi];
        uint32_t nd = 0;
        if ((st = resolve_devices(s, cfg, g, &devs, &nd, err, errlen)) != TRK_OK)
            goto fail;
        free(devs);
        devs = NULL;
        total += nd * g->count;
    }
    m->inst = calloc(total ? total : 1, sizeof *m->inst);
    if (!m->inst) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    uint32_t batch_cap = cfg->max_batch_size > 0 ? (uint32_t)cfg->max_batch_size : 1;
    char where[256] = "";
    uint64_t mem = 0;
    for (uint32_t gi = 0; gi < cfg->ninstance_groups; gi++) {
        const struct trk_instance_group *g = &cfg->instance_groups[gi];
        uint32_t nd = 0;
        if ((st = resolve_devices(s, cfg, g, &devs, &nd, err, errlen)) != TRK_OK)
            goto fail;
        for (uint32_t di = 0; di < nd; di++) {
            size_t wl = strlen(where);
            if (!strstr(where, trk_device_id(devs[di])))
                snprintf(where + wl, sizeof where - wl, "%s%s", wl ? ", " : "",
                         trk_device_id(devs[di]));
            for (uint32_t c = 0; c < g->count; c++) {
                struct core_instance *in = &m->inst[m->ninst];
                in->m = m;
                in->dev = devs[di];
                in->dev_index = device_index(s, devs[di]);
                in->batch = calloc(batch_cap, sizeof *in->batch);
                in->in_ptr = calloc(cfg->ninputs, sizeof *in->in_ptr);
                in->in_buf = calloc(cfg->ninputs, sizeof *in->in_buf);
                in->out = calloc(cfg->noutputs, sizeof *in->out);
                m->ninst++;
                if (!in->batch || !in->in_ptr || !in->in_buf || !in->out) {
                    st = TRK_ERR_NO_MEMORY;
                    snprintf(err, errlen, "out of memory");
                    goto fail;
                }
                char aerr[TRK_ALGORITHM_ERR_MAX] = "";
                st = algo->init(cfg, version_dir, devs[di], &in->state, aerr, sizeof aerr);
                if (st != TRK_OK) {
                    in->state = NULL;
                    snprintf(err, errlen, "instance %u on %s: %s", m->ninst - 1,
                             trk_device_id(devs[di]), aerr[0] ? aerr : trk_status_str(st));
                    goto fail;
                }
                in->mem_bytes = algo->memory_bytes ? algo->memory_bytes(in->state) : 0;
                mem += in->mem_bytes;
            }
        }
        free(devs);
        devs = NULL;
    }
    for (uint32_t i = 0; i < m->ninst; i++) {
        int rc = pthread_create(&m->inst[i].thread, NULL, worker_main, &m->inst[i]);
        if (rc != 0) {
            st = TRK_ERR_NO_MEMORY;
            snprintf(err, errlen, "cannot start a worker thread: %s", strerror(rc));
            goto fail;
        }
        m->inst[i].started = true;
    }
    TRK_LOGI("model '%s' version %" PRId64 ": %u instance%s on %s (%s, %.0f MiB)", cfg->name,
             version, m->ninst, m->ninst == 1 ? "" : "s", where, algo->name,
             (double)mem / (1024.0 * 1024.0));
    *out = m;
    return TRK_OK;
fail:
    free(devs);
    if (st == TRK_OK)
        st = TRK_ERR_INTERNAL;
    trk_model_release(m); /* stops the started workers, finalises the instances */
    return st;
}

void core_model_stop(struct trk_model *m, bool abort)
{
    pthread_mutex_lock(&m->mu);
    m->stopping = true;
    if (abort)
        m->abort = true;
    bool joined = m->joined;
    m->joined = true;
    pthread_cond_broadcast(&m->work_cv);
    pthread_mutex_unlock(&m->mu);
    if (joined)
        return;
    for (uint32_t i = 0; i < m->ninst; i++)
        if (m->inst[i].started)
            pthread_join(m->inst[i].thread, NULL);
    for (uint32_t i = 0; i < m->ninst; i++) {
        if (m->inst[i].state)
            m->algo->fini(m->inst[i].state);
        m->inst[i].state = NULL;
    }
    /* Requests that no worker ever took (a model built with no instance). */
    pthread_mutex_lock(&m->mu);
    uint32_t left = m->n;
    pthread_mutex_unlock(&m->mu);
    if (left)
        TRK_LOGE("model '%s': %u requests left unanswered", m->cfg->name, left);
}

void core_model_wait_idle(struct trk_model *m, uint64_t deadline_ns)
{
    pthread_mutex_lock(&m->mu);
    while (atomic_load(&m->pending) > 0) {
        uint64_t now = core_now_ns();
        if (now >= deadline_ns)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t wait = deadline_ns - now;
        if (wait > 100000000u)
            wait = 100000000u; /* re-check at least every 100 ms */
        uint64_t ns = (uint64_t)ts.tv_nsec + wait;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&m->idle_cv, &m->mu, &ts);
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---- the queue (m->mu held) ----------------------------------------------------------- */

static struct core_item *ring_at(struct trk_model *m, uint32_t i)
{
    return &m->ring[(m->head + i) % m->queue_cap];
}

/* Removes the items whose keep[] is false... (compaction keeps the order) */
static void ring_compact(struct trk_model *m, const bool *take)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < m->n; i++)
        if (!take[i]) {
            if (w != i)
                *ring_at(m, w) = *ring_at(m, i);
            w++;
        }
    m->n = w;
}

/* ---- answering --------------------------------------------------------------------------- */

static void finish_items(struct trk_model *m, struct core_item *items, uint32_t n)
{
    pthread_mutex_lock(&m->mu);
    unsigned left = atomic_fetch_sub(&m->pending, n) - n;
    if (left == 0)
        pthread_cond_broadcast(&m->idle_cv);
    pthread_mutex_unlock(&m->mu);
    for (uint32_t i = 0; i < n; i++) {
        struct trk_infer_request *r = items[i].req;
        r->done(r, r->user);
    }
}

static void fail_item(struct trk_model *m, struct core_item *it, enum trk_status st,
                      enum core_fail_reason why, const char *msg, uint64_t now)
{
    struct trk_infer_request *r = it->req;
    r->status = st;
    r->served_version = m->version;
    snprintf(r->error, sizeof r->error, "%s", msg);
    r->queue_ns = now - it->enq_ns;
    core_stats_record_fail(m, why, now - it->enq_ns);
}

/* ---- batching --------------------------------------------------------------------------- */

static const struct trk_tensor *req_input(const struct trk_infer_request *r, const char *name)
{
    for (uint32_t i = 0; i < r->ninputs; i++)
        if (strcmp(r->inputs[i].name, name) == 0)
            return &r->inputs[i];
    return NULL;
}

/* Whether two requests can share a batch: the same inputs with the same dtypes and the
 * same shapes apart from the batch dimension. */
static bool batchable(const struct trk_model_config *cfg, const struct trk_infer_request *a,
                      const struct trk_infer_request *b)
{
    for (uint32_t i = 0; i < cfg->ninputs; i++) {
        const struct trk_tensor *ta = req_input(a, cfg->inputs[i].name);
        const struct trk_tensor *tb = req_input(b, cfg->inputs[i].name);
        if (!ta || !tb) {
            if (ta != tb)
                return false;
            continue;
        }
        if (ta->dtype != tb->dtype || ta->ndim != tb->ndim)
            return false;
        for (uint32_t d = 1; d < ta->ndim; d++)
            if (ta->shape[d] != tb->shape[d])
                return false;
        if (cfg->inputs[i].allow_ragged_batch)
            return false; /* ragged inputs are not merged: one request per execution */
    }
    return true;
}

/* Picks the next batch into in->batch (removing it from the queue); returns its size, or
 * 0 with *wait_until set when the batcher should wait (0: until woken). m->mu held. */
static uint32_t pick_batch(struct core_instance *in, uint64_t now, uint64_t *wait_until)
{
    struct trk_model *m = in->m;
    const struct trk_model_config *cfg = m->cfg;
    *wait_until = 0;
    if (m->n == 0)
        return 0;
    bool batching = cfg->max_batch_size > 0 && cfg->dynamic_batching.present;
    if (!batching) {
        in->batch[0] = *ring_at(m, 0);
        m->head = (m->head + 1) % m->queue_cap;
        m->n--;
        return 1;
    }
    const struct trk_dynamic_batching *db = &cfg->dynamic_batching;
    uint32_t maxb = (uint32_t)cfg->max_batch_size;
    struct core_item *first = ring_at(m, 0);
    /* Greedy in queue order; remember the longest prefix that hits a preferred size. */
    uint32_t rows = 0, nsel = 0, best_n = 0;
    bool take[m->n > 0 ? m->n : 1];
    memset(take, 0, sizeof take);
    uint32_t best_cut = 0; /* queue index after the best prefix's last item */
    for (uint32_t i = 0; i < m->n && rows < maxb; i++) {
        struct core_item *it = ring_at(m, i);
        if (rows + it->rows > maxb)
            continue;
        if (i > 0 && !batchable(cfg, first->req, it->req))
            continue;
        take[i] = true;
        rows += it->rows;
        nsel++;
        for (uint32_t p = 0; p < db->npreferred; p++)
            if ((uint32_t)db->preferred_batch_size[p] == rows) {
                best_n = nsel;
                best_cut = i + 1;
            }
    }
    uint64_t delay_ns = db->max_queue_delay_microseconds * 1000u;
    bool send_all = rows >= maxb || m->stopping || delay_ns == 0 || now >= first->enq_ns + delay_ns;
    if (!best_n && !send_all) {
        *wait_until = first->enq_ns + delay_ns;
        return 0;
    }
    if (best_n && !send_all)
        for (uint32_t i = best_cut; i < m->n; i++)
            take[i] = false; /* keep only the preferred-size prefix */
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->n; i++)
        if (take[i])
            in->batch[k++] = *ring_at(m, i);
    ring_compact(m, take);
    return k;
}

/* Removes cancelled and expired items into `out` (at most cap); m->mu held. */
static uint32_t purge(struct trk_model *m, uint64_t now, struct core_item *out, uint32_t cap,
                      bool *cancelled)
{
    if (m->n == 0)
        return 0;
    bool take[m->n];
    uint32_t k = 0;
    for (uint32_t i = 0; i < m->n; i++) {
        struct core_item *it = ring_at(m, i);
        take[i] = k < cap && (m->abort || atomic_load(&it->req->cancelled) ||
                              (it->expire_ns && now >= it->expire_ns));
        if (take[i]) {
            cancelled[k] = atomic_load(&it->req->cancelled);
            out[k++] = *it;
        }
    }
    if (k)
        ring_compact(m, take);
    return k;
}

/* ---- execution --------------------------------------------------------------------------- */

static uint32_t rd_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Byte offset after `nelem` BYTES elements starting at `from`, or SIZE_MAX if the data
 * ends first. */
static size_t bytes_skip(const struct trk_tensor *t, size_t from, size_t nelem)
{
    const unsigned char *p = t->data;
    size_t pos = from;
    for (size_t e = 0; e < nelem; e++) {
        if (t->nbytes - pos < 4)
            return SIZE_MAX;
        size_t len = rd_le32(p + pos);
        pos += 4;
        if (len > t->nbytes - pos)
            return SIZE_MAX;
        pos += len;
    }
    return pos;
}

/* The shape the algorithm sees for a request tensor: its own, or the config's reshape
 * (batch dimension kept; one -1 inferred from the element count). */
static void apply_reshape(const struct trk_model_config *cfg, const struct trk_model_io *io,
                          struct trk_tensor *t)
{
    if (!io->has_reshape)
        return;
    bool batch = cfg->max_batch_size > 0;
    size_t numel = 1;
    for (uint32_t d = batch ? 1 : 0; d < t->ndim; d++)
        numel *= (size_t)t->shape[d];
    int64_t shape[TRK_TENSOR_MAX_DIMS];
    uint32_t nd = 0, unknown = UINT32_MAX, nunknown = 0;
    size_t known = 1;
    if (batch)
        shape[nd++] = t->shape[0];
    for (uint32_t d = 0; d < io->reshape_ndims && nd < TRK_TENSOR_MAX_DIMS; d++) {
        if (io->reshape[d] < 0) {
            unknown = nd;
            nunknown++;
        } else {
            known *= (size_t)io->reshape[d];
        }
        shape[nd++] = io->reshape[d];
    }
    if (nunknown > 1 || (nunknown == 1 && (known == 0 || numel % known)))
        return; /* ambiguous: leave the request's shape */
    if (nunknown == 1)
        shape[unknown] = (int64_t)(numel / known);
    t->ndim = nd;
    memcpy(t->shape, shape, nd * sizeof *shape);
}

/* Merges (or borrows, for one item) the inputs of the batch into in->in_ptr. Returns the
 * status; *merged says which in_buf entries own malloc'd data. */
static enum trk_status gather_inputs(struct core_instance *in, uint32_t k, uint32_t rows,
                                     char *err, size_t errlen)
{
    struct trk_model *m = in->m;
    const struct trk_model_config *cfg = m->cfg;
    for (uint32_t i = 0; i < cfg->ninputs; i++) {
        const struct trk_model_io *io = &cfg->inputs[i];
        const struct trk_tensor *t0 = req_input(in->batch[0].req, io->name);
        struct trk_tensor *b = &in->in_buf[i];
        memset(b, 0, sizeof *b);
        in->in_ptr[i] = NULL;
        if (!t0)
            continue;
        *b = *t0;
        b->owns_data = false;
        if (k > 1) {
            size_t total = 0;
            for (uint32_t j = 0; j < k; j++)
                total += req_input(in->batch[j].req, io->name)->nbytes;
            unsigned char *data = malloc(total ? total : 1);
            if (!data) {
                snprintf(err, errlen, "out of memory merging a batch of %u rows", rows);
                return TRK_ERR_NO_MEMORY;
            }
            size_t off = 0;
            for (uint32_t j = 0; j < k; j++) {
                const struct trk_tensor *t = req_input(in->batch[j].req, io->name);
                if (t->nbytes)
                    memcpy(data + off, t->data, t->nbytes);
                off += t->nbytes;
            }
            b->data = data;
            b->nbytes = total;
            b->owns_data = true;
            b->shape[0] = rows;
        }
        snprintf(b->name, sizeof b->name, "%s", io->name);
        apply_reshape(cfg, io, b);
        in->in_ptr[i] = b;
    }
    return TRK_OK;
}

static void release_inputs(struct core_instance *in)
{
    for (uint32_t i = 0; i < in->m->cfg->ninputs; i++) {
        if (in->in_buf[i].owns_data)
            free(in->in_buf[i].data);
        in->in_buf[i].owns_data = false;
        in->in_buf[i].data = NULL;
    }
}

/* Gives each request its requested outputs: the algorithm's tensors for a single
 * request, row slices for a batch. */
static enum trk_status scatter_outputs(struct core_instance *in, uint32_t k, uint32_t rows,
                                       char *err, size_t errlen)
{
    struct trk_model *m = in->m;
    const struct trk_model_config *cfg = m->cfg;
    bool batch = cfg->max_batch_size > 0;
    for (uint32_t j = 0; j < cfg->noutputs; j++) {
        struct trk_tensor *o = in->out[j];
        if (!o) {
            snprintf(err, errlen, "algorithm '%s' produced no output '%s'", m->algo->name,
                     cfg->outputs[j].name);
            return TRK_ERR_INTERNAL;
        }
        snprintf(o->name, sizeof o->name, "%s", cfg->outputs[j].name);
        if (batch && (o->ndim < 1 || o->shape[0] != (int64_t)rows)) {
            snprintf(err, errlen, "algorithm '%s': output '%s' has %lld rows for a batch of %u",
                     m->algo->name, o->name, o->ndim ? (long long)o->shape[0] : 0LL, rows);
            return TRK_ERR_INTERNAL;
        }
        if (k > 1 && o->dtype != TRK_DTYPE_BYTES && o->nbytes % rows) {
            snprintf(err, errlen, "algorithm '%s': output '%s' does not split into %u rows",
                     m->algo->name, o->name, rows);
            return TRK_ERR_INTERNAL;
        }
    }
    for (uint32_t r = 0; r < k; r++) {
        struct trk_infer_request *req = in->batch[r].req;
        uint32_t n = req->nrequested ? req->nrequested : cfg->noutputs;
        req->outputs = calloc(n, sizeof *req->outputs);
        if (!req->outputs) {
            snprintf(err, errlen, "out of memory");
            return TRK_ERR_NO_MEMORY;
        }
        req->noutputs = n;
    }
    for (uint32_t j = 0; j < cfg->noutputs; j++) {
        struct trk_tensor *o = in->out[j];
        size_t elem_per_row = 0, off = 0;
        if (k > 1 && o->dtype == TRK_DTYPE_BYTES) {
            size_t numel = 0;
            trk_shape_numel(o->ndim, o->shape, &numel);
            elem_per_row = numel / rows;
        }
        for (uint32_t r = 0; r < k; r++) {
            struct trk_infer_request *req = in->batch[r].req;
            int slot = -1;
            for (uint32_t q = 0; q < req->noutputs; q++)
                if (req->nrequested ? strcmp(req->requested[q], o->name) == 0 : q == j)
                    slot = (int)q;
            size_t len;
            uint32_t rr = in->batch[r].rows;
            if (k == 1) {
                if (slot >= 0) {
                    req->outputs[slot] = o;
                    in->out[j] = NULL;
                }
                continue;
            }
            if (o->dtype == TRK_DTYPE_BYTES) {
                size_t end = bytes_skip(o, off, elem_per_row * rr);
                if (end == SIZE_MAX) {
                    snprintf(err, errlen, "algorithm '%s': output '%s' holds malformed BYTES",
                             m->algo->name, o->name);
                    return TRK_ERR_INTERNAL;
                }
                len = end - off;
            } else {
                len = o->nbytes / rows * rr;
            }
            if (slot >= 0) {
                int64_t shape[TRK_TENSOR_MAX_DIMS];
                memcpy(shape, o->shape, sizeof shape);
                shape[0] = rr;
                struct trk_tensor *t;
                if (trk_tensor_alloc_bytes(o->name, o->dtype, o->ndim, shape, len, &t) !=
                    TRK_OK) {
                    snprintf(err, errlen, "out of memory");
                    return TRK_ERR_NO_MEMORY;
                }
                if (len)
                    memcpy(t->data, (unsigned char *)o->data + off, len);
                req->outputs[slot] = t;
            }
            off += len;
        }
    }
    return TRK_OK;
}

static void drop_request_outputs(struct trk_infer_request *req)
{
    for (uint32_t i = 0; req->outputs && i < req->noutputs; i++)
        trk_tensor_free(req->outputs[i]);
    free(req->outputs);
    req->outputs = NULL;
    req->noutputs = 0;
}

static void run_batch(struct core_instance *in, uint32_t k)
{
    struct trk_model *m = in->m;
    const struct trk_model_config *cfg = m->cfg;
    struct trk_server *s = m->srv;
    char err[TRK_SERVER_ERR_MAX] = "";
    uint32_t rows = 0;
    for (uint32_t i = 0; i < k; i++)
        rows += in->batch[i].rows;
    uint64_t t0 = core_now_ns();
    for (uint32_t j = 0; j < cfg->noutputs; j++)
        in->out[j] = NULL;
    enum trk_status st = gather_inputs(in, k, rows, err, sizeof err);
    uint64_t t1 = core_now_ns(), t2 = t1;
    struct trk_exec_timing tm = {0, 0, 0};
    if (st == TRK_OK) {
        char aerr[TRK_ALGORITHM_ERR_MAX] = "";
        st = m->algo->execute(in->state, in->in_ptr, cfg->ninputs, in->out, cfg->noutputs, &tm,
                              aerr, sizeof aerr);
        t2 = core_now_ns();
        if (st != TRK_OK) {
            snprintf(err, sizeof err, "%s", aerr[0] ? aerr : trk_status_str(st));
            for (uint32_t j = 0; j < cfg->noutputs; j++)
                in->out[j] = NULL; /* the contract says none are left allocated */
        }
        atomic_fetch_add(&s->devstat[in->dev_index].busy_ns, t2 - t1);
    }
    release_inputs(in);
    if (st == TRK_OK)
        st = scatter_outputs(in, k, rows, err, sizeof err);
    for (uint32_t j = 0; j < cfg->noutputs; j++) {
        trk_tensor_free(in->out[j]);
        in->out[j] = NULL;
    }
    uint64_t t3 = core_now_ns();
    uint64_t cin, cinf, cout;
    if (tm.input_ns || tm.infer_ns || tm.output_ns) {
        cin = (t1 - t0) + tm.input_ns;
        cinf = tm.infer_ns;
        cout = tm.output_ns + (t3 - t2);
    } else {
        cin = t1 - t0;
        cinf = t2 - t1;
        cout = t3 - t2;
    }
    for (uint32_t i = 0; i < k; i++) {
        struct trk_infer_request *req = in->batch[i].req;
        req->served_version = m->version;
        req->status = st;
        if (st != TRK_OK) {
            drop_request_outputs(req);
            snprintf(req->error, sizeof req->error, "%s", err);
        }
        req->queue_ns = t0 - in->batch[i].enq_ns;
        req->compute_input_ns = cin;
        req->compute_infer_ns = cinf;
        req->compute_output_ns = cout;
    }
    if (st == TRK_OK) {
        core_stats_record_batch(m, in->batch, k, rows, t0, cin, cinf, cout, t3);
    } else {
        TRK_LOGW("model '%s' version %" PRId64 ": %s", cfg->name, m->version, err);
        for (uint32_t i = 0; i < k; i++)
            core_stats_record_fail(m, FAIL_BACKEND, t3 - in->batch[i].enq_ns);
    }
    finish_items(m, in->batch, k);
}

/* ---- the worker --------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    struct core_instance *in = arg;
    struct trk_model *m = in->m;
    uint32_t cap = m->cfg->max_batch_size > 0 ? (uint32_t)m->cfg->max_batch_size : 1;
    struct core_item *dead = calloc(cap, sizeof *dead);
    bool *cancelled = calloc(cap, sizeof *cancelled);
    pthread_mutex_lock(&m->mu);
    for (;;) {
        uint64_t now = core_now_ns();
        uint32_t nd = dead && cancelled ? purge(m, now, dead, cap, cancelled) : 0;
        if (nd) {
            bool abort = m->abort;
            pthread_mutex_unlock(&m->mu);
            for (uint32_t i = 0; i < nd; i++) {
                if (abort && !cancelled[i])
                    fail_item(m, &dead[i], TRK_ERR_UNAVAILABLE, FAIL_OTHER,
                              "server is shutting down", now);
                else
                    fail_item(m, &dead[i], TRK_ERR_TIMEOUT,
                              cancelled[i] ? FAIL_CANCELED : FAIL_OTHER,
                              cancelled[i] ? "cancelled" : "request timed out in the queue", now);
            }
            finish_items(m, dead, nd);
            pthread_mutex_lock(&m->mu);
            continue;
        }
        if (m->n == 0) {
            if (m->stopping)
                break;
            pthread_cond_wait(&m->work_cv, &m->mu);
            continue;
        }
        uint64_t wait_until = 0;
        uint32_t k = pick_batch(in, now, &wait_until);
        if (k == 0) {
            /* also wake for the earliest expiry in the queue */
            for (uint32_t i = 0; i < m->n; i++) {
                uint64_t e = ring_at(m, i)->expire_ns;
                if (e && e < wait_until)
                    wait_until = e;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t d = wait_until > now ? wait_until - now : 0;
            uint64_t ns = (uint64_t)ts.tv_nsec + d;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&m->work_cv, &m->mu, &ts);
            continue;
        }
        if (m->n > 0)
            pthread_cond_signal(&m->work_cv); /* another worker can take the rest */
        pthread_mutex_unlock(&m->mu);
        run_batch(in, k);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    free(dead);
    free(cancelled);
    return NULL;
}
