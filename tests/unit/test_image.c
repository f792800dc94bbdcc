/* test_image.c: decoding details of libcdt/image: the 8 EXIF orientations
 * (pixel-checked against the corners PIL's ImageOps.exif_transpose gives,
 * recorded below), CMYK and YCCK JPEGs, 16-bit PNGs, DCT-scaled decoding
 * of a 4000x3000 JPEG against a full decode plus resize, and the three
 * ways to fit an image into a square. Fixtures are encoded here. */
#include "t.h"
#include "cdt.h"

#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

typedef struct membuf { unsigned char *p; unsigned long n; } membuf;

/* A JPEG at quality q without chroma subsampling, from interleaved rows of
 * k components in colour space cs (JCS_RGB, JCS_CMYK); stored as
 * store (JCS_YCbCr, JCS_YCCK, JCS_CMYK); an APP1 EXIF block when exif. */
static membuf jpeg(int w, int h, int k, J_COLOR_SPACE cs, J_COLOR_SPACE store, int q,
                   const uint8_t *px, const uint8_t *exif, unsigned exif_len)
{
    membuf m = {NULL, 0};
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &m.p, &m.n);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = k;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, store);
    jpeg_set_quality(&c, q, TRUE);
    for (int i = 0; i < c.num_components; i++)
        c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    if (exif)
        jpeg_write_marker(&c, JPEG_APP0 + 1, exif, exif_len);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * k);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return m;
}

/* "Exif\0\0" and a TIFF header with one IFD0 entry: Orientation = o. */
static unsigned exif_block(uint8_t *b, int o, int big_endian)
{
    static const uint8_t le[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                                 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                                 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(b, big_endian ? be : le, sizeof le);
    b[big_endian ? 25 : 24] = (uint8_t)o; /* the SHORT value */
    return sizeof le;
}

static int nearest(const uint8_t *px, size_t hw, size_t i)
{
    static const int col[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    int best = 0, bd = 1 << 30;
    for (int k = 0; k < 4; k++) {
        int d = abs(px[i] - col[k][0]) + abs(px[hw + i] - col[k][1]) + abs(px[2 * hw + i] - col[k][2]);
        if (d < bd)
            bd = d, best = k;
    }
    return "RGBW"[best];
}

static void test_exif(t_state *ts)
{
    /* Stored 32x16: quadrants red, green / blue, white (8x8-aligned, so
     * the colours stay clean). Displayed size and the colours at the
     * top-left, top-right and bottom-left corners, per orientation, as
     * PIL 9.4's exif_transpose shows them. */
    static const struct { int w, h; const char *tl_tr_bl; } want[9] = {
        {0, 0, ""}, {32, 16, "RGB"}, {32, 16, "GRW"}, {32, 16, "WBG"}, {32, 16, "BWR"},
        {16, 32, "RBG"}, {16, 32, "BRW"}, {16, 32, "WGB"}, {16, 32, "GWR"}};
    uint8_t px[16 * 32 * 3], ex[64];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 32; x++) {
            int q = (y >= 8) * 2 + (x >= 16);
            uint8_t *p = px + (y * 32 + x) * 3;
            p[0] = q == 0 || q == 3 ? 255 : 0;
            p[1] = q == 1 || q == 3 ? 255 : 0;
            p[2] = q >= 2 ? 255 : 0;
        }
    cdt_image *im = cdt_image_create();
    for (int o = 1; o <= 8; o++)
        for (int be = 0; be < 2; be++) {
            unsigned n = exif_block(ex, o, be);
            membuf m = jpeg(32, 16, 3, JCS_RGB, JCS_YCbCr, 100, px, ex, n);
            T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 3, "exif"), 0);
            int c, h, w;
            const uint8_t *d = cdt_image_pixels(im, &c, &h, &w);
            T_EQ_INT(ts, w * 100 + h, want[o].w * 100 + want[o].h);
            free(m.p);
            if (w != want[o].w || h != want[o].h)
                continue;
            size_t hw = (size_t)h * w;
            char got[4] = {(char)nearest(d, hw, (size_t)w + 1), (char)nearest(d, hw, (size_t)w + w - 2),
                           (char)nearest(d, hw, (size_t)(h - 2) * w + 1), 0};
            T_STR(ts, got, want[o].tl_tr_bl);
        }
    /* A malformed EXIF block (an IFD past the end) is ignored. */
    uint8_t bad[64];
    unsigned n = exif_block(bad, 6, 0);
    bad[10] = 200;
    membuf m = jpeg(32, 16, 3, JCS_RGB, JCS_YCbCr, 100, px, bad, n);
    T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 3, "bad exif"), 0);
    int c, h, w;
    cdt_image_pixels(im, &c, &h, &w);
    T_EQ_INT(ts, w * 100 + h, 3216);
    free(m.p);
    cdt_image_destroy(im);
}

