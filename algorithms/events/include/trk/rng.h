/* trkserve — the generator's random numbers: xoshiro256** seeded by splitmix64.
 * Header-only and reentrant: each event owns a trk_rng derived from (seed, event
 * number), so events are reproducible one by one and can be made in parallel. */
#ifndef TRK_RNG_H
#define TRK_RNG_H

#include <math.h>
#include <stdint.h>

struct trk_rng {
    uint64_t s[4];
};

static inline uint64_t trk_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Stream `stream` (an event number, a sub-detector id…) of run `seed`. */
static inline void trk_rng_seed(struct trk_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull);
    for (int i = 0; i < 4; i++)
        r->s[i] = trk_splitmix64(&x);
}

static inline uint64_t trk_rng_u64(struct trk_rng *r)
{
    uint64_t *s = r->s;
    uint64_t t = s[1] << 17, v = s[1] * 5;
    uint64_t result = ((v << 7) | (v >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform in [0, 1). */
static inline double trk_rng_uniform(struct trk_rng *r)
{
    return (double)(trk_rng_u64(r) >> 11) * 0x1.0p-53;
}

/* Uniform in (0, 1]: safe under log(). */
static inline double trk_rng_uniform_pos(struct trk_rng *r)
{
    return 1.0 - trk_rng_uniform(r);
}

/* Standard normal (Box–Muller, one value per call; simple beats fast here). */
static inline double trk_rng_gauss(struct trk_rng *r)
{
    double u = trk_rng_uniform_pos(r), v = trk_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static inline double trk_rng_exp(struct trk_rng *r, double mean)
{
    return -mean * log(trk_rng_uniform_pos(r));
}

/* Poisson(mu): multiplication method below 30, rounded normal above. */
static inline uint32_t trk_rng_poisson(struct trk_rng *r, double mu)
{
    if (mu <= 0)
        return 0;
    if (mu < 30) {
        double l = exp(-mu), p = 1.0;
        uint32_t k = 0;
        do {
            k++;
            p *= trk_rng_uniform(r);
        } while (p > l);
        return k - 1;
    }
    double x = mu + sqrt(mu) * trk_rng_gauss(r) + 0.5;
    return x < 0 ? 0 : (uint32_t)x;
}

/* Landau-distributed variate (most probable value ~ -0.22, unit width), by the
 * Moyal approximation: adequate for silicon energy-loss fluctuations, capped at 30
 * to keep the tail finite. */
static inline double trk_rng_landau(struct trk_rng *r)
{
    /* If g ~ N(0,1), g^2 is chi-square(1) and x = -ln(g^2) follows the Moyal density
     * exp(-(x + e^-x)/2) / sqrt(2 pi). */
    double g = trk_rng_gauss(r);
    double x = -log(g * g + 1e-300);
    return x > 30 ? 30 : x;
}

#endif
