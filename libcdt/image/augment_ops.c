/* augment_ops.c: the pixel ops of cdt_augment.h, each copying the float32
 * arithmetic and the u8 conversions of torchvision 0.14's functional_tensor
 * on uint8 tensors:
 *   _blend:        (ratio*img1 + (1-ratio)*img2).clamp(0, 255).to(uint8),
 *                  which truncates; ratio is a float32 scalar, (1-ratio) is
 *                  computed in double first and then made float32;
 *   grey:          (0.2989*r + 0.587*g + 0.114*b).to(uint8), truncating;
 *   adjust_hue:    /255 in float32, HSV round trip, *255, truncating;
 *   gaussian_blur: float32 convolution, then round half to even.
 * The order of float operations follows the Python expressions, so that
 * the bytes agree with torchvision's except where a float32 summation order
 * we cannot see (conv2d) differs.
 */
#include "cdt_augment.h"

#include <math.h>

#include "cdt_core.h"

void cdt_crop_params(int box[4], cdt_rng *r, int h, int w, double scale_lo,
                     double scale_hi, double ratio_lo, double ratio_hi)
{
    double area = (double)h * (double)w;
    double lr0 = log(ratio_lo), lr1 = log(ratio_hi);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * cdt_rng_range(r, scale_lo, scale_hi);
        double aspect = exp(cdt_rng_range(r, lr0, lr1));
        /* Python's round() is half to even, as nearbyint in the default mode. */
        double cw = nearbyint(sqrt(target * aspect));
        double ch = nearbyint(sqrt(target / aspect));
        if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
            box[2] = (int)ch;
            box[3] = (int)cw;
            box[0] = (int)cdt_rng_below(r, (uint64_t)(h - box[2] + 1));
            box[1] = (int)cdt_rng_below(r, (uint64_t)(w - box[3] + 1));
            return;
        }
    }
    double in_ratio = (double)w / (double)h;
    int ch = h, cw = w;
    if (in_ratio < ratio_lo)
        ch = (int)nearbyint(cw / ratio_lo);
    else if (in_ratio > ratio_hi)
        cw = (int)nearbyint(ch * ratio_hi);
    box[0] = (h - ch) / 2;
    box[1] = (w - cw) / 2;
    box[2] = ch;
    box[3] = cw;
}

void cdt_hflip_u8(uint8_t *img, int c, int h, int w)
{
    for (size_t row = 0; row < (size_t)c * (size_t)h; row++) {
        uint8_t *p = img + row * (size_t)w;
        for (int i = 0, j = w - 1; i < j; i++, j--) {
            uint8_t t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }
}

/* Float to u8 as Tensor.to(uint8) after a clamp to [0, 255]: truncation.
 * Truncating first and clamping the integer gives the same byte, and
 * integer selects let the loops over pixels vectorise where float compares
 * would not (GCC keeps them as branches under -ftrapping-math). Inputs are
 * finite blends of bytes, far inside int's range. */
static inline uint8_t clamp_trunc(float v)
{
    int i = (int)v;
    i = i < 0 ? 0 : i;
    i = i > 255 ? 255 : i;
    return (uint8_t)i;
}

static inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b)
{
    return clamp_trunc(0.2989f * (float)r + 0.587f * (float)g + 0.114f * (float)b);
}

void cdt_adjust_brightness_u8(uint8_t *img, int c, int h, int w, double factor)
{
    float a = (float)factor;
    size_t n = (size_t)c * (size_t)h * (size_t)w;
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        img[i] = clamp_trunc(a * (float)img[i]);
}

void cdt_adjust_contrast_u8(uint8_t *img, int c, int h, int w, double factor)
{
    size_t hw = (size_t)h * (size_t)w, n = (size_t)c * hw;
    /* The grey mean is a float32 sum of integers below 2^24, hence exact,
     * divided by the count, as torch.mean gives it. */
    double sum = 0.0;
    uint64_t isum = 0;
    if (c == 3) {
#pragma omp simd reduction(+ : isum)
        for (size_t i = 0; i < hw; i++)
            isum += luma(img[i], img[hw + i], img[2 * hw + i]);
    } else {
#pragma omp simd reduction(+ : isum)
        for (size_t i = 0; i < n; i++)
            isum += img[i];
    }
    sum = (double)isum;
    float mean = (float)sum / (float)(c == 3 ? hw : n);
    float a = (float)factor, b = (float)(1.0 - factor);
    float bm = b * mean;
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        img[i] = clamp_trunc(a * (float)img[i] + bm);
}

