/* libFuzzer target: the CMS pixel raw-data reference decoder. The first input byte
 * picks the entry point: 0 → trk_cms_raw_decode (zstd frame), 1 → trk_cms_fed_unpack
 * (FED collection), 2 → the same after the harness rewrites every FED trailer's CRC,
 * so that mutations reach the pixel-word decoder instead of stopping at the CRC.
 * Accepted input must give digis inside the module and errors of known types.
 * With $TRK_FUZZ_SEED_DIR set, writes seeds (a generated event in all three forms)
 * there and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trk/cms.h"
#include "trk/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct trk_detector *det;
static struct trk_cms_conditions *cond;

static void quiet(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

static void write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *d,
                       size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        exit(1);
    fputc(mode, f);
    fwrite(d, 1, n, f);
    fclose(f);
}

static void make_seeds(const char *dir)
{
    /* a handful of straight tracks through the barrel and the disks */
    struct trk_truth t;
    trk_truth_init(&t);
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.pileup = 0;
    if (trk_gen_truth(&cfg, det, 1, &t) != TRK_OK)
        exit(1);
    struct trk_event ev;
    trk_event_init(&ev, 1);
    struct trk_rng rng;
    trk_rng_seed(&rng, 1, 1);
    if (trk_cms_digitize(det, cond, &t, &rng, &ev) != TRK_OK)
        exit(1);
    size_t nz;
    const uint8_t *z = trk_event_column(&ev, "raw_zstd", TRK_DTYPE_UINT8, 0, &nz);
    uint8_t *raw;
    size_t n;
    if (!z || trk_cms_raw_decompress(z, nz, &raw, &n) != TRK_OK)
        exit(1);
    write_seed(dir, "seed-zstd", 0, z, nz);
    write_seed(dir, "seed-feds", 1, raw, n);
    write_seed(dir, "seed-feds-crcfix", 2, raw, n);
    /* one FED alone (smaller seed) */
    uint32_t size;
    memcpy(&size, raw + 8, 4);
    if (12 + (size_t)size <= n) {
        uint8_t *one = malloc(12 + size);
        memcpy(one, raw, 12 + size);
        uint32_t one_fed = 1;
        memcpy(one, &one_fed, 4);
        write_seed(dir, "seed-one-fed", 2, one, 12 + size);
        free(one);
    }
    free(raw);
    trk_event_fini(&ev);
    trk_truth_fini(&t);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trk_log_set_sink(quiet, NULL);
    if (trk_cms_detector_builtin(&det) != TRK_OK || trk_cms_conditions_make(det, 1, &cond))
        abort();
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (dir && *dir) {
        make_seeds(dir);
        exit(0);
    }
    return 0;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rewrites the CRC of every well-framed FED record in place (harness side). */
static void fix_crcs(uint8_t *d, size_t n)
{
    if (n < 4)
        return;
    size_t pos = 4;
    while (n - pos >= 8) {
        uint32_t size = rd32(d + pos + 4);
        pos += 8;
        if (size < 16 || size % 8 || n - pos < size)
            return;
        uint8_t *b = d + pos;
        uint16_t crc = trk_cms_fed_crc(b, size);
        b[size - 6] = (uint8_t)crc;
        b[size - 5] = (uint8_t)(crc >> 8);
        pos += size;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 3;
    size_t n = size - 1;
    /* an exact-size copy so that any read past the end is caught */
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, n);
    if (mode == 2)
        fix_crcs(buf, n);
    struct trk_cms_digis d;
    trk_cms_digis_init(&d);
    enum trk_status st = mode == 0 ? trk_cms_raw_decode(cond, buf, n, &d)
                                   : trk_cms_fed_unpack(cond, buf, n, &d);
    if (st == TRK_OK) {
        for (size_t i = 0; i < d.n; i++)
            if (d.module[i] >= TRK_CMS_NMODULES || d.row[i] >= TRK_CMS_ROWS ||
                d.col[i] >= TRK_CMS_COLS)
                abort();
        for (size_t i = 0; i < d.nerrors; i++) {
            uint8_t t = d.errors[i].type;
            if (!((t >= 25 && t <= 31) || (t >= 35 && t <= 37) || t == 40))
                abort();
        }
        /* the reference clusterizer must accept whatever the decoder produced */
        struct trk_cms_clusters cl;
        trk_cms_clusters_init(&cl);
        if (trk_cms_cluster(cond, d.n, d.module, d.row, d.col, d.adc, &cl) != TRK_OK)
            abort();
        trk_cms_clusters_fini(&cl);
    } else if (st != TRK_ERR_PARSE && st != TRK_ERR_NO_MEMORY) {
        abort();
    }
    trk_cms_digis_fini(&d);
    free(buf);
    return 0;
}
