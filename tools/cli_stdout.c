/* cli_stdout.c: every tool's stdout checked at a successful exit.
 *
 * What a tool prints with stdio (--help, --version, listings) waits in
 * stdout's buffer until exit flushes it, and exit drops a failed write
 * without a word: `cdt-cat --help >/dev/full` printed nothing and exited 0.
 * Every tool links this file whole (the Makefile's CLI_EVERY: nothing calls
 * it, so from the helpers' archive no tool would take it); before stdio's own flush at exit, an exit with status 0
 * flushes stdout itself, and when that or an earlier write failed, says so
 * in one line and exits 74 (EX_IO), like every other output path. A reader
 * that went away (EPIPE) ends the tool quietly with 141, as cli_fail does.
 * An exit that already failed keeps its status and its own message. */
#define _GNU_SOURCE /* program_invocation_short_name: the tool's name */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check_stdout(int status, void *unused)
{
    (void)unused;
    if (status != 0)
        return;
    int failed = ferror(stdout);
    errno = 0;
    if (fflush(stdout) != 0)
        failed = 1;
    if (!failed)
        return;
    int e = errno;
    if (e == EPIPE)
        _exit(141);
    fprintf(stderr, "%s: cannot write to stdout: %s\n", program_invocation_short_name,
            e ? strerror(e) : "write error");
    _exit(EX_IO_);
}

/* Registered before main runs, so no tool has to remember it. */
__attribute__((constructor)) static void cli_stdout_register(void)
{
    on_exit(check_stdout, NULL);
}
