/* plugin.h: finding a library of cdt's own that is loaded at run time
 * (libcdt_cuda.so, libcdt_mpi.so), so that programs linked with libcdt
 * need neither CUDA nor MPI. Private to libcdt. */
#ifndef CDT_PLUGIN_H
#define CDT_PLUGIN_H

#include <stddef.h>

/* Looks for `soname` in this order: $env (a path; when set, the only one
 * tried), ../lib/soname beside the running program, the library path;
 * dlopen flags as given. Returns the handle and where it came from, or
 * NULL and why (one line; `missing` ends the "not found" case, e.g. "this
 * build of cdt may have been made without nvcc"). */
void *cdt_plugin_open(const char *env, const char *soname, int flags, const char *missing,
                      char *where, size_t wlen, char *why, size_t whylen);

#endif
