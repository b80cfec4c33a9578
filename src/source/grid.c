/* Output grids. A collection whose sources lie on other grids (other CRSs, resolutions or
 * shifts) is read on one output grid: each such source is opened through a GDAL warped VRT
 * on that grid, held in the thread's handle cache like any dataset, so a window read warps
 * only the source window it needs. The warp is set up as gdalwarp sets it up by default
 * (approximate transformer within 0.125 pixel, source nodata honoured, destination starting
 * as nodata, the overview level gdalwarp's -ovr AUTO picks), so that a read equals gdalwarp
 * of the file to the same grid. */
#include "source/grid.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal_alg.h>
#include <gdalwarper.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const resampling_names[] = {"nearest", "bilinear", "cubic", "cubicspline",
                                               "lanczos", "average",  "mode",  "min",
                                               "max",     "med",      "q1",    "q3"};
static const GDALResampleAlg resampling_algs[] = {GRA_NearestNeighbour,
                                                  GRA_Bilinear,
                                                  GRA_Cubic,
                                                  GRA_CubicSpline,
                                                  GRA_Lanczos,
                                                  GRA_Average,
                                                  GRA_Mode,
                                                  GRA_Min,
                                                  GRA_Max,
                                                  GRA_Med,
                                                  GRA_Q1,
                                                  GRA_Q3};
enum { NRESAMPLING = sizeof resampling_names / sizeof resampling_names[0] };

strata_status strata_resampling_from_name(const char *name, strata_resampling *out) {
    st_clear_error();
    for (int i = 0; name && i < NRESAMPLING; i++) {
        if (strcmp(name, resampling_names[i]) == 0) {
            *out = (strata_resampling)i;
            return STRATA_OK;
        }
    }
    if (name && strcmp(name, "near") == 0) {
        *out = STRATA_RESAMPLE_NEAREST;
        return STRATA_OK;
    }
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "unknown resampling '%s' (nearest, bilinear, cubic, cubicspline, lanczos, "
                   "average, mode, min, max, med, q1, q3)",
                   name ? name : "(null)");
}

const char *strata_resampling_name(strata_resampling r) {
    return (int)r >= 0 && (int)r < NRESAMPLING ? resampling_names[r] : "unknown";
}

void strata_grid_opts_init(strata_grid_opts *g) {
    if (g) {
        memset(g, 0, sizeof *g);
        g->max_error = 0.125;
    }
}

size_t strata_collection_warped(const strata_collection *c) {
    return c && c->grid ? c->grid->nwarped : 0;
}

int strata_collection_resampling(const strata_collection *c) {
    return c && c->grid ? (int)c->grid->resampling : -1;
}

/* ---- CRS helpers ------------------------------------------------------------------------- */

static OGRSpatialReferenceH srs_from_wkt(const char *wkt) {
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    if (srs && OSRImportFromWkt(srs, (char **)&wkt) != OGRERR_NONE) {
        OSRDestroySpatialReference(srs);
        return NULL;
    }
    if (srs) {
        OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    }
    return srs;
}

static OGRSpatialReferenceH srs_from_user(const char *text) {
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    st_gdal_quiet_begin();
    bool ok = srs && OSRSetFromUserInput(srs, text) == OGRERR_NONE;
    st_gdal_quiet_end();
    if (!ok) {
        if (srs) {
            OSRDestroySpatialReference(srs);
        }
        return NULL;
    }
    OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    return srs;
}

static char *srs_wkt(OGRSpatialReferenceH srs, int *epsg) {
    char *wkt = NULL;
    const char *opts[] = {"FORMAT=WKT2_2019", "MULTILINE=NO", NULL};
    if (OSRExportToWktEx(srs, &wkt, opts) != OGRERR_NONE) {
        CPLFree(wkt);
        return NULL;
    }
    char *copy = st_strdup(wkt);
    CPLFree(wkt);
    const char *auth = OSRGetAuthorityName(srs, NULL), *code = OSRGetAuthorityCode(srs, NULL);
    *epsg = auth && code && strcmp(auth, "EPSG") == 0 ? atoi(code) : 0;
    return copy;
}

