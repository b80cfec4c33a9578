/* strata: a lazy (time, band, row, col) raster cube in C.
 *
 * This is the one public header: if a symbol is not declared here, it is not API.
 *
 * Conventions
 * - Every call that can fail returns a strata_status; on failure, strata_errmsg() gives a
 *   readable message for the calling thread, naming the file and what is wrong.
 * - Objects are opaque, created by a *_new / *_from_* call and released by the matching
 *   *_free, which accepts NULL.
 * - Strings and buffers handed out with "free with strata_free" are owned by the caller.
 *   Pointers returned by getters are owned by the object and live as long as it does.
 * - Thread safety: a strata_meta is immutable and may be shared freely. A strata_collection
 *   may be read from many threads at once once it is built (after the last set_* call);
 *   each thread gets its own cache of open GDAL datasets. The library never prints, never
 *   exits, and only calls back through the progress and log functions the caller sets.
 * - Options structs (strata_*_opts) start with `size_t size`, which their strata_*_opts_init
 *   sets to the struct's size in the header the caller was built with. Always fill options
 *   through their _init, then set fields by name. The library reads only the first `size`
 *   bytes and gives every field past them its default, so a program built against an older
 *   header (a smaller struct) keeps working when fields are added; a larger struct from a
 *   newer header is accepted when the fields this library does not know are zero, else the
 *   call fails with STRATA_ERR_UNSUPPORTED. A size too small for `size` itself (options not
 *   made by _init) fails with STRATA_ERR_INVALID_ARG.
 *
 * Stability
 * - Everything declared here is the API; nothing else is (src/ headers and
 *   strata_testing.h are not). Functions, types and fields note the version they appeared
 *   in ("since 0.2"); those without a note are since 0.1.
 * - Within one MINOR version (0.2.0, 0.2.1, ...) the API and ABI only grow: new functions,
 *   new enum values at the end, new options fields at the end of their struct. Nothing is
 *   removed, reordered or changes meaning.
 * - Before 1.0 a new MINOR version may break the API or ABI; the shared library's SOVERSION
 *   is then "0.MINOR" (libstrata.so.0.2), so a program never loads a library it does not
 *   fit, and the CMake package asks for the same minor version. From 1.0 on, SOVERSION is the
 *   MAJOR version and only a new MAJOR version breaks anything.
 */
#ifndef STRATA_H
#define STRATA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_VERSION_MAJOR 0
#define STRATA_VERSION_MINOR 2
#define STRATA_VERSION_PATCH 0
#define STRATA_VERSION_NUMBER                                                                      \
    (STRATA_VERSION_MAJOR * 10000 + STRATA_VERSION_MINOR * 100 + STRATA_VERSION_PATCH)
#define STRATA_VERSION_STRING "0.2.0"

#if defined(__GNUC__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/* ---- status and errors ------------------------------------------------------------- */

/* Codes only ever grow: new ones are added last, none is removed. */
typedef enum strata_status {
    STRATA_OK = 0,
    STRATA_ERR_INVALID_ARG = 1, /* a bad argument or option value */
    STRATA_ERR_NOMEM = 2,       /* an allocation failed */
    STRATA_ERR_IO = 3,          /* a file is missing, unreadable or corrupt */
    STRATA_ERR_MISALIGNED = 4,  /* a file's grid, CRS, bands or type differs from the template */
    STRATA_ERR_PARSE = 5,       /* malformed JSON, time or label text */
    STRATA_ERR_UNSUPPORTED = 6, /* a data type or format strata does not handle */
    STRATA_ERR_CANCELLED = 7,   /* the progress callback returned 0 (stop) */
    STRATA_ERR_WRITE = 8        /* an output could not be written */
} strata_status;

/* Static name of a status, e.g. "misaligned". Never NULL. */
STRATA_API const char *strata_status_str(strata_status status);
/* Message of the last failed call on this thread; "" when none. Owned by the library,
 * valid until the next strata call on this thread. */
STRATA_API const char *strata_errmsg(void);
STRATA_API const char *strata_version(void);
STRATA_API int strata_version_number(void);
/* Frees memory that strata handed to the caller (JSON text, label arrays' strings). */
STRATA_API void strata_free(void *ptr);

/* ---- progress and log callbacks ------------------------------------------------------ */

/* Progress of a long call, with GDAL's signature and sense (a GDALProgressFunc such as
 * GDALTermProgress can be passed as it is): fraction done in [0, 1], never decreasing, and a
 * short message ("12/340 tiles  85 MB/s"); return non-zero to go on, 0 to stop (the call
 * then fails with STRATA_ERR_CANCELLED and leaves no output behind). Called on the thread
 * that made the call, about ten times a second and once at the end with 1.0.
 * Since 0.2 (0.1 passed tile counts and cancelled on non-zero). */
