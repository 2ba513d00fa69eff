/* trkserve — CMS pixel raw data: Patatrack's frame conversion, the FED collection
 * writer used by the digitiser, and the host reference decoder (zstd → FEDs → digis
 * and error words). Layout: CMS_RAW.md. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "cms_internal.h"
#include "trk/cms.h"
#include "trk/log.h"

#define RAW_MAX_BYTES (64u << 20)

/* ---- frame conversion (Patatrack SiPixelRawToClusterGPUKernel frameConversion) ---- */

/* True when the module uses the "dddd" orientation: BPIX −z side except layer 1, and
 * all FPIX (both panels use the same formula). */
static bool orient_a(uint32_t raw_id)
{
    if (((raw_id >> 25) & 7) != 1)
        return true;
    uint32_t layer = (raw_id >> 20) & 0xF, module = (raw_id >> 2) & 0x3FF;
    return module < 5 && layer != 1;
}

void cms_roc_to_module(uint32_t raw_id, uint32_t r, uint32_t lrow, uint32_t lcol, uint32_t *row,
                       uint32_t *col)
{
    if (orient_a(raw_id)) {
        if (r < 8) {
            *row = lrow;
            *col = (8 - r) * 52 - 1 - lcol;
        } else {
            *row = 159 - lrow;
            *col = (r - 8) * 52 + lcol;
        }
    } else {
        if (r < 8) {
            *row = 159 - lrow;
            *col = r * 52 + lcol;
        } else {
            *row = lrow;
            *col = (16 - r) * 52 - 1 - lcol;
        }
    }
}

void cms_module_to_roc(uint32_t raw_id, uint32_t row, uint32_t col, uint32_t *r,
                       uint32_t *lrow, uint32_t *lcol)
{
    if (orient_a(raw_id)) {
        if (row < 80) {
            *r = 7 - col / 52;
            *lrow = row;
            *lcol = (8 - *r) * 52 - 1 - col;
        } else {
            *r = 8 + col / 52;
            *lrow = 159 - row;
            *lcol = col - (*r - 8) * 52;
        }
    } else {
        if (row >= 80) {
            *r = col / 52;
            *lrow = 159 - row;
            *lcol = col - *r * 52;
        } else {
            *r = 15 - col / 52;
            *lrow = row;
            *lcol = (16 - *r) * 52 - 1 - col;
        }
    }
}

/* ---- CRC-16/CCITT-FALSE ------------------------------------------------------------ */

static uint16_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (int i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int k = 0; k < 8; k++)
            c = (uint16_t)((c & 0x8000) ? (c << 1) ^ 0x1021 : c << 1);
        crc_table[i] = c;
    }
}

static uint16_t crc16_update(uint16_t c, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    for (size_t i = 0; i < n; i++)
        c = (uint16_t)((c << 8) ^ crc_table[((c >> 8) ^ p[i]) & 0xFF]);
    return c;
}

uint16_t trk_cms_fed_crc(const uint8_t *block, size_t nbytes)
{
    /* the trailer's CRC field (bytes nbytes−6, nbytes−5) counts as zero */
    if (nbytes < 8)
        return crc16_update(0xFFFF, block, nbytes);
    static const uint8_t zero[2] = {0, 0};
    uint16_t c = crc16_update(0xFFFF, block, nbytes - 6);
    c = crc16_update(c, zero, 2);
    return crc16_update(c, block + nbytes - 4, 4);
}

/* ---- little-endian helpers --------------------------------------------------------- */

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- writer ------------------------------------------------------------------------ */

size_t cms_fed_collection_size(uint32_t nfeds, const size_t *fed_begin)
{
    size_t total = 4;
    for (uint32_t f = 0; f < nfeds; f++) {
        size_t nw = fed_begin[f + 1] - fed_begin[f];
        total += 8 + 16 + 4 * (nw + (nw & 1));
    }
    return total;
}

