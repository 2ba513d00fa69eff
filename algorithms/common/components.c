/* Host side of connected components (kernels/components.kc). */
#include "prim_internal.h"

size_t trk_components_scratch_size(const struct trk_device *dev, uint32_t nvert, uint32_t nedge)
{
    /* Union-find runs in the labels array itself. */
    (void)dev;
    (void)nvert;
    (void)nedge;
    return 0;
}

enum trk_status trk_components(struct trk_queue *q, uint32_t nvert, struct trk_buffer *src,
                               struct trk_buffer *dst, uint32_t nedge, struct trk_buffer *labels,
                               struct trk_buffer *ncomp, struct trk_buffer *scratch)
{
    (void)scratch; /* none needed (size 0): may be NULL */
    if (!q) {
        TRK_LOGE("NULL queue");
        return TRK_ERR_INVALID_ARG;
    }
    TRK_CHECK_BUF(labels, nvert, 4);
    /* An empty edge list may come as NULL buffers. */
    if (nedge > 0 || src || dst) {
        TRK_CHECK_BUF(src, nedge, 4);
        TRK_CHECK_BUF(dst, nedge, 4);
    }
    if (ncomp) {
        TRK_CHECK_BUF(ncomp, 1, 4);
        if (ncomp == labels || ncomp == src || ncomp == dst) {
            TRK_LOGE("ncomp must be a buffer of its own, not labels, src or dst");
            return TRK_ERR_INVALID_ARG;
        }
    }
    if (labels == src || labels == dst) {
        TRK_LOGE("labels must not be the src or dst buffer (it is written while they are read)");
        return TRK_ERR_INVALID_ARG;
    }

    enum trk_status st = ncomp ? trk_buffer_memset(q, ncomp, 0, 0, 4) : TRK_OK;
    if (st != TRK_OK || nvert == 0)
        return st;
    struct trk_arg init[] = {trk_arg_buf(labels), trk_arg_u32(nvert)};
    st = trk_prim_launch_1d(q, TRK_KERNEL_cc_init, nvert, 2, init);
    if (st == TRK_OK && nedge > 0) {
        struct trk_arg hook[] = {trk_arg_buf(labels), trk_arg_buf(src), trk_arg_buf(dst),
                                 trk_arg_u32(nedge), trk_arg_u32(nvert)};
        st = trk_prim_launch_1d(q, TRK_KERNEL_cc_hook, nedge, 5, hook);
    }
    if (st == TRK_OK) {
        /* Without ncomp the kernel gets labels in its place and never touches it. */
        struct trk_arg flat[] = {trk_arg_buf(labels), trk_arg_buf(ncomp ? ncomp : labels),
                                 trk_arg_u32(nvert), trk_arg_u32(ncomp != NULL)};
        st = trk_prim_launch_1d(q, TRK_KERNEL_cc_flatten, nvert, 4, flat);
    }
    return st;
}
