/* batchnorm.c: batch normalisation over (N,C,HW), as torch.nn.BatchNorm2d
 * (and BatchNorm1d with HW = 1). Training mode normalises with the batch
 * mean and the biased variance, and moves the running variance towards the
 * unbiased one; sums are taken in double so a large batch does not lose the
 * small differences the variance is made of. */
#include "cdt_core.h"
#include "cdt_nn.h"
#include "nn/backend.h"
#include "real.h"

/* Channel sums in double over (N,C,HW) laid out data, BN_LANES partial
 * sums wide: one vector sum per channel, not one per image, which for the
 * small planes of late layers (4x4) was most of the time. */
#define BN_LANES 16

/* Channel c: sum of (x - center), or of its square. */
NN_CLONES
static double NN(chan_sum)(const real *x, int c, double center, int square, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    int body = p->hw - p->hw % BN_LANES;
    double acc[BN_LANES] = {0};
    for (int b = 0; b < p->n; b++) {
        const real *xc = x + b * chw + (size_t)c * p->hw;
        if (square)
            for (int i = 0; i < body; i += BN_LANES) {
                #pragma omp simd
                for (int j = 0; j < BN_LANES; j++) acc[j] += (xc[i + j] - center) * (xc[i + j] - center);
            }
        else
            for (int i = 0; i < body; i += BN_LANES) {
                #pragma omp simd
                for (int j = 0; j < BN_LANES; j++) acc[j] += xc[i + j] - center;
            }
        for (int i = body; i < p->hw; i++) acc[i - body] += square ? (xc[i] - center) * (xc[i] - center)
                                                                  : xc[i] - center;
    }
    double s = 0;
    for (int j = 0; j < BN_LANES; j++) s += acc[j];
    return s;
}

/* Channel c of the training forward once its mean and biased variance
 * over `count` values are known: out (with relu, max(0, out) as
 * cdt_relu_forward), the saved mean and invstd, the running statistics
 * (the variance made unbiased). */
NN_CLONES
static void NN(normalise)(real *out, real *mean, real *invstd, real *running_mean,
                          real *running_var, const real *x, const real *gamma, const real *beta,
                          int c, double mu, double var, double count, int relu,
                          const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    double is = 1 / sqrt(var + p->eps);
    mean[c] = (real)mu;
    invstd[c] = (real)is;
    // in real: (x - mean) is exact enough, and float vectors are twice as wide
    real scale = (real)(gamma[c] * is), m = (real)mu, shift = beta[c];
    for (int b = 0; b < p->n; b++) {
        const real *xc = x + b * chw + (size_t)c * p->hw;
        real *oc = out + b * chw + (size_t)c * p->hw;
        if (relu) {
            #pragma omp simd
            for (int i = 0; i < p->hw; i++) {
                real v = (xc[i] - m) * scale + shift;
                oc[i] = v < 0 ? 0 : v;
            }
        } else {
            #pragma omp simd
            for (int i = 0; i < p->hw; i++) oc[i] = (xc[i] - m) * scale + shift;
        }
    }
    if (running_mean) running_mean[c] = (real)((1 - p->momentum) * running_mean[c] + p->momentum * mu);
    if (running_var)
        running_var[c] = (real)((1 - p->momentum) * running_var[c] +
                                p->momentum * var * count / (count - 1));
}

static void NN(forward)(real *out, real *mean, real *invstd, real *running_mean, real *running_var,
                        const real *x, const real *gamma, const real *beta, int relu,
                        const cdt_bn_params *p)
{
    size_t count = (size_t)p->n * p->hw;
    CDT_ASSERT(count > 1); // PyTorch refuses one value per channel too
    #pragma omp parallel for if (count * p->c > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++) {
        double mu = NN(chan_sum)(x, c, 0, 0, p) / count, sq = NN(chan_sum)(x, c, mu, 1, p);
        NN(normalise)(out, mean, invstd, running_mean, running_var, x, gamma, beta, c, mu,
                      sq / count, (double)count, relu, p);
    }
}

