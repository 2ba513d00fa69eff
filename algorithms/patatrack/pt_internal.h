/* Patatrack inside: the instance, the device buffers each stage produces, and the stage
 * functions. This is the contract between the stages:
 *   local.c   (stages 0–4: raw → digis → clusters → hits)        owns pt->cond, pt->local, fills pt->hits
 *   hits.c    (φ index of the hits; host upload for tests)        owns the pt->hits index
 *   ca.c      (stages 5–6: doublets, CA, ntuplets)               owns pt->ca, fills pt->tuples
 *   fit.c     (stage 7: fit, quality, duplicate removal)         owns pt->fit, fills pt->tracks
 *   vertex.c  (stage 8: vertices)                                owns pt->vtx, fills pt->vertices
 *   patatrack.c (instance, pipeline, read back, outputs)
 *
 * Device units are Patatrack's: cm, GeV, radians; hits are beam-spot subtracted.
 * Everything a stage writes is DETERMINISTIC: the same bytes whatever the device, the
 * number of threads or the scheduling. Atomic appends are fine only when what they
 * append is then put in a canonical order (or slots come from count → scan → fill);
 * every "keep the best" decision breaks ties with a deterministic key (an index). */
#ifndef TRK_PT_INTERNAL_H
#define TRK_PT_INTERNAL_H

#include <time.h>

#include "trk/log.h"
#include "trk/patatrack.h"
#include "trk/prim.h"

#define PT_NLAYERS 10u           /* BPIX L1–L4, FPIX +1..+3, −1..−3 */
#define PT_PHI_BINS 128u         /* per layer */
#define PT_NPAIRS 19u            /* layer pairs (13 + 2 + 4) */
#define PT_CPE_CM_PER_MM 0.1f

/* φ bin of a hit: iphi is φ scaled to int16 (±π ↔ ±32768). */
#define PT_PHI_BIN(iphi) ((uint32_t)((int32_t)(iphi) + 32768) >> 9)

/* pt->hole_geo layout (floats, cm): BPIX L1 then L4, each {nladders, φ of ladder 0's
 * centre, signed φ step, then per ladder r, z, zmin, zmax}; then the z of the first
 * forward disk at +z and at −z. */
#define PT_HOLE_L1 0u
#define PT_HOLE_L1_LADDERS 12u
#define PT_HOLE_L4 (PT_HOLE_L1 + 3u + 4u * PT_HOLE_L1_LADDERS)
#define PT_HOLE_L4_LADDERS 64u
#define PT_HOLE_ENDCAP (PT_HOLE_L4 + 3u + 4u * PT_HOLE_L4_LADDERS)
#define PT_HOLE_N (PT_HOLE_ENDCAP + 2u)

/* Slots of pt->counters (uint32 each, zeroed by patatrack.c before every event). A
 * stage writes only its own slots. */
enum pt_counter {
    PT_C_WORDS = 0,          /* local: payload words uploaded */
    PT_C_DIGIS,              /* local: valid pixel digis */
    PT_C_ERRORS,             /* local: data-level error words */
    PT_C_MODULES,            /* local: modules with digis */
    PT_C_HITS,               /* local: clusters kept = hits (≤ max_hits) */
    PT_C_OVF_WORDS,          /* local: words beyond max_fed_words (the host counts them) */
    PT_C_OVF_HITS,           /* local: clusters beyond max_hits */
    PT_C_DOUBLETS,           /* ca */
    PT_C_OVF_DOUBLETS,       /* ca */
    PT_C_OVF_CELL_LINKS,     /* ca: neighbour/track links that did not fit */
    PT_C_TUPLES,             /* ca: ntuplets (≤ max_tuples) */
    PT_C_OVF_TUPLES,         /* ca */
    PT_C_TRACKS,             /* fit: tuples with quality ≥ loose after cleaning */
    PT_C_VERTICES,           /* vertex */
    PT_C_OVF_VERTICES,       /* vertex */
    PT_C_ERROR_TYPES,        /* local: 64 slots, errors by CMS type */
    PT_C_N = PT_C_ERROR_TYPES + 64
};

