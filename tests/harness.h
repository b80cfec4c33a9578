/* A tiny test harness for strata's unit tests.
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_EQ_INT(a, b); }
 *   TEST_MAIN(test_something, test_other)
 *
 * Every failed check prints file:line, the expression and strata_errmsg(), and marks the
 * running test as failed; the test goes on (checks are not fatal) unless it uses REQUIRE,
 * which returns from the test function. The runner prints one line per test and ends with
 * "N passed, M failed"; the exit status is non-zero when any test failed. */
#ifndef STRATA_TEST_HARNESS_H
#define STRATA_TEST_HARNESS_H

#include "strata.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int th_current_failed; /* failures of the running test */
static long th_checks;        /* checks evaluated (all tests) */

static inline void th_fail(const char *file, int line, const char *what) {
    th_current_failed++;
    const char *msg = strata_errmsg();
    fprintf(stderr, "%s:%d: FAILED: %s%s%s\n", file, line, what, msg[0] ? "\n    errmsg: " : "",
            msg);
    fflush(stderr);
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        th_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            th_fail(__FILE__, __LINE__, "CHECK(" #cond ")");                                       \
        }                                                                                          \
    } while (0)

/* As CHECK, with a printf-style explanation. */
#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        th_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            char th_buf_[1024];                                                                    \
            int th_n_ = snprintf(th_buf_, sizeof th_buf_, "CHECK(%s): ", #cond);                   \
            snprintf(th_buf_ + th_n_, sizeof th_buf_ - (size_t)th_n_, __VA_ARGS__);                \
            th_fail(__FILE__, __LINE__, th_buf_);                                                  \
        }                                                                                          \
    } while (0)

