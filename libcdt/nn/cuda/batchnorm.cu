/* batchnorm.cu: the twin of nn/cpu/batchnorm.c. One block per channel holds
 * the channel's sums in double (as the CPU, and for the same reason: the
 * variance is made of small differences), two passes (mean, then squares
 * about it), in a fixed tree order so results repeat run to run.
 * A block per channel leaves SMs idle on the 64-channel layers; split the
 * sums over more blocks when timings say it matters. */
#include "cuda_internal.cuh"
#include "nn/backend.h"

/* Element j of channel c, j over the channel's N*HW values. */
static __device__ inline size_t bn_at(size_t j, int c, const cdt_bn_params &p)
{
    return (j / p.hw) * p.c * (size_t)p.hw + (size_t)c * p.hw + j % p.hw;
}

/* Channel c of the training forward (this block's) once its mean and
 * biased variance over `count` values are known: out, by the block's
 * threads; the saved mean and invstd and the running statistics (the
 * variance made unbiased), by its thread 0. */
static __device__ void bn_normalise(float *out, float *mean, float *invstd, float *running_mean,
                                    float *running_var, const float *x, const float *gamma,
                                    const float *beta, int c, double mu, double var,
                                    double count, const cdt_bn_params &p)
{
    size_t local = (size_t)p.n * p.hw;
    double is = 1 / sqrt(var + p.eps), scale = gamma[c] * is, shift = beta[c] - mu * scale;
    for (size_t j = threadIdx.x; j < local; j += blockDim.x) {
        size_t at = bn_at(j, c, p);
        out[at] = (float)(x[at] * scale + shift);
    }
    if (threadIdx.x) return;
    mean[c] = (float)mu;
    invstd[c] = (float)is;
    if (running_mean) running_mean[c] = (float)((1 - p.momentum) * running_mean[c] + p.momentum * mu);
    if (running_var)
        running_var[c] = (float)((1 - p.momentum) * running_var[c] +
                                 p.momentum * var * count / (count - 1));
}

static __global__ void bn_fwd(float *out, float *mean, float *invstd, float *running_mean,
                              float *running_var, const float *x, const float *gamma,
                              const float *beta, cdt_bn_params p)
{
    __shared__ double sh[CU_THREADS];
    int c = blockIdx.x;
    size_t count = (size_t)p.n * p.hw;
    double sum = 0, sq = 0;
    for (size_t j = threadIdx.x; j < count; j += blockDim.x) sum += x[bn_at(j, c, p)];
    double mu = cu_block_sum(sum, sh) / count;
    for (size_t j = threadIdx.x; j < count; j += blockDim.x) {
        double d = x[bn_at(j, c, p)] - mu;
        sq += d * d;
    }
    double var = cu_block_sum(sq, sh) / count;
    bn_normalise(out, mean, invstd, running_mean, running_var, x, gamma, beta, c, mu, var,
                 (double)count, p);
}

static __global__ void bn_eval(float *out, const float *x, const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var,
                               cdt_bn_params p)
{
    CU_FOR(i, (size_t)p.n * p.c * p.hw) {
        int c = (int)(i / p.hw % p.c);
        double scale = gamma[c] / sqrt((double)running_var[c] + p.eps);
        double shift = beta[c] - running_mean[c] * scale;
        out[i] = (float)(x[i] * scale + shift);
    }
}

/* Channel c's two sums of the backward over this block's threads: sum
 * dout, sum dout xhat (every thread gets them). */
static __device__ void bn_grad_sums(double *sd, double *sdx, const float *dout, const float *x,
                                    int c, double mu, double is, double *sh,
                                    const cdt_bn_params &p)
{
    size_t local = (size_t)p.n * p.hw;
    double s = 0, t = 0;
    for (size_t j = threadIdx.x; j < local; j += blockDim.x) {
        size_t at = bn_at(j, c, p);
        s += dout[at];
        t += dout[at] * (x[at] - mu) * is;
    }
    *sd = cu_block_sum(s, sh);
    *sdx = cu_block_sum(t, sh);
}

