/* Public entry points of reduce and groupby: check the request, map timesteps to groups,
 * pick a sink and run the engine. */
#include "common/opts.h"
#include "gtiff/gtiff.h"
#include "zarr/zarr.h"
#include "reduce/engine.h"
#include "reduce/select.h"
#include "source/netread.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void strata_reduce_opts_init(strata_reduce_opts *o) {
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->kernel.skipna = 1;
    o->output.float_dtype = STRATA_DTYPE_UNKNOWN;
    o->output.codec = STRATA_CODEC_ZSTD;
}

/* The caller's options, of whatever version of strata.h, as this library's struct. */
static strata_status load_opts(const strata_reduce_opts *given, strata_reduce_opts *full) {
    strata_reduce_opts_init(full);
    return st_opts_load(full, sizeof *full, given, "strata_reduce_opts");
}

static strata_status check_codec(strata_codec codec) {
    if (!strata_codec_for_gtiff(codec)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "GeoTIFF outputs cannot use codec %s (expected zstd, deflate, lzw or none)",
                       strata_codec_name(codec));
    }
    return STRATA_OK;
}

static strata_status check_request(const strata_collection *c, const strata_op *ops, size_t nops,
                                   const strata_reduce_opts *o, bool marked[]) {
    if (!c || !ops || nops == 0 || !o) {
        return st_fail(STRATA_ERR_INVALID_ARG, "a reduction needs a collection and ops");
    }
    if (o->kernel.ddof < 0) {
        return st_fail(STRATA_ERR_INVALID_ARG, "ddof must be >= 0, not %d", o->kernel.ddof);
    }
    if (o->partition.count < 0 ||
        (o->partition.count > 0 &&
         (o->partition.index < 0 || o->partition.index >= o->partition.count))) {
        return st_fail(STRATA_ERR_INVALID_ARG, "part %d of %d does not exist", o->partition.index,
                       o->partition.count);
    }
    if (o->run.threads < 0) {
        return st_fail(STRATA_ERR_INVALID_ARG, "threads must be >= 0, not %d", o->run.threads);
    }
    if (o->output.float_dtype != STRATA_DTYPE_UNKNOWN && o->output.float_dtype != STRATA_FLOAT32 &&
        o->output.float_dtype != STRATA_FLOAT64) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "output float type must be float32 or float64, "
                       "not %s",
                       strata_dtype_name(o->output.float_dtype));
    }
    if (o->output.sum_dtype != STRATA_DTYPE_UNKNOWN && o->output.sum_dtype != STRATA_FLOAT64 &&
        o->output.sum_dtype != STRATA_INT64) {
        return st_fail(STRATA_ERR_INVALID_ARG, "integer sums are float64 or int64, not %s",
                       strata_dtype_name(o->output.sum_dtype));
    }
    ST_TRY(check_codec(o->output.codec));
    memset(marked, 0, STRATA_OP_COUNT_OF_OPS * sizeof *marked);
    for (size_t i = 0; i < nops; i++) {
        if ((unsigned)ops[i] >= STRATA_OP_COUNT_OF_OPS) {
            return st_fail(STRATA_ERR_INVALID_ARG, "unknown op number %d", (int)ops[i]);
        }
        marked[ops[i]] = true;
    }
    if (marked[STRATA_OP_QUANTILE]) {
        if (o->kernel.nquantiles == 0 || !o->kernel.quantiles ||
            o->kernel.nquantiles > ST_MAX_QUANTILES) {
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "the quantile op needs 1 to %d quantiles, not %zu", ST_MAX_QUANTILES,
                           o->kernel.quantiles ? o->kernel.nquantiles : 0);
        }
        for (size_t k = 0; k < o->kernel.nquantiles; k++) {
            if (!(o->kernel.quantiles[k] >= 0 && o->kernel.quantiles[k] <= 1)) {
                return st_fail(STRATA_ERR_INVALID_ARG, "quantile %g is not in [0, 1]",
                               o->kernel.quantiles[k]);
            }
        }
        if ((unsigned)o->kernel.quantile_method > STRATA_QUANTILE_MIDPOINT) {
            return st_fail(STRATA_ERR_INVALID_ARG, "unknown quantile method number %d",
                           (int)o->kernel.quantile_method);
        }
    }
    return STRATA_OK;
}

