/* trkserve — HTTP/REST front end (KServe v2 / Triton) and metrics listener: the codec as
 * pure functions, then a real server on an ephemeral port over a temporary repository,
 * driven with libcurl. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "trk/frontend.h"
#include "trk/server.h"
#include "../rpc/http/http_codec.h"

/* A self-signed certificate for CN=localhost / IP 127.0.0.1 (test only). */
static const char k_tls_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIUEWFS/8Ig17A8JCUZbNPT9Idyi9YwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzAwMjQ0M1oYDzIxMjYxMDMw\n"
    "MDAyNDQzWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAASkQYwP1qsQ+fs4wSFFn37e+00RYjbtDJQdVC0AUO/hvBBjfFVAr0Vc\n"
    "Ys5ceNa/kZ6OeHvyy9kZMf4Z0u+6957ho28wbTAdBgNVHQ4EFgQUW9ZTuR8b9Yy4\n"
    "L40MJTidqyOmIc8wHwYDVR0jBBgwFoAUW9ZTuR8b9Yy4L40MJTidqyOmIc8wDwYD\n"
    "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIgYGH5v/U4jy/e/QVTt3wiHgOyRiLMUKYp7homc6Rjzy4CIQDl\n"
    "yEmfWgtukqT1Gsur70Rx6GrJHy0aGB1DlUceF7u69w==\n"
    "-----END CERTIFICATE-----\n";
static const char k_tls_key[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg307f4lFCMUwlJ1cU\n"
    "DvnMm29d7aUfQAfBXwm7Of35Yu2hRANCAASkQYwP1qsQ+fs4wSFFn37e+00RYjbt\n"
    "DJQdVC0AUO/hvBBjfFVAr0VcYs5ceNa/kZ6OeHvyy9kZMf4Z0u+6957h\n"
    "-----END PRIVATE KEY-----\n";

#define IDENTITY_IO                                                                    \
    "max_batch_size = 0;\n"                                                            \
    "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n" \
    "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"

static const struct {
    const char *name, *cfg;
} k_models[] = {
    {"identity", "algorithm = \"identity\";\n" IDENTITY_IO
                 "instance_group = ( { kind = \"KIND_CPU\"; count = 2; } );\n"
                 "parameters = { any_dtype = true; any_shape = true; };\n"},
    {"tiny", "algorithm = \"identity\";\n" IDENTITY_IO
             "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n"
             "max_request_bytes = 4096;\n"},
    {"slow", "algorithm = \"identity\";\n" IDENTITY_IO
             "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n"
             "parameters = { delay_us = 300000; };\nqueue_capacity = 1;\n"},
    {"delay", "algorithm = \"identity\";\n" IDENTITY_IO
              "instance_group = ( { kind = \"KIND_CPU\"; count = 2; } );\n"
              "parameters = { delay_us = 2000; };\n"},
    {"pair", "algorithm = \"identity\";\nmax_batch_size = 0;\n"
             "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; },\n"
             "          { name = \"INPUT1\"; data_type = \"TYPE_INT32\"; dims = [ -1 ]; } );\n"
             "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; },\n"
             "           { name = \"OUTPUT1\"; data_type = \"TYPE_INT32\"; dims = [ -1 ]; } );\n"
             "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n"},
    {"sum", "algorithm = \"sum\";\nmax_batch_size = 0;\n"
            "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
            "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n"
            "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n"},
    {"gemm", "algorithm = \"gemm\";\nmax_batch_size = 4;\n"
             "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 8 ]; } );\n"
             "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 8 ]; } );\n"
             "instance_group = ( { kind = \"KIND_CPU\"; count = 1; devices = [ \"cpu\" ]; } );\n"
             "parameters = { input_size = 8; hidden_size = 8; output_size = 8; depth = 1; };\n"},
};

static struct {
    char dir[256];
    struct trk_server *srv;
    struct trk_http *http;
    char base[64];
} g;

/* ---- helpers -------------------------------------------------------------------------- */

struct resp {
    long code;
    char *body;
    size_t len;
    char hdrs[4096];
    size_t hlen;
    CURLcode rc;
};

static size_t on_body(char *p, size_t s, size_t n, void *u)
{
    struct resp *r = u;
    char *nb = realloc(r->body, r->len + s * n + 1);
    assert_non_null(nb);
    memcpy(nb + r->len, p, s * n);
    r->body = nb;
    r->len += s * n;
    r->body[r->len] = '\0';
    return s * n;
}

static size_t on_hdr(char *p, size_t s, size_t n, void *u)
{
    struct resp *r = u;
    size_t k = s * n;
    if (r->hlen + k < sizeof r->hdrs) {
        memcpy(r->hdrs + r->hlen, p, k);
        r->hlen += k;
        r->hdrs[r->hlen] = '\0';
    }
    return k;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Value of response header `name` (copied into buf), or NULL. */
static const char *hdr(const struct resp *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->hdrs; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t m = strcspn(v, "\r\n");
            if (m >= cap)
                m = cap - 1;
            memcpy(buf, v, m);
            buf[m] = '\0';
            return buf;
        }
    }
    return NULL;
}

static char g_last[600]; /* the last URL, for failure messages */

static CURL *easy(const char *base, const char *method, const char *path, const void *body,
                  size_t len, struct curl_slist *hl, struct resp *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(g_last, sizeof g_last, "%s %s", method, url);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (getenv("TRK_TEST_CURL_VERBOSE"))
        curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (hl)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    return c;
}

static struct curl_slist *headers(const char *const *h)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    for (; h && *h; h++)
        l = curl_slist_append(l, *h);
    return l;
}

/* One request on a fresh connection; fills *r (free with resp_free). */
static void call_at(const char *base, const char *method, const char *path, const void *body,
                    size_t len, const char *const *hdrs, struct resp *r)
{
    memset(r, 0, sizeof *r);
    struct curl_slist *hl = headers(hdrs);
    CURL *c = easy(base, method, path, body, len, hl, r);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
}

static void call(const char *method, const char *path, const char *json, const char *const *hdrs,
                 struct resp *r)
{
    call_at(g.base, method, path, json, json ? strlen(json) : 0, hdrs, r);
}

/* Asserts the status and, for errors, an {"error":"..."} body containing `needle`.
 * Returns the parsed JSON body of a success (NULL when empty); the caller frees it. */
static json_t *expect_json(struct resp *r, long code, const char *needle)
{
    if (r->code != code)
        fail_msg("%s: expected HTTP %ld, got %ld (curl %d): %s", g_last, code, r->code,
                 (int)r->rc, r->body ? r->body : "");
    if (code >= 400) {
        json_error_t je;
        json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &je);
        if (!j || !json_is_string(json_object_get(j, "error")))
            fail_msg("error body is not {\"error\":...}: %s", r->body ? r->body : "");
        const char *msg = json_string_value(json_object_get(j, "error"));
        if (needle && !strstr(msg, needle))
            fail_msg("error '%s' lacks '%s'", msg, needle);
        json_decref(j);
        return NULL;
    }
    if (!r->len)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(r->body, r->len, JSON_DISABLE_EOF_CHECK, &je);
    return j;
}

