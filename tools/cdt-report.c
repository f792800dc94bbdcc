/* cdt-report: one self-contained HTML file for a run: what was trained on
 * what, the training curve, how k was chosen, the clusters as galleries,
 * the 2-D map, the feature heads, and the scores when labels exist. CSS
 * inline, every picture a PNG data: URI drawn by libcdt, no script, and a
 * Content-Security-Policy that forbids any request. */
#include "cli.h"
#include "heads.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "cdt-report";

static void usage(FILE *f)
{
    fprintf(f,
"usage: cdt-report --clusters FILE [options] -o REPORT.html\n"
"Write one self-contained HTML page about a run (no script, no request of\n"
"any kind: pictures are PNG data: URIs). Every stream holds the same rows in\n"
"the same order (checked by id when two have it); only --clusters is needed,\n"
"each other input adds its sections.\n"
"      --clusters FILE   cdt-cluster's output: c (and y, id, dist, rank, path):\n"
"                        sizes, galleries, how k was chosen, scores\n"
"      --embed FILE      cdt-embed's output (h, f): centrality when the\n"
"                        clusters lack rank and dist, the feature heads\n"
"      --map FILE        cdt-map's output (xy): the 2-D maps\n"
"      --images FILE     a stream with x for the rows (cdt-ingest's), when no\n"
"                        other input has x or path\n"
"      --dups FILE       cdt-knn --dups' output (dup_group, dup_dist): the\n"
"                        near-duplicates, a row of thumbnails per group\n"
"      --log FILE.csv    cdt-train's --log: the training curve\n"
"      --model FILE      the model file: its settings (meta) in the summary\n"
"      --title TEXT      the page's title (default: the dataset and rows)\n"
"      --per-cluster N   images per cluster in the galleries (default 16)\n"
"      --thumb PX        gallery images are shrunk to fit PX (default 48)\n"
"      --heads N         feature heads shown, those that vary most (default 32)\n"
"      --heads-k K       images per head and side (default 8)\n"
"      --map-size PX     side of each map (default 640)\n"
"  -o, --output FILE     where to write (default stdout)\n"
"  -h, --help            print this help\n"
"      --version         print the version\n");
}

typedef struct opts {
    const char *clusters, *embed, *map, *images, *dups, *log, *model, *title, *output;
    int per_cluster, thumb, nheads, heads_k, map_size;
} opts;

enum { O_CL = 256, O_EM, O_MAP, O_IM, O_DUPS, O_LOG, O_MODEL, O_TITLE, O_PER, O_THUMB, O_HEADS, O_HK, O_MS, O_VER };

static void parse(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"clusters", 1, 0, O_CL}, {"embed", 1, 0, O_EM}, {"map", 1, 0, O_MAP},
        {"images", 1, 0, O_IM}, {"dups", 1, 0, O_DUPS}, {"log", 1, 0, O_LOG}, {"model", 1, 0, O_MODEL},
        {"title", 1, 0, O_TITLE},
        {"per-cluster", 1, 0, O_PER}, {"thumb", 1, 0, O_THUMB}, {"heads", 1, 0, O_HEADS},
        {"heads-k", 1, 0, O_HK}, {"map-size", 1, 0, O_MS}, {"output", 1, 0, 'o'},
        {"help", 0, 0, 'h'}, {"version", 0, 0, O_VER}, {0, 0, 0, 0}};
    *o = (opts){.per_cluster = 16, .thumb = 48, .nheads = 32, .heads_k = 8, .map_size = 640};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (ch) {
        case O_CL: o->clusters = optarg; break;
        case O_EM: o->embed = optarg; break;
        case O_MAP: o->map = optarg; break;
        case O_IM: o->images = optarg; break;
        case O_DUPS: o->dups = optarg; break;
        case O_LOG: o->log = optarg; break;
        case O_MODEL: o->model = optarg; break;
        case O_TITLE: o->title = optarg; break;
        case O_PER: o->per_cluster = (int)cli_int(prog, "--per-cluster", optarg, 0, 1000); break;
        case O_THUMB: o->thumb = (int)cli_int(prog, "--thumb", optarg, 8, 512); break;
        case O_HEADS: o->nheads = (int)cli_int(prog, "--heads", optarg, 0, 65536); break;
        case O_HK: o->heads_k = (int)cli_int(prog, "--heads-k", optarg, 1, 64); break;
        case O_MS: o->map_size = (int)cli_int(prog, "--map-size", optarg, 100, 4000); break;
        case 'o': o->output = optarg; break;
        case 'h': usage(stdout); exit(0);
        case O_VER: cli_version(prog, 0); exit(0);
        default: usage(stderr); exit(EX_USAGE_);
        }
    }
    if (!o->clusters)
        cli_die(prog, EX_USAGE_, "--clusters FILE is required");
    if (optind < argc)
        cli_die(prog, EX_USAGE_, "unexpected operand '%s' (inputs are named by options)", argv[optind]);
}

