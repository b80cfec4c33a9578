/* A groupby into one Zarr store: every op is a variable (group, band, y, x) whose chunks are
 * the engine's tiles of one group and one band, so each finished (group, tile) the engine
 * hands over is encoded and written as its own chunk file, by the worker that finished it,
 * and nothing waits in memory. The group labels are a coordinate named after the grouping
 * (dayofyear, month, ...): int64 when every label is an integer, as xarray's groupby of
 * time.dayofyear gives, else fixed-length text. The store is written beside the old one and
 * swapped in whole, with consolidated metadata, as strata_to_zarr does.
 *
 *   /<op>         (dim, band, y, x) float (count: int32), NaN where missing; geo attrs
 *   /<dim>        the labels
 *   /<dim>_size   int64: timesteps in each group
 *   /band, /y, /x, /spatial_ref   as in strata_to_zarr */
#include "zarr/zarr.h"
#include "reduce/sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct zvar {
    char name[64];
    size_t slot; /* the result's output slot */
    strata_dtype dtype;
    bool has_fill; /* NaN for floats; count is never missing */
} zvar;

/* A writing thread's buffers: taken from the pool for one put, then given back. */
typedef struct zkit {
    st_zarr_coder *coder;
    void *raw;
} zkit;

typedef struct zgroups {
    st_sink base;
    const strata_collection *c;
    const char *store, *dim;
    const strata_zarr_opts *zo;
    strata_result *r;
    char *target; /* where the chunks go: the store, or a folder beside it swapped in at the end */
    bool created;
    int ty, tx; /* chunk rows and columns: the engine's tiles */
    zvar *vars;
    size_t nvars;
    int *var_of; /* [nslots]: index in vars, or -1 */
    bool int_labels;
    st_pool kits; /* writing buffers not in use, one per writing thread at most */
} zgroups;

