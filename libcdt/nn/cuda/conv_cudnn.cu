/* conv_cudnn.cu: the second convolution path of the CUDA library: cuDNN's
 * convolutions, used by conv2d.cu's two entry points when libcudnn.so.9
 * loads at run time (dlopen: the library needs no cuDNN to build or to
 * run; CDT_CUDA_CONV=gemm keeps the im2col + cuBLAS path, =cudnn insists
 * on this one). Rules kept from the gemm path: dx is written (beta 0), dw
 * accumulates (beta 1), the workspace is the caller's scratch (the
 * fastest algorithm cuDNN's heuristics offer that fits in it and is
 * deterministic, so runs repeat), nothing is allocated per call. Math: fp32
 * forbids tensor cores (CUDNN_FMA_MATH); tf32 allows them; bf16 also runs
 * as tf32 here (cuDNN has no bf16 path for fp32 tensors). The CPU
 * emulation has no cuDNN: there the gemm path is the only one. */
#include "cuda_internal.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CDT_EMU
int cu_dnn_open(cdt_cuda_ctx *ctx)
{
    const char *want = getenv("CDT_CUDA_CONV");
    if (want && !strcmp(want, "cudnn")) {
        snprintf(ctx->err, sizeof ctx->err, "CDT_CUDA_CONV=cudnn: no cuDNN in the CPU emulation");
        return CDT_ENOENT;
    }
    return 0;
}
void cu_dnn_close(cdt_cuda_ctx *ctx) { (void)ctx; }
int cu_dnn_conv_forward(cdt_cuda_ctx *, float *, const float *, const float *, float *,
                        const cdt_conv2d_params *) { return CDT_EINTERNAL; }
int cu_dnn_conv_backward(cdt_cuda_ctx *, float *, float *, const float *, const float *,
                         const float *, float *, const cdt_conv2d_params *) { return CDT_EINTERNAL; }
#else

#include <cudnn.h>
#include <dlfcn.h>

/* The cuDNN calls used, looked up by name; each pointer has the type of
 * the header's declaration. */
#define CU_DNN_FUNCS(X) \
    X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream) X(cudnnGetErrorString) \
    X(cudnnCreateTensorDescriptor) X(cudnnSetTensor4dDescriptor) X(cudnnDestroyTensorDescriptor) \
    X(cudnnCreateFilterDescriptor) X(cudnnSetFilter4dDescriptor) X(cudnnDestroyFilterDescriptor) \
    X(cudnnCreateConvolutionDescriptor) X(cudnnSetConvolution2dDescriptor) \
    X(cudnnSetConvolutionMathType) X(cudnnDestroyConvolutionDescriptor) \
    X(cudnnGetConvolutionForwardAlgorithm_v7) X(cudnnConvolutionForward) \
    X(cudnnGetConvolutionBackwardDataAlgorithm_v7) X(cudnnConvolutionBackwardData) \
    X(cudnnGetConvolutionBackwardFilterAlgorithm_v7) X(cudnnConvolutionBackwardFilter)

#define CU_DNN_ALGOS 16

struct cu_dnn {
    void *lib;
#define X(f) decltype(&::f) f;
    CU_DNN_FUNCS(X)
#undef X
    cudnnHandle_t h;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
};

static int dnn_fail(cdt_cuda_ctx *ctx, cudnnStatus_t s, const char *call)
{
    snprintf(ctx->err, sizeof ctx->err, "%s: %s", call,
             ctx->dnn && ctx->dnn->cudnnGetErrorString ? ctx->dnn->cudnnGetErrorString(s) : "cuDNN error");
    return s == CUDNN_STATUS_ALLOC_FAILED ? CDT_ENOMEM : CDT_EINTERNAL;
}

