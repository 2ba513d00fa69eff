/* trkserve — particle generation and propagation.
 *
 * Physics model (deliberately simple, documented numbers):
 *  - Minimum-bias pp at 13–14 TeV: charged multiplicity negative-binomial with
 *    dN/dη = 5.8 per unit of pseudorapidity (CMS, PLB 751 (2015) 143: 5.49 at η=0
 *    for inelastic events, rising slowly with |η|) and k = 1.5; η flat within
 *    |η| < eta_max; pT from a Tsallis form pT·(1 + pT/(nT))^-n with n = 6.6,
 *    T = 0.13 GeV (mean pT ≈ 0.48 GeV, ALICE/CMS 13 TeV); species 80% π, 12% K,
 *    8% p, charge ±1 with equal probability.
 *  - ttbar-like hard scatter: an underlying event three times a minimum-bias
 *    event with a harder spectrum (T = 0.2 GeV), 4–7 jets with pT 30–200 GeV
 *    (log-uniform) in |η| < 2.5 whose charged particles share 60% of the jet pT,
 *    spread by σ(η, φ) = 0.08 around the axis, and two leptons (muons) of 20–80 GeV.
 *  - Vertices: Gaussian beam spot (σz, σxy); Poisson(μ) pile-up vertices.
 *  - Propagation: exact helix steps in the uniform field; at each sensor crossing
 *    Highland multiple scattering (PDG eq. 34.15) and mean Bethe–Bloch loss in
 *    silicon-equivalent material of the module's X0 share; the beam pipe scatters.
 *    A particle stops outside the tracking volume, below 10 MeV kinetic energy, after
 *    MAX_CROSSINGS crossings (long-lived loopers) or MAX_PATH mm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "events_internal.h"
#include "trk/gen.h"
#include "trk/log.h"

#define KAPPA 0.299792458e-3 /* GeV / (T mm) */
#define MAX_CROSSINGS 150
#define MAX_PATH 8000.0     /* mm */
#ifndef MAX_STEP
#define MAX_STEP 25.0 /* mm; also at most 0.05 rad of turning */
#endif
#define X0_SI 93.7          /* mm */
#define DEDX_MIN_SI 0.3876e-3 /* GeV/mm, minimum ionising in silicon */
/* Radiation over nuclear interaction length of silicon (9.37 / 46.5 cm), lowered a
 * little for pions, whose interaction length is longer than the nucleon one. */
#define X0_OVER_LAMBDA 0.17

void trk_gen_config_default(struct trk_gen_config *cfg, enum trk_detector_kind kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->hard_scatter = 1;
    cfg->beam_sigma_xy = 0.015;
    cfg->pt_min = 0.03;
    if (kind == TRK_DETECTOR_CMS) {
        cfg->pileup = 50;
        cfg->beam_sigma_z = 40.0; /* beamspot.bin: sigma z 4.0 cm */
        cfg->eta_max = 3.2;
    } else {
        cfg->pileup = 200;
        cfg->beam_sigma_z = 55.0;
        cfg->eta_max = 4.0;
        cfg->pt_min = 0.15;
        cfg->max_turn = M_PI;
    }
}

double trk_pdg_mass(int pdg)
{
    switch (abs(pdg)) {
    case 211: return 0.13957039;
    case 321: return 0.493677;
    case 2212: return 0.93827209;
    case 11: return 0.00051099895;
    case 13: return 0.1056583755;
    default: return 0.13957039;
    }
}

/* ---- truth storage ------------------------------------------------------------------ */

void trk_truth_init(struct trk_truth *t)
{
    memset(t, 0, sizeof *t);
}

void trk_truth_fini(struct trk_truth *t)
{
    if (!t)
        return;
    free(t->pid);
    free(t->pdg);
    free(t->q);
    free(t->vertex);
    free(t->v);
    free(t->p);
    free(t->vpos);
    free(t->vntracks);
    free(t->simhits);
    memset(t, 0, sizeof *t);
}

void trk_truth_clear(struct trk_truth *t)
{
    t->nparticles = t->nvertices = t->nsimhits = 0;
}

/* Grows each of n arrays (pointer, element size) to hold `need` rows; all share one
 * capacity, updated only when every realloc succeeded (the old blocks stay valid). */
static int grow_columns(size_t *cap, size_t need, void **ptrs[], const size_t *elem, int n)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 64;
    for (int i = 0; i < n; i++) {
        void *q = realloc(*ptrs[i], c * elem[i]);
        if (!q)
            return -1;
        *ptrs[i] = q;
    }
    *cap = c;
    return 0;
}

