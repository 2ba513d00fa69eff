/* trkserve — the TrackML (ACTS generic) detector: reader for the challenge's
 * detectors.csv and a built-in copy of the same layout.
 *
 * Where the built-in numbers come from: every number in the tables below was read
 * off ../shared/data/trackml/detectors.csv (per layer: module count, distinct radii,
 * z positions and their stagger pattern, rotations, sizes, pitches;
 * tests/test_trackml_sim.c compares all 18,728 modules with the file) and agrees
 * with the ACTS configuration that made the challenge geometry (acts-framework,
 * Detectors/GenericDetector/.../GenericDetectorML.ipp: layer radii, binning
 * schemas, tilts, staggers, disk z, ring phi bins, module sizes and readout bins;
 * placement as in its modulePositionsCylinder / modulePositionsDisc helpers).
 * Material thicknesses are that file's layer MaterialProperties. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "trk/log.h"
#include "trk/trackml.h"

#define X0_SI_MM 95.7   /* silicon radiation length, as in the ACTS configuration */
#define X0_BE_MM 352.8  /* beryllium (beam pipe) */
#define BEAMPIPE_R 19.0 /* mm; also where the reference secondaries start (vr = 19.00) */
#define BEAMPIPE_T 0.8  /* mm of Be */
#define BFIELD_T 2.0
#define ROT_TOL 1e-4    /* the file has 6 significant digits */
#define MAX_COORD 1e5   /* mm: module centres beyond 100 m are not a tracker */
#define MIN_SIZE 1e-4   /* mm: thickness, half sizes and pitches, */
#define MAX_SIZE 1e4    /* … within [0.1 µm, 10 m] */

/* ---- per-volume properties --------------------------------------------------------- */

/* Sensor kind and barrel flag of a TrackML volume; false for unknown volumes. */
static bool volume_info(int32_t vol, uint8_t *kind, uint8_t *barrel)
{
    switch (vol) {
    case 7: case 8: case 9:
        *kind = TRK_MODULE_PIXEL;
        break;
    case 12: case 13: case 14:
        *kind = TRK_MODULE_SHORT_STRIP;
        break;
    case 16: case 17: case 18:
        *kind = TRK_MODULE_LONG_STRIP;
        break;
    default:
        return false;
    }
    *barrel = (vol == 8 || vol == 13 || vol == 17);
    return true;
}

/* Layer support material (mm of silicon) per crossing, from the ACTS layer
 * MaterialProperties of GenericDetectorML.ipp: pixel 1.5 (barrel and disks), short
 * strips 2.0 barrel / 2.5 disks, long strips 2.5 barrel / 3.5 disks. */
static double support_mm(uint8_t kind, uint8_t barrel)
{
    switch (kind) {
    case TRK_MODULE_PIXEL:
        return 1.5;
    case TRK_MODULE_SHORT_STRIP:
        return barrel ? 2.0 : 2.5;
    default:
        return barrel ? 2.5 : 3.5;
    }
}

static void set_material(struct trk_module *m)
{
    m->x0 = (m->thickness + support_mm(m->kind, m->barrel)) / X0_SI_MM;
}

static void set_detector_common(struct trk_detector *d)
{
    d->kind = TRK_DETECTOR_TRACKML;
    snprintf(d->name, sizeof d->name, "trackml-generic");
    d->bfield = BFIELD_T;
    d->beampipe_r = BEAMPIPE_R;
    d->beampipe_x0 = BEAMPIPE_T / X0_BE_MM;
    d->rmax = 0; /* finalize: outermost module + 1 mm */
    d->zmax = 0;
}

static int cmp_ids(int32_t va, int32_t la, int32_t ma, int32_t vb, int32_t lb, int32_t mb)
{
    if (va != vb)
        return va < vb ? -1 : 1;
    if (la != lb)
        return la < lb ? -1 : 1;
    if (ma != mb)
        return ma < mb ? -1 : 1;
    return 0;
}

