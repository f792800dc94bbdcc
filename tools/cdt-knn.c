/* cdt-knn: the exact k nearest neighbours of every row of h or f (cosine or
 * Euclidean), of the stream itself or of a second stream's rows; writes nn
 * i64 [N,K] and nn_dist f32 [N,K] with every per-row tensor passed through,
 * and with --dups the groups of near-duplicates. */
#include "cli.h"
#include "rowset.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "cdt-knn";

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-knn [options] [FILE]\n"
"Find the exact K nearest neighbours of every row of tensor h (or f) of a\n"
"stream (FILE or stdin) among its other rows, and write nn i64 [N,K] (their\n"
"row numbers, nearest first; ties: the lower row) and nn_dist f32 [N,K]\n"
"(their distances) with every other per-row tensor (path, c, y, id, ...)\n"
"passed through. Tiles of 512 x 512 rows through one sgemm each (half of\n"
"them: each product serves both rows), the candidates near the K-th checked\n"
"again in double: exact, the same bytes for any --threads. Time O(N^2 D),\n"
"memory O(N (K + 16)) beyond the rows.\n"
"  -k, --k K             neighbours per row (default 10)\n"
"      --on NAME         the f32 [N,D] tensor to search (default h, else f)\n"
"      --metric M        cosine (1 - cosine similarity, the default) or l2\n"
"                        (Euclidean distance)\n"
"      --query FILE      search for the rows of FILE (same tensor and D) among\n"
"                        the rows of the input instead: the output has FILE's\n"
"                        rows and tensors, nn are row numbers of the input\n"
"      --dups T          also write dup_group i32 [N], the group of rows joined\n"
"                        by a neighbour nearer than T (connected components,\n"
"                        numbered in the order of their first rows; -1 for a\n"
"                        row in none), and dup_dist f32 [N], the distance to\n"
"                        the group's first row (0 for it, -1 when alone)\n"
"      --threads N       OpenMP threads (default: all cores)\n"
"  -o, --output FILE     where to write (default stdout)\n"
"      --raw             write without zstd compression\n"
"  -v, --verbose         a summary line on stderr (rows, groups, time)\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

typedef struct opts {
    int k, metric, threads, raw, verbose;
    double dups;  /* < 0: no groups */
    const char *on, *query, *output, *input;
} opts;

