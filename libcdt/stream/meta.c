/* meta.c: the ordered key=value list carried in a stream header. */
#include "cdt_stream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_internal.h"

typedef struct pair { char *key, *value; } pair;

struct cdt_meta {
    pair *p;
    size_t n, cap;
};

cdt_meta *cdt_meta_create(void)
{
    return calloc(1, sizeof(cdt_meta));
}

void cdt_meta_destroy(cdt_meta *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->p[i].key);
        free(m->p[i].value);
    }
    free(m->p);
    free(m);
}

cdt_meta *cdt_meta_clone(const cdt_meta *m)
{
    cdt_meta *c = cdt_meta_create();
    if (c && m && cdt_meta_merge(c, m) < 0) {
        cdt_meta_destroy(c);
        return NULL;
    }
    return c;
}

int cdt_meta_key_ok(const char *k, size_t n)
{
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int cdt_utf8_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { i++; if (!c) return 0; continue; }
        else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return 0;
        if (i + len > n)
            return 0;
        for (size_t j = 1; j < len; j++) {
            if ((u[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (u[i + j] & 0x3F);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static pair *find(const cdt_meta *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->p[i].key, key))
            return &m->p[i];
    return NULL;
}

int cdt_meta_set(cdt_meta *m, const char *key, const char *value)
{
    if (!cdt_meta_key_ok(key, strlen(key)) || strchr(value, '\n') ||
        !cdt_utf8_ok(value, strlen(value)))
        return CDT_EINVAL;
    char *v = strdup(value);
    if (!v)
        return CDT_ENOMEM;
    pair *p = find(m, key);
    if (p) {
        free(p->value);
        p->value = v;
        return 0;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        pair *np = realloc(m->p, cap * sizeof *np);
        if (!np) {
            free(v);
            return CDT_ENOMEM;
        }
        m->p = np;
        m->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return CDT_ENOMEM;
    }
    m->p[m->n++] = (pair){k, v};
    return 0;
}

int cdt_meta_setf(cdt_meta *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CDT_EINVAL;
    char *buf = malloc((size_t)n + 1);
    if (!buf)
        return CDT_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = cdt_meta_set(m, key, buf);
    free(buf);
    return rc;
}

int cdt_meta_set_i64(cdt_meta *m, const char *key, int64_t v)
{
    return cdt_meta_setf(m, key, "%" PRId64, v);
}

const char *cdt_meta_get(const cdt_meta *m, const char *key)
{
    pair *p = find(m, key);
    return p ? p->value : NULL;
}

int cdt_meta_get_i64(const cdt_meta *m, const char *key, int64_t *v)
{
    const char *s = cdt_meta_get(m, key);
    if (!s)
        return CDT_ENOENT;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return CDT_EDATA;
    *v = x;
    return 0;
}

void cdt_meta_remove(cdt_meta *m, const char *key)
{
    pair *p = find(m, key);
    if (!p)
        return;
    free(p->key);
    free(p->value);
    size_t i = (size_t)(p - m->p);
    memmove(&m->p[i], &m->p[i + 1], (m->n - i - 1) * sizeof *p);
    m->n--;
}

size_t cdt_meta_count(const cdt_meta *m) { return m->n; }
const char *cdt_meta_key(const cdt_meta *m, size_t i) { CDT_ASSERT(i < m->n); return m->p[i].key; }
const char *cdt_meta_value(const cdt_meta *m, size_t i) { CDT_ASSERT(i < m->n); return m->p[i].value; }

int cdt_meta_merge(cdt_meta *dst, const cdt_meta *src)
{
    for (size_t i = 0; i < src->n; i++) {
        int rc = cdt_meta_set(dst, src->p[i].key, src->p[i].value);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Serialise as "key=value\n" lines into a malloc'd buffer. */
int cdt_meta_encode(const cdt_meta *m, char **out, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += strlen(m->p[i].key) + strlen(m->p[i].value) + 2;
    if (n > CDT_MAX_META)
        return CDT_ELIMIT;
    char *buf = malloc(n + 1);
    if (!buf)
        return CDT_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < m->n; i++)
        at += (size_t)sprintf(buf + at, "%s=%s\n", m->p[i].key, m->p[i].value);
    *out = buf;
    *len = n;
    return 0;
}

/* Parse meta bytes; on failure *bad_at is the offset within buf. */
int cdt_meta_decode(cdt_meta *m, const char *buf, size_t len, size_t *bad_at)
{
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(buf + at, '\n', len - at);
        const char *eq = memchr(buf + at, '=', nl ? (size_t)(nl - buf - at) : len - at);
        *bad_at = at;
        if (!nl || !eq)
            return CDT_EDATA;
        size_t klen = (size_t)(eq - buf - at), vlen = (size_t)(nl - eq - 1);
        if (!cdt_meta_key_ok(buf + at, klen) || !cdt_utf8_ok(eq + 1, vlen))
            return CDT_EDATA;
        char key[256], *val = malloc(vlen + 1);
        if (!val)
            return CDT_ENOMEM;
        if (klen >= sizeof key) {
            free(val);
            return CDT_EDATA;
        }
        memcpy(key, buf + at, klen);
        key[klen] = 0;
        memcpy(val, eq + 1, vlen);
        val[vlen] = 0;
        int rc = find(m, key) ? CDT_EDATA : cdt_meta_set(m, key, val);
        free(val);
        if (rc < 0)
            return rc;
        at = (size_t)(nl - buf) + 1;
    }
    return 0;
}
