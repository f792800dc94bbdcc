/* nccl.cu: collectives over device memory for the ranks of a data-parallel
 * job (backend.h's coll_*), through NCCL loaded at run time: dlopen of
 * $CDT_NCCL_LIB or libnccl.so.2, so the library needs no NCCL to build or
 * to load. NCCL's own types are declared here by their documented values
 * (nccl.h: ncclUniqueId is 128 bytes, ncclInt8 0, ncclFloat32 7,
 * ncclFloat64 8, ncclSuccess 0), so this file builds without nccl.h and
 * on the CPU emulation, whose tests load a stand-in over MPI.
 *
 * Sums never use NCCL's reductions, whose order is NCCL's: a sum over
 * ranks sends slice q of the vector to rank q (grouped send/recv), each
 * rank adds its slice over all ranks in rank order, and the slices are
 * gathered back: the same bytes on every rank, and from run to run, as
 * the host path (cdt_comm.h). Short vectors (batch norm sums): gather
 * then add in rank order. Exchange buffers grow on first use and are
 * kept, so a step allocates nothing after the first. */
#include "cuda_internal.cuh"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NCCL_ID_BYTES = 128, NCCL_INT8 = 0, NCCL_FLOAT32 = 7, NCCL_FLOAT64 = 8 };
typedef struct { char internal[NCCL_ID_BYTES]; } nccl_id;
typedef struct nccl_comm *nccl_comm_t;

struct cu_nccl {
    void *lib;
    int (*ncclGetUniqueId)(nccl_id *id);
    int (*ncclCommInitRank)(nccl_comm_t *comm, int nranks, nccl_id id, int rank);
    int (*ncclAllGather)(const void *send, void *recv, size_t count, int type, nccl_comm_t comm,
                         cudaStream_t stream);
    int (*ncclSend)(const void *send, size_t count, int type, int peer, nccl_comm_t comm,
                    cudaStream_t stream);
    int (*ncclRecv)(void *recv, size_t count, int type, int peer, nccl_comm_t comm,
                    cudaStream_t stream);
    int (*ncclGroupStart)(void);
    int (*ncclGroupEnd)(void);
    int (*ncclCommDestroy)(nccl_comm_t comm);
    const char *(*ncclGetErrorString)(int result);
    nccl_comm_t comm;         /* NULL until coll_init */
    int rank, world;
    void *buf;                /* exchange buffers, device memory */
    size_t buf_bytes;
};

#define CU_NCCL_FUNCS(X) X(ncclGetUniqueId) X(ncclCommInitRank) X(ncclAllGather) X(ncclSend) \
    X(ncclRecv) X(ncclGroupStart) X(ncclGroupEnd) X(ncclCommDestroy) X(ncclGetErrorString)

static int nccl_fail(cdt_cuda_ctx *ctx, int r, const char *call)
{
    snprintf(ctx->err, sizeof ctx->err, "%s: %s", call, ctx->nccl->ncclGetErrorString(r));
    return CDT_EIO;
}

#define NCCL(ctx, call) do { int r_ = (ctx)->nccl->call; \
    if (r_ != 0) return nccl_fail((ctx), r_, #call); } while (0)

/* Loads NCCL once: 0, or CDT_ENOENT with why in ctx->err. */
int cu_nccl_load(cdt_cuda_ctx *ctx)
{
    if (ctx->nccl) return 0;
    const char *env = getenv("CDT_NCCL_LIB");
    const char *path = env && *env ? env : "libnccl.so.2";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(ctx->err, sizeof ctx->err, "NCCL: %s", dlerror());
        return CDT_ENOENT;
    }
    cu_nccl *n = (cu_nccl *)calloc(1, sizeof *n);
    if (!n) return CDT_ENOMEM;
    n->lib = lib;
    const char *missing = NULL;
#define X(f) if (!missing && !(*(void **)&n->f = dlsym(lib, #f))) missing = #f;
    CU_NCCL_FUNCS(X)
#undef X
    if (missing) {
        free(n);
        snprintf(ctx->err, sizeof ctx->err, "NCCL: %s lacks %s", path, missing);
        return CDT_ENOENT;
    }
    ctx->nccl = n;
    return 0;
}

void cu_nccl_close(cdt_cuda_ctx *ctx)
{
    cu_nccl *n = ctx->nccl;
    if (!n) return;
    if (n->comm) n->ncclCommDestroy(n->comm);
    cudaFree(n->buf);
    free(n); // the library stays mapped, as libcdt_cuda.so itself does
    ctx->nccl = NULL;
}

int cu_coll_id(cdt_cuda_ctx *ctx, void *id, size_t bytes)
{
    int rc = cu_nccl_load(ctx);
    if (rc < 0) return rc;
    if (bytes < NCCL_ID_BYTES) return CDT_EINVAL;
    nccl_id u;
    NCCL(ctx, ncclGetUniqueId(&u));
    memcpy(id, &u, NCCL_ID_BYTES);
    return 0;
}