static void expect(struct resp *r, long code, const char *needle)
{
    json_decref(expect_json(r, code, needle));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    snprintf(g.dir, sizeof g.dir, "/tmp/trk_test_http_XXXXXX");
    if (!mkdtemp(g.dir))
        return -1;
    char path[512];
    for (size_t i = 0; i < sizeof k_models / sizeof k_models[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", g.dir, k_models[i].name);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%s/1", g.dir, k_models[i].name);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%s/config.cfg", g.dir, k_models[i].name);
        write_file(path, k_models[i].cfg);
    }
    struct trk_server_options so;
    trk_server_options_default(&so);
    so.model_repository = g.dir;
    char err[512];
    if (trk_server_create(&so, &g.srv, err, sizeof err) != TRK_OK) {
        fprintf(stderr, "server: %s\n", err);
        return -1;
    }
    struct trk_http_options ho = {0};
    ho.max_body_bytes = 1 << 20;
    ho.connection_timeout_s = 10;
    if (trk_http_start(g.srv, &ho, &g.http, err, sizeof err) != TRK_OK) {
        fprintf(stderr, "http: %s\n", err);
        return -1;
    }
    snprintf(g.base, sizeof g.base, "http://127.0.0.1:%u", trk_http_port(g.http));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    trk_http_stop(g.http);
    trk_server_free(g.srv);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g.dir);
    curl_global_cleanup();
    return 0;
}

/* ---- codec (no network) -------------------------------------------------------------- */

static void test_codec_decode(void **state)
{
    (void)state;
    char err[512];
    struct trk_http_infer inf;
    const char *body = "{\"id\":\"7\",\"parameters\":{\"binary_data_output\":true,\"timeout\":5},"
                       "\"inputs\":[{\"name\":\"A\",\"shape\":[2,2],\"datatype\":\"INT16\","
                       "\"data\":[[1,-2],[3,4]]},{\"name\":\"B\",\"shape\":[2],"
                       "\"datatype\":\"BYTES\",\"data\":[\"ab\",\"\"]}],"
                       "\"outputs\":[{\"name\":\"Y\",\"parameters\":{\"binary_data\":false}},"
                       "{\"name\":\"X\"}]}";
    assert_int_equal(trk_http_decode_infer(body, strlen(body), -1, NULL, &inf, err, sizeof err),
                     TRK_OK);
    assert_string_equal(inf.req->id, "7");
    assert_int_equal(inf.req->timeout_us, 5);
    assert_int_equal(inf.req->ninputs, 2);
    int16_t want[4] = {1, -2, 3, 4};
    assert_int_equal(inf.req->inputs[0].nbytes, 8);
    assert_memory_equal(inf.req->inputs[0].data, want, 8);
    assert_int_equal(inf.req->inputs[1].nbytes, 4 + 2 + 4);
    assert_memory_equal(inf.req->inputs[1].data, "\x02\0\0\0ab\0\0\0\0", 10);
    assert_int_equal(inf.req->nrequested, 2);
    assert_string_equal(inf.req->requested[0], "Y");
    assert_false(inf.binary[0]);
    assert_true(inf.binary[1]);
    trk_http_infer_fini(&inf);

    /* binary section after the header */
    char buf[256];
    const char *h = "{\"inputs\":[{\"name\":\"A\",\"shape\":[3],\"datatype\":\"UINT8\","
                    "\"parameters\":{\"binary_data_size\":3}}]}";
    size_t hl = strlen(h);
    memcpy(buf, h, hl);
    memcpy(buf + hl, "\x01\x02\x03", 3);
    assert_int_equal(trk_http_decode_infer(buf, hl + 3, (int64_t)hl, NULL, &inf, err, sizeof err),
                     TRK_OK);
    assert_memory_equal(inf.req->inputs[0].data, "\x01\x02\x03", 3);
    trk_http_infer_fini(&inf);
    assert_int_equal(trk_http_decode_infer(buf, hl + 2, (int64_t)hl, NULL, &inf, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(trk_http_decode_infer(buf, hl + 3, -1, NULL, &inf, err, sizeof err),
                     TRK_ERR_PARSE);
    assert_int_equal(trk_http_decode_infer(buf, hl, -1, NULL, &inf, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "Inference-Header-Content-Length"));

    static const struct {
        const char *body;
        enum trk_status st;
        const char *needle;
    } bad[] = {
        {"{", TRK_ERR_PARSE, "malformed JSON"},
        {"[]", TRK_ERR_INVALID_ARG, "object"},
        {"{\"inputs\":{}}", TRK_ERR_INVALID_ARG, "inputs"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[2],\"datatype\":\"FP16\",\"data\":[1,2]}]}",
         TRK_ERR_INVALID_ARG, "FP16"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[2],\"datatype\":\"BF16\",\"data\":[1,2]}]}",
         TRK_ERR_INVALID_ARG, "datatype"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[3],\"datatype\":\"FP32\",\"data\":[1,2]}]}",
         TRK_ERR_INVALID_ARG, "3"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[1],\"datatype\":\"INT8\",\"data\":[300]}]}",
         TRK_ERR_INVALID_ARG, "out of range"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[1],\"datatype\":\"INT32\",\"data\":[1.5]}]}",
         TRK_ERR_INVALID_ARG, "integer"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[1]}]}",
         TRK_ERR_INVALID_ARG, "true or false"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[-1],\"datatype\":\"FP32\",\"data\":[]}]}",
         TRK_ERR_INVALID_ARG, "shape"},
        {"{\"inputs\":[{\"name\":\"A\",\"shape\":[1],\"datatype\":\"FP32\"}]}",
         TRK_ERR_INVALID_ARG, "neither"},
        {"{\"inputs\":[],\"outputs\":[{\"name\":\"Y\"},{\"name\":\"Y\"}]}", TRK_ERR_INVALID_ARG,
         "twice"},
        {"{\"inputs\":[],\"parameters\":{\"sequence_id\":3}}", TRK_ERR_INVALID_ARG, "sequence"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum trk_status st =
            trk_http_decode_infer(bad[i].body, strlen(bad[i].body), -1, NULL, &inf, err, sizeof err);
        if (st != bad[i].st || !strstr(err, bad[i].needle))
            fail_msg("case %zu: status %d, err '%s'", i, (int)st, err);
        assert_null(inf.req);
    }
}

