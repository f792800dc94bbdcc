/* run.c: a whole training run (cdt_run.h): ranks, device, model, schedule,
 * re-batching, time limit, checkpoints and stop signals. */
#include "cdt_run.h"
#include "cdt_modelfile.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steps timed before the speed is taken: the first ones pay for page faults. */
#define ETA_AFTER 5
/* --time-limit: steps timed after those, to size the run. */
#define TL_STEPS 5
#define FNV_START 0xcbf29ce484222325ULL

struct cdt_run {
    cdt_run_config c;         /* resolved as the run goes (batch, lr, total_steps...) */
    int steps_given;          /* total_steps came from the caller */
    cdt_comm *comm;           /* NULL: one process */
    int world, rank;
    int nccl;                 /* ranks exchange through NCCL */
    uint64_t hash;            /* FNV-1a of the rows of the global batch being read */
    int sharded;              /* the stream holds only this rank's rows (cdt-augment --shard) */
    cdt_device *dev;
    cdt_model *m;
    cdt_trainer *t;
    cdt_meta *extra;          /* meta written into model files */
    cdt_writer_opts wo;
    uint8_t *batch;           // (batch,2,C,H,W): this rank's slice of each global batch
    size_t row_bytes;
    uint64_t shape[5];        /* x's shape, dim[0] aside */
    int fill;                 /* rows of the global batch (world x batch) read so far */
    uint64_t frames;          /* frames fed so far */
    uint64_t rows, skip, rows_total; /* rows consumed by steps (absolute), left to skip */
    uint64_t rows_most;       /* the stream's rows_most: the most rows it can hold, or 0 */
    int64_t epoch, last_id;   /* of the last row consumed by a step */
    uint64_t seed;
    long first_step;
    double t0, t_eta;         /* the start; when step step_eta ended */
    long step_eta;
    int sig;                  /* the signal that stops the run (any rank's) */
    char err[1024];
};

