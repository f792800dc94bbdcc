/* emu.cpp: the CPU stand-ins declared in emu_cuda.h. */
#include "emu_cuda.h"

#include <barrier>
#include <condition_variable>
#include <mutex>
#include <cblas.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

static cudaError_t last_error = cudaSuccess;

/* A configuration a GPU would refuse is an error of the launch; else the
 * launch's dimensions become the kernel's blockDim and gridDim. */
static bool launch_ok(dim3 grid, dim3 block)
{
    if (grid.x < 1 || block.x < 1 || block.x > 1024 || grid.y != 1 || block.y != 1) {
        last_error = cudaErrorInvalidConfiguration;
        return false;
    }
    gridDim = grid;
    blockDim = block;
    return true;
}

#ifdef EMU_FIBERS
/* Fibers (-DEMU_FIBERS, the drop-in library's build): a block's threads
 * as coroutines on the launching thread; a barrier switches to the next
 * one, which costs no system thread switch. The threaded form below is
 * kept for the op tests, which run under ASan (it does not follow
 * swapcontext) and once under TSan. */
#include <ucontext.h>

enum { FIB_RUN, FIB_WAIT_ALL, FIB_WAIT_WARP, FIB_DONE };
#define FIB_STACK (256 * 1024)

struct fib_block {
    unsigned n = 0, current = 0;
    std::vector<ucontext_t> ctx;
    std::vector<int> state;
    std::vector<std::unique_ptr<char[]>> stacks;
    ucontext_t sched;
    double lanes[32][32];
    const std::function<void()> *body = nullptr;
};
static thread_local fib_block *fb;

static void fib_wait(int why)
{
    fb->state[fb->current] = why;
    swapcontext(&fb->ctx[fb->current], &fb->sched);
}

static void fib_entry()
{
    (*fb->body)();
    fb->state[fb->current] = FIB_DONE; // then uc_link: back to the scheduler
}

void __syncthreads() { fib_wait(FIB_WAIT_ALL); }

static double shfl(double v, int src)
{
    unsigned w = threadIdx.x / 32, lane = threadIdx.x % 32;
    fb->lanes[w][lane] = v;
    fib_wait(FIB_WAIT_WARP);
    double r = fb->lanes[w][src];
    fib_wait(FIB_WAIT_WARP);
    return r;
}

/* Runs every fiber until it waits or ends; then opens the block barrier
 * when every live thread waits at it, else each warp whose live threads
 * all wait at its barrier (an exited thread holds nobody back, as on a
 * GPU). Nothing to open while some wait: a kernel that can never finish. */
static void fib_run_block(fib_block *b)
{
    for (unsigned t = 0; t < b->n; t++) {
        getcontext(&b->ctx[t]);
        b->ctx[t].uc_stack.ss_sp = b->stacks[t].get();
        b->ctx[t].uc_stack.ss_size = FIB_STACK;
        b->ctx[t].uc_link = &b->sched;
        makecontext(&b->ctx[t], fib_entry, 0);
        b->state[t] = FIB_RUN;
    }
    for (;;) {
        for (unsigned t = 0; t < b->n; t++) {
            if (b->state[t] != FIB_RUN) continue;
            b->current = t;
            threadIdx = dim3(t);
            swapcontext(&b->sched, &b->ctx[t]);
        }
        unsigned live = 0, at_all = 0;
        for (unsigned t = 0; t < b->n; t++) {
            live += b->state[t] != FIB_DONE;
            at_all += b->state[t] == FIB_WAIT_ALL;
        }
        if (!live) return;
        int opened = 0;
        if (at_all == live) {
            for (unsigned t = 0; t < b->n; t++)
                if (b->state[t] == FIB_WAIT_ALL) b->state[t] = FIB_RUN;
            opened = 1;
        }
        for (unsigned w = 0; !opened && w * 32 < b->n; w++) {
            unsigned lo = w * 32, hi = lo + 32 < b->n ? lo + 32 : b->n, wl = 0, wait = 0;
            for (unsigned t = lo; t < hi; t++) {
                wl += b->state[t] != FIB_DONE;
                wait += b->state[t] == FIB_WAIT_WARP;
            }
            if (!wl || wait != wl) continue;
            for (unsigned t = lo; t < hi; t++)
                if (b->state[t] == FIB_WAIT_WARP) b->state[t] = FIB_RUN;
            opened = 1;
        }
        if (!opened) {
            fprintf(stderr, "emu: the threads of a block wait at different barriers forever\n");
            abort();
        }
    }
}

