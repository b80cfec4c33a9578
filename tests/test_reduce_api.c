/* strata_reduce and strata_groupby through the C API: exact results against values computed
 * here from the value function, missing values, determinism across thread counts, result
 * errors, progress and cancellation, bad options. */
#include "fixtures.h"
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <ogr_srs_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the data ------------------------------------------------------------------------- */

static const double ND = -9999;

/* Int16 with nodata: pixel (0, 0) is always missing, others now and then. */
static double v_int(int t, int b, int row, int col) {
    if ((row == 0 && col == 0) || (t * 5 + row + 2 * col + b) % 6 == 0) {
        return ND;
    }
    return (double)((t * 37 + b * 11 + row * 7 + col * 3) % 201) - 100;
}

/* Float32 without nodata: NaN is missing; pixel (1, 1) always. */
static double v_nan(int t, int b, int row, int col) {
    if ((row == 1 && col == 1) || (t + row * 3 + col + b) % 5 == 0) {
        return NAN;
    }
    return (double)((t * 13 + b * 7 + row * 5 + col) % 97) * 0.25 - 10.0;
}

/* Float64 whose sums depend on the order of additions. */
static double v_inexact(int t, int b, int row, int col) {
    return 0.1 * t + 1.0 / (1 + row + col) + 1e-7 * b + (t % 7) * 1e10 * ((row + col) % 2);
}

typedef struct expect {
    double *mean, *sum, *min, *max, *count, *var, *median;
} expect;

static int is_missing(const fx_spec *s, double v) {
    return isnan(v) || (s->has_nodata && v == s->nodata);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Expected results over timesteps where in_group(t) (NULL: all), (bands, rows, cols). */
static expect expected(const fx_spec *s, int nt, const int *group_of, int g, int skipna, int ddof) {
    size_t n = (size_t)s->bands * s->rows * s->cols;
    expect e;
    double **f[] = {&e.mean, &e.sum, &e.min, &e.max, &e.count, &e.var, &e.median};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        *f[i] = malloc(n * sizeof(double));
    }
    double *vals = malloc((size_t)nt * sizeof *vals);
    for (int b = 0; b < s->bands; b++) {
        for (int r = 0; r < s->rows; r++) {
            for (int c = 0; c < s->cols; c++) {
                size_t i = ((size_t)b * s->rows + r) * s->cols + c;
                int k = 0, missing = 0;
                double sum = 0, mn = INFINITY, mx = -INFINITY;
                for (int t = 0; t < nt; t++) {
                    if (group_of && group_of[t] != g) {
                        continue;
                    }
                    double v = fx_expected(s, t, b, r, c);
                    if (is_missing(s, v)) {
                        missing++;
                        continue;
                    }
                    vals[k++] = v;
                    sum += v;
                    mn = v < mn ? v : mn;
                    mx = v > mx ? v : mx;
                }
                e.count[i] = k;
                if (k == 0 || (!skipna && missing)) {
                    e.mean[i] = e.sum[i] = e.min[i] = e.max[i] = e.var[i] = e.median[i] = NAN;
                    continue;
                }
                e.sum[i] = sum;
                e.mean[i] = sum / k;
                e.min[i] = mn;
                e.max[i] = mx;
                double m2 = 0;
                for (int j = 0; j < k; j++) {
                    m2 += (vals[j] - e.mean[i]) * (vals[j] - e.mean[i]);
                }
                e.var[i] = k - ddof > 0 ? m2 / (k - ddof) : NAN;
                qsort(vals, (size_t)k, sizeof *vals, cmp_double);
                e.median[i] = k % 2 ? vals[k / 2] : (vals[k / 2 - 1] + vals[k / 2]) / 2.0;
            }
        }
    }
    free(vals);
    return e;
}

static void expect_free(expect *e) {
    free(e->mean);
    free(e->sum);
    free(e->min);
    free(e->max);
    free(e->count);
    free(e->var);
    free(e->median);
}

static double array_value(const strata_array *a, size_t i) {
    double v = 0;
    GDALCopyWords64((const char *)a->data + i * strata_dtype_size(a->dtype), fx_gdal_type(a->dtype),
                    0, &v, GDT_Float64, 0, 1);
    return v;
}

/* Compares an output array with expected values: NaN expected means the array's nodata
 * (NaN for floats). tol 0: exact. */
