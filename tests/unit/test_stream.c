/* test_stream.c: the stream format round trip, its limits, and damaged
 * streams: every truncation point and random bit flips must be rejected
 * cleanly (an error code and a message), never crash or pass silently.
 * Output files: whole or absent, and the temporaries of writers that died
 * removed by the next writer, never a live writer's. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdt.h"
#include "t.h"

typedef struct buf { unsigned char *p; size_t n; } buf;

static buf slurp(FILE *f)
{
    buf b = {0};
    long n = ftell(f);
    b.p = malloc((size_t)n + 1);
    rewind(f);
    b.n = fread(b.p, 1, (size_t)n, f);
    return b;
}

/* Hash everything a reader delivers, so two decodes can be compared. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001B3ull;
    return h;
}

/* Decode a whole stream from memory: 0 and *digest, or the error code. */
static int decode(const unsigned char *p, size_t n, uint64_t *digest, char *msg, size_t msglen)
{
    FILE *f = tmpfile();
    fwrite(p, 1, n, f);
    fflush(f);
    rewind(f);
    cdt_reader *r;
    const cdt_frame *fr;
    uint64_t h = 0xcbf29ce484222325ull;
    int rc = cdt_reader_open_fd(fileno(f), NULL, &r);
    if (rc == 0) {
        const cdt_meta *m = cdt_reader_meta(r);
        for (size_t i = 0; i < cdt_meta_count(m); i++) {
            h = fnv(h, cdt_meta_key(m, i), strlen(cdt_meta_key(m, i)) + 1);
            h = fnv(h, cdt_meta_value(m, i), strlen(cdt_meta_value(m, i)) + 1);
        }
        while ((rc = cdt_reader_next(r, &fr)) > 0) {
            h = fnv(h, &fr->rows, 8);
            for (uint32_t i = 0; i < fr->count; i++) {
                const cdt_tensor *t = &fr->tensors[i];
                uint64_t nb;
                cdt_tensor_nbytes(t, &nb);
                h = fnv(h, t->name, strlen(t->name));
                h = fnv(h, &t->dtype, sizeof t->dtype);
                h = fnv(h, t->dim, sizeof(uint64_t) * (size_t)t->rank);
                h = fnv(h, t->data, (size_t)nb);
            }
        }
    }
    if (msg)
        snprintf(msg, msglen, "%s", r ? cdt_reader_errmsg(r) : "");
    cdt_reader_destroy(r);
    fclose(f);
    *digest = h;
    return rc;
}

/* A small stream: meta, three frames of x/y/id, level 0 (raw) or zstd. */
static buf make_stream(int level, uint32_t frames, uint64_t rows)
{
    FILE *f = tmpfile();
    cdt_meta *m = cdt_meta_create();
    cdt_meta_set(m, "dataset", "test");
    cdt_meta_set(m, "class_names", "a,b,c=d,\xc3\xa9t\xc3\xa9");
    cdt_writer *w;
    cdt_writer_opts o = {level};
    cdt_writer_open_fd(fileno(f), m, &o, &w);
    uint8_t x[64 * 2 * 3 * 3];
    int32_t y[64];
    int64_t id[64];
    for (uint32_t fi = 0; fi < frames; fi++) {
        for (size_t i = 0; i < sizeof x; i++)
            x[i] = (uint8_t)(i * 7 + fi);
        for (uint64_t i = 0; i < rows; i++) {
            y[i] = (int32_t)(i % 3) - 1;
            id[i] = (int64_t)(fi * rows + i);
        }
        cdt_tensor t[3];
        cdt_tensor_set(&t[0], "x", CDT_U8, x, 4, (uint64_t[]){rows, 2, 3, 3});
        cdt_tensor_set(&t[1], "y", CDT_I32, y, 1, (uint64_t[]){rows});
        cdt_tensor_set(&t[2], "id", CDT_I64, id, 1, (uint64_t[]){rows});
        cdt_writer_frame(w, rows, t, 3);
    }
    cdt_writer_close(w);
    cdt_writer_destroy(w);
    cdt_meta_destroy(m);
    fflush(f);
    buf b = slurp(f);
    fclose(f);
    return b;
}

