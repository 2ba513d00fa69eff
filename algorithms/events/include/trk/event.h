/* trkserve — an event in memory: a list of named host tensors.
 *
 * The generator, the event files, the TrackML readers, the scoring and the client
 * tools all pass events around as this one object, so an event file section, a
 * request input and a scoring input are the same thing. Column names (below) are
 * the contract between producers and consumers; every column is struct-of-arrays.
 *
 * Units: mm, GeV, ns; Tesla for fields. Indices are 0-based everywhere in memory
 * (TrackML CSV hit_id is 1-based on disk only).
 *
 * Truth columns (both detectors):
 *   particle_id      UINT64 [P]    TrackML-style particle id, never 0
 *   particle_pdg     INT32  [P]    PDG code
 *   particle_q       INT32  [P]    charge in units of e
 *   particle_vertex  INT32  [P]    index into vertex_* (0 = hard scatter)
 *   particle_v       FP32   [P,3]  production vertex
 *   particle_p       FP32   [P,3]  momentum at production
 *   particle_nhits   INT32  [P]    measurements the particle left (hits/clusters)
 *   vertex_pos       FP32   [V,3]  primary vertex positions (0 = hard scatter)
 *   vertex_ntracks   INT32  [V]    charged particles from the vertex
 *   simhit_module    UINT32 [S]    module index (trk_detector order)
 *   simhit_particle  INT32  [S]    index into particle_*
 *   simhit_pos       FP32   [S,3]  true crossing of the sensor mid-plane, global
 *   simhit_mom       FP32   [S,3]  momentum there
 *
 * TrackML-like (spacepoint) events:
 *   hit_pos          FP32   [H,3]  measured position (smeared, on the module plane)
 *   hit_module       UINT32 [H]    module index (volume/layer/module ids via the detector)
 *   hit_vlm          INT32  [H,3]  volume_id, layer_id, module_id (as in hits.csv)
 *   hit_id           UINT64 [H]    TrackML hit_id, only when the ids are not 1..H in
 *                                  file order (the reference subsets); trk/trackml_csv.h
 *   hit_particle     INT32  [H]    index into particle_*, -1 for noise
 *   hit_weight       FP32   [H]    TrackML scoring weight (0 for noise)
 *   hit_truth_pos    FP32   [H,3]  true position (truth.csv tx,ty,tz)
 *   hit_truth_mom    FP32   [H,3]  true momentum (truth.csv tpx,tpy,tpz)
 *   cell_hit         UINT32 [C]    hit index of each cell
 *   cell_ch          INT32  [C,2]  ch0, ch1
 *   cell_value       FP32   [C]    deposited charge (arbitrary units, as in cells.csv)
 *
 * CMS-like (raw data) events:
 *   raw_zstd         UINT8  [B]    zstd frame of the FED collection (trk/cms_raw.h)
 *   digi_module      UINT32 [D]    truth per digi, in the order the raw data holds them
 *   digi_row, digi_col UINT16 [D]  module pixel coordinates (row < 160, col < 416)
 *   digi_adc         UINT8  [D]    ADC count written into the raw word
 *   digi_particle    INT32  [D]    particle that gave most of the charge, -1 for noise
 *
 * Reconstruction output (what a tracker returns; what trk score reads):
 *   reco_hit_track   INT32  [H]    track label per hit, -1 unassigned (TrackML
 *                                  submission style: one track per hit)
 *   reco_track_offsets UINT32 [T+1], reco_track_hits UINT32 [N]
 *                                  tracks as hit lists (tracks may share hits)
 *   reco_track_vertex INT32 [T]    vertex index per track, -1 none
 *   reco_vertex_z    FP32   [V]    reconstructed vertex z
 *   reco_cluster_offsets UINT32 [K+1], reco_cluster_digis UINT32 [N]
 *                                  CMS: reconstructed hits (clusters) as lists of
 *                                  digi indices; track hits then index clusters
 */
#ifndef TRK_EVENT_H
#define TRK_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "trk/status.h"
#include "trk/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

struct trk_event {
    uint64_t number;             /* event number within its run/file */
    uint32_t ntensors;
    uint32_t cap;
    struct trk_tensor **tensors; /* owned */
};

/* In-place init/fini. fini frees every tensor; both NULL-safe. */
void trk_event_init(struct trk_event *ev, uint64_t number);
void trk_event_fini(struct trk_event *ev);

/* Appends t; the event owns it afterwards, also on failure (then it is freed).
 * A second tensor with an existing name is an error (TRK_ERR_INVALID_ARG). */
enum trk_status trk_event_add(struct trk_event *ev, struct trk_tensor *t);

/* Allocates a zeroed column and appends it; *data (optional) gets its storage.
 * ndim 1 → shape [n]; ndim 2 → shape [n, width]. */
enum trk_status trk_event_add_column(struct trk_event *ev, const char *name,
                                     enum trk_dtype dt, size_t n, uint32_t width,
                                     void **data);

/* The tensor named `name`, or NULL. */
struct trk_tensor *trk_event_find(const struct trk_event *ev, const char *name);

/* Typed access: the column `name` with dtype `dt` and, when width > 0, shape
 * [n, width] (width 0: shape [n]). Returns its data and sets *n (rows). A missing
 * column or a dtype/shape mismatch logs "column 'x': ..." and returns NULL. */
void *trk_event_column(const struct trk_event *ev, const char *name, enum trk_dtype dt,
                       uint32_t width, size_t *n);

/* Deep copy of src into dst (dst must be fresh; init'ed by this call). */
enum trk_status trk_event_copy(struct trk_event *dst, const struct trk_event *src);

#ifdef __cplusplus
}
#endif
#endif