typedef int (*strata_progress_fn)(double fraction, const char *message, void *user);

/* Levels of the library's log messages. Since 0.2. */
typedef enum strata_log_level {
    STRATA_LOG_DEBUG = 0,
    STRATA_LOG_INFO,
    STRATA_LOG_WARNING
} strata_log_level;

/* Receives the library's messages that are not errors: GDAL's warnings while strata reads or
 * writes a file ("GDAL: ..."), and inputs left out of a result (a variable kerchunk cannot
 * index, when its opts.warn is NULL). It may be called from any of strata's worker threads,
 * several at once: it must be thread-safe. message is valid during the call. Since 0.2. */
typedef void (*strata_log_fn)(strata_log_level level, const char *message, void *user);

/* Sets the process-wide log function (NULL: messages are dropped, the default) and the
 * lowest level it receives. Set it before any other call: it is not synchronised with calls
 * running in other threads. Since 0.2. */
STRATA_API void strata_set_log(strata_log_fn fn, strata_log_level min_level, void *user);

/* ---- data types ---------------------------------------------------------------------- */

typedef enum strata_dtype {
    STRATA_DTYPE_UNKNOWN = 0,
    STRATA_UINT8,
    STRATA_INT8,
    STRATA_UINT16,
    STRATA_INT16,
    STRATA_UINT32,
    STRATA_INT32,
    STRATA_INT64,
    STRATA_FLOAT32,
    STRATA_FLOAT64
} strata_dtype;

/* numpy-style name ("float32"); "unknown" for anything else. */
STRATA_API const char *strata_dtype_name(strata_dtype dtype);
/* Accepts numpy names and GDAL names ("Float32"); STRATA_DTYPE_UNKNOWN if neither. */
STRATA_API strata_dtype strata_dtype_from_name(const char *name);
STRATA_API size_t strata_dtype_size(strata_dtype dtype);

/* ---- meta: the template's geobox and pixel description ------------------------------ */

typedef struct strata_meta strata_meta;

/* Opens one raster (any GDAL-readable name) and snapshots its geobox. */
STRATA_API strata_status strata_meta_from_file(const char *path, strata_meta **out);
/* Exact JSON form: doubles round-trip bit for bit; NaN/inf nodata are written as strings.
 * *json is freed with strata_free. */
STRATA_API strata_status strata_meta_to_json(const strata_meta *meta, char **json);
STRATA_API strata_status strata_meta_from_json(const char *json, strata_meta **out);
STRATA_API strata_status strata_meta_copy(const strata_meta *meta, strata_meta **out);
STRATA_API void strata_meta_free(strata_meta *meta);
/* 1 when every field is equal (doubles compared bitwise, NaN equal to NaN), else 0. */
STRATA_API int strata_meta_equal(const strata_meta *a, const strata_meta *b);

STRATA_API int strata_meta_epsg(const strata_meta *meta); /* 0 when the CRS has no code */
STRATA_API const char *strata_meta_crs_wkt(const strata_meta *meta); /* "" when no CRS */
STRATA_API void strata_meta_geotransform(const strata_meta *meta, double gt[6]);
STRATA_API int strata_meta_rows(const strata_meta *meta);
STRATA_API int strata_meta_cols(const strata_meta *meta);
STRATA_API int strata_meta_bands(const strata_meta *meta);
STRATA_API strata_dtype strata_meta_dtype(const strata_meta *meta);
/* Cell size as positive x and y extents of one pixel (from the geotransform). */
STRATA_API void strata_meta_cell_size(const strata_meta *meta, double *x, double *y);
/* Returns 1 and sets *value when band (0-based) has a nodata value, else 0. */
STRATA_API int strata_meta_nodata(const strata_meta *meta, int band, double *value);
/* Band description or "" (0-based band). */
STRATA_API const char *strata_meta_band_name(const strata_meta *meta, int band);
STRATA_API void strata_meta_block_size(const strata_meta *meta, int *x, int *y);
/* GDAL driver short name of the template ("GTiff"); used to open the other files fast. */
STRATA_API const char *strata_meta_driver(const strata_meta *meta);

/* ---- collection: an ordered list of timesteps over one geobox ----------------------- */

typedef struct strata_collection strata_collection;

/* Builds a collection from paths, one timestep each. Opens the first (the template) only;
 * the other files are checked against it when first read. Paths are copied. */
STRATA_API strata_status strata_collection_from_files(const char *const *paths, size_t n,
                                                      strata_collection **out);
/* Rebuilds a collection from its JSON form without opening any file. */
STRATA_API strata_status strata_collection_from_json(const char *json, strata_collection **out);
STRATA_API strata_status strata_collection_to_json(const strata_collection *c, char **json);
/* Closes every cached dataset of every thread. No other thread may be using c. */
STRATA_API void strata_collection_free(strata_collection *c);

