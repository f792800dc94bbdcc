/* cdt-heads: the feature-head sheet as a PNG: for every feature head, the
 * images that activate it most (and least), heads ordered by how much they
 * vary over the data set; the picture of each head as an attribute. */
#include "cli.h"
#include "heads.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "cdt-heads";

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-heads -o FILE.png [options] [FILE]\n"
"Draw a row per feature head (a column of tensor f, f32 [N,F]) of a stream\n"
"(FILE or stdin): the K images with the highest activation, optionally the\n"
"K lowest, heads ordered by their variance over the rows, largest first.\n"
"The images are the rows' x (u8 [N,C,H,W]) or the files their path names;\n"
"--images takes x from another stream of the same rows (cdt-ingest's).\n"
"  -o, --output FILE     the PNG to write (required)\n"
"      --on NAME         the tensor of activations (default f)\n"
"      --images FILE     a stream with x for the same rows, in the same order\n"
"  -k, --top K           images per head and side (default 8)\n"
"      --lowest          also the K images with the lowest activation\n"
"      --heads N         draw only the N heads that vary most (default all)\n"
"      --box PX          the side of a thumbnail in pixels (default 32)\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

typedef struct opts {
    const char *output, *on, *images, *input;
    int k, lowest, nheads, box;
} opts;

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"output", 1, 0, 'o'}, {"on", 1, 0, 'O'}, {"images", 1, 0, 'I'}, {"top", 1, 0, 'k'},
        {"lowest", 0, 0, 'l'}, {"heads", 1, 0, 'H'}, {"box", 1, 0, 'b'}, {"help", 0, 0, 'h'},
        {"version", 0, 0, 'V'}, {0, 0, 0, 0}};
    *o = (opts){.on = "f", .k = 8, .box = 32};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:k:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'o': o->output = optarg; break;
        case 'O': o->on = optarg; break;
        case 'I': o->images = optarg; break;
        case 'k': o->k = (int)cli_int(prog, "--top", optarg, 1, 64); break;
        case 'l': o->lowest = 1; break;
        case 'H': o->nheads = (int)cli_int(prog, "--heads", optarg, 1, 1 << 16); break;
        case 'b': o->box = (int)cli_int(prog, "--box", optarg, 8, 256); break;
        case 'h': usage(stdout); exit(0);
        case 'V': cli_version(prog, 0); exit(0);
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (!o->output)
        cli_die(prog, EX_USAGE_, "no output: -o FILE.png is required");
    if (argc - optind > 1)
        cli_die(prog, EX_USAGE_, "one input at most (got %d)", argc - optind);
    o->input = optind < argc ? argv[optind] : NULL;
}

static const float *activations(const opts *o, const rowset *t, int *nf)
{
    const rowset_col *c = rowset_find(t, o->on);
    if (!c)
        cli_die(prog, EX_DATA_, "no tensor '%s' in the stream", o->on);
    if (c->dtype != CDT_F32 || c->rank != 2 || c->dim[1] < 1 || c->dim[1] > 65536)
        cli_die(prog, EX_DATA_, "tensor '%s' is %s rank %d, expected f32 [N,F] with 1 <= F <= 65536",
                o->on, cdt_dtype_name(c->dtype), c->rank);
    if (t->n < 1)
        cli_die(prog, EX_DATA_, "no rows");
    *nf = (int)c->dim[1];
    return (const float *)c->data;
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    rowset t, im = {0};
    rowset_read(prog, o.input, &t);
    int nf;
    const float *f = activations(&o, &t, &nf);
    thumbs th;
    if (o.images) {
        rowset_read(prog, o.images, &im);
        if (im.n != t.n)
            cli_die(prog, EX_DATA_, "--images has %llu rows, the stream %llu",
                    (unsigned long long)im.n, (unsigned long long)t.n);
    }
    if (!thumbs_init(prog, &th, o.images ? &im : &t))
        cli_die(prog, EX_DATA_, "no images: the %s has neither x nor path",
                o.images ? "--images stream" : "stream (try --images)");
    int k = (uint64_t)o.k > t.n ? (int)t.n : o.k;
    heads h;
    heads_compute(prog, f, t.n, nf, k, &h);
    cdt_canvas cv;
    heads_draw(prog, &cv, &h, &th, o.nheads, o.box, o.lowest);
    cli_out out;
    cli_out_open(prog, o.output, &out);
    int rc = cdt_canvas_write_png(out.fd, &cv);
    if (rc < 0) {
        cli_out_abort(&out);
        cli_fail(prog, rc, "cannot write the PNG");
    }
    cli_out_commit(prog, &out);
    cdt_canvas_free(&cv);
    heads_free(&h);
    thumbs_free(&th);
    rowset_free(&t);
    rowset_free(&im);
    return 0;
}
