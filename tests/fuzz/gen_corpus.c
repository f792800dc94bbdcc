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

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "cdt.h"
#include "cdt_npy.h"
#include "cdt_png.h"
#include "cdt_model.h"
#include "cdt_modelfile.h"

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

/* ---- datasets (fuzz_datasets.c's layout: format byte, options byte,
 * then u16 length + first file + second file, or the one file) ---- */

typedef struct mem { uint8_t *p; size_t n, cap; } mem;

static void add(mem *m, const void *p, size_t n)
{
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        if (!(m->p = realloc(m->p, m->cap)))
            die("realloc");
    }
    memcpy(m->p + m->n, p, n);
    m->n += n;
}

static void add_byte(mem *m, int v) { uint8_t b = (uint8_t)v; add(m, &b, 1); }
static void add_be32(mem *m, uint32_t v)
{
    uint8_t b[4] = {v >> 24, v >> 16 & 255, v >> 8 & 255, v & 255};
    add(m, b, 4);
}

/* The gzip form of p[n], as gzip(1) would write it. */
static mem gzip_mem(const uint8_t *p, size_t n)
{
    mem out = {0};
    z_stream z = {0};
    if (deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2");
    out.cap = deflateBound(&z, n) + 32;
    out.p = malloc(out.cap);
    z.next_in = (uint8_t *)p, z.avail_in = (uInt)n;
    z.next_out = out.p, z.avail_out = (uInt)out.cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        die("deflate");
    out.n = z.total_out;
    deflateEnd(&z);
    return out;
}

/* A ustar archive member: 512-byte header, data padded to 512. */
static void tar_member(mem *m, const char *name, const uint8_t *p, size_t n)
{
    char h[512] = {0};
    snprintf(h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf(h + 124, 12, "%011o", (unsigned)n);
    memcpy(h + 136, "00000000000", 12);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    add(m, h, 512);
    add(m, p, n);
    static const uint8_t zero[512];
    add(m, zero, (512 - n % 512) % 512);
}

static void idx_files(mem *img, mem *lab, uint32_t n, uint32_t h, uint32_t w)
{
    add_be32(img, 0x803), add_be32(img, n), add_be32(img, h), add_be32(img, w);
    for (uint32_t i = 0; i < n * h * w; i++)
        add_byte(img, (int)(i * 29 % 256));
    add_be32(lab, 0x801), add_be32(lab, n);
    for (uint32_t i = 0; i < n; i++)
        add_byte(lab, (int)(i % 10));
}

static void two_files(const char *name, int fmt, int opt, const mem *a, const mem *b)
{
    mem m = {0};
    add_byte(&m, fmt), add_byte(&m, opt);
    add_byte(&m, (int)(a->n & 255)), add_byte(&m, (int)(a->n >> 8));
    add(&m, a->p, a->n);
    add(&m, b->p, b->n);
    put_file("datasets", name, m.p, m.n);
    free(m.p);
}

static void one_file(const char *name, int fmt, int opt, const mem *a)
{
    mem m = {0};
    add_byte(&m, fmt), add_byte(&m, opt);
    add(&m, a->p, a->n);
    put_file("datasets", name, m.p, m.n);
    free(m.p);
}

/* CIFAR records: label byte(s) and R, G, B planes of 32x32. */
static mem cifar_records(int n, int label_bytes)
{
    mem m = {0};
    for (int r = 0; r < n; r++) {
        for (int l = 0; l < label_bytes; l++)
            add_byte(&m, r + l);
        for (int i = 0; i < 3072; i++)
            add_byte(&m, (i * 7 + r) % 256);
    }
    return m;
}

static void datasets(void)
{
    mem img = {0}, lab = {0};
    idx_files(&img, &lab, 3, 4, 5);
    two_files("idx_plain", 0, 0, &img, &lab);
    two_files("idx_plain_resize3", 0, 2 | 2 << 2, &img, &lab);
    mem gi = gzip_mem(img.p, img.n), gl = gzip_mem(lab.p, lab.n);
    two_files("idx_gz", 1, 0, &gi, &gl);
    two_files("idx_gz_all_limit", 1, 16 | 32, &gi, &gl);
    free(img.p), free(lab.p), free(gi.p), free(gl.p);

    mem c10 = cifar_records(2, 1), c100 = cifar_records(2, 2);
    one_file("cifar10", 2, 0, &c10);
    one_file("cifar10_gray5", 2, 1 | 1 << 2, &c10);
    one_file("cifar100", 3, 0, &c100);
    one_file("cifar100_fine", 3, 32, &c100);

    mem tar = {0};
    static const char names[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    tar_member(&tar, "cifar-10-batches-bin/batches.meta.txt", (const uint8_t *)names, sizeof names - 1);
    tar_member(&tar, "cifar-10-batches-bin/test_batch.bin", c10.p, c10.n);
    static const uint8_t end[1024];
    add(&tar, end, sizeof end);
    mem tgz = gzip_mem(tar.p, tar.n);
    one_file("cifar10_tgz", 5, 0, &tgz);
    free(c10.p), free(c100.p), free(tar.p), free(tgz.p);

    /* STL-10: one 3x96x96 image, each channel column-major; label 1..10. */
    mem x = {0}, y = {0};
    for (int i = 0; i < 3 * 96 * 96; i++)
        add_byte(&x, i % 251);
    add_byte(&y, 3);
    two_files("stl10", 4, 0, &x, &y);
    free(x.p), free(y.p);
}

/* ---- images (fuzz_image.c's layout: 5 option bytes, then the file) ---- */

static int image_fd(const char *name, int opt)
{
    int fd = create("image", name);
    uint8_t pre[5] = {(uint8_t)opt, 17, 40, 3, 9};
    if (cdt_write_all(fd, pre, sizeof pre) < 0)
        die(name);
    return fd;
}

static void jpeg_seed(const char *name, int w, int h, int comps, int progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t row[64 * 4];
    while (c.next_scanline < c.image_height) {
        for (int i = 0; i < w * comps; i++)
            row[i] = (uint8_t)(i * 13 + c.next_scanline * 31);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    int fd = image_fd(name, comps == 1 ? 0 : 1);
    if (cdt_write_all(fd, buf, len) < 0)
        die(name);
    close(fd);
    free(buf);
}

static void png_write_fn(png_structp p, png_bytep data, png_size_t n)
{
    if (cdt_write_all(*(int *)png_get_io_ptr(p), data, n) < 0)
        png_error(p, "write");
}
static void png_flush_fn(png_structp p) { (void)p; }

/* The PNG kinds cdt_png_write_fd does not make: palette (with tRNS),
 * 16-bit, alpha, interlaced. */
static void png_seed(const char *name, int w, int h, int color, int depth, int interlace)
{
    int fd = image_fd(name, 1);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p)))
        die(name);
    png_set_write_fn(p, &fd, png_write_fn, png_flush_fn);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, color,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
        png_byte trns[2] = {0, 128};
        png_set_PLTE(p, info, pal, 4);
        png_set_tRNS(p, info, trns, 2, NULL);
    }
    png_write_info(p, info);
    int ch = png_get_channels(p, info);
    size_t rowbytes = png_get_rowbytes(p, info);
    uint8_t *row = calloc(1, rowbytes);
    int passes = png_set_interlace_handling(p);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++)
                row[i] = (uint8_t)(color == PNG_COLOR_TYPE_PALETTE ? (i + (size_t)y) % 4 * (depth == 2 ? 0x55 : 1)
                                                                     : i * 9 + (size_t)y * ch);
            png_write_row(p, row);
        }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(row);
    close(fd);
}

