/* folder.c: JPEG and PNG files in a folder tree, or listed in a file.
 * The walk goes to any depth, skips hidden names, follows symlinks but
 * enters each folder once (so a loop ends), and sorts the files by path,
 * so the same tree always gives the same stream. Labels come from the
 * first level of sub-folders, like torchvision's ImageFolder, when every
 * image sits under one (or when asked); otherwise y = -1. Only the file
 * list is kept; images are decoded when read, a batch at a time in
 * OpenMP worker threads, each with its own decoder and scratch. */
#include "ds.h"
#include "cdt_resize.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_DEPTH 256
#define MSG_LEN 640

typedef struct strvec { char **v; size_t n, cap; } strvec;

static int push(strvec *s, const char *a, const char *b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **v = realloc(s->v, cap * sizeof(char *));
        if (!v)
            return CDT_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *p = malloc(la + lb + 2);
    if (!p)
        return CDT_ENOMEM;
    memcpy(p, a, la + 1);
    if (b) {
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    }
    s->v[s->n++] = p;
    return 0;
}

static void strvec_free(strvec *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_image_name(const char *n)
{
    const char *e = strrchr(n, '.');
    return e && (!strcasecmp(e, ".jpg") || !strcasecmp(e, ".jpeg") || !strcasecmp(e, ".png"));
}

/* ---- the walk ---- */

typedef struct walker {
    strvec files;
    struct { dev_t dev; ino_t ino; } *seen; /* folders entered */
    size_t nseen, cap;
} walker;

/* 1 if the folder was entered before (a symlink loop, or a second link to
 * it), else remember it and 0. */
static int seen_before(walker *w, const struct stat *st)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
            return 1;
    if (w->nseen == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        void *p = realloc(w->seen, cap * sizeof *w->seen);
        if (!p)
            return CDT_ENOMEM;
        w->seen = p;
        w->cap = cap;
    }
    w->seen[w->nseen].dev = st->st_dev;
    w->seen[w->nseen++].ino = st->st_ino;
    return 0;
}

/* Entries are visited in name order, so that of two links to one folder
 * the first in path order is the one entered, whatever readdir's order. */
static int walk(cdt_dataset *d, walker *w, const char *dir, int depth)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return ds_fail(d, CDT_EIO, "cannot read folder %s: %s", dir, strerror(errno));
    strvec names = {0};
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(dp)))
        if (e->d_name[0] != '.' && push(&names, dir, e->d_name) < 0)
            rc = ds_fail(d, CDT_ENOMEM, "out of memory");
    closedir(dp);
    if (rc == 0 && names.n)
        qsort(names.v, names.n, sizeof(char *), by_name);
    struct stat st;
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        const char *path = names.v[i];
        if (stat(path, &st) < 0)
            continue; /* a dangling link */
        if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
            int again = seen_before(w, &st);
            rc = again < 0 ? ds_fail(d, CDT_ENOMEM, "out of memory")
               : again ? 0 : walk(d, w, path, depth + 1);
        } else if (S_ISREG(st.st_mode) && is_image_name(path)) {
            if (push(&w->files, path, NULL) < 0)
                rc = ds_fail(d, CDT_ENOMEM, "out of memory");
        }
    }
    strvec_free(&names);
    return rc;
}

/* The non-empty lines of a list file ("-": stdin), as given. */
static int read_list(cdt_dataset *d, const char *list, strvec *out)
{
    FILE *f = strcmp(list, "-") ? fopen(list, "r") : stdin;
    if (!f)
        return ds_fail(d, errno == ENOENT ? CDT_ENOENT : CDT_EIO, "cannot open the file list %s: %s",
                       list, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n && push(out, line, NULL) < 0)
            rc = ds_fail(d, CDT_ENOMEM, "out of memory");
    }
    if (rc == 0 && ferror(f))
        rc = ds_fail(d, CDT_EIO, "cannot read the file list %s", list);
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* ---- labels ---- */

/* The class folder of file p: the first component under the root for a
 * walk (NULL for a file at the top), the parent folder for a list. Copied
 * into buf. */
