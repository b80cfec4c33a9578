/* What a strata store holds, following xarray's conventions so xarray, rioxarray and GDAL
 * read it without help:
 *
 *   /            group; attrs strata_zarr_version, time_length, source_files, strata_*
 *   /<name>      (time, band, y, x) in the source type; fill_value = nodata; geo attrs
 *   /time        int64: CF "seconds since 1970-01-01" when every step has a time, else 0..T-1
 *   /band        int64 1..B
 *   /y, /x       float64 cell centres from the geotransform
 *   /spatial_ref int64 scalar carrying crs_wkt, spatial_ref and GeoTransform (CF grid_mapping)
 *
 * Coordinates are stored uncompressed: they are small, and an append reads the times back
 * without a decoder. Data and coordinates are little-endian, as the metadata says. */
#include "zarr/zarr.h"

#include <cpl_conv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "chunks are written in memory order and labelled little-endian");

/* Fixed, so an append extends the time coordinate without re-chunking it. */
enum { TIME_CHUNK = 1024 };

static const char *const CUBE_DIMS[4] = {"time", "band", "y", "x"};
static const char *const COORD_NAMES[] = {"time", "band", "y", "x", "spatial_ref"};

static uint64_t ceil_div(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

/* ---- fill and times ------------------------------------------------------------------- */

static bool representable(strata_dtype t, double v) {
    static const struct {
        strata_dtype t;
        double lo, hi;
    } ranges[] = {{STRATA_UINT8, 0, 255},
                  {STRATA_INT8, -128, 127},
                  {STRATA_UINT16, 0, 65535},
                  {STRATA_INT16, -32768, 32767},
                  {STRATA_UINT32, 0, 4294967295.0},
                  {STRATA_INT32, -2147483648.0, 2147483647.0},
                  {STRATA_INT64, -9223372036854775808.0, 9223372036854774784.0}};
    if (st_dtype_is_float(t)) {
        return t == STRATA_FLOAT64 || isnan(v) || isinf(v) || fabs(v) <= 3.4028234663852886e38;
    }
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        if (ranges[i].t == t) {
            return v == floor(v) && v >= ranges[i].lo && v <= ranges[i].hi;
        }
    }
    return false;
}

/* One fill_value per array: band 1's nodata (GeoTIFF keeps one per file anyway); NaN for
 * floats without nodata; none for integers without nodata. */
static void resolve_fill(st_zarr_plan *p) {
    const strata_meta *m = p->c->meta;
    double nd = st_meta_nodata_cmp(m, 0);
    if (m->has_nodata[0] && representable(m->dtype, nd)) {
        p->has_fill = true;
        p->fill = nd;
    } else if (st_dtype_is_float(m->dtype)) {
        p->has_fill = true;
        p->fill = NAN;
    }
}

static bool all_times(const strata_collection *c) {
    for (size_t t = 0; t < c->n; t++) {
        if (!c->has_time[t]) {
            return false;
        }
    }
    return c->n > 0;
}

/* Times must increase along the store: a time axis out of order or with a repeat is wrong
 * for every reader that slices by time, and an append can only add later times. */
static strata_status new_times(st_zarr_plan *p) {
    for (size_t t = 0; t < p->c->n; t++) {
        size_t g = p->t_offset + t;
        p->times[g] = p->cf_times ? p->c->times[t] : (int64_t)g;
    }
    size_t first = p->t_offset > 0 ? p->t_offset : 1;
    for (size_t g = first; g < p->T; g++) {
        if (p->times[g] > p->times[g - 1]) {
            continue;
        }
        char iso[40], prev[40];
        st_format_iso8601(p->times[g], iso, sizeof iso);
        st_format_iso8601(p->times[g - 1], prev, sizeof prev);
        const char *path = strata_collection_path(p->c, g - p->t_offset);
        if (g == p->t_offset) {
            bool dup = false;
            for (size_t k = 0; k < p->t_offset; k++) {
                dup = dup || p->times[k] == p->times[g];
            }
            if (dup) {
                return st_fail(STRATA_ERR_INVALID_ARG,
                               "%s: time %s is already in the store (its last time is %s): an "
                               "append must add later times",
                               path, iso, prev);
            }
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "%s: time %s is earlier than the store's last time %s: an append "
                           "must add later times",
                           path, iso, prev);
        }
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: time %s is %s the previous file's (%s, %s): give the files in "
                       "increasing time order",
                       path, iso, p->times[g] == p->times[g - 1] ? "equal to" : "earlier than",
                       strata_collection_path(p->c, g - 1 - p->t_offset), prev);
    }
    return STRATA_OK;
}

