/* Exa.TrkX: the instance (weights on the device, scratch for max_hits / max_edges) and
 * the pipeline of trk/exatrkx.h. Stage by stage:
 *   embed   node inputs, embedding MLP (trk_dense_forward), g = cat(u, y)
 *   graph   grid + K-nearest radius search (kernels/ex_graph.kc), canonical sort
 *   filter  split first layer, chunked MLP, cut, stable compaction
 *   gnn     interaction network on the kept edges (kernels/ex_gnn.kc)
 *   tracks  cut, junction removal, components, min_hits, numbering (ex_tracks.kc)
 * Device buffers are pools reused across stages (the names below say which stage owns a
 * pool entry when); nothing is allocated in trk_ex_run. Every stage is deterministic:
 * no float atomics, orders come from sorts by (index) keys. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ex_internal.h"
#include "trk/log.h"
#include "trk/prim.h"

#define EX_LN_EPS 1e-5f /* nn.LayerNorm default */
#define EX_NODE_POOL 8
#define EX_EDGE_POOL 8

struct ex_lin {
    struct trk_buffer *w, *b; /* [out, in], [out] */
    struct trk_buffer *ln_g, *ln_b; /* LayerNorm after it, or NULL */
    uint32_t out, in;
    struct trk_buffer *part[3]; /* split first layers: column blocks of w */
    bool geom;                  /* part[2] multiplies the geometric edge features */
};

struct trk_ex_instance {
    struct trk_device *dev;
    struct trk_queue *q;
    struct trk_ex_params p;
    uint32_t dim, gw, hf, h, iters, emb_layers, flt_layers;
    uint32_t wmax;  /* widest per-node activation (s0, s1) */
    uint32_t wc;    /* per-edge chunk width (t1, t2) */
    float filter_thr, edge_thr;
    uint64_t mem;

    struct ex_lin emb[EX_MAX_LAYERS], flt[EX_MAX_LAYERS], flt_out;
    struct ex_lin node_enc[2], edge_enc[2], node_net[2], edge_net[2], out_head, out_final;

    /* per node */
    struct trk_buffer *feat, *u, *rho, *y, *g, *s0, *s1, *x, *na, *nb;
    struct trk_buffer *nu[EX_NODE_POOL]; /* uint32 [max_hits + 1] each */
    struct trk_buffer *cell_off;         /* uint32 [EX_GRID_MAX³ + 1] */
    struct trk_buffer *nbr, *nbr_d2;     /* [max_hits, knn]: each hit's neighbour list */
    /* per edge */
    struct trk_buffer *eu[EX_EDGE_POOL]; /* uint32 / float [max_edges] each */
    struct trk_buffer *efeat;            /* float [max_edges, h] */
    struct trk_buffer *t1, *t2;          /* float [filter_chunk, wc] */
    struct trk_buffer *egeo;             /* float [filter_chunk, EX_EDGE_DIM] */
    struct trk_buffer *small;            /* uint32 [16]: bbox, totals */
    struct trk_buffer *scratch;
    int32_t *host_labels;                /* [max_hits] staging */
};

/* small[] slots */
#define EX_S_BBOX 0   /* 6 words */
#define EX_S_EDGES 8  /* radius-graph edges */
#define EX_S_KEPT 9   /* after the filter */
#define EX_S_TEDGES 10
#define EX_S_TRACKS 11

static const char *const stage_names[TRK_EX_NSTAGES] = {
    "upload", "embed", "graph", "filter", "gnn", "tracks", "download"};

const char *trk_ex_stage_name(enum trk_ex_stage s)
{
    return (unsigned)s < TRK_EX_NSTAGES ? stage_names[s] : "unknown";
}

void trk_ex_features(const float *x, const float *y, const float *z, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        out[3 * i] = sqrtf(x[i] * x[i] + y[i] * y[i]) / 1000.0f;
        out[3 * i + 1] = atan2f(y[i], x[i]) / 3.14159265358979323846f;
        out[3 * i + 2] = z[i] / 1000.0f;
    }
}

/* ---- result ---------------------------------------------------------------------- */

void trk_ex_result_init(struct trk_ex_result *r)
{
    memset(r, 0, sizeof *r);
}

void trk_ex_result_fini(struct trk_ex_result *r)
{
    if (!r)
        return;
    free(r->labels);
    free(r->embedding);
    free(r->edge_src);
    free(r->edge_dst);
    free(r->filter_logit);
    free(r->gnn_logit);
    free(r->graph_src);
    free(r->graph_dst);
    free(r->graph_logit);
    memset(r, 0, sizeof *r);
}

/* Grows *p to n elements of size es when cap < n. */
static bool grow(void **p, size_t n, size_t es)
{
    void *q = realloc(*p, (n ? n : 1) * es);
    if (!q)
        return false;
    *p = q;
    return true;
}

static bool result_hits(struct trk_ex_result *r, size_t n, uint32_t dim, bool debug)
{
    if (n <= r->cap_hits && (!debug || r->embedding))
        return true;
    size_t cap = n > r->cap_hits ? n : r->cap_hits;
    if (!grow((void **)&r->labels, cap, sizeof *r->labels))
        return false;
    if (debug || r->embedding)
        if (!grow((void **)&r->embedding, cap * dim, sizeof *r->embedding))
            return false;
    r->cap_hits = cap;
    return true;
}

static bool result_edges(struct trk_ex_result *r, size_t n)
{
    if (n <= r->cap_edges && r->edge_src)
        return true;
    size_t cap = n > r->cap_edges ? n : r->cap_edges;
    if (!grow((void **)&r->edge_src, cap, 4) || !grow((void **)&r->edge_dst, cap, 4) ||
        !grow((void **)&r->filter_logit, cap, 4) || !grow((void **)&r->gnn_logit, cap, 4))
        return false;
    r->cap_edges = cap;
    return true;
}

static bool result_graph(struct trk_ex_result *r, size_t n)
{
    if (n <= r->cap_graph && r->graph_src)
        return true;
    size_t cap = n > r->cap_graph ? n : r->cap_graph;
    if (!grow((void **)&r->graph_src, cap, 4) || !grow((void **)&r->graph_dst, cap, 4) ||
        !grow((void **)&r->graph_logit, cap, 4))
        return false;
    r->cap_graph = cap;
    return true;
}

/* ---- instance -------------------------------------------------------------------- */

static enum trk_status ex_alloc(struct trk_ex_instance *ex, struct trk_buffer **buf,
                                uint64_t bytes, const char *what)
{
    enum trk_status st = bytes > SIZE_MAX ? TRK_ERR_NO_MEMORY
                                          : trk_buffer_alloc(ex->dev, (size_t)bytes, buf);
    if (st != TRK_OK) {
        TRK_LOGE("cannot allocate %llu bytes for %s on %s (%s): lower max_hits, max_edges or "
                 "filter_chunk, or pick a device with more memory",
                 (unsigned long long)bytes, what, trk_device_id(ex->dev), trk_status_str(st));
        return st;
    }
    ex->mem += bytes;
    return TRK_OK;
}

