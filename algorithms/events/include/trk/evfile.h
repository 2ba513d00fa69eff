/* trkserve — event files: a versioned, little-endian binary container of events
 * (struct trk_event, i.e. lists of named tensors) with a per-event index for random
 * access and CRC32 checksums on every part.
 *
 * Byte layout, format version 1. All integers are unsigned little-endian unless
 * marked i64 (signed); "crc" is the zlib/IEEE CRC32 (zlib.crc32 in Python). Every
 * event and every section's data start on a 64-byte boundary of the file; padding
 * bytes are zero and not checksummed. Offsets marked (file) are from the start of
 * the file, (event) from the start of that event's block.
 *
 *   FILE HEADER (at 0, 64 bytes, followed by the metadata string)
 *   off  size  field
 *     0     8  magic "TRKEVF\r\n" (54 52 4B 45 56 46 0D 0A)
 *     8     4  version = 1
 *    12     4  detector kind (enum trk_detector_kind: 0 none, 1 CMS, 2 TrackML)
 *    16     8  event count
 *    24     8  index offset (file); 0 while the writer has not finished
 *    32     4  metadata length M in bytes (at most 1 MiB; UTF-8, no NUL)
 *    36    24  reserved, zero
 *    60     4  header crc: crc of bytes [0, 60) followed by the M metadata bytes
 *    64     M  metadata (free text, e.g. the generator command line)
 *
 *   EVENT BLOCK (at the offset the index gives; 64-byte aligned)
 *     0     8  magic "TRKEVENT"
 *     8     8  event number (struct trk_event.number)
 *    16     4  section count S (at most 65536)
 *    20     4  reserved, zero
 *    24     8  block size in bytes (equals the index entry's size)
 *    32 160*S  section table, one 160-byte entry per tensor:
 *              +0    64  name, NUL-padded (1–63 bytes of text, then NULs)
 *              +64    4  dtype (enum trk_dtype: 1 BOOL, 2 UINT8, 3 UINT16,
 *                        4 UINT32, 5 UINT64, 6 INT8, 7 INT16, 8 INT32, 9 INT64,
 *                        10 FP16, 11 FP32, 12 FP64, 13 BYTES)
 *              +68    4  ndim (0–8)
 *              +72   64  shape: 8 x i64, dims >= 0; unused dims are 0
 *              +136   8  data offset (event), 64-byte aligned, after the table
 *              +144   8  data size in bytes: product(shape) x dtype size; for
 *                        BYTES, product(shape) strings, each a u32 length and
 *                        that many bytes (the KServe binary form)
 *              +152   4  crc of the data bytes
 *              +156   4  reserved, zero
 *     ...          section data, row-major, little-endian elements
 *
 *   INDEX (at the index offset; 64-byte aligned; the last thing in the file)
 *     0     8  magic "TRKINDEX"
 *     8     8  entry count N (equals the header's event count)
 *    16  24*N  per event: offset (file, u64), size (u64), crc (u32) of the event
 *              block's first 32 + 160*S bytes (header and section table), then
 *              4 reserved zero bytes
 *  16+24N   4  index crc: crc of the index bytes [0, 16 + 24*N)
 *
 * Readers check everything before use (magic, version, sizes against the file size
 * without overflow, dtype/shape against sizes, all CRCs) and report a malformed file
 * as TRK_ERR_PARSE with the file, event index, section and byte offset in the log.
 * Version 1 is the only version; a later version is refused with a message. */
#ifndef TRK_EVFILE_H
#define TRK_EVFILE_H

#include <stddef.h>
#include <stdint.h>

#include "trk/detector.h"
#include "trk/event.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRK_EVFILE_VERSION 1u
#define TRK_EVFILE_META_MAX (1u << 20)
#define TRK_EVFILE_SECTIONS_MAX 65536u

/* ---- writing -------------------------------------------------------------------- */

/* A file being written. Not thread-safe: one thread appends, then finishes. */
struct trk_evfile_writer;

/* Creates (truncates) `path` and writes a provisional header; meta (NULL = "") is a
 * free-text string stored verbatim (at most 1 MiB). *out is owned by the caller until
 * trk_evfile_finish. Fails with TRK_ERR_IO when the file cannot be created. */
enum trk_status trk_evfile_create(const char *path, enum trk_detector_kind det, const char *meta,
                                  struct trk_evfile_writer **out);

/* Writes one event (every tensor as a section; the event is only read). Tensor names
 * must be 1–63 characters; fixed-size dtypes need nbytes == elements x size. After a
 * failure the writer only accepts trk_evfile_finish (which then fails too). */
enum trk_status trk_evfile_append(struct trk_evfile_writer *w, const struct trk_event *ev);

/* Writes the index, rewrites the header's count and index offset and closes the
 * file. Frees w in every case (NULL-safe); an unfinished file is refused by readers. */
enum trk_status trk_evfile_finish(struct trk_evfile_writer *w);

/* ---- reading -------------------------------------------------------------------- */

/* An open event file, validated up to the index by open. Read-only after open:
 * trk_evfile_read may be called from several threads at once on the same file. */
struct trk_evfile;

/* Opens and validates `path` (memory-mapped, or read into memory when mapping fails).
 * Missing file: TRK_ERR_NOT_FOUND; unreadable: TRK_ERR_IO; malformed: TRK_ERR_PARSE.
 * The file must not be modified while it is open. */
enum trk_status trk_evfile_open(const char *path, struct trk_evfile **out);

/* Like trk_evfile_open on n bytes at data, which are borrowed (not copied): they must
 * stay valid and unchanged until trk_evfile_close. `name` (NULL: "<memory>") names
 * the buffer in messages. Any alignment of data is fine. */
enum trk_status trk_evfile_open_mem(const void *data, size_t n, const char *name,
                                    struct trk_evfile **out);

/* Number of events; detector kind; metadata string (never NULL, owned by f). */
size_t trk_evfile_count(const struct trk_evfile *f);
enum trk_detector_kind trk_evfile_detector(const struct trk_evfile *f);
const char *trk_evfile_meta(const struct trk_evfile *f);

/* Validates event `index` (0-based, in file order) and decodes it into ev, which this
 * call initialises (any previous content is not freed); the tensors own copies of the
 * data. On failure ev is empty (no tensors). Thread-safe for distinct ev. */
enum trk_status trk_evfile_read(struct trk_evfile *f, size_t index, struct trk_event *ev);

/* Unmaps/frees f. NULL-safe. */
void trk_evfile_close(struct trk_evfile *f);

#ifdef __cplusplus
}
#endif
#endif
