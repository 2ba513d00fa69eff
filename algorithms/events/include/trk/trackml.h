/* trkserve — the TrackML detector (the ACTS "generic" detector of the TrackML
 * challenge, 2 T solenoid) and its digitisation into TrackML-like spacepoints.
 *
 * Geometry. 18,728 planar modules in 9 volumes: pixels 7 (−z disks) / 8 (barrel) /
 * 9 (+z disks), short strips 12 / 13 / 14, long strips 16 / 17 / 18. One trk_layer
 * per (volume_id, layer_id), layers sorted by (volume, layer), modules by module_id
 * inside a layer. Either read from the challenge's detectors.csv or built from a
 * compact table (trackml_geo.c) whose numbers were read off that file and agree with
 * the ACTS configuration that produced it (acts-framework GenericDetectorML.ipp).
 * Barrels are identical to the file module by module, ids included (centres within
 * the file's 6-digit rounding, 4 µm); disk modules have the file's positions,
 * rotations and shapes, but their module_id numbering is by increasing phi of the
 * centre with the rings merged, while ACTS interleaves the rings in an order we do
 * not reproduce: about 70 % of disk module_ids name the same module as in
 * detectors.csv. Load the CSV when ids must match the real files.
 *
 * Material per sensor crossing at normal incidence (trk_module.x0): silicon sensor
 * plus the layer's support, both as in the ACTS configuration of the challenge
 * (X0(Si) = 95.7 mm): pixels (1.5 + 0.15) mm → 1.72 %; short strips barrel
 * (2.0 + 0.25) mm → 2.35 %, disks (2.5 + 0.25) mm → 2.87 %; long strips barrel
 * (2.5 + 0.35) mm → 2.98 %, disks (3.5 + 0.35) mm → 4.02 %. Beam pipe r = 19 mm,
 * 0.8 mm beryllium (X0 352.8 mm) → 0.23 %. bfield 2 T. The pixel support tube
 * (r = 200 mm, 1.8 mm Be) has no place in trk_detector and is left out. */
#ifndef TRK_TRACKML_H
#define TRK_TRACKML_H

#include <stddef.h>
#include <stdint.h>

#include "trk/detector.h"
#include "trk/event.h"
#include "trk/gen.h"
#include "trk/rng.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fraction of all hits of an event that are noise in trk_trackml_digitize: 15 %,
 * measured on the reference events (event000000001: 829 of 5,527 hits in a 5 %
 * subset, 0.044 noise hits per module; event000001000-barrel10: 0.093 per barrel
 * module in a 10 % subset; both scale to ~0.9 noise hits per module, ~16,700 per
 * 111,600-hit event). Noise is spread uniformly over the modules, as in those files. */
#define TRK_TRACKML_NOISE_FRACTION 0.15

/* Reads a TrackML detectors.csv (plain or gzip; header columns by name, any order:
 * volume_id,layer_id,module_id,cx,cy,cz,rot_xu..rot_zw,module_t,module_minhu,
 * module_maxhu,module_hv,pitch_u,pitch_v) into a finalised detector (*out, free with
 * trk_detector_free). The file's rotation (local → global, columns are u, v, w) is
 * transposed into trk_module.rot and re-orthonormalised (the file has 6 digits).
 * Rows may come in any order. Errors (TRK_ERR_PARSE, logged as "path:line: ..."): a
 * missing column, a non-numeric or non-finite field, a volume other than the nine
 * above, ids < 1, a repeated (volume, layer, module), a centre coordinate beyond
 * 1e5 mm, sizes/pitches not in [1e-4, 1e4] mm, a rotation that is not orthonormal and
 * right-handed within 1e-4; also corrupt or truncated gzip. Missing file:
 * TRK_ERR_NOT_FOUND; unreadable: TRK_ERR_IO. *out is untouched on failure. */
enum trk_status trk_trackml_detector_from_csv(const char *path, struct trk_detector **out);

/* The same parser on a text already in memory (n bytes, need not be NUL-terminated);
 * `name` stands for the file in messages and in det->source. For fuzzers and tests. */
enum trk_status trk_trackml_detector_parse(const char *text, size_t n, const char *name,
                                           struct trk_detector **out);

