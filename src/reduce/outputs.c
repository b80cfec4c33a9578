/* Outputs of a reduction: their types and nodata, decided once for the whole request before
 * any sink exists; conversion from double; and the result object. */
#include "reduce/sink.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {"mean", "sum",   "min",    "max",     "std",
                                       "var",  "count", "median", "quantile"};

const char *strata_op_name(strata_op op) {
    return (unsigned)op < STRATA_OP_COUNT_OF_OPS ? op_names[op] : "unknown";
}

strata_status strata_op_from_name(const char *name, strata_op *op) {
    for (int i = 0; name && i < STRATA_OP_COUNT_OF_OPS; i++) {
        if (strcmp(name, op_names[i]) == 0) {
            *op = (strata_op)i;
            return STRATA_OK;
        }
    }
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "unknown op '%s' (expected mean, sum, min, max, std, var, count, median "
                   "or quantile)",
                   name ? name : "(null)");
}

strata_dtype strata_op_dtype(strata_op op, strata_dtype input) {
    switch (op) {
    case STRATA_OP_MIN:
    case STRATA_OP_MAX:
        return input;
    case STRATA_OP_SUM:
        return st_dtype_is_float(input) ? STRATA_FLOAT64 : STRATA_INT64;
    case STRATA_OP_COUNT:
        return STRATA_INT32;
    default:
        return STRATA_FLOAT64;
    }
}

/* ---- deciding the outputs ---------------------------------------------------------------- */

/* The exact type of op's values: strata_op_dtype's, float64 for packed input. */
static strata_dtype exact_dtype(const strata_meta *m, strata_op op) {
    if (op != STRATA_OP_COUNT && st_meta_packed(m)) {
        return STRATA_FLOAT64;
    }
    return strata_op_dtype(op, m->dtype);
}

/* Ops whose values are fractions of the input's: float whatever the input. */
static bool float_op(const strata_meta *m, strata_op op) {
    return op == STRATA_OP_MEAN || op == STRATA_OP_STD || op == STRATA_OP_VAR ||
           op == STRATA_OP_MEDIAN || op == STRATA_OP_QUANTILE ||
           (st_meta_packed(m) && op != STRATA_OP_COUNT && op != STRATA_OP_SUM);
}

/* In memory: the exact type, float64 for the float ops unless float32 is asked (a float32
 * stack's mean need not take twice its output's memory). */
static strata_dtype memory_dtype(const strata_meta *m, strata_op op, const strata_reduce_opts *o) {
    bool f32 = o->output.float_dtype == STRATA_FLOAT32 && float_op(m, op);
    return f32 ? STRATA_FLOAT32 : exact_dtype(m, op);
}

/* GeoTIFF: sums of integers are Float64 unless Int64 is asked: exact up to 2^53, and read by
 * every reader, where GDAL 3.6's Int64 nodata reaches rasterio 1.3 as 18446744073709518848.
 * The float ops are Float32 (Float64 for Float64 input) unless a float type is asked. */
static strata_dtype gtiff_dtype(const strata_meta *m, strata_op op, const strata_reduce_opts *o) {
    strata_dtype t = exact_dtype(m, op);
    if (op == STRATA_OP_SUM) {
        return t == STRATA_INT64 && o->output.sum_dtype == STRATA_INT64 ? STRATA_INT64
                                                                        : STRATA_FLOAT64;
    }
    if (float_op(m, op)) {
        if (o->output.float_dtype != STRATA_DTYPE_UNKNOWN) {
            return o->output.float_dtype;
        }
        return m->dtype == STRATA_FLOAT64 ? STRATA_FLOAT64 : STRATA_FLOAT32;
    }
    return t;
}

/* Zarr: floats with NaN for missing, as xarray writes them: float64 for float64 input and for
 * integers wider than float32's 24-bit mantissa, else float32, unless the caller chose; sums
 * of integers are float64 (exact to 2^53); count is int32. */
static strata_dtype zarr_dtype(const strata_meta *m, strata_op op, const strata_reduce_opts *o) {
    if (op == STRATA_OP_COUNT) {
        return STRATA_INT32;
    }
    if (op == STRATA_OP_SUM && !st_dtype_is_float(m->dtype)) {
        return STRATA_FLOAT64;
    }
    if (o->output.float_dtype == STRATA_FLOAT32 || o->output.float_dtype == STRATA_FLOAT64) {
        return o->output.float_dtype;
    }
    bool wide = m->dtype == STRATA_FLOAT64 || strata_dtype_size(m->dtype) >= 4;
    return wide && m->dtype != STRATA_FLOAT32 ? STRATA_FLOAT64 : STRATA_FLOAT32;
}

static bool same_nodata_in_every_band(const strata_meta *m) {
    for (int b = 1; b < m->bands; b++) {
        if (m->has_nodata[b] != m->has_nodata[0] || m->nodata[b] != m->nodata[0]) {
            return false;
        }
    }
    return true;
}