/* Per-timestep times as UTC seconds since 1970-01-01 (n = collection size). */
STRATA_API strata_status strata_collection_set_times(strata_collection *c, const int64_t *utc);
/* Per-timestep ISO 8601 times ("2021-03-01", "2021-03-01T10:00:00Z", "...+02:00"). */
STRATA_API strata_status strata_collection_set_times_iso(strata_collection *c,
                                                         const char *const *iso);
/* Times parsed from each file's base name with a strptime-like pattern (%Y %m %d %H %M %S
 * %j); the pattern is searched for anywhere in the name. */
STRATA_API strata_status strata_collection_set_times_pattern(strata_collection *c,
                                                             const char *pattern);
/* Per-timestep string labels (copied). */
STRATA_API strata_status strata_collection_set_labels(strata_collection *c,
                                                      const char *const *labels);
/* Bound on open datasets per thread (default 64, minimum 1). */
STRATA_API strata_status strata_collection_set_cache_capacity(strata_collection *c, int capacity);
/* Remote (http/https) sources: bytes received so far and range requests in flight now; 0 and
 * 0 for local stacks or c NULL. Safe to call from a progress callback. */
STRATA_API void strata_collection_io_stats(const strata_collection *c, uint64_t *bytes,
                                           int *in_flight);

STRATA_API size_t strata_collection_size(const strata_collection *c);
STRATA_API const strata_meta *strata_collection_meta(const strata_collection *c);
/* The (first) file of timestep t. */
STRATA_API const char *strata_collection_path(const strata_collection *c, size_t t);
/* Files per timestep: 1, or one per asset of a STAC collection made of several assets. */
STRATA_API size_t strata_collection_sources(const strata_collection *c);
/* File k of timestep t, or NULL when out of range. */
STRATA_API const char *strata_collection_source(const strata_collection *c, size_t t, size_t k);
/* Returns 1 and sets *utc when timestep t has a time. */
STRATA_API int strata_collection_time(const strata_collection *c, size_t t, int64_t *utc);
/* Label of timestep t, or NULL when the collection has none. */
STRATA_API const char *strata_collection_label(const strata_collection *c, size_t t);
/* Fails with STRATA_ERR_INVALID_ARG, naming both, when writing path (or path.part) would
 * overwrite a file of c (same device and inode); the writers check their outputs this way. */
STRATA_API strata_status strata_collection_check_output(const strata_collection *c,
                                                        const char *path);

/* Opens every file once and checks it against the template; the first bad file fails. */
STRATA_API strata_status strata_collection_validate(const strata_collection *c);

/* ---- output grid: sources on other grids warped on the fly, same-day mosaics ---------- */

/* GDAL's resampling algorithms, named as gdalwarp -r names them ("near" is accepted too). */
typedef enum strata_resampling {
    STRATA_RESAMPLE_NEAREST = 0,
    STRATA_RESAMPLE_BILINEAR,
    STRATA_RESAMPLE_CUBIC,
    STRATA_RESAMPLE_CUBICSPLINE,
    STRATA_RESAMPLE_LANCZOS,
    STRATA_RESAMPLE_AVERAGE,
    STRATA_RESAMPLE_MODE,
    STRATA_RESAMPLE_MIN,
    STRATA_RESAMPLE_MAX,
    STRATA_RESAMPLE_MED,
    STRATA_RESAMPLE_Q1,
    STRATA_RESAMPLE_Q3
} strata_resampling;
STRATA_API strata_status strata_resampling_from_name(const char *name, strata_resampling *out);
STRATA_API const char *strata_resampling_name(strata_resampling r);

/* The output grid: either like (a raster whose grid is taken as it is), or crs + resolution
 * with optional bounds. Without bounds, the union of the sources' footprints. The grid snaps
 * to whole multiples of the resolution (as odc-stac's GeoBox does). */
struct strata_grid_opts {
    const char *like;       /* a raster path, or NULL */
    const char *crs;        /* EPSG:N, WKT or PROJJSON; NULL: the template's CRS */
    double res_x, res_y;    /* cell size in CRS units, > 0 (res_y 0: res_x) */
    int has_bounds;         /* 1: bounds below */
    double bounds[4];       /* xmin, ymin, xmax, ymax */
    const char *bounds_crs; /* CRS of bounds; NULL: the grid's */
    strata_resampling resampling;
    /* Largest error, in output pixels, of the approximate transformer GDAL's warper uses
     * between exact transforms (gdalwarp -et): 0.125 by default, 0 transforms every pixel
     * exactly. With the approximation, results can depend on how the output is split into
     * chunks, in gdalwarp as here. */
    double max_error;
};
typedef struct strata_grid_opts strata_grid_opts;
/* Zeroes g and sets the defaults (nearest, max_error 0.125). */
STRATA_API void strata_grid_opts_init(strata_grid_opts *g);
/* At most this many rows or columns in an output grid. */
#define STRATA_GRID_MAX_SIDE 1048576
/* Puts c on the output grid g: every source whose grid differs is warped to it as it is
 * read (only the windows a read needs; a COG's overview when it fits the resolution, as
 * gdalwarp picks it); pixels outside a source's footprint are missing (nodata: the
 * template's, else NaN for floats and the type's sentinel for integers). Opens every file
 * once for its footprint. */
