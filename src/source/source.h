/* The source layer: the template's meta, collections of files, opening files (remote ones
 * included) through per-thread handle caches, and window reads. Depends on common only. Not
 * installed. */
#ifndef STRATA_SOURCE_H
#define STRATA_SOURCE_H

#include "common/common.h"

#include <gdal.h>
#include <ogr_srs_api.h>
#include <tiffio.h>

/* ---- meta (meta.c) ------------------------------------------------------------------- */

/* The template's GeoTIFF georeferencing tags (geotags.c): pixel scale, tie points,
 * transformation, GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams; count 0 when absent. */
enum { ST_NGEOTAGS = 6 };
typedef struct st_geotags {
    uint32_t count[ST_NGEOTAGS];
    void *values[ST_NGEOTAGS];
} st_geotags;

struct strata_meta {
    /* The CRS. With crs_from set it is built on first use (st_meta_crs), from that file:
     * building it opens PROJ's database, a fixed cost that a reduce to GeoTIFF, copying
     * geotags, never needs. */
    int epsg;
    char *crs_wkt;       /* "" when none; NULL until built */
    char *crs_from;      /* the template, until the CRS is built */
    st_geotags *geotags; /* the template's, when it is a GeoTIFF without side files */
    pthread_mutex_t crs_lock;
    double gt[6];
    int rows, cols, bands;
    strata_dtype dtype;
    int block_x, block_y;
    int *has_nodata;   /* [bands] */
    double *nodata;    /* [bands] */
    char **band_names; /* [bands], "" when none */
    double *scale;     /* [bands] packed values: value * scale + offset (GDAL's GetScale), */
    double *offset;    /* [bands] 1 and 0 when not packed */
    char **unit;       /* [bands] GDAL's unit type, "" when none */
    char *driver;
};

/* Whether any band of m holds packed values (scale or offset). */
bool st_meta_packed(const strata_meta *m);

/* An empty meta of that many bands (per-band arrays allocated), or NULL. */
strata_meta *st_meta_alloc(int bands);
/* lazy_crs: leave the CRS to st_meta_crs, and keep the template's geotags (a GeoTIFF whose
 * side files, if any, GDAL is told to ignore). */
strata_status st_meta_from_dataset(GDALDatasetH ds, const char *path, bool lazy_crs,
                                   strata_meta **out);
/* Builds m's CRS if it is not yet (thread-safe). After STRATA_OK, crs_wkt and epsg hold it. */
strata_status st_meta_crs(const strata_meta *m);
/* GDAL's libtiff handle of a GeoTIFF dataset, when GDAL uses the libtiff strata links. */
TIFF *st_gdal_tiff(GDALDatasetH ds);
st_geotags *st_geotags_read(GDALDatasetH ds);
st_geotags *st_geotags_copy(const st_geotags *g);
void st_geotags_free(st_geotags *g);
/* Sets g's tags on a GeoTIFF being created; false when it cannot. */
bool st_geotags_write(const st_geotags *g, GDALDatasetH ds);
/* True when ds (a file of `bands` bands, which are the meta's bands band0...) matches the
 * meta in size, bands, data type, grid, CRS and nodata; else false with the first difference
 * described in why (size bytes). stac: the meta came from STAC metadata (named as such). */
bool st_meta_matches(const strata_meta *tmpl, OGRSpatialReferenceH tmpl_srs, int bands, int band0,
                     bool stac, GDALDatasetH ds, char *why, size_t size);
/* A meta whose bands are nsrc copies of m's bands (one file per source), named names[k] when
 * given (one name per source, for single-band sources) */
strata_status st_meta_repeat_bands(const strata_meta *m, size_t nsrc, const char *const *names,
                                   strata_meta **out);
/* Builds a collection over n timesteps of nsrc files each. meta NULL: snapshot the first file.
 * Takes ownership of meta. band_names: one per source or NULL. */
