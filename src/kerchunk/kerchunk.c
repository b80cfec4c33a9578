/* strata_kerchunk: one kerchunk (version 1) reference file over many NetCDF/HDF5/GeoTIFF files.
 *
 * The first file is the template: it decides the variables, and how each one meets the
 * concat dimension. A variable that has the dimension is concatenated along it (its chunk
 * indices along that axis continue from the previous file's); a file stack without the
 * dimension gets a new leading one, one file per step; anything else (lat, lon) is taken from
 * the first file. Each later file is read, checked against the template (shapes, chunking,
 * types, codecs, fill, scale and offset), and its references added, then freed, so memory
 * grows with the references only. The concat coordinate's values are concatenated and
 * inlined as one chunk. */
#include "common/log.h"
#include "common/opts.h"
#include "kerchunk/kerchunk.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

/* ASCII only: zarr decodes metadata as ASCII, and a CRS's WKT has degree signs. Doubles
 * with 17 digits round-trip exactly. */
#define KC_JSON_FLAGS (JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(17))

typedef enum { KC_STATIC, KC_ALONG, KC_NEW } kc_mode;
typedef enum { KC_FMT_HDF5, KC_FMT_NC3, KC_FMT_TIFF } kc_format;

typedef struct kc_out {
    const kc_var *tmpl; /* in the first file */
    kc_mode mode;
    int axis;          /* KC_ALONG: the concat axis */
    bool coord;        /* the concat coordinate: values concatenated and inlined */
    uint64_t total;    /* KC_ALONG: length along the axis so far */
    uint64_t chunk_at; /* KC_ALONG: chunk index of the next file's first chunk */
    unsigned char *values;
    size_t nvalues;
    int direction;  /* of the coordinate so far: 1 increasing, -1 decreasing, 0 not known */
    char *fill_b64; /* the inline chunk written for chunks a file lacks */
} kc_out;

typedef struct kc_job {
    const strata_kerchunk_opts *opts;
    const char *const *paths;
    size_t n;
    const char *dim;
    kc_format format;
    kc_file first;
    strata_meta *geo; /* GeoTIFF: the first file's geobox */
    kc_out *out;
    size_t nout;
    json_t *refs;
    kc_remote *remote;        /* http(s) URLs: headers fetched many at a time, or NULL */
    unsigned char *tmpl_keys; /* remote GeoTIFFs: the first file's compared tags */
    size_t tmpl_keys_len;
} kc_job;

void strata_kerchunk_opts_init(strata_kerchunk_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->inline_threshold = 500;
}

/* ---- reading one file ---------------------------------------------------------------- */

/* An HDF5 file may start with a user block (MATLAB v7.3 writes 512 bytes): the superblock
 * is then at 512, 1024, 2048, ... (the HDF5 spec), and libhdf5 finds it there itself. */
static bool hdf5_after_user_block(const kc_src *s) {
    for (uint64_t off = 512; off < s->size && s->size - off >= 8; off *= 2) {
        unsigned char head[8];
        if (kc_read(s, off, head, 8) == STRATA_OK && kc_is_hdf5(head, 8)) {
            return true;
        }
    }
    return false;
}

static strata_status detect(const char *path, kc_format *fmt) {
    kc_src s;
    unsigned char head[8] = {0};
    ST_TRY(kc_src_open(&s, path));
    strata_status st = kc_read(&s, 0, head, s.size < 8 ? (size_t)s.size : 8);
    bool user_block = st == STRATA_OK && !kc_is_hdf5(head, 8) && !kc_is_nc3(head, 8) &&
                      !st_tiff_magic(head, 8) && hdf5_after_user_block(&s);
    kc_src_close(&s);
    ST_TRY(st);
    if (kc_is_hdf5(head, 8) || user_block) {
        *fmt = KC_FMT_HDF5;
    } else if (kc_is_nc3(head, 8)) {
        *fmt = KC_FMT_NC3;
    } else if (st_tiff_magic(head, 8)) {
        *fmt = KC_FMT_TIFF;
    } else {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: not a NetCDF4/HDF5, NetCDF3 or GeoTIFF file (unknown signature)", path);
    }
    return STRATA_OK;
}

static strata_status read_nc3(const char *path, const kc_read_opts *ro, kc_file *f) {
    kc_src s;
    ST_TRY(kc_src_open(&s, path));
    strata_status st = kc_nc3_read(&s, ro, f);
    kc_src_close(&s);
    return st;
}

