/* model.c: the CD network as a fixed list of layer calls.
 *
 * create() walks the architecture once, recording each layer (an op: its
 * kind, its sizes, where its weights and activations are) and each named
 * tensor; forward runs the ops in order, backward in reverse, each by its
 * kind's row of op_kinds[] (a layer of the device's table, nn/backend.h,
 * or the residual add). An
 * activation "slot" is one (N,C,H,W) buffer; ReLU and the residual add work
 * in place (their backward needs only their output, and the layer before
 * them, a batch norm, needs its input, not its output), which halves the
 * activation memory. A ReLU is not an op of its own but a flag on the batch
 * norm or the add before it, which the device runs fused with it where it
 * has the fused call (one pass over the activation less), else as a second
 * call. A slot read by two ops (a block input: the branch and the
 * shortcut) gets its gradient summed: the first consumer met in backward
 * writes it, later ones add into it through a temporary.
 *
 * Every op runs through the device's table (nn/backend.h), chosen once in
 * create: activations, weights, gradients and scratch live on the device;
 * params/buffers/grads of cdt_model are host copies that push and pull
 * move (on the CPU they are the device arrays themselves). The first
 * failing op's code is kept in g->rc: later ops are skipped and every
 * entry point returns it.
 *
 * A training step's two views run side by side on the CPU (run_views):
 * a thread each, view 1 one op behind view 0, so that what they share is
 * updated in the sequential order and the bits do not change. One team
 * per view has no barrier inside the layers (the small layers of a narrow
 * model spent much of their time there). */
#include "cdt_core.h"
#include "cdt_device.h"
#include "cdt_model.h"
#include "cdt_nn.h"
#include "cdt_rng.h"
#include "model/model_internal.h"

#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kinds of op: a layer of the device's table (CDT_LAYER_*, nn/backend.h)
 * or the residual add, the model's own; op_kinds[] below says how each
 * runs. */
enum { OP_ADD = CDT_LAYER_COUNT, OP_KINDS };
#define NONE ((size_t)-1)

/* A layer's sizes: every struct starts with n, the images of a call. */
typedef union op_params {
    int n;
    cdt_conv2d_params conv;
    cdt_bn_params bn;
    cdt_maxpool_params pool;
    cdt_avgpool_params avg;
    cdt_linear_params lin;
} op_params;

typedef struct op {
    int kind, in, in2, out;  /* slots; in2 only for OP_ADD */
    int tensor;              /* first tensor of the layer (weight, or BN weight) */
    int relu;                /* a ReLU follows, in place on out */
    size_t w, b, rm, rv;     /* params / buffers offsets, NONE if absent */
    size_t save, index;      /* per-view offsets, NONE if absent: BN mean+invstd, argmax */
    op_params p;             /* n = the batch */
} op;

typedef struct slot { size_t off, per_image; int c, h, w; } slot;

struct cdt_model_graph {
    cdt_backend be;          /* the device, fixed at create */
    int rc;                  /* first failure of a device op, sticky */
    op *ops; int nops; size_t cap_ops;       /* cap_*: bytes */
    slot *slots; int nslots; size_t cap_slots;
    size_t act_size, save_size, arg_size; /* per view, for the full batch */
    size_t layer_scratch, max_slot; /* the most any layer's call needs; the largest slot */
    int h_slot, z_slot, f_slot;
    /* device memory */
    float *params, *grads, *buffers; /* the host arrays when be.i->host_memory */
    float *acts[2], *saves[2], *dacts, *tmp, *scratch;
    float *dacts1, *tmp1, *scratch1; /* view 1's walk when the views run side by side */
    unsigned char *seen1;
    int32_t *args[2];
    float *dz[2], *df[2], *ft[2], *dft[2];
    float *losses;           /* (4): instance, feature, H of view 0, of view 1 */
    /* data parallel (cdt_model_create_parallel); world 1 without */
    cdt_comm *comm;
    int world, rank, dp_flags;
    int dp;                  /* the data-parallel path: W > 1, or NCCL forced on one rank */
    int comm_failed;         /* g->rc came from the comm, not the device */
    int dev_coll;            /* exchanges through the device's collectives (NCCL) */
    int bn_max;              /* channels of the widest batch norm */
    float *zg[2], *fg[2];    /* (world * batch, hidden / features): every rank's z, f */
    double *bn_dev;          /* (4 bn_max) sums of batch norm across ranks */
    double *bn_host;         /* its host side (= bn_dev on the CPU) */
    float *send_host, *recv_host; /* staging of the gathers on a device */
    /* host */
    float *out_host;         /* (batch, max(rep_dim, hidden, feature)) for h/z/f */
    unsigned char *seen;     /* per slot: its gradient has a first writer */
    int n; /* images in the last forward */
};

/* A device op, skipped once one has failed. */
#define DEV(g, op, ...) do { \
        if (!(g)->rc) (g)->rc = (g)->be.i->op((g)->be.ctx, __VA_ARGS__); \
    } while (0)

/* What a forward or backward walk over the ops writes besides the model's
 * shared state (parameters' gradients, batch norm's running statistics):
 * gradients of activations, a temporary, scratch, which slots have a
 * gradient, and the first failure of its ops. A walk alone uses g's own
 * (rc = &g->rc); the two of run_views() use one set each. */
typedef struct walk {
    cdt_model *m;
    int *rc;
    float *dacts, *tmp, *scratch;
    unsigned char *seen;
} walk;

#define WDEV(w, op, ...) do { \
        if (!*(w)->rc) *(w)->rc = (w)->m->graph->be.i->op((w)->m->graph->be.ctx, __VA_ARGS__); \
    } while (0)

typedef struct builder {
    cdt_model *m;
    struct cdt_model_graph *g;
    size_t cap_tensors;      /* bytes */
    int failed;
} builder;

/* Room for need elements of an array that doubles (from 64) as it grows. */
static void *grow(void *p, size_t *cap, int need, size_t elem, int *failed)
{
    size_t bytes = (size_t)need * elem, twice = *cap ? 2 * *cap : 64 * elem;
    if (bytes > *cap && cdt_grow(&p, cap, bytes > twice ? bytes : twice)) *failed = 1;
    return p;
}

static int add_slot(builder *b, int c, int h, int w)
{
    struct cdt_model_graph *g = b->g;
    g->slots = grow(g->slots, &g->cap_slots, g->nslots + 1, sizeof *g->slots, &b->failed);
    if (b->failed) return 0;
    slot *s = &g->slots[g->nslots];
    s->c = c; s->h = h; s->w = w;
    s->per_image = (size_t)c * h * w;
    s->off = g->act_size;
    g->act_size += s->per_image * b->m->batch;
    if (s->per_image * b->m->batch > g->max_slot) g->max_slot = s->per_image * b->m->batch;
    return g->nslots++;
}

/* Records a named tensor and returns its offset in params or buffers. */
static size_t add_tensor(builder *b, const char *prefix, const char *name, int buffer,
                         int rank, int d0, int d1, int d2, int d3)
{
    cdt_model *m = b->m;
    m->tensors = grow(m->tensors, &b->cap_tensors, m->ntensors + 1, sizeof *m->tensors, &b->failed);
    if (b->failed) return 0;
    cdt_model_tensor *t = &m->tensors[m->ntensors++];
    snprintf(t->name, sizeof t->name, "%s.%s", prefix, name);
    int d[4] = {d0, d1, d2, d3};
    t->buffer = buffer;
    t->rank = rank;
    t->numel = 1;
    for (int i = 0; i < 4; i++) {
        t->dim[i] = i < rank ? d[i] : 0;
        if (i < rank) t->numel *= (size_t)d[i];
    }
    size_t *total = buffer ? &m->nbuffers : &m->nparams;
    t->offset = *total;
    *total += t->numel;
    return t->offset;
}