static void test_roundtrip_dtypes_ranks(t_state *ts)
{
    for (int level = 0; level <= 3; level += 3) {
        FILE *f = tmpfile();
        cdt_writer *w;
        cdt_writer_opts o = {level};
        T_EQ_INT(ts, cdt_writer_open_fd(fileno(f), NULL, &o, &w), 0);
        double vals[512];
        for (int i = 0; i < 512; i++)
            vals[i] = i * 1.5 - 7;
        /* Every dtype at every rank 0..8 in one free-form frame. */
        cdt_tensor t[8 * 9];
        int n = 0;
        for (int d = CDT_U8; d <= CDT_F64; d++)
            for (int rank = 0; rank <= 8; rank++) {
                uint64_t dim[8];
                for (int k = 0; k < rank; k++)
                    dim[k] = k < 3 ? 2 : 1;
                char name[16];
                snprintf(name, sizeof name, "t%d_%d", d, rank);
                cdt_tensor_set(&t[n++], name, d, vals, rank, dim);
            }
        T_EQ_INT(ts, cdt_writer_frame(w, 0, t, (uint32_t)n), 0);
        /* An empty frame and a frame with a zero-length dimension. */
        T_EQ_INT(ts, cdt_writer_frame(w, 0, NULL, 0), 0);
        cdt_tensor z;
        cdt_tensor_set(&z, "empty", CDT_F32, vals, 2, (uint64_t[]){0, 5});
        T_EQ_INT(ts, cdt_writer_frame(w, 0, &z, 1), 0);
        T_EQ_INT(ts, cdt_writer_close(w), 0);
        cdt_writer_destroy(w);
        fflush(f);
        rewind(f);
        cdt_reader *r;
        const cdt_frame *fr;
        T_EQ_INT(ts, cdt_reader_open_fd(fileno(f), NULL, &r), 0);
        T_EQ_INT(ts, cdt_reader_compressed(r), level > 0);
        T_EQ_INT(ts, cdt_reader_next(r, &fr), 1);
        T_EQ_INT(ts, fr->count, n);
        for (int i = 0; i < n && i < (int)fr->count; i++) {
            const cdt_tensor *a = &fr->tensors[i], *b = &t[i];
            uint64_t nb;
            cdt_tensor_nbytes(b, &nb);
            T_STR(ts, a->name, b->name);
            T_EQ_INT(ts, a->dtype, b->dtype);
            T_EQ_INT(ts, a->rank, b->rank);
            T_CHECK(ts, !memcmp(a->dim, b->dim, 8 * (size_t)b->rank));
            T_CHECK(ts, !memcmp(a->data, b->data, (size_t)nb));
        }
        T_CHECK(ts, cdt_frame_find(fr, "t7_3") == &fr->tensors[6 * 9 + 3]);
        T_CHECK(ts, cdt_frame_find(fr, "nope") == NULL);
        T_EQ_INT(ts, cdt_reader_next(r, &fr), 1);
        T_EQ_INT(ts, fr->count, 0);
        T_EQ_INT(ts, cdt_reader_next(r, &fr), 1);
        T_EQ_INT(ts, fr->tensors[0].dim[0], 0);
        T_EQ_INT(ts, cdt_reader_next(r, &fr), 0);
        T_EQ_INT(ts, cdt_reader_next(r, &fr), 0);
        cdt_reader_destroy(r);
        fclose(f);
    }
}

static void test_many_frames(t_state *ts)
{
    buf a = make_stream(1, 500, 5), b = make_stream(0, 500, 5);
    uint64_t ha, hb;
    T_EQ_INT(ts, decode(a.p, a.n, &ha, NULL, 0), 0);
    T_EQ_INT(ts, decode(b.p, b.n, &hb, NULL, 0), 0);
    T_CHECK(ts, ha == hb);
    T_CHECK(ts, a.n < b.n);
    free(a.p);
    free(b.p);
}

