/* The reduce engine: one pass over a collection's timesteps in groups, tile by tile, each
 * finished tile handed to a sink. Not installed. */
#ifndef STRATA_ENGINE_H
#define STRATA_ENGINE_H

#include "exec/exec.h"
#include "source/source.h"

struct st_sink;
/* Reduces c over time in groups (group_of[t] < ngroups) for the ops marked in ops[],
 * handing every finished tile to sink. */
/* The spatial tile the engine uses for this request: the collection's, shrunk for median and
 * quantiles until a tile's kept values fit the memory budget. */
void st_engine_tile(const strata_collection *c, const bool *ops, const strata_reduce_opts *o,
                    size_t ngroups, int *rows, int *cols);
strata_status st_engine_run(const strata_collection *c, const bool *ops,
                            const strata_reduce_opts *opts, size_t ngroups, size_t *group_of,
                            struct st_sink *sink);

#endif
