/* linear.c: fully connected layer, out = x W^T + b, W in PyTorch's
 * [out,in] layout; one gemm each way. */
#include "cdt_nn.h"
#include "nn/backend.h"
#include "real.h"

void NN(cdt_linear_forward)(real *out,     // (N,OUT)
                            const real *x, // (N,IN)
                            const real *w, // (OUT,IN)
                            const real *b, // (OUT) or NULL
                            const cdt_linear_params *p)
{
    GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, p->n, p->out, p->in,
         1, x, p->in, w, p->in, 0, out, p->out);
    if (!b) return;
    for (int i = 0; i < p->n; i++)
        for (int o = 0; o < p->out; o++) out[(size_t)i * p->out + o] += b[o];
}

void NN(cdt_linear_backward)(real *dx,         // (N,IN) or NULL
                             real *dw,         // (OUT,IN) +=
                             real *db,         // (OUT) += or NULL
                             const real *dout, // (N,OUT)
                             const real *x,    // (N,IN)
                             const real *w,    // (OUT,IN)
                             const cdt_linear_params *p)
{
    // dW (OUT,IN) += dout^T (OUT,N) x (N,IN)
    GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, p->out, p->in, p->n,
         1, dout, p->out, x, p->in, 1, dw, p->in);
    // dx (N,IN) = dout (N,OUT) W (OUT,IN)
    if (dx)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->n, p->in, p->out,
             1, dout, p->out, w, p->in, 0, dx, p->in);
    if (!db) return;
    for (int o = 0; o < p->out; o++) {
        double s = 0;
        for (int i = 0; i < p->n; i++) s += dout[(size_t)i * p->out + o];
        db[o] += (real)s;
    }
}

#ifndef CDT_NN_F64
/* The CPU table's entry (nn/backend.h). */
static int linear_fwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    cdt_linear_forward(a->out, a->x, a->w, a->b, a->p);
    return 0;
}

static int linear_bwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    cdt_linear_backward(a->dx, a->dw, a->db, a->dout, a->x, a->w, a->p);
    return 0;
}

const cdt_layer_i cdt_linear_layer_cpu = {"linear", NULL, linear_fwd, linear_bwd};
#endif
