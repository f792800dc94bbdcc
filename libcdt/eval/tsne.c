/* tsne.c: Barnes-Hut t-SNE (van der Maaten 2014) with scikit-learn's
 * choices (cdt_tsne.h says which), so that its maps and KL can be compared.
 *
 * Determinism: rows are cut into blocks whose work does not depend on the
 * thread that runs them (one single-threaded sgemm per block, one tree walk
 * per point); every sum over rows is made afterwards in row order. So the
 * thread count never changes a bit of the result.
 */
#include "cdt_tsne.h"
#include "cdt_core.h"
#include "cdt_knn.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define ROW_BLK 1024  /* rows per projection sgemm */
#define STRIP 64      /* covariance columns per sgemm */
#define QT_EPS 1e-6   /* points closer than this in both axes share a leaf (sklearn) */
#define QT_DEPTH 48

cdt_tsne_opts cdt_tsne_defaults(void)
{
    return (cdt_tsne_opts){.perplexity = 30, .iters = 1000, .exag_iters = 250,
                           .exaggeration = 12, .theta = 0.5, .pca_dims = 50};
}

/* ---- PCA ---- */

/* Eigenvectors of the symmetric a (m,m) by cyclic Jacobi rotations: a is
 * destroyed, its diagonal left holding the eigenvalues; v (m,m) gets the
 * vectors as columns. */
static void jacobi(double *a, double *v, int m)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            v[i * m + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < m; i++) {
            diag += a[i * m + i] * a[i * m + i];
            for (int j = i + 1; j < m; j++)
                off += a[i * m + j] * a[i * m + j];
        }
        if (off <= 1e-30 * diag || off == 0)
            return;
        for (int p = 0; p < m; p++)
            for (int q = p + 1; q < m; q++) {
                double apq = a[p * m + q];
                if (fabs(apq) < 1e-300)
                    continue;
                double th = (a[q * m + q] - a[p * m + p]) / (2 * apq);
                double t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < m; k++) {
                    double akp = a[k * m + p], akq = a[k * m + q];
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for (int k = 0; k < m; k++) {
                    double apk = a[p * m + k], aqk = a[q * m + k];
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < m; k++) {
                    double vkp = v[k * m + p], vkq = v[k * m + q];
                    v[k * m + p] = c * vkp - s * vkq;
                    v[k * m + q] = s * vkp + c * vkq;
                }
            }
    }
}

/* Modified Gram-Schmidt on the r columns of q (d,r). */
static void orthonormalise(double *q, int d, int r)
{
    for (int j = 0; j < r; j++) {
        for (int i = 0; i < j; i++) {
            double dot = 0;
            for (int k = 0; k < d; k++)
                dot += q[k * r + i] * q[k * r + j];
            for (int k = 0; k < d; k++)
                q[k * r + j] -= dot * q[k * r + i];
        }
        double nrm = 0;
        for (int k = 0; k < d; k++)
            nrm += q[k * r + j] * q[k * r + j];
        nrm = sqrt(nrm);
        for (int k = 0; k < d; k++)
            q[k * r + j] = nrm > 0 ? q[k * r + j] / nrm : (k == j);
    }
}

/* The top r eigenvectors of the covariance c (d,d): all of them by Jacobi
 * when d is small, else by subspace iteration on r + 10 vectors and
 * Rayleigh-Ritz. v (d,r), descending eigenvalue, each column's largest
 * entry positive. */
