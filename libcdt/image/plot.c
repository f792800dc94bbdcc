/* plot.c: canvases, shapes, images, axes, line charts, scatter plots and
 * confusion tables (cdt_plot.h); the font is in font.c. */
#include "cdt_plot.h"
#include "cdt_core.h"
#include "cdt_png.h"
#include "cdt_resize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cdt_canvas_create(cdt_canvas *c, int w, int h, uint32_t bg)
{
    *c = (cdt_canvas){0};
    if (w < 1 || h < 1 || w > 32768 || h > 32768)
        return CDT_EINVAL;
    if (!(c->pix = malloc((size_t)w * h * 3)))
        return CDT_ENOMEM;
    c->w = w;
    c->h = h;
    cdt_plot_rect(c, 0, 0, w, h, bg);
    return 0;
}

void cdt_canvas_free(cdt_canvas *c)
{
    if (!c)
        return;
    free(c->pix);
    *c = (cdt_canvas){0};
}

int cdt_canvas_write_png(int fd, const cdt_canvas *c)
{
    return cdt_png_write_fd(fd, c->pix, (uint32_t)c->w, (uint32_t)c->h, 3);
}

void cdt_plot_pixel(cdt_canvas *c, int x, int y, uint32_t rgb)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return;
    uint8_t *p = c->pix + ((size_t)y * c->w + x) * 3;
    p[0] = (uint8_t)(rgb >> 16);
    p[1] = (uint8_t)(rgb >> 8);
    p[2] = (uint8_t)rgb;
}

void cdt_plot_rect(cdt_canvas *c, int x, int y, int w, int h, uint32_t rgb)
{
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > c->w ? c->w : x + w, y1 = y + h > c->h ? c->h : y + h;
    for (int j = y0; j < y1; j++)
        for (int i = x0; i < x1; i++) {
            uint8_t *p = c->pix + ((size_t)j * c->w + i) * 3;
            p[0] = (uint8_t)(rgb >> 16);
            p[1] = (uint8_t)(rgb >> 8);
            p[2] = (uint8_t)rgb;
        }
}

void cdt_plot_outline(cdt_canvas *c, int x, int y, int w, int h, uint32_t rgb)
{
    cdt_plot_rect(c, x, y, w, 1, rgb);
    cdt_plot_rect(c, x, y + h - 1, w, 1, rgb);
    cdt_plot_rect(c, x, y, 1, h, rgb);
    cdt_plot_rect(c, x + w - 1, y, 1, h, rgb);
}

