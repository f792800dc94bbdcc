/* heads.h: the feature-head sheet, shared by cdt-heads and cdt-report: for
 * every feature head (a column of f), the rows with the highest (and the
 * lowest) activation, heads ordered by their variance over the rows. */
#ifndef CDT_HEADS_H
#define CDT_HEADS_H

#include "thumbs.h"

typedef struct heads {
    int nf, k;
    int *order;      /* (nf) heads by variance, largest first */
    double *var;     /* (nf) variance of each head */
    uint64_t *top;   /* (nf,k) rows with the highest activation, highest first */
    uint64_t *low;   /* (nf,k) rows with the lowest, lowest first */
} heads;

/* f (n,nf); k <= n. Ties go to the lower row. Dies when out of memory. */
void heads_compute(const char *prog, const float *f, uint64_t n, int nf, int k, heads *h);
/* The sheet of the first nshow heads in order: a row per head, its number
 * and standard deviation, its k top images, and with lowest its k lowest
 * after a gap; each image fitted into box pixels. On a canvas it creates. */
void heads_draw(const char *prog, cdt_canvas *cv, const heads *h, thumbs *th, int nshow, int box,
                int lowest);
void heads_free(heads *h);

#endif
