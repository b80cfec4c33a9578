/* Chunk codecs of the Zarr writer and how each is described in v2 and v3 metadata.
 * Levels follow what zarr-python/numcodecs pick by default, except zstd (its own default,
 * 3), so stores compare with those xarray writes. Every call here is thread-safe: blosc runs
 * through its context API (no global state) and each worker owns its zstd context. */
#include "zarr/zarr.h"

#include <blosc.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

enum { BLOSC_LEVEL = 5, ZSTD_LEVEL = 3, ZLIB_LEVEL = 1, GZIP_HEADER_SLACK = 32 };

struct st_zarr_coder {
    strata_codec codec;
    int zarr_version; /* v3 has no zlib codec: "zlib" is written as gzip there */
    ZSTD_CCtx *zstd;
    void *out; /* the encoded chunk; none for STRATA_CODEC_NONE, whose chunks go as they are */
    size_t cap;
};

st_zarr_coder *st_zarr_coder_new(strata_codec codec, int zarr_version, size_t max_chunk) {
    st_zarr_coder *k = st_calloc(1, sizeof *k);
    if (!k) {
        return NULL;
    }
    k->codec = codec;
    k->zarr_version = zarr_version;
    k->cap = st_zarr_bound(codec, max_chunk);
    bool ok = codec == STRATA_CODEC_NONE || (k->out = st_malloc(k->cap)) != NULL;
    if (ok && codec == STRATA_CODEC_ZSTD) {
        ok = (k->zstd = ZSTD_createCCtx()) != NULL;
    }
    if (!ok) {
        st_zarr_coder_free(k);
        return NULL;
    }
    return k;
}

void st_zarr_coder_free(st_zarr_coder *k) {
    if (k) {
        ZSTD_freeCCtx(k->zstd);
        free(k->out);
        free(k);
    }
}

size_t st_zarr_bound(strata_codec codec, size_t n) {
    switch (codec) {
    case STRATA_CODEC_BLOSC_LZ4:
    case STRATA_CODEC_BLOSC_ZSTD:
        return n + BLOSC_MAX_OVERHEAD;
    case STRATA_CODEC_ZSTD:
        return ZSTD_compressBound(n);
    case STRATA_CODEC_ZLIB:
        return compressBound((uLong)n) + GZIP_HEADER_SLACK;
    default:
        return n;
    }
}

static strata_status encode_blosc(const st_zarr_coder *k, size_t typesize, const void *src,
                                  size_t n, void *dst, size_t cap, size_t *len) {
    if (n > BLOSC_MAX_BUFFERSIZE) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "a chunk of %zu bytes is too large for blosc "
                       "(at most %d): use smaller --chunks",
                       n, BLOSC_MAX_BUFFERSIZE);
    }
    const char *cname = k->codec == STRATA_CODEC_BLOSC_LZ4 ? "lz4" : "zstd";
    int rc =
        blosc_compress_ctx(BLOSC_LEVEL, BLOSC_SHUFFLE, typesize, n, src, dst, cap, cname, 0, 1);
    if (rc <= 0) {
        return st_fail(STRATA_ERR_WRITE, "blosc-%s failed to compress a chunk (%d)", cname, rc);
    }
    *len = (size_t)rc;
    return STRATA_OK;
}

static strata_status encode_zstd(st_zarr_coder *k, const void *src, size_t n, void *dst, size_t cap,
                                 size_t *len) {
    size_t rc = ZSTD_compressCCtx(k->zstd, dst, cap, src, n, ZSTD_LEVEL);
    if (ZSTD_isError(rc)) {
        return st_fail(STRATA_ERR_WRITE, "zstd failed to compress a chunk: %s",
                       ZSTD_getErrorName(rc));
    }
    *len = rc;
    return STRATA_OK;
}

/* windowBits 15 + 16 asks zlib for a gzip wrapper (v3's gzip codec); 15 alone is the zlib
 * wrapper numcodecs' Zlib reads (v2). */
static strata_status encode_deflate(bool gzip, const void *src, size_t n, void *dst, size_t cap,
                                    size_t *len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, ZLIB_LEVEL, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return st_nomem("zlib stream");
    }
    zs.next_in = (Bytef *)src;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    *len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        return st_fail(STRATA_ERR_WRITE, "zlib failed to compress a chunk (%d)", rc);
    }
    return STRATA_OK;
}

strata_status st_zarr_encode(st_zarr_coder *k, size_t typesize, const void *src, size_t n,
                             void *dst, size_t cap, size_t *len) {
    switch (k->codec) {
    case STRATA_CODEC_BLOSC_LZ4:
    case STRATA_CODEC_BLOSC_ZSTD:
        return encode_blosc(k, typesize, src, n, dst, cap, len);
    case STRATA_CODEC_ZSTD:
        return encode_zstd(k, src, n, dst, cap, len);
    case STRATA_CODEC_ZLIB:
        if (n > 0xFFFFFFFFu) {
            return st_fail(STRATA_ERR_INVALID_ARG, "a chunk of %zu bytes is too large for zlib", n);
        }
        return encode_deflate(k->zarr_version == 3, src, n, dst, cap, len);
    default:
        memcpy(dst, src, n);
        *len = n;
        return STRATA_OK;
    }
}

