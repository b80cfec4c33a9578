/* TIFF and BigTIFF: the first image's tiles or strips as Zarr chunks.
 *
 * Only the first IFD is read. Each tile (or strip) is one chunk; Zarr needs every chunk to
 * decode to the full chunk shape, which TIFF tiles do (edge tiles are padded) but the last
 * strip of an image need not: that one strip is decoded, padded and re-encoded inline.
 * Every count and offset comes from the file, so each is checked against the file's size
 * before it sizes an allocation or a read. */
#include "common/bytes.h"
#include "kerchunk/kerchunk.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

enum {
    TAG_WIDTH = 256,
    TAG_HEIGHT = 257,
    TAG_BITS = 258,
    TAG_COMPRESSION = 259,
    TAG_STRIP_OFFSETS = 273,
    TAG_SAMPLES = 277,
    TAG_ROWS_PER_STRIP = 278,
    TAG_STRIP_COUNTS = 279,
    TAG_PLANAR = 284,
    TAG_PREDICTOR = 317,
    TAG_TILE_WIDTH = 322,
    TAG_TILE_LENGTH = 323,
    TAG_TILE_OFFSETS = 324,
    TAG_TILE_COUNTS = 325,
    TAG_SAMPLE_FORMAT = 339
};
enum { COMP_NONE = 1, COMP_DEFLATE = 8, COMP_ADOBE_DEFLATE = 32946, COMP_ZSTD = 50000 };
/* A strip padded in memory is at most this big (larger ones are refused). */
#define KC_MAX_PAD_BYTES ((uint64_t)64 << 20)

static strata_status corrupt(const kc_src *s, const char *what) {
    return st_fail(STRATA_ERR_IO, "%s: corrupt TIFF: %s", s->name, what);
}

/* ---- IFD entries --------------------------------------------------------------------- */

/* The integer types, the only ones of the tags read here. */
static size_t type_size(unsigned type) {
    bool integer = type == 1 || type == 3 || type == 4 || type == 13 || type == 16 || type == 18;
    return integer ? st_tiff_type_size(type) : 0;
}

/* The values of an unsigned integer entry; *out freed by the caller. */
static strata_status entry_values(const kc_src *s, const kc_tiff *t, const st_tiff_entry *e,
                                  uint64_t **out, size_t *n) {
    size_t size = type_size(e->type);
    if (size == 0 || e->count == 0 || e->count > s->size / size + 1) {
        return corrupt(s, "bad entry type or count");
    }
    size_t bytes = (size_t)e->count * size;
    unsigned char *raw = st_malloc(bytes);
    uint64_t *vals = st_malloc((size_t)e->count * sizeof *vals);
    strata_status st = raw && vals ? STRATA_OK : st_nomem("TIFF entry");
    uint64_t at;
    if (st == STRATA_OK && !st_tiff_values_offset(&t->head, e, bytes, &at)) {
        memcpy(raw, e->value, bytes);
    } else if (st == STRATA_OK) {
        st = kc_read(s, at, raw, bytes);
    }
    for (size_t i = 0; st == STRATA_OK && i < e->count; i++) {
        vals[i] = st_load_uint(raw + i * size, size, t->head.be);
    }
    free(raw);
    if (st != STRATA_OK) {
        free(vals);
        return st;
    }
    *out = vals;
    *n = (size_t)e->count;
    return STRATA_OK;
}

/* A scalar tag; a per-sample tag (BitsPerSample, SampleFormat) must agree across samples. */
static strata_status entry_scalar(const kc_src *s, const kc_tiff *t, const st_tiff_entry *e,
                                  uint64_t *out) {
    uint64_t *vals = NULL;
    size_t n = 0;
    ST_TRY(entry_values(s, t, e, &vals, &n));
    bool same = true;
    for (size_t i = 1; i < n && (e->tag == TAG_BITS || e->tag == TAG_SAMPLE_FORMAT); i++) {
        same = same && vals[i] == vals[0];
    }
    *out = vals[0];
    free(vals);
    return same ? STRATA_OK
                : st_fail(STRATA_ERR_UNSUPPORTED, "%s: TIFF bands differ in tag %u", s->name,
                          e->tag);
}

