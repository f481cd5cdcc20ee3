"""Direct N-D correlation of an array with a small dense kernel, with an edge rule and a stride.

One public function::

    correlate(x, w, out, start, step, mode, cval, n_threads)

computes, for every index ``o`` of ``out`` (all arrays of the same ndim >= 1, C-contiguous, of one
dtype)::

    out[o] = sum over k of  w[k] * X[start + o * step + k]

where ``X`` is ``x`` extended beyond its edges by the edge rule ``mode`` (a code of
``src/_modes.pxd``: MODE_CONSTANT reads ``cval``; REFLECT, MIRROR, NEAREST and WRAP read a sample of
``x`` chosen by ``_modes.map_index``). ``start`` and ``step`` are sequences of ints, one per axis:
``start[d]`` (any sign) is the input coordinate that ``w[0, ..., 0]`` meets for ``out[0, ..., 0]``,
``step[d] >= 1`` the stride. ``out`` is overwritten; its shape sets the output size. This is a
*correlation* (no kernel flip): a convolution passes the reversed kernel.

dtypes: uint8/16/32/64, float32/64, complex64/128 directly. Signed integers are computed in the
unsigned type of the same width (a view, no copy): two's-complement wrap-around is defined there and
gives bit for bit the wrapped signed result, which is what SciPy returns for integer input. ``cval``
is converted to the arrays' dtype (numpy's rules). Results do not depend on ``n_threads``: every
output is one sum in a fixed order.

How the work is laid out: the output is a stack of rows along the last axis; a work item is one row
(or a column chunk of a long row, so 1-D signals run in parallel too), and batches of items are
handed out dynamically: by the module's helper-thread pool on POSIX with GCC/Clang (the caller never
waits for a helper that has not started, see ``src/c/cc_pool.h``), by OpenMP ``prange`` elsewhere. For a row, the kernel's taps along the last axis are added in
groups of up to 8 per pass, ``out_row[j] += w[c]*x_row[base+j+c] + ... + w[c+7]*x_row[base+j+c+7]``,
over the columns where every tap of the group reads inside ``x``: a contiguous loop the C compiler
vectorises (an AVX2+FMA variant is picked at run time on x86), with the accumulating row hot in L1.
3- and 5-wide kernels add up to 3 kernel rows per pass; a column kernel (one tap wide) adds up to 8
input rows per pass. Only the few columns near the edges go through ``map_index``; rows of the
leading axes that fall outside ``x`` are mapped once per output row (or read the constant). No
padded copy of ``x`` is made, except when rows are short against a wide kernel (edge columns would
then dominate): the rows are then copied once, extended along the last axis by the edge rule.
"""
from cython.parallel cimport prange, threadid

import numpy as np

from modes cimport MODE_CONSTANT, MODE_WRAP, map_index

# Integers run in the unsigned type of their width (defined wrap-around), so no signed variant.
ctypedef unsigned char u8
ctypedef unsigned short u16
ctypedef unsigned int u32
ctypedef unsigned long long u64

ctypedef fused wrapping:
    u8
    u16
    u32
    u64
    float
    double
    float complex
    double complex