/* ---- the inputs ---- */

typedef struct run {
    const opts *o;
    rowset cl, em, mp, im, dp;
    cdt_meta *model;  /* the model file's meta, or NULL */
    uint64_t n;
    const int32_t *c, *y, *rank;
    const float *dist;
    int k;            /* clusters: max c + 1 */
    uint64_t *size;   /* (k) */
    thumbs th;
    int has_thumbs;
    const rowset *pathtab;
    FILE *html;
} run;

static void load(const char *file, const char *what, rowset *t, const run *R)
{
    if (!file)
        return;
    rowset_read(prog, file, t);
    if (t->n != R->cl.n)
        cli_die(prog, EX_DATA_, "%s %s has %llu rows, --clusters %llu", what, file,
                (unsigned long long)t->n, (unsigned long long)R->cl.n);
    const int64_t *a = rowset_vec(prog, t, "id", CDT_I64), *b = rowset_vec(prog, &R->cl, "id", CDT_I64);
    for (uint64_t i = 0; a && b && i < t->n; i++)
        if (a[i] != b[i])
            cli_die(prog, EX_DATA_, "%s %s: row %llu has id %lld, --clusters has %lld", what, file,
                    (unsigned long long)i, (long long)a[i], (long long)b[i]);
}

/* The first of the inputs holding tensor name. */
static const rowset *holding(const run *R, const char *name)
{
    const rowset *ts[4] = {&R->cl, &R->em, &R->mp, &R->im};
    for (int i = 0; i < 4; i++)
        if (ts[i]->col && rowset_find(ts[i], name))
            return ts[i];
    return NULL;
}

static void load_all(run *R)
{
    rowset_read(prog, R->o->clusters, &R->cl);
    R->n = R->cl.n;
    if (!(R->c = rowset_vec(prog, &R->cl, "c", CDT_I32)))
        cli_die(prog, EX_DATA_, "--clusters %s has no tensor 'c'", R->o->clusters);
    if (!R->n)
        cli_die(prog, EX_DATA_, "--clusters %s has no rows", R->o->clusters);
    load(R->o->embed, "--embed", &R->em, R);
    load(R->o->map, "--map", &R->mp, R);
    load(R->o->images, "--images", &R->im, R);
    load(R->o->dups, "--dups", &R->dp, R);
    const rowset *yt = holding(R, "y");
    R->y = yt ? rowset_vec(prog, yt, "y", CDT_I32) : NULL;
    R->rank = rowset_vec(prog, &R->cl, "rank", CDT_I32);
    R->dist = rowset_vec(prog, &R->cl, "dist", CDT_F32);
    for (uint64_t i = 0; i < R->n; i++) {
        if (R->c[i] < 0 || R->c[i] > 1 << 20)
            cli_die(prog, EX_DATA_, "row %llu has cluster %d (expected 0..2^20)",
                    (unsigned long long)i, R->c[i]);
        R->k = R->c[i] + 1 > R->k ? R->c[i] + 1 : R->k;
    }
    if (!(R->size = calloc((size_t)R->k, sizeof *R->size)))
        cli_die(prog, EX_SOFT_, "out of memory");
    for (uint64_t i = 0; i < R->n; i++)
        R->size[R->c[i]]++;
    if (R->o->model) {  /* the header is enough: its meta */
        cdt_reader *r = cli_reader_open(prog, R->o->model);
        if (!(R->model = cdt_meta_clone(cdt_reader_meta(r))))
            cli_die(prog, EX_SOFT_, "out of memory");
        cdt_reader_destroy(r);
    }
    const rowset *pt = holding(R, "x");
    pt = pt ? pt : holding(R, "path");
    R->has_thumbs = pt && thumbs_init(prog, &R->th, pt);
    R->pathtab = holding(R, "path");
}

/* ---- HTML pieces ---- */

static void esc(FILE *h, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", h); break;
        case '>': fputs("&gt;", h); break;
        case '&': fputs("&amp;", h); break;
        case '"': fputs("&quot;", h); break;
        default: fputc(*s, h);
        }
}

