/* trkserve — TrackML digitisation: simhits → hits, cells, noise and challenge
 * weights (trk/trackml.h documents the model and the columns).
 *
 * Every constant below was checked against the real event
 * ../shared/data/trackml/event000000001 (hits/cells/truth with detectors.csv):
 *  - measured position = value-weighted centroid of the cell centres: real pixel
 *    disk hits match it to 0.1 µm; strips are binary and their v is the centre of a
 *    1.2 / 10.4 / 10.8 mm cell (real dv rms 0.30 / 3.0 mm ≈ pitch/√12);
 *  - barrel hits carry an uncorrected Lorentz shift: real mean (measured − true) u
 *    is +9.2 µm pixels, −14.3 µm short strips, −15.7 µm long strips, i.e.
 *    −readout·(t/2)·tan(LA) with the ACTS angles 0.12 / 0.12 / 0.08 rad and readout
 *    sides −1 / +1 / +1; disks have none;
 *  - on the disks both the cluster extent and the charge are those of a path over
 *    twice the sensor thickness: real disk pixel cell values sum to 1.99 × the
 *    geometric path (barrel 1.00), and the mean cluster extents (pixel v 1.56, short
 *    strip u 1.67, long strip u 3.00 cells) are 1 + 2× the geometric ones;
 *  - pixel cell_value = path length (mm) in the cell; the per-hit sum scatters by
 *    ±5.5 % around it (real 10–90 % range 0.93–1.07);
 *  - real barrel pixel clusters never exceed 28 rows (|cot θ| > 8 included): the
 *    in-plane path is capped at 10.5 collection depths (MIN_DW);
 *  - noise: TRK_TRACKML_NOISE_FRACTION, uniform per module (trk/trackml.h). */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "trk/log.h"
#include "trk/trackml.h"

#define LA_PIXEL 0.12      /* rad, barrel pixel Lorentz angle (ACTS) */
#define LA_SSTRIP 0.12     /* barrel short strips */
#define LA_LSTRIP 0.08     /* barrel long strips */
#define DISK_DEPTH 2.0     /* effective collection depth on disks, × thickness */
#define GAIN_SIGMA 0.055   /* per-hit relative charge scatter, pixels */
#define MIN_DW 0.095       /* |w| direction floor: the in-plane path is at most 10.5
                              depths (real barrel pixel clusters stop at 28 rows) */
#define MAX_CELLS 512      /* cells kept per hit */
#define MIN_CELL_PATH 1e-5 /* mm: a cell the path only grazes collects nothing */
#define NOISE_SIGMA_Z 55.0 /* mm: noise clusters point at a vertex on the beam line */

struct dig_params {
    double h;        /* half collection depth */
    double shift_lo; /* u drift of charge made at w = −h */
    double shift_hi; /* … at w = +h */
    double ou, ov;   /* grid origin (−hu_max, −hv) */
    long nu, nv;     /* cells */
    bool pixel;
};

static void dig_params(const struct trk_module *m, struct dig_params *p)
{
    double tan_la = 0;
    int readout = 1;
    p->pixel = m->kind == TRK_MODULE_PIXEL;
    p->h = 0.5 * m->thickness * (m->barrel ? 1.0 : DISK_DEPTH);
    if (m->barrel) {
        switch (m->kind) {
        case TRK_MODULE_PIXEL:
            tan_la = tan(LA_PIXEL);
            readout = -1;
            break;
        case TRK_MODULE_SHORT_STRIP:
            tan_la = tan(LA_SSTRIP);
            break;
        default:
            tan_la = tan(LA_LSTRIP);
            break;
        }
    }
    /* Charge made at depth w drifts |w_readout − w| = h − readout·w and moves by
     * −readout·tan(LA) per mm drifted. */
    p->shift_lo = -readout * tan_la * (p->h + readout * p->h);
    p->shift_hi = -readout * tan_la * (p->h - readout * p->h);
    p->ou = -m->hu_max;
    p->ov = -m->hv;
    p->nu = lround(2 * m->hu_max / m->pitch_u);
    p->nv = lround(2 * m->hv / m->pitch_v);
    if (p->nu < 1)
        p->nu = 1;
    if (p->nv < 1)
        p->nv = 1;
}

