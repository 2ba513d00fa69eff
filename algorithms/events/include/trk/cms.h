/* trkserve — the CMS Phase-1 pixel detector: geometry, conditions (cabling map,
 * gains, beam spot, Lorentz drift), digitiser, raw data (Patatrack FED layout) and the
 * host reference decoder and clusterizer the GPU Patatrack is tested against.
 *
 * Formats (raw data, conditions files) are specified byte by byte in
 * algorithms/events/CMS_RAW.md; this header states the contracts.
 *
 * Conventions: module index = Patatrack order (layer starts trk_cms_layer_start);
 * module frame local = R·(global − c) as in cms_phase1_pixel_modules.csv; local u
 * (x) runs along the 160 rows (100 µm pitch), local v (y) along the 416 columns
 * (150 µm pitch); the ROC-edge pixels are double size (rows 79/80, columns 52k and
 * 52k+51), so a module is 162 × 432 pitch units: u = (x' − 81)·0.1 mm,
 * v = (y' − 216)·0.15 mm, x'/y' the position in pitch units from the module corner
 * (Patatrack xOffset −81, yOffset −216). Units mm, GeV, T; charges in electrons. */
#ifndef TRK_CMS_H
#define TRK_CMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/detector.h"
#include "trk/gen.h"
#include "trk/event.h"
#include "trk/rng.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- constants (Patatrack phase1PixelTopology / SiPixelRawToClusterGPUKernel) ---- */
#define TRK_CMS_NMODULES 1856u
#define TRK_CMS_NLAYERS 10u
#define TRK_CMS_NBPIX_MODULES 1184u
#define TRK_CMS_ROWS 160u          /* rows per module (local u) */
#define TRK_CMS_COLS 416u          /* columns per module (local v) */
#define TRK_CMS_ROC_ROWS 80u
#define TRK_CMS_ROC_COLS 52u
#define TRK_CMS_ROCS_PER_MODULE 16u
#define TRK_CMS_PITCH_U 0.100      /* mm */
#define TRK_CMS_PITCH_V 0.150      /* mm */
#define TRK_CMS_HALF_U 8.10        /* mm: 162 pitch units / 2 */
#define TRK_CMS_HALF_V 32.40       /* mm: 432 pitch units / 2 */
#define TRK_CMS_FED_FIRST 1200u    /* Patatrack asserts fedId >= 1200 */
#define TRK_CMS_MAX_FED 150u       /* FED ids 1200 … 1349 */
#define TRK_CMS_MAX_LINK 48u       /* links (channels) per FED, numbered 1 … 48 */
#define TRK_CMS_MAX_ROC 8u         /* ROCs per link, numbered 1 … 8 */
/* Cabling arrays have MAX_FED·MAX_LINK·MAX_ROC + 1 entries: index
 * (fedId − 1200)·384 + (link − 1)·8 + roc with roc 1-based, exactly Patatrack's
 * getRawId() index (its fill loop starts at 1; entry 0 is never cabled). */
#define TRK_CMS_CABLING_SIZE (TRK_CMS_MAX_FED * TRK_CMS_MAX_LINK * TRK_CMS_MAX_ROC + 1u)
#define TRK_CMS_INVALID_MODULE 9999u /* Patatrack gpuClustering::invalidModuleId */
#define TRK_CMS_GAIN_ROWS_AVERAGED 80u /* gains are per column and per 80-row block */
#define TRK_CMS_GAIN_DEAD 255u     /* ped code of a dead column block */
#define TRK_CMS_GAIN_NOISY 254u    /* ped code of a noisy column block */
#define TRK_CMS_GAIN_NBINS 253u    /* codes 0 … 253 encode values */

/* First module of each layer (0–3 BPIX L1–L4, 4–6 FPIX +z disks 1–3, 7–9 −z), then
 * the total: {0,96,320,672,1184,1296,1408,1520,1632,1744,1856}. */
extern const uint32_t trk_cms_layer_start[TRK_CMS_NLAYERS + 1];

/* ---- geometry ---------------------------------------------------------------- */

/* The Phase-1 pixel detector from published design numbers (ladder radii and
 * phases, module z, FPIX blade layout; see CMS_RAW.md "Geometry"): 1,856 modules in
 * Patatrack order with CMS DetIds, 3.8 T, beam pipe r = 22.5 mm / 0.23% X0. Module
 * centres agree with cms_phase1_pixel_modules.csv within 0.05 mm (test_cms checks
 * it). *out is the caller's (trk_detector_free). */
