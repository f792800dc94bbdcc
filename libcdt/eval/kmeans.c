/* kmeans.c: k-means (greedy k-means++ seeding, Lloyd iterations) with all
 * restarts advancing together.
 *
 * Why together: one pass over the rows serves every run, so X is read from
 * memory once per iteration instead of once per run, and the distance sgemm
 * is (rows x runs*k) instead of (rows x k), a shape BLAS runs much closer to
 * its peak. A run that has converged leaves the batch.
 *
 * Threads: the rows are cut into blocks of BLK; partial result p (of NPART)
 * owns blocks p, p + NPART, p + 2 NPART, ... and handles them in order, one
 * single-threaded sgemm per block, so the threads share one fork and join
 * per pass and nothing a thread computes depends on which thread it is or
 * how many there are. Partial results are added in p order. OpenBLAS is
 * held to one thread meanwhile (as sklearn does with threadpoolctl): its own
 * threads would fight ours for the cores.
 */
#include "cdt_eval.h"
#include "cdt_core.h"
#include "cdt_rng.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLK 1024     /* rows per sgemm call */
#define NPART 16    /* partial results; at most this many threads help */

/* The hot loop also gets an AVX2 build, picked at load time: the Makefile
 * targets plain x86-64. Sums run per element in the same order either way
 * (and GCC in -std=c11 mode never fuses a*b+c), so the choice does not change
 * a result; it never depends on the thread count in any case. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define CDT_KM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CDT_KM_CLONES
#endif

cdt_kmeans_opts cdt_kmeans_defaults(int k)
{
    cdt_kmeans_opts o = {.k = k, .restarts = 10, .max_iter = 300, .tol = 1e-4, .seed = 0};
    return o;
}

typedef struct km_run {
    float *cen;       /* (k,d) */
    int32_t *lab;     /* (n) */
    float *mind;      /* (n) squared distance to the assigned centre */
    int iter, done, final_estep, converged;
} km_run;

