/* test_loss.c: NT-Xent and the normalised entropy: values on hand-worked
 * cases and against a naive implementation written from the definition,
 * gradients against central finite differences (double twins). */
#include "cdt_nn.h"
#include "nn/cpu/nn_f64.h"
#include "t.h"
#include "test_nn_fd.h"

#include <stdlib.h>

/* The definition, one pair at a time, sharing no code with the library. */
static double naive_ntxent(const double *z1, const double *z2, int m, int d, double t)
{
    int rows = 2 * m;
    double loss = 0;
    for (int i = 0; i < rows; i++) {
        const double *a = i < m ? z1 + i * d : z2 + (i - m) * d;
        double sum = 0, pos = 0;
        for (int j = 0; j < rows; j++) {
            if (j == i) continue;
            const double *b = j < m ? z1 + j * d : z2 + (j - m) * d;
            double ab = 0, aa = 0, bb = 0;
            for (int k = 0; k < d; k++) { ab += a[k] * b[k]; aa += a[k] * a[k]; bb += b[k] * b[k]; }
            double s = ab / (fmax(sqrt(aa), 1e-12) * fmax(sqrt(bb), 1e-12)) / t;
            sum += exp(s);
            if (j == (i + m) % rows) pos = s;
        }
        loss += log(sum) - pos;
    }
    return loss / rows;
}

static void test_ntxent_hand(t_state *ts)
{
    // M = 2, views identical and orthogonal rows, temp 1: every row sees
    // logits {0, 1 (positive), 0}, so the loss is log(2 + e) - 1.
    float z[4] = {1, 0, 0, 3};
    cdt_ntxent_params p = {2, 2, 1.0};
    float *s = malloc(cdt_ntxent_scratch(&p) * sizeof *s);
    T_NEAR(ts, cdt_ntxent_forward(z, z, s, &p), log(2 + exp(1.0)) - 1, 1e-6);
    // M = 1: the positive is the only logit, whatever the rows
    float a[2] = {1, 0}, b[2] = {0, 2};
    cdt_ntxent_params p1 = {1, 2, 0.5};
    T_NEAR(ts, cdt_ntxent_forward(a, b, s, &p1), 0, 1e-7);
    free(s);
}

typedef struct ntx_ctx { cdt_ntxent_params p; double *z1, *z2, *s; } ntx_ctx;

static double ntx_loss(void *ctx)
{
    ntx_ctx *c = ctx;
    return cdt_ntxent_forward_f64(c->z1, c->z2, c->s, &c->p);
}

static void ntx_case(t_state *ts, int m, int d, double temp, uint64_t seed)
{
    ntx_ctx c = {{m, d, temp}, NULL, NULL, NULL};
    size_t n = (size_t)m * d;
    fd_rng r = {seed};
    c.z1 = malloc(n * sizeof(double)); c.z2 = malloc(n * sizeof(double));
    c.s = malloc(cdt_ntxent_scratch(&c.p) * sizeof(double));
    double *d1 = malloc(n * sizeof(double)), *d2 = malloc(n * sizeof(double));
    fd_fill(c.z1, n, &r, -1, 1);
    fd_fill(c.z2, n, &r, -1, 1);
    double loss = ntx_loss(&c);
    T_NEAR(ts, loss, naive_ntxent(c.z1, c.z2, m, d, temp), 1e-12);
    // the float build agrees to float rounding
    float *f1 = malloc(n * sizeof(float)), *f2 = malloc(n * sizeof(float));
    float *fs = malloc(cdt_ntxent_scratch(&c.p) * sizeof(float));
    for (size_t i = 0; i < n; i++) { f1[i] = (float)c.z1[i]; f2[i] = (float)c.z2[i]; }
    T_NEAR(ts, cdt_ntxent_forward(f1, f2, fs, &c.p), loss, 1e-5 * fabs(loss));
    cdt_ntxent_backward_f64(d1, d2, 0.7, c.z1, c.z2, c.s, &c.p);
    // dloss = 0.7 scales the gradient: check against 0.7 L
    for (size_t i = 0; i < n; i++) { d1[i] /= 0.7; d2[i] /= 0.7; }
    double e1 = fd_check(ntx_loss, &c, c.z1, d1, n, NULL);
    double e2 = fd_check(ntx_loss, &c, c.z2, d2, n, NULL);
    T_CHECK(ts, e1 < FD_TOL && e2 < FD_TOL);
    if (!(e1 < FD_TOL && e2 < FD_TOL)) fprintf(stderr, "ntxent %d,%d: %g %g\n", m, d, e1, e2);
    free(c.z1); free(c.z2); free(c.s); free(d1); free(d2); free(f1); free(f2); free(fs);
}

static void test_ntxent(t_state *ts)
{
    ntx_case(ts, 3, 4, 0.5, 41);  // instance loss shape: N rows of z
    ntx_case(ts, 5, 3, 1.0, 43);  // feature loss shape: F rows of N
    ntx_case(ts, 1, 6, 0.5, 47);
}

typedef struct ent_ctx { double *p; size_t n; } ent_ctx;

static double ent_loss(void *ctx)
{
    ent_ctx *e = ctx;
    return cdt_entropy_forward_f64(e->p, e->n);
}

static void test_entropy(t_state *ts)
{
    float half[3] = {0.5f, 0.5f, 0.5f}, q[2] = {0.25f, 0.75f};
    T_NEAR(ts, cdt_entropy_forward(half, 3), 1, 1e-6);
    double h = -(0.25 * log2(0.25) + 0.75 * log2(0.75));
    T_NEAR(ts, cdt_entropy_forward(q, 2), h, 1e-6);
    enum { N = 24 };
    double p[N], dp[N];
    fd_rng r = {53};
    fd_fill(p, N, &r, 0.02, 0.98);
    ent_ctx e = {p, N};
    cdt_entropy_backward_f64(dp, 1.0, p, N);
    T_CHECK(ts, fd_check(ent_loss, &e, p, dp, N, NULL) < FD_TOL);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_ntxent_hand);
    T_RUN(&ts, test_ntxent);
    T_RUN(&ts, test_entropy);
    return T_END(&ts);
}
