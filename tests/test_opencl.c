/* The OpenCL device module beyond what every device must do (test_device.c and the
 * primitive suites run on opencl:0 by themselves): no platform, a kernel file that
 * does not build, the program binary cache and its damaged entries, the largest
 * buffer the device allows, many small launches over sub-buffers, and first use of
 * unbuilt programs from several threads at once. Each test opens its own registry
 * (the module reads TRK_CACHE_DIR and the test hook when a device opens) and skips
 * when there is no OpenCL device. */
#include "test_util.h"

#include <errno.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char log_text[65536];
static void capture(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)user;
    size_t len = strlen(log_text);
    snprintf(log_text + len, sizeof log_text - len, "%s\n", line);
}

static void capture_start(enum trk_log_level level)
{
    log_text[0] = '\0';
    trk_log_set_level(level);
    trk_log_set_sink(capture, NULL);
}

static void capture_stop(void)
{
    trk_log_set_sink(NULL, NULL);
    trk_log_set_level(TRK_LOG_WARN);
}

static size_t count_in_log(const char *needle)
{
    size_t n = 0;
    for (const char *p = log_text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* A fresh temporary cache folder per test. */
static char cache_dir[256];
static void new_cache_dir(void)
{
    snprintf(cache_dir, sizeof cache_dir, "/tmp/trk-test-opencl-XXXXXX");
    assert_non_null(mkdtemp(cache_dir));
    setenv("TRK_CACHE_DIR", cache_dir, 1);
}

static void remove_cache_dir(void)
{
    if (!cache_dir[0])
        return;
    DIR *d = opendir(cache_dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", cache_dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    if (d)
        closedir(d);
    rmdir(cache_dir);
    cache_dir[0] = '\0';
    unsetenv("TRK_CACHE_DIR");
}

/* Skips the current test, leaving no temporary folder or test hook behind. */
static void skip_clean(void)
{
    remove_cache_dir();
    unsetenv("TRK_OPENCL_TEST_BROKEN_SOURCE");
    skip();
}

/* Opens a registry and returns opencl:0, or skips the test when there is none. */
static struct trk_device *open_opencl(struct trk_registry **reg)
{
    const char *filter = getenv("TRK_TEST_DEVICES");
    if (filter && *filter && !strstr(filter, "opencl")) {
        print_message("[  SKIPPED ] TRK_TEST_DEVICES=%s excludes opencl\n", filter);
        skip_clean();
    }
    assert_int_equal(trk_registry_open(NULL, reg), TRK_OK);
    for (uint32_t i = 0; i < trk_registry_module_count(*reg); i++) {
        const struct trk_module_info *m = trk_registry_module(*reg, i);
        if (!strcmp(m->name, "opencl") && m->device_count == 0) {
            print_message("[  SKIPPED ] no OpenCL device: %s\n", m->why);
            trk_registry_close(*reg);
            skip_clean();
        }
    }
    struct trk_device *dev = NULL;
    trk_log_set_sink(capture, NULL); /* "not found" is logged when the module is absent */
    enum trk_status st = trk_registry_select(*reg, "opencl:0", &dev);
    trk_log_set_sink(NULL, NULL);
    if (st != TRK_OK) {
        print_message("[  SKIPPED ] the OpenCL module is not built or not found "
                      "(configure with -DTRK_WITH_OPENCL=ON and install ocl-icd-opencl-dev)\n");
        trk_registry_close(*reg);
        skip_clean();
    }
    return dev;
}

/* Fills n words at buf+off with value and checks them (and one word after). */
static void fill_and_check(struct trk_device *dev, struct trk_queue *q, uint32_t value)
{
    const uint32_t n = 1000;
    struct trk_buffer *b = NULL;
    uint32_t got[1001];
    assert_int_equal(trk_buffer_alloc(dev, sizeof got, &b), TRK_OK);
    assert_int_equal(trk_buffer_memset(q, b, 0, 0xee, sizeof got), TRK_OK);
    assert_int_equal(trk_fill_u32(q, b, n, value), TRK_OK);
    assert_int_equal(trk_buffer_read(q, got, b, 0, sizeof got, true), TRK_OK);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(got[i], value);
    assert_int_equal(got[n], 0xeeeeeeeeu);
    trk_buffer_free(b);
}

/* ---- no platform --------------------------------------------------------- */

/* Child mode: the ICD loader finds no vendor file; the module must load and say why. */
static int child_no_platform(void)
{
    struct trk_registry *reg = NULL;
    if (trk_registry_open(NULL, &reg) != TRK_OK)
        return 1;
    int rc = 77; /* module not built */
    for (uint32_t i = 0; i < trk_registry_module_count(reg); i++) {
        const struct trk_module_info *m = trk_registry_module(reg, i);
        if (strcmp(m->name, "opencl"))
            continue;
        printf("opencl module: status %s, %u devices, why: %s\n", trk_status_str(m->status),
               m->device_count, m->why);
        rc = m->status == TRK_OK && m->device_count == 0 && strstr(m->why, "no OpenCL platform")
                 ? 0 : 1;
    }
    trk_registry_close(reg);
    return rc;
}

static void test_no_platform_gives_reason(void **state)
{
    (void)state;
    /* A child process: the loader reads its vendor list once per process. */
    char *argv[] = {"/proc/self/exe", "--child-no-platform", NULL};
    /* The Khronos loader (CUDA's libOpenCL) also loads every ICD in OCL_ICD_FILENAMES,
     * which NVIDIA's images set: the child gets neither list. */
    const char *files = getenv("OCL_ICD_FILENAMES");
    char *saved = files ? strdup(files) : NULL;
    unsetenv("OCL_ICD_FILENAMES");
    setenv("OCL_ICD_VENDORS", "/nonexistent-trk-test-vendors", 1);
    pid_t pid;
    int err = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
    unsetenv("OCL_ICD_VENDORS");
    if (saved)
        setenv("OCL_ICD_FILENAMES", saved, 1);
    free(saved);
    assert_int_equal(err, 0);
    int status = 0;
    for (int waited_ms = 0; waitpid(pid, &status, WNOHANG) == 0; waited_ms += 50) {
        if (waited_ms > 120000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("registry open hung without an OpenCL platform");
        }
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        print_message("[  SKIPPED ] the OpenCL module is not built\n");
        skip();
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- a kernel file that does not build ------------------------------------ */

static void test_broken_source_disables_only_its_kernels(void **state)
{
    (void)state;
    new_cache_dir();
    setenv("TRK_OPENCL_TEST_BROKEN_SOURCE", "basic.kc", 1);
    struct trk_registry *reg = NULL;
    struct trk_device *dev = open_opencl(&reg);
    struct trk_queue *q = NULL;
    assert_int_equal(trk_queue_create(dev, &q), TRK_OK);
    struct trk_buffer *b = NULL;
    assert_int_equal(trk_buffer_alloc(dev, 4096, &b), TRK_OK);

    capture_start(TRK_LOG_WARN);
    assert_int_not_equal(trk_fill_u32(q, b, 16, 1), TRK_OK);
    assert_int_not_equal(trk_fill_u32(q, b, 16, 1), TRK_OK);
    assert_int_not_equal(trk_iota_u32(q, b, 16, 0), TRK_OK);
    capture_stop();
    /* Each failed launch names its kernel; the build log came once, naming the file. */
    assert_true(count_in_log("kernel fill_u32 is unavailable") >= 2);
    assert_true(count_in_log("kernel iota_u32 is unavailable") >= 1);
    assert_int_equal(count_in_log("build log:"), 1);
    assert_non_null(strstr(log_text, "common/basic.kc"));
    assert_non_null(strstr(log_text, "trk_undeclared_on_purpose_"));
    assert_int_equal(trk_queue_finish(q), TRK_OK);

    /* Every other kernel file still works, on this queue and on a new one. */
    struct trk_queue *q2 = NULL;
    assert_int_equal(trk_queue_create(dev, &q2), TRK_OK);
    const uint32_t n = 5000;
    uint32_t *in = tt_malloc(n * 4), *out = tt_malloc(n * 4), total = 0;
    for (uint32_t i = 0; i < n; i++)
        in[i] = i % 7;
    struct trk_buffer *bin = NULL, *bout = NULL, *btot = NULL, *scratch = NULL;
    assert_int_equal(trk_buffer_alloc(dev, n * 4, &bin), TRK_OK);
    assert_int_equal(trk_buffer_alloc(dev, n * 4, &bout), TRK_OK);
    assert_int_equal(trk_buffer_alloc(dev, 4, &btot), TRK_OK);
    assert_int_equal(trk_buffer_alloc(dev, trk_scan_scratch_size(dev, n), &scratch), TRK_OK);
    struct trk_queue *qs[] = {q, q2};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(trk_buffer_write(qs[k], bin, 0, in, n * 4, true), TRK_OK);
        assert_int_equal(trk_scan_u32(qs[k], bin, bout, n, btot, scratch), TRK_OK);
        assert_int_equal(trk_buffer_read(qs[k], out, bout, 0, n * 4, true), TRK_OK);
        assert_int_equal(trk_buffer_read(qs[k], &total, btot, 0, 4, true), TRK_OK);
        for (uint32_t i = 0, sum = 0; i < n; sum += in[i], i++)
            assert_int_equal(out[i], sum);
        assert_int_equal(total, out[n - 1] + in[n - 1]);
    }
    /* The broken program never reaches the cache. */
    DIR *d = opendir(cache_dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        assert_null(strstr(e->d_name, "basic-kc"));
    if (d)
        closedir(d);

    free(in);
    free(out);
    trk_buffer_free(bin);
    trk_buffer_free(bout);
    trk_buffer_free(btot);
    trk_buffer_free(scratch);
    trk_buffer_free(b);
    trk_queue_free(q2);
    trk_queue_free(q);
    trk_registry_close(reg);
    unsetenv("TRK_OPENCL_TEST_BROKEN_SOURCE");
    remove_cache_dir();
}

/* ---- the program binary cache --------------------------------------------- */

/* The entry of basic.kc in cache_dir, or "" when there is none. */
static void basic_entry(char *path, size_t len)
{
    path[0] = '\0';
    DIR *d = opendir(cache_dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, "opencl-common-basic-kc-") && strstr(e->d_name, ".bin") &&
            !strstr(e->d_name, ".tmp"))
            snprintf(path, len, "%s/%s", cache_dir, e->d_name);
    if (d)
        closedir(d);
}

/* Opens the device, fills a buffer through basic.kc and closes it again, logging
 * at debug level into log_text. */
static void run_fill_once(uint32_t value)
{
    struct trk_registry *reg = NULL;
    struct trk_device *dev = open_opencl(&reg);
    struct trk_queue *q = NULL;
    assert_int_equal(trk_queue_create(dev, &q), TRK_OK);
    capture_start(TRK_LOG_DEBUG);
    fill_and_check(dev, q, value);
    capture_stop();
    trk_queue_free(q);
    trk_registry_close(reg);
}

static uint64_t fnv1a(const unsigned char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void test_binary_cache_and_damaged_entries(void **state)
{
    (void)state;
    new_cache_dir();
    char entry[600];
    run_fill_once(1);
    basic_entry(entry, sizeof entry);
    if (!entry[0] && strstr(log_text, "built from source")) {
        print_message("[  SKIPPED ] this driver offers no program binaries to cache\n");
        skip_clean();
    }
    assert_true(entry[0]);
    assert_non_null(strstr(log_text, "built from source"));

    /* A restart loads it, compiling nothing. */
    run_fill_once(2);
    assert_non_null(strstr(log_text, "loaded from cache"));
    assert_null(strstr(log_text, "common/basic.kc built from source"));

    struct stat st;
    assert_int_equal(stat(entry, &st), 0);
    size_t size = (size_t)st.st_size;
    unsigned char *good = tt_malloc(size);
    FILE *f = fopen(entry, "rb");
    assert_non_null(f);
    assert_int_equal(fread(good, size, 1, f), 1);
    fclose(f);

    /* The layout (opencl_device.c): magic[8], key, size, checksum (uint64 each), binary. */
    const size_t hdr = 32;
    assert_true(size > hdr);
    unsigned char *bad = tt_malloc(size);
    for (int damage = 0; damage < 4; damage++) {
        static const char *const what[] = {"checksum", "truncated", "driver rejects",
                                           "unreadable"};
        memcpy(bad, good, size);
        size_t len = size;
        if (damage == 0) { /* bit rot inside the binary */
            bad[hdr + (size - hdr) / 2] ^= 0x5a;
        } else if (damage == 1) { /* a torn write */
            len = 10;
        } else if (damage == 2) { /* a consistent file the driver cannot use */
            memset(bad + hdr, 0x42, size - hdr);
            uint64_t sum = fnv1a(bad + hdr, size - hdr);
            memcpy(bad + 24, &sum, sizeof sum);
        }
        unlink(entry);
        if (damage == 3) { /* unreadable: a folder in its place */
            assert_int_equal(mkdir(entry, 0755), 0);
        } else {
            f = fopen(entry, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(bad, len, 1, f), 1);
            fclose(f);
        }
        run_fill_once(10u + (uint32_t)damage); /* correct results whatever the entry */
        if (!strstr(log_text, what[damage]) || !strstr(log_text, "built from source"))
            fail_msg("damage %d: expected \"%s\" and a rebuild in the log:\n%s", damage,
                     what[damage], log_text);
        if (damage == 3) {
            assert_int_equal(rmdir(entry), 0);
            continue;
        }
        /* The rebuilt entry replaced the damaged one. */
        run_fill_once(20u + (uint32_t)damage);
        assert_non_null(strstr(log_text, "loaded from cache"));
    }
    free(good);
    free(bad);
    remove_cache_dir();
}

/* ---- the largest buffer ------------------------------------------------------ */

static void test_largest_buffer(void **state)
{
    (void)state;
    struct trk_registry *reg = NULL;
    struct trk_device *dev = open_opencl(&reg);
    const struct trk_device_props *p = trk_device_props(dev);
    /* Over 1 GiB where the device allows it (PoCL caps one buffer at a quarter of its
     * memory, often exactly 1 GiB), never more than 1.5 GiB or half the memory. */
    uint64_t size = p->max_alloc;
    if (size > (3ull << 29))
        size = 3ull << 29;
    if (size > p->global_mem / 2)
        size = p->global_mem / 2 / 4096 * 4096;
    print_message("[ INFO     ] %s: one buffer of %.2f GiB (max_alloc %.2f GiB)%s\n",
                  trk_device_id(dev), (double)size / (1 << 30), (double)p->max_alloc / (1 << 30),
                  size > (1ull << 30) ? "" : "; the device allows no buffer over 1 GiB");
    if (size < (256u << 20)) {
        trk_registry_close(reg);
        skip();
    }
    struct trk_queue *q = NULL;
    struct trk_buffer *b = NULL;
    assert_int_equal(trk_queue_create(dev, &q), TRK_OK);
    assert_int_equal(trk_buffer_alloc(dev, (size_t)size, &b), TRK_OK);
    const size_t spots[] = {0, 4096, (size_t)size / 2 + 12, (size_t)size - 4096 - 8,
                            (size_t)size - 8};
    uint64_t vals[sizeof spots / sizeof spots[0]]; /* live until the queue finishes */
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        vals[i] = 0x0123456789abcdefull ^ spots[i];
        assert_int_equal(trk_buffer_write(q, b, spots[i], &vals[i], 8, false), TRK_OK);
    }
    /* A kernel on a sub-buffer near the end, and a fill right before it. */
    size_t off = ((size_t)size - 8192) / TRK_ARG_OFFSET_ALIGN * TRK_ARG_OFFSET_ALIGN - 8192;
    assert_int_equal(trk_buffer_memset(q, b, off - 512, 0x11, 512), TRK_OK);
    assert_int_equal(TRK_LAUNCH(q, TRK_KERNEL_iota_u32, 4, 64, trk_arg_buf_at(b, off),
                                trk_arg_u32(2048), trk_arg_u32(7)),
                     TRK_OK);
    assert_int_equal(trk_queue_finish(q), TRK_OK);
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        uint64_t v = 0;
        assert_int_equal(trk_buffer_read(q, &v, b, spots[i], 8, true), TRK_OK);
        assert_true(v == (0x0123456789abcdefull ^ spots[i]));
    }
    uint32_t got[2048 + 128];
    assert_int_equal(trk_buffer_read(q, got, b, off - 512, sizeof got, true), TRK_OK);
    for (uint32_t i = 0; i < 128; i++)
        assert_int_equal(got[i], 0x11111111u);
    for (uint32_t i = 0; i < 2048; i++)
        assert_int_equal(got[128 + i], 7 + i);
    trk_buffer_free(b);
    trk_queue_free(q);
    trk_registry_close(reg);
}

/* ---- many small launches ------------------------------------------------------ */

static void test_many_small_launches_on_sub_buffers(void **state)
{
    (void)state;
    struct trk_registry *reg = NULL;
    struct trk_device *dev = open_opencl(&reg);
    struct trk_queue *q = NULL;
    assert_int_equal(trk_queue_create(dev, &q), TRK_OK);
    /* 64 slots of 128 words: each launch goes to one slot through a sub-buffer. */
    const uint32_t slots = 64, words = TRK_ARG_OFFSET_ALIGN / 4, launches = 20000;
    struct trk_buffer *b = NULL;
    assert_int_equal(trk_buffer_alloc(dev, (size_t)slots * words * 4, &b), TRK_OK);
    struct trk_event *e0 = NULL, *e1 = NULL;
    assert_int_equal(trk_event_record(q, &e0), TRK_OK);
    for (uint32_t i = 0; i < launches; i++) {
        uint32_t s = (i * 37u) % slots;
        assert_int_equal(TRK_LAUNCH(q, i % 2 ? TRK_KERNEL_iota_u32 : TRK_KERNEL_fill_u32, 1, 64,
                                    trk_arg_buf_at(b, (size_t)s * words * 4),
                                    trk_arg_u32(words), trk_arg_u32(i)),
                         TRK_OK);
    }
    assert_int_equal(trk_event_record(q, &e1), TRK_OK);
    uint32_t *got = tt_malloc((size_t)slots * words * 4);
    assert_int_equal(trk_buffer_read(q, got, b, 0, (size_t)slots * words * 4, true), TRK_OK);
    for (uint32_t s = 0; s < slots; s++) {
        uint32_t last = 0; /* the last launch that wrote slot s */
        for (uint32_t i = 0; i < launches; i++)
            if ((i * 37u) % slots == s)
                last = i;
        for (uint32_t w = 0; w < words; w++)
            assert_int_equal(got[s * words + w], last % 2 ? last + w : last);
    }
    double ms = 0;
    assert_int_equal(trk_event_elapsed_ms(e0, e1, &ms), TRK_OK);
    print_message("[ INFO     ] %u launches in %.1f ms of device time (%.1f us each)\n", launches,
                  ms, ms * 1e3 / launches);
    assert_true(ms > 0);
    trk_event_free(e0);
    trk_event_free(e1);
    free(got);
    trk_buffer_free(b);
    trk_queue_free(q);
    trk_registry_close(reg);
}

/* ---- first use of unbuilt programs from several threads ------------------------ */

struct first_use {
    struct trk_device *dev;
    struct trk_buffer *shared; /* one region per thread, passed as a sub-buffer */
    uint32_t index;
    int failures;
};

static void *first_use_worker(void *argp)
{
    struct first_use *a = argp;
    struct trk_queue *q = NULL;
    struct trk_buffer *scratch = NULL, *total = NULL;
    const uint32_t n = 3000;
    size_t off = (size_t)a->index * 16384;
    uint32_t got[3000], sum = 0;
    if (trk_queue_create(a->dev, &q) != TRK_OK ||
        trk_buffer_alloc(a->dev, trk_reduce_scratch_size(a->dev, n), &scratch) != TRK_OK ||
        trk_buffer_alloc(a->dev, 4, &total) != TRK_OK) {
        a->failures++;
        goto out;
    }
    /* iota then reduce: two programs every thread wants built at the same moment */
    if (TRK_LAUNCH(q, TRK_KERNEL_iota_u32, 8, 64, trk_arg_buf_at(a->shared, off),
                   trk_arg_u32(n), trk_arg_u32(a->index * 100000u)) != TRK_OK)
        a->failures++;
    if (trk_buffer_read(q, got, a->shared, off, sizeof got, true) != TRK_OK)
        a->failures++;
    struct trk_buffer *view = NULL;
    if (trk_buffer_alloc(a->dev, sizeof got, &view) != TRK_OK ||
        trk_buffer_write(q, view, 0, got, sizeof got, true) != TRK_OK ||
        trk_reduce_u32(q, view, n, TRK_REDUCE_SUM, total, scratch) != TRK_OK ||
        trk_buffer_read(q, &sum, total, 0, 4, true) != TRK_OK)
        a->failures++;
    trk_buffer_free(view);
    uint32_t want = 0;
    for (uint32_t i = 0; i < n; i++) {
        want += a->index * 100000u + i;
        if (got[i] != a->index * 100000u + i)
            a->failures++;
    }
    if (sum != want)
        a->failures++;
out:
    trk_buffer_free(total);
    trk_buffer_free(scratch);
    trk_queue_free(q);
    return NULL;
}

static void test_first_use_from_many_threads(void **state)
{
    (void)state;
    new_cache_dir(); /* nothing cached: every thread may race to build */
    struct trk_registry *reg = NULL;
    struct trk_device *dev = open_opencl(&reg);
    enum { NT = 6 };
    struct trk_buffer *shared = NULL;
    assert_int_equal(trk_buffer_alloc(dev, (size_t)NT * 16384, &shared), TRK_OK);
    pthread_t th[NT];
    struct first_use args[NT];
    for (uint32_t i = 0; i < NT; i++) {
        args[i] = (struct first_use){dev, shared, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, first_use_worker, &args[i]), 0);
    }
    for (uint32_t i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    /* Properties: a CPU OpenCL device stays "cpu", so "auto" still picks cpu:0. */
    const struct trk_device_props *p = trk_device_props(dev);
    assert_false(p->serial_blocks);
    assert_true(p->max_block_size >= p->preferred_block && p->max_block_size <= 1024);
    if (p->kind == TRK_DEVICE_KIND_CPU) {
        struct trk_device *def = NULL;
        assert_int_equal(trk_registry_select(reg, "auto", &def), TRK_OK);
        assert_string_not_equal(trk_device_module(def), "opencl");
    }
    trk_buffer_free(shared);
    trk_registry_close(reg);
    remove_cache_dir();
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--child-no-platform"))
        return child_no_platform();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_platform_gives_reason),
        cmocka_unit_test(test_broken_source_disables_only_its_kernels),
        cmocka_unit_test(test_binary_cache_and_damaged_entries),
        cmocka_unit_test(test_largest_buffer),
        cmocka_unit_test(test_many_small_launches_on_sub_buffers),
        cmocka_unit_test(test_first_use_from_many_threads),
    };
    return cmocka_run_group_tests_name("opencl", tests, NULL, NULL);
}