/* Hits (clusters), struct of arrays, capacity p.max_hits. Hit order: by module, then by
 * the cluster's lowest digi index (so layer l's hits are [layer_start[l],
 * layer_start[l+1])). Written by local.c, indexed by hits.c. */
struct pt_hits {
    struct trk_buffer *x, *y, *z, *r; /* float: global, cm, beam spot subtracted; r = hypot(x, y) */
    struct trk_buffer *iphi;          /* int16: atan2(y, x) · 32768/π, rounded, wrapped */
    struct trk_buffer *gcov;          /* float[6·cap]: global position covariance, cm²,
                                         xx, xy, yy, xz, yz, zz (Patatrack frame.toGlobal
                                         of the local errors) */
    struct trk_buffer *xerr2, *yerr2; /* float: local variances, cm² */
    struct trk_buffer *size_x, *size_y; /* int16: cluster size in 1/8 pixel with the
                                         charge-unbalance correction, negative when the
                                         cluster touches the module edge (Patatrack CPE) */
    struct trk_buffer *charge;        /* int32: electrons */
    struct trk_buffer *module;        /* uint32: module index */
    struct trk_buffer *layer_start;   /* uint32[PT_NLAYERS+1] */
    /* φ index (hits.c): hits of layer l and bin b are
     * phi_hits[phi_offsets[l·PT_PHI_BINS+b] .. phi_offsets[l·PT_PHI_BINS+b+1]), in
     * increasing hit index within a bin */
    struct trk_buffer *phi_offsets;   /* uint32[PT_NLAYERS·PT_PHI_BINS+1] */
    struct trk_buffer *phi_hits;      /* uint32[cap] */
    struct trk_buffer *digi_hit;      /* int32[max_fed_words]: per valid digi (raw-word
                                         order, error words excluded) its hit, -1 none */
    /* hits.c's scratch for the φ index (keys, hit ids, sorted keys, sort/scan scratch) */
    struct trk_buffer *idx_keys, *idx_vals, *idx_sorted, *idx_scratch;
};

/* Ntuplets, capacity p.max_tuples, written by ca.c in a canonical order. */
struct pt_tuples {
    struct trk_buffer *hits;    /* uint32[cap·TRK_PT_MAX_TUPLE_HITS]: hit indices, inner → outer */
    struct trk_buffer *cells;   /* uint32[cap·(TRK_PT_MAX_TUPLE_HITS−1)]: doublet (cell) ids
                                   joining consecutive hits, inner → outer */
    struct trk_buffer *nhits;   /* uint32[cap]: 3 … 6 */
    struct trk_buffer *quality; /* uint32[cap] enum trk_pt_quality: ca.c writes DUP for tuples
                                   its early duplicate remover drops, LOOSE for the rest;
                                   fit.c then classifies and cleans (BAD, DUP, LOOSE, ...) */
};

/* Fitted tracks, one per tuple (same index), written by fit.c. */
struct pt_tracks {
    struct trk_buffer *state;   /* float[cap·5]: φ, tip (cm), q/pT (1/GeV), cotθ, zip (cm) */
    struct trk_buffer *cov;     /* float[cap·15]: lower triangle row by row */
    struct trk_buffer *pt, *eta, *chi2; /* float[cap]: GeV, η, χ²/ndof */
    struct trk_buffer *charge;  /* int32[cap] */
    struct trk_buffer *vertex;  /* int32[cap]: vertex index (after sorting), -1 none (vertex.c) */
};

/* Vertices, capacity p.max_vertices, written by vertex.c, sorted by Σpt² decreasing. */
struct pt_vertices {
    struct trk_buffer *z;       /* float: cm */
    struct trk_buffer *zerr2;   /* float: cm² */
    struct trk_buffer *ptv2;    /* float: Σpt² of its tracks, GeV² */
    struct trk_buffer *chi2;    /* float: χ² */
    struct trk_buffer *ndof;    /* int32 */
};

