/* The one engine behind reduce and groupby: every worker takes a work item (a spatial tile
 * and a fixed range of timesteps), streams the range through accumulators of every group,
 * and hands finished tiles to a sink. Tiles split in time are folded in range order, so the
 * arithmetic, and the result, is the same for any number of threads. */
#include "reduce/accum.h"
#include "reduce/select.h"
#include "reduce/sink.h"
#include "source/netread.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Timesteps read before they are accumulated: a batch small enough to stay in L2 while its
 * sub-tiles stream through the accumulators (512 KB: two 256x256 float32 blocks; a batch
 * that spills to L3 is read back from there once per sub-tile). */
enum { BATCH_BYTES = 512 << 10, MAX_BATCH = 32 };

typedef struct tile_slot {
    pthread_mutex_t lock;
    pthread_cond_t ranges_in; /* signalled when every range is folded (or the job failed) */
    st_acc **pending;         /* [nsplit] */
    size_t cursor;            /* ranges folded so far */
    st_acc *folded;
    /* Median and quantiles: the values of every timestep, [T][bands][npx] in the source type
     * (timestep order[k] at plane k), which the ranges fill in; the finish parts select from
     * them into outs, [groups][value outputs][bands][npx], and the last one hands outs over. */
    void *vals;
    size_t vals_bytes;
    double *outs;
    size_t parts_done;
} tile_slot;

typedef struct worker_state {
    void *batch;      /* [batch][bands][npx] in the source type */
    size_t batch_len; /* timesteps per batch */
    double *out;      /* [npx] finished values */
    void *scratch;    /* selection scratch of median and quantiles */
    double **vout;    /* [value outputs][npx] */
} worker_state;

typedef struct job {
    const strata_collection *c;
    st_plan plan;
    bool ops[STRATA_OP_COUNT_OF_OPS];
    unsigned fields;
    bool need_acc; /* some op other than median and quantile */
    st_vspec vs;   /* median and quantiles */
    size_t nvout;  /* their outputs per group and band (0: none) */
    int skipna, ddof;
    size_t ngroups;
    size_t *group_of; /* [T] */
    size_t *order;    /* [T] the timesteps in reading order: see order_by_group */
    size_t *gpos;     /* [T] the positions in order of group 0's steps, then group 1's... */
    size_t *goff;     /* [ngroups + 1] where each group's positions start in gpos */
    size_t max_group; /* timesteps of the largest group */
    /* Many groups: a tile's work items are runs of whole groups (chunk k: groups
     * [gchunk[k], gchunk[k + 1])), not ranges of time, so an item keeps the accumulators of
     * one group, and nothing is folded: see split_by_groups. NULL: ranges of time. */
    size_t *gchunk; /* [nsplit + 1] */
    /* The kept values of the tiles in work stay within budget bytes: a worker about to keep
     * a tile's values waits until they fit (or nothing else is kept). */
    pthread_mutex_t mem_lock;
    pthread_cond_t mem_freed;
    size_t mem_used, budget;
    atomic_int failed;   /* an item failed: nobody waits for memory or ranges any more */
    atomic_size_t ahead; /* remote stacks: items before this one had their blocks announced */
    pthread_mutex_t ahead_lock;
    st_sink *sink;
    tile_slot *slots; /* [ntiles] when nsplit > 1 */
    /* Accumulators done with, for the next item: a fresh allocation costs more in page
     * faults than the work on a large tile. At most one per worker, so memory stays bounded. */
    pthread_mutex_t pool_lock;
    st_acc **pool; /* [ex.threads] */
    int npool;
    st_exec ex;
} job;

static size_t tile_pixels(const job *j) {
    return (size_t)j->plan.tile_rows * j->plan.tile_cols;
}

/* Bytes of one timestep of a tile of npx pixels, every band, in the source type. */
static size_t step_bytes(const job *j, size_t npx) {
    return npx * j->c->meta->bands * strata_dtype_size(j->c->meta->dtype);
}

static strata_status worker_init(void *ctx, void *worker) {
    const job *j = ctx;
    worker_state *w = worker;
    size_t plane = step_bytes(j, tile_pixels(j));
    size_t len = BATCH_BYTES / plane;
    w->batch_len = len < 1 ? 1 : len > MAX_BATCH ? MAX_BATCH : len;
    w->batch = st_malloc(w->batch_len * plane);
    w->out = st_malloc(tile_pixels(j) * sizeof(double));
    if (!w->batch || !w->out) {
        return st_nomem("worker buffers");
    }
    if (j->nvout) {
        w->scratch = st_malloc(st_select_scratch(j->c->n, j->c->meta->dtype));
        w->vout = st_calloc(j->nvout, sizeof *w->vout);
        if (!w->scratch || !w->vout) {
            return st_nomem("worker buffers");
        }
        for (size_t o = 0; o < j->nvout; o++) {
            if (!(w->vout[o] = st_malloc(tile_pixels(j) * sizeof(double)))) {
                return st_nomem("worker buffers");
            }
        }
    }
    return STRATA_OK;
}

