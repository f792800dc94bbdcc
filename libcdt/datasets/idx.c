/* idx.c: MNIST and Fashion-MNIST, in the IDX format their publishers use:
 * big-endian u32 magic (0x0000 0x08 ndim) and ndim u32 sizes, then u8 data.
 * Files may be gzipped (FILE.gz is tried first). */
#include "ds.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const fashion_names[] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static const char *const digit_names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

typedef struct idx_file {
    char path[4352];
    ds_blob b;
    uint32_t dim[3];
    const uint8_t *data;
} idx_file;

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

/* Read dir/base(.gz) and check its header: ndim sizes, and nothing more or
 * less than they promise. */
static int idx_load(cdt_dataset *d, const char *dir, const char *base, int ndim, idx_file *f)
{
    struct stat st;
    snprintf(f->path, sizeof f->path, "%s/%s.gz", dir, base);
    int gz = stat(f->path, &st) == 0;
    if (!gz)
        snprintf(f->path, sizeof f->path, "%s/%s", dir, base);
    int rc = gz ? ds_gunzip_file(d, f->path, &f->b) : ds_read_file(d, f->path, &f->b);
    if (rc == CDT_ENOENT)
        return missing(d, f->path);
    if (rc < 0)
        return rc;
    size_t hdr = 4 + 4 * (size_t)ndim;
    const uint8_t *p = f->b.p;
    if (f->b.n < hdr || p[0] || p[1] || p[2] != 0x08 || p[3] != ndim)
        return ds_fail(d, CDT_EDATA, "not an IDX file of %d-d u8 data (%s, byte 0)", ndim, f->path);
    uint64_t want = 1;
    for (int i = 0; i < ndim; i++) {
        f->dim[i] = be32(p + 4 + 4 * i);
        want *= f->dim[i]; /* three u32s cannot overflow 2^64 */
    }
    if (ndim == 3 && (f->dim[1] == 0 || f->dim[2] == 0 || f->dim[1] > 4096 || f->dim[2] > 4096))
        return ds_fail(d, CDT_EDATA, "bad image size %ux%u (%s, byte 8)", f->dim[1], f->dim[2], f->path);
    if (f->b.n - hdr != want)
        return ds_fail(d, CDT_EDATA, "wrong size: %zu data bytes, the header promises %llu (%s)",
                       f->b.n - hdr, (unsigned long long)want, f->path);
    f->data = p + hdr;
    return 0;
}

/* Load both files of one split part; images and labels must agree. */
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

static int copy_parts(cdt_dataset *d, idx_file *img, idx_file *lab, int parts)
{
    uint64_t left = d->o.limit ? d->o.limit : UINT64_MAX, take[2], n = 0;
    for (int i = 0; i < parts; i++) {
        if (img[i].dim[1] != img[0].dim[1] || img[i].dim[2] != img[0].dim[2])
            return ds_fail(d, CDT_EDATA, "image size differs from %s (%s)", img[0].path, img[i].path);
        n += take[i] = ds_take(img[i].dim[0], &left);
    }
    int rc = ds_alloc(d, n, 1, (int)img[0].dim[1], (int)img[0].dim[2]);
    if (rc < 0)
        return rc;
    size_t hw = (size_t)d->h * d->w, at = 0;
    for (int i = 0; i < parts; i++) {
        memcpy(d->pix + at * hw, img[i].data, take[i] * hw);
        for (uint64_t k = 0; k < take[i]; k++)
            d->lab[at + k] = lab[i].data[k];
        at += take[i];
    }
    return 0;
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
    const char *prefix[2] = {"train", "t10k"};
    int first = d->o.split == CDT_SPLIT_TEST, parts = d->o.split == CDT_SPLIT_ALL ? 2 : 1;
    idx_file *f = calloc(4, sizeof *f); /* images[2], labels[2] */
    if (!f)
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; rc == 0 && i < parts; i++)
        rc = load_pair(d, d->path, prefix[first + i], &f[i], &f[2 + i]);
    if (rc == 0)
        rc = copy_parts(d, f, f + 2, parts);
    if (rc == 0)
        rc = ds_set_names(d, fashion ? fashion_names : digit_names, 10);
    for (int i = 0; i < 4; i++)
        ds_blob_free(&f[i].b);
    free(f);
    return rc;
}
