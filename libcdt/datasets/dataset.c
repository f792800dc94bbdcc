/* dataset.c: opening a dataset by name and reading samples; the format
 * readers live beside this file. */
#include "ds.h"
#include "cdt_resize.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

int ds_fail(cdt_dataset *d, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    return rc;
}

int ds_missing(cdt_dataset *d, const char *what, const char *hint_fmt, ...)
{
    va_list ap;
    va_start(ap, hint_fmt);
    vsnprintf(d->hint, sizeof d->hint, hint_fmt, ap);
    va_end(ap);
    return ds_fail(d, CDT_ENOENT, "%s dataset not found (%s)", d->name, what);
}

int ds_alloc(cdt_dataset *d, uint64_t n, int c, int h, int w)
{
    uint64_t bytes;
    if (cdt_mul_u64(n, (uint64_t)c * h * w, &bytes) || bytes > SIZE_MAX / 2)
        return ds_fail(d, CDT_ELIMIT, "dataset too large for memory");
    /* Aligned to 2 MiB and marked for huge pages: filling tens of MB of
     * 4 KiB pages one fault at a time is a fifth of ingesting an IDX set. */
    if (posix_memalign((void **)&d->pix, 1 << 21, bytes ? bytes : 1))
        d->pix = NULL;
    else
        madvise(d->pix, bytes, MADV_HUGEPAGE);
    d->lab = malloc(n ? n * sizeof(int32_t) : 1);
    if (!d->pix || !d->lab)
        return ds_fail(d, CDT_ENOMEM, "out of memory for %llu samples", (unsigned long long)n);
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    return 0;
}

int ds_set_names(cdt_dataset *d, const char *const *names, int k)
{
    size_t len = 1;
    for (int i = 0; i < k; i++)
        len += strlen(names[i]) + 1;
    free(d->class_names);
    if (!(d->class_names = malloc(len)))
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    char *p = d->class_names;
    for (int i = 0; i < k; i++) {
        /* The meta value is a comma list on one line: keep it parseable. */
        for (const char *s = names[i]; *s; s++)
            *p++ = (*s == ',' || *s == '\n' || *s == '\r') ? '_' : *s;
        *p++ = i + 1 < k ? ',' : '\0';
    }
    if (k == 0)
        *p = '\0';
    d->classes = k;
    return 0;
}

/* Non-empty lines, trimmed; when there are not exactly k the file is not
 * what we expect and the caller's fixed list stays. */
int ds_names_from_text(cdt_dataset *d, const uint8_t *text, size_t len, int k)
{
    char *copy = malloc(len + 1), *names[256];
    int got = 0;
    if (!copy)
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(t);
        while (l && (t[l - 1] == '\r' || t[l - 1] == ' ' || t[l - 1] == '\t'))
            t[--l] = '\0';
        if (l && got < 256)
            names[got++] = t;
    }
    int rc = got == k ? ds_set_names(d, (const char *const *)names, k) : 0;
    free(copy);
    return rc;
}

uint64_t ds_take(uint64_t avail, uint64_t *left)
{
    uint64_t t = avail < *left ? avail : *left;
    *left -= t;
    return t;
}

void ds_blob_free(ds_blob *b)
{
    free(b->own);
    memset(b, 0, sizeof *b);
}

const char *cdt_dataset_split_name(int split)
{
    static const char *const names[] = {"all", "train", "test", "unlabeled"};
    return split >= 0 && split <= 3 ? names[split] : "?";
}

static const struct {
    const char *name;
    int (*open)(cdt_dataset *);
} readers[] = {
    {"fashion-mnist", ds_open_idx}, {"mnist", ds_open_idx},
    {"cifar10", ds_open_cifar},     {"cifar100", ds_open_cifar},
    {"stl10", ds_open_stl10},       {"folder", ds_open_folder},
    {"imagenet10", ds_open_folder},
};

static int check_opts(cdt_dataset *d)
{
    const cdt_dataset_opts *o = &d->o;
    if (o->channels != 0 && o->channels != 1 && o->channels != 3)
        return ds_fail(d, CDT_EINVAL, "channels must be 1 or 3, not %d", o->channels);
    if (o->size < 0 || o->size > 4096)
        return ds_fail(d, CDT_EINVAL, "size must be 1..4096, not %d", o->size);
    if (o->split == CDT_SPLIT_UNLABELED && strcmp(d->name, "stl10"))
        return ds_fail(d, CDT_EINVAL, "only stl10 has an unlabeled split");
    if (o->split < 0 || o->split > CDT_SPLIT_UNLABELED)
        return ds_fail(d, CDT_EINVAL, "unknown split %d", o->split);
    if (o->fine && strcmp(d->name, "cifar100"))
        return ds_fail(d, CDT_EINVAL, "fine labels exist only for cifar100");
    if (o->fit < 0 || o->fit > CDT_FIT_STRETCH)
        return ds_fail(d, CDT_EINVAL, "unknown fit %d", o->fit);
    if ((o->labels || o->files) && strcmp(d->name, "folder"))
        return ds_fail(d, CDT_EINVAL, "folder labels and file lists are for the folder dataset");
    if (o->labels < 0 || o->labels > CDT_LABELS_NONE)
        return ds_fail(d, CDT_EINVAL, "unknown labels mode %d", o->labels);
    return 0;
}