strata_status st_collection_new(const char *const *paths, size_t n, size_t nsrc,
                                const char *const *band_names, strata_meta *meta,
                                strata_collection **out);
/* Same pixel grid: geotransforms written by different tools differ in the last bits; a shift
 * of a millionth of a pixel is the same grid. */
bool st_same_grid(const double *a, const double *b);
/* The template's CRS parsed (NULL when it has none); free with OSRDestroySpatialReference. */
OGRSpatialReferenceH st_meta_srs(const strata_meta *meta);
/* jansson is an implementation detail: these pass json_t as void. */
void *st_meta_to_jobj(const strata_meta *meta);
strata_status st_meta_from_jobj(const void *jobj, strata_meta **out);
/* The nodata of band b as the source type holds it (float32 nodata rounded to float). */
double st_meta_nodata_cmp(const strata_meta *meta, int band);

/* ---- collection and handle cache (collection.c, cache.c) ----------------------------- */

typedef struct st_thread_cache st_thread_cache;

struct strata_collection {
    size_t n;
    size_t nsrc;   /* files per timestep (STAC assets as bands); 1 for plain stacks */
    int src_bands; /* bands of each file; meta->bands == nsrc * src_bands */
    char **paths;  /* [nfiles], timestep-major; a mosaic's further items follow */
    size_t nfiles; /* n * nsrc, and a mosaic's further items' files */
    int64_t *times;
    unsigned char *has_time;
    char **labels; /* NULL or [n] */
    strata_meta *meta;
    strata_chunks chunks;
    int cache_capacity;
    bool sidecars;         /* the template has side files (.aux.xml, .ovr, .msk): look for them */
    atomic_uchar *checked; /* [nfiles]: 1 once the file was opened and matched the template */
    bool meta_from_stac;   /* the meta came from STAC metadata (named so in mismatch messages) */
    atomic_int nthreads;   /* threads with a handle cache: they share the open-file budget */
    pthread_mutex_t lock;  /* guards the caches list, not the caches */
    st_thread_cache **caches;
    size_t ncaches, caches_cap;
    struct st_net *net;   /* remote reads through the fetcher (source/netread.h) */
    atomic_int net_state; /* 0: not looked at, 1: none (local), 2: net is set */

    struct st_grid *grid;     /* NULL, or the output grid the sources are warped to */
    struct st_mosaic *mosaic; /* NULL, or the items fused into each timestep */
};

/* The calling thread's cache for c (created on first use). */
strata_status st_cache_for_thread(const strata_collection *c, st_thread_cache **out);
/* The open dataset of file f (timestep t, source k: f = t * nsrc + k), opened and checked
 * against the template on first use; and when tif is not NULL, GDAL's libtiff handle of it if
 * its blocks are to be read into the thread's shared buffer (else NULL). */
strata_status st_cache_acquire(st_thread_cache *tc, size_t f, GDALDatasetH *out, TIFF **tif);
/* Call before GDAL reads the block of tif at pixel (x, y) of sample (0-based band): points
 * the handle at the thread's buffer of compressed bytes, grown to hold the block. */
void st_cache_fit_block(st_thread_cache *tc, TIFF *tif, int x, int y, int sample);
/* True when file f matches the meta because its compared tags (keys, len: st_geokeys) are
 * the template's (tmpl_keys, tmpl_len) byte for byte: the files are GeoTIFFs, the template
 * matched the meta (a meta from STAC or JSON may say anything: the template is checked like
 * every other file first), no side-car file can change what GDAL makes of the tags, and f's
 * source has the template's nodata in the meta. With keys NULL: whether f could match so at
 * all (its tags are then worth reading). */
bool st_source_same_header(const strata_collection *c, size_t f, const unsigned char *keys,
                           size_t len, const unsigned char *tmpl_keys, size_t tmpl_len);
/* Closes file f's handle now if this thread has it open: for files read once, so that they
 * do not pile up in the cache with their buffers. */
