/* stream_internal.h: what libcdt's own files share and users do not see. */
#ifndef CDT_STREAM_INTERNAL_H
#define CDT_STREAM_INTERNAL_H

#include <stddef.h>
#include "cdt_stream.h"

int cdt_meta_key_ok(const char *k, size_t n);
int cdt_utf8_ok(const char *s, size_t n);
int cdt_meta_encode(const cdt_meta *m, char **out, size_t *len);
int cdt_meta_decode(cdt_meta *m, const char *buf, size_t len, size_t *bad_at);

#endif
