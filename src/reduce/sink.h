/* Where finished tiles go: the sink interface, the result object and its outputs' types and
 * nodata, and the memory sink (strata_reduce, strata_groupby). The GeoTIFF sink is in
 * gtiff/. Internal. */
#ifndef STRATA_SINK_H
#define STRATA_SINK_H

#include "source/source.h"

/* Quantiles a job may ask for: the bound keeps a pixel's plan on the stack. */
enum { ST_MAX_QUANTILES = 64 };

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

/* ---- the outputs of a request, decided once before any sink exists (outputs.c) ---------- */

/* Where outputs go: each kind has its own rule for types and nodata. */
typedef enum st_target { ST_TARGET_MEMORY, ST_TARGET_GTIFF, ST_TARGET_ZARR } st_target;

/* One output slot, the same for every group. */
typedef struct st_output {
    strata_op op;       /* STRATA_OP_QUANTILE for every quantile */
    strata_dtype dtype; /* the type written */
    int has_nodata;     /* missing pixels are marked (count: never missing) */
    double nodata;      /* what missing pixels are written with */
    bool tracked;       /* an integer output whose nodata is settled after the run (fill.c):
                           nodata is the value written meanwhile, declared only if needed */
    bool in_unit;       /* values are in the input's unit (all but var and count) */
} st_output;

typedef struct st_outputs {
    st_target target;
    size_t nslots; /* as the result's */
    st_output slot[STRATA_OP_COUNT_OF_OPS + ST_MAX_QUANTILES];
    /* The tiles handed to put, a grid from (0, 0) clipped at the edges: the engine's, or a
     * strip of rows for a result written from memory. The Zarr store's chunks. */
    int tile_rows, tile_cols;
} st_outputs;

/* The outputs of result r of a reduction of m into target, with o's choices of float and
 * sum types. */
void st_outputs_decide(const strata_result *r, const strata_meta *m, const strata_reduce_opts *o,
                       st_target target, int tile_rows, int tile_cols, st_outputs *out);

/* Converts values (NaN = missing) to dtype, writing nodata where missing. */
void st_convert_out(const double *values, size_t n, strata_dtype dtype, double nodata, void *dst);

/* The nodata of an integer output whose missing pixels are written with a value that might
 * also be a result (fill.c): not a count, and not a min or max of input whose nodata fits. */
typedef struct st_fill {
    bool tracked;       /* false: the output's nodata is known up front, nothing to track */
    strata_dtype dtype; /* the output type */
    double value;       /* what missing pixels are written with (the type's sentinel) */
    int rows, cols;
    size_t npx;     /* bands * rows * cols */
    int missing;    /* a pixel is missing (set atomically) */
    uint64_t *seen; /* 8- and 16-bit types: the values that occur, a bit each */
    uint64_t near;  /* wider types: which of the 64 values from value inward occur */
    uint64_t *mask; /* the missing pixels, a bit each over (bands, rows, cols); NULL if none */
} st_fill;
strata_status st_fill_init(st_fill *f, const strata_meta *m, const st_output *out);
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

strata_status st_memory_sink_new(strata_result *r, const strata_meta *m, const st_outputs *outs,
                                 st_sink **out);
/* Frees the sink; with resolve_fills, first declares the integer arrays' nodata (fill.c). */
strata_status st_memory_sink_finish(st_sink *s, bool resolve_fills);
/* A sink made by another family (the Zarr store of a groupby): opened once the outputs are
 * decided, finished (ok: the run succeeded) whatever happened. */
typedef struct st_sink_maker {
    st_target target;
    strata_status (*open)(void *ctx, strata_result *r, const strata_meta *m, const st_outputs *outs,
                          st_sink **out);
    strata_status (*finish)(void *ctx, st_sink *s, bool ok);
    void *ctx;
} st_sink_maker;

#endif
