/* trkserve — CMS pixel conditions: cabling map, gains/pedestals, Lorentz drift, beam
 * spot; made from a seed, written to and read from documented binary files
 * (CMS_RAW.md "Conditions files"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cms_internal.h"
#include "trk/cms.h"
#include "trk/log.h"
#include "trk/rng.h"

#define COND_MAGIC "TRKCMSCD"
#define COND_VERSION 1u
#define COND_HEADER 32u
enum { KIND_CABLING = 1, KIND_GAINS = 2, KIND_MODULES = 3, KIND_BEAMSPOT = 4 };
static const char *const kind_file[5] = {"", "cms_cabling.bin", "cms_gains.bin",
                                         "cms_modules.bin", "cms_beamspot.bin"};

#define FED_FILL 44u /* links used per FED */
#define NGAIN_BYTES ((size_t)TRK_CMS_COLS * 2 * 2)

uint32_t cms_crc32(const void *data, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const Bytef *p = data;
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

void trk_cms_conditions_free(struct trk_cms_conditions *c)
{
    if (!c)
        return;
    free(c->fed);
    free(c->link);
    free(c->roc);
    free(c->raw_id);
    free(c->roc_in_det);
    free(c->module);
    free(c->bad_roc);
    free(c->module_roc_index);
    free(c->gain_data);
    free(c->lorentz);
    free(c->module_raw_id);
    free(c->module_layer);
    free(c);
}

static enum trk_status cond_alloc(uint32_t nmodules, struct trk_cms_conditions **out)
{
    struct trk_cms_conditions *c = calloc(1, sizeof *c);
    if (!c)
        return TRK_ERR_NO_MEMORY;
    size_t n = TRK_CMS_CABLING_SIZE;
    c->nmodules = nmodules;
    c->fed = calloc(n, 4);
    c->link = calloc(n, 4);
    c->roc = calloc(n, 4);
    c->raw_id = calloc(n, 4);
    c->roc_in_det = calloc(n, 4);
    c->module = malloc(n * 4);
    c->bad_roc = calloc(n, 1);
    c->module_roc_index = calloc((size_t)nmodules * TRK_CMS_ROCS_PER_MODULE, 4);
    c->gain_data = calloc((size_t)nmodules, NGAIN_BYTES);
    c->lorentz = calloc((size_t)nmodules * 2, sizeof(float));
    c->module_raw_id = calloc(nmodules, 4);
    c->module_layer = calloc(nmodules, 1);
    if (!c->fed || !c->link || !c->roc || !c->raw_id || !c->roc_in_det || !c->module ||
        !c->bad_roc || !c->module_roc_index || !c->gain_data || !c->lorentz ||
        !c->module_raw_id || !c->module_layer) {
        trk_cms_conditions_free(c);
        return TRK_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++)
        c->module[i] = TRK_CMS_INVALID_MODULE;
    *out = c;
    return TRK_OK;
}

/* Links per module and ROCs per link: BPIX L1 8×2, L2 4×4, others 2×8 (Phase-1
 * readout: 400 Mb/s links, one TBM core per 8 ROCs at most). */
static uint32_t links_of_layer(uint32_t layer)
{
    return layer == 0 ? 8 : layer == 1 ? 4 : 2;
}

struct mod_sort {
    uint32_t module;
    int group;     /* BPIX −z, BPIX +z, FPIX −z, FPIX +z */
    double phi;
    uint32_t layer;
};

static int cmp_mod_sort(const void *pa, const void *pb)
{
    const struct mod_sort *a = pa, *b = pb;
    if (a->group != b->group)
        return a->group - b->group;
    if (a->phi != b->phi)
        return a->phi < b->phi ? -1 : 1;
    if (a->layer != b->layer)
        return a->layer < b->layer ? -1 : 1;
    return a->module < b->module ? -1 : a->module > b->module;
}

/* Rebuilds module_roc_index from the cabling arrays; fails if a ROC is cabled twice
 * or an entry is out of range. */
static enum trk_status index_modules(struct trk_cms_conditions *c, const char *what)
{
    size_t nm = (size_t)c->nmodules * TRK_CMS_ROCS_PER_MODULE;
    for (size_t i = 0; i < nm; i++)
        c->module_roc_index[i] = 0;
    for (uint32_t i = 1; i < TRK_CMS_CABLING_SIZE; i++) {
        uint32_t m = c->module[i];
        if (m == TRK_CMS_INVALID_MODULE)
            continue;
        uint32_t fed_off = (i - 1) / (TRK_CMS_MAX_LINK * TRK_CMS_MAX_ROC);
        uint32_t link = (i - 1) / TRK_CMS_MAX_ROC % TRK_CMS_MAX_LINK + 1;
        uint32_t roc = (i - 1) % TRK_CMS_MAX_ROC + 1;
        if (m >= c->nmodules || c->roc_in_det[i] >= TRK_CMS_ROCS_PER_MODULE ||
            c->fed[i] != TRK_CMS_FED_FIRST + fed_off || c->link[i] != link ||
            c->roc[i] != roc || c->raw_id[i] != c->module_raw_id[m]) {
            TRK_LOGE("%s: cabling entry %u (fed %u link %u roc %u) inconsistent: module "
                     "%u, rocInDet %u, rawId %u",
                     what, i, c->fed[i], c->link[i], c->roc[i], m, c->roc_in_det[i],
                     c->raw_id[i]);
            return TRK_ERR_PARSE;
        }
        uint32_t *slot = &c->module_roc_index[(size_t)m * TRK_CMS_ROCS_PER_MODULE +
                                              c->roc_in_det[i]];
        if (*slot) {
            TRK_LOGE("%s: ROC %u of module %u is cabled twice (entries %u and %u)", what,
                     c->roc_in_det[i], m, *slot, i);
            return TRK_ERR_PARSE;
        }
        *slot = i;
    }
    return TRK_OK;
}

static void encode_gain(const struct trk_cms_conditions *c, float ped, float gain,
                        uint8_t *code)
{
    float pp = (c->max_ped - c->min_ped) / TRK_CMS_GAIN_NBINS;
    float gp = (c->max_gain - c->min_gain) / TRK_CMS_GAIN_NBINS;
    long pc = lroundf((ped - c->min_ped) / pp), gc = lroundf((gain - c->min_gain) / gp);
    pc = pc < 0 ? 0 : pc > (long)TRK_CMS_GAIN_NBINS ? (long)TRK_CMS_GAIN_NBINS : pc;
    gc = gc < 0 ? 0 : gc > (long)TRK_CMS_GAIN_NBINS ? (long)TRK_CMS_GAIN_NBINS : gc;
    code[0] = (uint8_t)gc;
    code[1] = (uint8_t)pc;
}

enum trk_status trk_cms_conditions_make(const struct trk_detector *det, uint64_t seed,
                                        struct trk_cms_conditions **out)
{
    if (!det || !out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (det->kind != TRK_DETECTOR_CMS || det->nmodules != TRK_CMS_NMODULES) {
        TRK_LOGE("conditions need the 1856-module CMS pixel detector, got '%s' with %zu "
                 "modules",
                 det->name, det->nmodules);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_cms_conditions *c = NULL;
    struct mod_sort *ms = NULL;
    enum trk_status st = cond_alloc(TRK_CMS_NMODULES, &c);
    if (st)
        return st;
    for (uint32_t m = 0; m < TRK_CMS_NMODULES; m++) {
        c->module_raw_id[m] = det->modules[m].raw_id;
        c->module_layer[m] = (uint8_t)det->modules[m].layer;
        double lu, lv;
        trk_cms_lorentz(det, m, &lu, &lv);
        c->lorentz[2 * m] = (float)lu;
        c->lorentz[2 * m + 1] = (float)lv;
    }

    /* cabling: BPIX −z, +z, then FPIX −z, +z; each group in phi order; FEDs filled
     * with whole modules up to FED_FILL of their 48 links (real FEDs keep spare
     * channels). BPIX FEDs from 1200, FPIX from 1296. */
    ms = malloc(TRK_CMS_NMODULES * sizeof *ms);
    if (!ms) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    for (uint32_t m = 0; m < TRK_CMS_NMODULES; m++) {
        const struct trk_module *mod = &det->modules[m];
        ms[m].module = m;
        ms[m].group = (mod->barrel ? 0 : 2) + (mod->c[2] > 0 ? 1 : 0);
        ms[m].phi = atan2(mod->c[1], mod->c[0]);
        ms[m].layer = mod->layer;
    }
    qsort(ms, TRK_CMS_NMODULES, sizeof *ms, cmp_mod_sort);
    uint32_t fed = TRK_CMS_FED_FIRST - 1, link = FED_FILL;
    bool fpix_started = false;
    c->nfeds = 0;
    for (uint32_t k = 0; k < TRK_CMS_NMODULES; k++) {
        uint32_t m = ms[k].module;
        uint32_t nl = links_of_layer(c->module_layer[m]);
        uint32_t rpl = TRK_CMS_ROCS_PER_MODULE / nl;
        if (ms[k].group >= 2 && !fpix_started) {
            fpix_started = true;
            fed = 1296 - 1;
            link = FED_FILL;
        }
        if (link + nl > FED_FILL) {
            fed++;
            link = 0;
            if (fed >= TRK_CMS_FED_FIRST + TRK_CMS_MAX_FED || c->nfeds >= TRK_CMS_MAX_FED) {
                TRK_LOGE("cabling needs more than %u FEDs: a bug", TRK_CMS_MAX_FED);
                st = TRK_ERR_INTERNAL;
                goto fail;
            }
            c->fed_ids[c->nfeds++] = fed;
        }
        for (uint32_t l = 0; l < nl; l++) {
            link++;
            for (uint32_t r = 1; r <= rpl; r++) {
                uint32_t i = (fed - TRK_CMS_FED_FIRST) * TRK_CMS_MAX_LINK * TRK_CMS_MAX_ROC +
                             (link - 1) * TRK_CMS_MAX_ROC + r;
                c->fed[i] = fed;
                c->link[i] = link;
                c->roc[i] = r;
                c->raw_id[i] = c->module_raw_id[m];
                c->roc_in_det[i] = l * rpl + (r - 1);
                c->module[i] = m;
            }
        }
    }
    /* uncabled entries still carry their fed/link/roc coordinates (as Patatrack's map) */
    for (uint32_t i = 1; i < TRK_CMS_CABLING_SIZE; i++)
        if (c->module[i] == TRK_CMS_INVALID_MODULE) {
            c->fed[i] = TRK_CMS_FED_FIRST + (i - 1) / (TRK_CMS_MAX_LINK * TRK_CMS_MAX_ROC);
            c->link[i] = (i - 1) / TRK_CMS_MAX_ROC % TRK_CMS_MAX_LINK + 1;
            c->roc[i] = (i - 1) % TRK_CMS_MAX_ROC + 1;
        }
    st = index_modules(c, "generated cabling");
    if (st) {
        st = TRK_ERR_INTERNAL;
        goto fail;
    }

    /* gains: per ROC a mean gain N(3.2, 0.25) VCal/ADC and pedestal N(25, 4) ADC, per
     * column block ±3% gain and ±2 ADC around it; 1e-4 of the blocks dead. */
    c->min_ped = 0.0f;
    c->max_ped = 60.0f;
    c->min_gain = 1.5f;
    c->max_gain = 5.0f;
    struct trk_rng rng;
    trk_rng_seed(&rng, seed, 0xC0DD1710u);
    for (uint32_t m = 0; m < TRK_CMS_NMODULES; m++) {
        double roc_gain[16], roc_ped[16];
        for (int r = 0; r < 16; r++) {
            roc_gain[r] = 3.2 + 0.25 * trk_rng_gauss(&rng);
            roc_ped[r] = 25.0 + 4.0 * trk_rng_gauss(&rng);
        }
        uint8_t *g = c->gain_data + (size_t)m * NGAIN_BYTES;
        for (uint32_t col = 0; col < TRK_CMS_COLS; col++)
            for (uint32_t blk = 0; blk < 2; blk++) {
                uint32_t roc_in_det, lr, lc;
                cms_module_to_roc(c->module_raw_id[m], blk * 80, col, &roc_in_det, &lr, &lc);
                double gain = roc_gain[roc_in_det] * (1 + 0.03 * trk_rng_gauss(&rng));
                double ped = roc_ped[roc_in_det] + 2.0 * trk_rng_gauss(&rng);
                uint8_t *code = g + ((size_t)col * 2 + blk) * 2;
                encode_gain(c, (float)ped, (float)gain, code);
                if (trk_rng_uniform(&rng) < 1e-4)
                    code[1] = TRK_CMS_GAIN_DEAD;
            }
    }
    /* beam spot of the CMS generator defaults (trk_gen_config_default), cm */
    struct trk_gen_config gc;
    trk_gen_config_default(&gc, TRK_DETECTOR_CMS);
    c->beamspot[0] = (float)(gc.beam_pos[0] / 10);
    c->beamspot[1] = (float)(gc.beam_pos[1] / 10);
    c->beamspot[2] = (float)(gc.beam_pos[2] / 10);
    c->beamspot[3] = (float)(gc.beam_sigma_z / 10);
    c->beamspot[4] = (float)(gc.beam_sigma_xy / 10);
    c->beamspot[5] = (float)(gc.beam_sigma_xy / 10);
    free(ms);
    *out = c;
    return TRK_OK;
fail:
    free(ms);
    trk_cms_conditions_free(c);
    return st;
}

bool trk_cms_gain(const struct trk_cms_conditions *c, uint32_t m, uint32_t row, uint32_t col,
                  float *ped, float *gain)
{
    if (m >= c->nmodules || row >= TRK_CMS_ROWS || col >= TRK_CMS_COLS) {
        *ped = *gain = 0;
        return false;
    }
    const uint8_t *code =
        c->gain_data + (size_t)m * NGAIN_BYTES + ((size_t)col * 2 + row / 80) * 2;
    if (code[1] == TRK_CMS_GAIN_DEAD || code[1] == TRK_CMS_GAIN_NOISY) {
        *ped = *gain = 0;
        return false;
    }
    float pp = (c->max_ped - c->min_ped) / TRK_CMS_GAIN_NBINS;
    float gp = (c->max_gain - c->min_gain) / TRK_CMS_GAIN_NBINS;
    *ped = code[1] * pp + c->min_ped;
    *gain = code[0] * gp + c->min_gain;
    return true;
}

bool trk_cms_pixel_to_roc(const struct trk_cms_conditions *c, uint32_t m, uint32_t row,
                          uint32_t col, uint32_t *cabling_index, uint32_t *lrow,
                          uint32_t *lcol)
{
    if (m >= c->nmodules || row >= TRK_CMS_ROWS || col >= TRK_CMS_COLS)
        return false;
    uint32_t rid;
    cms_module_to_roc(c->module_raw_id[m], row, col, &rid, lrow, lcol);
    uint32_t idx = c->module_roc_index[(size_t)m * TRK_CMS_ROCS_PER_MODULE + rid];
    if (!idx)
        return false;
    *cabling_index = idx;
    return true;
}

/* ---- files ------------------------------------------------------------------------ */

struct wbuf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

static void wput(struct wbuf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void wu32(struct wbuf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    wput(b, x, 4);
}

static void wf32(struct wbuf *b, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    wu32(b, v);
}

static void wu32s(struct wbuf *b, const uint32_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wu32(b, v[i]);
}

static uint32_t ru32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float rf32(const uint8_t *p)
{
    uint32_t v = ru32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static enum trk_status write_file(const char *dir, int kind, const struct wbuf *payload)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, kind_file[kind]) >= sizeof path) {
        TRK_LOGE("directory name too long: %s", dir);
        return TRK_ERR_INVALID_ARG;
    }
    if (payload->oom)
        return TRK_ERR_NO_MEMORY;
    uint8_t h[COND_HEADER];
    memcpy(h, COND_MAGIC, 8);
    uint32_t v[5] = {COND_VERSION, (uint32_t)kind, (uint32_t)payload->n,
                     (uint32_t)((uint64_t)payload->n >> 32), cms_crc32(payload->p, payload->n)};
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 4; k++)
            h[8 + 4 * i + k] = (uint8_t)(v[i] >> (8 * k));
    uint32_t hc = cms_crc32(h, 28);
    for (int k = 0; k < 4; k++)
        h[28 + k] = (uint8_t)(hc >> (8 * k));
    FILE *f = fopen(path, "wb");
    if (!f) {
        TRK_LOGE("%s: cannot create (%s)", path, strerror(errno));
        return TRK_ERR_IO;
    }
    bool ok = fwrite(h, 1, sizeof h, f) == sizeof h &&
              fwrite(payload->p, 1, payload->n, f) == payload->n;
    if (fclose(f) != 0)
        ok = false;
    if (!ok) {
        TRK_LOGE("%s: write failed (%s)", path, strerror(errno));
        return TRK_ERR_IO;
    }
    return TRK_OK;
}

enum trk_status trk_cms_conditions_write(const struct trk_cms_conditions *c, const char *dir)
{
    if (!c || !dir)
        return TRK_ERR_INVALID_ARG;
    enum trk_status st;
    struct wbuf b = {0};
    const size_t n = TRK_CMS_CABLING_SIZE;
    /* cabling */
    wu32(&b, (uint32_t)n);
    wu32(&b, c->nfeds);
    wu32s(&b, c->fed_ids, c->nfeds);
    wu32s(&b, c->fed, n);
    wu32s(&b, c->link, n);
    wu32s(&b, c->roc, n);
    wu32s(&b, c->raw_id, n);
    wu32s(&b, c->roc_in_det, n);
    wu32s(&b, c->module, n);
    wput(&b, c->bad_roc, n);
    static const uint8_t zero[4] = {0};
    wput(&b, zero, (4 - n % 4) % 4);
    st = write_file(dir, KIND_CABLING, &b);
    if (st)
        goto out;
    /* gains */
    b.n = 0;
    wu32(&b, c->nmodules);
    wu32(&b, TRK_CMS_COLS);
    wu32(&b, 2);
    wu32(&b, TRK_CMS_GAIN_ROWS_AVERAGED);
    wu32(&b, TRK_CMS_GAIN_NBINS);
    wu32(&b, TRK_CMS_GAIN_DEAD);
    wu32(&b, TRK_CMS_GAIN_NOISY);
    wf32(&b, c->min_ped);
    wf32(&b, c->max_ped);
    wf32(&b, c->min_gain);
    wf32(&b, c->max_gain);
    wput(&b, c->gain_data, (size_t)c->nmodules * NGAIN_BYTES);
    st = write_file(dir, KIND_GAINS, &b);
    if (st)
        goto out;
    /* modules */
    b.n = 0;
    wu32(&b, c->nmodules);
    for (uint32_t m = 0; m < c->nmodules; m++) {
        wu32(&b, c->module_raw_id[m]);
        wu32(&b, c->module_layer[m]);
        wf32(&b, c->lorentz[2 * m]);
        wf32(&b, c->lorentz[2 * m + 1]);
    }
    st = write_file(dir, KIND_MODULES, &b);
    if (st)
        goto out;
    /* beam spot */
    b.n = 0;
    for (int i = 0; i < 11; i++)
        wf32(&b, c->beamspot[i]);
    st = write_file(dir, KIND_BEAMSPOT, &b);
out:
    free(b.p);
    return st;
}

/* Reads dir/<file of kind> and checks its header; *payload is malloc'ed. */
static enum trk_status read_file(const char *dir, int kind, uint8_t **payload, size_t *n,
                                 char *path, size_t path_len)
{
    *payload = NULL;
    if ((size_t)snprintf(path, path_len, "%s/%s", dir, kind_file[kind]) >= path_len) {
        TRK_LOGE("directory name too long: %s", dir);
        return TRK_ERR_INVALID_ARG;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        TRK_LOGE("%s: cannot open (%s); write conditions with trk_cms_conditions_write",
                 path, strerror(errno));
        return errno == ENOENT ? TRK_ERR_NOT_FOUND : TRK_ERR_IO;
    }
    enum trk_status st = TRK_OK;
    uint8_t h[COND_HEADER];
    if (fread(h, 1, sizeof h, f) != sizeof h) {
        TRK_LOGE("%s: offset 0: file shorter than the %u-byte header", path, COND_HEADER);
        st = TRK_ERR_PARSE;
        goto out;
    }
    if (memcmp(h, COND_MAGIC, 8)) {
        TRK_LOGE("%s: offset 0: bad magic (not a trkserve CMS conditions file)", path);
        st = TRK_ERR_PARSE;
        goto out;
    }
    if (ru32(h + 28) != cms_crc32(h, 28)) {
        TRK_LOGE("%s: offset 28: header CRC mismatch (header corrupted)", path);
        st = TRK_ERR_PARSE;
        goto out;
    }
    if (ru32(h + 8) != COND_VERSION) {
        TRK_LOGE("%s: offset 8: version %u, this build reads version %u", path, ru32(h + 8),
                 COND_VERSION);
        st = TRK_ERR_PARSE;
        goto out;
    }
    if (ru32(h + 12) != (uint32_t)kind) {
        TRK_LOGE("%s: offset 12: kind %u, expected %d (%s)", path, ru32(h + 12), kind,
                 kind_file[kind]);
        st = TRK_ERR_PARSE;
        goto out;
    }
    uint64_t size = (uint64_t)ru32(h + 16) | (uint64_t)ru32(h + 20) << 32;
    if (size > (64u << 20)) {
        TRK_LOGE("%s: offset 16: payload size %llu is implausible (> 64 MiB)", path,
                 (unsigned long long)size);
        st = TRK_ERR_PARSE;
        goto out;
    }
    *payload = malloc(size ? size : 1);
    if (!*payload) {
        st = TRK_ERR_NO_MEMORY;
        goto out;
    }
    size_t got = fread(*payload, 1, size, f);
    if (got != size) {
        TRK_LOGE("%s: offset %zu: truncated, payload has %zu of %llu bytes", path,
                 COND_HEADER + got, got, (unsigned long long)size);
        st = TRK_ERR_PARSE;
        goto out;
    }
    if (fgetc(f) != EOF) {
        TRK_LOGE("%s: offset %llu: trailing bytes after the payload", path,
                 (unsigned long long)(COND_HEADER + size));
        st = TRK_ERR_PARSE;
        goto out;
    }
    if (cms_crc32(*payload, size) != ru32(h + 24)) {
        TRK_LOGE("%s: payload CRC32 mismatch (bytes %u–%llu corrupted)", path, COND_HEADER,
                 (unsigned long long)(COND_HEADER + size));
        st = TRK_ERR_PARSE;
        goto out;
    }
    *n = size;
out:
    fclose(f);
    if (st) {
        free(*payload);
        *payload = NULL;
    }
    return st;
}

enum trk_status trk_cms_conditions_read(const char *dir, struct trk_cms_conditions **out)
{
    if (!dir || !out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    struct trk_cms_conditions *c = NULL;
    uint8_t *p = NULL;
    size_t n = 0;
    char path[4096];
    enum trk_status st = cond_alloc(TRK_CMS_NMODULES, &c);
    if (st)
        return st;

    /* modules first: the cabling check needs the raw ids */
    st = read_file(dir, KIND_MODULES, &p, &n, path, sizeof path);
    if (st)
        goto fail;
    if (n != 4 + (size_t)TRK_CMS_NMODULES * 16 || ru32(p) != TRK_CMS_NMODULES) {
        TRK_LOGE("%s: offset 32: %zu payload bytes / %u modules, expected %u modules of "
                 "16 bytes",
                 path, n, n >= 4 ? ru32(p) : 0, TRK_CMS_NMODULES);
        st = TRK_ERR_PARSE;
        goto fail;
    }
    for (uint32_t m = 0; m < TRK_CMS_NMODULES; m++) {
        const uint8_t *q = p + 4 + (size_t)m * 16;
        c->module_raw_id[m] = ru32(q);
        uint32_t layer = ru32(q + 4);
        c->lorentz[2 * m] = rf32(q + 8);
        c->lorentz[2 * m + 1] = rf32(q + 12);
        uint32_t sub = (c->module_raw_id[m] >> 25) & 7;
        if (layer >= TRK_CMS_NLAYERS || m < trk_cms_layer_start[layer] ||
            m >= trk_cms_layer_start[layer + 1] || sub != (layer < 4 ? 1u : 2u) ||
            !(fabsf(c->lorentz[2 * m]) < 1) || !(fabsf(c->lorentz[2 * m + 1]) < 1)) {
            TRK_LOGE("%s: offset %zu: module %u: layer %u / raw id %u / Lorentz drift "
                     "(%g, %g) mm out of range",
                     path, COND_HEADER + 4 + (size_t)m * 16, m, layer, c->module_raw_id[m],
                     c->lorentz[2 * m], c->lorentz[2 * m + 1]);
            st = TRK_ERR_PARSE;
            goto fail;
        }
        c->module_layer[m] = (uint8_t)layer;
    }
    free(p);
    p = NULL;

    /* cabling */
    st = read_file(dir, KIND_CABLING, &p, &n, path, sizeof path);
    if (st)
        goto fail;
    const size_t N = TRK_CMS_CABLING_SIZE;
    if (n < 8 || ru32(p) != N || ru32(p + 4) > TRK_CMS_MAX_FED) {
        TRK_LOGE("%s: offset 32: cabling size %u / %u FEDs, expected %zu entries and at "
                 "most %u FEDs",
                 path, n >= 4 ? ru32(p) : 0, n >= 8 ? ru32(p + 4) : 0, N, TRK_CMS_MAX_FED);
        st = TRK_ERR_PARSE;
        goto fail;
    }
    c->nfeds = ru32(p + 4);
    size_t want = 8 + 4 * (size_t)c->nfeds + 6 * 4 * N + N + (4 - N % 4) % 4;
    if (n != want) {
        TRK_LOGE("%s: payload is %zu bytes, %zu expected for %u FEDs", path, n, want,
                 c->nfeds);
        st = TRK_ERR_PARSE;
        goto fail;
    }
    const uint8_t *q = p + 8;
    for (uint32_t i = 0; i < c->nfeds; i++, q += 4) {
        c->fed_ids[i] = ru32(q);
        if (c->fed_ids[i] < TRK_CMS_FED_FIRST ||
            c->fed_ids[i] >= TRK_CMS_FED_FIRST + TRK_CMS_MAX_FED ||
            (i && c->fed_ids[i] <= c->fed_ids[i - 1])) {
            TRK_LOGE("%s: offset %zu: FED id %u out of range 1200–1349 or not increasing",
                     path, (size_t)(q - p) + COND_HEADER, c->fed_ids[i]);
            st = TRK_ERR_PARSE;
            goto fail;
        }
    }
    uint32_t *arrays[6] = {c->fed, c->link, c->roc, c->raw_id, c->roc_in_det, c->module};
    for (int a = 0; a < 6; a++)
        for (size_t i = 0; i < N; i++, q += 4)
            arrays[a][i] = ru32(q);
    memcpy(c->bad_roc, q, N);
    st = index_modules(c, path);
    if (st)
        goto fail;
    free(p);
    p = NULL;

    /* gains */
    st = read_file(dir, KIND_GAINS, &p, &n, path, sizeof path);
    if (st)
        goto fail;
    if (n != 44 + (size_t)TRK_CMS_NMODULES * NGAIN_BYTES || ru32(p) != TRK_CMS_NMODULES ||
        ru32(p + 4) != TRK_CMS_COLS || ru32(p + 8) != 2 ||
        ru32(p + 12) != TRK_CMS_GAIN_ROWS_AVERAGED || ru32(p + 16) != TRK_CMS_GAIN_NBINS ||
        ru32(p + 20) != TRK_CMS_GAIN_DEAD || ru32(p + 24) != TRK_CMS_GAIN_NOISY) {
        TRK_LOGE("%s: offset 32: gain table header/size (%zu bytes) does not describe %u "
                 "modules × 416 columns × 2 blocks of 80 rows, 253 bins, flags 255/254",
                 path, n, TRK_CMS_NMODULES);
        st = TRK_ERR_PARSE;
        goto fail;
    }
    c->min_ped = rf32(p + 28);
    c->max_ped = rf32(p + 32);
    c->min_gain = rf32(p + 36);
    c->max_gain = rf32(p + 40);
    if (!(c->min_ped < c->max_ped) || !(c->min_gain < c->max_gain) ||
        !(fabsf(c->min_ped) < 1e4f) || !(fabsf(c->max_ped) < 1e4f) ||
        !(fabsf(c->min_gain) < 1e4f) || !(fabsf(c->max_gain) < 1e4f)) {
        TRK_LOGE("%s: offset 60: pedestal range [%g, %g] / gain range [%g, %g] invalid",
                 path, c->min_ped, c->max_ped, c->min_gain, c->max_gain);
        st = TRK_ERR_PARSE;
        goto fail;
    }
    memcpy(c->gain_data, p + 44, (size_t)TRK_CMS_NMODULES * NGAIN_BYTES);
    free(p);
    p = NULL;

    /* beam spot */
    st = read_file(dir, KIND_BEAMSPOT, &p, &n, path, sizeof path);
    if (st)
        goto fail;
    if (n != 44) {
        TRK_LOGE("%s: payload is %zu bytes, the beam spot is 11 floats (44 bytes)", path, n);
        st = TRK_ERR_PARSE;
        goto fail;
    }
    for (int i = 0; i < 11; i++) {
        c->beamspot[i] = rf32(p + 4 * i);
        if (!isfinite(c->beamspot[i])) {
            TRK_LOGE("%s: offset %d: beam spot value %d is not finite", path,
                     COND_HEADER + 4 * i, i);
            st = TRK_ERR_PARSE;
            goto fail;
        }
    }
    free(p);
    *out = c;
    return TRK_OK;
fail:
    free(p);
    trk_cms_conditions_free(c);
    return st;
}
