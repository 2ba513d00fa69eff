/* The HTTP/REST transport: one libcurl easy handle per connection, so keep-alive
 * connections are reused call after call. Requests are sent the way Triton's C++ client
 * sends them (fixed Content-Length, Inference-Header-Content-Length always, an empty
 * Expect: so no 100-continue round trip); the body streams from the caller's tensors
 * without a copy unless it is compressed. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"
#include "trk/log.h"

#define RESPONSE_MAX ((size_t)1 << 34) /* 16 GiB: refuse a runaway response */

struct http_conn {
    CURL *curl;
    char *base;                    /* "http://host:port[/prefix]" without trailing '/' */
    struct trk_client_options opt; /* strings below are owned copies */
    char *compression, *auth_token, *ca_file;
    char curl_err[CURL_ERROR_SIZE];
    /* the response being received */
    char *resp;
    size_t resp_len, resp_cap;
    int64_t header_len;            /* Inference-Header-Content-Length, -1 absent */
    bool resp_encoded;             /* Content-Encoding the transport did not undo */
    /* the request being sent */
    const struct trk_client_http_body *body;
    const char *flat;              /* compressed body, or NULL: stream body's pieces */
    size_t flat_len;
    size_t send_off;               /* bytes sent so far */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

static size_t on_write(char *p, size_t size, size_t n, void *user)
{
    struct http_conn *c = user;
    size_t len = size * n;
    if (len > RESPONSE_MAX - c->resp_len)
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    if (c->resp_len + len + 1 > c->resp_cap) {
        size_t cap = c->resp_cap ? c->resp_cap : 4096;
        while (cap < c->resp_len + len + 1)
            cap *= 2;
        char *nb = realloc(c->resp, cap);
        if (!nb)
            return 0;
        c->resp = nb;
        c->resp_cap = cap;
    }
    memcpy(c->resp + c->resp_len, p, len);
    c->resp_len += len;
    c->resp[c->resp_len] = 0;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    struct http_conn *c = user;
    size_t len = size * n;
    static const char ihcl[] = "Inference-Header-Content-Length:";
    static const char clen[] = "Content-Length:";
    if (len > sizeof ihcl - 1 && !strncasecmp(p, ihcl, sizeof ihcl - 1)) {
        char tmp[32];
        size_t l = len - (sizeof ihcl - 1);
        if (l >= sizeof tmp)
            l = sizeof tmp - 1;
        memcpy(tmp, p + sizeof ihcl - 1, l);
        tmp[l] = 0;
        char *end;
        long long v = strtoll(tmp, &end, 10);
        c->header_len = v >= 0 ? v : -1;
    } else if (len > sizeof clen - 1 && !strncasecmp(p, clen, sizeof clen - 1)) {
        /* pre-size the buffer: one allocation for a large response */
        unsigned long long v = strtoull(p + sizeof clen - 1, NULL, 10);
        if (v && v < RESPONSE_MAX && v + 1 > c->resp_cap) {
            char *nb = realloc(c->resp, (size_t)v + 1);
            if (nb) {
                c->resp = nb;
                c->resp_cap = (size_t)v + 1;
            }
        }
    } else if (len > 17 && !strncasecmp(p, "Content-Encoding:", 17)) {
        /* curl decodes what CURLOPT_ACCEPT_ENCODING asked for; anything else is ours */
        c->resp_encoded = !c->compression;
    } else if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new response (after a redirect or 100): forget the previous one's headers */
        c->header_len = -1;
        c->resp_encoded = false;
        c->resp_len = 0;
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *user)
{
    struct http_conn *c = user;
    size_t room = size * n, put = 0;
    if (c->flat) {
        size_t left = c->flat_len - c->send_off;
        put = left < room ? left : room;
        memcpy(buf, c->flat + c->send_off, put);
        c->send_off += put;
        return put;
    }
    const struct trk_client_http_body *b = c->body;
    size_t pos = c->send_off; /* position in the logical body */
    while (put < room && pos < b->total) {
        const char *src;
        size_t avail;
        if (pos < b->json_len) {
            src = b->json + pos;
            avail = b->json_len - pos;
        } else {
            size_t o = pos - b->json_len;
            uint32_t i = 0;
            while (i < b->nchunks && o >= b->chunk_len[i])
                o -= b->chunk_len[i++];
            if (i == b->nchunks)
                break;
            src = (const char *)b->chunk[i] + o;
            avail = b->chunk_len[i] - o;
        }
        size_t k = avail < room - put ? avail : room - put;
        memcpy(buf + put, src, k);
        put += k;
        pos += k;
    }
    c->send_off = pos;
    return put;
}

static int on_seek(void *user, curl_off_t offset, int origin)
{
    struct http_conn *c = user;
    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    c->send_off = (size_t)offset; /* curl rewinds to resend on a reused dead connection */
    return CURL_SEEKFUNC_OK;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void http_close(void *conn)
{
    struct http_conn *c = conn;
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->compression);
    free(c->auth_token);
    free(c->ca_file);
    free(c->resp);
    free(c);
}

static enum trk_status http_open(const char *url, const struct trk_client_options *opt,
                                 void **conn, char *err, size_t errlen)
{
    *conn = NULL;
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        trk_client_errf(err, errlen, "'%s' is not an http:// or https:// URL", url);
        return TRK_ERR_INVALID_ARG;
    }
    const char *host = strstr(url, "://") + 3;
    if (!*host || *host == '/') {
        trk_client_errf(err, errlen, "'%s' has no host; use http://HOST:PORT", url);
        return TRK_ERR_INVALID_ARG;
    }
    if (opt->compression && strcmp(opt->compression, "gzip") &&
        strcmp(opt->compression, "deflate")) {
        trk_client_errf(err, errlen, "compression '%s' is not supported; use gzip or deflate",
                        opt->compression);
        return TRK_ERR_INVALID_ARG;
    }
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        trk_client_errf(err, errlen, "libcurl failed to initialise: %s",
                        curl_easy_strerror(curl_init_rc));
        return TRK_ERR_INTERNAL;
    }
    struct http_conn *c = calloc(1, sizeof *c);
    if (!c)
        goto nomem;
    c->base = strdup(url);
    if (!c->base)
        goto nomem;
    size_t bl = strlen(c->base);
    while (bl && c->base[bl - 1] == '/')
        c->base[--bl] = 0;
    c->opt = *opt;
    c->compression = dup_or_null(opt->compression);
    c->auth_token = dup_or_null(opt->auth_token);
    c->ca_file = dup_or_null(opt->ca_file);
    if ((opt->compression && !c->compression) || (opt->auth_token && !c->auth_token) ||
        (opt->ca_file && !c->ca_file))
        goto nomem;
    c->curl = curl_easy_init();
    if (!c->curl)
        goto nomem;
    CURL *h = c->curl;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* thread-safe timeouts */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (opt->timeout_ms) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)opt->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)opt->timeout_ms);
    }
    /* Ask for a compressed response in the request's algorithm (libcurl decodes it). */
    if (c->compression)
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, c->compression);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (opt->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    *conn = c;
    return TRK_OK;
nomem:
    http_close(c);
    trk_client_errf(err, errlen, "out of memory opening %s", url);
    return TRK_ERR_NO_MEMORY;
}

