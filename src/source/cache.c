/* Per-thread LRU caches of open GDAL datasets. GDAL datasets are not thread-safe, so each
 * thread opens its own; the collection keeps the list of caches so that freeing it closes
 * every dataset of every thread. A cache is found by the thread's identity: a thread id
 * reused after its thread ended gets that thread's cache, which nothing else is using. */
#include "source/source.h"
#include "common/strata_testing.h"
#include "source/grid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <tiffio.h>
#include <unistd.h>

typedef struct cache_entry {
    size_t t;
    GDALDatasetH ds;
    TIFF *tif; /* when its compressed blocks are read into the thread's buffer (see raw) */
    uint64_t last_use;
    GDALDatasetH warp_src; /* the file under ds when ds is a warped VRT (owned by ds) */
} cache_entry;

struct st_thread_cache {
    const strata_collection *c;
    pthread_t owner;
    cache_entry *entries;
    int capacity; /* entries allocated; follows the collection's setting on next use */
    int count;
    uint64_t tick;
    void *scratch;
    size_t scratch_size;
    /* libtiff reads a compressed block into a buffer of the handle, grown as larger blocks
     * come. With a handle per file and dozens of files a thread, those buffers together
     * outgrow the caches: every read copies into cold memory, and the growing copies and
     * faults more. The handles of a thread share this one. */
    void *raw;
    size_t raw_size;
    OGRSpatialReferenceH tmpl_srs; /* parsed once per thread: OSR objects are not shared */
    bool srs_parsed;
    unsigned char *tmpl_keys; /* the template's GeoKey tags, when it is a GeoTIFF */
    size_t tmpl_keys_len;
    bool keys_read;
};

static int thread_capacity(const strata_collection *c);

void st_cache_free(st_thread_cache *tc) {
    if (!tc) {
        return;
    }
    for (int i = 0; i < tc->count; i++) {
        GDALClose(tc->entries[i].ds);
    }
    free(tc->entries);
    free(tc->scratch);
    free(tc->raw);
    free(tc->tmpl_keys);
    if (tc->tmpl_srs) {
        OSRDestroySpatialReference(tc->tmpl_srs);
    }
    free(tc);
}

/* Index of the calling thread's cache in c->caches, or c->ncaches; under c->lock. */
static size_t own_cache(const strata_collection *c) {
    size_t i = 0;
    while (i < c->ncaches && !pthread_equal(c->caches[i]->owner, pthread_self())) {
        i++;
    }
    return i;
}

static strata_status add_cache(strata_collection *c, st_thread_cache *tc) {
    if (c->ncaches == c->caches_cap) {
        size_t cap = c->caches_cap ? 2 * c->caches_cap : 8;
        st_thread_cache **grown = st_realloc(c->caches, cap * sizeof *grown);
        if (!grown) {
            return st_nomem("handle caches");
        }
        c->caches = grown;
        c->caches_cap = cap;
    }
    c->caches[c->ncaches++] = tc;
    return STRATA_OK;
}

strata_status st_cache_for_thread(const strata_collection *cc, st_thread_cache **out) {
    /* The list of caches is the one mutable part of a shared collection. */
    strata_collection *c = (strata_collection *)cc;
    strata_status st = STRATA_OK;
    pthread_mutex_lock(&c->lock);
    size_t i = own_cache(c);
    st_thread_cache *tc = i < c->ncaches ? c->caches[i] : NULL;
    if (!tc) {
        tc = st_calloc(1, sizeof *tc);
        if (tc) {
            tc->c = c;
            tc->owner = pthread_self();
            atomic_fetch_add(&c->nthreads, 1);
            tc->capacity = thread_capacity(c);
            tc->entries = st_calloc((size_t)tc->capacity, sizeof *tc->entries);
        }
        if (!tc || !tc->entries || (st = add_cache(c, tc)) != STRATA_OK) {
            st_cache_free(tc);
            tc = NULL;
            st = st_nomem("handle cache");
        }
    }
    pthread_mutex_unlock(&c->lock);
    *out = tc;
    return st;
}

