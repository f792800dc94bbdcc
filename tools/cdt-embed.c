/* cdt-embed: run a trained model in eval mode (running BatchNorm
 * statistics) over x u8 [N,C,H,W] and write h and f with every other
 * per-row tensor passed through, one output frame per input frame. */
#include "cli.h"
#include "cdt_modelfile.h"

#include <cblas.h>
#include <getopt.h>
#include <inttypes.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "cdt-embed";

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-embed -m MODEL [options] [FILE]\n"
"Embed the images x u8 [N,C,H,W] of a stream (FILE or stdin) with a model\n"
"file (from cdt-train, or converted from PyTorch): pixels scaled to [0,1],\n"
"eval mode (BatchNorm running statistics), no augmentation. Writes h f32\n"
"[N,D] (the backbone output) and f f32 [N,F] (the feature heads); x is\n"
"dropped, every other tensor (y, id, ...) and the meta pass through.\n"
"Images of another size are resized to the model's (bilinear, antialiased).\n"
"  -m, --model MODEL     the model file (required)\n"
"      --outputs LIST    h, f or h,f (default h,f)\n"
"  -b, --batch N         images per forward pass (default 256)\n"
"      --device D        cpu, cuda (the first GPU, through libcdt_cuda.so) or auto\n"
"                        (cuda when it works, else cpu); default cpu\n"
"      --precision P     the GPU's matrix products: fp32, tf32 or bf16 (default fp32)\n"
"  -t, --threads N       OpenMP threads (default: OMP_NUM_THREADS, else every\n"
"                        core); BLAS calls run on one thread\n"
"  -o, --output FILE     write to FILE (default stdout)\n"
"      --raw             write without zstd compression\n"
"  -v, --verbose         say where the model runs\n"
"  -h, --help            print this help\n"
"      --version         print the version (with -v: BLAS core, CUDA)\n"
"Exit status: 0 done, 64 usage, 65 bad input, 66 missing input, 69 --device\n"
"cuda without a usable GPU, 70 internal, 74 I/O.\n");
}

typedef struct opts {
    const char *model, *output, *input;
    int batch, threads, raw, want_h, want_f, verbose, version;
    int device, precision;      /* CDT_DEVICE_*, CDT_PRECISION_* */
} opts;

enum { O_OUTPUTS = 256, O_DEVICE, O_PRECISION, O_RAW, O_VERSION };

