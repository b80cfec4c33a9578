/* strata_collection: lazy opening, JSON round trips, times (ISO and file-name patterns),
 * labels derived from times, and the chunk grid. */
#include "fixtures.h"
#include "harness.h"
#include "common/strata_testing.h"

#include <jansson.h>
#include <sys/stat.h>

static strata_window whole(const strata_collection *c, size_t t) {
    const strata_meta *m = strata_collection_meta(c);
    strata_window w = {
        t, 1, 0, strata_meta_bands(m), 0, strata_meta_rows(m), 0, strata_meta_cols(m)};
    return w;
}

/* ---- lazy opening --------------------------------------------------------------------- */

static void test_opens_only_template(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    const char *dir = fx_dir_new();
    const char *paths[5];
    for (int t = 0; t < 5; t++) {
        paths[t] = fx_path(dir, "t%03d.tif", t);
    }
    fx_write(paths[0], &s, 0); /* only the template exists */
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 5, &c));
    CHECK_EQ_INT(strata_collection_size(c), 5);
    for (size_t t = 0; t < 5; t++) {
        CHECK_EQ_STR(strata_collection_path(c, t), paths[t]);
    }
    CHECK(strata_collection_path(c, 5) == NULL);
    CHECK_EQ_INT(strata_meta_bands(strata_collection_meta(c)), 2);
    CHECK_EQ_INT(strata_testing_open_count(c), 0);

    /* A timestep whose file is missing fails with an I/O error naming it. */
    strata_window w = whole(c, 3);
    strata_status st;
    CHECK(fx_window_mismatches(c, &s, &w, STRATA_INT16, &st) == -1);
    CHECK_EQ_INT(st, STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), paths[3]);
    /* The template itself reads. */
    w = whole(c, 0);
    CHECK_EQ_INT(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL), 0);

    /* Files made after the collection are read, and hold their own values. */
    for (int t = 1; t < 5; t++) {
        fx_write(paths[t], &s, t);
    }
    for (size_t t = 1; t < 5; t++) {
        w = whole(c, t);
        CHECK_MSG(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL) == 0, "timestep %zu", t);
    }
    w = whole(c, 0);
    w.nt = 5;
    CHECK_EQ_INT(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL), 0);
    CHECK_OK(strata_collection_validate(c));
    strata_collection_free(c);
}

static void test_from_files_errors(void) {
    const char *dir = fx_dir_new();
    strata_collection *c = NULL;
    const char *missing[] = {fx_path(dir, "none.tif")};
    CHECK_STATUS(strata_collection_from_files(missing, 1, &c), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), missing[0]);
    CHECK(c == NULL);
    const char *text = fx_path(dir, "list.txt");
    fx_write_text(text, "a.tif\nb.tif\n");
    const char *notraster[] = {text};
    CHECK_STATUS(strata_collection_from_files(notraster, 1, &c), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), text);
    CHECK(c == NULL);
    CHECK_STATUS(strata_collection_from_files(missing, 0, &c), STRATA_ERR_INVALID_ARG);
    fx_spec s;
    fx_spec_default(&s);
    const char *good = fx_path(dir, "good.tif");
    fx_write(good, &s, 0);
    const char *withempty[] = {good, ""};
    CHECK_STATUS(strata_collection_from_files(withempty, 2, &c), STRATA_ERR_INVALID_ARG);
    const char *withnull[] = {good, NULL};
    CHECK_STATUS(strata_collection_from_files(withnull, 2, &c), STRATA_ERR_INVALID_ARG);
    strata_collection_free(NULL);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void check_same_collection(const strata_collection *a, const strata_collection *b) {
    REQUIRE(a && b);
    CHECK_EQ_INT(strata_collection_size(a), strata_collection_size(b));
    CHECK(strata_meta_equal(strata_collection_meta(a), strata_collection_meta(b)) == 1);
    strata_chunks ca, cb;
    strata_collection_chunks(a, &ca);
    strata_collection_chunks(b, &cb);
    CHECK(ca.t == cb.t && ca.b == cb.b && ca.y == cb.y && ca.x == cb.x);
    for (size_t t = 0; t < strata_collection_size(a); t++) {
        CHECK_EQ_STR(strata_collection_path(a, t), strata_collection_path(b, t));
        int64_t ta = 0, tb = 0;
        int ha = strata_collection_time(a, t, &ta), hb = strata_collection_time(b, t, &tb);
        CHECK_EQ_INT(ha, hb);
        if (ha && hb) {
            CHECK_EQ_INT(ta, tb);
        }
        const char *la = strata_collection_label(a, t), *lb = strata_collection_label(b, t);
        CHECK((la == NULL) == (lb == NULL));
        if (la && lb) {
            CHECK_EQ_STR(la, lb);
        }
    }
}

