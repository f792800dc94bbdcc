/* resize.c: antialiased bilinear resize of u8 images, as PyTorch does it.
 *
 * torchvision 0.14's resized_crop(..., antialias=True) on a uint8 tensor
 * casts to float32, calls torch.nn.functional.interpolate(mode="bilinear",
 * align_corners=False, antialias=True), then rounds half to even and casts
 * back. interpolate's antialiased kernel is separable: the width is resized
 * first (rows of the box into a float buffer), then the height. Each output
 * pixel is a normalised sum of a triangle filter stretched by the scale when
 * shrinking. We keep its float32 arithmetic and summation order so that
 * results agree to the last grey level in nearly every pixel.
 */
#include "cdt_resize.h"

#include <math.h>
#include <string.h>

#include "cdt_core.h"

/* Filter support of one axis: a triangle of radius 1 in output pixels,
 * i.e. radius scale in input pixels when shrinking. */
static float axis_scale(int in, int out) { return (float)in / (float)out; }
static float axis_support(float scale) { return scale >= 1.0f ? scale : 1.0f; }

/* Most taps one output pixel can use: the window [center - support + 0.5,
 * center + support + 0.5) truncated to integers. */
static int axis_taps(int in, int out)
{
    int k = (int)ceilf(2.0f * axis_support(axis_scale(in, out))) + 1;
    return k < in ? k : in;
}

size_t cdt_resize_scratch(int c, int bh, int bw, int oh, int ow)
{
    size_t tmp = (size_t)c * (size_t)bh * (size_t)ow;          /* (C,BH,OW) */
    size_t wx = (size_t)ow * (size_t)(axis_taps(bw, ow) + 2);  /* taps + first, count */
    size_t wy = (size_t)oh * (size_t)(axis_taps(bh, oh) + 2);
    return tmp + wx + wy + (size_t)ow;                          /* + a row of sums */
}

static float triangle(float x)
{
    if (x < 0.0f)
        x = -x;
    return x < 1.0f ? 1.0f - x : 0.0f;
}

/* Weights of one axis, laid out per output pixel as [first, count, w0..wk-1].
 * first and count are small integers kept in float slots (exact below 2^24)
 * so that all scratch is one float buffer. The mixed float/double arithmetic
 * copies ATen's _compute_weights_aa, where center and friends are float but
 * the 0.5 literals are double. */
static void axis_weights(float *tab, int in, int out, int k)
{
    float scale = axis_scale(in, out);
    float support = axis_support(scale);
    float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    for (int i = 0; i < out; i++) {
        float *t = tab + (size_t)i * (size_t)(k + 2);
        float center = (float)(scale * (i + 0.5));
        long lo = (long)((double)(center - support) + 0.5);
        long hi = (long)((double)(center + support) + 0.5);
        if (lo < 0)
            lo = 0;
        if (hi > in)
            hi = in;
        long n = hi - lo;
        CDT_ASSERT(n >= 1 && n <= k);
        float total = 0.0f;
        for (long j = 0; j < n; j++) {
            float d = (float)(j + lo) - center;
            float w = triangle((float)(((double)d + 0.5) * invscale));
            t[2 + j] = w;
            total += w;
        }
        for (long j = 0; j < n; j++)
            if (total != 0.0f)
                t[2 + j] /= total;
        t[0] = (float)lo;
        t[1] = (float)n;
    }
}

/* Width pass: rows [top, top+bh) of the box into tmp (C,BH,OW). */
static void pass_x(float *tmp, const uint8_t *src, int c, int h, int w,
                   int top, int left, int bh, int ow, const float *tab, int k)
{
    for (int ch = 0; ch < c; ch++)
        for (int r = 0; r < bh; r++) {
            const uint8_t *row = src + ((size_t)ch * h + (size_t)(top + r)) * w + left;
            float *o = tmp + ((size_t)ch * bh + r) * ow;
            for (int x = 0; x < ow; x++) {
                const float *t = tab + (size_t)x * (size_t)(k + 2);
                const uint8_t *p = row + (int)t[0];
                int n = (int)t[1];
                float acc = (float)p[0] * t[2];
                for (int j = 1; j < n; j++)
                    acc += (float)p[j] * t[2 + j];
                o[x] = acc;
            }
        }
}

/* torch.round (half to even), then to u8. Adding 2^23 to a value in
 * [0, 255] leaves no fraction bits, so the FPU rounds it in its default
 * mode, half to even, with no libm call to stop the loop vectorising. */
static inline uint8_t round_u8(float v)
{
    v = v > 0.0f ? v : 0.0f;
    v = v < 255.0f ? v : 255.0f;
    return (uint8_t)(int)((v + 8388608.0f) - 8388608.0f);
}

/* Height pass: tmp (C,BH,OW) into dst (C,OH,OW). A whole output row is
 * summed tap after tap in acc (OW), so the inner loops run along x and
 * vectorise while each pixel still sums its taps in ATen's order. */
