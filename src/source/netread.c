/* Remote GeoTIFF window reads through the fetcher (see netread.h).
 *
 * Each file's header is fetched once per collection (its first 16 KB, the rest when its IFD or
 * block index ends further) and kept parsed: the block offsets and sizes, and the tags
 * compared with the template. A file whose tags are the template's byte for byte is known to
 * match it (st_source_same_header, as for local files), so it never goes through
 * GDAL's open; any other is opened and checked by GDAL and read by GDAL.
 *
 * Requested blocks wait in a table shared by the threads, keyed by file and block: a reader
 * may read ahead for items another thread will take. A block is taken out when read; what
 * nobody read is dropped at the end of a job (st_net_drop). */
#include "source/netread.h"

#include "source/fetch.h"
#include "source/rtiff.h"

#include <stdlib.h>
#include <string.h>

enum { F_UNKNOWN, F_REQUESTED, F_PARSED, F_FAST, F_GDAL, F_FAILED };

/* Header bytes read at most for one file: a block index larger than this is GDAL's. */
#define HEAD_MAX ((uint64_t)64 << 20)

typedef struct nfile {
    int state;
    bool busy; /* a thread is reading its header */
    st_fetch_req *head;
    st_rtiff tiff;
    unsigned char *keys; /* the compared tags (geokeys.c), NULL when not a GeoTIFF */
    size_t keys_len;
    strata_status status; /* F_FAILED: why */
    char *message;
} nfile;

struct st_net {
    st_fetch *fetch;
    size_t nfiles;
    nfile *files;
    pthread_mutex_t lock; /* the files' states */
    pthread_cond_t cv;
    pthread_mutex_t store_lock; /* the table of requested blocks */
    struct pblock **table;
    size_t nbuckets;
    int batching; /* threads collecting a batch (st_net_batch_begin): blocks on their way */
    pthread_cond_t batch_done;
};

typedef struct chunk {
    st_fetch_req *req;
    int refs; /* blocks not yet read; under n->store_lock */
} chunk;

/* A block requested and not yet read, in a bucket of n->table. */
typedef struct pblock {
    size_t f, strile;
    chunk *ch;
    size_t sub; /* where the block starts in the chunk's bytes */
    struct pblock *next;
} pblock;

static void drop_block(st_net *n, pblock *b);

/* ---- the collection's remote state --------------------------------------------------------- */

void st_net_free(st_net *n) {
    if (!n) {
        return;
    }
    for (size_t i = 0; n->table && i < n->nbuckets; i++) {
        while (n->table[i]) {
            struct pblock *b = n->table[i];
            n->table[i] = b->next;
            drop_block(n, b);
        }
    }
    free(n->table);
    for (size_t i = 0; i < n->nfiles; i++) {
        st_fetch_release(n->fetch, n->files[i].head);
        st_rtiff_clear(&n->files[i].tiff);
        free(n->files[i].keys);
        free(n->files[i].message);
    }
    st_fetch_free(n->fetch);
    free(n->files);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->lock);
    pthread_mutex_destroy(&n->store_lock);
    pthread_cond_destroy(&n->batch_done);
    free(n);
}

static st_net *net_alloc(size_t nfiles) {
    st_net *n = st_calloc(1, sizeof *n);
    if (!n) {
        return NULL;
    }
    n->nfiles = nfiles;
    n->files = st_calloc(nfiles, sizeof *n->files);
    n->fetch = st_fetch_new();
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->cv, NULL);
    pthread_mutex_init(&n->store_lock, NULL);
    pthread_cond_init(&n->batch_done, NULL);
    n->nbuckets = 4096;
    n->table = st_calloc(n->nbuckets, sizeof *n->table);
    if (!n->files || !n->fetch || !n->table) {
        st_net_free(n);
        return NULL;
    }
    return n;
}

/* c's remote state, decided on first use; NULL when c's files are local (or out of memory:
 * GDAL then reads them). The common case, a local stack, costs one atomic load. */