/* Channel c's dx from the two sums over count values (the whole batch's). */
static __device__ void bn_grad_dx(float *dx, const float *dout, const float *x, int c, double mu,
                                  double is, double gamma, double sd, double sdx, double count,
                                  const cdt_bn_params &p)
{
    size_t local = (size_t)p.n * p.hw;
    double k = gamma * is / count;
    for (size_t j = threadIdx.x; j < local; j += blockDim.x) {
        size_t at = bn_at(j, c, p);
        double xhat = (x[at] - mu) * is;
        dx[at] = (float)(k * ((float)count * dout[at] - sd - xhat * sdx)); // count * dout in float, as the CPU
    }
}

/* dx = gamma invstd / M * (M dout - sum(dout) - xhat sum(dout xhat)). */
static __global__ void bn_bwd(float *dx, float *dgamma, float *dbeta, const float *dout,
                              const float *x, const float *mean, const float *invstd,
                              const float *gamma, cdt_bn_params p)
{
    __shared__ double sh[CU_THREADS];
    int c = blockIdx.x;
    double sd, sdx;
    bn_grad_sums(&sd, &sdx, dout, x, c, mean[c], invstd[c], sh, p);
    bn_grad_dx(dx, dout, x, c, mean[c], invstd[c], gamma[c], sd, sdx, (double)p.n * p.hw, p);
    if (threadIdx.x) return;
    dbeta[c] += (float)sd;
    dgamma[c] += (float)sdx;
}

