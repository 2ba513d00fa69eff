/* Tests of the CMS Phase-1 pixel simulation: geometry (built-in vs the real module
 * table), conditions files, digitiser → raw → reference decoder round trips, corrupt
 * raw data, the reference clusterizer, and the PU 50 realism check against the real
 * CMS digi/cluster counts (../shared/data/cms/digicluster.bin). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "test_util.h"
#include "trk/cms.h"
#include "trk/data.h"
#include "trk/gen.h"
#include "trk/score.h"

static struct trk_detector *g_det;
static struct trk_cms_conditions *g_cond;

static int setup(void **state)
{
    (void)state;
    if (trk_cms_detector_builtin(&g_det) != TRK_OK)
        return -1;
    if (trk_cms_conditions_make(g_det, 7, &g_cond) != TRK_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trk_cms_conditions_free(g_cond);
    trk_detector_free(g_det);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void quiet_sink(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

/* ---- geometry ----------------------------------------------------------------- */

static void test_builtin_geometry(void **state)
{
    (void)state;
    struct trk_detector *d = g_det;
    assert_int_equal(d->nmodules, TRK_CMS_NMODULES);
    assert_int_equal(d->nlayers, TRK_CMS_NLAYERS);
    assert_true(fabs(d->bfield - 3.8) < 1e-9);
    for (uint32_t L = 0; L < TRK_CMS_NLAYERS; L++) {
        assert_int_equal(d->layers[L].first, trk_cms_layer_start[L]);
        assert_int_equal(d->layers[L].count, trk_cms_layer_start[L + 1] - trk_cms_layer_start[L]);
    }
    static const double rmin[4] = {27.0, 65.0, 106.0, 157.0}, rmax[4] = {33.5, 73.0, 114.0, 165.0};
    for (uint32_t m = 0; m < d->nmodules; m++) {
        const struct trk_module *mod = &d->modules[m];
        uint32_t rid = mod->raw_id, L = mod->layer;
        assert_int_equal(mod->module_id, (int)m);
        assert_true(m >= trk_cms_layer_start[L] && m < trk_cms_layer_start[L + 1]);
        assert_true(fabs(mod->pitch_u - 0.1) < 1e-12 && fabs(mod->pitch_v - 0.15) < 1e-12);
        assert_true(mod->x0 >= 0.005 && mod->x0 <= 0.02);
        if (L < 4) {
            assert_int_equal((rid >> 25) & 7, 1);
            assert_int_equal((rid >> 20) & 0xF, L + 1);
            assert_int_equal((rid >> 2) & 0x3F, (m - trk_cms_layer_start[L]) % 8 + 1);
            assert_int_equal((rid >> 12) & 0xFF, (m - trk_cms_layer_start[L]) / 8 + 1);
            double r = hypot(mod->c[0], mod->c[1]);
            assert_true(r > rmin[L] && r < rmax[L]);
            assert_true(fabs(mod->thickness - 0.285) < 1e-9);
            /* local v along −z, w radial (in or out) */
            assert_true(fabs(mod->rot[5] + 1) < 1e-12);
            assert_true(fabs(fabs(mod->rot[6] * mod->c[0] + mod->rot[7] * mod->c[1]) - r) < 1e-6);
        } else {
            assert_int_equal((rid >> 25) & 7, 2);
            assert_int_equal((rid >> 23) & 3, L < 7 ? 2 : 1);
            assert_int_equal((rid >> 18) & 0xF, (L - 4) % 3 + 1);
            double az = fabs(mod->c[2]);
            assert_true(az > 290 && az < 520);
            assert_true((L < 7) == (mod->c[2] > 0));
            assert_true(fabs(mod->thickness - 0.29) < 1e-9);
        }
    }
    assert_true(d->beampipe_r > 20 && d->beampipe_r < 25);
}

/* Reads the columns of the CMS module CSV that the detector does not keep. */
struct csv_extra {
    double cw[TRK_CMS_NMODULES][2];
};

static bool read_csv_extra(const char *path, struct csv_extra *x)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[8192];
    int icx = -1, icy = -1, n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *fields[64];
        int nf = 0;
        for (char *p = strtok(line, ",\n"); p && nf < 64; p = strtok(NULL, ",\n"))
            fields[nf++] = p;
        if (icx < 0) {
            for (int i = 0; i < nf; i++) {
                if (!strcmp(fields[i], "charge_width_x"))
                    icx = i;
                if (!strcmp(fields[i], "charge_width_y"))
                    icy = i;
            }
            continue;
        }
        if (n < (int)TRK_CMS_NMODULES && icx < nf && icy < nf) {
            x->cw[n][0] = 10 * atof(fields[icx]);
            x->cw[n][1] = 10 * atof(fields[icy]);
        }
        n++;
    }
    fclose(f);
    return n == (int)TRK_CMS_NMODULES;
}

