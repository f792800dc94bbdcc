/* cdt_comm.h: processes that train one model together (data parallel).
 *
 * A job started by mpirun (or another MPI launcher) has W processes
 * ("ranks"); each holds a copy of the model and 1/W of every batch. What
 * they exchange goes through this: gathers, sums, a broadcast. The
 * transport is libcdt_mpi.so, loaded at run time (dlopen) so that
 * programs linked with libcdt need no MPI library; it is looked for as
 * libcdt_cuda.so is: $CDT_MPI_LIB (a path), ../lib/libcdt_mpi.so beside
 * the program, the library path.
 *
 * Every result is the same bytes on every rank and from run to run: sums
 * are taken in rank order (each rank adds a slice of the vector over all
 * ranks, in rank order, then the slices are gathered), never in the order
 * messages happen to arrive.
 *
 * Worked example:
 *
 *     cdt_comm *c;
 *     if ((rc = cdt_comm_open(CDT_COMM_AUTO, &c, why, sizeof why)) < 0) ...why...;
 *     // c is NULL for a process that was not started by a launcher
 *     if (c && (rc = cdt_comm_sum_f32(c, grad, n)) < 0) ...cdt_comm_errmsg(c)...;
 *     cdt_comm_close(c);
 */
#ifndef CDT_COMM_H
#define CDT_COMM_H

#include <stddef.h>
#include <stdint.h>

/* NCCL is the device's (cdt_device_collectives); its ranks still need MPI,
 * which carries NCCL's id from rank 0: CDT_COMM_NCCL opens MPI here. */
enum { CDT_COMM_AUTO = 0, CDT_COMM_MPI = 1, CDT_COMM_NCCL = 2 };

typedef struct cdt_comm cdt_comm;

/* "auto", "mpi", "nccl" -> CDT_COMM_*; -1 when unknown. */
int cdt_comm_parse(const char *s);
/* The number of processes a launcher started, from its environment
 * (Open MPI's OMPI_COMM_WORLD_SIZE, PMI_SIZE of MPICH and Slurm's PMI);
 * 1 when none did. */
int cdt_comm_launched_size(void);
/* The job's communicator: NULL and 0 when no launcher started this
 * process (one process, nothing to exchange); else the transport, or
 * CDT_ENOENT with why (libcdt_mpi.so missing: "built without MPI", or
 * the transport's own words). */
int cdt_comm_open(int kind, cdt_comm **out, char *why, size_t whylen);
/* Finalises the transport; NULL is fine. */
void cdt_comm_close(cdt_comm *c);

int cdt_comm_rank(const cdt_comm *c);       /* 0 for NULL */
int cdt_comm_size(const cdt_comm *c);       /* 1 for NULL */
int cdt_comm_local_rank(const cdt_comm *c); /* among the ranks of this host */
/* "mpi (Open MPI v4.1.4, ...), rank 0 of 2" */
const char *cdt_comm_describe(const cdt_comm *c);
const char *cdt_comm_errmsg(const cdt_comm *c);
/* Seconds spent in the calls below since open (wall time). */
double cdt_comm_seconds(const cdt_comm *c);

/* recv (size * bytes) = every rank's send, in rank order. */
int cdt_comm_allgather(cdt_comm *c, void *recv, const void *send, size_t bytes);
int cdt_comm_bcast(cdt_comm *c, void *buf, size_t bytes, int root);
/* x = the sum over ranks of x, added in rank order (the same bytes on
 * every rank). The f32 sum costs 2x the vector in traffic per rank, the
 * f64 one (for short vectors) W x. */
int cdt_comm_sum_f32(cdt_comm *c, float *x, size_t n);
int cdt_comm_sum_f64(cdt_comm *c, double *x, size_t n);
/* x = the maximum over ranks. */
int cdt_comm_max_i64(cdt_comm *c, int64_t *x, size_t n);
/* Whether data-parallel training can be had here (libcdt_mpi.so loads),
 * in one line either way, for --version -v: 1 yes, 0 no. Starts no MPI. */
int cdt_comm_probe(char *what, size_t len);
/* Asks the transport to end every process of the job with this exit
 * status (MPI_Abort does not return); returns when there is none to ask
 * (c NULL), and the caller then exits itself, as libcdt never does. */
void cdt_comm_abort(cdt_comm *c, int code);

#endif
