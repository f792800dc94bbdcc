/* pool.c: max pooling (the ImageNet stem's 3x3/2 pad 1) and global average
 * pooling (the backbone's last layer, giving h). */
#include "cdt_nn.h"
#include "nn/backend.h"
#include "real.h"

#include <string.h>

#ifndef CDT_NN_F64
int cdt_maxpool_out_h(const cdt_maxpool_params *p)
{
    return (p->h + 2 * p->pad - p->k) / p->stride + 1;
}

int cdt_maxpool_out_w(const cdt_maxpool_params *p)
{
    return (p->w + 2 * p->pad - p->k) / p->stride + 1;
}
#endif

/* Padding counts as -inf, as in PyTorch: a window always holds at least one
 * real pixel when pad <= k/2, which PyTorch requires. The first maximum in
 * row-major order wins a tie, and a NaN wins over numbers (as PyTorch). */
void NN(cdt_maxpool_forward)(real *out,        // (N,C,OH,OW)
                             int32_t *argmax,  // (N,C,OH,OW)
                             const real *x,    // (N,C,H,W)
                             const cdt_maxpool_params *p)
{
    int oh = cdt_maxpool_out_h(p), ow = cdt_maxpool_out_w(p), planes = p->n * p->c;
    #pragma omp parallel for if ((size_t)planes * p->h * p->w > NN_OMP_MIN)
    for (int pl = 0; pl < planes; pl++) {
        const real *xp = x + (size_t)pl * p->h * p->w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int best = -1;
                for (int i = 0; i < p->k; i++) {
                    int y = oy * p->stride - p->pad + i;
                    if (y < 0 || y >= p->h) continue;
                    for (int j = 0; j < p->k; j++) {
                        int xx = ox * p->stride - p->pad + j;
                        if (xx < 0 || xx >= p->w) continue;
                        int at = y * p->w + xx;
                        if (best < 0 || xp[at] > xp[best] || isnan(xp[at])) best = at;
                    }
                }
                size_t o = ((size_t)pl * oh + oy) * ow + ox;
                out[o] = xp[best];
                argmax[o] = best;
            }
    }
}

void NN(cdt_maxpool_backward)(real *dx,              // (N,C,H,W)
                              const real *dout,      // (N,C,OH,OW)
                              const int32_t *argmax, // (N,C,OH,OW)
                              const cdt_maxpool_params *p)
{
    int ohw = cdt_maxpool_out_h(p) * cdt_maxpool_out_w(p), planes = p->n * p->c;
    #pragma omp parallel for if ((size_t)planes * p->h * p->w > NN_OMP_MIN)
    for (int pl = 0; pl < planes; pl++) {
        real *dp = dx + (size_t)pl * p->h * p->w;
        memset(dp, 0, sizeof(real) * p->h * p->w);
        for (int o = 0; o < ohw; o++)
            dp[argmax[(size_t)pl * ohw + o]] += dout[(size_t)pl * ohw + o];
    }
}

void NN(cdt_avgpool_forward)(real *out,     // (N,C)
                             const real *x, // (N,C,HW)
                             int n, int c, int hw)
{
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        double s = 0;
        for (int i = 0; i < hw; i++) s += x[pl * hw + i];
        out[pl] = (real)(s / hw);
    }
}

void NN(cdt_avgpool_backward)(real *dx,         // (N,C,HW)
                              const real *dout, // (N,C)
                              int n, int c, int hw)
{
    for (size_t pl = 0; pl < (size_t)n * c; pl++)
        for (int i = 0; i < hw; i++) dx[pl * hw + i] = dout[pl] / hw;
}

#ifndef CDT_NN_F64
/* The CPU table's entries (nn/backend.h). */
static int maxpool_fwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    cdt_maxpool_forward(a->out, a->index, a->x, a->p);
    return 0;
}

static int maxpool_bwd(void *ctx, const cdt_layer_args *a)
{
    (void)ctx;
    cdt_maxpool_backward(a->dx, a->dout, a->index, a->p);
    return 0;
}

const cdt_layer_i cdt_maxpool_layer_cpu = {"maxpool", NULL, maxpool_fwd, maxpool_bwd};

static int avgpool_fwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_avgpool_params *p = a->p;
    (void)ctx;
    cdt_avgpool_forward(a->out, a->x, p->n, p->c, p->hw);
    return 0;
}

static int avgpool_bwd(void *ctx, const cdt_layer_args *a)
{
    const cdt_avgpool_params *p = a->p;
    (void)ctx;
    cdt_avgpool_backward(a->dx, a->dout, p->n, p->c, p->hw);
    return 0;
}

const cdt_layer_i cdt_avgpool_layer_cpu = {"avgpool", NULL, avgpool_fwd, avgpool_bwd};
#endif