static void test_codec_raw_and_encode(void **state)
{
    (void)state;
    char err[512];
    struct trk_model_config *cfg = NULL;
    const char *text = "name = \"m\"; algorithm = \"identity\"; max_batch_size = 2;\n"
                       "input = ( { name = \"X\"; data_type = \"TYPE_INT32\"; dims = [ -1 ]; } );\n"
                       "output = ( { name = \"Y\"; data_type = \"TYPE_INT32\"; dims = [ -1 ]; } );\n";
    assert_int_equal(trk_model_config_parse(text, NULL, &cfg, err, sizeof err), TRK_OK);
    struct trk_http_infer inf;
    int32_t v[3] = {1, 2, 3};
    assert_int_equal(trk_http_decode_infer((const char *)v, sizeof v, 0, cfg, &inf, err, sizeof err),
                     TRK_OK);
    assert_int_equal(inf.req->inputs[0].ndim, 2);
    assert_int_equal(inf.req->inputs[0].shape[0], 1);
    assert_int_equal(inf.req->inputs[0].shape[1], 3);
    assert_true(inf.binary_default);
    trk_http_infer_fini(&inf);
    assert_int_equal(trk_http_decode_infer((const char *)v, 5, 0, cfg, &inf, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    trk_model_config_free(cfg);

    /* encode: one JSON output and one binary output, in requested order */
    const char *body = "{\"id\":\"q\",\"inputs\":[],\"outputs\":[{\"name\":\"B\",\"parameters\":"
                       "{\"binary_data\":true}},{\"name\":\"A\"}]}";
    assert_int_equal(trk_http_decode_infer(body, strlen(body), -1, NULL, &inf, err, sizeof err),
                     TRK_OK);
    struct trk_infer_request *req = inf.req;
    snprintf(req->model_name, sizeof req->model_name, "m");
    req->served_version = 3;
    req->noutputs = 2;
    req->outputs = calloc(2, sizeof *req->outputs);
    int64_t s2[1] = {2};
    assert_int_equal(trk_tensor_alloc("B", TRK_DTYPE_FP64, 1, s2, &req->outputs[0]), TRK_OK);
    assert_int_equal(trk_tensor_alloc("A", TRK_DTYPE_BOOL, 1, s2, &req->outputs[1]), TRK_OK);
    ((double *)req->outputs[0]->data)[1] = 2.5;
    ((uint8_t *)req->outputs[1]->data)[0] = 1;
    char *out = NULL;
    size_t len = 0, hl = 0;
    assert_int_equal(trk_http_encode_infer(&inf, &out, &len, &hl, err, sizeof err), TRK_OK);
    assert_int_equal(len, hl + 16);
    const char *want = "{\"id\":\"q\",\"model_name\":\"m\",\"model_version\":\"3\",\"outputs\":["
                       "{\"name\":\"B\",\"datatype\":\"FP64\",\"shape\":[2],\"parameters\":"
                       "{\"binary_data_size\":16}},{\"name\":\"A\",\"datatype\":\"BOOL\","
                       "\"shape\":[2],\"data\":[true,false]}]}";
    assert_int_equal(hl, strlen(want));
    assert_memory_equal(out, want, hl);
    free(out);
    /* FP16 as JSON is refused with a clear error */
    inf.binary[0] = false;
    trk_tensor_free(req->outputs[0]);
    assert_int_equal(trk_tensor_alloc("B", TRK_DTYPE_FP16, 1, s2, &req->outputs[0]), TRK_OK);
    assert_int_equal(trk_http_encode_infer(&inf, &out, &len, &hl, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "FP16"));
    trk_http_infer_fini(&inf);
}

static void test_codec_compression(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(trk_http_content_coding(NULL), TRK_HTTP_CODING_IDENTITY);
    assert_int_equal(trk_http_content_coding("GZIP"), TRK_HTTP_CODING_GZIP);
    assert_int_equal(trk_http_content_coding("br"), TRK_HTTP_CODING_UNKNOWN);
    assert_int_equal(trk_http_accept_coding("deflate, gzip;q=0"), TRK_HTTP_CODING_DEFLATE);
    assert_int_equal(trk_http_accept_coding("br, gzip"), TRK_HTTP_CODING_GZIP);
    assert_int_equal(trk_http_accept_coding(NULL), TRK_HTTP_CODING_IDENTITY);
    size_t n = 100000;
    char *src = calloc(1, n);
    for (size_t i = 0; i < n; i += 7)
        src[i] = (char)i;
    for (int c = TRK_HTTP_CODING_GZIP; c <= TRK_HTTP_CODING_DEFLATE; c++) {
        char *z = NULL, *back = NULL;
        size_t zl = 0, bl = 0;
        assert_int_equal(trk_http_deflate(c, src, n, &z, &zl), TRK_OK);
        assert_int_equal(trk_http_inflate(c, z, zl, n, &back, &bl, err, sizeof err), TRK_OK);
        assert_int_equal(bl, n);
        assert_memory_equal(back, src, n);
        free(back);
        assert_int_equal(trk_http_inflate(c, z, zl, n - 1, &back, &bl, err, sizeof err),
                         TRK_ERR_OVERFLOW);
        assert_int_equal(trk_http_inflate(c, z, zl / 2, n, &back, &bl, err, sizeof err),
                         TRK_ERR_PARSE);
        z[zl / 2] ^= 0x55;
        z[zl / 2 + 1] ^= 0x55;
        assert_int_not_equal(trk_http_inflate(c, z, zl, n, &back, &bl, err, sizeof err), TRK_OK);
        free(z);
    }
    free(src);
    int64_t hl;
    assert_int_equal(trk_http_parse_header_length("12", 20, &hl, err, sizeof err), TRK_OK);
    assert_int_equal(hl, 12);
    assert_int_equal(trk_http_parse_header_length(NULL, 20, &hl, err, sizeof err), TRK_OK);
    assert_int_equal(hl, -1);
    assert_int_equal(trk_http_parse_header_length("-1", 20, &hl, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_http_parse_header_length("21", 20, &hl, err, sizeof err),
                     TRK_ERR_INVALID_ARG);
    char *e = trk_http_error_json("a\"b\\c\n\xff");
    assert_string_equal(e, "{\"error\":\"a\\\"b\\\\c\\n?\"}");
    free(e);
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static void test_health_metadata_routes(void **state)
{
    (void)state;
    struct resp r;
    call("GET", "/v2/health/live", NULL, NULL, &r);
    expect(&r, 200, NULL);
    assert_int_equal(r.len, 0);
    resp_free(&r);
    call("GET", "/v2/health/ready", NULL, NULL, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    call("POST", "/v2/health/live", "", NULL, &r);
    expect(&r, 405, "Method Not Allowed");
    resp_free(&r);
    call("GET", "/v2/nothing", NULL, NULL, &r);
    expect(&r, 404, "Not Found");
    assert_string_equal(r.body, "{\"error\":\"Not Found\"}");
    resp_free(&r);
    call("GET", "/v2/models/identity/versions/x", NULL, NULL, &r);
    expect(&r, 404, "Not Found");
    resp_free(&r);
    call("GET", "/v2/systemsharedmemory/status", NULL, NULL, &r);
    expect(&r, 501, "not supported");
    resp_free(&r);

    call("GET", "/v2", NULL, NULL, &r);
    json_t *j = expect_json(&r, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "trkserve");
    assert_non_null(json_string_value(json_object_get(j, "version")));
    bool bin = false;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "extensions"), i, e)
        bin |= strcmp(json_string_value(e), "binary_tensor_data") == 0;
    assert_true(bin);
    json_decref(j);
    resp_free(&r);

    call("GET", "/v2/models/gemm", NULL, NULL, &r);
    j = expect_json(&r, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "gemm");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "versions"), 0)), "1");
    json_t *in0 = json_array_get(json_object_get(j, "inputs"), 0);
    assert_string_equal(json_string_value(json_object_get(in0, "datatype")), "FP32");
    json_t *shape = json_object_get(in0, "shape");
    assert_int_equal(json_array_size(shape), 2);
    assert_int_equal(json_integer_value(json_array_get(shape, 0)), -1);
    assert_int_equal(json_integer_value(json_array_get(shape, 1)), 8);
    json_decref(j);
    resp_free(&r);

    call("GET", "/v2/models/identity/versions/1", NULL, NULL, &r);
    j = expect_json(&r, 200, NULL);
    assert_int_equal(json_array_size(json_array_get(
                         json_object_get(json_array_get(json_object_get(j, "inputs"), 0), "shape"),
                         0) ? json_object_get(json_array_get(json_object_get(j, "inputs"), 0),
                                              "shape") : NULL), 1);
    json_decref(j);
    resp_free(&r);
    call("GET", "/v2/models/nosuch", NULL, NULL, &r);
    expect(&r, 404, "nosuch");
    resp_free(&r);
    call("GET", "/v2/models/identity/versions/9", NULL, NULL, &r);
    expect(&r, 404, NULL);
    resp_free(&r);

    call("GET", "/v2/models/gemm/config", NULL, NULL, &r);
    j = expect_json(&r, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "gemm");
    assert_int_equal(json_integer_value(json_object_get(j, "max_batch_size")), 4);
    json_decref(j);
    resp_free(&r);

    call("GET", "/v2/models/gemm/ready", NULL, NULL, &r);
    expect(&r, 200, NULL);
    assert_int_equal(r.len, 0);
    resp_free(&r);
    call("GET", "/v2/models/gemm/versions/1/ready", NULL, NULL, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    call("GET", "/v2/models/nosuch/ready", NULL, NULL, &r);
    expect(&r, 400, "Model version not ready");
    resp_free(&r);
}