typedef struct grouping {
    size_t ngroups;
    size_t *group_of; /* [T] */
    char **labels;    /* [ngroups], borrowed from the caller's labels */
    size_t *sizes;    /* [ngroups] */
} grouping;

static void grouping_free(grouping *gr) {
    free(gr->group_of);
    free(gr->labels);
    free(gr->sizes);
}

/* Integer labels ("-12", "365") come first, by value ("9" before "10"), then the others by
 * strcmp: a total order. */
static bool integer_text(const char *s, long long *v) {
    char *end = NULL;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return end != s && !*end && errno == 0 && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9'));
}

static int cmp_label(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    long long u, v;
    bool xi = integer_text(x, &u), yi = integer_text(y, &v);
    if (xi != yi) {
        return xi ? -1 : 1;
    }
    if (xi && u != v) {
        return u < v ? -1 : 1;
    }
    return strcmp(x, y);
}

static size_t find_label(char **labels, size_t n, const char *label) {
    for (size_t g = 0; g < n; g++) {
        if (strcmp(labels[g], label) == 0) {
            return g;
        }
    }
    return n;
}

/* Groups in first-seen (or sorted) order. Quadratic in the number of distinct labels,
 * which stays small (months, seasons, years). */
static strata_status make_grouping(const strata_collection *c, const char *const *labels,
                                   bool sorted, grouping *gr) {
    memset(gr, 0, sizeof *gr);
    gr->group_of = st_calloc(c->n, sizeof *gr->group_of);
    gr->labels = st_calloc(c->n, sizeof *gr->labels);
    gr->sizes = st_calloc(c->n, sizeof *gr->sizes);
    if (!gr->group_of || !gr->labels || !gr->sizes) {
        return st_nomem("groups");
    }
    for (size_t t = 0; t < c->n; t++) {
        if (!labels[t]) {
            return st_fail(STRATA_ERR_INVALID_ARG, "timestep %zu (%s) has no label", t,
                           strata_collection_path(c, t));
        }
        if (find_label(gr->labels, gr->ngroups, labels[t]) == gr->ngroups) {
            gr->labels[gr->ngroups++] = (char *)labels[t];
        }
    }
    if (sorted) {
        qsort(gr->labels, gr->ngroups, sizeof *gr->labels, cmp_label);
    }
    for (size_t t = 0; t < c->n; t++) {
        gr->group_of[t] = find_label(gr->labels, gr->ngroups, labels[t]);
        gr->sizes[gr->group_of[t]]++;
    }
    return STRATA_OK;
}

static strata_status result_for(const strata_collection *c, const grouping *gr, const bool *ops,
                                const strata_reduce_opts *o, strata_result **out) {
    strata_result *r =
        st_result_new(gr->ngroups, ops, o->kernel.quantiles, o->kernel.nquantiles, c->meta);
    if (!r) {
        return st_nomem("result");
    }
    for (size_t g = 0; g < gr->ngroups; g++) {
        r->sizes[g] = gr->sizes[g];
        if (!(r->labels[g] = st_strdup(gr->labels[g]))) {
            strata_result_free(r);
            return st_nomem("result");
        }
    }
    *out = r;
    return STRATA_OK;
}

typedef enum sink_kind { SINK_MEMORY, SINK_GTIFF, SINK_MADE } sink_kind;

