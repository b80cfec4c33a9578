/* Median and quantiles of each pixel's kept values, by selection in the input type. Internal. */
#ifndef STRATA_SELECT_H
#define STRATA_SELECT_H

#include "reduce/engine.h"
#include "reduce/sink.h"

enum { ST_MAX_VALUE_OUTPUTS = ST_MAX_QUANTILES + 1 };

/* The value outputs of a job: the median (when asked) first, then each quantile. */
typedef struct st_vspec {
    bool median;
    size_t nq;
    const double *q;
    strata_quantile_method method;
    int skipna;
} st_vspec;

size_t st_vspec_outputs(const st_vspec *v);

/* Scratch bytes st_select_values needs for npos values a pixel. */
size_t st_select_scratch(size_t npos, strata_dtype dt);

/* For tile pixels [p0, p1): the values of the pixel are vals[pos[k] * pstride + i] for k in
 * [0, npos) (pos NULL: k itself), in type dt; NaN and nd (when has_nd) are missing. Writes
 * out[o][i] for every value output o (NaN when no value, or with skipna 0 any missing),
 * equal to numpy's nanmedian and nanquantile on the values as float64. */
void st_select_values(const void *vals, strata_dtype dt, size_t pstride, const size_t *pos,
                      size_t npos, bool has_nd, double nd, const st_vspec *v, size_t p0, size_t p1,
                      void *scratch, double *const *out);

#endif
