/* cdt-cluster: k-means on the embeddings of a stream (h or f); writes the
 * cluster of every row (c), its distance to the centre (dist) and its rank
 * in the cluster (rank), with every other per-row tensor passed through,
 * one output frame per input frame. */
#include "cli.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "cdt-cluster";

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-cluster [-k K] [options] [FILE]\n"
"Cluster the rows of tensor h (or f) of a stream (FILE or stdin) with k-means\n"
"and write c i32 [N] (the cluster, 0..K-1), dist f32 [N] (the distance to its\n"
"centre) and rank i32 [N] (0 = the row nearest its centre in its cluster),\n"
"with every other per-row tensor (y, id, path, ...) passed through; meta\n"
"cluster.sizes lists the clusters' sizes.\n"
"Seeding is sklearn's greedy k-means++ (2 + ln K candidates per centre);\n"
"Lloyd iterations; the restart with the lowest inertia is kept.\n"
"  -k, --k K             clusters; without it K is chosen over --k-range by the\n"
"                        mean silhouette on a sample of the rows\n"
"      --k-range A..B    the K tried when -k is not given (default 2..30)\n"
"      --sample N        rows in the silhouette sample (default 3000)\n"
"      --on h|f          the tensor to cluster (default h)\n"
"      --restarts N      independent runs (default 10)\n"
"      --max-iter N      Lloyd iterations per run (default 300)\n"
"      --tol X           stop when the squared centre shift is <= X times the\n"
"                        mean feature variance (default 1e-4)\n"
"      --seed S          random seed (default 0)\n"
"      --normalize       scale every row to unit L2 norm first\n"
"      --centroids FILE  also write the centres: a stream with one frame of K\n"
"                        rows, tensors c i32 [K] and h (or f) f32 [K,D]\n"
"      --use-centroids FILE  no k-means: give every row the nearest of the\n"
"                        centres in FILE (as --centroids writes them; same\n"
"                        tensor, same D; rows normalized when they were), by\n"
"                        k-means' own distances and tie rule: the rows the\n"
"                        centres came from get their k-means labels back\n"
"  -o, --output FILE     where to write (default stdout)\n"
"  -v, --verbose         print the silhouette of every k tried on stderr\n"
"      --raw             write without zstd compression\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

typedef struct opts {
    int k, klo, khi, restarts, max_iter, normalize, raw, verbose;
    uint64_t seed, sample;
    double tol;
    const char *on, *output, *centroids, *use, *input;
} opts;

/* An input frame's per-row tensors but the clustered one and our own
 * outputs, copied (the reader reuses its buffers), to pass through. */
typedef struct kept {
    uint64_t rows;
    uint32_t count;
    cdt_tensor *t;     /* [count], data owned */
} kept;

/* The rows read: x (n,d) of tensor on, and the frames to pass through. */
typedef struct data {
    float *x;
    uint64_t n, cap;
    int d;
    kept *frames;
    uint64_t nframes, fcap;
    cdt_meta *meta;
} data;

static void *grow(void *p, uint64_t n, size_t size)
{
    uint64_t bytes;
    if (cdt_mul_u64(n, size, &bytes) || !(p = realloc(p, bytes)))
        cli_die(prog, EX_SOFT_, "out of memory for %llu rows", (unsigned long long)n);
    return p;
}

static int is_ours(const char *name, const char *on)
{
    return !strcmp(name, on) || !strcmp(name, "c") || !strcmp(name, "dist") || !strcmp(name, "rank");
}

static void keep_frame(data *s, const cdt_frame *f, const char *on)
{
    if (s->nframes == s->fcap) {
        s->fcap = s->fcap ? 2 * s->fcap : 64;
        s->frames = grow(s->frames, s->fcap, sizeof *s->frames);
    }
    kept *k = &s->frames[s->nframes++];
    *k = (kept){.rows = f->rows, .t = grow(NULL, f->count ? f->count : 1, sizeof *k->t)};
    for (uint32_t i = 0; i < f->count; i++) {
        const cdt_tensor *t = &f->tensors[i];
        uint64_t nb;
        if (is_ours(t->name, on) || cdt_tensor_nbytes(t, &nb) < 0)
            continue;
        k->t[k->count] = *t;
        k->t[k->count].data = grow(NULL, nb ? nb : 1, 1);
        memcpy(k->t[k->count++].data, t->data, (size_t)nb);
    }
}

