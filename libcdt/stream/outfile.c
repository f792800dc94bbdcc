/* outfile.c: crash-safe output files. The data goes to a temporary file in
 * the destination's folder and is renamed over the destination only once it
 * is complete and on disk, so a killed process never leaves a torn file. */
#include "cdt_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    /* ".NAME.XXXXXX" beside NAME: same file system, so rename is atomic. */
    char *base = strrchr(copy, '/');
    if (base) {
        *base = 0;
        sprintf(of->tmp, "%s/.%s.XXXXXX", copy, base + 1);
    } else {
        sprintf(of->tmp, ".%s.XXXXXX", copy);
    }
    free(copy);
    of->fd = mkstemp(of->tmp);
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