void NN(cdt_batchnorm_forward)(real *out,          // (N,C,HW)
                               real *mean,         // (C) saved for backward
                               real *invstd,       // (C) saved for backward
                               real *running_mean, // (C) or NULL
                               real *running_var,  // (C) or NULL
                               const real *x,      // (N,C,HW)
                               const real *gamma,  // (C)
                               const real *beta,   // (C)
                               const cdt_bn_params *p)
{
    NN(forward)(out, mean, invstd, running_mean, running_var, x, gamma, beta, 0, p);
}

/* Batch norm then ReLU with one pass over out: the values of
 * cdt_batchnorm_forward followed by cdt_relu_forward in place. */
void NN(cdt_batchnorm_relu_forward)(real *out, real *mean, real *invstd, real *running_mean,
                                    real *running_var, const real *x, const real *gamma,
                                    const real *beta, const cdt_bn_params *p)
{
    NN(forward)(out, mean, invstd, running_mean, running_var, x, gamma, beta, 1, p);
}

void NN(cdt_batchnorm_forward_eval)(real *out,                // (N,C,HW)
                                    const real *x,            // (N,C,HW)
                                    const real *gamma,        // (C)
                                    const real *beta,         // (C)
                                    const real *running_mean, // (C)
                                    const real *running_var,  // (C)
                                    const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++) {
        double scale = gamma[c] / sqrt((double)running_var[c] + p->eps);
        double shift = beta[c] - running_mean[c] * scale;
        for (int b = 0; b < p->n; b++) {
            const real *xc = x + b * chw + (size_t)c * p->hw;
            real *oc = out + b * chw + (size_t)c * p->hw;
            for (int i = 0; i < p->hw; i++) oc[i] = (real)(xc[i] * scale + shift);
        }
    }
}

/* Channel c's two sums of the backward: sum dout, sum dout xhat. */
NN_CLONES
static void NN(grad_sums)(double *sd, double *sdx, const real *dout, const real *x, int c,
                          double mu, double is, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    int body = p->hw - p->hw % BN_LANES;
    double s[BN_LANES] = {0}, t[BN_LANES] = {0};
    for (int b = 0; b < p->n; b++) {
        size_t off = b * chw + (size_t)c * p->hw;
        for (int i = 0; i < body; i += BN_LANES) {
            #pragma omp simd
            for (int j = 0; j < BN_LANES; j++) {
                s[j] += dout[off + i + j];
                t[j] += dout[off + i + j] * (x[off + i + j] - mu);
            }
        }
        for (int i = body; i < p->hw; i++) {
            s[i - body] += dout[off + i];
            t[i - body] += dout[off + i] * (x[off + i] - mu);
        }
    }
    double ss = 0, tt = 0;
    for (int j = 0; j < BN_LANES; j++) {
        ss += s[j];
        tt += t[j];
    }
    *sd = ss;
    *sdx = tt * is;
}

/* Channel c's dx from the two sums over count values:
 * dx = a dout + (x - mean) bx + c0, in real as the forward. */
NN_CLONES
static void NN(grad_dx)(real *dx, const real *dout, const real *x, int c, double mu, double is,
                        double gamma, double sd, double sdx, double count, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    double k = gamma * is / count;
    real a = (real)(k * count), bx = (real)(-k * sdx * is), c0 = (real)(-k * sd), m = (real)mu;
    for (int b = 0; b < p->n; b++) {
        size_t off = b * chw + (size_t)c * p->hw;
        #pragma omp simd
        for (int i = 0; i < p->hw; i++) dx[off + i] = a * dout[off + i] + (x[off + i] - m) * bx + c0;
    }
}

/* With xhat = (x - mean) invstd and M values per channel:
 * dx = gamma invstd / M * (M dout - sum(dout) - xhat sum(dout xhat)). */
