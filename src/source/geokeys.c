/* The tags of a GeoTIFF that fix what strata checks of each file, as raw bytes read from its
 * first IFD: size, samples, sample type, the georeferencing (pixel scale, tie points, model
 * transformation), the CRS (GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams) and nodata. A file
 * whose tags equal the template's byte for byte has the template's grid and CRS, as long as
 * GDAL looks at no side-car file: comparing these few bytes spares building each file's CRS
 * through PROJ (a database query per file) and GDAL's GeoTIFF key parsing, the largest costs
 * of opening small files. Anything unexpected returns false, and the caller compares the slow
 * way. Every read is bounds-checked: the bytes come from outside. */
#include "source/source.h"
#include "common/bytes.h"
#include "common/tiff_ifd.h"

#include <cpl_vsi.h>
#include <stdlib.h>
#include <string.h>

enum { HEAD_FIRST = 4096, HEAD_BYTES = 65536, TAG_GEOKEYS = 34735 };

static const uint64_t compared_tags[] = {
    256,   /* ImageWidth */
    257,   /* ImageLength */
    258,   /* BitsPerSample */
    277,   /* SamplesPerPixel */
    339,   /* SampleFormat */
    33550, /* ModelPixelScale */
    33922, /* ModelTiepoint */
    34264, /* ModelTransformation */
    34735, /* GeoKeyDirectory */
    34736, /* GeoDoubleParams */
    34737, /* GeoAsciiParams */
    42113, /* GDAL_NODATA */
};

static bool compared(uint64_t tag) {
    for (size_t i = 0; i < sizeof compared_tags / sizeof compared_tags[0]; i++) {
        if (compared_tags[i] == tag) {
            return true;
        }
    }
    return false;
}

/* The head of a file being searched for the compared tags, and the blob they go to. */
typedef struct geokeys_walk {
    st_bytes head;
    unsigned char *out;
    size_t cap, *len;
    bool found; /* the GeoKeyDirectory was seen */
} geokeys_walk;

static strata_status read_head(void *ctx, uint64_t off, void *dst, size_t n) {
    const geokeys_walk *w = ctx;
    return st_bytes_copy(&w->head, off, dst, n) ? STRATA_OK : STRATA_ERR_IO;
}

/* Appends tag, type, count and the value bytes of one compared entry to the blob. */
static strata_status append_entry(void *ctx, const st_tiff *t, const st_tiff_entry *e) {
    geokeys_walk *w = ctx;
    size_t size = st_tiff_type_size(e->type);
    if (!compared(e->tag)) {
        return STRATA_OK;
    }
    if (!size || e->count > HEAD_BYTES) {
        return STRATA_ERR_IO;
    }
    size_t bytes = (size_t)e->count * size;
    unsigned char *dst = w->out + *w->len;
    if (bytes + 16 > w->cap - *w->len) {
        return STRATA_ERR_IO;
    }
    uint64_t at;
    if (st_tiff_values_offset(t, e, bytes, &at)) {
        if (!st_bytes_copy(&w->head, at, dst + 12, bytes)) {
            return STRATA_ERR_IO;
        }
    } else {
        memcpy(dst + 12, e->value, bytes);
    }
    memcpy(dst, e->bytes, 4); /* tag and type, in the file's byte order */
    memcpy(dst + 4, &e->count, sizeof e->count);
    *w->len += 12 + bytes;
    w->found = w->found || e->tag == TAG_GEOKEYS;
    return STRATA_OK;
}

bool st_geokeys_from_bytes(const unsigned char *p, size_t n, unsigned char *out, size_t cap,
                           size_t *len) {
    st_tiff t;
    *len = 0;
    if (st_tiff_header(p, n, &t) != ST_TIFF_HEADER_OK) {
        return false;
    }
    geokeys_walk w = {.head = {p, n, t.be}, .out = out, .cap = cap, .len = len};
    return st_tiff_walk_ifd(&t, n, NULL, read_head, append_entry, &w) == STRATA_OK && w.found;
}

/* Reads the first n bytes of path and extracts the tags; false when they are not all there. */
static bool geokeys_in_head(VSILFILE *f, size_t n, unsigned char **blob, size_t *len,
                            bool *short_file) {
    /* The blob holds at most every header byte once plus 16 bytes per compared tag. */
    size_t cap = n + 16 * sizeof compared_tags / sizeof compared_tags[0];
    unsigned char *head = st_malloc(n), *out = head ? st_malloc(cap) : NULL;
    size_t got = out && VSIFSeekL(f, 0, SEEK_SET) == 0 ? VSIFReadL(head, 1, n, f) : 0;
    bool ok = got && st_geokeys_from_bytes(head, got, out, cap, len);
    *short_file = got < n;
    free(head);
    if (!ok) {
        free(out);
        return false;
    }
    *blob = out;
    return true;
}

bool st_geokeys(const char *path, unsigned char **blob, size_t *len) {
    *blob = NULL;
    VSILFILE *f = VSIFOpenL(path, "rb");
    if (!f) {
        return false;
    }
    /* GDAL and most writers put the first IFD and its tag values in the first kilobytes, so
     * a small first read serves nearly every file; a stack of many small files would pay for
     * a large one on every open. */
    bool short_file;
    bool ok = geokeys_in_head(f, HEAD_FIRST, blob, len, &short_file) ||
              (!short_file && geokeys_in_head(f, HEAD_BYTES, blob, len, &short_file));
    VSIFCloseL(f);
    return ok;
}
