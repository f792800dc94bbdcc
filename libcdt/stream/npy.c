/* npy.c: NumPy .npy read and write; see cdt_npy.h for the byte layout. */
#include "cdt_npy.h"
#include "cdt_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAX_HEADER (1u << 20) /* numpy's own headers are a few hundred bytes */
#define NPY_ALIGN 64              /* numpy pads the header so data is 64-aligned */

static int failf(char *msg, size_t msgsz, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int failf(char *msg, size_t msgsz, int rc, const char *fmt, ...)
{
    if (msg && msgsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msgsz, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const struct { int dtype; const char *descr[2]; } descrs[] = {
    /* numpy writes '|' for one-byte types; '<' is accepted as well. */
    {CDT_U8, {"|u1", "<u1"}}, {CDT_I8, {"|i1", "<i1"}},
    {CDT_I32, {"<i4", NULL}}, {CDT_I64, {"<i8", NULL}},
    {CDT_F16, {"<f2", NULL}}, {CDT_F32, {"<f4", NULL}},
    {CDT_F64, {"<f8", NULL}},
};

const char *cdt_npy_descr(int dtype)
{
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        if (descrs[i].dtype == dtype)
            return descrs[i].descr[0];
    return NULL;
}

static int dtype_of_descr(const char *s)
{
    for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
        for (int j = 0; j < 2; j++)
            if (descrs[i].descr[j] && !strcmp(s, descrs[i].descr[j]))
                return descrs[i].dtype;
    return 0;
}

/* ---- header parsing: a cursor over the dict literal ---- */
typedef struct cursor {
    const char *s;
    size_t n, i;
    size_t base; /* file offset of s[0], for messages */
    char *msg;
    size_t msgsz;
} cursor;

static int bad(cursor *c, const char *what)
{
    return failf(c->msg, c->msgsz, CDT_EDATA, "bad .npy header at byte %zu: %s",
                 c->base + c->i, what);
}

static void skip_ws(cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
                           c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int expect(cursor *c, char ch)
{
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] != ch) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", ch);
        return bad(c, what);
    }
    c->i++;
    return 0;
}

/* A quoted Python string without escapes, into out[cap]. */
static int parse_str(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->i >= c->n || (c->s[c->i] != '\'' && c->s[c->i] != '"'))
        return bad(c, "expected a quoted string");
    char q = c->s[c->i++];
    size_t k = 0;
    while (c->i < c->n && c->s[c->i] != q) {
        if (c->s[c->i] == '\\' || k + 1 >= cap)
            return bad(c, "unsupported string");
        out[k++] = c->s[c->i++];
    }
    if (c->i >= c->n)
        return bad(c, "unterminated string");
    c->i++;
    out[k] = '\0';
    return 0;
}

static int parse_bool(cursor *c, int *v)
{
    skip_ws(c);
    if (c->n - c->i >= 4 && !memcmp(c->s + c->i, "True", 4)) {
        c->i += 4, *v = 1;
        return 0;
    }
    if (c->n - c->i >= 5 && !memcmp(c->s + c->i, "False", 5)) {
        c->i += 5, *v = 0;
        return 0;
    }
    return bad(c, "expected True or False");
}

/* "()", "(3,)", "(3, 4)", "(3, 4,)" */
static int parse_shape(cursor *c, cdt_npy_info *info)
{
    int rc = expect(c, '(');
    info->rank = 0;
    for (; rc == 0;) {
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == ')') {
            c->i++;
            return 0;
        }
        if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9')
            return bad(c, "expected a dimension");
        uint64_t d = 0;
        while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9')
            if (cdt_mul_u64(d, 10, &d) || cdt_add_u64(d, (uint64_t)(c->s[c->i++] - '0'), &d))
                return bad(c, "dimension overflows");
        if (info->rank == CDT_MAX_RANK)
            return failf(c->msg, c->msgsz, CDT_ELIMIT,
                         "bad .npy header at byte %zu: rank over %d", c->base + c->i, CDT_MAX_RANK);
        info->dim[info->rank++] = d;
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == ',')
            c->i++;
        else if (c->i >= c->n || c->s[c->i] != ')')
            return bad(c, "expected ',' or ')'");
    }
    return rc;
}

/* One "'key': value" entry; *seen gets a bit per key so duplicates and
 * missing keys are caught. */
