/* trkserve tests — the gRPC front end (rpc/grpc) and the gRPC client transport
 * (rpc/client/grpc_transport.c): a server on an ephemeral port over a repository the test
 * writes, driven through the client transport and through raw gRPC calls. */
#include "test_util.h"

#include <stdio.h>

#ifndef TRK_TEST_HAVE_GRPC /* set by rpc/grpc/CMakeLists.txt when trkgrpc is built */
int main(void)
{
    printf("test_grpc: this build has no gRPC front end (trkgrpc): skipped\n");
    return 0;
}
#else

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "grpc_service.pb-c.h"
#include "trk/client.h"
#include "trk/frontend.h"
#include "trk/server.h"

#define SVC "/inference.GRPCInferenceService/"

/* ThreadSanitizer reads these when the test is built with -DTRK_SANITIZE=thread: the
 * Debian gRPC, Abseil and OpenSSL libraries are not instrumented, so TSan cannot see their
 * synchronisation (absl::Mutex, gpr atomics) and reports races inside them that are not
 * ours. Races in trkserve's own frames are still reported. */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
    return "race:libgrpc.so\n"
           "race:libgpr.so\n"
           "race:libabsl_\n"
           "race:libupb.so\n"
           "race:libcares.so\n"
           "race:libcrypto.so\n"
           "race:libssl.so\n"
           "race:libz.so\n"
           /* memory gRPC filled in for a call (metadata, details, messages) on whichever
            * thread polled, freed by the front end: TSan misses the hand-over */
           "race:gcall_free_grpc_owned\n"
           "deadlock:libgrpc.so\n"
           "thread:libgpr.so\n"
           "deadlock:libabsl_\n"
           "mutex:libgrpc.so\n";
}
#define SLOW_DELAY_US 1500000

static char g_repo[256];
static struct trk_server *g_srv;
static struct trk_grpc *g_grpc;
static char g_url[64];

/* ---- repository ---------------------------------------------------------------------- */

static void write_model(const char *name, const char *cfg)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_repo, name);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/%s/1", g_repo, name);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/%s/config.cfg", g_repo, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(cfg, f);
    fclose(f);
}

static void remove_repo(void)
{
    char cmd[300];
    if (g_repo[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_repo);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_repo);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_repo, sizeof(g_repo), "/tmp/trk_test_grpc_XXXXXX");
    if (!mkdtemp(g_repo))
        return -1;
    write_model("identity",
                "algorithm = \"identity\";\nmax_batch_size = 0;\n"
                "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
                "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
                "instance_group = ( { kind = \"KIND_CPU\"; count = 2; } );\n"
                "parameters = { any_dtype = true; any_shape = true; };\n"
                "max_request_bytes = 67108864;\n");
    char slow[1024];
    snprintf(slow, sizeof(slow),
             "algorithm = \"identity\";\nmax_batch_size = 0;\n"
             "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
             "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
             "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n"
             "parameters = { delay_us = %d; };\n", SLOW_DELAY_US);
    write_model("slow", slow);
    write_model("sum",
                "algorithm = \"sum\";\nmax_batch_size = 0;\n"
                "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
                "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n"
                "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n");
    write_model("gemm",
                "algorithm = \"gemm\";\nmax_batch_size = 8;\n"
                "input = ( { name = \"X\"; data_type = \"TYPE_FP32\"; dims = [ 4 ]; } );\n"
                "output = ( { name = \"Y\"; data_type = \"TYPE_FP32\"; dims = [ 2 ]; } );\n"
                "instance_group = ( { kind = \"KIND_CPU\"; count = 1; devices = [ \"cpu\" ]; } );\n"
                "dynamic_batching = { max_queue_delay_microseconds = 100; };\n"
                "parameters = { input_size = 4; hidden_size = 8; output_size = 2; depth = 2; "
                "activation = \"relu\"; seed = 7; };\n");

    struct trk_server_options so;
    trk_server_options_default(&so);
    so.model_repository = g_repo;
    char err[512] = "";
    if (trk_server_create(&so, &g_srv, err, sizeof(err)) != TRK_OK) {
        fprintf(stderr, "trk_server_create: %s\n", err);
        return -1;
    }
    struct trk_grpc_options go;
    memset(&go, 0, sizeof(go));
    if (trk_grpc_start(g_srv, &go, &g_grpc, err, sizeof(err)) != TRK_OK) {
        fprintf(stderr, "trk_grpc_start: %s\n", err);
        return -1;
    }
    snprintf(g_url, sizeof(g_url), "grpc://127.0.0.1:%u", (unsigned)trk_grpc_port(g_grpc));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trk_grpc_stop(g_grpc);
    trk_server_free(g_srv);
    remove_repo();
    return 0;
}

/* ---- the client transport -------------------------------------------------------------- */

static void *open_conn(const struct trk_client_options *opt_in)
{
    const struct trk_client_transport *t = trk_client_transport_grpc();
    assert_non_null(t);
    struct trk_client_options opt;
    if (opt_in) {
        opt = *opt_in;
    } else {
        trk_client_options_default(&opt);
        opt.timeout_ms = 60000; /* a stuck call fails the test instead of hanging it */
    }
    void *conn = NULL;
    char err[256] = "";
    enum trk_status st = t->open(g_url, &opt, &conn, err, sizeof(err));
    if (st != TRK_OK)
        fail_msg("open %s: %s", g_url, err);
    return conn;
}

static void close_conn(void *conn)
{
    trk_client_transport_grpc()->close(conn);
}

/* Sends one input to `model` and returns the transport status. */
static enum trk_status infer1(void *conn, const char *model, int64_t version, const char *id,
                              enum trk_dtype dt, uint32_t ndim, const int64_t *shape,
                              const void *data, size_t nbytes, struct trk_client_result *res)
{
    struct trk_tensor *in = NULL;
    const char *name = strcmp(model, "gemm") == 0 ? "X" : "INPUT0";
    assert_int_equal(trk_tensor_wrap(name, dt, ndim, shape, (void *)data, nbytes, &in), TRK_OK);
    const struct trk_tensor *ins[1] = {in};
    struct trk_client_request req = {
        .model = model, .version = version, .id = id, .ninputs = 1, .inputs = ins,
    };
    memset(res, 0, sizeof(*res));
    enum trk_status st = trk_client_transport_grpc()->infer(conn, &req, res);
    trk_tensor_free(in);
    return st;
}

