/* image.c: JPEG and PNG decoding into u8 (C,H,W); see cdt_image.h.
 * Both decoders report errors by longjmp; everything they touch after
 * setjmp lives in the cdt_image object, so no local needs to be volatile. */
#include "cdt_image.h"
#include "cdt_core.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#define MAX_PIXELS (1u << 28)

struct cdt_image {
    int c, h, w;
    uint8_t *px;            /* (C,H,W) the result */
    size_t px_cap;
    uint8_t *tmp;           /* (H,W,K) interleaved, as the decoders give it */
    size_t tmp_cap;
    png_bytep *rows;        /* [H] row pointers into tmp, for libpng */
    size_t rows_cap;
    uint8_t *file;          /* the encoded bytes of cdt_image_load */
    size_t file_cap;
    const char *name;       /* for messages during one decode */
    int min_short, min_long; /* JPEG DCT scaling may not go below these */
    jmp_buf jb;
    char err[512];
};

cdt_image *cdt_image_create(void)
{
    return calloc(1, sizeof(cdt_image));
}

void cdt_image_destroy(cdt_image *im)
{
    if (!im)
        return;
    free(im->px);
    free(im->tmp);
    free(im->rows);
    free(im->file);
    free(im);
}

const char *cdt_image_errmsg(const cdt_image *im) { return im->err; }

void cdt_image_set_min_size(cdt_image *im, int min_short, int min_long)
{
    im->min_short = min_short > 0 ? min_short : 0;
    im->min_long = min_long > 0 ? min_long : 0;
}

const uint8_t *cdt_image_pixels(const cdt_image *im, int *c, int *h, int *w)
{
    *c = im->c;
    *h = im->h;
    *w = im->w;
    return im->px;
}