static void test_builtin_vs_csv(void **state)
{
    (void)state;
    char path[4096];
    if (!trk_data_path("cms/cms_phase1_pixel_modules.csv", path, sizeof path)) {
        print_message("skipped: reference data not found at %s\n", path);
        skip();
    }
    struct trk_detector *c = NULL;
    assert_int_equal(trk_cms_detector_from_csv(path, &c), TRK_OK);
    assert_int_equal(c->nmodules, TRK_CMS_NMODULES);
    struct csv_extra *x = malloc(sizeof *x);
    assert_non_null(x);
    assert_true(read_csv_extra(path, x));
    double max_dc = 0, max_rot = 0, max_lor = 0;
    uint32_t worst = 0;
    for (uint32_t L = 0; L < TRK_CMS_NLAYERS; L++) {
        assert_int_equal(c->layers[L].count, g_det->layers[L].count);
        double rb = 0, rc = 0, zb = 0, zc = 0;
        for (uint32_t m = trk_cms_layer_start[L]; m < trk_cms_layer_start[L + 1]; m++) {
            const struct trk_module *a = &g_det->modules[m], *b = &c->modules[m];
            assert_int_equal(a->raw_id, b->raw_id);
            assert_int_equal(a->volume_id, b->volume_id);
            double dc = sqrt(pow(a->c[0] - b->c[0], 2) + pow(a->c[1] - b->c[1], 2) +
                             pow(a->c[2] - b->c[2], 2));
            if (dc > max_dc) {
                max_dc = dc;
                worst = m;
            }
            for (int i = 0; i < 9; i++)
                max_rot = fmax(max_rot, fabs(a->rot[i] - b->rot[i]));
            double lu, lv;
            trk_cms_lorentz(c, m, &lu, &lv);
            max_lor = fmax(max_lor, fmax(fabs(lu - x->cw[m][0]), fabs(lv - x->cw[m][1])));
            rb += hypot(a->c[0], a->c[1]);
            rc += hypot(b->c[0], b->c[1]);
            zb += fabs(a->c[2]);
            zc += fabs(b->c[2]);
        }
        double n = g_det->layers[L].count;
        print_message("layer %u: mean r %.3f / %.3f mm, mean |z| %.3f / %.3f mm (built-in / "
                      "CSV)\n",
                      L, rb / n, rc / n, zb / n, zc / n);
        assert_true(fabs(rb - rc) / n < 0.5 && fabs(zb - zc) / n < 0.5);
    }
    print_message("max centre distance %.4f mm (module %u), max rotation element diff %.2e, "
                  "max Lorentz drift diff %.2e mm\n",
                  max_dc, worst, max_rot, max_lor);
    assert_true(max_dc < 0.05);
    assert_true(max_rot < 1e-3);
    assert_true(max_lor < 2e-4); /* 0.2 µm on 25–110 µm drifts */
    free(x);
    trk_detector_free(c);
}

static void test_csv_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/trk_cms_csvXXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[4200];
    snprintf(p, sizeof p, "%s/m.csv", dir);
    struct trk_detector *d = NULL;
    trk_log_set_sink(tt_log_capture, NULL);
    tt_log_text[0] = 0;
    assert_int_equal(trk_cms_detector_from_csv("/nonexistent/x.csv", &d), TRK_ERR_NOT_FOUND);
    const char *bad[] = {
        "index,layer_index\n0,0\n",
        "# thickness barrel 0.0285 endcap 0.0290 cm; pitch x 0.0100 y 0.0150 cm\n"
        "index,layer_index,raw_id,is_barrel,is_pos_z,layer,px,py,pz,r11,r12,r13,r21,r22,r23,"
        "r31,r32,r33\n0,0,303042564,1,0,1,2.9,0.8,-23.45,0.27,-0.96,0,0,0,-1,0.96,0.27,x\n",
        "# thickness barrel 0.0285 endcap 0.0290 cm; pitch x 0.0100 y 0.0150 cm\n"
        "index,layer_index,raw_id,is_barrel,is_pos_z,layer,px,py,pz,r11,r12,r13,r21,r22,r23,"
        "r31,r32,r33\n0,0,303042564,1,0,1,2.9,0.8,-23.45,0.2742445,-0.96166,0,0,0,-1,0.96166,"
        "0.2742445,0\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(bad[i], f);
        fclose(f);
        tt_log_text[0] = 0;
        assert_int_equal(trk_cms_detector_from_csv(p, &d), TRK_ERR_PARSE);
        assert_null(d);
        assert_non_null(strstr(tt_log_text, p));
    }
    trk_log_set_sink(NULL, NULL);
    unlink(p);
    rmdir(dir);
}

static void test_pixel_topology(void **state)
{
    (void)state;
    /* row/column of a position, edges */
    for (uint32_t r = 0; r < TRK_CMS_ROWS; r++) {
        double lo, hi;
        trk_cms_row_edges(r, &lo, &hi);
        assert_int_equal(trk_cms_row_of((lo + 0.01 - 81) * 0.1), (int)r);
        assert_int_equal(trk_cms_row_of((hi - 0.01 - 81) * 0.1), (int)r);
    }
    for (uint32_t c = 0; c < TRK_CMS_COLS; c++) {
        double lo, hi;
        trk_cms_col_edges(c, &lo, &hi);
        assert_int_equal(trk_cms_col_of((lo + 0.01 - 216) * 0.15), (int)c);
        assert_int_equal(trk_cms_col_of((hi - 0.01 - 216) * 0.15), (int)c);
    }
    assert_int_equal(trk_cms_row_of(-8.11), -1);
    assert_int_equal(trk_cms_row_of(8.11), -1);
    assert_int_equal(trk_cms_col_of(32.41), -1);
    /* frame conversion round trip on every kind of module (L1, BPIX ±z, FPIX panels) */
    static const uint32_t mods[] = {0, 7, 100, 103, 104, 700, 1183, 1184, 1240, 1600, 1855};
    for (size_t k = 0; k < sizeof mods / sizeof *mods; k++) {
        uint32_t m = mods[k];
        uint32_t seen[16] = {0};
        for (uint32_t r = 0; r < TRK_CMS_ROWS; r++)
            for (uint32_t c = 0; c < TRK_CMS_COLS; c++) {
                uint32_t ci, lr, lc;
                assert_true(trk_cms_pixel_to_roc(g_cond, m, r, c, &ci, &lr, &lc));
                assert_true(lr < 80 && lc < 52);
                assert_int_equal(g_cond->module[ci], m);
                seen[g_cond->roc_in_det[ci]]++;
            }
        for (int i = 0; i < 16; i++)
            assert_int_equal(seen[i], 80 * 52);
    }
}

/* ---- conditions ------------------------------------------------------------------ */

