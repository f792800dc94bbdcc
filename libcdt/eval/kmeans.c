/* kmeans.c: k-means (greedy k-means++ seeding, Lloyd iterations with
 * Hamerly's bounds) with all restarts advancing together.
 *
 * Why together: one pass over the rows serves every run, so a block of X is
 * read from memory once per iteration for all runs instead of once per
 * run, and the seeding's distance sgemm is (rows x runs*candidates), a
 * shape BLAS runs close to its peak. A run that has converged leaves the
 * batch.
 *
 * Why bounds: on data whose clusters overlap Lloyd takes tens to hundreds
 * of iterations, and after the first few most rows cannot change cluster:
 * the bounds (see "Lloyd" below) skip their distances, and give exactly the
 * labels, centres and iteration counts of computing every distance.
 *
 * Threads: the rows are cut into blocks of PBLK; partial result p (of NPART)
 * owns blocks p, p + NPART, p + 2 NPART, ... and handles them in order on
 * our own kernels (no BLAS thread to wait on), so the threads share one fork
 * and join per pass and nothing a thread computes depends on which thread it
 * is or how many there are. The partials' centre sums are integers, added
 * in any order to the same bits. OpenBLAS (the seeding's sgemm) is held to
 * one thread meanwhile, as sklearn does with threadpoolctl: its own threads
 * would fight ours for the cores.
 */
#include "eval.h"
#include "cdt_core.h"
#include "cdt_rng.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define BLK 1024     /* rows per sgemm call (seeding) */
#define PBLK 256     /* rows per block of a Lloyd pass: every run's visit to
                        it finds its rows in L2 */
#define NPART 16    /* partial results; at most this many threads help */

cdt_kmeans_opts cdt_kmeans_defaults(int k)
{
    cdt_kmeans_opts o = {.k = k, .restarts = 10, .max_iter = 300, .tol = 1e-4, .seed = 0};
    return o;
}

typedef struct km_run {
    float *cen;       /* (k,d) */
    int32_t *lab;     /* (n), -1 before the first pass */
    double *ub, *lb;  /* (n) Hamerly's bounds: to the own centre, to any other */
    int64_t *sum;     /* (k,d) fixed-point sums of the rows of each label */
    int64_t *cnt;     /* (k) rows of each label */
    double *drift;    /* (k) how far each centre moved in the last update */
    double dmax1, dmax2; /* the largest drift and the second largest */
    int amax;         /* the centre that moved most */
    double inertia;   /* of the last pass, from the sums */
    int dense;        /* compute every row's distances in the next pass */
    int iter, done, final_estep, converged;
} km_run;

typedef struct km km;
typedef void km_dots_fn(const float *x, int d, const uint32_t *rows, int nr,
                        const float *c, int nc, float *g);

struct km {
    const float *x;   /* (n,d) */
    uint64_t n;
    int d, k, nrun;
    int bounds;       /* 0: every pass computes every distance */
    km_dots_fn *dots; /* the distance kernel */
    float (*dot)(const float *, const float *, int); /* one product, any order */
    void (*fx)(int64_t *, const float *, int, double, int); /* fx_plain or a twin */
    float *xn;        /* (n) squared row norms */
    float *xe;        /* (n) bound on the error of a row's float distances */
    double xn_sum;    /* sum of xn */
    double scale;     /* fixed point: a value v is (int64_t)(v * scale) */
    float *mind;      /* (n) distances to the own centre, for relocate_empty */
    km_run *run;      /* (nrun) */
    int *act;         /* (nrun) indices of the runs in the batch */
    int nact;
    float *cact;      /* (nrun*k,d) centres of the batch, packed */
    float *cn;        /* (nrun*k) their squared norms */
    double *half;     /* (nrun*k) half the gap to the nearest other centre */
    float *g;         /* (NPART,BLK,cols) products of a block with centres */
    uint32_t *idx;    /* (NPART,BLK) rows of a block whose distances are needed */
    int64_t *psum;    /* (NPART,nrun*k,d) each partial's share of the sums */
    int64_t *pcnt;    /* (NPART,nrun*k) and of the counts */
    int64_t *tsum, *tcnt; /* (k,d), (k) a run's sums being updated */
    uint64_t *pchg;   /* (NPART,nrun) labels changed */
    uint64_t *pfail;  /* (NPART,nrun) rows whose bounds failed the first test */
};

static double sqnorm(const float *v, int d)
{
    double s = 0;
    for (int j = 0; j < d; j++)
        s += (double)v[j] * v[j];
    return s;
}

/* g (rows, cols) = x (rows,d) . c (cols,d)^T */
static void gemm_nt(const float *x /* (rows,d) */, uint64_t rows,
                    const float *c /* (cols,d) */, int cols, int d,
                    float *g /* (rows,cols) */)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, cols, d, 1.0f,
                x, d, c, d, 0.0f, g, cols);
}

/* sklearn's tolerance scale: the mean over features of their variance. */
static double mean_variance(const float *x /* (n,d) */, uint64_t n, int d)
{
    double *mu = calloc((size_t)d, sizeof *mu), tot = 0;
    if (!mu)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mu[j] += x[i * d + j];
    for (int j = 0; j < d; j++)
        mu[j] /= (double)n;
    for (uint64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double e = x[i * d + j] - mu[j];
            tot += e * e;
        }
    free(mu);
    return tot / (double)n / d;
}

/* ---- seeding ---- */

/* Squared distances from every row to the cols rows of c: out (cols,n),
 * min'ed with lim (n) row-wise per run when lim is given (lim of run
 * col / per). */
