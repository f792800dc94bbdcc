/* test_plot.c: the font's metrics and pixels, colours, the data-to-pixel
 * mapping, thumbnail placement, and t-SNE's argument checks and the
 * neighbours-kept figure. */
#include "t.h"
#include "cdt_core.h"
#include "cdt_plot.h"
#include "cdt_tsne.h"

#include <math.h>
#include <stdlib.h>

static int count(const cdt_canvas *c, uint32_t rgb)
{
    int n = 0;
    for (int i = 0; i < c->w * c->h; i++) {
        const uint8_t *p = c->pix + 3 * i;
        n += ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) == rgb;
    }
    return n;
}

static void test_text(t_state *ts)
{
    T_EQ_INT(ts, cdt_plot_text_width("abc", 1), 3 * CDT_FONT_W - 1);
    T_EQ_INT(ts, cdt_plot_text_width("abc", 2), 2 * (3 * CDT_FONT_W) - 2);
    T_EQ_INT(ts, cdt_plot_text_width("a\nbcd", 1), 3 * CDT_FONT_W - 1);
    T_EQ_INT(ts, cdt_plot_text_width("", 1), 0);
    cdt_canvas c;
    T_EQ_INT(ts, cdt_canvas_create(&c, 40, 20, CDT_WHITE), 0);
    /* 'I' is a bar of 3, a stem of 5, a bar of 3: 11 pixels, 44 at scale 2 */
    cdt_plot_text(&c, 2, 2, "I", 1, CDT_BLACK);
    T_EQ_INT(ts, count(&c, CDT_BLACK), 11);
    cdt_plot_rect(&c, 0, 0, 40, 20, CDT_WHITE);
    cdt_plot_text(&c, 2, 2, "I", 2, CDT_BLACK);
    T_EQ_INT(ts, count(&c, CDT_BLACK), 44);
    /* turned upwards: the same pixels, clipped nowhere */
    cdt_plot_rect(&c, 0, 0, 40, 20, CDT_WHITE);
    cdt_plot_text_up(&c, 2, 18, "I", 1, CDT_BLACK);
    T_EQ_INT(ts, count(&c, CDT_BLACK), 11);
    /* bytes outside ASCII draw as '?', and drawing off the canvas is clipped */
    cdt_plot_text(&c, -100, -100, "\xc3\xa9", 3, CDT_BLACK);
    cdt_canvas_free(&c);
    cdt_canvas_free(&c);  /* a freed canvas may be freed again */
    T_EQ_INT(ts, cdt_canvas_create(&c, 0, 5, CDT_WHITE), CDT_EINVAL);
}

static void test_colours(t_state *ts)
{
    T_EQ_INT(ts, cdt_plot_ramp(0), 0xffffff);
    T_EQ_INT(ts, cdt_plot_ramp(1), 0x08306b);
    T_EQ_INT(ts, cdt_plot_ramp(-3), 0xffffff);
    T_EQ_INT(ts, cdt_plot_palette(0), cdt_plot_palette(20));
    for (int i = 0; i < 20; i++)
        for (int j = i + 1; j < 20; j++)
            T_CHECK(ts, cdt_plot_palette(i) != cdt_plot_palette(j));
}

static void test_area(t_state *ts)
{
    cdt_plot_area a = {.px = 10, .py = 20, .pw = 101, .ph = 51, .x0 = 0, .x1 = 1, .y0 = -1, .y1 = 1};
    T_EQ_INT(ts, cdt_plot_area_x(&a, 0), 10);
    T_EQ_INT(ts, cdt_plot_area_x(&a, 1), 110);
    T_EQ_INT(ts, cdt_plot_area_y(&a, 1), 20);   /* y upwards */
    T_EQ_INT(ts, cdt_plot_area_y(&a, -1), 70);
    T_EQ_INT(ts, cdt_plot_area_y(&a, 0), 45);
    /* thumbnails: two points in one cell keep the nearer to its centre */
    cdt_plot_area b = {.px = 0, .py = 0, .pw = 100, .ph = 100, .x0 = 0, .x1 = 99, .y0 = 0, .y1 = 99};
    float xy[] = {1, 98, 20, 80, 80, 10};  /* cell (0,0) twice, cell (3,3) */
    uint64_t pick[4];
    int pos[8];
    int n = cdt_plot_thumb_pick(&b, xy, 3, 25, pick, pos, 4);
    T_EQ_INT(ts, n, 2);
    T_EQ_INT(ts, pick[0], 1);
    T_EQ_INT(ts, pos[0], 0);
    T_EQ_INT(ts, pos[1], 0);
    T_EQ_INT(ts, pick[1], 2);
    T_EQ_INT(ts, pos[2], 75);
    T_EQ_INT(ts, pos[3], 75);
}

static void test_scatter(t_state *ts)
{
    float xy[] = {0, 0, 1, 0, 0, 1, 5, 5};
    int32_t lab[] = {0, 1, 1, -1};
    cdt_scatter s = {.xy = xy, .n = 4, .label = lab, .size = 100, .radius = 1};
    cdt_canvas c;
    cdt_plot_area a;
    T_EQ_INT(ts, cdt_plot_scatter(&c, &s, &a), 0);
    /* 3x3 discs, far apart: each colour as often as its points (the legend
     * adds a 10x10 swatch per label) */
    T_EQ_INT(ts, count(&c, cdt_plot_palette(0)), 9 + 100);
    T_EQ_INT(ts, count(&c, cdt_plot_palette(1)), 18 + 100);
    T_CHECK(ts, count(&c, CDT_GRAY) >= 9 + 100);
    cdt_canvas_free(&c);
}

static void test_tsne_args(t_state *ts)
{
    float x[8 * 2] = {0}, xy[8 * 2];
    cdt_tsne_opts o = cdt_tsne_defaults();
    cdt_tsne_result r;
    T_EQ_INT(ts, cdt_tsne(x, 3, 2, &o, xy, &r), CDT_EINVAL);
    T_EQ_INT(ts, cdt_tsne(x, 8, 0, &o, xy, &r), CDT_EINVAL);
    x[5] = NAN;
    T_EQ_INT(ts, cdt_tsne(x, 8, 2, &o, xy, &r), CDT_EDATA);
    o.exag_iters = o.iters + 1;
    x[5] = 0;
    T_EQ_INT(ts, cdt_tsne(x, 8, 2, &o, xy, &r), CDT_EINVAL);
    /* kept: a copy keeps all; a scaled copy too; a reversed line keeps all */
    float y[10 * 3], z[10 * 1];
    for (int i = 0; i < 10; i++) {
        y[3 * i] = (float)(i * i);
        y[3 * i + 1] = (float)i;
        y[3 * i + 2] = 0;
        z[i] = (float)(-i * i);
    }
    double k;
    T_EQ_INT(ts, cdt_knn_kept(y, y, 10, 3, 3, 2, &k), 0);
    T_NEAR(ts, k, 1, 0);
    T_EQ_INT(ts, cdt_knn_kept(y, z, 10, 3, 1, 1, &k), 0);
    T_NEAR(ts, k, 1, 0);
    T_EQ_INT(ts, cdt_knn_kept(y, z, 10, 3, 1, 10, &k), CDT_EINVAL);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_text);
    T_RUN(&ts, test_colours);
    T_RUN(&ts, test_area);
    T_RUN(&ts, test_scatter);
    T_RUN(&ts, test_tsne_args);
    return T_END(&ts);
}
