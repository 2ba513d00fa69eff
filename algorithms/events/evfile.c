/* trkserve — event files (trk/evfile.h has the byte layout). */
#include "trk/evfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "trk/log.h"

#define FILE_MAGIC "TRKEVF\r\n"
#define EVENT_MAGIC "TRKEVENT"
#define INDEX_MAGIC "TRKINDEX"
#define HEADER_SIZE 64u
#define HEADER_CRC_AT 60u
#define EVENT_HEADER_SIZE 32u
#define SECTION_SIZE 160u
#define SECTION_NAME_SIZE 64u
#define INDEX_HEADER_SIZE 16u
#define INDEX_ENTRY_SIZE 24u
#define ALIGN 64u

/* ---- little-endian helpers (byte-wise: any alignment, any host) -------------------- */

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t crc(uint32_t c, const void *p, size_t n)
{
    return (uint32_t)crc32_z(c, (const Bytef *)p, (z_size_t)n);
}

static uint64_t align_up(uint64_t v)
{
    return (v + (ALIGN - 1)) & ~(uint64_t)(ALIGN - 1);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HOST_BIG_ENDIAN 1
/* Reverses every element of size es in place (host order <-> little-endian). */
static void swap_elements(void *data, size_t nbytes, size_t es)
{
    unsigned char *p = data;
    for (size_t off = 0; es > 1 && off + es <= nbytes; off += es)
        for (size_t i = 0; i < es / 2; i++) {
            unsigned char t = p[off + i];
            p[off + i] = p[off + es - 1 - i];
            p[off + es - 1 - i] = t;
        }
}
#else
#define HOST_BIG_ENDIAN 0
#endif

/* Checks a BYTES payload: exactly `numel` u32-length-prefixed strings filling n bytes.
 * Returns the offset of the first bad prefix, or SIZE_MAX when the payload is fine. */
static size_t bytes_payload_bad_at(const unsigned char *p, size_t n, size_t numel)
{
    size_t off = 0;
    for (size_t i = 0; i < numel; i++) {
        if (n - off < 4)
            return off;
        size_t len = get_u32(p + off);
        if (len > n - off - 4)
            return off;
        off += 4 + len;
    }
    return off == n ? SIZE_MAX : off;
}

/* ---- writer --------------------------------------------------------------------- */

struct index_entry {
    uint64_t offset, size;
    uint32_t crc;
};

struct trk_evfile_writer {
    FILE *fp;
    char *path;
    enum trk_detector_kind det;
    char *meta;
    uint32_t meta_len;
    uint64_t pos;           /* bytes written so far (file offset of the next byte) */
    struct index_entry *index;
    size_t count, cap;
    bool failed;
};

static void header_encode(unsigned char h[HEADER_SIZE], enum trk_detector_kind det,
                          uint64_t count, uint64_t index_offset, const char *meta,
                          uint32_t meta_len)
{
    memset(h, 0, HEADER_SIZE);
    memcpy(h, FILE_MAGIC, 8);
    put_u32(h + 8, TRK_EVFILE_VERSION);
    put_u32(h + 12, (uint32_t)det);
    put_u64(h + 16, count);
    put_u64(h + 24, index_offset);
    put_u32(h + 32, meta_len);
    uint32_t c = crc(0, h, HEADER_CRC_AT);
    c = crc(c, meta, meta_len);
    put_u32(h + HEADER_CRC_AT, c);
}

static enum trk_status w_write(struct trk_evfile_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->fp) != n) {
        TRK_LOGE("%s: write failed at byte offset %llu: %s (check free disk space and "
                 "permissions)", w->path, (unsigned long long)w->pos, strerror(errno));
        return TRK_ERR_IO;
    }
    w->pos += n;
    return TRK_OK;
}

static enum trk_status w_pad(struct trk_evfile_writer *w)
{
    static const unsigned char zeros[ALIGN];
    return w_write(w, zeros, (size_t)(align_up(w->pos) - w->pos));
}

