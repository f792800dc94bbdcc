/* source.c: getting a dataset's files: plain, gzipped, or members of a
 * .tar.gz (read with zlib and a small ustar walker, so no libarchive). */
#include "ds.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

int ds_read_file(cdt_dataset *d, const char *path, ds_blob *b)
{
    memset(b, 0, sizeof *b);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ds_fail(d, errno == ENOENT ? CDT_ENOENT : CDT_EIO, "cannot open %s: %s",
                       path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ds_fail(d, CDT_EIO, "not a regular file (%s)", path);
    }
    size_t n = (size_t)st.st_size;
    if (!(b->own = malloc(n ? n : 1))) {
        fclose(f);
        return ds_fail(d, CDT_ENOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(b->own, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        ds_blob_free(b);
        return ds_fail(d, CDT_EIO, "read error (%s)", path);
    }
    b->p = b->own;
    b->n = n;
    return 0;
}

int ds_gz_open(ds_gz *g, const uint8_t *in, size_t n, const char *path)
{
    memset(g, 0, sizeof *g);
    g->in = in;
    g->n = n;
    g->path = path;
    if (n < 18 || in[0] != 0x1f || in[1] != 0x8b) {
        snprintf(g->err, sizeof g->err, "not a gzip file (%s)", path);
        return CDT_EDATA;
    }
    if (inflateInit2(&g->zs, 16 + MAX_WBITS) != Z_OK) {
        snprintf(g->err, sizeof g->err, "out of memory");
        return CDT_ENOMEM;
    }
    g->inited = 1;
    return 0;
}

void ds_gz_close(ds_gz *g)
{
    if (g->inited)
        inflateEnd(&g->zs);
    g->inited = 0;
}

/* Members follow one another (gzip -c a b >c); anything else after a
 * member's end is junk. */
static int gz_next_member(ds_gz *g)
{
    if (g->in[g->pos] != 0x1f) {
        snprintf(g->err, sizeof g->err, "junk after gzip data (%s, byte %zu)", g->path, g->pos);
        return CDT_EDATA;
    }
    inflateReset(&g->zs);
    g->ended = 0;
    return 0;
}

int ds_gz_read(ds_gz *g, uint8_t *out, size_t len, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        if (g->ended) {
            if (g->pos == g->n)
                break;
            int rc = gz_next_member(g);
            if (rc < 0)
                return rc;
        }
        size_t ain = g->n - g->pos < UINT_MAX ? g->n - g->pos : UINT_MAX;
        size_t aout = len - done < UINT_MAX ? len - done : UINT_MAX;
        g->zs.next_in = (Bytef *)g->in + g->pos;
        g->zs.avail_in = (uInt)ain;
        g->zs.next_out = out + done;
        g->zs.avail_out = (uInt)aout;
        int z = inflate(&g->zs, Z_NO_FLUSH);
        g->pos += ain - g->zs.avail_in;
        done += aout - g->zs.avail_out;
        if (z == Z_STREAM_END) {
            g->ended = 1;
        } else if (z == Z_BUF_ERROR && g->pos == g->n) {
            snprintf(g->err, sizeof g->err, "gzip data ends early (%s, byte %zu)", g->path, g->n);
            return CDT_EDATA;
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            snprintf(g->err, sizeof g->err, "corrupt gzip data: %s (%s, byte %zu)",
                     g->zs.msg ? g->zs.msg : "?", g->path, g->pos);
            return z == Z_MEM_ERROR ? CDT_ENOMEM : CDT_EDATA;
        }
    }
    *got = done;
    return 0;
}

int ds_gunzip_file(cdt_dataset *d, const char *path, ds_blob *b)
{
    ds_blob z;
    ds_gz g;
    int rc = ds_read_file(d, path, &z);
    if (rc < 0)
        return rc;
    memset(b, 0, sizeof *b);
    if ((rc = ds_gz_open(&g, z.p, z.n, path)) < 0) {
        ds_blob_free(&z);
        return ds_fail(d, rc, "%s", g.err);
    }
    /* The trailer holds the size mod 2^32: right for all but huge files,
     * so one allocation and one pass usually suffice. */
    const uint8_t *t = z.p + z.n - 4;
    size_t cap = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
    /* The trailer is not checked until the end: deflate expands at most
     * ~1032:1, so a larger claim is a lie and must not size an allocation. */
    if (cap / 1032 > z.n)
        cap = z.n * 1032;
    cap = (cap < z.n ? z.n * 4 : cap) + 1;
    size_t len = 0, got = 1;
    if (!(b->own = malloc(cap)))
        rc = ds_fail(d, CDT_ENOMEM, "out of memory inflating %s", path);
    while (rc == 0 && got) {
        if (len == cap && cdt_grow((void **)&b->own, &cap, cap * 2)) {
            rc = ds_fail(d, CDT_ENOMEM, "out of memory inflating %s", path);
            break;
        }
        if ((rc = ds_gz_read(&g, b->own + len, cap - len, &got)) < 0)
            rc = ds_fail(d, rc, "%s", g.err);
        len += got;
        got = got && len == cap; /* a short read is the end */
    }
    ds_gz_close(&g);
    ds_blob_free(&z);
    if (rc < 0) {
        ds_blob_free(b);
        return rc;
    }
    b->p = b->own;
    b->n = len;
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int ds_src_open(cdt_dataset *d, ds_src *s, const char *path, const char *subdir,
                const char *tarname)
{
    char buf[sizeof s->dir];
    memset(s, 0, sizeof *s);
    if (strlen(path) + 256 > sizeof s->dir)
        return ds_fail(d, CDT_EINVAL, "path too long (%s)", path);
    if (is_dir(path)) {
        snprintf(buf, sizeof buf, "%s/%s", path, subdir);
        if (is_dir(buf)) {
            memcpy(s->dir, buf, sizeof buf);
            return 0;
        }
        snprintf(buf, sizeof buf, "%s/%s", path, tarname);
        if (!is_file(buf)) {
            snprintf(s->dir, sizeof s->dir, "%s", path);
            return 0;
        }
        path = buf;
    } else if (!is_file(path)) {
        return CDT_ENOENT;
    }
    snprintf(s->dir, sizeof s->dir, "%s", path);
    return ds_gunzip_file(d, s->dir, &s->tar);
}

static uint64_t tar_number(const uint8_t *f, int len)
{
    uint64_t v = 0;
    if (f[0] & 0x80) { /* GNU base-256 for sizes of 8 GiB and more */
        for (int i = 1; i < len; i++)
            v = v << 8 | f[i];
        return v;
    }
    for (int i = 0; i < len && f[i]; i++)
        if (f[i] >= '0' && f[i] <= '7')
            v = v * 8 + (uint64_t)(f[i] - '0');
    return v;
}

static int tar_checksum_ok(const uint8_t *h)
{
    uint64_t sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum == tar_number(h + 148, 8);
}

static int base_is(const char *path, size_t len, const char *name)
{
    size_t nl = strlen(name);
    while (len && path[len - 1] == '/')
        len--;
    return len >= nl && !memcmp(path + len - nl, name, nl) &&
           (len == nl || path[len - nl - 1] == '/');
}

/* Walk the ustar/GNU headers for a regular file whose base name is name. */
static int tar_find(cdt_dataset *d, ds_src *s, const char *name, ds_blob *b)
{
    const uint8_t *p = s->tar.p;
    size_t n = s->tar.n, off = 0, namelen;
    const char *gnu = NULL; /* a GNU long name for the next member */
    char full[256 + 156];
    while (off + 512 <= n) {
        const uint8_t *h = p + off;
        if (h[0] == 0)
            break; /* the end-of-archive blocks */
        if (!tar_checksum_ok(h))
            return ds_fail(d, CDT_EDATA, "bad tar header (%s, byte %zu)", s->dir, off);
        uint64_t size = tar_number(h + 124, 12);
        if (size > n - off - 512)
            return ds_fail(d, CDT_ETRUNC, "tar archive ends inside a member (%s, byte %zu)", s->dir, off);
        const char *data = (const char *)h + 512, *nm = (const char *)h;
        if (gnu) {
            nm = gnu;
            namelen = strnlen(gnu, (size_t)((const char *)p + n - gnu));
        } else if (!memcmp(h + 257, "ustar", 5) && h[345]) {
            snprintf(full, sizeof full, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
            nm = full;
            namelen = strlen(full);
        } else {
            namelen = strnlen(nm, 100);
        }
        if (h[156] == 'L') {
            gnu = data;
        } else if (h[156] != 'x' && h[156] != 'g') {
            if ((h[156] == '0' || h[156] == 0 || h[156] == '7') && base_is(nm, namelen, name)) {
                b->p = (const uint8_t *)data;
                b->n = size;
                b->own = NULL;
                return 0;
            }
            gnu = NULL;
        }
        off += 512 + (size + 511) / 512 * 512;
    }
    return CDT_ENOENT;
}

int ds_src_get(cdt_dataset *d, ds_src *s, const char *name, ds_blob *b)
{
    char path[sizeof s->dir + 256];
    memset(b, 0, sizeof *b);
    if (s->tar.p)
        return tar_find(d, s, name, b);
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    if (!is_file(path))
        return CDT_ENOENT;
    return ds_read_file(d, path, b);
}

void ds_src_where(const ds_src *s, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, s->tar.p ? "%s:%s" : "%s/%s", s->dir, name);
}

void ds_src_close(ds_src *s)
{
    ds_blob_free(&s->tar);
}

int ds_src_size(cdt_dataset *d, ds_src *s, const char *name, uint64_t *size)
{
    char path[sizeof s->dir + 256];
    struct stat st;
    ds_blob b;
    if (s->tar.p) {
        int rc = tar_find(d, s, name, &b);
        *size = b.n;
        return rc;
    }
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return CDT_ENOENT;
    *size = (uint64_t)st.st_size;
    return 0;
}

int ds_src_read_part(cdt_dataset *d, ds_src *s, const char *name, uint64_t off,
                     size_t len, uint8_t *dst)
{
    char where[sizeof s->dir + 256];
    ds_src_where(s, name, where, sizeof where);
    if (s->tar.p) {
        ds_blob b;
        int rc = tar_find(d, s, name, &b);
        if (rc < 0)
            return rc == CDT_ENOENT ? ds_fail(d, rc, "no such member (%s)", where) : rc;
        if (off > b.n || len > b.n - off)
            return ds_fail(d, CDT_ETRUNC, "file ends early (%s, byte %zu)", where, b.n);
        memcpy(dst, b.p + off, len);
        return 0;
    }
    FILE *f = fopen(where, "rb");
    if (!f)
        return ds_fail(d, errno == ENOENT ? CDT_ENOENT : CDT_EIO, "cannot open %s: %s",
                       where, strerror(errno));
    int rc = 0;
    if (fseeko(f, (off_t)off, SEEK_SET) < 0 || fread(dst, 1, len, f) != len)
        rc = ds_fail(d, ferror(f) ? CDT_EIO : CDT_ETRUNC, "cannot read %zu bytes at byte %llu (%s)",
                     len, (unsigned long long)off, where);
    fclose(f);
    return rc;
}
