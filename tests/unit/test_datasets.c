/* test_datasets.c: cdt-ingest end to end. Fixtures are written here, in
 * each publisher's exact on-disk layout (tests/fixtures/datasets.h), the
 * tool is run on them, and its output stream is read back with the stream
 * reader and checked against the fixture formulas. */
#include "t.h"
#include "cdt.h"
#include "../fixtures/datasets.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tool[4096], dir[4096];

typedef struct out {
    cdt_meta *meta;
    uint64_t n, frames;
    int c, h, w, has_epoch, straddles;
    uint8_t *x;    /* (n,c,h,w) */
    int32_t *y;    /* (n) */
    int64_t *id;   /* (n) */
    int32_t *ep;   /* (n) */
} out;

static void out_free(out *o)
{
    cdt_meta_destroy(o->meta);
    free(o->x);
    free(o->y);
    free(o->id);
    free(o->ep);
    memset(o, 0, sizeof *o);
}

static void append(out *o, const cdt_frame *f)
{
    const cdt_tensor *x = cdt_frame_find(f, "x"), *y = cdt_frame_find(f, "y"),
                     *id = cdt_frame_find(f, "id"), *ep = cdt_frame_find(f, "epoch");
    if (!x || !y || !id || x->rank != 4)
        return;
    uint64_t r = f->rows, n = o->n + r;
    size_t one = (size_t)(x->dim[1] * x->dim[2] * x->dim[3]);
    o->c = (int)x->dim[1];
    o->h = (int)x->dim[2];
    o->w = (int)x->dim[3];
    o->x = realloc(o->x, n * one);
    o->y = realloc(o->y, n * sizeof *o->y);
    o->id = realloc(o->id, n * sizeof *o->id);
    o->ep = realloc(o->ep, n * sizeof *o->ep);
    memcpy(o->x + o->n * one, x->data, r * one);
    memcpy(o->y + o->n, y->data, r * sizeof *o->y);
    memcpy(o->id + o->n, id->data, r * sizeof *o->id);
    if (ep) {
        o->has_epoch = 1;
        memcpy(o->ep + o->n, ep->data, r * sizeof *o->ep);
        for (uint64_t i = 1; i < r; i++)
            o->straddles |= o->ep[o->n + i] != o->ep[o->n];
    }
    o->n = n;
    o->frames++;
}

/* Run cdt-ingest ARGS into dir/out.cdt (stderr into dir/err); read the
 * output when it exits 0. Returns the exit status. */
static int ingest(const char *args, out *o)
{
    char cmd[16384], path[4200];
    memset(o, 0, sizeof *o);
    snprintf(path, sizeof path, "%s/out.cdt", dir);
    unlink(path);
    snprintf(cmd, sizeof cmd, "%s %s -o %s 2>%s/err", tool, args, path, dir);
    int st = system(cmd);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (rc != 0)
        return rc;
    cdt_reader *r = NULL;
    const cdt_frame *f;
    if (cdt_reader_open_path(path, NULL, &r) < 0) {
        cdt_reader_destroy(r);
        return 200;
    }
    o->meta = cdt_meta_clone(cdt_reader_meta(r));
    while ((rc = cdt_reader_next(r, &f)) > 0)
        append(o, f);
    cdt_reader_destroy(r);
    return rc < 0 ? 201 : 0;
}

