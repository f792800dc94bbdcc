/* adam.cu: the twins of nn/cpu/adam.c: the Adam step and gradient-norm
 * clipping. The scalars are prepared on the host exactly as the CPU does,
 * so the per-element float arithmetic is the same. */
#include "cuda_internal.cuh"

#include <math.h>

static __global__ void adam_kernel(float *param, float *m, float *v, const float *grad,
                                   size_t n, float b1, float b2, float wd, float step,
                                   float bc2_sqrt, float eps)
{
    CU_FOR(i, n) {
        float g = grad[i] + wd * param[i];
        float mi = m[i] * b1 + (1 - b1) * g, vi = v[i] * b2 + (1 - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= step * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

extern "C" int cdt_adam_step_cuda(cdt_cuda_ctx *ctx, float *param, float *m, float *v,
                                  const float *grad, size_t n, long t, const cdt_adam_params *p)
{
    if (!n) return 0;
    float b1 = (float)p->beta1, b2 = (float)p->beta2, wd = (float)p->weight_decay;
    float step = (float)(p->lr / (1 - pow(p->beta1, (double)t)));
    float bc2_sqrt = (float)sqrt(1 - pow(p->beta2, (double)t)), eps = (float)p->eps;
    adam_kernel<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(param, m, v, grad, n, b1, b2,
                                                              wd, step, bc2_sqrt, eps);
    CU_LAUNCHED(ctx);
    return 0;
}

/* Stage 1: CU_REDUCE_BLOCKS partial sums of squares, in double. */
static __global__ void sumsq_partial(double *partial, const float *g, size_t n) // (B), (n)
{
    __shared__ double sh[CU_THREADS];
    double s = 0;
    CU_FOR(i, n) s += (double)g[i] * g[i];
    s = cu_block_sum(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

/* Stage 2: one block adds the partials and writes the norm. */
static __global__ void sumsq_final(double *norm, const double *partial, int parts)
{
    __shared__ double sh[CU_THREADS];
    double s = 0;
    for (int i = threadIdx.x; i < parts; i += blockDim.x) s += partial[i];
    s = cu_block_sum(s, sh);
    if (threadIdx.x == 0) *norm = sqrt(s);
}

/* Reads the norm on the device, so the step never waits on the host. */
static __global__ void clip_scale(float *g, size_t n, const double *norm, double max_norm)
{
    double coef = max_norm / (*norm + 1e-6);
    if (coef >= 1) return;
    CU_FOR(i, n) g[i] = (float)(g[i] * coef);
}

extern "C" int cdt_clip_grad_norm_cuda(cdt_cuda_ctx *ctx, double *norm, float *grad,
                                       size_t n, double max_norm)
{
    sumsq_partial<<<CU_REDUCE_BLOCKS, CU_THREADS, 0, ctx->stream>>>(ctx->partial, grad, n);
    CU_LAUNCHED(ctx);
    sumsq_final<<<1, CU_THREADS, 0, ctx->stream>>>(norm, ctx->partial, CU_REDUCE_BLOCKS);
    CU_LAUNCHED(ctx);
    if (!n) return 0;
    clip_scale<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(grad, n, norm, max_norm);
    CU_LAUNCHED(ctx);
    return 0;
}