/* trk_module_inside(m, u, v, 0), inlined: it runs for every cell. */
static inline bool inside_active(const struct trk_module *m, double u, double v)
{
    if (fabs(v) > m->hv)
        return false;
    if (m->hu_min == m->hu_max)
        return fabs(u) <= m->hu_max;
    double hu = m->hu_min + (m->hu_max - m->hu_min) * (v + m->hv) / (2 * m->hv);
    return fabs(u) <= hu;
}

/* Growable temporary stores. */
struct hit_tmp {
    uint32_t module;
    int32_t particle;
    float pos[3], tpos[3], tmom[3];
    uint32_t c0, nc;
};

struct dig {
    struct hit_tmp *hits;
    size_t nhits, cap_hits;
    int32_t *ch;   /* [ncells, 2] */
    float *val;    /* [ncells] */
    size_t ncells, cap_cells;
};

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return false;
    *p = q;
    *cap = nc;
    return true;
}

static bool grow_cells(struct dig *d, size_t need)
{
    size_t cap = d->cap_cells;
    if (need <= cap)
        return true;
    size_t cap2 = cap;
    if (!grow((void **)&d->val, &cap, need, sizeof *d->val))
        return false;
    if (!grow((void **)&d->ch, &cap2, need, 2 * sizeof *d->ch))
        return false;
    d->cap_cells = cap < cap2 ? cap : cap2;
    return true;
}

/* Digitises one crossing of module m at local (u, v) with local unit direction dir:
 * appends its cells to d and writes the measured local (u, v). Returns the number of
 * cells (0: nothing in the active area), or −1 when out of memory. */
static long cluster(struct dig *d, const struct trk_module *m, const struct dig_params *p,
                    double u, double v, const double dir[3], double gain, double *mu,
                    double *mv)
{
    double dw = fabs(dir[2]) < MIN_DW ? (dir[2] < 0 ? -MIN_DW : MIN_DW) : dir[2];
    double tu = dir[0] / dw, tv = dir[1] / dw;
    double path = 2 * p->h * sqrt(1 + tu * tu + tv * tv); /* 3-D length, both depths */
    double u0 = u - p->h * tu + p->shift_lo, v0 = v - p->h * tv;
    double u1 = u + p->h * tu + p->shift_hi, v1 = v + p->h * tv;
    double du = u1 - u0, dv = v1 - v0;
    double fu = (u0 - p->ou) / m->pitch_u, fv = (v0 - p->ov) / m->pitch_v;
    if (!(fabs(fu) < 1e15 && fabs(fv) < 1e15))
        return 0; /* degenerate module or direction */
    long iu = (long)floor(fu);
    long iv = (long)floor(fv);
    int su = du > 0 ? 1 : -1, sv = dv > 0 ? 1 : -1;
    double tmu = INFINITY, tmv = INFINITY, tdu = INFINITY, tdv = INFINITY;
    if (du != 0) {
        double edge = p->ou + (double)(iu + (du > 0)) * m->pitch_u;
        tmu = (edge - u0) / du;
        tdu = m->pitch_u / fabs(du);
    }
    if (dv != 0) {
        double edge = p->ov + (double)(iv + (dv > 0)) * m->pitch_v;
        tmv = (edge - v0) / dv;
        tdv = m->pitch_v / fabs(dv);
    }
    if (!grow_cells(d, d->ncells + MAX_CELLS))
        return -1;
    double t = 0, sw = 0, su_acc = 0, sv_acc = 0;
    long nc = 0;
    for (int iter = 0; iter < 4 * MAX_CELLS && nc < MAX_CELLS; iter++) {
        double tn = fmin(fmin(tmu, tmv), 1.0);
        double len = (tn - t) * path;
        if (len > MIN_CELL_PATH && iu >= 0 && iu < p->nu && iv >= 0 && iv < p->nv) {
            double cu = p->ou + (iu + 0.5) * m->pitch_u, cv = p->ov + (iv + 0.5) * m->pitch_v;
            if (inside_active(m, cu, cv)) {
                double val = p->pixel ? len * gain : 1.0;
                size_t c = d->ncells + (size_t)nc++;
                d->ch[2 * c] = (int32_t)iu;
                d->ch[2 * c + 1] = (int32_t)iv;
                d->val[c] = (float)val;
                sw += val;
                su_acc += val * cu;
                sv_acc += val * cv;
            }
        }
        if (tn >= 1.0)
            break;
        t = tn;
        if (tmu <= tmv) {
            iu += su;
            tmu += tdu;
        } else {
            iv += sv;
            tmv += tdv;
        }
    }
    if (nc) {
        *mu = su_acc / sw;
        *mv = sv_acc / sw;
    }
    return nc;
}

