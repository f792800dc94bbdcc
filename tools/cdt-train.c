/* cdt-train: Contrastive Disentangling training on an augmented stream
 * (x u8 [N,2,C,H,W] from cdt-augment); writes a model file. Rows are
 * re-batched across frames into one buffer allocated at the start. */
#include "cli.h"
#include "cdt_comm.h"
#include "cdt_modelfile.h"
#include "cdt_train.h"

#include <cblas.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "cdt-train";

/* The one piece of global mutable state, and the accepted exception to the
 * rule against it: a signal handler can only talk to main through a static
 * sig_atomic_t. The handler sets it; the loop checks it between steps. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-train [options] [FILE]\n"
"Train a Contrastive Disentangling model on an augmented stream (FILE or\n"
"stdin: x u8 [N,2,C,H,W] from cdt-augment; pixels are scaled to [0,1]) and\n"
"write the model file. Batches of --batch rows are taken across frames; a\n"
"short last batch is dropped.\n"
"      --arch A          resnet18, resnet34 (default) or resnet50\n"
"      --stem S          cifar (3x3 conv, no maxpool; default below 128 pixels)\n"
"                        or imagenet (7x7/2 conv + maxpool)\n"
"      --width N         first stage width (default 64)\n"
"      --hidden-dim N    instance projector output z (default 128)\n"
"      --feature-num N   feature heads f (default 128)\n"
"  -b, --batch N         images per step (default 128)\n"
"      --lr X            Adam learning rate (default 3e-4)\n"
"      --weight-decay X  Adam weight decay (default 0)\n"
"      --clip X          clip the gradient norm to X (default 0: off)\n"
"      --t-instance X    instance loss temperature (default 0.5)\n"
"      --t-feature X     feature loss temperature (default 1.0)\n"
"      --cosine          cosine learning-rate schedule over --total-steps, or\n"
"                        over the stream's rows_total / batch\n"
"      --total-steps N   the schedule's length in steps\n"
"      --time-limit T    train for T (90s, 10m, 1.5h): the steps (and the\n"
"                        --cosine schedule) are sized from the speed of the\n"
"                        first steps, then a model file as usual\n"
"      --seed N          initialisation seed (default: the stream's seed, else 0)\n"
"      --init MODEL      start from these weights (architecture from the file)\n"
"      --checkpoint FILE write model + Adam state here on SIGINT/SIGTERM and\n"
"                        every --checkpoint-every steps\n"
"      --checkpoint-every N  steps between checkpoints (default 0: only on signals)\n"
"      --resume FILE     continue from a checkpoint: the first rows it consumed\n"
"                        are skipped from the input, which must be the same stream\n"
"      --log FILE.csv    step,instance,feature,entropy,total,lr,images_per_s,cpu_s\n"
"                        (cpu_s: the process's CPU seconds so far)\n"
"      --device D        cpu, cuda (the first GPU, through libcdt_cuda.so) or auto\n"
"                        (cuda when it works, else cpu); default cpu\n"
"      --precision P     the GPU's matrix products: fp32, tf32 or bf16 (default fp32)\n"
"Data parallel (mpirun -np W cdt-train ...: W ranks train as one process with\n"
"batch W x --batch; each rank reads the same stream and takes its slice of it):\n"
"      --comm C          auto (MPI when started by mpirun; on GPUs, NCCL when every\n"
"                        rank has a GPU of its own and NCCL loads), mpi (host\n"
"                        memory, even on GPUs) or nccl\n"
"      --bn B            sync (batch norm over every rank's rows, the default: the\n"
"                        one-process model) or local (each rank's own; cheaper,\n"
"                        not the same model)\n"
"      --check-ranks     after every step, check that every rank holds the same\n"
"                        parameters (a hash of them), for debugging\n"
"  e.g. mpirun --allow-run-as-root --oversubscribe -np 2 cdt-train -b 64 aug.cdt -o m.cdt\n"
"  (several machines: mpirun --hostfile hosts -np 8 ...)\n"
"  -t, --threads N       OpenMP threads (default: OMP_NUM_THREADS, else every\n"
"                        core); BLAS calls run on one thread\n"
"  -o, --output FILE     the model file (default stdout)\n"
"      --raw             write without zstd compression\n"
"      --progress        step, images/s, losses, ETA on stderr (default when a terminal)\n"
"  -v, --verbose         print the configuration and the memory it takes\n"
"  -h, --help            print this help\n"
"      --version         print the version\n"
"Exit status: 0 done, 64 usage, 65 bad input or a loss that is not finite,\n"
"66 missing input, 69 --device cuda without a usable GPU, 70 internal, 74 I/O,\n"
"130/143 stopped by SIGINT/SIGTERM.\n");
}

/* Options left unset (negative, NAN or NULL) take their value from --init or
 * --resume's meta, then from the defaults. */
typedef struct opts {
    const char *arch, *stem, *init, *resume, *checkpoint, *log, *output, *input;
    int width, hidden, features, batch, threads, raw, progress, verbose, cosine, version;
    int device, precision;    /* CDT_DEVICE_*, CDT_PRECISION_* */
    int comm, bn_local, check_ranks; /* CDT_COMM_*; --bn local; --check-ranks */
    int nccl;                 /* ranks exchange through NCCL (decided in open_device) */
    int steps_given;          /* --total-steps was given (else it may come from rows_total) */
    long total_steps, ck_every;
    double lr, wd, clip, ti, tf;
    double time_limit;        /* seconds; 0: none */
    int64_t seed;
} opts;

enum { O_ARCH = 256, O_STEM, O_WIDTH, O_HIDDEN, O_FEAT, O_LR, O_WD, O_CLIP, O_TI, O_TF,
       O_COSINE, O_TOTAL, O_SEED, O_INIT, O_CKPT, O_CKEVERY, O_RESUME, O_LOG, O_DEVICE,
       O_PRECISION, O_RAW, O_PROGRESS, O_VERSION, O_TIME_LIMIT, O_COMM, O_BN, O_CHECK_RANKS };

