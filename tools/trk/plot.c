/* trk — efficiency plots as PNG with cairo (see plot.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "plot.h"
#include "trk/log.h"

#ifdef TRK_HAVE_CAIRO
#include <cairo.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define TRK_PLOT_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define TRK_PLOT_LSAN 1
#endif
#endif

#define CAIRO_MISSING                                                                      \
    "PNG plots need cairo, and this trk was built without it: install libcairo2-dev "     \
    "(Debian/Ubuntu; cairo-devel on Fedora) and rebuild (cmake finds it through pkg-config)"

bool trk_plot_available(void)
{
#ifdef TRK_HAVE_CAIRO
    return true;
#else
    return false;
#endif
}

#ifdef TRK_HAVE_CAIRO

enum { W = 900, H = 600, ML = 90, MR = 30, MT = 78, MB = 72 };
#define YMAX 1.05

struct frame {
    double x0, x1, y0, y1; /* plot area in pixels (y0 top) */
    double lo, hi;         /* x range in data units (log10 when logx) */
    bool logx;
};

static double fx(const struct frame *f, double x)
{
    double v = f->logx ? log10(x) : x;
    return f->x0 + (v - f->lo) / (f->hi - f->lo) * (f->x1 - f->x0);
}

static double fy(const struct frame *f, double y)
{
    return f->y1 - y / YMAX * (f->y1 - f->y0);
}

/* Text anchored at (x, y): ax/ay 0 = left/top, 0.5 = centre, 1 = right/bottom. */
static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.x_bearing - ax * e.width, y - e.y_bearing - ay * e.height);
    cairo_show_text(cr, s);
}

/* The first text measurement makes fontconfig load its configuration, a process-wide
 * object that fontconfig (2.14) partly leaks while parsing its XML; under ASan that
 * one-time load is kept out of the leak report, and nothing else is. */
static void load_fonts(cairo_t *cr)
{
    cairo_text_extents_t e;
#ifdef TRK_PLOT_LSAN
    __lsan_disable();
#endif
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_text_extents(cr, "0", &e);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_text_extents(cr, "0", &e);
#ifdef TRK_PLOT_LSAN
    __lsan_enable();
#endif
}

static void format_tick(double v, char *buf, size_t len)
{
    if (fabs(v) < 1e-12)
        v = 0;
    snprintf(buf, len, "%g", v);
}

static void draw_axes(cairo_t *cr, const struct frame *f, const struct trk_plot_spec *spec)
{
    char lab[32];
    cairo_set_line_width(cr, 1.0);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 14);

    /* y grid and ticks: 0, 0.1, ..., 1.0 (labels every 0.2). */
    for (int i = 0; i <= 10; i++) {
        double y = fy(f, i / 10.0);
        cairo_set_source_rgb(cr, i == 10 ? 0.6 : 0.88, i == 10 ? 0.6 : 0.88,
                             i == 10 ? 0.6 : 0.88);
        if (i == 10)
            cairo_set_dash(cr, (double[]){4, 3}, 2, 0);
        cairo_move_to(cr, f->x0, y);
        cairo_line_to(cr, f->x1, y);
        cairo_stroke(cr);
        cairo_set_dash(cr, NULL, 0, 0);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, f->x0, y);
        cairo_line_to(cr, f->x0 + (i % 2 ? 4 : 8), y);
        cairo_stroke(cr);
        if (i % 2 == 0) {
            format_tick(i / 10.0, lab, sizeof lab);
            text_at(cr, lab, f->x0 - 8, y, 1.0, 0.5);
        }
    }

    /* x ticks: decades with 2..9 minor ticks (log), or integers (linear). */
    if (f->logx) {
        for (int d = (int)floor(f->lo); d <= (int)ceil(f->hi); d++)
            for (int m = 1; m <= 9; m++) {
                double v = m * pow(10.0, d);
                double lv = log10(v);
                if (lv < f->lo - 1e-9 || lv > f->hi + 1e-9)
                    continue;
                double x = fx(f, v);
                if (m == 1) {
                    cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
                    cairo_move_to(cr, x, f->y0);
                    cairo_line_to(cr, x, f->y1);
                    cairo_stroke(cr);
                }
                cairo_set_source_rgb(cr, 0, 0, 0);
                cairo_move_to(cr, x, f->y1);
                cairo_line_to(cr, x, f->y1 - (m == 1 ? 8 : 4));
                cairo_stroke(cr);
                if (m == 1) {
                    format_tick(v, lab, sizeof lab);
                    text_at(cr, lab, x, f->y1 + 8, 0.5, 0.0);
                }
            }
    } else {
        double span = f->hi - f->lo;
        double step = span > 20 ? 5 : span > 8 ? 1 : span > 3 ? 0.5 : 0.1;
        for (double v = ceil(f->lo / step) * step; v <= f->hi + 1e-9; v += step) {
            double x = fx(f, v);
            cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
            cairo_move_to(cr, x, f->y0);
            cairo_line_to(cr, x, f->y1);
            cairo_stroke(cr);
            cairo_set_source_rgb(cr, 0, 0, 0);
            cairo_move_to(cr, x, f->y1);
            cairo_line_to(cr, x, f->y1 - 8);
            cairo_stroke(cr);
            format_tick(v, lab, sizeof lab);
            text_at(cr, lab, x, f->y1 + 8, 0.5, 0.0);
        }
    }

    /* Frame. */
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1.5);
    cairo_rectangle(cr, f->x0, f->y0, f->x1 - f->x0, f->y1 - f->y0);
    cairo_stroke(cr);

    /* Labels and titles. */
    cairo_set_font_size(cr, 16);
    text_at(cr, spec->xlabel ? spec->xlabel : "", (f->x0 + f->x1) / 2, H - 14, 0.5, 1.0);
    cairo_save(cr);
    cairo_translate(cr, 22, (f->y0 + f->y1) / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, spec->ylabel ? spec->ylabel : "", 0, 0, 0.5, 0.5);
    cairo_restore(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 19);
    text_at(cr, spec->title ? spec->title : "", (f->x0 + f->x1) / 2, 14, 0.5, 0.0);
    if (spec->subtitle) {
        cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                               CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, 13);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        text_at(cr, spec->subtitle, (f->x0 + f->x1) / 2, 44, 0.5, 0.0);
    }
}