static void base64(FILE *h, const uint8_t *b, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (i + 1 < n ? (uint32_t)b[i + 1] << 8 : 0) |
                     (i + 2 < n ? b[i + 2] : 0);
        fputc(tab[v >> 18 & 63], h);
        fputc(tab[v >> 12 & 63], h);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', h);
        fputc(i + 2 < n ? tab[v & 63] : '=', h);
    }
}

/* The canvas as <img> with a PNG data: URI; frees it. */
static void img(run *R, cdt_canvas *cv, const char *cls, const char *alt)
{
    FILE *tf = tmpfile();
    if (!tf)
        cli_die(prog, EX_IO_, "cannot make a temporary file:");
    int rc = cdt_canvas_write_png(fileno(tf), cv);
    if (rc < 0)
        cli_fail(prog, rc, "cannot encode a PNG");
    long len = lseek(fileno(tf), 0, SEEK_END);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (len <= 0 || !buf || pread(fileno(tf), buf, (size_t)len, 0) != len)
        cli_die(prog, EX_IO_, "cannot read back a PNG:");
    fprintf(R->html, "<img class=\"%s\" width=\"%d\" height=\"%d\" alt=\"", cls, cv->w, cv->h);
    esc(R->html, alt);
    fputs("\" src=\"data:image/png;base64,", R->html);
    base64(R->html, buf, (size_t)len);
    fputs("\">", R->html);
    free(buf);
    fclose(tf);
    cdt_canvas_free(cv);
}

static void canvas(cdt_canvas *cv, int w, int h)
{
    int rc = cdt_canvas_create(cv, w, h, CDT_WHITE);
    if (rc < 0)
        cli_fail(prog, rc, "cannot make a picture");
}

static const char *css =
    "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}"
    "th{background:#f4f4f4}td.k{text-align:left;font-family:monospace}"
    "table.cm td{min-width:2.2em}table.cm td.m{outline:2px solid #e00000;outline-offset:-2px}"
    ".g{display:flex;flex-wrap:wrap;gap:4px}.g figure{margin:0;text-align:center}"
    ".g figcaption{font-size:10px;max-width:58px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}"
    "img.t{width:56px;height:56px;image-rendering:pixelated;border:1px solid #ccc}"
    "img.p{max-width:100%;height:auto}.note{color:#666}";

static void page_head(run *R)
{
    char title[512];
    const char *ds = cdt_meta_get(R->cl.meta, "dataset");
    if (R->o->title)
        snprintf(title, sizeof title, "%s", R->o->title);
    else
        snprintf(title, sizeof title, "cdt report: %s, %llu rows, %d clusters", ds ? ds : "data",
                 (unsigned long long)R->n, R->k);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "img-src data:; style-src 'unsafe-inline'\">\n<title>", R->html);
    esc(R->html, title);
    fprintf(R->html, "</title>\n<style>%s</style></head><body>\n<h1>", css);
    esc(R->html, title);
    fputs("</h1>\n", R->html);
}

/* ---- sections ---- */

static void meta_rows(run *R, const cdt_meta *m)
{
    for (size_t i = 0; i < cdt_meta_count(m); i++) {
        fputs("<tr><td class=\"k\">", R->html);
        esc(R->html, cdt_meta_key(m, i));
        fputs("</td><td class=\"k\">", R->html);
        esc(R->html, cdt_meta_value(m, i));
        fputs("</td></tr>\n", R->html);
    }
}

static void sec_summary(run *R)
{
    fputs("<section id=\"summary\"><h2>Model and data</h2>\n<table>\n", R->html);
    static const char *keys[] = {"dataset", "split", "classes", "class_names", "arch", "stem",
                                 "width", "in_channels", "image_size", "hidden_dim", "feature_num",
                                 "step", "epoch", "train.batch", "train.lr", "train.total_steps",
                                 "seed", "embed.model", "embed.arch",
                                 "embed.image_size", "cluster.on", "cluster.k",
                                 "cluster.k_chosen_by", "cluster.silhouette", "cluster.sizes",
                                 "map.on", "map.kl", NULL};
    fprintf(R->html, "<tr><td class=\"k\">rows</td><td class=\"k\">%llu</td></tr>\n"
            "<tr><td class=\"k\">clusters</td><td class=\"k\">%d</td></tr>\n",
            (unsigned long long)R->n, R->k);
    const cdt_meta *ms[5] = {R->cl.meta, R->em.meta, R->mp.meta, R->im.meta, R->model};
    for (int i = 0; keys[i]; i++)
        for (int t = 0; t < 5; t++) {
            const char *v = ms[t] ? cdt_meta_get(ms[t], keys[i]) : NULL;
            if (!v)
                continue;
            fprintf(R->html, "<tr><td class=\"k\">%s%s</td><td class=\"k\">", t == 4 ? "model " : "",
                    keys[i]);
            esc(R->html, v);
            fputs("</td></tr>\n", R->html);
            break;
        }
    fputs("</table>\n", R->html);
    const char *names[5] = {"--clusters", "--embed", "--map", "--images", "--model"};
    for (int t = 0; t < 5; t++)
        if (ms[t]) {
            fprintf(R->html, "<details><summary>all meta of %s</summary><table>\n", names[t]);
            meta_rows(R, ms[t]);
            fputs("</table></details>\n", R->html);
        }
    fputs("</section>\n", R->html);
}