static void parse_outputs(opts *o, const char *s)
{
    o->want_h = !strcmp(s, "h") || !strcmp(s, "h,f") || !strcmp(s, "f,h");
    o->want_f = !strcmp(s, "f") || !strcmp(s, "h,f") || !strcmp(s, "f,h");
    if (!o->want_h && !o->want_f)
        cli_die(prog, EX_USAGE_, "bad value for --outputs: '%s' (expected h, f or h,f)", s);
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"model", 1, 0, 'm'}, {"outputs", 1, 0, O_OUTPUTS}, {"batch", 1, 0, 'b'},
        {"device", 1, 0, O_DEVICE}, {"threads", 1, 0, 't'}, {"output", 1, 0, 'o'},
        {"precision", 1, 0, O_PRECISION}, {"raw", 0, 0, O_RAW}, {"verbose", 0, 0, 'v'},
        {"help", 0, 0, 'h'}, {"version", 0, 0, O_VERSION}, {0, 0, 0, 0}};
    *o = (opts){.batch = 256, .want_h = 1, .want_f = 1};
    int c;
    while ((c = getopt_long(argc, argv, "m:b:t:o:vh", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case O_OUTPUTS: parse_outputs(o, optarg); break;
        case 'b': o->batch = (int)cli_int(prog, "--batch", optarg, 1, 1 << 20); break;
        case O_DEVICE: o->device = cli_device_kind(prog, optarg); break;
        case O_PRECISION: o->precision = cli_precision(prog, optarg); break;
        case 'v': o->verbose = 1; break;
        case 't': o->threads = (int)cli_int(prog, "--threads", optarg, 1, 1024); break;
        case 'o': o->output = optarg; break;
        case O_RAW: o->raw = 1; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: o->version = 1; break;
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (o->version) { // after the loop, so that `--version -v` sees -v
        cli_version(prog, o->verbose);
        exit(0);
    }
    if (!o->model) cli_die(prog, EX_USAGE_, "no model given (-m MODEL)");
    if (optind < argc - 1)
        cli_die(prog, EX_USAGE_, "more than one input file ('%s', '%s')", argv[optind], argv[optind + 1]);
    o->input = optind < argc ? argv[optind] : NULL;
}

/* Buffers for one forward of up to batch images, allocated once; out_rows
 * is how many rows h and f can hold (grown to the largest frame). */
typedef struct embedder {
    cdt_device *dev;
    cdt_model *m;
    int size, ch, in_h, in_w;   /* the model's side and channels; the input's size */
    float *x;                   // (batch, C, S, S)
    uint8_t *resized;           // (C, S, S) one image
    float *scratch;             /* cdt_resize_u8's */
    float *h, *f;               // (out_rows, D), (out_rows, F)
    uint64_t out_rows;
} embedder;

static void load_model(embedder *e, const opts *o)
{
    cdt_modelfile *mf = NULL;
    int rc = cdt_modelfile_open(o->model, &mf);
    if (rc >= 0) {
        cdt_model_config cfg = *cdt_modelfile_config(mf);
        const cdt_model_config *c = &cfg;
        cfg.cpu_conv = cli_cpu_conv();
        if ((rc = cdt_model_create_inference_on(c, o->batch, e->dev, &e->m)) < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s: cannot build its network (resnet%d, width %d, %dx%d inputs, batch %d) on %s: %s",
                     o->model, c->depth, c->width, c->image_size, c->image_size, o->batch,
                     cdt_device_describe(e->dev), cdt_strerror(rc));
            cdt_modelfile_close(mf);
            cli_fail(prog, rc, msg);
        }
        rc = cdt_modelfile_load(mf, e->m, NULL);
    }
    if (rc < 0) cli_fail(prog, rc, mf && *cdt_modelfile_errmsg(mf) ? cdt_modelfile_errmsg(mf) : NULL);
    cdt_modelfile_close(mf);
    e->size = cdt_model_cfg(e->m)->image_size;
    e->ch = cdt_model_cfg(e->m)->in_channels;
    size_t img = (size_t)e->ch * e->size * e->size;
    e->x = malloc((size_t)o->batch * img * sizeof(float));
    e->resized = malloc(img);
    if (!e->x || !e->resized) cli_die(prog, EX_SOFT_, "out of memory");
}

/* Checks x against the model; sets up resizing on the first frame. */
static void check_x(embedder *e, const cdt_tensor *x, uint64_t frame)
{
    if (!x || x->dtype != CDT_U8 || x->rank != 4 || x->dim[1] != (uint64_t)e->ch ||
        x->dim[2] < 1 || x->dim[3] < 1 || x->dim[2] > 8192 || x->dim[3] > 8192)
        cli_die(prog, EX_DATA_, "frame %" PRIu64 ": expected x u8 [N,%d,H,W] for this model", frame, e->ch);
    if (e->in_h == 0) {
        e->in_h = (int)x->dim[2];
        e->in_w = (int)x->dim[3];
        if (e->in_h != e->size || e->in_w != e->size) {
            e->scratch = malloc(cdt_resize_scratch(e->ch, e->in_h, e->in_w, e->size, e->size) * sizeof(float));
            if (!e->scratch) cli_die(prog, EX_SOFT_, "out of memory");
        }
    }
    if (x->dim[2] != (uint64_t)e->in_h || x->dim[3] != (uint64_t)e->in_w)
        cli_die(prog, EX_DATA_, "frame %" PRIu64 ": images are %" PRIu64 "x%" PRIu64 ", the first frame's %dx%d",
                frame, x->dim[2], x->dim[3], e->in_h, e->in_w);
}

/* Images [first, first+n) of x into e->x as floats in [0,1]. */
static void load_batch(embedder *e, const cdt_tensor *x, uint64_t first, int n)
{
    size_t img = (size_t)e->ch * e->size * e->size, in = (size_t)e->ch * e->in_h * e->in_w;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = (const uint8_t *)x->data + (first + (uint64_t)i) * in;
        if (e->scratch) {
            cdt_resize_u8(e->resized, e->size, e->size, src, e->ch, e->in_h, e->in_w,
                          0, 0, e->in_h, e->in_w, e->scratch);
            src = e->resized;
        }
        float *d = e->x + (size_t)i * img;
        for (size_t k = 0; k < img; k++) d[k] = cdt_pixel_to_float(src[k]);
    }
}