/* ---- footprints -------------------------------------------------------------------------- */

typedef struct box {
    double x0, y0, x1, y1;
    bool empty;
} box;

static void box_add(box *b, double x, double y) {
    if (!isfinite(x) || !isfinite(y)) {
        return;
    }
    if (b->empty) {
        *b = (box){x, y, x, y, false};
        return;
    }
    b->x0 = x < b->x0 ? x : b->x0;
    b->x1 = x > b->x1 ? x : b->x1;
    b->y0 = y < b->y0 ? y : b->y0;
    b->y1 = y > b->y1 ? y : b->y1;
}

static bool box_overlap(const box *a, const box *b) {
    return !a->empty && !b->empty && a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 &&
           b->y0 < a->y1;
}

enum { EDGE_POINTS = 21 };

/* The box, in dst's coordinates, of the rectangle [x0, x1] x [y0, y1] of src (or of a
 * raster's pixel rectangle when gt is given), its edges densified: a reprojected edge bends. */
static box transform_box(OGRSpatialReferenceH src, OGRSpatialReferenceH dst, const double *gt,
                         double x0, double y0, double x1, double y1) {
    box b = {0, 0, 0, 0, true};
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src, dst);
    if (!ct) {
        return b;
    }
    double xs[4 * EDGE_POINTS], ys[4 * EDGE_POINTS];
    int n = 0;
    for (int e = 0; e < 4; e++) {
        for (int i = 0; i < EDGE_POINTS; i++) {
            double f = (double)i / (EDGE_POINTS - 1);
            double u = e == 0 ? f : e == 1 ? 1 : e == 2 ? 1 - f : 0;
            double v = e == 0 ? 0 : e == 1 ? f : e == 2 ? 1 : 1 - f;
            double px = x0 + u * (x1 - x0), py = y0 + v * (y1 - y0);
            xs[n] = gt ? gt[0] + px * gt[1] + py * gt[2] : px;
            ys[n] = gt ? gt[3] + px * gt[4] + py * gt[5] : py;
            n++;
        }
    }
    int ok[4 * EDGE_POINTS];
    st_gdal_quiet_begin();
    OCTTransformEx(ct, n, xs, ys, NULL, ok);
    st_gdal_quiet_end();
    for (int i = 0; i < n; i++) {
        if (ok[i]) {
            box_add(&b, xs[i], ys[i]);
        }
    }
    OCTDestroyCoordinateTransformation(ct);
    return b;
}

static OGRSpatialReferenceH srs_from_epsg(int epsg) {
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    if (srs && OSRImportFromEPSG(srs, epsg) != OGRERR_NONE) {
        OSRDestroySpatialReference(srs);
        return NULL;
    }
    if (srs) {
        OSRSetAxisMappingStrategy(srs, OAMS_TRADITIONAL_GIS_ORDER);
    }
    return srs;
}

/* The footprint of a file whose grid the STAC item gave. */
static strata_status known_footprint(const strata_collection *c, size_t f, const st_file_grid *k,
                                     OGRSpatialReferenceH dst, box *b) {
    st_gdal_quiet_begin();
    OGRSpatialReferenceH src = srs_from_epsg(k->epsg);
    st_gdal_quiet_end();
    if (!src) {
        return st_fail(STRATA_ERR_INVALID_ARG, "%s: proj:epsg %d is not a CRS GDAL knows",
                       c->paths[f], k->epsg);
    }
    *b = transform_box(src, dst, k->gt, 0, 0, k->cols, k->rows);
    OSRDestroySpatialReference(src);
    return b->empty
               ? st_fail(STRATA_ERR_MISALIGNED,
                         "%s: its footprint cannot be transformed to the output CRS", c->paths[f])
               : STRATA_OK;
}

/* A file's grid as its header says, kept from the footprint pass so that counting the files
 * off the output grid does not open them again. */
typedef struct seen_grid {
    double gt[6];
    int rows, cols;
    OGRSpatialReferenceH srs; /* NULL when not opened */
} seen_grid;

