/* cdt_model.h: the Contrastive Disentangling network (ResNet backbone,
 * instance projector, feature predictor) and its training step.
 *
 * Worked example: one training step on two views of a batch.
 *
 *     cdt_model_config cfg = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 64,
 *         .in_channels = 3, .image_size = 32, .hidden_dim = 128, .feature_num = 128};
 *     cdt_model *m;
 *     if ((rc = cdt_model_create(&cfg, 128, &m)) < 0) ...;
 *     cdt_model_init(m, seed);
 *     cdt_model_zero_grad(m);
 *     cdt_model_forward(m, x1, 128, 0, 1);       // view 0, training mode
 *     cdt_model_forward(m, x2, 128, 1, 1);       // view 1
 *     cdt_loss_terms l = cdt_model_loss(m, 0.5, 1.0);
 *     cdt_model_backward(m, 0);
 *     cdt_model_backward(m, 1);                  // grads now hold dL/dparams
 *     cdt_adam_step(cdt_model_params(m), adam_m, adam_v, cdt_model_grads(m),
 *                   cdt_model_nparams(m), t, &opt);
 *     cdt_model_destroy(m);
 *
 * (A trainer, cdt_train.h, does the same on whatever device the model was
 * made on.)
 *
 * Devices (cdt_device.h): a model made with cdt_model_create_on lives on
 * that device; every layer runs there. cdt_model_params, _grads and
 * _buffers are then host copies: cdt_model_pull brings them up to date, cdt_model_push
 * sends them back after the host changed them (cdt_modelfile does both
 * itself). On the CPU they are the model's own arrays and push/pull do
 * nothing, so a model file or checkpoint is the same whichever device
 * wrote it. Functions that run layers return 0 or the device's negative
 * CDT_E* code (the CPU never fails); cdt_model_errmsg says why; after one
 * failure the model is unusable.
 *
 * Every trainable tensor lives in one allocation (cdt_model_params, and
 * cdt_model_grads in the same layout, so Adam and clipping see one
 * buffer); BatchNorm running statistics live in a second one
 * (cdt_model_buffers). cdt_model_tensor_at names each one as
 * the authors' PyTorch state_dict does (resnet.conv1.weight,
 * resnet.layer1.0.bn1.running_mean, instance_projector.0.weight,
 * feature_predictor.4.bias, ...), in state_dict order and PyTorch layouts.
 * BatchNorm's num_batches_tracked is not kept (it only matters for
 * momentum = None). Activations are allocated once, for the batch size
 * given to create; nothing allocates after that.
 */
#ifndef CDT_MODEL_H
#define CDT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cdt_comm.h"
#include "cdt_device.h"

enum { CDT_STEM_IMAGENET = 0, CDT_STEM_CIFAR = 1 };

typedef struct cdt_model_config {
    int depth;        /* 18, 34 (BasicBlock) or 50 (Bottleneck) */
    int stem;         /* CDT_STEM_IMAGENET: 7x7/2 + maxpool; CDT_STEM_CIFAR: 3x3/1 */
    int width;        /* first stage width; 64 in the paper */
    int in_channels;  /* 3 for colour, 1 for grey */
    int image_size;   /* inputs are image_size x image_size */
    int hidden_dim;   /* z width, 128 */
    int feature_num;  /* f width (feature heads), 128 */
    /* The engine, not the architecture (model files neither keep nor
     * compare it): the CPU convolutions' kernels, CDT_CONV_* of cdt_nn.h.
     * 0 (CDT_CONV_AUTO) is decided when the model is made
     * (cdt_conv2d_kernels_auto), and cdt_model_cfg() then says what was
     * decided; a tool fills it from $CDT_CPU_CONV (cdt_conv2d_kernels_parse). */
    int cpu_conv;
} cdt_model_config;

typedef struct cdt_model_tensor {
    char name[80];
    int buffer;       /* 1: lives in buffers (running stats), 0: in params */
    size_t offset;    /* elements from the start of params or buffers */
    size_t numel;
    int rank;
    int dim[4];
} cdt_model_tensor;

typedef struct cdt_loss_terms { float instance, feature, entropy, total; } cdt_loss_terms;

/* Opaque: what a caller needs is read through the functions below. */
typedef struct cdt_model cdt_model;

/* CDT_EINVAL for an unsupported config, CDT_ENOMEM, CDT_ELIMIT when the
 * sizes overflow. */
int cdt_model_create(const cdt_model_config *cfg, int batch, cdt_model **out);
/* The same network for eval-mode forwards of view 0 only (an embedding
 * tool): no gradients, one view's activations, a third of the memory. */
int cdt_model_create_inference(const cdt_model_config *cfg, int batch, cdt_model **out);
/* The same on a device (NULL: the CPU); dev must outlive the model. */
int cdt_model_create_on(const cdt_model_config *cfg, int batch, const cdt_device *dev,
                        cdt_model **out);
int cdt_model_create_inference_on(const cdt_model_config *cfg, int batch,
                                  const cdt_device *dev, cdt_model **out);