static enum trk_status ex_upload(struct trk_ex_instance *ex, const float *data, size_t count,
                                 struct trk_buffer **buf, const char *what)
{
    enum trk_status st = ex_alloc(ex, buf, count * sizeof(float), what);
    if (st == TRK_OK && count)
        st = trk_buffer_write(ex->q, *buf, 0, data, count * sizeof(float), true);
    return st;
}

/* Uploads Linear `pre` (+ LayerNorm `norm`), optionally split by columns into `parts`
 * blocks of equal width, plus with geom the last EX_EDGE_DIM columns (the geometric edge
 * features) as part[2] (the whole weight is then not uploaded). */
static enum trk_status ex_linear_upload(struct trk_ex_instance *ex,
                                        const struct trk_ex_weights *w, struct ex_lin *l,
                                        const char *pre, const char *norm, uint32_t parts,
                                        bool geom)
{
    char name[256];
    snprintf(name, sizeof name, "%s.weight", pre);
    const struct ex_tensor *t = ex_st_find(&w->st, name);
    const float *wd = t->data;
    l->out = (uint32_t)t->shape[0];
    l->in = (uint32_t)t->shape[1];
    enum trk_status st = TRK_OK;
    if (parts <= 1) {
        st = ex_upload(ex, wd, (size_t)l->out * l->in, &l->w, name);
    } else {
        uint32_t tail = geom ? EX_EDGE_DIM : 0, pw = (l->in - tail) / parts;
        uint32_t wmax = pw > tail ? pw : tail;
        float *tmp = malloc((size_t)l->out * wmax * sizeof *tmp);
        if (!tmp)
            return TRK_ERR_NO_MEMORY;
        l->geom = geom;
        for (uint32_t k = 0; k < parts + (geom ? 1u : 0u) && st == TRK_OK; k++) {
            uint32_t cw = k < parts ? pw : tail;
            for (uint32_t r = 0; r < l->out; r++)
                memcpy(tmp + (size_t)r * cw, wd + (size_t)r * l->in + (size_t)k * pw,
                       cw * sizeof *tmp);
            st = ex_upload(ex, tmp, (size_t)l->out * cw, &l->part[k], name);
        }
        free(tmp);
    }
    snprintf(name, sizeof name, "%s.bias", pre);
    if (st == TRK_OK)
        st = ex_upload(ex, ex_w(w, name), l->out, &l->b, name);
    if (norm && st == TRK_OK) {
        snprintf(name, sizeof name, "%s.weight", norm);
        st = ex_upload(ex, ex_w(w, name), l->out, &l->ln_g, name);
        snprintf(name, sizeof name, "%s.bias", norm);
        if (st == TRK_OK)
            st = ex_upload(ex, ex_w(w, name), l->out, &l->ln_b, name);
    }
    return st;
}

static void ex_linear_free(struct ex_lin *l)
{
    trk_buffer_free(l->w);
    trk_buffer_free(l->b);
    trk_buffer_free(l->ln_g);
    trk_buffer_free(l->ln_b);
    for (int k = 0; k < 3; k++)
        trk_buffer_free(l->part[k]);
}

static enum trk_status ex_gnn_upload(struct trk_ex_instance *ex, const struct trk_ex_weights *w,
                                     struct ex_lin *l, const char *mlp, uint32_t nlayers,
                                     uint32_t parts0, bool geom)
{
    char pre[128], norm[128];
    enum trk_status st = TRK_OK;
    for (uint32_t i = 0; i < nlayers && st == TRK_OK; i++) {
        snprintf(pre, sizeof pre, "gnn.%s.layers.%u", mlp, i);
        snprintf(norm, sizeof norm, "gnn.%s.norms.%u", mlp, i);
        st = ex_linear_upload(ex, w, &l[i], pre, norm, i ? 1 : parts0, !i && geom);
    }
    return st;
}

static bool params_ok(const struct trk_ex_params *p, const struct trk_ex_weights *w)
{
    if (!(p->radius > 0.0f) || !isfinite(p->radius)) {
        TRK_LOGE("radius is %g: expected a finite number > 0", (double)p->radius);
        return false;
    }
    if (p->knn < 1 || p->knn > EX_MAX_KNN) {
        TRK_LOGE("knn is %u: expected 1..%u (the per-hit neighbour list is a fixed-size "
                 "array; EX_MAX_KNN)", p->knn, EX_MAX_KNN);
        return false;
    }
    if (!(p->filter_cut >= 0.0f && p->filter_cut <= 1.0f) ||
        !(p->edge_cut >= 0.0f && p->edge_cut <= 1.0f)) {
        TRK_LOGE("filter_cut %g / edge_cut %g: expected probabilities in [0, 1]",
                 (double)p->filter_cut, (double)p->edge_cut);
        return false;
    }
    if (p->max_hits < 1 || p->max_edges < 1 || p->filter_chunk < 1) {
        TRK_LOGE("max_hits, max_edges and filter_chunk must be >= 1");
        return false;
    }
    uint64_t wmax = 5ull * w->gnn_hidden;
    for (uint32_t l = 0; l <= w->emb_layers; l++)
        wmax = w->emb_width[l] > wmax ? w->emb_width[l] : wmax;
    wmax = w->flt_hidden > wmax ? w->flt_hidden : wmax;
    uint64_t wc = w->flt_hidden > w->gnn_hidden ? w->flt_hidden : w->gnn_hidden;
    if ((uint64_t)p->max_hits * wmax >= (1ull << 31) || p->max_hits >= (1u << 30) ||
        (uint64_t)p->max_hits * p->knn >= (1ull << 32) ||
        (uint64_t)p->max_edges * w->gnn_hidden >= (1ull << 32) ||
        (uint64_t)p->filter_chunk * wc >= (1ull << 32)) {
        TRK_LOGE("max_hits %u x width %llu, max_edges %u x GNN width %u or filter_chunk %u x "
                 "%llu exceed the 32-bit element indices of the kernels: lower them",
                 p->max_hits, (unsigned long long)wmax, p->max_edges, w->gnn_hidden,
                 p->filter_chunk, (unsigned long long)wc);
        return false;
    }
    return true;
}

static float logit_of(float cut)
{
    double c = cut;
    if (c <= 0.0)
        return -INFINITY; /* every edge passes */
    if (c >= 1.0)
        return INFINITY; /* none does */
    return (float)log(c / (1.0 - c));
}

