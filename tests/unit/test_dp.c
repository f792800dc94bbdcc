/* test_dp.c: data-parallel training is the one-process run of the whole
 * batch.
 *
 * Run as it is (one process), and by tests/cli/test_mpi.sh under
 * `mpirun -np 2` (and -np 1). Every rank also trains the reference, one
 * model on the whole batch of W*B rows, with no communicator, and checks:
 * - step 1's loss terms within 1e-6 relative, and its gradients, taken
 *   after they are added over ranks and before Adam (which would hide a
 *   factor W), within 1e-5 of max|g|;
 * - parameters after 5 steps within 1e-5 of max|p|, BatchNorm running
 *   statistics too;
 * - every rank's gradients and parameters are the same bytes, and a
 *   second run gives the same bytes again;
 * - with W = 1 the run is the reference, byte for byte;
 * - the three ways to get it wrong (the loss over each rank's own rows,
 *   batch norm over each rank's own rows, the mean of the gradients
 *   instead of their sum) each fail the gradient check: it has teeth;
 * - the comm's sums in rank order on a length no rank count divides. */
#include "cdt_comm.h"
#include "cdt_rng.h"
#include "cdt_train.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

enum { G = 8, S = 8, STEPS = 5 }; // the whole batch, image size, steps

static const cdt_model_config tiny = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 4,
                                      .in_channels = 1, .image_size = S, .hidden_dim = 16,
                                      .feature_num = 8};

/* (G,2,1,S,S): step `step`'s batch, two noisy views of G random images. */
static void make_batch(uint8_t *x, int step)
{
    cdt_rng r;
    cdt_rng_init(&r, 11, (uint64_t)step, 0, 0, 0);
    for (int i = 0; i < G; i++)
        for (int k = 0; k < S * S; k++) {
            int base = (int)cdt_rng_range(&r, 20, 236);
            for (int v = 0; v < 2; v++)
                x[((size_t)i * 2 + v) * S * S + k] = (uint8_t)(base + (int)cdt_rng_range(&r, -20, 20));
        }
}

typedef struct run {
    cdt_loss_terms loss1;     /* step 1 */
    float *grad1, *params, *buffers;
    size_t np, nb;
} run;

static void run_free(run *r)
{
    free(r->grad1); free(r->params); free(r->buffers);
}

static float *dup(const float *p, size_t n)
{
    float *q = malloc(n * sizeof *q);
    if (q) memcpy(q, p, n * sizeof *q);
    return q;
}

/* STEPS steps; each rank takes its slice of every batch (comm NULL: all). */
static int train(t_state *ts, cdt_comm *c, int flags, run *out)
{
    int w = cdt_comm_size(c), r = cdt_comm_rank(c), b = G / w;
    size_t row = 2 * (size_t)S * S;
    cdt_model *m;
    cdt_trainer *t;
    memset(out, 0, sizeof *out);
    int rc = cdt_model_create_parallel(&tiny, b, NULL, c, flags, &m);
    T_EQ_INT(ts, rc, 0);
    if (rc) return rc;
    cdt_model_init(m, 3);
    cdt_train_opts o = cdt_train_defaults();
    o.lr = 1e-3;
    o.clip = 5;
    o.weight_decay = 1e-4;
    o.total_steps = 10;
    T_EQ_INT(ts, cdt_trainer_create(m, &o, &t), 0);
    uint8_t x[G * 2 * S * S];
    for (int step = 0; step < STEPS; step++) {
        cdt_train_stats s;
        make_batch(x, step);
        rc = cdt_trainer_step_grads(t, x + (size_t)r * b * row, &s);
        T_EQ_INT(ts, rc, 0);
        if (rc) break;
        if (step == 0) {
            cdt_model_pull(m);
            out->grad1 = dup(cdt_model_grads(m), cdt_model_nparams(m));
        }
        rc = cdt_trainer_step_apply(t, &s);
        T_EQ_INT(ts, rc, 0);
        if (rc) break;
        if (step == 0) out->loss1 = s.loss;
    }
    cdt_model_pull(m);
    out->np = cdt_model_nparams(m);
    out->nb = cdt_model_nbuffers(m);
    out->params = dup(cdt_model_params(m), out->np);
    out->buffers = dup(cdt_model_buffers(m), out->nb);
    cdt_trainer_destroy(t);
    cdt_model_destroy(m);
    return rc;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m / max_abs(b, n);
}

