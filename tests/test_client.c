/* Client library: HTTP body encoder/decoder round trips (binary extension, JSON, errors,
 * malformed answers), compression, inputs from metadata, the HTTP transport against a
 * small fake server in this file (keep-alive, errors, auth, compression), load balancing
 * and failover when one of two servers dies mid-run (every request answered exactly
 * once), and the in-process transport against a temporary repository. */
#include "test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../rpc/client/client_internal.h"
#include "trk/client.h"

/* ---- a fake KServe HTTP server -------------------------------------------------------- */

#define FAKE_MAX_CONNS 128

struct fake_server {
    int lfd;
    uint16_t port;
    pthread_t acceptor;
    pthread_mutex_t lock;
    int fds[FAKE_MAX_CONNS];
    pthread_t threads[FAKE_MAX_CONNS];
    int nconns;
    atomic_int stop;
    atomic_uint requests;     /* infer requests answered */
    atomic_uint connections;  /* accepted */
    unsigned delay_us;        /* per infer request */
    const char *want_token;   /* when set: 401 without "Authorization: Bearer <it>" */
    atomic_int saw_compressed;
};

struct fake_conn {
    struct fake_server *fs;
    int fd;
};

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        c += k;
        n -= (size_t)k;
    }
}

static void reply(int fd, int code, const char *json, const void *bin, size_t binlen)
{
    char head[512];
    size_t jl = strlen(json);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s%zu\r\nContent-Type: %s\r\n\r\n",
                     code, jl + binlen, binlen ? "Inference-Header-Content-Length: " : "X-L: ",
                     jl, binlen ? "application/octet-stream" : "application/json");
    send_all(fd, head, (size_t)n);
    send_all(fd, json, jl);
    if (binlen)
        send_all(fd, bin, binlen);
}

/* The value of header `name` in the header block h, or NULL (copied into buf). */
static const char *header(const char *h, const char *name, char *buf, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = h; (p = strstr(p, "\r\n")); p += 2) {
        if (!strncasecmp(p + 2, name, nl) && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t l = e ? (size_t)(e - v) : strlen(v);
            if (l >= len)
                l = len - 1;
            memcpy(buf, v, l);
            buf[l] = 0;
            return buf;
        }
    }
    return NULL;
}

static void handle(struct fake_server *fs, int fd, const char *h, char *body, size_t blen)
{
    char method[8] = "", path[256] = "", v[256];
    sscanf(h, "%7s %255s", method, path);
    if (!strcmp(path, "/v2/health/live") || !strcmp(path, "/v2/health/ready")) {
        reply(fd, 200, "", NULL, 0);
        return;
    }
    if (fs->want_token) {
        char want[256];
        snprintf(want, sizeof want, "Bearer %s", fs->want_token);
        if (!header(h, "Authorization", v, sizeof v) || strcmp(v, want)) {
            reply(fd, 401, "{\"error\":\"missing or wrong bearer token\"}", NULL, 0);
            return;
        }
    }
    if (!strcmp(method, "GET") && !strcmp(path, "/v2/models/identity")) {
        reply(fd, 200,
              "{\"name\":\"identity\",\"versions\":[\"1\"],\"platform\":\"trkserve\","
              "\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[-1]}],"
              "\"outputs\":[{\"name\":\"OUTPUT0\",\"datatype\":\"FP32\",\"shape\":[-1]}]}",
              NULL, 0);
        return;
    }
    if (strcmp(method, "POST") || strcmp(path, "/v2/models/identity/infer")) {
        char msg[300];
        snprintf(msg, sizeof msg, "{\"error\":\"unknown model or path %s\"}", path);
        reply(fd, 404, msg, NULL, 0);
        return;
    }
    void *plain = NULL;
    if (header(h, "Content-Encoding", v, sizeof v)) {
        size_t plen;
        if (trk_client_http_decompress(body, blen, 1 << 26, &plain, &plen) != TRK_OK) {
            reply(fd, 400, "{\"error\":\"bad gzip\"}", NULL, 0);
            return;
        }
        atomic_store(&fs->saw_compressed, 1);
        body = plain;
        blen = plen;
    }
    long hl = header(h, "Inference-Header-Content-Length", v, sizeof v) ? atol(v) : -1;
    if (hl < 0 || (size_t)hl > blen) {
        reply(fd, 400, "{\"error\":\"no Inference-Header-Content-Length\"}", NULL, 0);
        free(plain);
        return;
    }
    if (fs->delay_us)
        usleep(fs->delay_us);
    /* identity of the one binary input, whatever it was */
    size_t bin = blen - (size_t)hl;
    char json[256];
    snprintf(json, sizeof json,
             "{\"model_name\":\"identity\",\"model_version\":\"1\",\"outputs\":[{\"name\":"
             "\"OUTPUT0\",\"datatype\":\"FP32\",\"shape\":[%zu],\"parameters\":{"
             "\"binary_data_size\":%zu}}]}",
             bin / 4, bin);
    atomic_fetch_add(&fs->requests, 1);
    reply(fd, 200, json, body + hl, bin);
    free(plain);
}