/* POSTs a JSON infer body to model m; returns the parsed response (NULL on error codes). */
static json_t *infer_json(const char *m, const char *body, long code, const char *needle)
{
    char path[256];
    snprintf(path, sizeof path, "/v2/models/%s/infer", m);
    struct resp r;
    call("POST", path, body, NULL, &r);
    json_t *j = expect_json(&r, code, needle);
    char buf[64];
    if (code == 200) {
        assert_non_null(hdr(&r, "Content-Type", buf, sizeof buf));
        assert_string_equal(buf, "application/json");
        assert_null(hdr(&r, "Inference-Header-Content-Length", buf, sizeof buf));
    }
    resp_free(&r);
    return j;
}

static void test_infer_json(void **state)
{
    (void)state;
    json_t *j = infer_json("identity",
                           "{\"id\":\"abc\",\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[2,2],"
                           "\"datatype\":\"FP32\",\"data\":[[1,2.5],[3,4]]}]}",
                           200, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "abc");
    assert_string_equal(json_string_value(json_object_get(j, "model_name")), "identity");
    assert_string_equal(json_string_value(json_object_get(j, "model_version")), "1");
    json_t *o = json_array_get(json_object_get(j, "outputs"), 0);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "OUTPUT0");
    assert_null(json_object_get(o, "parameters"));
    json_t *d = json_object_get(o, "data");
    assert_int_equal(json_array_size(d), 4);
    assert_true(json_number_value(json_array_get(d, 1)) == 2.5);
    assert_int_equal(json_array_size(json_object_get(o, "shape")), 2);
    json_decref(j);

    /* no id: none echoed */
    j = infer_json("identity", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],"
                               "\"datatype\":\"FP32\",\"data\":[1]}]}", 200, NULL);
    assert_null(json_object_get(j, "id"));
    json_decref(j);

    /* every JSON datatype round-trips through identity */
    static const char *const cases[][2] = {
        {"BOOL", "[true,false,true]"},   {"UINT8", "[0,255,7]"},
        {"UINT16", "[0,65535,7]"},       {"UINT32", "[0,4294967295,7]"},
        {"UINT64", "[0,9007199254740993,7]"}, {"INT8", "[-128,127,0]"},
        {"INT16", "[-32768,32767,0]"},   {"INT32", "[-2147483648,2147483647,0]"},
        {"INT64", "[-9007199254740993,1,0]"}, {"FP32", "[0.5,-1.25,3.0]"},
        {"FP64", "[0.1,-1e300,3.0]"},    {"BYTES", "[\"ab\",\"\",\"h\\u00e9llo\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[3],"
                                    "\"datatype\":\"%s\",\"data\":%s}]}", cases[i][0], cases[i][1]);
        j = infer_json("identity", body, 200, NULL);
        o = json_array_get(json_object_get(j, "outputs"), 0);
        assert_string_equal(json_string_value(json_object_get(o, "datatype")), cases[i][0]);
        json_t *want = json_loads(cases[i][1], 0, NULL);
        if (!json_equal(json_object_get(o, "data"), want)) {
            char *got = json_dumps(json_object_get(o, "data"), 0);
            fail_msg("%s: got %s, want %s", cases[i][0], got, cases[i][1]);
        }
        json_decref(want);
        json_decref(j);
    }

    /* sum and gemm (batch of 2) */
    j = infer_json("sum", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[4],\"datatype\":\"FP32\","
                          "\"data\":[1,2,3,4]}]}", 200, NULL);
    o = json_array_get(json_object_get(j, "outputs"), 0);
    assert_true(json_number_value(json_array_get(json_object_get(o, "data"), 0)) == 10.0);
    json_decref(j);
    j = infer_json("gemm", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[2,8],\"datatype\":\"FP32\","
                           "\"data\":[1,2,3,4,5,6,7,8,1,2,3,4,5,6,7,8]}]}", 200, NULL);
    o = json_array_get(json_object_get(j, "outputs"), 0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(o, "shape"), 0)), 2);
    assert_int_equal(json_array_size(json_object_get(o, "data")), 16);
    json_decref(j);
}