enum trk_status trk_ex_instance_create(struct trk_device *dev, const struct trk_ex_weights *w,
                                       const struct trk_ex_params *p,
                                       struct trk_ex_instance **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (!dev || !w) {
        TRK_LOGE("%s is NULL", !dev ? "device" : "weights");
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_ex_params pd;
    if (!p) {
        trk_ex_params_default(&pd, w);
        p = &pd;
    }
    if (!params_ok(p, w))
        return TRK_ERR_INVALID_ARG;
    struct trk_ex_instance *ex = calloc(1, sizeof *ex);
    if (!ex)
        return TRK_ERR_NO_MEMORY;
    ex->dev = dev;
    ex->p = *p;
    ex->dim = w->dim;
    ex->gw = 4 + w->dim;
    ex->hf = w->flt_hidden;
    ex->h = w->gnn_hidden;
    ex->iters = w->gnn_iters;
    ex->emb_layers = w->emb_layers;
    ex->flt_layers = w->flt_layers;
    ex->wmax = 5 * ex->h;
    for (uint32_t l = 0; l <= w->emb_layers; l++)
        ex->wmax = w->emb_width[l] > ex->wmax ? w->emb_width[l] : ex->wmax;
    ex->wmax = ex->hf > ex->wmax ? ex->hf : ex->wmax;
    ex->wc = ex->hf > ex->h ? ex->hf : ex->h;
    ex->filter_thr = logit_of(p->filter_cut);
    ex->edge_thr = logit_of(p->edge_cut);

    enum trk_status st = trk_queue_create(dev, &ex->q);
    char pre[128], norm[128];
    for (uint32_t l = 0; l < ex->emb_layers && st == TRK_OK; l++) {
        snprintf(pre, sizeof pre, "embedding.layers.%u", l);
        st = ex_linear_upload(ex, w, &ex->emb[l], pre, NULL, 1, false);
    }
    for (uint32_t l = 0; l < ex->flt_layers && st == TRK_OK; l++) {
        snprintf(pre, sizeof pre, "filter.layers.%u", l);
        snprintf(norm, sizeof norm, "filter.norms.%u", l);
        st = ex_linear_upload(ex, w, &ex->flt[l], pre, norm, l ? 1 : 2, l == 0);
    }
    if (st == TRK_OK)
        st = ex_linear_upload(ex, w, &ex->flt_out, "filter.out", NULL, 1, false);
    if (st == TRK_OK)
        st = ex_gnn_upload(ex, w, ex->node_enc, "node_enc", 2, 1, false);
    if (st == TRK_OK)
        st = ex_gnn_upload(ex, w, ex->edge_enc, "edge_enc", 2, 2, true);
    if (st == TRK_OK)
        st = ex_gnn_upload(ex, w, ex->node_net, "node_net", 2, 1, false);
    if (st == TRK_OK)
        st = ex_gnn_upload(ex, w, ex->edge_net, "edge_net", 2, 3, false);
    if (st == TRK_OK)
        st = ex_gnn_upload(ex, w, &ex->out_head, "out_head", 1, 3, false);
    if (st == TRK_OK)
        st = ex_linear_upload(ex, w, &ex->out_final, "gnn.out_final", NULL, 1, false);

    uint64_t nh = p->max_hits, ne = p->max_edges, nc = p->filter_chunk, f = sizeof(float);
    const uint64_t ncells = (uint64_t)EX_GRID_MAX * EX_GRID_MAX * EX_GRID_MAX;
    struct {
        struct trk_buffer **b;
        uint64_t bytes;
        const char *what;
    } bufs[] = {
        {&ex->feat, nh * 3 * f, "features"},     {&ex->u, nh * 4 * f, "node inputs"},
        {&ex->rho, nh * f, "rho"},               {&ex->y, nh * ex->dim * f, "embedding"},
        {&ex->g, nh * ex->gw * f, "node vectors"}, {&ex->s0, nh * ex->wmax * f, "activations"},
        {&ex->s1, nh * ex->wmax * f, "activations"}, {&ex->x, nh * ex->h * f, "GNN nodes"},
        {&ex->na, nh * ex->h * f, "GNN nodes"},  {&ex->nb, nh * ex->h * f, "GNN nodes"},
        {&ex->cell_off, (ncells + 1) * 4, "grid"}, {&ex->efeat, ne * ex->h * f, "GNN edges"},
        {&ex->t1, nc * ex->wc * f, "edge chunk"}, {&ex->t2, nc * ex->wc * f, "edge chunk"},
        {&ex->egeo, nc * EX_EDGE_DIM * f, "edge chunk"},
        {&ex->small, 16 * 4, "counters"},
        {&ex->nbr, nh * p->knn * 4, "neighbour lists"},
        {&ex->nbr_d2, nh * p->knn * 4, "neighbour lists"},
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0] && st == TRK_OK; i++)
        st = ex_alloc(ex, bufs[i].b, bufs[i].bytes, bufs[i].what);
    for (int i = 0; i < EX_NODE_POOL && st == TRK_OK; i++)
        st = ex_alloc(ex, &ex->nu[i], (nh + 1) * 4, "per-hit scratch");
    for (int i = 0; i < EX_EDGE_POOL && st == TRK_OK; i++)
        st = ex_alloc(ex, &ex->eu[i], ne * 4, "per-edge scratch (max_edges)");
    size_t sc = trk_scan_scratch_size(dev, (uint32_t)nh + 1);
    size_t s2 = trk_assoc_scratch_size(dev, (uint32_t)nh, (uint32_t)ncells);
    sc = s2 > sc ? s2 : sc;
    s2 = trk_compact_scratch_size(dev, (uint32_t)ne);
    sc = s2 > sc ? s2 : sc;
    s2 = trk_sort_scratch_size(dev, (uint32_t)ne);
    sc = s2 > sc ? s2 : sc;
    s2 = trk_reduce_scratch_size(dev, (uint32_t)ne);
    sc = s2 > sc ? s2 : sc;
    s2 = trk_components_scratch_size(dev, (uint32_t)nh, (uint32_t)ne);
    sc = s2 > sc ? s2 : sc;
    if (st == TRK_OK)
        st = ex_alloc(ex, &ex->scratch, sc, "primitive scratch");
    if (st == TRK_OK) {
        ex->host_labels = malloc(nh * sizeof *ex->host_labels);
        if (!ex->host_labels)
            st = TRK_ERR_NO_MEMORY;
    }
    if (st == TRK_OK)
        st = trk_queue_finish(ex->q);
    if (st != TRK_OK) {
        trk_ex_instance_free(ex);
        return st;
    }
    *out = ex;
    return TRK_OK;
}