static void dist_to(km *m, const float *c /* (cols,d) */, int cols,
                    float *out /* (cols,n) */, float *const *lim /* (cols/per) -> (n) */,
                    int per)
{
    float cn[cols];
    for (int j = 0; j < cols; j++)
        cn[j] = (float)sqnorm(c + (size_t)j * m->d, m->d);
    uint64_t nblk = (m->n + BLK - 1) / BLK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < NPART; p++) {
        float *g = m->g + (size_t)p * BLK * cols;
        for (uint64_t b = (uint64_t)p; b < nblk; b += NPART) {
            uint64_t s0 = b * BLK, rows = m->n - s0 < BLK ? m->n - s0 : BLK;
            gemm_nt(m->x + s0 * m->d, rows, c, cols, m->d, g);
            for (uint64_t i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) {
                    float v = m->xn[s0 + i] - 2 * g[i * cols + j] + cn[j];
                    v = v > 0 ? v : 0;
                    if (lim && lim[j / per][s0 + i] < v)
                        v = lim[j / per][s0 + i];
                    out[(size_t)j * m->n + s0 + i] = v;
                }
        }
    }
}

static double sum_f(const float *v /* (n) */, uint64_t n)
{
    double s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* Index of the first row whose cumulative weight passes t (sklearn's
 * searchsorted over stable_cumsum, clipped to the last row). */
static uint64_t pick_row(const double *cum /* (n) */, uint64_t n, double t)
{
    uint64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (cum[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct seed_work {
    cdt_rng *rng;     /* (nrun) */
    double *pot;      /* (nrun) current potential */
    float **closest;  /* (nrun) -> (n) */
    float *cand;      /* (nrun*T,d) candidate rows */
    float *dc;        /* (nrun*T,n) distances with the candidate added */
    double *cum;      /* (n) */
    float *cbuf;      /* (nrun,n) the closest distances */
    int T;
} seed_work;

/* Draw the candidates of every run for the next centre. */
static void draw_candidates(km *m, seed_work *w)
{
    for (int a = 0; a < m->nrun; a++) {
        double c = 0;
        for (uint64_t i = 0; i < m->n; i++)
            w->cum[i] = c += w->closest[a][i];
        for (int t = 0; t < w->T; t++) {
            double r = cdt_rng_uniform(&w->rng[a]) * w->pot[a];
            uint64_t id = pick_row(w->cum, m->n, r);
            memcpy(w->cand + ((size_t)a * w->T + t) * m->d, m->x + id * m->d,
                   (size_t)m->d * sizeof(float));
        }
    }
}

/* Centre c of every run: the candidate that lowers the potential most. */
static void seed_step(km *m, seed_work *w, int c)
{
    int T = w->T, cols = m->nrun * T;
    draw_candidates(m, w);
    dist_to(m, w->cand, cols, w->dc, w->closest, T);
    double pot[cols];
#pragma omp parallel for schedule(static)
    for (int j = 0; j < cols; j++)
        pot[j] = sum_f(w->dc + (size_t)j * m->n, m->n);
    for (int a = 0; a < m->nrun; a++) {
        int best = 0;
        for (int t = 1; t < T; t++)
            if (pot[a * T + t] < pot[a * T + best])
                best = t;
        w->pot[a] = pot[a * T + best];
        memcpy(w->closest[a], w->dc + (size_t)(a * T + best) * m->n, m->n * sizeof(float));
        memcpy(m->run[a].cen + (size_t)c * m->d, w->cand + (size_t)(a * T + best) * m->d,
               (size_t)m->d * sizeof(float));
    }
}

/* sklearn's greedy k-means++: first centre uniform, then for each next
 * centre 2 + floor(ln k) candidates drawn with probability proportional to
 * the squared distance, keeping the one that lowers the potential most. */
static int seed_all(km *m, uint64_t seed)
{
    seed_work w;
    w.T = 2 + (int)log((double)m->k);
    size_t cols = (size_t)m->nrun * w.T;
    w.rng = calloc((size_t)m->nrun, sizeof *w.rng);
    w.pot = calloc((size_t)m->nrun, sizeof *w.pot);
    w.closest = calloc((size_t)m->nrun, sizeof *w.closest);
    w.cand = malloc(cols * m->d * sizeof *w.cand);
    w.dc = malloc(cols * m->n * sizeof *w.dc);
    w.cum = malloc(m->n * sizeof *w.cum);
    w.cbuf = malloc((size_t)m->nrun * m->n * sizeof *w.cbuf);
    int rc = CDT_ENOMEM;
    if (w.rng && w.pot && w.closest && w.cand && w.dc && w.cum && w.cbuf) {
        for (int a = 0; a < m->nrun; a++) {
            cdt_rng_init(&w.rng[a], seed, CDT_RNG_KMEANS, (uint64_t)a, 0, 0);
            uint64_t id = cdt_rng_below(&w.rng[a], m->n);
            memcpy(m->run[a].cen, m->x + id * m->d, (size_t)m->d * sizeof(float));
            memcpy(w.cand + (size_t)a * m->d, m->x + id * m->d, (size_t)m->d * sizeof(float));
            w.closest[a] = w.cbuf + (size_t)a * m->n;
        }
        dist_to(m, w.cand, m->nrun, w.dc, NULL, 1);
        for (int a = 0; a < m->nrun; a++) {
            memcpy(w.closest[a], w.dc + (size_t)a * m->n, m->n * sizeof(float));
            w.pot[a] = sum_f(w.closest[a], m->n);
        }
        for (int c = 1; c < m->k; c++)
            seed_step(m, &w, c);
        rc = 0;
    }
    free(w.rng); free(w.pot); free(w.closest); free(w.cand);
    free(w.dc); free(w.cum); free(w.cbuf);
    return rc;
}

/* ---- distances ---- */

/* The dot products g (nr,nc) of rows x[rows[r]] with centres c (nc,d). Each
 * product is summed the same way in every build: element t goes into lane
 * t % 16 by a fused multiply-add, in order of t, and the 16 lanes are added
 * pairwise (lane l with l + 8, then + 4, + 2, + 1). So a product, and the
 * label taken from it, does not depend on the ISA, on which other rows or
 * centres share the call, or on the thread count; the bounds below rely on
 * that to give exactly the labels a pass over every row gives. */

#if defined(__GNUC__) && !defined(__clang__)
#define KM_UNROLL _Pragma("GCC unroll 8")
#elif defined(__clang__)
#define KM_UNROLL _Pragma("unroll")
#else
#define KM_UNROLL
#endif

static float lanes_sum(const float *a /* (16) */)
{
    float s8[8], s4[4];
    for (int l = 0; l < 8; l++)
        s8[l] = a[l] + a[l + 8];
    for (int l = 0; l < 4; l++)
        s4[l] = s8[l] + s8[l + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

static void dots_plain(const float *x, int d, const uint32_t *rows, int nr,
                       const float *c, int nc, float *g)
{
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < nc; j++) {
            const float *a = x + (size_t)rows[r] * d, *b = c + (size_t)j * d;
            float acc[16] = {0};
            for (int t = 0; t < d; t += 16)
                for (int l = 0; l < 16; l++)
                    acc[l] = t + l < d ? fmaf(a[t + l], b[t + l], acc[l]) : fmaf(0, 0, acc[l]);
            g[(size_t)r * nc + j] = lanes_sum(acc);
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KM_X86 1

__attribute__((target("avx2,fma")))
static float hsum8(__m256 s8)
{
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* Tiles of 2 rows by 3 centres; a product's 16 lanes in two registers. */
__attribute__((target("avx2,fma")))
static void dots_avx2(const float *x, int d, const uint32_t *rows, int nr,
                      const float *c, int nc, float *g)
{
    for (int r0 = 0; r0 < nr; r0 += 2)
        for (int j0 = 0; j0 < nc; j0 += 3) {
            const float *a[2], *b[3];
            for (int i = 0; i < 2; i++)
                a[i] = x + (size_t)rows[r0 + i < nr ? r0 + i : nr - 1] * d;
            for (int j = 0; j < 3; j++)
                b[j] = c + (size_t)(j0 + j < nc ? j0 + j : nc - 1) * d;
            __m256 acc[2][3][2];
            KM_UNROLL for (int i = 0; i < 2; i++)
                KM_UNROLL for (int j = 0; j < 3; j++)
                    acc[i][j][0] = acc[i][j][1] = _mm256_setzero_ps();
            for (int t = 0; t < d; t += 16) {
                KM_UNROLL for (int h = 0; h < 2; h++) {
                    int left = d - t - 8 * h;
                    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(left),
                                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
                    __m256 av[2];
                    KM_UNROLL for (int i = 0; i < 2; i++)
                        av[i] = left >= 8 ? _mm256_loadu_ps(a[i] + t + 8 * h)
                                          : _mm256_maskload_ps(a[i] + t + 8 * h, m);
                    KM_UNROLL for (int j = 0; j < 3; j++) {
                        __m256 bv = left >= 8 ? _mm256_loadu_ps(b[j] + t + 8 * h)
                                              : _mm256_maskload_ps(b[j] + t + 8 * h, m);
                        KM_UNROLL for (int i = 0; i < 2; i++)
                            acc[i][j][h] = _mm256_fmadd_ps(av[i], bv, acc[i][j][h]);
                    }
                }
            }
            for (int i = 0; i < 2 && r0 + i < nr; i++)
                for (int j = 0; j < 3 && j0 + j < nc; j++)
                    g[(size_t)(r0 + i) * nc + j0 + j] =
                        hsum8(_mm256_add_ps(acc[i][j][0], acc[i][j][1]));
        }
}

__attribute__((target("avx512f")))
static float hsum16(__m512 v)
{
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), hi);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

/* Tiles of 4 rows by 5 centres: 20 accumulators, 9 loads per 20 FMAs. */
__attribute__((target("avx512f")))
static void dots_avx512(const float *x, int d, const uint32_t *rows, int nr,
                        const float *c, int nc, float *g)
{
    int tail = d % 16, dm = d - tail;
    __mmask16 mask = (__mmask16)((1u << tail) - 1);
    for (int r0 = 0; r0 < nr; r0 += 4)
        for (int j0 = 0; j0 < nc; j0 += 5) {
            const float *a[4], *b[5];
            for (int i = 0; i < 4; i++)
                a[i] = x + (size_t)rows[r0 + i < nr ? r0 + i : nr - 1] * d;
            for (int j = 0; j < 5; j++)
                b[j] = c + (size_t)(j0 + j < nc ? j0 + j : nc - 1) * d;
            __m512 acc[4][5];
            KM_UNROLL for (int i = 0; i < 4; i++)
                KM_UNROLL for (int j = 0; j < 5; j++)
                    acc[i][j] = _mm512_setzero_ps();
            for (int t = 0; t < dm; t += 16) {
                __m512 av[4];
                KM_UNROLL for (int i = 0; i < 4; i++)
                    av[i] = _mm512_loadu_ps(a[i] + t);
                KM_UNROLL for (int j = 0; j < 5; j++) {
                    __m512 bv = _mm512_loadu_ps(b[j] + t);
                    KM_UNROLL for (int i = 0; i < 4; i++)
                        acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
                }
            }
            if (tail) {
                __m512 av[4];
                KM_UNROLL for (int i = 0; i < 4; i++)
                    av[i] = _mm512_maskz_loadu_ps(mask, a[i] + dm);
                KM_UNROLL for (int j = 0; j < 5; j++) {
                    __m512 bv = _mm512_maskz_loadu_ps(mask, b[j] + dm);
                    KM_UNROLL for (int i = 0; i < 4; i++)
                        acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
                }
            }
            for (int i = 0; i < 4 && r0 + i < nr; i++)
                for (int j = 0; j < 5 && j0 + j < nc; j++)
                    g[(size_t)(r0 + i) * nc + j0 + j] = hsum16(acc[i][j]);
        }
}
#endif

/* The kernel for an ISA (CDT_KM_ISA_*), or NULL when the CPU lacks it;
 * CDT_KM_ISA_AUTO: the widest the CPU runs. */
static km_dots_fn *dots_for(int isa)
{
#ifdef KM_X86
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == CDT_KM_ISA_AUTO)
        return has512 ? dots_avx512 : has2 ? dots_avx2 : dots_plain;
    if (isa == CDT_KM_ISA_AVX512)
        return has512 ? dots_avx512 : NULL;
    if (isa == CDT_KM_ISA_AVX2)
        return has2 ? dots_avx2 : NULL;
#else
    if (isa == CDT_KM_ISA_AUTO)
        return dots_plain;
#endif
    return isa == CDT_KM_ISA_PLAIN ? dots_plain : NULL;
}

/* One dot product, summed in any order: only for tightening a bound, which
 * allows for the rounding of any order. */
typedef float km_dot_fn(const float *a, const float *b, int d);

static float dot_plain(const float *a, const float *b, int d)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int t = 0; t < d; t++)
        s += a[t] * b[t];
    return s;
}

#ifdef KM_X86
__attribute__((target("avx512f")))
static float dot_avx512(const float *a, const float *b, int d)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int t = 0;
    for (; t + 32 <= d; t += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + t), _mm512_loadu_ps(b + t), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + t + 16), _mm512_loadu_ps(b + t + 16), s1);
    }
    for (; t < d; t += 16) {
        __mmask16 m = d - t >= 16 ? 0xffff : (__mmask16)((1u << (d - t)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + t), _mm512_maskz_loadu_ps(m, b + t), s0);
    }
    return hsum16(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx2,fma")))
static float dot_avx2(const float *a, const float *b, int d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int t = 0;
    for (; t + 16 <= d; t += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t), _mm256_loadu_ps(b + t), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + t + 8), _mm256_loadu_ps(b + t + 8), s1);
    }
    return hsum8(_mm256_add_ps(s0, s1)) + dot_plain(a + t, b + t, d - t);
}
#endif

