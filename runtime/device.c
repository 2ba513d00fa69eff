/* Public device/buffer/queue/event API: argument checks, then the module's op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

static int fault_countdown = -1;

void trk_fault_inject_alloc(int countdown)
{
    __atomic_store_n(&fault_countdown, countdown, __ATOMIC_SEQ_CST);
}

bool trk_fault_alloc_fires(void)
{
    int c = __atomic_load_n(&fault_countdown, __ATOMIC_SEQ_CST);
    while (c >= 0) {
        if (__atomic_compare_exchange_n(&fault_countdown, &c, c - 1, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return c == 0;
    }
    return false;
}

const struct trk_device_props *trk_device_props(const struct trk_device *dev)
{
    return dev ? &dev->props : NULL;
}

const char *trk_device_id(const struct trk_device *dev)
{
    return dev ? dev->id : "(null)";
}

const char *trk_device_module(const struct trk_device *dev)
{
    return dev ? dev->module : "(null)";
}

void trk_device_launch_dims(const struct trk_device *dev, uint64_t n, uint32_t *grid,
                            uint32_t *block)
{
    uint32_t b = dev ? dev->props.preferred_block : 1;
    uint32_t cu = dev ? dev->props.compute_units : 1;
    uint64_t g;
    if (dev && dev->props.serial_blocks) {
        /* A CPU block is a chunk of work for one thread: a few per thread balance
         * the load, and at least 4096 elements each amortise the call. */
        g = (n + 4095) / 4096;
        if (g > (uint64_t)cu * 4)
            g = (uint64_t)cu * 4;
    } else {
        g = (n + b - 1) / b;
        if (g > (uint64_t)cu * 32)
            g = (uint64_t)cu * 32;
    }
    if (g == 0)
        g = 1;
    if (grid)
        *grid = (uint32_t)g;
    if (block)
        *block = b;
}

enum trk_status trk_buffer_alloc(struct trk_device *dev, size_t size, struct trk_buffer **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (!dev) {
        TRK_LOGE("NULL device");
        return TRK_ERR_INVALID_ARG;
    }
    if (size > dev->props.max_alloc && dev->props.max_alloc) {
        TRK_LOGE("%s: %zu bytes requested, the device allows at most %llu in one buffer",
                 dev->id, size, (unsigned long long)dev->props.max_alloc);
        return TRK_ERR_NO_MEMORY;
    }
    if (trk_fault_alloc_fires()) {
        TRK_LOGE("%s: injected allocation failure (%zu bytes)", dev->id, size);
        return TRK_ERR_NO_MEMORY;
    }
    struct trk_buffer *b = calloc(1, sizeof *b);
    if (!b)
        return TRK_ERR_NO_MEMORY;
    enum trk_status st = dev->ops->buffer_alloc(dev->ctx, size, &b->handle);
    if (st != TRK_OK) {
        TRK_LOGE("%s: cannot allocate %zu bytes: %s", dev->id, size, trk_status_str(st));
        free(b);
        return st;
    }
    b->dev = dev;
    b->size = size;
    *out = b;
    return TRK_OK;
}

void trk_buffer_free(struct trk_buffer *buf)
{
    if (!buf)
        return;
    buf->dev->ops->buffer_free(buf->dev->ctx, buf->handle);
    free(buf);
}

size_t trk_buffer_size(const struct trk_buffer *buf)
{
    return buf ? buf->size : 0;
}

struct trk_device *trk_buffer_device(const struct trk_buffer *buf)
{
    return buf ? buf->dev : NULL;
}

enum trk_status trk_queue_create(struct trk_device *dev, struct trk_queue **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (!dev)
        return TRK_ERR_INVALID_ARG;
    if (trk_fault_alloc_fires()) {
        TRK_LOGE("%s: injected allocation failure (queue)", dev->id);
        return TRK_ERR_NO_MEMORY;
    }
    struct trk_queue *q = calloc(1, sizeof *q);
    if (!q)
        return TRK_ERR_NO_MEMORY;
    enum trk_status st = dev->ops->queue_create(dev->ctx, &q->handle);
    if (st != TRK_OK) {
        TRK_LOGE("%s: cannot create a queue: %s", dev->id, trk_status_str(st));
        free(q);
        return st;
    }
    q->dev = dev;
    *out = q;
    return TRK_OK;
}

void trk_queue_free(struct trk_queue *q)
{
    if (!q)
        return;
    (void)q->dev->ops->queue_finish(q->handle);
    q->dev->ops->queue_destroy(q->dev->ctx, q->handle);
    free(q);
}

