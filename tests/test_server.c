/* trkserve server core (trk/server.h), in process: a temporary repository written here,
 * requests through trk_server_infer / trk_server_infer_async. */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "trk/server.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static char g_repo[256];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void add_model(const char *name, const char *cfg)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_repo, name);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/1", g_repo, name);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/config.cfg", g_repo, name);
    write_file(path, cfg);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void repo_new(void)
{
    snprintf(g_repo, sizeof g_repo, "/tmp/trk_test_server_XXXXXX");
    assert_non_null(mkdtemp(g_repo));
}

static void repo_remove(void)
{
    nftw(g_repo, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *const k_identity =
    "algorithm = \"identity\"; max_batch_size = 0;\n"
    "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
    "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
    "instance_group = ( { kind = \"KIND_CPU\"; count = 2; } );\n"
    "parameters = { any_dtype = true; any_shape = true; };\n";

static const char *const k_sum =
    "algorithm = \"sum\"; max_batch_size = 0;\n"
    "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
    "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n";

static const char *const k_gemm =
    "algorithm = \"gemm\"; max_batch_size = 8;\n"
    "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 4 ]; } );\n"
    "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 3 ]; } );\n"
    "instance_group = ( { kind = \"KIND_CPU\"; count = 1; devices = [ \"cpu\" ]; } );\n"
    "parameters = { input_size = 4; hidden_size = 8; output_size = 3; depth = 2; seed = 7; };\n";

/* identity with two typed inputs/outputs, batching and a slow execute. */
static const char *const k_batch =
    "algorithm = \"identity\"; max_batch_size = 8;\n"
    "input = ( { name = \"A\"; data_type = \"TYPE_INT32\"; dims = [ 2 ]; } );\n"
    "output = ( { name = \"B\"; data_type = \"TYPE_INT32\"; dims = [ 2 ]; } );\n"
    "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n"
    "dynamic_batching = { max_queue_delay_microseconds = 100000; };\n";

static const char *const k_slow =
    "algorithm = \"identity\"; max_batch_size = 0;\n"
    "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
    "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
    "instance_group = ( { kind = \"KIND_CPU\"; count = 1; } );\n"
    "parameters = { delay_us = 200000; };\n"
    "queue_capacity = 2;\n";

static struct trk_server *server_open(bool load, bool strict)
{
    struct trk_server_options opt;
    trk_server_options_default(&opt);
    opt.model_repository = g_repo;
    opt.load_models = load;
    opt.strict_readiness = strict;
    struct trk_server *s = NULL;
    char err[512];
    enum trk_status st = trk_server_create(&opt, &s, err, sizeof err);
    if (st != TRK_OK)
        fail_msg("trk_server_create: %s", err);
    return s;
}

static struct trk_infer_request *mkreq(const char *model, const char *in, enum trk_dtype dt,
                                       uint32_t ndim, const int64_t *shape, const void *data,
                                       size_t nbytes)
{
    struct trk_infer_request *r = trk_infer_request_alloc(1, 0);
    assert_non_null(r);
    snprintf(r->model_name, sizeof r->model_name, "%s", model);
    snprintf(r->inputs[0].name, sizeof r->inputs[0].name, "%s", in);
    r->inputs[0].dtype = dt;
    r->inputs[0].ndim = ndim;
    memcpy(r->inputs[0].shape, shape, ndim * sizeof *shape);
    r->inputs[0].data = (void *)data;
    r->inputs[0].nbytes = nbytes;
    return r;
}

/* Completion counter for async requests. */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};
static struct waiter g_w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void on_done(struct trk_infer_request *req, void *user)
{
    (void)req;
    struct waiter *w = user;
    pthread_mutex_lock(&w->mu);
    w->done++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_done(int n)
{
    pthread_mutex_lock(&g_w.mu);
    while (g_w.done < n)
        pthread_cond_wait(&g_w.cv, &g_w.mu);
    pthread_mutex_unlock(&g_w.mu);
}

static void reset_done(void)
{
    pthread_mutex_lock(&g_w.mu);
    g_w.done = 0;
    pthread_mutex_unlock(&g_w.mu);
}

static enum trk_status submit(struct trk_server *s, struct trk_infer_request *r)
{
    r->done = on_done;
    r->user = &g_w;
    return trk_server_infer_async(s, r);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_identity_roundtrip(void **state)
{
    (void)state;
    repo_new();
    add_model("identity", k_identity);
    struct trk_server *s = server_open(true, true);
    assert_true(trk_server_live(s));
    assert_true(trk_server_ready(s));
    assert_true(trk_server_model_ready(s, "identity", 1));

    float f[3] = {1.5f, -2.0f, 3.25f};
    int64_t shape1[1] = {3};
    struct trk_infer_request *r =
        mkreq("identity", "INPUT0", TRK_DTYPE_FP32, 1, shape1, f, sizeof f);
    snprintf(r->id, sizeof r->id, "req-1");
    assert_int_equal(trk_server_infer(s, r), TRK_OK);
    assert_int_equal(r->noutputs, 1);
    assert_string_equal(r->outputs[0]->name, "OUTPUT0");
    assert_int_equal(r->outputs[0]->dtype, TRK_DTYPE_FP32);
    assert_int_equal(r->outputs[0]->ndim, 1);
    assert_int_equal(r->outputs[0]->shape[0], 3);
    assert_memory_equal(r->outputs[0]->data, f, sizeof f);
    assert_int_equal(r->served_version, 1);
    trk_infer_request_free(r);

    int64_t i64[2][2] = {{1, -2}, {3, 1LL << 40}};
    int64_t shape2[2] = {2, 2};
    r = mkreq("identity", "INPUT0", TRK_DTYPE_INT64, 2, shape2, i64, sizeof i64);
    assert_int_equal(trk_server_infer(s, r), TRK_OK);
    assert_int_equal(r->outputs[0]->dtype, TRK_DTYPE_INT64);
    assert_int_equal(r->outputs[0]->ndim, 2);
    assert_memory_equal(r->outputs[0]->data, i64, sizeof i64);
    trk_infer_request_free(r);

    /* BYTES: "hi", "", "xyz" */
    static const unsigned char bytes[] = {2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0,
                                          3, 0, 0, 0, 'x', 'y', 'z'};
    int64_t shape3[1] = {3};
    r = mkreq("identity", "INPUT0", TRK_DTYPE_BYTES, 1, shape3, bytes, sizeof bytes);
    assert_int_equal(trk_server_infer(s, r), TRK_OK);
    assert_int_equal(r->outputs[0]->dtype, TRK_DTYPE_BYTES);
    assert_int_equal(r->outputs[0]->nbytes, sizeof bytes);
    assert_memory_equal(r->outputs[0]->data, bytes, sizeof bytes);
    trk_infer_request_free(r);

    trk_server_free(s);
    repo_remove();
}

static void test_sum_and_gemm(void **state)
{
    (void)state;
    repo_new();
    add_model("sum", k_sum);
    add_model("gemm", k_gemm);
    struct trk_server *s = server_open(true, true);
    float x[4] = {1, 2, 3, 4.5f};
    int64_t shape[2] = {4};
    struct trk_infer_request *r = mkreq("sum", "INPUT0", TRK_DTYPE_FP32, 1, shape, x, sizeof x);
    assert_int_equal(trk_server_infer(s, r), TRK_OK);
    assert_int_equal(r->outputs[0]->shape[0], 1);
    assert_float_equal(((float *)r->outputs[0]->data)[0], 10.5f, 1e-6);
    trk_infer_request_free(r);

    /* gemm: a batch of 2 rows equals the two rows sent alone */
    float in[2][4] = {{1, 0, -1, 0.5f}, {0.25f, 2, 0, -3}};
    int64_t s2[2] = {2, 4}, s1[2] = {1, 4};
    r = mkreq("gemm", "INPUT0", TRK_DTYPE_FP32, 2, s2, in, sizeof in);
    assert_int_equal(trk_server_infer(s, r), TRK_OK);
    assert_int_equal(r->outputs[0]->ndim, 2);
    assert_int_equal(r->outputs[0]->shape[0], 2);
    assert_int_equal(r->outputs[0]->shape[1], 3);
    float both[6];
    memcpy(both, r->outputs[0]->data, sizeof both);
    trk_infer_request_free(r);
    for (int row = 0; row < 2; row++) {
        r = mkreq("gemm", "INPUT0", TRK_DTYPE_FP32, 2, s1, in[row], sizeof in[row]);
        assert_int_equal(trk_server_infer(s, r), TRK_OK);
        tt_assert_close_f32(r->outputs[0]->data, both + 3 * row, 3, 1e-5f, 1e-6f, "gemm row");
        trk_infer_request_free(r);
    }
    trk_server_free(s);
    repo_remove();
}

static void expect_error(struct trk_server *s, struct trk_infer_request *r, enum trk_status want,
                         const char *msg)
{
    r->done = on_done;
    r->user = &g_w;
    enum trk_status st = trk_server_infer_async(s, r);
    if (st != want || !strstr(r->error, msg))
        fail_msg("got %s '%s', want %s '%s'", trk_status_str(st), r->error,
                 trk_status_str(want), msg);
    trk_infer_request_free(r);
}

static void test_validation(void **state)
{
    (void)state;
    repo_new();
    add_model("sum", k_sum);
    add_model("gemm", k_gemm);
    struct trk_server *s = server_open(true, true);
    int32_t i3[3] = {1, 2, 3};
    float f16[16] = {0};
    int64_t s3[1] = {3}, s4[1] = {4}, b9[2] = {9, 4}, b2[2] = {2, 4}, b0[2] = {0, 4};

    expect_error(s, mkreq("nope", "INPUT0", TRK_DTYPE_FP32, 1, s3, f16, 12), TRK_ERR_NOT_FOUND,
                 "unknown model 'nope'");
    struct trk_infer_request *r = mkreq("sum", "INPUT0", TRK_DTYPE_FP32, 1, s3, f16, 12);
    r->model_version = 7;
    expect_error(s, r, TRK_ERR_NOT_FOUND, "unknown version 7 of model 'sum'");
    expect_error(s, mkreq("sum", "INPUT0", TRK_DTYPE_INT32, 1, s3, i3, sizeof i3),
                 TRK_ERR_INVALID_ARG, "input 'INPUT0': expected FP32 [-1], got INT32 [3]");
    expect_error(s, mkreq("sum", "X", TRK_DTYPE_FP32, 1, s3, f16, 12), TRK_ERR_INVALID_ARG,
                 "unexpected input 'X' for model 'sum'");
    expect_error(s, mkreq("sum", "INPUT0", TRK_DTYPE_FP32, 1, s4, f16, 12), TRK_ERR_INVALID_ARG,
                 "input 'INPUT0': 12 bytes of data, but FP32 [4] needs 16");
    expect_error(s, mkreq("gemm", "INPUT0", TRK_DTYPE_FP32, 2, b9, f16, sizeof f16),
                 TRK_ERR_INVALID_ARG, "batch size 9 exceeds max_batch_size 8 of model 'gemm'");
    expect_error(s, mkreq("gemm", "INPUT0", TRK_DTYPE_FP32, 2, b0, f16, 0), TRK_ERR_INVALID_ARG,
                 "batch size 0");
    expect_error(s, mkreq("gemm", "INPUT0", TRK_DTYPE_FP32, 1, s4, f16, 16), TRK_ERR_INVALID_ARG,
                 "expected FP32 [-1,4], got FP32 [4]");

    /* missing input, duplicate input */
    r = trk_infer_request_alloc(0, 0);
    snprintf(r->model_name, sizeof r->model_name, "sum");
    expect_error(s, r, TRK_ERR_INVALID_ARG, "missing input 'INPUT0' for model 'sum'");
    r = trk_infer_request_alloc(2, 0);
    snprintf(r->model_name, sizeof r->model_name, "sum");
    for (int i = 0; i < 2; i++) {
        snprintf(r->inputs[i].name, sizeof r->inputs[i].name, "INPUT0");
        r->inputs[i].dtype = TRK_DTYPE_FP32;
        r->inputs[i].ndim = 1;
        r->inputs[i].shape[0] = 1;
        r->inputs[i].data = f16;
        r->inputs[i].nbytes = 4;
    }
    expect_error(s, r, TRK_ERR_INVALID_ARG, "input 'INPUT0' is given twice");

    /* requested outputs */
    r = trk_infer_request_alloc(1, 1);
    snprintf(r->model_name, sizeof r->model_name, "gemm");
    snprintf(r->inputs[0].name, sizeof r->inputs[0].name, "INPUT0");
    r->inputs[0].dtype = TRK_DTYPE_FP32;
    r->inputs[0].ndim = 2;
    memcpy(r->inputs[0].shape, b2, sizeof b2);
    r->inputs[0].data = f16;
    r->inputs[0].nbytes = 32;
    snprintf(r->requested[0], sizeof r->requested[0], "Y");
    expect_error(s, r, TRK_ERR_INVALID_ARG, "model 'gemm' has no output 'Y'");

    /* BYTES length prefixes that run past the end */
    static const unsigned char bad_bytes[] = {9, 0, 0, 0, 'a'};
    int64_t s1[1] = {1};
    repo_remove();
    trk_server_free(s);
    repo_new();
    add_model("identity", k_identity);
    s = server_open(true, true);
    expect_error(s, mkreq("identity", "INPUT0", TRK_DTYPE_BYTES, 1, s1, bad_bytes,
                          sizeof bad_bytes),
                 TRK_ERR_INVALID_ARG, "runs past the end");
    expect_error(s, mkreq("identity", "INPUT0", TRK_DTYPE_BYTES, 1, s1, bad_bytes, 3),
                 TRK_ERR_INVALID_ARG, "runs past the end");
    /* no callback */
    r = mkreq("identity", "INPUT0", TRK_DTYPE_FP32, 1, s1, f16, 4);
    assert_int_equal(trk_server_infer_async(s, r), TRK_ERR_INVALID_ARG);
    trk_infer_request_free(r);
    assert_int_equal(g_w.done, 0); /* done is never called for a refused request */
    trk_server_free(s);
    repo_remove();
}

static void test_queue_overflow_timeout_cancel(void **state)
{
    (void)state;
    repo_new();
    add_model("slow", k_slow);
    struct trk_server *s = server_open(true, true);
    reset_done();
    float x = 1;
    int64_t s1[1] = {1};
    struct trk_infer_request *r[6];
    for (int i = 0; i < 6; i++)
        r[i] = mkreq("slow", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, sizeof x);
    /* capacity 2 + 1 running: the 4th is refused at once */
    assert_int_equal(submit(s, r[0]), TRK_OK);
    sleep_ms(30); /* the worker takes r[0] */
    assert_int_equal(submit(s, r[1]), TRK_OK);
    assert_int_equal(submit(s, r[2]), TRK_OK);
    uint64_t t0 = now_ms();
    assert_int_equal(submit(s, r[3]), TRK_ERR_UNAVAILABLE);
    assert_true(now_ms() - t0 < 100);
    assert_non_null(strstr(r[3]->error, "is full"));
    int submitted = 3;
    wait_done(submitted);
    for (int i = 0; i < submitted; i++)
        assert_int_equal(r[i]->status, TRK_OK);
    for (int i = 0; i < 6; i++)
        trk_infer_request_free(r[i]);

    /* queue timeout and cancel: A runs 200 ms; B times out after 20 ms; C is cancelled */
    reset_done();
    struct trk_infer_request *a = mkreq("slow", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, sizeof x);
    struct trk_infer_request *b = mkreq("slow", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, sizeof x);
    struct trk_infer_request *c = mkreq("slow", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, sizeof x);
    b->timeout_us = 20000;
    assert_int_equal(submit(s, a), TRK_OK);
    sleep_ms(20); /* let the worker take A */
    assert_int_equal(submit(s, b), TRK_OK);
    assert_int_equal(submit(s, c), TRK_OK);
    trk_infer_request_cancel(c);
    wait_done(3);
    assert_int_equal(a->status, TRK_OK);
    assert_int_equal(b->status, TRK_ERR_TIMEOUT);
    assert_string_equal(b->error, "request timed out in the queue");
    assert_int_equal(c->status, TRK_ERR_TIMEOUT);
    assert_string_equal(c->error, "cancelled");
    assert_int_equal(trk_status_http_code(b->status), 400);
    trk_infer_request_free(a);
    trk_infer_request_free(b);
    trk_infer_request_free(c);

    struct trk_model_stats *ms;
    uint32_t n;
    assert_int_equal(trk_server_stats(s, "slow", -1, &ms, &n), TRK_OK);
    assert_int_equal(n, 1);
    assert_true(ms[0].fail.count >= 3); /* the refused one, B and C */
    assert_int_equal(ms[0].success.count, (uint64_t)submitted + 1);
    trk_model_stats_free(ms, n);
    trk_server_free(s);
    repo_remove();
}

static void test_dynamic_batching(void **state)
{
    (void)state;
    repo_new();
    add_model("batch", k_batch);
    struct trk_server *s = server_open(true, true);
    reset_done();
    enum { N = 6 };
    int32_t data[N][3][2];
    struct trk_infer_request *r[N];
    for (int i = 0; i < N; i++) {
        int rows = 1 + i % 3; /* 1, 2, 3 rows: 12 rows in all, batches of <= 8 */
        for (int j = 0; j < rows; j++) {
            data[i][j][0] = 100 * i + 10 * j;
            data[i][j][1] = 100 * i + 10 * j + 1;
        }
        int64_t shape[2] = {rows, 2};
        r[i] = mkreq("batch", "A", TRK_DTYPE_INT32, 2, shape, data[i],
                     (size_t)rows * 2 * sizeof(int32_t));
        assert_int_equal(submit(s, r[i]), TRK_OK);
    }
    wait_done(N);
    for (int i = 0; i < N; i++) {
        int rows = 1 + i % 3;
        assert_int_equal(r[i]->status, TRK_OK);
        assert_int_equal(r[i]->noutputs, 1);
        assert_string_equal(r[i]->outputs[0]->name, "B");
        assert_int_equal(r[i]->outputs[0]->shape[0], rows);
        assert_int_equal(r[i]->outputs[0]->nbytes, (size_t)rows * 2 * sizeof(int32_t));
        assert_memory_equal(r[i]->outputs[0]->data, data[i], (size_t)rows * 2 * sizeof(int32_t));
        trk_infer_request_free(r[i]);
    }
    struct trk_model_stats *ms;
    uint32_t n;
    assert_int_equal(trk_server_stats(s, "batch", 1, &ms, &n), TRK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ms[0].inference_count, 12);
    assert_int_equal(ms[0].success.count, N);
    assert_int_equal(ms[0].queue.count, N);
    assert_true(ms[0].execution_count < N);
    assert_true(ms[0].nbatch >= 1);
    uint64_t execs = 0;
    for (uint32_t i = 0; i < ms[0].nbatch; i++) {
        assert_true(ms[0].batch[i].batch_size <= 8);
        execs += ms[0].batch[i].compute_infer.count;
    }
    assert_int_equal(execs, ms[0].execution_count);
    assert_true(ms[0].last_inference_ms > 0);
    trk_model_stats_free(ms, n);
    trk_server_free(s);
    repo_remove();
}

struct hammer {
    struct trk_server *s;
    volatile int stop;
    int ok, unavailable, other;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    float x[2] = {1, 2};
    int64_t s2[1] = {2};
    while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
        struct trk_infer_request *r =
            mkreq("identity", "INPUT0", TRK_DTYPE_FP32, 1, s2, x, sizeof x);
        enum trk_status st = trk_server_infer(h->s, r);
        if (st == TRK_OK && memcmp(r->outputs[0]->data, x, sizeof x) == 0)
            h->ok++;
        else if (st == TRK_ERR_UNAVAILABLE || st == TRK_ERR_NOT_FOUND)
            h->unavailable++;
        else
            h->other++;
        trk_infer_request_free(r);
    }
    return NULL;
}

static void test_load_unload_while_serving(void **state)
{
    (void)state;
    repo_new();
    add_model("identity", k_identity);
    struct trk_server *s = server_open(true, true);
    struct hammer h = {.s = s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hammer_main, &h), 0);
    char err[512];
    for (int i = 0; i < 3; i++) {
        sleep_ms(20);
        assert_int_equal(trk_server_model_unload(s, "identity", err, sizeof err), TRK_OK);
        assert_false(trk_server_model_ready(s, "identity", -1));
        assert_true(trk_server_ready(s)); /* unloaded on purpose: still ready */
        sleep_ms(20);
        assert_int_equal(trk_server_model_load(s, "identity", err, sizeof err), TRK_OK);
        assert_true(trk_server_model_ready(s, "identity", 1));
    }
    sleep_ms(20);
    __atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    assert_true(h.ok > 0);
    assert_int_equal(h.other, 0);

    /* unload: the index says why; a request says it is not ready */
    assert_int_equal(trk_server_model_unload(s, "identity", err, sizeof err), TRK_OK);
    struct trk_repo_entry *e;
    uint32_t n;
    assert_int_equal(trk_server_repository_index(s, false, &e, &n), TRK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].state, TRK_MODEL_STATE_UNAVAILABLE);
    assert_string_equal(e[0].reason, "unloaded");
    free(e);
    float x = 1;
    int64_t s1[1] = {1};
    expect_error(s, mkreq("identity", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, 4),
                 TRK_ERR_UNAVAILABLE, "model 'identity' is not ready: unloaded");
    assert_int_equal(trk_server_model_unload(s, "ghost", err, sizeof err), TRK_ERR_NOT_FOUND);
    assert_int_equal(trk_server_model_load(s, "ghost", err, sizeof err), TRK_ERR_NOT_FOUND);
    assert_int_equal(trk_server_model_load(s, "../x", err, sizeof err), TRK_ERR_INVALID_ARG);

    /* a model added to the repository after start is loaded on request */
    add_model("sum", k_sum);
    assert_int_equal(trk_server_model_load(s, "sum", err, sizeof err), TRK_OK);
    assert_true(trk_server_model_ready(s, "sum", 1));
    trk_server_free(s);
    repo_remove();
}