static km_dot_fn *dot_for(km_dots_fn *dots)
{
#ifdef KM_X86
    if (dots == dots_avx512)
        return dot_avx512;
    if (dots == dots_avx2)
        return dot_avx2;
#endif
    (void)dots;
    return dot_plain;
}

/* ---- Lloyd, with Hamerly's bounds ----
 *
 * A row keeps, per run, an upper bound u on its distance to its centre and
 * a lower bound l on its distance to every other centre; when the centres
 * move by delta_j, u grows by its centre's delta and l shrinks by the
 * largest other delta. With s_a half the distance from centre a to the
 * nearest other one, every other centre is at least L = max(l, 2 s_a - u)
 * away. A pass computes distances for a row only when these cannot settle
 * its label.
 *
 * Exactly Lloyd's labels: a pass that computes every distance (bounds off)
 * takes the label from float distances xn + (cn_j - 2 x.c_j), each within
 * E = (2d + 32) 2^-24 (|x| + C)^2 of the true squared distance (C bounds
 * every centre's norm: a centre is a mean of rows). A row is skipped only
 * when u^2 + 2E < L^2, where no choice within E of the true distances picks
 * another centre; the rows that are computed go through the same kernel as
 * a full pass (dots_for), whose products do not depend on the other rows.
 * Bounds are kept in double, so their own rounding stays far below E.
 *
 * Centre sums are kept exactly, in 64-bit fixed point (x 2^scale_exp, a
 * row's value truncated the same way every time), and moved only for rows
 * whose label changed: integer sums do not depend on the order of the
 * additions, so the centres are the same bits whatever the order, the
 * thread count, or which rows a pass computed. */

