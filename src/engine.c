/* The one engine behind reduce and groupby: every worker takes a work item (a spatial tile
 * and a fixed range of timesteps), streams the range through accumulators of every group,
 * and hands finished tiles to a sink. Tiles split in time are folded in range order, so the
 * arithmetic, and the result, is the same for any number of threads. */
#include "accum.h"
#include "sink.h"

#include <stdlib.h>
#include <string.h>

/* Timesteps read before they are accumulated: a batch small enough to stay in L2 while its
 * sub-tiles stream through the accumulators (512 KB: two 256x256 float32 blocks; 2 MB, out
 * in L3, cost 3% more on stack A). */
enum { BATCH_BYTES = 512 << 10, MAX_BATCH = 32 };

typedef struct tile_slot {
    pthread_mutex_t lock;
    st_acc **pending; /* [nsplit] */
    size_t cursor;    /* ranges folded so far */
    st_acc *folded;
} tile_slot;

typedef struct worker_state {
    void *batch;      /* [batch][bands][npx] in the source type */
    size_t batch_len; /* timesteps per batch */
    double *out;      /* [npx] finished values */
    double *gather;   /* [T] median scratch */
} worker_state;

typedef struct job {
    const strata_collection *c;
    st_plan plan;
    bool ops[STRATA_OP_COUNT_OF_OPS];
    unsigned fields;
    bool vals;
    int skipna, ddof;
    size_t ngroups;
    size_t *group_of; /* [T] */
    size_t *order;    /* [T] the timesteps in reading order: see order_by_group */
    st_sink *sink;
    tile_slot *slots; /* [ntiles] when nsplit > 1 */
    worker_state *workers;
    int nworkers;
    /* Accumulators done with, for the next item: a fresh allocation costs more in page
     * faults than the work on a large tile. At most one per worker, so memory stays bounded. */
    pthread_mutex_t pool_lock;
    st_acc **pool; /* [nworkers] */
    int npool;
    st_exec ex;
} job;

static size_t tile_pixels(const job *j) {
    return (size_t)j->plan.tile_rows * j->plan.tile_cols;
}

static strata_status worker_init(job *j, worker_state *w) {
    const strata_meta *m = j->c->meta;
    size_t plane = tile_pixels(j) * m->bands * strata_dtype_size(m->dtype);
    size_t len = BATCH_BYTES / plane;
    w->batch_len = len < 1 ? 1 : len > MAX_BATCH ? MAX_BATCH : len;
    w->batch = st_malloc(w->batch_len * plane);
    w->out = st_malloc(tile_pixels(j) * sizeof(double));
    w->gather = j->vals ? st_malloc(j->c->n * sizeof(double)) : NULL;
    if (!w->batch || !w->out || (j->vals && !w->gather)) {
        return st_nomem("worker buffers");
    }
    return STRATA_OK;
}

static void worker_free(worker_state *w) {
    free(w->batch);
    free(w->out);
    free(w->gather);
}

/* Reads timesteps steps[0..n) of every band of rect into the batch buffer. */
static strata_status read_batch(job *j, st_thread_cache *tc, worker_state *w, const st_rect *r,
                                const size_t *steps, size_t n) {
    const strata_meta *m = j->c->meta;
    size_t plane = (size_t)r->nrows * r->ncols * strata_dtype_size(m->dtype);
    char *dst = w->batch;
    for (size_t i = 0; i < n; i++) {
        size_t t = steps[i];
        for (int b = 0; b < m->bands; b++) {
            ST_TRY(st_read_rect(tc, t, b, r, m->dtype, dst));
            dst += plane;
        }
        /* When this run reads one tile (or this rank's part is one tile), no other item reads
         * these files: keeping them open only piles up handles and buffers (stack B, 1000
         * small files, ran 8% faster this way). */
        for (size_t k = 0; j->plan.nitems <= j->plan.nsplit && k < j->c->nsrc; k++) {
            st_cache_close(tc, t * j->c->nsrc + k);
        }
    }
    atomic_fetch_add(&j->ex.bytes_read, (uint64_t)n * m->bands * plane);
    return STRATA_OK;
}

/* Sub-tile outer, time inner: a sub-tile of accumulators stays in cache for the batch. The
 * steps of one group that follow each other go to the kernel together, which takes several
 * per pass over the accumulators. */