static const char *err_text(void)
{
    static char buf[4096];
    char path[4200];
    snprintf(path, sizeof path, "%s/err", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static void sub(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
    mkdir(buf, 0777);
}

/* Does row i of o hold sample s by the fixture formula (channels 0..c-1)? */
static int row_is(const out *o, uint64_t i, uint64_t s)
{
    const uint8_t *p = o->x + i * (size_t)o->c * o->h * o->w;
    for (int c = 0; c < o->c; c++)
        for (int r = 0; r < o->h; r++)
            for (int k = 0; k < o->w; k++)
                if (*p++ != fx_value(s, c, r, k))
                    return 0;
    return 1;
}

static void test_idx(t_state *ts)
{
    char p[4200], args[8400];
    sub(p, sizeof p, "fmnist");
    T_CHECK(ts, fx_idx(p, "train", 3, 4, 5, 0, 1) == 0);
    T_CHECK(ts, fx_idx(p, "t10k", 2, 4, 5, 100, 1) == 0);
    out o;
    snprintf(args, sizeof args, "fashion-mnist %s --raw --rows 2", p);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 5);
    T_EQ_INT(ts, o.frames, 3);
    T_EQ_INT(ts, o.c * 100 + o.h * 10 + o.w, 145);
    T_EQ_INT(ts, o.has_epoch, 0);
    for (uint64_t i = 0; i < o.n && o.x; i++) {
        uint64_t s = i < 3 ? i : 100 + i - 3; /* train, then test */
        T_CHECK(ts, row_is(&o, i, s));
        T_EQ_INT(ts, o.y[i], s % 10);
        T_EQ_INT(ts, o.id[i], i);
    }
    T_STR(ts, cdt_meta_get(o.meta, "dataset"), "fashion-mnist");
    T_STR(ts, cdt_meta_get(o.meta, "split"), "all");
    T_STR(ts, cdt_meta_get(o.meta, "rows_total"), "5");
    T_STR(ts, cdt_meta_get(o.meta, "classes"), "10");
    T_STR(ts, cdt_meta_get(o.meta, "producer"), "cdt-ingest");
    T_STR(ts, cdt_meta_get(o.meta, "class_names"),
          "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot");
    out_free(&o);
    /* The test split alone, as plain (not gzipped) mnist files, 3 channels. */
    sub(p, sizeof p, "mnist");
    T_CHECK(ts, fx_idx(p, "train", 3, 4, 5, 0, 0) == 0);
    T_CHECK(ts, fx_idx(p, "t10k", 2, 4, 5, 100, 0) == 0);
    snprintf(args, sizeof args, "mnist %s --split test --channels 3", p);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 2);
    T_EQ_INT(ts, o.c, 3);
    for (uint64_t i = 0; i < o.n && o.x; i++) {
        for (int c = 0; c < 3; c++)
            T_EQ_INT(ts, o.x[i * 60 + c * 20 + 7], fx_value(100 + i, 0, 1, 2));
        T_EQ_INT(ts, o.id[i], i);
        T_EQ_INT(ts, o.y[i], (100 + i) % 10);
    }
    T_STR(ts, cdt_meta_get(o.meta, "class_names"), "0,1,2,3,4,5,6,7,8,9");
    out_free(&o);
}

static int c10_label(uint64_t s, int j) { (void)j; return (int)(s % 10); }
static int c100_label(uint64_t s, int j) { return j == 0 ? (int)(s % 20) : (int)(s * 7 % 100); }

/* CIFAR-10: five train batches of 2 and a test batch of 3; sample s is
 * numbered 10 * batch + i (test: 50 + i). */
static void make_cifar10(const char *p)
{
    char f[4300];
    for (int b = 0; b < 5; b++) {
        snprintf(f, sizeof f, "%s/data_batch_%d.bin", p, b + 1);
        fx_cifar_batch(f, 2, 10 * (uint64_t)b, 1, c10_label);
    }
    snprintf(f, sizeof f, "%s/test_batch.bin", p);
    fx_cifar_batch(f, 3, 50, 1, c10_label);
    snprintf(f, sizeof f, "%s/batches.meta.txt", p);
    const char *names = "a0\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n";
    fx_write(f, names, strlen(names));
}

static uint64_t c10_sample(uint64_t i) { return i < 10 ? 10 * (i / 2) + i % 2 : 50 + i - 10; }

static void check_cifar10(t_state *ts, const out *o)
{
    T_EQ_INT(ts, o->n, 13);
    T_EQ_INT(ts, o->c * 10000 + o->h * 100 + o->w, 33232);
    for (uint64_t i = 0; i < o->n && o->x; i++) {
        T_CHECK(ts, row_is(o, i, c10_sample(i)));
        T_EQ_INT(ts, o->y[i], c10_sample(i) % 10);
        T_EQ_INT(ts, o->id[i], i);
    }
    T_STR(ts, cdt_meta_get(o->meta, "class_names"), "a0,a1,a2,a3,a4,a5,a6,a7,a8,a9");
}

