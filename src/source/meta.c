/* strata_meta: an immutable snapshot of the template's geobox and pixel description. */
#include "source/source.h"

#include <cpl_conv.h>
#include <jansson.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

strata_meta *st_meta_alloc(int bands) {
    strata_meta *m = st_calloc(1, sizeof *m);
    if (!m) {
        return NULL;
    }
    m->bands = bands;
    pthread_mutex_init(&m->crs_lock, NULL);
    m->has_nodata = st_calloc((size_t)bands, sizeof *m->has_nodata);
    m->nodata = st_calloc((size_t)bands, sizeof *m->nodata);
    m->band_names = st_calloc((size_t)bands, sizeof *m->band_names);
    m->scale = st_calloc((size_t)bands, sizeof *m->scale);
    m->offset = st_calloc((size_t)bands, sizeof *m->offset);
    m->unit = st_calloc((size_t)bands, sizeof *m->unit);
    if (!m->has_nodata || !m->nodata || !m->band_names || !m->scale || !m->offset || !m->unit) {
        strata_meta_free(m);
        return NULL;
    }
    for (int b = 0; b < bands; b++) {
        m->scale[b] = 1;
    }
    return m;
}

void strata_meta_free(strata_meta *m) {
    if (!m) {
        return;
    }
    for (int b = 0; m->band_names && b < m->bands; b++) {
        free(m->band_names[b]);
    }
    for (int b = 0; m->unit && b < m->bands; b++) {
        free(m->unit[b]);
    }
    free(m->band_names);
    free(m->scale);
    free(m->offset);
    free(m->unit);
    free(m->has_nodata);
    free(m->nodata);
    free(m->crs_wkt);
    free(m->crs_from);
    st_geotags_free(m->geotags);
    pthread_mutex_destroy(&m->crs_lock);
    free(m->driver);
    free(m);
}

/* WKT2 is what GDAL itself reports; the EPSG code only when the CRS carries one. */
static strata_status read_crs(GDALDatasetH ds, strata_meta *m) {
    OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
    char *wkt = NULL;
    if (srs) {
        const char *opts[] = {"FORMAT=WKT2_2019", "MULTILINE=NO", NULL};
        if (OSRExportToWktEx(srs, &wkt, opts) != OGRERR_NONE) {
            CPLFree(wkt);
            wkt = NULL;
        }
        const char *auth = OSRGetAuthorityName(srs, NULL);
        const char *code = OSRGetAuthorityCode(srs, NULL);
        if (auth && code && strcmp(auth, "EPSG") == 0) {
            m->epsg = atoi(code);
        }
    }
    m->crs_wkt = st_strdup(wkt ? wkt : "");
    CPLFree(wkt);
    return m->crs_wkt ? STRATA_OK : st_nomem("CRS");
}

/* A band's nodata: GDAL keeps that of 64-bit integer bands apart (a double cannot hold every
 * value); strata's accumulators compare in double either way. */
static double band_nodata(GDALRasterBandH h, int *has) {
    GDALDataType type = GDALGetRasterDataType(h);
    if (type == GDT_Int64) {
        return (double)GDALGetRasterNoDataValueAsInt64(h, has);
    }
    if (type == GDT_UInt64) {
        return (double)GDALGetRasterNoDataValueAsUInt64(h, has);
    }
    return GDALGetRasterNoDataValue(h, has);
}

