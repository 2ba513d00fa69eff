/* trkserve — scoring reconstructed tracks and vertices against truth.
 *
 * Two layers. The array layer works on plain arrays (hit → particle, hit → track,
 * tracks as hit lists) so trackers and the server can call it without events. The
 * event layer (trk_score_event) reads the columns of trk/event.h, accumulates over
 * events into a struct trk_score_result, and writes it as a text table or JSON.
 *
 * Conventions: particles are indices 0..P-1 into the particle_* columns, -1 marks a
 * noise hit (TrackML particle_id 0), which belongs to no particle. "Hits" are the
 * measurements tracks are made of: TrackML spacepoints, or CMS clusters whose
 * particle is derived from their digis (trk_score_cluster_particles).
 *
 * Rules (details and sources in score.c):
 *  - TrackML score: per track its majority particle; the pair counts when strictly
 *    more than half of the track's hits are the particle's and strictly more than half
 *    of the particle's hits are in the track; score = Σ weights of those hits.
 *  - Track matching, two rules: double majority (the TrackML pair rule above) and
 *    CMS (≥ 75% of the track's hits from one particle).
 *  - Efficiency = reconstructable particles matched by ≥ 1 track / reconstructable;
 *    fake rate = tracks matched to no particle / tracks; duplicate rate =
 *    reconstructable particles matched by ≥ 2 tracks / matched ones.
 *  - Reconstructable particle: charge ≠ 0, ≥ min_hits hits, pT ≥ min_pt, |η| ≤ max_eta.
 */
#ifndef TRK_SCORE_H
#define TRK_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trk/event.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Efficiency histograms: pT log-uniform over [0.1, 100] GeV, 5 bins per decade;
 * η uniform over [-4, 4], 0.5 wide. Values outside are not binned. */
#define TRK_SCORE_PT_BINS 15
#define TRK_SCORE_ETA_BINS 16
#define TRK_SCORE_PT_LO 0.1
#define TRK_SCORE_PT_HI 100.0
#define TRK_SCORE_ETA_LO (-4.0)
#define TRK_SCORE_ETA_HI 4.0

/* Track ↔ particle matching rules. */
enum trk_score_rule {
    TRK_SCORE_DOUBLE_MAJORITY = 0, /* >50% of the track's hits from p and >50% of p's hits in it */
    TRK_SCORE_CMS75 = 1,           /* ≥75% of the track's hits from p */
    TRK_SCORE_NRULES
};

/* Short name of a rule ("double_majority", "cms75"); "?" for bad values. */
const char *trk_score_rule_name(enum trk_score_rule r);

struct trk_score_config {
    double min_pt;            /* GeV, reconstructable: pT >= min_pt (default 0.5) */
    double max_eta;           /* reconstructable: |η| <= max_eta (default 4.0) */
    int32_t min_hits;         /* reconstructable: >= min_hits hits (default 3) */
    double max_prod_r;        /* mm, reconstructable: produced within this transverse
                                 distance of the z axis ("prompt"); <= 0: no cut (default) */
    double vertex_z_window;   /* mm, z matching window for vertices (default 1.0) */
    int32_t vertex_min_particles; /* truth vertex counts when it has >= this many
                                     reconstructable particles (default 2) */
    enum trk_score_rule vertex_rule; /* track matching used to match vertices by
                                        track content (default double majority) */
};

/* Fills cfg with the defaults documented in the struct. */
void trk_score_config_default(struct trk_score_config *cfg);

/* Track counts of one matching rule, summed over events. */
struct trk_score_track_counts {
    uint64_t particles;  /* reconstructable particles */
    uint64_t matched;    /* ... matched by >= 1 track */
    uint64_t duplicated; /* ... matched by >= 2 tracks */
    uint64_t tracks;     /* reconstructed tracks */
    uint64_t fake;       /* tracks matched to no particle */
    /* vs pT: particles passing every cut but the pT cut; vs η: every cut but η. */
    uint64_t pt_total[TRK_SCORE_PT_BINS], pt_matched[TRK_SCORE_PT_BINS],
        pt_duplicated[TRK_SCORE_PT_BINS];
    uint64_t eta_total[TRK_SCORE_ETA_BINS], eta_matched[TRK_SCORE_ETA_BINS],
        eta_duplicated[TRK_SCORE_ETA_BINS];
};

/* Vertex counts, summed over events. Only reconstructable truth vertices (>=
 * vertex_min_particles reconstructable particles) enter efficiency, split and merge. */