static void test_cifar10(t_state *ts)
{
    char p[4200], args[8400], cmd[9000];
    sub(p, sizeof p, "c10");
    sub(p, sizeof p, "c10/cifar-10-batches-bin");
    make_cifar10(p);
    out o;
    snprintf(args, sizeof args, "cifar10 %s/c10", dir); /* the folder above */
    T_EQ_INT(ts, ingest(args, &o), 0);
    check_cifar10(ts, &o);
    out_free(&o);
    /* The publisher's archive, made by tar itself. */
    snprintf(cmd, sizeof cmd, "tar czf %s/cifar-10-binary.tar.gz -C %s/c10 cifar-10-batches-bin", dir, dir);
    T_EQ_INT(ts, system(cmd), 0);
    snprintf(args, sizeof args, "cifar10 %s/cifar-10-binary.tar.gz --rows 5", dir);
    T_EQ_INT(ts, ingest(args, &o), 0);
    check_cifar10(ts, &o);
    T_EQ_INT(ts, o.frames, 3);
    out_free(&o);
    snprintf(args, sizeof args, "cifar10 %s/cifar-10-binary.tar.gz --split test --channels 1", dir);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 3);
    T_EQ_INT(ts, o.c, 1);
    for (uint64_t i = 0; i < o.n && o.x; i++) {
        unsigned r = fx_value(50 + i, 0, 3, 4), g = fx_value(50 + i, 1, 3, 4), b = fx_value(50 + i, 2, 3, 4);
        T_NEAR(ts, o.x[i * 1024 + 3 * 32 + 4], 0.299 * r + 0.587 * g + 0.114 * b, 1.0);
    }
    out_free(&o);
}

static void test_cifar100(t_state *ts)
{
    char p[4200], args[8400], f[4300];
    sub(p, sizeof p, "c100");
    snprintf(f, sizeof f, "%s/train.bin", p);
    fx_cifar_batch(f, 4, 0, 2, c100_label);
    snprintf(f, sizeof f, "%s/test.bin", p);
    fx_cifar_batch(f, 2, 4, 2, c100_label);
    for (int fine = 0; fine < 2; fine++) {
        out o;
        snprintf(args, sizeof args, "cifar100 %s%s", p, fine ? " --labels fine" : "");
        T_EQ_INT(ts, ingest(args, &o), 0);
        T_EQ_INT(ts, o.n, 6);
        for (uint64_t i = 0; i < o.n && o.x; i++) {
            T_CHECK(ts, row_is(&o, i, i));
            T_EQ_INT(ts, o.y[i], c100_label(i, fine));
        }
        T_STR(ts, cdt_meta_get(o.meta, "classes"), fine ? "100" : "20");
        T_STR(ts, cdt_meta_get(o.meta, "labels"), fine ? "fine" : "coarse");
        const char *names = cdt_meta_get(o.meta, "class_names");
        T_CHECK(ts, names && !strncmp(names, fine ? "apple,aquarium_fish," : "aquatic_mammals,fish,", 20));
        out_free(&o);
    }
}