static strata_status check_format(const kc_job *j, size_t i, kc_format fmt) {
    if (i > 0 && fmt != j->format) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: a different format from %s", j->paths[i],
                       j->paths[0]);
    }
    return STRATA_OK;
}

/* A remote GeoTIFF whose compared tags (grid, CRS, nodata: source/geokeys.c) are the first
 * file's has the first file's geobox: GDAL opens only the first file, and files that differ. */
static strata_status remote_geotiff(kc_job *j, size_t i, const kc_src *s, const kc_read_opts *ro,
                                    kc_file *f, strata_meta **geo) {
    const char *name = j->opts->var ? j->opts->var : "data";
    size_t cap = s->nbuf + 16 * 16, len = 0;
    unsigned char *keys = st_malloc(cap);
    if (!keys) {
        return st_nomem("GeoTIFF tags");
    }
    bool known = st_geokeys_from_bytes(s->buf, s->nbuf, keys, cap, &len);
    if (i == 0 && known) {
        j->tmpl_keys = keys;
        j->tmpl_keys_len = len;
        keys = NULL;
    }
    bool same = i > 0 && known && j->tmpl_keys && len == j->tmpl_keys_len &&
                memcmp(keys, j->tmpl_keys, len) == 0;
    free(keys);
    strata_status st =
        same ? STRATA_OK : strata_meta_from_file(kc_remote_gdal_path(j->remote, i), geo);
    if (st == STRATA_OK) {
        st = kc_geotiff_read_src(s, same ? j->geo : *geo, name, ro, f);
    }
    if (st != STRATA_OK) {
        strata_meta_free(*geo);
        *geo = NULL;
    }
    return st;
}

static strata_status read_remote(kc_job *j, size_t i, kc_file *f, strata_meta **geo) {
    kc_src s;
    memset(f, 0, sizeof *f);
    ST_TRY(kc_remote_open(j->remote, i, &s));
    kc_read_opts ro = {.inline_threshold = j->opts->inline_threshold, .concat_dim = j->dim};
    kc_format fmt = st_tiff_magic(s.buf, s.nbuf) ? KC_FMT_TIFF
                    : kc_is_nc3(s.buf, s.nbuf)   ? KC_FMT_NC3
                                                 : KC_FMT_HDF5;
    strata_status st = check_format(j, i, fmt);
    if (st == STRATA_OK && fmt == KC_FMT_HDF5) {
        st = st_fail(STRATA_ERR_UNSUPPORTED,
                     "%s: not a GeoTIFF or NetCDF3 file (NetCDF4/HDF5 files are indexed from "
                     "local paths only)",
                     j->paths[i]);
    }
    if (st == STRATA_OK) {
        j->format = fmt;
        st = fmt == KC_FMT_NC3 ? kc_nc3_read(&s, &ro, f) : remote_geotiff(j, i, &s, &ro, f, geo);
    }
    kc_remote_close(j->remote, i, &s);
    return st;
}

static strata_status read_one(kc_job *j, size_t i, kc_file *f, strata_meta **geo) {
    if (j->remote) {
        return read_remote(j, i, f, geo);
    }
    const char *path = j->paths[i];
    kc_format fmt = KC_FMT_HDF5;
    ST_TRY(detect(path, &fmt));
    ST_TRY(check_format(j, i, fmt));
    j->format = fmt;
    kc_read_opts ro = {.inline_threshold = j->opts->inline_threshold, .concat_dim = j->dim};
    switch (fmt) {
    case KC_FMT_HDF5:
        return kc_hdf5_read(path, &ro, f);
    case KC_FMT_NC3:
        return read_nc3(path, &ro, f);
    default:
        return kc_geotiff_read(path, j->opts->var ? j->opts->var : "data", &ro, f, geo);
    }
}

/* ---- choosing the variables ---------------------------------------------------------- */

static bool has_dim(const kc_var *v, const char *dim, int *axis) {
    for (int d = 0; d < v->ndim; d++) {
        if (strcmp(v->dims[d], dim) == 0) {
            *axis = d;
            return true;
        }
    }
    return false;
}

static bool file_has_dim(const kc_file *f, const char *dim) {
    int axis;
    for (size_t i = 0; i < f->nvars; i++) {
        if (!f->vars[i].unsupported && has_dim(&f->vars[i], dim, &axis)) {
            return true;
        }
    }
    return false;
}

static bool is_dim_coord(const kc_var *v) {
    return v->ndim == 1 && strcmp(v->name, v->dims[0]) == 0;
}