static const char *class_of(const cdt_dataset *d, const char *p, char *buf, size_t len)
{
    const char *s, *end;
    if (d->o.files) {
        end = strrchr(p, '/');
        if (!end)
            return NULL;
        for (s = end; s > p && s[-1] != '/'; s--)
            ;
    } else {
        s = p + strlen(d->path) + 1;
        if (!(end = strchr(s, '/')))
            return NULL;
    }
    if (end == s || (size_t)(end - s) >= len)
        return NULL;
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = '\0';
    return buf;
}

static int set_labels(cdt_dataset *d, const strvec *files)
{
    char buf[4096];
    int mode = d->o.labels;
    if (!strcmp(d->name, "imagenet10"))
        mode = CDT_LABELS_FOLDERS;
    if (mode == CDT_LABELS_AUTO && d->o.files)
        mode = CDT_LABELS_NONE;
    for (size_t i = 0; mode == CDT_LABELS_AUTO && i < files->n; i++)
        if (!class_of(d, files->v[i], buf, sizeof buf))
            mode = CDT_LABELS_NONE;
    d->flab = malloc((files->n ? files->n : 1) * sizeof *d->flab);
    if (!d->flab)
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    if (mode == CDT_LABELS_NONE) {
        for (size_t i = 0; i < files->n; i++)
            d->flab[i] = -1;
        return ds_set_names(d, NULL, 0);
    }
    strvec names = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < files->n; i++) {
        if (!class_of(d, files->v[i], buf, sizeof buf))
            rc = ds_fail(d, CDT_EDATA, "labels from folders, but %s is in no sub-folder", files->v[i]);
        else if (!names.n || strcmp(names.v[names.n - 1], buf))
            if (push(&names, buf, NULL) < 0)
                rc = ds_fail(d, CDT_ENOMEM, "out of memory");
    }
    if (rc == 0 && names.n)
        qsort(names.v, names.n, sizeof(char *), by_name);
    size_t k = 0; /* drop repeats (a list need not be grouped by folder) */
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        if (k && !strcmp(names.v[k - 1], names.v[i]))
            free(names.v[i]);
        else
            names.v[k++] = names.v[i];
    }
    names.n = rc == 0 ? k : names.n;
    if (rc == 0 && k > 1000000)
        rc = ds_fail(d, CDT_ELIMIT, "%zu class folders are too many", k);
    for (size_t i = 0; rc == 0 && i < files->n; i++) {
        const char *c = class_of(d, files->v[i], buf, sizeof buf);
        char **hit = bsearch(&c, names.v, names.n, sizeof(char *), by_name);
        d->flab[i] = (int32_t)(hit - names.v);
    }
    if (rc == 0)
        rc = ds_set_names(d, (const char *const *)names.v, (int)names.n);
    strvec_free(&names);
    return rc;
}

/* ---- reading ---- */

typedef struct worker {
    cdt_image *img;
    struct ds_bufs b;
} worker;

typedef struct folder {
    worker *w;
    int nw;
    int *status;        /* (n) per row of a batch: 0, 1 skipped, < 0 */
    char (*msg)[MSG_LEN];
    size_t cap;
    uint8_t *cache;     /* (n,oc,oh,ow) decoded samples, or NULL */
    uint8_t *state;     /* (n) CACHE_*, with cache */
} folder;

enum { CACHE_NONE, CACHE_HELD, CACHE_BAD };

static void folder_finish(cdt_dataset *d)
{
    for (uint64_t i = 0; d->files && i < d->n; i++)
        free(d->files[i]);
    free(d->files);
    free(d->flab);
    folder *f = d->priv;
    for (int i = 0; f && i < f->nw; i++) {
        cdt_image_destroy(f->w[i].img);
        ds_bufs_free(&f->w[i].b);
    }
    if (f) {
        free(f->w);
        free(f->status);
        free(f->msg);
        free(f->cache);
        free(f->state);
    }
    free(f);
}

/* Decode one file into x (oc,oh,ow): 0, 1 when skipped (skip_bad), or < 0;
 * msg says why. Runs in a worker thread: it touches only w, x and msg. */
