/* Same-day mosaics: timesteps whose times fall on the same (UTC or local solar) day become one
 * timestep whose items are fused pixel by pixel as each chunk is read, so no mosaic is ever
 * written out. */
#include "source/grid.h"

#include <cpl_conv.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const by_names[] = {"none", "day", "solar_day"};
static const char *const op_names[] = {"first", "last", "mean", "max", "min", "median"};

strata_status strata_mosaic_from_name(const char *name, strata_mosaic *out) {
    st_clear_error();
    for (int i = 0; name && i < 3; i++) {
        if (strcmp(name, by_names[i]) == 0) {
            *out = (strata_mosaic)i;
            return STRATA_OK;
        }
    }
    return st_fail(STRATA_ERR_INVALID_ARG, "unknown mosaic '%s' (day, solar_day or none)",
                   name ? name : "(null)");
}

strata_status strata_mosaic_op_from_name(const char *name, strata_mosaic_op *out) {
    st_clear_error();
    for (int i = 0; name && i < 6; i++) {
        if (strcmp(name, op_names[i]) == 0) {
            *out = (strata_mosaic_op)i;
            return STRATA_OK;
        }
    }
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "unknown mosaic operation '%s' (first, last, mean, max, min or median)",
                   name ? name : "(null)");
}

size_t strata_collection_items(const strata_collection *c, size_t t) {
    if (!c || t >= c->n) {
        return 0;
    }
    return c->mosaic ? 1 + c->mosaic->first[t + 1] - c->mosaic->first[t] : 1;
}

void st_mosaic_free(st_mosaic *m) {
    if (m) {
        free(m->first);
        free(m->more);
        free(m);
    }
}

/* ---- grouping ---------------------------------------------------------------------------- */

/* The longitude of the centre of the collection's grid (the output grid, else the
 * template's), as odc-stac's load takes it for every item: the centre of the geobox being
 * loaded, so that one overpass on both sides of a time zone or of lon 180 stays one day, and
 * no item is opened for it. */
static strata_status grid_centre_longitude(const strata_collection *c, double *lon) {
    const strata_meta *m = c->meta;
    ST_TRY(st_meta_crs(m));
    if (!m->crs_wkt || !m->crs_wkt[0]) {
        return st_fail(STRATA_ERR_INVALID_ARG, "%s: has no CRS: its solar day is unknown",
                       c->paths[0]);
    }
    double x = m->gt[0] + m->gt[1] * m->cols / 2.0 + m->gt[2] * m->rows / 2.0;
    double y = m->gt[3] + m->gt[4] * m->cols / 2.0 + m->gt[5] * m->rows / 2.0;
    const char *wkt = m->crs_wkt;
    OGRSpatialReferenceH src = OSRNewSpatialReference(NULL), geo = OSRNewSpatialReference(NULL);
    strata_status st = STRATA_OK;
    st_gdal_quiet_begin();
    if (!src || !geo || OSRImportFromWkt(src, (char **)&wkt) != OGRERR_NONE ||
        OSRImportFromEPSG(geo, 4326) != OGRERR_NONE) {
        st = st_fail(STRATA_ERR_INVALID_ARG,
                     "%s: its CRS is not one GDAL reads: its solar day is unknown", c->paths[0]);
    } else {
        OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
        OSRSetAxisMappingStrategy(geo, OAMS_TRADITIONAL_GIS_ORDER);
        OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src, geo);
        if (!ct || !OCTTransform(ct, 1, &x, &y, NULL) || !isfinite(x)) {
            st = st_fail(STRATA_ERR_INVALID_ARG,
                         "the centre of the grid of %s has no longitude: its solar day is unknown",
                         c->paths[0]);
        }
        *lon = x;
        if (ct) {
            OCTDestroyCoordinateTransformation(ct);
        }
    }
    st_gdal_quiet_end();
    if (src) {
        OSRDestroySpatialReference(src);
    }
    if (geo) {
        OSRDestroySpatialReference(geo);
    }
    return st;
}