static void test_conditions_cabling(void **state)
{
    (void)state;
    const struct trk_cms_conditions *c = g_cond;
    print_message("%u FEDs (%u … %u)\n", c->nfeds, c->fed_ids[0], c->fed_ids[c->nfeds - 1]);
    assert_true(c->nfeds >= 100 && c->nfeds <= TRK_CMS_MAX_FED);
    for (uint32_t f = 1; f < c->nfeds; f++)
        assert_true(c->fed_ids[f] > c->fed_ids[f - 1]);
    for (uint32_t m = 0; m < c->nmodules; m++) {
        uint32_t fed = 0, lmin = 99, lmax = 0;
        for (uint32_t r = 0; r < 16; r++) {
            uint32_t i = c->module_roc_index[m * 16 + r];
            assert_true(i > 0 && i < TRK_CMS_CABLING_SIZE);
            assert_int_equal(c->module[i], m);
            assert_int_equal(c->roc_in_det[i], r);
            assert_int_equal(c->raw_id[i], g_det->modules[m].raw_id);
            assert_true(c->fed[i] >= 1200 && c->link[i] >= 1 && c->link[i] <= 48);
            assert_true(c->roc[i] >= 1 && c->roc[i] <= 8);
            if (r == 0)
                fed = c->fed[i];
            assert_int_equal(c->fed[i], fed);
            lmin = c->link[i] < lmin ? c->link[i] : lmin;
            lmax = c->link[i] > lmax ? c->link[i] : lmax;
        }
        uint32_t nl = m < 96 ? 8 : m < 320 ? 4 : 2;
        assert_int_equal(lmax - lmin + 1, nl); /* consecutive links */
    }
    /* gains: realistic spread */
    double s = 0, s2 = 0, ps = 0;
    size_t n = 0, dead = 0;
    for (uint32_t m = 0; m < c->nmodules; m++)
        for (uint32_t col = 0; col < 416; col++)
            for (uint32_t row = 0; row < 160; row += 80) {
                float ped, gain;
                if (!trk_cms_gain(c, m, row, col, &ped, &gain)) {
                    dead++;
                    continue;
                }
                s += gain;
                s2 += gain * gain;
                ps += ped;
                n++;
            }
    double mean = s / n, sd = sqrt(s2 / n - mean * mean);
    print_message("gain mean %.3f sd %.3f VCal/ADC, pedestal mean %.2f ADC, %zu dead blocks\n",
                  mean, sd, ps / n, dead);
    assert_true(fabs(mean - 3.2) < 0.05 && sd > 0.2 && sd < 0.4);
}

/* CRC-32 (zlib polynomial), bitwise: the conditions header checksum. */
static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void corrupt_byte(const char *path, long off, uint8_t x)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    fputc(c ^ x, f);
    fclose(f);
}

static void test_conditions_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/trk_cms_condXXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(trk_cms_conditions_write(g_cond, dir), TRK_OK);
    struct trk_cms_conditions *r = NULL;
    assert_int_equal(trk_cms_conditions_read(dir, &r), TRK_OK);
    const size_t N = TRK_CMS_CABLING_SIZE;
    assert_int_equal(r->nfeds, g_cond->nfeds);
    assert_memory_equal(r->fed_ids, g_cond->fed_ids, 4 * g_cond->nfeds);
    assert_memory_equal(r->fed, g_cond->fed, 4 * N);
    assert_memory_equal(r->link, g_cond->link, 4 * N);
    assert_memory_equal(r->roc, g_cond->roc, 4 * N);
    assert_memory_equal(r->raw_id, g_cond->raw_id, 4 * N);
    assert_memory_equal(r->roc_in_det, g_cond->roc_in_det, 4 * N);
    assert_memory_equal(r->module, g_cond->module, 4 * N);
    assert_memory_equal(r->bad_roc, g_cond->bad_roc, N);
    assert_memory_equal(r->module_roc_index, g_cond->module_roc_index, 4 * 16 * TRK_CMS_NMODULES);
    assert_memory_equal(r->gain_data, g_cond->gain_data, (size_t)TRK_CMS_NMODULES * 416 * 4);
    assert_memory_equal(r->lorentz, g_cond->lorentz, 8 * TRK_CMS_NMODULES);
    assert_memory_equal(r->beamspot, g_cond->beamspot, sizeof r->beamspot);
    assert_true(r->min_gain == g_cond->min_gain && r->max_ped == g_cond->max_ped);
    trk_cms_conditions_free(r);
    r = NULL;

    static const char *const files[] = {"cms_cabling.bin", "cms_gains.bin", "cms_modules.bin",
                                        "cms_beamspot.bin"};
    char path[4200];
    trk_log_set_sink(tt_log_capture, NULL);
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        struct stat sb;
        assert_int_equal(stat(path, &sb), 0);
        long offs[] = {0, 9, 12, 17, 26, 30, 32, (long)sb.st_size / 2, (long)sb.st_size - 1};
        for (size_t i = 0; i < sizeof offs / sizeof *offs; i++) {
            corrupt_byte(path, offs[i], 0x10);
            tt_log_text[0] = 0;
            assert_int_equal(trk_cms_conditions_read(dir, &r), TRK_ERR_PARSE);
            assert_null(r);
            assert_non_null(strstr(tt_log_text, files[k]));
            corrupt_byte(path, offs[i], 0x10);
        }
        /* truncated */
        assert_int_equal(truncate(path, sb.st_size - 3), 0);
        tt_log_text[0] = 0;
        assert_int_equal(trk_cms_conditions_read(dir, &r), TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "truncated"));
        assert_int_equal(truncate(path, 20), 0);
        assert_int_equal(trk_cms_conditions_read(dir, &r), TRK_ERR_PARSE);
        /* missing */
        unlink(path);
        assert_int_equal(trk_cms_conditions_read(dir, &r), TRK_ERR_NOT_FOUND);
        assert_int_equal(trk_cms_conditions_write(g_cond, dir), TRK_OK);
    }
    /* a newer version, with a valid header CRC: named as a version problem */
    snprintf(path, sizeof path, "%s/cms_gains.bin", dir);
    {
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        uint8_t h[32];
        assert_int_equal(fread(h, 1, 32, f), 32);
        h[8] = 2;
        uint32_t crc = crc32_ref(h, 28);
        memcpy(h + 28, &crc, 4);
        rewind(f);
        assert_int_equal(fwrite(h, 1, 32, f), 32);
        fclose(f);
        tt_log_text[0] = 0;
        assert_int_equal(trk_cms_conditions_read(dir, &r), TRK_ERR_PARSE);
        assert_non_null(strstr(tt_log_text, "version 2"));
    }
    trk_log_set_sink(NULL, NULL);
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        unlink(path);
    }
    rmdir(dir);
}

