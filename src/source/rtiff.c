/* Reads a remote GeoTIFF's block layout from its header bytes and decodes its blocks as
 * libtiff does (see rtiff.h). Every read of the header is bounds-checked: the bytes come from
 * outside. */
#include "source/rtiff.h"

#include "common/bytes.h"
#include "common/tiff_ifd.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

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

/* The header bytes a parse reads from, and what the walk of the IFD found. */
typedef struct parse {
    st_bytes head;
    uint64_t need; /* the furthest byte a read wanted */
    bool short_read, bad;
    uint64_t w, h, bps, comp, spp, rps, planar, pred, tw, th, fmt;
    st_tiff_entry offs, cnts;
} parse;

static strata_status read_head(void *ctx, uint64_t off, void *dst, size_t n) {
    parse *q = ctx;
    uint64_t end = off + n < off ? UINT64_MAX : off + n;
    q->need = end > q->need ? end : q->need;
    if (!st_bytes_copy(&q->head, off, dst, n)) {
        q->short_read = true;
        return STRATA_ERR_IO;
    }
    return STRATA_OK;
}

/* Value i of an integer entry (SHORT, LONG, LONG8); false when it is not one, or its bytes
 * are not in the head (q->short_read). */
static bool value(parse *q, const st_tiff *t, const st_tiff_entry *e, uint64_t i, uint64_t *out) {
    size_t s = st_tiff_type_size(e->type);
    if ((e->type != 3 && e->type != 4 && e->type != 16) || i >= e->count) {
        return false;
    }
    unsigned char b[8];
    uint64_t at;
    if (!st_tiff_values_offset(t, e, s * e->count, &at)) {
        memcpy(b, e->value + i * s, s);
    } else if (read_head(q, at + i * s, b, s) != STRATA_OK) {
        return false;
    }
    *out = st_load_uint(b, s, false);
    return true;
}

/* Value i of an integer entry as value() reads it; false only when the entry is not of an
 * integer type or has no value i. Values past the head are noted in q and read as 0. */
static bool value_or_later(parse *q, const st_tiff *t, const st_tiff_entry *e, uint64_t i,
                           uint64_t *out) {
    bool was_short = q->short_read;
    q->short_read = false;
    *out = 0;
    bool ok = value(q, t, e, i, out) || q->short_read;
    q->short_read = q->short_read || was_short;
    return ok;
}

/* Where the values of entry e end in the file (0 when they are in the entry). */
static uint64_t values_end(const st_tiff *t, const st_tiff_entry *e) {
    uint64_t at, bytes = st_tiff_type_size(e->type) * e->count;
    if (!st_tiff_values_offset(t, e, bytes, &at)) {
        return 0;
    }
    return at + bytes < at ? UINT64_MAX : at + bytes;
}

static bool array(parse *q, const st_tiff *t, const st_tiff_entry *e, size_t n, uint64_t **out) {
    if (e->count != n) {
        return false;
    }
    uint64_t *a = st_malloc(n * sizeof *a);
    if (!a) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!value(q, t, e, i, &a[i])) {
            free(a);
            return false;
        }
    }
    *out = a;
    return true;
}

/* One entry of the first IFD: the block index kept for later, the layout's tags read. A tag
 * whose value lies past the head is noted (q->need) and the walk goes on, so that one more
 * read brings every missing byte. */
static strata_status visit(void *ctx, const st_tiff *t, const st_tiff_entry *e) {
    parse *q = ctx;
    if (st_tiff_type_size(e->type) == 0 || e->count > (1u << 28)) {
        return STRATA_OK;
    }
    uint64_t x = 0;
    switch (e->tag) {
    case TIFFTAG_STRIPOFFSETS:
    case TIFFTAG_TILEOFFSETS:
        q->offs = *e;
        return STRATA_OK;
    case TIFFTAG_STRIPBYTECOUNTS:
    case TIFFTAG_TILEBYTECOUNTS:
        q->cnts = *e;
        return STRATA_OK;
    case TIFFTAG_BITSPERSAMPLE:
    case TIFFTAG_SAMPLEFORMAT:
        /* Every sample must have the same: GDAL's bands share one type. */
        for (uint64_t k = 0; k < e->count && k < 65536; k++) {
            uint64_t y;
            if (!value_or_later(q, t, e, k, &y)) {
                q->bad = true;
                return STRATA_ERR_UNSUPPORTED;
            }
            if (q->short_read) {
                return STRATA_OK; /* compared once the values are there */
            }
            if (k > 0 && y != x) {
                q->bad = true;
                return STRATA_ERR_UNSUPPORTED;
            }
            x = y;
        }
        *(e->tag == TIFFTAG_BITSPERSAMPLE ? &q->bps : &q->fmt) = x;
        return STRATA_OK;
    default:
        break;
    }
    uint64_t *dst = e->tag == TIFFTAG_IMAGEWIDTH        ? &q->w
                    : e->tag == TIFFTAG_IMAGELENGTH     ? &q->h
                    : e->tag == TIFFTAG_COMPRESSION     ? &q->comp
                    : e->tag == TIFFTAG_SAMPLESPERPIXEL ? &q->spp
                    : e->tag == TIFFTAG_ROWSPERSTRIP    ? &q->rps
                    : e->tag == TIFFTAG_PLANARCONFIG    ? &q->planar
                    : e->tag == TIFFTAG_PREDICTOR       ? &q->pred
                    : e->tag == TIFFTAG_TILEWIDTH       ? &q->tw
                    : e->tag == TIFFTAG_TILELENGTH      ? &q->th
                                                        : NULL;
    if (dst && !value_or_later(q, t, e, 0, dst)) {
        q->bad = true;
        return STRATA_ERR_UNSUPPORTED;
    }
    return STRATA_OK;
}