static int parse_entry(cursor *c, cdt_npy_info *info, int *fortran, unsigned *seen)
{
    char key[32], descr[32];
    int rc = parse_str(c, key, sizeof key);
    if (rc == 0)
        rc = expect(c, ':');
    if (rc)
        return rc;
    size_t at = c->i;
    unsigned bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2
                 : !strcmp(key, "shape") ? 4 : 0;
    if (!bit || (*seen & bit))
        return bad(c, bit ? "duplicate key" : "unknown key");
    *seen |= bit;
    if (bit == 2)
        return parse_bool(c, fortran);
    if (bit == 4)
        return parse_shape(c, info);
    if ((rc = parse_str(c, descr, sizeof descr)))
        return rc;
    if (!(info->dtype = dtype_of_descr(descr))) {
        c->i = at;
        char what[128];
        for (char *q = descr; *q; q++) /* the message stays one printable line */
            if ((unsigned char)*q < 0x20 || *q == 0x7f)
                *q = '?';
        snprintf(what, sizeof what, "unsupported dtype '%s' (have |u1 |i1 <i4 <i8 <f2 <f4 <f8)", descr);
        return bad(c, what);
    }
    return 0;
}

static int parse_dict(cursor *c, cdt_npy_info *info)
{
    int fortran = 0, rc;
    unsigned seen = 0;
    if ((rc = expect(c, '{')))
        return rc;
    for (;;) {
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == '}')
            break;
        if ((rc = parse_entry(c, info, &fortran, &seen)))
            return rc;
        skip_ws(c);
        if (c->i < c->n && c->s[c->i] == ',')
            c->i++;
        else if (c->i >= c->n || c->s[c->i] != '}')
            return bad(c, "expected ',' or '}'");
    }
    c->i++;
    skip_ws(c);
    if (c->i != c->n)
        return bad(c, "junk after the header dict");
    if (seen != 7)
        return bad(c, "header lacks descr, fortran_order or shape");
    if (fortran)
        return failf(c->msg, c->msgsz, CDT_EDATA,
                     "unsupported .npy: Fortran order (save with np.ascontiguousarray)");
    return 0;
}

int cdt_npy_parse(const void *buf, size_t len, cdt_npy_info *info,
                  size_t *need, char *msg, size_t msgsz)
{
    const unsigned char *p = buf;
    memset(info, 0, sizeof *info);
    if (need)
        *need = 12;
    if (memcmp(p, NPY_MAGIC, len < 6 ? len : 6))
        return failf(msg, msgsz, CDT_EDATA, "not a .npy file (no \\x93NUMPY magic at byte 0)");
    if (len < 8)
        return failf(msg, msgsz, CDT_ETRUNC, "truncated .npy header (%zu bytes)", len);
    if (p[6] < 1 || p[6] > 3)
        return failf(msg, msgsz, CDT_EDATA, "unsupported .npy version %u.%u at byte 6", p[6], p[7]);
    size_t pre = p[6] == 1 ? 10 : 12;
    if (need)
        *need = pre;
    if (len < pre)
        return failf(msg, msgsz, CDT_ETRUNC, "truncated .npy header (%zu bytes)", len);
    size_t hlen = p[8] | (size_t)p[9] << 8;
    if (pre == 12)
        hlen |= (size_t)p[10] << 16 | (size_t)p[11] << 24;
    if (hlen > NPY_MAX_HEADER)
        return failf(msg, msgsz, CDT_EDATA, "bad .npy header at byte 8: length %zu over 1 MiB", hlen);
    if (need)
        *need = pre + hlen;
    if (len < pre + hlen)
        return failf(msg, msgsz, CDT_ETRUNC, "truncated .npy header (%zu of %zu bytes)", len, pre + hlen);
    cursor c = {(const char *)p + pre, hlen, 0, pre, msg, msgsz};
    int rc = parse_dict(&c, info);
    if (rc)
        return rc;
    info->data_offset = pre + hlen;
    cdt_tensor t;
    cdt_tensor_set(&t, "npy", info->dtype, NULL, info->rank, info->dim);
    if (cdt_tensor_nbytes(&t, &info->nbytes) || info->nbytes > CDT_MAX_TENSOR_BYTES)
        return failf(msg, msgsz, CDT_ELIMIT, "bad .npy header: array size over 2^40 bytes");
    return 0;
}

/* ---- loading ---- */

/* Read up to n bytes, stopping early only at end of file. */
static int read_full(int fd, void *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t k = read(fd, (char *)buf + *got, n - *got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return CDT_EIO;
        if (k == 0)
            break;
        *got += (size_t)k;
    }
    return 0;
}

/* Read nbytes into a buffer that grows as the bytes arrive, so a header
 * that claims a huge array in a short file never allocates it. *got is
 * what was read (less than nbytes at end of file). */