/* The nodata of an output, one for all bands (a GeoTIFF has one for all its bands).
 * nan_floats: float outputs use NaN rather than the input's nodata (the in-memory
 * convention). An integer output whose missing pixels are written with a value that might
 * also be a result is tracked (fill.c): everything but a count, and a min or max of input
 * whose nodata fits (a min or max is one of its pixel's valid values, never the nodata). */
static void decide_nodata(const strata_meta *m, bool nan_floats, st_output *out) {
    double in_nd = m->nodata[0];
    bool in_has = m->has_nodata[0] != 0, same = same_nodata_in_every_band(m);
    strata_op op = out->op;
    out->has_nodata = op != STRATA_OP_COUNT;
    if (op == STRATA_OP_COUNT) {
        out->nodata = 0;
    } else if (st_dtype_is_float(out->dtype)) {
        /* The nodata of packed input is a packed value: unpacked results are on another scale. */
        bool keep = !nan_floats && in_has && same && st_dtype_holds(out->dtype, in_nd) &&
                    !st_meta_packed(m);
        out->nodata = keep ? in_nd : NAN;
    } else {
        bool minmax = op == STRATA_OP_MIN || op == STRATA_OP_MAX;
        out->tracked = !(minmax && same && in_has && st_dtype_holds(out->dtype, in_nd));
        out->nodata = out->tracked ? st_dtype_sentinel(out->dtype) : in_nd;
    }
}

void st_outputs_decide(const strata_result *r, const strata_meta *m, const strata_reduce_opts *o,
                       st_target target, int tile_rows, int tile_cols, st_outputs *out) {
    memset(out, 0, sizeof *out);
    out->target = target;
    out->nslots = r->nslots;
    out->tile_rows = tile_rows;
    out->tile_cols = tile_cols;
    for (size_t slot = 0; slot < r->nslots; slot++) {
        st_output *s = &out->slot[slot];
        s->op = st_slot_op(slot);
        s->in_unit = s->op != STRATA_OP_VAR && s->op != STRATA_OP_COUNT;
        if (target == ST_TARGET_ZARR) {
            s->dtype = zarr_dtype(m, s->op, o);
            s->has_nodata = s->op != STRATA_OP_COUNT;
            s->nodata = s->has_nodata ? NAN : 0;
            continue;
        }
        s->dtype =
            target == ST_TARGET_MEMORY ? memory_dtype(m, s->op, o) : gtiff_dtype(m, s->op, o);
        decide_nodata(m, target == ST_TARGET_MEMORY, s);
    }
}

/* Float outputs get plain loops that the compiler vectorises: GDALCopyWords converts a value
 * at a time, a cost paid on every output pixel. A C cast rounds to nearest, as IEEE says (GDAL
 * turns values just above FLT_MAX into infinity). Integer outputs keep GDAL's rounding and
 * clamping. */
ST_AVX2_CLONE
void st_convert_out(const double *values, size_t n, strata_dtype dtype, double nodata, void *dst) {
    if (dtype == STRATA_FLOAT32) {
        float *d = dst;
        for (size_t i = 0; i < n; i++) {
            d[i] = (float)(values[i] == values[i] ? values[i] : nodata);
        }
        return;
    }
    if (dtype == STRATA_FLOAT64) {
        double *d = dst;
        for (size_t i = 0; i < n; i++) {
            d[i] = values[i] == values[i] ? values[i] : nodata;
        }
        return;
    }
    enum { CHUNK = 1024 };
    double tmp[CHUNK];
    size_t esize = strata_dtype_size(dtype);
    for (size_t i0 = 0; i0 < n; i0 += CHUNK) {
        size_t k = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (size_t i = 0; i < k; i++) {
            double v = values[i0 + i];
            tmp[i] = v == v ? v : nodata;
        }
        GDALCopyWords64(tmp, GDT_Float64, sizeof(double), (char *)dst + i0 * esize,
                        st_dtype_to_gdal(dtype), (int)esize, (GPtrDiff_t)k);
    }
}

/* ---- result ------------------------------------------------------------------------------ */

static const char *const method_names[] = {"linear", "lower", "higher", "nearest", "midpoint"};

const char *strata_quantile_method_name(strata_quantile_method m) {
    return (unsigned)m < sizeof method_names / sizeof *method_names ? method_names[m] : "unknown";
}

strata_status strata_quantile_method_from_name(const char *name, strata_quantile_method *m) {
    for (size_t i = 0; name && i < sizeof method_names / sizeof *method_names; i++) {
        if (strcmp(name, method_names[i]) == 0) {
            *m = (strata_quantile_method)i;
            return STRATA_OK;
        }
    }
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "unknown quantile method '%s' (expected linear, lower, higher, nearest or "
                   "midpoint)",
                   name ? name : "(null)");
}

