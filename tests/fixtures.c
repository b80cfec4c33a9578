/* Test fixtures: see fixtures.h. */
#include "fixtures.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- bookkeeping ------------------------------------------------------------------------ */

static char **fx_strings;
static size_t fx_nstrings, fx_capstrings;
static char **fx_dirs;
static size_t fx_ndirs, fx_capdirs;
static int fx_initialised;

static void fx_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fx_die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "fixture error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fx_cleanup();
    exit(99);
}

static void fx_init(void) {
    if (!fx_initialised) {
        fx_initialised = 1;
        GDALAllRegister();
        atexit(fx_cleanup);
    }
}

static char *fx_keep(char *s) {
    if (!s) {
        fx_die("out of memory");
    }
    if (fx_nstrings == fx_capstrings) {
        fx_capstrings = fx_capstrings ? 2 * fx_capstrings : 64;
        fx_strings = realloc(fx_strings, fx_capstrings * sizeof *fx_strings);
        if (!fx_strings) {
            fx_die("out of memory");
        }
    }
    fx_strings[fx_nstrings++] = s;
    return s;
}

const char *fx_strdup(const char *s) {
    return fx_keep(strdup(s));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void fx_cleanup(void) {
    for (size_t i = 0; i < fx_ndirs; i++) {
        nftw(fx_dirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(fx_dirs[i]);
    }
    free(fx_dirs);
    fx_dirs = NULL;
    fx_ndirs = fx_capdirs = 0;
    for (size_t i = 0; i < fx_nstrings; i++) {
        free(fx_strings[i]);
    }
    free(fx_strings);
    fx_strings = NULL;
    fx_nstrings = fx_capstrings = 0;
}

const char *fx_dir_new(void) {
    fx_init();
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/strata-test-XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        fx_die("mkdtemp(%s): %s", tmpl, strerror(errno));
    }
    if (fx_ndirs == fx_capdirs) {
        fx_capdirs = fx_capdirs ? 2 * fx_capdirs : 16;
        fx_dirs = realloc(fx_dirs, fx_capdirs * sizeof *fx_dirs);
        if (!fx_dirs) {
            fx_die("out of memory");
        }
    }
    fx_dirs[fx_ndirs++] = strdup(tmpl);
    return fx_strdup(tmpl);
}

const char *fx_path(const char *dir, const char *fmt, ...) {
    char name[2048], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (asprintf(&out, "%s/%s", dir, name) < 0) {
        fx_die("out of memory");
    }
    return fx_keep(out);
}

/* ---- values ------------------------------------------------------------------------------ */

void fx_spec_default(fx_spec *s) {
    memset(s, 0, sizeof *s);
    s->rows = 40;
    s->cols = 50;
    s->bands = 1;
    s->type = GDT_Int16;
    s->block_x = 16;
    s->block_y = 16;
    s->epsg = 32632;
    s->has_gt = 1;
    double gt[6] = {500000.0, 10.0, 0.0, 5000000.0, 0.0, -10.0};
    memcpy(s->gt, gt, sizeof gt);
}

double fx_value_default(int t, int b, int row, int col) {
    long v = ((long)t * 7919 + (long)b * 104729 + (long)row * 131 + (long)col * 17) % 60001;
    return (double)(v - 30000);
}

double fx_value_small(int t, int b, int row, int col) {
    return (double)(((long)t * 29 + (long)b * 53 + (long)row * 11 + (long)col * 3) % 251);
}

double fx_value_float(int t, int b, int row, int col) {
    return t * 10000.0 + b * 1000.0 + row * 7.25 + col * 0.5 - 3000.0;
}

static fx_value_fn value_fn(const fx_spec *s) {
    return s->value ? s->value : fx_value_default;
}

double fx_expected(const fx_spec *s, int t, int b, int row, int col) {
    double v = value_fn(s)(t, b, row, col), out = 0;
    unsigned char tmp[16];
    GDALCopyWords64(&v, GDT_Float64, 0, tmp, s->type, 0, 1);
    GDALCopyWords64(tmp, s->type, 0, &out, GDT_Float64, 0, 1);
    return out;
}

/* ---- writing ------------------------------------------------------------------------------ */

static char *crs_wkt(const fx_spec *s) {
    if (s->epsg <= 0 && !s->proj4) {
        return NULL;
    }
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OGRErr err = s->epsg > 0 ? OSRImportFromEPSG(srs, s->epsg) : OSRImportFromProj4(srs, s->proj4);
    char *wkt = NULL;
    if (err != OGRERR_NONE || OSRExportToWkt(srs, &wkt) != OGRERR_NONE) {
        OSRDestroySpatialReference(srs);
        fx_die("cannot build CRS (epsg %d, proj4 %s)", s->epsg, s->proj4 ? s->proj4 : "-");
    }
    OSRDestroySpatialReference(srs);
    return wkt;
}

void fx_write(const char *path, const fx_spec *s, int t) {
    fx_init();
    GDALDriverH mem = GDALGetDriverByName("MEM"), gtiff = GDALGetDriverByName("GTiff");
    if (!mem || !gtiff) {
        fx_die("GDAL drivers MEM/GTiff missing");
    }
    GDALDatasetH ds = GDALCreate(mem, "", s->cols, s->rows, s->bands, s->type, NULL);
    if (!ds) {
        fx_die("cannot create a MEM dataset %dx%dx%d", s->cols, s->rows, s->bands);
    }
    if (s->has_gt) {
        GDALSetGeoTransform(ds, (double *)s->gt);
    }
    char *wkt = crs_wkt(s);
    if (wkt) {
        GDALSetProjection(ds, wkt);
        CPLFree(wkt);
    }
    double *row = malloc((size_t)s->cols * sizeof *row);
    if (!row) {
        fx_die("out of memory");
    }
    fx_value_fn f = value_fn(s);
    for (int b = 0; b < s->bands; b++) {
        GDALRasterBandH h = GDALGetRasterBand(ds, b + 1);
        if (s->has_nodata) {
            GDALSetRasterNoDataValue(h, s->nodata);
        }
        for (int r = 0; r < s->rows; r++) {
            for (int c = 0; c < s->cols; c++) {
                row[c] = f(t, b, r, c);
            }
            if (GDALRasterIO(h, GF_Write, 0, r, s->cols, 1, row, s->cols, 1, GDT_Float64, 0, 0) !=
                CE_None) {
                fx_die("cannot fill the MEM dataset");
            }
        }
    }
    free(row);
    char **opts = NULL;
    char buf[64];
    if (s->block_x > 0) {
        opts = CSLSetNameValue(opts, "TILED", "YES");
        snprintf(buf, sizeof buf, "%d", s->block_x);
        opts = CSLSetNameValue(opts, "BLOCKXSIZE", buf);
        snprintf(buf, sizeof buf, "%d", s->block_y > 0 ? s->block_y : s->block_x);
        opts = CSLSetNameValue(opts, "BLOCKYSIZE", buf);
    } else if (s->strip_rows > 0) {
        snprintf(buf, sizeof buf, "%d", s->strip_rows);
        opts = CSLSetNameValue(opts, "BLOCKYSIZE", buf);
    }
    if (s->compress) {
        opts = CSLSetNameValue(opts, "COMPRESS", s->compress);
    }
    GDALDatasetH out = GDALCreateCopy(gtiff, path, ds, FALSE, opts, NULL, NULL);
    CSLDestroy(opts);
    GDALClose(ds);
    if (!out) {
        fx_die("cannot write %s: %s", path, CPLGetLastErrorMsg());
    }
    GDALClose(out);
}

const char **fx_write_stack(const char *dir, const fx_spec *s, int n, const char *const *names) {
    const char **paths = (const char **)fx_keep(calloc((size_t)n + 1, sizeof *paths));
    for (int t = 0; t < n; t++) {
        paths[t] = names ? fx_path(dir, "%s", names[t]) : fx_path(dir, "t%03d.tif", t);
        fx_write(paths[t], s, t);
    }
    return paths;
}

void fx_truncate(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || truncate(path, st.st_size / 2) != 0) {
        fx_die("cannot truncate %s: %s", path, strerror(errno));
    }
}

