/* cdt_rng.h: a counter-based generator (Philox4x32-10).
 *
 * The numbers drawn for (seed, tag, a, b, c) depend on those values only,
 * never on the thread or the order in which samples are processed:
 * augmentation uses (seed, CDT_RNG_AUGMENT, epoch, sample id, view),
 * shuffling (seed, CDT_RNG_SHUFFLE, epoch, 0, 0). Different tuples give
 * independent streams.
 */
#ifndef CDT_RNG_H
#define CDT_RNG_H

#include <stdint.h>

typedef struct cdt_rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t out[4];
    int avail;
} cdt_rng;

void cdt_rng_init(cdt_rng *r, uint64_t seed, uint32_t tag, uint64_t a,
                  uint64_t b, uint64_t c);
uint32_t cdt_rng_u32(cdt_rng *r);
uint64_t cdt_rng_u64(cdt_rng *r);
double cdt_rng_uniform(cdt_rng *r);               /* [0, 1), 53 bits */
double cdt_rng_range(cdt_rng *r, double lo, double hi); /* [lo, hi) */
uint64_t cdt_rng_below(cdt_rng *r, uint64_t n);    /* [0, n), unbiased; n > 0 */
double cdt_rng_normal(cdt_rng *r);                 /* N(0, 1) */
/* Fisher-Yates permutation of 0..n-1 into perm. */
void cdt_rng_permute(cdt_rng *r, uint64_t *perm, uint64_t n);

/* Tags, so that uses never share numbers by accident. */
enum { CDT_RNG_SHUFFLE = 1, CDT_RNG_AUGMENT = 2, CDT_RNG_INIT = 3,
       CDT_RNG_KMEANS = 4 };

#endif
