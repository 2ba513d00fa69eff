/* Host helpers of the dense-layer kernels (kernels/dense.kc): dense forward through
 * the vendor sgemm or the dialect kernel, activations, layer norm. */
#include <strings.h>

#include "prim_internal.h"

/* Must match dense.kc. */
#define DENSE_TM 64u
#define DENSE_TN 64u
#define DENSE_MICRO_TILES 128u /* (TM / RM) * (TN / RN): more threads would idle */
#define DENSE_LN_BLOCK 256u

static const char *const act_names[] = {"none", "relu", "tanh", "sigmoid", "silu"};
#define ACT_COUNT (sizeof act_names / sizeof act_names[0])

const char *trk_activation_name(enum trk_activation act)
{
    return (unsigned)act < ACT_COUNT ? act_names[act] : "unknown";
}

int trk_activation_parse(const char *name)
{
    for (unsigned i = 0; name && i < ACT_COUNT; i++)
        if (!strcasecmp(name, act_names[i]))
            return (int)i;
    return -1;
}

static bool act_ok(const char *func, enum trk_activation act)
{
    if ((unsigned)act < ACT_COUNT)
        return true;
    trk_log(TRK_LOG_ERROR, func, "unknown activation %d (expected 0..%u, enum trk_activation)",
            (int)act, (unsigned)ACT_COUNT - 1);
    return false;
}

/* Block size for kernels whose threads share rows of `width` elements: the device's
 * preferred block, but not much wider than a row, and at most `cap`. */
static uint32_t row_block(const struct trk_device *dev, uint32_t width, uint32_t cap)
{
    uint32_t b = trk_device_props(dev)->preferred_block;
    uint32_t w = width < 32 ? 32 : (width + 31) / 32 * 32;
    if (b > w)
        b = w;
    return b > cap ? cap : b ? b : 1;
}

/* c = act(c + bias) over m rows of n, in place. */
static enum trk_status bias_act_pass(struct trk_queue *q, const struct trk_dense *d)
{
    if (!d->bias && d->act == TRK_ACT_NONE)
        return TRK_OK;
    const struct trk_device *dev = trk_queue_device(q);
    uint32_t grid;
    trk_device_launch_dims(dev, (uint64_t)d->m * d->n, &grid, NULL);
    uint32_t rows_per_block = (uint32_t)(((uint64_t)d->m + grid - 1) / grid);
    grid = (uint32_t)(((uint64_t)d->m + rows_per_block - 1) / rows_per_block);
    struct trk_arg a[] = {
        trk_arg_buf(d->c),
        trk_arg_buf(d->bias ? d->bias : d->c),
        trk_arg_u32(d->m),
        trk_arg_u32(d->n),
        trk_arg_u32(rows_per_block),
        trk_arg_u32(d->bias != NULL),
        trk_arg_u32((uint32_t)d->act),
        trk_arg_u32((uint32_t)d->c_off),
        trk_arg_u32(d->bias ? (uint32_t)d->bias_off : 0u),
    };
    return trk_launch(q, TRK_KERNEL_dense_bias_act_f32, grid,
                      row_block(dev, d->n, trk_device_props(dev)->max_block_size),
                      sizeof a / sizeof a[0], a);
}

static enum trk_status sgemm_kernel(struct trk_queue *q, const struct trk_dense *d)
{
    uint64_t tiles = ((uint64_t)d->m + DENSE_TM - 1) / DENSE_TM *
                     (((uint64_t)d->n + DENSE_TN - 1) / DENSE_TN);
    if (tiles > UINT32_MAX) {
        TRK_LOGE("%u x %u output needs %llu tiles, more than a grid holds (%u)", d->m, d->n,
                 (unsigned long long)tiles, UINT32_MAX);
        return TRK_ERR_INVALID_ARG;
    }
    const struct trk_device *dev = trk_queue_device(q);
    uint32_t block = trk_device_props(dev)->preferred_block;
    if (block > DENSE_MICRO_TILES)
        block = DENSE_MICRO_TILES;
    struct trk_arg a[] = {
        trk_arg_buf(d->a),
        trk_arg_buf(d->b),
        /* no bias: any valid buffer stands in, the kernel does not read it */
        trk_arg_buf(d->bias ? d->bias : d->c),
        trk_arg_buf(d->c),
        trk_arg_u32(d->m),
        trk_arg_u32(d->n),
        trk_arg_u32(d->k),
        trk_arg_u32(d->trans_b),
        trk_arg_u32(d->bias != NULL),
        trk_arg_u32((uint32_t)d->act),
        trk_arg_u32((uint32_t)d->a_off),
        trk_arg_u32((uint32_t)d->b_off),
        trk_arg_u32(d->bias ? (uint32_t)d->bias_off : 0u),
        trk_arg_u32((uint32_t)d->c_off),
    };
    return trk_launch(q, TRK_KERNEL_dense_sgemm_f32, (uint32_t)tiles, block ? block : 1,
                      sizeof a / sizeof a[0], a);
}

