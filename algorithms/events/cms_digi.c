/* trkserve — CMS Phase-1 pixel digitiser: simhits → pixel charges → ADC counts →
 * Patatrack FED raw data (zstd) plus the truth digi columns.
 *
 * Physics (numbers and sources in CMS_RAW.md "Digitiser"):
 *  - ionisation along the straight path through the sensor: total charge from a
 *    Landau (Moyal) law with MPV 76 e/µm at 285 µm (Bichsel, RMP 60 (1988) 663:
 *    Δp/x ≈ 0.27–0.28 keV/µm in 300 µm Si, 3.61 eV per pair) rising 10% per e-fold of
 *    path, ×β_min²/β² below minimum ionisation; split into ≥ 4 segments with
 *    Moyal-fluctuating shares (delta rays);
 *  - drift to the collecting face w = −t/2 with the Lorentz displacement of
 *    trk_cms_lorentz (CMSSW drift model; tanθ_L/T fitted to the CPE table) and
 *    Gaussian diffusion 3.7 µm·sqrt(drift/300 µm) (CMSSW SiPixelDigitizer Sigma0);
 *  - charge of every particle and of random noise hits summed per pixel; Gaussian
 *    noise 110 e; per-pixel threshold 2000 e (L1) / 1200 e (others) smeared by 50 e;
 *    dead column blocks produce nothing;
 *  - ADC = round(((q − offset)/conv)/gain_pix + ped), conv/offset = 47/−60 (L1
 *    50/−670) VCal→e as Patatrack calibrates, gain_pix = column-block gain ×
 *    (1 ± 3%) fixed per pixel; 8 bits, saturating at 255. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "cms_internal.h"
#include "trk/cms.h"
#include "trk/log.h"
#include "trk/score.h"

void trk_cms_digi_config_default(struct trk_cms_digi_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->e_per_um_mpv = 76.0;
    cfg->landau_width = 0.11;
    cfg->noise = 110.0;
    cfg->threshold_l1 = 2000.0;
    cfg->threshold = 1200.0;
    cfg->threshold_smear = 50.0;
    cfg->gain_smear = 0.03;
    cfg->diffusion = 3.7;
    cfg->noise_rate = 2e-7;
    cfg->error_rate = 2e-4;
    cfg->zstd_level = 3;
    cfg->bx = 1234;
}

/* pixel key: module (11 bits) | row (8) | col (9) */
#define KEY(m, r, c) ((uint32_t)(m) << 17 | (uint32_t)(r) << 9 | (uint32_t)(c))
#define KEY_M(k) ((k) >> 17)
#define KEY_R(k) (((k) >> 9) & 0xFF)
#define KEY_C(k) ((k) & 0x1FF)

struct deposit {
    uint32_t key;
    int32_t particle;
    float q;
};

struct dvec {
    struct deposit *d;
    size_t n, cap;
};

static enum trk_status dvec_push(struct dvec *v, uint32_t key, int32_t particle, float q)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 65536;
        struct deposit *d = realloc(v->d, cap * sizeof *d);
        if (!d)
            return TRK_ERR_NO_MEMORY;
        v->d = d;
        v->cap = cap;
    }
    v->d[v->n++] = (struct deposit){key, particle, q};
    return TRK_OK;
}

/* per-simhit pixel accumulator (linear probing over a small list) */
#define LOCAL_MAX 512
struct local_acc {
    uint32_t key[LOCAL_MAX];
    float q[LOCAL_MAX];
    int n;
};

static enum trk_status local_flush(struct local_acc *a, int32_t particle, struct dvec *out)
{
    for (int i = 0; i < a->n; i++)
        if (a->q[i] > 0) {
            enum trk_status st = dvec_push(out, a->key[i], particle, a->q[i]);
            if (st)
                return st;
        }
    a->n = 0;
    return TRK_OK;
}

static enum trk_status local_add(struct local_acc *a, uint32_t key, float q, int32_t particle,
                                 struct dvec *out)
{
    for (int i = a->n - 1; i >= 0; i--)
        if (a->key[i] == key) {
            a->q[i] += q;
            return TRK_OK;
        }
    if (a->n == LOCAL_MAX) {
        enum trk_status st = local_flush(a, particle, out);
        if (st)
            return st;
    }
    a->key[a->n] = key;
    a->q[a->n] = q;
    a->n++;
    return TRK_OK;
}

