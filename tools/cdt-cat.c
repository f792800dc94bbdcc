/* cdt-cat: look inside a tensor stream, check it, and convert tensors to
 * and from NumPy .npy files, CSV, a PNG contact sheet, or a folder per
 * cluster (table.c). */
#include "cli.h"
#include "table.h"
#include "cdt_npy.h"
#include "cdt_png.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *prog = "cdt-cat";

enum { MODE_PRINT, MODE_CHECK, MODE_TO_NPY, MODE_FROM_NPY, MODE_GRID, MODE_CSV, MODE_LINK };

typedef struct opts {
    int mode, verbose, progress, raw, free_form;
    uint64_t head;         /* 0: every frame */
    uint64_t rows;         /* rows per frame for --from-npy */
    uint64_t grid_n;
    const char *output, *input, *to_npy, *grid, *columns;
    table_links links;
    char **pairs;          /* NAME=FILE for --from-npy */
    int npairs;
    cdt_meta *meta;        /* --meta KEY=VALUE */
} opts;

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-cat [options] [FILE]\n"
"       cdt-cat --from-npy NAME=FILE.npy [NAME=FILE.npy ...] [-o OUT]\n"
"Print a tensor stream's meta, frames and totals (FILE or stdin), check it,\n"
"or convert tensors to and from NumPy .npy files.\n"
"  -v, --verbose         also print min, max, mean (and distinct values of\n"
"                        integer tensors, up to 1024) per tensor\n"
"      --head N          read only the first N frames\n"
"  -c, --check           read and verify the whole stream; print one line\n"
"      --progress        with --check: print the read speed on stderr\n"
"                        (on by default when stderr is a terminal)\n"
"      --to-npy NAME     write tensor NAME of every frame, concatenated along\n"
"                        its first dimension, as one .npy\n"
"      --from-npy NAME=FILE.npy\n"
"                        make a stream of .npy arrays sharing their first\n"
"                        dimension (the rows); more NAME=FILE operands may follow\n"
"      --rows N          rows per frame for --from-npy (default 256)\n"
"      --free            --from-npy: one free-form frame (rows 0), any shapes\n"
"      --meta KEY=VALUE  --from-npy: add a meta pair (repeatable)\n"
"      --raw             --from-npy: write without zstd compression\n"
"      --grid FILE.png   draw the first images of tensor x (u8 [N,C,H,W] or\n"
"                        [N,V,C,H,W], 1 or 3 channels) as a contact sheet\n"
"      --grid-n N        images on the sheet (default 64)\n"
"      --csv             print one CSV line per row (RFC 4180 quoting), a\n"
"                        column per rank-1 tensor and per text column (u8\n"
"                        [N,L], e.g. path), text columns first, header first\n"
"      --columns A,B     --csv: these columns, in this order\n"
"      --link-into DIR   for a clustered stream (c, path; rank or dist): make\n"
"                        DIR/cluster-NN/ with a symlink to every file of the\n"
"                        cluster, named RANK_NAME, most central first, and\n"
"                        a contact sheet DIR/cluster-NN-nSIZE.png of its\n"
"                        most central images (SIZE: the cluster's size)\n"
"      --copy            --link-into: copy the files instead of linking\n"
"      --sheet-n N       --link-into: images per sheet (default 64; 0: none)\n"
"      --thumb N         --link-into: sheet cell size in pixels (default 96)\n"
"  -o, --output FILE     where --to-npy and --from-npy write (default stdout)\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

/* ---- statistics for -v ---- */
#define DISTINCT_CAP 1024
#define DISTINCT_SLOTS 2048 /* a power of two, twice the cap */

typedef struct stat_acc {
    char name[CDT_MAX_NAME + 1];
    int dtype;
    uint64_t count, nan;
    double min, max, sum;
    int64_t imin, imax;          /* exact for integer dtypes */
    int64_t keys[DISTINCT_SLOTS];
    unsigned char used[DISTINCT_SLOTS];
    uint64_t distinct;           /* DISTINCT_CAP + 1 means "more" */
} stat_acc;