void cms_fed_collection_write(uint32_t nfeds, const uint32_t *fed_ids, const size_t *fed_begin,
                              const uint32_t *words, uint32_t bx, uint32_t lv1, uint8_t *out)
{
    uint8_t *p = out;
    put32(p, nfeds);
    p += 4;
    for (uint32_t f = 0; f < nfeds; f++) {
        size_t nw = fed_begin[f + 1] - fed_begin[f];
        size_t size = 16 + 4 * (nw + (nw & 1));
        put32(p, fed_ids[f]);
        put32(p + 4, (uint32_t)size);
        uint8_t *b = p + 8;
        /* header: BX | source id | FOV 0 | H 0 ; BOE 0x5 | event type 1 | LV1 */
        put32(b, (bx & 0xFFF) << 20 | (fed_ids[f] & 0xFFF) << 8);
        put32(b + 4, 0x5u << 28 | 1u << 24 | (lv1 & 0xFFFFFF));
        for (size_t i = 0; i < nw; i++)
            put32(b + 8 + 4 * i, words[fed_begin[f] + i]);
        if (nw & 1)
            put32(b + 8 + 4 * nw, 0); /* filler: Patatrack skips zero words */
        uint8_t *t = b + size - 8;
        /* trailer: CRC | TTS ready (8) ; EOE 0xA | length in 64-bit words */
        put32(t, 0x8u << 4);
        put32(t + 4, 0xAu << 28 | (uint32_t)(size / 8));
        uint16_t crc = trk_cms_fed_crc(b, size);
        put32(t, (uint32_t)crc << 16 | 0x8u << 4);
        p += 8 + size;
    }
}

/* ---- decoder ----------------------------------------------------------------------- */

void trk_cms_digis_init(struct trk_cms_digis *d)
{
    memset(d, 0, sizeof *d);
}

void trk_cms_digis_fini(struct trk_cms_digis *d)
{
    if (!d)
        return;
    free(d->module);
    free(d->row);
    free(d->col);
    free(d->adc);
    free(d->errors);
    memset(d, 0, sizeof *d);
}

static enum trk_status digis_reserve(struct trk_cms_digis *d, size_t n)
{
    if (n <= d->cap)
        return TRK_OK;
    size_t cap = d->cap ? d->cap : 1024;
    while (cap < n)
        cap *= 2;
    uint32_t *m = realloc(d->module, cap * sizeof *m);
    if (m)
        d->module = m;
    uint16_t *r = realloc(d->row, cap * sizeof *r);
    if (r)
        d->row = r;
    uint16_t *c = realloc(d->col, cap * sizeof *c);
    if (c)
        d->col = c;
    uint8_t *a = realloc(d->adc, cap);
    if (a)
        d->adc = a;
    if (!m || !r || !c || !a)
        return TRK_ERR_NO_MEMORY;
    d->cap = cap;
    return TRK_OK;
}

static enum trk_status add_error(struct trk_cms_digis *d, uint32_t word, uint32_t fed,
                                 uint32_t raw_id, size_t offset, uint8_t type)
{
    if (d->nerrors == d->cap_errors) {
        size_t cap = d->cap_errors ? 2 * d->cap_errors : 64;
        struct trk_cms_raw_error *e = realloc(d->errors, cap * sizeof *e);
        if (!e)
            return TRK_ERR_NO_MEMORY;
        d->errors = e;
        d->cap_errors = cap;
    }
    d->errors[d->nerrors++] = (struct trk_cms_raw_error){
        .word = word, .fed = fed, .raw_id = raw_id, .offset = (uint32_t)offset, .type = type};
    return TRK_OK;
}

static uint32_t cab_index(uint32_t fed, uint32_t link, uint32_t roc)
{
    return (fed - TRK_CMS_FED_FIRST) * TRK_CMS_MAX_LINK * TRK_CMS_MAX_ROC +
           (link - 1) * TRK_CMS_MAX_ROC + roc;
}

