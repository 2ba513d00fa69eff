/* trkserve — the KServe v2 / Triton HTTP/REST front end over libmicrohttpd.
 *
 * One MHD daemon, epoll, an internal thread pool. Per request a `struct hreq` collects the
 * body; an infer request is decoded, submitted with trk_server_infer_async, and the
 * connection is suspended until the done callback (a worker thread) resumes it; the next
 * access-handler call answers. The hreq is reference-counted between the connection
 * (dropped in MHD's completion callback, also when the client went away) and the request
 * in flight (dropped in the done callback), so neither side frees it under the other. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "http_codec.h"
#include "http_listen.h"
#include "trk/frontend.h"
#include "trk/log.h"

#define DEFAULT_BODY_LIMIT (256ull << 20)
#define ERRLEN 512
/* Bytes beyond the limit read and dropped so that a 413 reaches a client still sending. */
#define DRAIN_MAX (64ull << 20)

struct trk_http {
    struct trk_server *srv;
    struct http_listener l;
    uint64_t max_body;
    pthread_mutex_t mu; /* guards inflight */
    pthread_cond_t cv;
    uint64_t inflight;  /* requests submitted and not yet done */
};

enum route {
    R_NOT_FOUND = 0,
    R_SERVER_META,
    R_LIVE,
    R_READY,
    R_MODELS_STATS,
    R_MODEL_META,
    R_MODEL_READY,
    R_MODEL_CONFIG,
    R_MODEL_STATS,
    R_INFER,
    R_REPO_INDEX,
    R_REPO_LOAD,
    R_REPO_UNLOAD,
    R_UNSUPPORTED,
};

enum phase { P_BODY = 0, P_SUBMITTED, P_ANSWERED };

struct hreq {
    struct trk_http *h;
    struct MHD_Connection *conn;
    enum route route;
    char model[TRK_MODEL_NAME_MAX];
    int64_t version;              /* -1: none in the URL */
    uint64_t limit;               /* body limit */
    char *body;
    size_t len, cap;
    bool too_large;
    uint64_t discarded;
    struct trk_model *model_ref;  /* infer: the model, for its limit and raw requests */
    char *inflated;               /* decompressed body (inputs may borrow from it) */
    struct trk_http_infer inf;
    enum phase phase;
    /* shared with the done callback */
    pthread_mutex_t mu;
    int refs;
    bool done, suspended, closed;
};

/* ---- per-request state -------------------------------------------------------------- */

static void hreq_free(struct hreq *r)
{
    trk_http_infer_fini(&r->inf);
    trk_model_release(r->model_ref);
    free(r->inflated);
    free(r->body);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void hreq_unref(struct hreq *r)
{
    pthread_mutex_lock(&r->mu);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last)
        hreq_free(r);
}

