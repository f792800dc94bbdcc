/* stl10.c: STL-10, the publisher's stl10_binary files. *_X.bin holds
 * 3x96x96 u8 images with every channel stored column-major (the files were
 * written from MATLAB), so each plane is transposed on the way in;
 * *_y.bin holds one label byte 1..10 per image. */
#include "ds.h"

#include <stdlib.h>
#include <string.h>

#define SIDE 96
#define IMG (3 * SIDE * SIDE)
#define CHUNK 256 /* images per read */

static const char *const stl_names[] = {"airplane", "bird", "car", "cat", "deer",
                                        "dog", "horse", "monkey", "ship", "truck"};

static int missing(cdt_dataset *d, const char *what)
{
    return ds_missing(d, what, "get stl10_binary.tar.gz from "
                      "https://cs.stanford.edu/~acoates/stl10/ and unpack it; PATH is its "
                      "stl10_binary folder (or the folder above it) with train_X.bin, "
                      "train_y.bin, test_X.bin, test_y.bin and unlabeled_X.bin");
}

typedef struct part { const char *x, *y; uint64_t n, take; } part;

/* Count the images of a part and check that its files agree. */
static int measure(cdt_dataset *d, ds_src *s, part *p)
{
    char where[4608];
    uint64_t size, ysize;
    ds_src_where(s, p->x, where, sizeof where);
    int rc = ds_src_size(d, s, p->x, &size);
    if (rc < 0)
        return rc == CDT_ENOENT ? missing(d, where) : rc;
    if (size == 0 || size % IMG)
        return ds_fail(d, CDT_EDATA, "wrong size: %llu bytes is not a whole number of "
                       "%d-byte images (%s)", (unsigned long long)size, IMG, where);
    p->n = size / IMG;
    if (!p->y)
        return 0;
    ds_src_where(s, p->y, where, sizeof where);
    if ((rc = ds_src_size(d, s, p->y, &ysize)) < 0)
        return rc == CDT_ENOENT ? missing(d, where) : rc;
    if (ysize != p->n)
        return ds_fail(d, CDT_EDATA, "wrong size: %llu labels for %llu images (%s)",
                       (unsigned long long)ysize, (unsigned long long)p->n, where);
    return 0;
}

static void transpose_planes(uint8_t *dst, const uint8_t *src) /* (3,96,96) both */
{
    for (int c = 0; c < 3; c++, dst += SIDE * SIDE, src += SIDE * SIDE)
        for (int col = 0; col < SIDE; col++)
            for (int row = 0; row < SIDE; row++)
                dst[row * SIDE + col] = src[col * SIDE + row];
}

static int load_part(cdt_dataset *d, ds_src *s, const part *p, uint64_t at, uint8_t *buf)
{
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < p->take; i += CHUNK) {
        uint64_t k = p->take - i < CHUNK ? p->take - i : CHUNK;
        if ((rc = ds_src_read_part(d, s, p->x, i * IMG, k * IMG, buf)) == 0)
            for (uint64_t j = 0; j < k; j++)
                transpose_planes(d->pix + (at + i + j) * IMG, buf + j * IMG);
    }
    if (rc < 0 || !p->y) {
        for (uint64_t i = 0; i < p->take; i++)
            d->lab[at + i] = -1;
        return rc;
    }
    char where[4608];
    ds_src_where(s, p->y, where, sizeof where);
    for (uint64_t i = 0; rc == 0 && i < p->take; i += CHUNK) {
        uint64_t k = p->take - i < CHUNK ? p->take - i : CHUNK;
        if ((rc = ds_src_read_part(d, s, p->y, i, k, buf)) < 0)
            break;
        for (uint64_t j = 0; j < k; j++) {
            if (buf[j] < 1 || buf[j] > 10)
                return ds_fail(d, CDT_EDATA, "label %u out of range 1..10 (%s, byte %llu)",
                               buf[j], where, (unsigned long long)(i + j));
            d->lab[at + i + j] = buf[j] - 1;
        }
    }
    return rc;
}

static int load(cdt_dataset *d, ds_src *s)
{
    part parts[2], all[3] = {{"train_X.bin", "train_y.bin", 0, 0},
                             {"test_X.bin", "test_y.bin", 0, 0},
                             {"unlabeled_X.bin", NULL, 0, 0}};
    int k = 0, rc = 0;
    if (d->o.split == CDT_SPLIT_UNLABELED)
        parts[k++] = all[2];
    if (d->o.split == CDT_SPLIT_ALL || d->o.split == CDT_SPLIT_TRAIN)
        parts[k++] = all[0];
    if (d->o.split == CDT_SPLIT_ALL || d->o.split == CDT_SPLIT_TEST)
        parts[k++] = all[1];
    uint64_t left = d->o.limit ? d->o.limit : UINT64_MAX, n = 0, at = 0;
    for (int i = 0; rc == 0 && i < k; i++)
        if ((rc = measure(d, s, &parts[i])) == 0)
            n += parts[i].take = ds_take(parts[i].n, &left);
    if (rc == 0)
        rc = ds_alloc(d, n, 3, SIDE, SIDE);
    uint8_t *buf = rc == 0 ? malloc((size_t)CHUNK * IMG) : NULL;
    if (rc == 0 && !buf)
        rc = ds_fail(d, CDT_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < k; at += parts[i].take, i++)
        rc = load_part(d, s, &parts[i], at, buf);
    free(buf);
    return rc;
}

int ds_open_stl10(cdt_dataset *d)
{
    if (!d->path)
        return ds_fail(d, CDT_EINVAL, "stl10 needs a PATH (its stl10_binary folder)");
    ds_src s;
    int rc = ds_src_open(d, &s, d->path, "stl10_binary", "stl10_binary.tar.gz");
    if (rc == CDT_ENOENT)
        return missing(d, d->path);
    if (rc == 0)
        rc = load(d, &s);
    if (rc == 0)
        rc = ds_set_names(d, stl_names, 10);
    ds_blob b;
    if (rc == 0 && ds_src_get(d, &s, "class_names.txt", &b) == 0) {
        rc = ds_names_from_text(d, b.p, b.n, 10);
        ds_blob_free(&b);
    }
    ds_src_close(&s);
    return rc;
}
