/* batchnorm.c: batch normalisation over (N,C,HW), as torch.nn.BatchNorm2d
 * (and BatchNorm1d with HW = 1). Training mode normalises with the batch
 * mean and the biased variance, and moves the running variance towards the
 * unbiased one; sums are taken in double so a large batch does not lose the
 * small differences the variance is made of. */
#include "cdt_core.h"
#include "cdt_nn.h"
#include "nn/backend.h"
#include "real.h"
#include "bn_eval.h"

/* Channel sums in double over (N,C,HW) laid out data, BN_LANES partial
 * sums wide: one vector sum per channel, not one per image, which for the
 * small planes of late layers (4x4) was most of the time. */
#define BN_LANES 16
/* The passes go over blocks of channels, image by image: an image's run
 * of a block's channels is contiguous, and BN_RUN bytes or more of it
 * keep the prefetchers ahead (a channel at a time, a 4x4 plane was one
 * cache line per image, and the loads waited on memory); the block's
 * values, BN_FIT bytes or fewer per tensor, stay in cache from one pass to
 * the next. Each channel's sums take their terms in the same order either
 * way, so the bits do not depend on the block. */
#define BN_RUN 4096
#define BN_FIT ((size_t)512 * 1024)
#define BN_MAXB 64

/* Channels per block. */
static int NN(bn_block)(const cdt_bn_params *p)
{
    size_t plane = (size_t)p->hw * sizeof(real);
    size_t cb = (BN_RUN + plane - 1) / plane, fit = BN_FIT / (plane * (size_t)p->n);
    if (cb > fit) cb = fit;
    if (cb > BN_MAXB) cb = BN_MAXB;
    if (cb > (size_t)p->c) cb = p->c;
    return cb < 1 ? 1 : (int)cb;
}

/* Blocks of *cb channels (NN(bn_block)); the last one may be shorter. */
static int NN(blocks)(const cdt_bn_params *p, int *cb)
{
    *cb = NN(bn_block)(p);
    return (p->c + *cb - 1) / *cb;
}

/* Channels in the block from c0. */
static int NN(block_n)(const cdt_bn_params *p, int c0, int cb)
{
    return p->c - c0 < cb ? p->c - c0 : cb;
}

static double NN(lanes_total)(const double *acc)
{
    double s = 0;
    for (int j = 0; j < BN_LANES; j++) s += acc[j];
    return s;
}

/* Channels [c0, c0 + cb): acc (cb, BN_LANES) = the lane sums of
 * (x - center[c]), or of its square. */
NN_CLONES
static void NN(block_sums)(double *acc, const real *x, int c0, int cb, const double *center,
                           int square, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    int body = p->hw - p->hw % BN_LANES;
    for (int k = 0; k < cb * BN_LANES; k++) acc[k] = 0;
    for (int b = 0; b < p->n; b++)
        for (int k = 0; k < cb; k++) {
            const real *xc = x + b * chw + (size_t)(c0 + k) * p->hw;
            double *a = acc + k * BN_LANES, m = center ? center[k] : 0;
            if (square)
                for (int i = 0; i < body; i += BN_LANES) {
                    #pragma omp simd
                    for (int j = 0; j < BN_LANES; j++) a[j] += (xc[i + j] - m) * (xc[i + j] - m);
                }
            else
                for (int i = 0; i < body; i += BN_LANES) {
                    #pragma omp simd
                    for (int j = 0; j < BN_LANES; j++) a[j] += xc[i + j] - m;
                }
            for (int i = body; i < p->hw; i++) a[i - body] += square ? (xc[i] - m) * (xc[i] - m)
                                                                     : xc[i] - m;
        }
}

/* Channel c's saved and running statistics once its mean and biased
 * variance over `count` values are known (the variance made unbiased for
 * the running one); its scale and shift. */
