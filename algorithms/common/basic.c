/* Host helpers for the basic kernels (kernels/basic.kc). */
#include <string.h>

#include "prim_internal.h"

enum trk_status trk_fill_u32(struct trk_queue *q, struct trk_buffer *buf, uint32_t n,
                             uint32_t value)
{
    if (!q)
        return TRK_ERR_INVALID_ARG;
    TRK_CHECK_BUF(buf, n, 4);
    if (n == 0)
        return TRK_OK;
    struct trk_arg a[] = {trk_arg_buf(buf), trk_arg_u32(n), trk_arg_u32(value)};
    return trk_prim_launch_1d(q, TRK_KERNEL_fill_u32, n, 3, a);
}

enum trk_status trk_fill_f32(struct trk_queue *q, struct trk_buffer *buf, uint32_t n, float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return trk_fill_u32(q, buf, n, bits);
}

enum trk_status trk_copy_u32(struct trk_queue *q, struct trk_buffer *dst, struct trk_buffer *src,
                             uint32_t n)
{
    if (!q)
        return TRK_ERR_INVALID_ARG;
    TRK_CHECK_BUF(dst, n, 4);
    TRK_CHECK_BUF(src, n, 4);
    if (n == 0)
        return TRK_OK;
    struct trk_arg a[] = {trk_arg_buf(dst), trk_arg_buf(src), trk_arg_u32(n)};
    return trk_prim_launch_1d(q, TRK_KERNEL_copy_u32, n, 3, a);
}

enum trk_status trk_iota_u32(struct trk_queue *q, struct trk_buffer *buf, uint32_t n,
                             uint32_t start)
{
    if (!q)
        return TRK_ERR_INVALID_ARG;
    TRK_CHECK_BUF(buf, n, 4);
    if (n == 0)
        return TRK_OK;
    struct trk_arg a[] = {trk_arg_buf(buf), trk_arg_u32(n), trk_arg_u32(start)};
    return trk_prim_launch_1d(q, TRK_KERNEL_iota_u32, n, 3, a);
}
