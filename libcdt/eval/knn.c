/* knn.c: exact k nearest neighbours by tiles of sgemm (cdt_knn.h), the
 * near-duplicate groups they give, and the neighbours a map keeps.
 *
 * Exact: a row's float values f_j (from the sgemm of its tiles) are each
 * within E of the value the metric gives in exact arithmetic, E from the
 * norms (the bound kmeans.c uses: (2d + 32) 2^-24 (|q| + max |b|)^2).
 * If f_k is the k-th smallest float value, the true k-th is at most f_k + E,
 * so every row of the true k nearest has f_j <= f_k + 2E: those candidates
 * (usually k and a few) are computed again in double and ranked by
 * (distance as a float, row). by_float keeps the k best by float values
 * only, as the t-SNE maps were made.
 */
#include "cdt_knn.h"
#include "cdt_core.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define KNN_BLK 128   /* query rows per distance sgemm */

typedef struct nb { float d; uint32_t j; } nb;

static int nb_less(nb a, nb b) { return a.d < b.d || (a.d == b.d && a.j < b.j); }

/* A max-heap of k candidates, the worst on top. */
static void heap_down(nb *h, int k, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < k && nb_less(h[m], h[l])) m = l;
        if (r < k && nb_less(h[m], h[r])) m = r;
        if (m == i) return;
        nb t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}

static void heap_up(nb *h, int i)
{
    while (i > 0 && nb_less(h[(i - 1) / 2], h[i])) {
        nb t = h[i]; h[i] = h[(i - 1) / 2]; h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int cmp_nb(const void *a, const void *b)
{
    nb x = *(const nb *)a, y = *(const nb *)b;
    return nb_less(x, y) ? -1 : nb_less(y, x);
}

/* The metric's value for rows a and b, in double, as a float. */
static float exact(const float *a, const float *b, int d, int metric)
{
    double s = 0;
    if (metric != CDT_KNN_COSINE) {
        for (int q = 0; q < d; q++)
            s += ((double)a[q] - b[q]) * ((double)a[q] - b[q]);
        return (float)(metric == CDT_KNN_L2 ? sqrt(s) : s);
    }
    double na = 0, nb2 = 0;
    for (int q = 0; q < d; q++) {
        na += (double)a[q] * a[q];
        nb2 += (double)b[q] * b[q];
    }
    if (!(na > 0 && nb2 > 0))
        return 1;
    /* 1 - cos as half the squared distance of the unit rows: no
     * cancellation near 0, and exactly 0 for a copy */
    na = 1 / sqrt(na);
    nb2 = 1 / sqrt(nb2);
    for (int q = 0; q < d; q++)
        s += (a[q] * na - b[q] * nb2) * (a[q] * na - b[q] * nb2);
    return (float)(s / 2);
}

/* What the search runs on: the rows the sgemm sees (unit rows for the
 * cosine), their squared norms and the error bound of a query row. */
typedef struct side {
    const float *x;   /* (rows,d) as given */
    const float *s;   /* (rows,d) what the sgemm sees: x, or a unit copy */
    float *own;       /* the unit copy, when made */
    float *sn;        /* (rows) squared norms of s (L2) */
    double nmax;      /* the largest norm of s */
} side;

/* Squared norms in double as floats; the unit copy for the cosine.
 * CDT_EDATA for a value that is not finite or a square past FLT_MAX. */
static int side_init(side *sd, const float *x, uint64_t rows, int d, int metric)
{
    *sd = (side){.x = x, .s = x};
    sd->sn = malloc(rows * sizeof *sd->sn);
    if (metric == CDT_KNN_COSINE && !(sd->own = malloc(rows * d * sizeof *sd->own)))
        return CDT_ENOMEM;
    if (!sd->sn)
        return CDT_ENOMEM;
    int bad = 0;
    double big = 0;
    for (uint64_t i = 0; i < rows; i++) {
        const float *v = x + i * d;
        double t = 0;
        for (int j = 0; j < d; j++)
            t += (double)v[j] * v[j];
        bad |= !(t <= FLT_MAX);
        if (sd->own) {
            float *u = sd->own + i * d;
            double r = t > 0 ? 1 / sqrt(t) : 0;
            for (int j = 0; j < d; j++)
                u[j] = (float)(v[j] * r);
            t = t > 0 ? 1 : 0;
        }
        sd->sn[i] = (float)t;
        big = t > big ? t : big;
    }
    if (sd->own)
        sd->s = sd->own;
    sd->nmax = sqrt(big) * (1 + 1e-6);
    return bad ? CDT_EDATA : 0;
}

static void side_free(side *sd)
{
    free(sd->own);
    free(sd->sn);
}

typedef struct job {
    side b, q;
    uint64_t n, m;
    int d, k, metric, self, by_float;
    int64_t *idx;   /* (m,k) */
    float *dist;    /* (m,k) */
} job;

/* Float value of base row j for query row i from their product g. */
static inline float approx(const job *J, uint64_t i, uint64_t j, float g)
{
    if (J->metric == CDT_KNN_COSINE)
        return 1 - g;
    return J->q.sn[i] + J->b.sn[j] - 2 * g;
}

/* The float k best of query row i (heap h) from its products gr (n). */
static void float_best(const job *J, uint64_t i, const float *gr, nb *h)
{
    int k = J->k, m = 0;
    for (uint64_t j = 0; j < J->n; j++) {
        if (J->self && j == i)
            continue;
        nb c = {approx(J, i, j, gr[j]), (uint32_t)j};
        if (m < k) {
            h[m] = c;
            heap_up(h, m++);
        } else if (nb_less(c, h[0])) {
            h[0] = c;
            heap_down(h, k, 0);
        }
    }
}

/* by_float: query row i's neighbours from its products gr (n) with every
 * base row: the float k best (heap h), their distances then exact (cand,
 * room for k), ordered by them. */
static void row_by_float(const job *J, uint64_t i, const float *gr, nb *h, nb *cand)
{
    int k = J->k, d = J->d;
    float_best(J, i, gr, h);
    for (int t = 0; t < k; t++)
        cand[t] = (nb){exact(J->q.x + i * d, J->b.x + (uint64_t)h[t].j * d, d, J->metric), h[t].j};
    qsort(cand, (size_t)k, sizeof *cand, cmp_nb);
    for (int t = 0; t < k; t++) {
        J->idx[i * k + t] = cand[t].j;
        J->dist[i * k + t] = cand[t].d;
    }
}

/* by_float: blocks of KNN_BLK query rows against every base row. */
static int run_blocks(const job *J, int threads)
{
    uint64_t nblk = (J->m + KNN_BLK - 1) / KNN_BLK;
    int fail = 0, nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
    {
        float *g = malloc(KNN_BLK * J->n * sizeof *g);
        nb *h = malloc((size_t)J->k * sizeof *h), *cand = malloc((size_t)J->k * sizeof *cand);
        if (!g || !h || !cand) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < (int64_t)nblk; b++) {
            if (!g || !h || !cand)
                continue;
            uint64_t s0 = (uint64_t)b * KNN_BLK, rows = J->m - s0 < KNN_BLK ? J->m - s0 : KNN_BLK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)J->n, J->d,
                        1.0f, J->q.s + s0 * J->d, J->d, J->b.s, J->d, 0.0f, g, (int)J->n);
            for (uint64_t r = 0; r < rows; r++)
                row_by_float(J, s0 + r, g + r * J->n, h, cand);
        }
        free(g);
        free(h);
        free(cand);
    }
    return fail ? CDT_ENOMEM : 0;
}