/* ---- hand-made truth --------------------------------------------------------------- */

/* n charged pions (and a proton every 7th) from z ~ N(0, 30 mm), |eta| < 2.6, pT
 * 0.3–10 GeV, propagated through the detector. */
static void make_truth(struct trk_truth *t, uint64_t seed, size_t n)
{
    trk_truth_init(t);
    t->pid = calloc(n, sizeof *t->pid);
    t->pdg = calloc(n, sizeof *t->pdg);
    t->q = calloc(n, sizeof *t->q);
    t->vertex = calloc(n, sizeof *t->vertex);
    t->v = calloc(3 * n, sizeof *t->v);
    t->p = calloc(3 * n, sizeof *t->p);
    assert_true(t->pid && t->pdg && t->q && t->vertex && t->v && t->p);
    t->cap_particles = n;
    struct trk_rng rng;
    trk_rng_seed(&rng, seed, 99);
    double z0 = 30 * trk_rng_gauss(&rng);
    for (size_t i = 0; i < n; i++) {
        double eta = -2.6 + 5.2 * trk_rng_uniform(&rng);
        double phi = 6.283185307179586 * trk_rng_uniform(&rng);
        double pt = 0.3 * exp(log(10 / 0.3) * trk_rng_uniform(&rng));
        int q = trk_rng_uniform(&rng) < 0.5 ? -1 : 1;
        int pdg = (i % 7 == 6) ? 2212 * q : 211 * q;
        double v[3] = {0, 0, z0}, p[3] = {pt * cos(phi), pt * sin(phi), pt * sinh(eta)};
        t->pid[i] = (1ull << 32) | (i + 1);
        t->pdg[i] = pdg;
        t->q[i] = q;
        for (int k = 0; k < 3; k++) {
            t->v[3 * i + k] = (float)v[k];
            t->p[3 * i + k] = (float)p[k];
        }
        t->nparticles = i + 1;
        assert_int_equal(trk_propagate(g_det, v, p, q, trk_pdg_mass(pdg), (uint32_t)i, &rng, t),
                         TRK_OK);
    }
}

struct ev_cols {
    size_t nz, nd;
    const uint8_t *z;
    const uint32_t *dm;
    const uint16_t *dr, *dc;
    const uint8_t *da;
    const int32_t *dp;
};

static void get_cols(const struct trk_event *ev, struct ev_cols *c)
{
    size_t n;
    c->z = trk_event_column(ev, "raw_zstd", TRK_DTYPE_UINT8, 0, &c->nz);
    c->dm = trk_event_column(ev, "digi_module", TRK_DTYPE_UINT32, 0, &c->nd);
    c->dr = trk_event_column(ev, "digi_row", TRK_DTYPE_UINT16, 0, &n);
    assert_int_equal(n, c->nd);
    c->dc = trk_event_column(ev, "digi_col", TRK_DTYPE_UINT16, 0, &n);
    assert_int_equal(n, c->nd);
    c->da = trk_event_column(ev, "digi_adc", TRK_DTYPE_UINT8, 0, &n);
    assert_int_equal(n, c->nd);
    c->dp = trk_event_column(ev, "digi_particle", TRK_DTYPE_INT32, 0, &n);
    assert_int_equal(n, c->nd);
    assert_true(c->z && c->dm && c->dr && c->dc && c->da && c->dp);
}

/* Decodes ev's raw data and checks it equals the truth digis, in order. */
static void check_roundtrip(const struct trk_event *ev, size_t nparticles)
{
    struct ev_cols c;
    get_cols(ev, &c);
    struct trk_cms_digis d;
    trk_cms_digis_init(&d);
    assert_int_equal(trk_cms_raw_decode(g_cond, c.z, c.nz, &d), TRK_OK);
    assert_int_equal(d.n, c.nd);
    if (c.nd) {
        assert_memory_equal(d.module, c.dm, c.nd * sizeof *c.dm);
        assert_memory_equal(d.row, c.dr, c.nd * sizeof *c.dr);
        assert_memory_equal(d.col, c.dc, c.nd * sizeof *c.dc);
        assert_memory_equal(d.adc, c.da, c.nd);
    }
    for (size_t i = 0; i < d.nerrors; i++)
        assert_true(d.errors[i].type >= 29 && d.errors[i].type <= 31);
    /* digis of a module are contiguous (Patatrack's countModules relies on it) */
    uint8_t *done = calloc(TRK_CMS_NMODULES, 1);
    assert_non_null(done);
    for (size_t i = 0; i < c.nd; i++) {
        assert_true(c.dp[i] >= -1 && c.dp[i] < (int32_t)nparticles);
        assert_true(c.dr[i] < 160 && c.dc[i] < 416);
        if (i && c.dm[i] == c.dm[i - 1])
            continue;
        assert_false(done[c.dm[i]]);
        done[c.dm[i]] = 1;
    }
    free(done);
    trk_cms_digis_fini(&d);
}

