/* Anomalies: every timestep minus its group's value in a climatology that
 * strata_groupby_to_zarr wrote, streamed into a cube store laid out as strata_to_zarr's. The
 * output's chunks are the climatology's (one timestep, one band, its tile), so each work item
 * reads one tile of one timestep and one chunk of the climatology, subtracts, encodes and
 * writes one chunk: one pass over the inputs, nothing held but the chunks in flight. Before
 * anything is written the climatology is checked against the files: grid, CRS, bands, and a
 * group for the label of every timestep. */
#include "zarr/zarr.h"
#include "reduce/sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct clim {
    const char *store;
    int version;
    strata_codec codec;
    strata_dtype dtype; /* of the variable */
    char var[64];
    char dim[64];
    int cy, cx;       /* its chunks' rows and columns */
    size_t ngroups;   /* along dim */
    size_t *group_of; /* [T] the timesteps' groups */
} clim;

typedef struct aworker {
    double *vals; /* [cy * cx] the timestep's tile */
    double *diff; /* [cy * cx] the climatology's chunk, then the anomalies */
    void *cl;     /* [cy * cx] the climatology's chunk, its type */
    void *out;
    st_zarr_coder *coder;
} aworker;

typedef struct ajob {
    const strata_collection *c;
    clim cl;
    st_zarr_plan plan;
    uint64_t n[4]; /* chunks along t, b, y, x */
    size_t esize;  /* bytes per value, in and out */
    st_exec ex;
} ajob;

/* ---- the climatology ---------------------------------------------------------------------- */

static strata_status bad_clim(const clim *cl, const char *what) {
    return st_fail(STRATA_ERR_INVALID_ARG, "%s: %s", cl->store, what);
}

static strata_dtype dtype_of(const json_t *d, int version) {
    const char *s = json_string_value(d);
    if (!s) {
        return STRATA_DTYPE_UNKNOWN;
    }
    if (version == 3) {
        return strata_dtype_from_name(s);
    }
    return strcmp(s, "<f4") == 0   ? STRATA_FLOAT32
           : strcmp(s, "<f8") == 0 ? STRATA_FLOAT64
           : strcmp(s, "<i8") == 0 ? STRATA_INT64
                                   : STRATA_DTYPE_UNKNOWN;
}

/* The store's root attributes and the documents of the variable and of the group coordinate,
 * from its consolidated metadata. */
static strata_status load_docs(clim *cl, json_t **doc, const json_t **attrs, const json_t **var,
                               const json_t **coord) {
    char *z = st_zarr_path(cl->store, ".zmetadata", NULL),
         *j = st_zarr_path(cl->store, "zarr.json", NULL);
    if (!z || !j) {
        free(z);
        free(j);
        return st_nomem("path");
    }
    cl->version = st_zarr_exists(z) ? 2 : 3;
    *doc = st_zarr_read_json(cl->version == 2 ? z : j);
    free(z);
    free(j);
    if (!*doc) {
        return bad_clim(cl, "has no consolidated metadata (.zmetadata or zarr.json): not a "
                            "climatology written by strata groupby");
    }
    const json_t *meta;
    if (cl->version == 2) {
        meta = json_object_get(*doc, "metadata");
        *attrs = json_object_get(meta, ".zattrs");
    } else {
        meta = json_object_get(json_object_get(*doc, "consolidated_metadata"), "metadata");
        *attrs = json_object_get(*doc, "attributes");
    }
    const char *dim = json_string_value(json_object_get(*attrs, "strata_group_dim"));
    if (!dim || strlen(dim) >= sizeof cl->dim) {
        return bad_clim(cl, "has no strata_group_dim attribute: not a climatology written by "
                            "strata groupby");
    }
    snprintf(cl->dim, sizeof cl->dim, "%s", dim);
    char key[160];
    snprintf(key, sizeof key, cl->version == 2 ? "%s/.zarray" : "%s", cl->var);
    *var = json_object_get(meta, key);
    snprintf(key, sizeof key, cl->version == 2 ? "%s/.zarray" : "%s", cl->dim);
    *coord = json_object_get(meta, key);
    if (!*var) {
        char why[200];
        snprintf(why, sizeof why, "has no variable '%s' (write it with groupby --op %s)", cl->var,
                 cl->var);
        return bad_clim(cl, why);
    }
    if (!*coord) {
        return bad_clim(cl, "has no group coordinate");
    }
    return STRATA_OK;
}

