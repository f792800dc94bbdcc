/* thumbs.c: see thumbs.h. */
#include "thumbs.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int thumbs_init(const char *prog, thumbs *t, const rowset *tb)
{
    *t = (thumbs){0};
    t->x = rowset_find(tb, "x");
    t->path = rowset_find(tb, "path");
    if (t->x && (t->x->dtype != CDT_U8 || (t->x->rank != 4 && t->x->rank != 5)))
        cli_die(prog, EX_DATA_, "tensor 'x' is %s rank %d, expected u8 [N,C,H,W]",
                cdt_dtype_name(t->x->dtype), t->x->rank);
    if (t->x) {
        const uint64_t *d = t->x->dim + t->x->rank - 3;
        if ((d[0] != 1 && d[0] != 3) || d[1] < 1 || d[2] < 1 || d[1] > 4096 || d[2] > 4096)
            cli_die(prog, EX_DATA_, "tensor 'x' has images of %llux%llux%llu, expected 1 or 3 "
                    "channels and at most 4096 pixels a side", (unsigned long long)d[0],
                    (unsigned long long)d[1], (unsigned long long)d[2]);
    }
    if (t->path && (t->path->dtype != CDT_U8 || t->path->rank != 2))
        cli_die(prog, EX_DATA_, "tensor 'path' is %s rank %d, expected u8 [N,L]",
                cdt_dtype_name(t->path->dtype), t->path->rank);
    if (t->path) {
        t->name = malloc(t->path->dim[1] + 1);
        if (!t->name)
            cli_die(prog, EX_SOFT_, "out of memory");
    }
    return t->x || t->path;
}

const char *thumbs_path(thumbs *t, uint64_t row)
{
    if (!t->path)
        return "";
    size_t len = t->path->dim[1];
    memcpy(t->name, t->path->data + row * t->path->row_bytes, len);
    t->name[len] = '\0';
    return t->name;
}

const uint8_t *thumbs_get(const char *prog, thumbs *t, uint64_t row, int *c, int *h, int *w)
{
    if (t->x) {
        const uint64_t *d = t->x->dim + t->x->rank - 3;
        *c = (int)d[0];
        *h = (int)d[1];
        *w = (int)d[2];
        return t->x->data + row * t->x->row_bytes;
    }
    if (!t->path)
        return NULL;
    const char *name = thumbs_path(t, row);
    if (!t->im && !(t->im = cdt_image_create()))
        cli_die(prog, EX_SOFT_, "out of memory");
    if (cdt_image_load(t->im, name, 3) < 0) {
        cli_warn(prog, "%s", cdt_image_errmsg(t->im));
        return NULL;
    }
    return cdt_image_pixels(t->im, c, h, w);
}

void thumbs_free(thumbs *t)
{
    cdt_image_destroy(t->im);
    free(t->name);
    *t = (thumbs){0};
}
