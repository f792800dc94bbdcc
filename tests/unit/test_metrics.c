/* test_metrics.c: NMI, ARI, ACC and the Hungarian method, against values
 * worked out by hand and against scikit-learn (tests/golden/eval/metrics.txt,
 * made by tests/gen/gen_eval_golden.py). */
#include "cdt.h"
#include "t.h"

#include <stdint.h>
#include <stdlib.h>

static int score(const int32_t *c, const int32_t *y, uint64_t n, cdt_scores *s,
                 uint64_t *ignored)
{
    cdt_confusion *cm;
    int rc = cdt_confusion_create(c, y, n, &cm);
    if (rc)
        return rc;
    s->match = NULL;
    rc = cdt_scores_compute(cm, s);
    *ignored = cm->ignored;
    cdt_confusion_destroy(cm);
    return rc;
}

/* Worked by hand: 2x2 table of ones: pairs tp=0, fp=fn=tn=4 (ordered), so
 * ARI = 2(0*4 - 4*4) / (4*8 + 4*8) = -0.5; MI = 0; best matching 2 of 4. */
static void test_hand_independent(t_state *ts)
{
    int32_t c[] = {0, 0, 1, 1}, y[] = {0, 1, 0, 1};
    cdt_scores s;
    uint64_t ign;
    T_EQ_INT(ts, score(c, y, 4, &s, &ign), 0);
    T_NEAR(ts, s.nmi, 0.0, 1e-12);
    T_NEAR(ts, s.ari, -0.5, 1e-12);
    T_NEAR(ts, s.acc, 0.5, 1e-12);
}

/* c = {0,0,1}, y = {0,1,1}: table [[1,1],[0,1]]. H(c) = H(y) = ln3 - 2/3 ln2,
 * MI = 1/3 ln(3/2) + 1/3 ln(3/4) + 1/3 ln(3/2) = ln3 - 4/3 ln2 + ... written
 * out: (1/3)(2 ln(3/2) + ln(3/4)) = (1/3)(3 ln3 - 4 ln2) = ln3 - (4/3) ln2.
 * Ordered pairs: sq=3, tp=0, fp=fn=2, tn=9-2-2-3=2:
 * ARI = 2(0*2 - 4)/((0+2)(2+2)+(0+2)(2+2)) = -0.5. ACC: 2 of 3. */
static void test_hand_three(t_state *ts)
{
    int32_t c[] = {0, 0, 1}, y[] = {0, 1, 1};
    cdt_scores s;
    uint64_t ign;
    T_EQ_INT(ts, score(c, y, 3, &s, &ign), 0);
    double h = log(3.0) - 2.0 / 3.0 * log(2.0), mi = log(3.0) - 4.0 / 3.0 * log(2.0);
    T_NEAR(ts, s.nmi, mi / h, 1e-12);
    T_NEAR(ts, s.ari, -0.5, 1e-12);
    T_NEAR(ts, s.acc, 2.0 / 3.0, 1e-12);
}

static void test_bad_class(t_state *ts)
{
    int32_t c[] = {0, 1}, y[] = {0, -2};
    cdt_confusion *cm = (cdt_confusion *)1;
    T_EQ_INT(ts, cdt_confusion_create(c, y, 2, &cm), CDT_EDATA);
    T_CHECK(ts, cm == NULL);
}

/* Read "key v v v ..." lines of the golden file, case by case. */
static int read_ints(const char *line, int32_t **v, uint64_t *n)
{
    uint64_t cap = 16, k = 0;
    int32_t *a = malloc(cap * sizeof *a);
    const char *p = line;
    char *end;
    for (;;) {
        long x = strtol(p, &end, 10);
        if (end == p)
            break;
        if (k == cap)
            a = realloc(a, (cap *= 2) * sizeof *a);
        a[k++] = (int32_t)x;
        p = end;
    }
    *v = a;
    *n = k;
    return 0;
}

