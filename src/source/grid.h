/* Output grids and same-day mosaics of a collection (grid.c, mosaic.c). */
#ifndef STRATA_SOURCE_GRID_H
#define STRATA_SOURCE_GRID_H

#include "source/source.h"

/* The output grid's geotransform, size and CRS are the collection meta's; this is what the
 * reads need besides. */
typedef struct st_grid {
    strata_resampling resampling;
    double max_error; /* pixels; 0: exact transforms */
    size_t nwarped;   /* sources found on another grid when the grid was set */
} st_grid;

/* Opens file f of c for reading on the output grid: the file itself when it lies on it,
 * else a warped VRT over it (which owns it; *warp_src is then the file's dataset, else
 * NULL). Checks bands, type and CRS. */
strata_status st_grid_open(const strata_collection *c, size_t f, GDALDatasetH *out,
                           GDALDatasetH *warp_src);
/* A file's grid when known without opening it (STAC proj: fields). */
typedef struct st_file_grid {
    bool known;
    int epsg;
    double gt[6];
    int rows, cols;
} st_file_grid;
/* strata_collection_set_grid, with the grids of the files when known ([nfiles] or NULL). */
strata_status st_collection_set_grid(strata_collection *c, const strata_grid_opts *g,
                                     const st_file_grid *known);
void *st_grid_to_jobj(const st_grid *g);
strata_status st_grid_from_jobj(const void *jobj, st_grid **out);

/* Items fused into each timestep: timestep t is file item t (paths[t * nsrc ...]) followed
 * by items more[first[t]] ... more[first[t + 1] - 1] (item indices >= n). */
typedef struct st_mosaic {
    strata_mosaic by;
    strata_mosaic_op op;
    size_t *first; /* [n + 1] */
    size_t *more;  /* [first[n]] */
} st_mosaic;

void st_mosaic_free(st_mosaic *m);
/* Reads timestep t's items over rect and fuses them into dst. */
strata_status st_mosaic_read(st_thread_cache *tc, size_t t, int band, const st_rect *rect,
                             strata_dtype dtype, void *dst);
/* Reads one item's file of band over rect (read.c). */
strata_status st_read_item(st_thread_cache *tc, size_t item, int band, const st_rect *rect,
                           strata_dtype dtype, void *dst);
void *st_mosaic_to_jobj(const strata_collection *c);
/* Rebuilds c's mosaic (c->paths already sized by nfiles) from the form st_mosaic_to_jobj. */
strata_status st_mosaic_from_jobj(strata_collection *c, const void *jobj);

#endif