static void assert_serving(void)
{
    void *conn = open_conn(NULL);
    float x[2] = {1.5f, -2.0f};
    int64_t shape[1] = {2};
    struct trk_client_result res;
    assert_int_equal(infer1(conn, "identity", -1, NULL, TRK_DTYPE_FP32, 1, shape, x, sizeof(x), &res),
                     TRK_OK);
    if (res.status != TRK_OK)
        fail_msg("server no longer serving: %s", res.error);
    assert_int_equal(res.noutputs, 1);
    assert_memory_equal(res.outputs[0]->data, x, sizeof(x));
    trk_client_result_fini(&res);
    close_conn(conn);
}

static void test_health_metadata(void **state)
{
    (void)state;
    void *conn = open_conn(NULL);
    const struct trk_client_transport *t = trk_client_transport_grpc();
    bool ok = false;
    assert_int_equal(t->live(conn, &ok), TRK_OK);
    assert_true(ok);
    ok = false;
    assert_int_equal(t->ready(conn, &ok), TRK_OK);
    assert_true(ok);

    char *json = NULL;
    char err[256] = "";
    assert_int_equal(t->model_metadata(conn, "gemm", -1, &json, err, sizeof(err)), TRK_OK);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"name\":\"gemm\""));
    assert_non_null(strstr(json, "\"versions\":[\"1\"]"));
    assert_non_null(strstr(json, "{\"name\":\"X\",\"datatype\":\"FP32\",\"shape\":[-1,4]}"));
    assert_non_null(strstr(json, "{\"name\":\"Y\",\"datatype\":\"FP32\",\"shape\":[-1,2]}"));
    free(json);
    json = NULL;
    assert_int_equal(t->model_metadata(conn, "nosuch", -1, &json, err, sizeof(err)),
                     TRK_ERR_NOT_FOUND);
    assert_null(json);
    assert_non_null(strstr(err, "nosuch"));
    close_conn(conn);
}

static void test_infer_raw(void **state)
{
    (void)state;
    void *conn = open_conn(NULL);
    struct trk_client_result res;

    float x[3] = {1.0f, 2.0f, 3.5f};
    int64_t s3[1] = {3};
    assert_int_equal(infer1(conn, "identity", -1, "req-1", TRK_DTYPE_FP32, 1, s3, x, sizeof(x), &res),
                     TRK_OK);
    assert_int_equal(res.status, TRK_OK);
    assert_string_equal(res.id, "req-1");
    assert_string_equal(res.model_version, "1");
    assert_int_equal(res.noutputs, 1);
    assert_string_equal(res.outputs[0]->name, "OUTPUT0");
    assert_int_equal(res.outputs[0]->dtype, TRK_DTYPE_FP32);
    assert_int_equal(res.outputs[0]->ndim, 1);
    assert_int_equal(res.outputs[0]->shape[0], 3);
    assert_memory_equal(res.outputs[0]->data, x, sizeof(x));
    trk_client_result_fini(&res);

    /* any_dtype/any_shape identity: INT32 [2,2] comes back as it went */
    int32_t xi[4] = {7, -8, 9, 10};
    int64_t s22[2] = {2, 2};
    assert_int_equal(infer1(conn, "identity", 1, NULL, TRK_DTYPE_INT32, 2, s22, xi, sizeof(xi), &res),
                     TRK_OK);
    assert_int_equal(res.status, TRK_OK);
    assert_int_equal(res.outputs[0]->dtype, TRK_DTYPE_INT32);
    assert_int_equal(res.outputs[0]->ndim, 2);
    assert_memory_equal(res.outputs[0]->data, xi, sizeof(xi));
    trk_client_result_fini(&res);

    /* zero elements: an empty raw output is still there */
    int64_t s0[1] = {0};
    assert_int_equal(infer1(conn, "identity", -1, NULL, TRK_DTYPE_FP32, 1, s0, NULL, 0, &res), TRK_OK);
    assert_int_equal(res.status, TRK_OK);
    assert_int_equal(res.noutputs, 1);
    assert_int_equal(res.outputs[0]->nbytes, 0);
    trk_client_result_fini(&res);

    assert_int_equal(infer1(conn, "sum", -1, NULL, TRK_DTYPE_FP32, 1, s3, x, sizeof(x), &res), TRK_OK);
    assert_int_equal(res.status, TRK_OK);
    assert_int_equal(res.outputs[0]->nbytes, sizeof(float));
    assert_true(*(float *)res.outputs[0]->data == 6.5f);
    trk_client_result_fini(&res);

    float g[8] = {1, 2, 3, 4, -1, 0.5f, 0, 2};
    int64_t sg[2] = {2, 4};
    assert_int_equal(infer1(conn, "gemm", -1, NULL, TRK_DTYPE_FP32, 2, sg, g, sizeof(g), &res), TRK_OK);
    if (res.status != TRK_OK)
        fail_msg("gemm: %s", res.error);
    assert_string_equal(res.outputs[0]->name, "Y");
    assert_int_equal(res.outputs[0]->ndim, 2);
    assert_int_equal(res.outputs[0]->shape[0], 2);
    assert_int_equal(res.outputs[0]->shape[1], 2);
    trk_client_result_fini(&res);
    close_conn(conn);
}

