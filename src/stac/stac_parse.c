/* STAC JSON to items: the document forms, the fields strata needs, filters and ordering.
 * This is outside input, fuzzed (tests/fuzz/fuzz_stac.c): every field is type-checked and
 * every message is bounded. No GDAL here. */
#include "stac/stac.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Outside text lands in messages: cut it so one bad field cannot fill the message. */
#define ID_FMT "'%.120s'"

static strata_status item_fail(strata_status st, const st_stac_item *it, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static strata_status item_fail(strata_status st, const st_stac_item *it, const char *fmt, ...) {
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return st_fail(st, "STAC item " ID_FMT ": %s", it->id, what);
}

/* ---- freeing ----------------------------------------------------------------------------- */

static void bands_free(st_stac_bands *b) {
    free(b->has_nodata);
    free(b->nodata);
    memset(b, 0, sizeof *b);
}

static void item_free(st_stac_item *it, size_t nassets) {
    for (size_t k = 0; it->assets && k < nassets; k++) {
        free(it->assets[k].href);
        bands_free(&it->assets[k].bands);
    }
    free(it->assets);
    free(it->id);
    free(it->self);
}

void st_stac_items_free(st_stac_items *items) {
    if (!items) {
        return;
    }
    for (size_t i = 0; i < items->n; i++) {
        item_free(&items->items[i], items->nassets);
    }
    for (size_t k = 0; items->keys && k < items->nassets; k++) {
        free(items->keys[k]);
    }
    free(items->keys);
    free(items->items);
    memset(items, 0, sizeof *items);
}

/* ---- projection extension ---------------------------------------------------------------- */

static strata_status parse_epsg(const json_t *o, const st_stac_item *it, st_stac_proj *p) {
    const json_t *epsg = json_object_get(o, "proj:epsg"), *code = json_object_get(o, "proj:code");
    if (epsg && !json_is_null(epsg)) {
        json_int_t v = json_integer_value(epsg);
        if (!json_is_integer(epsg) || v < 1 || v > INT32_MAX) {
            return item_fail(STRATA_ERR_PARSE, it, "proj:epsg must be a positive integer");
        }
        p->has_epsg = true;
        p->epsg = (int)v;
    } else if (epsg) {
        p->has_epsg = false;
    }
    if (code && !json_is_null(code)) {
        const char *s = json_string_value(code);
        if (!s) {
            return item_fail(STRATA_ERR_PARSE, it, "proj:code must be a string");
        }
        char *end = NULL;
        long v = strncmp(s, "EPSG:", 5) == 0 ? strtol(s + 5, &end, 10) : 0;
        /* Other authorities (IAU, ...) need the files' own CRS: the template is opened. */
        p->has_epsg = end && end != s + 5 && *end == '\0' && v > 0 && v <= INT32_MAX;
        p->epsg = p->has_epsg ? (int)v : 0;
    }
    return STRATA_OK;
}

static strata_status parse_transform(const json_t *t, const st_stac_item *it, st_stac_proj *p) {
    size_t n = json_array_size(t);
    double v[9];
    if (n != 6 && n != 9) {
        return item_fail(STRATA_ERR_PARSE, it, "proj:transform must hold 6 or 9 numbers");
    }
    for (size_t i = 0; i < n; i++) {
        if (!json_is_number(json_array_get(t, i))) {
            return item_fail(STRATA_ERR_PARSE, it, "proj:transform must hold 6 or 9 numbers");
        }
        v[i] = json_number_value(json_array_get(t, i));
    }
    /* Affine order a, b, c, d, e, f is GDAL's gt[1], gt[2], gt[0], gt[4], gt[5], gt[3]. */
    double gt[6] = {v[2], v[0], v[1], v[5], v[3], v[4]};
    memcpy(p->gt, gt, sizeof gt);
    p->has_transform = true;
    return STRATA_OK;
}

static strata_status parse_shape(const json_t *s, const st_stac_item *it, st_stac_proj *p) {
    const json_t *r = json_array_get(s, 0), *c = json_array_get(s, 1);
    if (json_array_size(s) != 2 || !json_is_integer(r) || !json_is_integer(c) ||
        json_integer_value(r) < 1 || json_integer_value(r) > INT32_MAX ||
        json_integer_value(c) < 1 || json_integer_value(c) > INT32_MAX) {
        return item_fail(STRATA_ERR_PARSE, it, "proj:shape must be [rows, cols], positive");
    }
    p->rows = (int)json_integer_value(r);
    p->cols = (int)json_integer_value(c);
    p->has_shape = true;
    return STRATA_OK;
}

/* Fields present in o override p: an asset's fields override its item's. */
static strata_status parse_proj(const json_t *o, const st_stac_item *it, st_stac_proj *p) {
    const json_t *t = json_object_get(o, "proj:transform"), *s = json_object_get(o, "proj:shape");
    ST_TRY(parse_epsg(o, it, p));
    if (t && !json_is_null(t)) {
        ST_TRY(parse_transform(t, it, p));
    }
    if (s && !json_is_null(s)) {
        ST_TRY(parse_shape(s, it, p));
    }
    return STRATA_OK;
}

/* ---- raster extension -------------------------------------------------------------------- */

static bool nodata_value(const json_t *j, double *v) {
    const char *s = json_string_value(j);
    if (json_is_number(j)) {
        *v = json_number_value(j);
    } else if (s && strcmp(s, "nan") == 0) {
        *v = NAN;
    } else if (s && (strcmp(s, "inf") == 0 || strcmp(s, "-inf") == 0)) {
        *v = s[0] == '-' ? -INFINITY : INFINITY;
    } else {
        return false;
    }
    return true;
}

static strata_status parse_band(const json_t *b, const st_stac_item *it, st_stac_bands *out,
                                int i) {
    const json_t *nd = json_object_get(b, "nodata");
    const char *type = json_string_value(json_object_get(b, "data_type"));
    if (!json_is_object(b)) {
        return item_fail(STRATA_ERR_PARSE, it, "raster:bands must hold objects");
    }
    if (nd && !json_is_null(nd)) {
        if (!nodata_value(nd, &out->nodata[i])) {
            return item_fail(STRATA_ERR_PARSE, it,
                             "raster:bands nodata must be a number, "
                             "\"nan\", \"inf\" or \"-inf\"");
        }
        out->has_nodata[i] = 1;
    }
    /* int8 is not read from files by GDAL 3.6; unknown or mixed types leave the file to
     * say what it holds. */
    strata_dtype dt = strata_dtype_from_name(type);
    dt = dt == STRATA_INT8 ? STRATA_DTYPE_UNKNOWN : dt;
    if (i == 0 || dt != out->dtype) {
        out->dtype = i == 0 ? dt : STRATA_DTYPE_UNKNOWN;
    }
    return STRATA_OK;
}

static strata_status parse_bands(const json_t *asset, const st_stac_item *it, st_stac_bands *out) {
    const json_t *bands = json_object_get(asset, "raster:bands");
    if (!bands || json_is_null(bands)) {
        return STRATA_OK;
    }
    size_t n = json_array_size(bands);
    if (!json_is_array(bands) || n > 65535) {
        return item_fail(STRATA_ERR_PARSE, it, "raster:bands must be an array");
    }
    if (n == 0) {
        return STRATA_OK;
    }
    out->has_nodata = st_calloc(n, sizeof *out->has_nodata);
    out->nodata = st_calloc(n, sizeof *out->nodata);
    if (!out->has_nodata || !out->nodata) {
        return st_nomem("STAC raster:bands");
    }
    out->n = (int)n;
    for (size_t i = 0; i < n; i++) {
        ST_TRY(parse_band(json_array_get(bands, i), it, out, (int)i));
    }
    return STRATA_OK;
}

/* ---- items ------------------------------------------------------------------------------- */

static strata_status parse_time(const json_t *props, st_stac_item *it) {
    const json_t *dt = json_object_get(props, "datetime");
    const char *field = "datetime";
    if (!dt || json_is_null(dt)) {
        dt = json_object_get(props, "start_datetime");
        field = "start_datetime";
    }
    const char *s = json_string_value(dt);
    if (!dt || json_is_null(dt)) {
        return item_fail(STRATA_ERR_PARSE, it, "no properties.datetime (nor start_datetime)");
    }
    if (!s || st_parse_iso8601(s, &it->time) != STRATA_OK) {
        return item_fail(STRATA_ERR_PARSE, it, "bad properties.%s %s%.64s%s", field, s ? "'" : "",
                         s ? s : "(not a string)", s ? "'" : "");
    }
    return STRATA_OK;
}

static strata_status parse_bbox(const json_t *bbox, st_stac_item *it) {
    size_t n = json_array_size(bbox);
    if (!bbox || json_is_null(bbox)) {
        return STRATA_OK;
    }
    if (n != 4 && n != 6) {
        return item_fail(STRATA_ERR_PARSE, it, "bbox must hold 4 or 6 numbers");
    }
    double v[6];
    for (size_t i = 0; i < n; i++) {
        if (!json_is_number(json_array_get(bbox, i))) {
            return item_fail(STRATA_ERR_PARSE, it, "bbox must hold 4 or 6 numbers");
        }
        v[i] = json_number_value(json_array_get(bbox, i));
    }
    /* 3-D boxes are minx, miny, minz, maxx, maxy, maxz. */
    size_t half = n / 2;
    double b[4] = {v[0], v[1], v[half], v[half + 1]};
    memcpy(it->bbox, b, sizeof b);
    it->has_bbox = true;
    return STRATA_OK;
}

static strata_status parse_self(const json_t *links, st_stac_item *it) {
    size_t i;
    const json_t *l;
    json_array_foreach(links, i, l) {
        const char *rel = json_string_value(json_object_get(l, "rel"));
        const char *href = json_string_value(json_object_get(l, "href"));
        if (rel && href && href[0] && strcmp(rel, "self") == 0) {
            it->self = st_strdup(href);
            return it->self ? STRATA_OK : st_nomem("STAC links");
        }
    }
    return STRATA_OK;
}

/* The asset keys an item has, for the "no such asset" message. */
static void list_keys(const json_t *assets, char *buf, size_t size) {
    const char *key;
    const json_t *v;
    size_t used = 0;
    buf[0] = '\0';
    json_object_foreach((json_t *)assets, key, v) {
        int w = snprintf(buf + used, size - used, "%s%.40s", used ? ", " : "", key);
        if (w < 0 || (size_t)w >= size - used) {
            break;
        }
        used += (size_t)w;
    }
}

static strata_status parse_asset(const json_t *assets, const char *key, st_stac_item *it,
                                 st_stac_asset *a) {
    const json_t *o = json_object_get(assets, key);
    if (!json_is_object(o)) {
        char have[256];
        list_keys(assets, have, sizeof have);
        return item_fail(STRATA_ERR_PARSE, it, "no asset '%.80s' (it has: %s)", key,
                         have[0] ? have : "none");
    }
    const char *href = json_string_value(json_object_get(o, "href"));
    if (!href || !href[0]) {
        return item_fail(STRATA_ERR_PARSE, it, "asset '%.80s' has no href", key);
    }
    a->key = key;
    if (!(a->href = st_strdup(href))) {
        return st_nomem("STAC href");
    }
    ST_TRY(parse_proj(o, it, &a->proj));
    return parse_bands(o, it, &a->bands);
}

static strata_status name_item(const json_t *o, size_t index, st_stac_item *it) {
    const char *id = json_string_value(json_object_get(o, "id"));
    char fallback[32];
    snprintf(fallback, sizeof fallback, "#%zu", index + 1);
    it->index = index;
    it->id = st_strdup(id && id[0] ? id : fallback);
    return it->id ? STRATA_OK : st_nomem("STAC item");
}

static strata_status parse_item(const json_t *o, size_t index, st_stac_items *items,
                                st_stac_item *it) {
    ST_TRY(name_item(o, index, it));
    if (!json_is_object(o)) {
        return item_fail(STRATA_ERR_PARSE, it, "not a JSON object");
    }
    const json_t *props = json_object_get(o, "properties");
    const json_t *assets = json_object_get(o, "assets");
    if (!json_is_object(props)) {
        return item_fail(STRATA_ERR_PARSE, it, "no \"properties\" object");
    }
    if (!json_is_object(assets)) {
        return item_fail(STRATA_ERR_PARSE, it, "no \"assets\" object");
    }
    ST_TRY(parse_time(props, it));
    ST_TRY(parse_bbox(json_object_get(o, "bbox"), it));
    ST_TRY(parse_self(json_object_get(o, "links"), it));
    st_stac_proj base = {0};
    ST_TRY(parse_proj(props, it, &base));
    if (!(it->assets = st_calloc(items->nassets, sizeof *it->assets))) {
        return st_nomem("STAC assets");
    }
    for (size_t k = 0; k < items->nassets; k++) {
        it->assets[k].proj = base;
        ST_TRY(parse_asset(assets, items->keys[k], it, &it->assets[k]));
    }
    return STRATA_OK;
}

/* ---- the document ------------------------------------------------------------------------ */

/* The list of items: a bare array, the "features" of an ItemCollection or search response,
 * or one Item (returned in *single). */
static strata_status find_items(const json_t *root, const json_t **list, const json_t **single) {
    const json_t *features = json_object_get(root, "features");
    const char *type = json_string_value(json_object_get(root, "type"));
    *list = *single = NULL;
    if (json_is_array(root)) {
        *list = root;
    } else if (json_is_array(features)) {
        *list = features;
    } else if (json_is_object(root) &&
               ((type && strcmp(type, "Feature") == 0) || json_object_get(root, "assets"))) {
        *single = root;
    } else {
        return st_fail(STRATA_ERR_PARSE, "STAC: the JSON is not an Item, an ItemCollection "
                                         "(\"features\"), a search response or an array of "
                                         "items");
    }
    return STRATA_OK;
}

static strata_status copy_keys(st_stac_items *items, const char *const *keys, size_t nkeys,
                               const json_t *first) {
    const char *auto_key = NULL;
    if (!keys || nkeys == 0) {
        void *iter = json_object_iter(json_object_get(first, "assets"));
        auto_key = iter ? json_object_iter_key(iter) : NULL;
        if (!auto_key) {
            const char *id = json_string_value(json_object_get(first, "id"));
            return st_fail(STRATA_ERR_PARSE, "STAC item " ID_FMT ": %s", id ? id : "#1",
                           json_is_object(first) ? "no assets to choose from"
                                                 : "not a JSON object");
        }
        keys = &auto_key;
        nkeys = 1;
    }
    if (!(items->keys = st_calloc(nkeys, sizeof *items->keys))) {
        return st_nomem("STAC keys");
    }
    items->nassets = nkeys;
    for (size_t k = 0; k < nkeys; k++) {
        if (!keys[k] || !keys[k][0]) {
            return st_fail(STRATA_ERR_INVALID_ARG, "STAC: asset key %zu is empty", k + 1);
        }
        if (!(items->keys[k] = st_strdup(keys[k]))) {
            return st_nomem("STAC keys");
        }
    }
    return STRATA_OK;
}

static strata_status parse_root(const json_t *root, const char *const *keys, size_t nkeys,
                                st_stac_items *items) {
    const json_t *list, *single;
    ST_TRY(find_items(root, &list, &single));
    size_t n = single ? 1 : json_array_size(list);
    if (n == 0) {
        return st_fail(STRATA_ERR_PARSE, "STAC: the document holds no items");
    }
    ST_TRY(copy_keys(items, keys, nkeys, single ? single : json_array_get(list, 0)));
    if (!(items->items = st_calloc(n, sizeof *items->items))) {
        return st_nomem("STAC items");
    }
    for (size_t i = 0; i < n; i++) {
        items->n = i + 1; /* so that freeing covers the partly parsed item */
        ST_TRY(parse_item(single ? single : json_array_get(list, i), i, items, &items->items[i]));
    }
    return STRATA_OK;
}

strata_status st_stac_parse(const char *text, size_t len, const char *const *keys, size_t nkeys,
                            st_stac_items *out) {
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    if (!root) {
        return st_fail(STRATA_ERR_PARSE, "STAC: not JSON: %.200s at line %d, column %d", err.text,
                       err.line, err.column);
    }
    strata_status st = parse_root(root, keys, nkeys, out);
    json_decref(root);
    if (st != STRATA_OK) {
        st_stac_items_free(out);
    }
    return st;
}

/* ---- filters and order ------------------------------------------------------------------- */

static bool spans_meet(double a0, double a1, double b0, double b1) {
    return a0 <= b1 && b0 <= a1;
}

/* A longitude range with min > max crosses the antimeridian: two spans, open-ended so that
 * out-of-range values (min beyond 180) still make two proper spans. */
static int lon_spans(double lo, double hi, double s[2][2]) {
    if (lo <= hi) {
        s[0][0] = lo;
        s[0][1] = hi;
        return 1;
    }
    s[0][0] = lo;
    s[0][1] = INFINITY;
    s[1][0] = -INFINITY;
    s[1][1] = hi;
    return 2;
}

static bool lons_meet(double a0, double a1, double b0, double b1) {
    double a[2][2], b[2][2];
    int na = lon_spans(a0, a1, a), nb = lon_spans(b0, b1, b);
    for (int i = 0; i < na; i++) {
        for (int j = 0; j < nb; j++) {
            if (spans_meet(a[i][0], a[i][1], b[j][0], b[j][1])) {
                return true;
            }
        }
    }
    return false;
}

static bool bbox_meets(const st_stac_item *it, const double *b) {
    return !it->has_bbox || (lons_meet(it->bbox[0], it->bbox[2], b[0], b[2]) &&
                             spans_meet(it->bbox[1], it->bbox[3], b[1], b[3]));
}

static int by_time(const void *pa, const void *pb) {
    const st_stac_item *a = pa, *b = pb;
    if (a->time != b->time) {
        return a->time < b->time ? -1 : 1;
    }
    return a->index < b->index ? -1 : a->index > b->index;
}

void st_stac_select(st_stac_items *items, const strata_stac_opts *opts) {
    size_t kept = 0;
    for (size_t i = 0; i < items->n; i++) {
        if (opts->has_bbox && !bbox_meets(&items->items[i], opts->bbox)) {
            item_free(&items->items[i], items->nassets);
            items->dropped_bbox++;
        } else {
            items->items[kept++] = items->items[i];
        }
    }
    items->n = kept;
    if (!opts->keep_order && kept > 1) {
        qsort(items->items, kept, sizeof *items->items, by_time);
    }
    while (opts->max_items && items->n > opts->max_items) {
        item_free(&items->items[--items->n], items->nassets);
    }
}

/* ---- hrefs ------------------------------------------------------------------------------- */

/* Length of "scheme://" at the start of s, or 0. */
static size_t scheme_len(const char *s) {
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        return 0;
    }
    while (s[i] && (strchr("+-.", s[i]) || (s[i] >= '0' && s[i] <= '9') ||
                    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
        i++;
    }
    return strncmp(s + i, "://", 3) == 0 ? i + 3 : 0;
}

static bool is_absolute(const char *href) {
    return href[0] == '/' || scheme_len(href) > 0;
}

static bool ends_with_dotdot(const char *root, const char *out) {
    return out - root >= 3 && strncmp(out - 3, "../", 3) == 0 &&
           (out - 3 == root || out[-4] == '/');
}

/* Removes "." and ".." segments from path in place. A leading ".." of a relative path stays;
 * one above the root of an absolute path is dropped, as browsers do. The output never
 * outgrows what was read, so writing over the input is safe. */
static void normalize(char *path) {
    bool abs = path[0] == '/';
    char *root = path + abs, *out = root;
    const char *in = root;
    while (*in) {
        size_t n = strcspn(in, "/");
        bool more = in[n] == '/';
        bool dot = n == 1 && in[0] == '.', dotdot = n == 2 && in[0] == '.' && in[1] == '.';
        if (dotdot && out > root && !ends_with_dotdot(root, out)) {
            out--; /* the '/' after the previous segment */
            while (out > root && out[-1] != '/') {
                out--;
            }
        } else if (n > 0 && !dot && !(dotdot && abs)) {
            memmove(out, in, n + more);
            out += n + more;
        }
        in += n + more;
    }
    *out = '\0';
}

char *st_stac_join(const char *base, const char *href) {
    if (!base || !base[0] || is_absolute(href)) {
        return st_strdup(href);
    }
    size_t sl = scheme_len(base);
    size_t prefix = sl ? sl + strcspn(base + sl, "/?#") : 0;
    /* The folder of base: up to its last '/', not looking into a URL's query. */
    size_t end = sl ? strcspn(base, "?#") : strlen(base);
    while (end > prefix && base[end - 1] != '/') {
        end--;
    }
    size_t hl = strlen(href);
    char *out = st_malloc(end + hl + 2);
    if (!out) {
        return NULL;
    }
    memcpy(out, base, end);
    if (sl && end == prefix) {
        out[end++] = '/'; /* "http://host" + "a.tif" */
    }
    memcpy(out + end, href, hl + 1);
    /* The query of href is not a path: leave it out of the normalisation. */
    char *query = sl ? out + prefix + strcspn(out + prefix, "?#") : NULL;
    char *tail = query && *query ? st_strdup(query) : NULL;
    if (query && *query && !tail) {
        free(out);
        return NULL;
    }
    if (tail) {
        *query = '\0';
    }
    normalize(out + prefix);
    if (tail) {
        strcat(out, tail);
        free(tail);
    }
    return out;
}

static char *concat(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = st_malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

char *st_stac_gdal_path(const char *href) {
    static const struct {
        const char *scheme, *vsi;
    } map[] = {{"http://", "/vsicurl/"}, {"https://", "/vsicurl/"}, {"s3://", "/vsis3/"},
               {"gs://", "/vsigs/"},     {"az://", "/vsiaz/"},      {"abfs://", "/vsiaz/"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t n = strlen(map[i].scheme);
        if (strncasecmp(href, map[i].scheme, n) == 0) {
            /* /vsicurl/ takes the whole URL; the bucket schemes take what follows. */
            return concat(map[i].vsi, map[i].vsi[4] == 'c' ? href : href + n);
        }
    }
    if (strncasecmp(href, "file://", 7) == 0) {
        const char *p = href + 7;
        if (strncasecmp(p, "localhost/", 10) == 0) {
            p += 9;
        }
        return st_strdup(p);
    }
    return st_strdup(href);
}

/* The folder hrefs of item it are relative to: its self link (itself made absolute against
 * base when relative), else base. */
static strata_status item_base(const st_stac_item *it, const char *base, char **out) {
    *out = NULL;
    if (!it->self) {
        return STRATA_OK;
    }
    *out = st_stac_join(base, it->self);
    return *out ? STRATA_OK : st_nomem("STAC href");
}

static strata_status resolve_asset(st_stac_asset *a, const char *base, strata_href_fn rewrite,
                                   void *user) {
    char *abs = st_stac_join(base, a->href);
    if (!abs) {
        return st_nomem("STAC href");
    }
    char *rewritten = rewrite ? rewrite(abs, user) : NULL;
    if (rewritten) {
        free(abs);
        abs = rewritten;
    }
    char *path = st_stac_gdal_path(abs);
    free(abs);
    if (!path) {
        return st_nomem("STAC href");
    }
    free(a->href);
    a->href = path;
    return STRATA_OK;
}

strata_status st_stac_resolve(st_stac_items *items, const char *base, strata_href_fn rewrite,
                              void *user) {
    for (size_t i = 0; i < items->n; i++) {
        st_stac_item *it = &items->items[i];
        char *self;
        ST_TRY(item_base(it, base, &self));
        strata_status st = STRATA_OK;
        for (size_t k = 0; k < items->nassets && st == STRATA_OK; k++) {
            st = resolve_asset(&it->assets[k], self ? self : base, rewrite, user);
            if (st == STRATA_OK && !it->assets[k].href[0]) {
                st = item_fail(STRATA_ERR_INVALID_ARG, it,
                               "asset '%.80s': empty href after "
                               "rewriting",
                               it->assets[k].key);
            }
        }
        free(self);
        ST_TRY(st);
    }
    return STRATA_OK;
}
