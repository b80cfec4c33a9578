/* Output grids and same-day mosaics through the C API: a file shifted by one pixel read on
 * its neighbour's grid (nearest, exact transform) holds the neighbour's values moved by one
 * column, and a missing column where it has no data; mosaics fuse in item order; the JSON form
 * keeps grid and mosaic; a warped read leaves nothing in GDAL's block cache; bad arguments fail
 * with STRATA_ERR_INVALID_ARG. */
#include "fixtures.h"
#include "harness.h"

#include <gdal.h>
#include <stdint.h>

static const char **shifted_pair(fx_spec *s, const char *dir) {
    fx_spec_default(s);
    static const char *paths[3];
    paths[0] = fx_path(dir, "a.tif");
    fx_write(paths[0], s, 0);
    fx_spec t = *s;
    t.gt[0] += t.gt[1]; /* one pixel east */
    paths[1] = fx_path(dir, "b.tif");
    fx_write(paths[1], &t, 1);
    paths[2] = fx_path(dir, "c.tif");
    fx_write(paths[2], s, 2);
    return paths;
}

static strata_status on_grid_of(strata_collection *c, const char *like) {
    strata_grid_opts g;
    strata_grid_opts_init(&g);
    g.like = like;
    g.max_error = 0;
    return strata_collection_set_grid(c, &g);
}

static int16_t *read_all(const strata_collection *c) {
    const strata_meta *m = strata_collection_meta(c);
    size_t n = strata_collection_size(c);
    size_t npx = (size_t)strata_meta_rows(m) * strata_meta_cols(m);
    int16_t *buf = calloc(n * npx, sizeof *buf);
    strata_window w = {0, n, 0, 1, 0, strata_meta_rows(m), 0, strata_meta_cols(m)};
    if (buf && strata_collection_read(c, &w, STRATA_INT16, buf) != STRATA_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void test_shift_nearest(void) {
    fx_spec s;
    const char *dir = fx_dir_new();
    const char **paths = shifted_pair(&s, dir);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 2, &c));
    CHECK_OK(on_grid_of(c, paths[0]));
    CHECK(strata_collection_warped(c) == 1);
    CHECK(strata_collection_resampling(c) == STRATA_RESAMPLE_NEAREST);
    double nd = 0;
    CHECK(strata_meta_nodata(strata_collection_meta(c), 0, &nd) == 1 && nd == -32768);
    int16_t *v = read_all(c);
    REQUIRE(v != NULL);
    /* the blocks GDAL's warper read from b went through GDAL's block cache and left it */
    CHECK(GDALGetCacheUsed64() == 0);
    int bad = 0;
    for (int r = 0; r < s.rows; r++) {
        for (int col = 0; col < s.cols; col++) {
            size_t i = (size_t)r * s.cols + col, plane = (size_t)s.rows * s.cols;
            double b = col == 0 ? -32768 : fx_expected(&s, 1, 0, r, col - 1);
            bad += v[i] != (int16_t)fx_expected(&s, 0, 0, r, col) || v[plane + i] != (int16_t)b;
        }
    }
    CHECK_EQ_INT(bad, 0);
    free(v);
    strata_collection_free(c);
}

static void test_mosaic_and_json(void) {
    fx_spec s;
    const char *dir = fx_dir_new();
    const char **paths = shifted_pair(&s, dir);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 3, &c));
    const char *iso[] = {"2024-05-01T10:00:00Z", "2024-05-01T23:00:00Z", "2024-05-02T01:00:00Z"};
    CHECK_OK(strata_collection_set_times_iso(c, iso));
    CHECK_OK(on_grid_of(c, paths[0]));
    CHECK_OK(strata_collection_mosaic(c, STRATA_MOSAIC_DAY, STRATA_MOSAIC_LAST));
    CHECK(strata_collection_size(c) == 2);
    CHECK(strata_collection_items(c, 0) == 2 && strata_collection_items(c, 1) == 1);
    CHECK(strata_collection_mosaic(c, STRATA_MOSAIC_DAY, STRATA_MOSAIC_FIRST) ==
          STRATA_ERR_INVALID_ARG);
    int16_t *v = read_all(c);
    REQUIRE(v != NULL);
    int bad = 0;
    size_t plane = (size_t)s.rows * s.cols;
    for (int r = 0; r < s.rows; r++) {
        for (int col = 0; col < s.cols; col++) {
            size_t i = (size_t)r * s.cols + col;
            /* last valid: b where it has data, a in the column b misses */
            double day0 =
                col == 0 ? fx_expected(&s, 0, 0, r, 0) : fx_expected(&s, 1, 0, r, col - 1);
            bad += v[i] != (int16_t)day0 || v[plane + i] != (int16_t)fx_expected(&s, 2, 0, r, col);
        }
    }
    CHECK_EQ_INT(bad, 0);
    char *json = NULL;
    REQUIRE_OK(strata_collection_to_json(c, &json));
    strata_collection *back = NULL;
    CHECK_OK(strata_collection_from_json(json, &back));
    if (back) {
        CHECK(strata_collection_size(back) == 2 && strata_collection_items(back, 0) == 2);
        CHECK(strata_collection_warped(back) == 1);
        int16_t *w = read_all(back);
        CHECK(w != NULL && memcmp(v, w, 2 * plane * sizeof *w) == 0);
        free(w);
        char *json2 = NULL;
        CHECK_OK(strata_collection_to_json(back, &json2));
        CHECK(json2 && strcmp(json, json2) == 0);
        strata_free(json2);
    }
    strata_collection_free(back);
    strata_free(json);
    free(v);
    strata_collection_free(c);
}

