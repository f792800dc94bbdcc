/* cdt_train.h: the CD training step over a fixed graph.
 *
 * A trainer owns what a step needs besides the model: Adam's moments and
 * the two float views of one batch, all allocated once by create. A step
 * takes a batch of u8 views straight from cdt-augment, scales them to
 * [0,1] as torchvision's ToTensor (x / 255), runs the two forward passes
 * (one per view, so BatchNorm sees each view's own statistics), the loss,
 * the two backward passes, checks that the loss and the gradient norm are
 * finite, clips, and takes one Adam step at the (cosine) learning rate.
 *
 * Worked example:
 *
 *     cdt_train_opts o = cdt_train_defaults();
 *     cdt_trainer *t;
 *     if ((rc = cdt_trainer_create(m, &o, &t)) < 0) ...;
 *     while (a batch (batch,2,C,H,W) u8 is ready)
 *         if ((rc = cdt_trainer_step(t, views, &s)) < 0) ...cdt_trainer_errmsg(t)...;
 *     cdt_trainer_destroy(t);
 *
 * Results depend only on the model's state, the batches and the options:
 * no reduction here depends on the thread count.
 *
 * The step runs on the model's device (cdt_model_create_on): the u8 batch
 * is uploaded once through page-locked memory (two buffers, used in
 * turn), nothing is allocated, and the host waits once per step, for the
 * loss and the gradient norm, before Adam is queued. Adam's moments live
 * on the device; cdt_trainer_adam_m/_v are host copies that
 * cdt_trainer_pull fills and cdt_trainer_push sends (on the CPU they are
 * the moments).
 */
#ifndef CDT_TRAIN_H
#define CDT_TRAIN_H

#include "cdt_core.h"
#include "cdt_model.h"
#include "cdt_nn.h"

typedef struct cdt_train_opts {
    double lr;           /* 3e-4 */
    double weight_decay; /* 0; Adam's L2 form, as torch.optim.Adam */
    double clip;         /* max gradient norm; 0: no clipping */
    double t_instance;   /* 0.5 */
    double t_feature;    /* 1.0 */
    long total_steps;    /* > 0: cosine schedule over this many steps */
} cdt_train_opts;

typedef struct cdt_train_stats {
    cdt_loss_terms loss;
    double lr;           /* the learning rate this step used */
    double grad_norm;    /* before clipping */
} cdt_train_stats;

/* Opaque; see the functions below. */
typedef struct cdt_trainer cdt_trainer;

cdt_train_opts cdt_train_defaults(void);
/* CDT_EINVAL for options out of range, CDT_ENOMEM. */
int cdt_trainer_create(cdt_model *m, const cdt_train_opts *o, cdt_trainer **out);
void cdt_trainer_destroy(cdt_trainer *t);
/* One step on x (batch,2,C,H,W) u8, batch = the model's batch. CDT_EDATA
 * when the loss or the gradients are not finite: no update is made, but
 * BatchNorm running statistics have already moved (as in PyTorch), so
 * the model should be dropped; errmsg says which value. A device's own
 * failure returns its code, with its message in errmsg. */
int cdt_trainer_step(cdt_trainer *t, const uint8_t *x, cdt_train_stats *s);
/* The step in two halves: step_grads runs the forwards, the loss and the
 * backwards and, for a data-parallel model (cdt_model_create_parallel),
 * adds the gradients over ranks; the model's gradients are then dL/dparams
 * of the whole batch (cdt_model_pull shows them). step_apply checks the
 * loss and the norm, clips and takes the Adam step. */
int cdt_trainer_step_grads(cdt_trainer *t, const uint8_t *x, cdt_train_stats *s);
int cdt_trainer_step_apply(cdt_trainer *t, cdt_train_stats *s);
const char *cdt_trainer_errmsg(const cdt_trainer *t);
/* Adam's moments device -> the host copies (before a checkpoint is
 * written), and back (after one was read). */
int cdt_trainer_pull(cdt_trainer *t);
int cdt_trainer_push(cdt_trainer *t);
/* The host copies of Adam's moments (nparams each). */
float *cdt_trainer_adam_m(cdt_trainer *t);
float *cdt_trainer_adam_v(cdt_trainer *t);
/* Steps taken; Adam's t of the next step is this + 1. set: after a resume. */
long cdt_trainer_steps(const cdt_trainer *t);
void cdt_trainer_set_steps(cdt_trainer *t, long steps);
/* The cosine schedule's length from now on (0: a constant rate), e.g.
 * once a time limit has said how many steps fit. */
void cdt_trainer_set_total_steps(cdt_trainer *t, long total);
/* The learning rate of step number `step` (0-based). */
double cdt_trainer_lr(const cdt_trainer *t, long step);

#endif