static bool integer_label(const char *s) {
    const char *p = s + (*s == '-');
    if (!*p || strlen(p) > 18) {
        return false;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

static void kit_free(void *item) {
    zkit *k = item;
    if (k) {
        st_zarr_coder_free(k->coder);
        free(k->raw);
        free(k);
    }
}

static zkit *take_kit(zgroups *s) {
    zkit *k = st_pool_take(&s->kits);
    if (k) {
        return k;
    }
    size_t raw = (size_t)s->ty * s->tx * 8;
    k = st_calloc(1, sizeof *k);
    if (!k) {
        return NULL;
    }
    k->coder = st_zarr_coder_new(s->zo->codec, s->zo->zarr_version, raw);
    k->raw = st_malloc(raw);
    if (!k->coder || !k->raw) {
        kit_free(k);
        return NULL;
    }
    return k;
}

static void give_back_kit(zgroups *s, zkit *k) {
    if (!st_pool_give(&s->kits, k)) {
        kit_free(k);
    }
}

/* Converts rect's values into a full chunk (the part outside the raster holds the fill, as
 * Zarr's regular grid stores edge chunks at full size), encodes it and writes it under a
 * temporary name, renamed when whole. */
static strata_status zg_put(st_sink *base, size_t g, size_t slot, int band, const st_rect *r,
                            const double *values) {
    zgroups *s = (zgroups *)base;
    const zvar *v = &s->vars[s->var_of[slot]];
    zkit *k = take_kit(s);
    if (!k) {
        return st_nomem("chunk buffers");
    }
    size_t esize = strata_dtype_size(v->dtype), n = (size_t)s->ty * s->tx;
    double pad[1] = {NAN};
    for (int row = 0; row < s->ty; row++) {
        char *dst = (char *)k->raw + (size_t)row * s->tx * esize;
        int have = row < r->nrows ? r->ncols : 0;
        if (have) {
            st_convert_out(values + (size_t)row * r->ncols, (size_t)have, v->dtype, NAN, dst);
        }
        for (int x = have; x < s->tx; x++) {
            if (v->has_fill) {
                st_convert_out(pad, 1, v->dtype, NAN, dst + (size_t)x * esize);
            } else {
                memset(dst + (size_t)x * esize, 0, esize);
            }
        }
    }
    char key[160];
    uint64_t idx[4] = {g, (uint64_t)band, (uint64_t)(r->row0 / s->ty), (uint64_t)(r->col0 / s->tx)};
    st_zarr_key4(s->zo->zarr_version, v->name, idx, key, sizeof key);
    strata_status st = st_zarr_write_chunk(k->coder, s->target, key, esize, k->raw, n * esize);
    give_back_kit(s, k);
    return st;
}

/* ---- metadata, written once every chunk is in ------------------------------------------ */

static strata_status write_labels(zgroups *s, const st_zarr_plan *p) {
    size_t ng = s->r->ngroups, width = 1;
    for (size_t g = 0; g < ng; g++) {
        size_t l = strlen(s->r->labels[g]);
        width = l > width ? l : width;
    }
    size_t esize = s->int_labels ? 8 : 4 * width;
    char *buf = st_calloc(ng ? ng : 1, esize);
    int64_t *sizes = st_calloc(ng ? ng : 1, sizeof *sizes);
    if (!buf || !sizes) {
        free(buf);
        free(sizes);
        return st_nomem("labels");
    }
    for (size_t g = 0; g < ng; g++) {
        const char *l = s->r->labels[g];
        sizes[g] = (int64_t)s->r->sizes[g];
        if (s->int_labels) {
            int64_t v = strtoll(l, NULL, 10);
            memcpy(buf + g * 8, &v, 8);
        } else {
            /* numpy's "<U": UTF-32LE code points, zero padded (labels are checked UTF-8). */
            uint32_t *cp = (uint32_t *)(void *)(buf + g * esize);
            const unsigned char *u = (const unsigned char *)l;
            for (size_t i = 0; *u; i++) {
                uint32_t c = *u++;
                int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
                c &= more ? 0x3Fu >> more : 0x7F;
                for (; more && *u; more--) {
                    c = (c << 6) | (*u++ & 0x3F);
                }
                cp[i] = c;
            }
        }
    }
    char key[160], size_name[64];
    snprintf(key, sizeof key, p->version == 3 ? "%s/c/0" : "%s/0", s->dim);
    snprintf(size_name, sizeof size_name, "%.48s_size", s->dim);
    char *path = st_zarr_path(p->store, key, NULL);
    strata_status st = path ? st_zarr_make_parents(path) : st_nomem("path");
    st = st == STRATA_OK ? st_zarr_write_atomic(path, buf, ng * esize) : st;
    free(path);
    snprintf(key, sizeof key, p->version == 3 ? "%s/c/0" : "%s/0", size_name);
    path = st == STRATA_OK ? st_zarr_path(p->store, key, NULL) : NULL;
    if (st == STRATA_OK) {
        st = path ? st_zarr_make_parents(path) : st_nomem("path");
    }
    st = st == STRATA_OK ? st_zarr_write_atomic(path, sizes, ng * 8) : st;
    free(path);
    free(buf);
    free(sizes);
    return st;
}

static void set_array(st_zarr_array *a, const char *name, strata_dtype t, int ndim,
                      const uint64_t *shape, const uint64_t *chunks, const char *const *dims,
                      strata_codec codec, json_t *attrs) {
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->dtype = t;
    a->ndim = ndim;
    memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(a->chunks, chunks, (size_t)ndim * sizeof *chunks);
    memcpy(a->dims, dims, (size_t)ndim * sizeof *dims);
    a->codec = codec;
    a->attrs = attrs;
}

static json_t *root_attrs(const zgroups *s) {
    const strata_collection *c = s->c;
    json_t *src = json_array(), *ops = json_array();
    for (size_t t = 0; src && t < c->n; t++) {
        json_array_append_new(src, json_string(strata_collection_path(c, t)));
    }
    for (size_t i = 0; ops && i < s->nvars; i++) {
        json_array_append_new(ops, json_string(s->vars[i].name));
    }
    return json_pack("{s:i,s:s,s:o,s:o,s:s,s:o,s:i,s:s,s:[iiii]}", "strata_zarr_version",
                     ST_ZARR_LAYOUT_VERSION, "strata_group_dim", s->dim, "strata_ops", ops,
                     "source_files", src, "strata_version", strata_version(), "strata_meta",
                     st_meta_to_jobj(c->meta), "time_length", (int)c->n, "strata_codec",
                     strata_codec_name(s->zo->codec), "strata_chunks", 1, 1, s->ty, s->tx);
}

static strata_status write_metadata(zgroups *s) {
    const strata_meta *m = s->c->meta;
    st_zarr_plan p;
    memset(&p, 0, sizeof p);
    p.c = s->c;
    p.store = s->target;
    p.version = s->zo->zarr_version;
    ST_TRY(st_zarr_write_spatial(&p));
    ST_TRY(write_labels(s, &p));
    size_t n = s->nvars + 6;
    st_zarr_array *a = st_calloc(n, sizeof *a);
    if (!a) {
        return st_nomem("metadata");
    }
    uint64_t ng = s->r->ngroups;
    const uint64_t shape[4] = {ng, (uint64_t)m->bands, (uint64_t)m->rows, (uint64_t)m->cols};
    const uint64_t chunks[4] = {1, 1, (uint64_t)s->ty, (uint64_t)s->tx};
    const char *dims[4] = {s->dim, "band", "y", "x"};
    char size_name[64];
    snprintf(size_name, sizeof size_name, "%.48s_size", s->dim);
    bool ok = true;
    for (size_t i = 0; i < s->nvars; i++) {
        const zvar *v = &s->vars[i];
        json_t *attrs = st_zarr_geo_attrs(m);
        set_array(&a[i], v->name, v->dtype, 4, shape, chunks, dims, s->zo->codec, attrs);
        a[i].has_fill = v->has_fill;
        a[i].fill = NAN;
        if (attrs && v->has_fill && p.version == 3) {
            json_object_set_new(attrs, "_FillValue", st_zarr_fill_b64(NAN));
        }
        ok = ok && attrs;
    }
    uint64_t one[1] = {ng ? ng : 1};
    set_array(&a[s->nvars], s->dim, STRATA_INT64, 1, &ng, one, &s->dim, STRATA_CODEC_NONE,
              json_pack("{s:s}", "long_name", "group label"));
    if (!s->int_labels) {
        size_t width = 1;
        for (size_t g = 0; g < ng; g++) {
            size_t l = strlen(s->r->labels[g]);
            width = l > width ? l : width;
        }
        a[s->nvars].str_len = (int)width;
    }
    const char *sdims[1] = {s->dim};
    set_array(&a[s->nvars + 1], size_name, STRATA_INT64, 1, &ng, one, sdims, STRATA_CODEC_NONE,
              json_pack("{s:s}", "long_name", "timesteps in the group"));
    st_zarr_spatial_arrays(m, &a[s->nvars + 2]);
    for (size_t i = s->nvars; i < n; i++) {
        ok = ok && a[i].attrs;
    }
    json_t *root = ok ? root_attrs(s) : NULL;
    strata_status st = st_zarr_write_docs(&p, a, (int)n, root);
    json_decref(root);
    for (size_t i = 0; i < n; i++) {
        json_decref(a[i].attrs);
    }
    free(a);
    return st;
}

/* ---- the request -------------------------------------------------------------------------- */

typedef struct zrequest {
    const strata_collection *c;
    const char *store, *dim;
    const strata_zarr_opts *zo;
    zgroups *sink;
} zrequest;

static void zgroups_free(zgroups *s) {
    st_pool_destroy(&s->kits, kit_free);
    free(s->vars);
    free(s->var_of);
    free(s->target);
    free(s);
}

static strata_status make_vars(zgroups *s, const st_outputs *outs) {
    strata_result *r = s->r;
    s->vars = st_calloc(r->nslots, sizeof *s->vars);
    s->var_of = st_calloc(r->nslots, sizeof *s->var_of);
    if (!s->vars || !s->var_of) {
        return st_nomem("variables");
    }
    for (size_t slot = 0; slot < r->nslots; slot++) {
        s->var_of[slot] = -1;
        if (!st_slot_used(r, slot)) {
            continue;
        }
        zvar *v = &s->vars[s->nvars];
        st_slot_name(r, slot, v->name, sizeof v->name);
        if (strcmp(v->name, s->dim) == 0) {
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "the group dimension cannot be named %s: an "
                           "op's variable has that name",
                           s->dim);
        }
        v->slot = slot;
        v->dtype = outs->slot[slot].dtype;
        v->has_fill = outs->slot[slot].has_nodata != 0;
        s->var_of[slot] = (int)s->nvars++;
    }
    return STRATA_OK;
}

static strata_status zg_open(void *ctx, strata_result *r, const strata_meta *m,
                             const st_outputs *outs, st_sink **out) {
    zrequest *q = ctx;
    zgroups *s = st_calloc(1, sizeof *s);
    if (!s) {
        return st_nomem("Zarr sink");
    }
    st_pool_init(&s->kits);
    s->base.put = zg_put;
    s->c = q->c;
    s->store = q->store;
    s->dim = q->dim;
    s->zo = q->zo;
    s->r = r;
    s->ty = outs->tile_rows;
    s->tx = outs->tile_cols;
    (void)m;
    q->sink = s;
    s->int_labels = r->ngroups > 0;
    for (size_t g = 0; g < r->ngroups; g++) {
        s->int_labels = s->int_labels && integer_label(r->labels[g]);
        ST_TRY(st_check_utf8("group label", r->labels[g]));
    }
    if (!s->int_labels && s->zo->zarr_version == 3) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: text labels (such as '%s') need Zarr version 2; only integer labels "
                       "can be written to version 3",
                       q->store, r->ngroups ? r->labels[0] : "");
    }
    ST_TRY(make_vars(s, outs));
    bool append = false;
    ST_TRY(st_zarr_prepare(q->store, q->zo->mode, &append, &s->target));
    s->created = true;
    for (size_t i = 0; i < s->nvars; i++) {
        char *dir = st_zarr_path(s->target, s->vars[i].name, NULL);
        strata_status st = dir ? st_zarr_mkdir(dir) : st_nomem("path");
        free(dir);
        ST_TRY(st);
    }
    *out = &s->base;
    return STRATA_OK;
}