static strata_status set_scalar(const kc_src *s, kc_tiff *t, const st_tiff_entry *e) {
    uint64_t v;
    ST_TRY(entry_scalar(s, t, e, &v));
    switch (e->tag) {
    case TAG_WIDTH:
        t->width = v;
        break;
    case TAG_HEIGHT:
        t->height = v;
        break;
    case TAG_BITS:
        t->bps = v > 64 ? 0 : (unsigned)v;
        break;
    case TAG_COMPRESSION:
        t->compression = (unsigned)(v & 0xFFFF);
        break;
    case TAG_SAMPLES:
        t->spp = v > 0xFFFF ? 0 : (unsigned)v;
        break;
    case TAG_ROWS_PER_STRIP:
    case TAG_TILE_LENGTH:
        t->tile_h = v;
        break;
    case TAG_TILE_WIDTH:
        t->tile_w = v;
        break;
    case TAG_PLANAR:
        t->planar = (unsigned)(v & 0xFFFF);
        break;
    case TAG_PREDICTOR:
        t->predictor = (unsigned)(v & 0xFFFF);
        break;
    case TAG_SAMPLE_FORMAT:
        t->sample_format = (unsigned)(v & 0xFFFF);
        break;
    default:
        break;
    }
    return STRATA_OK;
}

static strata_status set_array(const kc_src *s, kc_tiff *t, const st_tiff_entry *e, uint64_t **arr,
                               size_t *n) {
    if (*arr) {
        return corrupt(s, "both strip and tile layouts");
    }
    return entry_values(s, t, e, arr, n);
}

static strata_status apply_entry(const kc_src *s, kc_tiff *t, const st_tiff_entry *e,
                                 size_t *ncounts) {
    switch (e->tag) {
    case TAG_STRIP_OFFSETS:
    case TAG_TILE_OFFSETS:
        t->tiled = t->tiled || e->tag == TAG_TILE_OFFSETS;
        return set_array(s, t, e, &t->offsets, &t->noffsets);
    case TAG_STRIP_COUNTS:
    case TAG_TILE_COUNTS:
        return set_array(s, t, e, &t->counts, ncounts);
    case TAG_WIDTH:
    case TAG_HEIGHT:
    case TAG_BITS:
    case TAG_COMPRESSION:
    case TAG_SAMPLES:
    case TAG_ROWS_PER_STRIP:
    case TAG_PLANAR:
    case TAG_PREDICTOR:
    case TAG_TILE_WIDTH:
    case TAG_TILE_LENGTH:
    case TAG_SAMPLE_FORMAT:
        return set_scalar(s, t, e);
    default:
        return STRATA_OK;
    }
}

typedef struct tiff_walk {
    const kc_src *s;
    kc_tiff *t;
    size_t ncounts;
} tiff_walk;

static strata_status read_src(void *ctx, uint64_t off, void *dst, size_t n) {
    return kc_read(((const tiff_walk *)ctx)->s, off, dst, n);
}

static strata_status visit_entry(void *ctx, const st_tiff *ifd, const st_tiff_entry *e) {
    (void)ifd;
    tiff_walk *w = ctx;
    return apply_entry(w->s, w->t, e, &w->ncounts);
}

/* ---- layout checks ------------------------------------------------------------------- */

static strata_status check_layout(const kc_src *s, kc_tiff *t, size_t ncounts) {
    if (t->width == 0 || t->height == 0 || t->spp == 0) {
        return corrupt(s, "missing or zero image size or samples per pixel");
    }
    if (!t->offsets || !t->counts || ncounts != t->noffsets) {
        return corrupt(s, "missing or inconsistent tile/strip offsets and byte counts");
    }
    if (!t->tiled) {
        t->tile_w = t->width;
        t->tile_h = t->tile_h == 0 || t->tile_h > t->height ? t->height : t->tile_h;
    }
    if (t->tile_w == 0 || t->tile_h == 0) {
        return corrupt(s, "zero tile size");
    }
    uint64_t across = t->width / t->tile_w + (t->width % t->tile_w != 0);
    uint64_t down = t->height / t->tile_h + (t->height % t->tile_h != 0), total;
    uint64_t planes = t->planar == 2 ? t->spp : 1;
    if (__builtin_mul_overflow(across, down, &total) ||
        __builtin_mul_overflow(total, planes, &total) || total != t->noffsets) {
        return corrupt(s, "the number of tiles or strips does not match the image size");
    }
    return STRATA_OK;
}

