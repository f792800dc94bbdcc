/* test_nn_model.c: the whole CD training step against PyTorch.
 *
 * tests/golden/cd/resnet18_cifar_w4.bin is written by
 * tests/gen/gen_cd_golden.py (PyTorch 1.13) for a ResNet18, cifar stem,
 * width 4, 8x8 inputs, batch 6, hidden 16, 8 feature heads: the initial
 * state, h/z/f and the loss terms of step 1, every parameter gradient of
 * step 1, and the state after 3 steps of Adam (weight decay, clipping,
 * cosine schedule), all computed by PyTorch in float64; and the same for
 * one step of a ResNet50 with the imagenet stem on grey 40x40 images.
 * Tensors are compared norm-wise, |ours - torch| / |torch| (check_close).
 * The tensor names and order are checked against the generator's
 * state_dict, which the generator checks against torchvision's. Also:
 * ResNet34's names and sizes, bad configurations, and the initialisation. */
#include "cdt_blas.h"
#include "cdt_core.h"
#include "cdt_model.h"
#include "cdt_nn.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

#define TOL 1e-4

typedef struct rec { char name[96]; int rank; uint32_t dim[4]; size_t numel; float *data; } rec;
typedef struct golden { rec *r; int n; } golden;

static int read_golden(golden *g, const char *path)
{
    FILE *f = fopen(path, "rb");
    uint32_t len;
    g->r = NULL; g->n = 0;
    if (!f) return -1;
    while (fread(&len, 4, 1, f) == 1) {
        rec *r = realloc(g->r, (g->n + 1) * sizeof *r);
        if (!r) break;
        g->r = r;
        rec *x = &g->r[g->n];
        uint32_t rank;
        if (len >= sizeof x->name || fread(x->name, 1, len, f) != len) break;
        x->name[len] = 0;
        if (fread(&rank, 4, 1, f) != 1 || rank > 4 || fread(x->dim, 4, rank, f) != rank) break;
        x->rank = (int)rank;
        x->numel = 1;
        for (uint32_t i = 0; i < rank; i++) x->numel *= x->dim[i];
        x->data = malloc(x->numel * sizeof(float) + 1);
        if (!x->data || fread(x->data, sizeof(float), x->numel, f) != x->numel) break;
        g->n++;
    }
    int ok = feof(f);
    fclose(f);
    return ok ? 0 : -1;
}

static const rec *find(const golden *g, const char *prefix, const char *name)
{
    char full[160];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->r[i].name, full) == 0) return &g->r[i];
    return NULL;
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(r), 1e-30);
}

/* Our float32 result against PyTorch's float64 one: within 1e-4 plus 4
 * times f32err, the largest error that float32 runs of the same step make
 * on the same tensor (gen_cd_golden.py): PyTorch's own with the batch in 8
 * orders, and im2col + OpenBLAS sgemm runs under OpenBLAS's SSE3, AVX2 and
 * AVX-512 kernels. That is the bound this rests on: a correct float32
 * implementation on any correct BLAS kernel strays from the exact result by
 * about as much as those do, and the factor 4 covers orders none of them
 * took. The second term matters only where float32 itself cannot do
 * better: a BN weight or bias gradient is a sum of terms much larger than
 * the result (ResNet50's first BN weight: 4.6e-4 across kernels, where one
 * PyTorch run alone errs by 1.7e-4 and our SSE3 run by 1.1e-3), and after
 * Adam steps a parameter that started at 0 is a sum of steps of about lr
 * whose size and sign come from gradients dominated by rounding. Measured
 * on the kernels OPENBLAS_CORETYPE can select here: the worst error is 0.56
 * of its tolerance (Prescott), 0.53 (SkylakeX), 0.36 (Haswell). */
static void check_close(t_state *ts, const golden *g, const char *prefix, const char *name,
                        const float *a, size_t n)
{
    const rec *ref = find(g, prefix, name);
    char en[160];
    snprintf(en, sizeof en, "f32err.%s", prefix);
    const rec *f32 = find(g, en, name);
    T_CHECK(ts, ref != NULL && f32 != NULL);
    if (!ref || !f32) { fprintf(stderr, "golden lacks %s%s\n", prefix, name); return; }
    T_EQ_INT(ts, ref->numel, n);
    if (ref->numel != n) return;
    double e = rel_err(a, ref->data, n);
    double tol = TOL + 4 * f32->data[0];
    T_CHECK(ts, e < tol);
    if (!(e < tol) || getenv("CDT_TEST_VERBOSE"))
        fprintf(stderr, "%s%s: relative error %.3g (torch float32 %.3g)\n", prefix, name, e, f32->data[0]);
}

