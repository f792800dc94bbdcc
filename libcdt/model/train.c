/* train.c: the training step wiring (cdt_train.h). Everything is
 * allocated in create; a step only reads the batch and writes buffers,
 * all through the model's device table (nn/backend.h). */
#include "cdt_train.h"
#include "model/model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdt_trainer_dev {
    cdt_backend be;
    float *m, *v;            /* Adam's moments on the device (= adam_m/v on the CPU) */
    double *norm;            /* (1) the gradient norm */
    uint8_t *stage[2];       /* page-locked copies of the batch, used in turn */
    uint8_t *x[2];           /* the batch on the device */
    int next;                /* which pair the next step uses */
};

struct cdt_trainer {
    cdt_model *m;        /* not owned */
    cdt_train_opts opts;
    long step;           /* steps taken; Adam's t of the next step is step + 1 */
    float *adam_m;       // (nparams) host copy
    float *adam_v;       // (nparams) host copy
    struct cdt_trainer_dev *dev; /* device buffers */
    char err[256];
};

cdt_train_opts cdt_train_defaults(void)
{
    return (cdt_train_opts){.lr = 3e-4, .weight_decay = 0, .clip = 0,
                            .t_instance = 0.5, .t_feature = 1.0, .total_steps = 0};
}

static size_t batch_bytes(const cdt_model *m)
{
    return (size_t)m->batch * 2 * m->cfg.in_channels * m->cfg.image_size * m->cfg.image_size;
}

static int dev_create(cdt_trainer *t)
{
    struct cdt_trainer_dev *d = t->dev;
    const cdt_backend_i *b = d->be.i;
    void *c = d->be.ctx;
    size_t np = t->m->nparams * sizeof(float);
    int rc = 0;
    if (b->host_memory) {
        d->m = t->adam_m, d->v = t->adam_v;
        return (rc = b->alloc(c, (void **)&d->norm, sizeof(double)));
    }
    if (!rc) rc = b->alloc(c, (void **)&d->m, np);
    if (!rc) rc = b->alloc(c, (void **)&d->v, np);
    if (!rc) rc = b->alloc(c, (void **)&d->norm, sizeof(double));
    for (int i = 0; i < 2 && !rc; i++) {
        rc = b->alloc_host(c, (void **)&d->stage[i], batch_bytes(t->m));
        if (!rc) rc = b->alloc(c, (void **)&d->x[i], batch_bytes(t->m));
    }
    if (!rc) rc = b->memset(c, d->m, 0, np);
    if (!rc) rc = b->memset(c, d->v, 0, np);
    return rc;
}

