/* libFuzzer target: the whole Patatrack pipeline on the CPU device, fed raw data. The
 * first input byte picks the form: 0 → the bytes are the event's raw_zstd frame; 1 →
 * they are a FED collection, which the harness compresses; 2 → the same after the
 * harness rewrites every FED trailer's CRC, so mutations reach the pixel-word decoder,
 * the clusterizer and the tracking instead of stopping at the CRC. Small capacities
 * make overflows likely. Differential check: whenever the host reference decoder
 * accepts the input, the pipeline must too, with the same digi and error counts.
 * With $TRK_FUZZ_SEED_DIR set, writes seeds (a generated PU 5 event in the three
 * forms) there and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "fuzz_cms.h"
#include "trk/patatrack.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct trk_detector *det;
static struct trk_cms_conditions *cond;
static struct trk_registry *reg;
static struct trk_pt_instance *pt;
static struct trk_pt_result res;
static struct trk_cms_digis ref;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trk_log_set_sink(fuzz_quiet, NULL);
    if (trk_cms_detector_builtin(&det) != TRK_OK || trk_cms_conditions_make(det, 1, &cond))
        abort();
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (dir && *dir) {
        fuzz_cms_seeds(dir, det, cond, 5, false);
        exit(0);
    }
    /* The CPU device only: accelerator modules are not built for the fuzzer's ASan
     * runtime (nvcc's host compiler links GCC's), and dlopen'ing one aborts. */
    struct trk_registry_options ro = {.cpu_threads = 1, .module_path = "/nonexistent"};
    struct trk_device *dev;
    struct trk_pt_params p;
    trk_pt_params_default(&p);
    p.max_fed_words = 1u << 16;
    p.max_hits = 4096;
    p.max_doublets = 1u << 14;
    p.max_tuples = 1024;
    p.max_vertices = 32;
    if (trk_registry_open(&ro, &reg) != TRK_OK || trk_registry_select(reg, "cpu", &dev) != TRK_OK ||
        trk_pt_instance_create(dev, cond, det, &p, &pt) != TRK_OK)
        abort();
    trk_pt_result_init(&res);
    trk_cms_digis_init(&ref);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 3;
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, n);
    uint8_t *z = buf;
    size_t nz = n;
    if (mode) {
        if (mode == 2)
            fuzz_fix_crcs(buf, n);
        size_t cap = ZSTD_compressBound(n);
        z = malloc(cap);
        if (!z) {
            free(buf);
            return 0;
        }
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 1);
        nz = ZSTD_compress2(cc, z, cap, buf, n);
        ZSTD_freeCCtx(cc);
        if (ZSTD_isError(nz)) {
            free(z);
            free(buf);
            return 0;
        }
    }
    enum trk_status want = trk_cms_raw_decode(cond, z, nz, &ref);
    enum trk_status st = trk_pt_run(pt, z, nz, &res, false);
    if (st != TRK_OK && st != TRK_ERR_PARSE)
        abort(); /* only malformed containers may be refused */
    if (want == TRK_OK) {
        if (st != TRK_OK)
            abort();
        if (res.counts.overflow_words == 0 &&
            (res.counts.digis != ref.n || res.counts.errors != ref.nerrors))
            abort();
    }
    if (st == TRK_OK) {
        for (uint32_t i = 0; i < res.ntracks; i++)
            for (uint32_t k = res.track_hit_offsets[i]; k < res.track_hit_offsets[i + 1]; k++)
                if (res.track_hits[k] >= res.nhits)
                    abort();
        for (uint32_t h = 0; h < res.nhits; h++)
            if (res.hit_module[h] >= TRK_CMS_NMODULES)
                abort();
    }
    if (z != buf)
        free(z);
    free(buf);
    return 0;
}