enum trk_status trk_cms_detector_builtin(struct trk_detector **out);

/* Loads the real module frames from cms_phase1_pixel_modules.csv (cm → mm; header
 * comment lines give thickness and pitch; columns by header name). Checks 1,856
 * modules in index order with the layer starts above; a malformed file fails with
 * TRK_ERR_PARSE naming file and line, a missing one TRK_ERR_NOT_FOUND/IO. */
enum trk_status trk_cms_detector_from_csv(const char *path, struct trk_detector **out);

/* Lorentz drift of module m (the CMSSW drift-direction model with tanθ_L per tesla
 * per layer group, see CMS_RAW.md): lu, lv (mm) = displacement of charge created at
 * the far sensor face (w = +t/2) when it reaches the collecting face (w = −t/2).
 * Equals the CSV's charge_width_x/y (×10); Patatrack's CPE shift is half of it.
 * module must be < det->nmodules (else both are 0). */
void trk_cms_lorentz(const struct trk_detector *det, uint32_t module, double *lu, double *lv);

/* Pixel pitch-unit edges: row r covers x' in [lo, hi) (big pixels span 2 units);
 * same for columns. Valid for r < 160, c < 416. */
void trk_cms_row_edges(uint32_t row, double *lo, double *hi);
void trk_cms_col_edges(uint32_t col, double *lo, double *hi);
/* Local u (mm) → row index, -1 outside the sensor; local v → column, -1 outside. */
int trk_cms_row_of(double u);
int trk_cms_col_of(double v);

/* ---- conditions ---------------------------------------------------------------- */

struct trk_cms_conditions {
    uint32_t nmodules;              /* 1856 */
    /* cabling map, TRK_CMS_CABLING_SIZE entries each (SoA, Patatrack
     * SiPixelFedCablingMapGPU); uncabled entries: module = TRK_CMS_INVALID_MODULE,
     * raw_id 0, roc_in_det 0 */
    uint32_t *fed, *link, *roc;     /* fedId (not offset), link 1–48, roc 1–8 */
    uint32_t *raw_id, *roc_in_det, *module;
    uint8_t *bad_roc;               /* 1: masked ROC (none in generated conditions) */
    uint32_t nfeds;
    uint32_t fed_ids[TRK_CMS_MAX_FED]; /* present FEDs, increasing */
    /* per module: its cabling index per ROC in the module [nmodules·16] and the
     * number of links it uses (L1 8, L2 4, others 2) */
    uint32_t *module_roc_index;
    /* gains (Patatrack SiPixelGainForHLTonGPU): per module, column, 80-row block
     * {gain code, ped code} [nmodules·416·2·2 bytes]; value = code·precision + min */
    uint8_t *gain_data;
    float min_ped, max_ped, min_gain, max_gain; /* ADC counts; VCal per ADC count */
    /* Lorentz drift per module [nmodules·2], mm (trk_cms_lorentz) */
    float *lorentz;
    /* per module raw id [nmodules] and layer index [nmodules] */
    uint32_t *module_raw_id;
    uint8_t *module_layer;
    /* Patatrack BeamSpotPOD, cm: x, y, z, sigmaZ, beamWidthX, beamWidthY, dxdz,
     * dydz, emittanceX, emittanceY, betaStar */
    float beamspot[11];
};

/* Conditions for det made from `seed`: the cabling map (FEDs 1200– for BPIX by z
 * half and phi sector, then FPIX; 110 FEDs; a module's links are consecutive in
 * one FED), gains N(3.2, 0.25) VCal/ADC and pedestals N(25, 4) ADC per ROC, ±3% and
 * ±2 ADC per column block, 1e-4 of the blocks dead, the Lorentz drift per module and
 * the beam spot of the CMS generator defaults (0, 0, 0; σz 4 cm; width 15 µm).
 * Deterministic for (det, seed). det must be the 1,856-module
 * CMS detector. *out is the caller's (trk_cms_conditions_free). */
enum trk_status trk_cms_conditions_make(const struct trk_detector *det, uint64_t seed,
                                        struct trk_cms_conditions **out);

/* Writes dir/cms_cabling.bin, cms_gains.bin, cms_modules.bin, cms_beamspot.bin
 * (little-endian, 32-byte header with magic, version, kind, payload size and CRC32;
 * CMS_RAW.md "Conditions files"). dir must exist. */
enum trk_status trk_cms_conditions_write(const struct trk_cms_conditions *c, const char *dir);

