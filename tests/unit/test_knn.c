/* test_knn.c: cdt_knn against a brute-force O(N^2) reference in double on
 * 2,000 rows (every pair, ranked by (distance as a float, row)), for the
 * cosine, L2 and squared L2, against itself and for query rows; 1 and 2
 * threads give the same bytes; rows with many near-ties (a grid, copies)
 * are still exact; the near-duplicate groups of a hand example; bad sizes
 * and values that are not finite are refused. */
#include "cdt.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

void openblas_set_num_threads(int);

static uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float unif(uint64_t x) { return (float)((double)(splitmix64(x) >> 11) * 0x1p-53); }

/* n rows of d in 20 loose clusters, plus a copy of row 0 at the end. */
static float *data(int n, int d, uint64_t seed)
{
    float *x = malloc((size_t)n * d * sizeof *x);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            x[(size_t)i * d + j] = 2 * unif(seed + (uint64_t)(i % 20) * 977 + j) +
                                   unif(seed * 31 + (uint64_t)i * d + j + 7) - 0.5f;
    return x;
}

/* The metrics' definitions, in double: the cosine distance as half the
 * squared distance of the unit rows (what 1 - cos is, without the
 * cancellation). */
static double ref_dist(const float *a, const float *b, int d, int metric)
{
    double s = 0, na = 0, nb = 0;
    for (int q = 0; q < d; q++) {
        s += ((double)a[q] - b[q]) * ((double)a[q] - b[q]);
        na += (double)a[q] * a[q];
        nb += (double)b[q] * b[q];
    }
    if (metric != CDT_KNN_COSINE)
        return metric == CDT_KNN_L2 ? sqrt(s) : s;
    if (!(na > 0 && nb > 0))
        return 1;
    s = 0;
    for (int q = 0; q < d; q++) {
        double e = a[q] / sqrt(na) - b[q] / sqrt(nb);
        s += e * e;
    }
    return s / 2;
}

typedef struct cand { float d; int64_t j; } cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* Brute force: every row of q (NULL: base, self excluded) against all. */
static int64_t brute_check(t_state *ts, const float *b, int n, const float *q, int m, int d,
                           int k, int metric, const int64_t *idx, const float *dist)
{
    cand *c = malloc((size_t)n * sizeof *c);
    int64_t wrong = 0;
    for (int i = 0; i < m; i++) {
        const float *qi = (q ? q : b) + (size_t)i * d;
        int nc = 0;
        for (int j = 0; j < n; j++)
            if (q || j != i)
                c[nc++] = (cand){(float)ref_dist(qi, b + (size_t)j * d, d, metric), j};
        qsort(c, (size_t)nc, sizeof *c, cmp_cand);
        for (int t = 0; t < k; t++)
            wrong += c[t].j != idx[(size_t)i * k + t] || c[t].d != dist[(size_t)i * k + t];
    }
    free(c);
    T_EQ_INT(ts, wrong, 0);
    return wrong;
}

static void test_exact(t_state *ts)
{
    int n = 2000, d = 48, k = 10;
    float *x = data(n, d, 5);
    memcpy(x + (size_t)(n - 1) * d, x, (size_t)d * sizeof *x); /* an exact copy */
    int64_t *i1 = malloc((size_t)n * k * sizeof *i1), *i2 = malloc((size_t)n * k * sizeof *i2);
    float *d1 = malloc((size_t)n * k * sizeof *d1), *d2 = malloc((size_t)n * k * sizeof *d2);
    int metrics[3] = {CDT_KNN_COSINE, CDT_KNN_L2, CDT_KNN_SQL2};
    for (int mi = 0; mi < 3; mi++) {
        cdt_knn_opts o = {.k = k, .metric = metrics[mi], .threads = 1};
        T_EQ_INT(ts, cdt_knn(x, n, NULL, 0, d, &o, i1, d1), 0);
        o.threads = 2;
        T_EQ_INT(ts, cdt_knn(x, n, NULL, 0, d, &o, i2, d2), 0);
        T_CHECK(ts, !memcmp(i1, i2, (size_t)n * k * sizeof *i1));
        T_CHECK(ts, !memcmp(d1, d2, (size_t)n * k * sizeof *d1));
        brute_check(ts, x, n, NULL, n, d, k, metrics[mi], i1, d1);
        T_EQ_INT(ts, i1[0], n - 1);           /* the copy is row 0's nearest */
        T_NEAR(ts, d1[0], 0, 0);
    }
    /* query rows: 300 others against the 2000 */
    float *q = data(300, d, 99);
    cdt_knn_opts o = {.k = k, .metric = CDT_KNN_L2, .threads = 2};
    T_EQ_INT(ts, cdt_knn(x, n, q, 300, d, &o, i1, d1), 0);
    brute_check(ts, x, n, q, 300, d, k, CDT_KNN_L2, i1, d1);
    free(q); free(x); free(i1); free(i2); free(d1); free(d2);
}