STRATA_API strata_status strata_collection_set_grid(strata_collection *c,
                                                    const strata_grid_opts *g);
/* Sources found on another grid than the output grid (0 without an output grid). */
STRATA_API size_t strata_collection_warped(const strata_collection *c);
/* The resampling of the output grid, or -1 when the collection has none. */
STRATA_API int strata_collection_resampling(const strata_collection *c);

typedef enum strata_mosaic {
    STRATA_MOSAIC_NONE = 0,
    STRATA_MOSAIC_DAY,      /* UTC day */
    STRATA_MOSAIC_SOLAR_DAY /* local solar day at the grid centre's longitude, as odc-stac */
} strata_mosaic;
typedef enum strata_mosaic_op {
    STRATA_MOSAIC_FIRST = 0, /* first valid value in item order */
    STRATA_MOSAIC_LAST,
    STRATA_MOSAIC_MEAN,
    STRATA_MOSAIC_MAX,
    STRATA_MOSAIC_MIN,
    STRATA_MOSAIC_MEDIAN
} strata_mosaic_op;
STRATA_API strata_status strata_mosaic_from_name(const char *name, strata_mosaic *out);
STRATA_API strata_status strata_mosaic_op_from_name(const char *name, strata_mosaic_op *out);
/* Folds timesteps whose times fall on the same (solar) day into one, fused per pixel by op
 * over the valid values; every timestep needs a time. The timesteps keep their order of
 * first appearance. */
STRATA_API strata_status strata_collection_mosaic(strata_collection *c, strata_mosaic by,
                                                  strata_mosaic_op op);
/* Items (files per source) fused into timestep t: 1 without a mosaic. */
STRATA_API size_t strata_collection_items(const strata_collection *c, size_t t);

/* A window of the cube: [t0, t0+nt) x [b0, b0+nb) x [row0, row0+nrows) x [col0, col0+ncols). */
typedef struct strata_window {
    size_t t0, nt;
    int b0, nb;
    int row0, nrows;
    int col0, ncols;
} strata_window;

/* Reads a window into buf, laid out [t][b][row][col], converting to dtype (values out of
 * the target range are clamped, as GDAL does). Thread-safe. */
STRATA_API strata_status strata_collection_read(const strata_collection *c, const strata_window *w,
                                                strata_dtype dtype, void *buf);

/* ---- chunk grid ----------------------------------------------------------------------- */

typedef struct strata_chunks {
    int t, b, y, x;
} strata_chunks;

/* Default: one timestep, one band, a spatial tile made of whole source blocks. */
STRATA_API void strata_collection_chunks(const strata_collection *c, strata_chunks *out);
/* Overrides the grid; every size must be >= 1 (sizes above the cube's are clipped). */
STRATA_API strata_status strata_collection_set_chunks(strata_collection *c,
                                                      const strata_chunks *chunks);

/* ---- labels derived from times -------------------------------------------------------- */

/* key: "year", "month", "season", "dayofyear", "yearmonth" or "yearseason". Every timestep
 * must have a time. On success *labels holds n strings (n = collection size); release with
 * strata_labels_free(labels, n). Months are "01".."12", seasons "DJF" "MAM" "JJA" "SON";
 * yearseason puts December with the next year's January and February ("2021-DJF"). */
STRATA_API strata_status strata_labels_from_times(const strata_collection *c, const char *key,
                                                  char ***labels);
STRATA_API void strata_labels_free(char **labels, size_t n);

/* ---- codecs ---------------------------------------------------------------------------- */

/* The compression of every output, GeoTIFF and Zarr. Values only grow. */
typedef enum strata_codec {
    STRATA_CODEC_BLOSC_LZ4 = 0, /* Zarr only */
    STRATA_CODEC_BLOSC_ZSTD,    /* Zarr only */
    STRATA_CODEC_ZSTD,
    STRATA_CODEC_ZLIB, /* GeoTIFF's DEFLATE */
    STRATA_CODEC_NONE,
    STRATA_CODEC_LZW /* GeoTIFF only; since 0.2 */
} strata_codec;