/* Whether the attribute key of v names `name`. grid_mapping may take CF's extended form
 * "crs: x y crs2: lat lon", where the mappings are the words ending in ':'. */
static bool names(const kc_var *v, const char *key, const char *name) {
    const char *text = json_string_value(json_object_get(v->attrs, key));
    bool extended = text && strchr(text, ':') && strcmp(key, "grid_mapping") == 0;
    size_t len = strlen(name);
    for (const char *p = text; p && *p;) {
        p += strspn(p, " \t\n");
        size_t n = strcspn(p, " \t\n");
        bool colon = n > 0 && p[n - 1] == ':';
        if ((!extended || colon) && n - colon == len && strncmp(p, name, len) == 0) {
            return true;
        }
        p += n;
    }
    return false;
}

/* A CF grid mapping: it has grid_mapping_name (or is a scalar with a CRS's WKT), or a
 * variable names it. */
static bool is_grid_mapping(const kc_file *f, const kc_var *v) {
    if (json_object_get(v->attrs, "grid_mapping_name") ||
        (v->ndim == 0 &&
         (json_object_get(v->attrs, "crs_wkt") || json_object_get(v->attrs, "spatial_ref")))) {
        return true;
    }
    for (size_t i = 0; i < f->nvars; i++) {
        if (names(&f->vars[i], "grid_mapping", v->name)) {
            return true;
        }
    }
    return false;
}

/* Char data is indexed only as a grid mapping, whose attributes are what counts. */
static const char *skip_reason(const kc_file *f, const kc_var *v) {
    if (v->unsupported) {
        return v->unsupported;
    }
    return v->text && !is_grid_mapping(f, v) ? "char (text) variables are not indexed" : NULL;
}

/* With --var: the variable, the coordinates of its dimensions, and the variables its
 * grid_mapping and coordinates attributes name (the CRS, auxiliary lat/lon). */
static bool wanted(const kc_job *j, const kc_var *v) {
    const char *var = j->opts->var;
    if (skip_reason(&j->first, v)) {
        return false;
    }
    if (!var || strcmp(v->name, var) == 0) {
        return true;
    }
    const kc_var *target = kc_file_find(&j->first, var);
    int axis;
    return target &&
           ((is_dim_coord(v) && has_dim(target, v->name, &axis)) ||
            names(target, "grid_mapping", v->name) || names(target, "coordinates", v->name));
}

static strata_status check_requested(const kc_job *j) {
    const char *var = j->opts->var;
    const kc_var *v = var ? kc_file_find(&j->first, var) : NULL;
    if (var && !v) {
        return st_fail(STRATA_ERR_INVALID_ARG, "%s: no variable '%s'", j->paths[0], var);
    }
    if (v && skip_reason(&j->first, v)) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "%s: variable '%s' cannot be indexed: %s",
                       j->paths[0], var, skip_reason(&j->first, v));
    }
    return STRATA_OK;
}

/* Without --var, every variable left out is reported through opts->warn; an index left
 * with coordinates only is refused, since it would hide that the data was not indexed. */
static strata_status report_skipped(const kc_job *j) {
    char list[512] = "";
    size_t at = 0, data = 0;
    for (size_t i = 0; i < j->nout; i++) {
        data += !is_dim_coord(j->out[i].tmpl) && !is_grid_mapping(&j->first, j->out[i].tmpl);
    }
    for (size_t i = 0; !j->opts->var && i < j->first.nvars; i++) {
        const kc_var *v = &j->first.vars[i];
        const char *why = skip_reason(&j->first, v);
        if (!why) {
            continue;
        }
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: variable '%s' skipped: %s", j->paths[0], v->name, why);
        if (j->opts->warn) {
            j->opts->warn(j->opts->warn_data, msg);
        } else {
            st_log(STRATA_LOG_WARNING, "%s", msg);
        }
        if (at < sizeof list) {
            at += (size_t)snprintf(list + at, sizeof list - at, "%s'%s' (%s)", at ? ", " : "",
                                   v->name, why);
        }
    }
    if (data == 0 && at > 0) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: nothing but coordinates can be indexed; skipped: %s", j->paths[0],
                       list);
    }
    return STRATA_OK;
}

