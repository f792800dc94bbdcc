/* activation.c: elementwise layers (ReLU, sigmoid) and the residual add.
 * `omp simd` asks for vector code that -O2 alone does not give (GCC's cheap
 * cost model); these loops are memory-bound passes over every activation. */
#include "cdt_nn.h"
#include "nn/backend.h"
#include "real.h"

/* Written so that NaN passes through, as in PyTorch: a NaN that ReLU
 * turned into 0 would let a diverged run go on with a finite loss. */
void NN(cdt_relu_forward)(real *out,     // (n), may be x
                          const real *x, // (n)
                          size_t n)
{
    #pragma omp parallel for simd if (n > NN_OMP_PASS)
    for (size_t i = 0; i < n; i++) out[i] = x[i] < 0 ? 0 : x[i];
}

/* Taken from the output so the input may have been overwritten in place;
 * out > 0 exactly where x > 0. */
void NN(cdt_relu_backward)(real *dx,         // (n), may be dout
                           const real *dout, // (n)
                           const real *out,  // (n)
                           size_t n)
{
    #pragma omp parallel for simd if (n > NN_OMP_PASS)
    for (size_t i = 0; i < n; i++) {
        real d = dout[i]; // loaded unconditionally, so that the loop vectorises
        dx[i] = out[i] > 0 ? d : 0;
    }
}

/* The residual add then ReLU, in one pass: out = max(0, a + b), the
 * values of cdt_add_forward followed by cdt_relu_forward in place. */
void NN(cdt_add_relu_forward)(real *out,     // (n), may be a or b
                              const real *a, // (n)
                              const real *b, // (n)
                              size_t n)
{
    #pragma omp parallel for simd if (n > NN_OMP_PASS)
    for (size_t i = 0; i < n; i++) {
        real v = a[i] + b[i];
        out[i] = v < 0 ? 0 : v;
    }
}

/* Its backward, in one pass: dout (the ReLU's output gradient) is masked
 * in place where out is not positive, and that is the gradient of both
 * summands: db = it (acc 0) or db + it (acc 1; db then already holds
 * another consumer's gradient). */
void NN(cdt_add_relu_backward)(real *dout,      // (n) in: of out; after: of a
                               real *db,        // (n) = or += the gradient of b
                               const real *out, // (n)
                               int acc, size_t n)
{
    if (acc) {
        #pragma omp parallel for simd if (n > NN_OMP_PASS)
        for (size_t i = 0; i < n; i++) {
            real d = dout[i]; // loaded unconditionally, so that the loop vectorises
            d = out[i] > 0 ? d : 0;
            dout[i] = d;
            db[i] += d;
        }
    } else {
        #pragma omp parallel for simd if (n > NN_OMP_PASS)
        for (size_t i = 0; i < n; i++) {
            real d = dout[i];
            d = out[i] > 0 ? d : 0;
            dout[i] = d;
            db[i] = d;
        }
    }
}

void NN(cdt_sigmoid_forward)(real *out,     // (n), may be x
                             const real *x, // (n)
                             size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = 1 / (1 + exp(-x[i]));
}

void NN(cdt_sigmoid_backward)(real *dx,         // (n), may be dout
                              const real *dout, // (n)
                              const real *out,  // (n)
                              size_t n)
{
    #pragma omp simd
    for (size_t i = 0; i < n; i++) dx[i] = dout[i] * out[i] * (1 - out[i]);
}

void NN(cdt_add_forward)(real *out,     // (n), may be a or b
                         const real *a, // (n)
                         const real *b, // (n)
                         size_t n)
{
    #pragma omp parallel for simd if (n > NN_OMP_PASS)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

#ifndef CDT_NN_F64
/* The CPU table's entry (nn/backend.h). */
static int sigmoid_fwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    cdt_sigmoid_forward(a->out, a->x, a->numel);
    return 0;
}

static int sigmoid_bwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    cdt_sigmoid_backward(a->dx, a->dout, a->out, a->numel);
    return 0;
}

const cdt_layer_i cdt_sigmoid_layer_cpu = {"sigmoid", NULL, sigmoid_fwd, sigmoid_bwd};
#endif
