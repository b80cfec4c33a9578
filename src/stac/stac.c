/* Collections from STAC items: one timestep per item, one band group per asset key. When the
 * items describe their grid (projection extension) and pixels (raster extension), the meta is
 * built from the JSON and no file is opened until a read; otherwise the first asset is the
 * template, as with files. */
#include "stac/stac.h"
#include "source/grid.h"

#include <cpl_conv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/opts.h"

void strata_stac_opts_init(strata_stac_opts *opts) {
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}

/* ---- grids of the items agree ------------------------------------------------------------ */

/* The first item and asset that gave each projection field: what the others must equal. */
typedef struct grid_ref {
    const st_stac_item *item[3];
    const st_stac_asset *asset[3];
} grid_ref;
enum { REF_EPSG, REF_SHAPE, REF_TRANSFORM };

static strata_status grid_differs(const st_stac_item *it, const st_stac_asset *a,
                                  const grid_ref *ref, int field, const char *what,
                                  const char *have, const char *want) {
    return st_fail(STRATA_ERR_MISALIGNED,
                   "STAC item '%.120s': asset '%.80s' has %s %s, but item '%.120s' asset "
                   "'%.80s' has %s: every item must share one grid",
                   it->id, a->key, what, have, ref->item[field]->id, ref->asset[field]->key, want);
}

static void format_gt(const double *gt, char *buf, size_t size) {
    /* Shown in the extension's own order: a, b, c, d, e, f. */
    snprintf(buf, size, "[%.17g, %.17g, %.17g, %.17g, %.17g, %.17g]", gt[1], gt[2], gt[0], gt[4],
             gt[5], gt[3]);
}

static strata_status check_asset_grid(const st_stac_item *it, const st_stac_asset *a,
                                      grid_ref *ref) {
    const st_stac_proj *p = &a->proj;
    char have[256], want[256];
    bool has[3] = {p->has_epsg, p->has_shape, p->has_transform};
    for (int f = 0; f < 3; f++) {
        if (has[f] && !ref->item[f]) {
            ref->item[f] = it;
            ref->asset[f] = a;
        }
    }
    const st_stac_proj *e = ref->item[REF_EPSG] ? &ref->asset[REF_EPSG]->proj : NULL;
    const st_stac_proj *s = ref->item[REF_SHAPE] ? &ref->asset[REF_SHAPE]->proj : NULL;
    const st_stac_proj *t = ref->item[REF_TRANSFORM] ? &ref->asset[REF_TRANSFORM]->proj : NULL;
    if (p->has_epsg && p->epsg != e->epsg) {
        snprintf(have, sizeof have, "EPSG:%d", p->epsg);
        snprintf(want, sizeof want, "EPSG:%d", e->epsg);
        return grid_differs(it, a, ref, REF_EPSG, "proj:epsg", have, want);
    }
    if (p->has_shape && (p->rows != s->rows || p->cols != s->cols)) {
        snprintf(have, sizeof have, "[%d, %d]", p->rows, p->cols);
        snprintf(want, sizeof want, "[%d, %d]", s->rows, s->cols);
        return grid_differs(it, a, ref, REF_SHAPE, "proj:shape", have, want);
    }
    if (p->has_transform && !st_same_grid(t->gt, p->gt)) {
        format_gt(p->gt, have, sizeof have);
        format_gt(t->gt, want, sizeof want);
        return grid_differs(it, a, ref, REF_TRANSFORM, "proj:transform", have, want);
    }
    return STRATA_OK;
}

/* The assets of one item become bands of one cube: their types must agree too. */
static strata_status check_asset_types(const st_stac_item *it, size_t nassets) {
    const st_stac_asset *first = &it->assets[0];
    for (size_t k = 1; k < nassets; k++) {
        const st_stac_asset *a = &it->assets[k];
        if (first->bands.dtype && a->bands.dtype && a->bands.dtype != first->bands.dtype) {
            return st_fail(STRATA_ERR_MISALIGNED,
                           "STAC item '%.120s': assets '%.80s' (%s) and '%.80s' (%s) have "
                           "different data types",
                           it->id, first->key, strata_dtype_name(first->bands.dtype), a->key,
                           strata_dtype_name(a->bands.dtype));
        }
    }
    return STRATA_OK;
}

/* With an output grid the items may lie on any grids: they are warped to it. */
static strata_status check_grids(const st_stac_items *items, bool any_grid) {
    grid_ref ref;
    memset(&ref, 0, sizeof ref);
    for (size_t i = 0; i < items->n; i++) {
        for (size_t k = 0; k < items->nassets && !any_grid; k++) {
            ST_TRY(check_asset_grid(&items->items[i], &items->items[i].assets[k], &ref));
        }
        ST_TRY(check_asset_types(&items->items[i], items->nassets));
    }
    return STRATA_OK;
}