enum trk_status trk_queue_finish(struct trk_queue *q)
{
    if (!q)
        return TRK_ERR_INVALID_ARG;
    return q->dev->ops->queue_finish(q->handle);
}

struct trk_device *trk_queue_device(const struct trk_queue *q)
{
    return q ? q->dev : NULL;
}

static enum trk_status check_range(const char *func, const struct trk_queue *q,
                                   const struct trk_buffer *b, size_t off, size_t size)
{
    if (!q || !b) {
        trk_log(TRK_LOG_ERROR, func, "NULL %s", !q ? "queue" : "buffer");
        return TRK_ERR_INVALID_ARG;
    }
    if (b->dev != q->dev) {
        trk_log(TRK_LOG_ERROR, func, "buffer of %s used on a queue of %s", b->dev->id,
                q->dev->id);
        return TRK_ERR_INVALID_ARG;
    }
    if (off > b->size || size > b->size - off) {
        trk_log(TRK_LOG_ERROR, func, "range [%zu, %zu+%zu) outside a %zu-byte buffer", off, off,
                size, b->size);
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

static enum trk_status maybe_block(struct trk_queue *q, enum trk_status st, bool blocking)
{
    if (st == TRK_OK && blocking)
        st = q->dev->ops->queue_finish(q->handle);
    return st;
}

enum trk_status trk_buffer_write(struct trk_queue *q, struct trk_buffer *dst, size_t offset,
                                 const void *src, size_t size, bool blocking)
{
    enum trk_status st = check_range(__func__, q, dst, offset, size);
    if (st != TRK_OK)
        return st;
    if (size == 0)
        return TRK_OK;
    if (!src) {
        TRK_LOGE("NULL source");
        return TRK_ERR_INVALID_ARG;
    }
    return maybe_block(q, q->dev->ops->write(q->handle, dst, offset, src, size), blocking);
}

enum trk_status trk_buffer_read(struct trk_queue *q, void *dst, struct trk_buffer *src,
                                size_t offset, size_t size, bool blocking)
{
    enum trk_status st = check_range(__func__, q, src, offset, size);
    if (st != TRK_OK)
        return st;
    if (size == 0)
        return TRK_OK;
    if (!dst) {
        TRK_LOGE("NULL destination");
        return TRK_ERR_INVALID_ARG;
    }
    return maybe_block(q, q->dev->ops->read(q->handle, dst, src, offset, size), blocking);
}

enum trk_status trk_buffer_copy(struct trk_queue *q, struct trk_buffer *dst, size_t dst_offset,
                                struct trk_buffer *src, size_t src_offset, size_t size)
{
    enum trk_status st = check_range(__func__, q, dst, dst_offset, size);
    if (st == TRK_OK)
        st = check_range(__func__, q, src, src_offset, size);
    if (st != TRK_OK)
        return st;
    if (size == 0)
        return TRK_OK;
    if (dst == src && dst_offset < src_offset + size && src_offset < dst_offset + size) {
        TRK_LOGE("overlapping copy within one buffer");
        return TRK_ERR_INVALID_ARG;
    }
    return q->dev->ops->copy(q->handle, dst, dst_offset, src, src_offset, size);
}

enum trk_status trk_buffer_memset(struct trk_queue *q, struct trk_buffer *buf, size_t offset,
                                  uint8_t byte, size_t size)
{
    enum trk_status st = check_range(__func__, q, buf, offset, size);
    if (st != TRK_OK || size == 0)
        return st;
    return q->dev->ops->memset(q->handle, buf, offset, byte, size);
}

enum trk_status trk_launch(struct trk_queue *q, uint32_t kernel, uint32_t grid, uint32_t block,
                           uint32_t nargs, const struct trk_arg *args)
{
    if (!q) {
        TRK_LOGE("NULL queue");
        return TRK_ERR_INVALID_ARG;
    }
    const struct trk_kernel_info *ki = trk_kernel_info(kernel);
    if (!ki) {
        TRK_LOGE("unknown kernel id %u (the kernel list has %u kernels)", kernel,
                 (unsigned)TRK_KERNEL_COUNT);
        return TRK_ERR_INVALID_ARG;
    }
    if (nargs != ki->nargs || (nargs && !args)) {
        TRK_LOGE("kernel %s takes %u arguments, %u given", ki->name, ki->nargs, nargs);
        return TRK_ERR_INVALID_ARG;
    }
    for (uint32_t i = 0; i < nargs; i++) {
        if (args[i].kind != ki->args[i]) {
            TRK_LOGE("kernel %s argument %u must be %s, not %s", ki->name, i,
                     trk_arg_kind_str(ki->args[i]), trk_arg_kind_str(args[i].kind));
            return TRK_ERR_INVALID_ARG;
        }
        if (args[i].kind == TRK_ARG_BUF) {
            const struct trk_buffer *b = args[i].v.b.buf;
            if (!b || b->dev != q->dev || args[i].v.b.offset > b->size) {
                TRK_LOGE("kernel %s argument %u: %s", ki->name, i,
                         !b ? "NULL buffer"
                            : b->dev != q->dev ? "buffer belongs to another device"
                                               : "offset past the end of the buffer");
                return TRK_ERR_INVALID_ARG;
            }
            if (args[i].v.b.offset % TRK_ARG_OFFSET_ALIGN) {
                TRK_LOGE("kernel %s argument %u: byte offset %zu is not a multiple of %u; "
                         "pass an element offset as a scalar argument instead",
                         ki->name, i, args[i].v.b.offset, TRK_ARG_OFFSET_ALIGN);
                return TRK_ERR_INVALID_ARG;
            }
        }
    }
    if (grid == 0)
        return TRK_OK;
    if (block == 0 || block > q->dev->props.max_block_size) {
        if (!q->dev->props.serial_blocks) {
            TRK_LOGE("kernel %s: block size %u outside [1, %u] on %s", ki->name, block,
                     q->dev->props.max_block_size, q->dev->id);
            return TRK_ERR_INVALID_ARG;
        }
    }
    return q->dev->ops->launch(q->handle, kernel, grid, block, nargs, args);
}

enum trk_status trk_vendor_sgemm(struct trk_queue *q, const struct trk_sgemm_desc *d)
{
    if (!q || !d || !d->a || !d->b || !d->c)
        return TRK_ERR_INVALID_ARG;
    if (!q->dev->ops->sgemm)
        return TRK_ERR_UNSUPPORTED;
    size_t fa = (size_t)d->m * d->k, fb = (size_t)d->k * d->n, fc = (size_t)d->m * d->n;
    if (check_range(__func__, q, d->a, d->a_off * 4, fa * 4) != TRK_OK ||
        check_range(__func__, q, d->b, d->b_off * 4, fb * 4) != TRK_OK ||
        check_range(__func__, q, d->c, d->c_off * 4, fc * 4) != TRK_OK)
        return TRK_ERR_INVALID_ARG;
    if (d->m == 0 || d->n == 0)
        return TRK_OK;
    return q->dev->ops->sgemm(q->handle, d);
}

enum trk_status trk_event_record(struct trk_queue *q, struct trk_event **out)
{
    if (!q || !out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    struct trk_event *ev = calloc(1, sizeof *ev);
    if (!ev)
        return TRK_ERR_NO_MEMORY;
    enum trk_status st = q->dev->ops->event_record(q->handle, &ev->handle);
    if (st != TRK_OK) {
        free(ev);
        return st;
    }
    ev->dev = q->dev;
    *out = ev;
    return TRK_OK;
}

enum trk_status trk_event_wait(struct trk_event *ev)
{
    return ev ? ev->dev->ops->event_wait(ev->handle) : TRK_ERR_INVALID_ARG;
}

enum trk_status trk_event_query(struct trk_event *ev, bool *done)
{
    if (!ev || !done)
        return TRK_ERR_INVALID_ARG;
    return ev->dev->ops->event_query(ev->handle, done);
}

enum trk_status trk_queue_wait_event(struct trk_queue *q, struct trk_event *ev)
{
    if (!q || !ev)
        return TRK_ERR_INVALID_ARG;
    if (ev->dev != q->dev) {
        TRK_LOGE("event of %s waited on by a queue of %s: wait on the host instead",
                 ev->dev->id, q->dev->id);
        return TRK_ERR_INVALID_ARG;
    }
    if (q->dev->ops->queue_wait_event)
        return q->dev->ops->queue_wait_event(q->handle, ev->handle);
    return ev->dev->ops->event_wait(ev->handle);
}

enum trk_status trk_event_elapsed_ms(struct trk_event *a, struct trk_event *b, double *ms)
{
    if (!a || !b || !ms || a->dev != b->dev)
        return TRK_ERR_INVALID_ARG;
    return a->dev->ops->event_elapsed_ms(a->handle, b->handle, ms);
}

void trk_event_free(struct trk_event *ev)
{
    if (!ev)
        return;
    ev->dev->ops->event_free(ev->handle);
    free(ev);
}
