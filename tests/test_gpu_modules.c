/* The CUDA and HIP device modules as the registry sees them. Needs no GPU: without the
 * hardware each built module must load, give 0 devices with a reason, make "cuda:0"
 * fail with NOT_FOUND and a helpful log line, and do it all quickly (no hang in a
 * vendor runtime). With a GPU, its properties must be sane and a round trip through
 * the staging ring, the caching allocator and a kernel must work.
 *
 * Which modules were built comes from TRK_TEST_BUILT_CUDA / TRK_TEST_BUILT_HIP (set by
 * devices/cuda and devices/hip through the global property TRK_TEST_DEFINITIONS);
 * without them, a module is checked when the registry lists it. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef TRK_TEST_BUILT_CUDA
#define BUILT_CUDA true
#else
#define BUILT_CUDA false
#endif
#ifdef TRK_TEST_BUILT_HIP
#define BUILT_HIP true
#else
#define BUILT_HIP false
#endif


static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct trk_module_info *find_module(struct trk_registry *reg, const char *name)
{
    for (uint32_t i = 0; i < trk_registry_module_count(reg); i++)
        if (!strcmp(trk_registry_module(reg, i)->name, name))
            return trk_registry_module(reg, i);
    return NULL;
}

/* Properties and one round trip on a present GPU (only compiled where none is). */
static void check_device(struct trk_device *dev)
{
    const struct trk_device_props *p = trk_device_props(dev);
    print_message("%s: %s, %s, %u CUs, block %u (max %u)\n", trk_device_id(dev), p->name,
                  p->driver, p->compute_units, p->preferred_block, p->max_block_size);
    assert_true(p->name[0] && p->vendor[0] && p->driver[0]);
    assert_int_equal(p->kind, TRK_DEVICE_KIND_GPU);
    assert_false(p->serial_blocks);
    assert_true(p->global_mem >= ((uint64_t)256 << 20));
    assert_true(p->max_alloc > 0 && p->max_alloc <= p->global_mem);
    assert_true(p->compute_units >= 1);
    assert_true(p->max_block_size >= 64 && p->max_block_size <= 1024);
    assert_true(p->preferred_block >= 32 && p->preferred_block <= p->max_block_size);
    assert_true(p->shared_mem >= 16384);

    /* More than a staging chunk (2 MiB) with an odd tail: chunking and ring wrap. */
    const uint32_t n = (3u << 20) / 4 + 3;
    uint32_t *host = tt_malloc(n * sizeof *host), *back = tt_malloc(n * sizeof *back);
    for (uint32_t i = 0; i < n; i++)
        host[i] = i * 2654435761u;
    struct trk_queue *q = NULL;
    struct trk_buffer *b = NULL;
    struct trk_event *e0 = NULL, *e1 = NULL;
    assert_int_equal(trk_queue_create(dev, &q), TRK_OK);
    for (int round = 0; round < 2; round++) { /* the second allocation comes from the cache */
        assert_int_equal(trk_buffer_alloc(dev, n * sizeof *host, &b), TRK_OK);
        assert_int_equal(trk_event_record(q, &e0), TRK_OK);
        assert_int_equal(trk_buffer_write(q, b, 0, host, n * sizeof *host, false), TRK_OK);
        assert_int_equal(TRK_LAUNCH(q, TRK_KERNEL_fill_u32, 4, p->preferred_block,
                                    trk_arg_buf_at(b, 1024), trk_arg_u32(100), trk_arg_u32(7)),
                         TRK_OK);
        memset(back, 0, n * sizeof *back);
        assert_int_equal(trk_buffer_read(q, back, b, 0, n * sizeof *back, false), TRK_OK);
        assert_int_equal(trk_event_record(q, &e1), TRK_OK);
        assert_int_equal(trk_event_wait(e1), TRK_OK);
        for (uint32_t i = 0; i < 100; i++)
            host[256 + i] = 7;
        tt_assert_equal_u32(back, host, n, "write + fill_u32 + read");
        double ms = -1;
        assert_int_equal(trk_event_elapsed_ms(e0, e1, &ms), TRK_OK);
        assert_true(ms >= 0);
        trk_event_free(e0);
        trk_event_free(e1);
        assert_int_equal(trk_queue_finish(q), TRK_OK);
        trk_buffer_free(b);
    }
    trk_queue_free(q);
    free(host);
    free(back);
}

static void check_module(struct trk_registry *reg, const char *name, bool built)
{
    const struct trk_module_info *m = find_module(reg, name);
    if (!m) {
        if (built)
            fail_msg("module %s was built but the registry did not list it: is "
                     "libtrk-device-%s.so in <libdir of libtrk>/trk?", name, name);
        print_message("module %s not built: skipped\n", name);
        return;
    }
    if (m->status != TRK_OK)
        fail_msg("module %s (%s) did not load: %s", name, m->path, m->why);
    if (m->device_count > 0) {
        for (uint32_t i = 0; i < trk_registry_device_count(reg); i++)
            if (!strcmp(trk_device_module(trk_registry_device(reg, i)), name))
                check_device(trk_registry_device(reg, i));
        return;
    }
    print_message("module %s: 0 devices: %s\n", name, m->why);
    assert_true(m->why[0] != '\0');
    char spec[32];
    snprintf(spec, sizeof spec, "%s:0", name);
    struct trk_device *d = NULL;
    tt_log_text[0] = '\0';
    trk_log_set_sink(tt_log_capture, NULL);
    enum trk_status st = trk_registry_select(reg, spec, &d);
    trk_log_set_sink(NULL, NULL);
    assert_int_equal(st, TRK_ERR_NOT_FOUND);
    /* The line names the device, why it is absent and what is there instead. */
    assert_non_null(strstr(tt_log_text, spec));
    assert_non_null(strstr(tt_log_text, m->why));
    assert_non_null(strstr(tt_log_text, "available: cpu:0"));
}

static void test_gpu_modules_load_and_explain(void **state)
{
    (void)state;
    double t0 = now_s();
    struct trk_registry *reg = NULL;
    struct trk_registry_options opt = {.cpu_threads = 2};
    assert_int_equal(trk_registry_open(&opt, &reg), TRK_OK);
    double t_open = now_s() - t0;
    check_module(reg, "cuda", BUILT_CUDA);
    check_module(reg, "hip", BUILT_HIP);
    bool gpus = false;
    for (uint32_t i = 0; i < trk_registry_device_count(reg); i++)
        gpus |= trk_device_props(trk_registry_device(reg, i))->kind == TRK_DEVICE_KIND_GPU;
    trk_registry_close(reg);
    double t_all = now_s() - t0;
    print_message("registry open %.3f s, everything %.3f s\n", t_open, t_all);
    /* Without hardware the vendor runtimes must fail fast; GPU context creation may not. */
    if (!gpus)
        assert_true(t_all < 3.0);
}

/* Opening the registry again reuses the loaded (never unloaded) vendor runtimes. */
static void test_gpu_modules_reopen(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        struct trk_registry *reg = NULL;
        assert_int_equal(trk_registry_open(NULL, &reg), TRK_OK);
        const struct trk_module_info *m = find_module(reg, "cuda");
        if (m)
            assert_int_equal(m->status, TRK_OK);
        if ((m = find_module(reg, "hip")))
            assert_int_equal(m->status, TRK_OK);
        trk_registry_close(reg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpu_modules_load_and_explain),
        cmocka_unit_test(test_gpu_modules_reopen),
    };
    return cmocka_run_group_tests_name("gpu_modules", tests, NULL, NULL);
}
