/* idx.c: MNIST and Fashion-MNIST, in the IDX format their publishers use:
 * big-endian u32 magic (0x0000 0x08 ndim) and ndim u32 sizes, then u8 data.
 * Files may be gzipped (FILE.gz is tried first).
 *
 * Inflating the image files is most of the work of ingesting these sets,
 * so a worker thread inflates them straight into the pixel buffer while
 * cdt_dataset_read hands out the rows already in place (ds_idx_wait): the
 * stream's compression downstream overlaps the inflation. */
#include "ds.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const fashion_names[] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static const char *const digit_names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

typedef struct idx_file {
    char path[4352];
    ds_blob b;          /* the whole file, inflated; or, for gz images, compressed */
    ds_gz gz;           /* gz images: the rest of the data, after the header */
    int lazy;           /* gz images, inflated by the worker */
    uint32_t dim[3];
    const uint8_t *data;
    uint64_t take, at;  /* rows used, and where they go in pix */
} idx_file;

typedef struct idx_async {
    idx_file f[4];      /* images of up to 2 parts, then their labels */
    int parts;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t ready;     /* rows of pix in place */
    int done, stop, rc;
    char err[512];
} idx_async;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int missing(cdt_dataset *d, const char *what)
{
    if (!strcmp(d->name, "fashion-mnist"))
        return ds_missing(d, what, "install it with `apt-get install dataset-fashion-mnist`, "
                          "or put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                          "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in PATH");
    return ds_missing(d, what, "put the publisher's train-images-idx3-ubyte.gz, "
                      "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
                      "t10k-labels-idx1-ubyte.gz in PATH");
}

static int wrong_size(cdt_dataset *d, const idx_file *f, uint64_t have, uint64_t want)
{
    return ds_fail(d, CDT_EDATA, "wrong size: %llu data bytes, the header promises %llu (%s)",
                   (unsigned long long)have, (unsigned long long)want, f->path);
}

static uint64_t data_bytes(const idx_file *f, int ndim)
{
    uint64_t want = 1;
    for (int i = 0; i < ndim; i++)
        want *= f->dim[i]; /* three u32s cannot overflow 2^64 */
    return want;
}

/* Check the header in f->b (or, lazy, inflate just the header). */
static int idx_header(cdt_dataset *d, idx_file *f, int ndim)
{
    uint8_t hdr[16];
    size_t hl = 4 + 4 * (size_t)ndim, got = f->b.n < hl ? f->b.n : hl;
    int rc;
    if (f->lazy) {
        if ((rc = ds_gz_open(&f->gz, f->b.p, f->b.n, f->path)) < 0 ||
            (rc = ds_gz_read(&f->gz, hdr, hl, &got)) < 0)
            return ds_fail(d, rc, "%s", f->gz.err);
    } else {
        memcpy(hdr, f->b.p, got);
    }
    if (got < hl || hdr[0] || hdr[1] || hdr[2] != 0x08 || hdr[3] != ndim)
        return ds_fail(d, CDT_EDATA, "not an IDX file of %d-d u8 data (%s, byte 0)", ndim, f->path);
    for (int i = 0; i < ndim; i++)
        f->dim[i] = be32(hdr + 4 + 4 * i);
    if (ndim == 3 && (f->dim[1] == 0 || f->dim[2] == 0 || f->dim[1] > 4096 || f->dim[2] > 4096))
        return ds_fail(d, CDT_EDATA, "bad image size %ux%u (%s, byte 8)", f->dim[1], f->dim[2], f->path);
    if (!f->lazy && f->b.n - hl != data_bytes(f, ndim))
        return wrong_size(d, f, f->b.n - hl, data_bytes(f, ndim));
    f->data = f->b.p + hl;
    return 0;
}

/* Read dir/base(.gz): labels whole, gzipped images only their header. */
static int idx_load(cdt_dataset *d, const char *dir, const char *base, int ndim, idx_file *f)
{
    struct stat st;
    snprintf(f->path, sizeof f->path, "%s/%s.gz", dir, base);
    int gz = stat(f->path, &st) == 0;
    if (!gz)
        snprintf(f->path, sizeof f->path, "%s/%s", dir, base);
    f->lazy = gz && ndim == 3;
    int rc = gz && !f->lazy ? ds_gunzip_file(d, f->path, &f->b) : ds_read_file(d, f->path, &f->b);
    if (rc == CDT_ENOENT)
        return missing(d, f->path);
    return rc < 0 ? rc : idx_header(d, f, ndim);
}

/* Load one split part; images and labels must agree. */
static int load_pair(cdt_dataset *d, const char *dir, const char *prefix, idx_file *img,
                     idx_file *lab)
{
    char base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    int rc = idx_load(d, dir, base, 3, img);
    if (rc < 0)
        return rc;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if ((rc = idx_load(d, dir, base, 1, lab)) < 0)
        return rc;
    if (img->dim[0] != lab->dim[0])
        return ds_fail(d, CDT_EDATA, "%u labels for %u images (%s)", lab->dim[0], img->dim[0], lab->path);
    for (uint32_t i = 0; i < lab->dim[0]; i++)
        if (lab->data[i] >= 10)
            return ds_fail(d, CDT_EDATA, "label %u out of range 0..9 (%s, byte %u)",
                           lab->data[i], lab->path, 8 + i);
    return 0;
}

/* Allocate the split; copy labels and the pixels of plain files. */
static int place_parts(cdt_dataset *d, idx_async *a)
{
    idx_file *img = a->f, *lab = a->f + 2;
    uint64_t left = d->o.limit ? d->o.limit : UINT64_MAX, n = 0;
    for (int i = 0; i < a->parts; i++) {
        if (img[i].dim[1] != img[0].dim[1] || img[i].dim[2] != img[0].dim[2])
            return ds_fail(d, CDT_EDATA, "image size differs from %s (%s)", img[0].path, img[i].path);
        img[i].at = n;
        n += img[i].take = ds_take(img[i].dim[0], &left);
    }
    int rc = ds_alloc(d, n, 1, (int)img[0].dim[1], (int)img[0].dim[2]);
    if (rc < 0)
        return rc;
    size_t hw = (size_t)d->h * d->w;
    for (int i = 0; i < a->parts; i++) {
        if (!img[i].lazy)
            memcpy(d->pix + img[i].at * hw, img[i].data, img[i].take * hw);
        for (uint64_t k = 0; k < img[i].take; k++)
            d->lab[img[i].at + k] = lab[i].data[k];
    }
    return 0;
}

static void publish(idx_async *a, uint64_t ready, int rc, const char *err)
{
    pthread_mutex_lock(&a->mu);
    a->ready = ready;
    if (rc < 0 && a->rc == 0) {
        a->rc = rc;
        snprintf(a->err, sizeof a->err, "%s", err);
    }
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static int stopping(idx_async *a)
{
    pthread_mutex_lock(&a->mu);
    int s = a->stop;
    pthread_mutex_unlock(&a->mu);
    return s;
}

/* Inflate one lazy part: its rows into pix, the rest counted, so that a
 * file of the wrong size is caught even under --limit. */
static int inflate_part(cdt_dataset *d, idx_async *a, idx_file *f, char *err, size_t errlen)
{
    size_t hw = (size_t)d->h * d->w, got = 1, chunk = 1 << 20;
    uint64_t want = f->take * hw, done = 0, total = data_bytes(f, 3);
    uint8_t *dst = d->pix + f->at * hw, sink[1 << 16];
    int rc = 0;
    while (rc == 0 && got && !stopping(a)) {
        if (done < want) {
            size_t k = want - done < chunk ? (size_t)(want - done) : chunk;
            rc = ds_gz_read(&f->gz, dst + done, k, &got);
            done += got;
            got = got == k;
            if (rc == 0 && done / hw > 0)
                publish(a, f->at + done / hw, 0, NULL);
        } else {
            rc = ds_gz_read(&f->gz, sink, sizeof sink, &got);
            done += got;
        }
    }
    if (rc < 0)
        snprintf(err, errlen, "%s", f->gz.err);
    else if (done != total && !stopping(a))
        snprintf(err, errlen, "wrong size: %llu data bytes, the header promises %llu (%.400s)",
                 (unsigned long long)done, (unsigned long long)total, f->path);
    return rc < 0 ? rc : done != total && !stopping(a) ? CDT_EDATA : 0;
}

static void *worker(void *arg)
{
    cdt_dataset *d = arg;
    idx_async *a = d->async;
    char err[512] = "";
    int rc = 0;
    for (int i = 0; rc == 0 && i < a->parts; i++) {
        idx_file *f = &a->f[i];
        rc = f->lazy ? inflate_part(d, a, f, err, sizeof err) : 0;
        if (rc == 0)
            publish(a, f->at + f->take, 0, NULL);
    }
    pthread_mutex_lock(&a->mu);
    if (rc < 0 && a->rc == 0) {
        a->rc = rc;
        snprintf(a->err, sizeof a->err, "%s", err);
    }
    a->done = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Wait until rows [0, rows) are in place; the last row waits for the
 * whole check of the files. */
int ds_idx_wait(cdt_dataset *d, uint64_t rows)
{
    idx_async *a = d->async;
    pthread_mutex_lock(&a->mu);
    while (a->rc == 0 && !a->done && (rows >= d->n || a->ready < rows))
        pthread_cond_wait(&a->cv, &a->mu);
    int rc = a->rc;
    if (rc < 0)
        ds_fail(d, rc, "%s", a->err);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void ds_idx_finish(cdt_dataset *d)
{
    idx_async *a = d->async;
    if (!a)
        return;
    if (a->started) {
        pthread_mutex_lock(&a->mu);
        a->stop = 1;
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->th, NULL);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    for (int i = 0; i < 4; i++) {
        ds_gz_close(&a->f[i].gz);
        ds_blob_free(&a->f[i].b);
    }
    free(a);
    d->async = NULL;
}

int ds_open_idx(cdt_dataset *d)
{
    int fashion = !strcmp(d->name, "fashion-mnist");
    if (!d->path && !fashion)
        return ds_fail(d, CDT_EINVAL, "mnist needs a PATH (the folder of its IDX files)");
    if (!d->path && !(d->path = strdup("/usr/share/datasets/fashion-mnist")))
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    struct stat st;
    if (stat(d->path, &st) < 0 || !S_ISDIR(st.st_mode))
        return missing(d, d->path);
    idx_async *a = calloc(1, sizeof *a);
    if (!a)
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    d->async = a;
    d->wait = ds_idx_wait;
    d->finish = ds_idx_finish;
    const char *prefix[2] = {"train", "t10k"};
    int first = d->o.split == CDT_SPLIT_TEST, rc = 0;
    a->parts = d->o.split == CDT_SPLIT_ALL ? 2 : 1;
    for (int i = 0; rc == 0 && i < a->parts; i++)
        rc = load_pair(d, d->path, prefix[first + i], &a->f[i], &a->f[2 + i]);
    if (rc == 0)
        rc = place_parts(d, a);
    if (rc == 0)
        rc = ds_set_names(d, fashion ? fashion_names : digit_names, 10);
    if (rc == 0 && pthread_create(&a->th, NULL, worker, d) != 0)
        rc = ds_fail(d, CDT_ENOMEM, "cannot start a thread");
    a->started = rc == 0;
    return rc;
}
