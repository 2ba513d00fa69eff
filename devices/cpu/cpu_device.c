/* The threaded CPU device: built into libtrk, always present.
 *
 * A queue runs each command when it is enqueued, on the enqueuing thread, which
 * is a valid schedule for an in-order queue: "asynchronous" calls simply complete
 * before they return. A kernel launch runs its blocks on the shared pool (the
 * calling thread helps), each block on ONE thread with block size 1 — the
 * dialect's serial-block mode. No thread is created per launch or per queue.
 *
 * Why not a lane thread per queue: on a CPU the host and the "device" share the
 * cores, so there is nothing to overlap, and handing every command to another
 * thread and back cost ~3 thread wake-ups per launch (measured: 0.1-0.2 ms per
 * small launch on 2 cores, more than a 1e6-element kernel takes). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "device_impl.h"
#include "trk/dialect.h"
#include "trk/pool.h"

#include "cpu_kernels.h"

#ifdef TRK_HAVE_CBLAS
#include <cblas.h>
#endif

void trk_cpu_module_set_threads(unsigned nthreads);

struct cpu_dev {
    struct trk_pool *pool;
    unsigned threads; /* pool workers + the enqueuing thread, which helps */
};

struct cpu_event {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int refs; /* the user's handle + each queue command that references it */
    uint64_t t_ns;
};

enum cmd_kind { CMD_WRITE, CMD_READ, CMD_COPY, CMD_MEMSET, CMD_LAUNCH, CMD_RECORD, CMD_WAIT,
                CMD_SGEMM };

struct cpu_cmd {
    enum cmd_kind kind;
    union {
        struct {
            void *dst;
            const void *src;
            size_t size;
        } copy;
        struct {
            void *dst;
            uint8_t byte;
            size_t size;
        } set;
        struct {
            uint32_t kernel, grid;
            union trk_cpu_karg args[TRK_KERNEL_MAX_ARGS];
        } launch;
        struct cpu_event *ev;
        struct {
            uint32_t m, n, k;
            bool trans_b;
            const float *a, *b;
            float *c;
        } gemm;
    } u;
};

struct cpu_queue {
    struct cpu_dev *dev;
    pthread_mutex_t mu; /* serialises commands when threads share a queue */
    enum trk_status error;
};

static unsigned requested_threads;

