/* hungarian.c: minimum-cost assignment by shortest augmenting paths with
 * potentials (Kuhn-Munkres in the Jonker-Volgenant form), O(n^2 m). */
#include "cdt_eval.h"
#include "cdt_core.h"

#include <float.h>
#include <stdlib.h>

/* Rows <= cols. cost is read through (i,j) -> cost[i*ri + j*rj] so that the
 * transposed problem needs no copy. Arrays are 1-based as in the textbook
 * form: index 0 is the virtual row that starts every augmenting path. */
typedef struct hung_work {
    double *u, *v, *minv;   /* (n+1), (m+1), (m+1) */
    int *p, *way;           /* (m+1) row holding column j; path back-pointers */
    char *used;             /* (m+1) */
} hung_work;

static void augment_row(const double *cost, long ri, long rj, int m, int i,
                        hung_work *w)
{
    int j0 = 0;
    w->p[0] = i;
    for (int j = 0; j <= m; j++) {
        w->minv[j] = DBL_MAX;
        w->used[j] = 0;
    }
    do {
        w->used[j0] = 1;
        int i0 = w->p[j0], j1 = 0;
        double delta = DBL_MAX;
        for (int j = 1; j <= m; j++) {
            if (w->used[j])
                continue;
            double cur = cost[(i0 - 1) * ri + (j - 1) * rj] - w->u[i0] - w->v[j];
            if (cur < w->minv[j]) {
                w->minv[j] = cur;
                w->way[j] = j0;
            }
            if (w->minv[j] < delta) {
                delta = w->minv[j];
                j1 = j;
            }
        }
        for (int j = 0; j <= m; j++) {
            if (w->used[j]) {
                w->u[w->p[j]] += delta;
                w->v[j] -= delta;
            } else {
                w->minv[j] -= delta;
            }
        }
        j0 = j1;
    } while (w->p[j0] != 0);
    do {
        int j1 = w->way[j0];
        w->p[j0] = w->p[j1];
        j0 = j1;
    } while (j0);
}

int cdt_hungarian(const double *cost, int rows, int cols, int *row_to_col)
{
    CDT_ASSERT(rows >= 0 && cols >= 0 && (cost || rows * cols == 0) && (row_to_col || !rows));
    for (int i = 0; i < rows; i++)
        row_to_col[i] = -1;
    if (!rows || !cols)
        return 0;
    int transposed = rows > cols;
    int n = transposed ? cols : rows, m = transposed ? rows : cols;
    long ri = transposed ? 1 : cols, rj = transposed ? cols : 1;
    hung_work w;
    w.u = calloc((size_t)n + 1, sizeof *w.u);
    w.v = calloc((size_t)m + 1, sizeof *w.v);
    w.minv = calloc((size_t)m + 1, sizeof *w.minv);
    w.p = calloc((size_t)m + 1, sizeof *w.p);
    w.way = calloc((size_t)m + 1, sizeof *w.way);
    w.used = calloc((size_t)m + 1, 1);
    int rc = CDT_ENOMEM;
    if (w.u && w.v && w.minv && w.p && w.way && w.used) {
        for (int i = 1; i <= n; i++)
            augment_row(cost, ri, rj, m, i, &w);
        for (int j = 1; j <= m; j++) {
            if (!w.p[j])
                continue;
            if (transposed)
                row_to_col[j - 1] = w.p[j] - 1;
            else
                row_to_col[w.p[j] - 1] = j - 1;
        }
        rc = 0;
    }
    free(w.u); free(w.v); free(w.minv); free(w.p); free(w.way); free(w.used);
    return rc;
}