static st_net *net_of(const strata_collection *cc) {
    strata_collection *c = (strata_collection *)cc;
    int state = atomic_load(&c->net_state);
    if (state != 0) {
        return state == 2 ? c->net : NULL;
    }
    pthread_mutex_lock(&c->lock);
    if (atomic_load(&c->net_state) == 0) {
        const char *url;
        st_net *n = NULL;
        /* Files on an output grid other than their own are read through GDAL's warper, and
         * this path reads blocks as they are: it serves collections without a grid only. A
         * mosaic's further items come after the n * nsrc first. */
        if (!c->grid && st_fetch_handles(c->paths[0], &url)) {
            n = net_alloc(c->nfiles);
        }
        c->net = n;
        atomic_store(&c->net_state, n ? 2 : 1);
    }
    pthread_mutex_unlock(&c->lock);
    return c->net;
}

static void request_head(const strata_collection *c, st_net *n, size_t f);

/* Requests the headers of the first files not asked for yet: a job's first items read them. */
static void request_first_heads(const strata_collection *c, st_net *n) {
    size_t first = n->nfiles < 2 * ST_FETCH_CONCURRENCY ? n->nfiles : 2 * ST_FETCH_CONCURRENCY;
    pthread_mutex_lock(&n->lock);
    for (size_t f = 1; f < first; f++) {
        request_head(c, n, f);
    }
    pthread_mutex_unlock(&n->lock);
}

void st_net_set_concurrency(const strata_collection *c, int io_concurrency) {
    st_net *n = net_of(c);
    if (n) {
        st_fetch_set_limits(n->fetch, io_concurrency, 0);
        request_first_heads(c, n);
    }
}

void strata_collection_io_stats(const strata_collection *c, uint64_t *bytes, int *in_flight) {
    *bytes = 0;
    *in_flight = 0;
    if (c && atomic_load(&c->net_state) == 2) {
        st_fetch_stats(c->net->fetch, bytes, in_flight);
    }
}

/* ---- headers ------------------------------------------------------------------------------- */

/* Queues file f's header request unless asked already. Under n->lock. The template's header
 * is not asked for: GDAL read it when it opened the template (the meta, the check against
 * it), and load_head takes it from GDAL's cache of /vsicurl/ bytes. */
static void request_head(const strata_collection *c, st_net *n, size_t f) {
    nfile *nf = &n->files[f];
    const char *url;
    if (nf->state != F_UNKNOWN) {
        return;
    }
    if (!st_fetch_handles(c->paths[f], &url)) {
        nf->state = F_GDAL;
        return;
    }
    nf->head = f == 0 ? NULL : st_fetch_submit(n->fetch, url, 0, ST_NET_HEAD_BYTES, 8);
    nf->state = nf->head || f == 0 ? F_REQUESTED : F_GDAL;
}

static void fail_file(nfile *nf, strata_status st) {
    nf->state = F_FAILED;
    nf->status = st;
    nf->message = strdup(strata_errmsg());
}

/* Waits for file f's header and parses it. Not under the lock: nf->busy keeps others off. */
static void load_head(const strata_collection *c, st_net *n, size_t f, nfile *nf) {
    const unsigned char *p;
    size_t len;
    unsigned char *own = NULL; /* a header put together here */
    uint64_t size;
    strata_status st = STRATA_OK;
    if (f == 0) {
        p = own = st_remote_head(c->paths[0], ST_NET_HEAD_BYTES, &len, &size);
        if (!own) {
            nf->state = F_GDAL; /* GDAL reads it, and says what is wrong */
            return;
        }
    } else if ((st = st_fetch_wait(n->fetch, nf->head, &p, &len)) != STRATA_OK) {
        fail_file(nf, st);
        return;
    }
    uint64_t need = 0;
    int r = st_rtiff_parse(p, len, &nf->tiff, &need);
    st_fetch_req *more = NULL;
    if (r == ST_RTIFF_MORE && len == ST_NET_HEAD_BYTES && need > len && need <= HEAD_MAX) {
        const char *url;
        st_fetch_handles(c->paths[f], &url);
        if (f == 0) {
            free(own);
            p = own = st_remote_head(c->paths[0], (size_t)need, &len, &size);
        } else if ((more = st_fetch_submit(n->fetch, url, len, (size_t)need - len,
                                           (size_t)need - len))) {
            /* Only the bytes after the head: the head is not fetched twice. */
            const unsigned char *q;
            size_t k;
            if ((st = st_fetch_wait(n->fetch, more, &q, &k)) != STRATA_OK) {
                st_fetch_release(n->fetch, more);
                fail_file(nf, st);
                return;
            }
            if ((own = st_malloc(len + k))) {
                memcpy(own, p, len);
                memcpy(own + len, q, k);
                p = own;
                len += k;
            }
        }
        r = own ? st_rtiff_parse(p, len, &nf->tiff, &need) : ST_RTIFF_UNSUPPORTED;
    }
    if (r == ST_RTIFF_OK) {
        size_t cap = len + 16 * 16;
        nf->keys = st_malloc(cap);
        if (nf->keys && !st_geokeys_from_bytes(p, len, nf->keys, cap, &nf->keys_len)) {
            free(nf->keys);
            nf->keys = NULL;
        }
        nf->state = F_PARSED;
    } else {
        nf->state = F_GDAL;
    }
    st_fetch_release(n->fetch, more);
    free(own);
}

