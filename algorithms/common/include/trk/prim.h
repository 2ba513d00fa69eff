/* trkserve — parallel primitives shared by the trackers. Each is a set of dialect
 * kernels (algorithms/common/kernels/) plus the host helper declared here.
 *
 * Common contract, unless a function says otherwise:
 *  - helpers ENQUEUE work on q and return without waiting; results are ready after
 *    trk_queue_finish(q) or an event; host pointers are never read after return;
 *  - buffers are device buffers of q's device, element counts are uint32_t and
 *    n == 0 is a valid no-op;
 *  - `scratch` is a caller-owned device buffer of at least the size returned by the
 *    matching *_scratch_size(); helpers never allocate (no malloc in event loops);
 *  - results are identical on every device, except where noted (float sums differ
 *    in rounding; the order inside a histogram bin is unspecified). */
#ifndef TRK_PRIM_H
#define TRK_PRIM_H

#include <stdbool.h>
#include <stdint.h>

#include "trk/device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- basic ------------------------------------------------------------- */

/* buf[i] = value for i < n. */
enum trk_status trk_fill_u32(struct trk_queue *q, struct trk_buffer *buf, uint32_t n,
                             uint32_t value);
enum trk_status trk_fill_f32(struct trk_queue *q, struct trk_buffer *buf, uint32_t n, float value);
/* dst[i] = src[i] for i < n (a kernel, not a DMA copy). */
enum trk_status trk_copy_u32(struct trk_queue *q, struct trk_buffer *dst, struct trk_buffer *src,
                             uint32_t n);
/* buf[i] = start + i. */
enum trk_status trk_iota_u32(struct trk_queue *q, struct trk_buffer *buf, uint32_t n,
                             uint32_t start);

/* ---- exclusive prefix scan ------------------------------------------------ */

size_t trk_scan_scratch_size(const struct trk_device *dev, uint32_t n);
/* out[i] = in[0] + ... + in[i-1] (uint32, wrapping); in == out is allowed. When
 * total is not NULL, total[0] receives the sum of all n inputs. Any n. */
enum trk_status trk_scan_u32(struct trk_queue *q, struct trk_buffer *in, struct trk_buffer *out,
                             uint32_t n, struct trk_buffer *total, struct trk_buffer *scratch);

/* ---- histogram and one-to-many association (Patatrack's HistoContainer) -- */

/* counts[k] += number of i < n with keys[i] == k, for k < nbins; keys >= nbins are
 * ignored. counts is NOT cleared first (accumulate over calls; memset it yourself). */
enum trk_status trk_histogram_u32(struct trk_queue *q, struct trk_buffer *keys, uint32_t n,
                                  uint32_t nbins, struct trk_buffer *counts);

size_t trk_assoc_scratch_size(const struct trk_device *dev, uint32_t n, uint32_t nbins);
/* Groups indices by key: count → scan → fill. offsets has nbins+1 entries; on return
 * the indices i with keys[i] == k are content[offsets[k] .. offsets[k+1]), in an
 * unspecified order within the bin. Keys >= nbins are left out, so offsets[nbins] is
 * the number of indices placed. content has room for n entries. */
enum trk_status trk_assoc_build(struct trk_queue *q, struct trk_buffer *keys, uint32_t n,
                                uint32_t nbins, struct trk_buffer *offsets,
                                struct trk_buffer *content, struct trk_buffer *scratch);

/* ---- stream compaction ------------------------------------------------------ */

size_t trk_compact_scratch_size(const struct trk_device *dev, uint32_t n);
/* Stable: for every i with flags[i] != 0, in order, appends in[i] (or i itself when
 * in is NULL) to out; count[0] receives the number kept. out has room for n. */
enum trk_status trk_compact_u32(struct trk_queue *q, struct trk_buffer *in,
                                struct trk_buffer *flags, uint32_t n, struct trk_buffer *out,
                                struct trk_buffer *count, struct trk_buffer *scratch);

/* ---- reductions ---------------------------------------------------------- */

enum trk_reduce_op { TRK_REDUCE_SUM = 0, TRK_REDUCE_MIN = 1, TRK_REDUCE_MAX = 2 };

size_t trk_reduce_scratch_size(const struct trk_device *dev, uint32_t n);
/* out[0] = op over in[0..n). For n == 0: 0 for SUM, +inf / UINT32_MAX / INT32_MAX for
 * MIN, -inf / 0 / INT32_MIN for MAX. Float sums agree across devices to a relative
 * 1e-5·log2(n), not bit for bit. */