static strata_status plan(kc_job *j) {
    ST_TRY(check_requested(j));
    bool along = file_has_dim(&j->first, j->dim);
    j->out = st_calloc(j->first.nvars, sizeof *j->out);
    if (!j->out) {
        return st_nomem("variables");
    }
    for (size_t i = 0; i < j->first.nvars; i++) {
        const kc_var *v = &j->first.vars[i];
        if (!wanted(j, v)) {
            continue;
        }
        kc_out *o = &j->out[j->nout++];
        o->tmpl = v;
        if (along && has_dim(v, j->dim, &o->axis)) {
            o->mode = KC_ALONG;
            o->coord = v->ndim == 1 && strcmp(v->name, j->dim) == 0;
        } else if (!along && j->n > 1 && !is_dim_coord(v) && !is_grid_mapping(&j->first, v)) {
            o->mode = KC_NEW; /* a grid mapping stays one variable, as the files share it */
        }
    }
    if (j->nout == 0) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "%s: no variable that can be indexed", j->paths[0]);
    }
    return report_skipped(j);
}

/* ---- checking a file against the first ---------------------------------------------- */

static void shape_text(const uint64_t *s, int n, char *buf, size_t size) {
    size_t at = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < n && at < size; d++) {
        at += (size_t)snprintf(buf + at, size - at, "%s%llu", d ? ", " : "",
                               (unsigned long long)s[d]);
    }
    if (at < size) {
        snprintf(buf + at, size - at, ")");
    }
}

static strata_status differ_shape(const kc_job *j, size_t i, const kc_var *v, const char *what,
                                  const uint64_t *a, const uint64_t *b) {
    char ta[256], tb[256];
    shape_text(a, v->ndim, ta, sizeof ta);
    shape_text(b, v->ndim, tb, sizeof tb);
    return st_fail(STRATA_ERR_MISALIGNED, "%s: variable '%s' has %s %s, but %s has %s", j->paths[i],
                   v->name, what, ta, j->paths[0], tb);
}

static bool same_json(const json_t *a, const json_t *b) {
    return (!a && !b) || (a && b && json_equal((json_t *)a, (json_t *)b));
}

static bool same_attr(const kc_var *a, const kc_var *b, const char *key) {
    return same_json(json_object_get(a->attrs, key), json_object_get(b->attrs, key));
}

static strata_status differ(const kc_job *j, size_t i, const kc_var *v, const char *what) {
    return st_fail(STRATA_ERR_MISALIGNED, "%s: variable '%s' differs from %s in its %s",
                   j->paths[i], v->name, j->paths[0], what);
}

static strata_status check_shapes(const kc_job *j, size_t i, const kc_out *o, const kc_var *v) {
    const kc_var *t = o->tmpl;
    for (int d = 0; d < t->ndim; d++) {
        if (strcmp(v->dims[d], t->dims[d]) != 0) {
            /* GeoTIFF: band first is band-interleaved (planar), band last pixel-interleaved. */
            return differ(
                j, i, v, j->geo ? "interleave (pixel- or band-interleaved samples)" : "dimensions");
        }
        if (v->chunks[d] != t->chunks[d] && !o->coord) {
            return differ_shape(j, i, v, "chunks", v->chunks, t->chunks);
        }
        if (v->shape[d] != t->shape[d] && (o->mode != KC_ALONG || d != o->axis)) {
            return differ_shape(j, i, v, "shape", v->shape, t->shape);
        }
    }
    return STRATA_OK;
}

static strata_status check_var(const kc_job *j, size_t i, const kc_out *o, const kc_var *v) {
    const kc_var *t = o->tmpl;
    if (!v) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: has no variable '%s' (%s has)", j->paths[i],
                       t->name, j->paths[0]);
    }
    if (v->unsupported || v->text != t->text) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "%s: variable '%s' cannot be indexed: %s",
                       j->paths[i], v->name, v->unsupported ? v->unsupported : "its type differs");
    }
    if (v->ndim != t->ndim) {
        return differ(j, i, v, "number of dimensions");
    }
    if (strcmp(v->dtype, t->dtype) != 0) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: variable '%s' is %s, but %s has %s", j->paths[i],
                       v->name, v->dtype, j->paths[0], t->dtype);
    }
    ST_TRY(check_shapes(j, i, o, v));
    if (!o->coord &&
        (!same_json(v->compressor, t->compressor) || !same_json(v->filters, t->filters))) {
        return differ(j, i, v, "codecs (compression, shuffle)");
    }
    if (!same_json(v->fill, t->fill) || !same_json(v->missing, t->missing)) {
        return differ(j, i, v, "fill value");
    }
    if (!same_attr(v, t, "scale_factor") || !same_attr(v, t, "add_offset")) {
        return differ(j, i, v, "scale_factor or add_offset");
    }
    if (o->coord && !same_attr(v, t, "units")) {
        return differ(j, i, v, "units");
    }
    return STRATA_OK;
}