static void append(data *s, const cdt_frame *f, const cdt_tensor *x, const char *on,
                   uint64_t frame)
{
    if (x->dtype != CDT_F32 || x->rank != 2 || x->dim[1] < 1 || x->dim[1] > 1u << 24)
        cli_die(prog, EX_DATA_, "tensor '%s' is %s rank %d, expected f32 [N,D] (frame %llu)",
                on, cdt_dtype_name(x->dtype), x->rank, (unsigned long long)frame);
    if (s->n == 0 && s->cap == 0)
        s->d = (int)x->dim[1];
    if ((int)x->dim[1] != s->d)
        cli_die(prog, EX_DATA_, "frame %llu differs from the first in D", (unsigned long long)frame);
    if (s->n + f->rows > s->cap) {
        uint64_t cap = s->cap ? s->cap : 4096;
        while (cap < s->n + f->rows)
            cap *= 2;
        s->x = grow(s->x, cap * (uint64_t)s->d, sizeof *s->x);
        s->cap = cap;
    }
    memcpy(s->x + s->n * s->d, x->data, f->rows * s->d * sizeof *s->x);
    for (uint64_t i = 0; i < f->rows * s->d; i++)
        if (!isfinite(s->x[s->n * s->d + i]))
            cli_die(prog, EX_DATA_, "%s has a value that is not finite at row %llu (frame %llu)",
                    on, (unsigned long long)(s->n + i / s->d), (unsigned long long)frame);
    keep_frame(s, f, on);
    s->n += f->rows;
}

static void read_data(const opts *o, data *s)
{
    cdt_reader *r = cli_reader_open(prog, o->input);
    s->meta = cdt_meta_clone(cdt_reader_meta(r));
    if (!s->meta)
        cli_die(prog, EX_SOFT_, "out of memory");
    const cdt_frame *f;
    int rc;
    while ((rc = cdt_reader_next(r, &f)) > 0) {
        if (!f->rows)
            continue;
        const cdt_tensor *x = cdt_frame_find(f, o->on);
        if (!x)
            cli_die(prog, EX_DATA_, "no tensor '%s' in frame %llu (byte %llu)", o->on,
                    (unsigned long long)cdt_reader_frames(r) - 1,
                    (unsigned long long)cdt_reader_offset(r));
        append(s, f, x, o->on, cdt_reader_frames(r) - 1);
    }
    if (rc < 0)
        cli_fail(prog, rc, cdt_reader_errmsg(r));
    cdt_reader_destroy(r);
    if (!s->n)
        cli_die(prog, EX_DATA_, "no rows to cluster");
}

static void normalize_rows(data *s)
{
    for (uint64_t i = 0; i < s->n; i++) {
        float *v = s->x + i * s->d;
        double t = 0;
        for (int j = 0; j < s->d; j++)
            t += (double)v[j] * v[j];
        if (t > 0)
            for (int j = 0; j < s->d; j++)
                v[j] = (float)(v[j] / sqrt(t));
    }
}

typedef struct result {
    int k;
    int32_t *labels;  /* (n) */
    float *cen;       /* (k,d) */
    float *dist;      /* (n) to the own centre */
    int32_t *rank;    /* (n) within the own cluster, by dist */
    uint64_t *sizes;  /* (k) */
    cdt_kmeans_result km;
    double silhouette;
    char *by_k;       /* "k:silhouette,..." when k was chosen */
} result;