static void test_json_round_trip(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 3;
    s.has_nodata = 1;
    s.nodata = -9999;
    const char *dir = fx_dir_new();
    const char **paths = fx_write_stack(dir, &s, 4, NULL);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 4, &c));
    const char *iso[] = {"1969-12-31T23:59:59Z", "2021-03-01", "2021-03-01T10:00:00+02:00",
                         "2100-01-01T00:00:00Z"};
    CHECK_OK(strata_collection_set_times_iso(c, iso));
    const char *labels[] = {"a", "b b", "\xc3\xa9t\xc3\xa9 \"q\"", ""};
    CHECK_OK(strata_collection_set_labels(c, labels));
    strata_chunks ch = {2, 2, 32, 16};
    CHECK_OK(strata_collection_set_chunks(c, &ch));
    CHECK_OK(strata_collection_set_cache_capacity(c, 3));
    char *json = NULL;
    REQUIRE_OK(strata_collection_to_json(c, &json));

    /* No file is opened: delete them all first. */
    for (int t = 0; t < 4; t++) {
        CHECK(fx_remove(paths[t]) == 0);
    }
    strata_collection *back = NULL;
    CHECK_OK(strata_collection_from_json(json, &back));
    check_same_collection(c, back);
    if (back) {
        int64_t t0 = 0;
        CHECK(strata_collection_time(back, 0, &t0) && t0 == -1);
        CHECK_EQ_STR(strata_collection_label(back, 2), labels[2]);
        strata_chunks cb;
        strata_collection_chunks(back, &cb);
        CHECK(cb.t == 2 && cb.b == 2 && cb.y == 32 && cb.x == 16);
        char *json2 = NULL;
        CHECK_OK(strata_collection_to_json(back, &json2));
        if (json2) {
            CHECK_EQ_STR(json2, json); /* the same text: cache capacity too */
        }
        strata_free(json2);
        /* Reading now fails naming the missing template ... */
        strata_window w = whole(back, 0);
        strata_status st;
        CHECK(fx_window_mismatches(back, &s, &w, STRATA_INT16, &st) == -1);
        CHECK_EQ_INT(st, STRATA_ERR_IO);
        CHECK_CONTAINS(strata_errmsg(), paths[0]);
        /* ... and works once the files are back. */
        fx_write_stack(dir, &s, 4, NULL);
        w.nt = 4;
        CHECK_EQ_INT(fx_window_mismatches(back, &s, &w, STRATA_INT16, NULL), 0);
    }
    strata_collection_free(back);
    strata_free(json);
    strata_collection_free(c);

    /* No times, no labels, default chunks. */
    REQUIRE_OK(strata_collection_from_files(paths, 2, &c));
    REQUIRE_OK(strata_collection_to_json(c, &json));
    back = NULL;
    CHECK_OK(strata_collection_from_json(json, &back));
    check_same_collection(c, back);
    if (back) {
        int64_t t = 0;
        CHECK(strata_collection_time(back, 0, &t) == 0);
        CHECK(strata_collection_label(back, 0) == NULL);
    }
    strata_collection_free(back);
    strata_free(json);
    strata_collection_free(c);
}

static void expect_collection_parse_error(const char *text, const char *what) {
    strata_collection *c = NULL;
    strata_status st = strata_collection_from_json(text, &c);
    CHECK_MSG(st == STRATA_ERR_PARSE, "%s: got %s, expected parse error (%s)", what,
              strata_status_str(st), strata_errmsg());
    CHECK_MSG(c == NULL, "%s: a collection came with the error", what);
    if (st == STRATA_OK) {
        strata_collection_free(c);
    }
}

