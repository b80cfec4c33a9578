/* Fault injection: every allocation strata makes through its funnel is made to fail in turn,
 * through a reduce into memory, a groupby into GeoTIFFs and into a Zarr store, and a Zarr
 * write. Each failed run must return an error status with a message, leave no output behind,
 * and leak nothing (LeakSanitizer checks at exit in the ASan build); a run that still succeeds
 * must give the same answer as an undisturbed one. */
#include "fixtures.h"
#include "harness.h"
#include "common/strata_testing.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* A walk past this many allocations means the countdown is never reached: a broken hook,
 * not a workload. */
#define MAX_STEPS 20000

enum { NT = 4 };

static const char *const LABELS[NT] = {"a", "b", "a", "b"};

static const fx_spec *stack_spec(void) {
    static fx_spec s;
    fx_spec_default(&s);
    s.rows = 40;
    s.cols = 40;
    s.bands = 2;
    s.has_nodata = 1;
    s.nodata = -30000;
    return &s;
}

static const char **stack_paths(const char *dir) {
    return fx_write_stack(dir, stack_spec(), NT, NULL);
}

/* Entries of dir other than "." and "..". */
static int entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) {
        return -1;
    }
    for (struct dirent *e; (e = readdir(d));) {
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    }
    closedir(d);
    return n;
}

/* One workload: returns its status; out_dir is where it writes (NULL: memory only). */
typedef strata_status (*workload_fn)(const char *const *paths, const char *out_dir,
                                     strata_result **out);

static strata_status reduce_in_memory(const char *const *paths, const char *out_dir,
                                      strata_result **out) {
    (void)out_dir;
    static const strata_op ops[] = {STRATA_OP_MEAN, STRATA_OP_STD, STRATA_OP_MIN, STRATA_OP_COUNT,
                                    STRATA_OP_MEDIAN};
    strata_collection *c = NULL;
    strata_reduce_opts opts;
    strata_reduce_opts_init(&opts);
    opts.run.threads = 2;
    strata_status st = strata_collection_from_files(paths, NT, &c);
    if (!st) {
        st = strata_reduce(c, ops, sizeof ops / sizeof ops[0], &opts, out);
    }
    strata_collection_free(c);
    return st;
}

static strata_status groupby_to_gtiff(const char *const *paths, const char *out_dir,
                                      strata_result **out) {
    static const strata_op ops[] = {STRATA_OP_MEAN, STRATA_OP_MAX};
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/{label}_{op}.tif", out_dir);
    strata_collection *c = NULL;
    strata_reduce_opts opts;
    strata_reduce_opts_init(&opts);
    opts.run.threads = 2;
    strata_status st = strata_collection_from_files(paths, NT, &c);
    if (!st) {
        st = strata_reduce_to_gtiff(c, LABELS, ops, 2, &opts, pattern, out);
    }
    strata_collection_free(c);
    return st;
}

static strata_status write_zarr(const char *const *paths, const char *out_dir,
                                strata_result **out) {
    *out = NULL;
    char store[1024];
    snprintf(store, sizeof store, "%s/cube.zarr", out_dir);
    strata_collection *c = NULL;
    strata_zarr_opts opts;
    strata_zarr_opts_init(&opts);
    opts.run.threads = 2;
    strata_status st = strata_collection_from_files(paths, NT, &c);
    if (!st) {
        st = strata_collection_set_times_iso(
            c, (const char *const[]){"2021-01-01", "2021-02-01", "2021-03-01", "2021-04-01"});
    }
    if (!st) {
        st = strata_to_zarr(c, store, &opts);
    }
    strata_collection_free(c);
    return st;
}

static strata_status groupby_to_zarr(const char *const *paths, const char *out_dir,
                                     strata_result **out) {
    static const strata_op ops[] = {STRATA_OP_MEAN};
    char store[1024];
    snprintf(store, sizeof store, "%s/groups.zarr", out_dir);
    strata_collection *c = NULL;
    strata_reduce_opts opts;
    strata_reduce_opts_init(&opts);
    opts.run.threads = 2;
    strata_zarr_opts zo;
    strata_zarr_opts_init(&zo);
    strata_status st = strata_collection_from_files(paths, NT, &c);
    if (!st) {
        st = strata_groupby_to_zarr(c, LABELS, ops, 1, &opts, "label", store, &zo, out);
    }
    strata_collection_free(c);
    return st;
}

