/* outfile.c: crash-safe output files. The data goes to a temporary file in
 * the destination's folder and is renamed over the destination only once it
 * is complete and on disk, so a killed process never leaves a torn file.
 *
 * A process killed outright (kill -9, the OOM killer, a power cut) leaves its
 * temporary file behind, so each one carries its owner: the name has the
 * writer's pid, ".NAME.PID.XXXXXX", and the writer holds an flock on it
 * while it lives (the kernel drops it when the process dies, however it
 * dies). Opening NAME again removes the temporaries of NAME whose owner is
 * gone: no process with that pid here, and nobody holds the lock (the lock
 * covers a pid since reused or one from another machine sharing the
 * folder). A live writer's temporary is never touched. */
#include "cdt_stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct cdt_outfile {
    int fd;
    char *path, *tmp; /* tmp NULL: written in place (a device or a FIFO) */
};

/* A device or FIFO (/dev/null, a named pipe) is written in place: renaming
 * a temporary file over it would replace the device itself. */
static int open_special(const char *path, cdt_outfile **out)
{
    cdt_outfile *of = calloc(1, sizeof *of);
    if (!of)
        return CDT_ENOMEM;
    of->fd = open(path, O_WRONLY | O_CLOEXEC);
    if (of->fd < 0) {
        free(of);
        return CDT_EIO;
    }
    *out = of;
    return 0;
}

/* If name (in dir) is a temporary of output base, ".base.PID.XXXXXX", its
 * pid; else 0. */
static long temp_owner(const char *name, const char *base)
{
    size_t n = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, n) || name[n + 1] != '.')
        return 0;
    const char *p = name + n + 2;
    long pid = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        pid = pid * 10 + (*p - '0');
        if (pid > 1L << 30)
            return 0;
    }
    if (*p != '.' || strlen(p + 1) != 6)
        return 0;
    return pid;
}

/* Remove dir's temporaries of output base whose owner is gone. Best
 * effort: whatever cannot be read or locked is left alone. */
static void remove_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = temp_owner(e->d_name, base);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dirfd(d), e->d_name, 0);
        close(fd);
    }
    closedir(d);
}

int cdt_outfile_open(const char *path, cdt_outfile **out)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return CDT_EINVAL;
        return open_special(path, out);
    }
    cdt_outfile *of = calloc(1, sizeof *of);
    size_t n = strlen(path);
    char *copy = strdup(path);
    if (of) {
        of->path = strdup(path);
        of->tmp = malloc(n + 32);
    }
    if (!of || !copy || !of->path || !of->tmp) {
        free(copy);
        cdt_outfile_abort(of);
        return CDT_ENOMEM;
    }
    of->fd = -1;
    /* ".NAME.PID.XXXXXX" beside NAME: same file system, so rename is atomic. */
    char *base = strrchr(copy, '/');
    long pid = (long)getpid();
    if (base) {
        *base++ = 0;
        sprintf(of->tmp, "%s/.%s.%ld.XXXXXX", copy, base, pid);
        remove_stale(*copy ? copy : "/", base);
    } else {
        sprintf(of->tmp, ".%s.%ld.XXXXXX", copy, pid);
        remove_stale(".", copy);
    }
    free(copy);
    of->fd = mkstemp(of->tmp);
    if (of->fd >= 0)
        flock(of->fd, LOCK_EX | LOCK_NB); /* where locks fail, the pid alone decides */
    if (of->fd < 0) {
        int e = errno;
        free(of->tmp);
        of->tmp = NULL;
        cdt_outfile_abort(of);
        return e == ENOENT || e == ENOTDIR ? CDT_ENOENT : CDT_EIO;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(of->fd, 0666 & ~mask);
    *out = of;
    return 0;
}

int cdt_outfile_fd(const cdt_outfile *of)
{
    return of->fd;
}

int cdt_outfile_commit(cdt_outfile *of)
{
    int rc = 0;
    if (of->tmp && fsync(of->fd) < 0 && errno != EINVAL)
        rc = CDT_EIO;
    if (close(of->fd) < 0 && !rc)
        rc = CDT_EIO;
    of->fd = -1;
    if (!rc && of->tmp && rename(of->tmp, of->path) < 0)
        rc = CDT_EIO;
    if (rc) {
        cdt_outfile_abort(of);
        return rc;
    }
    free(of->tmp);
    free(of->path);
    free(of);
    return 0;
}

void cdt_outfile_abort(cdt_outfile *of)
{
    if (!of)
        return;
    if (of->fd >= 0)
        close(of->fd);
    if (of->tmp)
        unlink(of->tmp);
    free(of->tmp);
    free(of->path);
    free(of);
}
