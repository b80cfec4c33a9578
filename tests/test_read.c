/* strata_collection_read: windows against the value function, type conversion against GDAL,
 * invalid windows, truncated and misaligned files, validation. */
#include "fixtures.h"
#include "harness.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A small deterministic generator (tests must not depend on libc's rand). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static int rnd(int n) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (int)((rng_state >> 33) % (uint64_t)n);
}

static strata_collection *stack(const fx_spec *s, int n, const char ***paths_out) {
    const char **paths = fx_write_stack(fx_dir_new(), s, n, NULL);
    strata_collection *c = NULL;
    if (strata_collection_from_files(paths, (size_t)n, &c) != STRATA_OK) {
        fprintf(stderr, "cannot build the stack: %s\n", strata_errmsg());
        return NULL;
    }
    if (paths_out) {
        *paths_out = paths;
    }
    return c;
}

static void check_window(const strata_collection *c, const fx_spec *s, strata_window w,
                         strata_dtype dtype) {
    strata_status st = STRATA_OK;
    long bad = fx_window_mismatches(c, s, &w, dtype, &st);
    CHECK_MSG(bad == 0,
              "window t[%zu+%zu] b[%d+%d] rows[%d+%d] cols[%d+%d] as %s: %ld "
              "mismatches (status %s)",
              w.t0, w.nt, w.b0, w.nb, w.row0, w.nrows, w.col0, w.ncols, strata_dtype_name(dtype),
              bad, strata_status_str(st));
}

static void random_windows(const strata_collection *c, const fx_spec *s, int n, int nt,
                           strata_dtype dtype) {
    for (int i = 0; i < n; i++) {
        strata_window w;
        w.t0 = (size_t)rnd(nt);
        w.nt = 1 + (size_t)rnd(nt - (int)w.t0);
        w.b0 = rnd(s->bands);
        w.nb = 1 + rnd(s->bands - w.b0);
        w.row0 = rnd(s->rows);
        w.nrows = 1 + rnd(s->rows - w.row0);
        w.col0 = rnd(s->cols);
        w.ncols = 1 + rnd(s->cols - w.col0);
        check_window(c, s, w, dtype);
    }
}

static void test_windows_tiled(void) {
    fx_spec s;
    fx_spec_default(&s); /* 40 x 50, 16 x 16 tiles: partial blocks at the right and bottom */
    s.bands = 2;
    strata_collection *c = stack(&s, 3, NULL);
    REQUIRE(c != NULL);
    strata_window full = {0, 3, 0, 2, 0, 40, 0, 50};
    check_window(c, &s, full, STRATA_INT16);
    check_window(c, &s, full, STRATA_FLOAT64);
    const strata_window fixed[] = {
        {0, 1, 0, 1, 0, 1, 0, 1},     /* first pixel */
        {2, 1, 1, 1, 39, 1, 49, 1},   /* last pixel, in a partial block */
        {1, 1, 0, 1, 16, 16, 16, 16}, /* exactly one block */
        {1, 1, 0, 1, 32, 8, 48, 2},   /* the corner partial block, whole */
        {0, 1, 0, 2, 15, 2, 15, 2},   /* a 2x2 window on four blocks */
        {0, 3, 1, 1, 0, 40, 15, 3},   /* a column strip crossing a block edge */
        {1, 2, 0, 2, 31, 2, 0, 50},   /* full rows across a block edge */
        {0, 2, 0, 2, 16, 16, 32, 16}, /* a whole block, two timesteps, two bands */
        {0, 1, 0, 1, 8, 32, 8, 32},   /* spans nine blocks */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        check_window(c, &s, fixed[i], STRATA_INT16);
        check_window(c, &s, fixed[i], STRATA_FLOAT32);
    }
    random_windows(c, &s, 150, 3, STRATA_INT16);
    random_windows(c, &s, 50, 3, STRATA_FLOAT64);
    strata_collection_free(c);
}