/* "blosc-lz4", "blosc-zstd", "zstd", "zlib", "none", "lzw"; "unknown" for anything else. */
STRATA_API const char *strata_codec_name(strata_codec codec);
/* Any case of those names, and "deflate" for zlib. */
STRATA_API strata_status strata_codec_from_name(const char *name, strata_codec *codec);
/* 1 when GeoTIFF outputs can use codec (zstd, zlib, lzw, none), else 0. Since 0.2. */
STRATA_API int strata_codec_for_gtiff(strata_codec codec);
/* 1 when Zarr stores can use codec (every codec but lzw), else 0. Since 0.2. */
STRATA_API int strata_codec_for_zarr(strata_codec codec);

/* ---- reductions over time ------------------------------------------------------------- */

typedef enum strata_op {
    STRATA_OP_MEAN = 0,
    STRATA_OP_SUM,
    STRATA_OP_MIN,
    STRATA_OP_MAX,
    STRATA_OP_STD,
    STRATA_OP_VAR,
    STRATA_OP_COUNT,
    STRATA_OP_MEDIAN,
    STRATA_OP_QUANTILE,    /* every quantile of strata_reduce_opts.quantiles, one output each */
    STRATA_OP_COUNT_OF_OPS /* not an op: the number of ops */
} strata_op;

/* numpy's quantile methods of the same names (numpy.nanquantile(..., method=...)). */
typedef enum strata_quantile_method {
    STRATA_QUANTILE_LINEAR = 0,
    STRATA_QUANTILE_LOWER,
    STRATA_QUANTILE_HIGHER,
    STRATA_QUANTILE_NEAREST,
    STRATA_QUANTILE_MIDPOINT
} strata_quantile_method;

/* "linear", "lower", "higher", "nearest", "midpoint". */
STRATA_API const char *strata_quantile_method_name(strata_quantile_method method);
STRATA_API strata_status strata_quantile_method_from_name(const char *name,
                                                          strata_quantile_method *method);
/* The name of quantile q's output: "p" and 100 q with up to 10 significant digits ("p10",
 * "p2.5"), what "{op}" becomes in output paths. Returns buf. */
STRATA_API const char *strata_quantile_name(double q, char *buf, size_t len);

STRATA_API const char *strata_op_name(strata_op op);
STRATA_API strata_status strata_op_from_name(const char *name, strata_op *op);
/* Output type of op for a given input type in memory: min/max keep the input type, sum is
 * int64 for integer input and float64 otherwise, count is int32, the rest float64. Packed
 * input (a band with a scale or offset) is unpacked: every op but count gives float64. */
STRATA_API strata_dtype strata_op_dtype(strata_op op, strata_dtype input);

/* How a job runs, in the options of every job. */
typedef struct strata_run_opts {
    int threads; /* 0 (default): all cores */
    /* Remote sources (http/https COGs): range requests kept in flight at once, apart from the
     * threads that decode (0: the default, 64). The result does not depend on it. */
    int io_concurrency;
    strata_progress_fn progress;
    void *progress_user;
} strata_run_opts;

/* One share of a distributed job (MPI ranks, dask workers): the spatial tiles, or the chunks,
 * whose number % count == index. (0, 0), the default: all of them. */
typedef struct strata_partition_opts {
    int index, count;
} strata_partition_opts;

/* What the kernels compute. */
typedef struct strata_kernel_opts {
    int skipna; /* 1 (default): missing values are ignored; 0: any missing makes it missing */
    int ddof;   /* std/var divisor is n - ddof (default 0) */
    /* STRATA_OP_QUANTILE: the quantiles, each in [0, 1] (copied by the call), and numpy's
     * method (default linear). Without STRATA_OP_QUANTILE they are ignored. */
    const double *quantiles;
    size_t nquantiles;
    strata_quantile_method quantile_method;
    /* median and quantiles keep every value of a tile: tiles shrink until those values fit
     * this many MiB (0: the default, 256). The result does not depend on it. */
    size_t memory_mb;
} strata_kernel_opts;

/* How groups are ordered (strata_groupby, strata_reduce_to_gtiff with labels). */
typedef struct strata_group_opts {
    int sort; /* 1 sorts labels (integers by value, others by strcmp), 0 (default) first-seen */
} strata_group_opts;

/* The types and encoding of the outputs. */
typedef struct strata_output_opts {
    strata_dtype float_dtype; /* type of mean/std/var/median/quantiles: float32 or float64;
                                 UNKNOWN (default): in GeoTIFF outputs float64 for float64
                                 input, else float32; in memory float64 */
    strata_dtype sum_dtype;   /* GeoTIFF type of sums of integers: float64 (UNKNOWN, default:
                                 exact to 2^53, read by every reader) or int64 */
    /* GeoTIFF outputs: STRATA_CODEC_ZSTD (default, level 1), ZLIB (DEFLATE, level 1), LZW or
     * NONE. Since 0.2 (0.1: a name in `compress`). */
    strata_codec codec;
} strata_output_opts;

