/* The per-thread cache of open datasets: capacity, reuse, LRU eviction, and many threads
 * reading one collection at once (also run under ThreadSanitizer, label tsan). */
#include "fixtures.h"
#include "harness.h"
#include "common/strata_testing.h"

#include <pthread.h>
#include <stdint.h>

static const char *child_dir; /* made by the parent (which removes it) for a child's files */

static strata_collection *stack(const fx_spec *s, int n, const char ***paths_out) {
    const char **paths = fx_write_stack(child_dir ? child_dir : fx_dir_new(), s, n, NULL);
    strata_collection *c = NULL;
    if (strata_collection_from_files(paths, (size_t)n, &c) != STRATA_OK) {
        fprintf(stderr, "cannot build the stack: %s\n", strata_errmsg());
        return NULL;
    }
    *paths_out = paths;
    return c;
}

/* Reads timestep t whole and checks every value; returns the status. */
static strata_status read_step(const strata_collection *c, const fx_spec *s, size_t t) {
    strata_window w = {t, 1, 0, s->bands, 0, s->rows, 0, s->cols};
    strata_status st = STRATA_OK;
    long bad = fx_window_mismatches(c, s, &w, STRATA_INT16, &st);
    CHECK_MSG(bad <= 0, "timestep %zu: %ld wrong values", t, bad);
    return st;
}

static void test_capacity(void) {
    fx_spec s;
    fx_spec_default(&s);
    const char **paths;
    strata_collection *c = stack(&s, 5, &paths);
    REQUIRE(c != NULL);
    CHECK_OK(strata_collection_set_cache_capacity(c, 2));
    CHECK_EQ_INT(strata_testing_open_count(c), 0);
    for (size_t t = 0; t < 5; t++) {
        CHECK_OK(read_step(c, &s, t));
        int open = strata_testing_open_count(c);
        CHECK_MSG(open >= 1 && open <= 2, "after reading timestep %zu: %d open", t, open);
    }
    CHECK_EQ_INT(strata_testing_open_count(c), 2);
    /* One read of all five at once keeps the bound too. */
    strata_window w = {0, 5, 0, 1, 0, 40, 0, 50};
    CHECK_EQ_INT(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL), 0);
    CHECK(strata_testing_open_count(c) <= 2);
    strata_collection_free(c);

    /* Capacity 1. */
    c = stack(&s, 3, &paths);
    REQUIRE(c != NULL);
    CHECK_OK(strata_collection_set_cache_capacity(c, 1));
    for (int round = 0; round < 2; round++) {
        for (size_t t = 0; t < 3; t++) {
            CHECK_OK(read_step(c, &s, t));
            CHECK_EQ_INT(strata_testing_open_count(c), 1);
        }
    }
    strata_collection_free(c);
}

static void test_reuse(void) {
    fx_spec s;
    fx_spec_default(&s);
    const char **paths;
    strata_collection *c = stack(&s, 3, &paths);
    REQUIRE(c != NULL);
    CHECK_OK(read_step(c, &s, 1));
    CHECK_EQ_INT(strata_testing_open_count(c), 1);
    CHECK_OK(read_step(c, &s, 1));
    CHECK_EQ_INT(strata_testing_open_count(c), 1); /* not opened twice */
    /* Gone from the disk, still open in the cache: it reads. */
    CHECK(fx_remove(paths[1]) == 0);
    CHECK_OK(read_step(c, &s, 1));
    CHECK_EQ_INT(strata_testing_open_count(c), 1);
    CHECK_OK(read_step(c, &s, 2));
    CHECK_EQ_INT(strata_testing_open_count(c), 2);
    CHECK_OK(read_step(c, &s, 1));
    CHECK_EQ_INT(strata_testing_open_count(c), 2);
    strata_collection_free(c);
}

