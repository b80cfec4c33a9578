/* NetCDF3 (classic CDF-1, 64-bit offset CDF-2, and CDF-5) headers to Zarr arrays.
 *
 * The header is big-endian: magic, numrecs, dim_list, gatt_list, var_list; every variable
 * carries the offset of its data ("begin"). Non-record variables are one contiguous chunk.
 * Record variables are interleaved record by record, each record holding one slab of every
 * record variable, so each record of a variable is its own chunk at begin + r * recsize.
 * Every count read from the file is checked against what is left of the file before it is
 * trusted with an allocation, so any bytes give an error, never a crash. */
#include "common/bytes.h"
#include "kerchunk/kerchunk.h"

#include <stdlib.h>
#include <string.h>

enum { NC_DIMENSION = 0x0A, NC_VARIABLE = 0x0B, NC_ATTRIBUTE = 0x0C };
#define NC_MAX_NAME_LEN 4096
#define NC_STREAMING 0xFFFFFFFFu

typedef struct nc3_dim {
    char *name;
    uint64_t len; /* 0: the record dimension */
} nc3_dim;

typedef struct nc3_cur {
    const kc_src *s;
    uint64_t pos;
    int version; /* 1, 2 or 5 */
    nc3_dim *dims;
    size_t ndims;
    long recdim; /* index of the unlimited dimension, -1 when none */
    uint64_t numrecs;
} nc3_cur;

bool kc_is_nc3(const unsigned char *head, size_t n) {
    return n >= 4 && memcmp(head, "CDF", 3) == 0 && (head[3] == 1 || head[3] == 2 || head[3] == 5);
}

static strata_status corrupt(const nc3_cur *c, const char *what) {
    return st_fail(STRATA_ERR_IO, "%s: corrupt NetCDF3 header: %s (at byte %llu)", c->s->name, what,
                   (unsigned long long)c->pos);
}

static strata_status get_be(nc3_cur *c, size_t n, uint64_t *v) {
    unsigned char b[8];
    ST_TRY(kc_read(c->s, c->pos, b, n));
    c->pos += n;
    *v = st_load_uint(b, n, true);
    return STRATA_OK;
}

/* Every NON_NEG of the grammar (numrecs, nelems of lists and names, dim_length, dimid,
 * vsize) is 4 bytes, 8 in CDF-5; nc_type and the list tags stay 4 bytes, and begin is 8
 * bytes from CDF-2 on. */
static strata_status get_count(nc3_cur *c, uint64_t *v) {
    return get_be(c, c->version == 5 ? 8 : 4, v);
}

static uint64_t pad4(uint64_t n) {
    return (n + 3) & ~(uint64_t)3;
}

static uint64_t left(const nc3_cur *c) {
    return c->pos < c->s->size ? c->s->size - c->pos : 0;
}

static strata_status get_name(nc3_cur *c, char **out) {
    uint64_t len;
    ST_TRY(get_count(c, &len));
    if (len == 0 || len > NC_MAX_NAME_LEN || pad4(len) > left(c)) {
        return corrupt(c, "bad name length");
    }
    char *name = st_malloc((size_t)len + 1);
    if (!name) {
        return st_nomem("name");
    }
    strata_status st = kc_read(c->s, c->pos, name, (size_t)len);
    name[len] = '\0';
    /* Names become JSON keys: they must be UTF-8 (as netCDF requires). */
    json_t *utf8 = st == STRATA_OK ? json_stringn(name, (size_t)len) : NULL;
    json_decref(utf8);
    if (st != STRATA_OK || !utf8 || strlen(name) != len) {
        free(name);
        return st != STRATA_OK ? st : corrupt(c, "a name that is not UTF-8 text");
    }
    c->pos += pad4(len);
    *out = name;
    return STRATA_OK;
}

/* numpy type string of an nc_type; NULL for char (text) and unknown codes. */
static const char *nc_dtype(uint64_t type, int version) {
    static const char *const classic[] = {NULL, "|i1", NULL, ">i2", ">i4", ">f4", ">f8"};
    static const char *const cdf5[] = {"|u1", ">u2", ">u4", ">i8", ">u8"};
    if (type >= 1 && type <= 6) {
        return classic[type];
    }
    if (version == 5 && type >= 7 && type <= 11) {
        return cdf5[type - 7];
    }
    return NULL;
}

