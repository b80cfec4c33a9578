/* strata_meta: from a file, JSON round trips (bit-exact doubles), equality, CRS edge cases,
 * malformed JSON, and a cross-check against `gdalinfo -json`. */
#include "fixtures.h"
#include "harness.h"

#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>

static const char *LAEA =
    "+proj=laea +lat_0=52 +lon_0=10 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m +no_defs";

static int same_bits(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Meta of a fresh file made from spec. */
static strata_meta *meta_of(const fx_spec *s) {
    const char *dir = fx_dir_new();
    const char *path = fx_path(dir, "m.tif");
    fx_write(path, s, 0);
    strata_meta *m = NULL;
    strata_status st = strata_meta_from_file(path, &m);
    if (st != STRATA_OK) {
        fprintf(stderr, "strata_meta_from_file(%s): %s\n", path, strata_errmsg());
        return NULL;
    }
    return m;
}

/* to_json -> from_json; returns the copy (NULL on failure, checks recorded). */
static strata_meta *round_trip(const strata_meta *m) {
    char *json = NULL;
    strata_meta *back = NULL;
    CHECK_OK(strata_meta_to_json(m, &json));
    if (!json) {
        return NULL;
    }
    CHECK_OK(strata_meta_from_json(json, &back));
    strata_free(json);
    return back;
}

static void test_from_file(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    s.has_nodata = 1;
    s.nodata = -9999;
    strata_meta *m = meta_of(&s);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(strata_meta_rows(m), 40);
    CHECK_EQ_INT(strata_meta_cols(m), 50);
    CHECK_EQ_INT(strata_meta_bands(m), 2);
    CHECK_EQ_INT(strata_meta_dtype(m), STRATA_INT16);
    CHECK_EQ_INT(strata_meta_epsg(m), 32632);
    CHECK(strata_meta_crs_wkt(m)[0] != '\0');
    CHECK_CONTAINS(strata_meta_crs_wkt(m), "32632");
    double gt[6];
    strata_meta_geotransform(m, gt);
    for (int i = 0; i < 6; i++) {
        CHECK_MSG(same_bits(gt[i], s.gt[i]), "gt[%d] = %.17g, wrote %.17g", i, gt[i], s.gt[i]);
    }
    double cx = 0, cy = 0;
    strata_meta_cell_size(m, &cx, &cy);
    CHECK(cx == 10.0 && cy == 10.0);
    for (int b = 0; b < 2; b++) {
        double nd = 0;
        CHECK(strata_meta_nodata(m, b, &nd) == 1);
        CHECK(nd == -9999.0);
        CHECK_EQ_STR(strata_meta_band_name(m, b), "");
    }
    double nd = 0;
    CHECK(strata_meta_nodata(m, 2, &nd) == 0); /* no band 3 */
    CHECK(strata_meta_nodata(m, -1, &nd) == 0);
    int bx = 0, by = 0;
    strata_meta_block_size(m, &bx, &by);
    CHECK_EQ_INT(bx, 16);
    CHECK_EQ_INT(by, 16);
    CHECK_EQ_STR(strata_meta_driver(m), "GTiff");

    strata_meta *copy = NULL;
    CHECK_OK(strata_meta_copy(m, &copy));
    CHECK(strata_meta_equal(m, copy) == 1);
    strata_meta_free(copy);
    strata_meta_free(m);

    /* A file without nodata, striped. */
    fx_spec_default(&s);
    s.block_x = 0;
    s.strip_rows = 5;
    s.type = GDT_UInt16;
    m = meta_of(&s);
    REQUIRE(m != NULL);
    CHECK(strata_meta_nodata(m, 0, &nd) == 0);
    CHECK_EQ_INT(strata_meta_dtype(m), STRATA_UINT16);
    strata_meta_block_size(m, &bx, &by);
    CHECK_EQ_INT(bx, 50);
    CHECK_EQ_INT(by, 5);
    strata_meta_free(m);
}

static void test_from_file_errors(void) {
    const char *dir = fx_dir_new();
    strata_meta *m = NULL;
    const char *missing = fx_path(dir, "nope.tif");
    CHECK_STATUS(strata_meta_from_file(missing, &m), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), missing);
    CHECK(m == NULL);
    const char *text = fx_path(dir, "notes.tif");
    fx_write_text(text, "this is not a raster\n");
    CHECK_STATUS(strata_meta_from_file(text, &m), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), text);
    CHECK(m == NULL);
    CHECK_STATUS(strata_meta_from_file(NULL, &m), STRATA_ERR_INVALID_ARG);
    strata_meta_free(NULL); /* accepted */
}

