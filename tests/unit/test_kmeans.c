/* test_kmeans.c: k-means recovers separated blobs, matches sklearn's
 * inertia on a fixed data set (tests/golden/eval/kmeans.txt), gives the same
 * bytes whatever the thread count, and with Hamerly's bounds exactly the
 * labels and centres of passes over every distance, on every distance
 * kernel the CPU runs; silhouette against a hand example. */
#include "cdt.h"
#include "eval/eval.h"
#include "t.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>

void openblas_set_num_threads(int);

/* The generator's formula (tests/gen/gen_eval_golden.py, kmeans_data). */
static uint64_t splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unif(uint64_t x)
{
    return (double)(splitmix64(x) >> 11) * (1.0 / 9007199254740992.0);
}

static float *golden_data(int n, int d, int k)
{
    float *x = malloc((size_t)n * d * sizeof *x);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double cen = 3.0 * unif(1000003ull * (uint64_t)(i % k) + (uint64_t)j) - 1.5;
            uint64_t s = (1ull << 40) + 3ull * ((uint64_t)i * d + j);
            double noise = (unif(s) + unif(s + 1) + unif(s + 2) - 1.5) * 2.0;
            x[(size_t)i * d + j] = (float)(cen + noise);
        }
    return x;
}

static void test_golden_inertia(t_state *ts)
{
    FILE *f = fopen("tests/golden/eval/kmeans.txt", "r");
    T_CHECK(ts, f != NULL);
    if (!f)
        return;
    char line[256];
    int n = 0, d = 0, k = 0;
    double sum = 0, ref = 0, sil = 0;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "n %d", &n);
        sscanf(line, "d %d", &d);
        sscanf(line, "k %d", &k);
        sscanf(line, "sum %lf", &sum);
        sscanf(line, "inertia %lf", &ref);
        sscanf(line, "silhouette300 %lf", &sil);
    }
    fclose(f);
    T_CHECK(ts, n > 0 && d > 0 && k > 0 && ref > 0);
    if (!(n > 0 && d > 0 && k > 0))
        return;
    float *x = golden_data(n, d, k);
    double s = 0;
    for (size_t i = 0; i < (size_t)n * d; i++)
        s += x[i];
    T_NEAR(ts, s, sum, 1e-6); /* the same floats as the generator's */
    cdt_kmeans_opts o = cdt_kmeans_defaults(k);
    int32_t *lab = malloc((size_t)n * sizeof *lab);
    float *cen = malloc((size_t)k * d * sizeof *cen);
    cdt_kmeans_result res;
    T_EQ_INT(ts, cdt_kmeans(x, (uint64_t)n, d, &o, lab, cen, &res), 0);
    fprintf(stderr, "inertia %.6f sklearn %.6f ratio %.6f (iterations %d)\n",
            res.inertia, ref, res.inertia / ref, res.iterations);
    T_NEAR(ts, res.inertia / ref, 1.0, 0.005);
    /* Silhouette of the first 300 rows with their blob labels, against
     * sklearn's in float64; ours goes through float distances. */
    float *dist = malloc(300 * 300 * sizeof *dist);
    for (int i = 0; i < 300; i++)
        lab[i] = i % k;
    double s300 = 0;
    T_EQ_INT(ts, cdt_pairwise_dist(x, 300, d, dist), 0);
    T_EQ_INT(ts, cdt_silhouette(dist, lab, 300, k, &s300), 0);
    T_CHECK(ts, sil != 0);
    T_NEAR(ts, s300, sil, 1e-5);
    free(dist);
    free(x); free(lab); free(cen);
}

/* ACC of labels against the truth, or -1; also checks that there are k
 * clusters and an ARI of 1 when the ACC is 1. */
static double acc_of(const int32_t *lab, const int32_t *y, int n, int k)
{
    cdt_confusion *cm;
    if (cdt_confusion_create(lab, y, (uint64_t)n, &cm))
        return -1;
    cdt_scores s = {0};
    double acc = cdt_scores_compute(cm, &s) || cm->k != k ? -1 : s.acc;
    if (acc == 1.0 && fabs(s.ari - 1.0) > 1e-12)
        acc = -1;
    cdt_confusion_destroy(cm);
    return acc;
}

/* Five tight blobs far apart: the labels must be the truth up to a
 * renaming (ACC and ARI exactly 1). */
