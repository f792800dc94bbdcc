/* train_layers.c: where a training step's time goes, layer by layer.
 * Built and run by train_bench.sh against libcdt:
 *     train_layers WIDTH C SIZE BATCH REPS
 * Times every distinct convolution of a ResNet18 with the cifar stem
 * (forward and backward, the median of REPS runs) and the batch norms and
 * ReLUs of the whole network once per view (a ReLU is timed with every BN:
 * 21 to the network's 17, a small overcount), and prints ms and GFLOP/s per
 * conv and the totals per kind for one training step (two views). The
 * heads' linear layers, pooling and the loss are left out: they are
 * small next to these. */
#include "cdt_nn.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall time, or with TRAIN_LAYERS_CPU=1 in the environment the process's
 * CPU time (all threads), which a busy machine disturbs less. */
static double now(void)
{
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("TRAIN_LAYERS_CPU") && atoi(getenv("TRAIN_LAYERS_CPU")) == 1;
    struct timespec t;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *randbuf(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000 - 0.5f;
    return p;
}

typedef struct totals { double conv_f, conv_b, bn_f, bn_b, relu; } totals;

/* One conv of the network, `count` times in it; adds to the totals. */
static void conv(const char *name, int count, cdt_conv2d_params p, int reps, int first, totals *t)
{
    // the path the model takes on this CPU (cdt-train's), or $CDT_CPU_CONV's
    const char *env = getenv("CDT_CPU_CONV");
    p.kernels = cdt_conv2d_kernels_parse(env ? env : "");
    if (p.kernels == CDT_CONV_AUTO) p.kernels = cdt_conv2d_kernels_auto();
    int oh = cdt_conv2d_out_h(&p), ow = cdt_conv2d_out_w(&p);
    size_t nx = (size_t)p.n * p.c * p.h * p.w, ny = (size_t)p.n * p.oc * oh * ow;
    size_t nw = (size_t)p.oc * p.c * p.kh * p.kw;
    float *x = randbuf(nx), *y = randbuf(ny), *w = randbuf(nw), *dw = calloc(nw, 4), *dx = malloc(nx * 4);
    float *s = malloc(cdt_conv2d_scratch(&p) * sizeof *s);
    double f[32], b[32];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cdt_conv2d_forward(y, x, w, s, &p);
        double t1 = now();
        cdt_conv2d_backward(first ? NULL : dx, dw, y, x, w, s, &p);
        f[r] = t1 - t0;
        b[r] = now() - t1;
    }
    qsort(f, reps, sizeof *f, cmp);
    qsort(b, reps, sizeof *b, cmp);
    double fm = f[reps / 2], bm = b[reps / 2], flop = 2.0 * ny * p.c * p.kh * p.kw;
    printf("  %-26s x%d  fwd %7.1f ms %6.1f GFLOP/s   bwd %7.1f ms %6.1f GFLOP/s\n", name, count,
           fm * 1e3, flop / fm / 1e9, bm * 1e3, flop * (first ? 1 : 2) / bm / 1e9);
    t->conv_f += 2 * count * fm;
    t->conv_b += 2 * count * bm;
    free(x); free(y); free(w); free(dw); free(dx); free(s);
}

/* BN + ReLU on an (N,C,HW) activation, `count` times in the network. */
static void bn_relu(int count, int n, int c, int hw, totals *t)
{
    size_t sz = (size_t)n * c * hw;
    float *x = randbuf(sz), *y = malloc(sz * 4), *dx = malloc(sz * 4), *g = randbuf(c), *be = randbuf(c);
    float *mean = malloc(c * 4), *inv = malloc(c * 4), *dg = calloc(c, 4), *db = calloc(c, 4);
    cdt_bn_params p = {n, c, hw, CDT_BN_MOMENTUM, CDT_BN_EPS};
    // the fastest of 3 after one untimed round (the first touch of y and
    // dx is page faults, not batch norm)
    double bf = 1e30, bb = 1e30, br = 1e30;
    for (int r = 0; r < 4; r++) {
        double t0 = now();
        cdt_batchnorm_forward(y, mean, inv, NULL, NULL, x, g, be, &p);
        double t1 = now();
        cdt_batchnorm_backward(dx, dg, db, y, x, mean, inv, g, &p);
        double t2 = now();
        cdt_relu_forward(y, y, sz);
        cdt_relu_backward(dx, dx, y, sz);
        double t3 = now();
        if (r == 0) continue;
        bf = fmin(bf, t1 - t0);
        bb = fmin(bb, t2 - t1);
        br = fmin(br, t3 - t2);
    }
    t->bn_f += 2 * count * bf;
    t->bn_b += 2 * count * bb;
    t->relu += 2 * count * br;
    free(x); free(y); free(dx); free(g); free(be); free(mean); free(inv); free(dg); free(db);
}

int main(int argc, char **argv)
{
    if (argc != 6) { fprintf(stderr, "usage: train_layers WIDTH C SIZE BATCH REPS\n"); return 64; }
    int w = atoi(argv[1]), c = atoi(argv[2]), s = atoi(argv[3]), n = atoi(argv[4]), reps = atoi(argv[5]);
    if (reps > 32) reps = 32;
    openblas_set_num_threads(1); // as cdt-train
    totals t = {0};
    printf("train_layers: ResNet18 cifar stem, width %d, %dx%dx%d, batch %d; per view, median of %d\n",
           w, c, s, s, n, reps);
    int hw[4] = {s, (s + 1) / 2, (s + 3) / 4, (s + 7) / 8};
    char name[64];
    conv("stem 3x3", 1, (cdt_conv2d_params){n, c, s, s, w, 3, 3, 1, 1}, reps, 1, &t);
    bn_relu(1 + 4, n, w, s * s, &t);
    for (int l = 0; l < 4; l++) {
        int ch = w << l, in = l ? ch / 2 : ch, h0 = l ? hw[l - 1] : hw[0];
        snprintf(name, sizeof name, "layer%d 3x3 %d->%d %dx%d", l + 1, ch, ch, hw[l], hw[l]);
        conv(name, l ? 3 : 4, (cdt_conv2d_params){n, ch, hw[l], hw[l], ch, 3, 3, 1, 1}, reps, 0, &t);
        if (l) {
            snprintf(name, sizeof name, "layer%d 3x3/2 %d->%d", l + 1, in, ch);
            conv(name, 1, (cdt_conv2d_params){n, in, h0, h0, ch, 3, 3, 2, 1}, reps, 0, &t);
            snprintf(name, sizeof name, "layer%d 1x1/2 %d->%d", l + 1, in, ch);
            conv(name, 1, (cdt_conv2d_params){n, in, h0, h0, ch, 1, 1, 2, 0}, reps, 0, &t);
            bn_relu(5, n, ch, hw[l] * hw[l], &t);
        }
    }
    double all = t.conv_f + t.conv_b + t.bn_f + t.bn_b + t.relu;
    printf("  one step (two views): conv fwd %.0f ms, conv bwd %.0f ms, BN fwd %.0f ms, BN bwd %.0f ms, "
           "ReLU %.0f ms; total %.0f ms\n", t.conv_f * 1e3, t.conv_b * 1e3, t.bn_f * 1e3,
           t.bn_b * 1e3, t.relu * 1e3, all * 1e3);
    return 0;
}
