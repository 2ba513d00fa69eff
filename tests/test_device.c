/* Runtime behaviour every device must show: argument checks, buffer ranges,
 * queue ordering, events, concurrent queues, many small launches, injected
 * allocation failures. Runs on every present device. */
#include "test_util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "device_impl.h"

static void quiet(enum trk_log_level l, const char *line, void *u)
{
    (void)l;
    (void)line;
    (void)u;
}

static void test_launch_argument_errors(void **state)
{
    (void)state;
    struct trk_buffer *b = tt_alloc(64);
    trk_log_set_sink(quiet, NULL);
    /* unknown kernel id */
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_COUNT, 1, 1, trk_arg_u32(0)),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(TRK_LAUNCH(tt.q, 0xffffffffu, 1, 1, trk_arg_u32(0)), TRK_ERR_INVALID_ARG);
    /* wrong count, wrong kind, NULL buffer, offset past the end */
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 1, 1, trk_arg_buf(b), trk_arg_u32(1)),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 1, 1, trk_arg_u32(1), trk_arg_u32(1),
                                trk_arg_u32(1)),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 1, 1, trk_arg_buf(b), trk_arg_f32(1),
                                trk_arg_u32(1)),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 1, 1, trk_arg_buf(NULL),
                                trk_arg_u32(1), trk_arg_u32(1)),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 1, 1, trk_arg_buf_at(b, 65),
                                trk_arg_u32(1), trk_arg_u32(1)),
                     TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_launch(NULL, TRK_KERNEL_fill_u32, 1, 1, 0, NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_launch(tt.q, TRK_KERNEL_fill_u32, 1, 1, 3, NULL), TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    /* grid 0 is a valid no-op */
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 0, 1, trk_arg_buf(b), trk_arg_u32(16),
                                trk_arg_u32(1)),
                     TRK_OK);
    /* offsets that are not multiples of TRK_ARG_OFFSET_ALIGN are refused */
    struct trk_buffer *big = tt_alloc(2048);
    trk_log_set_sink(quiet, NULL);
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 1, 1, trk_arg_buf_at(big, 8),
                                trk_arg_u32(4), trk_arg_u32(9)),
                     TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    /* a launch with an aligned byte offset writes only where it should */
    uint32_t zero[512] = {0}, got[512];
    assert_int_equal(trk_buffer_write(tt.q, big, 0, zero, sizeof zero, true), TRK_OK);
    assert_int_equal(TRK_LAUNCH(tt.q, TRK_KERNEL_fill_u32, 1, 1,
                                trk_arg_buf_at(big, TRK_ARG_OFFSET_ALIGN), trk_arg_u32(4),
                                trk_arg_u32(9)),
                     TRK_OK);
    tt_download(got, big, sizeof got);
    for (uint32_t i = 0; i < 512; i++)
        assert_int_equal(got[i], i >= 128 && i < 132 ? 9u : 0u);
    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);
    trk_buffer_free(big);
    trk_buffer_free(b);
}