static int fail(cdt_image *im, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(cdt_image *im, int rc, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(im->err, sizeof im->err, "%s (%s)", what, im->name ? im->name : "image");
    return rc;
}

/* Make room for an h x w image with k interleaved and c planar channels. */
static int reserve(cdt_image *im, uint32_t h, uint32_t w, int k, int c)
{
    if (h == 0 || w == 0)
        return fail(im, CDT_EDATA, "image has no pixels");
    if ((uint64_t)h * w > MAX_PIXELS)
        return fail(im, CDT_ELIMIT, "image too large: %ux%u", w, h);
    size_t hw = (size_t)h * w;
    if (cdt_grow((void **)&im->tmp, &im->tmp_cap, hw * (size_t)k) ||
        cdt_grow((void **)&im->px, &im->px_cap, hw * (size_t)c) ||
        cdt_grow((void **)&im->rows, &im->rows_cap, h * sizeof(png_bytep)))
        return fail(im, CDT_ENOMEM, "out of memory");
    im->c = c;
    im->h = (int)h;
    im->w = (int)w;
    return 0;
}

static inline uint8_t luma(unsigned r, unsigned g, unsigned b)
{
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

void cdt_channels_u8(uint8_t *dst, int dc, const uint8_t *src, int sc, size_t hw)
{
    CDT_ASSERT((dc == 1 || dc == 3) && (sc == 1 || sc == 3));
    if (dc == sc) {
        memcpy(dst, src, hw * (size_t)dc);
    } else if (dc == 3) {
        for (int c = 0; c < 3; c++)
            memcpy(dst + c * hw, src, hw);
    } else {
        const uint8_t *r = src, *g = src + hw, *b = src + 2 * hw;
        for (size_t i = 0; i < hw; i++)
            dst[i] = luma(r[i], g[i], b[i]);
    }
}

/* tmp (H,W,K) -> px (C,H,W). K: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA or
 * CMYK (cmyk != 0). Alpha is dropped. */
static void to_planar(cdt_image *im, int k, int cmyk)
{
    size_t hw = (size_t)im->h * im->w;
    const uint8_t *s = im->tmp;
    uint8_t *d = im->px;
    if (k <= 2) {
        for (size_t i = 0; i < hw; i++)
            d[i] = s[i * k];
        for (int c = 1; c < im->c; c++)
            memcpy(d + c * hw, d, hw);
        return;
    }
    for (size_t i = 0; i < hw; i++, s += k) {
        unsigned r = s[0], g = s[1], b = s[2];
        if (cmyk) {
            r = r * s[3] / 255;
            g = g * s[3] / 255;
            b = b * s[3] / 255;
        }
        if (im->c == 1) {
            d[i] = luma(r, g, b);
        } else {
            d[i] = (uint8_t)r;
            d[hw + i] = (uint8_t)g;
            d[2 * hw + i] = (uint8_t)b;
        }
    }
}

/* ---- JPEG ---- */

typedef struct jerr {
    struct jpeg_error_mgr pub;
    cdt_image *im;
} jerr;

static void jpeg_fail(j_common_ptr cinfo)
{
    jerr *e = (jerr *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    fail(e->im, CDT_EDATA, "bad JPEG: %s", msg);
    longjmp(e->im->jb, 1);
}

/* Warnings are mostly harmless, but a premature end of data means libjpeg
 * padded the image with gray: that is a broken file, as PIL also says. */
static void jpeg_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        jpeg_fail(cinfo);
}

/* ---- EXIF orientation ---- */

static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" payload:
 * 1..8, or 1 when absent or malformed (a bad EXIF block is not a bad image,
 * as for every viewer). */
static int exif_orientation(const uint8_t *p, size_t n)
{
    if (n < 14 || memcmp(p, "Exif\0\0", 6))
        return 1;
    p += 6;
    n -= 6;
    int le = p[0] == 'I' && p[1] == 'I';
    if ((!le && !(p[0] == 'M' && p[1] == 'M')) || rd16(p + 2, le) != 42)
        return 1;
    uint32_t ifd = rd32(p + 4, le);
    if (ifd > n - 2)
        return 1;
    unsigned count = rd16(p + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e + 12 > n)
            return 1;
        if (rd16(p + e, le) == 0x0112 && rd16(p + e + 2, le) == 3) {
            unsigned v = rd16(p + e + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

/* px (C,H,W) as stored -> as displayed, through tmp; the buffers swap.
 * Orientations 5..8 exchange H and W. */
static int orient(cdt_image *im, int o)
{
    if (o <= 1)
        return 0;
    size_t h = (size_t)im->h, w = (size_t)im->w, hw = h * w;
    if (cdt_grow((void **)&im->tmp, &im->tmp_cap, hw * (size_t)im->c))
        return fail(im, CDT_ENOMEM, "out of memory");
    int swap = o >= 5;
    size_t oh = swap ? w : h, ow = swap ? h : w;
    for (int c = 0; c < im->c; c++) {
        const uint8_t *s = im->px + c * hw;
        uint8_t *d = im->tmp + c * hw;
        for (size_t y = 0; y < oh; y++)
            for (size_t x = 0; x < ow; x++) {
                size_t sy, sx;
                switch (o) {
                case 2: sy = y; sx = w - 1 - x; break;
                case 3: sy = h - 1 - y; sx = w - 1 - x; break;
                case 4: sy = h - 1 - y; sx = x; break;
                case 5: sy = x; sx = y; break;
                case 6: sy = h - 1 - x; sx = y; break;
                case 7: sy = h - 1 - x; sx = w - 1 - y; break;
                default: sy = x; sx = w - 1 - y; break;
                }
                d[y * ow + x] = s[sy * w + sx];
            }
    }
    uint8_t *t = im->px;
    size_t cap = im->px_cap;
    im->px = im->tmp;
    im->px_cap = im->tmp_cap;
    im->tmp = t;
    im->tmp_cap = cap;
    im->h = (int)oh;
    im->w = (int)ow;
    return 0;
}

/* The smallest M/8 (libjpeg-turbo's DCT scaling) that keeps the shorter
 * side >= min_short and the longer >= min_long; 8/8 when none is set. */
static void jpeg_pick_scale(const cdt_image *im, struct jpeg_decompress_struct *ci)
{
    ci->scale_num = 8;
    ci->scale_denom = 8;
    if (!im->min_short && !im->min_long)
        return;
    for (unsigned m = 1; m <= 8; m++) {
        ci->scale_num = m;
        jpeg_calc_output_dimensions(ci);
        unsigned a = ci->output_width, b = ci->output_height;
        unsigned lo = a < b ? a : b, hi = a < b ? b : a;
        if (lo >= (unsigned)im->min_short && hi >= (unsigned)im->min_long)
            return;
    }
}

static int decode_jpeg(cdt_image *im, const uint8_t *buf, size_t len, int channels)
{
    struct jpeg_decompress_struct cinfo;
    jerr e;
    cinfo.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = jpeg_fail;
    e.pub.emit_message = jpeg_message;
    e.im = im;
    jpeg_create_decompress(&cinfo);
    if (setjmp(im->jb)) {
        jpeg_destroy_decompress(&cinfo);
        return CDT_EDATA;
    }
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);
    int o = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m && o == 1; m = m->next)
        o = exif_orientation(m->data, m->data_length);
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK
                          : cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_pick_scale(im, &cinfo);
    jpeg_start_decompress(&cinfo);
    int k = cinfo.output_components, rc;
    if ((rc = reserve(im, cinfo.output_height, cinfo.output_width, k, channels)) < 0) {
        jpeg_destroy_decompress(&cinfo);
        return rc;
    }
    size_t stride = (size_t)im->w * k;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = im->tmp + cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    to_planar(im, k, cmyk);
    return orient(im, o);
}

/* ---- PNG ---- */

typedef struct png_src { const uint8_t *p; size_t left; } png_src;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n)
{
    png_src *s = png_get_io_ptr(png);
    if (n > s->left)
        png_error(png, "file ends early");
    memcpy(out, s->p, n);
    s->p += n;
    s->left -= n;
}

static void png_fail(png_structp png, png_const_charp msg)
{
    cdt_image *im = png_get_error_ptr(png);
    fail(im, CDT_EDATA, "bad PNG: %s", msg);
    longjmp(im->jb, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Ask libpng for 8-bit gray, gray+alpha, RGB or RGBA, whatever the file. */
static void png_normalise(png_structp png, png_infop info)
{
    int type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

static int decode_png(cdt_image *im, const uint8_t *buf, size_t len, int channels)
{
    png_src src = {buf, len};
    png_infop info = NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, im, png_fail, png_warn);
    if (!png || !(info = png_create_info_struct(png))) {
        png_destroy_read_struct(&png, NULL, NULL);
        return fail(im, CDT_ENOMEM, "out of memory");
    }
    if (setjmp(im->jb)) {
        png_destroy_read_struct(&png, &info, NULL);
        return CDT_EDATA;
    }
    png_set_read_fn(png, &src, png_read_mem);
    png_read_info(png, info);
    png_normalise(png, info);
    int k = png_get_channels(png, info), rc;
    if ((rc = reserve(im, png_get_image_height(png, info), png_get_image_width(png, info),
                      k, channels)) < 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return rc;
    }
    for (int y = 0; y < im->h; y++)
        im->rows[y] = im->tmp + (size_t)y * im->w * k;
    png_read_image(png, im->rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    to_planar(im, k, 0);
    return 0;
}

int cdt_image_decode(cdt_image *im, const void *buf, size_t len, int channels,
                     const char *name)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const uint8_t *b = buf;
    CDT_ASSERT(channels == 1 || channels == 3);
    im->name = name;
    im->err[0] = '\0';
    int rc;
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        rc = decode_jpeg(im, b, len, channels);
    else if (len >= 8 && !memcmp(b, png_magic, 8))
        rc = decode_png(im, b, len, channels);
    else
        rc = fail(im, CDT_EDATA, "not a JPEG or PNG file");
    im->name = NULL;
    return rc;
}

/* Read a whole file into im->file; *len its size. */
static int slurp(cdt_image *im, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(im, errno == ENOENT ? CDT_ENOENT : CDT_EIO, "cannot open: %s", strerror(errno));
    size_t n = 0;
    for (;;) {
        if (n == im->file_cap && cdt_grow((void **)&im->file, &im->file_cap,
                                      im->file_cap ? 2 * im->file_cap : 1 << 16)) {
            fclose(f);
            return fail(im, CDT_ENOMEM, "out of memory");
        }
        size_t got = fread(im->file + n, 1, im->file_cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return fail(im, CDT_EIO, "read error");
    *len = n;
    return 0;
}

int cdt_image_load(cdt_image *im, const char *path, int channels)
{
    size_t len = 0;
    im->name = path;
    int rc = slurp(im, path, &len);
    im->name = NULL;
    return rc < 0 ? rc : cdt_image_decode(im, im->file, len, channels, path);
}