struct pt_local; /* local.c's conditions and scratch */
struct pt_ca;    /* ca.c's cells, neighbour links, scratch */
struct pt_fit;   /* fit.c's scratch */
struct pt_vtx;   /* vertex.c's scratch */
struct pt_readback; /* patatrack.c's host staging of the read back */

struct trk_pt_instance {
    struct trk_device *dev;
    struct trk_queue *q;
    struct trk_pt_params p;
    uint32_t block;       /* preferred block size of dev (1 on the CPU device) */
    bool serial;          /* dev runs a block on one thread (CPU device) */
    float bfield;         /* T, along +z */
    float bfield_inv_c;   /* GeV/cm per 1/cm of curvature: 0.00299792458 · bfield
                             (Patatrack's 0.0114256972711507 for 3.8112 T) */
    float beamspot[11];   /* BeamSpotPOD, cm */
    uint64_t mem_bytes;   /* device memory held, bytes (pt_alloc adds to it) */

    struct trk_buffer *counters; /* uint32[PT_C_N] */
    /* Ladder geometry for Patatrack's "triplets only in a hole" rule (float[PT_HOLE_N],
     * layout PT_HOLE_*; patatrack.c fills it from the detector). NULL (bare instances in
     * stage tests): every triplet is kept. */
    struct trk_buffer *hole_geo;

    /* host copies of counts the stages read back to size their launches */
    uint32_t nhits, ndoublets, ntuples, nvertices;

    struct pt_hits hits;
    struct pt_tuples tuples;
    struct pt_tracks tracks;
    struct pt_vertices vertices;

    struct pt_local *local;
    struct pt_ca *ca;
    struct pt_fit *fit;
    struct pt_vtx *vtx;
    struct pt_readback *rb;
};

/* Allocates a device buffer of `bytes` (0 allowed) and counts it in pt->mem_bytes. On
 * failure logs what was asked for and how to fix it. */
static inline enum trk_status pt_alloc(struct trk_pt_instance *pt, struct trk_buffer **buf,
                                       size_t bytes, const char *what)
{
    enum trk_status st = trk_buffer_alloc(pt->dev, bytes, buf);
    if (st != TRK_OK) {
        TRK_LOGE("cannot allocate %zu bytes for %s on %s (%s): lower the capacities "
                 "(max_hits, max_doublets, max_tuples) or pick a device with more memory",
                 bytes, what, trk_device_id(pt->dev), trk_status_str(st));
        return st;
    }
    pt->mem_bytes += bytes;
    return TRK_OK;
}

static inline double pt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* End of stage `stage` when profiling: drains the queue and adds the time since *t0 to
 * stage_ms[stage], then restarts *t0. A no-op (TRK_OK) when !profile. */
static inline enum trk_status pt_stage_end(struct trk_pt_instance *pt, bool profile,
                                           double *stage_ms, int stage, double *t0)
{
    if (!profile || !stage_ms)
        return TRK_OK;
    enum trk_status st = trk_queue_finish(pt->q);
    double t = pt_now_ms();
    stage_ms[stage] += t - *t0;
    *t0 = t;
    return st;
}

/* ---- patatrack.c -------------------------------------------------------------------- */

/* An instance with its queue, params, bfield and counters but no stage allocated: tests
 * allocate the stages they drive (pt_hits_alloc first). trk_pt_instance_free frees
 * whatever was allocated, so every pt_*_free must be safe on a stage never allocated
 * or half allocated (NULL buffers). p NULL: defaults; bfield in T. */
enum trk_status pt_instance_bare(struct trk_device *dev, const struct trk_pt_params *p,
                                 float bfield, struct trk_pt_instance **out);

/* Reads counter slot c (finishes the queue first). Returns 0 on a failed read. */
uint32_t pt_counter(struct trk_pt_instance *pt, enum pt_counter c);

/* ---- local.c: stages 0–4 ------------------------------------------------------ */

/* Uploads the conditions (cabling, gains, Lorentz shifts from cond; module frames from
 * det; pt->beamspot from cond) and allocates the local scratch. (pt->hits is allocated
 * by pt_hits_alloc, which runs first.) */
