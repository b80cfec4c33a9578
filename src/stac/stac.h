/* STAC sources: the parser (stac_parse.c: JSON text to items, filters, href resolution, no
 * GDAL), the collection builder (stac.c) and remote-read settings (stac_remote.c). */
#ifndef STRATA_STAC_H
#define STRATA_STAC_H

#include "source/source.h"

/* The projection of an asset, from the projection extension (asset fields override the
 * item's). Each part is known separately: items often give some and not others. */
typedef struct st_stac_proj {
    bool has_epsg, has_transform, has_shape;
    int epsg;
    double gt[6]; /* GDAL order, converted from proj:transform's affine order */
    int rows, cols;
} st_stac_proj;

/* The raster extension's description of an asset's bands. */
typedef struct st_stac_bands {
    int n;              /* 0: no raster:bands */
    strata_dtype dtype; /* UNKNOWN when absent, mixed or not a type strata reads */
    int *has_nodata;    /* [n] */
    double *nodata;     /* [n] */
} st_stac_bands;

typedef struct st_stac_asset {
    const char *key; /* points into the item's key list */
    char *href;      /* as written, then resolved and rewritten by st_stac_resolve */
    st_stac_proj proj;
    st_stac_bands bands;
} st_stac_asset;

typedef struct st_stac_item {
    char *id;     /* "item #N" (1-based position) when the item has none */
    char *self;   /* href of the "self" link, or NULL */
    size_t index; /* position in the input, to keep sorting stable */
    int64_t time;
    bool has_bbox;
    double bbox[4];        /* minx, miny, maxx, maxy */
    st_stac_asset *assets; /* [nassets], in the order of the requested keys */
} st_stac_item;

typedef struct st_stac_items {
    st_stac_item *items;
    size_t n;
    char **keys; /* the asset keys, one per band group */
    size_t nassets;
    size_t dropped_bbox; /* filter statistics, for the "nothing left" message */
} st_stac_items;

/* Parses STAC JSON text of len bytes (any bytes: it is fuzzed): an Item, an ItemCollection /
 * FeatureCollection / API search response, or a JSON array of items. keys NULL picks the first
 * asset of the first item. Every item must have every key, each with an href, and a datetime
 * (or start_datetime). Errors name the item. */
strata_status st_stac_parse(const char *text, size_t len, const char *const *keys, size_t nkeys,
                            st_stac_items *out);
void st_stac_items_free(st_stac_items *items);

/* Drops items whose bbox misses bbox (lon/lat; items without a bbox stay), orders them by time
 * unless keep_order (stable), and keeps the first max_items (0: all). */
void st_stac_select(st_stac_items *items, const strata_stac_opts *opts);

/* Makes every href absolute against the item's self link, else base (a path or URL, may be
 * NULL), applies the rewrite callback, then maps URLs to GDAL paths: http(s):// to /vsicurl/,
 * s3:// to /vsis3/, gs:// to /vsigs/, file:// to a local path. */
strata_status st_stac_resolve(st_stac_items *items, const char *base, strata_href_fn rewrite,
                              void *user);

/* Joins a relative href to the folder of base ("http://h/a/b.json" + "../c.tif" gives
 * "http://h/c.tif"). Returns a malloc'd string or NULL when out of memory. */
char *st_stac_join(const char *base, const char *href);
/* The GDAL name of an absolute href (malloc'd), or NULL when out of memory. */
char *st_stac_gdal_path(const char *href);

/* Reads a whole STAC document from a path, an http(s) URL or "-" (stdin) into a malloc'd,
 * NUL-terminated buffer (stac_remote.c). */
strata_status st_stac_read_source(const char *source, char **text, size_t *len);

#endif