/* Files whose doubles are awkward in decimal: the JSON must carry them bit for bit. */
static void test_json_round_trip_files(void) {
    static const struct {
        GDALDataType type;
        double nodata;
        double gt[6];
    } cases[] = {
        {GDT_Float32, NAN, {0.1, 1 / 3., 0, 10.0, 0, -1 / 3.}},
        {GDT_Float64, -INFINITY, {-123456.789e10, 0.1, 0, 1e-300, 0, -0.1}},
        {GDT_Float32, 3.4028234663852886e38, {1e-300, 1e-7, 0, -123456.789e10, 0, -1e-7}},
        {GDT_Int16, -9999, {-0.0, 30.000000000000004, 0, 4.9406564584124654e-320, 0, -30}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_spec s;
        fx_spec_default(&s);
        s.type = cases[i].type;
        s.value = fx_value_float;
        s.has_nodata = 1;
        s.nodata = cases[i].nodata;
        memcpy(s.gt, cases[i].gt, sizeof s.gt);
        strata_meta *m = meta_of(&s);
        if (!m) {
            CHECK_MSG(0, "case %zu: no meta", i);
            continue;
        }
        double gt[6], nd = 0;
        strata_meta_geotransform(m, gt);
        CHECK(strata_meta_nodata(m, 0, &nd) == 1);
        CHECK_MSG(same_bits(nd, cases[i].nodata) || (isnan(nd) && isnan(cases[i].nodata)),
                  "case %zu: nodata %.17g, wrote %.17g", i, nd, cases[i].nodata);
        strata_meta *back = round_trip(m);
        if (back) {
            CHECK_MSG(strata_meta_equal(m, back) == 1, "case %zu", i);
            double gt2[6], nd2 = 0;
            strata_meta_geotransform(back, gt2);
            CHECK_MSG(memcmp(gt, gt2, sizeof gt) == 0, "case %zu: geotransform bits differ", i);
            CHECK(strata_meta_nodata(back, 0, &nd2) == 1);
            CHECK_MSG(same_bits(nd, nd2) || (isnan(nd) && isnan(nd2)),
                      "case %zu: nodata %.17g "
                      "came back as %.17g",
                      i, nd, nd2);
            CHECK_EQ_STR(strata_meta_crs_wkt(back), strata_meta_crs_wkt(m));
            CHECK_EQ_INT(strata_meta_epsg(back), strata_meta_epsg(m));
            CHECK_EQ_STR(strata_meta_driver(back), "GTiff");
        }
        strata_meta_free(back);
        strata_meta_free(m);
    }
}

/* Builds meta JSON text by hand (doubles printed with %.17g, NaN/inf as strings). */
static char *meta_json_text(const double gt[6], int bands, const double *nodata,
                            const int *has_nodata) {
    json_t *o = json_object(), *jgt = json_array(), *jb = json_array();
    for (int i = 0; i < 6; i++) {
        json_array_append_new(jgt, json_real(gt[i]));
    }
    for (int b = 0; b < bands; b++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(b == 0 ? "red" : ""));
        double v = nodata[b];
        json_t *jv = !has_nodata[b] ? json_null()
                     : isnan(v)     ? json_string("nan")
                     : isinf(v)     ? json_string(v > 0 ? "inf" : "-inf")
                                    : json_real(v);
        json_object_set_new(e, "nodata", jv);
        json_array_append_new(jb, e);
    }
    json_object_set_new(o, "epsg", json_integer(3035));
    json_object_set_new(o, "crs_wkt", json_string("PROJCRS[\"x\"]"));
    json_object_set_new(o, "geotransform", jgt);
    json_object_set_new(o, "rows", json_integer(7));
    json_object_set_new(o, "cols", json_integer(9));
    json_object_set_new(o, "dtype", json_string("float32"));
    json_object_set_new(o, "block", json_pack("[ii]", 9, 1));
    json_object_set_new(o, "driver", json_string("GTiff"));
    json_object_set_new(o, "bands", jb);
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    return text;
}

