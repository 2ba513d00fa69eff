/* trkserve — MHD listener set-up shared by the HTTP/REST and metrics front ends, and the
 * metrics listener itself (GET /metrics). */
#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_codec.h"
#include "trk/log.h"

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    /* MHD's messages end with a newline; the logger adds its own. */
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    trk_log(TRK_LOG_DEBUG, "libmicrohttpd", "%s", line);
}

static char *read_file(const char *path, char *err, size_t errlen, const char *what)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) {
        snprintf(err, errlen, "cannot open the TLS %s file '%s': %s", what, path,
                 strerror(errno));
        return NULL;
    }
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb || cap > (16u << 20)) {
                free(nb ? nb : buf);
                fclose(f);
                snprintf(err, errlen, "the TLS %s file '%s' is too large or out of memory",
                         what, path);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    buf[n] = '\0';
    if (bad || strstr(buf, "-----BEGIN") == NULL) {
        snprintf(err, errlen, "the TLS %s file '%s' is not a PEM file", what, path);
        free(buf);
        return NULL;
    }
    return buf;
}

static int bind_socket(const char *address, uint16_t port, uint32_t backlog, bool *ipv6,
                       char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t slen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        slen = sizeof *in4;
        *ipv6 = false;
    } else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        slen = sizeof *in6;
        *ipv6 = true;
    } else {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address to listen on", address);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (*ipv6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0) {
        snprintf(err, errlen, "cannot listen on %s port %u: %s%s", address, port,
                 strerror(errno),
                 errno == EADDRINUSE ? " (another program uses it: pick another port)" : "");
        close(fd);
        return -1;
    }
    if (listen(fd, (int)(backlog < 128 ? 128 : backlog > 65535 ? 65535 : backlog)) != 0) {
        snprintf(err, errlen, "listen on %s port %u: %s", address, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

enum trk_status http_listener_start(struct http_listener *l, const struct trk_listen_options *opt,
                                    uint32_t threads, uint32_t max_connections,
                                    uint32_t timeout_s, MHD_AccessHandlerCallback handler,
                                    void *handler_cls, MHD_RequestCompletedCallback completed,
                                    void *completed_cls, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    const char *address = opt->address ? opt->address : "127.0.0.1";
    enum trk_status st = TRK_ERR_INVALID_ARG;
    int fd = -1;
    if ((opt->tls_cert == NULL) != (opt->tls_key == NULL)) {
        snprintf(err, errlen, "TLS needs both a certificate and a key file (only %s given)",
                 opt->tls_cert ? "the certificate" : "the key");
        goto fail;
    }
    if (opt->tls_cert) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            snprintf(err, errlen, "this libmicrohttpd was built without TLS support");
            st = TRK_ERR_UNSUPPORTED;
            goto fail;
        }
        l->cert = read_file(opt->tls_cert, err, errlen, "certificate");
        l->key = l->cert ? read_file(opt->tls_key, err, errlen, "key") : NULL;
        if (!l->key)
            goto fail;
    }
    if (opt->auth_token) {
        if (!opt->auth_token[0] || strpbrk(opt->auth_token, " \t\r\n")) {
            snprintf(err, errlen, "the auth token must be non-empty without white space");
            goto fail;
        }
        size_t n = strlen(opt->auth_token) + 8;
        l->auth = malloc(n);
        if (!l->auth) {
            st = TRK_ERR_NO_MEMORY;
            goto fail;
        }
        snprintf(l->auth, n, "Bearer %s", opt->auth_token);
    }
    bool ipv6 = false;
    fd = bind_socket(address, opt->port, max_connections, &ipv6, err, errlen);
    if (fd < 0) {
        st = TRK_ERR_IO;
        goto fail;
    }
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    if (l->cert)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem ops[9];
    int k = 0;
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)max_connections,
                                       NULL};
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)timeout_s, NULL};
    /* MHD reads a body through a per-connection pool (32 KiB by default) and moves what
     * is left to its start after every callback: with MB-sized tensors that memmove was
     * 30% of the server's time. A larger pool is touched only by connections that use it. */
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                       (intptr_t)(512 * 1024), NULL};
    if (threads > 1)
        ops[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
    if (l->cert) {
        ops[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, l->key};
        ops[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, l->cert};
    }
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    l->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    int lfd = fd;
    fd = -1; /* MHD owns it now; on failure it may have closed it: never close twice */
    if (!l->d) {
        snprintf(err, errlen, "cannot start the HTTP daemon on %s port %u%s (run with "
                              "TRK_LOG_LEVEL=debug for libmicrohttpd's reason)",
                 address, opt->port, l->cert ? ": check the TLS certificate and key" : "");
        st = TRK_ERR_IO;
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port) {
        l->port = info->port;
    } else {
        struct sockaddr_storage ss;
        socklen_t slen = sizeof ss;
        if (getsockname(lfd, (struct sockaddr *)&ss, &slen) == 0)
            l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                     : ((struct sockaddr_in *)&ss)->sin_port);
    }
    return TRK_OK;
