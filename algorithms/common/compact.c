/* Host helper of the stream compaction (kernels/compact.kc). */
#include "prim_internal.h"

#define COMPACT_MAX_BLOCK 1024 /* the shared tile size in compact.kc and scan.kc */

/* As the scan: the device's usual grid, each block a run of whole tiles. */
static struct trk_prim_split compact_dims(const struct trk_device *dev, uint32_t n)
{
    return trk_prim_split(dev, n, COMPACT_MAX_BLOCK, true, 0);
}

size_t trk_compact_scratch_size(const struct trk_device *dev, uint32_t n)
{
    return (size_t)compact_dims(dev, n).grid * 4;
}

enum trk_status trk_compact_u32(struct trk_queue *q, struct trk_buffer *in,
                                struct trk_buffer *flags, uint32_t n, struct trk_buffer *out,
                                struct trk_buffer *count, struct trk_buffer *scratch)
{
    if (!q) {
        TRK_LOGE("queue is NULL");
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_prim_split d = compact_dims(trk_queue_device(q), n);
    if (in)
        TRK_CHECK_BUF(in, n, 4);
    TRK_CHECK_BUF(flags, n, 4);
    TRK_CHECK_BUF(out, n, 4);
    TRK_CHECK_BUF(count, 1, 4);
    TRK_CHECK_BUF(scratch, d.grid, 4);
    if (n == 0)
        return trk_buffer_memset(q, count, 0, 0, 4);

    struct trk_arg ca[] = {trk_arg_buf(flags), trk_arg_u32(n), trk_arg_u32(d.per_block),
                           trk_arg_buf(scratch)};
    struct trk_arg sa[] = {trk_arg_buf(scratch), trk_arg_buf(scratch), trk_arg_u32(d.grid),
                           trk_arg_buf(count),
                           trk_arg_u32(trk_prim_scan_items(trk_queue_device(q)))};
    /* Without in, flags stands in for it: the kernel needs a buffer but reads none. */
    struct trk_arg wa[] = {trk_arg_buf(in ? in : flags), trk_arg_buf(flags), trk_arg_u32(n),
                           trk_arg_u32(d.per_block), trk_arg_buf(scratch), trk_arg_buf(count),
                           trk_arg_buf(out), trk_arg_u32(in != NULL)};
    enum trk_status st = trk_launch(q, TRK_KERNEL_compact_count, d.grid, d.block, 4, ca);
    if (st == TRK_OK)
        st = trk_launch(q, TRK_KERNEL_scan_single_block, 1, d.block, 5, sa);
    if (st == TRK_OK)
        st = trk_launch(q, TRK_KERNEL_compact_scatter, d.grid, d.block, 8, wa);
    return st;
}
