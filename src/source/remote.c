/* Network paths: GDAL settings for Cloud-Optimized GeoTIFFs over HTTP and object stores, and
 * a second chance after a failed open. */
#include "source/source.h"

#include <cpl_conv.h>
#include <cpl_http.h>
#include <cpl_vsi.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* GDAL's defaults favour a single interactive open; a job reading thousands of blocks from a
 * server wants retries (GDAL backs off: each delay is about twice the last), merged ranges,
 * and no folder listing per open (an HTTP GET, or an S3 LIST, for nothing). */
static const char *const remote_defaults[][2] = {
    {"GDAL_HTTP_MAX_RETRY", "4"},
    {"GDAL_HTTP_RETRY_DELAY", "0.5"},
    {"GDAL_HTTP_MERGE_CONSECUTIVE_RANGES", "YES"},
    {"GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR"},
};

static void configure_once(void) {
    for (size_t i = 0; i < sizeof remote_defaults / sizeof remote_defaults[0]; i++) {
        /* What the user set (environment, --config, CPLSetConfigOption) wins. */
        if (!CPLGetConfigOption(remote_defaults[i][0], NULL)) {
            CPLSetConfigOption(remote_defaults[i][0], remote_defaults[i][1]);
        }
    }
}

void st_remote_configure(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_once);
}

bool st_remote_path(const char *path) {
    static const char *const prefixes[] = {"/vsicurl/", "/vsis3/",  "/vsigs/",    "/vsiaz/",
                                           "/vsiadls/", "/vsioss/", "/vsiswift/", "/vsiwebhdfs/"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0) {
            return true;
        }
    }
    return false;
}

/* GDAL 3.6 remembers a failed HEAD of a /vsicurl/ file as "does not exist" for the life of
 * the process, so one 503 during an open would fail every later open of that file without
 * asking the server again. Forgetting the file makes the next open a real attempt. */
bool st_remote_forget(const char *path) {
    if (!st_remote_path(path)) {
        return false;
    }
    VSICurlPartialClearCache(path);
    return true;
}

unsigned char *st_remote_head(const char *path, size_t n, size_t *got, uint64_t *size) {
    st_gdal_quiet_begin();
    VSIStatBufL sb;
    VSILFILE *fp = VSIFOpenL(path, "rb");
    unsigned char *p = fp ? st_malloc(n) : NULL;
    *got = p ? VSIFReadL(p, 1, n, fp) : 0;
    if (fp) {
        VSIFCloseL(fp);
    }
    *size = *got && VSIStatL(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    st_gdal_quiet_end();
    if (*got < 8) {
        free(p);
        return NULL;
    }
    return p;
}