typedef struct km {
    const float *x;   /* (n,d) */
    uint64_t n;
    int d, k, nrun;
    float *xn;        /* (n) squared row norms */
    km_run *run;      /* (nrun) */
    int *act;         /* (nrun) indices of the runs in the batch */
    int nact;
    float *cact;      /* (nrun*k,d) centres of the batch, packed */
    float *cn;        /* (nrun*k) their squared norms */
    float *g;         /* (NPART,BLK,cols) a block of X . c^T per partial */
    double *part;     /* (NPART,nrun*k,d) partial centre sums */
    float *fb;        /* (NPART,nrun*k,d) sums within one block */
    uint32_t *fc;     /* (NPART,nrun*k) counts within one block */
    uint64_t *pcnt;   /* (NPART,nrun*k) partial counts */
    uint64_t *pchg;   /* (NPART,nrun) labels changed */
} km;

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
    int rc = CDT_ENOMEM;
    if (w.rng && w.pot && w.closest && w.cand && w.dc && w.cum) {
        for (int a = 0; a < m->nrun; a++) {
            cdt_rng_init(&w.rng[a], seed, CDT_RNG_KMEANS, (uint64_t)a, 0, 0);
            uint64_t id = cdt_rng_below(&w.rng[a], m->n);
            memcpy(m->run[a].cen, m->x + id * m->d, (size_t)m->d * sizeof(float));
            memcpy(w.cand + (size_t)a * m->d, m->x + id * m->d, (size_t)m->d * sizeof(float));
            w.closest[a] = m->run[a].mind; /* reused: seeding ends before Lloyd */
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
    free(w.dc); free(w.cum);
    return rc;
}

/* ---- Lloyd ---- */

/* Assign the rows of one block (g holds their products with the batch's
 * centres) to the nearest centre of every run in the batch and add them to
 * partial result b. Rows are summed in float within the block (half the
 * memory traffic, twice the SIMD width), block sums in double. */
CDT_KM_CLONES
static void assign_rows(km *m, const float *gb /* (rows,nact*k) */, uint64_t s0,
                        uint64_t rows, int b)
{
    int cols = m->nact * m->k, d = m->d;
    double *part = m->part + (size_t)b * m->nrun * m->k * d;
    uint64_t *pcnt = m->pcnt + (size_t)b * m->nrun * m->k;
    float *fb = m->fb + (size_t)b * m->nrun * m->k * d;
    uint32_t *fc = m->fc + (size_t)b * m->nrun * m->k;
    memset(fc, 0, (size_t)cols * sizeof *fc);
    for (uint64_t r = 0; r < rows; r++) {
        uint64_t i = s0 + r;
        const float *g = gb + r * cols, *xi = m->x + i * d;
        for (int q = 0; q < m->nact; q++) {
            km_run *run = &m->run[m->act[q]];
            const float *gq = g + q * m->k, *cq = m->cn + q * m->k;
            int best = 0;
            float bv = cq[0] - 2 * gq[0];
            for (int j = 1; j < m->k; j++) {
                float v = cq[j] - 2 * gq[j];
                if (v < bv) {
                    bv = v;
                    best = j;
                }
            }
            float dist = m->xn[i] + bv;
            run->mind[i] = dist > 0 ? dist : 0;
            m->pchg[b * m->nrun + q] += run->lab[i] != best;
            run->lab[i] = best;
            int c = q * m->k + best;
            float *acc = fb + (size_t)c * d;
            if (fc[c]++) {
#pragma omp simd
                for (int j = 0; j < d; j++)
                    acc[j] += xi[j];
            } else {
                memcpy(acc, xi, (size_t)d * sizeof *acc);
            }
        }
    }
    for (int c = 0; c < cols; c++) {
        if (!fc[c])
            continue;
        double *dst = part + (size_t)c * d;
        const float *src = fb + (size_t)c * d;
#pragma omp simd
        for (int j = 0; j < d; j++)
            dst[j] += src[j];
        pcnt[c] += fc[c];
    }
}

/* One pass over all rows for the runs in the batch. */
static void lloyd_pass(km *m)
{
    int cols = m->nact * m->k;
    for (int q = 0; q < m->nact; q++)
        memcpy(m->cact + (size_t)q * m->k * m->d, m->run[m->act[q]].cen,
               (size_t)m->k * m->d * sizeof(float));
    for (int j = 0; j < cols; j++)
        m->cn[j] = (float)sqnorm(m->cact + (size_t)j * m->d, m->d);
    memset(m->part, 0, (size_t)NPART * cols * m->d * sizeof *m->part);
    memset(m->pcnt, 0, (size_t)NPART * cols * sizeof *m->pcnt);
    memset(m->pchg, 0, (size_t)NPART * m->nrun * sizeof *m->pchg);
    uint64_t nblk = (m->n + BLK - 1) / BLK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < NPART; p++) {
        float *g = m->g + (size_t)p * BLK * cols;
        for (uint64_t b = (uint64_t)p; b < nblk; b += NPART) {
            uint64_t s0 = b * BLK, rows = m->n - s0 < BLK ? m->n - s0 : BLK;
            gemm_nt(m->x + s0 * m->d, rows, m->cact, cols, m->d, g);
            assign_rows(m, g, s0, rows, p);
        }
    }
    /* Partial sums in sub-block order, into sub-block 0. */
#pragma omp parallel for schedule(static)
    for (int j = 0; j < cols; j++)
        for (int b = 1; b < NPART; b++) {
            double *dst = m->part + (size_t)j * m->d;
            const double *src = m->part + ((size_t)b * m->nrun * m->k + j) * m->d;
            for (int t = 0; t < m->d; t++)
                dst[t] += src[t];
            m->pcnt[j] += m->pcnt[(size_t)b * m->nrun * m->k + j];
        }
}

/* sklearn's rule for clusters left empty: take the rows farthest from their
 * centres (ties: the lower row) and make each the sum of an empty cluster. */
static void relocate_empty(km *m, km_run *run, double *sum /* (k,d) */,
                           uint64_t *cnt /* (k) */)
{
    for (int e = 0; e < m->k; e++) {
        if (cnt[e])
            continue;
        uint64_t far = 0;
        float fd = -1;
        for (uint64_t i = 0; i < m->n; i++)
            if (run->mind[i] > fd && cnt[run->lab[i]] > 1) {
                fd = run->mind[i];
                far = i;
            }
        if (fd < 0)
            return; /* fewer distinct rows than clusters; nothing to move */
        int old = run->lab[far];
        const float *xf = m->x + far * m->d;
        for (int t = 0; t < m->d; t++) {
            sum[(size_t)old * m->d + t] -= xf[t];
            sum[(size_t)e * m->d + t] = xf[t];
        }
        cnt[old]--;
        cnt[e] = 1;
        run->mind[far] = -1; /* not picked twice */
    }
}

/* New centres of run q of the batch; returns the squared shift. */
static double update_centres(km *m, int q)
{
    km_run *run = &m->run[m->act[q]];
    double *sum = m->part + (size_t)q * m->k * m->d;
    uint64_t *cnt = m->pcnt + (size_t)q * m->k;
    relocate_empty(m, run, sum, cnt);
    double shift = 0;
    for (int c = 0; c < m->k; c++) {
        float *cen = run->cen + (size_t)c * m->d;
        for (int t = 0; t < m->d && cnt[c]; t++) {
            float v = (float)(sum[(size_t)c * m->d + t] / (double)cnt[c]);
            double e = (double)v - cen[t];
            shift += e * e;
            cen[t] = v;
        }
    }
    return shift;
}