static int read_grow(int fd, uint64_t nbytes, void **out, size_t *got)
{
    const size_t step = 64u << 20;
    size_t cap = nbytes < step ? (size_t)nbytes : step;
    unsigned char *p = malloc(cap ? cap : 1);
    *got = 0;
    if (!p)
        return CDT_ENOMEM;
    for (;;) {
        size_t k;
        int rc = read_full(fd, p + *got, cap - *got, &k);
        *got += k;
        if (rc < 0 || *got < cap || cap == nbytes) {
            *out = p;
            return rc;
        }
        size_t ncap = cap * 2 < nbytes ? cap * 2 : (size_t)nbytes;
        unsigned char *q = realloc(p, ncap);
        if (!q) {
            free(p);
            return CDT_ENOMEM;
        }
        p = q;
        cap = ncap;
    }
}

static int load_fd(int fd, const char *path, const char *name, cdt_tensor *t,
                   char *msg, size_t msgsz)
{
    unsigned char pre[12], *hdr = NULL;
    size_t got, need;
    cdt_npy_info info;
    int rc = read_full(fd, pre, sizeof pre, &got);
    if (rc == 0) {
        rc = cdt_npy_parse(pre, got, &info, &need, msg, msgsz);
        if (rc == CDT_ETRUNC && got == sizeof pre) {
            if (!(hdr = malloc(need)))
                return failf(msg, msgsz, CDT_ENOMEM, "%s: out of memory", path);
            memcpy(hdr, pre, got);
            if ((rc = read_full(fd, hdr + got, need - got, &got)) == 0)
                rc = cdt_npy_parse(hdr, sizeof pre + got, &info, &need, msg, msgsz);
            free(hdr);
        }
    }
    if (rc == CDT_EIO)
        return failf(msg, msgsz, rc, "%s: read error: %s", path, strerror(errno));
    if (rc < 0) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", msg ? msg : "");
        return failf(msg, msgsz, rc, "%s: %s", path, inner);
    }
    void *data = NULL;
    if ((rc = read_grow(fd, info.nbytes, &data, &got)) == CDT_ENOMEM)
        return failf(msg, msgsz, CDT_ENOMEM, "%s: out of memory for %llu bytes", path,
                     (unsigned long long)info.nbytes);
    unsigned char extra;
    size_t got2 = 0;
    if (rc == 0 && got == info.nbytes)
        rc = read_full(fd, &extra, 1, &got2);
    if (rc == 0 && got < info.nbytes)
        rc = failf(msg, msgsz, CDT_ETRUNC, "%s: truncated .npy: data ends at byte %llu, header says %llu",
                   path, (unsigned long long)(info.data_offset + got),
                   (unsigned long long)(info.data_offset + info.nbytes));
    else if (rc == 0 && got2)
        rc = failf(msg, msgsz, CDT_EDATA, "%s: bad .npy: bytes after the data at byte %llu",
                   path, (unsigned long long)(info.data_offset + info.nbytes));
    else if (rc < 0)
        rc = failf(msg, msgsz, rc, "%s: read error: %s", path, strerror(errno));
    if (rc < 0) {
        free(data);
        return rc;
    }
    cdt_tensor_set(t, name, info.dtype, data, info.rank, info.dim);
    return 0;
}

int cdt_npy_load(const char *path, const char *name, cdt_tensor *t,
                 char *msg, size_t msgsz)
{
    int stdin_ = !strcmp(path, "-");
    int fd = stdin_ ? STDIN_FILENO : open(path, O_RDONLY);
    if (fd < 0)
        return failf(msg, msgsz, errno == ENOENT ? CDT_ENOENT : CDT_EIO, "cannot open %s: %s",
                     path, strerror(errno));
    int rc = load_fd(fd, path, name, t, msg, msgsz);
    if (!stdin_)
        close(fd);
    return rc;
}

/* ---- writing ---- */

