/* The accumulate kernels. Every inner loop runs over a sub-tile of contiguous doubles with
 * no branches but selects, so the compiler vectorises it; a sub-tile of accumulators stays
 * in L1 while a batch of timesteps streams through it. */
#include "reduce/accum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The kernels must inline into each target clone of st_acc_add, or they run as baseline code. */
#define ST_INLINE inline __attribute__((always_inline))

unsigned st_fields_for(const bool ops[STRATA_OP_COUNT_OF_OPS], int skipna) {
    unsigned f = 1u << F_CNT;
    if (!skipna) {
        f |= 1u << F_MISS;
    }
    if (ops[STRATA_OP_MEAN] || ops[STRATA_OP_SUM]) {
        f |= 1u << F_SUM;
    }
    if (ops[STRATA_OP_MIN]) {
        f |= 1u << F_MIN;
    }
    if (ops[STRATA_OP_MAX]) {
        f |= 1u << F_MAX;
    }
    if (ops[STRATA_OP_STD] || ops[STRATA_OP_VAR]) {
        f |= (1u << F_K) | (1u << F_S1) | (1u << F_S2);
    }
    return f;
}

static double field_init(int field) {
    switch (field) {
    case F_MIN:
        return INFINITY;
    case F_MAX:
        return -INFINITY;
    case F_K:
        return NAN;
    default:
        return 0.0;
    }
}

void st_acc_free(st_acc *a) {
    if (!a) {
        return;
    }
    for (int f = 0; f < NFIELDS; f++) {
        free(a->base[f]);
    }
    free(a->seeded);
    free(a);
}

static size_t acc_len(const st_acc *a) {
    return (size_t)a->groups * a->bands * a->pstride;
}

static size_t subtiles(const st_acc *a) {
    return (a->npx + ST_SUBTILE - 1) / ST_SUBTILE;
}

void st_acc_reset(st_acc *a) {
    size_t len = acc_len(a);
    for (int f = 0; f < NFIELDS; f++) {
        double v = field_init(f);
        for (size_t i = 0; a->f[f] && i < len; i++) {
            a->f[f][i] = v;
        }
    }
    if (a->cnt) {
        memset(a->cnt, 0, len * sizeof *a->cnt);
    }
    if (a->miss) {
        memset(a->miss, 0, len * sizeof *a->miss);
    }
    if (a->seeded) {
        memset(a->seeded, 0, (size_t)a->groups * a->bands * subtiles(a));
    }
}

static bool is_count(int f) {
    return f == F_CNT || f == F_MISS;
}

st_acc *st_acc_new(unsigned fields, int groups, int bands, size_t npx) {
    st_acc *a = st_calloc(1, sizeof *a);
    if (!a) {
        return NULL;
    }
    /* Planes of 2^k pixels, and page-aligned allocations, would put the accumulators of
     * every group and field in the same cache sets: with 12 groups the accumulate step ran at
     * a third of its speed. Padding planes by 3 lines and fields by f lines spreads them. */
    *a = (st_acc){
        .npx = npx, .groups = groups, .bands = bands, .fields = fields, .pstride = npx + 24};
    size_t len = acc_len(a);
    for (int f = 0; f < NFIELDS; f++) {
        if (!(fields & (1u << f))) {
            continue;
        }
        size_t esize = is_count(f) ? sizeof(uint32_t) : sizeof(double);
        if (!(a->base[f] = st_malloc((len + 8 * NFIELDS) * esize))) {
            st_acc_free(a);
            return NULL;
        }
        char *field = (char *)a->base[f] + 64 * f;
        if (f == F_CNT) {
            a->cnt = (uint32_t *)field;
        } else if (f == F_MISS) {
            a->miss = (uint32_t *)field;
        } else {
            a->f[f] = (double *)field;
        }
    }
    if (a->f[F_K] && !(a->seeded = st_malloc((size_t)groups * bands * subtiles(a)))) {
        st_acc_free(a);
        return NULL;
    }
    st_acc_reset(a);
    return a;
}

/* ---- accumulate -------------------------------------------------------------------- */

/* One source value as double; dt is a constant in every caller, so the switch folds away. */
static ST_INLINE double load_one(const void *src, strata_dtype dt, size_t i) {
    switch (dt) {
    case STRATA_UINT8:
        return ((const uint8_t *)src)[i];
    case STRATA_UINT16:
        return ((const uint16_t *)src)[i];
    case STRATA_INT16:
        return ((const int16_t *)src)[i];
    case STRATA_UINT32:
        return ((const uint32_t *)src)[i];
    case STRATA_INT32:
        return ((const int32_t *)src)[i];
    case STRATA_INT64:
        return (double)((const int64_t *)src)[i];
    case STRATA_FLOAT32:
        return ((const float *)src)[i];
    default:
        return ((const double *)src)[i];
    }
}

