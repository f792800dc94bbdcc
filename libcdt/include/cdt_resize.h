/* cdt_resize.h: resizing u8 images, torchvision's way. */
#ifndef CDT_RESIZE_H
#define CDT_RESIZE_H

#include <stddef.h>
#include <stdint.h>

/* Floats of scratch cdt_resize_u8 needs for these sizes, so that callers
 * allocate once and never per image. */
size_t cdt_resize_scratch(int c, int bh, int bw, int oh, int ow);

/* Resize the box (top, left, bh, bw) of src (C,H,W) to dst (C,OH,OW):
 * bilinear, antialiased when shrinking, rounding to nearest, as
 * torchvision's resized_crop(img, top, left, bh, bw, [oh, ow],
 * antialias=True) on a uint8 tensor. The box lies inside the image
 * (asserted). scratch holds cdt_resize_scratch(c, bh, bw, oh, ow) floats. */
void cdt_resize_u8(uint8_t *dst, int oh, int ow,         /* (C,OH,OW) */
                   const uint8_t *src, int c, int h, int w, /* (C,H,W) */
                   int top, int left, int bh, int bw, float *scratch);

/* Fitting an image of any shape into OH x OW:
 *   CDT_FIT_CROP     the largest centred box of the output's aspect,
 *                    resized (for a square: shorter side to the size, then
 *                    a centre crop, as torchvision's Resize + CenterCrop);
 *   CDT_FIT_PAD      the whole image, longer side to the size, centred on
 *                    black;
 *   CDT_FIT_STRETCH  the whole image resized to OH x OW, aspect ignored. */
enum { CDT_FIT_CROP = 1, CDT_FIT_PAD = 2, CDT_FIT_STRETCH = 3 };

/* Floats of scratch cdt_fit_u8 needs. */
size_t cdt_fit_scratch(int c, int h, int w, int oh, int ow);
void cdt_fit_u8(uint8_t *dst, int oh, int ow,             /* (C,OH,OW) */
                const uint8_t *src, int c, int h, int w,  /* (C,H,W) */
                int fit, float *scratch);

#endif