static double draw_gain(struct trk_rng *rng)
{
    double g = 1 + GAIN_SIGMA * trk_rng_gauss(rng);
    return g < 0.5 ? 0.5 : g > 1.5 ? 1.5 : g;
}

static enum trk_status push_hit(struct dig *d, const struct trk_module *m, uint32_t mi,
                                int32_t particle, size_t c0, long nc, double mu, double mv,
                                const float tpos[3], const float tmom[3])
{
    if (!grow((void **)&d->hits, &d->cap_hits, d->nhits + 1, sizeof *d->hits))
        return TRK_ERR_NO_MEMORY;
    struct hit_tmp *h = &d->hits[d->nhits++];
    double l[3] = {mu, mv, 0}, g[3];
    trk_module_to_global(m, l, g);
    h->module = mi;
    h->particle = particle;
    for (int k = 0; k < 3; k++) {
        h->pos[k] = (float)g[k];
        h->tpos[k] = tpos[k];
        h->tmom[k] = tmom[k];
    }
    h->c0 = (uint32_t)c0;
    h->nc = (uint32_t)nc;
    d->ncells += (size_t)nc;
    return TRK_OK;
}

/* ---- weights --------------------------------------------------------------------------- */

#define ORDER_MIN_HITS 4
#define ORDER_MAX_HITS 20

/* np.interp(x, xp, fp) for increasing xp (clamped at the ends). */
static double interp(double x, const double *xp, const double *fp, int n)
{
    if (x <= xp[0])
        return fp[0];
    for (int i = 0; i + 1 < n; i++)
        if (x <= xp[i + 1])
            return fp[i] + (fp[i + 1] - fp[i]) * (x - xp[i]) / (xp[i + 1] - xp[i]);
    return fp[n - 1];
}

/* trackml-library _compute_order_weight_matrix(ORDER_PROPOSAL, 4, 20). */
static void order_matrix(double w[ORDER_MAX_HITS + 1][ORDER_MAX_HITS])
{
    static const double proposal[9] = {10, 8, 6, 5, 3, 3, 3, 5, 6};
    memset(w, 0, sizeof(double) * (ORDER_MAX_HITS + 1) * ORDER_MAX_HITS);
    for (int n = ORDER_MIN_HITS; n <= ORDER_MAX_HITS; n++) {
        double sup[9], sum = 0;
        for (int i = 0; i < 9; i++)
            sup[i] = (double)(i * (n - 1)) / 8.0;
        for (int j = 0; j < n; j++) {
            w[n][j] = interp(j, sup, proposal, 9);
            sum += w[n][j];
        }
        for (int j = 0; j < n; j++)
            w[n][j] /= sum;
    }
}

/* weight_pt(pt): interp(pt, [0.05, 0.5, 3], [0.2, 0.2, 1], left=0, right=1). */
static double weight_pt(double pt)
{
    if (!(pt >= 0.05))
        return 0;
    if (pt <= 0.5)
        return 0.2;
    if (pt >= 3)
        return 1;
    return 0.2 + 0.8 * (pt - 0.5) / 2.5;
}

struct rank_key {
    double d;
    uint32_t hit;
};

static int cmp_rank_key(const void *a, const void *b)
{
    const struct rank_key *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return x->hit < y->hit ? -1 : x->hit > y->hit;
}

