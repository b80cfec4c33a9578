/* strata_to_zarr: every chunk of the cube is one work item. A worker reads the chunk's
 * (time, band) planes block by block, encodes them and writes the chunk file under a
 * temporary name, then renames it; no two workers touch one file, so the hot path takes no
 * lock. Metadata is written only after every chunk is in place, and the root group's last:
 * until then the store does not open. */
#include "zarr/zarr.h"
#include "source/netread.h"

#include "common/opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct zworker {
    void *raw;     /* one chunk, decoded: [t][b][y][x] in the source type */
    void *scratch; /* one plane of an edge chunk, as read */
    st_zarr_coder *coder;
} zworker;

typedef struct zjob {
    st_zarr_plan plan;
    const strata_meta *m;
    uint64_t n[4]; /* chunks along t (written ones only), b, y, x */
    uint64_t t0;   /* first time chunk written */
    size_t elem;   /* bytes per value */
    size_t plane;  /* bytes of one (y, x) plane of a chunk */
    unsigned char fill[8];
    st_exec ex;
    size_t part_index, part_count;
} zjob;

static strata_status worker_init(void *ctx, void *worker) {
    const zjob *j = ctx;
    zworker *w = worker;
    const strata_chunks *ch = &j->plan.ch;
    size_t raw = (size_t)ch->t * ch->b * j->plane;
    w->raw = st_malloc(raw);
    w->scratch = st_malloc(j->plane);
    w->coder = st_zarr_coder_new(j->plan.codec, j->plan.version, raw);
    if (!w->raw || !w->scratch || !w->coder) {
        return st_nomem("chunk buffers");
    }
    return STRATA_OK;
}

/* A worker out of work frees its buffers and closes its files while the others finish. */
static void worker_free(void *ctx, void *worker) {
    zworker *w = worker;
    st_cache_drop_thread(((const zjob *)ctx)->plan.c);
    free(w->raw);
    free(w->scratch);
    st_zarr_coder_free(w->coder);
}

static void fill_values(const zjob *j, void *dst, size_t n) {
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        memcpy(d + i * j->elem, j->fill, j->elem);
    }
}

/* Reads one plane of the chunk; edge chunks are padded with the fill value, as Zarr's
 * regular grid stores every chunk at full size. */
static strata_status read_plane(zjob *j, zworker *w, st_thread_cache *tc, size_t t, int b,
                                const st_rect *r, void *dst) {
    const strata_chunks *ch = &j->plan.ch;
    if (r->nrows == ch->y && r->ncols == ch->x) {
        return st_read_rect(tc, t, b, r, j->m->dtype, dst);
    }
    ST_TRY(st_read_rect(tc, t, b, r, j->m->dtype, w->scratch));
    fill_values(j, dst, (size_t)ch->y * ch->x);
    size_t row = (size_t)r->ncols * j->elem;
    for (int y = 0; y < r->nrows; y++) {
        memcpy((char *)dst + (size_t)y * ch->x * j->elem, (char *)w->scratch + y * row, row);
    }
    return STRATA_OK;
}

static strata_status read_chunk(zjob *j, zworker *w, const uint64_t idx[4]) {
    const strata_chunks *ch = &j->plan.ch;
    st_rect r = {(int)idx[2] * ch->y, 0, (int)idx[3] * ch->x, 0};
    r.nrows = j->m->rows - r.row0 < ch->y ? j->m->rows - r.row0 : ch->y;
    r.ncols = j->m->cols - r.col0 < ch->x ? j->m->cols - r.col0 : ch->x;
    st_thread_cache *tc;
    ST_TRY(st_cache_for_thread(j->plan.c, &tc));
    char *dst = w->raw;
    uint64_t read = 0;
    /* Remote files: the chunk's blocks are all requested now. */
    size_t g0 = (size_t)idx[0] * ch->t, g1 = g0 + (size_t)ch->t;
    g0 = g0 > j->plan.t_offset ? g0 : j->plan.t_offset;
    g1 = g1 < j->plan.T ? g1 : j->plan.T;
    int b0 = (int)idx[1] * ch->b, bn = j->m->bands - b0 < ch->b ? j->m->bands - b0 : ch->b;
    if (g1 > g0 && bn > 0) {
        st_net_prefetch(j->plan.c, &r, NULL, g0 - j->plan.t_offset, g1 - g0, b0, bn);
    }
    strata_status st = STRATA_OK;
    for (int tt = 0; tt < ch->t && st == STRATA_OK; tt++) {
        size_t g = (size_t)idx[0] * ch->t + tt;
        for (int bb = 0; bb < ch->b && st == STRATA_OK; bb++, dst += j->plane) {
            int b = (int)idx[1] * ch->b + bb;
            if (g >= j->plan.T || b >= j->m->bands) {
                fill_values(j, dst, (size_t)ch->y * ch->x);
                continue;
            }
            st = read_plane(j, w, tc, g - j->plan.t_offset, b, &r, dst);
            read += (uint64_t)r.nrows * r.ncols * j->elem;
        }
    }
    atomic_fetch_add(&j->ex.bytes_read, read);
    return st;
}

