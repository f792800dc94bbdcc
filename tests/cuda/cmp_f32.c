/* cmp_f32 [--whole] A B TOL [NAME...]: compares two streams frame by
 * frame: every f32 tensor of A (or only those named) against B's of the
 * same name by relative L2 error ||a - b|| / ||b||, every other tensor byte
 * for byte. --whole: one error per frame over all its f32 tensors together
 * (for tf32/bf16 runs, where a BatchNorm bias near 0 may move the other
 * way under Adam and has no meaningful relative error of its own). Prints
 * the worst; exit 0 when it is within TOL and the rest is equal, 1 when
 * not, 2 on a read error. For the device tests, where two runs are meant
 * to agree within a rounding tolerance, not in bytes. */
#include "cdt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wanted(const char *name, int argc, char **argv)
{
    if (argc <= 3) return 1;
    for (int i = 3; i < argc; i++)
        if (!strcmp(argv[i], name)) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int whole = argc > 1 && !strcmp(argv[1], "--whole");
    argc -= whole, argv += whole;
    if (argc < 4) {
        fprintf(stderr, "usage: cmp_f32 [--whole] A B TOL [NAME...]\n");
        return 2;
    }
    argc -= 1, argv += 1; // argv[0..2]: A B TOL, then names
    cdt_reader *ra = NULL, *rb = NULL;
    if (cdt_reader_open_path(argv[0], NULL, &ra) < 0 || cdt_reader_open_path(argv[1], NULL, &rb) < 0) {
        fprintf(stderr, "cmp_f32: cannot open %s or %s\n", argv[0], argv[1]);
        return 2;
    }
    double tol = atof(argv[2]), worst = 0;
    char worst_name[CDT_MAX_NAME + 32] = "(none)";
    int bad = 0;
    for (uint64_t frame = 0;; frame++) {
        const cdt_frame *fa, *fb;
        int a = cdt_reader_next(ra, &fa), b = cdt_reader_next(rb, &fb);
        if (a < 0 || b < 0) {
            fprintf(stderr, "cmp_f32: read error: %s%s\n", cdt_reader_errmsg(ra), cdt_reader_errmsg(rb));
            return 2;
        }
        if (a != b) {
            fprintf(stderr, "cmp_f32: %s has %s frames\n", argv[0], a ? "more" : "fewer");
            return 1;
        }
        if (!a) break;
        double fd = 0, fs = 0;
        for (uint32_t i = 0; i < fa->count; i++) {
            const cdt_tensor *ta = &fa->tensors[i], *tb = cdt_frame_find(fb, ta->name);
            if (!wanted(ta->name, argc, argv)) continue;
            uint64_t na = 1, nb = 1;
            for (int k = 0; k < ta->rank; k++) na *= ta->dim[k];
            for (int k = 0; tb && k < tb->rank; k++) nb *= tb->dim[k];
            if (!tb || tb->dtype != ta->dtype || na != nb) {
                fprintf(stderr, "cmp_f32: frame %llu: %s missing or of another type/size in %s\n",
                        (unsigned long long)frame, ta->name, argv[1]);
                bad = 1;
                continue;
            }
            if (ta->dtype != CDT_F32) {
                if (memcmp(ta->data, tb->data, na * cdt_dtype_size(ta->dtype))) {
                    fprintf(stderr, "cmp_f32: frame %llu: %s differs\n", (unsigned long long)frame, ta->name);
                    bad = 1;
                }
                continue;
            }
            const float *x = ta->data, *y = tb->data;
            double d = 0, s = 0;
            for (uint64_t k = 0; k < na; k++) {
                d += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
                s += (double)y[k] * y[k];
            }
            fd += d, fs += s;
            double e = s > 0 ? sqrt(d / s) : sqrt(d);
            if (!whole && !(e <= worst)) {
                worst = e;
                snprintf(worst_name, sizeof worst_name, "%s (frame %llu)", ta->name, (unsigned long long)frame);
            }
        }
        double e = fs > 0 ? sqrt(fd / fs) : sqrt(fd);
        if (whole && !(e <= worst)) {
            worst = e;
            snprintf(worst_name, sizeof worst_name, "all of frame %llu", (unsigned long long)frame);
        }
    }
    printf("worst relative error %.3g in %s (tolerance %.3g)\n", worst, worst_name, tol);
    cdt_reader_destroy(ra);
    cdt_reader_destroy(rb);
    return bad || !(worst <= tol);
}
