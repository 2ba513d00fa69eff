/* libFuzzer target: the event-file reader (trk_evfile_open_mem + trk_evfile_read) on
 * arbitrary bytes. Every accepted file is also written back and must read back equal.
 * The first input byte is a mode: odd → every CRC of the rest is recomputed before
 * parsing (otherwise almost every mutation stops at the header CRC), even → the rest
 * is parsed as it is. With $TRK_FUZZ_SEED_DIR set, writes seed files there and exits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trk/evfile.h"
#include "trk/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(enum trk_log_level level, const char *line, void *user)
{
    (void)level;
    (void)line;
    (void)user;
}

static void add(struct trk_event *ev, const char *name, enum trk_dtype dt, size_t n,
                uint32_t width, unsigned seed)
{
    void *p;
    if (trk_event_add_column(ev, name, dt, n, width, &p) != TRK_OK)
        abort();
    unsigned char *b = p;
    size_t bytes = n * (width ? width : 1) * trk_dtype_size(dt);
    for (size_t i = 0; i < bytes; i++)
        b[i] = (unsigned char)(seed * 31 + i * 7);
}

static uint32_t crc_table[256];

static uint32_t crc32_ieee(uint32_t c, const unsigned char *p, uint64_t n)
{
    if (!crc_table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t v = i;
            for (int k = 0; k < 8; k++)
                v = (v >> 1) ^ (0xedb88320u & (0u - (v & 1u)));
            crc_table[i] = v;
        }
    c = ~c;
    for (uint64_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes whatever CRCs of the (evfile.h) layout lie inside the buffer. */
static void fix_crcs(unsigned char *b, uint64_t n)
{
    if (n < 64)
        return;
    uint64_t meta = rd32(b + 32);
    if (meta <= n - 64)
        wr32(b + 60, crc32_ieee(crc32_ieee(0, b, 60), b + 64, meta));
    uint64_t ix = rd64(b + 24);
    if (ix > n || n - ix < 20)
        return;
    uint64_t count = rd64(b + ix + 8);
    if (count > (n - ix - 20) / 24)
        return;
    for (uint64_t i = 0; i < count; i++) {
        unsigned char *e = b + ix + 16 + 24 * i;
        uint64_t off = rd64(e);
        if (off > n || n - off < 32)
            continue;
        uint64_t head = 32 + 160 * (uint64_t)rd32(b + off + 16);
        uint64_t lim = head < n - off ? head : n - off;
        /* section data CRCs first: the table (with them) is under the index CRC */
        for (uint64_t s = 32; s + 160 <= lim; s += 160) {
            unsigned char *t = b + off + s;
            uint64_t doff = rd64(t + 136), dn = rd64(t + 144);
            if (doff <= n - off && dn <= n - off - doff)
                wr32(t + 152, crc32_ieee(0, b + off + doff, dn));
        }
        if (head <= n - off)
            wr32(e + 16, crc32_ieee(0, b + off, head));
    }
    uint64_t ilen = 16 + 24 * count;
    wr32(b + ix + ilen, crc32_ieee(0, b + ix, ilen));
}

