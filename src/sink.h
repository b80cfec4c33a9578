/* Where finished tiles go: memory arrays (strata_reduce, strata_groupby) or GeoTIFF files
 * (strata_reduce_to_gtiff). Internal. */
#ifndef STRATA_SINK_H
#define STRATA_SINK_H

#include "internal.h"

typedef struct st_sink st_sink;
struct st_sink {
    /* Receives values of (group, op, band) over rect, row-major; NaN marks missing. Called
     * from worker threads, each tile exactly once. */
    strata_status (*put)(st_sink *s, size_t group, strata_op op, int band, const st_rect *rect,
                         const double *values);
};

struct strata_result {
    size_t ngroups;
    char **labels; /* [ngroups] */
    size_t *sizes; /* [ngroups] timesteps per group */
    bool ops[STRATA_OP_COUNT_OF_OPS];
    int bands, rows, cols;
    strata_array *arrays; /* [ngroups][ops], data NULL when not kept in memory */
    char **paths;         /* [ngroups][ops] or NULL */
};

/* The nodata of an output: what missing pixels hold. nan_floats: float outputs use NaN
 * rather than the input's nodata (the in-memory convention). */
void st_output_nodata(const strata_meta *m, int band, strata_op op, strata_dtype out,
                      bool nan_floats, int *has, double *value);
/* Converts values (NaN = missing) to dtype, writing nodata where missing. */
void st_convert_out(const double *values, size_t n, strata_dtype dtype, double nodata, void *dst);

strata_result *st_result_new(size_t ngroups, const bool *ops, const strata_meta *m);

strata_status st_memory_sink_new(strata_result *r, const strata_meta *m, st_sink **out);
void st_memory_sink_free(st_sink *s);

typedef struct st_gtiff_spec {
    const char *pattern;             /* "{op}" and "{label}" placeholders */
    strata_dtype float_dtype;        /* on-disk type of mean/std/var/median */
    const char *compress;            /* NULL or a name accepted by strata_compression_known */
    int tile_rows, tile_cols;        /* the grid of the tiles put, from (0, 0) */
    bool one_writer;                 /* tiles come from one thread, not from a pool of workers */
    const strata_collection *inputs; /* no output may be one of its files */
} st_gtiff_spec;
strata_status st_gtiff_sink_new(strata_result *r, const strata_meta *m, const st_gtiff_spec *sp,
                                st_sink **out);
/* Closes every file; on success renames each temporary file to its final name, on failure
 * deletes them. */
strata_status st_gtiff_sink_finish(st_sink *s, bool ok);

#endif