/* cdt-train's log: step and the losses, by the names in its header. */
static void sec_training(run *R)
{
    fputs("<section id=\"training\"><h2>Training</h2>\n", R->html);
    FILE *f = R->o->log ? fopen(R->o->log, "r") : NULL;
    if (!R->o->log) {
        fputs("<p class=\"note\">No training log given (--log, cdt-train's --log CSV).</p></section>\n", R->html);
        return;
    }
    if (!f)
        cli_die(prog, EX_NOINPUT_, "cannot open %s:", R->o->log);
    static const char *want[] = {"step", "instance", "feature", "total", "entropy"};
    int col[5] = {-1, -1, -1, -1, -1}, nc = 0;
    char line[4096];
    if (fgets(line, sizeof line, f))
        for (char *s = strtok(line, ",\r\n"); s; s = strtok(NULL, ",\r\n"), nc++)
            for (int j = 0; j < 5; j++)
                if (!strcmp(s, want[j]))
                    col[j] = nc;
    if (col[0] < 0)
        cli_die(prog, EX_DATA_, "%s: no 'step' column in the header (not cdt-train's --log?)", R->o->log);
    size_t n = 0, cap = 0;
    double *v[5] = {0};
    while (fgets(line, sizeof line, f)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            for (int j = 0; j < 5; j++)
                if (!(v[j] = realloc(v[j], cap * sizeof *v[j])))
                    cli_die(prog, EX_SOFT_, "out of memory");
        }
        for (int j = 0; j < 5; j++)
            v[j][n] = NAN;
        int c = 0;
        for (char *s = line, *e; s; s = e ? e + 1 : NULL, c++) {
            e = strchr(s, ',');
            for (int j = 0; j < 5; j++)
                if (col[j] == c)
                    v[j][n] = strtod(s, NULL);
        }
        n++;
    }
    fclose(f);
    if (!n) {
        fputs("<p class=\"note\">The training log has no steps.</p></section>\n", R->html);
        return;
    }
    cdt_canvas cv;
    canvas(&cv, 900, 340);
    cdt_plot_area a = {.px = 70, .py = 20, .pw = 800, .ph = 270};
    cdt_plot_series s[3];
    int ns = 0;
    for (int j = 1; j <= 3; j++)
        if (col[j] >= 0)
            s[ns++] = (cdt_plot_series){v[0], v[j], (int)n, cdt_plot_palette(j - 1), want[j]};
    cdt_plot_lines(&cv, &a, s, ns, "step", "loss");
    img(R, &cv, "p", "training losses per step");
    if (col[4] >= 0) {
        canvas(&cv, 900, 260);
        a = (cdt_plot_area){.px = 70, .py = 20, .pw = 800, .ph = 190};
        s[0] = (cdt_plot_series){v[0], v[4], (int)n, cdt_plot_palette(4), "entropy"};
        cdt_plot_lines(&cv, &a, s, 1, "step", "entropy");
        img(R, &cv, "p", "cluster entropy per step");
    }
    fprintf(R->html, "<p>%zu steps logged; last: ", n);
    for (int j = 1; j < 5; j++)
        if (col[j] >= 0)
            fprintf(R->html, "%s %.4f%s", want[j], v[j][n - 1], j < 4 ? " " : "");
    fputs("</p></section>\n", R->html);
    for (int j = 0; j < 5; j++)
        free(v[j]);
}

