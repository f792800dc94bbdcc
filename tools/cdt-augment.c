/* cdt-augment: SimCLR views of every image in a stream.
 *
 * Three stages overlap: a reader thread copies each frame into a free slot,
 * the main thread augments the slot's rows on the pool of
 * cdt_augmenter_run, and a writer thread writes finished slots in order.
 * Three slots let all three work at once; slot buffers grow to the largest
 * frame and are reused, so nothing is allocated per image. */
#include "cli.h"
#include "cdt_png.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "cdt-augment";

typedef struct opts {
    int views, size, threads, blur, no_color, raw, progress, seed_set, jitter_set;
    int shard_rank, shard_world, shard_batch; /* --shard R/W, --shard-batch B; world 0: off */
    double jitter, crop_lo;
    uint64_t seed;
    const char *output, *input, *preview;
} opts;

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-augment [options] [FILE]\n"
"Make random views of each image x u8 [N,C,H,W] of a stream (FILE or stdin):\n"
"x becomes u8 [N,V,C,S,S]; every other tensor (y, id, epoch, ...) and all\n"
"meta pass through. Crop, flip, colour jitter, grey and blur as torchvision.\n"
"  -V, --views V         views per image, 1..64 (default 2)\n"
"  -s, --size S          side of the square views (default: the input height)\n"
"  -j, --jitter S        colour jitter strength s (default 0.5 for 32x32\n"
"                        images, 1.0 otherwise; 0 turns jitter off)\n"
"      --crop-scale MIN  the least area fraction of the random crop, 0.01..1\n"
"                        (default 0.08, torchvision's and the paper's; larger\n"
"                        is a milder augmentation)\n"
"      --blur            Gaussian blur, kernel 23, sigma 0.1..2, p 0.5\n"
"      --no-color        brightness and contrast only, no grey (implied for\n"
"                        one-channel images)\n"
"      --seed N          seed (default: the stream's seed, else 0)\n"
"  -t, --threads N       worker threads (default: the number of cores)\n"
"      --preview FILE.png  draw the first 8 images and their views\n"
"      --shard R/W       keep only rank R's rows of each batch of W x B rows\n"
"                        (rows [R B, (R+1) B), counted from the stream's start;\n"
"                        a last batch short of W x B is dropped when the\n"
"                        stream's rows_total says where it is),\n"
"                        for data-parallel cdt-train: each rank augments only its\n"
"                        own rows; auto: R and W from mpirun's environment\n"
"      --shard-batch B   the per-rank batch (cdt-train --batch) of --shard\n"
"      --raw             write without zstd compression\n"
"      --progress        print rows/s on stderr (default when it is a terminal)\n"
"  -o, --output FILE     write here instead of stdout\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

enum { O_BLUR = 256, O_NOCOLOR, O_SEED, O_PREVIEW, O_RAW, O_PROGRESS, O_VERSION, O_SHARD,
       O_SHARD_BATCH, O_CROP };

