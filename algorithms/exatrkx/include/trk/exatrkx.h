/* trkserve — Exa.TrkX GNN tracking: spacepoints → track labels, on any device, from one
 * kernel source (algorithms/exatrkx/kernels) plus the runtime's dense layers.
 *
 * Pipeline (the networks are algorithms/exatrkx/training/exatrkx_models.py; that file is
 * the reference for every formula; data stays on the device between stages):
 *   1. features f = (r/1000, φ/π, z/1000) (mm) → node inputs u = (f0, cos πf1, sin πf1, f2);
 *   2. embedding MLP (Linear+Tanh) → y [N, D];
 *   3. radius graph: pairs with |y_i − y_j|² < radius² (all D dims), each hit keeping at
 *      most `knn` nearest (ties: lower index); a pair is an edge when either end keeps the
 *      other; found with a uniform grid over y's first 3 dims (cell = radius);
 *      edges directed from the hit with smaller f0² + f2² (ties: lower index) to the other
 *      and sorted by (src, dst) — the canonical order every later stage keeps;
 *   4. filter MLP on (g_src, g_dst, e), g = (u, y), e the 6 geometric edge features of
 *      exatrkx_models.edge_features (differences in r, φ, z, the r-z line's distance
 *      from the origin, the φ slope and r times it, from f of both ends); the first
 *      layer split by columns, its node parts computed once per node; edges in chunks
 *      of `filter_chunk`; kept when logit > logit(filter_cut);
 *   5. interaction-network GNN on the kept edges (its edge encoder sees e too) → one
 *      logit per edge;
 *   6. edges with logit > logit(edge_cut); with `junction_removal` an edge survives only
 *      if it is the best-scoring kept out-edge of its src and in-edge of its dst (ties:
 *      lower edge index); connected components; components with fewer than `min_hits`
 *      hits get −1; the others are numbered 0.. in order of their lowest hit index.
 * Scratch is sized at create for `max_hits` / `max_edges`; a larger event is refused with
 * TRK_ERR_OVERFLOW and a message naming the parameter to raise. */
#ifndef TRK_EXATRKX_H
#define TRK_EXATRKX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/device.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The trained networks, on the host: read from a safetensors file whose tensor names
 * and metadata MODEL_CARD.md documents. Immutable after load; shareable by instances. */
struct trk_ex_weights;

/* Loads and checks a weights file: every tensor the networks need is present, F32, with
 * consistent shapes; the header is well-formed and the data is complete. On failure
 * returns TRK_ERR_NOT_FOUND / TRK_ERR_IO / TRK_ERR_PARSE (wrong file, missing tensor,
 * wrong shape, truncated) and writes one line to err naming the tensor or the byte
 * offset. *out is the caller's (trk_ex_weights_free). Thread-safe. */
enum trk_status trk_ex_weights_load(const char *path, struct trk_ex_weights **out, char *err,
                                    size_t errlen);
/* The same from bytes in memory (n bytes; copied). For fuzzers and tests. */
enum trk_status trk_ex_weights_parse(const void *data, size_t n, struct trk_ex_weights **out,
                                     char *err, size_t errlen);
void trk_ex_weights_free(struct trk_ex_weights *w);

/* Inference parameters. trk_ex_params_default fills them from the weights' metadata
 * (what training used and validated) or, with w NULL, from built-in values. */
struct trk_ex_params {
    float radius;          /* embedding-space radius (metadata "radius") */
    uint32_t knn;          /* neighbours kept per hit, at most (metadata "knn") */
    float filter_cut;      /* sigmoid cut on the filter (metadata "filter_cut") */
    float edge_cut;        /* sigmoid cut on the GNN (metadata "edge_cut") */
    uint32_t min_hits;     /* smallest candidate kept (metadata "min_hits") */
    bool junction_removal; /* metadata "junction_removal" */
    uint32_t max_hits;     /* capacity (default 262,144) */
    uint32_t max_edges;    /* capacity of the radius graph (default 8,388,608) */
    uint32_t filter_chunk; /* edges per filter pass (default 262,144) */
};
void trk_ex_params_default(struct trk_ex_params *p, const struct trk_ex_weights *w);

struct trk_ex_instance;

/* Uploads the weights to dev and allocates all scratch for p's capacities. Returns
 * TRK_ERR_INVALID_ARG with a log line on a bad parameter, TRK_ERR_NO_MEMORY when the
 * device cannot hold the scratch. w may be freed afterwards. */
enum trk_status trk_ex_instance_create(struct trk_device *dev, const struct trk_ex_weights *w,
                                       const struct trk_ex_params *p,
                                       struct trk_ex_instance **out);
void trk_ex_instance_free(struct trk_ex_instance *ex);
/* Device memory the instance holds, bytes. */
uint64_t trk_ex_memory_bytes(const struct trk_ex_instance *ex);

/* Stages, for timing. */
enum trk_ex_stage {
    TRK_EX_STAGE_UPLOAD,
    TRK_EX_STAGE_EMBED,
    TRK_EX_STAGE_GRAPH,
    TRK_EX_STAGE_FILTER,
    TRK_EX_STAGE_GNN,
    TRK_EX_STAGE_TRACKS,
    TRK_EX_STAGE_DOWNLOAD,
    TRK_EX_NSTAGES
};
const char *trk_ex_stage_name(enum trk_ex_stage s); /* "embed", "graph", ... */

/* What one event gave. Arrays are heap, owned by the result, grown as needed (a result
 * reused across events does not allocate once large enough). */
struct trk_ex_result {
    uint32_t nhits;
    int64_t *labels;        /* [nhits] track label, −1 for none */
    uint32_t ntracks;
    uint32_t nedges_graph;  /* radius-graph edges */
    uint32_t nedges_filter; /* after the filter cut */
    uint32_t nedges_track;  /* after the GNN cut (and junction removal) */
    double stage_ms[TRK_EX_NSTAGES]; /* filled when run with profile (queue drained per
                                        stage); otherwise only the total in TRACKS */
    /* Debug outputs, filled only when the instance was asked to keep them
     * (trk_ex_run's `debug`): embeddings [nhits, dim], the filtered edge list
     * [nedges_filter] src/dst with the filter and GNN logits. */
    uint32_t emb_dim;
    float *embedding;
    uint32_t *edge_src, *edge_dst;
    float *filter_logit, *gnn_logit;
    size_t cap_hits, cap_edges;
    /* Debug too: the whole radius graph [nedges_graph] in canonical order with the
     * filter logit of every edge (before the cut). */
    uint32_t *graph_src, *graph_dst;
    float *graph_logit;
    size_t cap_graph;
};
void trk_ex_result_init(struct trk_ex_result *r);
void trk_ex_result_fini(struct trk_ex_result *r);

/* Runs the pipeline on n spacepoints (features [n,3], row-major, as described above).
 * Errors (res unchanged or partially filled, err says why in one line a client can be
 * shown): TRK_ERR_INVALID_ARG for a non-finite feature (naming the row); TRK_ERR_OVERFLOW
 * for n > max_hits or a graph above max_edges (naming the parameter). n == 0 is valid (no
 * labels). Blocks; one thread at a time per instance. */
enum trk_status trk_ex_run(struct trk_ex_instance *ex, const float *features, uint32_t n,
                           struct trk_ex_result *res, bool profile, bool debug, char *err,
                           size_t errlen);

/* Features of spacepoints at (x, y, z) mm: out[3i..3i+2] = (r/1000, atan2(y,x)/π, z/1000). */
void trk_ex_features(const float *x, const float *y, const float *z, size_t n, float *out);

#ifdef __cplusplus
}
#endif
#endif