static void pass_y(uint8_t *dst, const float *tmp, int c, int bh, int oh, int ow,
                   const float *tab, int k, float *acc)
{
    for (int ch = 0; ch < c; ch++) {
        const float *plane = tmp + (size_t)ch * bh * ow;
        for (int y = 0; y < oh; y++) {
            const float *t = tab + (size_t)y * (size_t)(k + 2);
            const float *base = plane + (size_t)(int)t[0] * ow;
            int n = (int)t[1];
            float w0 = t[2];
#pragma omp simd
            for (int x = 0; x < ow; x++)
                acc[x] = base[x] * w0;
            for (int j = 1; j < n; j++) {
                const float *row = base + (size_t)j * ow;
                float wj = t[2 + j];
#pragma omp simd
                for (int x = 0; x < ow; x++)
                    acc[x] += row[x] * wj;
            }
            uint8_t *o = dst + ((size_t)ch * oh + y) * ow;
#pragma omp simd
            for (int x = 0; x < ow; x++)
                o[x] = round_u8(acc[x]);
        }
    }
}

void cdt_resize_u8(uint8_t *dst, int oh, int ow,
                   const uint8_t *src, int c, int h, int w,
                   int top, int left, int bh, int bw, float *scratch)
{
    CDT_ASSERT(dst && src && scratch && c > 0 && oh > 0 && ow > 0);
    CDT_ASSERT(top >= 0 && left >= 0 && bh > 0 && bw > 0);
    CDT_ASSERT(top + bh <= h && left + bw <= w);
    int kx = axis_taps(bw, ow), ky = axis_taps(bh, oh);
    float *tmp = scratch;                                  /* (C,BH,OW) */
    float *tx = tmp + (size_t)c * bh * ow;                 /* (OW,KX+2) */
    float *ty = tx + (size_t)ow * (size_t)(kx + 2);        /* (OH,KY+2) */
    float *acc = ty + (size_t)oh * (size_t)(ky + 2);       /* (OW) */
    axis_weights(tx, bw, ow, kx);
    axis_weights(ty, bh, oh, ky);
    pass_x(tmp, src, c, h, w, top, left, bh, ow, tx, kx);
    pass_y(dst, tmp, c, bh, oh, ow, ty, ky, acc);
}

/* The box of (h, w) with the aspect of (oh, ow), centred. */
static void crop_box(int h, int w, int oh, int ow, int *top, int *left, int *bh, int *bw)
{
    *bh = h;
    *bw = w;
    if ((int64_t)w * oh > (int64_t)h * ow)
        *bw = (int)(((int64_t)h * ow + oh / 2) / oh);
    else
        *bh = (int)(((int64_t)w * oh + ow / 2) / ow);
    *bw = *bw < 1 ? 1 : *bw;
    *bh = *bh < 1 ? 1 : *bh;
    *top = (h - *bh) / 2;
    *left = (w - *bw) / 2;
}

/* The size of (h, w) scaled to fit inside (oh, ow), aspect kept. */
static void pad_size(int h, int w, int oh, int ow, int *nh, int *nw)
{
    if ((int64_t)w * oh > (int64_t)h * ow) {
        *nw = ow;
        *nh = (int)(((int64_t)h * ow + w / 2) / w);
    } else {
        *nh = oh;
        *nw = (int)(((int64_t)w * oh + h / 2) / h);
    }
    *nh = *nh < 1 ? 1 : *nh > oh ? oh : *nh;
    *nw = *nw < 1 ? 1 : *nw > ow ? ow : *nw;
}

size_t cdt_fit_scratch(int c, int h, int w, int oh, int ow)
{
    int top, left, bh, bw, nh, nw;
    crop_box(h, w, oh, ow, &top, &left, &bh, &bw);
    size_t a = cdt_resize_scratch(c, bh, bw, oh, ow), b = cdt_resize_scratch(c, h, w, oh, ow);
    pad_size(h, w, oh, ow, &nh, &nw);
    /* pad: the resized image (C,NH,NW) in bytes, rounded up to floats */
    size_t p = cdt_resize_scratch(c, h, w, nh, nw) + ((size_t)c * nh * nw + 3) / 4;
    size_t m = a > b ? a : b;
    return m > p ? m : p;
}

void cdt_fit_u8(uint8_t *dst, int oh, int ow, const uint8_t *src, int c, int h, int w,
                int fit, float *scratch)
{
    CDT_ASSERT(fit == CDT_FIT_CROP || fit == CDT_FIT_PAD || fit == CDT_FIT_STRETCH);
    if (fit == CDT_FIT_STRETCH) {
        cdt_resize_u8(dst, oh, ow, src, c, h, w, 0, 0, h, w, scratch);
    } else if (fit == CDT_FIT_CROP) {
        int top, left, bh, bw;
        crop_box(h, w, oh, ow, &top, &left, &bh, &bw);
        cdt_resize_u8(dst, oh, ow, src, c, h, w, top, left, bh, bw, scratch);
    } else {
        int nh, nw;
        pad_size(h, w, oh, ow, &nh, &nw);
        size_t rs = cdt_resize_scratch(c, h, w, nh, nw);
        uint8_t *img = (uint8_t *)(scratch + rs); /* (C,NH,NW) */
        cdt_resize_u8(img, nh, nw, src, c, h, w, 0, 0, h, w, scratch);
        memset(dst, 0, (size_t)c * oh * ow);
        int y0 = (oh - nh) / 2, x0 = (ow - nw) / 2;
        for (int k = 0; k < c; k++)
            for (int y = 0; y < nh; y++)
                memcpy(dst + ((size_t)k * oh + y0 + y) * ow + x0, img + ((size_t)k * nh + y) * nw,
                       (size_t)nw);
    }
}