static void check_array(const strata_result *r, size_t g, strata_op op, const double *want,
                        const fx_spec *s, strata_dtype want_dtype, double tol, const char *what) {
    strata_array a;
    memset(&a, 0, sizeof a);
    strata_status st = strata_result_array(r, g, op, &a);
    CHECK_MSG(st == STRATA_OK, "%s: no %s array for group %zu", what, strata_op_name(op), g);
    if (st != STRATA_OK) {
        return;
    }
    CHECK_MSG(a.dtype == want_dtype, "%s %s: dtype %s, expected %s", what, strata_op_name(op),
              strata_dtype_name(a.dtype), strata_dtype_name(want_dtype));
    CHECK(a.bands == s->bands && a.rows == s->rows && a.cols == s->cols);
    REQUIRE(a.data != NULL);
    if (op == STRATA_OP_COUNT) {
        CHECK_MSG(a.has_nodata == 0, "%s: count has nodata", what);
    } else {
        CHECK_MSG(a.has_nodata == 1, "%s %s: no nodata", what, strata_op_name(op));
        if (a.dtype == STRATA_FLOAT64) {
            CHECK_MSG(isnan(a.nodata), "%s %s: float64 nodata %g, not NaN", what,
                      strata_op_name(op), a.nodata);
        }
    }
    size_t n = (size_t)s->bands * s->rows * s->cols;
    long bad = 0;
    for (size_t i = 0; i < n; i++) {
        double got = array_value(&a, i);
        double e = want[i];
        int ok;
        if (isnan(e)) {
            ok = isnan(a.nodata) ? isnan(got) : got == a.nodata;
        } else if (tol == 0) {
            ok = got == e;
        } else {
            ok = fabs(got - e) <= tol * (fabs(e) + 1.0);
        }
        if (!ok && bad++ < 5) {
            fprintf(stderr,
                    "  %s %s group %zu pixel %zu (b%zu r%zu c%zu): got %.17g, expected "
                    "%.17g\n",
                    what, strata_op_name(op), g, i, i / (size_t)(s->rows * s->cols),
                    i / (size_t)s->cols % (size_t)s->rows, i % (size_t)s->cols, got, e);
        }
    }
    CHECK_MSG(bad == 0, "%s %s group %zu: %ld wrong pixels", what, strata_op_name(op), g, bad);
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

static void int_spec(fx_spec *s) {
    fx_spec_default(s);
    s->rows = 20;
    s->cols = 24;
    s->bands = 2;
    s->has_nodata = 1;
    s->nodata = ND;
    s->value = v_int;
}

static const strata_op ALL_OPS[] = {STRATA_OP_MEAN,  STRATA_OP_SUM,   STRATA_OP_MIN,
                                    STRATA_OP_MAX,   STRATA_OP_STD,   STRATA_OP_VAR,
                                    STRATA_OP_COUNT, STRATA_OP_MEDIAN};
enum { NALL = sizeof ALL_OPS / sizeof ALL_OPS[0] };

static void check_all_ops(const strata_result *r, size_t g, const expect *e, const fx_spec *s,
                          strata_dtype in, int exact, const char *what) {
    double tol = exact ? 0 : 1e-12;
    check_array(r, g, STRATA_OP_MEAN, e->mean, s, STRATA_FLOAT64, tol, what);
    check_array(r, g, STRATA_OP_SUM, e->sum, s, strata_op_dtype(STRATA_OP_SUM, in), tol, what);
    check_array(r, g, STRATA_OP_MIN, e->min, s, in, 0, what);
    check_array(r, g, STRATA_OP_MAX, e->max, s, in, 0, what);
    check_array(r, g, STRATA_OP_COUNT, e->count, s, STRATA_INT32, 0, what);
    check_array(r, g, STRATA_OP_VAR, e->var, s, STRATA_FLOAT64, 1e-9, what);
    size_t n = (size_t)s->bands * s->rows * s->cols;
    double *sd = malloc(n * sizeof *sd);
    for (size_t i = 0; i < n; i++) {
        sd[i] = sqrt(e->var[i]);
    }
    check_array(r, g, STRATA_OP_STD, sd, s, STRATA_FLOAT64, 1e-9, what);
    free(sd);
    check_array(r, g, STRATA_OP_MEDIAN, e->median, s, STRATA_FLOAT64, exact ? 0 : 1e-15, what);
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_reduce_int(void) {
    fx_spec s;
    int_spec(&s);
    strata_collection *c = stack(&s, 7, NULL);
    REQUIRE(c != NULL);
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    CHECK(o.kernel.skipna == 1 && o.kernel.ddof == 0 && o.run.threads == 0);
    o.run.threads = 2;
    strata_result *r = NULL;
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r));
    CHECK_EQ_INT(strata_result_groups(r), 1);
    CHECK_EQ_INT(strata_result_group_size(r, 0), 7);
    CHECK(strata_result_path(r, 0, STRATA_OP_MEAN) == NULL);
    expect e = expected(&s, 7, NULL, 0, 1, 0);
    check_all_ops(r, 0, &e, &s, STRATA_INT16, 1, "int16 skipna");
    /* The always-missing pixel: min/max hold the input's nodata, count 0. */
    strata_array a;
    if (strata_result_array(r, 0, STRATA_OP_MIN, &a) == STRATA_OK) {
        CHECK(a.nodata == ND);
        CHECK(((const int16_t *)a.data)[0] == (int16_t)ND);
    }
    if (strata_result_array(r, 0, STRATA_OP_COUNT, &a) == STRATA_OK) {
        CHECK(((const int32_t *)a.data)[0] == 0);
    }
    expect_free(&e);
    strata_result_free(r);

    /* skipna = 0: any missing value makes the pixel missing (count still counts). */
    o.kernel.skipna = 0;
    r = NULL;
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r));
    e = expected(&s, 7, NULL, 0, 0, 0);
    check_all_ops(r, 0, &e, &s, STRATA_INT16, 1, "int16 no skipna");
    expect_free(&e);
    strata_result_free(r);

    /* ddof = 1. */
    o.kernel.skipna = 1;
    o.kernel.ddof = 1;
    const strata_op vs[] = {STRATA_OP_VAR, STRATA_OP_STD};
    r = NULL;
    REQUIRE_OK(strata_reduce(c, vs, 2, &o, &r));
    e = expected(&s, 7, NULL, 0, 1, 1);
    check_array(r, 0, STRATA_OP_VAR, e.var, &s, STRATA_FLOAT64, 1e-9, "ddof 1");
    expect_free(&e);
    /* Only the ops asked are there. */
    CHECK_STATUS(strata_result_array(r, 0, STRATA_OP_MEAN, &a), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_result_array(r, 0, STRATA_OP_MEDIAN, &a), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_result_array(r, 1, STRATA_OP_VAR, &a), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_result_array(r, 0, STRATA_OP_COUNT_OF_OPS, &a), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_result_array(r, 0, (strata_op)-1, &a), STRATA_ERR_INVALID_ARG);
    CHECK_OK(strata_result_array(r, 0, STRATA_OP_STD, &a));
    strata_result_free(r);
    strata_result_free(NULL);
    strata_collection_free(c);
}