static void test_windows_striped(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.block_x = 0;
    s.strip_rows = 7; /* 45 rows: a partial last strip */
    s.rows = 45;
    s.cols = 33;
    s.bands = 3;
    s.type = GDT_Float32;
    s.value = fx_value_float;
    strata_collection *c = stack(&s, 4, NULL);
    REQUIRE(c != NULL);
    int bx, by;
    strata_meta_block_size(strata_collection_meta(c), &bx, &by);
    CHECK(bx == 33 && by == 7);
    strata_window full = {0, 4, 0, 3, 0, 45, 0, 33};
    check_window(c, &s, full, STRATA_FLOAT32);
    const strata_window fixed[] = {
        {0, 1, 0, 1, 7, 7, 0, 33},  /* one whole strip */
        {3, 1, 2, 1, 42, 3, 0, 33}, /* the partial last strip */
        {1, 2, 1, 2, 6, 2, 10, 5},  /* across a strip edge */
        {2, 1, 0, 3, 44, 1, 32, 1}, /* last pixel */
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        check_window(c, &s, fixed[i], STRATA_FLOAT32);
        check_window(c, &s, fixed[i], STRATA_FLOAT64);
    }
    random_windows(c, &s, 100, 4, STRATA_FLOAT32);
    strata_collection_free(c);

    /* Compressed, GDAL's own strip height, one band. */
    fx_spec_default(&s);
    s.block_x = 0;
    s.rows = 300;
    s.cols = 61;
    s.compress = "DEFLATE";
    c = stack(&s, 2, NULL);
    REQUIRE(c != NULL);
    strata_window w = {0, 2, 0, 1, 0, 300, 0, 61};
    check_window(c, &s, w, STRATA_INT16);
    random_windows(c, &s, 50, 2, STRATA_INT16);
    strata_collection_free(c);
}

/* Reads window w of file path with GDALRasterIO into dtype: GDAL's own conversion. */
static void *gdal_read(const char *path, const strata_window *w, strata_dtype dtype) {
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) {
        return NULL;
    }
    size_t plane = (size_t)w->nrows * w->ncols * strata_dtype_size(dtype);
    char *buf = malloc(plane * (size_t)w->nb);
    for (int b = 0; buf && b < w->nb; b++) {
        if (GDALRasterIO(GDALGetRasterBand(ds, w->b0 + b + 1), GF_Read, w->col0, w->row0, w->ncols,
                         w->nrows, buf + plane * (size_t)b, w->ncols, w->nrows, fx_gdal_type(dtype),
                         0, 0) != CE_None) {
            free(buf);
            buf = NULL;
        }
    }
    GDALClose(ds);
    return buf;
}

static void compare_with_gdal(const strata_collection *c, const char *path, size_t t,
                              strata_window w, strata_dtype dtype) {
    w.t0 = t;
    w.nt = 1;
    size_t n = (size_t)w.nb * w.nrows * w.ncols * strata_dtype_size(dtype);
    void *ours = malloc(n);
    void *theirs = gdal_read(path, &w, dtype);
    REQUIRE(ours && theirs);
    CHECK_OK(strata_collection_read(c, &w, dtype, ours));
    CHECK_MSG(memcmp(ours, theirs, n) == 0, "%s read as %s differs from GDALRasterIO", path,
              strata_dtype_name(dtype));
    free(ours);
    free(theirs);
}

static double v_clamp_int(int t, int b, int row, int col) {
    (void)t;
    (void)b;
    static const double v[] = {-5, 300, 100, 0, 255, 256, -1, 40000, -40000, 32767, -32768, 7};
    return v[(row * 7 + col) % 12];
}

static double v_clamp_float(int t, int b, int row, int col) {
    (void)b;
    static const double v[] = {1.5,  -2.5,  40000.7, -40000.0, 2.4999, 255.5, -0.4,
                               1e30, -1e30, NAN,     INFINITY, 3.0,    -7.75, 65535.5};
    return v[(row * 5 + col + t) % 14];
}

