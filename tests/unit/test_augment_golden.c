/* test_augment_golden: every augmentation op and the whole chain against
 * torchvision 0.14 on uint8 tensors (tests/golden/augment, made by
 * tests/gen/gen_augment_golden.py). A case passes when at least 99% of its
 * pixels are within one grey level of torchvision's; we also count exact
 * matches per op, expected to be (nearly) all of them, and print them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdt.h"
#include "cdt_augment.h"
#include "t.h"

#define DIR "tests/golden/augment/"

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return buf;
}

typedef struct op_tally { const char *op; long cases, pixels, exact, near, bad_cases; } op_tally;

static op_tally tallies[] = {
    {"resize", 0, 0, 0, 0, 0}, {"brightness", 0, 0, 0, 0, 0}, {"contrast", 0, 0, 0, 0, 0},
    {"saturation", 0, 0, 0, 0, 0}, {"hue", 0, 0, 0, 0, 0}, {"gray", 0, 0, 0, 0, 0},
    {"flip", 0, 0, 0, 0, 0}, {"blur", 0, 0, 0, 0, 0}, {"chain", 0, 0, 0, 0, 0},
};

static op_tally *tally_for(const char *op)
{
    for (size_t i = 0; i < sizeof tallies / sizeof tallies[0]; i++)
        if (!strcmp(tallies[i].op, op))
            return &tallies[i];
    return NULL;
}

/* Run the chain with the parameters the generator fixed. */
static void run_chain(uint8_t *dst, const uint8_t *src, int c, int h, int w,
                      const double *a, float *scratch)
{
    /* a: size, box[4], flip, jitter, order[4], factors[4], gray, blur,
     * sigma, color, as the generator writes them. */
    cdt_augment_opts o = { .size = (int)a[0], .jitter = 1.0, .color = (int)a[18], .blur = 1 };
    cdt_augment_params p;
    memset(&p, 0, sizeof p);
    for (int k = 0; k < 4; k++) {
        p.box[k] = (int)a[1 + k];
        p.order[k] = (int)a[7 + k];
    }
    p.flip = (int)a[5];
    p.jitter = (int)a[6];
    p.brightness = a[11], p.contrast = a[12], p.saturation = a[13], p.hue = a[14];
    p.gray = (int)a[15];
    p.blur = (int)a[16];
    p.sigma = a[17];
    cdt_augment_apply(dst, src, c, h, w, &p, &o, scratch);
}

static void run_case(const char *op, uint8_t *dst, const uint8_t *src, int c, int h,
                     int w, int oh, int ow, const double *a, float *scratch)
{
    if (!strcmp(op, "resize")) {
        cdt_resize_u8(dst, oh, ow, src, c, h, w, (int)a[0], (int)a[1], (int)a[2],
                      (int)a[3], scratch);
        return;
    }
    if (!strcmp(op, "chain")) {
        run_chain(dst, src, c, h, w, a, scratch);
        return;
    }
    memcpy(dst, src, (size_t)c * h * w);
    if (!strcmp(op, "brightness"))
        cdt_adjust_brightness_u8(dst, c, h, w, a[0]);
    else if (!strcmp(op, "contrast"))
        cdt_adjust_contrast_u8(dst, c, h, w, a[0]);
    else if (!strcmp(op, "saturation"))
        cdt_adjust_saturation_u8(dst, c, h, w, a[0]);
    else if (!strcmp(op, "hue"))
        cdt_adjust_hue_u8(dst, c, h, w, a[0]);
    else if (!strcmp(op, "gray"))
        cdt_grayscale_u8(dst, c, h, w);
    else if (!strcmp(op, "flip"))
        cdt_hflip_u8(dst, c, h, w);
    else if (!strcmp(op, "blur"))
        cdt_gaussian_blur_u8(dst, c, h, w, (int)a[0], a[1], scratch);
}

