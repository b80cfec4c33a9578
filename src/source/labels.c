/* Group labels derived from timestep times: year, month, season, dayofyear, yearmonth. */
#include "source/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const seasons[] = {"DJF", "DJF", "MAM", "MAM", "MAM", "JJA",
                                      "JJA", "JJA", "SON", "SON", "SON", "DJF"};

static bool format_label(const char *key, int64_t utc, char *buf, size_t size) {
    int y, m, d, yday;
    st_civil_from_utc(utc, &y, &m, &d, &yday);
    if (strcmp(key, "year") == 0) {
        snprintf(buf, size, "%04d", y);
    } else if (strcmp(key, "month") == 0) {
        snprintf(buf, size, "%02d", m);
    } else if (strcmp(key, "season") == 0) {
        snprintf(buf, size, "%s", seasons[m - 1]);
    } else if (strcmp(key, "dayofyear") == 0) {
        snprintf(buf, size, "%03d", yday);
    } else if (strcmp(key, "yearmonth") == 0) {
        snprintf(buf, size, "%04d-%02d", y, m);
    } else if (strcmp(key, "yearseason") == 0) {
        /* December opens the DJF season of the following year. */
        snprintf(buf, size, "%04d-%s", m == 12 ? y + 1 : y, seasons[m - 1]);
    } else {
        return false;
    }
    return true;
}

void strata_labels_free(char **labels, size_t n) {
    for (size_t i = 0; labels && i < n; i++) {
        free(labels[i]);
    }
    free(labels);
}

strata_status strata_labels_from_times(const strata_collection *c, const char *key, char ***out) {
    st_clear_error();
    if (!c || !key || !out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_labels_from_times: NULL argument");
    }
    *out = NULL;
    char buf[32];
    if (!format_label(key, 0, buf, sizeof buf)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "unknown grouping key '%s' (expected year, "
                       "month, season, dayofyear, yearmonth or yearseason)",
                       key);
    }
    char **labels = st_calloc(c->n, sizeof *labels);
    if (!labels) {
        return st_nomem("labels");
    }
    for (size_t t = 0; t < c->n; t++) {
        if (!c->has_time[t]) {
            strata_labels_free(labels, c->n);
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "grouping by %s needs times, and timestep "
                           "%zu (%s) has none (give --times or --time-pattern)",
                           key, t, strata_collection_path(c, t));
        }
        format_label(key, c->times[t], buf, sizeof buf);
        if (!(labels[t] = st_strdup(buf))) {
            strata_labels_free(labels, c->n);
            return st_nomem("labels");
        }
    }
    *out = labels;
    return STRATA_OK;
}