static enum trk_status add_particle(struct trk_truth *t, uint64_t pid, int pdg, int q, int vtx,
                                    const double v[3], const double p[3])
{
    void **ptrs[] = {(void **)&t->pid, (void **)&t->pdg, (void **)&t->q,
                     (void **)&t->vertex, (void **)&t->v, (void **)&t->p};
    const size_t elem[] = {sizeof *t->pid, sizeof *t->pdg, sizeof *t->q, sizeof *t->vertex,
                           3 * sizeof *t->v, 3 * sizeof *t->p};
    if (grow_columns(&t->cap_particles, t->nparticles + 1, ptrs, elem, 6))
        return TRK_ERR_NO_MEMORY;
    size_t i = t->nparticles++;
    t->pid[i] = pid;
    t->pdg[i] = pdg;
    t->q[i] = q;
    t->vertex[i] = vtx;
    for (int k = 0; k < 3; k++) {
        t->v[3 * i + k] = (float)v[k];
        t->p[3 * i + k] = (float)p[k];
    }
    return TRK_OK;
}

static enum trk_status add_vertex(struct trk_truth *t, const double pos[3])
{
    void **ptrs[] = {(void **)&t->vpos, (void **)&t->vntracks};
    const size_t elem[] = {3 * sizeof *t->vpos, sizeof *t->vntracks};
    if (grow_columns(&t->cap_vertices, t->nvertices + 1, ptrs, elem, 2))
        return TRK_ERR_NO_MEMORY;
    size_t i = t->nvertices++;
    for (int k = 0; k < 3; k++)
        t->vpos[3 * i + k] = (float)pos[k];
    t->vntracks[i] = 0;
    return TRK_OK;
}

/* ---- propagation --------------------------------------------------------------------- */

struct state {
    double x[3], t[3]; /* position, unit direction */
    double p;          /* momentum magnitude, GeV */
};

/* Position and direction after path s on the helix with signed turning rate a
 * (rad/mm, counter-clockwise positive seen from +z). */
static void helix_at(const struct state *s0, double a, double s, double x[3], double t[3])
{
    double tx = s0->t[0], ty = s0->t[1];
    double as = a * s;
    if (fabs(as) < 1e-9) {
        for (int k = 0; k < 3; k++) {
            x[k] = s0->x[k] + s0->t[k] * s;
            t[k] = s0->t[k];
        }
        return;
    }
    double sn = sin(as), cs = cos(as);
    x[0] = s0->x[0] + (tx * sn - ty * (1 - cs)) / a;
    x[1] = s0->x[1] + (ty * sn + tx * (1 - cs)) / a;
    x[2] = s0->x[2] + s0->t[2] * s;
    t[0] = tx * cs - ty * sn;
    t[1] = tx * sn + ty * cs;
    t[2] = s0->t[2];
}

static double plane_dist(const struct trk_module *m, const double x[3])
{
    return m->rot[6] * (x[0] - m->c[0]) + m->rot[7] * (x[1] - m->c[1]) +
           m->rot[8] * (x[2] - m->c[2]);
}

/* Path length in (0, h] where the helix crosses module m's mid-plane, given the
 * signed distances at both ends have opposite signs (Illinois regula falsi). */
static double solve_crossing(const struct state *s0, double a, const struct trk_module *m,
                             double h, double f0, double f1)
{
    double lo = 0, hi = h, flo = f0, fhi = f1, s = h;
    int side = 0;
    for (int it = 0; it < 60; it++) {
        s = (lo * fhi - hi * flo) / (fhi - flo);
        double x[3], t[3];
        helix_at(s0, a, s, x, t);
        double f = plane_dist(m, x);
        if (fabs(f) < 1e-7 || hi - lo < 1e-9)
            break;
        if ((f < 0) == (flo < 0)) {
            lo = s;
            flo = f;
            if (side == -1)
                fhi /= 2;
            side = -1;
        } else {
            hi = s;
            fhi = f;
            if (side == 1)
                flo /= 2;
            side = 1;
        }
    }
    return s;
}

/* Multiple scattering and energy loss for material of x0 radiation lengths along
 * the path; returns false when the particle ranges out. */
