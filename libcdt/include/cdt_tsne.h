/* cdt_tsne.h: a 2-D map of N rows of D floats by Barnes-Hut t-SNE
 * (van der Maaten 2014), with scikit-learn's defaults so that its numbers
 * can be compared.
 *
 *     cdt_tsne_opts o = cdt_tsne_defaults();
 *     o.seed = 1;
 *     cdt_tsne_result r;
 *     if ((rc = cdt_tsne(x, n, d, &o, xy, &r)) < 0) ...;   // xy (n,2)
 *     printf("KL %g\n", r.kl);
 *
 * The steps: rows centred and projected on their first pca_dims principal
 * axes when D is larger; the exact 3 x perplexity nearest neighbours of
 * every row (cdt_knn, cdt_knn.h);
 * conditional probabilities by a binary search on the Gaussian's precision
 * to the perplexity, symmetrised; the first two principal axes, scaled to a
 * standard deviation of 1e-4, as the start; gradient descent with momentum
 * and gains (0.5 for the first exag_iters iterations with P times
 * exaggeration, then 0.8), the repulsion summed over a quadtree with the
 * Barnes-Hut rule (cell width / distance < theta).
 *
 * Threads (OpenMP) split rows only; every sum runs in a fixed order, so the
 * map depends on the input and the options, never on the thread count.
 * OpenBLAS is held to one thread while it runs (as in cdt_kmeans).
 */
#ifndef CDT_TSNE_H
#define CDT_TSNE_H

#include <stdint.h>

#include "cdt_knn.h"  /* the neighbours (cdt_knn) and cdt_knn_kept */

typedef struct cdt_tsne_opts {
    double perplexity;    /* 30; lowered to (n-1)/3 when n is smaller than 3 x perplexity + 1 */
    int iters;            /* 1000, the exaggerated ones included */
    int exag_iters;       /* 250 */
    double exaggeration;  /* 12 */
    double theta;         /* 0.5; 0 would be exact (and O(N^2)) */
    double learning_rate; /* 0: sklearn's "auto", max(N / exaggeration / 4, 50) */
    int pca_dims;         /* 50; 0: never reduce */
    uint64_t seed;        /* unused: the start is the PCA, nothing is drawn at random;
                             kept so that callers can record it */
} cdt_tsne_opts;

cdt_tsne_opts cdt_tsne_defaults(void);

typedef struct cdt_tsne_result {
    double kl;          /* KL(P||Q) over the neighbours' P, Q's norm from the tree,
                           as sklearn's kl_divergence_ */
    double perplexity;  /* the perplexity used (lowered for small N) */
    int neighbours;     /* k of the kNN graph */
    int dims;           /* the dimensions the neighbours were found in */
    double seconds_knn; /* wall time of PCA + neighbours + P */
} cdt_tsne_result;

/* xy (n,2) is the caller's. Call it with OpenBLAS on one thread, as
 * cdt_kmeans. CDT_EINVAL for n < 4, d < 1 or bad options,
 * CDT_EDATA for a value that is not finite, CDT_ENOMEM. */
int cdt_tsne(const float *x /* (n,d) */, uint64_t n, int d, const cdt_tsne_opts *o,
             float *xy /* (n,2) */, cdt_tsne_result *res);

#endif
