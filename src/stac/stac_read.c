/* Reading STAC documents from files, URLs or stdin. */
#include "stac/stac.h"

#include <cpl_http.h>
#include <cpl_vsi.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static strata_status read_stream(FILE *f, const char *name, char **text, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = st_malloc(cap);
    for (;;) {
        if (!buf) {
            return st_nomem("STAC text");
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) {
            break;
        }
        char *grown = st_realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
        }
        buf = grown;
        cap *= 2;
    }
    if (ferror(f)) {
        free(buf);
        return st_fail(STRATA_ERR_IO, "%s: cannot read: %s", name, strerror(errno));
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return STRATA_OK;
}

static strata_status read_file(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return st_fail(STRATA_ERR_IO, "%s: cannot open STAC file: %s", path, strerror(errno));
    }
    strata_status st = read_stream(f, path, text, len);
    fclose(f);
    return st;
}

/* CPLHTTPFetch follows GDAL_HTTP_MAX_RETRY and GDAL_HTTP_RETRY_DELAY like /vsicurl/ does. */
static strata_status read_url(const char *url, char **text, size_t *len) {
    st_gdal_init();
    st_gdal_quiet_begin();
    CPLHTTPResult *r = CPLHTTPFetch(url, NULL);
    st_gdal_quiet_end();
    strata_status st = STRATA_OK;
    if (!r || r->nStatus != 0 || r->pszErrBuf) {
        st = st_fail(STRATA_ERR_IO, "%s: cannot fetch STAC document: %s", url,
                     r && r->pszErrBuf ? r->pszErrBuf : "request failed");
    } else if (!(*text = st_malloc((size_t)r->nDataLen + 1))) {
        st = st_nomem("STAC text");
    } else {
        memcpy(*text, r->pabyData ? (const char *)r->pabyData : "", (size_t)r->nDataLen);
        (*text)[r->nDataLen] = '\0';
        *len = (size_t)r->nDataLen;
    }
    CPLHTTPDestroyResult(r);
    return st;
}

strata_status st_stac_read_source(const char *source, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    if (strcmp(source, "-") == 0) {
        return read_stream(stdin, "standard input", text, len);
    }
    if (strncasecmp(source, "http://", 7) == 0 || strncasecmp(source, "https://", 8) == 0) {
        st_remote_configure();
        return read_url(source, text, len);
    }
    return read_file(source, text, len);
}