/* One of the W = cdt_comm_size(comm) copies of a data-parallel job
 * (cdt_comm.h), each of which runs `batch` rows, its slice of a batch of
 * W * batch: a training forward normalises with the whole batch's
 * statistics (batch norm across ranks: the per-channel sums are added over
 * ranks, as PyTorch's SyncBatchNorm), and the loss is the whole batch's:
 * every rank gathers z and f from all ranks, in rank order (the row order
 * of one process running the whole batch), computes the same loss, and
 * back-propagates its own rows' dL/dz, dL/df. Parameter gradients stay
 * this rank's part: the trainer adds them over ranks. comm NULL or of size
 * 1 (without CDT_DP_DEVICE_COMM): exactly cdt_model_create_on. comm must
 * outlive the model. */
enum {
    CDT_DP_LOCAL_BN = 1,    /* batch norm over this rank's rows only (cheaper; NOT the
                               single-process model: --bn local) */
    CDT_DP_LOCAL_LOSS = 2,  /* the loss over this rank's rows only: each rank sees only its
                               own negatives. Wrong on purpose: tests show that the
                               gradient check catches it */
    CDT_DP_MEAN_GRADS = 4,  /* the trainer averages gradients over ranks instead of adding
                               them: W times too small. Wrong on purpose, as above */
    CDT_DP_DEVICE_COMM = 8, /* exchange over device memory with the device's collectives
                               (NCCL; cdt_device_collectives says whether there are any);
                               the comm then only carries their id from rank 0. Without
                               it, a device's exchanges go through host memory. With
                               one rank it still takes the data-parallel path (a test
                               of the collectives where there is one GPU) */
};
int cdt_model_create_parallel(const cdt_model_config *cfg, int batch, const cdt_device *dev,
                              cdt_comm *comm, int flags, cdt_model **out);
/* The comm of a data-parallel model with more than one rank, else NULL. */
cdt_comm *cdt_model_comm(const cdt_model *m);
void cdt_model_destroy(cdt_model *m);
/* Host copies -> device (after the host wrote params/buffers), and back
 * (params, buffers, and grads when training). */
int cdt_model_push(cdt_model *m);
int cdt_model_pull(const cdt_model *m);
const char *cdt_model_errmsg(const cdt_model *m);
/* "cpu" or "cuda" */
const char *cdt_model_device(const cdt_model *m);

/* The config it was made with, cpu_conv as decided then (never AUTO). */
const cdt_model_config *cdt_model_cfg(const cdt_model *m);
/* 1 when a and b are the same network (cpu_conv aside). */
int cdt_model_config_same(const cdt_model_config *a, const cdt_model_config *b);
int cdt_model_batch(const cdt_model *m);    /* activations are sized for this many images */
int cdt_model_rep_dim(const cdt_model *m);  /* h width: 8 width (x4 for Bottleneck) */
int cdt_model_is_inference(const cdt_model *m);
/* The named tensors, in state_dict order: 0 <= i < cdt_model_ntensors. */
int cdt_model_ntensors(const cdt_model *m);
const cdt_model_tensor *cdt_model_tensor_at(const cdt_model *m, int i);
size_t cdt_model_nparams(const cdt_model *m);
size_t cdt_model_nbuffers(const cdt_model *m);
/* The host copies: every trainable tensor in one array (nparams), their
 * gradients in the same layout (NULL for inference), the BatchNorm
 * running statistics (nbuffers). */
float *cdt_model_params(cdt_model *m);
float *cdt_model_grads(cdt_model *m);
float *cdt_model_buffers(cdt_model *m);
/* PyTorch's default initialisation, drawn from (seed, CDT_RNG_INIT, tensor
 * index): conv kaiming normal (fan_out, relu), BN 1/0 with running stats
 * 0/1, Linear weight and bias uniform(+-1/sqrt(fan_in)). Pushes. */
void cdt_model_init(cdt_model *m, uint64_t seed);
const cdt_model_tensor *cdt_model_find(const cdt_model *m, const char *name);
/* Host copies (see push/pull) */
float *cdt_model_tensor_data(cdt_model *m, const cdt_model_tensor *t);
float *cdt_model_tensor_grad(cdt_model *m, const cdt_model_tensor *t); /* NULL for buffers */

int cdt_model_zero_grad(cdt_model *m);
/* Runs n <= batch images of one view (0 or 1) through the network; train:
 * batch statistics (n > 1) and running-stat updates, else running stats.
 * x is host memory. */
int cdt_model_forward(cdt_model *m,
                      const float *x, // (n, in_channels, image_size, image_size)
                      int n, int view, int train);
/* The last forward's outputs of a view, on the host: h (n,rep_dim), z
 * (n,hidden_dim), f (n,feature_num). On a device each call downloads into
 * one host buffer that the next call reuses; NULL when that fails. */
const float *cdt_model_h(const cdt_model *m, int view);
const float *cdt_model_z(const cdt_model *m, int view);
const float *cdt_model_f(const cdt_model *m, int view);
/* CD loss of the two views of the last training forwards (full batch):
 * instance NT-Xent on z (t_instance), feature NT-Xent on f^T (t_feature),
 * entropy H of f; total = instance + feature - H. Keeps dL/dz, dL/df.
 * NaN terms when the device failed. */
cdt_loss_terms cdt_model_loss(cdt_model *m, double t_instance, double t_feature);
/* Accumulates (+=) dL/dparams of one view into grads. */
int cdt_model_backward(cdt_model *m, int view);

#endif