static void test_infer_errors(void **state)
{
    (void)state;
    void *conn = open_conn(NULL);
    struct trk_client_result res;
    float x[4] = {0};
    int32_t xi[4] = {0};
    int64_t s4[1] = {4}, s15[2] = {1, 5};

    assert_int_equal(infer1(conn, "nosuch", -1, NULL, TRK_DTYPE_FP32, 1, s4, x, sizeof(x), &res), TRK_OK);
    assert_int_equal(res.status, TRK_ERR_NOT_FOUND);
    assert_int_equal(res.wire_code, 5);
    assert_non_null(strstr(res.error, "nosuch"));
    trk_client_result_fini(&res);

    assert_int_equal(infer1(conn, "sum", -1, NULL, TRK_DTYPE_INT32, 1, s4, xi, sizeof(xi), &res), TRK_OK);
    assert_int_equal(res.status, TRK_ERR_INVALID_ARG);
    assert_int_equal(res.wire_code, 3);
    assert_true(res.error[0] != '\0');
    trk_client_result_fini(&res);

    float x5[5] = {0};
    assert_int_equal(infer1(conn, "gemm", -1, NULL, TRK_DTYPE_FP32, 2, s15, x5, sizeof(x5), &res), TRK_OK);
    assert_int_equal(res.wire_code, 3);
    trk_client_result_fini(&res);

    assert_int_equal(infer1(conn, "identity", 9, NULL, TRK_DTYPE_FP32, 1, s4, x, sizeof(x), &res), TRK_OK);
    assert_int_equal(res.status, TRK_ERR_NOT_FOUND);
    trk_client_result_fini(&res);
    close_conn(conn);
    assert_serving();
}

#if defined(__SANITIZE_THREAD__)
#define TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_UNDER_TSAN 1
#endif
#endif

static void test_large_message(void **state)
{
    (void)state;
#ifdef TEST_UNDER_TSAN
    /* TSan checks every 8 KiB copy of gRPC's slices against writes it cannot order (the
     * library is not instrumented); for 5 MiB that takes minutes. Covered by the plain
     * and ASan runs. */
    skip();
#endif
    size_t n = 5u << 20; /* above gRPC's 4 MiB default */
    unsigned char *buf = tt_malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 31 + 7);
    void *conn = open_conn(NULL);
    struct trk_client_result res;
    int64_t shape[1] = {(int64_t)n};
    assert_int_equal(infer1(conn, "identity", -1, NULL, TRK_DTYPE_UINT8, 1, shape, buf, n, &res), TRK_OK);
    if (res.status != TRK_OK)
        fail_msg("5 MiB: %s", res.error);
    assert_int_equal(res.outputs[0]->nbytes, n);
    assert_memory_equal(res.outputs[0]->data, buf, n);
    trk_client_result_fini(&res);
    close_conn(conn);
    free(buf);
}

static void test_compression(void **state)
{
    (void)state;
    const char *algs[2] = {"gzip", "deflate"};
    for (int a = 0; a < 2; a++) {
        struct trk_client_options opt;
        trk_client_options_default(&opt);
        opt.timeout_ms = 60000;
        opt.compression = algs[a];
        void *conn = open_conn(&opt);
        float x[1024];
        for (int i = 0; i < 1024; i++)
            x[i] = (float)(i % 7);
        int64_t shape[1] = {1024};
        struct trk_client_result res;
        enum trk_status st =
            infer1(conn, "identity", -1, NULL, TRK_DTYPE_FP32, 1, shape, x, sizeof(x), &res);
        if (st != TRK_OK || res.status != TRK_OK)
            fail_msg("%s: %s (%s, code %d)", algs[a], res.error, trk_status_str(st), res.wire_code);
        assert_memory_equal(res.outputs[0]->data, x, sizeof(x));
        trk_client_result_fini(&res);
        close_conn(conn);
    }
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    opt.compression = "brotli";
    void *conn = NULL;
    char err[256] = "";
    assert_int_equal(trk_client_transport_grpc()->open(g_url, &opt, &conn, err, sizeof(err)),
                     TRK_ERR_INVALID_ARG);
    assert_null(conn);
}

static void test_deadline(void **state)
{
    (void)state;
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    opt.timeout_ms = 300;
    void *conn = open_conn(&opt);
    float x[2] = {1, 2};
    int64_t shape[1] = {2};
    struct trk_client_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(infer1(conn, "slow", -1, NULL, TRK_DTYPE_FP32, 1, shape, x, sizeof(x), &res),
                     TRK_ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(res.status, TRK_ERR_TIMEOUT);
    assert_int_equal(res.wire_code, 4);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    assert_true(s < 1.2); /* the call did not wait for the 1.5 s request */
    trk_client_result_fini(&res);
    close_conn(conn);
    assert_serving();
}

static void test_connection_refused(void **state)
{
    (void)state;
    /* a port nobody listens on: a transport failure (TRK_ERR_IO), so failover may retry */
    struct trk_grpc_options go;
    memset(&go, 0, sizeof(go));
    struct trk_grpc *tmp = NULL;
    char err[256];
    assert_int_equal(trk_grpc_start(g_srv, &go, &tmp, err, sizeof(err)), TRK_OK);
    char url[64];
    snprintf(url, sizeof(url), "grpc://127.0.0.1:%u", (unsigned)trk_grpc_port(tmp));
    trk_grpc_stop(tmp);

    const struct trk_client_transport *t = trk_client_transport_grpc();
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    opt.timeout_ms = 5000;
    void *conn = NULL;
    assert_int_equal(t->open(url, &opt, &conn, err, sizeof(err)), TRK_OK);
    float x[1] = {1};
    int64_t shape[1] = {1};
    struct trk_tensor *in = NULL;
    assert_int_equal(trk_tensor_wrap("INPUT0", TRK_DTYPE_FP32, 1, shape, x, sizeof(x), &in), TRK_OK);
    const struct trk_tensor *ins[1] = {in};
    struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1, .inputs = ins};
    struct trk_client_result res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(t->infer(conn, &req, &res), TRK_ERR_IO);
    assert_int_equal(res.wire_code, 0);
    trk_client_result_fini(&res);
    bool ok = true;
    assert_int_equal(t->live(conn, &ok), TRK_ERR_IO);
    assert_false(ok);
    trk_tensor_free(in);
    t->close(conn);
}

/* ---- raw gRPC calls ---------------------------------------------------------------------- */

struct raw {
    grpc_channel *ch;
    grpc_completion_queue *cq;
};

static void raw_open(struct raw *r, uint16_t port)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)port);
    grpc_init();
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    r->ch = grpc_channel_create(target, cr, NULL);
    grpc_channel_credentials_release(cr);
    r->cq = grpc_completion_queue_create_for_pluck(NULL);
}

