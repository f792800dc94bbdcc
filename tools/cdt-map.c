/* cdt-map: a 2-D map of the rows of h or f (any f32 [N,D]) by Barnes-Hut
 * t-SNE; writes xy f32 [N,2] with every per-row tensor passed through, and
 * optionally a scatter plot of it as a PNG. */
#include "cli.h"
#include "rowset.h"
#include "thumbs.h"

#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "cdt-map";

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-map [options] [FILE]\n"
"Map the rows of tensor h (or f, or any [N,D...] of numbers, e.g. x) of a\n"
"stream (FILE or stdin) to 2-D with Barnes-Hut t-SNE and write xy f32 [N,2]\n"
"with every per-row tensor passed through. Rows are first projected on their 50\n"
"principal axes when D > 50; exact 3 x perplexity nearest neighbours;\n"
"start from the first two principal axes; scikit-learn's optimiser\n"
"(momentum, gains, early exaggeration). The same bytes for any --threads.\n"
"      --on NAME         the tensor to map (default h, else f)\n"
"      --perplexity P    (default 30; lowered to (N-1)/3 for small N)\n"
"      --iters N         gradient steps, exaggerated ones included (default 1000)\n"
"      --exag-iters N    steps with early exaggeration (default 250)\n"
"      --exaggeration X  (default 12)\n"
"      --theta X         Barnes-Hut accuracy, 0 exact (default 0.5)\n"
"      --learning-rate X (default: max(N / exaggeration / 4, 50))\n"
"      --pca N           reduce to N dimensions first when D > N; 0 never (default 50)\n"
"      --seed S          recorded in the meta; the start is the PCA, no draw (default 0)\n"
"      --threads N       OpenMP threads (default: all cores)\n"
"      --png FILE        also draw the map: a point per row, coloured by --color,\n"
"                        with a legend\n"
"      --color c|y|none  colour by cluster or by class (default c, else y)\n"
"      --thumbs          put small images on the map (needs x or path)\n"
"      --size PX         the plot's side in pixels (default 1000)\n"
"  -o, --output FILE     where to write (default stdout)\n"
"      --raw             write without zstd compression\n"
"      --quality K       measure the map: the fraction of every row's K nearest\n"
"                        neighbours (in the input) kept among its K nearest in\n"
"                        2-D, exact, O(N^2); into the meta as map.knn_kept\n"
"  -v, --verbose         a summary line on stderr (rows, KL, time) even when\n"
"                        stderr is not a terminal\n"
"  -q, --quiet           no summary line, not even on a terminal\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

typedef struct opts {
    cdt_tsne_opts t;
    const char *on, *png, *color, *output, *input;
    int threads, thumbs, size, raw, quiet, verbose, quality;
} opts;

