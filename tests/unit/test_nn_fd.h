/* test_nn_fd.h: helpers shared by the layer tests: a small deterministic
 * random source and a central finite-difference gradient check.
 *
 * A layer's backward is checked through the scalar L = sum(out * R) with a
 * fixed random R: dL/dout = R, so backward(R) must equal the numerical
 * gradient of L. Everything runs on the double twins (cdt_*_f64) with step
 * 1e-5, where the truncation error (~h^2) and rounding (~1e-16/h) are both
 * far below the 1e-6 tolerance. The error is norm-wise,
 * |analytic - numeric| / max(|numeric|, tiny), so entries whose true
 * gradient is ~0 do not turn rounding noise into a failure. */
#ifndef TEST_NN_FD_H
#define TEST_NN_FD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define FD_STEP 1e-5
#define FD_TOL 1e-6

typedef struct fd_rng { uint64_t s; } fd_rng;

static inline double fd_uniform(fd_rng *r) // [0,1)
{
    r->s ^= r->s << 13; r->s ^= r->s >> 7; r->s ^= r->s << 17;
    return (double)(r->s >> 11) / 9007199254740992.0;
}

static inline void fd_fill(double *x, size_t n, fd_rng *r, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * fd_uniform(r);
}

/* Floats uniform in [lo, hi). */
static inline void ffill(float *x, size_t n, fd_rng *r, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * fd_uniform(r));
}

static inline double fd_dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* The scalar whose gradient is checked, recomputed from ctx after each
 * perturbation of the input being tested. */
typedef double (*fd_loss_fn)(void *ctx);

/* Relative error of `analytic` against central differences of f over the
 * n entries of x. skip (may be NULL) marks entries at a kink. */
static inline double fd_check(fd_loss_fn f, void *ctx, double *x, const double *analytic,
                       size_t n, const unsigned char *skip)
{
    double diff2 = 0, ref2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i]) continue;
        double x0 = x[i];
        x[i] = x0 + FD_STEP;
        double lp = f(ctx);
        x[i] = x0 - FD_STEP;
        double lm = f(ctx);
        x[i] = x0;
        double num = (lp - lm) / (2 * FD_STEP);
        diff2 += (analytic[i] - num) * (analytic[i] - num);
        ref2 += num * num;
    }
    return sqrt(diff2) / fmax(sqrt(ref2), 1e-12);
}

#endif
