/* trkserve — TrackML challenge CSV files: events (<prefix>-hits/-cells/-particles/
 * -truth.csv, plain or gzip-compressed) and submissions (event_id,hit_id,track_id).
 *
 * Events become the columns trk/event.h documents: hit_pos, hit_vlm; with truth.csv
 * hit_particle, hit_weight, hit_truth_pos, hit_truth_mom; with particles.csv or truth
 * particle_id, particle_q, particle_v, particle_p, particle_nhits, particle_pdg
 * (particles.csv "particle_type" when present, else 0) and particle_vertex (always -1:
 * the files do not say); with cells.csv cell_hit, cell_ch, cell_value.
 *
 * Choices the files force:
 *  - hit_id: unique positive integers in any order; hits keep the file's row order
 *    (hit index = data row, 0-based). The reference subsets use sparse, unsorted ids
 *    (event000001000-barrel10 starts 16884, 16890, ...), so when the ids are not
 *    exactly 1..N in row order the reader adds the column
 *      hit_id  UINT64 [H]  the file's hit_id of every hit
 *    which the writers and the submission reader use instead of index + 1.
 *  - truth.csv must have exactly one row per hit (any order); cells.csv and
 *    truth.csv rows name hits by hit_id and an unknown hit_id is an error.
 *  - particle_id 0 in truth.csv is noise (hit_particle -1). A particle id seen in
 *    truth.csv but absent from particles.csv (or with no particles.csv at all) is
 *    appended after the file's particles with NaN vertex and momentum, charge 0,
 *    pdg 0, and particle_nhits = its truth rows; an INFO log line counts them.
 *    particle_id 0 or a repeated particle_id in particles.csv is an error.
 *
 * Parsing: headers are matched by name (any column order; unknown columns ignored;
 * '\n' or "\r\n" line ends; a UTF-8 BOM and blank lines are ignored; no quoting).
 * Malformed input gives TRK_ERR_PARSE with "file:line: column 'x': what is wrong" in
 * the log (line 1 is the header). Numbers use '.' whatever the process locale (on
 * non-glibc systems, numbers with over 19 digits or exponents beyond ±22 go through
 * strtod and so the locale). All functions are thread-safe on distinct events. */
#ifndef TRK_TRACKML_CSV_H
#define TRK_TRACKML_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "trk/event.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the event `prefix` (e.g. "dir/event000000001"): for each of hits (required),
 * cells, particles and truth it opens <prefix>-<part>.csv, else <prefix>-<part>.csv.gz.
 * Initialises ev (number from a trailing "event<digits>" in the prefix, else 0); on
 * failure ev is empty. No hits file: TRK_ERR_NOT_FOUND; unreadable: TRK_ERR_IO;
 * malformed or corrupt gzip: TRK_ERR_PARSE. */
enum trk_status trk_trackml_read(const char *prefix, struct trk_event *ev);

/* Writes <prefix>-hits.csv (needs hit_pos; hit_vlm, else ids 0) and, when the event
 * has them, -cells (cell_hit), -particles (particle_id) and -truth (hit_particle;
 * particle_id[hit_particle] or 0 for noise) files, ".csv.gz" when gz. Existing
 * <prefix>-{hits,cells,particles,truth}.csv[.gz] files are replaced or removed first
 * so that trk_trackml_read(prefix) reads exactly this event back. hit_id is the
 * event's hit_id column if present, else index + 1. Floats are written with the
 * shortest text that reads back to the same FP32 value. The event is only read. */
enum trk_status trk_trackml_write(const char *prefix, const struct trk_event *ev, bool gz);

/* Reads a submission CSV (header with hit_id and track_id; event_id optional) and adds
 * reco_hit_track INT32 [nhits] to ev: -1 for hits the file does not list. Hit ids map
 * through ev's hit_id column when it has one with nhits rows, else must be 1..nhits.
 * When the file holds several event_ids, only rows with event_id == ev->number are
 * used. track_id must be in [-1, 2^31-1]; a hit listed twice is an error. Plain or gz.
 * ev keeps its other columns; it must not have reco_hit_track yet. */
enum trk_status trk_trackml_read_submission(const char *path, size_t nhits, struct trk_event *ev);

/* Writes "event_id,hit_id,track_id" rows (event_id = ev->number) from reco_hit_track,
 * hit ids as trk_trackml_write does; gzip-compressed when path ends in ".gz". */
enum trk_status trk_trackml_write_submission(const char *path, const struct trk_event *ev);

#ifdef __cplusplus
}
#endif
#endif
