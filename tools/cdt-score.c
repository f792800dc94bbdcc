/* cdt-score: score a clustering (tensor c) against class labels (tensor y):
 * NMI, ARI, ACC and the confusion table, as text, JSON or a PNG. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "cdt-score";

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-score [--json] [--png FILE] [FILE]\n"
"Score cluster labels (tensor c, i32 [N]) against class labels (tensor y,\n"
"i32 [N]) read from a stream (FILE or stdin): NMI (arithmetic normalisation),\n"
"ARI and ACC (clusters matched one-to-one to classes by the Hungarian method;\n"
"unmatched clusters count as wrong), then the confusion table. Rows with\n"
"y = -1 are left out and counted.\n"
"      --json            one JSON object instead of text\n"
"      --png FILE        draw the confusion table: a row per cluster, a column\n"
"                        per class, each cell shaded and labelled with its\n"
"                        count, matched cells outlined red, the numbers of\n"
"                        clusters and classes, axis names, a colour scale\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

/* c and y of every frame, appended. */
typedef struct labels {
    int32_t *c, *y;
    uint64_t n, cap;
} labels;

static const cdt_tensor *need(const cdt_reader *r, const cdt_frame *f, const char *name)
{
    const cdt_tensor *t = cdt_frame_find(f, name);
    if (!t)
        cli_die(prog, EX_DATA_, "no tensor '%s' in frame %llu (byte %llu)", name,
                (unsigned long long)cdt_reader_frames(r) - 1,
                (unsigned long long)cdt_reader_offset(r));
    if (t->dtype != CDT_I32 || t->rank != 1)
        cli_die(prog, EX_DATA_, "tensor '%s' is %s rank %d, expected i32 [N] (frame %llu)",
                name, cdt_dtype_name(t->dtype), t->rank,
                (unsigned long long)cdt_reader_frames(r) - 1);
    return t;
}

static void read_labels(cdt_reader *r, labels *l)
{
    const cdt_frame *f;
    int rc;
    while ((rc = cdt_reader_next(r, &f)) > 0) {
        if (!f->rows)
            continue;
        const cdt_tensor *c = need(r, f, "c"), *y = need(r, f, "y");
        if (l->n + f->rows > l->cap) {
            uint64_t cap = l->cap ? l->cap : 4096;
            while (cap < l->n + f->rows)
                cap *= 2;
            l->c = realloc(l->c, cap * sizeof *l->c);
            l->y = realloc(l->y, cap * sizeof *l->y);
            if (!l->c || !l->y)
                cli_die(prog, EX_SOFT_, "out of memory for %llu labels", (unsigned long long)cap);
            l->cap = cap;
        }
        memcpy(l->c + l->n, c->data, f->rows * sizeof *l->c);
        memcpy(l->y + l->n, y->data, f->rows * sizeof *l->y);
        l->n += f->rows;
    }
    if (rc < 0)
        cli_fail(prog, rc, cdt_reader_errmsg(r));
}

static void print_text(const cdt_confusion *cm, const cdt_scores *s)
{
    printf("rows      %llu scored, %llu ignored (y = -1)\n", (unsigned long long)cm->n,
           (unsigned long long)cm->ignored);
    printf("clusters  %d\nclasses   %d\n", cm->k, cm->m);
    printf("NMI       %.6f\nARI       %.6f\nACC       %.6f (%llu of %llu matched)\n",
           s->nmi, s->ari, s->acc, (unsigned long long)s->matched, (unsigned long long)cm->n);
    printf("\nconfusion: a row per cluster (c), a column per class (y), * = matched\n%8s", "c\\y");
    for (int j = 0; j < cm->m; j++)
        printf(" %8d", cm->class_ids[j]);
    putchar('\n');
    for (int i = 0; i < cm->k; i++) {
        printf("%8d", cm->cluster_ids[i]);
        for (int j = 0; j < cm->m; j++)
            printf(" %7llu%c", (unsigned long long)cm->count[(size_t)i * cm->m + j],
                   s->match[i] == j ? '*' : ' ');
        putchar('\n');
    }
}

static void print_ids(const char *key, const int32_t *v, int n)
{
    printf("  \"%s\": [", key);
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", v[i]);
    printf("],\n");
}