/* "90s", "10m", "1.5h", "600" (seconds). */
static double parse_duration(const char *s)
{
    char *end;
    double v = strtod(s, &end), unit = 1;
    if (*end == 'm') unit = 60, end++;
    else if (*end == 'h') unit = 3600, end++;
    else if (*end == 's') end++;
    if (end == s || *end || !(v > 0) || v * unit > 1e9)
        cli_die(prog, EX_USAGE_, "bad value for --time-limit: '%s' (expected a duration such as 90s, 10m or 2h)", s);
    return v * unit;
}

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"arch", 1, 0, O_ARCH}, {"stem", 1, 0, O_STEM}, {"width", 1, 0, O_WIDTH},
        {"hidden-dim", 1, 0, O_HIDDEN}, {"feature-num", 1, 0, O_FEAT}, {"batch", 1, 0, 'b'},
        {"lr", 1, 0, O_LR}, {"weight-decay", 1, 0, O_WD}, {"clip", 1, 0, O_CLIP},
        {"t-instance", 1, 0, O_TI}, {"t-feature", 1, 0, O_TF}, {"cosine", 0, 0, O_COSINE},
        {"total-steps", 1, 0, O_TOTAL}, {"seed", 1, 0, O_SEED}, {"init", 1, 0, O_INIT},
        {"checkpoint", 1, 0, O_CKPT}, {"checkpoint-every", 1, 0, O_CKEVERY},
        {"resume", 1, 0, O_RESUME}, {"log", 1, 0, O_LOG}, {"device", 1, 0, O_DEVICE},
        {"precision", 1, 0, O_PRECISION}, {"threads", 1, 0, 't'}, {"output", 1, 0, 'o'}, {"raw", 0, 0, O_RAW},
        {"progress", 0, 0, O_PROGRESS}, {"verbose", 0, 0, 'v'}, {"help", 0, 0, 'h'},
        {"version", 0, 0, O_VERSION}, {"time-limit", 1, 0, O_TIME_LIMIT}, {"comm", 1, 0, O_COMM},
        {"bn", 1, 0, O_BN}, {"check-ranks", 0, 0, O_CHECK_RANKS}, {0, 0, 0, 0}};
    *o = (opts){.width = -1, .hidden = -1, .features = -1, .batch = -1, .total_steps = -1,
                .lr = NAN, .wd = NAN, .clip = NAN, .ti = NAN, .tf = NAN, .seed = -1};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:o:vh", lo, NULL)) != -1) {
        switch (c) {
        case O_ARCH: o->arch = optarg; break;
        case O_STEM: o->stem = optarg; break;
        case O_WIDTH: o->width = (int)cli_int(prog, "--width", optarg, 1, 4096); break;
        case O_HIDDEN: o->hidden = (int)cli_int(prog, "--hidden-dim", optarg, 1, 65536); break;
        case O_FEAT: o->features = (int)cli_int(prog, "--feature-num", optarg, 1, 65536); break;
        case 'b': o->batch = (int)cli_int(prog, "--batch", optarg, 2, 1 << 20); break;
        case O_LR: o->lr = cli_double(prog, "--lr", optarg, 0, 1e300); break;
        case O_WD: o->wd = cli_double(prog, "--weight-decay", optarg, 0, 1e300); break;
        case O_CLIP: o->clip = cli_double(prog, "--clip", optarg, 0, 1e300); break;
        case O_TI: o->ti = cli_double(prog, "--t-instance", optarg, 1e-6, 1e6); break;
        case O_TF: o->tf = cli_double(prog, "--t-feature", optarg, 1e-6, 1e6); break;
        case O_COSINE: o->cosine = 1; break;
        case O_TOTAL:
            o->total_steps = cli_int(prog, "--total-steps", optarg, 1, LONG_MAX);
            o->steps_given = 1;
            break;
        case O_SEED: o->seed = (int64_t)cli_u64(prog, "--seed", optarg, 0, INT64_MAX); break;
        case O_INIT: o->init = optarg; break;
        case O_CKPT: o->checkpoint = optarg; break;
        case O_CKEVERY: o->ck_every = cli_int(prog, "--checkpoint-every", optarg, 0, LONG_MAX); break;
        case O_RESUME: o->resume = optarg; break;
        case O_LOG: o->log = optarg; break;
        case O_DEVICE: o->device = cli_device_kind(prog, optarg); break;
        case O_PRECISION: o->precision = cli_precision(prog, optarg); break;
        case 't': o->threads = (int)cli_int(prog, "--threads", optarg, 1, 1024); break;
        case 'o': o->output = optarg; break;
        case O_RAW: o->raw = 1; break;
        case O_PROGRESS: o->progress = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: o->version = 1; break;
        case O_TIME_LIMIT: o->time_limit = parse_duration(optarg); break;
        case O_COMM:
            if ((o->comm = cdt_comm_parse(optarg)) < 0)
                cli_die(prog, EX_USAGE_, "bad value for --comm: '%s' (expected auto, mpi or nccl)", optarg);
            break;
        case O_BN:
            if (strcmp(optarg, "sync") && strcmp(optarg, "local"))
                cli_die(prog, EX_USAGE_, "bad value for --bn: '%s' (expected sync or local)", optarg);
            o->bn_local = !strcmp(optarg, "local");
            break;
        case O_CHECK_RANKS: o->check_ranks = 1; break;
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (o->version) { // after the loop, so that `--version -v` sees -v
        cli_version(prog, o->verbose);
        exit(0);
    }
    if (optind < argc - 1)
        cli_die(prog, EX_USAGE_, "more than one input file ('%s', '%s')", argv[optind], argv[optind + 1]);
    if (o->init && o->resume) cli_die(prog, EX_USAGE_, "--init and --resume exclude each other");
    if (o->ck_every && !o->checkpoint) cli_die(prog, EX_USAGE_, "--checkpoint-every needs --checkpoint");
    o->input = optind < argc ? argv[optind] : NULL;
}

/* ---- settings from a model file's meta, then defaults ---- */

static double meta_double(const cdt_meta *m, const char *key, double given, double dflt)
{
    const char *v = m ? cdt_meta_get(m, key) : NULL;
    if (!isnan(given)) return given;
    return v ? strtod(v, NULL) : dflt;
}

static long meta_long(const cdt_meta *m, const char *key, long given, long dflt)
{
    int64_t v;
    if (given >= 0) return given;
    return m && cdt_meta_get_i64(m, key, &v) == 0 ? (long)v : dflt;
}

