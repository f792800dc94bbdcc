/* modelfile.c: model files and checkpoints as cdt streams; the layout is in
 * cdt_modelfile.h. Loading trusts nothing in the file: the model is built
 * from the meta, then every tensor of the file must name one of its
 * tensors with the same shape and dtype, and every one must be there. */
#include "cdt_modelfile.h"
#include "model/model_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdt_modelfile {
    cdt_reader *r;
    char path[256];
    cdt_model_config cfg;
    char err[512];
};

int cdt_arch_depth(const char *arch)
{
    if (!arch) return 0;
    if (!strcmp(arch, "resnet18")) return 18;
    if (!strcmp(arch, "resnet34")) return 34;
    if (!strcmp(arch, "resnet50")) return 50;
    return 0;
}

const char *cdt_arch_name(int depth)
{
    return depth == 18 ? "resnet18" : depth == 34 ? "resnet34" : depth == 50 ? "resnet50" : NULL;
}

static void set_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || !n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static int model_meta(cdt_meta *meta, const cdt_model *m, const cdt_modelfile_state *st)
{
    const cdt_model_config *c = &m->cfg;
    int rc = 0;
    rc |= cdt_meta_set(meta, "arch", cdt_arch_name(c->depth));
    rc |= cdt_meta_set(meta, "stem", c->stem == CDT_STEM_CIFAR ? "cifar" : "imagenet");
    rc |= cdt_meta_set_i64(meta, "width", c->width);
    rc |= cdt_meta_set_i64(meta, "in_channels", c->in_channels);
    rc |= cdt_meta_set_i64(meta, "image_size", c->image_size);
    rc |= cdt_meta_set_i64(meta, "hidden_dim", c->hidden_dim);
    rc |= cdt_meta_set_i64(meta, "feature_num", c->feature_num);
    rc |= cdt_meta_set_i64(meta, "step", st->step);
    rc |= cdt_meta_set_i64(meta, "epoch", st->epoch);
    rc |= cdt_meta_setf(meta, "seed", "%" PRIu64, st->seed);
    return rc ? CDT_ENOMEM : 0;
}

static int write_frames(cdt_writer *w, const cdt_model *m, const cdt_modelfile_state *st)
{
    cdt_tensor *t = calloc((size_t)m->ntensors, sizeof *t);
    if (!t) return CDT_ENOMEM;
    for (int i = 0; i < m->ntensors; i++) {
        const cdt_model_tensor *mt = &m->tensors[i];
        uint64_t dim[4];
        for (int k = 0; k < mt->rank; k++) dim[k] = (uint64_t)mt->dim[k];
        float *base = mt->buffer ? m->buffers : m->params;
        cdt_tensor_set(&t[i], mt->name, CDT_F32, base + mt->offset, mt->rank, dim);
    }
    int rc = cdt_writer_frame(w, 0, t, (uint32_t)m->ntensors);
    free(t);
    if (rc < 0 || !st->adam_m) return rc;
    cdt_tensor ck[3];
    uint64_t np = m->nparams, four = 4;
    int64_t pos[4] = {st->step, (int64_t)st->rows, st->epoch, st->last_id};
    cdt_tensor_set(&ck[0], "adam.m", CDT_F32, st->adam_m, 1, &np);
    cdt_tensor_set(&ck[1], "adam.v", CDT_F32, st->adam_v, 1, &np);
    cdt_tensor_set(&ck[2], "train.position", CDT_I64, pos, 1, &four);
    return cdt_writer_frame(w, 0, ck, 3);
}