static void *conn_main(void *arg)
{
    struct fake_conn *fc = arg;
    struct fake_server *fs = fc->fs;
    int fd = fc->fd;
    free(fc);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len + 4096 > cap)
                buf = realloc(buf, cap *= 2);
            ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
            if (k <= 0)
                goto done;
            len += (size_t)k;
        }
        size_t hlen = (size_t)(end - buf) + 4;
        char v[64];
        buf[hlen - 2] = 0; /* terminate the header block (keeps one "\r\n") */
        size_t clen = header(buf, "Content-Length", v, sizeof v) ? (size_t)atol(v) : 0;
        while (len < hlen + clen) {
            if (hlen + clen + 1 > cap)
                buf = realloc(buf, cap = hlen + clen + 1);
            ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
            if (k <= 0)
                goto done;
            len += (size_t)k;
        }
        if (atomic_load(&fs->stop))
            goto done;
        handle(fs, fd, buf, buf + hlen, clen);
        memmove(buf, buf + hlen + clen, len - hlen - clen);
        len -= hlen + clen;
    }
done:
    free(buf);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct fake_server *fs = arg;
    for (;;) {
        int fd = accept(fs->lfd, NULL, NULL);
        if (fd < 0 || atomic_load(&fs->stop)) {
            if (fd >= 0)
                close(fd);
            if (atomic_load(&fs->stop) || (errno != EINTR && errno != ECONNABORTED))
                break;
            continue;
        }
        pthread_mutex_lock(&fs->lock);
        if (fs->nconns == FAKE_MAX_CONNS) {
            pthread_mutex_unlock(&fs->lock);
            close(fd);
            continue;
        }
        int one = 1; /* the answer goes out in pieces: no Nagle + delayed-ACK stalls */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct fake_conn *fc = malloc(sizeof *fc);
        fc->fs = fs;
        fc->fd = fd;
        fs->fds[fs->nconns] = fd;
        if (pthread_create(&fs->threads[fs->nconns], NULL, conn_main, fc) == 0)
            fs->nconns++;
        else {
            free(fc);
            close(fd);
        }
        atomic_fetch_add(&fs->connections, 1);
        pthread_mutex_unlock(&fs->lock);
    }
    return NULL;
}

static struct fake_server *fake_start(unsigned delay_us)
{
    struct fake_server *fs = calloc(1, sizeof *fs);
    assert_non_null(fs);
    fs->delay_us = delay_us;
    pthread_mutex_init(&fs->lock, NULL);
    fs->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fs->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fs->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fs->lfd, 64), 0);
    socklen_t al = sizeof a;
    getsockname(fs->lfd, (struct sockaddr *)&a, &al);
    fs->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&fs->acceptor, NULL, accept_main, fs), 0);
    return fs;
}

/* Kills the server as a crash would: the listener and every connection go away. */
static void fake_stop(struct fake_server *fs)
{
    if (!fs)
        return;
    atomic_store(&fs->stop, 1);
    shutdown(fs->lfd, SHUT_RDWR);
    pthread_join(fs->acceptor, NULL);
    close(fs->lfd);
    pthread_mutex_lock(&fs->lock);
    for (int i = 0; i < fs->nconns; i++)
        shutdown(fs->fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&fs->lock);
    for (int i = 0; i < fs->nconns; i++) {
        pthread_join(fs->threads[i], NULL);
        close(fs->fds[i]);
    }
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}

static void fake_url(const struct fake_server *fs, char *buf, size_t len)
{
    snprintf(buf, len, "http://127.0.0.1:%u", fs->port);
}

/* ---- codec --------------------------------------------------------------------------- */

