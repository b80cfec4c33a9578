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

/* Runs fn(ctx, worker, item) for item in [0, nitems) on a pool of threads: the skeleton of
 * every job (reduce, Zarr writes, anomalies). The first error is sticky: workers stop taking
 * items and its message is set on the calling thread. Progress runs on the calling thread.
 *
 * Each worker owns worker_size bytes of state, zeroed, which the executor allocates before the
 * run and frees after it: a job's per-thread buffers and open files, which the executor knows
 * nothing of. start (if set) fills it on the worker's own thread before its first item; stop
 * (if set) releases what it holds after its last item, on the same thread, whether start,
 * an item or nothing failed (so stop must accept a half-filled state). */
typedef strata_status (*st_work_fn)(void *ctx, void *worker, size_t item);
typedef struct st_exec {
    size_t nitems;
    int threads; /* 0: one per core; never more than nitems */
    st_work_fn fn;
    void *ctx;
    size_t worker_size;
    strata_status (*start)(void *ctx, void *worker);
    void (*stop)(void *ctx, void *worker);
    strata_progress_fn progress;
    void *progress_user;
    const char *unit;                /* what an item is in progress messages ("tiles") */
    atomic_uint_fast64_t bytes_read; /* workers add what they decode */
} st_exec;

int st_thread_count(int requested, size_t nitems);
strata_status st_exec_run(st_exec *ex);

#endif