enum trk_status trk_reduce_f32(struct trk_queue *q, struct trk_buffer *in, uint32_t n,
                               enum trk_reduce_op op, struct trk_buffer *out,
                               struct trk_buffer *scratch);
enum trk_status trk_reduce_u32(struct trk_queue *q, struct trk_buffer *in, uint32_t n,
                               enum trk_reduce_op op, struct trk_buffer *out,
                               struct trk_buffer *scratch);
enum trk_status trk_reduce_i32(struct trk_queue *q, struct trk_buffer *in, uint32_t n,
                               enum trk_reduce_op op, struct trk_buffer *out,
                               struct trk_buffer *scratch);

/* ---- key/value radix sort ---------------------------------------------------- */

size_t trk_sort_scratch_size(const struct trk_device *dev, uint32_t n);
/* Stable LSD radix sort ascending by the low `key_bits` bits (1..32) of the keys.
 * vals_in/vals_out may be NULL to sort keys only. Inputs are not modified; outputs
 * must not alias inputs. Identical on every device. */
enum trk_status trk_sort_pairs_u32(struct trk_queue *q, struct trk_buffer *keys_in,
                                   struct trk_buffer *vals_in, struct trk_buffer *keys_out,
                                   struct trk_buffer *vals_out, uint32_t n, uint32_t key_bits,
                                   struct trk_buffer *scratch);

/* ---- connected components ----------------------------------------------------- */

size_t trk_components_scratch_size(const struct trk_device *dev, uint32_t nvert, uint32_t nedge);
/* Labels the connected components of the undirected graph with vertices [0, nvert)
 * and edges (src[e], dst[e]), e < nedge: labels[v] = the smallest vertex id in v's
 * component (so the result is the same on every device). Edges naming a vertex
 * >= nvert are ignored. When ncomp is not NULL, ncomp[0] = number of components. */
enum trk_status trk_components(struct trk_queue *q, uint32_t nvert, struct trk_buffer *src,
                               struct trk_buffer *dst, uint32_t nedge, struct trk_buffer *labels,
                               struct trk_buffer *ncomp, struct trk_buffer *scratch);

/* ---- dense layers --------------------------------------------------------------- */

enum trk_activation {
    TRK_ACT_NONE = 0,
    TRK_ACT_RELU = 1,
    TRK_ACT_TANH = 2,
    TRK_ACT_SIGMOID = 3,
    TRK_ACT_SILU = 4,
};

/* Returns "none", "relu", ...; parse returns -1 for an unknown name. */
const char *trk_activation_name(enum trk_activation act);
int trk_activation_parse(const char *name);

/* One dense layer, row-major, offsets in elements:
 *   C[m x n] = act(A[m x k] · op(B) + bias[n])
 * op(B) = B stored [k x n], or with trans_b B stored [n x k] (a PyTorch Linear
 * weight [out, in]). bias may be NULL. */
struct trk_dense {
    uint32_t m, n, k;
    bool trans_b;
    struct trk_buffer *a, *b, *bias, *c;
    size_t a_off, b_off, bias_off, c_off;
    enum trk_activation act;
};

/* Enqueues the layer: the device's vendor BLAS when it has one (OpenBLAS on the CPU
 * device) and `force_kernel` is false, else the portable tiled dialect kernel; then
 * one bias + activation pass. Float results agree across devices to ~1e-5 relative. */
enum trk_status trk_dense_forward(struct trk_queue *q, const struct trk_dense *d,
                                  bool force_kernel);

/* In place: x[i] = act(x[i]) for i < n. */
enum trk_status trk_activation_f32(struct trk_queue *q, struct trk_buffer *x, uint32_t n,
                                   enum trk_activation act);

/* Layer normalisation over the last dimension, row-major [rows x cols]:
 * y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance, as PyTorch).
 * gamma and beta may be NULL (1 and 0). x == y is allowed. */
enum trk_status trk_layernorm_f32(struct trk_queue *q, struct trk_buffer *x, struct trk_buffer *y,
                                  uint32_t rows, uint32_t cols, struct trk_buffer *gamma,
                                  struct trk_buffer *beta, float eps);

#ifdef __cplusplus
}
#endif
#endif
