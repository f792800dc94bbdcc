/* eval.h: private to eval/ and its tests (reached by path): k-means with
 * its internals exposed, so that a test can check that Hamerly's bounds
 * give exactly the labels of a pass over every distance, on every kernel. */
#ifndef CDT_EVAL_PRIVATE_H
#define CDT_EVAL_PRIVATE_H

#include "cdt_eval.h"

/* The distance kernels of kmeans.c: all give the same bits. */
enum { CDT_KM_ISA_AUTO = -1, CDT_KM_ISA_PLAIN = 0, CDT_KM_ISA_AVX2 = 2, CDT_KM_ISA_AVX512 = 3 };

/* cdt_kmeans with bounds = 0 (compute every distance in every pass) or 1
 * (Hamerly's bounds, what cdt_kmeans does), on the kernel for isa;
 * CDT_EINVAL also when the CPU lacks that ISA. */
int cdt_kmeans_ex(const float *x, uint64_t n, int d, const cdt_kmeans_opts *o,
                  int32_t *labels, float *centroids, cdt_kmeans_result *res, int bounds,
                  int isa);

#endif