static strata_status reduce_into_sink(const strata_collection *c, const char *const *labels,
                                      const strata_op *ops, size_t nops,
                                      const strata_reduce_opts *opts, sink_kind kind,
                                      const char *pattern, const st_sink_maker *mk,
                                      strata_result **out) {
    st_clear_error();
    bool marked[STRATA_OP_COUNT_OF_OPS];
    if (out) {
        *out = NULL;
    }
    strata_reduce_opts full, *o = opts ? &full : NULL;
    if (opts) {
        ST_TRY(load_opts(opts, &full));
    }
    ST_TRY(check_request(c, ops, nops, o, marked));
    /* A remote stack's first headers are on their way while the outputs are set up. */
    st_net_set_concurrency(c, o ? o->run.io_concurrency : 0);
    if (!out || (kind == SINK_GTIFF && (!pattern || !pattern[0]))) {
        return st_fail(STRATA_ERR_INVALID_ARG, "a reduction needs an output");
    }
    static const char *const one_group = "all";
    const char **single = NULL;
    if (!labels) {
        single = st_calloc(c->n, sizeof *single);
        if (!single) {
            return st_nomem("labels");
        }
        for (size_t t = 0; t < c->n; t++) {
            single[t] = one_group;
        }
        labels = single;
    }
    grouping gr;
    strata_result *r = NULL;
    st_sink *sink = NULL;
    strata_status st = make_grouping(c, labels, o->groups.sort != 0, &gr);
    if (st == STRATA_OK) {
        st = result_for(c, &gr, marked, o, &r);
    }
    if (st == STRATA_OK) {
        /* Every output's type, nodata and tiles (the engine's, which median and quantiles
         * shrink to their memory budget), decided before any sink exists. */
        int rows, cols;
        st_engine_tile(c, marked, o, gr.ngroups, &rows, &cols);
        st_target target = kind == SINK_MEMORY  ? ST_TARGET_MEMORY
                           : kind == SINK_GTIFF ? ST_TARGET_GTIFF
                                                : mk->target;
        st_outputs outs;
        st_outputs_decide(r, c->meta, o, target, rows, cols, &outs);
        st_gtiff_spec sp = {pattern, o->output.codec, false, c};
        st = kind == SINK_MEMORY  ? st_memory_sink_new(r, c->meta, &outs, &sink)
             : kind == SINK_GTIFF ? st_gtiff_sink_new(r, c->meta, &outs, &sp, &sink)
                                  : mk->open(mk->ctx, r, c->meta, &outs, &sink);
    }
    if (st == STRATA_OK) {
        st_gdal_quiet_begin();
        st = st_engine_run(c, marked, o, gr.ngroups, gr.group_of, sink);
        st_gdal_quiet_end();
    }
    if (sink && kind == SINK_GTIFF) {
        strata_status fst = st_gtiff_sink_finish(sink, st == STRATA_OK);
        st = st == STRATA_OK ? fst : st;
    } else if (kind == SINK_MADE) {
        strata_status fst = mk->finish(mk->ctx, sink, st == STRATA_OK);
        st = st == STRATA_OK ? fst : st;
    } else {
        /* A part of a distributed run keeps the values written for missing pixels: rank 0
         * merges the parts' bytes and resolves the nodata when it writes the files. */
        strata_status fst = st_memory_sink_finish(sink, st == STRATA_OK && o->partition.count <= 1);
        st = st == STRATA_OK ? fst : st;
    }
    grouping_free(&gr);
    free(single);
    if (st != STRATA_OK) {
        strata_result_free(r);
        return st;
    }
    *out = r;
    return STRATA_OK;
}

static const char *const *labels_or_collection(const strata_collection *c,
                                               const char *const *labels) {
    return labels ? labels : c ? (const char *const *)c->labels : NULL;
}

strata_status strata_reduce(const strata_collection *c, const strata_op *ops, size_t nops,
                            const strata_reduce_opts *opts, strata_result **out) {
    return reduce_into_sink(c, NULL, ops, nops, opts, SINK_MEMORY, NULL, NULL, out);
}

strata_status strata_groupby(const strata_collection *c, const char *const *labels,
                             const strata_op *ops, size_t nops, const strata_reduce_opts *opts,
                             strata_result **out) {
    const char *const *l = labels_or_collection(c, labels);
    if (c && !l) {
        st_clear_error();
        return st_fail(STRATA_ERR_INVALID_ARG, "groupby needs labels: pass them or set them on "
                                               "the collection");
    }
    return reduce_into_sink(c, l, ops, nops, opts, SINK_MEMORY, NULL, NULL, out);
}