/* The options of a reduction, by concern (since 0.2; 0.1 had them side by side). */
typedef struct strata_reduce_opts {
    size_t size; /* set by strata_reduce_opts_init (see "Options structs" above); since 0.2 */
    strata_kernel_opts kernel;
    strata_group_opts groups;
    strata_output_opts output;
    strata_partition_opts partition;
    strata_run_opts run;
} strata_reduce_opts;

STRATA_API void strata_reduce_opts_init(strata_reduce_opts *opts);

typedef struct strata_result strata_result;

/* One output array, (bands, rows, cols) row-major, owned by the result. Missing pixels hold
 * nodata (NaN for float64). count has no nodata. */
typedef struct strata_array {
    strata_dtype dtype;
    int bands, rows, cols;
    const void *data;
    int has_nodata;
    double nodata;
} strata_array;

/* Reduces every timestep into one group. Results stay in memory: (B, R, C) per op. */
STRATA_API strata_status strata_reduce(const strata_collection *c, const strata_op *ops,
                                       size_t nops, const strata_reduce_opts *opts,
                                       strata_result **out);
/* Groups timesteps by labels (n = collection size; NULL uses the collection's labels) and
 * reduces each group in a single pass. Groups are in first-seen order, or sorted by label
 * with opts->groups.sort (integer labels by value). */
STRATA_API strata_status strata_groupby(const strata_collection *c, const char *const *labels,
                                        const strata_op *ops, size_t nops,
                                        const strata_reduce_opts *opts, strata_result **out);
/* As strata_groupby (labels NULL and no collection labels: one group), but streams each
 * finished tile into tiled, compressed GeoTIFFs, so memory stays bounded whatever the output
 * size. path_pattern names each file with "{op}" and "{label}" placeholders; every file is
 * written under a temporary name and renamed only when all succeeded. The returned result
 * holds labels and counts but no arrays. */
STRATA_API strata_status strata_reduce_to_gtiff(const strata_collection *c,
                                                const char *const *labels, const strata_op *ops,
                                                size_t nops, const strata_reduce_opts *opts,
                                                const char *path_pattern, strata_result **out);

/* Writes an in-memory result as GeoTIFFs, exactly as strata_reduce_to_gtiff would have
 * (same types, nodata, names, temporary names renamed at the end). Used to write a result
 * assembled from the parts of a distributed run. The paths are then set on r. */
STRATA_API strata_status strata_result_to_gtiff(strata_result *r, const strata_collection *c,
                                                const strata_reduce_opts *opts,
                                                const char *path_pattern);

STRATA_API size_t strata_result_groups(const strata_result *r);
STRATA_API const char *strata_result_label(const strata_result *r, size_t group);
/* Number of timesteps in the group. */
STRATA_API size_t strata_result_group_size(const strata_result *r, size_t group);
/* Output path of (group, op) written by strata_reduce_to_gtiff, else NULL. */
STRATA_API const char *strata_result_path(const strata_result *r, size_t group, strata_op op);
/* Fails with STRATA_ERR_INVALID_ARG if op was not asked or the result holds no arrays. */
STRATA_API strata_status strata_result_array(const strata_result *r, size_t group, strata_op op,
                                             strata_array *out);
/* Quantile k (the index in strata_reduce_opts.quantiles) of a result with STRATA_OP_QUANTILE:
 * its array, and its path when written to files (else NULL). */
STRATA_API strata_status strata_result_quantile_array(const strata_result *r, size_t group,
                                                      size_t k, strata_array *out);
STRATA_API const char *strata_result_quantile_path(const strata_result *r, size_t group, size_t k);
STRATA_API size_t strata_result_quantiles(const strata_result *r, const double **q);
STRATA_API void strata_result_free(strata_result *r);

/* ---- STAC sources ------------------------------------------------------------------------ */

/* Rewrites an asset href before it is read (mirrors, signed URLs). Returns a new string
 * allocated with malloc (strata frees it), or NULL to keep href as it is. */
typedef char *(*strata_href_fn)(const char *href, void *user);

typedef struct strata_stac_opts {
    size_t size;               /* set by strata_stac_opts_init; since 0.2 */
    const char *const *assets; /* asset keys, one band (group) each, in order; NULL: the
                                  first asset of the first item */
    size_t nassets;
    int keep_order;   /* 1: keep the given order; 0 (default): sort by datetime */
    int has_bbox;     /* 1: drop items whose bbox misses bbox (lon/lat) */
    double bbox[4];   /* minx, miny, maxx, maxy */
    size_t max_items; /* 0 (default): all, else at most this many after filtering */
    strata_href_fn href_rewrite;
    void *href_user;
    /* NULL, or the output grid: the items may then lie on different grids (several UTM
     * zones); footprints come from their proj: fields when complete, without opening files */
    const struct strata_grid_opts *grid;
} strata_stac_opts;

