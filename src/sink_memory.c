/* Memory sink: finished tiles land in the result's (bands, rows, cols) arrays. Tiles never
 * overlap, so workers write without locks. */
#include "sink.h"

#include <math.h>
#include <stdlib.h>

typedef struct memory_sink {
    st_sink base;
    strata_result *r;
} memory_sink;

static strata_status memory_put(st_sink *s, size_t g, size_t slot, int band, const st_rect *rect,
                                const double *values) {
    strata_result *r = ((memory_sink *)s)->r;
    strata_array *a = &r->arrays[g * r->nslots + slot];
    size_t esize = strata_dtype_size(a->dtype);
    for (int row = 0; row < rect->nrows; row++) {
        size_t at = ((size_t)band * r->rows + rect->row0 + row) * r->cols + rect->col0;
        st_convert_out(values + (size_t)row * rect->ncols, (size_t)rect->ncols, a->dtype, a->nodata,
                       (char *)a->data + at * esize);
    }
    return STRATA_OK;
}

/* In memory, one nodata per array: NaN for float outputs, the first band's marker else. */
strata_status st_memory_sink_new(strata_result *r, const strata_meta *m, st_sink **out) {
    size_t plane = (size_t)m->bands * m->rows * m->cols;
    for (size_t g = 0; g < r->ngroups; g++) {
        for (size_t slot = 0; slot < r->nslots; slot++) {
            if (!st_slot_used(r, slot)) {
                continue;
            }
            strata_op op = st_slot_op(slot);
            strata_array *a = &r->arrays[g * r->nslots + slot];
            a->dtype = strata_op_dtype(op, m->dtype);
            a->bands = m->bands;
            a->rows = m->rows;
            a->cols = m->cols;
            st_output_nodata(m, 0, op, a->dtype, true, &a->has_nodata, &a->nodata);
            if (!(a->data = st_calloc(plane, strata_dtype_size(a->dtype)))) {
                return st_nomem("result arrays");
            }
        }
    }
    memory_sink *s = st_calloc(1, sizeof *s);
    if (!s) {
        return st_nomem("sink");
    }
    s->base.put = memory_put;
    s->r = r;
    *out = &s->base;
    return STRATA_OK;
}

void st_memory_sink_free(st_sink *s) {
    free(s);
}