/* Waits until file f's header is read (requesting it if nobody did); its state after. */
static int head_ready(const strata_collection *c, st_net *n, size_t f) {
    nfile *nf = &n->files[f];
    pthread_mutex_lock(&n->lock);
    request_head(c, n, f);
    while (nf->state == F_REQUESTED && nf->busy) {
        pthread_cond_wait(&n->cv, &n->lock);
    }
    if (nf->state == F_REQUESTED) {
        nf->busy = true;
        pthread_mutex_unlock(&n->lock);
        load_head(c, n, f, nf);
        pthread_mutex_lock(&n->lock);
        st_fetch_release(n->fetch, nf->head);
        nf->head = NULL;
        nf->busy = false;
        pthread_cond_broadcast(&n->cv);
    }
    int state = nf->state;
    pthread_mutex_unlock(&n->lock);
    return state;
}

static void set_state(st_net *n, nfile *nf, int state) {
    pthread_mutex_lock(&n->lock);
    nf->state = state;
    pthread_mutex_unlock(&n->lock);
}

/* File f's state once its header is read and it is known to match the template: F_FAST
 * when the fetcher reads it, F_GDAL when GDAL does, F_FAILED with the error set. */
static int file_ready(st_thread_cache *tc, st_net *n, size_t f) {
    const strata_collection *c = st_cache_collection(tc);
    nfile *nf = &n->files[f];
    if (f == 0 && !atomic_load(&c->checked[0])) {
        /* GDAL opens the template first, so that its header comes from GDAL's cache. */
        GDALDatasetH ds;
        if (st_cache_acquire(tc, 0, &ds, NULL) != STRATA_OK) {
            return F_FAILED;
        }
    }
    int state = head_ready(c, n, f);
    if (state != F_PARSED) {
        if (state == F_FAILED) {
            st_set_errmsg(nf->message);
        }
        return state;
    }
    if (!atomic_load(&c->checked[f])) {
        /* The template is checked against the meta by GDAL, once; a file whose compared tags
         * are the template's matches it (st_source_same_header); any other goes to GDAL,
         * which checks it and names the difference. */
        if (f == 0 || !atomic_load(&c->checked[0])) {
            GDALDatasetH ds;
            strata_status st = st_cache_acquire(tc, 0, &ds, NULL);
            if (st != STRATA_OK) {
                return F_FAILED;
            }
        }
        bool same = f == 0 || (nf->keys && head_ready(c, n, 0) != F_FAILED &&
                               st_source_same_header(c, f, nf->keys, nf->keys_len, n->files[0].keys,
                                                     n->files[0].keys_len));
        if (!same) {
            set_state(n, nf, F_GDAL);
            return F_GDAL;
        }
        atomic_store(&((strata_collection *)c)->checked[f], 1);
    }
    set_state(n, nf, F_FAST);
    return F_FAST;
}

/* ---- prefetching ----------------------------------------------------------------------------- */

static size_t bucket(const st_net *n, size_t f, size_t strile) {
    uint64_t h = (uint64_t)f * 0x9E3779B97F4A7C15ull ^ (uint64_t)strile * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h >> 40) % n->nbuckets;
}