strata_status kc_tiff_parse(const kc_src *s, kc_tiff *t) {
    memset(t, 0, sizeof *t);
    t->bps = 1;
    t->spp = 1;
    t->compression = COMP_NONE;
    t->predictor = 1;
    t->planar = 1;
    t->sample_format = 1;
    unsigned char head[16] = {0};
    ST_TRY(kc_read(s, 0, head, s->size < 16 ? 8 : 16));
    switch (st_tiff_header(head, s->size < 16 ? 8 : 16, &t->head)) {
    case ST_TIFF_NOT_TIFF:
        return st_fail(STRATA_ERR_IO, "%s: not a TIFF file", s->name);
    case ST_TIFF_BAD_BIGTIFF:
        return corrupt(s, "bad BigTIFF header");
    default:
        break;
    }
    tiff_walk w = {s, t, 0};
    strata_status st = st_tiff_walk_ifd(&t->head, s->size, s->name, read_src, visit_entry, &w);
    size_t ncounts = w.ncounts;
    if (st == STRATA_OK) {
        st = check_layout(s, t, ncounts);
    }
    if (st != STRATA_OK) {
        kc_tiff_free(t);
    }
    return st;
}

void kc_tiff_free(kc_tiff *t) {
    free(t->offsets);
    free(t->counts);
    t->offsets = t->counts = NULL;
    t->noffsets = 0;
}

/* ---- to a Zarr array ----------------------------------------------------------------- */

static const char *compression_name(unsigned c) {
    switch (c) {
    case 5:
        return "LZW";
    case 6:
    case 7:
        return "JPEG";
    case 32773:
        return "PackBits";
    case 34887:
        return "LERC";
    case 34925:
        return "LZMA";
    case 50001:
        return "WebP";
    case 50002:
        return "JPEG-XL";
    default:
        return "an unknown scheme";
    }
}

static strata_status check_supported(const kc_src *s, const kc_tiff *t) {
    if (t->compression != COMP_NONE && t->compression != COMP_DEFLATE &&
        t->compression != COMP_ADOBE_DEFLATE && t->compression != COMP_ZSTD) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: TIFF compression %s (%u) cannot be indexed: only uncompressed, "
                       "DEFLATE and ZSTD files can (convert with gdal_translate -co "
                       "COMPRESS=DEFLATE)",
                       s->name, compression_name(t->compression), t->compression);
    }
    if (t->predictor != 1) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: TIFF predictor %u cannot be indexed (Zarr has no codec for it): "
                       "rewrite without -co PREDICTOR",
                       s->name, t->predictor);
    }
    bool ok_bits = t->bps == 8 || t->bps == 16 || t->bps == 32 || t->bps == 64;
    bool ok_float = t->sample_format != 3 || t->bps >= 16;
    if (!ok_bits || !ok_float || t->sample_format < 1 || t->sample_format > 3) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "%s: TIFF samples of %u bits, format %u, cannot be indexed", s->name, t->bps,
                       t->sample_format);
    }
    return STRATA_OK;
}

static void set_dtype(const kc_tiff *t, kc_var *v) {
    char kind = t->sample_format == 3 ? 'f' : t->sample_format == 2 ? 'i' : 'u';
    char order = t->bps == 8 ? '|' : t->head.be ? '>' : '<';
    snprintf(v->dtype, sizeof v->dtype, "%c%c%u", order, kind, (t->bps / 8) & 15);
}

