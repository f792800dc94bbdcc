/* table.c: see table.h. */
#include "table.h"
#include "cdt_png.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EX_CANTCREAT_ = 73 };

static int is_text(const cdt_tensor *t) { return t->dtype == CDT_U8 && t->rank == 2; }

/* ---- CSV ---- */

/* A field, quoted as RFC 4180 asks when it holds a comma, a quote or a
 * line break. */
static void put_field(FILE *out, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        quote |= s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, out);
        return;
    }
    putc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            putc('"', out);
        putc(s[i], out);
    }
    putc('"', out);
}

static void put_value(FILE *out, const cdt_tensor *t, uint64_t i)
{
    const unsigned char *p = t->data;
    if (is_text(t)) {
        const char *s = (const char *)p + i * t->dim[1];
        put_field(out, s, strnlen(s, (size_t)t->dim[1]));
        return;
    }
    if (cdt_dtype_is_int(t->dtype))
        fprintf(out, "%lld", (long long)cdt_dtype_int(t->dtype, p, (size_t)i));
    else
        fprintf(out, t->dtype == CDT_F64 ? "%.17g" : "%.9g", cdt_dtype_float(t->dtype, p, (size_t)i));
}

typedef struct cols { char **name; size_t n; } cols;

static void cols_add(const char *prog, cols *c, const char *s, size_t n)
{
    char **v = realloc(c->name, (c->n + 1) * sizeof *v);
    if (!v || !(v[c->n] = strndup(s, n)))
        cli_die(prog, EX_SOFT_, "out of memory");
    c->name = v;
    c->n++;
}

/* The columns: as asked, or the first frame's text columns then its other
 * rank-1 tensors. */
static void pick_columns(const char *prog, const cdt_frame *f, const char *want, cols *c)
{
    if (want) {
        for (const char *s = want; *s;) {
            size_t n = strcspn(s, ",");
            if (!n)
                cli_die(prog, EX_USAGE_, "bad value for --columns: '%s' (an empty name)", want);
            cols_add(prog, c, s, n);
            s += n + (s[n] == ',');
        }
        return;
    }
    for (int text = 1; text >= 0; text--)
        for (uint32_t i = 0; i < f->count; i++)
            if (text ? is_text(&f->tensors[i]) : f->tensors[i].rank == 1)
                cols_add(prog, c, f->tensors[i].name, strlen(f->tensors[i].name));
}

void table_csv(const char *prog, cdt_reader *r, const char *columns, uint64_t head, FILE *out)
{
    cols c = {0};
    const cdt_frame *f;
    const cdt_tensor **t = NULL;
    int rc, header = 0;
    while ((!head || cdt_reader_frames(r) < head) && (rc = cdt_reader_next(r, &f)) != 0) {
        if (rc < 0)
            cli_fail(prog, rc, cdt_reader_errmsg(r));
        if (!f->rows)
            continue;
        if (!c.n) {
            pick_columns(prog, f, columns, &c);
            if (!c.n)
                cli_die(prog, EX_DATA_, "--csv: no rank-1 or text tensors in the stream");
            if (!(t = malloc(c.n * sizeof *t)))
                cli_die(prog, EX_SOFT_, "out of memory");
        }
        for (size_t j = 0; j < c.n; j++) {
            t[j] = cdt_frame_find(f, c.name[j]);
            if (!t[j] || (t[j]->rank != 1 && !is_text(t[j])))
                cli_die(prog, EX_DATA_, "--csv: frame %llu has no %s '%s'",
                        (unsigned long long)cdt_reader_frames(r) - 1,
                        t[j] ? "rank-1 or text tensor" : "tensor", c.name[j]);
        }
        for (size_t j = 0; !header && j < c.n; j++) {
            put_field(out, c.name[j], strlen(c.name[j]));
            putc(j + 1 < c.n ? ',' : '\n', out);
        }
        header = 1;
        for (uint64_t i = 0; i < f->rows; i++)
            for (size_t j = 0; j < c.n; j++) {
                put_value(out, t[j], i);
                putc(j + 1 < c.n ? ',' : '\n', out);
            }
    }
    if (!c.n)
        cli_die(prog, EX_DATA_, "--csv: the stream has no rows");
    for (size_t j = 0; j < c.n; j++)
        free(c.name[j]);
    free(c.name);
    free(t);
}

