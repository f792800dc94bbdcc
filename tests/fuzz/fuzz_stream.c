/* fuzz_stream.c: any bytes fed to the stream reader, raw or zstd (the
 * corpus holds both forms). The reader must end with the end record or an
 * error that carries a message, never crash, and what it delivers must hold
 * together: names, dtypes, ranks and row counts as the spec says, data as
 * long as the shape says (ASan checks the last byte). A stream that reads
 * cleanly is written back raw and read again: the second reading must
 * deliver exactly the same frames (a writer/reader disagreement). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cdt.h"

/* Tensors the fuzzer may make the reader hold: a cap like CDT_MAX_MEMORY,
 * so that a zstd frame expanding to gigabytes of real data (legal, and
 * bounded by the cap in tools) does not trip libFuzzer's malloc limit. */
#define FUZZ_MAX_TENSOR (1u << 20)

/* The input and the copy written back: two memory files made once and
 * emptied per input (creating and closing them each time was a fifth of
 * the run time). */
static int in_fd = -1, out_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    in_fd = memfd_create("fuzz.in", MFD_CLOEXEC);
    out_fd = memfd_create("fuzz.out", MFD_CLOEXEC);
    if (in_fd < 0 || out_fd < 0)
        abort();
    return 0;
}

/* Make fd hold exactly the n bytes at p, positioned at its start. */
static void refill(int fd, const void *p, size_t n)
{
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) != 0 || (n && cdt_write_all(fd, p, n) < 0) ||
        lseek(fd, 0, SEEK_SET) != 0)
        abort();
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001B3ull;
    return h;
}

/* Check one frame against the spec's rules and fold it into *h. */
static void check_frame(const cdt_frame *f, uint64_t *h)
{
    CDT_ASSERT(f->count <= CDT_MAX_TENSORS);
    *h = fnv(*h, &f->rows, sizeof f->rows);
    for (uint32_t i = 0; i < f->count; i++) {
        const cdt_tensor *t = &f->tensors[i];
        size_t len = strlen(t->name);
        uint64_t nb;
        CDT_ASSERT(len >= 1 && len <= CDT_MAX_NAME);
        CDT_ASSERT(cdt_dtype_size(t->dtype) > 0);
        CDT_ASSERT(t->rank >= 0 && t->rank <= CDT_MAX_RANK);
        CDT_ASSERT(f->rows == 0 || (t->rank >= 1 && t->dim[0] == f->rows));
        CDT_ASSERT(cdt_tensor_nbytes(t, &nb) == 0 && nb <= FUZZ_MAX_TENSOR);
        CDT_ASSERT(cdt_frame_find(f, t->name) == t);
        if (nb)
            *h = fnv(*h, (const unsigned char *)t->data + nb - 1, 1);
        *h = fnv(*h, t->name, len + 1);
        *h = fnv(*h, &t->dtype, sizeof t->dtype);
        *h = fnv(*h, t->dim, sizeof t->dim[0] * (size_t)t->rank);
        *h = fnv(*h, t->data, (size_t)nb);
    }
}

/* Read a stream from fd; when w is set, copy every frame to it. Returns the
 * reader's final code (0 at a clean end) and the digest of what it read. */
static int read_all(int fd, cdt_writer **w, int wfd, uint64_t *digest)
{
    cdt_reader_opts o = {.max_tensor_bytes = FUZZ_MAX_TENSOR, .name = "fuzz"};
    cdt_reader *r;
    const cdt_frame *f;
    uint64_t h = 0xcbf29ce484222325ull;
    int rc = cdt_reader_open_fd(fd, &o, &r);
    CDT_ASSERT(r != NULL);
    if (rc == 0) {
        const cdt_meta *m = cdt_reader_meta(r);
        for (size_t i = 0; i < cdt_meta_count(m); i++) {
            h = fnv(h, cdt_meta_key(m, i), strlen(cdt_meta_key(m, i)) + 1);
            h = fnv(h, cdt_meta_value(m, i), strlen(cdt_meta_value(m, i)) + 1);
        }
        if (w) {
            cdt_writer_opts wo = {0};
            CDT_ASSERT(cdt_writer_open_fd(wfd, m, &wo, w) == 0);
        }
        while ((rc = cdt_reader_next(r, &f)) > 0) {
            check_frame(f, &h);
            if (w)
                CDT_ASSERT(cdt_writer_frame(*w, f->rows, f->tensors, f->count) == 0);
        }
    }
    if (rc < 0) {
        /* Every error is explained, on one line, and it sticks. */
        CDT_ASSERT(cdt_reader_errmsg(r)[0] != '\0');
        CDT_ASSERT(strchr(cdt_reader_errmsg(r), '\n') == NULL);
        CDT_ASSERT(cdt_reader_next(r, &f) == rc);
    } else {
        CDT_ASSERT(rc == 0 && cdt_reader_errmsg(r)[0] == '\0');
        CDT_ASSERT(cdt_reader_next(r, &f) == 0);
    }
    cdt_reader_destroy(r);
    *digest = h;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int in = in_fd, out = out_fd;
    refill(in, data, size);
    refill(out, NULL, 0);
    cdt_writer *w = NULL;
    uint64_t h1, h2;
    int rc = read_all(in, &w, out, &h1);
    if (rc == 0) {
        CDT_ASSERT(cdt_writer_close(w) == 0);
        CDT_ASSERT(lseek(out, 0, SEEK_SET) == 0);
        CDT_ASSERT(read_all(out, NULL, -1, &h2) == 0);
        CDT_ASSERT(h1 == h2);
    }
    cdt_writer_destroy(w);
    return 0;
}
