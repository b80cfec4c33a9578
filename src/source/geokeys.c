/* The tags of a GeoTIFF that fix what strata checks of each file, as raw bytes read from its
 * first IFD: size, samples, sample type, the georeferencing (pixel scale, tie points, model
 * transformation), the CRS (GeoKeyDirectory, GeoDoubleParams, GeoAsciiParams) and nodata. A file
 * whose tags equal the template's byte for byte has the template's grid and CRS, as long as
 * GDAL looks at no side-car file: comparing these few bytes spares building each file's CRS
 * through PROJ (a database query per file) and GDAL's GeoTIFF key parsing, the largest costs
 * of opening small files. Anything unexpected returns false, and the caller compares the slow
 * way. Every read is bounds-checked: the bytes come from outside. */
#include "source/source.h"

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

typedef struct tiff_view {
    const unsigned char *p;
    size_t n;
    bool be, big;
} tiff_view;

static bool get(const tiff_view *v, uint64_t off, size_t len, uint64_t *out) {
    if (off > v->n || len > v->n - off) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        size_t k = v->be ? i : len - 1 - i;
        x = (x << 8) | v->p[off + k];
    }
    *out = x;
    return true;
}

static size_t type_size(uint64_t type) {
    static const size_t sizes[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
    return type < sizeof sizes / sizeof sizes[0] ? sizes[type] : 0;
}

/* Appends tag, type, count and the value bytes of one entry to out (capacity cap). */
static bool append_entry(const tiff_view *v, uint64_t entry, unsigned char *out, size_t cap,
                         size_t *len) {
    size_t word = v->big ? 8 : 4;
    uint64_t type, count, at;
    if (!get(v, entry + 2, 2, &type) || !get(v, entry + 4, word, &count) || !type_size(type) ||
        count > HEAD_BYTES) {
        return false;
    }
    size_t bytes = (size_t)count * type_size(type);
    at = entry + 4 + word;
    if (bytes > word && !get(v, at, word, &at)) {
        return false;
    }
    if (at > v->n || bytes > v->n - at || bytes + 16 > cap - *len) {
        return false;
    }
    memcpy(out + *len, v->p + entry, 4); /* tag and type */
    memcpy(out + *len + 4, &count, sizeof count);
    memcpy(out + *len + 12, v->p + at, bytes);
    *len += 12 + bytes;
    return true;
}

bool st_geokeys_from_bytes(const unsigned char *p, size_t n, unsigned char *out, size_t cap,
                           size_t *len) {
    tiff_view v = {p, n, n >= 2 && p[0] == 'M' && p[1] == 'M', false};
    uint64_t magic, ifd, nent;
    *len = 0;
    if (n < 8 || (memcmp(p, "II", 2) != 0 && memcmp(p, "MM", 2) != 0) || !get(&v, 2, 2, &magic) ||
        (magic != 42 && magic != 43)) {
        return false;
    }
    v.big = magic == 43;
    if (!get(&v, v.big ? 8 : 4, v.big ? 8 : 4, &ifd) || !get(&v, ifd, v.big ? 8 : 2, &nent)) {
        return false;
    }
    size_t esize = v.big ? 20 : 12, first = (size_t)ifd + (v.big ? 8 : 2);
    bool found = false;
    for (uint64_t i = 0; i < nent && i < 4096; i++) {
        uint64_t tag;
        if (!get(&v, first + i * esize, 2, &tag)) {
            return false;
        }
        if (compared(tag)) {
            if (!append_entry(&v, first + i * esize, out, cap, len)) {
                return false;
            }
            found = found || tag == TAG_GEOKEYS;
        }
    }
    return found;
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