static bool material(struct state *st, double mass, double x0, struct trk_rng *rng)
{
    if (x0 <= 0)
        return true;
    double e = sqrt(st->p * st->p + mass * mass);
    double beta = st->p / e, bg = st->p / mass;
    double theta0 = 0.0136 / (beta * st->p) * sqrt(x0) * (1 + 0.038 * log(x0 / (beta * beta)));
    if (theta0 > 0) {
        /* Two orthogonal directions perpendicular to t. */
        double *t = st->t, e1[3], e2[3];
        if (fabs(t[2]) < 0.9) {
            double n = hypot(t[0], t[1]);
            e1[0] = -t[1] / n;
            e1[1] = t[0] / n;
            e1[2] = 0;
        } else {
            double n = hypot(t[1], t[2]);
            e1[0] = 0;
            e1[1] = -t[2] / n;
            e1[2] = t[1] / n;
        }
        e2[0] = t[1] * e1[2] - t[2] * e1[1];
        e2[1] = t[2] * e1[0] - t[0] * e1[2];
        e2[2] = t[0] * e1[1] - t[1] * e1[0];
        double ax = tan(theta0 * trk_rng_gauss(rng)), ay = tan(theta0 * trk_rng_gauss(rng));
        double nn = 0;
        for (int k = 0; k < 3; k++) {
            t[k] += ax * e1[k] + ay * e2[k];
            nn += t[k] * t[k];
        }
        nn = sqrt(nn);
        for (int k = 0; k < 3; k++)
            t[k] /= nn;
    }
    /* Mean Bethe–Bloch loss in silicon, normalised to its minimum (βγ ≈ 3.5). */
    double b2 = beta * beta;
    double lnarg = 2 * 0.51099895e6 * bg * bg / 173.0;
    double bb = (log(lnarg) - b2) / b2 / 11.1;
    if (bb < 1)
        bb = 1;
    double de = DEDX_MIN_SI * bb * x0 * X0_SI;
    e -= de;
    if (e - mass < 0.010)
        return false;
    st->p = sqrt(e * e - mass * mass);
    return true;
}

/* Secondaries made in material (conversions, nuclear interactions), propagated
 * after their parent without further interactions. */
struct pending {
    double x[3], p[3];
    int pdg;
};
struct secondaries {
    struct pending *list;
    size_t n, cap;
    bool failed; /* out of memory */
};

static void queue_secondary(struct secondaries *sec, const double x[3], const double dir[3],
                            double p, int pdg)
{
    if (sec->n == sec->cap) {
        size_t cap = sec->cap ? 2 * sec->cap : 64;
        struct pending *n = realloc(sec->list, cap * sizeof *n);
        if (!n) {
            sec->failed = true;
            return;
        }
        sec->list = n;
        sec->cap = cap;
    }
    struct pending *e = &sec->list[sec->n++];
    for (int k = 0; k < 3; k++) {
        e->x[k] = x[k];
        e->p[k] = p * dir[k];
    }
    e->pdg = pdg;
}

static bool sec_failed(const struct secondaries *sec)
{
    return sec && sec->failed;
}

static double sample_tsallis(struct trk_rng *rng, double T, double n, double ptmin);

static enum trk_status push_simhit(struct trk_truth *t, uint32_t ip, uint32_t mi,
                                   const struct trk_module *m, const struct state *st)
{
    void **ptrs[] = {(void **)&t->simhits};
    const size_t elem[] = {sizeof *t->simhits};
    if (grow_columns(&t->cap_simhits, t->nsimhits + 1, ptrs, elem, 1))
        return TRK_ERR_NO_MEMORY;
    struct trk_simhit *h = &t->simhits[t->nsimhits++];
    double l[3];
    trk_module_to_local(m, st->x, l);
    h->particle = ip;
    h->module = mi;
    for (int k = 0; k < 3; k++) {
        h->pos[k] = (float)st->x[k];
        h->mom[k] = (float)(st->p * st->t[k]);
        h->dir[k] = (float)(m->rot[3 * k] * st->t[0] + m->rot[3 * k + 1] * st->t[1] +
                            m->rot[3 * k + 2] * st->t[2]);
    }
    h->local[0] = (float)l[0];
    h->local[1] = (float)l[1];
    return TRK_OK;
}

/* Where material was crossed: photons may convert, primary hadrons may interact.
 * Returns true when the particle is gone (its products are queued in sec). */
static bool interact(struct secondaries *sec, const struct state *st, int q, int pdg,
                     double x0, struct trk_rng *rng)
{
    if (!sec || x0 <= 0)
        return false;
    if (q == 0) {
        if (trk_rng_uniform(rng) >= 1 - exp(-7.0 / 9.0 * x0))
            return false;
        double x = trk_rng_uniform(rng);
        queue_secondary(sec, st->x, st->t, x * st->p, 11);
        queue_secondary(sec, st->x, st->t, (1 - x) * st->p, -11);
        return true;
    }
    int a = abs(pdg);
    if (a == 11 || a == 13 || trk_rng_uniform(rng) >= 1 - exp(-x0 * X0_OVER_LAMBDA))
        return false;
    /* A nuclear interaction: a few soft charged pions, roughly isotropic. */
    uint32_t n = 1 + trk_rng_poisson(rng, 2.0);
    for (uint32_t i = 0; i < n; i++) {
        double pp = fmin(sample_tsallis(rng, 0.1, 6.6, 0.02), st->p);
        double ct = 2 * trk_rng_uniform(rng) - 1, ph = 2 * M_PI * trk_rng_uniform(rng);
        double dir[3] = {sqrt(1 - ct * ct) * cos(ph), sqrt(1 - ct * ct) * sin(ph), ct};
        queue_secondary(sec, st->x, dir, pp, trk_rng_uniform(rng) < 0.5 ? 211 : -211);
    }
    return true;
}

