/* cdt.h: the public interface of libcdt, Contrastive Disentangling as tools.
 *
 * Worked example: copy a stream, adding one meta key.
 *
 *     cdt_reader *r; cdt_writer *w; const cdt_frame *f; int rc;
 *     if ((rc = cdt_reader_open_fd(0, NULL, &r)) < 0) ...;
 *     cdt_meta *m = cdt_meta_clone(cdt_reader_meta(r));
 *     cdt_meta_set(m, "producer", "example");
 *     if ((rc = cdt_writer_open_fd(1, m, NULL, &w)) < 0) ...;
 *     while ((rc = cdt_reader_next(r, &f)) > 0)
 *         if ((rc = cdt_writer_frame(w, f->rows, f->tensors, f->count)) < 0) break;
 *     if (rc == 0) rc = cdt_writer_close(w);
 *     if (rc < 0) fprintf(stderr, "%s\n", cdt_reader_errmsg(r)...);
 *     cdt_writer_destroy(w); cdt_meta_destroy(m); cdt_reader_destroy(r);
 *
 * Rules: the library never prints and never exits. Every fallible call
 * returns 0 (or a count) on success and a negative CDT_E* code on failure;
 * objects that read or write files keep a one-line message naming where it
 * went wrong (byte offset, file name), read with their *_errmsg() function.
 * Programmer mistakes (NULL where not allowed, a rank above 8) abort through
 * CDT_ASSERT. Every *_destroy accepts NULL. Whoever allocates frees.
 */
#ifndef CDT_H
#define CDT_H

#include "cdt_core.h"
#include "cdt_stream.h"
#include "cdt_rng.h"
#include "cdt_blas.h"
#include "cdt_image.h"
#include "cdt_resize.h"
#include "cdt_augment.h"
#include "cdt_dataset.h"
#include "cdt_png.h"
#include "cdt_npy.h"
#include "cdt_nn.h"
#include "cdt_device.h"
#include "cdt_comm.h"
#include "cdt_eval.h"
#include "cdt_tsne.h"
#include "cdt_knn.h"
#include "cdt_plot.h"
#include "cdt_model.h"
#include "cdt_modelfile.h"
#include "cdt_train.h"
#include "cdt_run.h"

#endif
