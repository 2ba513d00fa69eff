/* trkserve — event generation: particles from a ttbar-like hard scatter plus
 * Poisson pile-up, propagated through a trk_detector (helix in the solenoid,
 * multiple scattering and energy loss in every sensor crossed), then turned into
 * detector data by trk/cms.h (raw data) or trk/trackml.h (spacepoints). */
#ifndef TRK_GEN_H
#define TRK_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "trk/detector.h"
#include "trk/event.h"
#include "trk/rng.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct trk_gen_config {
    uint64_t seed;
    double pileup;          /* Poisson mean of minimum-bias interactions */
    int hard_scatter;       /* 1: add a ttbar-like event as vertex 0 */
    double beam_sigma_z;    /* mm */
    double beam_sigma_xy;   /* mm */
    double beam_pos[3];     /* mm */
    double eta_max;         /* particles beyond are not generated */
    double pt_min;          /* GeV; softer particles are not generated */
    double max_turn;        /* rad of transverse turning after which a particle is
                               dropped (ACTS "loop protection"); 0: no limit */
};

/* Defaults for a detector: CMS μ=50, σz 40 mm, beam width 15 µm, |η| < 3.2,
 * pT > 30 MeV, loopers followed until they range out or leave; TrackML μ=200,
 * σz 55 mm, |η| < 4, pT > 150 MeV and loop protection after half a turn, as the
 * TrackML sample was simulated (its primaries below 150 MeV have no hits and no
 * particle loops back). */
void trk_gen_config_default(struct trk_gen_config *cfg, enum trk_detector_kind kind);

/* One sensor crossing. */
struct trk_simhit {
    uint32_t particle;   /* index into trk_truth particles */
    uint32_t module;     /* index into trk_detector.modules */
    float pos[3];        /* global, on the mid-plane (w = 0) */
    float mom[3];        /* GeV, at the crossing */
    float local[2];      /* u, v on the mid-plane */
    float dir[3];        /* unit direction in the local frame (w component != 0) */
};

/* The generated truth of one event, struct-of-arrays, owned by the struct. */
struct trk_truth {
    size_t nparticles, cap_particles;
    uint64_t *pid;       /* TrackML-style id: (vertex+1) << 32 | (index in vertex + 1) */
    int32_t *pdg, *q, *vertex;
    float *v;            /* [n,3] */
    float *p;            /* [n,3] */
    size_t nvertices, cap_vertices;
    float *vpos;         /* [n,3] */
    int32_t *vntracks;
    size_t nsimhits, cap_simhits;
    struct trk_simhit *simhits; /* grouped by particle, in path order */
};

void trk_truth_init(struct trk_truth *t);
void trk_truth_fini(struct trk_truth *t);
void trk_truth_clear(struct trk_truth *t);

/* Generates particles of event `number` (rng stream = number) and propagates them.
 * Deterministic for (cfg->seed, number, detector). Reuses t's storage. */
enum trk_status trk_gen_truth(const struct trk_gen_config *cfg, const struct trk_detector *det,
                              uint64_t number, struct trk_truth *t);

/* Propagates one charged particle from v (mm) with momentum p (GeV) and charge q
 * through det, appending its crossings to t->simhits (particle index `ip`), with
 * multiple scattering and ionisation loss drawn from rng. Stops when it leaves the
 * tracking volume, ranges out (kinetic energy < 10 MeV) or after max_path mm. */
enum trk_status trk_propagate(const struct trk_detector *det, const double v[3],
                              const double p[3], int q, double mass, uint32_t ip,
                              struct trk_rng *rng, struct trk_truth *t);

/* Writes the truth columns (particle_*, vertex_*, simhit_*) into ev. particle_nhits
 * is left to the detector's digitiser (it knows what became a measurement). */
enum trk_status trk_truth_to_event(const struct trk_truth *t, struct trk_event *ev);

/* PDG mass in GeV for the species the generator makes (pi, K, p, e, mu). */
double trk_pdg_mass(int pdg);

#ifdef __cplusplus
}
#endif
#endif