static void test_errors(void) {
    fx_spec s;
    const char *dir = fx_dir_new();
    const char **paths = shifted_pair(&s, dir);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 2, &c));
    strata_grid_opts g;
    strata_grid_opts_init(&g);
    CHECK(g.max_error == 0.125 && g.resampling == STRATA_RESAMPLE_NEAREST);
    CHECK(strata_collection_set_grid(c, NULL) == STRATA_ERR_INVALID_ARG);
    CHECK(strata_collection_set_grid(c, &g) == STRATA_ERR_INVALID_ARG); /* resolution 0 */
    CHECK(strstr(strata_errmsg(), "resolution must be above zero") != NULL);
    g.res_x = 10;
    g.crs = "EPSG:999999";
    CHECK(strata_collection_set_grid(c, &g) == STRATA_ERR_INVALID_ARG);
    CHECK(strstr(strata_errmsg(), "unknown CRS") != NULL);
    g.crs = NULL;
    g.like = paths[0];
    CHECK(strata_collection_set_grid(c, &g) == STRATA_ERR_INVALID_ARG); /* like and res */
    g.like = NULL;
    g.max_error = -1;
    CHECK(strata_collection_set_grid(c, &g) == STRATA_ERR_INVALID_ARG);
    g.max_error = 0.125;
    g.has_bounds = 1;
    g.bounds[0] = 0;
    g.bounds[1] = 0;
    g.bounds[2] = 100;
    g.bounds[3] = 100;
    CHECK(strata_collection_set_grid(c, &g) == STRATA_ERR_INVALID_ARG);
    CHECK(strstr(strata_errmsg(), "cover no source") != NULL);
    g.has_bounds = 0;
    CHECK_OK(strata_collection_set_grid(c, &g));
    /* the template's CRS at 10 m over both footprints: one column wider than either file */
    CHECK(strata_collection_warped(c) == 2);
    CHECK(strata_meta_cols(strata_collection_meta(c)) == s.cols + 1);
    CHECK(strata_collection_set_grid(c, &g) == STRATA_ERR_INVALID_ARG); /* once */
    CHECK(strata_collection_mosaic(c, STRATA_MOSAIC_DAY, STRATA_MOSAIC_FIRST) ==
          STRATA_ERR_INVALID_ARG); /* no times */
    CHECK(strstr(strata_errmsg(), "has no time") != NULL);
    strata_resampling r;
    strata_mosaic m;
    strata_mosaic_op op;
    CHECK(strata_resampling_from_name("near", &r) == STRATA_OK && r == STRATA_RESAMPLE_NEAREST);
    CHECK(strata_resampling_from_name("q3", &r) == STRATA_OK && r == STRATA_RESAMPLE_Q3);
    CHECK(strata_resampling_from_name("bicubic", &r) == STRATA_ERR_INVALID_ARG);
    CHECK(strata_mosaic_from_name("solar_day", &m) == STRATA_OK && m == STRATA_MOSAIC_SOLAR_DAY);
    CHECK(strata_mosaic_op_from_name("median", &op) == STRATA_OK && op == STRATA_MOSAIC_MEDIAN);
    CHECK(strata_mosaic_op_from_name("avg", &op) == STRATA_ERR_INVALID_ARG);
    CHECK_EQ_STR(strata_resampling_name(STRATA_RESAMPLE_CUBICSPLINE), "cubicspline");
    strata_collection_free(c);
}

TEST_MAIN(test_shift_nearest, test_mosaic_and_json, test_errors)
