/* NetCDF4 / HDF5 datasets to Zarr arrays, through libhdf5.
 *
 * Only the root group is indexed. Chunk addresses and sizes come from H5Dget_chunk_info;
 * a contiguous dataset is one chunk (H5Dget_offset), a compact one is read and inlined.
 * HDF5 filters become Zarr filters in pipeline order (deflate -> zlib, shuffle -> shuffle);
 * a dataset with any other filter cannot be indexed. netCDF-4 keeps its dimensions as
 * dimension scales: a variable's DIMENSION_LIST references one scale per axis, and the
 * scale's name is the dimension's name. Scales that are not netCDF variables ("phony") name
 * dimensions but are not indexed themselves. */
#include "kerchunk/kerchunk.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#define PHONY_SCALE "This is a netCDF dimension but not a netCDF variable"
#define NON_COORD "_nc4_non_coord_"

#define MAX_PHONY 256

typedef struct h5_ctx {
    const char *path;
    const kc_read_opts *o;
    kc_src src;
    kc_file *out;
    uint64_t base;             /* user block size: HDF5 addresses count from the superblock */
    uint64_t phony[MAX_PHONY]; /* length of phony_dim_<i> */
    int nphony;
} h5_ctx;

bool kc_is_hdf5(const unsigned char *head, size_t n) {
    return n >= 8 && memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0;
}

static strata_status h5_fail(const h5_ctx *c, const char *var, const char *what) {
    return st_fail(STRATA_ERR_IO, "%s: variable '%s': HDF5 cannot %s", c->path, var, what);
}

/* ---- attributes ---------------------------------------------------------------------- */