/* Row i's fixed-point value, added (sign 1) or taken (-1) from sum. */
static void fx_plain(int64_t *sum /* (d) */, const float *xi /* (d) */, int d, double scale,
                     int sign)
{
    if (sign > 0)
        for (int t = 0; t < d; t++)
            sum[t] += (int64_t)((double)xi[t] * scale);
    else
        for (int t = 0; t < d; t++)
            sum[t] -= (int64_t)((double)xi[t] * scale);
}

#ifdef KM_X86
/* The same with AVX-512 DQ's truncating conversion to 64 bits. */
__attribute__((target("avx512f,avx512dq")))
static void fx_avx512(int64_t *sum, const float *xi, int d, double scale, int sign)
{
    __m512d s = _mm512_set1_pd(sign > 0 ? scale : -scale);
    int t = 0;
    for (; t + 8 <= d; t += 8) {
        __m512i v = _mm512_cvttpd_epi64(_mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(xi + t)), s));
        _mm512_storeu_si512(sum + t, _mm512_add_epi64(_mm512_loadu_si512(sum + t), v));
    }
    fx_plain(sum + t, xi + t, d - t, scale, sign);
}
#endif

/* Partial p's share of the sum of cluster j of run a. */
static int64_t *part_sum(km *m, int p, int a, int j)
{
    return m->psum + (((size_t)p * m->nrun + a) * m->k + j) * m->d;
}

