/* conv2d.cu: the twin of nn/cpu/conv2d.c, without the CPU's lanes and
 * shifted copies (they serve caches and cores a GPU does not have): a
 * group of G images is laid side by side by im2col,
 * col (C*KH*KW, G*OH*OW), one gemm makes (OC, G*OH*OW), and a copy turns
 * that into NCHW. G is the most images whose col and result fit a fixed
 * budget of 16M floats, so the scratch size is cdt_conv2d_scratch_cuda's.
 * col2im gathers (one thread per input pixel, adding its kernel taps in
 * the CPU's order) rather than scattering with atomics. */
#include "cuda_internal.cuh"
#include "nn/backend.h"

/* 16M elements (64 MiB) of scratch unless one image needs more. */
#define CONV_SCRATCH_BUDGET ((size_t)1 << 24)

static int conv_oh(const cdt_conv2d_params *p) { return (p->h + 2 * p->pad - p->kh) / p->stride + 1; }
static int conv_ow(const cdt_conv2d_params *p) { return (p->w + 2 * p->pad - p->kw) / p->stride + 1; }

static int conv_group(const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)conv_oh(p) * conv_ow(p);
    size_t per_image = ((size_t)p->c * p->kh * p->kw + p->oc) * ohw;
    size_t g = CONV_SCRATCH_BUDGET / per_image;
    if (g < 1) g = 1;
    return g < (size_t)p->n ? (int)g : p->n;
}

extern "C" size_t cdt_conv2d_scratch_cuda(const cdt_conv2d_params *p)
{
    size_t ohw = (size_t)conv_oh(p) * conv_ow(p);
    return ((size_t)p->c * p->kh * p->kw + p->oc) * ohw * conv_group(p);
}

/* One thread per col entry; consecutive threads write consecutive output
 * positions of one row. */
static __global__ void im2col(float *col, const float *x, int g, cdt_conv2d_params p,
                              int oh, int ow) // (K, G*OHW), (G,C,H,W)
{
    size_t ohw = (size_t)oh * ow, ld = ohw * g;
    CU_FOR(i, ld * p.c * p.kh * p.kw) {
        size_t r = i / ld, rem = i % ld, b = rem / ohw, o = rem % ohw;
        int kj = (int)(r % p.kw), ki = (int)(r / p.kw % p.kh), ci = (int)(r / ((size_t)p.kw * p.kh));
        int iy = (int)(o / ow) * p.stride - p.pad + ki, ix = (int)(o % ow) * p.stride - p.pad + kj;
        bool in = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
        col[i] = in ? x[((b * p.c + ci) * p.h + iy) * p.w + ix] : 0.0f;
    }
}

/* One thread per input pixel, adding its taps (ki, kj ascending, as the
 * CPU's row-by-row accumulation onto a zeroed plane). */
static __global__ void col2im(float *dx, const float *col, int g, cdt_conv2d_params p,
                              int oh, int ow) // (G,C,H,W), (K, G*OHW)
{
    size_t ohw = (size_t)oh * ow, ld = ohw * g;
    CU_FOR(i, (size_t)g * p.c * p.h * p.w) {
        int ix = (int)(i % p.w), iy = (int)(i / p.w % p.h);
        size_t plane = i / ((size_t)p.h * p.w);
        int ci = (int)(plane % p.c);
        size_t b = plane / p.c;
        float s = 0;
        for (int ki = 0; ki < p.kh; ki++) {
            int ty = iy + p.pad - ki;
            if (ty < 0 || ty % p.stride || ty / p.stride >= oh) continue;
            for (int kj = 0; kj < p.kw; kj++) {
                int tx = ix + p.pad - kj;
                if (tx < 0 || tx % p.stride || tx / p.stride >= ow) continue;
                size_t r = ((size_t)ci * p.kh + ki) * p.kw + kj;
                s += col[r * ld + b * ohw + (size_t)(ty / p.stride) * ow + tx / p.stride];
            }
        }
        dx[i] = s;
    }
}

/* (OC, G*OHW) <-> (G, OC, OHW). */
static __global__ void swap_layout(float *dst, const float *src, int g, int oc, size_t ohw,
                                   int to_nchw)
{
    CU_FOR(i, (size_t)g * oc * ohw) { // i indexes the NCHW side
        size_t s = i % ohw, o = i / ohw % oc, b = i / (ohw * oc);
        size_t j = o * g * ohw + b * ohw + s;
        if (to_nchw) dst[i] = src[j];
        else dst[j] = src[i];
    }
}

static int conv_swap(cdt_cuda_ctx *ctx, float *dst, const float *src, int g, int oc,
                     size_t ohw, int to_nchw)
{
    swap_layout<<<cu_blocks((size_t)g * oc * ohw), CU_THREADS, 0, ctx->stream>>>(dst, src, g, oc,
                                                                                ohw, to_nchw);
    CU_LAUNCHED(ctx);
    return 0;
}

