/* cdt_cuda.h: CUDA twins of the CPU layers in cdt_nn.h (libcdt_cuda.so).
 *
 * Every layer function of cdt_nn.h has a twin here with the suffix _cuda,
 * the same arguments over device pointers, and two changes that a GPU
 * forces: a context comes first (stream, cuBLAS handle, workspace: no
 * global state), and the twin returns 0 or a negative CDT_E* code, because
 * a CUDA call can fail where the CPU one cannot. A CPU function that
 * returns a value (a loss, an entropy, a norm) writes it to a one-element
 * device buffer instead, so that a training step never waits on the host.
 * Launches are asynchronous on the context's stream; errors from a kernel
 * may show up only at a later call or at cdt_cuda_sync(). The gradient rule
 * of cdt_nn.h holds unchanged (parameter gradients +=, activation grads =).
 *
 * This header is plain C and needs no CUDA header, so model code built by
 * the C compiler can drive the GPU through it (device buffers as void *).
 *
 * Worked example: one conv forward on the GPU.
 *
 *     cdt_cuda_ctx *g;
 *     if ((rc = cdt_cuda_ctx_create(&g, 0, CDT_CUDA_TF32)) < 0) ...;
 *     float *x, *w, *y, *col;           // device buffers
 *     cdt_cuda_alloc(g, (void **)&x, xbytes); ... upload with cdt_cuda_upload
 *     rc = cdt_conv2d_forward_cuda(g, y, x, w, col, &p);
 *     rc = cdt_cuda_download(g, host_y, y, ybytes);  // waits for the stream
 *     cdt_cuda_free(g, x); ... cdt_cuda_ctx_destroy(g);
 */
#ifndef CDT_CUDA_H
#define CDT_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "cdt_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How cuBLAS multiplies float matrices: plain fp32, or the tensor cores
 * with inputs rounded to tf32 (10-bit mantissa, ~3e-4 relative error) or
 * bf16 (7-bit, ~3e-3); accumulation is fp32 in all three. */
enum { CDT_CUDA_FP32 = 0, CDT_CUDA_TF32 = 1, CDT_CUDA_BF16 = 2 };

/* One context per host thread: its stream, handle and workspaces are used
 * without locks. Create makes its device current on the calling thread,
 * and the launchers run on whatever device is current. */
typedef struct cdt_cuda_ctx cdt_cuda_ctx;

/* Number of CUDA devices; 0 (and return 0) when there is no device or no
 * driver, so callers can tell "no GPU" from a failure. */
int cdt_cuda_device_count(int *count);
/* CDT_EINVAL when the device does not exist, CDT_ENOMEM when the workspace
 * cannot be had; *out is NULL on failure. */
int cdt_cuda_ctx_create(cdt_cuda_ctx **out, int device, int math);
void cdt_cuda_ctx_destroy(cdt_cuda_ctx *ctx);
int cdt_cuda_set_math(cdt_cuda_ctx *ctx, int math);
/* The last error as one line: the CUDA/cuBLAS call that failed and why. */
const char *cdt_cuda_errmsg(const cdt_cuda_ctx *ctx);
/* Name of the device, e.g. "NVIDIA H100 80GB HBM3". */
const char *cdt_cuda_device_name(const cdt_cuda_ctx *ctx);

/* Device memory, ordered on the context's stream. */
int cdt_cuda_alloc(cdt_cuda_ctx *ctx, void **dptr, size_t bytes);
void cdt_cuda_free(cdt_cuda_ctx *ctx, void *dptr); /* NULL is fine */
int cdt_cuda_upload(cdt_cuda_ctx *ctx, void *dst, const void *src, size_t bytes);
/* Waits for the stream, so host_dst is ready on return. */
int cdt_cuda_download(cdt_cuda_ctx *ctx, void *host_dst, const void *src, size_t bytes);
int cdt_cuda_memset(cdt_cuda_ctx *ctx, void *dst, int byte, size_t bytes);
int cdt_cuda_sync(cdt_cuda_ctx *ctx);

/* ---- input: (N,2,C,H,W) u8 views -> two (N,C,H,W) float views / 255 ----
 * The twin of the trainer's scale_views (train.c): a true division, which
 * gives ToTensor's exact floats. img = C*H*W. */
int cdt_scale_views_cuda(cdt_cuda_ctx *ctx,
                         float *v0,        // (N,C,H,W)
                         float *v1,        // (N,C,H,W)
                         const uint8_t *x, // (N,2,C,H,W)
                         size_t n, size_t img);