int cdt_modelfile_save(int fd, const cdt_model *m, const cdt_modelfile_state *st,
                       const cdt_meta *extra, const cdt_writer_opts *wo,
                       char *err, size_t errlen)
{
    if (cdt_model_pull(m) < 0) { // the weights of a model on a device
        set_err(err, errlen, "cannot read the model from the device: %s", cdt_model_errmsg(m));
        return CDT_EIO;
    }
    cdt_meta *meta = extra ? cdt_meta_clone(extra) : cdt_meta_create();
    cdt_writer *w = NULL;
    int rc = meta ? model_meta(meta, m, st) : CDT_ENOMEM;
    if (rc == 0) rc = cdt_writer_open_fd(fd, meta, wo, &w);
    if (rc == 0) rc = write_frames(w, m, st);
    if (rc == 0) rc = cdt_writer_close(w);
    if (rc < 0)
        set_err(err, errlen, "cannot write the model: %s",
                w && *cdt_writer_errmsg(w) ? cdt_writer_errmsg(w) : cdt_strerror(rc));
    cdt_writer_destroy(w);
    cdt_meta_destroy(meta);
    return rc;
}

/* ---- loading ---- */

static int meta_int(cdt_modelfile *f, const char *key, int lo, int hi, int *v)
{
    int64_t x;
    int rc = cdt_meta_get_i64(cdt_reader_meta(f->r), key, &x);
    if (rc < 0 || x < lo || x > hi) {
        set_err(f->err, sizeof f->err, "%s: %s meta key '%s'", f->path,
                rc == CDT_ENOENT ? "missing" : "bad", key);
        return CDT_EDATA;
    }
    *v = (int)x;
    return 0;
}

static int read_config(cdt_modelfile *f)
{
    const cdt_meta *meta = cdt_reader_meta(f->r);
    const char *arch = cdt_meta_get(meta, "arch"), *stem = cdt_meta_get(meta, "stem");
    cdt_model_config *c = &f->cfg;
    c->depth = cdt_arch_depth(arch);
    c->stem = stem && !strcmp(stem, "cifar") ? CDT_STEM_CIFAR
            : stem && !strcmp(stem, "imagenet") ? CDT_STEM_IMAGENET : -1;
    if (!c->depth || c->stem < 0) {
        set_err(f->err, sizeof f->err, "%s: not a model file (meta %s is '%s')", f->path,
                c->depth ? "stem" : "arch", c->depth ? (stem ? stem : "") : (arch ? arch : ""));
        return CDT_EDATA;
    }
    int rc = meta_int(f, "width", 1, 4096, &c->width);
    if (!rc) rc = meta_int(f, "in_channels", 1, 64, &c->in_channels);
    if (!rc) rc = meta_int(f, "image_size", 1, 8192, &c->image_size);
    if (!rc) rc = meta_int(f, "hidden_dim", 1, 65536, &c->hidden_dim);
    if (!rc) rc = meta_int(f, "feature_num", 1, 65536, &c->feature_num);
    return rc;
}

int cdt_modelfile_open(const char *path, cdt_modelfile **out)
{
    cdt_modelfile *f = calloc(1, sizeof *f);
    *out = f;
    if (!f) return CDT_ENOMEM;
    snprintf(f->path, sizeof f->path, "%s", path);
    cdt_reader_opts ro = {0, f->path};
    int rc = cdt_reader_open_path(path, &ro, &f->r);
    if (rc < 0) {
        set_err(f->err, sizeof f->err, "%s", f->r && *cdt_reader_errmsg(f->r)
                ? cdt_reader_errmsg(f->r) : cdt_strerror(rc));
        if (rc == CDT_ENOENT) set_err(f->err, sizeof f->err, "%s: no such file", path);
        return rc;
    }
    return read_config(f);
}

const cdt_model_config *cdt_modelfile_config(const cdt_modelfile *f) { return &f->cfg; }
const cdt_meta *cdt_modelfile_meta(const cdt_modelfile *f) { return cdt_reader_meta(f->r); }
const char *cdt_modelfile_errmsg(const cdt_modelfile *f) { return f ? f->err : "out of memory"; }

void cdt_modelfile_close(cdt_modelfile *f)
{
    if (!f) return;
    cdt_reader_destroy(f->r);
    free(f);
}

static void shape_str(char *s, size_t n, int rank, const uint64_t *dim)
{
    size_t k = (size_t)snprintf(s, n, "[");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(s + k, n - k, "%s%" PRIu64, i ? "," : "", dim[i]);
    if (k < n) snprintf(s + k, n - k, "]");
}