void fx_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fx_die("cannot write %s", path);
    }
}

int fx_remove(const char *path) {
    return remove(path);
}

int fx_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

const char *fx_run(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    if (!p) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    size_t got;
    while (out && (got = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 2) {
            cap *= 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                out = NULL;
            }
            out = grown;
        }
    }
    int rc = pclose(p);
    if (status) {
        *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    }
    if (!out) {
        return NULL;
    }
    out[len] = '\0';
    return fx_keep(out);
}

/* ---- checks against strata --------------------------------------------------------------- */

GDALDataType fx_gdal_type(strata_dtype dtype) {
    switch (dtype) {
    case STRATA_UINT8:
        return GDT_Byte;
    case STRATA_UINT16:
        return GDT_UInt16;
    case STRATA_INT16:
        return GDT_Int16;
    case STRATA_UINT32:
        return GDT_UInt32;
    case STRATA_INT32:
        return GDT_Int32;
    case STRATA_INT64:
        return GDT_Int64;
    case STRATA_FLOAT32:
        return GDT_Float32;
    case STRATA_FLOAT64:
        return GDT_Float64;
    default:
        return GDT_Unknown;
    }
}

double fx_convert(double v, GDALDataType from, strata_dtype to) {
    unsigned char a[16], b[16];
    double out = 0;
    GDALCopyWords64(&v, GDT_Float64, 0, a, from, 0, 1);
    GDALCopyWords64(a, from, 0, b, fx_gdal_type(to), 0, 1);
    GDALCopyWords64(b, fx_gdal_type(to), 0, &out, GDT_Float64, 0, 1);
    return out;
}