/* ---- keys ------------------------------------------------------------------------------- */

void st_zarr_key4(int zarr_version, const char *name, const uint64_t idx[4], char *buf,
                  size_t size) {
    const char *fmt = zarr_version == 3 ? "%s/c/%llu/%llu/%llu/%llu" : "%s/%llu.%llu.%llu.%llu";
    snprintf(buf, size, fmt, name, (unsigned long long)idx[0], (unsigned long long)idx[1],
             (unsigned long long)idx[2], (unsigned long long)idx[3]);
}

void st_zarr_chunk_key(const st_zarr_plan *p, const uint64_t idx[4], char *buf, size_t size) {
    st_zarr_key4(p->version, p->name, idx, buf, size);
}

/* Key of chunk k of a 1-d array, or of the one chunk of a scalar (k < 0). */
static void coord_key(int version, const char *name, long k, char *buf, size_t size) {
    if (k < 0) {
        snprintf(buf, size, "%s/%s", name, version == 3 ? "c" : "0");
    } else {
        snprintf(buf, size, "%s/%s%ld", name, version == 3 ? "c/" : "", k);
    }
}

/* ---- coordinates -------------------------------------------------------------------------- */

static strata_status write_key(const st_zarr_plan *p, const char *key, const void *buf,
                               size_t len) {
    char *path = st_zarr_path(p->store, key, NULL);
    strata_status st = path ? st_zarr_make_parents(path) : st_nomem("path");
    if (st == STRATA_OK) {
        st = st_zarr_write_atomic(path, buf, len);
    }
    free(path);
    return st;
}

/* Writes n 8-byte values as chunks of chunk values, the last one zero-padded. */
static strata_status write_coord(const st_zarr_plan *p, const char *name, const void *vals,
                                 size_t n, size_t chunk) {
    char *buf = st_calloc(chunk, 8);
    if (!buf) {
        return st_nomem("coordinate chunk");
    }
    strata_status st = STRATA_OK;
    for (size_t k = 0; k * chunk < n && st == STRATA_OK; k++) {
        size_t len = n - k * chunk < chunk ? n - k * chunk : chunk;
        memset(buf, 0, chunk * 8);
        memcpy(buf, (const char *)vals + k * chunk * 8, len * 8);
        char key[128];
        coord_key(p->version, name, (long)k, key, sizeof key);
        st = write_key(p, key, buf, chunk * 8);
    }
    free(buf);
    return st;
}

strata_status st_zarr_write_spatial(const st_zarr_plan *p) {
    const strata_meta *m = p->c->meta;
    size_t n = (size_t)(m->rows > m->cols ? m->rows : m->cols);
    double *v = st_malloc((n > (size_t)m->bands ? n : (size_t)m->bands) * sizeof *v);
    if (!v) {
        return st_nomem("coordinates");
    }
    int64_t *band = (int64_t *)v;
    for (int b = 0; b < m->bands; b++) {
        band[b] = b + 1;
    }
    strata_status st = write_coord(p, "band", band, (size_t)m->bands, (size_t)m->bands);
    for (int i = 0; i < m->rows && st == STRATA_OK; i++) {
        v[i] = m->gt[3] + (i + 0.5) * m->gt[5];
    }
    st = st == STRATA_OK ? write_coord(p, "y", v, (size_t)m->rows, (size_t)m->rows) : st;
    for (int i = 0; i < m->cols && st == STRATA_OK; i++) {
        v[i] = m->gt[0] + (i + 0.5) * m->gt[1];
    }
    st = st == STRATA_OK ? write_coord(p, "x", v, (size_t)m->cols, (size_t)m->cols) : st;
    free(v);
    int64_t zero = 0;
    char key[128];
    coord_key(p->version, "spatial_ref", -1, key, sizeof key);
    return st == STRATA_OK ? write_key(p, key, &zero, sizeof zero) : st;
}

strata_status st_zarr_write_coords(const st_zarr_plan *p) {
    if (p->t_offset == 0) {
        ST_TRY(st_zarr_write_spatial(p));
    }
    /* Old readers of an appended store still see the same first t_offset values: chunks
     * are padded to full size, and only the padding changes. */
    return write_coord(p, "time", p->times, p->T, TIME_CHUNK);
}

/* ---- attributes ------------------------------------------------------------------------- */