void emu_launch(dim3 grid, dim3 block, size_t shmem, cudaStream_t s,
                const std::function<void()> &body)
{
    (void)s; (void)shmem;
    if (!launch_ok(grid, block)) return;
    static thread_local fib_block b;
    b.n = block.x;
    b.body = &body;
    b.ctx.resize(block.x);
    b.state.resize(block.x);
    while (b.stacks.size() < block.x) b.stacks.emplace_back(new char[FIB_STACK]);
    fib_block *saved = fb;
    fb = &b;
    for (unsigned i = 0; i < grid.x; i++) {
        blockIdx = dim3(i);
        fib_run_block(&b);
    }
    fb = saved;
}

#else
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

/* The threads that play a block's threads: made once, as many as the
 * largest block so far, and reused by every launch (making 256 threads a
 * launch made a training step take seconds). Worker id runs thread id of
 * every block of a launch; workers beyond the block size sit it out. */
struct emu_pool {
    std::mutex mu;
    std::condition_variable start, done;
    std::vector<std::thread> th;
    std::function<void(unsigned)> job;
    unsigned long gen = 0;
    unsigned active = 0, remaining = 0;
    bool quit = false;

    void worker(unsigned id)
    {
        unsigned long seen = 0;
        for (;;) {
            std::function<void(unsigned)> f;
            {
                std::unique_lock<std::mutex> l(mu);
                start.wait(l, [&] { return quit || gen != seen; });
                if (quit) return;
                seen = gen;
                if (id >= active) continue;
                f = job;
            }
            f(id);
            std::lock_guard<std::mutex> l(mu);
            if (--remaining == 0) done.notify_one();
        }
    }

    void run(unsigned n, const std::function<void(unsigned)> &f)
    {
        std::unique_lock<std::mutex> l(mu);
        while (th.size() < n) {
            unsigned id = (unsigned)th.size();
            th.emplace_back([this, id] { worker(id); });
        }
        job = f;
        active = remaining = n;
        gen++;
        start.notify_all();
        done.wait(l, [&] { return remaining == 0; });
    }

    ~emu_pool()
    {
        {
            std::lock_guard<std::mutex> l(mu);
            quit = true;
        }
        start.notify_all();
        for (auto &t : th) t.join();
    }
};
static emu_pool pool;

/* Blocks run one after another, each with fresh barriers made between two
 * steps. */
void emu_launch(dim3 grid, dim3 block, size_t shmem, cudaStream_t s,
                const std::function<void()> &body)
{
    (void)s; (void)shmem;
    if (!launch_ok(grid, block)) return;
    std::barrier<> step((std::ptrdiff_t)block.x);
    std::unique_ptr<emu_block> eb;
    pool.run(block.x, [&](unsigned t) {
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
}

#endif

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

void emu_launch_serial(dim3 grid, dim3 block, size_t shmem, cudaStream_t s,
                       const std::function<void()> &body)
{
    (void)s; (void)shmem;
    if (!launch_ok(grid, block)) return;
    for (unsigned b = 0; b < grid.x; b++)
        for (unsigned t = 0; t < block.x; t++) {
            threadIdx = dim3(t);
            blockIdx = dim3(b);
            body();
        }
}

/* EMU_CUDA_DEVICES=N pretends to have N devices (default 1), all the same
 * host memory: for the tests of ranks that each want a GPU of their own. */
static int emu_devices(void)
{
    const char *v = getenv("EMU_CUDA_DEVICES");
    int n = v ? atoi(v) : 1;
    return n >= 1 && n <= 64 ? n : 1;
}
cudaError_t cudaGetDeviceCount(int *n) { *n = emu_devices(); return cudaSuccess; }
cudaError_t cudaSetDevice(int d) { return d >= 0 && d < emu_devices() ? cudaSuccess : cudaErrorInvalidValue; }
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
cudaError_t cudaMallocHost(void **p, size_t bytes) { return cudaMalloc(p, bytes); }
cudaError_t cudaFreeHost(void *p) { free(p); return cudaSuccess; }
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