static void test_drain(void **state)
{
    (void)state;
    repo_new();
    add_model("slow", k_slow);
    struct trk_server *s = server_open(true, true);
    reset_done();
    float x = 1;
    int64_t s1[1] = {1};
    struct trk_infer_request *r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = mkreq("slow", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, sizeof x);
        assert_int_equal(submit(s, r[i]), TRK_OK);
        if (i == 0)
            sleep_ms(30); /* the worker takes r[0]; the queue holds 2 */
    }
    trk_server_drain(s, 5000); /* waits for all three (~600 ms) */
    assert_int_equal(g_w.done, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i]->status, TRK_OK);
        trk_infer_request_free(r[i]);
    }
    assert_false(trk_server_ready(s));
    assert_true(trk_server_live(s));
    expect_error(s, mkreq("slow", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, 4), TRK_ERR_UNAVAILABLE,
                 "server is shutting down");
    trk_server_drain(s, 0); /* idempotent */
    trk_server_free(s);

    /* drain with no wait: the running one completes, the queued ones are refused */
    s = server_open(true, true);
    reset_done();
    for (int i = 0; i < 3; i++) {
        r[i] = mkreq("slow", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, sizeof x);
        assert_int_equal(submit(s, r[i]), TRK_OK);
        if (i == 0)
            sleep_ms(30);
    }
    trk_server_drain(s, 0);
    assert_int_equal(g_w.done, 3);
    assert_int_equal(r[0]->status, TRK_OK);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(r[i]->status, TRK_ERR_UNAVAILABLE);
        assert_string_equal(r[i]->error, "server is shutting down");
    }
    for (int i = 0; i < 3; i++)
        trk_infer_request_free(r[i]);
    trk_server_free(s);
    repo_remove();
}