struct trk_score_vertex_counts {
    uint64_t truth;                 /* truth vertices */
    uint64_t truth_reconstructable; /* ... reconstructable */
    uint64_t truth_matched;         /* reconstructable with >= 1 reco vertex assigned */
    uint64_t truth_split;           /* reconstructable with >= 2 reco vertices assigned */
    uint64_t reco;                  /* reco vertices */
    uint64_t reco_fake;             /* assigned to no truth vertex */
    uint64_t reco_merged;           /* best reco vertex of >= 2 reconstructable truth ones */
    uint64_t events_by_tracks;      /* events matched by track content */
    uint64_t events_by_z;           /* events matched by nearest z */
};

/* Everything trk_score_event accumulates. Initialise with trk_score_result_init;
 * holds no heap memory (no fini). */
struct trk_score_result {
    struct trk_score_config cfg;
    uint64_t events;          /* events scored */
    uint64_t trackml_events;  /* events that had a TrackML score */
    uint64_t trackml_skipped; /* events with tracks but no one-track-per-hit labelling */
    double trackml_sum;       /* Σ raw scores (Σ weights of the good hits) */
    double trackml_weight;    /* Σ total truth weights */
    double trackml_norm_sum;  /* Σ per-event score / event weight (the challenge's score) */
    bool trackml_unit_weights; /* some event had no hit_weight: 1 per non-noise hit */
    uint64_t track_events;    /* events with tracks */
    uint64_t reco_hits;       /* hits (or clusters) the tracks index, summed */
    struct trk_score_track_counts rule[TRK_SCORE_NRULES];
    uint64_t vertex_events;   /* events with vertices scored */
    struct trk_score_vertex_counts vtx;
};

/* Zeroes acc and records cfg (NULL: defaults) for the cuts it reports. */
void trk_score_result_init(struct trk_score_result *acc, const struct trk_score_config *cfg);

/* Adds every counter of `more` into acc (acc->cfg is kept): per-event results, or
 * results of separate workers, summed. */
void trk_score_result_add(struct trk_score_result *acc, const struct trk_score_result *more);

/* ---- array layer ------------------------------------------------------------ */

/* TrackML score of one event (trackml-library score_event, unnormalised): hit_track
 * is the track label per hit (any int32 >= 0; -1 = unassigned, in no track);
 * hit_weight NULL means weight 1 per non-noise hit. *score = Σ good hit weights,
 * *total_weight = Σ all hit weights (divide for the challenge's normalised score).
 * Fails on hit_particle < -1. */
enum trk_status trk_score_trackml(size_t nhits, const int32_t *hit_particle,
                                  const float *hit_weight, const int32_t *hit_track,
                                  double *score, double *total_weight);

/* CMS: the particle of each cluster = the particle most of its digis come from (ties
 * → lowest particle index); -1 when noise digis strictly outnumber it or the cluster
 * is empty. offsets [nclusters+1] into digis; fails on out-of-range indices. */
enum trk_status trk_score_cluster_particles(size_t ndigis, const int32_t *digi_particle,
                                            size_t nclusters, const uint32_t *offsets,
                                            const uint32_t *digis, int32_t *cluster_particle);

/* Turns one-label-per-hit tracks into hit lists: tracks ordered by label, hits in
 * increasing index; -1 hits are left out. *offsets [*ntracks+1] and *hits are
 * malloc'ed (free() them); *labels (optional) gets the label of each track. */
enum trk_status trk_score_tracks_from_labels(size_t nhits, const int32_t *hit_track,
                                             size_t *ntracks, uint32_t **offsets,
                                             uint32_t **hits, int32_t **labels);

/* The inverse when no hit is shared: hit_track[h] = track index or -1. Returns
 * TRK_ERR_INVALID_ARG, without logging, when a hit is in two tracks. */
enum trk_status trk_score_labels_from_tracks(size_t nhits, size_t ntracks,
                                             const uint32_t *offsets, const uint32_t *hits,
                                             int32_t *hit_track);

/* How one track matches. */
struct trk_score_track_match {
    int32_t particle;  /* majority group: particle index, -1 noise or empty track
                          (ties → the lowest index, noise before any particle) */
    uint32_t nhits;    /* hits of the track */
    uint32_t nmajor;   /* ... from `particle` */
    int32_t matched[TRK_SCORE_NRULES]; /* particle matched under each rule, or -1 */
};

/* Matches every track (offsets [ntracks+1] into hits, hit indices < nhits) under both
 * rules. hit_particle values must be -1 or < nparticles. out has ntracks entries. */
enum trk_status trk_score_match_tracks(size_t nhits, const int32_t *hit_particle,
                                       size_t nparticles, size_t ntracks,
                                       const uint32_t *offsets, const uint32_t *hits,
                                       struct trk_score_track_match *out);

/* Truth particles for the cuts. Any array may be NULL: q NULL → all charged; p NULL
 * → pT/η cuts pass and nothing is binned; nhits NULL → hits counted from hit_particle
 * (TrackML; pass the particle_nhits column for CMS, whose truth hits are digis). */