static inline double phi_cdf(double x)
{
    return 0.5 * erfc(-x * 0.70710678118654752);
}

/* Fractions of a Gaussian (mean x, sigma s, pitch units) over the pixels along one
 * axis; returns the number of pixels (≤ 3) with idx/frac filled. */
static int spread_axis(double x, double s, double extent, int (*index_of)(double),
                       void (*edges)(uint32_t, double *, double *), int *idx, double *frac)
{
    double lo = x - 3 * s, hi = x + 3 * s;
    if (hi < 0 || lo >= extent)
        return 0;
    if (lo < 0)
        lo = 0;
    if (hi >= extent)
        hi = extent - 1e-9;
    int a = index_of(lo), b = index_of(hi);
    if (a < 0 || b < 0)
        return 0;
    if (a == b) {
        idx[0] = a;
        frac[0] = 1.0;
        return 1;
    }
    int n = 0;
    double prev = 0;
    for (int i = a; i <= b && n < 3; i++) {
        double el, eh;
        edges((uint32_t)i, &el, &eh);
        double cdf = (i == b || n == 2) ? 1.0 : phi_cdf((eh - x) / s);
        idx[n] = i;
        frac[n] = cdf - prev;
        prev = cdf;
        n++;
    }
    return n;
}

/* deterministic per-pixel normal variates (gain and threshold dispersion) */
static void pixel_normals(uint32_t key, double *g1, double *g2)
{
    uint64_t x = 0x5DEECE66Dull ^ ((uint64_t)key << 20);
    uint64_t a = trk_splitmix64(&x), b = trk_splitmix64(&x);
    double u = ((a >> 11) + 1) * 0x1.0p-53, v = (b >> 11) * 0x1.0p-53;
    double r = sqrt(-2 * log(u));
    *g1 = r * cos(6.283185307179586 * v);
    *g2 = r * sin(6.283185307179586 * v);
}

static void radix_sort_deposits(struct deposit *d, struct deposit *tmp, size_t n)
{
    /* keys < 2^28: 3 passes of 10 bits (stable) */
    struct deposit *src = d, *dst = tmp;
    for (int pass = 0; pass < 3; pass++) {
        size_t count[1025] = {0};
        int shift = 10 * pass;
        for (size_t i = 0; i < n; i++)
            count[((src[i].key >> shift) & 1023) + 1]++;
        for (int i = 0; i < 1024; i++)
            count[i + 1] += count[i];
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].key >> shift) & 1023]++] = src[i];
        struct deposit *t = src;
        src = dst;
        dst = t;
    }
    if (src != d)
        memcpy(d, src, n * sizeof *d);
}

struct digi {
    uint32_t sort;   /* raw order key */
    uint32_t word;
    uint32_t module;
    uint16_t row, col;
    uint8_t adc;
    int32_t particle;
};

static void radix_sort_digis(struct digi *d, struct digi *tmp, size_t n)
{
    struct digi *src = d, *dst = tmp;
    for (int pass = 0; pass < 4; pass++) {
        size_t count[257] = {0};
        int shift = 8 * pass;
        for (size_t i = 0; i < n; i++)
            count[((src[i].sort >> shift) & 255) + 1]++;
        for (int i = 0; i < 256; i++)
            count[i + 1] += count[i];
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].sort >> shift) & 255]++] = src[i];
        struct digi *t = src;
        src = dst;
        dst = t;
    }
    if (src != d)
        memcpy(d, src, n * sizeof *d);
}

/* Ionisation scale relative to a minimum-ionising particle. */
static double ionisation_scale(double p, double mass)
{
    if (mass <= 0)
        return 1.0;
    double bg = p / mass;
    const double bg_min = 3.5, b2_min = bg_min * bg_min / (1 + bg_min * bg_min);
    if (bg < bg_min) {
        double b2 = bg * bg / (1 + bg * bg);
        double f = b2_min / b2;
        return f > 20 ? 20 : f;
    }
    double f = 1 + 0.025 * log(bg / bg_min); /* relativistic rise of the MPV */
    return f > 1.08 ? 1.08 : f;
}

