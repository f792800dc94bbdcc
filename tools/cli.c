/* cli.c: shared tool plumbing; see cli.h. */
#include "cli.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void vmsg(const char *prog, const char *fmt, va_list ap)
{
    int saved = errno;
    size_t n = strlen(fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    if (n && fmt[n - 1] == ':')
        fprintf(stderr, " %s", strerror(saved));
    fputc('\n', stderr);
}

void cli_die(const char *prog, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(prog, fmt, ap);
    va_end(ap);
    exit(code);
}

void cli_warn(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(prog, fmt, ap);
    va_end(ap);
}

void cli_fail(const char *prog, int rc, const char *detail)
{
    if (rc == CDT_EPIPE)
        exit(141);
    if (!detail || !*detail)
        detail = cdt_strerror(rc);
    fprintf(stderr, "%s: %s\n", prog, detail);
    exit(cdt_exit_code(rc));
}

void cli_version(const char *prog, int verbose)
{
    printf("%s (cdt) %s\n", prog, CDT_VERSION);
    if (verbose) {
        char blas[256], cuda[1024];
        cli_blas_describe(blas, sizeof blas);
        printf("%s\n", blas);
        cdt_comm_probe(cuda, sizeof cuda);
        printf("%s\n", cuda);
        cdt_cuda_probe(cuda, sizeof cuda);
        printf("%s\n", cuda);
    }
}

/* Set in the environment of the second run: the core OpenBLAS detected in
 * the first, so that the tool can say why it runs another. */
#define REEXEC_VAR "CDT_BLAS_REEXEC"

void cli_blas_setup(char **argv)
{
    cdt_blas_choice c;
    cdt_blas_choose(&c);
    if (!c.want || getenv(REEXEC_VAR)) return;
    if (setenv(REEXEC_VAR, c.core, 1) || setenv("OPENBLAS_CORETYPE", c.want, 1)) return;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    // no /proc, or no exec: carry on with the detected kernel
    unsetenv("OPENBLAS_CORETYPE");
    setenv(REEXEC_VAR, "exec failed", 1);
}

int cli_cpu_conv(void)
{
    return cdt_conv2d_kernels_parse(getenv("CDT_CPU_CONV"));
}

void cli_blas_describe(char *buf, size_t len)
{
    static const char *const isa[] = {"SSE only", "AVX", "AVX2+FMA", "AVX-512"};
    cdt_blas_choice c;
    cdt_blas_choose(&c);
    const char *first = getenv(REEXEC_VAR), *core = openblas_get_corename();
    int level = c.isa >= 0 && c.isa <= 3 ? c.isa : 0;
    if (first && !strcmp(first, "exec failed"))
        snprintf(buf, len, "OpenBLAS core %s (below this CPU's %s, but re-executing with "
                 "OPENBLAS_CORETYPE=%s failed)", core, isa[level], c.want ? c.want : "?");
    else if (first && c.env)
        snprintf(buf, len, "OpenBLAS core %s (OpenBLAS detected %s, below this CPU's %s: "
                 "set OPENBLAS_CORETYPE=%s by cdt)", core, first, isa[level], c.env);
    else if (c.env)
        snprintf(buf, len, "OpenBLAS core %s (OPENBLAS_CORETYPE=%s in the environment; "
                 "the CPU has %s)", core, c.env, isa[level]);
    else
        snprintf(buf, len, "OpenBLAS core %s (detected by OpenBLAS; the CPU has %s)",
                 core, isa[level]);
}

int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
    char *end;
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    uint64_t mul = 1;
    switch (*end) {
    case 'K': case 'k': mul = 1ull << 10; end++; break;
    case 'M': case 'm': mul = 1ull << 20; end++; break;
    case 'G': case 'g': mul = 1ull << 30; end++; break;
    case 'T': case 't': mul = 1ull << 40; end++; break;
    default: break;
    }
    if (*end)
        return -1;
    uint64_t r;
    if (cdt_mul_u64(x, mul, &r) || r < lo || r > hi)
        return -1;
    *v = r;
    return 0;
}

int cli_parse_int(const char *s, long lo, long hi, long *v)
{
    char *end;
    if (!s || !*s || *s == ' ')
        return -1;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

int cli_parse_double(const char *s, double lo, double hi, double *v)
{
    char *end;
    if (!s || !*s || *s == ' ')
        return -1;
    errno = 0;
    double x = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(x) || x < lo || x > hi)
        return -1;
    *v = x;
    return 0;
}

uint64_t cli_u64(const char *prog, const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
    uint64_t v;
    if (cli_parse_u64(s, lo, hi, &v))
        cli_die(prog, EX_USAGE_, "bad value for %s: '%s' (expected a whole number %llu..%llu)",
                opt, s, (unsigned long long)lo, (unsigned long long)hi);
    return v;
}

long cli_int(const char *prog, const char *opt, const char *s, long lo, long hi)
{
    long v;
    if (cli_parse_int(s, lo, hi, &v))
        cli_die(prog, EX_USAGE_, "bad value for %s: '%s' (expected a whole number %ld..%ld)",
                opt, s, lo, hi);
    return v;
}

