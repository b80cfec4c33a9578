/* Byte sources, the array list, base64 and JSON helpers of the kerchunk indexer. */
#include "common/bytes.h"
#include "kerchunk/kerchunk.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- byte sources -------------------------------------------------------------------- */

strata_status kc_src_open(kc_src *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->name = path;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        return st_fail(STRATA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(s->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(s->fd);
        s->fd = -1;
        return st_fail(STRATA_ERR_IO, "%s: not a regular file", path);
    }
    s->size = (uint64_t)sb.st_size;
    s->nbuf = 0;
    return STRATA_OK;
}

void kc_src_mem(kc_src *s, const char *name, const void *buf, size_t size) {
    s->name = name;
    s->fd = -1;
    s->buf = buf;
    s->size = size;
    s->nbuf = size;
    s->more = NULL;
    s->announce = NULL;
    s->more_ctx = NULL;
}

void kc_src_close(kc_src *s) {
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
}

strata_status kc_read(const kc_src *s, uint64_t off, void *dst, size_t n) {
    if (off > s->size || n > s->size - off) {
        return st_fail(STRATA_ERR_IO,
                       "%s: corrupt or truncated: %zu bytes at offset %llu lie past the end "
                       "of the file (%llu bytes)",
                       s->name, n, (unsigned long long)off, (unsigned long long)s->size);
    }
    if (s->fd < 0 && off <= s->nbuf && n <= s->nbuf - off) {
        memcpy(dst, s->buf + off, n);
        return STRATA_OK;
    }
    if (s->fd < 0) {
        return s->more ? s->more(s->more_ctx, off, dst, n)
                       : st_fail(STRATA_ERR_IO, "%s: cannot read at offset %llu", s->name,
                                 (unsigned long long)off);
    }
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(s->fd, (char *)dst + done, n - done, (off_t)(off + done));
        if (got <= 0) {
            return st_fail(STRATA_ERR_IO, "%s: read failed at offset %llu: %s", s->name,
                           (unsigned long long)(off + done),
                           got < 0 ? strerror(errno) : "unexpected end of file");
        }
        done += (size_t)got;
    }
    return STRATA_OK;
}

/* ---- arrays -------------------------------------------------------------------------- */

kc_var *kc_file_add(kc_file *f, const char *name) {
    if (!st_grow(&f->vars, &f->cap, f->nvars + 1, sizeof *f->vars, 8)) {
        return NULL;
    }
    kc_var *v = &f->vars[f->nvars];
    memset(v, 0, sizeof *v);
    v->name = st_strdup(name);
    v->attrs = json_object();
    if (!v->name || !v->attrs) {
        kc_var_free(v);
        return NULL;
    }
    f->nvars++;
    return v;
}

void kc_var_free(kc_var *v) {
    free(v->name);
    for (int d = 0; d < v->ndim; d++) {
        free(v->dims[d]);
    }
    json_decref(v->filters);
    json_decref(v->compressor);
    json_decref(v->fill);
    json_decref(v->missing);
    json_decref(v->attrs);
    for (size_t i = 0; v->chunk && i < v->nchunks; i++) {
        free(v->chunk[i].data);
    }
    free(v->chunk);
    free(v->values);
    memset(v, 0, sizeof *v);
}

void kc_file_free(kc_file *f) {
    for (size_t i = 0; i < f->nvars; i++) {
        kc_var_free(&f->vars[i]);
    }
    free(f->vars);
    json_decref(f->attrs);
    memset(f, 0, sizeof *f);
}

kc_var *kc_file_find(const kc_file *f, const char *name) {
    for (size_t i = 0; i < f->nvars; i++) {
        if (strcmp(f->vars[i].name, name) == 0) {
            return &f->vars[i];
        }
    }
    return NULL;
}

/* A reference costs ~40 bytes of JSON; beyond this many per array something is wrong. */
#define KC_MAX_CHUNKS ((size_t)1 << 26)

strata_status kc_var_alloc_chunks(kc_var *v, const char *file) {
    size_t n = 1;
    for (int d = 0; d < v->ndim; d++) {
        if (v->chunks[d] == 0) {
            return st_fail(STRATA_ERR_IO, "%s: variable '%s' has a zero chunk size", file, v->name);
        }
        uint64_t g = v->shape[d] / v->chunks[d] + (v->shape[d] % v->chunks[d] != 0);
        if (g > KC_MAX_CHUNKS || (g && n > KC_MAX_CHUNKS / g)) {
            return st_fail(STRATA_ERR_UNSUPPORTED, "%s: variable '%s' has too many chunks", file,
                           v->name);
        }
        n *= (size_t)g;
    }
    v->chunk = st_calloc(n ? n : 1, sizeof *v->chunk);
    if (!v->chunk) {
        return st_nomem("chunk list");
    }
    v->nchunks = n;
    return STRATA_OK;
}

