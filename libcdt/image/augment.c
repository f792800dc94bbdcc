/* augment.c: the SimCLR view chain of cdt_augment.h and a pool that runs it
 * over many images. The ops themselves are in augment_ops.c. */
#include "cdt_augment.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cdt_core.h"
#include "cdt_resize.h"

/* torchvision's defaults, and the reference's probabilities. */
#define SCALE_HI 1.0
#define RATIO_LO (3.0 / 4.0)
#define RATIO_HI (4.0 / 3.0)
#define P_FLIP 0.5
#define P_JITTER 0.8
#define P_GRAY 0.2
#define P_BLUR 0.5
#define SIGMA_LO 0.1
#define SIGMA_HI 2.0

/* Fisher-Yates, as torch.randperm(4) would give some permutation. */
static void draw_order(int order[4], cdt_rng *r)
{
    for (int i = 0; i < 4; i++)
        order[i] = i;
    for (int i = 3; i > 0; i--) {
        int j = (int)cdt_rng_below(r, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* ColorJitter's ranges: [max(0, 1 - 0.8s), 1 + 0.8s] for the three blends,
 * [-0.2s, 0.2s] for hue. */
static void draw_jitter(cdt_augment_params *p, cdt_rng *r, double s)
{
    double b = 0.8 * s, lo = 1.0 - b > 0.0 ? 1.0 - b : 0.0;
    draw_order(p->order, r);
    p->brightness = cdt_rng_range(r, lo, 1.0 + b);
    p->contrast = cdt_rng_range(r, lo, 1.0 + b);
    p->saturation = cdt_rng_range(r, lo, 1.0 + b);
    p->hue = cdt_rng_range(r, -0.2 * s, 0.2 * s);
}

void cdt_augment_draw(cdt_augment_params *p, cdt_rng *r, int h, int w,
                      const cdt_augment_opts *o)
{
    CDT_ASSERT(p && r && o && h > 0 && w > 0);
    memset(p, 0, sizeof *p);
    cdt_crop_params(p->box, r, h, w, o->crop_lo > 0.0 ? o->crop_lo : CDT_CROP_LO, SCALE_HI, RATIO_LO,
                    RATIO_HI);
    p->flip = cdt_rng_uniform(r) < P_FLIP;
    /* RandomApply keeps the image when p < rand(), so it applies on <=. */
    p->jitter = cdt_rng_uniform(r) <= P_JITTER && o->jitter > 0.0;
    draw_jitter(p, r, o->jitter);
    p->gray = cdt_rng_uniform(r) < P_GRAY && o->color;
    p->blur = cdt_rng_uniform(r) <= P_BLUR && o->blur;
    p->sigma = cdt_rng_range(r, SIGMA_LO, SIGMA_HI);
}

size_t cdt_augment_scratch(int c, int h, int w, const cdt_augment_opts *o)
{
    /* The whole image is the largest crop box, and the resize's scratch
     * grows with the box. The blur runs after the resize, so they share. */
    size_t rs = cdt_resize_scratch(c, h, w, o->size, o->size);
    size_t bl = o->blur ? cdt_blur_scratch(c, o->size, o->size, CDT_BLUR_KERNEL) : 0;
    return rs > bl ? rs : bl;
}

static void apply_jitter(uint8_t *img, int c, int s, const cdt_augment_params *p, int color)
{
    for (int k = 0; k < 4; k++) {
        switch (p->order[k]) {
        case 0: cdt_adjust_brightness_u8(img, c, s, s, p->brightness); break;
        case 1: cdt_adjust_contrast_u8(img, c, s, s, p->contrast); break;
        case 2: if (color) cdt_adjust_saturation_u8(img, c, s, s, p->saturation); break;
        default: if (color) cdt_adjust_hue_u8(img, c, s, s, p->hue); break;
        }
    }
}

void cdt_augment_apply(uint8_t *dst, const uint8_t *src, int c, int h, int w,
                       const cdt_augment_params *p, const cdt_augment_opts *o,
                       float *scratch)
{
    CDT_ASSERT(c == 1 || c == 3);
    int s = o->size, color = o->color && c == 3;
    const int *b = p->box;
    cdt_resize_u8(dst, s, s, src, c, h, w, b[0], b[1], b[2], b[3], scratch);
    if (p->flip)
        cdt_hflip_u8(dst, c, s, s);
    if (p->jitter)
        apply_jitter(dst, c, s, p, color);
    if (p->gray && color)
        cdt_grayscale_u8(dst, c, s, s);
    if (p->blur && o->blur)
        cdt_gaussian_blur_u8(dst, c, s, s, CDT_BLUR_KERNEL, p->sigma, scratch);
}

/* The pool: threads - 1 workers plus the caller share the rows of one run,
 * taking chunks from an atomic counter. Workers sleep on a condition
 * variable between runs: cdt-augment's pool shares the cores with a reader
 * and a writer thread, and spinning waiters (OpenMP's default) would burn
 * the time those need. */
typedef struct job {
    uint8_t *out;
    const uint8_t *x;
    const int64_t *id;
    const int32_t *epoch;
    uint64_t n, seed;
} job;

struct cdt_augmenter {
    cdt_augment_opts o;
    int c, h, w, views, threads;
    size_t scratch_floats;
    float *scratch;         /* (threads, scratch_floats) */
    pthread_t *workers;     /* (threads - 1) */
    int started;            /* workers running */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t generation;    /* bumped for every run */
    int busy;               /* workers still inside the current run */
    int quit;
    job j;
    atomic_uint_fast64_t next; /* first row not yet taken */
};

#define CHUNK 4

static void augment_row(cdt_augmenter *a, uint8_t *out, const uint8_t *x,
                        uint64_t id, uint64_t epoch, uint64_t seed, float *scratch)
{
    size_t view_bytes = (size_t)a->c * (size_t)a->o.size * (size_t)a->o.size;
    for (int v = 0; v < a->views; v++) {
        cdt_rng r;
        cdt_augment_params p;
        cdt_rng_init(&r, seed, CDT_RNG_AUGMENT, epoch, id, (uint64_t)v);
        cdt_augment_draw(&p, &r, a->h, a->w, &a->o);
        cdt_augment_apply(out + (size_t)v * view_bytes, x, a->c, a->h, a->w, &p, &a->o, scratch);
    }
}

/* Take chunks of rows until none are left. */
static void work(cdt_augmenter *a, float *scratch)
{
    const job *j = &a->j;
    size_t in_bytes = (size_t)a->c * (size_t)a->h * (size_t)a->w;
    size_t out_bytes = (size_t)a->views * (size_t)a->c * (size_t)a->o.size * (size_t)a->o.size;
    for (;;) {
        uint64_t lo = atomic_fetch_add(&a->next, CHUNK);
        if (lo >= j->n)
            return;
        uint64_t hi = lo + CHUNK < j->n ? lo + CHUNK : j->n;
        for (uint64_t i = lo; i < hi; i++) {
            uint64_t e = j->epoch ? (uint64_t)(int64_t)j->epoch[i] : 0;
            augment_row(a, j->out + i * out_bytes, j->x + i * in_bytes, (uint64_t)j->id[i],
                        e, j->seed, scratch);
        }
    }
}

typedef struct worker_arg { cdt_augmenter *a; int index; } worker_arg;

static void *worker_main(void *arg)
{
    cdt_augmenter *a = ((worker_arg *)arg)->a;
    int index = ((worker_arg *)arg)->index;
    free(arg);
    float *scratch = a->scratch + (size_t)index * a->scratch_floats;
    uint64_t seen = 0;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->quit && a->generation == seen)
            pthread_cond_wait(&a->go, &a->mu);
        if (a->quit)
            break;
        seen = a->generation;
        pthread_mutex_unlock(&a->mu);
        work(a, scratch);
        pthread_mutex_lock(&a->mu);
        if (--a->busy == 0)
            pthread_cond_signal(&a->done);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static int start_workers(cdt_augmenter *a)
{
    if (!(a->workers = calloc((size_t)a->threads, sizeof *a->workers)))
        return CDT_ENOMEM;
    for (int i = 1; i < a->threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa)
            return CDT_ENOMEM;
        *wa = (worker_arg){a, i};
        if (pthread_create(&a->workers[i - 1], NULL, worker_main, wa)) {
            free(wa);
            return CDT_ENOMEM;
        }
        a->started++;
    }
    return 0;
}

int cdt_augmenter_create(const cdt_augment_opts *o, int c, int h, int w, int views,
                         int threads, cdt_augmenter **out)
{
    *out = NULL;
    if ((c != 1 && c != 3) || h <= 0 || w <= 0 || o->size <= 0 ||
        views < 1 || views > CDT_MAX_VIEWS || threads < 1 || o->jitter < 0.0 ||
        o->crop_lo < 0.0 || o->crop_lo > 1.0)
        return CDT_EINVAL;
    cdt_augmenter *a = calloc(1, sizeof *a);
    if (!a)
        return CDT_ENOMEM;
    a->o = *o;
    a->c = c, a->h = h, a->w = w, a->views = views, a->threads = threads;
    a->scratch_floats = cdt_augment_scratch(c, h, w, o);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->go, NULL);
    pthread_cond_init(&a->done, NULL);
    atomic_init(&a->next, 0);
    uint64_t total;
    int rc = 0;
    if (cdt_mul_u64(a->scratch_floats, (uint64_t)threads * sizeof(float), &total) ||
        total > SIZE_MAX || !(a->scratch = malloc((size_t)total)))
        rc = CDT_ENOMEM;
    if (rc == 0)
        rc = start_workers(a);
    if (rc < 0) {
        cdt_augmenter_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

void cdt_augmenter_destroy(cdt_augmenter *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->quit = 1;
    pthread_cond_broadcast(&a->go);
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < a->started; i++)
        pthread_join(a->workers[i], NULL);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->go);
    pthread_cond_destroy(&a->done);
    free(a->workers);
    free(a->scratch);
    free(a);
}

void cdt_augmenter_run(cdt_augmenter *a, uint8_t *out, const uint8_t *x,
                       const int64_t *id, const int32_t *epoch, uint64_t n,
                       uint64_t seed)
{
    pthread_mutex_lock(&a->mu);
    a->j = (job){out, x, id, epoch, n, seed};
    atomic_store(&a->next, 0);
    a->busy = a->started;
    a->generation++;
    pthread_cond_broadcast(&a->go);
    pthread_mutex_unlock(&a->mu);
    work(a, a->scratch);                 /* the caller is thread 0 */
    pthread_mutex_lock(&a->mu);
    while (a->busy > 0)
        pthread_cond_wait(&a->done, &a->mu);
    pthread_mutex_unlock(&a->mu);
}