static void add_distinct(stat_acc *s, int64_t v)
{
    if (s->distinct > DISTINCT_CAP)
        return;
    uint64_t i = ((uint64_t)v * 0x9e3779b97f4a7c15ull) >> 53; /* 11 bits */
    while (s->used[i] && s->keys[i] != v)
        i = (i + 1) & (DISTINCT_SLOTS - 1);
    if (!s->used[i]) {
        s->used[i] = 1, s->keys[i] = v;
        s->distinct++;
    }
}

static void add_int(stat_acc *s, int64_t v)
{
    if (!s->count || v < s->imin)
        s->imin = v;
    if (!s->count || v > s->imax)
        s->imax = v;
    s->sum += (double)v;
    s->count++;
    add_distinct(s, v);
}

static void add_float(stat_acc *s, double v)
{
    if (isnan(v)) {
        s->nan++;
        return;
    }
    if (!s->count || v < s->min)
        s->min = v;
    if (!s->count || v > s->max)
        s->max = v;
    s->sum += v;
    s->count++;
}

static void stats_add(stat_acc *s, const cdt_tensor *t, uint64_t n)
{
    int whole = cdt_dtype_is_int(t->dtype);
    for (uint64_t i = 0; i < n; i++) {
        if (whole) add_int(s, cdt_dtype_int(t->dtype, t->data, i));
        else add_float(s, cdt_dtype_float(t->dtype, t->data, i));
    }
}

static void stats_print(const stat_acc *s)
{
    printf("stats %s %s: %llu values", s->name, cdt_dtype_name(s->dtype),
           (unsigned long long)s->count);
    if (s->count && cdt_dtype_is_int(s->dtype)) {
        printf(", min %lld, max %lld, mean %.6g", (long long)s->imin, (long long)s->imax,
               s->sum / (double)s->count);
        if (s->distinct > DISTINCT_CAP)
            printf(", distinct >%d", DISTINCT_CAP);
        else
            printf(", distinct %llu", (unsigned long long)s->distinct);
    } else if (s->count) {
        printf(", min %.9g, max %.9g, mean %.9g", s->min, s->max, s->sum / (double)s->count);
    }
    if (s->nan)
        printf(", nan %llu", (unsigned long long)s->nan);
    putchar('\n');
}

/* The accumulator for (name, dtype), appended when new. */
static stat_acc *stats_find(stat_acc **all, size_t *n, const cdt_tensor *t)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*all)[i].name, t->name) && (*all)[i].dtype == t->dtype)
            return &(*all)[i];
    stat_acc *p = realloc(*all, (*n + 1) * sizeof *p);
    if (!p)
        cli_die(prog, EX_SOFT_, "out of memory");
    *all = p;
    memset(&p[*n], 0, sizeof *p);
    snprintf(p[*n].name, sizeof p[*n].name, "%s", t->name);
    p[*n].dtype = t->dtype;
    return &p[(*n)++];
}

/* ---- printing and checking ---- */

static void print_shape(const cdt_tensor *t)
{
    printf("%s %s [", t->name, cdt_dtype_name(t->dtype));
    for (int d = 0; d < t->rank; d++)
        printf(d ? ",%llu" : "%llu", (unsigned long long)t->dim[d]);
    putchar(']');
}

static void die_reader(cdt_reader *r, int rc)
{
    char msg[800];
    snprintf(msg, sizeof msg, "%s", cdt_reader_errmsg(r));
    cdt_reader_destroy(r);
    cli_fail(prog, rc, msg);
}

/* Next frame, or 0 at the end (or when --head frames were read). */
static int next_frame(const opts *o, cdt_reader *r, const cdt_frame **f)
{
    if (o->head && cdt_reader_frames(r) >= o->head)
        return 0;
    int rc = cdt_reader_next(r, f);
    if (rc < 0)
        die_reader(r, rc);
    return rc;
}

