/* Per-thread error messages, status names, the allocation funnel, GDAL message capture. */
#include "common/common.h"
#include "common/log.h"
#include "common/strata_testing.h"

#include <cpl_error.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_MSG_SIZE 2048

static _Thread_local char tl_errmsg[ST_MSG_SIZE];
static _Thread_local char tl_gdalmsg[1000];
static _Thread_local int tl_quiet_depth;
static _Thread_local H5E_auto2_t tl_h5_func;
static _Thread_local void *tl_h5_data;

const char *strata_status_str(strata_status status) {
    static const char *const names[] = {"ok",          "invalid argument", "out of memory",
                                        "I/O error",   "misaligned",       "parse error",
                                        "unsupported", "cancelled",        "write error"};
    if ((unsigned)status < sizeof names / sizeof names[0]) {
        return names[status];
    }
    return "unknown status";
}

const char *strata_errmsg(void) {
    return tl_errmsg;
}

const char *strata_version(void) {
    return STRATA_VERSION_STRING;
}

int strata_version_number(void) {
    return STRATA_VERSION_NUMBER;
}

void strata_free(void *ptr) {
    free(ptr);
}

void st_set_errmsg(const char *msg) {
    snprintf(tl_errmsg, sizeof tl_errmsg, "%s", msg ? msg : "");
}

void st_clear_error(void) {
    tl_errmsg[0] = '\0';
    tl_gdalmsg[0] = '\0';
}

strata_status st_fail(strata_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_errmsg, sizeof tl_errmsg, fmt, ap);
    va_end(ap);
    return status;
}

strata_status st_fail_gdal(strata_status status, const char *fmt, ...) {
    char head[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    if (tl_gdalmsg[0]) {
        snprintf(tl_errmsg, sizeof tl_errmsg, "%s (%s)", head, tl_gdalmsg);
    } else {
        snprintf(tl_errmsg, sizeof tl_errmsg, "%s", head);
    }
    tl_gdalmsg[0] = '\0';
    return status;
}

/* GDAL's failures become part of strata's error message; its warnings and debug messages
 * go to the caller's log function, the only place they can go in a library that never
 * prints. */
static void CPL_STDCALL record_gdal_message(CPLErr cls, CPLErrorNum num, const char *msg) {
    (void)num;
    if (cls >= CE_Failure && msg) {
        snprintf(tl_gdalmsg, sizeof tl_gdalmsg, "%s", msg);
    } else if (msg && (cls == CE_Warning || cls == CE_Debug)) {
        st_log(cls == CE_Warning ? STRATA_LOG_WARNING : STRATA_LOG_DEBUG, "GDAL: %s", msg);
    }
}

void st_gdal_quiet_begin(void) {
    if (tl_quiet_depth++ == 0) {
        tl_gdalmsg[0] = '\0';
        CPLPushErrorHandler(record_gdal_message);
        /* GDAL's netCDF driver reaches libhdf5 through netCDF-C, which probes attributes that
         * may not exist (_QuantizeBitGroom...): libhdf5 prints an "HDF5-DIAG" block for each
         * failed probe. Its automatic printing is per thread (threadsafe build): off here,
         * restored at the end. Failures still reach strata's messages through GDAL. */
        H5Eget_auto2(H5E_DEFAULT, &tl_h5_func, &tl_h5_data);
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    }
}

void st_gdal_quiet_end(void) {
    if (--tl_quiet_depth == 0) {
        CPLPopErrorHandler();
        H5Eset_auto2(H5E_DEFAULT, tl_h5_func, tl_h5_data);
    }
}

/* One funnel for allocations: a test can make the Nth one fail. */
static atomic_long fail_countdown = -1;
static atomic_int fail_configured;

long strata_testing_fail_alloc(long n) {
    atomic_store(&fail_configured, 1);
    return atomic_exchange(&fail_countdown, n < 0 ? -1 : n);
}

static bool alloc_should_fail(void) {
    if (!atomic_exchange(&fail_configured, 1)) {
        const char *env = getenv("STRATA_FAIL_ALLOC");
        if (env) {
            atomic_store(&fail_countdown, atol(env));
        }
    }
    if (atomic_load(&fail_countdown) < 0) {
        return false;
    }
    return atomic_fetch_sub(&fail_countdown, 1) == 0;
}

void *st_malloc(size_t n) {
    return alloc_should_fail() ? NULL : malloc(n ? n : 1);
}

void *st_calloc(size_t count, size_t size) {
    return alloc_should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *st_realloc(void *p, size_t n) {
    return alloc_should_fail() ? NULL : realloc(p, n ? n : 1);
}

bool st_grow(void *array, size_t *cap, size_t need, size_t esize, size_t first) {
    void **a = array;
    if (need <= *cap) {
        return true;
    }
    size_t n = *cap ? *cap : first;
    while (n < need) {
        n *= 2;
    }
    void *grown = st_realloc(*a, n * esize);
    if (!grown) {
        return false;
    }
    *a = grown;
    *cap = n;
    return true;
}

void st_pool_init(st_pool *p) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
}

void *st_pool_take(st_pool *p) {
    pthread_mutex_lock(&p->lock);
    void *item = p->n ? p->items[--p->n] : NULL;
    pthread_mutex_unlock(&p->lock);
    return item;
}

bool st_pool_give(st_pool *p, void *item) {
    pthread_mutex_lock(&p->lock);
    bool kept = st_grow(&p->items, &p->cap, p->n + 1, sizeof *p->items, 4);
    if (kept) {
        p->items[p->n++] = item;
    }
    pthread_mutex_unlock(&p->lock);
    return kept;
}

void st_pool_destroy(st_pool *p, void (*free_item)(void *)) {
    for (size_t i = 0; i < p->n; i++) {
        free_item(p->items[i]);
    }
    free(p->items);
    pthread_mutex_destroy(&p->lock);
    memset(p, 0, sizeof *p);
}

char *st_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = st_malloc(n);
    if (d) {
        memcpy(d, s, n);
    }
    return d;
}

strata_status st_nomem(const char *what) {
    return st_fail(STRATA_ERR_NOMEM, "out of memory allocating %s", what);
}

static void register_drivers(void) {
    GDALAllRegister();
}

void st_gdal_init(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_drivers);
}