static void run_kmeans(const opts *o, const data *s, int k, result *res)
{
    cdt_kmeans_opts ko = {.k = k, .restarts = o->restarts, .max_iter = o->max_iter,
                          .tol = o->tol, .seed = o->seed};
    res->k = k;
    res->labels = grow(res->labels, s->n, sizeof *res->labels);
    res->cen = grow(res->cen, (uint64_t)k * s->d, sizeof *res->cen);
    int rc = cdt_kmeans(s->x, s->n, s->d, &ko, res->labels, res->cen, &res->km);
    if (rc < 0)
        cli_fail(prog, rc, "k-means failed");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The silhouette sample: all rows, or --sample rows drawn without
 * replacement (seed, CDT_RNG_KMEANS, 0, 1, 0), kept in row order. */
static uint64_t *draw_sample(const opts *o, uint64_t n, int *s)
{
    uint64_t *perm = grow(NULL, n, sizeof *perm);
    *s = (int)(n < o->sample ? n : o->sample);
    cdt_rng r;
    cdt_rng_init(&r, o->seed, CDT_RNG_KMEANS, 0, 1, 0);
    if ((uint64_t)*s < n)
        cdt_rng_permute(&r, perm, n);
    else
        for (uint64_t i = 0; i < n; i++)
            perm[i] = i;
    qsort(perm, (size_t)*s, sizeof *perm, cmp_u64);
    return perm;
}

/* The centres of --use-centroids: every frame's f32 [rows,D] tensor o->on,
 * D as the rows'; the meta's cluster.normalize says whether rows must be
 * normalized as they were. */
static void read_centres(opts *o, int d, result *res)
{
    cdt_reader *r = cli_reader_open(prog, o->use);
    const cdt_frame *f;
    const char *other = strcmp(o->on, "h") ? "h" : "f";
    int rc;
    uint64_t k = 0;
    while ((rc = cdt_reader_next(r, &f)) > 0) {
        if (!f->rows)
            continue;
        const cdt_tensor *c = cdt_frame_find(f, o->on);
        if (!c && cdt_frame_find(f, other))
            cli_die(prog, EX_DATA_, "%s holds centres of %s, not of %s (--on %s?)", o->use,
                    other, o->on, other);
        if (!c)
            cli_die(prog, EX_DATA_, "%s has no tensor '%s': not a file of centres", o->use, o->on);
        if (c->dtype != CDT_F32 || c->rank != 2 || c->dim[1] != (uint64_t)d)
            cli_die(prog, EX_DATA_, "%s: the centres are %s rank %d D %llu, the rows f32 D %d",
                    o->use, cdt_dtype_name(c->dtype), c->rank,
                    (unsigned long long)(c->rank == 2 ? c->dim[1] : 0), d);
        if (k + f->rows > 1 << 20)
            cli_die(prog, EX_DATA_, "%s has more than %d centres", o->use, 1 << 20);
        res->cen = grow(res->cen, (k + f->rows) * d, sizeof *res->cen);
        memcpy(res->cen + k * d, c->data, f->rows * d * sizeof *res->cen);
        k += f->rows;
    }
    if (rc < 0)
        cli_fail(prog, rc, cdt_reader_errmsg(r));
    if (!k)
        cli_die(prog, EX_DATA_, "%s holds no centres", o->use);
    for (uint64_t i = 0; i < k * d; i++)
        if (!isfinite(res->cen[i]))
            cli_die(prog, EX_DATA_, "%s: centre %llu has a value that is not finite", o->use,
                    (unsigned long long)(i / d));
    const char *nz = cdt_meta_get(cdt_reader_meta(r), "cluster.normalize");
    if (nz && !strcmp(nz, "1"))
        o->normalize = 1;
    cdt_reader_destroy(r);
    res->k = (int)k;
}

/* Every row to its nearest given centre. */
static void assign(const data *s, result *res)
{
    res->labels = grow(res->labels, s->n, sizeof *res->labels);
    int rc = cdt_kmeans_assign(s->x, s->n, s->d, res->cen, res->k, 0, res->labels);
    if (rc < 0)
        cli_fail(prog, rc, "cannot assign the rows");
}

/* k over --k-range with the highest mean silhouette (ties: the smaller k). */
static void choose_k(const opts *o, const data *s, result *best)
{
    int ns, khi = o->khi;
    uint64_t *pick = draw_sample(o, s->n, &ns);
    if ((uint64_t)khi > s->n - 1)
        khi = (int)(s->n - 1);
    if (khi < o->klo || ns < 3)
        cli_die(prog, EX_DATA_, "%llu rows are too few to choose k in %d..%d",
                (unsigned long long)s->n, o->klo, o->khi);
    float *xs = grow(NULL, (uint64_t)ns * s->d, sizeof *xs);
    float *dist = grow(NULL, (uint64_t)ns * ns, sizeof *dist);
    int32_t *ls = grow(NULL, (uint64_t)ns, sizeof *ls);
    for (int i = 0; i < ns; i++)
        memcpy(xs + (size_t)i * s->d, s->x + pick[i] * s->d, (size_t)s->d * sizeof *xs);
    if (cdt_pairwise_dist(xs, ns, s->d, dist) < 0)
        cli_die(prog, EX_SOFT_, "out of memory for the silhouette sample");
    size_t cap = (size_t)(khi - o->klo + 1) * 32 + 1, len = 0;
    best->by_k = grow(NULL, cap, 1);
    best->by_k[0] = '\0';
    best->silhouette = -2;
    result cur = {0};
    for (int k = o->klo; k <= khi; k++) {
        run_kmeans(o, s, k, &cur);
        for (int i = 0; i < ns; i++)
            ls[i] = cur.labels[pick[i]];
        if (cdt_silhouette(dist, ls, ns, k, &cur.silhouette) < 0)
            cli_die(prog, EX_SOFT_, "out of memory for the silhouette");
        len += (size_t)snprintf(best->by_k + len, cap - len, "%s%d:%.4f", len ? "," : "", k,
                                cur.silhouette);
        if (o->verbose)
            fprintf(stderr, "%s: k %d: silhouette %.4f\n", prog, k, cur.silhouette);
        if (cur.silhouette > best->silhouette) {
            result t = *best;
            *best = cur;
            best->by_k = t.by_k;
            cur = t;
            cur.by_k = NULL;
        }
    }
    free(cur.labels); free(cur.cen); free(xs); free(dist); free(ls); free(pick);
}

/* Rows of one cluster sorted by (dist, row), for rank. */
typedef struct row_dist { float d; uint64_t i; } row_dist;

static int cmp_rows(const void *a, const void *b)
{
    const row_dist *x = a, *y = b;
    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* The sum of the squared distances to the own centre, in row order. */
static double inertia(const data *s, const result *r)
{
    double t = 0;
    for (uint64_t i = 0; i < s->n; i++)
        t += (double)r->dist[i] * r->dist[i];
    return t;
}

/* dist, rank and sizes from the labels and centres. */
static void place_rows(const data *s, result *r)
{
    r->dist = grow(NULL, s->n, sizeof *r->dist);
    r->rank = grow(NULL, s->n, sizeof *r->rank);
    r->sizes = grow(NULL, (uint64_t)r->k, sizeof *r->sizes);
    uint64_t *start = grow(NULL, (uint64_t)r->k + 1, sizeof *start);
    row_dist *order = grow(NULL, s->n, sizeof *order);
    memset(r->sizes, 0, (size_t)r->k * sizeof *r->sizes);
    for (uint64_t i = 0; i < s->n; i++) {
        const float *x = s->x + i * s->d, *c = r->cen + (size_t)r->labels[i] * s->d;
        double t = 0;
        for (int j = 0; j < s->d; j++)
            t += ((double)x[j] - c[j]) * ((double)x[j] - c[j]);
        r->dist[i] = (float)sqrt(t);
        r->sizes[r->labels[i]]++;
    }
    start[0] = 0;
    for (int c = 0; c < r->k; c++)
        start[c + 1] = start[c] + r->sizes[c];
    for (uint64_t i = 0; i < s->n; i++)
        order[start[r->labels[i]]++] = (row_dist){r->dist[i], i};
    for (int c = 0; c < r->k; c++) {
        row_dist *o = order + (start[c] - r->sizes[c]);
        qsort(o, (size_t)r->sizes[c], sizeof *o, cmp_rows);
        for (uint64_t j = 0; j < r->sizes[c]; j++)
            r->rank[o[j].i] = (int32_t)j;
    }
    free(start);
    free(order);
}

static int set_sizes(cdt_meta *m, const result *r)
{
    size_t cap = (size_t)r->k * 21 + 1, len = 0;
    char *sizes = grow(NULL, cap, 1);
    sizes[0] = '\0';
    for (int c = 0; c < r->k; c++)
        len += (size_t)snprintf(sizes + len, cap - len, "%s%llu", c ? "," : "",
                                (unsigned long long)r->sizes[c]);
    int rc = cdt_meta_set(m, "cluster.sizes", sizes);
    free(sizes);
    return rc;
}

static void set_meta(cdt_meta *m, const opts *o, const data *s, const result *r)
{
    int rc = 0;
    rc |= cdt_meta_set(m, "producer", prog);
    rc |= cdt_meta_set_i64(m, "rows_total", (int64_t)s->n);
    rc |= cdt_meta_set_i64(m, "cluster.k", r->k);
    rc |= cdt_meta_set(m, "cluster.on", o->on);
    rc |= cdt_meta_setf(m, "cluster.inertia", "%.17g", r->km.inertia);
    if (o->use) {
        rc |= cdt_meta_set_i64(m, "cluster.normalize", o->normalize);
        rc |= set_sizes(m, r);
        rc |= cdt_meta_set(m, "cluster.k_chosen_by", "centroids");
        rc |= cdt_meta_set(m, "cluster.centroids_from", o->use);
        if (rc)
            cli_die(prog, EX_SOFT_, "cannot set the output meta");
        return;
    }
    rc |= cdt_meta_set_i64(m, "cluster.iterations", r->km.iterations);
    rc |= cdt_meta_set_i64(m, "cluster.converged", r->km.converged);
    rc |= cdt_meta_set_i64(m, "cluster.restarts", o->restarts);
    rc |= cdt_meta_set_i64(m, "cluster.restart_kept", r->km.restart);
    rc |= cdt_meta_set_i64(m, "cluster.seed", (int64_t)o->seed);
    rc |= cdt_meta_set(m, "cluster.init", "k-means++ greedy");
    rc |= cdt_meta_set_i64(m, "cluster.normalize", o->normalize);
    rc |= set_sizes(m, r);
    if (r->by_k) {
        rc |= cdt_meta_set(m, "cluster.k_chosen_by", "silhouette");
        rc |= cdt_meta_setf(m, "cluster.silhouette", "%.6f", r->silhouette);
        rc |= cdt_meta_setf(m, "cluster.k_range", "%d..%d", o->klo, o->khi);
        rc |= cdt_meta_set(m, "cluster.silhouette_by_k", r->by_k);
    } else {
        rc |= cdt_meta_set(m, "cluster.k_chosen_by", "given");
    }
    if (rc)
        cli_die(prog, EX_SOFT_, "cannot set the output meta");
}

/* One output frame per input frame: c, dist, rank, then what was kept. */
static void write_frames(cdt_writer *w, const data *s, const result *r)
{
    uint64_t i = 0;
    for (uint64_t fi = 0; fi < s->nframes; fi++) {
        const kept *k = &s->frames[fi];
        uint64_t rows = k->rows;
        cdt_tensor *t = grow(NULL, (uint64_t)k->count + 3, sizeof *t);
        cdt_tensor_set(&t[0], "c", CDT_I32, r->labels + i, 1, &rows);
        cdt_tensor_set(&t[1], "dist", CDT_F32, r->dist + i, 1, &rows);
        cdt_tensor_set(&t[2], "rank", CDT_I32, r->rank + i, 1, &rows);
        memcpy(t + 3, k->t, k->count * sizeof *t);
        int rc = cdt_writer_frame(w, rows, t, k->count + 3);
        free(t);
        if (rc < 0)
            cli_fail(prog, rc, cdt_writer_errmsg(w));
        i += rows;
    }
}

static void write_centroids(cdt_writer *w, const opts *o, const data *s, const result *r)
{
    int32_t *c = grow(NULL, (uint64_t)r->k, sizeof *c);
    for (int i = 0; i < r->k; i++)
        c[i] = i;
    uint64_t rows = (uint64_t)r->k, dim[2] = {rows, (uint64_t)s->d};
    cdt_tensor t[2];
    cdt_tensor_set(&t[0], "c", CDT_I32, c, 1, &rows);
    cdt_tensor_set(&t[1], o->on, CDT_F32, r->cen, 2, dim);
    int rc = cdt_writer_frame(w, rows, t, 2);
    free(c);
    if (rc < 0)
        cli_fail(prog, rc, cdt_writer_errmsg(w));
}

/* One stream to path (or stdout): the labels, or the centroids. */
static void write_stream(const char *path, const opts *o, const data *s, const result *r,
                         int centroids)
{
    cli_out out;
    cli_out_open(prog, path, &out);
    cdt_writer_opts wo;
    cli_writer_opts(prog, o->raw, &wo);
    cdt_meta *m = cdt_meta_clone(s->meta);
    if (!m)
        cli_die(prog, EX_SOFT_, "out of memory");
    set_meta(m, o, s, r);
    if (centroids)
        cdt_meta_set_i64(m, "rows_total", r->k);
    cdt_writer *w = NULL;
    int rc = cdt_writer_open_fd(out.fd, m, &wo, &w);
    if (rc < 0)
        cli_fail(prog, rc, w ? cdt_writer_errmsg(w) : NULL);
    if (centroids)
        write_centroids(w, o, s, r);
    else
        write_frames(w, s, r);
    if ((rc = cdt_writer_close(w)) < 0)
        cli_fail(prog, rc, cdt_writer_errmsg(w));
    cdt_writer_destroy(w);
    cdt_meta_destroy(m);
    cli_out_commit(prog, &out);
}

static void parse_range(const char *s, opts *o)
{
    long a, b;
    char tail;
    if (sscanf(s, "%ld..%ld%c", &a, &b, &tail) != 2 || a < 2 || b < a || b > 100000)
        cli_die(prog, EX_USAGE_, "bad value for --k-range: '%s' (expected A..B, 2 <= A <= B)", s);
    o->klo = (int)a;
    o->khi = (int)b;
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"k", required_argument, 0, 'k'}, {"k-range", required_argument, 0, 'K'},
        {"sample", required_argument, 0, 'S'}, {"on", required_argument, 0, 'O'},
        {"restarts", required_argument, 0, 'r'}, {"max-iter", required_argument, 0, 'i'},
        {"tol", required_argument, 0, 't'}, {"seed", required_argument, 0, 's'},
        {"normalize", no_argument, 0, 'n'}, {"centroids", required_argument, 0, 'c'},
        {"output", required_argument, 0, 'o'}, {"raw", no_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'},
        {"verbose", no_argument, 0, 'v'}, {"use-centroids", required_argument, 0, 'u'},
        {0, 0, 0, 0}};
    *o = (opts){.klo = 2, .khi = 30, .restarts = 10, .max_iter = 300, .tol = 1e-4,
                .sample = 3000, .on = "h"};
    int ch;
    while ((ch = getopt_long(argc, argv, "k:o:hv", lo, NULL)) != -1) {
        switch (ch) {
        case 'k': o->k = (int)cli_int(prog, "-k", optarg, 1, 1 << 20); break;
        case 'K': parse_range(optarg, o); break;
        case 'S': o->sample = cli_u64(prog, "--sample", optarg, 3, 46340); break;
        case 'O': o->on = optarg; break;
        case 'r': o->restarts = (int)cli_int(prog, "--restarts", optarg, 1, 10000); break;
        case 'i': o->max_iter = (int)cli_int(prog, "--max-iter", optarg, 1, 1 << 30); break;
        case 't': o->tol = cli_double(prog, "--tol", optarg, 0, 1e300); break;
        case 's': o->seed = cli_u64(prog, "--seed", optarg, 0, UINT64_MAX); break;
        case 'n': o->normalize = 1; break;
        case 'c': o->centroids = optarg; break;
        case 'u': o->use = optarg; break;
        case 'o': o->output = optarg; break;
        case 'R': o->raw = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        case 'V': cli_version(prog, 0); exit(0);
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (strcmp(o->on, "h") && strcmp(o->on, "f"))
        cli_die(prog, EX_USAGE_, "bad value for --on: '%s' (expected h or f)", o->on);
    if (o->use && o->k)
        cli_die(prog, EX_USAGE_, "--use-centroids takes K from its file: no -k");
    if (argc - optind > 1)
        cli_die(prog, EX_USAGE_, "one input at most (got %d)", argc - optind);
    o->input = optind < argc ? argv[optind] : NULL;
}

int main(int argc, char **argv)
{
    opts o;
    cli_blas_setup(argv);
    parse(argc, argv, &o);
    openblas_set_num_threads(1); /* k-means' sgemms run on our threads (cdt_kmeans) */
    data s = {0};
    read_data(&o, &s);
    result r = {0};
    if (o.use)
        read_centres(&o, s.d, &r);
    if (o.normalize)
        normalize_rows(&s);
    if (o.k && (uint64_t)o.k > s.n)
        cli_die(prog, EX_DATA_, "-k %d is more than the %llu rows", o.k, (unsigned long long)s.n);
    if (o.use)
        assign(&s, &r);
    else if (o.k)
        run_kmeans(&o, &s, o.k, &r);
    else
        choose_k(&o, &s, &r);
    if (o.verbose && !o.k && !o.use)
        fprintf(stderr, "%s: chose k %d (silhouette %.4f)\n", prog, r.k, r.silhouette);
    place_rows(&s, &r);
    if (o.use)
        r.km.inertia = inertia(&s, &r);
    write_stream(o.output, &o, &s, &r, 0);
    if (o.centroids)
        write_stream(o.centroids, &o, &s, &r, 1);
    free(r.labels); free(r.cen); free(r.by_k); free(r.dist); free(r.rank); free(r.sizes);
    for (uint64_t i = 0; i < s.nframes; i++) {
        for (uint32_t j = 0; j < s.frames[i].count; j++)
            free(s.frames[i].t[j].data);
        free(s.frames[i].t);
    }
    free(s.frames);
    free(s.x);
    cdt_meta_destroy(s.meta);
    return 0;
}
