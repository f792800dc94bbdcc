/* cdt_knn.h: exact k nearest neighbours, and the groups of near-duplicates
 * they give.
 *
 *     cdt_knn_opts o = {.k = 10, .metric = CDT_KNN_COSINE, .threads = 2};
 *     if ((rc = cdt_knn(x, n, NULL, 0, d, &o, nn, nd)) < 0) ...;  // nn, nd (n,10)
 *     int32_t grp[n]; float gd[n];
 *     int groups = cdt_knn_groups(x, n, d, o.metric, nn, nd, 10, 0.05f, grp, gd);
 *
 * Tiles of 512 query rows by 512 base rows through one sgemm each (against
 * itself only the tiles on and above the diagonal: each product serves both
 * rows); every row keeps its k + 16 best by the float products, then every
 * candidate the products' rounding could have ranked wrongly (those within
 * twice the error bound of the k-th) is computed again exactly in double
 * (from every row, when the k + 16 do not reach past that bound): the result
 * is the exact k nearest, ordered by (distance as a float, row), the same
 * bytes for any thread count (OpenMP). Memory: the inputs (and a unit copy
 * for the cosine), (k + 16) candidates per row, a 512 x 512 tile and a
 * row's candidates per thread.
 *
 * Call with OpenBLAS held to one thread (openblas_set_num_threads(1), once,
 * in the program): its threads would compete with ours for the cores.
 */
#ifndef CDT_KNN_H
#define CDT_KNN_H

#include <stdint.h>

enum {
    CDT_KNN_SQL2 = 0,    /* squared Euclidean distance */
    CDT_KNN_L2 = 1,      /* Euclidean distance */
    CDT_KNN_COSINE = 2   /* 1 - cosine similarity (a zero row is at 1 from all) */
};

typedef struct cdt_knn_opts {
    int k;         /* neighbours per row, >= 1 */
    int metric;    /* CDT_KNN_* */
    int threads;   /* OpenMP threads; 0: OpenMP's default */
    int by_float;  /* 1: the k best by the float products of blocks of 128
                      rows against all rows, their distances then exact,
                      without checking the candidates near the k-th (may
                      differ from the exact k where two distances are within
                      rounding; the t-SNE maps keep their bytes) */
} cdt_knn_opts;

/* The k nearest rows of base (n,d) to every row of query (m,d): idx (m,k)
 * the base rows, dist (m,k) their distances, nearest first (ties: the
 * lower row). query NULL: base against itself (m = n), a row never its own
 * neighbour (its copies are). CDT_EINVAL for k > n (k > n - 1 against
 * itself), n, m or d out of range or a bad metric; CDT_EDATA for a value
 * that is not finite, or whose square overflows a float; CDT_ENOMEM. */
int cdt_knn(const float *base /* (n,d) */, uint64_t n, const float *query /* (m,d) */,
            uint64_t m, int d, const cdt_knn_opts *o, int64_t *idx /* (m,k) */,
            float *dist /* (m,k) */);

/* Near-duplicate groups from the k nearest of every row of x (cdt_knn of x
 * against itself): the connected components of the pairs (i, idx[i,t])
 * with dist[i,t] < t. group (n): the component's number, 0, 1, ... in the
 * order of their first rows, -1 for a row in none; first_dist (n): the
 * exact distance (metric) to the first row of its group, 0 for that row,
 * -1 when alone. Returns the number of groups, or CDT_ENOMEM. */
int cdt_knn_groups(const float *x /* (n,d) */, uint64_t n, int d, int metric,
                   const int64_t *idx /* (n,k) */, const float *dist /* (n,k) */, int k,
                   float t, int32_t *group /* (n) */, float *first_dist /* (n) */);

/* Of every row's k nearest neighbours in x (n,d), the fraction that are
 * also among its k nearest in y (n,e), exact, averaged over rows (the
 * map's "trustworthiness" figure in the tests and bench). O(n^2 (d+e)). */
int cdt_knn_kept(const float *x /* (n,d) */, const float *y /* (n,e) */, uint64_t n,
                 int d, int e, int k, double *out);

#endif
