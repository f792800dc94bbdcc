/* ctx.cu: the CUDA context (stream, cuBLAS handle, workspaces), error
 * reporting, device memory helpers and the gemm seam. */
#include "cuda_internal.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cuBLAS on Hopper asks for 32 MiB of workspace; giving it our own keeps
 * its allocations out of the training loop. */
#define CU_BLAS_WS ((size_t)32 << 20)

static const char *cu_base(const char *file)
{
    const char *s = strrchr(file, '/');
    return s ? s + 1 : file;
}

int cu_fail(cdt_cuda_ctx *ctx, cudaError_t e, const char *call, const char *file, int line)
{
    if (ctx)
        snprintf(ctx->err, sizeof ctx->err, "%s: %s (%s:%d)", call,
                 cudaGetErrorString(e), cu_base(file), line);
    return e == cudaErrorMemoryAllocation ? CDT_ENOMEM : CDT_EINTERNAL;
}

int cu_fail(cdt_cuda_ctx *ctx, cublasStatus_t e, const char *call, const char *file, int line)
{
    if (ctx)
        snprintf(ctx->err, sizeof ctx->err, "%s: %s (%s:%d)", call,
                 cublasGetStatusString(e), cu_base(file), line);
    return e == CUBLAS_STATUS_ALLOC_FAILED ? CDT_ENOMEM : CDT_EINTERNAL;
}

extern "C" int cdt_cuda_device_count(int *count)
{
    *count = 0;
    cudaError_t e = cudaGetDeviceCount(count);
    // "no device" and "no driver" are answers here, not failures
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) {
        *count = 0;
        cudaGetLastError();
        return 0;
    }
    return e == cudaSuccess ? 0 : CDT_EINTERNAL;
}

static int ctx_init(cdt_cuda_ctx *ctx)
{
    cudaDeviceProp prop;
    CU_CHECK(ctx, cudaSetDevice(ctx->device));
    CU_CHECK(ctx, cudaGetDeviceProperties(&prop, ctx->device));
    snprintf(ctx->name, sizeof ctx->name, "%s", prop.name);
    CU_CHECK(ctx, cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    CU_CHECK(ctx, cublasCreate(&ctx->blas));
    // SetStream resets the workspace to cuBLAS's own pool: set it after
    CU_CHECK(ctx, cublasSetStream(ctx->blas, ctx->stream));
    CU_CHECK(ctx, cudaMalloc(&ctx->blas_ws, CU_BLAS_WS));
    CU_CHECK(ctx, cublasSetWorkspace(ctx->blas, ctx->blas_ws, CU_BLAS_WS));
    CU_CHECK(ctx, cudaMalloc((void **)&ctx->partial, CU_REDUCE_BLOCKS * sizeof(double)));
    int rc = cu_dnn_open(ctx);
    if (rc < 0) return rc;
    size_t len = strlen(ctx->name);
    snprintf(ctx->name + len, sizeof ctx->name - len, ", %s convolutions", ctx->dnn ? "cuDNN" : "gemm");
    return 0;
}

extern "C" int cdt_cuda_ctx_create(cdt_cuda_ctx **out, int device, int math)
{
    return cu_ctx_create(out, device, math, NULL, 0);
}

int cu_ctx_create(cdt_cuda_ctx **out, int device, int math, char *err, size_t errlen)
{
    int count, rc;
    *out = NULL;
    if ((rc = cdt_cuda_device_count(&count)) < 0) return rc;
    if (device < 0 || device >= count) return CDT_EINVAL;
    if (math < CDT_CUDA_FP32 || math > CDT_CUDA_BF16) return CDT_EINVAL;
    cdt_cuda_ctx *ctx = (cdt_cuda_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return CDT_ENOMEM;
    ctx->device = device;
    ctx->math = math;
    if ((rc = ctx_init(ctx)) < 0) {
        if (err) snprintf(err, errlen, "%s", ctx->err);
        cdt_cuda_ctx_destroy(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

extern "C" void cdt_cuda_ctx_destroy(cdt_cuda_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->stream) cudaStreamSynchronize(ctx->stream);
    cu_dnn_close(ctx);
    cu_nccl_close(ctx);
    if (ctx->blas) cublasDestroy(ctx->blas);
    cudaFree(ctx->blas_ws);
    cudaFree(ctx->partial);
    if (ctx->stream) cudaStreamDestroy(ctx->stream);
    free(ctx);
}

extern "C" int cdt_cuda_set_math(cdt_cuda_ctx *ctx, int math)
{
    if (math < CDT_CUDA_FP32 || math > CDT_CUDA_BF16) return CDT_EINVAL;
    ctx->math = math;
    return 0;
}

extern "C" const char *cdt_cuda_errmsg(const cdt_cuda_ctx *ctx) { return ctx->err; }
extern "C" const char *cdt_cuda_device_name(const cdt_cuda_ctx *ctx) { return ctx->name; }

extern "C" int cdt_cuda_alloc(cdt_cuda_ctx *ctx, void **dptr, size_t bytes)
{
    *dptr = NULL;
    CU_CHECK(ctx, cudaMalloc(dptr, bytes));
    return 0;
}

extern "C" void cdt_cuda_free(cdt_cuda_ctx *ctx, void *dptr)
{
    (void)ctx;
    if (dptr) cudaFree(dptr);
}

extern "C" int cdt_cuda_upload(cdt_cuda_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    CU_CHECK(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
    return 0;
}

extern "C" int cdt_cuda_download(cdt_cuda_ctx *ctx, void *host_dst, const void *src, size_t bytes)
{
    CU_CHECK(ctx, cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
    CU_CHECK(ctx, cudaStreamSynchronize(ctx->stream));
    return 0;
}

extern "C" int cdt_cuda_memset(cdt_cuda_ctx *ctx, void *dst, int byte, size_t bytes)
{
    CU_CHECK(ctx, cudaMemsetAsync(dst, byte, bytes, ctx->stream));
    return 0;
}

extern "C" int cdt_cuda_sync(cdt_cuda_ctx *ctx)
{
    CU_CHECK(ctx, cudaStreamSynchronize(ctx->stream));
    return 0;
}

/* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the
 * same flags with the operands swapped. */
int cu_gemm(cdt_cuda_ctx *ctx, int ta, int tb, int m, int n, int k, float alpha,
            const float *a, int lda, const float *b, int ldb,
            float beta, float *c, int ldc)
{
    cublasComputeType_t ct = ctx->math == CDT_CUDA_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                           : ctx->math == CDT_CUDA_BF16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                           : CUBLAS_COMPUTE_32F;
    cublasOperation_t oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CU_CHECK(ctx, cublasGemmEx(ctx->blas, ob, oa, n, m, k, &alpha, b, CUDA_R_32F, ldb,
                               a, CUDA_R_32F, lda, &beta, c, CUDA_R_32F, ldc, ct,
                               CUBLAS_GEMM_DEFAULT));
    return 0;
}