/* ---- references ---------------------------------------------------------------------- */

static uint64_t grid(const kc_var *v, int d) {
    return v->shape[d] / v->chunks[d] + (v->shape[d] % v->chunks[d] != 0);
}

/* "name/[lead.]i.j.k" of flat chunk k of v, the concat axis shifted by shift. */
static void chunk_key(const kc_var *v, size_t k, long long lead, int axis, uint64_t shift,
                      char *buf, size_t size) {
    uint64_t idx[KC_MAXDIM];
    for (int d = v->ndim - 1; d >= 0; d--) {
        idx[d] = k % grid(v, d);
        k /= grid(v, d);
    }
    size_t at = (size_t)snprintf(buf, size, "%s/", v->name);
    if (lead >= 0) {
        at += (size_t)snprintf(buf + at, size - at, "%lld%s", lead, v->ndim ? "." : "");
    }
    for (int d = 0; d < v->ndim && at < size; d++) {
        uint64_t x = idx[d] + (d == axis ? shift : 0);
        at += (size_t)snprintf(buf + at, size - at, "%s%llu", d ? "." : "", (unsigned long long)x);
    }
    if (v->ndim == 0 && lead < 0) {
        snprintf(buf + at, size > at ? size - at : 0, "0");
    }
}

static json_t *chunk_ref(const kc_chunk *c, const char *path) {
    if (c->data) {
        char *b64 = st_base64("base64:", c->data, (size_t)c->size);
        json_t *s = b64 ? json_string(b64) : NULL;
        free(b64);
        return s;
    }
    return json_pack("[s, I, I]", path, (json_int_t)c->offset, (json_int_t)c->size);
}

/* fsspec 2022.11 fails on missing keys, so a chunk the file lacks is written as fill. */
static json_t *fill_ref(kc_out *o, const kc_var *v) {
    if (!o->fill_b64) {
        unsigned char *buf;
        size_t n;
        if (kc_fill_chunk(v, &buf, &n) != STRATA_OK) {
            return NULL;
        }
        o->fill_b64 = st_base64("base64:", buf, n);
        free(buf);
    }
    return o->fill_b64 ? json_string(o->fill_b64) : NULL;
}

static strata_status add_chunks(kc_job *j, size_t i, kc_out *o, const kc_var *v, const char *path) {
    long long lead = o->mode == KC_NEW ? (long long)i : -1;
    int axis = o->mode == KC_ALONG ? o->axis : -1;
    for (size_t k = 0; k < v->nchunks; k++) {
        char key[1024];
        chunk_key(v, k, lead, axis, o->chunk_at, key, sizeof key);
        json_t *ref = v->chunk[k].present ? chunk_ref(&v->chunk[k], path) : fill_ref(o, v);
        if (!ref || json_object_set_new(j->refs, key, ref) != 0) {
            return st_nomem("references");
        }
    }
    return STRATA_OK;
}

static strata_status append_values(kc_out *o, const kc_var *v, const char *path) {
    if (!v->values) {
        return st_fail(STRATA_ERR_IO, "%s: cannot read the values of '%s'", path, v->name);
    }
    unsigned char *grown = st_realloc(o->values, o->nvalues + v->values_size);
    if (!grown) {
        return st_nomem("coordinate values");
    }
    memcpy(grown + o->nvalues, v->values, v->values_size);
    o->values = grown;
    o->nvalues += v->values_size;
    return STRATA_OK;
}

/* Chunks along the axis must tile it exactly, or the next file's would be misplaced. */
static strata_status advance(const kc_job *j, size_t i, kc_out *o, const kc_var *v) {
    uint64_t len = v->shape[o->axis], c = v->chunks[o->axis];
    if (!o->coord && i + 1 < j->n && len % c != 0) {
        return st_fail(STRATA_ERR_MISALIGNED,
                       "%s: variable '%s' has %llu steps along '%s', not a multiple of its "
                       "chunk size %llu there, so the next file's chunks cannot follow on",
                       j->paths[i], v->name, (unsigned long long)len, j->dim,
                       (unsigned long long)c);
    }
    o->total += len;
    o->chunk_at += len / c + (len % c != 0);
    return STRATA_OK;
}

