/* Internal declarations of the kerchunk indexer (kerchunk*.c). Not installed.
 *
 * Each format reader (HDF5, NetCDF3, TIFF) turns one file into a kc_file: a list of Zarr v2
 * arrays whose chunks are byte ranges of that file (or inlined bytes). kerchunk.c then checks
 * the files against the first one and concatenates them into one reference set. The NetCDF3
 * and TIFF parsers read through a kc_src, which is a file or a memory buffer, so that the
 * fuzzers can drive them without files. */
#ifndef STRATA_KERCHUNK_H
#define STRATA_KERCHUNK_H

#include "source/source.h"
#include "common/tiff_ifd.h"

#include <jansson.h>

#define KC_MAXDIM 32

/* ---- byte sources (kerchunk_util.c) -------------------------------------------------- */

typedef struct kc_src {
    const char *name; /* for messages */
    int fd;           /* -1 for a memory buffer */
    const unsigned char *buf;
    uint64_t size;
    size_t nbuf; /* bytes at buf: the file's first nbuf bytes */
    /* Reads past buf (a remote file's header in buf): NULL when buf is the whole file. */
    strata_status (*more)(void *ctx, uint64_t off, void *dst, size_t n);
    /* Announces the ranges [off[i], off[i] + len[i]) that reads past buf are about to ask
     * for, in that order: they are then fetched together. NULL when nothing is gained. */
    void (*announce)(void *ctx, const uint64_t *off, const uint64_t *len, size_t n);
    void *more_ctx;
} kc_src;

strata_status kc_src_open(kc_src *s, const char *path);
void kc_src_mem(kc_src *s, const char *name, const void *buf, size_t size);
void kc_src_close(kc_src *s);
/* Reads exactly n bytes at off; fails with STRATA_ERR_IO (naming the source) past the end. */
strata_status kc_read(const kc_src *s, uint64_t off, void *dst, size_t n);

/* ---- arrays -------------------------------------------------------------------------- */

typedef struct kc_chunk {
    uint64_t offset, size;
    unsigned char *data; /* inlined bytes (size of them) or NULL for a byte range */
    bool present;        /* false: never written, reads as fill_value */
} kc_chunk;

typedef struct kc_var {
    char *name;
    const char *unsupported; /* non-NULL: the type cannot be indexed; says why */
    bool text;               /* char data ("|S1"): indexed only as a grid mapping */
    int ndim;
    char *dims[KC_MAXDIM];
    uint64_t shape[KC_MAXDIM], chunks[KC_MAXDIM];
    char dtype[8];      /* numpy type string: "<f4", ">i2", "|u1" */
    json_t *filters;    /* array or NULL */
    json_t *compressor; /* object or NULL */
    json_t *fill;       /* fill_value or NULL (JSON null) */
    json_t *missing;    /* what unwritten chunks read as when fill is NULL, or NULL (0) */
    json_t *attrs;      /* object, never NULL */
    size_t nchunks;
    kc_chunk *chunk;       /* [nchunks], C order over the chunk grid */
    unsigned char *values; /* whole decoded 1-D array (the concat coordinate) or NULL */
    size_t values_size;
} kc_var;

typedef struct kc_file {
    kc_var *vars;
    size_t nvars, cap;
    json_t *attrs; /* global attributes, never NULL once read */
} kc_file;

/* What the readers need to know besides the file. */
typedef struct kc_read_opts {
    size_t inline_threshold; /* chunks smaller than this are read and kept inline */
    const char *concat_dim;  /* a 1-D variable of this name gets its values read */
} kc_read_opts;

/* A new variable appended to f (zeroed, attrs an empty object); NULL when out of memory. */
kc_var *kc_file_add(kc_file *f, const char *name);
void kc_file_free(kc_file *f);
void kc_var_free(kc_var *v);
kc_var *kc_file_find(const kc_file *f, const char *name);
/* Product of the chunk grid, with overflow and size checks; sets v->nchunks and allocates
 * v->chunk (all absent). */
strata_status kc_var_alloc_chunks(kc_var *v, const char *file);
size_t kc_dtype_size(const char *dtype);
/* Reads chunk c's bytes into c->data when it is smaller than the threshold. */
strata_status kc_inline_small(const kc_src *s, kc_chunk *c, size_t threshold);

