/* trkserve — the interface between the runtime and a device module. The ONLY
 * runtime header a device module includes (besides the public trk headers).
 *
 * A module is a shared object libtrk-device-<name>.so exporting
 *     const struct trk_module_ops *trk_device_module_entry(void);
 * (TRK_DEVICE_MODULE_ENTRY_SYMBOL). The registry dlopens it, checks abi_version,
 * calls init() once, then opens each device. Slots marked (optional) may be NULL;
 * the runtime supplies the default. Device ops may be called from several threads
 * at once for different queues; ops on one queue are serialised by the runtime's
 * caller (a queue is not thread-safe unless the slot says so). */
#ifndef TRK_DEVICE_IMPL_H
#define TRK_DEVICE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/device.h"
#include "trk/log.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRK_DEVICE_MODULE_ENTRY_SYMBOL "trk_device_module_entry"

/* Runtime-side objects; modules may read these fields, never write them. */
struct trk_buffer {
    struct trk_device *dev;
    size_t size;
    void *handle; /* the module's allocation (cl_mem, device pointer, host pointer) */
};

struct trk_queue {
    struct trk_device *dev;
    void *handle; /* the module's queue */
};

struct trk_event {
    struct trk_device *dev;
    void *handle; /* the module's event */
};

struct trk_device_ops {
    /* Fills *props. Called once when the device is opened. */
    void (*get_props)(void *dev, struct trk_device_props *props);
    /* Releases the device; every buffer and queue is already freed. */
    void (*close)(void *dev);

    /* size may be 0 (allocate a minimal block). *handle is the module's. */
    enum trk_status (*buffer_alloc)(void *dev, size_t size, void **handle);
    void (*buffer_free)(void *dev, void *handle);

    enum trk_status (*queue_create)(void *dev, void **queue);
    /* Called after queue_finish; frees the module queue. */
    void (*queue_destroy)(void *dev, void *queue);
    /* Blocks until the queue drains; returns and clears the first deferred error. */
    enum trk_status (*queue_finish)(void *queue);

    /* Asynchronous transfers in queue order (sizes > 0, ranges already checked). */
    enum trk_status (*write)(void *queue, struct trk_buffer *dst, size_t off, const void *src,
                             size_t size);
    enum trk_status (*read)(void *queue, void *dst, struct trk_buffer *src, size_t off,
                            size_t size);
    enum trk_status (*copy)(void *queue, struct trk_buffer *dst, size_t dst_off,
                            struct trk_buffer *src, size_t src_off, size_t size);
    enum trk_status (*memset)(void *queue, struct trk_buffer *buf, size_t off, uint8_t byte,
                              size_t size);

    /* Enqueues a kernel; args already validated against the kernel list, grid >= 1.
     * The module copies what it needs from args before returning. */
    enum trk_status (*launch)(void *queue, uint32_t kernel, uint32_t grid, uint32_t block,
                              uint32_t nargs, const struct trk_arg *args);

    enum trk_status (*event_record)(void *queue, void **event);
    enum trk_status (*event_wait)(void *event);
    enum trk_status (*event_query)(void *event, bool *done);
    /* (optional) device-side wait; default: the host waits on the event first. */
    enum trk_status (*queue_wait_event)(void *queue, void *event);
    /* Milliseconds between two completed events. */
    enum trk_status (*event_elapsed_ms)(void *start, void *end, double *ms);
    void (*event_free)(void *event);

    /* (optional) vendor-BLAS sgemm, enqueued on the queue: C = A · op(B).
     * NULL: the runtime's dialect kernel computes it. */
    enum trk_status (*sgemm)(void *queue, const struct trk_sgemm_desc *desc);
};

/* What the module tells the runtime about itself. */
struct trk_module_ops {
    uint32_t abi_version; /* must equal TRK_DEVICE_ABI_VERSION */
    const char *name;     /* short name: "cpu", "opencl", "cuda", "hip" */

    /* Discovers hardware. Returns TRK_OK with *ndevices == 0 and a reason in `why`
     * when there is none (driver missing, no GPU); an error status when the module
     * itself is broken. *module_ctx is passed back to the other calls. */
    enum trk_status (*init)(void **module_ctx, uint32_t *ndevices, char *why, size_t why_len);
    /* Opens device index (< ndevices): fills *ops and *dev. */
    enum trk_status (*device_open)(void *module_ctx, uint32_t index,
                                   const struct trk_device_ops **ops, void **dev);
    /* (optional) called after every device is closed. */
    void (*fini)(void *module_ctx);
};

typedef const struct trk_module_ops *(*trk_device_module_entry_fn)(void);

/* The CPU device is built into libtrk; the registry calls this directly. */
const struct trk_module_ops *trk_cpu_module(void);

/* Test hook for allocation failure: after `countdown` more successful buffer or
 * host allocations through the runtime, the next one fails (negative: never).
 * Thread-safe. */
void trk_fault_inject_alloc(int countdown);
/* Returns true when an injected allocation failure fires now (runtime use). */
bool trk_fault_alloc_fires(void);

#ifdef __cplusplus
}
#endif
#endif
