/* fuzz_model.c: any bytes as a model file or checkpoint: open it, build
 * the model its meta describes, load the weights (and the Adam state).
 * Every refusal carries a message; a load that succeeds has filled the
 * model from the file.
 * Building a model (every layer, its activations) costs far more than
 * reading a small file, and a mutated file almost always keeps its meta,
 * so the models are kept, one per config, and reused: the input then costs
 * the reading and the name/shape/meta checks only. A load that fails half
 * way leaves some weights overwritten, which the next load of that config
 * overwrites again or refuses, as it would in a fresh model. */
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

/* The input, in one memory file made once and emptied per input. */
static int in_fd = -1;
static char in_path[64];

/* Models built so far, with room for their Adam moments; the oldest goes
 * when a new config needs a slot. */
enum { CACHED = 16 };
typedef struct built {
    cdt_model *m;
    float *am, *av;
} built;
static built cache[CACHED];
static unsigned cache_next;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    strict = getenv("CDT_FUZZ_STRICT") && !strcmp(getenv("CDT_FUZZ_STRICT"), "1");
    if ((in_fd = memfd_create("fuzz.cdt", MFD_CLOEXEC)) < 0)
        abort();
    snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
    return 0;
}

static void drop(built *b)
{
    cdt_model_destroy(b->m);
    free(b->am), free(b->av);
    *b = (built){0};
}

/* The cached model of cfg, built when new; NULL when cdt_model_create
 * refuses the config. */
static built *model_for(const cdt_model_config *cfg)
{
    for (int i = 0; i < CACHED; i++)
        if (cache[i].m && !memcmp(cdt_model_cfg(cache[i].m), cfg, sizeof *cfg))
            return &cache[i];
    built *b = &cache[cache_next++ % CACHED];
    drop(b);
    if (cdt_model_create(cfg, 1, &b->m) < 0) {
        b->m = NULL;
        return NULL;
    }
    b->am = calloc(cdt_model_nparams(b->m) + 1, sizeof *b->am);
    b->av = calloc(cdt_model_nparams(b->m) + 1, sizeof *b->av);
    CDT_ASSERT(b->am && b->av);
    return b;
}

static int small(const cdt_model_config *c)
{
    return c->width <= 8 && c->image_size <= 32 && c->hidden_dim <= 64 &&
           c->feature_num <= 64 && c->in_channels <= 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(in_fd, 0) < 0 || lseek(in_fd, 0, SEEK_SET) != 0 ||
        (size && cdt_write_all(in_fd, data, size) < 0))
        abort();
    cdt_modelfile *f = NULL;
    int rc = cdt_modelfile_open(in_path, &f);
    if (rc < 0) {
        CDT_ASSERT(f == NULL || cdt_modelfile_errmsg(f)[0] != '\0');
        goto out;
    }
    const cdt_model_config *cfg = cdt_modelfile_config(f);
    CDT_ASSERT(cfg != NULL && cdt_modelfile_meta(f) != NULL);
    if (!strict && !small(cfg))
        goto out;
    built *b = model_for(cfg);
    if (!b)
        goto out;
    cdt_model *m = b->m;
    float *am = b->am, *av = b->av;
    cdt_modelfile_state st = {.adam_m = am, .adam_v = av};
    rc = cdt_modelfile_load(f, m, &st);
    if (rc < 0) {
        CDT_ASSERT(cdt_modelfile_errmsg(f)[0] != '\0');
    } else {
        CDT_ASSERT(rc == 0 || rc == 1);
        volatile float sink = cdt_model_params(m)[0] + cdt_model_params(m)[cdt_model_nparams(m) - 1] + am[0] + av[cdt_model_nparams(m) - 1];
        (void)sink;
    }
out:
    cdt_modelfile_close(f);
    return 0;
}
