/* Output blocks encoded as libtiff would, by the worker that made them (tiff_block.c).
 * Internal. */
#ifndef STRATA_TIFF_BLOCK_H
#define STRATA_TIFF_BLOCK_H

#include "reduce/sink.h"

enum { ST_TIFF_ZSTD, ST_TIFF_DEFLATE };

typedef struct st_tiff_block st_tiff_block;

/* An encoder for blocks of up to block_bytes, rows of up to row_bytes; NULL when out of
 * memory. One thread at a time. */
st_tiff_block *st_tiff_block_new(int codec, int level, size_t block_bytes, size_t row_bytes);
void st_tiff_block_free(st_tiff_block *e);

/* Applies the TIFF predictor of dtype (3 for floats, 2 for integers) to blk in place, rows of
 * width samples, then compresses it. *out points into e, valid until its next call. */
strata_status st_tiff_block_encode(st_tiff_block *e, void *blk, strata_dtype dtype, int width,
                                   int height, const void **out, size_t *len);

#endif