static double value_at(const kc_var *t, const unsigned char *values, size_t k) {
    json_t *j = kc_json_value(t->dtype, values + k * kc_dtype_size(t->dtype));
    double d = json_is_number(j) ? json_number_value(j) : NAN;
    if (json_is_string(j)) {
        d = strtod(json_string_value(j) + 1, NULL); /* KC_RAW: NaN, infinities, uint64 */
    }
    json_decref(j);
    return d;
}

/* The concatenated coordinate must be strictly monotonic: files given out of order, twice,
 * or concatenated along a dimension they share (latitude of two months) would otherwise
 * make a cube that lies about where its data is. Checked from the previous file's last
 * value on, so the message names the file that breaks the order. */
static strata_status check_order(const kc_job *j, size_t i, kc_out *o, size_t from) {
    const kc_var *t = o->tmpl;
    size_t n = o->nvalues / kc_dtype_size(t->dtype);
    for (size_t k = from ? from : 1; k < n; k++) {
        double a = value_at(t, o->values, k - 1), b = value_at(t, o->values, k);
        int step = b > a ? 1 : b < a ? -1 : 0;
        if (o->direction == 0) {
            o->direction = step;
        }
        if (step == 0 || step != o->direction) {
            return st_fail(STRATA_ERR_MISALIGNED,
                           "%s: the '%s' coordinate %s (%.17g after %.17g): the files must be "
                           "given in order along '%s', each once",
                           j->paths[i], t->name,
                           step == 0 ? (isnan(a) || isnan(b) ? "has a NaN" : "repeats a value")
                                     : "turns back",
                           b, a, j->dim);
        }
    }
    return STRATA_OK;
}

static strata_status add_var(kc_job *j, size_t i, kc_out *o, const kc_var *v, const char *path) {
    if (o->mode == KC_STATIC && i > 0) {
        return STRATA_OK;
    }
    if (o->coord) {
        size_t from = o->nvalues / kc_dtype_size(o->tmpl->dtype);
        ST_TRY(append_values(o, v, j->paths[i]));
        o->total += v->shape[0];
        return check_order(j, i, o, from);
    }
    ST_TRY(add_chunks(j, i, o, v, path));
    return o->mode == KC_ALONG ? advance(j, i, o, v) : STRATA_OK;
}

static strata_status ref_path(const kc_job *j, size_t i, char **out) {
    if (j->remote || !j->opts->absolute_paths) {
        *out = st_strdup(j->remote ? kc_remote_url(j->remote, i) : j->paths[i]);
        return *out ? STRATA_OK : st_nomem("path");
    }
    char *abs = realpath(j->paths[i], NULL);
    if (!abs) {
        return st_fail(STRATA_ERR_IO, "%s: %s", j->paths[i], strerror(errno));
    }
    *out = st_strdup(abs);
    free(abs);
    return *out ? STRATA_OK : st_nomem("path");
}

/* The first way two GeoTIFFs' geoboxes differ, in words. */
static const char *geo_difference(const strata_meta *a, const strata_meta *b) {
    int ax, ay, bx, by;
    strata_meta_block_size(a, &ax, &ay);
    strata_meta_block_size(b, &bx, &by);
    double ga[6], gb[6];
    strata_meta_geotransform(a, ga);
    strata_meta_geotransform(b, gb);
    if (strata_meta_rows(a) != strata_meta_rows(b) || strata_meta_cols(a) != strata_meta_cols(b)) {
        return "size";
    }
    if (strata_meta_bands(a) != strata_meta_bands(b)) {
        return "number of bands";
    }
    if (strata_meta_dtype(a) != strata_meta_dtype(b)) {
        return "data type";
    }
    if (ax != bx || ay != by) {
        return "tile size (block size)";
    }
    if (memcmp(ga, gb, sizeof ga) != 0) {
        return "geotransform";
    }
    if (strata_meta_epsg(a) != strata_meta_epsg(b) ||
        strcmp(strata_meta_crs_wkt(a), strata_meta_crs_wkt(b)) != 0) {
        return "CRS";
    }
    for (int k = 0; k < strata_meta_bands(a); k++) {
        double na, nb;
        int ha = strata_meta_nodata(a, k, &na), hb = strata_meta_nodata(b, k, &nb);
        if (ha != hb || (ha && memcmp(&na, &nb, sizeof na) != 0)) {
            return "nodata";
        }
    }
    return "band names or driver";
}