typedef struct golden_case {
    const char *file;
    cdt_model_config cfg;
    int batch, steps, params_after; /* params_after: the file has them */
} golden_case;

/* Loads the init.* tensors, checking names, order and shapes against
 * PyTorch's state_dict (less num_batches_tracked). */
static void load_init(t_state *ts, cdt_model *m, const golden *g)
{
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        if (strncmp(g->r[i].name, "init.", 5) != 0) continue;
        const cdt_model_tensor *t = k < cdt_model_ntensors(m) ? cdt_model_tensor_at(m, k) : NULL;
        k++;
        T_CHECK(ts, t != NULL);
        if (!t) break;
        T_STR(ts, g->r[i].name + 5, t->name);
        T_EQ_INT(ts, g->r[i].numel, t->numel);
        if (g->r[i].numel == t->numel)
            memcpy(cdt_model_tensor_data(m, t), g->r[i].data, t->numel * sizeof(float));
    }
    T_EQ_INT(ts, k, cdt_model_ntensors(m));
}

static void check_step1(t_state *ts, cdt_model *m, const golden *g, cdt_loss_terms l)
{
    size_t n = (size_t)cdt_model_batch(m);
    for (int v = 0; v < 2; v++) {
        char h[4] = {'h', (char)('0' + v), 0}, z[4] = {'z', h[1], 0}, f[4] = {'f', h[1], 0};
        check_close(ts, g, "out.", h, cdt_model_h(m, v), n * cdt_model_rep_dim(m));
        check_close(ts, g, "out.", z, cdt_model_z(m, v), n * cdt_model_cfg(m)->hidden_dim);
        check_close(ts, g, "out.", f, cdt_model_f(m, v), n * cdt_model_cfg(m)->feature_num);
    }
    float terms[4] = {l.instance, l.feature, l.entropy, l.total};
    const rec *lr = find(g, "", "loss");
    T_CHECK(ts, lr && lr->numel == 4);
    for (int i = 0; lr && lr->numel == 4 && i < 4; i++)
        T_NEAR(ts, terms[i], lr->data[i], TOL * fabs(lr->data[i]));
    for (int i = 0; i < cdt_model_ntensors(m); i++) {
        const cdt_model_tensor *t = cdt_model_tensor_at(m, i);
        if (!t->buffer) check_close(ts, g, "grad.", t->name, cdt_model_tensor_grad(m, t), t->numel);
    }
}

/* The training step of gen_cd_golden.py: two views, the CD loss,
 * clipping at 1, Adam (lr 1e-2, wd 1e-4) on a cosine schedule. */
static int train_step(t_state *ts, cdt_model *m, const golden *g, const golden_case *c,
                      int step, float *am, float *av)
{
    size_t numel = (size_t)c->batch * c->cfg.in_channels * c->cfg.image_size * c->cfg.image_size;
    cdt_model_zero_grad(m);
    for (int v = 0; v < 2; v++) {
        char xn[16];
        snprintf(xn, sizeof xn, "x%d.%d", step, v);
        const rec *x = find(g, "", xn);
        T_CHECK(ts, x && x->numel == numel);
        if (!x || x->numel != numel) return -1;
        cdt_model_forward(m, x->data, c->batch, v, 1);
    }
    cdt_loss_terms l = cdt_model_loss(m, 0.5, 1.0);
    cdt_model_backward(m, 0);
    cdt_model_backward(m, 1);
    if (step == 0) check_step1(ts, m, g, l);
    cdt_clip_grad_norm(cdt_model_grads(m), cdt_model_nparams(m), 1.0);
    cdt_adam_params a = {.lr = cdt_cosine_lr(1e-2, step, c->steps), .beta1 = 0.9,
                         .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-4};
    cdt_adam_step(cdt_model_params(m), am, av, cdt_model_grads(m), cdt_model_nparams(m), step + 1, &a);
    return 0;
}