enum trk_status trk_trackml_weights(size_t nhits, const int32_t *hit_particle,
                                    const float *hit_truth_pos, size_t nparticles,
                                    const float *particle_v, const float *particle_p,
                                    const int32_t *particle_nhits, float *weight)
{
    if ((nhits && (!hit_particle || !hit_truth_pos || !weight)) ||
        (nparticles && (!particle_v || !particle_p)) || nhits > UINT32_MAX) {
        TRK_LOGE("missing arrays");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    uint32_t *start = calloc(nparticles + 1, sizeof *start);
    uint32_t *list = malloc((nhits ? nhits : 1) * sizeof *list);
    struct rank_key *keys = NULL;
    double *w = malloc((nhits ? nhits : 1) * sizeof *w);
    double (*om)[ORDER_MAX_HITS] = malloc(sizeof(double) * (ORDER_MAX_HITS + 1) * ORDER_MAX_HITS);
    if (!start || !list || !w || !om) {
        st = TRK_ERR_NO_MEMORY;
        goto done;
    }
    order_matrix(om);
    size_t maxn = 0;
    for (size_t i = 0; i < nhits; i++) {
        int32_t p = hit_particle[i];
        if (p < -1 || (p >= 0 && (size_t)p >= nparticles)) {
            TRK_LOGE("hit %zu: particle index %d out of range (%zu particles)", i, p,
                     nparticles);
            st = TRK_ERR_INVALID_ARG;
            goto done;
        }
        if (p >= 0)
            start[p + 1]++;
    }
    for (size_t p = 0; p < nparticles; p++) {
        uint32_t c = start[p + 1];
        if (particle_nhits && c > 0 && (int64_t)c > (int64_t)particle_nhits[p]) {
            TRK_LOGE("particle %zu: %u hits but particle_nhits says %d", p, c,
                     particle_nhits[p]);
            st = TRK_ERR_INVALID_ARG;
            goto done;
        }
        if (c > maxn)
            maxn = c;
        start[p + 1] += start[p];
    }
    {
        uint32_t *fill = malloc((nparticles ? nparticles : 1) * sizeof *fill);
        keys = malloc((maxn ? maxn : 1) * sizeof *keys);
        if (!fill || !keys) {
            free(fill);
            st = TRK_ERR_NO_MEMORY;
            goto done;
        }
        if (nparticles)
            memcpy(fill, start, nparticles * sizeof *fill);
        for (size_t i = 0; i < nhits; i++)
            if (hit_particle[i] >= 0)
                list[fill[hit_particle[i]]++] = (uint32_t)i;
        free(fill);
    }
    double sum = 0;
    for (size_t i = 0; i < nhits; i++)
        w[i] = 0;
    for (size_t p = 0; p < nparticles; p++) {
        uint32_t c = start[p + 1] - start[p];
        if (!c)
            continue;
        int64_t n = particle_nhits ? (int64_t)particle_nhits[p] : (int64_t)c;
        double wpt = weight_pt(hypot(particle_p[3 * p], particle_p[3 * p + 1]));
        if (n < ORDER_MIN_HITS || wpt == 0)
            continue;
        if (n > ORDER_MAX_HITS)
            n = ORDER_MAX_HITS;
        double vz = particle_v[3 * p + 2];
        for (uint32_t k = 0; k < c; k++) {
            uint32_t h = list[start[p] + k];
            keys[k].d = fabs((double)hit_truth_pos[3 * (size_t)h + 2] - vz);
            keys[k].hit = h;
        }
        qsort(keys, c, sizeof *keys, cmp_rank_key);
        for (uint32_t i = 0; i < c;) {
            uint32_t j = i;
            while (j + 1 < c && keys[j + 1].d == keys[i].d)
                j++;
            uint32_t rank = (i + j) / 2; /* average 0-based rank, truncated */
            double wo = rank < ORDER_MAX_HITS ? om[n][rank] : 0;
            for (uint32_t k = i; k <= j; k++) {
                w[keys[k].hit] = wo * wpt;
                sum += wo * wpt;
            }
            i = j + 1;
        }
    }
    for (size_t i = 0; i < nhits; i++)
        weight[i] = sum > 0 ? (float)(w[i] / sum) : 0.0f;
done:
    free(start);
    free(list);
    free(keys);
    free(w);
    free(om);
    return st;
}

/* ---- digitisation ---------------------------------------------------------------------- */

static const char *const out_columns[] = {
    "hit_pos", "hit_module", "hit_vlm", "hit_particle", "hit_weight", "hit_truth_pos",
    "hit_truth_mom", "cell_hit", "cell_ch", "cell_value", "particle_nhits"};

static enum trk_status noise_hit(struct dig *d, const struct trk_detector *det,
                                 const struct dig_params *params, struct trk_rng *rng)
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t mi = (uint32_t)(trk_rng_uniform(rng) * (double)det->nmodules);
        if (mi >= det->nmodules)
            mi = (uint32_t)det->nmodules - 1;
        const struct trk_module *m = &det->modules[mi];
        double u = (2 * trk_rng_uniform(rng) - 1) * m->hu_max;
        double v = (2 * trk_rng_uniform(rng) - 1) * m->hv;
        if (!trk_module_inside(m, u, v, 0))
            continue;
        double l[3] = {u, v, 0}, g[3], dg[3], dir[3];
        trk_module_to_global(m, l, g);
        double z0 = NOISE_SIGMA_Z * trk_rng_gauss(rng);
        dg[0] = g[0];
        dg[1] = g[1];
        dg[2] = g[2] - z0;
        double nrm = sqrt(dg[0] * dg[0] + dg[1] * dg[1] + dg[2] * dg[2]);
        for (int k = 0; k < 3; k++)
            dir[k] = (m->rot[3 * k] * dg[0] + m->rot[3 * k + 1] * dg[1] +
                      m->rot[3 * k + 2] * dg[2]) / nrm;
        const struct dig_params *p = &params[mi];
        double gain = p->pixel ? draw_gain(rng) : 1.0, mu = 0, mv = 0;
        size_t c0 = d->ncells;
        long nc = cluster(d, m, p, u, v, dir, gain, &mu, &mv);
        if (nc < 0)
            return TRK_ERR_NO_MEMORY;
        if (nc == 0)
            continue;
        const float tpos[3] = {(float)g[0], (float)g[1], (float)g[2]};
        const float tmom[3] = {0, 0, 0};
        return push_hit(d, m, mi, -1, c0, nc, mu, mv, tpos, tmom);
    }
    TRK_LOGE("%s: cannot place a noise hit after 1000 tries (degenerate modules?)",
             det->source);
    return TRK_ERR_INTERNAL;
}

