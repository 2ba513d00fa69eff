/* The client over several servers: least-in-flight selection (round robin among equals),
 * failover with a short back-off for a server whose transport failed, pooled connections
 * (one per concurrent caller and server, kept alive between calls) and the async pool. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"
#include "trk/log.h"

#define MAX_SERVERS 64
#define BACKOFF_MIN_NS 100000000ull  /* 100 ms after the first failure ... */
#define BACKOFF_MAX_NS 3200000000ull /* ... doubling up to 3.2 s */

#ifndef TRK_CLIENT_HAVE_GRPC
const struct trk_client_transport *trk_client_transport_grpc(void)
{
    return NULL;
}
#endif

void trk_client_options_default(struct trk_client_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->binary = true;
}

void trk_client_result_fini(struct trk_client_result *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->noutputs; i++)
        trk_tensor_free(r->outputs ? r->outputs[i] : NULL);
    free(r->outputs);
    memset(r, 0, sizeof *r);
}

const struct trk_client_transport *trk_client_transport_for(const char *url)
{
    if (!url)
        return NULL;
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8))
        return trk_client_transport_http();
    if (!strncmp(url, "grpc://", 7) || !strncmp(url, "grpcs://", 8))
        return trk_client_transport_grpc();
    if (!strncmp(url, "inprocess:", 10))
        return trk_client_transport_inprocess();
    return NULL;
}

struct conn_entry {
    void *conn;
    struct conn_entry *next;
};

struct server {
    const struct trk_client_transport *tp;
    char *url;
    atomic_uint inflight;
    atomic_uint failures;         /* consecutive transport failures */
    atomic_uint_fast64_t down_until; /* CLOCK_MONOTONIC ns; 0: up */
    pthread_mutex_t lock;
    struct conn_entry *idle;      /* connections not in use */
};

struct job {
    struct job *next;
    struct trk_client_request req; /* points into the storage after the struct */
    trk_client_done_fn done;
    void *user;
};

struct trk_client {
    uint32_t n;
    struct server *servers;
    struct trk_client_options opt;
    char *compression, *auth_token, *ca_file;
    atomic_uint rr;
    /* async */
    pthread_mutex_t alock;
    pthread_cond_t work, idle;
    struct job *head, *tail;
    uint32_t pending;             /* queued + running */
    uint32_t concurrency;
    uint32_t nthreads;
    pthread_t *threads;
    bool stop;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *missing_transport_reason(const char *url)
{
    if (!strncmp(url, "grpc", 4))
        return "this trkclient was built without gRPC (it needs libgrpc-dev, protobuf-c and "
               "the trkproto/grpc_transport parts); use an http:// URL";
    if (!strncmp(url, "inprocess:", 10))
        return "this trkclient was built without the server core (trkserver), so "
               "inprocess: is not available";
    return "unknown URL scheme; use http://HOST:PORT, https://, grpc://HOST:PORT, grpcs:// "
           "or inprocess:REPOSITORY";
}

/* Takes an idle connection of server i, or opens one. */
static void *conn_get(struct trk_client *c, uint32_t i, enum trk_status *st, char *err,
                      size_t errlen)
{
    struct server *s = &c->servers[i];
    pthread_mutex_lock(&s->lock);
    struct conn_entry *e = s->idle;
    if (e)
        s->idle = e->next;
    pthread_mutex_unlock(&s->lock);
    if (e) {
        void *conn = e->conn;
        free(e);
        *st = TRK_OK;
        return conn;
    }
    void *conn = NULL;
    *st = s->tp->open(s->url, &c->opt, &conn, err, errlen);
    return *st == TRK_OK ? conn : NULL;
}

static void conn_put(struct trk_client *c, uint32_t i, void *conn)
{
    struct server *s = &c->servers[i];
    struct conn_entry *e = malloc(sizeof *e);
    if (!e) {
        s->tp->close(conn);
        return;
    }
    e->conn = conn;
    pthread_mutex_lock(&s->lock);
    e->next = s->idle;
    s->idle = e;
    pthread_mutex_unlock(&s->lock);
}

static void mark_down(struct server *s)
{
    unsigned f = atomic_fetch_add(&s->failures, 1);
    uint64_t b = BACKOFF_MIN_NS << (f < 5 ? f : 5);
    if (b > BACKOFF_MAX_NS)
        b = BACKOFF_MAX_NS;
    atomic_store(&s->down_until, now_ns() + b);
}

static void mark_up(struct server *s)
{
    if (atomic_load(&s->failures))
        atomic_store(&s->failures, 0);
    if (atomic_load(&s->down_until))
        atomic_store(&s->down_until, 0);
}

/* The untried live server with the fewest calls in flight, starting the scan at a
 * rotating index so that equals take turns; when every untried server is in back-off,
 * the one whose back-off ends first (better to try it than to fail untried). */
static int pick(struct trk_client *c, uint64_t tried)
{
    uint32_t n = c->n, start = atomic_fetch_add(&c->rr, 1) % n;
    uint64_t now = now_ns(), fb_until = 0;
    int best = -1, fallback = -1;
    unsigned best_load = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (start + k) % n;
        if (tried & (1ull << i))
            continue;
        struct server *s = &c->servers[i];
        uint64_t du = atomic_load(&s->down_until);
        if (du > now) {
            if (fallback < 0 || du < fb_until) {
                fallback = (int)i;
                fb_until = du;
            }
            continue;
        }
        unsigned load = atomic_load(&s->inflight);
        if (best < 0 || load < best_load) {
            best = (int)i;
            best_load = load;
        }
    }
    return best >= 0 ? best : fallback;
}