static int write_all(int fd, const void *buf, size_t n)
{
    while (n) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return errno == EPIPE ? CDT_EPIPE : CDT_EIO;
        buf = (const char *)buf + k;
        n -= (size_t)k;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t at)
{
    while (n) {
        ssize_t k = pwrite(fd, buf, n, at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return CDT_EIO;
        buf = (const char *)buf + k;
        n -= (size_t)k;
        at += k;
    }
    return 0;
}

/* The header for dtype and shape into buf, laid out byte for byte as
 * numpy (>= 1.23) writes it: the dict, spaces so that a first dimension of
 * up to 21 digits fits in the same room (which lets a writer rewrite the
 * header in place), then 1..64 spaces and '\n' so the data starts 64-byte
 * aligned. Returns its length, which does not depend on dim[0]. */
#define NPY_HEADER_CAP 512
#define NPY_GROWTH_DIGITS 21
static size_t npy_header(char buf[NPY_HEADER_CAP], int dtype, int rank,
                         const uint64_t *dim)
{
    char dict[NPY_HEADER_CAP];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     cdt_npy_descr(dtype));
    for (int i = 0; i < rank; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, i + 1 < rank ? "%llu, " : "%llu,",
                      (unsigned long long)dim[i]);
    if (rank > 1)
        k--; /* Python writes (3,) but (3, 4) */
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    if (rank > 0) {
        char d0[24];
        int pad = NPY_GROWTH_DIGITS - snprintf(d0, sizeof d0, "%llu", (unsigned long long)dim[0]);
        for (; pad > 0; pad--)
            dict[k++] = ' ';
    }
    size_t len = 10 + (size_t)k + 1;
    size_t total = len + NPY_ALIGN - len % NPY_ALIGN;
    CDT_ASSERT(total <= NPY_HEADER_CAP);
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)k);
    memset(buf + 10 + k, ' ', total - 10 - (size_t)k - 1);
    buf[total - 1] = '\n';
    return total;
}

int cdt_npy_save_fd(int fd, const cdt_tensor *t)
{
    uint64_t nbytes;
    char hdr[NPY_HEADER_CAP];
    if (!cdt_npy_descr(t->dtype))
        return CDT_EINVAL;
    if (cdt_tensor_nbytes(t, &nbytes))
        return CDT_ELIMIT;
    int rc = write_all(fd, hdr, npy_header(hdr, t->dtype, t->rank, t->dim));
    return rc ? rc : write_all(fd, t->data, nbytes);
}

struct cdt_npy_writer {
    int fd, dtype, rank;
    uint64_t dim[CDT_MAX_RANK];
    uint64_t row_bytes, rows;
    int seekable;
    off_t start;        /* where the header sits, for the rewrite */
    size_t header_len;  /* the same for any row count */
    unsigned char *buf; /* pipes: every row until close */
    size_t len, cap;
};

int cdt_npy_writer_open(int fd, int dtype, int rank, const uint64_t *dim,
                        cdt_npy_writer **out)
{
    *out = NULL;
    if (!cdt_npy_descr(dtype) || rank < 1 || rank > CDT_MAX_RANK)
        return CDT_EINVAL;
    cdt_npy_writer *w = calloc(1, sizeof *w);
    if (!w)
        return CDT_ENOMEM;
    w->fd = fd, w->dtype = dtype, w->rank = rank;
    memcpy(w->dim, dim, (size_t)rank * sizeof *dim);
    w->dim[0] = 0;
    char hdr[NPY_HEADER_CAP];
    w->header_len = npy_header(hdr, dtype, rank, w->dim);
    w->row_bytes = cdt_dtype_size(dtype);
    for (int i = 1; i < rank; i++)
        if (cdt_mul_u64(w->row_bytes, dim[i], &w->row_bytes) || w->row_bytes > CDT_MAX_TENSOR_BYTES) {
            free(w);
            return CDT_ELIMIT;
        }
    struct stat st;
    w->start = lseek(fd, 0, SEEK_CUR);
    w->seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && w->start >= 0;
    *out = w;
    /* A placeholder header keeps the data where it will stay. */
    return w->seekable ? write_all(fd, hdr, w->header_len) : 0;
}

int cdt_npy_writer_append(cdt_npy_writer *w, const void *data, uint64_t rows)
{
    uint64_t n, total;
    if (cdt_mul_u64(rows, w->row_bytes, &n) || cdt_add_u64(w->rows, rows, &total) ||
        cdt_mul_u64(total, w->row_bytes, &total) || total > CDT_MAX_TENSOR_BYTES)
        return CDT_ELIMIT;
    w->rows += rows;
    if (w->seekable)
        return write_all(w->fd, data, n);
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 1 << 16;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *p = realloc(w->buf, cap);
        if (!p)
            return CDT_ENOMEM;
        w->buf = p, w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
    return 0;
}

int cdt_npy_writer_close(cdt_npy_writer *w)
{
    char hdr[NPY_HEADER_CAP];
    w->dim[0] = w->rows;
    size_t n = npy_header(hdr, w->dtype, w->rank, w->dim);
    CDT_ASSERT(n == w->header_len);
    if (w->seekable)
        return pwrite_all(w->fd, hdr, n, w->start);
    int rc = write_all(w->fd, hdr, n);
    return rc ? rc : write_all(w->fd, w->buf, w->len);
}

void cdt_npy_writer_destroy(cdt_npy_writer *w)
{
    if (!w)
        return;
    free(w->buf);
    free(w);
}

uint64_t cdt_npy_writer_rows(const cdt_npy_writer *w)
{
    return w->rows;
}
