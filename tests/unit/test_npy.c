/* test_npy.c: .npy headers byte for byte as numpy writes them, loading,
 * the growing writer on files and pipes, and refusal of bad headers. */
#include "t.h"
#include "cdt_npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whole contents of a temporary file after fn wrote into its fd. */
static size_t slurp(FILE *f, unsigned char *buf, size_t cap)
{
    fflush(f);
    rewind(f);
    return fread(buf, 1, cap, f);
}

/* Headers copied from numpy 1.24's np.save (an independent writer): all
 * are 128 bytes, the dict then spaces then '\n'. */
static void check_header(t_state *ts, int dtype, int rank, const uint64_t *dim,
                         const char *numpy_dict)
{
    unsigned char buf[4096], want[128];
    cdt_tensor t;
    uint8_t data[64] = {0};
    cdt_tensor_set(&t, "a", dtype, data, rank, dim);
    FILE *f = tmpfile();
    T_EQ_INT(ts, cdt_npy_save_fd(fileno(f), &t), 0);
    size_t n = slurp(f, buf, sizeof buf);
    fclose(f);
    memcpy(want, "\x93NUMPY\x01\x00v\x00", 10);
    memset(want + 10, ' ', sizeof want - 10);
    memcpy(want + 10, numpy_dict, strlen(numpy_dict));
    want[127] = '\n';
    uint64_t nbytes;
    cdt_tensor_nbytes(&t, &nbytes);
    T_EQ_INT(ts, n, 128 + nbytes);
    T_CHECK(ts, n >= 128 && !memcmp(buf, want, 128));
}

static void test_header_like_numpy(t_state *ts)
{
    check_header(ts, CDT_F32, 2, (uint64_t[]){3, 4},
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
    check_header(ts, CDT_U8, 1, (uint64_t[]){5},
                 "{'descr': '|u1', 'fortran_order': False, 'shape': (5,), }");
    check_header(ts, CDT_I64, 0, NULL,
                 "{'descr': '<i8', 'fortran_order': False, 'shape': (), }");
    check_header(ts, CDT_I8, 3, (uint64_t[]){2, 1, 3},
                 "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 1, 3), }");
}

static void test_roundtrip_all_dtypes(t_state *ts)
{
    int dts[] = {CDT_U8, CDT_I8, CDT_I32, CDT_I64, CDT_F16, CDT_F32, CDT_F64};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        uint64_t dim[3] = {2, 3, 5};
        unsigned char data[2 * 3 * 5 * 8];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (unsigned char)(i * 37 + k);
        cdt_tensor t, back;
        cdt_tensor_set(&t, "a", dts[k], data, 3, dim);
        char path[] = "/tmp/cdt-test-npy-XXXXXX", msg[256] = "";
        int fd = mkstemp(path);
        T_CHECK(ts, fd >= 0);
        T_EQ_INT(ts, cdt_npy_save_fd(fd, &t), 0);
        close(fd);
        T_EQ_INT(ts, cdt_npy_load(path, "b", &back, msg, sizeof msg), 0);
        unlink(path);
        T_STR(ts, back.name, "b");
        T_EQ_INT(ts, back.dtype, dts[k]);
        T_EQ_INT(ts, back.rank, 3);
        T_EQ_INT(ts, back.dim[2], 5);
        T_CHECK(ts, !memcmp(back.data, data, 30 * cdt_dtype_size(dts[k])));
        free(back.data);
    }
    cdt_tensor t;
    cdt_tensor_set(&t, "a", CDT_BF16, NULL, 0, NULL);
    T_EQ_INT(ts, cdt_npy_save_fd(1, &t), CDT_EINVAL);
}

/* A header dict wrapped as a version 1.0 file (no data). */
static int parse_dict(const char *dict, cdt_npy_info *info, char *msg, size_t msgsz)
{
    char buf[512];
    size_t n = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(n & 0xff);
    buf[9] = (char)(n >> 8);
    memcpy(buf + 10, dict, n);
    return cdt_npy_parse(buf, 10 + n, info, NULL, msg, msgsz);
}