static strata_status zg_finish(void *ctx, st_sink *base, bool ok) {
    zrequest *q = ctx;
    zgroups *s = q->sink;
    (void)base;
    if (!s) {
        return STRATA_OK;
    }
    strata_status st = STRATA_OK;
    if (ok && s->target) {
        st = write_metadata(s);
        if (st == STRATA_OK && strcmp(s->target, s->store) != 0) {
            st = st_zarr_swap(s->target, s->store);
        }
    }
    if ((!ok || st != STRATA_OK) && s->created && s->target) {
        /* What this run created goes, its message kept: nothing that looks complete stays. */
        char saved[2048];
        snprintf(saved, sizeof saved, "%s", strata_errmsg());
        st_zarr_delete(s->target);
        st_set_errmsg(saved);
    }
    zgroups_free(s);
    q->sink = NULL;
    return st;
}

static bool plain_name(const char *n) {
    return n[0] && n[0] != '.' && !strchr(n, '/') && strlen(n) < 48 && !st_zarr_reserved_name(n);
}

strata_status st_zarr_groups_sink(const strata_collection *c, const strata_reduce_opts *opts,
                                  const char *dim, const char *store, const strata_zarr_opts *zopts,
                                  st_sink_maker *mk) {
    if (!c || !store || !store[0] || !opts || !zopts) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_groupby_to_zarr: NULL or empty argument");
    }
    dim = dim ? dim : "group";
    if (!plain_name(dim) || strcmp(dim, "time") == 0) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "group dimension '%s': must be a plain name (no '/', no leading '.') "
                       "other than time, band, y, x, spatial_ref",
                       dim);
    }
    if (zopts->zarr_version != 2 && zopts->zarr_version != 3) {
        return st_fail(STRATA_ERR_INVALID_ARG, "zarr version %d: must be 2 or 3",
                       zopts->zarr_version);
    }
    if ((unsigned)zopts->codec > STRATA_CODEC_NONE || (unsigned)zopts->mode > STRATA_ZARR_APPEND) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_groupby_to_zarr: unknown codec or mode");
    }
    if (zopts->mode == STRATA_ZARR_APPEND) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "%s: a groupby store is written whole (mode w or w-), not appended to",
                       store);
    }
    if (opts->partition.count > 1) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "strata_groupby_to_zarr: a distributed run writes GeoTIFFs");
    }
    ST_TRY(st_meta_crs(c->meta));
    const double *gt = c->meta->gt;
    if (gt[2] != 0 || gt[4] != 0) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: the geotransform is rotated; a Zarr store's 1-D x/y coordinates "
                       "cannot hold a rotation: warp the files north-up first (gdalwarp)",
                       strata_collection_path(c, 0));
    }
    ST_TRY(st_zarr_guard((const char *const *)c->paths, c->nfiles, store));
    zrequest *q = st_calloc(1, sizeof *q);
    if (!q) {
        return st_nomem("groupby store");
    }
    *q = (zrequest){c, store, dim, zopts, NULL};
    *mk = (st_sink_maker){ST_TARGET_ZARR, zg_open, zg_finish, q};
    return STRATA_OK;
}