static void test_json_round_trip_doubles(void) {
    const double gt[6] = {-123456.789e10, 0.1, -0.0, 1e-300, 1 / 3., -2.2250738585072014e-308};
    const double nodata[4] = {NAN, -INFINITY, 3.4028234663852886e38, -9999};
    const int has[4] = {1, 1, 1, 1};
    char *text = meta_json_text(gt, 4, nodata, has);
    REQUIRE(text != NULL);
    strata_meta *m = NULL;
    CHECK_OK(strata_meta_from_json(text, &m));
    free(text);
    REQUIRE(m != NULL);
    double got[6];
    strata_meta_geotransform(m, got);
    for (int i = 0; i < 6; i++) {
        CHECK_MSG(same_bits(got[i], gt[i]), "gt[%d] = %.17g, expected %.17g", i, got[i], gt[i]);
    }
    for (int b = 0; b < 4; b++) {
        double v = 0;
        CHECK(strata_meta_nodata(m, b, &v) == 1);
        CHECK_MSG(b == 0 ? isnan(v) : same_bits(v, nodata[b]), "band %d nodata %.17g", b, v);
    }
    CHECK_EQ_STR(strata_meta_band_name(m, 0), "red");
    CHECK_EQ_INT(strata_meta_epsg(m), 3035);
    CHECK_EQ_INT(strata_meta_rows(m), 7);
    CHECK_EQ_INT(strata_meta_cols(m), 9);
    CHECK_EQ_INT(strata_meta_dtype(m), STRATA_FLOAT32);

    /* Twice around: JSON -> meta -> JSON -> meta gives equal metas and equal text. */
    char *j1 = NULL, *j2 = NULL;
    CHECK_OK(strata_meta_to_json(m, &j1));
    strata_meta *m2 = NULL;
    if (j1) {
        CHECK_OK(strata_meta_from_json(j1, &m2));
    }
    if (m2) {
        CHECK(strata_meta_equal(m, m2) == 1);
        CHECK_OK(strata_meta_to_json(m2, &j2));
        if (j1 && j2) {
            CHECK_EQ_STR(j1, j2);
        }
        double got2[6];
        strata_meta_geotransform(m2, got2);
        CHECK(memcmp(got, got2, sizeof got) == 0);
        for (int b = 0; b < 4; b++) {
            double a = 0, c = 0;
            strata_meta_nodata(m, b, &a);
            strata_meta_nodata(m2, b, &c);
            CHECK_MSG(same_bits(a, c) || (isnan(a) && isnan(c)), "band %d", b);
        }
    }
    /* The JSON is valid JSON for any reader: NaN and inf travel as strings. */
    if (j1) {
        json_error_t err;
        json_t *o = json_loads(j1, 0, &err);
        CHECK_MSG(o != NULL, "strata's meta JSON does not parse: %s", err.text);
        json_decref(o);
    }
    strata_free(j1);
    strata_free(j2);
    strata_meta_free(m2);
    strata_meta_free(m);
}

/* Parses strata's JSON of m, applies edit to the object, returns the meta read back (or
 * NULL when it does not parse). */
typedef void (*json_edit)(json_t *o);

static strata_meta *edited(const strata_meta *m, json_edit edit) {
    char *text = NULL;
    if (strata_meta_to_json(m, &text) != STRATA_OK) {
        return NULL;
    }
    json_t *o = json_loads(text, 0, NULL);
    strata_free(text);
    if (!o) {
        return NULL;
    }
    edit(o);
    char *t2 = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    strata_meta *out = NULL;
    if (strata_meta_from_json(t2, &out) != STRATA_OK) {
        fprintf(stderr, "edited JSON did not parse: %s\n%s\n", strata_errmsg(), t2);
        out = NULL;
    }
    free(t2);
    return out;
}