static char *geotransform_text(const strata_meta *m) {
    char *s = st_malloc(6 * 26);
    if (s) {
        snprintf(s, 6 * 26, "%.17g %.17g %.17g %.17g %.17g %.17g", m->gt[0], m->gt[1], m->gt[2],
                 m->gt[3], m->gt[4], m->gt[5]);
    }
    return s;
}

static json_t *crs_attr_gdal(const strata_meta *m) {
    json_t *o = json_pack("{s:s}", "wkt", m->crs_wkt);
    if (o && m->epsg > 0) {
        char url[80];
        snprintf(url, sizeof url, "http://www.opengis.net/def/crs/EPSG/0/%d", m->epsg);
        json_object_set_new(o, "url", json_string(url));
    }
    return o;
}

static json_t *band_lists(const strata_meta *m, json_t **names) {
    json_t *nd = json_array();
    *names = json_array();
    for (int b = 0; nd && *names && b < m->bands; b++) {
        json_array_append_new(nd, m->has_nodata[b] ? st_json_zarr_double(st_meta_nodata_cmp(m, b))
                                                   : json_null());
        json_array_append_new(*names, json_string(m->band_names[b]));
    }
    return nd;
}

/* Packed values stay packed, as in the source: CF's scale_factor and add_offset (xarray and
 * GDAL unpack them) when every band shares them, and per band lists; units likewise. */
static void packing_attrs(const strata_meta *m, json_t *o) {
    bool same = true, units = false;
    json_t *scale = json_array(), *offset = json_array(), *unit = json_array();
    for (int b = 0; b < m->bands; b++) {
        same = same && m->scale[b] == m->scale[0] && m->offset[b] == m->offset[0] &&
               strcmp(m->unit[b], m->unit[0]) == 0;
        units = units || m->unit[b][0];
        json_array_append_new(scale, json_real(m->scale[b]));
        json_array_append_new(offset, json_real(m->offset[b]));
        json_array_append_new(unit, json_string(m->unit[b]));
    }
    if (st_meta_packed(m)) {
        if (same) {
            json_object_set_new(o, "scale_factor", json_real(m->scale[0]));
            json_object_set_new(o, "add_offset", json_real(m->offset[0]));
        }
        json_object_set(o, "band_scale", scale);
        json_object_set(o, "band_offset", offset);
    }
    if (units) {
        if (same) {
            json_object_set_new(o, "units", json_string(m->unit[0]));
        }
        json_object_set(o, "band_units", unit);
    }
    json_decref(scale);
    json_decref(offset);
    json_decref(unit);
}

json_t *st_zarr_geo_attrs(const strata_meta *m) {
    char *gt = geotransform_text(m);
    json_t *o = gt ? json_pack("{s:s,s:o,s:s,s:s}", "grid_mapping", "spatial_ref", "epsg",
                               m->epsg > 0 ? json_integer(m->epsg) : json_null(), "GeoTransform",
                               gt, "crs_wkt", m->crs_wkt)
                   : NULL;
    free(gt);
    if (o && m->crs_wkt[0]) {
        json_object_set_new(o, "_CRS", crs_attr_gdal(m));
    }
    return o;
}

static json_t *data_attrs(const st_zarr_plan *p) {
    const strata_meta *m = p->c->meta;
    if (p->derived) {
        json_t *o = st_zarr_geo_attrs(m);
        if (o && p->version == 3) {
            json_object_set_new(o, "_FillValue", st_zarr_fill_b64(p->fill));
        }
        return o;
    }
    char *gt = geotransform_text(m);
    json_t *names = NULL, *nd = band_lists(m, &names);
    json_t *o = gt ? json_pack("{s:s,s:o,s:s,s:s,s:o,s:o,s:s}", "grid_mapping", "spatial_ref",
                               "epsg", m->epsg > 0 ? json_integer(m->epsg) : json_null(),
                               "GeoTransform", gt, "crs_wkt", m->crs_wkt, "nodata", nd,
                               "band_names", names, "dtype", strata_dtype_name(m->dtype))
                   : NULL;
    if (!gt) { /* json_pack took nd and names only if it ran */
        json_decref(nd);
        json_decref(names);
    }
    free(gt);
    if (o && m->crs_wkt[0]) {
        json_object_set_new(o, "_CRS", crs_attr_gdal(m));
    }
    if (o) {
        packing_attrs(m, o);
    }
    /* xarray reads a v3 array's _FillValue from its attributes (floats as base64 of the
     * little-endian double), not from fill_value. */
    if (o && p->version == 3 && p->has_fill) {
        json_object_set_new(o, "_FillValue",
                            st_dtype_is_float(m->dtype) ? st_zarr_fill_b64(p->fill)
                                                        : json_integer((json_int_t)p->fill));
    }
    return o;
}

