/* stream.c: reader and writer of the cdt stream, format version 1.
 * The byte layout is in cdt_stream.h and formats/cdt-stream.md. Offsets in
 * messages count bytes of the uncompressed stream. */
#include "cdt_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "stream_internal.h"

/* I/O buffers start at SMALL_CHUNK and double up to IO_CHUNK each time one
 * fills, so a short stream (a model file, a pipe of a few rows, a fuzzer's
 * input) costs a page rather than 128 KiB per buffer. */
enum { SMALL_CHUNK = 1 << 12, IO_CHUNK = 1 << 17, FIRST_STEP = 1 << 16, DATA_STEP = 64 << 20 };

static void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> 8 * i); }
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

int cdt_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EPIPE ? CDT_EPIPE : CDT_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

const cdt_tensor *cdt_frame_find(const cdt_frame *f, const char *name)
{
    for (uint32_t i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

/* ================= reader ================= */

struct cdt_reader {
    int fd, owns_fd;
    char name[256];
    uint64_t max_tensor;
    int zstd;
    ZSTD_DStream *ds;
    uint8_t *in;          /* compressed bytes from fd */
    size_t in_cap;
    ZSTD_inBuffer zin;
    int in_eof;
    size_t zret;          /* last ZSTD_decompressStream result: 0 = frame complete */
    uint8_t *buf;         /* stream bytes ready to be consumed */
    size_t buf_cap, pos, len;
    uint64_t offset;      /* stream bytes consumed */
    cdt_meta *meta;
    cdt_frame frame;
    size_t *data_cap;     /* [slots] capacity of tensors[i].data */
    uint32_t slots;       /* tensors[] and data_cap[] allocated so far */
    uint64_t frames, rows;
    int done, err;
    char errmsg[700];
};

static int rfail(cdt_reader *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rfail(cdt_reader *r, int code, const char *fmt, ...)
{
    va_list ap;
    char what[384];
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(r->errmsg, sizeof r->errmsg, "%s: %s", r->name, what);
    r->err = code;
    return code;
}

static int read_fd(cdt_reader *r, uint8_t *dst, size_t cap, size_t *got)
{
    for (;;) {
        ssize_t n = read(r->fd, dst, cap);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno != EINTR)
            return rfail(r, CDT_EIO, "read error after byte %llu: %s",
                         (unsigned long long)r->offset, strerror(errno));
    }
}

/* Double the buffer *p of *cap bytes (up to IO_CHUNK) once its last use
 * filled it; what it held has been consumed. */
static int grow(cdt_reader *r, uint8_t **p, size_t *cap, size_t used)
{
    if (used < *cap || *cap >= IO_CHUNK)
        return 0;
    uint8_t *q = realloc(*p, *cap * 2);
    if (!q)
        return rfail(r, CDT_ENOMEM, "out of memory");
    *p = q;
    *cap *= 2;
    return 0;
}

/* Refill r->buf; *eof set when no more stream bytes will come. */
static int fill(cdt_reader *r, int *eof)
{
    size_t got;
    int rc;
    if ((rc = grow(r, &r->buf, &r->buf_cap, r->len)) < 0)
        return rc;
    r->pos = r->len = 0;
    *eof = 0;
    if (!r->zstd) {
        if ((rc = read_fd(r, r->buf, r->buf_cap, &got)) < 0)
            return rc;
        r->len = got;
        *eof = got == 0;
        return 0;
    }
    while (r->len == 0) {
        if (r->zin.pos == r->zin.size) {
            if (r->in_eof) {
                if (r->zret != 0)
                    return rfail(r, CDT_ETRUNC, "compressed data ends inside a zstd frame (after byte %llu)",
                                 (unsigned long long)r->offset);
                *eof = 1;
                return 0;
            }
            if ((rc = grow(r, &r->in, &r->in_cap, r->zin.size)) < 0 ||
                (rc = read_fd(r, r->in, r->in_cap, &got)) < 0)
                return rc;
            r->zin.src = r->in;
            r->zin.size = got;
            r->zin.pos = 0;
            r->in_eof = got == 0;
            continue;
        }
        ZSTD_outBuffer out = {r->buf, r->buf_cap, 0};
        size_t ret = ZSTD_decompressStream(r->ds, &out, &r->zin);
        if (ZSTD_isError(ret))
            return rfail(r, CDT_EDATA, "corrupt compressed data near byte %llu: %s",
                         (unsigned long long)r->offset, ZSTD_getErrorName(ret));
        r->zret = ret;
        r->len = out.pos;
    }
    return 0;
}

/* Copy n stream bytes into dst (or skip them when dst is NULL). */
static int get(cdt_reader *r, void *dst, size_t n, const char *what)
{
    uint8_t *d = dst;
    while (n) {
        if (r->pos == r->len) {
            int eof, rc = fill(r, &eof);
            if (rc < 0)
                return rc;
            if (eof)
                return rfail(r, CDT_ETRUNC, "stream ends at byte %llu inside %s",
                             (unsigned long long)r->offset, what);
        }
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        if (d) {
            memcpy(d, r->buf + r->pos, k);
            d += k;
        }
        r->pos += k;
        r->offset += k;
        n -= k;
    }
    return 0;
}

static int read_header(cdt_reader *r)
{
    uint8_t h[12];
    int rc;
    if ((rc = get(r, h, 12, "the header")) < 0)
        return rc;
    if (memcmp(h, "CDTS", 4))
        return rfail(r, CDT_EDATA, "not a cdt stream (bad magic at byte 0)");
    if (get_u16(h + 4) != 1)
        return rfail(r, CDT_EDATA, "unsupported stream version %u at byte 4", get_u16(h + 4));
    if (get_u16(h + 6) != 0)
        return rfail(r, CDT_EDATA, "unknown flags 0x%04x at byte 6", get_u16(h + 6));
    uint32_t mlen = get_u32(h + 8);
    if (mlen > CDT_MAX_META)
        return rfail(r, CDT_ELIMIT, "meta length %u over the 1 MiB limit at byte 8", mlen);
    char *m = malloc(mlen ? mlen : 1);
    if (!m)
        return rfail(r, CDT_ENOMEM, "out of memory for %u bytes of meta", mlen);
    if ((rc = get(r, m, mlen, "the meta block")) < 0) {
        free(m);
        return rc;
    }
    size_t bad = 0;
    rc = cdt_meta_decode(r->meta, m, mlen, &bad);
    free(m);
    if (rc < 0)
        return rfail(r, rc, "malformed meta line at byte %llu", (unsigned long long)(12 + bad));
    return 0;
}

/* Sniff zstd or raw from the first bytes; both leave them to be consumed. */
static int start(cdt_reader *r)
{
    uint8_t head[4];
    size_t have = 0, got;
    int rc;
    while (have < 4) {
        if ((rc = read_fd(r, head + have, 4 - have, &got)) < 0)
            return rc;
        if (got == 0 && have == 0)
            return rfail(r, CDT_ETRUNC, "empty input, no stream header");
        if (got == 0)
            return rfail(r, CDT_ETRUNC, "stream ends at byte %zu inside the header", have);
        have += got;
    }
    if (!memcmp(head, "\x28\xb5\x2f\xfd", 4)) {
        r->zstd = 1;
        r->ds = ZSTD_createDStream();
        r->in = malloc(SMALL_CHUNK);
        r->in_cap = SMALL_CHUNK;
        if (!r->ds || !r->in)
            return rfail(r, CDT_ENOMEM, "out of memory");
        memcpy(r->in, head, 4);
        r->zin = (ZSTD_inBuffer){r->in, 4, 0};
        r->zret = 1;
    } else if (!memcmp(head, "CDTS", 4)) {
        memcpy(r->buf, head, 4);
        r->len = 4;
    } else {
        return rfail(r, CDT_EDATA, "not a cdt stream (bad magic at byte 0)");
    }
    return read_header(r);
}

static cdt_reader *reader_new(const cdt_reader_opts *opts, const char *name)
{
    cdt_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = -1;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->max_tensor = opts && opts->max_tensor_bytes ? opts->max_tensor_bytes : CDT_MAX_TENSOR_BYTES;
    if (r->max_tensor > CDT_MAX_TENSOR_BYTES)
        r->max_tensor = CDT_MAX_TENSOR_BYTES;
    r->buf = malloc(SMALL_CHUNK);
    r->buf_cap = SMALL_CHUNK;
    r->meta = cdt_meta_create();
    if (!r->buf || !r->meta)
        rfail(r, CDT_ENOMEM, "out of memory");
    return r;
}

int cdt_reader_open_fd(int fd, const cdt_reader_opts *opts, cdt_reader **out)
{
    cdt_reader *r = reader_new(opts, opts && opts->name ? opts->name : "stdin");
    *out = r;
    if (!r)
        return CDT_ENOMEM;
    if (r->err)
        return r->err;
    r->fd = fd;
    return start(r);
}

int cdt_reader_open_path(const char *path, const cdt_reader_opts *opts, cdt_reader **out)
{
    if (!strcmp(path, "-"))
        return cdt_reader_open_fd(STDIN_FILENO, opts, out);
    cdt_reader *r = reader_new(opts, path);
    *out = r;
    if (!r)
        return CDT_ENOMEM;
    if (r->err)
        return r->err;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return rfail(r, errno == ENOENT ? CDT_ENOENT : CDT_EIO, "cannot open: %s", strerror(errno));
    r->owns_fd = 1;
    return start(r);
}

void cdt_reader_destroy(cdt_reader *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->slots; i++)
        free(r->frame.tensors[i].data);
    if (r->owns_fd)
        close(r->fd);
    free(r->frame.tensors);
    free(r->data_cap);
    cdt_meta_destroy(r->meta);
    ZSTD_freeDStream(r->ds);
    free(r->in);
    free(r->buf);
    free(r);
}

/* Read tensor data, growing the buffer only as bytes actually arrive (each
 * step as long as what has come so far, from FIRST_STEP up to DATA_STEP),
 * so a header that claims a huge tensor in a short stream never allocates
 * much more than the stream holds. */
static int read_data(cdt_reader *r, uint32_t i, uint64_t nbytes)
{
    cdt_tensor *t = &r->frame.tensors[i];
    uint64_t done = 0;
    while (done < nbytes || (nbytes == 0 && !t->data)) {
        uint64_t step = done < FIRST_STEP ? FIRST_STEP : done < DATA_STEP ? done : DATA_STEP;
        uint64_t want = nbytes - done < step ? nbytes - done : step;
        if (done + want > r->data_cap[i] || !t->data) {
            uint64_t cap = r->data_cap[i] * 2;
            if (cap < done + want)
                cap = done + want;
            if (cap > nbytes)
                cap = nbytes;
            void *p = realloc(t->data, cap ? (size_t)cap : 1);
            if (!p)
                return rfail(r, CDT_ENOMEM, "out of memory for tensor '%s' (%llu bytes)", t->name,
                             (unsigned long long)nbytes);
            t->data = p;
            r->data_cap[i] = (size_t)cap;
        }
        int rc = get(r, (uint8_t *)t->data + done, (size_t)want, "tensor data");
        if (rc < 0)
            return rc;
        done += want;
    }
    return 0;
}

/* Names are UTF-8 without control bytes: they appear in one-line messages. */
static int name_ok(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return 0;
    return strlen(name) == len && cdt_utf8_ok(name, len);
}

static int read_tensor(cdt_reader *r, uint32_t i, uint64_t rows)
{
    cdt_tensor *t = &r->frame.tensors[i];
    uint64_t at = r->offset;
    uint8_t len, dr[2], d8[8];
    int rc;
    if ((rc = get(r, &len, 1, "a tensor header")) < 0)
        return rc;
    if (len == 0)
        return rfail(r, CDT_EDATA, "empty tensor name at byte %llu", (unsigned long long)at);
    if ((rc = get(r, t->name, len, "a tensor name")) < 0)
        return rc;
    t->name[len] = 0;
    if (!name_ok(t->name, len))
        return rfail(r, CDT_EDATA, "tensor name is not printable UTF-8 text at byte %llu",
                     (unsigned long long)at);
    for (uint32_t j = 0; j < i; j++)
        if (!strcmp(r->frame.tensors[j].name, t->name))
            return rfail(r, CDT_EDATA, "tensor '%s' appears twice in a frame at byte %llu", t->name,
                         (unsigned long long)at);
    if ((rc = get(r, dr, 2, "a tensor header")) < 0)
        return rc;
    t->dtype = dr[0];
    t->rank = dr[1];
    if (!cdt_dtype_size(t->dtype))
        return rfail(r, CDT_EDATA, "tensor '%s': unknown dtype %d at byte %llu", t->name, dr[0],
                     (unsigned long long)(at + 1 + len));
    if (t->rank > CDT_MAX_RANK)
        return rfail(r, CDT_EDATA, "tensor '%s': rank %d over 8 at byte %llu", t->name, dr[1],
                     (unsigned long long)(at + 2 + len));
    for (int d = 0; d < t->rank; d++) {
        if ((rc = get(r, d8, 8, "tensor dims")) < 0)
            return rc;
        t->dim[d] = get_u64(d8);
    }
    if (rows > 0 && (t->rank == 0 || t->dim[0] != rows))
        return rfail(r, CDT_EDATA, "tensor '%s' at byte %llu has %llu rows, its frame %llu", t->name,
                     (unsigned long long)at, t->rank ? (unsigned long long)t->dim[0] : 0ull,
                     (unsigned long long)rows);
    uint64_t nbytes;
    if (cdt_tensor_nbytes(t, &nbytes) < 0 || nbytes > CDT_MAX_TENSOR_BYTES)
        return rfail(r, CDT_ELIMIT, "tensor '%s' at byte %llu is over the 2^40-byte limit", t->name,
                     (unsigned long long)at);
    if (nbytes > r->max_tensor)
        return rfail(r, CDT_ELIMIT, "tensor '%s' at byte %llu needs %llu bytes, over the cap of %llu (CDT_MAX_MEMORY)",
                     t->name, (unsigned long long)at, (unsigned long long)nbytes,
                     (unsigned long long)r->max_tensor);
    return read_data(r, i, nbytes);
}

/* After the end record nothing may follow, and a zstd frame must be whole
 * (its checksum is verified when it ends). */
static int read_end(cdt_reader *r)
{
    uint8_t e[16];
    uint64_t at = r->offset - 4;
    int rc, eof;
    if ((rc = get(r, e, 16, "the end record")) < 0)
        return rc;
    if (get_u64(e) != r->frames || get_u64(e + 8) != r->rows)
        return rfail(r, CDT_EDATA, "end record at byte %llu counts %llu frames and %llu rows, the stream had %llu and %llu",
                     (unsigned long long)at, (unsigned long long)get_u64(e),
                     (unsigned long long)get_u64(e + 8), (unsigned long long)r->frames,
                     (unsigned long long)r->rows);
    while (r->pos == r->len) {
        if ((rc = fill(r, &eof)) < 0)
            return rc;
        if (eof) {
            r->done = 1;
            return 0;
        }
    }
    return rfail(r, CDT_EDATA, "unexpected data after the end record at byte %llu",
                 (unsigned long long)r->offset);
}

/* Tensor slots grow, doubling, as tensors actually arrive (a header that
 * claims 4096 tensors costs nothing until they come) up to the largest frame
 * seen; their data buffers are kept for the next frame, so a steady stream
 * allocates nothing per frame. */
static int ensure_slots(cdt_reader *r, uint32_t need)
{
    if (need <= r->slots)
        return 0;
    uint32_t count = r->slots * 2 > need ? r->slots * 2 : need;
    if (count > CDT_MAX_TENSORS)
        count = CDT_MAX_TENSORS;
    cdt_tensor *t = realloc(r->frame.tensors, count * sizeof *t);
    if (t)
        r->frame.tensors = t;
    size_t *c = realloc(r->data_cap, count * sizeof *c);
    if (c)
        r->data_cap = c;
    if (!t || !c)
        return rfail(r, CDT_ENOMEM, "out of memory for %u tensors", count);
    memset(t + r->slots, 0, (count - r->slots) * sizeof *t);
    memset(c + r->slots, 0, (count - r->slots) * sizeof *c);
    r->slots = count;
    return 0;
}

int cdt_reader_next(cdt_reader *r, const cdt_frame **f)
{
    uint8_t tag[4], h[12];
    int rc;
    if (r->err)
        return r->err;
    if (r->done)
        return 0;
    uint64_t at = r->offset;
    if (r->pos == r->len) {
        int eof;
        if ((rc = fill(r, &eof)) < 0)
            return rc;
        if (eof)
            return rfail(r, CDT_ETRUNC, "stream ends at byte %llu without its end record (did the producer fail?)",
                         (unsigned long long)at);
    }
    if ((rc = get(r, tag, 4, "a record tag")) < 0)
        return rc;
    if (!memcmp(tag, "CEND", 4))
        return read_end(r);
    if (memcmp(tag, "FRAM", 4))
        return rfail(r, CDT_EDATA, "expected a frame or the end record at byte %llu", (unsigned long long)at);
    if ((rc = get(r, h, 12, "a frame header")) < 0)
        return rc;
    uint64_t rows = get_u64(h);
    uint32_t count = get_u32(h + 8);
    if (count > CDT_MAX_TENSORS)
        return rfail(r, CDT_ELIMIT, "frame at byte %llu holds %u tensors, over 4096", (unsigned long long)at, count);
    r->frame.count = 0;
    for (uint32_t i = 0; i < count; i++) {
        if ((rc = ensure_slots(r, i + 1)) < 0 || (rc = read_tensor(r, i, rows)) < 0)
            return rc;
    }
    if (cdt_add_u64(r->rows, rows, &r->rows))
        return rfail(r, CDT_ELIMIT, "row count overflows at byte %llu", (unsigned long long)at);
    r->frame.rows = rows;
    r->frame.count = count;
    r->frames++;
    *f = &r->frame;
    return 1;
}

const cdt_meta *cdt_reader_meta(const cdt_reader *r) { return r->meta; }
uint64_t cdt_reader_frames(const cdt_reader *r) { return r->frames; }
uint64_t cdt_reader_rows(const cdt_reader *r) { return r->rows; }
uint64_t cdt_reader_offset(const cdt_reader *r) { return r->offset; }
int cdt_reader_compressed(const cdt_reader *r) { return r->zstd; }
const char *cdt_reader_errmsg(const cdt_reader *r) { return r->errmsg; }

/* ================= writer ================= */

struct cdt_writer {
    int fd;
    ZSTD_CCtx *cc;        /* NULL: raw */
    uint8_t *out;         /* raw: staging; zstd: compressed output */
    size_t out_cap, out_len;
    uint64_t frames, rows, bytes;
    int closed, err;
    char errmsg[400];
};

static int wfail(cdt_writer *w, int code, const char *what)
{
    snprintf(w->errmsg, sizeof w->errmsg, "%s", what);
    w->err = code;
    return code;
}

static int flush_out(cdt_writer *w)
{
    if (!w->out_len)
        return 0;
    int rc = cdt_write_all(w->fd, w->out, w->out_len);
    if (rc < 0)
        return wfail(w, rc, rc == CDT_EPIPE ? "output closed by its reader" : strerror(errno));
    w->bytes += w->out_len;
    w->out_len = 0;
    return 0;
}

/* Feed stream bytes: compress (ending the zstd frame when end is set) or stage. */
static int put(cdt_writer *w, const void *p, size_t n, int end)
{
    int rc;
    if (!w->cc) {
        if (w->out_len + n > w->out_cap && w->out_cap < IO_CHUNK) {
            size_t cap = w->out_cap * 2 > w->out_len + n ? w->out_cap * 2 : w->out_len + n;
            cap = cap < IO_CHUNK ? cap : IO_CHUNK;
            uint8_t *q = realloc(w->out, cap);
            if (!q)
                return wfail(w, CDT_ENOMEM, "out of memory");
            w->out = q;
            w->out_cap = cap;
        }
        if (w->out_len + n > w->out_cap) {
            if ((rc = flush_out(w)) < 0)
                return rc;
            if (n > w->out_cap) {
                if ((rc = cdt_write_all(w->fd, p, n)) < 0)
                    return wfail(w, rc, rc == CDT_EPIPE ? "output closed by its reader" : strerror(errno));
                w->bytes += n;
                return end ? flush_out(w) : 0;
            }
        }
        if (n)
            memcpy(w->out + w->out_len, p, n);
        w->out_len += n;
        return end ? flush_out(w) : 0;
    }
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->out, w->out_cap, w->out_len};
        size_t left = ZSTD_compressStream2(w->cc, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left))
            return wfail(w, CDT_EINTERNAL, ZSTD_getErrorName(left));
        w->out_len = out.pos;
        if (w->out_len == w->out_cap || (end && left == 0))
            if ((rc = flush_out(w)) < 0)
                return rc;
        if (in.pos == in.size && (!end || left == 0))
            return 0;
    }
}