static int cmp_module(const void *a, const void *b)
{
    const struct trk_module *x = a, *y = b;
    return cmp_ids(x->volume_id, x->layer_id, x->module_id, y->volume_id, y->layer_id,
                   y->module_id);
}

/* Allocates the detector for modules sorted by (volume, layer, module), numbers
 * their layers and finalises. Takes nothing over: mods stays the caller's. */
static enum trk_status assemble(const struct trk_module *mods, size_t n, const char *source,
                                struct trk_detector **out)
{
    size_t nlayers = 0;
    for (size_t i = 0; i < n; i++)
        if (!i || mods[i].volume_id != mods[i - 1].volume_id ||
            mods[i].layer_id != mods[i - 1].layer_id)
            nlayers++;
    if (nlayers > UINT16_MAX) {
        TRK_LOGE("%s: %zu layers; at most %u (volume, layer) pairs are supported", source,
                 nlayers, (unsigned)UINT16_MAX);
        return TRK_ERR_PARSE;
    }
    struct trk_detector *d = NULL;
    enum trk_status st = trk_detector_alloc(n, nlayers, &d);
    if (st != TRK_OK) {
        TRK_LOGE("%s: cannot allocate %zu modules", source, n);
        return st;
    }
    set_detector_common(d);
    snprintf(d->source, sizeof d->source, "%s", source);
    size_t l = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && (mods[i].volume_id != mods[i - 1].volume_id ||
                  mods[i].layer_id != mods[i - 1].layer_id))
            l++;
        d->modules[i] = mods[i];
        d->modules[i].layer = (uint16_t)l;
        d->layers[l].barrel = mods[i].barrel;
    }
    st = trk_detector_finalize(d);
    if (st != TRK_OK) {
        TRK_LOGE("%s: the detector description is inconsistent (see above)", source);
        trk_detector_free(d);
        return st;
    }
    *out = d;
    return TRK_OK;
}

/* ---- detectors.csv ------------------------------------------------------------------ */

enum {
    C_VOL, C_LAY, C_MOD, C_CX, C_CY, C_CZ,
    C_RXU, C_RXV, C_RXW, C_RYU, C_RYV, C_RYW, C_RZU, C_RZV, C_RZW,
    C_T, C_MINHU, C_MAXHU, C_HV, C_PU, C_PV, C_NCOLS
};
static const char *const col_names[C_NCOLS] = {
    "volume_id", "layer_id", "module_id", "cx", "cy", "cz",
    "rot_xu", "rot_xv", "rot_xw", "rot_yu", "rot_yv", "rot_yw", "rot_zu", "rot_zv", "rot_zw",
    "module_t", "module_minhu", "module_maxhu", "module_hv", "pitch_u", "pitch_v"};

#define MAX_FIELDS 64

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* A decimal number in the C locale whatever the process locale: [+-]digits[.digits]
 * [(e|E)[+-]digits], the whole field, finite. */
static bool parse_num(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    uint64_t mant = 0;
    int nd = 0, exp10 = 0;
    bool any = false;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        any = true;
        if (nd < 19) {
            mant = mant * 10 + (uint64_t)(s[i] - '0');
            if (mant)
                nd++;
        } else {
            exp10++;
        }
    }
    if (i < n && s[i] == '.') {
        i++;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            any = true;
            if (nd < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                if (mant)
                    nd++;
                exp10--;
            }
        }
    }
    if (!any)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || s[i] < '0' || s[i] > '9')
            return false;
        int e = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 10000)
                e = e * 10 + (s[i] - '0');
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return false;
    double v = (double)mant;
    if (mant && exp10) {
        if (exp10 > 0 && exp10 <= 22)
            v *= pow(10.0, exp10);
        else if (exp10 < 0 && exp10 >= -22)
            v /= pow(10.0, -exp10); /* exact powers of ten: one rounding */
        else
            v *= pow(10.0, exp10);
    }
    if (!isfinite(v))
        return false;
    *out = neg ? -v : v;
    return true;
}