static void draw_series(cairo_t *cr, const struct frame *f, const struct trk_plot_spec *spec,
                        const struct trk_plot_series *s, int k, int nseries)
{
    cairo_set_source_rgb(cr, s->rgb[0], s->rgb[1], s->rgb[2]);
    cairo_set_line_width(cr, 1.6);
    for (int b = 0; b < spec->nbins; b++) {
        if (!s->den[b])
            continue;
        double err, e = trk_score_ratio(s->num[b], s->den[b], &err);
        double xl = fx(f, spec->edges[b]), xr = fx(f, spec->edges[b + 1]);
        /* Curves side by side inside the bin so error bars do not hide each other. */
        double shift = (k - (nseries - 1) / 2.0) * 0.12 * (xr - xl);
        double xc = (xl + xr) / 2 + shift;
        double ylo = fy(f, fmax(0.0, e - err)), yhi = fy(f, fmin(1.0, e + err)), y = fy(f, e);
        cairo_move_to(cr, xl + shift, y); /* bin width */
        cairo_line_to(cr, xr + shift, y);
        cairo_move_to(cr, xc, ylo); /* error bar with caps */
        cairo_line_to(cr, xc, yhi);
        cairo_move_to(cr, xc - 3, ylo);
        cairo_line_to(cr, xc + 3, ylo);
        cairo_move_to(cr, xc - 3, yhi);
        cairo_line_to(cr, xc + 3, yhi);
        cairo_stroke(cr);
        if (k % 2 == 0)
            cairo_arc(cr, xc, y, 4.2, 0, 2 * M_PI);
        else
            cairo_rectangle(cr, xc - 4, y - 4, 8, 8);
        cairo_fill(cr);
    }
}

static void draw_legend(cairo_t *cr, const struct frame *f, const struct trk_plot_series *series,
                        int nseries)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 13);
    double wmax = 0;
    for (int k = 0; k < nseries; k++) {
        cairo_text_extents_t e;
        cairo_text_extents(cr, series[k].label, &e);
        wmax = fmax(wmax, e.x_advance);
    }
    double bw = wmax + 44, bh = 22.0 * nseries + 10;
    double bx = f->x1 - bw - 12, by = f->y1 - bh - 12;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    for (int k = 0; k < nseries; k++) {
        const struct trk_plot_series *s = &series[k];
        double y = by + 16 + 22.0 * k;
        cairo_set_source_rgb(cr, s->rgb[0], s->rgb[1], s->rgb[2]);
        if (k % 2 == 0)
            cairo_arc(cr, bx + 16, y, 4.2, 0, 2 * M_PI);
        else
            cairo_rectangle(cr, bx + 12, y - 4, 8, 8);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        text_at(cr, s->label, bx + 30, y, 0.0, 0.5);
    }
}

enum trk_status trk_plot_efficiency(const char *path, const struct trk_plot_spec *spec,
                                    const struct trk_plot_series *series, int nseries)
{
    if (!path || !spec || !spec->edges || spec->nbins < 1 || (nseries && !series)) {
        TRK_LOGE("path, spec with nbins >= 1 and edges, and series are required");
        return TRK_ERR_INVALID_ARG;
    }
    if (spec->logx && !(spec->edges[0] > 0)) {
        TRK_LOGE("%s: a log x axis needs positive bin edges", path);
        return TRK_ERR_INVALID_ARG;
    }
    struct frame f = {ML, W - MR, MT, H - MB, 0, 0, spec->logx};
    f.lo = spec->logx ? log10(spec->edges[0]) : spec->edges[0];
    f.hi = spec->logx ? log10(spec->edges[spec->nbins]) : spec->edges[spec->nbins];

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    load_fonts(cr);
    draw_axes(cr, &f, spec);
    cairo_save(cr);
    cairo_rectangle(cr, f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0);
    cairo_clip(cr);
    for (int k = 0; k < nseries; k++)
        draw_series(cr, &f, spec, &series[k], k, nseries);
    cairo_restore(cr);
    if (nseries)
        draw_legend(cr, &f, series, nseries);

    enum trk_status st = TRK_OK;
    cairo_status_t cs = cairo_status(cr);
    if (cs == CAIRO_STATUS_SUCCESS)
        cs = cairo_surface_write_to_png(surf, path);
    if (cs != CAIRO_STATUS_SUCCESS) {
        TRK_LOGE("%s: cannot write the PNG: %s", path, cairo_status_to_string(cs));
        st = TRK_ERR_IO;
    }
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    /* Drops cairo's font caches (no cairo object is alive here), so that leak
     * checkers see no memory held by the toy font backend at exit. */
    cairo_debug_reset_static_data();
    return st;
}