static void fill_train(opts *o, const cdt_meta *from)
{
    o->lr = meta_double(from, "train.lr", o->lr, 3e-4);
    o->wd = meta_double(from, "train.weight_decay", o->wd, 0);
    o->clip = meta_double(from, "train.clip", o->clip, 0);
    o->ti = meta_double(from, "train.t_instance", o->ti, 0.5);
    o->tf = meta_double(from, "train.t_feature", o->tf, 1.0);
    o->batch = (int)meta_long(from, "train.batch", o->batch, 128);
    o->total_steps = meta_long(from, "train.total_steps", o->total_steps, -1);
    o->seed = meta_long(from, "seed", o->seed, -1);
    if (!o->cosine) o->cosine = (int)meta_long(from, "train.cosine", -1, 0);
}

/* The architecture from options and the images' shape (no model file). */
static cdt_model_config config_from_opts(const opts *o, int c, int size)
{
    cdt_model_config cfg = {.depth = cdt_arch_depth(o->arch ? o->arch : "resnet34"),
                            .width = o->width > 0 ? o->width : 64, .in_channels = c,
                            .image_size = size, .hidden_dim = o->hidden > 0 ? o->hidden : 128,
                            .feature_num = o->features > 0 ? o->features : 128};
    if (!cfg.depth) cli_die(prog, EX_USAGE_, "bad value for --arch: '%s' (expected resnet18, resnet34 or resnet50)", o->arch);
    const char *stem = o->stem ? o->stem : size >= 128 ? "imagenet" : "cifar";
    if (strcmp(stem, "cifar") && strcmp(stem, "imagenet"))
        cli_die(prog, EX_USAGE_, "bad value for --stem: '%s' (expected cifar or imagenet)", stem);
    cfg.stem = !strcmp(stem, "cifar") ? CDT_STEM_CIFAR : CDT_STEM_IMAGENET;
    return cfg;
}

/* Options that name the architecture must agree with a model file's. */
static void check_arch(const opts *o, const cdt_model_config *f, const char *path)
{
    cdt_model_config want = config_from_opts(o, f->in_channels, f->image_size);
    if ((o->arch && want.depth != f->depth) || (o->stem && want.stem != f->stem) ||
        (o->width > 0 && o->width != f->width) || (o->hidden > 0 && o->hidden != f->hidden_dim) ||
        (o->features > 0 && o->features != f->feature_num))
        cli_die(prog, EX_USAGE_, "the architecture options disagree with %s (%s, width %d)",
                path, cdt_arch_name(f->depth), f->width);
}

/* ---- the training run ---- */

typedef struct run {
    opts *o;
    cdt_reader *r;
    cdt_device *dev;
    cdt_comm *comm;           /* NULL: one process */
    int world, rank;          /* ranks of a data-parallel job (1, 0 without) */
    uint64_t hash;            /* FNV-1a of the rows of the global batch being read */
    int sharded;              /* the stream holds only this rank's rows (cdt-augment --shard) */
    cdt_model *m;
    cdt_trainer *t;
    cdt_meta *extra;          /* meta written into model files */
    cli_out out;
    cdt_writer_opts wo;
    FILE *log;
    uint8_t *batch;           // (batch,2,C,H,W): this rank's slice of each global batch
    size_t row_bytes;
    uint64_t shape[5];        /* x's shape, dim[0] aside */
    int fill;                 /* rows of the global batch (world x batch) read so far */
    int progress, tty; /* tty: progress redraws one line; else a line every PROGRESS_EVERY s */
    uint64_t rows, skip, rows_total; /* rows consumed by steps (absolute), left to skip */
    int64_t epoch, last_id;   /* of the last row consumed by a step */
    uint64_t seed;
    long first_step;
    double t0, t_print, step_time;
    double t_eta;             /* when step step_eta ended: the ETA's rate starts there */
    long step_eta;
} run;

static void save_to(run *R, int fd, int with_state, const char *what)
{
    cdt_modelfile_state st = {cdt_trainer_steps(R->t), R->epoch, R->seed, R->rows, R->last_id,
                              with_state ? cdt_trainer_adam_m(R->t) : NULL, with_state ? cdt_trainer_adam_v(R->t) : NULL};
    char err[512];
    if (with_state && cdt_trainer_pull(R->t) < 0) // the moments of a device
        cli_die(prog, EX_SOFT_, "%s: %s", what, cdt_trainer_errmsg(R->t));
    int rc = cdt_modelfile_save(fd, R->m, &st, R->extra, &R->wo, err, sizeof err);
    if (rc < 0) cli_die(prog, cdt_exit_code(rc), "%s: %s", what, err);
}

static void write_checkpoint(run *R)
{
    if (R->rank) return; // rank 0 writes for every rank: they hold the same state
    cdt_outfile *of;
    int rc = cdt_outfile_open(R->o->checkpoint, &of);
    if (rc < 0) cli_die(prog, cdt_exit_code(rc), "cannot create %s: %s", R->o->checkpoint, cdt_strerror(rc));
    save_to(R, cdt_outfile_fd(of), 1, R->o->checkpoint);
    if ((rc = cdt_outfile_commit(of)) < 0)
        cli_die(prog, cdt_exit_code(rc), "cannot finish %s: %s", R->o->checkpoint, cdt_strerror(rc));
}

/* Stops with a checkpoint when a signal came. With several ranks only at
 * points every rank reaches together (agreed: agree(), or the stream cut
 * short), so that rank 0 is not killed while it writes; the others wait
 * for it to finish. */
static void stop_on_signal(run *R, int agreed)
{
    if (!got_signal || (R->world > 1 && !agreed)) return;
    int sig = got_signal;
    if (R->o->checkpoint) write_checkpoint(R);
    char done = 1;
    if (R->world > 1 && agreed == 1) cdt_comm_bcast(R->comm, &done, 1, 0);
    if (R->rank) exit(128 + sig);
    cli_out_abort(&R->out);
    fprintf(stderr, "%s: stopped by signal %d after step %ld%s%s\n", prog, sig, cdt_trainer_steps(R->t),
            R->o->checkpoint ? ", checkpoint written to " : "",
            R->o->checkpoint ? R->o->checkpoint : "");
    exit(128 + sig);
}

/* Stream rows a step takes: every rank's (W x batch), or this rank's
 * alone from a sharded stream. */
