/* test_folder.c: cdt-ingest folder on trees made here: nested and flat,
 * mixed-case extensions, a symlink loop, hidden files and folders, a
 * corrupt JPEG and a truncated PNG, labels auto|folders|none, --files, and
 * the path column (every file once, in path order, NUL-padded). */
#include "t.h"
#include "cdt.h"
#include "../fixtures/datasets.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tool[4096], dir[4096];

typedef struct rows {
    uint64_t n;
    int32_t y[64];
    char path[64][512];
    uint8_t first[64];   /* x[i][0][0][0] */
    cdt_meta *meta;
} rows;

/* Run cdt-ingest ARGS (stderr to dir/err), read y, x and path back. */
static int ingest(const char *args, rows *o)
{
    char cmd[32768], out[4200];
    memset(o, 0, sizeof *o);
    snprintf(out, sizeof out, "%s/out.cdt", dir);
    unlink(out);
    snprintf(cmd, sizeof cmd, "cd %s && %s %s -o %s 2>%s/err", dir, tool, args, out, dir);
    int st = system(cmd), rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (rc)
        return rc;
    cdt_reader *r = NULL;
    const cdt_frame *f;
    if (cdt_reader_open_path(out, NULL, &r) < 0) {
        cdt_reader_destroy(r);
        return 200;
    }
    o->meta = cdt_meta_clone(cdt_reader_meta(r));
    while ((rc = cdt_reader_next(r, &f)) > 0) {
        const cdt_tensor *y = cdt_frame_find(f, "y"), *p = cdt_frame_find(f, "path"),
                         *x = cdt_frame_find(f, "x");
        if (!y || !p || !x || p->dtype != CDT_U8 || p->rank != 2 || p->dim[1] >= 512)
            return 202;
        size_t one = (size_t)(x->dim[1] * x->dim[2] * x->dim[3]);
        for (uint64_t i = 0; i < f->rows && o->n < 64; i++, o->n++) {
            o->y[o->n] = ((const int32_t *)y->data)[i];
            o->first[o->n] = ((const uint8_t *)x->data)[i * one];
            const char *s = (const char *)p->data + i * p->dim[1];
            /* NUL-padded: after the first NUL only NULs */
            size_t l = strnlen(s, (size_t)p->dim[1]);
            for (size_t k = l; k < p->dim[1]; k++)
                if (s[k])
                    return 203;
            memcpy(o->path[o->n], s, l);
        }
    }
    cdt_reader_destroy(r);
    return rc < 0 ? 201 : 0;
}

static const char *err_text(void)
{
    static char buf[8192];
    char path[4200];
    snprintf(path, sizeof path, "%s/err", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* A flat grey PNG or JPEG of w x h at dir/rel (folders made on the way). */
static void image(const char *rel, int w, int h, uint8_t v)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0777);
        *s = '/';
    }
    uint8_t *px = malloc((size_t)w * h * 3);
    memset(px, v, (size_t)w * h * 3);
    const char *e = strrchr(rel, '.');
    if (!strcasecmp(e, ".png"))
        fx_png(p, w, h, PNG_COLOR_TYPE_RGB, px, NULL, 0);
    else
        fx_jpeg(p, w, h, px);
    free(px);
}

static void tree(void)
{
    image("t/a/one.png", 8, 6, 10);
    image("t/a/deep/er/two.JPG", 6, 8, 20);
    image("t/b/three.Jpeg", 9, 9, 30);
    image("t/b/four.PNG", 12, 5, 40);
    image("t/.hidden/no.png", 4, 4, 50);
    image("t/b/.no.png", 4, 4, 60);
    char p[4400], q[4400];
    snprintf(p, sizeof p, "%s/t/b/notes.txt", dir);
    fx_write(p, "hello", 5);
    snprintf(p, sizeof p, "%s/t/a/deep/loop", dir);
    snprintf(q, sizeof q, "%s/t", dir);
    if (symlink(q, p) < 0)
        perror("symlink");
    snprintf(p, sizeof p, "%s/t/b/again", dir); /* a second way into a */
    snprintf(q, sizeof q, "../a");
    if (symlink(q, p) < 0)
        perror("symlink");
}

