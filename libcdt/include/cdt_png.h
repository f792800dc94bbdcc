/* cdt_png.h: write 8-bit PNG images (gray or RGB) with libpng, e.g. a
 * contact sheet of a stream's images. */
#ifndef CDT_PNG_H
#define CDT_PNG_H

#include <stdint.h>

/* Write pix as a PNG to fd (not closed). channels 1 (gray) or 3 (RGB);
 * width and height 1..65535. 0, CDT_EINVAL, CDT_ENOMEM, CDT_EIO or
 * CDT_EPIPE. */
int cdt_png_write_fd(int fd, const uint8_t *pix /* (H,W,C) */, uint32_t width,
                     uint32_t height, int channels);

/* A contact sheet: n images laid out cols to a row, each cell holding the
 * views of one image side by side, cells parted by gap pixels of gray.
 * x holds n*views images of channels x h x w. The sheet is
 * cdt_png_grid_dims() big. */
typedef struct cdt_png_grid {
    uint64_t n;
    int views, channels, h, w;
    int cols; /* 0: about square */
    int gap;
} cdt_png_grid;

/* Sheet size in pixels; CDT_EINVAL if it would be over 65535 either way. */
int cdt_png_grid_dims(const cdt_png_grid *g, uint32_t *width, uint32_t *height);
/* Build the sheet and write it as a PNG to fd. */
int cdt_png_write_grid(int fd, const cdt_png_grid *g,
                       const uint8_t *x /* (n,views,channels,h,w) */);

#endif