static uint64_t rows_per_step(const run *R, int batch)
{
    return (uint64_t)batch * (uint64_t)(R->sharded ? 1 : R->world);
}

/* The schedule's length when known: --total-steps, else the stream's
 * rows_total / batch; 0 when neither is known. */
static long total_steps(const run *R)
{
    return R->o->total_steps > 0 ? R->o->total_steps
         : R->rows_total ? (long)(R->rows_total / rows_per_step(R, cdt_model_batch(R->m))) : 0;
}

/* Seconds between progress lines when stderr is not a terminal (make's
 * output, a log), where each is a line of its own. */
#define PROGRESS_EVERY 15.0
/* Steps timed before an ETA is given: the first ones pay for page faults. */
#define ETA_AFTER 5

static void report(run *R, const cdt_train_stats *s)
{
    double ips = (double)cdt_model_batch(R->m) * R->world / R->step_time;
    if (R->log) {
        fprintf(R->log, "%ld,%.9g,%.9g,%.9g,%.9g,%.9g,%.2f,%.3f\n", cdt_trainer_steps(R->t),
                s->loss.instance, s->loss.feature, s->loss.entropy, s->loss.total, s->lr, ips,
                cli_cpu_now());
        fflush(R->log);
    }
    double t = cli_now();
    long done = cdt_trainer_steps(R->t) - R->first_step, total = total_steps(R);
    if (done == ETA_AFTER) { // the rate from here on leaves the first steps out
        R->t_eta = t;
        R->step_eta = cdt_trainer_steps(R->t);
    }
    if (!R->progress || t - R->t_print < (R->tty ? 0.5 : PROGRESS_EVERY)) return;
    R->t_print = t;
    char step[64], eta[64] = "";
    if (total)
        snprintf(step, sizeof step, "step %ld/%ld", cdt_trainer_steps(R->t), total);
    else
        snprintf(step, sizeof step, "step %ld", cdt_trainer_steps(R->t));
    if (done > ETA_AFTER && total > cdt_trainer_steps(R->t) && t > R->t_eta) {
        double rate = (double)(cdt_trainer_steps(R->t) - R->step_eta) / (t - R->t_eta);
        double left = (double)(total - cdt_trainer_steps(R->t)) / rate;
        snprintf(eta, sizeof eta, "  ETA %dm%02ds", (int)(left / 60), (int)fmod(left, 60));
    }
    fprintf(stderr, "%s%s  %.1f img/s  loss %.4f (instance %.4f feature %.4f H %.4f)%s%s",
            R->tty ? "\r" : "", step, ips, s->loss.total, s->loss.instance, s->loss.feature,
            s->loss.entropy, eta, R->tty ? " " : "\n");
}

static void take_step(run *R)
{
    cdt_train_stats s;
    double t = cli_now();
    int rc = cdt_trainer_step(R->t, R->batch, &s);
    R->step_time = cli_now() - t;
    if (rc < 0) {
        cli_out_abort(&R->out);
        cli_die(prog, EX_DATA_, "%s; stopped%s%s", cdt_trainer_errmsg(R->t),
                R->o->checkpoint ? ", the last good checkpoint is " : " (no checkpoint)",
                R->o->checkpoint ? R->o->checkpoint : "");
    }
    R->rows += (uint64_t)cdt_model_batch(R->m) * (uint64_t)R->world;
    R->fill = 0;
    report(R, &s);
    if (R->o->ck_every && cdt_trainer_steps(R->t) % R->o->ck_every == 0) write_checkpoint(R);
    stop_on_signal(R, 0);
}

static int64_t row_int(const cdt_tensor *t, uint64_t i)
{
    if (!t || t->rank != 1) return -1;
    if (t->dtype == CDT_I64) { int64_t v; memcpy(&v, (char *)t->data + 8 * i, 8); return v; }
    if (t->dtype == CDT_I32) { int32_t v; memcpy(&v, (char *)t->data + 4 * i, 4); return v; }
    return -1;
}

static void check_x(run *R, const cdt_tensor *x)
{
    int ok = x && x->dtype == CDT_U8 && x->rank == 5;
    for (int k = 1; ok && k < 5; k++) ok = x->dim[k] == R->shape[k];
    if (!ok)
        cli_die(prog, EX_DATA_, "frame %" PRIu64 ": x is not u8 [N,2,%" PRIu64 ",%" PRIu64 ",%" PRIu64
                "] like the first frame", cdt_reader_frames(R->r) - 1, R->shape[2], R->shape[3], R->shape[4]);
}

/* --time-limit: once TL_STEPS steps after the first ETA_AFTER are timed,
 * the run is cut to the steps that fit in the time left at that speed
 * (never more than it had), and the cosine schedule is stretched or shrunk
 * to end there; the last steps see a learning rate near zero, as a run of
 * that length would. Whatever the speed does later, the run stops once the
 * time is spent; the model file is written as at any other end. */
#define TL_STEPS 5
static int time_up(run *R)
{
    opts *o = R->o;
    if (o->time_limit <= 0) return 0;
    double now = cli_now(), spent = now - R->t0;
    long done = cdt_trainer_steps(R->t) - R->first_step;
    if (R->world == 1 && spent >= o->time_limit) return 1; // else agree() asks every rank
    if (done != ETA_AFTER + TL_STEPS || (R->world == 1 && now <= R->t_eta)) return 0;
    double rate = (double)(cdt_trainer_steps(R->t) - R->step_eta) / fmax(now - R->t_eta, 1e-9);
    long fit = cdt_trainer_steps(R->t) + (long)((o->time_limit - spent) * rate);
    if (o->total_steps > 0 && o->total_steps < fit) fit = o->total_steps;
    if (R->world > 1) { // every rank stops after the same step: the slowest one's count
        int64_t v = -(int64_t)fit;
        if (cdt_comm_max_i64(R->comm, &v, 1) < 0)
            cli_die(prog, EX_IO_, "exchanging with the other ranks: %s", cdt_comm_errmsg(R->comm));
        fit = (long)-v;
    }
    o->total_steps = fit;
    if (o->cosine) cdt_trainer_set_total_steps(R->t, fit);
    if (cdt_meta_set_i64(R->extra, "train.total_steps", fit) < 0 ||
        cdt_meta_setf(R->extra, "train.time_limit_s", "%.17g", o->time_limit) < 0)
        cli_die(prog, EX_SOFT_, "out of memory");
    if (R->progress || o->verbose)
        fprintf(stderr, "%s%s: %.2f steps/s: %ld steps fit in --time-limit %gs%s\n",
                R->progress && R->tty ? "\n" : "", prog, rate, fit, o->time_limit,
                o->cosine ? " (the cosine schedule ends there)" : "");
    return cdt_trainer_steps(R->t) >= fit;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}