const char *strata_quantile_name(double q, char *buf, size_t len) {
    if (buf && len) {
        snprintf(buf, len, "p%.10g", q * 100);
    }
    return buf;
}

const char *st_slot_name(const strata_result *r, size_t slot, char *buf, size_t len) {
    if (slot < STRATA_OP_COUNT_OF_OPS) {
        snprintf(buf, len, "%s", strata_op_name((strata_op)slot));
        return buf;
    }
    return strata_quantile_name(r->q[slot - STRATA_OP_COUNT_OF_OPS], buf, len);
}

strata_result *st_result_new(size_t ngroups, const bool *ops, const double *q, size_t nq,
                             const strata_meta *m) {
    strata_result *r = st_calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->ngroups = ngroups;
    r->nq = ops[STRATA_OP_QUANTILE] ? nq : 0;
    r->nslots = STRATA_OP_COUNT_OF_OPS + r->nq;
    r->q = st_calloc(r->nq ? r->nq : 1, sizeof *r->q);
    if (!r->q) {
        free(r);
        return NULL;
    }
    if (r->nq) {
        memcpy(r->q, q, r->nq * sizeof *q);
    }
    memcpy(r->ops, ops, sizeof r->ops);
    r->bands = m->bands;
    r->rows = m->rows;
    r->cols = m->cols;
    r->labels = st_calloc(ngroups, sizeof *r->labels);
    r->sizes = st_calloc(ngroups, sizeof *r->sizes);
    r->arrays = st_calloc(ngroups * r->nslots, sizeof *r->arrays);
    if (!r->labels || !r->sizes || !r->arrays) {
        strata_result_free(r);
        return NULL;
    }
    return r;
}

void strata_result_free(strata_result *r) {
    if (!r) {
        return;
    }
    size_t n = r->ngroups * r->nslots;
    for (size_t i = 0; r->arrays && i < n; i++) {
        free((void *)r->arrays[i].data);
    }
    for (size_t i = 0; r->paths && i < n; i++) {
        free(r->paths[i]);
    }
    for (size_t g = 0; r->labels && g < r->ngroups; g++) {
        free(r->labels[g]);
    }
    free(r->paths);
    free(r->arrays);
    free(r->labels);
    free(r->sizes);
    free(r->q);
    free(r);
}

size_t strata_result_groups(const strata_result *r) {
    return r->ngroups;
}

const char *strata_result_label(const strata_result *r, size_t g) {
    return g < r->ngroups ? r->labels[g] : NULL;
}

size_t strata_result_group_size(const strata_result *r, size_t g) {
    return g < r->ngroups ? r->sizes[g] : 0;
}

static const char *slot_path(const strata_result *r, size_t g, size_t slot) {
    if (!r || !r->paths || g >= r->ngroups || slot >= r->nslots) {
        return NULL;
    }
    return r->paths[g * r->nslots + slot];
}

const char *strata_result_path(const strata_result *r, size_t g, strata_op op) {
    return (unsigned)op < STRATA_OP_COUNT_OF_OPS ? slot_path(r, g, op) : NULL;
}

const char *strata_result_quantile_path(const strata_result *r, size_t g, size_t k) {
    return r && k < r->nq ? slot_path(r, g, STRATA_OP_COUNT_OF_OPS + k) : NULL;
}

size_t strata_result_quantiles(const strata_result *r, const double **q) {
    if (q) {
        *q = r ? r->q : NULL;
    }
    return r ? r->nq : 0;
}

static strata_status slot_array(const strata_result *r, size_t g, size_t slot, strata_array *out) {
    const strata_array *a = &r->arrays[g * r->nslots + slot];
    if (!a->data) {
        return st_fail(STRATA_ERR_INVALID_ARG, "this result was written to files, not kept in "
                                               "memory (see strata_result_path)");
    }
    *out = *a;
    return STRATA_OK;
}

strata_status strata_result_array(const strata_result *r, size_t g, strata_op op,
                                  strata_array *out) {
    st_clear_error();
    if (r && out && op == STRATA_OP_QUANTILE && g < r->ngroups) {
        return st_fail(STRATA_ERR_INVALID_ARG, "quantiles are read one at a time: use "
                                               "strata_result_quantile_array");
    }
    if (!r || !out || g >= r->ngroups || (unsigned)op >= STRATA_OP_COUNT_OF_OPS || !r->ops[op]) {
        return st_fail(STRATA_ERR_INVALID_ARG, "no such group or op in this result");
    }
    return slot_array(r, g, op, out);
}

strata_status strata_result_quantile_array(const strata_result *r, size_t g, size_t k,
                                           strata_array *out) {
    st_clear_error();
    if (!r || !out || g >= r->ngroups || k >= r->nq) {
        return st_fail(STRATA_ERR_INVALID_ARG, "no such group or quantile in this result");
    }
    return slot_array(r, g, STRATA_OP_COUNT_OF_OPS + k, out);
}
