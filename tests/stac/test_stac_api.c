/* The STAC entry points through the public API: the href callback, a meta built from the
 * JSON without opening a file, the collection's JSON round trip, and argument errors. Pixels
 * are compared with the same files read with strata_collection_from_files. */
#include "fixtures.h"
#include "harness.h"
#include "common/strata_testing.h"

#include <stdio.h>

enum { T = 3 };

static const char *const DATES[T] = {"2021-03-01T00:00:00Z", "2021-01-01T00:00:00Z",
                                     "2021-02-01T00:00:00Z"};

/* STAC text for the T files, hrefs "https://mirror.invalid/<i>.tif", proj: fields when proj. */
static char *items_json(const fx_spec *s, int proj) {
    size_t cap = 8192, used = 0;
    char *buf = malloc(cap);
    used += (size_t)snprintf(buf + used, cap - used, "[");
    for (int t = 0; t < T; t++) {
        char extra[512] = "";
        if (proj) {
            snprintf(extra, sizeof extra,
                     ", \"proj:epsg\": %d, \"proj:shape\": [%d, %d], \"proj:transform\": [%.17g, "
                     "%.17g, %.17g, %.17g, %.17g, %.17g]",
                     s->epsg, s->rows, s->cols, s->gt[1], s->gt[2], s->gt[0], s->gt[4], s->gt[5],
                     s->gt[3]);
        }
        used +=
            (size_t)snprintf(buf + used, cap - used,
                             "%s{\"id\": \"i%d\", \"properties\": {\"datetime\": \"%s\"%s}, "
                             "\"assets\": {\"a\": {\"href\": \"https://mirror.invalid/%d.tif\", "
                             "\"raster:bands\": [{\"data_type\": \"int16\"}]}}}",
                             t ? ", " : "", t, DATES[t], extra, t);
    }
    snprintf(buf + used, cap - used, "]");
    return buf;
}

static const char **g_paths;

/* Maps https://mirror.invalid/<i>.tif to the i-th local file. */
static char *to_local(const char *href, void *user) {
    int *calls = user;
    const char *prefix = "https://mirror.invalid/";
    ++*calls;
    if (strncmp(href, prefix, strlen(prefix)) != 0) {
        return NULL;
    }
    return strdup(g_paths[atoi(href + strlen(prefix))]);
}

static void setup(fx_spec *s) {
    fx_spec_default(s);
    const char *dir = fx_dir_new();
    g_paths = fx_write_stack(dir, s, T, NULL);
}

static void test_rewrite_and_read(void) {
    fx_spec s;
    setup(&s);
    char *json = items_json(&s, 0);
    int calls = 0;
    strata_stac_opts o;
    strata_stac_opts_init(&o);
    o.href_rewrite = to_local;
    o.href_user = &calls;
    strata_collection *c = NULL, *f = NULL;
    CHECK_OK(strata_collection_from_stac(json, NULL, &o, &c));
    /* In time order: file 1 (January), 2, 0. */
    const char *order[T] = {g_paths[1], g_paths[2], g_paths[0]};
    CHECK_OK(strata_collection_from_files(order, T, &f));
    REQUIRE(c && f);
    CHECK_EQ_INT(calls, T);
    CHECK_EQ_STR(strata_collection_path(c, 0), g_paths[1]);
    int64_t t0 = 0;
    CHECK(strata_collection_time(c, 0, &t0) && t0 == 1609459200);
    size_t n = (size_t)T * (size_t)s.rows * (size_t)s.cols;
    int16_t *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    strata_window w = {0, T, 0, 1, 0, s.rows, 0, s.cols};
    CHECK_OK(strata_collection_read(c, &w, STRATA_INT16, a));
    CHECK_OK(strata_collection_read(f, &w, STRATA_INT16, b));
    CHECK(memcmp(a, b, n * sizeof *a) == 0);
    free(a);
    free(b);
    strata_collection_free(c);
    strata_collection_free(f);
    free(json);
}

static void test_meta_without_files(void) {
    fx_spec s;
    setup(&s);
    char *json = items_json(&s, 1);
    strata_collection *c = NULL, *back = NULL;
    char *text = NULL;
    /* No rewrite: the hrefs point nowhere, and nothing is opened. */
    CHECK_OK(strata_collection_from_stac(json, NULL, NULL, &c));
    REQUIRE(c);
    const strata_meta *m = strata_collection_meta(c);
    double gt[6];
    strata_meta_geotransform(m, gt);
    CHECK_EQ_INT(strata_meta_epsg(m), s.epsg);
    CHECK_EQ_INT(strata_meta_rows(m), s.rows);
    CHECK_EQ_INT(strata_meta_cols(m), s.cols);
    CHECK(memcmp(gt, s.gt, sizeof gt) == 0);
    CHECK(strata_meta_dtype(m) == STRATA_INT16);
    CHECK_EQ_STR(strata_meta_band_name(m, 0), "a");
    CHECK_EQ_INT(strata_testing_open_count(c), 0);
    CHECK_EQ_STR(strata_collection_path(c, 0), "/vsicurl/https://mirror.invalid/1.tif");
    CHECK_OK(strata_collection_to_json(c, &text));
    CHECK_OK(strata_collection_from_json(text, &back));
    CHECK(back && strata_meta_equal(m, strata_collection_meta(back)));
    int64_t a = 0, b = 0;
    CHECK(back && strata_collection_time(c, 2, &a) && strata_collection_time(back, 2, &b) &&
          a == b);
    strata_free(text);
    strata_collection_free(back);
    strata_collection_free(c);
    free(json);
}

static void test_errors(void) {
    strata_collection *c = (strata_collection *)1;
    strata_stac_opts o;
    strata_stac_opts_init(&o);
    CHECK_STATUS(strata_collection_from_stac(NULL, NULL, NULL, &c), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_collection_from_stac("{", NULL, NULL, &c), STRATA_ERR_PARSE);
    CHECK(c == NULL);
    CHECK_CONTAINS(strata_errmsg(), "not JSON");
    o.has_bbox = 1;
    o.bbox[1] = 10;
    CHECK_STATUS(strata_collection_from_stac("[]", NULL, &o, &c), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_collection_from_stac_file("/nonexistent/items.json", NULL, &c),
                 STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), "/nonexistent/items.json");
    CHECK_STATUS(strata_collection_from_stac_file(NULL, NULL, &c), STRATA_ERR_INVALID_ARG);
}

TEST_MAIN(test_rewrite_and_read, test_meta_without_files, test_errors)
