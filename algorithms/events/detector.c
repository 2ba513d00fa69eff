/* trkserve — detector description shared by the CMS and TrackML simulations:
 * module frames, layer envelopes and the (phi, z|r) navigation grid the propagator
 * uses to find which sensors a helix step can cross. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events_internal.h"
#include "trk/cms.h"
#include "trk/detector.h"
#include "trk/log.h"
#include "trk/trackml.h"

enum trk_status trk_detector_alloc(size_t nmodules, size_t nlayers, struct trk_detector **out)
{
    if (!out || !nmodules || !nlayers)
        return TRK_ERR_INVALID_ARG;
    struct trk_detector *d = calloc(1, sizeof *d);
    if (!d)
        return TRK_ERR_NO_MEMORY;
    d->modules = calloc(nmodules, sizeof *d->modules);
    d->layers = calloc(nlayers, sizeof *d->layers);
    if (!d->modules || !d->layers) {
        trk_detector_free(d);
        return TRK_ERR_NO_MEMORY;
    }
    d->nmodules = nmodules;
    d->nlayers = nlayers;
    snprintf(d->source, sizeof d->source, "built-in");
    *out = d;
    return TRK_OK;
}

void trk_detector_free(struct trk_detector *det)
{
    if (!det)
        return;
    for (size_t i = 0; i < det->nlayers && det->layers; i++) {
        free(det->layers[i].cell_start);
        free(det->layers[i].cell_modules);
    }
    free(det->layers);
    free(det->modules);
    free(det);
}

void trk_module_to_local(const struct trk_module *m, const double g[3], double l[3])
{
    double d0 = g[0] - m->c[0], d1 = g[1] - m->c[1], d2 = g[2] - m->c[2];
    for (int i = 0; i < 3; i++)
        l[i] = m->rot[3 * i] * d0 + m->rot[3 * i + 1] * d1 + m->rot[3 * i + 2] * d2;
}

void trk_module_to_global(const struct trk_module *m, const double l[3], double g[3])
{
    for (int i = 0; i < 3; i++)
        g[i] = m->c[i] + m->rot[i] * l[0] + m->rot[3 + i] * l[1] + m->rot[6 + i] * l[2];
}

bool trk_module_inside(const struct trk_module *m, double u, double v, double tol)
{
    if (fabs(v) > m->hv + tol)
        return false;
    double f = m->hv > 0 ? (v + m->hv) / (2 * m->hv) : 0.5;
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    double hu = m->hu_min + (m->hu_max - m->hu_min) * f;
    return fabs(u) <= hu + tol;
}

/* ---- envelopes and grid ------------------------------------------------------------ */

#define TWO_PI 6.283185307179586

/* Ranges of r, z and phi (relative to the centre's phi) over points of the module's
 * volume: a 5×5 grid on each face, which also catches the point nearest the axis on
 * flat barrel sensors. */
struct mod_range {
    double rmin, rmax, zmin, zmax, phic, dphi_lo, dphi_hi;
};

static void module_range(const struct trk_module *m, struct mod_range *r)
{
    r->rmin = r->zmin = INFINITY;
    r->rmax = r->zmax = -INFINITY;
    r->phic = atan2(m->c[1], m->c[0]);
    r->dphi_lo = INFINITY;
    r->dphi_hi = -INFINITY;
    for (int iw = -1; iw <= 1; iw += 2)
        for (int iv = 0; iv <= 4; iv++)
            for (int iu = 0; iu <= 4; iu++) {
                double v = m->hv * (iv / 2.0 - 1.0);
                double f = (v + m->hv) / (2 * m->hv);
                double hu = m->hu_min + (m->hu_max - m->hu_min) * f;
                double l[3] = {hu * (iu / 2.0 - 1.0), v, iw * m->thickness / 2}, g[3];
                trk_module_to_global(m, l, g);
                double rr = hypot(g[0], g[1]);
                r->rmin = fmin(r->rmin, rr);
                r->rmax = fmax(r->rmax, rr);
                r->zmin = fmin(r->zmin, g[2]);
                r->zmax = fmax(r->zmax, g[2]);
                double dp = trk_wrap_pi(atan2(g[1], g[0]) - r->phic);
                r->dphi_lo = fmin(r->dphi_lo, dp);
                r->dphi_hi = fmax(r->dphi_hi, dp);
            }
}

static uint32_t clampu(long v, uint32_t lo, uint32_t hi)
{
    return v < (long)lo ? lo : v > (long)hi ? hi : (uint32_t)v;
}