/* ---- a folder per cluster ---- */

typedef struct row {
    int32_t c;
    double key;   /* rank, or dist, or the row number */
    uint64_t i;
    char *path;
} row;

static int by_place(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->c != y->c)
        return x->c < y->c ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static double key_of(const cdt_tensor *rank, const cdt_tensor *dist, uint64_t i, uint64_t row)
{
    if (rank) {
        int32_t v;
        memcpy(&v, (const char *)rank->data + 4 * i, 4);
        return v;
    }
    if (dist) {
        float v;
        memcpy(&v, (const char *)dist->data + 4 * i, 4);
        return v;
    }
    return (double)row;
}

static row *read_rows(const char *prog, cdt_reader *r, uint64_t *n)
{
    row *v = NULL;
    uint64_t cap = 0;
    const cdt_frame *f;
    int rc;
    *n = 0;
    while ((rc = cdt_reader_next(r, &f)) != 0) {
        if (rc < 0)
            cli_fail(prog, rc, cdt_reader_errmsg(r));
        if (!f->rows)
            continue;
        const cdt_tensor *c = cdt_frame_find(f, "c"), *p = cdt_frame_find(f, "path");
        const cdt_tensor *rk = cdt_frame_find(f, "rank"), *d = cdt_frame_find(f, "dist");
        if (!c || c->dtype != CDT_I32 || c->rank != 1 || !p || !is_text(p))
            cli_die(prog, EX_DATA_, "--link-into needs c i32 [N] and path u8 [N,L] (cdt-ingest "
                    "folder | cdt-embed | cdt-cluster gives both)");
        rk = rk && rk->dtype == CDT_I32 && rk->rank == 1 ? rk : NULL;
        d = d && d->dtype == CDT_F32 && d->rank == 1 ? d : NULL;
        for (uint64_t i = 0; i < f->rows; i++) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 1024;
                if (!(v = realloc(v, cap * sizeof *v)))
                    cli_die(prog, EX_SOFT_, "out of memory");
            }
            const char *s = (const char *)p->data + i * p->dim[1];
            int32_t cl;
            memcpy(&cl, (const char *)c->data + 4 * i, 4);
            if (cl < 0 || cl > 99999999)
                cli_die(prog, EX_DATA_, "--link-into: cluster %d out of range", cl);
            v[*n] = (row){cl, key_of(rk, d, i, *n), *n, strndup(s, (size_t)p->dim[1])};
            if (!v[*n].path)
                cli_die(prog, EX_SOFT_, "out of memory");
            if (!*v[*n].path)
                cli_die(prog, EX_DATA_, "--link-into: row %llu has an empty path",
                        (unsigned long long)*n);
            ++*n;
        }
    }
    if (!*n)
        cli_die(prog, EX_DATA_, "--link-into: the stream has no rows");
    qsort(v, (size_t)*n, sizeof *v, by_place);
    return v;
}

static int digits(uint64_t v)
{
    int d = 1;
    while (v >= 10)
        v /= 10, d++;
    return d;
}

static void copy_file(const char *prog, const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (in < 0)
        cli_die(prog, EX_NOINPUT_, "cannot open %s:", from);
    if (out < 0)
        cli_die(prog, EX_CANTCREAT_, "cannot create %s:", to);
    char buf[1 << 16];
    ssize_t got;
    while ((got = read(in, buf, sizeof buf)) > 0)
        if (cdt_write_all(out, buf, (size_t)got) < 0)
            cli_die(prog, EX_IO_, "cannot write %s:", to);
    if (got < 0)
        cli_die(prog, EX_IO_, "cannot read %s:", from);
    close(in);
    if (close(out) < 0)
        cli_die(prog, EX_IO_, "cannot write %s:", to);
}

