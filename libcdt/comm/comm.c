/* comm.c: the job's communicator (cdt_comm.h): loading the transport
 * library, and the deterministic sums built on its gather and all-to-all. */
#include "cdt_comm.h"
#include "cdt_core.h"
#include "comm/comm_i.h"
#include "core/plugin.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdt_comm {
    const cdt_comm_i *i;
    void *ctx;
    void *scratch;            /* grown on demand, for the sums; then reused */
    size_t scratch_bytes;
    double seconds;           /* in collectives */
    char desc[PATH_MAX + 300];
    char err[256];
};

int cdt_comm_parse(const char *s)
{
    static const char *const names[] = {"auto", "mpi", "nccl"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int cdt_comm_launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;
        if (v && *v && !*end && n >= 1 && n <= INT_MAX) return (int)n;
    }
    return 1;
}

int cdt_comm_open(int kind, cdt_comm **out, char *why, size_t whylen)
{
    *out = NULL;
    if (whylen) why[0] = 0;
    if (kind < CDT_COMM_AUTO || kind > CDT_COMM_NCCL) return CDT_EINVAL;
    int launched = cdt_comm_launched_size();
    if (kind == CDT_COMM_AUTO && launched == 1 && !getenv("OMPI_COMM_WORLD_RANK") &&
        !getenv("PMI_RANK"))
        return 0;
    // NCCL (the device's collectives, cdt_device_collectives) needs MPI too: for its id
    char where[PATH_MAX + 64], lwhy[PATH_MAX + 256];
    // global: Open MPI loads components of its own that look for libmpi's symbols
    void *lib = cdt_plugin_open("CDT_MPI_LIB", "libcdt_mpi.so", RTLD_NOW | RTLD_GLOBAL,
                                "cdt was built without MPI: install libopenmpi-dev and rebuild",
                                where, sizeof where, lwhy, sizeof lwhy);
    if (!lib) {
        snprintf(why, whylen, "%s", lwhy);
        return CDT_ENOENT;
    }
    cdt_comm_open_fn *entry;
    *(void **)&entry = dlsym(lib, CDT_COMM_MPI_SYMBOL);
    if (!entry) {
        snprintf(why, whylen, "%s has no %s: not a cdt MPI library", where, CDT_COMM_MPI_SYMBOL);
        return CDT_ENOENT;
    }
    cdt_comm *c = calloc(1, sizeof *c);
    if (!c) return CDT_ENOMEM;
    int rc = entry(CDT_COMM_ABI, &c->i, &c->ctx, why, whylen);
    if (rc < 0 || !c->i || c->i->abi != CDT_COMM_ABI) {
        if (rc == 0) snprintf(why, whylen, "%s answered with a table of another ABI", where);
        free(c);
        return rc == CDT_ENOMEM ? rc : CDT_ENOENT;
    }
    snprintf(c->desc, sizeof c->desc, "%s (%s, %s), rank %d of %d", c->i->name,
             c->i->describe(c->ctx), where, c->i->rank, c->i->size);
    *out = c; // the library stays mapped: MPI registers exit handlers (as cdt_device_close)
    return 0;
}

void cdt_comm_close(cdt_comm *c)
{
    if (!c) return;
    c->i->finalize(c->ctx);
    free(c->scratch);
    free(c);
}

int cdt_comm_rank(const cdt_comm *c) { return c ? c->i->rank : 0; }
int cdt_comm_size(const cdt_comm *c) { return c ? c->i->size : 1; }
int cdt_comm_local_rank(const cdt_comm *c) { return c ? c->i->local_rank : 0; }
const char *cdt_comm_describe(const cdt_comm *c) { return c ? c->desc : "one process"; }
double cdt_comm_seconds(const cdt_comm *c) { return c ? c->seconds : 0; }

const char *cdt_comm_errmsg(const cdt_comm *c)
{
    if (!c) return "";
    return c->err[0] ? c->err : c->i->errmsg(c->ctx);
}

/* Scratch of at least `bytes`, kept for the next call. */
static void *scratch(cdt_comm *c, size_t bytes)
{
    if (bytes <= c->scratch_bytes) return c->scratch;
    void *p = realloc(c->scratch, bytes);
    if (!p) {
        snprintf(c->err, sizeof c->err, "out of memory for %zu bytes of exchange buffers", bytes);
        return NULL;
    }
    c->scratch = p;
    c->scratch_bytes = bytes;
    return p;
}

/* size * bytes without overflow, or 0 */
static size_t times_size(const cdt_comm *c, size_t bytes)
{
    size_t w = (size_t)c->i->size;
    return bytes > SIZE_MAX / w / 3 ? 0 : w * bytes;
}