/* ---- the meta from the JSON alone -------------------------------------------------------- */

/* True when the first item gives everything a meta holds but the block size (read paths use
 * each file's own blocks). */
static bool meta_known(const st_stac_items *items) {
    const st_stac_item *it = &items->items[0];
    for (size_t k = 0; k < items->nassets; k++) {
        const st_stac_asset *a = &it->assets[k];
        if (!a->proj.has_epsg || !a->proj.has_shape || !a->proj.has_transform || a->bands.n < 1 ||
            a->bands.dtype == STRATA_DTYPE_UNKNOWN || a->bands.n != it->assets[0].bands.n) {
            return false;
        }
    }
    return true;
}

static strata_status crs_from_epsg(int epsg, const st_stac_item *it, char **wkt) {
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    char *text = NULL;
    const char *opts[] = {"FORMAT=WKT2_2019", "MULTILINE=NO", NULL};
    st_gdal_quiet_begin();
    bool ok = srs && OSRImportFromEPSG(srs, epsg) == OGRERR_NONE &&
              OSRExportToWktEx(srs, &text, opts) == OGRERR_NONE;
    st_gdal_quiet_end();
    *wkt = ok ? st_strdup(text) : NULL;
    CPLFree(text);
    if (srs) {
        OSRDestroySpatialReference(srs);
    }
    if (!ok) {
        return st_fail_gdal(STRATA_ERR_PARSE,
                            "STAC item '%.120s': proj:epsg %d is not a CRS "
                            "GDAL knows",
                            it->id, epsg);
    }
    return *wkt ? STRATA_OK : st_nomem("CRS");
}

/* GeoTIFF is named so that opens skip probing the other drivers; anything else probes. */
static const char *guess_driver(const char *path) {
    size_t n = strcspn(path, "?#");
    bool tif = (n > 4 && strncasecmp(path + n - 4, ".tif", 4) == 0) ||
               (n > 5 && strncasecmp(path + n - 5, ".tiff", 5) == 0);
    return tif ? "GTiff" : "";
}

/* The meta of ONE source file (the first asset); the collection widens it to all assets. */
static strata_status fill_meta(const st_stac_item *it, strata_meta *m) {
    const st_stac_asset *a = &it->assets[0];
    m->epsg = a->proj.epsg;
    memcpy(m->gt, a->proj.gt, sizeof m->gt);
    m->rows = a->proj.rows;
    m->cols = a->proj.cols;
    m->dtype = a->bands.dtype;
    m->block_x = m->block_y = 512;
    m->driver = st_strdup(guess_driver(a->href));
    if (!m->driver) {
        return st_nomem("meta");
    }
    for (int b = 0; b < m->bands; b++) {
        m->has_nodata[b] = a->bands.has_nodata[b];
        m->nodata[b] = a->bands.nodata[b];
        if (!(m->band_names[b] = st_strdup("")) || !(m->unit[b] = st_strdup(""))) {
            return st_nomem("meta");
        }
    }
    return crs_from_epsg(m->epsg, it, &m->crs_wkt);
}

static strata_status meta_from_items(const st_stac_items *items, strata_meta **out) {
    *out = NULL;
    if (!meta_known(items)) {
        return STRATA_OK;
    }
    int bands = items->items[0].assets[0].bands.n;
    strata_meta *m = st_meta_alloc(bands);
    strata_status st = m ? fill_meta(&items->items[0], m) : st_nomem("meta");
    if (st != STRATA_OK) {
        strata_meta_free(m);
        return st;
    }
    *out = m;
    return STRATA_OK;
}

/* The collection repeats the first source's nodata for every source; the raster extension
 * may know better for the other assets. */
static void apply_asset_nodata(strata_collection *c, const st_stac_item *first) {
    for (size_t k = 1; k < c->nsrc; k++) {
        const st_stac_bands *b = &first->assets[k].bands;
        if (b->n != c->src_bands) {
            continue;
        }
        for (int i = 0; i < b->n; i++) {
            int band = (int)k * c->src_bands + i;
            c->meta->has_nodata[band] = b->has_nodata[i];
            c->meta->nodata[band] = b->has_nodata[i] ? b->nodata[i] : 0.0;
        }
    }
}

/* ---- the collection ---------------------------------------------------------------------- */

/* The items' grids from their proj: fields, to place them on an output grid unopened. */
static strata_status put_on_grid(const st_stac_items *items, const strata_grid_opts *g,
                                 strata_collection *c) {
    st_file_grid *known = st_calloc(items->n * items->nassets, sizeof *known);
    if (!known) {
        return st_nomem("STAC grids");
    }
    for (size_t i = 0; i < items->n; i++) {
        for (size_t k = 0; k < items->nassets; k++) {
            const st_stac_proj *p = &items->items[i].assets[k].proj;
            st_file_grid *f = &known[i * items->nassets + k];
            f->known = p->has_epsg && p->has_shape && p->has_transform;
            f->epsg = p->epsg;
            memcpy(f->gt, p->gt, sizeof f->gt);
            f->rows = p->rows;
            f->cols = p->cols;
        }
    }
    strata_status st = st_collection_set_grid(c, g, known);
    free(known);
    return st;
}