/* An inference-only model with the same weights gives the same bits. */
static void check_inference(t_state *ts, cdt_model *m, const float *x, int n)
{
    cdt_model *e;
    T_EQ_INT(ts, cdt_model_create_inference(cdt_model_cfg(m), cdt_model_batch(m), &e), 0);
    if (!e) return;
    T_CHECK(ts, cdt_model_grads(e) == NULL && cdt_model_nparams(e) == cdt_model_nparams(m) && cdt_model_nbuffers(e) == cdt_model_nbuffers(m));
    memcpy(cdt_model_params(e), cdt_model_params(m), cdt_model_nparams(m) * sizeof(float));
    memcpy(cdt_model_buffers(e), cdt_model_buffers(m), cdt_model_nbuffers(m) * sizeof(float));
    cdt_model_forward(e, x, n, 0, 0);
    T_CHECK(ts, memcmp(cdt_model_h(e, 0), cdt_model_h(m, 0), (size_t)n * cdt_model_rep_dim(m) * sizeof(float)) == 0);
    T_CHECK(ts, memcmp(cdt_model_f(e, 0), cdt_model_f(m, 0), (size_t)n * cdt_model_cfg(m)->feature_num * sizeof(float)) == 0);
    cdt_model_destroy(e);
}

static void run_golden(t_state *ts, const golden_case *c)
{
    golden g;
    cdt_model *m;
    if (read_golden(&g, c->file) < 0) {
        fprintf(stderr, "cannot read %s\n", c->file);
        T_CHECK(ts, !"golden file readable");
        return;
    }
    T_EQ_INT(ts, cdt_model_create(&c->cfg, c->batch, &m), 0);
    load_init(ts, m, &g);
    float *am = calloc(cdt_model_nparams(m), sizeof(float)), *av = calloc(cdt_model_nparams(m), sizeof(float));
    int rc = 0;
    for (int step = 0; step < c->steps && rc == 0; step++) rc = train_step(ts, m, &g, c, step, am, av);
    char pre[16];
    snprintf(pre, sizeof pre, "step%d.", c->steps);
    for (int i = 0; i < cdt_model_ntensors(m) && rc == 0; i++) {
        const cdt_model_tensor *t = cdt_model_tensor_at(m, i);
        if (t->buffer || c->params_after)
            check_close(ts, &g, pre, t->name, cdt_model_tensor_data(m, t), t->numel);
    }
    // eval mode on a short batch: the first batch-1 images of view 0, step 0
    const rec *x = find(&g, "", "x0.0");
    if (rc == 0 && x) {
        int n = c->batch - 1;
        cdt_model_forward(m, x->data, n, 0, 0);
        check_close(ts, &g, "eval.", "h", cdt_model_h(m, 0), (size_t)n * cdt_model_rep_dim(m));
        check_close(ts, &g, "eval.", "f", cdt_model_f(m, 0), (size_t)n * cdt_model_cfg(m)->feature_num);
        check_inference(ts, m, x->data, n);
    }
    free(am); free(av);
    cdt_model_destroy(m);
    for (int i = 0; i < g.n; i++) free(g.r[i].data);
    free(g.r);
}

static void golden_resnet18_cifar(t_state *ts, int cpu_conv)
{
    golden_case c = {"tests/golden/cd/resnet18_cifar_w4.bin",
                     {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 4, .in_channels = 3,
                      .image_size = 8, .hidden_dim = 16, .feature_num = 8, .cpu_conv = cpu_conv},
                     6, 3, 1};
    run_golden(ts, &c);
}

static void test_golden_resnet18_cifar(t_state *ts) { golden_resnet18_cifar(ts, CDT_CONV_AUTO); }

/* The same without the direct 3x3 kernels (CDT_CPU_CONV=gemm): layer3's
 * 16-channel 3x3 convolutions take Winograd's path (small images), the
 * others im2col's. */
static void test_golden_resnet18_cifar_gemm(t_state *ts) { golden_resnet18_cifar(ts, CDT_CONV_GEMM); }

static void test_golden_resnet50_imagenet(t_state *ts)
{
    golden_case c = {"tests/golden/cd/resnet50_imagenet_w2.bin",
                     {.depth = 50, .stem = CDT_STEM_IMAGENET, .width = 2, .in_channels = 1,
                      .image_size = 40, .hidden_dim = 8, .feature_num = 8},
                     12, 1, 0};
    run_golden(ts, &c);
}

/* ResNet34: 16 BasicBlocks of 2 convs and 2 BNs (1 + 4 tensors each), 3
 * downsamples (5), the stem (5); the heads 7 and 10. */