enum trk_status trk_trackml_digitize(const struct trk_detector *det, const struct trk_truth *truth,
                                     struct trk_rng *rng, struct trk_event *ev)
{
    if (!det || !truth || !rng || !ev || !det->nmodules || det->nmodules > UINT32_MAX) {
        TRK_LOGE("det, truth, rng and ev are required");
        return TRK_ERR_INVALID_ARG;
    }
    for (size_t k = 0; k < sizeof out_columns / sizeof out_columns[0]; k++)
        if (trk_event_find(ev, out_columns[k])) {
            TRK_LOGE("event %llu already has column '%s'; digitise into an event without "
                     "hit_*/cell_* columns and particle_nhits",
                     (unsigned long long)ev->number, out_columns[k]);
            return TRK_ERR_INVALID_ARG;
        }
    enum trk_status st = TRK_OK;
    struct dig d;
    memset(&d, 0, sizeof d);
    struct dig_params *params = malloc(det->nmodules * sizeof *params);
    uint32_t *order = NULL, *bucket = NULL;
    int32_t *nh = calloc(truth->nparticles ? truth->nparticles : 1, sizeof *nh);
    if (!params || !nh) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    for (size_t i = 0; i < det->nmodules; i++)
        dig_params(&det->modules[i], &params[i]);

    /* signal */
    for (size_t s = 0; s < truth->nsimhits; s++) {
        const struct trk_simhit *sh = &truth->simhits[s];
        if (sh->module >= det->nmodules || sh->particle >= truth->nparticles) {
            TRK_LOGE("simhit %zu: module %u / particle %u out of range (%zu modules, %zu "
                     "particles): truth and detector do not belong together",
                     s, sh->module, sh->particle, det->nmodules, truth->nparticles);
            st = TRK_ERR_INVALID_ARG;
            goto fail;
        }
        const struct trk_module *m = &det->modules[sh->module];
        if (!trk_module_inside(m, sh->local[0], sh->local[1], 1e-3))
            continue; /* not a crossing of the active area: no measurement */
        double dir[3] = {sh->dir[0], sh->dir[1], sh->dir[2]};
        double nrm = sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
        if (!(nrm > 0))
            continue;
        for (int k = 0; k < 3; k++)
            dir[k] /= nrm;
        const struct dig_params *p = &params[sh->module];
        double gain = p->pixel ? draw_gain(rng) : 1.0, mu = 0, mv = 0;
        size_t c0 = d.ncells;
        long nc = cluster(&d, m, p, sh->local[0], sh->local[1], dir, gain, &mu, &mv);
        if (nc < 0) {
            st = TRK_ERR_NO_MEMORY;
            goto fail;
        }
        if (nc == 0)
            continue; /* all charge outside the active cells */
        st = push_hit(&d, m, sh->module, (int32_t)sh->particle, c0, nc, mu, mv, sh->pos,
                      sh->mom);
        if (st != TRK_OK)
            goto fail;
        nh[sh->particle]++;
    }