static strata_status set_shape(const kc_tiff *t, kc_var *v) {
    static const char *const yx[] = {"y", "x"};
    int d = 0;
    if (t->planar == 2 && t->spp > 1) {
        v->dims[d] = st_strdup("band");
        v->shape[d] = t->spp;
        v->chunks[d++] = 1;
    }
    for (int i = 0; i < 2; i++, d++) {
        v->dims[d] = st_strdup(yx[i]);
        v->shape[d] = i ? t->width : t->height;
        v->chunks[d] = i ? t->tile_w : t->tile_h;
    }
    if (t->planar != 2 && t->spp > 1) {
        /* Pixel-interleaved samples: a chunk holds (rows, cols, bands). */
        v->dims[d] = st_strdup("band");
        v->shape[d] = t->spp;
        v->chunks[d++] = t->spp;
    }
    v->ndim = d;
    for (int i = 0; i < d; i++) {
        if (!v->dims[i]) {
            return st_nomem("dimension name");
        }
    }
    return STRATA_OK;
}

static strata_status set_codec(const kc_tiff *t, kc_var *v) {
    if (t->compression == COMP_DEFLATE || t->compression == COMP_ADOBE_DEFLATE) {
        v->compressor = json_pack("{s:s, s:i}", "id", "zlib", "level", 6);
    } else if (t->compression == COMP_ZSTD) {
        v->compressor = json_pack("{s:s, s:i}", "id", "zstd", "level", 1);
    } else {
        return STRATA_OK;
    }
    return v->compressor ? STRATA_OK : st_nomem("codec");
}

/* Decodes a short strip into full (zeroed, fulln bytes) and encodes it again with the file's
 * codec into c->data. Takes ownership of full. */
static strata_status pad_encode(const kc_src *s, const kc_tiff *t, unsigned char *raw, size_t rawn,
                                unsigned char *full, size_t fulln, kc_chunk *c) {
    size_t cap = t->compression == COMP_ZSTD ? ZSTD_compressBound(fulln)
                                             : (size_t)compressBound((uLong)fulln);
    if (t->compression == COMP_NONE) {
        memcpy(full, raw, rawn < fulln ? rawn : fulln);
        c->data = full;
        c->size = fulln;
        return STRATA_OK;
    }
    bool ok;
    if (t->compression == COMP_ZSTD) {
        ok = !ZSTD_isError(ZSTD_decompress(full, fulln, raw, rawn));
    } else {
        uLongf got = (uLongf)fulln;
        int zrc = uncompress(full, &got, raw, (uLong)rawn);
        ok = zrc == Z_OK || zrc == Z_BUF_ERROR;
    }
    unsigned char *enc = ok ? st_malloc(cap) : NULL;
    if (!enc) {
        free(full);
        return ok ? st_nomem("strip") : corrupt(s, "the last strip does not decompress");
    }
    size_t encn = cap;
    if (t->compression == COMP_ZSTD) {
        encn = ZSTD_compress(enc, cap, full, fulln, 1);
        ok = !ZSTD_isError(encn);
    } else {
        uLongf n = (uLongf)cap;
        ok = compress2(enc, &n, full, (uLong)fulln, 6) == Z_OK;
        encn = n;
    }
    free(full);
    c->data = enc;
    c->size = encn;
    return ok ? STRATA_OK : st_fail(STRATA_ERR_NOMEM, "%s: cannot re-encode a strip", s->name);
}

/* Stores chunk c decoded, padded to a whole chunk and encoded again, inline: for the image's
 * last strip when it is shorter than the others, and for unsized ZSTD frames. */
static strata_status pad_strip(const kc_src *s, const kc_tiff *t, const kc_var *v, kc_chunk *c) {
    uint64_t full = kc_dtype_size(v->dtype);
    for (int d = 0; d < v->ndim; d++) {
        if (__builtin_mul_overflow(full, v->chunks[d], &full)) {
            full = UINT64_MAX;
            break;
        }
    }
    if (full > KC_MAX_PAD_BYTES || c->size > KC_MAX_PAD_BYTES) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "%s: strips too large to index", s->name);
    }
    unsigned char *raw = st_malloc((size_t)c->size);
    unsigned char *buf = st_calloc(1, (size_t)full);
    strata_status st = raw && buf ? STRATA_OK : st_nomem("strip");
    if (st == STRATA_OK) {
        st = kc_read(s, c->offset, raw, (size_t)c->size);
    }
    if (st == STRATA_OK) {
        st = pad_encode(s, t, raw, (size_t)c->size, buf, (size_t)full, c);
        buf = NULL; /* owned by c (or freed) now */
    }
    free(raw);
    free(buf);
    return st;
}