/* Lower bound on the transverse radius along the helix arc from st to x1 (path h,
 * turning rate a): the chord's closest approach to the axis minus the sagitta
 * a·h²/8, the most the arc strays from its chord. */
static double arc_rmin(const struct state *st, const double x1[3], double a, double h)
{
    double dx = x1[0] - st->x[0], dy = x1[1] - st->x[1], dd = dx * dx + dy * dy;
    double rlo = fmin(hypot(st->x[0], st->x[1]), hypot(x1[0], x1[1]));
    if (dd > 0) {
        double f = -(st->x[0] * dx + st->x[1] * dy) / dd;
        if (f > 0 && f < 1)
            rlo = hypot(st->x[0] + f * dx, st->x[1] + f * dy);
    }
    return rlo - fabs(a) * h * h / 8;
}

/* Beyond the instrumented layers (but inside the outer volume) nothing is measured:
 * take one long step (up to 0.5 rad of turning) when the whole arc stays outside,
 * with the passive material it crosses. Returns true when it stepped. st->p = 0
 * marks a particle that stopped or left. */
static bool outside_layers(const struct trk_detector *det, struct state *st, double a,
                           struct trk_rng *rng, double mass, double *path)
{
    double r0 = hypot(st->x[0], st->x[1]);
    if (r0 <= det->rmax && fabs(st->x[2]) <= det->zmax)
        return false;
    double h = 200.0;
    if (fabs(a) * h > 0.5)
        h = 0.5 / fabs(a);
    double x1[3], t1[3];
    helix_at(st, a, h, x1, t1);
    double r1 = hypot(x1[0], x1[1]), rlo = arc_rmin(st, x1, a, h);
    double zlo = fmin(st->x[2], x1[2]), zhi = fmax(st->x[2], x1[2]);
    if (!(rlo > det->rmax || zlo > det->zmax || zhi < -det->zmax))
        return false;
    memcpy(st->x, x1, sizeof x1);
    memcpy(st->t, t1, sizeof t1);
    *path += h;
    if (r1 > det->outer_rmax || fabs(x1[2]) > det->outer_zmax ||
        trk_rng_uniform(rng) < h * det->outer_lambda_per_mm ||
        !material(st, mass, h * det->outer_x0_per_mm, rng))
        st->p = 0;
    return true;
}