static void place(const char *prog, const table_links *o, const row *v, const char *sub, int pd,
                  uint64_t k)
{
    const char *base = strrchr(v->path, '/');
    base = base ? base + 1 : v->path;
    char to[PATH_MAX + 64], abs[PATH_MAX];
    if (snprintf(to, sizeof to, "%s/%0*llu_%s", sub, pd, (unsigned long long)k, base) >= (int)sizeof to)
        cli_die(prog, EX_CANTCREAT_, "path too long in %s", sub);
    if (o->copy) {
        copy_file(prog, v->path, to);
        return;
    }
    if (!realpath(v->path, abs))
        cli_die(prog, EX_NOINPUT_, "cannot find %s:", v->path);
    if (symlink(abs, to) < 0)
        cli_die(prog, EX_CANTCREAT_, "cannot make the link %s:", to);
}

/* The sheet of rows v[0..n) (the most central first). */
static void sheet(const char *prog, const table_links *o, const row *v, uint64_t n,
                  const char *path)
{
    int t = o->thumb;
    size_t one = (size_t)3 * t * t, cap = 0;
    uint8_t *x = malloc(one * n);
    float *scratch = NULL;
    cdt_image *im = cdt_image_create();
    if (!x || !im)
        cli_die(prog, EX_SOFT_, "out of memory");
    cdt_image_set_min_size(im, 2 * t, 0);
    for (uint64_t i = 0; i < n; i++) {
        int c, h, w;
        int rc = cdt_image_load(im, v[i].path, 3);
        if (rc < 0)
            cli_fail(prog, rc, cdt_image_errmsg(im));
        const uint8_t *px = cdt_image_pixels(im, &c, &h, &w);
        size_t need = cdt_fit_scratch(3, h, w, t, t);
        if (need > cap) {
            free(scratch);
            if (!(scratch = malloc(need * sizeof *scratch)))
                cli_die(prog, EX_SOFT_, "out of memory");
            cap = need;
        }
        cdt_fit_u8(x + i * one, t, t, px, 3, h, w, CDT_FIT_CROP, scratch);
    }
    cdt_png_grid g = {n, 1, 3, t, t, 0, 2};
    cli_out out;
    cli_out_open(prog, path, &out);
    int rc = cdt_png_write_grid(out.fd, &g, x);
    if (rc < 0) {
        cli_out_abort(&out);
        cli_fail(prog, rc, "cannot write the sheet");
    }
    cli_out_commit(prog, &out);
    cdt_image_destroy(im);
    free(scratch);
    free(x);
}

static void make_dir(const char *prog, const char *dir, int must_be_empty)
{
    if (mkdir(dir, 0777) == 0)
        return;
    struct stat st;
    if (errno != EEXIST || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        cli_die(prog, EX_CANTCREAT_, "cannot make the folder %s:", dir);
    DIR *d = must_be_empty ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            cli_die(prog, EX_CANTCREAT_, "%s is not empty; remove it or name another folder", dir);
    if (d)
        closedir(d);
}

void table_link_into(const char *prog, cdt_reader *r, const table_links *o)
{
    uint64_t n;
    row *v = read_rows(prog, r, &n);
    int cd = digits((uint64_t)v[n - 1].c);
    cd = cd < 2 ? 2 : cd;
    make_dir(prog, o->dir, 1);
    for (uint64_t a = 0, b; a < n; a = b) {
        for (b = a; b < n && v[b].c == v[a].c; b++)
            ;
        char sub[PATH_MAX], png[PATH_MAX + 32];
        if (snprintf(sub, sizeof sub, "%s/cluster-%0*d", o->dir, cd, v[a].c) >= (int)sizeof sub)
            cli_die(prog, EX_CANTCREAT_, "path too long: %s", o->dir);
        make_dir(prog, sub, 1);
        int pd = digits(b - a - 1) < 4 ? 4 : digits(b - a - 1);
        for (uint64_t i = a; i < b; i++)
            place(prog, o, &v[i], sub, pd, i - a);
        snprintf(png, sizeof png, "%s-n%llu.png", sub, (unsigned long long)(b - a));
        if (o->sheet_n)
            sheet(prog, o, v + a, b - a < o->sheet_n ? b - a : o->sheet_n, png);
    }
    for (uint64_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}