#define HAS(fl, f) ((fl) & (1u << (f)))

/* Every field's update in one pass over the sub-tile, for ns timesteps at once: the
 * accumulators are loaded once, take the ns values in time order in registers, and are
 * stored once (per step, their loads and stores were the step's cost). The arithmetic is
 * the same sequence as one step at a time, so the result does not depend on ns. fl and ns
 * are constants in every caller, so unused updates compile away and the step loop unrolls.
 * The updates are selects on a bool from isnan(): written as (x == x) & ..., GCC 12 leaves
 * a branch and the loop scalar. Without nodata, nd is NaN: never equal, so only NaN counts
 * as missing.
 * float32 values are tested and selected as floats, before they widen: one mask of 8 lanes
 * then serves 8 counts, and the sum and variance selects need no 64-bit masks, which halves
 * the mask work of the widest loops. A missing value stands in as K, whose difference to K is 0; a
 * pixel not seeded yet (K NaN) thus gets S1 NaN from missing values too, and seed_first_values puts
 * it right. */
static ST_INLINE void accumulate_steps(const char *src, size_t sstride, int ns, strata_dtype dt,
                                       unsigned fl, size_t n, double nd, uint32_t *restrict cnt,
                                       uint32_t *restrict miss, double *restrict sum,
                                       double *restrict mn, double *restrict mx, double *restrict k,
                                       double *restrict s1, double *restrict s2) {
    /* nd is NaN or a float32 value when dt is float32 (st_meta_nodata_cmp). */
    float ndf = dt == STRATA_FLOAT32 ? (float)nd : 0.0f;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cnt[i], m = HAS(fl, F_MISS) ? miss[i] : 0;
        double su = HAS(fl, F_SUM) ? sum[i] : 0.0, lo = HAS(fl, F_MIN) ? mn[i] : 0.0;
        double hi = HAS(fl, F_MAX) ? mx[i] : 0.0, kk = HAS(fl, F_K) ? k[i] : 0.0;
        double a1 = HAS(fl, F_K) ? s1[i] : 0.0, a2 = HAS(fl, F_K) ? s2[i] : 0.0;
        float kf = dt == STRATA_FLOAT32 ? (float)kk : 0.0f; /* K of a float32 pixel is one */
        for (int s = 0; s < ns; s++) {
            double x, xz, xk;
            bool valid;
            if (dt == STRATA_FLOAT32) {
                float xf = ((const float *)(src + s * sstride))[i];
                valid = !isnan(xf) && xf != ndf;
                x = xf;
                xz = valid ? xf : 0.0f;
                xk = valid ? xf : kf;
            } else {
                x = load_one(src + s * sstride, dt, i);
                valid = !isnan(x) && x != nd;
                xz = valid ? x : 0.0;
                xk = valid ? x : kk;
            }
            c += valid;
            m += !valid;
            su += xz;
            double v = valid ? x : INFINITY;
            lo = v < lo ? v : lo;
            v = valid ? x : -INFINITY;
            hi = v > hi ? v : hi;
            double d = xk - kk;
            a1 += d;
            a2 += d * d;
        }
        cnt[i] = c;
        if (HAS(fl, F_MISS)) {
            miss[i] = m;
        }
        if (HAS(fl, F_SUM)) {
            sum[i] = su;
        }
        if (HAS(fl, F_MIN)) {
            mn[i] = lo;
        }
        if (HAS(fl, F_MAX)) {
            mx[i] = hi;
        }
        if (HAS(fl, F_K)) {
            s1[i] = a1;
            s2[i] = a2;
        }
    }
}

/* The kernel does not seed K (a pixel's K is its first valid value): seeding in the loop
 * costs a select per field and step for an event that happens once per pixel, and it was
 * close to half of the variance update. A pixel whose K is
 * still NaN went through the call with S1 and S2 NaN. Without a valid value yet (count 0),
 * it stays so: the next seeding overwrites them, and st_acc_canonicalize zeroes a pixel that
 * never had one. If its first valid value came in this call, it is redone here from the
 * call's values, step for step as a seeding kernel does it (from S1 = S2 = 0, as the
 * pixel had no valid value before), so the result is bitwise the same. That happens once per
 * pixel and tile range. Returns true when no K of the sub-tile is NaN any more: the caller
 * then stops scanning it. */
