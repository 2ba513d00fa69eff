/* libFuzzer target: the TrackML CSV parsers. The input is up to five texts separated by
 * NUL bytes: hits, particles, truth, cells, submission (missing ones are absent files).
 * Accepted events are written as CSV and must read back with identical columns.
 * With $TRK_FUZZ_SEED_DIR set, writes seed inputs there and exits. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trackml_csv_internal.h"
#include "trk/log.h"
#include "trk/trackml_csv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

static void write_seed(const char *dir, const char *name, const char *const *parts, int n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        exit(1);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc('\0', f);
        fputs(parts[i], f);
    }
    fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trk_log_set_sink(quiet, NULL);
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (!dir || !*dir)
        return 0;
    static const char *const full[] = {
        "hit_id,x,y,z,volume_id,layer_id,module_id\n"
        "1,-76.566,-11.3673,-1502.5,7,2,1\n2,-30.1556,-0.067776,-1502.5,7,2,1\n"
        "3,24.148000000000003,1e-3,-2.5E+2,8,4,12\n",
        "particle_id,particle_type,vx,vy,vz,px,py,pz,q,nhits\n"
        "4505867370102784,-211,-0.0176659,-0.00325473,2.81956,-0.0175291,-0.240424,"
        "-0.128744,-1,7\n",
        "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n"
        "1,4505867370102784,-76.572,-11.3739,-1502.5,-0.325051,-0.0705529,-7.13094,"
        "6.96929e-06\n2,0,-30.1267,-0.0670537,-1502.5,-536408.0,16491.7,-843797.0,0.0\n"
        "3,99,1,2,3,4,5,6,0.5\n",
        "hit_id,ch0,ch1,value\n1,274,839,0.295811\n3,121,1,0.0737505\n",
        "event_id,hit_id,track_id\n0,1,5\n0,3,-1\n",
    };
    static const char *const sparse[] = {
        "\xEF\xBB\xBFhit_id,x,y,z,volume_id,layer_id,module_id,extra\r\n"
        "16884,28.9578,-13.4703,-452.668,8,2,7,x\r\n\r\n16890,21.2495,24.148,-485.528,8,2,10,y\r\n",
        "particle_id,vx,vy,vz,px,py,pz,q,nhits\n"
        "4503737066323968,-0.00928816,0.00986098,-0.0778789,-0.948125,0.470892,2.01006,1,11\n",
        "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n"
        "16890,4503737066323968,1,2,3,4,5,6,nan\n16884,0,0,0,0,0,0,0,0\n",
    };
    static const char *const hits_only[] = {"hit_id,x,y,z,volume_id,layer_id,module_id\n"
                                            "1,1,2,3,4,5,6"};
    write_seed(dir, "seed-full", full, 5);
    write_seed(dir, "seed-sparse", sparse, 3);
    write_seed(dir, "seed-hits", hits_only, 1);
    exit(0);
}

static int same_bits_or_nan(const struct trk_tensor *a, const struct trk_tensor *b)
{
    if (a->nbytes != b->nbytes)
        return 0;
    if (a->dtype != TRK_DTYPE_FP32)
        return !a->nbytes || !memcmp(a->data, b->data, a->nbytes);
    const float *x = a->data, *y = b->data;
    for (size_t i = 0; i < a->nbytes / 4; i++)
        if (!(isnan(x[i]) && isnan(y[i])) && memcmp(&x[i], &y[i], 4))
            return 0;
    return 1;
}

static char prefix[64]; /* scratch files <prefix>-*.csv */

static void remove_tmp(void)
{
    static const char *const parts[] = {"hits", "cells", "particles", "truth"};
    for (int i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s-%s.csv", prefix, parts[i]);
        remove(path);
    }
}

static void roundtrip(const struct trk_event *ev)
{
    if (!prefix[0]) {
        snprintf(prefix, sizeof prefix, "/tmp/fuzz_trackml_%d", (int)getpid());
        atexit(remove_tmp);
    }
    if (trk_trackml_write(prefix, ev, false) != TRK_OK)
        abort();
    struct trk_event back;
    if (trk_trackml_read(prefix, &back) != TRK_OK || back.ntensors != ev->ntensors)
        abort();
    for (uint32_t i = 0; i < ev->ntensors; i++) {
        const struct trk_tensor *a = ev->tensors[i], *b = trk_event_find(&back, a->name);
        if (!b || a->dtype != b->dtype || a->ndim != b->ndim ||
            memcmp(a->shape, b->shape, sizeof a->shape) || !same_bits_or_nan(a, b))
            abort();
    }
    trk_event_fini(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trk_trackml_text parts[5];
    memset(parts, 0, sizeof parts);
    const char *p = (const char *)data, *end = p + size;
    int n = 0;
    for (; n < 5; n++) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        parts[n].data = p;
        parts[n].n = (size_t)((z ? z : end) - p);
        if (!z) {
            n++;
            break;
        }
        p = z + 1;
    }
    static const char *const names[5] = {"hits", "particles", "truth", "cells", "submission"};
    for (int i = 0; i < 5; i++)
        parts[i].name = names[i];
    struct trk_trackml_text text[TRK_TRACKML_NPARTS] = {
        [TRK_TRACKML_HITS] = parts[0],
        [TRK_TRACKML_PARTICLES] = parts[1],
        [TRK_TRACKML_TRUTH] = parts[2],
        [TRK_TRACKML_CELLS] = parts[3],
    };
    struct trk_event ev;
    if (trk_trackml_parse_mem(text, 1, &ev) != TRK_OK) {
        if (ev.ntensors != 0)
            abort(); /* failure must leave the event empty */
        return 0;
    }
    size_t nhits = 0;
    if (!trk_event_column(&ev, "hit_pos", TRK_DTYPE_FP32, 3, &nhits))
        abort();
    if (nhits <= 256)
        roundtrip(&ev);
    if (parts[4].data) {
        uint32_t before = ev.ntensors;
        enum trk_status st = trk_trackml_parse_submission_mem(&parts[4], nhits, &ev);
        if ((st == TRK_OK) != (ev.ntensors == before + 1))
            abort();
    }
    trk_event_fini(&ev);
    return 0;
}
