/* Reads a remote GeoTIFF's block layout from its header bytes and decodes its blocks as
 * libtiff does (see rtiff.h). Every read of the header is bounds-checked: the bytes come from
 * outside. */
#include "source/rtiff.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

typedef struct view {
    const unsigned char *p;
    size_t n;
    bool big;
    uint64_t need; /* the furthest byte a read wanted */
} view;

static bool get(view *v, uint64_t off, size_t len, uint64_t *out) {
    if (off + len > v->need) {
        v->need = off + len;
    }
    if (off > v->n || len > v->n - off) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        x = (x << 8) | v->p[off + len - 1 - i];
    }
    *out = x;
    return true;
}

static size_t type_size(uint64_t type) {
    static const size_t sizes[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
    return type < sizeof sizes / sizeof sizes[0] ? sizes[type] : 0;
}

typedef struct entry {
    uint64_t tag, type, count, at; /* at: where the values are */
} entry;

/* Value i of an integer entry (SHORT, LONG, LONG8). */
static bool value(view *v, const entry *e, uint64_t i, uint64_t *out) {
    size_t s = type_size(e->type);
    if ((e->type != 3 && e->type != 4 && e->type != 16) || i >= e->count) {
        return false;
    }
    return get(v, e->at + i * s, s, out);
}

static bool array(view *v, const entry *e, size_t n, uint64_t **out) {
    if (e->count != n) {
        return false;
    }
    uint64_t *a = st_malloc(n * sizeof *a);
    if (!a) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!value(v, e, i, &a[i])) {
            free(a);
            return false;
        }
    }
    *out = a;
    return true;
}

void st_rtiff_clear(st_rtiff *t) {
    free(t->off);
    free(t->cnt);
    memset(t, 0, sizeof *t);
}

static GDALDataType gdal_type(unsigned bps, unsigned fmt) {
    switch (fmt * 100 + bps) {
    case 108:
        return GDT_Byte;
    case 116:
        return GDT_UInt16;
    case 216:
        return GDT_Int16;
    case 132:
        return GDT_UInt32;
    case 232:
        return GDT_Int32;
    case 164:
        return GDT_UInt64;
    case 264:
        return GDT_Int64;
    case 332:
        return GDT_Float32;
    case 364:
        return GDT_Float64;
    default:
        return GDT_Unknown; /* signed bytes are Byte with a flag in GDAL 3.6: left to GDAL */
    }
}

