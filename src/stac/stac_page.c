/* One page of a STAC API search response: its items, numberMatched and the "next" link
 * (a GET href, or a POST with a body merged into the last one or replacing it). This is
 * outside input, fuzzed (tests/fuzz/fuzz_stac_page.c): every field is type-checked, every
 * message bounded. No GDAL here. */
#include "stac/stac_search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A server's URL lands in messages: cut it so that one long URL cannot fill the message. */
#define URL_FMT "%.300s"

void st_stac_page_free(st_stac_page *p) {
    if (!p) {
        return;
    }
    json_decref(p->root);
    json_decref(p->next.body);
    free(p->next.href);
    memset(p, 0, sizeof *p);
}

bool st_stac_http_url(const char *url) {
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) &&
           url[strncasecmp(url, "http://", 7) == 0 ? 7 : 8] != '\0';
}

static strata_status next_fail(const char *url, const char *what) {
    return st_fail(STRATA_ERR_PARSE, "STAC search " URL_FMT ": malformed \"next\" link: %s", url,
                   what);
}

static strata_status parse_next(const json_t *link, const char *url, st_stac_next *next) {
    const json_t *href = json_object_get(link, "href"), *method = json_object_get(link, "method");
    const json_t *body = json_object_get(link, "body"), *merge = json_object_get(link, "merge");
    const char *h = json_string_value(href), *m = json_string_value(method);
    if (!h || !h[0]) {
        return next_fail(url, "no href");
    }
    if (method && !json_is_null(method) &&
        (!m || (strcasecmp(m, "GET") && strcasecmp(m, "POST")))) {
        return next_fail(url, "method is neither GET nor POST");
    }
    if (body && !json_is_null(body) && !json_is_object(body)) {
        return next_fail(url, "body is not a JSON object");
    }
    if (merge && !json_is_null(merge) && !json_is_boolean(merge)) {
        return next_fail(url, "merge is not true or false");
    }
    next->post = m && strcasecmp(m, "POST") == 0;
    next->merge = json_is_true(merge);
    if (h[0] == '?') {
        /* A query alone keeps the page's path (RFC 3986, 5.2.2): "?token=2" pages /search. */
        size_t keep = strcspn(url, "?#"), n = strlen(h);
        if ((next->href = st_malloc(keep + n + 1))) {
            memcpy(next->href, url, keep);
            memcpy(next->href + keep, h, n + 1);
        }
    } else {
        next->href = st_stac_join(url, h);
    }
    if (!next->href) {
        return st_nomem("STAC next link");
    }
    if (!st_stac_http_url(next->href)) {
        return next_fail(url, "href is not an http(s) URL");
    }
    if (json_is_object(body)) {
        next->body = json_deep_copy(body);
        if (!next->body) {
            return st_nomem("STAC next link");
        }
    }
    next->has = true;
    return STRATA_OK;
}

static strata_status find_next(const json_t *links, const char *url, st_stac_next *next) {
    if (links && !json_is_null(links) && !json_is_array(links)) {
        return st_fail(STRATA_ERR_PARSE, "STAC search " URL_FMT ": \"links\" is not an array", url);
    }
    size_t i;
    const json_t *l;
    json_array_foreach(links, i, l) {
        const char *rel = json_string_value(json_object_get(l, "rel"));
        if (rel && strcmp(rel, "next") == 0) {
            if (next->has) {
                return next_fail(url, "more than one");
            }
            ST_TRY(parse_next(l, url, next));
        }
    }
    return STRATA_OK;
}

/* numberMatched is top level (STAC API 1.0) or in the context extension (earlier APIs). */
static long long matched_of(const json_t *root) {
    const json_t *n = json_object_get(root, "numberMatched");
    if (!json_is_integer(n)) {
        n = json_object_get(json_object_get(root, "context"), "matched");
    }
    return json_is_integer(n) && json_integer_value(n) >= 0 ? (long long)json_integer_value(n) : -1;
}

strata_status st_stac_page_parse(const char *text, size_t len, const char *url, st_stac_page *out) {
    memset(out, 0, sizeof *out);
    out->matched = -1;
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    if (!root) {
        return st_fail(STRATA_ERR_PARSE,
                       "STAC search " URL_FMT ": the response is not JSON (%.120s at line %d)", url,
                       err.text, err.line);
    }
    out->root = root;
    out->features = json_object_get(root, "features");
    if (!json_is_object(root) || !json_is_array(out->features)) {
        st_stac_page_free(out);
        return st_fail(STRATA_ERR_PARSE,
                       "STAC search " URL_FMT ": the response is not an ItemCollection "
                       "(no \"features\" array)",
                       url);
    }
    size_t i;
    const json_t *f;
    json_array_foreach(out->features, i, f) {
        if (!json_is_object(f)) {
            st_stac_page_free(out);
            return st_fail(STRATA_ERR_PARSE,
                           "STAC search " URL_FMT ": feature %zu is not a JSON object", url, i + 1);
        }
    }
    out->matched = matched_of(root);
    strata_status st = find_next(json_object_get(root, "links"), url, &out->next);
    if (st != STRATA_OK) {
        st_stac_page_free(out);
    }
    return st;
}

strata_status st_stac_next_body(const json_t *prev, const st_stac_next *next, json_t **out) {
    *out = NULL;
    if (next->merge && prev) {
        json_t *b = json_deep_copy(prev);
        if (!b || (next->body && json_object_update(b, next->body) != 0)) {
            json_decref(b);
            return st_nomem("STAC next body");
        }
        *out = b;
    } else {
        *out = next->body ? json_deep_copy(next->body) : json_object();
        if (!*out) {
            return st_nomem("STAC next body");
        }
    }
    return STRATA_OK;
}

/* FNV-1a: pages are compared by their bytes, to catch a server that serves one page again
 * under a new token. */
uint64_t st_stac_hash(const void *data, size_t len, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3u;
    }
    return h;
}