static void gt_set(json_t *o, int i, double v) {
    json_array_set_new(json_object_get(o, "geotransform"), (size_t)i, json_real(v));
}
static double gt_get(json_t *o, int i) {
    return json_number_value(json_array_get(json_object_get(o, "geotransform"), (size_t)i));
}
static json_t *band0(json_t *o) {
    return json_array_get(json_object_get(o, "bands"), 0);
}
static void e_nothing(json_t *o) {
    (void)o;
}
static void e_epsg(json_t *o) {
    json_object_set_new(o, "epsg", json_integer(4326));
}
static void e_wkt(json_t *o) {
    json_object_set_new(o, "crs_wkt", json_string("LOCAL_CS[\"x\"]"));
}
static void e_gt0(json_t *o) {
    gt_set(o, 0, nextafter(gt_get(o, 0), INFINITY));
}
static void e_gt1(json_t *o) {
    gt_set(o, 1, nextafter(gt_get(o, 1), 0));
}
static void e_gt2(json_t *o) {
    gt_set(o, 2, -0.0);
}
static void e_gt3(json_t *o) {
    gt_set(o, 3, nextafter(gt_get(o, 3), 0));
}
static void e_gt4(json_t *o) {
    gt_set(o, 4, 1e-300);
}
static void e_gt5(json_t *o) {
    gt_set(o, 5, nextafter(gt_get(o, 5), 0));
}
static void e_rows(json_t *o) {
    json_object_set_new(o, "rows", json_integer(41));
}
static void e_cols(json_t *o) {
    json_object_set_new(o, "cols", json_integer(49));
}
static void e_dtype(json_t *o) {
    json_object_set_new(o, "dtype", json_string("uint16"));
}
static void e_block(json_t *o) {
    json_object_set_new(o, "block", json_pack("[ii]", 16, 32));
}
static void e_driver(json_t *o) {
    json_object_set_new(o, "driver", json_string("COG"));
}
static void e_name(json_t *o) {
    json_object_set_new(band0(o), "name", json_string("nir"));
}
static void e_nodata_value(json_t *o) {
    json_object_set_new(band0(o), "nodata", json_real(-9998));
}
static void e_nodata_none(json_t *o) {
    json_object_set_new(band0(o), "nodata", json_null());
}
static void e_nodata_nan(json_t *o) {
    json_object_set_new(band0(o), "nodata", json_string("nan"));
}
static void e_bands(json_t *o) {
    json_array_append(json_object_get(o, "bands"), band0(o));
}

static void test_equal_one_field_differs(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.has_nodata = 1;
    s.nodata = -9999;
    strata_meta *m = meta_of(&s);
    REQUIRE(m != NULL);
    CHECK(strata_meta_equal(m, m) == 1);
    CHECK(strata_meta_equal(NULL, NULL) == 1);
    CHECK(strata_meta_equal(m, NULL) == 0);
    strata_meta *same = edited(m, e_nothing);
    CHECK(same && strata_meta_equal(m, same) == 1);
    strata_meta_free(same);
    static const struct {
        const char *what;
        json_edit edit;
    } edits[] = {
        {"epsg", e_epsg},
        {"crs_wkt", e_wkt},
        {"gt[0] +1ulp", e_gt0},
        {"gt[1] -1ulp", e_gt1},
        {"gt[2] -0.0", e_gt2},
        {"gt[3] -1ulp", e_gt3},
        {"gt[4]", e_gt4},
        {"gt[5] -1ulp", e_gt5},
        {"rows", e_rows},
        {"cols", e_cols},
        {"dtype", e_dtype},
        {"block", e_block},
        {"driver", e_driver},
        {"band name", e_name},
        {"nodata value", e_nodata_value},
        {"nodata absent", e_nodata_none},
        {"nodata NaN", e_nodata_nan},
        {"band count", e_bands},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        strata_meta *d = edited(m, edits[i].edit);
        CHECK_MSG(d != NULL, "edit '%s' gave no meta", edits[i].what);
        if (d) {
            CHECK_MSG(strata_meta_equal(m, d) == 0, "metas differing in %s compare equal",
                      edits[i].what);
            CHECK_MSG(strata_meta_equal(d, m) == 0, "metas differing in %s compare equal",
                      edits[i].what);
        }
        strata_meta_free(d);
    }
    strata_meta_free(m);

    /* NaN nodata equals NaN nodata (whatever the payload). */
    fx_spec_default(&s);
    s.type = GDT_Float32;
    s.has_nodata = 1;
    s.nodata = NAN;
    m = meta_of(&s);
    REQUIRE(m != NULL);
    strata_meta *n2 = edited(m, e_nodata_nan);
    CHECK(n2 && strata_meta_equal(m, n2) == 1);
    strata_meta_free(n2);
    strata_meta_free(m);
}