static double rel1(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

/* Whether every rank holds the same n bytes at p. */
static int same_on_ranks(t_state *ts, cdt_comm *c, const void *p, size_t n)
{
    int w = cdt_comm_size(c);
    if (w == 1) return 1;
    char *all = malloc(n * (size_t)w);
    T_CHECK(ts, all != NULL);
    if (!all) return 0;
    int same = cdt_comm_allgather(c, all, p, n) == 0;
    for (int q = 1; same && q < w; q++) same = memcmp(all, all + (size_t)q * n, n) == 0;
    free(all);
    return same;
}

/* The comm's own sums: rank r holds x[k] = (k + 1) * 2^-r (exact in float
 * and double), over a length no rank count divides; the sum is the exact
 * (k + 1)(2 - 2^(1-W)), every rank gets it, and the max of rank numbers
 * is W - 1. */
static void test_comm_sums(t_state *ts, cdt_comm *c)
{
    int w = cdt_comm_size(c), r = cdt_comm_rank(c);
    enum { N = 1003 };
    float f[N];
    double d[N];
    for (int k = 0; k < N; k++) f[k] = (float)(d[k] = (k + 1) * ldexp(1, -r));
    T_EQ_INT(ts, c ? cdt_comm_sum_f32(c, f, N) : 0, 0);
    T_EQ_INT(ts, c ? cdt_comm_sum_f64(c, d, N) : 0, 0);
    int bad = 0;
    for (int k = 0; k < N; k++) {
        double want = (k + 1) * (2 - ldexp(1, 1 - w));
        bad += f[k] != (float)want || d[k] != want;
    }
    T_EQ_INT(ts, bad, 0);
    int64_t m = r;
    T_EQ_INT(ts, c ? cdt_comm_max_i64(c, &m, 1) : 0, 0);
    T_EQ_INT(ts, m, w - 1);
}

int main(void)
{
    t_state ts = {0};
    char why[512];
    cdt_comm *c;
    int rc = cdt_comm_open(CDT_COMM_AUTO, &c, why, sizeof why);
    if (rc < 0) {
        fprintf(stderr, "test_dp: %s\n", why);
        return 1;
    }
    int w = cdt_comm_size(c), r = cdt_comm_rank(c);
    if (G % w) {
        fprintf(stderr, "test_dp: %d ranks do not divide the batch of %d: run 1, 2, 4 or 8\n", w, G);
        cdt_comm_close(c);
        return 1;
    }
    test_comm_sums(&ts, c);
    run ref, dp, again;
    ts.tests = 1; // one test: the checks below
    train(&ts, NULL, 0, &ref);
    train(&ts, c, 0, &dp);
    train(&ts, c, 0, &again);
    if (!ref.params || !dp.params || !again.params || !ref.grad1 || !dp.grad1) {
        fprintf(stderr, "test_dp: a run failed\n");
        return 1;
    }
    double eg = rel_err(dp.grad1, ref.grad1, ref.np), ep = rel_err(dp.params, ref.params, ref.np);
    double eb = rel_err(dp.buffers, ref.buffers, ref.nb);
    double li = rel1(dp.loss1.instance, ref.loss1.instance);
    double lf = rel1(dp.loss1.feature, ref.loss1.feature);
    double le = rel1(dp.loss1.entropy, ref.loss1.entropy);
    printf("rank %d of %d: step-1 loss terms rel %.2g %.2g %.2g, gradients %.2g of max|g|, "
           "after %d steps parameters %.2g, running stats %.2g\n",
           r, w, li, lf, le, eg, STEPS, ep, eb);
    T_CHECK(&ts, li <= 1e-6 && lf <= 1e-6 && le <= 1e-6);
    T_CHECK(&ts, eg <= 1e-5);
    T_CHECK(&ts, ep <= 1e-5);
    T_CHECK(&ts, eb <= 1e-5);
    T_CHECK(&ts, same_on_ranks(&ts, c, dp.grad1, dp.np * sizeof(float)));
    T_CHECK(&ts, same_on_ranks(&ts, c, dp.params, dp.np * sizeof(float)));
    T_CHECK(&ts, same_on_ranks(&ts, c, dp.buffers, dp.nb * sizeof(float)));
    T_CHECK(&ts, memcmp(dp.params, again.params, dp.np * sizeof(float)) == 0);
    T_CHECK(&ts, memcmp(dp.buffers, again.buffers, dp.nb * sizeof(float)) == 0);
    if (w == 1) { // one process: the reference itself
        T_CHECK(&ts, memcmp(dp.grad1, ref.grad1, dp.np * sizeof(float)) == 0);
        T_CHECK(&ts, memcmp(dp.params, ref.params, dp.np * sizeof(float)) == 0);
        T_CHECK(&ts, memcmp(dp.buffers, ref.buffers, dp.nb * sizeof(float)) == 0);
    } else { // the negative controls: each must fail the gradient check
        static const struct { int flag; const char *what; } bad[] = {
            {CDT_DP_LOCAL_LOSS, "loss over each rank's own rows"},
            {CDT_DP_LOCAL_BN, "batch norm over each rank's own rows"},
            {CDT_DP_MEAN_GRADS, "mean of the gradients instead of the sum"}};
        for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
            run x;
            train(&ts, c, bad[k].flag, &x);
            double e = x.grad1 ? rel_err(x.grad1, ref.grad1, ref.np) : INFINITY;
            printf("rank %d: negative control, %s: gradients %.2g of max|g| (must be > 1e-5)\n",
                   r, bad[k].what, e);
            T_CHECK(&ts, e > 1e-3);
            run_free(&x);
        }
    }
    run_free(&ref); run_free(&dp); run_free(&again);
    cdt_comm_close(c);
    ts.tests_failed = ts.failed > 0;
    return T_END(&ts);
}
