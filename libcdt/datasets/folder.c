/* folder.c: a folder with one sub-folder per class (ImageNet-10,
 * Tiny-ImageNet's train folder, anything), like torchvision's ImageFolder:
 * classes sorted by name, files sorted by name within a class. Only the
 * file list is kept; images are decoded when read. */
#include "ds.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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

/* The names in dir that are folders (want_dirs) or image files, sorted. */
static int list(cdt_dataset *d, const char *dir, int want_dirs, strvec *out)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return ds_fail(d, CDT_EIO, "cannot read folder %s", dir);
    struct dirent *e;
    char path[8192];
    struct stat st;
    int rc = 0;
    while (rc == 0 && (e = readdir(dp))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) < 0)
            continue;
        if (want_dirs ? S_ISDIR(st.st_mode) : (S_ISREG(st.st_mode) && is_image_name(e->d_name)))
            if (push(out, e->d_name, NULL) < 0)
                rc = ds_fail(d, CDT_ENOMEM, "out of memory");
    }
    closedir(dp);
    if (rc == 0 && out->n)
        qsort(out->v, out->n, sizeof(char *), by_name);
    return rc;
}

static int scan(cdt_dataset *d, strvec *classes, strvec *files, int32_t **labels)
{
    size_t cap = 0;
    int rc = list(d, d->path, 1, classes);
    for (size_t c = 0; rc == 0 && c < classes->n; c++) {
        char dir[8192];
        strvec names = {0};
        snprintf(dir, sizeof dir, "%s/%s", d->path, classes->v[c]);
        rc = list(d, dir, 0, &names);
        for (size_t i = 0; rc == 0 && i < names.n; i++) {
            if (d->o.limit && files->n >= d->o.limit)
                break;
            if (push(files, dir, names.v[i]) < 0 ||
                ds_grow((void **)labels, &cap, files->cap * sizeof(int32_t)))
                rc = ds_fail(d, CDT_ENOMEM, "out of memory");
            else
                (*labels)[files->n - 1] = (int32_t)c;
        }
        strvec_free(&names);
    }
    if (rc == 0 && files->n == 0)
        rc = ds_fail(d, CDT_EDATA, "no class folders with .jpg/.jpeg/.png files (%s)", d->path);
    return rc;
}

/* Without --size every image must have the first one's size: find it. */
static int probe_size(cdt_dataset *d)
{
    for (uint64_t i = 0; i < d->n; i++) {
        int rc = cdt_image_load(d->img, d->files[i], d->oc);
        if (rc == 0) {
            int c;
            cdt_image_pixels(d->img, &c, &d->oh, &d->ow);
            return 0;
        }
        if (!d->o.skip_bad || rc != CDT_EDATA)
            return ds_fail(d, rc, "%s", cdt_image_errmsg(d->img));
    }
    return ds_fail(d, CDT_EDATA, "no image decodes (%s)", d->path);
}

static void folder_finish(cdt_dataset *d)
{
    for (uint64_t i = 0; d->files && i < d->n; i++)
        free(d->files[i]);
    free(d->files);
    free(d->flab);
    cdt_image_destroy(d->img);
}

/* 0: x filled; 1: skipped (skip_bad); < 0: an error. */
static int folder_read(cdt_dataset *d, uint64_t idx, uint8_t *x, int32_t *y)
{
    const char *path = d->files[idx];
    int rc = cdt_image_load(d->img, path, d->oc), c, h, w;
    if (rc == CDT_EDATA || rc == CDT_ELIMIT) {
        if (!d->o.skip_bad)
            return ds_fail(d, rc, "%s", cdt_image_errmsg(d->img));
        snprintf(d->skipmsg, sizeof d->skipmsg, "%s", cdt_image_errmsg(d->img));
        d->skipped++;
        return 1;
    }
    if (rc < 0)
        return ds_fail(d, rc, "%s", cdt_image_errmsg(d->img));
    const uint8_t *px = cdt_image_pixels(d->img, &c, &h, &w);
    if (!d->o.size && (h != d->oh || w != d->ow)) {
        if (!d->o.skip_bad)
            return ds_fail(d, CDT_EDATA, "image is %dx%d, the first was %dx%d; use --size (%s)",
                           w, h, d->ow, d->oh, path);
        snprintf(d->skipmsg, sizeof d->skipmsg, "image is %dx%d, the first was %dx%d (%s)",
                 w, h, d->ow, d->oh, path);
        d->skipped++;
        return 1;
    }
    *y = d->flab[idx];
    return ds_deliver(d, px, c, h, w, x);
}

int ds_open_folder(cdt_dataset *d)
{
    int inet = !strcmp(d->name, "imagenet10");
    d->finish = folder_finish;
    d->read = folder_read;
    if (!d->path)
        return ds_fail(d, CDT_EINVAL, "%s needs a PATH (a folder of class folders)", d->name);
    if (d->o.split != CDT_SPLIT_ALL)
        return ds_fail(d, CDT_EINVAL, "%s has no train/test split: give the split's folder as PATH", d->name);
    struct stat st;
    if (stat(d->path, &st) < 0 || !S_ISDIR(st.st_mode))
        return ds_missing(d, d->path, "PATH must be a folder holding one sub-folder per class "
                          "of .jpg/.jpeg/.png files%s", inet ? " (ImageNet-10: 10 folders of "
                          "1,300 JPEGs each)" : "");
    strvec classes = {0}, files = {0};
    int rc = scan(d, &classes, &files, &d->flab);
    if (rc == 0)
        rc = ds_set_names(d, (const char *const *)classes.v, (int)classes.n);
    strvec_free(&classes);
    d->files = files.v;
    d->n = files.n;
    if (rc < 0)
        return rc;
    d->c = d->oc = d->o.channels ? d->o.channels : 3;
    int size = d->o.size ? d->o.size : inet ? 224 : 0;
    d->o.size = size;
    d->oh = d->ow = size;
    if (!(d->img = cdt_image_create()))
        return ds_fail(d, CDT_ENOMEM, "out of memory");
    return size ? 0 : probe_size(d);
}
