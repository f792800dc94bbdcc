/* test_resize: properties of cdt_resize_u8 that hold for any box; its
 * agreement with torchvision is in test_augment_golden. */
#include <stdlib.h>
#include <string.h>

#include "cdt.h"
#include "t.h"

static uint8_t *noise(int n, unsigned seed)
{
    uint8_t *p = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    return p;
}

/* Weights sum to one, so a flat image stays flat whatever the box. */
static void test_flat_stays_flat(t_state *ts)
{
    int c = 3, h = 40, w = 30, bad = 0;
    uint8_t *src = malloc((size_t)c * h * w), *dst = malloc((size_t)c * 224 * 224);
    memset(src, 173, (size_t)c * h * w);
    int boxes[][6] = { {0, 0, 40, 30, 224, 224}, {3, 5, 7, 11, 1, 1}, {0, 0, 40, 30, 3, 2},
                       {39, 29, 1, 1, 17, 9}, {10, 0, 5, 30, 100, 7} };
    for (size_t k = 0; k < sizeof boxes / sizeof boxes[0]; k++) {
        int *b = boxes[k];
        float *s = malloc(cdt_resize_scratch(c, b[2], b[3], b[4], b[5]) * sizeof(float));
        cdt_resize_u8(dst, b[4], b[5], src, c, h, w, b[0], b[1], b[2], b[3], s);
        for (int i = 0; i < c * b[4] * b[5]; i++)
            bad += dst[i] != 173;
        free(s);
    }
    T_EQ_INT(ts, bad, 0);
    free(src);
    free(dst);
}

/* The whole image at its own size is a copy; a box at its own size is the
 * box, cut out. */
static void test_identity(t_state *ts)
{
    int c = 1, h = 28, w = 28;
    uint8_t *src = noise(c * h * w, 3), dst[28 * 28];
    float *s = malloc(cdt_resize_scratch(c, h, w, h, w) * sizeof(float));
    cdt_resize_u8(dst, h, w, src, c, h, w, 0, 0, h, w, s);
    T_CHECK(ts, !memcmp(dst, src, sizeof dst));
    cdt_resize_u8(dst, 9, 5, src, c, h, w, 4, 7, 9, 5, s);
    int bad = 0;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 5; x++)
            bad += dst[y * 5 + x] != src[(4 + y) * w + 7 + x];
    T_EQ_INT(ts, bad, 0);
    free(s);
    free(src);
}

/* Shrinking by an integer factor k averages with a triangle of radius k:
 * the output lies between the min and max of its window, and a 2x2 checker
 * shrunk to one pixel per 2x2 block gives the mean. */
static void test_shrink_bounds(t_state *ts)
{
    int h = 64, w = 64;
    uint8_t src[64 * 64], dst[8 * 8];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            src[y * w + x] = ((x + y) & 1) ? 200 : 100;
    float *s = malloc(cdt_resize_scratch(1, h, w, 8, 8) * sizeof(float));
    cdt_resize_u8(dst, 8, 8, src, 1, h, w, 0, 0, h, w, s);
    int bad = 0;
    for (int i = 0; i < 64; i++)
        bad += dst[i] < 148 || dst[i] > 152;
    T_EQ_INT(ts, bad, 0);
    free(s);
}

/* Extreme sizes run inside their scratch (ASan watches in make test SAN=1). */
static void test_extremes(t_state *ts)
{
    int sizes[][6] = { {1, 1, 224, 224}, {224, 224, 1, 1}, {1, 300, 3, 2}, {300, 1, 2, 3} };
    for (size_t k = 0; k < 4; k++) {
        int *z = sizes[k];
        uint8_t *src = noise(3 * z[0] * z[1], 9), *dst = malloc((size_t)3 * z[2] * z[3]);
        float *s = malloc(cdt_resize_scratch(3, z[0], z[1], z[2], z[3]) * sizeof(float));
        cdt_resize_u8(dst, z[2], z[3], src, 3, z[0], z[1], 0, 0, z[0], z[1], s);
        if (z[0] == 1 && z[1] == 1)
            T_CHECK(ts, dst[0] == src[0] && dst[224 * 224 - 1] == src[0]);
        free(src);
        free(dst);
        free(s);
    }
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_flat_stays_flat);
    T_RUN(&ts, test_identity);
    T_RUN(&ts, test_shrink_bounds);
    T_RUN(&ts, test_extremes);
    return T_END(&ts);
}