static void test_type_conversion(void) {
    /* int16 source. */
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    const char **paths = NULL;
    strata_collection *c = stack(&s, 2, &paths);
    REQUIRE(c != NULL);
    const strata_dtype targets[] = {STRATA_INT16,  STRATA_FLOAT64, STRATA_FLOAT32, STRATA_UINT8,
                                    STRATA_UINT16, STRATA_INT32,   STRATA_UINT32,  STRATA_INT64};
    strata_window w = {0, 2, 0, 2, 3, 30, 5, 40};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        check_window(c, &s, w, targets[i]);
        compare_with_gdal(c, paths[1], 1, w, targets[i]);
    }
    strata_collection_free(c);

    /* Clamping of integers into narrower types, values known by hand. */
    fx_spec_default(&s);
    s.type = GDT_Int32;
    s.value = v_clamp_int;
    c = stack(&s, 1, &paths);
    REQUIRE(c != NULL);
    strata_window one = {0, 1, 0, 1, 0, 1, 0, 12};
    uint8_t u8[12];
    int16_t i16[12];
    CHECK_OK(strata_collection_read(c, &one, STRATA_UINT8, u8));
    const uint8_t want_u8[12] = {0, 255, 100, 0, 255, 255, 0, 255, 0, 255, 0, 7};
    CHECK_MSG(memcmp(u8, want_u8, 12) == 0, "uint8 clamping: %d %d %d %d %d %d %d %d", u8[0], u8[1],
              u8[2], u8[3], u8[4], u8[5], u8[6], u8[7]);
    CHECK_OK(strata_collection_read(c, &one, STRATA_INT16, i16));
    const int16_t want_i16[12] = {-5, 300, 100, 0, 255, 256, -1, 32767, -32768, 32767, -32768, 7};
    CHECK_MSG(memcmp(i16, want_i16, sizeof i16) == 0, "int16 clamping: %d %d", i16[7], i16[8]);
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        check_window(c, &s, (strata_window){0, 1, 0, 1, 0, 40, 0, 50}, targets[i]);
        compare_with_gdal(c, paths[0], 0, (strata_window){0, 1, 0, 1, 0, 40, 0, 50}, targets[i]);
    }
    strata_collection_free(c);

    /* A float source read as integers: rounded and clamped as GDAL does. */
    fx_spec_default(&s);
    s.type = GDT_Float64;
    s.value = v_clamp_float;
    c = stack(&s, 2, &paths);
    REQUIRE(c != NULL);
    strata_window fw = {0, 1, 0, 1, 0, 1, 0, 14};
    double f64[14];
    CHECK_OK(strata_collection_read(c, &fw, STRATA_FLOAT64, f64));
    for (int i = 0; i < 14; i++) {
        double e = v_clamp_float(0, 0, 0, i);
        CHECK_MSG(f64[i] == e || (isnan(e) && isnan(f64[i])), "float64 [%d] %g != %g", i, f64[i],
                  e);
    }
    CHECK_OK(strata_collection_read(c, &fw, STRATA_INT16, i16));
    CHECK_EQ_INT(i16[2], 32767);  /* 40000.7 */
    CHECK_EQ_INT(i16[3], -32768); /* -40000 */
    CHECK_EQ_INT(i16[7], 32767);  /* 1e30 */
    CHECK_EQ_INT(i16[8], -32768); /* -1e30 */
    CHECK_EQ_INT(i16[11], 3);
    CHECK_EQ_INT(i16[10], 32767); /* +inf */
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        strata_window all = {0, 1, 0, 1, 0, 40, 0, 50};
        check_window(c, &s, all, targets[i]);
        compare_with_gdal(c, paths[1], 1, all, targets[i]);
    }
    strata_collection_free(c);

    /* A float32 source read as int16 and uint8. */
    fx_spec_default(&s);
    s.type = GDT_Float32;
    s.value = fx_value_float;
    c = stack(&s, 2, &paths);
    REQUIRE(c != NULL);
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        strata_window all = {0, 2, 0, 1, 0, 40, 0, 50};
        check_window(c, &s, all, targets[i]);
        compare_with_gdal(c, paths[0], 0, all, targets[i]);
    }
    strata_collection_free(c);
}

