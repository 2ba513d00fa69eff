/* Host helpers of the reductions (kernels/reduce.kc). */
#include "prim_internal.h"

#define REDUCE_MAX_BLOCK 1024 /* the shared array size in reduce.kc */

static struct trk_prim_split reduce_dims(const struct trk_device *dev, uint32_t n)
{
    return trk_prim_split(dev, n, REDUCE_MAX_BLOCK, false, 0);
}

size_t trk_reduce_scratch_size(const struct trk_device *dev, uint32_t n)
{
    return (size_t)reduce_dims(dev, n).grid * 4;
}

/* Partials per block into scratch, then one block over the partials; a single
 * block (small n, and n == 0 for the identity) writes out directly. */
static enum trk_status reduce_any(const char *func, struct trk_queue *q, uint32_t kernel,
                                  struct trk_buffer *in, uint32_t n, enum trk_reduce_op op,
                                  struct trk_buffer *out, struct trk_buffer *scratch)
{
    if (!q) {
        trk_log(TRK_LOG_ERROR, func, "queue is NULL");
        return TRK_ERR_INVALID_ARG;
    }
    if (op != TRK_REDUCE_SUM && op != TRK_REDUCE_MIN && op != TRK_REDUCE_MAX) {
        trk_log(TRK_LOG_ERROR, func, "unknown reduce op %d", (int)op);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_prim_split d = reduce_dims(trk_queue_device(q), n);
    if (!trk_prim_buf_ok_(func, "in", in, n, 4) || !trk_prim_buf_ok_(func, "out", out, 1, 4) ||
        !trk_prim_buf_ok_(func, "scratch", scratch, d.grid, 4))
        return TRK_ERR_INVALID_ARG;
    if (d.grid == 1) {
        struct trk_arg a[] = {trk_arg_buf(in), trk_arg_u32(n), trk_arg_u32(d.per_block),
                              trk_arg_u32((uint32_t)op), trk_arg_buf(out)};
        return trk_launch(q, kernel, 1, d.block, 5, a);
    }
    struct trk_arg pa[] = {trk_arg_buf(in), trk_arg_u32(n), trk_arg_u32(d.per_block),
                           trk_arg_u32((uint32_t)op), trk_arg_buf(scratch)};
    struct trk_arg fa[] = {trk_arg_buf(scratch), trk_arg_u32(d.grid), trk_arg_u32(d.grid),
                           trk_arg_u32((uint32_t)op), trk_arg_buf(out)};
    enum trk_status st = trk_launch(q, kernel, d.grid, d.block, 5, pa);
    if (st == TRK_OK)
        st = trk_launch(q, kernel, 1, d.block, 5, fa);
    return st;
}

enum trk_status trk_reduce_f32(struct trk_queue *q, struct trk_buffer *in, uint32_t n,
                               enum trk_reduce_op op, struct trk_buffer *out,
                               struct trk_buffer *scratch)
{
    return reduce_any(__func__, q, TRK_KERNEL_reduce_f32, in, n, op, out, scratch);
}

enum trk_status trk_reduce_u32(struct trk_queue *q, struct trk_buffer *in, uint32_t n,
                               enum trk_reduce_op op, struct trk_buffer *out,
                               struct trk_buffer *scratch)
{
    return reduce_any(__func__, q, TRK_KERNEL_reduce_u32, in, n, op, out, scratch);
}

enum trk_status trk_reduce_i32(struct trk_queue *q, struct trk_buffer *in, uint32_t n,
                               enum trk_reduce_op op, struct trk_buffer *out,
                               struct trk_buffer *scratch)
{
    return reduce_any(__func__, q, TRK_KERNEL_reduce_i32, in, n, op, out, scratch);
}