static void inflight_add(struct trk_http *h, int d)
{
    pthread_mutex_lock(&h->mu);
    if (d > 0)
        h->inflight++;
    else if (--h->inflight == 0)
        pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* ---- routing (Triton's regexes, src/http_server.cc) ---------------------------------- */

static bool parse_version(const char *s, int64_t *v)
{
    if (!*s || strlen(s) > 18)
        return false;
    int64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        x = x * 10 + (*s - '0');
    }
    *v = x;
    return true;
}

/* Splits url into at most 8 segments; false when it has more or empty ones. */
static bool split(const char *url, char *buf, size_t cap, char **seg, int *n)
{
    size_t len = strlen(url);
    if (len + 1 > cap || url[0] != '/')
        return false;
    memcpy(buf, url + 1, len);
    *n = 0;
    char *p = buf;
    for (;;) {
        if (*n == 8)
            return false;
        seg[(*n)++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    for (int i = 0; i < *n; i++)
        if (!seg[i][0])
            return false;
    return true;
}

static enum route route_of(struct hreq *r, const char *url)
{
    char buf[1024];
    char *s[8];
    int n;
    r->version = -1;
    if (!split(url, buf, sizeof buf, s, &n) || strcmp(s[0], "v2") != 0)
        return R_NOT_FOUND;
    if (n == 1)
        return R_SERVER_META;
    if (n == 3 && strcmp(s[1], "health") == 0)
        return strcmp(s[2], "live") == 0 ? R_LIVE : strcmp(s[2], "ready") == 0 ? R_READY
                                                                               : R_NOT_FOUND;
    if (n == 2 && strcmp(s[1], "logging") == 0)
        return R_UNSUPPORTED;
    if (n == 3 && strcmp(s[1], "trace") == 0 && strcmp(s[2], "setting") == 0)
        return R_UNSUPPORTED;
    if (strcmp(s[1], "models") == 0 && n >= 3) {
        if (n == 3 && strcmp(s[2], "stats") == 0)
            return R_MODELS_STATS;
        if (strlen(s[2]) >= sizeof r->model)
            return R_NOT_FOUND;
        snprintf(r->model, sizeof r->model, "%s", s[2]);
        int i = 3;
        if (n >= 5 && strcmp(s[3], "versions") == 0) {
            if (!parse_version(s[4], &r->version))
                return R_NOT_FOUND;
            i = 5;
        }
        if (n == i)
            return R_MODEL_META;
        if (n == i + 1) {
            if (strcmp(s[i], "infer") == 0)
                return R_INFER;
            if (strcmp(s[i], "ready") == 0)
                return R_MODEL_READY;
            if (strcmp(s[i], "config") == 0)
                return R_MODEL_CONFIG;
            if (strcmp(s[i], "stats") == 0)
                return R_MODEL_STATS;
            if (strcmp(s[i], "generate") == 0 || strcmp(s[i], "generate_stream") == 0)
                return R_UNSUPPORTED;
        }
        if (n == i + 2 && strcmp(s[i], "trace") == 0 && strcmp(s[i + 1], "setting") == 0)
            return R_UNSUPPORTED;
        return R_NOT_FOUND;
    }
    if (strcmp(s[1], "repository") == 0) {
        if (n == 3 && strcmp(s[2], "index") == 0)
            return R_REPO_INDEX;
        if (n == 5 && strcmp(s[2], "models") == 0 && strlen(s[3]) < sizeof r->model) {
            snprintf(r->model, sizeof r->model, "%s", s[3]);
            if (strcmp(s[4], "load") == 0)
                return R_REPO_LOAD;
            if (strcmp(s[4], "unload") == 0)
                return R_REPO_UNLOAD;
        }
        /* a named repository: /v2/repository/{r}/index|models/... */
        if ((n == 4 && strcmp(s[3], "index") == 0) ||
            (n == 6 && strcmp(s[3], "models") == 0 &&
             (strcmp(s[5], "load") == 0 || strcmp(s[5], "unload") == 0)))
            return R_UNSUPPORTED;
        return R_NOT_FOUND;
    }
    if (strcmp(s[1], "systemsharedmemory") == 0 || strcmp(s[1], "cudasharedmemory") == 0) {
        const char *last = s[n - 1];
        if ((n == 3 || (n == 5 && strcmp(s[2], "region") == 0)) &&
            (strcmp(last, "status") == 0 || strcmp(last, "register") == 0 ||
             strcmp(last, "unregister") == 0))
            return R_UNSUPPORTED;
    }
    return R_NOT_FOUND;
}

/* The method a route takes: "GET" (HEAD too) or "POST"; NULL for any. */
static const char *route_method(enum route rt)
{
    switch (rt) {
    case R_INFER:
    case R_REPO_INDEX:
    case R_REPO_LOAD:
    case R_REPO_UNLOAD: return "POST";
    case R_NOT_FOUND:
    case R_UNSUPPORTED: return NULL;
    default: return "GET";
    }
}

/* ---- JSON answers --------------------------------------------------------------------- */

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned int code, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return http_respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
    return http_respond(c, code, s, strlen(s), "application/json");
}

static enum MHD_Result respond_status(struct MHD_Connection *c, enum trk_status st,
                                      const char *msg)
{
    return http_respond_error(c, (unsigned)trk_status_http_code(st),
                              msg && msg[0] ? msg : trk_status_str(st), NULL);
}

static enum MHD_Result server_metadata(struct MHD_Connection *c)
{
    json_t *ext = json_array();
    for (const char *const *e = trk_server_extensions(); e && *e; e++)
        json_array_append_new(ext, json_string(*e));
    json_array_append_new(ext, json_string("binary_tensor_data"));
    return respond_json(c, MHD_HTTP_OK,
                        json_pack("{s:s,s:s,s:o}", "name", TRK_SERVER_NAME, "version",
                                  trk_server_version(), "extensions", ext));
}

static json_t *io_json(const struct trk_model_io *io, int32_t max_batch)
{
    json_t *shape = json_array();
    if (max_batch > 0)
        json_array_append_new(shape, json_integer(-1));
    for (uint32_t d = 0; d < io->ndims; d++)
        json_array_append_new(shape, json_integer(io->dims[d]));
    return json_pack("{s:s,s:s,s:o}", "name", io->name, "datatype",
                     trk_dtype_name(io->data_type), "shape", shape);
}

static enum MHD_Result model_metadata(struct trk_http *h, struct hreq *r)
{
    struct trk_model *m = NULL;
    char err[ERRLEN] = "";
    enum trk_status st = trk_server_model_acquire(h->srv, r->model, r->version, &m, err,
                                                  sizeof err);
    if (st != TRK_OK)
        return respond_status(r->conn, st, err);
    const struct trk_model_config *cfg = trk_model_config_get(m);
    json_t *versions = json_array();
    int64_t vs[64];
    uint32_t nv = trk_server_model_versions(h->srv, r->model, vs, 64);
    char buf[32];
    for (uint32_t i = 0; i < nv && i < 64; i++) {
        snprintf(buf, sizeof buf, "%" PRId64, vs[i]);
        json_array_append_new(versions, json_string(buf));
    }
    json_t *ins = json_array(), *outs = json_array();
    for (uint32_t i = 0; i < cfg->ninputs; i++)
        json_array_append_new(ins, io_json(&cfg->inputs[i], cfg->max_batch_size));
    for (uint32_t i = 0; i < cfg->noutputs; i++)
        json_array_append_new(outs, io_json(&cfg->outputs[i], cfg->max_batch_size));
    json_t *j = json_pack("{s:s,s:o,s:s,s:o,s:o}", "name", cfg->name, "versions", versions,
                          "platform", trk_model_config_platform(cfg), "inputs", ins, "outputs",
                          outs);
    trk_model_release(m);
    return respond_json(r->conn, MHD_HTTP_OK, j);
}

static enum MHD_Result model_config(struct trk_http *h, struct hreq *r)
{
    struct trk_model *m = NULL;
    char err[ERRLEN] = "";
    enum trk_status st = trk_server_model_acquire(h->srv, r->model, r->version, &m, err,
                                                  sizeof err);
    if (st != TRK_OK)
        return respond_status(r->conn, st, err);
    char *json = NULL;
    st = trk_model_config_to_json(trk_model_config_get(m), &json);
    trk_model_release(m);
    if (st != TRK_OK)
        return respond_status(r->conn, st, "cannot write the model configuration");
    return http_respond(r->conn, MHD_HTTP_OK, json, strlen(json), "application/json");
}

static json_t *dur(const struct trk_duration_stat *d)
{
    return json_pack("{s:I,s:I}", "count", (json_int_t)d->count, "ns", (json_int_t)d->ns);
}

static enum MHD_Result model_stats(struct trk_http *h, struct hreq *r, bool all)
{
    struct trk_model_stats *stats = NULL;
    uint32_t n = 0;
    enum trk_status st = trk_server_stats(h->srv, all ? NULL : r->model, r->version, &stats, &n);
    if (st != TRK_OK) {
        char msg[ERRLEN];
        snprintf(msg, sizeof msg, "requested model '%s'%s is not available", r->model,
                 r->version >= 0 ? " at that version" : "");
        return respond_status(r->conn, st, msg);
    }
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        const struct trk_model_stats *s = &stats[i];
        char ver[32];
        snprintf(ver, sizeof ver, "%" PRId64, s->version);
        json_t *batch = json_array();
        for (uint32_t b = 0; b < s->nbatch; b++)
            json_array_append_new(
                batch, json_pack("{s:I,s:o,s:o,s:o}", "batch_size",
                                 (json_int_t)s->batch[b].batch_size, "compute_input",
                                 dur(&s->batch[b].compute_input), "compute_infer",
                                 dur(&s->batch[b].compute_infer), "compute_output",
                                 dur(&s->batch[b].compute_output)));
        json_t *inf = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "success", dur(&s->success),
                                "fail", dur(&s->fail), "queue", dur(&s->queue), "compute_input",
                                dur(&s->compute_input), "compute_infer", dur(&s->compute_infer),
                                "compute_output", dur(&s->compute_output), "cache_hit",
                                dur(&s->cache_hit), "cache_miss", dur(&s->cache_miss));
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:I,s:I,s:I,s:o,s:{},s:o,s:[]}", "name", s->name,
                           "version", ver, "last_inference", (json_int_t)s->last_inference_ms,
                           "inference_count", (json_int_t)s->inference_count,
                           "execution_count", (json_int_t)s->execution_count,
                           "inference_stats", inf, "response_stats", "batch_stats", batch,
                           "memory_usage"));
    }
    trk_model_stats_free(stats, n);
    return respond_json(r->conn, MHD_HTTP_OK, json_pack("{s:o}", "model_stats", arr));
}