/* Reads the four files written above; any malformed file (magic, version, kind,
 * size, CRC, out-of-range content) fails with TRK_ERR_PARSE naming file and
 * offset; a missing one TRK_ERR_NOT_FOUND. */
enum trk_status trk_cms_conditions_read(const char *dir, struct trk_cms_conditions **out);

/* Frees c and its arrays; NULL-safe. */
void trk_cms_conditions_free(struct trk_cms_conditions *c);

/* Decoded pedestal (ADC) and gain (VCal/ADC) of module m at (row, col); returns
 * false for a dead or noisy block or out-of-range arguments (then ped/gain are 0). */
bool trk_cms_gain(const struct trk_cms_conditions *c, uint32_t m, uint32_t row, uint32_t col,
                  float *ped, float *gain);

/* Module pixel (row, col) of module m → cabling (fed index 0-based, link, roc
 * 1-based, ROC-local row/col). Returns false if the pixel is outside the module or
 * the ROC is uncabled. */
bool trk_cms_pixel_to_roc(const struct trk_cms_conditions *c, uint32_t m, uint32_t row,
                          uint32_t col, uint32_t *cabling_index, uint32_t *lrow,
                          uint32_t *lcol);

/* ---- digitiser ---------------------------------------------------------------- */

struct trk_cms_digi_config {
    double e_per_um_mpv;     /* most probable ionisation, e/µm at 285 µm (76) */
    double landau_width;     /* Moyal scale / MPV (0.11) */
    double noise;            /* electrons, per pixel (110) */
    double threshold_l1;     /* electrons, BPIX L1 (2000) */
    double threshold;        /* electrons, elsewhere (1200) */
    double threshold_smear;  /* electrons, per pixel (50) */
    double gain_smear;       /* relative, pixel gain around its column block (0.03) */
    double diffusion;        /* µm at 300 µm drift (3.7), ∝ sqrt(drift) */
    double noise_rate;       /* noise hits per pixel per event (2e-7) */
    double error_rate;       /* error words per link per event (2e-4) */
    int zstd_level;          /* 1–19 (3) */
    uint32_t bx;             /* FED header bunch crossing (the L1 id is ev->number) */
};
/* Fills cfg with the defaults in parentheses above (CMS_RAW.md §6 gives sources). */
void trk_cms_digi_config_default(struct trk_cms_digi_config *cfg);

/* Digitises truth (simhits of det, particles for the species) into ev: raw_zstd
 * (the FED collection, zstd), digi_module/row/col/adc/particle in raw-word order and
 * particle_nhits (clusters per particle: trk_cms_cluster on the digis, each cluster
 * given to its particle by trk_score_cluster_particles). Default configuration.
 * rng supplies all randomness (seed it per event); ev->number is the L1 id. */
enum trk_status trk_cms_digitize(const struct trk_detector *det,
                                 const struct trk_cms_conditions *cond,
                                 const struct trk_truth *truth, struct trk_rng *rng,
                                 struct trk_event *ev);
/* The same with an explicit configuration (NULL = defaults). */
enum trk_status trk_cms_digitize_ex(const struct trk_detector *det,
                                    const struct trk_cms_conditions *cond,
                                    const struct trk_cms_digi_config *cfg,
                                    const struct trk_truth *truth, struct trk_rng *rng,
                                    struct trk_event *ev);

/* ---- raw data ----------------------------------------------------------------- */

/* Data-level errors found while unpacking (Patatrack/CMSSW error types): 25–31 error
 * words (ROC field ≥ 25; 30 with TBM state bits = 1 is reported as 40), 35 link not
 * in 1–48 or without any cabled ROC, 36 ROC not in 1–8 or uncabled, 37 invalid
 * dcol/pxid or (BPIX L1) row ≥ 80 / column ≥ 52. */
struct trk_cms_raw_error {
    uint32_t word;        /* the 32-bit word */
    uint32_t fed;         /* fedId */
    uint32_t raw_id;      /* module DetId if known, else 0 */
    uint32_t offset;      /* byte offset of the word in the decompressed collection */
    uint8_t type;
};

struct trk_cms_digis {
    size_t n, cap;
    uint32_t *module;     /* module index */
    uint16_t *row, *col;  /* module pixel */
    uint8_t *adc;
    size_t nerrors, cap_errors;
    struct trk_cms_raw_error *errors;
    size_t raw_bytes;     /* size of the decompressed FED collection */
};
/* In-place init (empty) and fini (frees the arrays; NULL-safe). A decode reuses the
 * arrays of d, so one trk_cms_digis can serve many events. */