static void NN(stats)(real *mean, real *invstd, real *running_mean, real *running_var,
                      real *scale, real *shift, const real *gamma, const real *beta, int c,
                      double mu, double var, double count, const cdt_bn_params *p)
{
    double is = 1 / sqrt(var + p->eps);
    mean[c] = (real)mu;
    invstd[c] = (real)is;
    *scale = (real)(gamma[c] * is);
    *shift = beta[c];
    if (running_mean) running_mean[c] = (real)((1 - p->momentum) * running_mean[c] + p->momentum * mu);
    if (running_var)
        running_var[c] = (real)((1 - p->momentum) * running_var[c] +
                                p->momentum * var * count / (count - 1));
}

/* Channels [c0, c0 + cb) of the training forward: out = (x - m) scale +
 * shift (with relu, max(0, out) as cdt_relu_forward); in real: (x - mean)
 * is exact enough, and float vectors are twice as wide. */
NN_CLONES
static void NN(normalise)(real *out, const real *x, const real *m, const real *scale,
                          const real *shift, int c0, int cb, int relu, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    for (int b = 0; b < p->n; b++)
        for (int k = 0; k < cb; k++) {
            size_t off = b * chw + (size_t)(c0 + k) * p->hw;
            const real *xc = x + off;
            real *oc = out + off, mk = m[c0 + k], sk = scale[k], hk = shift[k];
            if (relu) {
                #pragma omp simd
                for (int i = 0; i < p->hw; i++) {
                    real v = (xc[i] - mk) * sk + hk;
                    oc[i] = v < 0 ? 0 : v;
                }
            } else {
                #pragma omp simd
                for (int i = 0; i < p->hw; i++) oc[i] = (xc[i] - mk) * sk + hk;
            }
        }
}

/* Channels [c0, c0 + cb) given their mean and biased variance: the
 * statistics, then the values. */
static void NN(finish)(real *out, real *mean, real *invstd, real *running_mean, real *running_var,
                       const real *x, const real *gamma, const real *beta, int c0, int cb,
                       const double *mu, const double *var, double count, int relu,
                       const cdt_bn_params *p)
{
    real scale[BN_MAXB], shift[BN_MAXB];
    for (int k = 0; k < cb; k++)
        NN(stats)(mean, invstd, running_mean, running_var, &scale[k], &shift[k], gamma, beta,
                  c0 + k, mu[k], var[k], count, p);
    NN(normalise)(out, x, mean, scale, shift, c0, cb, relu, p);
}


