/* Internal interfaces of the Zarr writer: codecs (zarr_codec.c), metadata documents
 * (zarr_meta.c), store files (zarr_store.c) and the job (zarr.c). Not installed. */
#ifndef STRATA_ZARR_H
#define STRATA_ZARR_H

#include "exec/exec.h"
#include "reduce/sink.h"
#include "source/source.h"

#include <jansson.h>

/* Version of the store layout strata writes (root attribute "strata_zarr_version"). */
enum { ST_ZARR_LAYOUT_VERSION = 1 };

/* ---- codecs (zarr_codec.c) ------------------------------------------------------------- */

/* A writing thread's chunk encoder: its compression state (zstd keeps a context) and an
 * output buffer for chunks of up to max_chunk bytes. */
typedef struct st_zarr_coder st_zarr_coder;

st_zarr_coder *st_zarr_coder_new(strata_codec codec, int zarr_version, size_t max_chunk);
void st_zarr_coder_free(st_zarr_coder *k);
/* Encodes a chunk of n bytes (elements of typesize, n <= max_chunk) and writes it to
 * root/key atomically, making the key's folders in v3. */
strata_status st_zarr_write_chunk(st_zarr_coder *k, const char *root, const char *key,
                                  size_t typesize, const void *chunk, size_t n);
/* Decodes len bytes of a chunk written with codec into dst, which must receive exactly n
 * bytes. */
strata_status st_zarr_decode(strata_codec codec, const void *src, size_t len, void *dst, size_t n);
/* Largest encoded size of n bytes. */
size_t st_zarr_bound(strata_codec codec, size_t n);
/* Encodes n bytes of elements of typesize into dst (cap >= st_zarr_bound); *len receives
 * the encoded size. STRATA_CODEC_NONE copies. */
strata_status st_zarr_encode(st_zarr_coder *k, size_t typesize, const void *src, size_t n,
                             void *dst, size_t cap, size_t *len);
/* The codec's description in array metadata: v2 "compressor" (NULL for none), or the v3
 * "codecs" list (bytes first). New references. */
json_t *st_zarr_codec_v2(strata_codec codec);
json_t *st_zarr_codecs_v3(strata_codec codec, size_t typesize);

/* ---- metadata (zarr_meta.c) ------------------------------------------------------------ */

enum { ST_ZARR_MAXDIM = 4 };

/* One array of the store: enough to write its metadata in either version. */
typedef struct st_zarr_array {
    char name[64];
    strata_dtype dtype;
    int ndim;
    uint64_t shape[ST_ZARR_MAXDIM];
    uint64_t chunks[ST_ZARR_MAXDIM];
    const char *dims[ST_ZARR_MAXDIM];
    strata_codec codec;
    bool has_fill; /* false: v2 writes null, v3 writes 0 */
    double fill;
    json_t *attrs; /* owned; without _ARRAY_DIMENSIONS (added for v2) */
    int str_len;   /* > 0: fixed-length unicode of that many characters (v2 "<U"), not dtype */
} st_zarr_array;

/* The whole metadata document of an array: v2 ".zarray", v3 "zarr.json" (with attributes
 * and dimension_names). New reference or NULL when out of memory. */
json_t *st_zarr_array_doc(const st_zarr_array *a, int zarr_version);
/* The v2 ".zattrs" of an array: its attributes plus _ARRAY_DIMENSIONS. */
json_t *st_zarr_array_attrs_v2(const st_zarr_array *a);
/* Base64 of the little-endian bytes of v: how xarray stores a float _FillValue in v3. */
json_t *st_zarr_fill_b64(double v);

/* ---- store files (zarr_store.c) ------------------------------------------------------- */

/* Joins store, and up to two more parts with '/'; NULL when out of memory. */
char *st_zarr_path(const char *store, const char *a, const char *b);
/* Writes len bytes to path under a temporary name in the same folder, then renames, so a
 * reader sees the whole file or nothing. */
strata_status st_zarr_write_atomic(const char *path, const void *buf, size_t len);
strata_status st_zarr_write_json(const char *path, const json_t *doc);
/* mkdir -p of the folder that will hold path's last component. */
strata_status st_zarr_make_parents(const char *path);
strata_status st_zarr_mkdir(const char *path);
/* Reads a whole file; *buf freed with free. */
strata_status st_zarr_read_file(const char *path, char **buf, size_t *len);
json_t *st_zarr_read_json(const char *path);
bool st_zarr_exists(const char *path);
/* The store has root metadata (.zgroup/.zmetadata or zarr.json). */
bool st_zarr_has_metadata(const char *store);
/* Prepares the store folder for mode: fails for "w-" when it exists, and for "w" when what
 * is there is not a store strata wrote (a file, a folder of other things); sets *append when
 * "a" finds a store to extend. *target (freed by the caller) is the folder to write: the
 * store itself when it is new or appended to, else a folder beside it (ST_ZARR_NEW_SUFFIX)
 * that st_zarr_swap moves in when complete. */
