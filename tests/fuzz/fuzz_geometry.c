/* libFuzzer target: the geometry and conditions readers. The first input byte picks
 * the reader: 0 → TrackML detectors.csv (from memory), 1 → CMS pixel module CSV,
 * 2..5 → one of the four CMS conditions files (these two read files, so the input
 * is written to a scratch folder first). Anything accepted must be a usable,
 * finalised detector or a complete conditions set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trk/cms.h"
#include "trk/log.h"
#include "trk/trackml.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct trk_cms_conditions *good;
static uint8_t *good_bytes[4];
static size_t good_size[4];
static const char *const cond_files[] = {"cms_cabling.bin", "cms_gains.bin", "cms_modules.bin",
                                         "cms_beamspot.bin"};

static void write_file(const char *path, const uint8_t *d, size_t n);

static void quiet(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trk_log_set_sink(quiet, NULL);
    snprintf(dir, sizeof dir, "/tmp/trk-fuzz-geometry-%d", (int)getpid());
    struct trk_detector *det = NULL;
    mkdir(dir, 0700);
    if (trk_cms_detector_builtin(&det) != TRK_OK || trk_cms_conditions_make(det, 1, &good) != TRK_OK)
        abort();
    trk_detector_free(det);
    /* The valid set stays on disk; each input replaces one file, which is restored
     * from these bytes afterwards. */
    if (trk_cms_conditions_write(good, dir) != TRK_OK)
        abort();
    for (int i = 0; i < 4; i++) {
        char src[128];
        snprintf(src, sizeof src, "%s/%s", dir, cond_files[i]);
        FILE *f = fopen(src, "rb");
        if (!f)
            abort();
        good_bytes[i] = malloc(1u << 24);
        if (!good_bytes[i])
            abort();
        good_size[i] = fread(good_bytes[i], 1, 1u << 24, f);
        fclose(f);
    }
    const char *seeds = getenv("TRK_FUZZ_SEED_DIR");
    if (seeds) {
        static const char tml[] =
            "\0volume_id,layer_id,module_id,cx,cy,cz,rot_xu,rot_xv,rot_xw,rot_yu,rot_yv,"
            "rot_yw,rot_zu,rot_zv,rot_zw,module_t,module_minhu,module_maxhu,module_hv,"
            "pitch_u,pitch_v\n8,2,1,32,0,-400,0,0,1,1,0,0,0,1,0,0.15,8.4,8.4,36,0.05,0.05625\n";
        char p[256];
        snprintf(p, sizeof p, "%s/trackml", seeds);
        write_file(p, (const uint8_t *)tml, sizeof tml - 1);
        if (trk_cms_conditions_write(good, dir) != TRK_OK)
            abort();
        for (int i = 0; i < 4; i++) {
            char src[128];
            snprintf(src, sizeof src, "%s/%s", dir, cond_files[i]);
            FILE *f = fopen(src, "rb");
            if (!f)
                abort();
            uint8_t *buf = malloc(1u << 24);
            buf[0] = (uint8_t)(2 + i);
            size_t n = fread(buf + 1, 1, (1u << 24) - 1, f);
            fclose(f);
            snprintf(p, sizeof p, "%s/cond%d", seeds, i);
            write_file(p, buf, n + 1);
            free(buf);
        }
        exit(0);
    }
    return 0;
}

static void write_file(const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (n && fwrite(d, 1, n, f) != n)
        abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 6;
    data++;
    size--;
    struct trk_detector *det = NULL;
    char path[128];
    if (mode == 0) {
        if (trk_trackml_detector_parse((const char *)data, size, "fuzz.csv", &det) == TRK_OK &&
            (!det->nmodules || !det->nlayers))
            abort();
    } else if (mode == 1) {
        snprintf(path, sizeof path, "%s/modules.csv", dir);
        write_file(path, data, size);
        if (trk_cms_detector_from_csv(path, &det) == TRK_OK && det->nmodules != 1856)
            abort();
    } else {
        /* A complete, valid set with one file replaced by the input. */
        snprintf(path, sizeof path, "%s/%s", dir, cond_files[mode - 2]);
        write_file(path, data, size);
        struct trk_cms_conditions *c = NULL;
        if (trk_cms_conditions_read(dir, &c) == TRK_OK)
            trk_cms_conditions_free(c);
        write_file(path, good_bytes[mode - 2], good_size[mode - 2]);
    }
    trk_detector_free(det);
    return 0;
}
