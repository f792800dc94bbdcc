/* ntxent.cu: the twin of nn/cpu/ntxent.c (see there for the maths). Scratch is
 * the CPU's layout, U (2M,D), norms (2M), P (2M,2M), plus ce (2M): each
 * row's cross-entropy, summed by one block in a fixed order into the loss.
 * Row-wise work is one warp (normalisation) or one block (softmax) per row;
 * the two products go through cu_gemm. */
#include "cuda_internal.cuh"

#define NTX_NORM_EPS 1e-12

/* Blocks for one warp per row: exact, not capped as cu_blocks is, since
 * the row kernels have no grid-stride loop. */
static unsigned ntx_row_blocks(int rows)
{
    return (unsigned)(((size_t)rows * 32 + CU_THREADS - 1) / CU_THREADS);
}

extern "C" size_t cdt_ntxent_scratch_cuda(const cdt_ntxent_params *p)
{
    size_t rows = 2 * (size_t)p->m;
    return rows * p->d + rows + rows * rows + rows;
}

static __device__ inline double warp_sum(double s)
{
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    return s;
}

/* One warp per row of the stacked (2M,D) input: z1's rows, then z2's. */
static __global__ void ntx_normalize(float *u, float *norm, const float *z1, const float *z2,
                                     int m, int d)
{
    int row = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32), lane = threadIdx.x % 32;
    if (row >= 2 * m) return; // whole warps leave together: rows are per warp
    const float *z = row < m ? z1 + (size_t)row * d : z2 + (size_t)(row - m) * d;
    double s = 0;
    for (int k = lane; k < d; k += 32) s += (double)z[k] * z[k];
    s = warp_sum(s);
    double den = fmax(sqrt(s), NTX_NORM_EPS);
    for (int k = lane; k < d; k += 32) u[(size_t)row * d + k] = (float)(z[k] / den);
    if (lane == 0) norm[row] = (float)sqrt(s);
}

/* Row i of S in place becomes its softmax over j != i; ce[i] its
 * cross-entropy against the positive. */
static __global__ void ntx_softmax(float *s, float *ce, int rows, int m)
{
    __shared__ double sh[CU_THREADS];
    int i = blockIdx.x, pos = (i + m) % rows;
    float *r = s + (size_t)i * rows;
    double mx = -INFINITY, sum = 0;
    for (int j = threadIdx.x; j < rows; j += blockDim.x)
        if (j != i && r[j] > mx) mx = r[j];
    // the block's max: a tree like cu_block_sum's, with fmax for +
    sh[threadIdx.x] = mx;
    __syncthreads();
    for (unsigned st = blockDim.x / 2; st > 0; st >>= 1) {
        if (threadIdx.x < st) sh[threadIdx.x] = fmax(sh[threadIdx.x], sh[threadIdx.x + st]);
        __syncthreads();
    }
    mx = sh[0];
    __syncthreads();
    for (int j = threadIdx.x; j < rows; j += blockDim.x)
        if (j != i) sum += exp((double)r[j] - mx);
    double lse = mx + log(cu_block_sum(sum, sh)), spos = r[pos];
    __syncthreads(); // every thread has read r[pos] before it is overwritten
    for (int j = threadIdx.x; j < rows; j += blockDim.x)
        r[j] = j == i ? 0 : (float)exp((double)r[j] - lse);
    if (threadIdx.x == 0) ce[i] = (float)(lse - spos);
}

static __global__ void ntx_mean(float *loss, const float *ce, int rows)
{
    __shared__ double sh[CU_THREADS];
    double s = 0;
    for (int i = threadIdx.x; i < rows; i += blockDim.x) s += ce[i];
    s = cu_block_sum(s, sh);
    if (threadIdx.x == 0) *loss = (float)(s / rows);
}

