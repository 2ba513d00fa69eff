/* trkserve — CMS Phase-1 pixel geometry: the built-in layout from design numbers,
 * the loader of cms_phase1_pixel_modules.csv, Lorentz drift and pixel edges. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cms_internal.h"
#include "trk/cms.h"
#include "trk/log.h"

const uint32_t trk_cms_layer_start[TRK_CMS_NLAYERS + 1] = {0,    96,   320,  672,  1184, 1296,
                                                           1408, 1520, 1632, 1744, 1856};

#define DEG (3.14159265358979323846 / 180.0)

/* ---- design numbers ---------------------------------------------------------------
 * BPIX (CMS Phase-1 pixel TDR, CMS-TDR-011; CMSSW PhaseI pixbar.xml; Patatrack
 * CAConstants.h): ladders alternate between an inner and an outer plane (the inner
 * ones with the sensor facing the beam), 8 modules per ladder at z = ±3.35, ±10.05,
 * ±16.75, ±23.45 cm; the two outer ladders at the half-shell seams (phi ≈ ±90°) sit
 * 2.2 mm (L1) / 2.7 mm further out. Distances of the sensor planes from the beam line
 * in cm, phase of ladder 1 in degrees. */
struct bpix_layer {
    int nladders;
    double r_out, r_in, r_seam; /* cm */
    double phi0;                /* deg, ladder 1 */
    int first_outer;            /* 1: ladder 1 is an outer (outward-facing) ladder */
    int seam[2];                /* the two seam ladders (1-based) */
    double mu;                  /* tan(Lorentz angle) per tesla */
};
static const struct bpix_layer bpix[4] = {
    {12, 3.0561, 2.7388, 3.2761, 15.917, 1, {3, 9}, 0.065181},
    {28, 6.9351, 6.5775, 7.2051, 7.3721, 1, {7, 21}, 0.078221},
    {44, 11.0369, 10.7075, 11.3069, 3.9729, 1, {11, 33}, 0.090254},
    {64, 16.1462, 15.8152, 16.4162, 2.7590, 0, {16, 48}, 0.100283},
};
static const double bpix_module_z0 = -23.45, bpix_module_dz = 6.70; /* cm */

/* FPIX (Phase-1 TDR; CMSSW PhaseI pixfwd.xml / pixfwdDisks.xml): 3 disks per side at
 * +0, +7.5, +17.0 cm from disk 1; per disk an inner ring of 22 blades and an outer
 * ring of 34, turbine-rotated by 20° (inner ring also tilted 12°); every blade holds
 * one module per panel (panel 2 on one face, panel 1 on the other). Blades step in z
 * along each half-ring. Per (ring, panel) on the +z side: radius and phi of blade 1's
 * module centre, z of blade 1 on disk 1, and the module v, w axes in the cylindrical
 * frame (e_r, e_phi, e_z) at the module centre (u = v × w). */
struct fpix_ring {
    int nblades;
    double r, phi1, z1; /* cm, deg, cm */
    double v[3], w[3];
    int nz;             /* z pattern period (blades per half ring) */
    const double *dz;   /* cm */
};
static const double fpix_dz_inner[11] = {0, 0.40, 0.80, 1.20, 1.65, 2.10, 0, 0.40, 0.80, 1.20, 1.60};
static const double fpix_dz_outer[17] = {0,    0.25, 0.50, 0.75, 1.00, 1.25, 1.50, 1.75, 2.20,
                                         0,    0.25, 0.50, 0.75, 1.00, 1.25, 1.50, 1.75};
/* [panel 2 inner, panel 2 outer, panel 1 inner, panel 1 outer]: module order within
 * a disk. */
static const struct fpix_ring fpix[4] = {
    {22, 7.81674, 3.70436, 31.87588, {0.984251, 0.027054, 0.174693},
     {-0.172868, 0.353928, 0.919158}, 11, fpix_dz_inner},
    {34, 12.78961, 1.98922, 29.83577, {0.997923, 0.055460, -0.032781},
     {0.011872, 0.341814, 0.939693}, 17, fpix_dz_outer},
    {22, 7.77775, -3.93942, 32.06896, {0.970676, -0.023957, 0.239194},
     {0.218409, -0.327790, -0.919158}, 11, fpix_dz_inner},
    {34, 12.79062, -2.11627, 29.98836, {0.998043, -0.053247, 0.032781},
     {0.012630, -0.341787, -0.939693}, 17, fpix_dz_outer},
};
static const double fpix_disk_dz[3] = {0.0, 7.5, 17.0}; /* cm */
static const double fpix_mu = 0.077105;                   /* tanθ_L per tesla */

