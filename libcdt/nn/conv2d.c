/* conv2d.c: 2-D convolution without bias, as im2col plus one gemm per image
 * (darknet's layout: the BLAS seam is a single call). Images are done one at
 * a time so the scratch is one image's column matrix, (C*KH*KW, OH*OW), and
 * OpenBLAS threads each gemm. A 1x1 stride-1 unpadded conv (the bottleneck
 * and projection convs) skips im2col: the image already is its column matrix. */
#include "cdt_nn.h"
#include "real.h"

#include <string.h>

#ifndef CDT_NN_F64
int cdt_conv2d_out_h(const cdt_conv2d_params *p)
{
    return (p->h + 2 * p->pad - p->kh) / p->stride + 1;
}

int cdt_conv2d_out_w(const cdt_conv2d_params *p)
{
    return (p->w + 2 * p->pad - p->kw) / p->stride + 1;
}

size_t cdt_conv2d_scratch(const cdt_conv2d_params *p)
{
    return (size_t)p->c * p->kh * p->kw * cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
}
#endif

static int conv_is_pointwise(const cdt_conv2d_params *p)
{
    return p->kh == 1 && p->kw == 1 && p->stride == 1 && p->pad == 0;
}

static void conv_im2col(real *col,     // (C*KH*KW, OH*OW)
                        const real *x, // (C,H,W)
                        const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), ow = cdt_conv2d_out_w(p);
    int rows = p->c * p->kh * p->kw;
    #pragma omp parallel for if (rows * oh * ow > 32768)
    for (int r = 0; r < rows; r++) {
        int kj = r % p->kw, ki = (r / p->kw) % p->kh, ci = r / (p->kw * p->kh);
        const real *plane = x + (size_t)ci * p->h * p->w;
        real *dst = col + (size_t)r * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int iy = oy * p->stride - p->pad + ki;
            for (int ox = 0; ox < ow; ox++) {
                int ix = ox * p->stride - p->pad + kj;
                int in = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
                dst[oy * ow + ox] = in ? plane[iy * p->w + ix] : 0;
            }
        }
    }
}

/* The adjoint of im2col: sums each column entry back onto its pixel. One
 * thread per input channel, so no two threads touch the same plane. */
static void conv_col2im(real *dx,        // (C,H,W) written
                        const real *col, // (C*KH*KW, OH*OW)
                        const cdt_conv2d_params *p)
{
    int oh = cdt_conv2d_out_h(p), ow = cdt_conv2d_out_w(p);
    #pragma omp parallel for if (p->c * p->kh * p->kw * oh * ow > 32768)
    for (int ci = 0; ci < p->c; ci++) {
        real *plane = dx + (size_t)ci * p->h * p->w;
        memset(plane, 0, sizeof(real) * p->h * p->w);
        for (int ki = 0; ki < p->kh; ki++)
            for (int kj = 0; kj < p->kw; kj++) {
                const real *src = col + ((size_t)(ci * p->kh + ki) * p->kw + kj) * oh * ow;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * p->stride - p->pad + ki;
                    if (iy < 0 || iy >= p->h) continue;
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * p->stride - p->pad + kj;
                        if (ix >= 0 && ix < p->w) plane[iy * p->w + ix] += src[oy * ow + ox];
                    }
                }
            }
    }
}

void NN(cdt_conv2d_forward)(real *out,         // (N,OC,OH,OW)
                            const real *x,     // (N,C,H,W)
                            const real *w,     // (OC,C,KH,KW)
                            real *scratch,     // (C*KH*KW, OH*OW)
                            const cdt_conv2d_params *p)
{
    int ohw = cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    int k = p->c * p->kh * p->kw;
    for (int b = 0; b < p->n; b++) {
        const real *xb = x + (size_t)b * p->c * p->h * p->w;
        const real *col = xb;
        if (!conv_is_pointwise(p)) {
            conv_im2col(scratch, xb, p);
            col = scratch;
        }
        // out_b (OC, OHW) = W (OC, K) col (K, OHW)
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->oc, ohw, k,
             1, w, k, col, ohw, 0, out + (size_t)b * p->oc * ohw, ohw);
    }
}

void NN(cdt_conv2d_backward)(real *dx,         // (N,C,H,W) or NULL
                             real *dw,         // (OC,C,KH,KW) +=
                             const real *dout, // (N,OC,OH,OW)
                             const real *x,    // (N,C,H,W)
                             const real *w,    // (OC,C,KH,KW)
                             real *scratch,    // (C*KH*KW, OH*OW)
                             const cdt_conv2d_params *p)
{
    int ohw = cdt_conv2d_out_h(p) * cdt_conv2d_out_w(p);
    int k = p->c * p->kh * p->kw;
    int pointwise = conv_is_pointwise(p);
    size_t in_sz = (size_t)p->c * p->h * p->w;
    for (int b = 0; b < p->n; b++) {
        const real *xb = x + (size_t)b * in_sz;
        const real *db = dout + (size_t)b * p->oc * ohw;
        const real *col = xb;
        if (!pointwise) {
            conv_im2col(scratch, xb, p);
            col = scratch;
        }
        // dW (OC, K) += dout_b (OC, OHW) col^T (OHW, K)
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, p->oc, k, ohw,
             1, db, ohw, col, ohw, 1, dw, k);
        if (!dx) continue;
        // dcol (K, OHW) = W^T (K, OC) dout_b (OC, OHW); pointwise: dcol is dx_b
        real *dcol = pointwise ? dx + (size_t)b * in_sz : scratch;
        GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, k, ohw, p->oc,
             1, w, k, db, ohw, 0, dcol, ohw);
        if (!pointwise) conv_col2im(dx + (size_t)b * in_sz, scratch, p);
    }
}