static void seen_free(seen_grid *seen, size_t n) {
    for (size_t f = 0; seen && f < n; f++) {
        if (seen[f].srs) {
            OSRDestroySpatialReference(seen[f].srs);
        }
    }
    free(seen);
}

/* The footprint of every file in the grid's CRS: from the STAC item's grid when known, else
 * from the file's header (each such file opened once). */
static strata_status footprints(const strata_collection *c, OGRSpatialReferenceH dst, box *each,
                                box *all, const st_file_grid *known, seen_grid *seen) {
    all->empty = true;
    for (size_t f = 0; f < c->nfiles; f++) {
        if (known && known[f].known) {
            ST_TRY(known_footprint(c, f, &known[f], dst, &each[f]));
            box_add(all, each[f].x0, each[f].y0);
            box_add(all, each[f].x1, each[f].y1);
            continue;
        }
        st_gdal_quiet_begin();
        GDALDatasetH ds = st_open_raster(c->paths[f], c->meta->driver, c->sidecars);
        st_gdal_quiet_end();
        if (!ds) {
            return STRATA_ERR_IO;
        }
        OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
        double gt[6];
        bool has_gt = GDALGetGeoTransform(ds, gt) == CE_None;
        strata_status st = STRATA_OK;
        if (!srs || !has_gt) {
            st = st_fail(STRATA_ERR_MISALIGNED,
                         "%s: has no %s: it cannot be placed on the output grid", c->paths[f],
                         srs ? "geotransform" : "CRS");
        } else {
            OGRSpatialReferenceH s = OSRClone(srs);
            OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
            each[f] =
                transform_box(s, dst, gt, 0, 0, GDALGetRasterXSize(ds), GDALGetRasterYSize(ds));
            memcpy(seen[f].gt, gt, sizeof gt);
            seen[f].rows = GDALGetRasterYSize(ds);
            seen[f].cols = GDALGetRasterXSize(ds);
            seen[f].srs = s;
            if (each[f].empty) {
                st = st_fail(STRATA_ERR_MISALIGNED,
                             "%s: its footprint cannot be transformed to the output CRS",
                             c->paths[f]);
            } else {
                box_add(all, each[f].x0, each[f].y0);
                box_add(all, each[f].x1, each[f].y1);
            }
        }
        GDALClose(ds);
        ST_TRY(st);
    }
    return STRATA_OK;
}

/* Whole multiples of the resolution around the box, as odc-stac's GeoBox.from_bbox snaps:
 * a bound already on the lattice (up to rounding) stays. */
static strata_status snap(const box *b, double rx, double ry, double gt[6], int *rows, int *cols) {
    double eps = 1e-6;
    double x0 = floor(b->x0 / rx + eps) * rx, x1 = ceil(b->x1 / rx - eps) * rx;
    double y0 = floor(b->y0 / ry + eps) * ry, y1 = ceil(b->y1 / ry - eps) * ry;
    double nc = round((x1 - x0) / rx), nr = round((y1 - y0) / ry);
    if (nc < 1 || nr < 1) {
        return st_fail(STRATA_ERR_INVALID_ARG, "the output grid's bounds are empty");
    }
    if (nc > STRATA_GRID_MAX_SIDE || nr > STRATA_GRID_MAX_SIDE) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "the output grid would be %.0f x %.0f pixels (rows x columns), more than "
                       "the cap of %d a side: a coarser resolution or smaller bounds are needed",
                       nr, nc, STRATA_GRID_MAX_SIDE);
    }
    gt[0] = x0;
    gt[1] = rx;
    gt[2] = 0;
    gt[3] = y1;
    gt[4] = 0;
    gt[5] = -ry;
    *rows = (int)nr;
    *cols = (int)nc;
    return STRATA_OK;
}

/* ---- the grid of the collection ---------------------------------------------------------- */

typedef struct grid_def {
    OGRSpatialReferenceH srs;
    double gt[6];
    int rows, cols;
    bool fixed; /* like: gt and size given */
} grid_def;

