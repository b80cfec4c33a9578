/* strata_stac_search through the public API, without a server: argument errors are found
 * before any request, header values never reach a message, and a refused connection names
 * the URL. The searches themselves are tested against a loopback API in test_search.py. */
#include "harness.h"

#include <stdio.h>

static const char SECRET[] = "Bearer very-secret-token-value";

static void test_arguments(void) {
    strata_stac_search_opts o;
    strata_stac_search_opts_init(&o);
    char *json = (char *)"unchanged";
    CHECK_STATUS(strata_stac_search(NULL, &o, &json), STRATA_ERR_INVALID_ARG);
    CHECK_STATUS(strata_stac_search("ftp://example.invalid/api", &o, &json),
                 STRATA_ERR_INVALID_ARG);
    CHECK(json == NULL);
    CHECK_CONTAINS(strata_errmsg(), "ftp://example.invalid/api");
    o.ncollections = 2; /* without the list */
    CHECK_STATUS(strata_stac_search("http://127.0.0.1:1/api", &o, &json), STRATA_ERR_INVALID_ARG);
    strata_stac_search_opts_init(&o);
    o.datetime = "2021-01-01/next week";
    CHECK_STATUS(strata_stac_search("http://127.0.0.1:1/api", &o, &json), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "--datetime '2021-01-01/next week'");
    o.datetime = "2021-01-01T00:00:00Z/..";
    o.query = "eo:cloud_cover<20,platform";
    CHECK_STATUS(strata_stac_search("http://127.0.0.1:1/api", &o, &json), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "query term 'platform'");
    o.query = "{\"eo:cloud_cover\": {\"lt\": 20}}";
    o.filter = "[1, 2]";
    CHECK_STATUS(strata_stac_search("http://127.0.0.1:1/api", &o, &json), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "CQL2-JSON");
}

static void test_headers_hidden(void) {
    strata_stac_search_opts o;
    strata_stac_search_opts_init(&o);
    char bad[128], good[128];
    snprintf(bad, sizeof bad, "Authorization %s", SECRET); /* no colon */
    snprintf(good, sizeof good, "Authorization: %s", SECRET);
    const char *headers[] = {good, bad};
    o.headers = headers;
    o.nheaders = 2;
    char *json = NULL;
    CHECK_STATUS(strata_stac_search("http://127.0.0.1:1/api", &o, &json), STRATA_ERR_INVALID_ARG);
    CHECK_CONTAINS(strata_errmsg(), "not 'Name: value'");
    CHECK(strstr(strata_errmsg(), "very-secret") == NULL);
    /* A well-formed header reaches the request; the failure names the URL, not the value. */
    o.nheaders = 1;
    CHECK_STATUS(strata_stac_search("http://127.0.0.1:1/api", &o, &json), STRATA_ERR_IO);
    CHECK_CONTAINS(strata_errmsg(), "http://127.0.0.1:1/api");
    CHECK(strstr(strata_errmsg(), "very-secret") == NULL);
    CHECK(json == NULL);
}

static void test_collection_errors(void) {
    strata_collection *c = (strata_collection *)&c;
    CHECK_STATUS(strata_collection_from_stac_search("http://127.0.0.1:1/", NULL, NULL, &c),
                 STRATA_ERR_IO);
    CHECK(c == NULL);
    CHECK_STATUS(strata_collection_from_stac_search("http://127.0.0.1:1/", NULL, NULL, NULL),
                 STRATA_ERR_INVALID_ARG);
}

TEST_MAIN(test_arguments, test_headers_hidden, test_collection_errors)