/* One 32-bit payload word at byte offset `off`. */
static enum trk_status unpack_word(const struct trk_cms_conditions *cond, uint32_t fed,
                                   uint32_t w, size_t off, struct trk_cms_digis *d)
{
    uint32_t link = w >> 26, roc = (w >> 21) & 0x1F;
    if (roc >= 25) {
        uint8_t type = (uint8_t)roc;
        if (roc == 30 && ((w >> 8) & 0xF) == 1)
            type = 40; /* TBM trailer with the overflow state bit (CMSSW ErrorChecker) */
        uint32_t rid = 0;
        if (link >= 1 && link <= TRK_CMS_MAX_LINK) {
            uint32_t i = cab_index(fed, link, 1);
            if (cond->module[i] != TRK_CMS_INVALID_MODULE)
                rid = cond->raw_id[i];
        }
        return add_error(d, w, fed, rid, off, type);
    }
    if (link < 1 || link > TRK_CMS_MAX_LINK)
        return add_error(d, w, fed, 0, off, 35);
    if (roc < 1 || roc > TRK_CMS_MAX_ROC)
        return add_error(d, w, fed, 0, off, 36);
    uint32_t i = cab_index(fed, link, roc);
    uint32_t m = cond->module[i];
    if (m == TRK_CMS_INVALID_MODULE) {
        bool link_cabled = false;
        for (uint32_t r = 1; r <= TRK_CMS_MAX_ROC; r++)
            if (cond->module[cab_index(fed, link, r)] != TRK_CMS_INVALID_MODULE)
                link_cabled = true;
        return add_error(d, w, fed, 0, off, link_cabled ? 36 : 35);
    }
    uint32_t raw_id = cond->raw_id[i];
    uint32_t lrow, lcol;
    if (cms_is_l1(raw_id)) {
        lrow = (w >> 8) & 0x7F;
        lcol = (w >> 15) & 0x3F;
        if (lrow >= TRK_CMS_ROC_ROWS || lcol >= TRK_CMS_ROC_COLS)
            return add_error(d, w, fed, raw_id, off, 37);
    } else {
        uint32_t dcol = (w >> 16) & 0x1F, pxid = (w >> 8) & 0xFF;
        if (dcol >= 26 || pxid < 2 || pxid >= 162)
            return add_error(d, w, fed, raw_id, off, 37);
        lrow = TRK_CMS_ROC_ROWS - pxid / 2;
        lcol = dcol * 2 + pxid % 2;
    }
    if (cond->bad_roc[i])
        return TRK_OK;
    uint32_t row, col;
    cms_roc_to_module(raw_id, cond->roc_in_det[i], lrow, lcol, &row, &col);
    enum trk_status st = digis_reserve(d, d->n + 1);
    if (st)
        return st;
    d->module[d->n] = m;
    d->row[d->n] = (uint16_t)row;
    d->col[d->n] = (uint16_t)col;
    d->adc[d->n] = (uint8_t)(w & 0xFF);
    d->n++;
    return TRK_OK;
}