static bool is_transport_failure(enum trk_status st)
{
    return st == TRK_ERR_IO || st == TRK_ERR_TIMEOUT;
}

/* Runs op on servers until one answers (see trk_client_infer). op returns a transport
 * status; on TRK_OK the server answered. */
typedef enum trk_status (*attempt_fn)(struct trk_client *c, uint32_t i, void *conn, void *ctx,
                                      char *err, size_t errlen);

static enum trk_status with_failover(struct trk_client *c, attempt_fn op, void *ctx,
                                     uint32_t *answered_by, char *err, size_t errlen)
{
    uint32_t max = c->n;
    if (c->opt.retries && c->opt.retries < c->n - 1)
        max = c->opt.retries + 1;
    uint64_t tried = 0;
    enum trk_status last = TRK_ERR_IO;
    char last_err[TRK_CLIENT_ERR_MAX] = "";
    uint32_t attempts = 0;
    for (; attempts < max; attempts++) {
        int i = pick(c, tried);
        if (i < 0)
            break;
        tried |= 1ull << i;
        struct server *s = &c->servers[i];
        atomic_fetch_add(&s->inflight, 1);
        enum trk_status st;
        err[0] = 0;
        void *conn = conn_get(c, (uint32_t)i, &st, err, errlen);
        if (conn)
            st = op(c, (uint32_t)i, conn, ctx, err, errlen);
        atomic_fetch_sub(&s->inflight, 1);
        if (st == TRK_OK) {
            conn_put(c, (uint32_t)i, conn);
            mark_up(s);
            *answered_by = (uint32_t)i;
            return TRK_OK;
        }
        if (conn)
            s->tp->close(conn); /* its socket/channel may be broken: do not reuse */
        if (!is_transport_failure(st))
            return st;
        mark_down(s);
        last = st;
        snprintf(last_err, sizeof last_err, "%s", err);
        TRK_LOGI("%s failed (%s: %s); %s", s->url, trk_status_str(st), err,
                 attempts + 1 < max ? "trying another server" : "no server left to try");
    }
    trk_client_errf(err, errlen, "no server answered (%u of %u tried); last: %s", attempts,
                    c->n, last_err);
    return last;
}

static enum trk_status infer_op(struct trk_client *c, uint32_t i, void *conn, void *ctx,
                                char *err, size_t errlen)
{
    struct trk_client_result *r = ((void **)ctx)[1];
    const struct trk_client_request *req = ((void **)ctx)[0];
    trk_client_result_fini(r);
    enum trk_status st = c->servers[i].tp->infer(conn, req, r);
    if (st != TRK_OK)
        snprintf(err, errlen, "%s", r->error);
    return st;
}

enum trk_status trk_client_infer(struct trk_client *c, const struct trk_client_request *req,
                                 struct trk_client_result *result)
{
    memset(result, 0, sizeof *result);
    if (!c || !req) {
        result->status = TRK_ERR_INVALID_ARG;
        snprintf(result->error, sizeof result->error, "NULL client or request");
        return result->status;
    }
    void *ctx[2] = {(void *)(uintptr_t)req, result};
    char err[TRK_CLIENT_ERR_MAX];
    uint32_t by = 0;
    enum trk_status st = with_failover(c, infer_op, ctx, &by, err, sizeof err);
    if (st != TRK_OK) {
        trk_client_result_fini(result);
        result->status = st;
        snprintf(result->error, sizeof result->error, "%s", err);
        return st;
    }
    result->server_index = by;
    return result->status;
}

struct meta_ctx {
    const char *model;
    int64_t version;
    char **json;
    enum trk_status answer; /* the server's answer when it answered with an error */
};

static enum trk_status meta_op(struct trk_client *c, uint32_t i, void *conn, void *ctx,
                               char *err, size_t errlen)
{
    struct meta_ctx *m = ctx;
    enum trk_status st =
        c->servers[i].tp->model_metadata(conn, m->model, m->version, m->json, err, errlen);
    m->answer = st;
    return is_transport_failure(st) ? st : TRK_OK;
}

