/* trkserve — where the reference data (../shared/data: TrackML events and detector,
 * CMS pixel geometry and counts) is found. It is never part of the repository. */
#ifndef TRK_DATA_H
#define TRK_DATA_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* $TRK_DATA_DIR if set; otherwise ../shared/data beside the source checkout this
 * library was built from, if it exists; otherwise "../shared/data". Static string. */
const char *trk_data_dir(void);

/* Writes "<data dir>/<rel>" into buf; returns true when that path exists. */
bool trk_data_path(const char *rel, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