/* Run q of the batch over one block of rows, in partial p. */
static void block_run(km *m, int q, uint64_t s0, uint64_t rows, int p)
{
    km_run *run = &m->run[m->act[q]];
    int k = m->k, d = m->d;
    const float *c = m->cact + (size_t)q * k * d, *cn = m->cn + (size_t)q * k;
    const double *half = m->half + (size_t)q * k;
    uint32_t *need = m->idx + (size_t)p * PBLK;
    float *g = m->g + (size_t)p * PBLK * k;
    uint32_t nn = 0, fail = 0;
    for (uint32_t r = 0; r < rows; r++) {
        uint64_t i = s0 + r;
        int a = run->lab[i];
        if (a < 0 || !m->bounds) {
            need[nn++] = r;
            continue;
        }
        double u = run->ub[i] + run->drift[a];
        double l = run->lb[i] - (a == run->amax ? run->dmax2 : run->dmax1);
        double e = m->xe[i], L = fmax(l, 2 * half[a] - u);
        run->ub[i] = u;
        run->lb[i] = l;
        int pass = L > 0 && u * u + 2 * e < L * L;
        fail += !pass;
        if (run->dense) { /* computed anyway, the test only counted */
            need[nn++] = r;
            continue;
        }
        if (pass)
            continue;
        float dsq = m->xn[i] + (cn[a] - 2 * m->dot(m->x + i * d, c + (size_t)a * d, d));
        u = sqrt((dsq > 0 ? dsq : 0) + e);
        run->ub[i] = u;
        L = fmax(l, 2 * half[a] - u);
        if (!(L > 0 && u * u + 2 * e < L * L))
            need[nn++] = r;
    }
    m->pfail[p * m->nrun + q] += m->bounds && run->lab[s0] >= 0 ? fail : rows;
    if (!nn)
        return;
    m->dots(m->x + s0 * d, d, need, (int)nn, c, k, g);
    for (uint32_t t = 0; t < nn; t++) {
        uint64_t i = s0 + need[t];
        const float *gi = g + (size_t)t * k;
        int best = 0;
        float bv = cn[0] - 2 * gi[0], sv = INFINITY;
        for (int j = 1; j < k; j++) {
            float v = cn[j] - 2 * gi[j];
            if (v < bv) {
                sv = bv;
                bv = v;
                best = j;
            } else if (v < sv) {
                sv = v;
            }
        }
        float dist = m->xn[i] + bv, d2 = m->xn[i] + sv;
        double e = m->xe[i];
        run->ub[i] = sqrt((dist > 0 ? dist : 0) + e);
        run->lb[i] = k > 1 ? sqrt(d2 - e > 0 ? d2 - e : 0) : INFINITY;
        int old = run->lab[i];
        if (old == best)
            continue;
        m->pchg[p * m->nrun + q]++;
        run->lab[i] = best;
        int64_t *pc = m->pcnt + ((size_t)p * m->nrun + m->act[q]) * k;
        if (old >= 0) {
            m->fx(part_sum(m, p, m->act[q], old), m->x + i * d, d, m->scale, -1);
            pc[old]--;
        }
        m->fx(part_sum(m, p, m->act[q], best), m->x + i * d, d, m->scale, 1);
        pc[best]++;
    }
}

/* Half the distance from each centre of the batch to its nearest other. */
static void half_gaps(km *m)
{
    int k = m->k, d = m->d;
    for (int q = 0; q < m->nact; q++) {
        const float *c = m->cact + (size_t)q * k * d;
        double *h = m->half + (size_t)q * k;
        for (int j = 0; j < k; j++)
            h[j] = INFINITY;
        for (int a = 0; a < k; a++)
            for (int b = a + 1; b < k; b++) {
                double s = 0;
                for (int t = 0; t < d; t++) {
                    double e = (double)c[(size_t)a * d + t] - c[(size_t)b * d + t];
                    s += e * e;
                }
                s = 0.5 * sqrt(s) * (1 - 1e-9);
                h[a] = s < h[a] ? s : h[a];
                h[b] = s < h[b] ? s : h[b];
            }
    }
}

/* One pass over all rows for the runs in the batch. */
static void lloyd_pass(km *m)
{
    int cols = m->nact * m->k, d = m->d;
    for (int q = 0; q < m->nact; q++)
        memcpy(m->cact + (size_t)q * m->k * d, m->run[m->act[q]].cen,
               (size_t)m->k * d * sizeof(float));
    for (int j = 0; j < cols; j++)
        m->cn[j] = (float)sqnorm(m->cact + (size_t)j * d, d);
    half_gaps(m);
    memset(m->pchg, 0, (size_t)NPART * m->nrun * sizeof *m->pchg);
    memset(m->pfail, 0, (size_t)NPART * m->nrun * sizeof *m->pfail);
    uint64_t nblk = (m->n + PBLK - 1) / PBLK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < NPART; p++)
        for (uint64_t b = (uint64_t)p; b < nblk; b += NPART) {
            uint64_t s0 = b * PBLK, rows = m->n - s0 < PBLK ? m->n - s0 : PBLK;
            for (int q = 0; q < m->nact; q++)
                block_run(m, q, s0, rows, p);
        }
}

/* Run a's sums and counts: its partials' shares added (integers: any
 * order gives the same). */
static void total_sums(km *m, int a)
{
    km_run *run = &m->run[a];
    size_t kd = (size_t)m->k * m->d;
    memset(run->sum, 0, kd * sizeof *run->sum);
    memset(run->cnt, 0, (size_t)m->k * sizeof *run->cnt);
    for (int p = 0; p < NPART; p++) {
        const int64_t *ps = part_sum(m, p, a, 0), *pc = m->pcnt + ((size_t)p * m->nrun + a) * m->k;
        for (size_t t = 0; t < kd; t++)
            run->sum[t] += ps[t];
        for (int j = 0; j < m->k; j++)
            run->cnt[j] += pc[j];
    }
}

