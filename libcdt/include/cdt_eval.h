/* cdt_eval.h: evaluating a clustering: k-means, NMI, ARI, ACC, Hungarian.
 *
 * Worked example: cluster N rows of D floats and score them against labels.
 *
 *     cdt_kmeans_opts o = cdt_kmeans_defaults(10);   // k = 10
 *     o.seed = 42;
 *     cdt_kmeans_result res;
 *     if ((rc = cdt_kmeans(x, n, d, &o, labels, centroids, &res)) < 0) ...;
 *     cdt_confusion *cm;
 *     if ((rc = cdt_confusion_create(labels, y, n, &cm)) < 0) ...;
 *     cdt_scores s;
 *     cdt_scores_compute(cm, &s);       // s.nmi, s.ari, s.acc
 *     cdt_confusion_destroy(cm);
 *
 * The definitions follow scikit-learn, so numbers can be compared:
 * NMI uses the arithmetic mean of the two entropies (sklearn's default),
 * ARI is Hubert and Arabie's adjusted Rand index, ACC is the best one-to-one
 * matching of clusters to classes (Hungarian method) divided by the rows
 * scored; when there are more clusters than classes the clusters left
 * unmatched count as wrong, and the other way round.
 */
#ifndef CDT_EVAL_H
#define CDT_EVAL_H

#include <stdint.h>

/* ---- confusion table and scores ---- */

/* Counts of (cluster, class) pairs over the rows whose class is not -1.
 * Clusters and classes are the distinct values seen, in increasing order. */
typedef struct cdt_confusion {
    int k;                /* distinct clusters */
    int m;                /* distinct classes */
    int32_t *cluster_ids; /* (k) the cluster value of each row of count */
    int32_t *class_ids;   /* (m) the class value of each column of count */
    uint64_t *count;      /* (k,m) */
    uint64_t n;           /* rows counted */
    uint64_t ignored;     /* rows skipped because their class was -1 */
} cdt_confusion;

/* Build the table from n rows. A class below -1 is CDT_EDATA; more than
 * 65536 distinct clusters or classes is CDT_ELIMIT (the table would be
 * too big to match). */
int cdt_confusion_create(const int32_t *c /* (n) */, const int32_t *y /* (n) */,
                         uint64_t n, cdt_confusion **out);
void cdt_confusion_destroy(cdt_confusion *cm);

typedef struct cdt_scores {
    double nmi, ari, acc;
    uint64_t matched;     /* rows on the diagonal of the best matching */
    int *match;           /* (k) class column matched to each cluster, -1 if none;
                             NULL unless the caller passes room for it */
} cdt_scores;

/* NMI, ARI and ACC of a table. s->match, when not NULL, receives the
 * matching (room for cm->k ints). An empty table scores 1, as in sklearn.
 * CDT_ENOMEM is the only failure. */
int cdt_scores_compute(const cdt_confusion *cm, cdt_scores *s);

/* ---- Hungarian method ----
 * A minimum-cost one-to-one assignment of rows to columns of a dense cost
 * matrix (rows may differ from cols; min(rows, cols) pairs are made).
 * row_to_col[i] is the column given to row i, or -1. Costs must be finite.
 * O(n^2 max(rows,cols)) time, O(rows+cols) extra memory. */
int cdt_hungarian(const double *cost /* (rows,cols) */, int rows, int cols,
                  int *row_to_col /* (rows) */);

/* ---- k-means ---- */

typedef struct cdt_kmeans_opts {
    int k;            /* clusters, >= 1 and <= n */
    int restarts;     /* independent runs, the lowest inertia is kept (n_init) */
    int max_iter;     /* Lloyd iterations per run */
    double tol;       /* relative: stop when the squared centre shift summed
                         over centres is <= tol * mean per-feature variance */
    uint64_t seed;
} cdt_kmeans_opts;

/* k clusters, 10 restarts, 300 iterations, tol 1e-4, seed 0 (as sklearn). */
cdt_kmeans_opts cdt_kmeans_defaults(int k);

typedef struct cdt_kmeans_result {
    double inertia;   /* sum of squared distances to the assigned centre,
                         computed exactly in double at the end */
    int iterations;   /* Lloyd iterations of the run that was kept */
    int restart;      /* which run was kept */
    int converged;    /* 1 if it stopped before max_iter */
} cdt_kmeans_result;

/* Cluster n rows of d floats. Seeding is sklearn's greedy k-means++
 * (2 + floor(ln k) candidates per centre, the one that lowers the potential
 * most is kept); run r draws from cdt_rng_init(seed, CDT_RNG_KMEANS, r, 0, 0).
 * All runs advance together, so one read of a block of rows serves every
 * run; Hamerly's bounds skip the distances that cannot change a label, with
 * exactly the labels of computing them all. Results depend on the seed
 * only, not on the thread count (OpenMP) or the CPU's vector width.
 * Call it with OpenBLAS on one thread (openblas_set_num_threads(1), once,
 * in the program's main: its threads would compete with ours, and its
 * threaded sgemm rounds otherwise); the library never changes that
 * process-wide setting. labels (n) and centroids (k,d) are the caller's.
 * CDT_EINVAL for bad sizes or options or a value that is not finite,
 * CDT_ELIMIT when the work buffers (16 x restarts x k x d 64-bit sums)
 * would pass 64 TiB, CDT_ENOMEM. */
int cdt_kmeans(const float *x /* (n,d) */, uint64_t n, int d,
               const cdt_kmeans_opts *o, int32_t *labels /* (n) */,
               float *centroids /* (k,d) */, cdt_kmeans_result *res);

/* Label every row of x with its nearest of the k given centroids, by the
 * distance kernel and the rule of cdt_kmeans' passes (ties: the lower
 * centre), so that the rows k-means ran on get exactly its labels back.
 * No BLAS; threads: OpenMP threads (0: OpenMP's default), never a change
 * of result. CDT_EINVAL for bad sizes, CDT_ENOMEM. */
int cdt_kmeans_assign(const float *x /* (n,d) */, uint64_t n, int d,
                      const float *centroids /* (k,d) */, int k, int threads,
                      int32_t *labels /* (n) */);

/* Mean silhouette coefficient (Euclidean) of the labelled rows given by
 * sample; the pairwise distances of the sample are given by the caller
 * (cdt_pairwise_dist) so that one matrix serves many labellings. Rows in
 * a cluster of their own score 0, as in sklearn; labels are 0..k-1.
 * CDT_ENOMEM is the only failure. */
int cdt_silhouette(const float *dist /* (s,s) */, const int32_t *labels /* (s) */,
                   int s, int k, double *out);
/* Euclidean distances between the s rows of x: dist (s,s). */
int cdt_pairwise_dist(const float *x /* (s,d) */, int s, int d,
                      float *dist /* (s,s) */);

#endif