enum { O_ON = 256, O_PERP, O_ITERS, O_EXAGI, O_EXAG, O_THETA, O_LR, O_PCA, O_SEED, O_THREADS,
       O_PNG, O_COLOR, O_THUMBS, O_SIZE, O_RAW, O_QUALITY, O_VERSION };

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"on", 1, 0, O_ON}, {"perplexity", 1, 0, O_PERP}, {"iters", 1, 0, O_ITERS},
        {"exag-iters", 1, 0, O_EXAGI}, {"exaggeration", 1, 0, O_EXAG}, {"theta", 1, 0, O_THETA},
        {"learning-rate", 1, 0, O_LR}, {"pca", 1, 0, O_PCA}, {"seed", 1, 0, O_SEED},
        {"threads", 1, 0, O_THREADS}, {"png", 1, 0, O_PNG}, {"color", 1, 0, O_COLOR},
        {"thumbs", 0, 0, O_THUMBS}, {"size", 1, 0, O_SIZE}, {"output", 1, 0, 'o'},
        {"raw", 0, 0, O_RAW}, {"quiet", 0, 0, 'q'}, {"verbose", 0, 0, 'v'},
        {"quality", 1, 0, O_QUALITY}, {"help", 0, 0, 'h'},
        {"version", 0, 0, O_VERSION}, {0, 0, 0, 0}};
    *o = (opts){.t = cdt_tsne_defaults(), .size = 1000};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:qvh", lo, NULL)) != -1) {
        switch (ch) {
        case O_ON: o->on = optarg; break;
        case O_PERP: o->t.perplexity = cli_double(prog, "--perplexity", optarg, 1, 1000); break;
        case O_ITERS: o->t.iters = (int)cli_int(prog, "--iters", optarg, 0, 1000000); break;
        case O_EXAGI: o->t.exag_iters = (int)cli_int(prog, "--exag-iters", optarg, 0, 1000000); break;
        case O_EXAG: o->t.exaggeration = cli_double(prog, "--exaggeration", optarg, 1e-3, 1e6); break;
        case O_THETA: o->t.theta = cli_double(prog, "--theta", optarg, 0, 10); break;
        case O_LR: o->t.learning_rate = cli_double(prog, "--learning-rate", optarg, 1e-6, 1e9); break;
        case O_PCA: o->t.pca_dims = (int)cli_int(prog, "--pca", optarg, 0, 100000); break;
        case O_SEED: o->t.seed = cli_u64(prog, "--seed", optarg, 0, UINT64_MAX); break;
        case O_THREADS: o->threads = (int)cli_int(prog, "--threads", optarg, 1, 4096); break;
        case O_PNG: o->png = optarg; break;
        case O_COLOR: o->color = optarg; break;
        case O_THUMBS: o->thumbs = 1; break;
        case O_SIZE: o->size = (int)cli_int(prog, "--size", optarg, 100, 16000); break;
        case 'o': o->output = optarg; break;
        case O_RAW: o->raw = 1; break;
        case 'q': o->quiet = 1; break;
        case 'v': o->verbose = 1; break;
        case O_QUALITY: o->quality = (int)cli_int(prog, "--quality", optarg, 1, 1000); break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: cli_version(prog, 0); exit(0);
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (o->t.exag_iters > o->t.iters)
        cli_die(prog, EX_USAGE_, "--exag-iters %d is more than --iters %d", o->t.exag_iters,
                o->t.iters);
    if (o->color && strcmp(o->color, "c") && strcmp(o->color, "y") && strcmp(o->color, "none"))
        cli_die(prog, EX_USAGE_, "bad value for --color: '%s' (expected c, y or none)", o->color);
    if ((o->color || o->thumbs) && !o->png)
        cli_die(prog, EX_USAGE_, "--color and --thumbs draw into --png FILE, which is missing");
    if (argc - optind > 1)
        cli_die(prog, EX_USAGE_, "one input at most (got %d)", argc - optind);
    o->input = optind < argc ? argv[optind] : NULL;
}

/* The rows to map as f32 (n,d): a rank >= 2 tensor of u8, i8, i32, i64,
 * f32 or f64, its trailing dimensions flattened; N >= 4, D >= 1, all
 * finite. *owned is set when a converted copy was made. */
static const float *rows_to_map(const opts *o, const rowset *t, const char **on, int *d,
                                float **owned)
{
    const rowset_col *c = NULL;
    if (o->on)
        c = rowset_find(t, *on = o->on);
    else if (!(c = rowset_find(t, *on = "h")))
        c = rowset_find(t, *on = "f");
    if (!c)
        cli_die(prog, EX_DATA_, o->on ? "no tensor '%s' in the stream" :
                "no tensor '%s' (nor h) in the stream: nothing to map", *on);
    size_t es = cdt_dtype_size(c->dtype);
    if (c->rank < 2 || c->dtype == CDT_F16 || c->dtype == CDT_BF16 || !es)
        cli_die(prog, EX_DATA_, "tensor '%s' is %s rank %d, expected [N,D] of f32 (or u8, i8, "
                "i32, i64, f64)", *on, cdt_dtype_name(c->dtype), c->rank);
    uint64_t dd = c->row_bytes / es;
    if (dd < 1 || dd > 1u << 20)
        cli_die(prog, EX_DATA_, "tensor '%s' has D = %llu, expected 1..%u", *on,
                (unsigned long long)dd, 1u << 20);
    if (t->n < 4)
        cli_die(prog, EX_DATA_, "%llu rows are too few to map (at least 4)",
                (unsigned long long)t->n);
    if (t->n > UINT32_MAX)
        cli_die(prog, EX_DATA_, "%llu rows are too many to map", (unsigned long long)t->n);
    *d = (int)dd;
    uint64_t m = t->n * dd;
    float *x = (float *)c->data;
    *owned = NULL;
    if (c->dtype != CDT_F32) {
        if (!(x = *owned = malloc(m * sizeof *x)))
            cli_die(prog, EX_SOFT_, "out of memory for %llu rows", (unsigned long long)t->n);
        cdt_dtype_to_f32(x, c->dtype, c->data, m);
    }
    for (uint64_t i = 0; i < m; i++)
        if (!isfinite(x[i]))
            cli_die(prog, EX_DATA_, "%s has a value that is not finite at row %llu", *on,
                    (unsigned long long)(i / dd));
    return x;
}