/* Parses an optional JSON object body; NULL body = empty object. */
static enum MHD_Result parse_small_body(struct hreq *r, json_t **out)
{
    *out = NULL;
    size_t i = 0;
    while (i < r->len && (r->body[i] == ' ' || r->body[i] == '\n' || r->body[i] == '\r' ||
                          r->body[i] == '\t'))
        i++;
    if (i == r->len) {
        *out = json_object();
        return MHD_YES;
    }
    json_error_t jerr;
    json_t *j = json_loadb(r->body, r->len, 0, &jerr);
    if (!j || !json_is_object(j)) {
        char msg[ERRLEN];
        snprintf(msg, sizeof msg, "malformed JSON in the request body: %s",
                 j ? "expected an object" : jerr.text);
        json_decref(j);
        return http_respond_error(r->conn, MHD_HTTP_BAD_REQUEST, msg, NULL);
    }
    *out = j;
    return MHD_YES;
}

static enum MHD_Result repository_index(struct trk_http *h, struct hreq *r)
{
    json_t *j;
    enum MHD_Result ret = parse_small_body(r, &j);
    if (!j)
        return ret;
    const json_t *ready = json_object_get(j, "ready");
    if (ready && !json_is_boolean(ready)) {
        json_decref(j);
        return http_respond_error(r->conn, MHD_HTTP_BAD_REQUEST, "'ready' must be true or false",
                                  NULL);
    }
    bool ready_only = json_is_true(ready);
    json_decref(j);
    char *text = NULL;
    enum trk_status st = trk_server_repository_index_json(h->srv, ready_only, &text);
    if (st != TRK_OK)
        return respond_status(r->conn, st, "cannot list the model repository");
    return http_respond(r->conn, MHD_HTTP_OK, text, strlen(text), "application/json");
}

