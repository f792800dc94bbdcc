/* entropy.cu: the twin of nn/cpu/entropy.c, the normalised binary entropy of
 * the feature heads. The sum is one block's, in double, in a fixed order:
 * n is the heads' outputs of one batch (N*F, thousands), too few to need
 * a two-stage reduction. */
#include "cuda_internal.cuh"

#define ENT_EPS 1e-12
#ifndef ENT_THREADS
#define ENT_THREADS 1024
#endif

static __global__ void entropy_fwd(float *h, const float *p, size_t n) // (1), (n)
{
    __shared__ double sh[ENT_THREADS];
    double s = 0;
    for (size_t i = threadIdx.x; i < n; i += blockDim.x) {
        double q = p[i];
        s -= q * log(q + ENT_EPS) + (1 - q) * log(1 - q + ENT_EPS);
    }
    s = cu_block_sum(s, sh);
    if (threadIdx.x == 0) *h = (float)(s / (n * log(2.0)));
}

static __global__ void entropy_bwd(float *dp, double k, const float *p, size_t n)
{
    CU_FOR(i, n) {
        double q = p[i];
        dp[i] = (float)(k * (log(q + ENT_EPS) + q / (q + ENT_EPS) -
                             log(1 - q + ENT_EPS) - (1 - q) / (1 - q + ENT_EPS)));
    }
}

extern "C" int cdt_entropy_forward_cuda(cdt_cuda_ctx *ctx, float *h, const float *p, size_t n)
{
    if (!n) return CDT_EINVAL; // the mean of nothing (the CPU divides by 0)
    entropy_fwd<<<1, ENT_THREADS, 0, ctx->stream>>>(h, p, n);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_entropy_backward_cuda(cdt_cuda_ctx *ctx, float *dp, float dh,
                                         const float *p, size_t n)
{
    if (!n) return 0;
    double k = -(double)dh / (n * log(2.0));
    entropy_bwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(dp, k, p, n);
    CU_LAUNCHED(ctx);
    return 0;
}
