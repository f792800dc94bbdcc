/* comm_mpi.c: libcdt_mpi.so, the MPI transport of cdt_comm.h (comm_i.h's
 * table over MPI_COMM_WORLD). Built with mpicc when it is found; loaded
 * at run time by comm.c, so nothing else links MPI. Errors return
 * (MPI_ERRORS_RETURN) so that the tool prints them its own way; a rank
 * that dies makes the launcher end the others. */
#include "cdt_core.h"
#include "comm/comm_i.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mpi_ctx {
    cdt_comm_i table;          /* this process's copy: rank and size are in it */
    char version[MPI_MAX_LIBRARY_VERSION_STRING + 32];
    char err[MPI_MAX_ERROR_STRING + 64];
} mpi_ctx;

static int fail(mpi_ctx *c, const char *what, int code)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, s, &len) != MPI_SUCCESS) snprintf(s, sizeof s, "code %d", code);
    snprintf(c->err, sizeof c->err, "MPI_%s: %s", what, s);
    return CDT_EIO;
}

static int too_big(mpi_ctx *c, size_t bytes)
{
    snprintf(c->err, sizeof c->err, "%zu bytes in one MPI call: more than %d", bytes, INT_MAX);
    return CDT_ELIMIT;
}

static const char *m_describe(void *ctx) { return ((mpi_ctx *)ctx)->version; }
static const char *m_errmsg(void *ctx) { return ((mpi_ctx *)ctx)->err; }

static int m_allgather(void *ctx, void *recv, const void *send, size_t bytes)
{
    mpi_ctx *c = ctx;
    if (bytes > INT_MAX) return too_big(c, bytes);
    int rc = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(c, "Allgather", rc);
}

static int m_alltoall(void *ctx, void *recv, const void *send, size_t bytes)
{
    mpi_ctx *c = ctx;
    if (bytes > INT_MAX) return too_big(c, bytes);
    int rc = MPI_Alltoall(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(c, "Alltoall", rc);
}

static int m_bcast(void *ctx, void *buf, size_t bytes, int root)
{
    mpi_ctx *c = ctx;
    if (bytes > INT_MAX) return too_big(c, bytes);
    int rc = MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : fail(c, "Bcast", rc);
}

static void m_abort(void *ctx, int code)
{
    (void)ctx;
    MPI_Abort(MPI_COMM_WORLD, code);
}

static void m_finalize(void *ctx)
{
    int done = 0;
    MPI_Finalized(&done);
    if (!done) MPI_Finalize();
    free(ctx);
}

int cdt_comm_mpi_open(int abi, const cdt_comm_i **table, void **ctx, char *err, size_t errlen)
{
    *table = NULL;
    *ctx = NULL;
    if (abi != CDT_COMM_ABI) {
        snprintf(err, errlen, "libcdt_mpi.so speaks comm ABI %d, this program ABI %d "
                 "(install the library of the same cdt version)", CDT_COMM_ABI, abi);
        return CDT_EINVAL;
    }
    mpi_ctx *c = calloc(1, sizeof *c);
    if (!c) return CDT_ENOMEM;
    int provided, rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) {
        fail(c, "Init_thread", rc);
        snprintf(err, errlen, "%s", c->err);
        free(c);
        return CDT_EIO;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    cdt_comm_i *t = &c->table;
    t->abi = CDT_COMM_ABI;
    t->name = "mpi";
    MPI_Comm_rank(MPI_COMM_WORLD, &t->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &t->size);
    MPI_Comm local;
    t->local_rank = t->rank;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, t->rank, MPI_INFO_NULL,
                            &local) == MPI_SUCCESS) {
        MPI_Comm_rank(local, &t->local_rank);
        MPI_Comm_free(&local);
    }
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    v[strcspn(v, ",\n")] = 0; // "Open MPI v4.1.4, package: ..." -> its first part
    snprintf(c->version, sizeof c->version, "%s", v);
    t->describe = m_describe;
    t->errmsg = m_errmsg;
    t->allgather = m_allgather;
    t->alltoall = m_alltoall;
    t->bcast = m_bcast;
    t->abort = m_abort;
    t->finalize = m_finalize;
    *table = t;
    *ctx = c;
    return 0;
}