/* 1 when both results hold the same arrays for (group, op), bit for bit. */
static int same_array(const strata_result *a, const strata_result *b, size_t g, strata_op op) {
    strata_array x, y;
    if (strata_result_array(a, g, op, &x) || strata_result_array(b, g, op, &y)) {
        return 0;
    }
    size_t bytes = (size_t)x.bands * x.rows * x.cols * strata_dtype_size(x.dtype);
    return x.dtype == y.dtype && x.bands == y.bands && x.rows == y.rows && x.cols == y.cols &&
           memcmp(x.data, y.data, bytes) == 0;
}

/* Fails allocation n of the workload for n = 0, 1, ... until a run makes fewer allocations
 * than n. Returns the number of runs that failed as they should. */
static long walk_allocations(workload_fn run, const char *const *paths, int writes) {
    const char *out_dir = writes ? fx_dir_new() : NULL;
    strata_result *reference = NULL;
    strata_testing_fail_alloc(-1);
    if (run(paths, out_dir ? fx_dir_new() : NULL, &reference) != STRATA_OK) {
        CHECK_MSG(0, "the undisturbed run fails: %s", strata_errmsg());
        return 0;
    }
    long failed = 0;
    for (long n = 0; n < MAX_STEPS; n++) {
        strata_result *r = NULL;
        strata_testing_fail_alloc(n);
        strata_status st = run(paths, out_dir, &r);
        int reached = strata_testing_fail_alloc(-1) < 0;
        if (st != STRATA_OK) {
            failed++;
            CHECK_MSG(reached, "allocation %ld: status %s without a failed allocation (%s)", n,
                      strata_status_str(st), strata_errmsg());
            CHECK_MSG(strata_errmsg()[0] != '\0', "allocation %ld: status %s with no message", n,
                      strata_status_str(st));
            if (out_dir) {
                CHECK_MSG(entries(out_dir) == 0, "allocation %ld: %s left %d entries in %s", n,
                          strata_status_str(st), entries(out_dir), out_dir);
            }
            CHECK(r == NULL);
        } else if (!out_dir) {
            /* An allocation the library can do without must not change the answer. */
            for (strata_op op = STRATA_OP_MEAN; op < STRATA_OP_COUNT_OF_OPS; op++) {
                strata_array a;
                if (strata_result_array(reference, 0, op, &a) == STRATA_OK) {
                    CHECK_MSG(same_array(reference, r, 0, op), "allocation %ld: %s differs", n,
                              strata_op_name(op));
                }
            }
        }
        strata_result_free(r);
        if (out_dir && st == STRATA_OK) {
            char cmd[1100];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", out_dir);
            fx_run(cmd, NULL);
        }
        if (!reached) {
            strata_result_free(reference);
            printf("    %ld allocations, %ld runs failed cleanly\n", n, failed);
            return failed;
        }
    }
    CHECK_MSG(0, "the workload made more than %d allocations", MAX_STEPS);
    strata_result_free(reference);
    return failed;
}

static void test_reduce_in_memory(void) {
    const char **paths = stack_paths(fx_dir_new());
    CHECK(walk_allocations(reduce_in_memory, paths, 0) > 10);
}

static void test_groupby_to_gtiff(void) {
    const char **paths = stack_paths(fx_dir_new());
    CHECK(walk_allocations(groupby_to_gtiff, paths, 1) > 10);
}

static void test_zarr_write(void) {
    const char **paths = stack_paths(fx_dir_new());
    CHECK(walk_allocations(write_zarr, paths, 1) > 10);
}

static void test_groupby_to_zarr(void) {
    const char **paths = stack_paths(fx_dir_new());
    CHECK(walk_allocations(groupby_to_zarr, paths, 1) > 10);
}

TEST_MAIN(test_reduce_in_memory, test_groupby_to_gtiff, test_zarr_write, test_groupby_to_zarr)