static strata_status read_bands(GDALDatasetH ds, const char *path, strata_meta *m) {
    for (int b = 0; b < m->bands; b++) {
        GDALRasterBandH h = GDALGetRasterBand(ds, b + 1);
        strata_dtype dt = st_dtype_from_gdal(GDALGetRasterDataType(h));
        if (dt == STRATA_DTYPE_UNKNOWN) {
            return st_fail(STRATA_ERR_UNSUPPORTED, "%s: band %d has data type %s, not supported",
                           path, b + 1, GDALGetDataTypeName(GDALGetRasterDataType(h)));
        }
        if (b == 0) {
            m->dtype = dt;
            GDALGetBlockSize(h, &m->block_x, &m->block_y);
        } else if (dt != m->dtype) {
            return st_fail(STRATA_ERR_UNSUPPORTED,
                           "%s: mixed data types: band 1 is %s, band %d is %s", path,
                           strata_dtype_name(m->dtype), b + 1, strata_dtype_name(dt));
        }
        int has = 0;
        double nd = band_nodata(h, &has);
        m->has_nodata[b] = has != 0;
        m->nodata[b] = has ? nd : 0.0;
        m->band_names[b] = st_strdup(GDALGetDescription(h));
        int has_scale = 0, has_offset = 0;
        double scale = GDALGetRasterScale(h, &has_scale);
        double offset = GDALGetRasterOffset(h, &has_offset);
        m->scale[b] = has_scale ? scale : 1;
        m->offset[b] = has_offset ? offset : 0;
        const char *unit = GDALGetRasterUnitType(h);
        m->unit[b] = st_strdup(unit ? unit : "");
        if (!m->band_names[b] || !m->unit[b]) {
            return st_nomem("band names");
        }
    }
    return STRATA_OK;
}

bool st_meta_packed(const strata_meta *m) {
    for (int b = 0; b < m->bands; b++) {
        if (m->scale[b] != 1 || m->offset[b] != 0) {
            return true;
        }
    }
    return false;
}

strata_status st_meta_crs(const strata_meta *cm) {
    strata_meta *m = (strata_meta *)cm; /* building the CRS once is not a change of value */
    strata_status st = STRATA_OK;
    pthread_mutex_lock(&m->crs_lock);
    if (!m->crs_wkt) {
        st_gdal_quiet_begin();
        GDALDatasetH ds = st_open_raster(m->crs_from, m->driver, false);
        st = ds ? read_crs(ds, m)
                : st_fail_gdal(STRATA_ERR_IO, "%s: cannot open it again to read its CRS%s",
                               m->crs_from, st_fd_note());
        if (ds) {
            GDALClose(ds);
        }
        st_gdal_quiet_end();
    }
    if (st == STRATA_OK) {
        free(m->crs_from);
        m->crs_from = NULL;
    }
    pthread_mutex_unlock(&m->crs_lock);
    return st;
}

/* The template's geotags and path, for a CRS built on first use. */
static strata_status defer_crs(GDALDatasetH ds, const char *path, strata_meta *m) {
    m->geotags = st_geotags_read(ds);
    if (!m->geotags) {
        return read_crs(ds, m);
    }
    m->crs_from = st_strdup(path);
    return m->crs_from ? STRATA_OK : st_nomem("meta");
}

