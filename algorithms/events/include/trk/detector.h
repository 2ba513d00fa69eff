/* trkserve — a tracking detector as the simulation sees it: planar modules grouped
 * in layers, in a uniform solenoid field along +z. Both detectors (CMS Phase-1 pixel,
 * TrackML/ACTS generic) are described in this one form; trk/cms.h and trk/trackml.h
 * build it from built-in tables or from the reference CSV files. Units: mm, T. */
#ifndef TRK_DETECTOR_H
#define TRK_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum trk_detector_kind { TRK_DETECTOR_NONE = 0, TRK_DETECTOR_CMS = 1, TRK_DETECTOR_TRACKML = 2 };
enum trk_module_kind { TRK_MODULE_PIXEL = 0, TRK_MODULE_SHORT_STRIP = 1, TRK_MODULE_LONG_STRIP = 2 };

/* One sensor. Local frame: local = rot · (global − c); rows of rot are the local
 * u, v, w axes written in global coordinates; w is the sensor normal. The active area
 * is the trapezoid |u| <= hu_min + (hu_max − hu_min)·(v + hv)/(2·hv), |v| <= hv
 * (a rectangle when hu_min == hu_max), |w| <= thickness/2. */
struct trk_module {
    double c[3];
    double rot[9];
    double hu_min, hu_max, hv;
    double thickness;
    double pitch_u, pitch_v;
    double x0;           /* radiation lengths one crossing at normal incidence costs,
                            sensor plus its share of supports/services */
    int32_t volume_id;   /* TrackML volume; CMS: 1 barrel, 2 forward (+z), 0 forward (−z) */
    int32_t layer_id;    /* TrackML layer; CMS: layer index 0–9 (0–3 BPIX, 4–6 FPIX+, 7–9 FPIX−) */
    int32_t module_id;   /* TrackML module; CMS: module index 0–1855 */
    uint32_t raw_id;     /* CMS DetId; 0 for TrackML */
    uint16_t layer;      /* index into trk_detector.layers */
    uint8_t kind;        /* enum trk_module_kind */
    uint8_t barrel;      /* 1 for barrel (cylinder-like) layers, 0 for disks */
};

/* A layer: a contiguous run of modules. The envelope and the navigation grid are
 * filled by trk_detector_finalize. */
struct trk_layer {
    bool barrel;
    uint32_t first, count;          /* modules [first, first+count) */
    double rmin, rmax, zmin, zmax;  /* envelope of the modules' volumes */
    /* grid over (phi, z) for barrels, (phi, r) for disks; a module is listed in
     * every cell its envelope touches */
    uint32_t nphi, nb;
    double bmin, bmax;
    uint32_t *cell_start;           /* nphi*nb + 1 */
    uint32_t *cell_modules;
};

struct trk_detector {
    enum trk_detector_kind kind;
    char name[32];                  /* "cms-phase1-pixel", "trackml-generic" */
    char source[256];               /* "built-in" or the CSV the modules came from */
    double bfield;                  /* T, along +z */
    double rmax, zmax;              /* tracking volume: particles stop outside it */
    double beampipe_r, beampipe_x0; /* beam pipe radius and thickness in X0 */
    /* Passive material beyond the instrumented layers up to outer_rmax/outer_zmax
     * (CMS: the strip tracker around the pixels). It slows, scatters and absorbs
     * low-pT loopers before they come back through the layers. All 0: none, and
     * particles stop at rmax/zmax. */
    double outer_rmax, outer_zmax;
    double outer_x0_per_mm;         /* radiation lengths per mm of path */
    double outer_lambda_per_mm;     /* nuclear interaction lengths per mm of path */
    /* Passive material surfaces inside the layers (service flanges, support
     * cylinders): a disk at z = pos covering r in [lo, hi], or a cylinder at r = pos
     * covering z in [lo, hi], x0 radiation lengths thick at normal incidence. */
    struct trk_passive {
        int disk;
        double pos, lo, hi, x0;
    } passive[4];
    int npassive;
    /* Secondaries in material: photon conversions (from pi0 decays) and nuclear
     * interactions of primary hadrons. On for CMS, whose measured occupancy needs
     * them; off for TrackML, whose hit count primaries alone already reproduce. */
    bool secondaries;
    size_t nmodules;
    struct trk_module *modules;     /* sorted by layer */
    size_t nlayers;
    struct trk_layer *layers;
};

/* Allocates modules/layers arrays for a builder (zeroed). */
enum trk_status trk_detector_alloc(size_t nmodules, size_t nlayers, struct trk_detector **out);
/* Computes layer envelopes, module layer ranges (modules must be sorted by layer and
 * each module's `layer` set), the navigation grids and rmax/zmax if they are 0.
 * Checks rotations are orthonormal (1e-6) and sizes positive; names the first
 * offending module in the log and fails with TRK_ERR_PARSE otherwise. */
enum trk_status trk_detector_finalize(struct trk_detector *det);
void trk_detector_free(struct trk_detector *det);

/* Global → local and back for module m. */
void trk_module_to_local(const struct trk_module *m, const double g[3], double l[3]);
void trk_module_to_global(const struct trk_module *m, const double l[3], double g[3]);
/* True when local point (u, v) lies inside the active area, with `tol` mm margin. */
bool trk_module_inside(const struct trk_module *m, double u, double v, double tol);

/* The detector by name: "cms" or "trackml"; geometry = NULL for the built-in
 * layout, otherwise a CSV path (cms_phase1_pixel_modules.csv / detectors.csv). */
enum trk_status trk_detector_load(const char *name, const char *geometry,
                                  struct trk_detector **out);

#ifdef __cplusplus
}
#endif
#endif
