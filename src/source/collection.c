/* strata_collection: ordered timesteps (paths, times, labels) over one template geobox. */
#include "source/grid.h"
#include "source/netread.h"
#include "source/source.h"

#include <cpl_string.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static strata_collection *collection_alloc(size_t n, size_t nsrc) {
    strata_collection *c = st_calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->n = n;
    c->nsrc = nsrc;
    c->nfiles = n * nsrc;
    c->cache_capacity = 64;
    c->paths = st_calloc(n * nsrc, sizeof *c->paths);
    c->times = st_calloc(n, sizeof *c->times);
    c->has_time = st_calloc(n, 1);
    c->checked = st_calloc(n * nsrc, sizeof *c->checked);
    if (!c->paths || !c->times || !c->has_time || !c->checked) {
        free(c->paths);
        free(c->times);
        free(c->has_time);
        free((void *)c->checked);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void free_strings(char **s, size_t n) {
    for (size_t i = 0; s && i < n; i++) {
        free(s[i]);
    }
    free(s);
}

void strata_collection_free(strata_collection *c) {
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->ncaches; i++) {
        st_cache_free(c->caches[i]);
    }
    free(c->caches);
    st_net_free(c->net);
    pthread_mutex_destroy(&c->lock);
    free_strings(c->paths, c->nfiles);
    free(c->grid);
    st_mosaic_free(c->mosaic);
    free_strings(c->labels, c->n);
    free(c->times);
    free(c->has_time);
    free((void *)c->checked);
    strata_meta_free(c->meta);
    free(c);
}

static strata_status copy_paths(strata_collection *c, const char *const *paths) {
    for (size_t i = 0; i < c->n * c->nsrc; i++) {
        if (!paths[i] || !paths[i][0]) {
            return st_fail(STRATA_ERR_INVALID_ARG, "timestep %zu: empty path", i / c->nsrc);
        }
        ST_TRY(st_check_input_kind(paths[i]));
        c->paths[i] = st_strdup(paths[i]);
        if (!c->paths[i]) {
            return st_nomem("paths");
        }
    }
    return STRATA_OK;
}

/* Opens the template once: its meta, and whether it has side files the others may have.
 * Without side files (which can carry a CRS of their own), its CRS is built only when asked
 * for: a reduce to GeoTIFF copies its GeoTIFF tags instead. */
static strata_status snapshot_template(strata_collection *c) {
    st_gdal_quiet_begin();
    GDALDatasetH ds = st_open_raster(c->paths[0], NULL, true);
    strata_status st = STRATA_ERR_IO;
    if (ds) {
        char **files = GDALGetFileList(ds);
        c->sidecars = CSLCount(files) > 1;
        CSLDestroy(files);
        st = st_meta_from_dataset(ds, c->paths[0], !c->sidecars, &c->meta);
        GDALClose(ds);
    }
    st_gdal_quiet_end();
    return st;
}

static void set_default_chunks(strata_collection *c) {
    c->chunks.t = 1;
    c->chunks.b = 1;
    st_default_tile(c->meta, &c->chunks.y, &c->chunks.x);
}

/* With several sources a timestep, the template's bands repeat once per source. */
static strata_status widen_meta(strata_collection *c, const char *const *band_names) {
    c->src_bands = c->meta->bands;
    if (c->nsrc == 1 && !band_names) {
        return STRATA_OK;
    }
    strata_meta *wide;
    ST_TRY(st_meta_repeat_bands(c->meta, c->nsrc, band_names, &wide));
    strata_meta_free(c->meta);
    c->meta = wide;
    return STRATA_OK;
}

strata_status st_collection_new(const char *const *paths, size_t n, size_t nsrc,
                                const char *const *band_names, strata_meta *meta,
                                strata_collection **out) {
    *out = NULL;
    if (!paths || n == 0 || nsrc == 0) {
        strata_meta_free(meta);
        return st_fail(STRATA_ERR_INVALID_ARG, "a collection needs at least one file");
    }
    strata_collection *c = collection_alloc(n, nsrc);
    if (!c) {
        strata_meta_free(meta);
        return st_nomem("collection");
    }
    c->meta = meta;
    strata_status st = copy_paths(c, paths);
    if (st == STRATA_OK && !meta) {
        st = snapshot_template(c);
        if (st == STRATA_OK) {
            atomic_store(&c->checked[0], 1);
        }
    }
    if (st == STRATA_OK) {
        st = widen_meta(c, band_names);
    }
    if (st != STRATA_OK) {
        strata_collection_free(c);
        return st;
    }
    set_default_chunks(c);
    *out = c;
    return STRATA_OK;
}

