/* heads.c: see heads.h. */
#include "heads.h"
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand { float v; uint64_t row; } cand;

/* a before b in a top list (sign 1) or a bottom list (sign -1) */
static int before(cand a, cand b, int sign)
{
    float x = sign * a.v, y = sign * b.v;
    return x > y || (x == y && a.row < b.row);
}

/* the k best of column j of f by sign, best first (a simple insertion list:
 * k is small) */
static void best_k(const float *f, uint64_t n, int nf, int j, int k, int sign, cand *buf,
                   uint64_t *out)
{
    int m = 0;
    for (uint64_t i = 0; i < n; i++) {
        cand c = {f[i * nf + j], i};
        if (m == k && !before(c, buf[k - 1], sign))
            continue;
        int at = m < k ? m++ : k - 1;
        while (at > 0 && before(c, buf[at - 1], sign)) {
            buf[at] = buf[at - 1];
            at--;
        }
        buf[at] = c;
    }
    for (int t = 0; t < k; t++)
        out[t] = buf[t].row;
}

void heads_compute(const char *prog, const float *f, uint64_t n, int nf, int k, heads *h)
{
    *h = (heads){.nf = nf, .k = k};
    h->order = malloc((size_t)nf * sizeof *h->order);
    h->var = calloc((size_t)nf, sizeof *h->var);
    h->top = malloc((size_t)nf * k * sizeof *h->top);
    h->low = malloc((size_t)nf * k * sizeof *h->low);
    cand *buf = malloc((size_t)k * sizeof *buf);
    double *mu = calloc((size_t)nf, sizeof *mu);
    if (!h->order || !h->var || !h->top || !h->low || !buf || !mu)
        cli_die(prog, EX_SOFT_, "out of memory for %d heads", nf);
    for (uint64_t i = 0; i < n; i++)
        for (int j = 0; j < nf; j++)
            mu[j] += f[i * nf + j];
    for (int j = 0; j < nf; j++)
        mu[j] /= (double)n;
    for (uint64_t i = 0; i < n; i++)
        for (int j = 0; j < nf; j++)
            h->var[j] += (f[i * nf + j] - mu[j]) * (f[i * nf + j] - mu[j]);
    for (int j = 0; j < nf; j++) {
        h->var[j] /= (double)n;
        h->order[j] = j;
        best_k(f, n, nf, j, k, 1, buf, h->top + (size_t)j * k);
        best_k(f, n, nf, j, k, -1, buf, h->low + (size_t)j * k);
    }
    for (int i = 1; i < nf; i++)  /* by variance, largest first; ties by head */
        for (int j = i; j > 0 && h->var[h->order[j]] > h->var[h->order[j - 1]]; j--) {
            int t = h->order[j]; h->order[j] = h->order[j - 1]; h->order[j - 1] = t;
        }
    free(buf);
    free(mu);
}

void heads_draw(const char *prog, cdt_canvas *cv, const heads *h, thumbs *th, int nshow, int box,
                int lowest)
{
    int label = 130, gap = 24, cell = box + 2, rowh = cell + 4;
    nshow = nshow < 1 || nshow > h->nf ? h->nf : nshow;
    int w = label + h->k * cell + (lowest ? gap + h->k * cell : 0) + 10;
    int rc = cdt_canvas_create(cv, w, 30 + nshow * rowh + 6, CDT_WHITE);
    if (rc < 0)
        cli_fail(prog, rc, "cannot make the head sheet (too many heads?)");
    cdt_plot_text(cv, 6, 8, "head (sd)", 1, CDT_BLACK);
    cdt_plot_text(cv, label, 8, "highest activation", 1, CDT_BLACK);
    if (lowest)
        cdt_plot_text(cv, label + h->k * cell + gap, 8, "lowest activation", 1, CDT_BLACK);
    char buf[64];
    for (int r = 0; r < nshow; r++) {
        int j = h->order[r], y = 30 + r * rowh;
        snprintf(buf, sizeof buf, "%3d (%.3g)", j, sqrt(h->var[j]));
        cdt_plot_text(cv, 6, y + (cell - 7) / 2, buf, 1, CDT_BLACK);
        for (int side = 0; side <= lowest; side++)
            for (int t = 0; t < h->k; t++) {
                uint64_t row = (side ? h->low : h->top)[(size_t)j * h->k + t];
                int x = label + side * (h->k * cell + gap) + t * cell, c, ih, iw;
                const uint8_t *img = thumbs_get(prog, th, row, &c, &ih, &iw);
                if (img && cdt_plot_image(cv, x + 1, y + 1, box, img, c, ih, iw) < 0)
                    cli_die(prog, EX_SOFT_, "out of memory for a thumbnail");
            }
        cdt_plot_rect(cv, 6, y + cell + 1, w - 12, 1, 0xdddddd);
    }
}

void heads_free(heads *h)
{
    free(h->order);
    free(h->var);
    free(h->top);
    free(h->low);
    *h = (heads){0};
}
