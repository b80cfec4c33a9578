/* Window reads: block by block with GDALReadBlock, which decodes each block once into our
 * buffer and leaves GDAL's global block cache alone, so memory stays flat however many
 * files are read. A warped VRT's warper reads its source through that cache: those blocks
 * are dropped once the window is read. */
#include "source/grid.h"
#include "source/netread.h"
#include "source/source.h"

#include <cpl_conv.h>
#include <string.h>

typedef struct block_span {
    int first, last; /* block indices */
} block_span;

static block_span blocks_of(int start, int len, int block) {
    return (block_span){start / block, (start + len - 1) / block};
}

void st_copy_from_block(const void *blk, GDALDataType src_type, int bx, int by, int bw, int bh,
                        const st_rect *r, void *dst, GDALDataType dst_type) {
    int row0 = by * bh > r->row0 ? by * bh : r->row0;
    int row1 = (by + 1) * bh < r->row0 + r->nrows ? (by + 1) * bh : r->row0 + r->nrows;
    int col0 = bx * bw > r->col0 ? bx * bw : r->col0;
    int col1 = (bx + 1) * bw < r->col0 + r->ncols ? (bx + 1) * bw : r->col0 + r->ncols;
    int ssize = GDALGetDataTypeSizeBytes(src_type), dsize = GDALGetDataTypeSizeBytes(dst_type);
    for (int row = row0; row < row1; row++) {
        const char *s =
            (const char *)blk + ((size_t)(row - by * bh) * bw + (col0 - bx * bw)) * ssize;
        char *d = (char *)dst + ((size_t)(row - r->row0) * r->ncols + (col0 - r->col0)) * dsize;
        GDALCopyWords64(s, src_type, ssize, d, dst_type, dsize, col1 - col0);
    }
}

static bool is_whole_block(const st_rect *r, int bw, int bh) {
    return r->nrows == bh && r->ncols == bw && r->row0 % bh == 0 && r->col0 % bw == 0;
}

strata_status st_read_rect(st_thread_cache *tc, size_t t, int band, const st_rect *r,
                           strata_dtype dtype, void *dst) {
    if (st_cache_collection(tc)->mosaic) {
        return st_mosaic_read(tc, t, band, r, dtype, dst);
    }
    return st_read_item(tc, t, band, r, dtype, dst);
}

strata_status st_read_item(st_thread_cache *tc, size_t t, int band, const st_rect *r,
                           strata_dtype dtype, void *dst) {
    const strata_collection *c = st_cache_collection(tc);
    const strata_meta *m = c->meta;
    GDALDatasetH ds;
    TIFF *tif;
    size_t f = t * c->nsrc + (size_t)(band / c->src_bands);
    int sample = band % c->src_bands;
    bool fetched;
    ST_TRY(st_net_read(tc, f, sample, r, dtype, dst, &fetched));
    if (fetched) {
        return STRATA_OK;
    }
    ST_TRY(st_cache_acquire(tc, f, &ds, &tif));
    GDALRasterBandH h = sample < GDALGetRasterCount(ds) ? GDALGetRasterBand(ds, sample + 1) : NULL;
    if (!h) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: has no band %d", c->paths[f], sample + 1);
    }
    /* The file's own blocks and type: a meta built from STAC metadata does not know the
     * blocks, and every buffer GDAL writes into is sized from what the file holds, whatever
     * the meta says (the file was checked against it on opening). */
    GDALDataType src_type = GDALGetRasterDataType(h), dst_type = st_dtype_to_gdal(dtype);
    int bw, bh;
    GDALGetBlockSize(h, &bw, &bh);
    bool direct = src_type == dst_type && m->dtype == dtype && is_whole_block(r, bw, bh);
    size_t ssize = (size_t)GDALGetDataTypeSizeBytes(src_type);
    void *blk = direct ? dst : st_cache_scratch(tc, (size_t)bw * bh * ssize);
    if (!blk) {
        return st_nomem("block buffer");
    }
    block_span ys = blocks_of(r->row0, r->nrows, bh), xs = blocks_of(r->col0, r->ncols, bw);
    strata_status st = STRATA_OK;
    st_gdal_quiet_begin();
    for (int by = ys.first; by <= ys.last && st == STRATA_OK; by++) {
        for (int bx = xs.first; bx <= xs.last && st == STRATA_OK; bx++) {
            if (tif) {
                st_cache_fit_block(tc, tif, bx * bw, by * bh, sample);
            }
            if (GDALReadBlock(h, bx, by, blk) != CE_None) {
                st = st_fail_gdal(STRATA_ERR_IO, "%s: cannot read band %d block (%d, %d)",
                                  c->paths[f], sample + 1, bx, by);
            } else if (!direct) {
                st_copy_from_block(blk, src_type, bx, by, bw, bh, r, dst, dst_type);
            }
        }
    }
    /* The warper reads the source window through GDAL's block cache; the next read of this
     * file is another window (the chunk's neighbour comes after every other file's). */
    if (c->grid) {
        st_cache_drop_warp_blocks(tc, f);
    }
    st_gdal_quiet_end();
    return st;
}

static strata_status check_window(const strata_collection *c, const strata_window *w,
                                  strata_dtype dtype) {
    const strata_meta *m = c->meta;
    if (st_dtype_to_gdal(dtype) == GDT_Unknown) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "cannot read into data type %s",
                       strata_dtype_name(dtype));
    }
    if (w->nt == 0 || w->nb < 1 || w->nrows < 1 || w->ncols < 1 || w->t0 >= c->n ||
        w->nt > c->n - w->t0 || w->b0 < 0 || w->b0 > m->bands - w->nb || w->row0 < 0 ||
        w->row0 > m->rows - w->nrows || w->col0 < 0 || w->col0 > m->cols - w->ncols) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "window t[%zu+%zu] b[%d+%d] rows[%d+%d] cols[%d+%d] is empty or outside "
                       "the cube (%zu, %d, %d, %d)",
                       w->t0, w->nt, w->b0, w->nb, w->row0, w->nrows, w->col0, w->ncols, c->n,
                       m->bands, m->rows, m->cols);
    }
    return STRATA_OK;
}

strata_status strata_collection_read(const strata_collection *c, const strata_window *w,
                                     strata_dtype dtype, void *buf) {
    st_clear_error();
    if (!c || !w || !buf) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_read: NULL argument");
    }
    ST_TRY(check_window(c, w, dtype));
    st_thread_cache *tc;
    ST_TRY(st_cache_for_thread(c, &tc));
    st_rect r = {w->row0, w->nrows, w->col0, w->ncols};
    size_t plane = (size_t)w->nrows * w->ncols * strata_dtype_size(dtype);
    char *dst = buf;
    st_net_prefetch(c, &r, NULL, w->t0, w->nt, w->b0, w->nb);
    strata_status st = STRATA_OK;
    for (size_t t = w->t0; t < w->t0 + w->nt && st == STRATA_OK; t++) {
        for (int b = w->b0; b < w->b0 + w->nb && st == STRATA_OK; b++) {
            st = st_read_rect(tc, t, b, &r, dtype, dst);
            dst += plane;
        }
    }
    return st;
}
