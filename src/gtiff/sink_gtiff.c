/* GeoTIFF sink: one tiled, compressed file per (group, op), each written under a temporary
 * name and renamed only when the whole job succeeded, so a failed or interrupted run never
 * leaves a file that looks complete. GDAL datasets are not thread-safe: one lock per file. */
#include "gtiff/gtiff.h"
#include "gtiff/tiff_block.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

typedef struct out_file {
    GDALDatasetH ds;
    pthread_mutex_t lock;
    TIFF *tif;     /* GDAL's libtiff handle, when workers write encoded blocks (see raw_handle) */
    st_output out; /* as decided for this file */
    st_fill fill;  /* integer outputs whose nodata is settled at the end (fill.c) */
} out_file;

typedef struct gtiff_sink {
    st_sink base;
    strata_result *r;
    const strata_meta *m;
    strata_codec codec;
    bool worker_compresses; /* whole blocks written by a pool of workers (see create_file) */
    out_file **files;       /* [ngroups][ops], NULL where the op was not asked */
    char **tmp_paths;       /* parallel to files */
    size_t nfiles;
    st_pool encoders; /* the block encoders not in use, one per writing thread at most */
} gtiff_sink;

static const char *const TMP_SUFFIX = ".part";
enum { OUT_BLOCK = 256 }; /* the outputs' tile size */

/* Replaces each "{op}" and "{label}" in pattern. */
static char *expand_pattern(const char *pattern, const char *op, const char *label) {
    size_t cap = strlen(pattern) + 1, len = 0;
    for (const char *p = pattern; (p = strchr(p, '{')); p++) {
        cap += strlen(op) + strlen(label);
    }
    char *out = st_malloc(cap);
    if (!out) {
        return NULL;
    }
    for (const char *p = pattern; *p;) {
        if (strncmp(p, "{op}", 4) == 0) {
            len += (size_t)sprintf(out + len, "%s", op);
            p += 4;
        } else if (strncmp(p, "{label}", 7) == 0) {
            len += (size_t)sprintf(out + len, "%s", label);
            p += 7;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

static void set_band_nodata(GDALRasterBandH h, strata_dtype dtype, double nd) {
    if (dtype == STRATA_INT64) {
        GDALSetRasterNoDataValueAsInt64(h, (int64_t)nd);
    } else {
        GDALSetRasterNoDataValue(h, nd);
    }
}

/* GDAL creation options for a compression name; level 1 where there are levels: a reduce
 * writes its outputs once, and on noisy float data (most of the gain is the predictor and
 * the literals' entropy coding) higher levels cost CPU for hardly smaller files. ZSTD is the
 * default: the size of DEFLATE with the float predictor at less than half its CPU, read by
 * GDAL since 2.3 when built with zstd; DEFLATE stays for other readers. */
static const struct {
    strata_codec codec;
    const char *compress, *level;
    int encoder; /* how workers encode it (tiff_block.h), or -1: GDAL does */
} compressions[] = {{STRATA_CODEC_ZLIB, "COMPRESS=DEFLATE", "ZLEVEL=1", ST_TIFF_DEFLATE},
                    {STRATA_CODEC_ZSTD, "COMPRESS=ZSTD", "ZSTD_LEVEL=1", ST_TIFF_ZSTD},
                    {STRATA_CODEC_LZW, "COMPRESS=LZW", NULL, -1},
                    {STRATA_CODEC_NONE, "COMPRESS=NONE", NULL, -1}};

/* The row of codec (checked with strata_codec_for_gtiff before any sink exists). */
static int compression_index(strata_codec codec) {
    for (size_t i = 0; i < sizeof compressions / sizeof compressions[0]; i++) {
        if (compressions[i].codec == codec) {
            return (int)i;
        }
    }
    return 1;
}

/* A tile made of whole output blocks (the usual case: tiles are made of source blocks, 256 or
 * a multiple of it) is written block by block with GDALWriteBlock, which compresses each block
 * at once (see create_file for which thread does it). Through RasterIO the blocks would wait
 * in GDAL's cache, all of them, to be compressed at close, after the workers are done. */
static bool covers_whole_blocks(const st_rect *r, int rows, int cols) {
    return r->row0 % OUT_BLOCK == 0 && r->col0 % OUT_BLOCK == 0 &&
           (r->nrows % OUT_BLOCK == 0 || r->row0 + r->nrows == rows) &&
           (r->ncols % OUT_BLOCK == 0 || r->col0 + r->ncols == cols);
}

/* GDAL's libtiff handle of ds, for TIFFWriteRawTile of blocks the workers encoded (see
 * tiff_block.c), or NULL to write through GDAL. That needs: the libtiff strata links, not a
 * copy inside GDAL; a little-endian host (the float predictor's byte order); the directory
 * written, which GDAL does when it flushes the georeferencing; and the tags the encoder
 * follows. GDAL's own compression threads write their blocks the same way. */
static TIFF *raw_handle(GDALDatasetH ds, int codec, strata_dtype dtype, int bands) {
    TIFF *tif = st_gdal_tiff(ds);
    if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ || !tif) {
        return NULL;
    }
    CPLErrorReset();
    GDALFlushCache(ds);
    if (CPLGetLastErrorType() >= CE_Failure) {
        return NULL;
    }
    uint16_t comp = 0, pred = 0, planar = 0, bps = 0;
    uint32_t tw = 0, th = 0;
    if (!TIFFIsTiled(tif) || TIFFCurrentDirOffset(tif) == 0 ||
        !TIFFGetField(tif, TIFFTAG_COMPRESSION, &comp) ||
        !TIFFGetFieldDefaulted(tif, TIFFTAG_PREDICTOR, &pred) ||
        !TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar) ||
        !TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bps) ||
        !TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &th)) {
        return NULL;
    }
    bool ok = comp == (codec == ST_TIFF_ZSTD ? COMPRESSION_ZSTD : COMPRESSION_ADOBE_DEFLATE) &&
              pred == (st_dtype_is_float(dtype) ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL) &&
              (bands == 1 || planar == PLANARCONFIG_SEPARATE) &&
              bps == 8 * strata_dtype_size(dtype) && tw == OUT_BLOCK && th == OUT_BLOCK;
    return ok ? tif : NULL;
}

