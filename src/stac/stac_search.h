/* STAC API search: the page parser (stac_page.c, no GDAL, fuzzed) and the client
 * (stac_search.c: conformance, requests with retries, paging). */
#ifndef STRATA_STAC_SEARCH_H
#define STRATA_STAC_SEARCH_H

#include "stac/stac.h"

#include <jansson.h>

/* The "next" link of a page. */
typedef struct st_stac_next {
    bool has;
    bool post;    /* method POST (else GET) */
    bool merge;   /* POST: merge body into the previous request's body */
    char *href;   /* absolute http(s) URL */
    json_t *body; /* POST body of the link, or NULL */
} st_stac_next;

typedef struct st_stac_page {
    json_t *root;
    json_t *features;  /* borrowed from root: an array of objects */
    long long matched; /* numberMatched (or context.matched), -1 when not given */
    st_stac_next next;
} st_stac_page;

/* Parses one search response of len bytes (any bytes) fetched from url (the base of a
 * relative next href). Errors name url. */
strata_status st_stac_page_parse(const char *text, size_t len, const char *url, st_stac_page *out);
void st_stac_page_free(st_stac_page *p);
/* The body of the request next asks for: its body merged over prev when merge (prev may be
 * NULL), else its body (an empty object when it has none). */
strata_status st_stac_next_body(const json_t *prev, const st_stac_next *next, json_t **out);
bool st_stac_http_url(const char *url);
uint64_t st_stac_hash(const void *data, size_t len, uint64_t h);
#define ST_STAC_HASH_SEED 0xcbf29ce484222325u

#endif