static int fail(cdt_run *R, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R->err, sizeof R->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* A libcdt object's message, or the code's own words. */
static int fail_with(cdt_run *R, int rc, const char *msg)
{
    return fail(R, rc, "%s", msg && *msg ? msg : cdt_strerror(rc));
}

static void note(const cdt_run *R, int detail, const char *fmt, ...)
{
    if (!R->c.note || R->rank) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    R->c.note(R->c.ctx, detail, line);
}

cdt_run_config cdt_run_defaults(void)
{
    return (cdt_run_config){.stem = -1, .width = -1, .hidden_dim = -1, .feature_num = -1,
                            .batch = -1, .lr = NAN, .weight_decay = NAN, .clip = NAN,
                            .t_instance = NAN, .t_feature = NAN, .total_steps = -1, .seed = -1};
}

/* ---- the ranks ---- */

int cdt_run_create(const cdt_run_config *c, cdt_run **out)
{
    cdt_run *R = calloc(1, sizeof *R);
    *out = R;
    if (!R) return CDT_ENOMEM;
    R->c = *c;
    R->steps_given = c->total_steps > 0;
    R->world = 1;
    R->hash = FNV_START;
    R->epoch = R->last_id = -1;
    if (c->init && c->resume) return fail(R, CDT_EINVAL, "--init and --resume exclude each other");
    if (c->checkpoint_every && !c->checkpoint)
        return fail(R, CDT_EINVAL, "--checkpoint-every needs --checkpoint");
    char why[1024];
    int launched = cdt_comm_launched_size();
    int rc = cdt_comm_open(c->comm, &R->comm, why, sizeof why);
    if (rc == CDT_ENOMEM) return fail(R, rc, "out of memory");
    if (rc < 0 && (launched > 1 || c->comm != CDT_COMM_AUTO))
        return fail(R, CDT_EUNAVAIL, "%s%s", launched > 1 ? "started as one of several ranks "
                    "(mpirun), but " : "--comm: ", why);
    R->world = cdt_comm_size(R->comm);
    R->rank = cdt_comm_rank(R->comm);
    if (c->comm == CDT_COMM_NCCL && c->device == CDT_DEVICE_CPU)
        return fail(R, CDT_EINVAL, "--comm nccl needs --device cuda");
    return 0;
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

static void fill_train(cdt_run_config *o, const cdt_meta *from)
{
    o->lr = meta_double(from, "train.lr", o->lr, 3e-4);
    o->weight_decay = meta_double(from, "train.weight_decay", o->weight_decay, 0);
    o->clip = meta_double(from, "train.clip", o->clip, 0);
    o->t_instance = meta_double(from, "train.t_instance", o->t_instance, 0.5);
    o->t_feature = meta_double(from, "train.t_feature", o->t_feature, 1.0);
    o->batch = (int)meta_long(from, "train.batch", o->batch, 128);
    o->total_steps = meta_long(from, "train.total_steps", o->total_steps, -1);
    o->seed = meta_long(from, "seed", o->seed, -1);
    if (!o->cosine) o->cosine = (int)meta_long(from, "train.cosine", -1, 0);
}

/* The architecture from the options and the images' shape. */
static cdt_model_config arch_from(const cdt_run_config *o, int c, int size)
{
    return (cdt_model_config){.depth = o->depth > 0 ? o->depth : 34,
                              .stem = o->stem >= 0 ? o->stem : size >= 128 ? CDT_STEM_IMAGENET : CDT_STEM_CIFAR,
                              .width = o->width > 0 ? o->width : 64, .in_channels = c,
                              .image_size = size, .hidden_dim = o->hidden_dim > 0 ? o->hidden_dim : 128,
                              .feature_num = o->feature_num > 0 ? o->feature_num : 128};
}

/* Options that name the architecture must agree with a model file's. */
static int check_arch(cdt_run *R, const cdt_model_config *f, const char *path)
{
    const cdt_run_config *o = &R->c;
    if ((o->depth > 0 && o->depth != f->depth) || (o->stem >= 0 && o->stem != f->stem) ||
        (o->width > 0 && o->width != f->width) || (o->hidden_dim > 0 && o->hidden_dim != f->hidden_dim) ||
        (o->feature_num > 0 && o->feature_num != f->feature_num))
        return fail(R, CDT_EINVAL, "the architecture options disagree with %s (%s, width %d)",
                    path, cdt_arch_name(f->depth), f->width);
    if ((uint64_t)f->in_channels != R->shape[2] || (uint64_t)f->image_size != R->shape[3])
        return fail(R, CDT_EDATA, "%s is for %dx%dx%d images, the stream has %" PRIu64 "x%" PRIu64
                    "x%" PRIu64, path, f->in_channels, f->image_size, f->image_size,
                    R->shape[2], R->shape[3], R->shape[4]);
    return 0;
}

/* ---- saving ---- */

static int save_to(cdt_run *R, int fd, int with_state, const char *what)
{
    cdt_modelfile_state st = {cdt_trainer_steps(R->t), R->epoch, R->seed, R->rows, R->last_id,
                              with_state ? cdt_trainer_adam_m(R->t) : NULL,
                              with_state ? cdt_trainer_adam_v(R->t) : NULL};
    char err[512];
    if (with_state && cdt_trainer_pull(R->t) < 0) // the moments of a device
        return fail(R, CDT_EINTERNAL, "%s: %s", what, cdt_trainer_errmsg(R->t));
    int rc = cdt_modelfile_save(fd, R->m, &st, R->extra, &R->wo, err, sizeof err);
    return rc < 0 ? fail(R, rc, "%s: %s", what, err) : 0;
}

int cdt_run_save(cdt_run *R, int fd) { return save_to(R, fd, 0, "the model file"); }

static int write_checkpoint(cdt_run *R)
{
    if (R->rank) return 0; // rank 0 writes for every rank: they hold the same state
    cdt_outfile *of;
    const char *path = R->c.checkpoint;
    int rc = cdt_outfile_open(path, &of);
    if (rc < 0) return fail(R, rc, "cannot create %s: %s", path, cdt_strerror(rc));
    if ((rc = save_to(R, cdt_outfile_fd(of), 1, path)) < 0) {
        cdt_outfile_abort(of);
        return rc;
    }
    if ((rc = cdt_outfile_commit(of)) < 0)
        return fail(R, rc, "cannot finish %s: %s", path, cdt_strerror(rc));
    return 0;
}

/* Stops with a checkpoint when a signal came. With several ranks only at
 * points every rank reaches together (agreed: agree(), or the stream cut
 * short), so that rank 0 is not killed while it writes; the others wait
 * for it to finish. Returns CDT_RUN_STOPPED, an error, or 0 (no stop). */
static int stop_on_signal(cdt_run *R, int agreed)
{
    if (!R->sig && R->c.stop) R->sig = *R->c.stop;
    if (!R->sig || (R->world > 1 && !agreed)) return 0;
    int rc = R->c.checkpoint ? write_checkpoint(R) : 0;
    if (rc < 0) return rc;
    char done = 1;
    if (R->world > 1 && agreed == 1) cdt_comm_bcast(R->comm, &done, 1, 0);
    return CDT_RUN_STOPPED;
}

int cdt_run_interrupted(cdt_run *R) { return stop_on_signal(R, 2); }

/* ---- steps ---- */

/* Stream rows a step takes: every rank's (W x batch), or this rank's
 * alone from a sharded stream. */
static uint64_t rows_per_step(const cdt_run *R, int batch)
{
    return (uint64_t)batch * (uint64_t)(R->sharded ? 1 : R->world);
}

long cdt_run_total_steps(const cdt_run *R)
{
    return R->c.total_steps > 0 ? R->c.total_steps
         : R->rows_total && R->m ? (long)(R->rows_total / rows_per_step(R, cdt_model_batch(R->m))) : 0;
}

static int take_step(cdt_run *R)
{
    cdt_train_stats s;
    double t = cdt_now();
    int rc = cdt_trainer_step(R->t, R->batch, &s);
    double step_s = cdt_now() - t;
    if (rc < 0)
        return fail(R, CDT_EDATA, "%s; stopped%s%s", cdt_trainer_errmsg(R->t),
                    R->c.checkpoint ? ", the last good checkpoint is " : " (no checkpoint)",
                    R->c.checkpoint ? R->c.checkpoint : "");
    R->rows += (uint64_t)cdt_model_batch(R->m) * (uint64_t)R->world;
    R->fill = 0;
    long step = cdt_trainer_steps(R->t);
    if (step - R->first_step == ETA_AFTER) { // the speed from here on leaves the first steps out
        R->t_eta = cdt_now();
        R->step_eta = step;
    }
    if (R->c.on_step && !R->rank) {
        cdt_run_step st = {step, cdt_run_total_steps(R), step_s,
                           (double)cdt_model_batch(R->m) * R->world / step_s, &s};
        R->c.on_step(R->c.ctx, &st);
    }
    if (R->c.checkpoint_every && step % R->c.checkpoint_every == 0 && (rc = write_checkpoint(R)) < 0)
        return rc;
    return stop_on_signal(R, 0);
}

/* --time-limit: once TL_STEPS steps after the first ETA_AFTER are timed,
 * the run is cut to the steps that fit in the time left at that speed
 * (never more than it had), and the cosine schedule is stretched or shrunk
 * to end there; the last steps see a learning rate near zero, as a run of
 * that length would. Whatever the speed does later, the run stops once the
 * time is spent. Returns 1 when it is up. */
static int time_up(cdt_run *R)
{
    cdt_run_config *o = &R->c;
    if (o->time_limit <= 0) return 0;
    double t = cdt_now(), spent = t - R->t0;
    long step = cdt_trainer_steps(R->t), done = step - R->first_step;
    if (R->world == 1 && spent >= o->time_limit) return 1; // else agree() asks every rank
    if (done != ETA_AFTER + TL_STEPS || (R->world == 1 && t <= R->t_eta)) return 0;
    double rate = (double)(step - R->step_eta) / fmax(t - R->t_eta, 1e-9);
    long fit = step + (long)((o->time_limit - spent) * rate);
    if (o->total_steps > 0 && o->total_steps < fit) fit = o->total_steps;
    // a stream of unknown length but known most (folders with bad images
    // skipped): its end, not the time, when that comes first
    long most = R->rows_most && !R->sharded
                    ? (long)(R->rows_most / rows_per_step(R, cdt_model_batch(R->m))) : 0;
    if (most > 0 && most < fit) fit = most;
    if (R->world > 1) { // every rank stops after the same step: the slowest one's count
        int64_t v = -(int64_t)fit;
        if (cdt_comm_max_i64(R->comm, &v, 1) < 0)
            return fail(R, CDT_EIO, "exchanging with the other ranks: %s", cdt_comm_errmsg(R->comm));
        fit = (long)-v;
    }
    o->total_steps = fit;
    if (o->cosine) cdt_trainer_set_total_steps(R->t, fit);
    if (cdt_meta_set_i64(R->extra, "train.total_steps", fit) < 0 ||
        cdt_meta_setf(R->extra, "train.time_limit_s", "%.17g", o->time_limit) < 0)
        return fail(R, CDT_ENOMEM, "out of memory");
    note(R, 0, "%.2f steps/s: %ld steps fit in --time-limit %gs%s", rate, fit, o->time_limit,
         o->cosine ? " (the cosine schedule ends there)" : "");
    return step >= fit;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* A hash of the parameters (rank 0's and every rank's must agree). */
static int params_hash(cdt_run *R, int64_t *h)
{
    if (cdt_model_pull(R->m) < 0) return fail(R, CDT_EINTERNAL, "%s", cdt_model_errmsg(R->m));
    *h = (int64_t)(fnv1a(FNV_START, (const uint8_t *)cdt_model_params(R->m),
                         cdt_model_nparams(R->m) * sizeof(float)) >> 2);
    return 0;
}

/* With several ranks, before each step (end 0) and once the stream has
 * ended (end 1): every rank says whether a signal came, whether its time
 * is up, what rows it read, whether its stream has ended, and with
 * check_ranks a hash of its parameters; they must agree. Returns 1 when
 * the time is up on some rank, or a sharded stream has ended on some rank
 * (every rank stops there); CDT_RUN_STOPPED or an error. */
static int agree(cdt_run *R, int end)
{
    if (R->world == 1) return 0;
    int64_t h = (int64_t)(R->hash >> 2), ph = 0;
    int rc = R->c.check_ranks ? params_hash(R, &ph) : 0;
    if (rc < 0) return rc;
    int64_t up = R->c.time_limit > 0 && cdt_now() - R->t0 >= R->c.time_limit;
    int64_t v[8] = {R->c.stop ? *R->c.stop : 0, up, h, -h, end, -end, ph, -ph};
    if (cdt_comm_max_i64(R->comm, v, 8) < 0)
        return fail(R, CDT_EIO, "exchanging with the other ranks: %s", cdt_comm_errmsg(R->comm));
    R->hash = FNV_START;
    if (v[4] != -v[5] && R->sharded) // shards of a stream without rows_total: the short
        return 1;                     // last batch is on some ranks only: every rank stops
    if (v[4] != -v[5])
        return fail(R, CDT_EDATA, "rank %d: the ranks' streams end at different rows (every rank "
                    "must read the same stream)", R->rank);
    if (v[2] != -v[3])
        return fail(R, CDT_EDATA, "rank %d: the ranks read different rows for step %ld (every rank "
                    "must read the same stream: the same file, or the same seeded pipeline)", R->rank,
                    cdt_trainer_steps(R->t) + 1);
    if (v[6] != -v[7])
        return fail(R, CDT_EINTERNAL, "rank %d: --check-ranks: the ranks' parameters differ after "
                    "step %ld", R->rank, cdt_trainer_steps(R->t));
    if (v[0]) {
        R->sig = (int)v[0];
        return stop_on_signal(R, 1);
    }
    return v[1] != 0;
}

int cdt_run_end(cdt_run *R)
{
    int rc = agree(R, 1); // every rank's stream ended here
    return rc < 0 || rc == CDT_RUN_STOPPED ? rc : 0;
}

static int64_t row_int(const cdt_tensor *t, uint64_t i)
{
    if (!t || t->rank != 1 || (t->dtype != CDT_I64 && t->dtype != CDT_I32)) return -1;
    return cdt_dtype_int(t->dtype, t->data, i);
}

static int check_x(cdt_run *R, const cdt_tensor *x, uint64_t frame)
{
    int ok = x && x->dtype == CDT_U8 && x->rank == 5;
    for (int k = 1; ok && k < 5; k++) ok = x->dim[k] == R->shape[k];
    return ok ? 0 : fail(R, CDT_EDATA, "frame %" PRIu64 ": x is not u8 [N,2,%" PRIu64 ",%" PRIu64
                         ",%" PRIu64 "] like the first frame", frame, R->shape[2], R->shape[3], R->shape[4]);
}

/* A steps line before the first step, so that a long run says so up front. */
static void announce(const cdt_run *R)
{
    long total = cdt_run_total_steps(R), left = total - cdt_trainer_steps(R->t);
    char from[48] = "";
    if (cdt_trainer_steps(R->t))
        snprintf(from, sizeof from, ", resuming after step %ld", cdt_trainer_steps(R->t));
    if (R->c.time_limit > 0)
        note(R, 0, "steps: as many as fit in --time-limit %gs (sized after %d steps)%s",
             R->c.time_limit, ETA_AFTER + TL_STEPS, from);
    else if (total > 0)
        note(R, 0, "%ld steps of %d images%s%s (%s)", left > 0 ? left : 0,
             cdt_model_batch(R->m) * R->world, R->world > 1 ? ", --batch on each rank" : "",
             from, R->steps_given ? "--total-steps" : "the stream's rows_total / batch");
    else
        note(R, 0, "steps: as many full batches as the stream holds (it has no rows_total; "
             "--total-steps sets them)%s", from);
}

static int reached(const cdt_run *R)
{
    return R->c.total_steps > 0 && cdt_trainer_steps(R->t) >= R->c.total_steps;
}

int cdt_run_feed(cdt_run *R, const cdt_frame *f)
{
    if (!R->frames) announce(R); // after what the caller prints of the setup
    if (reached(R)) return CDT_RUN_DONE;
    const cdt_tensor *x = cdt_frame_find(f, "x");
    const cdt_tensor *id = cdt_frame_find(f, "id"), *ep = cdt_frame_find(f, "epoch");
    int rc = check_x(R, x, R->frames++);
    if (rc < 0) return rc;
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
        if ((rc = agree(R, 0)) != 0) return rc == 1 ? CDT_RUN_DONE : rc;
        if ((rc = take_step(R)) != 0) return rc;
        if ((rc = time_up(R)) != 0) return rc < 0 ? rc : CDT_RUN_DONE;
        if (reached(R)) return CDT_RUN_DONE;
    }
    return stop_on_signal(R, 0);
}

/* ---- setting up ---- */

static int first_frame(cdt_run *R, const cdt_frame *f)
{
    const cdt_tensor *x = cdt_frame_find(f, "x");
    if (!x || x->dtype != CDT_U8 || x->rank != 5 || x->dim[1] != 2 || x->dim[3] != x->dim[4] ||
        x->dim[2] > 64 || x->dim[3] > 8192)
        return fail(R, CDT_EDATA, "frame 0: expected x u8 [N,2,C,S,S] (two square views from cdt-augment)");
    memcpy(R->shape, x->dim, sizeof R->shape);
    R->row_bytes = (size_t)(2 * x->dim[2] * x->dim[3] * x->dim[4]);
    return 0;
}

/* The cosine schedule's length: total_steps, the checkpoint's, or the
 * stream's rows_total / batch. Called before the trainer is made. */
static int schedule(cdt_run *R, const cdt_meta *meta)
{
    cdt_run_config *o = &R->c;
    int64_t rt;
    if (cdt_meta_get_i64(meta, "rows_total", &rt) == 0 && rt > 0) R->rows_total = (uint64_t)rt;
    if (cdt_meta_get_i64(meta, "rows_most", &rt) == 0 && rt > 0) R->rows_most = (uint64_t)rt;
    if (!o->cosine || o->total_steps > 0) return 0;
    uint64_t global = rows_per_step(R, o->batch);
    if (o->time_limit > 0 && R->rows_total < global) {
        o->total_steps = 0; /* time_up sizes it */
        return 0;
    }
    if (R->rows_total < global)
        return fail(R, CDT_EINVAL, "--cosine needs --total-steps (the stream has no rows_total of at least a batch)");
    o->total_steps = (long)(R->rows_total / global);
    return 0;
}

/* Every rank starts from rank 0's parameters, statistics (and Adam's
 * moments when resuming), whatever it loaded or drew. */
static int broadcast_state(cdt_run *R, int moments)
{
    if (R->world == 1) return 0;
    cdt_model *m = R->m;
    size_t np = cdt_model_nparams(m) * sizeof(float), nb = cdt_model_nbuffers(m) * sizeof(float);
    int rc = cdt_model_pull(m) < 0 ? CDT_EIO : 0;
    if (!rc) rc = cdt_comm_bcast(R->comm, cdt_model_params(m), np, 0);
    if (!rc) rc = cdt_comm_bcast(R->comm, cdt_model_buffers(m), nb, 0);
    if (!rc && moments) {
        if (cdt_trainer_pull(R->t) < 0) return fail(R, CDT_EINTERNAL, "%s", cdt_trainer_errmsg(R->t));
        rc = cdt_comm_bcast(R->comm, cdt_trainer_adam_m(R->t), np, 0);
        if (!rc) rc = cdt_comm_bcast(R->comm, cdt_trainer_adam_v(R->t), np, 0);
        if (!rc && cdt_trainer_push(R->t) < 0) return fail(R, CDT_EINTERNAL, "%s", cdt_trainer_errmsg(R->t));
    }
    if (rc) return fail(R, CDT_EIO, "sending rank 0's parameters: %s", cdt_comm_errmsg(R->comm));
    if (cdt_model_push(m) < 0) return fail(R, CDT_EINTERNAL, "%s", cdt_model_errmsg(m));
    return 0;
}

/* A checkpoint resumes with the ranks that wrote it: the rows each step
 * took, the batch norm statistics, are those of that many ranks. */
static int check_ranks_meta(cdt_run *R, const cdt_meta *meta, const char *path)
{
    int64_t w = 1;
    cdt_meta_get_i64(meta, "train.ranks", &w);
    if (w != R->world)
        return fail(R, CDT_EINVAL, "%s was written by %" PRId64 " rank%s; resume it with as many "
                    "(this run has %d)", path, w, w == 1 ? "" : "s", R->world);
    return 0;
}

/* The device the options name, as one process opens it. */
static int device_open(cdt_run *R)
{
    char why[1024] = "";
    const cdt_run_config *o = &R->c;
    int rc = cdt_device_open(o->device, o->precision, &R->dev, why, sizeof why);
    if (rc == CDT_EINVAL) return fail(R, rc, "%s", why[0] ? why : "bad --device or --precision");
    if (rc == CDT_ENOMEM) return fail(R, rc, "--device: %s", why[0] ? why : "out of memory");
    if (rc < 0) return fail(R, CDT_EUNAVAIL, "--device cuda: %s", why);
    if (o->device == CDT_DEVICE_AUTO) {
        if (cdt_device_kind(R->dev) == CDT_DEVICE_CUDA)
            note(R, 1, "--device auto: on %s", cdt_device_describe(R->dev));
        else
            note(R, 1, "--device auto: on the CPU (%s)", why);
    }
    return 0;
}

/* The device. Ranks on GPUs exchange through NCCL (comm auto or nccl)
 * when every rank has a GPU of its own (its local rank's) and NCCL loads
 * on every one: they agree on it; else through host memory, every rank on
 * the first GPU (comm nccl then stops, saying why). */
static int open_device(cdt_run *R)
{
    const cdt_run_config *o = &R->c;
    // (--comm nccl on one rank: NCCL all the same, a test of it on one GPU)
    if ((R->world == 1 && o->comm != CDT_COMM_NCCL) || o->device == CDT_DEVICE_CPU ||
        o->comm == CDT_COMM_MPI)
        return device_open(R);
    char why[1024] = "";
    int rc = cdt_device_open_at(o->device, o->precision, cdt_comm_local_rank(R->comm), &R->dev,
                                why, sizeof why);
    int ok = rc == 0 && cdt_device_kind(R->dev) == CDT_DEVICE_CUDA &&
             cdt_device_collectives(R->dev, why, sizeof why);
    if (rc == 0 && cdt_device_kind(R->dev) != CDT_DEVICE_CUDA) snprintf(why, sizeof why, "no GPU");
    int64_t bad = !ok;
    if (cdt_comm_max_i64(R->comm, &bad, 1) < 0)
        return fail(R, CDT_EIO, "exchanging with the other ranks: %s", cdt_comm_errmsg(R->comm));
    if (!bad) {
        R->nccl = 1;
        note(R, 1, "ranks exchange through NCCL, a GPU each");
        return 0;
    }
    if (o->comm == CDT_COMM_NCCL)
        return fail(R, CDT_EUNAVAIL, "--comm nccl: rank %d: %s", R->rank,
                    ok ? "another rank cannot have NCCL (its own message says why)" : why);
    note(R, 1, "ranks exchange through host memory (MPI): %s",
         ok ? "not every rank can have NCCL" : why);
    cdt_device_close(R->dev);
    R->dev = NULL;
    return device_open(R);
}

static int build(cdt_run *R, const cdt_model_config *cfg)
{
    const cdt_run_config *o = &R->c;
    int flags = (o->bn_local ? CDT_DP_LOCAL_BN : 0) | (R->nccl ? CDT_DP_DEVICE_COMM : 0);
    int rc = cdt_model_create_parallel(cfg, o->batch, R->dev, R->comm, flags, &R->m);
    if (rc < 0 && R->nccl)
        return fail(R, CDT_EUNAVAIL, "rank %d: joining the other ranks through NCCL: %s", R->rank,
                    rc == CDT_ENOENT && R->rank ? "rank 0 could not make the job's NCCL id"
                                                : cdt_device_errmsg(R->dev));
    if (rc < 0)
        return fail(R, rc, "cannot build %s width %d on %dx%d images with batch %d on %s: %s",
                    cdt_arch_name(cfg->depth), cfg->width, cfg->image_size, cfg->image_size,
                    o->batch, cdt_device_describe(R->dev), cdt_strerror(rc));
    return 0;
}

/* The model, from the options or from init / resume; loads their weights. */
static int make_model(cdt_run *R, const cdt_meta *meta, cdt_modelfile *mf, cdt_modelfile_state *st)
{
    cdt_run_config *o = &R->c;
    const char *path = o->resume ? o->resume : o->init;
    cdt_model_config cfg;
    int rc;
    if (path) {
        cfg = *cdt_modelfile_config(mf);
        if ((rc = check_arch(R, &cfg, path)) < 0) return rc;
    } else {
        cfg = arch_from(o, (int)R->shape[2], (int)R->shape[3]);
    }
    cfg.cpu_conv = o->cpu_conv;
    fill_train(o, o->resume ? cdt_modelfile_meta(mf) : NULL);
    int64_t sseed = 0;
    cdt_meta_get_i64(meta, "seed", &sseed);
    R->seed = (uint64_t)(o->seed >= 0 ? o->seed : sseed >= 0 ? sseed : 0);
    if ((rc = open_device(R)) < 0 || (rc = build(R, &cfg)) < 0 || (rc = schedule(R, meta)) < 0)
        return rc;
    cdt_train_opts to = {o->lr, o->weight_decay, o->clip, o->t_instance, o->t_feature,
                         o->cosine ? o->total_steps : 0};
    if ((rc = cdt_trainer_create(R->m, &to, &R->t)) < 0) return fail_with(R, rc, cdt_model_errmsg(R->m));
    st->adam_m = o->resume ? cdt_trainer_adam_m(R->t) : NULL;
    st->adam_v = o->resume ? cdt_trainer_adam_v(R->t) : NULL;
    if (!path) {
        cdt_model_init(R->m, R->seed);
        return broadcast_state(R, 0);
    }
    rc = cdt_modelfile_load(mf, R->m, st);
    if (rc < 0) return fail_with(R, rc, cdt_modelfile_errmsg(mf));
    if (o->resume && rc == 0)
        return fail(R, CDT_EDATA, "%s is a model file, not a checkpoint (use --init)", path);
    if (o->resume && cdt_trainer_push(R->t) < 0) return fail(R, CDT_EINTERNAL, "%s", cdt_trainer_errmsg(R->t));
    if (o->resume && (rc = check_ranks_meta(R, cdt_modelfile_meta(mf), path)) < 0) return rc;
    return broadcast_state(R, o->resume != NULL);
}

static int set_meta(cdt_run *R, const cdt_meta *in)
{
    const cdt_run_config *o = &R->c;
    static const char *keep[] = {"dataset", "split", "classes", "class_names"};
    if (!(R->extra = cdt_meta_create())) return fail(R, CDT_ENOMEM, "out of memory");
    int rc = cdt_meta_set(R->extra, "producer", o->producer ? o->producer : "libcdt");
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (cdt_meta_get(in, keep[i])) rc |= cdt_meta_set(R->extra, keep[i], cdt_meta_get(in, keep[i]));
    rc |= cdt_meta_setf(R->extra, "train.lr", "%.17g", o->lr);
    rc |= cdt_meta_setf(R->extra, "train.weight_decay", "%.17g", o->weight_decay);
    rc |= cdt_meta_setf(R->extra, "train.clip", "%.17g", o->clip);
    rc |= cdt_meta_setf(R->extra, "train.t_instance", "%.17g", o->t_instance);
    rc |= cdt_meta_setf(R->extra, "train.t_feature", "%.17g", o->t_feature);
    rc |= cdt_meta_set_i64(R->extra, "train.batch", o->batch);
    rc |= cdt_meta_set_i64(R->extra, "train.total_steps", o->total_steps);
    rc |= cdt_meta_set_i64(R->extra, "train.cosine", o->cosine);
    rc |= cdt_meta_set(R->extra, "train.cpu_conv", cdt_conv2d_kernels_name(cdt_model_cfg(R->m)->cpu_conv));
    if (R->world > 1) { // (one process writes exactly what it always did)
        rc |= cdt_meta_set_i64(R->extra, "train.ranks", R->world);
        rc |= cdt_meta_set(R->extra, "train.bn", o->bn_local ? "local" : "sync");
    }
    return rc ? fail(R, CDT_ENOMEM, "out of memory") : 0;
}

/* A stream of one rank's rows (cdt-augment --shard R/W --shard-batch B)
 * must be this rank's, for this batch. */
static int check_shard(cdt_run *R, const cdt_meta *m)
{
    const char *s = cdt_meta_get(m, "shard");
    int r, w;
    int64_t b = -1;
    char end;
    if (!s) return 0;
    if (sscanf(s, "%d/%d%c", &r, &w, &end) != 2 || cdt_meta_get_i64(m, "shard.batch", &b) < 0)
        return fail(R, CDT_EDATA, "the stream's meta shard='%s' or shard.batch is malformed", s);
    if (r != R->rank || w != R->world)
        return fail(R, CDT_EDATA, "rank %d of %d: the stream holds rank %d of %d's rows (cdt-augment "
                    "--shard %s)", R->rank, R->world, r, w, s);
    if (b != cdt_model_batch(R->m))
        return fail(R, CDT_EINVAL, "the stream is sharded for --batch %" PRId64 ", not %d", b,
                    cdt_model_batch(R->m));
    return 0;
}

int cdt_run_start(cdt_run *R, const cdt_meta *meta, const cdt_frame *first)
{
    const char *path = R->c.resume ? R->c.resume : R->c.init;
    cdt_modelfile *mf = NULL;
    cdt_modelfile_state st = {0};
    int rc = R->c.raw ? 0 : cdt_env_compress_level(&R->wo.level);
    if (rc < 0) return fail(R, CDT_EINVAL, "bad CDT_COMPRESS '%s' (expected 0..22)", getenv("CDT_COMPRESS"));
    if ((rc = first_frame(R, first)) < 0) return rc;
    R->sharded = cdt_meta_get(meta, "shard") != NULL;
    if (path && (rc = cdt_modelfile_open(path, &mf)) < 0) {
        fail_with(R, rc, cdt_modelfile_errmsg(mf));
        cdt_modelfile_close(mf);
        return rc;
    }
    rc = make_model(R, meta, mf, &st);
    cdt_modelfile_close(mf);
    if (rc < 0) return rc;
    if (!(R->batch = malloc(R->row_bytes * (size_t)R->c.batch))) return fail(R, CDT_ENOMEM, "out of memory");
    if ((rc = check_shard(R, meta)) < 0) return rc;
    if (R->c.resume) {
        cdt_trainer_set_steps(R->t, st.step);
        R->rows = R->skip = st.rows;
        if (R->sharded) R->skip = st.rows / (uint64_t)R->world; // this rank's share
        R->epoch = st.epoch;
        R->last_id = st.last_id;
    }
    if ((rc = set_meta(R, meta)) < 0) return rc;
    R->first_step = cdt_trainer_steps(R->t);
    R->t0 = cdt_now();
    return 0;
}

void cdt_run_destroy(cdt_run *R)
{
    if (!R) return;
    free(R->batch);
    cdt_meta_destroy(R->extra);
    cdt_trainer_destroy(R->t);
    cdt_model_destroy(R->m);
    cdt_device_close(R->dev);
    cdt_comm_close(R->comm);
    free(R);
}

const char *cdt_run_errmsg(const cdt_run *R) { return R ? R->err : "out of memory"; }
int cdt_run_rank(const cdt_run *R) { return R->rank; }
int cdt_run_world(const cdt_run *R) { return R->world; }
int cdt_run_signal(const cdt_run *R) { return R->sig; }
long cdt_run_steps(const cdt_run *R) { return R->t ? cdt_trainer_steps(R->t) : 0; }
long cdt_run_first_step(const cdt_run *R) { return R->first_step; }
uint64_t cdt_run_rows(const cdt_run *R) { return R->rows; }
uint64_t cdt_run_seed(const cdt_run *R) { return R->seed; }
const cdt_run_config *cdt_run_settings(const cdt_run *R) { return &R->c; }
cdt_model *cdt_run_model(const cdt_run *R) { return R->m; }
const cdt_device *cdt_run_device(const cdt_run *R) { return R->dev; }
const cdt_comm *cdt_run_comm(const cdt_run *R) { return R->comm; }