/* The template's own GeoTIFF tags when it has them (the output has its grid), else GDAL's
 * view of its geotransform and CRS. */
static strata_status set_georeferencing(GDALDatasetH ds, const strata_meta *m) {
    if (m->geotags && st_geotags_write(m->geotags, ds)) {
        return STRATA_OK;
    }
    ST_TRY(st_meta_crs(m));
    GDALSetGeoTransform(ds, (double *)m->gt);
    if (m->crs_wkt[0]) {
        GDALSetProjection(ds, m->crs_wkt);
    }
    return STRATA_OK;
}

static strata_status create_file(gtiff_sink *s, const st_output *o, const char *tmp,
                                 out_file **out) {
    const strata_meta *m = s->m;
    strata_dtype dtype = o->dtype;
    out_file *f = st_calloc(1, sizeof *f);
    if (!f) {
        return st_nomem("output file");
    }
    f->out = *o;
    pthread_mutex_init(&f->lock, NULL);
    *out = f;
    int ci = compression_index(s->codec);
    const char *pred = st_dtype_is_float(dtype) ? "PREDICTOR=3" : "PREDICTOR=2";
    /* Band interleaving lets a block of one band be written alone (see write_blocks). Blocks
     * written whole by a pool of workers are compressed by the worker that writes them (GDAL's
     * threads would add a copy and more threads than cores). A single writer (a result
     * written from memory) hands them to GDAL's threads, and a tile grid that does not follow
     * the blocks leaves them in GDAL's cache until close: NUM_THREADS spreads that
     * compression over the cores. */
    char *opts[] = {"TILED=YES",
                    "BLOCKXSIZE=256",
                    "BLOCKYSIZE=256",
                    "INTERLEAVE=BAND",
                    "BIGTIFF=IF_SAFER",
                    s->worker_compresses ? "NUM_THREADS=1" : "NUM_THREADS=ALL_CPUS",
                    (char *)compressions[ci].compress,
                    compressions[ci].codec == STRATA_CODEC_NONE ? NULL : (char *)pred,
                    (char *)compressions[ci].level,
                    NULL};
    st_gdal_init();
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    f->ds = drv ? GDALCreate(drv, tmp, m->cols, m->rows, m->bands, st_dtype_to_gdal(dtype), opts)
                : NULL;
    if (!f->ds) {
        return st_fail_gdal(STRATA_ERR_WRITE, "cannot create %.*s", (int)(strlen(tmp) - 5), tmp);
    }
    ST_TRY(set_georeferencing(f->ds, m));
    ST_TRY(st_fill_init(&f->fill, m, o));
    for (int b = 0; b < m->bands; b++) {
        GDALRasterBandH h = GDALGetRasterBand(f->ds, b + 1);
        if (o->has_nodata && !o->tracked) { /* a tracked nodata is declared, or not, at the end */
            set_band_nodata(h, dtype, o->nodata);
        }
        if (m->band_names[b][0]) {
            GDALSetDescription(h, m->band_names[b]);
        }
        if (o->in_unit && m->unit[b][0]) {
            GDALSetRasterUnitType(h, m->unit[b]);
        }
    }
    if (s->worker_compresses && compressions[ci].encoder >= 0) {
        f->tif = raw_handle(f->ds, compressions[ci].encoder, dtype, m->bands);
    }
    return STRATA_OK;
}