enum trk_status trk_cms_fed_walk(const void *data, size_t n, trk_cms_fed_payload_fn fn,
                                 void *user)
{
    if ((!data && n) || !fn)
        return TRK_ERR_INVALID_ARG;
    const uint8_t *p = data;
    if (n < 4) {
        TRK_LOGE("raw data offset 0: %zu bytes, too short for the FED count (4 bytes)", n);
        return TRK_ERR_PARSE;
    }
    uint32_t nfeds = le32(p);
    if (nfeds > TRK_CMS_MAX_FED) {
        TRK_LOGE("raw data offset 0: %u FEDs, at most %u (ids 1200–1349)", nfeds,
                 TRK_CMS_MAX_FED);
        return TRK_ERR_PARSE;
    }
    size_t pos = 4;
    uint8_t seen[TRK_CMS_MAX_FED] = {0};
    for (uint32_t f = 0; f < nfeds; f++) {
        if (n - pos < 8) {
            TRK_LOGE("raw data offset %zu: truncated in the record of FED #%u of %u (need "
                     "8 bytes fedId+size, have %zu)",
                     pos, f, nfeds, n - pos);
            return TRK_ERR_PARSE;
        }
        uint32_t fed = le32(p + pos), size = le32(p + pos + 4);
        if (fed < TRK_CMS_FED_FIRST || fed >= TRK_CMS_FED_FIRST + TRK_CMS_MAX_FED) {
            TRK_LOGE("raw data offset %zu: FED id %u outside 1200–1349", pos, fed);
            return TRK_ERR_PARSE;
        }
        if (seen[fed - TRK_CMS_FED_FIRST]++) {
            TRK_LOGE("raw data offset %zu: FED %u appears twice", pos, fed);
            return TRK_ERR_PARSE;
        }
        if (size < 16 || size % 8) {
            TRK_LOGE("raw data offset %zu: FED %u size %u bytes: must be a multiple of 8 "
                     "and at least 16 (header + trailer)",
                     pos + 4, fed, size);
            return TRK_ERR_PARSE;
        }
        pos += 8;
        if (n - pos < size) {
            TRK_LOGE("raw data offset %zu: FED %u declares %u bytes, only %zu remain "
                     "(truncated)",
                     pos, fed, size, n - pos);
            return TRK_ERR_PARSE;
        }
        const uint8_t *b = p + pos;
        size_t nw64 = size / 8;
        /* headers */
        size_t h = 0;
        for (;;) {
            uint32_t lo = le32(b + 8 * h), hi = le32(b + 8 * h + 4);
            if (hi >> 28 != 0x5) {
                TRK_LOGE("raw data offset %zu: FED %u header %zu: begin-of-event marker "
                         "0x%x, expected 0x5",
                         pos + 8 * h + 7, fed, h, hi >> 28);
                return TRK_ERR_PARSE;
            }
            if (((lo >> 8) & 0xFFF) != (fed & 0xFFF)) {
                TRK_LOGE("raw data offset %zu: FED %u header source id %u differs from the "
                         "record's FED id",
                         pos + 8 * h, fed, (lo >> 8) & 0xFFF);
                return TRK_ERR_PARSE;
            }
            h++;
            if (!((lo >> 3) & 1))
                break;
            if (h + 1 >= nw64) {
                TRK_LOGE("raw data offset %zu: FED %u: more-headers bit set but no room for "
                         "another header before the trailer",
                         pos + 8 * (h - 1), fed);
                return TRK_ERR_PARSE;
            }
        }
        /* trailers (the last word is the final trailer; T bit: another precedes) */
        size_t t = nw64 - 1;
        {
            uint32_t lo = le32(b + 8 * t), hi = le32(b + 8 * t + 4);
            if (hi >> 28 != 0xA) {
                TRK_LOGE("raw data offset %zu: FED %u trailer: end-of-event marker 0x%x, "
                         "expected 0xA",
                         pos + 8 * t + 7, fed, hi >> 28);
                return TRK_ERR_PARSE;
            }
            if ((hi & 0xFFFFFF) != nw64) {
                TRK_LOGE("raw data offset %zu: FED %u trailer length %u words, the record "
                         "holds %zu",
                         pos + 8 * t + 4, fed, hi & 0xFFFFFF, nw64);
                return TRK_ERR_PARSE;
            }
            uint16_t crc = trk_cms_fed_crc(b, size);
            if ((lo >> 16) != crc) {
                TRK_LOGE("raw data offset %zu: FED %u CRC 0x%04x, computed 0x%04x (data "
                         "corrupted)",
                         pos + 8 * t, fed, lo >> 16, crc);
                return TRK_ERR_PARSE;
            }
            if ((lo >> 2) & 1) {
                TRK_LOGE("raw data offset %zu: FED %u trailer has the CRC-modified bit set",
                         pos + 8 * t, fed);
                return TRK_ERR_PARSE;
            }
            while ((le32(b + 8 * t) >> 3) & 1) {
                if (t <= h) {
                    TRK_LOGE("raw data offset %zu: FED %u: more-trailers bit set but no "
                             "trailer precedes",
                             pos + 8 * t, fed);
                    return TRK_ERR_PARSE;
                }
                t--;
                if (le32(b + 8 * t + 4) >> 28 != 0xA) {
                    TRK_LOGE("raw data offset %zu: FED %u: word before a trailer with the "
                             "more-trailers bit is not a trailer",
                             pos + 8 * t + 7, fed);
                    return TRK_ERR_PARSE;
                }
            }
        }
        if (t < h) {
            TRK_LOGE("raw data offset %zu: FED %u: headers and trailers overlap", pos, fed);
            return TRK_ERR_PARSE;
        }
        enum trk_status st = fn(user, fed, b + 8 * h, 8 * (t - h), pos + 8 * h);
        if (st)
            return st;
        pos += size;
    }
    if (pos != n) {
        TRK_LOGE("raw data offset %zu: %zu trailing bytes after %u FEDs", pos, n - pos, nfeds);
        return TRK_ERR_PARSE;
    }
    return TRK_OK;
}

