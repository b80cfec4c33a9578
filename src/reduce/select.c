/* Median and quantiles by selection. The values of a tile are kept in the input type (a
 * float32 stack holds 4 bytes a value, not 8), as planes of one timestep each.
 *
 * Short rows (up to NET_MAX values a pixel, e.g. a year of acquisitions) are sorted by a
 * sorting network, ROW_BYTES of pixels at a time: the chunk is copied as it lies in the planes
 * (one row of vectors a timestep, a lane a pixel), a missing value replaced by the type's largest
 * value (+inf for floats) so that it sorts after every kept one and the pixel's kept values come
 * first, and every comparator is a min and a max across the lanes, which the vectoriser turns into
 * SIMD instructions with no branch to mispredict. One sort serves every wanted quantile. A
 * kept value equal to the filler is indistinguishable from it, so the order statistics below
 * the pixel's count are still exact.
 *
 * Longer rows are turned into one row of values per pixel, CHUNK pixels at a time, missing
 * values pushed out as it goes (no branch: each value is stored, and the pixel's count grows
 * when it is valid), so each cache line of a plane is read once. Each pixel's wanted order
 * statistics are then selected in ascending order (quickselect, each on the part above the
 * previous one).
 *
 * The order statistics are combined in double exactly as numpy does: the median as
 * (a + b) / 2, the quantiles with numpy's virtual index and _lerp. Compiled without FP
 * contraction: a fused multiply-add would round differently from numpy. */
#include "reduce/select.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { CHUNK = 32, SMALL = 16, NET_MAX = 1024, VEC_BYTES = 16, NV = 4, ROW_BYTES = NV * VEC_BYTES };

/* The scratch rounded up to a vector's alignment (st_select_scratch leaves room for it). */
static void *align_vec(void *p) {
    return (void *)(((uintptr_t)p + VEC_BYTES - 1) & ~(uintptr_t)(VEC_BYTES - 1));
}

/* Comparators of Batcher's odd-even merge sort for n values (at most NET_MAX): the network of
 * the next power of two without the comparators that reach past n, which would only compare
 * with fillers larger than everything. Writes them to c (unless NULL), returns their count. */
typedef struct cmp_pair {
    uint16_t a, b;
} cmp_pair;

static size_t network(size_t n, cmp_pair *c) {
    size_t nc = 0;
    for (size_t p = 1; p < n; p += p) {
        for (size_t k = p; k >= 1; k /= 2) {
            for (size_t j = k % p; j + k < n; j += 2 * k) {
                for (size_t i = 0; i < k && i + j + k < n; i++) {
                    if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
                        if (c) {
                            c[nc] = (cmp_pair){(uint16_t)(i + j), (uint16_t)(i + j + k)};
                        }
                        nc++;
                    }
                }
            }
        }
    }
    return nc;
}

/* Rows up to NET_MAX values a pixel are sorted by the network: beyond, its n log^2 n
 * comparators cost more than quickselect. A pixel's count is kept in a lane of the type's
 * width, read unsigned: one-byte types are limited to 255 values. */
static size_t net_max(strata_dtype dt) {
    return strata_dtype_size(dt) == 1 ? 255 : NET_MAX;
}

size_t st_vspec_outputs(const st_vspec *v) {
    return (v->median ? 1 : 0) + v->nq;
}

size_t st_select_scratch(size_t npos, strata_dtype dt) {
    size_t rows = (size_t)CHUNK * (npos ? npos : 1) * strata_dtype_size(dt);
    /* a call may pass fewer positions (a group's) and take the network where npos cannot */
    size_t m = npos < net_max(dt) ? npos : net_max(dt);
    size_t net = (size_t)ROW_BYTES * (m ? m : 1) + VEC_BYTES + network(m, NULL) * sizeof(cmp_pair);
    return rows > net ? rows : net;
}

/* One order statistic wanted by an output: lerp(a[lo], a[hi], gamma), a[lo] alone, or the
 * median's (a[lo] + a[hi]) / 2. */
typedef enum { W_TAKE, W_LERP, W_MEAN } want_kind;
typedef struct want {
    want_kind kind;
    size_t lo, hi;
    double gamma;
} want;

