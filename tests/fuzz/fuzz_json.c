/* libFuzzer target: the collection and meta JSON parsers (the form in which collections
 * cross processes and MPI ranks). Any bytes must give a status, never a crash or a leak;
 * whatever parses must serialise and parse back to an equal collection. */
#include "strata.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const strata_collection *c) {
    char *json = NULL;
    strata_collection *back = NULL;
    if (strata_collection_to_json(c, &json) != STRATA_OK ||
        strata_collection_from_json(json, &back) != STRATA_OK ||
        !strata_meta_equal(strata_collection_meta(c), strata_collection_meta(back)) ||
        strata_collection_size(c) != strata_collection_size(back)) {
        abort();
    }
    strata_collection_free(back);
    strata_free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    strata_collection *c = NULL;
    if (strata_collection_from_json(text, &c) == STRATA_OK) {
        check_round_trip(c);
        strata_collection_free(c);
    }
    strata_meta *m = NULL;
    if (strata_meta_from_json(text, &m) == STRATA_OK) {
        strata_meta_free(m);
    }
    free(text);
    return 0;
}