double cli_double(const char *prog, const char *opt, const char *s, double lo, double hi)
{
    double v;
    if (cli_parse_double(s, lo, hi, &v))
        cli_die(prog, EX_USAGE_, "bad value for %s: '%s' (expected a number %g..%g)",
                opt, s, lo, hi);
    return v;
}

void cli_out_open(const char *prog, const char *path, cli_out *o)
{
    o->fd = -1;
    o->file = NULL;
    if (!path || !strcmp(path, "-")) {
        if (isatty(STDOUT_FILENO))
            cli_die(prog, EX_USAGE_, "refusing to write binary data to a terminal (use -o FILE or a pipe)");
        o->fd = STDOUT_FILENO;
        return;
    }
    int rc = cdt_outfile_open(path, &o->file);
    if (rc < 0)
        cli_die(prog, cdt_exit_code(rc), "cannot create %s: %s", path, cdt_strerror(rc));
    o->fd = cdt_outfile_fd(o->file);
}

void cli_out_commit(const char *prog, cli_out *o)
{
    if (o->file) {
        int rc = cdt_outfile_commit(o->file);
        o->file = NULL;
        if (rc < 0)
            cli_die(prog, cdt_exit_code(rc), "cannot finish the output file: %s", cdt_strerror(rc));
        return;
    }
    /* stdout: a full disk or a closed pipe shows up here at the latest. */
    if (fsync(o->fd) < 0 && errno != EINVAL && errno != EROFS && errno != EBADF)
        cli_die(prog, EX_IO_, "write error on stdout:");
}

void cli_out_abort(cli_out *o)
{
    cdt_outfile_abort(o->file);
    o->file = NULL;
}

void cli_reader_opts(const char *prog, const char *name, cdt_reader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->name = name;
    const char *cap = getenv("CDT_MAX_MEMORY");
    if (cap && *cap && cli_parse_u64(cap, 1, CDT_MAX_TENSOR_BYTES, &o->max_tensor_bytes))
        cli_die(prog, EX_USAGE_, "bad CDT_MAX_MEMORY '%s' (expected bytes, K/M/G/T suffix allowed)", cap);
}

cdt_reader *cli_reader_open(const char *prog, const char *path)
{
    cdt_reader_opts ro;
    cdt_reader *r = NULL;
    int stdin_ = !path || !strcmp(path, "-");
    cli_reader_opts(prog, stdin_ ? "stdin" : path, &ro);
    int rc = stdin_ ? cdt_reader_open_fd(STDIN_FILENO, &ro, &r)
                    : cdt_reader_open_path(path, &ro, &r);
    if (rc < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", r ? cdt_reader_errmsg(r) : cdt_strerror(rc));
        cdt_reader_destroy(r);
        cli_fail(prog, rc, msg);
    }
    return r;
}

void cli_writer_opts(const char *prog, int raw, cdt_writer_opts *o)
{
    o->level = 0;
    if (raw)
        return;
    if (cdt_env_compress_level(&o->level) < 0)
        cli_die(prog, EX_USAGE_, "bad CDT_COMPRESS '%s' (expected 0..22)", getenv("CDT_COMPRESS"));
}

int cli_progress_wanted(int forced)
{
    return forced || isatty(STDERR_FILENO);
}

static double clock_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cli_now(void) { return clock_seconds(CLOCK_MONOTONIC); }
double cli_cpu_now(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

int cli_device_kind(const char *prog, const char *s)
{
    int k = cdt_device_parse(s);
    if (k < 0) cli_die(prog, EX_USAGE_, "bad value for --device: '%s' (expected cpu, cuda or auto)", s);
    return k;
}

int cli_precision(const char *prog, const char *s)
{
    int p = cdt_precision_parse(s);
    if (p < 0) cli_die(prog, EX_USAGE_, "bad value for --precision: '%s' (expected fp32, tf32 or bf16)", s);
    return p;
}

cdt_device *cli_device_open(const char *prog, int kind, int precision, int verbose)
{
    char why[1024];
    cdt_device *d;
    int rc = cdt_device_open(kind, precision, &d, why, sizeof why);
    if (rc == CDT_EINVAL) cli_die(prog, EX_USAGE_, "%s", why[0] ? why : "bad --device or --precision");
    if (rc == CDT_ENOMEM) cli_die(prog, EX_SOFT_, "--device: %s", why[0] ? why : "out of memory");
    if (rc < 0) cli_die(prog, EX_UNAVAILABLE_, "--device cuda: %s", why);
    if (verbose && kind == CDT_DEVICE_AUTO) {
        if (cdt_device_kind(d) == CDT_DEVICE_CUDA)
            fprintf(stderr, "%s: --device auto: on %s\n", prog, cdt_device_describe(d));
        else
            fprintf(stderr, "%s: --device auto: on the CPU (%s)\n", prog, why);
    }
    return d;
}