typedef struct result {
    cdt_tsne_result t;
    double kept;
} result;

static void set_meta(cdt_meta *m, const opts *o, const char *on, const result *r)
{
    int rc = 0;
    rc |= cdt_meta_set(m, "producer", prog);
    rc |= cdt_meta_set(m, "map.on", on);
    rc |= cdt_meta_set(m, "map.method", "barnes-hut t-sne");
    rc |= cdt_meta_setf(m, "map.perplexity", "%g", r->t.perplexity);
    rc |= cdt_meta_set_i64(m, "map.neighbours", r->t.neighbours);
    rc |= cdt_meta_set_i64(m, "map.dims", r->t.dims);
    rc |= cdt_meta_set_i64(m, "map.iters", o->t.iters);
    rc |= cdt_meta_setf(m, "map.theta", "%g", o->t.theta);
    rc |= cdt_meta_setf(m, "map.kl", "%.6f", r->t.kl);
    rc |= cdt_meta_set_i64(m, "map.seed", (int64_t)o->t.seed);
    if (o->quality) {
        rc |= cdt_meta_set_i64(m, "map.quality_k", o->quality);
        rc |= cdt_meta_setf(m, "map.knn_kept", "%.6f", r->kept);
    }
    if (rc)
        cli_die(prog, EX_SOFT_, "cannot set the output meta");
}

static void write_stream(const opts *o, const rowset *t, const float *xy, const char *on,
                         const result *r)
{
    cdt_meta *m = cdt_meta_clone(t->meta);
    if (!m)
        cli_die(prog, EX_SOFT_, "out of memory");
    set_meta(m, o, on, r);
    uint64_t dim[2] = {t->n, 2};
    cdt_tensor add;
    cdt_tensor_set(&add, "xy", CDT_F32, (void *)xy, 2, dim); /* a map of a map: the new xy */
    rowset_write(prog, t, o->output, o->raw, m, &add, 1, NULL);  /* replaces the old */
    cdt_meta_destroy(m);
}

/* Split "a,b,c" (a copy in buf) into names. */
static int split_names(char *buf, const char **names, int max)
{
    int n = 0;
    for (char *s = buf; s && n < max; n++) {
        names[n] = s;
        if ((s = strchr(s, ',')))
            *s++ = '\0';
    }
    return n;
}

static void draw_thumbs(const opts *o, const rowset *t, cdt_canvas *cv, const cdt_plot_area *a,
                        const float *xy)
{
    thumbs th;
    if (!thumbs_init(prog, &th, t))
        cli_die(prog, EX_DATA_, "--thumbs needs images: the stream has neither x nor path");
    int box = o->size / 25 < 16 ? 16 : o->size / 25, max = 4096;
    uint64_t *pick = malloc((size_t)max * sizeof *pick);
    int *pos = malloc((size_t)max * 2 * sizeof *pos);
    if (!pick || !pos)
        cli_die(prog, EX_SOFT_, "out of memory");
    int np = cdt_plot_thumb_pick(a, xy, t->n, box, pick, pos, max);
    if (np < 0)
        cli_fail(prog, np, "cannot place the thumbnails");
    for (int i = 0; i < np; i++) {
        int c, h, w;
        const uint8_t *img = thumbs_get(prog, &th, pick[i], &c, &h, &w);
        if (!img)
            continue;
        if (cdt_plot_image(cv, pos[2 * i] + 2, pos[2 * i + 1] + 2, box - 4, img, c, h, w) < 0)
            cli_die(prog, EX_SOFT_, "out of memory for a thumbnail");
        cdt_plot_outline(cv, pos[2 * i] + 1, pos[2 * i + 1] + 1, box - 2, box - 2, CDT_GRAY);
    }
    free(pos);
    free(pick);
    thumbs_free(&th);
}