/* Adobe CMYK (inverted: the bytes are 255 - ink) stored as YCCK or as
 * CMYK: RGB = C K / 255, as PIL converts it. */
static void test_cmyk(t_state *ts)
{
    uint8_t px[16 * 16 * 4];
    for (int i = 0; i < 256; i++) {
        px[i * 4] = 200;
        px[i * 4 + 1] = 100;
        px[i * 4 + 2] = 50;
        px[i * 4 + 3] = 204;
    }
    cdt_image *im = cdt_image_create();
    J_COLOR_SPACE store[2] = {JCS_YCCK, JCS_CMYK};
    for (int s = 0; s < 2; s++) {
        membuf m = jpeg(16, 16, 4, JCS_CMYK, store[s], 100, px, NULL, 0);
        T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 3, "cmyk"), 0);
        int c, h, w;
        const uint8_t *d = cdt_image_pixels(im, &c, &h, &w);
        T_EQ_INT(ts, c * 10000 + h * 100 + w, 31616);
        for (int i = 0; i < 256; i += 37) {
            T_NEAR(ts, d[i], 200 * 204 / 255, 3);
            T_NEAR(ts, d[256 + i], 100 * 204 / 255, 3);
            T_NEAR(ts, d[512 + i], 50 * 204 / 255, 3);
        }
        T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 1, "cmyk"), 0);
        d = cdt_image_pixels(im, &c, &h, &w);
        T_NEAR(ts, d[17], (19595 * 160 + 38470 * 80 + 7471 * 40 + 32768) >> 16, 3);
        free(m.p);
    }
    cdt_image_destroy(im);
}

