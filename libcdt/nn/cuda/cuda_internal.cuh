/* cuda_internal.cuh: what the .cu files of libcdt_cuda share: the context,
 * the one checking macro, the row-major gemm seam and launch helpers.
 * Not installed; the public API is cdt_cuda.h. */
#ifndef CDT_CUDA_INTERNAL_CUH
#define CDT_CUDA_INTERNAL_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "cdt_core.h"
#include "cdt_cuda.h"

/* Threads per block of the plain elementwise and reduction kernels (a
 * power of two, at least a warp). The emulated library that the tools'
 * device tests run on (tests/cuda/emu-check.sh) sets 32: a CPU thread per
 * GPU thread makes every block barrier cost that many context switches. */
#ifndef CU_THREADS
#define CU_THREADS 256
#endif
/* Blocks of the grid-stride elementwise kernels are capped here: beyond a
 * few waves of 132 SMs more blocks only add scheduling. (The CPU emulation
 * in tests/cuda/emu sets it low, which also exercises the strides.) */
#ifndef CU_MAX_BLOCKS
#define CU_MAX_BLOCKS 4096
#endif
/* Blocks of the first stage of a fixed-order reduction: fixed (not taken
 * from the device) so that a sum comes out the same on every GPU. */
#ifndef CU_REDUCE_BLOCKS
#define CU_REDUCE_BLOCKS 256
#endif

struct cu_dnn;
struct cu_nccl;

struct cdt_cuda_ctx {
    int device, math;
    struct cu_dnn *dnn;     // cuDNN's convolutions (conv_cudnn.cu); NULL: im2col + gemm
    struct cu_nccl *nccl;   // collectives between ranks (nccl.cu); NULL until first asked
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;          // cuBLAS workspace, CU_BLAS_WS bytes
    double *partial;        // (CU_REDUCE_BLOCKS) first-stage sums
    char name[256];
    char err[256];
};

/* Records a failed CUDA or cuBLAS call in ctx->err and maps it onto a CDT_E*
 * code; one overload per status type, so one macro checks both. */
int cu_fail(cdt_cuda_ctx *ctx, cudaError_t e, const char *call, const char *file, int line);
int cu_fail(cdt_cuda_ctx *ctx, cublasStatus_t e, const char *call, const char *file, int line);
static inline bool cu_ok(cudaError_t e) { return e == cudaSuccess; }
static inline bool cu_ok(cublasStatus_t e) { return e == CUBLAS_STATUS_SUCCESS; }

#define CU_CHECK(ctx, call) do { auto e_ = (call); \
    if (!cu_ok(e_)) return cu_fail((ctx), e_, #call, __FILE__, __LINE__); } while (0)
/* After every launch: a bad configuration is reported here, a fault in the
 * kernel only at a later synchronising call. */
#define CU_LAUNCHED(ctx) CU_CHECK(ctx, cudaGetLastError())

/* C (M,N) = alpha op(A) op(B) + beta C over row-major matrices, as
 * cblas_sgemm(CblasRowMajor, ...): the one seam to cuBLAS, in the math mode
 * of the context. ta/tb: 0 no transpose, 1 transpose. */
/* nccl.cu: collectives over device memory between data-parallel ranks. */
int cu_nccl_load(cdt_cuda_ctx *ctx);
void cu_nccl_close(cdt_cuda_ctx *ctx);
int cu_coll_id(cdt_cuda_ctx *ctx, void *id, size_t bytes);
int cu_coll_init(cdt_cuda_ctx *ctx, const void *id, int rank, int world);
int cu_coll_allgather(cdt_cuda_ctx *ctx, void *dst, const void *src, size_t bytes);
int cu_coll_sum_f32(cdt_cuda_ctx *ctx, float *x, size_t n);
int cu_coll_sum_f64(cdt_cuda_ctx *ctx, double *x, size_t n, double scale);

int cu_gemm(cdt_cuda_ctx *ctx, int ta, int tb, int m, int n, int k, float alpha,
            const float *a, int lda, const float *b, int ldb,
            float beta, float *c, int ldc);

/* cdt_cuda_ctx_create, with the reason of a failure in err (one line). */
int cu_ctx_create(cdt_cuda_ctx **out, int device, int math, char *err, size_t errlen);

/* cuDNN (conv_cudnn.cu): open sets ctx->dnn when libcudnn.so.9 loads and
 * CDT_CUDA_CONV does not say gemm (0 either way; < 0 when CDT_CUDA_CONV=
 * cudnn cannot be had); the conv entry points of conv2d.cu hand over to
 * the two convolutions below whenever ctx->dnn is set. */
int cu_dnn_open(cdt_cuda_ctx *ctx);
void cu_dnn_close(cdt_cuda_ctx *ctx);
int cu_dnn_conv_forward(cdt_cuda_ctx *ctx, float *out, const float *x, const float *w,
                        float *scratch, const cdt_conv2d_params *p);
int cu_dnn_conv_backward(cdt_cuda_ctx *ctx, float *dx, float *dw, const float *dout,
                         const float *x, const float *w, float *scratch, const cdt_conv2d_params *p);

static inline unsigned cu_blocks(size_t n)
{
    size_t b = (n + CU_THREADS - 1) / CU_THREADS;
    if (b < 1) b = 1;
    return b > CU_MAX_BLOCKS ? CU_MAX_BLOCKS : (unsigned)b;
}

/* Grid-stride loop over [0, n). */
#define CU_FOR(i, n) for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; \
                          i < (n); i += (size_t)gridDim.x * blockDim.x)

/* Sum of v over the block (blockDim.x a power of two <= 1024), in a fixed
 * tree order; every thread gets the result. sh holds blockDim.x doubles. */
static __device__ inline double cu_block_sum(double v, double *sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads(); // sh may be reused right after
    return r;
}

#endif