static void test_raw_roundtrip_handmade(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        struct trk_truth t;
        make_truth(&t, seed, 60);
        struct trk_event ev;
        trk_event_init(&ev, seed);
        struct trk_rng rng;
        trk_rng_seed(&rng, seed, 1000);
        assert_int_equal(trk_cms_digitize(g_det, g_cond, &t, &rng, &ev), TRK_OK);
        check_roundtrip(&ev, t.nparticles);
        /* physics sanity: the normalised charge of single-particle barrel clusters */
        struct ev_cols c;
        get_cols(&ev, &c);
        size_t nh;
        const int32_t *nhits = trk_event_column(&ev, "particle_nhits", TRK_DTYPE_INT32, 0, &nh);
        assert_non_null(nhits);
        assert_int_equal(nh, t.nparticles);
        size_t sum_nhits = 0;
        for (size_t i = 0; i < nh; i++)
            sum_nhits += (size_t)nhits[i];
        struct trk_cms_clusters cl;
        trk_cms_clusters_init(&cl);
        assert_int_equal(trk_cms_cluster(g_cond, c.nd, c.dm, c.dr, c.dc, c.da, &cl), TRK_OK);
        double qn[4096];
        size_t nq = 0;
        double res_u = 0, res_v = 0;
        size_t nres = 0;
        for (size_t k = 0; k < cl.n && nq < 4096; k++) {
            if (cl.module[k] >= TRK_CMS_NBPIX_MODULES)
                continue;
            int32_t p = c.dp[cl.digis[cl.offsets[k]]];
            if (p < 0 || abs(t.pdg[p]) == 2212)
                continue;
            for (size_t s = 0; s < t.nsimhits; s++)
                if (t.simhits[s].particle == (uint32_t)p && t.simhits[s].module == cl.module[k]) {
                    qn[nq++] = cl.charge[k] * fabs(t.simhits[s].dir[2]);
                    /* charge centroid vs truth: the Lorentz drift moves it by −L/2
                     * (Patatrack's CPE adds shiftX = L/2) */
                    double sq = 0, su = 0, sv = 0;
                    for (uint32_t j = cl.offsets[k]; j < cl.offsets[k + 1]; j++) {
                        uint32_t i = cl.digis[j];
                        double lo, hi, q = trk_cms_calibrate(g_cond, c.dm[i], c.dr[i], c.dc[i],
                                                             c.da[i]);
                        trk_cms_row_edges(c.dr[i], &lo, &hi);
                        su += q * ((lo + hi) / 2 - 81) * 0.1;
                        trk_cms_col_edges(c.dc[i], &lo, &hi);
                        sv += q * ((lo + hi) / 2 - 216) * 0.15;
                        sq += q;
                    }
                    double lu, lv;
                    trk_cms_lorentz(g_det, cl.module[k], &lu, &lv);
                    if (fabs(t.simhits[s].dir[0] / t.simhits[s].dir[2]) < 0.5 &&
                        fabs(t.simhits[s].dir[1] / t.simhits[s].dir[2]) < 1.5) {
                        res_u += su / sq - t.simhits[s].local[0] + lu / 2;
                        res_v += sv / sq - t.simhits[s].local[1] + lv / 2;
                        nres++;
                    }
                    break;
                }
        }
        for (size_t a = 1; a < nq; a++) /* insertion sort for the median */
            for (size_t b = a; b > 0 && qn[b] < qn[b - 1]; b--) {
                double x = qn[b];
                qn[b] = qn[b - 1];
                qn[b - 1] = x;
            }
        print_message("seed %llu: %zu simhits, %zu digis, %zu clusters (%zu attributed), "
                      "raw_zstd %zu B, median normalised BPIX cluster charge %.0f e\n",
                      (unsigned long long)seed, t.nsimhits, c.nd, cl.n, sum_nhits, c.nz,
                      nq ? qn[nq / 2] : 0.0);
        assert_true(cl.n >= t.nsimhits * 8 / 10 && cl.n <= t.nsimhits * 12 / 10 + 5);
        assert_true(sum_nhits <= cl.n && sum_nhits >= cl.n * 9 / 10);
        assert_true(nq > 20 && qn[nq / 2] > 20000 && qn[nq / 2] < 28000);
        print_message("  %zu near-normal BPIX clusters: mean centroid − (truth − L/2) = "
                      "(%.1f, %.1f) µm\n",
                      nres, 1e3 * res_u / nres, 1e3 * res_v / nres);
        assert_true(nres > 5 && fabs(res_u / nres) < 0.008 && fabs(res_v / nres) < 0.015);
        trk_cms_clusters_fini(&cl);
        trk_event_fini(&ev);
        trk_truth_fini(&t);
    }
}

static void test_raw_roundtrip_generated(void **state)
{
    (void)state;
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.pileup = 5;
    struct trk_truth t;
    trk_truth_init(&t);
    for (uint64_t seed = 11; seed <= 13; seed++)
        for (uint64_t number = 0; number < 2; number++) {
            cfg.seed = seed;
            assert_int_equal(trk_gen_truth(&cfg, g_det, number, &t), TRK_OK);
            struct trk_event ev;
            trk_event_init(&ev, number);
            struct trk_rng rng;
            trk_rng_seed(&rng, seed, number + (1ull << 40));
            assert_int_equal(trk_cms_digitize(g_det, g_cond, &t, &rng, &ev), TRK_OK);
            check_roundtrip(&ev, t.nparticles);
            trk_event_fini(&ev);
        }
    trk_truth_fini(&t);
}

/* A FED collection with one FED holding `words` (n of them, even), CRC filled in. */
static size_t make_fed(uint8_t *buf, uint32_t fed, const uint32_t *words, size_t n)
{
    size_t size = 16 + 4 * n;
    uint32_t v[2] = {1, fed};
    memcpy(buf, v, 4);
    memcpy(buf + 4, &fed, 4);
    uint32_t sz = (uint32_t)size;
    memcpy(buf + 8, &sz, 4);
    uint8_t *b = buf + 12;
    uint32_t h[2] = {fed << 8, 0x5u << 28 | 1u << 24 | 7};
    memcpy(b, h, 8);
    memcpy(b + 8, words, 4 * n);
    uint32_t tr[2] = {0x80, 0xAu << 28 | (uint32_t)(size / 8)};
    memcpy(b + size - 8, tr, 8);
    tr[0] |= (uint32_t)trk_cms_fed_crc(b, size) << 16;
    memcpy(b + size - 8, tr, 8);
    return 12 + size;
}