void trk_cms_digis_init(struct trk_cms_digis *d);
void trk_cms_digis_fini(struct trk_cms_digis *d);

/* Decodes one event's raw_zstd (a zstd frame with its content size, ≤ 64 MiB) into
 * d (cleared first). Malformed input — bad zstd, truncation, a bad FED header or
 * trailer marker, a length, FED id or CRC mismatch, trailing bytes — fails with
 * TRK_ERR_PARSE, logging the byte offset (in the decompressed collection) and the
 * field; data-level errors go to d->errors. Never reads outside [raw, raw+n). */
enum trk_status trk_cms_raw_decode(const struct trk_cms_conditions *cond, const void *raw,
                                   size_t n, struct trk_cms_digis *d);

/* Decompresses one event's raw_zstd into *out (malloc'ed, the caller frees it) of
 * *nout bytes, with the checks of trk_cms_raw_decode (content size declared and
 * ≤ 64 MiB, exact length, checksum). */
enum trk_status trk_cms_raw_decompress(const void *raw, size_t n, uint8_t **out, size_t *nout);

/* The same on the uncompressed FED collection (per event: uint32 nfeds, then per
 * FED uint32 fedId, uint32 sizeBytes, bytes). */
enum trk_status trk_cms_fed_unpack(const struct trk_cms_conditions *cond, const void *data,
                                   size_t n, struct trk_cms_digis *d);

/* One FED's payload, found by trk_cms_fed_walk: nbytes (a multiple of 8) of 32-bit
 * little-endian words between its last header and its first trailer, at byte `offset`
 * of the collection. Returning non-OK stops the walk with that status. */
typedef enum trk_status (*trk_cms_fed_payload_fn)(void *user, uint32_t fed,
                                                  const uint8_t *payload, size_t nbytes,
                                                  size_t offset);

/* Walks an uncompressed FED collection with every container check of
 * trk_cms_fed_unpack (FED ids, sizes, header/trailer markers and chains, lengths, CRC,
 * R bit, trailing bytes; TRK_ERR_PARSE with a log line naming offset and field) and
 * calls fn for each FED's payload in order, before the next FED is checked. The pixel
 * words are not looked at. Never reads outside [data, data+n). */
enum trk_status trk_cms_fed_walk(const void *data, size_t n, trk_cms_fed_payload_fn fn,
                                 void *user);

/* CRC-16 of a FED block as written in its trailer (CMS_RAW.md). */
uint16_t trk_cms_fed_crc(const uint8_t *block, size_t nbytes);

/* ---- clusterizer --------------------------------------------------------------- */

struct trk_cms_clusters {
    size_t n, cap;        /* clusters */
    uint32_t *offsets;    /* [n+1] into digis */
    uint32_t *digis;      /* digi indices, increasing within a cluster */
    uint32_t *module;     /* [n] */
    int32_t *charge;      /* [n] electrons (sum of calibrated digis) */
    size_t ndigis_cap;
    uint32_t nmodules_active; /* modules with ≥ 1 valid digi */
    uint32_t per_layer[TRK_CMS_NLAYERS];
};
/* In-place init (empty) and fini (frees the arrays; NULL-safe); reusable. */
void trk_cms_clusters_init(struct trk_cms_clusters *c);
void trk_cms_clusters_fini(struct trk_cms_clusters *c);

/* Patatrack calibration of one digi: electrons = max(100, int((adc − ped)·gain·47 −
 * 60)) (BPIX L1: ·50 − 670), float arithmetic; returns -1 for a dead/noisy block
 * or an out-of-range module/row/column. */
int32_t trk_cms_calibrate(const struct trk_cms_conditions *c, uint32_t module, uint32_t row,
                          uint32_t col, uint8_t adc);

/* Host reference clusterizer: calibrates the digis, joins 8-connected pixels of a
 * module into clusters and keeps those with charge > 2000 e (modules < 96, BPIX L1)
 * or > 4000 e (others), as Patatrack's clusterChargeCut. Clusters are ordered by
 * module, then by their lowest digi index (Patatrack's order is not defined:
 * compare as sets). Digis need not be grouped by module. */
enum trk_status trk_cms_cluster(const struct trk_cms_conditions *cond, size_t ndigis,
                                const uint32_t *module, const uint16_t *row,
                                const uint16_t *col, const uint8_t *adc,
                                struct trk_cms_clusters *out);

#ifdef __cplusplus
}
#endif
#endif