void trk_ex_instance_free(struct trk_ex_instance *ex)
{
    if (!ex)
        return;
    if (ex->q)
        trk_queue_finish(ex->q);
    for (uint32_t l = 0; l < EX_MAX_LAYERS; l++) {
        ex_linear_free(&ex->emb[l]);
        ex_linear_free(&ex->flt[l]);
    }
    ex_linear_free(&ex->flt_out);
    for (int l = 0; l < 2; l++) {
        ex_linear_free(&ex->node_enc[l]);
        ex_linear_free(&ex->edge_enc[l]);
        ex_linear_free(&ex->node_net[l]);
        ex_linear_free(&ex->edge_net[l]);
    }
    ex_linear_free(&ex->out_head);
    ex_linear_free(&ex->out_final);
    struct trk_buffer *bufs[] = {ex->feat, ex->u,  ex->rho,      ex->y,     ex->g,
                                 ex->s0,   ex->s1, ex->x,        ex->na,    ex->nb,
                                 ex->cell_off, ex->efeat, ex->t1, ex->t2, ex->egeo, ex->small,
                                 ex->scratch, ex->nbr, ex->nbr_d2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        trk_buffer_free(bufs[i]);
    for (int i = 0; i < EX_NODE_POOL; i++)
        trk_buffer_free(ex->nu[i]);
    for (int i = 0; i < EX_EDGE_POOL; i++)
        trk_buffer_free(ex->eu[i]);
    free(ex->host_labels);
    trk_queue_free(ex->q);
    free(ex);
}

uint64_t trk_ex_memory_bytes(const struct trk_ex_instance *ex)
{
    return ex ? ex->mem : 0;
}

/* ---- helpers of the run ------------------------------------------------------------ */

static enum trk_status ex_launch(struct trk_ex_instance *ex, uint32_t kernel, uint64_t n,
                                 uint32_t nargs, const struct trk_arg *a)
{
    uint32_t grid, block;
    trk_device_launch_dims(ex->dev, n, &grid, &block);
    return trk_launch(ex->q, kernel, grid, block, nargs, a);
}
#define EX_LAUNCH(ex, k, n, ...)                                                              \
    ex_launch((ex), (k), (n),                                                                 \
              (uint32_t)(sizeof((struct trk_arg[]){__VA_ARGS__}) / sizeof(struct trk_arg)), \
              (struct trk_arg[]){__VA_ARGS__})

/* c[c_off..] = act(a[a_off..] · W(ᵀ) + bias) over m rows; w NULL: l->w; bias optional. */
static enum trk_status ex_dense(struct trk_ex_instance *ex, const struct ex_lin *l,
                                struct trk_buffer *w, uint32_t k, bool bias, uint32_t m,
                                struct trk_buffer *a, size_t a_off, struct trk_buffer *c,
                                size_t c_off, enum trk_activation act)
{
    struct trk_dense d = {
        .m = m, .n = l->out, .k = k, .trans_b = true, .a = a, .b = w ? w : l->w,
        .bias = bias ? l->b : NULL, .c = c, .a_off = a_off, .c_off = c_off, .act = act,
    };
    return trk_dense_forward(ex->q, &d, false);
}

/* x = act(LayerNorm(x + bias)) over m rows of l->out, in one pass (exn_bias_ln_act);
 * add_bias: l->b was not added by the producer of x. */
static enum trk_status ex_norm_act(struct trk_ex_instance *ex, const struct ex_lin *l,
                                   struct trk_buffer *x, uint32_t m, enum trk_activation act,
                                   bool add_bias)
{
    return EX_LAUNCH(ex, TRK_KERNEL_exn_bias_ln_act, m, trk_arg_buf(x), trk_arg_buf(l->b),
                     trk_arg_buf(l->ln_g), trk_arg_buf(l->ln_b), trk_arg_u32(m),
                     trk_arg_u32(l->out), trk_arg_u32(add_bias), trk_arg_u32((uint32_t)act),
                     trk_arg_f32(EX_LN_EPS));
}

static enum trk_status ex_gather_add(struct trk_ex_instance *ex, const struct ex_lin *l,
                                     struct trk_buffer *a, struct trk_buffer *b,
                                     struct trk_buffer *src, struct trk_buffer *dst, uint32_t e0,
                                     uint32_t m, struct trk_buffer *out, bool acc)
{
    return EX_LAUNCH(ex, TRK_KERNEL_exn_gather_add, (uint64_t)m * l->out, trk_arg_buf(a),
                     trk_arg_buf(b), trk_arg_buf(l->b), trk_arg_buf(src), trk_arg_buf(dst),
                     trk_arg_buf(out), trk_arg_u32(e0), trk_arg_u32(m), trk_arg_u32(l->out),
                     trk_arg_u32(acc));
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static enum trk_status stage_end(struct trk_ex_instance *ex, bool profile,
                                 struct trk_ex_result *res, int stage, double *t0)
{
    if (!profile)
        return TRK_OK;
    enum trk_status st = trk_queue_finish(ex->q);
    double t = now_ms();
    res->stage_ms[stage] += t - *t0;
    *t0 = t;
    return st;
}

static uint32_t key_bits(uint32_t n)
{
    uint32_t b = 1;
    while (b < 32 && (n - 1u) >> b)
        b++;
    return b;
}

static float unord(uint32_t o)
{
    uint32_t u = (o & 0x80000000u) ? (o & 0x7fffffffu) : ~o;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- stages --------------------------------------------------------------------- */

static enum trk_status run_embed(struct trk_ex_instance *ex, uint32_t n)
{
    enum trk_status st = EX_LAUNCH(ex, TRK_KERNEL_exg_node_inputs, n, trk_arg_buf(ex->feat),
                                   trk_arg_buf(ex->u), trk_arg_buf(ex->rho), trk_arg_u32(n));
    struct trk_buffer *in = ex->u;
    for (uint32_t l = 0; l < ex->emb_layers && st == TRK_OK; l++) {
        bool last = l + 1 == ex->emb_layers;
        struct trk_buffer *o = last ? ex->y : (l % 2 ? ex->s1 : ex->s0);
        st = ex_dense(ex, &ex->emb[l], NULL, ex->emb[l].in, true, n, in, 0, o, 0,
                      last ? TRK_ACT_NONE : TRK_ACT_TANH);
        in = o;
    }
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_exg_concat, n, trk_arg_buf(ex->u), trk_arg_buf(ex->y),
                       trk_arg_buf(ex->g), trk_arg_u32(n), trk_arg_u32(ex->dim));
    return st;
}

/* Radius graph → eu[5] (src), eu[6] (dst) in canonical order; *ne edges. */
static enum trk_status run_graph(struct trk_ex_instance *ex, uint32_t n, uint32_t *ne, char *err,
                                 size_t errlen)
{
    struct trk_buffer *keys = ex->nu[0], *hits = ex->nu[1], *thr_j = ex->nu[2],
                      *thr_d2 = ex->nu[3], *cnt = ex->nu[4];
    uint32_t init[6] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, 0, 0, 0}, bb[6];
    enum trk_status st = trk_buffer_write(ex->q, ex->small, EX_S_BBOX * 4, init, sizeof init, true);
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_exg_bbox, n, trk_arg_buf(ex->y), trk_arg_u32(n),
                       trk_arg_u32(ex->dim), trk_arg_buf(ex->small));
    if (st == TRK_OK)
        st = trk_buffer_read(ex->q, bb, ex->small, EX_S_BBOX * 4, sizeof bb, true);
    if (st != TRK_OK)
        return st;
    float lo[3], inv[3];
    uint32_t dims[3];
    for (int a = 0; a < 3; a++) {
        double l = unord(bb[a]), h = unord(bb[3 + a]), ext = h - l;
        if (!isfinite(l) || !isfinite(h)) {
            snprintf(err, errlen, "the embedding is not finite (broken weights file?)");
            return TRK_ERR_INVALID_ARG;
        }
        double cell = fmax(ex->p.radius, ext / EX_GRID_MAX) * (1.0 + 1e-4);
        double d = floor(ext / cell) + 1.0;
        dims[a] = d > EX_GRID_MAX ? EX_GRID_MAX : (uint32_t)d;
        lo[a] = (float)l;
        inv[a] = (float)(1.0 / cell);
    }
    uint32_t ncells = dims[0] * dims[1] * dims[2];
    float r2 = ex->p.radius * ex->p.radius;
    st = EX_LAUNCH(ex, TRK_KERNEL_exg_cell_keys, n, trk_arg_buf(ex->y), trk_arg_u32(n),
                   trk_arg_u32(ex->dim), trk_arg_buf(keys), trk_arg_f32(lo[0]),
                   trk_arg_f32(lo[1]), trk_arg_f32(lo[2]), trk_arg_f32(inv[0]),
                   trk_arg_f32(inv[1]), trk_arg_f32(inv[2]), trk_arg_u32(dims[0]),
                   trk_arg_u32(dims[1]), trk_arg_u32(dims[2]));
    if (st == TRK_OK)
        st = trk_assoc_build(ex->q, keys, n, ncells, ex->cell_off, hits, ex->scratch);
    struct trk_buffer *nn = ex->nu[6], *ys = ex->s0; /* s0: free until the filter */
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_exg_cell_rows, (uint64_t)n * ex->dim, trk_arg_buf(ex->y),
                       trk_arg_buf(hits), trk_arg_buf(ys), trk_arg_u32(n), trk_arg_u32(ex->dim));
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_exg_knn_select, n, trk_arg_buf(ex->y), trk_arg_buf(ys),
                       trk_arg_u32(n),
                       trk_arg_u32(ex->dim), trk_arg_buf(keys), trk_arg_buf(ex->cell_off),
                       trk_arg_buf(hits), trk_arg_u32(dims[0]), trk_arg_u32(dims[1]),
                       trk_arg_u32(dims[2]), trk_arg_f32(r2), trk_arg_u32(ex->p.knn),
                       trk_arg_buf(thr_d2), trk_arg_buf(thr_j), trk_arg_buf(ex->nbr),
                       trk_arg_buf(ex->nbr_d2), trk_arg_buf(nn));
    struct trk_buffer *src0 = ex->eu[0], *dst0 = ex->eu[1];
    for (uint32_t fill = 0; fill < 2 && st == TRK_OK; fill++) {
        st = EX_LAUNCH(ex, TRK_KERNEL_exg_edges, n, trk_arg_u32(n), trk_arg_u32(ex->p.knn),
                       trk_arg_buf(ex->nbr), trk_arg_buf(ex->nbr_d2), trk_arg_buf(nn),
                       trk_arg_buf(thr_d2), trk_arg_buf(thr_j), trk_arg_buf(ex->rho),
                       trk_arg_buf(cnt), trk_arg_buf(src0), trk_arg_buf(dst0), trk_arg_u32(fill));
        if (st == TRK_OK && !fill) {
            /* the total must fit max_edges before anything is written */
            struct trk_buffer *tot = ex->nu[5];
            st = trk_scan_u32(ex->q, cnt, cnt, n, tot, ex->scratch);
            if (st == TRK_OK)
                st = trk_buffer_read(ex->q, ne, tot, 0, 4, true);
            if (st == TRK_OK && (*ne > ex->p.max_edges)) {
                snprintf(err, errlen, "the radius graph has %u edges, more than max_edges = %u: "
                         "raise max_edges (or lower radius / knn)", *ne, ex->p.max_edges);
                return TRK_ERR_OVERFLOW;
            }
        }
    }
    if (st != TRK_OK || *ne == 0)
        return st;
    /* canonical order: by dst, then stably by src */
    struct trk_buffer *ids = ex->eu[2], *k1 = ex->eu[3], *v1 = ex->eu[4];
    uint32_t bits = key_bits(n);
    st = trk_iota_u32(ex->q, ids, *ne, 0);
    if (st == TRK_OK)
        st = trk_sort_pairs_u32(ex->q, dst0, ids, k1, v1, *ne, bits, ex->scratch);
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_ext_gather_u32, *ne, trk_arg_buf(v1), trk_arg_buf(src0),
                       trk_arg_buf(dst0), trk_arg_u32(*ne));
    if (st == TRK_OK)
        st = trk_sort_pairs_u32(ex->q, dst0, k1, ex->eu[5], ex->eu[6], *ne, bits, ex->scratch);
    return st;
}