static int top_eigen(const double *c, int d, int r, double *v)
{
    int m = d <= 256 ? d : (r + 10 < d ? r + 10 : d);
    double *q = malloc((size_t)d * m * sizeof *q), *z = malloc((size_t)d * m * sizeof *z);
    double *t = malloc((size_t)m * m * sizeof *t), *w = malloc((size_t)m * m * sizeof *w);
    int *ord = malloc((size_t)m * sizeof *ord);
    if (!q || !z || !t || !w || !ord) {
        free(q); free(z); free(t); free(w); free(ord);
        return CDT_ENOMEM;
    }
    for (int i = 0; i < d; i++)  /* a fixed start: unit columns plus a tilt */
        for (int j = 0; j < m; j++)
            q[i * m + j] = (i == j) + 1e-3 * sin(1.0 + i * 0.7 + j * 1.3);
    orthonormalise(q, d, m);
    int iters = m == d ? 0 : 40;
    for (int it = 0; it <= iters; it++) {
        /* z = c q; on the last pass t = q^T z = q^T c q */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, m, d, 1.0, c, d, q, m, 0.0, z, m);
        if (it == iters)
            break;
        memcpy(q, z, (size_t)d * m * sizeof *q);
        orthonormalise(q, d, m);
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, m, d, 1.0, q, m, z, m, 0.0, t, m);
    for (int i = 0; i < m; i++)  /* symmetric up to rounding: make it exactly so */
        for (int j = i + 1; j < m; j++)
            t[i * m + j] = t[j * m + i] = (t[i * m + j] + t[j * m + i]) / 2;
    jacobi(t, w, m);
    for (int i = 0; i < m; i++)
        ord[i] = i;
    for (int i = 1; i < m; i++)  /* insertion sort, descending eigenvalue */
        for (int j = i; j > 0 && t[ord[j] * m + ord[j]] > t[ord[j - 1] * m + ord[j - 1]]; j--) {
            int s = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = s;
        }
    for (int j = 0; j < r; j++) {
        double big = 0;
        for (int i = 0; i < d; i++) {
            double s = 0;
            for (int k = 0; k < m; k++)
                s += q[i * m + k] * w[k * m + ord[j]];
            v[i * r + j] = s;
            if (fabs(s) > fabs(big))
                big = s;
        }
        if (big < 0)
            for (int i = 0; i < d; i++)
                v[i * r + j] = -v[i * r + j];
    }
    free(q); free(z); free(t); free(w); free(ord);
    return 0;
}

/* out (n,r) = the rows of x centred and projected on their first r
 * principal axes. */
static int pca(const float *x /* (n,d) */, uint64_t n, int d, int r, float *out /* (n,r) */)
{
    double *mu = calloc((size_t)d, sizeof *mu), *cd = malloc((size_t)d * d * sizeof *cd);
    double *v = malloc((size_t)d * r * sizeof *v);
    float *xc = malloc(n * d * sizeof *xc), *c = malloc((size_t)d * d * sizeof *c);
    float *vf = malloc((size_t)d * r * sizeof *vf);
    int rc = CDT_ENOMEM;
    if (!mu || !cd || !v || !xc || !c || !vf)
        goto out;
    for (uint64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mu[j] += x[i * d + j];
    for (int j = 0; j < d; j++)
        mu[j] /= (double)n;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)n; i++)
        for (int j = 0; j < d; j++)
            xc[i * d + j] = (float)(x[i * d + j] - mu[j]);
    int strips = (d + STRIP - 1) / STRIP;
#pragma omp parallel for schedule(dynamic, 1)
    for (int s = 0; s < strips; s++) {
        int c0 = s * STRIP, w = d - c0 < STRIP ? d - c0 : STRIP;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, w, (int)n, 1.0f / (float)n, xc, d,
                    xc + c0, d, 0.0f, c + c0, d);
    }
    for (size_t i = 0; i < (size_t)d * d; i++)
        cd[i] = c[i];
    for (int i = 0; i < d; i++)  /* exactly symmetric */
        for (int j = i + 1; j < d; j++)
            cd[i * d + j] = cd[j * d + i] = (cd[i * d + j] + cd[j * d + i]) / 2;
    if ((rc = top_eigen(cd, d, r, v)) < 0)
        goto out;
    for (size_t i = 0; i < (size_t)d * r; i++)
        vf[i] = (float)v[i];
    uint64_t nblk = (n + ROW_BLK - 1) / ROW_BLK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < (int64_t)nblk; b++) {
        uint64_t s0 = (uint64_t)b * ROW_BLK, rows = n - s0 < ROW_BLK ? n - s0 : ROW_BLK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, r, d, 1.0f,
                    xc + s0 * d, d, vf, r, 0.0f, out + s0 * r, r);
    }
    rc = 0;
