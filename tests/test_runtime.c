/* Host-side runtime pieces: status strings, logging, the thread pool, tensors. */
#include "test_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "device_impl.h"
#include "trk/pool.h"
#include "trk/tensor.h"

static void test_status_strings(void **state)
{
    (void)state;
    for (int s = 0; s < TRK_STATUS_COUNT; s++) {
        const char *m = trk_status_str((enum trk_status)s);
        assert_non_null(m);
        assert_true(strlen(m) > 1);
        assert_string_not_equal(m, "unknown status");
    }
    assert_string_equal(trk_status_str((enum trk_status)999), "unknown status");
}

static int lines;
static char last_line[1100];
static void count_sink(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)user;
    lines++;
    strncpy(last_line, line, sizeof last_line - 1);
}

static void test_log_levels(void **state)
{
    (void)state;
    assert_int_equal(trk_log_level_parse("debug"), TRK_LOG_DEBUG);
    assert_int_equal(trk_log_level_parse("ERROR"), TRK_LOG_ERROR);
    assert_int_equal(trk_log_level_parse("3"), TRK_LOG_DEBUG);
    assert_int_equal(trk_log_level_parse("loud"), -1);
    assert_int_equal(trk_log_level_parse(NULL), -1);
    enum trk_log_level saved = trk_log_level();
    trk_log_set_sink(count_sink, NULL);
    trk_log_set_level(TRK_LOG_WARN);
    lines = 0;
    TRK_LOGI("hidden %d", 1);
    TRK_LOGW("shown %d", 2);
    assert_int_equal(lines, 1);
    assert_non_null(strstr(last_line, "test_log_levels"));
    assert_non_null(strstr(last_line, "shown 2"));
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    TRK_LOGE("%s", big); /* truncated, never overflows */
    assert_int_equal(lines, 2);
    trk_log_set_sink(NULL, NULL);
    trk_log_set_level(saved);
}

struct cover {
    uint32_t *hits;
    struct trk_pool *pool;
    int nested;
};

static void mark(void *ctx, size_t b, size_t e, unsigned worker)
{
    struct cover *c = ctx;
    assert_true(worker <= trk_pool_size(c->pool));
    for (size_t i = b; i < e; i++)
        __atomic_fetch_add(&c->hits[i], 1u, __ATOMIC_RELAXED);
}

static void mark_nested(void *ctx, size_t b, size_t e, unsigned worker)
{
    struct cover *c = ctx;
    (void)worker;
    for (size_t i = b; i < e; i++) {
        struct cover inner = {c->hits + i * 16, c->pool, 0};
        assert_int_equal(trk_pool_parallel_for(c->pool, 16, 3, mark, &inner), TRK_OK);
    }
}

static void test_pool_parallel_for_covers_each_index_once(void **state)
{
    (void)state;
    struct trk_pool *pool = NULL;
    assert_int_equal(trk_pool_create(3, &pool), TRK_OK);
    assert_int_equal(trk_pool_size(pool), 3);
    const size_t sizes[] = {0, 1, 2, 7, 100, 1001, 100000};
    const size_t chunks[] = {0, 1, 3, 64, 100000};
    for (size_t s = 0; s < 7; s++)
        for (size_t c = 0; c < 5; c++) {
            uint32_t *hits = calloc(sizes[s] + 1, 4);
            struct cover cv = {hits, pool, 0};
            assert_int_equal(trk_pool_parallel_for(pool, sizes[s], chunks[c], mark, &cv), TRK_OK);
            for (size_t i = 0; i < sizes[s]; i++)
                assert_int_equal(hits[i], 1);
            free(hits);
        }
    /* Nested loops from inside a worker cannot deadlock: the caller helps. */
    uint32_t *hits = calloc(64 * 16, 4);
    struct cover cv = {hits, pool, 1};
    assert_int_equal(trk_pool_parallel_for(pool, 64, 1, mark_nested, &cv), TRK_OK);
    for (size_t i = 0; i < 64 * 16; i++)
        assert_int_equal(hits[i], 1);
    free(hits);
    assert_int_equal(trk_pool_parallel_for(NULL, 1, 1, mark, &cv), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_pool_parallel_for(pool, 1, 1, NULL, &cv), TRK_ERR_INVALID_ARG);
    trk_pool_free(pool);
    trk_pool_free(NULL);
}

