/* cdt-train: Contrastive Disentangling training on an augmented stream
 * (x u8 [N,2,C,H,W] from cdt-augment); writes a model file. Rows are
 * re-batched across frames into one buffer allocated at the start. */
#include "cli.h"
#include "cdt_modelfile.h"
#include "cdt_run.h"

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

/* What the tool keeps besides the run's settings. */
typedef struct opts {
    const char *output, *input, *log, *arch, *stem;
    int threads, raw, progress, verbose, version;
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

static void parse(int argc, char **argv, opts *o, cdt_run_config *c)
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
    *o = (opts){0};
    *c = cdt_run_defaults();
    c->producer = prog;
    int k;
    while ((k = getopt_long(argc, argv, "b:t:o:vh", lo, NULL)) != -1) {
        switch (k) {
        case O_ARCH: o->arch = optarg; break;
        case O_STEM: o->stem = optarg; break;
        case O_WIDTH: c->width = (int)cli_int(prog, "--width", optarg, 1, 4096); break;
        case O_HIDDEN: c->hidden_dim = (int)cli_int(prog, "--hidden-dim", optarg, 1, 65536); break;
        case O_FEAT: c->feature_num = (int)cli_int(prog, "--feature-num", optarg, 1, 65536); break;
        case 'b': c->batch = (int)cli_int(prog, "--batch", optarg, 2, 1 << 20); break;
        case O_LR: c->lr = cli_double(prog, "--lr", optarg, 0, 1e300); break;
        case O_WD: c->weight_decay = cli_double(prog, "--weight-decay", optarg, 0, 1e300); break;
        case O_CLIP: c->clip = cli_double(prog, "--clip", optarg, 0, 1e300); break;
        case O_TI: c->t_instance = cli_double(prog, "--t-instance", optarg, 1e-6, 1e6); break;
        case O_TF: c->t_feature = cli_double(prog, "--t-feature", optarg, 1e-6, 1e6); break;
        case O_COSINE: c->cosine = 1; break;
        case O_TOTAL: c->total_steps = cli_int(prog, "--total-steps", optarg, 1, LONG_MAX); break;
        case O_SEED: c->seed = (int64_t)cli_u64(prog, "--seed", optarg, 0, INT64_MAX); break;
        case O_INIT: c->init = optarg; break;
        case O_CKPT: c->checkpoint = optarg; break;
        case O_CKEVERY: c->checkpoint_every = cli_int(prog, "--checkpoint-every", optarg, 0, LONG_MAX); break;
        case O_RESUME: c->resume = optarg; break;
        case O_LOG: o->log = optarg; break;
        case O_DEVICE: c->device = cli_device_kind(prog, optarg); break;
        case O_PRECISION: c->precision = cli_precision(prog, optarg); break;
        case 't': o->threads = (int)cli_int(prog, "--threads", optarg, 1, 1024); break;
        case 'o': o->output = optarg; break;
        case O_RAW: c->raw = o->raw = 1; break;
        case O_PROGRESS: o->progress = 1; break;
        case 'v': o->verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: o->version = 1; break;
        case O_TIME_LIMIT: c->time_limit = parse_duration(optarg); break;
        case O_COMM:
            if ((c->comm = cdt_comm_parse(optarg)) < 0)
                cli_die(prog, EX_USAGE_, "bad value for --comm: '%s' (expected auto, mpi or nccl)", optarg);
            break;
        case O_BN:
            if (strcmp(optarg, "sync") && strcmp(optarg, "local"))
                cli_die(prog, EX_USAGE_, "bad value for --bn: '%s' (expected sync or local)", optarg);
            c->bn_local = !strcmp(optarg, "local");
            break;
        case O_CHECK_RANKS: c->check_ranks = 1; break;
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (o->version) { // after the loop, so that `--version -v` sees -v
        cli_version(prog, o->verbose);
        exit(0);
    }
    if (optind < argc - 1)
        cli_die(prog, EX_USAGE_, "more than one input file ('%s', '%s')", argv[optind], argv[optind + 1]);
    if (o->arch && !(c->depth = cdt_arch_depth(o->arch)))
        cli_die(prog, EX_USAGE_, "bad value for --arch: '%s' (expected resnet18, resnet34 or resnet50)", o->arch);
    if (o->stem && strcmp(o->stem, "cifar") && strcmp(o->stem, "imagenet"))
        cli_die(prog, EX_USAGE_, "bad value for --stem: '%s' (expected cifar or imagenet)", o->stem);
    if (o->stem) c->stem = !strcmp(o->stem, "cifar") ? CDT_STEM_CIFAR : CDT_STEM_IMAGENET;
    o->input = optind < argc ? argv[optind] : NULL;
}

/* ---- reporting ---- */

typedef struct ui {
    const opts *o;
    FILE *log;
    int progress, tty; /* tty: progress redraws one line; else a line every PROGRESS_EVERY s */
    long first, step_eta;
    double t_print, t_eta;
} ui;

/* Seconds between progress lines when stderr is not a terminal (make's
 * output, a log), where each is a line of its own. */
#define PROGRESS_EVERY 15.0
/* Steps timed before an ETA is given: the first ones pay for page faults. */
#define ETA_AFTER 5

static void on_step(void *ctx, const cdt_run_step *st)
{
    ui *u = ctx;
    const cdt_train_stats *s = st->s;
    if (u->log) {
        fprintf(u->log, "%ld,%.9g,%.9g,%.9g,%.9g,%.9g,%.2f,%.3f\n", st->step, s->loss.instance,
                s->loss.feature, s->loss.entropy, s->loss.total, s->lr, st->images_per_s, cli_cpu_now());
        fflush(u->log);
    }
    double t = cli_now();
    long done = st->step - u->first;
    if (done == ETA_AFTER) { // the rate from here on leaves the first steps out
        u->t_eta = t;
        u->step_eta = st->step;
    }
    if (!u->progress || t - u->t_print < (u->tty ? 0.5 : PROGRESS_EVERY)) return;
    u->t_print = t;
    char step[64], eta[64] = "";
    snprintf(step, sizeof step, st->total ? "step %ld/%ld" : "step %ld", st->step, st->total);
    if (done > ETA_AFTER && st->total > st->step && t > u->t_eta) {
        double left = (double)(st->total - st->step) * (t - u->t_eta) / (double)(st->step - u->step_eta);
        snprintf(eta, sizeof eta, "  ETA %dm%02ds", (int)(left / 60), (int)fmod(left, 60));
    }
    fprintf(stderr, "%s%s  %.1f img/s  loss %.4f (instance %.4f feature %.4f H %.4f)%s%s",
            u->tty ? "\r" : "", step, st->images_per_s, s->loss.total, s->loss.instance,
            s->loss.feature, s->loss.entropy, eta, u->tty ? " " : "\n");
}

static void on_note(void *ctx, int detail, const char *line)
{
    const ui *u = ctx;
    if (u->o->verbose || (!detail && u->progress))
        fprintf(stderr, "%s%s: %s\n", u->progress && u->tty && u->t_print > 0 ? "\n" : "", prog, line);
}

static void print_config(const cdt_run *run, size_t bytes)
{
    const cdt_run_config *o = cdt_run_settings(run);
    const cdt_model *m = cdt_run_model(run);
    const cdt_model_config *c = cdt_model_cfg(m);
    int world = cdt_run_world(run);
    double mib = 1.0 / (1 << 20);
    fprintf(stderr, "%s: %s %s stem, width %d, %dx%dx%d images, hidden %d, %d feature heads, "
            "batch %d, lr %g%s, weight decay %g, clip %g, seed %" PRIu64 ", %d threads\n", prog,
            cdt_arch_name(c->depth), c->stem == CDT_STEM_CIFAR ? "cifar" : "imagenet", c->width,
            c->in_channels, c->image_size, c->image_size, c->hidden_dim, c->feature_num, cdt_model_batch(m),
            o->lr, o->cosine ? " cosine" : "", o->weight_decay, o->clip, cdt_run_seed(run), omp_get_max_threads());
    char blas[256];
    cli_blas_describe(blas, sizeof blas);
    fprintf(stderr, "%s: %s\n", prog, blas);
    fprintf(stderr, "%s: device %s; CPU convolutions: %s\n", prog, cdt_device_describe(cdt_run_device(run)),
            cdt_conv2d_kernels_name(c->cpu_conv));
    if (world > 1)
        fprintf(stderr, "%s: %d ranks through %s: a global batch of %d, batch norm %s\n", prog,
                world, cdt_comm_describe(cdt_run_comm(run)), cdt_model_batch(m) * world,
                o->bn_local ? "over each rank's rows (--bn local)" : "over every rank's rows");
    fprintf(stderr, "%s: host memory %.1f MiB: %zu parameters (%.1f MiB with gradients and Adam "
            "moments), activations and the rest %.1f MiB\n", prog, bytes * mib, cdt_model_nparams(m),
            cdt_model_nparams(m) * 16.0 * mib, (bytes - cdt_model_nparams(m) * 16.0) * mib);
}

/* ---- the run ---- */

/* Every failure once the run exists: the model file is not left behind. */
static void fail(cdt_run *run, cli_out *out, int rc)
{
    if (out) cli_out_abort(out);
    cli_fail(prog, rc, cdt_run_errmsg(run));
}

static void on_signal(int sig) { got_signal = sig; }

static void stopped(cdt_run *run, cli_out *out)
{
    int sig = cdt_run_signal(run);
    if (cdt_run_rank(run)) exit(128 + sig);
    cli_out_abort(out);
    const char *ck = cdt_run_settings(run)->checkpoint;
    fprintf(stderr, "%s: stopped by signal %d after step %ld%s%s\n", prog, sig, cdt_run_steps(run),
            ck ? ", checkpoint written to " : "", ck ? ck : "");
    exit(128 + sig);
}

int main(int argc, char **argv)
{
    opts o;
    cdt_run_config c;
    ui u = {.o = &o};
    cdt_run *run;
    cli_out out = {0};
    const cdt_frame *f;
    cli_blas_setup(argv);
    parse(argc, argv, &o, &c);
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART}; // a read in
    sigemptyset(&sa.sa_mask);  // progress goes on; the flag is seen after it
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (o.threads) omp_set_num_threads(o.threads);
    // OpenBLAS's threaded sgemm rounds differently from its one-thread path for some
    openblas_set_num_threads(1); // shapes (0.3.21): threads come from OpenMP instead
    c.cpu_conv = cli_cpu_conv(), c.stop = &got_signal;
    c.on_step = on_step, c.note = on_note, c.ctx = &u;
    int rc = cdt_run_create(&c, &run);
    if (rc < 0) fail(run, NULL, rc);
    int rank = cdt_run_rank(run);
    if (cdt_run_world(run) > 1 && !o.output)
        cli_die(prog, EX_USAGE_, "with %d ranks, give the model file with -o FILE (mpirun's "
                "forwarding of standard output is not meant for binary data)", cdt_run_world(run));
    if (rank) o.verbose = o.progress = 0, o.log = NULL;
    u.progress = !rank && cli_progress_wanted(o.progress);
    u.tty = isatty(2);
    cdt_reader *r = cli_reader_open(prog, o.input);
    if ((rc = cdt_reader_next(r, &f)) < 0) cli_fail(prog, rc, cdt_reader_errmsg(r));
    if (rc == 0) cli_die(prog, EX_DATA_, "the input stream has no frames");
    struct mallinfo2 before = mallinfo2();
    if ((rc = cdt_run_start(run, cdt_reader_meta(r), f)) < 0) fail(run, NULL, rc);
    struct mallinfo2 after = mallinfo2();
    if (o.verbose) print_config(run, (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd));
    if (!rank && o.log) {
        if (!(u.log = fopen(o.log, c.resume ? "a" : "w"))) cli_die(prog, EX_IO_, "cannot open %s:", o.log);
        if (ftell(u.log) == 0) fprintf(u.log, "step,instance,feature,entropy,total,lr,images_per_s,cpu_s\n");
    }
    if (!rank) cli_out_open(prog, o.output, &out);
    u.first = cdt_run_steps(run);
    int more = 1; // the stream's last answer
    while ((rc = cdt_run_feed(run, f)) == 0 && (more = cdt_reader_next(r, &f)) > 0) {}
    if (more < 0) { // ^C reaches the whole pipeline: the producer died of the same signal
        if ((rc = cdt_run_interrupted(run)) == CDT_RUN_STOPPED) stopped(run, &out);
        if (rc < 0) fail(run, &out, rc);
        cli_out_abort(&out);
        cli_fail(prog, more, cdt_reader_errmsg(r));
    }
    if (rc == 0) rc = cdt_run_end(run);
    if (rc == CDT_RUN_STOPPED) stopped(run, &out);
    if (rc < 0) fail(run, &out, rc);
    if (u.progress && u.tty) fprintf(stderr, "\n");
    if (!rank) {
        if ((rc = cdt_run_save(run, out.fd)) < 0) fail(run, &out, rc);
        cli_out_commit(prog, &out);
    }
    if (u.log && fclose(u.log)) cli_die(prog, EX_IO_, "cannot write %s:", o.log);
    long steps = cdt_run_steps(run) - u.first;
    double comm_s = cdt_comm_seconds(cdt_run_comm(run));
    if (o.verbose) fprintf(stderr, "%s: %ld steps, %" PRIu64 " rows consumed\n", prog, cdt_run_steps(run), cdt_run_rows(run));
    if (o.verbose && cdt_run_world(run) > 1)
        fprintf(stderr, "%s: exchanges between ranks: %.3f s in all, %.2f ms a step\n", prog, comm_s,
                steps ? 1e3 * comm_s / steps : 0.0);
    cdt_run_destroy(run);
    cdt_reader_destroy(r);
    return 0;
}