static void print_json(const cdt_confusion *cm, const cdt_scores *s)
{
    printf("{\n  \"rows\": %llu,\n  \"ignored\": %llu,\n  \"clusters\": %d,\n  \"classes\": %d,\n",
           (unsigned long long)cm->n, (unsigned long long)cm->ignored, cm->k, cm->m);
    printf("  \"nmi\": %.17g,\n  \"ari\": %.17g,\n  \"acc\": %.17g,\n  \"matched\": %llu,\n",
           s->nmi, s->ari, s->acc, (unsigned long long)s->matched);
    print_ids("cluster_ids", cm->cluster_ids, cm->k);
    print_ids("class_ids", cm->class_ids, cm->m);
    printf("  \"match\": [");
    for (int i = 0; i < cm->k; i++)
        printf("%s%d", i ? ", " : "", s->match[i] >= 0 ? cm->class_ids[s->match[i]] : -1);
    printf("],\n  \"confusion\": [");
    for (int i = 0; i < cm->k; i++) {
        printf("%s[", i ? ",\n    " : "\n    ");
        for (int j = 0; j < cm->m; j++)
            printf("%s%llu", j ? ", " : "", (unsigned long long)cm->count[(size_t)i * cm->m + j]);
        printf("]");
    }
    printf("\n  ]\n}\n");
}

/* The confusion table drawn by libcdt's plotting: counts in the cells,
 * the cluster and class numbers, axis names, a colour scale. */
static void write_png(const char *path, const cdt_confusion *cm, const cdt_scores *s)
{
    char title[128];
    snprintf(title, sizeof title, "NMI %.4f  ARI %.4f  ACC %.4f", s->nmi, s->ari, s->acc);
    cdt_plot_confusion t = {.k = cm->k, .m = cm->m, .row_ids = cm->cluster_ids,
                            .col_ids = cm->class_ids, .count = cm->count, .match = s->match,
                            .row_label = "cluster (c)", .col_label = "class (y); red: matched",
                            .title = title};
    cdt_canvas cv;
    int rc = cdt_plot_confusion_draw(&cv, &t);
    if (rc == CDT_EINVAL)
        cli_die(prog, EX_DATA_, "confusion table %dx%d too big for --png", cm->k, cm->m);
    if (rc < 0)
        cli_fail(prog, rc, "cannot draw the confusion table");
    cli_out o;
    cli_out_open(prog, path, &o);
    rc = cdt_canvas_write_png(o.fd, &cv);
    cdt_canvas_free(&cv);
    if (rc < 0) {
        cli_out_abort(&o);
        cli_fail(prog, rc, "cannot write the PNG");
    }
    cli_out_commit(prog, &o);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"json", no_argument, 0, 'j'}, {"png", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int json = 0, ch;
    const char *png = NULL;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'j': json = 1; break;
        case 'p': png = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': cli_version(prog, 0); return 0;
        default: usage(stderr); return EX_USAGE_;
        }
    }
    if (argc - optind > 1)
        cli_die(prog, EX_USAGE_, "one input at most (got %d)", argc - optind);
    cdt_reader *r = cli_reader_open(prog, optind < argc ? argv[optind] : NULL);
    labels l = {0};
    read_labels(r, &l);
    cdt_reader_destroy(r);
    cdt_confusion *cm;
    int rc = cdt_confusion_create(l.c, l.y, l.n, &cm);
    if (rc == CDT_EDATA)
        cli_die(prog, EX_DATA_, "a class label below -1 in y (classes are >= 0, -1 = unknown)");
    if (rc < 0)
        cli_fail(prog, rc, "cannot build the confusion table");
    if (!cm->n)
        cli_die(prog, EX_DATA_, "no rows to score (%llu rows, all with y = -1)",
                (unsigned long long)cm->ignored);
    cdt_scores s = {0};
    s.match = malloc((size_t)cm->k * sizeof *s.match);
    if (!s.match || (rc = cdt_scores_compute(cm, &s)) < 0)
        cli_fail(prog, s.match ? rc : CDT_ENOMEM, "cannot compute the scores");
    if (json)
        print_json(cm, &s);
    else
        print_text(cm, &s);
    if (png)
        write_png(png, cm, &s);
    free(s.match);
    cdt_confusion_destroy(cm);
    free(l.c);
    free(l.y);
    if (fflush(stdout) != 0 || ferror(stdout))
        cli_die(prog, EX_IO_, "write error on stdout:");
    return 0;
}
