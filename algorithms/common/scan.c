/* Host helper of the exclusive scan (kernels/scan.kc). */
#include "prim_internal.h"

#define SCAN_MAX_BLOCK 1024 /* the shared tile size in scan.kc */

/* Blocks own whole tiles of consecutive elements; the grid is the device's usual
 * one (a few chunks per CPU thread, enough blocks to fill a GPU). */
static struct trk_prim_split scan_dims(const struct trk_device *dev, uint32_t n)
{
    return trk_prim_split(dev, n, SCAN_MAX_BLOCK, true, 0);
}

/* Layout: block sums at 0, then a slot for the total nobody asked for (at an
 * offset a kernel argument may have). */
static size_t scan_total_slot(uint32_t grid)
{
    size_t align = TRK_ARG_OFFSET_ALIGN;
    return ((size_t)grid * 4 + align - 1) / align * align;
}

size_t trk_scan_scratch_size(const struct trk_device *dev, uint32_t n)
{
    return scan_total_slot(scan_dims(dev, n).grid) + 4;
}

enum trk_status trk_prim_scan_at(struct trk_queue *q, struct trk_arg in, struct trk_arg out,
                                 uint32_t n, const struct trk_arg *total,
                                 struct trk_buffer *scratch, size_t scratch_off)
{
    struct trk_prim_split d = scan_dims(trk_queue_device(q), n);
    struct trk_arg items = trk_arg_u32(trk_prim_scan_items(trk_queue_device(q)));
    struct trk_arg sums = trk_arg_buf_at(scratch, scratch_off);
    struct trk_arg total_arg =
        total ? *total : trk_arg_buf_at(scratch, scratch_off + scan_total_slot(d.grid));
    if (d.grid == 1) {
        struct trk_arg a[] = {in, out, trk_arg_u32(n), total_arg, items};
        return trk_launch(q, TRK_KERNEL_scan_single_block, 1, d.block, 5, a);
    }
    struct trk_arg ra[] = {in, trk_arg_u32(n), trk_arg_u32(d.per_block), sums};
    struct trk_arg sa[] = {sums, sums, trk_arg_u32(d.grid), total_arg, items};
    struct trk_arg aa[] = {in, out, trk_arg_u32(n), trk_arg_u32(d.per_block), sums, items};
    enum trk_status st = trk_launch(q, TRK_KERNEL_scan_block_reduce, d.grid, d.block, 4, ra);
    if (st == TRK_OK)
        st = trk_launch(q, TRK_KERNEL_scan_single_block, 1, d.block, 5, sa);
    if (st == TRK_OK)
        st = trk_launch(q, TRK_KERNEL_scan_block_apply, d.grid, d.block, 6, aa);
    return st;
}

enum trk_status trk_scan_u32(struct trk_queue *q, struct trk_buffer *in, struct trk_buffer *out,
                             uint32_t n, struct trk_buffer *total, struct trk_buffer *scratch)
{
    if (!q) {
        TRK_LOGE("queue is NULL");
        return TRK_ERR_INVALID_ARG;
    }
    TRK_CHECK_BUF(in, n, 4);
    TRK_CHECK_BUF(out, n, 4);
    if (total)
        TRK_CHECK_BUF(total, 1, 4);
    TRK_CHECK_BUF(scratch, trk_scan_scratch_size(trk_queue_device(q), n), 1);
    if (n == 0)
        return total ? trk_buffer_memset(q, total, 0, 0, 4) : TRK_OK;
    struct trk_arg total_arg = trk_arg_buf(total);
    return trk_prim_scan_at(q, trk_arg_buf(in), trk_arg_buf(out), n, total ? &total_arg : NULL,
                            scratch, 0);
}