static void test_meta(t_state *ts)
{
    cdt_meta *m = cdt_meta_create();
    T_EQ_INT(ts, cdt_meta_set(m, "Bad", "x"), CDT_EINVAL);
    T_EQ_INT(ts, cdt_meta_set(m, "", "x"), CDT_EINVAL);
    T_EQ_INT(ts, cdt_meta_set(m, "a b", "x"), CDT_EINVAL);
    T_EQ_INT(ts, cdt_meta_set(m, "k", "line\nbreak"), CDT_EINVAL);
    T_EQ_INT(ts, cdt_meta_set(m, "k", "\xff"), CDT_EINVAL);
    T_EQ_INT(ts, cdt_meta_set(m, "k.x-1_", ""), 0);
    T_EQ_INT(ts, cdt_meta_set(m, "n", "a=b=c"), 0);
    T_EQ_INT(ts, cdt_meta_set_i64(m, "rows_total", -42), 0);
    T_EQ_INT(ts, cdt_meta_set(m, "n", "replaced"), 0);
    T_EQ_INT(ts, cdt_meta_count(m), 3);
    T_STR(ts, cdt_meta_get(m, "n"), "replaced");
    int64_t v = 0;
    T_EQ_INT(ts, cdt_meta_get_i64(m, "rows_total", &v), 0);
    T_EQ_INT(ts, v, -42);
    T_EQ_INT(ts, cdt_meta_get_i64(m, "n", &v), CDT_EDATA);
    T_EQ_INT(ts, cdt_meta_get_i64(m, "absent", &v), CDT_ENOENT);
    cdt_meta_remove(m, "k.x-1_");
    T_EQ_INT(ts, cdt_meta_count(m), 2);
    T_STR(ts, cdt_meta_key(m, 0), "n");
    /* Meta round trip, including an empty value and a value with '='. */
    cdt_meta_set(m, "empty", "");
    FILE *f = tmpfile();
    cdt_writer *w;
    cdt_writer_open_fd(fileno(f), m, &(cdt_writer_opts){0}, &w);
    cdt_writer_close(w);
    cdt_writer_destroy(w);
    rewind(f);
    cdt_reader *r;
    T_EQ_INT(ts, cdt_reader_open_fd(fileno(f), NULL, &r), 0);
    T_EQ_INT(ts, cdt_meta_count(cdt_reader_meta(r)), 3);
    T_STR(ts, cdt_meta_get(cdt_reader_meta(r), "empty"), "");
    T_STR(ts, cdt_meta_get(cdt_reader_meta(r), "n"), "replaced");
    cdt_reader_destroy(r);
    fclose(f);
    /* Over 1 MiB of meta is refused by the writer. */
    char *big = malloc(1 << 20);
    memset(big, 'v', (1 << 20) - 1);
    big[(1 << 20) - 1] = 0;
    cdt_meta_set(m, "big", big);
    f = tmpfile();
    T_EQ_INT(ts, cdt_writer_open_fd(fileno(f), m, NULL, &w), CDT_ELIMIT);
    cdt_writer_destroy(w);
    fclose(f);
    free(big);
    cdt_meta_destroy(m);
}

/* Every prefix of a complete stream is an error, never a success. */
static void test_truncation(t_state *ts)
{
    for (int level = 0; level <= 1; level++) {
        buf b = make_stream(level, 3, 4);
        uint64_t h;
        char msg[800];
        T_EQ_INT(ts, decode(b.p, b.n, &h, msg, sizeof msg), 0);
        int bad = 0;
        for (size_t cut = 0; cut < b.n; cut++) {
            int rc = decode(b.p, cut, &h, msg, sizeof msg);
            if (rc != CDT_ETRUNC && rc != CDT_EDATA) {
                if (bad++ < 3)
                    fprintf(stderr, "level %d cut %zu: rc %d (%s)\n", level, cut, rc, msg);
            } else if (!strstr(msg, "byte") && !strstr(msg, "empty")) {
                if (bad++ < 3)
                    fprintf(stderr, "level %d cut %zu: message without offset: %s\n", level, cut, msg);
            }
        }
        T_EQ_INT(ts, bad, 0);
        free(b.p);
    }
}

/* A flipped bit in a zstd stream is caught by the checksum or decodes to
 * the very same content (a flip in an unused header bit); a raw stream has
 * no checksum, so there a flip only has to be survived. */
