/* Outputs of a reduction: types, nodata, conversion from double, and the result object. */
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

strata_dtype st_out_dtype(const strata_meta *m, strata_op op) {
    if (op != STRATA_OP_COUNT && st_meta_packed(m)) {
        return STRATA_FLOAT64;
    }
    return strata_op_dtype(op, m->dtype);
}

void st_output_nodata(const strata_meta *m, int band, strata_op op, strata_dtype out,
                      bool nan_floats, int *has, double *value) {
    double in_nd = m->nodata[band];
    bool in_has = m->has_nodata[band] != 0;
    *has = op != STRATA_OP_COUNT;
    if (op == STRATA_OP_COUNT) {
        *value = 0;
    } else if (st_dtype_is_float(out)) {
        /* The nodata of packed input is a packed value: unpacked results are on another scale. */
        bool keep = !nan_floats && in_has && st_dtype_holds(out, in_nd) && !st_meta_packed(m);
        for (int b = 0; b < m->bands; b++) {
            /* A GeoTIFF has one nodata for all its bands. */
            keep = keep && m->has_nodata[b] && m->nodata[b] == in_nd;
        }
        *value = keep ? in_nd : NAN;
    } else {
        *value = (in_has && st_dtype_holds(out, in_nd)) ? in_nd : st_dtype_sentinel(out);
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