static strata_status grid_from_like(const char *path, grid_def *d) {
    st_gdal_quiet_begin();
    GDALDatasetH ds = st_open_raster(path, NULL, true);
    st_gdal_quiet_end();
    if (!ds) {
        return STRATA_ERR_IO;
    }
    OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
    strata_status st = STRATA_OK;
    if (!srs || GDALGetGeoTransform(ds, d->gt) != CE_None) {
        st = st_fail(STRATA_ERR_INVALID_ARG, "%s: has no %s: it cannot give the output grid", path,
                     srs ? "geotransform" : "CRS");
    } else {
        d->srs = OSRClone(srs);
        OSRSetAxisMappingStrategy(d->srs, OAMS_TRADITIONAL_GIS_ORDER);
        d->rows = GDALGetRasterYSize(ds);
        d->cols = GDALGetRasterXSize(ds);
        d->fixed = true;
    }
    GDALClose(ds);
    return st;
}

static strata_status check_opts(const strata_grid_opts *g) {
    if (g->like && (g->crs || g->res_x != 0 || g->res_y != 0 || g->has_bounds)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "an output grid is either like a file or given by CRS, resolution and "
                       "bounds, not both");
    }
    if (!g->like && !(g->res_x > 0 && isfinite(g->res_x) && g->res_y >= 0 && isfinite(g->res_y))) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "the output grid's resolution must be above zero (got %g, %g)", g->res_x,
                       g->res_y);
    }
    if (g->has_bounds && !(g->bounds[0] < g->bounds[2] && g->bounds[1] < g->bounds[3])) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "bounds %g,%g,%g,%g: need xmin < xmax and ymin < ymax", g->bounds[0],
                       g->bounds[1], g->bounds[2], g->bounds[3]);
    }
    if (!(g->max_error >= 0 && g->max_error <= 10)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "the warp's error threshold must be 0 to 10 pixels (got %g)", g->max_error);
    }
    if ((int)g->resampling < 0 || (int)g->resampling >= NRESAMPLING) {
        return st_fail(STRATA_ERR_INVALID_ARG, "unknown resampling %d", (int)g->resampling);
    }
    return STRATA_OK;
}

static strata_status grid_crs(const strata_collection *c, const strata_grid_opts *g, grid_def *d) {
    if (g->crs) {
        d->srs = srs_from_user(g->crs);
        return d->srs ? STRATA_OK : st_fail(STRATA_ERR_INVALID_ARG, "unknown CRS '%.200s'", g->crs);
    }
    ST_TRY(st_meta_crs(c->meta));
    d->srs = c->meta->crs_wkt[0] ? srs_from_wkt(c->meta->crs_wkt) : NULL;
    return d->srs ? STRATA_OK
                  : st_fail(STRATA_ERR_INVALID_ARG,
                            "%s: has no CRS, and the output grid names none", c->paths[0]);
}

/* The bounds asked for, in the grid's CRS. */
static strata_status asked_bounds(const strata_grid_opts *g, OGRSpatialReferenceH dst, box *b) {
    const double *q = g->bounds;
    if (!g->bounds_crs) {
        *b = (box){q[0], q[1], q[2], q[3], false};
        return STRATA_OK;
    }
    OGRSpatialReferenceH src = srs_from_user(g->bounds_crs);
    if (!src) {
        return st_fail(STRATA_ERR_INVALID_ARG, "unknown CRS of the bounds '%.200s'", g->bounds_crs);
    }
    *b = transform_box(src, dst, NULL, q[0], q[1], q[2], q[3]);
    OSRDestroySpatialReference(src);
    return b->empty ? st_fail(STRATA_ERR_INVALID_ARG,
                              "bounds %g,%g,%g,%g cannot be transformed from %s to the grid's CRS",
                              q[0], q[1], q[2], q[3], g->bounds_crs)
                    : STRATA_OK;
}

/* Places the grid in the meta: the template's bands, the grid's georeferencing. Bands
 * without nodata get one, so that pixels outside a footprint are missing. */
