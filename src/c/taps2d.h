/* The taps of a 2-D kernel over extended float rows by fused multiply-adds, each output truncated
   into SciPy's integer (correlate2d's float buffers over integer images).

   cl_taps2d_f: acc[t] = trunc(sum over (a, b) of w[a Kc + b] * rows[a n + b + t]) for t < T,
   the integer SciPy's double sum truncates to: 32 outputs a step, the Kr x Kc taps each one
   multiply-add per 8 lanes (the sum in any order stays within the margin e of SciPy's, see
   trunc_check.h, which FMA only narrows); an output whose float sum has an integer boundary
   within e is computed again in double, by multiply-adds (within the margin e2 of SciPy's
   sum), and where that sum too has a boundary within e2, from 0.0 in the taps' C order
   (SciPy's), and truncated. Each lane sums its taps in one chain in C order (a, then b): the
   caller's e may use that (see convcore/ndimage/_engine.py, ``_taps2d_margins``).
   Values stay below 2**24 (the caller's margin needs it), so every integer is exact in float.
   Only in AVX2 builds, and only where the CPU has FMA: returns 0 (nothing done) otherwise, and
   the caller runs cl_taps2_f and cl_check2_f. */
#ifndef CONVCORE_TAPS2D_H
#define CONVCORE_TAPS2D_H
#include "cl_kernel.h"

/* SciPy's double sum of output t, truncated toward zero. Never inlined into the FMA kernel: the
   compiler would fuse its products and sums there (other rounding than SciPy's). */
__attribute__((noinline)) static float cl_taps2d_exact(const float *rows, Py_ssize_t n,
                                                       const double *wd, Py_ssize_t Kr,
                                                       Py_ssize_t Kc, Py_ssize_t t) {
    double s = 0.0;
    for (Py_ssize_t a = 0; a < Kr; a++)
        for (Py_ssize_t b = 0; b < Kc; b++) s += wd[a * Kc + b] * (double)rows[a * n + b + t];
    return (float)(long long)s;
}

#if defined(__AVX2__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CL_TAPS2D_TARGET __attribute__((target("avx2,fma")))

/* the lanes of output t..t + 8 flagged in m, settled in double: each lane's sum in four chains
   (any order: it lies within e2 of SciPy's double sum, see cl_taps2d_run); a lane with no
   integer boundary within e2 of it truncates as SciPy's, one with (an integer-valued sum, in
   practice) is computed again in SciPy's order. Four short chains, not K dependent additions:
   these fixes took a third of the time of a 5x5 kernel over uint8 (1.8% of outputs flagged).
   Not marked cold: GCC optimises cold functions for size (no unrolling, trunc() as a call). */
__attribute__((noinline)) static void cl_taps2d_fix(float *acc, const float *rows,
                                                          Py_ssize_t n, const double *wd,
                                                          Py_ssize_t Kr, Py_ssize_t Kc,
                                                   Py_ssize_t t, int m, double e2) {
    for (int l = 0; l < 8; l++) {
        if (!(m >> l & 1)) continue;
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (Py_ssize_t a = 0; a < Kr; a++) {
            const float *r = rows + a * n + t + l;
            const double *wa = wd + a * Kc;
            Py_ssize_t b = 0;
            for (; b + 4 <= Kc; b += 4) {
                s0 += wa[b] * (double)r[b];
                s1 += wa[b + 1] * (double)r[b + 1];
                s2 += wa[b + 2] * (double)r[b + 2];
                s3 += wa[b + 3] * (double)r[b + 3];
            }
            for (; b < Kc; b++) s0 += wa[b] * (double)r[b];
        }
        double v = (s0 + s1) + (s2 + s3);
        double lo = trunc(v - e2);
        acc[t + l] = lo == trunc(v + e2) ? (float)lo : cl_taps2d_exact(rows, n, wd, Kr, Kc, t + l);
    }
}