void cdt_plot_line(cdt_canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb)
{
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int guard = 0; guard < 1 << 20; guard++) {
        cdt_plot_pixel(c, x0, y0, rgb);
        if (x0 == x1 && y0 == y1)
            return;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

void cdt_plot_disc(cdt_canvas *c, int x, int y, int r, uint32_t rgb)
{
    for (int j = -r; j <= r; j++)
        for (int i = -r; i <= r; i++)
            if (i * i + j * j <= r * r + r)
                cdt_plot_pixel(c, x + i, y + j, rgb);
}

int cdt_plot_image(cdt_canvas *c, int x, int y, int box, const uint8_t *img, int ch, int h, int w)
{
    int big = h > w ? h : w;
    int oh = (int)((int64_t)h * box / big), ow = (int)((int64_t)w * box / big), f = 1;
    if (big <= box) {  /* enlarge by whole pixels only: no blur */
        f = box / big;
        oh = h;
        ow = w;
    }
    oh = oh < 1 ? 1 : oh;
    ow = ow < 1 ? 1 : ow;
    const uint8_t *src = img;
    uint8_t *tmp = NULL;
    float *scratch = NULL;
    if (f == 1 && (oh != h || ow != w)) {
        tmp = malloc((size_t)ch * oh * ow);
        scratch = malloc(cdt_resize_scratch(ch, h, w, oh, ow) * sizeof *scratch);
        if (!tmp || !scratch) {
            free(tmp); free(scratch);
            return CDT_ENOMEM;
        }
        cdt_resize_u8(tmp, oh, ow, img, ch, h, w, 0, 0, h, w, scratch);
        src = tmp;
    }
    int ox = x + (box - ow * f) / 2, oy = y + (box - oh * f) / 2;
    size_t plane = (size_t)oh * ow;
    for (int j = 0; j < oh * f; j++)
        for (int i = 0; i < ow * f; i++) {
            size_t at = (size_t)(j / f) * ow + i / f;
            uint32_t r = src[at], g = ch == 3 ? src[plane + at] : r, b = ch == 3 ? src[2 * plane + at] : r;
            cdt_plot_pixel(c, ox + i, oy + j, r << 16 | g << 8 | b);
        }
    free(tmp);
    free(scratch);
    return 0;
}

/* Tableau's 10 colours, then lighter companions. */
uint32_t cdt_plot_palette(int i)
{
    static const uint32_t pal[20] = {
        0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f,
        0xbcbd22, 0x17becf, 0xaec7e8, 0xffbb78, 0x98df8a, 0xff9896, 0xc5b0d5, 0xc49c94,
        0xf7b6d2, 0xc7c7c7, 0xdbdb8d, 0x9edae5};
    return pal[(i < 0 ? -i : i) % 20];
}

uint32_t cdt_plot_ramp(double t)
{
    static const double stop[5][3] = {
        {255, 255, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double u = t * 4;
    int k = u >= 4 ? 3 : (int)u;
    double f = u - k;
    uint32_t out = 0;
    for (int ch = 0; ch < 3; ch++)
        out = out << 8 | (uint32_t)lround(stop[k][ch] + f * (stop[k + 1][ch] - stop[k][ch]));
    return out;
}

int cdt_plot_area_x(const cdt_plot_area *a, double x)
{
    double span = a->x1 - a->x0;
    return a->px + (int)lround(span > 0 ? (x - a->x0) / span * (a->pw - 1) : (a->pw - 1) / 2.0);
}

int cdt_plot_area_y(const cdt_plot_area *a, double y)
{
    double span = a->y1 - a->y0;
    return a->py + a->ph - 1 - (int)lround(span > 0 ? (y - a->y0) / span * (a->ph - 1) : (a->ph - 1) / 2.0);
}

/* A tick step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double nice_step(double span, int n)
{
    if (!(span > 0))
        return 1;
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void tick_label(char *buf, size_t len, double v, double step)
{
    if (fabs(v) < step * 1e-6)
        v = 0;
    if (fabs(v) >= 1e5 || (fabs(v) < 1e-3 && v != 0))
        snprintf(buf, len, "%.2g", v);
    else
        snprintf(buf, len, "%.*f", step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9), v);
}

void cdt_plot_axes(cdt_canvas *c, const cdt_plot_area *a, const char *xlabel, const char *ylabel)
{
    cdt_plot_outline(c, a->px - 1, a->py - 1, a->pw + 2, a->ph + 2, CDT_BLACK);
    char buf[64];
    double st = nice_step(a->x1 - a->x0, 6);
    for (double v = ceil(a->x0 / st) * st; v <= a->x1 + st * 1e-9; v += st) {
        int px = cdt_plot_area_x(a, v);
        cdt_plot_rect(c, px, a->py + a->ph, 1, 5, CDT_BLACK);
        tick_label(buf, sizeof buf, v, st);
        cdt_plot_text(c, px - cdt_plot_text_width(buf, 1) / 2, a->py + a->ph + 8, buf, 1, CDT_BLACK);
    }
    st = nice_step(a->y1 - a->y0, 5);
    for (double v = ceil(a->y0 / st) * st; v <= a->y1 + st * 1e-9; v += st) {
        int py = cdt_plot_area_y(a, v);
        cdt_plot_rect(c, a->px - 6, py, 5, 1, CDT_BLACK);
        tick_label(buf, sizeof buf, v, st);
        cdt_plot_text(c, a->px - 9 - cdt_plot_text_width(buf, 1), py - 3, buf, 1, CDT_BLACK);
    }
    if (xlabel)
        cdt_plot_text(c, a->px + (a->pw - cdt_plot_text_width(xlabel, 1)) / 2, a->py + a->ph + 24,
                      xlabel, 1, CDT_BLACK);
    if (ylabel)
        cdt_plot_text_up(c, a->px - 56, a->py + (a->ph + cdt_plot_text_width(ylabel, 1)) / 2,
                         ylabel, 1, CDT_BLACK);
}

void cdt_plot_lines(cdt_canvas *c, cdt_plot_area *a, const cdt_plot_series *s, int ns,
                    const char *xlabel, const char *ylabel)
{
    if (a->x0 == a->x1) {
        int first = 1;
        for (int k = 0; k < ns; k++)
            for (int i = 0; i < s[k].n; i++) {
                if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i]))
                    continue;
                if (first || s[k].x[i] < a->x0) a->x0 = s[k].x[i];
                if (first || s[k].x[i] > a->x1) a->x1 = s[k].x[i];
                if (first || s[k].y[i] < a->y0) a->y0 = s[k].y[i];
                if (first || s[k].y[i] > a->y1) a->y1 = s[k].y[i];
                first = 0;
            }
        double pad = (a->y1 - a->y0) * 0.05;
        a->y0 -= pad;
        a->y1 += pad;
    }
    cdt_plot_axes(c, a, xlabel, ylabel);
    for (int k = 0; k < ns; k++) {
        int px = 0, py = 0, have = 0;
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) {
                have = 0;
                continue;
            }
            int x = cdt_plot_area_x(a, s[k].x[i]), y = cdt_plot_area_y(a, s[k].y[i]);
            if (have)
                cdt_plot_line(c, px, py, x, y, s[k].rgb);
            else
                cdt_plot_pixel(c, x, y, s[k].rgb);
            px = x;
            py = y;
            have = 1;
        }
        int lx = a->px + a->pw - 150, ly = a->py + 8 + k * 14;
        cdt_plot_rect(c, lx, ly + 2, 14, 3, s[k].rgb);
        cdt_plot_text(c, lx + 20, ly, s[k].name ? s[k].name : "", 1, CDT_BLACK);
    }
}

/* ---- scatter ---- */

static void scatter_range(const cdt_scatter *s, cdt_plot_area *a)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (uint64_t i = 0; i < s->n; i++) {
        x0 = fmin(x0, s->xy[2 * i]); x1 = fmax(x1, s->xy[2 * i]);
        y0 = fmin(y0, s->xy[2 * i + 1]); y1 = fmax(y1, s->xy[2 * i + 1]);
    }
    double half = fmax(x1 - x0, y1 - y0) / 2 * 1.04 + 1e-9;  /* one scale for both axes */
    double cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    a->x0 = cx - half; a->x1 = cx + half;
    a->y0 = cy - half; a->y1 = cy + half;
}

static void scatter_legend(cdt_canvas *c, const cdt_scatter *s, int x, int y, int h)
{
    int nl = 0;
    for (uint64_t i = 0; i < s->n; i++)
        nl = s->label[i] + 1 > nl ? s->label[i] + 1 : nl;
    uint64_t *cnt = calloc((size_t)nl + 1, sizeof *cnt);
    if (!cnt)
        return;
    for (uint64_t i = 0; i < s->n; i++)
        cnt[s->label[i] >= 0 ? s->label[i] : nl]++;
    cdt_plot_text(c, x, y, s->legend_title ? s->legend_title : "label", 1, CDT_BLACK);
    int rows = (h - 20) / 14, shown = 0;
    char buf[160];
    for (int l = 0; l <= nl && shown < rows; l++) {
        if (!cnt[l])
            continue;
        int ly = y + 18 + shown * 14;
        if (shown == rows - 1 && l < nl) {
            cdt_plot_text(c, x, ly, "...", 1, CDT_BLACK);
            break;
        }
        const char *name = l < nl && s->names && l < s->nnames ? s->names[l] : NULL;
        if (l == nl)
            snprintf(buf, sizeof buf, "none (%llu)", (unsigned long long)cnt[l]);
        else if (name)
            snprintf(buf, sizeof buf, "%d %.60s (%llu)", l, name, (unsigned long long)cnt[l]);
        else
            snprintf(buf, sizeof buf, "%d (%llu)", l, (unsigned long long)cnt[l]);
        cdt_plot_rect(c, x, ly, 10, 10, l == nl ? CDT_GRAY : cdt_plot_palette(l));
        cdt_plot_text(c, x + 16, ly + 2, buf, 1, CDT_BLACK);
        shown++;
    }
    free(cnt);
}

int cdt_plot_scatter(cdt_canvas *c, const cdt_scatter *s, cdt_plot_area *area)
{
    int size = s->size, legend = s->label ? 240 : 0;
    int rc = cdt_canvas_create(c, 20 + size + 20 + legend, 40 + size + 20, CDT_WHITE);
    if (rc < 0)
        return rc;
    cdt_plot_area a = {.px = 20, .py = 40, .pw = size, .ph = size};
    scatter_range(s, &a);
    cdt_plot_outline(c, a.px - 1, a.py - 1, a.pw + 2, a.ph + 2, CDT_GRAY);
    if (s->title)
        cdt_plot_text(c, 20, 12, s->title, 2, CDT_BLACK);
    /* a fixed scrambled order, so that no label is drawn wholly on top */
    uint64_t step = 1000003;
    while (s->n % step == 0)
        step += 2;
    for (uint64_t t = 0, i = 0; t < s->n; t++, i = (i + step) % s->n) {
        uint32_t rgb = !s->label ? 0x1f77b4 : s->label[i] < 0 ? CDT_GRAY : cdt_plot_palette(s->label[i]);
        cdt_plot_disc(c, cdt_plot_area_x(&a, s->xy[2 * i]), cdt_plot_area_y(&a, s->xy[2 * i + 1]),
                      s->radius, rgb);
    }
    if (s->label)
        scatter_legend(c, s, a.px + a.pw + 20, a.py, a.ph);
    if (area)
        *area = a;
    return 0;
}

int cdt_plot_thumb_pick(const cdt_plot_area *a, const float *xy, uint64_t n, int box,
                        uint64_t *pick, int *pos, int max)
{
    int cols = a->pw / box, rows = a->ph / box;
    if (cols < 1 || rows < 1)
        return 0;
    int64_t *best = malloc((size_t)cols * rows * sizeof *best);
    double *bd = malloc((size_t)cols * rows * sizeof *bd);
    if (!best || !bd) {
        free(best); free(bd);
        return CDT_ENOMEM;
    }
    for (int i = 0; i < cols * rows; i++)
        best[i] = -1;
    for (uint64_t i = 0; i < n; i++) {
        int px = cdt_plot_area_x(a, xy[2 * i]) - a->px, py = cdt_plot_area_y(a, xy[2 * i + 1]) - a->py;
        int cx = px / box, cy = py / box;
        if (cx < 0 || cy < 0 || cx >= cols || cy >= rows || (cx + cy) % 2)
            continue;  /* every other cell, as a chessboard's: the points stay visible */
        double dx = px - (cx + 0.5) * box, dy = py - (cy + 0.5) * box, d = dx * dx + dy * dy;
        int at = cy * cols + cx;
        if (best[at] < 0 || d < bd[at]) {
            best[at] = (int64_t)i;
            bd[at] = d;
        }
    }
    int m = 0;
    for (int i = 0; i < cols * rows && m < max; i++)
        if (best[i] >= 0) {
            pick[m] = (uint64_t)best[i];
            pos[2 * m] = a->px + i % cols * box;
            pos[2 * m + 1] = a->py + i / cols * box;
            m++;
        }
    free(best);
    free(bd);
    return m;
}

/* ---- confusion table ---- */

static void confusion_scale(cdt_canvas *c, int x, int y, int h, uint64_t top)
{
    for (int j = 0; j < h; j++)
        cdt_plot_rect(c, x, y + j, 16, 1, cdt_plot_ramp(1 - (double)j / (h - 1)));
    cdt_plot_outline(c, x - 1, y - 1, 18, h + 2, CDT_BLACK);
    char buf[32];
    for (int t = 0; t <= 4; t++) {
        int py = y + (h - 1) - (h - 1) * t / 4;
        snprintf(buf, sizeof buf, "%.0f", (double)top * t / 4);
        cdt_plot_rect(c, x + 17, py, 4, 1, CDT_BLACK);
        cdt_plot_text(c, x + 24, py - 3, buf, 1, CDT_BLACK);
    }
    cdt_plot_text(c, x - 4, y - 16, "rows", 1, CDT_BLACK);
}

int cdt_plot_confusion_draw(cdt_canvas *c, const cdt_plot_confusion *t)
{
    int big = t->k > t->m ? t->k : t->m;
    if (big < 1 || big > 4096)
        return CDT_EINVAL;
    int cell = 640 / big;
    cell = cell < 4 ? 4 : cell > 48 ? 48 : cell;
    int left = 80, top = 80, gw = t->m * cell, gh = t->k * cell;
    int w = left + gw + 110, tw = t->title ? 20 + cdt_plot_text_width(t->title, 2) : 0;
    w = w < tw ? tw : w < 420 ? 420 : w;
    int rc = cdt_canvas_create(c, w, top + gh + 20 > 300 ? top + gh + 20 : 300, CDT_WHITE);
    if (rc < 0)
        return rc;
    uint64_t mx = 1;
    for (size_t i = 0; i < (size_t)t->k * t->m; i++)
        mx = t->count[i] > mx ? t->count[i] : mx;
    char buf[32];
    for (int i = 0; i < t->k; i++)
        for (int j = 0; j < t->m; j++) {
            uint64_t v = t->count[(size_t)i * t->m + j];
            double f = (double)v / mx;
            int x = left + j * cell, y = top + i * cell;
            cdt_plot_rect(c, x, y, cell, cell, cdt_plot_ramp(f));
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
            if (cell >= 12 && cdt_plot_text_width(buf, 1) <= cell - 2)
                cdt_plot_text(c, x + (cell - cdt_plot_text_width(buf, 1)) / 2, y + (cell - 7) / 2,
                              buf, 1, f > 0.45 ? CDT_WHITE : CDT_BLACK);
        }
    for (int i = 0; t->match && i < t->k; i++)
        if (t->match[i] >= 0) {
            int x = left + t->match[i] * cell, y = top + i * cell;
            cdt_plot_outline(c, x, y, cell, cell, 0xe00000);
            if (cell >= 8)
                cdt_plot_outline(c, x + 1, y + 1, cell - 2, cell - 2, 0xe00000);
        }
    cdt_plot_outline(c, left - 1, top - 1, gw + 2, gh + 2, CDT_BLACK);
    int every = cell >= 10 ? 1 : (10 + cell - 1) / cell;
    for (int i = 0; i < t->k; i += every) {
        snprintf(buf, sizeof buf, "%d", t->row_ids ? t->row_ids[i] : i);
        cdt_plot_text(c, left - 6 - cdt_plot_text_width(buf, 1), top + i * cell + (cell - 7) / 2, buf, 1, CDT_BLACK);
    }
    for (int j = 0; j < t->m; j += every) {
        snprintf(buf, sizeof buf, "%d", t->col_ids ? t->col_ids[j] : j);
        cdt_plot_text(c, left + j * cell + (cell - cdt_plot_text_width(buf, 1)) / 2, top - 14, buf, 1, CDT_BLACK);
    }
    if (t->title)
        cdt_plot_text(c, 10, 8, t->title, 2, CDT_BLACK);
    if (t->col_label)
        cdt_plot_text(c, left + (gw - cdt_plot_text_width(t->col_label, 1)) / 2, top - 32, t->col_label, 1, CDT_BLACK);
    if (t->row_label)
        cdt_plot_text_up(c, 12, top + (gh + cdt_plot_text_width(t->row_label, 1)) / 2, t->row_label, 1, CDT_BLACK);
    confusion_scale(c, left + gw + 30, top, gh > 200 ? gh : 200, mx);
    return 0;
}