/* Squared distance of every row to its centre in run q of the batch, as a
 * full pass computes it (for relocate_empty). */
static void row_dists(km *m, int q, float *out /* (n) */)
{
    km_run *run = &m->run[m->act[q]];
    const float *c = m->cact + (size_t)q * m->k * m->d, *cn = m->cn + (size_t)q * m->k;
    uint64_t nblk = (m->n + PBLK - 1) / PBLK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < NPART; p++) {
        uint32_t *idx = m->idx + (size_t)p * PBLK;
        float *g = m->g + (size_t)p * PBLK * m->k;
        for (uint64_t b = (uint64_t)p; b < nblk; b += NPART) {
            uint64_t s0 = b * PBLK, rows = m->n - s0 < PBLK ? m->n - s0 : PBLK;
            for (uint32_t r = 0; r < rows; r++)
                idx[r] = r;
            m->dots(m->x + s0 * m->d, m->d, idx, (int)rows, c, m->k, g);
            for (uint32_t r = 0; r < rows; r++) {
                int a = run->lab[s0 + r];
                float v = m->xn[s0 + r] + (cn[a] - 2 * g[(size_t)r * m->k + a]);
                out[s0 + r] = v > 0 ? v : 0;
            }
        }
    }
}

/* sklearn's rule for clusters left empty: take the rows farthest from their
 * centres (ties: the lower row) and make each the sum of an empty cluster.
 * On the pass's sums (sum, cnt), not the run's: the labels stay, and the
 * next pass assigns the rows again. */
static void relocate_empty(km *m, int q, int64_t *sum /* (k,d) */, int64_t *cnt /* (k) */)
{
    km_run *run = &m->run[m->act[q]];
    int have = 0;
    for (int e = 0; e < m->k; e++)
        have += cnt[e] == 0;
    if (!have)
        return;
    row_dists(m, q, m->mind);
    for (int e = 0; e < m->k; e++) {
        if (cnt[e])
            continue;
        uint64_t far = 0;
        float fd = -1;
        for (uint64_t i = 0; i < m->n; i++)
            if (m->mind[i] > fd && cnt[run->lab[i]] > 1) {
                fd = m->mind[i];
                far = i;
            }
        if (fd < 0)
            return; /* fewer distinct rows than clusters; nothing to move */
        int old = run->lab[far];
        const float *xf = m->x + far * m->d;
        m->fx(sum + (size_t)old * m->d, xf, m->d, m->scale, -1);
        memset(sum + (size_t)e * m->d, 0, (size_t)m->d * sizeof *sum);
        m->fx(sum + (size_t)e * m->d, xf, m->d, m->scale, 1);
        cnt[old]--;
        cnt[e] = 1;
        m->mind[far] = -1; /* not picked twice */
    }
}

/* The inertia of run q's labels against the centres of this pass, from the
 * sums: sum |x|^2 - 2 sum_j c_j . S_j + sum_j n_j |c_j|^2. */
static double pass_inertia(const km *m, int q)
{
    const km_run *run = &m->run[m->act[q]];
    double tot = m->xn_sum;
    for (int j = 0; j < m->k; j++) {
        const float *c = m->cact + ((size_t)q * m->k + j) * m->d;
        const int64_t *s = run->sum + (size_t)j * m->d;
        double cs = 0, cc = 0;
        for (int t = 0; t < m->d; t++) {
            cs += (double)c[t] * ((double)s[t] / m->scale);
            cc += (double)c[t] * c[t];
        }
        tot += (double)run->cnt[j] * cc - 2 * cs;
    }
    return tot;
}

/* New centres of run q of the batch, and how far each moved; returns the
 * squared shift summed over centres. */
static double update_centres(km *m, int q)
{
    km_run *run = &m->run[m->act[q]];
    int k = m->k, d = m->d;
    int64_t *sum = m->tsum, *cnt = m->tcnt;
    memcpy(sum, run->sum, (size_t)k * d * sizeof *sum);
    memcpy(cnt, run->cnt, (size_t)k * sizeof *cnt);
    relocate_empty(m, q, sum, cnt);
    double shift = 0;
    run->dmax1 = run->dmax2 = 0;
    run->amax = 0;
    for (int c = 0; c < k; c++) {
        float *cen = run->cen + (size_t)c * d;
        double mv = 0;
        for (int t = 0; t < d && cnt[c]; t++) {
            float v = (float)((double)sum[(size_t)c * d + t] / m->scale / (double)cnt[c]);
            double e = (double)v - cen[t];
            mv += e * e;
            cen[t] = v;
        }
        shift += mv;
        double dr = mv > 0 ? sqrt(mv) * (1 + 1e-9) : 0;
        run->drift[c] = dr;
        if (dr > run->dmax1) {
            run->dmax2 = run->dmax1;
            run->dmax1 = dr;
            run->amax = c;
        } else if (dr > run->dmax2) {
            run->dmax2 = dr;
        }
    }
    return shift;
}

