/* cli.h: what every cdt tool shares and libcdt must not do: print, exit,
 * parse numbers from the command line, pick stdin/stdout. */
#ifndef CDT_CLI_H
#define CDT_CLI_H

#include <stdint.h>
#include "cdt.h"

/* sysexits.h values, named here so tools need not include it. */
enum { EX_USAGE_ = 64, EX_DATA_ = 65, EX_NOINPUT_ = 66, EX_UNAVAILABLE_ = 69, EX_SOFT_ = 70,
       EX_IO_ = 74 };

/* "PROG: message" on stderr and exit(code). A format ending in ':' gets
 * ": strerror(errno)" appended. */
void cli_die(const char *prog, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void cli_warn(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Report a libcdt failure: "PROG: detail" (detail falls back to
 * cdt_strerror(rc)) and exit with cdt_exit_code(rc). A reader that went
 * away (CDT_EPIPE) ends the tool quietly with status 141. */
void cli_fail(const char *prog, int rc, const char *detail) __attribute__((noreturn));
/* "PROG (cdt) 0.1.0" on stdout; verbose adds the BLAS core in use and
 * whether CUDA is available, and why not. */
void cli_version(const char *prog, int verbose);

/* Before any work in a tool that uses BLAS: when OpenBLAS runs a kernel
 * below the CPU's ISA (cdt_blas.h) and OPENBLAS_CORETYPE is unset, set it
 * and execute this program again with the same arguments. Returns when
 * nothing is to be done, or when the exec fails (the tool then runs on
 * the detected kernel, and cli_blas_describe says so). */
void cli_blas_setup(char **argv);
/* One line: "OpenBLAS core X (why)". */
void cli_blas_describe(char *buf, size_t len);
/* The CPU convolutions' kernels for cdt_model_config.cpu_conv, from
 * $CDT_CPU_CONV (read here, once, so that libcdt never does). */
int cli_cpu_conv(void);

/* Numbers: decimal, optional K/M/G/T suffix (powers of 1024) for the
 * unsigned form; reject junk, overflow and out-of-range values: 0 or -1. */
int cli_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *v);
int cli_parse_int(const char *s, long lo, long hi, long *v);
int cli_parse_double(const char *s, double lo, double hi, double *v);
/* The same, dying with "PROG: bad value for OPT: 'S' (expected ...)" (64). */
uint64_t cli_u64(const char *prog, const char *opt, const char *s, uint64_t lo, uint64_t hi);
long cli_int(const char *prog, const char *opt, const char *s, long lo, long hi);
double cli_double(const char *prog, const char *opt, const char *s, double lo, double hi);

/* Where a tool's binary output goes: a file (written crash-safe, committed
 * at the end) or stdout (refused when it is a terminal). */
typedef struct cli_out {
    int fd;
    cdt_outfile *file; /* NULL for stdout */
} cli_out;
void cli_out_open(const char *prog, const char *path, cli_out *o);
void cli_out_commit(const char *prog, cli_out *o);  /* dies on failure */
void cli_out_abort(cli_out *o);

/* Open the input stream: path NULL or "-" is stdin. Dies on failure. */
cdt_reader *cli_reader_open(const char *prog, const char *path);
/* Reader options every tool honours: CDT_MAX_MEMORY caps one tensor. */
void cli_reader_opts(const char *prog, const char *name, cdt_reader_opts *o);
/* Writer options from CDT_COMPRESS, or raw when raw != 0. */
void cli_writer_opts(const char *prog, int raw, cdt_writer_opts *o);

/* Progress on stderr: on when stderr is a terminal or forced. */
int cli_progress_wanted(int forced);
/* Seconds on the monotonic clock, for rates and progress. */
double cli_now(void);
/* The process's CPU seconds so far (every thread, user and system). */
double cli_cpu_now(void);
/* --device cpu|cuda|auto and --precision fp32|tf32|bf16 -> CDT_DEVICE_*,
 * CDT_PRECISION_*; anything else dies (64). */
int cli_device_kind(const char *prog, const char *s);
int cli_precision(const char *prog, const char *s);
/* Opens the device. cuda that cannot be had: one line saying why (library
 * not found, no device, the driver's words) and exit 69; tf32/bf16 on the
 * CPU: exit 64. auto: with verbose, says once on stderr where it runs and
 * why. */
cdt_device *cli_device_open(const char *prog, int kind, int precision, int verbose);

#endif