static pblock *lookup(st_net *n, size_t f, size_t strile, bool take) {
    pblock **pp = &n->table[bucket(n, f, strile)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->f == f && (*pp)->strile == strile) {
            pblock *b = *pp;
            if (take) {
                *pp = b->next;
            }
            return b;
        }
    }
    return NULL;
}

/* Forgets block b (taken out of the table), releasing its request with its last block. Under
 * n->store_lock. */
static void drop_block(st_net *n, pblock *b) {
    if (--b->ch->refs == 0) {
        st_fetch_release(n->fetch, b->ch->req);
        free(b->ch);
    }
    free(b);
}

void st_net_drop(const strata_collection *c) {
    st_net *n = c && atomic_load(&c->net_state) == 2 ? c->net : NULL;
    if (!n) {
        return;
    }
    pthread_mutex_lock(&n->store_lock);
    for (size_t i = 0; i < n->nbuckets; i++) {
        while (n->table[i]) {
            pblock *b = n->table[i];
            n->table[i] = b->next;
            drop_block(n, b);
        }
    }
    pthread_mutex_unlock(&n->store_lock);
}

typedef struct want {
    size_t f, strile;
    uint64_t off;
} want;

typedef struct wantlist {
    want *w;
    size_t n, cap;
} wantlist;

static bool add_want(wantlist *l, size_t f, size_t strile, uint64_t off) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        want *w = st_realloc(l->w, cap * sizeof *w);
        if (!w) {
            return false;
        }
        l->w = w;
        l->cap = cap;
    }
    l->w[l->n++] = (want){f, strile, off};
    return true;
}

/* Lists the blocks of rect of sample of file f (a fast file); false at a sparse block. */
static bool list_blocks(wantlist *l, const st_rtiff *t, size_t f, int sample, const st_rect *r) {
    int by0 = r->row0 / (int)t->bh, by1 = (r->row0 + r->nrows - 1) / (int)t->bh;
    int bx0 = r->col0 / (int)t->bw, bx1 = (r->col0 + r->ncols - 1) / (int)t->bw;
    for (int by = by0; by <= by1; by++) {
        for (int bx = bx0; bx <= bx1; bx++) {
            size_t s = st_rtiff_strile(t, bx, by, sample);
            if (t->cnt[s] == 0 || !add_want(l, f, s, t->off[s])) {
                return false;
            }
        }
    }
    return true;
}

/* Requests the blocks of l that are not requested yet, merging runs of blocks of a file that
 * follow each other with gaps of at most ST_NET_MERGE_GAP bytes (GDAL's COGs put 8 bytes
 * between tiles) into requests of at most ST_NET_MERGE_MAX bytes. */
static void submit_blocks(const strata_collection *c, st_net *n, const wantlist *l) {
    pthread_mutex_lock(&n->store_lock);
    size_t i = 0;
    while (i < l->n) {
        const want *b = &l->w[i];
        if (lookup(n, b->f, b->strile, false)) {
            i++;
            continue;
        }
        const st_rtiff *t = &n->files[b->f].tiff;
        uint64_t off = t->off[b->strile], end = off + t->cnt[b->strile];
        size_t j = i + 1;
        while (j < l->n && l->w[j].f == b->f && !lookup(n, b->f, l->w[j].strile, false)) {
            uint64_t o = t->off[l->w[j].strile], k = t->cnt[l->w[j].strile];
            if (o < end || o - end > ST_NET_MERGE_GAP || o + k - off > ST_NET_MERGE_MAX) {
                break;
            }
            end = o + k;
            j++;
        }
        const char *url;
        st_fetch_handles(c->paths[b->f], &url);
        chunk *ch = st_calloc(1, sizeof *ch);
        if (ch) {
            ch->req = st_fetch_submit(n->fetch, url, off, (size_t)(end - off), (size_t)(end - off));
        }
        if (!ch || !ch->req) {
            free(ch);
            break; /* out of memory: the reads ask again, one rect at a time */
        }
        for (size_t k = i; k < j; k++) {
            pblock *pb = st_calloc(1, sizeof *pb);
            if (!pb) {
                continue; /* that block is asked again when read */
            }
            *pb = (pblock){l->w[k].f, l->w[k].strile, ch, (size_t)(t->off[l->w[k].strile] - off),
                           NULL};
            size_t h = bucket(n, pb->f, pb->strile);
            pb->next = n->table[h];
            n->table[h] = pb;
            ch->refs++;
        }
        if (ch->refs == 0) {
            st_fetch_release(n->fetch, ch->req);
            free(ch);
        }
        i = j;
    }
    pthread_mutex_unlock(&n->store_lock);
}