extern "C" int cdt_ntxent_forward_cuda(cdt_cuda_ctx *ctx, float *loss, const float *z1,
                                       const float *z2, float *scratch,
                                       const cdt_ntxent_params *p)
{
    int m = p->m, d = p->d, rows = 2 * m, rc;
    if (m <= 0 || d <= 0) return CDT_EINVAL;
    float *u = scratch, *norm = u + (size_t)rows * d, *prob = norm + rows;
    float *ce = prob + (size_t)rows * rows;
    ntx_normalize<<<ntx_row_blocks(rows), CU_THREADS, 0, ctx->stream>>>(u, norm, z1, z2,
                                                                                m, d);
    CU_LAUNCHED(ctx);
    // S (2M,2M) = U U^T / temp
    if ((rc = cu_gemm(ctx, 0, 1, rows, rows, d, (float)(1 / p->temp), u, d, u, d, 0, prob,
                      rows)) < 0)
        return rc;
    ntx_softmax<<<rows, CU_THREADS, 0, ctx->stream>>>(prob, ce, rows, m);
    CU_LAUNCHED(ctx);
    ntx_mean<<<1, CU_THREADS, 0, ctx->stream>>>(loss, ce, rows);
    CU_LAUNCHED(ctx);
    return 0;
}

/* G = (P - onehot(pos)) dloss/2M, then G + G^T in place: one thread per
 * pair i <= j reads and writes both (i,j) and (j,i), so no two threads
 * touch one entry. Float steps as on the CPU. */
static __global__ void ntx_grad_sym(float *g, int rows, int m, double k)
{
    CU_FOR(t, (size_t)rows * rows) {
        int i = (int)(t / rows), j = (int)(t % rows);
        if (j < i) continue;
        float a = g[(size_t)i * rows + j], b = g[(size_t)j * rows + i];
        if (j == (i + m) % rows) a -= 1;
        if (i == (j + m) % rows) b -= 1;
        a = (float)(a * k);
        b = (float)(b * k);
        g[(size_t)i * rows + j] = g[(size_t)j * rows + i] = a + b;
    }
}

/* du, in place, becomes dz: one warp per row. */
static __global__ void ntx_normalize_bwd(float *du1, float *du2, const float *u,
                                         const float *norm, int m, int d)
{
    int row = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32), lane = threadIdx.x % 32;
    if (row >= 2 * m) return;
    float *g = row < m ? du1 + (size_t)row * d : du2 + (size_t)(row - m) * d;
    const float *ui = u + (size_t)row * d;
    if (norm[row] <= NTX_NORM_EPS) {
        for (int k = lane; k < d; k += 32) g[k] = (float)(g[k] / NTX_NORM_EPS);
        return;
    }
    double dot = 0;
    for (int k = lane; k < d; k += 32) dot += (double)ui[k] * g[k];
    dot = warp_sum(dot);
    for (int k = lane; k < d; k += 32) g[k] = (float)((g[k] - ui[k] * dot) / norm[row]);
}

extern "C" int cdt_ntxent_backward_cuda(cdt_cuda_ctx *ctx, float *dz1, float *dz2, float dloss,
                                        const float *z1, const float *z2, float *scratch,
                                        const cdt_ntxent_params *p)
{
    (void)z1; (void)z2; // U and the norms are kept in scratch
    int m = p->m, d = p->d, rows = 2 * m, rc;
    if (m <= 0 || d <= 0) return CDT_EINVAL;
    float *u = scratch, *norm = u + (size_t)rows * d, *g = norm + rows;
    double k = (double)dloss / rows;
    ntx_grad_sym<<<cu_blocks((size_t)rows * rows), CU_THREADS, 0, ctx->stream>>>(g, rows, m, k);
    CU_LAUNCHED(ctx);
    float inv_t = (float)(1 / p->temp);
    // dU rows of view 1 / view 2 = (G + G^T)[those rows] U / temp
    if ((rc = cu_gemm(ctx, 0, 0, m, d, rows, inv_t, g, rows, u, d, 0, dz1, d)) < 0) return rc;
    if ((rc = cu_gemm(ctx, 0, 0, m, d, rows, inv_t, g + (size_t)m * rows, rows, u, d, 0, dz2,
                      d)) < 0)
        return rc;
    ntx_normalize_bwd<<<ntx_row_blocks(rows), CU_THREADS, 0, ctx->stream>>>(dz1, dz2, u,
                                                                                    norm, m, d);
    CU_LAUNCHED(ctx);
    return 0;
}