static json_t *spatial_ref_attrs(const strata_meta *m) {
    char *gt = geotransform_text(m);
    json_t *o = gt ? json_pack("{s:s}", "GeoTransform", gt) : NULL;
    free(gt);
    if (o && m->crs_wkt[0]) {
        json_object_set_new(o, "crs_wkt", json_string(m->crs_wkt));
        json_object_set_new(o, "spatial_ref", json_string(m->crs_wkt));
    }
    return o;
}

/* CF names of the axes: projected metres, geographic degrees, or only the axis. */
static json_t *axis_attrs(const strata_meta *m, bool x) {
    json_t *o = json_pack("{s:s}", "axis", x ? "X" : "Y");
    OGRSpatialReferenceH srs = st_meta_srs(m);
    if (o && srs && OSRIsGeographic(srs)) {
        json_object_set_new(o, "standard_name", json_string(x ? "longitude" : "latitude"));
        json_object_set_new(o, "long_name", json_string(x ? "longitude" : "latitude"));
        json_object_set_new(o, "units", json_string(x ? "degrees_east" : "degrees_north"));
    } else if (o && srs) {
        char *unit = NULL;
        OSRGetLinearUnits(srs, &unit);
        json_object_set_new(o, "standard_name",
                            json_string(x ? "projection_x_coordinate" : "projection_y_coordinate"));
        json_object_set_new(
            o, "long_name",
            json_string(x ? "x coordinate of projection" : "y coordinate of projection"));
        json_object_set_new(o, "units",
                            json_string(unit && strcmp(unit, "Meter") != 0 ? unit : "metre"));
    }
    if (srs) {
        OSRDestroySpatialReference(srs);
    }
    return o;
}

static json_t *time_attrs(const st_zarr_plan *p) {
    if (p->cf_times) {
        return json_pack("{s:s,s:s,s:s,s:s}", "standard_name", "time", "long_name", "time", "units",
                         "seconds since 1970-01-01T00:00:00Z", "calendar", "proleptic_gregorian");
    }
    return json_pack("{s:s}", "long_name", "timestep index (the sources have no times)");
}

static json_t *root_attrs(const st_zarr_plan *p) {
    const strata_meta *m = p->c->meta;
    json_t *meta = st_meta_to_jobj(m);
    /* pyramids_* are the keys of the seed's stores, so code written for them reads ours. */
    return json_pack("{s:i,s:I,s:O,s:s,s:s,s:s,s:[iiii],s:s,s:o,s:i,s:O}", "strata_zarr_version",
                     ST_ZARR_LAYOUT_VERSION, "time_length", (json_int_t)p->T, "source_files",
                     p->sources, "strata_version", strata_version(), "strata_variable", p->name,
                     "strata_codec", strata_codec_name(p->codec), "strata_chunks", p->ch.t, p->ch.b,
                     p->ch.y, p->ch.x, "strata_times", p->cf_times ? "utc" : "index", "strata_meta",
                     meta, "pyramids_zarr_version", 1, "pyramids_file_list", p->sources);
}

/* ---- the arrays ------------------------------------------------------------------------- */

enum { NARRAYS = 6 };

static void set_1d(st_zarr_array *a, const char *name, strata_dtype t, uint64_t n, uint64_t chunk,
                   json_t *attrs) {
    snprintf(a->name, sizeof a->name, "%s", name);
    a->dtype = t;
    a->ndim = 1;
    a->shape[0] = n;
    a->chunks[0] = chunk;
    a->dims[0] = name;
    a->codec = STRATA_CODEC_NONE;
    a->attrs = attrs;
}

static void set_cube(const st_zarr_plan *p, st_zarr_array *a) {
    const strata_meta *m = p->c->meta;
    const uint64_t shape[4] = {p->T, (uint64_t)m->bands, (uint64_t)m->rows, (uint64_t)m->cols};
    const uint64_t chunks[4] = {(uint64_t)p->ch.t, (uint64_t)p->ch.b, (uint64_t)p->ch.y,
                                (uint64_t)p->ch.x};
    snprintf(a->name, sizeof a->name, "%s", p->name);
    a->dtype = p->dtype;
    a->ndim = 4;
    memcpy(a->shape, shape, sizeof shape);
    memcpy(a->chunks, chunks, sizeof chunks);
    memcpy(a->dims, CUBE_DIMS, sizeof CUBE_DIMS);
    a->codec = p->codec;
    a->has_fill = p->has_fill;
    a->fill = p->fill;
    a->attrs = data_attrs(p);
}