/* The calling thread's batch of announced blocks (st_net_batch_begin), not yet requested. */
static _Thread_local struct {
    const strata_collection *c;
    wantlist l;
} tl_batch;

static void append_batch(const wantlist *l) {
    for (size_t i = 0; i < l->n; i++) {
        if (!add_want(&tl_batch.l, l->w[i].f, l->w[i].strile, l->w[i].off)) {
            return; /* out of memory: those blocks are asked for when read */
        }
    }
}

void st_net_prefetch(const strata_collection *c, const st_rect *r, const size_t *steps, size_t t0,
                     size_t nt, int b0, int nb) {
    st_net *n = net_of(c);
    st_thread_cache *tc;
    if (!n || nt == 0 || nb < 1 || st_cache_for_thread(c, &tc) != STRATA_OK) {
        return;
    }
    int k0 = b0 / c->src_bands, k1 = (b0 + nb - 1) / c->src_bands;
    /* Every header first, all in flight together. */
    pthread_mutex_lock(&n->lock);
    request_head(c, n, 0);
    for (size_t i = 0; i < nt; i++) {
        size_t t = steps ? steps[i] : t0 + i;
        for (int k = k0; k <= k1; k++) {
            request_head(c, n, t * c->nsrc + (size_t)k);
        }
    }
    pthread_mutex_unlock(&n->lock);
    wantlist l = {0};
    for (size_t i = 0; i < nt; i++) {
        size_t t = steps ? steps[i] : t0 + i;
        for (int b = b0; b < b0 + nb; b++) {
            size_t f = t * c->nsrc + (size_t)(b / c->src_bands);
            if (file_ready(tc, n, f) != F_FAST) {
                continue;
            }
            size_t mark = l.n;
            if (!list_blocks(&l, &n->files[f].tiff, f, b % c->src_bands, r)) {
                l.n = mark; /* a sparse block: GDAL reads that rect */
            }
        }
    }
    st_clear_error();
    if (tl_batch.c == c) {
        append_batch(&l);
    } else {
        submit_blocks(c, n, &l);
    }
    free(l.w);
}

void st_net_batch_begin(const strata_collection *c) {
    st_net *n = net_of(c);
    if (n) {
        pthread_mutex_lock(&n->store_lock);
        n->batching++;
        pthread_mutex_unlock(&n->store_lock);
        tl_batch.c = c;
        tl_batch.l.n = 0;
    }
}

size_t st_net_batch_blocks(void) {
    return tl_batch.l.n;
}

static int by_file_offset(const void *pa, const void *pb) {
    const want *a = pa, *b = pb;
    if (a->f != b->f) {
        return a->f < b->f ? -1 : 1;
    }
    return (a->off > b->off) - (a->off < b->off);
}

void st_net_batch_end(const strata_collection *c) {
    st_net *n = tl_batch.c == c ? net_of(c) : NULL;
    if (n) {
        /* Blocks of one file in file order: a tile row of a COG, which several items read,
         * is one run of bytes and so one request. */
        if (tl_batch.l.n) {
            qsort(tl_batch.l.w, tl_batch.l.n, sizeof *tl_batch.l.w, by_file_offset);
            submit_blocks(c, n, &tl_batch.l);
        }
        pthread_mutex_lock(&n->store_lock);
        n->batching--;
        pthread_cond_broadcast(&n->batch_done);
        pthread_mutex_unlock(&n->store_lock);
    }
    free(tl_batch.l.w);
    memset(&tl_batch, 0, sizeof tl_batch);
}