void st_cache_drop_thread(const strata_collection *cc) {
    strata_collection *c = (strata_collection *)cc;
    st_thread_cache *tc = NULL;
    pthread_mutex_lock(&c->lock);
    size_t i = own_cache(c);
    if (i < c->ncaches) {
        tc = c->caches[i];
        c->caches[i] = c->caches[--c->ncaches];
        atomic_fetch_sub(&c->nthreads, 1);
    }
    pthread_mutex_unlock(&c->lock);
    st_cache_free(tc);
}

int strata_testing_open_count(const strata_collection *c) {
    st_thread_cache *tc;
    if (!c || st_cache_for_thread(c, &tc) != STRATA_OK) {
        return 0;
    }
    return tc->count;
}

void *st_cache_scratch(st_thread_cache *tc, size_t n) {
    if (n > tc->scratch_size) {
        void *p = st_realloc(tc->scratch, n);
        if (!p) {
            return NULL;
        }
        tc->scratch = p;
        tc->scratch_size = n;
    }
    return tc->scratch;
}

/* True when GDAL's blocks of ds are the file's strips or tiles. GDAL reads a large single
 * strip of bytes line by line (its "split" bands) with libtiff's scanline reader, which keeps
 * its place in the strip's bytes from one block to the next: another file's read in between
 * would overwrite them. */
static bool blocks_are_striles(GDALDatasetH ds, TIFF *tif) {
    int bw, bh;
    GDALGetBlockSize(GDALGetRasterBand(ds, 1), &bw, &bh);
    uint32_t w = 0, h = 0, rows = 0;
    if (TIFFIsTiled(tif)) {
        return TIFFGetField(tif, TIFFTAG_TILEWIDTH, &w) &&
               TIFFGetField(tif, TIFFTAG_TILELENGTH, &h) && w == (uint32_t)bw && h == (uint32_t)bh;
    }
    return TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) &&
           TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows) &&
           (rows < h ? rows : h) == (uint32_t)bh;
}

/* GDAL's libtiff handle of ds when its blocks can be read into a shared buffer: whole strips
 * or tiles, with codecs that only read the block's bytes from it (not uncompressed data,
 * which libtiff reads straight into the destination, nor JPEG, whose raw data libtiff may
 * not expose). */
static TIFF *tiff_to_share(GDALDatasetH ds) {
    TIFF *tif = st_gdal_tiff(ds);
    uint16_t comp = COMPRESSION_NONE;
    if (!tif || !TIFFGetField(tif, TIFFTAG_COMPRESSION, &comp) || !blocks_are_striles(ds, tif)) {
        return NULL;
    }
    switch (comp) {
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE:
    case COMPRESSION_LZW:
    case COMPRESSION_ZSTD:
    case COMPRESSION_LZMA:
    case COMPRESSION_PACKBITS:
        return tif;
    default:
        return NULL;
    }
}

/* A buffer of at least n bytes for every shared handle of the thread: the old one is freed
 * only once no handle points at it. */
static bool grow_raw(st_thread_cache *tc, uint64_t n) {
    size_t size = tc->raw_size * 2 > n ? tc->raw_size * 2 : (size_t)n;
    size = (size + 65535) & ~(size_t)65535;
    void *raw = st_malloc(size);
    if (!raw) {
        return false;
    }
    for (int i = 0; i < tc->count; i++) {
        if (tc->entries[i].tif) {
            TIFFReadBufferSetup(tc->entries[i].tif, raw, (tmsize_t)size);
        }
    }
    free(tc->raw);
    tc->raw = raw;
    tc->raw_size = size;
    return true;
}