STRATA_API void strata_stac_opts_init(strata_stac_opts *opts);
/* Builds a collection from STAC JSON text: an Item, an ItemCollection/FeatureCollection, a
 * JSON array of items or a STAC API search response. base is the location the text came
 * from (a path or URL) to resolve relative hrefs when an item has no self link; may be NULL.
 * Item times travel with the collection. */
STRATA_API strata_status strata_collection_from_stac(const char *json, const char *base,
                                                     const strata_stac_opts *opts,
                                                     strata_collection **out);
/* As strata_collection_from_stac, reading the JSON from a file, an http(s) URL, or "-"
 * (standard input). */
STRATA_API strata_status strata_collection_from_stac_file(const char *source,
                                                          const strata_stac_opts *opts,
                                                          strata_collection **out);

/* STAC API search progress, after each page: pages and items so far, and the API's
 * numberMatched (-1 when it does not say). As strata_progress_fn: return non-zero to go on,
 * 0 to stop. Since 0.2 (0.1's strata_stac_search_progress_fn cancelled on non-zero). */
typedef int (*strata_stac_page_fn)(size_t pages, size_t items, long long matched, void *user);

typedef struct strata_stac_search_opts {
    size_t size;                    /* set by strata_stac_search_opts_init; since 0.2 */
    const char *const *collections; /* collection ids, or NULL */
    size_t ncollections;
    int has_bbox; /* 1: items meeting bbox (lon/lat: minx, miny, maxx, maxy) */
    double bbox[4];
    const char *datetime;       /* RFC 3339 instant or interval "A/B", ".." for an open end */
    const char *query;          /* query extension: a JSON object, or terms "prop OP value" joined
                                   by ',' with OP one of < <= > >= = != (e.g. "eo:cloud_cover<20") */
    const char *filter;         /* filter extension: a CQL2-JSON object */
    const char *sortby;         /* "[+|-]field[,...]" */
    size_t limit;               /* page size asked of the API; 0: the API's default */
    size_t max_items;           /* stop after this many items; 0: every page */
    const char *const *headers; /* request headers "Name: value" (API keys; never shown in
                                   messages), sent to the API's own host only; the
                                   STRATA_STAC_HEADERS variable adds more, one a line */
    size_t nheaders;
    size_t max_page_bytes;       /* a larger page fails; 0: STRATA_STAC_MAX_PAGE_BYTES or 64 MiB */
    strata_stac_page_fn on_page; /* since 0.2 (0.1: `progress`) */
    void *on_page_user;
} strata_stac_search_opts;

STRATA_API void strata_stac_search_opts_init(strata_stac_search_opts *opts);
/* Searches the STAC API at url (its landing page or its /search endpoint): POST when the
 * API's search link offers it, else GET; follows "next" links to the last page or
 * max_items; retries 429 (Retry-After), 5xx and timeouts with backoff (GDAL_HTTP_MAX_RETRY,
 * GDAL_HTTP_RETRY_DELAY). *json (free with strata_free) is the items as one ItemCollection
 * with absolute hrefs, in the API's order. A search that matches nothing fails. */
STRATA_API strata_status strata_stac_search(const char *url, const strata_stac_search_opts *search,
                                            char **json);
/* strata_stac_search, then strata_collection_from_stac on its items. */
STRATA_API strata_status strata_collection_from_stac_search(const char *url,
                                                            const strata_stac_search_opts *search,
                                                            const strata_stac_opts *opts,
                                                            strata_collection **out);

/* ---- Zarr writer ------------------------------------------------------------------------ */

typedef enum strata_zarr_mode {
    STRATA_ZARR_OVERWRITE = 0, /* "w": replace a store (or file) at the path; a folder that
                                  is not a Zarr store is refused, never deleted */
    STRATA_ZARR_CREATE,        /* "w-": fail when the store exists, leaving it untouched */
    STRATA_ZARR_APPEND         /* "a": append timesteps to a store strata wrote */
} strata_zarr_mode;

/* A distributed write runs in steps: one process prepares the store, every process writes its
 * part of the chunks, then one process writes the coordinates and metadata. */
typedef enum strata_zarr_step {
    STRATA_ZARR_STEP_ALL = 0, /* everything, in one process */
    STRATA_ZARR_STEP_PREPARE, /* apply the mode: create, replace or check for appending */
    STRATA_ZARR_STEP_CHUNKS,  /* write this part's chunks into a prepared store */
    STRATA_ZARR_STEP_FINISH   /* coordinates and metadata, after every part's chunks */
} strata_zarr_step;