/* Converts the part of values (rect-sized) in block (by, bx) into a full block; the part of
 * an edge block outside the raster holds nodata. */
static void fill_block(const double *values, const st_rect *r, int by, int bx, strata_dtype dtype,
                       double nodata, char *blk) {
    size_t esize = strata_dtype_size(dtype);
    int row0 = by * OUT_BLOCK - r->row0, col0 = bx * OUT_BLOCK - r->col0;
    int nrows = r->nrows - row0 < OUT_BLOCK ? r->nrows - row0 : OUT_BLOCK;
    int ncols = r->ncols - col0 < OUT_BLOCK ? r->ncols - col0 : OUT_BLOCK;
    double missing[OUT_BLOCK];
    for (int i = 0; i < OUT_BLOCK; i++) {
        missing[i] = NAN;
    }
    for (int row = 0; row < OUT_BLOCK; row++) {
        char *d = blk + (size_t)row * OUT_BLOCK * esize;
        if (row < nrows) {
            st_convert_out(values + (size_t)(row0 + row) * r->ncols + col0, (size_t)ncols, dtype,
                           nodata, d);
        }
        int from = row < nrows ? ncols : 0;
        st_convert_out(missing, (size_t)(OUT_BLOCK - from), dtype, nodata, d + from * esize);
    }
}

/* Hands a filled block to the file: encoded here and written raw when the file allows it (see
 * raw_handle), else through GDAL, which compresses it in this thread. */
static CPLErr put_block(out_file *f, GDALRasterBandH h, int band, int bx, int by, void *blk,
                        st_tiff_block *enc) {
    if (!f->tif) {
        pthread_mutex_lock(&f->lock);
        CPLErr err = GDALWriteBlock(h, bx, by, blk);
        pthread_mutex_unlock(&f->lock);
        return err;
    }
    const void *data;
    size_t len;
    if (st_tiff_block_encode(enc, blk, f->out.dtype, OUT_BLOCK, OUT_BLOCK, &data, &len) !=
        STRATA_OK) {
        return CE_Failure;
    }
    pthread_mutex_lock(&f->lock);
    uint32_t tile = TIFFComputeTile(f->tif, (uint32_t)(bx * OUT_BLOCK), (uint32_t)(by * OUT_BLOCK),
                                    0, (uint16_t)band);
    tmsize_t wrote = TIFFWriteRawTile(f->tif, tile, (void *)data, (tmsize_t)len);
    pthread_mutex_unlock(&f->lock);
    return wrote == (tmsize_t)len ? CE_None : CE_Failure;
}

static CPLErr write_blocks(out_file *f, int band, const st_rect *r, const double *values, void *blk,
                           st_tiff_block *enc) {
    GDALRasterBandH h = GDALGetRasterBand(f->ds, band + 1);
    CPLErr err = CE_None;
    for (int by = r->row0 / OUT_BLOCK; err == CE_None && by * OUT_BLOCK < r->row0 + r->nrows;
         by++) {
        for (int bx = r->col0 / OUT_BLOCK; err == CE_None && bx * OUT_BLOCK < r->col0 + r->ncols;
             bx++) {
            fill_block(values, r, by, bx, f->out.dtype, f->out.nodata, blk);
            err = put_block(f, h, band, bx, by, blk, enc);
        }
    }
    return err;
}

