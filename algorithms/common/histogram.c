/* Host helpers of the histogram and the association (kernels/histogram.kc). */
#include "prim_internal.h"

#define HIST_SHARED_BINS 4096 /* the shared array size in histogram.kc */

/* Rounds a scratch offset up to one a kernel argument may have. */
static size_t hist_align(size_t x)
{
    size_t align = TRK_ARG_OFFSET_ALIGN;
    return (x + align - 1) / align * align;
}

/* Every block zeroes and merges (or writes out) nbins counts: fewer blocks than the
 * device would launch when that would outweigh counting the keys. */
static struct trk_prim_split hist_dims(const struct trk_device *dev, uint32_t n, uint32_t nbins)
{
    uint64_t most = (uint64_t)n / (4 * (uint64_t)nbins + 1) + 1;
    /* On serial-block devices one private histogram per thread is enough; more
     * blocks only add merges, whose atomics bounce cache lines between cores. */
    const struct trk_device_props *p = trk_device_props(dev);
    if (p->serial_blocks && most > p->compute_units)
        most = p->compute_units;
    return trk_prim_split(dev, n, UINT32_MAX, false, most);
}

/* Enqueues the count pass; arguments are assumed checked. */
static enum trk_status hist_count(struct trk_queue *q, struct trk_buffer *keys, uint32_t n,
                                  uint32_t nbins, struct trk_buffer *counts)
{
    if (nbins > HIST_SHARED_BINS) {
        struct trk_arg a[] = {trk_arg_buf(keys), trk_arg_u32(n), trk_arg_u32(nbins),
                              trk_arg_buf(counts)};
        return trk_prim_launch_1d(q, TRK_KERNEL_hist_count_global, n, 4, a);
    }
    struct trk_prim_split d = hist_dims(trk_queue_device(q), n, nbins);
    struct trk_arg a[] = {trk_arg_buf(keys), trk_arg_u32(n), trk_arg_u32(d.per_block),
                          trk_arg_u32(nbins), trk_arg_buf(counts)};
    return trk_launch(q, TRK_KERNEL_hist_count_shared, d.grid, d.block, 5, a);
}

enum trk_status trk_histogram_u32(struct trk_queue *q, struct trk_buffer *keys, uint32_t n,
                                  uint32_t nbins, struct trk_buffer *counts)
{
    if (!q) {
        TRK_LOGE("queue is NULL");
        return TRK_ERR_INVALID_ARG;
    }
    TRK_CHECK_BUF(keys, n, 4);
    TRK_CHECK_BUF(counts, nbins, 4);
    if (n == 0 || nbins == 0)
        return TRK_OK;
    return hist_count(q, keys, n, nbins, counts);
}

/* Two ways to build the association:
 *  - table (serial-block devices, nbins <= HIST_SHARED_BINS): per-block counts in a
 *    bin-major table, one scan of it, per-block cursors; no global atomics, which
 *    cost a CPU more than the rest of the work together;
 *  - atomic (elsewhere): count into offsets, scan them, fill through global atomic
 *    cursors, as Patatrack's HistoContainer does on GPUs. */
struct assoc_plan {
    bool table;
    struct trk_prim_split d;
    uint32_t nscan;         /* entries scanned */
    size_t scan_off, size;  /* scratch layout: [table or cursors][scan scratch] */
};

static struct assoc_plan assoc_plan(const struct trk_device *dev, uint32_t n, uint32_t nbins)
{
    struct assoc_plan p = {0};
    const struct trk_device_props *props = trk_device_props(dev);
    p.table = props && props->serial_blocks && nbins <= HIST_SHARED_BINS;
    p.d = hist_dims(dev, n, nbins);
    /* The table path's nbins * grid stays far below 2^32: nbins <= 4096, and the
     * grid of a serial-block device is a few blocks per thread. */
    p.nscan = p.table ? nbins * p.d.grid + 1 : nbins + 1;
    p.scan_off = hist_align((size_t)(p.table ? p.nscan : nbins) * 4);
    p.size = p.scan_off + trk_scan_scratch_size(dev, p.nscan);
    return p;
}

size_t trk_assoc_scratch_size(const struct trk_device *dev, uint32_t n, uint32_t nbins)
{
    if (nbins == UINT32_MAX)
        nbins--; /* rejected by trk_assoc_build anyway */
    return assoc_plan(dev, n, nbins).size;
}

enum trk_status trk_assoc_build(struct trk_queue *q, struct trk_buffer *keys, uint32_t n,
                                uint32_t nbins, struct trk_buffer *offsets,
                                struct trk_buffer *content, struct trk_buffer *scratch)
{
    if (!q) {
        TRK_LOGE("queue is NULL");
        return TRK_ERR_INVALID_ARG;
    }
    if (nbins == UINT32_MAX) {
        TRK_LOGE("nbins %u leaves no room for offsets[nbins]", nbins);
        return TRK_ERR_INVALID_ARG;
    }
    struct assoc_plan p = assoc_plan(trk_queue_device(q), n, nbins);
    TRK_CHECK_BUF(keys, n, 4);
    TRK_CHECK_BUF(offsets, (uint64_t)nbins + 1, 4);
    TRK_CHECK_BUF(content, n, 4);
    TRK_CHECK_BUF(scratch, p.size, 1);
    if (n == 0 || nbins == 0)
        return trk_buffer_memset(q, offsets, 0, 0, ((size_t)nbins + 1) * 4);

    enum trk_status st;
    if (p.table) {
        struct trk_arg ca[] = {trk_arg_buf(keys), trk_arg_u32(n), trk_arg_u32(p.d.per_block),
                               trk_arg_u32(nbins), trk_arg_buf(scratch)};
        struct trk_arg fa[] = {trk_arg_buf(keys),    trk_arg_u32(n),
                               trk_arg_u32(p.d.per_block), trk_arg_u32(nbins),
                               trk_arg_buf(scratch), trk_arg_buf(offsets),
                               trk_arg_buf(content)};
        st = trk_launch(q, TRK_KERNEL_hist_block_counts, p.d.grid, p.d.block, 5, ca);
        if (st == TRK_OK)
            st = trk_prim_scan_at(q, trk_arg_buf(scratch), trk_arg_buf(scratch), p.nscan, NULL,
                                  scratch, p.scan_off);
        if (st == TRK_OK)
            st = trk_launch(q, TRK_KERNEL_hist_block_fill, p.d.grid, p.d.block, 7, fa);
        return st;
    }
    /* offsets[nbins] stays 0 while counting, so scanning nbins + 1 entries leaves
     * the number of placed indices there. */
    st = trk_buffer_memset(q, offsets, 0, 0, ((size_t)nbins + 1) * 4);
    if (st == TRK_OK)
        st = hist_count(q, keys, n, nbins, offsets);
    if (st == TRK_OK)
        st = trk_prim_scan_at(q, trk_arg_buf(offsets), trk_arg_buf(offsets), p.nscan, NULL,
                              scratch, p.scan_off);
    if (st == TRK_OK)
        st = trk_buffer_copy(q, scratch, 0, offsets, 0, (size_t)nbins * 4);
    if (st == TRK_OK) {
        struct trk_arg a[] = {trk_arg_buf(keys), trk_arg_u32(n), trk_arg_u32(nbins),
                              trk_arg_buf(scratch), trk_arg_buf(content)};
        st = trk_prim_launch_1d(q, TRK_KERNEL_hist_fill, n, 5, a);
    }
    return st;
}
