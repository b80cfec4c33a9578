/* The API's growth rules (strata.h, "Options structs" and "Stability"): options of an older
 * or a newer header, the one codec enum of GeoTIFF and Zarr, the progress callback in GDAL's
 * sense (GDAL's own progress functions fit it) and the log callback. */
#include "fixtures.h"
#include "harness.h"

#include <cpl_progress.h>
#include <stddef.h>

static strata_collection *small_stack(int n) {
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 20;
    s.cols = 24;
    const char **paths = fx_write_stack(fx_dir_new(), &s, n, NULL);
    strata_collection *c = NULL;
    return strata_collection_from_files(paths, (size_t)n, &c) == STRATA_OK ? c : NULL;
}

static int same_mean(const strata_result *a, const strata_result *b) {
    strata_array x, y;
    if (strata_result_array(a, 0, STRATA_OP_MEAN, &x) != STRATA_OK ||
        strata_result_array(b, 0, STRATA_OP_MEAN, &y) != STRATA_OK) {
        return 0;
    }
    size_t n = (size_t)x.bands * x.rows * x.cols * strata_dtype_size(x.dtype);
    return x.dtype == y.dtype && memcmp(x.data, y.data, n) == 0;
}

static void test_options_of_other_versions(void) {
    strata_collection *c = small_stack(3);
    REQUIRE(c != NULL);
    const strata_op mean = STRATA_OP_MEAN;
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    CHECK_EQ_INT(o.size, sizeof o);
    strata_result *want = NULL, *r = NULL;
    REQUIRE_OK(strata_reduce(c, &mean, 1, &o, &want));

    /* An older header ended before `partition`: what lies past its size is not read (-2
     * threads and a negative part count would be refused), and those fields keep their
     * defaults. */
    strata_reduce_opts older;
    strata_reduce_opts_init(&older);
    older.size = offsetof(strata_reduce_opts, partition);
    older.partition.count = -1;
    older.run.threads = -2;
    CHECK_OK(strata_reduce(c, &mean, 1, &older, &r));
    CHECK(r && same_mean(r, want));
    strata_result_free(r);
    r = NULL;

    /* A newer header's struct: fine while the fields this library lacks are zero. */
    struct {
        strata_reduce_opts o;
        uint64_t added[2];
    } newer;
    memset(&newer, 0, sizeof newer);
    strata_reduce_opts_init(&newer.o);
    newer.o.size = sizeof newer;
    CHECK_OK(strata_reduce(c, &mean, 1, &newer.o, &r));
    CHECK(r && same_mean(r, want));
    strata_result_free(r);
    r = NULL;
    newer.added[1] = 7;
    CHECK_STATUS(strata_reduce(c, &mean, 1, &newer.o, &r), STRATA_ERR_UNSUPPORTED);
    CHECK_CONTAINS(strata_errmsg(), "newer strata");
    CHECK(r == NULL);

    /* Options not filled by _init. */
    strata_zarr_opts z;
    memset(&z, 0, sizeof z);
    const char *store = fx_path(fx_dir_new(), "never.zarr");
    CHECK_STATUS(strata_to_zarr(c, store, &z), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "strata_zarr_opts_init");
    CHECK(!fx_exists(store));
    strata_kerchunk_opts k;
    memset(&k, 0, sizeof k);
    const char *one = strata_collection_path(c, 0);
    CHECK_STATUS(strata_kerchunk(&one, 1, fx_path(fx_dir_new(), "refs.json"), &k),
                 STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "strata_kerchunk_opts");
    strata_result_free(want);
    strata_collection_free(c);
}

