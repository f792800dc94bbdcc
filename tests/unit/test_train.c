/* test_train.c: the trainer's step.
 *
 * On a fixed batch of two noisy views of 8 grey images, repeated steps
 * drive the loss down (the network learns to tell the 8 images apart);
 * the learning rate follows the cosine schedule; an absurd learning rate
 * ends in a refused step with a one-line message instead of NaN weights;
 * the views are scaled exactly as x / 255; and four steps with weight
 * decay, clipping and the cosine schedule give PyTorch's losses and
 * weights (tests/golden/train, from tests/gen/gen_train_golden.py). */
#include "cdt_modelfile.h"
#include "cdt_npy.h"
#include "cdt_rng.h"
#include "cdt_train.h"
#include "model/model_internal.h"
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
    T_EQ_INT(ts, cdt_trainer_steps(t), 40);
    T_CHECK(ts, s.loss.instance < first.loss.instance - 0.5);
    T_CHECK(ts, s.loss.total < first.loss.total - 0.5);
    T_CHECK(ts, s.grad_norm > 0 && isfinite(s.grad_norm));
    // the first view of image 0 as the network saw it
    // (the input slots: host memory on the CPU)
    const float *v0 = cdt_model_input(m, 0), *v1 = cdt_model_input(m, 1);
    T_CHECK(ts, v0[5] == (float)x[5] / 255.0f && v1[5] == (float)x[S * S + 5] / 255.0f);
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
    cdt_trainer_set_total_steps(t, 0);
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
    T_EQ_INT(ts, cdt_trainer_steps(t), i - 1); // the refused step is not counted
    cdt_trainer_destroy(t);
    cdt_model_destroy(m);
}

static cdt_model *load(const char *path, int batch)
{
    cdt_modelfile *f;
    cdt_model *m = NULL;
    int rc = cdt_modelfile_open(path, &f);
    if (rc >= 0) rc = cdt_model_create(cdt_modelfile_config(f), batch, &m);
    if (rc >= 0) rc = cdt_modelfile_load(f, m, NULL);
    if (rc < 0) fprintf(stderr, "  %s\n", cdt_modelfile_errmsg(f));
    cdt_modelfile_close(f);
    if (rc < 0) cdt_model_destroy(m);
    return rc < 0 ? NULL : m;
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d / r);
}

/* Our float32 steps against PyTorch's float64 ones from the same float32
 * weights. The losses agree to float32 rounding carried through up to four
 * steps (1.4e-5 measured at worst; bound 5e-5). The weights and running
 * statistics after four steps are 2.7e-6 off over their whole norm
 * (bound 1e-4); a cosine schedule off by one step, or no clipping, moves
 * them by more than 1e-3. */
static void test_pytorch(t_state *ts)
{
    char err[256];
    cdt_tensor x, loss;
    cdt_model *m = load("tests/golden/train/init.cdt", 6), *ref = load("tests/golden/train/after.cdt", 6);
    T_CHECK(ts, m && ref);
    if (!m || !ref) return;
    T_EQ_INT(ts, cdt_npy_load("tests/golden/train/x.npy", "x", &x, err, sizeof err), 0);
    T_EQ_INT(ts, cdt_npy_load("tests/golden/train/loss.npy", "loss", &loss, err, sizeof err), 0);
    cdt_train_opts o = {.lr = 1e-2, .weight_decay = 1e-4, .clip = 1.0, .t_instance = 0.5,
                        .t_feature = 1.0, .total_steps = 4};
    cdt_trainer *t;
    T_EQ_INT(ts, cdt_trainer_create(m, &o, &t), 0);
    size_t per_step = 6 * 2 * 64;
    for (int k = 0; k < 4; k++) {
        cdt_train_stats s;
        T_EQ_INT(ts, cdt_trainer_step(t, (uint8_t *)x.data + k * per_step, &s), 0);
        const double *l = (const double *)loss.data + 4 * k;
        T_NEAR(ts, s.loss.instance, l[0], 5e-5);
        T_NEAR(ts, s.loss.feature, l[1], 5e-5);
        T_NEAR(ts, s.loss.entropy, l[2], 5e-5);
        T_NEAR(ts, s.loss.total, l[3], 5e-5);
    }
    double ep = rel_err(cdt_model_params(m), cdt_model_params(ref), cdt_model_nparams(m));
    double eb = rel_err(cdt_model_buffers(m), cdt_model_buffers(ref), cdt_model_nbuffers(m));
    fprintf(stderr, "after 4 steps: weights %.2e, running statistics %.2e from PyTorch\n", ep, eb);
    T_NEAR(ts, ep, 0, 1e-4);
    T_NEAR(ts, eb, 0, 1e-4);
    cdt_trainer_destroy(t);
    cdt_model_destroy(m);
    cdt_model_destroy(ref);
    free(x.data);
    free(loss.data);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_loss_decreases);
    T_RUN(&ts, test_cosine);
    T_RUN(&ts, test_diverges);
    T_RUN(&ts, test_pytorch);
    return T_END(&ts);
}
