/* cifar.c: CIFAR-10 and CIFAR-100, the publisher's binary version.
 * A record is the label byte(s) then 3072 bytes: the R, G and B planes of
 * a 32x32 image, row-major (CIFAR-100: coarse label byte, fine label
 * byte). The files sit in a folder or in the original .tar.gz. */
#include "ds.h"

#include <stdlib.h>
#include <string.h>

static const char *const c10_names[] = {"airplane", "automobile", "bird", "cat", "deer",
                                        "dog", "frog", "horse", "ship", "truck"};
static const char *const c100_coarse[] = {
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
    "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2"};
static const char *const c100_fine[] = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest",
    "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower",
    "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear",
    "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine", "possum",
    "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew",
    "skunk", "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar",
    "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree",
    "wolf", "woman", "worm"};

#define PIXELS 3072

typedef struct cifar_fmt {
    const char *subdir, *tarname;
    const char *train[5], *test;
    int ntrain, head;      /* label bytes before the pixels */
    int label_at, classes; /* which label byte we use, how many classes */
    const char *names_file;
    const char *const *names;
} cifar_fmt;

static int missing(cdt_dataset *d, const cifar_fmt *f, const char *what)
{
    if (f->head == 1)
        return ds_missing(d, what, "get cifar-10-binary.tar.gz from "
                          "https://www.cs.toronto.edu/~kriz/cifar.html and give it (or the folder "
                          "holding it, or its cifar-10-batches-bin folder with data_batch_1.bin.."
                          "data_batch_5.bin and test_batch.bin) as PATH");
    return ds_missing(d, what, "get cifar-100-binary.tar.gz from "
                      "https://www.cs.toronto.edu/~kriz/cifar.html and give it (or the folder "
                      "holding it, or its cifar-100-binary folder with train.bin and test.bin) "
                      "as PATH");
}

/* The files of the split, in order: train files then test. */
static int split_files(const cdt_dataset *d, const cifar_fmt *f, const char **files)
{
    int k = 0;
    if (d->o.split != CDT_SPLIT_TEST)
        for (int i = 0; i < f->ntrain; i++)
            files[k++] = f->train[i];
    if (d->o.split != CDT_SPLIT_TRAIN)
        files[k++] = f->test;
    return k;
}

static int copy_file(cdt_dataset *d, const cifar_fmt *f, ds_src *s, const char *file,
                     uint64_t at, uint64_t take)
{
    char where[4608];
    ds_blob b;
    ds_src_where(s, file, where, sizeof where);
    int rc = ds_src_get(d, s, file, &b);
    if (rc == CDT_ENOENT)
        return missing(d, f, where);
    if (rc < 0)
        return rc;
    size_t rec = (size_t)f->head + PIXELS;
    for (uint64_t i = 0; i < take && rc == 0; i++) {
        const uint8_t *r = b.p + i * rec;
        if (r[f->label_at] >= f->classes)
            rc = ds_fail(d, CDT_EDATA, "label %u out of range 0..%d (%s, byte %llu)",
                         r[f->label_at], f->classes - 1, where,
                         (unsigned long long)(i * rec + (size_t)f->label_at));
        d->lab[at + i] = r[f->label_at];
        memcpy(d->pix + (at + i) * PIXELS, r + f->head, PIXELS);
    }
    ds_blob_free(&b);
    return rc;
}

static int load(cdt_dataset *d, const cifar_fmt *f)
{
    ds_src s;
    const char *files[6];
    uint64_t take[6], left = d->o.limit ? d->o.limit : UINT64_MAX, n = 0, size;
    char where[4608];
    int rc = ds_src_open(d, &s, d->path, f->subdir, f->tarname), k = split_files(d, f, files);
    if (rc == CDT_ENOENT)
        return missing(d, f, d->path);
    for (int i = 0; rc == 0 && i < k; i++) {
        ds_src_where(&s, files[i], where, sizeof where);
        if ((rc = ds_src_size(d, &s, files[i], &size)) == CDT_ENOENT)
            rc = missing(d, f, where);
        else if (rc == 0 && (size == 0 || size % (PIXELS + f->head)))
            rc = ds_fail(d, CDT_EDATA, "wrong size: %llu bytes is not a whole number of "
                         "%d-byte records (%s)", (unsigned long long)size, PIXELS + f->head, where);
        n += take[i] = rc ? 0 : ds_take(size / (PIXELS + f->head), &left);
    }
    if (rc == 0)
        rc = ds_alloc(d, n, 3, 32, 32);
    uint64_t at = 0;
    for (int i = 0; rc == 0 && i < k; at += take[i], i++)
        if (take[i])
            rc = copy_file(d, f, &s, files[i], at, take[i]);
    if (rc == 0)
        rc = ds_set_names(d, f->names, f->classes);
    ds_blob b;
    if (rc == 0 && ds_src_get(d, &s, f->names_file, &b) == 0) {
        rc = ds_names_from_text(d, b.p, b.n, f->classes);
        ds_blob_free(&b);
    }
    ds_src_close(&s);
    return rc;
}

int ds_open_cifar(cdt_dataset *d)
{
    static const cifar_fmt c10 = {
        "cifar-10-batches-bin", "cifar-10-binary.tar.gz",
        {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
         "data_batch_5.bin"}, "test_batch.bin", 5, 1, 0, 10, "batches.meta.txt", c10_names};
    static const cifar_fmt c100c = {
        "cifar-100-binary", "cifar-100-binary.tar.gz", {"train.bin"}, "test.bin", 1, 2, 0, 20,
        "coarse_label_names.txt", c100_coarse};
    static const cifar_fmt c100f = {
        "cifar-100-binary", "cifar-100-binary.tar.gz", {"train.bin"}, "test.bin", 1, 2, 1, 100,
        "fine_label_names.txt", c100_fine};
    const cifar_fmt *f = !strcmp(d->name, "cifar10") ? &c10 : d->o.fine ? &c100f : &c100c;
    if (!d->path)
        return ds_fail(d, CDT_EINVAL, "%s needs a PATH (its folder or %s)", d->name, f->tarname);
    return load(d, f);
}
