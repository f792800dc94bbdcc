/* pool.cu: the twins of nn/cpu/pool.c: max pooling with argmax, and global
 * average pooling. Backward passes gather (one thread per input pixel)
 * instead of scattering with atomics, adding in the CPU's order, so the
 * results do not depend on scheduling. */
#include "cuda_internal.cuh"
#include "nn/backend.h"

static __host__ __device__ inline int pool_out(int in, int k, int stride, int pad)
{
    return (in + 2 * pad - k) / stride + 1;
}

/* One thread per output; the window logic is the CPU's, tie and NaN rules
 * included (the first maximum wins; a NaN wins over numbers). */
static __global__ void maxpool_fwd(float *out, int32_t *argmax, const float *x,
                                   cdt_maxpool_params p, int oh, int ow)
{
    CU_FOR(o, (size_t)p.n * p.c * oh * ow) {
        int ox = (int)(o % ow), oy = (int)(o / ow % oh);
        const float *xp = x + o / ((size_t)oh * ow) * p.h * p.w;
        int best = -1;
        for (int i = 0; i < p.k; i++) {
            int y = oy * p.stride - p.pad + i;
            if (y < 0 || y >= p.h) continue;
            for (int j = 0; j < p.k; j++) {
                int xx = ox * p.stride - p.pad + j;
                if (xx < 0 || xx >= p.w) continue;
                int at = y * p.w + xx;
                if (best < 0 || xp[at] > xp[best] || isnan(xp[at])) best = at;
            }
        }
        out[o] = xp[best];
        argmax[o] = best;
    }
}

/* The outputs whose windows hold input coordinate y: oy in [*lo, *hi]. */
static __device__ inline void pool_cover(int *lo, int *hi, int y, int k, int stride,
                                         int pad, int n_out)
{
    int a = y + pad - k + 1, b = (y + pad) / stride;
    *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
    *hi = b < n_out - 1 ? b : n_out - 1;
}

/* The CPU adds dout in increasing output order onto a zeroed plane; the
 * same order here gives the same sums. */
static __global__ void maxpool_bwd(float *dx, const float *dout, const int32_t *argmax,
                                   cdt_maxpool_params p, int oh, int ow)
{
    CU_FOR(i, (size_t)p.n * p.c * p.h * p.w) {
        int px = (int)(i % p.w), py = (int)(i / p.w % p.h), at = py * p.w + px;
        size_t base = i / ((size_t)p.h * p.w) * oh * ow;
        int y0, y1, x0, x1;
        pool_cover(&y0, &y1, py, p.k, p.stride, p.pad, oh);
        pool_cover(&x0, &x1, px, p.k, p.stride, p.pad, ow);
        float s = 0;
        for (int oy = y0; oy <= y1; oy++)
            for (int ox = x0; ox <= x1; ox++) {
                size_t o = base + (size_t)oy * ow + ox;
                if (argmax[o] == at) s += dout[o];
            }
        dx[i] = s;
    }
}

extern "C" int cdt_maxpool_forward_cuda(cdt_cuda_ctx *ctx, float *out, int32_t *argmax,
                                        const float *x, const cdt_maxpool_params *p)
{
    int oh = pool_out(p->h, p->k, p->stride, p->pad), ow = pool_out(p->w, p->k, p->stride, p->pad);
    size_t n = (size_t)p->n * p->c * oh * ow;
    if (!n) return 0;
    maxpool_fwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(out, argmax, x, *p, oh, ow);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_maxpool_backward_cuda(cdt_cuda_ctx *ctx, float *dx, const float *dout,
                                         const int32_t *argmax, const cdt_maxpool_params *p)
{
    int oh = pool_out(p->h, p->k, p->stride, p->pad), ow = pool_out(p->w, p->k, p->stride, p->pad);
    size_t n = (size_t)p->n * p->c * p->h * p->w;
    if (!n) return 0;
    maxpool_bwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(dx, dout, argmax, *p, oh, ow);
    CU_LAUNCHED(ctx);
    return 0;
}

/* One warp per plane, summing in double as the CPU does. */
static __global__ void avgpool_fwd(float *out, const float *x, size_t planes, int hw)
{
    size_t warp = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    for (; warp < planes; warp += (size_t)gridDim.x * blockDim.x / 32) {
        double s = 0;
        for (int i = lane; i < hw; i += 32) s += x[warp * hw + i];
        for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
        if (lane == 0) out[warp] = (float)(s / hw);
    }
}

static __global__ void avgpool_bwd(float *dx, const float *dout, size_t planes, int hw)
{
    CU_FOR(i, planes * hw) dx[i] = dout[i / hw] / hw;
}

extern "C" int cdt_avgpool_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x,
                                        int n, int c, int hw)
{
    size_t planes = (size_t)n * c;
    if (!planes) return 0;
    if (hw <= 0) return CDT_EINVAL;
    avgpool_fwd<<<cu_blocks(planes * 32), CU_THREADS, 0, ctx->stream>>>(out, x, planes, hw);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_avgpool_backward_cuda(cdt_cuda_ctx *ctx, float *dx, const float *dout,
                                         int n, int c, int hw)
{
    size_t planes = (size_t)n * c;
    if (!planes || hw <= 0) return 0;
    avgpool_bwd<<<cu_blocks(planes * hw), CU_THREADS, 0, ctx->stream>>>(dx, dout, planes, hw);
    CU_LAUNCHED(ctx);
    return 0;
}

/* The CUDA table's entries (nn/backend.h). */
static int maxpool_fwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_maxpool_forward_cuda((cdt_cuda_ctx *)ctx, a->out, a->index, a->x,
                                    (const cdt_maxpool_params *)a->p);
}

static int maxpool_bwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_maxpool_backward_cuda((cdt_cuda_ctx *)ctx, a->dx, a->dout, a->index,
                                     (const cdt_maxpool_params *)a->p);
}

const cdt_layer_i cdt_maxpool_layer_cuda = {"maxpool", NULL, maxpool_fwd, maxpool_bwd};

static int avgpool_fwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_avgpool_params *p = (const cdt_avgpool_params *)a->p;
    return cdt_avgpool_forward_cuda((cdt_cuda_ctx *)ctx, a->out, a->x, p->n, p->c, p->hw);
}

static int avgpool_bwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_avgpool_params *p = (const cdt_avgpool_params *)a->p;
    return cdt_avgpool_backward_cuda((cdt_cuda_ctx *)ctx, a->dx, a->dout, p->n, p->c, p->hw);
}

const cdt_layer_i cdt_avgpool_layer_cuda = {"avgpool", NULL, avgpool_fwd, avgpool_bwd};