static void test_bad_models(void **state)
{
    (void)state;
    repo_new();
    add_model("identity", k_identity);
    add_model("noalgo", "algorithm = \"nope\";\n"
                        "input = ( { name = \"I\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n"
                        "output = ( { name = \"O\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n");
    add_model("badgemm",
              "algorithm = \"gemm\"; max_batch_size = 4;\n"
              "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 4 ]; } );\n"
              "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 3 ]; } );\n"
              "parameters = { input_size = 5; output_size = 3; };\n");
    add_model("syntax", "algorithm = \"sum\"; max_batch_size = ;\n");
    add_model("nogpu", "algorithm = \"sum\";\n"
                       "input = ( { name = \"INPUT0\"; data_type = \"TYPE_FP32\"; dims = [ -1 ]; } );\n"
                       "output = ( { name = \"OUTPUT0\"; data_type = \"TYPE_FP32\"; dims = [ 1 ]; } );\n"
                       "instance_group = ( { kind = \"KIND_CPU\"; devices = [ \"cuda:7\" ]; } );\n");
    struct trk_server *s = server_open(true, true);
    assert_true(trk_server_model_ready(s, "identity", 1));
    assert_false(trk_server_ready(s)); /* strict: some models failed */
    struct trk_repo_entry *e;
    uint32_t n;
    assert_int_equal(trk_server_repository_index(s, false, &e, &n), TRK_OK);
    int seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(e[i].name, "identity") == 0) {
            assert_int_equal(e[i].state, TRK_MODEL_STATE_READY);
            continue;
        }
        assert_int_equal(e[i].state, TRK_MODEL_STATE_UNAVAILABLE);
        assert_true(e[i].reason[0] != '\0');
        if (strcmp(e[i].name, "noalgo") == 0)
            assert_non_null(strstr(e[i].reason, "unknown algorithm 'nope'"));
        if (strcmp(e[i].name, "badgemm") == 0)
            assert_non_null(strstr(e[i].reason, "input_size"));
        if (strcmp(e[i].name, "nogpu") == 0)
            assert_non_null(strstr(e[i].reason, "cuda:7"));
        seen++;
    }
    assert_int_equal(seen, 4);
    free(e);
    assert_int_equal(trk_server_repository_index(s, true, &e, &n), TRK_OK);
    assert_int_equal(n, 1);
    free(e);
    char *json = NULL;
    assert_int_equal(trk_server_repository_index_json(s, false, &json), TRK_OK);
    assert_non_null(strstr(json, "\"name\":\"noalgo\""));
    free(json);
    float x = 1;
    int64_t s1[1] = {1};
    expect_error(s, mkreq("noalgo", "I", TRK_DTYPE_FP32, 1, s1, &x, 4), TRK_ERR_UNAVAILABLE,
                 "model 'noalgo' is not ready: unknown algorithm 'nope'");
    struct trk_infer_request *r = mkreq("identity", "INPUT0", TRK_DTYPE_FP32, 1, s1, &x, 4);
    assert_int_equal(trk_server_infer(s, r), TRK_OK);
    trk_infer_request_free(r);
    trk_server_free(s);

    s = server_open(true, false); /* not strict: ready anyway */
    assert_true(trk_server_ready(s));
    trk_server_free(s);

    s = server_open(false, true); /* explicit mode: nothing loaded */
    assert_false(trk_server_model_ready(s, "identity", -1));
    char err[512];
    assert_int_equal(trk_server_model_load(s, "identity", err, sizeof err), TRK_OK);
    assert_true(trk_server_model_ready(s, "identity", -1));
    assert_int_equal(trk_server_model_load(s, "noalgo", err, sizeof err), TRK_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "unknown algorithm"));
    trk_server_free(s);

    struct trk_server_options opt;
    trk_server_options_default(&opt);
    opt.model_repository = "/nonexistent/trk/repo";
    assert_int_not_equal(trk_server_create(&opt, &s, err, sizeof err), TRK_OK);
    assert_non_null(strstr(err, "/nonexistent/trk/repo"));
    repo_remove();
}