static bool hidden_attr(const char *name) {
    static const char *const hidden[] = {"CLASS",          "NAME",          "DIMENSION_LIST",
                                         "REFERENCE_LIST", "_Netcdf4Dimid", "_Netcdf4Coordinates",
                                         "_nc3_strict",    "_NCProperties", "_IsNetcdf4"};
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        if (strcmp(name, hidden[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* numpy type string of an HDF5 integer or float type; false for anything else. */
static bool h5_dtype(hid_t type, char out[8]) {
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if ((cls != H5T_INTEGER && cls != H5T_FLOAT) ||
        (size != 1 && size != 2 && size != 4 && size != 8) || (cls == H5T_FLOAT && size == 1)) {
        return false;
    }
    char kind = cls == H5T_FLOAT ? 'f' : H5Tget_sign(type) == H5T_SGN_NONE ? 'u' : 'i';
    char order = size == 1 ? '|' : H5Tget_order(type) == H5T_ORDER_BE ? '>' : '<';
    snprintf(out, 8, "%c%c%u", order, kind, (unsigned)size & 15);
    return true;
}

static json_t *numbers_json(const char *dtype, const unsigned char *buf, size_t n) {
    size_t size = kc_dtype_size(dtype);
    if (n == 1) {
        return kc_json_value(dtype, buf);
    }
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, kc_json_value(dtype, buf + i * size)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Attribute values read in their stored type, so a float32 scale_factor stays exact. */
static json_t *numeric_attr(hid_t attr, hid_t type, size_t n) {
    char dtype[8];
    if (!h5_dtype(type, dtype) || n == 0) {
        return NULL;
    }
    unsigned char *buf = st_malloc(n * H5Tget_size(type));
    json_t *j = NULL;
    if (buf && H5Aread(attr, type, buf) >= 0) {
        j = numbers_json(dtype, buf, n);
    }
    free(buf);
    return j;
}

static json_t *string_attr(hid_t attr, hid_t type, size_t n) {
    json_t *j = NULL;
    if (n != 1) {
        return NULL; /* string lists: not a CF attribute strata needs */
    }
    if (H5Tis_variable_str(type) > 0) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(attr, mt, &s) >= 0 && s) {
            j = json_string(s);
            H5free_memory(s);
        }
        H5Tclose(mt);
        return j;
    }
    size_t size = H5Tget_size(type);
    char *buf = st_calloc(1, size + 1);
    if (buf && H5Aread(attr, type, buf) >= 0) {
        j = json_stringn(buf, strnlen(buf, size));
    }
    free(buf);
    return j;
}

static json_t *attr_json(hid_t attr) {
    hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    json_t *j = NULL;
    if (type >= 0 && n >= 0) {
        H5T_class_t cls = H5Tget_class(type);
        j = cls == H5T_STRING ? string_attr(attr, type, (size_t)n)
                              : numeric_attr(attr, type, (size_t)n);
    }
    if (type >= 0) {
        H5Tclose(type);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    return j;
}

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    if (hidden_attr(name)) {
        return 0;
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) {
        return 0;
    }
    json_t *j = attr_json(a);
    H5Aclose(a);
    /* Attributes of types Zarr has no JSON for (references, compounds) are left out. */
    if (j) {
        json_object_set_new(data, name, j);
    }
    return 0;
}

static void read_attrs(hid_t obj, json_t *attrs) {
    H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, attr_cb, attrs);
}

/* The text of a string attribute, or "" (buf of size). */
static void attr_text(hid_t obj, const char *name, char *buf, size_t size) {
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) {
        return;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    json_t *j = a >= 0 ? attr_json(a) : NULL;
    if (json_is_string(j)) {
        snprintf(buf, size, "%s", json_string_value(j));
    }
    json_decref(j);
    if (a >= 0) {
        H5Aclose(a);
    }
}

/* ---- dimensions ---------------------------------------------------------------------- */

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *b = slash ? slash + 1 : path;
    return strncmp(b, NON_COORD, strlen(NON_COORD)) == 0 ? b + strlen(NON_COORD) : b;
}

static char *scale_name(hid_t did, const hvl_t *refs) {
    if (refs->len < 1) {
        return NULL;
    }
    hid_t sc = H5Rdereference2(did, H5P_DEFAULT, H5R_OBJECT, refs->p);
    char path[1024];
    char *name = NULL;
    if (sc >= 0 && H5Iget_name(sc, path, sizeof path) > 0) {
        name = st_strdup(base_name(path));
    }
    if (sc >= 0) {
        H5Oclose(sc);
    }
    return name;
}

/* Dimension names from DIMENSION_LIST; false when the dataset has none. */
static bool dims_from_scales(hid_t did, kc_var *v) {
    if (v->ndim == 0 || H5Aexists(did, "DIMENSION_LIST") <= 0) {
        return false;
    }
    hid_t a = H5Aopen(did, "DIMENSION_LIST", H5P_DEFAULT);
    hid_t mt = H5Tvlen_create(H5T_STD_REF_OBJ);
    hid_t space = a >= 0 ? H5Aget_space(a) : -1;
    hvl_t refs[KC_MAXDIM];
    bool ok = a >= 0 && space >= 0 && H5Sget_simple_extent_npoints(space) == v->ndim &&
              H5Aread(a, mt, refs) >= 0;
    for (int d = 0; ok && d < v->ndim; d++) {
        v->dims[d] = scale_name(did, &refs[d]);
    }
    if (ok) {
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, refs);
    }
    H5Tclose(mt);
    if (space >= 0) {
        H5Sclose(space);
    }
    if (a >= 0) {
        H5Aclose(a);
    }
    return ok;
}

/* The phony dimension for axis d of v, as netCDF-C names them: one per distinct length
 * in the file, numbered as first met, an axis of a length already used by an earlier axis
 * of the same dataset getting the next one of that length. */
static int phony_dim(h5_ctx *c, const kc_var *v, int d) {
    int repeat = 0;
    for (int e = 0; e < d; e++) {
        repeat += v->shape[e] == v->shape[d];
    }
    for (int i = 0; i < c->nphony; i++) {
        if (c->phony[i] == v->shape[d] && repeat-- == 0) {
            return i;
        }
    }
    if (c->nphony == MAX_PHONY) {
        return MAX_PHONY + d;
    }
    c->phony[c->nphony] = v->shape[d];
    return c->nphony++;
}

/* From scales, else the dataset's own name for a 1-D scale, else phony_dim_N as netCDF. */
static strata_status set_dims(h5_ctx *c, hid_t did, kc_var *v, bool is_scale) {
    if (!dims_from_scales(did, v)) {
        for (int d = 0; d < v->ndim; d++) {
            char name[32];
            snprintf(name, sizeof name, "phony_dim_%d", phony_dim(c, v, d));
            v->dims[d] = st_strdup(is_scale && v->ndim == 1 ? v->name : name);
        }
    }
    for (int d = 0; d < v->ndim; d++) {
        if (!v->dims[d]) {
            return st_nomem("dimension names");
        }
    }
    return STRATA_OK;
}