/* Cell index ranges a (phi range, b range) touches; phi wraps. */
static void cells_of(const struct trk_layer *L, double phi_lo, double phi_hi, double b_lo,
                     double b_hi, long *p0, long *p1, uint32_t *b0, uint32_t *b1)
{
    double pw = TWO_PI / L->nphi, bw = (L->bmax - L->bmin) / L->nb;
    *p0 = (long)floor((phi_lo + M_PI) / pw);
    *p1 = (long)floor((phi_hi + M_PI) / pw);
    if (*p1 - *p0 >= (long)L->nphi) {
        *p0 = 0;
        *p1 = L->nphi - 1;
    }
    *b0 = clampu((long)floor((b_lo - L->bmin) / bw), 0, L->nb - 1);
    *b1 = clampu((long)floor((b_hi - L->bmin) / bw), 0, L->nb - 1);
}

static uint32_t wrapi(long p, uint32_t n)
{
    long m = p % (long)n;
    return (uint32_t)(m < 0 ? m + n : m);
}

static enum trk_status build_grid(const struct trk_detector *det, struct trk_layer *L,
                                  const struct mod_range *mr)
{
    /* Roughly two modules per cell: enough to keep candidate lists short. */
    L->nb = L->barrel ? 8 : 4;
    L->nphi = clampu((long)(L->count / L->nb) + 1, 8, 1024);
    if (L->barrel) {
        L->bmin = L->zmin;
        L->bmax = L->zmax;
    } else {
        L->bmin = L->rmin;
        L->bmax = L->rmax;
    }
    if (L->bmax <= L->bmin)
        L->bmax = L->bmin + 1;
    size_t ncell = (size_t)L->nphi * L->nb;
    L->cell_start = calloc(ncell + 1, sizeof *L->cell_start);
    if (!L->cell_start)
        return TRK_ERR_NO_MEMORY;
    const double margin_phi = 0.01, margin_b = 2.0; /* rad, mm */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *fillpos = NULL;
        if (pass == 1) {
            for (size_t c = 0; c < ncell; c++)
                L->cell_start[c + 1] += L->cell_start[c];
            L->cell_modules = malloc((L->cell_start[ncell] + 1) * sizeof *L->cell_modules);
            fillpos = malloc(ncell * sizeof *fillpos);
            if (!L->cell_modules || !fillpos) {
                free(fillpos);
                return TRK_ERR_NO_MEMORY;
            }
            memcpy(fillpos, L->cell_start, ncell * sizeof *fillpos);
        }
        for (uint32_t i = L->first; i < L->first + L->count; i++) {
            const struct mod_range *r = &mr[i - L->first];
            double blo = L->barrel ? r->zmin : r->rmin, bhi = L->barrel ? r->zmax : r->rmax;
            long p0, p1;
            uint32_t b0, b1;
            cells_of(L, r->phic + r->dphi_lo - margin_phi, r->phic + r->dphi_hi + margin_phi,
                     blo - margin_b, bhi + margin_b, &p0, &p1, &b0, &b1);
            for (long p = p0; p <= p1; p++)
                for (uint32_t b = b0; b <= b1; b++) {
                    size_t c = (size_t)wrapi(p, L->nphi) * L->nb + b;
                    if (pass == 0)
                        L->cell_start[c + 1]++;
                    else
                        L->cell_modules[fillpos[c]++] = i;
                }
        }
        free(fillpos);
    }
    (void)det;
    return TRK_OK;
}

