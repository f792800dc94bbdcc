/* activation.c: elementwise layers (ReLU, sigmoid) and the residual add.
 * `omp simd` asks for vector code that -O2 alone does not give (GCC's cheap
 * cost model); these loops are memory-bound passes over every activation. */
#include "cdt_nn.h"
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