/* ---- filters ------------------------------------------------------------------------- */

static strata_status add_filter(const h5_ctx *c, kc_var *v, H5Z_filter_t id, const unsigned *cd,
                                size_t ncd) {
    json_t *f = NULL;
    if (id == H5Z_FILTER_DEFLATE) {
        f = json_pack("{s:s, s:i}", "id", "zlib", "level", ncd ? (int)cd[0] : 4);
    } else if (id == H5Z_FILTER_SHUFFLE) {
        f = json_pack("{s:s, s:i}", "id", "shuffle", "elementsize", (int)kc_dtype_size(v->dtype));
    } else {
        v->unsupported = id == H5Z_FILTER_SZIP ? "szip compression has no Zarr codec here "
                                                 "(deflate and shuffle have)"
                         : id == H5Z_FILTER_FLETCHER32
                             ? "fletcher32 checksums have no Zarr codec here "
                               "(deflate and shuffle have)"
                         : id == H5Z_FILTER_NBIT || id == H5Z_FILTER_SCALEOFFSET
                             ? "nbit/scaleoffset packing has no Zarr codec"
                             : "an HDF5 filter with no Zarr codec (only deflate and shuffle "
                               "have one)";
        return STRATA_OK;
    }
    if (!f || json_array_append_new(v->filters, f) != 0) {
        return st_nomem("filters");
    }
    (void)c;
    return STRATA_OK;
}

static strata_status set_filters(const h5_ctx *c, hid_t dcpl, kc_var *v) {
    int n = H5Pget_nfilters(dcpl);
    if (n <= 0) {
        return STRATA_OK;
    }
    v->filters = json_array();
    if (!v->filters) {
        return st_nomem("filters");
    }
    for (int i = 0; i < n && !v->unsupported; i++) {
        unsigned flags, cd[8], config;
        size_t ncd = 8;
        char fname[64];
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, &config);
        if (id < 0) {
            return h5_fail(c, v->name, "read the filter pipeline");
        }
        ST_TRY(add_filter(c, v, id, cd, ncd < 8 ? ncd : 8));
    }
    return STRATA_OK;
}

/* ---- chunks -------------------------------------------------------------------------- */

static size_t chunk_index(const kc_var *v, const hsize_t *offset) {
    size_t idx = 0;
    for (int d = 0; d < v->ndim; d++) {
        uint64_t g = v->shape[d] / v->chunks[d] + (v->shape[d] % v->chunks[d] != 0);
        idx = idx * g + offset[d] / v->chunks[d];
    }
    return idx;
}

static strata_status chunked(const h5_ctx *c, hid_t did, hid_t space, kc_var *v) {
    hsize_t n = 0;
    if (H5Dget_num_chunks(did, space, &n) < 0) {
        return h5_fail(c, v->name, "count the chunks");
    }
    for (hsize_t i = 0; i < n; i++) {
        hsize_t offset[KC_MAXDIM], size;
        haddr_t addr;
        unsigned mask;
        if (H5Dget_chunk_info(did, space, i, offset, &mask, &addr, &size) < 0) {
            return h5_fail(c, v->name, "read the chunk index");
        }
        size_t k = chunk_index(v, offset);
        if (mask != 0) {
            v->unsupported = "chunks stored with some filters skipped";
            return STRATA_OK;
        }
        if (k < v->nchunks && addr != HADDR_UNDEF) {
            v->chunk[k] = (kc_chunk){.offset = addr + c->base, .size = size, .present = true};
        }
    }
    return STRATA_OK;
}

static strata_status contiguous(const h5_ctx *c, hid_t did, kc_var *v) {
    haddr_t addr = H5Dget_offset(did);
    if (v->nchunks == 1 && addr != HADDR_UNDEF) {
        /* H5Dget_offset counts from the file's start, H5Dget_chunk_info from the base. */
        v->chunk[0] = (kc_chunk){.offset = addr, .size = H5Dget_storage_size(did), .present = true};
    }
    (void)c;
    return STRATA_OK;
}