/* One tensor of the file against the model's tensor of that name. */
static int check_tensor(cdt_modelfile *f, const cdt_tensor *t, const char *what,
                        int rank, const uint64_t *dim, int dtype)
{
    int same = t->rank == rank;
    for (int k = 0; same && k < rank; k++) same = t->dim[k] == dim[k];
    if (same && t->dtype == dtype) return 0;
    char have[128], want[128];
    shape_str(have, sizeof have, t->rank, t->dim);
    shape_str(want, sizeof want, rank, dim);
    if (t->dtype == dtype)
        set_err(f->err, sizeof f->err, "%s: %s '%s' has shape %s, expected %s", f->path, what,
                t->name, have, want);
    else
        set_err(f->err, sizeof f->err, "%s: %s '%s' is %s %s, expected %s %s", f->path, what,
                t->name, cdt_dtype_name(t->dtype), have, cdt_dtype_name(dtype), want);
    return CDT_EDATA;
}

static int next_frame(cdt_modelfile *f, const cdt_frame **fr)
{
    int rc = cdt_reader_next(f->r, fr);
    if (rc < 0)
        set_err(f->err, sizeof f->err, "%s", cdt_reader_errmsg(f->r));
    else if (rc > 0 && (*fr)->rows != 0) {
        set_err(f->err, sizeof f->err, "%s: frame %" PRIu64 " has rows, not a model file",
                f->path, cdt_reader_frames(f->r) - 1);
        rc = CDT_EDATA;
    }
    return rc;
}

/* PyTorch's BatchNorm step counter, NAME.num_batches_tracked for one of
 * the model's BatchNorms NAME (known by its running_mean): cdt keeps no such
 * counter, so it is skipped, in any dtype, as a scalar the way PyTorch saves
 * it or as [1], which numpy's ascontiguousarray makes of a scalar. 1: skip
 * it; 0: not a counter; CDT_EDATA: a counter of another shape. */
static int skip_counter(cdt_modelfile *f, const cdt_model *m, const cdt_tensor *t)
{
    static const char suffix[] = ".num_batches_tracked";
    char bn[sizeof t->name + 16];
    size_t len = strlen(t->name), n = sizeof suffix - 1;
    if (len <= n || strcmp(t->name + len - n, suffix)) return 0;
    snprintf(bn, sizeof bn, "%.*s.running_mean", (int)(len - n), t->name);
    if (!cdt_model_find(m, bn)) return 0;
    if (t->rank == 0 || (t->rank == 1 && t->dim[0] == 1)) return 1;
    char have[128];
    shape_str(have, sizeof have, t->rank, t->dim);
    set_err(f->err, sizeof f->err, "%s: tensor '%s' has shape %s, expected [] or [1]", f->path,
            t->name, have);
    return CDT_EDATA;
}

static int load_weights(cdt_modelfile *f, cdt_model *m, const cdt_frame *fr)
{
    unsigned char *seen = calloc((size_t)m->ntensors, 1);
    int rc = seen ? 0 : CDT_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < fr->count; i++) {
        const cdt_tensor *t = &fr->tensors[i];
        if ((rc = skip_counter(f, m, t)) != 0) {
            if (rc > 0) rc = 0;
            continue;
        }
        const cdt_model_tensor *mt = cdt_model_find(m, t->name);
        if (!mt || seen[mt - m->tensors]) {
            set_err(f->err, sizeof f->err, "%s: %s tensor '%s'", f->path,
                    mt ? "repeated" : "unexpected", t->name);
            rc = CDT_EDATA;
            break;
        }
        uint64_t dim[4];
        for (int k = 0; k < mt->rank; k++) dim[k] = (uint64_t)mt->dim[k];
        if ((rc = check_tensor(f, t, "tensor", mt->rank, dim, CDT_F32)) < 0) break;
        seen[mt - m->tensors] = 1;
        memcpy(cdt_model_tensor_data(m, mt), t->data, mt->numel * sizeof(float));
    }
    for (int i = 0; rc == 0 && i < m->ntensors; i++)
        if (!seen[i]) {
            set_err(f->err, sizeof f->err, "%s: tensor '%s' missing", f->path, m->tensors[i].name);
            rc = CDT_EDATA;
        }
    free(seen);
    return rc;
}

