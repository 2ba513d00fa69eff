/* Shared by the CMS raw-data fuzz targets (fuzz_cms_raw, fuzz_patatrack): a quiet log
 * sink, the seeds (a generated event as a zstd frame, as a FED collection, and as one
 * with the CRCs to be rewritten: first byte = form 0, 1, 2), and the CRC rewrite that
 * lets mutations past the CRC check. */
#ifndef TRK_FUZZ_CMS_H
#define TRK_FUZZ_CMS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trk/cms.h"
#include "trk/log.h"

static void fuzz_quiet(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

static void fuzz_write_seed(const char *dir, const char *name, uint8_t mode, const uint8_t *d,
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

/* Writes the three seeds of one event at mean pile-up `pileup` into dir; with one_fed
 * also a collection of its first FED alone (a smaller seed). Exits on failure. */
static void fuzz_cms_seeds(const char *dir, const struct trk_detector *det,
                           const struct trk_cms_conditions *cond, double pileup, bool one_fed)
{
    struct trk_truth t;
    trk_truth_init(&t);
    struct trk_gen_config cfg;
    trk_gen_config_default(&cfg, TRK_DETECTOR_CMS);
    cfg.pileup = pileup;
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
    fuzz_write_seed(dir, "seed-zstd", 0, z, nz);
    fuzz_write_seed(dir, "seed-feds", 1, raw, n);
    fuzz_write_seed(dir, "seed-feds-crcfix", 2, raw, n);
    uint32_t size;
    memcpy(&size, raw + 8, 4);
    if (one_fed && 12 + (size_t)size <= n) {
        uint8_t *one = malloc(12 + (size_t)size);
        if (!one)
            exit(1);
        memcpy(one, raw, 12 + (size_t)size);
        uint32_t one_fed_count = 1;
        memcpy(one, &one_fed_count, 4);
        fuzz_write_seed(dir, "seed-one-fed", 2, one, 12 + (size_t)size);
        free(one);
    }
    free(raw);
    trk_event_fini(&ev);
    trk_truth_fini(&t);
}

static uint32_t fuzz_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rewrites the CRC of every well-framed FED record in place (harness side). */
static void fuzz_fix_crcs(uint8_t *d, size_t n)
{
    if (n < 4)
        return;
    size_t pos = 4;
    while (n - pos >= 8) {
        uint32_t size = fuzz_rd32(d + pos + 4);
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

#endif