/* odc-stac's offset from UTC to solar time: whole hours of lon / 15, truncated toward zero
 * (int() in Python), so 22.5 E is 1 hour ahead and 22.5 W 1 hour behind. */
static int64_t solar_offset_seconds(double lon) {
    return (int64_t)(lon / 15.0) * 3600;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

typedef struct keyed {
    int64_t day;
    size_t t;
} keyed;

static int by_day_then_order(const void *pa, const void *pb) {
    const keyed *a = pa, *b = pb;
    if (a->day != b->day) {
        return a->day < b->day ? -1 : 1;
    }
    return a->t < b->t ? -1 : a->t > b->t;
}

static strata_status day_keys(const strata_collection *c, strata_mosaic by, keyed *k) {
    for (size_t t = 0; t < c->n; t++) {
        if (!c->has_time[t]) {
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "timestep %zu (%s) has no time: a same-day mosaic needs every time", t,
                           c->paths[t * c->nsrc]);
        }
    }
    int64_t offset = 0;
    if (by == STRATA_MOSAIC_SOLAR_DAY) {
        double lon = 0;
        ST_TRY(grid_centre_longitude(c, &lon));
        offset = solar_offset_seconds(lon);
    }
    for (size_t t = 0; t < c->n; t++) {
        k[t] = (keyed){floor_div(c->times[t] + offset, 86400), t};
    }
    qsort(k, c->n, sizeof *k, by_day_then_order);
    return STRATA_OK;
}

/* Rebuilds c's arrays for groups: group g's first item becomes timestep g; the others
 * follow as further items, group by group in item order. */
static strata_status regroup(strata_collection *c, const size_t *group, size_t ng, st_mosaic *m) {
    size_t n = c->n, ns = c->nsrc;
    size_t *count = st_calloc(ng + 1, sizeof *count);
    char **paths = st_calloc(c->nfiles, sizeof *paths);
    char **labels = c->labels ? st_calloc(ng, sizeof *labels) : NULL;
    m->first = st_calloc(ng + 1, sizeof *m->first);
    m->more = st_calloc(n - ng + 1, sizeof *m->more);
    if (!count || !paths || (c->labels && !labels) || !m->first || !m->more) {
        free(count);
        free(paths);
        free(labels);
        return st_nomem("mosaic");
    }
    for (size_t t = 0; t < n; t++) {
        count[group[t] + 1]++;
    }
    for (size_t g = 0; g < ng; g++) {
        m->first[g + 1] = m->first[g] + (count[g + 1] - 1);
    }
    memset(count, 0, (ng + 1) * sizeof *count);
    size_t *filled = count;
    for (size_t t = 0; t < n; t++) {
        size_t g = group[t], dst;
        if (filled[g] == 0) {
            dst = g;
            c->times[g] = c->times[t];
            c->has_time[g] = 1;
            if (labels) {
                labels[g] = c->labels[t];
                c->labels[t] = NULL;
            }
        } else {
            size_t e = m->first[g] + filled[g] - 1;
            dst = ng + e;
            m->more[e] = dst;
        }
        filled[g]++;
        for (size_t k = 0; k < ns; k++) {
            paths[dst * ns + k] = c->paths[t * ns + k];
        }
    }
    for (size_t t = 0; c->labels && t < n; t++) {
        free(c->labels[t]);
    }
    free(c->labels);
    c->labels = labels;
    free(c->paths);
    c->paths = paths;
    free(count);
    c->n = ng;
    for (size_t f = 0; f < c->nfiles; f++) {
        atomic_store(&c->checked[f], 0);
    }
    return STRATA_OK;
}