/* trunc(a - e) into acc[t..t + 8); the lanes whose a - e and a + e truncate apart fixed */
static CL_TAPS2D_TARGET inline void cl_taps2d_put(float *acc, __m256 a, __m256 e,
                                                  const float *rows, Py_ssize_t n,
                                                  const double *wd, Py_ssize_t Kr,
                                                  Py_ssize_t Kc, Py_ssize_t t, double e2) {
    const int z = _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC;
    __m256 lo = _mm256_round_ps(_mm256_sub_ps(a, e), z);
    __m256 hi = _mm256_round_ps(_mm256_add_ps(a, e), z);
    _mm256_storeu_ps(acc + t, lo);
    int m = _mm256_movemask_ps(_mm256_cmp_ps(lo, hi, _CMP_NEQ_UQ));
    if (__builtin_expect(m != 0, 0)) cl_taps2d_fix(acc, rows, n, wd, Kr, Kc, t, m, e2);
}

CL_KERNEL CL_TAPS2D_TARGET void cl_taps2d_run(float *acc, const float *rows, Py_ssize_t n,
                                              const float *w, const double *wd, Py_ssize_t Kr,
                                              Py_ssize_t Kc, Py_ssize_t T, float e, double e2) {
    const __m256 ev = _mm256_set1_ps(e);
    Py_ssize_t t = 0, a, b;
    for (; t + 32 <= T; t += 32) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (a = 0; a < Kr; a++) {
            const float *r = rows + a * n + t;
            const float *wa = w + a * Kc;
            for (b = 0; b < Kc; b++) {
                __m256 wv = _mm256_broadcast_ss(wa + b);
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + b), wv, s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + b + 8), wv, s1);
                s2 = _mm256_fmadd_ps(_mm256_loadu_ps(r + b + 16), wv, s2);
                s3 = _mm256_fmadd_ps(_mm256_loadu_ps(r + b + 24), wv, s3);
            }
        }
        cl_taps2d_put(acc, s0, ev, rows, n, wd, Kr, Kc, t, e2);
        cl_taps2d_put(acc, s1, ev, rows, n, wd, Kr, Kc, t + 8, e2);
        cl_taps2d_put(acc, s2, ev, rows, n, wd, Kr, Kc, t + 16, e2);
        cl_taps2d_put(acc, s3, ev, rows, n, wd, Kr, Kc, t + 24, e2);
    }
    for (; t + 8 <= T; t += 8) {
        __m256 s0 = _mm256_setzero_ps();
        for (a = 0; a < Kr; a++)
            for (b = 0; b < Kc; b++)
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(rows + a * n + t + b),
                                     _mm256_broadcast_ss(w + a * Kc + b), s0);
        cl_taps2d_put(acc, s0, ev, rows, n, wd, Kr, Kc, t, e2);
    }
    for (; t < T; t++) acc[t] = cl_taps2d_exact(rows, n, wd, Kr, Kc, t);
}

/* one input row's taps: for each b, the 32 values at r + b multiply-added into s (weights wa)
   and/or u (weights wb); NULL weights skip that output row */
#define CL_TAPS2D_ROW(r, wa, wb)                                                       \
    for (b = 0; b < Kc; b++) {                                                         \
        __m256 v0 = _mm256_loadu_ps(r + b), v1 = _mm256_loadu_ps(r + b + 8);          \
        __m256 v2 = _mm256_loadu_ps(r + b + 16), v3 = _mm256_loadu_ps(r + b + 24);     \
        __asm__("" : "+x"(v0), "+x"(v1), "+x"(v2), "+x"(v3)); /* loaded once, for both */ \
        if (wa) {                                                                      \
            __m256 wv = _mm256_broadcast_ss(wa + b);                                   \
            s0 = _mm256_fmadd_ps(v0, wv, s0); s1 = _mm256_fmadd_ps(v1, wv, s1);        \
            s2 = _mm256_fmadd_ps(v2, wv, s2); s3 = _mm256_fmadd_ps(v3, wv, s3);        \
        }                                                                              \
        if (wb) {                                                                      \
            __m256 wv = _mm256_broadcast_ss(wb + b);                                   \
            u0 = _mm256_fmadd_ps(v0, wv, u0); u1 = _mm256_fmadd_ps(v1, wv, u1);        \
            u2 = _mm256_fmadd_ps(v2, wv, u2); u3 = _mm256_fmadd_ps(v3, wv, u3);        \
        }                                                                              \
    }

/* cl_taps2d_run for two output rows at once, acc0 from rows and acc1 from rows + n: each input
   row loaded once for both (the 5x5 kernel over uint8 was bound by its loads, one per tap and
   8 outputs, plus the weights' broadcasts). Each output is the same chain, in the same order,
   as cl_taps2d_run's. */
