/* GeoTIFF for the kerchunk indexer: the tile layout from our TIFF parser, the geobox from
 * GDAL, written as the attributes strata's Zarr writer uses (GeoTransform in GDAL order as a
 * space-separated string, crs_wkt, epsg, nodata), plus what xarray and rioxarray look for:
 * x/y coordinates of the pixel centres (north-up images) and a scalar spatial_ref variable
 * carrying crs_wkt, spatial_ref and GeoTransform, named by the data's grid_mapping. */
#include "kerchunk/kerchunk.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Whether the nodata value is one of the array's values: only then can it be the Zarr
 * fill_value (zarr-python casts -1 into a |u1 array as 255, and xarray masks real 255s). */
static bool nodata_fits(const char *dtype, double nodata) {
    size_t size = kc_dtype_size(dtype);
    if (dtype[1] == 'f') {
        return isnan(nodata) || isinf(nodata) || size == 8 ||
               (fabs(nodata) <= 3.4028234663852886e38 && (double)(float)nodata == nodata);
    }
    if (isnan(nodata) || nodata != floor(nodata)) {
        return false;
    }
    int bits = (int)size * 8;
    double lo = dtype[1] == 'u' ? 0 : -ldexp(1, bits - 1);
    double hi = dtype[1] == 'u' ? ldexp(1, bits) - 1 : ldexp(1, bits - 1) - 1;
    return nodata >= lo && nodata <= hi && fabs(nodata) < 9e18;
}

static strata_status geo_attrs(const strata_meta *m, kc_var *v) {
    double gt[6], nodata;
    char text[6 * 26];
    strata_meta_geotransform(m, gt);
    snprintf(text, sizeof text, "%.17g %.17g %.17g %.17g %.17g %.17g", gt[0], gt[1], gt[2], gt[3],
             gt[4], gt[5]);
    int rc = json_object_set_new(v->attrs, "GeoTransform", json_string(text));
    rc |= json_object_set_new(v->attrs, "crs_wkt", json_string(strata_meta_crs_wkt(m)));
    rc |= json_object_set_new(v->attrs, "grid_mapping", json_string("spatial_ref"));
    /* xarray makes the variables named here coordinates of the array: rioxarray finds its
     * CRS and transform on the spatial_ref coordinate. */
    rc |= json_object_set_new(v->attrs, "coordinates", json_string("spatial_ref"));
    if (strata_meta_epsg(m)) {
        rc |= json_object_set_new(v->attrs, "epsg", json_integer(strata_meta_epsg(m)));
    }
    if (strata_meta_nodata(m, 0, &nodata)) {
        rc |= json_object_set_new(v->attrs, "nodata", kc_json_double(nodata));
        json_decref(v->fill);
        v->fill = NULL;
        /* Missing (sparse) tiles read as nodata, and xarray masks it as _FillValue; a nodata
         * the type cannot hold stays an attribute only (sparse tiles then read as 0). */
        if (nodata_fits(v->dtype, nodata)) {
            v->fill =
                v->dtype[1] != 'f' ? json_integer((json_int_t)nodata) : st_json_zarr_double(nodata);
            rc |= !v->fill;
        }
    }
    return rc ? st_nomem("attributes") : STRATA_OK;
}

/* A 1-D float64 coordinate of n pixel centres, inlined. */
static strata_status axis_var(kc_file *f, const char *name, double origin, double step, uint64_t n,
                              const char *standard_name) {
    kc_var *v = kc_file_add(f, name);
    if (!v) {
        return st_nomem("coordinate");
    }
    v->ndim = 1;
    v->shape[0] = n;
    v->chunks[0] = n ? n : 1;
    v->dims[0] = st_strdup(name);
    uint16_t probe = 1;
    snprintf(v->dtype, sizeof v->dtype, "%s", *(unsigned char *)&probe ? "<f8" : ">f8");
    ST_TRY(v->dims[0] ? kc_var_alloc_chunks(v, name) : st_nomem("coordinate"));
    double *values = st_malloc((size_t)v->chunks[0] * sizeof *values);
    if (!values) {
        return st_nomem("coordinate");
    }
    for (uint64_t i = 0; i < n; i++) {
        values[i] = origin + ((double)i + 0.5) * step; /* host order, as dtype says */
    }
    v->chunk[0] =
        (kc_chunk){.size = n * sizeof *values, .data = (unsigned char *)values, .present = true};
    int rc = json_object_set_new(v->attrs, "axis", json_string(name[0] == 'x' ? "X" : "Y"));
    if (standard_name) {
        rc |= json_object_set_new(v->attrs, "standard_name", json_string(standard_name));
    }
    return rc ? st_nomem("attributes") : STRATA_OK;
}