void trk_cpu_module_set_threads(unsigned nthreads)
{
    requested_threads = nthreads;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- events ------------------------------------------------------------ */

static struct cpu_event *event_new(void)
{
    struct cpu_event *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->refs = 1;
    return e;
}

static void event_unref(struct cpu_event *e)
{
    pthread_mutex_lock(&e->mu);
    int left = --e->refs;
    pthread_mutex_unlock(&e->mu);
    if (left == 0) {
        pthread_cond_destroy(&e->cv);
        pthread_mutex_destroy(&e->mu);
        free(e);
    }
}

static void event_complete(struct cpu_event *e)
{
    pthread_mutex_lock(&e->mu);
    e->t_ns = now_ns();
    e->done = true;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static enum trk_status cpu_event_wait(void *ev)
{
    struct cpu_event *e = ev;
    pthread_mutex_lock(&e->mu);
    while (!e->done)
        pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    return TRK_OK;
}

static enum trk_status cpu_event_query(void *ev, bool *done)
{
    struct cpu_event *e = ev;
    pthread_mutex_lock(&e->mu);
    *done = e->done;
    pthread_mutex_unlock(&e->mu);
    return TRK_OK;
}

static enum trk_status cpu_event_elapsed_ms(void *a, void *b, double *ms)
{
    struct cpu_event *ea = a, *eb = b;
    bool da, db;
    cpu_event_query(a, &da);
    cpu_event_query(b, &db);
    if (!da || !db)
        return TRK_ERR_UNAVAILABLE;
    *ms = ((double)eb->t_ns - (double)ea->t_ns) / 1e6;
    return TRK_OK;
}

static void cpu_event_free(void *ev)
{
    event_unref(ev);
}

/* ---- command execution ------------------------------------------------- */

struct launch_ctx {
    trk_cpu_kernel_fn fn;
    const union trk_cpu_karg *args;
    uint32_t grid;
};

static void run_blocks(void *ctxp, size_t begin, size_t end, unsigned worker)
{
    (void)worker;
    const struct launch_ctx *c = ctxp;
    struct trk_item it = {.num_blocks = c->grid};
    for (size_t b = begin; b < end; b++) {
        it.block_id = (uint32_t)b;
        c->fn(&it, c->args);
    }
}

static void execute(struct cpu_queue *q, struct cpu_cmd *c)
{
    switch (c->kind) {
    case CMD_WRITE:
    case CMD_READ:
    case CMD_COPY:
        memcpy(c->u.copy.dst, c->u.copy.src, c->u.copy.size);
        break;
    case CMD_MEMSET:
        memset(c->u.set.dst, c->u.set.byte, c->u.set.size);
        break;
    case CMD_LAUNCH: {
        struct launch_ctx lc = {trk_cpu_kernels[c->u.launch.kernel], c->u.launch.args,
                                c->u.launch.grid};
        /* Chunks of consecutive blocks; ~2 chunks per thread absorbs imbalance. */
        size_t parts = (size_t)q->dev->threads * 2;
        size_t chunk = (c->u.launch.grid + parts - 1) / parts;
        trk_pool_parallel_for(q->dev->pool, c->u.launch.grid, chunk ? chunk : 1, run_blocks, &lc);
        break;
    }
    case CMD_RECORD:
        event_complete(c->u.ev);
        event_unref(c->u.ev);
        break;
    case CMD_WAIT:
        cpu_event_wait(c->u.ev);
        event_unref(c->u.ev);
        break;
    case CMD_SGEMM:
#ifdef TRK_HAVE_CBLAS
        cblas_sgemm(CblasRowMajor, CblasNoTrans, c->u.gemm.trans_b ? CblasTrans : CblasNoTrans,
                    (int)c->u.gemm.m, (int)c->u.gemm.n, (int)c->u.gemm.k, 1.0f, c->u.gemm.a,
                    (int)c->u.gemm.k, c->u.gemm.b,
                    (int)(c->u.gemm.trans_b ? c->u.gemm.k : c->u.gemm.n), 0.0f, c->u.gemm.c,
                    (int)c->u.gemm.n);
#endif
        break;
    }
}

static enum trk_status enqueue(struct cpu_queue *q, struct cpu_cmd *c)
{
    pthread_mutex_lock(&q->mu);
    execute(q, c);
    pthread_mutex_unlock(&q->mu);
    return TRK_OK;
}

/* ---- queue ops --------------------------------------------------------- */

static enum trk_status cpu_queue_create(void *devp, void **out)
{
    struct cpu_queue *q = calloc(1, sizeof *q);
    if (!q)
        return TRK_ERR_NO_MEMORY;
    q->dev = devp;
    pthread_mutex_init(&q->mu, NULL);
    *out = q;
    return TRK_OK;
}

static enum trk_status cpu_queue_finish(void *qp)
{
    struct cpu_queue *q = qp;
    pthread_mutex_lock(&q->mu); /* waits for a command another thread is running */
    enum trk_status st = q->error;
    q->error = TRK_OK;
    pthread_mutex_unlock(&q->mu);
    return st;
}

static void cpu_queue_destroy(void *devp, void *qp)
{
    (void)devp;
    struct cpu_queue *q = qp;
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static char *host_ptr(struct trk_buffer *b, size_t off)
{
    return (char *)b->handle + off;
}

static enum trk_status cpu_write(void *q, struct trk_buffer *dst, size_t off, const void *src,
                                 size_t size)
{
    struct cpu_cmd c = {.kind = CMD_WRITE};
    c.u.copy.dst = host_ptr(dst, off);
    c.u.copy.src = src;
    c.u.copy.size = size;
    return enqueue(q, &c);
}

static enum trk_status cpu_read(void *q, void *dst, struct trk_buffer *src, size_t off,
                                size_t size)
{
    struct cpu_cmd c = {.kind = CMD_READ};
    c.u.copy.dst = dst;
    c.u.copy.src = host_ptr(src, off);
    c.u.copy.size = size;
    return enqueue(q, &c);
}

static enum trk_status cpu_copy(void *q, struct trk_buffer *dst, size_t doff,
                                struct trk_buffer *src, size_t soff, size_t size)
{
    struct cpu_cmd c = {.kind = CMD_COPY};
    c.u.copy.dst = host_ptr(dst, doff);
    c.u.copy.src = host_ptr(src, soff);
    c.u.copy.size = size;
    return enqueue(q, &c);
}

static enum trk_status cpu_memset(void *q, struct trk_buffer *b, size_t off, uint8_t byte,
                                  size_t size)
{
    struct cpu_cmd c = {.kind = CMD_MEMSET};
    c.u.set.dst = host_ptr(b, off);
    c.u.set.byte = byte;
    c.u.set.size = size;
    return enqueue(q, &c);
}

static enum trk_status cpu_launch(void *q, uint32_t kernel, uint32_t grid, uint32_t block,
                                  uint32_t nargs, const struct trk_arg *args)
{
    (void)block; /* serial blocks: always one thread per block */
    struct cpu_cmd c = {.kind = CMD_LAUNCH};
    c.u.launch.kernel = kernel;
    c.u.launch.grid = grid;
    for (uint32_t i = 0; i < nargs; i++) {
        switch (args[i].kind) {
        case TRK_ARG_BUF: c.u.launch.args[i].ptr = host_ptr(args[i].v.b.buf, args[i].v.b.offset); break;
        case TRK_ARG_U32: c.u.launch.args[i].u32 = args[i].v.u32; break;
        case TRK_ARG_I32: c.u.launch.args[i].i32 = args[i].v.i32; break;
        case TRK_ARG_F32: c.u.launch.args[i].f32 = args[i].v.f32; break;
        case TRK_ARG_U64: c.u.launch.args[i].u64 = args[i].v.u64; break;
        }
    }
    return enqueue(q, &c);
}

static enum trk_status cpu_event_record(void *q, void **out)
{
    struct cpu_event *e = event_new();
    if (!e)
        return TRK_ERR_NO_MEMORY;
    e->refs = 2; /* the caller's handle and the queue's command */
    struct cpu_cmd c = {.kind = CMD_RECORD};
    c.u.ev = e;
    enum trk_status st = enqueue(q, &c);
    if (st != TRK_OK) {
        event_unref(e);
        event_unref(e);
        return st;
    }
    *out = e;
    return TRK_OK;
}

static enum trk_status cpu_queue_wait_event(void *q, void *ev)
{
    struct cpu_event *e = ev;
    pthread_mutex_lock(&e->mu);
    e->refs++;
    pthread_mutex_unlock(&e->mu);
    struct cpu_cmd c = {.kind = CMD_WAIT};
    c.u.ev = e;
    enum trk_status st = enqueue(q, &c);
    if (st != TRK_OK)
        event_unref(e);
    return st;
}

#ifdef TRK_HAVE_CBLAS
static enum trk_status cpu_sgemm(void *q, const struct trk_sgemm_desc *d)
{
    struct cpu_cmd c = {.kind = CMD_SGEMM};
    c.u.gemm.m = d->m;
    c.u.gemm.n = d->n;
    c.u.gemm.k = d->k;
    c.u.gemm.trans_b = d->trans_b;
    c.u.gemm.a = (const float *)d->a->handle + d->a_off;
    c.u.gemm.b = (const float *)d->b->handle + d->b_off;
    c.u.gemm.c = (float *)d->c->handle + d->c_off;
    return enqueue(q, &c);
}
#endif

/* ---- buffers and device ------------------------------------------------ */

static enum trk_status cpu_buffer_alloc(void *devp, size_t size, void **handle)
{
    (void)devp;
    size_t rounded = ((size ? size : 1) + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded);
    if (!p)
        return TRK_ERR_NO_MEMORY;
    *handle = p;
    return TRK_OK;
}

static void cpu_buffer_free(void *devp, void *handle)
{
    (void)devp;
    free(handle);
}

static void cpu_get_props(void *devp, struct trk_device_props *p)
{
    struct cpu_dev *d = devp;
    memset(p, 0, sizeof *p);
    char model[96] = "CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "model name", 10)) {
                char *colon = strchr(line, ':');
                if (colon) {
                    colon += 2;
                    colon[strcspn(colon, "\n")] = '\0';
                    snprintf(model, sizeof model, "%s", colon);
                }
                break;
            }
        }
        fclose(f);
    }
    snprintf(p->name, sizeof p->name, "%s (%u threads)", model, d->threads);
    snprintf(p->vendor, sizeof p->vendor, "trkserve");
    snprintf(p->driver, sizeof p->driver, "pthreads%s",
#ifdef TRK_HAVE_CBLAS
             " + OpenBLAS"
#else
             ""
#endif
    );
    p->kind = TRK_DEVICE_KIND_CPU;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    p->global_mem = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
    p->max_alloc = p->global_mem;
    p->compute_units = d->threads;
    p->max_block_size = 1024;
    p->preferred_block = 1;
    p->shared_mem = 64 * 1024;
    p->serial_blocks = true;
}

