/* Private helpers of the primitives' host code. */
#ifndef TRK_PRIM_INTERNAL_H
#define TRK_PRIM_INTERNAL_H

#include "trk/log.h"
#include "trk/prim.h"

/* Fails with a log line naming the caller when buf is NULL or holds fewer than
 * count elements of esize bytes. */
#define TRK_CHECK_BUF(buf, count, esize)                                               \
    do {                                                                               \
        if (!trk_prim_buf_ok_(__func__, #buf, (buf), (uint64_t)(count), (esize)))      \
            return TRK_ERR_INVALID_ARG;                                                \
    } while (0)

static inline bool trk_prim_buf_ok_(const char *func, const char *name,
                                    const struct trk_buffer *buf, uint64_t count, size_t esize)
{
    if (!buf) {
        trk_log(TRK_LOG_ERROR, func, "buffer %s is NULL", name);
        return false;
    }
    if (trk_buffer_size(buf) / esize < count) {
        trk_log(TRK_LOG_ERROR, func, "buffer %s holds %zu bytes, %llu x %zu needed", name,
                trk_buffer_size(buf), (unsigned long long)count, esize);
        return false;
    }
    return true;
}

/* Launches kernel over an n-element grid loop with the device's default dims. */
static inline enum trk_status trk_prim_launch_1d(struct trk_queue *q, uint32_t kernel, uint32_t n,
                                                 uint32_t nargs, const struct trk_arg *args)
{
    uint32_t grid, block;
    trk_device_launch_dims(trk_queue_device(q), n, &grid, &block);
    return trk_launch(q, kernel, grid, block, nargs, args);
}

/* Contiguous per-block ranges: block b owns elements [b * per_block, ...). */
struct trk_prim_split {
    uint32_t grid, block, per_block;
};

/* Splits n elements over the device's usual grid (trk_device_launch_dims), with the
 * block capped at max_block, at most max_grid blocks (0: no cap) and, with
 * whole_tiles, every range a multiple of the block size. grid >= 1 always. */
static inline struct trk_prim_split trk_prim_split(const struct trk_device *dev, uint32_t n,
                                                   uint32_t max_block, bool whole_tiles,
                                                   uint64_t max_grid)
{
    struct trk_prim_split d;
    trk_device_launch_dims(dev, n, &d.grid, &d.block);
    if (d.block > max_block)
        d.block = max_block;
    if (max_grid && d.grid > max_grid)
        d.grid = (uint32_t)max_grid;
    uint64_t per = ((uint64_t)n + d.grid - 1) / d.grid;
    if (whole_tiles)
        per = (per + d.block - 1) / d.block * d.block;
    if (per == 0)
        per = whole_tiles ? d.block : 1;
    if (per > UINT32_MAX)
        per = UINT32_MAX / d.block * d.block;
    d.per_block = (uint32_t)per;
    d.grid = (uint32_t)(((uint64_t)n + per - 1) / per);
    if (d.grid == 0)
        d.grid = 1;
    return d;
}

/* Elements each thread of a multi-thread block scans serially inside a tile (see
 * scan.kc): many on CPU OpenCL devices, where every barrier costs a loop over the
 * work-items; one on GPUs, for coalesced loads. */
static inline uint32_t trk_prim_scan_items(const struct trk_device *dev)
{
    const struct trk_device_props *p = trk_device_props(dev);
    return !p->serial_blocks && p->kind == TRK_DEVICE_KIND_CPU ? 64u : 1u;
}

/* Scan of buffer views, for scan.c and histogram.c (buffer +
 * byte offset, as kernel arguments), scratch from scratch_off (a multiple of
 * TRK_ARG_OFFSET_ALIGN); nothing is checked. */
enum trk_status trk_prim_scan_at(struct trk_queue *q, struct trk_arg in, struct trk_arg out,
                                 uint32_t n, const struct trk_arg *total,
                                 struct trk_buffer *scratch, size_t scratch_off);

#endif
