/* The template's GeoTIFF georeferencing tags (pixel scale, tie points, transformation and the
 * GeoTIFF keys), copied as they are into GeoTIFF outputs of the same grid. The other way, GDAL
 * builds the template's CRS through PROJ and writes it back as keys, which opens PROJ's
 * SQLite database before any work starts: a fixed cost that shows on short runs. Copying
 * keeps the output's georeferencing the template's, bit for bit. */
#include "source/source.h"

#include <stdlib.h>
#include <string.h>

/* The tags, with libgeotiff's field definitions, which GDAL registers with libtiff: each
 * double or short array passes a 16-bit count, the ASCII params a string. */
static const struct {
    uint32_t tag;
    size_t esize; /* 0: ASCII */
} tags[ST_NGEOTAGS] = {
    {33550, sizeof(double)},   /* ModelPixelScale */
    {33922, sizeof(double)},   /* ModelTiepoint */
    {34264, sizeof(double)},   /* ModelTransformation */
    {34735, sizeof(uint16_t)}, /* GeoKeyDirectory */
    {34736, sizeof(double)},   /* GeoDoubleParams */
    {34737, 0},                /* GeoAsciiParams */
};

/* Bytes of count values of tag i (an ASCII count includes the final NUL). */
static size_t tag_bytes(int i, uint32_t count) {
    return count * (tags[i].esize ? tags[i].esize : 1);
}

/* A copy of count values of tag i, or NULL. */
static void *copy_values(int i, uint32_t count, const void *v) {
    void *c = st_malloc(tag_bytes(i, count));
    return c ? memcpy(c, v, tag_bytes(i, count)) : NULL;
}

TIFF *st_gdal_tiff(GDALDatasetH ds) {
    GDALDriverH drv = GDALGetDatasetDriver(ds);
    const char *libtiff = drv ? GDALGetMetadataItem(drv, "LIBTIFF", NULL) : NULL;
    if (!libtiff || strcmp(libtiff, TIFFGetVersion()) != 0 ||
        strcmp(GDALGetDriverShortName(drv), "GTiff") != 0) {
        return NULL;
    }
    return GDALGetInternalHandle(ds, "TIFF_HANDLE");
}

void st_geotags_free(st_geotags *g) {
    for (int i = 0; g && i < ST_NGEOTAGS; i++) {
        free(g->values[i]);
    }
    free(g);
}

/* A tag of GDAL's libtiff handle, copied. Absent tags leave count 0. */
static bool read_tag(TIFF *tif, int i, st_geotags *g) {
    void *v = NULL;
    uint16_t count = 0;
    bool has = tags[i].esize == 0 ? TIFFGetField(tif, tags[i].tag, &v)
                                  : TIFFGetField(tif, tags[i].tag, &count, &v);
    if (!has || !v || (tags[i].esize && count == 0)) {
        return true;
    }
    g->count[i] = tags[i].esize ? count : (uint32_t)strlen(v) + 1;
    g->values[i] = copy_values(i, g->count[i], v);
    return g->values[i] != NULL;
}

st_geotags *st_geotags_read(GDALDatasetH ds) {
    TIFF *tif = st_gdal_tiff(ds);
    st_geotags *g = tif ? st_calloc(1, sizeof *g) : NULL;
    for (int i = 0; g && i < ST_NGEOTAGS; i++) {
        if (!read_tag(tif, i, g)) {
            st_geotags_free(g);
            g = NULL;
        }
    }
    /* Without keys GDAL reads no CRS from the file: leave that case to the general path. */
    if (g && g->count[3] == 0) {
        st_geotags_free(g);
        g = NULL;
    }
    return g;
}

st_geotags *st_geotags_copy(const st_geotags *g) {
    st_geotags *c = g ? st_calloc(1, sizeof *c) : NULL;
    for (int i = 0; c && i < ST_NGEOTAGS; i++) {
        if (g->count[i] == 0) {
            continue;
        }
        if (!(c->values[i] = copy_values(i, g->count[i], g->values[i]))) {
            st_geotags_free(c);
            return NULL;
        }
        c->count[i] = g->count[i];
    }
    return c;
}

bool st_geotags_write(const st_geotags *g, GDALDatasetH ds) {
    TIFF *tif = st_gdal_tiff(ds);
    for (int i = 0; tif && i < ST_NGEOTAGS; i++) {
        if (g->count[i] == 0) {
            continue;
        }
        int ok = tags[i].esize == 0
                     ? TIFFSetField(tif, tags[i].tag, (const char *)g->values[i])
                     : TIFFSetField(tif, tags[i].tag, (uint16_t)g->count[i], g->values[i]);
        if (!ok) {
            return false;
        }
    }
    return tif != NULL;
}
