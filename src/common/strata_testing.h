/* Hooks for strata's own tests: exported so the test programs can reach them, but not API.
 * This header is not installed, and nothing here is covered by the stability policy of
 * strata.h. */
#ifndef STRATA_TESTING_H
#define STRATA_TESTING_H

#include "strata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of datasets currently open in the calling thread's cache. */
STRATA_API int strata_testing_open_count(const strata_collection *c);

/* Makes the allocation n allocations from now fail (0: the next one); n < 0 turns failing
 * off. Returns the countdown as it was: still >= 0 when no allocation reached it since the
 * last call, which tells a caller that walks n upwards that it has covered every
 * allocation of its workload. Overrides the STRATA_FAIL_ALLOC environment variable. */
STRATA_API long strata_testing_fail_alloc(long n);

#ifdef __cplusplus
}
#endif
#endif /* STRATA_TESTING_H */
