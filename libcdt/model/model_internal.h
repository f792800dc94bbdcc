/* model_internal.h: the model's struct, for model.c and modelfile.c, and
 * what train.c needs of model.c beyond cdt_model.h: the device pointers,
 * so that a training step stays on the device. */
#ifndef CDT_MODEL_INTERNAL_H
#define CDT_MODEL_INTERNAL_H

#include "cdt_model.h"
#include "nn/backend.h"

struct cdt_model_graph;

struct cdt_model {
    cdt_model_config cfg;
    int batch;                /* activations are sized for this many images */
    int inference;            /* made by cdt_model_create_inference */
    int rep_dim;              /* h width: 8 width (x4 for Bottleneck) */
    int ntensors;
    cdt_model_tensor *tensors;
    float *params, *grads;    /* (nparams) each, host; grads NULL for inference */
    size_t nparams;
    float *buffers;           /* (nbuffers) */
    size_t nbuffers;
    struct cdt_model_graph *graph; /* layers, activations, scratch: model.c */
};

const cdt_backend *cdt_model_backend(const cdt_model *m);
/* CDT_DP_* of cdt_model_create_parallel (0 without). */
int cdt_model_dp_flags(const cdt_model *m);
/* 1 when ranks exchange through the device's collectives (NCCL). */
int cdt_model_dev_coll(const cdt_model *m);
/* View `view`'s input slot on the device: (batch, C, H, W). */
float *cdt_model_input(cdt_model *m, int view);
/* The forward of cdt_model_forward, on what is already in the input slot. */
int cdt_model_forward_input(cdt_model *m, int n, int view, int train);
/* A training step's forward of both views (n > 1 images each, already in
 * the input slots), and then its backward of both: the bits of view 0's
 * call then view 1's, side by side on the CPU's threads where it can. */
int cdt_model_forward_views(cdt_model *m, int n);
int cdt_model_backward_views(cdt_model *m);
/* Parameters and gradients on the device (nparams each). */
float *cdt_model_dev_params(cdt_model *m);
float *cdt_model_dev_grads(cdt_model *m);
/* The loss of cdt_model_loss in two halves: queue it on the device, then
 * wait for its four values. */
int cdt_model_loss_queue(cdt_model *m, double t_instance, double t_feature);
int cdt_model_loss_fetch(cdt_model *m, cdt_loss_terms *l);

#endif