static void test_encode_binary(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, 4, 5, 6};
    int32_t y[4] = {7, 8, 9, 10};
    struct trk_tensor *tx, *ty;
    assert_int_equal(trk_tensor_wrap("X", TRK_DTYPE_FP32, 2, (int64_t[]){2, 3}, x, sizeof x, &tx),
                     TRK_OK);
    assert_int_equal(trk_tensor_wrap("Y", TRK_DTYPE_INT32, 1, (int64_t[]){4}, y, sizeof y, &ty),
                     TRK_OK);
    const struct trk_tensor *ins[2] = {tx, ty};
    const char *outs[1] = {"OUT"};
    struct trk_client_request req = {.model = "m", .version = -1, .id = "r1", .ninputs = 2,
                                     .inputs = ins, .noutputs = 1, .outputs = outs};
    struct trk_client_http_body b = {0};
    char err[256];
    assert_int_equal(trk_client_http_encode_request(&req, true, &b, err, sizeof err), TRK_OK);
    assert_int_equal(b.total, b.json_len + sizeof x + sizeof y);
    assert_int_equal(strlen(b.json), b.json_len);
    assert_non_null(strstr(b.json, "\"id\":\"r1\""));
    assert_non_null(strstr(b.json, "{\"name\":\"X\",\"shape\":[2,3],\"datatype\":\"FP32\","
                                   "\"parameters\":{\"binary_data_size\":24}}"));
    assert_non_null(strstr(b.json, "\"binary_data_size\":16"));
    assert_non_null(strstr(b.json, "{\"name\":\"OUT\",\"parameters\":{\"binary_data\":true}}"));
    char *flat;
    assert_int_equal(trk_client_http_body_flatten(&b, &flat), TRK_OK);
    assert_memory_equal(flat + b.json_len, x, sizeof x);
    assert_memory_equal(flat + b.json_len + sizeof x, y, sizeof y);
    free(flat);
    trk_client_http_body_fini(&b);

    /* no outputs named: all outputs, binary */
    req.noutputs = 0;
    assert_int_equal(trk_client_http_encode_request(&req, true, &b, err, sizeof err), TRK_OK);
    assert_non_null(strstr(b.json, "\"binary_data_output\":true"));
    trk_client_http_body_fini(&b);

    /* JSON mode: data inline, nothing binary */
    assert_int_equal(trk_client_http_encode_request(&req, false, &b, err, sizeof err), TRK_OK);
    assert_int_equal(b.total, b.json_len);
    assert_non_null(strstr(b.json, "\"data\":[1.0,2.0,3.0,4.0,5.0,6.0]"));
    assert_non_null(strstr(b.json, "\"data\":[7,8,9,10]"));
    assert_null(strstr(b.json, "binary"));
    trk_client_http_body_fini(&b);

    /* FP16 cannot be JSON; a tensor whose bytes do not match its shape is refused */
    tx->dtype = TRK_DTYPE_FP16;
    assert_int_equal(trk_client_http_encode_request(&req, false, &b, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "binary"));
    tx->dtype = TRK_DTYPE_FP32;
    tx->nbytes = 20;
    assert_int_equal(trk_client_http_encode_request(&req, false, &b, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    tx->nbytes = sizeof x;
    req.model = NULL;
    assert_int_equal(trk_client_http_encode_request(&req, true, &b, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    trk_tensor_free(tx);
    trk_tensor_free(ty);
}

static void test_decode(void **state)
{
    (void)state;
    struct trk_client_result r = {0};
    /* binary: two outputs, chunks in order, one of them empty */
    const char *j = "{\"id\":\"abc\",\"model_name\":\"m\",\"model_version\":\"3\",\"outputs\":["
                    "{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],\"parameters\":"
                    "{\"binary_data_size\":8}},"
                    "{\"name\":\"E\",\"datatype\":\"FP32\",\"shape\":[0],\"parameters\":"
                    "{\"binary_data_size\":0}},"
                    "{\"name\":\"B\",\"datatype\":\"UINT8\",\"shape\":[1,3],\"parameters\":"
                    "{\"binary_data_size\":3}}]}";
    size_t jl = strlen(j);
    char body[1024];
    int32_t a[2] = {-5, 42};
    memcpy(body, j, jl);
    memcpy(body + jl, a, 8);
    memcpy(body + jl + 8, "\x01\x02\x03", 3);
    trk_client_http_decode_response(200, body, jl + 11, (int64_t)jl, &r);
    assert_int_equal(r.status, TRK_OK);
    assert_int_equal(r.wire_code, 200);
    assert_string_equal(r.id, "abc");
    assert_string_equal(r.model_version, "3");
    assert_int_equal(r.noutputs, 3);
    assert_string_equal(r.outputs[0]->name, "A");
    assert_int_equal(r.outputs[0]->dtype, TRK_DTYPE_INT32);
    assert_memory_equal(r.outputs[0]->data, a, 8);
    assert_int_equal(r.outputs[1]->nbytes, 0);
    assert_int_equal(r.outputs[2]->ndim, 2);
    assert_int_equal(r.outputs[2]->shape[1], 3);
    assert_memory_equal(r.outputs[2]->data, "\x01\x02\x03", 3);
    trk_client_result_fini(&r);
    assert_null(r.outputs);

    /* JSON data, nested and flat, BOOL and BYTES */
    j = "{\"model_name\":\"m\",\"outputs\":["
        "{\"name\":\"F\",\"datatype\":\"FP64\",\"shape\":[2,2],\"data\":[[1,2.5],[3,-4]]},"
        "{\"name\":\"T\",\"datatype\":\"BOOL\",\"shape\":[3],\"data\":[true,false,true]},"
        "{\"name\":\"S\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"hi\",\"\"]}]}";
    trk_client_http_decode_response(200, j, strlen(j), -1, &r);
    assert_int_equal(r.status, TRK_OK);
    assert_int_equal(r.noutputs, 3);
    double *f = r.outputs[0]->data;
    assert_true(f[0] == 1 && f[1] == 2.5 && f[2] == 3 && f[3] == -4);
    assert_memory_equal(r.outputs[1]->data, "\x01\x00\x01", 3);
    assert_int_equal(r.outputs[2]->nbytes, 4 + 2 + 4);
    assert_memory_equal(r.outputs[2]->data, "\x02\x00\x00\x00hi\x00\x00\x00\x00", 10);
    trk_client_result_fini(&r);

    /* errors from the server */
    j = "{\"error\":\"unknown model 'x'\"}";
    trk_client_http_decode_response(404, j, strlen(j), -1, &r);
    assert_int_equal(r.status, TRK_ERR_NOT_FOUND);
    assert_int_equal(r.wire_code, 404);
    assert_string_equal(r.error, "unknown model 'x'");
    trk_client_result_fini(&r);
    trk_client_http_decode_response(503, "", 0, -1, &r);
    assert_int_equal(r.status, TRK_ERR_UNAVAILABLE);
    assert_non_null(strstr(r.error, "empty"));
    trk_client_result_fini(&r);

    /* malformed answers: a clear TRK_ERR_PARSE, no outputs, no crash */
    static const char *bad[] = {
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[2],"
        "\"parameters\":{\"binary_data_size\":800}}]}",          /* runs past the body */
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[3],"
        "\"parameters\":{\"binary_data_size\":8}}]}",            /* size != shape */
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT32\",\"shape\":[3],"
        "\"data\":[1,2]}]}",                                      /* too few values */
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"NOPE\",\"shape\":[1],\"data\":[1]}]}",
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[-1],\"data\":[1]}]}",
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1]}]}",
        "{\"outputs\":{}}",
        "[1,2]",
        "{\"outputs\":[",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t l = strlen(bad[i]);
        memcpy(body, bad[i], l);
        memcpy(body + l, a, 8);
        trk_client_http_decode_response(200, body, l + 8, (int64_t)l, &r);
        if (r.status != TRK_ERR_PARSE)
            fail_msg("bad answer %zu accepted: %s", i, bad[i]);
        assert_int_equal(r.noutputs, 0);
        assert_null(r.outputs);
        assert_true(r.error[0] != 0);
        trk_client_result_fini(&r);
    }
    /* header length beyond the body */
    trk_client_http_decode_response(200, "{}", 2, 10, &r);
    assert_int_equal(r.status, TRK_ERR_PARSE);
    trk_client_result_fini(&r);
}