CL_KERNEL CL_TAPS2D_TARGET void cl_taps2d_run2(float *acc0, float *acc1, const float *rows,
                                               Py_ssize_t n, const float *w, const double *wd,
                                               Py_ssize_t Kr, Py_ssize_t Kc, Py_ssize_t T,
                                               float e, double e2) {
    const __m256 ev = _mm256_set1_ps(e);
    const float *none = NULL;
    Py_ssize_t t = 0, a, b;
    for (; t + 32 <= T; t += 32) {
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        __m256 u0 = s0, u1 = s0, u2 = s0, u3 = s0;
        CL_TAPS2D_ROW(rows + t, w, none)
        for (a = 1; a < Kr; a++) {
            const float *r = rows + a * n + t;
            CL_TAPS2D_ROW(r, w + a * Kc, w + (a - 1) * Kc)
        }
        CL_TAPS2D_ROW(rows + Kr * n + t, none, w + (Kr - 1) * Kc)
        cl_taps2d_put(acc0, s0, ev, rows, n, wd, Kr, Kc, t, e2);
        cl_taps2d_put(acc0, s1, ev, rows, n, wd, Kr, Kc, t + 8, e2);
        cl_taps2d_put(acc0, s2, ev, rows, n, wd, Kr, Kc, t + 16, e2);
        cl_taps2d_put(acc0, s3, ev, rows, n, wd, Kr, Kc, t + 24, e2);
        cl_taps2d_put(acc1, u0, ev, rows + n, n, wd, Kr, Kc, t, e2);
        cl_taps2d_put(acc1, u1, ev, rows + n, n, wd, Kr, Kc, t + 8, e2);
        cl_taps2d_put(acc1, u2, ev, rows + n, n, wd, Kr, Kc, t + 16, e2);
        cl_taps2d_put(acc1, u3, ev, rows + n, n, wd, Kr, Kc, t + 24, e2);
    }
    if (t < T) {
        cl_taps2d_run(acc0 + t, rows + t, n, w, wd, Kr, Kc, T - t, e, e2);
        cl_taps2d_run(acc1 + t, rows + n + t, n, w, wd, Kr, Kc, T - t, e, e2);
    }
}
#undef CL_TAPS2D_ROW

static inline int cl_taps2d_ready(void) {
    __builtin_cpu_init();     /* returns at once once done; no state of ours shared by threads */
    return __builtin_cpu_supports("fma");
}
static inline int cl_taps2d_f(float *acc, const float *rows, Py_ssize_t n, const float *w,
                              const double *wd, Py_ssize_t Kr, Py_ssize_t Kc, Py_ssize_t T,
                              float e, double e2) {
    if (!cl_taps2d_ready()) return 0;
    cl_taps2d_run(acc, rows, n, w, wd, Kr, Kc, T, e, e2);
    return 1;
}
/* cl_taps2d_f for output rows rows and rows + n into acc0 and acc1 (see cl_taps2d_run2) */
static inline int cl_taps2d_f2(float *acc0, float *acc1, const float *rows, Py_ssize_t n,
                               const float *w, const double *wd, Py_ssize_t Kr, Py_ssize_t Kc,
                               Py_ssize_t T, float e, double e2) {
    if (!cl_taps2d_ready()) return 0;
    cl_taps2d_run2(acc0, acc1, rows, n, w, wd, Kr, Kc, T, e, e2);
    return 1;
}
#else
static inline int cl_taps2d_ready(void) { return 0; }
static inline int cl_taps2d_f(float *acc, const float *rows, Py_ssize_t n, const float *w,
                              const double *wd, Py_ssize_t Kr, Py_ssize_t Kc, Py_ssize_t T,
                              float e, double e2) {
    (void)acc; (void)rows; (void)n; (void)w; (void)wd; (void)Kr; (void)Kc; (void)T; (void)e;
    (void)e2;
    return 0;
}
static inline int cl_taps2d_f2(float *acc0, float *acc1, const float *rows, Py_ssize_t n,
                               const float *w, const double *wd, Py_ssize_t Kr, Py_ssize_t Kc,
                               Py_ssize_t T, float e, double e2) {
    (void)acc1;
    return cl_taps2d_f(acc0, rows, n, w, wd, Kr, Kc, T, e, e2);
}
#endif
#endif