strata_status st_meta_from_dataset(GDALDatasetH ds, const char *path, bool lazy_crs,
                                   strata_meta **out) {
    *out = NULL;
    int bands = GDALGetRasterCount(ds);
    if (bands < 1) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "%s: has no raster bands", path);
    }
    strata_meta *m = st_meta_alloc(bands);
    if (!m) {
        return st_nomem("meta");
    }
    m->rows = GDALGetRasterYSize(ds);
    m->cols = GDALGetRasterXSize(ds);
    /* GDAL fills the default (0,1,0,0,0,1) when a file has no geotransform. */
    GDALGetGeoTransform(ds, m->gt);
    GDALDriverH drv = GDALGetDatasetDriver(ds);
    m->driver = st_strdup(drv ? GDALGetDriverShortName(drv) : "");
    strata_status st = m->driver ? STRATA_OK : st_nomem("meta");
    if (st == STRATA_OK) {
        st = lazy_crs ? defer_crs(ds, path, m) : read_crs(ds, m);
    }
    if (st == STRATA_OK) {
        st = read_bands(ds, path, m);
    }
    if (st != STRATA_OK) {
        strata_meta_free(m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}

strata_status strata_meta_from_file(const char *path, strata_meta **out) {
    st_clear_error();
    if (!path || !out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_meta_from_file: NULL argument");
    }
    *out = NULL;
    st_gdal_quiet_begin();
    GDALDatasetH ds = st_open_raster(path, NULL, true);
    strata_status st = ds ? st_meta_from_dataset(ds, path, false, out) : STRATA_ERR_IO;
    if (ds) {
        GDALClose(ds);
    }
    st_gdal_quiet_end();
    return st;
}

/* ---- comparison ---------------------------------------------------------------------- */

static bool same_double(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

int strata_meta_equal(const strata_meta *a, const strata_meta *b) {
    if (!a || !b) {
        return a == b;
    }
    if (st_meta_crs(a) != STRATA_OK || st_meta_crs(b) != STRATA_OK) {
        return 0;
    }
    if (a->epsg != b->epsg || a->rows != b->rows || a->cols != b->cols || a->bands != b->bands ||
        a->dtype != b->dtype || a->block_x != b->block_x || a->block_y != b->block_y ||
        strcmp(a->crs_wkt, b->crs_wkt) != 0 || strcmp(a->driver, b->driver) != 0) {
        return 0;
    }
    for (int i = 0; i < 6; i++) {
        if (!same_double(a->gt[i], b->gt[i])) {
            return 0;
        }
    }
    for (int i = 0; i < a->bands; i++) {
        if (a->has_nodata[i] != b->has_nodata[i] ||
            (a->has_nodata[i] && !same_double(a->nodata[i], b->nodata[i])) ||
            strcmp(a->band_names[i], b->band_names[i]) != 0 ||
            !same_double(a->scale[i], b->scale[i]) || !same_double(a->offset[i], b->offset[i]) ||
            strcmp(a->unit[i], b->unit[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Geotransforms written by different tools differ in the last bits; a shift of a
 * millionth of a pixel is the same grid. */
bool st_same_grid(const double *a, const double *b) {
    double px = fabs(a[1]) + fabs(a[2]) + fabs(a[4]) + fabs(a[5]);
    for (int i = 0; i < 6; i++) {
        double tol = (i == 0 || i == 3) ? 1e-6 * px : 1e-9 * (fabs(a[i]) + 1e-300);
        if (!(fabs(a[i] - b[i]) <= tol)) {
            return false;
        }
    }
    return true;
}

static bool same_crs(OGRSpatialReferenceH tmpl, GDALDatasetH ds) {
    OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
    if (!srs || !tmpl) {
        return !srs && !tmpl;
    }
    /* The axis mapping is how GDAL hands out coordinates, not part of the CRS: a template
     * parsed from WKT and a file's own CRS differ there for geographic CRSs (EPSG:4326). */
    const char *opts[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", NULL};
    return OSRIsSameEx(tmpl, srs, opts);
}

OGRSpatialReferenceH st_meta_srs(const strata_meta *m) {
    if (st_meta_crs(m) != STRATA_OK || !m->crs_wkt[0]) {
        return NULL;
    }
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    const char *wkt = m->crs_wkt;
    if (srs && OSRImportFromWkt(srs, (char **)&wkt) != OGRERR_NONE) {
        OSRDestroySpatialReference(srs);
        srs = NULL;
    }
    return srs;
}

/* "EPSG:n", or the CRS's name when it has no EPSG code, or "none". */
static void describe_crs(OGRSpatialReferenceH srs, char *buf, size_t size) {
    const char *auth = srs ? OSRGetAuthorityName(srs, NULL) : NULL;
    const char *code = srs ? OSRGetAuthorityCode(srs, NULL) : NULL;
    const char *name = srs ? OSRGetName(srs) : NULL;
    if (!srs) {
        snprintf(buf, size, "none");
    } else if (auth && code) {
        snprintf(buf, size, "%s:%s", auth, code);
    } else {
        snprintf(buf, size, "'%.100s'", name ? name : "unnamed");
    }
}

/* A nodata value as the file's type holds it: float32 rounds, so a value written as a double
 * (3.4e38 in JSON) is the float the pixels carry. */
static double nodata_as(strata_dtype dtype, double v) {
    return dtype == STRATA_FLOAT32 ? (double)(float)v : v;
}

/* Nodata of every band of ds against m's bands band0...: a file whose nodata differs would
 * have its nodata pixels counted as data (the accumulators know one value per band). */
static bool same_nodata(const strata_meta *m, int band0, GDALDatasetH ds, const char *ref,
                        bool stac, char *why, size_t size) {
    for (int b = 0; b < GDALGetRasterCount(ds); b++) {
        int has = 0;
        double nd = band_nodata(GDALGetRasterBand(ds, b + 1), &has);
        int mb = band0 + b;
        bool same =
            (has != 0) == (m->has_nodata[mb] != 0) &&
            (!has || same_double(nodata_as(m->dtype, nd), nodata_as(m->dtype, m->nodata[mb])));
        if (!same) {
            char mine[64] = "none", theirs[64] = "none";
            if (has) {
                snprintf(mine, sizeof mine, "%.17g", nd);
            }
            if (m->has_nodata[mb]) {
                snprintf(theirs, sizeof theirs, "%.17g", m->nodata[mb]);
            }
            snprintf(why, size, "band %d nodata is %s, %s has %s%s", b + 1, mine, ref, theirs,
                     stac ? " (raster:bands nodata)" : "");
            return false;
        }
    }
    return true;
}

bool st_meta_matches(const strata_meta *m, OGRSpatialReferenceH srs, int expected_bands, int band0,
                     bool stac, GDALDatasetH ds, char *why, size_t size) {
    int rows = GDALGetRasterYSize(ds), cols = GDALGetRasterXSize(ds);
    int bands = GDALGetRasterCount(ds);
    const char *ref = stac ? "the STAC metadata" : "the template";
    double gt[6];
    if (rows != m->rows || cols != m->cols) {
        snprintf(why, size, "%dx%d pixels (cols x rows), %s has %dx%d%s", cols, rows, ref, m->cols,
                 m->rows, stac ? " (proj:shape)" : "");
        return false;
    }
    if (bands != expected_bands) {
        snprintf(why, size, "%d bands, %s has %d%s", bands, ref, expected_bands,
                 stac ? " (raster:bands)" : "");
        return false;
    }
    for (int b = 1; b <= bands; b++) {
        GDALDataType type = GDALGetRasterDataType(GDALGetRasterBand(ds, b));
        strata_dtype dt = st_dtype_from_gdal(type);
        if (dt != m->dtype) {
            snprintf(why, size, "band %d is %s, %s has %s%s", b, GDALGetDataTypeName(type), ref,
                     strata_dtype_name(m->dtype), stac ? " (raster:bands data_type)" : "");
            return false;
        }
    }
    if (GDALGetGeoTransform(ds, gt) != CE_None && stac) {
        snprintf(why, size, "no geotransform, %s has one (proj:transform)", ref);
        return false;
    }
    if (!st_same_grid(m->gt, gt)) {
        snprintf(why, size,
                 "geotransform (%.17g %.17g %.17g %.17g %.17g %.17g) differs from "
                 "%s's (%.17g %.17g %.17g %.17g %.17g %.17g)%s",
                 gt[0], gt[1], gt[2], gt[3], gt[4], gt[5], ref, m->gt[0], m->gt[1], m->gt[2],
                 m->gt[3], m->gt[4], m->gt[5], stac ? " (proj:transform)" : "");
        return false;
    }
    if (!same_crs(srs, ds)) {
        char mine[128], theirs[128];
        describe_crs(GDALGetSpatialRef(ds), mine, sizeof mine);
        describe_crs(srs, theirs, sizeof theirs);
        snprintf(why, size, "CRS %s differs from %s's %s%s", mine, ref, theirs,
                 stac ? " (proj:epsg)" : "");
        return false;
    }
    return same_nodata(m, band0, ds, ref, stac, why, size);
}

/* The CRS as it stands: built, or still to build from the same template. */
static void copy_crs(const strata_meta *m, strata_meta *r) {
    pthread_mutex_lock((pthread_mutex_t *)&m->crs_lock);
    r->epsg = m->epsg;
    r->crs_wkt = m->crs_wkt ? st_strdup(m->crs_wkt) : NULL;
    r->crs_from = m->crs_from && !m->crs_wkt ? st_strdup(m->crs_from) : NULL;
    r->geotags = st_geotags_copy(m->geotags);
    pthread_mutex_unlock((pthread_mutex_t *)&m->crs_lock);
}

strata_status st_meta_repeat_bands(const strata_meta *m, size_t nsrc, const char *const *names,
                                   strata_meta **out) {
    *out = NULL;
    if (nsrc * (size_t)m->bands > 65535) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "%zu sources of %d bands: too many bands", nsrc,
                       m->bands);
    }
    strata_meta *r = st_meta_alloc((int)nsrc * m->bands);
    if (!r) {
        return st_nomem("meta");
    }
    copy_crs(m, r);
    memcpy(r->gt, m->gt, sizeof r->gt);
    r->rows = m->rows;
    r->cols = m->cols;
    r->dtype = m->dtype;
    r->block_x = m->block_x;
    r->block_y = m->block_y;
    r->driver = st_strdup(m->driver);
    bool crs_ok = (r->crs_wkt || r->crs_from) && (!m->geotags || r->geotags);
    strata_status st = crs_ok && r->driver ? STRATA_OK : st_nomem("meta");
    for (int b = 0; b < r->bands && st == STRATA_OK; b++) {
        int src = b % m->bands;
        const char *name = names && m->bands == 1 ? names[b] : m->band_names[src];
        r->has_nodata[b] = m->has_nodata[src];
        r->nodata[b] = m->nodata[src];
        r->scale[b] = m->scale[src];
        r->offset[b] = m->offset[src];
        if (!(r->band_names[b] = st_strdup(name)) || !(r->unit[b] = st_strdup(m->unit[src]))) {
            st = st_nomem("meta");
        }
    }
    if (st != STRATA_OK) {
        strata_meta_free(r);
        return st;
    }
    *out = r;
    return STRATA_OK;
}

/* ---- JSON ---------------------------------------------------------------------------- */

/* jansson writes reals with 17 significant digits, which round-trips a double exactly;
 * JSON has no NaN or infinity, so those travel as strings. */
static json_t *jdouble(double v) {
    if (isnan(v)) {
        return json_string("nan");
    }
    if (isinf(v)) {
        return json_string(v > 0 ? "inf" : "-inf");
    }
    return json_real(v);
}

static bool jget_double(const json_t *j, double *v) {
    if (json_is_number(j)) {
        *v = json_number_value(j);
        return true;
    }
    const char *s = json_string_value(j);
    if (!s) {
        return false;
    }
    if (strcmp(s, "nan") == 0) {
        *v = NAN;
    } else if (strcmp(s, "inf") == 0) {
        *v = INFINITY;
    } else if (strcmp(s, "-inf") == 0) {
        *v = -INFINITY;
    } else {
        return false;
    }
    return true;
}

void *st_meta_to_jobj(const strata_meta *m) {
    if (st_meta_crs(m) != STRATA_OK) {
        return NULL;
    }
    json_t *o = json_object(), *gt = json_array(), *bands = json_array();
    for (int i = 0; i < 6; i++) {
        json_array_append_new(gt, jdouble(m->gt[i]));
    }
    for (int b = 0; b < m->bands; b++) {
        json_t *jb = json_object();
        json_object_set_new(jb, "name", json_string(m->band_names[b]));
        json_object_set_new(jb, "nodata", m->has_nodata[b] ? jdouble(m->nodata[b]) : json_null());
        if (m->scale[b] != 1 || m->offset[b] != 0) {
            json_object_set_new(jb, "scale", jdouble(m->scale[b]));
            json_object_set_new(jb, "offset", jdouble(m->offset[b]));
        }
        if (m->unit[b][0]) {
            json_object_set_new(jb, "unit", json_string(m->unit[b]));
        }
        json_array_append_new(bands, jb);
    }
    json_object_set_new(o, "epsg", json_integer(m->epsg));
    json_object_set_new(o, "crs_wkt", json_string(m->crs_wkt));
    json_object_set_new(o, "geotransform", gt);
    json_object_set_new(o, "rows", json_integer(m->rows));
    json_object_set_new(o, "cols", json_integer(m->cols));
    json_object_set_new(o, "dtype", json_string(strata_dtype_name(m->dtype)));
    json_object_set_new(o, "block", json_pack("[ii]", m->block_x, m->block_y));
    json_object_set_new(o, "driver", json_string(m->driver));
    json_object_set_new(o, "bands", bands);
    return o;
}

strata_status strata_meta_to_json(const strata_meta *m, char **json) {
    st_clear_error();
    if (!m || !json) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_meta_to_json: NULL argument");
    }
    ST_TRY(st_meta_crs(m));
    json_t *o = st_meta_to_jobj(m);
    *json = o ? st_json_dump(o) : NULL;
    json_decref(o);
    return *json ? STRATA_OK : st_nomem("meta JSON");
}

static strata_status meta_bad(const char *what) {
    return st_fail(STRATA_ERR_PARSE, "meta JSON: %s", what);
}

static strata_status parse_bands(const json_t *jb, strata_meta *m) {
    for (int b = 0; b < m->bands; b++) {
        const json_t *e = json_array_get(jb, (size_t)b);
        const char *name = json_string_value(json_object_get(e, "name"));
        const json_t *nd = json_object_get(e, "nodata");
        if (!json_is_object(e) || !name || !nd) {
            return meta_bad("each band needs \"name\" and \"nodata\"");
        }
        m->band_names[b] = st_strdup(name);
        if (!m->band_names[b]) {
            return st_nomem("band names");
        }
        m->has_nodata[b] = !json_is_null(nd);
        if (m->has_nodata[b] && !jget_double(nd, &m->nodata[b])) {
            return meta_bad("band nodata must be a number, a NaN/inf string or null");
        }
        /* Optional: a band without them is not packed and has no unit. */
        const json_t *scale = json_object_get(e, "scale"), *offset = json_object_get(e, "offset");
        const json_t *unit = json_object_get(e, "unit");
        if ((scale && (!jget_double(scale, &m->scale[b]) || !isfinite(m->scale[b]))) ||
            (offset && (!jget_double(offset, &m->offset[b]) || !isfinite(m->offset[b]))) ||
            (unit && !json_is_string(unit))) {
            return meta_bad("band scale and offset must be finite numbers, unit a string");
        }
        if (!(m->unit[b] = st_strdup(unit ? json_string_value(unit) : ""))) {
            return st_nomem("band units");
        }
    }
    return STRATA_OK;
}

static bool positive_int(const json_t *j, int *v) {
    if (!json_is_integer(j) || json_integer_value(j) < 1 || json_integer_value(j) > INT32_MAX) {
        return false;
    }
    *v = (int)json_integer_value(j);
    return true;
}

strata_status st_meta_from_jobj(const void *jobj, strata_meta **out) {
    const json_t *o = jobj, *gt = json_object_get(o, "geotransform");
    const json_t *jb = json_object_get(o, "bands"), *blk = json_object_get(o, "block");
    const char *wkt = json_string_value(json_object_get(o, "crs_wkt"));
    const char *dt = json_string_value(json_object_get(o, "dtype"));
    const char *drv = json_string_value(json_object_get(o, "driver"));
    *out = NULL;
    if (!json_is_object(o)) {
        return meta_bad("not an object");
    }
    if (!json_is_array(gt) || json_array_size(gt) != 6 || !json_is_array(jb) ||
        json_array_size(jb) < 1 || json_array_size(jb) > 65535 || !wkt || !dt || !drv ||
        !json_is_integer(json_object_get(o, "epsg")) || json_array_size(blk) != 2) {
        return meta_bad("missing or mistyped field (epsg, crs_wkt, geotransform, rows, cols, "
                        "dtype, block, driver, bands)");
    }
    strata_meta *m = st_meta_alloc((int)json_array_size(jb));
    if (!m) {
        return st_nomem("meta");
    }
    strata_status st = STRATA_OK;
    m->epsg = (int)json_integer_value(json_object_get(o, "epsg"));
    m->dtype = strata_dtype_from_name(dt);
    m->crs_wkt = st_strdup(wkt);
    m->driver = st_strdup(drv);
    for (int i = 0; i < 6 && st == STRATA_OK; i++) {
        if (!jget_double(json_array_get(gt, (size_t)i), &m->gt[i])) {
            st = meta_bad("geotransform must hold 6 numbers");
        }
    }
    if (st == STRATA_OK && (!positive_int(json_object_get(o, "rows"), &m->rows) ||
                            !positive_int(json_object_get(o, "cols"), &m->cols) ||
                            !positive_int(json_array_get(blk, 0), &m->block_x) ||
                            !positive_int(json_array_get(blk, 1), &m->block_y))) {
        st = meta_bad("rows, cols and block sizes must be positive integers");
    }
    if (st == STRATA_OK && (m->dtype == STRATA_DTYPE_UNKNOWN || m->dtype == STRATA_INT8)) {
        st = meta_bad("unknown dtype");
    }
    if (st == STRATA_OK && (!m->crs_wkt || !m->driver)) {
        st = st_nomem("meta");
    }
    if (st == STRATA_OK) {
        st = parse_bands(jb, m);
    }
    if (st != STRATA_OK) {
        strata_meta_free(m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}

strata_status strata_meta_from_json(const char *text, strata_meta **out) {
    st_clear_error();
    if (!text || !out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_meta_from_json: NULL argument");
    }
    json_error_t err;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        *out = NULL;
        return st_fail(STRATA_ERR_PARSE, "meta JSON: %s at line %d, column %d", err.text, err.line,
                       err.column);
    }
    strata_status st = st_meta_from_jobj(o, out);
    json_decref(o);
    return st;
}

strata_status strata_meta_copy(const strata_meta *meta, strata_meta **out) {
    st_clear_error();
    if (!meta || !out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_meta_copy: NULL argument");
    }
    ST_TRY(st_meta_crs(meta));
    json_t *o = st_meta_to_jobj(meta);
    strata_status st = o ? st_meta_from_jobj(o, out) : st_nomem("meta");
    json_decref(o);
    return st;
}

/* ---- getters ------------------------------------------------------------------------- */

/* The CRS is built on first use (st_meta_crs); should that fail, the getters say "no CRS"
 * and strata_errmsg() says why. */
int strata_meta_epsg(const strata_meta *m) {
    return st_meta_crs(m) == STRATA_OK ? m->epsg : 0;
}
const char *strata_meta_crs_wkt(const strata_meta *m) {
    return st_meta_crs(m) == STRATA_OK ? m->crs_wkt : "";
}
void strata_meta_geotransform(const strata_meta *m, double gt[6]) {
    memcpy(gt, m->gt, sizeof m->gt);
}
int strata_meta_rows(const strata_meta *m) {
    return m->rows;
}
int strata_meta_cols(const strata_meta *m) {
    return m->cols;
}
int strata_meta_bands(const strata_meta *m) {
    return m->bands;
}
strata_dtype strata_meta_dtype(const strata_meta *m) {
    return m->dtype;
}
void strata_meta_cell_size(const strata_meta *m, double *x, double *y) {
    *x = hypot(m->gt[1], m->gt[4]);
    *y = hypot(m->gt[2], m->gt[5]);
}
int strata_meta_nodata(const strata_meta *m, int band, double *value) {
    if (band < 0 || band >= m->bands || !m->has_nodata[band]) {
        return 0;
    }
    *value = m->nodata[band];
    return 1;
}
const char *strata_meta_band_name(const strata_meta *m, int band) {
    return (band >= 0 && band < m->bands) ? m->band_names[band] : "";
}
void strata_meta_block_size(const strata_meta *m, int *x, int *y) {
    *x = m->block_x;
    *y = m->block_y;
}
const char *strata_meta_driver(const strata_meta *m) {
    return m->driver;
}

double st_meta_nodata_cmp(const strata_meta *m, int band) {
    double nd = m->nodata[band];
    return m->dtype == STRATA_FLOAT32 ? (double)(float)nd : nd;
}
