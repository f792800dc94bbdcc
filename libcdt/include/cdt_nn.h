/* cdt_nn.h: the layers, losses and optimiser of the training engine, on
 * the CPU (nn/cpu/; their CUDA twins are in cdt_cuda.h).
 *
 * Each layer is a pair of plain functions over float buffers, in the style
 * of llm.c: outputs first, then inputs, then a small struct of sizes.
 * Layouts are PyTorch's: activations NCHW, conv weights OIHW, linear
 * weights [out,in]. The gradient rule is written once here:
 *   - parameter gradients are accumulated (+=), so a caller zeroes them once
 *     per step and may run several forward/backward passes (two views);
 *   - activation gradients are written (=).
 * Nothing here allocates: layers that need working memory take a scratch
 * buffer of *_scratch() elements from the caller.
 *
 * Worked example: one conv on a batch, then its backward.
 *
 *     cdt_conv2d_params p = {.n = 8, .c = 3, .h = 32, .w = 32, .oc = 16,
 *                            .kh = 3, .kw = 3, .stride = 1, .pad = 1};
 *     float *col = malloc(cdt_conv2d_scratch(&p) * sizeof *col);
 *     cdt_conv2d_forward(y, x, w, col, &p);
 *     ... dy = dL/dy ...
 *     memset(dw, 0, ...);                      // grads accumulate
 *     cdt_conv2d_backward(dx, dw, dy, x, w, col, &p);
 *
 * Every layer function also exists as a double twin with the suffix _f64
 * (libcdt/nn/cpu/nn_f64.h, not installed): the tests check backward passes
 * of those against finite differences.
 */
#ifndef CDT_NN_H
#define CDT_NN_H

#include <stddef.h>
#include <stdint.h>

/* ---- input: ToTensor's pixel, u8 -> [0,1] ----
 * A true division, not a multiply by 1/255 (which rounds differently):
 * the one definition the CPU, the CUDA kernels (a device function there)
 * and the tools share, so that every path gives the same floats. */
#ifdef __CUDACC__
#define CDT_NN_HOST_DEVICE __host__ __device__
#else
#define CDT_NN_HOST_DEVICE
#endif
static inline CDT_NN_HOST_DEVICE float cdt_pixel_to_float(uint8_t v) { return (float)v / 255.0f; }

/* ---- conv2d: no bias, any kernel, stride and padding (im2col + gemm) ---- */
/* Which kernels the CPU's convolutions run (kernels of cdt_conv2d_params;
 * the CUDA twins ignore it). A model fixes it when it is made, from
 * cdt_model_config.cpu_conv (a tool reads $CDT_CPU_CONV into it, through
 * cdt_conv2d_kernels_parse), so nothing is decided per call. */
enum {
    CDT_CONV_AUTO = 0,      /* a model: cdt_conv2d_kernels_auto(); a layer call: DIRECT */
    CDT_CONV_DIRECT,        /* the direct 3x3 kernels of the CPU's widest set, where they
                               beat OpenBLAS's gemms on the CPU's own ISA */
    CDT_CONV_DIRECT_WIDE,   /* also the layers they share with OpenBLAS (stride 2 up to
                               128 channels, 64-channel images of 5x5 to 8x8) */
    CDT_CONV_GEMM,          /* no direct kernels: Winograd or im2col, then gemm */
    CDT_CONV_AVX512,        /* that kernel set (or the widest below it the CPU has), */
    CDT_CONV_AVX2,          /* taking the layers of DIRECT_WIDE */
    CDT_CONV_GENERIC,
};
typedef struct cdt_conv2d_params {
    int n, c, h, w, oc, kh, kw, stride, pad;
    int kernels;            /* CDT_CONV_*; 0 (AUTO) is DIRECT here */
} cdt_conv2d_params;
/* By the CPU, whatever core OpenBLAS runs: DIRECT_WIDE where the AVX-512
 * kernels run, else DIRECT. */
