/* Exa.TrkX inside: the safetensors reader (weights.c), the checked weights, and the
 * instance the pipeline (exatrkx.c) runs on. Kernels: kernels/ex_*.kc, listed in
 * runtime/include/trk/kernels_ex.def. */
#ifndef TRK_EX_INTERNAL_H
#define TRK_EX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/exatrkx.h"

#define EX_FORMAT "trkserve-exatrkx-2"
#define EX_EDGE_DIM 6 /* geometric edge features (exn_edge_geom) */
#define EX_MAX_KNN 64u     /* as EX_KNN_CAP in ex_graph.kc: the per-hit list lives in
                              private memory */
#define EX_MAX_DIM 32u     /* embedding dimension, at most (private row in ex_graph.kc) */
#define EX_MAX_LAYERS 16u  /* embedding / filter Linear layers, at most */
#define EX_MAX_WIDTH 4096u /* any layer's width, at most */
#define EX_GRID_MAX 128u   /* radius-graph grid cells per axis, at most */

/* ---- safetensors (weights.c) --------------------------------------------------- */

enum ex_dtype { EX_F32 = 0, EX_I32 = 1, EX_I64 = 2 };

struct ex_tensor {
    char name[256];
    enum ex_dtype dtype;
    uint32_t ndim;
    uint64_t shape[8];
    uint64_t count; /* elements */
    void *data;     /* count elements, malloc'd (aligned for the dtype) */
};

/* A parsed safetensors file: its tensors (data copied out) and metadata. */
struct ex_st {
    struct ex_tensor *t;
    uint32_t nt;
    char (*meta_key)[256];
    char (*meta_val)[1024];
    uint32_t nmeta;
};

/* Parses a safetensors image of n bytes strictly (header length, JSON, dtypes F32/I32/
 * I64, shapes, offsets inside the data and not overlapping, no duplicate names). On
 * failure returns TRK_ERR_PARSE and writes one line naming the byte offset or tensor to
 * err; *out is then empty. *out is the caller's (ex_st_fini). */
enum trk_status ex_st_parse(const void *data, size_t n, struct ex_st *out, char *err,
                            size_t errlen);
/* Reads the file at path and parses it (TRK_ERR_NOT_FOUND / TRK_ERR_IO / TRK_ERR_PARSE). */
enum trk_status ex_st_load(const char *path, struct ex_st *out, char *err, size_t errlen);
void ex_st_fini(struct ex_st *s);
/* The tensor named name, or NULL. */
const struct ex_tensor *ex_st_find(const struct ex_st *s, const char *name);
/* The metadata value for key, or NULL. */
const char *ex_st_meta(const struct ex_st *s, const char *key);

/* ---- weights (weights.c) --------------------------------------------------------- */

struct trk_ex_weights {
    struct ex_st st;
    uint32_t dim;                           /* embedding dimension D */
    uint32_t emb_layers;                    /* Linear layers of the embedding */
    uint32_t emb_width[EX_MAX_LAYERS + 1];  /* 4, hidden..., D */
    uint32_t flt_layers;                    /* hidden Linear layers of the filter */
    uint32_t flt_hidden;
    uint32_t gnn_hidden, gnn_iters;
    struct trk_ex_params meta;              /* params from the metadata */
};

/* The F32 data of tensor name (checked present at load). */
const float *ex_w(const struct trk_ex_weights *w, const char *name);

#endif
