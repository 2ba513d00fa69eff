/* Device registry: module discovery, ABI check, failure reasons, selection. Uses
 * the stub modules built into tests/modules (one per failure mode). */
#include "test_util.h"

#include <stdio.h>
#include <string.h>

#include "device_impl.h"


static const struct trk_module_info *find_module(struct trk_registry *reg, const char *name)
{
    for (uint32_t i = 0; i < trk_registry_module_count(reg); i++)
        if (!strcmp(trk_registry_module(reg, i)->name, name))
            return trk_registry_module(reg, i);
    fail_msg("module %s was not listed", name);
    return NULL;
}

static struct trk_registry *open_stub_registry(void)
{
    struct trk_registry_options opt = {.module_path = TRK_TEST_MODULE_DIR, .cpu_threads = 2};
    struct trk_registry *reg = NULL;
    tt_log_text[0] = '\0';
    trk_log_set_sink(tt_log_capture, NULL);
    assert_int_equal(trk_registry_open(&opt, &reg), TRK_OK);
    trk_log_set_sink(NULL, NULL);
    return reg;
}

static void test_module_failures_are_reported_not_fatal(void **state)
{
    (void)state;
    struct trk_registry *reg = open_stub_registry();
    const struct trk_module_info *m;

    m = find_module(reg, "cpu");
    assert_int_equal(m->status, TRK_OK);
    assert_int_equal(m->device_count, 1);

    m = find_module(reg, "garbage");
    assert_int_not_equal(m->status, TRK_OK);
    assert_non_null(strstr(m->why, "cannot load"));

    m = find_module(reg, "stub_badabi");
    assert_int_equal(m->status, TRK_ERR_ABI);
    assert_non_null(strstr(m->why, "ABI"));

    m = find_module(reg, "stub_nosym");
    assert_int_equal(m->status, TRK_ERR_ABI);
    assert_non_null(strstr(m->why, TRK_DEVICE_MODULE_ENTRY_SYMBOL));

    m = find_module(reg, "stub_initfail");
    assert_int_equal(m->status, TRK_ERR_DEVICE);
    assert_non_null(strstr(m->why, "refused"));

    m = find_module(reg, "stub_nodev");
    assert_int_equal(m->status, TRK_OK);
    assert_int_equal(m->device_count, 0);
    assert_non_null(strstr(m->why, "no stub hardware"));

    m = find_module(reg, "stub_incomplete");
    assert_int_equal(m->device_count, 0);
    assert_non_null(strstr(m->why, "failed to open"));

    m = find_module(reg, "stub_ok");
    assert_int_equal(m->status, TRK_OK);
    assert_int_equal(m->device_count, 1);

    /* Exactly the CPU and the working stub contribute devices. */
    assert_int_equal(trk_registry_device_count(reg), 2);
    assert_string_equal(trk_device_id(trk_registry_device(reg, 0)), "cpu:0");
    assert_string_equal(trk_device_id(trk_registry_device(reg, 1)), "stub_ok:0");
    assert_null(trk_registry_device(reg, 2));
    assert_null(trk_registry_module(reg, 99));

    /* One warning line per broken module, naming it and why. */
    const char *broken[] = {"garbage", "stub_badabi", "stub_nosym", "stub_initfail"};
    for (size_t i = 0; i < 4; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "device module %s ", broken[i]);
        const char *hit = strstr(tt_log_text, needle);
        assert_non_null(hit);
        assert_null(strstr(hit + 1, needle));
    }
    trk_registry_close(reg);
}

