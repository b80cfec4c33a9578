/* Where finished tiles go: memory arrays (strata_reduce, strata_groupby) or GeoTIFF files
 * (strata_reduce_to_gtiff). Internal. */
#ifndef STRATA_SINK_H
#define STRATA_SINK_H

#include "internal.h"

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

strata_result *st_result_new(size_t ngroups, const bool *ops, const double *q, size_t nq,
                             const strata_meta *m);

strata_status st_memory_sink_new(strata_result *r, const strata_meta *m, st_sink **out);
void st_memory_sink_free(st_sink *s);

typedef struct st_gtiff_spec {
    const char *pattern;      /* "{op}" and "{label}" placeholders */
    strata_dtype float_dtype; /* on-disk type of mean/std/var/median */
    const char *compress;     /* NULL or a name accepted by strata_compression_known */
    int tile_rows, tile_cols; /* the grid of the tiles put, from (0, 0) */
    bool one_writer;          /* tiles come from one thread, not from a pool of workers */
} st_gtiff_spec;
strata_status st_gtiff_sink_new(strata_result *r, const strata_meta *m, const st_gtiff_spec *sp,
                                st_sink **out);
/* Closes every file; on success renames each temporary file to its final name, on failure
 * deletes them. */
strata_status st_gtiff_sink_finish(st_sink *s, bool ok);

#endif