strata_status st_zarr_prepare(const char *store, strata_zarr_mode mode, bool *append,
                              char **target);
/* The folder a prepared write goes to (for the steps after the prepare); free with free(). */
char *st_zarr_target(const char *store);
/* Moves the complete store tmp to store: the old one aside, the new one in, the old deleted. */
strata_status st_zarr_swap(const char *tmp, const char *store);
/* "dir/.name" + suffix beside store. */
char *st_zarr_sibling(const char *store, const char *suffix);
/* Refuses a store (or the folder beside it that a replacing write goes to) that is one of the
 * n inputs or holds one, and a store name JSON cannot hold. */
strata_status st_zarr_guard(const char *const *inputs, size_t n, const char *store);
/* Deletes a store folder, its root metadata first. */
strata_status st_zarr_delete(const char *store);
/* Name of the marker file present while a store is being written. */
extern const char *const ST_ZARR_MARKER;
/* Suffix of the hidden folder a replacing write goes to (".s.zarr.strata-new"). */
extern const char *const ST_ZARR_NEW_SUFFIX;

/* ---- layout: what goes in the store (zarr_layout.c) ----------------------------------- */

/* Everything a write decides before it starts; for an append, merged with what the store
 * already holds. */
typedef struct st_zarr_plan {
    const strata_collection *c;
    const char *store;
    char name[64]; /* the cube variable */
    int version;
    strata_codec codec;
    strata_chunks ch;
    size_t t_offset; /* timesteps already in the store (append), else 0 */
    size_t T;        /* timesteps after the write */
    bool has_fill;
    double fill;
    /* The stored type: the source's, or (derived) values computed from it, unpacked floats
     * with NaN for missing, whose attributes carry no source nodata nor packing. */
    strata_dtype dtype;
    bool derived;
    bool cf_times;   /* time holds UTC seconds; else an index 0..T-1 */
    int64_t *times;  /* [T] */
    json_t *sources; /* every source path, old and new */
} st_zarr_plan;

/* Resolves fill, chunks and times; with append, loads the store's layout and fails with a
 * clear message unless geobox, type, chunks, codec and times fit. Nothing is written. */
strata_status st_zarr_plan_init(st_zarr_plan *p, const strata_collection *c, const char *store,
                                const strata_zarr_opts *o, bool append);
void st_zarr_plan_destroy(st_zarr_plan *p);
/* Coordinate arrays' chunks: all of them for a new store, time only for an append. */
strata_status st_zarr_write_coords(const st_zarr_plan *p);
/* Every metadata document, the root group's last (v2: .zmetadata after .zgroup). */
strata_status st_zarr_write_metadata(const st_zarr_plan *p);
/* The coordinates band, y, x and spatial_ref: their chunks (st_zarr_write_spatial needs c,
 * store and version of p), and their 4 arrays' metadata into a[0..3]. */
strata_status st_zarr_write_spatial(const st_zarr_plan *p);
void st_zarr_spatial_arrays(const strata_meta *m, st_zarr_array *a);
/* What tells xarray, rioxarray and GDAL a variable's grid: grid_mapping, GeoTransform, CRS. */
json_t *st_zarr_geo_attrs(const strata_meta *m);
/* The metadata of arrays a[0..n) and of the root group (attributes root, borrowed), the
 * root's last and consolidated, then the marker of an incomplete store goes. */
strata_status st_zarr_write_docs(const st_zarr_plan *p, const st_zarr_array *a, int n,
                                 json_t *root);
/* True for the names of the coordinate arrays, which the cube variable cannot take. */
bool st_zarr_reserved_name(const char *name);
uint64_t st_zarr_nchunks(uint64_t n, uint64_t chunk);
/* Relative key of chunk idx of a 4-d array name ("data/0.1.2.3" or "data/c/0/1/2/3"). */
void st_zarr_key4(int zarr_version, const char *name, const uint64_t idx[4], char *buf,
                  size_t size);
/* The key of a data chunk of the plan's variable. */
void st_zarr_chunk_key(const st_zarr_plan *p, const uint64_t idx[4], char *buf, size_t size);

/* The sink of strata_groupby_to_zarr, after the request is checked (store name, mode, codec,
 * no input inside the store). mk->ctx is allocated: free() it after the run. */
strata_status st_zarr_groups_sink(const strata_collection *c, const strata_reduce_opts *opts,
                                  const char *dim, const char *store, const strata_zarr_opts *zopts,
                                  st_sink_maker *mk);

#endif