static void test_compress(void **state)
{
    (void)state;
    size_t n = 100000;
    unsigned char *in = tt_malloc(n);
    uint64_t seed = 1;
    for (size_t i = 0; i < n; i++)
        in[i] = (unsigned char)(i % 7 == 0 ? tt_rand_u32(&seed) : i % 13);
    const char *algs[] = {"gzip", "deflate"};
    for (int a = 0; a < 2; a++) {
        void *z, *back;
        size_t zl, bl;
        assert_int_equal(trk_client_http_compress(algs[a], in, n, &z, &zl), TRK_OK);
        assert_true(zl < n);
        assert_int_equal(trk_client_http_decompress(z, zl, n, &back, &bl), TRK_OK);
        assert_int_equal(bl, n);
        assert_memory_equal(back, in, n);
        free(back);
        /* the limit holds, corrupt or truncated data is refused */
        assert_int_equal(trk_client_http_decompress(z, zl, n - 1, &back, &bl), TRK_ERR_OVERFLOW);
        assert_int_equal(trk_client_http_decompress(z, zl / 2, n, &back, &bl), TRK_ERR_PARSE);
        ((unsigned char *)z)[zl / 2] ^= 0x55;
        ((unsigned char *)z)[zl / 2 + 1] ^= 0x55;
        enum trk_status st = trk_client_http_decompress(z, zl, n, &back, &bl);
        assert_int_not_equal(st, TRK_OK);
        free(z);
    }
    void *z;
    size_t zl;
    assert_int_equal(trk_client_http_compress("br", in, n, &z, &zl), TRK_ERR_INVALID_ARG);
    free(in);
}