/* The scratch of the op's layer at the full batch, kept as the largest. */
static void need_scratch(builder *b, const op *o)
{
    const cdt_layer_i *l = b->g->be.i->layers[o->kind];
    size_t need = l->scratch ? l->scratch(&o->p) : 0;
    if (need > b->g->layer_scratch) b->g->layer_scratch = need;
}

static op *add_op(builder *b, int kind, int in, int out)
{
    struct cdt_model_graph *g = b->g;
    g->ops = grow(g->ops, &g->cap_ops, g->nops + 1, sizeof *g->ops, &b->failed);
    if (b->failed) return NULL;
    op *o = &g->ops[g->nops++];
    memset(o, 0, sizeof *o);
    o->kind = kind; o->in = in; o->in2 = -1; o->out = out;
    o->w = o->b = o->rm = o->rv = o->save = o->index = NONE;
    o->tensor = b->m->ntensors;
    return o;
}

static int conv(builder *b, const char *prefix, int in, int oc, int k, int stride, int pad)
{
    if (b->failed) return 0;
    slot s = b->g->slots[in];
    cdt_conv2d_params p = {b->m->batch, s.c, s.h, s.w, oc, k, k, stride, pad, b->m->cfg.cpu_conv};
    int out = add_slot(b, oc, cdt_conv2d_out_h(&p), cdt_conv2d_out_w(&p));
    op *o = add_op(b, CDT_LAYER_CONV2D, in, out);
    if (!o) return 0;
    o->p.conv = p;
    o->w = add_tensor(b, prefix, "weight", 0, 4, oc, s.c, k, k);
    need_scratch(b, o);
    return out;
}

static int batchnorm(builder *b, const char *prefix, int in, int relu)
{
    if (b->failed) return 0;
    slot s = b->g->slots[in];
    int out = add_slot(b, s.c, s.h, s.w);
    op *o = add_op(b, CDT_LAYER_BATCHNORM, in, out);
    if (!o) return 0;
    o->relu = relu;
    o->p.bn = (cdt_bn_params){b->m->batch, s.c, s.h * s.w, CDT_BN_MOMENTUM, CDT_BN_EPS};
    if (s.c > b->g->bn_max) b->g->bn_max = s.c;
    o->w = add_tensor(b, prefix, "weight", 0, 1, s.c, 0, 0, 0);
    o->b = add_tensor(b, prefix, "bias", 0, 1, s.c, 0, 0, 0);
    o->rm = add_tensor(b, prefix, "running_mean", 1, 1, s.c, 0, 0, 0);
    o->rv = add_tensor(b, prefix, "running_var", 1, 1, s.c, 0, 0, 0);
    o->save = b->g->save_size;
    b->g->save_size += 2 * (size_t)s.c;
    return out;
}

/* slot_ = slot_ + other, then ReLU: the residual add, in place. */
static void add_relu(builder *b, int slot_, int other)
{
    op *o = add_op(b, OP_ADD, slot_, slot_);
    if (!o) return;
    o->in2 = other;
    o->relu = 1;
}

static int linear(builder *b, const char *prefix, int in, int out_dim, int bias)
{
    if (b->failed) return 0;
    slot s = b->g->slots[in];
    int out = add_slot(b, out_dim, 1, 1);
    op *o = add_op(b, CDT_LAYER_LINEAR, in, out);
    if (!o) return 0;
    o->p.lin = (cdt_linear_params){b->m->batch, s.c, out_dim};
    o->w = add_tensor(b, prefix, "weight", 0, 2, out_dim, s.c, 0, 0);
    if (bias) o->b = add_tensor(b, prefix, "bias", 0, 1, out_dim, 0, 0, 0);
    return out;
}

/* conv -> BN (-> ReLU): the pattern every ResNet layer is made of. */
static int conv_bn(builder *b, const char *pre, const char *cname, const char *bname,
                   int in, int oc, int k, int stride, int pad, int relu)
{
    char cn[64], bn[64];
    snprintf(cn, sizeof cn, "%s%s", pre, cname);
    snprintf(bn, sizeof bn, "%s%s", pre, bname);
    return batchnorm(b, bn, conv(b, cn, in, oc, k, stride, pad), relu);
}

/* One BasicBlock (bottleneck = 0) or Bottleneck, torchvision v1.5 layout
 * (the stride sits on the 3x3 conv). */
static int block(builder *b, const char *pre, int in, int planes, int stride, int bottleneck)
{
    int inc = b->g->slots[in].c, outc = bottleneck ? planes * 4 : planes, x;
    if (bottleneck) {
        x = conv_bn(b, pre, "conv1", "bn1", in, planes, 1, 1, 0, 1);
        x = conv_bn(b, pre, "conv2", "bn2", x, planes, 3, stride, 1, 1);
        x = conv_bn(b, pre, "conv3", "bn3", x, outc, 1, 1, 0, 0);
    } else {
        x = conv_bn(b, pre, "conv1", "bn1", in, planes, 3, stride, 1, 1);
        x = conv_bn(b, pre, "conv2", "bn2", x, planes, 3, 1, 1, 0);
    }
    int sc = in;
    if (stride != 1 || inc != outc)
        sc = conv_bn(b, pre, "downsample.0", "downsample.1", in, outc, 1, stride, 0, 0);
    add_relu(b, x, sc);
    return x;
}

static int backbone(builder *b)
{
    const cdt_model_config *c = &b->m->cfg;
    static const int blocks18[4] = {2, 2, 2, 2}, blocks34[4] = {3, 4, 6, 3};
    const int *nb = c->depth == 18 ? blocks18 : blocks34;
    int bottleneck = c->depth == 50;
    int x = add_slot(b, c->in_channels, c->image_size, c->image_size);
    if (c->stem == CDT_STEM_IMAGENET) {
        x = conv_bn(b, "resnet.", "conv1", "bn1", x, c->width, 7, 2, 3, 1);
        slot s = b->g->slots[x];
        cdt_maxpool_params p = {b->m->batch, s.c, s.h, s.w, 3, 2, 1};
        int out = add_slot(b, s.c, cdt_maxpool_out_h(&p), cdt_maxpool_out_w(&p));
        op *o = add_op(b, CDT_LAYER_MAXPOOL, x, out);
        if (!o) return 0;
        o->p.pool = p;
        o->index = b->g->arg_size;
        b->g->arg_size += (size_t)p.n * p.c * cdt_maxpool_out_h(&p) * cdt_maxpool_out_w(&p);
        x = out;
    } else {
        x = conv_bn(b, "resnet.", "conv1", "bn1", x, c->width, 3, 1, 1, 1);
    }
    for (int l = 0; l < 4 && !b->failed; l++)
        for (int i = 0; i < nb[l]; i++) {
            char pre[48];
            snprintf(pre, sizeof pre, "resnet.layer%d.%d.", l + 1, i);
            x = block(b, pre, x, c->width << l, i == 0 && l > 0 ? 2 : 1, bottleneck);
        }
    if (b->failed) return 0;
    slot s = b->g->slots[x];
    int h = add_slot(b, s.c, 1, 1);
    op *o = add_op(b, CDT_LAYER_AVGPOOL, x, h);
    if (!o) return 0;
    o->p.avg = (cdt_avgpool_params){b->m->batch, s.c, s.h * s.w};
    return h;
}

