/* real.h: the scalar type of the layer code. Every layer file in nn/cpu/ is
 * written once over `real` and compiled twice: on its own as float (the
 * production build), and included by f64.c with CDT_NN_F64 defined as
 * double, where NN(name) appends _f64. The double twins exist so that tests
 * can check backward passes against central finite differences to 1e-6,
 * which float rounding would not allow. <tgmath.h> picks expf/exp etc. by
 * argument type so the bodies need no per-type math calls. */
#ifndef CDT_NN_REAL_H
#define CDT_NN_REAL_H

#include <cblas.h>
#include <tgmath.h>

#ifdef CDT_NN_F64
#include "nn_f64.h"
typedef double real;
#define NN(name) name##_f64
#define GEMM cblas_dgemm
#else
typedef float real;
#define NN(name) name
#define GEMM cblas_sgemm
#endif

/* Work, in elements touched, below which a loop stays serial. An OpenMP
 * region's threads spin for a while after it ends, and take cores from
 * OpenBLAS's threads in the gemm that follows: on a ResNet18 step, regions
 * on every layer cost 70% more CPU time than none. Only the large early
 * layers are worth a region. */
#define NN_OMP_MIN ((size_t)1 << 20)
/* The same for the passes that only stream memory (batch norm, ReLU, the
 * residual add) once the convolutions no longer leave OpenBLAS threads to
 * fight: ResNet18's small late layers too, or a second core waits. */
#ifndef NN_OMP_PASS
#define NN_OMP_PASS ((size_t)1 << 15)
#endif

/* A function that is vector code, built also for AVX2 and AVX-512 and
 * picked by the CPU at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_CLONES
#endif

#endif