static enum MHD_Result repository_load(struct trk_http *h, struct hreq *r, bool load)
{
    json_t *j;
    enum MHD_Result ret = parse_small_body(r, &j);
    if (!j)
        return ret;
    const json_t *params = json_object_get(j, "parameters");
    if (params && !json_is_object(params)) {
        json_decref(j);
        return http_respond_error(r->conn, MHD_HTTP_BAD_REQUEST,
                                  "'parameters' must be an object", NULL);
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v) {
        if (strcmp(key, "config") == 0 || strncmp(key, "file:", 5) == 0) {
            char msg[ERRLEN];
            snprintf(msg, sizeof msg, "load parameter '%.64s' is not supported: trkserve loads "
                                      "the model folder's config.cfg", key);
            json_decref(j);
            return http_respond_error(r->conn, MHD_HTTP_BAD_REQUEST, msg, NULL);
        }
    }
    json_decref(j);
    char err[ERRLEN] = "";
    /* Blocks this I/O thread while the model loads; the pool's other threads serve on. */
    enum trk_status st = load ? trk_server_model_load(h->srv, r->model, err, sizeof err)
                              : trk_server_model_unload(h->srv, r->model, err, sizeof err);
    if (st != TRK_OK)
        return respond_status(r->conn, st, err);
    return http_respond(r->conn, MHD_HTTP_OK, NULL, 0, NULL);
}

/* ---- inference --------------------------------------------------------------------- */