/* A grid of integer points: many exact ties and near-ties in float. */
static void test_ties(t_state *ts)
{
    int n = 729, d = 6, k = 12;
    float *x = malloc((size_t)n * d * sizeof *x);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            x[i * d + j] = (float)((i / (j < 3 ? (j == 0 ? 1 : j == 1 ? 9 : 81) : 1)) % 9) +
                           (j >= 3 ? 1000.0f + 0.001f * (float)j : 0);
    int64_t *idx = malloc((size_t)n * k * sizeof *idx);
    float *dist = malloc((size_t)n * k * sizeof *dist);
    for (int mi = 0; mi < 2; mi++) {
        int metric = mi ? CDT_KNN_SQL2 : CDT_KNN_COSINE;
        cdt_knn_opts o = {.k = k, .metric = metric, .threads = 2};
        T_EQ_INT(ts, cdt_knn(x, n, NULL, 0, d, &o, idx, dist), 0);
        brute_check(ts, x, n, NULL, n, d, k, metric, idx, dist);
    }
    free(x); free(idx); free(dist);
}

static void test_groups(t_state *ts)
{
    /* rows 0, 2, 5 near one another, 3 and 4 a pair, 1 alone */
    float x[6 * 2] = {0, 0, 50, 50, 0.01f, 0, 10, 10, 10, 10.02f, 0, 0.015f};
    int64_t idx[6 * 2];
    float dist[6 * 2], fd[6];
    int32_t g[6];
    cdt_knn_opts o = {.k = 2, .metric = CDT_KNN_L2};
    T_EQ_INT(ts, cdt_knn(x, 6, NULL, 0, 2, &o, idx, dist), 0);
    T_EQ_INT(ts, cdt_knn_groups(x, 6, 2, CDT_KNN_L2, idx, dist, 2, 0.1f, g, fd), 2);
    int32_t want[6] = {0, -1, 0, 1, 1, 0};
    for (int i = 0; i < 6; i++)
        T_EQ_INT(ts, g[i], want[i]);
    T_NEAR(ts, fd[0], 0, 0);
    T_NEAR(ts, fd[1], -1, 0);
    T_NEAR(ts, fd[2], 0.01, 1e-6);
    T_NEAR(ts, fd[4], 0.02, 1e-6);
    T_NEAR(ts, fd[5], 0.015, 1e-6);
}

static void test_bad(t_state *ts)
{
    float x[4 * 2] = {0, 1, 2, 3, 4, 5, 6, 7};
    int64_t idx[16];
    float dist[16];
    cdt_knn_opts o = {.k = 4, .metric = CDT_KNN_L2};
    T_EQ_INT(ts, cdt_knn(x, 4, NULL, 0, 2, &o, idx, dist), CDT_EINVAL);  /* k >= n */
    o.k = 3;
    T_EQ_INT(ts, cdt_knn(x, 0, NULL, 0, 2, &o, idx, dist), CDT_EINVAL);  /* n = 0 */
    T_EQ_INT(ts, cdt_knn(x, 4, x, 0, 2, &o, idx, dist), CDT_EINVAL);     /* m = 0 */
    o.metric = 7;
    T_EQ_INT(ts, cdt_knn(x, 4, NULL, 0, 2, &o, idx, dist), CDT_EINVAL);
    o.metric = CDT_KNN_COSINE;
    x[3] = NAN;
    T_EQ_INT(ts, cdt_knn(x, 4, NULL, 0, 2, &o, idx, dist), CDT_EDATA);
    x[3] = 3e30f; /* its square overflows */
    T_EQ_INT(ts, cdt_knn(x, 4, NULL, 0, 2, &o, idx, dist), CDT_EDATA);
}

int main(void)
{
    openblas_set_num_threads(1);
    t_state ts = {0};
    T_RUN(&ts, test_exact);
    T_RUN(&ts, test_ties);
    T_RUN(&ts, test_groups);
    T_RUN(&ts, test_bad);
    return T_END(&ts);
}