out:
    free(mu); free(cd); free(v); free(xc); free(c); free(vf);
    return rc;
}

/* ---- P ---- */

/* sklearn's _binary_search_perplexity on one row: p (k) = the Gaussian
 * conditional probabilities over the squared distances d2 (k) whose
 * entropy is log(perplexity). */
static void row_p(const float *d2, int k, double perplexity, float *p)
{
    double beta = 1, lo = -INFINITY, hi = INFINITY, want = log(perplexity);
    double e[k];
    for (int step = 0; step < 100; step++) {
        double sum = 0, sd = 0;
        for (int j = 0; j < k; j++)
            sum += e[j] = exp(-d2[j] * beta);
        if (sum == 0)
            sum = 1e-8;
        for (int j = 0; j < k; j++)
            sd += d2[j] * (e[j] / sum);
        double diff = log(sum) + beta * sd - want;
        for (int j = 0; j < k; j++)
            p[j] = (float)(e[j] / sum);
        if (fabs(diff) <= 1e-5)
            break;
        if (diff > 0) {
            lo = beta;
            beta = hi == INFINITY ? beta * 2 : (beta + hi) / 2;
        } else {
            hi = beta;
            beta = lo == -INFINITY ? beta / 2 : (beta + lo) / 2;
        }
    }
}

/* The joint P = (P_cond + P_cond^T) / sum as CSR: row i's entries are
 * col[ptr[i] .. ptr[i+1]), val likewise, columns ascending. */
typedef struct csr { uint64_t *ptr; uint32_t *col; float *val; } csr;

static int cmp_entry(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct entry { uint32_t col; float val; } entry;

static int symmetrise(const uint32_t *idx, const float *pc, uint64_t n, int k, csr *P)
{
    uint64_t *cnt = calloc(n + 1, sizeof *cnt);
    entry *e = malloc(2 * n * k * sizeof *e);
    P->ptr = malloc((n + 1) * sizeof *P->ptr);
    if (!cnt || !e || !P->ptr) {
        free(cnt); free(e);
        return CDT_ENOMEM;
    }
    for (uint64_t i = 0; i < n; i++) {
        cnt[i] += (uint64_t)k;
        for (int t = 0; t < k; t++)
            cnt[idx[i * k + t]]++;
    }
    uint64_t *at = malloc((n + 1) * sizeof *at);
    if (!at) {
        free(cnt); free(e);
        return CDT_ENOMEM;
    }
    at[0] = 0;
    for (uint64_t i = 0; i < n; i++)
        at[i + 1] = at[i] + cnt[i];
    memcpy(cnt, at, (n + 1) * sizeof *cnt);
    for (uint64_t i = 0; i < n; i++)
        for (int t = 0; t < k; t++) {
            uint32_t j = idx[i * k + t];
            float v = pc[i * k + t];
            e[cnt[i]++] = (entry){j, v};
            e[cnt[j]++] = (entry){(uint32_t)i, v};
        }
    /* sort each row by column and add up the pairs found from both ends */
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        entry *r = e + at[i];
        uint64_t m = at[i + 1] - at[i], w = 0;
        qsort(r, m, sizeof *r, cmp_entry);
        for (uint64_t t = 0; t < m; t++) {
            if (w && r[w - 1].col == r[t].col)
                r[w - 1].val += r[t].val;
            else
                r[w++] = r[t];
        }
        cnt[i] = w;
        total += w;
    }
    P->col = malloc(total * sizeof *P->col);
    P->val = malloc(total * sizeof *P->val);
    if (!P->col || !P->val) {
        free(cnt); free(e); free(at);
        return CDT_ENOMEM;
    }
    double sum = 0;
    uint64_t o = 0;
    for (uint64_t i = 0; i < n; i++) {
        P->ptr[i] = o;
        for (uint64_t t = 0; t < cnt[i]; t++) {
            P->col[o] = e[at[i] + t].col;
            P->val[o] = e[at[i] + t].val;
            sum += P->val[o++];
        }
    }
    P->ptr[n] = o;
    for (uint64_t t = 0; t < o; t++)
        P->val[t] = (float)(P->val[t] / (sum > DBL_MIN ? sum : DBL_MIN));
    free(cnt); free(e); free(at);
    return 0;
}

