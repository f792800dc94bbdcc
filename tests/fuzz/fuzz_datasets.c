/* fuzz_datasets.c: the binary dataset readers (IDX plain and gzipped,
 * CIFAR-10, CIFAR-100, STL-10, and CIFAR-10 as a .tar.gz) on any bytes.
 * The readers open files by path, so each input is written out as the
 * dataset's files in a private folder:
 *   byte 0   format (mod 6): 0 IDX, 1 IDX .gz, 2 cifar10 test_batch.bin,
 *            3 cifar100 test.bin, 4 stl10 test_X/test_y, 5 cifar10 archive
 *   byte 1   options: bits 0-1 channels (own, 1, 3, own), bits 2-3 size
 *            (native, 5, 16, 40), bit 4 limit 3, bit 5 split all (IDX)
 *   then     two-file formats: u16 length of the first file, the first
 *            file, the second file; one-file formats: the file.
 * Open must succeed or fail with a message; what opens must read back
 * every sample with sane labels and ids. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdt.h"
#include "cdt_dataset.h"

static char dir[64];

/* CDT_FUZZ_STRICT=1 adds the checks of rules known to be broken still (see
 * smoke.sh): ds_gunzip_file allocates the size a .gz file's trailer
 * claims (ISIZE, attacker-chosen, up to 4 GiB) before inflating anything,
 * so a 100-byte file trips libFuzzer's malloc limit. Without it, such
 * inputs (a trailer claiming more than deflate's 1032:1 ratio allows) are
 * skipped. */
static int strict;

static int absurd_gz(const uint8_t *p, size_t n)
{
    if (strict || n < 4)
        return 0;
    uint64_t isize = (uint64_t)p[n - 4] | (uint64_t)p[n - 3] << 8 | (uint64_t)p[n - 2] << 16 |
                     (uint64_t)p[n - 1] << 24;
    return isize > 1032 * (uint64_t)n + (1u << 20);
}

static void cleanup(void)
{
    static const char *const names[] = {
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "test_batch.bin", "test.bin",
        "test_X.bin", "test_y.bin", "cifar-10-binary.tar.gz"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
}

static void remove_dir(void)
{
    cleanup();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    strict = getenv("CDT_FUZZ_STRICT") && !strcmp(getenv("CDT_FUZZ_STRICT"), "1");
    /* Every input creates and removes its files: in memory (/dev/shm) that
     * costs a tenth of what it does on a disk's file system. */
    snprintf(dir, sizeof dir, "%s", "/dev/shm/fuzz_datasets.XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "%s", "/tmp/fuzz_datasets.XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    atexit(remove_dir);
    return 0;
}

static void put(const char *name, const uint8_t *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f))
        abort();
}

/* Read every sample (up to 256) back and check what comes out. */
static void read_all(cdt_dataset *d)
{
    uint64_t n = cdt_dataset_count(d);
    int c, h, w;
    cdt_dataset_shape(d, &c, &h, &w);
    CDT_ASSERT((c == 1 || c == 3) && h > 0 && w > 0);
    int k = cdt_dataset_classes(d);
    CDT_ASSERT(k > 0 && cdt_dataset_class_names(d) != NULL);
    size_t m = n < 256 ? (size_t)n : 256, px = (size_t)c * h * w;
    uint64_t *idx = malloc((m ? m : 1) * sizeof *idx);
    uint8_t *x = malloc(m * px + 1);
    int32_t *y = malloc((m + 1) * sizeof *y);
    int64_t *id = malloc((m + 1) * sizeof *id);
    CDT_ASSERT(idx && x && y && id);
    for (size_t i = 0; i < m; i++)
        idx[i] = m - 1 - i; /* backwards: the async IDX reader must wait */
    size_t got = 0;
    int rc = cdt_dataset_read(d, idx, m, x, y, id, &got);
    if (rc < 0) {
        CDT_ASSERT(cdt_dataset_errmsg(d)[0] != '\0');
    } else {
        CDT_ASSERT(got == m);
        for (size_t i = 0; i < m; i++) {
            CDT_ASSERT(id[i] == (int64_t)idx[i]);
            CDT_ASSERT(y[i] >= -1 && y[i] < k);
        }
    }
    free(idx), free(x), free(y), free(id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int fmt = data[0] % 6, opt = data[1];
    const uint8_t *p = data + 2;
    size_t n = size - 2, a = 0;
    if (fmt <= 1 || fmt == 4) { /* two files */
        if (n < 2)
            return 0;
        a = (size_t)p[0] | (size_t)p[1] << 8;
        p += 2, n -= 2;
        if (a > n)
            a = n;
    }
    if ((fmt == 1 && (absurd_gz(p, a) || absurd_gz(p + a, n - a))) || (fmt == 5 && absurd_gz(p, n)))
        return 0;
    cleanup();
    static const int channels[4] = {0, 1, 3, 0}, sizes[4] = {0, 5, 16, 40};
    cdt_dataset_opts o = {.path = dir, .split = CDT_SPLIT_TEST,
                          .channels = channels[opt & 3], .size = sizes[opt >> 2 & 3],
                          .limit = opt & 16 ? 3 : 0};
    char archive[128];
    switch (fmt) {
    case 0:
    case 1:
        o.name = "fashion-mnist";
        o.split = opt & 32 ? CDT_SPLIT_ALL : CDT_SPLIT_TEST;
        put(fmt ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte", p, a);
        put(fmt ? "t10k-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte", p + a, n - a);
        /* split all: the same pair as the train part too */
        put(fmt ? "train-images-idx3-ubyte.gz" : "train-images-idx3-ubyte", p, a);
        put(fmt ? "train-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte", p + a, n - a);
        break;
    case 2:
        o.name = "cifar10";
        put("test_batch.bin", p, n);
        break;
    case 3:
        o.name = "cifar100";
        o.fine = opt >> 5 & 1;
        put("test.bin", p, n);
        break;
    case 4:
        o.name = "stl10";
        put("test_X.bin", p, a);
        put("test_y.bin", p + a, n - a);
        break;
    default:
        o.name = "cifar10";
        put("cifar-10-binary.tar.gz", p, n);
        snprintf(archive, sizeof archive, "%s/cifar-10-binary.tar.gz", dir);
        o.path = archive;
        break;
    }
    cdt_dataset *d = NULL;
    int rc = cdt_dataset_open(&o, &d);
    if (rc < 0) {
        CDT_ASSERT(d == NULL || cdt_dataset_errmsg(d)[0] != '\0');
    } else {
        read_all(d);
    }
    cdt_dataset_destroy(d);
    return 0;
}