static void free_encoder(void *e) {
    st_tiff_block_free(e);
}

/* A block encoder not in use by another thread; NULL when out of memory. */
static st_tiff_block *take_encoder(gtiff_sink *s) {
    st_tiff_block *e = st_pool_take(&s->encoders);
    if (!e) {
        size_t esize = 8; /* the widest output type; level 1 as in compressions[] */
        e = st_tiff_block_new(compressions[compression_index(s->codec)].encoder, 1,
                              (size_t)OUT_BLOCK * OUT_BLOCK * esize, OUT_BLOCK * esize);
    }
    return e;
}

static void give_back_encoder(gtiff_sink *s, st_tiff_block *e) {
    if (!st_pool_give(&s->encoders, e)) {
        st_tiff_block_free(e);
    }
}

static CPLErr write_window(out_file *f, int band, const st_rect *r, const double *values,
                           void *buf) {
    st_convert_out(values, (size_t)r->nrows * r->ncols, f->out.dtype, f->out.nodata, buf);
    pthread_mutex_lock(&f->lock);
    CPLErr err =
        GDALRasterIO(GDALGetRasterBand(f->ds, band + 1), GF_Write, r->col0, r->row0, r->ncols,
                     r->nrows, buf, r->ncols, r->nrows, st_dtype_to_gdal(f->out.dtype), 0, 0);
    pthread_mutex_unlock(&f->lock);
    return err;
}

static strata_status gtiff_put(st_sink *base, size_t g, size_t slot, int band, const st_rect *rect,
                               const double *values) {
    gtiff_sink *s = (gtiff_sink *)base;
    out_file *f = s->files[g * s->r->nslots + slot];
    ST_TRY(st_fill_note(&f->fill, band, rect, values));
    bool blocks = covers_whole_blocks(rect, s->m->rows, s->m->cols);
    size_t n = blocks ? (size_t)OUT_BLOCK * OUT_BLOCK : (size_t)rect->nrows * rect->ncols;
    void *buf = st_malloc(n * strata_dtype_size(f->out.dtype));
    if (!buf) {
        return st_nomem("output tile");
    }
    st_tiff_block *enc = NULL;
    if (blocks && f->tif && !(enc = take_encoder(s))) {
        free(buf);
        return st_nomem("block encoder");
    }
    CPLErr err = blocks ? write_blocks(f, band, rect, values, buf, enc)
                        : write_window(f, band, rect, values, buf);
    if (enc) {
        give_back_encoder(s, enc);
    }
    free(buf);
    if (err != CE_None) {
        return st_fail_gdal(STRATA_ERR_WRITE, "%s: cannot write a tile",
                            s->r->paths[g * s->r->nslots + slot]);
    }
    return STRATA_OK;
}

static strata_status open_all(gtiff_sink *s, const st_gtiff_spec *sp, const st_outputs *outs) {
    strata_result *r = s->r;
    for (size_t g = 0; g < r->ngroups; g++) {
        for (size_t slot = 0; slot < r->nslots; slot++) {
            size_t i = g * r->nslots + slot;
            if (!st_slot_used(r, slot)) {
                continue;
            }
            char name[64];
            r->paths[i] =
                expand_pattern(sp->pattern, st_slot_name(r, slot, name, sizeof name), r->labels[g]);
            s->tmp_paths[i] = r->paths[i] ? st_malloc(strlen(r->paths[i]) + 6) : NULL;
            if (!s->tmp_paths[i]) {
                return st_nomem("output paths");
            }
            sprintf(s->tmp_paths[i], "%s%s", r->paths[i], TMP_SUFFIX);
            ST_TRY(create_file(s, &outs->slot[slot], s->tmp_paths[i], &s->files[i]));
        }
    }
    return STRATA_OK;
}

static bool distinct_paths(const strata_result *r) {
    size_t n = r->ngroups * r->nslots;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = i + 1; r->paths[i] && k < n; k++) {
            if (r->paths[k] && strcmp(r->paths[i], r->paths[k]) == 0) {
                return false;
            }
        }
    }
    return true;
}