static enum trk_status gen_inputs(const char *meta, uint32_t nshapes, const char *const *shapes,
                                  uint32_t batch, bool random, struct trk_tensor ***t,
                                  uint32_t *n, char *err)
{
    return trk_client_inputs_from_metadata(meta, nshapes, shapes, batch, random, 1, NULL, 0, t, n,
                                           err, 256);
}

static void test_inputs_from_metadata(void **state)
{
    (void)state;
    const char *meta = "{\"name\":\"m\",\"inputs\":["
                       "{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[-1,4]},"
                       "{\"name\":\"B\",\"datatype\":\"INT64\",\"shape\":[-1,-1]},"
                       "{\"name\":\"C\",\"datatype\":\"BYTES\",\"shape\":[2]}]}";
    struct trk_tensor **t;
    uint32_t n;
    char err[256];
    enum trk_status st;
    /* B's second dim is dynamic: the error names it and the flag */
    st = gen_inputs(meta, 0, NULL, 3, true, &t, &n, err);
    assert_int_equal(st, TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "'B'"));
    assert_non_null(strstr(err, "--shape B:"));
    const char *shapes[] = {"B:5"};
    st = gen_inputs(meta, 1, shapes, 3, true, &t, &n, err);
    assert_int_equal(st, TRK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(t[0]->shape[0], 3);
    assert_int_equal(t[0]->shape[1], 4);
    assert_int_equal(t[0]->nbytes, 48);
    assert_int_equal(t[1]->shape[0], 3);
    assert_int_equal(t[1]->shape[1], 5);
    int64_t *b = t[1]->data;
    for (int i = 0; i < 15; i++)
        assert_true(b[i] >= 0 && b[i] < 100);
    float *fa = t[0]->data;
    for (int i = 0; i < 12; i++)
        assert_true(fa[i] >= 0 && fa[i] < 1);
    assert_int_equal(t[2]->dtype, TRK_DTYPE_BYTES);
    assert_true(t[2]->nbytes >= 8);
    trk_client_tensors_free(t, n);
    /* inputs the caller supplies are left out (and need no --shape) */
    const char *skip[] = {"B"};
    assert_int_equal(trk_client_inputs_from_metadata(meta, 0, NULL, 2, false, 1, skip, 1, &t,
                                                     &n, err, sizeof err),
                     TRK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(t[0]->name, "A");
    assert_string_equal(t[1]->name, "C");
    trk_client_tensors_free(t, n);
    /* a full shape, a wrong fixed dim, a malformed spec, bad JSON */
    const char *full[] = {"B:2,2", "A:7,4"};
    st = gen_inputs(meta, 2, full, 1, false, &t, &n, err);
    assert_int_equal(st, TRK_OK);
    assert_int_equal(t[0]->shape[0], 7);
    assert_int_equal(((float *)t[0]->data)[5], 0.0f);
    trk_client_tensors_free(t, n);
    const char *wrong[] = {"B:1", "A:2,5"};
    st = gen_inputs(meta, 2, wrong, 1, false, &t, &n, err);
    assert_int_equal(st, TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "'A'"));
    const char *junk[] = {"B:x"};
    st = gen_inputs(meta, 1, junk, 1, false, &t, &n, err);
    assert_int_equal(st, TRK_ERR_INVALID_ARG);
    st = gen_inputs("{", 0, NULL, 1, false, &t, &n, err);
    assert_int_equal(st, TRK_ERR_PARSE);
}

/* ---- HTTP transport against the fake server ----------------------------------------- */