static strata_status write_chunk(zjob *j, zworker *w, const uint64_t idx[4]) {
    size_t raw = (size_t)j->plan.ch.t * j->plan.ch.b * j->plane;
    char key[160];
    st_zarr_chunk_key(&j->plan, idx, key, sizeof key);
    return st_zarr_write_chunk(w->coder, j->plan.store, key, j->elem, w->raw, raw);
}

static strata_status run_item(void *ctx, void *worker, size_t item) {
    zjob *j = ctx;
    zworker *w = worker;
    uint64_t idx[4], rest = j->part_index + item * j->part_count;
    for (int d = 3; d >= 0; d--) {
        idx[d] = rest % j->n[d];
        rest /= j->n[d];
    }
    idx[0] += j->t0;
    ST_TRY(read_chunk(j, w, idx));
    return write_chunk(j, w, idx);
}

static void set_fill_bytes(zjob *j) {
    memset(j->fill, 0, sizeof j->fill);
    if (j->plan.has_fill) {
        /* GDAL converts the one value to the type exactly as a pixel would be. */
        GDALCopyWords64(&j->plan.fill, GDT_Float64, 0, j->fill, st_dtype_to_gdal(j->m->dtype), 0,
                        1);
    }
}

static strata_status job_init(zjob *j, const strata_zarr_opts *o) {
    const strata_chunks *ch = &j->plan.ch;
    j->m = j->plan.c->meta;
    j->elem = strata_dtype_size(j->m->dtype);
    j->plane = (size_t)ch->y * ch->x * j->elem;
    j->t0 = j->plan.t_offset / (uint64_t)ch->t;
    j->n[0] = st_zarr_nchunks(j->plan.T, (uint64_t)ch->t) - j->t0;
    j->n[1] = st_zarr_nchunks((uint64_t)j->m->bands, (uint64_t)ch->b);
    j->n[2] = st_zarr_nchunks((uint64_t)j->m->rows, (uint64_t)ch->y);
    j->n[3] = st_zarr_nchunks((uint64_t)j->m->cols, (uint64_t)ch->x);
    set_fill_bytes(j);
    size_t nitems = (size_t)(j->n[0] * j->n[1] * j->n[2] * j->n[3]);
    /* A part of a distributed write takes every part_count-th chunk. */
    j->part_count = o->partition.count > 1 ? (size_t)o->partition.count : 1;
    j->part_index = o->partition.count > 1 ? (size_t)o->partition.index : 0;
    nitems =
        nitems > j->part_index ? (nitems - j->part_index + j->part_count - 1) / j->part_count : 0;
    j->ex = (st_exec){.nitems = nitems,
                      .threads = o->run.threads,
                      .fn = run_item,
                      .ctx = j,
                      .worker_size = sizeof(zworker),
                      .start = worker_init,
                      .stop = worker_free,
                      .progress = o->run.progress,
                      .progress_user = o->run.progress_user,
                      .unit = "chunks"};
    return STRATA_OK;
}

static void job_free(zjob *j) {
    st_zarr_plan_destroy(&j->plan);
}

/* ---- entry point ------------------------------------------------------------------------ */

void strata_zarr_opts_init(strata_zarr_opts *o) {
    if (o) {
        memset(o, 0, sizeof *o);
        o->size = sizeof *o;
        o->mode = STRATA_ZARR_OVERWRITE;
        o->zarr_version = 2;
        o->codec = STRATA_CODEC_BLOSC_LZ4;
    }
}