int cdt_comm_allgather(cdt_comm *c, void *recv, const void *send, size_t bytes)
{
    double t = cdt_now();
    int rc = c->i->allgather(c->ctx, recv, send, bytes);
    c->seconds += cdt_now() - t;
    return rc;
}

int cdt_comm_bcast(cdt_comm *c, void *buf, size_t bytes, int root)
{
    double t = cdt_now();
    int rc = c->i->bcast(c->ctx, buf, bytes, root);
    c->seconds += cdt_now() - t;
    return rc;
}

int cdt_comm_sum_f32(cdt_comm *c, float *x, size_t n)
{
    int w = c->i->size;
    if (w == 1 || n == 0) return 0;
    size_t chunk = (n + (size_t)w - 1) / (size_t)w, all = times_size(c, chunk * sizeof(float));
    float *send = all ? scratch(c, 3 * all) : NULL;
    if (!all) snprintf(c->err, sizeof c->err, "a sum of %zu values is too large", n);
    if (!send) return all ? CDT_ENOMEM : CDT_ELIMIT;
    float *recv = send + (size_t)w * chunk, *sum = recv + (size_t)w * chunk;
    c->err[0] = 0;
    double t = cdt_now();
    memcpy(send, x, n * sizeof(float));
    memset(send + n, 0, ((size_t)w * chunk - n) * sizeof(float));
    // rank r adds slice r over every rank, in rank order, then all gather
    int rc = c->i->alltoall(c->ctx, recv, send, chunk * sizeof(float));
    if (rc == 0) {
        float *mine = send; // free again: the slice's sum goes here
        for (size_t k = 0; k < chunk; k++) {
            float s = recv[k];
            for (int q = 1; q < w; q++) s += recv[(size_t)q * chunk + k];
            mine[k] = s;
        }
        rc = c->i->allgather(c->ctx, sum, mine, chunk * sizeof(float));
    }
    if (rc == 0) memcpy(x, sum, n * sizeof(float));
    c->seconds += cdt_now() - t;
    return rc;
}

/* Every rank's x (n elements of elem bytes), in rank order, in the
 * scratch; NULL with rc set on failure. */
static void *gather_all(cdt_comm *c, const void *x, size_t n, size_t elem, int *rc)
{
    size_t all = times_size(c, n * elem);
    void *g = all ? scratch(c, all) : NULL;
    if (!all) snprintf(c->err, sizeof c->err, "an exchange of %zu values is too large", n);
    if (!g) {
        *rc = all ? CDT_ENOMEM : CDT_ELIMIT;
        return NULL;
    }
    c->err[0] = 0;
    *rc = c->i->allgather(c->ctx, g, x, n * elem);
    return *rc ? NULL : g;
}

int cdt_comm_sum_f64(cdt_comm *c, double *x, size_t n)
{
    int w = c->i->size, rc;
    if (w == 1 || n == 0) return 0;
    double t = cdt_now();
    const double *g = gather_all(c, x, n, sizeof(double), &rc);
    for (size_t k = 0; g && k < n; k++) {
        double s = g[k];
        for (int q = 1; q < w; q++) s += g[(size_t)q * n + k];
        x[k] = s;
    }
    c->seconds += cdt_now() - t;
    return rc;
}

int cdt_comm_max_i64(cdt_comm *c, int64_t *x, size_t n)
{
    int w = c->i->size, rc;
    if (w == 1 || n == 0) return 0;
    double t = cdt_now();
    const int64_t *g = gather_all(c, x, n, sizeof(int64_t), &rc);
    for (size_t k = 0; g && k < n; k++)
        for (int q = 1; q < w; q++)
            if (g[(size_t)q * n + k] > x[k]) x[k] = g[(size_t)q * n + k];
    c->seconds += cdt_now() - t;
    return rc;
}

int cdt_comm_probe(char *what, size_t len)
{
    char where[PATH_MAX + 64], why[PATH_MAX + 256];
    void *lib = cdt_plugin_open("CDT_MPI_LIB", "libcdt_mpi.so", RTLD_LAZY | RTLD_LOCAL,
                                "cdt was built without MPI: install libopenmpi-dev and rebuild",
                                where, sizeof where, why, sizeof why);
    if (lib && !dlsym(lib, CDT_COMM_MPI_SYMBOL)) {
        snprintf(why, sizeof why, "%s has no %s: not a cdt MPI library", where, CDT_COMM_MPI_SYMBOL);
        lib = NULL;
    }
    if (!lib) {
        snprintf(what, len, "MPI: not available: %s", why);
        return 0;
    }
    snprintf(what, len, "MPI: available: %s (run under mpirun for data-parallel training)", where);
    return 1; // the library stays mapped, as cdt_comm_open leaves it
}

void cdt_comm_abort(cdt_comm *c, int code)
{
    if (c) c->i->abort(c->ctx, code);
}