static strata_status check_grid(const clim *cl, const json_t *attrs, const json_t *var,
                                const strata_meta *m) {
    strata_meta *old = NULL;
    if (st_meta_from_jobj(json_object_get(attrs, "strata_meta"), &old) != STRATA_OK) {
        return bad_clim(cl, "has no readable strata_meta attribute");
    }
    char why[300] = "";
    if (old->rows != m->rows || old->cols != m->cols || old->bands != m->bands) {
        snprintf(why, sizeof why, "is %d bands of %dx%d, the files %d bands of %dx%d", old->bands,
                 old->cols, old->rows, m->bands, m->cols, m->rows);
    } else if (memcmp(old->gt, m->gt, sizeof m->gt) != 0) {
        snprintf(why, sizeof why, "has another geotransform than the files");
    } else if (strcmp(old->crs_wkt, m->crs_wkt) != 0) {
        snprintf(why, sizeof why, "has another CRS than the files");
    }
    strata_meta_free(old);
    const json_t *shape = json_object_get(var, "shape");
    if (!why[0] &&
        (json_array_size(shape) != 4 || json_integer_value(json_array_get(shape, 1)) != m->bands ||
         json_integer_value(json_array_get(shape, 2)) != m->rows ||
         json_integer_value(json_array_get(shape, 3)) != m->cols)) {
        snprintf(why, sizeof why, "its variable %s is not (%s, band, y, x) of the files' shape",
                 cl->var, cl->dim);
    }
    return why[0] ? bad_clim(cl, why) : STRATA_OK;
}

static strata_status read_layout(clim *cl, const json_t *attrs, const json_t *var) {
    const json_t *ch = json_object_get(attrs, "strata_chunks");
    const char *codec = json_string_value(json_object_get(attrs, "strata_codec"));
    cl->cy = (int)json_integer_value(json_array_get(ch, 2));
    cl->cx = (int)json_integer_value(json_array_get(ch, 3));
    if (cl->cy < 1 || cl->cx < 1 || !codec ||
        strata_codec_from_name(codec, &cl->codec) != STRATA_OK) {
        return bad_clim(cl, "lacks strata_chunks or strata_codec");
    }
    cl->dtype =
        dtype_of(json_object_get(var, cl->version == 2 ? "dtype" : "data_type"), cl->version);
    if (cl->dtype != STRATA_FLOAT32 && cl->dtype != STRATA_FLOAT64) {
        char why[200];
        snprintf(why, sizeof why, "its variable %s is not float32 nor float64", cl->var);
        return bad_clim(cl, why);
    }
    cl->ngroups = (size_t)json_integer_value(json_array_get(json_object_get(var, "shape"), 0));
    return STRATA_OK;
}