/* Reads the whole dataset as stored (no type conversion) into *buf. */
static strata_status read_raw(const h5_ctx *c, hid_t did, const kc_var *v, unsigned char **buf,
                              size_t *n) {
    size_t bytes = kc_dtype_size(v->dtype);
    for (int d = 0; d < v->ndim; d++) {
        bytes *= (size_t)v->shape[d];
    }
    hid_t type = H5Dget_type(did);
    *buf = st_malloc(bytes);
    herr_t rc = *buf && type >= 0 ? H5Dread(did, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) : -1;
    if (type >= 0) {
        H5Tclose(type);
    }
    if (rc < 0) {
        free(*buf);
        *buf = NULL;
        return h5_fail(c, v->name, "read the data");
    }
    *n = bytes;
    return STRATA_OK;
}

static strata_status compact(const h5_ctx *c, hid_t did, kc_var *v) {
    if (v->nchunks != 1) {
        return STRATA_OK;
    }
    size_t n;
    ST_TRY(read_raw(c, did, v, &v->chunk[0].data, &n));
    v->chunk[0].size = n;
    v->chunk[0].present = true;
    return STRATA_OK;
}

static strata_status set_layout(const h5_ctx *c, hid_t did, hid_t dcpl, hid_t space, kc_var *v) {
    H5D_layout_t layout = H5Pget_layout(dcpl);
    hsize_t cdims[KC_MAXDIM];
    if (layout == H5D_CHUNKED) {
        if (H5Pget_chunk(dcpl, v->ndim, cdims) != v->ndim) {
            return h5_fail(c, v->name, "read the chunk shape");
        }
        for (int d = 0; d < v->ndim; d++) {
            v->chunks[d] = cdims[d];
        }
        ST_TRY(set_filters(c, dcpl, v));
    } else {
        for (int d = 0; d < v->ndim; d++) {
            v->chunks[d] = v->shape[d] ? v->shape[d] : 1;
        }
    }
    if (v->unsupported) {
        return STRATA_OK;
    }
    ST_TRY(kc_var_alloc_chunks(v, c->path));
    if (layout == H5D_CHUNKED) {
        return chunked(c, did, space, v);
    }
    return layout == H5D_COMPACT ? compact(c, did, v) : contiguous(c, did, v);
}

/* ---- fill value ---------------------------------------------------------------------- */

static bool all_present(const kc_var *v) {
    for (size_t i = 0; i < v->nchunks; i++) {
        if (!v->chunk[i].present) {
            return false;
        }
    }
    return true;
}

/* _FillValue when the variable has one. Otherwise fill_value is null, as netCDF4 and
 * xarray mask nothing in a variable that declares no _FillValue; chunks never written are
 * then inlined as what HDF5, hence netCDF-C, returns for them: the dataset's fill value
 * property (netCDF-C sets it to _FillValue, else the type's default NC_FILL_*; plain HDF5
 * files have 0 unless set). */
static void set_fill(hid_t did, hid_t dcpl, kc_var *v) {
    json_t *attr = json_object_get(v->attrs, "_FillValue");
    if (attr) {
        v->fill = kc_fill_json(json_is_array(attr) ? json_array_get(attr, 0) : attr);
        return;
    }
    if (all_present(v)) {
        return;
    }
    unsigned char buf[8] = {0};
    H5D_fill_value_t defined;
    hid_t type = H5Dget_type(did);
    if (H5Pfill_value_defined(dcpl, &defined) >= 0 && defined != H5D_FILL_VALUE_UNDEFINED) {
        H5Pget_fill_value(dcpl, type, buf);
    }
    H5Tclose(type);
    v->missing = kc_json_value(v->dtype, buf);
}

/* ---- datasets ------------------------------------------------------------------------ */

static strata_status set_shape(const h5_ctx *c, hid_t space, kc_var *v) {
    int nd = H5Sget_simple_extent_ndims(space);
    hsize_t dims[KC_MAXDIM];
    if (nd < 0 || nd > KC_MAXDIM || H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        return h5_fail(c, v->name, "read the shape");
    }
    v->ndim = nd;
    for (int d = 0; d < nd; d++) {
        v->shape[d] = dims[d];
    }
    return STRATA_OK;
}

