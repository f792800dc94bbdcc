/* metrics.c: the confusion table of a clustering against class labels and
 * the scores read off it (NMI, ARI, ACC), written to match scikit-learn's
 * normalized_mutual_info_score, adjusted_rand_score and the usual
 * Hungarian-matched clustering accuracy. */
#include "cdt_eval.h"
#include "cdt_core.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DISTINCT 65536

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The sorted distinct values of v (n): sorted in place, unique prefix kept. */
static uint64_t sort_unique(int32_t *v /* (n) */, uint64_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_i32);
    uint64_t u = 1;
    for (uint64_t i = 1; i < n; i++)
        if (v[i] != v[u - 1])
            v[u++] = v[i];
    return u;
}

static int find_i32(const int32_t *v /* (n) sorted */, int n, int32_t x)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Distinct values of the kept rows of src into a fresh array *ids. */
static int distinct(const int32_t *src /* (n) */, const int32_t *y /* (n) */, uint64_t n,
                    uint64_t kept, int32_t **ids, int *count)
{
    int32_t *v = malloc((kept ? kept : 1) * sizeof *v);
    if (!v)
        return CDT_ENOMEM;
    uint64_t j = 0;
    for (uint64_t i = 0; i < n; i++)
        if (y[i] != -1)
            v[j++] = src[i];
    uint64_t u = sort_unique(v, kept);
    if (u > MAX_DISTINCT) {
        free(v);
        return CDT_ELIMIT;
    }
    *ids = v;
    *count = (int)u;
    return 0;
}

int cdt_confusion_create(const int32_t *c, const int32_t *y, uint64_t n,
                         cdt_confusion **out)
{
    CDT_ASSERT(out && (n == 0 || (c && y)));
    *out = NULL;
    uint64_t kept = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (y[i] < -1)
            return CDT_EDATA;
        kept += y[i] != -1;
    }
    cdt_confusion *cm = calloc(1, sizeof *cm);
    if (!cm)
        return CDT_ENOMEM;
    int rc = distinct(c, y, n, kept, &cm->cluster_ids, &cm->k);
    if (!rc)
        rc = distinct(y, y, n, kept, &cm->class_ids, &cm->m);
    if (!rc) {
        cm->count = calloc((size_t)cm->k * cm->m + 1, sizeof *cm->count);
        rc = cm->count ? 0 : CDT_ENOMEM;
    }
    if (rc) {
        cdt_confusion_destroy(cm);
        return rc;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (y[i] == -1)
            continue;
        int a = find_i32(cm->cluster_ids, cm->k, c[i]);
        int b = find_i32(cm->class_ids, cm->m, y[i]);
        cm->count[(size_t)a * cm->m + b]++;
    }
    cm->n = kept;
    cm->ignored = n - kept;
    *out = cm;
    return 0;
}

void cdt_confusion_destroy(cdt_confusion *cm)
{
    if (!cm)
        return;
    free(cm->cluster_ids);
    free(cm->class_ids);
    free(cm->count);
    free(cm);
}

/* Row sums a (k) and column sums b (m) of the table. */
static void marginals(const cdt_confusion *cm, uint64_t *a /* (k) */, uint64_t *b /* (m) */)
{
    memset(a, 0, (size_t)cm->k * sizeof *a);
    memset(b, 0, (size_t)cm->m * sizeof *b);
    for (int i = 0; i < cm->k; i++)
        for (int j = 0; j < cm->m; j++) {
            a[i] += cm->count[(size_t)i * cm->m + j];
            b[j] += cm->count[(size_t)i * cm->m + j];
        }
}

static double entropy(const uint64_t *a /* (k) */, int k, uint64_t n)
{
    double h = 0, logn = log((double)n);
    for (int i = 0; i < k; i++)
        if (a[i])
            h -= (double)a[i] / (double)n * (log((double)a[i]) - logn);
    return h;
}

static double nmi(const cdt_confusion *cm, const uint64_t *a, const uint64_t *b)
{
    /* sklearn: no split on either side (or no data) is a perfect match. */
    if (cm->k == cm->m && cm->k <= 1)
        return 1.0;
    double n = (double)cm->n, logn = log(n), mi = 0;
    for (int i = 0; i < cm->k; i++)
        for (int j = 0; j < cm->m; j++) {
            double nij = (double)cm->count[(size_t)i * cm->m + j];
            if (nij > 0)
                mi += nij / n * (log(nij) + logn - log((double)a[i]) - log((double)b[j]));
        }
    if (mi <= 0)
        return 0.0;
    double norm = (entropy(a, cm->k, cm->n) + entropy(b, cm->m, cm->n)) / 2;
    return mi / fmax(norm, DBL_EPSILON);
}

/* Pair counts in exact integer arithmetic (n^2 can pass 2^64 for n > 4e9,
 * and the products in the formula pass it much earlier). */
static double ari(const cdt_confusion *cm, const uint64_t *a, const uint64_t *b)
{
    typedef __int128 i128;
    i128 n = cm->n, sq = 0, sa = 0, sb = 0;
    for (size_t i = 0; i < (size_t)cm->k * cm->m; i++)
        sq += (i128)cm->count[i] * cm->count[i];
    for (int i = 0; i < cm->k; i++)
        sa += (i128)a[i] * a[i];
    for (int j = 0; j < cm->m; j++)
        sb += (i128)b[j] * b[j];
    /* sklearn's pair_confusion_matrix, ordered pairs. */
    i128 tp = sq - n, fp = sa - sq, fn = sb - sq;
    i128 tn = n * n - fp - fn - sq;
    if (fn == 0 && fp == 0)
        return 1.0;
    i128 num = tp * tn - fn * fp;
    i128 den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
    return 2.0 * ((long double)num / (long double)den);
}

static int acc(const cdt_confusion *cm, cdt_scores *s)
{
    int k = cm->k, m = cm->m;
    s->matched = 0;
    if (!k || !m) {
        s->acc = 1.0;
        return 0;
    }
    double *cost = malloc((size_t)k * m * sizeof *cost);
    int *match = s->match ? s->match : malloc((size_t)k * sizeof *match);
    int rc = CDT_ENOMEM;
    if (cost && match) {
        for (size_t i = 0; i < (size_t)k * m; i++)
            cost[i] = -(double)cm->count[i];
        rc = cdt_hungarian(cost, k, m, match);
    }
    if (!rc) {
        for (int i = 0; i < k; i++)
            if (match[i] >= 0)
                s->matched += cm->count[(size_t)i * m + match[i]];
        s->acc = (double)s->matched / (double)cm->n;
    }
    free(cost);
    if (match != s->match)
        free(match);
    return rc;
}

int cdt_scores_compute(const cdt_confusion *cm, cdt_scores *s)
{
    CDT_ASSERT(cm && s);
    uint64_t *a = malloc(((size_t)cm->k + 1) * sizeof *a);
    uint64_t *b = malloc(((size_t)cm->m + 1) * sizeof *b);
    int rc = CDT_ENOMEM;
    if (a && b) {
        marginals(cm, a, b);
        s->nmi = nmi(cm, a, b);
        s->ari = ari(cm, a, b);
        rc = acc(cm, s);
    }
    free(a);
    free(b);
    return rc;
}
