/* comm_i.h: the table a transport library (libcdt_mpi.so) fills: the few
 * collectives the rest is built from (comm.c), over host memory. Private
 * to libcdt and the transport libraries, which are built against this
 * very header: CDT_COMM_ABI changes whenever the table does.
 *
 * Every call returns 0 or a negative CDT_E* code (errmsg says why); sizes
 * are in bytes, the same on every process; buffers never overlap. */
#ifndef CDT_COMM_I_H
#define CDT_COMM_I_H

#include <stddef.h>

#define CDT_COMM_ABI 1

typedef struct cdt_comm_i {
    int abi;                   /* CDT_COMM_ABI of whoever filled the table */
    const char *name;          /* "mpi" */
    int rank, size, local_rank; /* of this process */
    const char *(*describe)(void *ctx);   /* "Open MPI v4.1.4, ..." */
    const char *(*errmsg)(void *ctx);
    /* recv (size * bytes) = every process's send, in rank order */
    int (*allgather)(void *ctx, void *recv, const void *send, size_t bytes);
    /* process j gets block i of process i's send in its block i; send and
     * recv hold size blocks of `bytes` */
    int (*alltoall)(void *ctx, void *recv, const void *send, size_t bytes);
    int (*bcast)(void *ctx, void *buf, size_t bytes, int root);
    /* ends every process of the job with this exit status */
    void (*abort)(void *ctx, int code);
    /* the last call; ctx is gone after it */
    void (*finalize)(void *ctx);
} cdt_comm_i;

/* The one entry point of a transport library, looked up by comm.c. On
 * failure err holds one line: why. */
typedef int cdt_comm_open_fn(int abi, const cdt_comm_i **table, void **ctx, char *err,
                             size_t errlen);
#define CDT_COMM_MPI_SYMBOL "cdt_comm_mpi_open"

#endif
