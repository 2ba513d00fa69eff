/* trkserve — devices, buffers, queues, events and kernel launch.
 *
 * Object model (after ggml-backend): registry → module (a loaded device driver)
 * → device → {buffer, queue → event}. All objects are opaque. A device belongs to
 * its registry and lives until trk_registry_close(); buffers, queues and events
 * are owned by the caller that created them and must be freed before the registry
 * is closed. Commands on one queue run in order; different queues may overlap. */
#ifndef TRK_DEVICE_H
#define TRK_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/status.h"
#include "trk/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

struct trk_registry;
struct trk_device;
struct trk_buffer;
struct trk_queue;
struct trk_event;

/* ABI version a device module must report; bumped on any change of device_impl.h. */
#define TRK_DEVICE_ABI_VERSION 1u

enum trk_device_kind {
    TRK_DEVICE_KIND_CPU = 0,
    TRK_DEVICE_KIND_GPU = 1,
    TRK_DEVICE_KIND_ACCELERATOR = 2, /* other accelerators (FPGAs, CL_DEVICE_TYPE_ACCELERATOR);
                                        OpenCL CPU devices such as PoCL's are kind CPU */
};

/* Returns "cpu", "gpu" or "accelerator". */
const char *trk_device_kind_str(enum trk_device_kind kind);

struct trk_device_props {
    char name[128];           /* e.g. "AMD EPYC 7B13 (2 threads)" */
    char vendor[64];
    char driver[64];          /* driver / runtime version */
    enum trk_device_kind kind;
    uint64_t global_mem;      /* bytes */
    uint64_t max_alloc;       /* largest single buffer, bytes */
    uint32_t compute_units;   /* SMs, CUs, or CPU threads */
    uint32_t max_block_size;  /* largest block the device accepts */
    uint32_t preferred_block; /* block size host helpers should launch with (CPU: 1) */
    uint32_t shared_mem;      /* block-shared scratch bytes per block */
    bool serial_blocks;       /* true: each block runs on ONE thread, barriers are no-ops */
    bool vendor_blas;         /* true: trk_sgemm uses the device's vendor BLAS */
};

/* ---- registry ---------------------------------------------------------- */

struct trk_registry_options {
    const char *module_path; /* ':'-separated folders to search for libtrk-device-*.so;
                                NULL: $TRK_DEVICE_PATH, then <libdir of libtrk>/trk */
    bool no_cpu;             /* do not add the built-in CPU device (tests) */
    unsigned cpu_threads;    /* CPU device threads; 0: $TRK_NUM_THREADS or all CPUs */
};

/* Information about one module the registry tried to load. */
struct trk_module_info {
    char name[64];           /* "cpu", "opencl", "cuda", ... */
    char path[512];          /* file it came from ("built-in" for the CPU device) */
    enum trk_status status;  /* TRK_OK if it loaded, even with zero devices */
    uint32_t device_count;
    char why[256];           /* empty, or why the module gave no devices */
};

/* Loads the built-in CPU device and every device module found. A module that fails
 * to load, has the wrong ABI or finds no hardware contributes zero devices and one
 * log line; it is never fatal. opt may be NULL. On success *out owns the registry. */
enum trk_status trk_registry_open(const struct trk_registry_options *opt,
                                  struct trk_registry **out);

/* Closes every device and unloads the modules. NULL-safe. */
void trk_registry_close(struct trk_registry *reg);

uint32_t trk_registry_device_count(const struct trk_registry *reg);
/* Returns device i (borrowed), or NULL when i is out of range. */
struct trk_device *trk_registry_device(const struct trk_registry *reg, uint32_t i);
uint32_t trk_registry_module_count(const struct trk_registry *reg);
/* Returns module info i (borrowed), or NULL when i is out of range. */
const struct trk_module_info *trk_registry_module(const struct trk_registry *reg, uint32_t i);

/* Finds a device by spec: "cpu", "opencl", "cuda:1", "gpu", "accelerator:0", a
 * registry index "2", or NULL/"" / "auto" for the default order (first GPU, else
 * the first non-CPU accelerator, else the CPU). On failure logs what is available
 * and returns TRK_ERR_NOT_FOUND (or INVALID_ARG for a malformed spec). */