enum trk_status trk_dense_forward(struct trk_queue *q, const struct trk_dense *d,
                                  bool force_kernel)
{
    if (!q || !d) {
        TRK_LOGE("%s is NULL", !q ? "queue" : "layer descriptor");
        return TRK_ERR_INVALID_ARG;
    }
    if (!act_ok(__func__, d->act))
        return TRK_ERR_INVALID_ARG;
    uint64_t m = d->m, n = d->n, k = d->k;
    if (d->a_off > UINT32_MAX || d->b_off > UINT32_MAX || d->bias_off > UINT32_MAX ||
        d->c_off > UINT32_MAX) {
        TRK_LOGE("element offsets must be below 2^32 (kernels take them as uint32)");
        return TRK_ERR_INVALID_ARG;
    }
    TRK_CHECK_BUF(d->a, d->a_off + m * k, 4);
    TRK_CHECK_BUF(d->b, d->b_off + k * n, 4);
    if (d->bias)
        TRK_CHECK_BUF(d->bias, d->bias_off + n, 4);
    TRK_CHECK_BUF(d->c, d->c_off + m * n, 4);
    if (m == 0 || n == 0)
        return TRK_OK;

    /* k == 0 goes to the kernel too: BLAS rejects a leading dimension of 0. */
    if (!force_kernel && k > 0 && trk_device_props(trk_queue_device(q))->vendor_blas) {
        struct trk_sgemm_desc g = {
            .m = d->m, .n = d->n, .k = d->k, .trans_b = d->trans_b,
            .a = d->a, .b = d->b, .c = d->c,
            .a_off = d->a_off, .b_off = d->b_off, .c_off = d->c_off,
        };
        enum trk_status st = trk_vendor_sgemm(q, &g);
        if (st == TRK_OK)
            return bias_act_pass(q, d);
        if (st != TRK_ERR_UNSUPPORTED)
            return st;
    }
    return sgemm_kernel(q, d);
}

enum trk_status trk_activation_f32(struct trk_queue *q, struct trk_buffer *x, uint32_t n,
                                   enum trk_activation act)
{
    if (!q) {
        TRK_LOGE("queue is NULL");
        return TRK_ERR_INVALID_ARG;
    }
    TRK_CHECK_BUF(x, n, 4);
    if (!act_ok(__func__, act))
        return TRK_ERR_INVALID_ARG;
    if (n == 0 || act == TRK_ACT_NONE)
        return TRK_OK;
    struct trk_arg a[] = {trk_arg_buf(x), trk_arg_u32(n), trk_arg_u32((uint32_t)act)};
    return trk_prim_launch_1d(q, TRK_KERNEL_dense_act_f32, n, 3, a);
}

enum trk_status trk_layernorm_f32(struct trk_queue *q, struct trk_buffer *x, struct trk_buffer *y,
                                  uint32_t rows, uint32_t cols, struct trk_buffer *gamma,
                                  struct trk_buffer *beta, float eps)
{
    if (!q) {
        TRK_LOGE("queue is NULL");
        return TRK_ERR_INVALID_ARG;
    }
    uint64_t count = (uint64_t)rows * cols;
    TRK_CHECK_BUF(x, count, 4);
    TRK_CHECK_BUF(y, count, 4);
    if (gamma)
        TRK_CHECK_BUF(gamma, cols, 4);
    if (beta)
        TRK_CHECK_BUF(beta, cols, 4);
    if (!(eps >= 0.0f)) {
        TRK_LOGE("eps is %g, expected a number >= 0", (double)eps);
        return TRK_ERR_INVALID_ARG;
    }
    if (count == 0)
        return TRK_OK;
    /* absent gamma / beta: x stands in, the affine flags keep it unread */
    struct trk_arg a[] = {
        trk_arg_buf(x),
        trk_arg_buf(y),
        trk_arg_buf(gamma ? gamma : x),
        trk_arg_buf(beta ? beta : x),
        trk_arg_u32(rows),
        trk_arg_u32(cols),
        trk_arg_u32((gamma ? 1u : 0u) | (beta ? 2u : 0u)),
        trk_arg_f32(eps),
    };
    return trk_launch(q, TRK_KERNEL_dense_layernorm_f32, rows,
                      row_block(trk_queue_device(q), cols, DENSE_LN_BLOCK),
                      sizeof a / sizeof a[0], a);
}