static void cpu_close(void *devp)
{
    struct cpu_dev *d = devp;
    trk_pool_free(d->pool);
    free(d);
}

static const struct trk_device_ops cpu_ops = {
    .get_props = cpu_get_props,
    .close = cpu_close,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .queue_create = cpu_queue_create,
    .queue_destroy = cpu_queue_destroy,
    .queue_finish = cpu_queue_finish,
    .write = cpu_write,
    .read = cpu_read,
    .copy = cpu_copy,
    .memset = cpu_memset,
    .launch = cpu_launch,
    .event_record = cpu_event_record,
    .event_wait = cpu_event_wait,
    .event_query = cpu_event_query,
    .queue_wait_event = cpu_queue_wait_event,
    .event_elapsed_ms = cpu_event_elapsed_ms,
    .event_free = cpu_event_free,
#ifdef TRK_HAVE_CBLAS
    .sgemm = cpu_sgemm,
#endif
};

static enum trk_status cpu_init(void **ctx, uint32_t *n, char *why, size_t why_len)
{
    (void)why;
    (void)why_len;
    *ctx = NULL;
    *n = 1;
    return TRK_OK;
}

static enum trk_status cpu_open(void *mctx, uint32_t index, const struct trk_device_ops **ops,
                                void **dev)
{
    (void)mctx;
    (void)index;
    struct cpu_dev *d = calloc(1, sizeof *d);
    if (!d)
        return TRK_ERR_NO_MEMORY;
    unsigned threads = requested_threads;
    if (threads == 0) {
        const char *env = getenv("TRK_NUM_THREADS");
        long v = env ? strtol(env, NULL, 10) : 0;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        threads = v > 0 && v <= 4096 ? (unsigned)v : ncpu > 0 ? (unsigned)ncpu : 1u;
    }
    /* The thread that enqueues a launch helps run its blocks: one fewer worker. */
    enum trk_status st = trk_pool_create(threads > 1 ? threads - 1 : 1, &d->pool);
    if (st != TRK_OK) {
        free(d);
        return st;
    }
    d->threads = threads;
    *ops = &cpu_ops;
    *dev = d;
    return TRK_OK;
}

static const struct trk_module_ops cpu_module = {
    .abi_version = TRK_DEVICE_ABI_VERSION,
    .name = "cpu",
    .init = cpu_init,
    .device_open = cpu_open,
};

const struct trk_module_ops *trk_cpu_module(void)
{
    return &cpu_module;
}
