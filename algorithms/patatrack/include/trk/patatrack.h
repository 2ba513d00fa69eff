/* trkserve — Patatrack pixel tracking: CMS Phase-1 raw pixel data → pixel tracks and
 * vertices, on any device, from one kernel source (algorithms/patatrack/kernels).
 *
 * Pipeline (each stage a set of dialect kernels; data stays on the device between
 * stages; only the outputs are read back):
 *   1. raw → digis: FED words unpacked with the cabling map, error words counted;
 *   2. gain calibration, dead/noisy pixels dropped;
 *   3. clustering per module, cluster charge cut;
 *   4. CPE: cluster positions and errors, local → global, hits per layer binned in φ;
 *   5. doublets over the 19 layer pairs;
 *   6. cellular automaton, fishbone, ntuplets of 3–6 hits;
 *   7. broken-line fit, quality classification, duplicate removal;
 *   8. vertices: tracks clustered in z by density, fitted, split, sorted by Σpt².
 * Conditions (cabling, gains, module frames and Lorentz shifts, beam spot) are uploaded
 * once per instance. Capacities are parameters; an overflow is counted and reported in
 * the result, never written past.
 *
 * Units of the results: mm, GeV, radians (the project's units; the device works in cm
 * as Patatrack does and converts on the way out). */
#ifndef TRK_PATATRACK_H
#define TRK_PATATRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/cms.h"
#include "trk/detector.h"
#include "trk/device.h"
#include "trk/event.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRK_PT_MAX_TUPLE_HITS 6u /* hits of the longest ntuplet */

/* Track quality (Patatrack pixelTrack::Quality). */
enum trk_pt_quality {
    TRK_PT_BAD = 0,
    TRK_PT_DUP = 1,
    TRK_PT_LOOSE = 2,
    TRK_PT_STRICT = 3,
    TRK_PT_TIGHT = 4,
    TRK_PT_HIGH_PURITY = 5,
};

/* Capacities and cuts. Defaults (trk_pt_params_default) are Patatrack's (see
 * ../shared/notes/patatrack.md), capacities sized for PU 200. */
struct trk_pt_params {
    /* capacities */
    uint32_t max_fed_words;   /* 32-bit payload words per event (default 1,048,576) */
    uint32_t max_hits;        /* clusters = hits (default 131,072) */
    uint32_t max_doublets;    /* cells (default 2,097,152) */
    uint32_t max_tuples;      /* ntuplets (default 65,536) */
    uint32_t max_vertices;    /* (default 1024) */
    /* doublets */
    bool include_jumping_forward; /* pairs 13–18 (default true) */
    bool do_cluster_cut;      /* cluster-size compatibility (default true) */
    bool do_z0_cut;           /* z0 window 12 cm (default true) */
    bool do_pt_cut;           /* hard pT cut 0.5 GeV via the r window (default true) */
    /* cellular automaton */
    uint32_t min_hits_per_ntuplet; /* 3 or 4 (default 3) */
    float ptmin;              /* GeV, areAlignedRZ (default 0.9) */
    float ca_theta_cut_barrel, ca_theta_cut_forward; /* (0.002, 0.003) */
    float hard_curv_cut;      /* 1/cm (0.0328407224959) */
    float dca_cut_inner_triplet, dca_cut_outer_triplet; /* cm (0.15, 0.25) */
    bool early_fishbone;      /* (default true) */
    /* fit and quality */
    bool use_riemann_fit;     /* broken line otherwise (default false) */
    bool fit_5_as_4;          /* (default true) */
    float chi2_coeff[4];      /* {0.68177776, 0.74609577, -0.08035491, 0.00315399} */
    float chi2_scale;         /* 30 (45 for Riemann) */
    /* cm, GeV, cm (0.05, 0.5, 12). Patatrack's tip cut is 0.3 cm; with triplets kept
     * (min_hits_per_ntuplet 3, only those pointing to a hole, as its
     * ONLY_TRIPLETS_IN_HOLE) 0.05 cm took the fake rate on PU 50 from 5.9% to 3.6% for
     * 0.1% of efficiency (6 events, seed 7). */
    float triplet_max_tip, triplet_min_pt, triplet_max_zip;
    float quad_max_tip, quad_min_pt, quad_max_zip;          /* (0.5, 0.3, 12) */
    /* vertices */
    uint32_t vtx_min_tracks;  /* minT (2) */
    float vtx_eps;            /* cm (0.07) */
    float vtx_errmax;         /* cm (0.01) */
    float vtx_chi2max;        /* (9) */
    float vtx_track_ptmin;    /* GeV (0.5) */
    uint32_t vtx_track_min_hits; /* (4) */
};

/* Fills p with the defaults documented in the struct. */
void trk_pt_params_default(struct trk_pt_params *p);