static void test_crs_edge_cases(void) {
    fx_spec s;
    /* No CRS at all (and no geotransform: GDAL's default grid). */
    fx_spec_default(&s);
    s.epsg = 0;
    s.has_gt = 0;
    strata_meta *m = meta_of(&s);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(strata_meta_epsg(m), 0);
    CHECK_EQ_STR(strata_meta_crs_wkt(m), "");
    double gt[6], unit[6] = {0, 1, 0, 0, 0, 1};
    strata_meta_geotransform(m, gt);
    CHECK(memcmp(gt, unit, sizeof gt) == 0);
    strata_meta *back = round_trip(m);
    CHECK(back && strata_meta_equal(m, back) == 1);
    CHECK(back && strata_meta_epsg(back) == 0 && strcmp(strata_meta_crs_wkt(back), "") == 0);
    strata_meta_free(back);
    strata_meta_free(m);

    /* A CRS with no EPSG code: epsg 0, WKT kept. */
    fx_spec_default(&s);
    s.epsg = 0;
    s.proj4 = LAEA;
    m = meta_of(&s);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(strata_meta_epsg(m), 0);
    CHECK(strata_meta_crs_wkt(m)[0] != '\0');
    CHECK_CONTAINS(strata_meta_crs_wkt(m), "Lambert");
    back = round_trip(m);
    CHECK(back && strata_meta_equal(m, back) == 1);
    CHECK(back && strata_meta_epsg(back) == 0);
    CHECK(back && strcmp(strata_meta_crs_wkt(back), strata_meta_crs_wkt(m)) == 0);
    strata_meta_free(back);
    strata_meta_free(m);

    /* A geographic CRS with a code. */
    fx_spec_default(&s);
    s.epsg = 4326;
    double ggt[6] = {-10.5, 0.01, 0, 60.25, 0, -0.01};
    memcpy(s.gt, ggt, sizeof ggt);
    m = meta_of(&s);
    REQUIRE(m != NULL);
    CHECK_EQ_INT(strata_meta_epsg(m), 4326);
    CHECK(strata_meta_crs_wkt(m)[0] != '\0');
    strata_meta_free(m);
}

/* ---- malformed JSON ------------------------------------------------------------------- */

static void expect_parse_error(const char *text, const char *what) {
    strata_meta *m = NULL;
    strata_status st = strata_meta_from_json(text, &m);
    CHECK_MSG(st == STRATA_ERR_PARSE, "%s: got %s, expected parse error", what,
              strata_status_str(st));
    CHECK_MSG(m == NULL, "%s: a meta was returned with the error", what);
    if (st != STRATA_OK) {
        CHECK_MSG(strata_errmsg()[0] != '\0', "%s: no error message", what);
    }
    if (st == STRATA_OK) {
        strata_meta_free(m);
    }
}

static void e_del(json_t *o, const char *key) {
    json_object_del(o, key);
}