static void write_png(const opts *o, const rowset *t, const float *xy, const char *on)
{
    const char *by = o->color;
    if (!by)
        by = rowset_find(t, "c") ? "c" : rowset_find(t, "y") ? "y" : "none";
    const int32_t *label = strcmp(by, "none") ? rowset_vec(prog, t, by, CDT_I32) : NULL;
    if (strcmp(by, "none") && !label)
        cli_die(prog, EX_DATA_, "--color %s: the stream has no tensor '%s'", by, by);
    const char *cn = cdt_meta_get(t->meta, "class_names");
    char *buf = cn && !strcmp(by, "y") ? strdup(cn) : NULL;
    const char *names[1024];
    int nn = buf ? split_names(buf, names, 1024) : 0;
    char title[512];
    snprintf(title, sizeof title, "t-SNE of %s, %llu rows%s%s", on, (unsigned long long)t->n,
             label ? ", coloured by " : "", label ? (strcmp(by, "c") ? "class" : "cluster") : "");
    cdt_scatter s = {.xy = xy, .n = t->n, .label = label, .names = nn ? names : NULL,
                     .nnames = nn, .title = title, .legend_title = strcmp(by, "c") ? "class" : "cluster",
                     .size = o->size, .radius = t->n > 20000 ? 1 : t->n > 2000 ? 2 : 3};
    cdt_canvas cv = {0};
    cdt_plot_area a;
    int rc = cdt_plot_scatter(&cv, &s, &a);
    if (rc < 0)
        cli_fail(prog, rc, "cannot draw the map");
    if (o->thumbs)
        draw_thumbs(o, t, &cv, &a, xy);
    cli_out out;
    cli_out_open(prog, o->png, &out);
    if ((rc = cdt_canvas_write_png(out.fd, &cv)) < 0) {
        cli_out_abort(&out);
        cli_fail(prog, rc, "cannot write the PNG");
    }
    cli_out_commit(prog, &out);
    cdt_canvas_free(&cv);
    free(buf);
}

int main(int argc, char **argv)
{
    opts o;
    cli_blas_setup(argv);
    parse(argc, argv, &o);
    if (o.threads)
        omp_set_num_threads(o.threads);
    openblas_set_num_threads(1); /* one sgemm per block of rows, on our threads */
    rowset t;
    rowset_read(prog, o.input, &t);
    const char *on;
    int d;
    float *owned;
    const float *x = rows_to_map(&o, &t, &on, &d, &owned);
    float *xy = malloc(t.n * 2 * sizeof *xy);
    if (!xy)
        cli_die(prog, EX_SOFT_, "out of memory for %llu rows", (unsigned long long)t.n);
    result r = {0};
    double t0 = cli_now();
    int rc = cdt_tsne(x, t.n, d, &o.t, xy, &r.t);
    if (rc < 0)
        cli_fail(prog, rc, "t-SNE failed");
    if (!o.quiet && cli_progress_wanted(o.verbose))
        fprintf(stderr, "%s: %llu rows of %s (D %d -> %d), KL %.4f, %.1f s (neighbours %.1f s)\n",
                prog, (unsigned long long)t.n, on, d, r.t.dims, r.t.kl, cli_now() - t0, r.t.seconds_knn);
    if (o.quality) {
        if ((uint64_t)o.quality >= t.n)
            cli_die(prog, EX_USAGE_, "--quality %d needs more than %d rows", o.quality, o.quality);
        if ((rc = cdt_knn_kept(x, xy, t.n, d, 2, o.quality, &r.kept)) < 0)
            cli_fail(prog, rc, "cannot measure the neighbours kept");
    }
    write_stream(&o, &t, xy, on, &r);
    if (o.png)
        write_png(&o, &t, xy, on);
    free(xy);
    free(owned);
    rowset_free(&t);
    return 0;
}
