/* rowset.c: see rowset.h. */
#include "rowset.h"
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void add_columns(const char *prog, rowset *t, const cdt_frame *f)
{
    t->col = calloc(f->count ? f->count : 1, sizeof *t->col);
    if (!t->col)
        cli_die(prog, EX_SOFT_, "out of memory");
    for (uint32_t i = 0; i < f->count; i++) {
        const cdt_tensor *s = &f->tensors[i];
        rowset_col *c = &t->col[t->ncol++];
        memcpy(c->name, s->name, sizeof c->name);
        c->dtype = s->dtype;
        c->rank = s->rank;
        memcpy(c->dim, s->dim, sizeof c->dim);
        c->row_bytes = cdt_dtype_size(s->dtype);
        for (int r = 1; r < s->rank; r++)
            c->row_bytes *= s->dim[r];
    }
}

static void check_frame(const char *prog, const rowset *t, const cdt_frame *f, uint64_t frame)
{
    if (f->count != (uint32_t)t->ncol)
        cli_die(prog, EX_DATA_, "frame %llu has %u tensors, the first had %d",
                (unsigned long long)frame, f->count, t->ncol);
    for (int i = 0; i < t->ncol; i++) {
        const rowset_col *c = &t->col[i];
        const cdt_tensor *s = cdt_frame_find(f, c->name);
        if (!s || s->dtype != c->dtype || s->rank != c->rank ||
            memcmp(s->dim + 1, c->dim + 1, (CDT_MAX_RANK - 1) * sizeof *c->dim))
            cli_die(prog, EX_DATA_, "frame %llu: tensor '%s' is missing or differs from the first frame's",
                    (unsigned long long)frame, c->name);
    }
}

static void grow(const char *prog, rowset *t, uint64_t need)
{
    if (need <= t->cap)
        return;
    uint64_t cap = t->cap ? t->cap : 4096;
    while (cap < need)
        cap *= 2;
    for (int i = 0; i < t->ncol; i++) {
        uint64_t bytes;
        void *p;
        if (cdt_mul_u64(cap, t->col[i].row_bytes, &bytes) || !(p = realloc(t->col[i].data, bytes)))
            cli_die(prog, EX_SOFT_, "out of memory for %llu rows of '%s'", (unsigned long long)cap,
                    t->col[i].name);
        t->col[i].data = p;
    }
    t->cap = cap;
}

void rowset_read(const char *prog, const char *path, rowset *t)
{
    *t = (rowset){0};
    cdt_reader *r = cli_reader_open(prog, path);
    if (!(t->meta = cdt_meta_clone(cdt_reader_meta(r))))
        cli_die(prog, EX_SOFT_, "out of memory");
    const cdt_frame *f;
    int rc;
    while ((rc = cdt_reader_next(r, &f)) > 0) {
        if (!f->rows)
            continue;
        if (!t->col)
            add_columns(prog, t, f);
        check_frame(prog, t, f, cdt_reader_frames(r) - 1);
        grow(prog, t, t->n + f->rows);
        for (int i = 0; i < t->ncol; i++) {
            rowset_col *c = &t->col[i];
            memcpy(c->data + t->n * c->row_bytes, cdt_frame_find(f, c->name)->data,
                   f->rows * c->row_bytes);
        }
        t->n += f->rows;
    }
    if (rc < 0)
        cli_fail(prog, rc, cdt_reader_errmsg(r));
    cdt_reader_destroy(r);
    for (int i = 0; i < t->ncol; i++)
        t->col[i].dim[0] = t->n;
}

const rowset_col *rowset_find(const rowset *t, const char *name)
{
    for (int i = 0; i < t->ncol; i++)
        if (!strcmp(t->col[i].name, name))
            return &t->col[i];
    return NULL;
}

const void *rowset_vec(const char *prog, const rowset *t, const char *name, int dtype)
{
    const rowset_col *c = rowset_find(t, name);
    if (!c)
        return NULL;
    if (c->dtype != dtype || c->rank != 1)
        cli_die(prog, EX_DATA_, "tensor '%s' is %s rank %d, expected %s [N]", name,
                cdt_dtype_name(c->dtype), c->rank, cdt_dtype_name(dtype));
    return c->data;
}

void rowset_free(rowset *t)
{
    for (int i = 0; i < t->ncol; i++)
        free(t->col[i].data);
    free(t->col);
    cdt_meta_destroy(t->meta);
    *t = (rowset){0};
}

static int named(const char *name, const cdt_tensor *add, int nadd, const char *const *drop)
{
    for (int i = 0; i < nadd; i++)
        if (!strcmp(name, add[i].name)) return 1;
    for (; drop && *drop; drop++)
        if (!strcmp(name, *drop)) return 1;
    return 0;
}

void rowset_write(const char *prog, const rowset *t, const char *path, int raw,
                  const cdt_meta *m, const cdt_tensor *add, int nadd, const char *const *drop)
{
    cli_out out;
    cli_out_open(prog, path, &out);
    cdt_writer_opts wo;
    cli_writer_opts(prog, raw, &wo);
    cdt_writer *w = NULL;
    int rc = cdt_writer_open_fd(out.fd, m, &wo, &w);
    if (rc < 0)
        cli_fail(prog, rc, w ? cdt_writer_errmsg(w) : NULL);
    cdt_tensor *ts = calloc((size_t)t->ncol + (size_t)nadd, sizeof *ts);
    if (!ts)
        cli_die(prog, EX_SOFT_, "out of memory");
    const uint64_t step = 65536;
    for (uint64_t i = 0; i < t->n; i += step) {
        uint64_t rows = t->n - i < step ? t->n - i : step, cd[CDT_MAX_RANK];
        uint32_t nt = 0;
        for (int a = 0; a < nadd; a++) {
            size_t row_bytes = cdt_dtype_size(add[a].dtype);
            for (int k = 1; k < add[a].rank; k++) row_bytes *= add[a].dim[k];
            memcpy(cd, add[a].dim, sizeof cd);
            cd[0] = rows;
            cdt_tensor_set(&ts[nt++], add[a].name, add[a].dtype,
                           (uint8_t *)add[a].data + i * row_bytes, add[a].rank, cd);
        }
        for (int c = 0; c < t->ncol; c++) {
            const rowset_col *col = &t->col[c];
            if (named(col->name, add, nadd, drop))
                continue;
            memcpy(cd, col->dim, sizeof cd);
            cd[0] = rows;
            cdt_tensor_set(&ts[nt++], col->name, col->dtype, col->data + i * col->row_bytes,
                           col->rank, cd);
        }
        if ((rc = cdt_writer_frame(w, rows, ts, nt)) < 0)
            cli_fail(prog, rc, cdt_writer_errmsg(w));
    }
    free(ts);
    if ((rc = cdt_writer_close(w)) < 0)
        cli_fail(prog, rc, cdt_writer_errmsg(w));
    cdt_writer_destroy(w);
    cli_out_commit(prog, &out);
}