static strata_status spatial_ref_var(kc_file *f, const strata_meta *m, const char *gt_text) {
    kc_var *v = kc_file_add(f, "spatial_ref");
    if (!v) {
        return st_nomem("spatial_ref");
    }
    snprintf(v->dtype, sizeof v->dtype, "<i8");
    ST_TRY(kc_var_alloc_chunks(v, "spatial_ref"));
    v->chunk[0] = (kc_chunk){.size = 8, .data = st_calloc(1, 8), .present = true};
    if (!v->chunk[0].data) {
        return st_nomem("spatial_ref");
    }
    const char *wkt = strata_meta_crs_wkt(m);
    int rc = json_object_set_new(v->attrs, "GeoTransform", json_string(gt_text));
    if (wkt[0]) {
        rc |= json_object_set_new(v->attrs, "crs_wkt", json_string(wkt));
        rc |= json_object_set_new(v->attrs, "spatial_ref", json_string(wkt));
    }
    return rc ? st_nomem("attributes") : STRATA_OK;
}

/* x/y only for north-up images: a rotated grid has no 1-D coordinates, and rioxarray then
 * takes the transform from spatial_ref's GeoTransform. */
static strata_status geo_vars(kc_file *f, const strata_meta *m, const kc_var *data) {
    double gt[6];
    strata_meta_geotransform(m, gt);
    const char *gt_text = json_string_value(json_object_get(data->attrs, "GeoTransform"));
    char text[6 * 26];
    snprintf(text, sizeof text, "%s", gt_text ? gt_text : "");
    uint64_t ny = 0, nx = 0;
    for (int d = 0; d < data->ndim; d++) {
        ny = strcmp(data->dims[d], "y") == 0 ? data->shape[d] : ny;
        nx = strcmp(data->dims[d], "x") == 0 ? data->shape[d] : nx;
    }
    if (gt[2] == 0 && gt[4] == 0) {
        OGRSpatialReferenceH srs = NULL;
        const char *wkt = strata_meta_crs_wkt(m);
        bool geographic = false;
        if (wkt[0]) {
            srs = OSRNewSpatialReference(wkt);
            geographic = srs && OSRIsGeographic(srs);
            OSRDestroySpatialReference(srs);
        }
        ST_TRY(axis_var(f, "x", gt[0], gt[1], nx,
                        geographic ? "longitude"
                        : wkt[0]   ? "projection_x_coordinate"
                                   : NULL));
        ST_TRY(axis_var(f, "y", gt[3], gt[5], ny,
                        geographic ? "latitude"
                        : wkt[0]   ? "projection_y_coordinate"
                                   : NULL));
    }
    return spatial_ref_var(f, m, text);
}

/* The image's layout as one array named name (out zeroed first). */
static strata_status layout(const kc_src *s, const char *name, const kc_read_opts *o,
                            kc_file *out) {
    kc_tiff t;
    memset(out, 0, sizeof *out);
    strata_status st = kc_tiff_parse(s, &t);
    if (st == STRATA_OK) {
        st = kc_tiff_to_var(s, &t, name, o, out);
        kc_tiff_free(&t);
    }
    return st;
}

/* The geobox m as the array's attributes and the x, y and spatial_ref variables. */
static strata_status geobox(kc_file *out, const strata_meta *m) {
    out->attrs = json_object();
    strata_status st = out->attrs ? geo_attrs(m, &out->vars[0]) : st_nomem("attributes");
    return st == STRATA_OK ? geo_vars(out, m, &out->vars[0]) : st;
}

strata_status kc_geotiff_read_src(const kc_src *s, const strata_meta *m, const char *name,
                                  const kc_read_opts *o, kc_file *out) {
    strata_status st = layout(s, name, o, out);
    if (st == STRATA_OK) {
        st = geobox(out, m);
    }
    if (st != STRATA_OK) {
        kc_file_free(out);
    }
    return st;
}

strata_status kc_geotiff_read(const char *path, const char *name, const kc_read_opts *o,
                              kc_file *out, strata_meta **meta) {
    kc_src s;
    memset(out, 0, sizeof *out);
    *meta = NULL;
    ST_TRY(kc_src_open(&s, path));
    strata_status st = layout(&s, name, o, out);
    kc_src_close(&s);
    if (st == STRATA_OK) {
        st = strata_meta_from_file(path, meta);
    }
    if (st == STRATA_OK) {
        st = geobox(out, *meta);
    }
    if (st != STRATA_OK) {
        kc_file_free(out);
        strata_meta_free(*meta);
        *meta = NULL;
    }
    return st;
}