static void test_stl10(t_state *ts)
{
    char p[4200], args[8400], f[4300];
    uint8_t y[3] = {1, 10, 4};
    sub(p, sizeof p, "stl");
    sub(p, sizeof p, "stl/stl10_binary");
    snprintf(f, sizeof f, "%s/train_X.bin", p);
    fx_stl_images(f, 2, 0);
    snprintf(f, sizeof f, "%s/train_y.bin", p);
    fx_write(f, y, 2);
    snprintf(f, sizeof f, "%s/test_X.bin", p);
    fx_stl_images(f, 1, 2);
    snprintf(f, sizeof f, "%s/test_y.bin", p);
    fx_write(f, y + 2, 1);
    snprintf(f, sizeof f, "%s/unlabeled_X.bin", p);
    fx_stl_images(f, 2, 3);
    out o;
    snprintf(args, sizeof args, "stl10 %s", p);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 3);
    T_EQ_INT(ts, o.c * 10000 + o.h * 100 + o.w, 39696);
    for (uint64_t i = 0; i < o.n && o.x; i++) {
        T_CHECK(ts, row_is(&o, i, i)); /* x[c][r][k] = file byte c*9216 + k*96 + r */
        T_EQ_INT(ts, o.y[i], y[i] - 1);
    }
    out_free(&o);
    snprintf(args, sizeof args, "stl10 %s/stl --split unlabeled", dir);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 2);
    for (uint64_t i = 0; i < o.n && o.x; i++) {
        T_CHECK(ts, row_is(&o, i, 3 + i));
        T_EQ_INT(ts, o.y[i], -1);
    }
    T_STR(ts, cdt_meta_get(o.meta, "split"), "unlabeled");
    out_free(&o);
    snprintf(f, sizeof f, "%s/test_y.bin", p);
    fx_write(f, y, 2); /* two labels for one image */
    snprintf(args, sizeof args, "stl10 %s", p);
    T_EQ_INT(ts, ingest(args, &o), 65);
    T_CHECK(ts, strstr(err_text(), "test_y.bin") != NULL);
}

/* Folder fixture: five classes of 6x4 images; e_bad holds a JPEG that is
 * garbage after its magic and a good JPEG cut in half. */
static void make_folder(const char *root)
{
    char p[4300], f[4400];
    uint8_t px[6 * 4 * 4];
    png_color pal[4] = {{10, 20, 30}, {200, 100, 0}, {0, 255, 128}, {77, 66, 55}};
    snprintf(p, sizeof p, "%s/a_gray", root);
    mkdir(p, 0777);
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 6; k++)
            px[r * 6 + k] = fx_value(0, 0, r, k);
    snprintf(f, sizeof f, "%s/x.png", p);
    fx_png(f, 6, 4, PNG_COLOR_TYPE_GRAY, px, NULL, 0);
    snprintf(p, sizeof p, "%s/b_pal", root);
    mkdir(p, 0777);
    for (int i = 0; i < 24; i++)
        px[i] = (uint8_t)((i / 6 + i % 6) % 4);
    snprintf(f, sizeof f, "%s/x.PNG", p);
    fx_png(f, 6, 4, PNG_COLOR_TYPE_PALETTE, px, pal, 4);
    snprintf(p, sizeof p, "%s/c_rgba", root);
    mkdir(p, 0777);
    for (int i = 0; i < 24; i++) {
        for (int c = 0; c < 3; c++)
            px[i * 4 + c] = fx_value(2, c, i / 6, i % 6);
        px[i * 4 + 3] = 7;
    }
    snprintf(f, sizeof f, "%s/x.png", p);
    fx_png(f, 6, 4, PNG_COLOR_TYPE_RGBA, px, NULL, 0);
    snprintf(p, sizeof p, "%s/d_jpeg", root);
    mkdir(p, 0777);
    for (int i = 0; i < 24; i++) {
        px[i * 3] = 200;
        px[i * 3 + 1] = 40;
        px[i * 3 + 2] = 90;
    }
    snprintf(f, sizeof f, "%s/x.jpg", p);
    fx_jpeg(f, 6, 4, px);
    snprintf(p, sizeof p, "%s/e_bad", root);
    mkdir(p, 0777);
    snprintf(f, sizeof f, "%s/bad.jpg", p);
    static const char junk[] = "\xff\xd8\xff\xe0 this is no JPEG at all";
    fx_write(f, junk, sizeof junk - 1);
    uint8_t big[64 * 64 * 3];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31 + i / 97);
    snprintf(f, sizeof f, "%s/cut.jpeg", p);
    fx_jpeg(f, 64, 64, big);
    FILE *fp = fopen(f, "rb");
    size_t n = fread(big, 1, sizeof big, fp);
    fclose(fp);
    fx_write(f, big, n / 2);
}