static void images(void)
{
    uint8_t px[7 * 5 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 17);
    int fd = image_fd("png_gray_7x5", 0);
    if (cdt_png_write_fd(fd, px, 7, 5, 1) < 0)
        die("png_gray");
    close(fd);
    fd = image_fd("png_rgb_7x5", 1);
    if (cdt_png_write_fd(fd, px, 7, 5, 3) < 0)
        die("png_rgb");
    close(fd);
    png_seed("png_palette", 6, 4, PNG_COLOR_TYPE_PALETTE, 8, 0);
    png_seed("png_palette2", 9, 3, PNG_COLOR_TYPE_PALETTE, 2, 0);
    png_seed("png_rgba16_interlaced", 5, 5, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1);
    png_seed("png_gray_alpha", 4, 3, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0);
    png_seed("png_gray16", 3, 3, PNG_COLOR_TYPE_GRAY, 16, 0);
    jpeg_seed("jpeg_gray_8x8", 8, 8, 1, 0);
    jpeg_seed("jpeg_rgb_17x9", 17, 9, 3, 0);
    jpeg_seed("jpeg_rgb_progressive", 16, 16, 3, 1);
    jpeg_seed("jpeg_cmyk", 8, 8, 4, 0);
}

/* ---- model files: the smallest model there is, raw and zstd, with and
 * without the checkpoint frame ---- */

static void model_seed(const char *name, int level, int checkpoint)
{
    static const cdt_model_config cfg = {.depth = 18, .stem = CDT_STEM_CIFAR, .width = 1,
                                         .in_channels = 1, .image_size = 8, .hidden_dim = 4,
                                         .feature_num = 2};
    cdt_model *m;
    char err[256];
    if (cdt_model_create(&cfg, 1, &m) < 0)
        die("cdt_model_create");
    cdt_model_init(m, 1);
    float *am = calloc(cdt_model_nparams(m), sizeof *am), *av = calloc(cdt_model_nparams(m), sizeof *av);
    cdt_modelfile_state st = {.step = 3, .epoch = 0, .seed = 1, .rows = 6, .last_id = 5,
                              .adam_m = checkpoint ? am : NULL, .adam_v = checkpoint ? av : NULL};
    cdt_writer_opts wo = {level};
    int fd = create("model", name);
    if (cdt_modelfile_save(fd, m, &st, NULL, &wo, err, sizeof err) < 0) {
        fprintf(stderr, "gen_corpus: %s\n", err);
        exit(1);
    }
    close(fd);
    free(am), free(av);
    cdt_model_destroy(m);
}

static void models(void)
{
    model_seed("model_raw", 0, 0);
    model_seed("model_zstd", 1, 0);
    model_seed("checkpoint_raw", 0, 1);
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
    datasets();
    images();
    models();
    return 0;
}
