/* emu.cpp: the CPU stand-ins declared in emu_cuda.h. */
#include "emu_cuda.h"

#include <barrier>
#include <cblas.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

/* One block's barriers: the block's and one per warp (shuffles). */
struct emu_block {
    std::barrier<> all;
    std::vector<std::unique_ptr<std::barrier<>>> warp;
    double lanes[32][32];
    explicit emu_block(unsigned n) : all((std::ptrdiff_t)n)
    {
        for (unsigned w = 0; w < (n + 31) / 32; w++)
            warp.emplace_back(new std::barrier<>(n - w * 32 < 32 ? n - w * 32 : 32));
    }
};
static thread_local emu_block *cur;
static cudaError_t last_error = cudaSuccess;

void __syncthreads() { cur->all.arrive_and_wait(); }

/* Every lane posts its value, then reads its partner's. */
static double shfl(double v, int src)
{
    unsigned w = threadIdx.x / 32, lane = threadIdx.x % 32;
    cur->lanes[w][lane] = v;
    cur->warp[w]->arrive_and_wait();
    double r = cur->lanes[w][src];
    cur->warp[w]->arrive_and_wait();
    return r;
}

double __shfl_xor_sync(unsigned mask, double v, int lane_mask)
{
    (void)mask;
    return shfl(v, (int)(threadIdx.x % 32) ^ lane_mask);
}

double __shfl_down_sync(unsigned mask, double v, int delta)
{
    (void)mask;
    int lane = (int)(threadIdx.x % 32);
    return shfl(v, lane + delta < 32 ? lane + delta : lane);
}

/* One thread per thread of a block, alive for the whole launch: blocks run
 * one after another, each with fresh barriers made between two steps. */
void emu_launch(dim3 grid, dim3 block, size_t shmem, cudaStream_t s,
                const std::function<void()> &body)
{
    (void)s; (void)shmem;
    if (grid.x < 1 || block.x < 1 || block.x > 1024 || grid.y != 1 || block.y != 1) {
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    gridDim = grid;
    blockDim = block;
    std::barrier<> step((std::ptrdiff_t)block.x);
    std::unique_ptr<emu_block> eb;
    std::vector<std::thread> th;
    for (unsigned t = 0; t < block.x; t++)
        th.emplace_back([&, t] {
            for (unsigned b = 0; b < grid.x; b++) {
                if (t == 0) eb.reset(new emu_block(block.x));
                step.arrive_and_wait();
                threadIdx = dim3(t);
                blockIdx = dim3(b);
                cur = eb.get();
                body();
                // an exited thread no longer holds back the others, as on a GPU
                cur->all.arrive_and_drop();
                cur->warp[t / 32]->arrive_and_drop();
                step.arrive_and_wait();
            }
        });
    for (auto &t : th) t.join();
}

cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d)
{
    (void)d;
    snprintf(p->name, sizeof p->name, "CPU emulation (not a GPU)");
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned f)
{
    (void)f;
    *s = (cudaStream_t)malloc(1);
    return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) { free(s); return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t s) { (void)s; return cudaSuccess; }
/* Fresh memory holds garbage on a GPU too: fill it so nothing reads 0 by luck. */
cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = malloc(bytes ? bytes : 1);
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0x5a, bytes);
    return cudaSuccess;
}
cudaError_t cudaFree(void *p) { free(p); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k, cudaStream_t st)
{
    (void)k; (void)st;
    memcpy(d, s, n);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t s)
{
    (void)s;
    memset(d, v, n);
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
const char *cudaGetErrorString(cudaError_t e) { return e ? "emulated CUDA error" : "no error"; }

cublasStatus_t cublasCreate(cublasHandle_t *h) { *h = (cublasHandle_t)malloc(1); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { free(h); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) { (void)h; (void)s; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void *w, size_t n)
{
    (void)h; (void)w; (void)n;
    return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s) { return s ? "emulated cuBLAS error" : "success"; }

/* The tensor-core modes round the inputs' mantissas to 10 (tf32) or 7
 * (bf16) bits, to nearest even; accumulation stays fp32. */
static void round_mantissa(float *x, size_t n, int bits)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        uint32_t drop = 23 - bits, half = 1u << (drop - 1), low = u & ((1u << drop) - 1);
        u &= ~((1u << drop) - 1);
        if (low > half || (low == half && (u >> drop & 1))) u += 1u << drop;
        memcpy(&x[i], &u, 4);
    }
}

static float *rounded_copy(const float *x, size_t n, int bits)
{
    float *c = (float *)malloc(n * sizeof *c);
    memcpy(c, x, n * sizeof *c);
    if (bits < 23) round_mantissa(c, n, bits);
    return c;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                            int m, int n, int k, const void *alpha, const void *a,
                            cudaDataType at, int lda, const void *b, cudaDataType bt, int ldb,
                            const void *beta, void *c, cudaDataType ct, int ldc,
                            cublasComputeType_t comp, cublasGemmAlgo_t algo)
{
    (void)h; (void)at; (void)bt; (void)ct; (void)algo;
    int bits = comp == CUBLAS_COMPUTE_32F_FAST_TF32 ? 10 : comp == CUBLAS_COMPUTE_32F_FAST_16BF ? 7 : 23;
    // column-major A is (lda, ta ? m : k), B is (ldb, tb ? k : n)
    size_t na = (size_t)lda * (ta ? m : k), nb = (size_t)ldb * (tb ? k : n);
    if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldc < m) return CUBLAS_STATUS_INVALID_VALUE;
    float *ra = rounded_copy((const float *)a, na, bits), *rb = rounded_copy((const float *)b, nb, bits);
    cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, *(const float *)alpha, ra, lda, rb, ldb, *(const float *)beta,
                (float *)c, ldc);
    free(ra);
    free(rb);
    return CUBLAS_STATUS_SUCCESS;
}