enum trk_status trk_registry_select(const struct trk_registry *reg, const char *spec,
                                    struct trk_device **out);

/* Writes "cpu:0, opencl:0 (Portable CL ...)" describing every device into buf. */
void trk_registry_describe(const struct trk_registry *reg, char *buf, size_t len);

/* ---- devices ----------------------------------------------------------- */

/* Properties (borrowed, constant for the device's life). */
const struct trk_device_props *trk_device_props(const struct trk_device *dev);
/* Stable id "<module>:<index>", e.g. "cpu:0", "opencl:1". */
const char *trk_device_id(const struct trk_device *dev);
/* Module name of the device ("cpu", "opencl", ...). */
const char *trk_device_module(const struct trk_device *dev);

/* Chooses launch dimensions for an n-element grid-stride kernel: block is the
 * device's preferred block, grid enough blocks to cover n but at most what keeps
 * every compute unit busy. Always returns grid >= 1. */
void trk_device_launch_dims(const struct trk_device *dev, uint64_t n, uint32_t *grid,
                            uint32_t *block);

/* ---- buffers ----------------------------------------------------------- */

/* Allocates `size` bytes of device memory (size 0 is allowed). On success *out owns
 * it; free with trk_buffer_free(). Contents are undefined. Thread-safe. */
enum trk_status trk_buffer_alloc(struct trk_device *dev, size_t size, struct trk_buffer **out);
/* Frees buf; the caller must have finished every queue that uses it. NULL-safe. */
void trk_buffer_free(struct trk_buffer *buf);
size_t trk_buffer_size(const struct trk_buffer *buf);
struct trk_device *trk_buffer_device(const struct trk_buffer *buf);

/* ---- queues ------------------------------------------------------------ */

/* Creates an in-order queue (CUDA/HIP stream, OpenCL command queue; the CPU device
 * runs each command on the enqueuing thread, so its calls complete before returning).
 * On success *out owns it. Thread-safe. */
enum trk_status trk_queue_create(struct trk_device *dev, struct trk_queue **out);
/* Waits for the queue to drain, then frees it. NULL-safe. */
void trk_queue_free(struct trk_queue *q);
/* Blocks until every command enqueued so far has completed; returns the first
 * error any of them hit (and clears it). */
enum trk_status trk_queue_finish(struct trk_queue *q);
struct trk_device *trk_queue_device(const struct trk_queue *q);

/* Copies size bytes host → device. Non-blocking: src must stay valid and unchanged
 * until the copy completes (trk_queue_finish or an event), unless blocking. */
enum trk_status trk_buffer_write(struct trk_queue *q, struct trk_buffer *dst, size_t offset,
                                 const void *src, size_t size, bool blocking);
/* Copies size bytes device → host; dst is undefined until completion unless blocking. */
enum trk_status trk_buffer_read(struct trk_queue *q, void *dst, struct trk_buffer *src,
                                size_t offset, size_t size, bool blocking);
/* Device → device copy on q (same device). Ranges must not overlap. */
enum trk_status trk_buffer_copy(struct trk_queue *q, struct trk_buffer *dst, size_t dst_offset,
                                struct trk_buffer *src, size_t src_offset, size_t size);
/* Sets size bytes to `byte`, in queue order. */
enum trk_status trk_buffer_memset(struct trk_queue *q, struct trk_buffer *buf, size_t offset,
                                  uint8_t byte, size_t size);

/* ---- kernel launch ----------------------------------------------------- */

/* Byte offsets of buffer arguments must be multiples of this: OpenCL passes them as
 * sub-buffers, whose origin must meet the device's base-address alignment (up to
 * 4096 bits on common devices). Finer offsets go to the kernel as scalars. */
#define TRK_ARG_OFFSET_ALIGN 512u

/* One kernel argument. Buffers are passed whole plus a byte offset (a multiple of
 * TRK_ARG_OFFSET_ALIGN). */
struct trk_arg {
    enum trk_arg_kind kind;
    union {
        struct {
            struct trk_buffer *buf;
            size_t offset;
        } b;
        uint32_t u32;
        int32_t i32;
        float f32;
        uint64_t u64;
    } v;
};

