/* trkserve — in-memory entry points of the TrackML CSV parsers (trackml_csv.c), for
 * the fuzzers and for callers that already hold the file contents. Not installed. */
#ifndef TRK_TRACKML_CSV_INTERNAL_H
#define TRK_TRACKML_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "trk/event.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum trk_trackml_part {
    TRK_TRACKML_HITS = 0,
    TRK_TRACKML_CELLS,
    TRK_TRACKML_PARTICLES,
    TRK_TRACKML_TRUTH,
    TRK_TRACKML_NPARTS
};

/* The text of one CSV file: n bytes at data (borrowed; need not be NUL-terminated),
 * `name` used in messages. data == NULL means the file is absent. */
struct trk_trackml_text {
    const char *data;
    size_t n;
    const char *name;
};

/* Parses the texts of one event exactly as trk_trackml_read parses files
 * (text[TRK_TRACKML_HITS] is required). Initialises ev with `number`; on failure ev
 * is empty. Thread-safe on distinct events. */
enum trk_status trk_trackml_parse_mem(const struct trk_trackml_text text[TRK_TRACKML_NPARTS],
                                      uint64_t number, struct trk_event *ev);

/* Parses a submission text exactly as trk_trackml_read_submission parses a file. */
enum trk_status trk_trackml_parse_submission_mem(const struct trk_trackml_text *text,
                                                 size_t nhits, struct trk_event *ev);

#ifdef __cplusplus
}
#endif
#endif
