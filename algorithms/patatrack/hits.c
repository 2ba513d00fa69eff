/* The hits of Patatrack: their device arrays, the per-layer φ index the doublets
 * search (kernels/pt_hits.kc), and a host upload for tests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pt_internal.h"

#define PT_HITS_NKEYS (PT_NLAYERS * PT_PHI_BINS) /* φ index bins; key NKEYS = no layer */
#define PT_HITS_KEY_BITS 11u                     /* keys ≤ 1280 < 2^11 */

enum trk_status pt_hits_alloc(struct trk_pt_instance *pt)
{
    struct pt_hits *h = &pt->hits;
    size_t cap = pt->p.max_hits;
    size_t sort_bytes = trk_sort_scratch_size(pt->dev, (uint32_t)cap);
    size_t scan_bytes = trk_scan_scratch_size(pt->dev, PT_HITS_NKEYS + 1);
    enum trk_status st = TRK_OK;
#define PT_HITS_ALLOC(field, bytes)                                                    \
    if (st == TRK_OK)                                                                  \
    st = pt_alloc(pt, &h->field, (bytes), "hits." #field)
    PT_HITS_ALLOC(x, cap * 4);
    PT_HITS_ALLOC(y, cap * 4);
    PT_HITS_ALLOC(z, cap * 4);
    PT_HITS_ALLOC(r, cap * 4);
    PT_HITS_ALLOC(iphi, cap * 2);
    PT_HITS_ALLOC(gcov, cap * 6 * 4);
    PT_HITS_ALLOC(xerr2, cap * 4);
    PT_HITS_ALLOC(yerr2, cap * 4);
    PT_HITS_ALLOC(size_x, cap * 2);
    PT_HITS_ALLOC(size_y, cap * 2);
    PT_HITS_ALLOC(charge, cap * 4);
    PT_HITS_ALLOC(module, cap * 4);
    PT_HITS_ALLOC(layer_start, (PT_NLAYERS + 1) * 4);
    PT_HITS_ALLOC(phi_offsets, (PT_HITS_NKEYS + 1) * 4);
    PT_HITS_ALLOC(phi_hits, cap * 4);
    PT_HITS_ALLOC(digi_hit, (size_t)pt->p.max_fed_words * 4);
    PT_HITS_ALLOC(idx_keys, cap * 4);
    PT_HITS_ALLOC(idx_vals, cap * 4);
    PT_HITS_ALLOC(idx_sorted, cap * 4);
    PT_HITS_ALLOC(idx_scratch, sort_bytes > scan_bytes ? sort_bytes : scan_bytes);
#undef PT_HITS_ALLOC
    if (st != TRK_OK)
        pt_hits_free(pt);
    return st;
}

void pt_hits_free(struct trk_pt_instance *pt)
{
    struct pt_hits *h = &pt->hits;
    struct trk_buffer **all[] = {&h->x,        &h->y,           &h->z,        &h->r,
                                 &h->iphi,     &h->gcov,        &h->xerr2,    &h->yerr2,
                                 &h->size_x,   &h->size_y,      &h->charge,   &h->module,
                                 &h->layer_start, &h->phi_offsets, &h->phi_hits, &h->digi_hit,
                                 &h->idx_keys, &h->idx_vals,    &h->idx_sorted, &h->idx_scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (*all[i])
            pt->mem_bytes -= trk_buffer_size(*all[i]);
        trk_buffer_free(*all[i]);
        *all[i] = NULL;
    }
}

/* keys = layer·bins + φ bin → stable sort of (key, hit) pairs gives the hits by bin in
 * increasing hit index; offsets = exclusive scan of the per-key counts. */
enum trk_status pt_hits_index(struct trk_pt_instance *pt)
{
    struct pt_hits *h = &pt->hits;
    uint32_t n = pt->nhits;
    if (!h->phi_offsets) {
        TRK_LOGE("hits are not allocated: call pt_hits_alloc first");
        return TRK_ERR_INVALID_ARG;
    }
    if (n > pt->p.max_hits) {
        TRK_LOGE("%u hits exceed max_hits %u", n, pt->p.max_hits);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st =
        trk_buffer_memset(pt->q, h->phi_offsets, 0, 0, (PT_HITS_NKEYS + 1) * sizeof(uint32_t));
    if (st == TRK_OK && n > 0) {
        uint32_t grid, block;
        trk_device_launch_dims(pt->dev, n, &grid, &block);
        st = TRK_LAUNCH(pt->q, TRK_KERNEL_pt_hits_keys, grid, block, trk_arg_buf(h->iphi),
                        trk_arg_buf(h->layer_start), trk_arg_u32(n), trk_arg_buf(h->idx_keys));
        if (st == TRK_OK)
            st = trk_iota_u32(pt->q, h->idx_vals, n, 0);
        if (st == TRK_OK)
            st = trk_sort_pairs_u32(pt->q, h->idx_keys, h->idx_vals, h->idx_sorted, h->phi_hits, n,
                                    PT_HITS_KEY_BITS, h->idx_scratch);
        if (st == TRK_OK)
            st = trk_histogram_u32(pt->q, h->idx_keys, n, PT_HITS_NKEYS, h->phi_offsets);
    }
    if (st == TRK_OK)
        st = trk_scan_u32(pt->q, h->phi_offsets, h->phi_offsets, PT_HITS_NKEYS + 1, NULL,
                          h->idx_scratch);
    if (st != TRK_OK)
        TRK_LOGE("cannot build the φ index of %u hits: %s", n, trk_status_str(st));
    return st;
}

enum trk_status pt_hits_upload(struct trk_pt_instance *pt, const struct pt_host_hits *h)
{
    struct pt_hits *d = &pt->hits;
    uint32_t n = h->n;
    if (!d->x) {
        TRK_LOGE("hits are not allocated: call pt_hits_alloc first");
        return TRK_ERR_INVALID_ARG;
    }
    if (n > pt->p.max_hits) {
        TRK_LOGE("%u hits exceed max_hits %u: raise max_hits", n, pt->p.max_hits);
        return TRK_ERR_INVALID_ARG;
    }
    uint32_t layer_start[PT_NLAYERS + 1];
    for (uint32_t l = 0, i = 0; l <= PT_NLAYERS; l++) {
        while (i < n && h->module[i] < trk_cms_layer_start[l])
            i++;
        layer_start[l] = i;
    }
    for (uint32_t i = 1; i < n; i++)
        if (h->module[i] < h->module[i - 1]) {
            TRK_LOGE("hit %u: module %u after %u; hits must be ordered by module", i,
                     h->module[i], h->module[i - 1]);
            return TRK_ERR_INVALID_ARG;
        }
    size_t nn = n ? n : 1;
    float *r = malloc(nn * sizeof *r);
    int16_t *iphi = malloc(nn * sizeof *iphi);
    void *zero = calloc(nn * 6, sizeof(float));
    enum trk_status st = TRK_ERR_NO_MEMORY;
    if (!r || !iphi || !zero)
        goto fail;
    for (uint32_t i = 0; i < n; i++) {
        r[i] = hypotf(h->x[i], h->y[i]);
        long v = lrintf(atan2f(h->y[i], h->x[i]) * (32768.f / 3.14159265358979f));
        iphi[i] = (int16_t)(uint16_t)(v & 0xffff);
    }
    struct {
        struct trk_buffer *buf;
        const void *src;
        size_t bytes;
    } up[] = {
        {d->x, h->x, n * 4u},
        {d->y, h->y, n * 4u},
        {d->z, h->z, n * 4u},
        {d->r, r, n * 4u},
        {d->iphi, iphi, n * 2u},
        {d->module, h->module, n * 4u},
        {d->gcov, h->gcov ? (const void *)h->gcov : zero, n * 24u},
        {d->size_x, h->size_x ? (const void *)h->size_x : zero, n * 2u},
        {d->size_y, h->size_y ? (const void *)h->size_y : zero, n * 2u},
        {d->xerr2, zero, n * 4u},
        {d->yerr2, zero, n * 4u},
        {d->charge, zero, n * 4u},
        {d->layer_start, layer_start, sizeof layer_start},
    };
    st = TRK_OK;
    for (size_t k = 0; k < sizeof up / sizeof up[0] && st == TRK_OK; k++)
        if (up[k].bytes)
            st = trk_buffer_write(pt->q, up[k].buf, 0, up[k].src, up[k].bytes, false);
    pt->nhits = n;
    if (st == TRK_OK)
        st = pt_hits_index(pt);
    enum trk_status fst = trk_queue_finish(pt->q);
    if (st == TRK_OK)
        st = fst;
fail:
    if (st != TRK_OK)
        TRK_LOGE("cannot upload %u hits: %s", n, trk_status_str(st));
    free(r);
    free(iphi);
    free(zero);
    return st;
}