void st_zarr_spatial_arrays(const strata_meta *m, st_zarr_array *a) {
    set_1d(&a[0], "band", STRATA_INT64, (uint64_t)m->bands, (uint64_t)m->bands,
           json_pack("{s:s}", "long_name", "band number (1-based)"));
    set_1d(&a[1], "y", STRATA_FLOAT64, (uint64_t)m->rows, (uint64_t)m->rows, axis_attrs(m, false));
    set_1d(&a[2], "x", STRATA_FLOAT64, (uint64_t)m->cols, (uint64_t)m->cols, axis_attrs(m, true));
    set_1d(&a[3], "spatial_ref", STRATA_INT64, 0, 0, spatial_ref_attrs(m));
    a[3].ndim = 0;
}

static bool build_arrays(const st_zarr_plan *p, st_zarr_array *a) {
    memset(a, 0, NARRAYS * sizeof *a);
    set_cube(p, &a[0]);
    set_1d(&a[1], "time", STRATA_INT64, p->T, TIME_CHUNK, time_attrs(p));
    st_zarr_spatial_arrays(p->c->meta, &a[2]);
    for (int i = 0; i < NARRAYS; i++) {
        if (!a[i].attrs) {
            return false;
        }
    }
    return true;
}

static void free_arrays(st_zarr_array *a) {
    for (int i = 0; i < NARRAYS; i++) {
        json_decref(a[i].attrs);
    }
}

/* ---- metadata documents ----------------------------------------------------------------- */

static strata_status put_doc(const st_zarr_plan *p, const char *dir, const char *file, json_t *doc,
                             json_t *consolidated, const char *ckey) {
    char *path = st_zarr_path(p->store, dir, file);
    strata_status st = path && doc ? st_zarr_write_json(path, doc) : st_nomem("metadata");
    if (st == STRATA_OK && consolidated) {
        json_object_set(consolidated, ckey, doc);
    }
    free(path);
    json_decref(doc);
    return st;
}

static strata_status write_v2(const st_zarr_plan *p, const st_zarr_array *a, int n, json_t *root) {
    json_t *cons = json_object();
    strata_status st = cons ? STRATA_OK : st_nomem("metadata");
    for (int i = 0; i < n && st == STRATA_OK; i++) {
        char k1[96], k2[96];
        snprintf(k1, sizeof k1, "%.63s/.zarray", a[i].name);
        snprintf(k2, sizeof k2, "%.63s/.zattrs", a[i].name);
        st = put_doc(p, a[i].name, ".zarray", st_zarr_array_doc(&a[i], 2), cons, k1);
        if (st == STRATA_OK) {
            st = put_doc(p, a[i].name, ".zattrs", st_zarr_array_attrs_v2(&a[i]), cons, k2);
        }
    }
    if (st == STRATA_OK) {
        st = put_doc(p, ".zattrs", NULL, json_incref(root), cons, ".zattrs");
    }
    if (st == STRATA_OK) {
        st = put_doc(p, ".zgroup", NULL, json_pack("{s:i}", "zarr_format", 2), cons, ".zgroup");
    }
    if (st == STRATA_OK) {
        json_t *z = json_pack("{s:i,s:O}", "zarr_consolidated_format", 1, "metadata", cons);
        st = put_doc(p, ".zmetadata", NULL, z, NULL, NULL);
    }
    json_decref(cons);
    return st;
}

/* v3 has no consolidated metadata in its spec; zarr-python 3 reads (and ignores when absent)
 * the inline form in the root zarr.json, written here the same way. */
static strata_status write_v3(const st_zarr_plan *p, const st_zarr_array *a, int n, json_t *root) {
    json_t *cons = json_object();
    strata_status st = cons ? STRATA_OK : st_nomem("metadata");
    for (int i = 0; i < n && st == STRATA_OK; i++) {
        st = put_doc(p, a[i].name, "zarr.json", st_zarr_array_doc(&a[i], 3), cons, a[i].name);
    }
    if (st == STRATA_OK) {
        json_t *doc = json_pack("{s:i,s:s,s:O,s:{s:s,s:b,s:O}}", "zarr_format", 3, "node_type",
                                "group", "attributes", root, "consolidated_metadata", "kind",
                                "inline", "must_understand", 0, "metadata", cons);
        st = put_doc(p, "zarr.json", NULL, doc, NULL, NULL);
    }
    json_decref(cons);
    return st;
}

