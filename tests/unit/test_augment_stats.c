/* test_augment_stats: the random parameters of cdt_augment_draw over many
 * draws, without images. Crop boxes are compared with the distribution of
 * torchvision's RandomResizedCrop.get_params (CDFs measured by
 * tests/gen/gen_augment_golden.py from 200,000 draws); the coin flips with
 * their probabilities. Tolerances are 4.5 standard errors of the difference
 * of two proportions, so a correct generator fails about once in 100,000
 * runs, while a wrong scale or ratio range shifts a CDF point by far more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdt.h"
#include "t.h"

#define DRAWS 100000
#define Z 4.5

static double prop_tol(double p, double n1, double n2)
{
    double q = p * (1.0 - p);
    return Z * sqrt(q / n1 + q / n2) + 1e-9;
}

static void check_size(t_state *ts, const double *ref)
{
    int h = (int)ref[0], w = (int)ref[1];
    double nref = ref[2];
    long full = 0, area_le[9] = {0}, logr_le[11] = {0};
    double area_sum = 0.0;
    for (int k = 0; k < DRAWS; k++) {
        cdt_rng r;
        int b[4];
        cdt_rng_init(&r, 7, CDT_RNG_AUGMENT, 0, (uint64_t)k, 0);
        cdt_crop_params(b, &r, h, w, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0);
        T_CHECK(ts, b[0] >= 0 && b[1] >= 0 && b[2] > 0 && b[3] > 0);
        T_CHECK(ts, b[0] + b[2] <= h && b[1] + b[3] <= w);
        double area = (double)b[2] * b[3] / ((double)h * w), logr = log((double)b[3] / b[2]);
        area_sum += area;
        full += b[2] == h && b[3] == w;
        for (int i = 0; i < 9; i++)
            area_le[i] += area <= (i + 1) / 10.0;
        for (int i = 0; i < 11; i++)
            logr_le[i] += logr <= (i - 5) / 20.0;
    }
    printf("%dx%d: full %.5f (ref %.5f), mean area %.4f (ref %.4f)\n", h, w,
           (double)full / DRAWS, ref[3], area_sum / DRAWS, ref[4]);
    T_NEAR(ts, (double)full / DRAWS, ref[3], prop_tol(ref[3], DRAWS, nref));
    T_NEAR(ts, area_sum / DRAWS, ref[4], Z * 0.25 * sqrt(1.0 / DRAWS + 1.0 / nref));
    for (int i = 0; i < 9; i++)
        T_NEAR(ts, (double)area_le[i] / DRAWS, ref[6 + i], prop_tol(ref[6 + i], DRAWS, nref));
    for (int i = 0; i < 11; i++)
        T_NEAR(ts, (double)logr_le[i] / DRAWS, ref[15 + i], prop_tol(ref[15 + i], DRAWS, nref));
}

static void test_crop_distribution(t_state *ts)
{
    FILE *f = fopen("tests/golden/augment/crop_stats.txt", "r");
    T_CHECK(ts, f != NULL);
    if (!f)
        return;
    char line[4096];
    int sizes = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        double ref[26];
        int n = 0;
        for (char *s = line, *end; n < 26; s = end, n++) {
            ref[n] = strtod(s, &end);
            if (end == s)
                break;
        }
        T_EQ_INT(ts, n, 26);
        if (n == 26)
            check_size(ts, ref);
        sizes++;
    }
    fclose(f);
    T_EQ_INT(ts, sizes, 4);
}

/* Rates of the coin flips and ranges of the factors, for both strengths. */
static void check_rates(t_state *ts, double s, int color, int blur)
{
    cdt_augment_opts o = { .size = 32, .jitter = s, .color = color, .blur = blur };
    long flip = 0, jit = 0, gray = 0, bl = 0, first[4] = {0};
    double bsum = 0.0, hmin = 1, hmax = -1, smin = 9, smax = -9, flo = 9, fhi = -9;
    for (int k = 0; k < DRAWS; k++) {
        cdt_rng r;
        cdt_augment_params p;
        cdt_rng_init(&r, 11, CDT_RNG_AUGMENT, 3, (uint64_t)k, 1);
        cdt_augment_draw(&p, &r, 32, 32, &o);
        flip += p.flip, jit += p.jitter, gray += p.gray, bl += p.blur;
        int seen = 0;
        for (int i = 0; i < 4; i++)
            seen |= 1 << p.order[i];
        T_CHECK(ts, seen == 15);
        first[p.order[0]]++;
        bsum += p.brightness;
        flo = fmin(flo, fmin(p.brightness, fmin(p.contrast, p.saturation)));
        fhi = fmax(fhi, fmax(p.brightness, fmax(p.contrast, p.saturation)));
        hmin = fmin(hmin, p.hue), hmax = fmax(hmax, p.hue);
        smin = fmin(smin, p.sigma), smax = fmax(smax, p.sigma);
    }
    double n = DRAWS;
    printf("s=%.1f color=%d blur=%d: flip %.4f jitter %.4f gray %.4f blur %.4f\n",
           s, color, blur, flip / n, jit / n, gray / n, bl / n);
    T_NEAR(ts, flip / n, 0.5, Z * sqrt(0.25 / n));
    T_NEAR(ts, jit / n, 0.8, Z * sqrt(0.16 / n));
    T_NEAR(ts, gray / n, color ? 0.2 : 0.0, Z * sqrt(0.16 / n));
    T_NEAR(ts, bl / n, blur ? 0.5 : 0.0, Z * sqrt(0.25 / n));
    for (int i = 0; i < 4; i++)
        T_NEAR(ts, first[i] / n, 0.25, Z * sqrt(0.1875 / n));
    /* brightness ~ U(max(0, 1 - 0.8s), 1 + 0.8s): mean 1, sd 0.8s/sqrt(3) */
    T_NEAR(ts, bsum / n, 1.0, Z * 0.8 * s / sqrt(3.0 * n));
    double lo = 1.0 - 0.8 * s > 0 ? 1.0 - 0.8 * s : 0.0;
    T_CHECK(ts, flo >= lo && flo < lo + 0.01 && fhi < 1.0 + 0.8 * s && fhi > 1.0 + 0.8 * s - 0.01);
    T_CHECK(ts, hmin >= -0.2 * s && hmin < -0.2 * s + 0.01 && hmax < 0.2 * s && hmax > 0.2 * s - 0.01);
    T_CHECK(ts, smin >= 0.1 && smin < 0.11 && smax < 2.0 && smax > 1.99);
}