enum trk_status trk_evfile_create(const char *path, enum trk_detector_kind det, const char *meta,
                                  struct trk_evfile_writer **out)
{
    if (out)
        *out = NULL;
    if (!path || !out || (unsigned)det > TRK_DETECTOR_TRACKML) {
        TRK_LOGE("bad argument: path %s, detector kind %d, out %p", path ? path : "NULL",
                 (int)det, (void *)out);
        return TRK_ERR_INVALID_ARG;
    }
    if (!meta)
        meta = "";
    size_t meta_len = strlen(meta);
    if (meta_len > TRK_EVFILE_META_MAX) {
        TRK_LOGE("%s: metadata is %zu bytes, at most %u are allowed (shorten it)", path,
                 meta_len, TRK_EVFILE_META_MAX);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_ERR_NO_MEMORY;
    struct trk_evfile_writer *w = calloc(1, sizeof *w);
    if (!w)
        goto fail;
    w->det = det;
    w->meta_len = (uint32_t)meta_len;
    w->path = strdup(path);
    w->meta = strdup(meta);
    if (!w->path || !w->meta)
        goto fail;
    w->fp = fopen(path, "wb");
    if (!w->fp) {
        TRK_LOGE("%s: cannot create: %s (check the directory exists and is writable)", path,
                 strerror(errno));
        st = TRK_ERR_IO;
        goto fail;
    }
    unsigned char h[HEADER_SIZE];
    header_encode(h, det, 0, 0, w->meta, w->meta_len);
    if ((st = w_write(w, h, sizeof h)) != TRK_OK ||
        (st = w_write(w, w->meta, meta_len)) != TRK_OK || (st = w_pad(w)) != TRK_OK)
        goto fail;
    *out = w;
    return TRK_OK;
fail:
    if (w && w->fp) {
        fclose(w->fp);
        remove(path);
    }
    if (w) {
        free(w->path);
        free(w->meta);
        free(w);
    }
    return st;
}

/* Validates one tensor for writing: name, dtype, shape and size consistency. */
static enum trk_status check_tensor(const struct trk_evfile_writer *w, uint64_t evno,
                                    const struct trk_tensor *t)
{
    size_t len = strnlen(t->name, sizeof t->name);
    size_t numel;
    if (len == 0 || len >= SECTION_NAME_SIZE) {
        TRK_LOGE("%s: event %llu: tensor name must be 1-63 characters", w->path,
                 (unsigned long long)evno);
        return TRK_ERR_INVALID_ARG;
    }
    if (t->dtype <= TRK_DTYPE_INVALID || t->dtype >= TRK_DTYPE_COUNT ||
        t->ndim > TRK_TENSOR_MAX_DIMS || trk_shape_numel(t->ndim, t->shape, &numel) != TRK_OK ||
        (t->nbytes && !t->data)) {
        TRK_LOGE("%s: event %llu: tensor '%s' has a bad dtype (%d), ndim (%u) or shape",
                 w->path, (unsigned long long)evno, t->name, (int)t->dtype, t->ndim);
        return TRK_ERR_INVALID_ARG;
    }
    size_t es = trk_dtype_size(t->dtype);
    if (es && (numel > SIZE_MAX / es || numel * es != t->nbytes)) {
        TRK_LOGE("%s: event %llu: tensor '%s': %zu bytes do not match %zu elements of %s",
                 w->path, (unsigned long long)evno, t->name, t->nbytes, numel,
                 trk_dtype_name(t->dtype));
        return TRK_ERR_INVALID_ARG;
    }
    if (!es && bytes_payload_bad_at(t->data, t->nbytes, numel) != SIZE_MAX) {
        TRK_LOGE("%s: event %llu: tensor '%s': BYTES data is not %zu length-prefixed strings "
                 "filling %zu bytes", w->path, (unsigned long long)evno, t->name, numel,
                 t->nbytes);
        return TRK_ERR_INVALID_ARG;
    }
    return TRK_OK;
}

static enum trk_status write_data(struct trk_evfile_writer *w, const struct trk_tensor *t)
{
#if HOST_BIG_ENDIAN
    size_t es = trk_dtype_size(t->dtype);
    if (es > 1) {
        unsigned char buf[4096];
        const unsigned char *p = t->data;
        for (size_t off = 0; off < t->nbytes; off += sizeof buf) {
            size_t n = t->nbytes - off < sizeof buf ? t->nbytes - off : sizeof buf;
            memcpy(buf, p + off, n);
            swap_elements(buf, n, es);
            enum trk_status st = w_write(w, buf, n);
            if (st != TRK_OK)
                return st;
        }
        return TRK_OK;
    }
#endif
    return w_write(w, t->data, t->nbytes);
}

static uint32_t data_crc(const struct trk_tensor *t)
{
#if HOST_BIG_ENDIAN
    size_t es = trk_dtype_size(t->dtype);
    if (es > 1) {
        unsigned char buf[4096];
        const unsigned char *p = t->data;
        uint32_t c = 0;
        for (size_t off = 0; off < t->nbytes; off += sizeof buf) {
            size_t n = t->nbytes - off < sizeof buf ? t->nbytes - off : sizeof buf;
            memcpy(buf, p + off, n);
            swap_elements(buf, n, es);
            c = crc(c, buf, n);
        }
        return c;
    }
#endif
    return crc(0, t->data, t->nbytes);
}

enum trk_status trk_evfile_append(struct trk_evfile_writer *w, const struct trk_event *ev)
{
    if (!w || !ev || (ev->ntensors && !ev->tensors)) {
        TRK_LOGE("bad argument: writer %p, event %p", (void *)w, (const void *)ev);
        return TRK_ERR_INVALID_ARG;
    }
    if (w->failed) {
        TRK_LOGE("%s: an earlier append failed; finish the writer and start again", w->path);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    unsigned char *table = NULL;
    uint32_t ns = ev->ntensors;
    if (ns > TRK_EVFILE_SECTIONS_MAX) {
        TRK_LOGE("%s: event %llu has %u tensors, at most %u fit an event", w->path,
                 (unsigned long long)ev->number, ns, TRK_EVFILE_SECTIONS_MAX);
        return TRK_ERR_INVALID_ARG;
    }
    for (uint32_t i = 0; i < ns; i++)
        if ((st = check_tensor(w, ev->number, ev->tensors[i])) != TRK_OK)
            return st;
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct index_entry *n = realloc(w->index, cap * sizeof *n);
        if (!n)
            return TRK_ERR_NO_MEMORY;
        w->index = n;
        w->cap = cap;
    }
    size_t head = EVENT_HEADER_SIZE + (size_t)ns * SECTION_SIZE;
    table = calloc(1, head);
    if (!table) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    /* Lay the sections out, then write header + table + data in one pass. */
    uint64_t off = align_up(head);
    for (uint32_t i = 0; i < ns; i++) {
        const struct trk_tensor *t = ev->tensors[i];
        unsigned char *e = table + EVENT_HEADER_SIZE + (size_t)i * SECTION_SIZE;
        memcpy(e, t->name, strnlen(t->name, SECTION_NAME_SIZE - 1));
        put_u32(e + 64, (uint32_t)t->dtype);
        put_u32(e + 68, t->ndim);
        for (uint32_t d = 0; d < t->ndim; d++)
            put_u64(e + 72 + 8 * d, (uint64_t)t->shape[d]);
        put_u64(e + 136, off);
        put_u64(e + 144, t->nbytes);
        put_u32(e + 152, data_crc(t));
        off = align_up(off + t->nbytes);
    }
    memcpy(table, EVENT_MAGIC, 8);
    put_u64(table + 8, ev->number);
    put_u32(table + 16, ns);
    put_u64(table + 24, off);
    struct index_entry *ie = &w->index[w->count];
    ie->offset = w->pos;
    ie->size = off;
    ie->crc = crc(0, table, head);
    if ((st = w_write(w, table, head)) != TRK_OK || (st = w_pad(w)) != TRK_OK)
        goto fail;
    for (uint32_t i = 0; i < ns; i++)
        if ((st = write_data(w, ev->tensors[i])) != TRK_OK || (st = w_pad(w)) != TRK_OK)
            goto fail;
    if (w->pos != ie->offset + ie->size) {
        TRK_LOGE("%s: event %llu: wrote %llu bytes, laid out %llu", w->path,
                 (unsigned long long)ev->number, (unsigned long long)(w->pos - ie->offset),
                 (unsigned long long)ie->size);
        st = TRK_ERR_INTERNAL;
        goto fail;
    }
    w->count++;
    free(table);
    return TRK_OK;
fail:
    w->failed = true;
    free(table);
    return st;
}

enum trk_status trk_evfile_finish(struct trk_evfile_writer *w)
{
    if (!w)
        return TRK_ERR_INVALID_ARG;
    enum trk_status st = TRK_OK;
    unsigned char *idx = NULL;
    if (w->failed) {
        TRK_LOGE("%s: not finished because an append failed; the file is incomplete and "
                 "readers will refuse it", w->path);
        st = TRK_ERR_IO;
        goto fail;
    }
    size_t n = INDEX_HEADER_SIZE + w->count * INDEX_ENTRY_SIZE + 4;
    idx = calloc(1, n);
    if (!idx) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    memcpy(idx, INDEX_MAGIC, 8);
    put_u64(idx + 8, w->count);
    for (size_t i = 0; i < w->count; i++) {
        unsigned char *e = idx + INDEX_HEADER_SIZE + i * INDEX_ENTRY_SIZE;
        put_u64(e, w->index[i].offset);
        put_u64(e + 8, w->index[i].size);
        put_u32(e + 16, w->index[i].crc);
    }
    put_u32(idx + n - 4, crc(0, idx, n - 4));
    uint64_t index_offset = w->pos; /* every event ends 64-byte aligned */
    if ((st = w_write(w, idx, n)) != TRK_OK)
        goto fail;
    unsigned char h[HEADER_SIZE];
    header_encode(h, w->det, w->count, index_offset, w->meta, w->meta_len);
    if (fseek(w->fp, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->fp) != sizeof h ||
        fflush(w->fp) != 0) {
        TRK_LOGE("%s: rewriting the header failed: %s", w->path, strerror(errno));
        st = TRK_ERR_IO;
        goto fail;
    }
fail:
    if (w->fp && fclose(w->fp) != 0 && st == TRK_OK) {
        TRK_LOGE("%s: close failed: %s (disk full?)", w->path, strerror(errno));
        st = TRK_ERR_IO;
    }
    free(idx);
    free(w->index);
    free(w->path);
    free(w->meta);
    free(w);
    return st;
}

/* ---- reader --------------------------------------------------------------------- */

struct trk_evfile {
    const unsigned char *data;
    size_t size;
    void *map;          /* mmap'ed region (size bytes), or NULL */
    void *heap;         /* read() copy, or NULL */
    char *name;
    char *meta;
    enum trk_detector_kind det;
    size_t count;
    const unsigned char *index; /* the first index entry */
    uint64_t data_start;        /* first byte after the header and metadata */
    uint64_t index_offset;
};

#define BAD(...)                                                                            \
    do {                                                                                    \
        TRK_LOGE(__VA_ARGS__);                                                              \
        st = TRK_ERR_PARSE;                                                                 \
        goto fail;                                                                          \
    } while (0)

static enum trk_status parse_file(struct trk_evfile *f)
{
    enum trk_status st = TRK_OK;
    const unsigned char *p = f->data;
    const char *nm = f->name;
    size_t size = f->size;
    if (size < HEADER_SIZE)
        BAD("%s: %zu bytes is too short for an event file (the header alone is %u bytes); "
            "the file is truncated or not an event file", nm, size, HEADER_SIZE);
    if (memcmp(p, FILE_MAGIC, 8) != 0)
        BAD("%s: byte offset 0: bad magic (expected \"TRKEVF\\r\\n\"): not a trkserve event "
            "file%s", nm, memcmp(p, "TRKEVF", 6) == 0 ? " (line endings were converted?)" : "");
    uint32_t version = get_u32(p + 8);
    if (version != TRK_EVFILE_VERSION)
        BAD("%s: byte offset 8: format version %u is not supported (this build reads version "
            "%u only); use a matching trkserve", nm, version, TRK_EVFILE_VERSION);
    uint32_t meta_len = get_u32(p + 32);
    if (meta_len > TRK_EVFILE_META_MAX || meta_len > size - HEADER_SIZE)
        BAD("%s: byte offset 32: metadata length %u runs past the end of the %zu-byte file "
            "(limit %u)", nm, meta_len, size, TRK_EVFILE_META_MAX);
    uint32_t want = crc(crc(0, p, HEADER_CRC_AT), p + HEADER_SIZE, meta_len);
    uint32_t got = get_u32(p + HEADER_CRC_AT);
    if (want != got)
        BAD("%s: byte offset 60: header CRC mismatch (stored %08x, computed %08x): the header "
            "or metadata is corrupt", nm, got, want);
    uint32_t det = get_u32(p + 12);
    if (det > TRK_DETECTOR_TRACKML)
        BAD("%s: byte offset 12: unknown detector kind %u (0-2 are known)", nm, det);
    f->det = (enum trk_detector_kind)det;
    uint64_t count = get_u64(p + 16), index_offset = get_u64(p + 24);
    f->data_start = align_up(HEADER_SIZE + (uint64_t)meta_len);
    if (index_offset == 0)
        BAD("%s: byte offset 24: the index offset is 0: the writer never finished this file "
            "(it crashed or trk_evfile_finish was not called); regenerate it", nm);
    if (index_offset < f->data_start || index_offset % ALIGN != 0 ||
        index_offset > size || size - index_offset < INDEX_HEADER_SIZE + 4)
        BAD("%s: byte offset 24: index offset %llu is outside the %zu-byte file or misaligned "
            "(the file is truncated or corrupt)", nm, (unsigned long long)index_offset, size);
    const unsigned char *ix = p + index_offset;
    size_t room = size - (size_t)index_offset;
    if (memcmp(ix, INDEX_MAGIC, 8) != 0)
        BAD("%s: byte offset %llu: bad index magic (expected \"TRKINDEX\"): the file is "
            "truncated or corrupt", nm, (unsigned long long)index_offset);
    uint64_t icount = get_u64(ix + 8);
    if (icount != count)
        BAD("%s: byte offset %llu: the index lists %llu events, the header %llu", nm,
            (unsigned long long)(index_offset + 8), (unsigned long long)icount,
            (unsigned long long)count);
    if (count > (room - INDEX_HEADER_SIZE - 4) / INDEX_ENTRY_SIZE)
        BAD("%s: byte offset 16: event count %llu needs a %llu-entry index, but only %zu bytes "
            "follow the index offset %llu (truncated file?)", nm, (unsigned long long)count,
            (unsigned long long)count, room, (unsigned long long)index_offset);
    size_t ilen = INDEX_HEADER_SIZE + (size_t)count * INDEX_ENTRY_SIZE;
    want = crc(0, ix, ilen);
    got = get_u32(ix + ilen);
    if (want != got)
        BAD("%s: byte offset %llu: index CRC mismatch (stored %08x, computed %08x): the index "
            "is corrupt", nm, (unsigned long long)(index_offset + ilen), got, want);
    uint64_t prev_end = f->data_start;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *e = ix + INDEX_HEADER_SIZE + i * INDEX_ENTRY_SIZE;
        uint64_t off = get_u64(e), sz = get_u64(e + 8);
        if (off < prev_end || off % ALIGN != 0 || off > index_offset ||
            sz > index_offset - off || sz < EVENT_HEADER_SIZE)
            BAD("%s: event %zu: byte offset %llu: index entry (offset %llu, size %llu) is "
                "outside [%llu, %llu), misaligned or overlaps the previous event", nm, i,
                (unsigned long long)(index_offset + INDEX_HEADER_SIZE + i * INDEX_ENTRY_SIZE),
                (unsigned long long)off, (unsigned long long)sz,
                (unsigned long long)prev_end, (unsigned long long)index_offset);
        prev_end = off + sz;
    }
    f->meta = malloc((size_t)meta_len + 1);
    if (!f->meta) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    memcpy(f->meta, p + HEADER_SIZE, meta_len);
    f->meta[meta_len] = '\0';
    f->count = (size_t)count;
    f->index = ix + INDEX_HEADER_SIZE;
    f->index_offset = index_offset;
fail:
    return st;
}