# The interior of a row: d[t] += w[0]*s[t] + ... + w[g-1]*s[t+g-1] for g <= 8 taps at once, so the
# accumulating row is loaded and stored once per 8 taps. Written in C so that GCC/Clang on x86 can
# build an AVX2+FMA copy next to the baseline one and pick it at run time (wheels stay baseline).
# uint8/uint16 products are formed in unsigned int: C would promote them to (signed) int.
cdef extern from *:
    """
    #include <stddef.h>
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    #define CC_X86_DISPATCH 1
    #define CC_AVX2 __attribute__((target("avx2,fma")))
    #else
    #define CC_X86_DISPATCH 0
    #define CC_AVX2
    #endif

    #define CC_ROW(NAME, T, A, ATTR)                                                            \
    static ATTR void NAME(T *__restrict d, const T *__restrict s, const T *__restrict w,        \
                          Py_ssize_t g, Py_ssize_t n) {                                         \
        Py_ssize_t t;                                                                           \
        const A w0 = g > 0 ? (A)w[0] : (A)0;                                                    \
        const A w1 = g > 1 ? (A)w[1] : (A)0;                                                    \
        const A w2 = g > 2 ? (A)w[2] : (A)0;                                                    \
        const A w3 = g > 3 ? (A)w[3] : (A)0;                                                    \
        const A w4 = g > 4 ? (A)w[4] : (A)0;                                                    \
        const A w5 = g > 5 ? (A)w[5] : (A)0;                                                    \
        const A w6 = g > 6 ? (A)w[6] : (A)0;                                                    \
        const A w7 = g > 7 ? (A)w[7] : (A)0;                                                    \
        switch (g) {                                                                            \
        case 8: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s[t + 0] + w1 * s[t + 1] + w2 * s[t + 2] + w3 * s[t + 3]  \
                       + w4 * s[t + 4] + w5 * s[t + 5] + w6 * s[t + 6] + w7 * s[t + 7]);        \
            break;                                                                              \
        case 7: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s[t + 0] + w1 * s[t + 1] + w2 * s[t + 2] + w3 * s[t + 3]  \
                       + w4 * s[t + 4] + w5 * s[t + 5] + w6 * s[t + 6]);                        \
            break;                                                                              \
        case 6: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s[t + 0] + w1 * s[t + 1] + w2 * s[t + 2] + w3 * s[t + 3]  \
                       + w4 * s[t + 4] + w5 * s[t + 5]);                                        \
            break;                                                                              \
        case 5: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s[t + 0] + w1 * s[t + 1] + w2 * s[t + 2] + w3 * s[t + 3]  \
                       + w4 * s[t + 4]);                                                        \
            break;                                                                              \
        case 4: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s[t + 0] + w1 * s[t + 1] + w2 * s[t + 2] + w3 * s[t + 3]);\
            break;                                                                              \
        case 3: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s[t + 0] + w1 * s[t + 1] + w2 * s[t + 2]);                \
            break;                                                                              \
        case 2: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s[t + 0] + w1 * s[t + 1]);                                \
            break;                                                                              \
        default: for (t = 0; t < n; t++)                                                        \
            d[t] = (T)((A)d[t] + w0 * s[t + 0]);                                                \
        }                                                                                       \
    }

    #if CC_X86_DISPATCH
    static int cc_use_avx2 = 0;
    /* allowed: 0 when CONVCORE_DISABLE_CPU_FEATURES names AVX2 (convcore._cpu decides) */
    static void cc_simd_init(int allowed) {
        __builtin_cpu_init();
        cc_use_avx2 = allowed && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    #define CC_DISPATCH(NAME, T, A)                                                             \
        CC_ROW(NAME##_base, T, A, )                                                            \
        CC_ROW(NAME##_avx2, T, A, CC_AVX2)                                                      \
        static void NAME(T *d, const T *s, const T *w, Py_ssize_t g, Py_ssize_t n) {            \
            if (cc_use_avx2) NAME##_avx2(d, s, w, g, n); else NAME##_base(d, s, w, g, n);      \
        }
    #else
    static int cc_use_avx2 = 0;
    static void cc_simd_init(int allowed) {}
    #define CC_DISPATCH(NAME, T, A) CC_ROW(NAME, T, A, )
    #endif

    CC_DISPATCH(cc_row_f32, float, float)
    CC_DISPATCH(cc_row_f64, double, double)
    CC_DISPATCH(cc_row_u8, unsigned char, unsigned int)
    CC_DISPATCH(cc_row_u16, unsigned short, unsigned int)
    CC_DISPATCH(cc_row_u32, unsigned int, unsigned int)
    CC_DISPATCH(cc_row_u64, unsigned long long, unsigned long long)

    /* a column kernel (one tap along the row): up to 8 input rows added into one output row */
    #define CC_ROWS(NAME, T, A, ATTR)                                                           \
    static ATTR void NAME(T *__restrict d, const T *const *s, const T *w,                       \
                          Py_ssize_t g, Py_ssize_t n) {                                         \
        Py_ssize_t t;                                                                           \
        const A w0 = g > 0 ? (A)w[0] : (A)0;                                                    \
        const A w1 = g > 1 ? (A)w[1] : (A)0;                                                    \
        const A w2 = g > 2 ? (A)w[2] : (A)0;                                                    \
        const A w3 = g > 3 ? (A)w[3] : (A)0;                                                    \
        const A w4 = g > 4 ? (A)w[4] : (A)0;                                                    \
        const A w5 = g > 5 ? (A)w[5] : (A)0;                                                    \
        const A w6 = g > 6 ? (A)w[6] : (A)0;                                                    \
        const A w7 = g > 7 ? (A)w[7] : (A)0;                                                    \
        const T *__restrict s0 = s[g > 0 ? 0 : 0];                                              \
        const T *__restrict s1 = s[g > 1 ? 1 : 0];                                              \
        const T *__restrict s2 = s[g > 2 ? 2 : 0];                                              \
        const T *__restrict s3 = s[g > 3 ? 3 : 0];                                              \
        const T *__restrict s4 = s[g > 4 ? 4 : 0];                                              \
        const T *__restrict s5 = s[g > 5 ? 5 : 0];                                              \
        const T *__restrict s6 = s[g > 6 ? 6 : 0];                                              \
        const T *__restrict s7 = s[g > 7 ? 7 : 0];                                              \
        switch (g) {                                                                            \
        case 8: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]              \
                       + w4 * s4[t] + w5 * s5[t] + w6 * s6[t] + w7 * s7[t]);                    \
            break;                                                                              \
        case 7: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]              \
                       + w4 * s4[t] + w5 * s5[t] + w6 * s6[t]);                                 \
            break;                                                                              \
        case 6: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]              \
                       + w4 * s4[t] + w5 * s5[t]);                                              \
            break;                                                                              \
        case 5: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]              \
                       + w4 * s4[t]);                                                           \
            break;                                                                              \
        case 4: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t]);            \
            break;                                                                              \
        case 3: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t]);                         \
            break;                                                                              \
        case 2: for (t = 0; t < n; t++)                                                         \
            d[t] = (T)((A)d[t] + w0 * s0[t] + w1 * s1[t]);                                      \
            break;                                                                              \
        default: for (t = 0; t < n; t++)                                                        \
            d[t] = (T)((A)d[t] + w0 * s0[t]);                                                   \
        }                                                                                       \
    }
    #if CC_X86_DISPATCH
    #define CC_RDISPATCH(NAME, T, A)                                                            \
        CC_ROWS(NAME##_base, T, A, )                                                           \
        CC_ROWS(NAME##_avx2, T, A, CC_AVX2)                                                     \
        static void NAME(T *d, const T *const *s, const T *w, Py_ssize_t g, Py_ssize_t n) {    \
            if (cc_use_avx2) NAME##_avx2(d, s, w, g, n); else NAME##_base(d, s, w, g, n);      \
        }
    #else
    #define CC_RDISPATCH(NAME, T, A) CC_ROWS(NAME, T, A, )
    #endif
    CC_RDISPATCH(cc_rows_f32, float, float)
    CC_RDISPATCH(cc_rows_f64, double, double)
    CC_RDISPATCH(cc_rows_u8, unsigned char, unsigned int)
    CC_RDISPATCH(cc_rows_u16, unsigned short, unsigned int)
    CC_RDISPATCH(cc_rows_u32, unsigned int, unsigned int)
    CC_RDISPATCH(cc_rows_u64, unsigned long long, unsigned long long)

    /* small 2-D kernels: r <= 3 kernel rows of kw = 3 or 5 taps in one pass over the output row,
       added to d (acc) or written over it (the first pass: no zeroing pass, no read of d) */
    #define CC_RECT(NAME, T, A, ATTR)                                                           \
    static ATTR void NAME(T *__restrict d, const T *const *s, const T *w, Py_ssize_t kw,        \
                          Py_ssize_t r, Py_ssize_t n, int acc) {                                \
        Py_ssize_t t;                                                                           \
        const T *__restrict s0 = s[0];                                                          \
        const T *__restrict s1 = s[r > 1 ? 1 : 0];                                              \
        const T *__restrict s2 = s[r > 2 ? 2 : 0];                                              \
        switch (kw * 4 + r) {                                                                   \
        case 13: {                                                                              \
            const A w00 = (A)w[0], w01 = (A)w[1], w02 = (A)w[2];                                \
            for (t = 0; t < n; t++)                                                             \
                d[t] = (T)((acc ? (A)d[t] : (A)0) + w00 * s0[t + 0] + w01 * s0[t + 1] + w02 * s0[t + 2]);      \
            break;                                                                              \
        }                                                                                       \
        case 14: {                                                                              \
            const A w00 = (A)w[0], w01 = (A)w[1], w02 = (A)w[2], w10 = (A)w[3], w11 = (A)w[4];  \
            const A w12 = (A)w[5];                                                              \
            for (t = 0; t < n; t++)                                                             \
                d[t] = (T)((acc ? (A)d[t] : (A)0) + w00 * s0[t + 0] + w01 * s0[t + 1] + w02 * s0[t + 2]        \
                           + w10 * s1[t + 0] + w11 * s1[t + 1] + w12 * s1[t + 2]);              \
            break;                                                                              \
        }                                                                                       \
        case 15: {                                                                              \
            const A w00 = (A)w[0], w01 = (A)w[1], w02 = (A)w[2], w10 = (A)w[3], w11 = (A)w[4];  \
            const A w12 = (A)w[5], w20 = (A)w[6], w21 = (A)w[7], w22 = (A)w[8];                 \
            for (t = 0; t < n; t++)                                                             \
                d[t] = (T)((acc ? (A)d[t] : (A)0) + w00 * s0[t + 0] + w01 * s0[t + 1] + w02 * s0[t + 2]        \
                           + w10 * s1[t + 0] + w11 * s1[t + 1] + w12 * s1[t + 2]                \
                           + w20 * s2[t + 0] + w21 * s2[t + 1] + w22 * s2[t + 2]);              \
            break;                                                                              \
        }                                                                                       \
        case 21: {                                                                              \
            const A w00 = (A)w[0], w01 = (A)w[1], w02 = (A)w[2], w03 = (A)w[3], w04 = (A)w[4];  \
            for (t = 0; t < n; t++)                                                             \
                d[t] = (T)((acc ? (A)d[t] : (A)0) + w00 * s0[t + 0] + w01 * s0[t + 1] + w02 * s0[t + 2]        \
                           + w03 * s0[t + 3] + w04 * s0[t + 4]);                                \
            break;                                                                              \
        }                                                                                       \
        case 22: {                                                                              \
            const A w00 = (A)w[0], w01 = (A)w[1], w02 = (A)w[2], w03 = (A)w[3], w04 = (A)w[4];  \
            const A w10 = (A)w[5], w11 = (A)w[6], w12 = (A)w[7], w13 = (A)w[8], w14 = (A)w[9];  \
            for (t = 0; t < n; t++)                                                             \
                d[t] = (T)((acc ? (A)d[t] : (A)0) + w00 * s0[t + 0] + w01 * s0[t + 1] + w02 * s0[t + 2]        \
                           + w03 * s0[t + 3] + w04 * s0[t + 4] + w10 * s1[t + 0]                \
                           + w11 * s1[t + 1] + w12 * s1[t + 2] + w13 * s1[t + 3]                \
                           + w14 * s1[t + 4]);                                                  \
            break;                                                                              \
        }                                                                                       \
        case 23: {                                                                              \
            const A w00 = (A)w[0], w01 = (A)w[1], w02 = (A)w[2], w03 = (A)w[3], w04 = (A)w[4];  \
            const A w10 = (A)w[5], w11 = (A)w[6], w12 = (A)w[7], w13 = (A)w[8], w14 = (A)w[9];  \
            const A w20 = (A)w[10], w21 = (A)w[11], w22 = (A)w[12], w23 = (A)w[13], w24 = (A)w[14];\
            for (t = 0; t < n; t++)                                                             \
                d[t] = (T)((acc ? (A)d[t] : (A)0) + w00 * s0[t + 0] + w01 * s0[t + 1] + w02 * s0[t + 2]        \
                           + w03 * s0[t + 3] + w04 * s0[t + 4] + w10 * s1[t + 0]                \
                           + w11 * s1[t + 1] + w12 * s1[t + 2] + w13 * s1[t + 3]                \
                           + w14 * s1[t + 4] + w20 * s2[t + 0] + w21 * s2[t + 1]                \
                           + w22 * s2[t + 2] + w23 * s2[t + 3] + w24 * s2[t + 4]);              \
            break;                                                                              \
        }                                                                                       \
        }                                                                                       \
    }
    #if CC_X86_DISPATCH
    #define CC_XDISPATCH(NAME, T, A)                                                            \
        CC_RECT(NAME##_base, T, A, )                                                           \
        CC_RECT(NAME##_avx2, T, A, CC_AVX2)                                                     \
        static void NAME(T *d, const T *const *s, const T *w, Py_ssize_t kw, Py_ssize_t r,      \
                         Py_ssize_t n, int acc) {                                               \
            if (cc_use_avx2) NAME##_avx2(d, s, w, kw, r, n, acc);                               \
            else NAME##_base(d, s, w, kw, r, n, acc);                                           \
        }
    #else
    #define CC_XDISPATCH(NAME, T, A) CC_RECT(NAME, T, A, )
    #endif
    CC_XDISPATCH(cc_rect_f32, float, float)
    CC_XDISPATCH(cc_rect_f64, double, double)
    CC_XDISPATCH(cc_rect_u8, unsigned char, unsigned int)
    CC_XDISPATCH(cc_rect_u16, unsigned short, unsigned int)
    CC_XDISPATCH(cc_rect_u32, unsigned int, unsigned int)
    CC_XDISPATCH(cc_rect_u64, unsigned long long, unsigned long long)

    /* a 3x3 kernel on two output rows at once, both inside the input: four input rows, each
       loaded once for both outputs (6 loads per output instead of 9); same sums, same order as
       the rect pass */
    #define CC_PAIR(NAME, T, ATTR)                                                              \
    static ATTR void NAME(T *__restrict d0, T *__restrict d1, const T *s0, const T *s1,         \
                          const T *s2, const T *s3, const T *w, Py_ssize_t n) {                 \
        Py_ssize_t t;                                                                           \
        const T w00 = w[0], w01 = w[1], w02 = w[2], w10 = w[3], w11 = w[4], w12 = w[5];         \
        const T w20 = w[6], w21 = w[7], w22 = w[8];                                             \
        for (t = 0; t < n; t++) {                                                               \
            d0[t] = (T)0 + w00 * s0[t + 0] + w01 * s0[t + 1] + w02 * s0[t + 2]                  \
                    + w10 * s1[t + 0] + w11 * s1[t + 1] + w12 * s1[t + 2]                       \
                    + w20 * s2[t + 0] + w21 * s2[t + 1] + w22 * s2[t + 2];                      \
            d1[t] = (T)0 + w00 * s1[t + 0] + w01 * s1[t + 1] + w02 * s1[t + 2]                  \
                    + w10 * s2[t + 0] + w11 * s2[t + 1] + w12 * s2[t + 2]                       \
                    + w20 * s3[t + 0] + w21 * s3[t + 1] + w22 * s3[t + 2];                      \
        }                                                                                       \
    }
    #if CC_X86_DISPATCH
    #define CC_PDISPATCH(NAME, T)                                                               \
        CC_PAIR(NAME##_base, T, )                                                              \
        CC_PAIR(NAME##_avx2, T, CC_AVX2)                                                        \
        static void NAME(T *d0, T *d1, const T *s0, const T *s1, const T *s2, const T *s3,      \
                         const T *w, Py_ssize_t n) {                                            \
            if (cc_use_avx2) NAME##_avx2(d0, d1, s0, s1, s2, s3, w, n);                         \
            else NAME##_base(d0, d1, s0, s1, s2, s3, w, n);                                     \
        }
    #else
    #define CC_PDISPATCH(NAME, T) CC_PAIR(NAME, T, )
    #endif
    CC_PDISPATCH(cc_pair_f32, float)
    CC_PDISPATCH(cc_pair_f64, double)

    /* whether one of v[0:n] is NaN: a row just written, still in L1 (see _flag_nan) */
    #define CC_ANYNAN(NAME, T, ATTR)                                                            \
    static ATTR int NAME(const T *__restrict v, Py_ssize_t n) {                                 \
        Py_ssize_t t;                                                                           \
        int bad = 0;                                                                            \
        for (t = 0; t < n; t++) bad |= v[t] != v[t];                                            \
        return bad;                                                                             \
    }
    #if CC_X86_DISPATCH
    #define CC_NDISPATCH(NAME, T)                                                               \
        CC_ANYNAN(NAME##_base, T, )                                                            \
        CC_ANYNAN(NAME##_avx2, T, CC_AVX2)                                                      \
        static int NAME(const T *v, Py_ssize_t n) {                                             \
            return cc_use_avx2 ? NAME##_avx2(v, n) : NAME##_base(v, n);                         \
        }
    #else
    #define CC_NDISPATCH(NAME, T) CC_ANYNAN(NAME, T, )
    #endif
    CC_NDISPATCH(cc_anynan_f32, float)
    CC_NDISPATCH(cc_anynan_f64, double)

    /* a 5x5 kernel on two output rows at once, both inside the input: six input rows, each
       loaded once for both outputs (kept in registers: no accumulating row in memory); the same
       sums in the same order as the rect passes (kernel rows 0-2 from 0, then rows 3-4 added) */
    #define CC_TAPS5(S, K) K[0] * S[t + 0] + K[1] * S[t + 1] + K[2] * S[t + 2]                  \
                           + K[3] * S[t + 3] + K[4] * S[t + 4]
    #define CC_PAIR5(NAME, T, ATTR)                                                             \
    static ATTR void NAME(T *__restrict d0, T *__restrict d1, const T *__restrict const *s,     \
                          const T *w, Py_ssize_t n) {                                           \
        Py_ssize_t t;                                                                           \
        const T *__restrict s0 = s[0], *__restrict s1 = s[1], *__restrict s2 = s[2];            \
        const T *__restrict s3 = s[3], *__restrict s4 = s[4], *__restrict s5 = s[5];            \
        const T *k0 = w, *k1 = w + 5, *k2 = w + 10, *k3 = w + 15, *k4 = w + 20;                 \
        for (t = 0; t < n; t++) {                                                               \
            T a0 = (T)0 + CC_TAPS5(s0, k0) + CC_TAPS5(s1, k1) + CC_TAPS5(s2, k2);               \
            T a1 = (T)0 + CC_TAPS5(s1, k0) + CC_TAPS5(s2, k1) + CC_TAPS5(s3, k2);               \
            d0[t] = a0 + CC_TAPS5(s3, k3) + CC_TAPS5(s4, k4);                                   \
            d1[t] = a1 + CC_TAPS5(s4, k3) + CC_TAPS5(s5, k4);                                   \
        }                                                                                       \
    }
    #if CC_X86_DISPATCH
    #define CC_P5DISPATCH(NAME, T)                                                              \
        CC_PAIR5(NAME##_base, T, )                                                             \
        CC_PAIR5(NAME##_avx2, T, CC_AVX2)                                                       \
        static void NAME(T *d0, T *d1, const T *const *s, const T *w, Py_ssize_t n) {          \
            if (cc_use_avx2) NAME##_avx2(d0, d1, s, w, n);                                      \
            else NAME##_base(d0, d1, s, w, n);                                                  \
        }
    #else
    #define CC_P5DISPATCH(NAME, T) CC_PAIR5(NAME, T, )
    #endif
    CC_P5DISPATCH(cc_pair5_f32, float)
    CC_P5DISPATCH(cc_pair5_f64, double)

    /* complex rows as interleaved (re, im) pairs, one tap per pass: C's complex multiply would
       call the NaN-checking library routine for every product */
    #define CC_CROW(NAME, T, ATTR)                                                              \
    static ATTR void NAME(T *__restrict d, const T *__restrict s, const T *__restrict w,        \
                          Py_ssize_t g, Py_ssize_t n) {                                         \
        Py_ssize_t c, t;                                                                        \
        for (c = 0; c < g; c++) {                                                               \
            const T wr = w[2 * c], wi = w[2 * c + 1];                                           \
            const T *sc = s + 2 * c;                                                            \
            for (t = 0; t < n; t++) {                                                           \
                const T sr = sc[2 * t], si = sc[2 * t + 1];                                     \
                d[2 * t] = d[2 * t] + (wr * sr - wi * si);                                      \
                d[2 * t + 1] = d[2 * t + 1] + (wr * si + wi * sr);                              \
            }                                                                                   \
        }                                                                                       \
    }
    #if CC_X86_DISPATCH
    #define CC_CDISPATCH(NAME, T)                                                               \
        CC_CROW(NAME##_base, T, )                                                              \
        CC_CROW(NAME##_avx2, T, CC_AVX2)                                                        \
        static void NAME(T *d, const T *s, const T *w, Py_ssize_t g, Py_ssize_t n) {            \
            if (cc_use_avx2) NAME##_avx2(d, s, w, g, n); else NAME##_base(d, s, w, g, n);      \
        }
    #else
    #define CC_CDISPATCH(NAME, T) CC_CROW(NAME, T, )
    #endif
    CC_CDISPATCH(cc_row_c64, float)
    CC_CDISPATCH(cc_row_c128, double)
    """
    void cc_simd_init(int allowed) noexcept nogil
    int cc_use_avx2
    void cc_row_f32(float* d, const float* s, const float* w, Py_ssize_t g,
                    Py_ssize_t n) noexcept nogil
    void cc_row_f64(double* d, const double* s, const double* w, Py_ssize_t g,
                    Py_ssize_t n) noexcept nogil
    void cc_row_u8(u8* d, const u8* s, const u8* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_row_u16(u16* d, const u16* s, const u16* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_row_u32(u32* d, const u32* s, const u32* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_row_u64(u64* d, const u64* s, const u64* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_rows_f32(float* d, const float** s, const float* w, Py_ssize_t g,
                     Py_ssize_t n) noexcept nogil
    void cc_rows_f64(double* d, const double** s, const double* w, Py_ssize_t g,
                     Py_ssize_t n) noexcept nogil
    void cc_rows_u8(u8* d, const u8** s, const u8* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_rows_u16(u16* d, const u16** s, const u16* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_rows_u32(u32* d, const u32** s, const u32* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_rows_u64(u64* d, const u64** s, const u64* w, Py_ssize_t g, Py_ssize_t n) noexcept nogil
    void cc_rect_f32(float* d, const float** s, const float* w, Py_ssize_t kw, Py_ssize_t r,
                     Py_ssize_t n, int acc) noexcept nogil
    void cc_rect_f64(double* d, const double** s, const double* w, Py_ssize_t kw, Py_ssize_t r,
                     Py_ssize_t n, int acc) noexcept nogil
    void cc_rect_u8(u8* d, const u8** s, const u8* w, Py_ssize_t kw, Py_ssize_t r,
                    Py_ssize_t n, int acc) noexcept nogil
    void cc_rect_u16(u16* d, const u16** s, const u16* w, Py_ssize_t kw, Py_ssize_t r,
                     Py_ssize_t n, int acc) noexcept nogil
    void cc_rect_u32(u32* d, const u32** s, const u32* w, Py_ssize_t kw, Py_ssize_t r,
                     Py_ssize_t n, int acc) noexcept nogil
    void cc_rect_u64(u64* d, const u64** s, const u64* w, Py_ssize_t kw, Py_ssize_t r,
                     Py_ssize_t n, int acc) noexcept nogil
    void cc_pair_f32(float* d0, float* d1, const float* s0, const float* s1, const float* s2,
                     const float* s3, const float* w, Py_ssize_t n) noexcept nogil
    void cc_pair_f64(double* d0, double* d1, const double* s0, const double* s1,
                     const double* s2, const double* s3, const double* w,
                     Py_ssize_t n) noexcept nogil
    void cc_pair5_f32(float* d0, float* d1, const float** s, const float* w,
                      Py_ssize_t n) noexcept nogil
    int cc_anynan_f32(const float* v, Py_ssize_t n) noexcept nogil
    int cc_anynan_f64(const double* v, Py_ssize_t n) noexcept nogil
    void cc_pair5_f64(double* d0, double* d1, const double** s, const double* w,
                      Py_ssize_t n) noexcept nogil
    void cc_row_c64(float* d, const float* s, const float* w, Py_ssize_t g,
                    Py_ssize_t n) noexcept nogil
    void cc_row_c128(double* d, const double* s, const double* w, Py_ssize_t g,
                     Py_ssize_t n) noexcept nogil

cc_simd_init(1)


def set_cpu_features(bint avx2):
    """Let the row kernels use their AVX2+FMA copies (when the CPU has them) or not."""
    cc_simd_init(avx2)


def cpu_features():
    """The instruction sets the row kernels use now."""
    return ("AVX2",) if cc_use_avx2 else ()

# The helper-thread pool of src/c/cc_pool.h (why: see there).
cdef extern from "c/cc_pool.h":
    int CC_POOL
    ctypedef void (*cc_batch_fn)(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil
    int cc_parallel(cc_batch_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t batch,
                    int threads) noexcept nogil

# An item that finds a NaN in its outputs sets the call's flag (several may: the same value, so an
# atomic store where the compiler has one).
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define cc_set_flag(f) __atomic_store_n((f), 1, __ATOMIC_RELAXED)
    #else
    #define cc_set_flag(f) (*(volatile unsigned char *)(f) = 1)
    #endif
    """
    void cc_set_flag(unsigned char* f) noexcept nogil


cdef inline void _flag_nan(const Geom* g, const wrapping* v, Py_ssize_t n) noexcept nogil:
    """Set g.nan_flag when one of v[0:n] is NaN (a compare per output of a row still in cache)."""
    cdef int bad = 0
    if wrapping is float:
        bad = cc_anynan_f32(<const float*>v, n)
    elif wrapping is "float complex":
        bad = cc_anynan_f32(<const float*>v, 2 * n)
    elif wrapping is double:
        bad = cc_anynan_f64(<const double*>v, n)
    elif wrapping is "double complex":
        bad = cc_anynan_f64(<const double*>v, 2 * n)
    if bad:
        cc_set_flag(<unsigned char*>g.nan_flag)


cdef enum:
    MAX_DIMS = 64
    CHUNK = 4096          # columns per work item: a long 1-D row is split across threads
    GROUP = 8             # kernel taps per pass over the accumulating row
    RECT_ROWS = 3         # kernel rows of a 3- or 5-wide kernel per pass


cdef struct Geom:
    size_t nan_flag        # address of a byte set to 1 when an output is NaN (0: not looked for)
    int nd                 # >= 2 (a 1-D problem gets a leading axis of size 1)
    int mode
    Py_ssize_t n_chunks    # work items per output row
    Py_ssize_t n_lead      # kernel taps over the leading axes (product of k[:nd-1])
    Py_ssize_t idx_size    # per-thread scratch: sum of k[:nd-1]
    Py_ssize_t n[MAX_DIMS]
    Py_ssize_t k[MAX_DIMS]
    Py_ssize_t m[MAX_DIMS]
    Py_ssize_t start[MAX_DIMS]
    Py_ssize_t step[MAX_DIMS]
    Py_ssize_t x_stride[MAX_DIMS]   # element strides of x, C order
    Py_ssize_t y_stride[MAX_DIMS]   # element strides of out
    Py_ssize_t idx_off[MAX_DIMS]    # where axis d's mapped tap indices start in the scratch


cdef inline wrapping _madd(wrapping acc, wrapping w, wrapping v) noexcept nogil:
    """acc + w * v with wrap-around for the small unsigned types (no promotion to signed int)."""
    if wrapping is u8 or wrapping is u16:
        return <wrapping>(<unsigned int>acc + <unsigned int>w * <unsigned int>v)
    else:
        return acc + w * v


cdef inline void _interior(wrapping* d, const wrapping* s, const wrapping* w, Py_ssize_t g,
                           Py_ssize_t n) noexcept nogil:
    """d[t] += sum_{c<g} w[c] * s[t + c] for t < n (g <= GROUP taps, all reads inside the row)."""
    if wrapping is float:
        cc_row_f32(d, s, w, g, n)
    elif wrapping is double:
        cc_row_f64(d, s, w, g, n)
    elif wrapping is u8:
        cc_row_u8(d, s, w, g, n)
    elif wrapping is u16:
        cc_row_u16(d, s, w, g, n)
    elif wrapping is u32:
        cc_row_u32(d, s, w, g, n)
    elif wrapping is u64:
        cc_row_u64(d, s, w, g, n)
    elif wrapping is "float complex":
        cc_row_c64(<float*>d, <const float*>s, <const float*>w, g, n)
    else:
        cc_row_c128(<double*>d, <const double*>s, <const double*>w, g, n)


cdef inline void _batch_rows(wrapping* d, const wrapping** s, const wrapping* w, Py_ssize_t g,
                             Py_ssize_t n) noexcept nogil:
    """d[t] += sum_{i<g} w[i] * s[i][t] (real types; never called for complex)."""
    if wrapping is float:
        cc_rows_f32(d, s, w, g, n)
    elif wrapping is double:
        cc_rows_f64(d, s, w, g, n)
    elif wrapping is u8:
        cc_rows_u8(d, s, w, g, n)
    elif wrapping is u16:
        cc_rows_u16(d, s, w, g, n)
    elif wrapping is u32:
        cc_rows_u32(d, s, w, g, n)
    elif wrapping is u64:
        cc_rows_u64(d, s, w, g, n)


cdef inline void _rect(wrapping* d, const wrapping** s, const wrapping* w, Py_ssize_t kw,
                       Py_ssize_t r, Py_ssize_t n, int acc) noexcept nogil:
    """d[t] += sum_{i<r} sum_{c<kw} w[i*kw + c] * s[i][t + c] (kw 3 or 5, r <= RECT_ROWS; real
    types only)."""
    if wrapping is float:
        cc_rect_f32(d, s, w, kw, r, n, acc)
    elif wrapping is double:
        cc_rect_f64(d, s, w, kw, r, n, acc)
    elif wrapping is u8:
        cc_rect_u8(d, s, w, kw, r, n, acc)
    elif wrapping is u16:
        cc_rect_u16(d, s, w, kw, r, n, acc)
    elif wrapping is u32:
        cc_rect_u32(d, s, w, kw, r, n, acc)
    elif wrapping is u64:
        cc_rect_u64(d, s, w, kw, r, n, acc)


cdef inline void _group_range(Py_ssize_t off, Py_ssize_t g, Py_ssize_t j0, Py_ssize_t j1,
                              Py_ssize_t step, Py_ssize_t n, Py_ssize_t* jlo,
                              Py_ssize_t* jhi) noexcept nogil:
    """Columns [jlo, jhi) within [j0, j1) where taps off .. off+g-1 all read inside a row of n."""
    cdef Py_ssize_t lo, hi
    lo = 0 if off >= 0 else (step - 1 - off) // step
    hi = 0 if n - off - g < 0 else (n - off - g) // step + 1
    if lo < j0:
        lo = j0
    if lo > j1:
        lo = j1
    if hi < lo:
        hi = lo
    if hi > j1:
        hi = j1
    jlo[0] = lo
    jhi[0] = hi


cdef inline void _edges(wrapping* dst, const wrapping* src, const wrapping* w, Py_ssize_t c0,
                        Py_ssize_t g, Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t jlo, Py_ssize_t jhi,
                        Py_ssize_t start, Py_ssize_t step, Py_ssize_t n, int mode,
                        wrapping cval) noexcept nogil:
    """Taps c0 .. c0+g-1 for the columns outside [jlo, jhi), through the edge rule."""
    cdef Py_ssize_t c, j, v
    for c in range(c0, c0 + g):
        for j in range(j0, jlo):
            v = map_index(start + c + j * step, n, mode)
            dst[j] = _madd(dst[j], w[c], src[v] if v >= 0 else cval)
        for j in range(jhi, j1):
            v = map_index(start + c + j * step, n, mode)
            dst[j] = _madd(dst[j], w[c], src[v] if v >= 0 else cval)


cdef inline void _row(wrapping* dst, const wrapping* src, const wrapping* w, Py_ssize_t kw,
                      Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t start, Py_ssize_t step,
                      Py_ssize_t n, int mode, wrapping cval) noexcept nogil:
    """dst[j] += sum_c w[c] * SRC[start + j*step + c] for j in [j0, j1); src NULL = constant row.

    Taps go in groups of GROUP: the columns where every tap of the group reads inside the row run
    through `_interior` (contiguous, vectorised); the others, near the edges, through map_index.
    """
    cdef Py_ssize_t c, c0, g, j, jlo, jhi
    if src == NULL:
        for c in range(kw):
            for j in range(j0, j1):
                dst[j] = _madd(dst[j], w[c], cval)
        return
    c0 = 0
    while c0 < kw:
        g = kw - c0 if kw - c0 < GROUP else GROUP
        _group_range(start + c0, g, j0, j1, step, n, &jlo, &jhi)
        _edges(dst, src, w, c0, g, j0, j1, jlo, jhi, start, step, n, mode, cval)
        if jhi > jlo:
            if step == 1:
                _interior(dst + jlo, src + start + c0 + jlo, w + c0, g, jhi - jlo)
            else:
                for c in range(c0, c0 + g):
                    for j in range(jlo, jhi):
                        dst[j] = _madd(dst[j], w[c], src[start + c + j * step])
        c0 = c0 + g


cdef inline bint _pairs(const Geom* g, Py_ssize_t o) noexcept nogil:
    """True when output rows o and o + 1 (o even) of a 2-D 3x3 or 5x5 stride-1 float problem
    both read only rows inside the input: one item then computes both (see _pair)."""
    cdef Py_ssize_t base = g.start[0] + o
    return (g.nd == 2 and (g.k[0] == 3 or g.k[0] == 5) and g.k[1] == g.k[0]
            and g.step[0] == 1 and g.step[1] == 1
            and o % 2 == 0 and o + 1 < g.m[0] and base >= 0 and base + g.k[0] < g.n[0])


cdef void _pair(const Geom* g, const wrapping* x, const wrapping* w, wrapping* y, wrapping cval,
                Py_ssize_t o, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """Output rows o and o + 1, columns [j0, j1), of a problem where _pairs(g, o)."""
    cdef Py_ssize_t base = g.start[0] + o, jlo = 0, jhi = 0, t, q, k = g.k[0]
    cdef wrapping* d0 = y + o * g.y_stride[0]
    cdef wrapping* d1 = d0 + g.y_stride[0]
    cdef const wrapping* s0 = x + base * g.x_stride[0]
    cdef const wrapping* rows[6]
    cdef Py_ssize_t xs = g.x_stride[0]
    _group_range(g.start[1], k, j0, j1, 1, g.n[1], &jlo, &jhi)
    for t in range(j0, jlo):
        d0[t] = 0
        d1[t] = 0
    for t in range(jhi, j1):
        d0[t] = 0
        d1[t] = 0
    for q in range(k):
        _edges(d0, s0 + q * xs, w + k * q, 0, k, j0, j1, jlo, jhi, g.start[1], 1, g.n[1], g.mode,
               cval)
        _edges(d1, s0 + (q + 1) * xs, w + k * q, 0, k, j0, j1, jlo, jhi, g.start[1], 1, g.n[1],
               g.mode, cval)
    if jhi > jlo:
        s0 = s0 + g.start[1] + jlo
        for q in range(k + 1):
            rows[q] = s0 + q * xs
        if wrapping is float:
            if k == 3:
                cc_pair_f32(d0 + jlo, d1 + jlo, s0, s0 + xs, s0 + 2 * xs, s0 + 3 * xs, w,
                            jhi - jlo)
            else:
                cc_pair5_f32(d0 + jlo, d1 + jlo, <const float**>rows, w, jhi - jlo)
        elif wrapping is double:
            if k == 3:
                cc_pair_f64(d0 + jlo, d1 + jlo, s0, s0 + xs, s0 + 2 * xs, s0 + 3 * xs, w,
                            jhi - jlo)
            else:
                cc_pair5_f64(d0 + jlo, d1 + jlo, <const double**>rows, w, jhi - jlo)


cdef void _item(const Geom* g, const wrapping* x, const wrapping* w, wrapping* y, wrapping cval,
                Py_ssize_t item, Py_ssize_t* idx, Py_ssize_t* cnt) noexcept nogil:
    """One output row (or a column chunk of it)."""
    cdef int L = g.nd - 1
    cdef int d
    cdef Py_ssize_t row = item // g.n_chunks
    cdef Py_ssize_t j0 = (item % g.n_chunks) * CHUNK
    cdef Py_ssize_t j1 = j0 + CHUNK
    cdef Py_ssize_t r, o, t, q, v, base, y_off = 0, x_off
    cdef bint outside
    cdef wrapping* dst
    cdef const wrapping* src
    cdef const wrapping* srcs[GROUP]
    cdef wrapping ws[GROUP * RECT_ROWS]
    cdef int nb = 0
    cdef Py_ssize_t kw = g.k[L], jlo = 0, jhi = 0, c
    cdef bint batch, rect, fresh = False
    if j1 > g.m[L]:
        j1 = g.m[L]
    if wrapping is float or wrapping is double:
        # 3x3 on two rows at once: the even row's item computes both, the odd row's does nothing
        if _pairs(g, row):
            _pair(g, x, w, y, cval, row, j0, j1)
            if g.nan_flag:
                _flag_pair(g, y, row, j0, j1)
            return
        if row % 2 == 1 and _pairs(g, row - 1):
            return
    # a column kernel whose columns all read inside the rows: add GROUP input rows per pass
    batch = (kw == 1 and g.step[L] == 1 and g.start[L] + j0 >= 0
             and g.start[L] + j1 <= g.n[L] and GROUP > 0)
    # a 3- or 5-wide kernel: up to RECT_ROWS kernel rows per pass (edges apart, row by row)
    rect = (kw == 3 or kw == 5) and g.step[L] == 1 and g.n_lead > 1
    if wrapping is "float complex" or wrapping is "double complex":
        batch = False
        rect = False
    if rect:
        _group_range(g.start[L], kw, j0, j1, 1, g.n[L], &jlo, &jhi)
    r = row
    d = L - 1
    while d >= 0:
        o = r % g.m[d]
        r = r // g.m[d]
        y_off = y_off + o * g.y_stride[d]
        base = g.start[d] + o * g.step[d]
        for t in range(g.k[d]):
            idx[g.idx_off[d] + t] = map_index(base + t, g.n[d], g.mode)
        cnt[d] = 0
        d = d - 1
    dst = y + y_off
    if rect and jhi > jlo:
        # the interior columns [jlo, jhi) are written by the first rect pass (not zeroed first)
        fresh = True
        for t in range(j0, jlo):
            dst[t] = 0
        for t in range(jhi, j1):
            dst[t] = 0
    else:
        for t in range(j0, j1):
            dst[t] = 0
    for q in range(g.n_lead):
        x_off = 0
        outside = False
        for d in range(L):
            v = idx[g.idx_off[d] + cnt[d]]
            if v < 0:
                outside = True
                break
            x_off = x_off + v * g.x_stride[d]
        src = NULL
        if not outside:
            src = x + x_off
        if batch and src != NULL:
            srcs[nb] = src + g.start[L] + j0
            ws[nb] = w[q]
            nb = nb + 1
            if nb == GROUP:
                _batch_rows(dst + j0, srcs, ws, nb, j1 - j0)
                nb = 0
        elif rect and src != NULL:
            _edges(dst, src, w + q * kw, 0, kw, j0, j1, jlo, jhi, g.start[L], 1, g.n[L], g.mode,
                   cval)
            if jhi > jlo:
                srcs[nb] = src + g.start[L] + jlo
                for c in range(kw):
                    ws[nb * kw + c] = w[q * kw + c]
                nb = nb + 1
                if nb == RECT_ROWS:
                    _rect(dst + jlo, srcs, ws, kw, nb, jhi - jlo, not fresh)
                    fresh = False
                    nb = 0
        else:
            if fresh:
                for t in range(jlo, jhi):
                    dst[t] = 0
                fresh = False
            _row(dst, src, w + q * g.k[L], g.k[L], j0, j1,
                 g.start[L], g.step[L], g.n[L], g.mode, cval)
        d = L - 1
        while d >= 0:
            cnt[d] = cnt[d] + 1
            if cnt[d] < g.k[d]:
                break
            cnt[d] = 0
            d = d - 1
    if nb > 0 and batch:
        _batch_rows(dst + j0, srcs, ws, nb, j1 - j0)
    elif nb > 0:
        _rect(dst + jlo, srcs, ws, kw, nb, jhi - jlo, not fresh)
        fresh = False
    if fresh:
        for t in range(jlo, jhi):
            dst[t] = 0
    if g.nan_flag:
        _flag_nan(g, dst + j0, j1 - j0)


cdef void _flag_pair(const Geom* g, const wrapping* y, Py_ssize_t row, Py_ssize_t j0,
                     Py_ssize_t j1) noexcept nogil:
    """_flag_nan over columns [j0, j1) of output rows `row` and `row + 1` (what _pair wrote)."""
    cdef Py_ssize_t r, o, y_off
    cdef int d
    for r in range(row, row + 2):
        o, y_off = r, 0
        d = g.nd - 2
        while d >= 0:
            y_off = y_off + (o % g.m[d]) * g.y_stride[d]
            o = o // g.m[d]
            d = d - 1
        _flag_nan(g, y + y_off + j0, j1 - j0)


cdef struct Job:
    int op                # 0: correlate items (_run), 1: extend rows (_extend_rows)
    const Geom* g
    int kind              # which `wrapping` type the pointers hold (see _kind)
    const void* x
    const void* w
    void* y
    const void* cval
    Py_ssize_t* scratch   # one row of `stride` entries per thread
    Py_ssize_t stride
    Py_ssize_t n          # _extend_rows: row lengths in x and xe, first column, edge rule
    Py_ssize_t ne
    Py_ssize_t first
    int mode


cdef inline int _kind(const wrapping* dummy) noexcept nogil:
    """The code of the `wrapping` type that Job.kind records."""
    if wrapping is u8:
        return 0
    elif wrapping is u16:
        return 1
    elif wrapping is u32:
        return 2
    elif wrapping is u64:
        return 3
    elif wrapping is float:
        return 4
    elif wrapping is double:
        return 5
    elif wrapping is "float complex":
        return 6
    else:
        return 7


cdef inline void _job_rows(const Job* j, const wrapping* x, wrapping* y, const wrapping* cval,
                           Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    if j.op == 1:
        _extend(x, y, lo, hi, j.n, j.ne, j.first, j.mode, cval)
    else:
        _items(j.g, x, <const wrapping*>j.w, y, cval, lo, hi, j.scratch + tid * j.stride)


cdef inline void _items(const Geom* g, const wrapping* x, const wrapping* w, wrapping* y,
                        const wrapping* cval, Py_ssize_t lo, Py_ssize_t hi,
                        Py_ssize_t* scratch) noexcept nogil:
    cdef Py_ssize_t item
    for item in range(lo, hi):
        _item(g, x, w, y, cval[0], item, scratch, scratch + g.idx_size)


cdef void _job_batch(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    """Items [lo, hi) of a Job on thread `tid` (the pool's batch function)."""
    cdef Job* j = <Job*>ctx
    if j.kind == 0:
        _job_rows(j, <const u8*>j.x, <u8*>j.y, <const u8*>j.cval, lo, hi, tid)
    elif j.kind == 1:
        _job_rows(j, <const u16*>j.x, <u16*>j.y, <const u16*>j.cval, lo, hi, tid)
    elif j.kind == 2:
        _job_rows(j, <const u32*>j.x, <u32*>j.y, <const u32*>j.cval, lo, hi, tid)
    elif j.kind == 3:
        _job_rows(j, <const u64*>j.x, <u64*>j.y, <const u64*>j.cval, lo, hi, tid)
    elif j.kind == 4:
        _job_rows(j, <const float*>j.x, <float*>j.y, <const float*>j.cval, lo, hi, tid)
    elif j.kind == 5:
        _job_rows(j, <const double*>j.x, <double*>j.y, <const double*>j.cval, lo, hi, tid)
    elif j.kind == 6:
        _job_rows(j, <const float complex*>j.x, <float complex*>j.y,
                  <const float complex*>j.cval, lo, hi, tid)
    else:
        _job_rows(j, <const double complex*>j.x, <double complex*>j.y,
                  <const double complex*>j.cval, lo, hi, tid)


def _run(const wrapping[::1] x, const wrapping[::1] w, wrapping[::1] y, const wrapping[::1] cval,
         geom, Py_ssize_t[:, ::1] scratch, int n_threads, unsigned char[::1] nan_flag=None):
    cdef Geom g = geom
    g.nan_flag = <size_t>&nan_flag[0] if nan_flag is not None else 0
    cdef Py_ssize_t n_items = g.n_chunks
    cdef Py_ssize_t item
    cdef int tid
    cdef int d
    cdef wrapping cv = cval[0]
    cdef Job job
    for d in range(g.nd - 1):
        n_items *= g.m[d]
    if n_threads <= 1 or n_items == 1:
        with nogil:
            _items(&g, &x[0], &w[0], &y[0], &cval[0], 0, n_items, &scratch[0, 0])
        return
    # dynamic hand-out of small batches: on a shared machine a preempted thread does not hold up
    # the others (each output is one fixed-order sum, so results do not depend on the schedule)
    cdef Py_ssize_t batch = n_items // (16 * n_threads)
    if batch < 1:
        batch = 1
    if CC_POOL:
        job.g = &g
        job.x, job.w, job.y, job.cval = &x[0], &w[0], &y[0], &cval[0]
        job.scratch, job.stride = &scratch[0, 0], scratch.shape[1]
        job.op = 0
        job.kind = _kind(&cval[0])
        with nogil:
            if cc_parallel(_job_batch, &job, n_items, batch, n_threads) <= 1:
                _items(&g, &x[0], &w[0], &y[0], &cval[0], 0, n_items, &scratch[0, 0])
        return
    for item in prange(n_items, nogil=True, num_threads=n_threads, schedule="dynamic",
                       chunksize=batch):
        tid = threadid()
        _item(&g, &x[0], &w[0], &y[0], cv, item, &scratch[tid, 0], &scratch[tid, g.idx_size])


cdef inline void _extend(const wrapping* x, wrapping* xe, Py_ssize_t r0, Py_ssize_t r1,
                         Py_ssize_t n, Py_ssize_t ne, Py_ssize_t first, int mode,
                         const wrapping* cval) noexcept nogil:
    """Rows [r0, r1) of _extend_rows (row length n in x, ne in xe)."""
    cdef Py_ssize_t r, i, v, lo, hi
    cdef const wrapping* src
    cdef wrapping* dst
    lo = -first if first < 0 else 0                 # xe[r, lo:hi] = x[r, first+lo : first+hi]
    hi = n - first if n - first < ne else ne
    if hi < lo:
        hi = lo
    for r in range(r0, r1):
        src = x + r * n
        dst = xe + r * ne
        for i in range(lo):
            v = map_index(first + i, n, mode)
            dst[i] = src[v] if v >= 0 else cval[0]
        for i in range(lo, hi):
            dst[i] = src[first + i]
        for i in range(hi, ne):
            v = map_index(first + i, n, mode)
            dst[i] = src[v] if v >= 0 else cval[0]


def _extend_rows(const wrapping[:, ::1] x, wrapping[:, ::1] xe, Py_ssize_t first, int mode,
                 const wrapping[::1] cval, int n_threads):
    """xe[r, i] = X[r, first + i]: each row extended along its axis by the edge rule (rows in
    parallel; the inside part is a straight copy)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], ne = xe.shape[1]
    cdef Py_ssize_t r
    cdef Job job
    if rows == 0:
        return
    if n_threads > 1 and CC_POOL:
        job.op = 1
        job.kind = _kind(&cval[0])
        job.x, job.y, job.cval = &x[0, 0], &xe[0, 0], &cval[0]
        job.n, job.ne, job.first, job.mode = n, ne, first, mode
        with nogil:
            if cc_parallel(_job_batch, &job, rows, 16, n_threads) <= 1:
                _extend(&x[0, 0], &xe[0, 0], 0, rows, n, ne, first, mode, &cval[0])
        return
    for r in prange(rows, nogil=True, num_threads=n_threads, schedule="dynamic", chunksize=16):
        _extend(&x[0, 0], &xe[0, 0], r, r + 1, n, ne, first, mode, &cval[0])


def _extension_pays(shape_x, shape_w, shape_y, start, step):
    """Copy the rows extended along the last axis when the edge columns would cost more than the
    copy: short rows, wide kernels (edge work ~ (K-1) * taps per row against n per row)."""
    nd = len(shape_x)
    k, m, n = shape_w[nd - 1], shape_y[nd - 1], shape_x[nd - 1]
    first = start[nd - 1]
    last = first + (m - 1) * step[nd - 1] + k          # one past the last column read
    if k < 2 or (first >= 0 and last <= n) or step[nd - 1] != 1 or n == 0:
        return False
    taps = 1
    for d in range(nd):
        taps *= shape_w[d]
    return (k - 1) * taps >= m


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_KINDS = (np.uint8, np.uint16, np.uint32, np.uint64, np.float32, np.float64, np.complex64,
          np.complex128)


def _geometry(shape_x, shape_w, shape_y, start, step, int mode):
    """The Geom struct (as a dict) of a problem with >= 2 axes."""
    nd = len(shape_x)
    pad = [0] * (MAX_DIMS - nd)
    xs, ys, offs = [1] * nd, [1] * nd, [0] * nd
    for d in range(nd - 2, -1, -1):
        xs[d] = xs[d + 1] * shape_x[d + 1]
        ys[d] = ys[d + 1] * shape_y[d + 1]
    total = 0
    for d in range(nd - 1):
        offs[d] = total
        total += shape_w[d]
    return {"nd": nd, "mode": mode, "n": list(shape_x) + pad, "k": list(shape_w) + pad,
            "m": list(shape_y) + pad, "start": list(start) + pad, "step": list(step) + pad,
            "x_stride": xs + pad, "y_stride": ys + pad, "idx_off": offs + pad,
            "idx_size": total, "nan_flag": 0, "n_lead": int(np.prod(shape_w[:nd - 1])),
            "n_chunks": -(-shape_y[nd - 1] // CHUNK)}


def correlate(x, w, out, start, step, int mode, cval=0, int n_threads=1, nan_flag=None):
    """out[o] = sum_k w[k] * X[start + o*step + k] (X: x extended by `mode`); see the module doc.

    ``nan_flag``: None, or a uint8 array of one element that is set to 1 when an output is NaN
    (float and complex data; each row is looked at while it is in cache). ndimage uses it to learn
    that a NaN or an infinity met a zero tap, which SciPy leaves out of its sums.
    """
    x, w, out = np.asarray(x), np.asarray(w), np.asarray(out)
    nd = x.ndim
    if not (w.ndim == out.ndim == nd >= 1) or nd > MAX_DIMS - 1:
        raise ValueError(f"x, w and out must have one ndim >= 1, got {x.ndim}, {w.ndim}, {out.ndim}")
    if not (x.dtype == w.dtype == out.dtype):
        raise TypeError(f"x, w and out must share one dtype, got {x.dtype}, {w.dtype}, {out.dtype}")
    if not (x.flags.c_contiguous and w.flags.c_contiguous and out.flags.c_contiguous
            and out.flags.writeable):
        raise ValueError("x, w and out must be C-contiguous (and out writeable)")
    if not MODE_CONSTANT <= mode <= MODE_WRAP:
        raise ValueError(f"mode must be an edge-rule code of _modes.pxd, got {mode}")
    start = [int(s) for s in start]
    step = [int(s) for s in step]
    if len(start) != nd or len(step) != nd or min(step) < 1:
        raise ValueError(f"start and step need {nd} entries, step >= 1; got {start}, {step}")
    if x.size == 0 or w.size == 0:
        if x.size == 0 and mode != MODE_CONSTANT:
            raise ValueError("an empty x can only be extended with MODE_CONSTANT")
    cv = np.array(cval, dtype=x.dtype).reshape(1)
    if out.size == 0:
        return out
    if w.size == 0:
        out[...] = 0
        return out
    if x.dtype.kind in "iu":
        unsigned = _UNSIGNED[x.dtype.itemsize]
        xk, wk, yk, cv = x.view(unsigned), w.view(unsigned), out.view(unsigned), cv.view(unsigned)
    elif x.dtype.kind == "b":
        raise TypeError("bool arrays are not supported: convert to an integer type")
    elif x.dtype.type in _KINDS:
        xk, wk, yk = x, w, out
    else:
        raise TypeError(f"unsupported dtype {x.dtype}")
    shape_x, shape_w, shape_y = x.shape, w.shape, out.shape
    if nd == 1:
        shape_x, shape_w, shape_y = (1,) + shape_x, (1,) + shape_w, (1,) + shape_y
        start, step = [0] + start, [1] + step
        nd = 2
    if x.size == 0:
        # every read is the constant: give the kernel a one-sample dummy that is never read
        xk = np.zeros(1, dtype=xk.dtype)
    elif _extension_pays(shape_x, shape_w, shape_y, start, step):
        rows = x.size // shape_x[nd - 1]
        ne = (shape_y[nd - 1] - 1) * step[nd - 1] + shape_w[nd - 1]
        xe = np.empty((rows, ne), dtype=xk.dtype)
        _extend_rows(xk.reshape(rows, shape_x[nd - 1]), xe, start[nd - 1], mode, cv,
                     max(1, min(int(n_threads), rows // 64 + 1)))
        xk = xe
        shape_x = tuple(shape_x[:nd - 1]) + (ne,)
        start = start[:nd - 1] + [0]
    g = _geometry(shape_x, shape_w, shape_y, start, step, mode)
    work = out.size * w.size
    threads = max(1, min(int(n_threads), out.size // 256 + 1)) if work > 20000 else 1
    scratch = np.empty((threads, g["idx_size"] + nd), dtype=np.intp)
    if nan_flag is not None and (x.dtype.kind not in "fc" or w.size == 0):
        nan_flag = None
    elif nan_flag is not None and (nan_flag.dtype != np.uint8 or nan_flag.shape != (1,)):
        raise ValueError("nan_flag must be a uint8 array of one element")
    _run(xk.reshape(-1), wk.reshape(-1), yk.reshape(-1), cv, g, scratch, threads, nan_flag)
    return out
