/* Test fixtures: small GeoTIFFs written with GDAL's C API into temporary folders, with
 * a deterministic value per pixel so tests know what every pixel holds.
 *
 * Every folder made by fx_dir_new() and every string the fixtures hand out is released by
 * fx_cleanup(), which also runs at exit. Failures to build a fixture abort the test
 * executable with a message (a fixture that cannot be written is a broken test, not a
 * failed check). */
#ifndef STRATA_TEST_FIXTURES_H
#define STRATA_TEST_FIXTURES_H

#include <gdal.h>
#include <stddef.h>

/* The value of pixel (row, col) of band b (0-based) in timestep t, before conversion to
 * the file's type. */
typedef double (*fx_value_fn)(int t, int b, int row, int col);

typedef struct fx_spec {
    int rows, cols, bands;
    GDALDataType type;
    int block_x, block_y; /* tiled (both multiples of 16) when block_x > 0 */
    int strip_rows;       /* striped: rows per strip (0: GDAL's choice); when block_x == 0 */
    int has_nodata;
    double nodata;     /* the same on every band */
    int epsg;          /* > 0: that EPSG code */
    const char *proj4; /* else a custom CRS from a PROJ string (no EPSG code) */
                       /* neither: no CRS */
    int has_gt;
    double gt[6];
    fx_value_fn value;    /* NULL: fx_value_default */
    const char *compress; /* NULL: none */
} fx_spec;

/* 40 rows x 50 cols, 1 band, Int16, tiled 16x16, no nodata, EPSG:32632, gt (500000, 10, 0,
 * 5000000, 0, -10), fx_value_default. */
void fx_spec_default(fx_spec *s);

/* A unique-ish value that fits int16: depends on every coordinate, so a shifted or
 * transposed read shows. Range [-30000, 30000]. */
double fx_value_default(int t, int b, int row, int col);
/* Values 0..250 (fits uint8). */
double fx_value_small(int t, int b, int row, int col);
/* Exact in float32 for t < 16, b < 8, row,col < 1000: t*1e6 + b*1e5/8... see fixtures.c. */
double fx_value_float(int t, int b, int row, int col);

/* The value the file of spec holds at (t, b, row, col): spec's value function converted
 * to the file's type the way GDAL converts (GDALCopyWords), as a double. */
double fx_expected(const fx_spec *s, int t, int b, int row, int col);

/* A new empty temporary folder (mkdtemp under $TMPDIR or /tmp). */
const char *fx_dir_new(void);
/* dir/name, formatted (printf-style name); owned by the fixtures. */
const char *fx_path(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A copy of s owned by the fixtures. */
const char *fx_strdup(const char *s);

/* Writes timestep t of spec to path (GTiff, via CreateCopy so the header comes first). */
void fx_write(const char *path, const fx_spec *s, int t);
/* Writes n timesteps dir/t000.tif... (or dir/names[i] when names is given); returns the
 * n paths (owned by the fixtures). */
const char **fx_write_stack(const char *dir, const fx_spec *s, int n, const char *const *names);

/* Cuts path to half its size (a valid TIFF header, missing data). */
void fx_truncate(const char *path);
/* Writes text into path (a file that is not a raster). */
void fx_write_text(const char *path, const char *text);
/* Removes a file; 0 on success. */
int fx_remove(const char *path);
/* 1 when path exists. */
int fx_exists(const char *path);

/* ---- checks against strata (fixtures.c links libstrata) ------------------------------ */
#include "strata.h"

GDALDataType fx_gdal_type(strata_dtype dtype);
/* v (held in a file of type from) as a buffer of type to holds it, as a double. */
double fx_convert(double v, GDALDataType from, strata_dtype to);
/* Reads window w of c into dtype and compares every value with fx_expected (converted to
 * dtype as GDAL converts). Returns the number of mismatches (the first few are printed),
 * or -1 when the read fails (*st receives the status; may be NULL). */
long fx_window_mismatches(const strata_collection *c, const fx_spec *s, const strata_window *w,
                          strata_dtype dtype, strata_status *st);

/* Removes every temporary folder and frees every string handed out. */
void fx_cleanup(void);

/* Runs a shell command and returns its stdout (owned by the fixtures), NULL on failure;
 * *status receives the exit status when status is not NULL. */
const char *fx_run(const char *cmd, int *status);

#endif