static struct trk_tensor *vec(float v, int n)
{
    struct trk_tensor *t;
    assert_int_equal(trk_tensor_alloc("INPUT0", TRK_DTYPE_FP32, 1, (int64_t[]){n}, &t), TRK_OK);
    for (int i = 0; i < n; i++)
        ((float *)t->data)[i] = v + (float)i;
    return t;
}

static void test_http_basic(void **state)
{
    (void)state;
    struct fake_server *fs = fake_start(0);
    char url[64], err[TRK_CLIENT_ERR_MAX];
    fake_url(fs, url, sizeof url);
    const char *urls[] = {url};
    struct trk_client *c;
    assert_int_equal(trk_client_create(urls, 1, NULL, &c, err, sizeof err), TRK_OK);
    struct trk_tensor *t = vec(1.5f, 1000);
    const struct trk_tensor *ins[] = {t};
    struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1,
                                     .inputs = ins};
    struct trk_client_result r;
    for (int k = 0; k < 5; k++) {
        assert_int_equal(trk_client_infer(c, &req, &r), TRK_OK);
        assert_int_equal(r.wire_code, 200);
        assert_int_equal(r.noutputs, 1);
        assert_string_equal(r.outputs[0]->name, "OUTPUT0");
        assert_int_equal(r.outputs[0]->shape[0], 1000);
        assert_memory_equal(r.outputs[0]->data, t->data, t->nbytes);
        assert_string_equal(r.model_version, "1");
        trk_client_result_fini(&r);
    }
    /* keep-alive: five calls, one connection */
    assert_int_equal(atomic_load(&fs->connections), 1);

    /* the server's error comes back as it was said */
    req.model = "missing";
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_ERR_NOT_FOUND);
    assert_int_equal(r.wire_code, 404);
    assert_non_null(strstr(r.error, "unknown model"));
    trk_client_result_fini(&r);
    req.model = "../etc";
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_ERR_INVALID_ARG);
    trk_client_result_fini(&r);

    char *meta = NULL;
    assert_int_equal(trk_client_model_metadata(c, "identity", -1, &meta, err, sizeof err),
                     TRK_OK);
    assert_non_null(strstr(meta, "\"INPUT0\""));
    free(meta);
    assert_int_equal(trk_client_model_metadata(c, "nope", -1, &meta, err, sizeof err),
                     TRK_ERR_NOT_FOUND);
    assert_null(meta);
    assert_non_null(strstr(err, "nope"));
    trk_client_free(c);

    /* compression and a bearer token */
    fs->want_token = "s3cret";
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    opt.compression = "gzip";
    assert_int_equal(trk_client_create(urls, 1, &opt, &c, err, sizeof err), TRK_OK);
    req.model = "identity";
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_ERR_INVALID_ARG);
    assert_int_equal(r.wire_code, 401);
    trk_client_result_fini(&r);
    trk_client_free(c);
    opt.auth_token = "s3cret";
    assert_int_equal(trk_client_create(urls, 1, &opt, &c, err, sizeof err), TRK_OK);
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_OK);
    assert_memory_equal(r.outputs[0]->data, t->data, t->nbytes);
    assert_int_equal(atomic_load(&fs->saw_compressed), 1);
    trk_client_result_fini(&r);
    trk_client_free(c);

    /* bad options and URLs fail at create with a message */
    opt.compression = "zstd";
    assert_int_not_equal(trk_client_create(urls, 1, &opt, &c, err, sizeof err), TRK_OK);
    assert_non_null(strstr(err, "zstd"));
    const char *bad[] = {"ftp://x"};
    assert_int_equal(trk_client_create(bad, 1, NULL, &c, err, sizeof err), TRK_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "scheme"));
    if (!trk_client_transport_grpc()) {
        const char *g[] = {"grpc://127.0.0.1:1"};
        assert_int_equal(trk_client_create(g, 1, NULL, &c, err, sizeof err),
                         TRK_ERR_UNSUPPORTED);
        assert_non_null(strstr(err, "without gRPC"));
    }
    trk_tensor_free(t);
    fake_stop(fs);
}