struct trk_score_particles {
    size_t n;
    const int32_t *q;      /* [n] charge */
    const float *p;        /* [n,3] momentum at production, GeV */
    const int32_t *vertex; /* [n] truth vertex index (vertex matching) */
    const int32_t *nhits;  /* [n] measurements of the particle */
    const float *v;        /* [n,3] production vertex, mm (for max_prod_r); NULL: no cut */
};

/* Flags of trk_score_select_particles. */
#define TRK_SCORE_SEL 1u        /* reconstructable: passes every cut */
#define TRK_SCORE_SEL_NOPT 2u   /* passes every cut but pT */
#define TRK_SCORE_SEL_NOETA 4u  /* passes every cut but η */

/* flags[i] (parts->n entries) = OR of TRK_SCORE_SEL* for particle i under cfg. */
enum trk_status trk_score_select_particles(const struct trk_score_config *cfg, size_t nhits,
                                           const int32_t *hit_particle,
                                           const struct trk_score_particles *parts,
                                           uint8_t *flags);

/* Matches the tracks of one event and adds efficiency/fake/duplicate counts to
 * acc->rule[] (acc->cfg gives the cuts). matches (optional, ntracks entries) gets
 * each track's match. */
enum trk_status trk_score_tracks(struct trk_score_result *acc, size_t nhits,
                                 const int32_t *hit_particle,
                                 const struct trk_score_particles *parts, size_t ntracks,
                                 const uint32_t *offsets, const uint32_t *hits,
                                 struct trk_score_track_match *matches);

/* One event's vertices. With track_vertex and track_truth_vertex (both [ntracks]),
 * vertices are matched by content: a reco vertex's truth vertex is the one
 * contributing most matched tracks to it, a truth vertex's best reco vertex the one
 * holding most of its matched tracks (ties → lowest index). Otherwise by z: the nearest
 * one within cfg->vertex_z_window (ties → lowest index). Any truth vertex can take a
 * reco vertex (so it is not fake); only reconstructable ones enter efficiency, split
 * and merge counts. */
struct trk_score_vertex_input {
    size_t ntruth;
    const float *truth_pos;       /* [ntruth,3] */
    const uint8_t *truth_ok;      /* [ntruth] reconstructable flags; NULL: all */
    size_t nreco;
    const float *reco_z;          /* [nreco] */
    size_t ntracks;
    const int32_t *track_vertex;       /* [ntracks] reco vertex per track or -1; may be NULL */
    const int32_t *track_truth_vertex; /* [ntracks] truth vertex of the matched particle
                                          or -1; may be NULL */
};

/* Adds one event's vertex counts to acc->vtx (window from acc->cfg). */
enum trk_status trk_score_vertices(struct trk_score_result *acc,
                                   const struct trk_score_vertex_input *in);

/* ---- event layer ------------------------------------------------------------- */

/* Scores one event and adds it to acc: truth columns from `truth`, reco_* columns
 * from `reco` (may be the same event). cfg NULL: acc->cfg; otherwise cfg is used and
 * stored in acc->cfg. Hits are TrackML hits (hit_particle, hit_weight) or, when
 * digi_particle and reco_cluster_offsets/_digis exist (in either event), CMS clusters;
 * tracks come from reco_track_offsets/_hits, else reco_hit_track. The TrackML score
 * needs one track per hit (reco_hit_track, or tracks sharing no hit; otherwise the
 * event counts in trackml_skipped); CMS clusters get unit weights. Vertices are scored
 * when reco has reco_vertex_z (truth then needs vertex_pos), by content when reco has
 * reco_track_vertex and truth particle_vertex (track t of reco_hit_track is the
 * t-th smallest label). On failure (logged: which input lacks
 * what, or is inconsistent) acc is left unchanged. Thread-safe for distinct acc. */
enum trk_status trk_score_event(const struct trk_event *truth, const struct trk_event *reco,
                                const struct trk_score_config *cfg,
                                struct trk_score_result *acc);

/* k/n and its binomial uncertainty sqrt(e(1-e)/n); 0 ± 0 when n is 0. */
double trk_score_ratio(uint64_t k, uint64_t n, double *err);

/* Lower edge of bin i (i = nbins gives the upper edge of the last bin). */
double trk_score_pt_edge(int i);
double trk_score_eta_edge(int i);

/* Human-readable table; bins adds the per-bin efficiency tables. */
enum trk_status trk_score_write_text(const struct trk_score_result *acc, FILE *out, bool bins);

/* The same as one JSON object (with every counter and bin). */
enum trk_status trk_score_write_json(const struct trk_score_result *acc, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
