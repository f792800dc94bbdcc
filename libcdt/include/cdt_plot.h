/* cdt_plot.h: drawing plots into RGB pixels with our own code, for PNGs
 * (cdt_png.h) and the report: rectangles, lines, discs, images, text in a
 * built-in 5x7 bitmap font (ASCII 32..126), line charts with axes, scatter
 * plots with a legend, a confusion table. No anti-aliasing anywhere, so a
 * pixel is exactly one colour from the palette (crisp at 70,000 points).
 *
 *     cdt_canvas cv;
 *     if (cdt_canvas_create(&cv, 400, 300, CDT_WHITE) < 0) ...;
 *     cdt_plot_text(&cv, 10, 10, "loss", 2, CDT_BLACK);
 *     cdt_canvas_write_png(fd, &cv);
 *     cdt_canvas_free(&cv);
 *
 * Colours are 0xRRGGBB. Everything drawn is clipped to the canvas.
 */
#ifndef CDT_PLOT_H
#define CDT_PLOT_H

#include <stdint.h>

#define CDT_WHITE 0xffffffu
#define CDT_BLACK 0x000000u
#define CDT_GRAY 0x888888u
#define CDT_FONT_W 6 /* advance of a glyph at scale 1: 5 pixels and a gap */
#define CDT_FONT_H 9 /* line height at scale 1: 7 pixels, a descender, a gap */

typedef struct cdt_canvas {
    int w, h;
    uint8_t *pix; /* (h,w,3) */
} cdt_canvas;

/* w, h in 1..32768. CDT_EINVAL or CDT_ENOMEM. */
int cdt_canvas_create(cdt_canvas *c, int w, int h, uint32_t bg);
void cdt_canvas_free(cdt_canvas *c); /* NULL and a zeroed canvas are fine */
int cdt_canvas_write_png(int fd, const cdt_canvas *c);

void cdt_plot_pixel(cdt_canvas *c, int x, int y, uint32_t rgb);
void cdt_plot_rect(cdt_canvas *c, int x, int y, int w, int h, uint32_t rgb);    /* filled */
void cdt_plot_outline(cdt_canvas *c, int x, int y, int w, int h, uint32_t rgb); /* 1 px */
void cdt_plot_line(cdt_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb);
void cdt_plot_disc(cdt_canvas *c, int x, int y, int r, uint32_t rgb);
/* Text with its top left at (x, y), each font pixel scale x scale; '\n'
 * starts a new line; other bytes outside 32..126 draw as '?'. Returns the
 * width of the longest line. cdt_plot_text_up draws it turned a quarter to
 * the left (reading upwards), its bottom left at (x, y). */
int cdt_plot_text(cdt_canvas *c, int x, int y, const char *s, int scale, uint32_t rgb);
int cdt_plot_text_up(cdt_canvas *c, int x, int y, const char *s, int scale, uint32_t rgb);
int cdt_plot_text_width(const char *s, int scale);
/* An image (C,H,W), C 1 or 3, fitted into a box x box square at (x, y)
 * keeping its aspect: shrunk with antialiasing (cdt_resize.h), enlarged
 * by whole pixels. CDT_ENOMEM is the only failure. */
int cdt_plot_image(cdt_canvas *c, int x, int y, int box, const uint8_t *img, int ch, int h, int w);

/* The i-th of 20 distinct colours (i >= 20 wraps); a sequential ramp from
 * white (t = 0) to dark blue (t = 1). */
uint32_t cdt_plot_palette(int i);
uint32_t cdt_plot_ramp(double t);

/* Data to pixels: the plot area (px, py, pw, ph) shows [x0,x1] x [y0,y1],
 * y upwards. */
typedef struct cdt_plot_area {
    int px, py, pw, ph;
    double x0, x1, y0, y1;
} cdt_plot_area;
int cdt_plot_area_x(const cdt_plot_area *a, double x);
int cdt_plot_area_y(const cdt_plot_area *a, double y);
/* Axes of a: a box, "nice" ticks with their numbers, the labels of both
 * axes. Leaves 60 px on the left and 40 below a for them. */
void cdt_plot_axes(cdt_canvas *c, const cdt_plot_area *a, const char *xlabel, const char *ylabel);

/* A line chart: series s drawn over area a (its x0..y1 are set to the
 * data's range first when x0 == x1), a legend at the top right. */
typedef struct cdt_plot_series {
    const double *x, *y; /* (n) */
    int n;
    uint32_t rgb;
    const char *name;
} cdt_plot_series;
void cdt_plot_lines(cdt_canvas *c, cdt_plot_area *a, const cdt_plot_series *s, int ns,
                    const char *xlabel, const char *ylabel);

/* A scatter plot of n points xy (n,2) on a canvas it creates: a square
 * plot area of size pixels, points as discs of radius r coloured by label
 * (n, values >= 0; NULL: one colour; -1: gray), drawn in an order that
 * mixes the labels (no colour hides the others), a legend on the right
 * with names[label] (or the number), a title above. *area receives the
 * plot area, for drawing thumbnails on top. */
typedef struct cdt_scatter {
    const float *xy; /* (n,2) */
    uint64_t n;
    const int32_t *label;       /* (n) or NULL */
    const char *const *names;   /* (nnames) or NULL */
    int nnames;
    const char *title, *legend_title;
    int size, radius;
} cdt_scatter;
int cdt_plot_scatter(cdt_canvas *c, const cdt_scatter *s, cdt_plot_area *area);
/* Where to put thumbnails: the plot area cut into box x box cells; for
 * each cell holding points, of every other cell as on a chessboard (cell
 * (0,0) included, so that the points between stay visible), the row
 * nearest its centre into pick and the cell's top left into pos (so
 * thumbnails never overlap); at most max, in cell order. Returns how many.
 * CDT_ENOMEM. */
int cdt_plot_thumb_pick(const cdt_plot_area *a, const float *xy /* (n,2) */, uint64_t n, int box,
                        uint64_t *pick /* (max) */, int *pos /* (max,2) */, int max);

/* A confusion table as a picture: a row per cluster and a column per
 * class, every cell shaded by its count and printed with it (when it
 * fits), matched cells (match[row] == col) outlined red, the cluster and
 * class numbers along the sides, axis names, a colour scale with its
 * numbers. On a canvas it creates. */
typedef struct cdt_plot_confusion {
    int k, m;
    const int32_t *row_ids, *col_ids; /* (k), (m) */
    const uint64_t *count;            /* (k,m) */
    const int *match;                 /* (k) or NULL */
    const char *row_label, *col_label, *title;
} cdt_plot_confusion;
int cdt_plot_confusion_draw(cdt_canvas *c, const cdt_plot_confusion *t);

#endif