static char *edit_json(const char *good, const char *path_key, const char *value) {
    json_t *o = json_loads(good, 0, NULL);
    json_t *v = value ? json_loads(value, JSON_DECODE_ANY, NULL) : NULL;
    json_t *target = o;
    const char *key = path_key;
    if (strncmp(path_key, "step1.", 6) == 0) {
        target = json_array_get(json_object_get(o, "timesteps"), 1);
        key = path_key + 6;
    }
    if (v) {
        json_object_set_new(target, key, v);
    } else {
        json_object_del(target, key);
    }
    char *t = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    return t;
}

static void test_json_malformed(void) {
    fx_spec s;
    fx_spec_default(&s);
    const char *dir = fx_dir_new();
    const char **paths = fx_write_stack(dir, &s, 3, NULL);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 3, &c));
    const char *labels[] = {"x", "y", "z"};
    const int64_t times[] = {0, 86400, 172800};
    CHECK_OK(strata_collection_set_labels(c, labels));
    CHECK_OK(strata_collection_set_times(c, times));
    char *good = NULL;
    REQUIRE_OK(strata_collection_to_json(c, &good));
    strata_collection_free(c);

    expect_collection_parse_error("", "empty");
    expect_collection_parse_error("garbage", "not JSON");
    expect_collection_parse_error("[1,2]", "an array");
    expect_collection_parse_error("{}", "empty object");
    static const struct {
        const char *key, *value; /* value NULL: delete the key */
    } edits[] = {
        {"timesteps", NULL},
        {"timesteps", "[]"},
        {"timesteps", "{}"},
        {"meta", NULL},
        {"meta", "{}"},
        {"meta", "\"x\""},
        {"chunks", NULL},
        {"chunks", "[1,1,16]"},
        {"chunks", "[1,1,\"a\",16]"},
        {"chunks", "\"1,1,16,16\""},
        {"cache_capacity", "\"8\""},
        {"step1.path", NULL},
        {"step1.path", "\"\""},
        {"step1.path", "7"},
        {"step1.time", "\"2021\""},
        {"step1.time", "1.5"},
        {"step1.label", NULL},
        {"step1.label", "3"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *t = edit_json(good, edits[i].key, edits[i].value);
        char what[128];
        snprintf(what, sizeof what, "%s = %s", edits[i].key,
                 edits[i].value ? edits[i].value : "(deleted)");
        expect_collection_parse_error(t, what);
        free(t);
    }
    /* A timestep may lack a time: that parses. */
    char *t = edit_json(good, "step1.time", NULL);
    c = NULL;
    CHECK_OK(strata_collection_from_json(t, &c));
    if (c) {
        int64_t v;
        CHECK(strata_collection_time(c, 0, &v) == 1 && v == 0);
        CHECK(strata_collection_time(c, 1, &v) == 0);
        char **lab = NULL;
        strata_status st = strata_labels_from_times(c, "year", &lab);
        CHECK_MSG(st != STRATA_OK, "labels from times with a timestep lacking a time");
        CHECK(lab == NULL);
        CHECK_CONTAINS(strata_errmsg(), paths[1]);
    }
    strata_collection_free(c);
    free(t);
    strata_free(good);
}

/* ---- times ------------------------------------------------------------------------------ */

static strata_collection *one_file_collection(void) {
    fx_spec s;
    fx_spec_default(&s);
    const char *dir = fx_dir_new();
    const char **paths = fx_write_stack(dir, &s, 1, NULL);
    strata_collection *c = NULL;
    if (strata_collection_from_files(paths, 1, &c) != STRATA_OK) {
        return NULL;
    }
    return c;
}