enum trk_status trk_detector_finalize(struct trk_detector *det)
{
    if (!det || !det->nmodules || !det->nlayers)
        return TRK_ERR_INVALID_ARG;
    for (size_t l = 0; l < det->nlayers; l++) {
        det->layers[l].count = 0;
        det->layers[l].first = UINT32_MAX;
    }
    for (size_t i = 0; i < det->nmodules; i++) {
        const struct trk_module *m = &det->modules[i];
        if (m->layer >= det->nlayers || (i && m->layer < det->modules[i - 1].layer)) {
            TRK_LOGE("%s: module %zu (volume %d layer %d module %d): layer index %u is out "
                     "of order or range (%zu layers); modules must be sorted by layer",
                     det->source, i, m->volume_id, m->layer_id, m->module_id, m->layer,
                     det->nlayers);
            return TRK_ERR_PARSE;
        }
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                double dot = 0;
                for (int k = 0; k < 3; k++)
                    dot += m->rot[3 * a + k] * m->rot[3 * b + k];
                if (fabs(dot - (a == b)) > 1e-6) {
                    TRK_LOGE("%s: module %zu (volume %d layer %d module %d): rotation is not "
                             "orthonormal (row %d . row %d = %g)",
                             det->source, i, m->volume_id, m->layer_id, m->module_id, a, b,
                             dot);
                    return TRK_ERR_PARSE;
                }
            }
        bool finite = isfinite(m->c[0]) && isfinite(m->c[1]) && isfinite(m->c[2]) &&
                      fabs(m->c[0]) < 1e6 && fabs(m->c[1]) < 1e6 && fabs(m->c[2]) < 1e6 &&
                      m->hu_min < 1e5 && m->hu_max < 1e5 && m->hv < 1e5 && m->thickness < 1e3;
        if (!finite || !(m->hu_min > 0 && m->hu_max > 0 && m->hv > 0 && m->thickness > 0 &&
                         m->pitch_u > 0 && m->pitch_v > 0)) {
            TRK_LOGE("%s: module %zu (volume %d layer %d module %d): sizes and pitches must "
                     "be positive and the module within 1 km of the origin", det->source, i, m->volume_id, m->layer_id, m->module_id);
            return TRK_ERR_PARSE;
        }
        struct trk_layer *L = &det->layers[m->layer];
        if (L->first == UINT32_MAX)
            L->first = (uint32_t)i;
        L->count++;
    }
    struct mod_range *mr = malloc(det->nmodules * sizeof *mr);
    if (!mr)
        return TRK_ERR_NO_MEMORY;
    double rmax = 0, zmax = 0;
    enum trk_status st = TRK_OK;
    for (size_t l = 0; l < det->nlayers && st == TRK_OK; l++) {
        struct trk_layer *L = &det->layers[l];
        if (!L->count) {
            TRK_LOGE("%s: layer %zu has no modules", det->source, l);
            st = TRK_ERR_PARSE;
            break;
        }
        L->rmin = L->zmin = INFINITY;
        L->rmax = L->zmax = -INFINITY;
        for (uint32_t i = 0; i < L->count; i++) {
            struct mod_range *r = &mr[i];
            module_range(&det->modules[L->first + i], r);
            L->rmin = fmin(L->rmin, r->rmin);
            L->rmax = fmax(L->rmax, r->rmax);
            L->zmin = fmin(L->zmin, r->zmin);
            L->zmax = fmax(L->zmax, r->zmax);
        }
        rmax = fmax(rmax, L->rmax);
        zmax = fmax(zmax, fmax(fabs(L->zmin), fabs(L->zmax)));
        free(L->cell_start);
        free(L->cell_modules);
        L->cell_start = L->cell_modules = NULL;
        st = build_grid(det, L, mr);
    }
    free(mr);
    if (st != TRK_OK)
        return st;
    if (det->rmax <= 0)
        det->rmax = rmax + 1.0;
    if (det->zmax <= 0)
        det->zmax = zmax + 1.0;
    return TRK_OK;
}

size_t trk_layer_candidates(const struct trk_layer *L, double phi_lo, double phi_hi,
                            double b_lo, double b_hi, uint32_t *out, size_t n, size_t cap)
{
    size_t n0 = n;
    long p0, p1;
    uint32_t b0, b1;
    if (b_hi < L->bmin - 5 || b_lo > L->bmax + 5)
        return n;
    cells_of(L, phi_lo, phi_hi, b_lo, b_hi, &p0, &p1, &b0, &b1);
    for (long p = p0; p <= p1; p++)
        for (uint32_t b = b0; b <= b1; b++) {
            size_t c = (size_t)wrapi(p, L->nphi) * L->nb + b;
            for (uint32_t k = L->cell_start[c]; k < L->cell_start[c + 1]; k++) {
                uint32_t m = L->cell_modules[k];
                size_t j = n0;
                while (j < n && out[j] != m)
                    j++;
                if (j == n && n < cap)
                    out[n++] = m;
            }
        }
    return n;
}

enum trk_status trk_detector_load(const char *name, const char *geometry,
                                  struct trk_detector **out)
{
    if (!name || !out)
        return TRK_ERR_INVALID_ARG;
    if (!strcmp(name, "cms"))
        return geometry ? trk_cms_detector_from_csv(geometry, out)
                        : trk_cms_detector_builtin(out);
    if (!strcmp(name, "trackml"))
        return geometry ? trk_trackml_detector_from_csv(geometry, out)
                        : trk_trackml_detector_builtin(out);
    TRK_LOGE("unknown detector '%s': use 'cms' (CMS Phase-1 pixel) or 'trackml' "
             "(TrackML/ACTS generic detector)", name);
    return TRK_ERR_NOT_FOUND;
}