static void test_lru_eviction(void) {
    fx_spec s;
    fx_spec_default(&s);
    const char **paths;
    strata_collection *c = stack(&s, 3, &paths);
    REQUIRE(c != NULL);
    CHECK_OK(strata_collection_set_cache_capacity(c, 2));
    /* t0, t1, t0, t2: t1 is the least recently used when t2 comes in. */
    CHECK_OK(read_step(c, &s, 0));
    CHECK_OK(read_step(c, &s, 1));
    CHECK_OK(read_step(c, &s, 0));
    CHECK_OK(read_step(c, &s, 2));
    CHECK_EQ_INT(strata_testing_open_count(c), 2);
    CHECK(fx_remove(paths[0]) == 0);
    CHECK(fx_remove(paths[1]) == 0);
    CHECK(fx_remove(paths[2]) == 0);
    CHECK_OK(read_step(c, &s, 0)); /* cached */
    CHECK_OK(read_step(c, &s, 2)); /* cached */
    strata_status st = read_step(c, &s, 1);
    CHECK_MSG(st == STRATA_ERR_IO, "t1 should have been evicted; read gave %s",
              strata_status_str(st));
    CHECK_CONTAINS(strata_errmsg(), paths[1]);
    /* The failed open did not disturb the cache. */
    CHECK_EQ_INT(strata_testing_open_count(c), 2);
    CHECK_OK(read_step(c, &s, 0));
    CHECK_OK(read_step(c, &s, 2));
    strata_collection_free(c);
}

static void test_invalid_capacity(void) {
    fx_spec s;
    fx_spec_default(&s);
    const char **paths;
    strata_collection *c = stack(&s, 2, &paths);
    REQUIRE(c != NULL);
    CHECK_STATUS(strata_collection_set_cache_capacity(c, 0), STRATA_ERR_INVALID_ARG);
    CHECK(strata_errmsg()[0] != '\0');
    CHECK_STATUS(strata_collection_set_cache_capacity(c, -1), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_collection_set_cache_capacity(NULL, 4), STRATA_ERR_INVALID_ARG);
    /* Still usable with its default capacity. */
    CHECK_OK(read_step(c, &s, 0));
    CHECK_OK(read_step(c, &s, 1));
    CHECK_EQ_INT(strata_testing_open_count(c), 2);
    strata_collection_free(c);
}

/* The capacity changed after this thread's cache exists (single thread, no concurrent
 * use): the new bound holds. Run in a child: a stale bound has been seen to overrun the
 * cache's entry array. */
static void capacity_change_after_reads(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 16;
    s.cols = 16;
    const char **paths;
    strata_collection *c = stack(&s, 12, &paths);
    REQUIRE(c != NULL);
    /* Grow: 2 -> 8. */
    CHECK_OK(strata_collection_set_cache_capacity(c, 2));
    CHECK_OK(read_step(c, &s, 0));
    CHECK_OK(strata_collection_set_cache_capacity(c, 8));
    for (size_t t = 0; t < 12; t++) {
        CHECK_OK(read_step(c, &s, t));
        CHECK_MSG(strata_testing_open_count(c) <= 8, "%d open, capacity 8",
                  strata_testing_open_count(c));
    }
    /* Shrink: 8 -> 2. */
    CHECK_OK(strata_collection_set_cache_capacity(c, 2));
    for (size_t t = 0; t < 12; t++) {
        CHECK_OK(read_step(c, &s, t));
        CHECK_MSG(strata_testing_open_count(c) <= 2, "%d open after reading %zu, capacity 2",
                  strata_testing_open_count(c), t);
    }
    strata_collection_free(c);
}

static void test_capacity_change_after_reads(void) {
    child_dir = fx_dir_new();
    CHECK_IN_CHILD(capacity_change_after_reads);
    child_dir = NULL;
}

/* ---- many threads ------------------------------------------------------------------- */

enum { NTHREADS = 8, NSTEPS = 12, READS_PER_THREAD = 40 };

typedef struct thread_job {
    const strata_collection *c;
    const fx_spec *s;
    const char *bad_path; /* reading timestep NSTEPS - 1 must fail naming it */
    int capacity;
    pthread_barrier_t *start;
    uint64_t seed;
    long mismatches, failures, reads, bad_seen, over_capacity;
} thread_job;

static int rnd(uint64_t *state, int n) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (int)((*state >> 33) % (uint64_t)n);
}