#define FNV_START 0xcbf29ce484222325ULL

/* A hash of the parameters (rank 0's and every rank's must agree). */
static int64_t params_hash(run *R)
{
    if (cdt_model_pull(R->m) < 0) cli_die(prog, EX_SOFT_, "%s", cdt_model_errmsg(R->m));
    return (int64_t)(fnv1a(FNV_START, (const uint8_t *)cdt_model_params(R->m),
                           cdt_model_nparams(R->m) * sizeof(float)) >> 2);
}

/* With several ranks, before each step (end 0) and once the stream has
 * ended (end 1): every rank says whether a signal came, whether its time
 * is up, what rows it read, whether its stream has ended, and with
 * --check-ranks a hash of its parameters; they must agree. Returns 1 when
 * the time is up on some rank, or a sharded stream has ended on some rank
 * (every rank stops there). */
static int agree(run *R, int end)
{
    if (R->world == 1) return 0;
    int64_t h = (int64_t)(R->hash >> 2), ph = R->o->check_ranks ? params_hash(R) : 0;
    int64_t up = R->o->time_limit > 0 && cli_now() - R->t0 >= R->o->time_limit;
    int64_t v[8] = {got_signal, up, h, -h, end, -end, ph, -ph};
    if (cdt_comm_max_i64(R->comm, v, 8) < 0)
        cli_die(prog, EX_IO_, "exchanging with the other ranks: %s", cdt_comm_errmsg(R->comm));
    R->hash = FNV_START;
    if (v[4] != -v[5] && R->sharded) // shards of a stream without rows_total: the short
        return 1;                     // last batch is on some ranks only: every rank stops
    if (v[4] != -v[5])
        cli_die(prog, EX_DATA_, "rank %d: the ranks' streams end at different rows (every rank "
                "must read the same stream)", R->rank);
    if (v[2] != -v[3])
        cli_die(prog, EX_DATA_, "rank %d: the ranks read different rows for step %ld (every rank "
                "must read the same stream: the same file, or the same seeded pipeline)", R->rank,
                cdt_trainer_steps(R->t) + 1);
    if (v[6] != -v[7])
        cli_die(prog, EX_SOFT_, "rank %d: --check-ranks: the ranks' parameters differ after step %ld",
                R->rank, cdt_trainer_steps(R->t));
    if (v[0]) {
        got_signal = (sig_atomic_t)v[0];
        stop_on_signal(R, 1);
    }
    return v[1] != 0;
}

/* Feed a frame's rows into the batch; a step whenever it fills. Returns 1
 * when --total-steps or --time-limit is reached. */
static int feed(run *R, const cdt_frame *f)
{
    const cdt_tensor *x = cdt_frame_find(f, "x");
    const cdt_tensor *id = cdt_frame_find(f, "id"), *ep = cdt_frame_find(f, "epoch");
    check_x(R, x);
    int b = cdt_model_batch(R->m);
    for (uint64_t i = 0; i < f->rows; i++) {
        if (R->skip) { R->skip--; continue; }
        const uint8_t *row = (const uint8_t *)x->data + i * R->row_bytes;
        // this rank's rows: [rank b, (rank + 1) b) of each W b, or all of a shard's
        int at = R->sharded ? R->fill : R->fill - R->rank * b;
        if (at >= 0 && at < b) memcpy(R->batch + (size_t)at * R->row_bytes, row, R->row_bytes);
        if (R->world > 1 && !R->sharded) R->hash = fnv1a(R->hash, row, R->row_bytes);
        if (++R->fill < (R->sharded ? b : b * R->world)) continue;
        R->last_id = row_int(id, i);
        R->epoch = ep ? row_int(ep, i) : 0;
        if (agree(R, 0)) return 1;
        take_step(R);
        if (time_up(R)) return 1;
        if (R->o->total_steps > 0 && cdt_trainer_steps(R->t) >= R->o->total_steps) return 1;
    }
    stop_on_signal(R, 0);
    return 0;
}

/* ---- setting up ---- */

static void first_frame(run *R, const cdt_frame **f)
{
    int rc = cdt_reader_next(R->r, f);
    if (rc < 0) cli_fail(prog, rc, cdt_reader_errmsg(R->r));
    if (rc == 0) cli_die(prog, EX_DATA_, "the input stream has no frames");
    const cdt_tensor *x = cdt_frame_find(*f, "x");
    if (!x || x->dtype != CDT_U8 || x->rank != 5 || x->dim[1] != 2 || x->dim[3] != x->dim[4] ||
        x->dim[2] > 64 || x->dim[3] > 8192)
        cli_die(prog, EX_DATA_, "frame 0: expected x u8 [N,2,C,S,S] (two square views from cdt-augment)");
    memcpy(R->shape, x->dim, sizeof R->shape);
    R->row_bytes = (size_t)(2 * x->dim[2] * x->dim[3] * x->dim[4]);
}

/* The cosine schedule's length: --total-steps, the checkpoint's, or the
 * stream's rows_total / batch. Called before the trainer is made. */
static void schedule(run *R)
{
    opts *o = R->o;
    int64_t rt;
    if (cdt_meta_get_i64(cdt_reader_meta(R->r), "rows_total", &rt) == 0 && rt > 0)
        R->rows_total = (uint64_t)rt;
    if (!o->cosine || o->total_steps > 0) return;
    uint64_t global = rows_per_step(R, o->batch);
    if (o->time_limit > 0 && R->rows_total < global) {
        o->total_steps = 0; /* time_up sizes it */
        return;
    }
    if (R->rows_total < global)
        cli_die(prog, EX_USAGE_, "--cosine needs --total-steps (the stream has no rows_total of at least a batch)");
    o->total_steps = (long)(R->rows_total / global);
}

/* Every rank starts from rank 0's parameters, statistics (and Adam's
 * moments when resuming), whatever it loaded or drew. */