static void test_invalid_windows(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    strata_collection *c = stack(&s, 3, NULL);
    REQUIRE(c != NULL);
    static int16_t buf[3 * 2 * 40 * 50 + 16];
    const strata_window bad[] = {
        {0, 0, 0, 1, 0, 1, 0, 1},         /* nt = 0 */
        {0, 1, 0, 0, 0, 1, 0, 1},         /* nb = 0 */
        {0, 1, 0, 1, 0, 0, 0, 1},         /* nrows = 0 */
        {0, 1, 0, 1, 0, 1, 0, 0},         /* ncols = 0 */
        {3, 1, 0, 1, 0, 1, 0, 1},         /* t0 past the end */
        {2, 2, 0, 1, 0, 1, 0, 1},         /* t0 + nt past the end */
        {SIZE_MAX, 2, 0, 1, 0, 1, 0, 1},  /* t0 + nt overflows */
        {1, SIZE_MAX, 0, 1, 0, 1, 0, 1},  /* nt huge */
        {0, 1, 2, 1, 0, 1, 0, 1},         /* band past the end */
        {0, 1, 1, 2, 0, 1, 0, 1},         /* bands past the end */
        {0, 1, -1, 1, 0, 1, 0, 1},        /* negative band */
        {0, 1, 0, 1, 40, 1, 0, 1},        /* row past the end */
        {0, 1, 0, 1, 39, 2, 0, 1},        /* rows past the end */
        {0, 1, 0, 1, -1, 2, 0, 1},        /* negative row */
        {0, 1, 0, 1, 0, 1, 49, 2},        /* cols past the end */
        {0, 1, 0, 1, 0, 1, -3, 2},        /* negative col */
        {0, 1, 0, 1, 0, -1, 0, 1},        /* negative rows */
        {0, 1, 0, 1, 1, INT32_MAX, 0, 1}, /* row0 + nrows overflows int */
        {0, 1, 0, 1, 0, 1, 1, INT32_MAX}, /* col0 + ncols overflows int */
        {0, 1, 1, INT32_MAX, 0, 1, 0, 1}, /* b0 + nb overflows int */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strata_status st = strata_collection_read(c, &bad[i], STRATA_INT16, buf);
        CHECK_MSG(st == STRATA_ERR_INVALID_ARG, "window %zu: got %s", i, strata_status_str(st));
        CHECK_MSG(strata_errmsg()[0] != '\0', "window %zu: no message", i);
    }
    strata_window ok = {0, 1, 0, 1, 0, 1, 0, 1};
    CHECK_STATUS(strata_collection_read(c, &ok, STRATA_INT16, NULL), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_collection_read(c, NULL, STRATA_INT16, buf), STRATA_ERR_INVALID_ARG);
    CHECK(strata_collection_read(c, &ok, STRATA_DTYPE_UNKNOWN, buf) != STRATA_OK);
    CHECK(strata_collection_read(c, &ok, (strata_dtype)99, buf) != STRATA_OK);
    CHECK_OK(strata_collection_read(c, &ok, STRATA_INT16, buf));
    strata_collection_free(c);
}

static void test_truncated_file(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 256;
    s.cols = 256;
    const char **paths = NULL;
    strata_collection *c = stack(&s, 3, &paths);
    REQUIRE(c != NULL);
    fx_truncate(paths[2]);
    strata_window w = {2, 1, 0, 1, 0, 256, 0, 256};
    strata_status st;
    CHECK(fx_window_mismatches(c, &s, &w, STRATA_INT16, &st) == -1);
    CHECK_EQ_INT(st, STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), paths[2]);
    /* The others still read; the bad one keeps failing. */
    w.t0 = 0;
    w.nt = 2;
    CHECK_EQ_INT(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL), 0);
    w.t0 = 1;
    w.nt = 2;
    int16_t *buf = malloc(2 * 256 * 256 * sizeof *buf);
    REQUIRE(buf);
    CHECK_STATUS(strata_collection_read(c, &w, STRATA_INT16, buf), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), paths[2]);
    free(buf);
    strata_collection_free(c);

    /* A truncated template: the collection cannot be made, or reads fail with I/O. */
    paths = fx_write_stack(fx_dir_new(), &s, 1, NULL);
    fx_truncate(paths[0]);
    c = NULL;
    st = strata_collection_from_files(paths, 1, &c);
    if (st == STRATA_OK) {
        w = (strata_window){0, 1, 0, 1, 0, 256, 0, 256};
        CHECK(fx_window_mismatches(c, &s, &w, STRATA_INT16, &st) == -1);
        CHECK_EQ_INT(st, STRATA_ERR_IO);
    } else {
        CHECK_EQ_INT(st, STRATA_ERR_IO);
    }
    CHECK_CONTAINS(strata_errmsg(), paths[0]);
    strata_collection_free(c);
}

/* Compressed sizes that grow with t: constant, 16 levels, then noise that hardly compresses
 * (float32, so a 256 x 256 block of noise is about 256 KB). */