static void test_parse(t_state *ts)
{
    cdt_npy_info info;
    char msg[256];
    T_EQ_INT(ts, parse_dict("{'shape': (7, 2,), \"fortran_order\": False, 'descr': '<u1'}\n",
                            &info, msg, sizeof msg), 0);
    T_EQ_INT(ts, info.dtype, CDT_U8);
    T_EQ_INT(ts, info.rank, 2);
    T_EQ_INT(ts, info.nbytes, 14);
    T_EQ_INT(ts, info.data_offset, 10 + 59); /* the dict above is 59 bytes */
    T_EQ_INT(ts, parse_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                            &info, msg, sizeof msg), CDT_EDATA);
    T_CHECK(ts, strstr(msg, "Fortran") != NULL);
    T_EQ_INT(ts, parse_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                            &info, msg, sizeof msg), CDT_EDATA);
    T_CHECK(ts, strstr(msg, "unsupported dtype '>f4'") != NULL);
    T_EQ_INT(ts, parse_dict("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
                            &info, msg, sizeof msg), CDT_EDATA);
    T_EQ_INT(ts, parse_dict("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
                            &info, msg, sizeof msg), CDT_EDATA);
    T_EQ_INT(ts, parse_dict("{'descr': '<f4', 'shape': (2,), }", &info, msg, sizeof msg), CDT_EDATA);
    T_EQ_INT(ts, parse_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                            &info, msg, sizeof msg), CDT_EDATA);
    T_EQ_INT(ts, parse_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
                            &info, msg, sizeof msg), CDT_ELIMIT);
    T_EQ_INT(ts, parse_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
                            &info, msg, sizeof msg), CDT_EDATA);
    T_EQ_INT(ts, parse_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }",
                            &info, msg, sizeof msg), CDT_ELIMIT);
    T_EQ_INT(ts, parse_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x",
                            &info, msg, sizeof msg), CDT_EDATA);
    T_CHECK(ts, strstr(msg, "at byte") != NULL);
    T_EQ_INT(ts, cdt_npy_parse("\x93NUMPX\x01\x00\x00\x00", 10, &info, NULL, msg, sizeof msg), CDT_EDATA);
    T_EQ_INT(ts, cdt_npy_parse("\x93NUMPY\x09\x00\x00\x00", 10, &info, NULL, msg, sizeof msg), CDT_EDATA);
    size_t need = 0;
    T_EQ_INT(ts, cdt_npy_parse("\x93NUMPY\x01\x00\x40\x00{", 11, &info, &need, msg, sizeof msg), CDT_ETRUNC);
    T_EQ_INT(ts, need, 10 + 64);
}

static void test_load_errors(t_state *ts)
{
    char path[] = "/tmp/cdt-test-npy-XXXXXX", msg[256] = "";
    cdt_tensor t;
    uint64_t dim[1] = {4};
    float data[4] = {1, 2, 3, 4};
    cdt_tensor_set(&t, "a", CDT_F32, data, 1, dim);
    int fd = mkstemp(path);
    T_EQ_INT(ts, cdt_npy_save_fd(fd, &t), 0);
    T_EQ_INT(ts, ftruncate(fd, 128 + 15), 0);
    T_EQ_INT(ts, cdt_npy_load(path, "a", &t, msg, sizeof msg), CDT_ETRUNC);
    T_CHECK(ts, strstr(msg, path) && strstr(msg, "byte 143"));
    T_EQ_INT(ts, ftruncate(fd, 128 + 17), 0);
    T_EQ_INT(ts, cdt_npy_load(path, "a", &t, msg, sizeof msg), CDT_EDATA);
    T_EQ_INT(ts, ftruncate(fd, 50), 0);
    T_EQ_INT(ts, cdt_npy_load(path, "a", &t, msg, sizeof msg), CDT_ETRUNC);
    T_EQ_INT(ts, ftruncate(fd, 0), 0);
    T_EQ_INT(ts, cdt_npy_load(path, "a", &t, msg, sizeof msg), CDT_ETRUNC);
    close(fd);
    unlink(path);
    T_EQ_INT(ts, cdt_npy_load(path, "a", &t, msg, sizeof msg), CDT_ENOENT);
}

/* Rows appended in pieces give the same bytes as one save of the whole. */
static void check_writer(t_state *ts, int use_pipe)
{
    int32_t data[7 * 3];
    for (int i = 0; i < 21; i++)
        data[i] = i * 1000 - 7;
    uint64_t dim[2] = {7, 3};
    cdt_tensor t;
    cdt_tensor_set(&t, "a", CDT_I32, data, 2, dim);
    unsigned char want[1024], got[1024];
    FILE *f = tmpfile();
    cdt_npy_save_fd(fileno(f), &t);
    size_t nwant = slurp(f, want, sizeof want);
    fclose(f);

    int p[2] = {-1, -1};
    f = tmpfile();
    if (use_pipe)
        T_EQ_INT(ts, pipe(p), 0);
    cdt_npy_writer *w;
    T_EQ_INT(ts, cdt_npy_writer_open(use_pipe ? p[1] : fileno(f), CDT_I32, 2, dim, &w), 0);
    T_EQ_INT(ts, cdt_npy_writer_append(w, data, 2), 0);
    T_EQ_INT(ts, cdt_npy_writer_append(w, data + 6, 0), 0);
    T_EQ_INT(ts, cdt_npy_writer_append(w, data + 6, 5), 0);
    T_EQ_INT(ts, cdt_npy_writer_rows(w), 7);
    T_EQ_INT(ts, cdt_npy_writer_close(w), 0);
    cdt_npy_writer_destroy(w);
    size_t ngot;
    if (use_pipe) {
        close(p[1]);
        ssize_t k = read(p[0], got, sizeof got);
        ngot = k > 0 ? (size_t)k : 0;
        close(p[0]);
    } else {
        ngot = slurp(f, got, sizeof got);
    }
    fclose(f);
    T_EQ_INT(ts, ngot, nwant);
    T_CHECK(ts, ngot == nwant && !memcmp(got, want, nwant));
}

static void test_writer_file(t_state *ts) { check_writer(ts, 0); }
static void test_writer_pipe(t_state *ts) { check_writer(ts, 1); }

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_header_like_numpy);
    T_RUN(&ts, test_roundtrip_all_dtypes);
    T_RUN(&ts, test_parse);
    T_RUN(&ts, test_load_errors);
    T_RUN(&ts, test_writer_file);
    T_RUN(&ts, test_writer_pipe);
    return T_END(&ts);
}