static strata_status describe(h5_ctx *c, hid_t did, kc_var *v, bool is_scale) {
    hid_t type = H5Dget_type(did), space = H5Dget_space(did), dcpl = H5Dget_create_plist(did);
    strata_status st =
        type < 0 || space < 0 || dcpl < 0 ? h5_fail(c, v->name, "open") : set_shape(c, space, v);
    if (st == STRATA_OK && H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0 &&
        H5Tget_size(type) < 100) {
        /* netCDF-4 char: laid out, indexed only as a grid mapping (EURO-CORDEX crs) */
        snprintf(v->dtype, sizeof v->dtype, "|S%u", (unsigned)H5Tget_size(type));
        v->text = true;
    } else if (st == STRATA_OK && !h5_dtype(type, v->dtype)) {
        v->unsupported = "not a number type (strings, compounds and variable-length types "
                         "are not indexed)";
    }
    if (st == STRATA_OK) {
        st = set_dims(c, did, v, is_scale);
    }
    if (st == STRATA_OK && !v->unsupported) {
        read_attrs(did, v->attrs);
        st = set_layout(c, did, dcpl, space, v);
    }
    if (st == STRATA_OK && !v->unsupported) {
        set_fill(did, dcpl, v);
    }
    H5Tclose(type);
    H5Sclose(space);
    H5Pclose(dcpl);
    return st;
}

static strata_status finish(const h5_ctx *c, hid_t did, kc_var *v) {
    if (c->o->concat_dim && v->ndim == 1 && strcmp(v->name, c->o->concat_dim) == 0) {
        ST_TRY(read_raw(c, did, v, &v->values, &v->values_size));
    }
    for (size_t i = 0; i < v->nchunks; i++) {
        ST_TRY(kc_inline_small(&c->src, &v->chunk[i], c->o->inline_threshold));
    }
    return STRATA_OK;
}

static strata_status dataset(h5_ctx *c, hid_t did, const char *link) {
    char cls[64], name[128];
    attr_text(did, "CLASS", cls, sizeof cls);
    attr_text(did, "NAME", name, sizeof name);
    if (strncmp(name, PHONY_SCALE, strlen(PHONY_SCALE)) == 0) {
        return STRATA_OK;
    }
    kc_var *v = kc_file_add(c->out, base_name(link));
    if (!v) {
        return st_nomem("variable");
    }
    ST_TRY(describe(c, did, v, strcmp(cls, "DIMENSION_SCALE") == 0));
    return v->unsupported || v->text ? STRATA_OK : finish(c, did, v);
}

static strata_status walk_root(h5_ctx *c, hid_t fid) {
    H5G_info_t info;
    if (H5Gget_info(fid, &info) < 0) {
        return st_fail(STRATA_ERR_IO, "%s: cannot list the HDF5 root group", c->path);
    }
    strata_status st = STRATA_OK;
    for (hsize_t i = 0; st == STRATA_OK && i < info.nlinks; i++) {
        char link[512];
        if (H5Lget_name_by_idx(fid, ".", H5_INDEX_NAME, H5_ITER_INC, i, link, sizeof link,
                               H5P_DEFAULT) < 0) {
            continue;
        }
        hid_t obj = H5Oopen(fid, link, H5P_DEFAULT);
        if (obj < 0) {
            continue; /* dangling or external link */
        }
        if (H5Iget_type(obj) == H5I_DATASET) {
            st = dataset(c, obj, link);
        }
        H5Oclose(obj);
    }
    return st;
}

static strata_status read_file(h5_ctx *c) {
    hid_t fid = H5Fopen(c->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid < 0) {
        return st_fail(STRATA_ERR_IO, "%s: cannot open as NetCDF4/HDF5 (corrupt?)", c->path);
    }
    hid_t fcpl = H5Fget_create_plist(fid);
    hsize_t user_block = 0;
    if (fcpl >= 0) {
        H5Pget_userblock(fcpl, &user_block);
        H5Pclose(fcpl);
    }
    c->base = user_block;
    c->out->attrs = json_object();
    strata_status st = c->out->attrs ? STRATA_OK : st_nomem("attributes");
    if (st == STRATA_OK) {
        read_attrs(fid, c->out->attrs);
        st = walk_root(c, fid);
    }
    H5Fclose(fid);
    return st;
}

strata_status kc_hdf5_read(const char *path, const kc_read_opts *o, kc_file *out) {
    h5_ctx c = {.path = path, .o = o, .out = out};
    memset(out, 0, sizeof *out);
    ST_TRY(kc_src_open(&c.src, path));
    /* The library never prints: silence HDF5's error stack for the duration. */
    H5E_auto2_t func;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    strata_status st = read_file(&c);
    H5Eset_auto2(H5E_DEFAULT, func, data);
    kc_src_close(&c.src);
    if (st != STRATA_OK) {
        kc_file_free(out);
    }
    return st;
}