static double v_growing_blocks(int t, int b, int row, int col) {
    uint64_t h = (uint64_t)t * 73856093u ^ (uint64_t)b * 19349663u ^ (uint64_t)row * 83492791u ^
                 (uint64_t)col * 2654435761u;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return t == 0 ? 1.0 : t == 1 ? (double)(h % 16) : (double)(h >> 11) / 9007199254740992.0 * 1e3;
}

/* Every handle of a thread reads compressed blocks into one shared buffer (cache.c). Here
 * it grows while earlier files stay open, then serves small blocks again; striped and
 * pixel-interleaved files take the same path. */
static void test_shared_compressed_buffer(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 256;
    s.cols = 512;
    s.bands = 2;
    s.block_x = s.block_y = 256;
    s.type = GDT_Float32;
    s.compress = "DEFLATE";
    s.value = v_growing_blocks;
    strata_collection *c = stack(&s, 4, NULL);
    REQUIRE(c != NULL);
    strata_window all = {0, 4, 0, 2, 0, 256, 0, 512};
    check_window(c, &s, all, STRATA_FLOAT32);
    strata_window first = {0, 2, 1, 1, 0, 256, 0, 256};
    check_window(c, &s, first, STRATA_FLOAT64);
    random_windows(c, &s, 20, 4, STRATA_FLOAT32);
    strata_collection_free(c);

    s.block_x = 0;
    s.strip_rows = 64;
    c = stack(&s, 4, NULL);
    REQUIRE(c != NULL);
    check_window(c, &s, all, STRATA_FLOAT32);
    random_windows(c, &s, 20, 4, STRATA_FLOAT32);
    strata_collection_free(c);

    /* One strip of bytes over 2000 rows: GDAL reads it line by line with libtiff's scanline
     * reader, which resumes in the strip's bytes where the last block stopped. Reading the
     * files in turns, a band of rows at a time, must not disturb that. */
    fx_spec_default(&s);
    s.block_x = 0;
    s.rows = s.strip_rows = 2100;
    s.cols = 40;
    s.type = GDT_Byte;
    s.compress = "DEFLATE";
    s.value = fx_value_small;
    c = stack(&s, 3, NULL);
    REQUIRE(c != NULL);
    for (int row0 = 0; row0 < s.rows; row0 += 700) {
        strata_window band = {0, 3, 0, 1, row0, 700, 0, 40};
        check_window(c, &s, band, STRATA_UINT8);
    }
    strata_collection_free(c);
}

/* Sets the byte count of the first strip or tile in a little-endian classic TIFF to the
 * largest its field holds. */