static void test_times_iso(void) {
    strata_collection *c = one_file_collection();
    REQUIRE(c != NULL);
    static const struct {
        const char *text;
        int64_t utc;
    } good[] = {
        {"2021-03-01", 1614556800},
        {"2021-03-01T10:00:00Z", 1614592800},
        {"2021-03-01T10:00:00z", 1614592800},
        {"2021-03-01T10:00:00", 1614592800},
        {"2021-03-01T10:00Z", 1614592800},
        {"2021-03-01T10:00:00+02:00", 1614585600},
        {"2021-03-01T10:00:00+0200", 1614585600},
        {"2021-03-01T10:00:00-05:30", 1614612600},
        {"2021-03-01T10:00:00.5Z", 1614592800},
        {"2021-03-01T10:00:00.999999+00:00", 1614592800},
        {"2021-03-01T23:30:00-02:00", 1614648600},
        {"1969-12-31T23:59:59Z", -1},
        {"1970-01-01T00:00:00Z", 0},
        {"2020-02-29", 1582934400},
        {"2000-02-29T12:00:00Z", 951825600},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *iso[] = {good[i].text};
        strata_status st = strata_collection_set_times_iso(c, iso);
        CHECK_MSG(st == STRATA_OK, "'%s' rejected: %s", good[i].text, strata_errmsg());
        int64_t v = 12345;
        CHECK_MSG(strata_collection_time(c, 0, &v) == 1 && v == good[i].utc,
                  "'%s' gave %" PRId64 ", expected %" PRId64, good[i].text, v, good[i].utc);
    }
    static const char *const bad[] = {
        "2021-13-01",
        "2021-02-30",
        "garbage",
        "",
        "2021-00-10",
        "2021-04-31",
        "1900-02-29",
        "2021-3-1",
        "2021-03-01X",
        "2021-03-01T25:00:00Z",
        "2021-03-01T10:60:00Z",
        "2021-03-01T10:00:00+2",
        "2021-03-01T10:00:00+25:00",
        "21-03-01",
        "2021/03/01",
    };
    const int64_t before = 777;
    CHECK_OK(strata_collection_set_times(c, &before));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *iso[] = {bad[i]};
        strata_status st = strata_collection_set_times_iso(c, iso);
        int64_t v = 0;
        strata_collection_time(c, 0, &v);
        CHECK_MSG(st == STRATA_ERR_PARSE, "'%s' accepted as %" PRId64, bad[i], v);
        if (st == STRATA_ERR_PARSE && bad[i][0]) {
            CHECK_CONTAINS(strata_errmsg(), bad[i]);
        }
        /* A failed call leaves the times as they were. */
        CHECK_MSG(strata_collection_time(c, 0, &v) == 1 && v == before, "'%s' changed the time",
                  bad[i]);
    }
    const char *null_iso[] = {NULL};
    CHECK_STATUS(strata_collection_set_times_iso(c, null_iso), STRATA_ERR_PARSE);
    CHECK_STATUS(strata_collection_set_times_iso(c, NULL), STRATA_ERR_INVALID_ARG);
    strata_collection_free(c);
}

static void test_times_pattern(void) {
    fx_spec s;
    fx_spec_default(&s);
    /* A folder whose name looks like a date: only the base name may be searched. */
    const char *top = fx_dir_new();
    const char *dir = fx_path(top, "19990101");
    CHECK(mkdir(dir, 0777) == 0);
    const char *names[] = {"S2_20210315_B04.tif", "S2_20211231_B04.tif", "S2_20200229_B04.tif",
                           "L8_20190704_B04.tif"};
    const char **paths = fx_write_stack(dir, &s, 4, names);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 4, &c));
    CHECK_OK(strata_collection_set_times_pattern(c, "%Y%m%d"));
    const int64_t want[] = {1615766400, 1640908800, 1582934400, 1562198400};
    for (size_t t = 0; t < 4; t++) {
        int64_t v = 0;
        CHECK_MSG(strata_collection_time(c, t, &v) == 1 && v == want[t],
                  "%s: %" PRId64 ", expected %" PRId64, names[t], v, want[t]);
    }
    /* The same with literal text around the fields. */
    CHECK_OK(strata_collection_set_times_pattern(c, "_%Y%m%d_B04"));
    int64_t v = 0;
    CHECK(strata_collection_time(c, 1, &v) == 1 && v == 1640908800);
    /* A name without a match fails naming the file (here the last one). */
    CHECK_STATUS(strata_collection_set_times_pattern(c, "S2_%Y%m%d"), STRATA_ERR_PARSE);
    CHECK_CONTAINS(strata_errmsg(), names[3]);
    strata_collection_free(c);

    /* Day of year. */
    const char *jnames[] = {"MOD_A2021074.tif", "MOD_A2020366.tif", "MOD_A2021001.tif"};
    paths = fx_write_stack(fx_dir_new(), &s, 3, jnames);
    REQUIRE_OK(strata_collection_from_files(paths, 3, &c));
    CHECK_OK(strata_collection_set_times_pattern(c, "%Y%j"));
    const int64_t jwant[] = {1615766400, 1609372800, 1609459200};
    for (size_t t = 0; t < 3; t++) {
        CHECK_MSG(strata_collection_time(c, t, &v) == 1 && v == jwant[t],
                  "%s: %" PRId64 ", expected %" PRId64, jnames[t], v, jwant[t]);
    }
    strata_collection_free(c);

    /* Impossible days of the year are not times. */
    const char *badj[] = {"MOD_A2021366.tif", "MOD_A2021000.tif"};
    for (int i = 0; i < 2; i++) {
        paths = fx_write_stack(fx_dir_new(), &s, 1, &badj[i]);
        REQUIRE_OK(strata_collection_from_files(paths, 1, &c));
        strata_status st = strata_collection_set_times_pattern(c, "%Y%j");
        v = 0;
        strata_collection_time(c, 0, &v);
        CHECK_MSG(st == STRATA_ERR_PARSE, "%s with %%Y%%j accepted as %" PRId64, badj[i], v);
        strata_collection_free(c);
    }

    /* Hours, minutes and seconds. */
    const char *hnames[] = {"x_20210315T101112.tif"};
    paths = fx_write_stack(fx_dir_new(), &s, 1, hnames);
    REQUIRE_OK(strata_collection_from_files(paths, 1, &c));
    CHECK_OK(strata_collection_set_times_pattern(c, "%Y%m%dT%H%M%S"));
    CHECK(strata_collection_time(c, 0, &v) == 1 && v == 1615803072);
    CHECK_STATUS(strata_collection_set_times_pattern(c, ""), STRATA_ERR_INVALID_ARG);
    strata_collection_free(c);

    /* An invalid date in the name is not a time. */
    const char *invalid[] = {"S2_20210230.tif"};
    paths = fx_write_stack(fx_dir_new(), &s, 1, invalid);
    REQUIRE_OK(strata_collection_from_files(paths, 1, &c));
    CHECK_STATUS(strata_collection_set_times_pattern(c, "S2_%Y%m%d"), STRATA_ERR_PARSE);
    strata_collection_free(c);
}