static void test_stats_and_metrics(void **state)
{
    (void)state;
    repo_new();
    add_model("sum", k_sum);
    add_model("identity", k_identity);
    struct trk_server *s = server_open(true, true);
    float x[3] = {1, 2, 3};
    int64_t s3[1] = {3};
    for (int i = 0; i < 3; i++) {
        struct trk_infer_request *r = mkreq("sum", "INPUT0", TRK_DTYPE_FP32, 1, s3, x, sizeof x);
        assert_int_equal(trk_server_infer(s, r), TRK_OK);
        assert_true(r->compute_infer_ns > 0 || r->compute_input_ns > 0);
        trk_infer_request_free(r);
    }
    struct trk_model_stats *ms;
    uint32_t n;
    assert_int_equal(trk_server_stats(s, NULL, -1, &ms, &n), TRK_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ms[0].name, "identity");
    assert_string_equal(ms[1].name, "sum");
    assert_int_equal(ms[1].version, 1);
    assert_int_equal(ms[1].inference_count, 3);
    assert_int_equal(ms[1].execution_count, 3);
    assert_int_equal(ms[1].success.count, 3);
    assert_int_equal(ms[1].queue.count, 3);
    assert_int_equal(ms[1].compute_infer.count, 3);
    assert_int_equal(ms[1].nbatch, 1);
    assert_int_equal(ms[1].batch[0].batch_size, 1);
    assert_int_equal(ms[1].batch[0].compute_infer.count, 3);
    assert_int_equal(ms[0].inference_count, 0);
    trk_model_stats_free(ms, n);
    assert_int_equal(trk_server_stats(s, "ghost", -1, &ms, &n), TRK_ERR_NOT_FOUND);

    char *text = NULL;
    assert_int_equal(trk_server_metrics_text(s, &text), TRK_OK);
    assert_non_null(strstr(text, "\nnv_inference_request_success{model=\"sum\",version=\"1\"} 3\n"));
    assert_non_null(strstr(text, "\nnv_inference_count{model=\"sum\",version=\"1\"} 3\n"));
    assert_non_null(strstr(text, "\nnv_inference_exec_count{model=\"sum\",version=\"1\"} 3\n"));
    assert_non_null(strstr(text, "nv_inference_pending_request_count{model=\"sum\",version=\"1\"} 0\n"));
    assert_non_null(strstr(text, "# TYPE nv_inference_queue_duration_us counter\n"));
    assert_non_null(strstr(text, "nv_inference_compute_infer_duration_us{model=\"sum\""));
    assert_non_null(strstr(text, "nv_inference_request_failure{model=\"sum\",reason=\"REJECTED\""));
    /* perf_analyzer's regex: \n<name>{gpu_uuid="([^"]+)"} (\d+\.?\d*) */
    const char *fams[] = {"nv_gpu_utilization", "nv_gpu_memory_total_bytes",
                          "nv_gpu_memory_used_bytes"};
    for (int f = 0; f < 3; f++) {
        char want[128];
        snprintf(want, sizeof want, "\n%s{gpu_uuid=\"trk-cpu-0\"} ", fams[f]);
        const char *p = strstr(text, want);
        if (!p)
            fail_msg("no %s line in:\n%s", want + 1, text);
        p += strlen(want);
        assert_true(*p >= '0' && *p <= '9');
        while ((*p >= '0' && *p <= '9') || *p == '.')
            p++;
        assert_int_equal(*p, '\n');
    }
    free(text);
    trk_server_free(s);
    repo_remove();
}