static void test_resnet34(t_state *ts)
{
    cdt_model_config c = {.depth = 34, .stem = CDT_STEM_IMAGENET, .width = 8, .in_channels = 3,
                          .image_size = 64, .hidden_dim = 128, .feature_num = 128};
    cdt_model *m;
    T_EQ_INT(ts, cdt_model_create(&c, 2, &m), 0);
    if (!m) return;
    T_EQ_INT(ts, cdt_model_ntensors(m), 16 * 10 + 3 * 5 + 5 + 7 + 10);
    T_EQ_INT(ts, cdt_model_rep_dim(m), 64);
    T_CHECK(ts, cdt_model_find(m, "resnet.layer3.5.conv2.weight") != NULL);
    T_CHECK(ts, cdt_model_find(m, "resnet.layer3.6.conv1.weight") == NULL);
    T_CHECK(ts, cdt_model_find(m, "resnet.layer1.0.downsample.0.weight") == NULL);
    const cdt_model_tensor *t = cdt_model_find(m, "resnet.layer4.0.downsample.1.running_var");
    T_CHECK(ts, t && t->buffer && t->numel == 64);
    t = cdt_model_find(m, "resnet.conv1.weight");
    T_CHECK(ts, t && t->rank == 4 && t->dim[0] == 8 && t->dim[1] == 3 && t->dim[2] == 7);
    t = cdt_model_find(m, "feature_predictor.3.weight");
    T_CHECK(ts, t && t->rank == 2 && t->dim[0] == 128 && t->dim[1] == 64);
    T_CHECK(ts, cdt_model_find(m, "feature_predictor.3.bias") == NULL);
    T_CHECK(ts, cdt_model_find(m, "instance_projector.3.bias") != NULL);
    cdt_model_destroy(m);
}

static void test_bad_config(t_state *ts)
{
    cdt_model_config c = {.depth = 18, .stem = CDT_STEM_IMAGENET, .width = 4, .in_channels = 3,
                          .image_size = 32, .hidden_dim = 8, .feature_num = 8};
    cdt_model *m = (cdt_model *)&c;
    cdt_model_config bad = c;
    bad.depth = 20;
    T_EQ_INT(ts, cdt_model_create(&bad, 4, &m), CDT_EINVAL);
    T_CHECK(ts, m == NULL);
    bad = c;
    bad.image_size = 16; // the imagenet stem would leave layer4 empty
    T_EQ_INT(ts, cdt_model_create(&bad, 4, &m), CDT_EINVAL);
    T_EQ_INT(ts, cdt_model_create(&c, 0, &m), CDT_EINVAL);
    cdt_model_destroy(NULL);
}

/* PyTorch's defaults, by their moments: conv N(0, 2/fan_out), Linear
 * U(+-1/sqrt(fan_in)), BN 1 and 0; and a seed gives the same weights. */
static void test_init(t_state *ts)
{
    cdt_model_config c = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 16, .in_channels = 3,
                          .image_size = 8, .hidden_dim = 32, .feature_num = 8};
    cdt_model *m, *m2;
    T_EQ_INT(ts, cdt_model_create(&c, 2, &m), 0);
    T_EQ_INT(ts, cdt_model_create(&c, 2, &m2), 0);
    if (!m || !m2) return;
    cdt_model_init(m, 7);
    cdt_model_init(m2, 7);
    T_CHECK(ts, memcmp(cdt_model_params(m), cdt_model_params(m2), cdt_model_nparams(m) * sizeof(float)) == 0);
    const cdt_model_tensor *t = cdt_model_find(m, "resnet.layer4.1.conv2.weight"); // 128x128x3x3
    const float *w = cdt_model_tensor_data(m, t);
    double s = 0, q = 0;
    for (size_t i = 0; i < t->numel; i++) { s += w[i]; q += (double)w[i] * w[i]; }
    T_NEAR(ts, s / t->numel, 0, 0.003);
    T_NEAR(ts, q / t->numel, 2.0 / (128 * 9), 0.03 * 2.0 / (128 * 9));
    t = cdt_model_find(m, "instance_projector.3.bias"); // fan_in 128
    w = cdt_model_tensor_data(m, t);
    double mx = 0;
    for (size_t i = 0; i < t->numel; i++) mx = fmax(mx, fabs(w[i]));
    T_CHECK(ts, mx <= 1 / sqrt(128.0) && mx > 0.5 / sqrt(128.0));
    T_NEAR(ts, cdt_model_tensor_data(m, cdt_model_find(m, "resnet.bn1.weight"))[3], 1, 0);
    T_NEAR(ts, cdt_model_tensor_data(m, cdt_model_find(m, "resnet.bn1.bias"))[3], 0, 0);
    T_NEAR(ts, cdt_model_tensor_data(m, cdt_model_find(m, "resnet.bn1.running_var"))[3], 1, 0);
    cdt_model_destroy(m);
    cdt_model_destroy(m2);
}