/* t = e·P2ᵀ over edges [e0, e0+m) of (src, dst): the geometric edge features (computed
 * into egeo) times their columns of l's first layer. */
static enum trk_status edge_geom(struct trk_ex_instance *ex, const struct ex_lin *l,
                                 struct trk_buffer *src, struct trk_buffer *dst, uint32_t e0,
                                 uint32_t m, struct trk_buffer *t)
{
    enum trk_status st = EX_LAUNCH(ex, TRK_KERNEL_exn_edge_geom, m, trk_arg_buf(ex->feat),
                                   trk_arg_buf(src), trk_arg_buf(dst), trk_arg_buf(ex->egeo),
                                   trk_arg_u32(e0), trk_arg_u32(m));
    return st == TRK_OK ? ex_dense(ex, l, l->part[2], EX_EDGE_DIM, false, m, ex->egeo, 0, t, 0,
                                   TRK_ACT_NONE)
                        : st;
}

/* Filter logits of the ne graph edges → eu[7]; kept edges (canonical order) → eu[2]
 * (src), eu[3] (dst), their filter logits eu[4]; *nk kept. */
static enum trk_status run_filter(struct trk_ex_instance *ex, uint32_t n, uint32_t ne,
                                  uint32_t *nk)
{
    struct trk_buffer *gsrc = ex->eu[5], *gdst = ex->eu[6], *logit = ex->eu[7];
    const struct ex_lin *l0 = &ex->flt[0];
    enum trk_status st = ex_dense(ex, l0, l0->part[0], ex->gw, false, n, ex->g, 0, ex->s0, 0,
                                  TRK_ACT_NONE);
    if (st == TRK_OK)
        st = ex_dense(ex, l0, l0->part[1], ex->gw, false, n, ex->g, 0, ex->s1, 0, TRK_ACT_NONE);
    for (uint32_t e0 = 0; e0 < ne && st == TRK_OK; e0 += ex->p.filter_chunk) {
        uint32_t m = ne - e0 < ex->p.filter_chunk ? ne - e0 : ex->p.filter_chunk;
        struct trk_buffer *a = ex->t1, *b = ex->t2;
        st = edge_geom(ex, l0, gsrc, gdst, e0, m, a);
        if (st == TRK_OK)
            st = ex_gather_add(ex, l0, ex->s0, ex->s1, gsrc, gdst, e0, m, a, true);
        if (st == TRK_OK)
            st = ex_norm_act(ex, l0, a, m, TRK_ACT_TANH, false);
        for (uint32_t l = 1; l < ex->flt_layers && st == TRK_OK; l++) {
            st = ex_dense(ex, &ex->flt[l], NULL, ex->hf, false, m, a, 0, b, 0, TRK_ACT_NONE);
            if (st == TRK_OK)
                st = ex_norm_act(ex, &ex->flt[l], b, m, TRK_ACT_TANH, true);
            struct trk_buffer *t = a;
            a = b;
            b = t;
        }
        if (st == TRK_OK)
            st = ex_dense(ex, &ex->flt_out, NULL, ex->hf, true, m, a, 0, logit, e0,
                          TRK_ACT_NONE);
    }
    struct trk_buffer *flags = ex->eu[0], *kidx = ex->eu[1];
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_ext_cut_flags, ne, trk_arg_buf(logit), trk_arg_u32(ne),
                       trk_arg_f32(ex->filter_thr), trk_arg_buf(flags));
    if (st == TRK_OK)
        st = trk_compact_u32(ex->q, NULL, flags, ne, kidx, ex->nu[5], ex->scratch);
    if (st == TRK_OK)
        st = trk_buffer_read(ex->q, nk, ex->nu[5], 0, 4, true);
    if (st != TRK_OK)
        return st;
    struct trk_buffer *from[3] = {gsrc, gdst, logit};
    for (int k = 0; k < 3 && st == TRK_OK; k++)
        st = EX_LAUNCH(ex, TRK_KERNEL_ext_gather_u32, *nk, trk_arg_buf(kidx),
                       trk_arg_buf(from[k]), trk_arg_buf(ex->eu[2 + k]), trk_arg_u32(*nk));
    return st;
}