static void test_bit_flips(t_state *ts)
{
    for (int level = 0; level <= 1; level++) {
        buf b = make_stream(level, 3, 4);
        uint64_t h0, h;
        decode(b.p, b.n, &h0, NULL, 0);
        cdt_rng r;
        cdt_rng_init(&r, 7, 99, (uint64_t)level, 0, 0);
        int silent = 0, caught = 0;
        for (int trial = 0; trial < 600; trial++) {
            size_t at = (size_t)cdt_rng_below(&r, b.n);
            unsigned char bit = (unsigned char)(1u << cdt_rng_below(&r, 8));
            b.p[at] ^= bit;
            int rc = decode(b.p, b.n, &h, NULL, 0);
            b.p[at] ^= bit;
            if (rc < 0)
                caught++;
            else if (level > 0 && h != h0 && silent++ < 3)
                fprintf(stderr, "zstd flip at %zu bit %u decoded to other content\n", at, bit);
        }
        T_EQ_INT(ts, silent, 0);
        T_CHECK(ts, caught > (level ? 500 : 50));
        free(b.p);
    }
}

/* Hand-made headers that break each rule of the spec. */
static void test_malformed(t_state *ts)
{
    static const struct { const char *why; const char *bytes; size_t n; int rc; } cases[] = {
        {"bad magic", "CDTX\1\0\0\0\0\0\0\0", 12, CDT_EDATA},
        {"version 2", "CDTS\2\0\0\0\0\0\0\0CEND", 16, CDT_EDATA},
        {"flags", "CDTS\1\0\1\0\0\0\0\0", 12, CDT_EDATA},
        {"meta 1 MiB + 1", "CDTS\1\0\0\0\1\0\x10\0", 12, CDT_ELIMIT},
        {"meta without newline", "CDTS\1\0\0\0\3\0\0\0a=b", 15, CDT_EDATA},
        {"meta bad key", "CDTS\1\0\0\0\4\0\0\0A=b\n", 16, CDT_EDATA},
        {"meta no =", "CDTS\1\0\0\0\2\0\0\0a\n", 14, CDT_EDATA},
        {"unknown record", "CDTS\1\0\0\0\0\0\0\0JUNK", 16, CDT_EDATA},
        {"tensors 4097", "CDTS\1\0\0\0\0\0\0\0FRAM\0\0\0\0\0\0\0\0\x01\x10\0\0", 28, CDT_ELIMIT},
        {"empty name", "CDTS\1\0\0\0\0\0\0\0FRAM\0\0\0\0\0\0\0\0\1\0\0\0\0", 29, CDT_EDATA},
        {"rank 9", "CDTS\1\0\0\0\0\0\0\0FRAM\0\0\0\0\0\0\0\0\1\0\0\0\1x\1\x09", 32, CDT_EDATA},
        {"dtype 9", "CDTS\1\0\0\0\0\0\0\0FRAM\0\0\0\0\0\0\0\0\1\0\0\0\1x\x09\0", 32, CDT_EDATA},
        {"huge dims", "CDTS\1\0\0\0\0\0\0\0FRAM\0\0\0\0\0\0\0\0\1\0\0\0\1x\7\2"
                      "\0\0\0\0\0\0\0\x80\0\0\0\0\0\0\0\x80", 48, CDT_ELIMIT},
        {"2^40 + 1 bytes", "CDTS\1\0\0\0\0\0\0\0FRAM\0\0\0\0\0\0\0\0\1\0\0\0\1x\1\1"
                           "\1\0\0\0\0\1\0\0", 40, CDT_ELIMIT},
        {"claims 1 TB, has 2 bytes", "CDTS\1\0\0\0\0\0\0\0FRAM\0\0\0\0\0\0\0\0\1\0\0\0\1x\1\1"
                                     "\0\0\0\0\0\1\0\0ab", 42, CDT_ETRUNC},
        {"rows mismatch", "CDTS\1\0\0\0\0\0\0\0FRAM\2\0\0\0\0\0\0\0\1\0\0\0\1x\1\1"
                          "\3\0\0\0\0\0\0\0abc", 43, CDT_EDATA},
        {"end count mismatch", "CDTS\1\0\0\0\0\0\0\0CEND\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32, CDT_EDATA},
        {"trailing bytes", "CDTS\1\0\0\0\0\0\0\0CEND\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0!", 33, CDT_EDATA},
        {"no end record", "CDTS\1\0\0\0\0\0\0\0", 12, CDT_ETRUNC},
        {"empty input", "", 0, CDT_ETRUNC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t h;
        char msg[800];
        int rc = decode((const unsigned char *)cases[i].bytes, cases[i].n, &h, msg, sizeof msg);
        if (rc != cases[i].rc)
            fprintf(stderr, "case '%s': rc %d, expected %d (%s)\n", cases[i].why, rc, cases[i].rc, msg);
        T_EQ_INT(ts, rc, cases[i].rc);
        T_CHECK(ts, msg[0] != 0);
    }
    /* A well-formed minimal stream passes. */
    uint64_t h;
    T_EQ_INT(ts, decode((const unsigned char *)"CDTS\1\0\0\0\0\0\0\0CEND\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
                        32, &h, NULL, 0), 0);
}

static void test_max_memory(t_state *ts)
{
    buf b = make_stream(0, 1, 4);
    FILE *f = tmpfile();
    fwrite(b.p, 1, b.n, f);
    rewind(f);
    cdt_reader *r;
    const cdt_frame *fr;
    cdt_reader_opts o = {.max_tensor_bytes = 16, .name = "capped"};
    T_EQ_INT(ts, cdt_reader_open_fd(fileno(f), &o, &r), 0);
    T_EQ_INT(ts, cdt_reader_next(r, &fr), CDT_ELIMIT);
    T_CHECK(ts, strstr(cdt_reader_errmsg(r), "CDT_MAX_MEMORY") != NULL);
    T_CHECK(ts, strncmp(cdt_reader_errmsg(r), "capped: ", 8) == 0);
    cdt_reader_destroy(r);
    fclose(f);
    free(b.p);
}

static void test_writer_checks(t_state *ts)
{
    FILE *f = tmpfile();
    cdt_writer *w;
    uint8_t d[4] = {0};
    cdt_tensor t;
    cdt_writer_open_fd(fileno(f), NULL, NULL, &w);
    cdt_tensor_set(&t, "x", CDT_U8, d, 1, (uint64_t[]){4});
    T_EQ_INT(ts, cdt_writer_frame(w, 3, &t, 1), CDT_EINVAL);
    cdt_writer_destroy(w);
    fclose(f);
    /* /dev/full: the failure is reported, not swallowed. */
    FILE *full = fopen("/dev/full", "w");
    if (full) {
        cdt_writer_open_fd(fileno(full), NULL, &(cdt_writer_opts){0}, &w);
        uint8_t *big = calloc(1, 1 << 20);
        cdt_tensor_set(&t, "x", CDT_U8, big, 1, (uint64_t[]){1 << 20});
        int rc = cdt_writer_frame(w, 1 << 20, &t, 1);
        if (rc == 0)
            rc = cdt_writer_close(w);
        T_EQ_INT(ts, rc, CDT_EIO);
        cdt_writer_destroy(w);
        free(big);
        fclose(full);
    }
}

static void test_rng(t_state *ts)
{
    cdt_rng a, b;
    cdt_rng_init(&a, 1, CDT_RNG_AUGMENT, 2, 3, 4);
    cdt_rng_init(&b, 1, CDT_RNG_AUGMENT, 2, 3, 4);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= cdt_rng_u32(&a) == cdt_rng_u32(&b);
    T_CHECK(ts, same);
    cdt_rng_init(&b, 1, CDT_RNG_AUGMENT, 2, 3, 5);
    cdt_rng_init(&a, 1, CDT_RNG_AUGMENT, 2, 3, 4);
    int differ = 0;
    for (int i = 0; i < 100; i++)
        differ += cdt_rng_u32(&a) != cdt_rng_u32(&b);
    T_CHECK(ts, differ > 95);
    /* Uniform mean and variance, and below() covering its range evenly. */
    double s = 0, s2 = 0;
    int hist[7] = {0};
    for (int i = 0; i < 100000; i++) {
        double u = cdt_rng_uniform(&a);
        s += u;
        s2 += u * u;
        hist[cdt_rng_below(&a, 7)]++;
    }
    T_NEAR(ts, s / 1e5, 0.5, 0.005);
    T_NEAR(ts, s2 / 1e5 - (s / 1e5) * (s / 1e5), 1.0 / 12, 0.002);
    for (int i = 0; i < 7; i++)
        T_NEAR(ts, hist[i] / 1e5, 1.0 / 7, 0.005);
    uint64_t perm[50];
    int seen[50] = {0};
    cdt_rng_permute(&a, perm, 50);
    for (int i = 0; i < 50; i++)
        seen[perm[i]]++;
    int ok = 1;
    for (int i = 0; i < 50; i++)
        ok &= seen[i] == 1;
    T_CHECK(ts, ok);
}

static void test_outfile(t_state *ts)
{
    char dir[] = "/tmp/cdt-outfile-XXXXXX", path[64];
    T_CHECK(ts, mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    cdt_outfile *of;
    /* Aborted: nothing is left behind. */
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    T_EQ_INT(ts, cdt_write_all(cdt_outfile_fd(of), "abc", 3), 0);
    cdt_outfile_abort(of);
    T_CHECK(ts, access(path, F_OK) != 0);
    /* Committed: the file appears whole, and the folder holds nothing else. */
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    T_CHECK(ts, access(path, F_OK) != 0);
    T_EQ_INT(ts, cdt_write_all(cdt_outfile_fd(of), "abc", 3), 0);
    T_EQ_INT(ts, cdt_outfile_commit(of), 0);
    FILE *f = fopen(path, "rb");
    char got[8] = {0};
    T_CHECK(ts, f && fread(got, 1, 8, f) == 3 && !memcmp(got, "abc", 3));
    if (f)
        fclose(f);
    unlink(path);
    T_CHECK(ts, rmdir(dir) == 0);
    /* A device is written in place and stays a device. */
    struct stat st;
    T_EQ_INT(ts, cdt_outfile_open("/dev/null", &of), 0);
    T_EQ_INT(ts, cdt_write_all(cdt_outfile_fd(of), "abc", 3), 0);
    T_EQ_INT(ts, cdt_outfile_commit(of), 0);
    T_CHECK(ts, stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    T_EQ_INT(ts, cdt_outfile_open("/tmp", &of), CDT_EINVAL);
    T_EQ_INT(ts, cdt_outfile_open("/nonexistent-dir/x", &of), CDT_ENOENT);
}

/* How many entries of dir start with prefix; the last one's name in last. */
static int count_prefix(const char *dir, const char *prefix, char *last, size_t n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int k = 0;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) {
            k++;
            if (last)
                snprintf(last, n, "%s", e->d_name);
        }
    if (d)
        closedir(d);
    return k;
}

/* A writer in a child process: opens path, writes what, tells the parent
 * through ready, then commits when the parent writes to go (or is killed
 * before). Returns its pid. */
static pid_t child_writer(const char *path, const char *what, int *ready, int *go)
{
    int r[2], g[2];
    if (pipe(r) < 0 || pipe(g) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        cdt_outfile *of;
        char c;
        close(r[0]), close(g[1]);
        if (cdt_outfile_open(path, &of) < 0 || cdt_write_all(cdt_outfile_fd(of), what, strlen(what)) < 0 ||
            write(r[1], "1", 1) != 1 || read(g[0], &c, 1) != 1)
            _exit(1);
        _exit(cdt_outfile_commit(of) == 0 ? 0 : 1);
    }
    close(r[1]), close(g[0]);
    *ready = r[0], *go = g[1];
    return pid;
}

static int has(const char *path, const char *want)
{
    char got[16] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
    if (f)
        fclose(f);
    return n == strlen(want) && !memcmp(got, want, n);
}

static void test_outfile_stale(t_state *ts)
{
    char dir[] = "/tmp/cdt-outfile-XXXXXX", path[64], tmp[256], name[256], c;
    T_CHECK(ts, mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    cdt_outfile *of;
    int ready, go, status;

    /* Two writers of one output: the second, opening and committing while
     * the first is still writing, leaves the first's temporary alone; the
     * first then commits its own. */
    pid_t a = child_writer(path, "first", &ready, &go);
    T_CHECK(ts, a > 0 && read(ready, &c, 1) == 1);
    snprintf(tmp, sizeof tmp, ".out.bin.%ld.", (long)a);
    T_EQ_INT(ts, count_prefix(dir, tmp, NULL, 0), 1);
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    T_EQ_INT(ts, cdt_write_all(cdt_outfile_fd(of), "second", 6), 0);
    T_EQ_INT(ts, cdt_outfile_commit(of), 0);
    T_CHECK(ts, has(path, "second"));
    T_EQ_INT(ts, count_prefix(dir, tmp, NULL, 0), 1);
    T_CHECK(ts, write(go, "1", 1) == 1 && waitpid(a, &status, 0) == a);
    T_CHECK(ts, WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_CHECK(ts, has(path, "first"));
    T_EQ_INT(ts, count_prefix(dir, ".out.bin.", NULL, 0), 0);
    close(ready), close(go);

    /* A writer killed outright leaves its temporary, named with its pid;
     * the next open of the output removes it. */
    pid_t k = child_writer(path, "killed", &ready, &go);
    T_CHECK(ts, k > 0 && read(ready, &c, 1) == 1);
    T_CHECK(ts, kill(k, SIGKILL) == 0 && waitpid(k, &status, 0) == k);
    snprintf(tmp, sizeof tmp, ".out.bin.%ld.", (long)k);
    T_EQ_INT(ts, count_prefix(dir, tmp, NULL, 0), 1);
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    T_EQ_INT(ts, count_prefix(dir, tmp, NULL, 0), 0);
    cdt_outfile_abort(of);
    T_CHECK(ts, has(path, "first"));
    close(ready), close(go);

    /* A temporary whose pid is gone here but whose lock is held (a pid of
     * another machine sharing the folder) stays until the lock goes; other
     * names are never touched. k is dead and reaped. */
    snprintf(name, sizeof name, "%s/.out.bin.%ld.AbCdEf", dir, (long)k);
    int held = open(name, O_RDWR | O_CREAT | O_EXCL, 0644);
    T_CHECK(ts, held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0);
    const char *others[] = {".out.bin.AbCdEf", ".other.bin.%ld.AbCdEf", "out.bin.%ld.AbCdEf",
                            ".out.bin.%ld.AbCdEfG", ".out.bin.%ldx.AbCdEf"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char p[300], f[64];
        snprintf(f, sizeof f, others[i], (long)k);
        snprintf(p, sizeof p, "%s/%s", dir, f);
        close(open(p, O_WRONLY | O_CREAT | O_EXCL, 0644));
    }
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    cdt_outfile_abort(of);
    T_CHECK(ts, access(name, F_OK) == 0);
    close(held);
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    cdt_outfile_abort(of);
    T_CHECK(ts, access(name, F_OK) != 0);
    /* An unlocked temporary (a file system without locks, or the instant
     * between creating it and locking it) stays while its pid lives. */
    pid_t live = fork();
    if (live == 0) {
        pause();
        _exit(0);
    }
    snprintf(name, sizeof name, "%s/.out.bin.%ld.QwErTy", dir, (long)live);
    close(open(name, O_WRONLY | O_CREAT | O_EXCL, 0644));
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    cdt_outfile_abort(of);
    T_CHECK(ts, access(name, F_OK) == 0);
    T_CHECK(ts, live > 0 && kill(live, SIGKILL) == 0 && waitpid(live, &status, 0) == live);
    T_EQ_INT(ts, cdt_outfile_open(path, &of), 0);
    cdt_outfile_abort(of);
    T_CHECK(ts, access(name, F_OK) != 0);
    T_EQ_INT(ts, count_prefix(dir, ".", NULL, 0), 2 + 4); /* ".", "..", 4 of the others */
    T_EQ_INT(ts, count_prefix(dir, "out.bin.", NULL, 0), 1);

    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char p[300];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    T_CHECK(ts, rmdir(dir) == 0);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_roundtrip_dtypes_ranks);
    T_RUN(&ts, test_many_frames);
    T_RUN(&ts, test_meta);
    T_RUN(&ts, test_truncation);
    T_RUN(&ts, test_bit_flips);
    T_RUN(&ts, test_malformed);
    T_RUN(&ts, test_max_memory);
    T_RUN(&ts, test_writer_checks);
    T_RUN(&ts, test_rng);
    T_RUN(&ts, test_outfile);
    T_RUN(&ts, test_outfile_stale);
    return T_END(&ts);
}