struct caller {
    struct trk_pool *pool;
    uint32_t *hits;
};

static void *concurrent_caller(void *arg)
{
    struct caller *c = arg;
    for (int rep = 0; rep < 50; rep++) {
        struct cover cv = {c->hits, c->pool, 0};
        trk_pool_parallel_for(c->pool, 5000, 100, mark, &cv);
    }
    return NULL;
}

static void test_pool_concurrent_callers(void **state)
{
    (void)state;
    struct trk_pool *pool = NULL;
    assert_int_equal(trk_pool_create(2, &pool), TRK_OK);
    pthread_t th[4];
    struct caller cs[4];
    for (int i = 0; i < 4; i++) {
        cs[i].pool = pool;
        cs[i].hits = calloc(5000, 4);
        pthread_create(&th[i], NULL, concurrent_caller, &cs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        for (int j = 0; j < 5000; j++)
            assert_int_equal(cs[i].hits[j], 50);
        free(cs[i].hits);
    }
    trk_pool_free(pool);
}

static pthread_mutex_t task_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t task_cv = PTHREAD_COND_INITIALIZER;
static int tasks_done;
static void task(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&task_mu);
    tasks_done++;
    pthread_cond_signal(&task_cv);
    pthread_mutex_unlock(&task_mu);
}

static void test_pool_submit(void **state)
{
    (void)state;
    struct trk_pool *pool = NULL;
    assert_int_equal(trk_pool_create(2, &pool), TRK_OK);
    tasks_done = 0;
    for (int i = 0; i < 100; i++)
        assert_int_equal(trk_pool_submit(pool, task, NULL), TRK_OK);
    pthread_mutex_lock(&task_mu);
    while (tasks_done < 100)
        pthread_cond_wait(&task_cv, &task_mu);
    pthread_mutex_unlock(&task_mu);
    assert_int_equal(trk_pool_submit(pool, NULL, NULL), TRK_ERR_INVALID_ARG);
    trk_pool_free(pool);
}

