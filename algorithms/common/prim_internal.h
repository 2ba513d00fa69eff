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

/* Scan of buffer views, for scan.c and histogram.c (buffer +
 * byte offset, as kernel arguments), scratch from scratch_off (a multiple of
 * TRK_ARG_OFFSET_ALIGN); nothing is checked. */
enum trk_status trk_prim_scan_at(struct trk_queue *q, struct trk_arg in, struct trk_arg out,
                                 uint32_t n, const struct trk_arg *total,
                                 struct trk_buffer *scratch, size_t scratch_off);

#endif
