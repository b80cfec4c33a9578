/* Many HTTP range requests in flight at once, independent of the compute threads (fetch.c).
 * Internal.
 *
 * One thread drives a libcurl multi handle: requests wait in a first-in first-out queue and
 * start while fewer than the concurrency are running and the bytes held (running, and
 * arrived but not yet released) stay under the cap. Failed requests (5xx, 429, timeouts,
 * resets, short answers) are retried with a backoff that doubles from GDAL_HTTP_RETRY_DELAY,
 * up to GDAL_HTTP_MAX_RETRY times. Requests are served in the order they were queued, so a
 * caller that consumes its requests in that order always progresses, whatever the cap. */
#ifndef STRATA_FETCH_H
#define STRATA_FETCH_H

#include "source/source.h"

typedef struct st_fetch st_fetch;
typedef struct st_fetch_req st_fetch_req;

enum {
    ST_FETCH_CONCURRENCY = 64,      /* requests in flight by default: an object store's */
    ST_FETCH_MAX_BYTES = 256 << 20, /* bytes held at most by default */
};

/* A fetcher (its thread starts with the first request); NULL when out of memory. */
st_fetch *st_fetch_new(void);
/* Cancels what is queued or running, waits for the thread, frees every request. */
void st_fetch_free(st_fetch *f);
/* Requests in flight at most (0: the default) and bytes held at most. */
void st_fetch_set_limits(st_fetch *f, int concurrency, size_t max_bytes);
/* Queues a GET of bytes [off, off + len) of url. At least min_len bytes must come back
 * (fewer: the range passed the end of the file). NULL when out of memory. */
st_fetch_req *st_fetch_submit(st_fetch *f, const char *url, uint64_t off, size_t len,
                              size_t min_len);
/* Waits for r; STRATA_OK with its bytes (valid until released), or the failure, the message
 * naming the URL and the HTTP status or network error of the last try. */
strata_status st_fetch_wait(st_fetch *f, st_fetch_req *r, const unsigned char **data, size_t *n);
/* The size of the whole file r read from, as the server's answer to r gave it (after
 * st_fetch_wait succeeded); 0 when the answer did not say. */
uint64_t st_fetch_file_size(const st_fetch_req *r);
/* Gives r back (cancelled when still queued or running), its bytes with it. NULL is fine. */
void st_fetch_release(st_fetch *f, st_fetch_req *r);
/* True when fewer than twice the concurrency requests wait or run and less than half the
 * byte cap is held: more requests would keep the network busy. */
bool st_fetch_hungry(st_fetch *f);
/* Bytes received and requests running now. */
void st_fetch_stats(st_fetch *f, uint64_t *bytes, int *running);
/* True when the fetcher can do what GDAL would for path: a /vsicurl/ http(s) URL with no GDAL
 * HTTP option set that the fetcher does not apply (see fetch.c); *url is then the URL. */
bool st_fetch_handles(const char *path, const char **url);

#endif