void st_cache_fit_block(st_thread_cache *tc, TIFF *tif, int x, int y, int sample) {
    bool tiled = TIFFIsTiled(tif);
    uint32_t strile = tiled ? TIFFComputeTile(tif, (uint32_t)x, (uint32_t)y, 0, (uint16_t)sample)
                            : TIFFComputeStrip(tif, (uint32_t)y, (uint16_t)sample);
    uint64_t n = TIFFGetStrileByteCount(tif, strile);
    /* A byte count beyond libtiff's own bound for a block (ten times its decoded size, with
     * a margin) is corrupt: libtiff's buffer, which it grows only as bytes arrive and whose
     * size it limits, handles it as GDAL alone would. */
    uint64_t decoded = tiled ? TIFFTileSize64(tif) : TIFFStripSize64(tif);
    if (n > decoded * 10 + 4096 || (n > tc->raw_size && !grow_raw(tc, n))) {
        TIFFReadBufferSetup(tif, NULL, 1024);
        return;
    }
    TIFFReadBufferSetup(tif, tc->raw, (tmsize_t)tc->raw_size);
}

/* Handles a thread keeps open: the collection's capacity, within an equal share, among the
 * threads reading the collection, of three quarters of the open-file limit less 16. The rest
 * is for everything else a run opens: outputs, the Zarr writer's chunk files (one a thread),
 * PROJ's database, GDAL's side files. At least one: a thread reads one file at a time. */
static int thread_capacity(const strata_collection *c) {
    long limit = st_fd_limit();
    long threads = atomic_load(&c->nthreads);
    long share = (limit - limit / 4 - 16) / (threads > 0 ? threads : 1);
    return share < 1 ? 1 : share < c->cache_capacity ? (int)share : c->cache_capacity;
}

static bool nodata_as_first(const strata_collection *c, size_t k) {
    const strata_meta *m = c->meta;
    for (int b = 0; b < c->src_bands; b++) {
        int kb = (int)k * c->src_bands + b;
        if (m->has_nodata[kb] != m->has_nodata[b] ||
            (m->has_nodata[b] && memcmp(&m->nodata[kb], &m->nodata[b], sizeof(double)) != 0)) {
            return false;
        }
    }
    return true;
}

bool st_source_same_header(const strata_collection *c, size_t f, const unsigned char *keys,
                           size_t len, const unsigned char *tmpl_keys, size_t tmpl_len) {
    const char *drv = c->meta->driver;
    return (strcmp(drv, "GTiff") == 0 || strcmp(drv, "COG") == 0) && !c->sidecars &&
           atomic_load(&c->checked[0]) && nodata_as_first(c, f % c->nsrc) &&
           (!keys || (tmpl_keys && len == tmpl_len && memcmp(keys, tmpl_keys, len) == 0));
}

/* True when file f is a GeoTIFF whose compared tags are the template's (see
 * st_source_same_header). The tags are read only when the collection could match. */
static bool same_header(st_thread_cache *tc, size_t f) {
    const strata_collection *c = tc->c;
    if (!st_source_same_header(c, f, NULL, 0, NULL, 0)) {
        return false;
    }
    if (!tc->keys_read) {
        tc->keys_read = true;
        if (!st_geokeys(tc->c->paths[0], &tc->tmpl_keys, &tc->tmpl_keys_len)) {
            tc->tmpl_keys = NULL;
        }
    }
    unsigned char *keys;
    size_t len;
    if (!tc->tmpl_keys || !st_geokeys(c->paths[f], &keys, &len)) {
        return false;
    }
    bool same = st_source_same_header(c, f, keys, len, tc->tmpl_keys, tc->tmpl_keys_len);
    free(keys);
    return same;
}

static strata_status check_against_template(st_thread_cache *tc, size_t f, GDALDatasetH ds) {
    const strata_collection *c = tc->c;
    if (same_header(tc, f)) {
        return STRATA_OK;
    }
    if (!tc->srs_parsed) {
        ST_TRY(st_meta_crs(tc->c->meta));
        tc->tmpl_srs = st_meta_srs(tc->c->meta);
        tc->srs_parsed = true;
    }
    char why[512];
    int band0 = (int)(f % c->nsrc) * c->src_bands;
    if (!st_meta_matches(c->meta, tc->tmpl_srs, c->src_bands, band0, c->meta_from_stac, ds, why,
                         sizeof why)) {
        return st_fail(STRATA_ERR_MISALIGNED, "%s: %s", c->paths[f], why);
    }
    return STRATA_OK;
}