static void test_http_all_down(void **state)
{
    (void)state;
    struct fake_server *fs = fake_start(0);
    char url[64], err[TRK_CLIENT_ERR_MAX];
    fake_url(fs, url, sizeof url);
    fake_stop(fs); /* nobody listens there now */
    const char *urls[] = {url, url};
    struct trk_client *c;
    assert_int_equal(trk_client_create(urls, 2, NULL, &c, err, sizeof err), TRK_OK);
    struct trk_tensor *t = vec(0, 4);
    const struct trk_tensor *ins[] = {t};
    struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1,
                                     .inputs = ins};
    struct trk_client_result r;
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_ERR_IO);
    assert_int_equal(r.wire_code, 0);
    assert_non_null(strstr(r.error, "no server answered (2 of 2 tried)"));
    trk_client_result_fini(&r);
    bool ok = true;
    const struct trk_client_transport *tp = trk_client_transport_http();
    void *conn;
    assert_int_equal(tp->open(url, &(struct trk_client_options){.binary = true}, &conn, err,
                              sizeof err),
                     TRK_OK);
    assert_int_equal(tp->live(conn, &ok), TRK_ERR_IO);
    tp->close(conn);
    trk_client_free(c);
    trk_tensor_free(t);
}

static void test_http_timeout(void **state)
{
    (void)state;
    /* A slow server times out and the request moves to the fast one. */
    struct fake_server *slow = fake_start(400000), *fast = fake_start(0);
    char us[64], uf[64], err[TRK_CLIENT_ERR_MAX];
    fake_url(slow, us, sizeof us);
    fake_url(fast, uf, sizeof uf);
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    opt.timeout_ms = 100;
    const char *one[] = {us}, *both[] = {us, uf};
    struct trk_client *c;
    struct trk_tensor *t = vec(2, 8);
    const struct trk_tensor *ins[] = {t};
    struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1,
                                     .inputs = ins};
    struct trk_client_result r;
    assert_int_equal(trk_client_create(one, 1, &opt, &c, err, sizeof err), TRK_OK);
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_ERR_TIMEOUT);
    assert_int_equal(r.noutputs, 0);
    trk_client_result_fini(&r);
    trk_client_free(c);
    assert_int_equal(trk_client_create(both, 2, &opt, &c, err, sizeof err), TRK_OK);
    for (int k = 0; k < 2; k++) { /* whichever is tried first, the fast one answers */
        assert_int_equal(trk_client_infer(c, &req, &r), TRK_OK);
        assert_int_equal(r.server_index, 1);
        assert_memory_equal(r.outputs[0]->data, t->data, t->nbytes);
        trk_client_result_fini(&r);
    }
    trk_client_free(c);
    trk_tensor_free(t);
    fake_stop(slow);
    fake_stop(fast);
}

/* ---- failover: one of two servers dies mid-run -------------------------------------- */

#define FO_REQUESTS 600

struct fo_state {
    struct trk_tensor *in[FO_REQUESTS];
    atomic_int answered[FO_REQUESTS];
    atomic_int ok, wrong, done;
    atomic_int by_server[2];
};

struct fo_call {
    struct fo_state *s;
    int i;
};

static void fo_done(struct trk_client_result *r, void *user)
{
    struct fo_call *call = user;
    struct fo_state *s = call->s;
    atomic_fetch_add(&s->answered[call->i], 1);
    if (r->status == TRK_OK && r->noutputs == 1 &&
        r->outputs[0]->nbytes == s->in[call->i]->nbytes &&
        !memcmp(r->outputs[0]->data, s->in[call->i]->data, r->outputs[0]->nbytes)) {
        atomic_fetch_add(&s->ok, 1);
        if (r->server_index < 2)
            atomic_fetch_add(&s->by_server[r->server_index], 1);
    } else {
        atomic_fetch_add(&s->wrong, 1);
        print_message("request %d: %s (%s)\n", call->i, trk_status_str(r->status), r->error);
    }
    atomic_fetch_add(&s->done, 1);
}