/* A worker out of work frees its buffers and closes its files while the others finish. */
static void worker_free(void *ctx, void *worker) {
    const job *j = ctx;
    worker_state *w = worker;
    st_cache_drop_thread(j->c);
    free(w->batch);
    free(w->out);
    free(w->scratch);
    for (size_t o = 0; w->vout && o < j->nvout; o++) {
        free(w->vout[o]);
    }
    free(w->vout);
}

/* ---- the memory budget of kept values -------------------------------------------------- */

/* Kept values are written once, block by block, as they are decoded: with 4 KiB pages a
 * large tile's (hundreds of MB for a long stack) costs a page fault every 4 KiB, more than
 * the decoding. Transparent huge pages, where the system offers them on request, take one
 * fault every 2 MiB. */
static void advise_huge(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    enum { HUGE = 2u << 20 };
    uintptr_t a = ((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1);
    uintptr_t e = ((uintptr_t)p + bytes) & ~(uintptr_t)(HUGE - 1);
    if (e > a) {
        (void)madvise((void *)a, e - a, MADV_HUGEPAGE); /* advice only: ignored if refused */
    }
#else
    (void)p;
    (void)bytes;
#endif
}

static void *budget_alloc(job *j, size_t bytes) {
    void *p = NULL;
    pthread_mutex_lock(&j->mem_lock);
    while (j->mem_used > 0 && j->mem_used + bytes > j->budget && !atomic_load(&j->failed)) {
        pthread_cond_wait(&j->mem_freed, &j->mem_lock);
    }
    if (!atomic_load(&j->failed) && (p = st_malloc(bytes ? bytes : 1))) {
        j->mem_used += bytes;
        advise_huge(p, bytes);
    }
    pthread_mutex_unlock(&j->mem_lock);
    return p;
}

static void budget_free(job *j, void *p, size_t bytes) {
    if (!p) {
        return;
    }
    free(p);
    pthread_mutex_lock(&j->mem_lock);
    j->mem_used -= bytes;
    pthread_cond_broadcast(&j->mem_freed);
    pthread_mutex_unlock(&j->mem_lock);
}

/* ---- reading and accumulating ---------------------------------------------------------- */

/* Reads timesteps steps[0..n) of every band of rect into dst. */
static strata_status read_batch(job *j, st_thread_cache *tc, void *dst_, const st_rect *r,
                                const size_t *steps, size_t n) {
    const strata_meta *m = j->c->meta;
    size_t plane = (size_t)r->nrows * r->ncols * strata_dtype_size(m->dtype);
    char *dst = dst_;
    for (size_t i = 0; i < n; i++) {
        size_t t = steps[i];
        for (int b = 0; b < m->bands; b++) {
            ST_TRY(st_read_rect(tc, t, b, r, m->dtype, dst));
            dst += plane;
        }
        /* When this run reads one tile (or this rank's part is one tile), no other item reads
         * these files: keeping them open only piles up handles and buffers, which shows on
         * stacks of many small files. */
        for (size_t k = 0; j->plan.nitems <= j->plan.nsplit + j->plan.nfin && k < j->c->nsrc; k++) {
            st_cache_close(tc, t * j->c->nsrc + k);
        }
    }
    atomic_fetch_add(&j->ex.bytes_read, (uint64_t)n * m->bands * plane);
    return STRATA_OK;
}

/* Sub-tile outer, time inner: a sub-tile of accumulators stays in cache for the batch. The
 * steps of one group that follow each other go to the kernel together, which takes several
 * per pass over the accumulators. */
static void accumulate_batch(job *j, const void *batch, st_acc *a, size_t npx, const size_t *steps,
                             size_t nsteps) {
    const strata_meta *m = j->c->meta;
    size_t plane = npx * strata_dtype_size(m->dtype);
    for (size_t i0 = 0; i0 < npx; i0 += ST_SUBTILE) {
        size_t n = npx - i0 < ST_SUBTILE ? npx - i0 : ST_SUBTILE;
        for (size_t k = 0, run; k < nsteps; k += run) {
            size_t g = a->groups > 1 ? j->group_of[steps[k]] : 0;
            run = 1;
            while (k + run < nsteps && (a->groups == 1 || j->group_of[steps[k + run]] == g)) {
                run++;
            }
            for (int b = 0; b < m->bands; b++) {
                const char *src = (const char *)batch + (k * m->bands + b) * plane;
                st_acc_add(a, (int)g, b, run, src, m->bands * plane, m->dtype, m->has_nodata[b],
                           st_meta_nodata_cmp(m, b), i0, n);
            }
        }
    }
}

static void recycle(job *j, st_acc *a) {
    pthread_mutex_lock(&j->pool_lock);
    if (j->npool < j->ex.threads) {
        j->pool[j->npool++] = a;
        a = NULL;
    }
    pthread_mutex_unlock(&j->pool_lock);
    st_acc_free(a);
}

static st_acc *take_recycled(job *j) {
    pthread_mutex_lock(&j->pool_lock);
    st_acc *a = j->npool ? j->pool[--j->npool] : NULL;
    pthread_mutex_unlock(&j->pool_lock);
    return a;
}

/* Accumulators of groups groups: recycled when one of the same shape is free, since a fresh
 * allocation faults in every page. */
static st_acc *acc_for(job *j, int groups, size_t npx) {
    st_acc *a = take_recycled(j);
    if (a && a->npx == npx && a->groups == groups) {
        st_acc_reset(a);
        return a;
    }
    st_acc_free(a);
    return st_acc_new(j->fields, groups, j->c->meta->bands, npx);
}

/* Reads and accumulates the steps j->order[k0..k1) of rect r into a. vals, when not NULL,
 * receives them (position k at plane k - k0) and they are read right there. */
static strata_status stream_steps(job *j, worker_state *w, st_acc *a, const st_rect *r, size_t k0,
                                  size_t k1, char *vals) {
    st_thread_cache *tc;
    ST_TRY(st_cache_for_thread(j->c, &tc));
    size_t npx = (size_t)r->nrows * r->ncols, plane = step_bytes(j, npx);
    strata_status st = STRATA_OK;
    for (size_t b0 = k0; b0 < k1 && st == STRATA_OK; b0 += w->batch_len) {
        size_t n = b0 + w->batch_len < k1 ? w->batch_len : k1 - b0;
        void *dst = vals ? vals + (b0 - k0) * plane : w->batch;
        st = read_batch(j, tc, dst, r, j->order + b0, n);
        if (st == STRATA_OK && j->need_acc) {
            accumulate_batch(j, dst, a, npx, j->order + b0, n);
        }
    }
    return st;
}

static strata_status accumulate_range(job *j, worker_state *w, const st_rect *r, size_t t0,
                                      size_t t1, char *vals, st_acc **out) {
    st_acc *a = acc_for(j, (int)j->ngroups, (size_t)r->nrows * r->ncols);
    if (!a) {
        return st_nomem("accumulators");
    }
    strata_status st = stream_steps(j, w, a, r, t0, t1, vals);
    if (st != STRATA_OK) {
        st_acc_free(a);
        return st;
    }
    st_acc_canonicalize(a);
    *out = a;
    return STRATA_OK;
}

/* ---- finishing ------------------------------------------------------------------------- */

static bool is_value_op(int op) {
    return op == STRATA_OP_MEDIAN || op == STRATA_OP_QUANTILE;
}

/* The output slot of value output o: the median first, then the quantiles. */
static size_t value_slot(const job *j, size_t o) {
    return j->vs.median ? (o == 0 ? STRATA_OP_MEDIAN : STRATA_OP_COUNT_OF_OPS + o - 1)
                        : STRATA_OP_COUNT_OF_OPS + o;
}

/* Hands group g's results of the accumulated ops over rect r to the sink; slot is where g's
 * fields are in a. */
static strata_status finish_group(job *j, worker_state *w, const st_acc *a, int slot, size_t g,
                                  const st_rect *r) {
    st_finish_ctx fc = {j->skipna, j->ddof};
    const strata_meta *m = j->c->meta;
    for (int op = 0; op < STRATA_OP_COUNT_OF_OPS; op++) {
        for (int b = 0; j->ops[op] && !is_value_op(op) && b < m->bands; b++) {
            /* Packed values are unpacked in the results; a negative scale swaps min and max. */
            bool packed = m->scale[b] != 1 || m->offset[b] != 0;
            strata_op fop = (strata_op)op;
            if (m->scale[b] < 0 && (op == STRATA_OP_MIN || op == STRATA_OP_MAX)) {
                fop = op == STRATA_OP_MIN ? STRATA_OP_MAX : STRATA_OP_MIN;
            }
            st_acc_finish(a, &fc, fop, slot, b, w->out);
            if (packed) {
                st_acc_unpack(a, (strata_op)op, slot, b, m->scale[b], m->offset[b], w->out);
            }
            ST_TRY(j->sink->put(j->sink, g, (size_t)op, b, r, w->out));
        }
    }
    return STRATA_OK;
}

static strata_status finish_tile(job *j, worker_state *w, const st_acc *a, const st_rect *r) {
    for (size_t g = 0; g < j->ngroups; g++) {
        ST_TRY(finish_group(j, w, a, (int)g, g, r));
    }
    return STRATA_OK;
}

/* Median and quantiles of band b over pixels [p0, p1) of a tile of npx pixels, from the values
 * at planes pos[0..npos) (NULL: 0..npos) of vals, into out[o][i]. */
static void select_values(job *j, worker_state *w, const void *vals, size_t npx, const size_t *pos,
                          size_t npos, int b, size_t p0, size_t p1, double *const *out) {
    const strata_meta *m = j->c->meta;
    const char *band = (const char *)vals + (size_t)b * npx * strata_dtype_size(m->dtype);
    st_select_values(band, m->dtype, (size_t)m->bands * npx, pos, npos, m->has_nodata[b] != 0,
                     st_meta_nodata_cmp(m, b), &j->vs, p0, p1, w->scratch, out);
    /* Selection runs on the packed values; unpacking is monotonic, so it commutes with
     * selecting (a negative scale is refused for quantiles in job_init). */
    if (m->scale[b] != 1 || m->offset[b] != 0) {
        for (size_t o = 0; o < j->nvout; o++) {
            for (size_t i = p0; i < p1; i++) {
                out[o][i] = out[o][i] * m->scale[b] + m->offset[b];
            }
        }
    }
}

/* A tile that holds every timestep (not split in time: tiles outnumber workers) reads its
 * steps group by group (see order_by_group), so it can finish each group as soon as its last
 * step is in, with the accumulators of one group: they stay in cache from the first step to
 * the finished result, where those of all groups (a mean's 12: 9 MB per 256x256 tile) went
 * out to memory and back. Median and quantiles keep the values of one group at a time. A tile
 * split in time folds its ranges instead (fold_in_order), with the accumulators of every
 * group. */
static strata_status reduce_group_by_group(job *j, worker_state *w, const st_rect *r, size_t g0,
                                           size_t g1) {
    size_t npx = (size_t)r->nrows * r->ncols;
    size_t vbytes = j->nvout ? j->max_group * step_bytes(j, npx) : 0;
    st_acc *a = acc_for(j, 1, npx);
    char *vals = j->nvout ? budget_alloc(j, vbytes) : NULL;
    if (!a || (j->nvout && !vals)) {
        st_acc_free(a);
        budget_free(j, vals, vbytes);
        return st_nomem("accumulators");
    }
    strata_status st = STRATA_OK;
    for (size_t g = g0; g < g1 && st == STRATA_OK; g++) {
        size_t k = j->goff[g], end = j->goff[g + 1];
        if (g > g0) {
            st_acc_reset(a);
        }
        st = stream_steps(j, w, a, r, k, end, vals);
        if (st == STRATA_OK) {
            st_acc_canonicalize(a);
            st = finish_group(j, w, a, 0, g, r);
        }
        for (int b = 0; vals && b < j->c->meta->bands && st == STRATA_OK; b++) {
            select_values(j, w, vals, npx, NULL, end - k, b, 0, npx, w->vout);
            for (size_t o = 0; o < j->nvout && st == STRATA_OK; o++) {
                st = j->sink->put(j->sink, g, value_slot(j, o), b, r, w->vout[o]);
            }
        }
    }
    recycle(j, a);
    budget_free(j, vals, vbytes);
    return st;
}

/* Stores a range's partial and folds every partial that is next in order. *done receives
 * the folded accumulators once the last range is in (the caller then owns them). */
static strata_status fold_in_order(job *j, tile_slot *s, size_t range, st_acc *part, size_t npx,
                                   st_acc **done) {
    strata_status st = STRATA_OK;
    *done = NULL;
    pthread_mutex_lock(&s->lock);
    s->pending[range] = part;
    if (!s->folded && s->cursor == 0) {
        s->folded = st_acc_new(j->fields, (int)j->ngroups, j->c->meta->bands, npx);
        if (s->folded) {
            st_acc_canonicalize(s->folded);
        } else {
            st = st_nomem("tile accumulators");
        }
    }
    while (s->folded && s->cursor < j->plan.nsplit && s->pending[s->cursor]) {
        st_acc_merge(s->folded, s->pending[s->cursor]);
        recycle(j, s->pending[s->cursor]);
        s->pending[s->cursor++] = NULL;
    }
    if (s->cursor == j->plan.nsplit) {
        *done = s->folded;
        s->folded = NULL;
        pthread_cond_broadcast(&s->ranges_in);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* The kept values of a tile split in time, made by the first of its items to come. */
static strata_status tile_values(job *j, tile_slot *s, size_t npx) {
    strata_status st = STRATA_OK;
    pthread_mutex_lock(&s->lock);
    if (!s->vals) {
        size_t outs = j->ngroups * j->nvout * j->c->meta->bands * npx * sizeof(double);
        s->vals_bytes = j->c->n * step_bytes(j, npx) + outs;
        s->vals = budget_alloc(j, s->vals_bytes);
        s->outs = s->vals ? (double *)((char *)s->vals + j->c->n * step_bytes(j, npx)) : NULL;
        st = s->vals ? STRATA_OK : st_nomem("kept values of a tile");
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Finish part `part` of a tile split in time: once every range is in, the median and
 * quantiles of its share of the pixels; the last part to end hands the tile's to the sink. */
static strata_status finish_part(job *j, worker_state *w, const st_rect *r, size_t tile,
                                 size_t part) {
    tile_slot *s = &j->slots[tile];
    size_t npx = (size_t)r->nrows * r->ncols, bands = (size_t)j->c->meta->bands;
    ST_TRY(tile_values(j, s, npx));
    pthread_mutex_lock(&s->lock);
    while (s->cursor < j->plan.nsplit && !atomic_load(&j->failed)) {
        pthread_cond_wait(&s->ranges_in, &s->lock);
    }
    bool ready = s->cursor == j->plan.nsplit;
    pthread_mutex_unlock(&s->lock);
    if (!ready) {
        return st_fail(STRATA_ERR_CANCELLED, "stopped: another work item failed");
    }
    size_t p0 = part * npx / j->plan.nfin, p1 = (part + 1) * npx / j->plan.nfin;
    double *out[ST_MAX_VALUE_OUTPUTS];
    for (size_t g = 0; g < j->ngroups; g++) {
        for (size_t b = 0; b < bands; b++) {
            for (size_t o = 0; o < j->nvout; o++) {
                out[o] = s->outs + ((g * j->nvout + o) * bands + b) * npx;
            }
            select_values(j, w, s->vals, npx, j->gpos + j->goff[g], j->goff[g + 1] - j->goff[g],
                          (int)b, p0, p1, out);
        }
    }
    pthread_mutex_lock(&s->lock);
    bool last = ++s->parts_done == j->plan.nfin;
    pthread_mutex_unlock(&s->lock);
    strata_status st = STRATA_OK;
    for (size_t g = 0; last && g < j->ngroups; g++) {
        for (size_t o = 0; o < j->nvout; o++) {
            for (size_t b = 0; b < bands && st == STRATA_OK; b++) {
                st = j->sink->put(j->sink, g, value_slot(j, o), (int)b, r,
                                  s->outs + ((g * j->nvout + o) * bands + b) * npx);
            }
        }
    }
    if (last) {
        budget_free(j, s->vals, s->vals_bytes);
        s->vals = NULL;
        s->outs = NULL;
    }
    return st;
}

static strata_status run_range(job *j, worker_state *w, const st_rect *r, size_t tile, size_t range,
                               size_t t0, size_t t1) {
    size_t npx = (size_t)r->nrows * r->ncols;
    char *vals = NULL;
    if (j->nvout) {
        ST_TRY(tile_values(j, &j->slots[tile], npx));
        vals = (char *)j->slots[tile].vals + t0 * step_bytes(j, npx);
    }
    st_acc *part = NULL, *a = NULL;
    ST_TRY(accumulate_range(j, w, r, t0, t1, vals, &part));
    ST_TRY(fold_in_order(j, &j->slots[tile], range, part, npx, &a));
    if (!a) {
        return STRATA_OK; /* a later range of this tile finishes it */
    }
    strata_status st = finish_tile(j, w, a, r);
    recycle(j, a);
    return st;
}

/* Remote stacks: announces the blocks of items after this one while the fetcher has room, so
 * that requests stay in flight however few threads decode. Items are taken in order, so the
 * items announced are those taken next. */
static void read_ahead(job *j, size_t item) {
    /* Items are announced in batches of up to 32 items or 256 blocks, so that the blocks of
     * neighbouring tiles merge into one request where the file keeps them together; one
     * thread at a time, so that a batch holds items that follow each other. */
    if (pthread_mutex_trylock(&j->ahead_lock) != 0) {
        return;
    }
    st_net_batch_begin(j->c);
    for (int claimed = 0;;) {
        if (claimed == 32 || st_net_batch_blocks() >= 256) {
            /* A full batch goes out, and the next one starts while the fetcher has room:
             * readers then wait for their first blocks once, not once per batch. */
            st_net_batch_end(j->c);
            st_net_batch_begin(j->c);
            claimed = 0;
        }
        size_t next = atomic_load(&j->ahead);
        if (next >= j->plan.nitems || (next > item && claimed == 0 && !st_net_hungry(j->c))) {
            break;
        }
        if (next < item) {
            atomic_compare_exchange_weak(&j->ahead, &next, item);
            continue;
        }
        if (!atomic_compare_exchange_weak(&j->ahead, &next, next + 1)) {
            continue;
        }
        claimed++;
        st_rect r;
        size_t tile, range, t0, t1;
        st_plan_item(&j->plan, st_plan_global_item(&j->plan, next), j->c->n, &r, &tile, &range, &t0,
                     &t1);
        if (range < j->plan.nsplit) {
            st_net_prefetch(j->c, &r, j->order + t0, 0, t1 - t0, 0, j->c->meta->bands);
        }
    }
    st_net_batch_end(j->c);
    pthread_mutex_unlock(&j->ahead_lock);
}

static strata_status run_one(job *j, worker_state *w, size_t item) {
    if (atomic_load(&j->c->net_state) == 2) {
        read_ahead(j, item);
    }
    st_rect r;
    size_t tile, range, t0, t1;
    st_plan_item(&j->plan, st_plan_global_item(&j->plan, item), j->c->n, &r, &tile, &range, &t0,
                 &t1);
    if (j->plan.nsplit == 1) {
        return reduce_group_by_group(j, w, &r, 0, j->ngroups);
    }
    if (j->gchunk) {
        return reduce_group_by_group(j, w, &r, j->gchunk[range], j->gchunk[range + 1]);
    }
    if (range >= j->plan.nsplit) {
        return finish_part(j, w, &r, tile, range - j->plan.nsplit);
    }
    return run_range(j, w, &r, tile, range, t0, t1);
}

/* A failed item wakes whoever waits for memory or for the ranges of a tile: they give up. */
static strata_status run_item(void *ctx, void *worker, size_t item) {
    job *j = ctx;
    strata_status st = run_one(j, worker, item);
    if (st != STRATA_OK) {
        atomic_store(&j->failed, 1);
        pthread_mutex_lock(&j->mem_lock);
        pthread_cond_broadcast(&j->mem_freed);
        pthread_mutex_unlock(&j->mem_lock);
        for (size_t i = 0; j->slots && i < j->plan.ntiles; i++) {
            pthread_mutex_lock(&j->slots[i].lock);
            pthread_cond_broadcast(&j->slots[i].ranges_in);
            pthread_mutex_unlock(&j->slots[i].lock);
        }
    }
    return st;
}

/* ---- set-up and tear-down ------------------------------------------------------------- */

/* Within each time range, the timesteps of one group come one after the other (in time order
 * within the group): a group's accumulators then stay in cache for all its steps of a batch,
 * where time order visits every group's in turn (12 groups: 12 MB per 256x256 tile). Each
 * group still sees its timesteps in time order, so the arithmetic, and the result, is the
 * same as in time order. */
typedef struct step_key {
    size_t group, t;
} step_key;

static int by_group_then_time(const void *pa, const void *pb) {
    const step_key *a = pa, *b = pb;
    if (a->group != b->group) {
        return a->group < b->group ? -1 : 1;
    }
    return (a->t > b->t) - (a->t < b->t);
}

static strata_status order_by_group(job *j) {
    size_t T = j->c->n, len = j->gchunk ? T : j->plan.range_len;
    j->order = st_malloc((T ? T : 1) * sizeof *j->order);
    step_key *keys = j->ngroups > 1 ? st_malloc((T ? T : 1) * sizeof *keys) : NULL;
    if (!j->order || (j->ngroups > 1 && !keys)) {
        free(keys);
        return st_nomem("timestep order");
    }
    for (size_t t = 0; t < T; t++) {
        j->order[t] = t;
        if (keys) {
            keys[t] = (step_key){j->group_of[t], t};
        }
    }
    for (size_t t0 = 0; keys && t0 < T; t0 += len) {
        size_t n = t0 + len < T ? len : T - t0;
        qsort(keys + t0, n, sizeof *keys, by_group_then_time);
        for (size_t k = t0; k < t0 + n; k++) {
            j->order[k] = keys[k].t;
        }
    }
    free(keys);
    return STRATA_OK;
}

/* The positions in order of each group's steps, for the finish parts of tiles split in time,
 * and the largest group, whose values a tile not split in time keeps. */
static strata_status positions_by_group(job *j) {
    size_t T = j->c->n;
    j->gpos = st_malloc((T ? T : 1) * sizeof *j->gpos);
    j->goff = st_calloc(j->ngroups + 1, sizeof *j->goff);
    if (!j->gpos || !j->goff) {
        return st_nomem("timestep order");
    }
    for (size_t k = 0; k < T; k++) {
        j->goff[j->group_of[j->order[k]] + 1]++;
    }
    for (size_t g = 0; g < j->ngroups; g++) {
        size_t n = j->goff[g + 1];
        j->max_group = n > j->max_group ? n : j->max_group;
        j->goff[g + 1] += j->goff[g];
    }
    for (size_t g = 0, at = 0; g < j->ngroups; g++) {
        for (size_t k = 0; k < T; k++) {
            if (j->group_of[j->order[k]] == g) {
                j->gpos[at++] = k;
            }
        }
    }
    return STRATA_OK;
}

/* A tile split among workers takes runs of whole groups rather than ranges of time when
 * groups are many (a daily climatology: 365): a range of time would keep accumulators of
 * every group for the whole tile (365 x 64 Ki pixels x 12 bytes a mean: 280 MB an item) and
 * fold them range by range, where a run of groups keeps those of one group and hands each
 * group's tile to the sink as soon as it is done. Each group then sees all its steps in time
 * order in one item, as in a tile not split at all: the result does not depend on the tile
 * size or the number of threads. Few groups keep ranges of time, whose items stay balanced
 * (4 runs per item at least: a run differs from the mean by a group at most). */
enum { GROUPS_PER_ITEM = 4 };

static strata_status split_by_groups(job *j) {
    if (j->plan.nsplit <= 1 || j->ngroups < GROUPS_PER_ITEM * j->plan.nsplit) {
        return STRATA_OK;
    }
    size_t n = j->plan.nsplit, T = j->c->n;
    j->gchunk = st_calloc(n + 1, sizeof *j->gchunk);
    size_t *sizes = st_calloc(j->ngroups, sizeof *sizes);
    if (!j->gchunk || !sizes) {
        free(sizes);
        return st_nomem("group runs");
    }
    for (size_t t = 0; t < T; t++) {
        sizes[j->group_of[t]]++;
    }
    /* Run k ends at the first group whose steps reach (k + 1) / n of all: runs of about
     * equal work whatever the sizes of the groups. */
    size_t k = 1, done = 0;
    for (size_t g = 0; g < j->ngroups && k < n; g++) {
        done += sizes[g];
        while (k < n && done * n >= k * T) {
            j->gchunk[k++] = g + 1;
        }
    }
    while (k <= n) {
        j->gchunk[k++] = j->ngroups;
    }
    free(sizes);
    return STRATA_OK;
}

enum { DEFAULT_MEMORY_MB = 256 };

/* The plan of a request: the collection's tiles, shrunk for median and quantiles until the
 * values of a tile (every timestep of every band, in the source type) and its finished value
 * outputs fit the memory budget. */
static void plan_for(const strata_collection *c, const bool *ops, const strata_reduce_opts *o,
                     size_t ngroups, st_plan *p) {
    st_plan_make(c->meta->rows, c->meta->cols, c->chunks.y, c->chunks.x, c->n, p);
    size_t nvout =
        (ops[STRATA_OP_MEDIAN] ? 1 : 0) + (ops[STRATA_OP_QUANTILE] ? o->kernel.nquantiles : 0);
    if (nvout) {
        const strata_meta *m = c->meta;
        size_t per_px = (size_t)m->bands *
                        (c->n * strata_dtype_size(m->dtype) + ngroups * nvout * sizeof(double));
        size_t budget = (o->kernel.memory_mb ? o->kernel.memory_mb : DEFAULT_MEMORY_MB) << 20;
        st_plan_bound(p, c->n, budget / (per_px ? per_px : 1), m->block_y);
    }
}

void st_engine_tile(const strata_collection *c, const bool *ops, const strata_reduce_opts *o,
                    size_t ngroups, int *rows, int *cols) {
    st_plan p;
    plan_for(c, ops, o, ngroups, &p);
    *rows = p.tile_rows;
    *cols = p.tile_cols;
}

static void job_free(job *j) {
    for (size_t i = 0; j->slots && i < j->plan.ntiles; i++) {
        for (size_t k = 0; k < j->plan.nsplit; k++) {
            st_acc_free(j->slots[i].pending[k]);
        }
        free(j->slots[i].pending);
        st_acc_free(j->slots[i].folded);
        free(j->slots[i].vals);
        pthread_mutex_destroy(&j->slots[i].lock);
        pthread_cond_destroy(&j->slots[i].ranges_in);
    }
    free(j->slots);
    for (int i = 0; i < j->npool; i++) {
        st_acc_free(j->pool[i]);
    }
    free(j->pool);
    free(j->order);
    free(j->gpos);
    free(j->goff);
    free(j->gchunk);
    pthread_mutex_destroy(&j->pool_lock);
    pthread_mutex_destroy(&j->mem_lock);
    pthread_mutex_destroy(&j->ahead_lock);
    pthread_cond_destroy(&j->mem_freed);
}

static strata_status job_init(job *j, const strata_collection *c, const bool *ops,
                              const strata_reduce_opts *o, size_t ngroups, size_t *group_of,
                              st_sink *sink) {
    memset(j, 0, sizeof *j);
    j->c = c;
    memcpy(j->ops, ops, sizeof j->ops);
    j->skipna = o->kernel.skipna;
    j->ddof = o->kernel.ddof;
    bool fops[STRATA_OP_COUNT_OF_OPS];
    memcpy(fops, ops, sizeof fops);
    for (int b = 0; b < c->meta->bands; b++) {
        if (c->meta->scale[b] < 0 && (ops[STRATA_OP_MIN] || ops[STRATA_OP_MAX])) {
            fops[STRATA_OP_MIN] = fops[STRATA_OP_MAX] = true; /* swapped when unpacked */
        }
    }
    j->fields = st_fields_for(fops, o->kernel.skipna);
    j->vs = (st_vspec){ops[STRATA_OP_MEDIAN], ops[STRATA_OP_QUANTILE] ? o->kernel.nquantiles : 0,
                       o->kernel.quantiles, o->kernel.quantile_method, o->kernel.skipna};
    j->nvout = st_vspec_outputs(&j->vs);
    for (int b = 0; ops[STRATA_OP_QUANTILE] && b < c->meta->bands; b++) {
        if (c->meta->scale[b] < 0) {
            return st_fail(STRATA_ERR_UNSUPPORTED,
                           "%s: band %d is packed with a negative scale factor; quantiles of it "
                           "are not supported (the median is)",
                           c->paths[0], b + 1);
        }
    }
    for (int op = 0; op < STRATA_OP_COUNT_OF_OPS; op++) {
        j->need_acc = j->need_acc || (ops[op] && !is_value_op(op));
    }
    j->ngroups = ngroups;
    j->group_of = group_of;
    j->sink = sink;
    j->budget = (o->kernel.memory_mb ? o->kernel.memory_mb : DEFAULT_MEMORY_MB) << 20;
    pthread_mutex_init(&j->mem_lock, NULL);
    pthread_mutex_init(&j->ahead_lock, NULL);
    pthread_cond_init(&j->mem_freed, NULL);
    plan_for(c, ops, o, ngroups, &j->plan);
    ST_TRY(split_by_groups(j));
    if (j->nvout && !j->gchunk) {
        st_plan_split_finish(&j->plan);
    }
    st_plan_restrict(&j->plan, o->partition.index, o->partition.count);
    int threads = st_thread_count(o->run.threads, j->plan.nitems);
    j->pool = st_calloc((size_t)threads, sizeof *j->pool);
    pthread_mutex_init(&j->pool_lock, NULL);
    if (!j->pool) {
        return st_nomem("workers");
    }
    ST_TRY(order_by_group(j));
    ST_TRY(positions_by_group(j));
    if (j->plan.nsplit > 1 && !j->gchunk) {
        j->slots = st_calloc(j->plan.ntiles, sizeof *j->slots);
        if (!j->slots) {
            return st_nomem("tile slots");
        }
        for (size_t i = 0; i < j->plan.ntiles; i++) {
            pthread_mutex_init(&j->slots[i].lock, NULL);
            pthread_cond_init(&j->slots[i].ranges_in, NULL);
            j->slots[i].pending = st_calloc(j->plan.nsplit, sizeof(st_acc *));
            if (!j->slots[i].pending) {
                return st_nomem("tile slots");
            }
        }
    }
    j->ex = (st_exec){.nitems = j->plan.nitems,
                      .threads = threads,
                      .fn = run_item,
                      .ctx = j,
                      .worker_size = sizeof(worker_state),
                      .start = worker_init,
                      .stop = worker_free,
                      .progress = o->run.progress,
                      .progress_user = o->run.progress_user,
                      .unit = "tiles"};
    return STRATA_OK;
}

strata_status st_engine_run(const strata_collection *c, const bool *ops,
                            const strata_reduce_opts *o, size_t ngroups, size_t *group_of,
                            st_sink *sink) {
    job j;
    st_net_set_concurrency(c, o->run.io_concurrency);
    strata_status st = job_init(&j, c, ops, o, ngroups, group_of, sink);
    if (st == STRATA_OK) {
        st = st_exec_run(&j.ex);
    }
    st_net_drop(c);
    job_free(&j);
    return st;
}