/* ---- exact: tiles, a heap of k + EXTRA per row, the check ----
 *
 * Tiles of TILE query rows by TILE base rows, one sgemm each; every
 * product goes into its query row's heap of the kk = k + EXTRA best by
 * float value. Against itself only the tiles on and above the diagonal are
 * computed, each product going to both rows' heaps (the float value of a
 * pair is the same from either side), which halves the sgemm work; a lock
 * per block of rows guards its heaps, and since (value, row) is a total
 * order the heaps end with the same sets whatever the order of the
 * updates. Then per row: the candidates are every row whose float value is
 * within 2E of the k-th (see the top); when the heap's last is beyond that,
 * they are all in the heap, else (many near-ties: copies) the row is
 * measured exactly against every row. */

#define TILE 512
#define EXTRA 16

typedef struct heaps {
    int kk;
    nb *h;         /* (m,kk) */
    int *fill;     /* (m) */
} heaps;

static inline void push(const heaps *H, uint64_t i, nb c)
{
    nb *h = H->h + i * H->kk;
    int *f = H->fill + i;
    if (*f < H->kk) {
        h[*f] = c;
        heap_up(h, (*f)++);
    } else if (nb_less(c, h[0])) {
        h[0] = c;
        heap_down(h, H->kk, 0);
    }
}

/* The products g (rq,rb) of query rows q0.. with base rows b0..: rows'
 * side (each query row gets the base rows), or columns' side (each base
 * row gets the query rows; against itself only). diag: a tile on the
 * diagonal, where only the pairs above it count. */
static void feed_rows(const job *J, const heaps *H, const float *g, uint64_t q0, uint64_t rq,
                      uint64_t b0, uint64_t rb, int diag)
{
    for (uint64_t r = 0; r < rq; r++)
        for (uint64_t c = diag ? r + 1 : 0; c < rb; c++)
            push(H, q0 + r, (nb){approx(J, q0 + r, b0 + c, g[r * TILE + c]), (uint32_t)(b0 + c)});
}