/* After a pass: move every run on, or retire it (sklearn's stopping rules). */
static void step_runs(km *m, double tol_abs, int max_iter)
{
    for (int q = 0; q < m->nact; q++) {
        km_run *run = &m->run[m->act[q]];
        total_sums(m, m->act[q]);
        run->inertia = pass_inertia(m, q);
        if (run->final_estep) { /* labels now match the final centres */
            run->done = 1;
            continue;
        }
        uint64_t chg = 0, fail = 0;
        for (int b = 0; b < NPART; b++) {
            chg += m->pchg[b * m->nrun + q];
            fail += m->pfail[b * m->nrun + q];
        }
        /* Centres that moved so far that most rows failed the bounds' test
         * will likely do it again: the next pass computes every distance
         * without tightening first (and only counts the test's failures). */
        run->dense = fail > m->n / 2;
        double shift = update_centres(m, q);
        run->iter++;
        if (!chg) {
            run->done = run->converged = 1;
        } else if (shift <= tol_abs || run->iter >= max_iter) {
            run->converged = shift <= tol_abs;
            run->final_estep = 1;
        }
    }
    int na = 0;
    for (int q = 0; q < m->nact; q++)
        if (!m->run[m->act[q]].done)
            m->act[na++] = m->act[q];
    m->nact = na;
}

/* Exact inertia of a run, summed over fixed blocks in order. */
static double exact_inertia(const km *m, const km_run *run)
{
    uint64_t nb = (m->n + BLK - 1) / BLK;
    double tot = 0;
#pragma omp parallel for schedule(static) ordered
    for (uint64_t b = 0; b < nb; b++) {
        double s = 0;
        uint64_t end = (b + 1) * BLK < m->n ? (b + 1) * BLK : m->n;
        for (uint64_t i = b * BLK; i < end; i++) {
            const float *xi = m->x + i * m->d, *c = run->cen + (size_t)run->lab[i] * m->d;
            for (int t = 0; t < m->d; t++) {
                double e = (double)xi[t] - c[t];
                s += e * e;
            }
        }
#pragma omp ordered
        tot += s;
    }
    return tot;
}

static int km_alloc(km *m)
{
    size_t rk = (size_t)m->nrun * m->k;
    size_t tcols = (size_t)m->nrun * (2 + (size_t)log((double)m->k)); /* seeding */
    if (tcols < rk)
        tcols = rk;
    m->xn = malloc(m->n * sizeof *m->xn);
    m->xe = malloc(m->n * sizeof *m->xe);
    m->mind = malloc(m->n * sizeof *m->mind);
    m->run = calloc((size_t)m->nrun, sizeof *m->run);
    m->act = malloc((size_t)m->nrun * sizeof *m->act);
    m->cact = malloc(rk * m->d * sizeof *m->cact);
    m->cn = malloc(rk * sizeof *m->cn);
    m->half = malloc(rk * sizeof *m->half);
    m->g = malloc((size_t)NPART * BLK * tcols * sizeof *m->g);
    m->idx = malloc((size_t)NPART * PBLK * sizeof *m->idx);
    m->psum = calloc((size_t)NPART * rk * m->d, sizeof *m->psum);
    m->pcnt = calloc((size_t)NPART * rk, sizeof *m->pcnt);
    m->tsum = malloc((size_t)m->k * m->d * sizeof *m->tsum);
    m->tcnt = malloc((size_t)m->k * sizeof *m->tcnt);
    m->pchg = malloc((size_t)NPART * m->nrun * sizeof *m->pchg);
    m->pfail = malloc((size_t)NPART * m->nrun * sizeof *m->pfail);
    if (!m->pfail ||!m->xn || !m->xe || !m->mind || !m->run || !m->act || !m->cact || !m->cn ||
        !m->half || !m->g || !m->idx || !m->psum || !m->pcnt || !m->tsum ||
        !m->tcnt || !m->pchg)
        return CDT_ENOMEM;
    for (int a = 0; a < m->nrun; a++) {
        km_run *r = &m->run[a];
        r->cen = malloc((size_t)m->k * m->d * sizeof *r->cen);
        r->lab = malloc(m->n * sizeof *r->lab);
        r->ub = malloc(m->n * sizeof *r->ub);
        r->lb = malloc(m->n * sizeof *r->lb);
        r->sum = calloc((size_t)m->k * m->d, sizeof *r->sum);
        r->cnt = calloc((size_t)m->k, sizeof *r->cnt);
        r->drift = calloc((size_t)m->k, sizeof *r->drift);
        if (!r->cen || !r->lab || !r->ub || !r->lb || !r->sum || !r->cnt || !r->drift)
            return CDT_ENOMEM;
        for (uint64_t i = 0; i < m->n; i++)
            r->lab[i] = -1;
        m->act[a] = a;
    }
    m->nact = m->nrun;
    return 0;
}

static void km_free(km *m)
{
    for (int a = 0; m->run && a < m->nrun; a++) {
        km_run *r = &m->run[a];
        free(r->cen); free(r->lab); free(r->ub); free(r->lb);
        free(r->sum); free(r->cnt); free(r->drift);
    }
    free(m->xn); free(m->xe); free(m->mind); free(m->run); free(m->act);
    free(m->cact); free(m->cn); free(m->half); free(m->g); free(m->idx);
    free(m->psum); free(m->pcnt); free(m->tsum); free(m->tcnt);
    free(m->pchg); free(m->pfail);
}

/* Pick the run with the lowest inertia (of its last pass, from its sums;
 * no pass over X) and hand back its results, the inertia recomputed
 * exactly. */
static void keep_best(km *m, int32_t *labels /* (n) */, float *centroids /* (k,d) */,
                      cdt_kmeans_result *res)
{
    int best = 0;
    for (int a = 1; a < m->nrun; a++)
        if (m->run[a].inertia < m->run[best].inertia)
            best = a;
    km_run *r = &m->run[best];
    memcpy(labels, r->lab, m->n * sizeof *labels);
    memcpy(centroids, r->cen, (size_t)m->k * m->d * sizeof *centroids);
    res->inertia = exact_inertia(m, r);
    res->iterations = r->iter;
    res->restart = best;
    res->converged = r->converged;
}

