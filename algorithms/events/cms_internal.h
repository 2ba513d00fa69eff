/* trkserve — declarations shared by the cms_*.c files of libtrkevents only. */
#ifndef TRK_CMS_INTERNAL_H
#define TRK_CMS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/cms.h"

/* CMS DetIds (Phase-1 TrackerTopology bit layout, CMS_RAW.md). */
uint32_t cms_bpix_raw_id(uint32_t layer, uint32_t ladder, uint32_t module);
uint32_t cms_fpix_raw_id(uint32_t side, uint32_t disk, uint32_t blade, uint32_t panel,
                         uint32_t module);

/* tanθ_L per tesla of a layer index 0–9. */
double cms_lorentz_mu(uint32_t layer);

/* Position in pitch units from the module corner → row/column, -1 outside. */
int cms_row_of_units(double x);
int cms_col_of_units(double y);

/* Patatrack frameConversion: ROC-local pixel → module pixel for a module with DetId
 * raw_id, and the inverse (module pixel → ROC in module, ROC-local pixel). */
void cms_roc_to_module(uint32_t raw_id, uint32_t roc_in_det, uint32_t lrow, uint32_t lcol,
                       uint32_t *row, uint32_t *col);
void cms_module_to_roc(uint32_t raw_id, uint32_t row, uint32_t col, uint32_t *roc_in_det,
                       uint32_t *lrow, uint32_t *lcol);

/* True for BPIX layer 1 DetIds (the ROW/COL word variant). */
static inline bool cms_is_l1(uint32_t raw_id)
{
    return ((raw_id >> 25) & 7) == 1 && ((raw_id >> 20) & 0xF) == 1;
}

/* 32-bit pixel word of ROC-local (lrow, lcol) with link/roc (1-based). */
static inline uint32_t cms_pixel_word(bool l1, uint32_t link, uint32_t roc, uint32_t lrow,
                                      uint32_t lcol, uint32_t adc)
{
    uint32_t w = (link << 26) | (roc << 21) | (adc & 0xFF);
    if (l1)
        return w | (lcol << 15) | (lrow << 8);
    uint32_t dcol = lcol / 2, pxid = 2 * (80 - lrow) + (lcol % 2);
    return w | (dcol << 16) | (pxid << 8);
}

/* FED collection writer: nfeds FEDs (ids fed_ids, increasing), FED f holding
 * words[fed_begin[f] .. fed_begin[f+1]); one header and one trailer each, a zero
 * filler word when the count is odd. size() gives the exact bytes write() fills. */
size_t cms_fed_collection_size(uint32_t nfeds, const size_t *fed_begin);
void cms_fed_collection_write(uint32_t nfeds, const uint32_t *fed_ids, const size_t *fed_begin,
                              const uint32_t *words, uint32_t bx, uint32_t lv1, uint8_t *out);

/* CRC-32 (zlib) helper for the conditions files. */
uint32_t cms_crc32(const void *data, size_t n);

#endif