/* The CPU convolutions' kernels are decided when the model is made: AUTO
 * by the CPU alone (the direct kernels take the layers they share with
 * the gemms where the AVX-512 set runs), whatever core OpenBLAS runs;
 * anything else as given; a model file's config ignores the choice. */
static void test_cpu_conv(t_state *ts)
{
    T_EQ_INT(ts, cdt_conv2d_kernels_parse(NULL), CDT_CONV_AUTO);
    T_EQ_INT(ts, cdt_conv2d_kernels_parse(""), CDT_CONV_AUTO);
    T_EQ_INT(ts, cdt_conv2d_kernels_parse("gemm"), CDT_CONV_GEMM);
    T_EQ_INT(ts, cdt_conv2d_kernels_parse("avx512"), CDT_CONV_AVX512);
    T_EQ_INT(ts, cdt_conv2d_kernels_parse("avx2"), CDT_CONV_AVX2);
    T_EQ_INT(ts, cdt_conv2d_kernels_parse("generic"), CDT_CONV_GENERIC);
    T_EQ_INT(ts, cdt_conv2d_kernels_parse("sse"), CDT_CONV_GENERIC);
    T_STR(ts, cdt_conv2d_kernels_name(CDT_CONV_DIRECT_WIDE), "direct-wide");
    // the rule: by the CPU, the same on pretended cores of either ISA
    // (CDT_BLAS_DETECTED stands in when OPENBLAS_CORETYPE is unset)
    __builtin_cpu_init();
    int want = __builtin_cpu_supports("avx512f") ? CDT_CONV_DIRECT_WIDE : CDT_CONV_DIRECT;
    char *env = getenv("OPENBLAS_CORETYPE");
    char saved[64] = "";
    if (env) snprintf(saved, sizeof saved, "%s", env);
    unsetenv("OPENBLAS_CORETYPE");
    setenv("CDT_BLAS_DETECTED", "Prescott", 1);
    T_EQ_INT(ts, cdt_conv2d_kernels_auto(), want);
    setenv("CDT_BLAS_DETECTED", "SapphireRapids", 1);
    T_EQ_INT(ts, cdt_conv2d_kernels_auto(), want);
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    T_EQ_INT(ts, cdt_conv2d_kernels_auto(), want);
    unsetenv("CDT_BLAS_DETECTED");
    if (env) setenv("OPENBLAS_CORETYPE", saved, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    cdt_model_config cfg = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 2, .in_channels = 1,
                            .image_size = 8, .hidden_dim = 4, .feature_num = 4};
    cdt_model *m = NULL;
    T_EQ_INT(ts, cdt_model_create_inference(&cfg, 2, &m), 0);
    if (m) T_EQ_INT(ts, cdt_model_cfg(m)->cpu_conv, cdt_conv2d_kernels_auto());
    if (m) T_CHECK(ts, cdt_model_config_same(cdt_model_cfg(m), &cfg));
    cdt_model_destroy(m);
    cfg.cpu_conv = CDT_CONV_GEMM;
    T_EQ_INT(ts, cdt_model_create_inference(&cfg, 2, &m), 0);
    if (m) T_EQ_INT(ts, cdt_model_cfg(m)->cpu_conv, CDT_CONV_GEMM);
    cdt_model_destroy(m);
    cfg.cpu_conv = CDT_CONV_GENERIC + 1;
    T_EQ_INT(ts, cdt_model_create_inference(&cfg, 2, &m), CDT_EINVAL);
    cfg.cpu_conv = 0;
    cfg.width = 3;
    T_CHECK(ts, !cdt_model_config_same(&cfg, &(cdt_model_config){.depth = 18, .stem = CDT_STEM_CIFAR,
            .width = 2, .in_channels = 1, .image_size = 8, .hidden_dim = 4, .feature_num = 4}));
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_cpu_conv);
    T_RUN(&ts, test_resnet34);
    T_RUN(&ts, test_bad_config);
    T_RUN(&ts, test_init);
    T_RUN(&ts, test_golden_resnet18_cifar);
    T_RUN(&ts, test_golden_resnet18_cifar_gemm);
    T_RUN(&ts, test_golden_resnet50_imagenet);
    return T_END(&ts);
}
