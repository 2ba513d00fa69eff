/* Private to libtrkalgo: the built-in algorithms' ops tables and small helpers. */
#ifndef TRK_BUILTIN_H
#define TRK_BUILTIN_H

#include <stdint.h>
#include <time.h>

#include "trk/algorithm.h"

extern const struct trk_algorithm trk_algorithm_identity;
extern const struct trk_algorithm trk_algorithm_sum;
extern const struct trk_algorithm trk_algorithm_gemm;

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t builtin_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