static void print_totals(cdt_reader *r, int stopped)
{
    uint64_t bytes = cdt_reader_offset(r);
    printf("total: %llu frames, %llu rows, %s, %llu bytes (%.1f MB)%s\n",
           (unsigned long long)cdt_reader_frames(r), (unsigned long long)cdt_reader_rows(r),
           cdt_reader_compressed(r) ? "zstd" : "raw", (unsigned long long)bytes, bytes / 1e6,
           stopped ? " (stopped by --head)" : "");
}

static int cat_print(const opts *o, cdt_reader *r)
{
    const cdt_meta *m = cdt_reader_meta(r);
    for (size_t i = 0; i < cdt_meta_count(m); i++)
        printf("meta %s=%s\n", cdt_meta_key(m, i), cdt_meta_value(m, i));
    stat_acc *stats = NULL;
    size_t nstats = 0;
    const cdt_frame *f;
    while (next_frame(o, r, &f) > 0) {
        printf("frame %llu rows %llu:", (unsigned long long)cdt_reader_frames(r) - 1,
               (unsigned long long)f->rows);
        for (uint32_t i = 0; i < f->count; i++) {
            printf(i ? ", " : " ");
            print_shape(&f->tensors[i]);
            uint64_t n;
            if (o->verbose && cdt_tensor_numel(&f->tensors[i], &n) == 0)
                stats_add(stats_find(&stats, &nstats, &f->tensors[i]), &f->tensors[i], n);
        }
        putchar('\n');
    }
    print_totals(r, o->head && cdt_reader_frames(r) >= o->head);
    for (size_t i = 0; i < nstats; i++)
        stats_print(&stats[i]);
    free(stats);
    return 0;
}

static int cat_check(const opts *o, cdt_reader *r, double t0)
{
    const cdt_frame *f;
    while (next_frame(o, r, &f) > 0)
        ;
    double dt = cli_now() - t0;
    uint64_t bytes = cdt_reader_offset(r);
    printf("ok: %llu frames, %llu rows, %.1f MB\n", (unsigned long long)cdt_reader_frames(r),
           (unsigned long long)cdt_reader_rows(r), bytes / 1e6);
    if (cli_progress_wanted(o->progress))
        fprintf(stderr, "%s: read %.1f MB in %.3f s (%.0f MB/s)\n", prog, bytes / 1e6, dt,
                dt > 0 ? bytes / 1e6 / dt : 0.0);
    return 0;
}

/* ---- --to-npy ---- */

static void die_out(cli_out *out, cdt_reader *r, int code, const char *fmt, const char *name)
    __attribute__((noreturn, format(printf, 4, 0)));
static void die_out(cli_out *out, cdt_reader *r, int code, const char *fmt, const char *name)
{
    cli_out_abort(out);
    cli_warn(prog, fmt, name); /* name may live in r's frame: print first */
    cdt_reader_destroy(r);
    exit(code);
}

/* Same dtype and the same shape after dim[0]. */
static int same_rows(const cdt_tensor *a, int dtype, int rank, const uint64_t *dim)
{
    if (a->dtype != dtype || a->rank != rank)
        return 0;
    for (int d = 1; d < rank; d++)
        if (a->dim[d] != dim[d])
            return 0;
    return 1;
}