/* Deposits the charge of one simhit. */
static enum trk_status digitize_hit(const struct trk_detector *det,
                                    const struct trk_cms_conditions *cond,
                                    const struct trk_cms_digi_config *cfg,
                                    const struct trk_truth *truth, const struct trk_simhit *h,
                                    struct trk_rng *rng, struct local_acc *acc,
                                    struct dvec *out)
{
    uint32_t m = h->module;
    if (m >= det->nmodules)
        return TRK_OK;
    const struct trk_module *mod = &det->modules[m];
    double t = mod->thickness;
    double du = h->dir[0], dv = h->dir[1], dw = h->dir[2];
    if (fabs(dw) < 1e-3)
        dw = dw < 0 ? -1e-3 : 1e-3;
    /* track offsets across the sensor, capped at 10 mm for grazing loopers */
    double tu = du / dw * t, tv = dv / dw * t;
    double ext = sqrt(tu * tu + tv * tv);
    double path = t / fabs(dw) * sqrt(du * du + dv * dv + dw * dw);
    if (ext > 20.0) {
        double s = 20.0 / ext;
        tu *= s;
        tv *= s;
        path *= s;
    }
    double u_in = h->local[0] - tu / 2, v_in = h->local[1] - tv / 2;
    double lu = cond->lorentz[2 * m], lv = cond->lorentz[2 * m + 1];

    /* total charge */
    uint32_t ip = h->particle;
    double mass = ip < truth->nparticles ? trk_pdg_mass(truth->pdg[ip]) : 0.13957;
    double p = sqrt((double)h->mom[0] * h->mom[0] + (double)h->mom[1] * h->mom[1] +
                    (double)h->mom[2] * h->mom[2]);
    double path_um = path * 1000.0;
    double mpv = cfg->e_per_um_mpv * path_um * (1 + 0.1 * log(path_um / 285.0));
    mpv *= ionisation_scale(p, mass);
    double q = mpv * (1 + cfg->landau_width * trk_rng_landau(rng));
    if (q <= 0)
        return TRK_OK;

    /* segments: a quarter pitch of collected footprint, ≥ 4, one per 50 µm path */
    double fu = fabs(tu - lu) / TRK_CMS_PITCH_U, fv = fabs(tv - lv) / TRK_CMS_PITCH_V;
    double nseg_d = fmax(fmax(4 * fu, 4 * fv), path_um / 50.0);
    int nseg = (int)ceil(nseg_d);
    if (nseg < 4)
        nseg = 4;
    if (nseg > 256)
        nseg = 256;
    double w[256], wsum = 0;
    for (int i = 0; i < nseg; i++) {
        double x = 1 + 0.4 * trk_rng_landau(rng);
        w[i] = x < 0.05 ? 0.05 : x;
        wsum += w[i];
    }
    const double sig0 = cfg->diffusion * 1e-3; /* mm at 300 µm drift */
    int32_t particle = (int32_t)ip;
    acc->n = 0;
    for (int i = 0; i < nseg; i++) {
        double f = (i + 0.5) / nseg;
        double drift = f * t; /* distance from the collecting face */
        double u = u_in + f * tu - f * lu;
        double v = v_in + f * tv - f * lv;
        double sig = sig0 * sqrt(drift / 0.3);
        double x = u / TRK_CMS_PITCH_U + 81.0, y = v / TRK_CMS_PITCH_V + 216.0;
        int ri[3], ci[3];
        double rf[3], cf[3];
        int nr = spread_axis(x, sig / TRK_CMS_PITCH_U + 1e-9, 162.0, cms_row_of_units,
                             trk_cms_row_edges, ri, rf);
        if (!nr)
            continue;
        int nc = spread_axis(y, sig / TRK_CMS_PITCH_V + 1e-9, 432.0, cms_col_of_units,
                             trk_cms_col_edges, ci, cf);
        double qs = q * w[i] / wsum;
        for (int a = 0; a < nr; a++)
            for (int b = 0; b < nc; b++) {
                double dq = qs * rf[a] * cf[b];
                if (dq <= 0)
                    continue;
                enum trk_status st =
                    local_add(acc, KEY(m, ri[a], ci[b]), (float)dq, particle, out);
                if (st)
                    return st;
            }
    }
    return local_flush(acc, particle, out);
}