static void test_one_codec_enum(void) {
    static const struct {
        const char *name;
        strata_codec codec;
        int gtiff, zarr;
    } cases[] = {{"zstd", STRATA_CODEC_ZSTD, 1, 1},
                 {"ZSTD", STRATA_CODEC_ZSTD, 1, 1},
                 {"deflate", STRATA_CODEC_ZLIB, 1, 1},
                 {"zlib", STRATA_CODEC_ZLIB, 1, 1},
                 {"lzw", STRATA_CODEC_LZW, 1, 0},
                 {"none", STRATA_CODEC_NONE, 1, 1},
                 {"blosc-lz4", STRATA_CODEC_BLOSC_LZ4, 0, 1},
                 {"blosc-zstd", STRATA_CODEC_BLOSC_ZSTD, 0, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strata_codec codec = (strata_codec)-1;
        CHECK_OK(strata_codec_from_name(cases[i].name, &codec));
        CHECK_EQ_INT(codec, cases[i].codec);
        CHECK_EQ_INT(strata_codec_for_gtiff(codec), cases[i].gtiff);
        CHECK_EQ_INT(strata_codec_for_zarr(codec), cases[i].zarr);
    }
    CHECK_EQ_STR(strata_codec_name(STRATA_CODEC_LZW), "lzw");
    CHECK_EQ_STR(strata_codec_name((strata_codec)42), "unknown");
    strata_codec codec;
    CHECK_STATUS(strata_codec_from_name("lz4", &codec), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "'lz4'");
    CHECK_EQ_INT(strata_codec_for_gtiff((strata_codec)42), 0);
    CHECK_EQ_INT(strata_codec_for_zarr((strata_codec)42), 0);

    /* Zarr refuses LZW before it writes anything. */
    strata_collection *c = small_stack(2);
    REQUIRE(c != NULL);
    strata_zarr_opts z;
    strata_zarr_opts_init(&z);
    z.codec = STRATA_CODEC_LZW;
    const char *store = fx_path(fx_dir_new(), "lzw.zarr");
    CHECK_STATUS(strata_to_zarr(c, store, &z), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "lzw");
    CHECK(!fx_exists(store));
    strata_collection_free(c);
}

typedef struct stop_log {
    int calls;
    double last;
} stop_log;

static int stop_at_once(double fraction, const char *message, void *user) {
    stop_log *l = user;
    l->calls++;
    l->last = fraction;
    return message == NULL; /* 0: stop */
}

static void test_progress_in_gdal_sense(void) {
    strata_collection *c = small_stack(3);
    REQUIRE(c != NULL);
    strata_zarr_opts z;
    strata_zarr_opts_init(&z);
    /* GDAL's own progress functions are strata_progress_fn. */
    z.run.progress = GDALDummyProgress;
    const char *dir = fx_dir_new();
    const char *store = fx_path(dir, "ok.zarr");
    CHECK_OK(strata_to_zarr(c, store, &z));
    CHECK(fx_exists(fx_path(dir, "ok.zarr/.zmetadata")) ||
          fx_exists(fx_path(dir, "ok.zarr/.zgroup")));
    stop_log l = {0, -1};
    z.run.progress = stop_at_once;
    z.run.progress_user = &l;
    const char *stopped = fx_path(dir, "stopped.zarr");
    CHECK_STATUS(strata_to_zarr(c, stopped, &z), STRATA_ERR_CANCELLED);
    CHECK_EQ_INT(l.calls, 1);
    CHECK(l.last >= 0 && l.last <= 1);
    CHECK(!fx_exists(stopped));
    strata_collection_free(c);
}

/* A NetCDF3 classic file: dimension x = 3, a char variable "c" (which kerchunk leaves out)
 * and a short variable "v", both of dimension x. */
static void write_nc3(const char *path) {
    static const unsigned char head[] = {
        'C', 'D', 'F', 1,    0,   0, 0, 0,                           /* magic, numrecs */
        0,   0,   0,   0x0A, 0,   0, 0, 1,                           /* dim_list: 1 dimension */
        0,   0,   0,   1,    'x', 0, 0, 0, 0, 0, 0, 3,               /* "x" = 3 */
        0,   0,   0,   0,    0,   0, 0, 0,                           /* no global attributes */
        0,   0,   0,   0x0B, 0,   0, 0, 2,                           /* var_list: 2 variables */
        0,   0,   0,   1,    'c', 0, 0, 0, 0, 0, 0, 1,   0, 0, 0, 0, /* "c" (x) */
        0,   0,   0,   0,    0,   0, 0, 0,                           /* no attributes */
        0,   0,   0,   2,    0,   0, 0, 4, 0, 0, 0, 108,             /* char, vsize 4, begin 108 */
        0,   0,   0,   1,    'v', 0, 0, 0, 0, 0, 0, 1,   0, 0, 0, 0, /* "v" (x) */
        0,   0,   0,   0,    0,   0, 0, 0,                           /* no attributes */
        0,   0,   0,   3,    0,   0, 0, 8, 0, 0, 0, 112,             /* short, vsize 8, begin 112 */
        'a', 'b', 'c', 0,                                            /* c */
        0,   1,   0,   2,    0,   3, 0, 0};                          /* v */
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(head, 1, sizeof head, f) != sizeof head) {
        abort();
    }
    fclose(f);
}

typedef struct log_seen {
    int warnings;
    char last[1024];
} log_seen;

static void on_log(strata_log_level level, const char *message, void *user) {
    log_seen *s = user;
    if (level == STRATA_LOG_WARNING) {
        s->warnings++;
        snprintf(s->last, sizeof s->last, "%s", message);
    }
}

static void on_warn(void *user, const char *message) {
    (void)message;
    ++*(int *)user;
}

static void test_log_callback(void) {
    const char *dir = fx_dir_new();
    const char *nc = fx_path(dir, "text.nc");
    write_nc3(nc);
    log_seen seen = {0, ""};
    strata_set_log(on_log, STRATA_LOG_WARNING, &seen);
    strata_kerchunk_opts k;
    strata_kerchunk_opts_init(&k);
    CHECK_OK(strata_kerchunk(&nc, 1, fx_path(dir, "refs.json"), &k));
    CHECK_EQ_INT(seen.warnings, 1);
    CHECK_CONTAINS(seen.last, "variable 'c' skipped");
    CHECK_CONTAINS(seen.last, "text.nc");
    /* The call's own warn function, when set, gets the message instead. */
    int warned = 0;
    k.warn = on_warn;
    k.warn_data = &warned;
    CHECK_OK(strata_kerchunk(&nc, 1, fx_path(dir, "refs2.json"), &k));
    CHECK_EQ_INT(warned, 1);
    CHECK_EQ_INT(seen.warnings, 1);
    strata_set_log(NULL, STRATA_LOG_WARNING, NULL);
    k.warn = NULL;
    CHECK_OK(strata_kerchunk(&nc, 1, fx_path(dir, "refs3.json"), &k));
    CHECK_EQ_INT(seen.warnings, 1);
}

TEST_MAIN(test_options_of_other_versions, test_one_codec_enum, test_progress_in_gdal_sense,
          test_log_callback)
