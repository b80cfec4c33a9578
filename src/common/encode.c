/* Text encodings shared by the Zarr writer and the kerchunk indexer (which must not depend on
 * each other): base64, and doubles as Zarr JSON writes them. */
#include "common/common.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

char *st_base64(const char *prefix, const void *data, size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *buf = data;
    size_t plen = strlen(prefix), len = plen + (n + 2) / 3 * 4;
    char *out = st_malloc(len + 1), *p = out;
    if (!out) {
        return NULL;
    }
    memcpy(p, prefix, plen);
    p += plen;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)buf[i] << 16;
        w |= i + 1 < n ? (uint32_t)buf[i + 1] << 8 : 0;
        w |= i + 2 < n ? buf[i + 2] : 0;
        *p++ = alphabet[w >> 18 & 63];
        *p++ = alphabet[w >> 12 & 63];
        *p++ = i + 1 < n ? alphabet[w >> 6 & 63] : '=';
        *p++ = i + 2 < n ? alphabet[w & 63] : '=';
    }
    *p = '\0';
    return out;
}

/* Zarr (and numcodecs) spell the doubles JSON lacks as "NaN", "Infinity", "-Infinity". */
struct json_t *st_json_zarr_double(double v) {
    if (isnan(v)) {
        return json_string("NaN");
    }
    if (isinf(v)) {
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    }
    return json_real(v);
}

char *st_json_dump(const void *jobj) {
    return json_dumps(jobj, JSON_COMPACT | JSON_REAL_PRECISION(17));
}