static void test_raw_error_words(void **state)
{
    (void)state;
    /* link 1 of the first FED; how many ROCs it carries (2 on L1, 4 on L2, else 8) */
    uint32_t fed = g_cond->fed_ids[0];
    uint32_t ci = (fed - 1200) * 384 + 1;
    assert_true(g_cond->module[ci] != TRK_CMS_INVALID_MODULE);
    bool l1 = g_cond->module[ci] < 96;
    uint32_t nroc = 0;
    for (uint32_t r = 1; r <= 8; r++)
        nroc += g_cond->module[ci - 1 + r] != TRK_CMS_INVALID_MODULE;
    uint32_t good = l1 ? (1u << 26 | 1u << 21 | 10u << 15 | 20u << 8 | 77)
                       : (1u << 26 | 1u << 21 | 5u << 16 | 40u << 8 | 77);
    uint32_t words[] = {
        good,
        0,                                 /* filler: skipped */
        0u << 26 | 1u << 21 | 5u << 16 | 40u << 8 | 1,   /* link 0 → 35 */
        49u << 26 | 1u << 21 | 5u << 16 | 40u << 8 | 1,  /* link 49 → 35 */
        1u << 26 | 0u << 21 | 5u << 16 | 40u << 8 | 1,   /* roc 0 → 36 */
        1u << 26 | 8u << 21 | 5u << 16 | 40u << 8 | 1,   /* roc 8: uncabled unless 8 ROCs */
        l1 ? (1u << 26 | 1u << 21 | 60u << 15 | 3u << 8) : (1u << 26 | 1u << 21 | 27u << 16 | 40u << 8),
        l1 ? (1u << 26 | 1u << 21 | 3u << 15 | 90u << 8) : (1u << 26 | 1u << 21 | 3u << 16 | 1u << 8),
        1u << 26 | 29u << 21,                 /* timeout */
        1u << 26 | 30u << 21 | 1u << 8,       /* TBM trailer, overflow → 40 */
        1u << 26 | 31u << 21 | 5,             /* event number */
        1u << 26 | 25u << 21,
    };
    size_t nw = sizeof words / sizeof *words;
    uint8_t buf[256];
    size_t n = make_fed(buf, fed, words, nw);
    struct trk_cms_digis d;
    trk_cms_digis_init(&d);
    assert_int_equal(trk_cms_fed_unpack(g_cond, buf, n, &d), TRK_OK);
    assert_int_equal(d.n, nroc == 8 ? 2 : 1);
    assert_int_equal(d.adc[0], 77);
    assert_int_equal(d.module[0], g_cond->module[ci]);
    uint8_t want[] = {35, 35, 36, (uint8_t)(nroc == 8 ? 0 : 36), 37, 37, 29, 40, 31, 25};
    size_t k = 0;
    for (size_t i = 0; i < sizeof want; i++) {
        if (!want[i])
            continue; /* ROC 8 of a non-L1 link is a valid pixel */
        assert_true(k < d.nerrors);
        assert_int_equal(d.errors[k].type, want[i]);
        assert_int_equal(d.errors[k].fed, fed);
        k++;
    }
    assert_int_equal(k, d.nerrors);
    assert_int_equal(d.errors[0].offset, 4 + 8 + 8 + 8); /* third payload word */
    trk_cms_digis_fini(&d);
}

