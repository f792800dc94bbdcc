/* entropy.c: the normalised binary entropy of the feature heads, in bits,
 * averaged over n outputs p in (0,1); the 1e-12 keeps the log finite at
 * saturated heads, as in the reference. CD maximises it (loss term -H). */
#include "cdt_nn.h"
#include "real.h"

#define ENT_EPS 1e-12

real NN(cdt_entropy_forward)(const real *p, // (n)
                             size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double q = p[i];
        s -= q * log(q + ENT_EPS) + (1 - q) * log(1 - q + ENT_EPS);
    }
    return (real)(s / (n * log(2.0)));
}

void NN(cdt_entropy_backward)(real *dp,      // (n) written
                              real dh,       // dL/dH
                              const real *p, // (n)
                              size_t n)
{
    double k = -(double)dh / (n * log(2.0));
    for (size_t i = 0; i < n; i++) {
        double q = p[i];
        dp[i] = (real)(k * (log(q + ENT_EPS) + q / (q + ENT_EPS) -
                            log(1 - q + ENT_EPS) - (1 - q) / (1 - q + ENT_EPS)));
    }
}