extern "C" int cdt_batchnorm_forward_cuda(cdt_cuda_ctx *ctx, float *out, float *mean,
                                          float *invstd, float *running_mean,
                                          float *running_var, const float *x,
                                          const float *gamma, const float *beta,
                                          const cdt_bn_params *p)
{
    if ((size_t)p->n * p->hw <= 1) return CDT_EINVAL; // the CPU asserts; PyTorch refuses
    if (p->c <= 0) return 0;
    bn_fwd<<<p->c, CU_THREADS, 0, ctx->stream>>>(out, mean, invstd, running_mean, running_var,
                                                 x, gamma, beta, *p);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_batchnorm_forward_eval_cuda(cdt_cuda_ctx *ctx, float *out, const float *x,
                                               const float *gamma, const float *beta,
                                               const float *running_mean,
                                               const float *running_var, const cdt_bn_params *p)
{
    size_t n = (size_t)p->n * p->c * p->hw;
    if (!n) return 0;
    bn_eval<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(out, x, gamma, beta, running_mean,
                                                         running_var, *p);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_batchnorm_backward_cuda(cdt_cuda_ctx *ctx, float *dx, float *dgamma,
                                           float *dbeta, const float *dout, const float *x,
                                           const float *mean, const float *invstd,
                                           const float *gamma, const cdt_bn_params *p)
{
    if (p->c <= 0 || (size_t)p->n * p->hw == 0) return 0;
    bn_bwd<<<p->c, CU_THREADS, 0, ctx->stream>>>(dx, dgamma, dbeta, dout, x, mean, invstd,
                                                 gamma, *p);
    CU_LAUNCHED(ctx);
    return 0;
}

/* ---- the same in pieces, for batch norm across processes (nn/cpu/
 * batchnorm.c's second half): the caller adds every process's per-channel
 * sums (double device buffers) between the calls. The loops are bn_fwd's
 * and bn_bwd's, so with one process sums(NULL) / count and sums(mean) /
 * count are bn_fwd's mean and variance bit for bit. ---- */

/* sum[c] = sum x, or sum (x - center[c])^2. */
static __global__ void bn_sums(double *sum, const float *x, const double *center,
                               cdt_bn_params p)
{
    __shared__ double sh[CU_THREADS];
    int c = blockIdx.x;
    size_t count = (size_t)p.n * p.hw;
    double s = 0;
    if (center) {
        double mu = center[c];
        for (size_t j = threadIdx.x; j < count; j += blockDim.x) {
            double d = x[bn_at(j, c, p)] - mu;
            s += d * d;
        }
    } else {
        for (size_t j = threadIdx.x; j < count; j += blockDim.x) s += x[bn_at(j, c, p)];
    }
    s = cu_block_sum(s, sh);
    if (!threadIdx.x) sum[c] = s;
}

static __global__ void bn_fwd_with(float *out, float *mean, float *invstd, float *running_mean,
                                   float *running_var, const float *x, const float *gamma,
                                   const float *beta, const double *gmean, const double *gvar,
                                   double count, cdt_bn_params p)
{
    int c = blockIdx.x;
    bn_normalise(out, mean, invstd, running_mean, running_var, x, gamma, beta, c, gmean[c],
                 gvar[c], count, p);
}

/* sums[c] = sum dout, sums[C + c] = sum dout xhat. */
static __global__ void bn_bwd_sums(double *sums, const float *dout, const float *x,
                                   const float *mean, const float *invstd, cdt_bn_params p)
{
    __shared__ double sh[CU_THREADS];
    int c = blockIdx.x;
    double sd, sdx;
    bn_grad_sums(&sd, &sdx, dout, x, c, mean[c], invstd[c], sh, p);
    if (threadIdx.x) return;
    sums[c] = sd;
    sums[p.c + c] = sdx;
}

/* bn_bwd's dx with the whole batch's sums and count; dgamma, dbeta take
 * this process's. */
static __global__ void bn_bwd_with(float *dx, float *dgamma, float *dbeta, const double *local,
                                   const double *global, double count, const float *dout,
                                   const float *x, const float *mean, const float *invstd,
                                   const float *gamma, cdt_bn_params p)
{
    int c = blockIdx.x;
    bn_grad_dx(dx, dout, x, c, mean[c], invstd[c], gamma[c], global[c], global[p.c + c], count, p);
    if (threadIdx.x) return;
    dbeta[c] += (float)local[c];
    dgamma[c] += (float)local[p.c + c];
}

extern "C" int cdt_batchnorm_sums_cuda(cdt_cuda_ctx *ctx, double *sum, const float *x,
                                       const double *center, const cdt_bn_params *p)
{
    if (p->c <= 0) return 0;
    bn_sums<<<p->c, CU_THREADS, 0, ctx->stream>>>(sum, x, center, *p); // zeros for no values
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_batchnorm_forward_with_cuda(cdt_cuda_ctx *ctx, float *out, float *mean,
                                               float *invstd, float *running_mean,
                                               float *running_var, const float *x,
                                               const float *gamma, const float *beta,
                                               const double *gmean, const double *gvar,
                                               double count, const cdt_bn_params *p)
{
    if (!(count > 1)) return CDT_EINVAL; // the CPU asserts; PyTorch refuses
    if (p->c <= 0) return 0;
    bn_fwd_with<<<p->c, CU_THREADS, 0, ctx->stream>>>(out, mean, invstd, running_mean,
                                                      running_var, x, gamma, beta, gmean, gvar,
                                                      count, *p);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_batchnorm_backward_sums_cuda(cdt_cuda_ctx *ctx, double *sums,
                                                const float *dout, const float *x,
                                                const float *mean, const float *invstd,
                                                const cdt_bn_params *p)
{
    if (p->c <= 0) return 0;
    bn_bwd_sums<<<p->c, CU_THREADS, 0, ctx->stream>>>(sums, dout, x, mean, invstd, *p);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_batchnorm_backward_with_cuda(cdt_cuda_ctx *ctx, float *dx, float *dgamma,
                                                float *dbeta, const double *local,
                                                const double *global, double count,
                                                const float *dout, const float *x,
                                                const float *mean, const float *invstd,
                                                const float *gamma, const cdt_bn_params *p)
{
    if (p->c <= 0) return 0;
    bn_bwd_with<<<p->c, CU_THREADS, 0, ctx->stream>>>(dx, dgamma, dbeta, local, global, count,
                                                      dout, x, mean, invstd, gamma, *p);
    CU_LAUNCHED(ctx);
    return 0;
}

/* The CUDA table's entry (nn/backend.h): training or eval mode by a->train. */
static int bn_fwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_bn_params *p = (const cdt_bn_params *)a->p;
    if (a->train)
        return cdt_batchnorm_forward_cuda((cdt_cuda_ctx *)ctx, a->out, a->save, a->save + p->c, a->rm, a->rv,
                                          a->x, a->w, a->b, p);
    return cdt_batchnorm_forward_eval_cuda((cdt_cuda_ctx *)ctx, a->out, a->x, a->w, a->b, a->rm, a->rv, p);
}

static int bn_bwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_bn_params *p = (const cdt_bn_params *)a->p;
    return cdt_batchnorm_backward_cuda((cdt_cuda_ctx *)ctx, a->dx, a->dw, a->db, a->dout, a->x, a->save,
                                       a->save + p->c, a->w, p);
}

const cdt_layer_i cdt_batchnorm_layer_cuda = {"batchnorm", NULL, bn_fwd, bn_bwd};
