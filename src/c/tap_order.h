/* One output channel's row of a convolution's weights reordered tap by tap: dst[t * C + c] =
   src[c * T + t] (C input channels, T kernel taps), for the shifted-GEMM engine
   (src/shifted.pyx), whose GEMMs read each tap's (C_out, C_in) matrix.

   A plain loop moves one value per load and store: the row of a 3x3 layer between 256 channels
   (9 KiB, in L1) took 3.4 times a memcpy of the same bytes. With SSE (every x86-64 CPU) four
   channels at a time are transposed four taps at a time in registers, four values to a store;
   taps and channels left over go one by one. Pure data movement: the same values either way. */
#ifndef CONVCORE_TAP_ORDER_H
#define CONVCORE_TAP_ORDER_H
#include <stddef.h>
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define CONVCORE_TAP_ORDER_SSE 1
#endif

static inline void convcore_tap_order_scalar_float(const float *src, float *dst, ptrdiff_t C,
                                                   ptrdiff_t T, ptrdiff_t c0, ptrdiff_t t0) {
    /* channels c0.. for every tap, and taps t0.. for the channels before c0 */
    for (ptrdiff_t t = 0; t < T; t++)
        for (ptrdiff_t c = c0; c < C; c++) dst[t * C + c] = src[c * T + t];
    for (ptrdiff_t t = t0; t < T; t++)
        for (ptrdiff_t c = 0; c < c0; c++) dst[t * C + c] = src[c * T + t];
}

static inline void convcore_tap_order_float(const float *src, float *dst, ptrdiff_t C,
                                            ptrdiff_t T) {
    ptrdiff_t c = 0, t = 0;
#ifdef CONVCORE_TAP_ORDER_SSE
    ptrdiff_t T4 = T - T % 4;
    for (c = 0; c + 4 <= C; c += 4) {
        for (t = 0; t < T4; t += 4) {
            __m128 r0 = _mm_loadu_ps(src + c * T + t);
            __m128 r1 = _mm_loadu_ps(src + (c + 1) * T + t);
            __m128 r2 = _mm_loadu_ps(src + (c + 2) * T + t);
            __m128 r3 = _mm_loadu_ps(src + (c + 3) * T + t);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(dst + t * C + c, r0);
            _mm_storeu_ps(dst + (t + 1) * C + c, r1);
            _mm_storeu_ps(dst + (t + 2) * C + c, r2);
            _mm_storeu_ps(dst + (t + 3) * C + c, r3);
        }
    }
    t = T4;
#endif
    convcore_tap_order_scalar_float(src, dst, C, T, c, t);
}

static inline void convcore_tap_order_double(const double *src, double *dst, ptrdiff_t C,
                                             ptrdiff_t T) {
    for (ptrdiff_t t = 0; t < T; t++)
        for (ptrdiff_t c = 0; c < C; c++) dst[t * C + c] = src[c * T + t];
}

#define convcore_tap_order(src, dst, C, T) _Generic((dst), \
    float *: convcore_tap_order_float, double *: convcore_tap_order_double)(src, dst, C, T)

#endif