static void test_failover(void **state)
{
    (void)state;
    struct fake_server *a = fake_start(2000), *b = fake_start(2000);
    char ua[64], ub[64], err[TRK_CLIENT_ERR_MAX];
    fake_url(a, ua, sizeof ua);
    fake_url(b, ub, sizeof ub);
    const char *urls[] = {ua, ub};
    struct trk_client *c;
    assert_int_equal(trk_client_create(urls, 2, NULL, &c, err, sizeof err), TRK_OK);
    assert_int_equal(trk_client_set_concurrency(c, 8), TRK_OK);
    struct fo_state *s = calloc(1, sizeof *s);
    struct fo_call *calls = calloc(FO_REQUESTS, sizeof *calls);
    assert_non_null(s);
    assert_non_null(calls);
    for (int i = 0; i < FO_REQUESTS; i++) {
        s->in[i] = vec((float)i * 10, 16);
        calls[i] = (struct fo_call){s, i};
        const struct trk_tensor *ins[] = {s->in[i]};
        struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1,
                                         .inputs = ins};
        assert_int_equal(trk_client_infer_async(c, &req, fo_done, &calls[i]), TRK_OK);
    }
    /* kill A once some work has been done, with requests in flight on it */
    while (atomic_load(&s->done) < FO_REQUESTS / 4)
        usleep(1000);
    unsigned a_before = atomic_load(&a->requests);
    fake_stop(a);
    trk_client_wait(c);
    assert_int_equal(atomic_load(&s->done), FO_REQUESTS);
    for (int i = 0; i < FO_REQUESTS; i++)
        if (atomic_load(&s->answered[i]) != 1)
            fail_msg("request %d answered %d times", i, atomic_load(&s->answered[i]));
    assert_int_equal(atomic_load(&s->wrong), 0);
    assert_int_equal(atomic_load(&s->ok), FO_REQUESTS);
    /* both served before the kill (least in flight spreads the load); B took the rest */
    assert_true(a_before > 10);
    assert_true(atomic_load(&s->by_server[1]) > FO_REQUESTS / 2);
    print_message("failover: A answered %u before it died, B %d in all\n", a_before,
                  atomic_load(&s->by_server[1]));

    /* the synchronous call fails over too, from several threads at once */
    struct trk_client_result r;
    const struct trk_tensor *ins[] = {s->in[1]};
    struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1,
                                     .inputs = ins};
    for (int k = 0; k < 10; k++) {
        assert_int_equal(trk_client_infer(c, &req, &r), TRK_OK);
        assert_int_equal(r.server_index, 1);
        trk_client_result_fini(&r);
    }
    trk_client_free(c);
    for (int i = 0; i < FO_REQUESTS; i++)
        trk_tensor_free(s->in[i]);
    free(calls);
    free(s);
    fake_stop(b);
}

/* ---- in-process transport ------------------------------------------------------------- */

static void test_inprocess(void **state)
{
    (void)state;
    if (!trk_client_transport_inprocess()) {
        print_message("in-process transport not built (no trkserver): skipped\n");
        skip();
    }
    char dir[] = "/tmp/trk_client_repo_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/identity", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/identity/1", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/identity/config.cfg", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name = \"identity\";\nalgorithm = \"identity\";\nmax_batch_size = 0;\n"
          "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
          "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
          "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n",
          f);
    fclose(f);
    char url[600], err[TRK_CLIENT_ERR_MAX];
    snprintf(url, sizeof url, "inprocess:%s", dir);
    const char *urls[] = {url};
    struct trk_client *c;
    assert_int_equal(trk_client_create(urls, 1, NULL, &c, err, sizeof err), TRK_OK);
    struct trk_tensor *t = vec(3, 100);
    const struct trk_tensor *ins[] = {t};
    struct trk_client_request req = {.model = "identity", .version = -1, .id = "q7",
                                     .ninputs = 1, .inputs = ins};
    struct trk_client_result r;
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_OK);
    assert_int_equal(r.noutputs, 1);
    assert_memory_equal(r.outputs[0]->data, t->data, t->nbytes);
    assert_string_equal(r.model_version, "1");
    trk_client_result_fini(&r);
    req.model = "nope";
    assert_int_equal(trk_client_infer(c, &req, &r), TRK_ERR_NOT_FOUND);
    assert_int_equal(r.wire_code, 404);
    assert_true(r.error[0] != 0);
    trk_client_result_fini(&r);
    char *meta;
    assert_int_equal(trk_client_model_metadata(c, "identity", -1, &meta, err, sizeof err),
                     TRK_OK);
    assert_non_null(strstr(meta, "\"shape\":[-1]"));
    free(meta);
    trk_client_free(c);
    trk_tensor_free(t);
    const char *missing[] = {"inprocess:/nonexistent/repo"};
    assert_int_equal(trk_client_create(missing, 1, NULL, &c, err, sizeof err),
                     TRK_ERR_NOT_FOUND);
    unlink(path);
    snprintf(path, sizeof path, "%s/identity/1", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/identity", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_binary),     cmocka_unit_test(test_decode),
        cmocka_unit_test(test_compress),          cmocka_unit_test(test_inputs_from_metadata),
        cmocka_unit_test(test_http_basic),        cmocka_unit_test(test_http_all_down),
        cmocka_unit_test(test_http_timeout),
        cmocka_unit_test(test_failover),          cmocka_unit_test(test_inprocess),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