static bool valid_type(uint64_t type, int version) {
    return type == 2 || nc_dtype(type, version) != NULL;
}

static size_t type_size(uint64_t type, int version) {
    return type == 2 ? 1 : kc_dtype_size(nc_dtype(type, version));
}

/* ---- attributes ---------------------------------------------------------------------- */

static json_t *attr_values(const char *dtype, const unsigned char *p, uint64_t n) {
    size_t size = kc_dtype_size(dtype);
    if (n == 1) {
        return kc_json_value(dtype, p);
    }
    json_t *a = json_array();
    for (uint64_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, kc_json_value(dtype, p + i * size)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *attr_json(uint64_t type, int version, const unsigned char *p, uint64_t n) {
    if (type == 2) {
        /* Text: netCDF pads with NULs and some writers count a trailing NUL. */
        size_t len = strnlen((const char *)p, (size_t)n);
        return json_stringn((const char *)p, len);
    }
    return attr_values(nc_dtype(type, version), p, n);
}

static strata_status get_attr(nc3_cur *c, json_t *attrs) {
    char *name = NULL;
    uint64_t type, n;
    ST_TRY(get_name(c, &name));
    strata_status st = get_be(c, 4, &type);
    if (st == STRATA_OK) {
        st = get_count(c, &n);
    }
    if (st == STRATA_OK && !valid_type(type, c->version)) {
        st = corrupt(c, "unknown attribute type");
    }
    uint64_t bytes = 0;
    if (st == STRATA_OK) {
        size_t size = type_size(type, c->version);
        bytes = n * size;
        if (n > left(c) / size || pad4(bytes) > left(c)) {
            st = corrupt(c, "attribute longer than the file");
        }
    }
    unsigned char *buf = st == STRATA_OK ? st_malloc((size_t)bytes + 1) : NULL;
    if (st == STRATA_OK && !buf) {
        st = st_nomem("attribute");
    }
    if (st == STRATA_OK) {
        st = kc_read(c->s, c->pos, buf, (size_t)bytes);
    }
    if (st == STRATA_OK) {
        buf[bytes] = 0;
        c->pos += pad4(bytes);
        json_t *val = n ? attr_json(type, c->version, buf, n) : json_string("");
        /* Text that is not UTF-8 and empty numeric lists are dropped, not fatal. */
        if (val) {
            json_object_set_new(attrs, name, val);
        }
    }
    free(buf);
    free(name);
    return st;
}

static strata_status get_attr_list(nc3_cur *c, json_t *attrs) {
    uint64_t tag, n;
    ST_TRY(get_be(c, 4, &tag));
    ST_TRY(get_count(c, &n));
    if (tag == 0 && n == 0) {
        return STRATA_OK;
    }
    if (tag != NC_ATTRIBUTE || n > left(c) / 12) {
        return corrupt(c, "bad attribute list");
    }
    for (uint64_t i = 0; i < n; i++) {
        ST_TRY(get_attr(c, attrs));
    }
    return STRATA_OK;
}

/* ---- dimensions ---------------------------------------------------------------------- */

static strata_status get_dims(nc3_cur *c) {
    uint64_t tag, n;
    ST_TRY(get_be(c, 4, &tag));
    ST_TRY(get_count(c, &n));
    if (tag == 0 && n == 0) {
        return STRATA_OK;
    }
    if (tag != NC_DIMENSION || n > left(c) / 8) {
        return corrupt(c, "bad dimension list");
    }
    c->dims = st_calloc((size_t)n, sizeof *c->dims);
    if (!c->dims) {
        return st_nomem("dimensions");
    }
    for (uint64_t i = 0; i < n; i++) {
        ST_TRY(get_name(c, &c->dims[i].name));
        c->ndims++;
        ST_TRY(get_count(c, &c->dims[i].len));
        if (c->dims[i].len == 0) {
            if (c->recdim >= 0) {
                return corrupt(c, "two unlimited dimensions");
            }
            c->recdim = (long)i;
        }
    }
    return STRATA_OK;
}

/* ---- variables ----------------------------------------------------------------------- */

typedef struct nc3_var {
    kc_var *v;
    uint64_t type, begin;
    bool record;
    uint64_t slab; /* bytes of one record (record variables) or of the whole variable */
} nc3_var;

static strata_status set_dims(nc3_cur *c, nc3_var *nv) {
    kc_var *v = nv->v;
    uint64_t n;
    ST_TRY(get_count(c, &n));
    if (n > KC_MAXDIM) {
        return corrupt(c, "too many dimensions for a variable");
    }
    v->ndim = (int)n;
    for (int d = 0; d < v->ndim; d++) {
        uint64_t id;
        ST_TRY(get_count(c, &id)); /* dimid: 8 bytes in CDF-5 */
        if (id >= c->ndims) {
            return corrupt(c, "dimension id out of range");
        }
        v->dims[d] = st_strdup(c->dims[id].name);
        if (!v->dims[d]) {
            return st_nomem("dimension name");
        }
        bool rec = (long)id == c->recdim;
        if (rec && d != 0) {
            return corrupt(c, "the unlimited dimension is not a variable's first");
        }
        nv->record = nv->record || rec;
        v->shape[d] = rec ? c->numrecs : c->dims[id].len;
    }
    return STRATA_OK;
}

/* Slab size with overflow checks: the product of the non-record dimensions times the type. */
static strata_status slab_size(nc3_cur *c, nc3_var *nv) {
    uint64_t bytes = type_size(nv->type, c->version);
    for (int d = nv->record ? 1 : 0; d < nv->v->ndim; d++) {
        if (__builtin_mul_overflow(bytes, nv->v->shape[d], &bytes)) {
            return corrupt(c, "variable size overflows");
        }
    }
    nv->slab = bytes;
    return STRATA_OK;
}

static strata_status get_var(nc3_cur *c, kc_file *f, nc3_var *nv) {
    char *name = NULL;
    ST_TRY(get_name(c, &name));
    nv->v = kc_file_add(f, name);
    free(name);
    if (!nv->v) {
        return st_nomem("variable");
    }
    ST_TRY(set_dims(c, nv));
    ST_TRY(get_attr_list(c, nv->v->attrs));
    uint64_t vsize;
    ST_TRY(get_be(c, 4, &nv->type));
    ST_TRY(get_count(c, &vsize)); /* not trusted: it saturates for large variables */
    ST_TRY(get_be(c, c->version == 1 ? 4 : 8, &nv->begin));
    if (!valid_type(nv->type, c->version)) {
        return corrupt(c, "unknown variable type");
    }
    return slab_size(c, nv);
}

static strata_status set_layout(nc3_cur *c, nc3_var *nv, uint64_t recsize) {
    kc_var *v = nv->v;
    const char *dtype = nc_dtype(nv->type, c->version);
    if (!dtype) {
        dtype = "|S1"; /* char: laid out, indexed only as a grid mapping (EURO-CORDEX crs) */
        v->text = true;
    }
    snprintf(v->dtype, sizeof v->dtype, "%s", dtype);
    for (int d = 0; d < v->ndim; d++) {
        v->chunks[d] = v->shape[d] ? v->shape[d] : 1;
    }
    if (nv->record) {
        v->chunks[0] = 1;
        /* Every record must lie in the file before a chunk is listed: a header may claim
         * billions of records. */
        uint64_t last, end;
        if (c->numrecs > 0 && (__builtin_mul_overflow(recsize, c->numrecs - 1, &last) ||
                               __builtin_add_overflow(last, nv->begin, &last) ||
                               __builtin_add_overflow(last, nv->slab, &end) || end > c->s->size)) {
            return st_fail(STRATA_ERR_IO,
                           "%s: corrupt or truncated NetCDF3 file: the %llu records of '%s' "
                           "end past the end of the file",
                           c->s->name, (unsigned long long)c->numrecs, v->name);
        }
    }
    ST_TRY(kc_var_alloc_chunks(v, c->s->name));
    for (size_t i = 0; i < v->nchunks; i++) {
        kc_chunk *k = &v->chunk[i];
        uint64_t step = nv->record ? recsize : 0, end;
        if (__builtin_mul_overflow(step, (uint64_t)i, &k->offset) ||
            __builtin_add_overflow(k->offset, nv->begin, &k->offset) ||
            __builtin_add_overflow(k->offset, nv->slab, &end) || end > c->s->size) {
            return st_fail(STRATA_ERR_IO,
                           "%s: corrupt or truncated NetCDF3 file: data of '%s' lies past "
                           "the end of the file",
                           c->s->name, v->name);
        }
        k->size = nv->slab;
        k->present = true;
    }
    json_t *fill = json_object_get(v->attrs, "_FillValue");
    v->fill = fill ? kc_fill_json(json_is_array(fill) ? json_array_get(fill, 0) : fill) : NULL;
    return STRATA_OK;
}

/* The whole 1-D coordinate, uncompressed: for the concatenated coordinate. */
static strata_status read_values(const kc_src *s, kc_var *v) {
    size_t total = 0;
    for (size_t i = 0; i < v->nchunks; i++) {
        total += (size_t)v->chunk[i].size;
    }
    v->values = st_malloc(total);
    if (!v->values) {
        return st_nomem("coordinate values");
    }
    for (size_t i = 0; i < v->nchunks; i++) {
        kc_chunk *k = &v->chunk[i];
        ST_TRY(kc_read(s, k->offset, v->values + v->values_size, (size_t)k->size));
        v->values_size += (size_t)k->size;
    }
    return STRATA_OK;
}

/* netCDF pads every record variable's slab to 4 bytes, except when there is only one. */
static uint64_t record_size(const nc3_var *vars, size_t n) {
    uint64_t sum = 0, count = 0, only = 0;
    for (size_t i = 0; i < n; i++) {
        if (vars[i].record) {
            sum += pad4(vars[i].slab);
            only = vars[i].slab;
            count++;
        }
    }
    return count == 1 ? only : sum;
}

static strata_status finish_vars(nc3_cur *c, nc3_var *nv, size_t n, const kc_read_opts *o) {
    uint64_t recsize = record_size(nv, n);
    for (size_t i = 0; i < n; i++) {
        ST_TRY(set_layout(c, &nv[i], recsize));
        kc_var *v = nv[i].v;
        if (v->unsupported || v->text) {
            continue;
        }
        if (o->concat_dim && v->ndim == 1 && strcmp(v->name, o->concat_dim) == 0) {
            ST_TRY(read_values(c->s, v));
        }
        for (size_t k = 0; k < v->nchunks; k++) {
            ST_TRY(kc_inline_small(c->s, &v->chunk[k], o->inline_threshold));
        }
    }
    return STRATA_OK;
}

static strata_status get_vars(nc3_cur *c, const kc_read_opts *o, kc_file *f) {
    uint64_t tag, n;
    ST_TRY(get_be(c, 4, &tag));
    ST_TRY(get_count(c, &n));
    if (tag == 0 && n == 0) {
        return STRATA_OK;
    }
    if (tag != NC_VARIABLE || n > left(c) / 24) {
        return corrupt(c, "bad variable list");
    }
    nc3_var *nv = st_calloc((size_t)n, sizeof *nv);
    if (!nv) {
        return st_nomem("variables");
    }
    strata_status st = STRATA_OK;
    for (uint64_t i = 0; st == STRATA_OK && i < n; i++) {
        st = get_var(c, f, &nv[i]);
    }
    /* kc_file_add moves the array as it grows: point at the final places. */
    for (size_t k = 0; k < f->nvars; k++) {
        nv[k].v = &f->vars[k];
    }
    if (st == STRATA_OK) {
        st = finish_vars(c, nv, (size_t)n, o);
    }
    free(nv);
    return st;
}

static strata_status parse(nc3_cur *c, const kc_read_opts *o, kc_file *out) {
    unsigned char magic[4];
    ST_TRY(kc_read(c->s, 0, magic, 4));
    if (!kc_is_nc3(magic, 4)) {
        return st_fail(STRATA_ERR_IO, "%s: not a NetCDF3 file", c->s->name);
    }
    c->version = magic[3];
    c->pos = 4;
    ST_TRY(get_count(c, &c->numrecs));
    if (c->numrecs == (c->version == 5 ? UINT64_MAX : NC_STREAMING)) {
        return corrupt(c, "record count not set (streaming file)");
    }
    ST_TRY(get_dims(c));
    out->attrs = json_object();
    if (!out->attrs) {
        return st_nomem("attributes");
    }
    ST_TRY(get_attr_list(c, out->attrs));
    return get_vars(c, o, out);
}

strata_status kc_nc3_read(const kc_src *s, const kc_read_opts *o, kc_file *out) {
    nc3_cur c = {.s = s, .recdim = -1};
    memset(out, 0, sizeof *out);
    strata_status st = parse(&c, o, out);
    for (size_t i = 0; i < c.ndims; i++) {
        free(c.dims[i].name);
    }
    free(c.dims);
    if (st != STRATA_OK) {
        kc_file_free(out);
    }
    return st;
}