static void corrupt_first_byte_count(const char *path) {
    FILE *f = fopen(path, "r+b");
    REQUIRE(f != NULL);
    unsigned char e[12];
    uint32_t ifd = 0;
    uint16_t n = 0;
    REQUIRE(fseek(f, 4, SEEK_SET) == 0 && fread(&ifd, 4, 1, f) == 1);
    REQUIRE(fseek(f, ifd, SEEK_SET) == 0 && fread(&n, 2, 1, f) == 1);
    for (uint16_t i = 0; i < n && fread(e, 12, 1, f) == 1; i++) {
        uint16_t tag = (uint16_t)(e[0] | e[1] << 8), type = (uint16_t)(e[2] | e[3] << 8);
        uint32_t count =
            (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;
        if (tag != 279 && tag != 325) { /* StripByteCounts, TileByteCounts */
            continue;
        }
        size_t esize = type == 3 ? 2 : 4;
        long at = ftell(f) - 4;
        if (count * esize > 4) {
            uint32_t off = 0;
            memcpy(&off, e + 8, 4);
            at = (long)off;
        }
        uint32_t huge = esize == 2 ? 0xffffu : 0x7fffffffu;
        REQUIRE(fseek(f, at, SEEK_SET) == 0 && fwrite(&huge, esize, 1, f) == 1);
        break;
    }
    fclose(f);
}

/* A block whose byte count runs far past the file's end: strata fails as GDAL does, naming
 * the file, and reads the other files as before. */
static void test_corrupt_byte_count(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.compress = "DEFLATE";
    const char **paths = NULL;
    strata_collection *c = stack(&s, 3, &paths);
    REQUIRE(c != NULL);
    strata_window w = {0, 3, 0, 1, 0, 40, 0, 50};
    check_window(c, &s, w, STRATA_INT16);
    corrupt_first_byte_count(paths[1]);
    strata_collection_free(c);
    REQUIRE(strata_collection_from_files(paths, 3, &c) == STRATA_OK);
    w.nt = 1;
    w.t0 = 1;
    void *theirs = gdal_read(paths[1], &w, STRATA_INT16);
    strata_status st;
    long bad = fx_window_mismatches(c, &s, &w, STRATA_INT16, &st);
    if (theirs) {
        CHECK_MSG(bad == 0, "GDAL reads the file, strata: %ld mismatches", bad);
    } else {
        CHECK(bad == -1);
        CHECK_EQ_INT(st, STRATA_ERR_IO);
        CHECK_CONTAINS(strata_errmsg(), paths[1]);
    }
    free(theirs);
    w.t0 = 2;
    check_window(c, &s, w, STRATA_INT16);
    w.t0 = 0;
    check_window(c, &s, w, STRATA_INT16);
    strata_collection_free(c);
}

/* A template stack of 3 plus one odd file at the end; the odd file's read must fail with
 * status, naming the file and containing `why`. */
static void misaligned_case(const char *what, const fx_spec *odd, strata_status want,
                            const char *why) {
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    const char *dir = fx_dir_new();
    const char **paths = fx_write_stack(dir, &s, 4, NULL);
    fx_write(paths[3], odd, 3);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 4, &c));
    strata_window w = {0, 3, 0, 1, 0, 8, 0, 8};
    CHECK_MSG(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL) == 0, "%s: good files", what);
    w = (strata_window){3, 1, 0, 1, 0, 8, 0, 8};
    int16_t buf[64];
    strata_status st = strata_collection_read(c, &w, STRATA_INT16, buf);
    CHECK_MSG(st == want, "%s: read gave %s, expected %s", what, strata_status_str(st),
              strata_status_str(want));
    CHECK_CONTAINS(strata_errmsg(), paths[3]);
    if (why) {
        CHECK_CONTAINS(strata_errmsg(), why);
    }
    /* validate finds it too, at the end of the list. */
    st = strata_collection_validate(c);
    CHECK_MSG(st == want, "%s: validate gave %s", what, strata_status_str(st));
    CHECK_CONTAINS(strata_errmsg(), paths[3]);
    strata_collection_free(c);

    /* A fresh collection: validate finds it first. */
    REQUIRE_OK(strata_collection_from_files(paths, 4, &c));
    st = strata_collection_validate(c);
    CHECK_MSG(st == want, "%s: validate gave %s", what, strata_status_str(st));
    CHECK_CONTAINS(strata_errmsg(), paths[3]);
    if (why) {
        CHECK_CONTAINS(strata_errmsg(), why);
    }
    strata_collection_free(c);
}

static void test_misaligned(void) {
    fx_spec o;
    fx_spec_default(&o);
    o.bands = 2;
    o.rows = 41;
    misaligned_case("size", &o, STRATA_ERR_MISALIGNED, "pixels");

    fx_spec_default(&o);
    o.bands = 2;
    o.gt[0] += 10.0; /* one pixel to the east */
    misaligned_case("geotransform origin", &o, STRATA_ERR_MISALIGNED, "geotransform");

    fx_spec_default(&o);
    o.bands = 2;
    o.gt[1] = 20.0;
    misaligned_case("pixel size", &o, STRATA_ERR_MISALIGNED, "geotransform");

    fx_spec_default(&o);
    o.bands = 2;
    o.epsg = 32633;
    misaligned_case("CRS", &o, STRATA_ERR_MISALIGNED, "CRS");

    fx_spec_default(&o);
    o.bands = 2;
    o.epsg = 0;
    misaligned_case("no CRS", &o, STRATA_ERR_MISALIGNED, "CRS");

    fx_spec_default(&o);
    o.bands = 2;
    o.epsg = 0;
    o.proj4 = "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m";
    misaligned_case("custom CRS", &o, STRATA_ERR_MISALIGNED, "CRS");

    fx_spec_default(&o);
    o.bands = 3;
    misaligned_case("band count", &o, STRATA_ERR_MISALIGNED, "bands");

    fx_spec_default(&o);
    o.bands = 2;
    o.type = GDT_Float32;
    misaligned_case("data type", &o, STRATA_ERR_MISALIGNED, "Float32");

    /* Not a raster at all: an I/O error. */
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    const char **paths = fx_write_stack(fx_dir_new(), &s, 3, NULL);
    fx_write_text(paths[2], "plain text, not a TIFF\n");
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 3, &c));
    CHECK_STATUS(strata_collection_validate(c), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), paths[2]);
    strata_window w = {2, 1, 0, 1, 0, 1, 0, 1};
    int16_t v;
    CHECK_STATUS(strata_collection_read(c, &w, STRATA_INT16, &v), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), paths[2]);
    strata_collection_free(c);
}