static void test_reduce_float_nan(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.type = GDT_Float32;
    s.rows = 18;
    s.cols = 35;
    s.block_x = 0;
    s.strip_rows = 4;
    s.value = v_nan;
    strata_collection *c = stack(&s, 9, NULL);
    REQUIRE(c != NULL);
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    strata_result *r = NULL;
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r));
    expect e = expected(&s, 9, NULL, 0, 1, 0);
    check_all_ops(r, 0, &e, &s, STRATA_FLOAT32, 1, "float32 NaN");
    /* The always-missing pixel is NaN in every float array. */
    size_t px = 1 * 35 + 1;
    static const strata_op fl[] = {STRATA_OP_MEAN, STRATA_OP_SUM, STRATA_OP_STD, STRATA_OP_VAR,
                                   STRATA_OP_MEDIAN};
    for (size_t k = 0; k < 5; k++) {
        strata_array a;
        if (strata_result_array(r, 0, fl[k], &a) == STRATA_OK) {
            CHECK_MSG(a.dtype == STRATA_FLOAT64 && isnan(((const double *)a.data)[px]),
                      "%s of an all-NaN pixel is not NaN", strata_op_name(fl[k]));
        }
    }
    strata_array mn;
    if (strata_result_array(r, 0, STRATA_OP_MIN, &mn) == STRATA_OK) {
        CHECK(mn.dtype == STRATA_FLOAT32 && isnan(((const float *)mn.data)[px]));
    }
    expect_free(&e);
    strata_result_free(r);
    strata_collection_free(c);
}

static int same_arrays(const strata_result *a, const strata_result *b, const strata_op *ops,
                       size_t nops, size_t groups) {
    for (size_t g = 0; g < groups; g++) {
        for (size_t k = 0; k < nops; k++) {
            strata_array x, y;
            if (strata_result_array(a, g, ops[k], &x) != STRATA_OK ||
                strata_result_array(b, g, ops[k], &y) != STRATA_OK) {
                return 0;
            }
            size_t n = (size_t)x.bands * x.rows * x.cols * strata_dtype_size(x.dtype);
            if (x.dtype != y.dtype || memcmp(x.data, y.data, n) != 0) {
                fprintf(stderr, "  %s of group %zu differs\n", strata_op_name(ops[k]), g);
                return 0;
            }
        }
    }
    return 1;
}

static void test_threads_identical(void) {
    /* Few tiles, many timesteps: the engine splits time into ranges. */
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 40;
    s.cols = 40;
    s.type = GDT_Float64;
    s.value = v_inexact;
    strata_collection *c = stack(&s, 100, NULL);
    REQUIRE(c != NULL);
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    strata_result *r1 = NULL, *r3 = NULL, *r3b = NULL;
    o.run.threads = 1;
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r1));
    o.run.threads = 3;
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r3));
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r3b));
    CHECK_MSG(same_arrays(r1, r3, ALL_OPS, NALL, 1), "threads=1 and threads=3 differ");
    CHECK_MSG(same_arrays(r3, r3b, ALL_OPS, NALL, 1), "two runs with threads=3 differ");
    /* And they are right (to rounding: the sums are not exact in binary). */
    expect e = expected(&s, 100, NULL, 0, 1, 0);
    check_all_ops(r1, 0, &e, &s, STRATA_FLOAT64, 0, "100 timesteps");
    expect_free(&e);
    strata_result_free(r1);
    strata_result_free(r3);
    strata_result_free(r3b);

    /* Groups, with the same split. */
    const char *labels[100];
    int group_of[100];
    static const char *const names[] = {"c", "a", "b"};
    for (int t = 0; t < 100; t++) {
        group_of[t] = (t * 7) % 3;
        labels[t] = names[group_of[t]];
    }
    o.run.threads = 1;
    r1 = r3 = NULL;
    REQUIRE_OK(strata_groupby(c, labels, ALL_OPS, NALL, &o, &r1));
    o.run.threads = 3;
    REQUIRE_OK(strata_groupby(c, labels, ALL_OPS, NALL, &o, &r3));
    CHECK_EQ_INT(strata_result_groups(r1), 3);
    CHECK_MSG(same_arrays(r1, r3, ALL_OPS, NALL, 3), "groupby: threads=1 and threads=3 differ");
    for (int g = 0; g < 3; g++) {
        e = expected(&s, 100, group_of, g, 1, 0);
        check_all_ops(r3, (size_t)g, &e, &s, STRATA_FLOAT64, 0, "groupby 100 timesteps");
        expect_free(&e);
    }
    strata_result_free(r1);
    strata_result_free(r3);
    strata_collection_free(c);

    /* The int stack with more threads than tiles. */
    int_spec(&s);
    c = stack(&s, 30, NULL);
    REQUIRE(c != NULL);
    o.run.threads = 1;
    r1 = r3 = NULL;
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r1));
    o.run.threads = 3;
    REQUIRE_OK(strata_reduce(c, ALL_OPS, NALL, &o, &r3));
    CHECK(same_arrays(r1, r3, ALL_OPS, NALL, 1));
    e = expected(&s, 30, NULL, 0, 1, 0);
    check_all_ops(r3, 0, &e, &s, STRATA_INT16, 1, "int16 30 timesteps");
    expect_free(&e);
    strata_result_free(r1);
    strata_result_free(r3);
    strata_collection_free(c);
}