int st_rtiff_parse(const unsigned char *p, size_t n, st_rtiff *t, uint64_t *need) {
    memset(t, 0, sizeof *t);
    st_tiff head;
    switch (st_tiff_header(p, n, &head)) {
    case ST_TIFF_NOT_TIFF:
        *need = 8;
        return n < 8 ? ST_RTIFF_MORE : ST_RTIFF_UNSUPPORTED;
    case ST_TIFF_BAD_BIGTIFF:
        *need = 16;
        return n < 16 ? ST_RTIFF_MORE : ST_RTIFF_UNSUPPORTED;
    default:
        break;
    }
    if (head.be) {
        return ST_RTIFF_UNSUPPORTED;
    }
    parse q = {.head = {p, n, false},
               .rps = UINT32_MAX,
               .comp = 1,
               .spp = 1,
               .planar = 1,
               .pred = 1,
               .fmt = 1};
    /* The file's size is not known from its head: the IFD's entries are read from the head,
     * and past it they are the bytes to ask for. */
    strata_status st = st_tiff_walk_ifd(&head, UINT64_MAX, NULL, read_head, visit, &q);
    st_clear_error();
    if (q.bad || (st != STRATA_OK && !q.short_read)) {
        return ST_RTIFF_UNSUPPORTED;
    }
    if (q.short_read) {
        /* The entries, then the tags' values: the block index's arrays too. */
        uint64_t a = values_end(&head, &q.offs), b = values_end(&head, &q.cnts);
        a = a > b ? a : b;
        *need = st == STRATA_OK && a > q.need ? a : q.need;
        return ST_RTIFF_MORE;
    }
    uint64_t w = q.w, h = q.h, bps = q.bps, comp = q.comp, spp = q.spp, rps = q.rps,
             planar = q.planar, pred = q.pred, tw = q.tw, th = q.th, fmt = q.fmt;
    t->type = gdal_type((unsigned)bps, (unsigned)fmt);
    if (w == 0 || h == 0 || w > INT32_MAX || h > INT32_MAX || spp == 0 || spp > 256 ||
        t->type == GDT_Unknown || (comp != 1 && comp != 8 && comp != 32946 && comp != 50000) ||
        pred > 3 || (pred == 3 && fmt != 3) || (pred == 2 && fmt == 3) || planar < 1 ||
        planar > 2 || !q.offs.count || !q.cnts.count || (tw == 0) != (th == 0) ||
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
    if (!array(&q, &head, &q.offs, t->nstriles, &t->off) ||
        !array(&q, &head, &q.cnts, t->nstriles, &t->cnt)) {
        st_rtiff_clear(t);
        uint64_t a = values_end(&head, &q.offs), b = values_end(&head, &q.cnts);
        *need = a > b ? a : b;
        return q.short_read ? ST_RTIFF_MORE : ST_RTIFF_UNSUPPORTED;
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
        if (stride == 1) {                                                                         \
            type sum = v[0];                                                                       \
            for (size_t i = 1; i < n; i++) {                                                       \
                sum = (type)(sum + v[i]);                                                          \
                v[i] = sum;                                                                        \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (size_t i = stride; i < n; i++) {                                                      \
            v[i] = (type)(v[i] + v[i - stride]);                                                   \
        }                                                                                          \
    }
HOR_ACC(uint8_t)
HOR_ACC(uint16_t)
HOR_ACC(uint32_t)
HOR_ACC(uint64_t)

/* Gathers each of n samples of BPS bytes from BPS planes of tmp, most significant first,
 * into little-endian order in row; BPS a constant, so that the compiler unrolls it. */
#define FP_GATHER(BPS)                                                                             \
    static void fp_gather_##BPS(uint8_t *row, const uint8_t *tmp, size_t n) {                      \
        for (size_t i = 0; i < n; i++) {                                                           \
            for (size_t b = 0; b < BPS; b++) {                                                     \
                row[BPS * i + b] = tmp[(BPS - b - 1) * n + i];                                     \
            }                                                                                      \
        }                                                                                          \
    }
FP_GATHER(2)
FP_GATHER(4)
FP_GATHER(8)

/* TIFF predictor 3 undone on one row of n samples of bps bytes (libtiff's fpAcc): the bytes
 * are summed stride apart, then each sample's bytes are gathered from bps planes, most
 * significant first, into little-endian order. */
static void fp_acc(uint8_t *row, uint8_t *tmp, size_t n, size_t bps, size_t stride) {
    size_t bytes = n * bps;
    if (stride == 1) {
        /* The running sum in a register: through memory, each byte would wait for the store
         * of the one before. */
        uint8_t sum = row[0];
        for (size_t i = 1; i < bytes; i++) {
            sum = (uint8_t)(sum + row[i]);
            row[i] = sum;
        }
    } else {
        for (size_t i = stride; i < bytes; i++) {
            row[i] = (uint8_t)(row[i] + row[i - stride]);
        }
    }
    memcpy(tmp, row, bytes);
    if (bps == 4) {
        fp_gather_4(row, tmp, n);
    } else if (bps == 8) {
        fp_gather_8(row, tmp, n);
    } else if (bps == 2) {
        fp_gather_2(row, tmp, n);
    } else {
        for (size_t i = 0; i < n; i++) {
            for (size_t b = 0; b < bps; b++) {
                row[bps * i + b] = tmp[(bps - b - 1) * n + i];
            }
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