static strata_status meta_on_grid(strata_meta *m, const grid_def *d) {
    int epsg = 0;
    char *wkt = srs_wkt(d->srs, &epsg);
    if (!wkt) {
        return st_fail(STRATA_ERR_INVALID_ARG, "the output CRS cannot be written as WKT");
    }
    free(m->crs_wkt);
    free(m->crs_from);
    st_geotags_free(m->geotags);
    m->crs_wkt = wkt;
    m->crs_from = NULL;
    m->geotags = NULL;
    m->epsg = epsg;
    memcpy(m->gt, d->gt, sizeof m->gt);
    m->rows = d->rows;
    m->cols = d->cols;
    /* The warped VRT's blocks: reads of whole blocks warp each once. */
    m->block_x = d->cols < 512 ? d->cols : 512;
    m->block_y = d->rows < 128 ? d->rows : 128;
    for (int b = 0; b < m->bands; b++) {
        if (!m->has_nodata[b]) {
            m->has_nodata[b] = 1;
            m->nodata[b] = st_dtype_is_float(m->dtype) ? NAN : st_dtype_sentinel(m->dtype);
        }
    }
    return STRATA_OK;
}

/* Files whose grid is not the output grid. */
static size_t count_warped(const strata_collection *c, const grid_def *d, const st_file_grid *known,
                           const seen_grid *seen) {
    size_t n = 0;
    const char *opts[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", NULL};
    for (size_t f = 0; f < c->nfiles; f++) {
        if (known && known[f].known) {
            OGRSpatialReferenceH s = srs_from_epsg(known[f].epsg);
            n += !(s && st_same_grid(known[f].gt, d->gt) && known[f].cols == d->cols &&
                   known[f].rows == d->rows && OSRIsSameEx(s, d->srs, opts));
            if (s) {
                OSRDestroySpatialReference(s);
            }
            continue;
        }
        const seen_grid *s = &seen[f];
        n += !(s->srs && st_same_grid(s->gt, d->gt) && s->cols == d->cols && s->rows == d->rows &&
               OSRIsSameEx(s->srs, d->srs, opts));
    }
    return n;
}

static strata_status set_grid(strata_collection *c, const strata_grid_opts *g, grid_def *d,
                              const st_file_grid *known) {
    ST_TRY(check_opts(g));
    if (g->like) {
        ST_TRY(grid_from_like(g->like, d));
    } else {
        ST_TRY(grid_crs(c, g, d));
    }
    box *each = st_calloc(c->nfiles, sizeof *each);
    seen_grid *seen = st_calloc(c->nfiles, sizeof *seen);
    if (!each || !seen) {
        free(each);
        free(seen);
        return st_nomem("footprints");
    }
    box all;
    strata_status st = footprints(c, d->srs, each, &all, known, seen);
    box want = all;
    if (st == STRATA_OK && g->has_bounds) {
        st = asked_bounds(g, d->srs, &want);
    }
    if (st == STRATA_OK && !d->fixed) {
        bool any = false;
        for (size_t f = 0; f < c->nfiles && !any; f++) {
            any = box_overlap(&each[f], &want);
        }
        if (!any) {
            st = st_fail(STRATA_ERR_INVALID_ARG,
                         "the bounds %.6g,%.6g,%.6g,%.6g (in the grid's CRS) cover no source: "
                         "the sources span %.6g,%.6g,%.6g,%.6g",
                         want.x0, want.y0, want.x1, want.y1, all.x0, all.y0, all.x1, all.y1);
        }
    }
    if (st == STRATA_OK && !d->fixed) {
        st = snap(&want, g->res_x, g->res_y > 0 ? g->res_y : g->res_x, d->gt, &d->rows, &d->cols);
    }
    size_t nwarped = st == STRATA_OK ? count_warped(c, d, known, seen) : 0;
    free(each);
    seen_free(seen, c->nfiles);
    ST_TRY(st);
    st_grid *grid = st_calloc(1, sizeof *grid);
    if (!grid) {
        return st_nomem("grid");
    }
    grid->resampling = g->resampling;
    grid->max_error = g->max_error;
    grid->nwarped = nwarped;
    st = meta_on_grid(c->meta, d);
    if (st != STRATA_OK) {
        free(grid);
        return st;
    }
    free(c->grid);
    c->grid = grid;
    for (size_t f = 0; f < c->nfiles; f++) {
        atomic_store(&c->checked[f], 0);
    }
    /* Tiles of several VRT blocks: fewer work items, each reading one window per file. */
    c->chunks.y = 0;
    st_block_tile(c->meta, 512 * 512, &c->chunks.y, &c->chunks.x);
    return STRATA_OK;
}

strata_status strata_collection_set_grid(strata_collection *c, const strata_grid_opts *g) {
    st_clear_error();
    return st_collection_set_grid(c, g, NULL);
}

strata_status st_collection_set_grid(strata_collection *c, const strata_grid_opts *g,
                                     const st_file_grid *known) {
    if (!c || !g) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_set_grid: NULL argument");
    }
    if (c->ncaches || c->grid) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "the output grid is set once, before the collection is read");
    }
    grid_def d = {0};
    strata_status st = set_grid(c, g, &d, known);
    if (d.srs) {
        OSRDestroySpatialReference(d.srs);
    }
    return st;
}