/* Returns from the current test function (void) when cond is false. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        th_checks++;                                                                               \
        if (!(cond)) {                                                                             \
            th_fail(__FILE__, __LINE__, "REQUIRE(" #cond ")");                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        th_checks++;                                                                               \
        long long th_a_ = (long long)(a), th_b_ = (long long)(b);                                  \
        if (th_a_ != th_b_) {                                                                      \
            char th_buf_[512];                                                                     \
            snprintf(th_buf_, sizeof th_buf_, "CHECK_EQ_INT(%s, %s): %lld != %lld", #a, #b, th_a_, \
                     th_b_);                                                                       \
            th_fail(__FILE__, __LINE__, th_buf_);                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        th_checks++;                                                                               \
        const char *th_a_ = (a), *th_b_ = (b);                                                     \
        if (!th_a_ || !th_b_ || strcmp(th_a_, th_b_) != 0) {                                       \
            char th_buf_[1024];                                                                    \
            snprintf(th_buf_, sizeof th_buf_, "CHECK_EQ_STR(%s, %s): \"%s\" != \"%s\"", #a, #b,    \
                     th_a_ ? th_a_ : "(null)", th_b_ ? th_b_ : "(null)");                          \
            th_fail(__FILE__, __LINE__, th_buf_);                                                  \
        }                                                                                          \
    } while (0)

/* Checks that haystack contains needle (e.g. that an error message names a file). */
#define CHECK_CONTAINS(haystack, needle)                                                           \
    do {                                                                                           \
        th_checks++;                                                                               \
        const char *th_h_ = (haystack), *th_n_ = (needle);                                         \
        if (!th_h_ || !th_n_ || !strstr(th_h_, th_n_)) {                                           \
            char th_buf_[2048];                                                                    \
            snprintf(th_buf_, sizeof th_buf_, "CHECK_CONTAINS(%s, %s): \"%s\" lacks \"%s\"",       \
                     #haystack, #needle, th_h_ ? th_h_ : "(null)", th_n_ ? th_n_ : "(null)");      \
            th_fail(__FILE__, __LINE__, th_buf_);                                                  \
        }                                                                                          \
    } while (0)

/* Runs call (a strata_status expression) and checks its status; prints both statuses and
 * strata_errmsg() on a mismatch. Evaluates to nothing; the message stays readable after. */
#define CHECK_STATUS(call, expected)                                                               \
    do {                                                                                           \
        th_checks++;                                                                               \
        strata_status th_got_ = (call);                                                            \
        strata_status th_exp_ = (expected);                                                        \
        if (th_got_ != th_exp_) {                                                                  \
            char th_buf_[1024];                                                                    \
            snprintf(th_buf_, sizeof th_buf_, "CHECK_STATUS(%s): got %d (%s), expected %d (%s)",   \
                     #call, (int)th_got_, strata_status_str(th_got_), (int)th_exp_,                \
                     strata_status_str(th_exp_));                                                  \
            th_fail(__FILE__, __LINE__, th_buf_);                                                  \
        }                                                                                          \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, STRATA_OK)

/* As CHECK_STATUS, but returns from the test on a mismatch (for set-up steps). */
#define REQUIRE_STATUS(call, expected)                                                             \
    do {                                                                                           \
        int th_before_ = th_current_failed;                                                        \
        CHECK_STATUS(call, expected);                                                              \
        if (th_current_failed != th_before_) {                                                     \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define REQUIRE_OK(call) REQUIRE_STATUS(call, STRATA_OK)

/* Runs fn in a child process, so that a crash (or a sanitizer abort) in the library fails
 * this check instead of ending the whole test executable. Checks failed in the child count
 * as one failure here. */
#define CHECK_IN_CHILD(fn)                                                                         \
    do {                                                                                           \
        th_checks++;                                                                               \
        fflush(stdout);                                                                            \
        fflush(stderr);                                                                            \
        pid_t th_pid_ = fork();                                                                    \
        if (th_pid_ == 0) {                                                                        \
            th_current_failed = 0;                                                                 \
            fn();                                                                                  \
            fflush(stderr);                                                                        \
            _exit(th_current_failed ? 1 : 0);                                                      \
        }                                                                                          \
        int th_ws_ = 0;                                                                            \
        if (th_pid_ < 0 || waitpid(th_pid_, &th_ws_, 0) != th_pid_) {                              \
            th_fail(__FILE__, __LINE__, "CHECK_IN_CHILD(" #fn "): cannot fork");                   \
        } else if (!WIFEXITED(th_ws_) || WEXITSTATUS(th_ws_) != 0) {                               \
            char th_buf_[256];                                                                     \
            snprintf(th_buf_, sizeof th_buf_, "CHECK_IN_CHILD(%s): child %s %d", #fn,              \
                     WIFEXITED(th_ws_) ? "exited with" : "killed by signal",                       \
                     WIFEXITED(th_ws_) ? WEXITSTATUS(th_ws_) : WTERMSIG(th_ws_));                  \
            th_fail(__FILE__, __LINE__, th_buf_);                                                  \
        }                                                                                          \
    } while (0)

typedef struct th_test {
    const char *name;
    void (*fn)(void);
} th_test;

static inline int th_run(const th_test *tests, size_t n, int argc, char **argv) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        /* Optional filter: run only the tests named on the command line. */
        if (argc > 1) {
            int wanted = 0;
            for (int a = 1; a < argc; a++) {
                wanted |= strcmp(argv[a], tests[i].name) == 0;
            }
            if (!wanted) {
                continue;
            }
        }
        th_current_failed = 0;
        fprintf(stderr, "-- %s\n", tests[i].name);
        tests[i].fn();
        if (th_current_failed) {
            failed++;
            fprintf(stderr, "FAIL %s (%d failed checks)\n", tests[i].name, th_current_failed);
        } else {
            passed++;
            fprintf(stderr, "ok   %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}

#define TH_ENTRY(fn) {#fn, fn},
#define TH_EXPAND(x) x
#define TH_FE_1(m, a) m(a)
#define TH_FE_2(m, a, ...) m(a) TH_EXPAND(TH_FE_1(m, __VA_ARGS__))
#define TH_FE_3(m, a, ...) m(a) TH_EXPAND(TH_FE_2(m, __VA_ARGS__))
#define TH_FE_4(m, a, ...) m(a) TH_EXPAND(TH_FE_3(m, __VA_ARGS__))
#define TH_FE_5(m, a, ...) m(a) TH_EXPAND(TH_FE_4(m, __VA_ARGS__))
#define TH_FE_6(m, a, ...) m(a) TH_EXPAND(TH_FE_5(m, __VA_ARGS__))
#define TH_FE_7(m, a, ...) m(a) TH_EXPAND(TH_FE_6(m, __VA_ARGS__))
#define TH_FE_8(m, a, ...) m(a) TH_EXPAND(TH_FE_7(m, __VA_ARGS__))
#define TH_FE_9(m, a, ...) m(a) TH_EXPAND(TH_FE_8(m, __VA_ARGS__))
#define TH_FE_10(m, a, ...) m(a) TH_EXPAND(TH_FE_9(m, __VA_ARGS__))
#define TH_FE_11(m, a, ...) m(a) TH_EXPAND(TH_FE_10(m, __VA_ARGS__))
#define TH_FE_12(m, a, ...) m(a) TH_EXPAND(TH_FE_11(m, __VA_ARGS__))
#define TH_FE_13(m, a, ...) m(a) TH_EXPAND(TH_FE_12(m, __VA_ARGS__))
#define TH_FE_14(m, a, ...) m(a) TH_EXPAND(TH_FE_13(m, __VA_ARGS__))
#define TH_FE_15(m, a, ...) m(a) TH_EXPAND(TH_FE_14(m, __VA_ARGS__))
#define TH_FE_16(m, a, ...) m(a) TH_EXPAND(TH_FE_15(m, __VA_ARGS__))
#define TH_FE_17(m, a, ...) m(a) TH_EXPAND(TH_FE_16(m, __VA_ARGS__))
#define TH_FE_18(m, a, ...) m(a) TH_EXPAND(TH_FE_17(m, __VA_ARGS__))
#define TH_FE_19(m, a, ...) m(a) TH_EXPAND(TH_FE_18(m, __VA_ARGS__))
#define TH_FE_20(m, a, ...) m(a) TH_EXPAND(TH_FE_19(m, __VA_ARGS__))
#define TH_FE_21(m, a, ...) m(a) TH_EXPAND(TH_FE_20(m, __VA_ARGS__))
#define TH_FE_22(m, a, ...) m(a) TH_EXPAND(TH_FE_21(m, __VA_ARGS__))
#define TH_FE_23(m, a, ...) m(a) TH_EXPAND(TH_FE_22(m, __VA_ARGS__))
#define TH_FE_24(m, a, ...) m(a) TH_EXPAND(TH_FE_23(m, __VA_ARGS__))
#define TH_FE_25(m, a, ...) m(a) TH_EXPAND(TH_FE_24(m, __VA_ARGS__))
#define TH_FE_26(m, a, ...) m(a) TH_EXPAND(TH_FE_25(m, __VA_ARGS__))
#define TH_FE_27(m, a, ...) m(a) TH_EXPAND(TH_FE_26(m, __VA_ARGS__))
#define TH_FE_28(m, a, ...) m(a) TH_EXPAND(TH_FE_27(m, __VA_ARGS__))
#define TH_FE_29(m, a, ...) m(a) TH_EXPAND(TH_FE_28(m, __VA_ARGS__))
#define TH_FE_30(m, a, ...) m(a) TH_EXPAND(TH_FE_29(m, __VA_ARGS__))
#define TH_GET_FE(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, \
                  _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, NAME, ...)           \
    NAME
#define TH_FOR_EACH(m, ...)                                                                        \
    TH_EXPAND(TH_GET_FE(__VA_ARGS__, TH_FE_30, TH_FE_29, TH_FE_28, TH_FE_27, TH_FE_26, TH_FE_25,   \
                        TH_FE_24, TH_FE_23, TH_FE_22, TH_FE_21, TH_FE_20, TH_FE_19, TH_FE_18,      \
                        TH_FE_17, TH_FE_16, TH_FE_15, TH_FE_14, TH_FE_13, TH_FE_12, TH_FE_11,      \
                        TH_FE_10, TH_FE_9, TH_FE_8, TH_FE_7, TH_FE_6, TH_FE_5, TH_FE_4, TH_FE_3,   \
                        TH_FE_2, TH_FE_1)(m, __VA_ARGS__))

/* Optional per-executable set-up and tear-down around the whole run: define
 * TH_SETUP() / TH_TEARDOWN() before including this header or leave the defaults. */
#ifndef TH_SETUP
#define TH_SETUP() ((void)0)
#endif
#ifndef TH_TEARDOWN
#define TH_TEARDOWN() ((void)0)
#endif

/* Defines main(): runs the named test functions (up to 30) in order, or only those named
 * on the command line, and prints "N passed, M failed". */
#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv) {                                                              \
        static const th_test th_tests_[] = {TH_FOR_EACH(TH_ENTRY, __VA_ARGS__)};                   \
        TH_SETUP();                                                                                \
        int th_rc_ = th_run(th_tests_, sizeof th_tests_ / sizeof th_tests_[0], argc, argv);        \
        TH_TEARDOWN();                                                                             \
        return th_rc_;                                                                             \
    }

#endif