static void broadcast_state(run *R, int moments)
{
    if (R->world == 1) return;
    cdt_model *m = R->m;
    size_t np = cdt_model_nparams(m) * sizeof(float), nb = cdt_model_nbuffers(m) * sizeof(float);
    int rc = cdt_model_pull(m) < 0 ? CDT_EIO : 0;
    if (!rc) rc = cdt_comm_bcast(R->comm, cdt_model_params(m), np, 0);
    if (!rc) rc = cdt_comm_bcast(R->comm, cdt_model_buffers(m), nb, 0);
    if (!rc && moments) {
        if (cdt_trainer_pull(R->t) < 0) cli_die(prog, EX_SOFT_, "%s", cdt_trainer_errmsg(R->t));
        rc = cdt_comm_bcast(R->comm, cdt_trainer_adam_m(R->t), np, 0);
        if (!rc) rc = cdt_comm_bcast(R->comm, cdt_trainer_adam_v(R->t), np, 0);
        if (!rc && cdt_trainer_push(R->t) < 0) cli_die(prog, EX_SOFT_, "%s", cdt_trainer_errmsg(R->t));
    }
    if (rc) cli_die(prog, EX_IO_, "sending rank 0's parameters: %s", cdt_comm_errmsg(R->comm));
    if (cdt_model_push(m) < 0) cli_die(prog, EX_SOFT_, "%s", cdt_model_errmsg(m));
}

/* A checkpoint resumes with the ranks that wrote it: the rows each step
 * took, the batch norm statistics, are those of that many ranks. */
static void check_ranks_meta(const run *R, const cdt_meta *meta, const char *path)
{
    int64_t w = 1;
    cdt_meta_get_i64(meta, "train.ranks", &w);
    if (w != R->world)
        cli_die(prog, EX_USAGE_, "%s was written by %" PRId64 " rank%s; resume it with as many "
                "(this run has %d)", path, w, w == 1 ? "" : "s", R->world);
}

/* The device. Ranks on GPUs exchange through NCCL (--comm auto or nccl)
 * when every rank has a GPU of its own (its local rank's) and NCCL loads
 * on every one: they agree on it; else through host memory, every rank on
 * the first GPU (--comm nccl then stops, saying why). */
static cdt_device *open_device(run *R)
{
    opts *o = R->o;
    // (--comm nccl on one rank: NCCL all the same, a test of it on one GPU)
    if ((R->world == 1 && o->comm != CDT_COMM_NCCL) || o->device == CDT_DEVICE_CPU ||
        o->comm == CDT_COMM_MPI)
        return cli_device_open(prog, o->device, o->precision, o->verbose);
    char why[1024] = "";
    cdt_device *d = NULL;
    int rc = cdt_device_open_at(o->device, o->precision, cdt_comm_local_rank(R->comm), &d, why,
                                sizeof why);
    int ok = rc == 0 && cdt_device_kind(d) == CDT_DEVICE_CUDA &&
             cdt_device_collectives(d, why, sizeof why);
    if (rc == 0 && cdt_device_kind(d) != CDT_DEVICE_CUDA) snprintf(why, sizeof why, "no GPU");
    int64_t bad = !ok;
    if (cdt_comm_max_i64(R->comm, &bad, 1) < 0)
        cli_die(prog, EX_IO_, "exchanging with the other ranks: %s", cdt_comm_errmsg(R->comm));
    if (!bad) {
        o->nccl = 1;
        if (o->verbose) fprintf(stderr, "%s: ranks exchange through NCCL, a GPU each\n", prog);
        return d;
    }
    if (o->comm == CDT_COMM_NCCL)
        cli_die(prog, EX_UNAVAILABLE_, "--comm nccl: rank %d: %s", R->rank,
                ok ? "another rank cannot have NCCL (its own message says why)" : why);
    if (o->verbose)
        fprintf(stderr, "%s: ranks exchange through host memory (MPI): %s\n", prog,
                ok ? "not every rank can have NCCL" : why);
    cdt_device_close(d);
    return cli_device_open(prog, o->device, o->precision, o->verbose);
}

/* The model, from options or from --init / --resume; loads their weights. */
static void make_model(run *R, cdt_modelfile_state *st)
{
    opts *o = R->o;
    const char *path = o->resume ? o->resume : o->init;
    cdt_modelfile *mf = NULL;
    cdt_model_config cfg;
    int rc;
    if (path) {
        if ((rc = cdt_modelfile_open(path, &mf)) < 0) cli_fail(prog, rc, cdt_modelfile_errmsg(mf));
        cfg = *cdt_modelfile_config(mf);
        check_arch(o, &cfg, path);
        if ((uint64_t)cfg.in_channels != R->shape[2] || (uint64_t)cfg.image_size != R->shape[3])
            cli_die(prog, EX_DATA_, "%s is for %dx%dx%d images, the stream has %" PRIu64 "x%" PRIu64
                    "x%" PRIu64, path, cfg.in_channels, cfg.image_size, cfg.image_size,
                    R->shape[2], R->shape[3], R->shape[4]);
    } else {
        cfg = config_from_opts(o, (int)R->shape[2], (int)R->shape[3]);
    }
    cfg.cpu_conv = cli_cpu_conv();
    fill_train(o, o->resume ? cdt_modelfile_meta(mf) : NULL);
    int64_t sseed = 0;
    cdt_meta_get_i64(cdt_reader_meta(R->r), "seed", &sseed);
    R->seed = (uint64_t)(o->seed >= 0 ? o->seed : sseed >= 0 ? sseed : 0);
    R->dev = open_device(R);
    int flags = (o->bn_local ? CDT_DP_LOCAL_BN : 0) | (o->nccl ? CDT_DP_DEVICE_COMM : 0);
    rc = cdt_model_create_parallel(&cfg, o->batch, R->dev, R->comm, flags, &R->m);
    if (rc < 0 && o->nccl)
        cli_die(prog, EX_UNAVAILABLE_, "rank %d: joining the other ranks through NCCL: %s", R->rank,
                rc == CDT_ENOENT && R->rank ? "rank 0 could not make the job's NCCL id" : cdt_device_errmsg(R->dev));
    if (rc < 0)
        cli_die(prog, rc == CDT_EINVAL ? EX_USAGE_ : cdt_exit_code(rc),
                "cannot build %s width %d on %dx%d images with batch %d on %s: %s",
                cdt_arch_name(cfg.depth), cfg.width, cfg.image_size, cfg.image_size, o->batch,
                cdt_device_describe(R->dev), cdt_strerror(rc));
    schedule(R);
    cdt_train_opts to = {o->lr, o->wd, o->clip, o->ti, o->tf, o->cosine ? o->total_steps : 0};
    if ((rc = cdt_trainer_create(R->m, &to, &R->t)) < 0) cli_fail(prog, rc, cdt_model_errmsg(R->m));
    st->adam_m = o->resume ? cdt_trainer_adam_m(R->t) : NULL;
    st->adam_v = o->resume ? cdt_trainer_adam_v(R->t) : NULL;
    if (!path) {
        cdt_model_init(R->m, R->seed);
        broadcast_state(R, 0);
        return;
    }
    rc = cdt_modelfile_load(mf, R->m, st);
    if (rc < 0) cli_fail(prog, rc, cdt_modelfile_errmsg(mf));
    if (o->resume && rc == 0) cli_die(prog, EX_DATA_, "%s is a model file, not a checkpoint (use --init)", path);
    if (o->resume && cdt_trainer_push(R->t) < 0) cli_die(prog, EX_SOFT_, "%s", cdt_trainer_errmsg(R->t));
    if (o->resume) check_ranks_meta(R, cdt_modelfile_meta(mf), path);
    broadcast_state(R, o->resume != NULL);
    cdt_modelfile_close(mf);
}