static int cat_to_npy(const opts *o, cdt_reader *r)
{
    cli_out out;
    cli_out_open(prog, o->output, &out);
    cdt_npy_writer *w = NULL;
    cdt_tensor first;
    int seen = 0, rc = 0;
    const cdt_frame *f;
    while (rc == 0 && next_frame(o, r, &f) > 0) {
        const cdt_tensor *t = cdt_frame_find(f, o->to_npy);
        if (!t)
            continue;
        if (!cdt_npy_descr(t->dtype))
            die_out(&out, r, EX_DATA_, "tensor '%s' is bf16, which numpy has no dtype for", t->name);
        if (seen && (t->rank == 0 || first.rank == 0))
            die_out(&out, r, EX_DATA_, "tensor '%s' has rank 0 and more than one frame holds it", t->name);
        if (seen && !same_rows(t, first.dtype, first.rank, first.dim))
            die_out(&out, r, EX_DATA_, "tensor '%s' changes dtype or shape between frames", t->name);
        if (!seen++) {
            first = *t;
            rc = t->rank == 0 ? cdt_npy_save_fd(out.fd, t)
                              : cdt_npy_writer_open(out.fd, t->dtype, t->rank, t->dim, &w);
        }
        if (rc == 0 && t->rank > 0)
            rc = cdt_npy_writer_append(w, t->data, t->dim[0]);
    }
    if (!seen)
        die_out(&out, r, EX_DATA_, "no tensor '%s' in the stream", o->to_npy);
    if (rc == 0 && w)
        rc = cdt_npy_writer_close(w);
    cdt_npy_writer_destroy(w);
    if (rc < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "cannot write the .npy output: %s", cdt_strerror(rc));
        cli_out_abort(&out);
        cli_fail(prog, rc, msg);
    }
    cli_out_commit(prog, &out);
    return 0;
}

/* ---- --from-npy ---- */

static void load_pairs(const opts *o, cdt_tensor *t)
{
    for (int i = 0; i < o->npairs; i++) {
        char name[CDT_MAX_NAME + 1], msg[512];
        const char *eq = strchr(o->pairs[i], '=');
        size_t n = eq ? (size_t)(eq - o->pairs[i]) : 0;
        if (!eq || n == 0 || n > CDT_MAX_NAME || !eq[1])
            cli_die(prog, EX_USAGE_, "bad --from-npy operand '%s' (expected NAME=FILE.npy)", o->pairs[i]);
        memcpy(name, o->pairs[i], n);
        name[n] = '\0';
        for (int j = 0; j < i; j++)
            if (!strcmp(t[j].name, name))
                cli_die(prog, EX_USAGE_, "tensor name '%s' given twice", name);
        int rc = cdt_npy_load(eq + 1, name, &t[i], msg, sizeof msg);
        if (rc < 0)
            cli_fail(prog, rc, msg);
        if (!o->free_form && t[i].rank == 0)
            cli_die(prog, EX_DATA_, "%s: a rank-0 array has no rows (use --free)", eq + 1);
        if (!o->free_form && t[i].dim[0] != t[0].dim[0])
            cli_die(prog, EX_DATA_, "%s has %llu rows but %s has %llu (arrays must share dim[0])",
                    eq + 1, (unsigned long long)t[i].dim[0], strchr(o->pairs[0], '=') + 1,
                    (unsigned long long)t[0].dim[0]);
    }
}

