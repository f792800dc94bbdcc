/* test_modelfile.c: model files and checkpoints.
 *
 * Round trips keep every byte of every tensor (parameters, running
 * statistics, Adam moments) and the trainer's position; a file with one
 * tensor renamed, reshaped, retyped, missing or repeated is refused with
 * one line naming that tensor (a known one of the wrong shape as "has shape
 * X, expected Y"); BatchNorm's num_batches_tracked loads as PyTorch saves
 * it (rank 0) and as numpy exports it ([1]), of any other shape is refused
 * and under an unknown BatchNorm is unexpected; a model converted from a PyTorch state_dict
 * by tests/gen/pth_to_cdt.py (tests/golden/embed, written by
 * tests/gen/gen_embed_golden.py) loads, and its eval-mode forward gives
 * PyTorch's h and f. */
#include "cdt_modelfile.h"
#include "cdt_npy.h"
#include "t.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64]; /* a private temporary directory */

static const char *tmp(const char *name)
{
    static char p[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static const cdt_model_config tiny = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 4,
                                      .in_channels = 1, .image_size = 8, .hidden_dim = 16,
                                      .feature_num = 8};

/* A model with every float distinct from a fresh init's, buffers included. */
static cdt_model *make(uint64_t seed)
{
    cdt_model *m;
    if (cdt_model_create(&tiny, 4, &m) < 0) return NULL;
    cdt_model_init(m, seed);
    for (size_t i = 0; i < cdt_model_nbuffers(m); i++) cdt_model_buffers(m)[i] = 0.5f + (float)i / 7;
    return m;
}

static int save(const char *path, cdt_model *m, cdt_modelfile_state *st, char *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    cdt_meta *extra = cdt_meta_create();
    cdt_meta_set(extra, "train.lr", "0.001");
    int rc = cdt_modelfile_save(fd, m, st, extra, NULL, err, 256);
    cdt_meta_destroy(extra);
    close(fd);
    return rc;
}

/* Loads path into a fresh model; returns load's code, errmsg in err. */
static int load(const char *path, cdt_model **m, cdt_modelfile_state *st, char *err)
{
    cdt_modelfile *f;
    *m = NULL;
    int rc = cdt_modelfile_open(path, &f);
    if (rc >= 0) rc = cdt_model_create(cdt_modelfile_config(f), 3, m);
    if (rc >= 0) rc = cdt_modelfile_load(f, *m, st);
    snprintf(err, 512, "%s", cdt_modelfile_errmsg(f));
    cdt_modelfile_close(f);
    return rc;
}

static void test_roundtrip(t_state *ts)
{
    char err[512] = "";
    cdt_model *a = make(5), *b;
    cdt_modelfile_state st = {.step = 17, .epoch = 3, .seed = 5};
    T_EQ_INT(ts, save(tmp("mf_model.cdt"), a, &st, err), 0);
    cdt_modelfile_state got = {0};
    T_EQ_INT(ts, load(tmp("mf_model.cdt"), &b, &got, err), 0);
    T_CHECK(ts, b && !memcmp(cdt_model_cfg(a), cdt_model_cfg(b), sizeof *cdt_model_cfg(a)));
    if (b) {
        T_CHECK(ts, !memcmp(cdt_model_params(a), cdt_model_params(b), cdt_model_nparams(a) * sizeof(float)));
        T_CHECK(ts, !memcmp(cdt_model_buffers(a), cdt_model_buffers(b), cdt_model_nbuffers(a) * sizeof(float)));
    }
    T_EQ_INT(ts, got.step, 17);
    T_EQ_INT(ts, got.epoch, 3);
    T_EQ_INT(ts, got.seed, 5);
    cdt_model_destroy(b);
    cdt_model_destroy(a);
    remove(tmp("mf_model.cdt"));
}

static void test_checkpoint(t_state *ts)
{
    char err[512] = "";
    cdt_model *a = make(6), *b;
    size_t n = cdt_model_nparams(a);
    float *m = malloc(n * 4), *v = malloc(n * 4), *m2 = calloc(n, 4), *v2 = calloc(n, 4);
    for (size_t i = 0; i < n; i++) { m[i] = (float)i * 1e-3f; v[i] = 1.0f / (1 + (float)i); }
    cdt_modelfile_state st = {42, 2, 6, 336, 12345, m, v};
    T_EQ_INT(ts, save(tmp("mf_ck.cdt"), a, &st, err), 0);
    cdt_modelfile_state got = {.adam_m = m2, .adam_v = v2};
    T_EQ_INT(ts, load(tmp("mf_ck.cdt"), &b, &got, err), 1);
    T_CHECK(ts, !memcmp(m, m2, n * 4) && !memcmp(v, v2, n * 4));
    T_EQ_INT(ts, got.step, 42);
    T_EQ_INT(ts, got.rows, 336);
    T_EQ_INT(ts, got.epoch, 2);
    T_EQ_INT(ts, got.last_id, 12345);
    cdt_model_destroy(b);
    // a checkpoint loads as a plain model, and a model is no checkpoint
    T_EQ_INT(ts, load(tmp("mf_ck.cdt"), &b, NULL, err), 0);
    T_CHECK(ts, b && !memcmp(cdt_model_params(a), cdt_model_params(b), n * 4));
    cdt_model_destroy(b);
    st.adam_m = st.adam_v = NULL;
    T_EQ_INT(ts, save(tmp("mf_ck.cdt"), a, &st, err), 0);
    T_EQ_INT(ts, load(tmp("mf_ck.cdt"), &b, &got, err), 0);
    cdt_model_destroy(b);
    cdt_model_destroy(a);
    free(m); free(v); free(m2); free(v2);
    remove(tmp("mf_ck.cdt"));
}

enum { RENAME, RESHAPE, RETYPE, DROP, REPEAT };

/* Rewrites a saved model with tensor `which` broken in one way. */
static void corrupt(const char *in, const char *out, int which, int how)
{
    cdt_reader *r;
    cdt_writer *w;
    const cdt_frame *f;
    CDT_ASSERT(cdt_reader_open_path(in, NULL, &r) == 0 && cdt_reader_next(r, &f) == 1);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CDT_ASSERT(fd >= 0 && cdt_writer_open_fd(fd, cdt_reader_meta(r), NULL, &w) == 0);
    cdt_tensor *t = malloc((f->count + 1) * sizeof *t);
    memcpy(t, f->tensors, f->count * sizeof *t);
    uint32_t n = f->count;
    cdt_tensor *x = &t[which];
    uint64_t one = 1;
    if (how == RENAME) snprintf(x->name, sizeof x->name, "resnet.bn9.weight");
    if (how == RESHAPE) x->dim[0] -= 1;
    if (how == RETYPE) { x->dtype = CDT_I32; }
    if (how == DROP) memmove(x, x + 1, (--n - which) * sizeof *t);
    if (how == REPEAT) t[n++] = *x;
    if (how == RETYPE && x->rank == 0) cdt_tensor_set(x, x->name, CDT_I32, x->data, 1, &one);
    CDT_ASSERT(cdt_writer_frame(w, 0, t, n) == 0 && cdt_writer_close(w) == 0);
    free(t);
    cdt_writer_destroy(w);
    cdt_reader_destroy(r);
    close(fd);
}

static void expect_refused(t_state *ts, int which, int how, const char *name, const char *what)
{
    char err[512];
    cdt_model *b;
    corrupt(tmp("mf_good.cdt"), tmp("mf_bad.cdt"), which, how);
    T_EQ_INT(ts, load(tmp("mf_bad.cdt"), &b, NULL, err), CDT_EDATA);
    T_CHECK(ts, strstr(err, name) && strstr(err, what) && !strchr(err, '\n'));
    if (!strstr(err, name) || !strstr(err, what)) fprintf(stderr, "  message: %s\n", err);
    cdt_model_destroy(b);
}

static void test_refusals(t_state *ts)
{
    char err[512];
    cdt_model *a = make(1);
    cdt_modelfile_state st = {0};
    save(tmp("mf_good.cdt"), a, &st, err);
    // tensor 0 is resnet.conv1.weight [4,1,3,3]; 1 resnet.bn1.weight
    expect_refused(ts, 1, RENAME, "'resnet.bn9.weight'", "unexpected");
    expect_refused(ts, 0, RESHAPE, "'resnet.conv1.weight'", "has shape [3,1,3,3], expected [4,1,3,3]");
    expect_refused(ts, 2, RETYPE, "'resnet.bn1.bias'", "is i32 [4], expected f32 [4]");
    expect_refused(ts, 3, DROP, "'resnet.bn1.running_mean'", "missing");
    expect_refused(ts, 4, REPEAT, "'resnet.bn1.running_var'", "twice");
    cdt_model *b;
    T_EQ_INT(ts, load(tmp("mf_absent.cdt"), &b, NULL, err), CDT_ENOENT);
    T_CHECK(ts, strstr(err, tmp("mf_absent.cdt")) != NULL);
    cdt_model_destroy(a);
    remove(tmp("mf_good.cdt"));
    remove(tmp("mf_bad.cdt"));
}

/* Saves the good model with one more tensor, NAME of dtype and shape, and
 * loads it: returns load's code, its message in err. */
static int load_with(const char *name, int dtype, int rank, const uint64_t *dim, char *err)
{
    cdt_reader *r;
    cdt_writer *w;
    const cdt_frame *f;
    cdt_model *b;
    int64_t counter[2] = {7, 7};
    CDT_ASSERT(cdt_reader_open_path(tmp("mf_good.cdt"), NULL, &r) == 0 && cdt_reader_next(r, &f) == 1);
    int fd = open(tmp("mf_extra.cdt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CDT_ASSERT(fd >= 0 && cdt_writer_open_fd(fd, cdt_reader_meta(r), NULL, &w) == 0);
    cdt_tensor *t = malloc((f->count + 1) * sizeof *t);
    memcpy(t, f->tensors, f->count * sizeof *t);
    cdt_tensor_set(&t[f->count], name, dtype, counter, rank, dim);
    CDT_ASSERT(cdt_writer_frame(w, 0, t, f->count + 1) == 0 && cdt_writer_close(w) == 0);
    free(t);
    cdt_writer_destroy(w);
    cdt_reader_destroy(r);
    close(fd);
    int rc = load(tmp("mf_extra.cdt"), &b, NULL, err);
    cdt_model_destroy(b);
    remove(tmp("mf_extra.cdt"));
    return rc;
}

static void test_counters(t_state *ts)
{
    char err[512];
    cdt_model *a = make(2);
    cdt_modelfile_state st = {0};
    uint64_t one = 1, two = 2, d11[2] = {1, 1};
    save(tmp("mf_good.cdt"), a, &st, err);
    const char *nbt = "resnet.bn1.num_batches_tracked";
    T_EQ_INT(ts, load_with(nbt, CDT_I64, 0, NULL, err), 0);
    T_EQ_INT(ts, load_with(nbt, CDT_I64, 1, &one, err), 0);
    T_EQ_INT(ts, load_with(nbt, CDT_F32, 1, &one, err), 0);
    T_EQ_INT(ts, load_with(nbt, CDT_I64, 1, &two, err), CDT_EDATA);
    T_CHECK(ts, strstr(err, "'resnet.bn1.num_batches_tracked' has shape [2], expected [] or [1]") != NULL);
    if (!strstr(err, "has shape [2]")) fprintf(stderr, "  message: %s\n", err);
    T_EQ_INT(ts, load_with(nbt, CDT_I64, 2, d11, err), CDT_EDATA);
    T_CHECK(ts, strstr(err, "has shape [1,1], expected [] or [1]") != NULL);
    // a counter of a BatchNorm the model does not have is no counter
    T_EQ_INT(ts, load_with("resnet.bn9.num_batches_tracked", CDT_I64, 0, NULL, err), CDT_EDATA);
    T_CHECK(ts, strstr(err, "unexpected tensor 'resnet.bn9.num_batches_tracked'") != NULL);
    T_EQ_INT(ts, load_with("resnet.conv1.num_batches_tracked", CDT_I64, 0, NULL, err), CDT_EDATA);
    T_CHECK(ts, strstr(err, "unexpected") != NULL);
    cdt_model_destroy(a);
    remove(tmp("mf_good.cdt"));
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d / r);
}

/* PyTorch's float64 eval-mode outputs against ours in float32: 1e-5 is a
 * hundred times the float32 rounding error such a small net makes (8e-8
 * measured), and far below what any wrong statistic or layout gives. */
static void test_pytorch(t_state *ts)
{
    char err[512];
    cdt_tensor x, h, f;
    cdt_model *m;
    const char *dir = "tests/golden/embed/";
    T_EQ_INT(ts, load("tests/golden/embed/model.cdt", &m, NULL, err), 0);
    if (!m) { fprintf(stderr, "  %s\n", err); return; }
    char p[128];
    snprintf(p, sizeof p, "%sx.npy", dir); T_EQ_INT(ts, cdt_npy_load(p, "x", &x, err, 512), 0);
    snprintf(p, sizeof p, "%sh.npy", dir); T_EQ_INT(ts, cdt_npy_load(p, "h", &h, err, 512), 0);
    snprintf(p, sizeof p, "%sf.npy", dir); T_EQ_INT(ts, cdt_npy_load(p, "f", &f, err, 512), 0);
    int n = (int)x.dim[0], img = 3 * 12 * 12, D = cdt_model_rep_dim(m), F = cdt_model_cfg(m)->feature_num;
    T_EQ_INT(ts, cdt_model_cfg(m)->image_size, 12);
    float *in = malloc((size_t)n * img * sizeof *in), *hs = malloc((size_t)n * D * 4), *fs = malloc((size_t)n * F * 4);
    for (int i = 0; i < n * img; i++) in[i] = ((uint8_t *)x.data)[i] / 255.0f;
    // the model holds 3 images a pass, so 10 take four, the last one short
    for (int i = 0; i < n; i += cdt_model_batch(m)) {
        int k = n - i < cdt_model_batch(m) ? n - i : cdt_model_batch(m);
        cdt_model_forward(m, in + (size_t)i * img, k, 0, 0);
        memcpy(hs + (size_t)i * D, cdt_model_h(m, 0), (size_t)k * D * 4);
        memcpy(fs + (size_t)i * F, cdt_model_f(m, 0), (size_t)k * F * 4);
    }
    T_EQ_INT(ts, h.dim[1], D);
    T_NEAR(ts, rel_err(hs, h.data, (size_t)n * D), 0, 1e-5);
    T_NEAR(ts, rel_err(fs, f.data, (size_t)n * F), 0, 1e-5);
    free(in); free(hs); free(fs); free(x.data); free(h.data); free(f.data);
    cdt_model_destroy(m);
}

int main(void)
{
    t_state ts = {0};
    snprintf(dir, sizeof dir, "%s/cdt_mf_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) return 1;
    T_RUN(&ts, test_roundtrip);
    T_RUN(&ts, test_checkpoint);
    T_RUN(&ts, test_refusals);
    T_RUN(&ts, test_counters);
    T_RUN(&ts, test_pytorch);
    rmdir(dir);
    return T_END(&ts);
}
