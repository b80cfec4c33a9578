/* The nodata of integer outputs. Outputs are streamed tile by tile, so whether a pixel is
 * missing, and which values occur, is known only at the end. Missing pixels are written with
 * a value chosen up front, and each put notes the missing pixels (a bitmap, allocated only
 * when one is missing) and which values near that choice occur. At the end the output
 * declares no nodata when nothing is missing, the chosen value when it does not occur, and
 * otherwise the missing pixels are rewritten with a value that does not occur, in a wider
 * type when the type has none left. */
#include "reduce/sink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is_small(strata_dtype t) {
    return t == STRATA_UINT8 || t == STRATA_INT8 || t == STRATA_UINT16 || t == STRATA_INT16;
}

/* One step from the sentinel into the type's range. */
static double inward(strata_dtype t) {
    return st_dtype_min(t) < 0 ? 1 : -1;
}

/* The type a full type widens to; its sentinel cannot be one of the narrower type's values. */
static strata_dtype wider(strata_dtype t) {
    switch (t) {
    case STRATA_UINT8:
        return STRATA_UINT16;
    case STRATA_INT8:
        return STRATA_INT16;
    case STRATA_UINT16:
        return STRATA_UINT32;
    case STRATA_INT16:
        return STRATA_INT32;
    case STRATA_UINT32:
    case STRATA_INT32:
        return STRATA_INT64;
    default:
        return STRATA_FLOAT64;
    }
}

strata_status st_fill_init(st_fill *f, const strata_meta *m, const st_output *out) {
    memset(f, 0, sizeof *f);
    f->dtype = out->dtype;
    f->rows = m->rows;
    f->cols = m->cols;
    f->npx = (size_t)m->bands * m->rows * m->cols;
    if (!out->tracked) {
        return STRATA_OK;
    }
    f->tracked = true;
    f->value = out->nodata;
    if (is_small(f->dtype)) {
        size_t n = (size_t)(st_dtype_max(f->dtype) - st_dtype_min(f->dtype)) + 1;
        if (!(f->seen = st_calloc((n + 63) / 64, sizeof *f->seen))) {
            return st_nomem("output values seen");
        }
    }
    return STRATA_OK;
}

void st_fill_free(st_fill *f) {
    free(f->seen);
    free(f->mask);
    f->seen = NULL;
    f->mask = NULL;
}

static void set_bit(uint64_t *words, size_t i) {
    uint64_t bit = (uint64_t)1 << (i % 64);
    if (!(__atomic_load_n(&words[i / 64], __ATOMIC_RELAXED) & bit)) {
        __atomic_fetch_or(&words[i / 64], bit, __ATOMIC_RELAXED);
    }
}

static bool get_bit(const uint64_t *words, size_t i) {
    return (words[i / 64] >> (i % 64)) & 1;
}

strata_status st_fill_note(st_fill *f, int band, const st_rect *r, const double *values) {
    if (!f->tracked) {
        return STRATA_OK;
    }
    double lo = st_dtype_min(f->dtype);
    double step = inward(f->dtype);
    for (int row = 0; row < r->nrows; row++) {
        const double *v = values + (size_t)row * r->ncols;
        size_t at = ((size_t)band * f->rows + r->row0 + row) * f->cols + r->col0;
        for (int col = 0; col < r->ncols; col++) {
            double x = v[col];
            if (x != x) {
                uint64_t *mask = __atomic_load_n(&f->mask, __ATOMIC_ACQUIRE);
                if (!mask) {
                    uint64_t *fresh = st_calloc((f->npx + 63) / 64, sizeof *fresh);
                    if (!fresh) {
                        return st_nomem("map of missing output pixels");
                    }
                    if (!__atomic_compare_exchange_n(&f->mask, &mask, fresh, false,
                                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                        free(fresh);
                    } else {
                        mask = fresh;
                    }
                }
                set_bit(mask, at + (size_t)col);
                __atomic_store_n(&f->missing, 1, __ATOMIC_RELAXED);
            } else if (f->seen) {
                set_bit(f->seen, (size_t)(x - lo));
            } else {
                /* Wider types: which of the 64 values from the sentinel inward occur. */
                double k = (x - f->value) / step;
                if (k >= 0 && k < 64) {
                    __atomic_fetch_or(&f->near, (uint64_t)1 << (int)k, __ATOMIC_RELAXED);
                }
            }
        }
    }
    return STRATA_OK;
}

/* Only for a tracked output. */
void st_fill_resolve(const st_fill *f, strata_dtype *dtype, int *has, double *value, bool *patch) {
    *dtype = f->dtype;
    *value = f->value;
    *patch = false;
    if (!f->missing) {
        *has = 0;
        return;
    }
    *has = 1;
    double step = inward(f->dtype);
    if (f->seen) {
        double lo = st_dtype_min(f->dtype), n = st_dtype_max(f->dtype) - lo + 1;
        for (double k = 0; k < n; k++) {
            double v = f->value + k * step;
            if (!get_bit(f->seen, (size_t)(v - lo))) {
                *value = v;
                *patch = k > 0;
                return;
            }
        }
    } else if (f->dtype != STRATA_INT64) {
        for (int k = 0; k < 64; k++) {
            if (!((f->near >> k) & 1)) {
                *value = f->value + k * step;
                *patch = k > 0;
                return;
            }
        }
    } else if (!(f->near & 1)) {
        return; /* nothing at or near the int64 sentinel (doubles there are 2048 apart) */
    }
    *dtype = wider(f->dtype);
    *value = *dtype == STRATA_FLOAT64 ? NAN : st_dtype_sentinel(*dtype);
    *patch = true;
}

bool st_fill_missing_at(const st_fill *f, int band, size_t row, size_t col) {
    return f->mask && get_bit(f->mask, ((size_t)band * f->rows + row) * f->cols + col);
}

void st_fill_patch(const st_fill *f, int band, size_t row, size_t col0, size_t n,
                   strata_dtype dtype, double value, void *dst) {
    size_t esize = strata_dtype_size(dtype);
    char one[8];
    st_convert_out(&value, 1, dtype, value, one);
    for (size_t i = 0; f->mask && i < n; i++) {
        if (st_fill_missing_at(f, band, row, col0 + i)) {
            memcpy((char *)dst + i * esize, one, esize);
        }
    }
}