int st_rtiff_parse(const unsigned char *p, size_t n, st_rtiff *t, uint64_t *need) {
    memset(t, 0, sizeof *t);
    view v = {p, n, false, 0};
    uint64_t magic, ifd, nent;
    if (n < 8 || p[0] != 'I' || p[1] != 'I' || !get(&v, 2, 2, &magic) ||
        (magic != 42 && magic != 43)) {
        return n < 8 ? ST_RTIFF_MORE : ST_RTIFF_UNSUPPORTED;
    }
    v.big = magic == 43;
    size_t word = v.big ? 8 : 4, esize = v.big ? 20 : 12, csize = v.big ? 8 : 2;
    if (!get(&v, v.big ? 8 : 4, word, &ifd) || !get(&v, ifd, csize, &nent)) {
        *need = v.need;
        return ST_RTIFF_MORE;
    }
    if (nent == 0 || nent > 4096 || !get(&v, ifd + csize + nent * esize - 1, 1, &magic)) {
        *need = v.need;
        return nent == 0 || nent > 4096 ? ST_RTIFF_UNSUPPORTED : ST_RTIFF_MORE;
    }
    uint64_t w = 0, h = 0, bps = 0, comp = 1, spp = 1, rps = UINT32_MAX, planar = 1, pred = 1,
             tw = 0, th = 0, fmt = 1;
    entry offs = {0}, cnts = {0};
    for (uint64_t i = 0; i < nent; i++) {
        uint64_t at = ifd + csize + i * esize;
        entry e;
        get(&v, at, 2, &e.tag);
        get(&v, at + 2, 2, &e.type);
        get(&v, at + 4, word, &e.count);
        size_t s = type_size(e.type);
        if (s == 0 || e.count > (1u << 28)) {
            continue;
        }
        e.at = at + 4 + word;
        if (s * e.count > word && !get(&v, e.at, word, &e.at)) {
            return ST_RTIFF_UNSUPPORTED;
        }
        uint64_t x = 0;
        switch (e.tag) {
        case TIFFTAG_STRIPOFFSETS:
        case TIFFTAG_TILEOFFSETS:
            offs = e;
            continue;
        case TIFFTAG_STRIPBYTECOUNTS:
        case TIFFTAG_TILEBYTECOUNTS:
            cnts = e;
            continue;
        case TIFFTAG_BITSPERSAMPLE:
        case TIFFTAG_SAMPLEFORMAT:
            /* Every sample must have the same: GDAL's bands share one type. */
            for (uint64_t k = 0; k < e.count; k++) {
                uint64_t y;
                if (!value(&v, &e, k, &y) || (k > 0 && y != x)) {
                    return ST_RTIFF_UNSUPPORTED;
                }
                x = y;
            }
            *(e.tag == TIFFTAG_BITSPERSAMPLE ? &bps : &fmt) = x;
            continue;
        default:
            break;
        }
        uint64_t *dst = e.tag == TIFFTAG_IMAGEWIDTH        ? &w
                        : e.tag == TIFFTAG_IMAGELENGTH     ? &h
                        : e.tag == TIFFTAG_COMPRESSION     ? &comp
                        : e.tag == TIFFTAG_SAMPLESPERPIXEL ? &spp
                        : e.tag == TIFFTAG_ROWSPERSTRIP    ? &rps
                        : e.tag == TIFFTAG_PLANARCONFIG    ? &planar
                        : e.tag == TIFFTAG_PREDICTOR       ? &pred
                        : e.tag == TIFFTAG_TILEWIDTH       ? &tw
                        : e.tag == TIFFTAG_TILELENGTH      ? &th
                                                           : NULL;
        if (dst && !value(&v, &e, 0, dst)) {
            *need = v.need;
            return v.need > n ? ST_RTIFF_MORE : ST_RTIFF_UNSUPPORTED;
        }
    }
    t->type = gdal_type((unsigned)bps, (unsigned)fmt);
    if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX || spp == 0 || spp > 256 ||
        t->type == GDT_Unknown || (comp != 1 && comp != 8 && comp != 32946 && comp != 50000) ||
        pred > 3 || (pred == 3 && fmt != 3) || (pred == 2 && fmt == 3) || planar < 1 ||
        planar > 2 || !offs.count || !cnts.count || (tw == 0) != (th == 0) ||
        (tw && (tw > 65536 || th > 65536)) || rps == 0) {
        return ST_RTIFF_UNSUPPORTED;
    }
    t->tiled = tw != 0;
    t->width = (uint32_t)w;
    t->height = (uint32_t)h;
    t->bw = tw ? (uint32_t)tw : (uint32_t)w;
    t->bh = tw ? (uint32_t)th : (uint32_t)(rps < h ? rps : h);
    t->nbx = (uint32_t)((w + t->bw - 1) / t->bw);
    t->nby = (uint32_t)((h + t->bh - 1) / t->bh);
    t->spp = (uint16_t)spp;
    t->bps = (uint16_t)bps;
    t->separate = planar == 2 && spp > 1;
    t->comp = (uint16_t)comp;
    t->pred = (uint16_t)pred;
    t->nstriles = (size_t)t->nbx * t->nby * (t->separate ? spp : 1);
    if ((uint64_t)t->bw * t->bh * spp * (bps / 8) > ((uint64_t)1 << 31)) {
        return ST_RTIFF_UNSUPPORTED;
    }
    if (!array(&v, &offs, t->nstriles, &t->off) || !array(&v, &cnts, t->nstriles, &t->cnt)) {
        st_rtiff_clear(t);
        *need = v.need;
        return v.need > n ? ST_RTIFF_MORE : ST_RTIFF_UNSUPPORTED;
    }
    return ST_RTIFF_OK;
}