static void sec_k(run *R)
{
    fputs("<section id=\"k\"><h2>How k was chosen</h2>\n", R->html);
    const char *by = cdt_meta_get(R->cl.meta, "cluster.silhouette_by_k");
    if (!by) {
        fprintf(R->html, "<p>k = %d was given (cdt-cluster -k); no silhouette per k to show.</p>"
                "</section>\n", R->k);
        return;
    }
    double ks[4096], ss[4096], best = -2;
    int n = 0, bk = 0;
    for (const char *p = by; *p && n < 4096;) {
        char *e;
        ks[n] = strtod(p, &e);
        if (*e != ':')
            break;
        ss[n] = strtod(e + 1, &e);
        if (ss[n] > best) {
            best = ss[n];
            bk = (int)ks[n];
        }
        n++;
        p = *e == ',' ? e + 1 : e;
    }
    cdt_canvas cv;
    canvas(&cv, 900, 300);
    cdt_plot_area a = {.px = 70, .py = 20, .pw = 800, .ph = 230};
    cdt_plot_series s = {ks, ss, n, cdt_plot_palette(0), "mean silhouette"};
    cdt_plot_lines(&cv, &a, &s, 1, "k", "silhouette");
    for (int i = 0; i < n; i++)
        cdt_plot_disc(&cv, cdt_plot_area_x(&a, ks[i]), cdt_plot_area_y(&a, ss[i]),
                      (int)ks[i] == bk ? 5 : 2, (int)ks[i] == bk ? 0xd62728 : cdt_plot_palette(0));
    img(R, &cv, "p", "mean silhouette per k");
    fprintf(R->html, "<p>k = %d has the highest mean silhouette (%.4f) of the %d values tried "
            "(red).</p></section>\n", bk, best, n);
}

static void sec_metrics(run *R)
{
    fputs("<section id=\"metrics\"><h2>Scores against the labels</h2>\n", R->html);
    uint64_t known = 0;
    for (uint64_t i = 0; R->y && i < R->n; i++)
        known += R->y[i] >= 0;
    if (!known) {
        fputs("<p class=\"note\">No labels (y) in the inputs: nothing to score.</p></section>\n", R->html);
        return;
    }
    cdt_confusion *cm;
    int rc = cdt_confusion_create(R->c, R->y, R->n, &cm);
    if (rc < 0)
        cli_fail(prog, rc, rc == CDT_EDATA ? "a class label below -1 in y" : "cannot score");
    cdt_scores s = {0};
    if (!(s.match = malloc((size_t)cm->k * sizeof *s.match)) || cdt_scores_compute(cm, &s) < 0)
        cli_die(prog, EX_SOFT_, "out of memory");
    fprintf(R->html, "<table><tr><th>NMI</th><th>ARI</th><th>ACC</th><th>rows scored</th>"
            "<th>without a label</th></tr>\n<tr><td>%.4f</td><td>%.4f</td><td>%.4f</td>"
            "<td>%llu</td><td>%llu</td></tr></table>\n", s.nmi, s.ari, s.acc,
            (unsigned long long)cm->n, (unsigned long long)cm->ignored);
    uint64_t top = 1;
    for (size_t i = 0; i < (size_t)cm->k * cm->m; i++)
        top = cm->count[i] > top ? cm->count[i] : top;
    fputs("<h3>Confusion table</h3><p>A row per cluster, a column per class; outlined: the "
          "matching behind ACC.</p>\n<table class=\"cm\"><tr><th>c \\ y</th>", R->html);
    for (int j = 0; j < cm->m; j++)
        fprintf(R->html, "<th>%d</th>", cm->class_ids[j]);
    fputs("</tr>\n", R->html);
    for (int i = 0; i < cm->k; i++) {
        fprintf(R->html, "<tr><th>%d</th>", cm->cluster_ids[i]);
        for (int j = 0; j < cm->m; j++) {
            uint64_t v = cm->count[(size_t)i * cm->m + j];
            double f = (double)v / top;
            fprintf(R->html, "<td%s style=\"background:#%06x;color:%s\">%llu</td>",
                    s.match[i] == j ? " class=\"m\"" : "", cdt_plot_ramp(f),
                    f > 0.45 ? "#fff" : "#000", (unsigned long long)v);
        }
        fputs("</tr>\n", R->html);
    }
    fputs("</table></section>\n", R->html);
    free(s.match);
    cdt_confusion_destroy(cm);
}

typedef struct keyed { double key; uint64_t row; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->row > y->row) - (x->row < y->row);
}

/* key (n): how far each row is from its cluster's centre (smaller = more
 * central), from rank, dist, or computed from the embedding the clusters
 * were made on. Returns a word on where it came from. */