static int decode_one(const cdt_dataset *d, worker *w, const char *path, uint8_t *x, char *msg)
{
    int c, h, w_, rc = cdt_image_load(w->img, path, d->oc);
    if (rc == CDT_EDATA || rc == CDT_ELIMIT || rc == CDT_ENOENT || rc == CDT_EIO) {
        snprintf(msg, MSG_LEN, "%s", cdt_image_errmsg(w->img));
        return d->o.skip_bad ? 1 : rc;
    }
    if (rc < 0) {
        snprintf(msg, MSG_LEN, "%s", cdt_image_errmsg(w->img));
        return rc;
    }
    const uint8_t *px = cdt_image_pixels(w->img, &c, &h, &w_);
    if (!d->o.size && (h != d->oh || w_ != d->ow)) {
        snprintf(msg, MSG_LEN, "image is %dx%d, the first was %dx%d; use --size (%s)", w_, h,
                 d->ow, d->oh, path);
        return d->o.skip_bad ? 1 : CDT_EDATA;
    }
    if (ds_fit(d, &w->b, px, c, h, w_, x) < 0) {
        snprintf(msg, MSG_LEN, "out of memory (%s)", path);
        return CDT_ENOMEM;
    }
    return 0;
}

static int folder_batch(cdt_dataset *d, const uint64_t *idx, size_t n, uint8_t *x,
                        int32_t *y, int64_t *id, size_t *got)
{
    folder *f = d->priv;
    size_t one = (size_t)d->oc * d->oh * d->ow, k = 0;
    *got = 0;
    if (n > f->cap) {
        free(f->status);
        free(f->msg);
        f->status = malloc(n * sizeof *f->status);
        f->msg = malloc(n * sizeof *f->msg);
        f->cap = f->status && f->msg ? n : 0;
        if (!f->cap)
            return ds_fail(d, CDT_ENOMEM, "out of memory");
    }
    const cdt_dataset *cd = d;
    #pragma omp parallel for schedule(dynamic) num_threads(f->nw)
    for (size_t i = 0; i < n; i++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        int held = f->cache ? f->state[idx[i]] : CACHE_NONE;
        if (held == CACHE_HELD)
            memcpy(x + i * one, f->cache + idx[i] * one, one);
        f->status[i] = held == CACHE_HELD ? 0 : held == CACHE_BAD ? 1
                     : decode_one(cd, &f->w[t], cd->files[idx[i]], x + i * one, f->msg[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (f->status[i] < 0)
            return ds_fail(d, f->status[i], "%s", f->msg[i]);
        int first = !f->cache || f->state[idx[i]] == CACHE_NONE;
        if (f->status[i] == 1) {
            d->skipped++;
            if (first) { /* a file skipped again (a later epoch) is not named again */
                snprintf(d->skipmsg, sizeof d->skipmsg, "%s", f->msg[i]);
                if (d->o.on_skip)
                    d->o.on_skip(d->o.skip_ctx, f->msg[i]);
            }
            if (f->cache)
                f->state[idx[i]] = CACHE_BAD;
            continue;
        }
        if (f->cache && first) {
            memcpy(f->cache + idx[i] * one, x + i * one, one);
            f->state[idx[i]] = CACHE_HELD;
        }
        if (k != i)
            memmove(x + k * one, x + i * one, one);
        y[k] = d->flab[idx[i]];
        id[k++] = (int64_t)idx[i];
    }
    *got = k;
    return 0;
}

/* Without --size every image must have the first one's size: find it. */
static int probe_size(cdt_dataset *d)
{
    cdt_image *img = ((folder *)d->priv)->w[0].img;
    for (uint64_t i = 0; i < d->n; i++) {
        int rc = cdt_image_load(img, d->files[i], d->oc);
        if (rc == 0) {
            int c;
            cdt_image_pixels(img, &c, &d->oh, &d->ow);
            return 0;
        }
        if (!d->o.skip_bad || (rc != CDT_EDATA && rc != CDT_ELIMIT && rc != CDT_ENOENT))
            return ds_fail(d, rc, "%s", cdt_image_errmsg(img));
    }
    return ds_fail(d, CDT_EDATA, "no image decodes (%s)", d->path ? d->path : d->o.files);
}

static int make_workers(cdt_dataset *d)
{
    folder *f = calloc(1, sizeof *f);
    if (!(d->priv = f))
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    f->nw = 1;
#ifdef _OPENMP
    f->nw = omp_get_max_threads();
#endif
    f->nw = f->nw < 1 ? 1 : f->nw > 256 ? 256 : f->nw;
    if (!(f->w = calloc((size_t)f->nw, sizeof *f->w)))
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    /* A JPEG decoded at 1/2, 1/4 or 1/8 is still twice the size we make of
     * it, so the antialiased resize sees enough pixels. */
    int s = d->o.size ? 2 * d->o.size : 0, pad = d->fit == CDT_FIT_PAD;
    for (int i = 0; i < f->nw; i++) {
        if (!(f->w[i].img = cdt_image_create()))
            return ds_fail(d, CDT_ENOMEM, "out of memory");
        cdt_image_set_min_size(f->w[i].img, pad ? 0 : s, pad ? s : 0);
    }
    return 0;
}

/* Pages are only touched as samples arrive, so a cache sized for the
 * whole folder costs what has been read. */
static int make_cache(cdt_dataset *d)
{
    folder *f = d->priv;
    uint64_t bytes;
    if (!d->o.cache_bytes || cdt_mul_u64(d->n, (uint64_t)d->oc * d->oh * d->ow, &bytes) ||
        bytes > d->o.cache_bytes || bytes > SIZE_MAX / 2)
        return 0;
    f->cache = malloc(bytes ? (size_t)bytes : 1);
    f->state = calloc((size_t)d->n, 1);
    if (!f->cache || !f->state) { /* not worth failing for */
        free(f->cache);
        free(f->state);
        f->cache = f->state = NULL;
    }
    return 0;
}

static int list_files(cdt_dataset *d, strvec *files)
{
    if (d->o.files)
        return read_list(d, d->o.files, files);
    struct stat st;
    int inet = !strcmp(d->name, "imagenet10");
    if (stat(d->path, &st) < 0 || !S_ISDIR(st.st_mode))
        return ds_missing(d, d->path, "PATH must be a folder of .jpg/.jpeg/.png files (at any "
                          "depth)%s", inet ? "; ImageNet-10: one sub-folder per class, 10 of 1,300 JPEGs" : "");
    walker w = {0};
    int rc = seen_before(&w, &st) < 0 ? ds_fail(d, CDT_ENOMEM, "out of memory")
                                      : walk(d, &w, d->path, 0);
    free(w.seen);
    *files = w.files;
    if (rc == 0 && files->n)
        qsort(files->v, files->n, sizeof(char *), by_name);
    return rc;
}

int ds_open_folder(cdt_dataset *d)
{
    d->finish = folder_finish;
    d->read_batch = folder_batch;
    if (!d->path && !d->o.files)
        return ds_fail(d, CDT_EINVAL, "%s needs a PATH (a folder of images) or a file list",
                       d->name);
    if (d->o.split != CDT_SPLIT_ALL)
        return ds_fail(d, CDT_EINVAL, "%s has no train/test split: give the split's folder as PATH", d->name);
    /* "photos/" and "photos" name the same files */
    for (size_t l = d->path ? strlen(d->path) : 0; l > 1 && d->path[l - 1] == '/'; l--)
        d->path[l - 1] = '\0';
    strvec files = {0};
    int rc = list_files(d, &files);
    if (rc == 0 && files.n == 0)
        rc = ds_fail(d, CDT_EDATA, "no .jpg/.jpeg/.png files in %s (hidden names are skipped)",
                     d->path ? d->path : d->o.files);
    if (rc == 0)
        rc = set_labels(d, &files);
    uint64_t n = d->o.limit && d->o.limit < files.n ? d->o.limit : files.n;
    for (size_t i = n; i < files.n; i++)
        free(files.v[i]);
    d->files = files.v;
    d->n = rc == 0 ? n : files.n;
    if (rc < 0)
        return rc;
    d->c = d->oc = d->o.channels ? d->o.channels : 3;
    int size = d->o.size ? d->o.size : !strcmp(d->name, "imagenet10") ? 224 : 0;
    d->o.size = size;
    d->oh = d->ow = size;
    if ((rc = make_workers(d)) < 0 || (!size && (rc = probe_size(d)) < 0))
        return rc;
    return make_cache(d);
}