/* One line of cases.txt: OP IN_OFF C H W OH OW EXP_OFF ARGS... */
static void check_line(t_state *ts, char *line, const uint8_t *in, size_t in_n,
                       const uint8_t *exp, size_t exp_n, uint8_t *out, float *scratch)
{
    char op[32];
    long in_off, exp_off;
    int c, h, w, oh, ow, used;
    double a[24];
    int na = 0;
    if (sscanf(line, "%31s %ld %d %d %d %d %d %ld%n", op, &in_off, &c, &h, &w, &oh, &ow,
               &exp_off, &used) != 8) {
        T_CHECK(ts, !"malformed line in cases.txt");
        return;
    }
    for (char *s = line + used, *end; na < 24; s = end) {
        a[na] = strtod(s, &end);
        if (end == s)
            break;
        na++;
    }
    size_t n = (size_t)c * oh * ow;
    op_tally *t = tally_for(op);
    T_CHECK(ts, t != NULL);
    T_CHECK(ts, (size_t)in_off + (size_t)c * h * w <= in_n && (size_t)exp_off + n <= exp_n);
    if (!t || (size_t)in_off + (size_t)c * h * w > in_n || (size_t)exp_off + n > exp_n)
        return;
    run_case(op, out, in + in_off, c, h, w, oh, ow, a, scratch);
    long exact = 0, near = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)out[i] - (int)exp[exp_off + i]);
        exact += d == 0;
        near += d <= 1;
    }
    t->cases++;
    t->pixels += (long)n;
    t->exact += exact;
    t->near += near;
    if (near < (long)(0.99 * (double)n)) {
        t->bad_cases++;
        fprintf(stderr, "%s: %ld of %zu pixels within 1 (line: %s)\n", op, near, n, line);
    }
}

static void test_golden(t_state *ts)
{
    size_t in_n, exp_n, cases_n;
    uint8_t *in = slurp(DIR "inputs.u8", &in_n);
    uint8_t *exp = slurp(DIR "expect.u8", &exp_n);
    char *cases = (char *)slurp(DIR "cases.txt", &cases_n);
    T_CHECK(ts, in && exp && cases);
    if (in && exp && cases) {
        cases[cases_n] = 0;
        uint8_t *out = malloc(3 * 224 * 224);
        float *scratch = malloc(1 << 22);
        int lines = 0;
        for (char *save, *line = strtok_r(cases, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save), lines++)
            check_line(ts, line, in, in_n, exp, exp_n, out, scratch);
        T_CHECK(ts, lines > 100);
        for (size_t i = 0; i < sizeof tallies / sizeof tallies[0]; i++) {
            op_tally *t = &tallies[i];
            printf("%-10s %3ld cases, %7ld pixels: %.4f%% exact, %.4f%% within 1\n", t->op,
                   t->cases, t->pixels, 100.0 * t->exact / (t->pixels ? t->pixels : 1),
                   100.0 * t->near / (t->pixels ? t->pixels : 1));
            T_CHECK(ts, t->cases > 0);
            T_EQ_INT(ts, t->bad_cases, 0);
        }
        free(out);
        free(scratch);
    }
    free(in);
    free(exp);
    free(cases);
}

/* Scratch sizes: the chain's scratch must cover the resize of any box and
 * the blur; overrunning it would show under ASan in the golden test, and
 * here we check the bound grows with the box as assumed. */
static void test_scratch_bounds(t_state *ts)
{
    cdt_augment_opts o = { .size = 224, .jitter = 1.0, .color = 1, .blur = 1 };
    size_t all = cdt_augment_scratch(3, 96, 96, &o);
    for (int bh = 1; bh <= 96; bh += 5)
        for (int bw = 1; bw <= 96; bw += 7)
            T_CHECK(ts, cdt_resize_scratch(3, bh, bw, 224, 224) <= all);
    T_CHECK(ts, cdt_blur_scratch(3, 224, 224, CDT_BLUR_KERNEL) <= all);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_golden);
    T_RUN(&ts, test_scratch_bounds);
    return T_END(&ts);
}