static ST_INLINE bool seed_first_values(const char *src, size_t sstride, size_t nsteps,
                                        strata_dtype dt, double nd, size_t n,
                                        const uint32_t *restrict cnt, double *restrict k,
                                        double *restrict s1, double *restrict s2) {
    size_t unset = 0, todo = 0;
    for (size_t i = 0; i < n; i++) {
        unset += isnan(k[i]);
        todo += isnan(k[i]) & (cnt[i] > 0);
    }
    for (size_t i = 0, left = todo; left > 0 && i < n; i++) {
        if (!isnan(k[i]) || cnt[i] == 0) {
            continue;
        }
        double kk = NAN, a1 = 0.0, a2 = 0.0;
        for (size_t s = 0; s < nsteps; s++) {
            double x = load_one(src + s * sstride, dt, i);
            bool valid = !isnan(x) && x != nd;
            kk = valid && isnan(kk) ? x : kk;
            double d = valid ? x - kk : 0.0;
            a1 += d;
            a2 += d * d;
        }
        k[i] = kk;
        s1[i] = a1;
        s2[i] = a2;
        left--;
    }
    return unset == todo;
}

/* Timesteps per pass over a sub-tile's accumulators, at most. A full 256x256 tile of
 * variance accumulators (1.8 MB) does not fit L2, so the update waits on its accumulators:
 * taking several steps while they sit in registers divides that traffic by the steps. */
enum { ST_STEPS = 4 };

enum {
    FL_MEAN = (1u << F_CNT) | (1u << F_SUM),
    FL_STD = (1u << F_CNT) | (1u << F_K) | (1u << F_S1) | (1u << F_S2),
    FL_MEAN_STD = FL_MEAN | FL_STD,
};

/* The field sets of mean/sum, std/var and both get loops of their own; others share one that
 * tests the fields as it goes. */
#define UPDATE_FOR_FIELDS(dt, p, ns)                                                               \
    switch (p.fields) {                                                                            \
    case FL_MEAN:                                                                                  \
        accumulate_steps(p.src, p.sstride, ns, dt, FL_MEAN, p.n, p.nd, p.cnt, p.miss, p.sum, p.mn, \
                         p.mx, p.k, p.s1, p.s2);                                                   \
        break;                                                                                     \
    case FL_STD:                                                                                   \
        accumulate_steps(p.src, p.sstride, ns, dt, FL_STD, p.n, p.nd, p.cnt, p.miss, p.sum, p.mn,  \
                         p.mx, p.k, p.s1, p.s2);                                                   \
        break;                                                                                     \
    case FL_MEAN_STD:                                                                              \
        accumulate_steps(p.src, p.sstride, ns, dt, FL_MEAN_STD, p.n, p.nd, p.cnt, p.miss, p.sum,   \
                         p.mn, p.mx, p.k, p.s1, p.s2);                                             \
        break;                                                                                     \
    default:                                                                                       \
        accumulate_steps(p.src, p.sstride, ns, dt, p.fields, p.n, p.nd, p.cnt, p.miss, p.sum,      \
                         p.mn, p.mx, p.k, p.s1, p.s2);                                             \
        break;                                                                                     \
    }

/* Steps are taken ST_STEPS at a time, then two, then one: a 512 KB batch holds two steps of
 * a 256x256 float32 tile (four of int16), so the two-step pass is the common case and saves
 * a second trip through the accumulators. */
#define UPDATE_STEPS(dt, p, nsteps)                                                                \
    do {                                                                                           \
        size_t left_ = (nsteps);                                                                   \
        for (; left_ >= ST_STEPS; left_ -= ST_STEPS, p.src += ST_STEPS * p.sstride) {              \
            UPDATE_FOR_FIELDS(dt, p, ST_STEPS);                                                    \
        }                                                                                          \
        if (left_ >= 2) {                                                                          \
            UPDATE_FOR_FIELDS(dt, p, 2);                                                           \
            left_ -= 2;                                                                            \
            p.src += 2 * p.sstride;                                                                \
        }                                                                                          \
        for (; left_ > 0; left_--, p.src += p.sstride) {                                           \
            UPDATE_FOR_FIELDS(dt, p, 1);                                                           \
        }                                                                                          \
    } while (0)

typedef struct update_args {
    const char *src;
    size_t sstride;
    unsigned fields;
    size_t n;
    double nd;
    uint32_t *cnt, *miss;
    double *sum, *mn, *mx, *k, *s1, *s2;
} update_args;

