/* Internal declarations shared by the modules of libstrata. Not installed. */
#ifndef STRATA_INTERNAL_H
#define STRATA_INTERNAL_H

#include "strata.h"

#include <gdal.h>
#include <tiffio.h>
#include <ogr_srs_api.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

/* ---- errors (error.c) ---------------------------------------------------------------- */

/* Records a message for the calling thread and returns status, so call sites read
 * `return st_fail(STRATA_ERR_IO, "%s: ...", path);`. */
strata_status st_fail(strata_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* As st_fail, appending GDAL's last message on this thread when there is one. */
strata_status st_fail_gdal(strata_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void st_clear_error(void);
/* Route GDAL's messages of this thread to a quiet recorder (the library never prints).
 * Calls nest; every begin needs its end on the same thread. */
void st_gdal_quiet_begin(void);
void st_gdal_quiet_end(void);
/* Sets the calling thread's message (used to carry a worker's error to the caller). */
void st_set_errmsg(const char *msg);
/* Registers GDAL's drivers once per process (idempotent, thread-safe). */
void st_gdal_init(void);

/* A hot loop built twice, for AVX2 and for the baseline; the loader picks one at run time
 * (GCC ifunc). ThreadSanitizer builds keep the baseline only. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define ST_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define ST_AVX2_CLONE
#endif

#define ST_TRY(expr)                                                                               \
    do {                                                                                           \
        strata_status st_try_rc_ = (expr);                                                         \
        if (st_try_rc_ != STRATA_OK) {                                                             \
            return st_try_rc_;                                                                     \
        }                                                                                          \
    } while (0)

/* ---- memory: every allocation goes through here (one place to inject failures) ------- */

void *st_malloc(size_t n);
void *st_calloc(size_t count, size_t size);
void *st_realloc(void *p, size_t n);
char *st_strdup(const char *s);
strata_status st_nomem(const char *what);

/* ---- data types (dtype.c) ------------------------------------------------------------- */

GDALDataType st_dtype_to_gdal(strata_dtype dtype);
strata_dtype st_dtype_from_gdal(GDALDataType type);
bool st_dtype_is_float(strata_dtype dtype);
/* The range of an integer type (0 and INT64's for the others). */
double st_dtype_min(strata_dtype dtype);
double st_dtype_max(strata_dtype dtype);
/* 1 when v is exactly a value of dtype (NaN and every double for float64; a float32 value
 * for float32; a whole number in range for integers). */
bool st_dtype_holds(strata_dtype dtype, double v);
/* An integer type's missing marker when the input gives none: the value least likely to be
 * data (the most negative for signed types, the largest for unsigned ones). */
double st_dtype_sentinel(strata_dtype dtype);

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
    char **paths;  /* [n * nsrc], timestep-major */
    int64_t *times;
    unsigned char *has_time;
    char **labels; /* NULL or [n] */
    strata_meta *meta;
    strata_chunks chunks;
    int cache_capacity;
    bool sidecars;         /* the template has side files (.aux.xml, .ovr, .msk): look for them */
    atomic_uchar *checked; /* [n * nsrc]: 1 once the file was opened and matched the template */
    bool meta_from_stac;   /* the meta came from STAC metadata (named so in mismatch messages) */
    atomic_int nthreads;   /* threads with a handle cache: they share the open-file budget */
    pthread_mutex_t lock;  /* guards the caches list, not the caches */
    st_thread_cache **caches;
    size_t ncaches, caches_cap;
    struct st_net *net;   /* remote reads through the fetcher (source/netread.h) */
    atomic_int net_state; /* 0: not looked at, 1: none (local), 2: net is set */
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
/* Closes file f's handle now if this thread has it open: for files read once, so that they
 * do not pile up in the cache with their buffers. */
void st_cache_close(st_thread_cache *tc, size_t f);
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

/* ---- GeoTIFF grid and CRS tags (geokeys.c) --------------------------------------------- */

/* The raw size, sample, georeferencing and GeoKey tags of a TIFF's first IFD (out has cap
 * bytes); false when the GeoKeys are absent or anything is odd. */
bool st_geokeys_from_bytes(const unsigned char *p, size_t n, unsigned char *out, size_t cap,
                           size_t *len);
/* The same read from a file (any GDAL virtual path); *blob is freed with free(). */
bool st_geokeys(const char *path, unsigned char **blob, size_t *len);

/* ---- reading (read.c) ---------------------------------------------------------------- */

typedef struct st_rect {
    int row0, nrows, col0, ncols;
} st_rect;

/* Reads band (0-based) of timestep t over rect into dst [nrows][ncols] of dtype, decoding
 * each intersecting source block once, bypassing GDAL's block cache. */
strata_status st_read_rect(st_thread_cache *tc, size_t t, int band, const st_rect *rect,
                           strata_dtype dtype, void *dst);

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

/* Default spatial tile: whole source blocks, grown to a useful size. */
void st_default_tile(const strata_meta *meta, int *rows, int *cols);
/* A tile of whole source blocks of at least min_pixels (clipped to the raster). */
void st_block_tile(const strata_meta *meta, long min_pixels, int *rows, int *cols);
/* Work items for a T-step job over the collection's spatial chunks. The split of time into
 * ranges depends on the shape only, never on the thread count, so results are identical
 * for any number of threads. */
void st_plan_make(const strata_collection *c, st_plan *plan);
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
 * Progress runs on the calling thread. */
typedef strata_status (*st_work_fn)(void *ctx, size_t item, int worker);
typedef struct st_exec {
    size_t nitems;
    int threads;
    st_work_fn fn;
    void *ctx;
    strata_progress_fn progress;
    void *progress_user;
    atomic_uint_fast64_t bytes_read; /* workers add what they decode */
    const strata_collection *files;  /* NULL, or what workers read: each closes its files */
} st_exec;

int st_thread_count(int requested, size_t nitems);
strata_status st_exec_run(st_exec *ex);

/* ---- engine (engine.c) -------------------------------------------------------------- */

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

/* ---- time (timeparse.c) -------------------------------------------------------------- */

strata_status st_parse_iso8601(const char *text, int64_t *utc);
void st_format_iso8601(int64_t utc, char *buf, size_t size);
/* Matches pattern anywhere in name; 0 on success. */
strata_status st_parse_time_pattern(const char *name, const char *pattern, int64_t *utc);
void st_civil_from_utc(int64_t utc, int *year, int *month, int *day, int *yday);

/* ---- remote sources (stac_remote.c) ------------------------------------------------- */

/* Applies strata's remote-read defaults (retries, merged ranges, no folder listing) to
 * GDAL's configuration once per process, leaving every option the user set alone. */
void st_remote_configure(void);
/* True when GDAL reads path over the network (/vsicurl/, /vsis3/, ...). */
bool st_remote_path(const char *path);
/* After a failed open of a network path: makes GDAL forget what it cached about it (a failed
 * request is remembered as "does not exist") and returns true, so the caller may try once
 * more. False for local paths. */
bool st_remote_forget(const char *path);

/* ---- encodings shared by the Zarr writer and kerchunk (encode.c) ----------------------- */

/* prefix + standard base64 of n bytes; NULL when out of memory; free with free(). */
char *st_base64(const char *prefix, const void *data, size_t n);
struct json_t;
/* A double as Zarr JSON writes it: a number, or "NaN", "Infinity", "-Infinity". */
struct json_t *st_json_zarr_double(double v);

/* ---- paths a job reads and writes (paths.c) ---------------------------------------------- */

/* A name of the local file system: not a /vsi* path nor a URL. */
bool st_local_path(const char *path);
/* Refuses a local input that exists but is not a file or folder (a FIFO, a device). */
strata_status st_check_input_kind(const char *path);
bool st_utf8_valid(const char *s);
/* Refuses s (described as what, e.g. "file name") when it is not UTF-8. */
strata_status st_check_utf8(const char *what, const char *s);
/* Refuses any output (or its ".part") that is one of the inputs, by device and inode. */
strata_status st_guard_outputs(const char *const *inputs, size_t nin, const char *const *outs,
                               size_t nout);
/* As st_guard_outputs for a store folder, and refuses a store that holds an input. */
strata_status st_guard_store(const char *const *inputs, size_t nin, const char *store);

/* ---- JSON helpers ---------------------------------------------------------------------- */
char *st_json_dump(const void *jobj); /* compact, doubles exact; NULL on failure */

#endif