static strata_status check_geo(const kc_job *j, size_t i, const strata_meta *geo) {
    if (j->geo && geo && !strata_meta_equal(j->geo, geo)) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: its geobox differs from %s's in its %s",
                       j->paths[i], j->paths[0], geo_difference(geo, j->geo));
    }
    return STRATA_OK;
}

static strata_status add_file(kc_job *j, size_t i, const kc_file *f) {
    char *path;
    ST_TRY(ref_path(j, i, &path));
    strata_status st = STRATA_OK;
    for (size_t k = 0; st == STRATA_OK && k < j->nout; k++) {
        kc_out *o = &j->out[k];
        const kc_var *v = i == 0 ? o->tmpl : kc_file_find(f, o->tmpl->name);
        st = i == 0 ? STRATA_OK : check_var(j, i, o, v);
        if (st == STRATA_OK) {
            st = add_var(j, i, o, v, path);
        }
    }
    free(path);
    return st;
}

static strata_status index_files(kc_job *j) {
    ST_TRY(kc_remote_new(j->paths, j->n, &j->remote));
    ST_TRY(read_one(j, 0, &j->first, &j->geo));
    ST_TRY(plan(j));
    ST_TRY(add_file(j, 0, &j->first));
    for (size_t i = 1; i < j->n; i++) {
        kc_file f;
        strata_meta *geo = NULL;
        ST_TRY(read_one(j, i, &f, &geo));
        strata_status st = check_geo(j, i, geo);
        if (st == STRATA_OK) {
            st = add_file(j, i, &f);
        }
        kc_file_free(&f);
        strata_meta_free(geo);
        ST_TRY(st);
    }
    return STRATA_OK;
}

/* ---- metadata ------------------------------------------------------------------------ */

static json_t *u64_list(const uint64_t *a, int n, bool lead, uint64_t first) {
    json_t *l = json_array();
    if (l && lead) {
        json_array_append_new(l, json_integer((json_int_t)first));
    }
    for (int d = 0; l && d < n; d++) {
        json_array_append_new(l, json_integer((json_int_t)a[d]));
    }
    return l;
}

static strata_status put_json(kc_job *j, const char *name, const char *file, json_t *o) {
    char key[1024];
    char *text = o ? kc_dumps(o, KC_JSON_FLAGS) : NULL;
    json_decref(o);
    snprintf(key, sizeof key, "%s/%s", name, file);
    json_t *s = text ? json_string(text) : NULL;
    free(text);
    if (!s || json_object_set_new(j->refs, name[0] ? key : file, s) != 0) {
        return st_nomem("metadata");
    }
    return STRATA_OK;
}

static json_t *codec_json(const json_t *c) {
    return c ? json_deep_copy(c) : json_null();
}

static strata_status put_zarray(kc_job *j, const kc_out *o) {
    const kc_var *t = o->tmpl;
    uint64_t shape[KC_MAXDIM], chunks[KC_MAXDIM];
    memcpy(shape, t->shape, sizeof shape);
    memcpy(chunks, t->chunks, sizeof chunks);
    if (o->mode == KC_ALONG) {
        shape[o->axis] = o->total;
    }
    if (o->coord) {
        chunks[0] = o->total ? o->total : 1;
    }
    bool lead = o->mode == KC_NEW;
    bool plain = o->coord || !t->filters || json_array_size(t->filters) == 0;
    json_t *z = json_pack("{s:o, s:o, s:s, s:o, s:o, s:s, s:o, s:i}", "chunks",
                          u64_list(chunks, t->ndim, lead, 1), "compressor",
                          o->coord ? json_null() : codec_json(t->compressor), "dtype", t->dtype,
                          "fill_value", t->fill ? json_deep_copy(t->fill) : json_null(), "filters",
                          plain ? json_null() : json_deep_copy(t->filters), "order", "C", "shape",
                          u64_list(shape, t->ndim, lead, j->n), "zarr_format", 2);
    return put_json(j, t->name, ".zarray", z);
}

static strata_status put_zattrs(kc_job *j, const kc_out *o) {
    const kc_var *t = o->tmpl;
    json_t *a = json_deep_copy(t->attrs), *dims = json_array();
    if (dims && o->mode == KC_NEW) {
        json_array_append_new(dims, json_string(j->dim));
    }
    for (int d = 0; dims && d < t->ndim; d++) {
        json_array_append_new(dims, json_string(t->dims[d]));
    }
    if (a && dims) {
        json_object_set_new(a, "_ARRAY_DIMENSIONS", dims);
        dims = NULL;
    }
    json_decref(dims);
    return put_json(j, t->name, ".zattrs", a);
}

