/* The library's messages that are not errors, handed to the caller's strata_log_fn. */
#ifndef STRATA_COMMON_LOG_H
#define STRATA_COMMON_LOG_H

#include "strata.h"

/* Sends a message to the log function, when one is set for this level; any thread. */
void st_log(strata_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether st_log at this level reaches anyone (to skip building a message). */
int st_log_wanted(strata_log_level level);

#endif
