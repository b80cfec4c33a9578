/* libFuzzer target: one STAC API search response page (stac_page.c): the features, the
 * numberMatched and the "next" link (relative hrefs joined to the page URL, POST bodies
 * merged into the last request's body). Must give STRATA_OK or an error, never a crash or a
 * leak. The first byte picks the page URL and the previous body. */
#include "stac/stac_search.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const urls[] = {"http://127.0.0.1:8080/api/search?limit=5",
                                       "https://example.com/search", "http://h", "http://h/a/b/"};
    unsigned flags = size > 0 ? data[0] : 0;
    st_stac_page page;
    if (st_stac_page_parse((const char *)data, size, urls[flags % 4], &page) != STRATA_OK) {
        return 0;
    }
    json_t *prev = (flags & 4)
                       ? json_pack("{s:i,s:s,s:[s]}", "limit", 5, "token", "a", "collections", "s2")
                       : NULL;
    json_t *body = NULL;
    if (page.next.has && page.next.post &&
        st_stac_next_body(prev, &page.next, &body) == STRATA_OK) {
        char *text = json_dumps(body, JSON_COMPACT);
        if (text) {
            (void)st_stac_hash(text, strlen(text), ST_STAC_HASH_SEED);
        }
        free(text);
    }
    json_decref(body);
    json_decref(prev);
    st_stac_page_free(&page);
    return 0;
}