static void *reader(void *arg) {
    thread_job *j = arg;
    const fx_spec *s = j->s;
    pthread_barrier_wait(j->start);
    for (int i = 0; i < READS_PER_THREAD; i++) {
        strata_window w;
        w.t0 = (size_t)rnd(&j->seed, NSTEPS - 1); /* the good timesteps */
        w.nt =
            1 + (size_t)rnd(&j->seed, (int)(NSTEPS - 1 - w.t0) < 3 ? (int)(NSTEPS - 1 - w.t0) : 3);
        w.b0 = rnd(&j->seed, s->bands);
        w.nb = 1 + rnd(&j->seed, s->bands - w.b0);
        w.row0 = rnd(&j->seed, s->rows);
        w.nrows = 1 + rnd(&j->seed, s->rows - w.row0);
        w.col0 = rnd(&j->seed, s->cols);
        w.ncols = 1 + rnd(&j->seed, s->cols - w.col0);
        strata_dtype dt = (i % 3 == 0) ? STRATA_FLOAT64 : STRATA_INT16;
        strata_status st = STRATA_OK;
        long bad = fx_window_mismatches(j->c, s, &w, dt, &st);
        j->reads++;
        if (bad < 0) {
            j->failures++;
            fprintf(stderr, "thread read failed: %s\n", strata_errmsg());
        } else {
            j->mismatches += bad;
        }
        if (strata_testing_open_count(j->c) > j->capacity) {
            j->over_capacity++;
        }
        if (i % 10 == 5 && j->bad_path) {
            /* The misaligned file fails in every thread, with this thread's message. */
            strata_window wb = {NSTEPS - 1, 1, 0, 1, 0, 1, 0, 1};
            int16_t v;
            st = strata_collection_read(j->c, &wb, STRATA_INT16, &v);
            if (st == STRATA_ERR_MISALIGNED && strstr(strata_errmsg(), j->bad_path)) {
                j->bad_seen++;
            } else {
                fprintf(stderr, "misaligned read gave %s: %s\n", strata_status_str(st),
                        strata_errmsg());
            }
        }
    }
    return NULL;
}

static void run_wave(const strata_collection *c, const fx_spec *s, const char *bad_path,
                     int capacity, uint64_t seed) {
    pthread_t tids[NTHREADS];
    thread_job jobs[NTHREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i] = (thread_job){c, s, bad_path, capacity, &start, seed + 7919u * (uint64_t)i,
                               0, 0, 0,        0,        0};
        REQUIRE(pthread_create(&tids[i], NULL, reader, &jobs[i]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(tids[i], NULL);
    }
    pthread_barrier_destroy(&start);
    for (int i = 0; i < NTHREADS; i++) {
        CHECK_MSG(jobs[i].reads == READS_PER_THREAD, "thread %d: %ld reads", i, jobs[i].reads);
        CHECK_MSG(jobs[i].failures == 0, "thread %d: %ld failed reads", i, jobs[i].failures);
        CHECK_MSG(jobs[i].mismatches == 0, "thread %d: %ld wrong values", i, jobs[i].mismatches);
        CHECK_MSG(jobs[i].over_capacity == 0, "thread %d: over capacity %ld times", i,
                  jobs[i].over_capacity);
        if (bad_path) {
            CHECK_MSG(jobs[i].bad_seen == READS_PER_THREAD / 10,
                      "thread %d: misaligned file "
                      "reported %ld times",
                      i, jobs[i].bad_seen);
        }
    }
}

static void test_threads(void) {
    fx_spec s;
    fx_spec_default(&s);
    s.rows = 64;
    s.cols = 80;
    s.bands = 2;
    const char **paths;
    const char *dir = fx_dir_new();
    paths = fx_write_stack(dir, &s, NSTEPS, NULL);
    fx_spec odd = s;
    odd.cols = 81;
    fx_write(paths[NSTEPS - 1], &odd, NSTEPS - 1);
    strata_collection *c = NULL;
    REQUIRE_OK(strata_collection_from_files(paths, NSTEPS, &c));
    CHECK_OK(strata_collection_set_cache_capacity(c, 3));
    /* Built: from here on only reads, from many threads. */
    run_wave(c, &s, paths[NSTEPS - 1], 3, 1);
    /* A second wave of new threads (thread ids may be reused). */
    run_wave(c, &s, paths[NSTEPS - 1], 3, 1000);
    /* The main thread reads too, with its own cache. */
    strata_window w = {0, NSTEPS - 1, 0, 2, 0, 64, 0, 80};
    CHECK_EQ_INT(fx_window_mismatches(c, &s, &w, STRATA_INT16, NULL), 0);
    strata_collection_free(c);

    /* Default capacity, striped, float. */
    fx_spec_default(&s);
    s.block_x = 0;
    s.strip_rows = 3;
    s.rows = 31;
    s.cols = 47;
    s.type = GDT_Float32;
    s.value = fx_value_float;
    paths = fx_write_stack(fx_dir_new(), &s, NSTEPS, NULL);
    REQUIRE_OK(strata_collection_from_files(paths, NSTEPS, &c));
    fx_spec expect = s;
    run_wave(c, &expect, NULL, 64, 99);
    strata_collection_free(c);
}

TEST_MAIN(test_capacity, test_reuse, test_lru_eviction, test_invalid_capacity,
          test_capacity_change_after_reads, test_threads)