void cdt_adjust_saturation_u8(uint8_t *img, int c, int h, int w, double factor)
{
    if (c != 3)
        return;
    size_t hw = (size_t)h * (size_t)w;
    float a = (float)factor, b = (float)(1.0 - factor);
    uint8_t *r = img, *g = img + hw, *bl = img + 2 * hw;
#pragma omp simd
    for (size_t i = 0; i < hw; i++) {
        float bg = b * (float)luma(r[i], g[i], bl[i]);
        r[i] = clamp_trunc(a * (float)r[i] + bg);
        g[i] = clamp_trunc(a * (float)g[i] + bg);
        bl[i] = clamp_trunc(a * (float)bl[i] + bg);
    }
}

/* _rgb2hsv, the hue shift and _hsv2rgb of one pixel, in float32 with
 * torchvision's operations, rewritten so that the loop vectorises and the
 * bits stay the same:
 *  - which channel is the max or min is decided on the bytes: x/255 is
 *    increasing, so float max and equality follow the integers;
 *  - fmod(x, 1) and remainder(x, 1) add or take away one period where
 *    torch does, with the same float32 results (x - 1 is exact for x in
 *    [1, 2), and x + 1 is torch's own step for negative x);
 *  - _hsv2rgb's clamps to [0, 1] are dropped: v, s and f lie in [0, 1], so
 *    every product does too, even rounded. */
static inline void hue_pixel(int r8, int g8, int b8, float shift,
                             float *or_, float *og, float *ob)
{
    int mx8 = r8 > g8 ? r8 : g8, mn8 = r8 < g8 ? r8 : g8;
    mx8 = mx8 > b8 ? mx8 : b8;
    mn8 = mn8 < b8 ? mn8 : b8;
    float r = (float)r8 / 255.0f, g = (float)g8 / 255.0f, b = (float)b8 / 255.0f;
    float maxc = (float)mx8 / 255.0f, minc = (float)mn8 / 255.0f;
    int eqc = mx8 == mn8, rmax = mx8 == r8, gmax = mx8 == g8;
    float cr = maxc - minc;
    float s = cr / (eqc ? 1.0f : maxc);
    float crd = eqc ? 1.0f : cr;
    float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
    float hr = rmax ? bc - gc : 0.0f;
    float hg = (gmax & !rmax) ? 2.0f + rc - bc : 0.0f;
    float hb = (!gmax & !rmax) ? 4.0f + gc - rc : 0.0f;
    float hh = (hr + hg + hb) / 6.0f + 1.0f;     /* in [5/6, 11/6] */
    hh = hh - (float)(int)hh;                    /* fmod(hh, 1) */
    hh = hh + shift;                             /* in [-0.5, 1.5] */
    /* remainder(hh, 1): fmod keeps hh, then one period is added where it is
     * negative or taken away where it is 1 or more */
    hh = hh + (float)(hh < 0.0f) - (float)(hh >= 1.0f);
    float v = maxc;
    int i = (int)(hh * 6.0f);                    /* floor: hh * 6 >= 0 */
    float f = hh * 6.0f - (float)i;
    i = i == 6 ? 0 : i;
    float p = v * (1.0f - s);
    float q = v * (1.0f - s * f);
    float t = v * (1.0f - s * (1.0f - f));
    /* sector i: (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q) */
    *or_ = ((i == 0) | (i == 5)) ? v : i == 1 ? q : i == 4 ? t : p;
    *og = i == 0 ? t : ((i == 1) | (i == 2)) ? v : i == 3 ? q : p;
    *ob = ((i == 0) | (i == 1)) ? p : i == 2 ? t : ((i == 3) | (i == 4)) ? v : q;
}

void cdt_adjust_hue_u8(uint8_t *img, int c, int h, int w, double factor)
{
    if (c != 3)
        return;
    size_t hw = (size_t)h * (size_t)w;
    float shift = (float)factor;
    uint8_t *r = img, *g = img + hw, *b = img + 2 * hw;
#pragma omp simd
    for (size_t i = 0; i < hw; i++) {
        float nr, ng, nb;
        hue_pixel(r[i], g[i], b[i], shift, &nr, &ng, &nb);
        r[i] = clamp_trunc(nr * 255.0f);
        g[i] = clamp_trunc(ng * 255.0f);
        b[i] = clamp_trunc(nb * 255.0f);
    }
}