static void test_folder(t_state *ts)
{
    char root[4200], args[8400], f[4400];
    sub(root, sizeof root, "imgs");
    make_folder(root);
    out o;
    snprintf(args, sizeof args, "folder %s", root);
    T_EQ_INT(ts, ingest(args, &o), 65);
    T_CHECK(ts, strstr(err_text(), "e_bad/bad.jpg") != NULL);
    snprintf(args, sizeof args, "folder %s --skip-bad", root);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 4);
    T_EQ_INT(ts, o.c * 100 + o.h * 10 + o.w, 346);
    T_STR(ts, cdt_meta_get(o.meta, "class_names"), "a_gray,b_pal,c_rgba,d_jpeg,e_bad");
    T_CHECK(ts, cdt_meta_get(o.meta, "rows_total") == NULL);
    T_CHECK(ts, strstr(err_text(), "skipped 2 images") != NULL);
    png_color pal[4] = {{10, 20, 30}, {200, 100, 0}, {0, 255, 128}, {77, 66, 55}};
    for (int i = 0; i < 4 && o.n == 4; i++) {
        T_EQ_INT(ts, o.y[i], i);
        T_EQ_INT(ts, o.id[i], i);
    }
    for (int c = 0; c < 3 && o.n == 4; c++)
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < 6; k++) {
                const uint8_t *px = o.x + c * 24 + r * 6 + k;
                const png_color *e = &pal[(r + k) % 4];
                T_EQ_INT(ts, px[0], fx_value(0, 0, r, k));             /* gray, replicated */
                T_EQ_INT(ts, px[72], c == 0 ? e->red : c == 1 ? e->green : e->blue);
                T_EQ_INT(ts, px[144], fx_value(2, c, r, k));           /* alpha dropped */
                T_NEAR(ts, px[216], c == 0 ? 200 : c == 1 ? 40 : 90, 3); /* JPEG */
            }
    out_free(&o);
    snprintf(args, sizeof args, "folder %s --skip-bad --channels 1", root);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.c, 1);
    for (int r = 0; r < 4 && o.n == 4; r++)
        for (int k = 0; k < 6; k++) {
            double l = 0.299 * fx_value(2, 0, r, k) + 0.587 * fx_value(2, 1, r, k) + 0.114 * fx_value(2, 2, r, k);
            T_EQ_INT(ts, o.x[r * 6 + k], fx_value(0, 0, r, k));
            T_NEAR(ts, o.x[48 + r * 6 + k], l, 1.0);
        }
    out_free(&o);
    /* A bigger image: an error without --size, resized with it. */
    uint8_t px[10 * 10];
    memset(px, 99, sizeof px);
    snprintf(f, sizeof f, "%s/a_gray/y.png", root);
    fx_png(f, 10, 10, PNG_COLOR_TYPE_GRAY, px, NULL, 0);
    snprintf(args, sizeof args, "folder %s --limit 2", root);
    T_EQ_INT(ts, ingest(args, &o), 65);
    T_CHECK(ts, strstr(err_text(), "a_gray/y.png") != NULL);
    snprintf(args, sizeof args, "folder %s --skip-bad", root);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 4);
    T_CHECK(ts, strstr(err_text(), "skipped 3 images") != NULL);
    out_free(&o);
    snprintf(args, sizeof args, "folder %s --skip-bad --size 3", root);
    T_EQ_INT(ts, ingest(args, &o), 0);
    T_EQ_INT(ts, o.n, 5);
    T_EQ_INT(ts, o.c * 100 + o.h * 10 + o.w, 333);
    for (int i = 0; i < 27 && o.n == 5; i++) {
        T_EQ_INT(ts, o.x[27 + i], 99);  /* a flat image stays flat */
        T_NEAR(ts, o.x[4 * 27 + i], i < 9 ? 200 : i < 18 ? 40 : 90, 3);
    }
    T_CHECK(ts, strstr(err_text(), "skipped 2 images") != NULL);
    out_free(&o);
}

/* Shuffling: the order of epoch e is cdt_rng_permute under (seed, e) only,
 * every id once per epoch, the data travel with their ids. */