static void feed_cols(const job *J, const heaps *H, const float *g, uint64_t q0, uint64_t rq,
                      uint64_t b0, uint64_t rb, int diag)
{
    for (uint64_t c = 0; c < rb; c++)
        for (uint64_t r = 0; r < (diag ? c : rq); r++)
            push(H, b0 + c, (nb){approx(J, b0 + c, q0 + r, g[r * TILE + c]), (uint32_t)(q0 + r)});
}

static void tile_pass(const job *J, const heaps *H, omp_lock_t *lock, float *g, int64_t bi)
{
    uint64_t nbb = (J->n + TILE - 1) / TILE, q0 = (uint64_t)bi * TILE;
    uint64_t rq = J->m - q0 < TILE ? J->m - q0 : TILE;
    for (uint64_t bj = J->self ? (uint64_t)bi : 0; bj < nbb; bj++) {
        uint64_t b0 = bj * TILE, rb = J->n - b0 < TILE ? J->n - b0 : TILE;
        int diag = J->self && bj == (uint64_t)bi;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rq, (int)rb, J->d, 1.0f,
                    J->q.s + q0 * J->d, J->d, J->b.s + b0 * J->d, J->d, 0.0f, g, TILE);
        if (J->self)
            omp_set_lock(&lock[bi]);
        feed_rows(J, H, g, q0, rq, b0, rb, diag);
        if (J->self)
            omp_unset_lock(&lock[bi]);
        if (!J->self)
            continue;
        omp_set_lock(&lock[bj]);
        feed_cols(J, H, g, q0, rq, b0, rb, diag);
        omp_unset_lock(&lock[bj]);
    }
}

/* Row i's k nearest from its heap (sorted here), or from every row. */
static void row_exact(const job *J, const heaps *H, uint64_t i, nb *cand /* (n) */)
{
    int k = J->k, d = J->d, kk = H->kk, fill = H->fill[i];
    nb *h = H->h + i * kk;
    const float *qi = J->q.x + i * d;
    qsort(h, (size_t)fill, sizeof *h, cmp_nb);
    double r = J->metric == CDT_KNN_COSINE ? 1 : sqrt((double)J->q.sn[i]) * (1 + 1e-6) + J->b.nmax;
    double e = (2.0 * d + 32) * 0x1p-24 * r * r * 1.01, fk = h[k - 1].d;
    double tau = fk + 2 * e + fabs(fk) * 0x1p-22;
    uint64_t nc = 0;
    if ((uint64_t)fill + J->self == J->n || h[fill - 1].d > tau) {
        for (int t = 0; t < fill && h[t].d <= tau; t++)
            cand[nc++] = (nb){exact(qi, J->b.x + (uint64_t)h[t].j * d, d, J->metric), h[t].j};
    } else {
        for (uint64_t j = 0; j < J->n; j++)
            if (!(J->self && j == i))
                cand[nc++] = (nb){exact(qi, J->b.x + j * d, d, J->metric), (uint32_t)j};
    }
    qsort(cand, (size_t)nc, sizeof *cand, cmp_nb);
    for (int t = 0; t < k; t++) {
        J->idx[i * k + t] = cand[t].j;
        J->dist[i * k + t] = cand[t].d;
    }
}

static int run_tiles(const job *J, int threads)
{
    uint64_t nbq = (J->m + TILE - 1) / TILE, nbb = (J->n + TILE - 1) / TILE;
    uint64_t most = J->n - (uint64_t)J->self;
    heaps H = {.kk = (uint64_t)J->k + EXTRA < most ? J->k + EXTRA : (int)most};
    H.h = malloc(J->m * H.kk * sizeof *H.h);
    H.fill = calloc(J->m, sizeof *H.fill);
    omp_lock_t *lock = malloc(nbb * sizeof *lock);
    int fail = !H.h || !H.fill || !lock, nt = threads > 0 ? threads : omp_get_max_threads();
    if (fail) {
        free(H.h); free(H.fill); free(lock);
        return CDT_ENOMEM;
    }
    for (uint64_t b = 0; b < nbb; b++)
        omp_init_lock(&lock[b]);
#pragma omp parallel num_threads(nt)
    {
        float *g = malloc((size_t)TILE * TILE * sizeof *g);
        nb *cand = malloc(J->n * sizeof *cand);
        if (!g || !cand) {
#pragma omp atomic write
            fail = 1;
        }
        /* the first blocks have the most tiles against itself: first */
#pragma omp for schedule(dynamic, 1)
        for (int64_t bi = 0; bi < (int64_t)nbq; bi++)
            if (g && cand)
                tile_pass(J, &H, lock, g, bi);
#pragma omp for schedule(dynamic, 64)
        for (int64_t i = 0; i < (int64_t)J->m; i++)
            if (g && cand && !fail)
                row_exact(J, &H, (uint64_t)i, cand);
        free(g);
        free(cand);
    }
    for (uint64_t b = 0; b < nbb; b++)
        omp_destroy_lock(&lock[b]);
    free(lock);
    free(H.h);
    free(H.fill);
    return fail ? CDT_ENOMEM : 0;
}

