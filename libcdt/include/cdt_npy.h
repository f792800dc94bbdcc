/* cdt_npy.h: NumPy .npy files, so that a stream's tensors can be looked at
 * and made with numpy.
 *
 * Byte layout of a .npy file (format 1.0; 2.0 and 3.0 are read too):
 *   "\x93NUMPY" u8 major u8 minor
 *   u16 header_len (1.0) or u32 header_len (2.0, 3.0), little-endian
 *   header[header_len]: a Python dict literal, e.g.
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 *     padded with spaces and ended by '\n'
 *   data: prod(shape) elements, C order, nothing after them
 * Only the dtypes the stream format has are supported: |u1 |i1 <i4 <i8 <f2
 * <f4 <f8. bf16 has no numpy dtype; big-endian, Fortran order, structured
 * and object arrays are refused as data errors.
 *
 * Functions that can fail on bad input take msg/msgsz and leave a one-line
 * reason there (naming the file and byte offset where that helps).
 */
#ifndef CDT_NPY_H
#define CDT_NPY_H

#include <stddef.h>
#include <stdint.h>
#include "cdt_core.h"

/* The numpy descr of a dtype ("|u1", "<f4", ...); NULL for bf16 or unknown. */
const char *cdt_npy_descr(int dtype);

typedef struct cdt_npy_info {
    int dtype;
    int rank;
    uint64_t dim[CDT_MAX_RANK];
    uint64_t data_offset; /* bytes before the data: magic + header */
    uint64_t nbytes;      /* bytes of data */
} cdt_npy_info;

/* Parse the start of a .npy file held in buf[len]. CDT_ETRUNC when len is
 * too short to hold the whole header (*need then says how many bytes would
 * do, when known), CDT_EDATA for a malformed or unsupported header,
 * CDT_ELIMIT for a rank over 8 or a size over CDT_MAX_TENSOR_BYTES. */
int cdt_npy_parse(const void *buf, size_t len, cdt_npy_info *info,
                  size_t *need, char *msg, size_t msgsz);

/* Read a whole .npy file ("-" is stdin) into t, named name; t->data is
 * malloc'd and the caller frees it. A file longer or shorter than its
 * header says is a data error. */
int cdt_npy_load(const char *path, const char *name, cdt_tensor *t,
                 char *msg, size_t msgsz);

/* Write t (any rank 0..8) as one .npy to fd. CDT_EINVAL for bf16. */
int cdt_npy_save_fd(int fd, const cdt_tensor *t);

/* A .npy whose first dimension grows as rows are appended: for writing a
 * tensor gathered over many frames. On a regular file the data streams out
 * and close rewrites the header in place (the header is sized for any row
 * count); on a pipe the data is held in memory until close. */
typedef struct cdt_npy_writer cdt_npy_writer;

/* dim[1..rank-1] fix the shape of one row; dim[0] is ignored. rank 1..8.
 * CDT_EINVAL for bf16. */
int cdt_npy_writer_open(int fd, int dtype, int rank, const uint64_t *dim,
                        cdt_npy_writer **out);
/* Append rows rows. data: (rows, dim[1], ..., dim[rank-1]) */
int cdt_npy_writer_append(cdt_npy_writer *w, const void *data, uint64_t rows);
/* Finish the file: the header with the final row count. */
int cdt_npy_writer_close(cdt_npy_writer *w);
void cdt_npy_writer_destroy(cdt_npy_writer *w);
uint64_t cdt_npy_writer_rows(const cdt_npy_writer *w);

#endif