static void write_seed(const char *dir, const char *name, size_t nev, const char *meta)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.raw", dir, name);
    struct trk_evfile_writer *w;
    if (trk_evfile_create(path, TRK_DETECTOR_TRACKML, meta, &w) != TRK_OK)
        exit(1);
    for (size_t k = 0; k < nev; k++) {
        struct trk_event ev;
        trk_event_init(&ev, k);
        add(&ev, "hit_pos", TRK_DTYPE_FP32, k + 2, 3, (unsigned)k);
        add(&ev, "hit_module", TRK_DTYPE_UINT32, k + 2, 0, 1);
        add(&ev, "raw_zstd", TRK_DTYPE_UINT8, 5 * k, 0, 2);
        add(&ev, "particle_id", TRK_DTYPE_UINT64, 0, 0, 3);
        add(&ev, "digi_row", TRK_DTYPE_UINT16, 1, 0, 4);
        if (trk_evfile_append(w, &ev) != TRK_OK)
            exit(1);
        trk_event_fini(&ev);
    }
    if (trk_evfile_finish(w) != TRK_OK)
        exit(1);
    /* The seed is the file behind a mode byte, once per mode. */
    FILE *f = fopen(path, "rb");
    static unsigned char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (!f || n == sizeof buf)
        exit(1);
    fclose(f);
    remove(path);
    for (int mode = 0; mode < 2; mode++) {
        snprintf(path, sizeof path, "%s/%s-mode%d", dir, name, mode);
        f = fopen(path, "wb");
        if (!f || fputc(mode, f) == EOF || fwrite(buf, 1, n, f) != n || fclose(f) != 0)
            exit(1);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    trk_log_set_sink(quiet, NULL);
    const char *dir = getenv("TRK_FUZZ_SEED_DIR");
    if (dir && *dir) {
        write_seed(dir, "seed-empty.trkev", 0, "");
        write_seed(dir, "seed-one.trkev", 1, "trk gen --seed 1");
        write_seed(dir, "seed-three.trkev", 3, "three events");
        exit(0);
    }
    return 0;
}

static int same_event(const struct trk_event *a, const struct trk_event *b)
{
    if (a->number != b->number || a->ntensors != b->ntensors)
        return 0;
    for (uint32_t i = 0; i < a->ntensors; i++) {
        const struct trk_tensor *x = a->tensors[i], *y = b->tensors[i];
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->ndim != y->ndim ||
            memcmp(x->shape, y->shape, sizeof x->shape) || x->nbytes != y->nbytes ||
            (x->nbytes && memcmp(x->data, y->data, x->nbytes)))
            return 0;
    }
    return 1;
}

static char path[64]; /* the scratch file */

static void remove_tmp(void)
{
    remove(path);
}

static void run(const uint8_t *data, size_t size)
{
    struct trk_evfile *f = NULL;
    if (trk_evfile_open_mem(data, size, "fuzz", &f) != TRK_OK)
        return;
    size_t n = trk_evfile_count(f);
    (void)strlen(trk_evfile_meta(f));
    /* Accepted events are written to a second file that must read back equal. */
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_evfile_%d.trkev", (int)getpid());
        atexit(remove_tmp);
    }
    struct trk_evfile_writer *w = NULL;
    if (trk_evfile_create(path, trk_evfile_detector(f), trk_evfile_meta(f), &w) != TRK_OK)
        abort();
    size_t good = 0;
    for (size_t i = 0; i < n && i < 16; i++) {
        struct trk_event ev;
        if (trk_evfile_read(f, i, &ev) != TRK_OK) {
            if (ev.ntensors != 0)
                abort(); /* failure must leave the event empty */
            continue;
        }
        if (trk_evfile_append(w, &ev) != TRK_OK)
            abort();
        good++;
        trk_event_fini(&ev);
    }
    if (trk_evfile_finish(w) != TRK_OK)
        abort();
    struct trk_evfile *g = NULL;
    if (trk_evfile_open(path, &g) != TRK_OK || trk_evfile_count(g) != good ||
        strcmp(trk_evfile_meta(g), trk_evfile_meta(f)))
        abort();
    for (size_t i = 0, k = 0; i < n && i < 16; i++) {
        struct trk_event a, b;
        if (trk_evfile_read(f, i, &a) != TRK_OK)
            continue;
        if (trk_evfile_read(g, k++, &b) != TRK_OK || !same_event(&a, &b))
            abort();
        trk_event_fini(&a);
        trk_event_fini(&b);
    }
    trk_evfile_close(g);
    trk_evfile_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (!(data[0] & 1)) {
        run(data + 1, size - 1);
        return 0;
    }
    unsigned char *copy = malloc(size - 1 ? size - 1 : 1);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    fix_crcs(copy, size - 1);
    run(copy, size - 1);
    free(copy);
    return 0;
}
