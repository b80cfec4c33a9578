/* The GeoTIFF sink (strata_reduce_to_gtiff): one tiled, compressed file per (group, op).
 * Internal. */
#ifndef STRATA_GTIFF_H
#define STRATA_GTIFF_H

#include "reduce/sink.h"

typedef struct st_gtiff_spec {
    const char *pattern;             /* "{op}" and "{label}" placeholders */
    strata_dtype float_dtype;        /* on-disk type of mean/std/var/median */
    strata_dtype sum_dtype;          /* INT64: integer sums as Int64, else Float64 */
    strata_codec codec;              /* one strata_codec_for_gtiff takes */
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
