/* Encodes output blocks as libtiff would (predictor, then ZSTD or DEFLATE), in the worker that
 * made them, for TIFFWriteRawTile. libtiff's float predictor reorders bytes a value at a time
 * and allocates a buffer per row, which costs more than the codec itself; here a block is
 * predicted in one pass over a buffer the encoder keeps. The bytes written are those libtiff
 * would write, so any TIFF reader decodes them. */
#include "gtiff/tiff_block.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

struct st_tiff_block {
    int codec;
    size_t cap;   /* bytes of the largest block */
    uint8_t *row; /* one row, reordered by the float predictor */
    uint8_t *out; /* compressed block */
    size_t out_cap;
    ZSTD_CCtx *zstd;
    struct libdeflate_compressor *deflate;
};

void st_tiff_block_free(st_tiff_block *e) {
    if (!e) {
        return;
    }
    ZSTD_freeCCtx(e->zstd);
    libdeflate_free_compressor(e->deflate);
    free(e->row);
    free(e->out);
    free(e);
}

/* A ZSTD context at level with a hash table of 2^12 entries (16 KB, so it stays in L1)
 * instead of the level's 2^14 for a 256 KB block: on noisy float outputs almost all of the
 * gain comes from Huffman-coding the literals, which the smaller table keeps, so the size
 * barely changes while the match search stops missing the cache (bench/run.sh, groupby). */
static ZSTD_CCtx *new_zstd(int level) {
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (z && (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_hashLog, 12)))) {
        ZSTD_freeCCtx(z);
        return NULL;
    }
    return z;
}

st_tiff_block *st_tiff_block_new(int codec, int level, size_t block_bytes, size_t row_bytes) {
    st_tiff_block *e = st_calloc(1, sizeof *e);
    if (!e) {
        return NULL;
    }
    e->codec = codec;
    e->cap = block_bytes;
    e->row = st_malloc(row_bytes);
    if (codec == ST_TIFF_ZSTD) {
        e->zstd = new_zstd(level);
        e->out_cap = ZSTD_compressBound(block_bytes);
    } else {
        e->deflate = libdeflate_alloc_compressor(level);
        e->out_cap = e->deflate ? libdeflate_zlib_compress_bound(e->deflate, block_bytes) : 0;
    }
    e->out = e->out_cap ? st_malloc(e->out_cap) : NULL;
    if (!e->row || !e->out || (!e->zstd && !e->deflate)) {
        st_tiff_block_free(e);
        return NULL;
    }
    return e;
}

/* TIFF predictor 3 (Technical Note 3) on one row of n samples of bps bytes: the bytes of
 * each sample go to bps planes, most significant first, then each byte of the row becomes
 * its difference from the byte before. Little-endian hosts only (see raw_handle in
 * sink_gtiff.c). Whole-word shifts, not byte loads at a stride, so that the loops vectorise. */
static void float_predict_row(uint8_t *row, uint8_t *tmp, size_t n, size_t bps) {
    if (bps == 4) {
        for (size_t i = 0; i < n; i++) {
            uint32_t w;
            memcpy(&w, row + 4 * i, 4);
            tmp[i] = (uint8_t)(w >> 24);
            tmp[n + i] = (uint8_t)(w >> 16);
            tmp[2 * n + i] = (uint8_t)(w >> 8);
            tmp[3 * n + i] = (uint8_t)w;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            uint64_t w;
            memcpy(&w, row + 8 * i, 8);
            for (size_t p = 0; p < 8; p++) {
                tmp[p * n + i] = (uint8_t)(w >> (56 - 8 * p));
            }
        }
    }
    row[0] = tmp[0];
    for (size_t k = 1; k < n * bps; k++) {
        row[k] = (uint8_t)(tmp[k] - tmp[k - 1]);
    }
}

/* TIFF predictor 2 on one row: each sample becomes its difference from the one before, in
 * the sample's width, wrapping. */
#define HOR_DIFF(type)                                                                             \
    static void hor_diff_##type(void *row, size_t n) {                                             \
        type *v = row;                                                                             \
        for (size_t i = n - 1; i > 0; i--) {                                                       \
            v[i] = (type)(v[i] - v[i - 1]);                                                        \
        }                                                                                          \
    }
HOR_DIFF(uint8_t)
HOR_DIFF(uint16_t)
HOR_DIFF(uint32_t)
HOR_DIFF(uint64_t)

ST_AVX2_CLONE
static void predict(st_tiff_block *e, uint8_t *blk, size_t esize, bool is_float, int width,
                    int height) {
    size_t row_bytes = (size_t)width * esize;
    for (int y = 0; y < height; y++) {
        uint8_t *row = blk + (size_t)y * row_bytes;
        if (is_float) {
            float_predict_row(row, e->row, (size_t)width, esize);
        } else if (esize == 1) {
            hor_diff_uint8_t(row, (size_t)width);
        } else if (esize == 2) {
            hor_diff_uint16_t(row, (size_t)width);
        } else if (esize == 4) {
            hor_diff_uint32_t(row, (size_t)width);
        } else {
            hor_diff_uint64_t(row, (size_t)width);
        }
    }
}

strata_status st_tiff_block_encode(st_tiff_block *e, void *blk, strata_dtype dtype, int width,
                                   int height, const void **out, size_t *len) {
    size_t esize = strata_dtype_size(dtype), n = (size_t)width * height * esize;
    if (n > e->cap) {
        return st_fail(STRATA_ERR_WRITE, "output block of %zu bytes, encoder sized for %zu", n,
                       e->cap);
    }
    predict(e, blk, esize, st_dtype_is_float(dtype), width, height);
    size_t got;
    if (e->codec == ST_TIFF_ZSTD) {
        got = ZSTD_compress2(e->zstd, e->out, e->out_cap, blk, n);
        if (ZSTD_isError(got)) {
            return st_fail(STRATA_ERR_WRITE, "ZSTD: %s", ZSTD_getErrorName(got));
        }
    } else {
        got = libdeflate_zlib_compress(e->deflate, blk, n, e->out, e->out_cap);
        if (got == 0) {
            return st_fail(STRATA_ERR_WRITE, "DEFLATE: output larger than its bound");
        }
    }
    *out = e->out;
    *len = got;
    return STRATA_OK;
}