int cdt_env_compress_level(int *level)
{
    const char *s = getenv("CDT_COMPRESS");
    if (!s || !*s) {
        *level = 1;
        return 0;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 0 || v > 22)
        return CDT_EINVAL;
    *level = (int)v;
    return 0;
}

int cdt_writer_open_fd(int fd, const cdt_meta *meta, const cdt_writer_opts *opts, cdt_writer **out)
{
    int level = opts ? opts->level : -1;
    *out = NULL;
    if (level < 0 && cdt_env_compress_level(&level) < 0)
        return CDT_EINVAL;
    if (level > 22)
        return CDT_EINVAL;
    cdt_writer *w = calloc(1, sizeof *w);
    if (!w)
        return CDT_ENOMEM;
    *out = w;
    w->fd = fd;
    w->out_cap = level > 0 ? IO_CHUNK : SMALL_CHUNK; /* raw: grows in put() */
    w->out = malloc(w->out_cap);
    if (!w->out)
        return wfail(w, CDT_ENOMEM, "out of memory");
    if (level > 0) {
        w->cc = ZSTD_createCCtx();
        if (!w->cc)
            return wfail(w, CDT_ENOMEM, "out of memory");
        ZSTD_CCtx_setParameter(w->cc, ZSTD_c_compressionLevel, level);
        ZSTD_CCtx_setParameter(w->cc, ZSTD_c_checksumFlag, 1);
    }
    char *m = NULL;
    size_t mlen = 0;
    int rc = meta ? cdt_meta_encode(meta, &m, &mlen) : 0;
    if (rc < 0)
        return wfail(w, rc, rc == CDT_ELIMIT ? "meta over the 1 MiB limit" : "out of memory");
    uint8_t h[12];
    memcpy(h, "CDTS", 4);
    put_u16(h + 4, 1);
    put_u16(h + 6, 0);
    put_u32(h + 8, (uint32_t)mlen);
    if ((rc = put(w, h, 12, 0)) == 0)
        rc = put(w, m, mlen, 0);
    free(m);
    return rc;
}