struct unpack_ctx {
    const struct trk_cms_conditions *cond;
    struct trk_cms_digis *d;
};

static enum trk_status unpack_payload(void *user, uint32_t fed, const uint8_t *payload,
                                      size_t nbytes, size_t offset)
{
    struct unpack_ctx *c = user;
    for (size_t k = 0; k < nbytes; k += 4) {
        uint32_t w = le32(payload + k);
        if (!w)
            continue;
        enum trk_status st = unpack_word(c->cond, fed, w, offset + k, c->d);
        if (st)
            return st;
    }
    return TRK_OK;
}

enum trk_status trk_cms_fed_unpack(const struct trk_cms_conditions *cond, const void *data,
                                   size_t n, struct trk_cms_digis *d)
{
    if (!cond || (!data && n) || !d)
        return TRK_ERR_INVALID_ARG;
    d->n = 0;
    d->nerrors = 0;
    d->raw_bytes = n;
    struct unpack_ctx c = {cond, d};
    return trk_cms_fed_walk(data, n, unpack_payload, &c);
}

enum trk_status trk_cms_raw_decompress(const void *raw, size_t n, uint8_t **out, size_t *nout)
{
    if ((!raw && n) || !out || !nout)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    *nout = 0;
    unsigned long long size = ZSTD_getFrameContentSize(raw, n);
    if (size == ZSTD_CONTENTSIZE_ERROR) {
        TRK_LOGE("raw_zstd offset 0: not a zstd frame (%zu bytes; bad magic or header)", n);
        return TRK_ERR_PARSE;
    }
    if (size == ZSTD_CONTENTSIZE_UNKNOWN) {
        TRK_LOGE("raw_zstd offset 0: zstd frame without content size (write frames with "
                 "ZSTD_compress2, which records it)");
        return TRK_ERR_PARSE;
    }
    if (size > RAW_MAX_BYTES) {
        TRK_LOGE("raw_zstd offset 0: declared content size %llu exceeds %u bytes", size,
                 RAW_MAX_BYTES);
        return TRK_ERR_PARSE;
    }
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return TRK_ERR_NO_MEMORY;
    size_t got = ZSTD_decompress(buf, size, raw, n);
    if (ZSTD_isError(got)) {
        TRK_LOGE("raw_zstd (%zu bytes): zstd: %s", n, ZSTD_getErrorName(got));
        free(buf);
        return TRK_ERR_PARSE;
    }
    if (got != size) {
        TRK_LOGE("raw_zstd: decompressed %zu bytes, the frame declares %llu", got, size);
        free(buf);
        return TRK_ERR_PARSE;
    }
    *out = buf;
    *nout = got;
    return TRK_OK;
}

enum trk_status trk_cms_raw_decode(const struct trk_cms_conditions *cond, const void *raw,
                                   size_t n, struct trk_cms_digis *d)
{
    if (!cond || (!raw && n) || !d)
        return TRK_ERR_INVALID_ARG;
    d->n = 0;
    d->nerrors = 0;
    uint8_t *buf;
    size_t size;
    enum trk_status st = trk_cms_raw_decompress(raw, n, &buf, &size);
    if (st)
        return st;
    st = trk_cms_fed_unpack(cond, buf, size, d);
    free(buf);
    return st;
}