/* After a pass: move every run on, or retire it (sklearn's stopping rules). */
static void step_runs(km *m, double tol_abs, int max_iter)
{
    for (int q = 0; q < m->nact; q++) {
        km_run *run = &m->run[m->act[q]];
        if (run->final_estep) { /* labels now match the final centres */
            run->done = 1;
            continue;
        }
        uint64_t chg = 0;
        for (int b = 0; b < NPART; b++)
            chg += m->pchg[b * m->nrun + q];
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
    m->run = calloc((size_t)m->nrun, sizeof *m->run);
    m->act = malloc((size_t)m->nrun * sizeof *m->act);
    m->cact = malloc(rk * m->d * sizeof *m->cact);
    m->cn = malloc(rk * sizeof *m->cn);
    m->g = malloc((size_t)NPART * BLK * tcols * sizeof *m->g);
    m->part = malloc((size_t)NPART * rk * m->d * sizeof *m->part);
    m->pcnt = malloc((size_t)NPART * rk * sizeof *m->pcnt);
    m->fb = malloc((size_t)NPART * rk * m->d * sizeof *m->fb);
    m->fc = malloc((size_t)NPART * rk * sizeof *m->fc);
    m->pchg = malloc((size_t)NPART * m->nrun * sizeof *m->pchg);
    if (!m->xn || !m->run || !m->act || !m->cact || !m->cn || !m->g || !m->part ||
        !m->pcnt || !m->pchg || !m->fb || !m->fc)
        return CDT_ENOMEM;
    for (int a = 0; a < m->nrun; a++) {
        km_run *r = &m->run[a];
        r->cen = malloc((size_t)m->k * m->d * sizeof *r->cen);
        r->lab = malloc(m->n * sizeof *r->lab);
        r->mind = malloc(m->n * sizeof *r->mind);
        if (!r->cen || !r->lab || !r->mind)
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
        free(m->run[a].cen);
        free(m->run[a].lab);
        free(m->run[a].mind);
    }
    free(m->xn); free(m->run); free(m->act); free(m->cact); free(m->cn);
    free(m->g); free(m->part); free(m->pcnt); free(m->pchg);
    free(m->fb); free(m->fc);
}

/* Pick the run with the lowest inertia and hand back its results. The runs
 * are compared by the distances their last pass found (as sklearn compares
 * its float inertia), which costs no pass over X; only the winner's inertia
 * is recomputed exactly. */
static void keep_best(km *m, int32_t *labels /* (n) */, float *centroids /* (k,d) */,
                      cdt_kmeans_result *res)
{
    int best = 0;
    double bi = DBL_MAX;
    for (int a = 0; a < m->nrun; a++) {
        double in = 0;
        for (uint64_t i = 0; i < m->n; i++)
            in += m->run[a].mind[i] > 0 ? m->run[a].mind[i] : 0;
        if (in < bi) {
            bi = in;
            best = a;
        }
    }
    km_run *r = &m->run[best];
    memcpy(labels, r->lab, m->n * sizeof *labels);
    memcpy(centroids, r->cen, (size_t)m->k * m->d * sizeof *centroids);
    res->inertia = exact_inertia(m, r);
    res->iterations = r->iter;
    res->restart = best;
    res->converged = r->converged;
}

int cdt_kmeans(const float *x, uint64_t n, int d, const cdt_kmeans_opts *o,
               int32_t *labels, float *centroids, cdt_kmeans_result *res)
{
    CDT_ASSERT(x && o && labels && centroids && res);
    if (n == 0 || d < 1 || o->k < 1 || (uint64_t)o->k > n || o->restarts < 1 ||
        o->max_iter < 1 || !(o->tol >= 0) || n > (uint64_t)INT32_MAX)
        return CDT_EINVAL;
    /* The work buffers hold NPART * restarts * k * d doubles. */
    if ((double)NPART * o->restarts * o->k * d * sizeof(double) > 0x1p46)
        return CDT_ELIMIT;
    km m = {.x = x, .n = n, .d = d, .k = o->k, .nrun = o->restarts};
    int rc = km_alloc(&m);
    double var = rc ? 0 : mean_variance(x, n, d);
    if (!rc && var < 0)
        rc = CDT_ENOMEM;
    if (!rc) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < (int64_t)n; i++)
            m.xn[i] = (float)sqnorm(x + (uint64_t)i * d, d);
    }
#ifdef OPENBLAS_VERSION
    int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#endif
    if (!rc)
        rc = seed_all(&m, o->seed);
    if (!rc) {
        while (m.nact > 0) {
            lloyd_pass(&m);
            step_runs(&m, o->tol * var, o->max_iter);
        }
        keep_best(&m, labels, centroids, res);
    }
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(blas_threads);
#endif
    km_free(&m);
    return rc;
}