/* ---- opening a file on the output grid --------------------------------------------------- */

/* The overview level gdalwarp's -ovr AUTO takes for this warp: the last one at least as
 * fine as the output resolution; -1 for the full resolution. */
static int auto_overview(GDALDatasetH ds, void *transformer) {
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    int nov = GDALGetOverviewCount(b);
    if (nov == 0) {
        return -1;
    }
    double sgt[6], ext[4];
    int np, nl;
    if (GDALSuggestedWarpOutput2(ds, GDALGenImgProjTransform, transformer, sgt, &np, &nl, ext, 0) !=
        CE_None) {
        return -1;
    }
    double target = 1.0 / sgt[1];
    if (!(target > 1.0)) {
        return -1;
    }
    int xs = GDALGetRasterXSize(ds), i;
    for (i = -1; i < nov - 1; i++) {
        double ratio = i < 0 ? 1.0 : (double)xs / GDALGetRasterBandXSize(GDALGetOverview(b, i));
        double next = (double)xs / GDALGetRasterBandXSize(GDALGetOverview(b, i + 1));
        if ((ratio < target && next > target) || fabs(ratio - target) < 1e-1) {
            break;
        }
    }
    return i;
}

static void *make_transformer(GDALDatasetH ds, const strata_meta *m) {
    char **opts = CSLSetNameValue(NULL, "DST_SRS", m->crs_wkt);
    void *t = GDALCreateGenImgProjTransformer2(ds, NULL, opts);
    CSLDestroy(opts);
    if (t) {
        GDALSetGenImgProjTransformerDstGeoTransform(t, m->gt);
    }
    return t;
}

static GDALDatasetH open_overview(const char *path, const char *driver, int level) {
    char lv[32];
    snprintf(lv, sizeof lv, "OVERVIEW_LEVEL=%d", level);
    const char *oo[] = {lv, NULL};
    const char *only[] = {driver, NULL};
    unsigned flags = GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR;
    GDALDatasetH ds = GDALOpenEx(path, flags, driver && driver[0] ? only : NULL, oo, NULL);
    return ds;
}

