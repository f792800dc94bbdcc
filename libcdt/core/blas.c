/* blas.c: the OpenBLAS core against the CPU's ISA (see cdt_blas.h). */
#include "cdt_blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>

/* OpenBLAS 0.3.21's x86-64 core names (driver/others/dynamic.c) by the
 * widest vector ISA their sgemm kernels use. */
static const struct { const char *name; int isa; } cores[] = {
    {"Prescott", CDT_ISA_BASE},     {"Core2", CDT_ISA_BASE},       {"Penryn", CDT_ISA_BASE},
    {"Dunnington", CDT_ISA_BASE},   {"Nehalem", CDT_ISA_BASE},     {"Atom", CDT_ISA_BASE},
    {"Opteron", CDT_ISA_BASE},      {"Opteron_SSE3", CDT_ISA_BASE}, {"Barcelona", CDT_ISA_BASE},
    {"Nano", CDT_ISA_BASE},         {"Bobcat", CDT_ISA_BASE},      {"Katmai", CDT_ISA_BASE},
    {"Coppermine", CDT_ISA_BASE},   {"Northwood", CDT_ISA_BASE},   {"Banias", CDT_ISA_BASE},
    {"Sandybridge", CDT_ISA_AVX},   {"Bulldozer", CDT_ISA_AVX},    {"Piledriver", CDT_ISA_AVX},
    {"Steamroller", CDT_ISA_AVX},   {"Excavator", CDT_ISA_AVX2},   {"Haswell", CDT_ISA_AVX2},
    {"Zen", CDT_ISA_AVX2},          {"SkylakeX", CDT_ISA_AVX512},  {"Cooperlake", CDT_ISA_AVX512},
    {"SapphireRapids", CDT_ISA_AVX512},
};

int cdt_blas_core_isa(const char *core)
{
    for (size_t i = 0; core && i < sizeof cores / sizeof *cores; i++)
        if (!strcasecmp(core, cores[i].name)) return cores[i].isa;
    return -1;
}

const char *cdt_blas_want(const char *core, const char *env, int isa)
{
    if (env && *env) return NULL; // the user's (or the machine's) choice stands
    int have = cdt_blas_core_isa(core);
    if (have < 0 || have >= isa) return NULL;
    if (isa >= CDT_ISA_AVX512) return "SkylakeX";
    if (isa >= CDT_ISA_AVX2) return "Haswell";
    return NULL; // AVX alone: Sandybridge's kernels gain little, leave it
}

static int cpu_isa(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return CDT_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CDT_ISA_AVX2;
    if (__builtin_cpu_supports("avx")) return CDT_ISA_AVX;
    return CDT_ISA_BASE;
}

void cdt_blas_choose(cdt_blas_choice *c)
{
    const char *pretend = getenv("CDT_BLAS_DETECTED");
    c->env = getenv("OPENBLAS_CORETYPE");
    c->core = !c->env && pretend && *pretend ? pretend : openblas_get_corename();
    c->isa = cpu_isa();
    c->want = cdt_blas_want(c->core, c->env, c->isa);
}