static void test_walk(t_state *ts)
{
    rows o;
    tree();
    T_EQ_INT(ts, ingest("folder t --size 4", &o), 0);
    /* sorted by path; the hidden and the looped never show; a is entered
     * once (through t/a, which sorts before t/b/again) */
    static const char *want[] = {"t/a/deep/er/two.JPG", "t/a/one.png", "t/b/four.PNG",
                                 "t/b/three.Jpeg"};
    T_EQ_INT(ts, o.n, 4);
    for (int i = 0; i < 4 && o.n == 4; i++) {
        T_STR(ts, o.path[i], want[i]);
        T_EQ_INT(ts, o.y[i], i < 2 ? 0 : 1);
    }
    T_NEAR(ts, o.first[0], 20, 2);
    T_NEAR(ts, o.first[3], 30, 2);
    T_STR(ts, cdt_meta_get(o.meta, "class_names"), "a,b");
    T_STR(ts, cdt_meta_get(o.meta, "labels"), "folders");
    cdt_meta_destroy(o.meta);
    /* a trailing slash names the same files */
    T_EQ_INT(ts, ingest("folder t/ --size 4 --labels none", &o), 0);
    T_EQ_INT(ts, o.n, 4);
    T_STR(ts, o.path[1], "t/a/one.png");
    for (int i = 0; i < 4; i++)
        T_EQ_INT(ts, o.y[i], -1);
    T_STR(ts, cdt_meta_get(o.meta, "classes"), "0");
    cdt_meta_destroy(o.meta);
    /* an image at the top: auto gives no labels, folders refuses */
    image("t/top.png", 5, 5, 70);
    T_EQ_INT(ts, ingest("folder t --size 4", &o), 0);
    T_EQ_INT(ts, o.n, 5);
    for (uint64_t i = 0; i < o.n; i++)
        T_EQ_INT(ts, o.y[i], -1);
    T_STR(ts, cdt_meta_get(o.meta, "labels"), "none");
    cdt_meta_destroy(o.meta);
    T_EQ_INT(ts, ingest("folder t --size 4 --labels folders", &o), 65);
    T_CHECK(ts, strstr(err_text(), "t/top.png is in no sub-folder") != NULL);
    /* a flat folder */
    image("flat/z.png", 3, 3, 1);
    image("flat/a.jpg", 3, 3, 2);
    T_EQ_INT(ts, ingest("folder flat", &o), 0);
    T_EQ_INT(ts, o.n, 2);
    T_STR(ts, o.path[0], "flat/a.jpg");
    T_EQ_INT(ts, o.y[0], -1);
    cdt_meta_destroy(o.meta);
}

static void test_bad_files(t_state *ts)
{
    rows o;
    char p[4400];
    image("bad/ok1.png", 6, 6, 100);
    image("bad/ok2.jpg", 6, 6, 110);
    snprintf(p, sizeof p, "%s/bad/corrupt.jpg", dir);
    fx_write(p, "\xff\xd8\xff\xe0 garbage, no JPEG", 22);
    image("bad/cut.png", 40, 40, 5);
    snprintf(p, sizeof p, "%s/bad/cut.png", dir);
    FILE *f = fopen(p, "rb");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    fx_write(p, buf, n - 20);
    T_EQ_INT(ts, ingest("folder bad --size 4", &o), 65);
    T_CHECK(ts, strstr(err_text(), "bad/corrupt.jpg") != NULL);
    T_EQ_INT(ts, ingest("folder bad --size 4 --skip-bad", &o), 0);
    T_EQ_INT(ts, o.n, 2);
    T_STR(ts, o.path[0], "bad/ok1.png");
    T_STR(ts, o.path[1], "bad/ok2.jpg");
    T_NEAR(ts, o.first[1], 110, 2);
    const char *e = err_text();
    T_CHECK(ts, strstr(e, "skipped: bad JPEG") && strstr(e, "(bad/corrupt.jpg)"));
    T_CHECK(ts, strstr(e, "skipped: bad PNG") && strstr(e, "(bad/cut.png)"));
    T_CHECK(ts, strstr(e, "skipped 2 images") != NULL);
    cdt_meta_destroy(o.meta);
    /* Three epochs: the decoded images are kept, a bad file is named once
     * (and counted each time it is met), every epoch has the same rows. */
    T_EQ_INT(ts, ingest("folder bad --size 4 --skip-bad --epochs 3", &o), 0);
    T_EQ_INT(ts, o.n, 6);
    e = err_text();
    const char *once = strstr(e, "(bad/corrupt.jpg)");
    T_CHECK(ts, once && !strstr(once + 1, "(bad/corrupt.jpg)\n"));
    T_CHECK(ts, strstr(e, "skipped 6 images") != NULL);
    for (int i = 2; i < 6 && o.n == 6; i++) {
        T_STR(ts, o.path[i], o.path[i - 2]);
        T_EQ_INT(ts, o.first[i], o.first[i - 2]);
    }
    cdt_meta_destroy(o.meta);
}