static size_t plane_at(const st_acc *a, int g, int b) {
    return ((size_t)g * a->bands + b) * a->pstride;
}

static double *field_at(const st_acc *a, int f, int g, int b, size_t i0) {
    return a->f[f] ? a->f[f] + plane_at(a, g, b) + i0 : NULL;
}

static uint32_t *count_at(uint32_t *counts, const st_acc *a, int g, int b, size_t i0) {
    return counts ? counts + plane_at(a, g, b) + i0 : NULL;
}

static size_t seeded_at(const st_acc *a, int g, int b, size_t i0) {
    return ((size_t)g * a->bands + b) * subtiles(a) + i0 / ST_SUBTILE;
}

/* Built for AVX2 and for the baseline (ST_AVX2_CLONE); the inline loops above are compiled
 * into each clone. */
ST_AVX2_CLONE
void st_acc_add(st_acc *a, int g, int b, size_t nsteps, const void *plane, size_t step_bytes,
                strata_dtype dtype, bool has_nodata, double nodata, size_t i0, size_t n) {
    const char *src = (const char *)plane + i0 * strata_dtype_size(dtype);
    update_args p = {src,
                     step_bytes,
                     a->fields,
                     n,
                     has_nodata ? nodata : NAN,
                     count_at(a->cnt, a, g, b, i0),
                     count_at(a->miss, a, g, b, i0),
                     field_at(a, F_SUM, g, b, i0),
                     field_at(a, F_MIN, g, b, i0),
                     field_at(a, F_MAX, g, b, i0),
                     field_at(a, F_K, g, b, i0),
                     field_at(a, F_S1, g, b, i0),
                     field_at(a, F_S2, g, b, i0)};
    switch (dtype) {
    case STRATA_UINT8:
        UPDATE_STEPS(STRATA_UINT8, p, nsteps);
        break;
    case STRATA_UINT16:
        UPDATE_STEPS(STRATA_UINT16, p, nsteps);
        break;
    case STRATA_INT16:
        UPDATE_STEPS(STRATA_INT16, p, nsteps);
        break;
    case STRATA_UINT32:
        UPDATE_STEPS(STRATA_UINT32, p, nsteps);
        break;
    case STRATA_INT32:
        UPDATE_STEPS(STRATA_INT32, p, nsteps);
        break;
    case STRATA_INT64:
        UPDATE_STEPS(STRATA_INT64, p, nsteps);
        break;
    case STRATA_FLOAT32:
        UPDATE_STEPS(STRATA_FLOAT32, p, nsteps);
        break;
    default:
        UPDATE_STEPS(STRATA_FLOAT64, p, nsteps);
        break;
    }
    uint8_t *seeded = p.k ? a->seeded + seeded_at(a, g, b, i0) : NULL;
    if (seeded && !*seeded) {
        *seeded =
            seed_first_values(src, step_bytes, nsteps, dtype, p.nd, n, p.cnt, p.k, p.s1, p.s2);
    }
}

/* ---- merge ------------------------------------------------------------------------------ */

void st_acc_canonicalize(st_acc *a) {
    if (!a->f[F_K]) {
        return;
    }
    size_t len = acc_len(a);
    const uint32_t *cnt = a->cnt;
    double *k = a->f[F_K], *s1 = a->f[F_S1], *s2 = a->f[F_S2];
    for (size_t i = 0; i < len; i++) {
        if (cnt[i] > 0) {
            double m2 = s2[i] - s1[i] * s1[i] / cnt[i];
            k[i] += s1[i] / cnt[i];
            s2[i] = m2 > 0 ? m2 : 0.0;
        } else {
            k[i] = 0.0;
            s2[i] = 0.0;
        }
        s1[i] = 0.0;
    }
}

/* Chan et al.'s pairwise update of (n, mean, M2); runs before the counts are added. */
static void merge_moments(st_acc *a, const st_acc *b, size_t len) {
    const uint32_t *na = a->cnt, *nb = b->cnt;
    for (size_t i = 0; i < len; i++) {
        if (nb[i] == 0) {
            continue;
        }
        if (na[i] == 0) {
            a->f[F_K][i] = b->f[F_K][i];
            a->f[F_S2][i] = b->f[F_S2][i];
            continue;
        }
        double n = (double)na[i] + nb[i], delta = b->f[F_K][i] - a->f[F_K][i];
        a->f[F_K][i] += delta * nb[i] / n;
        a->f[F_S2][i] += b->f[F_S2][i] + delta * delta * na[i] * nb[i] / n;
    }
}

