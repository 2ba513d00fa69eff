/* trk — PNG plots of binned efficiencies (trk score --plots), drawn with cairo.
 * Built without cairo (no TRK_HAVE_CAIRO), every function fails with
 * TRK_ERR_UNSUPPORTED and a log line saying to install libcairo2-dev and rebuild. */
#ifndef TRK_PLOT_H
#define TRK_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/score.h"
#include "trk/status.h"

/* One curve: per bin, k = num[i] passing of n = den[i]; drawn as k/n with a binomial
 * error bar; bins with n = 0 are not drawn. rgb in [0,1]. */
struct trk_plot_series {
    const char *label;
    const uint64_t *num, *den;
    double rgb[3];
};

/* What a plot shows: nbins bins with edges[nbins+1] (increasing; > 0 when logx). */
struct trk_plot_spec {
    const char *title;    /* top line */
    const char *subtitle; /* second, smaller line (may be NULL) */
    const char *xlabel, *ylabel;
    bool logx;
    int nbins;
    const double *edges;
};

/* True when this build can write PNGs (cairo was found). */
bool trk_plot_available(void);

/* Writes an efficiency-style plot (y from 0 to 1.05, grid, tick labels, legend) of
 * nseries curves to the PNG `path`. Fails with TRK_ERR_IO (logged with the path) when
 * the file cannot be written, TRK_ERR_UNSUPPORTED without cairo. */
enum trk_status trk_plot_efficiency(const char *path, const struct trk_plot_spec *spec,
                                    const struct trk_plot_series *series, int nseries);

/* The plots of a score result, both matching rules per plot, into folder dir (created
 * if missing): efficiency_pt.png (log x) and efficiency_eta.png. Names of the written
 * files are appended to `written` (", "-separated; may be NULL). */
enum trk_status trk_plot_score(const struct trk_score_result *acc, const char *dir,
                               char *written, size_t written_len);

#endif