/* ---- conv2d: a scratch size of its own (the CPU's plan has changed
 * since, and may again: allocate each device's with its own function) ---- */
size_t cdt_conv2d_scratch_cuda(const cdt_conv2d_params *p); /* elements */
int cdt_conv2d_forward_cuda(cdt_cuda_ctx *ctx,
                            float *out,         // (N,OC,OH,OW)
                            const float *x,     // (N,C,H,W)
                            const float *w,     // (OC,C,KH,KW)
                            float *scratch,     // cdt_conv2d_scratch_cuda(p)
                            const cdt_conv2d_params *p);
int cdt_conv2d_backward_cuda(cdt_cuda_ctx *ctx,
                             float *dx,         // (N,C,H,W) or NULL
                             float *dw,         // (OC,C,KH,KW) +=
                             const float *dout, // (N,OC,OH,OW)
                             const float *x,    // (N,C,H,W)
                             const float *w,    // (OC,C,KH,KW)
                             float *scratch,    // cdt_conv2d_scratch_cuda(p)
                             const cdt_conv2d_params *p);

/* ---- batch norm ---- */
int cdt_batchnorm_forward_cuda(cdt_cuda_ctx *ctx,
                               float *out,          // (N,C,HW)
                               float *mean,         // (C) saved for backward
                               float *invstd,       // (C) saved for backward
                               float *running_mean, // (C) updated; NULL: skip
                               float *running_var,  // (C) updated; NULL: skip
                               const float *x,      // (N,C,HW)
                               const float *gamma,  // (C)
                               const float *beta,   // (C)
                               const cdt_bn_params *p);
int cdt_batchnorm_forward_eval_cuda(cdt_cuda_ctx *ctx,
                                    float *out,                // (N,C,HW)
                                    const float *x,            // (N,C,HW)
                                    const float *gamma,        // (C)
                                    const float *beta,         // (C)
                                    const float *running_mean, // (C)
                                    const float *running_var,  // (C)
                                    const cdt_bn_params *p);
int cdt_batchnorm_backward_cuda(cdt_cuda_ctx *ctx,
                                float *dx,           // (N,C,HW)
                                float *dgamma,       // (C) +=
                                float *dbeta,        // (C) +=
                                const float *dout,   // (N,C,HW)
                                const float *x,      // (N,C,HW)
                                const float *mean,   // (C) from forward
                                const float *invstd, // (C) from forward
                                const float *gamma,  // (C)
                                const cdt_bn_params *p);
/* Batch norm across processes, in pieces (cdt_nn.h's cdt_batchnorm_sums
 * etc.): the per-channel sums are double device buffers, and the caller
 * adds every process's between the calls. With one process this is
 * cdt_batchnorm_forward_cuda/_backward_cuda to rounding. */
int cdt_batchnorm_sums_cuda(cdt_cuda_ctx *ctx,
                            double *sum,          // (C): sum x, or sum (x - center)^2
                            const float *x,       // (N,C,HW)
                            const double *center, // (C) or NULL
                            const cdt_bn_params *p);
int cdt_batchnorm_forward_with_cuda(cdt_cuda_ctx *ctx,
                                    float *out,          // (N,C,HW)
                                    float *mean,         // (C) saved for backward
                                    float *invstd,       // (C) saved for backward
                                    float *running_mean, // (C) updated; NULL: skip
                                    float *running_var,  // (C) updated; NULL: skip
                                    const float *x,      // (N,C,HW)
                                    const float *gamma,  // (C)
                                    const float *beta,   // (C)
                                    const double *gmean, // (C) the whole batch's mean
                                    const double *gvar,  // (C) and biased variance
                                    double count,        // values per channel, whole batch (> 1)
                                    const cdt_bn_params *p);
int cdt_batchnorm_backward_sums_cuda(cdt_cuda_ctx *ctx,
                                     double *sums,        // (2C): sum dout, sum dout * xhat
                                     const float *dout,   // (N,C,HW)
                                     const float *x,      // (N,C,HW)
                                     const float *mean,   // (C) from forward_with
                                     const float *invstd, // (C) from forward_with
                                     const cdt_bn_params *p);
int cdt_batchnorm_backward_with_cuda(cdt_cuda_ctx *ctx,
                                     float *dx,            // (N,C,HW)
                                     float *dgamma,        // (C) += this process's sums
                                     float *dbeta,         // (C) += this process's sums
                                     const double *local,  // (2C) this process's backward_sums
                                     const double *global, // (2C) the whole batch's
                                     double count,         // values per channel, whole batch
                                     const float *dout,    // (N,C,HW)
                                     const float *x,       // (N,C,HW)
                                     const float *mean,    // (C) from forward_with
                                     const float *invstd,  // (C) from forward_with
                                     const float *gamma,   // (C)
                                     const cdt_bn_params *p);

