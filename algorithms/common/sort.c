/* Host side of the stable LSD radix sort (kernels/sort.kc). */
#include "prim_internal.h"

#define SORT_RADIX 256u
#define SORT_TILE 256u           /* as in sort.kc */
#define SORT_SCAN_THREADS 1024u  /* as in sort.kc */
#define SORT_TILES_PER_BLOCK 8u  /* GPU: enough work per block to amortise the table */
#define SORT_INFO_WORDS 8u
#define SORT_ALIGN TRK_ARG_OFFSET_ALIGN /* scratch regions are passed as buffer offsets */

/* How a sort of n keys is laid out on a device: grid and block of the count and
 * scatter kernels, keys per block, block of the one-block table scan, and the
 * scratch regions (byte offsets). */
struct sort_layout {
    uint32_t grid, block, per_block, scan_block;
    size_t keys_tmp, vals_tmp, table, info, bytes;
};

static size_t sort_align(size_t x)
{
    return (x + SORT_ALIGN - 1) / SORT_ALIGN * SORT_ALIGN;
}

static void sort_layout(const struct trk_device *dev, uint32_t n, struct sort_layout *l)
{
    const struct trk_device_props *p = trk_device_props(dev);
    if (p->serial_blocks) {
        trk_device_launch_dims(dev, n, &l->grid, &l->block);
    } else {
        uint32_t cu = p->compute_units ? p->compute_units : 1;
        l->block = p->preferred_block < SORT_TILE ? p->preferred_block : SORT_TILE;
        if (l->block == 0)
            l->block = 1;
        uint64_t per = (uint64_t)l->block * SORT_TILES_PER_BLOCK;
        uint64_t g = ((uint64_t)n + per - 1) / per;
        if (g > (uint64_t)cu * 4)
            g = (uint64_t)cu * 4;
        l->grid = g ? (uint32_t)g : 1;
    }
    l->scan_block = p->max_block_size < SORT_SCAN_THREADS ? p->max_block_size : SORT_SCAN_THREADS;
    if (l->scan_block == 0)
        l->scan_block = 1;
    l->per_block = (uint32_t)(((uint64_t)n + l->grid - 1) / l->grid);
    l->keys_tmp = 0;
    l->vals_tmp = sort_align((size_t)n * 4);
    l->table = l->vals_tmp + sort_align((size_t)n * 4);
    l->info = l->table + sort_align((size_t)SORT_RADIX * l->grid * 4);
    l->bytes = l->info + SORT_INFO_WORDS * 4;
}

size_t trk_sort_scratch_size(const struct trk_device *dev, uint32_t n)
{
    struct sort_layout l;
    if (!dev)
        return 0;
    sort_layout(dev, n, &l);
    return l.bytes;
}

enum trk_status trk_sort_pairs_u32(struct trk_queue *q, struct trk_buffer *keys_in,
                                   struct trk_buffer *vals_in, struct trk_buffer *keys_out,
                                   struct trk_buffer *vals_out, uint32_t n, uint32_t key_bits,
                                   struct trk_buffer *scratch)
{
    if (!q) {
        TRK_LOGE("NULL queue");
        return TRK_ERR_INVALID_ARG;
    }
    if (key_bits < 1 || key_bits > 32) {
        TRK_LOGE("key_bits is %u, expected 1..32", key_bits);
        return TRK_ERR_INVALID_ARG;
    }
    if (!vals_in != !vals_out) {
        TRK_LOGE("vals_in and vals_out must both be given or both be NULL");
        return TRK_ERR_INVALID_ARG;
    }
    TRK_CHECK_BUF(keys_in, n, 4);
    TRK_CHECK_BUF(keys_out, n, 4);
    if (vals_in) {
        TRK_CHECK_BUF(vals_in, n, 4);
        TRK_CHECK_BUF(vals_out, n, 4);
    }
    /* Intermediate passes go through keys_out: every output and the scratch must be a
     * buffer of its own (the two inputs may be one buffer). */
    static const char *const names[] = {"keys_in", "vals_in", "keys_out", "vals_out", "scratch"};
    const struct trk_buffer *bufs[] = {keys_in, vals_in, keys_out, vals_out, scratch};
    for (size_t i = 2; i < 5; i++) {
        for (size_t j = 0; bufs[i] && j < i; j++) {
            if (bufs[j] == bufs[i]) {
                TRK_LOGE("%s is the same buffer as %s; expected outputs and scratch distinct "
                         "from every other argument", names[i], names[j]);
                return TRK_ERR_INVALID_ARG;
            }
        }
    }
    struct sort_layout l;
    sort_layout(trk_queue_device(q), n, &l);
    TRK_CHECK_BUF(scratch, l.bytes, 1);
    if (n == 0)
        return TRK_OK;

    /* Without values the kernels get the key buffers in their place and never touch them. */
    uint32_t has_vals = vals_in != NULL;
    struct trk_buffer *vin = has_vals ? vals_in : keys_in, *vout = has_vals ? vals_out : keys_out;
    struct trk_arg ktmp = trk_arg_buf_at(scratch, l.keys_tmp);
    struct trk_arg vtmp = trk_arg_buf_at(scratch, has_vals ? l.vals_tmp : l.keys_tmp);
    struct trk_arg table = trk_arg_buf_at(scratch, l.table), info = trk_arg_buf_at(scratch, l.info);

    enum trk_status st = trk_buffer_memset(q, scratch, l.info, 0xff, 4 * 4);
    if (st == TRK_OK)
        st = trk_buffer_memset(q, scratch, l.info + 4 * 4, 0, 4 * 4);
    if (st == TRK_OK) {
        struct trk_arg a[] = {trk_arg_buf(keys_in), info, trk_arg_u32(n), trk_arg_u32(key_bits)};
        st = trk_prim_launch_1d(q, TRK_KERNEL_sort_digit_range, n, 4, a);
    }
    for (uint32_t pass = 0; pass < (key_bits + 7) / 8 && st == TRK_OK; pass++) {
        struct trk_arg count[] = {trk_arg_buf(keys_in), trk_arg_buf(keys_out), ktmp,
                                  table, info, trk_arg_u32(n), trk_arg_u32(l.per_block),
                                  trk_arg_u32(pass), trk_arg_u32(key_bits)};
        struct trk_arg scan[] = {table, info, trk_arg_u32(SORT_RADIX * l.grid), trk_arg_u32(pass),
                                 trk_arg_u32(key_bits)};
        struct trk_arg scatter[] = {trk_arg_buf(keys_in), trk_arg_buf(vin), trk_arg_buf(keys_out),
                                    trk_arg_buf(vout), ktmp, vtmp, table, info, trk_arg_u32(n),
                                    trk_arg_u32(l.per_block), trk_arg_u32(pass),
                                    trk_arg_u32(key_bits), trk_arg_u32(has_vals)};
        st = trk_launch(q, TRK_KERNEL_sort_count, l.grid, l.block, 9, count);
        if (st == TRK_OK)
            st = trk_launch(q, TRK_KERNEL_sort_scan_table, 1, l.scan_block, 5, scan);
        if (st == TRK_OK)
            st = trk_launch(q, TRK_KERNEL_sort_scatter, l.grid, l.block, 13, scatter);
    }
    return st;
}