static const char *centrality(run *R, double *key)
{
    if (R->rank) {
        for (uint64_t i = 0; i < R->n; i++)
            key[i] = R->rank[i];
        return "by cdt-cluster's rank";
    }
    if (R->dist) {
        for (uint64_t i = 0; i < R->n; i++)
            key[i] = R->dist[i];
        return "by cdt-cluster's distance to the centre";
    }
    const char *on = cdt_meta_get(R->cl.meta, "cluster.on");
    on = on ? on : "h";
    const rowset *t = holding(R, on);
    const rowset_col *x = t ? rowset_find(t, on) : NULL;
    if (!x || x->dtype != CDT_F32 || x->rank != 2) {
        for (uint64_t i = 0; i < R->n; i++)
            key[i] = (double)i;
        return "in row order (no rank, dist or embedding given)";
    }
    int d = (int)x->dim[1];
    const float *v = (const float *)x->data;
    double *cen = calloc((size_t)R->k * d, sizeof *cen);
    if (!cen)
        cli_die(prog, EX_SOFT_, "out of memory");
    for (uint64_t i = 0; i < R->n; i++)
        for (int j = 0; j < d; j++)
            cen[(size_t)R->c[i] * d + j] += v[i * d + j];
    for (int c = 0; c < R->k; c++)
        for (int j = 0; j < d; j++)
            cen[(size_t)c * d + j] /= R->size[c] ? (double)R->size[c] : 1;
    for (uint64_t i = 0; i < R->n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) {
            double e = v[i * d + j] - cen[(size_t)R->c[i] * d + j];
            s += e * e;
        }
        key[i] = s;
    }
    free(cen);
    return "by distance to the cluster's mean embedding";
}

/* One figure: row's thumbnail (when there are images) over its file name (or
 * class, or row number), with note after it when given. */
static void figure(run *R, uint64_t row, const char *note)
{
    fputs("<figure>", R->html);
    int ch, h, w;
    const uint8_t *im = R->has_thumbs ? thumbs_get(prog, &R->th, row, &ch, &h, &w) : NULL;
    char alt[64];
    snprintf(alt, sizeof alt, "row %llu", (unsigned long long)row);
    if (im) {
        int big = h > w ? h : w, box = big < R->o->thumb ? big : R->o->thumb;
        cdt_canvas cv;
        canvas(&cv, box, box);
        if (cdt_plot_image(&cv, 0, 0, box, im, ch, h, w) < 0)
            cli_die(prog, EX_SOFT_, "out of memory for a thumbnail");
        img(R, &cv, "t", alt);
    }
    fputs("<figcaption>", R->html);
    if (R->pathtab) {
        thumbs pt;
        thumbs_init(prog, &pt, R->pathtab);
        const char *p = thumbs_path(&pt, row), *b = strrchr(p, '/');
        esc(R->html, b ? b + 1 : p);
        thumbs_free(&pt);
    } else {
        fprintf(R->html, "%s%llu", R->y ? "y " : "#", R->y ? (unsigned long long)R->y[row] : (unsigned long long)row);
    }
    if (note) {
        fputs(" ", R->html);
        esc(R->html, note);
    }
    fputs("</figcaption></figure>", R->html);
}

static void gallery(run *R, int c, const keyed *order, const uint64_t *first)
{
    fprintf(R->html, "<h3 id=\"cluster-%d\">Cluster %d: %llu rows (%.1f%%)", c, c,
            (unsigned long long)R->size[c], 100.0 * R->size[c] / R->n);
    if (R->y) {
        uint64_t best = 0, tot = 0;
        int cls = -1;
        uint64_t *cnt = calloc(65536, sizeof *cnt);
        if (!cnt)
            cli_die(prog, EX_SOFT_, "out of memory");
        for (uint64_t i = 0; i < R->n; i++)
            if (R->c[i] == c && R->y[i] >= 0 && R->y[i] < 65536) {
                tot++;
                if (++cnt[R->y[i]] > best || (cnt[R->y[i]] == best && R->y[i] < cls)) {
                    best = cnt[R->y[i]];
                    cls = R->y[i];
                }
            }
        if (tot)
            fprintf(R->html, ", most common class %d (%.0f%%)", cls, 100.0 * best / tot);
        free(cnt);
    }
    fputs("</h3>\n<div class=\"g\">", R->html);
    int shown = 0;
    for (uint64_t t = first[c]; t < first[c + 1] && shown < R->o->per_cluster; t++, shown++) {
        figure(R, order[t].row, NULL);
    }
    fputs("</div>\n", R->html);
}