size_t st_rtiff_strile(const st_rtiff *t, int bx, int by, int sample) {
    size_t plane = (size_t)t->nbx * t->nby;
    return (t->separate ? (size_t)sample * plane : 0) + (size_t)by * t->nbx + (size_t)bx;
}

/* Samples in one decoded row of a block, and rows in block row by. */
static size_t row_samples(const st_rtiff *t) {
    return (size_t)t->bw * (t->separate ? 1 : t->spp);
}

size_t st_rtiff_work_size(const st_rtiff *t) {
    size_t row = row_samples(t) * (t->bps / 8);
    return row * t->bh + row;
}

/* TIFF predictor 2 undone on one row of n samples, stride samples apart. */
#define HOR_ACC(type)                                                                              \
    static void hor_acc_##type(void *row, size_t n, size_t stride) {                               \
        type *v = row;                                                                             \
        for (size_t i = stride; i < n; i++) {                                                      \
            v[i] = (type)(v[i] + v[i - stride]);                                                   \
        }                                                                                          \
    }
HOR_ACC(uint8_t)
HOR_ACC(uint16_t)
HOR_ACC(uint32_t)
HOR_ACC(uint64_t)

/* TIFF predictor 3 undone on one row of n samples of bps bytes (libtiff's fpAcc): the bytes
 * are summed stride apart, then each sample's bytes are gathered from bps planes, most
 * significant first, into little-endian order. */
static void fp_acc(uint8_t *row, uint8_t *tmp, size_t n, size_t bps, size_t stride) {
    size_t bytes = n * bps;
    for (size_t i = stride; i < bytes; i++) {
        row[i] = (uint8_t)(row[i] + row[i - stride]);
    }
    memcpy(tmp, row, bytes);
    for (size_t i = 0; i < n; i++) {
        for (size_t b = 0; b < bps; b++) {
            row[bps * i + b] = tmp[(bps - b - 1) * n + i];
        }
    }
}

bool st_rtiff_decode(const st_rtiff *t, int by, int sample, const unsigned char *src, size_t n,
                     void *work, void *out) {
    size_t esize = t->bps / 8, rs = row_samples(t), row = rs * esize;
    /* A strip at the bottom holds only the image's remaining rows. */
    size_t rows = t->bh;
    if (!t->tiled && (size_t)(by + 1) * t->bh > t->height) {
        rows = t->height - (size_t)by * t->bh;
    }
    size_t want = row * rows;
    uint8_t *buf = work, *tmp = buf + row * t->bh;
    if (t->comp == 1) {
        if (n < want) {
            return false;
        }
        memcpy(buf, src, want);
    } else if (t->comp == 50000) {
        size_t got = ZSTD_decompress(buf, want, src, n);
        if (ZSTD_isError(got) || got != want) {
            return false;
        }
    } else {
        struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
        size_t got = 0;
        enum libdeflate_result res =
            d ? libdeflate_zlib_decompress(d, src, n, buf, want, &got) : LIBDEFLATE_BAD_DATA;
        libdeflate_free_decompressor(d);
        if (res != LIBDEFLATE_SUCCESS || got != want) {
            return false;
        }
    }
    size_t stride = t->separate ? 1 : t->spp;
    for (size_t y = 0; y < rows && t->pred > 1; y++) {
        uint8_t *r = buf + y * row;
        if (t->pred == 3) {
            fp_acc(r, tmp, rs, esize, stride);
        } else if (esize == 1) {
            hor_acc_uint8_t(r, rs, stride);
        } else if (esize == 2) {
            hor_acc_uint16_t(r, rs, stride);
        } else if (esize == 4) {
            hor_acc_uint32_t(r, rs, stride);
        } else {
            hor_acc_uint64_t(r, rs, stride);
        }
    }
    if (t->separate || t->spp == 1) {
        memcpy(out, buf, want);
    } else {
        uint8_t *o = out;
        size_t px = rows * t->bw;
        for (size_t i = 0; i < px; i++) {
            memcpy(o + i * esize, buf + (i * t->spp + (size_t)sample) * esize, esize);
        }
    }
    return true;
}