static void test_rates(t_state *ts)
{
    check_rates(ts, 0.5, 1, 0);
    check_rates(ts, 1.0, 1, 1);
    check_rates(ts, 1.0, 0, 1);
}

/* The numbers belong to (seed, epoch, id, view) and nothing else. */
static void test_counter_based(t_state *ts)
{
    cdt_augment_opts o = { .size = 32, .jitter = 1.0, .color = 1, .blur = 1 };
    cdt_augment_params a, b;
    cdt_rng r;
    int same = 0, differ = 0;
    for (uint64_t id = 0; id < 200; id++) {
        cdt_rng_init(&r, 5, CDT_RNG_AUGMENT, 2, id, 1);
        cdt_augment_draw(&a, &r, 32, 32, &o);
        cdt_rng_init(&r, 5, CDT_RNG_AUGMENT, 2, id, 1);
        cdt_augment_draw(&b, &r, 32, 32, &o);
        same += !memcmp(&a, &b, sizeof a);
        cdt_rng_init(&r, 5, CDT_RNG_AUGMENT, 2, id, 0);
        cdt_augment_draw(&b, &r, 32, 32, &o);
        differ += a.brightness != b.brightness;
        cdt_rng_init(&r, 5, CDT_RNG_AUGMENT, 3, id, 1);
        cdt_augment_draw(&b, &r, 32, 32, &o);
        differ += a.brightness != b.brightness;
    }
    T_EQ_INT(ts, same, 200);
    T_EQ_INT(ts, differ, 400);
}

/* Without jitter strength torchvision's ColorJitter is the identity, and
 * our chain must leave the pixels alone too. */
static void test_zero_jitter_identity(t_state *ts)
{
    cdt_augment_opts o = { .size = 8, .jitter = 0.0, .color = 1, .blur = 0 };
    uint8_t src[3 * 8 * 8], dst[3 * 8 * 8];
    float scratch[4096];
    for (int i = 0; i < 3 * 64; i++)
        src[i] = (uint8_t)(i * 37 + 11);
    int changed = 0;
    for (uint64_t id = 0; id < 50; id++) {
        cdt_rng r;
        cdt_augment_params p;
        cdt_rng_init(&r, 1, CDT_RNG_AUGMENT, 0, id, 0);
        cdt_augment_draw(&p, &r, 8, 8, &o);
        T_EQ_INT(ts, p.jitter, 0);
        p.box[0] = p.box[1] = 0, p.box[2] = p.box[3] = 8, p.flip = 0, p.gray = 0;
        T_CHECK(ts, cdt_augment_scratch(3, 8, 8, &o) <= 4096);
        cdt_augment_apply(dst, src, 3, 8, 8, &p, &o, scratch);
        changed += memcmp(src, dst, sizeof src) != 0;
    }
    T_EQ_INT(ts, changed, 0);
}

/* --crop-scale: every box of the chain covers at least crop_lo of the
 * image (less only by the rounding of its sides), and a larger crop_lo
 * moves the mean area up as U(lo, 1) does. */
static void test_crop_scale(t_state *ts)
{
    const double los[3] = {0.0, 0.2, 0.5}, mean_ref[3] = {0.54, 0.6, 0.75};
    double prev = 0.0;
    for (int k = 0; k < 3; k++) {
        cdt_augment_opts o = { .size = 28, .jitter = 1.0, .color = 0, .blur = 0, .crop_lo = los[k] };
        double lo = los[k] > 0 ? los[k] : 0.08, least = 1.0, sum = 0.0;
        for (uint64_t id = 0; id < 20000; id++) {
            cdt_rng r;
            cdt_augment_params p;
            cdt_rng_init(&r, 3, CDT_RNG_AUGMENT, 0, id, 0);
            cdt_augment_draw(&p, &r, 28, 28, &o);
            double a = (double)p.box[2] * p.box[3] / (28.0 * 28.0);
            least = a < least ? a : least;
            sum += a;
        }
        printf("crop_lo %.2f: least area %.4f, mean %.4f\n", lo, least, sum / 20000);
        // sides round to whole pixels: a box may lose up to about one row and column
        T_CHECK(ts, least >= lo * (1.0 - 2.0 / (28.0 * sqrt(lo))) - 1e-9);
        T_CHECK(ts, least < lo + 0.05);
        // (1 + lo) / 2 less a little: boxes that do not fit are redrawn, more of them large
        T_NEAR(ts, sum / 20000, mean_ref[k], 0.06);
        T_CHECK(ts, sum / 20000 > prev + 0.04);
        prev = sum / 20000;
    }
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_crop_distribution);
    T_RUN(&ts, test_rates);
    T_RUN(&ts, test_counter_based);
    T_RUN(&ts, test_zero_jitter_identity);
    T_RUN(&ts, test_crop_scale);
    return T_END(&ts);
}