/* Counters of one event (what the pipeline found and what overflowed). */
struct trk_pt_counts {
    uint32_t fed_words;       /* payload words unpacked */
    uint32_t digis;           /* valid pixel digis */
    uint32_t errors;          /* data-level error words (types below) */
    uint32_t error_types[64]; /* errors by CMS type (25–40 used) */
    uint32_t modules;         /* modules with ≥ 1 digi after calibration */
    uint32_t clusters;        /* clusters kept = hits */
    uint32_t doublets;
    uint32_t tuples;          /* ntuplets found */
    uint32_t tracks;          /* tuples with quality ≥ loose after cleaning */
    uint32_t vertices;
    /* overflows: items that did not fit (0 when all fitted) */
    uint32_t overflow_words, overflow_hits, overflow_doublets, overflow_tuples,
        overflow_vertices, overflow_cell_links;
};

/* One event's results on the host (owned by the struct; trk_pt_result_fini frees). */
struct trk_pt_result {
    struct trk_pt_counts counts;
    /* hits = clusters, ordered by module, then by their lowest digi index */
    uint32_t nhits;
    float *hit_pos;           /* [nhits·3] global, mm (beam spot NOT subtracted) */
    uint32_t *hit_module;     /* [nhits] */
    int32_t *hit_charge;      /* [nhits] electrons */
    /* the digis of each hit, as indices into the event's digis (raw-word order, error
     * words excluded: the order of trk_cms_raw_decode and of the digi_* truth columns) */
    uint32_t *hit_digi_offsets; /* [nhits+1] */
    uint32_t *hit_digis;
    /* tracks (quality ≥ loose), in a canonical order (by first hit, then the rest) */
    uint32_t ntracks;
    uint32_t *track_hit_offsets; /* [ntracks+1] */
    uint32_t *track_hits;        /* hit indices, inner to outer */
    float *track_state;       /* [ntracks·5] at the beam spot: φ, tip (mm), q/pT (1/GeV),
                                 cotθ, zip (mm) (Patatrack stateAtBS) */
    float *track_cov;         /* [ntracks·15] covariance of the state, lower triangle
                                 row by row, in the units above */
    float *track_pt, *track_eta, *track_chi2; /* [ntracks]; chi2 per degree of freedom */
    int32_t *track_charge;    /* [ntracks] ±1 */
    uint8_t *track_quality;   /* [ntracks] enum trk_pt_quality */
    int32_t *track_vertex;    /* [ntracks] vertex index, -1 none */
    /* vertices, sorted by Σpt² decreasing */
    uint32_t nvertices;
    float *vertex_z, *vertex_zerr, *vertex_ptv2, *vertex_chi2; /* mm, mm, GeV², χ²/ndof */
    int32_t *vertex_ndof;
    /* wall time per stage, ms (stage 0 = host unpack + upload; 1–8 as listed above;
     * 9 = read back). Measured with the queue drained between stages only when
     * trk_pt_run was asked to (profile = true); otherwise all time is in stage 9. */
    double stage_ms[10];
};

void trk_pt_result_init(struct trk_pt_result *r);
void trk_pt_result_fini(struct trk_pt_result *r);

struct trk_pt_instance;

/* Creates an instance on dev: uploads the conditions (cabling, gains, Lorentz shifts,
 * beam spot from cond; module frames from det, the 1,856-module CMS detector) and
 * allocates every buffer the capacities in p need (NULL: defaults). Blocks. cond and
 * det are not referenced afterwards. *out is the caller's (trk_pt_instance_free). */
enum trk_status trk_pt_instance_create(struct trk_device *dev, const struct trk_cms_conditions *cond,
                                       const struct trk_detector *det,
                                       const struct trk_pt_params *p,
                                       struct trk_pt_instance **out);

/* Releases the instance and its device memory; NULL-safe. */
void trk_pt_instance_free(struct trk_pt_instance *pt);

/* Device memory the instance holds, bytes. */
uint64_t trk_pt_memory_bytes(const struct trk_pt_instance *pt);

/* Reconstructs one event from its raw_zstd bytes (a zstd frame of the FED collection,
 * CMS_RAW.md). A malformed container (bad zstd, truncated, bad FED header/trailer or
 * CRC) fails with TRK_ERR_PARSE and a log line; data-level errors are counted in the
 * result. Capacity overflows are counted (res->counts.overflow_*), not failures. res
 * is reset and filled. profile: drain the queue after each stage to time it. Blocks;
 * one thread at a time per instance. */
enum trk_status trk_pt_run(struct trk_pt_instance *pt, const void *raw, size_t n,
                           struct trk_pt_result *res, bool profile);

/* Adds the result to ev as reconstruction columns trk score reads:
 * reco_cluster_offsets/_digis, reco_track_offsets/_hits, reco_track_vertex,
 * reco_vertex_z, plus reco_hit_pos, reco_track_params (FP32 [T,5]: pT, η, φ, tip,
 * zip) and reco_track_quality. */
enum trk_status trk_pt_result_to_event(const struct trk_pt_result *r, struct trk_event *ev);

#ifdef __cplusplus
}
#endif
#endif