static void test_tensors(void **state)
{
    (void)state;
    assert_int_equal(trk_dtype_size(TRK_DTYPE_FP32), 4);
    assert_int_equal(trk_dtype_size(TRK_DTYPE_INT64), 8);
    assert_int_equal(trk_dtype_size(TRK_DTYPE_BYTES), 0);
    assert_string_equal(trk_dtype_name(TRK_DTYPE_UINT16), "UINT16");
    assert_int_equal(trk_dtype_from_name("FP32"), TRK_DTYPE_FP32);
    assert_int_equal(trk_dtype_from_name("TYPE_INT64"), TRK_DTYPE_INT64);
    assert_int_equal(trk_dtype_from_name("FLOAT"), TRK_DTYPE_INVALID);
    assert_string_equal(trk_dtype_name((enum trk_dtype)77), "INVALID");

    int64_t shape[2] = {1000, 3};
    struct trk_tensor *t = NULL;
    assert_int_equal(trk_tensor_alloc("FEATURES", TRK_DTYPE_FP32, 2, shape, &t), TRK_OK);
    assert_int_equal(t->nbytes, 12000);
    char msg[256];
    int64_t want[2] = {-1, 3};
    assert_int_equal(trk_tensor_check(t, TRK_DTYPE_FP32, 2, want, msg, sizeof msg), TRK_OK);
    want[1] = 4;
    assert_int_equal(trk_tensor_check(t, TRK_DTYPE_FP32, 2, want, msg, sizeof msg),
                     TRK_ERR_INVALID_ARG);
    assert_string_equal(msg, "tensor 'FEATURES': expected FP32 [-1,4], got FP32 [1000,3]");
    assert_int_equal(trk_tensor_check(t, TRK_DTYPE_INT32, 2, shape, msg, sizeof msg),
                     TRK_ERR_INVALID_ARG);
    trk_tensor_free(t);
    trk_tensor_free(NULL);

    float data[6] = {0};
    int64_t s23[2] = {2, 3};
    assert_int_equal(trk_tensor_wrap("X", TRK_DTYPE_FP32, 2, s23, data, sizeof data, &t), TRK_OK);
    assert_false(t->owns_data);
    trk_tensor_free(t);
    assert_int_equal(trk_tensor_wrap("X", TRK_DTYPE_FP32, 2, s23, data, 20, &t),
                     TRK_ERR_INVALID_ARG);

    int64_t neg[1] = {-5};
    assert_int_equal(trk_tensor_alloc("N", TRK_DTYPE_FP32, 1, neg, &t), TRK_ERR_INVALID_ARG);
    int64_t huge[3] = {INT64_MAX / 2, INT64_MAX / 2, 4};
    assert_int_not_equal(trk_tensor_alloc("H", TRK_DTYPE_FP32, 3, huge, &t), TRK_OK);
    assert_int_equal(trk_tensor_alloc(NULL, TRK_DTYPE_FP32, 1, shape, &t), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_tensor_alloc("B", TRK_DTYPE_BYTES, 1, shape, &t), TRK_ERR_INVALID_ARG);
    char longname[100];
    memset(longname, 'a', sizeof longname - 1);
    longname[99] = '\0';
    assert_int_equal(trk_tensor_alloc(longname, TRK_DTYPE_FP32, 1, shape, &t),
                     TRK_ERR_INVALID_ARG);
    int64_t empty[1] = {0};
    assert_int_equal(trk_tensor_alloc("E", TRK_DTYPE_FP32, 1, empty, &t), TRK_OK);
    assert_int_equal(t->nbytes, 0);
    trk_tensor_free(t);

    trk_log_set_sink(count_sink, NULL);
    trk_fault_inject_alloc(0);
    assert_int_equal(trk_tensor_alloc("F", TRK_DTYPE_FP32, 2, shape, &t), TRK_ERR_NO_MEMORY);
    assert_null(t);
    assert_int_equal(trk_tensor_alloc("F", TRK_DTYPE_FP32, 2, shape, &t), TRK_OK);
    trk_tensor_free(t);
    trk_log_set_sink(NULL, NULL);
}

static void test_kernel_list(void **state)
{
    (void)state;
    assert_true(TRK_KERNEL_COUNT > 0);
    const struct trk_kernel_info *k = trk_kernel_info(TRK_KERNEL_fill_u32);
    assert_non_null(k);
    assert_string_equal(k->name, "fill_u32");
    assert_int_equal(k->nargs, 3);
    assert_int_equal(k->args[0], TRK_ARG_BUF);
    assert_int_equal(k->args[1], TRK_ARG_U32);
    assert_null(trk_kernel_info(TRK_KERNEL_COUNT));
    for (uint32_t i = 0; i < TRK_KERNEL_COUNT; i++) {
        k = trk_kernel_info(i);
        assert_true(k->nargs >= 1 && k->nargs <= TRK_KERNEL_MAX_ARGS);
        for (uint32_t j = i + 1; j < TRK_KERNEL_COUNT; j++)
            assert_string_not_equal(k->name, trk_kernel_info(j)->name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_pool_parallel_for_covers_each_index_once),
        cmocka_unit_test(test_pool_concurrent_callers),
        cmocka_unit_test(test_pool_submit),
        cmocka_unit_test(test_tensors),
        cmocka_unit_test(test_kernel_list),
    };
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