strata_status strata_collection_from_files(const char *const *paths, size_t n,
                                           strata_collection **out) {
    st_clear_error();
    if (!out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_from_files: NULL argument");
    }
    return st_collection_new(paths, n, 1, NULL, NULL, out);
}

/* ---- times and labels ------------------------------------------------------------------ */

strata_status strata_collection_set_times(strata_collection *c, const int64_t *utc) {
    st_clear_error();
    if (!c || !utc) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_set_times: NULL argument");
    }
    for (size_t i = 0; i < c->n; i++) {
        c->times[i] = utc[i];
        c->has_time[i] = 1;
    }
    return STRATA_OK;
}

strata_status strata_collection_set_times_iso(strata_collection *c, const char *const *iso) {
    st_clear_error();
    if (!c || !iso) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_set_times_iso: NULL argument");
    }
    int64_t *t = st_calloc(c->n, sizeof *t);
    if (!t) {
        return st_nomem("times");
    }
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < c->n && st == STRATA_OK; i++) {
        if (!iso[i] || st_parse_iso8601(iso[i], &t[i]) != STRATA_OK) {
            st = st_fail(STRATA_ERR_PARSE, "timestep %zu (%s): unparseable time '%s'", i,
                         c->paths[i * c->nsrc], iso[i] ? iso[i] : "(null)");
        }
    }
    if (st == STRATA_OK) {
        st = strata_collection_set_times(c, t);
    }
    free(t);
    return st;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

strata_status strata_collection_set_times_pattern(strata_collection *c, const char *pattern) {
    st_clear_error();
    if (!c || !pattern || !pattern[0]) {
        return st_fail(STRATA_ERR_INVALID_ARG, "a time pattern such as %%Y%%m%%d is needed");
    }
    if (!strstr(pattern, "%Y")) {
        /* Without a year every file would get a date in 1970, silently. */
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "time pattern '%s' has no year field (%%Y): it cannot give dates "
                       "(e.g. %%Y%%m%%d)",
                       pattern);
    }
    int64_t *t = st_calloc(c->n, sizeof *t);
    if (!t) {
        return st_nomem("times");
    }
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < c->n && st == STRATA_OK; i++) {
        const char *path = c->paths[i * c->nsrc];
        if (st_parse_time_pattern(base_name(path), pattern, &t[i]) != STRATA_OK) {
            st = st_fail(STRATA_ERR_PARSE, "timestep %zu: no time matching '%s' in file name %s", i,
                         pattern, path);
        }
    }
    if (st == STRATA_OK) {
        st = strata_collection_set_times(c, t);
    }
    free(t);
    return st;
}

strata_status strata_collection_set_labels(strata_collection *c, const char *const *labels) {
    st_clear_error();
    if (!c || !labels) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_set_labels: NULL argument");
    }
    char **copy = st_calloc(c->n, sizeof *copy);
    if (!copy) {
        return st_nomem("labels");
    }
    for (size_t i = 0; i < c->n; i++) {
        copy[i] = labels[i] ? st_strdup(labels[i]) : NULL;
        if (!copy[i]) {
            free_strings(copy, c->n);
            return labels[i] ? st_nomem("labels")
                             : st_fail(STRATA_ERR_INVALID_ARG, "timestep %zu: NULL label", i);
        }
    }
    free_strings(c->labels, c->n);
    c->labels = copy;
    return STRATA_OK;
}

strata_status strata_collection_set_cache_capacity(strata_collection *c, int capacity) {
    st_clear_error();
    if (!c || capacity < 1) {
        return st_fail(STRATA_ERR_INVALID_ARG, "cache capacity must be at least 1, not %d",
                       capacity);
    }
    c->cache_capacity = capacity;
    return STRATA_OK;
}

/* ---- getters --------------------------------------------------------------------------- */

size_t strata_collection_size(const strata_collection *c) {
    return c->n;
}
const strata_meta *strata_collection_meta(const strata_collection *c) {
    return c->meta;
}
const char *strata_collection_path(const strata_collection *c, size_t t) {
    return t < c->n ? c->paths[t * c->nsrc] : NULL;
}
size_t strata_collection_sources(const strata_collection *c) {
    return c->nsrc;
}
const char *strata_collection_source(const strata_collection *c, size_t t, size_t k) {
    return t < c->n && k < c->nsrc ? c->paths[t * c->nsrc + k] : NULL;
}
int strata_collection_time(const strata_collection *c, size_t t, int64_t *utc) {
    if (t >= c->n || !c->has_time[t]) {
        return 0;
    }
    *utc = c->times[t];
    return 1;
}
const char *strata_collection_label(const strata_collection *c, size_t t) {
    return (t < c->n && c->labels) ? c->labels[t] : NULL;
}

void strata_collection_chunks(const strata_collection *c, strata_chunks *out) {
    *out = c->chunks;
}