static void test_infer_errors(void **state)
{
    (void)state;
    infer_json("identity", "{\"inputs\":[", 400, "malformed JSON");
    infer_json("identity", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[2],\"datatype\":\"FP16\","
                           "\"data\":[1,2]}]}", 400, "FP16");
    infer_json("pair", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"INT32\","
                       "\"data\":[1]},{\"name\":\"INPUT1\",\"shape\":[1],\"datatype\":\"INT32\","
                       "\"data\":[1]}]}", 400, "INPUT0");
    infer_json("identity", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[3],\"datatype\":\"FP32\","
                           "\"data\":[1,2]}]}", 400, "elements");
    infer_json("gemm", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,7],\"datatype\":\"FP32\","
                       "\"data\":[1,2,3,4,5,6,7]}]}", 400, NULL);
    infer_json("gemm", "{\"inputs\":[{\"name\":\"NOPE\",\"shape\":[1,8],\"datatype\":\"FP32\","
                       "\"data\":[1,2,3,4,5,6,7,8]}]}", 400, NULL);
    infer_json("identity", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"FP32\","
                           "\"data\":[1]}],\"outputs\":[{\"name\":\"NOPE\"}]}", 400, "NOPE");
    infer_json("nosuch", "{\"inputs\":[]}", 404, "nosuch");
    struct resp r;
    call("POST", "/v2/models/identity/versions/7/infer", "{\"inputs\":[]}", NULL, &r);
    expect(&r, 404, NULL);
    resp_free(&r);
    call("GET", "/v2/models/identity/infer", NULL, NULL, &r);
    expect(&r, 405, NULL);
    resp_free(&r);

    /* binary framing errors */
    const char *h = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[4],\"datatype\":\"FP32\","
                    "\"parameters\":{\"binary_data_size\":16}}]}";
    char body[512], hv[64];
    size_t hl = strlen(h);
    memcpy(body, h, hl);
    memset(body + hl, 0, 32);
    snprintf(hv, sizeof hv, "Inference-Header-Content-Length: %zu", hl);
    const char *hh[] = {hv, NULL};
    call_at(g.base, "POST", "/v2/models/identity/infer", body, hl + 8, hh, &r);
    expect(&r, 400, "truncated");
    resp_free(&r);
    call_at(g.base, "POST", "/v2/models/identity/infer", body, hl + 20, hh, &r);
    expect(&r, 400, "add up to");
    resp_free(&r);
    call_at(g.base, "POST", "/v2/models/identity/infer", body, hl + 16, NULL, &r);
    expect(&r, 400, NULL); /* no header: parsed as JSON, trailing bytes */
    resp_free(&r);
    call_at(g.base, "POST", "/v2/models/identity/infer", h, hl, NULL, &r);
    expect(&r, 400, "Inference-Header-Content-Length");
    resp_free(&r);
    const char *hbig[] = {"Inference-Header-Content-Length: 99999", NULL};
    call_at(g.base, "POST", "/v2/models/identity/infer", body, hl + 16, hbig, &r);
    expect(&r, 400, "larger than");
    resp_free(&r);
    const char *hbad[] = {"Inference-Header-Content-Length: x1", NULL};
    call_at(g.base, "POST", "/v2/models/identity/infer", body, hl + 16, hbad, &r);
    expect(&r, 400, "not a non-negative integer");
    resp_free(&r);
    const char *hraw[] = {"Inference-Header-Content-Length: 0", NULL};
    call_at(g.base, "POST", "/v2/models/pair/infer", body, 16, hraw, &r);
    expect(&r, 400, "exactly one input");
    resp_free(&r);
    /* the server still answers */
    json_decref(infer_json("identity", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"FP32\","
                           "\"data\":[1]}]}", 200, NULL));
}

/* Splits a binary response: returns the JSON header parsed; *bin points after it. */
static json_t *split_binary(struct resp *r, const char **bin, size_t *binlen)
{
    char buf[64];
    assert_non_null(hdr(r, "Content-Type", buf, sizeof buf));
    assert_string_equal(buf, "application/octet-stream");
    assert_non_null(hdr(r, "Inference-Header-Content-Length", buf, sizeof buf));
    size_t hl = strtoull(buf, NULL, 10);
    assert_true(hl <= r->len);
    json_t *j = json_loadb(r->body, hl, 0, NULL);
    assert_non_null(j);
    *bin = r->body + hl;
    *binlen = r->len - hl;
    return j;
}

static void test_infer_binary(void **state)
{
    (void)state;
    /* pair: INPUT0 binary (FP32), INPUT1 JSON; OUTPUT1 requested first (binary), OUTPUT0
     * as JSON */
    const char *h = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[3],\"datatype\":\"FP32\","
                    "\"parameters\":{\"binary_data_size\":12}},{\"name\":\"INPUT1\",\"shape\":[2],"
                    "\"datatype\":\"INT32\",\"data\":[5,6]}],\"outputs\":[{\"name\":\"OUTPUT1\","
                    "\"parameters\":{\"binary_data\":true}},{\"name\":\"OUTPUT0\"}]}";
    char body[1024], hv[64];
    size_t hl = strlen(h);
    float f[3] = {1.5f, -2.0f, 3.25f};
    memcpy(body, h, hl);
    memcpy(body + hl, f, 12);
    snprintf(hv, sizeof hv, "Inference-Header-Content-Length: %zu", hl);
    const char *hh[] = {hv, "Content-Type: application/octet-stream", NULL};
    struct resp r;
    call_at(g.base, "POST", "/v2/models/pair/infer", body, hl + 12, hh, &r);
    expect(&r, 200, NULL);
    const char *bin;
    size_t binlen;
    json_t *j = split_binary(&r, &bin, &binlen);
    json_t *outs = json_object_get(j, "outputs");
    json_t *o1 = json_array_get(outs, 0), *o0 = json_array_get(outs, 1);
    assert_string_equal(json_string_value(json_object_get(o1, "name")), "OUTPUT1");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o1, "parameters"),
                                                        "binary_data_size")), 8);
    assert_null(json_object_get(o1, "data"));
    assert_int_equal(binlen, 8);
    int32_t iv[2];
    memcpy(iv, bin, 8);
    assert_int_equal(iv[0], 5);
    assert_int_equal(iv[1], 6);
    assert_null(json_object_get(o0, "parameters"));
    assert_true(json_number_value(json_array_get(json_object_get(o0, "data"), 2)) == 3.25);
    json_decref(j);
    resp_free(&r);

    /* binary_data_output with no outputs listed: every output binary; zero-size input */
    h = "{\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"INPUT0\","
        "\"shape\":[0],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":0}},"
        "{\"name\":\"INPUT1\",\"shape\":[1],\"datatype\":\"INT32\",\"parameters\":"
        "{\"binary_data_size\":4}}]}";
    hl = strlen(h);
    memcpy(body, h, hl);
    int32_t seven = 7;
    memcpy(body + hl, &seven, 4);
    snprintf(hv, sizeof hv, "Inference-Header-Content-Length: %zu", hl);
    call_at(g.base, "POST", "/v2/models/pair/infer", body, hl + 4, hh, &r);
    expect(&r, 200, NULL);
    j = split_binary(&r, &bin, &binlen);
    outs = json_object_get(j, "outputs");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(outs, 0), "parameters"), "binary_data_size")),
                     0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_array_get(outs, 1), "parameters"), "binary_data_size")),
                     4);
    assert_int_equal(binlen, 4);
    assert_memory_equal(bin, &seven, 4);
    json_decref(j);
    resp_free(&r);

    /* header present but everything JSON (the C++ client always sends it) */
    h = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[2]}]}";
    snprintf(hv, sizeof hv, "Inference-Header-Content-Length: %zu", strlen(h));
    call_at(g.base, "POST", "/v2/models/identity/infer", h, strlen(h), hh, &r);
    j = expect_json(&r, 200, NULL);
    json_decref(j);
    resp_free(&r);

    /* raw binary request to a one-input model: all outputs binary */
    float v[3] = {1, 2, 3};
    const char *hraw[] = {"Inference-Header-Content-Length: 0", NULL};
    call_at(g.base, "POST", "/v2/models/sum/infer", v, sizeof v, hraw, &r);
    expect(&r, 200, NULL);
    j = split_binary(&r, &bin, &binlen);
    assert_int_equal(binlen, 4);
    float s;
    memcpy(&s, bin, 4);
    assert_true(s == 6.0f);
    json_decref(j);
    resp_free(&r);

    /* BYTES as binary, odd header length (misaligned section) */
    h = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[2],\"datatype\":\"BYTES\","
        "\"parameters\":{\"binary_data_size\":13}}],\"outputs\":[{\"name\":\"OUTPUT0\","
        "\"parameters\":{\"binary_data\":true}}]}  ";
    hl = strlen(h);
    memcpy(body, h, hl);
    memcpy(body + hl, "\x03\0\0\0abc\x02\0\0\0xy", 13);
    snprintf(hv, sizeof hv, "Inference-Header-Content-Length: %zu", hl);
    call_at(g.base, "POST", "/v2/models/identity/infer", body, hl + 13, hh, &r);
    expect(&r, 200, NULL);
    j = split_binary(&r, &bin, &binlen);
    assert_int_equal(binlen, 13);
    assert_memory_equal(bin, "\x03\0\0\0abc\x02\0\0\0xy", 13);
    json_decref(j);
    resp_free(&r);
}