int cdt_knn(const float *base, uint64_t n, const float *query, uint64_t m, int d,
            const cdt_knn_opts *o, int64_t *idx, float *dist)
{
    CDT_ASSERT(base && o && idx && dist);
    int self = query == NULL;
    if (self)
        m = n;
    if (n == 0 || n > INT32_MAX || m == 0 || m > INT32_MAX || d < 1 || o->k < 1 ||
        (uint64_t)o->k + (uint64_t)self > n || o->metric < CDT_KNN_SQL2 ||
        o->metric > CDT_KNN_COSINE || o->threads < 0)
        return CDT_EINVAL;
    job J = {.n = n, .m = m, .d = d, .k = o->k, .metric = o->metric, .self = self,
             .by_float = o->by_float, .idx = idx, .dist = dist};
    int rc = side_init(&J.b, base, n, d, o->metric);
    if (!rc && !self)
        rc = side_init(&J.q, query, m, d, o->metric);
    if (self)
        J.q = J.b;
    if (!rc)
        rc = o->by_float ? run_blocks(&J, o->threads) : run_tiles(&J, o->threads);
    side_free(&J.b);
    if (!self)
        side_free(&J.q);
    return rc;
}

/* ---- near-duplicate groups ---- */

static uint64_t root(uint64_t *up, uint64_t i)
{
    while (up[i] != i) {
        up[i] = up[up[i]];
        i = up[i];
    }
    return i;
}

int cdt_knn_groups(const float *x, uint64_t n, int d, int metric, const int64_t *idx,
                   const float *dist, int k, float t, int32_t *group, float *first_dist)
{
    CDT_ASSERT(x && idx && dist && group && first_dist && k >= 1);
    uint64_t *up = malloc((n ? n : 1) * sizeof *up), *first = malloc((n ? n : 1) * sizeof *first);
    uint8_t *pair = calloc(n ? n : 1, 1);
    if (!up || !first || !pair) {
        free(up); free(first); free(pair);
        return CDT_ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++)
        up[i] = i;
    for (uint64_t i = 0; i < n; i++)
        for (int s = 0; s < k; s++) {
            if (!(dist[i * k + s] < t))
                continue;
            uint64_t j = (uint64_t)idx[i * k + s], a = root(up, i), b = root(up, j);
            pair[i] = pair[j] = 1;
            if (a != b) /* the lower row is the root: a group is named by its first */
                up[a > b ? a : b] = a < b ? a : b;
        }
    int32_t groups = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = root(up, i);
        if (!pair[i]) {
            group[i] = -1;
            first_dist[i] = -1;
        } else if (r == i) {
            first[i] = (uint64_t)groups;
            group[i] = groups++;
            first_dist[i] = 0;
        } else {
            group[i] = (int32_t)first[r];
            first_dist[i] = exact(x + i * d, x + r * d, d, metric);
        }
    }
    free(up); free(first); free(pair);
    return groups;
}

/* ---- neighbourhood preservation ---- */

static int knn_sets(const float *x, uint64_t n, int d, int k, int64_t **idx)
{
    float *d2 = malloc(n * k * sizeof *d2);
    *idx = malloc(n * k * sizeof **idx);
    cdt_knn_opts o = {.k = k, .metric = CDT_KNN_SQL2, .by_float = 1}; /* as the maps were measured */
    int rc = !d2 || !*idx ? CDT_ENOMEM : cdt_knn(x, n, NULL, 0, d, &o, *idx, d2);
    free(d2);
    return rc;
}

int cdt_knn_kept(const float *x, const float *y, uint64_t n, int d, int e, int k, double *out)
{
    if (n < 2 || k < 1 || (uint64_t)k >= n || d < 1 || e < 1)
        return CDT_EINVAL;
    int64_t *a = NULL, *b = NULL;
    int rc = knn_sets(x, n, d, k, &a);
    if (!rc)
        rc = knn_sets(y, n, e, k, &b);
    if (!rc) {
        uint64_t kept = 0;
        for (uint64_t i = 0; i < n; i++)
            for (int s = 0; s < k; s++)
                for (int t = 0; t < k; t++)
                    kept += a[i * k + s] == b[i * k + t];
        *out = (double)kept / ((double)n * k);
    }
    free(a);
    free(b);
    return rc;
}
