/* Accumulators of one spatial tile for every group and band: the kernels of reduce and
 * groupby. Internal. */
#ifndef STRATA_ACCUM_H
#define STRATA_ACCUM_H

#include "reduce/engine.h"

/* Fields kept per pixel. Variance uses the shifted-data form (K, S1, S2): one pass, no
 * division in the hot loop, and stable because K is one of the pixel's own values.
 * "Canonical" form, used for merging and finishing, is K = mean, S1 = 0, S2 = M2. */
enum { F_CNT, F_MISS, F_SUM, F_MIN, F_MAX, F_K, F_S1, F_S2, NFIELDS };

typedef struct st_acc {
    size_t npx; /* pixels of the tile */
    int groups, bands;
    unsigned fields;    /* bit F_x set when field F_x is kept */
    size_t pstride;     /* values from one (group, band) plane to the next: npx + padding */
    double *f[NFIELDS]; /* each [groups][bands][pstride]; NULL when not needed, and for counts */
    /* The counts F_CNT and F_MISS, laid out as f: 32 bits are exact to 4e9 timesteps, and a
     * mean's accumulators are then 12 bytes a pixel, not 16 (the step is memory-bound). */
    uint32_t *cnt, *miss;
    void *base[NFIELDS]; /* the allocations behind f, cnt and miss */
    /* [groups][bands][sub-tiles]: set once no K of the sub-tile is NaN. Until then, each
     * add scans the sub-tile for pixels that got their first valid value (the kernel does not
     * seed K) and seeds them. A sub-tile with a pixel that is never valid keeps scanning. */
    uint8_t *seeded;
} st_acc;

/* Which fields the requested ops need (median and quantiles keep values elsewhere: see
 * select.h). */
unsigned st_fields_for(const bool ops[STRATA_OP_COUNT_OF_OPS], int skipna);

st_acc *st_acc_new(unsigned fields, int groups, int bands, size_t npx);
void st_acc_free(st_acc *a);
/* Back to the empty state (same shape): reuse beats a fresh allocation, whose page faults
 * cost more than the work on large tiles. */
void st_acc_reset(st_acc *a);

enum { ST_SUBTILE = 1024 };

/* Adds nsteps timesteps of band b (native type, npx values each; the planes step_bytes
 * apart) to group g's accumulators over pixels [i0, i0 + n), with n <= ST_SUBTILE, in the
 * order given; i0 is a multiple of ST_SUBTILE. */
void st_acc_add(st_acc *a, int g, int b, size_t nsteps, const void *plane, size_t step_bytes,
                strata_dtype dtype, bool has_nodata, double nodata, size_t i0, size_t n);

/* Brings the variance fields to canonical form (idempotent only once: call once). */
void st_acc_canonicalize(st_acc *a);
/* Folds canonical partial b into canonical a (same groups, bands, npx). Order matters for bitwise
 * results: callers fold in a fixed order. */
void st_acc_merge(st_acc *a, const st_acc *b);

typedef struct st_finish_ctx {
    int skipna, ddof;
} st_finish_ctx;

/* Result of op (not median or quantile) for a group, band b into out[npx] (NaN where missing; count
 * never is); slot is where that group's fields are in a: the group itself, or 0 in accumulators of
 * one group. */
void st_acc_finish(const st_acc *a, const st_finish_ctx *fc, strata_op op, int slot, int b,
                   double *out);
/* Unpacks op's finished raw result in out: value * scale + offset (a sum gets offset once per
 * valid value, std scales by |scale|, var by scale^2). A min or max of a negative scale must
 * have been finished from the other field. */
void st_acc_unpack(const st_acc *a, strata_op op, int slot, int b, double scale, double offset,
                   double *out);

#endif