int cdt_conv2d_kernels_auto(void);
/* $CDT_CPU_CONV's words: unset or "" AUTO, "gemm", "avx512", "avx2";
 * any other ("generic") GENERIC. */
int cdt_conv2d_kernels_parse(const char *s);
/* "auto", "direct", "direct-wide", "gemm", "avx512", "avx2", "generic" */
const char *cdt_conv2d_kernels_name(int kernels);
int cdt_conv2d_out_h(const cdt_conv2d_params *p);
int cdt_conv2d_out_w(const cdt_conv2d_params *p);
size_t cdt_conv2d_scratch(const cdt_conv2d_params *p); /* elements */
void cdt_conv2d_forward(float *out,         // (N,OC,OH,OW)
                        const float *x,     // (N,C,H,W)
                        const float *w,     // (OC,C,KH,KW)
                        float *scratch,     // cdt_conv2d_scratch(p)
                        const cdt_conv2d_params *p);
/* Eval mode's batch norm after the convolution (running statistics, the
 * norm's eps), then where asked the residual add and the ReLU, run on
 * each group of images while the convolution's output is in cache:
 * dst = relu(bn(out) + res), the values of cdt_batchnorm_forward_eval,
 * cdt_add_forward and cdt_relu_forward one after the other. out is still
 * written; dst may be out or res. */
typedef struct cdt_conv_post {
    const float *gamma, *beta, *running_mean, *running_var; /* (OC) */
    double eps;
    const float *res;      /* (N,OC,OH,OW) added after the norm; NULL: none */
    int relu;
    float *dst;            /* (N,OC,OH,OW) */
} cdt_conv_post;
void cdt_conv2d_forward_post(float *out,         // (N,OC,OH,OW)
                             const float *x,     // (N,C,H,W)
                             const float *w,     // (OC,C,KH,KW)
                             float *scratch,     // cdt_conv2d_scratch(p)
                             const cdt_conv2d_params *p,
                             const cdt_conv_post *post);
/* dx may be NULL (first layer); dw is accumulated. */
void cdt_conv2d_backward(float *dx,         // (N,C,H,W) or NULL
                         float *dw,         // (OC,C,KH,KW) +=
                         const float *dout, // (N,OC,OH,OW)
                         const float *x,    // (N,C,H,W)
                         const float *w,    // (OC,C,KH,KW)
                         float *scratch,    // cdt_conv2d_scratch(p)
                         const cdt_conv2d_params *p);

/* ---- batch norm over (N,C,HW); hw = 1 is BatchNorm1d on (N,C) ----
 * Training mode normalises with the batch mean and biased variance and
 * updates running_var with the unbiased one, as torch.nn.BatchNorm2d. */
typedef struct cdt_bn_params { int n, c, hw; double momentum, eps; } cdt_bn_params;
#define CDT_BN_MOMENTUM 0.1
#define CDT_BN_EPS 1e-5
void cdt_batchnorm_forward(float *out,          // (N,C,HW)
                           float *mean,         // (C) saved for backward
                           float *invstd,       // (C) saved for backward
                           float *running_mean, // (C) updated; NULL: skip
                           float *running_var,  // (C) updated; NULL: skip
                           const float *x,      // (N,C,HW)
                           const float *gamma,  // (C)
                           const float *beta,   // (C)
                           const cdt_bn_params *p);
void cdt_batchnorm_forward_eval(float *out,              // (N,C,HW)
                                const float *x,          // (N,C,HW)
                                const float *gamma,      // (C)
                                const float *beta,       // (C)
                                const float *running_mean, // (C)
                                const float *running_var,  // (C)
                                const cdt_bn_params *p);
void cdt_batchnorm_backward(float *dx,          // (N,C,HW)
                            float *dgamma,      // (C) +=
                            float *dbeta,       // (C) +=
                            const float *dout,  // (N,C,HW)
                            const float *x,     // (N,C,HW)
                            const float *mean,  // (C) from forward
                            const float *invstd, // (C) from forward
                            const float *gamma, // (C)
                            const cdt_bn_params *p);
