/* t.h: the smallest test harness. Each test file defines tests as plain
 * functions and calls T_RUN(fn) from main; T_END prints "N passed, N failed"
 * and returns the exit status. A check records a failure and goes on. */
#ifndef CDT_T_H
#define CDT_T_H

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct t_state { int checks, failed, tests, tests_failed; } t_state;

#define T_CHECK(ts, cond) do { (ts)->checks++; if (!(cond)) { (ts)->failed++; \
    fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define T_EQ_INT(ts, a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    (ts)->checks++; if (a_ != b_) { (ts)->failed++; fprintf(stderr, \
    "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, a_, #b, b_); } } while (0)
#define T_NEAR(ts, a, b, tol) do { double a_ = (a), b_ = (b); (ts)->checks++; \
    if (!(fabs(a_ - b_) <= (tol))) { (ts)->failed++; fprintf(stderr, \
    "%s:%d: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, #a, a_, b_, (double)(tol)); } } while (0)
#define T_STR(ts, a, b) do { const char *a_ = (a), *b_ = (b); (ts)->checks++; \
    if (!a_ || !b_ || strcmp(a_, b_)) { (ts)->failed++; fprintf(stderr, \
    "%s:%d: %s = \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)

#define T_RUN(ts, fn) do { int f0_ = (ts)->failed; fn(ts); (ts)->tests++; \
    if ((ts)->failed != f0_) { (ts)->tests_failed++; fprintf(stderr, "FAIL %s\n", #fn); } } while (0)
#define T_END(ts) (printf("%d passed, %d failed\n", (ts)->tests - (ts)->tests_failed, \
    (ts)->tests_failed), (ts)->tests_failed ? 1 : 0)

#endif