static enum trk_status open_common(struct trk_evfile *f, struct trk_evfile **out)
{
    enum trk_status st = parse_file(f);
    if (st != TRK_OK) {
        trk_evfile_close(f);
        return st;
    }
    *out = f;
    return TRK_OK;
}

enum trk_status trk_evfile_open_mem(const void *data, size_t n, const char *name,
                                    struct trk_evfile **out)
{
    if (out)
        *out = NULL;
    if (!out || (n && !data)) {
        TRK_LOGE("bad argument: data %p (%zu bytes), out %p", data, n, (void *)out);
        return TRK_ERR_INVALID_ARG;
    }
    struct trk_evfile *f = calloc(1, sizeof *f);
    if (!f)
        return TRK_ERR_NO_MEMORY;
    f->name = strdup(name ? name : "<memory>");
    if (!f->name) {
        free(f);
        return TRK_ERR_NO_MEMORY;
    }
    static const unsigned char none[1];
    f->data = n ? data : none;
    f->size = n;
    return open_common(f, out);
}

enum trk_status trk_evfile_open(const char *path, struct trk_evfile **out)
{
    if (out)
        *out = NULL;
    if (!path || !out) {
        TRK_LOGE("bad argument: path %s, out %p", path ? path : "NULL", (void *)out);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_ERR_NO_MEMORY;
    struct trk_evfile *f = calloc(1, sizeof *f);
    int fd = -1;
    if (!f || !(f->name = strdup(path)))
        goto fail;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        TRK_LOGE("%s: cannot open: %s", path, strerror(e));
        st = e == ENOENT ? TRK_ERR_NOT_FOUND : TRK_ERR_IO;
        goto fail;
    }
    if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > SIZE_MAX) {
        TRK_LOGE("%s: not a regular file (or too large to map)", path);
        st = TRK_ERR_IO;
        goto fail;
    }
    f->size = (size_t)sb.st_size;
    if (f->size) {
        void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            f->map = m;
            f->data = m;
        } else {
            /* Some filesystems cannot map: read the whole file instead. */
            f->heap = malloc(f->size);
            if (!f->heap)
                goto fail;
            size_t got = 0;
            while (got < f->size) {
                ssize_t r = read(fd, (char *)f->heap + got, f->size - got);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r <= 0) {
                    TRK_LOGE("%s: read failed at byte offset %zu: %s", path, got,
                             r < 0 ? strerror(errno) : "unexpected end of file");
                    st = TRK_ERR_IO;
                    goto fail;
                }
                got += (size_t)r;
            }
            f->data = f->heap;
        }
    } else {
        static const unsigned char none[1];
        f->data = none;
    }
    close(fd);
    return open_common(f, out);