strata_status st_gtiff_sink_new(strata_result *r, const strata_meta *m, const st_outputs *outs,
                                const st_gtiff_spec *sp, st_sink **out) {
    gtiff_sink *s = st_calloc(1, sizeof *s);
    size_t n = r->ngroups * r->nslots;
    if (!s || !(r->paths = st_calloc(n, sizeof *r->paths)) ||
        !(s->files = st_calloc(n, sizeof *s->files)) ||
        !(s->tmp_paths = st_calloc(n, sizeof *s->tmp_paths))) {
        free(s ? s->files : NULL);
        free(s);
        return st_nomem("GeoTIFF sink");
    }
    s->base.put = gtiff_put;
    st_pool_init(&s->encoders);
    s->r = r;
    s->m = m;
    s->codec = sp->codec;
    st_rect first = {0, outs->tile_rows, 0, outs->tile_cols};
    s->worker_compresses = !sp->one_writer && covers_whole_blocks(&first, m->rows, m->cols);
    s->nfiles = n;
    *out = &s->base;
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < n; i++) {
        /* Compute the names first: two outputs with one name would overwrite each other. */
        size_t slot = i % r->nslots;
        char name[64];
        if (st_slot_used(r, slot)) {
            r->paths[i] = expand_pattern(sp->pattern, st_slot_name(r, slot, name, sizeof name),
                                         r->labels[i / r->nslots]);
            if (!r->paths[i]) {
                return st_nomem("output paths");
            }
        }
    }
    if (!distinct_paths(r)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "output pattern '%s' gives several outputs the "
                       "same name: use {op} (several ops) and {label} (several groups)",
                       sp->pattern);
    }
    if (sp->inputs) {
        const strata_collection *c = sp->inputs;
        ST_TRY(st_guard_outputs((const char *const *)c->paths, c->nfiles,
                                (const char *const *)r->paths, n));
    }
    for (size_t i = 0; i < n; i++) {
        free(r->paths[i]);
        r->paths[i] = NULL;
    }
    st_gdal_quiet_begin();
    st = open_all(s, sp, outs);
    st_gdal_quiet_end();
    return st;
}

/* Copies the closed output i into a file of dtype whose missing pixels hold value, and puts
 * it in its place: the value first written for them occurs in the output (see fill.c). */