bool st_net_hungry(const strata_collection *c) {
    st_net *n = c && atomic_load(&c->net_state) == 2 ? c->net : NULL;
    return n && st_fetch_hungry(n->fetch);
}

/* ---- reading --------------------------------------------------------------------------------- */

/* True when every block of rect has bytes (sparse blocks are GDAL's to fill). */
static bool all_present(const st_rtiff *t, int sample, const st_rect *r) {
    int by0 = r->row0 / (int)t->bh, by1 = (r->row0 + r->nrows - 1) / (int)t->bh;
    int bx0 = r->col0 / (int)t->bw, bx1 = (r->col0 + r->ncols - 1) / (int)t->bw;
    for (int by = by0; by <= by1; by++) {
        for (int bx = bx0; bx <= bx1; bx++) {
            if (t->cnt[st_rtiff_strile(t, bx, by, sample)] == 0) {
                return false;
            }
        }
    }
    return true;
}

strata_status st_net_read(st_thread_cache *tc, size_t f, int sample, const st_rect *r,
                          strata_dtype dtype, void *dst, bool *done) {
    const strata_collection *c = st_cache_collection(tc);
    *done = false;
    st_net *n = net_of(c);
    if (!n) {
        return STRATA_OK;
    }
    int state = file_ready(tc, n, f);
    if (state == F_FAILED) {
        return STRATA_ERR_IO;
    }
    const st_rtiff *t = &n->files[f].tiff;
    if (state != F_FAST || !all_present(t, sample, r)) {
        return STRATA_OK;
    }
    if (r->row0 + r->nrows > (int)t->height || r->col0 + r->ncols > (int)t->width) {
        return STRATA_OK;
    }
    size_t esize = t->bps / 8, work = st_rtiff_work_size(t);
    size_t out = (size_t)t->bw * t->bh * esize;
    unsigned char *buf = st_cache_scratch(tc, work + out);
    if (!buf) {
        return st_nomem("block buffer");
    }
    GDALDataType dst_type = st_dtype_to_gdal(dtype);
    int by0 = r->row0 / (int)t->bh, by1 = (r->row0 + r->nrows - 1) / (int)t->bh;
    int bx0 = r->col0 / (int)t->bw, bx1 = (r->col0 + r->ncols - 1) / (int)t->bw;
    for (int by = by0; by <= by1; by++) {
        for (int bx = bx0; bx <= bx1; bx++) {
            size_t s = st_rtiff_strile(t, bx, by, sample);
            pthread_mutex_lock(&n->store_lock);
            pblock *b;
            /* A block another thread is announcing comes with its batch: wait for it rather
             * than ask for it alone. */
            while (!(b = lookup(n, f, s, true)) && n->batching > 0) {
                pthread_cond_wait(&n->batch_done, &n->store_lock);
            }
            pthread_mutex_unlock(&n->store_lock);
            if (!b) {
                /* Not announced: this rect of this file is requested now, in one go. */
                wantlist l = {0};
                if (list_blocks(&l, t, f, sample, r)) {
                    submit_blocks(c, n, &l);
                }
                free(l.w);
                pthread_mutex_lock(&n->store_lock);
                b = lookup(n, f, s, true);
                pthread_mutex_unlock(&n->store_lock);
                if (!b) {
                    return st_nomem("block request");
                }
            }
            const unsigned char *p;
            size_t got;
            strata_status st = st_fetch_wait(n->fetch, b->ch->req, &p, &got);
            bool ok = st == STRATA_OK && st_rtiff_decode(t, by, sample, p + b->sub,
                                                         (size_t)t->cnt[s], buf, buf + work);
            pthread_mutex_lock(&n->store_lock);
            drop_block(n, b);
            pthread_mutex_unlock(&n->store_lock);
            if (st != STRATA_OK) {
                return st;
            }
            if (!ok) {
                /* Bytes that do not decode: GDAL reads the file and says what is wrong. */
                set_state(n, &n->files[f], F_GDAL);
                return STRATA_OK;
            }
            st_copy_from_block(buf + work, t->type, bx, by, (int)t->bw, (int)t->bh, r, dst,
                               dst_type);
        }
    }
    *done = true;
    return STRATA_OK;
}