fail:
    if (fd >= 0)
        close(fd);
    trk_evfile_close(f);
    return st;
}

size_t trk_evfile_count(const struct trk_evfile *f)
{
    return f ? f->count : 0;
}

enum trk_detector_kind trk_evfile_detector(const struct trk_evfile *f)
{
    return f ? f->det : TRK_DETECTOR_NONE;
}

const char *trk_evfile_meta(const struct trk_evfile *f)
{
    return f && f->meta ? f->meta : "";
}

void trk_evfile_close(struct trk_evfile *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->size);
    free(f->heap);
    free(f->name);
    free(f->meta);
    free(f);
}

/* Decodes section i of the event block at `blk` (size bytes, file offset base) into a
 * tensor appended to ev. */
static enum trk_status read_section(const struct trk_evfile *f, size_t index, uint32_t i,
                                    const unsigned char *blk, uint64_t size, uint64_t base,
                                    uint64_t table_end, struct trk_event *ev)
{
    enum trk_status st = TRK_OK;
    const char *nm = f->name;
    const unsigned char *e = blk + EVENT_HEADER_SIZE + (size_t)i * SECTION_SIZE;
    unsigned long long eoff = (unsigned long long)(base + EVENT_HEADER_SIZE +
                                                   (uint64_t)i * SECTION_SIZE);
    struct trk_tensor *t = NULL;
    char name[SECTION_NAME_SIZE];
    memcpy(name, e, sizeof name);
    size_t len = strnlen(name, sizeof name);
    if (len == 0 || len == sizeof name) {
        name[sizeof name - 1] = '\0';
        BAD("%s: event %zu: section %u: byte offset %llu: the name is %s", nm, index, i, eoff,
            len ? "not NUL-terminated within 64 bytes" : "empty");
    }
    uint32_t dt = get_u32(e + 64), ndim = get_u32(e + 68);
    if (dt <= TRK_DTYPE_INVALID || dt >= TRK_DTYPE_COUNT)
        BAD("%s: event %zu: section '%s': byte offset %llu: unknown dtype %u", nm, index, name,
            eoff + 64, dt);
    if (ndim > TRK_TENSOR_MAX_DIMS)
        BAD("%s: event %zu: section '%s': byte offset %llu: ndim %u exceeds %u", nm, index,
            name, eoff + 68, ndim, TRK_TENSOR_MAX_DIMS);
    int64_t shape[TRK_TENSOR_MAX_DIMS] = {0};
    for (uint32_t d = 0; d < TRK_TENSOR_MAX_DIMS; d++) {
        uint64_t v = get_u64(e + 72 + 8 * d);
        if (v > (uint64_t)INT64_MAX || (d >= ndim && v != 0))
            BAD("%s: event %zu: section '%s': byte offset %llu: shape[%u] = %llu is invalid",
                nm, index, name, eoff + 72 + 8 * d, d, (unsigned long long)v);
        shape[d] = (int64_t)v;
    }
    uint64_t off = get_u64(e + 136), nbytes = get_u64(e + 144);
    uint32_t stored = get_u32(e + 152);
    size_t numel;
    if (trk_shape_numel(ndim, shape, &numel) != TRK_OK)
        BAD("%s: event %zu: section '%s': byte offset %llu: the shape's element count "
            "overflows", nm, index, name, eoff + 72);
    size_t es = trk_dtype_size((enum trk_dtype)dt);
    if (es ? (numel > SIZE_MAX / es || (uint64_t)numel * es != nbytes) : numel > nbytes / 4) {
        char sh[200];
        trk_shape_format(ndim, shape, sh, sizeof sh);
        BAD("%s: event %zu: section '%s': byte offset %llu: %llu data bytes do not match %s %s",
            nm, index, name, eoff + 144, (unsigned long long)nbytes,
            trk_dtype_name((enum trk_dtype)dt), sh);
    }
    if (off < table_end || off % ALIGN != 0 || off > size || nbytes > size - off)
        BAD("%s: event %zu: section '%s': byte offset %llu: data [%llu, +%llu) is outside the "
            "event's %llu bytes or misaligned", nm, index, name, eoff + 136,
            (unsigned long long)off, (unsigned long long)nbytes, (unsigned long long)size);
    const unsigned char *src = blk + off;
    uint32_t want = crc(0, src, (size_t)nbytes);
    if (want != stored)
        BAD("%s: event %zu: section '%s': byte offset %llu: data CRC mismatch (stored %08x, "
            "computed %08x over %llu bytes): the data is corrupt", nm, index, name,
            (unsigned long long)(base + off), stored, want, (unsigned long long)nbytes);
    if (!es) {
        size_t bad = bytes_payload_bad_at(src, (size_t)nbytes, numel);
        if (bad != SIZE_MAX)
            BAD("%s: event %zu: section '%s': byte offset %llu: BYTES data is not %zu "
                "length-prefixed strings", nm, index, name,
                (unsigned long long)(base + off + bad), numel);
    }
    void *copy = malloc(nbytes ? (size_t)nbytes : 1);
    if (!copy) {
        st = TRK_ERR_NO_MEMORY;
        goto fail;
    }
    memcpy(copy, src, (size_t)nbytes);
#if HOST_BIG_ENDIAN
    swap_elements(copy, (size_t)nbytes, es);
#endif
    if ((st = trk_tensor_wrap(name, (enum trk_dtype)dt, ndim, shape, copy, (size_t)nbytes,
                              &t)) != TRK_OK) {
        free(copy);
        BAD("%s: event %zu: section '%s': cannot build the tensor", nm, index, name);
    }
    t->owns_data = true;
    if (trk_event_find(ev, name)) {
        trk_tensor_free(t);
        BAD("%s: event %zu: section '%s': byte offset %llu: a second section with this name",
            nm, index, name, eoff);
    }
    if ((st = trk_event_add(ev, t)) != TRK_OK)
        goto fail;
fail:
    return st;
}