static void test_groupby(void) {
    fx_spec s;
    int_spec(&s);
    strata_collection *c = stack(&s, 8, NULL);
    REQUIRE(c != NULL);
    const char *labels[8] = {"b", "a", "b", "c", "a", "b", "c", "b"};
    const int first_seen[8] = {0, 1, 0, 2, 1, 0, 2, 0}; /* b, a, c */
    const int sorted[8] = {1, 0, 1, 2, 0, 1, 2, 1};     /* a, b, c */
    const strata_op ops[] = {STRATA_OP_COUNT, STRATA_OP_MEAN, STRATA_OP_MAX};
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    strata_result *r = NULL;
    REQUIRE_OK(strata_groupby(c, labels, ops, 3, &o, &r));
    REQUIRE(strata_result_groups(r) == 3);
    CHECK_EQ_STR(strata_result_label(r, 0), "b");
    CHECK_EQ_STR(strata_result_label(r, 1), "a");
    CHECK_EQ_STR(strata_result_label(r, 2), "c");
    CHECK(strata_result_label(r, 3) == NULL);
    CHECK_EQ_INT(strata_result_group_size(r, 0), 4);
    CHECK_EQ_INT(strata_result_group_size(r, 1), 2);
    CHECK_EQ_INT(strata_result_group_size(r, 2), 2);
    for (int g = 0; g < 3; g++) {
        expect e = expected(&s, 8, first_seen, g, 1, 0);
        check_array(r, (size_t)g, STRATA_OP_COUNT, e.count, &s, STRATA_INT32, 0, "groupby");
        check_array(r, (size_t)g, STRATA_OP_MEAN, e.mean, &s, STRATA_FLOAT64, 0, "groupby");
        check_array(r, (size_t)g, STRATA_OP_MAX, e.max, &s, STRATA_INT16, 0, "groupby");
        expect_free(&e);
    }
    strata_array a;
    CHECK_STATUS(strata_result_array(r, 3, STRATA_OP_MEAN, &a), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_result_array(r, 0, STRATA_OP_MIN, &a), STRATA_ERR_INVALID_ARG);
    strata_result_free(r);

    /* Sorted groups. */
    o.groups.sort = 1;
    r = NULL;
    REQUIRE_OK(strata_groupby(c, labels, ops, 3, &o, &r));
    REQUIRE(strata_result_groups(r) == 3);
    CHECK_EQ_STR(strata_result_label(r, 0), "a");
    CHECK_EQ_STR(strata_result_label(r, 1), "b");
    CHECK_EQ_STR(strata_result_label(r, 2), "c");
    for (int g = 0; g < 3; g++) {
        expect e = expected(&s, 8, sorted, g, 1, 0);
        check_array(r, (size_t)g, STRATA_OP_MEAN, e.mean, &s, STRATA_FLOAT64, 0, "sorted groupby");
        expect_free(&e);
    }
    strata_result_free(r);

    /* No labels given and none on the collection: an error. */
    o.groups.sort = 0;
    r = NULL;
    CHECK_STATUS(strata_groupby(c, NULL, ops, 3, &o, &r), STRATA_ERR_INVALID_ARG);
    CHECK(r == NULL);
    /* The collection's labels. */
    CHECK_OK(strata_collection_set_labels(c, labels));
    REQUIRE_OK(strata_groupby(c, NULL, ops, 3, &o, &r));
    CHECK_EQ_INT(strata_result_groups(r), 3);
    CHECK_EQ_STR(strata_result_label(r, 0), "b");
    strata_result_free(r);
    /* strata_reduce ignores the labels: one group. */
    r = NULL;
    REQUIRE_OK(strata_reduce(c, ops, 3, &o, &r));
    CHECK_EQ_INT(strata_result_groups(r), 1);
    CHECK_EQ_INT(strata_result_group_size(r, 0), 8);
    expect e = expected(&s, 8, NULL, 0, 1, 0);
    check_array(r, 0, STRATA_OP_MEAN, e.mean, &s, STRATA_FLOAT64, 0, "reduce with labels set");
    expect_free(&e);
    strata_result_free(r);
    /* Labels derived from times. */
    const char *iso[8] = {"2021-01-05", "2021-02-05", "2021-03-05", "2021-12-05",
                          "2022-01-05", "2022-06-05", "2022-07-05", "2022-12-05"};
    CHECK_OK(strata_collection_set_times_iso(c, iso));
    char **season = NULL;
    REQUIRE_OK(strata_labels_from_times(c, "yearseason", &season));
    r = NULL;
    o.groups.sort = 1;
    REQUIRE_OK(strata_groupby(c, (const char *const *)season, ops, 3, &o, &r));
    /* 2021-DJF (Jan, Feb), 2021-MAM, 2022-DJF (Dec 21, Jan 22), 2022-JJA (2), 2023-DJF. */
    REQUIRE(strata_result_groups(r) == 5);
    static const char *const want_labels[] = {"2021-DJF", "2021-MAM", "2022-DJF", "2022-JJA",
                                              "2023-DJF"};
    static const size_t want_sizes[] = {2, 1, 2, 2, 1};
    for (size_t g = 0; g < 5; g++) {
        CHECK_EQ_STR(strata_result_label(r, g), want_labels[g]);
        CHECK_EQ_INT(strata_result_group_size(r, g), want_sizes[g]);
    }
    strata_result_free(r);
    strata_labels_free(season, 8);
    const char *with_null[8] = {"a", "a", "a", NULL, "a", "a", "a", "a"};
    r = NULL;
    CHECK_STATUS(strata_groupby(c, with_null, ops, 3, &o, &r), STRATA_ERR_INVALID_ARG);
    CHECK(r == NULL);
    strata_collection_free(c);
}

