/* A whole training run through cdt_run.h alone: steps across frames,
 * checkpoints, a stop signal, a resume that ends in the same bytes as the
 * run that was not stopped, and bad input. */
#include "cdt.h"
#include "cdt_run.h"
#include "t.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

enum { B = 4, S = 8, FRAMES = 5, ROWS = 3 }; /* frames of 3 rows: batches cross frames */

typedef struct feed {
    uint8_t x[FRAMES][ROWS][2][1][S][S];
    int64_t id[FRAMES][ROWS];
    cdt_tensor t[FRAMES][2];
    cdt_frame f[FRAMES];
} feed;

static void make_feed(feed *d)
{
    cdt_rng r;
    cdt_rng_init(&r, 5, 0, 0, 0, 0);
    for (int i = 0; i < FRAMES; i++) {
        uint8_t *p = &d->x[i][0][0][0][0][0];
        for (size_t k = 0; k < sizeof d->x[i]; k++) p[k] = (uint8_t)(cdt_rng_u32(&r) & 0xff);
        for (int j = 0; j < ROWS; j++) d->id[i][j] = i * ROWS + j;
        uint64_t xd[5] = {ROWS, 2, 1, S, S}, idd[1] = {ROWS};
        cdt_tensor_set(&d->t[i][0], "x", CDT_U8, d->x[i], 5, xd);
        cdt_tensor_set(&d->t[i][1], "id", CDT_I64, d->id[i], 1, idd);
        d->f[i] = (cdt_frame){.rows = ROWS, .count = 2, .tensors = d->t[i]};
    }
}

typedef struct watch { volatile sig_atomic_t stop; long stop_at, steps; } watch;

static void on_step(void *ctx, const cdt_run_step *st)
{
    watch *w = ctx;
    w->steps++;
    if (st->step == w->stop_at) w->stop = SIGTERM; // as a handler would, between steps
}

static cdt_run_config config(watch *w, const char *ck)
{
    cdt_run_config c = cdt_run_defaults();
    c.depth = 18, c.stem = CDT_STEM_CIFAR, c.width = 4, c.hidden_dim = 16, c.feature_num = 8;
    c.batch = B, c.total_steps = 3, c.cosine = 1, c.seed = 7, c.raw = 1;
    c.checkpoint = ck;
    c.stop = &w->stop, c.on_step = on_step, c.ctx = w;
    return c;
}

/* Runs c over the frames; the model file's bytes into *out (malloc'd). */
static int run_all(t_state *ts, const cdt_run_config *c, const feed *d, uint8_t **out, size_t *len)
{
    cdt_run *run;
    cdt_meta *meta = cdt_meta_create();
    int rc = cdt_run_create(c, &run);
    T_EQ_INT(ts, rc, 0);
    if (!rc) rc = cdt_run_start(run, meta, &d->f[0]);
    if (rc) fprintf(stderr, "run: %s\n", cdt_run_errmsg(run));
    for (int i = 0; rc == 0 && i < FRAMES; i++) rc = cdt_run_feed(run, &d->f[i]);
    if (rc == 0) rc = cdt_run_end(run);
    *out = NULL;
    if (rc == CDT_RUN_DONE || rc == 0) {
        FILE *f = tmpfile();
        T_EQ_INT(ts, cdt_run_save(run, fileno(f)), 0);
        *len = (size_t)lseek(fileno(f), 0, SEEK_END);
        *out = malloc(*len);
        T_EQ_INT(ts, pread(fileno(f), *out, *len, 0), *len);
        fclose(f);
    }
    if (rc == CDT_RUN_STOPPED) T_EQ_INT(ts, cdt_run_signal(run), SIGTERM);
    cdt_run_destroy(run);
    cdt_meta_destroy(meta);
    return rc;
}