static void test_compression(void **state)
{
    (void)state;
    const char *js = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[3],\"datatype\":\"FP32\","
                     "\"data\":[1,2,3]}],\"outputs\":[{\"name\":\"OUTPUT0\",\"parameters\":"
                     "{\"binary_data\":true}}]}";
    static const char *const names[] = {"gzip", "deflate"};
    for (int c = TRK_HTTP_CODING_GZIP; c <= TRK_HTTP_CODING_DEFLATE; c++) {
        char *z;
        size_t zl;
        assert_int_equal(trk_http_deflate(c, js, strlen(js), &z, &zl), TRK_OK);
        char ce[64], ae[64], hv[64], buf[64];
        snprintf(ce, sizeof ce, "Content-Encoding: %s", names[c - 1]);
        snprintf(ae, sizeof ae, "Accept-Encoding: %s", names[c - 1]);
        snprintf(hv, sizeof hv, "Inference-Header-Content-Length: %zu", strlen(js));
        const char *hh[] = {ce, ae, hv, NULL};
        struct resp r;
        call_at(g.base, "POST", "/v2/models/identity/infer", z, zl, hh, &r);
        expect(&r, 200, NULL);
        assert_non_null(hdr(&r, "Content-Encoding", buf, sizeof buf));
        assert_string_equal(buf, names[c - 1]);
        char *plain;
        size_t pl;
        char err[256];
        assert_int_equal(trk_http_inflate(c, r.body, r.len, 1 << 20, &plain, &pl, err, sizeof err),
                         TRK_OK);
        assert_non_null(hdr(&r, "Inference-Header-Content-Length", buf, sizeof buf));
        size_t hl = strtoull(buf, NULL, 10);
        assert_int_equal(pl, hl + 12);
        float f[3];
        memcpy(f, plain + hl, 12);
        assert_true(f[0] == 1.0f && f[2] == 3.0f);
        free(plain);
        resp_free(&r);
        /* corrupt */
        z[zl / 2] ^= 0x5a;
        z[zl / 2 + 1] ^= 0x5a;
        call_at(g.base, "POST", "/v2/models/identity/infer", z, zl, hh, &r);
        expect(&r, 400, NULL);
        resp_free(&r);
        free(z);
    }
    const char *hbr[] = {"Content-Encoding: br", NULL};
    struct resp r;
    call_at(g.base, "POST", "/v2/models/identity/infer", js, strlen(js), hbr, &r);
    expect(&r, 400, "Content-Encoding");
    resp_free(&r);

    /* a zip bomb: 2 MiB of zeros in ~2 KiB, sent to a model with a 4 KiB limit */
    size_t n = 2 << 20;
    char *zeros = calloc(1, n), *z;
    size_t zl;
    assert_int_equal(trk_http_deflate(TRK_HTTP_CODING_GZIP, zeros, n, &z, &zl), TRK_OK);
    assert_true(zl < 4096);
    const char *hg[] = {"Content-Encoding: gzip", NULL};
    call_at(g.base, "POST", "/v2/models/tiny/infer", z, zl, hg, &r);
    expect(&r, 413, "limit");
    resp_free(&r);
    free(z);
    free(zeros);
}

struct chunked_src {
    const char *data; /* NULL: spaces */
    size_t left;
};

static size_t chunked_read(char *buf, size_t s, size_t n, void *u)
{
    struct chunked_src *c = u;
    size_t k = s * n < c->left ? s * n : c->left;
    if (k > 1000)
        k = 1000; /* several chunks */
    if (c->data) {
        memcpy(buf, c->data, k);
        c->data += k;
    } else {
        memset(buf, ' ', k);
    }
    c->left -= k;
    return k;
}

/* POST with Transfer-Encoding: chunked (no Content-Length). */
static void chunked_post(const char *path, const char *data, size_t len, struct resp *r)
{
    struct chunked_src src = {.data = data, .left = len};
    memset(r, 0, sizeof *r);
    struct curl_slist *hl = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    hl = curl_slist_append(hl, "Expect:");
    CURL *c = easy(g.base, "POST", path, NULL, 0, hl, r);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, chunked_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &src);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
}

static void test_body_limits(void **state)
{
    (void)state;
    /* Content-Length above the model's max_request_bytes: 413 before the body is read */
    size_t n = 8192;
    char *big = malloc(n);
    memset(big, ' ', n);
    struct resp r;
    call_at(g.base, "POST", "/v2/models/tiny/infer", big, n, NULL, &r);
    expect(&r, 413, "4096");
    resp_free(&r);
    /* the server's limit (1 MiB here) for a model without its own */
    size_t n2 = (1 << 20) + 10;
    char *huge = malloc(n2);
    memset(huge, ' ', n2);
    call_at(g.base, "POST", "/v2/models/identity/infer", huge, n2, NULL, &r);
    expect(&r, 413, "limit");
    resp_free(&r);
    free(huge);

    /* chunked: the limit holds while reading */
    chunked_post("/v2/models/tiny/infer", NULL, 6000, &r);
    expect(&r, 413, "limit");
    resp_free(&r);
    /* chunked under the limit works */
    const char *js = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"FP32\","
                     "\"data\":[1]}]}";
    chunked_post("/v2/models/tiny/infer", js, strlen(js), &r);
    json_decref(expect_json(&r, 200, NULL));
    resp_free(&r);
    free(big);
}