static void test_raw_corrupt(void **state)
{
    (void)state;
    struct trk_truth t;
    make_truth(&t, 5, 8);
    struct trk_event ev;
    trk_event_init(&ev, 3);
    struct trk_rng rng;
    trk_rng_seed(&rng, 5, 3);
    assert_int_equal(trk_cms_digitize(g_det, g_cond, &t, &rng, &ev), TRK_OK);
    struct ev_cols c;
    get_cols(&ev, &c);
    uint8_t *raw;
    size_t n;
    assert_int_equal(trk_cms_raw_decompress(c.z, c.nz, &raw, &n), TRK_OK);
    struct trk_cms_digis d;
    trk_cms_digis_init(&d);
    assert_int_equal(trk_cms_fed_unpack(g_cond, raw, n, &d), TRK_OK);
    assert_int_equal(d.n, c.nd);
    trk_log_set_sink(quiet_sink, NULL);
    size_t fails = 0, checks = 0;
    /* every truncation of the FED collection and of the zstd frame */
    for (size_t k = 0; k < n; k++) {
        uint8_t *cp = malloc(k ? k : 1); /* exact-size copy: ASan sees any overread */
        memcpy(cp, raw, k);
        fails += trk_cms_fed_unpack(g_cond, cp, k, &d) == TRK_ERR_PARSE;
        checks++;
        free(cp);
    }
    for (size_t k = 0; k < c.nz; k++) {
        uint8_t *cp = malloc(k ? k : 1);
        memcpy(cp, c.z, k);
        fails += trk_cms_raw_decode(g_cond, cp, k, &d) == TRK_ERR_PARSE;
        checks++;
        free(cp);
    }
    assert_int_equal(fails, checks);
    /* every bit of every FED record, header and trailer; payload words via the CRC */
    size_t pos = 4, nfeds = 0;
    fails = checks = 0;
    while (pos < n) {
        uint32_t size;
        memcpy(&size, raw + pos + 4, 4);
        size_t spans[4][2] = {{pos, 8}, {pos + 8, 8}, {pos + 8 + size - 8, 8},
                              {pos + 8 + 8, size > 16 ? 4 : 0}};
        for (int s = 0; s < 4; s++)
            for (size_t byte = spans[s][0]; byte < spans[s][0] + spans[s][1]; byte++)
                for (int bit = 0; bit < 8; bit++) {
                    raw[byte] ^= (uint8_t)(1u << bit);
                    fails += trk_cms_fed_unpack(g_cond, raw, n, &d) == TRK_ERR_PARSE;
                    checks++;
                    raw[byte] ^= (uint8_t)(1u << bit);
                }
        pos += 8 + size;
        nfeds++;
    }
    assert_int_equal(pos, n);
    print_message("%zu FEDs, %zu bytes raw, %zu zstd; %zu framing bit flips all rejected\n",
                  nfeds, n, c.nz, checks);
    assert_int_equal(fails, checks);
    for (int bit = 0; bit < 32; bit++) { /* the FED count */
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(trk_cms_fed_unpack(g_cond, raw, n, &d), TRK_ERR_PARSE);
        raw[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* trailing bytes */
    uint8_t *longer = malloc(n + 8);
    memcpy(longer, raw, n);
    memset(longer + n, 0, 8);
    assert_int_equal(trk_cms_fed_unpack(g_cond, longer, n + 8, &d), TRK_ERR_PARSE);
    free(longer);
    /* bad zstd: flipped bytes anywhere in the frame (content checksum), wrong magic */
    uint8_t *z = malloc(c.nz);
    memcpy(z, c.z, c.nz);
    for (size_t k = 0; k < c.nz; k += 1 + c.nz / 200) {
        z[k] ^= 0x5A;
        assert_int_equal(trk_cms_raw_decode(g_cond, z, c.nz, &d), TRK_ERR_PARSE);
        z[k] ^= 0x5A;
    }
    assert_int_equal(trk_cms_raw_decode(g_cond, z, c.nz, &d), TRK_OK);
    trk_log_set_sink(tt_log_capture, NULL);
    tt_log_text[0] = 0;
    raw[4 + 8 + 7] ^= 0x10; /* first FED header marker */
    assert_int_equal(trk_cms_fed_unpack(g_cond, raw, n, &d), TRK_ERR_PARSE);
    assert_non_null(strstr(tt_log_text, "offset 19"));
    assert_non_null(strstr(tt_log_text, "marker"));
    raw[4 + 8 + 7] ^= 0x10;
    tt_log_text[0] = 0;
    assert_int_equal(trk_cms_raw_decode(g_cond, "garbage!", 8, &d), TRK_ERR_PARSE);
    assert_non_null(strstr(tt_log_text, "zstd"));
    trk_log_set_sink(NULL, NULL);
    free(z);
    free(raw);
    trk_cms_digis_fini(&d);
    trk_event_fini(&ev);
    trk_truth_fini(&t);
}

/* ---- clusterizer ------------------------------------------------------------------- */

static void test_cluster(void **state)
{
    (void)state;
    /* find a module-500 pixel's ADC at the charge cut: e(adc) <= 4000 < e(adc+1) */
    const uint32_t m = 500, r0 = 40, c0 = 100;
    int cut_adc = -1;
    for (int a = 0; a < 255; a++)
        if (trk_cms_calibrate(g_cond, m, r0, c0, (uint8_t)a) <= 4000 &&
            trk_cms_calibrate(g_cond, m, r0, c0, (uint8_t)(a + 1)) > 4000)
            cut_adc = a;
    assert_true(cut_adc > 0);
    /* a dead block, if any */
    uint32_t dm = UINT32_MAX, dr = 0, dc = 0;
    for (uint32_t mm = 0; mm < TRK_CMS_NMODULES && dm == UINT32_MAX; mm++)
        for (uint32_t col = 0; col < 416 && dm == UINT32_MAX; col++) {
            float p, g;
            if (!trk_cms_gain(g_cond, mm, 0, col, &p, &g)) {
                dm = mm;
                dc = col;
            }
        }
    uint32_t mod[32];
    uint16_t row[32], col[32];
    uint8_t adc[32];
    size_t n = 0;
#define D(M, R, C, A) (mod[n] = (M), row[n] = (R), col[n] = (C), adc[n] = (A), n++)
    D(10, 10, 10, 200);  /* 0: cluster A (L1) */
    D(500, 5, 5, 200);   /* 1: cluster B */
    D(10, 11, 11, 200);  /* 2: A, diagonal neighbour */
    D(500, 5, 7, 200);   /* 3: cluster C (gap of one column) */
    D(500, 30, 30, 200); /* 4: cluster D */
    D(500, 30, 30, 200); /* 5: D, duplicate pixel */
    D(11, 10, 10, 200);  /* 6: cluster E: same pixel, another module */
    D(500, r0, c0, (uint8_t)cut_adc);       /* 7: charge == cut or just below → dropped */
    D(500, r0 + 10, c0, (uint8_t)(cut_adc + 1)); /* 8: just above → kept */
    D(500, 159, 415, 200); /* 9: corner pixel */
    D(500, 158, 414, 200); /* 10: its diagonal neighbour */
    if (dm != UINT32_MAX)
        D(dm, dr, dc, 250); /* 11: dead block → ignored */
#undef D
    struct trk_cms_clusters cl;
    trk_cms_clusters_init(&cl);
    assert_int_equal(trk_cms_cluster(g_cond, n, mod, row, col, adc, &cl), TRK_OK);
    /* expected, by module then lowest digi: m10 {0,2}; m11 {6}; m500 {1},{3},{4,5},{8},{9,10} */
    static const uint32_t want[][3] = {{0, 2, 99}, {6, 99, 99}, {1, 99, 99}, {3, 99, 99},
                                       {4, 5, 99}, {8, 99, 99}, {9, 10, 99}};
    assert_int_equal(cl.n, 7);
    for (size_t k = 0; k < cl.n; k++) {
        size_t sz = cl.offsets[k + 1] - cl.offsets[k];
        for (size_t j = 0; j < 3; j++)
            if (want[k][j] != 99) {
                assert_true(j < sz);
                assert_int_equal(cl.digis[cl.offsets[k] + j], want[k][j]);
            } else {
                assert_int_equal(sz, j);
                break;
            }
        int32_t q = 0;
        for (uint32_t j = cl.offsets[k]; j < cl.offsets[k + 1]; j++) {
            uint32_t i = cl.digis[j];
            q += trk_cms_calibrate(g_cond, mod[i], row[i], col[i], adc[i]);
        }
        assert_int_equal(cl.charge[k], q);
    }
    assert_int_equal(cl.nmodules_active, 3);
    assert_int_equal(cl.per_layer[0], 2);
    assert_int_equal(cl.per_layer[2], 5);
    /* out-of-range input */
    row[0] = 160;
    trk_log_set_sink(quiet_sink, NULL);
    assert_int_equal(trk_cms_cluster(g_cond, n, mod, row, col, adc, &cl), TRK_ERR_INVALID_ARG);
    trk_log_set_sink(NULL, NULL);
    trk_cms_clusters_fini(&cl);
}

/* ---- realism: PU 50 against real CMS counts ------------------------------------------ */

static void test_realism_pu50(void **state)
{
    (void)state;
    char path[4096];
    if (!trk_data_path("cms/digicluster.bin", path, sizeof path)) {
        print_message("skipped: reference data not found at %s\n", path);
        skip();
    }
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int32_t rec[3];
    double real_digis = 0, real_clus = 0, real_mods = 0;
    size_t nreal = 0;
    while (fread(rec, 4, 3, f) == 3) {
        real_mods += rec[0];
        real_digis += rec[1];
        real_clus += rec[2];
        nreal++;
    }
    fclose(f);
    assert_true(nreal > 0);
    real_digis /= nreal;
    real_clus /= nreal;
    real_mods /= nreal;

    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.seed = 2024;
    const int nev = 5;
    double sum_d = 0, sum_c = 0, sum_m = 0, sum_z = 0, t_gen = 0, t_digi = 0, t_dec = 0;
    double layer_sim[TRK_CMS_NLAYERS] = {0}, layer_clu[TRK_CMS_NLAYERS] = {0},
           layer_dig[TRK_CMS_NLAYERS] = {0};
    struct trk_truth t;
    trk_truth_init(&t);
    struct trk_cms_digis d;
    trk_cms_digis_init(&d);
    struct trk_cms_clusters cl;
    trk_cms_clusters_init(&cl);
    for (int e = 0; e < nev; e++) {
        double t0 = now();
        assert_int_equal(trk_gen_truth(&cfg, g_det, (uint64_t)e, &t), TRK_OK);
        double t1 = now();
        struct trk_event ev;
        trk_event_init(&ev, (uint64_t)e);
        struct trk_rng rng;
        trk_rng_seed(&rng, cfg.seed, (uint64_t)e + (1ull << 40));
        assert_int_equal(trk_cms_digitize(g_det, g_cond, &t, &rng, &ev), TRK_OK);
        double t2 = now();
        struct ev_cols c;
        get_cols(&ev, &c);
        assert_int_equal(trk_cms_raw_decode(g_cond, c.z, c.nz, &d), TRK_OK);
        assert_int_equal(trk_cms_cluster(g_cond, d.n, d.module, d.row, d.col, d.adc, &cl),
                         TRK_OK);
        double t3 = now();
        t_gen += t1 - t0;
        t_digi += t2 - t1;
        t_dec += t3 - t2;
        assert_int_equal(d.n, c.nd);
        sum_d += d.n;
        sum_c += cl.n;
        sum_m += cl.nmodules_active;
        sum_z += c.nz;
        for (size_t s = 0; s < t.nsimhits; s++)
            layer_sim[g_det->modules[t.simhits[s].module].layer]++;
        for (uint32_t L = 0; L < TRK_CMS_NLAYERS; L++)
            layer_clu[L] += cl.per_layer[L];
        for (size_t i = 0; i < d.n; i++)
            layer_dig[g_det->modules[d.module[i]].layer]++;
        trk_event_fini(&ev);
    }
    double md = sum_d / nev, mc = sum_c / nev;
    print_message("PU50 x %d: digis %.0f (real %.0f, %+.1f%%), clusters %.0f (real %.0f, "
                  "%+.1f%%), active modules %.0f (real %.0f), digis/cluster %.2f (real %.2f)\n",
                  nev, md, real_digis, 100 * (md / real_digis - 1), mc, real_clus,
                  100 * (mc / real_clus - 1), sum_m / nev, real_mods, md / mc,
                  real_digis / real_clus);
    print_message("per layer (crossings / clusters / digis per event):\n");
    for (uint32_t L = 0; L < TRK_CMS_NLAYERS; L++)
        print_message("  layer %u: %7.0f %7.0f %7.0f\n", L, layer_sim[L] / nev,
                      layer_clu[L] / nev, layer_dig[L] / nev);
    print_message("time per event: gen %.1f ms, digitise+raw+zstd %.1f ms, decode+cluster "
                  "%.1f ms; raw_zstd %.0f kB/event\n",
                  1e3 * t_gen / nev, 1e3 * t_digi / nev, 1e3 * t_dec / nev, sum_z / nev / 1e3);
    trk_cms_clusters_fini(&cl);
    trk_cms_digis_fini(&d);
    trk_truth_fini(&t);
    assert_true(md > 0.7 * real_digis && md < 1.3 * real_digis);
    assert_true(mc > 0.7 * real_clus && mc < 1.3 * real_clus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_geometry),
        cmocka_unit_test(test_builtin_vs_csv),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_pixel_topology),
        cmocka_unit_test(test_conditions_cabling),
        cmocka_unit_test(test_conditions_files),
        cmocka_unit_test(test_raw_roundtrip_handmade),
        cmocka_unit_test(test_raw_roundtrip_generated),
        cmocka_unit_test(test_raw_error_words),
        cmocka_unit_test(test_raw_corrupt),
        cmocka_unit_test(test_cluster),
        cmocka_unit_test(test_realism_pu50),
    };
    return cmocka_run_group_tests_name("cms", tests, setup, teardown);
}
