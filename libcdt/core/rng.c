/* rng.c: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC11). Key and the upper counter words come from hashing
 * (seed, tag, a, b, c), the lowest counter word counts draws. */
#include "cdt_rng.h"

#include <math.h>

#include "cdt_core.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void cdt_rng_init(cdt_rng *r, uint64_t seed, uint32_t tag, uint64_t a,
                  uint64_t b, uint64_t c)
{
    uint64_t k = splitmix64(seed ^ splitmix64(tag));
    uint64_t h1 = splitmix64(a ^ splitmix64(k));
    uint64_t h2 = splitmix64(b ^ splitmix64(h1 ^ c));
    uint64_t h3 = splitmix64(c ^ h2);
    r->key[0] = (uint32_t)k;
    r->key[1] = (uint32_t)(k >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = (uint32_t)h2;
    r->ctr[2] = (uint32_t)(h2 >> 32);
    r->ctr[3] = (uint32_t)h3 ^ (uint32_t)(h1 >> 32);
    r->avail = 0;
}

static void philox_block(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

uint32_t cdt_rng_u32(cdt_rng *r)
{
    if (r->avail == 0) {
        philox_block(r->key, r->ctr, r->out);
        if (++r->ctr[0] == 0)
            ++r->ctr[1];
        r->avail = 4;
    }
    return r->out[4 - r->avail--];
}

uint64_t cdt_rng_u64(cdt_rng *r)
{
    uint64_t hi = cdt_rng_u32(r);
    return hi << 32 | cdt_rng_u32(r);
}

double cdt_rng_uniform(cdt_rng *r)
{
    return (double)(cdt_rng_u64(r) >> 11) * 0x1.0p-53;
}

double cdt_rng_range(cdt_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * cdt_rng_uniform(r);
}

uint64_t cdt_rng_below(cdt_rng *r, uint64_t n)
{
    CDT_ASSERT(n > 0);
    /* Rejection keeps it unbiased: drop draws from the last partial block. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = cdt_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double cdt_rng_normal(cdt_rng *r)
{
    /* Box-Muller; 1 - u keeps the log argument in (0, 1]. */
    double u = 1.0 - cdt_rng_uniform(r), v = cdt_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

void cdt_rng_permute(cdt_rng *r, uint64_t *perm, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint64_t i = n; i > 1; i--) {
        uint64_t j = cdt_rng_below(r, i);
        uint64_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