static void test_files(t_state *ts)
{
    rows o;
    char p[4400];
    image("l/x/1.png", 4, 4, 1);
    image("l/y/2.png", 4, 4, 2);
    image("l/y/3.png", 4, 4, 3);
    snprintf(p, sizeof p, "%s/list.txt", dir);
    fx_write(p, "l/y/3.png\n\nl/x/1.png\r\nl/y/2.png\n", 32);
    T_EQ_INT(ts, ingest("folder --files list.txt", &o), 0);
    T_EQ_INT(ts, o.n, 3);
    T_STR(ts, o.path[0], "l/y/3.png"); /* the list's order */
    T_STR(ts, o.path[1], "l/x/1.png");
    T_EQ_INT(ts, o.y[0], -1);
    cdt_meta_destroy(o.meta);
    T_EQ_INT(ts, ingest("folder --files list.txt --labels folders", &o), 0);
    T_EQ_INT(ts, o.y[0] * 100 + o.y[1] * 10 + o.y[2], 101);
    T_STR(ts, cdt_meta_get(o.meta, "class_names"), "x,y");
    cdt_meta_destroy(o.meta);
    fx_write(p, "l/x/1.png\nl/gone.png\n", 21);
    T_EQ_INT(ts, ingest("folder --files list.txt", &o), 66);
    T_CHECK(ts, strstr(err_text(), "l/gone.png") != NULL);
    T_EQ_INT(ts, ingest("folder --files list.txt --skip-bad", &o), 0);
    T_EQ_INT(ts, o.n, 1);
    cdt_meta_destroy(o.meta);
}

/* --fit: a 12x6 image whose left and right thirds are dark. */
static void test_fit(t_state *ts)
{
    rows o;
    char p[4400];
    uint8_t px[12 * 6 * 3];
    for (int i = 0; i < 72; i++)
        memset(px + i * 3, (i % 12) < 4 || (i % 12) >= 8 ? 0 : 200, 3);
    mkdir(strcat(strcpy(p, dir), "/fit"), 0777);
    strcat(p, "/w.png");
    fx_png(p, 12, 6, PNG_COLOR_TYPE_RGB, px, NULL, 0);
    T_EQ_INT(ts, ingest("folder fit --size 6", &o), 0);
    T_EQ_INT(ts, o.first[0], 0); /* crop: columns 3..8, the first dark */
    cdt_meta_destroy(o.meta);
    T_EQ_INT(ts, ingest("folder fit --size 6 --fit pad", &o), 0);
    T_EQ_INT(ts, o.first[0], 0);
    T_STR(ts, cdt_meta_get(o.meta, "fit"), "pad");
    cdt_meta_destroy(o.meta);
}

int main(int argc, char **argv)
{
    (void)argc;
    t_state ts = {0};
    const char *slash = strrchr(argv[0], '/');
    char rel[4096];
    snprintf(rel, sizeof rel, "%.*s/../bin/cdt-ingest", slash ? (int)(slash - argv[0]) : 1,
             slash ? argv[0] : ".");
    if (!realpath(rel, tool)) {
        perror(rel);
        return 1;
    }
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/cdt-folder-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    T_RUN(&ts, test_walk);
    T_RUN(&ts, test_bad_files);
    T_RUN(&ts, test_files);
    T_RUN(&ts, test_fit);
    int rc = T_END(&ts);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (rc == 0 && system(cmd) != 0)
        rc = 1;
    return rc;
}