/* ---- quadtree ---- */

typedef struct qnode {
    double cx, cy, hw;  /* cell centre, half width */
    double bx, by;      /* sums of the points' coordinates, then their barycentre */
    uint32_t count;
    int32_t child;      /* first of 4 children, -1 for a leaf */
    double px, py;      /* a leaf's point */
} qnode;

/* The tree as the force loop reads it: 20 bytes a node, float like
 * sklearn's, barycentre and squared width ready. */
typedef struct qflat {
    float bx, by, w2;
    uint32_t count;
    int32_t child;
} qflat;

typedef struct qtree { qnode *node; qflat *flat; size_t len, cap, fcap; } qtree;

static int qt_new(qtree *t, double cx, double cy, double hw)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        qnode *p = realloc(t->node, cap * sizeof *p);
        if (!p)
            return CDT_ENOMEM;
        t->node = p;
        t->cap = cap;
    }
    t->node[t->len++] = (qnode){.cx = cx, .cy = cy, .hw = hw, .child = -1};
    return (int)(t->len - 1);
}

static int qt_quadrant(const qnode *q, double x, double y)
{
    return (x > q->cx) + 2 * (y > q->cy);
}

static int qt_split(qtree *t, size_t at)
{
    double hw = t->node[at].hw / 2, cx = t->node[at].cx, cy = t->node[at].cy;
    int first = -1;
    for (int q = 0; q < 4; q++) {
        int c = qt_new(t, cx + (q & 1 ? hw : -hw), cy + (q & 2 ? hw : -hw), hw);
        if (c < 0)
            return c;
        if (q == 0)
            first = c;
    }
    qnode *p = &t->node[at];
    qnode *c = &t->node[first + qt_quadrant(p, p->px, p->py)];
    c->count = p->count;
    c->bx = p->bx;
    c->by = p->by;
    c->px = p->px;
    c->py = p->py;
    p->child = first;
    return 0;
}

static int qt_insert(qtree *t, double x, double y)
{
    size_t at = 0;
    for (int depth = 0;; depth++) {
        qnode *q = &t->node[at];
        if (q->child < 0) {
            if (q->count == 0 || depth >= QT_DEPTH ||
                (fabs(q->px - x) <= QT_EPS && fabs(q->py - y) <= QT_EPS)) {
                if (q->count == 0) {
                    q->px = x;
                    q->py = y;
                }
                q->count++;
                q->bx += x;
                q->by += y;
                return 0;
            }
            int rc = qt_split(t, at);
            if (rc < 0)
                return rc;
            q = &t->node[at];
        }
        q->count++;
        q->bx += x;
        q->by += y;
        at = (size_t)q->child + qt_quadrant(q, x, y);
    }
}

static int qt_build(qtree *t, const float *y /* (n,2) */, uint64_t n)
{
    double x0 = y[0], x1 = y[0], y0 = y[1], y1 = y[1];
    for (uint64_t i = 1; i < n; i++) {
        x0 = fmin(x0, y[2 * i]); x1 = fmax(x1, y[2 * i]);
        y0 = fmin(y0, y[2 * i + 1]); y1 = fmax(y1, y[2 * i + 1]);
    }
    double hw = fmax(x1 - x0, y1 - y0) / 2 * (1 + 1e-5) + 1e-5;
    t->len = 0;
    int rc = qt_new(t, (x0 + x1) / 2, (y0 + y1) / 2, hw);
    for (uint64_t i = 0; rc >= 0 && i < n; i++)
        rc = qt_insert(t, y[2 * i], y[2 * i + 1]);
    if (rc < 0)
        return rc;
    if (t->fcap < t->len) {
        free(t->flat);
        if (!(t->flat = malloc(t->cap * sizeof *t->flat)))
            return CDT_ENOMEM;
        t->fcap = t->cap;
    }
    for (size_t i = 0; i < t->len; i++) {
        const qnode *q = &t->node[i];
        double c = q->count ? q->count : 1;
        t->flat[i] = (qflat){(float)(q->bx / c), (float)(q->by / c), (float)(4 * q->hw * q->hw),
                             q->count, q->child};
    }
    return 0;
}