/* Frames of o->rows rows (views into the loaded arrays), or one free frame. */
static int write_frames(const opts *o, cdt_writer *w, const cdt_tensor *t, cdt_tensor *view)
{
    if (o->free_form)
        return cdt_writer_frame(w, 0, t, (uint32_t)o->npairs);
    uint64_t total = t[0].dim[0];
    for (uint64_t r0 = 0; r0 < total; r0 += o->rows) {
        uint64_t n = total - r0 < o->rows ? total - r0 : o->rows;
        for (int i = 0; i < o->npairs; i++) {
            uint64_t row_bytes;
            view[i] = t[i];
            view[i].dim[0] = 1;
            cdt_tensor_nbytes(&view[i], &row_bytes); /* checked when loaded */
            view[i].dim[0] = n;
            view[i].data = (char *)t[i].data + r0 * row_bytes;
        }
        int rc = cdt_writer_frame(w, n, view, (uint32_t)o->npairs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cat_from_npy(opts *o)
{
    if (o->npairs > CDT_MAX_TENSORS)
        cli_die(prog, EX_USAGE_, "too many tensors (at most %d)", CDT_MAX_TENSORS);
    cdt_tensor *t = calloc((size_t)o->npairs, sizeof *t);
    cdt_tensor *view = calloc((size_t)o->npairs, sizeof *view);
    cdt_meta *m = cdt_meta_create();
    if (!t || !view || !m)
        cli_die(prog, EX_SOFT_, "out of memory");
    load_pairs(o, t);
    if (cdt_meta_set(m, "producer", "cdt-cat") < 0 ||
        (!o->free_form && cdt_meta_set_i64(m, "rows_total", (int64_t)t[0].dim[0]) < 0) ||
        cdt_meta_merge(m, o->meta) < 0)
        cli_die(prog, EX_SOFT_, "out of memory");
    cli_out out;
    cdt_writer_opts wo;
    cdt_writer *w = NULL;
    cli_writer_opts(prog, o->raw, &wo);
    cli_out_open(prog, o->output, &out);
    int rc = cdt_writer_open_fd(out.fd, m, &wo, &w);
    if (rc == 0)
        rc = write_frames(o, w, t, view);
    if (rc == 0)
        rc = cdt_writer_close(w);
    if (rc < 0) {
        char msg[800];
        snprintf(msg, sizeof msg, "%s", w ? cdt_writer_errmsg(w) : cdt_strerror(rc));
        cli_out_abort(&out);
        cli_fail(prog, rc, msg);
    }
    cli_out_commit(prog, &out);
    cdt_writer_destroy(w);
    for (int i = 0; i < o->npairs; i++)
        free(t[i].data);
    free(t);
    free(view);
    cdt_meta_destroy(m);
    return 0;
}

/* ---- --grid ---- */

/* Copy up to the first o->grid_n images of x into *buf; sets g's sizes. */
static uint64_t gather_images(const opts *o, cdt_reader *r, cdt_png_grid *g, uint8_t **buf)
{
    uint64_t have = 0;
    size_t img = 0;
    const cdt_frame *f;
    while (have < o->grid_n && next_frame(o, r, &f) > 0) {
        const cdt_tensor *x = cdt_frame_find(f, "x");
        if (!x || x->rank == 0 || x->dim[0] == 0)
            continue;
        int v5 = x->rank == 5;
        if (x->dtype != CDT_U8 || (x->rank != 4 && !v5))
            cli_die(prog, EX_DATA_, "--grid needs x as u8 [N,C,H,W] or [N,V,C,H,W], not %s rank %d",
                    cdt_dtype_name(x->dtype), x->rank);
        uint64_t V = v5 ? x->dim[1] : 1, C = x->dim[1 + v5], H = x->dim[2 + v5], W = x->dim[3 + v5];
        if (C != 1 && C != 3)
            cli_die(prog, EX_DATA_, "--grid draws 1 or 3 channels; x has %llu", (unsigned long long)C);
        if (V > 64 || H > 4096 || W > 4096 || !V || !H || !W)
            cli_die(prog, EX_DATA_, "--grid: images of %llux%llu with %llu views are too large",
                    (unsigned long long)H, (unsigned long long)W, (unsigned long long)V);
        if (!img) {
            *g = (cdt_png_grid){0, (int)V, (int)C, (int)H, (int)W, 0, 2};
            img = (size_t)(V * C * H * W);
            if (!(*buf = malloc(img * o->grid_n)))
                cli_die(prog, EX_SOFT_, "out of memory");
        } else if (V != (uint64_t)g->views || C != (uint64_t)g->channels ||
                   H != (uint64_t)g->h || W != (uint64_t)g->w) {
            cli_die(prog, EX_DATA_, "--grid: x changes shape between frames");
        }
        uint64_t n = x->dim[0] < o->grid_n - have ? x->dim[0] : o->grid_n - have;
        memcpy(*buf + have * img, x->data, n * img);
        have += n;
    }
    return have;
}

static int cat_grid(const opts *o, cdt_reader *r)
{
    cdt_png_grid g;
    uint8_t *buf = NULL;
    g.n = gather_images(o, r, &g, &buf);
    if (!g.n)
        cli_die(prog, EX_DATA_, "--grid: no images in tensor x");
    uint32_t sw, sh;
    if (cdt_png_grid_dims(&g, &sw, &sh) < 0)
        cli_die(prog, EX_DATA_, "--grid: the sheet would be over 65535 pixels wide or high");
    cli_out out;
    cli_out_open(prog, o->grid, &out);
    int rc = cdt_png_write_grid(out.fd, &g, buf);
    free(buf);
    if (rc < 0) {
        cli_out_abort(&out);
        cli_fail(prog, rc, rc == CDT_EPIPE ? NULL : "cannot write the PNG");
    }
    cli_out_commit(prog, &out);
    return 0;
}

/* ---- options ---- */

static void set_mode(opts *o, int mode)
{
    if (o->mode != MODE_PRINT && o->mode != mode)
        cli_die(prog, EX_USAGE_, "choose one of --check, --to-npy, --from-npy, --grid, --csv, --link-into");
    o->mode = mode;
}

static void parse_meta(opts *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    char key[256];
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
        cli_die(prog, EX_USAGE_, "bad --meta '%s' (expected KEY=VALUE)", kv);
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    int rc = cdt_meta_set(o->meta, key, eq + 1);
    if (rc == CDT_ENOMEM)
        cli_die(prog, EX_SOFT_, "out of memory");
    if (rc < 0)
        cli_die(prog, EX_USAGE_, "bad --meta '%s' (keys are [a-z0-9_.-]+)", kv);
}

enum { OPT_HEAD = 256, OPT_TO_NPY, OPT_FROM_NPY, OPT_ROWS, OPT_FREE, OPT_META,
       OPT_RAW, OPT_GRID, OPT_GRID_N, OPT_PROGRESS, OPT_VERSION, OPT_CSV, OPT_COLUMNS,
       OPT_LINK, OPT_COPY, OPT_SHEET_N, OPT_THUMB };

static const struct option longopts[] = {
    {"verbose", no_argument, NULL, 'v'},        {"check", no_argument, NULL, 'c'},
    {"output", required_argument, NULL, 'o'},   {"help", no_argument, NULL, 'h'},
    {"head", required_argument, NULL, OPT_HEAD}, {"to-npy", required_argument, NULL, OPT_TO_NPY},
    {"from-npy", required_argument, NULL, OPT_FROM_NPY},
    {"rows", required_argument, NULL, OPT_ROWS}, {"free", no_argument, NULL, OPT_FREE},
    {"meta", required_argument, NULL, OPT_META}, {"raw", no_argument, NULL, OPT_RAW},
    {"grid", required_argument, NULL, OPT_GRID}, {"grid-n", required_argument, NULL, OPT_GRID_N},
    {"progress", no_argument, NULL, OPT_PROGRESS}, {"version", no_argument, NULL, OPT_VERSION},
    {"csv", no_argument, NULL, OPT_CSV}, {"columns", required_argument, NULL, OPT_COLUMNS},
    {"link-into", required_argument, NULL, OPT_LINK}, {"copy", no_argument, NULL, OPT_COPY},
    {"sheet-n", required_argument, NULL, OPT_SHEET_N}, {"thumb", required_argument, NULL, OPT_THUMB},
    {NULL, 0, NULL, 0},
};

static void add_pair(opts *o, char *pair)
{
    char **p = realloc(o->pairs, (size_t)(o->npairs + 1) * sizeof *p);
    if (!p)
        cli_die(prog, EX_SOFT_, "out of memory");
    o->pairs = p;
    o->pairs[o->npairs++] = pair;
}

static void parse_one(opts *o, int c, char *arg)
{
    switch (c) {
    case 'v': o->verbose = 1; break;
    case 'c': set_mode(o, MODE_CHECK); break;
    case 'o': o->output = arg; break;
    case 'h': usage(stdout); exit(0);
    case OPT_HEAD: o->head = cli_u64(prog, "--head", arg, 1, UINT64_MAX); break;
    case OPT_TO_NPY: set_mode(o, MODE_TO_NPY); o->to_npy = arg; break;
    case OPT_FROM_NPY: set_mode(o, MODE_FROM_NPY); add_pair(o, arg); break;
    case OPT_ROWS: o->rows = cli_u64(prog, "--rows", arg, 1, UINT64_MAX); break;
    case OPT_FREE: o->free_form = 1; break;
    case OPT_META: parse_meta(o, arg); break;
    case OPT_RAW: o->raw = 1; break;
    case OPT_GRID: set_mode(o, MODE_GRID); o->grid = arg; break;
    case OPT_GRID_N: o->grid_n = cli_u64(prog, "--grid-n", arg, 1, 4096); break;
    case OPT_PROGRESS: o->progress = 1; break;
    case OPT_VERSION: cli_version(prog, 0); exit(0);
    case OPT_CSV: set_mode(o, MODE_CSV); break;
    case OPT_COLUMNS: o->columns = arg; break;
    case OPT_LINK: set_mode(o, MODE_LINK); o->links.dir = arg; break;
    case OPT_COPY: o->links.copy = 1; break;
    case OPT_SHEET_N: o->links.sheet_n = cli_u64(prog, "--sheet-n", arg, 0, 4096); break;
    case OPT_THUMB: o->links.thumb = (int)cli_int(prog, "--thumb", arg, 8, 1024); break;
    default: usage(stderr); exit(EX_USAGE_);
    }
}

static void parse_args(opts *o, int argc, char **argv)
{
    int c;
    *o = (opts){.rows = 256, .grid_n = 64, .meta = cdt_meta_create(),
                .links = {.sheet_n = 64, .thumb = 96}};
    if (!o->meta)
        cli_die(prog, EX_SOFT_, "out of memory");
    while ((c = getopt_long(argc, argv, "vco:h", longopts, NULL)) != -1)
        parse_one(o, c, optarg);
    for (int i = optind; i < argc; i++) {
        if (o->mode == MODE_FROM_NPY)
            add_pair(o, argv[i]);
        else if (!o->input)
            o->input = argv[i];
        else
            cli_die(prog, EX_USAGE_, "more than one input file ('%s'); see --help", argv[i]);
    }
    if (o->mode != MODE_FROM_NPY && (o->free_form || o->raw || cdt_meta_count(o->meta)))
        cli_die(prog, EX_USAGE_, "--free, --raw and --meta go with --from-npy");
    if (o->columns && o->mode != MODE_CSV)
        cli_die(prog, EX_USAGE_, "--columns goes with --csv");
    if (o->links.copy && o->mode != MODE_LINK)
        cli_die(prog, EX_USAGE_, "--copy goes with --link-into");
    if (o->output && o->mode != MODE_FROM_NPY && o->mode != MODE_TO_NPY)
        cli_die(prog, EX_USAGE_, "-o goes with --to-npy or --from-npy (--grid names its own file)");
}

int main(int argc, char **argv)
{
    opts o;
    parse_args(&o, argc, argv);
    int rc;
    if (o.mode == MODE_FROM_NPY) {
        rc = cat_from_npy(&o);
    } else {
        double t0 = cli_now();
        cdt_reader *r = cli_reader_open(prog, o.input);
        switch (o.mode) {
        case MODE_CHECK: rc = cat_check(&o, r, t0); break;
        case MODE_TO_NPY: rc = cat_to_npy(&o, r); break;
        case MODE_GRID: rc = cat_grid(&o, r); break;
        case MODE_CSV: table_csv(prog, r, o.columns, o.head, stdout); rc = 0; break;
        case MODE_LINK: table_link_into(prog, r, &o.links); rc = 0; break;
        default: rc = cat_print(&o, r); break;
        }
        cdt_reader_destroy(r);
    }
    cdt_meta_destroy(o.meta);
    free(o.pairs);
    if (fflush(stdout) == EOF || ferror(stdout))
        cli_die(prog, EX_IO_, "write error on stdout:");
    return rc;
}