static void accumulate_batch(job *j, worker_state *w, st_acc *a, size_t npx, const size_t *steps,
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
                const char *src = (const char *)w->batch + (k * m->bands + b) * plane;
                st_acc_add(a, (int)g, b, steps + k, run, src, m->bands * plane, m->dtype,
                           m->has_nodata[b], st_meta_nodata_cmp(m, b), i0, n);
            }
        }
    }
}

static void recycle(job *j, st_acc *a) {
    pthread_mutex_lock(&j->pool_lock);
    if (j->npool < j->nworkers) {
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

/* Accumulators of groups groups for steps [t0, t1): recycled when one of the same shape is
 * free, since a fresh allocation faults in every page. */
static st_acc *acc_for(job *j, int groups, size_t npx, size_t t0, size_t t1) {
    st_acc *a = take_recycled(j);
    if (a && a->npx == npx && a->groups == groups && (!j->vals || a->nt == t1 - t0)) {
        st_acc_reset(a, t0);
        return a;
    }
    st_acc_free(a);
    return st_acc_new(j->fields, groups, j->c->meta->bands, npx, j->vals, t0, t1 - t0);
}

/* Reads and accumulates the steps j->order[k0..k1) of rect r into a. */
static strata_status stream_steps(job *j, worker_state *w, st_acc *a, const st_rect *r, size_t k0,
                                  size_t k1) {
    st_thread_cache *tc;
    ST_TRY(st_cache_for_thread(j->c, &tc));
    for (size_t b0 = k0; b0 < k1; b0 += w->batch_len) {
        size_t n = b0 + w->batch_len < k1 ? w->batch_len : k1 - b0;
        ST_TRY(read_batch(j, tc, w, r, j->order + b0, n));
        accumulate_batch(j, w, a, (size_t)r->nrows * r->ncols, j->order + b0, n);
    }
    return STRATA_OK;
}

static strata_status accumulate_range(job *j, worker_state *w, const st_rect *r, size_t t0,
                                      size_t t1, st_acc **out) {
    st_acc *a = acc_for(j, (int)j->ngroups, (size_t)r->nrows * r->ncols, t0, t1);
    if (!a) {
        return st_nomem("accumulators");
    }
    strata_status st = stream_steps(j, w, a, r, t0, t1);
    if (st != STRATA_OK) {
        st_acc_free(a);
        return st;
    }
    st_acc_canonicalize(a);
    *out = a;
    return STRATA_OK;
}

/* Hands group g's results over rect r to the sink; slot is where g's fields are in a. */
static strata_status finish_group(job *j, worker_state *w, const st_acc *a, int slot, size_t g,
                                  const st_rect *r) {
    st_finish_ctx fc = {j->skipna, j->ddof, g, j->group_of, w->gather};
    const strata_meta *m = j->c->meta;
    for (int op = 0; op < STRATA_OP_COUNT_OF_OPS; op++) {
        for (int b = 0; j->ops[op] && b < m->bands; b++) {
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
            ST_TRY(j->sink->put(j->sink, g, (strata_op)op, b, r, w->out));
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

/* A tile that holds every timestep (not split in time: tiles outnumber workers) reads its
 * steps group by group (see order_by_group), so it can finish each group as soon as its last
 * step is in, with the accumulators of one group: they stay in cache from the first step to
 * the finished result, where those of all groups (a mean's 12: 9 MB per 256x256 tile) went
 * out to memory and back. A tile split in time folds its ranges instead (fold_in_order), with
 * the accumulators of every group. */
static strata_status reduce_group_by_group(job *j, worker_state *w, const st_rect *r, size_t t0,
                                           size_t t1) {
    st_acc *a = acc_for(j, 1, (size_t)r->nrows * r->ncols, t0, t1);
    if (!a) {
        return st_nomem("accumulators");
    }
    strata_status st = STRATA_OK;
    size_t k = t0;
    for (size_t g = 0; g < j->ngroups && st == STRATA_OK; g++) {
        size_t end = k;
        while (end < t1 && j->group_of[j->order[end]] == g) {
            end++;
        }
        if (g > 0) {
            st_acc_reset(a, t0);
        }
        st = stream_steps(j, w, a, r, k, end);
        if (st == STRATA_OK) {
            st_acc_canonicalize(a);
            st = finish_group(j, w, a, 0, g, r);
        }
        k = end;
    }
    recycle(j, a);
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
        s->folded =
            st_acc_new(j->fields, (int)j->ngroups, j->c->meta->bands, npx, j->vals, 0, j->c->n);
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
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

static strata_status run_item(void *ctx, size_t item, int worker) {
    job *j = ctx;
    worker_state *w = &j->workers[worker];
    if (!w->batch) {
        ST_TRY(worker_init(j, w));
    }
    st_rect r;
    size_t tile, range, t0, t1;
    st_plan_item(&j->plan, st_plan_global_item(&j->plan, item), j->c->n, &r, &tile, &range, &t0,
                 &t1);
    if (j->plan.nsplit == 1) {
        return reduce_group_by_group(j, w, &r, t0, t1);
    }
    st_acc *part = NULL, *a = NULL;
    ST_TRY(accumulate_range(j, w, &r, t0, t1, &part));
    ST_TRY(fold_in_order(j, &j->slots[tile], range, part, (size_t)r.nrows * r.ncols, &a));
    if (!a) {
        return STRATA_OK; /* a later range of this tile finishes it */
    }
    strata_status st = finish_tile(j, w, a, &r);
    recycle(j, a);
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
    size_t T = j->c->n, len = j->plan.range_len;
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

static void job_free(job *j) {
    for (size_t i = 0; j->slots && i < j->plan.ntiles; i++) {
        for (size_t k = 0; k < j->plan.nsplit; k++) {
            st_acc_free(j->slots[i].pending[k]);
        }
        free(j->slots[i].pending);
        st_acc_free(j->slots[i].folded);
        pthread_mutex_destroy(&j->slots[i].lock);
    }
    free(j->slots);
    for (int i = 0; j->workers && i < j->nworkers; i++) {
        worker_free(&j->workers[i]);
    }
    free(j->workers);
    for (int i = 0; i < j->npool; i++) {
        st_acc_free(j->pool[i]);
    }
    free(j->pool);
    free(j->order);
    pthread_mutex_destroy(&j->pool_lock);
}

static strata_status job_init(job *j, const strata_collection *c, const bool *ops,
                              const strata_reduce_opts *o, size_t ngroups, size_t *group_of,
                              st_sink *sink) {
    memset(j, 0, sizeof *j);
    j->c = c;
    memcpy(j->ops, ops, sizeof j->ops);
    j->skipna = o->skipna;
    j->ddof = o->ddof;
    bool fops[STRATA_OP_COUNT_OF_OPS];
    memcpy(fops, ops, sizeof fops);
    for (int b = 0; b < c->meta->bands; b++) {
        if (c->meta->scale[b] < 0 && (ops[STRATA_OP_MIN] || ops[STRATA_OP_MAX])) {
            fops[STRATA_OP_MIN] = fops[STRATA_OP_MAX] = true; /* swapped when unpacked */
        }
    }
    j->fields = st_fields_for(fops, o->skipna);
    j->vals = st_needs_vals(ops);
    j->ngroups = ngroups;
    j->group_of = group_of;
    j->sink = sink;
    st_plan_make(c, &j->plan);
    st_plan_restrict(&j->plan, o->part_index, o->part_count);
    j->nworkers = st_thread_count(o->threads, j->plan.nitems);
    j->workers = st_calloc((size_t)j->nworkers, sizeof *j->workers);
    j->pool = st_calloc((size_t)j->nworkers, sizeof *j->pool);
    pthread_mutex_init(&j->pool_lock, NULL);
    if (!j->workers || !j->pool) {
        return st_nomem("workers");
    }
    ST_TRY(order_by_group(j));
    if (j->plan.nsplit > 1) {
        j->slots = st_calloc(j->plan.ntiles, sizeof *j->slots);
        if (!j->slots) {
            return st_nomem("tile slots");
        }
        for (size_t i = 0; i < j->plan.ntiles; i++) {
            pthread_mutex_init(&j->slots[i].lock, NULL);
            j->slots[i].pending = st_calloc(j->plan.nsplit, sizeof(st_acc *));
            if (!j->slots[i].pending) {
                return st_nomem("tile slots");
            }
        }
    }
    j->ex = (st_exec){.nitems = j->plan.nitems,
                      .threads = j->nworkers,
                      .fn = run_item,
                      .ctx = j,
                      .progress = o->progress,
                      .progress_user = o->progress_user,
                      .files = j->c};
    return STRATA_OK;
}

strata_status st_engine_run(const strata_collection *c, const bool *ops,
                            const strata_reduce_opts *o, size_t ngroups, size_t *group_of,
                            st_sink *sink) {
    job j;
    strata_status st = job_init(&j, c, ops, o, ngroups, group_of, sink);
    if (st == STRATA_OK) {
        st = st_exec_run(&j.ex);
    }
    job_free(&j);
    return st;
}