int cdt_dataset_open(const cdt_dataset_opts *o, cdt_dataset **out)
{
    cdt_dataset *d = calloc(1, sizeof *d);
    *out = d;
    if (!d)
        return CDT_ENOMEM;
    d->o = *o;
    d->o.path = NULL;
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        if (o->name && !strcmp(o->name, readers[i].name))
            d->name = readers[i].name;
    if (!d->name)
        return ds_fail(d, CDT_EINVAL, "unknown dataset '%s'", o->name ? o->name : "");
    if (o->path && !(d->path = strdup(o->path)))
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    d->fit = o->fit ? o->fit : !strcmp(d->name, "folder") ? CDT_FIT_CROP : CDT_FIT_STRETCH;
    int rc = check_opts(d);
    for (size_t i = 0; rc == 0 && i < sizeof readers / sizeof readers[0]; i++)
        if (!strcmp(d->name, readers[i].name))
            rc = readers[i].open(d);
    if (rc < 0)
        return rc;
    if (!d->oc)
        d->oc = o->channels ? o->channels : d->c;
    if (!d->oh) {
        d->oh = o->size ? o->size : d->h;
        d->ow = o->size ? o->size : d->w;
    }
    return 0;
}

void cdt_dataset_destroy(cdt_dataset *d)
{
    if (!d)
        return;
    if (d->finish)
        d->finish(d);
    free(d->path);
    free(d->class_names);
    free(d->pix);
    free(d->lab);
    ds_bufs_free(&d->buf);
    free(d);
}

uint64_t cdt_dataset_count(const cdt_dataset *d) { return d->n; }
int cdt_dataset_classes(const cdt_dataset *d) { return d->classes; }
const char *cdt_dataset_class_names(const cdt_dataset *d)
{
    return d->class_names ? d->class_names : "";
}
const char *cdt_dataset_name(const cdt_dataset *d) { return d->name ? d->name : ""; }
int cdt_dataset_fit(const cdt_dataset *d) { return d->fit; }
const char *cdt_dataset_errmsg(const cdt_dataset *d) { return d->err; }
const char *cdt_dataset_hint(const cdt_dataset *d) { return d->hint; }
uint64_t cdt_dataset_skipped(const cdt_dataset *d) { return d->skipped; }
const char *cdt_dataset_skipmsg(const cdt_dataset *d) { return d->skipmsg; }
const char *cdt_dataset_path(const cdt_dataset *d, uint64_t idx)
{
    return d->files && idx < d->n ? d->files[idx] : NULL;
}

void cdt_dataset_shape(const cdt_dataset *d, int *c, int *h, int *w)
{
    *c = d->oc;
    *h = d->oh;
    *w = d->ow;
}

void ds_bufs_free(struct ds_bufs *b)
{
    free(b->conv);
    free(b->scratch);
    memset(b, 0, sizeof *b);
}

/* Channels first, then fitting, as torchvision's Grayscale before Resize
 * would. */
int ds_fit(const cdt_dataset *d, struct ds_bufs *b, const uint8_t *src, int sc, int sh,
           int sw, uint8_t *x)
{
    size_t hw = (size_t)sh * sw;
    int resize = sh != d->oh || sw != d->ow;
    if (sc != d->oc) {
        if (!resize) {
            cdt_channels_u8(x, d->oc, src, sc, hw);
            return 0;
        }
        if (cdt_grow((void **)&b->conv, &b->conv_cap, hw * d->oc))
            return CDT_ENOMEM;
        cdt_channels_u8(b->conv, d->oc, src, sc, hw);
        src = b->conv;
    }
    if (!resize) {
        memcpy(x, src, hw * d->oc);
        return 0;
    }
    size_t need = cdt_fit_scratch(d->oc, sh, sw, d->oh, d->ow) * sizeof(float);
    if (cdt_grow((void **)&b->scratch, &b->scratch_cap, need))
        return CDT_ENOMEM;
    cdt_fit_u8(x, d->oh, d->ow, src, d->oc, sh, sw, d->fit, b->scratch);
    return 0;
}

int ds_deliver(cdt_dataset *d, const uint8_t *src, int sc, int sh, int sw, uint8_t *x)
{
    int rc = ds_fit(d, &d->buf, src, sc, sh, sw, x);
    return rc < 0 ? ds_fail(d, rc, "out of memory") : 0;
}

int cdt_dataset_read(cdt_dataset *d, const uint64_t *idx, size_t n, uint8_t *x,
                     int32_t *y, int64_t *id, size_t *got)
{
    size_t out = (size_t)d->oc * d->oh * d->ow, in = (size_t)d->c * d->h * d->w, k = 0;
    int rc = 0;
    *got = 0;
    if (d->wait) {
        uint64_t need = 0;
        for (size_t i = 0; i < n; i++)
            need = idx[i] >= need ? idx[i] + 1 : need;
        if ((rc = d->wait(d, need)) < 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (idx[i] >= d->n)
            return ds_fail(d, CDT_EINVAL, "sample %llu out of range (%llu samples)",
                           (unsigned long long)idx[i], (unsigned long long)d->n);
    if (d->read_batch)
        return d->read_batch(d, idx, n, x, y, id, got);
    for (size_t i = 0; i < n; i++) {
        if (d->read) {
            rc = d->read(d, idx[i], x + k * out, &y[k]);
            if (rc > 0)
                continue; /* skipped */
        } else {
            rc = ds_deliver(d, d->pix + idx[i] * in, d->c, d->h, d->w, x + k * out);
            y[k] = d->lab[idx[i]];
        }
        if (rc < 0)
            return rc;
        id[k++] = (int64_t)idx[i];
    }
    *got = k;
    return 0;
}