strata_status st_zarr_write_docs(const st_zarr_plan *p, const st_zarr_array *a, int n,
                                 json_t *root) {
    if (!root) {
        return st_nomem("metadata");
    }
    strata_status st = p->version == 3 ? write_v3(p, a, n, root) : write_v2(p, a, n, root);
    if (st == STRATA_OK) {
        char *marker = st_zarr_path(p->store, ST_ZARR_MARKER, NULL);
        if (marker) {
            remove(marker);
        }
        free(marker);
    }
    return st;
}

strata_status st_zarr_write_metadata(const st_zarr_plan *p) {
    st_zarr_array a[NARRAYS];
    if (!build_arrays(p, a)) {
        free_arrays(a);
        return st_nomem("metadata");
    }
    json_t *root = root_attrs(p);
    strata_status st = st_zarr_write_docs(p, a, NARRAYS, root);
    json_decref(root);
    free_arrays(a);
    return st;
}

/* ---- the plan, and what an append must match ---------------------------------------------- */

typedef struct existing {
    json_t *attrs; /* root attributes */
    json_t *cube;  /* the cube's array document (.zarray or zarr.json) */
} existing;

static strata_status load_existing(const st_zarr_plan *p, existing *e) {
    bool v2 = false;
    char *z = st_zarr_path(p->store, ".zmetadata", NULL),
         *j = st_zarr_path(p->store, "zarr.json", NULL);
    json_t *doc = NULL;
    if (z && j) {
        v2 = st_zarr_exists(z);
        doc = st_zarr_read_json(v2 ? z : j);
    }
    free(z);
    free(j);
    if (!doc) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: has no consolidated metadata (.zmetadata) "
                       "nor zarr.json: not a store strata wrote",
                       p->store);
    }
    if ((v2 ? 2 : 3) != p->version) {
        json_decref(doc);
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: is a Zarr v%d store; append with zarr "
                       "version %d",
                       p->store, v2 ? 2 : 3, v2 ? 2 : 3);
    }
    const json_t *meta = v2 ? json_object_get(doc, "metadata") : NULL;
    e->attrs =
        json_incref(v2 ? json_object_get(meta, ".zattrs") : json_object_get(doc, "attributes"));
    e->cube = doc; /* the whole document: the cube's part is looked up later */
    return STRATA_OK;
}

static const json_t *cube_doc(const st_zarr_plan *p, const existing *e) {
    char key[96];
    if (p->version == 3) {
        const json_t *cons =
            json_object_get(json_object_get(e->cube, "consolidated_metadata"), "metadata");
        return json_object_get(cons, p->name);
    }
    snprintf(key, sizeof key, "%s/.zarray", p->name);
    return json_object_get(json_object_get(e->cube, "metadata"), key);
}

static strata_status mismatch(const st_zarr_plan *p, const char *what) {
    return st_fail(STRATA_ERR_MISALIGNED, "%s: cannot append: %s", p->store, what);
}

static strata_status check_geobox(const st_zarr_plan *p, const json_t *jmeta) {
    strata_meta *old = NULL;
    if (st_meta_from_jobj(jmeta, &old) != STRATA_OK) {
        return mismatch(p, "the store has no readable strata_meta attribute");
    }
    const strata_meta *m = p->c->meta;
    char why[200] = "";
    if (old->rows != m->rows || old->cols != m->cols || old->bands != m->bands) {
        snprintf(why, sizeof why, "the store is %d bands of %dx%d, the files %d bands of %dx%d",
                 old->bands, old->cols, old->rows, m->bands, m->cols, m->rows);
    } else if (old->dtype != m->dtype) {
        snprintf(why, sizeof why, "the store holds %s, the files %s", strata_dtype_name(old->dtype),
                 strata_dtype_name(m->dtype));
    } else if (memcmp(old->gt, m->gt, sizeof m->gt) != 0) {
        snprintf(why, sizeof why, "the geotransform differs");
    } else if (strcmp(old->crs_wkt, m->crs_wkt) != 0) {
        snprintf(why, sizeof why, "the CRS differs");
    }
    for (int b = 0; !why[0] && b < m->bands; b++) {
        double a = st_meta_nodata_cmp(old, b), n = st_meta_nodata_cmp(m, b);
        if (old->has_nodata[b] != m->has_nodata[b] ||
            (m->has_nodata[b] && a != n && !(isnan(a) && isnan(n)))) {
            snprintf(why, sizeof why, "band %d's nodata differs", b + 1);
        }
    }
    strata_meta_free(old);
    return why[0] ? mismatch(p, why) : STRATA_OK;
}