enum trk_status trk_client_model_metadata(struct trk_client *c, const char *model,
                                          int64_t version, char **json, char *err,
                                          size_t errlen)
{
    char buf[TRK_CLIENT_ERR_MAX];
    *json = NULL;
    struct meta_ctx m = {model, version, json, TRK_OK};
    uint32_t by;
    buf[0] = 0;
    enum trk_status st = with_failover(c, meta_op, &m, &by, buf, sizeof buf);
    if (st == TRK_OK)
        st = m.answer;
    if (st != TRK_OK)
        trk_client_errf(err, errlen, "%s", buf);
    return st;
}

/* ---- create / free ------------------------------------------------------------------ */

enum trk_status trk_client_create(const char *const *urls, uint32_t nurls,
                                  const struct trk_client_options *opt, struct trk_client **out,
                                  char *err, size_t errlen)
{
    *out = NULL;
    if (!urls || !nurls || nurls > MAX_SERVERS) {
        trk_client_errf(err, errlen, "give between 1 and %d server URLs (got %u)", MAX_SERVERS,
                        nurls);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_client_options defaults;
    trk_client_options_default(&defaults);
    if (!opt)
        opt = &defaults;
    struct trk_client *c = calloc(1, sizeof *c);
    if (!c)
        goto nomem;
    c->servers = calloc(nurls, sizeof *c->servers);
    if (!c->servers)
        goto nomem;
    c->opt = *opt;
    c->compression = opt->compression ? strdup(opt->compression) : NULL;
    c->auth_token = opt->auth_token ? strdup(opt->auth_token) : NULL;
    c->ca_file = opt->ca_file ? strdup(opt->ca_file) : NULL;
    if ((opt->compression && !c->compression) || (opt->auth_token && !c->auth_token) ||
        (opt->ca_file && !c->ca_file))
        goto nomem;
    c->opt.compression = c->compression;
    c->opt.auth_token = c->auth_token;
    c->opt.ca_file = c->ca_file;
    c->concurrency = 1;
    pthread_mutex_init(&c->alock, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->idle, NULL);
    for (uint32_t i = 0; i < nurls; i++) {
        struct server *s = &c->servers[i];
        pthread_mutex_init(&s->lock, NULL);
        c->n = i + 1; /* so that trk_client_free cleans up what exists */
        if (!urls[i]) {
            trk_client_errf(err, errlen, "server URL %u is NULL", i);
            trk_client_free(c);
            return TRK_ERR_INVALID_ARG;
        }
        s->url = strdup(urls[i]);
        if (!s->url)
            goto nomem;
        s->tp = trk_client_transport_for(urls[i]);
        if (!s->tp) {
            trk_client_errf(err, errlen, "%s: %s", urls[i], missing_transport_reason(urls[i]));
            trk_client_free(c);
            return TRK_ERR_UNSUPPORTED;
        }
        /* Open one connection now: a bad URL or option fails here, not at the first call.
         * A server that is merely down is left to failover. */
        void *conn = NULL;
        enum trk_status st = s->tp->open(s->url, &c->opt, &conn, err, errlen);
        if (st == TRK_OK) {
            conn_put(c, i, conn);
        } else if (is_transport_failure(st)) {
            TRK_LOGW("%s: %s (will retry)", s->url, err);
            mark_down(s);
        } else {
            trk_client_free(c);
            return st;
        }
    }
    if (err && errlen)
        err[0] = 0;
    *out = c;
    return TRK_OK;
nomem:
    trk_client_free(c);
    trk_client_errf(err, errlen, "out of memory creating the client");
    return TRK_ERR_NO_MEMORY;
}

static void stop_threads(struct trk_client *c)
{
    pthread_mutex_lock(&c->alock);
    c->stop = true;
    pthread_cond_broadcast(&c->work);
    uint32_t n = c->nthreads;
    pthread_mutex_unlock(&c->alock);
    for (uint32_t i = 0; i < n; i++)
        pthread_join(c->threads[i], NULL);
    pthread_mutex_lock(&c->alock);
    free(c->threads);
    c->threads = NULL;
    c->nthreads = 0;
    c->stop = false;
    pthread_mutex_unlock(&c->alock);
}

void trk_client_free(struct trk_client *c)
{
    if (!c)
        return;
    if (c->servers) {
        stop_threads(c); /* workers finish the queue first */
        for (uint32_t i = 0; i < c->n; i++) {
            struct server *s = &c->servers[i];
            struct conn_entry *e = s->idle;
            while (e) {
                struct conn_entry *next = e->next;
                s->tp->close(e->conn);
                free(e);
                e = next;
            }
            pthread_mutex_destroy(&s->lock);
            free(s->url);
        }
        pthread_mutex_destroy(&c->alock);
        pthread_cond_destroy(&c->work);
        pthread_cond_destroy(&c->idle);
    }
    free(c->servers);
    free(c->compression);
    free(c->auth_token);
    free(c->ca_file);
    free(c);
}

/* ---- async ------------------------------------------------------------------------- */

static void *worker(void *arg)
{
    struct trk_client *c = arg;
    pthread_mutex_lock(&c->alock);
    for (;;) {
        while (!c->head && !c->stop)
            pthread_cond_wait(&c->work, &c->alock);
        struct job *j = c->head;
        if (!j)
            break; /* stopping and nothing left */
        c->head = j->next;
        if (!c->head)
            c->tail = NULL;
        pthread_mutex_unlock(&c->alock);

        struct trk_client_result r;
        trk_client_infer(c, &j->req, &r);
        j->done(&r, j->user);
        trk_client_result_fini(&r);
        free(j);

        pthread_mutex_lock(&c->alock);
        if (--c->pending == 0)
            pthread_cond_broadcast(&c->idle);
    }
    pthread_mutex_unlock(&c->alock);
    return NULL;
}

/* A heap copy of req whose strings and arrays live in the same allocation (the tensors
 * stay borrowed). */
static struct job *job_copy(const struct trk_client_request *req)
{
    size_t ml = strlen(req->model) + 1, il = req->id ? strlen(req->id) + 1 : 0, ol = 0;
    for (uint32_t i = 0; i < req->noutputs; i++)
        ol += strlen(req->outputs[i]) + 1;
    size_t sz = sizeof(struct job) + req->ninputs * sizeof(void *) +
                req->noutputs * sizeof(char *) + ml + il + ol;
    struct job *j = calloc(1, sz);
    if (!j)
        return NULL;
    char *p = (char *)(j + 1);
    const struct trk_tensor **ins = (const struct trk_tensor **)(void *)p;
    p += req->ninputs * sizeof(void *);
    const char **outs = (const char **)(void *)p;
    p += req->noutputs * sizeof(char *);
    j->req = *req;
    for (uint32_t i = 0; i < req->ninputs; i++)
        ins[i] = req->inputs[i];
    j->req.inputs = ins;
    memcpy(p, req->model, ml);
    j->req.model = p;
    p += ml;
    if (il) {
        memcpy(p, req->id, il);
        j->req.id = p;
        p += il;
    }
    for (uint32_t i = 0; i < req->noutputs; i++) {
        size_t l = strlen(req->outputs[i]) + 1;
        memcpy(p, req->outputs[i], l);
        outs[i] = p;
        p += l;
    }
    j->req.outputs = outs;
    return j;
}

enum trk_status trk_client_infer_async(struct trk_client *c, const struct trk_client_request *req,
                                       trk_client_done_fn done, void *user)
{
    if (!c || !req || !done || !req->model || (req->ninputs && !req->inputs) ||
        (req->noutputs && !req->outputs))
        return TRK_ERR_INVALID_ARG;
    for (uint32_t i = 0; i < req->noutputs; i++)
        if (!req->outputs[i])
            return TRK_ERR_INVALID_ARG;
    struct job *j = job_copy(req);
    if (!j)
        return TRK_ERR_NO_MEMORY;
    j->done = done;
    j->user = user;
    pthread_mutex_lock(&c->alock);
    if (c->nthreads < c->concurrency) {
        if (!c->threads) {
            c->threads = calloc(c->concurrency, sizeof *c->threads);
            if (!c->threads) {
                pthread_mutex_unlock(&c->alock);
                free(j);
                return TRK_ERR_NO_MEMORY;
            }
        }
        /* one more worker per call until the pool is full */
        int rc = pthread_create(&c->threads[c->nthreads], NULL, worker, c);
        if (rc == 0)
            c->nthreads++;
        else if (!c->nthreads) {
            pthread_mutex_unlock(&c->alock);
            free(j);
            TRK_LOGE("cannot start a client thread: %s", strerror(rc));
            return TRK_ERR_NO_MEMORY;
        }
    }
    if (c->tail)
        c->tail->next = j;
    else
        c->head = j;
    c->tail = j;
    c->pending++;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->alock);
    return TRK_OK;
}

void trk_client_wait(struct trk_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->alock);
    while (c->pending)
        pthread_cond_wait(&c->idle, &c->alock);
    pthread_mutex_unlock(&c->alock);
}

enum trk_status trk_client_set_concurrency(struct trk_client *c, uint32_t concurrency)
{
    if (!c || !concurrency || concurrency > 65536)
        return TRK_ERR_INVALID_ARG;
    trk_client_wait(c);
    stop_threads(c);
    pthread_mutex_lock(&c->alock);
    c->concurrency = concurrency;
    pthread_mutex_unlock(&c->alock);
    return TRK_OK;
}