typedef struct progress_log {
    int calls;
    double last_fraction;
    size_t last_done, last_total;
    char last_message[128];
    int cancel_at; /* return 0 (stop) from this call on (0: never) */
    int bad_order;
} progress_log;

static int on_progress(double fraction, const char *message, void *user) {
    progress_log *p = user;
    p->calls++;
    size_t done = 0, total = 0;
    if (sscanf(message, "%zu/%zu tiles", &done, &total) != 2 || done < p->last_done ||
        done > total || !(fraction >= p->last_fraction && fraction <= 1) ||
        fraction != (double)done / (double)total) {
        p->bad_order++;
    }
    p->last_fraction = fraction;
    p->last_done = done;
    p->last_total = total;
    snprintf(p->last_message, sizeof p->last_message, "%s", message);
    return !(p->cancel_at && p->calls >= p->cancel_at);
}

static void test_progress_and_cancel(void) {
    fx_spec s;
    int_spec(&s);
    strata_collection *c = stack(&s, 12, NULL);
    REQUIRE(c != NULL);
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    progress_log log = {0};
    o.run.progress = on_progress;
    o.run.progress_user = &log;
    strata_result *r = NULL;
    const strata_op mean = STRATA_OP_MEAN;
    REQUIRE_OK(strata_reduce(c, &mean, 1, &o, &r));
    CHECK_MSG(log.calls >= 1, "progress never called");
    CHECK_EQ_INT(log.bad_order, 0);
    CHECK_MSG(log.last_done == log.last_total && log.last_total > 0 && log.last_fraction == 1.0,
              "last progress call %g: '%s'", log.last_fraction, log.last_message);
    CHECK_MSG(strstr(log.last_message, " MB/s") != NULL, "progress message '%s' has no rate",
              log.last_message);
    strata_result_free(r);

    /* Cancel at the first call. */
    log = (progress_log){0};
    log.cancel_at = 1;
    r = NULL;
    CHECK_STATUS(strata_reduce(c, &mean, 1, &o, &r), STRATA_ERR_CANCELLED);
    CHECK(r == NULL);
    CHECK(strata_errmsg()[0] != '\0');
    CHECK_EQ_INT(log.calls, 1); /* not called again once cancelled */

    /* Cancel during a long job: 200 timesteps of a bigger raster, cancelled at call 2. */
    fx_spec big;
    fx_spec_default(&big);
    big.rows = 256;
    big.cols = 256;
    big.block_x = big.block_y = 64;
    strata_collection *cb = stack(&big, 60, NULL);
    REQUIRE(cb != NULL);
    log = (progress_log){0};
    log.cancel_at = 2;
    o.run.threads = 1;
    r = NULL;
    const strata_op med = STRATA_OP_MEDIAN;
    strata_status st = strata_reduce(cb, &med, 1, &o, &r);
    /* Either it finished before a second call (fast machine), or it was cancelled. */
    if (log.calls >= 2) {
        CHECK_STATUS(st, STRATA_ERR_CANCELLED);
        CHECK(r == NULL);
        CHECK_EQ_INT(log.calls, 2);
    } else {
        CHECK_OK(st);
    }
    strata_result_free(r);
    strata_collection_free(cb);

    /* groupby cancels the same way. */
    log = (progress_log){0};
    log.cancel_at = 1;
    const char *labels[12] = {"x", "y", "x", "y", "x", "y", "x", "y", "x", "y", "x", "y"};
    r = NULL;
    CHECK_STATUS(strata_groupby(c, labels, &mean, 1, &o, &r), STRATA_ERR_CANCELLED);
    CHECK(r == NULL);
    strata_collection_free(c);
}