static void sec_galleries(run *R)
{
    fputs("<section id=\"galleries\"><h2>Clusters</h2>\n", R->html);
    double *key = malloc(R->n * sizeof *key);
    keyed *order = malloc(R->n * sizeof *order);
    int *byc = malloc((size_t)R->k * sizeof *byc);
    uint64_t *first = calloc((size_t)R->k + 1, sizeof *first), *at = calloc((size_t)R->k, sizeof *at);
    if (!key || !order || !byc || !first || !at)
        cli_die(prog, EX_SOFT_, "out of memory");
    const char *how = centrality(R, key);
    for (uint64_t i = 0; i < R->n; i++)
        first[R->c[i] + 1]++;
    for (int c = 0; c < R->k; c++)
        first[c + 1] += first[c];
    for (uint64_t i = 0; i < R->n; i++)
        order[first[R->c[i]] + at[R->c[i]]++] = (keyed){key[i], i};
    for (int c = 0; c < R->k; c++) {
        qsort(order + first[c], first[c + 1] - first[c], sizeof *order, cmp_keyed);
        byc[c] = c;
    }
    for (int i = 1; i < R->k; i++)  /* largest cluster first */
        for (int j = i; j > 0 && R->size[byc[j]] > R->size[byc[j - 1]]; j--) {
            int t = byc[j]; byc[j] = byc[j - 1]; byc[j - 1] = t;
        }
    fprintf(R->html, "<p>%d clusters, largest first; in each, up to %d rows, the most central "
            "first (%s).%s</p>\n", R->k, R->o->per_cluster, how,
            R->has_thumbs ? "" : " No images (x or path) in the inputs: captions only.");
    for (int i = 0; i < R->k; i++)
        if (R->size[byc[i]])
            gallery(R, byc[i], order, first);
    fputs("</section>\n", R->html);
    free(key); free(order); free(byc); free(first); free(at);
}

static void sec_map(run *R)
{
    fputs("<section id=\"map\"><h2>2-D map</h2>\n", R->html);
    const rowset_col *xy = R->mp.col ? rowset_find(&R->mp, "xy") : NULL;
    if (!xy) {
        fputs("<p class=\"note\">No map given (--map, cdt-map's output).</p></section>\n", R->html);
        return;
    }
    if (xy->dtype != CDT_F32 || xy->rank != 2 || xy->dim[1] != 2)
        cli_die(prog, EX_DATA_, "--map: tensor 'xy' is not f32 [N,2]");
    const char *on = cdt_meta_get(R->mp.meta, "map.on"), *kl = cdt_meta_get(R->mp.meta, "map.kl");
    const char *cn = cdt_meta_get(R->cl.meta, "class_names"), *names[1024];
    char *cbuf = cn ? strdup(cn) : NULL;
    int nn = 0;
    for (char *p = cbuf; p && nn < 1024; nn++) {
        names[nn] = p;
        if ((p = strchr(p, ',')))
            *p++ = '\0';
    }
    for (int by = 0; by < 2; by++) {
        if (by && !R->y)
            break;
        char title[128];
        snprintf(title, sizeof title, "t-SNE of %s by %s", on ? on : "?", by ? "class" : "cluster");
        cdt_scatter s = {.xy = (const float *)xy->data, .n = R->n, .label = by ? R->y : R->c,
                         .names = by && nn ? names : NULL, .nnames = by ? nn : 0,
                         .title = title, .legend_title = by ? "class" : "cluster",
                         .size = R->o->map_size, .radius = R->n > 20000 ? 1 : 2};
        cdt_canvas cv;
        int rc = cdt_plot_scatter(&cv, &s, NULL);
        if (rc < 0)
            cli_fail(prog, rc, "cannot draw the map");
        img(R, &cv, "p", title);
    }
    fprintf(R->html, "<p>Barnes-Hut t-SNE (cdt-map) of %s, KL divergence %s.</p></section>\n",
            on ? on : "?", kl ? kl : "?");
    free(cbuf);
}

static void sec_heads(run *R)
{
    fputs("<section id=\"heads\"><h2>Feature heads</h2>\n", R->html);
    const rowset *t = holding(R, "f");
    const rowset_col *f = t ? rowset_find(t, "f") : NULL;
    if (!f || !R->has_thumbs || !R->o->nheads) {
        fprintf(R->html, "<p class=\"note\">%s</p></section>\n",
                !f ? "No feature-head outputs (f) in the inputs (--embed)." :
                !R->o->nheads ? "Left out (--heads 0)." : "No images (x or path) to show.");
        return;
    }
    if (f->dtype != CDT_F32 || f->rank != 2 || f->dim[1] < 1 || f->dim[1] > 65536)
        cli_die(prog, EX_DATA_, "tensor 'f' is not f32 [N,F]");
    int k = (uint64_t)R->o->heads_k > R->n ? (int)R->n : R->o->heads_k;
    heads h;
    heads_compute(prog, (const float *)f->data, R->n, (int)f->dim[1], k, &h);
    cdt_canvas cv;
    heads_draw(prog, &cv, &h, &R->th, R->o->nheads, 28, 1);
    fprintf(R->html, "<p>Each row is one of the %d feature heads (the %d that vary most over the "
            "rows, by standard deviation): the %d images that activate it most, then the %d "
            "that activate it least. A head that stands for one attribute shows it on the left "
            "and its absence on the right.</p>\n", (int)f->dim[1],
            R->o->nheads < h.nf ? R->o->nheads : h.nf, k, k);
    img(R, &cv, "p", "feature heads: highest and lowest activations");
    fputs("</section>\n", R->html);
    heads_free(&h);
}

