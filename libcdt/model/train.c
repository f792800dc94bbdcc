/* train.c: the training step wiring (cdt_train.h). Everything is
 * allocated in create; a step only reads the batch and writes buffers. */
#include "cdt_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cdt_train_opts cdt_train_defaults(void)
{
    return (cdt_train_opts){.lr = 3e-4, .weight_decay = 0, .clip = 0,
                            .t_instance = 0.5, .t_feature = 1.0, .total_steps = 0};
}

int cdt_trainer_create(cdt_model *m, const cdt_train_opts *o, cdt_trainer **out)
{
    *out = NULL;
    if (!(o->lr >= 0) || !(o->weight_decay >= 0) || !(o->clip >= 0) ||
        !(o->t_instance > 0) || !(o->t_feature > 0) || o->total_steps < 0 || m->batch < 2)
        return CDT_EINVAL;
    cdt_trainer *t = calloc(1, sizeof *t);
    if (!t) return CDT_ENOMEM;
    t->m = m;
    t->opts = *o;
    size_t img = (size_t)m->cfg.in_channels * m->cfg.image_size * m->cfg.image_size;
    t->adam_m = calloc(m->nparams, sizeof(float));
    t->adam_v = calloc(m->nparams, sizeof(float));
    t->views[0] = malloc(img * (size_t)m->batch * sizeof(float));
    t->views[1] = malloc(img * (size_t)m->batch * sizeof(float));
    if (!t->adam_m || !t->adam_v || !t->views[0] || !t->views[1]) {
        cdt_trainer_destroy(t);
        return CDT_ENOMEM;
    }
    *out = t;
    return 0;
}

void cdt_trainer_destroy(cdt_trainer *t)
{
    if (!t) return;
    free(t->adam_m); free(t->adam_v); free(t->views[0]); free(t->views[1]);
    free(t);
}

const char *cdt_trainer_errmsg(const cdt_trainer *t) { return t->err; }

double cdt_trainer_lr(const cdt_trainer *t, long step)
{
    if (t->opts.total_steps <= 0) return t->opts.lr;
    return cdt_cosine_lr(t->opts.lr, step, t->opts.total_steps);
}

/* Split (N,2,C,H,W) u8 into two (N,C,H,W) float views in [0,1]. The
 * division (not a multiply by 1/255) gives ToTensor's exact floats. */
static void scale_views(float *v0, float *v1, const uint8_t *x, size_t n, size_t img)
{
    #pragma omp parallel for if (n * img > 65536)
    for (size_t i = 0; i < n; i++) {
        const uint8_t *a = x + 2 * i * img, *b = a + img;
        float *d0 = v0 + i * img, *d1 = v1 + i * img;
        for (size_t k = 0; k < img; k++) {
            d0[k] = (float)a[k] / 255.0f;
            d1[k] = (float)b[k] / 255.0f;
        }
    }
}

int cdt_trainer_step(cdt_trainer *t, const uint8_t *x, cdt_train_stats *s)
{
    cdt_model *m = t->m;
    int n = m->batch;
    size_t img = (size_t)m->cfg.in_channels * m->cfg.image_size * m->cfg.image_size;
    scale_views(t->views[0], t->views[1], x, (size_t)n, img);
    cdt_model_zero_grad(m);
    cdt_model_forward(m, t->views[0], n, 0, 1);
    cdt_model_forward(m, t->views[1], n, 1, 1);
    s->loss = cdt_model_loss(m, t->opts.t_instance, t->opts.t_feature);
    s->lr = cdt_trainer_lr(t, t->step);
    s->grad_norm = NAN;
    if (!isfinite(s->loss.total)) {
        snprintf(t->err, sizeof t->err,
                 "loss is not finite at step %ld (instance %g, feature %g, entropy %g)",
                 t->step + 1, s->loss.instance, s->loss.feature, s->loss.entropy);
        return CDT_EDATA;
    }
    cdt_model_backward(m, 0);
    cdt_model_backward(m, 1);
    /* a non-finite norm stops the step before Adam, so what clipping did to
     * the gradients then does not matter */
    s->grad_norm = t->opts.clip > 0 ? cdt_clip_grad_norm(m->grads, m->nparams, t->opts.clip)
                                    : cdt_grad_norm(m->grads, m->nparams);
    if (!isfinite(s->grad_norm)) {
        snprintf(t->err, sizeof t->err, "gradient norm is not finite at step %ld", t->step + 1);
        return CDT_EDATA;
    }
    cdt_adam_params ap = {s->lr, 0.9, 0.999, 1e-8, t->opts.weight_decay};
    cdt_adam_step(m->params, t->adam_m, t->adam_v, m->grads, m->nparams, t->step + 1, &ap);
    t->step++;
    return 0;
}