static void test_bad_options(void) {
    fx_spec s;
    int_spec(&s);
    strata_collection *c = stack(&s, 3, NULL);
    REQUIRE(c != NULL);
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    strata_result *r = NULL;
    const strata_op var = STRATA_OP_VAR;
    o.kernel.ddof = -1;
    CHECK_STATUS(strata_reduce(c, &var, 1, &o, &r), STRATA_ERR_INVALID_ARG);
    CHECK(r == NULL);
    CHECK_CONTAINS(strata_errmsg(), "ddof");
    const char *labels[3] = {"a", "b", "a"};
    CHECK_STATUS(strata_groupby(c, labels, &var, 1, &o, &r), STRATA_ERR_INVALID_ARG);
    strata_reduce_opts_init(&o);
    o.run.threads = -2;
    CHECK_STATUS(strata_reduce(c, &var, 1, &o, &r), STRATA_ERR_INVALID_ARG);
    strata_reduce_opts_init(&o);
    o.output.float_dtype = STRATA_INT16;
    CHECK_STATUS(strata_reduce(c, &var, 1, &o, &r), STRATA_ERR_INVALID_ARG);
    strata_reduce_opts_init(&o);
    CHECK_STATUS(strata_reduce(c, &var, 0, &o, &r), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_reduce(c, NULL, 1, &o, &r), STRATA_ERR_INVALID_ARG);
    const strata_op bogus[] = {STRATA_OP_MEAN, (strata_op)42};
    CHECK_STATUS(strata_reduce(c, bogus, 2, &o, &r), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_reduce(NULL, &var, 1, &o, &r), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_reduce(c, &var, 1, NULL, &r), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_reduce(c, &var, 1, &o, NULL), STRATA_ERR_INVALID_ARG);
    CHECK(r == NULL);
    /* GeoTIFF outputs take zstd, zlib (DEFLATE), lzw and none; the blosc codecs are Zarr's. */
    strata_reduce_opts_init(&o);
    o.output.codec = STRATA_CODEC_BLOSC_LZ4;
    CHECK_STATUS(strata_reduce_to_gtiff(c, NULL, &var, 1, &o, "/nonexistent/x_{op}.tif", &r),
                 STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "blosc-lz4");
    o.output.codec = (strata_codec)99;
    CHECK_STATUS(strata_reduce(c, &var, 1, &o, &r), STRATA_ERR_INVALID_ARG);
    /* Options not made by _init (size 0), and a newer caller's larger struct. */
    strata_reduce_opts zero;
    memset(&zero, 0, sizeof zero);
    CHECK_STATUS(strata_reduce(c, &var, 1, &zero, &r), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "strata_reduce_opts_init");
    CHECK(r == NULL);
    strata_reduce_opts_init(&o);
    /* A large ddof is allowed: too few values give missing pixels. */
    o.kernel.ddof = 5;
    REQUIRE_OK(strata_reduce(c, &var, 1, &o, &r));
    strata_array a;
    if (strata_result_array(r, 0, STRATA_OP_VAR, &a) == STRATA_OK) {
        size_t n = (size_t)a.bands * a.rows * a.cols, nan = 0;
        for (size_t i = 0; i < n; i++) {
            nan += isnan(((const double *)a.data)[i]) != 0;
        }
        CHECK_EQ_INT(nan, n);
    }
    strata_result_free(r);
    /* Duplicated ops are one op. */
    const strata_op twice[] = {STRATA_OP_COUNT, STRATA_OP_COUNT};
    r = NULL;
    strata_reduce_opts_init(&o);
    CHECK_OK(strata_reduce(c, twice, 2, &o, &r));
    CHECK(r && strata_result_array(r, 0, STRATA_OP_COUNT, &a) == STRATA_OK);
    strata_result_free(r);
    strata_collection_free(c);
}

static void test_bad_file_fails_reduce(void) {
    fx_spec s;
    int_spec(&s);
    const char **paths = NULL;
    strata_collection *c = NULL;
    paths = fx_write_stack(fx_dir_new(), &s, 6, NULL);
    fx_spec odd = s;
    odd.epsg = 4326;
    fx_write(paths[5], &odd, 5);
    REQUIRE_OK(strata_collection_from_files(paths, 6, &c));
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    o.run.threads = 3;
    strata_result *r = NULL;
    CHECK_STATUS(strata_reduce(c, ALL_OPS, NALL, &o, &r), STRATA_ERR_MISALIGNED);
    CHECK(r == NULL);
    CHECK_CONTAINS(strata_errmsg(), paths[5]);
    CHECK(fx_remove(paths[3]) == 0);
    strata_collection_free(c);
    REQUIRE_OK(strata_collection_from_files(paths, 6, &c));
    o.run.threads = 1; /* t3 is read before t5 */
    CHECK_STATUS(strata_reduce(c, ALL_OPS, NALL, &o, &r), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), paths[3]);
    strata_collection_free(c);
}

