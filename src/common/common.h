/* The common layer: errors, allocation, data types, time, text encodings and the safety of
 * paths. Depends on nothing of strata but the public header. Not installed. */
#ifndef STRATA_COMMON_H
#define STRATA_COMMON_H

#include "strata.h"

#include <gdal.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

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
/* Makes *array (of esize-byte elements, *cap of them) hold at least need, doubling from
 * first; false when out of memory, the array unchanged. */
bool st_grow(void *array, size_t *cap, size_t need, size_t esize, size_t first);

/* Objects a thread takes for one call and gives back, so that each exists once per thread at
 * most (encoders, buffers of sinks called from worker threads). Zero-initialised is empty. */
typedef struct st_pool {
    pthread_mutex_t lock;
    void **items;
    size_t n, cap;
} st_pool;
void st_pool_init(st_pool *p);
/* An object given back earlier, or NULL (make a new one). */
void *st_pool_take(st_pool *p);
/* Keeps item for the next take; false when out of memory (free it yourself). */
bool st_pool_give(st_pool *p, void *item);
/* Frees the pool's list and each object it holds with free_item. */
void st_pool_destroy(st_pool *p, void (*free_item)(void *));

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

/* ---- time (timeparse.c) -------------------------------------------------------------- */

strata_status st_parse_iso8601(const char *text, int64_t *utc);
void st_format_iso8601(int64_t utc, char *buf, size_t size);
/* Matches pattern anywhere in name; 0 on success. */
strata_status st_parse_time_pattern(const char *name, const char *pattern, int64_t *utc);
void st_civil_from_utc(int64_t utc, int *year, int *month, int *day, int *yday);

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

/* ---- a rectangle of pixels ------------------------------------------------------------- */

typedef struct st_rect {
    int row0, nrows, col0, ncols;
} st_rect;

#endif