static void infer_done(struct trk_infer_request *req, void *user)
{
    struct hreq *r = user;
    struct trk_http *h = r->h;
    (void)req;
    pthread_mutex_lock(&r->mu);
    r->done = true;
    if (r->suspended && !r->closed) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
    }
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) /* the client went away and its connection is gone */
        hreq_free(r);
    inflight_add(h, -1);
}

static enum MHD_Result infer_answer(struct hreq *r)
{
    struct trk_infer_request *req = r->inf.req;
    r->phase = P_ANSWERED;
    if (req->status != TRK_OK)
        return respond_status(r->conn, req->status, req->error);
    char *body = NULL, err[ERRLEN] = "";
    size_t len = 0, hl = 0;
    enum trk_status st = trk_http_encode_infer(&r->inf, &body, &len, &hl, err, sizeof err);
    trk_http_infer_fini(&r->inf); /* outputs are copied into body */
    if (st != TRK_OK)
        return respond_status(r->conn, st, err);
    enum trk_http_coding coding = trk_http_accept_coding(
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
    if (coding != TRK_HTTP_CODING_IDENTITY) {
        char *z = NULL;
        size_t zlen = 0;
        if (trk_http_deflate(coding, body, len, &z, &zlen) == TRK_OK) {
            free(body);
            body = z;
            len = zlen;
        } else {
            coding = TRK_HTTP_CODING_IDENTITY;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (hl) {
        char v[32];
        snprintf(v, sizeof v, "%zu", hl);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
        MHD_add_response_header(resp, "Inference-Header-Content-Length", v);
    } else {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    if (coding != TRK_HTTP_CODING_IDENTITY)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING,
                                trk_http_coding_name(coding));
    enum MHD_Result ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result infer_submit(struct trk_http *h, struct hreq *r)
{
    char err[ERRLEN] = "";
    const char *body = r->body ? r->body : "";
    size_t len = r->len;
    const char *ce = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_ENCODING);
    enum trk_http_coding coding = trk_http_content_coding(ce);
    if (coding == TRK_HTTP_CODING_UNKNOWN) {
        snprintf(err, sizeof err, "unsupported Content-Encoding '%.64s'; use gzip or deflate",
                 ce);
        return http_respond_error(r->conn, MHD_HTTP_BAD_REQUEST, err, NULL);
    }
    if (coding != TRK_HTTP_CODING_IDENTITY) {
        size_t n = 0;
        enum trk_status st = trk_http_inflate(coding, body, len, (size_t)r->limit, &r->inflated,
                                              &n, err, sizeof err);
        if (st == TRK_ERR_OVERFLOW)
            return http_respond_error(r->conn, MHD_HTTP_CONTENT_TOO_LARGE, err, NULL);
        if (st != TRK_OK)
            return http_respond_error(r->conn, MHD_HTTP_BAD_REQUEST, err, NULL);
        free(r->body); /* the inflated copy replaces it */
        r->body = NULL;
        body = r->inflated;
        len = n;
    }
    int64_t hl;
    enum trk_status st = trk_http_parse_header_length(
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Inference-Header-Content-Length"),
        len, &hl, err, sizeof err);
    if (st == TRK_OK)
        st = trk_http_decode_infer(body, len, hl, trk_model_config_get(r->model_ref), &r->inf,
                                   err, sizeof err);
    if (st != TRK_OK)
        return respond_status(r->conn, st, err);
    struct trk_infer_request *req = r->inf.req;
    snprintf(req->model_name, sizeof req->model_name, "%s", r->model);
    req->model_version = r->version;
    req->done = infer_done;
    req->user = r;
    pthread_mutex_lock(&r->mu);
    r->refs++; /* the request's reference, dropped in infer_done */
    pthread_mutex_unlock(&r->mu);
    inflight_add(h, +1);
    r->phase = P_SUBMITTED;
    st = trk_server_infer_async(h->srv, req);
    if (st != TRK_OK) {
        r->phase = P_ANSWERED;
        pthread_mutex_lock(&r->mu);
        r->refs--;
        pthread_mutex_unlock(&r->mu);
        inflight_add(h, -1);
        return respond_status(r->conn, st, req->error);
    }
    pthread_mutex_lock(&r->mu);
    bool done = r->done;
    if (!done) {
        MHD_suspend_connection(r->conn);
        r->suspended = true;
    }
    pthread_mutex_unlock(&r->mu);
    return done ? infer_answer(r) : MHD_YES;
}

/* ---- the access handler -------------------------------------------------------------- */

static enum MHD_Result on_headers(struct trk_http *h, struct hreq *r, const char *method)
{
    struct MHD_Connection *c = r->conn;
    if (r->route == R_NOT_FOUND)
        return http_respond_error(c, MHD_HTTP_NOT_FOUND, "Not Found", NULL);
    const char *want = route_method(r->route);
    bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (want && (strcmp(want, "GET") == 0 ? !is_get : strcmp(method, want) != 0))
        return http_respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                                  strcmp(want, "GET") == 0 ? "GET, HEAD" : want);
    if (r->route != R_LIVE && r->route != R_READY && !http_listener_authorized(&h->l, c))
        return http_respond_error(c, MHD_HTTP_UNAUTHORIZED,
                                  "missing or wrong bearer token: send 'Authorization: Bearer "
                                  "<token>'",
                                  NULL);
    if (r->route == R_UNSUPPORTED)
        return http_respond_error(c, MHD_HTTP_NOT_IMPLEMENTED,
                                  "not supported by trkserve (no shared memory, tracing, logging "
                                  "settings, generate or named repositories)",
                                  NULL);
    r->limit = h->max_body;
    const char *what = "the server's";
    if (r->route == R_INFER) {
        char err[ERRLEN] = "";
        enum trk_status st = trk_server_model_acquire(h->srv, r->model, r->version,
                                                      &r->model_ref, err, sizeof err);
        if (st != TRK_OK)
            return respond_status(c, st, err);
        uint64_t mlimit = trk_model_config_get(r->model_ref)->max_request_bytes;
        if (mlimit > 0) {
            r->limit = mlimit;
            what = "the model's";
        }
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end != cl && (errno == ERANGE || n > r->limit)) {
            /* Too large, decided now. A client waiting for "100 Continue" is answered at
             * once; one already sending has its body drained (bounded) and gets the 413
             * after it, since closing on unread data would reset the connection before
             * the client reads the answer. */
            const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_EXPECT);
            if ((expect && strcasecmp(expect, "100-continue") == 0) || errno == ERANGE ||
                n - r->limit > DRAIN_MAX) {
                char msg[ERRLEN];
                snprintf(msg, sizeof msg, "the request body (%s bytes) is larger than %s "
                                          "limit of %" PRIu64 " bytes",
                         cl, what, r->limit);
                return http_respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL);
            }
            r->too_large = true;
            return MHD_YES;
        }
        if (end != cl && n > 0) {
            r->body = malloc((size_t)n + 1);
            if (!r->body)
                return http_respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory",
                                          NULL);
            r->cap = (size_t)n + 1;
        }
    }
    return MHD_YES;
}

