/* batchnorm.c: batch normalisation over (N,C,HW), as torch.nn.BatchNorm2d
 * (and BatchNorm1d with HW = 1). Training mode normalises with the batch
 * mean and the biased variance, and moves the running variance towards the
 * unbiased one; sums are taken in double so a large batch does not lose the
 * small differences the variance is made of. */
#include "cdt_core.h"
#include "cdt_nn.h"
#include "real.h"

/* Channel c of the training forward once its mean and biased variance
 * over `count` values are known: out, the saved mean and invstd, the
 * running statistics (the variance made unbiased). */
static void NN(normalise)(real *out, real *mean, real *invstd, real *running_mean,
                          real *running_var, const real *x, const real *gamma, const real *beta,
                          int c, double mu, double var, double count, const cdt_bn_params *p)
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
        #pragma omp simd
        for (int i = 0; i < p->hw; i++) oc[i] = (xc[i] - m) * scale + shift;
    }
    if (running_mean) running_mean[c] = (real)((1 - p->momentum) * running_mean[c] + p->momentum * mu);
    if (running_var)
        running_var[c] = (real)((1 - p->momentum) * running_var[c] +
                                p->momentum * var * count / (count - 1));
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
    size_t count = (size_t)p->n * p->hw, chw = (size_t)p->c * p->hw;
    CDT_ASSERT(count > 1); // PyTorch refuses one value per channel too
    #pragma omp parallel for if (count * p->c > NN_OMP_PASS)
    for (int c = 0; c < p->c; c++) {
        double sum = 0, sq = 0;
        for (int b = 0; b < p->n; b++) {
            const real *xc = x + b * chw + (size_t)c * p->hw;
            #pragma omp simd reduction(+ : sum)
            for (int i = 0; i < p->hw; i++) sum += xc[i];
        }
        double mu = sum / count;
        for (int b = 0; b < p->n; b++) {
            const real *xc = x + b * chw + (size_t)c * p->hw;
            #pragma omp simd reduction(+ : sq)
            for (int i = 0; i < p->hw; i++) sq += (xc[i] - mu) * (xc[i] - mu);
        }
        NN(normalise)(out, mean, invstd, running_mean, running_var, x, gamma, beta, c, mu,
                      sq / count, (double)count, p);
    }
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
static void NN(grad_sums)(double *sd, double *sdx, const real *dout, const real *x, int c,
                          double mu, double is, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    double s = 0, t = 0;
    for (int b = 0; b < p->n; b++) {
        size_t off = b * chw + (size_t)c * p->hw;
        #pragma omp simd reduction(+ : s, t)
        for (int i = 0; i < p->hw; i++) {
            s += dout[off + i];
            t += dout[off + i] * (x[off + i] - mu);
        }
    }
    *sd = s;
    *sdx = t * is;
}

/* Channel c's dx from the two sums over count values:
 * dx = a dout + (x - mean) bx + c0, in real as the forward. */
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
        double s = 0, mu = center ? center[c] : 0;
        for (int b = 0; b < p->n; b++) {
            const real *xc = x + b * chw + (size_t)c * p->hw;
            if (center) {
                #pragma omp simd reduction(+ : s)
                for (int i = 0; i < p->hw; i++) s += (xc[i] - mu) * (xc[i] - mu);
            } else {
                #pragma omp simd reduction(+ : s)
                for (int i = 0; i < p->hw; i++) s += xc[i];
            }
        }
        sum[c] = s;
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
                      gvar[c], count, p);
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
