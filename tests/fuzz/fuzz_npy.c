/* fuzz_npy.c: any bytes as a .npy file. cdt_npy_parse on the buffer and
 * cdt_npy_load on the same bytes as a file must agree, fail with a message
 * or succeed, never crash; what loads must be exactly the file's data, and
 * must survive a round trip through cdt_npy_save_fd and the growing
 * cdt_npy_writer. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cdt.h"
#include "cdt_npy.h"

static int memfd_with(const void *p, size_t n)
{
    int fd = memfd_create("fuzz.npy", MFD_CLOEXEC);
    if (fd < 0 || (n && cdt_write_all(fd, p, n) < 0) || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    return fd;
}

/* Load the bytes of fd through its /proc path (cdt_npy_load takes paths). */
static int load(int fd, cdt_tensor *t, char *msg, size_t msgsz)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    CDT_ASSERT(lseek(fd, 0, SEEK_SET) == 0);
    msg[0] = 0;
    return cdt_npy_load(path, "t", t, msg, msgsz);
}

static void same_tensor(const cdt_tensor *a, const cdt_tensor *b, uint64_t nbytes)
{
    CDT_ASSERT(a->dtype == b->dtype && a->rank == b->rank);
    CDT_ASSERT(!memcmp(a->dim, b->dim, sizeof a->dim[0] * (size_t)a->rank));
    CDT_ASSERT(!memcmp(a->data, b->data, (size_t)nbytes));
}

/* Write t again both ways and read it back. */
static void round_trip(const cdt_tensor *t, uint64_t nbytes)
{
    char msg[512];
    cdt_tensor u;
    int fd = memfd_with(NULL, 0);
    CDT_ASSERT(cdt_npy_save_fd(fd, t) == 0);
    CDT_ASSERT(load(fd, &u, msg, sizeof msg) == 0);
    same_tensor(t, &u, nbytes);
    free(u.data);
    close(fd);
    if (t->rank == 0)
        return;
    /* An empty array may have rows no writer can hold: refused, not hung. */
    uint64_t row_bytes = cdt_dtype_size(t->dtype);
    int too_big = 0;
    for (int i = 1; i < t->rank; i++)
        too_big |= cdt_mul_u64(row_bytes, t->dim[i], &row_bytes) || row_bytes > CDT_MAX_TENSOR_BYTES;
    cdt_npy_writer *w;
    fd = memfd_with(NULL, 0);
    int rc = cdt_npy_writer_open(fd, t->dtype, t->rank, t->dim, &w);
    if (too_big) {
        CDT_ASSERT(rc == CDT_ELIMIT && w == NULL);
        close(fd);
        return;
    }
    CDT_ASSERT(rc == 0);
    /* Rows in two pieces, so that growing the first dimension is exercised. */
    uint64_t half = t->dim[0] / 2, row = t->dim[0] ? nbytes / t->dim[0] : 0;
    CDT_ASSERT(cdt_npy_writer_append(w, t->data, half) == 0);
    CDT_ASSERT(cdt_npy_writer_append(w, (const char *)t->data + half * row, t->dim[0] - half) == 0);
    CDT_ASSERT(cdt_npy_writer_rows(w) == t->dim[0]);
    CDT_ASSERT(cdt_npy_writer_close(w) == 0);
    cdt_npy_writer_destroy(w);
    CDT_ASSERT(load(fd, &u, msg, sizeof msg) == 0);
    same_tensor(t, &u, nbytes);
    free(u.data);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char msg[512] = "";
    cdt_npy_info info;
    size_t need = 0;
    int prc = cdt_npy_parse(data, size, &info, &need, msg, sizeof msg);
    if (prc < 0) {
        CDT_ASSERT(msg[0] != '\0');
        CDT_ASSERT(strchr(msg, '\n') == NULL);
        CDT_ASSERT(prc != CDT_ETRUNC || need > size);
    } else {
        CDT_ASSERT(info.rank >= 0 && info.rank <= CDT_MAX_RANK);
        CDT_ASSERT(cdt_npy_descr(info.dtype) != NULL);
        CDT_ASSERT(info.data_offset <= size && info.nbytes <= CDT_MAX_TENSOR_BYTES);
    }
    int fd = memfd_with(data, size);
    cdt_tensor t;
    int lrc = load(fd, &t, msg, sizeof msg);
    close(fd);
    /* The file is the buffer: a good header with exactly its data loads,
     * anything else fails with a message. */
    int whole = prc == 0 && size - info.data_offset == info.nbytes;
    if (lrc < 0) {
        CDT_ASSERT(msg[0] != '\0');
        CDT_ASSERT(strchr(msg, '\n') == NULL);
        CDT_ASSERT(!whole);
        return 0;
    }
    CDT_ASSERT(whole);
    CDT_ASSERT(t.dtype == info.dtype && t.rank == info.rank);
    CDT_ASSERT(!memcmp(t.dim, info.dim, sizeof t.dim[0] * (size_t)t.rank));
    CDT_ASSERT(!memcmp(t.data, data + info.data_offset, (size_t)info.nbytes));
    round_trip(&t, info.nbytes);
    free(t.data);
    return 0;
}
