/* The algorithm table (trk/algorithm.h). Adding an algorithm: declare its ops table in
 * builtin/builtin.h (or its own header) and append one line to k_algorithms. */
#include <string.h>

#include "trk/algorithm.h"
#include "builtin/builtin.h"

extern const struct trk_algorithm trk_algorithm_patatrack; /* patatrack/algo_patatrack.c */
extern const struct trk_algorithm trk_algorithm_exatrkx;   /* exatrkx/algo_exatrkx.c */

static const struct trk_algorithm *const k_algorithms[] = {
    &trk_algorithm_identity,
    &trk_algorithm_sum,
    &trk_algorithm_gemm,
    &trk_algorithm_patatrack,
    &trk_algorithm_exatrkx,
};

#define NALGO (sizeof k_algorithms / sizeof k_algorithms[0])

const struct trk_algorithm *trk_algorithm_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < NALGO; i++)
        if (strcmp(k_algorithms[i]->name, name) == 0)
            return k_algorithms[i];
    return NULL;
}

uint32_t trk_algorithm_count(void)
{
    return (uint32_t)NALGO;
}

const struct trk_algorithm *trk_algorithm_at(uint32_t i)
{
    return i < NALGO ? k_algorithms[i] : NULL;
}