/* Batch norm followed by ReLU, fused: writes max(0, y), the values of
 * cdt_batchnorm_forward then cdt_relu_forward in place (NaN passing), with
 * one pass over the activation less. Its backward is cdt_relu_backward
 * then cdt_batchnorm_backward: fused, with the mask taken on the fly, it
 * measured slower, and over batch norm's blocks of channels no faster
 * (a width-16 step, and eval mode fused the same in cdt-embed). */
void cdt_batchnorm_relu_forward(float *out, float *mean, float *invstd, float *running_mean,
                                float *running_var, const float *x, const float *gamma,
                                const float *beta, const cdt_bn_params *p);

/* Batch norm across processes (SyncBatchNorm), in pieces: each process
 * holds part of the batch and the caller adds every process's per-channel
 * sums (double, in a fixed order) between the calls. Forward:
 * sums(x, NULL) -> mean = sum / count; sums(x, mean) -> biased variance =
 * sum / count; forward_with(mean, variance, count). Backward: backward_sums
 * -> backward_with(this process's sums, the whole batch's). With one
 * process this is cdt_batchnorm_forward/_backward to rounding. */
void cdt_batchnorm_sums(double *sum,          // (C): sum x, or sum (x - center)^2
                        const float *x,       // (N,C,HW)
                        const double *center, // (C) or NULL
                        const cdt_bn_params *p);
void cdt_batchnorm_forward_with(float *out, float *mean, float *invstd,
                                float *running_mean, float *running_var, // NULL: skip
                                const float *x, const float *gamma, const float *beta,
                                const double *gmean, // (C) the whole batch's mean
                                const double *gvar,  // (C) and biased variance
                                double count,        // values per channel in the whole batch
                                const cdt_bn_params *p);
void cdt_batchnorm_backward_sums(double *sums,      // (2C): sum dout, sum dout * xhat
                                 const float *dout, const float *x, const float *mean,
                                 const float *invstd, const cdt_bn_params *p);
/* dgamma, dbeta += this process's sums (the caller adds them over processes
 * with every other gradient); dx from the whole batch's. */
void cdt_batchnorm_backward_with(float *dx, float *dgamma, float *dbeta,
                                 const double *local,  // (2C) this process's backward_sums
                                 const double *global, // (2C) the whole batch's
                                 double count, const float *dout, const float *x,
                                 const float *mean, const float *invstd, const float *gamma,
                                 const cdt_bn_params *p);

/* ---- elementwise ---- */
/* out may equal x. */
void cdt_relu_forward(float *out, const float *x, size_t n); // (n), (n)
/* From the output; dx may equal dout. */
void cdt_relu_backward(float *dx, const float *dout, const float *out, size_t n);
void cdt_sigmoid_forward(float *out, const float *x, size_t n);
void cdt_sigmoid_backward(float *dx, const float *dout, const float *out, size_t n);
/* Residual add; out may equal a or b. Its backward is a copy of dout into
 * both branches, which callers do by passing dout on. */
void cdt_add_forward(float *out, const float *a, const float *b, size_t n);
/* The residual add followed by ReLU, fused: out = max(0, a + b); its
 * backward masks dout (of out) in place where out is not positive, which
 * is then the gradient of a, and writes it to db (acc 0) or adds it
 * there (acc 1). */
void cdt_add_relu_forward(float *out, const float *a, const float *b, size_t n);
void cdt_add_relu_backward(float *dout, float *db, const float *out, int acc, size_t n);

/* ---- max pool (any k, stride, pad; the stem uses 3/2/1) ---- */
typedef struct cdt_maxpool_params { int n, c, h, w, k, stride, pad; } cdt_maxpool_params;
int cdt_maxpool_out_h(const cdt_maxpool_params *p);
int cdt_maxpool_out_w(const cdt_maxpool_params *p);
void cdt_maxpool_forward(float *out,        // (N,C,OH,OW)
                         int32_t *argmax,   // (N,C,OH,OW) index into the H*W plane
                         const float *x,    // (N,C,H,W)
                         const cdt_maxpool_params *p);
