/* cdt_image.h: decoding JPEG (libjpeg-turbo) and PNG (libpng) into u8
 * (C,H,W) planes, and converting between 1 and 3 channels.
 *
 * Channel rules follow PIL's convert(), which torchvision's image loaders
 * use, so that our inputs match the reference's:
 *   gray -> 3 channels: the gray plane is replicated;
 *   RGB -> 1 channel: luma L = (19595 R + 38470 G + 7471 B + 32768) >> 16
 *                     (ITU-R 601-2, PIL's fixed-point "L" conversion);
 *   palettes are expanded to RGB; an alpha channel (or tRNS) is dropped,
 *   not composited; 16-bit samples keep their high byte; CMYK and YCCK
 *   JPEGs (Adobe inverted) become RGB as R = C K / 255, the way PIL does it.
 * A JPEG's EXIF Orientation (1..8) is applied, so pixels come out as a
 * viewer shows them (PIL's ImageOps.exif_transpose); a malformed EXIF block
 * is ignored.
 *
 *     cdt_image *im = cdt_image_create();
 *     if (cdt_image_load(im, "cat.jpg", 3) < 0) puts(cdt_image_errmsg(im));
 *     int c, h, w; const uint8_t *px = cdt_image_pixels(im, &c, &h, &w);
 *     cdt_image_destroy(im);
 *
 * An image object keeps its buffers between decodes (they only grow), so a
 * loop over many files does not allocate per image once the largest is seen.
 */
#ifndef CDT_IMAGE_H
#define CDT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cdt_image cdt_image;

cdt_image *cdt_image_create(void);        /* NULL if out of memory */
void cdt_image_destroy(cdt_image *im);

/* Decode a JPEG or PNG held in memory (told apart by their magic bytes)
 * into `channels` (1 or 3) planes. CDT_EDATA for anything that does not
 * decode cleanly (a truncated JPEG included), CDT_ELIMIT above 2^28 pixels,
 * CDT_ENOMEM. The message names `name` (a file name, for messages; may be
 * NULL). */
int cdt_image_decode(cdt_image *im, const void *buf, size_t len, int channels,
                     const char *name);
/* Read and decode a file: CDT_ENOENT if it cannot be opened, CDT_EIO if it
 * cannot be read, then as cdt_image_decode. */
int cdt_image_load(cdt_image *im, const char *path, int channels);
/* The last decoded image, (C,H,W); valid until the next decode. */
const uint8_t *cdt_image_pixels(const cdt_image *im, int *c, int *h, int *w);
const char *cdt_image_errmsg(const cdt_image *im); /* "" if no error */
/* Let later JPEG decodes use libjpeg-turbo's DCT scaling (M/8, M = 1..8,
 * the smallest that fits): the decoded image keeps its shorter side >=
 * min_short and its longer side >= min_long. 0, 0 (the default): full
 * size. PNGs are always decoded whole. */
void cdt_image_set_min_size(cdt_image *im, int min_short, int min_long);

/* Planar channel conversion by the rules above: src (SC,HW) -> dst (DC,HW),
 * SC and DC in {1, 3}; dst and src must not overlap. */
void cdt_channels_u8(uint8_t *dst, int dc, const uint8_t *src, int sc, size_t hw);

#endif
