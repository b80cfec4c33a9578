/* GeoTIFF for the kerchunk indexer: the tile layout from our TIFF parser, the geobox from
 * GDAL, written as the attributes strata's Zarr writer uses (GeoTransform in GDAL order as a
 * space-separated string, crs_wkt, epsg, nodata). */
#include "kerchunk.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static strata_status geo_attrs(const strata_meta *m, kc_var *v) {
    double gt[6], nodata;
    char text[6 * 26];
    strata_meta_geotransform(m, gt);
    snprintf(text, sizeof text, "%.17g %.17g %.17g %.17g %.17g %.17g", gt[0], gt[1], gt[2], gt[3],
             gt[4], gt[5]);
    int rc = json_object_set_new(v->attrs, "GeoTransform", json_string(text));
    rc |= json_object_set_new(v->attrs, "crs_wkt", json_string(strata_meta_crs_wkt(m)));
    if (strata_meta_epsg(m)) {
        rc |= json_object_set_new(v->attrs, "epsg", json_integer(strata_meta_epsg(m)));
    }
    if (strata_meta_nodata(m, 0, &nodata)) {
        /* Missing (sparse) tiles read as nodata, and xarray masks it as _FillValue. */
        rc |= json_object_set_new(v->attrs, "nodata", kc_json_double(nodata));
        json_decref(v->fill);
        bool integer =
            v->dtype[1] != 'f' && fabs(nodata) < 9e18 && nodata == (double)(json_int_t)nodata;
        v->fill = integer ? json_integer((json_int_t)nodata) : st_json_zarr_double(nodata);
        rc |= !v->fill;
    }
    return rc ? st_nomem("attributes") : STRATA_OK;
}

strata_status kc_geotiff_read(const char *path, const char *name, const kc_read_opts *o,
                              kc_file *out, strata_meta **meta) {
    kc_src s;
    kc_tiff t;
    memset(out, 0, sizeof *out);
    *meta = NULL;
    ST_TRY(kc_src_open(&s, path));
    strata_status st = kc_tiff_parse(&s, &t);
    if (st == STRATA_OK) {
        st = kc_tiff_to_var(&s, &t, name, o, out);
        kc_tiff_free(&t);
    }
    kc_src_close(&s);
    if (st == STRATA_OK) {
        out->attrs = json_object();
        st = out->attrs ? strata_meta_from_file(path, meta) : st_nomem("attributes");
    }
    if (st == STRATA_OK) {
        st = geo_attrs(*meta, &out->vars[0]);
    }
    if (st != STRATA_OK) {
        kc_file_free(out);
        strata_meta_free(*meta);
        *meta = NULL;
    }
    return st;
}