static const cdt_tensor *need(cdt_modelfile *f, const cdt_frame *fr, const char *name)
{
    const cdt_tensor *t = cdt_frame_find(fr, name);
    if (!t) set_err(f->err, sizeof f->err, "%s: checkpoint tensor '%s' missing", f->path, name);
    return t;
}

static int load_state(cdt_modelfile *f, const cdt_model *m, const cdt_frame *fr,
                      cdt_modelfile_state *st)
{
    const cdt_tensor *am = need(f, fr, "adam.m"), *av = am ? need(f, fr, "adam.v") : NULL;
    const cdt_tensor *pos = av ? need(f, fr, "train.position") : NULL;
    if (!pos) return CDT_EDATA;
    uint64_t np = m->nparams, four = 4;
    int rc = check_tensor(f, am, "checkpoint tensor", 1, &np, CDT_F32);
    if (!rc) rc = check_tensor(f, av, "checkpoint tensor", 1, &np, CDT_F32);
    if (!rc) rc = check_tensor(f, pos, "checkpoint tensor", 1, &four, CDT_I64);
    if (rc) return rc;
    int64_t p[4];
    memcpy(p, pos->data, sizeof p);
    if (p[0] != st->step || p[1] < 0) {
        set_err(f->err, sizeof f->err, "%s: train.position disagrees with meta step", f->path);
        return CDT_EDATA;
    }
    memcpy(st->adam_m, am->data, np * sizeof(float));
    memcpy(st->adam_v, av->data, np * sizeof(float));
    st->rows = (uint64_t)p[1];
    st->epoch = p[2];
    st->last_id = p[3];
    return 0;
}

static int read_counters(cdt_modelfile *f, cdt_modelfile_state *st)
{
    const cdt_meta *meta = cdt_reader_meta(f->r);
    int64_t seed = 0;
    st->step = 0; st->epoch = -1; st->seed = 0; st->rows = 0; st->last_id = -1;
    // a converted PyTorch model may have none of these: they default
    if ((cdt_meta_get_i64(meta, "step", &st->step) == CDT_EDATA) || st->step < 0 ||
        cdt_meta_get_i64(meta, "epoch", &st->epoch) == CDT_EDATA ||
        cdt_meta_get_i64(meta, "seed", &seed) == CDT_EDATA) {
        set_err(f->err, sizeof f->err, "%s: bad step, epoch or seed in the meta", f->path);
        return CDT_EDATA;
    }
    st->seed = (uint64_t)seed;
    return 0;
}

int cdt_modelfile_load(cdt_modelfile *f, cdt_model *m, cdt_modelfile_state *st)
{
    const cdt_frame *fr;
    CDT_ASSERT(cdt_model_config_same(&m->cfg, &f->cfg));
    if (st && read_counters(f, st) < 0) return CDT_EDATA;
    int rc = next_frame(f, &fr);
    if (rc == 0) {
        set_err(f->err, sizeof f->err, "%s: no tensors (an empty stream)", f->path);
        return CDT_EDATA;
    }
    if (rc < 0 || (rc = load_weights(f, m, fr)) < 0) return rc;
    if ((rc = cdt_model_push(m)) < 0) {
        set_err(f->err, sizeof f->err, "%s: %s", f->path, cdt_model_errmsg(m));
        return rc;
    }
    if ((rc = next_frame(f, &fr)) <= 0) return rc; // 0: a model without state
    int loaded = 0;
    if (st && st->adam_m) {
        if ((rc = load_state(f, m, fr, st)) < 0) return rc;
        loaded = 1;
    }
    if ((rc = next_frame(f, &fr)) < 0) return rc;
    if (rc > 0) {
        set_err(f->err, sizeof f->err, "%s: more than two frames, not a model file", f->path);
        return CDT_EDATA;
    }
    return loaded;
}
