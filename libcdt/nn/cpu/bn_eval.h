/* bn_eval.h: batch norm in eval mode (running statistics) as the last
 * step of the layer before it: conv2d.c runs it on each group of images
 * while the group's output is still in cache, fused with the residual add
 * and the ReLU that may follow. batchnorm.c's code, so the values are
 * those of cdt_batchnorm_forward_eval, then cdt_add_forward and
 * cdt_relu_forward. Over real: include real.h first. */
#ifndef CDT_NN_BN_EVAL_H
#define CDT_NN_BN_EVAL_H

#include "cdt_nn.h"

/* out = bn(x) (+ res) (then ReLU where relu), over p's (n, c, hw); out
 * may be x or res. One thread. */
void NN(cdt_bn_eval_post)(real *out,                // (N,C,HW)
                          const real *x,            // (N,C,HW)
                          const real *res,          // (N,C,HW) or NULL
                          int relu,
                          const real *gamma,        // (C)
                          const real *beta,         // (C)
                          const real *running_mean, // (C)
                          const real *running_var,  // (C)
                          const cdt_bn_params *p);

#endif