    /* noise: a fraction f of all hits */
    size_t nsig = d.nhits;
    size_t nnoise = (size_t)llround((double)nsig * TRK_TRACKML_NOISE_FRACTION /
                                    (1.0 - TRK_TRACKML_NOISE_FRACTION));
    for (size_t k = 0; k < nnoise; k++) {
        st = noise_hit(&d, det, params, rng);
        if (st != TRK_OK)
            goto fail;
    }
    if (d.nhits > UINT32_MAX || d.ncells > UINT32_MAX) {
        st = TRK_ERR_OVERFLOW;
        goto fail;
    }

    /* order hits by module (stable counting sort) */
    size_t H = d.nhits, C = d.ncells;
    order = malloc((H ? H : 1) * sizeof *order);
    bucket = calloc(det->nmodules + 1, sizeof *bucket);
    if (!order || !bucket) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    for (size_t i = 0; i < H; i++)
        bucket[d.hits[i].module + 1]++;
    for (size_t m = 0; m < det->nmodules; m++)
        bucket[m + 1] += bucket[m];
    for (size_t i = 0; i < H; i++)
        order[bucket[d.hits[i].module]++] = (uint32_t)i;

    float *pos, *weight, *tpos, *tmom, *cval;
    uint32_t *hmod, *chit;
    int32_t *vlm, *hpart, *cch, *pnh;
    void *ptr;
#define ADD(name, dt, n, w, var)                                                     \
    do {                                                                             \
        st = trk_event_add_column(ev, name, dt, n, w, &ptr);                         \
        if (st != TRK_OK) {                                                          \
            TRK_LOGE("cannot add column '%s' (%zu rows)", name, (size_t)(n));        \
            goto fail;                                                               \
        }                                                                            \
        var = ptr;                                                                   \
    } while (0)
    ADD("hit_pos", TRK_DTYPE_FP32, H, 3, pos);
    ADD("hit_module", TRK_DTYPE_UINT32, H, 0, hmod);
    ADD("hit_vlm", TRK_DTYPE_INT32, H, 3, vlm);
    ADD("hit_particle", TRK_DTYPE_INT32, H, 0, hpart);
    ADD("hit_weight", TRK_DTYPE_FP32, H, 0, weight);
    ADD("hit_truth_pos", TRK_DTYPE_FP32, H, 3, tpos);
    ADD("hit_truth_mom", TRK_DTYPE_FP32, H, 3, tmom);
    ADD("cell_hit", TRK_DTYPE_UINT32, C, 0, chit);
    ADD("cell_ch", TRK_DTYPE_INT32, C, 2, cch);
    ADD("cell_value", TRK_DTYPE_FP32, C, 0, cval);
    ADD("particle_nhits", TRK_DTYPE_INT32, truth->nparticles, 0, pnh);
#undef ADD
    size_t c = 0;
    for (size_t i = 0; i < H; i++) {
        const struct hit_tmp *h = &d.hits[order[i]];
        const struct trk_module *m = &det->modules[h->module];
        memcpy(pos + 3 * i, h->pos, sizeof h->pos);
        memcpy(tpos + 3 * i, h->tpos, sizeof h->tpos);
        memcpy(tmom + 3 * i, h->tmom, sizeof h->tmom);
        hmod[i] = h->module;
        vlm[3 * i] = m->volume_id;
        vlm[3 * i + 1] = m->layer_id;
        vlm[3 * i + 2] = m->module_id;
        hpart[i] = h->particle;
        for (uint32_t k = 0; k < h->nc; k++, c++) {
            chit[c] = (uint32_t)i;
            cch[2 * c] = d.ch[2 * (h->c0 + k)];
            cch[2 * c + 1] = d.ch[2 * (h->c0 + k) + 1];
            cval[c] = d.val[h->c0 + k];
        }
    }
    if (truth->nparticles)
        memcpy(pnh, nh, truth->nparticles * sizeof *pnh);
    st = trk_trackml_weights(H, hpart, tpos, truth->nparticles, truth->v, truth->p, pnh,
                             weight);
fail:
    free(params);
    free(order);
    free(bucket);
    free(nh);
    free(d.hits);
    free(d.ch);
    free(d.val);
    return st;
}
