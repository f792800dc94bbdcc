/* thumbs.h: the picture of a row, for the tools that draw them (cdt-map
 * --thumbs, cdt-heads, cdt-report): the row's x (u8 [N,C,H,W], or its first
 * view of [N,V,C,H,W]), else the file its path (u8 [N,L], NUL-padded)
 * names, decoded. */
#ifndef CDT_THUMBS_H
#define CDT_THUMBS_H

#include "rowset.h"

typedef struct thumbs {
    const rowset_col *x, *path;
    cdt_image *im;
    char *name;
} thumbs;

/* 1 when the table has pictures (x or path), 0 when not; dies (65) when x
 * or path has the wrong type. */
int thumbs_init(const char *prog, thumbs *t, const rowset *tb);
/* The row's picture (C,H,W), valid until the next call; NULL (with a
 * warning) when its file cannot be read. */
const uint8_t *thumbs_get(const char *prog, thumbs *t, uint64_t row, int *c, int *h, int *w);
/* The row's path as text ("" when there is none); valid until the next call. */
const char *thumbs_path(thumbs *t, uint64_t row);
void thumbs_free(thumbs *t);

#endif