/* A warped VRT of src (which it then owns) on the output grid, for source k's bands. */
static strata_status warped_vrt(const strata_collection *c, size_t f, GDALDatasetH src,
                                void *transformer, GDALDatasetH *out, GDALDatasetH *warp_src) {
    const strata_meta *m = c->meta;
    int nb = c->src_bands, band0 = (int)(f % c->nsrc) * nb;
    GDALWarpOptions *wo = GDALCreateWarpOptions();
    wo->hSrcDS = src;
    wo->nBandCount = nb;
    wo->panSrcBands = CPLMalloc(sizeof(int) * (size_t)nb);
    wo->panDstBands = CPLMalloc(sizeof(int) * (size_t)nb);
    wo->eResampleAlg = resampling_algs[c->grid->resampling];
    bool any_nodata = false;
    for (int b = 0; b < nb; b++) {
        int has = 0;
        GDALGetRasterNoDataValue(GDALGetRasterBand(src, b + 1), &has);
        any_nodata = any_nodata || has;
    }
    if (any_nodata) {
        wo->padfSrcNoDataReal = CPLMalloc(sizeof(double) * (size_t)nb);
    }
    wo->padfDstNoDataReal = CPLMalloc(sizeof(double) * (size_t)nb);
    for (int b = 0; b < nb; b++) {
        wo->panSrcBands[b] = b + 1;
        wo->panDstBands[b] = b + 1;
        int has = 0;
        double nd = GDALGetRasterNoDataValue(GDALGetRasterBand(src, b + 1), &has);
        if (any_nodata) {
            /* gdalwarp's stand-in for a band without nodata among bands with one. */
            wo->padfSrcNoDataReal[b] = has ? nd : -123456.789;
        }
        wo->padfDstNoDataReal[b] = m->nodata[band0 + b];
    }
    wo->papszWarpOptions = CSLSetNameValue(wo->papszWarpOptions, "INIT_DEST", "NO_DATA");
    wo->papszWarpOptions =
        CSLSetNameValue(wo->papszWarpOptions, "ERROR_OUT_IF_EMPTY_SOURCE_WINDOW", "FALSE");
    /* gdalwarp -et 0 uses the exact transformer itself, as here. */
    void *approx = NULL;
    if (c->grid->max_error > 0) {
        approx =
            GDALCreateApproxTransformer(GDALGenImgProjTransform, transformer, c->grid->max_error);
        GDALApproxTransformerOwnsSubtransformer(approx, TRUE);
    }
    wo->pfnTransformer = approx ? GDALApproxTransform : GDALGenImgProjTransform;
    wo->pTransformerArg = approx ? approx : transformer;
    double gt[6];
    memcpy(gt, m->gt, sizeof gt);
    GDALDatasetH vrt = GDALCreateWarpedVRT(src, m->cols, m->rows, gt, wo);
    GDALDestroyWarpOptions(wo);
    if (!vrt) {
        if (approx) {
            GDALDestroyApproxTransformer(approx);
        } else {
            GDALDestroyGenImgProjTransformer(transformer);
        }
        GDALClose(src);
        return st_fail_gdal(STRATA_ERR_IO, "%s: cannot be warped to the output grid", c->paths[f]);
    }
    /* The VRT holds its own reference to src: drop ours so that closing the VRT closes it. */
    GDALDereferenceDataset(src);
    *out = vrt;
    *warp_src = src;
    return STRATA_OK;
}

static bool same_nodata_as_meta(const strata_collection *c, size_t f, GDALDatasetH ds) {
    const strata_meta *m = c->meta;
    int band0 = (int)(f % c->nsrc) * c->src_bands;
    for (int b = 0; b < c->src_bands; b++) {
        int has = 0;
        double nd = GDALGetRasterNoDataValue(GDALGetRasterBand(ds, b + 1), &has);
        double want = m->nodata[band0 + b];
        /* Without nodata no pixel of a file on the grid itself is missing. */
        if (has && !(nd == want || (isnan(nd) && isnan(want)))) {
            return false;
        }
    }
    return true;
}

static strata_status check_bands(const strata_collection *c, size_t f, GDALDatasetH ds) {
    int bands = GDALGetRasterCount(ds);
    if (bands != c->src_bands) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: has %d bands, %s has %d", c->paths[f], bands,
                       c->paths[0], c->src_bands);
    }
    strata_dtype dt = st_dtype_from_gdal(GDALGetRasterDataType(GDALGetRasterBand(ds, 1)));
    if (dt != c->meta->dtype) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: data type %s, %s has %s", c->paths[f],
                       strata_dtype_name(dt), c->paths[0], strata_dtype_name(c->meta->dtype));
    }
    return STRATA_OK;
}