void cdt_maxpool_backward(float *dx,           // (N,C,H,W)
                          const float *dout,   // (N,C,OH,OW)
                          const int32_t *argmax, // (N,C,OH,OW)
                          const cdt_maxpool_params *p);

/* ---- global average pool: (N,C,HW) -> (N,C) ---- */
void cdt_avgpool_forward(float *out, const float *x, int n, int c, int hw); // (N,C), (N,C,HW)
void cdt_avgpool_backward(float *dx, const float *dout, int n, int c, int hw); // (N,C,HW), (N,C)

/* ---- linear: out = x W^T (+ b) ---- */
typedef struct cdt_linear_params { int n, in, out; } cdt_linear_params;
void cdt_linear_forward(float *out,       // (N,OUT)
                        const float *x,   // (N,IN)
                        const float *w,   // (OUT,IN)
                        const float *b,   // (OUT) or NULL
                        const cdt_linear_params *p);
void cdt_linear_backward(float *dx,         // (N,IN) or NULL
                         float *dw,         // (OUT,IN) +=
                         float *db,         // (OUT) += or NULL
                         const float *dout, // (N,OUT)
                         const float *x,    // (N,IN)
                         const float *w,    // (OUT,IN)
                         const cdt_linear_params *p);

/* ---- NT-Xent over two views of M rows each ----
 * Rows are L2-normalised (as F.normalize, eps 1e-12), S = Z Z^T / temp over
 * the 2M stacked rows, self excluded, positive = the same row of the other
 * view, loss = mean cross-entropy over the 2M rows. The instance loss calls
 * it on z (M = N); the feature loss on f transposed (M = F rows of N). */
typedef struct cdt_ntxent_params { int m, d; double temp; } cdt_ntxent_params;
size_t cdt_ntxent_scratch(const cdt_ntxent_params *p); /* elements */
/* Returns the loss; keeps what backward needs in scratch. */
float cdt_ntxent_forward(const float *z1,   // (M,D)
                         const float *z2,   // (M,D)
                         float *scratch,    // cdt_ntxent_scratch(p)
                         const cdt_ntxent_params *p);
void cdt_ntxent_backward(float *dz1,          // (M,D)
                         float *dz2,          // (M,D)
                         float dloss,         // dL/dloss
                         const float *z1,     // (M,D)
                         const float *z2,     // (M,D)
                         float *scratch,      // from forward; overwritten
                         const cdt_ntxent_params *p);

/* ---- normalised binary entropy, mean over n entries, in bits ----
 * H = mean of -(p ln(p+1e-12) + (1-p) ln(1-p+1e-12)) / ln 2. */
float cdt_entropy_forward(const float *p, size_t n);                // (n)
void cdt_entropy_backward(float *dp, float dh, const float *p, size_t n); // (n) written

/* ---- optimiser (float only: nothing differentiates through it) ---- */
typedef struct cdt_adam_params { double lr, beta1, beta2, eps, weight_decay; } cdt_adam_params;
/* One torch.optim.Adam step number t (1-based) over n parameters, with
 * PyTorch's L2 form of weight decay (g + wd p) and bias correction. */
void cdt_adam_step(float *param,      // (n) updated
                   float *m,          // (n) first moment, updated
                   float *v,          // (n) second moment, updated
                   const float *grad, // (n)
                   size_t n, long t, const cdt_adam_params *p);
/* The L2 norm of every gradient, summed serially in double (the same bytes
 * on any thread count). */
double cdt_grad_norm(const float *grad, size_t n); // (n)
/* As torch.nn.utils.clip_grad_norm_ over one buffer holding every gradient:
 * scales grad by max_norm/(norm+1e-6) when that is below 1. Returns the
 * norm before clipping. */
double cdt_clip_grad_norm(float *grad, size_t n, double max_norm); // (n)
/* CosineAnnealingLR with eta_min 0: the learning rate for step t of T. */
double cdt_cosine_lr(double base_lr, long t, long total);

#endif