static void test_select(void **state)
{
    (void)state;
    struct trk_registry *reg = open_stub_registry();
    struct trk_device *d = NULL;

    assert_int_equal(trk_registry_select(reg, NULL, &d), TRK_OK);
    assert_string_equal(trk_device_id(d), "stub_ok:0"); /* a GPU comes first */
    assert_int_equal(trk_registry_select(reg, "auto", &d), TRK_OK);
    assert_string_equal(trk_device_id(d), "stub_ok:0");
    assert_int_equal(trk_registry_select(reg, "cpu", &d), TRK_OK);
    assert_string_equal(trk_device_id(d), "cpu:0");
    assert_int_equal(trk_registry_select(reg, "cpu:0", &d), TRK_OK);
    assert_string_equal(trk_device_id(d), "cpu:0");
    assert_int_equal(trk_registry_select(reg, "gpu", &d), TRK_OK);
    assert_string_equal(trk_device_id(d), "stub_ok:0");
    assert_int_equal(trk_registry_select(reg, "1", &d), TRK_OK);
    assert_string_equal(trk_device_id(d), "stub_ok:0");

    tt_log_text[0] = '\0';
    trk_log_set_sink(tt_log_capture, NULL);
    assert_int_equal(trk_registry_select(reg, "gpu:1", &d), TRK_ERR_NOT_FOUND);
    assert_null(d);
    assert_non_null(strstr(tt_log_text, "cpu:0")); /* the message lists what is available */
    assert_int_equal(trk_registry_select(reg, "cuda", &d), TRK_ERR_NOT_FOUND);
    assert_int_equal(trk_registry_select(reg, "stub_nodev", &d), TRK_ERR_NOT_FOUND);
    assert_non_null(strstr(tt_log_text, "no stub hardware")); /* and why a module gave none */
    assert_int_equal(trk_registry_select(reg, "7", &d), TRK_ERR_NOT_FOUND);
    assert_int_equal(trk_registry_select(reg, ":0", &d), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_registry_select(reg, "cpu:x", &d), TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    assert_int_equal(trk_registry_select(NULL, "cpu", &d), TRK_ERR_INVALID_ARG);
    assert_int_equal(trk_registry_select(reg, "cpu", NULL), TRK_ERR_INVALID_ARG);
    trk_registry_close(reg);
}

static void test_stub_device_refuses_launch_cleanly(void **state)
{
    (void)state;
    struct trk_registry *reg = open_stub_registry();
    struct trk_device *d = NULL;
    assert_int_equal(trk_registry_select(reg, "stub_ok", &d), TRK_OK);
    struct trk_queue *q = NULL;
    struct trk_buffer *b = NULL;
    assert_int_equal(trk_queue_create(d, &q), TRK_OK);
    assert_int_equal(trk_buffer_alloc(d, 64, &b), TRK_OK);
    uint32_t in[16], out[16];
    for (int i = 0; i < 16; i++)
        in[i] = (uint32_t)i * 3u;
    assert_int_equal(trk_buffer_write(q, b, 0, in, sizeof in, true), TRK_OK);
    assert_int_equal(trk_buffer_read(q, out, b, 0, sizeof out, true), TRK_OK);
    assert_memory_equal(in, out, sizeof in);
    trk_log_set_sink(tt_log_capture, NULL);
    assert_int_equal(trk_fill_u32(q, b, 16, 1), TRK_ERR_UNSUPPORTED);
    trk_log_set_sink(NULL, NULL);
    /* A CPU buffer on the stub's queue is refused, not used. */
    struct trk_device *cpu = NULL;
    struct trk_buffer *cb = NULL;
    assert_int_equal(trk_registry_select(reg, "cpu", &cpu), TRK_OK);
    assert_int_equal(trk_buffer_alloc(cpu, 64, &cb), TRK_OK);
    trk_log_set_sink(tt_log_capture, NULL);
    assert_int_equal(trk_buffer_write(q, cb, 0, in, sizeof in, true), TRK_ERR_INVALID_ARG);
    assert_int_equal(TRK_LAUNCH(q, TRK_KERNEL_fill_u32, 1, 1, trk_arg_buf(cb), trk_arg_u32(1),
                                trk_arg_u32(0)),
                     TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    trk_buffer_free(cb);
    trk_buffer_free(b);
    trk_queue_free(q);
    trk_registry_close(reg);
}

static void test_no_devices_at_all(void **state)
{
    (void)state;
    struct trk_registry_options opt = {.module_path = "/nonexistent-trk-modules", .no_cpu = true};
    struct trk_registry *reg = NULL;
    assert_int_equal(trk_registry_open(&opt, &reg), TRK_OK);
    assert_int_equal(trk_registry_device_count(reg), 0);
    struct trk_device *d = (struct trk_device *)1;
    trk_log_set_sink(tt_log_capture, NULL);
    assert_int_equal(trk_registry_select(reg, NULL, &d), TRK_ERR_NOT_FOUND);
    trk_log_set_sink(NULL, NULL);
    assert_null(d);
    char buf[64];
    trk_registry_describe(reg, buf, sizeof buf);
    assert_string_equal(buf, "no devices");
    trk_registry_close(reg);
    trk_registry_close(NULL);
    assert_int_equal(trk_registry_open(NULL, NULL), TRK_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_module_failures_are_reported_not_fatal),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_stub_device_refuses_launch_cleanly),
        cmocka_unit_test(test_no_devices_at_all),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