static strata_status check_layout(st_zarr_plan *p, const json_t *at, const strata_zarr_opts *o) {
    const json_t *jc = json_object_get(at, "strata_chunks");
    strata_chunks ch = {(int)json_integer_value(json_array_get(jc, 0)),
                        (int)json_integer_value(json_array_get(jc, 1)),
                        (int)json_integer_value(json_array_get(jc, 2)),
                        (int)json_integer_value(json_array_get(jc, 3))};
    const char *codec = json_string_value(json_object_get(at, "strata_codec"));
    char why[200];
    if (ch.t < 1 || ch.b < 1 || ch.y < 1 || ch.x < 1 || !codec) {
        return mismatch(p, "the store lacks strata_chunks or strata_codec");
    }
    if ((o->chunks.t || o->chunks.b || o->chunks.y || o->chunks.x) &&
        memcmp(&ch, &o->chunks, sizeof ch) != 0) {
        snprintf(why, sizeof why, "the store's chunks are %d,%d,%d,%d, not %d,%d,%d,%d", ch.t, ch.b,
                 ch.y, ch.x, o->chunks.t, o->chunks.b, o->chunks.y, o->chunks.x);
        return mismatch(p, why);
    }
    if (strcmp(codec, strata_codec_name(p->codec)) != 0) {
        snprintf(why, sizeof why, "the store's codec is %s, not %s", codec,
                 strata_codec_name(p->codec));
        return mismatch(p, why);
    }
    p->ch = ch;
    return STRATA_OK;
}

static strata_status check_length(st_zarr_plan *p, const json_t *at, const json_t *cube) {
    json_int_t T = json_integer_value(json_object_get(at, "time_length"));
    json_int_t shape0 = json_integer_value(json_array_get(json_object_get(cube, "shape"), 0));
    char why[200];
    if (!cube || T < 1 || shape0 != T) {
        snprintf(why, sizeof why,
                 "the variable '%s' is missing or its length differs from "
                 "time_length",
                 p->name);
        return mismatch(p, why);
    }
    if (T % p->ch.t != 0) {
        snprintf(why, sizeof why,
                 "the store's %lld timesteps do not fill its time chunks of %d "
                 "(appending would rewrite a chunk)",
                 (long long)T, p->ch.t);
        return mismatch(p, why);
    }
    p->t_offset = (size_t)T;
    return STRATA_OK;
}

static strata_status read_old_times(st_zarr_plan *p) {
    for (size_t k = 0; k * TIME_CHUNK < p->t_offset; k++) {
        char key[128], *buf = NULL;
        size_t len = 0, n = p->t_offset - k * TIME_CHUNK < TIME_CHUNK ? p->t_offset - k * TIME_CHUNK
                                                                      : TIME_CHUNK;
        coord_key(p->version, "time", (long)k, key, sizeof key);
        char *path = st_zarr_path(p->store, key, NULL);
        strata_status st = path ? st_zarr_read_file(path, &buf, &len) : st_nomem("path");
        free(path);
        ST_TRY(st);
        if (len != TIME_CHUNK * 8) {
            free(buf);
            return mismatch(p, "a chunk of the time coordinate has the wrong size");
        }
        memcpy(p->times + k * TIME_CHUNK, buf, n * 8);
        free(buf);
    }
    return STRATA_OK;
}

static strata_status check_times(st_zarr_plan *p, const json_t *at) {
    const char *kind = json_string_value(json_object_get(at, "strata_times"));
    bool utc = kind && strcmp(kind, "utc") == 0;
    if (!kind || utc != p->cf_times) {
        return mismatch(p, utc ? "the store has times and the files have none (give --times or "
                                 "--time-pattern)"
                               : "the store has no times; the files must have none either");
    }
    return STRATA_OK;
}

static strata_status merge_existing(st_zarr_plan *p, const strata_zarr_opts *o) {
    existing e = {0};
    ST_TRY(load_existing(p, &e));
    const json_t *at = e.attrs;
    const char *var = json_string_value(json_object_get(at, "strata_variable"));
    strata_status st = STRATA_OK;
    if (!json_is_integer(json_object_get(at, "strata_zarr_version")) || !var) {
        st = mismatch(p, "it was not written by strata (no strata_zarr_version)");
    } else if (o->name && strcmp(o->name, var) != 0) {
        char why[160];
        snprintf(why, sizeof why, "its variable is '%s', not '%s'", var, o->name);
        st = mismatch(p, why);
    }
    if (st == STRATA_OK) {
        snprintf(p->name, sizeof p->name, "%s", var);
        st = check_geobox(p, json_object_get(at, "strata_meta"));
    }
    st = st == STRATA_OK ? check_layout(p, at, o) : st;
    st = st == STRATA_OK ? check_length(p, at, cube_doc(p, &e)) : st;
    st = st == STRATA_OK ? check_times(p, at) : st;
    const json_t *src = json_object_get(at, "source_files");
    if (st == STRATA_OK && json_is_array(src)) {
        json_array_extend(p->sources, (json_t *)src);
    }
    json_decref(e.attrs);
    json_decref(e.cube);
    return st;
}