int cu_coll_init(cdt_cuda_ctx *ctx, const void *id, int rank, int world)
{
    int rc = cu_nccl_load(ctx);
    if (rc < 0) return rc;
    cu_nccl *n = ctx->nccl;
    if (n->comm) return CDT_EINVAL;
    nccl_id u;
    memcpy(&u, id, NCCL_ID_BYTES);
    CU_CHECK(ctx, cudaSetDevice(ctx->device));
    NCCL(ctx, ncclCommInitRank(&n->comm, world, u, rank));
    n->rank = rank;
    n->world = world;
    return 0;
}

/* The exchange buffers, at least `bytes`, kept for the next call. */
static void *buffers(cdt_cuda_ctx *ctx, size_t bytes)
{
    cu_nccl *n = ctx->nccl;
    if (bytes <= n->buf_bytes) return n->buf;
    cudaStreamSynchronize(ctx->stream); // the old buffers may still be in use
    cudaFree(n->buf);
    n->buf = NULL;
    n->buf_bytes = 0;
    if (cudaMalloc(&n->buf, bytes) != cudaSuccess) {
        cudaGetLastError();
        snprintf(ctx->err, sizeof ctx->err, "no device memory for %zu bytes of exchange buffers", bytes);
        return NULL;
    }
    n->buf_bytes = bytes;
    return n->buf;
}

int cu_coll_allgather(cdt_cuda_ctx *ctx, void *dst, const void *src, size_t bytes)
{
    cu_nccl *n = ctx->nccl;
    if (!n || !n->comm) return CDT_EINVAL;
    NCCL(ctx, ncclAllGather(src, dst, bytes, NCCL_INT8, n->comm, ctx->stream));
    return 0;
}

/* out (n) = in[0 .. n) + in[n .. 2n) + ... over w ranks, in rank order */
static __global__ void sum_ranks_f32(float *out, const float *in, size_t n, int w)
{
    CU_FOR(i, n) {
        float s = in[i];
        for (int q = 1; q < w; q++) s += in[(size_t)q * n + i];
        out[i] = s;
    }
}

static __global__ void sum_ranks_f64(double *out, const double *in, size_t n, int w, double scale)
{
    CU_FOR(i, n) {
        double s = in[i];
        for (int q = 1; q < w; q++) s += in[(size_t)q * n + i];
        out[i] = s * scale;
    }
}

int cu_coll_sum_f32(cdt_cuda_ctx *ctx, float *x, size_t n)
{
    cu_nccl *nc = ctx->nccl;
    if (!nc || !nc->comm) return CDT_EINVAL;
    int w = nc->world;
    if (w == 1 || n == 0) return 0;
    size_t chunk = (n + (size_t)w - 1) / (size_t)w, all = chunk * (size_t)w;
    float *send = (float *)buffers(ctx, 3 * all * sizeof(float));
    if (!send) return CDT_ENOMEM;
    float *recv = send + all, *gathered = recv + all;
    CU_CHECK(ctx, cudaMemcpyAsync(send, x, n * sizeof(float), cudaMemcpyDeviceToDevice, ctx->stream));
    if (all > n) CU_CHECK(ctx, cudaMemsetAsync(send + n, 0, (all - n) * sizeof(float), ctx->stream));
    NCCL(ctx, ncclGroupStart());
    for (int q = 0; q < w; q++) {
        NCCL(ctx, ncclSend(send + (size_t)q * chunk, chunk, NCCL_FLOAT32, q, nc->comm, ctx->stream));
        NCCL(ctx, ncclRecv(recv + (size_t)q * chunk, chunk, NCCL_FLOAT32, q, nc->comm, ctx->stream));
    }
    NCCL(ctx, ncclGroupEnd());
    sum_ranks_f32<<<cu_blocks(chunk), CU_THREADS, 0, ctx->stream>>>(send, recv, chunk, w);
    CU_LAUNCHED(ctx);
    NCCL(ctx, ncclAllGather(send, gathered, chunk, NCCL_FLOAT32, nc->comm, ctx->stream));
    CU_CHECK(ctx, cudaMemcpyAsync(x, gathered, n * sizeof(float), cudaMemcpyDeviceToDevice, ctx->stream));
    return 0;
}

int cu_coll_sum_f64(cdt_cuda_ctx *ctx, double *x, size_t n, double scale)
{
    cu_nccl *nc = ctx->nccl;
    if (!nc || !nc->comm) return CDT_EINVAL;
    int w = nc->world;
    if (n == 0) return 0;
    double *g = (double *)buffers(ctx, (size_t)w * n * sizeof(double));
    if (!g) return CDT_ENOMEM;
    NCCL(ctx, ncclAllGather(x, g, n, NCCL_FLOAT64, nc->comm, ctx->stream));
    sum_ranks_f64<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(x, g, n, w, scale);
    CU_LAUNCHED(ctx);
    return 0;
}