static void test_resume_same_bytes(t_state *ts)
{
    static feed d;
    make_feed(&d);
    char ck[] = "/tmp/test_run_XXXXXX";
    int fd = mkstemp(ck);
    close(fd);
    uint8_t *whole, *resumed, *none;
    size_t n1 = 0, n2 = 0, n3 = 0;
    watch w = {0, -1, 0};
    cdt_run_config c = config(&w, NULL);
    T_EQ_INT(ts, run_all(ts, &c, &d, &whole, &n1), CDT_RUN_DONE);
    T_EQ_INT(ts, w.steps, 3);
    // stopped after step 1: the checkpoint is written, nothing else
    watch w2 = {0, 1, 0};
    c = config(&w2, ck);
    T_EQ_INT(ts, run_all(ts, &c, &d, &none, &n3), CDT_RUN_STOPPED);
    T_CHECK(ts, none == NULL);
    T_EQ_INT(ts, w2.steps, 1);
    // resumed on the same stream: the first 4 rows are skipped, 2 steps run
    watch w3 = {0, -1, 0};
    c = config(&w3, NULL);
    c.resume = ck, c.depth = 0, c.batch = -1, c.total_steps = -1, c.cosine = 0;
    T_EQ_INT(ts, run_all(ts, &c, &d, &resumed, &n2), CDT_RUN_DONE);
    T_EQ_INT(ts, w3.steps, 2);
    T_EQ_INT(ts, n1, n2);
    T_CHECK(ts, whole && resumed && n1 == n2 && !memcmp(whole, resumed, n1));
    // a different stop point, the same end
    watch w4 = {0, 2, 0};
    c = config(&w4, ck);
    T_EQ_INT(ts, run_all(ts, &c, &d, &none, &n3), CDT_RUN_STOPPED);
    c = config(&w3, NULL);
    c.resume = ck;
    free(resumed);
    T_EQ_INT(ts, run_all(ts, &c, &d, &resumed, &n2), CDT_RUN_DONE);
    T_CHECK(ts, whole && resumed && n1 == n2 && !memcmp(whole, resumed, n1));
    free(whole);
    free(resumed);
    unlink(ck);
}

static void test_bad_input(t_state *ts)
{
    static feed d;
    make_feed(&d);
    watch w = {0, -1, 0};
    cdt_run_config c = config(&w, NULL);
    cdt_meta *meta = cdt_meta_create();
    cdt_run *run;
    T_EQ_INT(ts, cdt_run_create(&c, &run), 0);
    T_EQ_INT(ts, cdt_run_start(run, meta, &d.f[0]), 0);
    d.t[1][0].dim[3] = S / 2; // a frame of other images
    T_EQ_INT(ts, cdt_run_feed(run, &d.f[0]), 0);
    T_EQ_INT(ts, cdt_run_feed(run, &d.f[1]), CDT_EDATA);
    T_CHECK(ts, strstr(cdt_run_errmsg(run), "frame 1: x is not u8") != NULL);
    cdt_run_destroy(run);
    // options that exclude each other, and a resume from nothing
    c.init = "a", c.resume = "b";
    T_EQ_INT(ts, cdt_run_create(&c, &run), CDT_EINVAL);
    cdt_run_destroy(run);
    c.init = NULL, c.resume = "/nonexistent/ck.cdt";
    T_EQ_INT(ts, cdt_run_create(&c, &run), 0);
    T_EQ_INT(ts, cdt_run_start(run, meta, &d.f[0]), CDT_ENOENT);
    T_CHECK(ts, strstr(cdt_run_errmsg(run), "nonexistent") != NULL);
    cdt_run_destroy(run);
    // a cosine schedule with nothing to size it
    c = config(&w, NULL);
    c.total_steps = -1;
    T_EQ_INT(ts, cdt_run_create(&c, &run), 0);
    T_EQ_INT(ts, cdt_run_start(run, meta, &d.f[0]), CDT_EINVAL);
    cdt_run_destroy(run);
    cdt_meta_destroy(meta);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_resume_same_bytes);
    T_RUN(&ts, test_bad_input);
    return T_END(&ts);
}
