/* The process-wide log function (strata_set_log). */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>

/* Set before the library is used (strata.h says so), read by any thread after. */
static strata_log_fn log_fn;
static strata_log_level log_min = STRATA_LOG_WARNING;
static void *log_user;

void strata_set_log(strata_log_fn fn, strata_log_level min_level, void *user) {
    log_fn = fn;
    log_min = min_level;
    log_user = user;
}

int st_log_wanted(strata_log_level level) {
    return log_fn && level >= log_min;
}

void st_log(strata_log_level level, const char *fmt, ...) {
    if (!st_log_wanted(level)) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user);
}