void NN(cdt_batchnorm_backward)(real *dx,           // (N,C,HW)
                                real *dgamma,       // (C) +=
                                real *dbeta,        // (C) +=
                                const real *dout,   // (N,C,HW)
                                const real *x,      // (N,C,HW)
                                const real *mean,   // (C)
                                const real *invstd, // (C)
                                const real *gamma,  // (C)
                                const cdt_bn_params *p)
{
    size_t count = (size_t)p->n * p->hw;
    #pragma omp parallel for if (count * p->c > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++) {
        double sd, sdx;
        NN(grad_sums)(&sd, &sdx, dout, x, c, mean[c], invstd[c], p);
        dbeta[c] += (real)sd;
        dgamma[c] += (real)sdx;
        NN(grad_dx)(dx, dout, x, c, mean[c], invstd[c], gamma[c], sd, sdx, (double)count, p);
    }
}

/* ---- the same in pieces, for batch norm across processes ----
 * Each process holds part of the batch; between the pieces the caller adds
 * the per-channel sums of every process (in double), so that mean,
 * variance and the backward's two sums are the whole batch's: the forward
 * above is sums(NULL) -> mean, sums(mean) -> variance, forward_with; the
 * backward is backward_sums -> backward_with. */

void NN(cdt_batchnorm_sums)(double *sum,          // (C)
                            const real *x,        // (N,C,HW)
                            const double *center, // (C) or NULL
                            const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++) {
        sum[c] = NN(chan_sum)(x, c, center ? center[c] : 0, center != NULL, p);
    }
}

void NN(cdt_batchnorm_forward_with)(real *out, real *mean, real *invstd, real *running_mean,
                                    real *running_var, const real *x, const real *gamma,
                                    const real *beta,
                                    const double *gmean, // (C) of the whole batch
                                    const double *gvar,  // (C) biased, of the whole batch
                                    double count,        // values per channel, whole batch
                                    const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    CDT_ASSERT(count > 1);
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++)
        NN(normalise)(out, mean, invstd, running_mean, running_var, x, gamma, beta, c, gmean[c],
                      gvar[c], count, 0, p);
}

void NN(cdt_batchnorm_backward_sums)(double *sums,       // (2C): sum dout, sum dout xhat
                                     const real *dout, const real *x, const real *mean,
                                     const real *invstd, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++)
        NN(grad_sums)(&sums[c], &sums[p->c + c], dout, x, c, mean[c], invstd[c], p);
}

void NN(cdt_batchnorm_backward_with)(real *dx, real *dgamma, real *dbeta,
                                     const double *local,  // (2C) this process's sums
                                     const double *global, // (2C) the whole batch's
                                     double count, const real *dout, const real *x,
                                     const real *mean, const real *invstd, const real *gamma,
                                     const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++) {
        dbeta[c] += (real)local[c];
        dgamma[c] += (real)local[p->c + c];
        NN(grad_dx)(dx, dout, x, c, mean[c], invstd[c], gamma[c], global[c], global[p->c + c],
                    count, p);
    }
}

#ifndef CDT_NN_F64
/* The CPU table's entry (nn/backend.h): training or eval mode by a->train. */
static int bn_fwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_bn_params *p = a->p;
    (void)ctx;
    if (a->train)
        cdt_batchnorm_forward(a->out, a->save, a->save + p->c, a->rm, a->rv, a->x, a->w, a->b, p);
    else
        cdt_batchnorm_forward_eval(a->out, a->x, a->w, a->b, a->rm, a->rv, p);
    return 0;
}

static int bn_bwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_bn_params *p = a->p;
    (void)ctx;
    cdt_batchnorm_backward(a->dx, a->dw, a->db, a->dout, a->x, a->save, a->save + p->c, a->w, p);
    return 0;
}

const cdt_layer_i cdt_batchnorm_layer_cpu = {"batchnorm", NULL, bn_fwd, bn_bwd};
#endif