static void raw_close(struct raw *r)
{
    grpc_channel_destroy(r->ch);
    grpc_completion_queue_shutdown(r->cq);
    grpc_completion_queue_destroy(r->cq);
    grpc_shutdown();
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static ProtobufCMessage *unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d)
{
    if (!bb)
        return NULL;
    grpc_byte_buffer_reader rd;
    assert_true(grpc_byte_buffer_reader_init(&rd, bb));
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

static void raw_wait(struct raw *r, void *tag)
{
    grpc_event ev = grpc_completion_queue_pluck(r->cq, tag, gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                                gpr_time_from_seconds(30, GPR_TIMESPAN)), NULL);
    assert_int_equal(ev.type, GRPC_OP_COMPLETE);
}

/* One unary call; returns the status code, *resp the decoded answer (or NULL). */
static int raw_unary(uint16_t port, const char *method, const ProtobufCMessage *q,
                     const ProtobufCMessageDescriptor *d, ProtobufCMessage **resp, char *details,
                     size_t dlen)
{
    struct raw r;
    raw_open(&r, port);
    grpc_call *call = grpc_channel_create_call(r.ch, NULL, GRPC_PROPAGATE_DEFAULTS, r.cq,
                                               grpc_slice_from_static_string(method), NULL,
                                               gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_byte_buffer *send = pack(q), *recv = NULL;
    grpc_metadata_array im, tm;
    grpc_metadata_array_init(&im);
    grpc_metadata_array_init(&tm);
    grpc_status_code code;
    grpc_slice det;
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &im;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &tm;
    ops[5].data.recv_status_on_client.status = &code;
    ops[5].data.recv_status_on_client.status_details = &det;
    assert_int_equal(grpc_call_start_batch(call, ops, 6, (void *)1, NULL), GRPC_CALL_OK);
    raw_wait(&r, (void *)1);
    if (details)
        snprintf(details, dlen, "%.*s", (int)GRPC_SLICE_LENGTH(det), (const char *)GRPC_SLICE_START_PTR(det));
    *resp = code == GRPC_STATUS_OK ? unpack(recv, d) : NULL;
    if (code == GRPC_STATUS_OK)
        assert_non_null(*resp);
    grpc_slice_unref(det);
    grpc_metadata_array_destroy(&im);
    grpc_metadata_array_destroy(&tm);
    grpc_byte_buffer_destroy(send);
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_call_unref(call);
    raw_close(&r);
    return (int)code;
}

static uint16_t port(void)
{
    return trk_grpc_port(g_grpc);
}

static void test_unimplemented(void **state)
{
    (void)state;
    Inference__ServerLiveRequest q = INFERENCE__SERVER_LIVE_REQUEST__INIT;
    ProtobufCMessage *resp;
    char det[256];
    assert_int_equal(raw_unary(port(), SVC "CudaSharedMemoryStatus", &q.base,
                               &inference__server_live_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(det, "CudaSharedMemoryStatus"));
    assert_int_equal(raw_unary(port(), "/other.Service/Call", &q.base,
                               &inference__server_live_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_UNIMPLEMENTED);
    assert_serving();
}

static void test_server_rpcs(void **state)
{
    (void)state;
    ProtobufCMessage *resp;
    char det[512];

    Inference__ServerMetadataRequest sm = INFERENCE__SERVER_METADATA_REQUEST__INIT;
    assert_int_equal(raw_unary(port(), SVC "ServerMetadata", &sm.base,
                               &inference__server_metadata_response__descriptor, &resp, det, sizeof(det)),
                     0);
    Inference__ServerMetadataResponse *smr = (void *)resp;
    assert_string_equal(smr->name, TRK_SERVER_NAME);
    assert_string_equal(smr->version, trk_server_version());
    assert_true(smr->n_extensions > 0);
    protobuf_c_message_free_unpacked(resp, NULL);

    Inference__ModelReadyRequest mr = INFERENCE__MODEL_READY_REQUEST__INIT;
    mr.name = "identity";
    assert_int_equal(raw_unary(port(), SVC "ModelReady", &mr.base,
                               &inference__model_ready_response__descriptor, &resp, det, sizeof(det)), 0);
    assert_true(((Inference__ModelReadyResponse *)(void *)resp)->ready);
    protobuf_c_message_free_unpacked(resp, NULL);
    mr.version = "x1";
    assert_int_equal(raw_unary(port(), SVC "ModelReady", &mr.base,
                               &inference__model_ready_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(det, "x1"));
    mr.name = "nosuch";
    mr.version = "";
    assert_int_equal(raw_unary(port(), SVC "ModelReady", &mr.base,
                               &inference__model_ready_response__descriptor, &resp, det, sizeof(det)), 0);
    assert_false(((Inference__ModelReadyResponse *)(void *)resp)->ready);
    protobuf_c_message_free_unpacked(resp, NULL);

    Inference__ModelConfigRequest mc = INFERENCE__MODEL_CONFIG_REQUEST__INIT;
    mc.name = "gemm";
    assert_int_equal(raw_unary(port(), SVC "ModelConfig", &mc.base,
                               &inference__model_config_response__descriptor, &resp, det, sizeof(det)), 0);
    Inference__ModelConfig *cfg = ((Inference__ModelConfigResponse *)(void *)resp)->config;
    assert_non_null(cfg);
    assert_string_equal(cfg->name, "gemm");
    assert_int_equal(cfg->max_batch_size, 8);
    assert_int_equal(cfg->n_input, 1);
    assert_string_equal(cfg->input[0]->name, "X");
    assert_int_equal(cfg->input[0]->data_type, INFERENCE__DATA_TYPE__TYPE_FP32);
    assert_int_equal(cfg->input[0]->n_dims, 1);
    assert_int_equal(cfg->input[0]->dims[0], 4);
    assert_int_equal(cfg->n_output, 1);
    assert_string_equal(cfg->output[0]->name, "Y");
    assert_int_equal(cfg->n_instance_group, 1);
    assert_int_equal(cfg->instance_group[0]->kind, INFERENCE__MODEL_INSTANCE_GROUP__KIND__KIND_CPU);
    assert_int_equal(cfg->scheduling_choice_case,
                     INFERENCE__MODEL_CONFIG__SCHEDULING_CHOICE_DYNAMIC_BATCHING);
    assert_int_equal(cfg->dynamic_batching->max_queue_delay_microseconds, 100);
    assert_non_null(cfg->version_policy);
    bool found = false;
    for (size_t i = 0; i < cfg->n_parameters; i++)
        if (!strcmp(cfg->parameters[i]->key, "depth"))
            found = !strcmp(cfg->parameters[i]->value->string_value, "2");
    assert_true(found);
    protobuf_c_message_free_unpacked(resp, NULL);
    mc.name = "nosuch";
    assert_int_equal(raw_unary(port(), SVC "ModelConfig", &mc.base,
                               &inference__model_config_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_NOT_FOUND);

    assert_serving(); /* at least one identity inference for the statistics */
    Inference__ModelStatisticsRequest st = INFERENCE__MODEL_STATISTICS_REQUEST__INIT;
    st.name = "identity";
    assert_int_equal(raw_unary(port(), SVC "ModelStatistics", &st.base,
                               &inference__model_statistics_response__descriptor, &resp, det, sizeof(det)), 0);
    Inference__ModelStatisticsResponse *sr = (void *)resp;
    assert_int_equal(sr->n_model_stats, 1);
    assert_string_equal(sr->model_stats[0]->name, "identity");
    assert_string_equal(sr->model_stats[0]->version, "1");
    assert_true(sr->model_stats[0]->inference_count >= 1);
    assert_non_null(sr->model_stats[0]->inference_stats);
    assert_true(sr->model_stats[0]->inference_stats->success->count >= 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    st.name = "";
    assert_int_equal(raw_unary(port(), SVC "ModelStatistics", &st.base,
                               &inference__model_statistics_response__descriptor, &resp, det, sizeof(det)), 0);
    assert_true(((Inference__ModelStatisticsResponse *)(void *)resp)->n_model_stats >= 4);
    protobuf_c_message_free_unpacked(resp, NULL);
    st.name = "nosuch";
    assert_int_equal(raw_unary(port(), SVC "ModelStatistics", &st.base,
                               &inference__model_statistics_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_NOT_FOUND);
}

static bool index_has(const char *name, const char *state)
{
    ProtobufCMessage *resp;
    Inference__RepositoryIndexRequest q = INFERENCE__REPOSITORY_INDEX_REQUEST__INIT;
    assert_int_equal(raw_unary(port(), SVC "RepositoryIndex", &q.base,
                               &inference__repository_index_response__descriptor, &resp, NULL, 0), 0);
    Inference__RepositoryIndexResponse *r = (void *)resp;
    bool found = false;
    for (size_t i = 0; i < r->n_models; i++)
        if (!strcmp(r->models[i]->name, name) && !strcmp(r->models[i]->state, state))
            found = true;
    protobuf_c_message_free_unpacked(resp, NULL);
    return found;
}

static void test_repository(void **state)
{
    (void)state;
    ProtobufCMessage *resp;
    char det[512];
    assert_true(index_has("sum", "READY"));
    assert_true(index_has("gemm", "READY"));

    Inference__RepositoryModelUnloadRequest u = INFERENCE__REPOSITORY_MODEL_UNLOAD_REQUEST__INIT;
    u.model_name = "sum";
    assert_int_equal(raw_unary(port(), SVC "RepositoryModelUnload", &u.base,
                               &inference__repository_model_unload_response__descriptor, &resp, det,
                               sizeof(det)), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_false(trk_server_model_ready(g_srv, "sum", -1));
    assert_true(index_has("sum", "UNAVAILABLE"));
    /* the server's own UNAVAILABLE is an answer, not a transport failure */
    void *conn = open_conn(NULL);
    struct trk_client_result res;
    float x[1] = {1};
    int64_t s1[1] = {1};
    assert_int_equal(infer1(conn, "sum", -1, NULL, TRK_DTYPE_FP32, 1, s1, x, sizeof(x), &res), TRK_OK);
    assert_int_equal(res.wire_code, GRPC_STATUS_UNAVAILABLE);
    assert_int_equal(res.status, TRK_ERR_UNAVAILABLE);
    trk_client_result_fini(&res);
    close_conn(conn);

    Inference__RepositoryModelLoadRequest l = INFERENCE__REPOSITORY_MODEL_LOAD_REQUEST__INIT;
    l.model_name = "sum";
    assert_int_equal(raw_unary(port(), SVC "RepositoryModelLoad", &l.base,
                               &inference__repository_model_load_response__descriptor, &resp, det,
                               sizeof(det)), 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_true(trk_server_model_ready(g_srv, "sum", -1));
    l.model_name = "nosuch";
    assert_int_equal(raw_unary(port(), SVC "RepositoryModelLoad", &l.base,
                               &inference__repository_model_load_response__descriptor, &resp, det,
                               sizeof(det)), GRPC_STATUS_NOT_FOUND);
    l.model_name = "";
    assert_int_equal(raw_unary(port(), SVC "RepositoryModelLoad", &l.base,
                               &inference__repository_model_load_response__descriptor, &resp, det,
                               sizeof(det)), GRPC_STATUS_INVALID_ARGUMENT);
}

/* ModelInfer with typed contents (no raw_input_contents). */
static void test_typed_contents(void **state)
{
    (void)state;
    ProtobufCMessage *resp;
    char det[512];
    Inference__ModelInferRequest q = INFERENCE__MODEL_INFER_REQUEST__INIT;
    Inference__ModelInferRequest__InferInputTensor in =
        INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
    Inference__ModelInferRequest__InferInputTensor *ins[1] = {&in};
    Inference__InferTensorContents c = INFERENCE__INFER_TENSOR_CONTENTS__INIT;
    float f[3] = {1, 2, 3};
    int64_t shape[1] = {3};
    q.model_name = "identity";
    q.id = "typed";
    q.n_inputs = 1;
    q.inputs = ins;
    in.name = "INPUT0";
    in.datatype = "FP32";
    in.n_shape = 1;
    in.shape = shape;
    in.contents = &c;
    c.n_fp32_contents = 3;
    c.fp32_contents = f;
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)), 0);
    Inference__ModelInferResponse *r = (void *)resp;
    assert_string_equal(r->id, "typed");
    assert_string_equal(r->model_name, "identity");
    assert_int_equal(r->n_outputs, 1);
    assert_int_equal(r->n_raw_output_contents, 1);
    assert_string_equal(r->outputs[0]->datatype, "FP32");
    assert_int_equal(r->raw_output_contents[0].len, sizeof(f));
    assert_memory_equal(r->raw_output_contents[0].data, f, sizeof(f));
    protobuf_c_message_free_unpacked(resp, NULL);

    /* INT8 travels in int_contents */
    int32_t i8[3] = {-1, 5, 127};
    in.datatype = "INT8";
    c.n_fp32_contents = 0;
    c.n_int_contents = 3;
    c.int_contents = i8;
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)), 0);
    r = (void *)resp;
    int8_t want8[3] = {-1, 5, 127};
    assert_int_equal(r->raw_output_contents[0].len, 3);
    assert_memory_equal(r->raw_output_contents[0].data, want8, 3);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* BYTES: length-prefixed on the way back */
    ProtobufCBinaryData bytes[2] = {{2, (uint8_t *)"ab"}, {0, NULL}};
    int64_t shape2[1] = {2};
    in.datatype = "BYTES";
    in.shape = shape2;
    c.n_int_contents = 0;
    c.n_bytes_contents = 2;
    c.bytes_contents = bytes;
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)), 0);
    r = (void *)resp;
    static const unsigned char wantb[10] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};
    assert_int_equal(r->raw_output_contents[0].len, sizeof(wantb));
    assert_memory_equal(r->raw_output_contents[0].data, wantb, sizeof(wantb));
    protobuf_c_message_free_unpacked(resp, NULL);

    /* too few elements for the shape */
    in.datatype = "FP32";
    in.shape = shape;
    c.n_bytes_contents = 0;
    c.n_fp32_contents = 2;
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(det, "fp32_contents"));

    /* a version that is not a number */
    c.n_fp32_contents = 3;
    q.model_version = "latest";
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(det, "latest"));

    /* raw and typed together */
    q.model_version = "";
    ProtobufCBinaryData raw[1] = {{sizeof(f), (uint8_t *)f}};
    q.n_raw_input_contents = 1;
    q.raw_input_contents = raw;
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_INVALID_ARGUMENT);

    /* raw bytes that do not match the shape (sum: FP32 [3] needs 12 bytes) */
    in.contents = NULL;
    q.model_name = "sum";
    raw[0].len = 8;
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_INVALID_ARGUMENT);
    /* more raw contents than inputs */
    ProtobufCBinaryData raw2[2] = {{sizeof(f), (uint8_t *)f}, {sizeof(f), (uint8_t *)f}};
    q.n_raw_input_contents = 2;
    q.raw_input_contents = raw2;
    assert_int_equal(raw_unary(port(), SVC "ModelInfer", &q.base,
                               &inference__model_infer_response__descriptor, &resp, det, sizeof(det)),
                     GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(det, "raw_input_contents"));
    assert_serving();
}