#else /* !TRK_HAVE_CAIRO */

enum trk_status trk_plot_efficiency(const char *path, const struct trk_plot_spec *spec,
                                    const struct trk_plot_series *series, int nseries)
{
    (void)path;
    (void)spec;
    (void)series;
    (void)nseries;
    TRK_LOGE(CAIRO_MISSING);
    return TRK_ERR_UNSUPPORTED;
}

#endif

static void append(char *buf, size_t len, const char *s)
{
    if (!buf || !len)
        return;
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, "%s%s", n ? ", " : "", s);
}

enum trk_status trk_plot_score(const struct trk_score_result *acc, const char *dir,
                               char *written, size_t written_len)
{
    if (!acc || !dir) {
        TRK_LOGE("acc and dir are required");
        return TRK_ERR_INVALID_ARG;
    }
    if (!trk_plot_available()) {
        TRK_LOGE(CAIRO_MISSING);
        return TRK_ERR_UNSUPPORTED;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        TRK_LOGE("%s: cannot create the plot folder: %s", dir, strerror(errno));
        return TRK_ERR_IO;
    }
    double pt_edges[TRK_SCORE_PT_BINS + 1], eta_edges[TRK_SCORE_ETA_BINS + 1];
    for (int i = 0; i <= TRK_SCORE_PT_BINS; i++)
        pt_edges[i] = trk_score_pt_edge(i);
    for (int i = 0; i <= TRK_SCORE_ETA_BINS; i++)
        eta_edges[i] = trk_score_eta_edge(i);
    const struct trk_score_config *c = &acc->cfg;
    const struct trk_score_track_counts *dm = &acc->rule[TRK_SCORE_DOUBLE_MAJORITY];
    const struct trk_score_track_counts *cms = &acc->rule[TRK_SCORE_CMS75];
    static const double blue[3] = {0.12, 0.35, 0.75}, red[3] = {0.85, 0.25, 0.15};

    struct trk_plot_series pt_series[2] = {
        {"TrackML double majority (>50% / >50%)", dm->pt_matched, dm->pt_total,
         {blue[0], blue[1], blue[2]}},
        {"CMS (>= 75% of the track's hits)", cms->pt_matched, cms->pt_total,
         {red[0], red[1], red[2]}}};
    struct trk_plot_series eta_series[2] = {
        {pt_series[0].label, dm->eta_matched, dm->eta_total, {blue[0], blue[1], blue[2]}},
        {pt_series[1].label, cms->eta_matched, cms->eta_total, {red[0], red[1], red[2]}}};

    uint64_t npt = 0, neta = 0;
    for (int i = 0; i < TRK_SCORE_PT_BINS; i++)
        npt += dm->pt_total[i];
    for (int i = 0; i < TRK_SCORE_ETA_BINS; i++)
        neta += dm->eta_total[i];
    char sub[256], path[4096];
    snprintf(sub, sizeof sub,
             "charged particles with >= %d hits, |eta| <= %.3g; %llu particles in %llu "
             "event%s",
             (int)c->min_hits, c->max_eta, (unsigned long long)npt,
             (unsigned long long)acc->track_events, acc->track_events == 1 ? "" : "s");
    struct trk_plot_spec spec = {"Track efficiency vs pT", sub, "pT [GeV]", "efficiency", true,
                                 TRK_SCORE_PT_BINS, pt_edges};
    snprintf(path, sizeof path, "%s/efficiency_pt.png", dir);
    enum trk_status st = trk_plot_efficiency(path, &spec, pt_series, 2);
    if (st != TRK_OK)
        return st;
    append(written, written_len, path);

    snprintf(sub, sizeof sub,
             "charged particles with >= %d hits, pT >= %.3g GeV; %llu particles in %llu "
             "event%s",
             (int)c->min_hits, c->min_pt, (unsigned long long)neta,
             (unsigned long long)acc->track_events, acc->track_events == 1 ? "" : "s");
    spec = (struct trk_plot_spec){"Track efficiency vs eta", sub, "eta", "efficiency", false,
                                  TRK_SCORE_ETA_BINS, eta_edges};
    snprintf(path, sizeof path, "%s/efficiency_eta.png", dir);
    st = trk_plot_efficiency(path, &spec, eta_series, 2);
    if (st != TRK_OK)
        return st;
    append(written, written_len, path);
    return TRK_OK;
}
