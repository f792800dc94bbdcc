/* bench_step: cdt-train's step (or cdt-embed's forward) on a device, timed
 * as the GPU job's table wants it: the median of STEPS steps after WARMUP.
 *
 *   bench_step train DEPTH STEM SIZE BATCH PRECISION [WARMUP STEPS]
 *   bench_step embed DEPTH STEM SIZE BATCH PRECISION [WARMUP STEPS]
 *
 * STEM is cifar or imagenet, PRECISION fp32, tf32 or bf16; 3 channels,
 * width 64, hidden 128, 128 heads (the paper's). The device is
 * CDT_BENCH_DEVICE (default cuda; cpu for a comparison here). Prints one
 * line: "train resnet34 imagenet 224 b128 tf32: 87.1 ms/step (1470 img/s)"
 * or, for embed, images/s. A step is cdt_trainer_step on one fixed random
 * batch: upload, two forwards, loss, two backwards, norm, Adam, with the
 * one wait per step that the trainer has. */
#include "cdt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_step: %s: %s\n", what, why);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: bench_step train|embed DEPTH STEM SIZE BATCH PRECISION [WARMUP STEPS]\n");
        return 64;
    }
    int train = !strcmp(argv[1], "train"), depth = atoi(argv[2]), size = atoi(argv[4]);
    int batch = atoi(argv[5]), prec = cdt_precision_parse(argv[6]);
    int warmup = argc > 7 ? atoi(argv[7]) : 5, steps = argc > 8 ? atoi(argv[8]) : 20;
    const char *devname = getenv("CDT_BENCH_DEVICE") ? getenv("CDT_BENCH_DEVICE") : "cuda";
    if (prec < 0 || steps < 1 || warmup < 0 || cdt_device_parse(devname) < 0) return 64;
    cdt_model_config cfg = {.depth = depth, .stem = strcmp(argv[3], "cifar") ? CDT_STEM_IMAGENET : CDT_STEM_CIFAR,
                            .width = 64, .in_channels = 3, .image_size = size, .hidden_dim = 128,
                            .feature_num = 128};
    char why[512];
    cdt_device *dev;
    if (cdt_device_open(cdt_device_parse(devname), prec, &dev, why, sizeof why) < 0) die("device", why);
    cdt_model *m;
    int rc = train ? cdt_model_create_on(&cfg, batch, dev, &m)
                   : cdt_model_create_inference_on(&cfg, batch, dev, &m);
    if (rc < 0) die("model", cdt_strerror(rc));
    cdt_model_init(m, 1);
    size_t img = (size_t)3 * size * size;
    uint8_t *x = malloc(img * batch * 2);
    float *xf = malloc(img * batch * sizeof(float));
    if (!x || !xf) die("host memory", "out of memory");
    cdt_rng r;
    cdt_rng_init(&r, 5, 0, 0, 0, 0);
    for (size_t i = 0; i < img * batch * 2; i++) x[i] = (uint8_t)cdt_rng_range(&r, 0, 256);
    for (size_t i = 0; i < img * batch; i++) xf[i] = x[i] / 255.0f;
    cdt_trainer *t = NULL;
    cdt_train_opts o = cdt_train_defaults();
    if (train && cdt_trainer_create(m, &o, &t) < 0) die("trainer", cdt_model_errmsg(m));
    double *ms = malloc(sizeof(double) * steps);
    for (int i = 0; i < warmup + steps; i++) {
        double t0 = now();
        if (train) {
            cdt_train_stats s;
            if (cdt_trainer_step(t, x, &s) < 0) die("step", cdt_trainer_errmsg(t));
        } else {
            if (cdt_model_forward(m, xf, batch, 0, 0) < 0 || !cdt_model_h(m, 0) || !cdt_model_f(m, 0))
                die("forward", cdt_model_errmsg(m));
        }
        if (i >= warmup) ms[i - warmup] = (now() - t0) * 1e3;
    }
    qsort(ms, steps, sizeof *ms, cmp);
    double med = ms[steps / 2];
    printf("%s resnet%d %s %d b%d %s on %s: %.2f ms/%s (%.0f img/s)\n", argv[1], depth, argv[3], size,
           batch, argv[6], cdt_device_describe(dev), med, train ? "step" : "batch", batch / med * 1e3);
    free(ms); free(x); free(xf);
    cdt_trainer_destroy(t);
    cdt_model_destroy(m);
    cdt_device_close(dev);
    return 0;
}