static void set_meta(run *R)
{
    const opts *o = R->o;
    const cdt_meta *in = cdt_reader_meta(R->r);
    static const char *keep[] = {"dataset", "split", "classes", "class_names"};
    if (!(R->extra = cdt_meta_create())) cli_die(prog, EX_SOFT_, "out of memory");
    int rc = cdt_meta_set(R->extra, "producer", prog);
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (cdt_meta_get(in, keep[i])) rc |= cdt_meta_set(R->extra, keep[i], cdt_meta_get(in, keep[i]));
    rc |= cdt_meta_setf(R->extra, "train.lr", "%.17g", o->lr);
    rc |= cdt_meta_setf(R->extra, "train.weight_decay", "%.17g", o->wd);
    rc |= cdt_meta_setf(R->extra, "train.clip", "%.17g", o->clip);
    rc |= cdt_meta_setf(R->extra, "train.t_instance", "%.17g", o->ti);
    rc |= cdt_meta_setf(R->extra, "train.t_feature", "%.17g", o->tf);
    rc |= cdt_meta_set_i64(R->extra, "train.batch", o->batch);
    rc |= cdt_meta_set_i64(R->extra, "train.total_steps", o->total_steps);
    rc |= cdt_meta_set_i64(R->extra, "train.cosine", o->cosine);
    if (R->world > 1) { // (one process writes exactly what it always did)
        rc |= cdt_meta_set_i64(R->extra, "train.ranks", R->world);
        rc |= cdt_meta_set(R->extra, "train.bn", o->bn_local ? "local" : "sync");
    }
    if (rc) cli_die(prog, EX_SOFT_, "out of memory");
}

static void print_config(const run *R, size_t bytes)
{
    const cdt_model_config *c = cdt_model_cfg(R->m);
    const opts *o = R->o;
    double mib = 1.0 / (1 << 20);
    fprintf(stderr, "%s: %s %s stem, width %d, %dx%dx%d images, hidden %d, %d feature heads, "
            "batch %d, lr %g%s, weight decay %g, clip %g, seed %" PRIu64 ", %d threads\n", prog,
            cdt_arch_name(c->depth), c->stem == CDT_STEM_CIFAR ? "cifar" : "imagenet", c->width,
            c->in_channels, c->image_size, c->image_size, c->hidden_dim, c->feature_num, cdt_model_batch(R->m),
            o->lr, o->cosine ? " cosine" : "", o->wd, o->clip, R->seed, omp_get_max_threads());
    char blas[256];
    cli_blas_describe(blas, sizeof blas);
    fprintf(stderr, "%s: %s\n", prog, blas);
    fprintf(stderr, "%s: device %s\n", prog, cdt_device_describe(R->dev));
    if (R->world > 1)
        fprintf(stderr, "%s: %d ranks through %s: a global batch of %d, batch norm %s\n", prog,
                R->world, cdt_comm_describe(R->comm), cdt_model_batch(R->m) * R->world,
                o->bn_local ? "over each rank's rows (--bn local)" : "over every rank's rows");
    fprintf(stderr, "%s: host memory %.1f MiB: %zu parameters (%.1f MiB with gradients and Adam "
            "moments), activations and the rest %.1f MiB\n", prog, bytes * mib, cdt_model_nparams(R->m),
            cdt_model_nparams(R->m) * 16.0 * mib, (bytes - cdt_model_nparams(R->m) * 16.0) * mib);
}

/* Before the first step: how many steps, so that a long run says so up front. */
static void announce(const run *R)
{
    long total = total_steps(R), left = total - cdt_trainer_steps(R->t);
    char from[48] = "";
    if (cdt_trainer_steps(R->t)) snprintf(from, sizeof from, ", resuming after step %ld", cdt_trainer_steps(R->t));
    if (R->o->time_limit > 0)
        fprintf(stderr, "%s: steps: as many as fit in --time-limit %gs (sized after %d steps)%s\n",
                prog, R->o->time_limit, ETA_AFTER + TL_STEPS, from);
    else if (total > 0)
        fprintf(stderr, "%s: %ld steps of %d images%s%s (%s)\n", prog, left > 0 ? left : 0,
                cdt_model_batch(R->m) * R->world, R->world > 1 ? ", --batch on each rank" : "",
                from, R->o->steps_given ? "--total-steps" : "the stream's rows_total / batch");
    else
        fprintf(stderr, "%s: steps: as many full batches as the stream holds (it has no "
                "rows_total; --total-steps sets them)%s\n", prog, from);
}

static void open_log(run *R)
{
    if (!R->o->log) return;
    if (!(R->log = fopen(R->o->log, R->o->resume ? "a" : "w")))
        cli_die(prog, EX_IO_, "cannot open %s:", R->o->log);
    if (ftell(R->log) == 0)
        fprintf(R->log, "step,instance,feature,entropy,total,lr,images_per_s,cpu_s\n");
}