/* A whole chunk of v's fill value (else v->missing, else 0), encoded with v's codecs
 * (kerchunk_codec.c); *out freed with free(). */
strata_status kc_fill_chunk(const kc_var *v, unsigned char **out, size_t *n);

/* ---- helpers (kerchunk_util.c) ------------------------------------------------------- */

/* JSON has no NaN, no infinities and jansson no integers past int64, though attributes
 * hold them (a NaN missing_value, a uint64 maximum). Such values are kept as strings that
 * start with KC_RAW, and kc_dumps writes them as bare JSON text (NaN, Infinity,
 * 18446744073709551615), which Python's json module, hence zarr, reads as numbers. */
#define KC_RAW "\x01"

/* A numeric value in the given numpy type string at p (any byte order) as JSON. */
json_t *kc_json_value(const char *dtype, const unsigned char *p);
json_t *kc_json_double(double v);
/* The fill_value form of an attribute value: zarr v2 spells NaN and the infinities as the
 * strings "NaN", "Infinity", "-Infinity"; a new reference. */
json_t *kc_fill_json(const json_t *value);
/* json_dumps, with KC_RAW strings written as bare text; free() the result. */
char *kc_dumps(const json_t *o, size_t flags);

/* ---- format readers ----------------------------------------------------------------- */

/* NetCDF3 classic and 64-bit offset (kerchunk_nc3.c). */
bool kc_is_nc3(const unsigned char *head, size_t n);
strata_status kc_nc3_read(const kc_src *s, const kc_read_opts *o, kc_file *out);

/* TIFF / BigTIFF (kerchunk_tiff.c): the first image's layout. */
typedef struct kc_tiff {
    st_tiff head;                           /* byte order, BigTIFF or not, where the IFD is */
    uint64_t width, height, tile_w, tile_h; /* tile_h = rows per strip when striped */
    bool tiled;
    unsigned bps, spp, sample_format, compression, predictor, planar;
    uint64_t *offsets, *counts;
    size_t noffsets;
} kc_tiff;
strata_status kc_tiff_parse(const kc_src *s, kc_tiff *t);
void kc_tiff_free(kc_tiff *t);
/* The image as one array named name (dims [band?, y, x] or [y, x, band]). */
strata_status kc_tiff_to_var(const kc_src *s, const kc_tiff *t, const char *name,
                             const kc_read_opts *o, kc_file *out);

/* NetCDF4 / HDF5 through libhdf5 (kerchunk_hdf5.c). */
bool kc_is_hdf5(const unsigned char *head, size_t n);
strata_status kc_hdf5_read(const char *path, const kc_read_opts *o, kc_file *out);

/* GeoTIFF: layout plus the geobox attributes from GDAL (kerchunk_geo.c). */
strata_status kc_geotiff_read(const char *path, const char *name, const kc_read_opts *o,
                              kc_file *out, strata_meta **meta);
/* The same from a source whose geobox m is known already. */
strata_status kc_geotiff_read_src(const kc_src *s, const strata_meta *m, const char *name,
                                  const kc_read_opts *o, kc_file *out);

/* ---- remote files (kerchunk_remote.c) ------------------------------------------------ */

/* http(s) URLs read through the fetch stage (source/fetch.h): the headers of the next
 * files (256) are asked for ahead of the indexer, many in flight, and read in file order. The first
 * file's header is read through GDAL, whose open of it for its geobox reads the same bytes: each
 * header is fetched once. */
typedef struct kc_remote kc_remote;
/* *out is NULL when not every path is an http(s) URL the fetch stage reads (nor /vsicurl/
 * followed by one): the files are then read as local files. */
strata_status kc_remote_new(const char *const *paths, size_t n, kc_remote **out);
void kc_remote_free(kc_remote *r);
/* The URL written in the references, and the path GDAL opens, of file i. */
const char *kc_remote_url(const kc_remote *r, size_t i);
const char *kc_remote_gdal_path(const kc_remote *r, size_t i);
/* File i as a source: its header bytes, the rest read on demand; closed by kc_remote_close.
 * Fails naming the URL and the HTTP status or network error. */
strata_status kc_remote_open(kc_remote *r, size_t i, kc_src *s);
void kc_remote_close(kc_remote *r, size_t i, kc_src *s);

#endif
