/* Memory sink: finished tiles land in the result's (bands, rows, cols) arrays. Tiles never
 * overlap, so workers write without locks. */
#include "reduce/sink.h"

#include <math.h>
#include <stdlib.h>

typedef struct memory_sink {
    st_sink base;
    strata_result *r;
    st_fill *fills; /* [ngroups][ops] */
} memory_sink;

static strata_status memory_put(st_sink *s, size_t g, size_t slot, int band, const st_rect *rect,
                                const double *values) {
    memory_sink *ms = (memory_sink *)s;
    strata_result *r = ms->r;
    size_t i = g * r->nslots + slot;
    strata_array *a = &r->arrays[i];
    ST_TRY(st_fill_note(&ms->fills[i], band, rect, values));
    size_t esize = strata_dtype_size(a->dtype);
    for (int row = 0; row < rect->nrows; row++) {
        size_t at = ((size_t)band * r->rows + rect->row0 + row) * r->cols + rect->col0;
        st_convert_out(values + (size_t)row * rect->ncols, (size_t)rect->ncols, a->dtype, a->nodata,
                       (char *)a->data + at * esize);
    }
    return STRATA_OK;
}

strata_status st_memory_sink_new(strata_result *r, const strata_meta *m, const st_outputs *outs,
                                 st_sink **out) {
    memory_sink *s = st_calloc(1, sizeof *s);
    if (!s || !(s->fills = st_calloc(r->ngroups * r->nslots, sizeof *s->fills))) {
        free(s);
        return st_nomem("sink");
    }
    s->base.put = memory_put;
    s->r = r;
    *out = &s->base;
    size_t plane = (size_t)m->bands * m->rows * m->cols;
    for (size_t g = 0; g < r->ngroups; g++) {
        for (size_t slot = 0; slot < r->nslots; slot++) {
            if (!st_slot_used(r, slot)) {
                continue;
            }
            const st_output *o = &outs->slot[slot];
            size_t i = g * r->nslots + slot;
            strata_array *a = &r->arrays[i];
            a->dtype = o->dtype;
            a->bands = m->bands;
            a->rows = m->rows;
            a->cols = m->cols;
            a->has_nodata = o->has_nodata;
            a->nodata = o->nodata;
            ST_TRY(st_fill_init(&s->fills[i], m, o));
            if (!(a->data = st_calloc(plane, strata_dtype_size(a->dtype)))) {
                return st_nomem("result arrays");
            }
        }
    }
    return STRATA_OK;
}

/* Declares each tracked array's nodata, rewriting its missing pixels (in a wider type if
 * need be) when the value written for them occurs (see fill.c). */
static strata_status resolve(strata_array *a, const st_fill *f) {
    strata_dtype dtype;
    bool patch;
    st_fill_resolve(f, &dtype, &a->has_nodata, &a->nodata, &patch);
    if (!patch) {
        return STRATA_OK;
    }
    size_t n = (size_t)a->bands * a->rows * a->cols;
    void *data = (void *)a->data;
    if (dtype != a->dtype) {
        if (!(data = st_malloc(n * strata_dtype_size(dtype)))) {
            return st_nomem("widened result array");
        }
        GDALCopyWords64(a->data, st_dtype_to_gdal(a->dtype), (int)strata_dtype_size(a->dtype), data,
                        st_dtype_to_gdal(dtype), (int)strata_dtype_size(dtype), (GPtrDiff_t)n);
        free((void *)a->data);
        a->data = data;
        a->dtype = dtype;
    }
    size_t row_bytes = (size_t)a->cols * strata_dtype_size(dtype);
    for (int b = 0; b < a->bands; b++) {
        for (int row = 0; row < a->rows; row++) {
            st_fill_patch(f, b, (size_t)row, 0, (size_t)a->cols, dtype, a->nodata,
                          (char *)data + ((size_t)b * a->rows + row) * row_bytes);
        }
    }
    return STRATA_OK;
}

strata_status st_memory_sink_finish(st_sink *base, bool resolve_fills) {
    memory_sink *s = (memory_sink *)base;
    strata_status st = STRATA_OK;
    if (!s) {
        return st;
    }
    size_t n = s->r->ngroups * s->r->nslots;
    for (size_t i = 0; i < n; i++) {
        if (resolve_fills && st == STRATA_OK && s->fills[i].tracked) {
            st = resolve(&s->r->arrays[i], &s->fills[i]);
        }
        st_fill_free(&s->fills[i]);
    }
    free(s->fills);
    free(s);
    return st;
}