fail:
    if (fd >= 0)
        close(fd);
    http_listener_stop(l);
    return st;
}

void http_listener_stop(struct http_listener *l)
{
    if (l->d)
        MHD_stop_daemon(l->d);
    free(l->cert);
    free(l->key);
    free(l->auth);
    memset(l, 0, sizeof *l);
}

bool http_listener_authorized(const struct http_listener *l, struct MHD_Connection *c)
{
    if (!l->auth)
        return true;
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!v)
        return false;
    size_t n = strlen(l->auth), m = strlen(v);
    if (m != n || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    unsigned char diff = 0; /* constant time over the token */
    for (size_t i = 7; i < n; i++)
        diff |= (unsigned char)(v[i] ^ l->auth[i]);
    return diff == 0;
}

enum MHD_Result http_respond(struct MHD_Connection *c, unsigned int code, char *body, size_t len,
                             const char *content_type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                                             body ? MHD_RESPMEM_MUST_FREE
                                                                  : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_respond_error(struct MHD_Connection *c, unsigned int code, const char *msg,
                                   const char *allow)
{
    char *body = trk_http_error_json(msg);
    if (!body)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (code == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"trkserve\"");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- metrics ------------------------------------------------------------------------ */

struct trk_metrics {
    struct trk_server *srv;
    struct http_listener l;
};

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *c, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_size,
                                       void **con_cls)
{
    struct trk_metrics *m = cls;
    if (*upload_size) { /* a body is not expected: discard it */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return http_respond_error(c, MHD_HTTP_NOT_FOUND, "Not Found", NULL);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return http_respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed",
                                  "GET, HEAD");
    if (!http_listener_authorized(&m->l, c))
        return http_respond_error(c, MHD_HTTP_UNAUTHORIZED,
                                  "missing or wrong bearer token: send 'Authorization: Bearer "
                                  "<token>'",
                                  NULL);
    char *text = NULL;
    enum trk_status st = trk_server_metrics_text(m->srv, &text);
    if (st != TRK_OK)
        return http_respond_error(c, (unsigned)trk_status_http_code(st), trk_status_str(st),
                                  NULL);
    return http_respond(c, MHD_HTTP_OK, text, strlen(text),
                        "text/plain; version=0.0.4; charset=utf-8");
}

static void metrics_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)con_cls, (void)toe;
}

enum trk_status trk_metrics_start(struct trk_server *s, const struct trk_listen_options *opt,
                                  struct trk_metrics **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!s || !opt) {
        snprintf(err, errlen, "trk_metrics_start: no server or options");
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    m->srv = s;
    enum trk_status st = http_listener_start(&m->l, opt, opt->threads > 1 ? opt->threads : 1,
                                             64, 30, metrics_handler, m, metrics_completed, m,
                                             err, errlen);
    if (st != TRK_OK) {
        free(m);
        return st;
    }
    TRK_LOGI("metrics on %s port %u (GET /metrics)", opt->address ? opt->address : "127.0.0.1",
             m->l.port);
    *out = m;
    return TRK_OK;
}

uint16_t trk_metrics_port(const struct trk_metrics *m)
{
    return m ? m->l.port : 0;
}

void trk_metrics_stop(struct trk_metrics *m)
{
    if (!m)
        return;
    http_listener_stop(&m->l);
    free(m);
}