void st_cache_close(st_thread_cache *tc, size_t f);
/* When file f is open through a warped VRT, drops the blocks that GDAL's warper read from
 * the file, and those the VRT warped for its other bands, from GDAL's global block cache, so
 * memory does not grow with the files read (nor depend on GDAL_CACHEMAX); a no-op
 * otherwise. */
void st_cache_drop_warp_blocks(st_thread_cache *tc, size_t f);
const strata_collection *st_cache_collection(const st_thread_cache *tc);
void st_cache_free(st_thread_cache *tc);
/* Closes the calling thread's files and forgets its cache: a worker that ran out of work
 * does it while the others finish, instead of the caller doing it for all at the end. */
void st_cache_drop_thread(const strata_collection *c);
/* Scratch of at least n bytes owned by the thread cache (one block of the source). */
void *st_cache_scratch(st_thread_cache *tc, size_t n);
/* Opens a path as a raster with GDAL, quiet, preferring driver; NULL on failure with the
 * error recorded (saying so when the process ran out of file descriptors). */
GDALDatasetH st_open_raster(const char *path, const char *driver, bool sidecars);
/* The process's soft limit of open files (RLIMIT_NOFILE). */
long st_fd_limit(void);
/* When the process (or system) has no file descriptor left, a note saying so to append to a
 * failure's message; else "". */
const char *st_fd_note(void);

/* ---- spatial tiles (tile.c) ---------------------------------------------------------- */

/* Default spatial tile: whole source blocks, grown to a useful size. */
void st_default_tile(const strata_meta *meta, int *rows, int *cols);
/* A tile of whole source blocks of at least min_pixels (clipped to the raster). */
void st_block_tile(const strata_meta *meta, long min_pixels, int *rows, int *cols);

/* ---- GeoTIFF grid and CRS tags (geokeys.c) --------------------------------------------- */

/* The raw size, sample, georeferencing and GeoKey tags of a TIFF's first IFD (out has cap
 * bytes); false when the GeoKeys are absent or anything is odd. */
bool st_geokeys_from_bytes(const unsigned char *p, size_t n, unsigned char *out, size_t cap,
                           size_t *len);
/* The same read from a file (any GDAL virtual path); *blob is freed with free(). */
bool st_geokeys(const char *path, unsigned char **blob, size_t *len);

/* ---- reading (read.c) ---------------------------------------------------------------- */

/* Copies the part of decoded block (bx, by) of bw x bh values that falls in rect into dst,
 * converting src_type to dst_type: what every window read does with a decoded block. */
void st_copy_from_block(const void *blk, GDALDataType src_type, int bx, int by, int bw, int bh,
                        const st_rect *r, void *dst, GDALDataType dst_type);
/* Reads band (0-based) of timestep t over rect into dst [nrows][ncols] of dtype, decoding
 * each intersecting source block once, bypassing GDAL's block cache. */
strata_status st_read_rect(st_thread_cache *tc, size_t t, int band, const st_rect *rect,
                           strata_dtype dtype, void *dst);

/* ---- remote sources (remote.c) ------------------------------------------------- */

/* Applies strata's remote-read defaults (retries, merged ranges, no folder listing) to
 * GDAL's configuration once per process, leaving every option the user set alone. */
void st_remote_configure(void);
/* True when GDAL reads path over the network (/vsicurl/, /vsis3/, ...). */
bool st_remote_path(const char *path);
/* After a failed open of a network path: makes GDAL forget what it cached about it (a failed
 * request is remembered as "does not exist") and returns true, so the caller may try once
 * more. False for local paths. */
bool st_remote_forget(const char *path);
/* The first n bytes of path (fewer at its end) and its size, read through GDAL: from GDAL's
 * cache of /vsicurl/ bytes when an open of path read them already, so that a header GDAL read
 * is not fetched again. NULL (quietly) when fewer than 8 bytes can be read. */
unsigned char *st_remote_head(const char *path, size_t n, size_t *got, uint64_t *size);

#endif