typedef struct strata_zarr_opts {
    size_t size;                     /* set by strata_zarr_opts_init; since 0.2 */
    strata_zarr_mode mode;           /* default STRATA_ZARR_OVERWRITE */
    int zarr_version;                /* 2 (default) or 3 */
    strata_chunks chunks;            /* all 0 (default): one timestep, one band, whole source blocks
                                        grown to about 1 Mi pixels */
    strata_codec codec;              /* default STRATA_CODEC_BLOSC_LZ4; not LZW */
    const char *name;                /* the cube variable; NULL: "data" */
    strata_zarr_step step;           /* default STRATA_ZARR_STEP_ALL */
    strata_partition_opts partition; /* STEP_CHUNKS: this share of the chunks */
    strata_run_opts run;
} strata_zarr_opts;

STRATA_API void strata_zarr_opts_init(strata_zarr_opts *opts);
/* Writes the cube to a Zarr store (a directory): the variable (time, band, y, x) in the
 * source data type, coordinates time/band/y/x, a spatial_ref variable, and geo attributes that
 * xarray + rioxarray and GDAL read. Chunks are encoded and written in parallel, each to a
 * temporary name then renamed; metadata is written last. */
STRATA_API strata_status strata_to_zarr(const strata_collection *c, const char *store,
                                        const strata_zarr_opts *opts);

/* A groupby (as strata_groupby: labels NULL uses the collection's) written to one Zarr store
 * as it runs: one variable per op (mean, std, p10, ...) of shape (group, band, y, x), chunks
 * of one group, one band and the engine's tile, so memory stays bounded by the tiles in
 * flight; the labels as a coordinate named dim (NULL: "group"; "dayofyear" for xarray's
 * groupby("time.dayofyear")), int64 when every label is an integer, else text (Zarr v2 only);
 * <dim>_size, the timesteps of each group; band/y/x/spatial_ref and geo attributes as
 * strata_to_zarr. Floats are float32 (float64 for float64 or 32-bit integer input, or as
 * opts->output.float_dtype says), NaN where missing; count is int32. zopts: mode w or w- (not a),
 * zarr_version, codec; the store is consolidated and appears whole or not at all. The
 * returned result holds labels and counts but no arrays. */
STRATA_API strata_status strata_groupby_to_zarr(const strata_collection *c,
                                                const char *const *labels, const strata_op *ops,
                                                size_t nops, const strata_reduce_opts *opts,
                                                const char *dim, const char *store,
                                                const strata_zarr_opts *zopts, strata_result **out);

/* Anomalies: every timestep minus its group's value of variable var (NULL: "mean") of a
 * climatology store written by strata_groupby_to_zarr, written as a cube store (time, band,
 * y, x) like strata_to_zarr's, variable opts->name (NULL: "anomaly"), in the climatology's
 * type and chunks, NaN where the input or the climatology is missing. labels: one per
 * timestep (NULL: the collection's), matched to the store's group coordinate (as integers
 * when it holds integers: "001" is day 1). The grid, CRS, bands and every label are checked
 * before anything is written; one pass over the inputs, memory bounded by the chunks in
 * flight. opts: mode w or w-, zarr_version, codec, threads, progress. */
STRATA_API strata_status strata_anomaly_to_zarr(const strata_collection *c,
                                                const char *const *labels, const char *clim,
                                                const char *var, const char *store,
                                                const strata_zarr_opts *opts);

/* ---- kerchunk reference indexes ---------------------------------------------------------- */

typedef struct strata_kerchunk_opts {
    size_t size;             /* set by strata_kerchunk_opts_init; since 0.2 */
    const char *concat_dim;  /* dimension to concatenate files along; NULL: "time" */
    const char *var;         /* only this variable (and the coordinates); NULL: all */
    size_t inline_threshold; /* chunks smaller than this many bytes are inlined (default 500) */
    int absolute_paths;      /* 1: write absolute paths; 0 (default): paths as given */
    /* Called once per variable of the first file left out of the index (a type or filter
     * Zarr cannot read), with a message naming the file, the variable and why; NULL: the
     * message goes to the log (strata_set_log) as a warning. The library never prints: the
     * CLI prints these to stderr. */
    void (*warn)(void *warn_data, const char *message);
    void *warn_data;
} strata_kerchunk_opts;

STRATA_API void strata_kerchunk_opts_init(strata_kerchunk_opts *opts);
/* Writes a kerchunk version 1 reference file for NetCDF4/HDF5, NetCDF3 or GeoTIFF files,
 * concatenated along concat_dim, written to a temporary name and renamed at the end. */
STRATA_API strata_status strata_kerchunk(const char *const *paths, size_t n, const char *out_json,
                                         const strata_kerchunk_opts *opts);

#ifdef __cplusplus
}
#endif
#endif /* STRATA_H */