/* Pixels of (group, op) as written to its GeoTIFF that differ from the in-memory result
 * (float outputs are float32 on disk, sums float64, missing pixels the input's nodata). */
static long gtiff_mismatches(const strata_result *disk, const strata_result *mem, size_t g,
                             strata_op op) {
    strata_array a;
    GDALDatasetH ds = GDALOpen(strata_result_path(disk, g, op), GA_ReadOnly);
    if (!ds || strata_result_array(mem, g, op, &a) != STRATA_OK) {
        if (ds) {
            GDALClose(ds);
        }
        return -1;
    }
    size_t plane = (size_t)a.rows * a.cols;
    double *got = malloc(plane * sizeof *got);
    long bad = 0;
    for (int b = 0; got && b < a.bands; b++) {
        if (GDALRasterIO(GDALGetRasterBand(ds, b + 1), GF_Read, 0, 0, a.cols, a.rows, got, a.cols,
                         a.rows, GDT_Float64, 0, 0) != CE_None) {
            bad = -1;
            break;
        }
        for (size_t i = 0; i < plane; i++) {
            double v = array_value(&a, (size_t)b * plane + i);
            if (op == STRATA_OP_MEAN) {
                v = isnan(v) ? ND : (double)(float)v;
            }
            if (op == STRATA_OP_SUM && a.has_nodata && v == a.nodata) {
                v = ND; /* int64 in memory, Float64 with the input's nodata on disk */
            }
            bad += got[i] != v;
        }
    }
    free(got);
    GDALClose(ds);
    return bad;
}

/* GeoTIFF outputs written by several workers at once, each encoding and writing its own
 * blocks (the tsan build runs this): 300x520 with 256x256 source blocks, so tiles of whole
 * output blocks and edge blocks. The values read back equal the in-memory result, for blocks
 * encoded by the workers (zstd) and by GDAL (lzw). */
static void test_gtiff_outputs(void) {
    fx_spec s;
    int_spec(&s);
    s.rows = 300;
    s.cols = 520;
    s.block_x = s.block_y = 256;
    strata_collection *c = stack(&s, 6, NULL);
    REQUIRE(c != NULL);
    const char *labels[] = {"a", "b", "a", "c", "b", "a"};
    const strata_op ops[] = {STRATA_OP_MEAN, STRATA_OP_MIN, STRATA_OP_COUNT, STRATA_OP_SUM};
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    o.run.threads = 3;
    strata_result *mem = NULL;
    REQUIRE_OK(strata_groupby(c, labels, ops, 4, &o, &mem));
    const char *dir = fx_dir_new();
    const strata_codec codecs[] = {STRATA_CODEC_ZSTD, STRATA_CODEC_LZW};
    for (int k = 0; k < 2; k++) {
        o.output.codec = codecs[k];
        strata_result *disk = NULL;
        const char *pattern = fx_path(dir, "{label}_{op}_%s.tif", strata_codec_name(codecs[k]));
        CHECK_OK(strata_reduce_to_gtiff(c, labels, ops, 4, &o, pattern, &disk));
        for (size_t g = 0; disk && g < strata_result_groups(disk); g++) {
            for (int i = 0; i < 4; i++) {
                long bad = gtiff_mismatches(disk, mem, g, ops[i]);
                CHECK_MSG(bad == 0, "%s group %zu %s: %ld pixels differ from memory",
                          strata_codec_name(codecs[k]), g, strata_op_name(ops[i]), bad);
            }
        }
        strata_result_free(disk);
    }
    strata_result_free(mem);
    strata_collection_free(c);
}

static int output_epsg(const char *path) {
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    OGRSpatialReferenceH srs = ds ? GDALGetSpatialRef(ds) : NULL;
    const char *code = srs ? OSRGetAuthorityCode(srs, NULL) : NULL;
    int epsg = code ? atoi(code) : 0;
    if (ds) {
        GDALClose(ds);
    }
    return epsg;
}

/* Outputs carry the CRS GDAL sees in the template: its GeoTIFF keys copied as they are, or,
 * when side files (.aux.xml) give it another CRS, that one. */
