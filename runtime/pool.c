/* Persistent thread pool. All job bookkeeping happens under one mutex: chunks are
 * coarse (a few per thread per launch), so the lock is cheap, and it guarantees no
 * worker touches a caller's stack-allocated job after the caller has returned. */
#include "trk/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trk/log.h"

struct pool_job {
    trk_pool_range_fn range_fn; /* parallel-for body, or NULL for a task */
    void (*task_fn)(void *);
    void *ctx;
    size_t n, chunk, nchunks;
    size_t next; /* next chunk to hand out */
    size_t done; /* chunks finished */
    bool heap;   /* a submitted task: freed by the worker that runs it */
    struct pool_job *link;
};

struct trk_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* new jobs, or stop */
    pthread_cond_t done; /* some job finished a chunk */
    struct pool_job *head, *tail;
    bool stop;
    unsigned nthreads;
    pthread_t *threads;
};

struct worker_arg {
    struct trk_pool *pool;
    unsigned id;
};

static void unlink_job(struct trk_pool *p, struct pool_job *j)
{
    struct pool_job **pp = &p->head, *prev = NULL;
    while (*pp && *pp != j) {
        prev = *pp;
        pp = &(*pp)->link;
    }
    if (!*pp)
        return;
    *pp = j->link;
    if (p->tail == j)
        p->tail = prev;
    j->link = NULL;
}

/* With p->mu held: takes one chunk of the first job that has one. */
static struct pool_job *take_chunk(struct trk_pool *p, size_t *chunk_idx)
{
    struct pool_job *j = p->head;
    if (!j)
        return NULL;
    *chunk_idx = j->next++;
    if (j->next == j->nchunks)
        unlink_job(p, j); /* fully handed out; the owner still waits on done */
    return j;
}

static void run_chunk(struct pool_job *j, size_t c, unsigned worker)
{
    if (j->range_fn) {
        size_t b = c * j->chunk;
        size_t e = b + j->chunk < j->n ? b + j->chunk : j->n;
        j->range_fn(j->ctx, b, e, worker);
    } else {
        j->task_fn(j->ctx);
    }
}

static void *worker_main(void *argp)
{
    struct worker_arg *wa = argp;
    struct trk_pool *p = wa->pool;
    unsigned id = wa->id;
    free(wa);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        size_t c;
        struct pool_job *j;
        while (!(j = take_chunk(p, &c)) && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (!j)
            break;
        pthread_mutex_unlock(&p->mu);
        run_chunk(j, c, id);
        pthread_mutex_lock(&p->mu);
        if (j->heap) {
            free(j);
        } else if (++j->done == j->nchunks) {
            pthread_cond_broadcast(&p->done);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static unsigned default_threads(void)
{
    const char *env = getenv("TRK_NUM_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0 && v <= 4096)
            return (unsigned)v;
        TRK_LOGW("TRK_NUM_THREADS=%s is not a positive number; using all CPUs", env);
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

enum trk_status trk_pool_create(unsigned nthreads, struct trk_pool **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (nthreads == 0)
        nthreads = default_threads();
    struct trk_pool *p = calloc(1, sizeof *p);
    if (!p)
        return TRK_ERR_NO_MEMORY;
    p->threads = calloc(nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return TRK_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (unsigned i = 0; i < nthreads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        int rc = wa ? 0 : ENOMEM;
        if (wa) {
            wa->pool = p;
            wa->id = i + 1;
            rc = pthread_create(&p->threads[i], NULL, worker_main, wa);
            if (rc)
                free(wa);
        }
        if (rc) {
            TRK_LOGE("cannot start pool thread %u of %u: %s", i + 1, nthreads, strerror(rc));
            p->nthreads = i;
            trk_pool_free(p);
            return TRK_ERR_NO_MEMORY;
        }
    }
    p->nthreads = nthreads;
    *out = p;
    return TRK_OK;
}

void trk_pool_free(struct trk_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Tasks submitted but never run are dropped with the pool. */
    while (p->head) {
        struct pool_job *j = p->head;
        p->head = j->link;
        if (j->heap)
            free(j);
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

unsigned trk_pool_size(const struct trk_pool *p)
{
    return p ? p->nthreads : 0;
}

static void push_job(struct trk_pool *p, struct pool_job *j)
{
    j->link = NULL;
    if (p->tail)
        p->tail->link = j;
    else
        p->head = j;
    p->tail = j;
}

enum trk_status trk_pool_parallel_for(struct trk_pool *p, size_t n, size_t chunk,
                                      trk_pool_range_fn fn, void *ctx)
{
    if (!p || !fn)
        return TRK_ERR_INVALID_ARG;
    if (n == 0)
        return TRK_OK;
    if (chunk == 0) {
        size_t parts = (size_t)p->nthreads + 1;
        chunk = (n + parts - 1) / parts;
    }
    struct pool_job j = {.range_fn = fn, .ctx = ctx, .n = n, .chunk = chunk};
    j.nchunks = (n + chunk - 1) / chunk;
    if (j.nchunks == 1 || p->nthreads == 0) {
        fn(ctx, 0, n, 0); /* nothing to share: skip the hand-off */
        return TRK_OK;
    }
    pthread_mutex_lock(&p->mu);
    push_job(p, &j);
    if (j.nchunks - 1 >= p->nthreads)
        pthread_cond_broadcast(&p->work);
    else
        for (size_t i = 0; i + 1 < j.nchunks; i++)
            pthread_cond_signal(&p->work);
    /* The caller works on its own job until every chunk is handed out. */
    while (j.next < j.nchunks) {
        size_t c = j.next++;
        if (j.next == j.nchunks)
            unlink_job(p, &j);
        pthread_mutex_unlock(&p->mu);
        run_chunk(&j, c, 0);
        pthread_mutex_lock(&p->mu);
        j.done++;
    }
    while (j.done < j.nchunks)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return TRK_OK;
}

enum trk_status trk_pool_submit(struct trk_pool *p, void (*fn)(void *), void *arg)
{
    if (!p || !fn)
        return TRK_ERR_INVALID_ARG;
    if (p->nthreads == 0)
        return TRK_ERR_UNSUPPORTED;
    struct pool_job *j = calloc(1, sizeof *j);
    if (!j)
        return TRK_ERR_NO_MEMORY;
    j->task_fn = fn;
    j->ctx = arg;
    j->n = j->chunk = j->nchunks = 1;
    j->heap = true;
    pthread_mutex_lock(&p->mu);
    push_job(p, j);
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return TRK_OK;
}