/* Same grid, CRS, bands and type, but another internal layout (tile size, strips,
 * compression): the same cube. Reading must give the file's values, never other ones. */
static const char *other_layout_dir; /* made by the parent, so the parent removes it */

static void other_block_layout(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 70;
    s.cols = 90;
    s.bands = 2;
    const char *dir = other_layout_dir;
    const char **paths = fx_write_stack(dir, &s, 4, NULL);
    fx_spec o = s;
    o.block_x = o.block_y = 32;
    fx_write(paths[1], &o, 1);
    o.block_x = 0;
    o.strip_rows = 5;
    fx_write(paths[2], &o, 2);
    o.strip_rows = 0;
    o.compress = "LZW";
    fx_write(paths[3], &o, 3);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 4, &c));
    for (size_t t = 1; t < 4; t++) {
        const strata_window ws[] = {
            {t, 1, 0, 2, 0, 70, 0, 90}, {t, 1, 1, 1, 17, 20, 30, 40}, {t, 1, 0, 1, 69, 1, 89, 1}};
        for (size_t i = 0; i < 3; i++) {
            strata_window w = ws[i];
            strata_status st = STRATA_OK;
            long bad = fx_window_mismatches(c, &s, &w, STRATA_INT16, &st);
            /* Either the right values, or a clear refusal naming the file; never wrong
             * values. */
            CHECK_MSG(bad == 0 || (bad == -1 && st == STRATA_ERR_MISALIGNED &&
                                   strstr(strata_errmsg(), paths[t])),
                      "%s (other block layout) window %zu: %ld mismatches, status %s", paths[t], i,
                      bad, strata_status_str(st));
        }
    }
    strata_collection_free(c);
}

/* In a child process: a wrong block size has been seen to corrupt memory. */
static void test_other_block_layout(void) {
    other_layout_dir = fx_dir_new();
    CHECK_IN_CHILD(other_block_layout);
}

static void test_validate(void) {
    fx_spec s;
    fx_spec_default(&s);
    const char **paths = NULL;
    strata_collection *c = stack(&s, 6, &paths);
    REQUIRE(c != NULL);
    CHECK_OK(strata_collection_validate(c));
    strata_collection_free(c);
    /* The last file missing. */
    CHECK(fx_remove(paths[5]) == 0);
    REQUIRE_OK(strata_collection_from_files(paths, 6, &c));
    CHECK_STATUS(strata_collection_validate(c), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), paths[5]);
    strata_collection_free(c);
    /* The last file of another size. */
    fx_spec o = s;
    o.cols = 49;
    fx_write(paths[5], &o, 5);
    REQUIRE_OK(strata_collection_from_files(paths, 6, &c));
    CHECK_STATUS(strata_collection_validate(c), STRATA_ERR_MISALIGNED);
    CHECK_CONTAINS(strata_errmsg(), paths[5]);
    /* A read of the good ones still works afterwards. */
    strata_window w = {0, 5, 0, 1, 0, 40, 0, 50};
    CHECK_EQ_INT(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL), 0);
    strata_collection_free(c);
    CHECK_STATUS(strata_collection_validate(NULL), STRATA_ERR_INVALID_ARG);
}

TEST_MAIN(test_windows_tiled, test_windows_striped, test_shared_compressed_buffer,
          test_corrupt_byte_count, test_type_conversion, test_invalid_windows, test_truncated_file,
          test_misaligned, test_other_block_layout, test_validate)