static void test_stats_and_repository(void **state)
{
    (void)state;
    json_decref(infer_json("sum", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"FP32\","
                      "\"data\":[1]}]}", 200, NULL));
    struct resp r;
    call("GET", "/v2/models/sum/stats", NULL, NULL, &r);
    json_t *j = expect_json(&r, 200, NULL);
    json_t *s = json_array_get(json_object_get(j, "model_stats"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "name")), "sum");
    assert_string_equal(json_string_value(json_object_get(s, "version")), "1");
    assert_true(json_integer_value(json_object_get(s, "inference_count")) >= 1);
    assert_true(json_is_integer(json_object_get(s, "last_inference")));
    assert_true(json_is_integer(json_object_get(s, "execution_count")));
    static const char *const keys[] = {"success", "fail", "queue", "compute_input",
                                       "compute_infer", "compute_output", "cache_hit",
                                       "cache_miss"};
    json_t *is = json_object_get(s, "inference_stats");
    for (size_t i = 0; i < 8; i++) {
        json_t *d = json_object_get(is, keys[i]);
        assert_true(json_is_integer(json_object_get(d, "count")));
        assert_true(json_is_integer(json_object_get(d, "ns")));
    }
    assert_true(json_integer_value(json_object_get(json_object_get(is, "queue"), "count")) >= 1);
    assert_true(json_is_object(json_object_get(s, "response_stats")));
    assert_true(json_is_array(json_object_get(s, "batch_stats")));
    assert_true(json_is_array(json_object_get(s, "memory_usage")));
    json_decref(j);
    resp_free(&r);
    call("GET", "/v2/models/sum/versions/1/stats", NULL, NULL, &r);
    json_decref(expect_json(&r, 200, NULL));
    resp_free(&r);
    call("GET", "/v2/models/stats", NULL, NULL, &r);
    j = expect_json(&r, 200, NULL);
    assert_true(json_array_size(json_object_get(j, "model_stats")) >= 7);
    json_decref(j);
    resp_free(&r);
    call("GET", "/v2/models/nosuch/stats", NULL, NULL, &r);
    expect(&r, 404, "nosuch");
    resp_free(&r);

    /* repository: an empty body (tritonclient) and {"ready":true} */
    call("POST", "/v2/repository/index", "", NULL, &r);
    j = expect_json(&r, 200, NULL);
    assert_true(json_array_size(j) >= 7);
    json_decref(j);
    resp_free(&r);
    call("POST", "/v2/repository/index", "{\"ready\":true}", NULL, &r);
    j = expect_json(&r, 200, NULL);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "state")),
                        "READY");
    json_decref(j);
    resp_free(&r);
    call("POST", "/v2/repository/index", "{\"ready\":", NULL, &r);
    expect(&r, 400, "malformed JSON");
    resp_free(&r);
    call("POST", "/v2/repository/models/sum/unload", "", NULL, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    call("GET", "/v2/models/sum/ready", NULL, NULL, &r);
    expect(&r, 400, NULL);
    resp_free(&r);
    infer_json("sum", "{\"inputs\":[]}", 503, NULL);
    call("POST", "/v2/repository/models/sum/load", "{\"parameters\":{}}", NULL, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    call("GET", "/v2/models/sum/ready", NULL, NULL, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    call("POST", "/v2/repository/models/sum/load", "{\"parameters\":{\"config\":\"{}\"}}", NULL,
         &r);
    expect(&r, 400, "config");
    resp_free(&r);
    call("POST", "/v2/repository/models/nosuch/load", "", NULL, &r);
    expect(&r, 404, NULL);
    resp_free(&r);
}

static void start_extra(const char *token, bool tls, uint32_t timeout_s, struct trk_http **h,
                        char *base, size_t cap)
{
    char cert[512], key[512], err[512];
    snprintf(cert, sizeof cert, "%s/cert.pem", g.dir);
    snprintf(key, sizeof key, "%s/key.pem", g.dir);
    write_file(cert, k_tls_cert);
    write_file(key, k_tls_key);
    struct trk_http_options ho = {0};
    ho.listen.auth_token = token;
    ho.listen.threads = 1;
    ho.connection_timeout_s = timeout_s;
    if (tls) {
        ho.listen.tls_cert = cert;
        ho.listen.tls_key = key;
    }
    if (trk_http_start(g.srv, &ho, h, err, sizeof err) != TRK_OK)
        fail_msg("start: %s", err);
    snprintf(base, cap, "%s://127.0.0.1:%u", tls ? "https" : "http", trk_http_port(*h));
}

static void test_auth_and_tls(void **state)
{
    (void)state;
    struct trk_http *h;
    char base[64];
    start_extra("s3cret", false, 0, &h, base, sizeof base);
    struct resp r;
    call_at(base, "GET", "/v2/health/ready", NULL, 0, NULL, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    call_at(base, "GET", "/v2", NULL, 0, NULL, &r);
    expect(&r, 401, "Bearer");
    char buf[128];
    assert_non_null(hdr(&r, "WWW-Authenticate", buf, sizeof buf));
    resp_free(&r);
    const char *wrong[] = {"Authorization: Bearer s3creX", NULL};
    call_at(base, "GET", "/v2", NULL, 0, wrong, &r);
    expect(&r, 401, NULL);
    resp_free(&r);
    const char *right[] = {"Authorization: Bearer s3cret", NULL};
    call_at(base, "GET", "/v2", NULL, 0, right, &r);
    json_decref(expect_json(&r, 200, NULL));
    resp_free(&r);
    trk_http_stop(h);

    /* bad options are refused with a reason */
    struct trk_http_options ho = {0};
    char err[512];
    ho.listen.tls_cert = "/nonexistent.pem";
    ho.listen.tls_key = "/nonexistent.pem";
    assert_int_not_equal(trk_http_start(g.srv, &ho, &h, err, sizeof err), TRK_OK);
    assert_non_null(strstr(err, "nonexistent"));
    ho.listen.tls_cert = ho.listen.tls_key = NULL;
    ho.listen.address = "not-an-ip";
    assert_int_not_equal(trk_http_start(g.srv, &ho, &h, err, sizeof err), TRK_OK);
    assert_non_null(strstr(err, "not-an-ip"));
    ho.listen.address = NULL;
    ho.listen.port = trk_http_port(g.http);
    assert_int_equal(trk_http_start(g.srv, &ho, &h, err, sizeof err), TRK_ERR_IO);
    assert_non_null(strstr(err, "port"));

    /* TLS, verified against the self-signed certificate */
    start_extra(NULL, true, 0, &h, base, sizeof base);
    char cert[512];
    snprintf(cert, sizeof cert, "%s/cert.pem", g.dir);
    memset(&r, 0, sizeof r);
    struct curl_slist *hl = headers(NULL);
    CURL *c = easy(base, "POST", "/v2/models/identity/infer",
                   "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"FP32\","
                   "\"data\":[4]}]}", 70, hl, &r);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(c, CURLOPT_CAINFO, cert);
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    json_decref(expect_json(&r, 200, NULL));
    resp_free(&r);
    trk_http_stop(h);
}

/* n concurrent infer requests to model m on n connections; counts answers by status. */
static void concurrent(const char *m, int n, int *ok, int *unavailable, int *other)
{
    CURLM *multi = curl_multi_init();
    struct resp *rs = calloc((size_t)n, sizeof *rs);
    CURL **cs = calloc((size_t)n, sizeof *cs);
    struct curl_slist *hl = headers(NULL);
    char path[128];
    snprintf(path, sizeof path, "/v2/models/%s/infer", m);
    static const char js[] = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[2],"
                             "\"datatype\":\"FP32\",\"data\":[1,2]}]}";
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)n);
    for (int i = 0; i < n; i++) {
        cs[i] = easy(g.base, "POST", path, js, sizeof js - 1, hl, &rs[i]);
        curl_easy_setopt(cs[i], CURLOPT_TIMEOUT, 60L);
        curl_multi_add_handle(multi, cs[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        if (running)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    *ok = *unavailable = *other = 0;
    for (int i = 0; i < n; i++) {
        curl_easy_getinfo(cs[i], CURLINFO_RESPONSE_CODE, &rs[i].code);
        if (rs[i].code == 200)
            (*ok)++;
        else if (rs[i].code == 503 && rs[i].body && strstr(rs[i].body, "\"error\""))
            (*unavailable)++;
        else
            (*other)++;
        curl_multi_remove_handle(multi, cs[i]);
        curl_easy_cleanup(cs[i]);
        resp_free(&rs[i]);
    }
    curl_slist_free_all(hl);
    free(rs);
    free(cs);
    curl_multi_cleanup(multi);
}

static void test_concurrent_200(void **state)
{
    (void)state;
    int ok, unav, other;
    concurrent("delay", 200, &ok, &unav, &other);
    assert_int_equal(ok, 200);
}

static void test_concurrent_1000(void **state)
{
    (void)state;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max < 2200) {
        printf("open-file hard limit %llu is below 2200: skipped\n",
               (unsigned long long)rl.rlim_max);
        skip();
    }
    double t0 = now_s();
    int ok, unav, other;
    concurrent("delay", 1000, &ok, &unav, &other);
    assert_int_equal(ok, 1000);
    double dt = now_s() - t0;
    printf("1000 concurrent connections: %.2f s\n", dt);
    assert_true(dt < 30.0);
}

static void test_queue_full(void **state)
{
    (void)state;
    int ok, unav, other;
    concurrent("slow", 6, &ok, &unav, &other);
    printf("slow model, 6 at once: %d ok, %d unavailable, %d other\n", ok, unav, other);
    assert_true(ok >= 1);
    assert_true(unav >= 1);
    assert_int_equal(other, 0);
}

static uint64_t success_count(const char *m)
{
    char path[128];
    snprintf(path, sizeof path, "/v2/models/%s/stats", m);
    struct resp r;
    call("GET", path, NULL, NULL, &r);
    json_t *j = expect_json(&r, 200, NULL);
    uint64_t n = (uint64_t)json_integer_value(json_object_get(
        json_object_get(json_object_get(json_array_get(json_object_get(j, "model_stats"), 0),
                                        "inference_stats"),
                        "success"),
        "count"));
    json_decref(j);
    resp_free(&r);
    return n;
}

static void test_disconnects(void **state)
{
    (void)state;
    /* mid-body: headers promise 100000 bytes, 10 arrive, the client goes */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(trk_http_port(g.http))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char *req = "POST /v2/models/identity/infer HTTP/1.1\r\nHost: x\r\n"
                      "Content-Length: 100000\r\n\r\n{\"inputs\":";
    assert_true(write(fd, req, strlen(req)) > 0);
    usleep(50000);
    close(fd);

    /* while running: the client times out before the slow model answers */
    uint64_t before = success_count("slow");
    struct resp r;
    memset(&r, 0, sizeof r);
    struct curl_slist *hl = headers(NULL);
    CURL *c = easy(g.base, "POST", "/v2/models/slow/infer",
                   "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],\"datatype\":\"FP32\","
                   "\"data\":[1]}]}", 70, hl, &r);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 100L);
    r.rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    assert_int_equal(r.rc, CURLE_OPERATION_TIMEDOUT);
    resp_free(&r);
    double t0 = now_s();
    while (success_count("slow") == before && now_s() - t0 < 10)
        usleep(20000);
    assert_true(success_count("slow") > before);

    /* the server still serves, on both models */
    json_decref(infer_json("slow", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],"
                                   "\"datatype\":\"FP32\",\"data\":[1]}]}", 200, NULL));
    json_decref(infer_json("identity", "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1],"
                                       "\"datatype\":\"FP32\",\"data\":[1]}]}", 200, NULL));
}

/* A client that sends half its headers and stalls is dropped after the timeout. */
static void test_slow_client(void **state)
{
    (void)state;
    struct trk_http *h;
    char base[64];
    start_extra(NULL, false, 1, &h, base, sizeof base);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(trk_http_port(h))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_true(write(fd, "GET /v2 HTTP/1.1\r\nHost:", 24) > 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    double t0 = now_s();
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf); /* 0 (or a reset) when the server hangs up */
    double dt = now_s() - t0;
    close(fd);
    printf("stalled client dropped after %.1f s (read %zd)\n", dt, n);
    assert_true(n <= 0);
    assert_true(dt < 8.0);
    struct resp r;
    call_at(base, "GET", "/v2/health/live", NULL, 0, NULL, &r);
    expect(&r, 200, NULL);
    resp_free(&r);
    trk_http_stop(h);
}

static void test_metrics(void **state)
{
    (void)state;
    struct trk_listen_options lo = {0};
    struct trk_metrics *m;
    char err[512], base[64];
    assert_int_equal(trk_metrics_start(g.srv, &lo, &m, err, sizeof err), TRK_OK);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", trk_metrics_port(m));
    struct resp r;
    call_at(base, "GET", "/metrics", NULL, 0, NULL, &r);
    assert_int_equal(r.code, 200);
    char buf[128];
    assert_non_null(hdr(&r, "Content-Type", buf, sizeof buf));
    assert_non_null(strstr(buf, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "nv_inference_request_success"));
    resp_free(&r);
    call_at(base, "GET", "/v2", NULL, 0, NULL, &r);
    expect(&r, 404, "Not Found");
    resp_free(&r);
    call_at(base, "POST", "/metrics", "", 0, NULL, &r);
    expect(&r, 405, NULL);
    resp_free(&r);
    trk_metrics_stop(m);
}

int main(void)
{
    const struct CMUnitTest codec[] = {
        cmocka_unit_test(test_codec_decode),
        cmocka_unit_test(test_codec_raw_and_encode),
        cmocka_unit_test(test_codec_compression),
    };
    const struct CMUnitTest server[] = {
        cmocka_unit_test(test_health_metadata_routes),
        cmocka_unit_test(test_infer_json),
        cmocka_unit_test(test_infer_errors),
        cmocka_unit_test(test_infer_binary),
        cmocka_unit_test(test_compression),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_stats_and_repository),
        cmocka_unit_test(test_auth_and_tls),
        cmocka_unit_test(test_concurrent_200),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_disconnects),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_concurrent_1000),
    };
    int rc = cmocka_run_group_tests_name("http_codec", codec, NULL, NULL);
    rc += cmocka_run_group_tests_name("http_server", server, group_setup, group_teardown);
    return rc;
}