static void test_status_codes(void **state)
{
    (void)state;
    assert_int_equal(trk_status_http_code(TRK_OK), 200);
    assert_int_equal(trk_status_http_code(TRK_ERR_INVALID_ARG), 400);
    assert_int_equal(trk_status_http_code(TRK_ERR_NOT_FOUND), 404);
    assert_int_equal(trk_status_http_code(TRK_ERR_UNAVAILABLE), 503);
    assert_int_equal(trk_status_http_code(TRK_ERR_UNSUPPORTED), 501);
    assert_int_equal(trk_status_http_code(TRK_ERR_INTERNAL), 500);
    assert_int_equal(trk_status_grpc_code(TRK_OK), 0);
    assert_int_equal(trk_status_grpc_code(TRK_ERR_INVALID_ARG), 3);
    assert_int_equal(trk_status_grpc_code(TRK_ERR_NOT_FOUND), 5);
    assert_int_equal(trk_status_grpc_code(TRK_ERR_UNAVAILABLE), 14);
    assert_int_equal(trk_status_grpc_code(TRK_ERR_UNSUPPORTED), 12);
    assert_int_equal(trk_status_grpc_code(TRK_ERR_TIMEOUT), 4);
    assert_int_equal(trk_status_grpc_code(TRK_ERR_DEVICE), 13);
    assert_string_equal(trk_server_version(), "0.1.0");
    const char *const *ext = trk_server_extensions();
    bool stats = false;
    for (; *ext; ext++)
        stats |= strcmp(*ext, "statistics") == 0;
    assert_true(stats);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_codes),
        cmocka_unit_test(test_identity_roundtrip),
        cmocka_unit_test(test_sum_and_gemm),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_queue_overflow_timeout_cancel),
        cmocka_unit_test(test_dynamic_batching),
        cmocka_unit_test(test_load_unload_while_serving),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_stats_and_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