#define DNN(ctx, call) do { cudnnStatus_t s_ = (ctx)->dnn->call; \
    if (s_ != CUDNN_STATUS_SUCCESS) return dnn_fail((ctx), s_, #call); } while (0)

/* 0 with ctx->dnn set, 0 with it NULL (no cuDNN, or CDT_CUDA_CONV=gemm),
 * or CDT_ENOENT when CDT_CUDA_CONV=cudnn cannot be had. */
int cu_dnn_open(cdt_cuda_ctx *ctx)
{
    const char *want = getenv("CDT_CUDA_CONV");
    if (want && !*want) want = NULL;
    int forced = want && !strcmp(want, "cudnn");
    if (want && !forced && strcmp(want, "gemm")) {
        snprintf(ctx->err, sizeof ctx->err, "CDT_CUDA_CONV=%s: expected cudnn or gemm", want);
        return CDT_EINVAL;
    }
    if (want && !forced) return 0;
    void *lib = dlopen("libcudnn.so.9", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        if (!forced) return 0;
        snprintf(ctx->err, sizeof ctx->err, "CDT_CUDA_CONV=cudnn: %s", dlerror());
        return CDT_ENOENT;
    }
    cu_dnn *d = (cu_dnn *)calloc(1, sizeof *d);
    if (!d) return CDT_ENOMEM;
    d->lib = lib;
    const char *missing = NULL;
#define X(f) if (!missing && !(*(void **)&d->f = dlsym(lib, #f))) missing = #f;
    CU_DNN_FUNCS(X)
#undef X
    if (missing) { // a library without the legacy API: the gemm path
        free(d);
        if (!forced) return 0;
        snprintf(ctx->err, sizeof ctx->err, "CDT_CUDA_CONV=cudnn: libcudnn.so.9 lacks %s", missing);
        return CDT_ENOENT;
    }
    ctx->dnn = d;
    DNN(ctx, cudnnCreate(&d->h));
    DNN(ctx, cudnnSetStream(d->h, ctx->stream));
    DNN(ctx, cudnnCreateTensorDescriptor(&d->x));
    DNN(ctx, cudnnCreateTensorDescriptor(&d->y));
    DNN(ctx, cudnnCreateFilterDescriptor(&d->w));
    DNN(ctx, cudnnCreateConvolutionDescriptor(&d->conv));
    return 0;
}

void cu_dnn_close(cdt_cuda_ctx *ctx)
{
    cu_dnn *d = ctx->dnn;
    if (!d) return;
    if (d->conv) d->cudnnDestroyConvolutionDescriptor(d->conv);
    if (d->w) d->cudnnDestroyFilterDescriptor(d->w);
    if (d->y) d->cudnnDestroyTensorDescriptor(d->y);
    if (d->x) d->cudnnDestroyTensorDescriptor(d->x);
    if (d->h) d->cudnnDestroy(d->h);
    free(d); // the library stays mapped, as libcdt_cuda.so itself does
    ctx->dnn = NULL;
}

static int oh_of(const cdt_conv2d_params *p) { return (p->h + 2 * p->pad - p->kh) / p->stride + 1; }
static int ow_of(const cdt_conv2d_params *p) { return (p->w + 2 * p->pad - p->kw) / p->stride + 1; }

static int describe(cdt_cuda_ctx *ctx, const cdt_conv2d_params *p)
{
    cu_dnn *d = ctx->dnn;
    DNN(ctx, cudnnSetTensor4dDescriptor(d->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, p->n, p->c, p->h, p->w));
    DNN(ctx, cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, p->n, p->oc,
                                        oh_of(p), ow_of(p)));
    DNN(ctx, cudnnSetFilter4dDescriptor(d->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, p->oc, p->c, p->kh, p->kw));
    DNN(ctx, cudnnSetConvolution2dDescriptor(d->conv, p->pad, p->pad, p->stride, p->stride, 1, 1,
                                             CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    DNN(ctx, cudnnSetConvolutionMathType(d->conv, ctx->math == CDT_CUDA_FP32 ? CUDNN_FMA_MATH
                                                                             : CUDNN_DEFAULT_MATH));
    return 0;
}

/* The first (fastest, by cuDNN's heuristics) of n results that succeeded,
 * is deterministic and needs at most ws bytes; -1 if none. */
template <typename Perf> static int pick(const Perf *r, int n, size_t ws)
{
    for (int i = 0; i < n; i++)
        if (r[i].status == CUDNN_STATUS_SUCCESS && r[i].determinism == CUDNN_DETERMINISTIC &&
            r[i].memory <= ws)
            return i;
    return -1;
}

static int no_algo(cdt_cuda_ctx *ctx, const char *what)
{
    snprintf(ctx->err, sizeof ctx->err, "cuDNN has no deterministic %s algorithm within the scratch", what);
    return CDT_EINTERNAL;
}

int cu_dnn_conv_forward(cdt_cuda_ctx *ctx, float *out, const float *x, const float *w,
                        float *scratch, const cdt_conv2d_params *p)
{
    cu_dnn *d = ctx->dnn;
    size_t ws = cdt_conv2d_scratch_cuda(p) * sizeof(float);
    int rc, n = 0;
    if ((rc = describe(ctx, p)) < 0) return rc;
    cudnnConvolutionFwdAlgoPerf_t r[CU_DNN_ALGOS];
    DNN(ctx, cudnnGetConvolutionForwardAlgorithm_v7(d->h, d->x, d->w, d->conv, d->y, CU_DNN_ALGOS, &n, r));
    int i = pick(r, n, ws);
    if (i < 0) return no_algo(ctx, "forward");
    const float one = 1, zero = 0;
    DNN(ctx, cudnnConvolutionForward(d->h, &one, d->x, x, d->w, w, d->conv, r[i].algo, scratch,
                                     r[i].memory, &zero, d->y, out));
    return 0;
}

int cu_dnn_conv_backward(cdt_cuda_ctx *ctx, float *dx, float *dw, const float *dout,
                         const float *x, const float *w, float *scratch, const cdt_conv2d_params *p)
{
    cu_dnn *d = ctx->dnn;
    size_t ws = cdt_conv2d_scratch_cuda(p) * sizeof(float);
    int rc, n = 0;
    const float one = 1, zero = 0;
    if ((rc = describe(ctx, p)) < 0) return rc;
    cudnnConvolutionBwdFilterAlgoPerf_t rf[CU_DNN_ALGOS];
    DNN(ctx, cudnnGetConvolutionBackwardFilterAlgorithm_v7(d->h, d->x, d->y, d->conv, d->w,
                                                           CU_DNN_ALGOS, &n, rf));
    int i = pick(rf, n, ws);
    if (i < 0) return no_algo(ctx, "filter gradient");
    DNN(ctx, cudnnConvolutionBackwardFilter(d->h, &one, d->x, x, d->y, dout, d->conv, rf[i].algo,
                                            scratch, rf[i].memory, &one, d->w, dw));
    if (!dx) return 0;
    cudnnConvolutionBwdDataAlgoPerf_t rd[CU_DNN_ALGOS];
    DNN(ctx, cudnnGetConvolutionBackwardDataAlgorithm_v7(d->h, d->w, d->y, d->conv, d->x,
                                                         CU_DNN_ALGOS, &n, rd));
    if ((i = pick(rd, n, ws)) < 0) return no_algo(ctx, "input gradient");
    DNN(ctx, cudnnConvolutionBackwardData(d->h, &one, d->w, w, d->y, dout, d->conv, rd[i].algo,
                                          scratch, rd[i].memory, &zero, d->x, dx));
    return 0;
}
#endif
