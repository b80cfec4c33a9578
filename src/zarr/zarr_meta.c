/* Array metadata documents of Zarr v2 (.zarray + .zattrs) and v3 (zarr.json), and the JSON
 * encodings both specs share: NaN and infinities are strings, since JSON has no such
 * numbers. */
#include "zarr/zarr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *st_zarr_fill_b64(double v) {
    /* The double's bytes, little-endian, as current xarray reads a v3 float fill value. */
    unsigned char b[8];
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(bits >> (8 * i));
    }
    char *text = st_base64("", b, sizeof b);
    json_t *s = text ? json_string(text) : NULL;
    free(text);
    return s;
}

/* numpy's dtype string for v2: byte order, kind, size ("<f4", "|u1"). */
static void v2_dtype(strata_dtype t, char *buf, size_t size) {
    size_t n = strata_dtype_size(t);
    char kind = st_dtype_is_float(t) ? 'f' : strata_dtype_name(t)[0] == 'u' ? 'u' : 'i';
    snprintf(buf, size, "%c%c%zu", n == 1 ? '|' : '<', kind, n);
}

static json_t *fill_value(const st_zarr_array *a, int zarr_version) {
    if (!a->has_fill) {
        if (zarr_version == 2) {
            return json_null();
        }
        return st_dtype_is_float(a->dtype) ? json_real(0.0) : json_integer(0);
    }
    if (st_dtype_is_float(a->dtype)) {
        return st_json_zarr_double(a->fill);
    }
    return json_integer((json_int_t)a->fill);
}

static json_t *u64_list(const uint64_t *v, int n) {
    json_t *l = json_array();
    for (int i = 0; l && i < n; i++) {
        if (json_array_append_new(l, json_integer((json_int_t)v[i])) != 0) {
            json_decref(l);
            return NULL;
        }
    }
    return l;
}

static json_t *dim_list(const st_zarr_array *a) {
    json_t *l = json_array();
    for (int i = 0; l && i < a->ndim; i++) {
        if (json_array_append_new(l, json_string(a->dims[i])) != 0) {
            json_decref(l);
            return NULL;
        }
    }
    return l;
}

static json_t *doc_v2(const st_zarr_array *a) {
    char dtype[24];
    v2_dtype(a->dtype, dtype, sizeof dtype);
    if (a->str_len > 0) {
        snprintf(dtype, sizeof dtype, "<U%d", a->str_len);
    }
    return json_pack("{s:i,s:o,s:o,s:s,s:o,s:o,s:s,s:n,s:s}", "zarr_format", 2, "shape",
                     u64_list(a->shape, a->ndim), "chunks", u64_list(a->chunks, a->ndim), "dtype",
                     dtype, "compressor", st_zarr_codec_v2(a->codec), "fill_value",
                     fill_value(a, 2), "order", "C", "filters", "dimension_separator", ".");
}

static json_t *doc_v3(const st_zarr_array *a) {
    json_t *attrs = a->attrs ? json_deep_copy(a->attrs) : json_object();
    return json_pack("{s:i,s:s,s:o,s:s,s:{s:s,s:{s:o}},s:{s:s,s:{s:s}},s:o,s:o,s:o,s:o}",
                     "zarr_format", 3, "node_type", "array", "shape", u64_list(a->shape, a->ndim),
                     "data_type", strata_dtype_name(a->dtype), "chunk_grid", "name", "regular",
                     "configuration", "chunk_shape", u64_list(a->chunks, a->ndim),
                     "chunk_key_encoding", "name", "default", "configuration", "separator", "/",
                     "fill_value", fill_value(a, 3), "codecs",
                     st_zarr_codecs_v3(a->codec, strata_dtype_size(a->dtype)), "attributes", attrs,
                     "dimension_names", dim_list(a));
}

json_t *st_zarr_array_doc(const st_zarr_array *a, int zarr_version) {
    return zarr_version == 3 ? doc_v3(a) : doc_v2(a);
}

json_t *st_zarr_array_attrs_v2(const st_zarr_array *a) {
    json_t *o = a->attrs ? json_deep_copy(a->attrs) : json_object();
    if (o && json_object_set_new(o, "_ARRAY_DIMENSIONS", dim_list(a)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