/* One split edge MLP layer 0 for the kept edges [e0, e0+m): t = x_src·P0ᵀ + x_dst·P1ᵀ
 * (+ e·P2ᵀ when l has 3 parts: e the GNN edge state, or the geometric edge features when
 * l->geom) + b. na/nb must hold the node products. */
static enum trk_status edge_layer0(struct trk_ex_instance *ex, const struct ex_lin *l,
                                   uint32_t e0, uint32_t m, struct trk_buffer *t)
{
    bool three = l->part[2] != NULL;
    enum trk_status st = TRK_OK;
    if (l->geom)
        st = edge_geom(ex, l, ex->eu[2], ex->eu[3], e0, m, t);
    else if (three)
        st = ex_dense(ex, l, l->part[2], ex->h, false, m, ex->efeat, (size_t)e0 * ex->h, t, 0,
                      TRK_ACT_NONE);
    if (st == TRK_OK)
        st = ex_gather_add(ex, l, ex->na, ex->nb, ex->eu[2], ex->eu[3], e0, m, t, three);
    return st;
}

/* na = x·P0ᵀ, nb = x·P1ᵀ for a split layer. */
static enum trk_status node_products(struct trk_ex_instance *ex, const struct ex_lin *l,
                                     uint32_t n)
{
    enum trk_status st = ex_dense(ex, l, l->part[0], ex->h, false, n, ex->x, 0, ex->na, 0,
                                  TRK_ACT_NONE);
    return st == TRK_OK ? ex_dense(ex, l, l->part[1], ex->h, false, n, ex->x, 0, ex->nb, 0,
                                   TRK_ACT_NONE)
                        : st;
}

/* GNN on the nk kept edges (eu[2] src, eu[3] dst) → logits eu[6]; CSR: nu[5] in_off,
 * nu[6] out_off, eu[5] in_perm. */