static enum trk_status propagate(const struct trk_detector *det, const double v[3],
                                 const double p[3], int q, int pdg, uint32_t ip,
                                 struct trk_rng *rng, struct trk_truth *t,
                                 struct secondaries *sec, double max_turn)
{
    double turn = 0;
    double mass = q ? trk_pdg_mass(pdg) : 0;
    uint32_t cand[1024];
    struct state st;
    st.p = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
    if (!(st.p > 0))
        return TRK_OK;
    for (int k = 0; k < 3; k++) {
        st.x[k] = v[k];
        st.t[k] = p[k] / st.p;
    }
    double path = 0;
    int crossings = 0;
    uint32_t last = UINT32_MAX;
    while (path < MAX_PATH && crossings < MAX_CROSSINGS && !sec_failed(sec) &&
           (max_turn <= 0 || turn < max_turn)) {
        double a = -q * KAPPA * det->bfield / st.p;
        turn = fabs(a) * path; /* a changes slowly; good enough for a cut */
        if (q && outside_layers(det, &st, a, rng, mass, &path)) {
            if (st.p == 0)
                break;
            continue;
        }
        double h = MAX_STEP;
        if (fabs(a) * h > 0.05)
            h = 0.05 / fabs(a);
        double x1[3], t1[3];
        helix_at(&st, a, h, x1, t1);
        double r0 = hypot(st.x[0], st.x[1]), r1 = hypot(x1[0], x1[1]);
        double sag = fabs(a) * h * h / 8 + 1e-6;
        double rlo = arc_rmin(&st, x1, a, h) - 1e-6;
        double rhi = fmax(r0, r1) + sag;
        double zlo = fmin(st.x[2], x1[2]), zhi = fmax(st.x[2], x1[2]);
        double phi0 = atan2(st.x[1], st.x[0]);
        double dphi = trk_wrap_pi(atan2(x1[1], x1[0]) - phi0);
        /* Near the axis a short chord can sweep a wide angle. */
        double pmarg = rlo > 1 ? sag / rlo + 1e-4 : M_PI;
        if (rlo <= 1)
            rlo = 0;
        double plo = phi0 + fmin(0, dphi) - pmarg, phi_hi = phi0 + fmax(0, dphi) + pmarg;
        size_t nc = 0;
        for (size_t l = 0; l < det->nlayers; l++) {
            const struct trk_layer *L = &det->layers[l];
            if (rhi < L->rmin || rlo > L->rmax || zhi < L->zmin || zlo > L->zmax)
                continue;
            if (L->barrel)
                nc = trk_layer_candidates(L, plo, phi_hi, zlo, zhi, cand, nc, 1024);
            else
                nc = trk_layer_candidates(L, plo, phi_hi, rlo, rhi, cand, nc, 1024);
        }
        double sbest = INFINITY;
        uint32_t mbest = UINT32_MAX;
        for (size_t c = 0; c < nc; c++) {
            uint32_t mi = cand[c];
            if (mi == last)
                continue;
            const struct trk_module *m = &det->modules[mi];
            double f0 = plane_dist(m, st.x), f1 = plane_dist(m, x1);
            if ((f0 < 0) == (f1 < 0) || f0 == f1)
                continue;
            double s = solve_crossing(&st, a, m, h, f0, f1);
            if (s >= sbest || s <= 0)
                continue;
            double xs[3], ts[3], l[3];
            helix_at(&st, a, s, xs, ts);
            trk_module_to_local(m, xs, l);
            if (!trk_module_inside(m, l[0], l[1], 0))
                continue;
            sbest = s;
            mbest = mi;
        }
        if (mbest != UINT32_MAX) {
            double xs[3], ts[3];
            helix_at(&st, a, sbest, xs, ts);
            memcpy(st.x, xs, sizeof xs);
            memcpy(st.t, ts, sizeof ts);
            path += sbest;
            const struct trk_module *m = &det->modules[mbest];
            if (q) {
                enum trk_status s = push_simhit(t, ip, mbest, m, &st);
                if (s != TRK_OK)
                    return s;
            }
            crossings++;
            last = mbest;
            double cosi = fabs(m->rot[6] * st.t[0] + m->rot[7] * st.t[1] + m->rot[8] * st.t[2]);
            if (cosi < 0.05)
                cosi = 0.05;
            if (interact(sec, &st, q, pdg, m->x0 / cosi, rng))
                break;
            if (q && !material(&st, mass, m->x0 / cosi, rng))
                break;
            continue;
        }
        /* Beam pipe and passive surfaces: material where the step crosses them. */
        double x0 = 0;
        if (det->beampipe_r > 0 && (r0 - det->beampipe_r) * (r1 - det->beampipe_r) < 0)
            x0 += det->beampipe_x0 /
                  fmax(0.05, fabs(x1[0] * t1[0] + x1[1] * t1[1]) / fmax(r1, 1e-9));
        for (int i = 0; i < det->npassive; i++) {
            const struct trk_passive *ps = &det->passive[i];
            if (ps->disk ? ((st.x[2] - ps->pos) * (x1[2] - ps->pos) < 0 && r1 >= ps->lo &&
                            r1 <= ps->hi)
                         : ((r0 - ps->pos) * (r1 - ps->pos) < 0 && x1[2] >= ps->lo &&
                            x1[2] <= ps->hi))
                x0 += ps->x0 / fmax(0.05, ps->disk ? fabs(t1[2])
                                                  : fabs(x1[0] * t1[0] + x1[1] * t1[1]) /
                                                        fmax(r1, 1e-9));
        }
        memcpy(st.x, x1, sizeof x1);
        memcpy(st.t, t1, sizeof t1);
        if (x0 > 0) {
            if (interact(sec, &st, q, pdg, x0, rng))
                break;
            if (q && !material(&st, mass, x0, rng))
                break;
        }
        path += h;
        last = UINT32_MAX;
        if (r1 > det->rmax || fabs(x1[2]) > det->zmax) {
            /* Beyond the layers: passive material, if any, then the end of the volume. */
            if (q == 0 || r1 > det->outer_rmax || fabs(x1[2]) > det->outer_zmax)
                break;
            if (trk_rng_uniform(rng) < h * det->outer_lambda_per_mm)
                break; /* nuclear interaction: the particle is gone */
            if (!material(&st, mass, h * det->outer_x0_per_mm, rng))
                break;
        }
    }
    return TRK_OK;
}