static void heads(builder *b, int h)
{
    const cdt_model_config *c = &b->m->cfg;
    int rep = b->m->rep_dim;
    int x = batchnorm(b, "instance_projector.1", linear(b, "instance_projector.0", h, rep, 0), 1);
    b->g->z_slot = linear(b, "instance_projector.3", x, c->hidden_dim, 1);
    x = batchnorm(b, "feature_predictor.1",
                  linear(b, "feature_predictor.0", b->g->z_slot, rep, 0), 1);
    x = batchnorm(b, "feature_predictor.4",
                  linear(b, "feature_predictor.3", x, c->feature_num, 0), 0);
    b->g->f_slot = add_slot(b, c->feature_num, 1, 1);
    add_op(b, CDT_LAYER_SIGMOID, x, b->g->f_slot);
}

static int config_ok(const cdt_model_config *c, int batch)
{
    if (c->depth != 18 && c->depth != 34 && c->depth != 50) return 0;
    if (c->stem != CDT_STEM_IMAGENET && c->stem != CDT_STEM_CIFAR) return 0;
    if (c->width < 1 || c->width > 4096 || c->in_channels < 1 || c->in_channels > 64) return 0;
    if (c->hidden_dim < 1 || c->feature_num < 1 || batch < 1) return 0;
    if (c->hidden_dim > 65536 || c->feature_num > 65536 || batch > (1 << 20)) return 0;
    if (c->cpu_conv < CDT_CONV_AUTO || c->cpu_conv > CDT_CONV_GENERIC) return 0;
    // the smallest input whose last stage is still at least 1x1
    int min = c->stem == CDT_STEM_IMAGENET ? 32 : 8;
    return c->image_size >= min && c->image_size <= 8192;
}

/* Training holds both views' activations (the loss needs both before
 * either backward), their gradients and the loss's buffers; inference holds
 * one view and no gradients, a third of the memory. */
/* Device memory; 0 or the device's code (the first failure wins). */
static void dev_alloc(struct cdt_model_graph *g, void *pp, size_t bytes)
{
    void **p = pp;
    *p = NULL;
    if (!g->rc) g->rc = g->be.i->alloc(g->be.ctx, p, bytes ? bytes : 1);
}

/* CDT_DP_DEVICE_COMM: rank 0 makes the collectives' id, sends it to every
 * rank through the comm, and every rank joins. */
static void join_collectives(struct cdt_model_graph *g)
{
    const cdt_backend_i *b = g->be.i;
    if (g->rc) return;
    if (!b->coll_id || !b->coll_init || !b->coll_allgather || !b->coll_sum_f32 || !b->coll_sum_f64) {
        g->rc = CDT_EINVAL;
        return;
    }
    unsigned char msg[1 + CDT_COLL_ID_BYTES] = {0};
    if (g->rank == 0) msg[0] = b->coll_id(g->be.ctx, msg + 1, CDT_COLL_ID_BYTES) == 0;
    if ((g->rc = cdt_comm_bcast(g->comm, msg, sizeof msg, 0)) < 0) {
        g->comm_failed = 1;
        return;
    }
    if (!msg[0]) { // rank 0 has said why
        g->rc = CDT_ENOENT;
        return;
    }
    g->rc = b->coll_init(g->be.ctx, msg + 1, g->rank, g->world);
    g->dev_coll = g->rc == 0;
}

/* Inference keeps no activation for a backward, so a slot's memory goes
 * to later slots once the ops that read it have run: first fit, the slots
 * in the order they are written, which leaves a ResNet a few of its
 * widest slots instead of all of them. A lifetime starts two ops before
 * the op that writes the slot (a convolution run with the batch norm and
 * the add after it, conv_bn_forward, writes their slot at its own op) and
 * ends at the last op that reads or writes it; the input, h, z and f live
 * throughout (the caller writes the one and reads the others). Offsets
 * stay 64-byte multiples. */
static int pack_slots(struct cdt_model_graph *g, size_t batch)
{
    int ns = g->nslots, end = g->nops;
    int *from = malloc((size_t)ns * sizeof *from), *to = malloc((size_t)ns * sizeof *to);
    int *done = malloc((size_t)ns * sizeof *done);
    unsigned char *placed = calloc((size_t)ns, 1);
    if (!from || !to || !done || !placed) {
        free(from); free(to); free(done); free(placed);
        return CDT_ENOMEM;
    }
    for (int s = 0; s < ns; s++) from[s] = end, to[s] = -1;
    for (int i = 0; i < g->nops; i++) {
        const op *o = &g->ops[i];
        if (from[o->out] == end) from[o->out] = i - 2;
        int used[3] = {o->in, o->in2, o->out};
        for (int k = 0; k < 3; k++)
            if (used[k] >= 0 && to[used[k]] < i) to[used[k]] = i;
    }
    int keep[4] = {0, g->h_slot, g->z_slot, g->f_slot};
    for (int k = 0; k < 4; k++) from[keep[k]] = -2, to[keep[k]] = end;
    for (int s = 0; s < ns; s++)
        if (to[s] < 0) from[s] = -2, to[s] = end; // never used: kept apart
    size_t top = 0;
    for (int n = 0; n < ns; n++) {
        // the unplaced slot that starts first (slots are made in op order,
        // so mostly the next one)
        int s = -1;
        for (int t = 0; t < ns; t++)
            if (!placed[t] && (s < 0 || from[t] < from[s])) s = t;
        size_t size = (g->slots[s].per_image * batch + 15) / 16 * 16, at = 0;
        // the lowest offset clear of every placed slot still alive at s's start
        for (int moved = 1; moved;) {
            moved = 0;
            for (int d = 0; d < n; d++) {
                const slot *q = &g->slots[done[d]];
                size_t qs = (q->per_image * batch + 15) / 16 * 16;
                if (to[done[d]] >= from[s] && q->off < at + size && at < q->off + qs) {
                    at = q->off + qs;
                    moved = 1;
                }
            }
        }
        g->slots[s].off = at;
        if (at + size > top) top = at + size;
        done[n] = s;
        placed[s] = 1;
    }
    g->act_size = top;
    free(from); free(to); free(done); free(placed);
    return 0;
}

