/* Byte-order readers and writers, and the bounds-checked view (common/bytes.h). */
#include "common/bytes.h"

#include <string.h>

uint64_t st_load_uint(const unsigned char *p, size_t n, bool be) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v << 8 | p[be ? i : n - 1 - i];
    }
    return v;
}

void st_store_uint(unsigned char *p, size_t n, uint64_t v, bool be) {
    for (size_t i = 0; i < n; i++) {
        p[be ? n - 1 - i : i] = (unsigned char)(v >> (8 * i));
    }
}

static bool inside(const st_bytes *c, uint64_t off, size_t len) {
    return off <= c->n && len <= c->n - off;
}

bool st_bytes_uint(const st_bytes *c, uint64_t off, size_t len, uint64_t *out) {
    if (!inside(c, off, len) || len > 8) {
        return false;
    }
    *out = st_load_uint(c->p + off, len, c->be);
    return true;
}

bool st_bytes_copy(const st_bytes *c, uint64_t off, void *dst, size_t len) {
    if (!inside(c, off, len)) {
        return false;
    }
    memcpy(dst, c->p + off, len);
    return true;
}