static void test_blobs(t_state *ts)
{
    int n = 1000, d = 8, k = 5;
    float *x = malloc((size_t)n * d * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y), *lab = malloc((size_t)n * sizeof *lab);
    float *cen = malloc((size_t)k * d * sizeof *cen);
    cdt_rng r;
    cdt_rng_init(&r, 1, CDT_RNG_KMEANS, 1000, 0, 0);
    for (int i = 0; i < n; i++) {
        y[i] = (int32_t)cdt_rng_below(&r, (uint64_t)k);
        for (int j = 0; j < d; j++)
            x[i * d + j] = (float)(20.0 * (j == y[i] ? 1 : 0) + 10.0 * y[i] * (j == 7) +
                                   cdt_rng_normal(&r));
    }
    cdt_kmeans_opts o = cdt_kmeans_defaults(k);
    o.seed = 3;
    cdt_kmeans_result res;
    T_EQ_INT(ts, cdt_kmeans(x, (uint64_t)n, d, &o, lab, cen, &res), 0);
    T_NEAR(ts, acc_of(lab, y, n, k), 1.0, 0);
    T_CHECK(ts, res.converged);
    /* k-means++ alone (one run, one iteration) already puts a centre in
     * every blob: blobs are 20 apart, rows about 3 from their centre, so a
     * candidate drawn by squared distance lands in an empty blob almost
     * surely (drawing the candidates uniformly instead fails this test). */
    o.restarts = 1;
    o.max_iter = 1;
    for (uint64_t seed = 0; seed < 10; seed++) {
        o.seed = seed;
        T_EQ_INT(ts, cdt_kmeans(x, (uint64_t)n, d, &o, lab, cen, &res), 0);
        T_NEAR(ts, acc_of(lab, y, n, k), 1.0, 0);
    }
    free(x); free(y); free(lab); free(cen);
}

static void run_threads(int threads, const float *x, int n, int d, int32_t *lab,
                        float *cen, cdt_kmeans_result *res)
{
    omp_set_num_threads(threads); // OpenBLAS stays on one thread, as the tools keep it
    cdt_kmeans_opts o = cdt_kmeans_defaults(7);
    o.seed = 11;
    o.restarts = 4;
    cdt_kmeans(x, (uint64_t)n, d, &o, lab, cen, res);
}

static void test_threads(t_state *ts)
{
    int n = 9000, d = 24, k = 7; /* more rows than one slab */
    float *x = golden_data(n, d, k);
    int32_t *l1 = malloc((size_t)n * 4), *l2 = malloc((size_t)n * 4);
    float *c1 = malloc((size_t)k * d * 4), *c2 = malloc((size_t)k * d * 4);
    cdt_kmeans_result r1, r2;
    run_threads(1, x, n, d, l1, c1, &r1);
    run_threads(2, x, n, d, l2, c2, &r2);
    T_CHECK(ts, !memcmp(l1, l2, (size_t)n * 4));
    T_CHECK(ts, !memcmp(c1, c2, (size_t)k * d * 4));
    T_CHECK(ts, r1.inertia == r2.inertia && r1.iterations == r2.iterations);
    free(x); free(l1); free(l2); free(c1); free(c2);
}

/* Overlapping blobs (centres 0.25 apart per feature, unit noise, as
 * tests/bench/kmeans_bench.py), where Lloyd takes many iterations and many
 * rows sit near a boundary: the bounds must change nothing, and every
 * kernel must give the same bits. d = 37 leaves a partial vector. */