enum trk_status pt_local_alloc(struct trk_pt_instance *pt, const struct trk_cms_conditions *cond,
                               const struct trk_detector *det);
void pt_local_free(struct trk_pt_instance *pt);

/* Stage 0 on the host (zstd, FED headers/trailers/CRC, payload words + FED id per word,
 * one upload), stages 1–4 on the queue; ends with pt->hits complete (pt_hits_index
 * called) and pt->nhits set. Malformed containers: TRK_ERR_PARSE, logged. Counters
 * PT_C_WORDS … PT_C_OVF_HITS and PT_C_ERROR_TYPES written. */
enum trk_status pt_local_run(struct trk_pt_instance *pt, const void *raw, size_t n, bool profile,
                             double *stage_ms, double *t0);

/* ---- hits.c: the φ index -------------------------------------------------------- */

/* Allocates every pt->hits buffer (capacity p.max_hits; digi_hit p.max_fed_words) and
 * the scratch of the φ index. */
enum trk_status pt_hits_alloc(struct trk_pt_instance *pt);
void pt_hits_free(struct trk_pt_instance *pt);

/* Builds phi_offsets/phi_hits for the pt->nhits hits on the device (layer_start and
 * iphi must be written). Enqueues only. */
enum trk_status pt_hits_index(struct trk_pt_instance *pt);

/* Tests: hits made on the host (ordered by module; x, y, z in cm, beam spot
 * subtracted; module per hit; size_x/size_y/gcov may be NULL = 0). Fills every
 * pt->hits array (r, iphi, layer_start derived), sets pt->nhits, builds the index.
 * Blocks. */
struct pt_host_hits {
    uint32_t n;
    const float *x, *y, *z;
    const uint32_t *module;
    const int16_t *size_x, *size_y;
    const float *gcov; /* [6·n] */
};
enum trk_status pt_hits_upload(struct trk_pt_instance *pt, const struct pt_host_hits *h);

/* ---- ca.c: stages 5–6 ------------------------------------------------------------- */

enum trk_status pt_ca_alloc(struct trk_pt_instance *pt); /* also allocates pt->tuples */
void pt_ca_free(struct trk_pt_instance *pt);
/* Doublets, CA, ntuplets → pt->tuples (canonical order), pt->ndoublets, pt->ntuples;
 * counters PT_C_DOUBLETS … PT_C_OVF_TUPLES. */
enum trk_status pt_ca_run(struct trk_pt_instance *pt, bool profile, double *stage_ms, double *t0);

/* ---- fit.c: stage 7 ----------------------------------------------------------------- */

enum trk_status pt_fit_alloc(struct trk_pt_instance *pt); /* also allocates pt->tracks */
void pt_fit_free(struct trk_pt_instance *pt);
/* Fits the pt->ntuples tuples, classifies and cleans them (pt->tuples.quality),
 * counter PT_C_TRACKS. */
enum trk_status pt_fit_run(struct trk_pt_instance *pt, bool profile, double *stage_ms, double *t0);

/* Tests: tuples made on the host (hits already uploaded): nhits[i] hits of tuple i at
 * hits[i·TRK_PT_MAX_TUPLE_HITS …]; cells are set to UINT32_MAX (none), quality LOOSE.
 * Sets pt->ntuples. Blocks. */
enum trk_status pt_tuples_upload(struct trk_pt_instance *pt, uint32_t ntuples,
                                 const uint32_t *hits, const uint32_t *nhits);

/* ---- vertex.c: stage 8 ---------------------------------------------------------------- */

enum trk_status pt_vertex_alloc(struct trk_pt_instance *pt); /* also allocates pt->vertices */
void pt_vertex_free(struct trk_pt_instance *pt);
/* Vertices from the tracks of quality ≥ loose with ≥ vtx_track_min_hits hits and
 * pT ≥ vtx_track_ptmin → pt->vertices (sorted), pt->tracks.vertex, pt->nvertices,
 * counters PT_C_VERTICES, PT_C_OVF_VERTICES. */
enum trk_status pt_vertex_run(struct trk_pt_instance *pt, bool profile, double *stage_ms,
                              double *t0);

#endif