static enum MHD_Result on_upload(struct hreq *r, const char *data, size_t n)
{
    if (r->too_large) {
        /* Drain what the client still sends (bounded), then answer 413 at the end. */
        r->discarded += n;
        return r->discarded > r->limit + DRAIN_MAX ? MHD_NO : MHD_YES;
    }
    if (n > r->limit - r->len) {
        r->too_large = true;
        r->discarded = r->len + n;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return MHD_YES;
    }
    if (r->len + n + 1 > r->cap) {
        size_t ncap = r->cap ? r->cap : 16384;
        while (ncap < r->len + n + 1)
            ncap *= 2;
        char *nb = realloc(r->body, ncap);
        if (!nb)
            return MHD_NO;
        r->body = nb;
        r->cap = ncap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct trk_http *h = cls;
    struct hreq *r = *con_cls;
    (void)version;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        pthread_mutex_init(&r->mu, NULL);
        r->refs = 1; /* the connection's, dropped in on_completed */
        r->h = h;
        r->conn = c;
        *con_cls = r;
        r->route = route_of(r, url);
        return on_headers(h, r, method);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return on_upload(r, upload_data, n);
    }
    if (r->phase == P_SUBMITTED) {
        pthread_mutex_lock(&r->mu);
        bool done = r->done;
        pthread_mutex_unlock(&r->mu);
        return done ? infer_answer(r) : MHD_YES;
    }
    if (r->phase == P_ANSWERED)
        return MHD_YES;
    if (r->too_large) {
        char msg[ERRLEN];
        snprintf(msg, sizeof msg, "the request body is larger than the %s limit of %" PRIu64
                                  " bytes", r->model_ref && trk_model_config_get(r->model_ref)
                                  ->max_request_bytes ? "model's" : "server's", r->limit);
        return http_respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL);
    }
    switch (r->route) {
    case R_SERVER_META: return server_metadata(c);
    case R_LIVE:
    case R_READY: {
        bool ok = r->route == R_LIVE ? trk_server_live(h->srv) : trk_server_ready(h->srv);
        if (ok)
            return http_respond(c, MHD_HTTP_OK, NULL, 0, NULL);
        return http_respond_error(c, MHD_HTTP_BAD_REQUEST,
                                  r->route == R_LIVE ? "server is not live"
                                                     : "server is not ready",
                                  NULL);
    }
    case R_MODELS_STATS: return model_stats(h, r, true);
    case R_MODEL_META: return model_metadata(h, r);
    case R_MODEL_READY:
        if (trk_server_model_ready(h->srv, r->model, r->version))
            return http_respond(c, MHD_HTTP_OK, NULL, 0, NULL);
        return http_respond_error(c, MHD_HTTP_BAD_REQUEST, "Model version not ready", NULL);
    case R_MODEL_CONFIG: return model_config(h, r);
    case R_MODEL_STATS: return model_stats(h, r, false);
    case R_INFER: return infer_submit(h, r);
    case R_REPO_INDEX: return repository_index(h, r);
    case R_REPO_LOAD: return repository_load(h, r, true);
    case R_REPO_UNLOAD: return repository_load(h, r, false);
    default: return http_respond_error(c, MHD_HTTP_NOT_FOUND, "Not Found", NULL);
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct hreq *r = *con_cls;
    (void)cls, (void)c, (void)toe;
    if (!r)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&r->mu);
    r->closed = true;
    pthread_mutex_unlock(&r->mu);
    hreq_unref(r);
}

