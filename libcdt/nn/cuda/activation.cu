/* activation.cu: the twins of nn/cpu/activation.c (ReLU, sigmoid, residual add)
 * and of the trainer's u8 -> float view scaling. One grid-stride kernel
 * each; the expressions are the CPU's, so NaN passes ReLU as it does there
 * (and as in PyTorch). */
#include "cuda_internal.cuh"
#include "nn/backend.h"

static __global__ void relu_fwd(float *out, const float *x, size_t n) // (n), (n)
{
    CU_FOR(i, n) out[i] = x[i] < 0 ? 0 : x[i];
}

static __global__ void relu_bwd(float *dx, const float *dout, const float *out, size_t n)
{
    CU_FOR(i, n) dx[i] = out[i] > 0 ? dout[i] : 0;
}

static __global__ void sigmoid_fwd(float *out, const float *x, size_t n)
{
    CU_FOR(i, n) out[i] = 1 / (1 + expf(-x[i]));
}

static __global__ void sigmoid_bwd(float *dx, const float *dout, const float *out, size_t n)
{
    CU_FOR(i, n) dx[i] = dout[i] * out[i] * (1 - out[i]);
}

static __global__ void add_fwd(float *out, const float *a, const float *b, size_t n)
{
    CU_FOR(i, n) out[i] = a[i] + b[i];
}

extern "C" int cdt_relu_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x, size_t n)
{
    if (!n) return 0;
    relu_fwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(out, x, n);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_relu_backward_cuda(cdt_cuda_ctx *ctx, float *dx, const float *dout,
                                      const float *out, size_t n)
{
    if (!n) return 0;
    relu_bwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(dx, dout, out, n);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_sigmoid_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x, size_t n)
{
    if (!n) return 0;
    sigmoid_fwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(out, x, n);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_sigmoid_backward_cuda(cdt_cuda_ctx *ctx, float *dx, const float *dout,
                                         const float *out, size_t n)
{
    if (!n) return 0;
    sigmoid_bwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(dx, dout, out, n);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_add_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *a,
                                    const float *b, size_t n)
{
    if (!n) return 0;
    add_fwd<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(out, a, b, n);
    CU_LAUNCHED(ctx);
    return 0;
}

/* Element i of the 2N images, read in the order they lie in x; ToTensor's
 * value of cdt_nn.h, as on the CPU. */
static __global__ void scale_views(float *v0, float *v1, const uint8_t *x, size_t n, size_t img)
{
    CU_FOR(i, 2 * n * img) {
        size_t pair = i / (2 * img), r = i % (2 * img);
        float *d = r < img ? v0 : v1;
        d[pair * img + r % img] = cdt_pixel_to_float(x[i]);
    }
}

extern "C" int cdt_scale_views_cuda(cdt_cuda_ctx *ctx, float *v0, float *v1,
                                    const uint8_t *x, size_t n, size_t img)
{
    if (!n || !img) return 0;
    scale_views<<<cu_blocks(2 * n * img), CU_THREADS, 0, ctx->stream>>>(v0, v1, x, n, img);
    CU_LAUNCHED(ctx);
    return 0;
}

/* The CUDA table's entry (nn/backend.h). */
static int sigmoid_fwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_sigmoid_forward_cuda((cdt_cuda_ctx *)ctx, a->out, a->x, a->numel);
}

static int sigmoid_bwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_sigmoid_backward_cuda((cdt_cuda_ctx *)ctx, a->dx, a->dout, a->out, a->numel);
}

const cdt_layer_i cdt_sigmoid_layer_cuda = {"sigmoid", NULL, sigmoid_fwd, sigmoid_bwd};
