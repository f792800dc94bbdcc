/* f64.c: the double twins of the layers (cdt_*_f64), for finite-difference
 * tests. Each layer file is written over `real` (see real.h); here it is
 * compiled a second time with real = double. Layer files therefore keep their
 * static helpers' names distinct from one another. */
#define CDT_NN_F64 1
#include "conv2d.c"
#include "batchnorm.c"
#include "activation.c"
#include "pool.c"
#include "linear.c"
#include "ntxent.c"
#include "entropy.c"