enum trk_status trk_evfile_read(struct trk_evfile *f, size_t index, struct trk_event *ev)
{
    if (ev)
        trk_event_init(ev, 0);
    if (!f || !ev) {
        TRK_LOGE("bad argument: file %p, event %p", (void *)f, (void *)ev);
        return TRK_ERR_INVALID_ARG;
    }
    if (index >= f->count) {
        TRK_LOGE("%s: event %zu requested, the file has %zu", f->name, index, f->count);
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    const char *nm = f->name;
    const unsigned char *ie = f->index + index * INDEX_ENTRY_SIZE;
    uint64_t base = get_u64(ie), size = get_u64(ie + 8);
    uint32_t icrc = get_u32(ie + 16);
    const unsigned char *blk = f->data + base; /* open checked base + size <= index offset */
    if (memcmp(blk, EVENT_MAGIC, 8) != 0)
        BAD("%s: event %zu: byte offset %llu: bad event magic (expected \"TRKEVENT\"): the "
            "index points at the wrong place or the event is corrupt", nm, index,
            (unsigned long long)base);
    uint32_t ns = get_u32(blk + 16);
    uint64_t bsize = get_u64(blk + 24);
    if (ns > TRK_EVFILE_SECTIONS_MAX || ns > (size - EVENT_HEADER_SIZE) / SECTION_SIZE)
        BAD("%s: event %zu: byte offset %llu: section count %u does not fit the event's %llu "
            "bytes", nm, index, (unsigned long long)(base + 16), ns, (unsigned long long)size);
    uint64_t head = EVENT_HEADER_SIZE + (uint64_t)ns * SECTION_SIZE;
    uint32_t want = crc(0, blk, (size_t)head);
    if (want != icrc)
        BAD("%s: event %zu: byte offset %llu: event header/section table CRC mismatch (index "
            "says %08x, computed %08x over %llu bytes): the event is corrupt", nm, index,
            (unsigned long long)base, icrc, want, (unsigned long long)head);
    if (bsize != size)
        BAD("%s: event %zu: byte offset %llu: block size %llu differs from the index's %llu",
            nm, index, (unsigned long long)(base + 24), (unsigned long long)bsize,
            (unsigned long long)size);
    ev->number = get_u64(blk + 8);
    for (uint32_t i = 0; i < ns; i++)
        if ((st = read_section(f, index, i, blk, size, base, head, ev)) != TRK_OK)
            goto fail;
    return TRK_OK;
fail:
    trk_event_fini(ev);
    return st;
}
