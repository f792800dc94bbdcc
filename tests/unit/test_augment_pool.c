/* test_augment_pool: cdt_augmenter_run gives every (row, view) the numbers
 * of (seed, epoch, id, view), whatever the thread count and however the
 * rows are split into calls. */
#include <stdlib.h>
#include <string.h>

#include "cdt.h"
#include "t.h"

enum { N = 23, C = 3, H = 20, W = 18, S = 16, V = 3 };

static void fill(uint8_t *x, size_t n)
{
    unsigned s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (uint8_t)(s >> 16);
    }
}

static void test_pool(t_state *ts)
{
    cdt_augment_opts o = { .size = S, .jitter = 1.0, .color = 1, .blur = 1 };
    size_t in = (size_t)C * H * W, out = (size_t)V * C * S * S;
    uint8_t *x = malloc(N * in), *ref = malloc(N * out), *got = malloc(N * out);
    int64_t id[N];
    int32_t epoch[N];
    fill(x, N * in);
    for (int i = 0; i < N; i++)
        id[i] = 1000 + 7 * i, epoch[i] = i % 3;
    /* The reference: one view at a time, by hand. */
    float *scratch = malloc(cdt_augment_scratch(C, H, W, &o) * sizeof(float));
    for (int i = 0; i < N; i++)
        for (int v = 0; v < V; v++) {
            cdt_rng r;
            cdt_augment_params p;
            cdt_rng_init(&r, 42, CDT_RNG_AUGMENT, (uint64_t)epoch[i], (uint64_t)id[i], (uint64_t)v);
            cdt_augment_draw(&p, &r, H, W, &o);
            cdt_augment_apply(ref + i * out + v * (out / V), x + i * in, C, H, W, &p, &o, scratch);
        }
    int threads[] = {1, 2, 7};
    for (int k = 0; k < 3; k++) {
        cdt_augmenter *a;
        T_EQ_INT(ts, cdt_augmenter_create(&o, C, H, W, V, threads[k], &a), 0);
        memset(got, 0, N * out);
        /* split into uneven calls: 5 rows, then the rest */
        cdt_augmenter_run(a, got, x, id, epoch, 5, 42);
        cdt_augmenter_run(a, got + 5 * out, x + 5 * in, id + 5, epoch + 5, N - 5, 42);
        T_CHECK(ts, !memcmp(got, ref, N * out));
        cdt_augmenter_run(a, got, x, id, NULL, N, 42);
        T_CHECK(ts, memcmp(got, ref, N * out) != 0); /* epochs 1, 2 differ from 0 */
        cdt_augmenter_destroy(a);
    }
    cdt_augmenter *a = NULL;
    T_EQ_INT(ts, cdt_augmenter_create(&o, 2, H, W, V, 1, &a), CDT_EINVAL);
    T_EQ_INT(ts, cdt_augmenter_create(&o, C, H, W, 65, 1, &a), CDT_EINVAL);
    T_CHECK(ts, a == NULL);
    cdt_augmenter_destroy(NULL);
    free(x);
    free(ref);
    free(got);
    free(scratch);
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_pool);
    return T_END(&ts);
}
