/* cdt_blas.h: which OpenBLAS kernel ("core") does the work, and whether it
 * is below what the CPU can run.
 *
 * OpenBLAS picks its kernels when it loads, from its own CPU table, or from
 * OPENBLAS_CORETYPE when that is set. An OpenBLAS older than the CPU (Debian
 * 12's 0.3.21 on a 2023 Xeon) does not recognise it and falls back to its
 * SSE3 "Prescott" kernels: sgemm 6x slower than the AVX-512 ones. The rule
 * here names the core to ask for instead; a tool asks for it by setting
 * OPENBLAS_CORETYPE and executing itself again before any work (cli.c), as
 * OpenBLAS reads the variable only when it loads.
 *
 *     cdt_blas_choice c;
 *     cdt_blas_choose(&c);
 *     if (c.want) ... setenv("OPENBLAS_CORETYPE", c.want, 1), re-exec ...
 */
#ifndef CDT_BLAS_H
#define CDT_BLAS_H

/* What the CPU runs, by CPUID and the OS's saved register state. */
enum { CDT_ISA_BASE = 0, CDT_ISA_AVX = 1, CDT_ISA_AVX2 = 2, CDT_ISA_AVX512 = 3 };

typedef struct cdt_blas_choice {
    const char *core;     /* the core OpenBLAS runs now (openblas_get_corename) */
    const char *env;      /* OPENBLAS_CORETYPE, NULL when unset */
    int isa;              /* CDT_ISA_*: AVX512 = F+BW+DQ+VL, AVX2 = AVX2+FMA */
    const char *want;     /* the core to ask for, NULL when nothing is to be done */
} cdt_blas_choice;

/* The ISA level a core's kernels use: -1 for a name the table lacks. */
int cdt_blas_core_isa(const char *core);
/* The rule: with OPENBLAS_CORETYPE unset, a known core below the CPU's
 * level is replaced by "SkylakeX" (AVX-512) or "Haswell" (AVX2+FMA); an
 * unknown name is left alone (it may be newer than this table). NULL when
 * nothing is to be done. */
const char *cdt_blas_want(const char *core, const char *env, int isa);
/* Fills c for this process. CDT_BLAS_DETECTED, when set, stands in for the
 * detected core (tests on machines whose OpenBLAS knows the CPU). */
void cdt_blas_choose(cdt_blas_choice *c);

#endif