/* ---- labels ------------------------------------------------------------------------------ */

static void test_labels_from_times(void) {
    fx_spec s;
    fx_spec_default(&s);
    enum { N = 12 };
    const char **paths = fx_write_stack(fx_dir_new(), &s, 1, NULL);
    const char *many[N];
    for (int i = 0; i < N; i++) {
        many[i] = paths[0]; /* only times matter here */
    }
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(many, N, &c));
    char **labels = NULL;
    /* No times yet: an error, no labels. */
    CHECK(strata_labels_from_times(c, "year", &labels) != STRATA_OK);
    CHECK(labels == NULL);
    CHECK(strata_errmsg()[0] != '\0');

    const char *iso[N] = {"2020-12-15", "2021-01-10",           "2021-02-28",
                          "2021-03-01", "2021-06-30T23:59:59Z", "2021-09-01",
                          "2021-11-30", "2021-12-01",           "2020-02-29",
                          "2021-12-31", "2020-12-31T12:00:00Z", "2021-03-01T23:30:00-02:00"};
    REQUIRE_OK(strata_collection_set_times_iso(c, iso));
    static const struct {
        const char *key;
        const char *want[N];
    } cases[] = {
        {"year",
         {"2020", "2021", "2021", "2021", "2021", "2021", "2021", "2021", "2020", "2021", "2020",
          "2021"}},
        {"month", {"12", "01", "02", "03", "06", "09", "11", "12", "02", "12", "12", "03"}},
        {"season",
         {"DJF", "DJF", "DJF", "MAM", "JJA", "SON", "SON", "DJF", "DJF", "DJF", "DJF", "MAM"}},
        {"yearseason",
         {"2021-DJF", "2021-DJF", "2021-DJF", "2021-MAM", "2021-JJA", "2021-SON", "2021-SON",
          "2022-DJF", "2020-DJF", "2022-DJF", "2021-DJF", "2021-MAM"}},
        {"dayofyear",
         {"350", "010", "059", "060", "181", "244", "334", "335", "060", "365", "366", "061"}},
        {"yearmonth",
         {"2020-12", "2021-01", "2021-02", "2021-03", "2021-06", "2021-09", "2021-11", "2021-12",
          "2020-02", "2021-12", "2020-12", "2021-03"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        labels = NULL;
        CHECK_OK(strata_labels_from_times(c, cases[k].key, &labels));
        if (!labels) {
            continue;
        }
        for (int t = 0; t < N; t++) {
            CHECK_MSG(labels[t] && strcmp(labels[t], cases[k].want[t]) == 0,
                      "%s of %s: '%s', expected '%s'", cases[k].key, iso[t],
                      labels[t] ? labels[t] : "(null)", cases[k].want[t]);
        }
        strata_labels_free(labels, N);
    }
    labels = NULL;
    CHECK_STATUS(strata_labels_from_times(c, "week", &labels), STRATA_ERR_INVALID_ARG);
    CHECK(labels == NULL);
    CHECK_CONTAINS(strata_errmsg(), "week");
    strata_labels_free(NULL, 0);

    /* Before 1970. */
    const int64_t early[N] = {-3600, -86400 * 365, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_OK(strata_collection_set_times(c, early));
    labels = NULL;
    CHECK_OK(strata_labels_from_times(c, "dayofyear", &labels));
    if (labels) {
        CHECK_EQ_STR(labels[0], "365"); /* 1969-12-31 */
        CHECK_EQ_STR(labels[1], "001"); /* 1969-01-01 */
        CHECK_EQ_STR(labels[2], "001");
        strata_labels_free(labels, N);
    }
    labels = NULL;
    CHECK_OK(strata_labels_from_times(c, "yearseason", &labels));
    if (labels) {
        CHECK_EQ_STR(labels[0], "1970-DJF");
        CHECK_EQ_STR(labels[1], "1969-DJF");
        strata_labels_free(labels, N);
    }
    strata_collection_free(c);
}

static void test_set_labels(void) {
    strata_collection *c = one_file_collection();
    REQUIRE(c != NULL);
    CHECK(strata_collection_label(c, 0) == NULL);
    const char *l[] = {"first"};
    CHECK_OK(strata_collection_set_labels(c, l));
    CHECK_EQ_STR(strata_collection_label(c, 0), "first");
    const char *nul[] = {NULL};
    CHECK(strata_collection_set_labels(c, nul) != STRATA_OK);
    CHECK_EQ_STR(strata_collection_label(c, 0), "first");
    strata_collection_free(c);
}

/* ---- chunks ------------------------------------------------------------------------------ */

static void check_whole_blocks(const strata_collection *c, const char *what) {
    const strata_meta *m = strata_collection_meta(c);
    int bx, by;
    strata_meta_block_size(m, &bx, &by);
    strata_chunks ch;
    strata_collection_chunks(c, &ch);
    CHECK_MSG(ch.t == 1 && ch.b == 1, "%s: chunks t=%d b=%d", what, ch.t, ch.b);
    CHECK_MSG(ch.y >= 1 && ch.y <= strata_meta_rows(m) &&
                  (ch.y % by == 0 || ch.y == strata_meta_rows(m)),
              "%s: chunk rows %d, block %d, raster %d", what, ch.y, by, strata_meta_rows(m));
    CHECK_MSG(ch.x >= 1 && ch.x <= strata_meta_cols(m) &&
                  (ch.x % bx == 0 || ch.x == strata_meta_cols(m)),
              "%s: chunk cols %d, block %d, raster %d", what, ch.x, bx, strata_meta_cols(m));
}

static void test_chunks(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 1024;
    s.cols = 1024;
    s.block_x = s.block_y = 64;
    s.bands = 2;
    s.type = GDT_Byte;
    s.value = fx_value_small;
    const char **paths = fx_write_stack(fx_dir_new(), &s, 1, NULL);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 1, &c));
    check_whole_blocks(c, "tiled 1024x1024/64");
    strata_chunks ch;
    strata_collection_chunks(c, &ch);
    CHECK_MSG(ch.y % 64 == 0 && ch.x % 64 == 0, "chunks %d x %d not multiples of 64", ch.y, ch.x);
    strata_collection_free(c);

    s.rows = 200;
    s.cols = 300;
    paths = fx_write_stack(fx_dir_new(), &s, 1, NULL);
    REQUIRE_OK(strata_collection_from_files(paths, 1, &c));
    check_whole_blocks(c, "tiled 300x200/64");
    strata_collection_free(c);

    /* Striped: rows a multiple of the strip height, columns the whole width. */
    s.block_x = 0;
    s.strip_rows = 8;
    s.rows = 1000;
    s.cols = 70;
    paths = fx_write_stack(fx_dir_new(), &s, 1, NULL);
    REQUIRE_OK(strata_collection_from_files(paths, 1, &c));
    check_whole_blocks(c, "striped 8 rows");
    strata_collection_chunks(c, &ch);
    CHECK_EQ_INT(ch.x, 70);
    CHECK_MSG(ch.y % 8 == 0 || ch.y == 1000, "chunk rows %d", ch.y);
    strata_collection_free(c);

    s.strip_rows = 0; /* GDAL's own strip height */
    s.rows = 333;
    paths = fx_write_stack(fx_dir_new(), &s, 3, NULL);
    REQUIRE_OK(strata_collection_from_files(paths, 3, &c));
    check_whole_blocks(c, "striped default");
    strata_collection_chunks(c, &ch);
    CHECK_EQ_INT(ch.x, 70);

    /* Overrides. */
    strata_chunks want = {2, 1, 10, 20};
    CHECK_OK(strata_collection_set_chunks(c, &want));
    strata_collection_chunks(c, &ch);
    CHECK(ch.t == 2 && ch.b == 1 && ch.y == 10 && ch.x == 20);
    strata_chunks big = {100, 5, 1000000, 1000000};
    CHECK_OK(strata_collection_set_chunks(c, &big));
    strata_collection_chunks(c, &ch);
    CHECK_MSG(ch.t == 3 && ch.b == 2 && ch.y == 333 && ch.x == 70, "clipped to %d %d %d %d", ch.t,
              ch.b, ch.y, ch.x);
    const strata_chunks bad[] = {{0, 1, 1, 1}, {1, 0, 1, 1}, {1, 1, 0, 1}, {1, 1, 1, -5}};
    for (int i = 0; i < 4; i++) {
        CHECK_STATUS(strata_collection_set_chunks(c, &bad[i]), STRATA_ERR_INVALID_ARG);
        strata_collection_chunks(c, &ch);
        CHECK(ch.t == 3 && ch.b == 2 && ch.y == 333 && ch.x == 70);
    }
    CHECK_STATUS(strata_collection_set_chunks(c, NULL), STRATA_ERR_INVALID_ARG);
    strata_collection_free(c);
}

