/* rowset.h: a whole stream in memory, one column per per-row tensor, for the
 * tools that need every row at once (cdt-map, cdt-heads, cdt-report). */
#ifndef CDT_ROWSET_H
#define CDT_ROWSET_H

#include <stdint.h>
#include "cdt.h"

typedef struct rowset_col {
    char name[CDT_MAX_NAME + 1];
    int dtype, rank;
    uint64_t dim[CDT_MAX_RANK]; /* dim[0] is the table's rows */
    size_t row_bytes;
    uint8_t *data;              /* (rows, dim[1..]) */
} rowset_col;

typedef struct rowset {
    cdt_meta *meta;
    uint64_t n, cap;
    int ncol;
    rowset_col *col;
} rowset;

/* Read every frame with rows of the stream at path (NULL or "-": stdin).
 * Every frame must hold the same tensors with the same dtype and row
 * shape as the first; anything else dies with exit 65 naming the frame. */
void rowset_read(const char *prog, const char *path, rowset *t);
const rowset_col *rowset_find(const rowset *t, const char *name);
/* The column called name if it is dtype of rank 1 ([N]); NULL when it is
 * absent; dies (65) when it is there with another type. */
const void *rowset_vec(const char *prog, const rowset *t, const char *name, int dtype);
void rowset_free(rowset *t);
/* Writes t's rows to path (NULL or "-": stdout; --raw when raw) with meta
 * m (the caller's): first the nadd tensors of add, each [t->n, ...] over
 * every row (sliced into frames here), then every column of t that add
 * does not name nor drop (NULL-terminated, may be NULL) lists: a tool's
 * outputs replace those of an earlier run of it. Dies on failure. */
void rowset_write(const char *prog, const rowset *t, const char *path, int raw,
                  const cdt_meta *m, const cdt_tensor *add, int nadd, const char *const *drop);

#endif
