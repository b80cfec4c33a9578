/* The work items of a job: a grid of spatial tiles (of a size the caller chose, whole source
 * blocks as source/tile.c makes them), each split into fixed time ranges when tiles are too
 * few to keep every core busy. */
#include "exec/exec.h"

/* Work items wanted per job, and the fewest timesteps worth a range of their own. Both are
 * constants, not functions of the thread count: that is what makes results identical for
 * any number of threads. */
enum { TARGET_ITEMS = 32, MIN_RANGE_LEN = 8 };

static size_t ceil_div(size_t a, size_t b) {
    return (a + b - 1) / b;
}

/* The tile grid and the time split of tiles of the plan's tile size. */
static void plan_grid(st_plan *p, size_t T) {
    p->tiles_y = (int)ceil_div((size_t)p->rows, (size_t)p->tile_rows);
    p->tiles_x = (int)ceil_div((size_t)p->cols, (size_t)p->tile_cols);
    p->ntiles = (size_t)p->tiles_y * p->tiles_x;
    size_t want = ceil_div(TARGET_ITEMS, p->ntiles);
    size_t most = T / MIN_RANGE_LEN ? T / MIN_RANGE_LEN : 1;
    size_t nsplit = want < most ? want : most;
    p->range_len = ceil_div(T ? T : 1, nsplit);
    p->nsplit = ceil_div(T ? T : 1, p->range_len);
    p->nfin = 0;
    p->nitems = p->ntiles * p->nsplit;
    p->part_index = 0;
    p->part_count = 1;
}

void st_plan_make(int rows, int cols, int tile_rows, int tile_cols, size_t T, st_plan *p) {
    p->rows = rows;
    p->cols = cols;
    p->tile_rows = tile_rows;
    p->tile_cols = tile_cols;
    plan_grid(p, T);
}

void st_plan_bound(st_plan *p, size_t T, size_t max_pixels, int block_rows) {
    if ((size_t)p->tile_rows * p->tile_cols <= max_pixels) {
        return;
    }
    size_t rows = max_pixels / (size_t)p->tile_cols;
    if (block_rows > 0 && rows >= (size_t)block_rows) {
        rows -= rows % (size_t)block_rows; /* whole blocks, when a block still fits */
    }
    if (rows < 1) {
        rows = 1;
        p->tile_cols = max_pixels > 0 ? (int)max_pixels : 1;
    }
    p->tile_rows = (int)rows;
    plan_grid(p, T);
}

void st_plan_split_finish(st_plan *p) {
    p->nfin = p->nsplit > 1 ? p->nsplit : 0;
    p->nitems = p->ntiles * (p->nsplit + p->nfin);
}

void st_plan_restrict(st_plan *p, int index, int count) {
    if (count <= 1 || index < 0 || index >= count) {
        return;
    }
    p->part_index = (size_t)index;
    p->part_count = (size_t)count;
    size_t tiles =
        p->ntiles > p->part_index ? ceil_div(p->ntiles - p->part_index, p->part_count) : 0;
    p->nitems = tiles * (p->nsplit + p->nfin);
}

size_t st_plan_global_item(const st_plan *p, size_t local) {
    size_t per = p->nsplit + p->nfin;
    size_t tile = p->part_index + (local / per) * p->part_count;
    return tile * per + local % per;
}

void st_plan_item(const st_plan *p, size_t item, size_t T, st_rect *rect, size_t *tile,
                  size_t *range, size_t *t0, size_t *t1) {
    *tile = item / (p->nsplit + p->nfin);
    *range = item % (p->nsplit + p->nfin);
    int ty = (int)(*tile / (size_t)p->tiles_x), tx = (int)(*tile % (size_t)p->tiles_x);
    rect->row0 = ty * p->tile_rows;
    rect->col0 = tx * p->tile_cols;
    rect->nrows = p->rows - rect->row0 < p->tile_rows ? p->rows - rect->row0 : p->tile_rows;
    rect->ncols = p->cols - rect->col0 < p->tile_cols ? p->cols - rect->col0 : p->tile_cols;
    size_t r = *range < p->nsplit ? *range : 0; /* a finish part: no time range */
    *t0 = r * p->range_len;
    *t1 = *t0 + p->range_len < T ? *t0 + p->range_len : T;
}