/* ModelStreamInfer: several requests on one stream, one answer each, errors in-band. */
static void test_stream(void **state)
{
    (void)state;
    struct raw r;
    raw_open(&r, port());
    grpc_call *call = grpc_channel_create_call(r.ch, NULL, GRPC_PROPAGATE_DEFAULTS, r.cq,
                                               grpc_slice_from_static_string(SVC "ModelStreamInfer"),
                                               NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_metadata_array im, tm;
    grpc_metadata_array_init(&im);
    grpc_metadata_array_init(&tm);
    grpc_op ops[2];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[1].data.recv_initial_metadata.recv_initial_metadata = &im;
    assert_int_equal(grpc_call_start_batch(call, ops, 2, (void *)1, NULL), GRPC_CALL_OK);

    enum { N = 6 };
    float vals[N];
    for (int i = 0; i < N; i++) {
        vals[i] = (float)i * 1.25f;
        char id[16];
        snprintf(id, sizeof(id), "s%d", i);
        Inference__ModelInferRequest q = INFERENCE__MODEL_INFER_REQUEST__INIT;
        Inference__ModelInferRequest__InferInputTensor in =
            INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
        Inference__ModelInferRequest__InferInputTensor *ins[1] = {&in};
        int64_t shape[1] = {1};
        ProtobufCBinaryData raw[1] = {{sizeof(float), (uint8_t *)&vals[i]}};
        q.model_name = i == 3 ? "nosuch" : "identity";
        q.id = id;
        q.n_inputs = 1;
        q.inputs = ins;
        q.n_raw_input_contents = 1;
        q.raw_input_contents = raw;
        in.name = "INPUT0";
        in.datatype = "FP32";
        in.n_shape = 1;
        in.shape = shape;
        grpc_byte_buffer *bb = pack(&q.base);
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_SEND_MESSAGE;
        op.data.send_message.send_message = bb;
        assert_int_equal(grpc_call_start_batch(call, &op, 1, (void *)2, NULL), GRPC_CALL_OK);
        raw_wait(&r, (void *)2);
        grpc_byte_buffer_destroy(bb);
    }
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    assert_int_equal(grpc_call_start_batch(call, &op, 1, (void *)3, NULL), GRPC_CALL_OK);
    raw_wait(&r, (void *)3);
    raw_wait(&r, (void *)1);

    bool seen[N] = {false};
    for (int k = 0; k < N; k++) {
        grpc_byte_buffer *bb = NULL;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &bb;
        assert_int_equal(grpc_call_start_batch(call, &op, 1, (void *)4, NULL), GRPC_CALL_OK);
        raw_wait(&r, (void *)4);
        assert_non_null(bb);
        Inference__ModelStreamInferResponse *sr =
            (void *)unpack(bb, &inference__model_stream_infer_response__descriptor);
        grpc_byte_buffer_destroy(bb);
        assert_non_null(sr);
        assert_non_null(sr->infer_response);
        int i = atoi(sr->infer_response->id + 1);
        assert_true(i >= 0 && i < N);
        assert_false(seen[i]);
        seen[i] = true;
        if (i == 3) {
            assert_non_null(strstr(sr->error_message, "nosuch"));
        } else {
            assert_string_equal(sr->error_message, "");
            assert_int_equal(sr->infer_response->n_raw_output_contents, 1);
            assert_memory_equal(sr->infer_response->raw_output_contents[0].data, &vals[i], sizeof(float));
        }
        protobuf_c_message_free_unpacked(&sr->base, NULL);
    }
    grpc_status_code code;
    grpc_slice det;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &tm;
    op.data.recv_status_on_client.status = &code;
    op.data.recv_status_on_client.status_details = &det;
    assert_int_equal(grpc_call_start_batch(call, &op, 1, (void *)5, NULL), GRPC_CALL_OK);
    raw_wait(&r, (void *)5);
    assert_int_equal(code, GRPC_STATUS_OK);
    grpc_slice_unref(det);
    grpc_metadata_array_destroy(&im);
    grpc_metadata_array_destroy(&tm);
    grpc_call_unref(call);
    raw_close(&r);
}

/* Starts a ModelInfer on `model` without waiting; returns the call (tag 1 completes it). */
static grpc_call *start_async_infer(struct raw *r, const char *model, grpc_byte_buffer **send,
                                    grpc_byte_buffer **recv, grpc_metadata_array *im,
                                    grpc_metadata_array *tm, grpc_status_code *code, grpc_slice *det)
{
    static float x[1] = {4};
    static int64_t shape[1] = {1};
    Inference__ModelInferRequest q = INFERENCE__MODEL_INFER_REQUEST__INIT;
    Inference__ModelInferRequest__InferInputTensor in =
        INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__INIT;
    Inference__ModelInferRequest__InferInputTensor *ins[1] = {&in};
    ProtobufCBinaryData raw[1] = {{sizeof(x), (uint8_t *)x}};
    q.model_name = (char *)model;
    q.n_inputs = 1;
    q.inputs = ins;
    q.n_raw_input_contents = 1;
    q.raw_input_contents = raw;
    in.name = "INPUT0";
    in.datatype = "FP32";
    in.n_shape = 1;
    in.shape = shape;
    *send = pack(&q.base);
    *recv = NULL;
    grpc_metadata_array_init(im);
    grpc_metadata_array_init(tm);
    grpc_call *call = grpc_channel_create_call(r->ch, NULL, GRPC_PROPAGATE_DEFAULTS, r->cq,
                                               grpc_slice_from_static_string(SVC "ModelInfer"), NULL,
                                               gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = *send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = im;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = tm;
    ops[5].data.recv_status_on_client.status = code;
    ops[5].data.recv_status_on_client.status_details = det;
    assert_int_equal(grpc_call_start_batch(call, ops, 6, (void *)1, NULL), GRPC_CALL_OK);
    return call;
}

static void finish_async(struct raw *r, grpc_call *call, grpc_byte_buffer *send, grpc_byte_buffer *recv,
                         grpc_metadata_array *im, grpc_metadata_array *tm, grpc_slice det)
{
    (void)r;
    grpc_slice_unref(det);
    grpc_metadata_array_destroy(im);
    grpc_metadata_array_destroy(tm);
    grpc_byte_buffer_destroy(send);
    if (recv)
        grpc_byte_buffer_destroy(recv);
    grpc_call_unref(call);
}

static uint64_t slow_failures(void)
{
    struct trk_model_stats *st = NULL;
    uint32_t n = 0;
    assert_int_equal(trk_server_stats(g_srv, "slow", -1, &st, &n), TRK_OK);
    assert_int_equal(n, 1);
    uint64_t f = st[0].fail.count;
    trk_model_stats_free(st, n);
    return f;
}

/* A client cancels a running and a queued request: both calls end CANCELLED at once and
 * the queued one never runs (the core answers it "cancelled"). */
static void test_cancel(void **state)
{
    (void)state;
    uint64_t fail0 = slow_failures();
    struct raw r;
    raw_open(&r, port());
    grpc_byte_buffer *send[2], *recv[2];
    grpc_metadata_array im[2], tm[2];
    grpc_status_code code[2];
    grpc_slice det[2];
    grpc_call *call[2];
    call[0] = start_async_infer(&r, "slow", &send[0], &recv[0], &im[0], &tm[0], &code[0], &det[0]);
    usleep(300000); /* running */
    /* a second one on another channel, queued behind the first (one instance) */
    struct raw r2;
    raw_open(&r2, port());
    call[1] = start_async_infer(&r2, "slow", &send[1], &recv[1], &im[1], &tm[1], &code[1], &det[1]);
    usleep(200000);
    grpc_call_cancel(call[1], NULL);
    grpc_call_cancel(call[0], NULL);
    raw_wait(&r, (void *)1);
    raw_wait(&r2, (void *)1);
    assert_int_equal(code[0], GRPC_STATUS_CANCELLED);
    assert_int_equal(code[1], GRPC_STATUS_CANCELLED);
    finish_async(&r, call[0], send[0], recv[0], &im[0], &tm[0], det[0]);
    finish_async(&r2, call[1], send[1], recv[1], &im[1], &tm[1], det[1]);
    raw_close(&r2);
    raw_close(&r);
    /* the queued request is failed as cancelled once the running one is done */
    for (int i = 0; i < 100 && slow_failures() < fail0 + 1; i++)
        usleep(50000);
    assert_true(slow_failures() >= fail0 + 1);
    assert_serving();
}

/* Stopping the front end while a request runs: the call is cancelled, stop waits for the
 * request and frees everything (ASan/TSan check the rest). */
static void test_stop_inflight(void **state)
{
    (void)state;
    struct trk_grpc_options go;
    memset(&go, 0, sizeof(go));
    go.listen.threads = 1;
    struct trk_grpc *tmp = NULL;
    char err[256];
    assert_int_equal(trk_grpc_start(g_srv, &go, &tmp, err, sizeof(err)), TRK_OK);
    struct raw r;
    raw_open(&r, trk_grpc_port(tmp));
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array im, tm;
    grpc_status_code code;
    grpc_slice det;
    grpc_call *call = start_async_infer(&r, "slow", &send, &recv, &im, &tm, &code, &det);
    usleep(300000);
    trk_grpc_stop(tmp);
    raw_wait(&r, (void *)1);
    assert_int_not_equal(code, GRPC_STATUS_OK);
    finish_async(&r, call, send, recv, &im, &tm, det);
    raw_close(&r);
    assert_serving();
}

static void test_auth(void **state)
{
    (void)state;
    struct trk_grpc_options go;
    memset(&go, 0, sizeof(go));
    go.listen.auth_token = "s3cret";
    struct trk_grpc *tmp = NULL;
    char err[256];
    assert_int_equal(trk_grpc_start(g_srv, &go, &tmp, err, sizeof(err)), TRK_OK);
    char url[64];
    snprintf(url, sizeof(url), "grpc://127.0.0.1:%u", (unsigned)trk_grpc_port(tmp));
    const struct trk_client_transport *t = trk_client_transport_grpc();
    float x[1] = {3};
    int64_t shape[1] = {1};
    struct trk_tensor *in = NULL;
    assert_int_equal(trk_tensor_wrap("INPUT0", TRK_DTYPE_FP32, 1, shape, x, sizeof(x), &in), TRK_OK);
    const struct trk_tensor *ins[1] = {in};
    struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1, .inputs = ins};

    for (int with = 0; with < 2; with++) {
        struct trk_client_options opt;
        trk_client_options_default(&opt);
        opt.auth_token = with ? "s3cret" : NULL;
        void *conn = NULL;
        assert_int_equal(t->open(url, &opt, &conn, err, sizeof(err)), TRK_OK);
        bool ok = false;
        assert_int_equal(t->live(conn, &ok), TRK_OK); /* probes need no token */
        assert_true(ok);
        struct trk_client_result res;
        memset(&res, 0, sizeof(res));
        assert_int_equal(t->infer(conn, &req, &res), TRK_OK);
        if (with) {
            assert_int_equal(res.status, TRK_OK);
        } else {
            assert_int_equal(res.wire_code, GRPC_STATUS_UNAUTHENTICATED);
            assert_non_null(strstr(res.error, "Bearer"));
        }
        trk_client_result_fini(&res);
        t->close(conn);
    }
    trk_tensor_free(in);
    trk_grpc_stop(tmp);
}

/* gRPC over TLS with a self-signed certificate made by the openssl tool (skipped when
 * the tool is missing). */
static void test_tls(void **state)
{
    (void)state;
    char cert[300], key[300], cmd[1200];
    snprintf(cert, sizeof(cert), "%s/cert.pem", g_repo);
    snprintf(key, sizeof(key), "%s/key.pem", g_repo);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 1 "
             "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        skip();
        return;
    }
    struct trk_grpc_options go;
    memset(&go, 0, sizeof(go));
    go.listen.tls_cert = cert;
    go.listen.tls_key = key;
    struct trk_grpc *tmp = NULL;
    char err[256] = "";
    if (trk_grpc_start(g_srv, &go, &tmp, err, sizeof(err)) != TRK_OK)
        fail_msg("TLS start: %s", err);
    char url[64];
    snprintf(url, sizeof(url), "grpcs://127.0.0.1:%u", (unsigned)trk_grpc_port(tmp));
    const struct trk_client_transport *t = trk_client_transport_grpc();
    struct trk_client_options opt;
    trk_client_options_default(&opt);
    opt.ca_file = cert;
    opt.timeout_ms = 10000;
    void *conn = NULL;
    assert_int_equal(t->open(url, &opt, &conn, err, sizeof(err)), TRK_OK);
    float x[2] = {5, 6};
    int64_t shape[1] = {2};
    struct trk_tensor *in = NULL;
    assert_int_equal(trk_tensor_wrap("INPUT0", TRK_DTYPE_FP32, 1, shape, x, sizeof(x), &in), TRK_OK);
    const struct trk_tensor *ins[1] = {in};
    struct trk_client_request req = {.model = "identity", .version = -1, .ninputs = 1, .inputs = ins};
    struct trk_client_result res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(t->infer(conn, &req, &res), TRK_OK);
    if (res.status != TRK_OK)
        fail_msg("over TLS: %s", res.error);
    assert_memory_equal(res.outputs[0]->data, x, sizeof(x));
    trk_client_result_fini(&res);
    t->close(conn);

    /* a plaintext client cannot talk to the TLS port: a transport failure */
    snprintf(url, sizeof(url), "grpc://127.0.0.1:%u", (unsigned)trk_grpc_port(tmp));
    opt.timeout_ms = 3000;
    assert_int_equal(t->open(url, &opt, &conn, err, sizeof(err)), TRK_OK);
    memset(&res, 0, sizeof(res));
    assert_int_not_equal(t->infer(conn, &req, &res), TRK_OK);
    assert_int_not_equal(res.status, TRK_OK);
    trk_client_result_fini(&res);
    t->close(conn);
    trk_tensor_free(in);
    trk_grpc_stop(tmp);
}