static void test_buffer_ranges(void **state)
{
    (void)state;
    struct trk_buffer *b = tt_alloc(100), *c = tt_alloc(100), *z = tt_alloc(0);
    assert_int_equal(trk_buffer_size(b), 100);
    assert_int_equal(trk_buffer_size(z), 0);
    assert_ptr_equal(trk_buffer_device(b), tt.dev);
    char src[100], dst[100];
    for (int i = 0; i < 100; i++)
        src[i] = (char)i;
    trk_log_set_sink(quiet, NULL);
    assert_int_equal(trk_buffer_write(tt.q, b, 1, src, 100, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_write(tt.q, b, 101, src, 0, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_write(tt.q, b, 0, NULL, 10, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_write(tt.q, NULL, 0, src, 10, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_write(NULL, b, 0, src, 10, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_read(tt.q, dst, b, 50, 51, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_read(tt.q, NULL, b, 0, 1, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_copy(tt.q, c, 0, b, 10, 91), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_copy(tt.q, b, 0, b, 10, 20), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_memset(tt.q, b, 99, 0, 2), TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    /* SIZE_MAX ranges must not wrap around the check */
    trk_log_set_sink(quiet, NULL);
    assert_int_equal(trk_buffer_write(tt.q, b, 2, src, SIZE_MAX, true), TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    /* zero-size operations are no-ops */
    assert_int_equal(trk_buffer_write(tt.q, z, 0, src, 0, true), TRK_OK);
    assert_int_equal(trk_buffer_read(tt.q, dst, z, 0, 0, true), TRK_OK);
    /* write, copy with offsets, memset, read */
    assert_int_equal(trk_buffer_write(tt.q, b, 0, src, 100, false), TRK_OK);
    assert_int_equal(trk_buffer_memset(tt.q, c, 0, 0xab, 100), TRK_OK);
    assert_int_equal(trk_buffer_copy(tt.q, c, 10, b, 20, 30), TRK_OK);
    assert_int_equal(trk_buffer_copy(tt.q, b, 0, b, 50, 50), TRK_OK);
    assert_int_equal(trk_buffer_read(tt.q, dst, c, 0, 100, true), TRK_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal((unsigned char)dst[i], i >= 10 && i < 40 ? i + 10 : 0xab);
    assert_int_equal(trk_buffer_read(tt.q, dst, b, 0, 50, true), TRK_OK);
    for (int i = 0; i < 50; i++)
        assert_int_equal(dst[i], i + 50);
    trk_buffer_free(b);
    trk_buffer_free(c);
    trk_buffer_free(z);
    trk_buffer_free(NULL);
}

static void test_injected_allocation_failure(void **state)
{
    (void)state;
    struct trk_buffer *b = (struct trk_buffer *)1;
    struct trk_queue *q = (struct trk_queue *)1;
    trk_log_set_sink(quiet, NULL);
    trk_fault_inject_alloc(0);
    assert_int_equal(trk_buffer_alloc(tt.dev, 1024, &b), TRK_ERR_NO_MEMORY);
    assert_null(b);
    trk_fault_inject_alloc(1); /* the second allocation from now fails */
    assert_int_equal(trk_buffer_alloc(tt.dev, 1024, &b), TRK_OK);
    trk_buffer_free(b);
    assert_int_equal(trk_queue_create(tt.dev, &q), TRK_ERR_NO_MEMORY);
    assert_null(q);
    trk_fault_inject_alloc(-1);
    assert_int_equal(trk_buffer_alloc(NULL, 16, &b), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_buffer_alloc(tt.dev, 16, NULL), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_queue_create(NULL, &q), TRK_ERR_INVALID_ARG);
    /* a larger request than the device's largest buffer is refused up front */
    const struct trk_device_props *p = trk_device_props(tt.dev);
    if (p->max_alloc && p->max_alloc < SIZE_MAX)
        assert_int_equal(trk_buffer_alloc(tt.dev, (size_t)p->max_alloc + 1, &b),
                         TRK_ERR_NO_MEMORY);
    trk_log_set_sink(NULL, NULL);
    /* the device keeps working afterwards */
    struct trk_buffer *ok = tt_alloc(64);
    assert_int_equal(trk_fill_u32(tt.q, ok, 16, 5), TRK_OK);
    uint32_t got[16];
    tt_download(got, ok, sizeof got);
    assert_int_equal(got[15], 5);
    trk_buffer_free(ok);
}

static void test_events_order_two_queues(void **state)
{
    (void)state;
    const uint32_t n = 1u << 20;
    struct trk_queue *q2 = NULL;
    assert_int_equal(trk_queue_create(tt.dev, &q2), TRK_OK);
    struct trk_buffer *a = tt_alloc((size_t)n * 4), *b = tt_alloc((size_t)n * 4);
    struct trk_event *e0 = NULL, *e1 = NULL;
    assert_int_equal(trk_event_record(tt.q, &e0), TRK_OK);
    for (int rep = 0; rep < 8; rep++)
        assert_int_equal(trk_iota_u32(tt.q, a, n, (uint32_t)rep), TRK_OK);
    assert_int_equal(trk_event_record(tt.q, &e1), TRK_OK);
    /* q2 copies a only after e1: it must see the last iota. */
    assert_int_equal(trk_queue_wait_event(q2, e1), TRK_OK);
    assert_int_equal(trk_copy_u32(q2, b, a, n), TRK_OK);
    uint32_t *got = tt_malloc((size_t)n * 4);
    assert_int_equal(trk_queue_finish(q2), TRK_OK);
    assert_int_equal(trk_buffer_read(q2, got, b, 0, (size_t)n * 4, true), TRK_OK);
    for (uint32_t i = 0; i < n; i += 997)
        assert_int_equal(got[i], 7 + i);
    assert_int_equal(trk_event_wait(e1), TRK_OK);
    bool done = false;
    assert_int_equal(trk_event_query(e1, &done), TRK_OK);
    assert_true(done);
    double ms = -1;
    assert_int_equal(trk_event_elapsed_ms(e0, e1, &ms), TRK_OK);
    assert_true(ms >= 0.0);
    assert_int_equal(trk_event_elapsed_ms(e0, NULL, &ms), TRK_ERR_INVALID_ARG);
    /* freeing an event before it completes is allowed */
    struct trk_event *e2 = NULL;
    assert_int_equal(trk_iota_u32(tt.q, a, n, 1), TRK_OK);
    assert_int_equal(trk_event_record(tt.q, &e2), TRK_OK);
    trk_event_free(e2);
    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);
    trk_event_free(e0);
    trk_event_free(e1);
    trk_event_free(NULL);
    free(got);
    trk_buffer_free(a);
    trk_buffer_free(b);
    trk_queue_free(q2);
}

struct lane_arg {
    uint32_t seed;
    int failures;
};

static void *queue_worker(void *argp)
{
    struct lane_arg *la = argp;
    struct trk_queue *q = NULL;
    struct trk_buffer *b = NULL;
    const uint32_t n = 4096;
    uint32_t got[4096];
    if (trk_queue_create(tt.dev, &q) != TRK_OK || trk_buffer_alloc(tt.dev, n * 4, &b) != TRK_OK) {
        la->failures++;
        goto out;
    }
    for (uint32_t rep = 0; rep < 200; rep++) {
        if (trk_iota_u32(q, b, n, la->seed + rep) != TRK_OK)
            la->failures++;
    }
    if (trk_buffer_read(q, got, b, 0, sizeof got, true) != TRK_OK)
        la->failures++;
    for (uint32_t i = 0; i < n; i++)
        if (got[i] != la->seed + 199 + i)
            la->failures++;
out:
    trk_buffer_free(b);
    trk_queue_free(q);
    return NULL;
}

static void test_concurrent_queues_many_small_launches(void **state)
{
    (void)state;
    pthread_t th[4];
    struct lane_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].seed = (uint32_t)i * 100000u;
        args[i].failures = 0;
        pthread_create(&th[i], NULL, queue_worker, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launch_argument_errors),
        cmocka_unit_test(test_buffer_ranges),
        cmocka_unit_test(test_injected_allocation_failure),
        cmocka_unit_test(test_events_order_two_queues),
        cmocka_unit_test(test_concurrent_queues_many_small_launches),
    };
    return tt_run_on_all_devices("device", tests, sizeof tests / sizeof tests[0]);
}