enum trk_status trk_propagate(const struct trk_detector *det, const double v[3],
                              const double p[3], int q, double mass, uint32_t ip,
                              struct trk_rng *rng, struct trk_truth *t)
{
    if (!det || !t)
        return TRK_ERR_INVALID_ARG;
    if (q == 0)
        return TRK_OK;
    /* The species only matters for interactions, which this entry point leaves out;
     * pick the code whose mass is closest for the energy loss. */
    int pdg = mass < 0.05 ? 11 : mass < 0.12 ? 13 : mass < 0.3 ? 211 : mass < 0.7 ? 321 : 2212;
    return propagate(det, v, p, q, pdg, ip, rng, t, NULL, 0);
}

/* ---- particle generation -------------------------------------------------------------- */

/* Tsallis pT·(1 + pT/b)^-n: inverse of its CDF by bisection on x = pT/b. */
static double tsallis_cdf(double x, double n)
{
    double u = 1 + x;
    /* ∫1^u (w−1) w^-n dw, normalised by its value at infinity 1/((n−1)(n−2)). */
    double F = (pow(u, 2 - n) - 1) / (2 - n) - (pow(u, 1 - n) - 1) / (1 - n);
    return F * (n - 1) * (n - 2);
}

static double sample_tsallis(struct trk_rng *rng, double T, double n, double ptmin)
{
    double b = n * T;
    double lo = ptmin / b, hi = 400.0 / b;
    double c0 = tsallis_cdf(lo, n), c1 = tsallis_cdf(hi, n);
    double target = c0 + (c1 - c0) * trk_rng_uniform(rng);
    for (int it = 0; it < 50; it++) {
        double mid = 0.5 * (lo + hi);
        if (tsallis_cdf(mid, n) < target)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi) * b;
}