static strata_status put_coord_chunk(kc_job *j, const kc_out *o) {
    char key[1024];
    snprintf(key, sizeof key, "%s/0", o->tmpl->name);
    if (o->nvalues == 0) {
        return STRATA_OK;
    }
    char *b64 = st_base64("base64:", o->values, o->nvalues);
    json_t *s = b64 ? json_string(b64) : NULL;
    free(b64);
    if (!s || json_object_set_new(j->refs, key, s) != 0) {
        return st_nomem("coordinate");
    }
    return STRATA_OK;
}

static strata_status put_metadata(kc_job *j) {
    ST_TRY(put_json(j, "", ".zgroup", json_pack("{s:i}", "zarr_format", 2)));
    ST_TRY(put_json(j, "", ".zattrs", json_deep_copy(j->first.attrs)));
    for (size_t k = 0; k < j->nout; k++) {
        ST_TRY(put_zarray(j, &j->out[k]));
        ST_TRY(put_zattrs(j, &j->out[k]));
        if (j->out[k].coord) {
            ST_TRY(put_coord_chunk(j, &j->out[k]));
        }
    }
    return STRATA_OK;
}

/* ---- output -------------------------------------------------------------------------- */

/* Written beside the output under a unique name, then renamed over it. open() rather than
 * mkstemp() so the file gets the usual 0666 & ~umask permissions. */
static strata_status write_text(const char *path, const char *text) {
    static atomic_uint serial;
    size_t len = strlen(path) + 48;
    char *tmp = st_malloc(len);
    if (!tmp) {
        return st_nomem("path");
    }
    snprintf(tmp, len, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&serial, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f && fd >= 0) {
        close(fd);
    }
    bool ok = f && fputs(text, f) >= 0;
    ok = (f && fclose(f) == 0) && ok;
    ok = ok && rename(tmp, path) == 0;
    int err = errno;
    if (!ok && fd >= 0) {
        unlink(tmp);
    }
    free(tmp);
    return ok ? STRATA_OK : st_fail(STRATA_ERR_WRITE, "%s: cannot write: %s", path, strerror(err));
}

static strata_status write_refs(kc_job *j, const char *out_json) {
    json_t *root = json_pack("{s:i, s:O}", "version", 1, "refs", j->refs);
    char *text = root ? json_dumps(root, KC_JSON_FLAGS) : NULL;
    json_decref(root);
    if (!text) {
        return st_nomem("reference JSON");
    }
    strata_status st = write_text(out_json, text);
    free(text);
    return st;
}

static void job_free(kc_job *j) {
    for (size_t k = 0; k < j->nout; k++) {
        free(j->out[k].values);
        free(j->out[k].fill_b64);
    }
    free(j->out);
    kc_file_free(&j->first);
    strata_meta_free(j->geo);
    json_decref(j->refs);
    kc_remote_free(j->remote);
    free(j->tmpl_keys);
}

static strata_status check_args(const char *const *paths, size_t n, const char *out_json) {
    if (!paths || n == 0 || !out_json || !out_json[0]) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_kerchunk: no input files or no output");
    }
    for (size_t i = 0; i < n; i++) {
        if (!paths[i]) {
            return st_fail(STRATA_ERR_INVALID_ARG, "strata_kerchunk: path %zu is NULL", i);
        }
        /* Paths go into the JSON, which holds only UTF-8. */
        ST_TRY(st_check_utf8("file name", paths[i]));
        ST_TRY(st_check_input_kind(paths[i]));
    }
    return st_guard_outputs(paths, n, &out_json, 1);
}

strata_status strata_kerchunk(const char *const *paths, size_t n, const char *out_json,
                              const strata_kerchunk_opts *opts) {
    st_clear_error();
    ST_TRY(check_args(paths, n, out_json));
    strata_kerchunk_opts full;
    strata_kerchunk_opts_init(&full);
    ST_TRY(st_opts_load(&full, sizeof full, opts, "strata_kerchunk_opts"));
    opts = &full;
    kc_job j = {.opts = opts, .paths = paths, .n = n, .refs = json_object()};
    j.dim = opts->concat_dim && opts->concat_dim[0] ? opts->concat_dim : "time";
    strata_status st = j.refs ? index_files(&j) : st_nomem("references");
    if (st == STRATA_OK) {
        st = put_metadata(&j);
    }
    if (st == STRATA_OK) {
        st = write_refs(&j, out_json);
    }
    job_free(&j);
    return st;
}
