/* trkserve — declarations shared inside libtrkevents only. */
#ifndef TRK_EVENTS_INTERNAL_H
#define TRK_EVENTS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/detector.h"

/* a folded into [-pi, pi]. */
static inline double trk_wrap_pi(double a)
{
    while (a > M_PI)
        a -= 2 * M_PI;
    while (a < -M_PI)
        a += 2 * M_PI;
    return a;
}

/* Modules of layer L whose navigation cells touch phi in [phi_lo, phi_hi] (may run
 * past ±pi) and b (z for barrels, r for disks) in [b_lo, b_hi]. Appends each such
 * module once to out[n..cap); returns the new count. */
size_t trk_layer_candidates(const struct trk_layer *L, double phi_lo, double phi_hi,
                            double b_lo, double b_hi, uint32_t *out, size_t n, size_t cap);

#endif