size_t kc_dtype_size(const char *dtype) {
    return (size_t)strtoul(dtype + 2, NULL, 10);
}

strata_status kc_inline_small(const kc_src *s, kc_chunk *c, size_t threshold) {
    if (!c->present || c->data || c->size >= threshold) {
        return STRATA_OK;
    }
    c->data = st_malloc((size_t)c->size);
    if (!c->data) {
        return st_nomem("inline chunk");
    }
    return kc_read(s, c->offset, c->data, (size_t)c->size);
}

/* ---- base64 and JSON ----------------------------------------------------------------- */

json_t *kc_json_value(const char *dtype, const unsigned char *p) {
    size_t size = kc_dtype_size(dtype);
    union {
        int8_t i8;
        uint8_t u8;
        int16_t i16;
        uint16_t u16;
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;
        float f32;
        double f64;
    } u;
    if (size == 0 || size > 8) {
        return NULL;
    }
    uint64_t bits = st_load_uint(p, size, dtype[0] == '>');
    switch (size) {
    case 1:
        u.u8 = (uint8_t)bits;
        break;
    case 2:
        u.u16 = (uint16_t)bits;
        break;
    case 4:
        u.u32 = (uint32_t)bits;
        break;
    default:
        u.u64 = bits;
        break;
    }
    char kind = dtype[1];
    if (kind == 'f') {
        return kc_json_double(size == 4 ? (double)u.f32 : u.f64);
    }
    bool sgn = kind == 'i';
    switch (size) {
    case 1:
        return json_integer(sgn ? u.i8 : u.u8);
    case 2:
        return json_integer(sgn ? u.i16 : u.u16);
    case 4:
        return json_integer(sgn ? u.i32 : (json_int_t)u.u32);
    case 8:
        if (sgn || u.u64 <= INT64_MAX) {
            return json_integer((json_int_t)u.u64);
        }
        char text[32];
        snprintf(text, sizeof text, KC_RAW "%llu", (unsigned long long)u.u64);
        return json_string(text);
    default:
        return NULL;
    }
}

json_t *kc_json_double(double v) {
    if (isnan(v)) {
        return json_string(KC_RAW "NaN");
    }
    if (isinf(v)) {
        return json_string(v > 0 ? KC_RAW "Infinity" : KC_RAW "-Infinity");
    }
    return json_real(v);
}

json_t *kc_fill_json(const json_t *value) {
    const char *s = json_string_value(value);
    if (s && s[0] == KC_RAW[0] && (s[1] == 'N' || s[1] == 'I' || s[1] == '-')) {
        return json_string(s + 1); /* zarr v2 spells these fill values as strings */
    }
    return json_incref((json_t *)value);
}

/* Whether the n bytes at p are what KC_RAW may mark: a file's text that happens to start
 * with \x01 must stay a string, never become JSON syntax. */
static bool raw_text(const char *p, size_t n) {
    if ((n == 3 && strncmp(p, "NaN", 3) == 0) || (n == 8 && strncmp(p, "Infinity", 8) == 0) ||
        (n == 9 && strncmp(p, "-Infinity", 9) == 0)) {
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
    }
    return n > 0 && n < 21;
}

char *kc_dumps(const json_t *o, size_t flags) {
    char *text = json_dumps(o, flags);
    if (!text) {
        return NULL;
    }
    /* "\u0001NaN" -> NaN: the marked strings become bare JSON text. */
    static const char mark[] = "\"\\u0001";
    char *out = text, *in = text;
    while (*in) {
        size_t n = 0;
        if (strncmp(in, mark, sizeof mark - 1) == 0) {
            const char *body = in + sizeof mark - 1;
            n = strcspn(body, "\"\\");
            if (body[n] == '"' && raw_text(body, n)) {
                memmove(out, body, n);
                out += n;
                in = (char *)body + n + 1;
                continue;
            }
        }
        *out++ = *in++;
    }
    *out = '\0';
    return text;
}
