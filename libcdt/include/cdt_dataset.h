/* cdt_dataset.h: reading image datasets in their publishers' formats.
 *
 *     cdt_dataset_opts o = {.name = "cifar10", .path = "/data/cifar10",
 *                           .split = CDT_SPLIT_ALL};
 *     cdt_dataset *d;
 *     if (cdt_dataset_open(&o, &d) < 0) puts(cdt_dataset_errmsg(d));
 *     ... cdt_dataset_read(d, idx, n, x, y, id, &got) ...
 *     cdt_dataset_destroy(d);
 *
 * Formats (files inside PATH; libcdt/datasets/ has one reader per format):
 *   fashion-mnist, mnist  IDX files, gzipped or not: train-images-idx3-ubyte,
 *                         train-labels-idx1-ubyte, t10k-... (1x28x28)
 *   cifar10    data_batch_1..5.bin, test_batch.bin (label byte + R, G, B
 *              planes of 32x32), in PATH, in PATH/cifar-10-batches-bin, or
 *              in PATH = cifar-10-binary.tar.gz; batches.meta.txt names
 *   cifar100   train.bin, test.bin (coarse byte, fine byte, 3072 bytes), in
 *              PATH, PATH/cifar-100-binary or cifar-100-binary.tar.gz
 *   stl10      train_X.bin, train_y.bin, test_X.bin, test_y.bin,
 *              unlabeled_X.bin: 3x96x96, each channel stored column-major;
 *              labels 1..10 become 0..9, unlabeled rows get y = -1
 *   folder     JPEG/PNG files at any depth (hidden names skipped, symlinks
 *              followed once, sorted by path), or the paths listed in a
 *              file; labels from the first level of sub-folders (sorted by
 *              name) when every image sits under one, else y = -1; decoded
 *              lazily, in worker threads, by cdt_dataset_read;
 *              cdt_dataset_path gives each sample's file; imagenet10 is
 *              the same with size 224, fit stretch and class folders
 * The split `all` is train then test; sample ids index that concatenation.
 * In-memory formats load the (limited) split at open; folders keep only
 * their file list.
 */
#ifndef CDT_DATASET_H
#define CDT_DATASET_H

#include <stddef.h>
#include <stdint.h>

enum { CDT_SPLIT_ALL = 0, CDT_SPLIT_TRAIN = 1, CDT_SPLIT_TEST = 2,
       CDT_SPLIT_UNLABELED = 3 };
/* Folder labels: from the first level of sub-folders when every image sits
 * under one (auto), always from them (folders: an image at the top is an
 * error), or none (y = -1). */
enum { CDT_LABELS_AUTO = 0, CDT_LABELS_FOLDERS = 1, CDT_LABELS_NONE = 2 };

typedef struct cdt_dataset_opts {
    const char *name;  /* fashion-mnist, mnist, cifar10, cifar100, stl10,
                          folder, imagenet10 */
    const char *path;  /* NULL: the dataset's default (fashion-mnist only) */
    int split;         /* CDT_SPLIT_* */
    int channels;      /* 0: the dataset's own; else 1 or 3 */
    int size;          /* 0: native size; else resize to size x size */
    int fine;          /* cifar100: the 100 fine labels, not the 20 coarse */
    int skip_bad;      /* folder: skip images that do not decode */
    uint64_t limit;    /* 0: all; else only the first `limit` samples */
    int fit;           /* CDT_FIT_* (cdt_resize.h) for size; 0: crop for
                          folder, stretch for the others */
    int labels;        /* folder: CDT_LABELS_* */
    const char *files; /* folder: the paths, one a line, in this file
                          (instead of walking PATH; "-" is stdin) */
    /* folder with skip_bad: called once per skipped image, in sample
     * order, with a one-line message naming the file; may be NULL */
    void (*on_skip)(void *ctx, const char *msg);
    void *skip_ctx;
    /* folder: keep every decoded sample in memory when all of them fit in
     * this many bytes, so that reading a sample again (the next epoch)
     * does not decode it again; 0: never */
    uint64_t cache_bytes;
} cdt_dataset_opts;

typedef struct cdt_dataset cdt_dataset;

/* Open a dataset. CDT_EINVAL for an unknown name or an option the dataset
 * does not have, CDT_ENOENT when its files are missing (cdt_dataset_hint
 * then says where they go), CDT_EDATA for malformed files, CDT_ENOMEM.
 * On failure *out is still set when it could be allocated, for the
 * message; destroy it either way. */
int cdt_dataset_open(const cdt_dataset_opts *o, cdt_dataset **out);
void cdt_dataset_destroy(cdt_dataset *d);

uint64_t cdt_dataset_count(const cdt_dataset *d);   /* samples, after limit */
/* The shape of one output sample, (C,H,W), after channels and size. */
void cdt_dataset_shape(const cdt_dataset *d, int *c, int *h, int *w);
int cdt_dataset_classes(const cdt_dataset *d);
const char *cdt_dataset_class_names(const cdt_dataset *d); /* "a,b,c" */
const char *cdt_dataset_name(const cdt_dataset *d);        /* canonical */
/* How --size treats another aspect (CDT_FIT_*): the option's fit, else the
 * dataset's default (crop for folders, stretch for the others). */
int cdt_dataset_fit(const cdt_dataset *d);
const char *cdt_dataset_split_name(int split);             /* "train", ... */

/* Read the samples idx[0..n) into x (n,C,H,W), y (n) and id (n) (id[i] =
 * the sample's index). *got is the number of rows written: n, unless
 * skip_bad dropped some (the rest are packed to the front). Allocates only
 * when an image is larger than any before it. */
int cdt_dataset_read(cdt_dataset *d, const uint64_t *idx, size_t n,
                     uint8_t *x,  /* (n,C,H,W) */
                     int32_t *y,  /* (n) */
                     int64_t *id, /* (n) */
                     size_t *got);
uint64_t cdt_dataset_skipped(const cdt_dataset *d); /* bad images so far */
/* Sample idx's file (folder datasets), or NULL for the formats that hold
 * their images in a few big files. */
const char *cdt_dataset_path(const cdt_dataset *d, uint64_t idx);
/* The last skipped image's message, or "" if none. */
const char *cdt_dataset_skipmsg(const cdt_dataset *d);

const char *cdt_dataset_errmsg(const cdt_dataset *d); /* "" if no error */
/* After CDT_ENOENT: where the dataset's files are expected; else "". */
const char *cdt_dataset_hint(const cdt_dataset *d);

#endif
