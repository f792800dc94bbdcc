/* cdt_modelfile.h: model files and checkpoints (formats/cdt-stream.md,
 * section 10, "Model files").
 *
 * A model file is a cdt stream (cdt_stream.h) with
 *   meta:    arch (resnet18|resnet34|resnet50), stem (imagenet|cifar), width,
 *            in_channels, image_size, hidden_dim, feature_num, step, epoch,
 *            seed, plus whatever keys the caller adds (cdt-train: train.*);
 *   frame 0: rows == 0, every parameter and BatchNorm buffer as f32, named
 *            and shaped as the PyTorch reference's state_dict (conv OIHW,
 *            linear [out,in]), in state_dict order.
 * A checkpoint adds
 *   frame 1: rows == 0, adam.m and adam.v f32 [P]: Adam's moments of every
 *            parameter flattened in frame 0's order, buffers skipped (P is
 *            the model's nparams); train.position i64 [4]: steps taken,
 *            input rows consumed, epoch and id of the last row consumed.
 * Loading checks every name, shape and dtype against the model built from
 * the meta and reports the first mismatch in one line naming the tensor.
 * PyTorch's BatchNorm num_batches_tracked tensors (any dtype, rank 0 or
 * shape [1], as numpy makes of a 0-d array) are accepted and ignored, so a
 * state_dict written out as is loads; one of another shape is refused as
 * "has shape X, expected [] or [1]", like any known tensor of the wrong
 * shape ("has shape X, expected Y").
 *
 * Worked example: load a model for inference with batches of 256.
 *
 *     cdt_modelfile *mf; cdt_model *m;
 *     if ((rc = cdt_modelfile_open("model.cdt", &mf)) < 0) ...errmsg...;
 *     if ((rc = cdt_model_create(cdt_modelfile_config(mf), 256, &m)) < 0) ...;
 *     if ((rc = cdt_modelfile_load(mf, m, NULL)) < 0) ...errmsg...;
 *     cdt_modelfile_close(mf);
 */
#ifndef CDT_MODELFILE_H
#define CDT_MODELFILE_H

#include "cdt_model.h"
#include "cdt_stream.h"

/* What a model file says beyond the weights. adam_m/adam_v are supplied
 * by the caller (nparams floats each, e.g. a trainer's); NULL for a
 * model-only file. */
typedef struct cdt_modelfile_state {
    int64_t step;      /* optimiser steps taken */
    int64_t epoch;     /* epoch of the last row trained on; -1 unknown */
    uint64_t seed;     /* the initialisation seed */
    uint64_t rows;     /* checkpoint: input rows consumed */
    int64_t last_id;   /* checkpoint: id of the last row consumed; -1 unknown */
    float *adam_m;     // (nparams) or NULL
    float *adam_v;     // (nparams) or NULL
} cdt_modelfile_state;

/* "resnet18"... and back; 0 / NULL when unknown. */
int cdt_arch_depth(const char *arch);
const char *cdt_arch_name(int depth);

/* Write m (and, when st->adam_m is set, the checkpoint frame) to fd as a
 * stream. extra (may be NULL) adds meta keys; the architecture keys and
 * step/epoch/seed always come from m and st. wo NULL: defaults. On failure
 * err (errlen bytes) holds one line. A model on a device is pulled first;
 * the moments in st are the caller's (cdt_trainer_pull them first). */
int cdt_modelfile_save(int fd, const cdt_model *m, const cdt_modelfile_state *st,
                       const cdt_meta *extra, const cdt_writer_opts *wo,
                       char *err, size_t errlen);

typedef struct cdt_modelfile cdt_modelfile;
/* Open path ("-" is stdin) and read its meta into a config. CDT_ENOENT when
 * missing, CDT_EDATA for a stream that is not a model file; *out is set
 * whenever it could be allocated, so errmsg works; close it either way. */
int cdt_modelfile_open(const char *path, cdt_modelfile **out);
const cdt_model_config *cdt_modelfile_config(const cdt_modelfile *f);
const cdt_meta *cdt_modelfile_meta(const cdt_modelfile *f);
/* Read the tensors into m (built from this file's config, any batch).
 * st NULL: weights only. Else step/epoch/seed from the meta, and when
 * st->adam_m is set and the file is a checkpoint, the moments and the
 * position too (a trainer's: cdt_trainer_push them after). The weights
 * are pushed to m's device. Returns 1 when a checkpoint frame was loaded, 0 when not,
 * < 0 on error (CDT_EDATA with the offending tensor in errmsg). */
int cdt_modelfile_load(cdt_modelfile *f, cdt_model *m, cdt_modelfile_state *st);
const char *cdt_modelfile_errmsg(const cdt_modelfile *f);
void cdt_modelfile_close(cdt_modelfile *f);

#endif
