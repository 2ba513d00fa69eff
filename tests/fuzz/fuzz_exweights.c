/* libFuzzer target: the Exa.TrkX weights reader (safetensors header, offsets, tensor
 * names and shapes, metadata). A file it accepts must give usable parameters. With
 * $TRK_FUZZ_SEED_DIR set, copies the example model's weights there as the seed and
 * exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trk/exatrkx.h"
#include "trk/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (!dir || !*dir)
        return 0;
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s", __FILE__);
    char *slash = strrchr(src, '/');
    if (slash)
        snprintf(slash, sizeof src - (size_t)(slash - src),
                 "/../../config/examples/models/exatrkx/1/exatrkx.safetensors");
    snprintf(dst, sizeof dst, "%s/exweights.safetensors", dir);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    exit(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trk_ex_weights *w = NULL;
    char err[512];
    enum trk_status st = trk_ex_weights_parse(data, size, &w, err, sizeof err);
    if (st == TRK_OK) {
        struct trk_ex_params p;
        trk_ex_params_default(&p, w);
        if (!(p.radius > 0.0f) || p.knn < 1 || p.knn > 64)
            abort(); /* the loader must have rejected these */
    } else if (w || !err[0]) {
        abort(); /* a failure leaves no weights and says why */
    }
    trk_ex_weights_free(w);
    return 0;
}