static int alloc_all(cdt_model *m)
{
    struct cdt_model_graph *g = m->graph;
    size_t n = (size_t)m->batch, F = m->cfg.feature_num, hd = m->cfg.hidden_dim;
    size_t nl = n * (size_t)g->world; // the loss's rows: every rank's
    cdt_ntxent_params pi = {(int)nl, m->cfg.hidden_dim, 1}, pf = {m->cfg.feature_num, (int)nl, 1};
    size_t si = g->be.i->ntxent_scratch(&pi), sf = g->be.i->ntxent_scratch(&pf);
    size_t ntx = si > sf ? si : sf;
    size_t scratch = g->layer_scratch > ntx || m->inference ? g->layer_scratch : ntx;
    size_t widest = (size_t)m->rep_dim;
    if (hd > widest) widest = hd;
    if (F > widest) widest = F;
    int train = !m->inference, views = train ? 2 : 1, host = g->be.i->host_memory;
    m->params = calloc(m->nparams, sizeof(float));
    m->buffers = calloc(m->nbuffers ? m->nbuffers : 1, sizeof(float));
    if (train) m->grads = calloc(m->nparams, sizeof(float));
    if (!m->params || !m->buffers || (train && !m->grads)) return CDT_ENOMEM;
    if (host) {
        g->params = m->params, g->buffers = m->buffers, g->grads = m->grads;
    } else {
        dev_alloc(g, &g->params, m->nparams * sizeof(float));
        dev_alloc(g, &g->buffers, (m->nbuffers ? m->nbuffers : 1) * sizeof(float));
        if (train) dev_alloc(g, &g->grads, m->nparams * sizeof(float));
        if (!(g->out_host = malloc(n * widest * sizeof(float)))) return CDT_ENOMEM;
    }
    dev_alloc(g, &g->scratch, (scratch + 1) * sizeof(float));
    dev_alloc(g, &g->losses, 4 * sizeof(float));
    if (train) {
        dev_alloc(g, &g->dacts, g->act_size * sizeof(float));
        dev_alloc(g, &g->tmp, g->max_slot * sizeof(float));
        if (!(g->seen = malloc((size_t)g->nslots))) return CDT_ENOMEM;
    }
    if (train && host && !g->dp && omp_get_max_threads() > 1) { // run_views' second walk
        dev_alloc(g, &g->dacts1, g->act_size * sizeof(float));
        dev_alloc(g, &g->tmp1, g->max_slot * sizeof(float));
        dev_alloc(g, &g->scratch1, (g->layer_scratch + 1) * sizeof(float));
        if (!(g->seen1 = malloc((size_t)g->nslots))) return CDT_ENOMEM;
    }
    for (int v = 0; v < views; v++) {
        dev_alloc(g, &g->acts[v], g->act_size * sizeof(float));
        dev_alloc(g, &g->saves[v], (g->save_size + 1) * sizeof(float));
        dev_alloc(g, &g->args[v], (g->arg_size + 1) * sizeof(int32_t));
        if (!train) continue;
        dev_alloc(g, &g->dz[v], nl * hd * sizeof(float));
        dev_alloc(g, &g->df[v], nl * F * sizeof(float));
        dev_alloc(g, &g->ft[v], nl * F * sizeof(float));
        dev_alloc(g, &g->dft[v], nl * F * sizeof(float));
        if (!g->dp) continue;
        dev_alloc(g, &g->zg[v], nl * hd * sizeof(float));
        dev_alloc(g, &g->fg[v], nl * F * sizeof(float));
    }
    if (!g->dp || !train) return g->rc;
    dev_alloc(g, (void *)&g->bn_dev, 4 * (size_t)g->bn_max * sizeof(double));
    if (g->dp_flags & CDT_DP_DEVICE_COMM) join_collectives(g);
    if (host) {
        g->bn_host = g->bn_dev;
    } else {
        size_t wide = hd > F ? hd : F;
        g->bn_host = malloc(4 * (size_t)g->bn_max * sizeof(double));
        g->send_host = malloc(n * wide * sizeof(float));
        g->recv_host = malloc(nl * wide * sizeof(float));
        if (!g->bn_host || !g->send_host || !g->recv_host) return CDT_ENOMEM;
    }
    return g->rc;
}