static strata_status open_checked(st_thread_cache *tc, size_t t, GDALDatasetH *out,
                                  GDALDatasetH *warp_src) {
    const strata_collection *c = tc->c;
    const char *path = c->paths[t];
    *warp_src = NULL;
    if (c->grid) {
        return st_grid_open(c, t, out, warp_src);
    }
    st_gdal_quiet_begin();
    GDALDatasetH ds = st_open_raster(path, c->meta->driver, c->sidecars);
    st_gdal_quiet_end();
    if (!ds) {
        return STRATA_ERR_IO;
    }
    if (!atomic_load(&c->checked[t])) {
        strata_status st = check_against_template(tc, t, ds);
        if (st != STRATA_OK) {
            GDALClose(ds);
            return st;
        }
        atomic_store(&((strata_collection *)c)->checked[t], 1);
    }
    *out = ds;
    return STRATA_OK;
}

static int least_recently_used(const st_thread_cache *tc) {
    int lru = 0;
    for (int i = 1; i < tc->count; i++) {
        if (tc->entries[i].last_use < tc->entries[lru].last_use) {
            lru = i;
        }
    }
    return lru;
}

/* The capacity, or the number of threads sharing the open-file limit, may have changed since
 * this thread's cache was made: close the least recently used datasets beyond the new bound
 * and resize. */
static strata_status follow_capacity(st_thread_cache *tc) {
    int want = thread_capacity(tc->c);
    if (want == tc->capacity) {
        return STRATA_OK;
    }
    while (tc->count > want) {
        int lru = least_recently_used(tc);
        GDALClose(tc->entries[lru].ds);
        tc->entries[lru] = tc->entries[--tc->count];
    }
    cache_entry *e = st_realloc(tc->entries, (size_t)want * sizeof *e);
    if (!e) {
        return st_nomem("handle cache");
    }
    tc->entries = e;
    tc->capacity = want;
    return STRATA_OK;
}

strata_status st_cache_acquire(st_thread_cache *tc, size_t t, GDALDatasetH *out, TIFF **tif) {
    ST_TRY(follow_capacity(tc));
    for (int i = 0; i < tc->count; i++) {
        if (tc->entries[i].t == t) {
            tc->entries[i].last_use = ++tc->tick;
            *out = tc->entries[i].ds;
            if (tif) {
                *tif = tc->entries[i].tif;
            }
            return STRATA_OK;
        }
    }
    GDALDatasetH ds, warp_src;
    ST_TRY(open_checked(tc, t, &ds, &warp_src));
    int slot = tc->count;
    if (tc->count == tc->capacity) {
        slot = least_recently_used(tc);
        GDALClose(tc->entries[slot].ds);
    } else {
        tc->count++;
    }
    tc->entries[slot] = (cache_entry){t, ds, tiff_to_share(ds), ++tc->tick, warp_src};
    *out = ds;
    if (tif) {
        *tif = tc->entries[slot].tif;
    }
    return STRATA_OK;
}

void st_cache_close(st_thread_cache *tc, size_t f) {
    for (int i = 0; i < tc->count; i++) {
        if (tc->entries[i].t == f) {
            GDALClose(tc->entries[i].ds);
            tc->entries[i] = tc->entries[--tc->count];
            return;
        }
    }
}

static void drop_blocks(GDALDatasetH ds) {
    for (int b = 1; b <= GDALGetRasterCount(ds); b++) {
        GDALFlushRasterCache(GDALGetRasterBand(ds, b));
    }
}

void st_cache_drop_warp_blocks(st_thread_cache *tc, size_t f) {
    for (int i = 0; i < tc->count; i++) {
        if (tc->entries[i].t == f && tc->entries[i].warp_src) {
            /* The VRT keeps the blocks of its other bands it warped along with the one read. */
            drop_blocks(tc->entries[i].ds);
            drop_blocks(tc->entries[i].warp_src);
            return;
        }
    }
}

const strata_collection *st_cache_collection(const st_thread_cache *tc) {
    return tc->c;
}