strata_status strata_collection_mosaic(strata_collection *c, strata_mosaic by,
                                       strata_mosaic_op op) {
    st_clear_error();
    if (!c) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_mosaic: NULL collection");
    }
    if (by == STRATA_MOSAIC_NONE) {
        return STRATA_OK;
    }
    if ((int)by < 0 || (int)by > 2 || (int)op < 0 || (int)op > 5) {
        return st_fail(STRATA_ERR_INVALID_ARG, "unknown mosaic %d or operation %d", (int)by,
                       (int)op);
    }
    if (c->mosaic || c->ncaches) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "a mosaic is made once, before the collection is read");
    }
    keyed *k = st_calloc(c->n, sizeof *k);
    size_t *group = st_calloc(c->n, sizeof *group);
    size_t *lead = st_calloc(c->n, sizeof *lead);
    st_mosaic *m = st_calloc(1, sizeof *m);
    strata_status st = k && group && lead && m ? day_keys(c, by, k) : st_nomem("mosaic");
    if (st == STRATA_OK) {
        /* A group's place is that of its first item: lead[t] marks the groups' first items. */
        for (size_t i = 0; i < c->n; i++) {
            size_t head = (i > 0 && k[i].day == k[i - 1].day) ? lead[k[i - 1].t] : k[i].t;
            lead[k[i].t] = head;
        }
        size_t ng = 0;
        for (size_t t = 0; t < c->n; t++) {
            if (lead[t] == t) {
                group[t] = ng++;
            }
        }
        for (size_t t = 0; t < c->n; t++) {
            group[t] = group[lead[t]];
        }
        m->by = by;
        m->op = op;
        st = regroup(c, group, ng, m);
    }
    free(k);
    free(group);
    free(lead);
    if (st != STRATA_OK) {
        st_mosaic_free(m);
        return st;
    }
    c->mosaic = m;
    if (c->chunks.t > (int)c->n) {
        c->chunks.t = (int)c->n;
    }
    return STRATA_OK;
}

/* ---- fused reads ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double fuse(strata_mosaic_op op, double *v, size_t nv) {
    switch (op) {
    case STRATA_MOSAIC_FIRST:
        return v[0];
    case STRATA_MOSAIC_LAST:
        return v[nv - 1];
    case STRATA_MOSAIC_MEAN: {
        double s = 0;
        for (size_t i = 0; i < nv; i++) {
            s += v[i];
        }
        return s / (double)nv;
    }
    case STRATA_MOSAIC_MAX:
    case STRATA_MOSAIC_MIN: {
        double r = v[0];
        for (size_t i = 1; i < nv; i++) {
            r = (op == STRATA_MOSAIC_MAX) == (v[i] > r) ? v[i] : r;
        }
        return r;
    }
    case STRATA_MOSAIC_MEDIAN:
        qsort(v, nv, sizeof *v, cmp_double);
        return nv % 2 ? v[nv / 2] : (v[nv / 2 - 1] + v[nv / 2]) / 2;
    }
    return v[0];
}

strata_status st_mosaic_read(st_thread_cache *tc, size_t t, int band, const st_rect *r,
                             strata_dtype dtype, void *dst) {
    const strata_collection *c = st_cache_collection(tc);
    const st_mosaic *m = c->mosaic;
    size_t nitems = 1 + m->first[t + 1] - m->first[t];
    if (nitems == 1) {
        return st_read_item(tc, t, band, r, dtype, dst);
    }
    size_t npx = (size_t)r->nrows * r->ncols;
    double *all = st_malloc((nitems * npx + nitems) * sizeof *all);
    if (!all) {
        return st_nomem("mosaic buffer");
    }
    double *v = all + nitems * npx;
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < nitems && st == STRATA_OK; i++) {
        size_t item = i == 0 ? t : m->more[m->first[t] + i - 1];
        st = st_read_item(tc, item, band, r, STRATA_FLOAT64, all + i * npx);
    }
    if (st == STRATA_OK) {
        const strata_meta *meta = c->meta;
        bool has = meta->has_nodata[band];
        double nd = st_meta_nodata_cmp(meta, band), out_nd = meta->nodata[band];
        for (size_t p = 0; p < npx; p++) {
            size_t nv = 0;
            for (size_t i = 0; i < nitems; i++) {
                double x = all[i * npx + p];
                if (!isnan(x) && !(has && x == nd)) {
                    v[nv++] = x;
                }
            }
            /* The fused values overwrite the first item's plane, read no more. */
            all[p] = nv ? fuse(m->op, v, nv) : (has ? out_nd : NAN);
        }
        GDALCopyWords64(all, GDT_Float64, 8, dst, st_dtype_to_gdal(dtype),
                        (int)strata_dtype_size(dtype), (GPtrDiff_t)npx);
    }
    free(all);
    return st;
}

