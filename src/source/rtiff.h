/* The layout of a remote GeoTIFF's full-resolution image, read from its header bytes, and the
 * decoding of its blocks from fetched bytes (rtiff.c). Internal.
 *
 * Only what decodes exactly as GDAL's GTiff driver does is taken: little-endian files,
 * 8 to 64-bit integer or floating-point samples, no compression, DEFLATE or ZSTD, predictor
 * 1, 2 or 3. Anything else is read through GDAL. */
#ifndef STRATA_RTIFF_H
#define STRATA_RTIFF_H

#include "source/source.h"

typedef struct st_rtiff {
    uint32_t width, height;
    bool tiled;
    uint32_t bw, bh;     /* a block: a tile, or a strip of bh rows */
    uint32_t nbx, nby;   /* blocks across and down */
    uint16_t spp, bps;   /* samples per pixel, bits per sample */
    bool separate;       /* one plane of blocks per sample */
    uint16_t comp, pred; /* TIFF compression and predictor */
    GDALDataType type;
    size_t nstriles;
    uint64_t *off, *cnt; /* [nstriles] */
} st_rtiff;

enum { ST_RTIFF_OK, ST_RTIFF_MORE, ST_RTIFF_UNSUPPORTED };

/* Parses the first IFD of a TIFF from its first n bytes. ST_RTIFF_MORE: the IFD or its
 * arrays end past n, *need bytes from the start hold them. */
int st_rtiff_parse(const unsigned char *p, size_t n, st_rtiff *t, uint64_t *need);
void st_rtiff_clear(st_rtiff *t);
/* The strile of block (bx, by) of sample. */
size_t st_rtiff_strile(const st_rtiff *t, int bx, int by, int sample);
/* Bytes of work buffer st_rtiff_decode needs. */
size_t st_rtiff_work_size(const st_rtiff *t);
/* Decodes block (bx, by) of sample from its n compressed bytes into out (bw * bh samples of
 * t->type, rows past the image's end left alone); false when the bytes do not decode to a
 * whole block (the caller then lets GDAL read it, which says what is wrong). */
bool st_rtiff_decode(const st_rtiff *t, int by, int sample, const unsigned char *src, size_t n,
                     void *work, void *out);

#endif