static void test_golden(t_state *ts)
{
    FILE *f = fopen("tests/golden/eval/metrics.txt", "r");
    T_CHECK(ts, f != NULL);
    if (!f)
        return;
    static char line[1 << 16];
    int32_t *c = NULL, *y = NULL;
    uint64_t nc = 0, ny = 0, ign = 0;
    cdt_scores s = {0};
    char name[64] = "";
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        int failed0 = ts->failed;
        double v;
        long iv;
        if (sscanf(line, "case %63s", name) == 1) {
            free(c); free(y); c = y = NULL;
        } else if (line[0] == 'c' && line[1] == ' ') {
            read_ints(line + 2, &c, &nc);
        } else if (line[0] == 'y' && line[1] == ' ') {
            read_ints(line + 2, &y, &ny);
            T_EQ_INT(ts, nc, ny);
            T_EQ_INT(ts, score(c, y, nc, &s, &ign), 0);
        } else if (sscanf(line, "nmi %lf", &v) == 1) {
            T_NEAR(ts, s.nmi, v, 1e-9);
        } else if (sscanf(line, "ari %lf", &v) == 1) {
            T_NEAR(ts, s.ari, v, 1e-9);
        } else if (sscanf(line, "acc %lf", &v) == 1) {
            T_NEAR(ts, s.acc, v, 1e-9);
        } else if (sscanf(line, "ignored %ld", &iv) == 1) {
            T_EQ_INT(ts, ign, iv);
            cases++;
        }
        if (ts->failed != failed0)
            fprintf(stderr, "  (in case %s)\n", name);
    }
    free(c); free(y);
    fclose(f);
    T_CHECK(ts, cases >= 12);
}

/* Brute force over all assignments of min(r,c) pairs: the Hungarian result
 * must cost exactly as little, on random integer matrices of every shape. */
static double best_brute(const double *cost, int r, int c, int row, unsigned used)
{
    if (row == r)
        return 0;
    double best = 1e300;
    int left = 0;
    for (int j = 0; j < c; j++)
        left += !(used >> j & 1);
    if (r - row > left) /* more rows than free columns: this row may sit out */
        best = best_brute(cost, r, c, row + 1, used);
    for (int j = 0; j < c; j++)
        if (!(used >> j & 1)) {
            double v = cost[row * c + j] + best_brute(cost, r, c, row + 1, used | 1u << j);
            if (v < best)
                best = v;
        }
    return best;
}

static void test_hungarian_brute(t_state *ts)
{
    cdt_rng r;
    cdt_rng_init(&r, 7, CDT_RNG_KMEANS, 99, 0, 0);
    double cost[49];
    int match[7];
    for (int trial = 0; trial < 300; trial++) {
        int rows = 1 + (int)cdt_rng_below(&r, 7), cols = 1 + (int)cdt_rng_below(&r, 7);
        for (int i = 0; i < rows * cols; i++)
            cost[i] = (double)cdt_rng_below(&r, trial % 2 ? 5 : 1000) - 10;
        T_EQ_INT(ts, cdt_hungarian(cost, rows, cols, match), 0);
        double got = 0;
        unsigned seen = 0;
        int pairs = 0;
        for (int i = 0; i < rows; i++) {
            if (match[i] < 0)
                continue;
            T_CHECK(ts, match[i] < cols && !(seen >> match[i] & 1));
            seen |= 1u << match[i];
            got += cost[i * cols + match[i]];
            pairs++;
        }
        T_EQ_INT(ts, pairs, rows < cols ? rows : cols);
        T_NEAR(ts, got, best_brute(cost, rows, cols, 0, 0), 1e-9);
    }
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_hand_independent);
    T_RUN(&ts, test_hand_three);
    T_RUN(&ts, test_bad_class);
    T_RUN(&ts, test_golden);
    T_RUN(&ts, test_hungarian_brute);
    return T_END(&ts);
}
