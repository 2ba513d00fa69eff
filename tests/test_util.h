/* trkserve tests — shared helpers: the device-parametrised runner, buffers,
 * deterministic random numbers. Every helper fails the current cmocka test on error. */
#ifndef TRK_TEST_UTIL_H
#define TRK_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four headers above first. */
#include <cmocka.h>

#include "trk/device.h"
#include "trk/log.h"
#include "trk/prim.h"

/* The device under test and a queue on it, valid inside tests run by
 * tt_run_on_all_devices(). */
struct tt_dev {
    struct trk_registry *reg;
    struct trk_device *dev;
    struct trk_queue *q;
};
extern struct tt_dev tt;

/* Runs the tests once per present device (all of them, or those named in
 * $TRK_TEST_DEVICES, e.g. "cpu,opencl:0"), as groups "<suite>@<device id>".
 * Modules that gave no device are reported as skipped with their reason.
 * Returns the number of failed tests (use as main's exit status). */
int tt_run_on_all_devices(const char *suite, const struct CMUnitTest *tests, size_t ntests);

/* The standard sizes every primitive is tested at: 0, 1, 31, 32, 33, 1000, 1e6 and
 * non-powers of two. */
extern const uint32_t tt_sizes[];
extern const size_t tt_nsizes;

/* Device buffers on tt.dev. */
struct trk_buffer *tt_alloc(size_t bytes);
struct trk_buffer *tt_upload(const void *data, size_t bytes);
/* Finishes tt.q, then reads bytes from b into dst. */
void tt_download(void *dst, struct trk_buffer *b, size_t bytes);
/* Convenience: malloc that fails the test on NULL (never returns NULL). */
void *tt_malloc(size_t bytes);

/* Deterministic generator (splitmix64); seed it per test for reproducibility. */
uint64_t tt_rand_u64(uint64_t *state);
uint32_t tt_rand_u32(uint64_t *state);
/* Uniform in [lo, hi). */
float tt_rand_f32(uint64_t *state, float lo, float hi);

/* A log sink that appends every line to tt_log_text (clear it by writing '\0' to
 * its first byte): trk_log_set_sink(tt_log_capture, NULL). */
extern char tt_log_text[16384];
void tt_log_capture(enum trk_log_level level, const char *line, void *user);

/* Asserts |a-b| <= atol + rtol*|b| element-wise, reporting the first mismatch. */
void tt_assert_close_f32(const float *got, const float *want, size_t n, float rtol, float atol,
                         const char *what);
/* Asserts equality element-wise, reporting the first mismatch. */
void tt_assert_equal_u32(const uint32_t *got, const uint32_t *want, size_t n, const char *what);

#endif