static void embed_frame(embedder *e, const cdt_frame *f, const cdt_tensor *x)
{
    int D = cdt_model_rep_dim(e->m), F = cdt_model_cfg(e->m)->feature_num;
    if (f->rows > e->out_rows) {
        free(e->h); free(e->f);
        e->h = malloc(f->rows * (size_t)D * sizeof(float));
        e->f = malloc(f->rows * (size_t)F * sizeof(float));
        if (!e->h || !e->f) cli_die(prog, EX_SOFT_, "out of memory for a frame of %" PRIu64 " rows", f->rows);
        e->out_rows = f->rows;
    }
    for (uint64_t i = 0; i < f->rows; i += (uint64_t)cdt_model_batch(e->m)) {
        int n = f->rows - i < (uint64_t)cdt_model_batch(e->m) ? (int)(f->rows - i) : cdt_model_batch(e->m);
        load_batch(e, x, i, n);
        const float *h = NULL, *f = NULL;
        if (cdt_model_forward(e->m, e->x, n, 0, 0) == 0 && (h = cdt_model_h(e->m, 0)))
            memcpy(e->h + i * D, h, (size_t)n * D * sizeof(float));
        if (h && (f = cdt_model_f(e->m, 0))) memcpy(e->f + i * F, f, (size_t)n * F * sizeof(float));
        if (!f) cli_die(prog, EX_SOFT_, "%s: %s", cdt_device_describe(e->dev), cdt_model_errmsg(e->m));
    }
}

/* The output frame: h and/or f, then every per-row tensor but x. */
static void write_frame(cdt_writer *w, const embedder *e, const opts *o, const cdt_frame *f)
{
    cdt_tensor *t = malloc((f->count + 2) * sizeof *t);
    if (!t) cli_die(prog, EX_SOFT_, "out of memory");
    uint32_t n = 0;
    uint64_t dh[2] = {f->rows, (uint64_t)cdt_model_rep_dim(e->m)}, df[2] = {f->rows, (uint64_t)cdt_model_cfg(e->m)->feature_num};
    if (o->want_h) cdt_tensor_set(&t[n++], "h", CDT_F32, e->h, 2, dh);
    if (o->want_f) cdt_tensor_set(&t[n++], "f", CDT_F32, e->f, 2, df);
    for (uint32_t i = 0; i < f->count; i++) {
        const char *nm = f->tensors[i].name;
        if (strcmp(nm, "x") && strcmp(nm, "h") && strcmp(nm, "f")) t[n++] = f->tensors[i];
    }
    int rc = cdt_writer_frame(w, f->rows, t, n);
    free(t);
    if (rc < 0) cli_fail(prog, rc, cdt_writer_errmsg(w));
}

static cdt_meta *out_meta(const cdt_meta *in, const opts *o, const cdt_model *m)
{
    cdt_meta *meta = cdt_meta_clone(in);
    if (!meta || cdt_meta_set(meta, "producer", prog) || cdt_meta_set(meta, "embed.model", o->model) ||
        cdt_meta_set(meta, "embed.arch", cdt_arch_name(cdt_model_cfg(m)->depth)) ||
        cdt_meta_set_i64(meta, "embed.image_size", cdt_model_cfg(m)->image_size))
        cli_die(prog, EX_SOFT_, "out of memory or a model path with a newline");
    return meta;
}

int main(int argc, char **argv)
{
    opts o;
    embedder e = {0};
    cli_blas_setup(argv);
    parse(argc, argv, &o);
    if (o.threads) omp_set_num_threads(o.threads);
    // as cdt-train: OpenBLAS's threaded sgemm rounds differently from its
    // one-thread path, and outputs must not depend on the thread count
    openblas_set_num_threads(1);
    e.dev = cli_device_open(prog, o.device, o.precision, o.verbose);
    load_model(&e, &o);
    cdt_reader *r = cli_reader_open(prog, o.input);
    cdt_meta *meta = out_meta(cdt_reader_meta(r), &o, e.m);
    cdt_writer_opts wo;
    cli_writer_opts(prog, o.raw, &wo);
    cli_out out;
    cli_out_open(prog, o.output, &out);
    cdt_writer *w;
    int rc = cdt_writer_open_fd(out.fd, meta, &wo, &w);
    if (rc < 0) cli_fail(prog, rc, NULL);
    const cdt_frame *f;
    while ((rc = cdt_reader_next(r, &f)) > 0) {
        const cdt_tensor *x = cdt_frame_find(f, "x");
        check_x(&e, x, cdt_reader_frames(r) - 1);
        embed_frame(&e, f, x);
        write_frame(w, &e, &o, f);
    }
    if (rc < 0) {
        cli_out_abort(&out);
        cli_fail(prog, rc, cdt_reader_errmsg(r));
    }
    if ((rc = cdt_writer_close(w)) < 0) cli_fail(prog, rc, cdt_writer_errmsg(w));
    cli_out_commit(prog, &out);
    cdt_writer_destroy(w);
    cdt_meta_destroy(meta);
    cdt_reader_destroy(r);
    cdt_model_destroy(e.m);
    cdt_device_close(e.dev);
    free(e.x); free(e.resized); free(e.scratch); free(e.h); free(e.f);
    return 0;
}