static void setup_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; // a read in progress goes on; the flag is seen after it
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* A stream of one rank's rows (cdt-augment --shard R/W --shard-batch B)
 * must be this rank's, for this --batch. */
static void check_shard(const run *R)
{
    const cdt_meta *m = cdt_reader_meta(R->r);
    const char *s = cdt_meta_get(m, "shard");
    int r, w;
    int64_t b = -1;
    char end;
    if (!s) return;
    if (sscanf(s, "%d/%d%c", &r, &w, &end) != 2 || cdt_meta_get_i64(m, "shard.batch", &b) < 0)
        cli_die(prog, EX_DATA_, "the stream's meta shard='%s' or shard.batch is malformed", s);
    if (r != R->rank || w != R->world)
        cli_die(prog, EX_DATA_, "rank %d of %d: the stream holds rank %d of %d's rows (cdt-augment "
                "--shard %s)", R->rank, R->world, r, w, s);
    if (b != cdt_model_batch(R->m))
        cli_die(prog, EX_USAGE_, "the stream is sharded for --batch %" PRId64 ", not %d", b,
                cdt_model_batch(R->m));
}

/* The job's ranks when a launcher (mpirun) started this process. Only
 * rank 0 writes (the model, checkpoints, the log) and reports. */
static void open_comm(run *R)
{
    opts *o = R->o;
    char why[1024];
    int launched = cdt_comm_launched_size();
    int rc = cdt_comm_open(o->comm, &R->comm, why, sizeof why);
    if (rc == CDT_ENOMEM) cli_die(prog, EX_SOFT_, "out of memory");
    if (rc < 0 && (launched > 1 || o->comm != CDT_COMM_AUTO))
        cli_die(prog, EX_UNAVAILABLE_, "%s%s", launched > 1 ? "started as one of several ranks (mpirun), but " : "--comm: ", why);
    R->world = cdt_comm_size(R->comm);
    R->rank = cdt_comm_rank(R->comm);
    if (R->world > 1 && !o->output)
        cli_die(prog, EX_USAGE_, "with %d ranks, give the model file with -o FILE (mpirun's "
                "forwarding of standard output is not meant for binary data)", R->world);
    if (R->rank) o->verbose = 0, o->progress = 0, o->log = NULL;
    if (o->comm == CDT_COMM_NCCL && o->device == CDT_DEVICE_CPU)
        cli_die(prog, EX_USAGE_, "--comm nccl needs --device cuda");
}

int main(int argc, char **argv)
{
    opts o;
    run R = {.o = &o, .epoch = -1, .last_id = -1, .world = 1, .hash = FNV_START};
    const cdt_frame *f;
    cli_blas_setup(argv);
    parse(argc, argv, &o);
    setup_signals();
    if (o.threads) omp_set_num_threads(o.threads);
    // OpenBLAS's threaded sgemm rounds differently from its one-thread
    // path for some shapes (measured with 0.3.21), which would make the
    // model depend on the thread count; threads come from OpenMP instead.
    openblas_set_num_threads(1);
    open_comm(&R);
    cli_writer_opts(prog, o.raw, &R.wo);
    R.r = cli_reader_open(prog, o.input);
    first_frame(&R, &f);
    R.sharded = cdt_meta_get(cdt_reader_meta(R.r), "shard") != NULL;
    struct mallinfo2 before = mallinfo2();
    cdt_modelfile_state st = {0};
    make_model(&R, &st);
    if (!(R.batch = malloc(R.row_bytes * (size_t)o.batch))) cli_die(prog, EX_SOFT_, "out of memory");
    struct mallinfo2 after = mallinfo2();
    if (o.verbose)
        print_config(&R, (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd));
    check_shard(&R);
    if (o.resume) {
        cdt_trainer_set_steps(R.t, st.step);
        R.rows = R.skip = st.rows;
        if (R.sharded) R.skip = st.rows / (uint64_t)R.world; // this rank's share
        R.epoch = st.epoch;
        R.last_id = st.last_id;
    }
    set_meta(&R);
    if (!R.rank) {
        open_log(&R);
        cli_out_open(prog, o.output, &R.out);
    }
    R.progress = !R.rank && cli_progress_wanted(o.progress);
    R.tty = isatty(2);
    if (R.progress || o.verbose) announce(&R);
    R.first_step = cdt_trainer_steps(R.t);
    R.t0 = cli_now();
    int rc = 1, done = o.total_steps > 0 && cdt_trainer_steps(R.t) >= o.total_steps;
    while (!done && rc > 0) {
        done = feed(&R, f);
        if (!done && (rc = cdt_reader_next(R.r, &f)) < 0) {
            // ^C reaches the whole pipeline: the stream is cut short because
            // the producer died of the same signal, so checkpoint and go
            stop_on_signal(&R, 2);
            cli_out_abort(&R.out);
            cli_fail(prog, rc, cdt_reader_errmsg(R.r));
        }
    }
    if (rc == 0) agree(&R, 1); // every rank's stream ended here
    if (R.progress && R.tty) fprintf(stderr, "\n");
    if (!R.rank) {
        save_to(&R, R.out.fd, 0, o.output ? o.output : "stdout");
        cli_out_commit(prog, &R.out);
    }
    if (R.log && fclose(R.log)) cli_die(prog, EX_IO_, "cannot write %s:", o.log);
    if (o.verbose)
        fprintf(stderr, "%s: %ld steps, %" PRIu64 " rows consumed\n", prog, cdt_trainer_steps(R.t), R.rows);
    if (o.verbose && R.world > 1) {
        long steps = cdt_trainer_steps(R.t) - R.first_step;
        fprintf(stderr, "%s: exchanges between ranks: %.3f s in all, %.2f ms a step\n", prog,
                cdt_comm_seconds(R.comm), steps ? 1e3 * cdt_comm_seconds(R.comm) / steps : 0.0);
    }
    free(R.batch);
    cdt_meta_destroy(R.extra);
    cdt_trainer_destroy(R.t);
    cdt_model_destroy(R.m);
    cdt_device_close(R.dev);
    cdt_reader_destroy(R.r);
    cdt_comm_close(R.comm);
    return 0;
}