static int check_tensor(cdt_writer *w, uint64_t rows, const cdt_tensor *t, uint64_t *nbytes)
{
    char msg[320];
    size_t len = strlen(t->name);
    if (len == 0 || len > CDT_MAX_NAME || !name_ok(t->name, len))
        snprintf(msg, sizeof msg, "bad tensor name (empty, over 255 bytes or not printable UTF-8)");
    else if (!cdt_dtype_size(t->dtype) || t->rank < 0 || t->rank > CDT_MAX_RANK)
        snprintf(msg, sizeof msg, "bad tensor '%s' (dtype or rank)", t->name);
    else if (rows > 0 && (t->rank == 0 || t->dim[0] != rows))
        snprintf(msg, sizeof msg, "tensor '%s' does not have %llu rows", t->name, (unsigned long long)rows);
    else if (cdt_tensor_nbytes(t, nbytes) < 0 || *nbytes > CDT_MAX_TENSOR_BYTES)
        snprintf(msg, sizeof msg, "tensor '%s' is over the 2^40-byte limit", t->name);
    else
        return 0;
    return wfail(w, CDT_EINVAL, msg);
}

int cdt_writer_frame(cdt_writer *w, uint64_t rows, const cdt_tensor *t, uint32_t count)
{
    uint8_t h[16 + 3 + CDT_MAX_NAME + 8 * CDT_MAX_RANK];
    uint64_t nbytes;
    int rc;
    if (w->err)
        return w->err;
    CDT_ASSERT(!w->closed);
    if (count > CDT_MAX_TENSORS)
        return wfail(w, CDT_EINVAL, "more than 4096 tensors in a frame");
    for (uint32_t i = 0; i < count; i++)
        if ((rc = check_tensor(w, rows, &t[i], &nbytes)) < 0)
            return rc;
    memcpy(h, "FRAM", 4);
    put_u64(h + 4, rows);
    put_u32(h + 12, count);
    if ((rc = put(w, h, 16, 0)) < 0)
        return rc;
    for (uint32_t i = 0; i < count; i++) {
        size_t len = strlen(t[i].name), at = 0;
        h[at++] = (uint8_t)len;
        memcpy(h + at, t[i].name, len);
        at += len;
        h[at++] = (uint8_t)t[i].dtype;
        h[at++] = (uint8_t)t[i].rank;
        for (int d = 0; d < t[i].rank; d++, at += 8)
            put_u64(h + at, t[i].dim[d]);
        cdt_tensor_nbytes(&t[i], &nbytes);
        if ((rc = put(w, h, at, 0)) < 0 || (rc = put(w, t[i].data, (size_t)nbytes, 0)) < 0)
            return rc;
    }
    if ((rc = put(w, NULL, 0, 1)) < 0)
        return rc;
    w->frames++;
    w->rows += rows;
    return 0;
}

int cdt_writer_close(cdt_writer *w)
{
    uint8_t e[20];
    if (w->err)
        return w->err;
    CDT_ASSERT(!w->closed);
    memcpy(e, "CEND", 4);
    put_u64(e + 4, w->frames);
    put_u64(e + 12, w->rows);
    int rc = put(w, e, 20, 1);
    w->closed = 1;
    return rc;
}

void cdt_writer_destroy(cdt_writer *w)
{
    if (!w)
        return;
    ZSTD_freeCCtx(w->cc);
    free(w->out);
    free(w);
}

uint64_t cdt_writer_bytes(const cdt_writer *w) { return w->bytes; }
const char *cdt_writer_errmsg(const cdt_writer *w) { return w->errmsg; }
