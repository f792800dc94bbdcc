/* gen_corpus.c: seed inputs for the fuzzers, made by our own writers so
 * they are valid and small: gen_corpus DIR writes DIR/NAME/... for each
 * fuzzer NAME. Mutations of valid inputs reach far deeper than random
 * bytes. Built and run by tests/fuzz/smoke.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdt.h"
#include "cdt_npy.h"

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Create DIR/sub/name for writing. */
static int create(const char *sub, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, sub);
    if (mkdir(path, 0777) < 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", root, sub, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0)
        die(path);
    return fd;
}

static void put_file(const char *sub, const char *name, const void *p, size_t n)
{
    int fd = create(sub, name);
    if (cdt_write_all(fd, p, n) < 0)
        die(name);
    close(fd);
}

/* ---- streams ---- */

/* frames x (rows,C,2,2) u8, y (rows) i32, id (rows) i64; optionally a
 * rows==0 frame of two free tensors (as in model files). */
static void stream_seed(const char *name, int level, int frames, int rows, int c, int free_frame)
{
    int fd = create("stream", name);
    cdt_meta *m = cdt_meta_create();
    cdt_meta_set(m, "dataset", "seed");
    cdt_meta_set(m, "class_names", "a,b");
    cdt_meta_set_i64(m, "classes", 2);
    cdt_writer_opts o = {level};
    cdt_writer *w;
    if (cdt_writer_open_fd(fd, m, &o, &w) < 0)
        die(name);
    uint8_t x[4 * 3 * 2 * 2];
    int32_t y[4];
    int64_t id[4];
    for (int f = 0; f < frames; f++) {
        for (size_t i = 0; i < sizeof x; i++)
            x[i] = (uint8_t)(i * 37 + f);
        for (int i = 0; i < rows; i++) {
            y[i] = i % 2;
            id[i] = f * rows + i;
        }
        uint64_t dx[4] = {(uint64_t)rows, (uint64_t)c, 2, 2}, dr[1] = {(uint64_t)rows};
        cdt_tensor t[3];
        cdt_tensor_set(&t[0], "x", CDT_U8, x, 4, dx);
        cdt_tensor_set(&t[1], "y", CDT_I32, y, 1, dr);
        cdt_tensor_set(&t[2], "id", CDT_I64, id, 1, dr);
        if (cdt_writer_frame(w, (uint64_t)rows, t, 3) < 0)
            die(name);
    }
    if (free_frame) {
        float wgt[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
        double b[1] = {0.25};
        uint64_t dw[2] = {2, 3};
        cdt_tensor t[2];
        cdt_tensor_set(&t[0], "layer.0.weight", CDT_F32, wgt, 2, dw);
        cdt_tensor_set(&t[1], "step", CDT_F64, b, 0, NULL);
        if (cdt_writer_frame(w, 0, t, 2) < 0)
            die(name);
    }
    if (cdt_writer_close(w) < 0)
        die(name);
    cdt_writer_destroy(w);
    cdt_meta_destroy(m);
    close(fd);
}

static void streams(void)
{
    stream_seed("raw_1x2", 0, 1, 2, 1, 0);
    stream_seed("raw_3x4", 0, 3, 4, 3, 0);
    stream_seed("raw_model", 0, 0, 0, 1, 1);
    stream_seed("raw_empty", 0, 0, 0, 1, 0);
    stream_seed("zstd_1x2", 1, 1, 2, 1, 0);
    stream_seed("zstd_3x4", 3, 3, 4, 3, 1);
}

/* ---- .npy ---- */

static void npy_seed(const char *name, int dtype, int rank, const uint64_t *dim)
{
    static uint8_t data[256];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 11);
    cdt_tensor t;
    cdt_tensor_set(&t, "t", dtype, data, rank, dim);
    int fd = create("npy", name);
    if (cdt_npy_save_fd(fd, &t) < 0)
        die(name);
    close(fd);
}

static void npys(void)
{
    uint64_t d3[3] = {2, 3, 4}, d1[1] = {5}, d2[2] = {3, 2}, d0[1] = {0};
    npy_seed("u8_2x3x4", CDT_U8, 3, d3);
    npy_seed("f32_5", CDT_F32, 1, d1);
    npy_seed("i64_3x2", CDT_I64, 2, d2);
    npy_seed("f16_3x2", CDT_F16, 2, d2);
    npy_seed("i8_empty", CDT_I8, 1, d0);
    npy_seed("f64_scalar", CDT_F64, 0, NULL);
    /* What numpy itself writes for np.zeros((2,2), '<i4') with format 2.0. */
    static const char v2[] = "\x93NUMPY\x02\x00\x74\x00\x00\x00"
        "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }";
    char buf[12 + 0x74 + 16] = {0};
    memcpy(buf, v2, sizeof v2 - 1);
    memset(buf + sizeof v2 - 1, ' ', 12 + 0x74 - (sizeof v2 - 1));
    buf[12 + 0x74 - 1] = '\n';
    put_file("npy", "i32_v2", buf, sizeof buf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 64;
    }
    root = argv[1];
    if (mkdir(root, 0777) < 0 && errno != EEXIST)
        die(root);
    streams();
    npys();
    return 0;
}
