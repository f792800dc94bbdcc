/* test_adam.c: Adam against the Kingma-Ba form (bias-corrected moments)
 * written independently in double, clipping and the cosine schedule on
 * hand-worked values. Agreement with torch.optim.Adam itself is checked by
 * the PyTorch golden test of the whole training step. */
#include "cdt_nn.h"
#include "t.h"

#include <stdlib.h>

static void test_adam_first_step(t_state *ts)
{
    // after one step mhat = g and sqrt(vhat) = |g|: p -= lr g / (|g| + eps)
    float p[3] = {1, -2, 0.5f}, m[3] = {0}, v[3] = {0}, g[3] = {0.3f, -4, 1e-3f};
    cdt_adam_params a = {.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
    cdt_adam_step(p, m, v, g, 3, 1, &a);
    T_NEAR(ts, p[0], 1 - 0.01 * 0.3 / (0.3 + 1e-8), 1e-6);
    T_NEAR(ts, p[1], -2 + 0.01, 1e-6);
    T_NEAR(ts, p[2], 0.5 - 0.01 * 1e-3 / (1e-3 + 1e-8), 1e-6);
}

static void test_adam_steps(t_state *ts)
{
    enum { N = 6, STEPS = 7 };
    cdt_adam_params a = {.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                         .weight_decay = 0.05};
    float p[N], m[N] = {0}, v[N] = {0}, g[N];
    double pd[N], md[N] = {0}, vd[N] = {0};
    for (int i = 0; i < N; i++) pd[i] = p[i] = (float)(0.3 * i - 0.8);
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) g[i] = (float)(sin(1.7 * i + 0.9 * t) * (i + 1) * 0.1);
        cdt_adam_step(p, m, v, g, N, t, &a);
        for (int i = 0; i < N; i++) {
            double gd = g[i] + a.weight_decay * pd[i];
            md[i] = a.beta1 * md[i] + (1 - a.beta1) * gd;
            vd[i] = a.beta2 * vd[i] + (1 - a.beta2) * gd * gd;
            double mhat = md[i] / (1 - pow(a.beta1, t)), vhat = vd[i] / (1 - pow(a.beta2, t));
            pd[i] -= a.lr * mhat / (sqrt(vhat) + a.eps);
        }
    }
    for (int i = 0; i < N; i++) T_NEAR(ts, p[i], pd[i], 1e-6);
}

static void test_clip(t_state *ts)
{
    float g[2] = {3, 4};
    T_NEAR(ts, cdt_clip_grad_norm(g, 2, 10), 5, 1e-12); // under the limit: untouched
    T_NEAR(ts, g[0], 3, 0);
    T_NEAR(ts, cdt_clip_grad_norm(g, 2, 1), 5, 1e-12);
    T_NEAR(ts, g[0], 3 / (5 + 1e-6), 1e-7);
    T_NEAR(ts, g[1], 4 / (5 + 1e-6), 1e-7);
}

static void test_cosine(t_state *ts)
{
    T_NEAR(ts, cdt_cosine_lr(0.1, 0, 100), 0.1, 1e-15);
    T_NEAR(ts, cdt_cosine_lr(0.1, 50, 100), 0.05, 1e-15);
    T_NEAR(ts, cdt_cosine_lr(0.1, 25, 100), 0.05 * (1 + sqrt(0.5)), 1e-15);
    T_NEAR(ts, cdt_cosine_lr(0.1, 100, 100), 0, 1e-15);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_adam_first_step);
    T_RUN(&ts, test_adam_steps);
    T_RUN(&ts, test_clip);
    T_RUN(&ts, test_cosine);
    return T_END(&ts);
}