int cdt_trainer_create(cdt_model *m, const cdt_train_opts *o, cdt_trainer **out)
{
    *out = NULL;
    if (!(o->lr >= 0) || !(o->weight_decay >= 0) || !(o->clip >= 0) ||
        !(o->t_instance > 0) || !(o->t_feature > 0) || o->total_steps < 0 || m->batch < 2 ||
        m->inference)
        return CDT_EINVAL;
    cdt_trainer *t = calloc(1, sizeof *t);
    if (!t) return CDT_ENOMEM;
    t->m = m;
    t->opts = *o;
    t->adam_m = calloc(m->nparams, sizeof(float));
    t->adam_v = calloc(m->nparams, sizeof(float));
    t->dev = calloc(1, sizeof *t->dev);
    if (!t->adam_m || !t->adam_v || !t->dev) {
        cdt_trainer_destroy(t);
        return CDT_ENOMEM;
    }
    t->dev->be = *cdt_model_backend(m);
    int rc = dev_create(t);
    if (rc < 0) {
        snprintf(t->err, sizeof t->err, "%s", cdt_model_errmsg(m));
        cdt_trainer_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

void cdt_trainer_destroy(cdt_trainer *t)
{
    if (!t) return;
    struct cdt_trainer_dev *d = t->dev;
    if (d && d->be.i) {
        const cdt_backend_i *b = d->be.i;
        b->free(d->be.ctx, d->norm);
        if (!b->host_memory) {
            b->free(d->be.ctx, d->m);
            b->free(d->be.ctx, d->v);
            for (int i = 0; i < 2; i++) {
                b->free_host(d->be.ctx, d->stage[i]);
                b->free(d->be.ctx, d->x[i]);
            }
        }
    }
    free(d);
    free(t->adam_m); free(t->adam_v);
    free(t);
}

const char *cdt_trainer_errmsg(const cdt_trainer *t) { return t->err; }
float *cdt_trainer_adam_m(cdt_trainer *t) { return t->adam_m; }
float *cdt_trainer_adam_v(cdt_trainer *t) { return t->adam_v; }
long cdt_trainer_steps(const cdt_trainer *t) { return t->step; }
void cdt_trainer_set_steps(cdt_trainer *t, long steps) { t->step = steps; }
void cdt_trainer_set_total_steps(cdt_trainer *t, long total) { t->opts.total_steps = total; }

int cdt_trainer_pull(cdt_trainer *t)
{
    struct cdt_trainer_dev *d = t->dev;
    size_t np = t->m->nparams * sizeof(float);
    int rc = 0;
    if (d->be.i->host_memory) return 0;
    if (!rc) rc = d->be.i->download(d->be.ctx, t->adam_m, d->m, np);
    if (!rc) rc = d->be.i->download(d->be.ctx, t->adam_v, d->v, np);
    if (rc) snprintf(t->err, sizeof t->err, "%s", cdt_model_errmsg(t->m));
    return rc;
}

int cdt_trainer_push(cdt_trainer *t)
{
    struct cdt_trainer_dev *d = t->dev;
    size_t np = t->m->nparams * sizeof(float);
    int rc = 0;
    if (d->be.i->host_memory) return 0;
    if (!rc) rc = d->be.i->upload(d->be.ctx, d->m, t->adam_m, np);
    if (!rc) rc = d->be.i->upload(d->be.ctx, d->v, t->adam_v, np);
    if (rc) snprintf(t->err, sizeof t->err, "%s", cdt_model_errmsg(t->m));
    return rc;
}

double cdt_trainer_lr(const cdt_trainer *t, long step)
{
    if (t->opts.total_steps <= 0) return t->opts.lr;
    return cdt_cosine_lr(t->opts.lr, step, t->opts.total_steps);
}

/* The batch on the device: x itself on the CPU, else through the next
 * page-locked buffer (so the copy to the device runs asynchronously). */
static const uint8_t *upload_batch(cdt_trainer *t, const uint8_t *x, int *rc)
{
    struct cdt_trainer_dev *d = t->dev;
    if (d->be.i->host_memory) return x;
    int i = d->next;
    d->next ^= 1;
    size_t bytes = batch_bytes(t->m);
    memcpy(d->stage[i], x, bytes);
    *rc = d->be.i->upload(d->be.ctx, d->x[i], d->stage[i], bytes);
    return d->x[i];
}

static int device_failed(cdt_trainer *t, int rc)
{
    snprintf(t->err, sizeof t->err, "%s at step %ld: %s", t->dev->be.i->name, t->step + 1,
             cdt_model_errmsg(t->m));
    return rc;
}

/* The gradients of a data-parallel step are each rank's part: add them
 * over ranks (in rank order: cdt_comm_sum_f32), through the host copy on
 * a device. */
static int sum_grads(cdt_trainer *t, cdt_comm *c)
{
    cdt_model *m = t->m;
    const cdt_backend_i *b = t->dev->be.i;
    void *ctx = t->dev->be.ctx;
    float *dev = cdt_model_dev_grads(m), *host = b->host_memory ? dev : m->grads;
    int mean = cdt_model_dp_flags(m) & CDT_DP_MEAN_GRADS, rc;
    if (cdt_model_dev_coll(m) && !mean) { // on the device, in rank order
        rc = b->coll_sum_f32(ctx, dev, m->nparams);
        return rc ? device_failed(t, rc) : 0;
    }
    rc = b->host_memory ? 0 : b->download(ctx, host, dev, m->nparams * sizeof(float));
    if (rc) return device_failed(t, rc);
    if ((rc = cdt_comm_sum_f32(c, host, m->nparams)) < 0) {
        snprintf(t->err, sizeof t->err, "adding the gradients of step %ld over ranks: %s",
                 t->step + 1, cdt_comm_errmsg(c));
        return rc;
    }
    if (mean)
        for (size_t k = 0; k < m->nparams; k++) host[k] /= (float)cdt_comm_size(c);
    rc = b->host_memory ? 0 : b->upload(ctx, dev, host, m->nparams * sizeof(float));
    return rc ? device_failed(t, rc) : 0;
}

int cdt_trainer_step_grads(cdt_trainer *t, const uint8_t *x, cdt_train_stats *s)
{
    cdt_model *m = t->m;
    struct cdt_trainer_dev *d = t->dev;
    const cdt_backend_i *b = d->be.i;
    int n = m->batch, rc = 0;
    size_t img = (size_t)m->cfg.in_channels * m->cfg.image_size * m->cfg.image_size;
    s->grad_norm = NAN;
    s->lr = cdt_trainer_lr(t, t->step);
    const uint8_t *xd = upload_batch(t, x, &rc);
    if (!rc) rc = b->scale_views(d->be.ctx, cdt_model_input(m, 0), cdt_model_input(m, 1), xd,
                                 (size_t)n, img);
    if (!rc) rc = cdt_model_zero_grad(m);
    if (!rc) rc = cdt_model_forward_views(m, n);
    if (!rc) rc = cdt_model_loss_queue(m, t->opts.t_instance, t->opts.t_feature);
    /* the backward runs whatever the loss: the host learns it only at the
     * one wait in step_apply, and a non-finite one stops the step before Adam */
    if (!rc) rc = cdt_model_backward_views(m);
    if (rc) return device_failed(t, rc);
    return cdt_model_comm(m) ? sum_grads(t, cdt_model_comm(m)) : 0;
}

int cdt_trainer_step_apply(cdt_trainer *t, cdt_train_stats *s)
{
    cdt_model *m = t->m;
    struct cdt_trainer_dev *d = t->dev;
    const cdt_backend_i *b = d->be.i;
    double norm = NAN;
    int rc = b->grad_norm(d->be.ctx, d->norm, cdt_model_dev_grads(m), m->nparams, t->opts.clip);
    if (!rc) rc = b->download(d->be.ctx, &norm, d->norm, sizeof norm);
    if (!rc) rc = cdt_model_loss_fetch(m, &s->loss);
    if (rc) return device_failed(t, rc);
    if (!isfinite(s->loss.total)) {
        snprintf(t->err, sizeof t->err,
                 "loss is not finite at step %ld (instance %g, feature %g, entropy %g)",
                 t->step + 1, s->loss.instance, s->loss.feature, s->loss.entropy);
        return CDT_EDATA;
    }
    s->grad_norm = norm;
    if (!isfinite(s->grad_norm)) {
        snprintf(t->err, sizeof t->err, "gradient norm is not finite at step %ld", t->step + 1);
        return CDT_EDATA;
    }
    cdt_adam_params ap = {s->lr, 0.9, 0.999, 1e-8, t->opts.weight_decay};
    rc = b->adam_step(d->be.ctx, cdt_model_dev_params(m), d->m, d->v, cdt_model_dev_grads(m),
                      m->nparams, t->step + 1, &ap);
    if (rc) return device_failed(t, rc);
    t->step++;
    return 0;
}

int cdt_trainer_step(cdt_trainer *t, const uint8_t *x, cdt_train_stats *s)
{
    int rc = cdt_trainer_step_grads(t, x, s);
    return rc < 0 ? rc : cdt_trainer_step_apply(t, s);
}