static int conv_im2col(cdt_cuda_ctx *ctx, float *col, const float *x, int g,
                       const cdt_conv2d_params *p)
{
    int oh = conv_oh(p), ow = conv_ow(p);
    size_t n = (size_t)oh * ow * g * p->c * p->kh * p->kw;
    im2col<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(col, x, g, *p, oh, ow);
    CU_LAUNCHED(ctx);
    return 0;
}

static int conv_col2im(cdt_cuda_ctx *ctx, float *dx, const float *col, int g,
                       const cdt_conv2d_params *p)
{
    size_t n = (size_t)g * p->c * p->h * p->w;
    col2im<<<cu_blocks(n), CU_THREADS, 0, ctx->stream>>>(dx, col, g, *p, conv_oh(p), conv_ow(p));
    CU_LAUNCHED(ctx);
    return 0;
}

extern "C" int cdt_conv2d_forward_cuda(cdt_cuda_ctx *ctx, float *out, const float *x,
                                       const float *w, float *scratch,
                                       const cdt_conv2d_params *p)
{
    if (ctx->dnn) return cu_dnn_conv_forward(ctx, out, x, w, scratch, p);
    size_t ohw = (size_t)conv_oh(p) * conv_ow(p);
    int k = p->c * p->kh * p->kw, group = conv_group(p), rc;
    size_t in_sz = (size_t)p->c * p->h * p->w;
    for (int b0 = 0; b0 < p->n; b0 += group) {
        int g = p->n - b0 < group ? p->n - b0 : group, ld = (int)(g * ohw);
        float *col = scratch, *res = scratch + (size_t)k * g * ohw;
        float *ob = out + (size_t)b0 * p->oc * ohw;
        if ((rc = conv_im2col(ctx, col, x + b0 * in_sz, g, p)) < 0) return rc;
        // (OC, G*OHW) = W (OC, K) col (K, G*OHW); one image: straight into out
        if ((rc = cu_gemm(ctx, 0, 0, p->oc, ld, k, 1, w, k, col, ld, 0, g == 1 ? ob : res, ld)) < 0)
            return rc;
        if (g > 1 && (rc = conv_swap(ctx, ob, res, g, p->oc, ohw, 1)) < 0) return rc;
    }
    return 0;
}

extern "C" int cdt_conv2d_backward_cuda(cdt_cuda_ctx *ctx, float *dx, float *dw,
                                        const float *dout, const float *x, const float *w,
                                        float *scratch, const cdt_conv2d_params *p)
{
    if (ctx->dnn) return cu_dnn_conv_backward(ctx, dx, dw, dout, x, w, scratch, p);
    size_t ohw = (size_t)conv_oh(p) * conv_ow(p);
    int k = p->c * p->kh * p->kw, group = conv_group(p), rc;
    size_t in_sz = (size_t)p->c * p->h * p->w;
    for (int b0 = 0; b0 < p->n; b0 += group) {
        int g = p->n - b0 < group ? p->n - b0 : group, ld = (int)(g * ohw);
        float *col = scratch, *res = scratch + (size_t)k * g * ohw;
        const float *db = dout + (size_t)b0 * p->oc * ohw, *dres = db;
        if ((rc = conv_im2col(ctx, col, x + b0 * in_sz, g, p)) < 0) return rc;
        if (g > 1) {
            if ((rc = conv_swap(ctx, res, db, g, p->oc, ohw, 0)) < 0) return rc;
            dres = res;
        }
        // dW (OC, K) += dout (OC, G*OHW) col^T (G*OHW, K)
        if ((rc = cu_gemm(ctx, 0, 1, p->oc, k, ld, 1, dres, ld, col, ld, 1, dw, k)) < 0) return rc;
        if (!dx) continue;
        // dcol (K, G*OHW) = W^T (K, OC) dout (OC, G*OHW), over col
        if ((rc = cu_gemm(ctx, 1, 0, k, ld, p->oc, 1, w, k, dres, ld, 0, col, ld)) < 0) return rc;
        if ((rc = conv_col2im(ctx, dx + b0 * in_sz, col, g, p)) < 0) return rc;
    }
    return 0;
}

/* The CUDA table's entry (nn/backend.h). */
static size_t conv_scratch(const void *p)
{
    return cdt_conv2d_scratch_cuda((const cdt_conv2d_params *)p);
}

static int conv_fwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_conv2d_forward_cuda((cdt_cuda_ctx *)ctx, a->out, a->x, a->w, a->scratch,
                                   (const cdt_conv2d_params *)a->p);
}

static int conv_bwd(void *ctx, const cdt_layer_args *a)
{
    return cdt_conv2d_backward_cuda((cdt_cuda_ctx *)ctx, a->dx, a->dw, a->dout, a->x, a->w, a->scratch,
                                    (const cdt_conv2d_params *)a->p);
}

const cdt_layer_i cdt_conv2d_layer_cuda = {"conv2d", conv_scratch, conv_fwd, conv_bwd};