/* The built-in layout (see above): 48 layers, 18,728 modules, finalised. */
enum trk_status trk_trackml_detector_builtin(struct trk_detector **out);

/* Digitises the simhits of `truth` (made with `det`) into TrackML-like data and adds
 * to ev exactly these columns (trk/event.h): hit_pos, hit_module, hit_vlm,
 * hit_particle, hit_weight, hit_truth_pos, hit_truth_mom, cell_hit, cell_ch,
 * cell_value, particle_nhits [truth->nparticles]. It does NOT add the truth columns
 * (particle_* other than nhits, vertex_*, simhit_*): call trk_truth_to_event for
 * those, before or after. ev must not hold any of the columns it adds.
 *
 * Model (constants in trackml_sim.c, each checked against the reference event):
 *  - each simhit gives one hit; its charge is collected along the straight path
 *    through the sensor, drifted to the readout side with the ACTS Lorentz angles
 *    (barrel only: pixels 0.12 rad, short strips 0.12, long strips 0.08), on disks
 *    over twice the sensor thickness (what the real disk clusters show); the
 *    in-plane path is capped at 10.5 collection depths (real barrel pixel clusters
 *    stop at 28 rows); a simhit outside the active area, or whose path lights no
 *    cell, gives no hit;
 *  - cells: every pixel/strip cell the drifted path crosses whose centre lies in the
 *    active area; cell_ch = (u index, v index) on the module's pitch grid from
 *    (−hu_max, −hv); pixel cell_value = path length in the cell (mm) times a per-hit
 *    gain factor 1 ± 5.5 %; strips are binary (value 1);
 *  - hit_pos: charge-weighted centroid of the cell centres on the mid-plane (w = 0),
 *    so strips are quantised in v to the strip length as in real TrackML hits;
 *  - noise: round(n_signal·f/(1 − f)) hits, f = TRK_TRACKML_NOISE_FRACTION, on
 *    uniformly random modules at uniform points of the active area, digitised as a
 *    track from the beam line; hit_particle −1, weight 0, truth momentum 0;
 *  - hit order: by module index (as hits.csv is by volume/layer/module), then by
 *    particle; cells grouped by hit;
 *  - hit_weight: trk_trackml_weights below.
 * rng draws the gain factors and the noise. Deterministic for given inputs and rng
 * state; no global state (thread-safe on distinct events). TRK_ERR_INVALID_ARG on a
 * simhit with a bad module or particle index or when ev already has one of the
 * columns (ev untouched); TRK_ERR_NO_MEMORY (ev may then hold some of them). */
enum trk_status trk_trackml_digitize(const struct trk_detector *det, const struct trk_truth *truth,
                                     struct trk_rng *rng, struct trk_event *ev);

/* The TrackML challenge hit weights (trackml-library weights.py,
 * weight_hits_phase1): hits of a particle are ranked by |z_hit − z_vertex| (ties get
 * their average rank, truncated); w_order comes from the proposal
 * [10,8,6,5,3,3,3,5,6] stretched over the particle's nhits (4..20; more than 20 use
 * the 20-hit row, ranks ≥ 20 get 0) and normalised to sum 1 per particle; w_pt is 0
 * below 0.05 GeV, 0.2 up to 0.5 GeV, linear to 1 at 3 GeV, 1 above (pT at
 * production). weight = w_order·w_pt, normalised so that the event sums to 1 (all 0
 * when nothing qualifies). Noise (particle −1) and particles with fewer than 4 hits
 * get 0. Arrays are event columns: hit_particle [nhits], hit_truth_pos [nhits,3],
 * particle_v and particle_p [nparticles,3], particle_nhits [nparticles] (NULL: count
 * the hits); writes weight [nhits]. TRK_ERR_INVALID_ARG on a particle index out of
 * range or a particle with more hits than its particle_nhits; TRK_ERR_NO_MEMORY. */
enum trk_status trk_trackml_weights(size_t nhits, const int32_t *hit_particle,
                                    const float *hit_truth_pos, size_t nparticles,
                                    const float *particle_v, const float *particle_p,
                                    const int32_t *particle_nhits, float *weight);

#ifdef __cplusplus
}
#endif
#endif