/* The repulsion on the point (x, y): f += sum q^2 (p - b) over the cells
 * that summarise the others, returns sum q (its part of Z). */
static double qt_repulse(const qtree *t, float x, float y, float theta2, double f[2], int *stack)
{
    double z = 0, fx = 0, fy = 0;
    int top = 0;
    stack[top++] = 0;
    while (top) {
        const qflat *q = &t->flat[stack[--top]];
        if (!q->count)
            continue;
        float dx = x - q->bx, dy = y - q->by, d2 = dx * dx + dy * dy;
        if (q->child < 0 && fabsf(dx) <= QT_EPS && fabsf(dy) <= QT_EPS)
            continue;  /* itself (and its duplicates), as sklearn */
        if (q->child < 0 || q->w2 < theta2 * d2) {
            float qz = 1 / (1 + d2), m = q->count * qz;
            z += m;
            fx += m * qz * dx;
            fy += m * qz * dy;
        } else {
            for (int c = 3; c >= 0; c--)
                stack[top++] = q->child + c;
        }
    }
    f[0] = fx;
    f[1] = fy;
    return z;
}

/* ---- gradient descent ---- */

typedef struct run {
    uint64_t n;
    csr P;
    float *y;        /* (n,2) */
    double *grad;    /* (n,2) */
    double *rep;     /* (n,2) repulsion per point */
    double *z;       /* (n) each point's part of Z */
    float *upd, *gain;  /* (n,2) */
    uint64_t *order; /* (n) morton code << 32 | row: the rows along a Z curve */
    qtree tree;
} run;

/* Spread the 16 low bits of v to the even bits. */
static uint32_t spread(uint32_t v)
{
    v &= 0xffff;
    v = (v | v << 8) & 0x00ff00ff;
    v = (v | v << 4) & 0x0f0f0f0f;
    v = (v | v << 2) & 0x33333333;
    return (v | v << 1) & 0x55555555;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Put the rows in Z-curve order of their places, so that one row's walk
 * through the tree finds the cells the previous row's walk left in the
 * cache. Only the order of the work changes, never a result. */
static void z_order(run *R)
{
    const qnode *root = &R->tree.node[0];
    double x0 = root->cx - root->hw, y0 = root->cy - root->hw, s = 65535 / (2 * root->hw);
    for (uint64_t i = 0; i < R->n; i++) {
        uint32_t qx = (uint32_t)((R->y[2 * i] - x0) * s), qy = (uint32_t)((R->y[2 * i + 1] - y0) * s);
        R->order[i] = (uint64_t)(spread(qx) | spread(qy) << 1) << 32 | i;
    }
    qsort(R->order, R->n, sizeof *R->order, cmp_u64);
}

/* grad = 4 (exag P q (yi - yj) - q^2 (yi - yj) / Z), sklearn's BH gradient;
 * returns Z. */
static int gradient(run *R, double exag, double theta, int reorder, double *Zout)
{
    int rc = qt_build(&R->tree, R->y, R->n);
    if (rc < 0)
        return rc;
    if (reorder)
        z_order(R);
    int64_t n = (int64_t)R->n;
#pragma omp parallel
    {
        int stack[4 * QT_DEPTH + 8];
#pragma omp for schedule(dynamic, 256)
        for (int64_t t = 0; t < n; t++) {
            int64_t i = (int64_t)(R->order[t] & 0xffffffffu);
            R->z[i] = qt_repulse(&R->tree, R->y[2 * i], R->y[2 * i + 1], (float)(theta * theta),
                                 R->rep + 2 * i, stack);
        }
    }
    double Z = 0;
    for (int64_t i = 0; i < n; i++)
        Z += R->z[i];
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t i = 0; i < n; i++) {
        double ax = 0, ay = 0, yx = R->y[2 * i], yy = R->y[2 * i + 1];
        for (uint64_t t = R->P.ptr[i]; t < R->P.ptr[i + 1]; t++) {
            uint32_t j = R->P.col[t];
            double dx = yx - R->y[2 * j], dy = yy - R->y[2 * j + 1];
            double m = R->P.val[t] / (1 + dx * dx + dy * dy);
            ax += m * dx;
            ay += m * dy;
        }
        R->grad[2 * i] = 4 * (exag * ax - R->rep[2 * i] / Z);
        R->grad[2 * i + 1] = 4 * (exag * ay - R->rep[2 * i + 1] / Z);
    }
    *Zout = Z;
    return 0;
}

