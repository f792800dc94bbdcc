/* cdt-ingest: read a dataset in its publisher's format and write it as a
 * tensor stream: x u8 [N,C,H,W], y i32 [N], id i64 [N] (and epoch i32 [N]
 * with --epochs > 1; path u8 [N,L] for folders), in frames of --rows rows. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "cdt-ingest";

typedef struct opts {
    cdt_dataset_opts ds;
    uint64_t epochs, seed, rows;
    int shuffle, raw, progress, quiet;
    const char *output, *labels;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-ingest [options] DATASET [PATH]\n"
"Read an image dataset and write it as a cdt stream (x u8 [N,C,H,W],\n"
"y i32 [N], id i64 [N]; epoch i32 [N] too when --epochs > 1; for folders\n"
"path u8 [N,L], each file's path, NUL-padded UTF-8).\n"
"DATASET: fashion-mnist (PATH default /usr/share/datasets/fashion-mnist),\n"
"  mnist, cifar10, cifar100, stl10, imagenet10 (class folders at 224x224),\n"
"  folder (.jpg/.jpeg/.png at any depth, hidden names skipped, sorted by path).\n"
"      --split S         train, test, all (train then test; default) or, for\n"
"                        stl10, unlabeled\n"
"      --shuffle         a new order every epoch, from (seed, epoch) only\n"
"      --epochs N        write the split N times (default 1)\n"
"      --seed N          seed for --shuffle (default 0)\n"
"      --limit N         only the first N samples of the split (before shuffling)\n"
"      --size N          resize every image to N x N (bilinear, antialiased)\n"
"      --fit F           how --size treats another aspect: crop (the centred\n"
"                        square; default for folder), pad (on black) or\n"
"                        stretch (default for the others)\n"
"      --channels C      1 or 3 (default: the dataset's own)\n"
"      --labels L        cifar100: coarse (20 super-classes; default) or fine;\n"
"                        folder: auto (from the first level of sub-folders\n"
"                        when every image sits under one; default), folders\n"
"                        or none (y = -1)\n"
"      --files LIST      folder: read the image paths from LIST (one a line,\n"
"                        \"-\" for stdin) instead of walking PATH\n"
"      --skip-bad        folders: skip images that fail to decode, one line\n"
"                        each on stderr and a count at the end\n"
"      --rows N          rows per frame (default 256)\n"
"  -o, --output FILE     write to FILE (default stdout)\n"
"      --raw             write without zstd compression\n"
"      --progress        report progress on stderr even when not a terminal\n"
"  -q, --quiet           no progress, no notes\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

static int parse_split(const char *s)
{
    static const char *const names[] = {"all", "train", "test", "unlabeled"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    cli_die(prog, EX_USAGE_, "bad value for --split: '%s' (expected train, test, all or unlabeled)", s);
}

/* coarse|fine for cifar100, auto|folders|none for folders; the dataset
 * says which it takes. */
static void parse_labels(opts *o, const char *s)
{
    static const char *const names[] = {"coarse", "fine", "auto", "folders", "none"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            o->ds.fine = i == 1;
            o->ds.labels = i >= 3 ? i - 2 : CDT_LABELS_AUTO;
            o->labels = s;
            return;
        }
    cli_die(prog, EX_USAGE_, "bad value for --labels: '%s' (expected coarse, fine, auto, "
            "folders or none)", s);
}

static int parse_fit(const char *s)
{
    static const char *const names[] = {"crop", "pad", "stretch"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i]))
            return CDT_FIT_CROP + i;
    cli_die(prog, EX_USAGE_, "bad value for --fit: '%s' (expected crop, pad or stretch)", s);
}