strata_status strata_collection_set_chunks(strata_collection *c, const strata_chunks *ch) {
    st_clear_error();
    if (!c || !ch || ch->t < 1 || ch->b < 1 || ch->y < 1 || ch->x < 1) {
        return st_fail(STRATA_ERR_INVALID_ARG, "chunk sizes must all be >= 1");
    }
    c->chunks.t = ch->t < (int)c->n ? ch->t : (int)c->n;
    c->chunks.b = ch->b < c->meta->bands ? ch->b : c->meta->bands;
    c->chunks.y = ch->y < c->meta->rows ? ch->y : c->meta->rows;
    c->chunks.x = ch->x < c->meta->cols ? ch->x : c->meta->cols;
    return STRATA_OK;
}

/* ---- serialisation ----------------------------------------------------------------------- */

strata_status strata_collection_to_json(const strata_collection *c, char **json) {
    st_clear_error();
    if (!c || !json) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_to_json: NULL argument");
    }
    for (size_t i = 0; i < c->nfiles; i++) {
        ST_TRY(st_check_utf8("file name", c->paths[i]));
    }
    for (size_t i = 0; c->labels && i < c->n; i++) {
        ST_TRY(st_check_utf8("label", c->labels[i]));
    }
    json_t *o = json_object(), *steps = json_array();
    for (size_t i = 0; i < c->n; i++) {
        json_t *s = json_object();
        if (c->nsrc == 1) {
            json_object_set_new(s, "path", json_string(c->paths[i]));
        } else {
            json_t *p = json_array();
            for (size_t k = 0; k < c->nsrc; k++) {
                json_array_append_new(p, json_string(c->paths[i * c->nsrc + k]));
            }
            json_object_set_new(s, "paths", p);
        }
        if (c->has_time[i]) {
            json_object_set_new(s, "time", json_integer(c->times[i]));
        }
        if (c->labels) {
            json_object_set_new(s, "label", json_string(c->labels[i]));
        }
        json_array_append_new(steps, s);
    }
    json_object_set_new(o, "strata_collection", json_integer(1));
    json_object_set_new(o, "meta", st_meta_to_jobj(c->meta));
    json_object_set_new(o, "chunks",
                        json_pack("[iiii]", c->chunks.t, c->chunks.b, c->chunks.y, c->chunks.x));
    json_object_set_new(o, "cache_capacity", json_integer(c->cache_capacity));
    json_object_set_new(o, "sidecars", json_boolean(c->sidecars));
    json_object_set_new(o, "sources", json_integer((json_int_t)c->nsrc));
    json_object_set_new(o, "timesteps", steps);
    if (c->grid) {
        json_object_set_new(o, "grid", st_grid_to_jobj(c->grid));
    }
    if (c->mosaic) {
        json_object_set_new(o, "mosaic", st_mosaic_to_jobj(c));
    }
    *json = st_json_dump(o);
    json_decref(o);
    return *json ? STRATA_OK : st_nomem("collection JSON");
}

static strata_status parse_paths(strata_collection *c, size_t i, const json_t *s) {
    const json_t *one = json_object_get(s, "path"), *many = json_object_get(s, "paths");
    if (c->nsrc == 1 ? !json_string_value(one) : json_array_size(many) != c->nsrc) {
        return st_fail(STRATA_ERR_PARSE, "collection JSON: timestep %zu needs %s", i,
                       c->nsrc == 1 ? "a \"path\"" : "\"paths\", one per source");
    }
    for (size_t k = 0; k < c->nsrc; k++) {
        const char *p = json_string_value(c->nsrc == 1 ? one : json_array_get(many, k));
        if (!p || !p[0]) {
            return st_fail(STRATA_ERR_PARSE, "collection JSON: timestep %zu: empty path", i);
        }
        if (!(c->paths[i * c->nsrc + k] = st_strdup(p))) {
            return st_nomem("collection");
        }
    }
    return STRATA_OK;
}

static strata_status parse_step(strata_collection *c, size_t i, const json_t *s, bool labels) {
    const json_t *t = json_object_get(s, "time");
    const char *label = json_string_value(json_object_get(s, "label"));
    ST_TRY(parse_paths(c, i, s));
    if (t && !json_is_integer(t)) {
        return st_fail(STRATA_ERR_PARSE, "collection JSON: timestep %zu: time is not an integer",
                       i);
    }
    if (labels != (label != NULL)) {
        return st_fail(STRATA_ERR_PARSE,
                       "collection JSON: timestep %zu: labels must be given "
                       "for every timestep or none",
                       i);
    }
    if (labels && !(c->labels[i] = st_strdup(label))) {
        return st_nomem("collection");
    }
    c->has_time[i] = t != NULL;
    c->times[i] = t ? json_integer_value(t) : 0;
    return STRATA_OK;
}