void st_acc_merge(st_acc *a, const st_acc *b) {
    size_t len = acc_len(a);
    if (a->f[F_K]) {
        merge_moments(a, b, len);
    }
    for (size_t i = 0; i < len; i++) {
        a->cnt[i] += b->cnt[i];
    }
    for (size_t i = 0; a->miss && i < len; i++) {
        a->miss[i] += b->miss[i];
    }
    for (size_t i = 0; a->f[F_SUM] && i < len; i++) {
        a->f[F_SUM][i] += b->f[F_SUM][i];
    }
    for (size_t i = 0; a->f[F_MIN] && i < len; i++) {
        a->f[F_MIN][i] = b->f[F_MIN][i] < a->f[F_MIN][i] ? b->f[F_MIN][i] : a->f[F_MIN][i];
    }
    for (size_t i = 0; a->f[F_MAX] && i < len; i++) {
        a->f[F_MAX][i] = b->f[F_MAX][i] > a->f[F_MAX][i] ? b->f[F_MAX][i] : a->f[F_MAX][i];
    }
}

/* ---- finish ------------------------------------------------------------------------------ */

static void finish_moments(const st_acc *a, const st_finish_ctx *fc, strata_op op, int g, int b,
                           double *out) {
    const uint32_t *cnt = count_at(a->cnt, a, g, b, 0);
    const double *m2 = field_at(a, F_S2, g, b, 0);
    for (size_t i = 0; i < a->npx; i++) {
        double dof = (double)cnt[i] - fc->ddof;
        double var = dof > 0 ? m2[i] / dof : NAN;
        out[i] = op == STRATA_OP_STD ? sqrt(var) : var;
    }
}

ST_AVX2_CLONE
void st_acc_finish(const st_acc *a, const st_finish_ctx *fc, strata_op op, int slot, int b,
                   double *out) {
    const uint32_t *cnt = count_at(a->cnt, a, slot, b, 0);
    const double *sum = field_at(a, F_SUM, slot, b, 0);
    switch (op) {
    case STRATA_OP_COUNT:
        for (size_t i = 0; i < a->npx; i++) {
            out[i] = cnt[i];
        }
        return;
    case STRATA_OP_SUM:
        memcpy(out, sum, a->npx * sizeof *out);
        break;
    case STRATA_OP_MEAN:
        for (size_t i = 0; i < a->npx; i++) {
            out[i] = sum[i] / (double)cnt[i];
        }
        break;
    case STRATA_OP_MIN:
        memcpy(out, field_at(a, F_MIN, slot, b, 0), a->npx * sizeof *out);
        break;
    case STRATA_OP_MAX:
        memcpy(out, field_at(a, F_MAX, slot, b, 0), a->npx * sizeof *out);
        break;
    case STRATA_OP_STD:
    case STRATA_OP_VAR:
        finish_moments(a, fc, op, slot, b, out);
        break;
    default:
        break;
    }
    /* Selects, one loop per case, no short-circuit: with `miss &&` or `||` in the loop, the
     * AVX2 clone loaded miss[i] with a masked load, which AMD cores run microcoded: slow
     * enough to dominate the finish step of a many-group run. */
    const uint32_t *miss = count_at(a->miss, a, slot, b, 0);
    if (miss) {
        for (size_t i = 0; i < a->npx; i++) {
            out[i] = ((cnt[i] == 0) | (miss[i] > 0)) ? NAN : out[i];
        }
    } else {
        for (size_t i = 0; i < a->npx; i++) {
            out[i] = cnt[i] == 0 ? NAN : out[i];
        }
    }
}

/* Reductions commute with value * scale + offset, so packed values are reduced raw, in the
 * kernels of unpacked data, and only results are unpacked. */
void st_acc_unpack(const st_acc *a, strata_op op, int slot, int b, double scale, double offset,
                   double *out) {
    const uint32_t *cnt = count_at(a->cnt, a, slot, b, 0);
    for (size_t i = 0; i < a->npx; i++) {
        switch (op) {
        case STRATA_OP_COUNT:
            break;
        case STRATA_OP_SUM:
            out[i] = out[i] * scale + offset * (double)cnt[i];
            break;
        case STRATA_OP_STD:
            out[i] = out[i] * fabs(scale);
            break;
        case STRATA_OP_VAR:
            out[i] = out[i] * scale * scale;
            break;
        default:
            out[i] = out[i] * scale + offset;
            break;
        }
    }
}