static int model_create(const cdt_model_config *cfg, int batch, int inference,
                        const cdt_device *dev, cdt_comm *comm, int dp_flags, cdt_model **out)
{
    *out = NULL;
    if (!config_ok(cfg, batch)) return CDT_EINVAL;
    // the largest activation, the stem's output, bounds every size below
    uint64_t big;
    if (cdt_mul_u64((uint64_t)cfg->image_size * cfg->image_size, (uint64_t)batch * cfg->width * 4, &big) ||
        big > ((uint64_t)1 << 40))
        return CDT_ELIMIT;
    cdt_model *m = calloc(1, sizeof *m);
    if (!m || !(m->graph = calloc(1, sizeof *m->graph))) {
        free(m);
        return CDT_ENOMEM;
    }
    m->graph->be = dev ? *cdt_device_backend(dev)
                       : (cdt_backend){cdt_backend_cpu(), NULL};
    m->graph->world = 1;
    if ((cdt_comm_size(comm) > 1 || (comm && (dp_flags & CDT_DP_DEVICE_COMM))) && !inference) {
        const cdt_backend_i *bi = m->graph->be.i;
        if (!bi->batchnorm_sums || !bi->batchnorm_forward_with || !bi->batchnorm_backward_sums ||
            !bi->batchnorm_backward_with) {
            free(m->graph);
            free(m);
            return CDT_EINVAL; // a device library without batch norm across ranks
        }
        m->graph->comm = comm;
        m->graph->world = cdt_comm_size(comm);
        m->graph->rank = cdt_comm_rank(comm);
        m->graph->dp_flags = dp_flags;
        m->graph->dp = 1;
    }
    m->cfg = *cfg;
    if (m->cfg.cpu_conv == CDT_CONV_AUTO) m->cfg.cpu_conv = cdt_conv2d_kernels_auto();
    m->batch = batch;
    m->inference = inference;
    m->rep_dim = cfg->width * 8 * (cfg->depth == 50 ? 4 : 1);
    builder b = {m, m->graph, 0, 0};
    m->graph->h_slot = backbone(&b);
    if (!b.failed) heads(&b, m->graph->h_slot);
    int rc = b.failed ? CDT_ENOMEM : inference ? pack_slots(m->graph, (size_t)batch) : 0;
    if (!rc) rc = alloc_all(m);
    if (rc < 0) {
        cdt_model_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

int cdt_model_create(const cdt_model_config *cfg, int batch, cdt_model **out)
{
    return model_create(cfg, batch, 0, NULL, NULL, 0, out);
}

int cdt_model_create_inference(const cdt_model_config *cfg, int batch, cdt_model **out)
{
    return model_create(cfg, batch, 1, NULL, NULL, 0, out);
}

int cdt_model_create_on(const cdt_model_config *cfg, int batch, const cdt_device *dev,
                        cdt_model **out)
{
    return model_create(cfg, batch, 0, dev, NULL, 0, out);
}

int cdt_model_create_inference_on(const cdt_model_config *cfg, int batch,
                                  const cdt_device *dev, cdt_model **out)
{
    return model_create(cfg, batch, 1, dev, NULL, 0, out);
}

int cdt_model_create_parallel(const cdt_model_config *cfg, int batch, const cdt_device *dev,
                              cdt_comm *comm, int flags, cdt_model **out)
{
    return model_create(cfg, batch, 0, dev, comm, flags, out);
}

cdt_comm *cdt_model_comm(const cdt_model *m) { return m->graph->comm; }
int cdt_model_dp_flags(const cdt_model *m) { return m->graph->dp_flags; }
int cdt_model_dev_coll(const cdt_model *m) { return m->graph->dev_coll; }

void cdt_model_destroy(cdt_model *m)
{
    if (!m) return;
    struct cdt_model_graph *g = m->graph;
    if (g) {
        if (g->be.i) {
            const cdt_backend_i *b = g->be.i;
            void *c = g->be.ctx;
            for (int v = 0; v < 2; v++) {
                b->free(c, g->acts[v]); b->free(c, g->saves[v]); b->free(c, g->args[v]);
                b->free(c, g->dz[v]); b->free(c, g->df[v]); b->free(c, g->ft[v]);
                b->free(c, g->dft[v]);
            }
            b->free(c, g->dacts); b->free(c, g->tmp); b->free(c, g->scratch);
            b->free(c, g->dacts1); b->free(c, g->tmp1); b->free(c, g->scratch1);
            b->free(c, g->losses);
            for (int v = 0; v < 2; v++) { b->free(c, g->zg[v]); b->free(c, g->fg[v]); }
            b->free(c, g->bn_dev);
            if (!b->host_memory) {
                free(g->bn_host); free(g->send_host); free(g->recv_host);
                b->free(c, g->params); b->free(c, g->grads); b->free(c, g->buffers);
            }
        }
        free(g->ops); free(g->slots); free(g->seen); free(g->seen1); free(g->out_host);
        free(g);
    }
    free(m->tensors); free(m->params); free(m->grads); free(m->buffers);
    free(m);
}

void cdt_model_init(cdt_model *m, uint64_t seed)
{
    for (int i = 0; i < m->ntensors; i++) {
        const cdt_model_tensor *t = &m->tensors[i];
        float *d = cdt_model_tensor_data(m, t);
        const char *leaf = strrchr(t->name, '.') + 1;
        cdt_rng r;
        cdt_rng_init(&r, seed, CDT_RNG_INIT, (uint64_t)i, 0, 0);
        if (t->rank == 4) { // kaiming normal, fan_out = OC*KH*KW, gain sqrt(2)
            double sd = sqrt(2.0 / ((double)t->dim[0] * t->dim[2] * t->dim[3]));
            for (size_t k = 0; k < t->numel; k++) d[k] = (float)(sd * cdt_rng_normal(&r));
        } else if (t->rank == 2 || (strcmp(leaf, "bias") == 0 && i > 0 && t[-1].rank == 2)) {
            // Linear weight and bias: uniform(+-1/sqrt(fan_in)), fan_in of the weight
            int in = t->rank == 2 ? t->dim[1] : t[-1].dim[1];
            double bound = 1 / sqrt((double)in);
            for (size_t k = 0; k < t->numel; k++) d[k] = (float)cdt_rng_range(&r, -bound, bound);
        } else { // batch norm: weight and running_var 1, bias and running_mean 0
            float v = strcmp(leaf, "weight") == 0 || strcmp(leaf, "running_var") == 0;
            for (size_t k = 0; k < t->numel; k++) d[k] = v;
        }
    }
    cdt_model_push(m);
}

int cdt_model_push(cdt_model *m)
{
    struct cdt_model_graph *g = m->graph;
    if (g->be.i->host_memory) return g->rc;
    DEV(g, upload, g->params, m->params, m->nparams * sizeof(float));
    DEV(g, upload, g->buffers, m->buffers, m->nbuffers * sizeof(float));
    return g->rc;
}

int cdt_model_pull(const cdt_model *m)
{
    struct cdt_model_graph *g = m->graph;
    if (g->be.i->host_memory) return g->rc;
    DEV(g, download, m->params, g->params, m->nparams * sizeof(float));
    DEV(g, download, m->buffers, g->buffers, m->nbuffers * sizeof(float));
    if (m->grads) DEV(g, download, m->grads, g->grads, m->nparams * sizeof(float));
    return g->rc;
}

const char *cdt_model_errmsg(const cdt_model *m)
{
    if (m->graph->comm_failed) return cdt_comm_errmsg(m->graph->comm);
    return m->graph->be.i->errmsg(m->graph->be.ctx);
}

const char *cdt_model_device(const cdt_model *m) { return m->graph->be.i->name; }

const cdt_model_tensor *cdt_model_find(const cdt_model *m, const char *name)
{
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

float *cdt_model_tensor_data(cdt_model *m, const cdt_model_tensor *t)
{
    return (t->buffer ? m->buffers : m->params) + t->offset;
}

float *cdt_model_tensor_grad(cdt_model *m, const cdt_model_tensor *t)
{
    return t->buffer || !m->grads ? NULL : m->grads + t->offset;
}

int cdt_model_zero_grad(cdt_model *m)
{
    CDT_ASSERT(!m->inference);
    DEV(m->graph, memset, m->graph->grads, 0, m->nparams * sizeof(float));
    return m->graph->rc;
}

static float *act(const cdt_model *m, int view, int s)
{
    return m->graph->acts[view] + m->graph->slots[s].off;
}

const cdt_backend *cdt_model_backend(const cdt_model *m) { return &m->graph->be; }
const cdt_model_config *cdt_model_cfg(const cdt_model *m) { return &m->cfg; }

int cdt_model_config_same(const cdt_model_config *a, const cdt_model_config *b)
{
    return a->depth == b->depth && a->stem == b->stem && a->width == b->width &&
           a->in_channels == b->in_channels && a->image_size == b->image_size &&
           a->hidden_dim == b->hidden_dim && a->feature_num == b->feature_num;
}
int cdt_model_batch(const cdt_model *m) { return m->batch; }
int cdt_model_rep_dim(const cdt_model *m) { return m->rep_dim; }
int cdt_model_is_inference(const cdt_model *m) { return m->inference; }
int cdt_model_ntensors(const cdt_model *m) { return m->ntensors; }
size_t cdt_model_nparams(const cdt_model *m) { return m->nparams; }
size_t cdt_model_nbuffers(const cdt_model *m) { return m->nbuffers; }
float *cdt_model_params(cdt_model *m) { return m->params; }
float *cdt_model_grads(cdt_model *m) { return m->grads; }
float *cdt_model_buffers(cdt_model *m) { return m->buffers; }

const cdt_model_tensor *cdt_model_tensor_at(const cdt_model *m, int i)
{
    CDT_ASSERT(i >= 0 && i < m->ntensors);
    return &m->tensors[i];
}
float *cdt_model_input(cdt_model *m, int view) { return act(m, view, 0); }
float *cdt_model_dev_params(cdt_model *m) { return m->graph->params; }
float *cdt_model_dev_grads(cdt_model *m) { return m->graph->grads; }

/* ---- data parallel: what goes between ranks ---- */

static int sync_bn(const struct cdt_model_graph *g)
{
    return g->dp && !(g->dp_flags & CDT_DP_LOCAL_BN);
}

/* The loss is the whole batch's: z and f gathered from every rank. */
static int whole_loss(const struct cdt_model_graph *g)
{
    return g->dp && !(g->dp_flags & CDT_DP_LOCAL_LOSS);
}

/* Device doubles d (n) = their sum over ranks, times scale; through the
 * host on a device. */
static void sum_across(struct cdt_model_graph *g, double *d, size_t n, double scale)
{
    if (g->dev_coll) {
        DEV(g, coll_sum_f64, d, n, scale);
        return;
    }
    double *h = g->be.i->host_memory ? d : g->bn_host;
    DEV(g, download, h, d, n * sizeof(double));
    if (g->rc) return;
    if ((g->rc = cdt_comm_sum_f64(g->comm, h, n)) < 0) {
        g->comm_failed = 1;
        return;
    }
    for (size_t k = 0; k < n; k++) h[k] *= scale;
    DEV(g, upload, d, h, n * sizeof(double));
}

/* dst (world * n) = every rank's src (n), in rank order. */
static void gather(struct cdt_model_graph *g, float *dst, const float *src, size_t n)
{
    if (g->rc) return;
    if (g->dev_coll) {
        DEV(g, coll_allgather, dst, src, n * sizeof(float));
        return;
    }
    if (g->be.i->host_memory) {
        g->rc = cdt_comm_allgather(g->comm, dst, src, n * sizeof(float));
        g->comm_failed = g->rc < 0;
        return;
    }
    DEV(g, download, g->send_host, src, n * sizeof(float));
    if (!g->rc) {
        g->rc = cdt_comm_allgather(g->comm, g->recv_host, g->send_host, n * sizeof(float));
        g->comm_failed = g->rc < 0;
    }
    DEV(g, upload, dst, g->recv_host, n * g->world * sizeof(float));
}

/* The training forward of batch norm over every rank's rows: the two-pass
 * mean and variance of cdt_batchnorm_forward with each pass's sums added
 * over ranks. */
static void bn_forward_across(struct cdt_model_graph *g, const op *o, const cdt_bn_params *p,
                              int view)
{
    float *x = g->acts[view] + g->slots[o->in].off, *y = g->acts[view] + g->slots[o->out].off;
    float *mean = g->saves[view] + o->save, *invstd = mean + p->c;
    double count = (double)p->n * p->hw * g->world, *sum = g->bn_dev, *sq = g->bn_dev + p->c;
    DEV(g, batchnorm_sums, sum, x, NULL, p);
    sum_across(g, sum, (size_t)p->c, 1 / count);     // the mean
    DEV(g, batchnorm_sums, sq, x, sum, p);
    sum_across(g, sq, (size_t)p->c, 1 / count);      // the biased variance
    DEV(g, batchnorm_forward_with, y, mean, invstd, g->buffers + o->rm, g->buffers + o->rv, x,
        g->params + o->w, g->params + o->b, sum, sq, count, p);
}

static void bn_backward_across(struct cdt_model_graph *g, const op *o, const cdt_bn_params *p,
                               int view, float *dx)
{
    const float *x = g->acts[view] + g->slots[o->in].off, *dy = g->dacts + g->slots[o->out].off;
    const float *mean = g->saves[view] + o->save, *invstd = mean + p->c;
    double count = (double)p->n * p->hw * g->world, *local = g->bn_dev;
    double *global = g->bn_dev + 2 * (size_t)p->c;
    DEV(g, batchnorm_backward_sums, local, dy, x, mean, invstd, p);
    DEV(g, copy, global, local, 2 * (size_t)p->c * sizeof(double));
    sum_across(g, global, 2 * (size_t)p->c, 1);
    DEV(g, batchnorm_backward_with, dx, g->grads + o->w, g->grads + o->b, local, global, count,
        dy, x, mean, invstd, g->params + o->w, p);
}

/* A device pointer at an offset, NULL for an absent tensor. */
static float *at(float *base, size_t off) { return off == NONE ? NULL : base + off; }
static int32_t *at_index(int32_t *base, size_t off) { return off == NONE ? NULL : base + off; }

/* A call of the op's layer on n images of a view: its tensors and sizes
 * (*p, the op's with n). */
static cdt_layer_args layer_args(walk *w, const op *o, int view, int n, op_params *p)
{
    cdt_model *m = w->m;
    struct cdt_model_graph *g = m->graph;
    *p = o->p;
    p->n = n;
    return (cdt_layer_args){.p = p, .numel = (size_t)n * g->slots[o->out].per_image,
                            .x = act(m, view, o->in), .out = act(m, view, o->out),
                            .w = at(g->params, o->w), .b = at(g->params, o->b),
                            .rm = at(g->buffers, o->rm), .rv = at(g->buffers, o->rv),
                            .save = at(g->saves[view], o->save),
                            .index = at_index(g->args[view], o->index), .scratch = w->scratch};
}

#define WLAYER(w, kind, pass, a) do { \
        if (!*(w)->rc) \
            *(w)->rc = (w)->m->graph->be.i->layers[kind]->pass((w)->m->graph->be.ctx, a); \
    } while (0)

/* A layer, then its ReLU. */
static void layer_forward(walk *w, const op *o, int view, int n, int train)
{
    op_params p;
    cdt_layer_args a = layer_args(w, o, view, n, &p);
    a.train = train;
    WLAYER(w, o->kind, forward, &a);
    if (o->relu) WDEV(w, relu_forward, a.out, a.out, a.numel);
}

/* Batch norm: across ranks in a data-parallel step, fused with its ReLU
 * where the device has that, else as any layer. */
static void bn_forward(walk *w, const op *o, int view, int n, int train)
{
    struct cdt_model_graph *g = w->m->graph;
    op_params p;
    cdt_layer_args a = layer_args(w, o, view, n, &p);
    if (train && sync_bn(g)) {
        bn_forward_across(g, o, &p.bn, view);
        if (o->relu) WDEV(w, relu_forward, a.out, a.out, a.numel);
    } else if (train && o->relu && g->be.i->batchnorm_relu_forward) {
        WDEV(w, batchnorm_relu_forward, a.out, a.save, a.save + p.bn.c, a.rm, a.rv, a.x, a.w,
             a.b, &p.bn);
    } else {
        layer_forward(w, o, view, n, train);
    }
}

/* The residual add, in place, then its ReLU: fused where the device can. */
static void add_forward(walk *w, const op *o, int view, int n, int train)
{
    cdt_model *m = w->m;
    float *y = act(m, view, o->out);
    size_t numel = (size_t)n * m->graph->slots[o->out].per_image;
    (void)train;
    if (o->relu && m->graph->be.i->add_relu_forward) {
        WDEV(w, add_relu_forward, y, act(m, view, o->in), act(m, view, o->in2), numel);
        return;
    }
    WDEV(w, add, y, act(m, view, o->in), act(m, view, o->in2), numel);
    if (o->relu) WDEV(w, relu_forward, y, y, numel);
}

/* Where an op writes the gradient of its input slot s: the slot's own
 * gradient buffer for the first consumer met in backward, else a temporary
 * that grad_done() adds in. */
static float *grad_to(walk *w, int s, int *acc)
{
    *acc = w->seen[s];
    w->seen[s] = 1;
    return *acc ? w->tmp : w->dacts + w->m->graph->slots[s].off;
}

static void grad_done(walk *w, int s, int acc)
{
    struct cdt_model_graph *g = w->m->graph;
    if (!acc) return;
    float *d = w->dacts + g->slots[s].off;
    WDEV(w, add, d, d, w->tmp, (size_t)g->n * g->slots[s].per_image);
}

/* What every layer's backward begins with: its ReLU's backward, in place
 * on dy, and where dx goes (none for the input images: *acc says whether
 * it is a temporary to add in). */
static cdt_layer_args backward_args(walk *w, const op *o, int view, op_params *p, int *acc)
{
    struct cdt_model_graph *g = w->m->graph;
    cdt_layer_args a = layer_args(w, o, view, g->n, p);
    float *dy = w->dacts + g->slots[o->out].off;
    if (o->relu) WDEV(w, relu_backward, dy, dy, a.out, a.numel);
    *acc = 0;
    a.dout = dy;
    a.dx = o->in == 0 ? NULL : grad_to(w, o->in, acc);
    a.dw = at(g->grads, o->w);
    a.db = at(g->grads, o->b);
    return a;
}

static void layer_backward(walk *w, const op *o, int view)
{
    op_params p;
    int acc;
    cdt_layer_args a = backward_args(w, o, view, &p, &acc);
    WLAYER(w, o->kind, backward, &a);
    if (a.dx) grad_done(w, o->in, acc);
}

static void bn_backward(walk *w, const op *o, int view)
{
    struct cdt_model_graph *g = w->m->graph;
    if (!sync_bn(g)) {
        layer_backward(w, o, view);
        return;
    }
    op_params p;
    int acc;
    cdt_layer_args a = backward_args(w, o, view, &p, &acc);
    bn_backward_across(g, o, &p.bn, view, a.dx);
    if (a.dx) grad_done(w, o->in, acc);
}

/* In place: dy (after the ReLU's backward) already is the branch's
 * gradient; the shortcut's gets it too. */
static void add_backward(walk *w, const op *o, int view)
{
    cdt_model *m = w->m;
    struct cdt_model_graph *g = m->graph;
    float *y = act(m, view, o->out), *dy = w->dacts + g->slots[o->out].off;
    float *d = w->dacts + g->slots[o->in2].off;
    size_t numel = (size_t)g->n * g->slots[o->out].per_image;
    if (o->relu && g->be.i->add_relu_backward) {
        WDEV(w, add_relu_backward, dy, d, y, w->seen[o->in2], numel);
    } else {
        if (o->relu) WDEV(w, relu_backward, dy, dy, y, numel);
        if (w->seen[o->in2]) WDEV(w, add, d, d, dy, numel);
        else WDEV(w, copy, d, dy, numel * sizeof(float));
    }
    w->seen[o->in2] = 1;
}

/* How each kind of op runs: one row a kind. A layer's row is mostly
 * layer_forward and layer_backward, which call the device's entry of the
 * layer (nn/backend.h) and do the ReLU and the gradient bookkeeping. */
typedef struct op_kind {
    const char *name;
    void (*forward)(walk *w, const op *o, int view, int n, int train);
    void (*backward)(walk *w, const op *o, int view);
} op_kind;

static const op_kind op_kinds[OP_KINDS] = {
    [CDT_LAYER_CONV2D] = {"conv2d", layer_forward, layer_backward},
    [CDT_LAYER_BATCHNORM] = {"batchnorm", bn_forward, bn_backward},
    [CDT_LAYER_MAXPOOL] = {"maxpool", layer_forward, layer_backward},
    [CDT_LAYER_AVGPOOL] = {"avgpool", layer_forward, layer_backward},
    [CDT_LAYER_LINEAR] = {"linear", layer_forward, layer_backward},
    [CDT_LAYER_SIGMOID] = {"sigmoid", layer_forward, layer_backward},
    [OP_ADD] = {"add", add_forward, add_backward},
};

/* A walk on the model's own buffers (set 0) or on the second view's of
 * run_views (set 1), keeping its first failure in *rc. */
static walk walk_on(cdt_model *m, int set, int *rc)
{
    struct cdt_model_graph *g = m->graph;
    if (set) return (walk){m, rc, g->dacts1, g->tmp1, g->scratch1, g->seen1};
    return (walk){m, rc, g->dacts, g->tmp, g->scratch, g->seen};
}

/* The walk of one view alone: the model's own buffers and g->rc. */
static walk walk_alone(cdt_model *m)
{
    return walk_on(m, 0, &m->graph->rc);
}

/* Two walks side by side (run_views): view 1 starts op k of its walk once
 * view 0 has finished it (*done > k, view 0's count), so whatever both
 * update (batch norm's running statistics, the parameters' gradients) is
 * updated in the order of two walks one after the other: the same bits. */
static void wait_turn(atomic_int *done, int k)
{
    // a wait is mostly shorter than a system call; yield only after a
    // long one (more threads than cores)
    for (long spin = 0; atomic_load_explicit(done, memory_order_acquire) <= k; spin++) {
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_ia32_pause();
#endif
        if (spin > 20000) sched_yield();
    }
}

/* An inference model on a device whose convolutions take the batch norm
 * after them (conv_post): op i a convolution, its batch norm, and the
 * residual add right after them that reads the norm's output, in one call
 * on each group of images while they are in cache. (A training model's
 * eval forward runs op by op: the reference the tests hold this to.)
 * Every slot that ops after them read holds what the three ops would have
 * left: the slots of the convolution, and of the norm when the add goes
 * to the other input's, are nobody's input after them. The convolution
 * writes into the norm's slot where it can, so its own slot is not
 * touched. Returns the ops it ran, 0 where op i starts no such run. */
static int conv_bn_forward(walk *w, int i, int view, int n)
{
    cdt_model *m = w->m;
    struct cdt_model_graph *g = m->graph;
    const op *o = &g->ops[i];
    if (!g->be.i->conv_post || o->kind != CDT_LAYER_CONV2D || i + 1 >= g->nops) return 0;
    const op *bn = o + 1;
    if (bn->kind != CDT_LAYER_BATCHNORM || bn->in != o->out) return 0;
    cdt_conv_post post = {g->params + bn->w, g->params + bn->b, g->buffers + bn->rm,
                          g->buffers + bn->rv, bn->p.bn.eps, NULL, bn->relu, act(m, view, bn->out)};
    int ran = 2;
    const op *add = i + 2 < g->nops ? o + 2 : NULL;
    if (!bn->relu && add && add->kind == OP_ADD && (add->in == bn->out || add->in2 == bn->out)) {
        post.res = act(m, view, add->in == bn->out ? add->in2 : add->in);
        post.relu = add->relu;
        post.dst = act(m, view, add->out);
        ran = 3;
    }
    op_params p;
    cdt_layer_args a = layer_args(w, o, view, n, &p);
    a.post = &post;
    // the convolution's output straight into the norm's, unless that is the
    // residual the add still has to read
    if (post.dst != post.res) a.out = post.dst;
    WLAYER(w, o->kind, forward, &a);
    return ran;
}

static void walk_forward(walk *w, int view, int n, int train, atomic_int *done)
{
    struct cdt_model_graph *g = w->m->graph;
    for (int i = 0; i < g->nops; i++) {
        if (done && view == 1) wait_turn(done, i);
        const op *o = &g->ops[i];
        int ran = train || done || !w->m->inference ? 0 : conv_bn_forward(w, i, view, n);
        if (ran) {
            i += ran - 1;
            continue;
        }
        op_kinds[o->kind].forward(w, o, view, n, train);
        if (done && view == 0) atomic_store_explicit(done, i + 1, memory_order_release);
    }
}

int cdt_model_forward_input(cdt_model *m, int n, int view, int train)
{
    struct cdt_model_graph *g = m->graph;
    CDT_ASSERT(n >= 1 && n <= m->batch && (view == 0 || view == 1));
    CDT_ASSERT(!train || n > 1);
    CDT_ASSERT(!m->inference || (view == 0 && !train));
    walk w = walk_alone(m);
    walk_forward(&w, view, n, train, NULL);
    g->n = n;
    return g->rc;
}

int cdt_model_forward(cdt_model *m, const float *x, int n, int view, int train)
{
    struct cdt_model_graph *g = m->graph;
    CDT_ASSERT(n >= 1 && n <= m->batch && (view == 0 || view == 1));
    DEV(g, upload, act(m, view, 0), x, (size_t)n * g->slots[0].per_image * sizeof(float));
    return cdt_model_forward_input(m, n, view, train);
}

/* An output of the last forward, on the host: the activation itself on
 * the CPU, else a download into out_host (which the next call reuses). */
static const float *output(const cdt_model *m, int view, int s)
{
    struct cdt_model_graph *g = m->graph;
    const float *a = act(m, view, s);
    if (g->be.i->host_memory) return a;
    DEV(g, download, g->out_host, a, (size_t)g->n * g->slots[s].per_image * sizeof(float));
    return g->rc ? NULL : g->out_host;
}

const float *cdt_model_h(const cdt_model *m, int view) { return output(m, view, m->graph->h_slot); }
const float *cdt_model_z(const cdt_model *m, int view) { return output(m, view, m->graph->z_slot); }
const float *cdt_model_f(const cdt_model *m, int view) { return output(m, view, m->graph->f_slot); }

int cdt_model_loss_queue(cdt_model *m, double t_instance, double t_feature)
{
    struct cdt_model_graph *g = m->graph;
    int n = m->batch, F = m->cfg.feature_num, hd = m->cfg.hidden_dim;
    CDT_ASSERT(!m->inference && g->n == n); // defined on full training batches
    const float *z0 = act(m, 0, g->z_slot), *z1 = act(m, 1, g->z_slot);
    const float *f[2] = {act(m, 0, g->f_slot), act(m, 1, g->f_slot)};
    if (whole_loss(g)) { // every rank's rows
        for (int v = 0; v < 2; v++) {
            gather(g, g->zg[v], act(m, v, g->z_slot), (size_t)n * hd);
            gather(g, g->fg[v], f[v], (size_t)n * F);
            f[v] = g->fg[v];
        }
        z0 = g->zg[0], z1 = g->zg[1];
        n *= g->world;
    }
    cdt_ntxent_params pi = {n, hd, t_instance}, pf = {F, n, t_feature};
    DEV(g, ntxent_forward, g->losses, z0, z1, g->scratch, &pi);
    DEV(g, ntxent_backward, g->dz[0], g->dz[1], 1, z0, z1, g->scratch, &pi);
    for (int v = 0; v < 2; v++) DEV(g, transpose, g->ft[v], f[v], n, F);
    DEV(g, ntxent_forward, g->losses + 1, g->ft[0], g->ft[1], g->scratch, &pf);
    DEV(g, ntxent_backward, g->dft[0], g->dft[1], 1, g->ft[0], g->ft[1], g->scratch, &pf);
    // H is the mean over both views' n*F entries: each view's mean weighs 1/2
    size_t nf = (size_t)n * F;
    for (int v = 0; v < 2; v++) {
        DEV(g, entropy_forward, g->losses + 2 + v, f[v], nf);
        DEV(g, entropy_backward, g->df[v], -0.5f, f[v], nf);
        DEV(g, add_transposed, g->df[v], g->dft[v], n, F);
    }
    return g->rc;
}

int cdt_model_loss_fetch(cdt_model *m, cdt_loss_terms *l)
{
    struct cdt_model_graph *g = m->graph;
    float v[4] = {NAN, NAN, NAN, NAN};
    DEV(g, download, v, g->losses, sizeof v);
    l->instance = v[0];
    l->feature = v[1];
    l->entropy = (v[2] + v[3]) / 2;
    l->total = l->instance + (l->feature - l->entropy);
    return g->rc;
}

cdt_loss_terms cdt_model_loss(cdt_model *m, double t_instance, double t_feature)
{
    cdt_loss_terms l;
    cdt_model_loss_queue(m, t_instance, t_feature);
    cdt_model_loss_fetch(m, &l);
    return l;
}

static void walk_backward(walk *w, int view, atomic_int *done)
{
    cdt_model *m = w->m;
    struct cdt_model_graph *g = m->graph;
    size_t nz = (size_t)g->n * m->cfg.hidden_dim, nf = (size_t)g->n * m->cfg.feature_num;
    memset(w->seen, 0, (size_t)g->nslots);
    // the loss is the first consumer of z and f; of a whole batch over
    // ranks, this rank's rows
    size_t row = whole_loss(g) ? (size_t)g->rank : 0;
    WDEV(w, copy, w->dacts + g->slots[g->z_slot].off, g->dz[view] + row * nz, nz * sizeof(float));
    WDEV(w, copy, w->dacts + g->slots[g->f_slot].off, g->df[view] + row * nf, nf * sizeof(float));
    w->seen[g->z_slot] = w->seen[g->f_slot] = 1;
    for (int k = 0; k < g->nops; k++) {
        if (done && view == 1) wait_turn(done, k);
        const op *o = &g->ops[g->nops - 1 - k];
        op_kinds[o->kind].backward(w, o, view);
        if (done && view == 0) atomic_store_explicit(done, k + 1, memory_order_release);
    }
}

int cdt_model_backward(cdt_model *m, int view)
{
    CDT_ASSERT(!m->inference);
    walk w = walk_alone(m);
    walk_backward(&w, view, NULL);
    return m->graph->rc;
}

/* Threads for the views side by side, 0 for one view after the other: on
 * the CPU (where the second walk's buffers were made), without ranks, with
 * two threads, or more where OpenMP runs nested teams (each view gets
 * half). Which it is does not change a bit: the kernels give the same
 * sums on any thread count. */
static int pair_threads(const struct cdt_model_graph *g)
{
    int t = omp_get_max_threads();
    if (!g->dacts1 || t < 2 || omp_in_parallel()) return 0;
    return t == 2 || omp_get_max_active_levels() >= 2 ? t : 0;
}

/* Both views' forward (training) or backward, side by side where
 * pair_threads() allows, else view 0 then view 1. */
static int run_views(cdt_model *m, int n, int backward)
{
    struct cdt_model_graph *g = m->graph;
    int t = pair_threads(g);
    if (!t) {
        for (int v = 0; v < 2; v++) {
            walk w = walk_alone(m);
            if (backward) walk_backward(&w, v, NULL);
            else walk_forward(&w, v, n, 1, NULL);
        }
        return g->rc;
    }
    int rc[2] = {g->rc, g->rc};
    atomic_int done;
    atomic_init(&done, 0);
    #pragma omp parallel num_threads(2)
    {
        // a team of one (the runtime gave no second thread) walks both
        // views in turn, as the sequential path, with one rc
        int me = omp_get_thread_num(), pair = omp_get_num_threads() == 2;
        int first = pair ? me : 0, last = pair ? me : 1;
        atomic_int *turn = pair ? &done : NULL;
        if (pair) omp_set_num_threads(me ? t / 2 : t - t / 2);
        for (int v = first; v <= last; v++) {
            walk w = walk_on(m, v, &rc[pair ? v : 0]);
            if (backward) walk_backward(&w, v, turn);
            else walk_forward(&w, v, n, 1, turn);
        }
    }
    if (!g->rc) g->rc = rc[0] ? rc[0] : rc[1];
    return g->rc;
}

int cdt_model_forward_views(cdt_model *m, int n)
{
    CDT_ASSERT(n > 1 && n <= m->batch && !m->inference);
    m->graph->n = n;
    return run_views(m, n, 0);
}

int cdt_model_backward_views(cdt_model *m)
{
    CDT_ASSERT(!m->inference);
    return run_views(m, 0, 1);
}
