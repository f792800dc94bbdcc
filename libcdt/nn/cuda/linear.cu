/* linear.cu: the twin of nn/cpu/linear.c: out = x W^T (+ b), one gemm each
 * way through cu_gemm, and the bias as its own small kernels. */
#include "cuda_internal.cuh"
#include "nn/backend.h"

static __global__ void bias_add(float *out, const float *b, size_t rows, int cols) // (N,OUT), (OUT)
{
    CU_FOR(i, rows * cols) out[i] += b[i % cols];
}

/* One thread per output column, down the rows in order, in double as the
 * CPU: neighbouring threads read neighbouring columns. */
static __global__ void bias_grad(float *db, const float *dout, int rows, int cols) // (OUT), (N,OUT)
{
    CU_FOR(o, (size_t)cols) {
        double s = 0;
        for (int i = 0; i < rows; i++) s += dout[(size_t)i * cols + o];
        db[o] += (float)s;
    }
}

extern "C" int cdt_linear_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x,
                                       const float *w, const float *b,
                                       const cdt_linear_params *p)
{
    int rc;
    if ((rc = cu_gemm(ctx, 0, 1, p->n, p->out, p->in, 1, x, p->in, w, p->in, 0, out, p->out)) < 0)
        return rc;
    if (!b) return 0;
    size_t n = (size_t)p->n * p->out;
    bias_add<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(out, b, p->n, p->out);
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_linear_backward_cuda(cdt_cuda_ctx *ctx, float *dx, float *dw, float *db,
                                        const float *dout, const float *x, const float *w,
                                        const cdt_linear_params *p)
{
    int rc;
    // dW (OUT,IN) += dout^T (OUT,N) x (N,IN)
    if ((rc = cu_gemm(ctx, 1, 0, p->out, p->in, p->n, 1, dout, p->out, x, p->in, 1, dw, p->in)) < 0)
        return rc;
    // dx (N,IN) = dout (N,OUT) W (OUT,IN)
    if (dx && (rc = cu_gemm(ctx, 0, 0, p->n, p->in, p->out, 1, dout, p->out, w, p->in, 0,
                            dx, p->in)) < 0)
        return rc;
    if (!db) return 0;
    bias_grad<<<cu_blocks(p->out), CU_THREADS, 0, ctx->stream>>>(db, dout, p->n, p->out);
    CU_LAUNCHED(ctx);
    return 0;
}

/* The CUDA table's entry (nn/backend.h). */
static int linear_fwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_linear_forward_cuda((cdt_cuda_ctx *)ctx, a->out, a->x, a->w, a->b,
                                   (const cdt_linear_params *)a->p);
}

static int linear_bwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_linear_backward_cuda((cdt_cuda_ctx *)ctx, a->dx, a->dw, a->db, a->dout, a->x, a->w,
                                    (const cdt_linear_params *)a->p);
}

const cdt_layer_i cdt_linear_layer_cuda = {"linear", NULL, linear_fwd, linear_bwd};