/* Near-duplicates: a row of thumbnails per group (cdt-knn --dups), its
 * first row then the others by their distance to it; at most 100 groups
 * and 16 images each. */
static void sec_dups(run *R)
{
    fputs("<section id=\"dups\"><h2>Near-duplicates</h2>\n", R->html);
    const int32_t *g = rowset_vec(prog, &R->dp, "dup_group", CDT_I32);
    const float *gd = rowset_vec(prog, &R->dp, "dup_dist", CDT_F32);
    if (!g || !gd)
        cli_die(prog, EX_DATA_, "--dups %s has no dup_group and dup_dist (cdt-knn --dups)",
                R->o->dups);
    const char *t = cdt_meta_get(R->dp.meta, "knn.dups"), *m = cdt_meta_get(R->dp.meta, "knn.metric");
    int groups = 0;
    uint64_t rows = 0;
    for (uint64_t i = 0; i < R->n; i++) {
        groups = g[i] + 1 > groups ? g[i] + 1 : groups;
        rows += g[i] >= 0;
    }
    fprintf(R->html, "<p>%d groups, %llu rows: rows joined by a neighbour nearer than %s (%s "
            "distance, cdt-knn --dups). Each row of images is a group, its first image then the "
            "others by their distance to it.%s</p>\n", groups, (unsigned long long)rows,
            t ? t : "?", m ? m : "?", groups > 100 ? " The first 100 groups." : "");
    keyed *order = malloc((rows ? rows : 1) * sizeof *order);
    if (!order)
        cli_die(prog, EX_SOFT_, "out of memory");
    uint64_t no = 0;
    for (uint64_t i = 0; i < R->n; i++)  /* by (group, distance, row) */
        if (g[i] >= 0 && g[i] < 100)
            order[no++] = (keyed){g[i] * 1e6 + (gd[i] < 1e5 ? gd[i] : 1e5), i};
    qsort(order, (size_t)no, sizeof *order, cmp_keyed);
    for (uint64_t a = 0; a < no;) {
        int32_t grp = g[order[a].row];
        fprintf(R->html, "<h3>Group %d</h3>\n<div class=\"g\">", grp);
        int shown = 0;
        for (; a < no && g[order[a].row] == grp; a++)
            if (shown++ < 16) {
                char note[32];
                snprintf(note, sizeof note, "(%.4g)", gd[order[a].row]);
                figure(R, order[a].row, shown > 1 ? note : NULL);
            }
        fputs("</div>\n", R->html);
    }
    fputs("</section>\n", R->html);
    free(order);
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    run R = {.o = &o};
    load_all(&R);
    char *buf = NULL;
    size_t len = 0;
    if (!(R.html = open_memstream(&buf, &len)))
        cli_die(prog, EX_SOFT_, "out of memory");
    page_head(&R);
    sec_summary(&R);
    sec_training(&R);
    sec_k(&R);
    sec_metrics(&R);
    sec_map(&R);
    sec_galleries(&R);
    sec_heads(&R);
    if (o.dups)
        sec_dups(&R);
    fprintf(R.html, "<p class=\"note\">Made by cdt-report (cdt %s).</p>\n</body></html>\n", CDT_VERSION);
    if (fclose(R.html))
        cli_die(prog, EX_SOFT_, "out of memory for the page");
    cli_out out;
    cli_out_open(prog, o.output, &out);
    int rc = cdt_write_all(out.fd, buf, len);
    if (rc < 0) {
        cli_out_abort(&out);
        cli_fail(prog, rc, "cannot write the report");
    }
    cli_out_commit(prog, &out);
    free(buf);
    if (R.has_thumbs)
        thumbs_free(&R.th);
    free(R.size);
    rowset_free(&R.cl); rowset_free(&R.em); rowset_free(&R.mp); rowset_free(&R.im);
    rowset_free(&R.dp);
    cdt_meta_destroy(R.model);
    return 0;
}