void cdt_grayscale_u8(uint8_t *img, int c, int h, int w)
{
    if (c != 3)
        return;
    size_t hw = (size_t)h * (size_t)w;
    uint8_t *r = img, *g = img + hw, *b = img + 2 * hw;
#pragma omp simd
    for (size_t i = 0; i < hw; i++)
        r[i] = g[i] = b[i] = luma(r[i], g[i], b[i]);
}

size_t cdt_blur_scratch(int c, int h, int w, int k)
{
    (void)c;
    /* A float plane for the row pass, the kernel, a padded row, a row of
     * sums. */
    return (size_t)h * (size_t)w + (size_t)k + (size_t)w + (size_t)k + (size_t)w;
}

/* Index into 0..n-1 with reflect padding (the edge is not repeated),
 * folding as often as needed so that tiny images work too. */
static int reflect(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

/* torchvision's _get_gaussian_kernel1d in float32: linspace gives exact
 * integers, then exp(-0.5 (x/sigma)^2) normalised by its sum. */
static void gauss_kernel(float *kern, int k, double sigma)
{
    float s = (float)sigma, sum = 0.0f;
    for (int i = 0; i < k; i++) {
        float x = (float)(i - (k - 1) / 2) / s;
        kern[i] = expf(-0.5f * (x * x));
        sum += kern[i];
    }
    for (int i = 0; i < k; i++)
        kern[i] /= sum;
}

/* Sum kern[j] * src row (y + j - r) into acc, row after row, so that the
 * inner loops run along contiguous x and vectorise; each output still sums
 * its taps in order j = 0..k-1. */
static void blur_rows(float *tmp, const uint8_t *plane, float *line, const float *kern,
                      int h, int w, int k)
{
    int r = k / 2;
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w + 2 * r; i++)
            line[i] = plane[(size_t)y * w + reflect(i - r, w)];
        float *o = tmp + (size_t)y * w;
        for (int x = 0; x < w; x++)
            o[x] = 0.0f;
        for (int j = 0; j < k; j++) {
            float kj = kern[j];
            const float *l = line + j;
#pragma omp simd
            for (int x = 0; x < w; x++)
                o[x] += kj * l[x];
        }
    }
}

static void blur_cols(uint8_t *plane, const float *tmp, float *acc, const float *kern,
                      int h, int w, int k)
{
    int r = k / 2;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            acc[x] = 0.0f;
        for (int j = 0; j < k; j++) {
            float kj = kern[j];
            const float *row = tmp + (size_t)reflect(y + j - r, h) * w;
#pragma omp simd
            for (int x = 0; x < w; x++)
                acc[x] += kj * row[x];
        }
        uint8_t *o = plane + (size_t)y * w;
#pragma omp simd
        for (int x = 0; x < w; x++) {
            float v = acc[x] > 0.0f ? acc[x] : 0.0f;
            v = v < 255.0f ? v : 255.0f;
            /* round half to even without a libm call: adding 2^23 leaves
             * no fraction bits, so the FPU rounds in its default mode */
            o[x] = (uint8_t)(int)((v + 8388608.0f) - 8388608.0f);
        }
    }
}

void cdt_gaussian_blur_u8(uint8_t *img, int c, int h, int w, int k, double sigma,
                          float *scratch)
{
    CDT_ASSERT(k > 0 && k % 2 == 1);
    float *tmp = scratch;                       /* (H,W) */
    float *kern = tmp + (size_t)h * w;          /* (K) */
    float *line = kern + k;                     /* (W+K) */
    float *acc = line + w + k;                  /* (W) */
    gauss_kernel(kern, k, sigma);
    /* The 2-D kernel is the outer product of two 1-D ones, so two 1-D
     * passes give the same sums up to float32 ordering. */
    for (int ch = 0; ch < c; ch++) {
        uint8_t *plane = img + (size_t)ch * h * w;
        blur_rows(tmp, plane, line, kern, h, w, k);
        blur_cols(plane, tmp, acc, kern, h, w, k);
    }
}
