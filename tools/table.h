/* table.h: a stream's per-row tensors as a table, for cdt-cat: CSV lines,
 * and a folder per cluster with links to the files and a contact sheet. */
#ifndef CDT_TABLE_H
#define CDT_TABLE_H

#include "cli.h"

#include <stdio.h>

/* One CSV line per row on out: a column per rank-1 tensor and per text
 * column (u8 [N,L], NUL-padded UTF-8), text columns first, header first;
 * columns ("a,b,...", or NULL for all) chooses and orders them. At most
 * head frames (0: all). Dies (65) on a stream that does not fit. */
void table_csv(const char *prog, cdt_reader *r, const char *columns, uint64_t head, FILE *out);

typedef struct table_links {
    const char *dir;    /* made; must not exist, or be empty */
    int copy;           /* copy the files instead of linking */
    uint64_t sheet_n;   /* images on each cluster's sheet; 0: no sheets */
    int thumb;          /* sheet cell size in pixels */
} table_links;

/* DIR/cluster-NN/RANK_NAME for every row of a clustered stream (c, path,
 * and rank or dist to order by), and DIR/cluster-NN-nSIZE.png sheets of
 * each cluster's most central images. Dies with a message on failure. */
void table_link_into(const char *prog, cdt_reader *r, const table_links *o);

#endif