long fx_window_mismatches(const strata_collection *c, const fx_spec *s, const strata_window *w,
                          strata_dtype dtype, strata_status *st) {
    size_t n = w->nt * (size_t)w->nb * (size_t)w->nrows * (size_t)w->ncols;
    size_t esize = strata_dtype_size(dtype);
    unsigned char *buf = malloc(n * esize + 1);
    double *got = malloc(n * sizeof *got + 1);
    if (!buf || !got) {
        fx_die("out of memory");
    }
    strata_status rc = strata_collection_read(c, w, dtype, buf);
    if (st) {
        *st = rc;
    }
    if (rc != STRATA_OK) {
        free(buf);
        free(got);
        return -1;
    }
    GDALCopyWords64(buf, fx_gdal_type(dtype), (int)esize, got, GDT_Float64, sizeof(double),
                    (GPtrDiff_t)n);
    long bad = 0;
    size_t i = 0;
    for (size_t t = w->t0; t < w->t0 + w->nt; t++) {
        for (int b = w->b0; b < w->b0 + w->nb; b++) {
            for (int r = w->row0; r < w->row0 + w->nrows; r++) {
                for (int col = w->col0; col < w->col0 + w->ncols; col++, i++) {
                    double e = fx_convert(fx_expected(s, (int)t, b, r, col), s->type, dtype);
                    int same = got[i] == e || (isnan(got[i]) && isnan(e));
                    if (!same && bad++ < 5) {
                        fprintf(stderr,
                                "  pixel t=%zu b=%d row=%d col=%d (%s): got %.17g, "
                                "expected %.17g\n",
                                t, b, r, col, strata_dtype_name(dtype), got[i], e);
                    }
                }
            }
        }
    }
    free(buf);
    free(got);
    return bad;
}