/* A GeoTIFF template's CRS is built on first use (st_meta_crs), equal to the one built at
 * once; if the template is gone by then, the getters say "no CRS" and the error names it. */
static void test_crs_on_first_use(void) {
    const char *dir = fx_dir_new();
    fx_spec s;
    fx_spec_default(&s);
    s.epsg = 0;
    s.proj4 = "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m";
    const char *paths[] = {fx_path(dir, "a.tif"), fx_path(dir, "b.tif")};
    fx_write(paths[0], &s, 0);
    fx_write(paths[1], &s, 1);
    strata_meta *eager = NULL;
    REQUIRE_OK(strata_meta_from_file(paths[0], &eager));
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, 2, &c));
    const strata_meta *m = strata_collection_meta(c);
    CHECK_CONTAINS(strata_meta_crs_wkt(m), "Lambert");
    CHECK_EQ_STR(strata_meta_crs_wkt(m), strata_meta_crs_wkt(eager));
    CHECK_EQ_INT(strata_meta_epsg(m), strata_meta_epsg(eager));
    CHECK_EQ_INT(strata_meta_equal(m, eager), 1);
    strata_collection_free(c);

    REQUIRE_OK(strata_collection_from_files(paths, 2, &c));
    CHECK_EQ_INT(fx_remove(paths[0]), 0);
    m = strata_collection_meta(c);
    CHECK_EQ_STR(strata_meta_crs_wkt(m), "");
    CHECK_CONTAINS(strata_errmsg(), paths[0]);
    char *json = NULL;
    CHECK_STATUS(strata_meta_to_json(m, &json), STRATA_ERR_IO);
    CHECK(json == NULL);
    CHECK_EQ_INT(strata_meta_equal(m, eager), 0);
    /* Back in place, the CRS builds. */
    fx_write(paths[0], &s, 0);
    CHECK_EQ_STR(strata_meta_crs_wkt(m), strata_meta_crs_wkt(eager));
    strata_collection_free(c);
    strata_meta_free(eager);
}

TEST_MAIN(test_opens_only_template, test_from_files_errors, test_json_round_trip,
          test_json_malformed, test_times_iso, test_times_pattern, test_labels_from_times,
          test_set_labels, test_chunks, test_crs_on_first_use)