strata_status st_zarr_write_chunk(st_zarr_coder *k, const char *root, const char *key,
                                  size_t typesize, const void *chunk, size_t n) {
    const void *out = chunk;
    size_t len = n;
    if (k->codec != STRATA_CODEC_NONE) {
        ST_TRY(st_zarr_encode(k, typesize, chunk, n, k->out, k->cap, &len));
        out = k->out;
    }
    char *path = st_zarr_path(root, key, NULL);
    if (!path) {
        return st_nomem("path");
    }
    strata_status st = k->zarr_version == 3 ? st_zarr_make_parents(path) : STRATA_OK;
    if (st == STRATA_OK) {
        st = st_zarr_write_atomic(path, out, len);
    }
    free(path);
    return st;
}

strata_status st_zarr_decode(strata_codec codec, const void *src, size_t len, void *dst, size_t n) {
    bool ok = false;
    switch (codec) {
    case STRATA_CODEC_BLOSC_LZ4:
    case STRATA_CODEC_BLOSC_ZSTD: {
        size_t nbytes = 0, cbytes = 0, bsize = 0;
        if (len >= BLOSC_MIN_HEADER_LENGTH) {
            blosc_cbuffer_sizes(src, &nbytes, &cbytes, &bsize);
        }
        ok = nbytes == n && cbytes <= len && blosc_decompress_ctx(src, dst, n, 1) == (int)n;
        break;
    }
    case STRATA_CODEC_ZSTD:
        ok = ZSTD_decompress(dst, n, src, len) == n;
        break;
    case STRATA_CODEC_ZLIB: {
        /* windowBits 15 + 32: either wrapper, zlib (v2) or gzip (v3). */
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (len <= 0xFFFFFFFFu && n <= 0xFFFFFFFFu && inflateInit2(&zs, 15 + 32) == Z_OK) {
            zs.next_in = (Bytef *)src;
            zs.avail_in = (uInt)len;
            zs.next_out = dst;
            zs.avail_out = (uInt)n;
            ok = inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out == n;
            inflateEnd(&zs);
        }
        break;
    }
    default:
        ok = len == n;
        if (ok) {
            memcpy(dst, src, n);
        }
    }
    return ok ? STRATA_OK
              : st_fail(STRATA_ERR_IO, "a %s chunk does not decode to %zu bytes",
                        strata_codec_name(codec), n);
}

json_t *st_zarr_codec_v2(strata_codec codec) {
    switch (codec) {
    case STRATA_CODEC_BLOSC_LZ4:
    case STRATA_CODEC_BLOSC_ZSTD:
        return json_pack("{s:s,s:s,s:i,s:i,s:i}", "id", "blosc", "cname",
                         codec == STRATA_CODEC_BLOSC_LZ4 ? "lz4" : "zstd", "clevel", BLOSC_LEVEL,
                         "shuffle", BLOSC_SHUFFLE, "blocksize", 0);
    case STRATA_CODEC_ZSTD:
        return json_pack("{s:s,s:i}", "id", "zstd", "level", ZSTD_LEVEL);
    case STRATA_CODEC_ZLIB:
        return json_pack("{s:s,s:i}", "id", "zlib", "level", ZLIB_LEVEL);
    default:
        return json_null();
    }
}

static json_t *codec_v3(strata_codec codec, size_t typesize) {
    switch (codec) {
    case STRATA_CODEC_BLOSC_LZ4:
    case STRATA_CODEC_BLOSC_ZSTD:
        return json_pack("{s:s,s:{s:s,s:i,s:s,s:i,s:i}}", "name", "blosc", "configuration", "cname",
                         codec == STRATA_CODEC_BLOSC_LZ4 ? "lz4" : "zstd", "clevel", BLOSC_LEVEL,
                         "shuffle", "shuffle", "typesize", (int)typesize, "blocksize", 0);
    case STRATA_CODEC_ZSTD:
        return json_pack("{s:s,s:{s:i,s:b}}", "name", "zstd", "configuration", "level", ZSTD_LEVEL,
                         "checksum", 0);
    case STRATA_CODEC_ZLIB:
        return json_pack("{s:s,s:{s:i}}", "name", "gzip", "configuration", "level", ZLIB_LEVEL);
    default:
        return NULL;
    }
}

json_t *st_zarr_codecs_v3(strata_codec codec, size_t typesize) {
    json_t *list = json_array();
    json_t *bytes =
        json_pack("{s:s,s:{s:s}}", "name", "bytes", "configuration", "endian", "little");
    if (!list || !bytes || json_array_append_new(list, bytes) != 0) {
        json_decref(list);
        return NULL;
    }
    if (codec != STRATA_CODEC_NONE && json_array_append_new(list, codec_v3(codec, typesize))) {
        json_decref(list);
        return NULL;
    }
    return list;
}
