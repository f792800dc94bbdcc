/* cdt_augment.h: SimCLR-style random views of u8 images, with torchvision's
 * semantics (torchvision 0.14, the uint8 tensor path).
 *
 * One view of one image, the way cdt-augment makes it:
 *
 *     cdt_augment_opts o = { .size = 32, .jitter = 0.5, .color = 1, .blur = 0 };
 *     float *scratch = malloc(cdt_augment_scratch(3, 32, 32, &o) * sizeof(float));
 *     cdt_rng r; cdt_augment_params p;
 *     cdt_rng_init(&r, seed, CDT_RNG_AUGMENT, epoch, id, view);
 *     cdt_augment_draw(&p, &r, 32, 32, &o);
 *     cdt_augment_apply(dst, src, 3, 32, 32, &p, &o, scratch);
 *
 * The chain is RandomResizedCrop(S, scale (crop_lo or 0.08, 1), ratio (3/4, 4/3),
 * antialias) -> RandomHorizontalFlip(0.5) -> RandomApply(ColorJitter(0.8s,
 * 0.8s, 0.8s, 0.2s), 0.8) -> RandomGrayscale(0.2) [-> RandomApply(
 * GaussianBlur(23, (0.1, 2.0)), 0.5)]. Each op is also a function of its own,
 * in place on one image (C,H,W), rounding back to u8 exactly where
 * torchvision's uint8 path does, so that results match it pixel for pixel
 * (or within one grey level where float summation order differs).
 */
#ifndef CDT_AUGMENT_H
#define CDT_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "cdt_rng.h"

/* ---- single ops ---- */

/* RandomResizedCrop.get_params: ten tries of area fraction U(scale_lo,
 * scale_hi) and log-uniform aspect ratio, then the centre-crop fallback.
 * box = top, left, height, width, inside an h x w image. */
void cdt_crop_params(int box[4], cdt_rng *r, int h, int w, double scale_lo,
                     double scale_hi, double ratio_lo, double ratio_hi);

void cdt_hflip_u8(uint8_t *img, int c, int h, int w);                 /* (C,H,W) */
/* Blends, truncating to u8 like torchvision's _blend: with black, with the
 * mean of the grey image, with the grey image. factor >= 0. */
void cdt_adjust_brightness_u8(uint8_t *img, int c, int h, int w, double factor); /* (C,H,W) */
void cdt_adjust_contrast_u8(uint8_t *img, int c, int h, int w, double factor);   /* (C,H,W) */
void cdt_adjust_saturation_u8(uint8_t *img, int c, int h, int w, double factor); /* (C,H,W); c != 3: no-op */
/* Hue rotation in HSV, factor in [-0.5, 0.5]; c != 3: no-op. */
void cdt_adjust_hue_u8(uint8_t *img, int c, int h, int w, double factor);        /* (C,H,W) */
/* ITU-R 601-2 luma into all three channels; c != 3: no-op. */
void cdt_grayscale_u8(uint8_t *img, int c, int h, int w);                        /* (C,H,W) */
/* Gaussian blur with an odd kernel k, reflect padding, rounding to nearest. */
size_t cdt_blur_scratch(int c, int h, int w, int k);    /* floats */
void cdt_gaussian_blur_u8(uint8_t *img, int c, int h, int w, int k, double sigma,
                          float *scratch);                                       /* (C,H,W) */

/* ---- the chain ---- */
typedef struct cdt_augment_opts {
    int size;       /* output side S: views are S x S */
    double jitter;  /* colour jitter strength s (0: no jitter) */
    int color;      /* 0: brightness and contrast only, no grey (1-channel data) */
    int blur;       /* 1: Gaussian blur, kernel 23, sigma U(0.1, 2), p 0.5 */
    double crop_lo; /* the crop's least area fraction, in (0, 1]; 0: CDT_CROP_LO */
} cdt_augment_opts;

/* torchvision's and the paper's least crop area fraction. */
#define CDT_CROP_LO 0.08

#define CDT_BLUR_KERNEL 23
#define CDT_MAX_VIEWS 64

/* Everything random about one view; tests draw these without images. */
typedef struct cdt_augment_params {
    int box[4];             /* crop: top, left, height, width */
    int flip;               /* 1: mirror left-right */
    int jitter;             /* 1: colour jitter applied */
    int order[4];           /* 0 brightness, 1 contrast, 2 saturation, 3 hue */
    double brightness, contrast, saturation, hue;
    int gray;               /* 1: converted to grey */
    int blur;               /* 1: blurred with sigma */
    double sigma;
} cdt_augment_params;

/* Draw the parameters of one view of an h x w image. Every draw is made
 * whether or not its op applies, so each op's numbers do not depend on the
 * others' outcomes. */
void cdt_augment_draw(cdt_augment_params *p, cdt_rng *r, int h, int w,
                      const cdt_augment_opts *o);
/* Floats of scratch cdt_augment_apply needs for (C,H,W) input. */
size_t cdt_augment_scratch(int c, int h, int w, const cdt_augment_opts *o);
/* One view: src (C,H,W) -> dst (C,S,S). c is 1 or 3 (asserted). */
void cdt_augment_apply(uint8_t *dst, const uint8_t *src, int c, int h, int w,
                       const cdt_augment_params *p, const cdt_augment_opts *o,
                       float *scratch);

/* ---- many images on a thread pool ---- */
typedef struct cdt_augmenter cdt_augmenter;

/* For input images (C,H,W), views per image and threads (>= 1): starts
 * threads - 1 worker threads (the caller of run is the last) and allocates
 * each one's scratch once. Workers sleep between runs rather than spin.
 * CDT_EINVAL for c not 1 or 3, a zero size or views outside 1..64;
 * CDT_ENOMEM if memory or threads run out. */
int cdt_augmenter_create(const cdt_augment_opts *o, int c, int h, int w, int views,
                         int threads, cdt_augmenter **out);
void cdt_augmenter_destroy(cdt_augmenter *a);
/* Augment n images: view v of row i uses cdt_rng_init(seed, CDT_RNG_AUGMENT,
 * epoch[i] (0 if epoch is NULL), id[i], v), so the bytes never depend on the
 * thread count or on how rows are split into calls. */
void cdt_augmenter_run(cdt_augmenter *a, uint8_t *out,  /* (N,V,C,S,S) */
                       const uint8_t *x,                /* (N,C,H,W) */
                       const int64_t *id,               /* (N) */
                       const int32_t *epoch,            /* (N) or NULL */
                       uint64_t n, uint64_t seed);

#endif