static strata_status parse_collection(const json_t *o, strata_collection **out) {
    const json_t *steps = json_object_get(o, "timesteps"), *ch = json_object_get(o, "chunks");
    const json_t *cap = json_object_get(o, "cache_capacity");
    bool chunks_ok = json_array_size(ch) == 4;
    for (size_t i = 0; chunks_ok && i < 4; i++) {
        json_int_t v = json_integer_value(json_array_get(ch, i));
        chunks_ok = json_is_integer(json_array_get(ch, i)) && v >= 1 && v <= INT32_MAX;
    }
    if (!json_is_array(steps) || json_array_size(steps) == 0 || !chunks_ok ||
        !json_is_integer(cap)) {
        return st_fail(STRATA_ERR_PARSE,
                       "collection JSON: needs \"meta\", \"chunks\" (4 "
                       "integers), \"cache_capacity\" and a non-empty \"timesteps\" array");
    }
    size_t n = json_array_size(steps);
    const json_t *js = json_object_get(o, "sources");
    json_int_t nsrc = js ? json_integer_value(js) : 1;
    if (nsrc < 1 || nsrc > 65535) {
        return st_fail(STRATA_ERR_PARSE, "collection JSON: \"sources\" must be 1..65535");
    }
    strata_collection *c = collection_alloc(n, (size_t)nsrc);
    if (!c) {
        return st_nomem("collection");
    }
    bool labels = json_object_get(json_array_get(steps, 0), "label") != NULL;
    c->sidecars = json_is_true(json_object_get(o, "sidecars"));
    strata_status st = STRATA_OK;
    if (labels && !(c->labels = st_calloc(n, sizeof *c->labels))) {
        st = st_nomem("labels");
    }
    for (size_t i = 0; i < n && st == STRATA_OK; i++) {
        st = parse_step(c, i, json_array_get(steps, i), labels);
    }
    if (st == STRATA_OK) {
        st = st_meta_from_jobj(json_object_get(o, "meta"), &c->meta);
    }
    if (st == STRATA_OK && c->meta->bands % (int)c->nsrc != 0) {
        st = st_fail(STRATA_ERR_PARSE, "collection JSON: %d bands do not split over %zu sources",
                     c->meta->bands, c->nsrc);
    }
    if (st == STRATA_OK) {
        c->src_bands = c->meta->bands / (int)c->nsrc;
    }
    strata_chunks chunks = {(int)json_integer_value(json_array_get(ch, 0)),
                            (int)json_integer_value(json_array_get(ch, 1)),
                            (int)json_integer_value(json_array_get(ch, 2)),
                            (int)json_integer_value(json_array_get(ch, 3))};
    if (st == STRATA_OK) {
        st = strata_collection_set_chunks(c, &chunks);
    }
    if (st == STRATA_OK) {
        st = strata_collection_set_cache_capacity(c, (int)json_integer_value(cap));
    }
    const json_t *grid = json_object_get(o, "grid"), *mosaic = json_object_get(o, "mosaic");
    if (st == STRATA_OK && grid) {
        st = st_grid_from_jobj(grid, &c->grid);
    }
    if (st == STRATA_OK && mosaic) {
        st = st_mosaic_from_jobj(c, mosaic);
    }
    if (st != STRATA_OK) {
        strata_collection_free(c);
        return st;
    }
    *out = c;
    return STRATA_OK;
}

strata_status strata_collection_from_json(const char *text, strata_collection **out) {
    st_clear_error();
    if (!text || !out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_from_json: NULL argument");
    }
    *out = NULL;
    json_error_t err;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        return st_fail(STRATA_ERR_PARSE, "collection JSON: %s at line %d, column %d", err.text,
                       err.line, err.column);
    }
    strata_status st = json_is_object(o)
                           ? parse_collection(o, out)
                           : st_fail(STRATA_ERR_PARSE, "collection JSON: not an object");
    json_decref(o);
    return st;
}

/* ---- validation ------------------------------------------------------------------------ */

strata_status strata_collection_validate(const strata_collection *c) {
    st_clear_error();
    if (!c) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_validate: NULL collection");
    }
    st_thread_cache *tc;
    ST_TRY(st_cache_for_thread(c, &tc));
    for (size_t f = 0; f < c->nfiles; f++) {
        GDALDatasetH ds;
        ST_TRY(st_cache_acquire(tc, f, &ds, NULL));
    }
    return STRATA_OK;
}

strata_status strata_collection_check_output(const strata_collection *c, const char *path) {
    st_clear_error();
    if (!c || !path || !path[0]) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "strata_collection_check_output: NULL or empty path");
    }
    return st_guard_outputs((const char *const *)c->paths, c->nfiles, &path, 1);
}