static bool parse_id(const char *s, size_t n, int32_t *out)
{
    int64_t v = 0;
    size_t i = 0;
    if (i < n && s[i] == '+')
        i++;
    if (i >= n)
        return false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > INT32_MAX)
            return false;
    }
    *out = (int32_t)v;
    return true;
}

/* Splits line [s, s+n) at commas into at most max fields; returns the count or -1
 * when there are more. */
static int split(const char *s, size_t n, const char **f, size_t *fl, int max)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',') {
            if (k == max)
                return -1;
            f[k] = s + start;
            fl[k] = i - start;
            trim(&f[k], &fl[k]);
            k++;
            start = i + 1;
        }
    }
    return k;
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

static double dot3(const double *a, const double *b)
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double *a, const double *b, double *c)
{
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
}

/* file R (global = R·local + c; R[3*g + l]) → our rot (rows u, v, w); checks it and
 * re-orthonormalises. Returns false with *what set when it is not a rotation. */
static bool set_rotation(struct trk_module *m, const double R[9], const char **what)
{
    double r[9];
    for (int l = 0; l < 3; l++)
        for (int g = 0; g < 3; g++)
            r[3 * l + g] = R[3 * g + l];
    for (int a = 0; a < 3; a++)
        for (int b = a; b < 3; b++)
            if (fabs(dot3(r + 3 * a, r + 3 * b) - (a == b)) > ROT_TOL) {
                *what = "rotation columns u, v, w are not orthonormal";
                return false;
            }
    double c[3];
    cross3(r, r + 3, c);
    if (fabs(dot3(c, r + 6) - 1) > ROT_TOL) {
        *what = "rotation is not right-handed (u x v != w)";
        return false;
    }
    double nu = sqrt(dot3(r, r));
    for (int k = 0; k < 3; k++)
        r[k] /= nu;
    double uv = dot3(r, r + 3);
    for (int k = 0; k < 3; k++)
        r[3 + k] -= uv * r[k];
    double nv = sqrt(dot3(r + 3, r + 3));
    for (int k = 0; k < 3; k++)
        r[3 + k] /= nv;
    cross3(r, r + 3, r + 6);
    memcpy(m->rot, r, sizeof r);
    return true;
}

struct row {
    struct trk_module m;
    size_t line;
};

static int cmp_row(const void *a, const void *b)
{
    return cmp_module(&((const struct row *)a)->m, &((const struct row *)b)->m);
}