static void test_shuffle(t_state *ts)
{
    char args[8400];
    out a, b, c;
    snprintf(args, sizeof args, "cifar10 %s/c10 --shuffle --epochs 3 --seed 5 --rows 4", dir);
    T_EQ_INT(ts, ingest(args, &a), 0);
    T_EQ_INT(ts, ingest(args, &b), 0);
    snprintf(args, sizeof args, "cifar10 %s/c10 --shuffle --epochs 3 --seed 6 --rows 4", dir);
    T_EQ_INT(ts, ingest(args, &c), 0);
    T_EQ_INT(ts, a.n, 39);
    T_EQ_INT(ts, a.has_epoch, 1);
    T_EQ_INT(ts, a.straddles, 0);
    T_STR(ts, cdt_meta_get(a.meta, "rows_total"), "39");
    T_STR(ts, cdt_meta_get(a.meta, "epochs"), "3");
    T_CHECK(ts, a.n == b.n && !memcmp(a.id, b.id, a.n * sizeof *a.id) &&
                !memcmp(a.x, b.x, a.n * 3072));
    T_CHECK(ts, a.n == c.n && memcmp(a.id, c.id, a.n * sizeof *a.id));
    for (uint64_t e = 0; e < 3 && a.n == 39; e++) {
        uint64_t perm[13];
        int seen[13] = {0};
        cdt_rng r;
        for (int i = 0; i < 13; i++)
            perm[i] = (uint64_t)i;
        cdt_rng_init(&r, 5, CDT_RNG_SHUFFLE, e, 0, 0);
        cdt_rng_permute(&r, perm, 13);
        for (int i = 0; i < 13; i++) {
            uint64_t row = e * 13 + (uint64_t)i;
            T_EQ_INT(ts, a.ep[row], e);
            T_EQ_INT(ts, a.id[row], perm[i]);
            if (a.id[row] >= 0 && a.id[row] < 13)
                seen[a.id[row]]++;
            T_CHECK(ts, row_is(&a, row, c10_sample((uint64_t)a.id[row])));
            T_EQ_INT(ts, a.y[row], c10_sample((uint64_t)a.id[row]) % 10);
        }
        for (int i = 0; i < 13; i++)
            T_EQ_INT(ts, seen[i], 1);
        if (e > 0)
            T_CHECK(ts, memcmp(a.id + e * 13, a.id + (e - 1) * 13, 13 * sizeof *a.id));
    }
    out_free(&a);
    out_free(&b);
    out_free(&c);
    /* --limit takes the first samples, then shuffles them. */
    snprintf(args, sizeof args, "cifar10 %s/c10 --shuffle --limit 4 --epochs 2", dir);
    T_EQ_INT(ts, ingest(args, &a), 0);
    T_EQ_INT(ts, a.n, 8);
    for (uint64_t i = 0; i < a.n && a.x; i++)
        T_CHECK(ts, a.id[i] >= 0 && a.id[i] < 4 && row_is(&a, i, c10_sample((uint64_t)a.id[i])));
    out_free(&a);
    /* No --shuffle: the same order every epoch. */
    snprintf(args, sizeof args, "cifar10 %s/c10 --epochs 2 --size 8", dir);
    T_EQ_INT(ts, ingest(args, &a), 0);
    T_EQ_INT(ts, a.n, 26);
    T_EQ_INT(ts, a.c * 100 + a.h * 10 + a.w, 388);
    for (uint64_t i = 0; i < a.n && a.x; i++) {
        T_EQ_INT(ts, a.id[i], i % 13);
        T_EQ_INT(ts, a.ep[i], i / 13);
    }
    out_free(&a);
}

int main(int argc, char **argv)
{
    (void)argc;
    t_state ts = {0};
    const char *slash = strrchr(argv[0], '/');
    snprintf(tool, sizeof tool, "%.*s/../bin/cdt-ingest", slash ? (int)(slash - argv[0]) : 1,
             slash ? argv[0] : ".");
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cdt-ds-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(&ts, test_idx);
    T_RUN(&ts, test_cifar10);
    T_RUN(&ts, test_cifar100);
    T_RUN(&ts, test_stl10);
    T_RUN(&ts, test_folder);
    T_RUN(&ts, test_shuffle);
    int rc = T_END(&ts);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
