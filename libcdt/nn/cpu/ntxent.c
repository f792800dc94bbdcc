/* ntxent.c: the NT-Xent contrastive loss over two views of M rows.
 *
 * Stack the views into 2M rows, L2-normalise each (u = z / max(|z|, 1e-12),
 * as F.normalize), S = U U^T / temp. Row i's logits are S[i][j] for j != i,
 * its target the same row in the other view, pos(i) = (i + M) mod 2M; the
 * loss is the mean over the 2M rows of logsumexp_j S[i][j] - S[i][pos(i)].
 * With P the row softmax (zero on the diagonal) and
 * G = (P - onehot(pos)) / 2M, dU = (G + G^T) U / temp, and the normalisation
 * passes dz = (du - u (u . du)) / |z| (or du / 1e-12 where |z| was clamped).
 *
 * Scratch layout: U (2M,D), norms (2M), P (2M,2M). */
#include "cdt_nn.h"
#include "real.h"

#define NTX_NORM_EPS 1e-12

#ifndef CDT_NN_F64
size_t cdt_ntxent_scratch(const cdt_ntxent_params *p)
{
    size_t rows = 2 * (size_t)p->m;
    return rows * p->d + rows + rows * rows;
}
#endif

static void ntx_normalize(real *u,        // (M,D) out
                          real *norm,     // (M) out
                          const real *z,  // (M,D)
                          int m, int d)
{
    for (int i = 0; i < m; i++) {
        double s = 0;
        for (int k = 0; k < d; k++) s += (double)z[(size_t)i * d + k] * z[(size_t)i * d + k];
        norm[i] = (real)sqrt(s);
        double den = fmax(sqrt(s), NTX_NORM_EPS);
        for (int k = 0; k < d; k++) u[(size_t)i * d + k] = (real)(z[(size_t)i * d + k] / den);
    }
}

/* Turns row i of S into softmax probabilities over j != i, in place;
 * returns that row's cross-entropy against its positive. */
static double ntx_row_softmax(real *s, int i, int rows, int pos)
{
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < rows; j++)
        if (j != i && s[j] > mx) mx = s[j];
    for (int j = 0; j < rows; j++)
        if (j != i) sum += exp((double)s[j] - mx);
    double lse = mx + log(sum), ce = lse - s[pos];
    for (int j = 0; j < rows; j++) s[j] = j == i ? 0 : (real)exp((double)s[j] - lse);
    return ce;
}

real NN(cdt_ntxent_forward)(const real *z1,  // (M,D)
                            const real *z2,  // (M,D)
                            real *scratch,   // cdt_ntxent_scratch(p)
                            const cdt_ntxent_params *p)
{
    int m = p->m, d = p->d, rows = 2 * m;
    real *u = scratch, *norm = u + (size_t)rows * d, *prob = norm + rows;
    ntx_normalize(u, norm, z1, m, d);
    ntx_normalize(u + (size_t)m * d, norm + m, z2, m, d);
    // S (2M,2M) = U U^T / temp
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, rows, rows, d,
         (real)(1 / p->temp), u, d, u, d, 0, prob, rows);
    double loss = 0;
    for (int i = 0; i < rows; i++)
        loss += ntx_row_softmax(prob + (size_t)i * rows, i, rows, (i + m) % rows);
    return (real)(loss / rows);
}

/* du (M,D), in place, becomes dz for rows whose forward norms were norm. */
static void ntx_normalize_backward(real *du, const real *u, const real *norm, int m, int d)
{
    for (int i = 0; i < m; i++) {
        real *g = du + (size_t)i * d;
        const real *ui = u + (size_t)i * d;
        if (norm[i] <= NTX_NORM_EPS) {
            for (int k = 0; k < d; k++) g[k] = (real)(g[k] / NTX_NORM_EPS);
            continue;
        }
        double dot = 0;
        for (int k = 0; k < d; k++) dot += (double)ui[k] * g[k];
        for (int k = 0; k < d; k++) g[k] = (real)((g[k] - ui[k] * dot) / norm[i]);
    }
}

void NN(cdt_ntxent_backward)(real *dz1,        // (M,D)
                             real *dz2,        // (M,D)
                             real dloss,
                             const real *z1,   // (M,D) unused: U and norms are kept
                             const real *z2,   // (M,D)
                             real *scratch,    // from forward; P is overwritten
                             const cdt_ntxent_params *p)
{
    (void)z1; (void)z2;
    int m = p->m, d = p->d, rows = 2 * m;
    real *u = scratch, *norm = u + (size_t)rows * d, *g = norm + rows;
    double k = (double)dloss / rows;
    for (int i = 0; i < rows; i++) {
        g[(size_t)i * rows + (i + m) % rows] -= 1;
        for (int j = 0; j < rows; j++) g[(size_t)i * rows + j] = (real)(g[(size_t)i * rows + j] * k);
    }
    for (int i = 0; i < rows; i++) // G + G^T: S is symmetric in U
        for (int j = i; j < rows; j++) {
            real s = g[(size_t)i * rows + j] + g[(size_t)j * rows + i];
            g[(size_t)i * rows + j] = g[(size_t)j * rows + i] = s;
        }
    real inv_t = (real)(1 / p->temp);
    // dU rows of view 1 / view 2 = (G + G^T)[those rows] U / temp
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, rows,
         inv_t, g, rows, u, d, 0, dz1, d);
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d, rows,
         inv_t, g + (size_t)m * rows, rows, u, d, 0, dz2, d);
    ntx_normalize_backward(dz1, u, norm, m, d);
    ntx_normalize_backward(dz2, u + (size_t)m * d, norm + m, m, d);
}
