/* silhouette.c: the mean silhouette coefficient, used by cdt-cluster to pick
 * k when none is given. The distance matrix is made once per sample and
 * shared by every k tried. */
#include "cdt_eval.h"
#include "cdt_core.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>

int cdt_pairwise_dist(const float *x, int s, int d, float *dist)
{
    CDT_ASSERT(x && dist && s > 0 && d > 0);
    float *nrm = malloc((size_t)s * sizeof *nrm);
    if (!nrm)
        return CDT_ENOMEM;
    for (int i = 0; i < s; i++) {
        double t = 0;
        for (int j = 0; j < d; j++)
            t += (double)x[(size_t)i * d + j] * x[(size_t)i * d + j];
        nrm[i] = (float)t;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s, s, d, 1.0f, x, d, x, d,
                0.0f, dist, s);
    /* Symmetrise from the upper triangle: the gemm need not give g(i,j) ==
     * g(j,i) bit for bit, and a distance matrix should be symmetric. */
#pragma omp parallel for schedule(dynamic, 64)
    for (int i = 0; i < s; i++) {
        dist[(size_t)i * s + i] = 0;
        for (int j = i + 1; j < s; j++) {
            float v = nrm[i] + nrm[j] - 2 * dist[(size_t)i * s + j];
            v = v > 0 ? sqrtf(v) : 0;
            dist[(size_t)i * s + j] = v;
        }
    }
    for (int i = 0; i < s; i++)
        for (int j = 0; j < i; j++)
            dist[(size_t)i * s + j] = dist[(size_t)j * s + i];
    free(nrm);
    return 0;
}

/* Silhouette of row i: (b - a) / max(a, b), a the mean distance to its own
 * cluster (itself left out), b the lowest mean distance to another. */
static double row_silhouette(const float *row, const int32_t *labels, const int *size,
                             int s, int k, int i, double *sum /* (k) */)
{
    int own = labels[i];
    if (size[own] <= 1)
        return 0;
    for (int c = 0; c < k; c++)
        sum[c] = 0;
    for (int j = 0; j < s; j++)
        sum[labels[j]] += row[j];
    double a = sum[own] / (size[own] - 1), b = INFINITY;
    for (int c = 0; c < k; c++)
        if (c != own && size[c] && sum[c] / size[c] < b)
            b = sum[c] / size[c];
    double m = a > b ? a : b;
    return m > 0 && isfinite(b) ? (b - a) / m : 0;
}

int cdt_silhouette(const float *dist, const int32_t *labels, int s, int k, double *out)
{
    CDT_ASSERT(dist && labels && out && s > 0 && k > 0);
    int *size = calloc((size_t)k, sizeof *size);
    double *si = malloc((size_t)s * sizeof *si);
    int rc = size && si ? 0 : CDT_ENOMEM;
    for (int i = 0; !rc && i < s; i++) {
        CDT_ASSERT(labels[i] >= 0 && labels[i] < k);
        size[labels[i]]++;
    }
#pragma omp parallel if (!rc)
    {
        double *sum = malloc((size_t)k * sizeof *sum);
        if (!sum) {
#pragma omp atomic write
            rc = CDT_ENOMEM;
        }
#pragma omp for schedule(static)
        for (int i = 0; i < s; i++)
            if (sum)
                si[i] = row_silhouette(dist + (size_t)i * s, labels, size, s, k, i, sum);
        free(sum);
    }
    if (!rc) {
        double tot = 0; /* in row order, so threads do not change the result */
        for (int i = 0; i < s; i++)
            tot += si[i];
        *out = tot / s;
    }
    free(size);
    free(si);
    return rc;
}