static strata_status rewrite(gtiff_sink *s, size_t i, const st_fill *fill, const st_output *was,
                             strata_dtype dtype, double value) {
    const strata_meta *m = s->m;
    const char *tmp = s->tmp_paths[i];
    char *tmp2 = st_malloc(strlen(s->r->paths[i]) + 16);
    size_t row_bytes = (size_t)m->cols * strata_dtype_size(dtype);
    void *buf = st_malloc(OUT_BLOCK * row_bytes);
    if (!tmp2 || !buf) {
        free(tmp2);
        free(buf);
        return st_nomem("output rewrite");
    }
    sprintf(tmp2, "%s.fill%s", s->r->paths[i], TMP_SUFFIX);
    GDALDatasetH src = GDALOpenEx(tmp, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    out_file *nf = NULL;
    bool workers = s->worker_compresses;
    s->worker_compresses = false; /* one writer: GDAL's threads compress */
    st_output o = {
        .op = was->op, .dtype = dtype, .has_nodata = 1, .nodata = value, .in_unit = was->in_unit};
    strata_status st = src ? create_file(s, &o, tmp2, &nf)
                           : st_fail_gdal(STRATA_ERR_WRITE, "%s: cannot reopen", tmp);
    s->worker_compresses = workers;
    GDALDataType gt = st_dtype_to_gdal(dtype);
    for (int b = 0; st == STRATA_OK && b < m->bands; b++) {
        GDALRasterBandH in = GDALGetRasterBand(src, b + 1), out = GDALGetRasterBand(nf->ds, b + 1);
        for (int row0 = 0; st == STRATA_OK && row0 < m->rows; row0 += OUT_BLOCK) {
            int n = m->rows - row0 < OUT_BLOCK ? m->rows - row0 : OUT_BLOCK;
            if (GDALRasterIO(in, GF_Read, 0, row0, m->cols, n, buf, m->cols, n, gt, 0, 0) !=
                CE_None) {
                st = st_fail_gdal(STRATA_ERR_WRITE, "%s: cannot read back", tmp);
                break;
            }
            for (int r = 0; r < n; r++) {
                st_fill_patch(fill, b, (size_t)(row0 + r), 0, (size_t)m->cols, dtype, value,
                              (char *)buf + (size_t)r * row_bytes);
            }
            if (GDALRasterIO(out, GF_Write, 0, row0, m->cols, n, buf, m->cols, n, gt, 0, 0) !=
                CE_None) {
                st = st_fail_gdal(STRATA_ERR_WRITE, "%s: cannot write", tmp2);
            }
        }
    }
    if (src) {
        GDALClose(src);
    }
    if (nf) {
        st_fill_free(&nf->fill);
        if (nf->ds) {
            CPLErrorReset();
            GDALClose(nf->ds);
            if (st == STRATA_OK && CPLGetLastErrorType() >= CE_Failure) {
                st = st_fail_gdal(STRATA_ERR_WRITE, "%s: cannot finish writing", s->r->paths[i]);
            }
        }
        pthread_mutex_destroy(&nf->lock);
        free(nf);
    }
    if (st == STRATA_OK && rename(tmp2, tmp) != 0) {
        st = st_fail(STRATA_ERR_WRITE, "%s: cannot rename from %s: %s", tmp, tmp2, strerror(errno));
    }
    unlink(tmp2); /* gone already when renamed */
    free(tmp2);
    free(buf);
    return st;
}

/* ok: the job succeeded, so the outputs whose nodata waits for the end get it. */
static strata_status close_file(gtiff_sink *s, size_t i, bool ok) {
    out_file *f = s->files[i];
    strata_status st = STRATA_OK;
    strata_dtype dtype = f->out.dtype;
    int has = 0;
    double value = 0;
    bool patch = false;
    if (ok && f->ds && f->fill.tracked) {
        st_fill_resolve(&f->fill, &dtype, &has, &value, &patch);
        for (int b = 0; has && !patch && b < s->m->bands; b++) {
            set_band_nodata(GDALGetRasterBand(f->ds, b + 1), dtype, value);
        }
    }
    if (f->ds) {
        CPLErrorReset();
        GDALClose(f->ds);
        if (CPLGetLastErrorType() >= CE_Failure) {
            st = st_fail_gdal(STRATA_ERR_WRITE, "%s: cannot finish writing", s->r->paths[i]);
        }
    }
    if (st == STRATA_OK && patch) {
        st = rewrite(s, i, &f->fill, &f->out, dtype, value);
    }
    st_fill_free(&f->fill);
    pthread_mutex_destroy(&f->lock);
    free(f);
    s->files[i] = NULL;
    return st;
}

/* Renames every temporary file to its name. A name taken by a folder is found before any
 * rename; a rename failing anyway takes back the ones done, so outputs appear all or none. */
static strata_status publish_all(gtiff_sink *s) {
    struct stat sb;
    for (size_t i = 0; i < s->nfiles; i++) {
        if (s->tmp_paths[i] && stat(s->r->paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            return st_fail(STRATA_ERR_WRITE, "%s: is a directory", s->r->paths[i]);
        }
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        if (s->tmp_paths[i] && rename(s->tmp_paths[i], s->r->paths[i]) != 0) {
            strata_status st = st_fail(STRATA_ERR_WRITE, "%s: cannot rename from %s: %s",
                                       s->r->paths[i], s->tmp_paths[i], strerror(errno));
            for (size_t k = 0; k < i; k++) {
                if (s->tmp_paths[k]) {
                    unlink(s->r->paths[k]);
                }
            }
            return st;
        }
    }
    return STRATA_OK;
}

strata_status st_gtiff_sink_finish(st_sink *base, bool ok) {
    gtiff_sink *s = (gtiff_sink *)base;
    strata_status st = STRATA_OK;
    st_gdal_quiet_begin();
    for (size_t i = 0; i < s->nfiles; i++) {
        if (s->files[i]) {
            strata_status cst = close_file(s, i, ok && st == STRATA_OK);
            st = st == STRATA_OK ? cst : st;
        }
    }
    st_gdal_quiet_end();
    if (ok && st == STRATA_OK) {
        st = publish_all(s);
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        if (s->tmp_paths[i]) {
            unlink(s->tmp_paths[i]); /* gone already when published */
        }
        free(s->tmp_paths[i]);
    }
    free(s->tmp_paths);
    free(s->files);
    st_pool_destroy(&s->encoders, free_encoder);
    free(s);
    return st;
}