static strata_status make_collection(const st_stac_items *items, const strata_grid_opts *grid,
                                     strata_collection **out) {
    size_t n = items->n, na = items->nassets;
    const char **paths = st_calloc(n * na, sizeof *paths);
    int64_t *times = st_calloc(n, sizeof *times);
    strata_meta *meta = NULL;
    strata_status st = paths && times ? STRATA_OK : st_nomem("STAC collection");
    bool remote = false;
    for (size_t i = 0; st == STRATA_OK && i < n; i++) {
        times[i] = items->items[i].time;
        for (size_t k = 0; k < na; k++) {
            paths[i * na + k] = items->items[i].assets[k].href;
            remote = remote || st_remote_path(paths[i * na + k]);
        }
    }
    if (remote) {
        st_remote_configure(); /* before the template is opened */
    }
    if (st == STRATA_OK) {
        st = meta_from_items(items, &meta);
    }
    if (st == STRATA_OK) {
        st = st_collection_new(paths, n, na, (const char *const *)items->keys, meta, out);
    }
    if (st == STRATA_OK) {
        (*out)->meta_from_stac = meta != NULL;
        apply_asset_nodata(*out, &items->items[0]);
        st = strata_collection_set_times(*out, times);
    }
    if (st == STRATA_OK && grid) {
        st = put_on_grid(items, grid, *out);
    }
    free(paths);
    free(times);
    return st;
}

static strata_status build(st_stac_items *items, const char *base, const strata_stac_opts *opts,
                           strata_collection **out) {
    size_t parsed = items->n;
    st_stac_select(items, opts);
    if (items->n == 0) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "STAC: no item left after filtering (%zu parsed, "
                       "%zu outside the bbox)",
                       parsed, items->dropped_bbox);
    }
    ST_TRY(st_stac_resolve(items, base, opts->href_rewrite, opts->href_user));
    ST_TRY(check_grids(items, opts->grid != NULL));
    strata_status st = make_collection(items, opts->grid, out);
    if (st != STRATA_OK) {
        strata_collection_free(*out);
        *out = NULL;
    }
    return st;
}

static strata_status check_opts(const strata_stac_opts *o) {
    if (o->nassets && !o->assets) {
        return st_fail(STRATA_ERR_INVALID_ARG, "STAC options: nassets without assets");
    }
    if (o->has_bbox) {
        const double *b = o->bbox;
        for (int i = 0; i < 4; i++) {
            if (!isfinite(b[i])) {
                return st_fail(STRATA_ERR_INVALID_ARG, "STAC options: bbox must be finite");
            }
        }
        /* minx > maxx is a box across the antimeridian; miny > maxy is nothing. */
        if (b[1] > b[3]) {
            return st_fail(STRATA_ERR_INVALID_ARG, "STAC options: bbox miny %g > maxy %g", b[1],
                           b[3]);
        }
    }
    return STRATA_OK;
}

strata_status strata_collection_from_stac(const char *json, const char *base,
                                          const strata_stac_opts *opts, strata_collection **out) {
    st_clear_error();
    if (!json || !out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_from_stac: NULL argument");
    }
    *out = NULL;
    strata_stac_opts full;
    strata_stac_opts_init(&full);
    ST_TRY(st_opts_load(&full, sizeof full, opts, "strata_stac_opts"));
    opts = &full;
    ST_TRY(check_opts(opts));
    st_stac_items items;
    ST_TRY(st_stac_parse(json, strlen(json), opts->assets, opts->nassets, &items));
    strata_status st = build(&items, base, opts, out);
    st_stac_items_free(&items);
    return st;
}

strata_status strata_collection_from_stac_file(const char *source, const strata_stac_opts *opts,
                                               strata_collection **out) {
    st_clear_error();
    if (!source || !source[0] || !out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_from_stac_file: NULL argument");
    }
    *out = NULL;
    char *text;
    size_t len;
    ST_TRY(st_stac_read_source(source, &text, &len));
    /* Relative hrefs of standard input are relative to the working folder. */
    strata_status st =
        strata_collection_from_stac(text, strcmp(source, "-") == 0 ? NULL : source, opts, out);
    free(text);
    if (st != STRATA_OK && strncmp(strata_errmsg(), "STAC", 4) == 0) {
        /* The document's own faults: say which document. */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s: %s", strcmp(source, "-") == 0 ? "(stdin)" : source,
                 strata_errmsg());
        st_set_errmsg(msg);
    }
    return st;
}
