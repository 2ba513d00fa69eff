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

#include "fuzz_cms.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct trk_detector *det;
static struct trk_cms_conditions *cond;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trk_log_set_sink(fuzz_quiet, NULL);
    if (trk_cms_detector_builtin(&det) != TRK_OK || trk_cms_conditions_make(det, 1, &cond))
        abort();
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (dir && *dir) {
        fuzz_cms_seeds(dir, det, cond, 0, true);
        exit(0);
    }
    return 0;
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
        fuzz_fix_crcs(buf, n);
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
