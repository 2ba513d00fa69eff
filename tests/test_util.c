#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tt_dev tt;

const uint32_t tt_sizes[] = {0, 1, 31, 32, 33, 1000, 4099, 65537, 123457, 1000000};
const size_t tt_nsizes = sizeof tt_sizes / sizeof tt_sizes[0];

static int group_setup(void **state)
{
    (void)state;
    return trk_queue_create(tt.dev, &tt.q) == TRK_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    trk_queue_free(tt.q);
    tt.q = NULL;
    return 0;
}

static int wanted(const char *filter, struct trk_device *dev)
{
    if (!filter || !*filter)
        return 1;
    char *copy = strdup(filter), *save = NULL;
    int hit = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && !hit; tok = strtok_r(NULL, ",", &save))
        hit = !strcmp(tok, trk_device_id(dev)) || !strcmp(tok, trk_device_module(dev));
    free(copy);
    return hit;
}

int tt_run_on_all_devices(const char *suite, const struct CMUnitTest *tests, size_t ntests)
{
    if (trk_registry_open(NULL, &tt.reg) != TRK_OK) {
        fprintf(stderr, "cannot open the device registry\n");
        return 1;
    }
    const char *filter = getenv("TRK_TEST_DEVICES");
    int failed = 0, ran = 0;
    for (uint32_t m = 0; m < trk_registry_module_count(tt.reg); m++) {
        const struct trk_module_info *mi = trk_registry_module(tt.reg, m);
        if (mi->device_count == 0)
            printf("[  SKIPPED ] %s@%s: no device (%s)\n", suite, mi->name, mi->why);
    }
    for (uint32_t i = 0; i < trk_registry_device_count(tt.reg); i++) {
        tt.dev = trk_registry_device(tt.reg, i);
        if (!wanted(filter, tt.dev))
            continue;
        char name[256];
        snprintf(name, sizeof name, "%s@%s", suite, trk_device_id(tt.dev));
        printf("[ DEVICE   ] %s: %s\n", trk_device_id(tt.dev), trk_device_props(tt.dev)->name);
        failed += _cmocka_run_group_tests(name, tests, ntests, group_setup, group_teardown);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "no device matched TRK_TEST_DEVICES=%s\n", filter ? filter : "");
        failed++;
    }
    trk_registry_close(tt.reg);
    tt.reg = NULL;
    return failed;
}

struct trk_buffer *tt_alloc(size_t bytes)
{
    struct trk_buffer *b = NULL;
    assert_int_equal(trk_buffer_alloc(tt.dev, bytes, &b), TRK_OK);
    assert_non_null(b);
    return b;
}

struct trk_buffer *tt_upload(const void *data, size_t bytes)
{
    struct trk_buffer *b = tt_alloc(bytes);
    assert_int_equal(trk_buffer_write(tt.q, b, 0, data, bytes, true), TRK_OK);
    return b;
}

void tt_download(void *dst, struct trk_buffer *b, size_t bytes)
{
    assert_int_equal(trk_queue_finish(tt.q), TRK_OK);
    assert_int_equal(trk_buffer_read(tt.q, dst, b, 0, bytes, true), TRK_OK);
}

void *tt_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

uint64_t tt_rand_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t tt_rand_u32(uint64_t *s)
{
    return (uint32_t)(tt_rand_u64(s) >> 32);
}

float tt_rand_f32(uint64_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)(tt_rand_u64(s) >> 40) * (1.0f / 16777216.0f);
}

char tt_log_text[16384];

void tt_log_capture(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)user;
    size_t len = strlen(tt_log_text);
    snprintf(tt_log_text + len, sizeof tt_log_text - len, "%s\n", line);
}

void tt_assert_close_f32(const float *got, const float *want, size_t n, float rtol, float atol,
                         const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float tol = atol + rtol * fabsf(want[i]);
        if (!(fabsf(got[i] - want[i]) <= tol) && !(isinf(got[i]) && got[i] == want[i]))
            fail_msg("%s on %s: element %zu of %zu is %.9g, expected %.9g (tolerance %.3g)",
                     what, trk_device_id(tt.dev), i, n, (double)got[i], (double)want[i],
                     (double)tol);
    }
}

void tt_assert_equal_u32(const uint32_t *got, const uint32_t *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s on %s: element %zu of %zu is %u, expected %u", what,
                     trk_device_id(tt.dev), i, n, got[i], want[i]);
}