enum trk_status trk_cms_digitize(const struct trk_detector *det,
                                 const struct trk_cms_conditions *cond,
                                 const struct trk_truth *truth, struct trk_rng *rng,
                                 struct trk_event *ev)
{
    return trk_cms_digitize_ex(det, cond, NULL, truth, rng, ev);
}

enum trk_status trk_cms_digitize_ex(const struct trk_detector *det,
                                    const struct trk_cms_conditions *cond,
                                    const struct trk_cms_digi_config *cfg_in,
                                    const struct trk_truth *truth, struct trk_rng *rng,
                                    struct trk_event *ev)
{
    if (!det || !cond || !truth || !rng || !ev)
        return TRK_ERR_INVALID_ARG;
    if (det->nmodules != cond->nmodules || det->kind != TRK_DETECTOR_CMS) {
        TRK_LOGE("detector '%s' (%zu modules) does not match the CMS conditions (%u modules)",
                 det->name, det->nmodules, cond->nmodules);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_cms_digi_config cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        trk_cms_digi_config_default(&cfg);
    if (cfg.zstd_level < 1 || cfg.zstd_level > ZSTD_maxCLevel()) {
        TRK_LOGE("zstd level %d outside 1–%d", cfg.zstd_level, ZSTD_maxCLevel());
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    struct dvec dep = {0};
    struct deposit *tmp = NULL;
    struct digi *digis = NULL, *dtmp = NULL;
    uint32_t *words = NULL;
    size_t *fed_begin = NULL;
    uint8_t *raw = NULL;
    void *zbuf = NULL;
    struct trk_cms_clusters cl;
    trk_cms_clusters_init(&cl);
    int32_t *cpart = NULL;
    struct local_acc *acc = malloc(sizeof *acc);
    if (!acc) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }

    /* 1. charge deposits of every simhit */
    for (size_t s = 0; s < truth->nsimhits; s++) {
        st = digitize_hit(det, cond, &cfg, truth, &truth->simhits[s], rng, acc, &dep);
        if (st)
            goto out;
    }
    /* 2. random noise hits: Poisson over all pixels, charge just above threshold */
    {
        double npix = (double)cond->nmodules * TRK_CMS_ROWS * TRK_CMS_COLS;
        uint32_t nnoise = trk_rng_poisson(rng, cfg.noise_rate * npix);
        for (uint32_t k = 0; k < nnoise; k++) {
            uint32_t m = (uint32_t)(trk_rng_uniform(rng) * cond->nmodules);
            uint32_t r = (uint32_t)(trk_rng_uniform(rng) * TRK_CMS_ROWS);
            uint32_t c = (uint32_t)(trk_rng_uniform(rng) * TRK_CMS_COLS);
            double thr = m < trk_cms_layer_start[1] ? cfg.threshold_l1 : cfg.threshold;
            double qn = thr + 2 * cfg.threshold_smear + trk_rng_exp(rng, 3 * cfg.noise);
            st = dvec_push(&dep, KEY(m, r, c), -1, (float)qn);
            if (st)
                goto out;
        }
    }
    /* 3. merge per pixel: sort by key, sum, dominant particle */
    tmp = malloc((dep.n ? dep.n : 1) * sizeof *tmp);
    digis = malloc((dep.n ? dep.n : 1) * sizeof *digis);
    if (!tmp || !digis) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    radix_sort_deposits(dep.d, tmp, dep.n);
    uint32_t fed_pos[TRK_CMS_MAX_FED];
    for (uint32_t f = 0; f < TRK_CMS_MAX_FED; f++)
        fed_pos[f] = UINT32_MAX;
    for (uint32_t f = 0; f < cond->nfeds; f++)
        fed_pos[cond->fed_ids[f] - TRK_CMS_FED_FIRST] = f;
    size_t nd = 0;
    for (size_t i = 0; i < dep.n;) {
        size_t j = i;
        double qsum = 0;
        while (j < dep.n && dep.d[j].key == dep.d[i].key)
            qsum += dep.d[j++].q;
        /* dominant contributor (sum per particle; ties → lowest index, noise last) */
        int32_t best = -1;
        double best_q = -1;
        for (size_t a = i; a < j; a++) {
            bool seen = false;
            for (size_t b = i; b < a; b++)
                if (dep.d[b].particle == dep.d[a].particle)
                    seen = true;
            if (seen)
                continue;
            double qa = 0;
            for (size_t b = a; b < j; b++)
                if (dep.d[b].particle == dep.d[a].particle)
                    qa += dep.d[b].q;
            int32_t pa = dep.d[a].particle;
            if (qa > best_q || (qa == best_q && pa >= 0 && (best < 0 || pa < best))) {
                best_q = qa;
                best = pa;
            }
        }
        uint32_t key = dep.d[i].key;
        i = j;
        uint32_t m = KEY_M(key), r = KEY_R(key), c = KEY_C(key);
        double g1, g2;
        pixel_normals(key, &g1, &g2);
        bool l1 = m < trk_cms_layer_start[1];
        double qn = qsum + cfg.noise * trk_rng_gauss(rng);
        double thr = (l1 ? cfg.threshold_l1 : cfg.threshold) + cfg.threshold_smear * g2;
        if (qn < thr)
            continue;
        float ped, gain;
        if (!trk_cms_gain(cond, m, r, c, &ped, &gain))
            continue; /* dead column block */
        double conv = l1 ? 50.0 : 47.0, off = l1 ? -670.0 : -60.0;
        double vcal = (qn - off) / conv;
        double adc_d = vcal / (gain * (1 + cfg.gain_smear * g1)) + ped;
        long adc = lround(adc_d);
        adc = adc < 1 ? 1 : adc > 255 ? 255 : adc;
        uint32_t ci, lrow, lcol;
        if (!trk_cms_pixel_to_roc(cond, m, r, c, &ci, &lrow, &lcol))
            continue; /* uncabled ROC */
        uint32_t fp = fed_pos[cond->fed[ci] - TRK_CMS_FED_FIRST];
        if (fp == UINT32_MAX)
            continue;
        uint32_t link = cond->link[ci], roc = cond->roc[ci];
        uint32_t dcol = lcol / 2, pxid = 2 * (80 - lrow) + (lcol % 2);
        struct digi *d = &digis[nd++];
        d->sort = fp << 23 | link << 17 | roc << 13 | dcol << 8 | pxid;
        d->word = cms_pixel_word(cms_is_l1(cond->raw_id[ci]), link, roc, lrow, lcol,
                                 (uint32_t)adc);
        d->module = m;
        d->row = (uint16_t)r;
        d->col = (uint16_t)c;
        d->adc = (uint8_t)adc;
        d->particle = best;
    }
    free(tmp);
    tmp = NULL;
    /* 4. error words: per cabled link, probability error_rate; after the link's pixels */
    size_t nerr_cap = 64, nerr = 0;
    struct digi *errs = malloc(nerr_cap * sizeof *errs);
    if (!errs) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    if (cfg.error_rate > 0) {
        for (uint32_t f = 0; f < cond->nfeds; f++)
            for (uint32_t link = 1; link <= TRK_CMS_MAX_LINK; link++) {
                uint32_t ci = (cond->fed_ids[f] - TRK_CMS_FED_FIRST) * TRK_CMS_MAX_LINK *
                                  TRK_CMS_MAX_ROC +
                              (link - 1) * TRK_CMS_MAX_ROC + 1;
                if (cond->module[ci] == TRK_CMS_INVALID_MODULE)
                    continue;
                if (trk_rng_uniform(rng) >= cfg.error_rate)
                    continue;
                double u = trk_rng_uniform(rng);
                uint32_t type = u < 0.5 ? 29 : u < 0.85 ? 30 : 31;
                uint32_t payload = type == 30 ? 8u << 8 : type == 31 ? (uint32_t)(ev->number & 0xFF) : 0;
                if (nerr == nerr_cap) {
                    nerr_cap *= 2;
                    struct digi *e2 = realloc(errs, nerr_cap * sizeof *e2);
                    if (!e2) {
                        free(errs);
                        st = TRK_ERR_NO_MEMORY;
                        goto out;
                    }
                    errs = e2;
                }
                errs[nerr].sort = f << 23 | link << 17 | 15u << 13 | 0x1FFF;
                errs[nerr].word = link << 26 | type << 21 | payload;
                nerr++;
            }
    }
    /* 5. raw order */
    dtmp = malloc((nd + nerr + 1) * sizeof *dtmp);
    if (!dtmp) {
        free(errs);
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    radix_sort_digis(digis, dtmp, nd);
    words = malloc((nd + nerr + 1) * sizeof *words);
    fed_begin = calloc((size_t)cond->nfeds + 1, sizeof *fed_begin);
    if (!words || !fed_begin) {
        free(errs);
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    {
        size_t a = 0, b = 0, k = 0;
        for (uint32_t f = 0; f < cond->nfeds; f++) {
            fed_begin[f] = k;
            uint32_t hi = (f + 1) << 23;
            while (a < nd || b < nerr) {
                bool take_digi;
                if (a < nd && digis[a].sort < hi && (b >= nerr || digis[a].sort < errs[b].sort))
                    take_digi = true;
                else if (b < nerr && errs[b].sort < hi)
                    take_digi = false;
                else
                    break;
                words[k++] = take_digi ? digis[a++].word : errs[b++].word;
            }
        }
        fed_begin[cond->nfeds] = k;
    }
    free(errs);
    uint32_t lv1 = (uint32_t)(ev->number & 0xFFFFFF);
    size_t rawn = cms_fed_collection_size(cond->nfeds, fed_begin);
    raw = malloc(rawn);
    if (!raw) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    cms_fed_collection_write(cond->nfeds, cond->fed_ids, fed_begin, words, cfg.bx, lv1, raw);
    /* 6. zstd */
    size_t zcap = ZSTD_compressBound(rawn);
    zbuf = malloc(zcap);
    if (!zbuf) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    /* content size in the frame header (the decoder needs it) and a content checksum */
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    size_t zn = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, cfg.zstd_level);
    if (!ZSTD_isError(zn))
        zn = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(zn))
        zn = ZSTD_compress2(cctx, zbuf, zcap, raw, rawn);
    ZSTD_freeCCtx(cctx);
    if (ZSTD_isError(zn)) {
        TRK_LOGE("zstd compression failed: %s", ZSTD_getErrorName(zn));
        st = TRK_ERR_INTERNAL;
        goto out;
    }
    /* 7. columns */
    void *col;
    if ((st = trk_event_add_column(ev, "raw_zstd", TRK_DTYPE_UINT8, zn, 0, &col)))
        goto out;
    memcpy(col, zbuf, zn);
    uint32_t *dm;
    uint16_t *dr, *dc;
    uint8_t *da;
    int32_t *dp;
    if ((st = trk_event_add_column(ev, "digi_module", TRK_DTYPE_UINT32, nd, 0, (void **)&dm)) ||
        (st = trk_event_add_column(ev, "digi_row", TRK_DTYPE_UINT16, nd, 0, (void **)&dr)) ||
        (st = trk_event_add_column(ev, "digi_col", TRK_DTYPE_UINT16, nd, 0, (void **)&dc)) ||
        (st = trk_event_add_column(ev, "digi_adc", TRK_DTYPE_UINT8, nd, 0, (void **)&da)) ||
        (st = trk_event_add_column(ev, "digi_particle", TRK_DTYPE_INT32, nd, 0, (void **)&dp)))
        goto out;
    for (size_t i = 0; i < nd; i++) {
        dm[i] = digis[i].module;
        dr[i] = digis[i].row;
        dc[i] = digis[i].col;
        da[i] = digis[i].adc;
        dp[i] = digis[i].particle;
    }
    /* 8. particle_nhits: clusters per particle */
    st = trk_cms_cluster(cond, nd, dm, dr, dc, da, &cl);
    if (st)
        goto out;
    cpart = malloc((cl.n ? cl.n : 1) * sizeof *cpart);
    if (!cpart) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    st = trk_score_cluster_particles(nd, dp, cl.n, cl.offsets, cl.digis, cpart);
    if (st)
        goto out;
    int32_t *nh;
    if ((st = trk_event_add_column(ev, "particle_nhits", TRK_DTYPE_INT32, truth->nparticles, 0,
                                   (void **)&nh)))
        goto out;
    for (size_t k = 0; k < cl.n; k++)
        if (cpart[k] >= 0 && (size_t)cpart[k] < truth->nparticles)
            nh[cpart[k]]++;
out:
    free(acc);
    free(dep.d);
    free(tmp);
    free(digis);
    free(dtmp);
    free(words);
    free(fed_begin);
    free(raw);
    free(zbuf);
    free(cpart);
    trk_cms_clusters_fini(&cl);
    return st;
}
