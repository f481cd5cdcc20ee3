/* Images laid out batch innermost and back, for the shifted-GEMM engine (src/shifted.pyx):
   to:   dst[(c * places + pos[q]) * nb + b] = src[(b * C + c) * L + q]
   from: dst[(b * C + c) * L + q] = src[(c * places + pos[q]) * nb + b] + bias[c]
   (pos NULL: position q at place q; bias NULL: nothing added).

   One side of either copy is strided (nb values apart): a plain loop moves one value per load
   and store, and took 12% of a stride-2 layer's forward (32x64x8x8 by 128x64x3x3, 16 images a
   step). With SSE (every x86-64 CPU) four images at four positions are transposed in
   registers, four values to a load and a store; images and positions left over go one by one.
   Pure data movement (the bias added once per value either way): the same values. */
#ifndef CONVCORE_BATCH_INNER_H
#define CONVCORE_BATCH_INNER_H
#include <stddef.h>
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define CONVCORE_BATCH_INNER_SSE 1
#endif

#define CONVCORE_PLACE(pos, q) ((pos) ? (pos)[q] : (q))

static inline void convcore_to_batch_inner_float(const float *src, float *dst, ptrdiff_t nb,
                                                 ptrdiff_t C, ptrdiff_t L, ptrdiff_t places,
                                                 const ptrdiff_t *pos) {
    for (ptrdiff_t c = 0; c < C; c++) {
        float *d = dst + c * places * nb;
        ptrdiff_t b = 0;
#ifdef CONVCORE_BATCH_INNER_SSE
        for (; b + 4 <= nb; b += 4) {
            const float *s = src + (b * C + c) * L;
            ptrdiff_t q = 0;
            for (; q + 4 <= L; q += 4) {
                __m128 r0 = _mm_loadu_ps(s + q);
                __m128 r1 = _mm_loadu_ps(s + C * L + q);
                __m128 r2 = _mm_loadu_ps(s + 2 * C * L + q);
                __m128 r3 = _mm_loadu_ps(s + 3 * C * L + q);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                _mm_storeu_ps(d + CONVCORE_PLACE(pos, q) * nb + b, r0);
                _mm_storeu_ps(d + CONVCORE_PLACE(pos, q + 1) * nb + b, r1);
                _mm_storeu_ps(d + CONVCORE_PLACE(pos, q + 2) * nb + b, r2);
                _mm_storeu_ps(d + CONVCORE_PLACE(pos, q + 3) * nb + b, r3);
            }
            for (; q < L; q++)
                for (ptrdiff_t i = 0; i < 4; i++)
                    d[CONVCORE_PLACE(pos, q) * nb + b + i] = s[i * C * L + q];
        }
#endif
        for (; b < nb; b++) {
            const float *s = src + (b * C + c) * L;
            for (ptrdiff_t q = 0; q < L; q++) d[CONVCORE_PLACE(pos, q) * nb + b] = s[q];
        }
    }
}

static inline void convcore_from_batch_inner_float(const float *src, float *dst, ptrdiff_t nb,
                                                   ptrdiff_t C, ptrdiff_t L, ptrdiff_t places,
                                                   const ptrdiff_t *pos, const float *bias) {
    for (ptrdiff_t c = 0; c < C; c++) {
        const float *s = src + c * places * nb;
        float shift = bias ? bias[c] : 0.0f;
        ptrdiff_t b = 0;
#ifdef CONVCORE_BATCH_INNER_SSE
        __m128 vshift = _mm_set1_ps(shift);
        for (; b + 4 <= nb; b += 4) {
            float *d = dst + (b * C + c) * L;
            ptrdiff_t q = 0;
            for (; q + 4 <= L; q += 4) {
                __m128 r0 = _mm_loadu_ps(s + CONVCORE_PLACE(pos, q) * nb + b);
                __m128 r1 = _mm_loadu_ps(s + CONVCORE_PLACE(pos, q + 1) * nb + b);
                __m128 r2 = _mm_loadu_ps(s + CONVCORE_PLACE(pos, q + 2) * nb + b);
                __m128 r3 = _mm_loadu_ps(s + CONVCORE_PLACE(pos, q + 3) * nb + b);
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                _mm_storeu_ps(d + q, _mm_add_ps(r0, vshift));
                _mm_storeu_ps(d + C * L + q, _mm_add_ps(r1, vshift));
                _mm_storeu_ps(d + 2 * C * L + q, _mm_add_ps(r2, vshift));
                _mm_storeu_ps(d + 3 * C * L + q, _mm_add_ps(r3, vshift));
            }
            for (; q < L; q++)
                for (ptrdiff_t i = 0; i < 4; i++)
                    d[i * C * L + q] = s[CONVCORE_PLACE(pos, q) * nb + b + i] + shift;
        }
#endif
        for (; b < nb; b++) {
            float *d = dst + (b * C + c) * L;
            for (ptrdiff_t q = 0; q < L; q++) d[q] = s[CONVCORE_PLACE(pos, q) * nb + b] + shift;
        }
    }
}

static inline void convcore_to_batch_inner_double(const double *src, double *dst, ptrdiff_t nb,
                                                  ptrdiff_t C, ptrdiff_t L, ptrdiff_t places,
                                                  const ptrdiff_t *pos) {
    for (ptrdiff_t b = 0; b < nb; b++)
        for (ptrdiff_t c = 0; c < C; c++)
            for (ptrdiff_t q = 0; q < L; q++)
                dst[(c * places + CONVCORE_PLACE(pos, q)) * nb + b] = src[(b * C + c) * L + q];
}

static inline void convcore_from_batch_inner_double(const double *src, double *dst,
                                                    ptrdiff_t nb, ptrdiff_t C, ptrdiff_t L,
                                                    ptrdiff_t places, const ptrdiff_t *pos,
                                                    const double *bias) {
    for (ptrdiff_t b = 0; b < nb; b++)
        for (ptrdiff_t c = 0; c < C; c++)
            for (ptrdiff_t q = 0; q < L; q++)
                dst[(b * C + c) * L + q] = src[(c * places + CONVCORE_PLACE(pos, q)) * nb + b]
                                           + (bias ? bias[c] : 0.0);
}

#define convcore_to_batch_inner(src, dst, nb, C, L, places, pos) _Generic((dst), \
    float *: convcore_to_batch_inner_float, \
    double *: convcore_to_batch_inner_double)(src, dst, nb, C, L, places, pos)
#define convcore_from_batch_inner(src, dst, nb, C, L, places, pos, bias) _Generic((dst), \
    float *: convcore_from_batch_inner_float, \
    double *: convcore_from_batch_inner_double)(src, dst, nb, C, L, places, pos, bias)

#endif