static void test_gtiff_crs(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.epsg = 32632;
    const char *dir = fx_dir_new();
    const char **paths = fx_write_stack(dir, &s, 3, NULL);
    const strata_op mean = STRATA_OP_MEAN;
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    for (int side = 0; side < 2; side++) {
        for (int t = 0; side && t < 3; t++) {
            char aux[4096];
            snprintf(aux, sizeof aux, "%s.aux.xml", paths[t]);
            fx_write_text(aux, "<PAMDataset><SRS>EPSG:3035</SRS></PAMDataset>\n");
        }
        strata_collection *c = NULL;
        REQUIRE_OK(strata_collection_from_files(paths, 3, &c));
        CHECK_EQ_INT(strata_meta_epsg(strata_collection_meta(c)), side ? 3035 : 32632);
        for (int k = 0; k < 2; k++) {
            o.output.codec = k ? STRATA_CODEC_LZW : STRATA_CODEC_ZSTD;
            strata_result *r = NULL;
            const char *out = fx_path(dir, "mean_%d_%d.tif", side, k);
            CHECK_OK(strata_reduce_to_gtiff(c, NULL, &mean, 1, &o, out, &r));
            CHECK_MSG(output_epsg(out) == (side ? 3035 : 32632), "side files %d, %s: EPSG:%d", side,
                      strata_codec_name(o.output.codec), output_epsg(out));
            double gt[6];
            GDALDatasetH ds = GDALOpen(out, GA_ReadOnly);
            REQUIRE(ds != NULL);
            GDALGetGeoTransform(ds, gt);
            CHECK(memcmp(gt, s.gt, sizeof gt) == 0);
            GDALClose(ds);
            strata_result_free(r);
        }
        strata_collection_free(c);
    }

    /* Files whose GeoTIFF tags differ from the template's (the same CRS, written from a PROJ
     * string): each worker compares through GDAL's view, building the template's CRS on
     * first use from several threads at once (the tsan build runs this). */
    const char *mixed[8];
    for (int t = 0; t < 8; t++) {
        mixed[t] = fx_path(dir, "mixed_%d.tif", t);
        fx_spec ms = s;
        if (t > 0) {
            ms.epsg = 0;
            ms.proj4 = "+proj=utm +zone=32 +datum=WGS84 +units=m +no_defs";
        }
        fx_write(mixed[t], &ms, t);
    }
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(mixed, 8, &c));
    REQUIRE_OK(strata_collection_set_chunks(c, &(strata_chunks){1, 1, 16, 16}));
    o.run.threads = 3;
    o.output.codec = STRATA_CODEC_ZSTD;
    strata_result *r = NULL;
    const char *out = fx_path(dir, "mixed_mean.tif");
    CHECK_OK(strata_reduce_to_gtiff(c, NULL, &mean, 1, &o, out, &r));
    CHECK_EQ_INT(output_epsg(out), 32632);
    CHECK_EQ_INT(strata_meta_epsg(strata_collection_meta(c)), 32632);
    strata_result_free(r);
    strata_collection_free(c);
}

/* Byte values 0..255 where 255 is data (saturated pixels). */
static double v_byte(int t, int b, int row, int col) {
    return row < 3 ? 255 : (double)((t * 31 + b * 17 + row * 13 + col * 7) % 256);
}

/* In memory, an integer output declares a nodata only when a pixel is missing: a Byte
 * stack without nodata keeps its 255s valid; an int16 sum's missing pixels get int64's
 * extreme, which no sum of int16 reaches. */
static void test_memory_integer_nodata(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.type = GDT_Byte;
    s.bands = 2;
    s.value = v_byte;
    strata_collection *c = stack(&s, 3, NULL);
    REQUIRE(c != NULL);
    const strata_op ops[] = {STRATA_OP_MIN, STRATA_OP_MAX};
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    strata_result *r = NULL;
    REQUIRE_OK(strata_reduce(c, ops, 2, &o, &r));
    for (int k = 0; k < 2; k++) {
        strata_array a;
        REQUIRE_OK(strata_result_array(r, 0, ops[k], &a));
        CHECK_EQ_INT(a.dtype, STRATA_UINT8);
        CHECK_MSG(a.has_nodata == 0, "%s: nodata declared, nothing is missing",
                  strata_op_name(ops[k]));
        long bad = 0;
        for (int b = 0; b < s.bands; b++) {
            for (int row = 0; row < s.rows; row++) {
                for (int col = 0; col < s.cols; col++) {
                    double e = fx_expected(&s, 0, b, row, col);
                    for (int t = 1; t < 3; t++) {
                        double v = fx_expected(&s, t, b, row, col);
                        e = ops[k] == STRATA_OP_MIN ? fmin(e, v) : fmax(e, v);
                    }
                    size_t i = ((size_t)b * s.rows + row) * s.cols + col;
                    bad += ((const uint8_t *)a.data)[i] != e;
                }
            }
        }
        CHECK_MSG(bad == 0, "%s: %ld pixels differ", strata_op_name(ops[k]), bad);
    }
    strata_result_free(r);
    strata_collection_free(c);

    int_spec(&s);
    REQUIRE((c = stack(&s, 3, NULL)) != NULL);
    const strata_op sum = STRATA_OP_SUM;
    REQUIRE_OK(strata_reduce(c, &sum, 1, &o, &r));
    strata_array a;
    REQUIRE_OK(strata_result_array(r, 0, sum, &a));
    CHECK_EQ_INT(a.dtype, STRATA_INT64);
    CHECK(a.has_nodata == 1 && a.nodata == -9223372036854775808.0);
    CHECK(((const int64_t *)a.data)[0] == INT64_MIN); /* pixel (0, 0) is always missing */
    strata_result_free(r);
    strata_collection_free(c);
}

TEST_MAIN(test_reduce_int, test_reduce_float_nan, test_memory_integer_nodata,
          test_threads_identical, test_groupby, test_progress_and_cancel, test_bad_options,
          test_bad_file_fails_reduce, test_gtiff_outputs, test_gtiff_crs)
