/* The exec layer: the plan of a job's work items and the pool of threads that runs them.
 * Depends on common only: it knows tiles and time ranges as numbers, and nothing of files.
 * Not installed. */
#ifndef STRATA_EXEC_H
#define STRATA_EXEC_H

#include "common/common.h"

/* ---- plan (plan.c) -------------------------------------------------------------------- */

typedef struct st_plan {
    int rows, cols;           /* the raster */
    int tile_rows, tile_cols; /* spatial tile size in pixels (whole source blocks) */
    int tiles_y, tiles_x;
    size_t ntiles;
    size_t nsplit;    /* time ranges per tile */
    size_t range_len; /* timesteps per range (the last may be shorter) */
    size_t nfin;      /* finish parts per tile: pixel ranges of a tile split in time,
                         whose median and quantiles are selected by several workers */
    size_t nitems;    /* work items of this part (all: ntiles * (nsplit + nfin)); a tile's
                         items are its nsplit ranges, then its nfin finish parts */
    size_t part_index, part_count;
} st_plan;

/* Work items for a T-step job over a rows x cols raster in tiles of tile_rows x tile_cols.
 * The split of time into ranges depends on the shape only, never on the thread count, so
 * results are identical for any number of threads. */
void st_plan_make(int rows, int cols, int tile_rows, int tile_cols, size_t T, st_plan *plan);
/* Shrinks the tile (rows first, whole blocks of block_rows while one fits) to at most
 * max_pixels, and redoes the grid. Call before st_plan_split_finish and st_plan_restrict. */
void st_plan_bound(st_plan *plan, size_t T, size_t max_pixels, int block_rows);
/* Adds the finish parts to every tile split in time. */
void st_plan_split_finish(st_plan *plan);
/* range >= nsplit is finish part range - nsplit. */
void st_plan_item(const st_plan *plan, size_t item, size_t T, st_rect *rect, size_t *tile,
                  size_t *range, size_t *t0, size_t *t1);
/* Restricts the plan to the tiles of one part (tile % count == index), round-robin so parts
 * get a fair mix of edge and inner tiles. count 0 or 1: every tile. */
void st_plan_restrict(st_plan *plan, int index, int count);
/* The plan's own numbering of items to the global one. */
size_t st_plan_global_item(const st_plan *plan, size_t local);

/* ---- executor (executor.c) ----------------------------------------------------------- */

/* Runs fn(ctx, item, worker) for item in [0, nitems) on a pool of threads. The first error
 * is sticky: workers stop taking items and its message is set on the calling thread.
 * Progress runs on the calling thread. Each worker calls start (if set) before its first
 * item and stop (if set) after its last, on its own thread: where a job keeps per-thread
 * state, such as open files, which the executor knows nothing of. */
typedef strata_status (*st_work_fn)(void *ctx, size_t item, int worker);
typedef struct st_exec {
    size_t nitems;
    int threads;
    st_work_fn fn;
    void *ctx;
    strata_progress_fn progress;
    void *progress_user;
    const char *unit;                /* what an item is in progress messages ("tiles") */
    atomic_uint_fast64_t bytes_read; /* workers add what they decode */
    strata_status (*start)(void *ctx, int worker);
    void (*stop)(void *ctx, int worker);
} st_exec;

int st_thread_count(int requested, size_t nitems);
strata_status st_exec_run(st_exec *ex);

#endif