static enum trk_status run_gnn(struct trk_ex_instance *ex, uint32_t n, uint32_t nk)
{
    struct trk_buffer *ksrc = ex->eu[2], *kdst = ex->eu[3], *in_off = ex->nu[5],
                      *out_off = ex->nu[6], *in_perm = ex->eu[5], *glogit = ex->eu[6];
    uint32_t h = ex->h, chunk = ex->p.filter_chunk;
    enum trk_status st = trk_buffer_memset(ex->q, in_off, 0, 0, ((size_t)n + 1) * 4);
    if (st == TRK_OK)
        st = trk_buffer_memset(ex->q, out_off, 0, 0, ((size_t)n + 1) * 4);
    if (st == TRK_OK)
        st = trk_histogram_u32(ex->q, kdst, nk, n, in_off);
    if (st == TRK_OK)
        st = trk_histogram_u32(ex->q, ksrc, nk, n, out_off);
    if (st == TRK_OK)
        st = trk_scan_u32(ex->q, in_off, in_off, n + 1, NULL, ex->scratch);
    if (st == TRK_OK)
        st = trk_scan_u32(ex->q, out_off, out_off, n + 1, NULL, ex->scratch);
    if (st == TRK_OK && nk)
        st = trk_iota_u32(ex->q, ex->eu[0], nk, 0);
    if (st == TRK_OK && nk)
        st = trk_sort_pairs_u32(ex->q, kdst, ex->eu[0], ex->eu[1], in_perm, nk, key_bits(n),
                                ex->scratch);
    /* node encoder: g → x */
    if (st == TRK_OK)
        st = ex_dense(ex, &ex->node_enc[0], NULL, ex->gw, false, n, ex->g, 0, ex->na, 0,
                      TRK_ACT_NONE);
    if (st == TRK_OK)
        st = ex_norm_act(ex, &ex->node_enc[0], ex->na, n, TRK_ACT_RELU, true);
    if (st == TRK_OK)
        st = ex_dense(ex, &ex->node_enc[1], NULL, h, false, n, ex->na, 0, ex->x, 0, TRK_ACT_NONE);
    if (st == TRK_OK)
        st = ex_norm_act(ex, &ex->node_enc[1], ex->x, n, TRK_ACT_RELU, true);
    /* edge encoder → efeat */
    if (st == TRK_OK)
        st = node_products(ex, &ex->edge_enc[0], n);
    for (uint32_t e0 = 0; e0 < nk && st == TRK_OK; e0 += chunk) {
        uint32_t m = nk - e0 < chunk ? nk - e0 : chunk;
        st = edge_layer0(ex, &ex->edge_enc[0], e0, m, ex->t1);
        if (st == TRK_OK)
            st = ex_norm_act(ex, &ex->edge_enc[0], ex->t1, m, TRK_ACT_RELU, false);
        if (st == TRK_OK)
            st = ex_dense(ex, &ex->edge_enc[1], NULL, h, false, m, ex->t1, 0, ex->t2, 0,
                          TRK_ACT_NONE);
        if (st == TRK_OK)
            st = ex_norm_act(ex, &ex->edge_enc[1], ex->t2, m, TRK_ACT_RELU, true);
        if (st == TRK_OK)
            st = EX_LAUNCH(ex, TRK_KERNEL_exn_add_rows, (uint64_t)m * h, trk_arg_buf(ex->efeat),
                           trk_arg_buf(ex->t2), trk_arg_u32(e0 * h), trk_arg_u32(m * h),
                           trk_arg_u32(0));
    }
    for (uint32_t it = 0; it < ex->iters && st == TRK_OK; it++) {
        st = EX_LAUNCH(ex, TRK_KERNEL_exn_aggregate, (uint64_t)n * h, trk_arg_buf(ex->efeat),
                       trk_arg_buf(ex->x), trk_arg_buf(ex->s0), trk_arg_buf(out_off),
                       trk_arg_buf(in_off), trk_arg_buf(in_perm), trk_arg_u32(n), trk_arg_u32(h));
        if (st == TRK_OK)
            st = ex_dense(ex, &ex->node_net[0], NULL, 5 * h, false, n, ex->s0, 0, ex->s1, 0,
                          TRK_ACT_NONE);
        if (st == TRK_OK)
            st = ex_norm_act(ex, &ex->node_net[0], ex->s1, n, TRK_ACT_RELU, true);
        if (st == TRK_OK)
            st = ex_dense(ex, &ex->node_net[1], NULL, h, false, n, ex->s1, 0, ex->na, 0,
                          TRK_ACT_NONE);
        if (st == TRK_OK)
            st = ex_norm_act(ex, &ex->node_net[1], ex->na, n, TRK_ACT_RELU, true);
        if (st == TRK_OK)
            st = EX_LAUNCH(ex, TRK_KERNEL_exn_add_rows, (uint64_t)n * h, trk_arg_buf(ex->x),
                           trk_arg_buf(ex->na), trk_arg_u32(0), trk_arg_u32(n * h),
                           trk_arg_u32(1));
        if (st == TRK_OK)
            st = node_products(ex, &ex->edge_net[0], n);
        for (uint32_t e0 = 0; e0 < nk && st == TRK_OK; e0 += chunk) {
            uint32_t m = nk - e0 < chunk ? nk - e0 : chunk;
            st = edge_layer0(ex, &ex->edge_net[0], e0, m, ex->t1);
            if (st == TRK_OK)
                st = ex_norm_act(ex, &ex->edge_net[0], ex->t1, m, TRK_ACT_RELU, false);
            if (st == TRK_OK)
                st = ex_dense(ex, &ex->edge_net[1], NULL, h, false, m, ex->t1, 0, ex->t2, 0,
                              TRK_ACT_NONE);
            if (st == TRK_OK)
                st = ex_norm_act(ex, &ex->edge_net[1], ex->t2, m, TRK_ACT_RELU, true);
            if (st == TRK_OK)
                st = EX_LAUNCH(ex, TRK_KERNEL_exn_add_rows, (uint64_t)m * h,
                               trk_arg_buf(ex->efeat), trk_arg_buf(ex->t2), trk_arg_u32(e0 * h),
                               trk_arg_u32(m * h), trk_arg_u32(1));
        }
    }
    /* output head */
    if (st == TRK_OK)
        st = node_products(ex, &ex->out_head, n);
    for (uint32_t e0 = 0; e0 < nk && st == TRK_OK; e0 += chunk) {
        uint32_t m = nk - e0 < chunk ? nk - e0 : chunk;
        st = edge_layer0(ex, &ex->out_head, e0, m, ex->t1);
        if (st == TRK_OK)
            st = ex_norm_act(ex, &ex->out_head, ex->t1, m, TRK_ACT_RELU, false);
        if (st == TRK_OK)
            st = ex_dense(ex, &ex->out_final, NULL, h, true, m, ex->t1, 0, glogit, e0,
                          TRK_ACT_NONE);
    }
    return st;
}

/* Track labels (int32, −1 none) → nu[0]; counts in small. */
static enum trk_status run_tracks(struct trk_ex_instance *ex, uint32_t n, uint32_t nk)
{
    struct trk_buffer *ksrc = ex->eu[2], *kdst = ex->eu[3], *in_off = ex->nu[5],
                      *out_off = ex->nu[6], *in_perm = ex->eu[5], *glogit = ex->eu[6];
    struct trk_buffer *best_out = ex->nu[0], *best_in = ex->nu[1], *labels = ex->nu[2],
                      *sizes = ex->nu[3], *roots = ex->nu[4], *number = ex->nu[7];
    struct trk_buffer *tsrc = ex->eu[0], *tdst = ex->eu[1], *tflags = ex->eu[7];
    enum trk_status st = TRK_OK;
    if (ex->p.junction_removal)
        st = EX_LAUNCH(ex, TRK_KERNEL_ext_best_edges, n, trk_arg_buf(glogit),
                       trk_arg_f32(ex->edge_thr), trk_arg_buf(out_off), trk_arg_buf(in_off),
                       trk_arg_buf(in_perm), trk_arg_u32(n), trk_arg_buf(best_out),
                       trk_arg_buf(best_in));
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_ext_track_edges, nk, trk_arg_buf(glogit),
                       trk_arg_f32(ex->edge_thr), trk_arg_buf(ksrc), trk_arg_buf(kdst),
                       trk_arg_buf(best_out), trk_arg_buf(best_in),
                       trk_arg_u32(ex->p.junction_removal), trk_arg_u32(nk), trk_arg_u32(n),
                       trk_arg_buf(tsrc), trk_arg_buf(tdst), trk_arg_buf(tflags));
    if (st == TRK_OK)
        st = trk_reduce_u32(ex->q, tflags, nk, TRK_REDUCE_SUM, ex->nu[6], ex->scratch);
    if (st == TRK_OK)
        st = trk_buffer_copy(ex->q, ex->small, EX_S_TEDGES * 4, ex->nu[6], 0, 4);
    if (st == TRK_OK)
        st = trk_components(ex->q, n, tsrc, tdst, nk, labels, NULL, ex->scratch);
    if (st == TRK_OK)
        st = trk_buffer_memset(ex->q, sizes, 0, 0, (size_t)n * 4);
    if (st == TRK_OK)
        st = trk_histogram_u32(ex->q, labels, n, n, sizes);
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_ext_track_roots, n, trk_arg_buf(labels), trk_arg_buf(sizes),
                       trk_arg_u32(n), trk_arg_u32(ex->p.min_hits), trk_arg_buf(roots));
    if (st == TRK_OK)
        st = trk_scan_u32(ex->q, roots, number, n, ex->nu[6], ex->scratch);
    if (st == TRK_OK)
        st = trk_buffer_copy(ex->q, ex->small, EX_S_TRACKS * 4, ex->nu[6], 0, 4);
    if (st == TRK_OK)
        st = EX_LAUNCH(ex, TRK_KERNEL_ext_track_labels, n, trk_arg_buf(labels),
                       trk_arg_buf(sizes), trk_arg_buf(number), trk_arg_u32(n),
                       trk_arg_u32(ex->p.min_hits), trk_arg_buf(ex->nu[0]));
    return st;
}