strata_status strata_reduce_to_gtiff(const strata_collection *c, const char *const *labels,
                                     const strata_op *ops, size_t nops,
                                     const strata_reduce_opts *opts, const char *path_pattern,
                                     strata_result **out) {
    return reduce_into_sink(c, labels_or_collection(c, labels), ops, nops, opts, SINK_GTIFF,
                            path_pattern, NULL, out);
}

strata_status strata_groupby_to_zarr(const strata_collection *c, const char *const *labels,
                                     const strata_op *ops, size_t nops,
                                     const strata_reduce_opts *opts, const char *dim,
                                     const char *store, const strata_zarr_opts *zopts,
                                     strata_result **out) {
    st_clear_error();
    if (out) {
        *out = NULL;
    }
    if (!out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_groupby_to_zarr: NULL argument");
    }
    st_sink_maker mk;
    ST_TRY(st_zarr_groups_sink(c, opts, dim, store, zopts, &mk));
    strata_status st = reduce_into_sink(c, labels_or_collection(c, labels), ops, nops, opts,
                                        SINK_MADE, NULL, &mk, out);
    free(mk.ctx);
    return st;
}

/* ---- writing a result held in memory ------------------------------------------------- */

/* Rows handed to the sink at a time: the outputs' block height. */
enum { STRIP = 256 };

/* Hands one band of an array to the sink in strips, missing values as NaN. */
static strata_status put_array(st_sink *sink, const strata_array *a, size_t g, size_t slot,
                               int band) {
    size_t esize = strata_dtype_size(a->dtype);
    double *v = st_malloc((size_t)STRIP * a->cols * sizeof *v);
    if (!v) {
        return st_nomem("strip");
    }
    strata_status st = STRATA_OK;
    for (int row0 = 0; row0 < a->rows && st == STRATA_OK; row0 += STRIP) {
        st_rect r = {row0, a->rows - row0 < STRIP ? a->rows - row0 : STRIP, 0, a->cols};
        size_t n = (size_t)r.nrows * r.ncols;
        const char *src = (const char *)a->data + ((size_t)band * a->rows + row0) * a->cols * esize;
        GDALCopyWords64(src, st_dtype_to_gdal(a->dtype), (int)esize, v, GDT_Float64, sizeof(double),
                        (GPtrDiff_t)n);
        for (size_t i = 0; a->has_nodata && i < n; i++) {
            v[i] = v[i] == a->nodata ? NAN : v[i];
        }
        st = sink->put(sink, g, slot, band, &r, v);
    }
    free(v);
    return st;
}

strata_status strata_result_to_gtiff(strata_result *r, const strata_collection *c,
                                     const strata_reduce_opts *opts, const char *pattern) {
    st_clear_error();
    strata_reduce_opts full, *o = opts ? &full : NULL;
    if (opts) {
        ST_TRY(load_opts(opts, &full));
    }
    if (!r || !c || !o || !pattern || !pattern[0] || r->paths || r->bands != c->meta->bands ||
        r->rows != c->meta->rows || r->cols != c->meta->cols) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_result_to_gtiff needs an in-memory result "
                                               "of this collection's shape and an output pattern");
    }
    ST_TRY(check_codec(o->output.codec));
    st_outputs outs;
    st_outputs_decide(r, c->meta, o, ST_TARGET_GTIFF, STRIP, r->cols, &outs);
    st_gtiff_spec sp = {pattern, o->output.codec, true, c};
    st_sink *sink = NULL;
    st_gdal_quiet_begin();
    strata_status st = st_gtiff_sink_new(r, c->meta, &outs, &sp, &sink);
    for (size_t g = 0; g < r->ngroups && st == STRATA_OK; g++) {
        for (size_t slot = 0; slot < r->nslots && st == STRATA_OK; slot++) {
            const strata_array *a = &r->arrays[g * r->nslots + slot];
            for (int b = 0; st_slot_used(r, slot) && b < r->bands && st == STRATA_OK; b++) {
                st = put_array(sink, a, g, slot, b);
            }
        }
    }
    if (sink) {
        strata_status fst = st_gtiff_sink_finish(sink, st == STRATA_OK);
        st = st == STRATA_OK ? fst : st;
    }
    st_gdal_quiet_end();
    return st;
}
