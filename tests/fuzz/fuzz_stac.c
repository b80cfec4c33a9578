/* libFuzzer target: the STAC parser (stac_parse.c) on any bytes, then the item filters and the
 * href resolution it feeds. Must give STRATA_OK or an error, never a crash or a leak. The first
 * byte picks the asset keys, the second the filters, so one input explores several paths. */
#include "stac/stac.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *rewrite(const char *href, void *user) {
    (void)user;
    return strncmp(href, "http://", 7) == 0 ? st_stac_join("s3://mirror/x/", href + 7) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const keys[] = {"B04", "B08", "data"};
    size_t nkeys = size > 0 ? data[0] % 4 : 0;
    unsigned flags = size > 1 ? data[1] : 0;
    st_stac_items items;
    if (st_stac_parse((const char *)data, size, nkeys ? keys : NULL, nkeys, &items) != STRATA_OK) {
        return 0;
    }
    strata_stac_opts o;
    memset(&o, 0, sizeof o);
    o.has_bbox = flags & 1;
    o.keep_order = (flags >> 1) & 1;
    o.max_items = flags >> 4;
    o.bbox[0] = (flags & 4) ? 170 : -10; /* 170 > 40: across the antimeridian */
    o.bbox[1] = -10;
    o.bbox[2] = 40;
    o.bbox[3] = 40;
    st_stac_select(&items, &o);
    const char *base = (flags & 8) ? "http://example.com/stac/a/items.json?x=1" : "dir/items.json";
    st_stac_resolve(&items, base, (flags & 2) ? rewrite : NULL, NULL);
    st_stac_items_free(&items);
    return 0;
}