/* ---- JSON form --------------------------------------------------------------------------- */

void *st_mosaic_to_jobj(const strata_collection *c) {
    const st_mosaic *m = c->mosaic;
    json_t *first = json_array(), *items = json_array();
    for (size_t t = 0; t <= c->n; t++) {
        json_array_append_new(first, json_integer((json_int_t)m->first[t]));
    }
    for (size_t e = 0; e < m->first[c->n]; e++) {
        json_t *p = json_array();
        for (size_t k = 0; k < c->nsrc; k++) {
            json_array_append_new(p, json_string(c->paths[m->more[e] * c->nsrc + k]));
        }
        json_array_append_new(items, p);
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "by", by_names[m->by], "op", op_names[m->op], "first",
                     first, "items", items);
}

strata_status st_mosaic_from_jobj(strata_collection *c, const void *jobj) {
    const json_t *o = jobj, *first = json_object_get(o, "first"),
                 *items = json_object_get(o, "items");
    strata_mosaic by;
    strata_mosaic_op op;
    size_t ne = json_array_size(items);
    if (strata_mosaic_from_name(json_string_value(json_object_get(o, "by")), &by) != STRATA_OK ||
        strata_mosaic_op_from_name(json_string_value(json_object_get(o, "op")), &op) != STRATA_OK ||
        json_array_size(first) != c->n + 1 || !json_is_array(items)) {
        return st_fail(STRATA_ERR_PARSE, "collection JSON: \"mosaic\" needs \"by\", \"op\", "
                                         "\"first\" (timesteps + 1 offsets) and \"items\"");
    }
    st_mosaic *m = st_calloc(1, sizeof *m);
    size_t nfiles = (c->n + ne) * c->nsrc;
    char **paths = st_realloc(c->paths, nfiles * sizeof *paths);
    if (paths) {
        c->paths = paths;
        memset(paths + c->nfiles, 0, (nfiles - c->nfiles) * sizeof *paths);
    }
    atomic_uchar *checked = st_calloc(nfiles, sizeof *checked);
    if (!m || !paths || !checked || !(m->first = st_calloc(c->n + 1, sizeof *m->first)) ||
        !(m->more = st_calloc(ne + 1, sizeof *m->more))) {
        st_mosaic_free(m);
        free((void *)checked);
        return st_nomem("mosaic");
    }
    free((void *)c->checked);
    c->checked = checked;
    c->nfiles = nfiles;
    m->by = by;
    m->op = op;
    c->mosaic = m;
    for (size_t t = 0; t <= c->n; t++) {
        const json_t *j = json_array_get(first, t);
        json_int_t v = json_integer_value(j);
        if (!json_is_integer(j) || v < 0 || (size_t)v > ne ||
            (t > 0 && (size_t)v < m->first[t - 1]) || (t == 0 && v != 0) ||
            (t == c->n && (size_t)v != ne)) {
            return st_fail(STRATA_ERR_PARSE, "collection JSON: mosaic offsets are not ordered");
        }
        m->first[t] = (size_t)v;
    }
    for (size_t e = 0; e < ne; e++) {
        const json_t *p = json_array_get(items, e);
        m->more[e] = c->n + e;
        for (size_t k = 0; k < c->nsrc; k++) {
            const char *s = json_string_value(json_array_get(p, k));
            if (json_array_size(p) != c->nsrc || !s || !s[0]) {
                return st_fail(STRATA_ERR_PARSE, "collection JSON: mosaic item %zu needs %zu paths",
                               e, c->nsrc);
            }
            if (!(c->paths[(c->n + e) * c->nsrc + k] = st_strdup(s))) {
                return st_nomem("mosaic");
            }
        }
    }
    return STRATA_OK;
}
