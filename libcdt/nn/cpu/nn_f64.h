/* nn_f64.h: the double twins of the CPU layers (same names with the suffix
 * _f64, same arguments over double buffers), built by f64.c from the same
 * sources through real.h. Private: only the finite-difference tests use
 * them, so they are not part of the installed cdt_nn.h. */
#ifndef CDT_NN_F64_H
#define CDT_NN_F64_H

#include <stddef.h>
#include <stdint.h>
#include "cdt_nn.h"

void cdt_conv2d_forward_f64(double *out, const double *x, const double *w,
                            double *scratch, const cdt_conv2d_params *p);
void cdt_conv2d_backward_f64(double *dx, double *dw, const double *dout,
                             const double *x, const double *w, double *scratch,
                             const cdt_conv2d_params *p);
void cdt_batchnorm_forward_f64(double *out, double *mean, double *invstd,
                               double *running_mean, double *running_var,
                               const double *x, const double *gamma,
                               const double *beta, const cdt_bn_params *p);
void cdt_batchnorm_forward_eval_f64(double *out, const double *x,
                                    const double *gamma, const double *beta,
                                    const double *running_mean,
                                    const double *running_var,
                                    const cdt_bn_params *p);
void cdt_batchnorm_backward_f64(double *dx, double *dgamma, double *dbeta,
                                const double *dout, const double *x,
                                const double *mean, const double *invstd,
                                const double *gamma, const cdt_bn_params *p);
void cdt_batchnorm_relu_forward_f64(double *out, double *mean, double *invstd,
                                    double *running_mean, double *running_var,
                                    const double *x, const double *gamma,
                                    const double *beta, const cdt_bn_params *p);
void cdt_batchnorm_sums_f64(double *sum, const double *x, const double *center,
                            const cdt_bn_params *p);
void cdt_batchnorm_forward_with_f64(double *out, double *mean, double *invstd,
                                    double *running_mean, double *running_var,
                                    const double *x, const double *gamma, const double *beta,
                                    const double *gmean, const double *gvar, double count,
                                    const cdt_bn_params *p);
void cdt_batchnorm_backward_sums_f64(double *sums, const double *dout, const double *x,
                                     const double *mean, const double *invstd,
                                     const cdt_bn_params *p);
void cdt_batchnorm_backward_with_f64(double *dx, double *dgamma, double *dbeta,
                                     const double *local, const double *global, double count,
                                     const double *dout, const double *x, const double *mean,
                                     const double *invstd, const double *gamma,
                                     const cdt_bn_params *p);
void cdt_relu_forward_f64(double *out, const double *x, size_t n);
void cdt_relu_backward_f64(double *dx, const double *dout, const double *out, size_t n);
void cdt_sigmoid_forward_f64(double *out, const double *x, size_t n);
void cdt_sigmoid_backward_f64(double *dx, const double *dout, const double *out, size_t n);
void cdt_add_forward_f64(double *out, const double *a, const double *b, size_t n);
void cdt_add_relu_forward_f64(double *out, const double *a, const double *b, size_t n);
void cdt_add_relu_backward_f64(double *dout, double *db, const double *out, int acc, size_t n);
void cdt_maxpool_forward_f64(double *out, int32_t *argmax, const double *x,
                             const cdt_maxpool_params *p);
void cdt_maxpool_backward_f64(double *dx, const double *dout,
                              const int32_t *argmax, const cdt_maxpool_params *p);
void cdt_avgpool_forward_f64(double *out, const double *x, int n, int c, int hw);
void cdt_avgpool_backward_f64(double *dx, const double *dout, int n, int c, int hw);
void cdt_linear_forward_f64(double *out, const double *x, const double *w,
                            const double *b, const cdt_linear_params *p);
void cdt_linear_backward_f64(double *dx, double *dw, double *db,
                             const double *dout, const double *x,
                             const double *w, const cdt_linear_params *p);
double cdt_ntxent_forward_f64(const double *z1, const double *z2,
                              double *scratch, const cdt_ntxent_params *p);
void cdt_ntxent_backward_f64(double *dz1, double *dz2, double dloss,
                             const double *z1, const double *z2,
                             double *scratch, const cdt_ntxent_params *p);
double cdt_entropy_forward_f64(const double *p, size_t n);
void cdt_entropy_backward_f64(double *dp, double dh, const double *p, size_t n);

#endif
