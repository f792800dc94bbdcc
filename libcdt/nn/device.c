/* device.c: opening a device (cdt_device.h): the CPU table, or
 * libcdt_cuda.so found and checked at run time. */
#include "cdt_core.h"
#include "cdt_device.h"
#include "core/plugin.h"
#include "nn/backend.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cdt_device {
    int kind, precision;
    cdt_backend be;
    void *lib;        /* dlopen handle, NULL for the CPU; never closed */
    char desc[PATH_MAX + 300];
};

int cdt_device_parse(const char *s)
{
    static const char *const names[] = {"cpu", "cuda", "auto"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int cdt_precision_parse(const char *s)
{
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

const char *cdt_precision_name(int precision)
{
    return precision == CDT_PRECISION_TF32 ? "tf32" : precision == CDT_PRECISION_BF16 ? "bf16" : "fp32";
}

static int open_cuda(cdt_device *d, int index, char *why, size_t whylen)
{
    char where[PATH_MAX + 64];
    d->lib = cdt_plugin_open("CDT_CUDA_LIB", "libcdt_cuda.so", RTLD_NOW | RTLD_LOCAL,
                             "this build of cdt may have been made without nvcc", where,
                             sizeof where, why, whylen);
    if (!d->lib) return CDT_ENOENT;
    cdt_cuda_backend_fn *entry;
    *(void **)&entry = dlsym(d->lib, CDT_CUDA_BACKEND_SYMBOL);
    if (!entry) {
        snprintf(why, whylen, "%s has no %s: not a cdt CUDA library", where, CDT_CUDA_BACKEND_SYMBOL);
        return CDT_ENOENT;
    }
    int rc = entry(CDT_BACKEND_ABI, index, d->precision, &d->be.i, &d->be.ctx, why, whylen);
    if (rc < 0) return rc == CDT_ENOMEM ? rc : CDT_ENOENT;
    if (!d->be.i || d->be.i->abi != CDT_BACKEND_ABI) {
        snprintf(why, whylen, "%s answered with a table of another ABI", where);
        return CDT_ENOENT;
    }
    if (!d->be.i->layer_names || strcmp(d->be.i->layer_names, CDT_LAYER_NAMES)) {
        snprintf(why, whylen, "%s was built with other layers than this program (install the "
                 "library of the same cdt version)", where);
        d->be.i->destroy(d->be.ctx);
        d->be.ctx = NULL;
        return CDT_ENOENT;
    }
    snprintf(d->desc, sizeof d->desc, "cuda %s (%s, %s)", cdt_precision_name(d->precision),
             d->be.i->device_name(d->be.ctx), where);
    return 0;
}

int cdt_device_open(int kind, int precision, cdt_device **out, char *why, size_t whylen)
{
    return cdt_device_open_at(kind, precision, 0, out, why, whylen);
}

int cdt_device_open_at(int kind, int precision, int index, cdt_device **out, char *why,
                       size_t whylen)
{
    *out = NULL;
    if (whylen) why[0] = 0;
    if (kind < CDT_DEVICE_CPU || kind > CDT_DEVICE_AUTO || precision < CDT_PRECISION_FP32 ||
        precision > CDT_PRECISION_BF16)
        return CDT_EINVAL;
    if (kind == CDT_DEVICE_CPU && precision != CDT_PRECISION_FP32) {
        snprintf(why, whylen, "--precision %s needs a GPU; the CPU computes in fp32",
                 cdt_precision_name(precision));
        return CDT_EINVAL;
    }
    cdt_device *d = calloc(1, sizeof *d);
    if (!d) return CDT_ENOMEM;
    d->precision = precision;
    if (kind != CDT_DEVICE_CPU) {
        int rc = open_cuda(d, index, why, whylen);
        if (rc == 0) {
            d->kind = CDT_DEVICE_CUDA;
            *out = d;
            return 0;
        }
        // a library that loaded stays mapped (see cdt_device_close)
        d->lib = NULL;
        if (kind == CDT_DEVICE_CUDA || rc == CDT_ENOMEM) {
            free(d);
            return rc;
        }
        d->precision = CDT_PRECISION_FP32; // auto falls back to the CPU, which is fp32
    }
    d->kind = CDT_DEVICE_CPU;
    d->be.i = cdt_backend_cpu();
    d->be.ctx = NULL;
    snprintf(d->desc, sizeof d->desc, "cpu");
    *out = d;
    return 0;
}

void cdt_device_close(cdt_device *d)
{
    if (!d) return;
    if (d->be.i && d->be.ctx) d->be.i->destroy(d->be.ctx);
    /* No dlclose: the CUDA runtime registers exit handlers, so a library
     * that has loaded stays mapped until the process ends (the loader owns
     * it then, as it does a library linked in). */
    free(d);
}

int cdt_device_kind(const cdt_device *d) { return d->kind; }
int cdt_device_precision(const cdt_device *d) { return d->precision; }
const char *cdt_device_describe(const cdt_device *d) { return d->desc; }
const cdt_backend *cdt_device_backend(const cdt_device *d) { return &d->be; }

const char *cdt_device_errmsg(const cdt_device *d) { return d->be.i->errmsg(d->be.ctx); }

int cdt_device_collectives(const cdt_device *d, char *why, size_t whylen)
{
    if (!d->be.i->coll_available) {
        snprintf(why, whylen, "the %s has no collectives of its own", d->kind == CDT_DEVICE_CPU ? "CPU" : "device");
        return 0;
    }
    if (d->be.i->coll_available(d->be.ctx) < 0) {
        snprintf(why, whylen, "%s", cdt_device_errmsg(d));
        return 0;
    }
    return 1;
}

int cdt_cuda_probe(char *what, size_t len)
{
    cdt_device *d;
    char why[512];
    int rc = cdt_device_open(CDT_DEVICE_CUDA, CDT_PRECISION_FP32, &d, why, sizeof why);
    if (rc < 0) {
        snprintf(what, len, "CUDA: not available: %s", why[0] ? why : "out of memory");
        return 0;
    }
    snprintf(what, len, "CUDA: available: %s", cdt_device_describe(d));
    cdt_device_close(d);
    return 1;
}