/* Per row: |x|^2, the error bound E of its float distances (see above) and
 * the sum of |x|^2; the fixed-point scale. CDT_EINVAL for a value that is
 * not finite. */
static int row_stats(km *m)
{
    double big = 0, amax = 0, tot = 0;
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(max : big, amax) reduction(| : bad)
    for (int64_t i = 0; i < (int64_t)m->n; i++) {
        const float *xi = m->x + (uint64_t)i * m->d;
        double s = 0, a = 0;
        for (int t = 0; t < m->d; t++) {
            s += (double)xi[t] * xi[t];
            a = fabs((double)xi[t]) > a ? fabs((double)xi[t]) : a;
        }
        bad |= !isfinite(s);
        m->xn[i] = (float)s;
        big = s > big ? s : big;
        amax = a > amax ? a : amax;
    }
    if (bad)
        return CDT_EINVAL;
    for (uint64_t i = 0; i < m->n; i++) /* in order: the same sum on any thread count */
        tot += m->xn[i];
    m->xn_sum = tot;
    double cmax = sqrt(big) * (1 + 1e-5), gam = (2.0 * m->d + 32) * 0x1p-24;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)m->n; i++) {
        double r = sqrt((double)m->xn[i]) * (1 + 1e-6) + cmax;
        m->xe[i] = (float)(gam * r * r * 1.01);
    }
    /* |sum| <= n amax 2^scale_exp < 2^61 */
    int ex = 0;
    frexp(amax * (double)m->n, &ex);
    m->scale = ldexp(1.0, amax > 0 ? 60 - ex : 0);
    return 0;
}

int cdt_kmeans_ex(const float *x, uint64_t n, int d, const cdt_kmeans_opts *o,
                  int32_t *labels, float *centroids, cdt_kmeans_result *res, int bounds,
                  int isa)

{
    CDT_ASSERT(x && o && labels && centroids && res);
    if (n == 0 || d < 1 || o->k < 1 || (uint64_t)o->k > n || o->restarts < 1 ||
        o->max_iter < 1 || !(o->tol >= 0) || n > (uint64_t)INT32_MAX)
        return CDT_EINVAL;
    /* The work buffers hold NPART * restarts * k * d 64-bit sums. */
    if ((double)NPART * o->restarts * o->k * d * sizeof(int64_t) > 0x1p46)
        return CDT_ELIMIT;
    km m = {.x = x, .n = n, .d = d, .k = o->k, .nrun = o->restarts, .bounds = bounds,
            .dots = dots_for(isa), .fx = fx_plain};
#ifdef KM_X86
    if (__builtin_cpu_supports("avx512dq"))
        m.fx = fx_avx512;
#endif
    if (!m.dots)
        return CDT_EINVAL;
    m.dot = dot_for(m.dots);
    int rc = km_alloc(&m);
    if (!rc)
        rc = row_stats(&m);
    double var = rc ? 0 : mean_variance(x, n, d);
    if (!rc && var < 0)
        rc = CDT_ENOMEM;
    if (!rc)
        rc = seed_all(&m, o->seed);
    if (!rc) {
        while (m.nact > 0) {
            lloyd_pass(&m);
            step_runs(&m, o->tol * var, o->max_iter);
        }
        keep_best(&m, labels, centroids, res);
    }
    km_free(&m);
    return rc;
}

int cdt_kmeans(const float *x, uint64_t n, int d, const cdt_kmeans_opts *o,
               int32_t *labels, float *centroids, cdt_kmeans_result *res)
{
    return cdt_kmeans_ex(x, n, d, o, labels, centroids, res, 1, CDT_KM_ISA_AUTO);
}

/* ---- assigning rows to given centres ---- */

int cdt_kmeans_assign(const float *x, uint64_t n, int d, const float *centroids, int k,
                      int threads, int32_t *labels)
{
    CDT_ASSERT(x && centroids && labels);
    if (n == 0 || n > (uint64_t)INT32_MAX || d < 1 || k < 1 || threads < 0)
        return CDT_EINVAL;
    km_dots_fn *dots = dots_for(CDT_KM_ISA_AUTO);
    float *cn = malloc((size_t)k * sizeof *cn);
    if (!cn)
        return CDT_ENOMEM;
    for (int j = 0; j < k; j++)
        cn[j] = (float)sqnorm(centroids + (size_t)j * d, d);
    uint64_t nblk = (n + PBLK - 1) / PBLK;
    int fail = 0, nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
    {
        uint32_t *idx = malloc(PBLK * sizeof *idx);
        float *g = malloc((size_t)PBLK * k * sizeof *g);
        if (!idx || !g) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < (int64_t)nblk; b++) {
            if (!idx || !g)
                continue;
            uint64_t s0 = (uint64_t)b * PBLK, rows = n - s0 < PBLK ? n - s0 : PBLK;
            for (uint32_t r = 0; r < rows; r++)
                idx[r] = r;
            dots(x + s0 * d, d, idx, (int)rows, centroids, k, g);
            for (uint32_t r = 0; r < rows; r++) { /* block_run's rule: the first lowest */
                const float *gi = g + (size_t)r * k;
                int best = 0;
                float bv = cn[0] - 2 * gi[0];
                for (int j = 1; j < k; j++) {
                    float v = cn[j] - 2 * gi[j];
                    if (v < bv) {
                        bv = v;
                        best = j;
                    }
                }
                labels[s0 + r] = best;
            }
        }
        free(idx);
        free(g);
    }
    free(cn);
    return fail ? CDT_ENOMEM : 0;
}
