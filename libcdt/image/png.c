/* png.c: PNG writing with libpng; see cdt_png.h. */
#include "cdt_png.h"
#include "cdt_core.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PNG_MAX_SIDE 65535u
#define GRID_BACKGROUND 128 /* mid gray: tells black and white images apart from the gaps */

/* Where libpng's callbacks leave the first failure; libpng itself only
 * knows how to longjmp out. */
typedef struct png_sink {
    int fd;
    int rc;
} png_sink;

static void sink_write(png_structp png, png_bytep data, size_t n)
{
    png_sink *s = png_get_io_ptr(png);
    while (n) {
        ssize_t k = write(s->fd, data, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            s->rc = errno == EPIPE ? CDT_EPIPE : CDT_EIO;
            png_error(png, "write failed");
        }
        data += k;
        n -= (size_t)k;
    }
}

static void sink_flush(png_structp png)
{
    (void)png;
}

static void on_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg; /* the library never prints */
}

/* Everything between setjmp and the end lives here, so no local of the
 * caller changes after setjmp (the C rule for longjmp). */
static void png_body(png_structp png, png_infop info, const uint8_t *pix,
                     uint32_t width, uint32_t height, int channels)
{
    png_set_IHDR(png, info, width, height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++)
        png_write_row(png, pix + (size_t)y * width * (size_t)channels);
    png_write_end(png, info);
}

int cdt_png_write_fd(int fd, const uint8_t *pix /* (H,W,C) */, uint32_t width,
                     uint32_t height, int channels)
{
    if ((channels != 1 && channels != 3) || !width || !height ||
        width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return CDT_EINVAL;
    png_sink sink = {fd, CDT_OK};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return CDT_ENOMEM;
    }
    int failed = setjmp(png_jmpbuf(png));
    if (!failed) {
        png_set_write_fn(png, &sink, sink_write, sink_flush);
        png_body(png, info, pix, width, height, channels);
    }
    png_destroy_write_struct(&png, &info);
    if (failed)
        return sink.rc ? sink.rc : CDT_ENOMEM;
    return 0;
}

static int grid_cols(const cdt_png_grid *g)
{
    /* cells are views times wider than tall: about square overall */
    double c = g->cols > 0 ? g->cols : ceil(sqrt((double)g->n / (g->views > 0 ? g->views : 1)));
    return c < 1 ? 1 : c > (double)g->n ? (int)g->n : (int)c;
}

int cdt_png_grid_dims(const cdt_png_grid *g, uint32_t *width, uint32_t *height)
{
    if (!g->n || g->n > PNG_MAX_SIDE || g->views < 1 || g->h < 1 || g->w < 1 || g->gap < 0 ||
        (g->channels != 1 && g->channels != 3))
        return CDT_EINVAL;
    uint64_t cols = (uint64_t)grid_cols(g);
    uint64_t rows = (g->n + cols - 1) / cols;
    uint64_t gap = (uint64_t)g->gap;
    /* every factor is < 2^32, so none of these products overflow */
    uint64_t w = cols * ((uint64_t)g->views * (uint64_t)g->w) + (cols + 1) * gap;
    uint64_t h = rows * (uint64_t)g->h + (rows + 1) * gap;
    if (g->views > 65535 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE)
        return CDT_EINVAL;
    *width = (uint32_t)w;
    *height = (uint32_t)h;
    return 0;
}

/* Copy image (C,H,W) into the sheet (H,W,C) at pixel (x0, y0). */
static void blit(uint8_t *sheet /* (SH,SW,C) */, uint32_t sw, const uint8_t *img /* (C,H,W) */,
                 int c, int h, int w, uint32_t x0, uint32_t y0)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                sheet[((size_t)(y0 + (uint32_t)y) * sw + x0 + (uint32_t)x) * (size_t)c + (size_t)k] =
                    img[((size_t)k * (size_t)h + (size_t)y) * (size_t)w + (size_t)x];
}

int cdt_png_write_grid(int fd, const cdt_png_grid *g,
                       const uint8_t *x /* (n,views,channels,h,w) */)
{
    uint32_t sw, sh;
    int rc = cdt_png_grid_dims(g, &sw, &sh);
    if (rc)
        return rc;
    uint8_t *sheet = malloc((size_t)sw * sh * (size_t)g->channels);
    if (!sheet)
        return CDT_ENOMEM;
    memset(sheet, GRID_BACKGROUND, (size_t)sw * sh * (size_t)g->channels);
    uint64_t cols = (uint64_t)grid_cols(g);
    size_t img = (size_t)g->channels * (size_t)g->h * (size_t)g->w;
    for (uint64_t i = 0; i < g->n; i++) {
        uint32_t cx = (uint32_t)(i % cols), cy = (uint32_t)(i / cols);
        uint32_t x0 = (uint32_t)g->gap + cx * (uint32_t)(g->views * g->w + g->gap);
        uint32_t y0 = (uint32_t)g->gap + cy * (uint32_t)(g->h + g->gap);
        for (int v = 0; v < g->views; v++)
            blit(sheet, sw, x + (i * (uint64_t)g->views + (uint64_t)v) * img,
                 g->channels, g->h, g->w, x0 + (uint32_t)(v * g->w), y0);
    }
    rc = cdt_png_write_fd(fd, sheet, sw, sh, g->channels);
    free(sheet);
    return rc;
}
