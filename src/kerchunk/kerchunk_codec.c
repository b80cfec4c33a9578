/* Encoding a chunk of fill values with an array's codecs.
 *
 * A chunk that a file never wrote (a sparse TIFF tile, an unallocated HDF5 chunk) should be
 * a missing key, which Zarr reads as fill_value; but fsspec's reference filesystem (2022.11,
 * Debian 12) fails on a missing key when it fetches several at once. So missing chunks are
 * written inline: the fill value repeated over the chunk, encoded with the array's filters
 * and compressor. Constant data compresses to a few bytes. */
#include "common/bytes.h"
#include "kerchunk/kerchunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

static double fill_number(const json_t *fill) {
    if (json_is_string(fill)) {
        const char *s = json_string_value(fill);
        s += s[0] == KC_RAW[0];
        return strcmp(s, "NaN") == 0 ? NAN : s[0] == '-' ? -INFINITY : INFINITY;
    }
    return json_number_value(fill);
}

/* One element of the fill value in the array's type and byte order. */
static void fill_element(const json_t *fill, const char *dtype, unsigned char *out, size_t size) {
    union {
        int8_t i8;
        int16_t i16;
        int32_t i32;
        int64_t i64;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        float f32;
        double f64;
    } u = {0};
    double d = fill ? fill_number(fill) : 0;
    char kind = dtype[1];
    if (kind == 'f') {
        if (size == 4) {
            u.f32 = (float)d;
        } else {
            u.f64 = d;
        }
    } else {
        const char *raw = json_string_value(fill);
        int64_t x = json_is_integer(fill)        ? json_integer_value(fill)
                    : raw && raw[0] == KC_RAW[0] ? (int64_t)strtoull(raw + 1, NULL, 10)
                    : fabs(d) < 9e18             ? (int64_t)d
                                                 : 0;
        switch (size) {
        case 1:
            u.i8 = (int8_t)x;
            break;
        case 2:
            u.i16 = (int16_t)x;
            break;
        case 4:
            u.i32 = (int32_t)x;
            break;
        default:
            u.i64 = x;
            break;
        }
    }
    uint64_t bits = size == 1 ? u.u8 : size == 2 ? u.u16 : size == 4 ? u.u32 : u.u64;
    st_store_uint(out, size, bits, dtype[0] == '>');
}

static strata_status shuffle(unsigned char **buf, size_t n, size_t elem) {
    unsigned char *out = st_malloc(n);
    if (!out) {
        return st_nomem("fill chunk");
    }
    size_t count = n / elem;
    for (size_t i = 0; i < count; i++) {
        for (size_t b = 0; b < elem; b++) {
            out[b * count + i] = (*buf)[i * elem + b];
        }
    }
    free(*buf);
    *buf = out;
    return STRATA_OK;
}

static strata_status encode(const char *id, int level, unsigned char **buf, size_t *n) {
    bool zstd = strcmp(id, "zstd") == 0;
    size_t cap = zstd ? ZSTD_compressBound(*n) : (size_t)compressBound((uLong)*n);
    unsigned char *out = st_malloc(cap);
    if (!out) {
        return st_nomem("fill chunk");
    }
    bool ok;
    size_t got = cap;
    if (zstd) {
        got = ZSTD_compress(out, cap, *buf, *n, level);
        ok = !ZSTD_isError(got);
    } else {
        uLongf zn = (uLongf)cap;
        ok = compress2(out, &zn, *buf, (uLong)*n, level < 0 || level > 9 ? 6 : level) == Z_OK;
        got = zn;
    }
    free(*buf);
    *buf = out;
    *n = got;
    return ok ? STRATA_OK : st_fail(STRATA_ERR_NOMEM, "cannot encode a fill chunk");
}

static strata_status apply(const json_t *codec, unsigned char **buf, size_t *n) {
    const char *id = json_string_value(json_object_get(codec, "id"));
    int level = (int)json_integer_value(json_object_get(codec, "level"));
    if (id && strcmp(id, "shuffle") == 0) {
        json_int_t elem = json_integer_value(json_object_get(codec, "elementsize"));
        return elem > 0 ? shuffle(buf, *n, (size_t)elem) : STRATA_OK;
    }
    if (id && (strcmp(id, "zlib") == 0 || strcmp(id, "zstd") == 0)) {
        return encode(id, level, buf, n);
    }
    return st_fail(STRATA_ERR_UNSUPPORTED, "no encoder for codec %s", id ? id : "?");
}

strata_status kc_fill_chunk(const kc_var *v, unsigned char **out, size_t *n) {
    size_t elem = kc_dtype_size(v->dtype), count = 1;
    for (int d = 0; d < v->ndim; d++) {
        count *= (size_t)v->chunks[d];
    }
    size_t bytes = count * elem;
    unsigned char *buf = st_malloc(bytes);
    if (!buf) {
        return st_nomem("fill chunk");
    }
    const json_t *fill = v->fill ? v->fill : v->missing;
    for (size_t i = 0; i < count; i++) {
        fill_element(fill, v->dtype, buf + i * elem, elem);
    }
    strata_status st = STRATA_OK;
    for (size_t i = 0; st == STRATA_OK && i < json_array_size(v->filters); i++) {
        st = apply(json_array_get(v->filters, i), &buf, &bytes);
    }
    if (st == STRATA_OK && v->compressor) {
        st = apply(v->compressor, &buf, &bytes);
    }
    if (st != STRATA_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *n = bytes;
    return STRATA_OK;
}