static void test_bounds_exact(t_state *ts)
{
    int n = 3000, d = 37, k = 6;
    float *x = malloc((size_t)n * d * sizeof *x);
    cdt_rng r;
    cdt_rng_init(&r, 5, CDT_RNG_KMEANS, 2000, 0, 0);
    float cen0[6 * 37];
    for (int i = 0; i < k * d; i++)
        cen0[i] = (float)(0.25 * cdt_rng_normal(&r));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            x[(size_t)i * d + j] = cen0[(i % k) * d + j] + (float)cdt_rng_normal(&r);
    cdt_kmeans_opts o = cdt_kmeans_defaults(k);
    o.restarts = 3;
    o.tol = 0; /* to the end: every iteration is compared */
    int32_t *l0 = malloc((size_t)n * 4), *l1 = malloc((size_t)n * 4);
    float *c0 = malloc((size_t)k * d * 4), *c1 = malloc((size_t)k * d * 4);
    cdt_kmeans_result r0, r1;
    T_EQ_INT(ts, cdt_kmeans_ex(x, (uint64_t)n, d, &o, l0, c0, &r0, 0, CDT_KM_ISA_PLAIN), 0);
    fprintf(stderr, "overlapping blobs: %d iterations, inertia %.6f\n", r0.iterations, r0.inertia);
    T_CHECK(ts, r0.iterations >= 20); /* a long way for the bounds to go wrong */
    int isas[] = {CDT_KM_ISA_PLAIN, CDT_KM_ISA_AVX2, CDT_KM_ISA_AVX512}, ran = 0;
    for (int b = 0; b < 2; b++)
        for (int j = 0; j < 3; j++) {
            int rc = cdt_kmeans_ex(x, (uint64_t)n, d, &o, l1, c1, &r1, b, isas[j]);
            if (rc == CDT_EINVAL && isas[j] != CDT_KM_ISA_PLAIN)
                continue; /* the CPU lacks it */
            T_EQ_INT(ts, rc, 0);
            ran++;
            T_CHECK(ts, !memcmp(l0, l1, (size_t)n * 4));
            T_CHECK(ts, !memcmp(c0, c1, (size_t)k * d * 4));
            T_CHECK(ts, r0.iterations == r1.iterations && r0.inertia == r1.inertia &&
                        r0.restart == r1.restart);
        }
    fprintf(stderr, "overlapping blobs: %d of 6 bounds/kernel pairs ran\n", ran);
    T_CHECK(ts, ran >= 2);
    /* A converged result is a fixed point of Lloyd: every row is nearest
     * (in double) to its own centre, up to float rounding of a near tie. */
    T_EQ_INT(ts, cdt_kmeans(x, (uint64_t)n, d, &o, l1, c1, &r1), 0);
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        double best = 1e300, own = 0;
        for (int c = 0; c < k; c++) {
            double s = 0;
            for (int j = 0; j < d; j++) {
                double e = (double)x[(size_t)i * d + j] - c1[c * d + j];
                s += e * e;
            }
            best = s < best ? s : best;
            own = c == l1[i] ? s : own;
        }
        wrong += own > best * (1 + 1e-5);
    }
    T_EQ_INT(ts, wrong, 0);
    free(x); free(l0); free(l1); free(c0); free(c1);
}

static void test_edges(t_state *ts)
{
    float x[] = {1, 1, 1, 1, 5, 5, 1, 1}; /* (4,2): rows 0,1,3 equal */
    int32_t lab[4];
    float cen[8];
    cdt_kmeans_result res;
    cdt_kmeans_opts o = cdt_kmeans_defaults(1);
    T_EQ_INT(ts, cdt_kmeans(x, 4, 2, &o, lab, cen, &res), 0);
    T_NEAR(ts, cen[0], 2.0, 1e-6);
    T_NEAR(ts, res.inertia, 3 * 2 * 1.0 + 2 * 9.0, 1e-9);
    o.k = 2;
    T_EQ_INT(ts, cdt_kmeans(x, 4, 2, &o, lab, cen, &res), 0);
    T_CHECK(ts, lab[0] == lab[1] && lab[1] == lab[3] && lab[2] != lab[0]);
    T_NEAR(ts, res.inertia, 0.0, 1e-12);
    o.k = 3; /* only two distinct rows: must still end, with zero inertia */
    T_EQ_INT(ts, cdt_kmeans(x, 4, 2, &o, lab, cen, &res), 0);
    T_NEAR(ts, res.inertia, 0.0, 1e-12);
    o.k = 5;
    T_EQ_INT(ts, cdt_kmeans(x, 4, 2, &o, lab, cen, &res), CDT_EINVAL);
    o.k = 0;
    T_EQ_INT(ts, cdt_kmeans(x, 4, 2, &o, lab, cen, &res), CDT_EINVAL);
}

/* Hand example on a line: points 0, 1 (cluster 0) and 5 (cluster 1).
 * Row 0: a = 1, b = 5 -> 0.8; row 1: a = 1, b = 4 -> 0.75; row 2 alone -> 0. */
static void test_silhouette(t_state *ts)
{
    float x[] = {0, 1, 5}, dist[9];
    int32_t lab[] = {0, 0, 1};
    double s = 0;
    T_EQ_INT(ts, cdt_pairwise_dist(x, 3, 1, dist), 0);
    T_NEAR(ts, dist[1], 1.0, 1e-6);
    T_NEAR(ts, dist[5], 4.0, 1e-6);
    T_EQ_INT(ts, cdt_silhouette(dist, lab, 3, 2, &s), 0);
    T_NEAR(ts, s, (0.8 + 0.75 + 0) / 3, 1e-6);
}

int main(void)
{
    t_state ts = {0};
    openblas_set_num_threads(1); // as every tool that clusters, once
    T_RUN(&ts, test_edges);
    T_RUN(&ts, test_silhouette);
    T_RUN(&ts, test_blobs);
    T_RUN(&ts, test_golden_inertia);
    T_RUN(&ts, test_threads);
    T_RUN(&ts, test_bounds_exact);
    return T_END(&ts);
}