static inline struct trk_arg trk_arg_buf(struct trk_buffer *b)
{
    struct trk_arg a;
    a.kind = TRK_ARG_BUF;
    a.v.b.buf = b;
    a.v.b.offset = 0;
    return a;
}
static inline struct trk_arg trk_arg_buf_at(struct trk_buffer *b, size_t byte_offset)
{
    struct trk_arg a = trk_arg_buf(b);
    a.v.b.offset = byte_offset;
    return a;
}
static inline struct trk_arg trk_arg_u32(uint32_t x)
{
    struct trk_arg a;
    a.kind = TRK_ARG_U32;
    a.v.u32 = x;
    return a;
}
static inline struct trk_arg trk_arg_i32(int32_t x)
{
    struct trk_arg a;
    a.kind = TRK_ARG_I32;
    a.v.i32 = x;
    return a;
}
static inline struct trk_arg trk_arg_f32(float x)
{
    struct trk_arg a;
    a.kind = TRK_ARG_F32;
    a.v.f32 = x;
    return a;
}
static inline struct trk_arg trk_arg_u64(uint64_t x)
{
    struct trk_arg a;
    a.kind = TRK_ARG_U64;
    a.v.u64 = x;
    return a;
}

/* Enqueues kernel `kernel` (an enum trk_kernel_id) with `grid` blocks of `block`
 * threads. The arguments are checked against the kernel list (count, kinds,
 * buffers on the queue's device) and copied; the caller may reuse args at once.
 * grid 0 is a no-op. A device with serial_blocks runs each block on one thread
 * with block size 1 whatever `block` says. Thread-safe per queue. */
enum trk_status trk_launch(struct trk_queue *q, uint32_t kernel, uint32_t grid, uint32_t block,
                           uint32_t nargs, const struct trk_arg *args);

/* Convenience: TRK_LAUNCH(q, TRK_KERNEL_fill_u32, grid, block, trk_arg_buf(b), ...) */
#define TRK_LAUNCH(q, kernel, grid, block, ...)                                                 \
    trk_launch((q), (kernel), (grid), (block),                                                 \
               (uint32_t)(sizeof((struct trk_arg[]){__VA_ARGS__}) / sizeof(struct trk_arg)),   \
               (struct trk_arg[]){__VA_ARGS__})

/* ---- vendor BLAS --------------------------------------------------------- */

/* C = A · op(B), row-major, offsets in elements; op(B) = B stored [k x n] or, with
 * trans_b, B stored [n x k] (a PyTorch Linear weight). */
struct trk_sgemm_desc {
    uint32_t m, n, k;
    bool trans_b;
    struct trk_buffer *a, *b, *c;
    size_t a_off, b_off, c_off;
};

/* Enqueues the device's vendor sgemm (OpenBLAS, cuBLAS, CLBlast...) on q. Returns
 * TRK_ERR_UNSUPPORTED when the device has none (see props.vendor_blas); callers then
 * use the dialect kernel (trk_dense_forward in trk/prim.h does this for you). */
enum trk_status trk_vendor_sgemm(struct trk_queue *q, const struct trk_sgemm_desc *desc);

/* ---- events ------------------------------------------------------------ */

/* Records an event on q: it completes when every earlier command on q has, and
 * carries the completion time. On success *out owns it (trk_event_free). */
enum trk_status trk_event_record(struct trk_queue *q, struct trk_event **out);
/* Blocks the host until ev has completed. */
enum trk_status trk_event_wait(struct trk_event *ev);
/* Sets *done without blocking. */
enum trk_status trk_event_query(struct trk_event *ev, bool *done);
/* Makes later commands on q wait for ev (which may come from another queue of the
 * same device). Does not block the host. */
enum trk_status trk_queue_wait_event(struct trk_queue *q, struct trk_event *ev);
/* Milliseconds between two completed events of one device. */
enum trk_status trk_event_elapsed_ms(struct trk_event *start, struct trk_event *end, double *ms);
/* NULL-safe. The event may still be pending; it is released once complete. */
void trk_event_free(struct trk_event *ev);

#ifdef __cplusplus
}
#endif
#endif
