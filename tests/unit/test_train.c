/* test_train.c: the trainer's step.
 *
 * On a fixed batch of two noisy views of 8 grey images, repeated steps
 * drive the loss down (the network learns to tell the 8 images apart);
 * the learning rate follows the cosine schedule; an absurd learning rate
 * ends in a refused step with a one-line message instead of NaN weights;
 * the views are scaled exactly as x / 255. */
#include "cdt_train.h"
#include "cdt_rng.h"
#include "t.h"

#include <stdlib.h>

enum { N = 8, S = 8 };

static const cdt_model_config tiny = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 4,
                                      .in_channels = 1, .image_size = S, .hidden_dim = 16,
                                      .feature_num = 8};

/* (N,2,1,S,S): two views of each of N random images, each pixel moved by
 * up to +-20 independently per view. */
static void make_batch(uint8_t *x)
{
    cdt_rng r;
    cdt_rng_init(&r, 11, 0, 0, 0, 0);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < S * S; k++) {
            int base = (int)cdt_rng_range(&r, 20, 236);
            for (int v = 0; v < 2; v++)
                x[((size_t)i * 2 + v) * S * S + k] = (uint8_t)(base + (int)cdt_rng_range(&r, -20, 20));
        }
}

static void test_loss_decreases(t_state *ts)
{
    cdt_model *m;
    cdt_trainer *t;
    uint8_t x[N * 2 * S * S];
    make_batch(x);
    T_EQ_INT(ts, cdt_model_create(&tiny, N, &m), 0);
    cdt_model_init(m, 3);
    cdt_train_opts o = cdt_train_defaults();
    o.lr = 3e-3;
    T_EQ_INT(ts, cdt_trainer_create(m, &o, &t), 0);
    cdt_train_stats s, first = {0};
    for (int i = 0; i < 40; i++) {
        T_EQ_INT(ts, cdt_trainer_step(t, x, &s), 0);
        if (i == 0) first = s;
    }
    fprintf(stderr, "loss step 1: %.4f (instance %.4f), step 40: %.4f (instance %.4f)\n",
            first.loss.total, first.loss.instance, s.loss.total, s.loss.instance);
    T_EQ_INT(ts, t->step, 40);
    T_CHECK(ts, s.loss.instance < first.loss.instance - 0.5);
    T_CHECK(ts, s.loss.total < first.loss.total - 0.5);
    T_CHECK(ts, s.grad_norm > 0 && isfinite(s.grad_norm));
    // the first view of image 0 as the network saw it
    T_CHECK(ts, t->views[0][5] == (float)x[5] / 255.0f && t->views[1][5] == (float)x[S * S + 5] / 255.0f);
    cdt_trainer_destroy(t);
    cdt_model_destroy(m);
}

static void test_cosine(t_state *ts)
{
    cdt_model *m;
    cdt_trainer *t;
    cdt_model_create(&tiny, 2, &m);
    cdt_train_opts o = cdt_train_defaults();
    o.total_steps = 100;
    T_EQ_INT(ts, cdt_trainer_create(m, &o, &t), 0);
    T_NEAR(ts, cdt_trainer_lr(t, 0), 3e-4, 1e-15);
    T_NEAR(ts, cdt_trainer_lr(t, 50), 1.5e-4, 1e-15);
    T_NEAR(ts, cdt_trainer_lr(t, 100), 0, 1e-15);
    t->opts.total_steps = 0;
    T_NEAR(ts, cdt_trainer_lr(t, 50), 3e-4, 1e-15);
    cdt_trainer_destroy(t);
    o.t_instance = 0;
    T_EQ_INT(ts, cdt_trainer_create(m, &o, &t), CDT_EINVAL);
    cdt_model_destroy(m);
}

static void test_diverges(t_state *ts)
{
    cdt_model *m;
    cdt_trainer *t;
    uint8_t x[N * 2 * S * S];
    make_batch(x);
    cdt_model_create(&tiny, N, &m);
    cdt_model_init(m, 3);
    cdt_train_opts o = cdt_train_defaults();
    o.lr = 1e30;
    cdt_trainer_create(m, &o, &t);
    cdt_train_stats s;
    int rc = 0, i;
    for (i = 0; i < 10 && rc == 0; i++) rc = cdt_trainer_step(t, x, &s);
    T_EQ_INT(ts, rc, CDT_EDATA);
    T_CHECK(ts, strstr(cdt_trainer_errmsg(t), "not finite") && !strchr(cdt_trainer_errmsg(t), '\n'));
    T_EQ_INT(ts, t->step, i - 1); // the refused step is not counted
    cdt_trainer_destroy(t);
    cdt_model_destroy(m);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_loss_decreases);
    T_RUN(&ts, test_cosine);
    T_RUN(&ts, test_diverges);
    return T_END(&ts);
}