static void test_start_errors(void **state)
{
    (void)state;
    struct trk_grpc_options go;
    memset(&go, 0, sizeof(go));
    go.listen.port = trk_grpc_port(g_grpc); /* in use */
    struct trk_grpc *tmp = NULL;
    char err[256] = "";
    assert_int_not_equal(trk_grpc_start(g_srv, &go, &tmp, err, sizeof(err)), TRK_OK);
    assert_null(tmp);
    assert_non_null(strstr(err, "listen"));
    memset(&go, 0, sizeof(go));
    go.listen.tls_cert = "/nonexistent/cert.pem";
    go.listen.tls_key = "/nonexistent/key.pem";
    assert_int_not_equal(trk_grpc_start(g_srv, &go, &tmp, err, sizeof(err)), TRK_OK);
    assert_null(tmp);
    assert_non_null(strstr(err, "cert.pem"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_metadata),
        cmocka_unit_test(test_infer_raw),
        cmocka_unit_test(test_infer_errors),
        cmocka_unit_test(test_large_message),
        cmocka_unit_test(test_compression),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_unimplemented),
        cmocka_unit_test(test_server_rpcs),
        cmocka_unit_test(test_repository),
        cmocka_unit_test(test_typed_contents),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_stop_inflight),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests_name("grpc", tests, setup, teardown);
}

#endif /* TRK_TEST_HAVE_GRPC */