/* ---- the run ------------------------------------------------------------------- */

static enum trk_status fail(char *err, size_t errlen, enum trk_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum trk_status fail(char *err, size_t errlen, enum trk_status st, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "%s", buf);
    TRK_LOGE("%s", buf);
    return st;
}

enum trk_status trk_ex_run(struct trk_ex_instance *ex, const float *features, uint32_t n,
                           struct trk_ex_result *res, bool profile, bool debug, char *err,
                           size_t errlen)
{
    char tmp[512] = "";
    if (err && errlen)
        err[0] = 0;
    if (!ex || !res || (n && !features))
        return fail(err, errlen, TRK_ERR_INVALID_ARG, "%s is NULL",
                    !ex ? "instance" : !res ? "result" : "features");
    /* The capacity first: an oversized event is refused before its features are read. */
    if (n > ex->p.max_hits)
        return fail(err, errlen, TRK_ERR_OVERFLOW,
                    "the event has %u hits, more than max_hits = %u: raise max_hits", n,
                    ex->p.max_hits);
    for (uint32_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            if (!isfinite(features[3 * (size_t)i + c]))
                return fail(err, errlen, TRK_ERR_INVALID_ARG,
                            "feature row %u (column %d) is not finite (%g): every feature must "
                            "be a finite number",
                            i, c, (double)features[3 * (size_t)i + c]);
    double t_start = now_ms(), t0 = t_start;
    for (int s = 0; s < TRK_EX_NSTAGES; s++)
        res->stage_ms[s] = 0;
    res->nhits = n;
    res->ntracks = res->nedges_graph = res->nedges_filter = res->nedges_track = 0;
    res->emb_dim = ex->dim;
    if (!result_hits(res, n, ex->dim, debug))
        return fail(err, errlen, TRK_ERR_NO_MEMORY, "out of memory for %u labels", n);
    if (n == 0)
        return TRK_OK;

    uint32_t ne = 0, nk = 0, v[2];
    enum trk_status st = trk_buffer_write(ex->q, ex->feat, 0, features, (size_t)n * 12, true);
    if (st == TRK_OK)
        st = stage_end(ex, profile, res, TRK_EX_STAGE_UPLOAD, &t0);
    if (st == TRK_OK)
        st = run_embed(ex, n);
    if (st == TRK_OK)
        st = stage_end(ex, profile, res, TRK_EX_STAGE_EMBED, &t0);
    if (st == TRK_OK) {
        st = run_graph(ex, n, &ne, tmp, sizeof tmp);
        if (st != TRK_OK && tmp[0]) {
            trk_queue_finish(ex->q);
            return fail(err, errlen, st, "%s", tmp);
        }
    }
    res->nedges_graph = ne;
    if (st == TRK_OK)
        st = stage_end(ex, profile, res, TRK_EX_STAGE_GRAPH, &t0);
    if (st == TRK_OK)
        st = run_filter(ex, n, ne, &nk);
    res->nedges_filter = nk;
    if (st == TRK_OK && debug) {
        if (!result_graph(res, ne))
            st = TRK_ERR_NO_MEMORY;
        if (st == TRK_OK && ne)
            st = trk_buffer_read(ex->q, res->graph_src, ex->eu[5], 0, (size_t)ne * 4, true);
        if (st == TRK_OK && ne)
            st = trk_buffer_read(ex->q, res->graph_dst, ex->eu[6], 0, (size_t)ne * 4, true);
        if (st == TRK_OK && ne)
            st = trk_buffer_read(ex->q, res->graph_logit, ex->eu[7], 0, (size_t)ne * 4, true);
    }
    if (st == TRK_OK)
        st = stage_end(ex, profile, res, TRK_EX_STAGE_FILTER, &t0);
    if (st == TRK_OK)
        st = run_gnn(ex, n, nk);
    if (st == TRK_OK)
        st = stage_end(ex, profile, res, TRK_EX_STAGE_GNN, &t0);
    if (st == TRK_OK)
        st = run_tracks(ex, n, nk);
    if (st == TRK_OK)
        st = trk_buffer_read(ex->q, v, ex->small, EX_S_TEDGES * 4, sizeof v, true);
    if (st == TRK_OK)
        st = stage_end(ex, profile, res, TRK_EX_STAGE_TRACKS, &t0);
    if (st == TRK_OK)
        st = trk_buffer_read(ex->q, ex->host_labels, ex->nu[0], 0, (size_t)n * 4, true);
    if (st == TRK_OK && debug) {
        if (!result_edges(res, nk))
            st = TRK_ERR_NO_MEMORY;
        struct {
            void *to;
            struct trk_buffer *from;
            size_t bytes;
        } rd[] = {{res->embedding, ex->y, (size_t)n * ex->dim * 4},
                  {res->edge_src, ex->eu[2], (size_t)nk * 4},
                  {res->edge_dst, ex->eu[3], (size_t)nk * 4},
                  {res->filter_logit, ex->eu[4], (size_t)nk * 4},
                  {res->gnn_logit, ex->eu[6], (size_t)nk * 4}};
        for (size_t k = 0; k < sizeof rd / sizeof rd[0] && st == TRK_OK; k++)
            if (rd[k].bytes)
                st = trk_buffer_read(ex->q, rd[k].to, rd[k].from, 0, rd[k].bytes, true);
    }
    if (st != TRK_OK) {
        trk_queue_finish(ex->q);
        return fail(err, errlen, st, "Exa.TrkX inference failed on %s: %s",
                    trk_device_id(ex->dev), trk_status_str(st));
    }
    for (uint32_t i = 0; i < n; i++)
        res->labels[i] = ex->host_labels[i];
    res->nedges_track = v[0];
    res->ntracks = v[1];
    double t = now_ms();
    if (profile)
        res->stage_ms[TRK_EX_STAGE_DOWNLOAD] += t - t0;
    else
        res->stage_ms[TRK_EX_STAGE_TRACKS] = t - t_start;
    return TRK_OK;
}