static void parse(int argc, char **argv, opts *o)
{
    enum { O_SPLIT = 256, O_SHUFFLE, O_EPOCHS, O_SEED, O_LIMIT, O_SIZE, O_CHANNELS,
           O_LABELS, O_SKIP, O_ROWS, O_RAW, O_PROGRESS, O_VERSION, O_FIT, O_FILES };
    static const struct option lo[] = {
        {"split", 1, 0, O_SPLIT}, {"shuffle", 0, 0, O_SHUFFLE}, {"epochs", 1, 0, O_EPOCHS},
        {"seed", 1, 0, O_SEED}, {"limit", 1, 0, O_LIMIT}, {"size", 1, 0, O_SIZE},
        {"channels", 1, 0, O_CHANNELS}, {"labels", 1, 0, O_LABELS},
        {"skip-bad", 0, 0, O_SKIP}, {"rows", 1, 0, O_ROWS}, {"output", 1, 0, 'o'},
        {"raw", 0, 0, O_RAW}, {"progress", 0, 0, O_PROGRESS}, {"quiet", 0, 0, 'q'},
        {"help", 0, 0, 'h'}, {"version", 0, 0, O_VERSION}, {"fit", 1, 0, O_FIT},
        {"files", 1, 0, O_FILES}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->rows = 256;
    int c;
    while ((c = getopt_long(argc, argv, "o:qh", lo, NULL)) != -1) {
        switch (c) {
        case O_SPLIT: o->ds.split = parse_split(optarg); break;
        case O_SHUFFLE: o->shuffle = 1; break;
        case O_EPOCHS: o->epochs = cli_u64(prog, "--epochs", optarg, 1, 1000000); break;
        case O_SEED: o->seed = cli_u64(prog, "--seed", optarg, 0, UINT64_MAX); break;
        case O_LIMIT: o->ds.limit = cli_u64(prog, "--limit", optarg, 1, UINT64_MAX); break;
        case O_SIZE: o->ds.size = (int)cli_int(prog, "--size", optarg, 1, 4096); break;
        case O_CHANNELS:
            o->ds.channels = (int)cli_int(prog, "--channels", optarg, 1, 3);
            if (o->ds.channels == 2)
                cli_die(prog, EX_USAGE_, "bad value for --channels: '2' (expected 1 or 3)");
            break;
        case O_LABELS: parse_labels(o, optarg); break;
        case O_FIT: o->ds.fit = parse_fit(optarg); break;
        case O_FILES: o->ds.files = optarg; break;
        case O_SKIP: o->ds.skip_bad = 1; break;
        case O_ROWS: o->rows = cli_u64(prog, "--rows", optarg, 1, 1 << 20); break;
        case 'o': o->output = optarg; break;
        case O_RAW: o->raw = 1; break;
        case O_PROGRESS: o->progress = 1; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: cli_version(prog, 0); exit(0);
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (optind >= argc || argc - optind > 2) {
        usage(stderr);
        exit(EX_USAGE_);
    }
    o->ds.name = argv[optind];
    o->ds.path = optind + 1 < argc ? argv[optind + 1] : NULL;
    int cifar100 = !strcmp(o->ds.name, "cifar100"), folder = !strcmp(o->ds.name, "folder");
    int cf = o->labels && (!strcmp(o->labels, "coarse") || !strcmp(o->labels, "fine"));
    if (o->labels && ((cifar100 && !cf) || (folder && cf)))
        cli_die(prog, EX_USAGE_, "bad value for --labels: '%s' (%s)", o->labels,
                cifar100 ? "expected coarse or fine" : "expected auto, folders or none");
    if (o->ds.files && !folder)
        cli_die(prog, EX_USAGE_, "--files goes with the folder dataset");
    if (o->ds.files && o->ds.path)
        cli_die(prog, EX_USAGE_, "give --files LIST or PATH, not both");
}

static void warn_skip(void *ctx, const char *msg)
{
    if (!*(const int *)ctx)
        cli_warn(prog, "skipped: %s", msg);
}

static cdt_meta *make_meta(const cdt_dataset *d, const opts *o)
{
    cdt_meta *m = cdt_meta_create();
    uint64_t total;
    if (!m)
        cli_die(prog, EX_SOFT_, "out of memory");
    int rc = cdt_meta_set(m, "dataset", cdt_dataset_name(d));
    rc |= cdt_meta_set(m, "split", cdt_dataset_split_name(o->ds.split));
    if (!strcmp(cdt_dataset_name(d), "cifar100"))
        rc |= cdt_meta_set(m, "labels", o->ds.fine ? "fine" : "coarse");
    if (cdt_dataset_path(d, 0)) {
        rc |= cdt_meta_set(m, "labels", cdt_dataset_classes(d) ? "folders" : "none");
        static const char *const fits[] = {"", "crop", "pad", "stretch"};
        rc |= cdt_meta_set(m, "fit", fits[cdt_dataset_fit(d)]);
    }
    rc |= cdt_meta_set_i64(m, "classes", cdt_dataset_classes(d));
    rc |= cdt_meta_set(m, "class_names", cdt_dataset_class_names(d));
    /* Skipped images make the count unknowable in advance: then only the
     * most it can be (what sizes a time-limited run's schedule when the
     * epochs end first). */
    if (!cdt_mul_u64(cdt_dataset_count(d), o->epochs, &total))
        rc |= cdt_meta_setf(m, o->ds.skip_bad ? "rows_most" : "rows_total", "%llu",
                            (unsigned long long)total);
    rc |= cdt_meta_setf(m, "seed", "%llu", (unsigned long long)o->seed);
    rc |= cdt_meta_setf(m, "epochs", "%llu", (unsigned long long)o->epochs);
    rc |= cdt_meta_set_i64(m, "shuffle", o->shuffle);
    rc |= cdt_meta_set(m, "producer", "cdt-ingest");
    if (rc)
        cli_die(prog, EX_SOFT_, "cannot build the stream's meta");
    return m;
}

typedef struct batch {
    uint8_t *x;      /* (R,C,H,W) */
    int32_t *y;      /* (R) */
    int64_t *id;     /* (R) */
    int32_t *epoch;  /* (R) */
    uint64_t *perm;  /* (N) the epoch's order */
    char *path;      /* (R,L) NUL-padded, for folders */
    size_t path_cap;
    cdt_tensor t[5];
    int count;
} batch;

static void batch_init(batch *b, const cdt_dataset *d, const opts *o)
{
    int c, h, w;
    uint64_t n = cdt_dataset_count(d), r = o->rows, one;
    cdt_dataset_shape(d, &c, &h, &w);
    if (cdt_mul_u64((uint64_t)c * h, w, &one) || cdt_mul_u64(one, r, &one) || one > SIZE_MAX)
        cli_die(prog, EX_USAGE_, "--rows %llu of %dx%dx%d images is too large", (unsigned long long)r, c, h, w);
    b->x = malloc(one ? one : 1);
    b->y = malloc(r * sizeof *b->y);
    b->id = malloc(r * sizeof *b->id);
    b->epoch = malloc(r * sizeof *b->epoch);
    b->perm = malloc((n ? n : 1) * sizeof *b->perm);
    if (!b->x || !b->y || !b->id || !b->epoch || !b->perm)
        cli_die(prog, EX_SOFT_, "out of memory");
    uint64_t dx[4] = {r, (uint64_t)c, (uint64_t)h, (uint64_t)w};
    cdt_tensor_set(&b->t[0], "x", CDT_U8, b->x, 4, dx);
    cdt_tensor_set(&b->t[1], "y", CDT_I32, b->y, 1, dx);
    cdt_tensor_set(&b->t[2], "id", CDT_I64, b->id, 1, dx);
    cdt_tensor_set(&b->t[3], "epoch", CDT_I32, b->epoch, 1, dx);
    b->count = o->epochs > 1 ? 4 : 3;
}

static void batch_free(batch *b)
{
    free(b->x);
    free(b->y);
    free(b->id);
    free(b->epoch);
    free(b->perm);
    free(b->path);
}

/* The path column of the got rows just read: u8 [got,L], L the longest
 * path among them, shorter ones NUL-padded. */
static void set_paths(batch *b, const cdt_dataset *d, size_t got, cdt_tensor *t)
{
    size_t L = 1;
    for (size_t i = 0; i < got; i++) {
        size_t l = strlen(cdt_dataset_path(d, (uint64_t)b->id[i]));
        L = l > L ? l : L;
    }
    if (got * L > b->path_cap) {
        free(b->path);
        if (!(b->path = malloc(got * L)))
            cli_die(prog, EX_SOFT_, "out of memory");
        b->path_cap = got * L;
    }
    memset(b->path, 0, got * L);
    for (size_t i = 0; i < got; i++) {
        const char *p = cdt_dataset_path(d, (uint64_t)b->id[i]);
        memcpy(b->path + i * L, p, strlen(p));
    }
    uint64_t dim[2] = {got, L};
    cdt_tensor_set(t, "path", CDT_U8, b->path, 2, dim);
}

typedef struct progress { int on; double t0, last; uint64_t done, total; } progress;

static void progress_tick(progress *p, uint64_t rows, int final)
{
    p->done += rows;
    double t = cli_now();
    if (!p->on || (!final && t - p->last < 0.5))
        return;
    p->last = t;
    double rate = p->done / (t - p->t0 > 1e-9 ? t - p->t0 : 1e-9);
    fprintf(stderr, "\r%s: %llu/%llu rows, %.0f rows/s%s", prog, (unsigned long long)p->done,
            (unsigned long long)p->total, rate, final ? "\n" : "");
}

/* Write every epoch; frames never straddle two epochs. */
static int write_epochs(cdt_dataset *d, const opts *o, cdt_writer *w, batch *b, progress *pg)
{
    uint64_t n = cdt_dataset_count(d);
    for (uint64_t e = 0; e < o->epochs; e++) {
        for (uint64_t i = 0; i < n; i++)
            b->perm[i] = i;
        if (o->shuffle) {
            cdt_rng r;
            cdt_rng_init(&r, o->seed, CDT_RNG_SHUFFLE, e, 0, 0);
            cdt_rng_permute(&r, b->perm, n);
        }
        for (uint64_t s = 0; s < n; s += o->rows) {
            size_t k = (size_t)(n - s < o->rows ? n - s : o->rows), got;
            int rc = cdt_dataset_read(d, b->perm + s, k, b->x, b->y, b->id, &got);
            if (rc < 0)
                return rc;
            if (!got)
                continue;
            for (size_t i = 0; i < got; i++)
                b->epoch[i] = (int32_t)e;
            for (int t = 0; t < b->count; t++)
                b->t[t].dim[0] = got;
            int count = b->count;
            if (cdt_dataset_path(d, 0))
                set_paths(b, d, got, &b->t[count++]);
            if ((rc = cdt_writer_frame(w, got, b->t, (uint32_t)count)) < 0)
                return rc;
            progress_tick(pg, got, 0);
        }
    }
    return 0;
}

static void fail_dataset(cdt_dataset *d, int rc)
{
    char msg[1200];
    const char *err = d ? cdt_dataset_errmsg(d) : "";
    if (d && *cdt_dataset_hint(d))
        snprintf(msg, sizeof msg, "%s: %s", err, cdt_dataset_hint(d));
    else
        snprintf(msg, sizeof msg, "%s", err);
    cdt_dataset_destroy(d);
    cli_fail(prog, rc, msg);
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    o.ds.on_skip = warn_skip;
    o.ds.skip_ctx = &o.quiet;
    /* Folders: later epochs reuse what the first decoded, when it all fits
     * in a quarter of the memory. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (o.epochs > 1 && pages > 0 && page > 0)
        o.ds.cache_bytes = (uint64_t)pages * (uint64_t)page / 4;
    cdt_dataset *d = NULL;
    int rc = cdt_dataset_open(&o.ds, &d);
    if (rc < 0)
        fail_dataset(d, rc);
    batch b = {0};
    batch_init(&b, d, &o);
    cdt_meta *m = make_meta(d, &o);
    cdt_writer_opts wo;
    cli_writer_opts(prog, o.raw, &wo);
    cli_out out;
    cli_out_open(prog, o.output, &out);
    cdt_writer *w = NULL;
    progress pg = {cli_progress_wanted(o.progress) && !o.quiet, cli_now(), cli_now(), 0,
                   cdt_dataset_count(d) * o.epochs};
    char msg[1024] = "";
    if ((rc = cdt_writer_open_fd(out.fd, m, &wo, &w)) < 0 ||
        (rc = write_epochs(d, &o, w, &b, &pg)) < 0 || (rc = cdt_writer_close(w)) < 0) {
        snprintf(msg, sizeof msg, "%s", *cdt_dataset_errmsg(d) ? cdt_dataset_errmsg(d)
                                        : w ? cdt_writer_errmsg(w) : "");
        cli_out_abort(&out);
        cli_fail(prog, rc, msg);
    }
    cli_out_commit(prog, &out);
    if (pg.on)
        progress_tick(&pg, 0, 1);
    if (cdt_dataset_skipped(d) && !o.quiet)
        cli_warn(prog, "skipped %llu images that did not decode (last: %s)",
                 (unsigned long long)cdt_dataset_skipped(d), cdt_dataset_skipmsg(d));
    cdt_writer_destroy(w);
    cdt_meta_destroy(m);
    batch_free(&b);
    cdt_dataset_destroy(d);
    return 0;
}