/* --shard R/W, or auto: the launcher's rank and size (Open MPI, PMI). */
static void parse_shard(const char *s, opts *o)
{
    const char *r = NULL, *w = NULL;
    if (!strcmp(s, "auto")) {
        r = getenv("OMPI_COMM_WORLD_RANK") ? getenv("OMPI_COMM_WORLD_RANK") : getenv("PMI_RANK");
        w = getenv("OMPI_COMM_WORLD_SIZE") ? getenv("OMPI_COMM_WORLD_SIZE") : getenv("PMI_SIZE");
        if (!r || !w)
            cli_die(prog, EX_USAGE_, "--shard auto: not started by mpirun (no OMPI_COMM_WORLD_RANK or PMI_RANK)");
        o->shard_rank = (int)cli_int(prog, "--shard (rank)", r, 0, 1 << 20);
        o->shard_world = (int)cli_int(prog, "--shard (size)", w, 1, 1 << 20);
    } else {
        char *end;
        long a = strtol(s, &end, 10), b = -1;
        if (end != s && *end == '/') b = strtol(end + 1, &end, 10);
        if (*end || a < 0 || b < 1 || a >= b || b > (1 << 20))
            cli_die(prog, EX_USAGE_, "bad value for --shard: '%s' (expected R/W with 0 <= R < W, or auto)", s);
        o->shard_rank = (int)a;
        o->shard_world = (int)b;
    }
    if (o->shard_rank >= o->shard_world)
        cli_die(prog, EX_USAGE_, "--shard: rank %d of %d", o->shard_rank, o->shard_world);
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"views", 1, 0, 'V'}, {"size", 1, 0, 's'}, {"jitter", 1, 0, 'j'},
        {"blur", 0, 0, O_BLUR}, {"no-color", 0, 0, O_NOCOLOR}, {"seed", 1, 0, O_SEED},
        {"threads", 1, 0, 't'}, {"preview", 1, 0, O_PREVIEW}, {"raw", 0, 0, O_RAW},
        {"progress", 0, 0, O_PROGRESS}, {"output", 1, 0, 'o'}, {"help", 0, 0, 'h'},
        {"version", 0, 0, O_VERSION}, {"shard", 1, 0, O_SHARD}, {"shard-batch", 1, 0, O_SHARD_BATCH},
        {"crop-scale", 1, 0, O_CROP},
        {0, 0, 0, 0}};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    memset(o, 0, sizeof *o);
    o->views = 2;
    o->threads = cores > 0 ? (int)cores : 1;
    int c;
    while ((c = getopt_long(argc, argv, "V:s:j:t:o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'V': o->views = (int)cli_int(prog, "--views", optarg, 1, CDT_MAX_VIEWS); break;
        case 's': o->size = (int)cli_int(prog, "--size", optarg, 1, 4096); break;
        case 'j': o->jitter = cli_double(prog, "--jitter", optarg, 0.0, 2.5); o->jitter_set = 1; break;
        case O_CROP: o->crop_lo = cli_double(prog, "--crop-scale", optarg, 0.01, 1.0); break;
        case O_BLUR: o->blur = 1; break;
        case O_NOCOLOR: o->no_color = 1; break;
        case O_SEED: o->seed = cli_u64(prog, "--seed", optarg, 0, UINT64_MAX); o->seed_set = 1; break;
        case 't': o->threads = (int)cli_int(prog, "--threads", optarg, 1, 1024); break;
        case O_PREVIEW: o->preview = optarg; break;
        case O_RAW: o->raw = 1; break;
        case O_PROGRESS: o->progress = 1; break;
        case 'o': o->output = optarg; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: cli_version(prog, 0); exit(0);
        case O_SHARD: parse_shard(optarg, o); break;
        case O_SHARD_BATCH: o->shard_batch = (int)cli_int(prog, "--shard-batch", optarg, 1, 1 << 20); break;
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (optind < argc - 1)
        cli_die(prog, EX_USAGE_, "more than one input file ('%s', '%s')", argv[optind], argv[optind + 1]);
    o->input = optind < argc ? argv[optind] : NULL;
    if (!o->shard_world != !o->shard_batch)
        cli_die(prog, EX_USAGE_, "--shard and --shard-batch go together");
}

/* ---- slots and the queues that pass them between the stages ---- */
#define NSLOT 3

typedef struct slot {
    uint64_t rows, first_row;   /* rows, and the stream row of the first */
    uint32_t count;
    int xi;                     /* index of x in t */
    cdt_tensor *t;              /* (count) views into buf */
    uint32_t t_cap;
    uint8_t *buf;               /* input tensors' bytes, each ALIGN-aligned */
    size_t buf_cap;
    uint8_t *out;               /* (N,V,C,S,S) */
    size_t out_cap;
    int64_t *ids;               /* (N) stream row numbers when there is no id */
    size_t ids_cap;
} slot;

typedef struct queue {
    slot *item[NSLOT + 1];
    int head, n;
} queue;

typedef struct shape { int c, h, w; } shape;

typedef struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    queue free_q, todo_q, done_q;
    int stop;                   /* a stage failed: the others wind down */
    int rc;                     /* the first failure */
    char msg[1024];
    cdt_reader *r;
    cdt_writer *w;
    const cdt_frame *first;     /* read by main before the threads start */
    const char *where;          /* the input's name for messages */
    shape in;
    int views, size;
    uint64_t frames_done, rows_done;
    uint64_t shard_rank, shard_world, shard_batch; /* world 0: every row */
    uint64_t shard_end;         /* rows from here on are dropped: a last batch short of W B */
} pipeline;

static void q_push(pipeline *p, queue *q, slot *s)
{
    pthread_mutex_lock(&p->mu);
    CDT_ASSERT(q->n < NSLOT + 1);
    q->item[(q->head + q->n++) % (NSLOT + 1)] = s;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* NULL is the end marker: it travels once through todo and done. */
static slot *q_pop(pipeline *p, queue *q)
{
    pthread_mutex_lock(&p->mu);
    while (q->n == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    slot *s = q->item[q->head];
    q->head = (q->head + 1) % (NSLOT + 1);
    q->n--;
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void fail(pipeline *p, int rc, const char *msg)
{
    pthread_mutex_lock(&p->mu);
    if (!p->rc) {
        p->rc = rc;
        snprintf(p->msg, sizeof p->msg, "%s", msg ? msg : "");
    }
    p->stop = 1;
    pthread_mutex_unlock(&p->mu);
}

static int stopped(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    int s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* ---- reading ---- */

/* Check frame f (numbered from 1) against what we can augment; the first
 * frame sets the image shape that every later frame must keep. */
static int check_frame(pipeline *p, const cdt_frame *f, uint64_t no, const char *where,
                       char *msg, size_t n)
{
    const cdt_tensor *x = cdt_frame_find(f, "x");
    const cdt_tensor *id = cdt_frame_find(f, "id"), *ep = cdt_frame_find(f, "epoch");
    const char *why = NULL;
    char buf[256];
    if (f->rows == 0)
        why = "a free-form frame (rows 0), expected x u8 [N,C,H,W]";
    else if (!x)
        why = "no tensor x, expected x u8 [N,C,H,W]";
    else if (x->dtype != CDT_U8 || x->rank != 4) {
        snprintf(buf, sizeof buf, "x is %s of rank %d, expected u8 [N,C,H,W]",
                 cdt_dtype_name(x->dtype), x->rank);
        why = buf;
    } else if (x->dim[1] != 1 && x->dim[1] != 3) {
        snprintf(buf, sizeof buf, "x has %llu channels, expected 1 or 3",
                 (unsigned long long)x->dim[1]);
        why = buf;
    } else if (x->dim[2] == 0 || x->dim[3] == 0 || x->dim[2] > 65535 || x->dim[3] > 65535) {
        snprintf(buf, sizeof buf, "x has images of %llux%llu pixels, expected 1..65535 a side",
                 (unsigned long long)x->dim[2], (unsigned long long)x->dim[3]);
        why = buf;
    } else if (p->in.c && (x->dim[1] != (uint64_t)p->in.c || x->dim[2] != (uint64_t)p->in.h ||
                           x->dim[3] != (uint64_t)p->in.w)) {
        snprintf(buf, sizeof buf, "x changes shape from [N,%d,%d,%d] to [N,%llu,%llu,%llu]",
                 p->in.c, p->in.h, p->in.w, (unsigned long long)x->dim[1],
                 (unsigned long long)x->dim[2], (unsigned long long)x->dim[3]);
        why = buf;
    } else if (id && (id->dtype != CDT_I64 || id->rank != 1))
        why = "id is not i64 [N]";
    else if (ep && (ep->dtype != CDT_I32 || ep->rank != 1))
        why = "epoch is not i32 [N]";
    else if (p->shard_world && !id)
        why = "--shard needs the stream's id column (cdt-ingest writes one)";
    if (why) {
        snprintf(msg, n, "%s (%s, frame %llu)", why, where, (unsigned long long)no);
        return CDT_EDATA;
    }
    if (!p->in.c) /* set once by main, before the reader thread starts */
        p->in = (shape){(int)x->dim[1], (int)x->dim[2], (int)x->dim[3]};
    return 0;
}

/* Tensors sit in one buffer, each at a multiple of this, so that i64 and
 * f64 data are aligned for the code that reads them. */
#define ALIGN 64
static size_t aligned(size_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

/* With --shard: whether stream row `row` is this rank's. */
static int mine(const pipeline *p, uint64_t row)
{
    return !p->shard_world ||
           (row < p->shard_end && row % (p->shard_world * p->shard_batch) / p->shard_batch == p->shard_rank);
}

/* Copy frame f into slot s: the reader's buffers are reused by its next
 * read, and we read ahead while earlier frames are still at work. With
 * --shard, only this rank's rows of every per-row tensor. */
static int fill_slot(pipeline *p, slot *s, const cdt_frame *f, uint64_t first_row)
{
    size_t total = 0;
    for (uint32_t i = 0; i < f->count; i++) {
        uint64_t nb;
        if (cdt_tensor_nbytes(&f->tensors[i], &nb) < 0 || nb > SIZE_MAX / 2 - total)
            return CDT_ELIMIT;
        total += aligned((size_t)nb);
    }
    size_t out = (size_t)f->rows * (size_t)p->views * (size_t)p->in.c * (size_t)p->size * (size_t)p->size;
    if (f->count > s->t_cap) {
        cdt_tensor *nt = realloc(s->t, f->count * sizeof *nt);
        if (!nt)
            return CDT_ENOMEM;
        s->t = nt;
        s->t_cap = f->count;
    }
    if (cdt_grow((void **)&s->buf, &s->buf_cap, total ? total : 1) < 0 ||
        cdt_grow((void **)&s->out, &s->out_cap, out ? out : 1) < 0 ||
        cdt_grow((void **)&s->ids, &s->ids_cap, (size_t)f->rows * sizeof(int64_t)) < 0)
        return CDT_ENOMEM;
    size_t at = 0;
    uint64_t kept = 0;
    for (uint64_t r = 0; r < f->rows; r++) kept += mine(p, first_row + r);
    for (uint32_t i = 0; i < f->count; i++) {
        const cdt_tensor *t = &f->tensors[i];
        uint64_t nb;
        cdt_tensor_nbytes(t, &nb);
        s->t[i] = *t;
        s->t[i].data = s->buf + at;
        if (p->shard_world && t->rank >= 1 && t->dim[0] == f->rows) { // a per-row tensor
            size_t row = (size_t)(nb / f->rows), k = 0;
            for (uint64_t r = 0; r < f->rows; r++)
                if (mine(p, first_row + r))
                    memcpy(s->buf + at + row * k++, (const uint8_t *)t->data + row * r, row);
            s->t[i].dim[0] = kept;
        } else {
            memcpy(s->buf + at, t->data, (size_t)nb);
        }
        if (!strcmp(t->name, "x"))
            s->xi = (int)i;
        at += aligned((size_t)nb);
    }
    s->rows = kept;
    s->count = f->count;
    s->first_row = first_row;
    return 0;
}

static void *reader_main(void *arg)
{
    pipeline *p = arg;
    const cdt_frame *f = p->first;
    const char *where = p->where;
    uint64_t no = 1, row = 0;
    char msg[512];
    int rc = f ? 1 : 0;
    while (rc > 0 && !stopped(p)) {
        if ((rc = check_frame(p, f, no, where, msg, sizeof msg)) < 0) {
            fail(p, rc, msg);
            break;
        }
        slot *s = q_pop(p, &p->free_q);
        if ((rc = fill_slot(p, s, f, row)) < 0) {
            fail(p, rc, "out of memory for a frame");
            q_push(p, &p->free_q, s);
            break;
        }
        q_push(p, s->rows ? &p->todo_q : &p->free_q, s); // none of this rank's: no frame
        row += f->rows;
        no++;
        if ((rc = cdt_reader_next(p->r, &f)) < 0)
            fail(p, rc, cdt_reader_errmsg(p->r));
    }
    q_push(p, &p->todo_q, NULL);
    return NULL;
}

/* ---- writing ---- */

static int write_slot(pipeline *p, slot *s)
{
    cdt_tensor keep = s->t[s->xi];
    uint64_t dim[5] = {s->rows, (uint64_t)p->views, (uint64_t)p->in.c,
                       (uint64_t)p->size, (uint64_t)p->size};
    cdt_tensor_set(&s->t[s->xi], "x", CDT_U8, s->out, 5, dim);
    int rc = cdt_writer_frame(p->w, s->rows, s->t, s->count);
    s->t[s->xi] = keep;
    return rc;
}

/* Writes done slots in order, then the end record; after a failure it only
 * recycles slots, so that the other stages can finish. */
static void *writer_main(void *arg)
{
    pipeline *p = arg;
    slot *s;
    while ((s = q_pop(p, &p->done_q))) {
        if (!stopped(p)) {
            int rc = write_slot(p, s);
            if (rc < 0)
                fail(p, rc, cdt_writer_errmsg(p->w));
        }
        q_push(p, &p->free_q, s);
    }
    if (!stopped(p)) {
        int rc = cdt_writer_close(p->w);
        if (rc < 0)
            fail(p, rc, cdt_writer_errmsg(p->w));
    }
    return NULL;
}

/* ---- augmenting, and main ---- */

static const void *slot_find(const slot *s, const char *name)
{
    for (uint32_t i = 0; i < s->count; i++)
        if (!strcmp(s->t[i].name, name))
            return s->t[i].data;
    return NULL;
}

static void augment_slot(cdt_augmenter *a, slot *s, uint64_t seed)
{
    const int64_t *id = slot_find(s, "id");
    if (!id) { /* no ids: a row's number in the stream stands in */
        for (uint64_t i = 0; i < s->rows; i++)
            s->ids[i] = (int64_t)(s->first_row + i);
        id = s->ids;
    }
    cdt_augmenter_run(a, s->out, s->t[s->xi].data, id, slot_find(s, "epoch"), s->rows, seed);
}

/* The first images of slot s, each as its whole image resized to S and
 * then its views, as one PNG sheet. */
static int write_preview(const pipeline *p, const slot *s, const char *path)
{
    int c = p->in.c, h = p->in.h, w = p->in.w, S = p->size, V = p->views;
    uint64_t n = s->rows < 8 ? s->rows : 8;
    size_t view = (size_t)c * S * S, img = (size_t)c * h * w;
    cdt_png_grid g = {n, V + 1, c, S, S, 0, 2};
    uint32_t gw, gh;
    int rc = cdt_png_grid_dims(&g, &gw, &gh);
    if (rc < 0)
        return rc;
    uint8_t *sheet = malloc(n * (V + 1) * view);
    float *scratch = malloc(cdt_resize_scratch(c, h, w, S, S) * sizeof(float));
    cdt_outfile *of = NULL;
    if (!sheet || !scratch)
        rc = CDT_ENOMEM;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint8_t *cell = sheet + i * (V + 1) * view;
        const uint8_t *x = (const uint8_t *)s->t[s->xi].data + i * img;
        cdt_resize_u8(cell, S, S, x, c, h, w, 0, 0, h, w, scratch);
        memcpy(cell + view, s->out + i * V * view, V * view);
    }
    if (rc == 0 && (rc = cdt_outfile_open(path, &of)) == 0) {
        rc = cdt_png_write_grid(cdt_outfile_fd(of), &g, sheet);
        if (rc == 0)
            rc = cdt_outfile_commit(of);
        else
            cdt_outfile_abort(of);
    }
    free(sheet);
    free(scratch);
    return rc;
}

/* The meta we write: the input's, plus our settings. */
static cdt_meta *make_meta(const cdt_meta *in, const opts *o, const pipeline *p)
{
    cdt_meta *m = cdt_meta_clone(in);
    if (!m)
        cli_die(prog, EX_SOFT_, "out of memory");
    int rc = cdt_meta_set_i64(m, "augment.views", o->views);
    if (p->size)
        rc |= cdt_meta_set_i64(m, "augment.size", p->size);
    rc |= cdt_meta_setf(m, "augment.jitter", "%g", o->jitter);
    rc |= cdt_meta_set_i64(m, "augment.blur", o->blur);
    rc |= cdt_meta_setf(m, "augment.crop_scale", "%g", o->crop_lo > 0.0 ? o->crop_lo : CDT_CROP_LO);
    rc |= cdt_meta_set_i64(m, "augment.color", !o->no_color && p->in.c != 1);
    rc |= cdt_meta_setf(m, "augment.seed", "%llu", (unsigned long long)o->seed);
    int64_t total;
    if (o->shard_world) { // cdt-train checks these against its rank and batch
        rc |= cdt_meta_setf(m, "shard", "%d/%d", o->shard_rank, o->shard_world);
        rc |= cdt_meta_set_i64(m, "shard.batch", o->shard_batch);
        if (cdt_meta_get_i64(in, "rows_total", &total) == 0 && total >= 0) // this rank's
            rc |= cdt_meta_set_i64(m, "rows_total", total / ((int64_t)o->shard_world * o->shard_batch) * o->shard_batch);
    }
    if (!cdt_meta_get(m, "seed"))
        rc |= cdt_meta_setf(m, "seed", "%llu", (unsigned long long)o->seed);
    if (rc)
        cli_die(prog, EX_SOFT_, "cannot set the meta keys");
    return m;
}

/* Defaults that depend on the input: its seed, its size, CIFAR's jitter. */
static void settle(opts *o, pipeline *p, const cdt_meta *in)
{
    int64_t v;
    if (!o->seed_set && cdt_meta_get_i64(in, "seed", &v) == 0 && v >= 0)
        o->seed = (uint64_t)v;
    p->size = o->size ? o->size : p->in.h;
    if (!o->jitter_set)
        o->jitter = p->in.h == 32 && p->in.w == 32 ? 0.5 : 1.0;
    p->views = o->views;
}

static void run(pipeline *p, cdt_augmenter *a, const opts *o)
{
    pthread_t rt, wt;
    slot slots[NSLOT];
    memset(slots, 0, sizeof slots);
    for (int i = 0; i < NSLOT; i++)
        p->free_q.item[p->free_q.n++] = &slots[i];
    if (pthread_create(&rt, NULL, reader_main, p) || pthread_create(&wt, NULL, writer_main, p))
        cli_die(prog, EX_SOFT_, "cannot start threads");
    int progress = cli_progress_wanted(o->progress);
    double t0 = cli_now();
    slot *s;
    while ((s = q_pop(p, &p->todo_q))) {
        if (!stopped(p)) {
            augment_slot(a, s, o->seed);
            int rc = 0;
            if (o->preview && p->frames_done == 0 && (rc = write_preview(p, s, o->preview)) < 0)
                fail(p, rc, "cannot write the --preview PNG");
            p->frames_done++;
            p->rows_done += s->rows;
            if (progress)
                fprintf(stderr, "\r%s: %llu rows, %.0f views/s", prog,
                        (unsigned long long)p->rows_done,
                        (double)p->rows_done * o->views / (cli_now() - t0 + 1e-9));
        }
        q_push(p, &p->done_q, s);
    }
    q_push(p, &p->done_q, NULL);
    pthread_join(rt, NULL);
    pthread_join(wt, NULL);
    if (progress && p->rows_done)
        fputc('\n', stderr);
    for (int i = 0; i < NSLOT; i++) {
        free(slots[i].t);
        free(slots[i].buf);
        free(slots[i].out);
        free(slots[i].ids);
    }
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    pipeline p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.where = o.input && strcmp(o.input, "-") ? o.input : "stdin";
    p.shard_rank = (uint64_t)o.shard_rank;
    p.shard_world = (uint64_t)o.shard_world;
    p.shard_batch = (uint64_t)o.shard_batch;
    p.shard_end = UINT64_MAX;
    p.r = cli_reader_open(prog, o.input);
    char msg[512];
    int rc = cdt_reader_next(p.r, &p.first);
    if (rc < 0)
        cli_fail(prog, rc, cdt_reader_errmsg(p.r));
    if (rc == 0)
        p.first = NULL;
    else if (check_frame(&p, p.first, 1, p.where, msg, sizeof msg) < 0)
        cli_fail(prog, CDT_EDATA, msg);
    settle(&o, &p, cdt_reader_meta(p.r));
    int64_t total;
    if (p.shard_world && cdt_meta_get_i64(cdt_reader_meta(p.r), "rows_total", &total) == 0 && total >= 0)
        p.shard_end = (uint64_t)total / (p.shard_world * p.shard_batch) * (p.shard_world * p.shard_batch);
    cdt_augmenter *a = NULL;
    cdt_augment_opts ao = {p.size, o.jitter, !o.no_color && p.in.c == 3, o.blur, o.crop_lo};
    if (p.first && (rc = cdt_augmenter_create(&ao, p.in.c, p.in.h, p.in.w, o.views,
                                              o.threads, &a)) < 0)
        cli_fail(prog, rc, "cannot allocate the per-thread scratch");
    cdt_meta *m = make_meta(cdt_reader_meta(p.r), &o, &p);
    cdt_writer_opts wo;
    cli_writer_opts(prog, o.raw, &wo);
    cli_out out;
    cli_out_open(prog, o.output, &out);
    if ((rc = cdt_writer_open_fd(out.fd, m, &wo, &p.w)) < 0)
        fail(&p, rc, cdt_writer_errmsg(p.w));
    else
        run(&p, a, &o);
    if (p.rc) {
        cli_out_abort(&out);
        cli_fail(prog, p.rc, p.msg);
    }
    cli_out_commit(prog, &out);
    cdt_writer_destroy(p.w);
    cdt_meta_destroy(m);
    cdt_augmenter_destroy(a);
    cdt_reader_destroy(p.r);
    return 0;
}