/* numpy's _lerp, with its branch on t: a + (b - a) t below 0.5, b - (b - a)(1 - t) above. */
static double lerp(double a, double b, double t) {
    double d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* numpy's _get_indexes: an index at or above the last one takes the last value, and the
 * weight is then taken from the index -1 numpy puts there. */
static want lerp_at(double v, size_t n, double gamma_override, bool override) {
    want w = {W_LERP, n - 1, n - 1, 0.0};
    if (v >= (double)(n - 1)) {
        w.gamma = v - -1.0;
    } else {
        double prev = floor(v);
        w.lo = (size_t)prev;
        w.hi = w.lo + 1;
        w.gamma = v - prev;
    }
    if (override) {
        w.gamma = gamma_override;
    }
    return w;
}

static want want_quantile(double q, strata_quantile_method m, size_t n) {
    double v = (double)(n - 1) * q;
    switch (m) {
    case STRATA_QUANTILE_LOWER:
        return (want){W_TAKE, (size_t)floor(v), 0, 0.0};
    case STRATA_QUANTILE_HIGHER:
        return (want){W_TAKE, (size_t)ceil(v), 0, 0.0};
    case STRATA_QUANTILE_NEAREST:
        return (want){W_TAKE, (size_t)nearbyint(v), 0, 0.0}; /* numpy's around: half to even */
    case STRATA_QUANTILE_MIDPOINT: {
        double vm = 0.5 * (floor(v) + ceil(v));
        return lerp_at(vm, n, fmod(vm, 1.0) == 0 ? 0.0 : 0.5, true);
    }
    default:
        return lerp_at(v, n, 0.0, false);
    }
}

/* The wanted outputs of a pixel with n values, and the sorted distinct indices they need. */
static size_t plan_pixel(const st_vspec *v, size_t n, want *w, size_t *idx) {
    size_t no = 0, ni = 0;
    if (v->median) {
        w[no++] = (want){W_MEAN, (n - 1) / 2, n / 2, 0.0};
    }
    for (size_t k = 0; k < v->nq; k++) {
        w[no++] = want_quantile(v->q[k], v->method, n);
    }
    for (size_t o = 0; o < no; o++) {
        idx[ni++] = w[o].lo;
        if (w[o].kind != W_TAKE) {
            idx[ni++] = w[o].hi;
        }
    }
    for (size_t i = 1; i < ni; i++) { /* insertion sort: a handful of indices */
        size_t x = idx[i], j = i;
        for (; j > 0 && idx[j - 1] > x; j--) {
            idx[j] = idx[j - 1];
        }
        idx[j] = x;
    }
    size_t u = 0;
    for (size_t i = 0; i < ni; i++) {
        if (u == 0 || idx[u - 1] != idx[i]) {
            idx[u++] = idx[i];
        }
    }
    return u;
}

/* Quickselect (median-of-three pivot, Hoare partition, which splits runs of equal values
 * evenly) down to SMALL values, then insertion sort. Puts the k-th smallest of a[0..n) at
 * a[k], the smaller ones before it, the larger after. */
/* The wanted value from its order statistics lo and hi. */
static double combine(const want *w, double lo, double hi) {
    return w->kind == W_TAKE ? lo : w->kind == W_MEAN ? (lo + hi) / 2.0 : lerp(lo, hi, w->gamma);
}

#define DEFINE_SELECT(T, NAME, NOTNAN, DT)                                                         \
    static void nth_##NAME(T *a, size_t n, size_t k) {                                             \
        ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;                                \
        if (k == 0) {                                                                              \
            size_t m = 0;                                                                          \
            for (size_t i = 1; i < n; i++) {                                                       \
                m = a[i] < a[m] ? i : m;                                                           \
            }                                                                                      \
            T t = a[0];                                                                            \
            a[0] = a[m];                                                                           \
            a[m] = t;                                                                              \
            return;                                                                                \
        }                                                                                          \
        while (hi - lo > SMALL) {                                                                  \
            ptrdiff_t mid = lo + (hi - lo) / 2;                                                    \
            T t;                                                                                   \
            if (a[mid] < a[lo]) {                                                                  \
                t = a[mid], a[mid] = a[lo], a[lo] = t;                                             \
            }                                                                                      \
            if (a[hi] < a[lo]) {                                                                   \
                t = a[hi], a[hi] = a[lo], a[lo] = t;                                               \
            }                                                                                      \
            if (a[hi] < a[mid]) {                                                                  \
                t = a[hi], a[hi] = a[mid], a[mid] = t;                                             \
            }                                                                                      \
            T pivot = a[mid];                                                                      \
            ptrdiff_t i = lo, j = hi;                                                              \
            while (i <= j) {                                                                       \
                while (a[i] < pivot) {                                                             \
                    i++;                                                                           \
                }                                                                                  \
                while (pivot < a[j]) {                                                             \
                    j--;                                                                           \
                }                                                                                  \
                if (i <= j) {                                                                      \
                    t = a[i], a[i] = a[j], a[j] = t;                                               \
                    i++;                                                                           \
                    j--;                                                                           \
                }                                                                                  \
            }                                                                                      \
            if (kk <= j) {                                                                         \
                hi = j;                                                                            \
            } else if (kk >= i) {                                                                  \
                lo = i;                                                                            \
            } else {                                                                               \
                return; /* between the parts: equal to the pivot */                                \
            }                                                                                      \
        }                                                                                          \
        for (ptrdiff_t i = lo + 1; i <= hi; i++) {                                                 \
            T x = a[i];                                                                            \
            ptrdiff_t j = i;                                                                       \
            for (; j > lo && x < a[j - 1]; j--) {                                                  \
                a[j] = a[j - 1];                                                                   \
            }                                                                                      \
            a[j] = x;                                                                              \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void finish_##NAME(T *a, size_t n, size_t npos, const st_vspec *v, double *const *out,  \
                              size_t i) {                                                          \
        size_t no = st_vspec_outputs(v);                                                           \
        if (n == 0 || (!v->skipna && n < npos)) {                                                  \
            for (size_t o = 0; o < no; o++) {                                                      \
                out[o][i] = NAN;                                                                   \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        want w[ST_MAX_VALUE_OUTPUTS];                                                              \
        size_t idx[2 * ST_MAX_VALUE_OUTPUTS];                                                      \
        size_t ni = plan_pixel(v, n, w, idx);                                                      \
        for (size_t s = 0, start = 0; s < ni; s++) {                                               \
            nth_##NAME(a + start, n - start, idx[s] - start);                                      \
            start = idx[s] + 1;                                                                    \
        }                                                                                          \
        for (size_t o = 0; o < no; o++) {                                                          \
            out[o][i] = combine(&w[o], (double)a[w[o].lo], (double)a[w[o].hi]);                    \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    /* Vectors of one SIMD register of the type; a chunk's row of ROW_BYTES is NV of them, one     \
     * lane a pixel. The compare of two gives a mask (all ones where true), which selects without  \
     * a branch, and which the compiler turns into min and max instructions. */                    \
    typedef T vec_##NAME __attribute__((vector_size(VEC_BYTES)));                                  \
                                                                                                   \
    static void sort_lanes_##NAME(vec_##NAME *x, const cmp_pair *c, size_t nc) {                   \
        for (size_t k = 0; k < nc; k++) {                                                          \
            vec_##NAME *ra = x + (size_t)c[k].a * NV, *rb = x + (size_t)c[k].b * NV;               \
            for (size_t j = 0; j < NV; j++) {                                                      \
                vec_##NAME u = ra[j], w = rb[j];                                                   \
                __typeof__(w < u) m = w < u;                                                       \
                ra[j] = (vec_##NAME)(((__typeof__(m))w & m) | ((__typeof__(m))u & ~m));            \
                rb[j] = (vec_##NAME)(((__typeof__(m))u & m) | ((__typeof__(m))w & ~m));            \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void network_##NAME(const T *vals, size_t pstride, const size_t *pos, size_t npos,      \
                               bool use_nd, T ndv, T fill, const st_vspec *v, size_t p0,           \
                               size_t p1, void *scratch, double *const *out) {                     \
        enum { LN = VEC_BYTES / sizeof(T), LANES = NV * LN };                                      \
        vec_##NAME *rows = align_vec(scratch), fv = {0}, all = {0};                                \
        cmp_pair *c = (cmp_pair *)(rows + npos * NV);                                              \
        size_t nc = network(npos, c), no = st_vspec_outputs(v), plan_n = 0;                        \
        want w[ST_MAX_VALUE_OUTPUTS];                                                              \
        size_t idx[2 * ST_MAX_VALUE_OUTPUTS];                                                      \
        for (size_t e = 0; e < LN; e++) {                                                          \
            fv[e] = fill;                                                                          \
            all[e] = 0;                                                                            \
        }                                                                                          \
        for (size_t c0 = p0; c0 < p1; c0 += LANES) {                                               \
            size_t m = p1 - c0 < LANES ? p1 - c0 : LANES;                                          \
            __typeof__(all < all) cnt[NV] = {0}, in[NV] = {0};                                     \
            for (size_t l = 0; l < LANES; l++) { /* the lanes of pixels (all but at the end) */    \
                in[l / LN][l % LN] = l < m ? -1 : 0;                                               \
            }                                                                                      \
            for (size_t k = 0; k < npos; k++) {                                                    \
                const T *row = vals + (pos ? pos[k] : k) * pstride + c0;                           \
                for (size_t j = 0; j < NV; j++) {                                                  \
                    vec_##NAME x = {0};                                                            \
                    if (m == LANES) {                                                              \
                        memcpy(&x, row + j * LN, sizeof x);                                        \
                    } else {                                                                       \
                        for (size_t e = 0; e < LN; e++) {                                          \
                            x[e] = j * LN + e < m ? row[j * LN + e] : fill;                        \
                        }                                                                          \
                    }                                                                              \
                    __typeof__(all < all) ok = (x == x) & in[j];                                   \
                    ok &= use_nd ? x != ndv : ok;                                                  \
                    rows[k * NV + j] =                                                             \
                        (vec_##NAME)(((__typeof__(ok))x & ok) | ((__typeof__(ok))fv & ~ok));       \
                    cnt[j] -= ok;                                                                  \
                }                                                                                  \
            }                                                                                      \
            sort_lanes_##NAME(rows, c, nc);                                                        \
            for (size_t l = 0; l < m; l++) {                                                       \
                /* the count is at most NET_MAX: it fits the mask's width read unsigned */         \
                size_t n = (size_t)(unsigned long long)cnt[l / LN][l % LN] &                       \
                           (~0ULL >> (64 - 8 * sizeof(T)));                                        \
                if (n == 0 || (!v->skipna && n < npos)) {                                          \
                    for (size_t o = 0; o < no; o++) {                                              \
                        out[o][c0 + l] = NAN;                                                      \
                    }                                                                              \
                    continue;                                                                      \
                }                                                                                  \
                if (n != plan_n) { /* most pixels of a chunk have the same count */                \
                    plan_pixel(v, n, w, idx);                                                      \
                    plan_n = n;                                                                    \
                }                                                                                  \
                for (size_t o = 0; o < no; o++) {                                                  \
                    out[o][c0 + l] = combine(&w[o], (double)rows[w[o].lo * NV + l / LN][l % LN],   \
                                             (double)rows[w[o].hi * NV + l / LN][l % LN]);         \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static void pixels_##NAME(const T *vals, size_t pstride, const size_t *pos, size_t npos,       \
                              bool use_nd, T ndv, T fill, const st_vspec *v, size_t p0, size_t p1, \
                              T *buf, double *const *out) {                                        \
        if (npos <= net_max(DT)) {                                                                 \
            network_##NAME(vals, pstride, pos, npos, use_nd, ndv, fill, v, p0, p1, buf, out);      \
            return;                                                                                \
        }                                                                                          \
        for (size_t c0 = p0; c0 < p1; c0 += CHUNK) {                                               \
            size_t m = p1 - c0 < CHUNK ? p1 - c0 : CHUNK, cnt[CHUNK] = {0};                        \
            for (size_t k = 0; k < npos; k++) {                                                    \
                const T *row = vals + (pos ? pos[k] : k) * pstride + c0;                           \
                for (size_t i = 0; i < m; i++) {                                                   \
                    T x = row[i];                                                                  \
                    buf[i * npos + cnt[i]] = x;                                                    \
                    cnt[i] += NOTNAN(x) & (!use_nd | (x != ndv));                                  \
                }                                                                                  \
            }                                                                                      \
            for (size_t i = 0; i < m; i++) {                                                       \
                finish_##NAME(buf + i * npos, cnt[i], npos, v, out, c0 + i);                       \
            }                                                                                      \
        }                                                                                          \
    }

#define INT_NOTNAN(x) 1
#define FLT_NOTNAN(x) ((x) == (x))
DEFINE_SELECT(uint8_t, u8, INT_NOTNAN, STRATA_UINT8)
DEFINE_SELECT(int8_t, i8, INT_NOTNAN, STRATA_INT8)
DEFINE_SELECT(uint16_t, u16, INT_NOTNAN, STRATA_UINT16)
DEFINE_SELECT(int16_t, i16, INT_NOTNAN, STRATA_INT16)
DEFINE_SELECT(uint32_t, u32, INT_NOTNAN, STRATA_UINT32)
DEFINE_SELECT(int32_t, i32, INT_NOTNAN, STRATA_INT32)
DEFINE_SELECT(int64_t, i64, INT_NOTNAN, STRATA_INT64)
DEFINE_SELECT(float, f32, FLT_NOTNAN, STRATA_FLOAT32)
DEFINE_SELECT(double, f64, FLT_NOTNAN, STRATA_FLOAT64)

/* The nodata as a value of the type, when one of the type equals it (else nothing is). */
#define USE_ND(T) (has_nd && !isnan(nd) && (double)(T)nd == nd)
#define CALL(T, NAME, FILL)                                                                        \
    pixels_##NAME((const T *)vals, pstride, pos, npos, USE_ND(T), USE_ND(T) ? (T)nd : (T)0, FILL,  \
                  v, p0, p1, (T *)scratch, out)

void st_select_values(const void *vals, strata_dtype dt, size_t pstride, const size_t *pos,
                      size_t npos, bool has_nd, double nd, const st_vspec *v, size_t p0, size_t p1,
                      void *scratch, double *const *out) {
    /* Casting an out-of-range double to an integer type is undefined: check the range first. */
    if (has_nd && !isnan(nd) && dt != STRATA_FLOAT32 && dt != STRATA_FLOAT64 &&
        (nd < -9.3e18 || nd > 1.9e19)) {
        has_nd = false;
    }
    switch (dt) {
    case STRATA_UINT8:
        has_nd = has_nd && nd >= 0 && nd <= 255;
        CALL(uint8_t, u8, UINT8_MAX);
        break;
    case STRATA_INT8:
        has_nd = has_nd && nd >= -128 && nd <= 127;
        CALL(int8_t, i8, INT8_MAX);
        break;
    case STRATA_UINT16:
        has_nd = has_nd && nd >= 0 && nd <= 65535;
        CALL(uint16_t, u16, UINT16_MAX);
        break;
    case STRATA_INT16:
        has_nd = has_nd && nd >= -32768 && nd <= 32767;
        CALL(int16_t, i16, INT16_MAX);
        break;
    case STRATA_UINT32:
        has_nd = has_nd && nd >= 0 && nd <= 4294967295.0;
        CALL(uint32_t, u32, UINT32_MAX);
        break;
    case STRATA_INT32:
        has_nd = has_nd && nd >= -2147483648.0 && nd <= 2147483647.0;
        CALL(int32_t, i32, INT32_MAX);
        break;
    case STRATA_INT64:
        has_nd = has_nd && nd >= -9223372036854775808.0 && nd < 9223372036854775808.0;
        CALL(int64_t, i64, INT64_MAX);
        break;
    case STRATA_FLOAT32:
        CALL(float, f32, INFINITY);
        break;
    default:
        CALL(double, f64, INFINITY);
        break;
    }
}