/* Transport failures that another server may not share: failover retries them. */
static enum trk_status curl_status(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK: return TRK_OK;
    case CURLE_OPERATION_TIMEDOUT: return TRK_ERR_TIMEOUT;
    case CURLE_OUT_OF_MEMORY: return TRK_ERR_NO_MEMORY;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return TRK_ERR_INVALID_ARG;
    default: return TRK_ERR_IO;
    }
}

/* One exchange: method GET (body NULL) or POST. On TRK_OK, code is the HTTP status and
 * c->resp/resp_len/header_len the answer. */
static enum trk_status http_exchange(struct http_conn *c, const char *path,
                                     const struct trk_client_http_body *body, long *code, char *err,
                                     size_t errlen)
{
    CURL *h = c->curl;
    char *url = NULL;
    void *packed = NULL;
    char *flat = NULL;
    struct curl_slist *hdrs = NULL;
    enum trk_status st = TRK_ERR_NO_MEMORY;
    if (asprintf(&url, "%s%s", c->base, path) < 0) {
        url = NULL;
        goto fail;
    }
    c->resp_len = 0;
    c->header_len = -1;
    c->resp_encoded = false;
    c->curl_err[0] = 0;
    c->body = body;
    c->flat = NULL;
    c->send_off = 0;
    char line[64];
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (c->auth_token) {
        char *a = NULL;
        if (asprintf(&a, "Authorization: Bearer %s", c->auth_token) < 0)
            goto fail;
        struct curl_slist *n = curl_slist_append(hdrs, a);
        free(a);
        if (!n)
            goto fail;
        hdrs = n;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (body) {
        snprintf(line, sizeof line, "Inference-Header-Content-Length: %zu", body->json_len);
        hdrs = curl_slist_append(hdrs, line);
        hdrs = curl_slist_append(hdrs, body->nchunks && body->total > body->json_len
                                           ? "Content-Type: application/octet-stream"
                                           : "Content-Type: application/json");
        size_t len = body->total;
        if (c->compression) {
            size_t plen;
            if (trk_client_http_body_flatten(body, &flat) != TRK_OK ||
                trk_client_http_compress(c->compression, flat, body->total, &packed, &plen) !=
                    TRK_OK)
                goto fail;
            c->flat = packed;
            c->flat_len = len = plen;
            snprintf(line, sizeof line, "Content-Encoding: %s", c->compression);
            hdrs = curl_slist_append(hdrs, line);
        }
        if (!hdrs)
            goto fail;
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    c->body = NULL;
    c->flat = NULL;
    if (rc != CURLE_OK) {
        st = curl_status(rc);
        trk_client_errf(err, errlen, "%s: %s", url,
                        c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    if (c->resp_encoded && c->resp_len) {
        /* a server compressed although we did not ask in that form: decode it here */
        void *plain;
        size_t plen;
        st = trk_client_http_decompress(c->resp, c->resp_len, RESPONSE_MAX, &plain, &plen);
        if (st != TRK_OK) {
            trk_client_errf(err, errlen, "%s: cannot decompress the response", url);
            *code = 0;
            st = TRK_OK; /* the server answered; the caller reports it */
            goto out;
        }
        free(c->resp);
        c->resp = plain;
        c->resp_len = plen;
        c->resp_cap = plen;
    }
    st = TRK_OK;
    goto out;
fail:
    trk_client_errf(err, errlen, "out of memory building the request");
out:
    curl_slist_free_all(hdrs);
    free(packed);
    free(flat);
    free(url);
    return st;
}

static int version_path(char *buf, size_t len, const char *model, int64_t version,
                        const char *tail)
{
    if (version >= 0)
        return snprintf(buf, len, "/v2/models/%s/versions/%lld%s", model, (long long)version,
                        tail);
    return snprintf(buf, len, "/v2/models/%s%s", model, tail);
}

/* Model names are [A-Za-z0-9_.-]: anything else could escape the path. */
static bool model_name_ok(const char *m)
{
    if (!m || !*m || strlen(m) > 200)
        return false;
    for (const char *p = m; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '-'))
            return false;
    return true;
}

static enum trk_status http_infer(void *conn, const struct trk_client_request *req,
                                  struct trk_client_result *r)
{
    struct http_conn *c = conn;
    struct trk_client_http_body body = {0};
    char path[300];
    r->wire_code = 0;
    if (!model_name_ok(req->model)) {
        r->status = TRK_ERR_INVALID_ARG;
        trk_client_errf(r->error, sizeof r->error,
                        "model name '%s' is not valid (letters, digits, '_', '.', '-')",
                        req->model ? req->model : "(null)");
        return TRK_OK;
    }
    enum trk_status st = trk_client_http_encode_request(req, c->opt.binary, &body, r->error,
                                                        sizeof r->error);
    if (st != TRK_OK) {
        r->status = st; /* our fault, not the transport's: no failover */
        return TRK_OK;
    }
    version_path(path, sizeof path, req->model, req->version, "/infer");
    long code = 0;
    st = http_exchange(c, path, &body, &code, r->error, sizeof r->error);
    trk_client_http_body_fini(&body);
    if (st != TRK_OK) {
        r->status = st;
        return st == TRK_ERR_NO_MEMORY || st == TRK_ERR_INVALID_ARG ? TRK_OK : st;
    }
    if (!code) {
        r->status = TRK_ERR_PARSE;
        return TRK_OK;
    }
    trk_client_http_decode_response((int)code, c->resp, c->resp_len, c->header_len, r);
    return TRK_OK;
}

static enum trk_status http_health(void *conn, const char *path, bool *ok)
{
    struct http_conn *c = conn;
    char err[TRK_CLIENT_ERR_MAX];
    long code = 0;
    enum trk_status st = http_exchange(c, path, NULL, &code, err, sizeof err);
    if (st != TRK_OK) {
        TRK_LOGD("%s", err);
        return st;
    }
    *ok = code == 200;
    return TRK_OK;
}

static enum trk_status http_live(void *conn, bool *ok)
{
    return http_health(conn, "/v2/health/live", ok);
}

static enum trk_status http_ready(void *conn, bool *ok)
{
    return http_health(conn, "/v2/health/ready", ok);
}

static enum trk_status http_model_metadata(void *conn, const char *model, int64_t version,
                                           char **json, char *err, size_t errlen)
{
    struct http_conn *c = conn;
    char path[300];
    *json = NULL;
    if (!model_name_ok(model)) {
        trk_client_errf(err, errlen, "model name '%s' is not valid", model ? model : "(null)");
        return TRK_ERR_INVALID_ARG;
    }
    version_path(path, sizeof path, model, version, "");
    long code = 0;
    enum trk_status st = http_exchange(c, path, NULL, &code, err, errlen);
    if (st != TRK_OK)
        return st;
    if (code != 200) {
        struct trk_client_result r;
        memset(&r, 0, sizeof r);
        trk_client_http_decode_response((int)code, c->resp, c->resp_len, -1, &r);
        trk_client_errf(err, errlen, "%s", r.error);
        return r.status != TRK_OK ? r.status : TRK_ERR_PARSE;
    }
    *json = malloc(c->resp_len + 1);
    if (!*json)
        return TRK_ERR_NO_MEMORY;
    memcpy(*json, c->resp ? c->resp : "", c->resp_len);
    (*json)[c->resp_len] = 0;
    return TRK_OK;
}

static const struct trk_client_transport http_transport = {
    .scheme = "http",
    .open = http_open,
    .close = http_close,
    .infer = http_infer,
    .live = http_live,
    .ready = http_ready,
    .model_metadata = http_model_metadata,
};

const struct trk_client_transport *trk_client_transport_http(void)
{
    return &http_transport;
}
