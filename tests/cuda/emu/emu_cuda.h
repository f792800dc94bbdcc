/* emu_cuda.h: just enough of the CUDA runtime, device built-ins and cuBLAS
 * to run libcdt/nn/cuda's kernels on the CPU, for checking their index
 * arithmetic, barriers and reductions where there is no GPU. NOT a GPU
 * test: timing, memory model, fp contraction and cuBLAS's own kernels are
 * not reproduced. Blocks run one after another; the threads of a block run
 * as real threads, so __syncthreads and warp shuffles are barriers. See
 * emu-check.sh. */
#ifndef CDT_EMU_CUDA_H
#define CDT_EMU_CUDA_H

/* Code with a part the emulation cannot run (cuDNN) tests this. */
#define CDT_EMU 1

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>

using std::isnan;

#define __global__
#define __device__
#define __host__
/* Blocks run one at a time, so a function-static array is one block's. */
#define __shared__ static

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

void __syncthreads();
double __shfl_xor_sync(unsigned mask, double v, int lane_mask);
double __shfl_down_sync(unsigned mask, double v, int delta);

typedef struct emu_stream *cudaStream_t;
void emu_launch(dim3 grid, dim3 block, size_t shmem, cudaStream_t s, const std::function<void()> &body);
/* For kernels whose threads never meet (emu.py decides): every thread of
 * every block in turn on the calling thread. */
void emu_launch_serial(dim3 grid, dim3 block, size_t shmem, cudaStream_t s,
                       const std::function<void()> &body);

typedef enum cudaError {
    cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9, cudaErrorInsufficientDriver = 35, cudaErrorNoDevice = 100
} cudaError_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
#define cudaStreamNonBlocking 1u
struct cudaDeviceProp { char name[256]; };

cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind k, cudaStream_t s);
cudaError_t cudaMemsetAsync(void *dst, int v, size_t bytes, cudaStream_t s);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);

typedef struct emu_blas *cublasHandle_t;
typedef enum { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_ALLOC_FAILED = 3,
               CUBLAS_STATUS_INVALID_VALUE = 7 } cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_16BF = 75,
               CUBLAS_COMPUTE_32F_FAST_TF32 = 77 } cublasComputeType_t;
typedef enum { CUDA_R_32F = 0 } cudaDataType;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;

cublasStatus_t cublasCreate(cublasHandle_t *h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s);
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *ws, size_t bytes);
const char *cublasGetStatusString(cublasStatus_t s);
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                            int m, int n, int k, const void *alpha, const void *a,
                            cudaDataType at, int lda, const void *b, cudaDataType bt, int ldb,
                            const void *beta, void *c, cudaDataType ct, int ldc,
                            cublasComputeType_t comp, cublasGemmAlgo_t algo);

#endif