enum trk_status trk_trackml_detector_parse(const char *text, size_t n, const char *name,
                                           struct trk_detector **out)
{
    if (!out || (!text && n) || !name) {
        TRK_LOGE("text, name and out are required");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_ERR_PARSE;
    struct row *rows = NULL;
    struct trk_module *mods = NULL;
    size_t nrows = 0, cap = 0, line = 0, pos = 0;
    int col[C_NCOLS], nhdr = 0;
    bool have_header = false;
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    if (n >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        pos = 3;
    while (pos < n) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        pos += len + (nl ? 1 : 0);
        line++;
        if (blank_line(s, len))
            continue;
        int nf = split(s, len, f, fl, MAX_FIELDS);
        if (nf < 0) {
            TRK_LOGE("%s:%zu: more than %d fields", name, line, MAX_FIELDS);
            goto fail;
        }
        if (!have_header) {
            for (int c = 0; c < C_NCOLS; c++) {
                col[c] = -1;
                for (int k = 0; k < nf; k++)
                    if (fl[k] == strlen(col_names[c]) && !memcmp(f[k], col_names[c], fl[k])) {
                        col[c] = k;
                        break;
                    }
                if (col[c] < 0) {
                    TRK_LOGE("%s:%zu: header lacks column '%s' (a TrackML detectors.csv "
                             "has volume_id,layer_id,module_id,cx,cy,cz,rot_xu..rot_zw,"
                             "module_t,module_minhu,module_maxhu,module_hv,pitch_u,pitch_v)",
                             name, line, col_names[c]);
                    goto fail;
                }
            }
            nhdr = nf;
            have_header = true;
            continue;
        }
        if (nf != nhdr) {
            TRK_LOGE("%s:%zu: %d fields, the header has %d", name, line, nf, nhdr);
            goto fail;
        }
        if (nrows == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            struct row *r = realloc(rows, nc * sizeof *r);
            if (!r) {
                TRK_LOGE("%s: out of memory at line %zu", name, line);
                st = TRK_ERR_NO_MEMORY;
                goto fail;
            }
            rows = r;
            cap = nc;
        }
        struct row *r = &rows[nrows];
        memset(r, 0, sizeof *r);
        r->line = line;
        struct trk_module *m = &r->m;
        int32_t *ids[3] = {&m->volume_id, &m->layer_id, &m->module_id};
        for (int c = C_VOL; c <= C_MOD; c++) {
            int k = col[c];
            if (!parse_id(f[k], fl[k], ids[c]) || *ids[c] < 1) {
                TRK_LOGE("%s:%zu: column '%s': '%.*s' is not a positive integer", name, line,
                         col_names[c], (int)(fl[k] > 40 ? 40 : fl[k]), f[k]);
                goto fail;
            }
        }
        if (!volume_info(m->volume_id, &m->kind, &m->barrel)) {
            TRK_LOGE("%s:%zu: column 'volume_id': unknown volume %d (TrackML has 7, 8, 9 "
                     "pixels, 12, 13, 14 short strips, 16, 17, 18 long strips)",
                     name, line, m->volume_id);
            goto fail;
        }
        double v[C_NCOLS];
        for (int c = C_CX; c < C_NCOLS; c++) {
            int k = col[c];
            if (!parse_num(f[k], fl[k], &v[c])) {
                TRK_LOGE("%s:%zu: column '%s': '%.*s' is not a finite number", name, line,
                         col_names[c], (int)(fl[k] > 40 ? 40 : fl[k]), f[k]);
                goto fail;
            }
        }
        for (int c = C_CX; c <= C_CZ; c++)
            if (!(fabs(v[c]) <= MAX_COORD)) {
                TRK_LOGE("%s:%zu: column '%s': %g is beyond %g mm from the origin", name, line,
                         col_names[c], v[c], MAX_COORD);
                goto fail;
            }
        for (int c = C_T; c < C_NCOLS; c++)
            if (!(v[c] >= MIN_SIZE && v[c] <= MAX_SIZE)) {
                TRK_LOGE("%s:%zu: column '%s': %g must be within [%g, %g] mm", name, line,
                         col_names[c], v[c], MIN_SIZE, MAX_SIZE);
                goto fail;
            }
        m->c[0] = v[C_CX];
        m->c[1] = v[C_CY];
        m->c[2] = v[C_CZ];
        const char *what = NULL;
        if (!set_rotation(m, v + C_RXU, &what)) {
            TRK_LOGE("%s:%zu: module (%d, %d, %d): %s within %g", name, line, m->volume_id,
                     m->layer_id, m->module_id, what, ROT_TOL);
            goto fail;
        }
        m->thickness = v[C_T];
        m->hu_min = v[C_MINHU];
        m->hu_max = v[C_MAXHU];
        m->hv = v[C_HV];
        m->pitch_u = v[C_PU];
        m->pitch_v = v[C_PV];
        set_material(m);
        nrows++;
    }
    if (!have_header) {
        TRK_LOGE("%s: empty file; expected a TrackML detectors.csv header", name);
        goto fail;
    }
    if (!nrows) {
        TRK_LOGE("%s: header but no modules", name);
        goto fail;
    }
    qsort(rows, nrows, sizeof *rows, cmp_row);
    for (size_t i = 1; i < nrows; i++)
        if (!cmp_module(&rows[i].m, &rows[i - 1].m)) {
            TRK_LOGE("%s:%zu: module (%d, %d, %d) already given on line %zu", name,
                     rows[i].line > rows[i - 1].line ? rows[i].line : rows[i - 1].line,
                     rows[i].m.volume_id, rows[i].m.layer_id, rows[i].m.module_id,
                     rows[i].line > rows[i - 1].line ? rows[i - 1].line : rows[i].line);
            goto fail;
        }
    mods = malloc(nrows * sizeof *mods);
    if (!mods) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    for (size_t i = 0; i < nrows; i++)
        mods[i] = rows[i].m;
    st = assemble(mods, nrows, name, out);
fail:
    free(mods);
    free(rows);
    return st;
}

enum trk_status trk_trackml_detector_from_csv(const char *path, struct trk_detector **out)
{
    if (!path || !out) {
        TRK_LOGE("path and out are required");
        return TRK_ERR_INVALID_ARG;
    }
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        int e = errno;
        TRK_LOGE("%s: cannot open: %s%s", path, strerror(e),
                 e == ENOENT ? " (the TrackML detectors.csv is in $TRK_DATA_DIR/trackml/)"
                             : "");
        return e == ENOENT ? TRK_ERR_NOT_FOUND : TRK_ERR_IO;
    }
    fclose(probe);
    gzFile g = gzopen(path, "rb");
    if (!g) {
        TRK_LOGE("%s: cannot open", path);
        return TRK_ERR_IO;
    }
    enum trk_status st = TRK_OK;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            size_t nc = cap ? 2 * cap : 1 << 21;
            char *b = realloc(buf, nc);
            if (!b) {
                TRK_LOGE("%s: out of memory after %zu bytes", path, n);
                st = TRK_ERR_NO_MEMORY;
                goto done;
            }
            buf = b;
            cap = nc;
        }
        int got = gzread(g, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (got < 0) {
            int err = 0;
            const char *msg = gzerror(g, &err);
            TRK_LOGE("%s: read failed after %zu bytes: %s", path, n, msg);
            /* corrupt or truncated compressed data is malformed input, not an I/O error */
            st = (err == Z_DATA_ERROR || err == Z_BUF_ERROR) ? TRK_ERR_PARSE : TRK_ERR_IO;
            goto done;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    st = trk_trackml_detector_parse(buf, n, path, out);
done:
    gzclose(g);
    free(buf);
    return st;
}

/* ---- built-in layout ---------------------------------------------------------------- */

struct sensor {
    double hu_min, hu_max, hv, t, pitch_u, pitch_v;
};

static const struct sensor S_PIX = {8.4, 8.4, 36.0, 0.15, 0.05, 0.05625};
static const struct sensor S_SS_BARREL = {24.0, 24.0, 54.0, 0.25, 0.08, 1.2};
static const struct sensor S_LS_BARREL = {24.0, 24.0, 54.0, 0.35, 0.12, 10.8};

/* Barrel volumes: layer l (id 2l+2) at radius r[l], nphi[l] × nz modules; module k at
 * phi = −pi + (iphi + ½)·2pi/nphi, z = −½(nz−1)·step + iz·step with step = 2hv −
 * overlap, radius r ± stagger/2 (+ for even iz), normal tilted by `tilt` from the
 * radial direction; module_id = 1 + iphi + nphi·iz. */
struct barrel_def {
    int32_t volume;
    int nlayers;
    double r[4];
    int nphi[4];
    int nz;
    double tilt, stagger, overlap;
    const struct sensor *s;
};

static const struct barrel_def barrels[] = {
    {8, 4, {32, 72, 116, 172}, {16, 32, 52, 78}, 14, 0.14, 0.5, 2.0, &S_PIX},
    {13, 4, {260, 360, 500, 660}, {40, 56, 78, 102}, 21, -0.15, 3.0, 5.0, &S_SS_BARREL},
    {17, 2, {820, 1020}, {120, 152}, 21, -0.15, 3.0, 5.0, &S_LS_BARREL},
};

/* Disk systems: a −z volume and a +z volume with disks at |z| = z[d]; layer ids
 * 2, 4, … count outwards from z = 0 on the +z side and from the far end on the −z
 * side (as in the file: (7, 2) is at z = −1500, (9, 2) at +600). Ring i: radius
 * r[i], nphi[i] modules at phi = −pi + (k + ½)·2pi/nphi; on the +z side module z =
 * |z| + (rings > 1 ? (i odd ? +1 : −1)·ring_stagger/2 : 0) + (k odd ? −1 : +1)·
 * phi_stagger/2 + sub, where sub = +sub_stagger[i] for k % 4 == 0 and −sub_stagger[i]
 * for k % 4 == 3 (rings with nphi % 4 == 0); the −z side mirrors z. Local v points
 * outwards along the radius, w along ±z (away from the interaction point), u = v × w
 * … i.e. u = ∓phi-hat on the ±z side. */
struct disk_def {
    int32_t vol_neg, vol_pos;
    int ndisks;
    double z[7];
    int nrings;
    double r[3];
    int nphi[3];
    struct sensor s[3];
    double ring_stagger, phi_stagger, sub_stagger[3];
};

static const struct disk_def disks[] = {
    {7, 9, 7, {600, 700, 820, 960, 1100, 1300, 1500}, 2, {66, 140}, {40, 68},
     {{8.4, 8.4, 36, 0.15, 0.05, 0.05625}, {8.4, 8.4, 36, 0.15, 0.05, 0.05625}},
     0.0, 4.0, {0.5, 0.0}},
    {12, 14, 6, {1220, 1500, 1800, 2150, 2550, 2950}, 3, {318, 470, 622}, {54, 56, 60},
     {{16.4, 24.2, 78, 0.25, 0.08, 1.2},
      {24.2, 32.2, 78, 0.25, 0.08, 1.2},
      {32.2, 40.0, 78, 0.25, 0.08, 1.2}},
     6.0, 3.0, {0, 0, 0}},
    {16, 18, 6, {1220, 1500, 1800, 2150, 2550, 2950}, 2, {828, 942}, {48, 50},
     {{54.0, 64.2, 78, 0.35, 0.12, 10.4}, {66.0, 72.0, 78, 0.35, 0.12, 10.4}},
     8.0, 3.0, {0, 0}},
};

#define TRACKML_NMODULES 18728

static void fill_sensor(struct trk_module *m, const struct sensor *s, int32_t vol)
{
    m->hu_min = s->hu_min;
    m->hu_max = s->hu_max;
    m->hv = s->hv;
    m->thickness = s->t;
    m->pitch_u = s->pitch_u;
    m->pitch_v = s->pitch_v;
    m->volume_id = vol;
    (void)volume_info(vol, &m->kind, &m->barrel);
    set_material(m);
}

static size_t build_barrel(const struct barrel_def *b, int li, struct trk_module *out)
{
    size_t n = 0;
    int nphi = b->nphi[li];
    double step = 2 * b->s->hv - b->overlap;
    double z0 = -0.5 * (b->nz - 1) * step;
    for (int iz = 0; iz < b->nz; iz++) {
        double z = z0 + iz * step;
        double r = (iz % 2) ? b->r[li] - 0.5 * b->stagger : b->r[li] + 0.5 * b->stagger;
        for (int ip = 0; ip < nphi; ip++) {
            double phi = -M_PI + (ip + 0.5) * (2 * M_PI / nphi);
            double a = phi + b->tilt, ca = cos(a), sa = sin(a);
            struct trk_module *m = &out[n++];
            memset(m, 0, sizeof *m);
            fill_sensor(m, b->s, b->volume);
            m->layer_id = 2 * li + 2;
            m->module_id = 1 + ip + nphi * iz;
            m->c[0] = r * cos(phi);
            m->c[1] = r * sin(phi);
            m->c[2] = z;
            double rot[9] = {-sa, ca, 0, 0, 0, 1, ca, sa, 0};
            memcpy(m->rot, rot, sizeof rot);
        }
    }
    return n;
}

struct disk_mod {
    double phi;
    int ring;
    struct trk_module m;
};

static int cmp_disk_mod(const void *a, const void *b)
{
    const struct disk_mod *x = a, *y = b;
    if (x->phi != y->phi)
        return x->phi < y->phi ? -1 : 1;
    return x->ring - y->ring;
}

/* One disk (index di of system d) on side s (+1/−1) into out; returns the count. */
static size_t build_disk(const struct disk_def *d, int di, int side, struct disk_mod *tmp,
                         struct trk_module *out)
{
    size_t n = 0;
    int32_t vol = side > 0 ? d->vol_pos : d->vol_neg;
    int li = side > 0 ? di : d->ndisks - 1 - di;
    for (int i = 0; i < d->nrings; i++) {
        int nphi = d->nphi[i];
        double zr = d->z[di];
        if (d->nrings > 1)
            zr += (i % 2 ? 0.5 : -0.5) * d->ring_stagger;
        for (int k = 0; k < nphi; k++) {
            double phi = -M_PI + (k + 0.5) * (2 * M_PI / nphi);
            double z = zr + (k % 2 ? -0.5 : 0.5) * d->phi_stagger;
            if (d->sub_stagger[i] != 0 && nphi % 4 == 0) {
                if (k % 4 == 0)
                    z += d->sub_stagger[i];
                else if (k % 4 == 3)
                    z -= d->sub_stagger[i];
            }
            struct disk_mod *t = &tmp[n++];
            memset(t, 0, sizeof *t);
            t->phi = phi;
            t->ring = i;
            struct trk_module *m = &t->m;
            fill_sensor(m, &d->s[i], vol);
            m->layer_id = 2 * li + 2;
            double cp = cos(phi), sp = sin(phi);
            m->c[0] = d->r[i] * cp;
            m->c[1] = d->r[i] * sp;
            m->c[2] = side * z;
            double rot[9] = {side * sp, -side * cp, 0, cp, sp, 0, 0, 0, side};
            memcpy(m->rot, rot, sizeof rot);
        }
    }
    qsort(tmp, n, sizeof *tmp, cmp_disk_mod);
    for (size_t k = 0; k < n; k++) {
        out[k] = tmp[k].m;
        out[k].module_id = (int32_t)k + 1;
    }
    return n;
}

enum trk_status trk_trackml_detector_builtin(struct trk_detector **out)
{
    if (!out) {
        TRK_LOGE("out is required");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_ERR_NO_MEMORY;
    struct trk_module *mods = malloc(TRACKML_NMODULES * sizeof *mods);
    struct disk_mod *tmp = malloc(256 * sizeof *tmp);
    size_t n = 0;
    if (!mods || !tmp) {
        TRK_LOGE("out of memory");
        goto done;
    }
    for (size_t b = 0; b < sizeof barrels / sizeof barrels[0]; b++)
        for (int li = 0; li < barrels[b].nlayers; li++) {
            size_t need = (size_t)barrels[b].nphi[li] * (size_t)barrels[b].nz;
            if (n + need > TRACKML_NMODULES)
                goto overflow;
            n += build_barrel(&barrels[b], li, mods + n);
        }
    for (size_t s = 0; s < sizeof disks / sizeof disks[0]; s++) {
        const struct disk_def *d = &disks[s];
        size_t per = 0;
        for (int i = 0; i < d->nrings; i++)
            per += (size_t)d->nphi[i];
        if (per > 256)
            goto overflow;
        for (int side = -1; side <= 1; side += 2)
            for (int di = 0; di < d->ndisks; di++) {
                if (n + per > TRACKML_NMODULES)
                    goto overflow;
                n += build_disk(d, di, side, tmp, mods + n);
            }
    }
    if (n != TRACKML_NMODULES)
        goto overflow;
    qsort(mods, n, sizeof *mods, cmp_module);
    st = assemble(mods, n, "built-in", out);
    goto done;
overflow:
    TRK_LOGE("built-in TrackML table gives %zu+ modules, expected %d: the table in %s is "
             "inconsistent", n, TRACKML_NMODULES, __FILE__);
    st = TRK_ERR_INTERNAL;
done:
    free(tmp);
    free(mods);
    return st;
}