enum { O_ON = 256, O_METRIC, O_QUERY, O_DUPS, O_THREADS, O_RAW, O_VERSION };

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"k", 1, 0, 'k'}, {"on", 1, 0, O_ON}, {"metric", 1, 0, O_METRIC},
        {"query", 1, 0, O_QUERY}, {"dups", 1, 0, O_DUPS}, {"threads", 1, 0, O_THREADS},
        {"output", 1, 0, 'o'}, {"raw", 0, 0, O_RAW}, {"verbose", 0, 0, 'v'},
        {"help", 0, 0, 'h'}, {"version", 0, 0, O_VERSION}, {0, 0, 0, 0}};
    *o = (opts){.k = 10, .metric = CDT_KNN_COSINE, .dups = -1};
    int ch;
    while ((ch = getopt_long(argc, argv, "k:o:vh", lo, NULL)) != -1) {
        switch (ch) {
        case 'k': o->k = (int)cli_int(prog, "-k", optarg, 1, 1 << 20); break;
        case O_ON: o->on = optarg; break;
        case O_METRIC:
            if (!strcmp(optarg, "cosine"))
                o->metric = CDT_KNN_COSINE;
            else if (!strcmp(optarg, "l2"))
                o->metric = CDT_KNN_L2;
            else
                cli_die(prog, EX_USAGE_, "bad value for --metric: '%s' (expected cosine or l2)",
                        optarg);
            break;
        case O_QUERY: o->query = optarg; break;
        case O_DUPS: o->dups = cli_double(prog, "--dups", optarg, 0, 1e30); break;
        case O_THREADS: o->threads = (int)cli_int(prog, "--threads", optarg, 1, 4096); break;
        case 'o': o->output = optarg; break;
        case O_RAW: o->raw = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: cli_version(prog, 0); exit(0);
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (o->query && o->dups >= 0)
        cli_die(prog, EX_USAGE_, "--dups groups the rows of one stream: not with --query");
    if (argc - optind > 1)
        cli_die(prog, EX_USAGE_, "one input at most (got %d)", argc - optind);
    o->input = optind < argc ? argv[optind] : NULL;
}

/* The f32 [N,D] rows of tensor on (o->on, else h, else f) of t; what names
 * the stream in messages. All finite. */
static const float *rows_of(const opts *o, const rowset *t, const char *what, const char **on,
                            int *d)
{
    const rowset_col *c = NULL;
    if (o->on)
        c = rowset_find(t, *on = o->on);
    else if (!(c = rowset_find(t, *on = "h")))
        c = rowset_find(t, *on = "f");
    if (!t->n)
        cli_die(prog, EX_DATA_, "%s has no rows", what);
    if (!c)
        cli_die(prog, EX_DATA_, o->on ? "no tensor '%s' in %s" : "no tensor '%s' (nor h) in %s",
                *on, what);
    if (c->dtype != CDT_F32 || c->rank != 2 || c->dim[1] < 1 || c->dim[1] > 1u << 24)
        cli_die(prog, EX_DATA_, "tensor '%s' of %s is %s rank %d, expected f32 [N,D]", *on, what,
                cdt_dtype_name(c->dtype), c->rank);
    if (t->n > INT32_MAX)
        cli_die(prog, EX_DATA_, "%s has %llu rows, more than %d", what, (unsigned long long)t->n,
                INT32_MAX);
    *d = (int)c->dim[1];
    const float *x = (const float *)c->data;
    for (uint64_t i = 0; i < t->n * *d; i++)
        if (!isfinite(x[i]))
            cli_die(prog, EX_DATA_, "%s has a value that is not finite at row %llu of %s", *on,
                    (unsigned long long)(i / *d), what);
    return x;
}

typedef struct result {
    int64_t *nn;       /* (m,k) */
    float *dist;       /* (m,k) */
    int32_t *group;    /* (m) with --dups */
    float *gdist;      /* (m) with --dups */
    int groups;
    uint64_t in_groups;
} result;

static void set_meta(cdt_meta *m, const opts *o, const char *on, uint64_t n, const result *r)
{
    int rc = 0;
    rc |= cdt_meta_set(m, "producer", prog);
    rc |= cdt_meta_set(m, "knn.on", on);
    rc |= cdt_meta_set_i64(m, "knn.k", o->k);
    rc |= cdt_meta_set(m, "knn.metric", o->metric == CDT_KNN_COSINE ? "cosine" : "l2");
    rc |= cdt_meta_set_i64(m, "knn.base_rows", (int64_t)n);
    if (o->query)
        rc |= cdt_meta_set(m, "knn.base", o->input ? o->input : "-");
    if (o->dups >= 0) {
        rc |= cdt_meta_setf(m, "knn.dups", "%g", o->dups);
        rc |= cdt_meta_set_i64(m, "knn.dup_groups", r->groups);
        rc |= cdt_meta_set_i64(m, "knn.dup_rows", (int64_t)r->in_groups);
    }
    if (rc)
        cli_die(prog, EX_SOFT_, "cannot set the output meta");
}

static void write_stream(const opts *o, const rowset *t, const char *on, uint64_t n,
                         const result *r)
{
    cdt_meta *m = cdt_meta_clone(t->meta);
    if (!m)
        cli_die(prog, EX_SOFT_, "out of memory");
    set_meta(m, o, on, n, r);
    uint64_t dim[2] = {t->n, (uint64_t)o->k};
    cdt_tensor add[4];
    cdt_tensor_set(&add[0], "nn", CDT_I64, r->nn, 2, dim);
    cdt_tensor_set(&add[1], "nn_dist", CDT_F32, r->dist, 2, dim);
    if (r->group) {
        cdt_tensor_set(&add[2], "dup_group", CDT_I32, r->group, 1, dim);
        cdt_tensor_set(&add[3], "dup_dist", CDT_F32, r->gdist, 1, dim);
    }
    /* neighbours of neighbours: the new replace the old */
    static const char *const ours[] = {"nn", "nn_dist", "dup_group", "dup_dist", NULL};
    rowset_write(prog, t, o->output, o->raw, m, add, r->group ? 4 : 2, ours);
    cdt_meta_destroy(m);
}

static void *alloc(uint64_t n, size_t size)
{
    uint64_t bytes;
    void *p;
    if (cdt_mul_u64(n ? n : 1, size, &bytes) || !(p = malloc(bytes)))
        cli_die(prog, EX_SOFT_, "out of memory for %llu values", (unsigned long long)n);
    return p;
}

/* Search q (m rows; NULL: the base itself) among b (n rows) of d floats. */
static void search(const opts *o, const float *b, uint64_t n, const float *q, uint64_t m, int d,
                   result *r)
{
    uint64_t need = (uint64_t)o->k + !q;
    if (n < need)
        cli_die(prog, EX_DATA_, "-k %d needs %s%llu rows to search, the input has %llu", o->k,
                q ? "" : "more than ", (unsigned long long)(need - !q), (unsigned long long)n);
    r->nn = alloc(m * (uint64_t)o->k, sizeof *r->nn);
    r->dist = alloc(m * (uint64_t)o->k, sizeof *r->dist);
    cdt_knn_opts ko = {.k = o->k, .metric = o->metric, .threads = o->threads};
    int rc = cdt_knn(b, n, q, m, d, &ko, r->nn, r->dist);
    if (rc == CDT_EDATA)
        cli_die(prog, EX_DATA_, "a row's squared norm overflows a float");
    if (rc < 0)
        cli_fail(prog, rc, "the neighbour search failed");
    if (o->dups < 0)
        return;
    r->group = alloc(m, sizeof *r->group);
    r->gdist = alloc(m, sizeof *r->gdist);
    r->groups = cdt_knn_groups(b, n, d, o->metric, r->nn, r->dist, o->k, (float)o->dups,
                               r->group, r->gdist);
    if (r->groups < 0)
        cli_fail(prog, r->groups, "cannot group the near-duplicates");
    for (uint64_t i = 0; i < m; i++)
        r->in_groups += r->group[i] >= 0;
}

int main(int argc, char **argv)
{
    opts o;
    cli_blas_setup(argv);
    parse(argc, argv, &o);
    if (o.threads)
        omp_set_num_threads(o.threads);
    openblas_set_num_threads(1); /* one sgemm per block of rows, on our threads */
    rowset base, query;
    rowset_read(prog, o.input, &base);
    const char *on, *qon;
    int d, qd;
    const float *b = rows_of(&o, &base, o.input && o.query ? o.input : "the input", &on, &d);
    const float *q = NULL;
    if (o.query) {
        rowset_read(prog, o.query, &query);
        q = rows_of(&o, &query, o.query, &qon, &qd);
        if (strcmp(on, qon) || qd != d)
            cli_die(prog, EX_DATA_, "the query rows are %s of D %d, the input's %s of D %d",
                    qon, qd, on, d);
    }
    const rowset *out = o.query ? &query : &base;
    result r = {0};
    double t0 = cli_now();
    search(&o, b, base.n, q, out->n, d, &r);
    if (cli_progress_wanted(o.verbose)) {
        fprintf(stderr, "%s: %llu rows against %llu, D %d, k %d, %.2f s", prog,
                (unsigned long long)out->n, (unsigned long long)base.n, d, o.k, cli_now() - t0);
        if (r.group)
            fprintf(stderr, ", %d groups of near-duplicates (%llu rows)", r.groups,
                    (unsigned long long)r.in_groups);
        fputc('\n', stderr);
    }
    write_stream(&o, out, on, base.n, &r);
    free(r.nn); free(r.dist); free(r.group); free(r.gdist);
    if (o.query)
        rowset_free(&query);
    rowset_free(&base);
    return 0;
}