/* Takes ownership of ds (closed on failure). */
static strata_status open_on_grid(const strata_collection *c, size_t f, GDALDatasetH ds,
                                  GDALDatasetH *out, GDALDatasetH *warp_src) {
    const strata_meta *m = c->meta;
    strata_status st = check_bands(c, f, ds);
    OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
    double gt[6];
    if (st == STRATA_OK && (!srs || GDALGetGeoTransform(ds, gt) != CE_None)) {
        st = st_fail(STRATA_ERR_MISALIGNED, "%s: has no %s: it cannot be placed on the output grid",
                     c->paths[f], srs ? "geotransform" : "CRS");
    }
    if (st != STRATA_OK) {
        GDALClose(ds);
        return st;
    }
    OGRSpatialReferenceH grid_srs = srs_from_wkt(m->crs_wkt);
    const char *opts[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES", NULL};
    bool same = grid_srs && st_same_grid(gt, m->gt) && GDALGetRasterXSize(ds) == m->cols &&
                GDALGetRasterYSize(ds) == m->rows && OSRIsSameEx(srs, grid_srs, opts) &&
                same_nodata_as_meta(c, f, ds);
    if (grid_srs) {
        OSRDestroySpatialReference(grid_srs);
    }
    if (same) {
        *out = ds;
        return STRATA_OK;
    }
    void *tr = make_transformer(ds, m);
    if (!tr) {
        GDALClose(ds);
        return st_fail_gdal(STRATA_ERR_MISALIGNED,
                            "%s: no transformation from its CRS to the output grid's", c->paths[f]);
    }
    int level = auto_overview(ds, tr);
    if (level >= 0) {
        GDALDatasetH ovr = open_overview(c->paths[f], m->driver, level);
        void *otr = ovr ? make_transformer(ovr, m) : NULL;
        if (otr) {
            GDALDestroyGenImgProjTransformer(tr);
            GDALClose(ds);
            ds = ovr;
            tr = otr;
        } else if (ovr) {
            GDALClose(ovr);
        }
    }
    return warped_vrt(c, f, ds, tr, out, warp_src);
}

strata_status st_grid_open(const strata_collection *c, size_t f, GDALDatasetH *out,
                           GDALDatasetH *warp_src) {
    *warp_src = NULL;
    st_gdal_quiet_begin();
    GDALDatasetH ds = st_open_raster(c->paths[f], c->meta->driver, c->sidecars);
    strata_status st = ds ? STRATA_OK : STRATA_ERR_IO;
    GDALDatasetH res = NULL;
    if (ds) {
        st = open_on_grid(c, f, ds, &res, warp_src);
    }
    st_gdal_quiet_end();
    if (st != STRATA_OK) {
        return st;
    }
    *out = res;
    return STRATA_OK;
}

/* ---- JSON form --------------------------------------------------------------------------- */

void *st_grid_to_jobj(const st_grid *g) {
    return json_pack("{s:s, s:f, s:I}", "resampling", strata_resampling_name(g->resampling),
                     "max_error", g->max_error, "warped", (json_int_t)g->nwarped);
}

strata_status st_grid_from_jobj(const void *jobj, st_grid **out) {
    const json_t *o = jobj;
    const char *name = json_string_value(json_object_get(o, "resampling"));
    const json_t *w = json_object_get(o, "warped"), *e = json_object_get(o, "max_error");
    strata_resampling r;
    if (!name || strata_resampling_from_name(name, &r) != STRATA_OK || !json_is_integer(w) ||
        json_integer_value(w) < 0 || !json_is_number(e) || !(json_number_value(e) >= 0)) {
        return st_fail(STRATA_ERR_PARSE,
                       "collection JSON: \"grid\" needs a known \"resampling\", \"max_error\" "
                       "and \"warped\"");
    }
    st_grid *g = st_calloc(1, sizeof *g);
    if (!g) {
        return st_nomem("grid");
    }
    g->resampling = r;
    g->max_error = json_number_value(e);
    g->nwarped = (size_t)json_integer_value(w);
    *out = g;
    return STRATA_OK;
}
