/* ds.h: what the dataset readers share; private to libcdt/datasets. */
#ifndef CDT_DS_H
#define CDT_DS_H

#include "cdt_core.h"
#include "cdt_dataset.h"
#include "cdt_image.h"

#include <stdio.h>
#include <zlib.h>

struct cdt_dataset {
    cdt_dataset_opts o;
    const char *name;        /* canonical, static */
    char *path;              /* resolved, owned */
    uint64_t n;              /* samples after limit */
    int c, h, w;             /* as stored (folders: as decoded) */
    int oc, oh, ow;          /* as delivered */
    int classes;
    int fit;                 /* CDT_FIT_*, resolved at open */
    char *class_names;       /* comma list, owned */
    /* in-memory formats */
    uint8_t *pix;            /* (n,c,h,w) */
    int32_t *lab;            /* (n) */
    /* folders */
    char **files;            /* [n] paths, owned */
    int32_t *flab;           /* (n) */
    void *priv;              /* the folder reader's worker state */
    /* per-read scratch; grows, never shrinks */
    struct ds_bufs {
        uint8_t *conv;       /* (oc,h,w) channel-converted, before resizing */
        size_t conv_cap;
        float *scratch;      /* cdt_fit_u8 scratch */
        size_t scratch_cap;
    } buf;
    /* rows that arrive in the background (IDX): wait until [0, rows) are
     * in place */
    void *async;
    int (*wait)(cdt_dataset *d, uint64_t rows);
    /* a format that decodes on demand (folders) reads sample idx into
     * x (oc,oh,ow) and its label into *y: 0, 1 when skipped (skip_bad), or
     * < 0; NULL for the in-memory formats (pix, lab) */
    int (*read)(cdt_dataset *d, uint64_t idx, uint8_t *x, int32_t *y);
    /* or a whole batch at once, as cdt_dataset_read (folders, in threads);
     * idx already checked to be in range */
    int (*read_batch)(cdt_dataset *d, const uint64_t *idx, size_t n, uint8_t *x,
                      int32_t *y, int64_t *id, size_t *got);
    /* frees what the format's open function allocated beyond pix/lab
     * (called once by cdt_dataset_destroy, also after a failed open) */
    void (*finish)(cdt_dataset *d);
    uint64_t skipped;
    char skipmsg[512];
    char err[512];
    char hint[512];
};

int ds_fail(cdt_dataset *d, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* CDT_ENOENT "dataset files not found (what)" plus a hint. */
int ds_missing(cdt_dataset *d, const char *what, const char *hint_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Allocate pix (n,c,h,w) and lab (n) and set the stored shape. */
int ds_alloc(cdt_dataset *d, uint64_t n, int c, int h, int w);
/* Class names: a fixed list, or the non-empty lines of a text file. */
int ds_set_names(cdt_dataset *d, const char *const *names, int k);
int ds_names_from_text(cdt_dataset *d, const uint8_t *text, size_t len, int k);
/* How many samples of a split of `avail` to take, given what the limit
 * left; *left is reduced accordingly. */
uint64_t ds_take(uint64_t avail, uint64_t *left);

/* A blob of file contents: p/n to read, own to free (NULL if borrowed). */
typedef struct ds_blob { const uint8_t *p; size_t n; uint8_t *own; } ds_blob;
void ds_blob_free(ds_blob *b);

/* Incremental gunzip of a .gz held in memory (multi-member allowed); errors
 * go to err, so a worker thread can use it without touching the dataset. */
typedef struct ds_gz {
    z_stream zs;
    const uint8_t *in;
    size_t n, pos;
    int inited, ended;
    const char *path;
    char err[512];
} ds_gz;
int ds_gz_open(ds_gz *g, const uint8_t *in, size_t n, const char *path);
/* Up to len bytes into out; *got < len only at the end of the data. */
int ds_gz_read(ds_gz *g, uint8_t *out, size_t len, size_t *got);
void ds_gz_close(ds_gz *g);

/* Whole files: plain, or gunzipped (a .gz file, multi-member allowed). */
int ds_read_file(cdt_dataset *d, const char *path, ds_blob *b);
int ds_gunzip_file(cdt_dataset *d, const char *path, ds_blob *b);

/* Where a binary dataset's files come from: a folder, or a .tar.gz read
 * into memory whose members are found by their base names. */
typedef struct ds_src {
    char dir[4096];          /* the folder, or the archive's path */
    ds_blob tar;             /* the inflated archive; tar.p NULL for folders */
} ds_src;
/* path: a folder holding the files, a folder holding `subdir` or `tarname`,
 * or the archive itself. */
int ds_src_open(cdt_dataset *d, ds_src *s, const char *path, const char *subdir,
                const char *tarname);
/* A member by base name: CDT_ENOENT without a message when absent (the
 * caller knows the hint), a borrowed blob for archives. */
int ds_src_get(cdt_dataset *d, ds_src *s, const char *name, ds_blob *b);
/* A member's size without reading it: CDT_ENOENT without a message. */
int ds_src_size(cdt_dataset *d, ds_src *s, const char *name, uint64_t *size);
/* len bytes of a member from byte off into dst (the file is not held). */
int ds_src_read_part(cdt_dataset *d, ds_src *s, const char *name, uint64_t off,
                     size_t len, uint8_t *dst);
/* "dir/name" or "archive:name", for messages. */
void ds_src_where(const ds_src *s, const char *name, char *buf, size_t len);
void ds_src_close(ds_src *s);

/* One image src (sc,sh,sw) into x (oc,oh,ow): channels, then fitting.
 * ds_fit uses the buffers b and touches nothing else of d (a worker thread
 * may call it): 0 or CDT_ENOMEM. */
int ds_fit(const cdt_dataset *d, struct ds_bufs *b, const uint8_t *src, int sc, int sh,
           int sw, uint8_t *x);
void ds_bufs_free(struct ds_bufs *b);
int ds_deliver(cdt_dataset *d, const uint8_t *src, int sc, int sh, int sw, uint8_t *x);

int ds_open_idx(cdt_dataset *d);
int ds_open_cifar(cdt_dataset *d);
int ds_open_stl10(cdt_dataset *d);
int ds_open_folder(cdt_dataset *d);

#endif