/* sklearn's _gradient_descent: momentum, gains (+0.2 when the step turns,
 * x0.8 when it keeps its sign, at least 0.01); update and gains start
 * afresh for each phase. */
static int descend(run *R, int iters, double momentum, double lr, double exag, double theta)
{
    int64_t m = (int64_t)R->n * 2;
    for (int64_t t = 0; t < m; t++) {
        R->upd[t] = 0;
        R->gain[t] = 1;
    }
    for (int it = 0; it < iters; it++) {
        double Z;
        int rc = gradient(R, exag, theta, it % 10 == 0, &Z);
        if (rc < 0)
            return rc;
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < m; t++) {
            double g = R->grad[t], u = R->upd[t];
            float gain = (u * g < 0) ? R->gain[t] + 0.2f : R->gain[t] * 0.8f;
            gain = gain < 0.01f ? 0.01f : gain;
            R->gain[t] = gain;
            R->upd[t] = (float)(momentum * u - lr * (gain * g));
            R->y[t] += R->upd[t];
        }
    }
    return 0;
}

/* KL(P||Q) as sklearn reports it: over P's entries, Q's norm from the tree. */
static int kl_divergence(run *R, double theta, double *kl)
{
    double Z;
    int rc = gradient(R, 1, theta, 1, &Z);
    if (rc < 0)
        return rc;
    int64_t n = (int64_t)R->n;
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (uint64_t t = R->P.ptr[i]; t < R->P.ptr[i + 1]; t++) {
            uint32_t j = R->P.col[t];
            double dx = R->y[2 * i] - R->y[2 * j], dy = R->y[2 * i + 1] - R->y[2 * j + 1];
            double q = 1 / (1 + dx * dx + dy * dy) / Z, p = R->P.val[t];
            s += p * log(fmax(p, FLT_MIN) / fmax(q, FLT_MIN));
        }
        R->z[i] = s;
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += R->z[i];
    *kl = s;
    return 0;
}

/* ---- the whole ---- */

static int check(const float *x, uint64_t n, int d, const cdt_tsne_opts *o)
{
    if (n < 4 || d < 1 || n > UINT32_MAX || o->perplexity <= 0 || o->iters < 0 ||
        o->exag_iters < 0 || o->exag_iters > o->iters || o->theta < 0 || o->learning_rate < 0 ||
        o->pca_dims < 0 || !(o->exaggeration > 0))
        return CDT_EINVAL;
    for (uint64_t i = 0; i < n * (uint64_t)d; i++)
        if (!isfinite(x[i]))
            return CDT_EDATA;
    return 0;
}

/* The start: the first two principal axes of the input, scaled to a
 * standard deviation of 1e-4 on the first (sklearn's init="pca"). */