/* UTF-8 of numpy's "<U" element (UTF-32LE code points, zero padded). */
static void utf32_to_utf8(const uint32_t *cp, size_t n, char *out, size_t size) {
    size_t k = 0;
    for (size_t i = 0; i < n && cp[i] && k + 5 < size; i++) {
        uint32_t c = cp[i];
        if (c < 0x80) {
            out[k++] = (char)c;
        } else if (c < 0x800) {
            out[k++] = (char)(0xC0 | (c >> 6));
            out[k++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[k++] = (char)(0xE0 | (c >> 12));
            out[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[k++] = (char)(0xF0 | (c >> 18));
            out[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[k] = '\0';
}

/* Each timestep's group: its label among the store's, compared as integers when the store's
 * labels are (dayofyear 1 is the label "001"). */
static strata_status map_labels(clim *cl, const json_t *coord, const strata_collection *c,
                                const char *const *labels) {
    const char *dt =
        json_string_value(json_object_get(coord, cl->version == 2 ? "dtype" : "data_type"));
    bool ints = dt && (strcmp(dt, "<i8") == 0 || strcmp(dt, "int64") == 0);
    size_t width = dt && strncmp(dt, "<U", 2) == 0 ? (size_t)atoi(dt + 2) : 0;
    if (!ints && !width) {
        return bad_clim(cl, "its group coordinate is neither int64 nor text");
    }
    size_t esize = ints ? 8 : 4 * width, len = 0;
    char key[160], *buf = NULL;
    snprintf(key, sizeof key, cl->version == 3 ? "%s/c/0" : "%s/0", cl->dim);
    char *path = st_zarr_path(cl->store, key, NULL);
    strata_status st = path ? st_zarr_read_file(path, &buf, &len) : st_nomem("path");
    free(path);
    ST_TRY(st);
    if (len < cl->ngroups * esize) {
        free(buf);
        return bad_clim(cl, "its group coordinate is shorter than its variable");
    }
    cl->group_of = st_calloc(c->n ? c->n : 1, sizeof *cl->group_of);
    char *text = st_malloc(4 * width + 8);
    if (!cl->group_of || !text) {
        free(buf);
        free(text);
        return st_nomem("labels");
    }
    for (size_t t = 0; t < c->n && st == STRATA_OK; t++) {
        const char *l = labels[t];
        char *end = NULL;
        long long v = ints ? strtoll(l, &end, 10) : 0;
        size_t g = cl->ngroups;
        if (ints && end != l && !*end) {
            for (g = 0; g < cl->ngroups; g++) {
                int64_t have;
                memcpy(&have, buf + g * 8, 8);
                if (have == v) {
                    break;
                }
            }
        }
        for (g = ints ? g : 0; !ints && g < cl->ngroups; g++) {
            utf32_to_utf8((const uint32_t *)(const void *)(buf + g * esize), width, text,
                          4 * width + 8);
            if (strcmp(text, l) == 0) {
                break;
            }
        }
        if (g == cl->ngroups) {
            st = st_fail(STRATA_ERR_INVALID_ARG,
                         "%s: its label '%s' has no group in the climatology %s (along %s)",
                         strata_collection_path(c, t), l, cl->store, cl->dim);
        }
        cl->group_of[t] = g;
    }
    free(buf);
    free(text);
    return st;
}

static strata_status load_clim(clim *cl, const strata_collection *c, const char *const *labels) {
    json_t *doc = NULL;
    const json_t *attrs = NULL, *var = NULL, *coord = NULL;
    strata_status st = load_docs(cl, &doc, &attrs, &var, &coord);
    st = st == STRATA_OK ? check_grid(cl, attrs, var, c->meta) : st;
    st = st == STRATA_OK ? read_layout(cl, attrs, var) : st;
    st = st == STRATA_OK ? map_labels(cl, coord, c, labels) : st;
    json_decref(doc);
    return st;
}

/* ---- the job ------------------------------------------------------------------------------ */

static strata_status worker_init(void *ctx, void *worker) {
    const ajob *j = ctx;
    aworker *w = worker;
    size_t n = (size_t)j->cl.cy * j->cl.cx;
    w->vals = st_malloc(n * sizeof *w->vals);
    w->diff = st_malloc(n * sizeof *w->diff);
    w->cl = st_malloc(n * j->esize);
    w->out = st_malloc(n * j->esize);
    w->coder = st_zarr_coder_new(j->plan.codec, j->plan.version, n * j->esize);
    if (!w->vals || !w->diff || !w->cl || !w->out || !w->coder) {
        return st_nomem("chunk buffers");
    }
    return STRATA_OK;
}

/* A worker out of work frees its buffers and closes its files while the others finish. */
static void worker_free(void *ctx, void *worker) {
    aworker *w = worker;
    st_cache_drop_thread(((const ajob *)ctx)->c);
    free(w->vals);
    free(w->diff);
    free(w->cl);
    free(w->out);
    st_zarr_coder_free(w->coder);
}

/* The climatology's chunk of (group, band, cy, cx) as doubles into vals; a chunk never written
 * is all missing, as Zarr's fill says. */
static strata_status read_clim(ajob *j, aworker *w, size_t g, int b, uint64_t cy, uint64_t cx,
                               double *vals) {
    const clim *cl = &j->cl;
    size_t n = (size_t)cl->cy * cl->cx;
    char key[200];
    st_zarr_key4(cl->version, cl->var, (uint64_t[4]){g, (uint64_t)b, cy, cx}, key, sizeof key);
    char *path = st_zarr_path(cl->store, key, NULL);
    if (!path) {
        return st_nomem("path");
    }
    if (!st_zarr_exists(path)) {
        free(path);
        for (size_t i = 0; i < n; i++) {
            vals[i] = NAN;
        }
        return STRATA_OK;
    }
    char *buf = NULL;
    size_t len = 0;
    strata_status st = st_zarr_read_file(path, &buf, &len);
    if (st == STRATA_OK) {
        st = st_zarr_decode(cl->codec, buf, len, w->cl, n * j->esize);
        if (st != STRATA_OK) {
            st = st_fail(STRATA_ERR_IO, "%s: %s", path, strata_errmsg());
        }
    }
    free(buf);
    free(path);
    ST_TRY(st);
    GDALCopyWords64(w->cl, st_dtype_to_gdal(cl->dtype), (int)j->esize, vals, GDT_Float64,
                    sizeof(double), (GPtrDiff_t)n);
    return STRATA_OK;
}

static strata_status run_item(void *ctx, void *worker, size_t item) {
    ajob *j = ctx;
    aworker *w = worker;
    uint64_t idx[4], rest = item;
    for (int d = 3; d >= 0; d--) {
        idx[d] = rest % j->n[d];
        rest /= j->n[d];
    }
    const strata_meta *m = j->c->meta;
    const clim *cl = &j->cl;
    size_t t = (size_t)idx[0], n = (size_t)cl->cy * cl->cx;
    int b = (int)idx[1];
    st_rect r = {(int)idx[2] * cl->cy, 0, (int)idx[3] * cl->cx, 0};
    r.nrows = m->rows - r.row0 < cl->cy ? m->rows - r.row0 : cl->cy;
    r.ncols = m->cols - r.col0 < cl->cx ? m->cols - r.col0 : cl->cx;
    st_thread_cache *tc;
    ST_TRY(st_cache_for_thread(j->c, &tc));
    double *clv = w->diff;
    strata_status st = st_read_rect(tc, t, b, &r, STRATA_FLOAT64, w->vals);
    if (st == STRATA_OK) {
        st = read_clim(j, w, cl->group_of[t], b, idx[2], idx[3], clv);
    }
    ST_TRY(st);
    atomic_fetch_add(&j->ex.bytes_read, (uint64_t)r.nrows * r.ncols * strata_dtype_size(m->dtype));
    /* The input unpacked, nodata and NaN missing, minus the group's value; the part of an edge
     * chunk outside the raster is missing (the fill), rows laid out at the chunk's width. */
    double nd = st_meta_nodata_cmp(m, b), scale = m->scale[b], offset = m->offset[b];
    bool has_nd = m->has_nodata[b] != 0;
    for (int y = cl->cy - 1; y >= 0; y--) {
        for (int x = cl->cx - 1; x >= 0; x--) {
            size_t i = (size_t)y * cl->cx + x;
            double v = NAN;
            if (y < r.nrows && x < r.ncols) {
                v = w->vals[(size_t)y * r.ncols + x];
                v = (has_nd && v == nd) ? NAN : v * scale + offset;
            }
            clv[i] = v - clv[i];
        }
    }
    st_convert_out(clv, n, cl->dtype, NAN, w->out);
    char key[160];
    st_zarr_chunk_key(&j->plan, idx, key, sizeof key);
    return st_zarr_write_chunk(w->coder, j->plan.store, key, j->esize, w->out, n * j->esize);
}

static strata_status write_store(ajob *j, const char *target, const strata_zarr_opts *o) {
    strata_zarr_opts zo = *o;
    zo.chunks = (strata_chunks){1, 1, j->cl.cy, j->cl.cx};
    zo.name = o->name ? o->name : "anomaly";
    ST_TRY(st_zarr_plan_init(&j->plan, j->c, target, &zo, false));
    j->plan.dtype = j->cl.dtype;
    j->plan.derived = true;
    j->plan.has_fill = true;
    j->plan.fill = NAN;
    /* The plan clips chunks to the raster; the climatology's are kept as they are. */
    j->plan.ch = zo.chunks;
    const strata_meta *m = j->c->meta;
    j->esize = strata_dtype_size(j->cl.dtype);
    j->n[0] = j->c->n;
    j->n[1] = (uint64_t)m->bands;
    j->n[2] = st_zarr_nchunks((uint64_t)m->rows, (uint64_t)j->cl.cy);
    j->n[3] = st_zarr_nchunks((uint64_t)m->cols, (uint64_t)j->cl.cx);
    size_t nitems = (size_t)(j->n[0] * j->n[1] * j->n[2] * j->n[3]);
    j->ex = (st_exec){.nitems = nitems,
                      .threads = o->run.threads,
                      .fn = run_item,
                      .ctx = j,
                      .worker_size = sizeof(aworker),
                      .start = worker_init,
                      .stop = worker_free,
                      .progress = o->run.progress,
                      .progress_user = o->run.progress_user,
                      .unit = "chunks"};
    char *dir = st_zarr_path(target, j->plan.name, NULL);
    strata_status st = dir ? st_zarr_mkdir(dir) : st_nomem("path");
    free(dir);
    ST_TRY(st);
    ST_TRY(st_exec_run(&j->ex));
    ST_TRY(st_zarr_write_coords(&j->plan));
    return st_zarr_write_metadata(&j->plan);
}

strata_status strata_anomaly_to_zarr(const strata_collection *c, const char *const *labels,
                                     const char *clim_store, const char *var, const char *store,
                                     const strata_zarr_opts *o) {
    st_clear_error();
    if (!c || !clim_store || !store || !store[0] || !o) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_anomaly_to_zarr: NULL or empty argument");
    }
    labels = labels ? labels : (const char *const *)c->labels;
    if (!labels) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "anomalies need a label per timestep: pass them or set them on the "
                       "collection");
    }
    if (o->zarr_version != 2 && o->zarr_version != 3) {
        return st_fail(STRATA_ERR_INVALID_ARG, "zarr version %d: must be 2 or 3", o->zarr_version);
    }
    if ((unsigned)o->codec > STRATA_CODEC_NONE || o->mode == STRATA_ZARR_APPEND ||
        (unsigned)o->mode > STRATA_ZARR_APPEND || o->step != STRATA_ZARR_STEP_ALL ||
        o->partition.count > 1 || o->run.threads < 0) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "strata_anomaly_to_zarr: modes w and w- only, in one step and one part");
    }
    const char *name = o->name ? o->name : "anomaly";
    if (!name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) >= 48 ||
        st_zarr_reserved_name(name)) {
        return st_fail(STRATA_ERR_INVALID_ARG, "variable name '%s': must be a plain name", name);
    }
    for (size_t t = 0; t < c->n; t++) {
        if (!labels[t]) {
            return st_fail(STRATA_ERR_INVALID_ARG, "%s: has no label",
                           strata_collection_path(c, t));
        }
    }
    ST_TRY(st_meta_crs(c->meta));
    /* Neither an input nor the climatology may be in the way of the new store. */
    ST_TRY(st_zarr_guard((const char *const *)c->paths, c->nfiles, store));
    ST_TRY(st_zarr_guard(&clim_store, 1, store));
    ajob j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.cl.store = clim_store;
    snprintf(j.cl.var, sizeof j.cl.var, "%.48s", var ? var : "mean");
    strata_status st = load_clim(&j.cl, c, labels);
    bool append = false;
    char *target = NULL;
    if (st == STRATA_OK) {
        st = st_zarr_prepare(store, o->mode, &append, &target);
    }
    if (st == STRATA_OK) {
        st = write_store(&j, target, o);
        if (st == STRATA_OK && strcmp(target, store) != 0) {
            st = st_zarr_swap(target, store);
        }
        if (st != STRATA_OK) {
            char saved[2048];
            snprintf(saved, sizeof saved, "%s", strata_errmsg());
            st_zarr_delete(target);
            st_set_errmsg(saved);
        }
    }
    free(j.cl.group_of);
    st_zarr_plan_destroy(&j.plan);
    free(target);
    return st;
}
