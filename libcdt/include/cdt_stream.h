/* cdt_stream.h: the cdt tensor stream, format version 1.
 *
 * Byte layout (little-endian; formats/cdt-stream.md is the full spec):
 *   stream := header frame* end
 *   header := "CDTS" u16 version(=1) u16 flags(=0) u32 meta_len meta[meta_len]
 *   meta   := UTF-8 lines "key=value\n", keys [a-z0-9_.-]+
 *   frame  := "FRAM" u64 rows u32 count tensor[count]
 *   tensor := u8 name_len name u8 dtype u8 rank u64 dim[rank] data (C order)
 *   end    := "CEND" u64 frames u64 rows_total
 * The whole byte sequence is usually wrapped in zstd frames with content
 * checksums; readers accept both forms.
 */
#ifndef CDT_STREAM_H
#define CDT_STREAM_H

#include "cdt_core.h"

/* ---- meta: an ordered list of key=value pairs ---- */
typedef struct cdt_meta cdt_meta;

cdt_meta *cdt_meta_create(void);                 /* NULL if out of memory */
cdt_meta *cdt_meta_clone(const cdt_meta *m);     /* NULL if out of memory */
void cdt_meta_destroy(cdt_meta *m);
/* Set (replace or append). CDT_EINVAL for a key outside [a-z0-9_.-]+ or a
 * value holding '\n' or '\0'. */
int cdt_meta_set(cdt_meta *m, const char *key, const char *value);
int cdt_meta_setf(cdt_meta *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cdt_meta_set_i64(cdt_meta *m, const char *key, int64_t v);
const char *cdt_meta_get(const cdt_meta *m, const char *key); /* NULL if absent */
/* Parse an integer value: CDT_ENOENT if absent, CDT_EDATA if not a number. */
int cdt_meta_get_i64(const cdt_meta *m, const char *key, int64_t *v);
void cdt_meta_remove(cdt_meta *m, const char *key);
size_t cdt_meta_count(const cdt_meta *m);
const char *cdt_meta_key(const cdt_meta *m, size_t i);
const char *cdt_meta_value(const cdt_meta *m, size_t i);
/* Copy every pair of src into dst (set semantics). */
int cdt_meta_merge(cdt_meta *dst, const cdt_meta *src);

/* ---- frames ---- */
#define CDT_MAX_TENSORS 4096
#define CDT_MAX_META (1u << 20)
#define CDT_MAX_TENSOR_BYTES (1ull << 40)

typedef struct cdt_frame {
    uint64_t rows;        /* 0: free-form tensors (model files) */
    uint32_t count;
    cdt_tensor *tensors;  /* [count], data owned by the reader */
} cdt_frame;

/* The tensor called name, or NULL. */
const cdt_tensor *cdt_frame_find(const cdt_frame *f, const char *name);

/* ---- reader ---- */
typedef struct cdt_reader cdt_reader;

typedef struct cdt_reader_opts {
    uint64_t max_tensor_bytes; /* 0: CDT_MAX_TENSOR_BYTES; a --max-memory cap */
    const char *name;          /* for messages, e.g. a file name; NULL: "stdin" */
} cdt_reader_opts;

/* Open a stream on fd (not closed by the reader; pipes are fine, nothing
 * seeks) and read its header. On failure *out is still set when the reader
 * could be allocated, so the message can be read; destroy it either way. */
int cdt_reader_open_fd(int fd, const cdt_reader_opts *opts, cdt_reader **out);
/* Open a file; "-" is stdin. CDT_ENOENT if it does not exist. */
int cdt_reader_open_path(const char *path, const cdt_reader_opts *opts,
                         cdt_reader **out);
void cdt_reader_destroy(cdt_reader *r);
const cdt_meta *cdt_reader_meta(const cdt_reader *r);
/* Next frame: 1 and *f set (valid until the next call), 0 at the end record
 * (checked against the frames read, and nothing may follow it), < 0 on error. */
int cdt_reader_next(cdt_reader *r, const cdt_frame **f);
uint64_t cdt_reader_frames(const cdt_reader *r);  /* frames read so far */
uint64_t cdt_reader_rows(const cdt_reader *r);    /* rows read so far */
uint64_t cdt_reader_offset(const cdt_reader *r);  /* byte offset, uncompressed */
int cdt_reader_compressed(const cdt_reader *r);   /* 1 if zstd */
const char *cdt_reader_errmsg(const cdt_reader *r); /* "" if no error */

/* ---- writer ---- */
typedef struct cdt_writer cdt_writer;

typedef struct cdt_writer_opts {
    int level; /* zstd level; 0 = raw; -1 = from CDT_COMPRESS (default 1) */
} cdt_writer_opts;

/* The level the environment asks for: CDT_COMPRESS unset -> 1, "0" -> raw.
 * CDT_EINVAL (and *level untouched) if it is not a number in 0..22. */
int cdt_env_compress_level(int *level);

/* Write the header to fd (not closed by the writer). opts NULL = defaults. */
int cdt_writer_open_fd(int fd, const cdt_meta *meta, const cdt_writer_opts *opts,
                       cdt_writer **out);
/* Write one frame. rows > 0: every tensor must have rank >= 1 and dim[0] ==
 * rows (CDT_EINVAL otherwise). Each call ends a zstd frame, so a reader
 * downstream sees the frame at once. */
int cdt_writer_frame(cdt_writer *w, uint64_t rows, const cdt_tensor *t,
                     uint32_t count);
/* Write the end record and flush. Must be called for a complete stream. */
int cdt_writer_close(cdt_writer *w);
void cdt_writer_destroy(cdt_writer *w);
uint64_t cdt_writer_bytes(const cdt_writer *w); /* bytes written to fd so far */
const char *cdt_writer_errmsg(const cdt_writer *w);

/* ---- crash-safe output files ----
 * Write to a temporary "DIR/.NAME.PID.XXXXXX", fsync, rename over NAME on
 * commit; a killed process leaves the old file or the new one, never a torn
 * one. Its temporary stays too, and the next open of NAME removes it: a
 * temporary of NAME whose pid is gone and whose flock nobody holds (the
 * writer holds one while it lives). A device or FIFO (/dev/null, a named
 * pipe) is written in place; a folder is CDT_EINVAL. */
typedef struct cdt_outfile cdt_outfile;
int cdt_outfile_open(const char *path, cdt_outfile **out);
int cdt_outfile_fd(const cdt_outfile *of);
int cdt_outfile_commit(cdt_outfile *of);   /* close, fsync, rename; frees */
void cdt_outfile_abort(cdt_outfile *of);   /* close, unlink the temp; frees; NULL ok */

/* Whole-buffer I/O that survives EINTR and short writes: 0 or CDT_EIO/CDT_EPIPE. */
int cdt_write_all(int fd, const void *buf, size_t n);

#endif
