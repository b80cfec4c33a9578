/* Where finished tiles go: the sink interface, the result object and its outputs' types and
 * nodata, and the memory sink (strata_reduce, strata_groupby). The GeoTIFF sink is in
 * gtiff/. Internal. */
#ifndef STRATA_SINK_H
#define STRATA_SINK_H

#include "source/source.h"

typedef struct st_sink st_sink;
struct st_sink {
    /* Receives values of (group, output slot, band) over rect, row-major; NaN marks
     * missing. Called from worker threads, each tile exactly once. */
    strata_status (*put)(st_sink *s, size_t group, size_t slot, int band, const st_rect *rect,
                         const double *values);
};

struct strata_result {
    size_t ngroups;
    char **labels; /* [ngroups] */
    size_t *sizes; /* [ngroups] timesteps per group */
    bool ops[STRATA_OP_COUNT_OF_OPS];
    int bands, rows, cols;
    /* Output slots per group: one per op (the slot of STRATA_OP_QUANTILE stays empty), then
     * one per quantile: quantile k is slot STRATA_OP_COUNT_OF_OPS + k. */
    size_t nslots, nq;
    double *q;            /* [nq] */
    strata_array *arrays; /* [ngroups][nslots], data NULL when not kept in memory */
    char **paths;         /* [ngroups][nslots] or NULL */
};

/* The op of an output slot, whether the result has it, and its name ("{op}" in paths). */
static inline strata_op st_slot_op(size_t slot) {
    return slot < STRATA_OP_COUNT_OF_OPS ? (strata_op)slot : STRATA_OP_QUANTILE;
}
static inline bool st_slot_used(const strata_result *r, size_t slot) {
    return slot < STRATA_OP_COUNT_OF_OPS ? r->ops[slot] && slot != STRATA_OP_QUANTILE
                                         : slot - STRATA_OP_COUNT_OF_OPS < r->nq;
}
const char *st_slot_name(const strata_result *r, size_t slot, char *buf, size_t len);

/* The nodata of an output: what missing pixels hold. nan_floats: float outputs use NaN
 * rather than the input's nodata (the in-memory convention). */
void st_output_nodata(const strata_meta *m, int band, strata_op op, strata_dtype out,
                      bool nan_floats, int *has, double *value);
/* Converts values (NaN = missing) to dtype, writing nodata where missing. */
void st_convert_out(const double *values, size_t n, strata_dtype dtype, double nodata, void *dst);

/* The nodata of an integer output whose missing pixels are written with a value that might
 * also be a result (fill.c): not a count, and not a min or max of input whose nodata fits. */
typedef struct st_fill {
    bool tracked;       /* false: the output's nodata is st_output_nodata's, nothing to track */
    strata_dtype dtype; /* the output type */
    double value;       /* what missing pixels are written with (the type's sentinel) */
    int rows, cols;
    size_t npx;     /* bands * rows * cols */
    int missing;    /* a pixel is missing (set atomically) */
    uint64_t *seen; /* 8- and 16-bit types: the values that occur, a bit each */
    uint64_t near;  /* wider types: which of the 64 values from value inward occur */
    uint64_t *mask; /* the missing pixels, a bit each over (bands, rows, cols); NULL if none */
} st_fill;
strata_status st_fill_init(st_fill *f, const strata_meta *m, strata_op op, strata_dtype out);
void st_fill_free(st_fill *f);
/* Notes the missing pixels and the values of band's rect (NaN = missing). Thread-safe for
 * rects that do not overlap. */
strata_status st_fill_note(st_fill *f, int band, const st_rect *r, const double *values);
/* For a tracked output, after every put: whether to declare a nodata and which (no missing
 * pixel: none), and whether the missing pixels must be rewritten with *value in *dtype (the
 * value written occurs in the output; *dtype is wider when the type has no free value). */
void st_fill_resolve(const st_fill *f, strata_dtype *dtype, int *has, double *value, bool *patch);
bool st_fill_missing_at(const st_fill *f, int band, size_t row, size_t col);
/* Writes value (as dtype) into the missing pixels of n pixels of band from (row, col0). */
void st_fill_patch(const st_fill *f, int band, size_t row, size_t col0, size_t n,
                   strata_dtype dtype, double value, void *dst);

strata_result *st_result_new(size_t ngroups, const bool *ops, const double *q, size_t nq,
                             const strata_meta *m);

/* float_dtype: STRATA_FLOAT32 keeps the float ops' arrays (mean, std, var, median, quantiles,
 * unpacked values) in float32; anything else, float64. */
strata_status st_memory_sink_new(strata_result *r, const strata_meta *m, strata_dtype float_dtype,
                                 st_sink **out);
/* Frees the sink; with resolve_fills, first declares the integer arrays' nodata (fill.c). */
strata_status st_memory_sink_finish(st_sink *s, bool resolve_fills);
/* The in-memory type of op's output: strata_op_dtype's, float64 for packed input. */
strata_dtype st_out_dtype(const strata_meta *m, strata_op op);

/* A sink made by another family (the Zarr store of a groupby): opened once the groups and
 * the engine's tiles are known, finished (ok: the run succeeded) whatever happened. */
typedef struct st_sink_maker {
    strata_status (*open)(void *ctx, strata_result *r, const strata_meta *m, int tile_rows,
                          int tile_cols, st_sink **out);
    strata_status (*finish)(void *ctx, st_sink *s, bool ok);
    void *ctx;
} st_sink_maker;

#endif
