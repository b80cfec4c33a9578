/* The GeoTIFF sink (strata_reduce_to_gtiff): one tiled, compressed file per (group, op).
 * Internal. */
#ifndef STRATA_GTIFF_H
#define STRATA_GTIFF_H

#include "reduce/sink.h"

typedef struct st_gtiff_spec {
    const char *pattern;             /* "{op}" and "{label}" placeholders */
    strata_codec codec;              /* one strata_codec_for_gtiff takes */
    bool one_writer;                 /* tiles come from one thread, not from a pool of workers */
    const strata_collection *inputs; /* no output may be one of its files */
} st_gtiff_spec;
/* Files of the outputs outs (decided for ST_TARGET_GTIFF), named by the spec's pattern. */
strata_status st_gtiff_sink_new(strata_result *r, const strata_meta *m, const st_outputs *outs,
                                const st_gtiff_spec *sp, st_sink **out);
/* Closes every file; on success renames each temporary file to its final name, on failure
 * deletes them. */
strata_status st_gtiff_sink_finish(st_sink *s, bool ok);

#endif
