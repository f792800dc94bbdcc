/* cdt_device.h: where a model runs: the CPU, or a CUDA GPU through
 * libcdt_cuda.so, which is loaded at run time (dlopen), so that programs
 * linked with libcdt need no CUDA library and run anywhere.
 *
 * The library is looked for in this order: $CDT_CUDA_LIB (a path), then
 * ../lib/libcdt_cuda.so next to the running program, then the system's
 * library path. It must speak this libcdt's backend ABI.
 *
 * Worked example: a model on the GPU when there is one.
 *
 *     char why[256];
 *     cdt_device *dev;
 *     if ((rc = cdt_device_open(CDT_DEVICE_AUTO, CDT_PRECISION_FP32, &dev, why, sizeof why)) < 0)
 *         ...why says what was missing...;
 *     cdt_model *m;
 *     rc = cdt_model_create_on(&cfg, batch, dev, &m);
 *     ...
 *     cdt_model_destroy(m);
 *     cdt_device_close(dev);          // after every model made on it
 */
#ifndef CDT_DEVICE_H
#define CDT_DEVICE_H

#include <stddef.h>

enum { CDT_DEVICE_CPU = 0, CDT_DEVICE_CUDA = 1, CDT_DEVICE_AUTO = 2 };
/* How the GPU's matrix products round their inputs (cdt_cuda.h's
 * CDT_CUDA_*): fp32 exact, tf32 ~3e-4, bf16 ~3e-3 relative; the CPU
 * computes in fp32 only. */
enum { CDT_PRECISION_FP32 = 0, CDT_PRECISION_TF32 = 1, CDT_PRECISION_BF16 = 2 };

typedef struct cdt_device cdt_device;

/* "cpu", "cuda", "auto" -> CDT_DEVICE_*; -1 when unknown. Likewise
 * "fp32", "tf32", "bf16" -> CDT_PRECISION_*. */
int cdt_device_parse(const char *s);
int cdt_precision_parse(const char *s);
const char *cdt_precision_name(int precision);

/* kind CDT_DEVICE_CUDA: the first GPU, or CDT_ENOENT when the library,
 * the driver or a device is missing, with why (one line) saying which.
 * CDT_DEVICE_AUTO: the GPU when that works, else the CPU, and why says why
 * not the GPU. tf32/bf16 on the CPU: CDT_EINVAL. *out is NULL on failure. */
int cdt_device_open(int kind, int precision, cdt_device **out, char *why, size_t whylen);
/* The same on GPU number `index` (0 is the first; the CPU ignores it). */
int cdt_device_open_at(int kind, int precision, int index, cdt_device **out, char *why,
                       size_t whylen);
void cdt_device_close(cdt_device *d);
/* The device's last error, one line ("" when none). */
const char *cdt_device_errmsg(const cdt_device *d);
/* 1 when the device has collectives of its own for data-parallel ranks
 * (NCCL for CUDA: libnccl.so.2, or $CDT_NCCL_LIB, loads), else 0 and why. */
int cdt_device_collectives(const cdt_device *d, char *why, size_t whylen);
int cdt_device_kind(const cdt_device *d);      /* CDT_DEVICE_CPU or CDT_DEVICE_CUDA */
int cdt_device_precision(const cdt_device *d);
/* "cpu", or "cuda (NVIDIA H100 80GB HBM3, /usr/local/lib/libcdt_cuda.so)" */
const char *cdt_device_describe(const cdt_device *d);

/* Whether --device cuda would work here, in one line either way, for
 * --version -v: 1 yes, 0 no. Opens and closes the device. */
int cdt_cuda_probe(char *what, size_t len);

#endif