static int start(const float *x, uint64_t n, int d, float *y)
{
    int rc = pca(x, n, d, 2, y);
    if (rc < 0)
        return rc;
    double mu = 0, var = 0;
    for (uint64_t i = 0; i < n; i++)
        mu += y[2 * i];
    mu /= (double)n;
    for (uint64_t i = 0; i < n; i++)
        var += (y[2 * i] - mu) * (y[2 * i] - mu);
    double sd = sqrt(var / (double)n);
    for (uint64_t i = 0; i < 2 * n; i++)
        y[i] = (float)(sd > 0 ? y[i] / sd * 1e-4 : 0);
    return 0;
}

static int affinities(const float *x, uint64_t n, int d, const cdt_tsne_opts *o, csr *P,
                      cdt_tsne_result *res)
{
    int k = (int)fmin((double)(n - 1), floor(3 * o->perplexity + 1));
    res->neighbours = k;
    res->perplexity = fmin(o->perplexity, (n - 1) / 3.0);
    uint32_t *idx = malloc(n * k * sizeof *idx);
    int64_t *nn = malloc(n * k * sizeof *nn);
    float *d2 = malloc(n * k * sizeof *d2), *pc = malloc(n * k * sizeof *pc);
    cdt_knn_opts ko = {.k = k, .metric = CDT_KNN_SQL2, .by_float = 1};
    int rc = !idx || !nn || !d2 || !pc ? CDT_ENOMEM : cdt_knn(x, n, NULL, 0, d, &ko, nn, d2);
    if (!rc) {
        for (uint64_t t = 0; t < n * k; t++)
            idx[t] = (uint32_t)nn[t];
#pragma omp parallel for schedule(dynamic, 256)
        for (int64_t i = 0; i < (int64_t)n; i++)
            row_p(d2 + i * k, k, res->perplexity, pc + i * k);
        rc = symmetrise(idx, pc, n, k, P);
    }
    free(idx); free(nn); free(d2); free(pc);
    return rc;
}

int cdt_tsne(const float *x, uint64_t n, int d, const cdt_tsne_opts *o, float *xy,
             cdt_tsne_result *res)
{
    int rc = check(x, n, d, o);
    if (rc < 0)
        return rc;
    *res = (cdt_tsne_result){0};
    double t0 = omp_get_wtime();
    run R = {.n = n};
    float *xr = NULL;
    const float *xu = x;
    int du = d;
    if (o->pca_dims && d > o->pca_dims) {
        du = o->pca_dims;
        if (!(xr = malloc(n * du * sizeof *xr)))
            rc = CDT_ENOMEM;
        else if (!(rc = pca(x, n, d, du, xr)))
            xu = xr;
    }
    res->dims = du;
    if (!rc)
        rc = affinities(xu, n, du, o, &R.P, res);
    if (!rc)
        rc = start(xu, n, du, xy);
    free(xr);
    res->seconds_knn = omp_get_wtime() - t0;
    R.y = xy;
    R.grad = malloc(2 * n * sizeof *R.grad);
    R.rep = malloc(2 * n * sizeof *R.rep);
    R.z = malloc(n * sizeof *R.z);
    R.upd = malloc(2 * n * sizeof *R.upd);
    R.gain = malloc(2 * n * sizeof *R.gain);
    R.order = malloc(n * sizeof *R.order);
    if (!rc && (!R.grad || !R.rep || !R.z || !R.upd || !R.gain || !R.order))
        rc = CDT_ENOMEM;
    double lr = o->learning_rate > 0 ? o->learning_rate : fmax(n / o->exaggeration / 4, 50);
    if (!rc)
        rc = descend(&R, o->exag_iters, 0.5, lr, o->exaggeration, o->theta);
    if (!rc)
        rc = descend(&R, o->iters - o->exag_iters, 0.8, lr, 1, o->theta);
    if (!rc)
        rc = kl_divergence(&R, o->theta, &res->kl);
    free(R.P.ptr); free(R.P.col); free(R.P.val);
    free(R.grad); free(R.rep); free(R.z); free(R.upd); free(R.gain); free(R.tree.node);
    free(R.tree.flat); free(R.order);
    return rc;
}
