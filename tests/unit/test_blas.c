/* test_blas.c: the rule that picks the OpenBLAS core (cdt_blas.h). */
#include "cdt_blas.h"
#include "t.h"

static void test_core_levels(t_state *ts)
{
    T_EQ_INT(ts, cdt_blas_core_isa("Prescott"), CDT_ISA_BASE);
    T_EQ_INT(ts, cdt_blas_core_isa("Nehalem"), CDT_ISA_BASE);
    T_EQ_INT(ts, cdt_blas_core_isa("Sandybridge"), CDT_ISA_AVX);
    T_EQ_INT(ts, cdt_blas_core_isa("HASWELL"), CDT_ISA_AVX2); // names are case-blind
    T_EQ_INT(ts, cdt_blas_core_isa("Zen"), CDT_ISA_AVX2);
    T_EQ_INT(ts, cdt_blas_core_isa("SkylakeX"), CDT_ISA_AVX512);
    T_EQ_INT(ts, cdt_blas_core_isa("Cooperlake"), CDT_ISA_AVX512);
    T_EQ_INT(ts, cdt_blas_core_isa("SapphireRapids"), CDT_ISA_AVX512);
    T_EQ_INT(ts, cdt_blas_core_isa("Zen9000"), -1);
    T_EQ_INT(ts, cdt_blas_core_isa(NULL), -1);
}

static void test_rule(t_state *ts)
{
    // the case of the issue: a Xeon 0.3.21 does not know falls back to SSE3
    T_STR(ts, cdt_blas_want("Prescott", NULL, CDT_ISA_AVX512), "SkylakeX");
    T_STR(ts, cdt_blas_want("Prescott", "", CDT_ISA_AVX512), "SkylakeX");
    T_STR(ts, cdt_blas_want("Haswell", NULL, CDT_ISA_AVX512), "SkylakeX");
    T_STR(ts, cdt_blas_want("Nehalem", NULL, CDT_ISA_AVX2), "Haswell");
    T_STR(ts, cdt_blas_want("Sandybridge", NULL, CDT_ISA_AVX2), "Haswell");
    // nothing to do: at or above the CPU's level, a variable set, AVX only,
    // or a core name this table does not know (it may be newer)
    T_CHECK(ts, cdt_blas_want("SkylakeX", NULL, CDT_ISA_AVX512) == NULL);
    T_CHECK(ts, cdt_blas_want("Cooperlake", NULL, CDT_ISA_AVX512) == NULL);
    T_CHECK(ts, cdt_blas_want("Haswell", NULL, CDT_ISA_AVX2) == NULL);
    T_CHECK(ts, cdt_blas_want("Prescott", "Haswell", CDT_ISA_AVX512) == NULL);
    T_CHECK(ts, cdt_blas_want("Prescott", "Prescott", CDT_ISA_AVX512) == NULL);
    T_CHECK(ts, cdt_blas_want("Prescott", NULL, CDT_ISA_AVX) == NULL);
    T_CHECK(ts, cdt_blas_want("Prescott", NULL, CDT_ISA_BASE) == NULL);
    T_CHECK(ts, cdt_blas_want("Zen9000", NULL, CDT_ISA_AVX512) == NULL);
}

static void test_choose(t_state *ts)
{
    cdt_blas_choice c;
    cdt_blas_choose(&c);
    T_CHECK(ts, c.core != NULL && c.core[0]);
    T_CHECK(ts, c.isa >= CDT_ISA_BASE && c.isa <= CDT_ISA_AVX512);
    T_CHECK(ts, c.want == cdt_blas_want(c.core, c.env, c.isa));
}

int main(void)
{
    t_state ts = {0};
    T_RUN(&ts, test_core_levels);
    T_RUN(&ts, test_rule);
    T_RUN(&ts, test_choose);
    return T_END(&ts);
}