static void NN(forward)(real *out, real *mean, real *invstd, real *running_mean, real *running_var,
                        const real *x, const real *gamma, const real *beta, int relu,
                        const cdt_bn_params *p)
{
    size_t count = (size_t)p->n * p->hw;
    int cb, nb = NN(blocks)(p, &cb);
    CDT_ASSERT(count > 1); // PyTorch refuses one value per channel too
    #pragma omp parallel for if (count * p->c > NN_OMP_PASS)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * cb, n = NN(block_n)(p, c0, cb);
        double acc[BN_MAXB * BN_LANES], mu[BN_MAXB], var[BN_MAXB];
        NN(block_sums)(acc, x, c0, n, NULL, 0, p);
        for (int k = 0; k < n; k++) mu[k] = NN(lanes_total)(acc + k * BN_LANES) / count;
        NN(block_sums)(acc, x, c0, n, mu, 1, p);
        for (int k = 0; k < n; k++) var[k] = NN(lanes_total)(acc + k * BN_LANES) / count;
        NN(finish)(out, mean, invstd, running_mean, running_var, x, gamma, beta, c0, n, mu, var,
                   (double)count, relu, p);
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

/* Eval mode's coefficients of channels [c0, c0 + n): out = x scale +
 * shift, in double. */
static void NN(eval_coefs)(double *scale, double *shift, const real *gamma, const real *beta,
                           const real *running_mean, const real *running_var, int c0, int n,
                           double eps)
{
    for (int k = 0; k < n; k++) {
        int c = c0 + k;
        scale[k] = gamma[c] / sqrt((double)running_var[c] + eps);
        shift[k] = beta[c] - running_mean[c] * scale[k];
    }
}

/* Channels [c0, c0 + cb) of eval mode: out = x scale + shift in double,
 * as vector code for the CPU (NN_CLONES; this file does not contract the
 * multiply and the add into one FMA, so every build rounds the same);
 * then, where asked, + res and the ReLU: the values of cdt_add_forward
 * (a float add either way round is the same) and cdt_relu_forward. res
 * may be out, x may be out. */
NN_CLONES
static void NN(eval_block)(real *out, const real *x, const real *res, int relu, int c0, int cb,
                           const double *scale, const double *shift, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    for (int b = 0; b < p->n; b++)
        for (int k = 0; k < cb; k++) {
            size_t off = b * chw + (size_t)(c0 + k) * p->hw;
            const real *xc = x + off, *rc = res ? res + off : NULL;
            real *oc = out + off;
            double sk = scale[k], hk = shift[k];
            if (!rc && !relu) {
                #pragma omp simd
                for (int i = 0; i < p->hw; i++) oc[i] = (real)(xc[i] * sk + hk);
            } else if (!rc) {
                #pragma omp simd
                for (int i = 0; i < p->hw; i++) {
                    real v = (real)(xc[i] * sk + hk);
                    oc[i] = v < 0 ? 0 : v;
                }
            } else {
                #pragma omp simd
                for (int i = 0; i < p->hw; i++) {
                    real v = (real)(xc[i] * sk + hk) + rc[i];
                    oc[i] = relu && v < 0 ? 0 : v;
                }
            }
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
    int cb, nb = NN(blocks)(p, &cb);
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * cb, n = NN(block_n)(p, c0, cb);
        double scale[BN_MAXB], shift[BN_MAXB];
        NN(eval_coefs)(scale, shift, gamma, beta, running_mean, running_var, c0, n, p->eps);
        NN(eval_block)(out, x, NULL, 0, c0, n, scale, shift, p);
    }
}

/* Eval mode on a few images, after the layer that made x (bn_eval.h):
 * one thread, the channels in blocks of BN_MAXB. */
void NN(cdt_bn_eval_post)(real *out, const real *x, const real *res, int relu, const real *gamma,
                          const real *beta, const real *running_mean, const real *running_var,
                          const cdt_bn_params *p)
{
    for (int c0 = 0; c0 < p->c; c0 += BN_MAXB) {
        int n = p->c - c0 < BN_MAXB ? p->c - c0 : BN_MAXB;
        double scale[BN_MAXB], shift[BN_MAXB];
        NN(eval_coefs)(scale, shift, gamma, beta, running_mean, running_var, c0, n, p->eps);
        NN(eval_block)(out, x, res, relu, c0, n, scale, shift, p);
    }
}

/* Channels [c0, c0 + cb): the backward's two sums, sum dout and
 * sum dout (x - mean) (times invstd: sum dout xhat). */
NN_CLONES
static void NN(grad_sums)(double *sd, double *sdx, const real *dout, const real *x, int c0, int cb,
                          const real *mean, const real *invstd, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    int body = p->hw - p->hw % BN_LANES;
    double s[BN_MAXB * BN_LANES], t[BN_MAXB * BN_LANES];
    for (int k = 0; k < cb * BN_LANES; k++) s[k] = t[k] = 0; // the block's only
    for (int b = 0; b < p->n; b++)
        for (int k = 0; k < cb; k++) {
            size_t off = b * chw + (size_t)(c0 + k) * p->hw;
            double *sk = s + k * BN_LANES, *tk = t + k * BN_LANES, mu = mean[c0 + k];
            for (int i = 0; i < body; i += BN_LANES) {
                #pragma omp simd
                for (int j = 0; j < BN_LANES; j++) {
                    sk[j] += dout[off + i + j];
                    tk[j] += dout[off + i + j] * (x[off + i + j] - mu);
                }
            }
            for (int i = body; i < p->hw; i++) {
                sk[i - body] += dout[off + i];
                tk[i - body] += dout[off + i] * (x[off + i] - mu);
            }
        }
    for (int k = 0; k < cb; k++) {
        sd[k] = NN(lanes_total)(s + k * BN_LANES);
        sdx[k] = NN(lanes_total)(t + k * BN_LANES) * (double)invstd[c0 + k];
    }
}

/* Channels [c0, c0 + cb)' dx from their two sums over count values:
 * dx = a dout + (x - mean) bx + c0, in real as the forward. */
NN_CLONES
static void NN(grad_dx)(real *dx, const real *dout, const real *x, int c0, int cb,
                        const real *mean, const real *invstd, const real *gamma, const double *sd,
                        const double *sdx, double count, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    real a[BN_MAXB], bx[BN_MAXB], z[BN_MAXB];
    for (int k = 0; k < cb; k++) {
        int c = c0 + k;
        double is = invstd[c], kk = gamma[c] * is / count;
        a[k] = (real)(kk * count);
        bx[k] = (real)(-kk * sdx[k] * is);
        z[k] = (real)(-kk * sd[k]);
    }
    for (int b = 0; b < p->n; b++)
        for (int k = 0; k < cb; k++) {
            size_t off = b * chw + (size_t)(c0 + k) * p->hw;
            real ak = a[k], bk = bx[k], zk = z[k], m = mean[c0 + k];
            #pragma omp simd
            for (int i = 0; i < p->hw; i++) dx[off + i] = ak * dout[off + i] + (x[off + i] - m) * bk + zk;
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
    int cb, nb = NN(blocks)(p, &cb);
    #pragma omp parallel for if (count * p->c > NN_OMP_PASS)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * cb, n = NN(block_n)(p, c0, cb);
        double sd[BN_MAXB], sdx[BN_MAXB];
        NN(grad_sums)(sd, sdx, dout, x, c0, n, mean, invstd, p);
        for (int k = 0; k < n; k++) {
            dbeta[c0 + k] += (real)sd[k];
            dgamma[c0 + k] += (real)sdx[k];
        }
        NN(grad_dx)(dx, dout, x, c0, n, mean, invstd, gamma, sd, sdx, (double)count, p);
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
    int cb, nb = NN(blocks)(p, &cb);
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * cb, n = NN(block_n)(p, c0, cb);
        double acc[BN_MAXB * BN_LANES];
        NN(block_sums)(acc, x, c0, n, center ? center + c0 : NULL, center != NULL, p);
        for (int k = 0; k < n; k++) sum[c0 + k] = NN(lanes_total)(acc + k * BN_LANES);
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
    int cb, nb = NN(blocks)(p, &cb);
    CDT_ASSERT(count > 1);
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * cb, n = NN(block_n)(p, c0, cb);
        NN(finish)(out, mean, invstd, running_mean, running_var, x, gamma, beta, c0, n, gmean + c0,
                   gvar + c0, count, 0, p);
    }
}

void NN(cdt_batchnorm_backward_sums)(double *sums,       // (2C): sum dout, sum dout xhat
                                     const real *dout, const real *x, const real *mean,
                                     const real *invstd, const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    int cb, nb = NN(blocks)(p, &cb);
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * cb, n = NN(block_n)(p, c0, cb);
        NN(grad_sums)(sums + c0, sums + p->c + c0, dout, x, c0, n, mean, invstd, p);
    }
}

void NN(cdt_batchnorm_backward_with)(real *dx, real *dgamma, real *dbeta,
                                     const double *local,  // (2C) this process's sums
                                     const double *global, // (2C) the whole batch's
                                     double count, const real *dout, const real *x,
                                     const real *mean, const real *invstd, const real *gamma,
                                     const cdt_bn_params *p)
{
    size_t chw = (size_t)p->c * p->hw;
    int cb, nb = NN(blocks)(p, &cb);
    #pragma omp parallel for if ((size_t)p->n * chw > NN_OMP_PASS)
    for (int blk = 0; blk < nb; blk++) {
        int c0 = blk * cb, n = NN(block_n)(p, c0, cb);
        for (int k = 0; k < n; k++) {
            dbeta[c0 + k] += (real)local[c0 + k];
            dgamma[c0 + k] += (real)local[p->c + c0 + k];
        }
        NN(grad_dx)(dx, dout, x, c0, n, mean, invstd, gamma, global + c0, global + p->c + c0,
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