typedef struct pngbuf { uint8_t *p; size_t n, cap; } pngbuf;
static void png_put(png_structp png, png_bytep d, png_size_t n)
{
    pngbuf *b = png_get_io_ptr(png);
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void png_flush_none(png_structp png) { (void)png; }

/* A 16-bit PNG of w x h, k samples a pixel (big-endian, as PNG stores
 * them). */
static pngbuf png16(int w, int h, int type, int k, const uint16_t *v)
{
    pngbuf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &b, png_put, png_flush_none);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 16, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    uint8_t *row = malloc((size_t)w * k * 2);
    for (int y = 0; y < h; y++) {
        for (int i = 0; i < w * k; i++) {
            row[2 * i] = (uint8_t)(v[y * w * k + i] >> 8);
            row[2 * i + 1] = (uint8_t)v[y * w * k + i];
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return b;
}

static void test_png16(t_state *ts)
{
    uint16_t v[5 * 3 * 4];
    for (int i = 0; i < 60; i++)
        v[i] = (uint16_t)(i * 1097 + 255); /* low bytes vary too */
    cdt_image *im = cdt_image_create();
    pngbuf b = png16(5, 3, PNG_COLOR_TYPE_RGB_ALPHA, 4, v);
    T_EQ_INT(ts, cdt_image_decode(im, b.p, b.n, 3, "rgba16"), 0);
    int c, h, w;
    const uint8_t *d = cdt_image_pixels(im, &c, &h, &w);
    T_EQ_INT(ts, c * 100 + h * 10 + w, 335);
    for (int p = 0; p < 15; p++)
        for (int k = 0; k < 3; k++)
            T_EQ_INT(ts, d[k * 15 + p], v[p * 4 + k] >> 8);
    free(b.p);
    b = png16(5, 3, PNG_COLOR_TYPE_GRAY, 1, v);
    T_EQ_INT(ts, cdt_image_decode(im, b.p, b.n, 3, "gray16"), 0);
    d = cdt_image_pixels(im, &c, &h, &w);
    for (int p = 0; p < 15; p++)
        for (int k = 0; k < 3; k++)
            T_EQ_INT(ts, d[k * 15 + p], v[p] >> 8);
    free(b.p);
    cdt_image_destroy(im);
}

/* A 4000x3000 photo-like JPEG (smooth shapes, edges and a fine texture)
 * fitted to 96x96: decoded at 1/8 by DCT scaling (500x375, still over
 * twice 96) it must agree with the full decode resized the same way within
 * a mean absolute difference of 2 grey levels and no pixel off by more
 * than 32 (measured: 1.18 and 17, from the sharp edges and the texture;
 * DCT scaling is a slightly different low-pass than the antialiased
 * resize, and Pillow's draft() makes the same trade). */
static void test_dct_scaling(t_state *ts)
{
    int W = 4000, H = 3000, S = 96;
    uint8_t *px = malloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = px + ((size_t)y * W + x) * 3;
            double r = sqrt((x - 2600.0) * (x - 2600.0) + (y - 1200.0) * (y - 1200.0));
            p[0] = (uint8_t)(r < 700 ? 220 : 40 + x / 40);
            p[1] = (uint8_t)(128 + 100 * sin(x / 300.0) * cos(y / 400.0));
            p[2] = (uint8_t)((x / 250 + y / 250) % 2 ? 200 : 30) ^ (uint8_t)((x * 7 + y * 13) % 16);
        }
    membuf m = jpeg(W, H, 3, JCS_RGB, JCS_YCbCr, 90, px, NULL, 0);
    free(px);
    cdt_image *im = cdt_image_create();
    uint8_t *full = malloc(3 * S * S), *fast = malloc(3 * S * S);
    float *scratch = malloc(cdt_fit_scratch(3, H, W, S, S) * sizeof(float));
    int c, h, w;
    T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 3, "big"), 0);
    const uint8_t *d = cdt_image_pixels(im, &c, &h, &w);
    T_EQ_INT(ts, w * 10000 + h, 40003000);
    cdt_fit_u8(full, S, S, d, 3, h, w, CDT_FIT_CROP, scratch);
    cdt_image_set_min_size(im, 2 * S, 0);
    T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 3, "big"), 0);
    d = cdt_image_pixels(im, &c, &h, &w);
    T_EQ_INT(ts, w * 10000 + h, 5000375);
    cdt_fit_u8(fast, S, S, d, 3, h, w, CDT_FIT_CROP, scratch);
    double sum = 0;
    int worst = 0;
    for (int i = 0; i < 3 * S * S; i++) {
        int e = abs(full[i] - fast[i]);
        sum += e;
        worst = e > worst ? e : worst;
    }
    printf("dct scaling: mean abs %.3f, max %d\n", sum / (3 * S * S), worst);
    T_CHECK(ts, sum / (3 * S * S) <= 2.0);
    T_CHECK(ts, worst <= 32);
    /* 1/8 would leave the shorter side under 400: 2/8 is the least. */
    cdt_image_set_min_size(im, 400, 0);
    T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 3, "big"), 0);
    cdt_image_pixels(im, &c, &h, &w);
    T_EQ_INT(ts, w * 10000 + h, 10000750);
    /* the longer side (fit pad): 3/8 gives 1500, under 1600; 4/8 */
    cdt_image_set_min_size(im, 0, 1600);
    T_EQ_INT(ts, cdt_image_decode(im, m.p, m.n, 3, "big"), 0);
    cdt_image_pixels(im, &c, &h, &w);
    T_EQ_INT(ts, w * 10000 + h, 20001500);
    free(m.p);
    free(full);
    free(fast);
    free(scratch);
    cdt_image_destroy(im);
}

static void test_fit(t_state *ts)
{
    /* 8 wide, 4 high: columns 0-1 are 10, 2-5 are 100, 6-7 are 250. */
    uint8_t src[32], dst[16];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 8; x++)
            src[y * 8 + x] = x < 2 ? 10 : x < 6 ? 100 : 250;
    float *scratch = malloc(cdt_fit_scratch(1, 4, 8, 4, 4) * sizeof(float));
    cdt_fit_u8(dst, 4, 4, src, 1, 4, 8, CDT_FIT_CROP, scratch);
    for (int i = 0; i < 16; i++)
        T_EQ_INT(ts, dst[i], 100); /* the centre 4x4 only */
    cdt_fit_u8(dst, 4, 4, src, 1, 4, 8, CDT_FIT_STRETCH, scratch);
    for (int y = 0; y < 4; y++) {
        T_CHECK(ts, dst[y * 4] < 80);      /* both ends are kept */
        T_CHECK(ts, dst[y * 4 + 3] > 170);
    }
    cdt_fit_u8(dst, 4, 4, src, 1, 4, 8, CDT_FIT_PAD, scratch);
    for (int x = 0; x < 4; x++) {
        T_EQ_INT(ts, dst[x], 0);           /* black above and below */
        T_EQ_INT(ts, dst[12 + x], 0);
        T_EQ_INT(ts, dst[4 + x], dst[8 + x]);
    }
    T_CHECK(ts, dst[4] < 80 && dst[7] > 170);
    free(scratch);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_exif);
    T_RUN(&ts, test_cmyk);
    T_RUN(&ts, test_png16);
    T_RUN(&ts, test_dct_scaling);
    T_RUN(&ts, test_fit);
    return T_END(&ts);
}