static strata_status check_opts(const strata_collection *c, const char *store,
                                const strata_zarr_opts *o) {
    if (!c || !store || !store[0] || !o) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_to_zarr: NULL or empty argument");
    }
    if (o->zarr_version != 2 && o->zarr_version != 3) {
        return st_fail(STRATA_ERR_INVALID_ARG, "zarr version %d: must be 2 or 3", o->zarr_version);
    }
    if (!strata_codec_for_zarr(o->codec) || (unsigned)o->mode > STRATA_ZARR_APPEND) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "strata_to_zarr: codec %s or mode %d unknown to Zarr",
                       strata_codec_name(o->codec), (int)o->mode);
    }
    const char *name = o->name ? o->name : "data";
    if (!name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) >= 48 ||
        st_zarr_reserved_name(name)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "variable name '%s': must be a plain name "
                       "(no '/', no leading '.') other than time, band, y, x, spatial_ref",
                       name);
    }
    if ((unsigned)o->step > STRATA_ZARR_STEP_FINISH || o->partition.count < 0 ||
        (o->partition.count > 0 &&
         (o->partition.index < 0 || o->partition.index >= o->partition.count))) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_to_zarr: bad step or part %d of %d",
                       o->partition.index, o->partition.count);
    }
    if (o->run.threads < 0 || c->n == 0) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_to_zarr: threads < 0 or no timesteps");
    }
    return STRATA_OK;
}

/* Nothing is written before the inputs are known to be safe: no output on an input, no input
 * inside the store, every name representable in the store's JSON. */
static strata_status check_inputs(const strata_collection *c, const char *store) {
    size_t n = c->nfiles;
    for (size_t i = 0; i < n; i++) {
        ST_TRY(st_check_utf8("file name", c->paths[i]));
    }
    return st_zarr_guard((const char *const *)c->paths, n, store);
}

/* A folder created by this call (a new store, or the one beside the store it replaces) is
 * deleted again when the write fails; an appended store keeps its old metadata, which never
 * sees the chunks written past its end. */
static void discard(const char *target, bool created) {
    if (created) {
        char saved[2048];
        snprintf(saved, sizeof saved, "%s", strata_errmsg());
        st_zarr_delete(target);
        st_set_errmsg(saved);
    }
}

static strata_status write_store(zjob *j, const char *store, const strata_zarr_opts *o,
                                 bool append) {
    ST_TRY(st_zarr_plan_init(&j->plan, j->plan.c, store, o, append));
    ST_TRY(job_init(j, o));
    char *dir = st_zarr_path(store, j->plan.name, NULL);
    strata_status st = dir ? st_zarr_mkdir(dir) : st_nomem("path");
    free(dir);
    ST_TRY(st);
    if (o->step != STRATA_ZARR_STEP_FINISH && j->ex.nitems > 0) {
        st_net_set_concurrency(j->plan.c, o->run.io_concurrency);
        strata_status run = st_exec_run(&j->ex);
        st_net_drop(j->plan.c);
        ST_TRY(run);
    }
    if (o->step == STRATA_ZARR_STEP_CHUNKS) {
        return STRATA_OK;
    }
    ST_TRY(st_zarr_write_coords(&j->plan));
    return st_zarr_write_metadata(&j->plan);
}

strata_status strata_to_zarr(const strata_collection *c, const char *store,
                             const strata_zarr_opts *opts) {
    st_clear_error();
    strata_zarr_opts full, *o = NULL;
    if (opts) {
        strata_zarr_opts_init(&full);
        ST_TRY(st_opts_load(&full, sizeof full, opts, "strata_zarr_opts"));
        o = &full;
    }
    ST_TRY(check_opts(c, store, o));
    if (c->meta->dtype == STRATA_DTYPE_UNKNOWN) {
        return st_fail(STRATA_ERR_UNSUPPORTED, "%s: unknown data type", c->paths[0]);
    }
    ST_TRY(check_inputs(c, store));
    bool append = false;
    char *target = NULL;
    if (o->step == STRATA_ZARR_STEP_ALL || o->step == STRATA_ZARR_STEP_PREPARE) {
        ST_TRY(st_zarr_prepare(store, o->mode, &append, &target));
    } else {
        /* Prepared by another process; the old metadata stays until the finish step. */
        append = o->mode == STRATA_ZARR_APPEND && st_zarr_has_metadata(store);
        target = append ? st_strdup(store) : st_zarr_target(store);
        if (!target) {
            return st_nomem("path");
        }
    }
    if (o->step == STRATA_ZARR_STEP_PREPARE) {
        free(target);
        return STRATA_OK;
    }
    zjob j;
    memset(&j, 0, sizeof j);
    j.plan.c = c;
    strata_status st = write_store(&j, target, o, append);
    job_free(&j);
    bool beside = strcmp(target, store) != 0;
    if (st == STRATA_OK && beside && o->step != STRATA_ZARR_STEP_CHUNKS) {
        st = st_zarr_swap(target, store);
    }
    if (st != STRATA_OK && o->step == STRATA_ZARR_STEP_ALL) {
        discard(target, !append);
    }
    free(target);
    return st;
}