static void test_malformed_json(void) {
    expect_parse_error("", "empty text");
    expect_parse_error("not json at all", "not JSON");
    expect_parse_error("{\"epsg\": 1,", "truncated JSON");
    expect_parse_error("null", "null");
    expect_parse_error("42", "a number");
    expect_parse_error("[]", "an array");
    expect_parse_error("{}", "an empty object");

    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    s.has_nodata = 1;
    s.nodata = -9999;
    strata_meta *m = meta_of(&s);
    REQUIRE(m != NULL);
    char *good = NULL;
    REQUIRE_OK(strata_meta_to_json(m, &good));
    strata_meta_free(m);
    /* The good text parses; every variant below breaks one thing. */
    strata_meta *ok = NULL;
    CHECK_OK(strata_meta_from_json(good, &ok));
    strata_meta_free(ok);

    static const char *const keys[] = {"epsg",  "crs_wkt", "geotransform", "rows", "cols",
                                       "dtype", "block",   "driver",       "bands"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *o = json_loads(good, 0, NULL);
        e_del(o, keys[i]);
        char *t = json_dumps(o, JSON_COMPACT);
        char what[128];
        snprintf(what, sizeof what, "missing \"%s\"", keys[i]);
        expect_parse_error(t, what);
        free(t);
        json_decref(o);
    }

    static const struct {
        const char *key;
        const char *value; /* JSON text */
    } wrong[] = {
        {"epsg", "\"32632\""},
        {"epsg", "1.5"},
        {"crs_wkt", "5"},
        {"geotransform", "[1,2,3,4,5]"},
        {"geotransform", "[1,2,3,4,5,6,7]"},
        {"geotransform", "[1,2,3,\"x\",5,6]"},
        {"geotransform", "{\"a\":1}"},
        {"rows", "\"40\""},
        {"rows", "0"},
        {"rows", "-3"},
        {"rows", "40.5"},
        {"rows", "99999999999"},
        {"cols", "null"},
        {"dtype", "\"complex64\""},
        {"dtype", "3"},
        {"dtype", "\"int8\""},
        {"block", "[16]"},
        {"block", "[0,16]"},
        {"block", "\"16x16\""},
        {"driver", "false"},
        {"bands", "[]"},
        {"bands", "{}"},
        {"bands", "[1,2]"},
        {"bands", "[{\"name\":\"a\"},{\"name\":\"b\",\"nodata\":null}]"},
        {"bands", "[{\"name\":5,\"nodata\":null},{\"name\":\"b\",\"nodata\":null}]"},
        {"bands", "[{\"name\":\"a\",\"nodata\":\"abc\"},{\"name\":\"b\",\"nodata\":null}]"},
        {"bands", "[{\"name\":\"a\",\"nodata\":true},{\"name\":\"b\",\"nodata\":null}]"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        json_t *o = json_loads(good, 0, NULL);
        json_t *v = json_loads(wrong[i].value, JSON_DECODE_ANY, NULL);
        REQUIRE(o && v);
        json_object_set_new(o, wrong[i].key, v);
        char *t = json_dumps(o, JSON_COMPACT);
        char what[256];
        snprintf(what, sizeof what, "\"%s\": %s", wrong[i].key, wrong[i].value);
        expect_parse_error(t, what);
        free(t);
        json_decref(o);
    }

    /* Duplicate keys. */
    {
        size_t n = strlen(good);
        char *dup = malloc(n + 32);
        REQUIRE(dup);
        memcpy(dup, good, n - 1); /* drop the closing brace */
        strcpy(dup + n - 1, ",\"rows\":40}");
        expect_parse_error(dup, "duplicate key");
        free(dup);
    }

    /* A huge band count: 100000 band entries. */
    {
        json_t *o = json_loads(good, 0, NULL);
        json_t *bands = json_array();
        for (int b = 0; b < 100000; b++) {
            json_array_append_new(bands, json_pack("{s:s,s:n}", "name", "", "nodata"));
        }
        json_object_set_new(o, "bands", bands);
        char *t = json_dumps(o, JSON_COMPACT);
        expect_parse_error(t, "100000 bands");
        free(t);
        json_decref(o);
    }
    /* ... while a merely large one (300) round-trips. */
    {
        json_t *o = json_loads(good, 0, NULL);
        json_t *bands = json_array();
        for (int b = 0; b < 300; b++) {
            json_array_append_new(bands, json_pack("{s:s,s:f}", "name", "b", "nodata", -1.5 * b));
        }
        json_object_set_new(o, "bands", bands);
        char *t = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
        strata_meta *big = NULL;
        CHECK_OK(strata_meta_from_json(t, &big));
        if (big) {
            CHECK_EQ_INT(strata_meta_bands(big), 300);
            double v = 0;
            CHECK(strata_meta_nodata(big, 299, &v) == 1 && v == -1.5 * 299);
            strata_meta *again = round_trip(big);
            CHECK(again && strata_meta_equal(big, again) == 1);
            strata_meta_free(again);
        }
        strata_meta_free(big);
        free(t);
        json_decref(o);
    }
    CHECK_STATUS(strata_meta_from_json(NULL, &ok), STRATA_ERR_INVALID_ARG);
    strata_free(good);
}

/* ---- cross-check against gdalinfo ----------------------------------------------------- */

static double jnum(const json_t *j, int *ok) {
    if (json_is_number(j)) {
        return json_number_value(j);
    }
    const char *s = json_string_value(j);
    if (s && strcmp(s, "NaN") == 0) {
        return NAN;
    }
    if (s && strcmp(s, "Infinity") == 0) {
        return INFINITY;
    }
    if (s && strcmp(s, "-Infinity") == 0) {
        return -INFINITY;
    }
    *ok = 0;
    return 0;
}

/* gdalinfo prints doubles in decimal with ~16 digits and prints values below ~1e-200 as 0;
 * equal within that printing, not bitwise (the bitwise checks are the JSON round trips). */
static int close_double(double a, double b) {
    if (same_bits(a, b) || a == b) {
        return 1;
    }
    if (fabs(a) < 1e-200 && fabs(b) < 1e-200) {
        return 1;
    }
    return fabs(a - b) <= 1e-15 * fmax(fabs(a), fabs(b));
}

static void cross_check(const fx_spec *s, const char *what) {
    const char *dir = fx_dir_new();
    const char *path = fx_path(dir, "x.tif");
    fx_write(path, s, 0);
    strata_meta *m = NULL;
    CHECK_OK(strata_meta_from_file(path, &m));
    if (!m) {
        return;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gdalinfo -json '%s' 2>/dev/null", path);
    int status = -1;
    const char *out = fx_run(cmd, &status);
    CHECK_MSG(out && status == 0, "%s: gdalinfo failed (status %d)", what, status);
    json_error_t err;
    json_t *info = out ? json_loads(out, 0, &err) : NULL;
    CHECK_MSG(info != NULL, "%s: gdalinfo output does not parse", what);
    if (!info) {
        strata_meta_free(m);
        return;
    }
    json_t *size = json_object_get(info, "size");
    CHECK_EQ_INT(json_integer_value(json_array_get(size, 0)), strata_meta_cols(m));
    CHECK_EQ_INT(json_integer_value(json_array_get(size, 1)), strata_meta_rows(m));
    json_t *bands = json_object_get(info, "bands");
    CHECK_EQ_INT(json_array_size(bands), strata_meta_bands(m));
    json_t *gt = json_object_get(info, "geoTransform");
    double mgt[6];
    strata_meta_geotransform(m, mgt);
    if (gt) {
        for (int i = 0; i < 6; i++) {
            double v = json_number_value(json_array_get(gt, (size_t)i));
            CHECK_MSG(close_double(v, mgt[i]), "%s: gt[%d] gdalinfo %.17g, strata %.17g", what, i,
                      v, mgt[i]);
        }
    } else {
        CHECK_MSG(!s->has_gt, "%s: gdalinfo shows no geotransform", what);
    }
    for (size_t b = 0; b < json_array_size(bands); b++) {
        json_t *jb = json_array_get(bands, b);
        const char *type = json_string_value(json_object_get(jb, "type"));
        CHECK_MSG(type && strata_dtype_from_name(type) == strata_meta_dtype(m),
                  "%s: band %zu type %s, strata %s", what, b + 1, type ? type : "?",
                  strata_dtype_name(strata_meta_dtype(m)));
        json_t *blk = json_object_get(jb, "block");
        int bx, by;
        strata_meta_block_size(m, &bx, &by);
        CHECK_EQ_INT(json_integer_value(json_array_get(blk, 0)), bx);
        CHECK_EQ_INT(json_integer_value(json_array_get(blk, 1)), by);
        json_t *jnd = json_object_get(jb, "noDataValue");
        double nd = 0;
        int has = strata_meta_nodata(m, (int)b, &nd);
        CHECK_MSG(has == (jnd != NULL), "%s: band %zu nodata presence differs", what, b + 1);
        if (jnd && has) {
            int ok = 1;
            double v = jnum(jnd, &ok);
            /* gdalinfo prints a Float32 band's nodata with float precision. */
            int f32 = strata_meta_dtype(m) == STRATA_FLOAT32;
            CHECK_MSG(ok && (same_bits(v, nd) || (isnan(v) && isnan(nd)) ||
                             (f32 && (float)v == (float)nd)),
                      "%s: band %zu nodata gdalinfo %.17g, strata %.17g", what, b + 1, v, nd);
        }
    }
    json_t *epsg = json_object_get(json_object_get(info, "stac"), "proj:epsg");
    int gdal_epsg = json_is_integer(epsg) ? (int)json_integer_value(epsg) : 0;
    CHECK_MSG(gdal_epsg == strata_meta_epsg(m), "%s: EPSG gdalinfo %d, strata %d", what, gdal_epsg,
              strata_meta_epsg(m));
    int gdal_has_crs = json_object_get(info, "coordinateSystem") != NULL;
    CHECK_MSG(gdal_has_crs == (strata_meta_crs_wkt(m)[0] != '\0'), "%s: CRS presence differs",
              what);
    json_decref(info);
    strata_meta_free(m);
}

static void test_gdalinfo_cross_check(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.bands = 2;
    s.has_nodata = 1;
    s.nodata = -9999;
    cross_check(&s, "int16 tiled EPSG:32632");

    fx_spec_default(&s);
    s.type = GDT_Float32;
    s.block_x = 0;
    s.strip_rows = 3;
    s.has_nodata = 1;
    s.nodata = NAN;
    s.epsg = 4326;
    double g1[6] = {0.1, 1 / 3., 0, 10.0, 0, -1 / 3.};
    memcpy(s.gt, g1, sizeof g1);
    cross_check(&s, "float32 striped EPSG:4326 nodata NaN");

    fx_spec_default(&s);
    s.type = GDT_UInt16;
    s.epsg = 0;
    s.value = fx_value_small;
    cross_check(&s, "uint16 no CRS");

    fx_spec_default(&s);
    s.type = GDT_Byte;
    s.bands = 3;
    s.epsg = 0;
    s.proj4 = LAEA;
    s.block_x = 32;
    s.block_y = 16;
    s.value = fx_value_small;
    cross_check(&s, "byte 3 bands custom CRS");

    fx_spec_default(&s);
    s.type = GDT_Float64;
    s.has_nodata = 1;
    s.nodata = -INFINITY;
    s.epsg = 3035;
    double g2[6] = {-123456.789e10, 0.1, 0, 1e-300, 0, -0.1};
    memcpy(s.gt, g2, sizeof g2);
    cross_check(&s, "float64 EPSG:3035 nodata -inf");

    fx_spec_default(&s);
    s.type = GDT_Float32;
    s.has_nodata = 1;
    s.nodata = 3.4028234663852886e38;
    s.block_x = 0;
    cross_check(&s, "float32 nodata FLT_MAX default strips");

    fx_spec_default(&s);
    s.type = GDT_Int32;
    s.has_gt = 0;
    s.epsg = 0;
    cross_check(&s, "int32 no geotransform");
}

TEST_MAIN(test_from_file, test_from_file_errors, test_json_round_trip_files,
          test_json_round_trip_doubles, test_equal_one_field_differs, test_crs_edge_cases,
          test_malformed_json, test_gdalinfo_cross_check)