/* libtiff writes ZSTD frames without their content size, which numcodecs 0.11 (Debian 12)
 * cannot decode: such chunks are decoded and re-encoded inline, with the size. */
static bool zstd_unsized(const kc_src *s, const kc_chunk *c) {
    unsigned char head[18];
    size_t n = c->size < sizeof head ? (size_t)c->size : sizeof head;
    return kc_read(s, c->offset, head, n) == STRATA_OK &&
           ZSTD_getFrameContentSize(head, n) == ZSTD_CONTENTSIZE_UNKNOWN;
}

/* A remote source's chunks that set_chunks reads, announced together: the last strip, every
 * ZSTD chunk (libtiff's frames are unsized: read to be re-encoded), chunks to inline. */
static void announce_reads(const kc_src *s, const kc_tiff *t, const kc_var *v, size_t threshold,
                           uint64_t per_plane, bool short_strip) {
    uint64_t *off = st_malloc(v->nchunks * sizeof *off), *len = st_malloc(v->nchunks * sizeof *len);
    size_t n = 0;
    for (size_t i = 0; off && len && i < v->nchunks; i++) {
        uint64_t end, size = t->counts[i];
        bool last = short_strip && (i + 1) % per_plane == 0;
        if (size > 0 && !__builtin_add_overflow(t->offsets[i], size, &end) && end <= s->size &&
            (last || t->compression == COMP_ZSTD || size < threshold)) {
            off[n] = t->offsets[i];
            len[n++] = size;
        }
    }
    if (n) {
        s->announce(s->more_ctx, off, len, n);
    }
    free(off);
    free(len);
}

static strata_status set_chunks(const kc_src *s, const kc_tiff *t, const kc_var *v,
                                size_t threshold) {
    uint64_t per_plane = t->noffsets / (t->planar == 2 ? t->spp : 1);
    bool short_strip = !t->tiled && t->height % t->tile_h != 0;
    if (s->announce) {
        announce_reads(s, t, v, threshold, per_plane, short_strip);
    }
    for (size_t i = 0; i < v->nchunks; i++) {
        kc_chunk *c = &v->chunk[i];
        uint64_t end;
        c->offset = t->offsets[i];
        c->size = t->counts[i];
        c->present = c->size > 0;
        if (c->present && (__builtin_add_overflow(c->offset, c->size, &end) || end > s->size)) {
            return corrupt(s, "a tile or strip lies past the end of the file");
        }
        bool last = short_strip && (i + 1) % per_plane == 0;
        if (c->present && (last || (t->compression == COMP_ZSTD && zstd_unsized(s, c)))) {
            ST_TRY(pad_strip(s, t, v, c));
        }
        ST_TRY(kc_inline_small(s, c, threshold));
    }
    return STRATA_OK;
}

/* Sparse tiles (byte count 0) read as fill_value: 0 when there is no nodata. */
static bool has_sparse(const kc_var *v) {
    for (size_t i = 0; i < v->nchunks; i++) {
        if (!v->chunk[i].present) {
            return true;
        }
    }
    return false;
}

strata_status kc_tiff_to_var(const kc_src *s, const kc_tiff *t, const char *name,
                             const kc_read_opts *o, kc_file *out) {
    ST_TRY(check_supported(s, t));
    kc_var *v = kc_file_add(out, name);
    if (!v) {
        return st_nomem("variable");
    }
    set_dtype(t, v);
    ST_TRY(set_shape(t, v));
    ST_TRY(set_codec(t, v));
    ST_TRY(kc_var_alloc_chunks(v, s->name));
    if (v->nchunks != t->noffsets) {
        return corrupt(s, "tile count mismatch");
    }
    ST_TRY(set_chunks(s, t, v, o->inline_threshold));
    if (has_sparse(v)) {
        v->fill = json_integer(0);
    }
    return STRATA_OK;
}