/* Gamma(k, 1) by Marsaglia–Tsang (k >= 1). */
static double sample_gamma(struct trk_rng *rng, double k)
{
    double d = k - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = trk_rng_gauss(rng), v = 1 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = trk_rng_uniform_pos(rng);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

static uint32_t sample_nbd(struct trk_rng *rng, double mean, double k)
{
    return trk_rng_poisson(rng, sample_gamma(rng, k) * mean / k);
}

static int sample_species(struct trk_rng *rng)
{
    double u = trk_rng_uniform(rng);
    int pdg = u < 0.80 ? 211 : u < 0.92 ? 321 : 2212;
    return trk_rng_uniform(rng) < 0.5 ? pdg : -pdg;
}

static int charge_of(int pdg)
{
    int a = abs(pdg), s = pdg > 0 ? 1 : -1;
    if (a == 11 || a == 13)
        return -s; /* e-, mu- have positive codes */
    return s;
}

struct gen_ctx {
    const struct trk_gen_config *cfg;
    const struct trk_detector *det;
    struct trk_truth *t;
    struct trk_rng *rng;
    int vtx;
    uint32_t nvtx_particles;
    struct secondaries sec;
};

/* Propagates the queued secondaries (charged ones become truth particles). */
static enum trk_status flush_secondaries(struct gen_ctx *g)
{
    enum trk_status st = g->sec.failed ? TRK_ERR_NO_MEMORY : TRK_OK;
    for (size_t i = 0; i < g->sec.n && st == TRK_OK; i++) {
        const struct pending *e = &g->sec.list[i];
        int q = charge_of(e->pdg);
        uint64_t pid = ((uint64_t)(g->vtx + 1) << 32) | (uint64_t)(++g->nvtx_particles);
        uint32_t ip = (uint32_t)g->t->nparticles;
        st = add_particle(g->t, pid, e->pdg, q, g->vtx, e->x, e->p);
        if (st == TRK_OK)
            st = propagate(g->det, e->x, e->p, q, e->pdg, ip, g->rng, g->t, NULL,
                           g->cfg->max_turn);
    }
    g->sec.n = 0;
    g->sec.failed = false;
    return st;
}

static enum trk_status emit(struct gen_ctx *g, int pdg, double pt, double eta, double phi)
{
    if (pt < g->cfg->pt_min || fabs(eta) > g->cfg->eta_max)
        return TRK_OK;
    double p[3] = {pt * cos(phi), pt * sin(phi), pt * sinh(eta)};
    double v[3];
    for (int k = 0; k < 3; k++)
        v[k] = g->t->vpos[3 * g->vtx + k];
    uint64_t pid = ((uint64_t)(g->vtx + 1) << 32) | (uint64_t)(++g->nvtx_particles);
    int q = charge_of(pdg);
    uint32_t ip = (uint32_t)g->t->nparticles;
    enum trk_status st = add_particle(g->t, pid, pdg, q, g->vtx, v, p);
    if (st != TRK_OK)
        return st;
    g->t->vntracks[g->vtx]++;
    st = propagate(g->det, v, p, q, pdg, ip, g->rng, g->t,
                   g->det->secondaries ? &g->sec : NULL, g->cfg->max_turn);
    return st == TRK_OK ? flush_secondaries(g) : st;
}

/* A pi0 decays at once into two photons (isotropic in its rest frame); the photons
 * fly straight and may convert in material. */
static enum trk_status emit_pi0(struct gen_ctx *g, double pt, double eta, double phi)
{
    const double m = 0.1349768;
    double P[3] = {pt * cos(phi), pt * sin(phi), pt * sinh(eta)};
    double pm = sqrt(P[0] * P[0] + P[1] * P[1] + P[2] * P[2]), E = sqrt(pm * pm + m * m);
    double n[3] = {P[0] / pm, P[1] / pm, P[2] / pm}, beta = pm / E, gam = E / m;
    double ct = 2 * trk_rng_uniform(g->rng) - 1, ph = 2 * M_PI * trk_rng_uniform(g->rng);
    double u[3] = {sqrt(1 - ct * ct) * cos(ph), sqrt(1 - ct * ct) * sin(ph), ct};
    double v[3];
    for (int k = 0; k < 3; k++)
        v[k] = g->t->vpos[3 * g->vtx + k];
    enum trk_status st = TRK_OK;
    for (int sgn = -1; sgn <= 1 && st == TRK_OK; sgn += 2) {
        double k0[3], un = 0;
        for (int k = 0; k < 3; k++) {
            k0[k] = sgn * 0.5 * m * u[k];
            un += k0[k] * n[k];
        }
        double par = gam * (un + beta * 0.5 * m);
        double g3[3];
        for (int k = 0; k < 3; k++)
            g3[k] = k0[k] + (par - un) * n[k];
        st = propagate(g->det, v, g3, 0, 22, 0, g->rng, g->t, &g->sec, 0);
    }
    return st == TRK_OK ? flush_secondaries(g) : st;
}

static enum trk_status soft_particles(struct gen_ctx *g, double scale, double T)
{
    double mean = 5.8 * 2 * g->cfg->eta_max * scale;
    uint32_t n = sample_nbd(g->rng, mean, 1.5);
    for (uint32_t i = 0; i < n; i++) {
        int pdg = sample_species(g->rng);
        double pt = sample_tsallis(g->rng, T, 6.6, 0.0);
        double eta = g->cfg->eta_max * (2 * trk_rng_uniform(g->rng) - 1);
        double phi = 2 * M_PI * trk_rng_uniform(g->rng) - M_PI;
        enum trk_status st = emit(g, pdg, pt, eta, phi);
        if (st != TRK_OK)
            return st;
    }
    /* Neutral pions, about half as many as charged particles: their photons only
     * matter where they can convert. */
    uint32_t n0 = g->det->secondaries ? trk_rng_poisson(g->rng, 0.5 * n) : 0;
    for (uint32_t i = 0; i < n0; i++) {
        double pt = sample_tsallis(g->rng, T, 6.6, 0.0);
        double eta = g->cfg->eta_max * (2 * trk_rng_uniform(g->rng) - 1);
        double phi = 2 * M_PI * trk_rng_uniform(g->rng) - M_PI;
        enum trk_status st = emit_pi0(g, pt, eta, phi);
        if (st != TRK_OK)
            return st;
    }
    return TRK_OK;
}

static enum trk_status hard_scatter(struct gen_ctx *g)
{
    enum trk_status st = soft_particles(g, 3.0, 0.2);
    if (st != TRK_OK)
        return st;
    int njets = 4 + (int)(trk_rng_uniform(g->rng) * 4);
    for (int j = 0; j < njets && st == TRK_OK; j++) {
        double ptj = 30 * exp(log(200.0 / 30) * trk_rng_uniform(g->rng));
        double etaj = 2.5 * (2 * trk_rng_uniform(g->rng) - 1);
        double phij = 2 * M_PI * trk_rng_uniform(g->rng) - M_PI;
        int n = 6 + (int)trk_rng_poisson(g->rng, 4 + ptj / 8);
        double w[64], sum = 0;
        if (n > 64)
            n = 64;
        for (int i = 0; i < n; i++)
            sum += (w[i] = trk_rng_exp(g->rng, 1.0) * trk_rng_exp(g->rng, 1.0));
        for (int i = 0; i < n && st == TRK_OK; i++)
            st = emit(g, sample_species(g->rng), 0.6 * ptj * w[i] / sum,
                      etaj + 0.08 * trk_rng_gauss(g->rng),
                      phij + 0.08 * trk_rng_gauss(g->rng));
    }
    for (int l = 0; l < 2 && st == TRK_OK; l++) {
        double pt = 20 + 60 * trk_rng_uniform(g->rng);
        st = emit(g, trk_rng_uniform(g->rng) < 0.5 ? 13 : -13, pt,
                  2.4 * (2 * trk_rng_uniform(g->rng) - 1),
                  2 * M_PI * trk_rng_uniform(g->rng) - M_PI);
    }
    return st;
}

enum trk_status trk_gen_truth(const struct trk_gen_config *cfg, const struct trk_detector *det,
                              uint64_t number, struct trk_truth *t)
{
    if (!cfg || !det || !t)
        return TRK_ERR_INVALID_ARG;
    trk_truth_clear(t);
    struct trk_rng rng;
    trk_rng_seed(&rng, cfg->seed, number);
    uint32_t npu = trk_rng_poisson(&rng, cfg->pileup);
    uint32_t nv = npu + (cfg->hard_scatter ? 1 : 0);
    struct gen_ctx g = {.cfg = cfg, .det = det, .t = t, .rng = &rng};
    enum trk_status st = TRK_OK;
    for (uint32_t iv = 0; iv < nv && st == TRK_OK; iv++) {
        double pos[3] = {cfg->beam_pos[0] + cfg->beam_sigma_xy * trk_rng_gauss(&rng),
                         cfg->beam_pos[1] + cfg->beam_sigma_xy * trk_rng_gauss(&rng),
                         cfg->beam_pos[2] + cfg->beam_sigma_z * trk_rng_gauss(&rng)};
        st = add_vertex(t, pos);
        if (st != TRK_OK)
            break;
        g.vtx = (int)iv;
        g.nvtx_particles = 0;
        st = (cfg->hard_scatter && iv == 0) ? hard_scatter(&g) : soft_particles(&g, 1.0, 0.13);
    }
    free(g.sec.list);
    return st;
}

enum trk_status trk_truth_to_event(const struct trk_truth *t, struct trk_event *ev)
{
    size_t P = t->nparticles, V = t->nvertices, S = t->nsimhits;
    void *d;
    enum trk_status st;
#define COL(name, dt, n, w, src, bytes)                                                   \
    do {                                                                                  \
        st = trk_event_add_column(ev, name, dt, n, w, &d);                                \
        if (st != TRK_OK)                                                                 \
            return st;                                                                    \
        if ((bytes) > 0)                                                                  \
            memcpy(d, src, bytes);                                                        \
    } while (0)
    COL("particle_id", TRK_DTYPE_UINT64, P, 0, t->pid, P * 8);
    COL("particle_pdg", TRK_DTYPE_INT32, P, 0, t->pdg, P * 4);
    COL("particle_q", TRK_DTYPE_INT32, P, 0, t->q, P * 4);
    COL("particle_vertex", TRK_DTYPE_INT32, P, 0, t->vertex, P * 4);
    COL("particle_v", TRK_DTYPE_FP32, P, 3, t->v, P * 12);
    COL("particle_p", TRK_DTYPE_FP32, P, 3, t->p, P * 12);
    COL("vertex_pos", TRK_DTYPE_FP32, V, 3, t->vpos, V * 12);
    COL("vertex_ntracks", TRK_DTYPE_INT32, V, 0, t->vntracks, V * 4);
#undef COL
    uint32_t *sm;
    int32_t *sp;
    float *spos, *smom;
    if ((st = trk_event_add_column(ev, "simhit_module", TRK_DTYPE_UINT32, S, 0, (void **)&sm)) ||
        (st = trk_event_add_column(ev, "simhit_particle", TRK_DTYPE_INT32, S, 0, (void **)&sp)) ||
        (st = trk_event_add_column(ev, "simhit_pos", TRK_DTYPE_FP32, S, 3, (void **)&spos)) ||
        (st = trk_event_add_column(ev, "simhit_mom", TRK_DTYPE_FP32, S, 3, (void **)&smom)))
        return st;
    for (size_t i = 0; i < S; i++) {
        const struct trk_simhit *h = &t->simhits[i];
        sm[i] = h->module;
        sp[i] = (int32_t)h->particle;
        memcpy(spos + 3 * i, h->pos, sizeof h->pos);
        memcpy(smom + 3 * i, h->mom, sizeof h->mom);
    }
    return TRK_OK;
}