/* ---- elementwise (in place allowed as on the CPU) ---- */
int cdt_relu_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x, size_t n); // (n), (n)
int cdt_relu_backward_cuda(cdt_cuda_ctx *ctx, float *dx, const float *dout,
                           const float *out, size_t n); // (n) each
int cdt_sigmoid_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x, size_t n);
int cdt_sigmoid_backward_cuda(cdt_cuda_ctx *ctx, float *dx, const float *dout,
                              const float *out, size_t n); // (n) each
int cdt_add_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *a,
                         const float *b, size_t n); // (n) each

/* ---- pooling ---- */
int cdt_maxpool_forward_cuda(cdt_cuda_ctx *ctx,
                             float *out,       // (N,C,OH,OW)
                             int32_t *argmax,  // (N,C,OH,OW) index into the H*W plane
                             const float *x,   // (N,C,H,W)
                             const cdt_maxpool_params *p);
int cdt_maxpool_backward_cuda(cdt_cuda_ctx *ctx,
                              float *dx,             // (N,C,H,W)
                              const float *dout,     // (N,C,OH,OW)
                              const int32_t *argmax, // (N,C,OH,OW)
                              const cdt_maxpool_params *p);
int cdt_avgpool_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x,
                             int n, int c, int hw); // (N,C), (N,C,HW)
int cdt_avgpool_backward_cuda(cdt_cuda_ctx *ctx, float *dx, const float *dout,
                              int n, int c, int hw); // (N,C,HW), (N,C)

/* ---- linear ---- */
int cdt_linear_forward_cuda(cdt_cuda_ctx *ctx,
                            float *out,       // (N,OUT)
                            const float *x,   // (N,IN)
                            const float *w,   // (OUT,IN)
                            const float *b,   // (OUT) or NULL
                            const cdt_linear_params *p);
int cdt_linear_backward_cuda(cdt_cuda_ctx *ctx,
                             float *dx,         // (N,IN) or NULL
                             float *dw,         // (OUT,IN) +=
                             float *db,         // (OUT) += or NULL
                             const float *dout, // (N,OUT)
                             const float *x,    // (N,IN)
                             const float *w,    // (OUT,IN)
                             const cdt_linear_params *p);

/* ---- NT-Xent: scratch is the CPU layout plus one float per row (its
 * cross-entropy, summed on the device) ---- */
size_t cdt_ntxent_scratch_cuda(const cdt_ntxent_params *p); /* elements */
int cdt_ntxent_forward_cuda(cdt_cuda_ctx *ctx,
                            float *loss,       // (1) device
                            const float *z1,   // (M,D)
                            const float *z2,   // (M,D)
                            float *scratch,    // cdt_ntxent_scratch_cuda(p)
                            const cdt_ntxent_params *p);
int cdt_ntxent_backward_cuda(cdt_cuda_ctx *ctx,
                             float *dz1,          // (M,D)
                             float *dz2,          // (M,D)
                             float dloss,         // dL/dloss (host value)
                             const float *z1,     // (M,D)
                             const float *z2,     // (M,D)
                             float *scratch,      // from forward; overwritten
                             const cdt_ntxent_params *p);

/* ---- normalised binary entropy ---- */
int cdt_entropy_forward_cuda(cdt_cuda_ctx *ctx, float *h, const float *p, size_t n); // (1) device, (n)
int cdt_entropy_backward_cuda(cdt_cuda_ctx *ctx, float *dp, float dh,
                              const float *p, size_t n); // (n) written, host value, (n)

/* ---- optimiser ---- */
int cdt_adam_step_cuda(cdt_cuda_ctx *ctx,
                       float *param,      // (n) updated
                       float *m,          // (n) updated
                       float *v,          // (n) updated
                       const float *grad, // (n)
                       size_t n, long t, const cdt_adam_params *p);
/* The norm is summed in double in a fixed order (a fixed grid, not one
 * that follows the device), so runs repeat on any GPU. */
int cdt_clip_grad_norm_cuda(cdt_cuda_ctx *ctx,
                            double *norm,  // (1) device: the norm before clipping
                            float *grad,   // (n)
                            size_t n, double max_norm);

#ifdef __cplusplus
}
#endif

#endif