/* ---- start / stop ------------------------------------------------------------------- */

static void raise_nofile(uint32_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= (rlim_t)want + 64)
        return;
    rlim_t old = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
        TRK_LOGI("raised the open-file limit from %llu to %llu for %u connections",
                 (unsigned long long)old, (unsigned long long)rl.rlim_cur, want);
    if (rl.rlim_cur < (rlim_t)want + 64)
        TRK_LOGW("the open-file limit (%llu) is below the %u connections allowed: raise it "
                 "(ulimit -n) or lower max connections",
                 (unsigned long long)rl.rlim_cur, want);
}

enum trk_status trk_http_start(struct trk_server *s, const struct trk_http_options *opt,
                               struct trk_http **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!s || !opt) {
        snprintf(err, errlen, "trk_http_start: no server or options");
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    h->srv = s;
    h->max_body = opt->max_body_bytes ? opt->max_body_bytes : DEFAULT_BODY_LIMIT;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    uint32_t maxconn = opt->max_connections ? opt->max_connections : 4096;
    uint32_t threads = opt->listen.threads;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n < 2 ? 2 : n > 8 ? 8 : (uint32_t)n;
    }
    raise_nofile(maxconn);
    enum trk_status st = http_listener_start(
        &h->l, &opt->listen, threads, maxconn,
        opt->connection_timeout_s ? opt->connection_timeout_s : 60, on_request, h, on_completed,
        h, err, errlen);
    if (st != TRK_OK) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return st;
    }
    TRK_LOGI("HTTP on %s port %u (%u threads, %u connections%s%s)",
             opt->listen.address ? opt->listen.address : "127.0.0.1", h->l.port, threads,
             maxconn, h->l.cert ? ", TLS" : "", h->l.auth ? ", bearer token" : "");
    *out = h;
    return TRK_OK;
}

uint16_t trk_http_port(const struct trk_http *h)
{
    return h ? h->l.port : 0;
}

void trk_http_stop(struct trk_http *h)
{
    if (!h)
        return;
    /* No new connections; then every submitted request must come back (its connection is
     * suspended, and MHD must not be stopped with suspended connections). */
    MHD_socket fd = MHD_quiesce_daemon(h->l.d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    pthread_mutex_lock(&h->mu);
    while (h->inflight > 0)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    http_listener_stop(&h->l);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