/* Material per module crossing at normal incidence (X0 fractions), see CMS_RAW.md:
 * BPIX: 285 µm sensor 0.30% + 175 µm ROC 0.19% + HDI/TBM 0.15% + ladder support,
 * cooling and cables 0.36% → 1.0%; FPIX blade: 0.30 + 0.19 + 0.15 + blade substrate
 * and services 0.56% → 1.2%. Beam pipe: 0.8 mm beryllium at r = 22.5 mm. */
#define BPIX_X0 0.010
#define FPIX_X0 0.012
#define BEAMPIPE_R 22.5
#define BEAMPIPE_X0 0.00227
#define CMS_BFIELD 3.8

static void cross(const double a[3], const double b[3], double o[3])
{
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

static double dot3(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void normalize(double a[3])
{
    double n = sqrt(dot3(a, a));
    a[0] /= n;
    a[1] /= n;
    a[2] /= n;
}

/* Gram–Schmidt on rows v, w (w kept), u = v × w. Returns the largest correction. */
static double orthonormalize(double rot[9])
{
    double u[3] = {rot[0], rot[1], rot[2]}, v[3] = {rot[3], rot[4], rot[5]},
           w[3] = {rot[6], rot[7], rot[8]};
    double dev = fabs(dot3(w, w) - 1);
    normalize(w);
    double vw = dot3(v, w);
    for (int i = 0; i < 3; i++)
        v[i] -= vw * w[i];
    dev = fmax(dev, fabs(vw));
    normalize(v);
    double un[3];
    cross(v, w, un);
    for (int i = 0; i < 3; i++)
        dev = fmax(dev, fabs(un[i] - u[i]));
    memcpy(rot, un, sizeof un);
    memcpy(rot + 3, v, sizeof v);
    memcpy(rot + 6, w, sizeof w);
    return dev;
}

static void set_common(struct trk_module *m, uint32_t index, uint32_t layer, bool barrel)
{
    m->hu_min = m->hu_max = TRK_CMS_HALF_U;
    m->hv = TRK_CMS_HALF_V;
    m->pitch_u = TRK_CMS_PITCH_U;
    m->pitch_v = TRK_CMS_PITCH_V;
    m->module_id = (int32_t)index;
    m->layer_id = (int32_t)layer;
    m->layer = (uint16_t)layer;
    m->kind = TRK_MODULE_PIXEL;
    m->barrel = barrel ? 1 : 0;
    m->x0 = barrel ? BPIX_X0 : FPIX_X0;
}

uint32_t cms_bpix_raw_id(uint32_t layer, uint32_t ladder, uint32_t module)
{
    return (1u << 28) | (1u << 25) | (layer << 20) | (ladder << 12) | (module << 2);
}

uint32_t cms_fpix_raw_id(uint32_t side, uint32_t disk, uint32_t blade, uint32_t panel,
                         uint32_t module)
{
    return (1u << 28) | (2u << 25) | (side << 23) | (disk << 18) | (blade << 12) |
           (panel << 10) | (module << 2);
}

static void fill_bpix(struct trk_detector *det)
{
    uint32_t idx = 0;
    for (uint32_t L = 0; L < 4; L++) {
        const struct bpix_layer *bl = &bpix[L];
        double dphi = 360.0 / bl->nladders;
        for (int lad = 1; lad <= bl->nladders; lad++) {
            double phi = (bl->phi0 + (lad - 1) * dphi) * DEG;
            bool outer = ((lad - 1) % 2 == 0) == (bl->first_outer != 0);
            double r = outer ? bl->r_out : bl->r_in;
            if (outer && (lad == bl->seam[0] || lad == bl->seam[1]))
                r = bl->r_seam;
            double er[3] = {cos(phi), sin(phi), 0};
            double w[3] = {outer ? er[0] : -er[0], outer ? er[1] : -er[1], 0};
            double v[3] = {0, 0, -1}, u[3];
            cross(v, w, u);
            for (uint32_t mod = 1; mod <= 8; mod++, idx++) {
                struct trk_module *m = &det->modules[idx];
                set_common(m, idx, L, true);
                double z = bpix_module_z0 + (mod - 1) * bpix_module_dz;
                m->c[0] = 10.0 * r * er[0];
                m->c[1] = 10.0 * r * er[1];
                m->c[2] = 10.0 * z;
                memcpy(m->rot, u, sizeof u);
                memcpy(m->rot + 3, v, sizeof v);
                memcpy(m->rot + 6, w, sizeof w);
                m->thickness = 0.285;
                m->volume_id = 1;
                m->raw_id = cms_bpix_raw_id(L + 1, (uint32_t)lad, mod);
            }
        }
    }
}

static void fill_fpix(struct trk_detector *det)
{
    uint32_t idx = TRK_CMS_NBPIX_MODULES;
    for (int side = 1; side >= 0; side--) /* +z disks first (layers 4–6) */
        for (int disk = 0; disk < 3; disk++) {
            uint32_t layer = 4 + (side ? 0 : 3) + (uint32_t)disk;
            for (int ring = 0; ring < 4; ring++) {
                const struct fpix_ring *fr = &fpix[ring];
                uint32_t panel = ring < 2 ? 2 : 1;
                uint32_t blade0 = (ring % 2) ? 23 : 1;
                for (int b = 0; b < fr->nblades; b++, idx++) {
                    struct trk_module *m = &det->modules[idx];
                    set_common(m, idx, layer, false);
                    double phi = (fr->phi1 + b * 360.0 / fr->nblades) * DEG;
                    double er[3] = {cos(phi), sin(phi), 0}, ep[3] = {-sin(phi), cos(phi), 0};
                    double v[3], w[3], u[3];
                    for (int i = 0; i < 3; i++) {
                        v[i] = fr->v[0] * er[i] + fr->v[1] * ep[i];
                        w[i] = fr->w[0] * er[i] + fr->w[1] * ep[i];
                    }
                    v[2] = fr->v[2];
                    w[2] = fr->w[2];
                    double z = fr->z1 + fpix_disk_dz[disk] + fr->dz[b % fr->nz];
                    m->c[0] = 10.0 * fr->r * er[0];
                    m->c[1] = 10.0 * fr->r * er[1];
                    m->c[2] = 10.0 * z;
                    if (!side) { /* mirror in z: u' = −P·u, v' = P·v, w' = P·w */
                        m->c[2] = -m->c[2];
                        v[2] = -v[2];
                        w[2] = -w[2];
                    }
                    cross(v, w, u);
                    memcpy(m->rot, u, sizeof u);
                    memcpy(m->rot + 3, v, sizeof v);
                    memcpy(m->rot + 6, w, sizeof w);
                    orthonormalize(m->rot);
                    m->thickness = 0.290;
                    m->volume_id = side ? 2 : 0;
                    m->raw_id = cms_fpix_raw_id(side ? 2u : 1u, (uint32_t)disk + 1,
                                                blade0 + (uint32_t)b, panel, 1);
                }
            }
        }
}

static void set_detector_header(struct trk_detector *det, const char *source)
{
    det->kind = TRK_DETECTOR_CMS;
    snprintf(det->name, sizeof det->name, "cms-phase1-pixel");
    snprintf(det->source, sizeof det->source, "%s", source);
    det->bfield = CMS_BFIELD;
    det->beampipe_r = BEAMPIPE_R;
    det->beampipe_x0 = BEAMPIPE_X0;
    /* The strip tracker around the pixels, as passive material: about 0.3 X0 from
     * r = 20 to 110 cm at eta = 0 (CMS, JINST 3 (2008) S08004, tracker material
     * budget), with silicon's ratio lambda_I/X0 = 46.5/9.37 cm. */
    det->outer_rmax = 1100.0;
    det->outer_zmax = 2800.0;
    det->outer_x0_per_mm = 0.3 / 850.0;
    det->outer_lambda_per_mm = 0.3 / 850.0 * 9.37 / 46.5;
    /* The barrel's end flanges (cooling manifolds, cables, connectors) between the
     * barrel and the first disks: the largest single material item in front of the
     * forward disks; 0.3 X0 is a round number in the range of the Phase-1 material
     * budget plots (CMS-TDR-011, 2012) and sets the forward occupancy. */
    det->secondaries = true;
    det->npassive = 2;
    for (int i = 0; i < 2; i++) {
        det->passive[i].disk = 1;
        det->passive[i].pos = i ? 280.0 : -280.0;
        det->passive[i].lo = 25.0;
        det->passive[i].hi = 170.0;
        det->passive[i].x0 = 0.3;
    }
    for (uint32_t L = 0; L < TRK_CMS_NLAYERS; L++) {
        det->layers[L].barrel = L < 4;
        det->layers[L].first = trk_cms_layer_start[L];
        det->layers[L].count = trk_cms_layer_start[L + 1] - trk_cms_layer_start[L];
    }
}

enum trk_status trk_cms_detector_builtin(struct trk_detector **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    struct trk_detector *det = NULL;
    enum trk_status st = trk_detector_alloc(TRK_CMS_NMODULES, TRK_CMS_NLAYERS, &det);
    if (st)
        return st;
    set_detector_header(det, "built-in");
    fill_bpix(det);
    fill_fpix(det);
    st = trk_detector_finalize(det);
    if (st) {
        TRK_LOGE("built-in CMS geometry failed to finalize (%s): a bug", trk_status_str(st));
        trk_detector_free(det);
        return TRK_ERR_INTERNAL;
    }
    *out = det;
    return TRK_OK;
}

/* ---- CSV ------------------------------------------------------------------------ */

enum csv_col {
    C_INDEX, C_LAYER_INDEX, C_RAW_ID, C_IS_BARREL, C_IS_POS_Z, C_LAYER, C_PX, C_PY, C_PZ,
    C_R11, C_R12, C_R13, C_R21, C_R22, C_R23, C_R31, C_R32, C_R33, C_NCOLS
};
static const char *const csv_names[C_NCOLS] = {
    "index", "layer_index", "raw_id", "is_barrel", "is_pos_z", "layer", "px", "py", "pz",
    "r11",   "r12",         "r13",    "r21",       "r22",      "r23",   "r31", "r32", "r33"};

#define CSV_MAX_FIELDS 64

/* Splits line (modified in place) at commas; strips the newline. */
static int split_csv(char *line, char **fields, int max)
{
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = 0;
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return -1;
        fields[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Finds "key <number>" in a header comment line; returns true if found and valid. */
static bool header_value(const char *line, const char *key, double *out)
{
    const char *p = strstr(line, key);
    if (!p)
        return false;
    p += strlen(key);
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || v <= 0)
        return false;
    *out = v;
    return true;
}

enum trk_status trk_cms_detector_from_csv(const char *path, struct trk_detector **out)
{
    if (!path || !out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    enum trk_status st = TRK_OK;
    struct trk_detector *det = NULL;
    char *line = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        TRK_LOGE("%s: cannot open (%s); the CMS module table "
                 "cms_phase1_pixel_modules.csv is in TRK_DATA_DIR/cms",
                 path, strerror(errno));
        return errno == ENOENT ? TRK_ERR_NOT_FOUND : TRK_ERR_IO;
    }
    st = trk_detector_alloc(TRK_CMS_NMODULES, TRK_CMS_NLAYERS, &det);
    if (st)
        goto fail;
    set_detector_header(det, path);
    const size_t cap = 8192;
    line = malloc(cap);
    if (!line) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    double thick_b = 0, thick_e = 0, pitch_x = 0, pitch_y = 0;
    int col_of[C_NCOLS];
    for (int i = 0; i < C_NCOLS; i++)
        col_of[i] = -1;
    int ncols = 0;
    bool have_header = false;
    uint32_t nmod = 0;
    long lineno = 0;
    char *fields[CSV_MAX_FIELDS];
    while (fgets(line, (int)cap, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == cap - 1 && line[len - 1] != '\n') {
            TRK_LOGE("%s:%ld: line longer than %zu bytes", path, lineno, cap - 2);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        if (line[0] == '#') {
            header_value(line, "thickness barrel", &thick_b);
            header_value(line, "endcap", &thick_e);
            header_value(line, "pitch x", &pitch_x);
            header_value(line, " y ", &pitch_y);
            continue;
        }
        if (line[0] == '\n' || line[0] == '\r' || line[0] == 0)
            continue;
        int nf = split_csv(line, fields, CSV_MAX_FIELDS);
        if (nf < 0) {
            TRK_LOGE("%s:%ld: more than %d fields", path, lineno, CSV_MAX_FIELDS);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        if (!have_header) {
            for (int i = 0; i < nf; i++)
                for (int c = 0; c < C_NCOLS; c++)
                    if (!strcmp(fields[i], csv_names[c]))
                        col_of[c] = i;
            for (int c = 0; c < C_NCOLS; c++)
                if (col_of[c] < 0) {
                    TRK_LOGE("%s:%ld: header lacks column '%s' (expected the "
                             "cms_phase1_pixel_modules.csv header: index,layer_index,"
                             "raw_id,...,px,py,pz,r11..r33)",
                             path, lineno, csv_names[c]);
                    st = TRK_ERR_PARSE;
                    goto fail;
                }
            ncols = nf;
            have_header = true;
            if (thick_b <= 0 || thick_e <= 0 || pitch_x <= 0 || pitch_y <= 0) {
                TRK_LOGE("%s: header comments lack 'thickness barrel X endcap Y' or "
                         "'pitch x X y Y' (cm)",
                         path);
                st = TRK_ERR_PARSE;
                goto fail;
            }
            if (fabs(pitch_x - 0.01) > 1e-6 || fabs(pitch_y - 0.015) > 1e-6) {
                TRK_LOGE("%s: pitch %g x %g cm; the CMS Phase-1 pixel is 0.0100 x 0.0150",
                         path, pitch_x, pitch_y);
                st = TRK_ERR_PARSE;
                goto fail;
            }
            continue;
        }
        if (nf != ncols) {
            TRK_LOGE("%s:%ld: %d fields, the header has %d", path, lineno, nf, ncols);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        if (nmod >= TRK_CMS_NMODULES) {
            TRK_LOGE("%s:%ld: more than %u modules", path, lineno, TRK_CMS_NMODULES);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        double v[C_NCOLS];
        for (int c = 0; c < C_NCOLS; c++)
            if (!parse_double(fields[col_of[c]], &v[c])) {
                TRK_LOGE("%s:%ld: column '%s': '%s' is not a number", path, lineno,
                         csv_names[c], fields[col_of[c]]);
                st = TRK_ERR_PARSE;
                goto fail;
            }
        uint32_t layer_index = (uint32_t)v[C_LAYER_INDEX];
        if (v[C_INDEX] != nmod || v[C_LAYER_INDEX] < 0 || v[C_LAYER_INDEX] > 9 ||
            layer_index != v[C_LAYER_INDEX] || nmod < trk_cms_layer_start[layer_index] ||
            nmod >= trk_cms_layer_start[layer_index + 1]) {
            TRK_LOGE("%s:%ld: module index %g / layer_index %g out of order (module %u "
                     "must be in layer %s of Patatrack's layerStart)",
                     path, lineno, v[C_INDEX], v[C_LAYER_INDEX], nmod, "range");
            st = TRK_ERR_PARSE;
            goto fail;
        }
        bool barrel = v[C_IS_BARREL] != 0;
        if (barrel != (layer_index < 4) || v[C_RAW_ID] < 0 || v[C_RAW_ID] > 4294967295.0) {
            TRK_LOGE("%s:%ld: is_barrel %g / raw_id %g inconsistent with layer_index %u",
                     path, lineno, v[C_IS_BARREL], v[C_RAW_ID], layer_index);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        struct trk_module *m = &det->modules[nmod];
        set_common(m, nmod, layer_index, barrel);
        m->raw_id = (uint32_t)v[C_RAW_ID];
        if (((m->raw_id >> 25) & 7) != (barrel ? 1u : 2u)) {
            TRK_LOGE("%s:%ld: raw_id %u has subdetector %u, expected %u", path, lineno,
                     m->raw_id, (m->raw_id >> 25) & 7, barrel ? 1u : 2u);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        m->c[0] = 10.0 * v[C_PX];
        m->c[1] = 10.0 * v[C_PY];
        m->c[2] = 10.0 * v[C_PZ];
        for (int i = 0; i < 9; i++)
            m->rot[i] = v[C_R11 + i];
        double dev = orthonormalize(m->rot);
        if (!(dev < 1e-3)) {
            TRK_LOGE("%s:%ld: rotation r11..r33 is not orthonormal (deviation %.3g)", path,
                     lineno, dev);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        m->thickness = 10.0 * (barrel ? thick_b : thick_e);
        m->volume_id = barrel ? 1 : (v[C_IS_POS_Z] != 0 ? 2 : 0);
        nmod++;
    }
    if (ferror(f)) {
        TRK_LOGE("%s: read error after line %ld", path, lineno);
        st = TRK_ERR_IO;
        goto fail;
    }
    if (!have_header || nmod != TRK_CMS_NMODULES) {
        TRK_LOGE("%s: %u modules, expected %u (file truncated?)", path, nmod,
                 TRK_CMS_NMODULES);
        st = TRK_ERR_PARSE;
        goto fail;
    }
    st = trk_detector_finalize(det);
    if (st)
        goto fail;
    fclose(f);
    free(line);
    *out = det;
    return TRK_OK;
fail:
    fclose(f);
    free(line);
    trk_detector_free(det);
    return st;
}

/* ---- Lorentz drift, pixel edges ---------------------------------------------------- */

double cms_lorentz_mu(uint32_t layer)
{
    return layer < 4 ? bpix[layer].mu : fpix_mu;
}

void trk_cms_lorentz(const struct trk_detector *det, uint32_t module, double *lu, double *lv)
{
    if (module >= det->nmodules) {
        *lu = *lv = 0;
        return;
    }
    const struct trk_module *m = &det->modules[module];
    /* CMSSW PixelCPEBase::driftDirection: local B = (bx, by, bz), k = μ·|B| per
     * component: dir = (−(μ·by + μ²·bz·bx), μ·bx − μ²·bz·by, −(1 + μ²·bz²)). */
    double mu = cms_lorentz_mu(m->layer);
    double B = det->bfield;
    double bx = B * m->rot[2], by = B * m->rot[5], bz = B * m->rot[8];
    double dx = -(mu * by + mu * mu * bz * bx);
    double dy = mu * bx - mu * mu * bz * by;
    double dz = -(1 + mu * mu * bz * bz);
    *lu = m->thickness * dx / dz;
    *lv = m->thickness * dy / dz;
}

void trk_cms_row_edges(uint32_t row, double *lo, double *hi)
{
    double l = row + (row >= 80 ? 1.0 : 0.0) + (row >= 81 ? 1.0 : 0.0);
    *lo = l;
    *hi = l + ((row == 79 || row == 80) ? 2.0 : 1.0);
}

void trk_cms_col_edges(uint32_t col, double *lo, double *hi)
{
    uint32_t roc = col / 52, k = col % 52;
    double l = 54.0 * roc + (k == 0 ? 0.0 : k + 1.0);
    *lo = l;
    *hi = l + ((k == 0 || k == 51) ? 2.0 : 1.0);
}

int cms_row_of_units(double x)
{
    if (!(x >= 0 && x < 162))
        return -1;
    int i = (int)x;
    if (i < 79)
        return i;
    if (i < 81)
        return 79;
    if (i < 83)
        return 80;
    return i - 2;
}

int cms_col_of_units(double y)
{
    if (!(y >= 0 && y < 432))
        return -1;
    int i = (int)y;
    int roc = i / 54, k = i % 54;
    int c;
    if (k < 2)
        c = 0;
    else if (k >= 52)
        c = 51;
    else
        c = k - 1;
    return roc * 52 + c;
}

int trk_cms_row_of(double u)
{
    return cms_row_of_units(u / TRK_CMS_PITCH_U + 81.0);
}

int trk_cms_col_of(double v)
{
    return cms_col_of_units(v / TRK_CMS_PITCH_V + 216.0);
}
