/* fake_nccl.c: a stand-in for libnccl.so.2 in the CPU emulation of the
 * GPU, where device memory is host memory: the calls libcdt/nn/cuda/nccl.cu
 * makes, over MPI_COMM_WORLD (which the process's libcdt_mpi.so has
 * initialised), synchronously: the emulated stream runs each call as it
 * is made. Loaded through CDT_NCCL_LIB by tests/cuda/test_device_mpi.sh;
 * for tests only. It checks what NCCL would refuse: a comm of another
 * size or rank than MPI's, a type it does not know.
 *
 * NCCL keeps its group (ncclGroupStart .. ncclGroupEnd) per thread, with
 * no handle to carry it; so does this stand-in: the one piece of state
 * outside a call, thread-local, as the API it imitates requires. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char internal[128]; } ncclUniqueId;
typedef struct fake_comm { int rank, world; } *ncclComm_t;
typedef void *cudaStream_t;
enum { OK = 0, SYSTEM_ERROR = 2, INVALID_ARGUMENT = 4, MAX_OPS = 256 };

typedef struct pending { int send, peer; void *buf; int bytes; } pending;
static _Thread_local struct { int depth, n; pending op[MAX_OPS]; } group;

static int type_bytes(int type)
{
    switch (type) {
    case 0: return 1;   /* ncclInt8 */
    case 7: return 4;   /* ncclFloat32 */
    case 8: return 8;   /* ncclFloat64 */
    default: return 0;
    }
}

const char *ncclGetErrorString(int r)
{
    return r == INVALID_ARGUMENT ? "invalid argument (fake NCCL)" : "system error (fake NCCL)";
}

int ncclGetUniqueId(ncclUniqueId *id)
{
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "fake-nccl");
    return OK;
}

int ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank)
{
    int r, w, init = 0;
    MPI_Initialized(&init);
    if (!init || strcmp(id.internal, "fake-nccl")) return INVALID_ARGUMENT;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &w);
    if (r != rank || w != nranks) return INVALID_ARGUMENT;
    if (!(*comm = malloc(sizeof **comm))) return SYSTEM_ERROR;
    (*comm)->rank = rank;
    (*comm)->world = nranks;
    return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? OK : SYSTEM_ERROR;
}

int ncclCommDestroy(ncclComm_t comm)
{
    free(comm);
    return OK;
}

int ncclAllGather(const void *send, void *recv, size_t count, int type, ncclComm_t comm,
                  cudaStream_t stream)
{
    (void)stream;
    size_t bytes = count * (size_t)type_bytes(type);
    if (!comm || !type_bytes(type) || bytes > 0x7fffffff) return INVALID_ARGUMENT;
    return MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD) ==
           MPI_SUCCESS ? OK : SYSTEM_ERROR;
}

static int post(int send, void *buf, size_t count, int type, int peer, ncclComm_t comm)
{
    size_t bytes = count * (size_t)type_bytes(type);
    if (!comm || !type_bytes(type) || bytes > 0x7fffffff || peer < 0 || peer >= comm->world)
        return INVALID_ARGUMENT;
    if (!group.depth || group.n == MAX_OPS) return INVALID_ARGUMENT; // nccl.cu always groups
    group.op[group.n++] = (pending){send, peer, buf, (int)bytes};
    return OK;
}

int ncclSend(const void *send, size_t count, int type, int peer, ncclComm_t comm, cudaStream_t s)
{
    (void)s;
    return post(1, (void *)send, count, type, peer, comm);
}

int ncclRecv(void *recv, size_t count, int type, int peer, ncclComm_t comm, cudaStream_t s)
{
    (void)s;
    return post(0, recv, count, type, peer, comm);
}

int ncclGroupStart(void)
{
    group.depth++;
    return OK;
}

int ncclGroupEnd(void)
{
    if (!group.depth) return INVALID_ARGUMENT;
    if (--group.depth) return OK;
    MPI_Request req[MAX_OPS];
    int n = group.n, rc = MPI_SUCCESS;
    group.n = 0;
    for (int i = 0; i < n && rc == MPI_SUCCESS; i++) {
        pending *p = &group.op[i];
        rc = p->send ? MPI_Isend(p->buf, p->bytes, MPI_BYTE, p->peer, 7, MPI_COMM_WORLD, &req[i])
                     : MPI_Irecv(p->buf, p->bytes, MPI_BYTE, p->peer, 7, MPI_COMM_WORLD, &req[i]);
    }
    if (rc == MPI_SUCCESS) rc = MPI_Waitall(n, req, MPI_STATUSES_IGNORE);
    return rc == MPI_SUCCESS ? OK : SYSTEM_ERROR;
}