enum { ZARR_CHUNK_PIXELS = 1 << 20 };

static strata_status resolve_chunks(st_zarr_plan *p, const strata_zarr_opts *o) {
    const strata_chunks *w = &o->chunks;
    const strata_meta *m = p->c->meta;
    if (!w->t && !w->b && !w->y && !w->x) {
        /* Chunk files of about 1 Mi pixels: the reduce tile (a single 256x256 block) made
         * 16 times more files, and creating and renaming them dominated the write. */
        p->ch = (strata_chunks){1, 1, 0, 0};
        st_block_tile(m, ZARR_CHUNK_PIXELS, &p->ch.y, &p->ch.x);
        return STRATA_OK;
    }
    if (w->t < 1 || w->b < 1 || w->y < 1 || w->x < 1) {
        return st_fail(STRATA_ERR_INVALID_ARG, "chunks %d,%d,%d,%d: every size must be >= 1", w->t,
                       w->b, w->y, w->x);
    }
    p->ch.t = w->t < (int)p->c->n ? w->t : (int)p->c->n;
    p->ch.b = w->b < m->bands ? w->b : m->bands;
    p->ch.y = w->y < m->rows ? w->y : m->rows;
    p->ch.x = w->x < m->cols ? w->x : m->cols;
    return STRATA_OK;
}

static json_t *new_sources(const strata_collection *c) {
    json_t *l = json_array();
    for (size_t t = 0; l && t < c->n; t++) {
        if (json_array_append_new(l, json_string(strata_collection_path(c, t))) != 0) {
            json_decref(l);
            return NULL;
        }
    }
    return l;
}

strata_status st_zarr_plan_init(st_zarr_plan *p, const strata_collection *c, const char *store,
                                const strata_zarr_opts *o, bool append) {
    memset(p, 0, sizeof *p);
    ST_TRY(st_meta_crs(c->meta)); /* the layout reads crs_wkt and epsg from here on */
    const double *gt = c->meta->gt;
    if (gt[2] != 0 || gt[4] != 0) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: the geotransform is rotated (%.17g %.17g %.17g %.17g %.17g %.17g); a "
                       "Zarr store's 1-D x/y coordinates cannot hold a rotation: warp the files "
                       "north-up first (gdalwarp)",
                       strata_collection_path(c, 0), gt[0], gt[1], gt[2], gt[3], gt[4], gt[5]);
    }
    p->c = c;
    p->store = store;
    p->version = o->zarr_version;
    p->codec = o->codec;
    snprintf(p->name, sizeof p->name, "%s", o->name ? o->name : "data");
    p->cf_times = all_times(c);
    p->dtype = c->meta->dtype;
    resolve_fill(p);
    json_t *sources = json_array();
    p->sources = sources;
    if (!sources) {
        return st_nomem("source list");
    }
    ST_TRY(resolve_chunks(p, o));
    if (append) {
        ST_TRY(merge_existing(p, o));
    }
    json_t *fresh = new_sources(c);
    if (!fresh || json_array_extend(p->sources, fresh) != 0) {
        json_decref(fresh);
        return st_nomem("source list");
    }
    json_decref(fresh);
    p->T = p->t_offset + c->n;
    p->times = st_calloc(p->T, sizeof *p->times);
    if (!p->times) {
        return st_nomem("times");
    }
    ST_TRY(read_old_times(p));
    return new_times(p);
}

void st_zarr_plan_destroy(st_zarr_plan *p) {
    free(p->times);
    json_decref(p->sources);
}

bool st_zarr_reserved_name(const char *name) {
    for (size_t i = 0; i < sizeof COORD_NAMES / sizeof COORD_NAMES[0]; i++) {
        if (strcmp(name, COORD_NAMES[i]) == 0) {
            return true;
        }
    }
    return false;
}

uint64_t st_zarr_nchunks(uint64_t n, uint64_t chunk) {
    return ceil_div(n, chunk);
}
