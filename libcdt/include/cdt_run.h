/* cdt_run.h: a whole training run, as cdt-train makes it, for any front end.
 *
 * A run owns what a training job needs around the step (cdt_train.h): the
 * ranks of a data-parallel job (cdt_comm.h), the device, the model built
 * from the options or from a model file (--init) or a checkpoint
 * (--resume), the trainer and its schedule, the re-batching of stream rows
 * into steps, each rank's slice of a global batch (or a sharded stream's
 * rows), the time limit, checkpoints, and what a stop signal does. The
 * caller reads the stream, reports, and writes the model file.
 *
 * Worked example (cdt-train.c is the full one):
 *
 *     cdt_run_config c = cdt_run_defaults();      // then set what was asked
 *     c.batch = 64; c.total_steps = 100; c.checkpoint = "ck.cdt";
 *     c.stop = &got_signal;                       // a handler's flag, or NULL
 *     cdt_run *run;
 *     if ((rc = cdt_run_create(&c, &run)) < 0) ...cdt_run_errmsg(run)...;
 *     ...open the stream, read its first frame f...
 *     if ((rc = cdt_run_start(run, cdt_reader_meta(r), f)) < 0) ...;
 *     do rc = cdt_run_feed(run, f);               // steps as batches fill
 *     while (rc == 0 && (rc = cdt_reader_next(r, &f)) > 0);
 *     if (rc == 0) rc = cdt_run_end(run);         // the stream ended
 *     if (rc == CDT_RUN_STOPPED) ...signal cdt_run_signal(run); checkpoint written...;
 *     if (rc >= 0) rc = cdt_run_save(run, fd);    // the model file (rank 0)
 *     cdt_run_destroy(run);
 *
 * Errors are negative CDT_E* codes with a one-line message in errmsg
 * (cdt_exit_code maps them). Nothing here prints or exits; lines a verbose
 * front end may show go to the note callback. Results depend only on the
 * options, the stream and the seed: the same bytes for any thread count,
 * and a run resumed from a checkpoint ends exactly as one that was not
 * stopped.
 */
#ifndef CDT_RUN_H
#define CDT_RUN_H

#include <signal.h>

#include "cdt_comm.h"
#include "cdt_core.h"
#include "cdt_device.h"
#include "cdt_model.h"
#include "cdt_stream.h"
#include "cdt_train.h"

/* cdt_run_feed / cdt_run_end: besides 0 and errors */
enum {
    CDT_RUN_DONE = 1,    /* --total-steps reached or the time limit spent */
    CDT_RUN_STOPPED = 2  /* a stop signal came: checkpoint written when one was asked */
};

typedef struct cdt_run_step {
    long step;                 /* steps taken, this one included */
    long total;                /* the run's length when known, else 0 */
    double step_s;             /* this step's wall time */
    double images_per_s;       /* of the global batch */
    const cdt_train_stats *s;
} cdt_run_step;

typedef struct cdt_run_config {
    /* The architecture; unset (0, NULL, -1) takes the model file's, else
     * resnet34, the stem by image size (cifar below 128 pixels), width 64,
     * hidden 128, 128 features. Set ones must agree with a model file. */
    int depth, stem;           /* stem: CDT_STEM_*, -1 unset */
    int width, hidden_dim, feature_num;
    /* Training; unset (NAN, -1, 0) takes the checkpoint's, else defaults. */
    int batch;                 /* 128 */
    double lr, weight_decay, clip, t_instance, t_feature;
    int cosine;                /* over total_steps, else rows_total / batch */
    long total_steps;          /* > 0: stop there */
    int64_t seed;              /* the stream's seed, else 0 */
    double time_limit;         /* seconds; 0: none */
    const char *init, *resume; /* a model file to start from; a checkpoint */
    const char *checkpoint;    /* written on a stop signal and every checkpoint_every steps */
    long checkpoint_every;
    /* Where it runs. */
    int device, precision;     /* CDT_DEVICE_*, CDT_PRECISION_* */
    int cpu_conv;              /* the CPU convolutions' kernels (cdt_model_config.cpu_conv) */
    int comm;                  /* CDT_COMM_*: the ranks, when a launcher started several */
    int bn_local;              /* batch norm over each rank's rows only */
    int check_ranks;           /* compare parameter hashes after every step */
    int raw;                   /* model files and checkpoints without zstd (else CDT_COMPRESS) */
    const char *producer;      /* meta "producer" of the model file */
    /* Read between steps: nonzero stops the run (a signal handler's flag). */
    const volatile sig_atomic_t *stop;
    /* Called on rank 0 after every step, and with lines worth showing:
     * detail 0 beside progress (the steps, the time limit's sizing), 1
     * only when asked for more (-v: the device, the ranks' transport). */
    void (*on_step)(void *ctx, const cdt_run_step *st);
    void (*note)(void *ctx, int detail, const char *line);
    void *ctx;
} cdt_run_config;

typedef struct cdt_run cdt_run;

cdt_run_config cdt_run_defaults(void);
/* Joins the job's ranks (one process when no launcher started it). On
 * failure *out is still set when it could be made, for errmsg; destroy it. */
int cdt_run_create(const cdt_run_config *c, cdt_run **out);
/* Given the stream's meta and first frame (x u8 [N,2,C,S,S]): the device,
 * the model (built and initialised, or loaded), the trainer, the schedule;
 * every rank starts from rank 0's state. */
int cdt_run_start(cdt_run *run, const cdt_meta *meta, const cdt_frame *first);
/* A frame's rows into the batch, a step whenever it fills: 0 (more),
 * CDT_RUN_DONE, CDT_RUN_STOPPED or an error. */
int cdt_run_feed(cdt_run *run, const cdt_frame *f);
/* The stream has ended (every rank's at the same row): 0, CDT_RUN_STOPPED
 * or an error. */
int cdt_run_end(cdt_run *run);
/* The stream failed while a stop signal was pending (^C reaches the whole
 * pipeline): checkpoint as for a stop; CDT_RUN_STOPPED, else 0. */
int cdt_run_interrupted(cdt_run *run);
/* The model file (without the optimiser state) to fd; rank 0 only. */
int cdt_run_save(cdt_run *run, int fd);
void cdt_run_destroy(cdt_run *run);

const char *cdt_run_errmsg(const cdt_run *run);
int cdt_run_rank(const cdt_run *run);
int cdt_run_world(const cdt_run *run);
int cdt_run_signal(const cdt_run *run);       /* the signal that stopped it */
long cdt_run_steps(const cdt_run *run);
long cdt_run_first_step(const cdt_run *run);  /* after a resume, the steps it had */
long cdt_run_total_steps(const cdt_run *run); /* 0 while unknown */
uint64_t cdt_run_rows(const cdt_run *run);    /* stream rows consumed by steps */
uint64_t cdt_run_seed(const cdt_run *run);
const cdt_run_config *cdt_run_settings(const cdt_run *run); /* resolved: batch, lr... */
cdt_model *cdt_run_model(const cdt_run *run);
const cdt_device *cdt_run_device(const cdt_run *run);
const cdt_comm *cdt_run_comm(const cdt_run *run);

#endif
