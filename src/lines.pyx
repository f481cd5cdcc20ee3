"""1-D filtering of every line of an N-D array along one axis, in double precision (or in float
where that gives SciPy's result, see ``single`` below).

Two line functions; ``x`` and ``out`` are C-contiguous arrays viewed as 3-D
``(outer, n, inner)`` / ``(outer, n_out, inner)`` where the filtered axis is the middle one (the
caller reshapes: ``outer`` = product of the axes before it, ``inner`` = product of those after)::

    correlate(x, w, out, start, step, mode, cval, symmetry, n_threads, single=False, check=0.0)
    uniform(x, size, out, start, mode, cval, n_threads, single=False)

and, on 2-D images, ``separable2d`` and ``uniform2d`` (two passes in one sweep), ``box8``
(``uniform2d`` of uint8 / int8 images on 16-bit integer lanes, with ``magic16``'s divisions),
``correlate2d`` (a 2-D kernel over integer images on float buffers) and ``recheck`` (settles an
N-D correlation of integers computed in another order than SciPy's); see their docstrings.

``correlate`` computes, for every line and every output index ``q``::

    out[o, q, i] = sum over j of  w[j] * X[o, start + q * step + j, i]

``uniform`` computes the running mean of ``size`` samples, ``X[start + q] ... X[start + q + size -
1]`` (step 1), as a running sum: the first window is added up, then each step adds the sample that
enters and subtracts the one that leaves, and every output is that sum divided by ``size``.

``out`` may be ``x`` itself (in place, with ``n_out == n`` and ``step == 1``): a work item reads
all of its lines before it writes them. Otherwise the two must not overlap.

``X`` is the line extended by the edge rule ``mode`` (a code of ``src/_modes.pxd``; MODE_CONSTANT
reads ``cval``). ``w`` is float64 (1-D), ``start`` any int, ``step >= 1``. ``symmetry`` is 1 for a
symmetric odd-length ``w``, -1 for an antisymmetric one, 0 otherwise: the symmetric kernels add
pairs of samples first, ``w[c] * X[c] + sum over j of w[c-j] * (X[c-j] +/- X[c+j])``, outermost
pair first, and a general kernel starts from the last tap, then adds ``w[0] ...`` in order. That is
scipy.ndimage's order of operations, so float64 results are bit for bit SciPy's and integer
outputs truncate at the same places.

dtypes: ``x`` and ``out`` may be any of int8..uint64, float32, float64 (independently: e.g. uint8
in, float64 out). Every sample is read into a double buffer and every result is stored from double
by C's conversion: floats rounded, integers truncated toward zero and wrapped to the width of the
output (through a 64-bit integer), which is what SciPy returns.

``single=True`` (every entry point) does the same with float buffers and float weights: twice the
lanes of a vector and half the memory traffic. The caller chooses it where that is safe
(``convcore/ndimage/_engine.py``): float32 data to float32 results with short kernels (the float
sums' rounding stays far below float32's 1e-5), or integer data, weights and ``cval`` whose every
partial sum stays below 2**24 (float holds them exactly, so the results are SciPy's bit for bit).
A float running sum (``uniform``) is added up afresh from its window every 32 outputs, so that it
cannot drift along a long line.

``check = e > 0`` (with ``single``; ``correlate``, ``separable2d``) serves integer data with any
weights into an integer output: the caller proves that every float result ``y`` lies within ``e``
of SciPy's double one. Where ``[y - e, y + e]`` holds no integer boundary, both truncate to the
same integer; the few outputs where it does are computed again in double in SciPy's order. The
result is then SciPy's bit for bit.

Layout of the work: lines are filtered in blocks of ``B`` at once, their samples interleaved in a
double buffer ``buf[p * B + b]`` (line ``b``, position ``p``), so that every tap is one contiguous
loop over ``t = q * B + b`` that the C compiler vectorises (an AVX2 build of the module is picked
at import on x86-64, see convcore._cpu; no FMA, so the rounding stays SciPy's), over tiles of the output that stay
in L1. Along an inner axis (``inner > 1``) a block is up to 64 neighbouring lines, i.e. one
contiguous run of each row: the rows are read and written as streams, never across rows whose
power-of-two strides would compete for the same cache sets. Along the last axis (``inner == 1``)
a block is one line, or a chunk of 8192 outputs of a long one (``correlate``), or 16 lines read
one after the other (``uniform``, whose running sum is then vectorised across lines). Blocks are
handed out dynamically over ``n_threads`` threads (one thread for small jobs) by the helper pool
of ``src/c/cc_pool.h`` (OpenMP ``prange`` where it is absent); each thread owns
one slot of a work area kept between calls (per calling Python
thread), so no memory is allocated in the hot path. Results do not depend on the thread count.
"""
from cython.parallel cimport prange, threadid
from libc.math cimport nextafterf
from libc.string cimport memset

import threading

import numpy as np

from fused cimport floating
from modes cimport map_index


cdef enum:
    T_I8 = 0
    T_U8 = 1
    T_I16 = 2
    T_U16 = 3
    T_I32 = 4
    T_U32 = 5
    T_I64 = 6
    T_U64 = 7
    T_F32 = 8
    T_F64 = 9
    TILE = 1024          # doubles of output accumulated at a time (8 KiB, in L1)
    LINE_CHUNK = 8192    # outputs per work item on a long line filtered on its own

_CODES = {np.dtype(np.int8): T_I8, np.dtype(np.uint8): T_U8, np.dtype(np.int16): T_I16,
          np.dtype(np.uint16): T_U16, np.dtype(np.int32): T_I32, np.dtype(np.uint32): T_U32,
          np.dtype(np.int64): T_I64, np.dtype(np.uint64): T_U64, np.dtype(np.float32): T_F32,
          np.dtype(np.float64): T_F64}


cdef struct Geom:
    char* x
    char* y
    Py_ssize_t outer, n, inner, n_out, ext, B, n_blocks, n_items
    Py_ssize_t qchunk, n_chunks, ext_chunk  # outputs of a line per work item (long lines split)
    Py_ssize_t isz, osz, start, step
    Py_ssize_t xls, xes, yls, yes     # byte strides between lines / between samples of a line
    int tin, tout, mode
    double cval
    const double* wd                  # the weights in double, for outputs re-checked (check > 0)
    float check
    Py_ssize_t size                   # uniform: the window


# The C helpers, written once as a template over the buffer type R (suffix _d: double, _f:
# float). On x86-64 the module is also built whole with -mavx2 (no FMA, so every product and sum
# is rounded as in SciPy) and convcore._cpu picks the build at import. The double copies are SciPy's arithmetic; the
# float copies serve float32 data (to float32 precision) and integer data whose sums are exact in
# float32 (see ``correlate``'s ``single``).
#
# cl_sym / cl_gen: the taps of a unit-step pass over a tile. Pairs of taps (symmetric kernels) or
# taps are added four at a time into a register, in SciPy's order.
# cl_running: running sums of B interleaved lines for outputs q0 .. q0 + nq - 1 (q0 > 0: first add
# the sample entering and subtract the one leaving), each output the sum divided by size; every
# `anchor` outputs (0: never) the sum is added up afresh from its window, so that float sums
# cannot drift along a long line.
# cl_load / cl_store: conversions between the arrays' dtypes and the buffers, with a contiguous
# fast path the compiler vectorises. Stores follow C's conversion as SciPy's do: integers are
# truncated toward zero through a 64-bit integer (so out-of-range values wrap), uint64 keeps
# values above 2**63; values that fit an int convert 4 or 8 at a time (the usual case for 8- to
# 32-bit outputs; one pass, converting again through 64 bits if any value did not).
# cl_round: v[k] = what reading back (T) v[k] gives: the intermediate array of SciPy's two passes.
# cl_colrun: the running means down the columns of a strip of rows (uniform2d's axis 0), in the
# order of cl_running (inv > 0: multiplied by inv instead of divided by size); cl_boxsum:
# out[i] = (ext[i] + ... + ext[i + size - 1]) * inv, every window added up directly (float buffers
# only: not SciPy's order of operations).
cdef extern from *:
    """
    #include <string.h>
    typedef unsigned long long cl_u64;
    typedef long long cl_i64;
    #define CL_TRUNC(v) ((cl_i64)(v))
    #define CL_SAME(v) (v)
    #define CL_LOAD(T, R)                                                                       \
        if (ds == 1 && ss == (Py_ssize_t)sizeof(T)) {                                          \
            const T *p = (const T *)s;                                                          \
            for (k = 0; k < m; k++) d[k] = (R)p[k];                                             \
        } else {                                                                                \
            for (k = 0; k < m; k++) d[k * ds] = (R)*(const T *)(s + k * ss);                    \
        }
    #define CL_STORE(T, CONV)                                                                   \
        if (ss == 1 && ds == (Py_ssize_t)sizeof(T)) {                                          \
            T *p = (T *)d;                                                                      \
            for (k = 0; k < m; k++) p[k] = (T)CONV(s[k]);                                       \
        } else {                                                                                \
            for (k = 0; k < m; k++) *(T *)(d + k * ds) = (T)CONV(s[k * ss]);                    \
        }
    #define CL_IN_INT(x, R) (((x) > (R)-2147483648.0) & ((x) < (R)2147483520.0))
    #define CL_STORE_NARROW(T, R)                                                               \
        if (ss == 1 && ds == (Py_ssize_t)sizeof(T)) {                                           \
            T *p = (T *)d;                                                                      \
            int ok = 1;                                                                         \
            for (k = 0; k < m; k++) {                                                           \
                int in = CL_IN_INT(s[k], R);                                                    \
                ok &= in;                                                                       \
                p[k] = (T)(int)(in ? s[k] : 0);                                                 \
            }                                                                                   \
            if (!ok) { CL_STORE(T, CL_TRUNC) }                                                  \
        } else CL_STORE(T, CL_TRUNC)
    #define CL_ROUND(T, CONV, R) for (k = 0; k < m; k++) v[k] = (R)(T)CONV(v[k]);
    /* (T) i for an int i, as masks the compiler vectorises (two's complement) */
    #define CL_W_I8(i) ((((i) & 0xFF) ^ 0x80) - 0x80)
    #define CL_W_U8(i) ((i) & 0xFF)
    #define CL_W_I16(i) ((((i) & 0xFFFF) ^ 0x8000) - 0x8000)
    #define CL_W_U16(i) ((i) & 0xFFFF)
    #define CL_W_I32(i) (i)
    #define CL_ROUND_NARROW(T, R, WRAP)                                                         \
        {   /* (a check, then the conversion: one fused loop would not vectorise) */            \
            int ok = 1;                                                                         \
            for (k = 0; k < m; k++) ok &= CL_IN_INT(v[k], R);                                   \
            if (ok) { for (k = 0; k < m; k++) v[k] = (R)WRAP((int)v[k]); }                      \
            else CL_ROUND(T, CL_TRUNC, R)                                                       \
        }

    /* acc = m * wc, then up to four pairs (l OP h) * w added in order, in one sweep (a zero
       centre too is multiplied, as SciPy does: a NaN or an infinity there gives NaN) */
    #define CL_SYM_FIRST(R, OP)                                                                 \
        switch (c < 4 ? c : 4) {                                                                \
        case 0: for (t = 0; t < T; t++) acc[t] = m[t] * wc; break;                              \
        case 1:                                                                                 \
            for (t = 0; t < T; t++) acc[t] = m[t] * wc + (l0[t] OP h0[t]) * w[0];               \
            break;                                                                              \
        case 2:                                                                                 \
            for (t = 0; t < T; t++) {                                                           \
                R a = m[t] * wc;                                                                \
                a += (l0[t] OP h0[t]) * w[0]; a += (l1[t] OP h1[t]) * w[1];                     \
                acc[t] = a;                                                                     \
            }                                                                                   \
            break;                                                                              \
        case 3:                                                                                 \
            for (t = 0; t < T; t++) {                                                           \
                R a = m[t] * wc;                                                                \
                a += (l0[t] OP h0[t]) * w[0]; a += (l1[t] OP h1[t]) * w[1];                     \
                a += (l2[t] OP h2[t]) * w[2];                                                   \
                acc[t] = a;                                                                     \
            }                                                                                   \
            break;                                                                              \
        default:                                                                                \
            for (t = 0; t < T; t++) {                                                           \
                R a = m[t] * wc;                                                                \
                a += (l0[t] OP h0[t]) * w[0]; a += (l1[t] OP h1[t]) * w[1];                     \
                a += (l2[t] OP h2[t]) * w[2]; a += (l3[t] OP h3[t]) * w[3];                     \
                acc[t] = a;                                                                     \
            }                                                                                   \
        }

    #define CL_T_SYM(R, S)                                                                      \
    static void cl_sym_##S(R *__restrict acc, const R *__restrict buf, Py_ssize_t T,  \
                                     Py_ssize_t B, const R *w, Py_ssize_t K, int sign) {        \
        Py_ssize_t c = K / 2, j = 0, t;                                                         \
        const R *m = buf + c * B;                                                               \
        const R wc = w[c];                                                                      \
        /* the first sweep: the centre and up to four pairs (the same order as in sweeps) */    \
        const R *l0 = buf, *l1 = l0 + B, *l2 = l1 + B, *l3 = l2 + B;                            \
        const R *h0 = buf + (K - 1) * B, *h1 = h0 - B, *h2 = h1 - B, *h3 = h2 - B;              \
        if (sign > 0) { CL_SYM_FIRST(R, +) }                                       \
        else { CL_SYM_FIRST(R, -) }                                                \
        j = c < 4 ? c : 4;                                                                      \
        for (; j + 4 <= c; j += 4) {                                                            \
            const R *l0 = buf + j * B, *l1 = l0 + B, *l2 = l1 + B, *l3 = l2 + B;                \
            const R *h0 = buf + (K - 1 - j) * B, *h1 = h0 - B, *h2 = h1 - B, *h3 = h2 - B;      \
            const R w0 = w[j], w1 = w[j + 1], w2 = w[j + 2], w3 = w[j + 3];                     \
            if (sign > 0) {                                                                     \
                for (t = 0; t < T; t++) {                                                       \
                    R a = acc[t];                                                               \
                    a += (l0[t] + h0[t]) * w0; a += (l1[t] + h1[t]) * w1;                       \
                    a += (l2[t] + h2[t]) * w2; a += (l3[t] + h3[t]) * w3;                       \
                    acc[t] = a;                                                                 \
                }                                                                               \
            } else {                                                                            \
                for (t = 0; t < T; t++) {                                                       \
                    R a = acc[t];                                                               \
                    a += (l0[t] - h0[t]) * w0; a += (l1[t] - h1[t]) * w1;                       \
                    a += (l2[t] - h2[t]) * w2; a += (l3[t] - h3[t]) * w3;                       \
                    acc[t] = a;                                                                 \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
        for (; j < c; j++) {                                                                    \
            const R *l0 = buf + j * B, *h0 = buf + (K - 1 - j) * B;                             \
            const R w0 = w[j];                                                                  \
            if (sign > 0) { for (t = 0; t < T; t++) acc[t] += (l0[t] + h0[t]) * w0; }           \
            else { for (t = 0; t < T; t++) acc[t] += (l0[t] - h0[t]) * w0; }                    \
        }                                                                                       \
    }

    #define CL_T_GEN(R, S)                                                                      \
    static void cl_gen_##S(R *__restrict acc, const R *__restrict buf, Py_ssize_t T,  \
                                     Py_ssize_t B, const R *w, Py_ssize_t K) {                  \
        Py_ssize_t j = 0, t;                                                                    \
        const R *m = buf + (K - 1) * B;                                                         \
        const R wl = w[K - 1];                                                                  \
        for (t = 0; t < T; t++) acc[t] = m[t] * wl;                                             \
        for (; j + 4 <= K - 1; j += 4) {                                                        \
            const R *s0 = buf + j * B, *s1 = s0 + B, *s2 = s1 + B, *s3 = s2 + B;                \
            const R w0 = w[j], w1 = w[j + 1], w2 = w[j + 2], w3 = w[j + 3];                     \
            for (t = 0; t < T; t++) {                                                           \
                R a = acc[t];                                                                   \
                a += s0[t] * w0; a += s1[t] * w1; a += s2[t] * w2; a += s3[t] * w3;             \
                acc[t] = a;                                                                     \
            }                                                                                   \
        }                                                                                       \
        for (; j < K - 1; j++) {                                                                \
            const R *s0 = buf + j * B;                                                          \
            const R w0 = w[j];                                                                  \
            for (t = 0; t < T; t++) acc[t] += s0[t] * w0;                                       \
        }                                                                                       \
    }

    #define CL_T_RUNNING(R, S)                                                                  \
    static void cl_running_##S(R *__restrict acc, R *__restrict run,                  \
                                         const R *__restrict buf, Py_ssize_t q0, Py_ssize_t nq, \
                                         Py_ssize_t B, Py_ssize_t size, Py_ssize_t anchor) {    \
        Py_ssize_t q, b, j;                                                                     \
        const R fs = (R)size;                                                                   \
        for (q = q0; q < q0 + nq; q++) {                                                        \
            R *a = acc + (q - q0) * B;                                                          \
            if (anchor > 0 && q > 0 && q % anchor == 0) {                                       \
                for (b = 0; b < B; b++) run[b] = buf[q * B + b];                                \
                for (j = 1; j < size; j++) {                                                    \
                    const R *s0 = buf + (q + j) * B;                                            \
                    for (b = 0; b < B; b++) run[b] += s0[b];                                    \
                }                                                                               \
            } else if (q > 0) {                                                                 \
                const R *enter = buf + (q + size - 1) * B, *leave = buf + (q - 1) * B;          \
                for (b = 0; b < B; b++) run[b] += enter[b] - leave[b];                          \
            }                                                                                   \
            for (b = 0; b < B; b++) a[b] = run[b] / fs;                                         \
        }                                                                                       \
    }

    #define CL_T_BOX(R, S)                                                                      \
    static void cl_colrun_##S(R *__restrict mid, Py_ssize_t ms, R *__restrict run,    \
                                        const R *__restrict rows, Py_ssize_t nr, Py_ssize_t W,  \
                                        Py_ssize_t size, R inv, int trunc) {                    \
        Py_ssize_t i, j, c;                                                                     \
        const R fs = (R)size;                                                                   \
        for (c = 0; c < W; c++) run[c] = 0;                                                     \
        for (j = 0; j < size; j++) {                                                            \
            const R *e = rows + j * W;                                                          \
            for (c = 0; c < W; c++) run[c] += e[c];                                             \
        }                                                                                       \
        for (i = 0; i < nr; i++) {                                                              \
            const R *e = rows + (i + size - 1) * W, *l = rows + (i - 1) * W;                    \
            R *o = mid + i * ms;                                                                \
            if (i == 0) {                                                                       \
                if (inv > 0 && trunc) { for (c = 0; c < W; c++) o[c] = (R)(int)(run[c] * inv); }\
                else if (inv > 0) { for (c = 0; c < W; c++) o[c] = run[c] * inv; }              \
                else { for (c = 0; c < W; c++) o[c] = run[c] / fs; }                            \
            } else if (inv > 0 && trunc) {   /* means that need no wrapping: truncated */       \
                for (c = 0; c < W; c++) {                                                       \
                    R r = run[c] + (e[c] - l[c]);                                               \
                    run[c] = r; o[c] = (R)(int)(r * inv);                                       \
                }                                                                               \
            } else if (inv > 0) {                                                               \
                for (c = 0; c < W; c++) {                                                       \
                    R r = run[c] + (e[c] - l[c]);                                               \
                    run[c] = r; o[c] = r * inv;                                                 \
                }                                                                               \
            } else {                                                                            \
                for (c = 0; c < W; c++) {                                                       \
                    R r = run[c] + (e[c] - l[c]);                                               \
                    run[c] = r; o[c] = r / fs;                                                  \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }                                                                                           \
    static void cl_boxsum_##S(R *__restrict out, const R *__restrict ext,             \
                                        Py_ssize_t W, Py_ssize_t size, R inv) {                 \
        Py_ssize_t i, j = 0;                                                                    \
        const R *e0 = ext, *e1 = ext + 1, *e2 = ext + 2, *e3 = ext + 3;                         \
        const R *e4 = ext + 4, *e5 = ext + 5, *e6 = ext + 6;                                    \
        /* windows of 5 to 7: one sweep */                                                      \
        if (size == 5) {                                                                        \
            for (i = 0; i < W; i++) out[i] = ((((e0[i] + e1[i]) + e2[i]) + e3[i]) + e4[i]) * inv;\
            return;                                                                             \
        }                                                                                       \
        if (size == 6) {                                                                        \
            for (i = 0; i < W; i++)                                                             \
                out[i] = (((((e0[i] + e1[i]) + e2[i]) + e3[i]) + e4[i]) + e5[i]) * inv;         \
            return;                                                                             \
        }                                                                                       \
        if (size == 7) {                                                                        \
            for (i = 0; i < W; i++)                                                             \
                out[i] = ((((((e0[i] + e1[i]) + e2[i]) + e3[i]) + e4[i]) + e5[i]) + e6[i]) * inv;\
            return;                                                                             \
        }                                                                                       \
        /* otherwise up to four windows' terms per sweep; the last sweep multiplies by inv */   \
        switch (size < 4 ? size : 4) {                                                          \
        case 1: for (i = 0; i < W; i++) out[i] = e0[i]; break;                                  \
        case 2: for (i = 0; i < W; i++) out[i] = e0[i] + e1[i]; break;                          \
        case 3: for (i = 0; i < W; i++) out[i] = (e0[i] + e1[i]) + e2[i]; break;                \
        default: for (i = 0; i < W; i++) out[i] = ((e0[i] + e1[i]) + e2[i]) + e3[i];            \
        }                                                                                       \
        j = size < 4 ? size : 4;                                                                \
        for (; j + 4 <= size; j += 4) {                                                         \
            e0 = ext + j; e1 = e0 + 1; e2 = e0 + 2; e3 = e0 + 3;                                \
            for (i = 0; i < W; i++) out[i] = (((out[i] + e0[i]) + e1[i]) + e2[i]) + e3[i];      \
        }                                                                                       \
        e0 = ext + j; e1 = e0 + 1; e2 = e0 + 2;                                                 \
        switch (size - j) {                                                                     \
        case 0: for (i = 0; i < W; i++) out[i] *= inv; break;                                   \
        case 1: for (i = 0; i < W; i++) out[i] = (out[i] + e0[i]) * inv; break;                 \
        case 2: for (i = 0; i < W; i++) out[i] = ((out[i] + e0[i]) + e1[i]) * inv; break;       \
        default: for (i = 0; i < W; i++) out[i] = (((out[i] + e0[i]) + e1[i]) + e2[i]) * inv;   \
        }                                                                                       \
    }

    #define CL_T_LOAD(R, S)                                                                     \
    static void cl_load_##S(R *d, Py_ssize_t ds, const char *s, Py_ssize_t ss,        \
                                      Py_ssize_t m, int t) {                                    \
        Py_ssize_t k;                                                                           \
        switch (t) {                                                                            \
        case 0: CL_LOAD(signed char, R) break;                                                  \
        case 1: CL_LOAD(unsigned char, R) break;                                                \
        case 2: CL_LOAD(short, R) break;                                                        \
        case 3: CL_LOAD(unsigned short, R) break;                                               \
        case 4: CL_LOAD(int, R) break;                                                          \
        case 5: CL_LOAD(unsigned int, R) break;                                                 \
        case 6: CL_LOAD(cl_i64, R) break;                                                       \
        case 7: CL_LOAD(cl_u64, R) break;                                                       \
        case 8: CL_LOAD(float, R) break;                                                        \
        default: CL_LOAD(double, R) break;                                                      \
        }                                                                                       \
    }

    #define CL_T_STORE(R, S)                                                                    \
    static inline cl_u64 cl_to_u64_##S(R v) { return v < 0 ? (cl_u64)(cl_i64)v : (cl_u64)v; }  \
    static void cl_store_##S(char *d, Py_ssize_t ds, const R *s, Py_ssize_t ss,       \
                                       Py_ssize_t m, int t) {                                   \
        Py_ssize_t k;                                                                           \
        switch (t) {                                                                            \
        case 0: CL_STORE_NARROW(signed char, R) break;                                          \
        case 1: CL_STORE_NARROW(unsigned char, R) break;                                        \
        case 2: CL_STORE_NARROW(short, R) break;                                                \
        case 3: CL_STORE_NARROW(unsigned short, R) break;                                       \
        case 4: CL_STORE_NARROW(int, R) break;                                                  \
        case 5: CL_STORE(unsigned int, CL_TRUNC) break;                                         \
        case 6: CL_STORE(cl_i64, CL_TRUNC) break;                                               \
        case 7: CL_STORE(cl_u64, cl_to_u64_##S) break;                                          \
        case 8: CL_STORE(float, CL_SAME) break;                                                 \
        default: CL_STORE(double, CL_SAME) break;                                               \
        }                                                                                       \
    }

    #define CL_T_ROUND(R, S)                                                                    \
    static void cl_round_##S(R *v, Py_ssize_t m, int t) {                             \
        Py_ssize_t k;                                                                           \
        switch (t) {                                                                            \
        case 0: CL_ROUND_NARROW(signed char, R, CL_W_I8) break;                                 \
        case 1: CL_ROUND_NARROW(unsigned char, R, CL_W_U8) break;                               \
        case 2: CL_ROUND_NARROW(short, R, CL_W_I16) break;                                      \
        case 3: CL_ROUND_NARROW(unsigned short, R, CL_W_U16) break;                             \
        case 4: CL_ROUND_NARROW(int, R, CL_W_I32) break;                                        \
        case 5: CL_ROUND(unsigned int, CL_TRUNC, R) break;                                      \
        case 6: CL_ROUND(cl_i64, CL_TRUNC, R) break;                                            \
        case 7: CL_ROUND(cl_u64, cl_to_u64_##S, R) break;                                       \
        case 8: CL_ROUND(float, CL_SAME, R) break;                                              \
        default: CL_ROUND(double, CL_SAME, R) break;                                            \
        }                                                                                       \
    }

    #define CL_TEMPLATE(R, S)                                                                   \
        CL_T_SYM(R, S) CL_T_GEN(R, S) CL_T_RUNNING(R, S) CL_T_LOAD(R, S) CL_T_STORE(R, S)       \
        CL_T_ROUND(R, S) CL_T_BOX(R, S)
    CL_TEMPLATE(double, d)
    CL_TEMPLATE(float, f)

    /* outputs whose float sum y may truncate otherwise than SciPy's double one, i.e. those with
       an integer boundary in [y - e, y + e], are computed again in double in cl_sym_d's or
       cl_gen_d's order (the buffer holds integers, exact in float) and replaced by that double
       truncated toward zero (exact in float: below 2**24) */
    static inline int cl_near(float y, float e) { return (int)(y - e) != (int)(y + e); }
    /* flags[t] = cl_near(acc[t], e) for t < T (vectorised), zeros up to a multiple of 8; how
       many words of 8 flags */
    #define CL_FLAGS_MAX 1024
    static Py_ssize_t cl_flags(unsigned char *flags, const float *acc, Py_ssize_t T,
                                         float e) {
        Py_ssize_t t;
        for (t = 0; t < T; t++) flags[t] = (unsigned char)cl_near(acc[t], e);
        for (; t % 8; t++) flags[t] = 0;
        return t / 8;
    }
    #define CL_EACH_FLAGGED(T, ...)                                                             \
        {                                                                                       \
            unsigned char flags[CL_FLAGS_MAX + 8];                                              \
            Py_ssize_t t0, t, nw, q;                                                            \
            for (t0 = 0; t0 < T; t0 += CL_FLAGS_MAX) {                                          \
                Py_ssize_t m = T - t0 < CL_FLAGS_MAX ? T - t0 : CL_FLAGS_MAX;                   \
                nw = cl_flags(flags, acc + t0, m, e);                                           \
                for (q = 0; q < nw; q++) {                                                      \
                    unsigned long long word;                                                    \
                    memcpy(&word, flags + 8 * q, 8);                                            \
                    if (!word) continue;                                                        \
                    for (t = t0 + 8 * q; t < t0 + 8 * q + 8; t++) {                             \
                        if (!flags[t - t0]) continue;                                           \
                        __VA_ARGS__                                                             \
                    }                                                                           \
                }                                                                               \
            }                                                                                   \
        }
    static void cl_check_f(float *acc, const float *buf, Py_ssize_t T, Py_ssize_t B,
                           const double *w, Py_ssize_t K, int sign, float e) {
        Py_ssize_t j, c = K / 2;
        CL_EACH_FLAGGED(T, {
            double a;
            if (sign != 0) {
                a = (double)buf[t + c * B] * w[c];
                for (j = 0; j < c; j++) {
                    double l = buf[t + j * B], h = buf[t + (K - 1 - j) * B];
                    a += (sign > 0 ? l + h : l - h) * w[j];
                }
            } else {
                a = (double)buf[t + (K - 1) * B] * w[K - 1];
                for (j = 0; j < K - 1; j++) a += (double)buf[t + j * B] * w[j];
            }
            acc[t] = (float)(cl_i64)a;
        })
    }

    /* 2-D taps: acc[t] = sum over k < n of w[k] * src[k][t] in k's order (groups of four taps
       per sweep of the tile); the outputs near a truncation boundary (cl_near) are then computed
       again in double in the same order from 0.0 (SciPy's N-D order) and truncated */
    static void cl_taps2_f(float *__restrict acc, const float *const *src,
                                     const float *w, Py_ssize_t n, Py_ssize_t T) {
        Py_ssize_t k = 0, t;
        for (t = 0; t < T; t++) acc[t] = src[0][t] * w[0];
        k = 1;
        for (; k + 4 <= n; k += 4) {
            const float *s0 = src[k], *s1 = src[k + 1], *s2 = src[k + 2], *s3 = src[k + 3];
            const float w0 = w[k], w1 = w[k + 1], w2 = w[k + 2], w3 = w[k + 3];
            for (t = 0; t < T; t++) {
                float a = acc[t];
                a += s0[t] * w0; a += s1[t] * w1; a += s2[t] * w2; a += s3[t] * w3;
                acc[t] = a;
            }
        }
        for (; k < n; k++) {
            const float *s0 = src[k];
            const float w0 = w[k];
            for (t = 0; t < T; t++) acc[t] += s0[t] * w0;
        }
    }
    /* two neighbouring output rows of a symmetric (sign > 0) or antisymmetric K-tap kernel
       across rows B apart, for K = 3, 5, 7, 9: the K + 1 input rows are read once for both
       (float buffers only; the products are added in cl_sym's order) */
    #define CL_SYM2_LOOP(KK, OP)                                                                \
        for (t = 0; t < T; t++) {                                                               \
            float x[KK + 1];                                                                    \
            for (p = 0; p <= KK; p++) x[p] = buf[p * B + t];                                    \
            float a0 = x[KK / 2] * wk[KK / 2], a1 = x[KK / 2 + 1] * wk[KK / 2];                 \
            for (j = 0; j < KK / 2; j++) {                                                      \
                a0 += (x[j] OP x[KK - 1 - j]) * wk[j];                                          \
                a1 += (x[j + 1] OP x[KK - j]) * wk[j];                                          \
            }                                                                                   \
            a0p[t] = a0; a1p[t] = a1;                                                           \
        }
    #define CL_SYM2(KK)                                                                         \
    static void cl_sym2_##KK(float *__restrict a0p, float *__restrict a1p,            \
                                       const float *__restrict buf, Py_ssize_t T,               \
                                       Py_ssize_t B, const float *w, int sign) {                \
        Py_ssize_t t, p, j;                                                                     \
        float wk[KK];                                                                           \
        for (p = 0; p < KK; p++) wk[p] = w[p];                                                  \
        if (sign > 0) { CL_SYM2_LOOP(KK, +) } else { CL_SYM2_LOOP(KK, -) }                      \
    }
    CL_SYM2(3)
    CL_SYM2(5)
    CL_SYM2(7)
    CL_SYM2(9)
    static int cl_sym2_f(float *a0, float *a1, const float *buf, Py_ssize_t T, Py_ssize_t B,
                         const float *w, Py_ssize_t K, int sign) {
        switch (K) {
        case 3: cl_sym2_3(a0, a1, buf, T, B, w, sign); return 1;
        case 5: cl_sym2_5(a0, a1, buf, T, B, w, sign); return 1;
        case 7: cl_sym2_7(a0, a1, buf, T, B, w, sign); return 1;
        case 9: cl_sym2_9(a0, a1, buf, T, B, w, sign); return 1;
        default: return 0;
        }
    }

    /* contiguous float values known to fit both an int and the narrow integer type t (0..4)
       truncated into it: no range check */
    #define CL_STORE_FIT(T) { T *p = (T *)d; for (k = 0; k < m; k++) p[k] = (T)(int)s[k]; }
    static void cl_store_fit_f(char *d, const float *s, Py_ssize_t m, int t) {
        Py_ssize_t k;
        switch (t) {
        case 0: CL_STORE_FIT(signed char) break;
        case 1: CL_STORE_FIT(unsigned char) break;
        case 2: CL_STORE_FIT(short) break;
        case 3: CL_STORE_FIT(unsigned short) break;
        default: CL_STORE_FIT(int) break;
        }
    }
    static void cl_check2_f(float *acc, const float *const *src, const double *w, Py_ssize_t n,
                            Py_ssize_t T, float e) {
        Py_ssize_t k;
        CL_EACH_FLAGGED(T, {
            double a = 0.0;
            for (k = 0; k < n; k++) a += w[k] * (double)src[k][t];
            acc[t] = (float)(cl_i64)a;
        })
    }
    """
    void cl_sym_d(double* acc, const double* buf, Py_ssize_t T, Py_ssize_t B, const double* w,
                  Py_ssize_t K, int sign) noexcept nogil
    void cl_sym_f(float* acc, const float* buf, Py_ssize_t T, Py_ssize_t B, const float* w,
                  Py_ssize_t K, int sign) noexcept nogil
    void cl_gen_d(double* acc, const double* buf, Py_ssize_t T, Py_ssize_t B, const double* w,
                  Py_ssize_t K) noexcept nogil
    void cl_gen_f(float* acc, const float* buf, Py_ssize_t T, Py_ssize_t B, const float* w,
                  Py_ssize_t K) noexcept nogil
    void cl_running_d(double* acc, double* run, const double* buf, Py_ssize_t q0, Py_ssize_t nq,
                      Py_ssize_t B, Py_ssize_t size, Py_ssize_t anchor) noexcept nogil
    void cl_running_f(float* acc, float* run, const float* buf, Py_ssize_t q0, Py_ssize_t nq,
                      Py_ssize_t B, Py_ssize_t size, Py_ssize_t anchor) noexcept nogil
    void cl_load_d(double* d, Py_ssize_t ds, const char* s, Py_ssize_t ss, Py_ssize_t m,
                   int t) noexcept nogil
    void cl_load_f(float* d, Py_ssize_t ds, const char* s, Py_ssize_t ss, Py_ssize_t m,
                   int t) noexcept nogil
    void cl_store_d(char* d, Py_ssize_t ds, const double* s, Py_ssize_t ss, Py_ssize_t m,
                    int t) noexcept nogil
    void cl_store_f(char* d, Py_ssize_t ds, const float* s, Py_ssize_t ss, Py_ssize_t m,
                    int t) noexcept nogil
    void cl_round_d(double* v, Py_ssize_t m, int t) noexcept nogil
    void cl_check_f(float* acc, const float* buf, Py_ssize_t T, Py_ssize_t B, const double* w,
                    Py_ssize_t K, int sign, float e) noexcept nogil
    void cl_taps2_f(float* acc, const float** src, const float* w, Py_ssize_t n,
                    Py_ssize_t T) noexcept nogil
    void cl_check2_f(float* acc, const float** src, const double* w, Py_ssize_t n, Py_ssize_t T,
                     float e) noexcept nogil
    void cl_round_f(float* v, Py_ssize_t m, int t) noexcept nogil
    void cl_colrun_d(double* mid, Py_ssize_t ms, double* run, const double* rows, Py_ssize_t nr,
                     Py_ssize_t W, Py_ssize_t size, double inv, int trunc) noexcept nogil
    void cl_colrun_f(float* mid, Py_ssize_t ms, float* run, const float* rows, Py_ssize_t nr,
                     Py_ssize_t W, Py_ssize_t size, float inv, int trunc) noexcept nogil
    void cl_boxsum_d(double* out, const double* ext, Py_ssize_t W, Py_ssize_t size,
                     double inv) noexcept nogil
    void cl_store_fit_f(char* d, const float* s, Py_ssize_t m, int t) noexcept nogil
    int cl_sym2_f(float* a0, float* a1, const float* buf, Py_ssize_t T, Py_ssize_t B,
                  const float* w, Py_ssize_t K, int sign) noexcept nogil
    void cl_boxsum_f(float* out, const float* ext, Py_ssize_t W, Py_ssize_t size,
                     float inv) noexcept nogil


# The float copies run every `ANCHOR` outputs of a running sum afresh from its window.
cdef enum:
    ANCHOR = 32
    BOX_DIRECT = 32      # uniform2d on float buffers adds up row windows of up to 32 directly
    RECHECK_CHUNK = 4096 # outputs per work item of recheck


cdef inline void _sym(floating* acc, const floating* buf, Py_ssize_t T, Py_ssize_t B,
                      const floating* w, Py_ssize_t K, int sign) noexcept nogil:
    if floating is double:
        cl_sym_d(acc, buf, T, B, w, K, sign)
    else:
        cl_sym_f(acc, buf, T, B, w, K, sign)


cdef inline void _gen(floating* acc, const floating* buf, Py_ssize_t T, Py_ssize_t B,
                      const floating* w, Py_ssize_t K) noexcept nogil:
    if floating is double:
        cl_gen_d(acc, buf, T, B, w, K)
    else:
        cl_gen_f(acc, buf, T, B, w, K)


cdef inline void _running(floating* acc, floating* run, const floating* buf, Py_ssize_t q0,
                          Py_ssize_t nq, Py_ssize_t B, Py_ssize_t size) noexcept nogil:
    if floating is double:
        cl_running_d(acc, run, buf, q0, nq, B, size, 0)
    else:
        cl_running_f(acc, run, buf, q0, nq, B, size, ANCHOR)


cdef inline void _load(floating* d, Py_ssize_t ds, const char* s, Py_ssize_t ss, Py_ssize_t m,
                       int t) noexcept nogil:
    if floating is double:
        cl_load_d(d, ds, s, ss, m, t)
    else:
        cl_load_f(d, ds, s, ss, m, t)


cdef inline void _store(char* d, Py_ssize_t ds, const floating* s, Py_ssize_t ss, Py_ssize_t m,
                        int t) noexcept nogil:
    if floating is double:
        cl_store_d(d, ds, s, ss, m, t)
    else:
        cl_store_f(d, ds, s, ss, m, t)


cdef inline void _round(floating* v, Py_ssize_t m, int t) noexcept nogil:
    if floating is double:
        if t != T_F64:
            cl_round_d(v, m, t)
    elif t != T_F32 and t != T_F64:
        cl_round_f(v, m, t)


cdef inline void _colrun(floating* mid, Py_ssize_t ms, floating* run, const floating* rows,
                         Py_ssize_t nr, Py_ssize_t W, Py_ssize_t size, int tin,
                         bint trunc) noexcept nogil:
    """The running means down the columns; `trunc` (float buffers): truncated toward zero, which
    is their rounding into an integer output whose range holds every mean (no wrapping)."""
    if floating is double:
        cl_colrun_d(mid, ms, run, rows, nr, W, size, 0.0, 0)
    else:
        cl_colrun_f(mid, ms, run, rows, nr, W, size, _recip(size, tin), trunc)


cdef inline void _boxsum(floating* out, const floating* ext, Py_ssize_t W, Py_ssize_t size,
                         int tin) noexcept nogil:
    if floating is double:
        cl_boxsum_d(out, ext, W, size, 1.0 / size)
    else:
        cl_boxsum_f(out, ext, W, size, _recip(size, tin))


cdef inline float _recip(Py_ssize_t size, int tin) noexcept nogil:
    """What float buffers multiply a window sum by instead of dividing by `size` (the divisions
    dominate otherwise). Float data: 1 / size (within an ulp or two of the quotient). Integer data
    (sums ``S`` exact, ``|S| < 2**20``): 1 / size raised by 2**-21 and rounded up, ``r``; then
    ``S / size <= fl(S * r) <= (S / size) (1 + 2**-20)``, and as a quotient that is not an integer
    lies at least ``1 / size`` below the next one, ``fl(S * r)`` truncates to the exact quotient
    truncated, which is what SciPy's double ``S / size`` truncates to."""
    cdef double r = 1.0 / <double>size
    cdef float f
    if tin == T_F32 or tin == T_F64:
        return <float>r
    r = r * (1.0 + 1.0 / 2097152.0)
    f = <float>r
    if <double>f < r:
        f = nextafterf(f, 1.0)
    return f


cdef void _block(const Geom* g, Py_ssize_t item, Py_ssize_t* xoff, Py_ssize_t* yoff,
                 Py_ssize_t* nb) noexcept nogil:
    """Byte offsets of the first line of block `item` in x and out, and its number of lines."""
    cdef Py_ssize_t o, i0
    if g.inner == 1:
        o = item * g.B
        nb[0] = g.outer - o if g.outer - o < g.B else g.B
        xoff[0] = o * g.n * g.isz
        yoff[0] = o * g.n_out * g.osz
    else:
        o = item // g.n_blocks
        i0 = (item % g.n_blocks) * g.B
        nb[0] = g.inner - i0 if g.inner - i0 < g.B else g.B
        xoff[0] = (o * g.n * g.inner + i0) * g.isz
        yoff[0] = (o * g.n_out * g.inner + i0) * g.osz


cdef void _gather(const Geom* g, const char* base, Py_ssize_t nb, floating* buf, Py_ssize_t p0,
                  Py_ssize_t p1) noexcept nogil:
    """buf[(p - p0) * B + b] = X[line b, start + p] for p0 <= p < p1 (edge rule applied)."""
    cdef Py_ssize_t p, b, idx, lo, hi
    # p in [lo, hi) reads inside the line
    lo = -g.start if g.start < 0 else 0
    hi = g.n - g.start
    if lo < p0:
        lo = p0
    if hi > p1:
        hi = p1
    if lo > hi:
        lo = hi
    if g.inner == 1:
        # lines are rows far apart: read each one in a stream (not across rows, whose addresses
        # would compete for the same cache sets)
        for b in range(nb):
            _load(buf + (lo - p0) * g.B + b, g.B, base + b * g.xls + (g.start + lo) * g.xes,
                  g.xes, hi - lo, g.tin)
    else:
        for p in range(lo, hi):
            _load(buf + (p - p0) * g.B, 1, base + (g.start + p) * g.xes, g.xls, nb, g.tin)
    p = p0
    while p < p1:                   # the positions outside the line, [p0, lo) and [hi, p1)
        if lo <= p < hi:
            p = hi
            continue
        idx = map_index(g.start + p, g.n, g.mode)
        if idx < 0:
            for b in range(nb):
                buf[(p - p0) * g.B + b] = <floating>g.cval
        else:
            _load(buf + (p - p0) * g.B, 1, base + idx * g.xes, g.xls, nb, g.tin)
        p += 1


cdef void _put(const Geom* g, const floating* acc, char* base, Py_ssize_t q0, Py_ssize_t nq,
               Py_ssize_t nb) noexcept nogil:
    """out[line b, q] = acc[(q - q0) * B + b] for q0 <= q < q0 + nq."""
    cdef Py_ssize_t q, b
    if g.inner == 1:
        for b in range(nb):
            _store(base + b * g.yls + q0 * g.yes, g.yes, acc + b, g.B, nq, g.tout)
    else:
        for q in range(nq):
            _store(base + (q0 + q) * g.yes, g.yls, acc + q * g.B, 1, nb, g.tout)


cdef void _taps(floating* acc, const floating* buf, Py_ssize_t nq, Py_ssize_t B, Py_ssize_t step,
                const floating* w, Py_ssize_t K, int sym, const double* wd,
                float check) noexcept nogil:
    """acc[q * B + b] = sum_j w[j] * buf[(q * step + j) * B + b] (SciPy's order of operations)."""
    cdef Py_ssize_t c = K // 2
    cdef Py_ssize_t T = nq * B
    cdef Py_ssize_t t, j, q, b
    cdef floating wj
    cdef const floating* lo
    cdef const floating* hi
    if step == 1:
        if sym != 0:
            _sym(acc, buf, T, B, w, K, sym)
        else:
            _gen(acc, buf, T, B, w, K)
        if floating is float:
            if check > 0:
                cl_check_f(acc, buf, T, B, wd, K, sym, check)
        return
    # strided output: the same sums, output q reading from (q * step) * B
    for q in range(nq):
        for b in range(B):
            acc[q * B + b] = 0.0
    if sym != 0:
        for q in range(nq):
            lo = buf + (q * step + c) * B
            for b in range(B):
                acc[q * B + b] = lo[b] * w[c]
        for j in range(c):
            wj = w[j]
            for q in range(nq):
                lo = buf + (q * step + j) * B
                hi = buf + (q * step + K - 1 - j) * B
                if sym > 0:
                    for b in range(B):
                        acc[q * B + b] += (lo[b] + hi[b]) * wj
                else:
                    for b in range(B):
                        acc[q * B + b] += (lo[b] - hi[b]) * wj
    else:
        for q in range(nq):
            lo = buf + (q * step + K - 1) * B
            for b in range(B):
                acc[q * B + b] = lo[b] * w[K - 1]
        for j in range(K - 1):
            wj = w[j]
            for q in range(nq):
                lo = buf + (q * step + j) * B
                for b in range(B):
                    acc[q * B + b] += lo[b] * wj


cdef void _corr_item(const Geom* g, Py_ssize_t item, floating* buf, floating* acc,
                     const floating* w, Py_ssize_t K, int sym) noexcept nogil:
    cdef Py_ssize_t xoff, yoff, nb, q0, nq
    cdef Py_ssize_t per_tile = TILE // g.B
    cdef Py_ssize_t q_lo = (item % g.n_chunks) * g.qchunk
    cdef Py_ssize_t q_hi = q_lo + g.qchunk if q_lo + g.qchunk < g.n_out else g.n_out
    _block(g, item // g.n_chunks, &xoff, &yoff, &nb)
    _gather(g, g.x + xoff, nb, buf, q_lo * g.step, (q_hi - 1) * g.step + K)
    q0 = q_lo
    while q0 < q_hi:
        nq = q_hi - q0 if q_hi - q0 < per_tile else per_tile
        _taps(acc, buf + (q0 - q_lo) * g.step * g.B, nq, g.B, g.step, w, K, sym, g.wd, g.check)
        _put(g, acc, g.y + yoff, q0, nq, nb)
        q0 += nq


cdef void _uniform_item(const Geom* g, Py_ssize_t item, floating* buf, floating* acc,
                        floating* run, Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t xoff, yoff, nb, q0, nq, b, j, B = g.B
    cdef Py_ssize_t per_tile = TILE // g.B
    _block(g, item, &xoff, &yoff, &nb)
    _gather(g, g.x + xoff, nb, buf, 0, g.ext)
    for b in range(B):
        run[b] = 0.0
    for j in range(size):
        for b in range(B):
            run[b] += buf[j * B + b]
    q0 = 0
    while q0 < g.n_out:
        nq = g.n_out - q0 if g.n_out - q0 < per_tile else per_tile
        _running(acc, run, buf, q0, nq, B, size)
        _put(g, acc, g.y + yoff, q0, nq, nb)
        q0 += nq


cdef Geom _geometry(x, out, Py_ssize_t start, Py_ssize_t step, Py_ssize_t k, int mode,
                    double cval, Py_ssize_t rows_per_block) except *:
    cdef Geom g
    if x.ndim != 3 or out.ndim != 3:
        raise ValueError("x and out must be 3-D (outer, n, inner)")
    if x.shape[0] != out.shape[0] or x.shape[2] != out.shape[2]:
        raise ValueError("x and out must agree on the outer and inner axes")
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("x and out must be C-contiguous")
    if x.dtype not in _CODES or out.dtype not in _CODES:
        raise TypeError(f"unsupported dtypes {x.dtype} -> {out.dtype}")
    if step < 1 or k < 1 or x.shape[1] < 1:
        raise ValueError("step, kernel size and line length must be positive")
    g.outer, g.n, g.inner = x.shape[0], x.shape[1], x.shape[2]
    g.n_out = out.shape[1]
    g.ext = (g.n_out - 1) * step + k if g.n_out > 0 else 0
    g.isz, g.osz = x.dtype.itemsize, out.dtype.itemsize
    if g.inner == 1:
        # lines are rows of the array: a block is `rows_per_block` rows, interleaved in the buffer
        g.B = g.outer if g.outer < rows_per_block else rows_per_block
        g.n_blocks = 1
        g.n_items = (g.outer + g.B - 1) // g.B
        g.xls, g.xes, g.yls, g.yes = g.n * g.isz, g.isz, g.n_out * g.osz, g.osz
    else:
        # lines are neighbours in memory: a block is a contiguous run of up to B of them
        g.B = g.inner if g.inner < 64 else 64
        g.n_blocks = (g.inner + g.B - 1) // g.B
        g.n_items = g.outer * g.n_blocks
        g.xls, g.xes, g.yls, g.yes = g.isz, g.inner * g.isz, g.osz, g.inner * g.osz
    g.qchunk, g.n_chunks, g.ext_chunk = g.n_out, 1, g.ext
    if g.B == 1 and g.n_out > 2 * LINE_CHUNK and x.ctypes.data != out.ctypes.data:
        # long lines one at a time: split into chunks of outputs (parallel work, small buffers);
        # not in place, where a chunk would read samples that its neighbour has overwritten
        g.qchunk = LINE_CHUNK
        g.n_chunks = (g.n_out + LINE_CHUNK - 1) // LINE_CHUNK
        g.n_items = g.n_items * g.n_chunks
        g.ext_chunk = (LINE_CHUNK - 1) * step + k
    g.start, g.step = start, step
    g.tin, g.tout = _CODES[x.dtype], _CODES[out.dtype]
    g.mode, g.cval = mode, cval
    g.x = <char*><size_t>x.ctypes.data
    g.y = <char*><size_t>out.ctypes.data
    return g



# ---- one parallel runner: the helper pool of src/c/cc_pool.h, OpenMP where it is absent ----
# OpenMP's barrier at the end of a prange makes the caller wait for a worker that a busy machine
# has not scheduled yet (measured: a 6 ms Gaussian of a 2048x2048 uint8 image took 16 ms on two
# OpenMP threads while other processes held the cores); the pool's caller never waits for a helper
# that has not started.
cdef extern from "c/cc_pool.h":
    int CC_POOL
    ctypedef void (*cc_batch_fn)(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil
    int cc_parallel(cc_batch_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t batch,
                    int threads) noexcept nogil

# item_fn(job, item, work): one work item of a job, with the calling thread's work area
ctypedef void (*item_fn)(const void* job, Py_ssize_t item, double* work) noexcept nogil


cdef struct Team:
    item_fn fn
    const void* job
    double* base
    Py_ssize_t per


cdef void _team_batch(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    cdef const Team* t = <const Team*>ctx
    cdef Py_ssize_t item
    for item in range(lo, hi):
        t.fn(t.job, item, t.base + tid * t.per)


cdef void _run(item_fn fn, const void* job, Py_ssize_t n_items, double* base, Py_ssize_t per,
               int n_threads) noexcept nogil:
    """fn(job, item, base + tid * per) for every item, on up to `n_threads` threads (items handed
    out dynamically; each item writes its own outputs, so results do not depend on the schedule)."""
    cdef Team t
    cdef Py_ssize_t item
    cdef int tid
    t.fn, t.job, t.base, t.per = fn, job, base, per
    if n_threads > 1 and CC_POOL:
        if cc_parallel(_team_batch, &t, n_items, 1, n_threads) > 1:
            return
        n_threads = 1
    if n_threads > 1:
        for item in prange(n_items, schedule="dynamic", num_threads=n_threads):
            tid = threadid()
            fn(job, item, base + tid * per)
    else:
        _team_batch(&t, 0, n_items, 0)

_local = threading.local()

#: jobs of fewer multiply-adds than this run on one thread (waking a team costs more)
SERIAL_WORK = 1 << 16
#: work areas up to this many doubles (8 MiB) are kept for the next call; larger ones are not
KEEP_SCRATCH = 1 << 20


def _team(int n_threads, Py_ssize_t n_items, Py_ssize_t work):
    if work < SERIAL_WORK:
        return 1
    return max(1, min(n_threads, n_items))


def _scratch(Py_ssize_t n_threads, Py_ssize_t per_thread):
    """A per-thread work area of doubles, kept between calls (no allocation in the hot path)."""
    per_thread = (per_thread + 7) // 8 * 8          # every slot starts on a 64-byte line
    need = n_threads * per_thread + 8
    cache = getattr(_local, "scratch", None)
    if cache is None or cache.shape[0] < need:
        cache = np.empty(need, dtype=np.float64)
        if need <= KEEP_SCRATCH:
            _local.scratch = cache
    return cache, per_thread


def correlate(x, const double[::1] w, out, Py_ssize_t start, Py_ssize_t step, int mode,
              double cval, int symmetry, int n_threads, bint single=False, double check=0.0):
    """See the module docstring (``single``, ``check``: float buffers and weights, see there)."""
    cdef Py_ssize_t K = w.shape[0]
    cdef Geom g = _geometry(x, out, start, step, K, mode, cval, 1)
    cdef Py_ssize_t n_items = g.n_items
    cdef Py_ssize_t item, per
    cdef double* base
    cdef double* buf
    cdef float* fbuf
    cdef const float[::1] wf
    cdef CorrJob job
    if symmetry != 0 and K % 2 == 0:
        raise ValueError("symmetry needs an odd number of weights")
    g.wd, g.check = &w[0], _check(single, check)
    if g.check > 0 and step != 1:
        raise ValueError("check needs step 1")
    if n_items == 0 or g.n_out == 0:
        return out
    n_threads = _team(n_threads, n_items, g.outer * g.n_out * g.inner * K)
    area, per = _scratch(n_threads, g.ext_chunk * g.B + TILE)
    base = _aligned(area)
    job.g, job.w, job.K, job.sym = &g, &w[0], K, symmetry
    if single:
        wf = np.asarray(w, dtype=np.float32)
        job.w = &wf[0]
    with nogil:
        _run(_corr_f if single else _corr_d, &job, n_items, base, per, n_threads)
    return out


cdef struct CorrJob:
    const Geom* g
    const void* w
    Py_ssize_t K
    int sym


cdef void _corr_f(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    cdef const CorrJob* j = <const CorrJob*>job
    cdef float* buf = <float*>work
    _corr_item(j.g, item, buf, buf + j.g.ext_chunk * j.g.B, <const float*>j.w, j.K, j.sym)


cdef void _corr_d(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    cdef const CorrJob* j = <const CorrJob*>job
    _corr_item(j.g, item, work, work + j.g.ext_chunk * j.g.B, <const double*>j.w, j.K, j.sym)


def uniform(x, Py_ssize_t size, out, Py_ssize_t start, int mode, double cval, int n_threads,
            bint single=False):
    """See the module docstring (``single``: float buffers, see there)."""
    cdef Geom g = _geometry(x, out, start, 1, size, mode, cval, 16)
    cdef Py_ssize_t n_items = g.n_items
    cdef Py_ssize_t item, per, ext_b = g.ext * g.B
    cdef double* base
    cdef double* buf
    cdef float* fbuf
    if n_items == 0 or g.n_out == 0:
        return out
    n_threads = _team(n_threads, n_items, g.outer * g.n_out * g.inner * 4)
    area, per = _scratch(n_threads, ext_b + TILE + g.B)
    base = _aligned(area)
    g.size = size
    with nogil:
        _run(_uniform_f if single else _uniform_d, &g, n_items, base, per, n_threads)
    return out


cdef void _uniform_f(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    cdef const Geom* g = <const Geom*>job
    cdef float* buf = <float*>work
    cdef Py_ssize_t ext_b = g.ext * g.B
    _uniform_item(g, item, buf, buf + ext_b, buf + ext_b + TILE, g.size)


cdef void _uniform_d(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    cdef const Geom* g = <const Geom*>job
    cdef Py_ssize_t ext_b = g.ext * g.B
    _uniform_item(g, item, work, work + ext_b, work + ext_b + TILE, g.size)


cdef float _check(bint single, double check) except -1:
    if check < 0 or check != check:
        raise ValueError("check must be a non-negative number")
    if check > 0 and not single:
        raise ValueError("check needs single")
    return <float>check


cdef double* _aligned(double[::1] area):
    """First 64-byte aligned double of `area` (which has 8 spare doubles)."""
    cdef size_t addr = <size_t>&area[0]
    return <double*>((addr + 63) // 64 * 64)


# ---- two passes over a 2-D image in one sweep (the separable filters of ndimage on images) ----



cdef struct Sep:
    char* x
    char* y
    Py_ssize_t H, W, R, isz, osz
    const void* wr            # weights along axis 0 (rows), Kr taps, symmetry sr
    const void* wc            # weights along axis 1 (columns), Kc taps, symmetry sc
                              # (double, or float with float buffers)
    Py_ssize_t Kr, Kc
    int sr, sc, mode_r, mode_c, tin, tout, rows_first
    double cval
    const double* wrd         # the weights in double, for outputs re-checked (check > 0)
    const double* wcd
    float check_r, check_c


cdef inline void _sym_tiles(floating* acc, const floating* buf, Py_ssize_t T, Py_ssize_t B,
                            const floating* w, Py_ssize_t K, int sym, const double* wd,
                            float check) noexcept nogil:
    """acc[t] = sum_j w[j] * buf[t + j * B] for t < T, in tiles that keep acc in L1."""
    cdef Py_ssize_t t0 = 0, n
    while t0 < T:
        n = T - t0 if T - t0 < TILE else TILE
        if sym != 0:
            _sym(acc + t0, buf + t0, n, B, w, K, sym)
        else:
            _gen(acc + t0, buf + t0, n, B, w, K)
        if floating is float:
            if check > 0:
                cl_check_f(acc + t0, buf + t0, n, B, wd, K, sym, check)
        t0 += n


cdef bint _sym2_rows(float* acc0, float* acc1, const float* buf, Py_ssize_t W, Py_ssize_t B,
                    const float* w, Py_ssize_t K, int sym, const double* wd,
                    float check) noexcept nogil:
    """Two neighbouring output rows of a symmetric kernel across rows (acc0 from buf, acc1 from
    buf + B) in one sweep per tile, with their re-checks; False when K has no such sweep."""
    cdef Py_ssize_t t0 = 0, n
    if sym == 0 or K > 9 or K % 2 == 0:
        return False
    while t0 < W:
        n = W - t0 if W - t0 < TILE else TILE
        cl_sym2_f(acc0 + t0, acc1 + t0, buf + t0, n, B, w, K, sym)
        if check > 0:
            cl_check_f(acc0 + t0, buf + t0, n, B, wd, K, sym, check)
            cl_check_f(acc1 + t0, buf + B + t0, n, B, wd, K, sym, check)
        t0 += n
    return True


cdef void _row_pass(const Sep* s, floating* ext, floating* res) noexcept nogil:
    """res[0:W] = the column-axis filter of the row held at ext[c:c + W] (c = Kc // 2): its ends
    are filled in by the edge rule mode_c first."""
    cdef Py_ssize_t c = s.Kc // 2, p, idx
    cdef Py_ssize_t n_ext = s.W + s.Kc - 1
    p = 0
    while p < n_ext:                # the ends, [0, c) and [c + W, n_ext)
        if p == c:
            p = c + s.W
            continue
        idx = map_index(p - c, s.W, s.mode_c)
        ext[p] = <floating>s.cval if idx < 0 else ext[c + idx]
        p += 1
    _sym_tiles(res, ext, s.W, 1, <const floating*>s.wc, s.Kc, s.sc, s.wcd, s.check_c)


cdef void _sep_item(const Sep* s, Py_ssize_t item, floating* work) noexcept nogil:
    """Output rows [r0, r0 + R) of the two passes."""
    cdef Py_ssize_t r0 = item * s.R
    cdef Py_ssize_t nr = s.H - r0 if s.H - r0 < s.R else s.R
    cdef Py_ssize_t W = s.W, p, i, idx, n_in
    cdef Py_ssize_t cr = s.Kr // 2, cc = s.Kc // 2, ms = s.W + s.Kc - 1
    cdef bint two, same_in, same_out
    cdef floating* rows = work                            # (nr + Kr - 1) x W
    cdef floating* mid = rows + (s.R + s.Kr - 1) * W      # nr x ms (rows_first: nr x W)
    cdef floating* ext = mid + s.R * ms                   # ms
    cdef floating* line = ext + ms                        # W
    cdef const floating* src = rows
    # data already of the buffers' type: a strip's input rows read where they are, results
    # written into their place (no copies in and out)
    if floating is float:
        same_in, same_out = s.tin == T_F32, s.tout == T_F32
    else:
        same_in, same_out = s.tin == T_F64, s.tout == T_F64
    n_in = nr + s.Kr - 1
    if not s.rows_first:
        # columns of the image first (axis 0), each row of the result written into the middle
        # of its own extended row, then along each row (axis 1)
        if same_in and r0 - cr >= 0 and r0 - cr + n_in <= s.H:
            src = <const floating*>s.x + (r0 - cr) * W
        else:
            for p in range(n_in):
                idx = map_index(r0 - cr + p, s.H, s.mode_r)
                if idx < 0:
                    for i in range(W):
                        rows[p * W + i] = <floating>s.cval
                else:
                    _load(rows + p * W, 1, s.x + idx * W * s.isz, s.isz, W, s.tin)
        i = 0
        while i < nr:
            two = False
            if floating is float:
                # float buffers: two output rows per sweep where the kernel allows
                two = i + 1 < nr and _sym2_rows(mid + i * ms + cc, mid + (i + 1) * ms + cc,
                                                src + i * W, W, W, <const float*>s.wr, s.Kr,
                                                s.sr, s.wrd, s.check_r)
            if not two:
                _sym_tiles(mid + i * ms + cc, src + i * W, W, W, <const floating*>s.wr, s.Kr,
                           s.sr, s.wrd, s.check_r)
            for p in range(i, i + 2 if two else i + 1):
                _round(mid + p * ms + cc, W, s.tout)
                if same_out:
                    _row_pass(s, mid + p * ms, <floating*>s.y + (r0 + p) * W)
                else:
                    _row_pass(s, mid + p * ms, line)
                    _store(s.y + (r0 + p) * W * s.osz, s.osz, line, 1, W, s.tout)
            i += 2 if two else 1
    else:
        # along each row first (axis 1; the row read into the middle of its extension), then the
        # columns (axis 0) of that intermediate
        for p in range(n_in):
            idx = map_index(r0 - cr + p, s.H, s.mode_r)
            if idx < 0:
                for i in range(W):
                    rows[p * W + i] = <floating>s.cval
            else:
                _load(ext + cc, 1, s.x + idx * W * s.isz, s.isz, W, s.tin)
                _row_pass(s, ext, rows + p * W)
                _round(rows + p * W, W, s.tout)
        i = 0
        if floating is float:
            # float buffers: two output rows per sweep where the kernel allows
            while i + 1 < nr and _sym2_rows(mid + i * W, mid + (i + 1) * W, rows + i * W, W, W,
                                            <const float*>s.wr, s.Kr, s.sr, s.wrd, s.check_r):
                i += 2
        _sym_tiles(mid + i * W, rows + i * W, (nr - i) * W, W, <const floating*>s.wr, s.Kr,
                   s.sr, s.wrd, s.check_r)
        for i in range(nr):
            _store(s.y + (r0 + i) * W * s.osz, s.osz, mid + i * W, 1, W, s.tout)


def separable2d(x, const double[::1] w_rows, int sym_rows, int mode_rows,
                const double[::1] w_cols, int sym_cols, int mode_cols, out, double cval,
                bint rows_first, int n_threads, bint single=False, double check_rows=0.0,
                double check_cols=0.0):
    """Two 1-D passes over a C-contiguous 2-D image ``x`` into ``out`` (same shape) in one sweep.

    ``w_rows`` filters along axis 0 (centred: ``start = -(len // 2)``) with ``mode_rows``,
    ``w_cols`` along axis 1 with ``mode_cols``; ``rows_first`` chooses which pass comes first
    (False: axis 0 first). Equals two calls of :func:`correlate`, the first one's result stored
    in ``out``'s dtype and read back (SciPy's intermediate array), but each strip of output rows
    is finished while its input rows are in cache, and with one parallel region. Pays for short
    column kernels (a strip re-reads ``len(w_rows) - 1`` rows of its neighbours, and with
    ``rows_first`` recomputes their row pass); the caller picks it (``FUSE_MAX_TAPS``).
    ``single`` computes with float buffers and weights, ``check_rows`` / ``check_cols`` are the
    ``check`` of each pass (as :func:`correlate`).
    """
    cdef Sep s
    cdef Py_ssize_t n_items, item, per
    cdef double* base
    cdef const float[::1] wrf
    cdef const float[::1] wcf
    if x.ndim != 2 or out.shape != x.shape:
        raise ValueError("x must be 2-D and out of the same shape")
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("x and out must be C-contiguous")
    if x.dtype not in _CODES or out.dtype not in _CODES:
        raise TypeError(f"unsupported dtypes {x.dtype} -> {out.dtype}")
    if w_rows.shape[0] < 1 or w_cols.shape[0] < 1:
        raise ValueError("weights must not be empty")
    if ((sym_rows != 0 and w_rows.shape[0] % 2 == 0)
            or (sym_cols != 0 and w_cols.shape[0] % 2 == 0)):
        raise ValueError("symmetry needs an odd number of weights")
    s.H, s.W = x.shape[0], x.shape[1]
    if s.H == 0 or s.W == 0:
        return out
    s.isz, s.osz = x.dtype.itemsize, out.dtype.itemsize
    s.tin, s.tout = _CODES[x.dtype], _CODES[out.dtype]
    s.wr, s.Kr, s.sr, s.mode_r = &w_rows[0], w_rows.shape[0], sym_rows, mode_rows
    s.wc, s.Kc, s.sc, s.mode_c = &w_cols[0], w_cols.shape[0], sym_cols, mode_cols
    if single:
        wrf = np.asarray(w_rows, dtype=np.float32)
        wcf = np.asarray(w_cols, dtype=np.float32)
        s.wr, s.wc = &wrf[0], &wcf[0]
    s.cval, s.rows_first = cval, rows_first
    s.wrd, s.wcd = &w_rows[0], &w_cols[0]
    s.check_r, s.check_c = _check(single, check_rows), _check(single, check_cols)
    # strips of R output rows read R + Kr - 1 rows: taller strips for longer column kernels (and
    # for float buffers, half the size)
    s.R = (32 if single else 16) if s.Kr <= 9 else 2 * (s.Kr - 1)
    s.x = <char*><size_t>x.ctypes.data
    s.y = <char*><size_t>out.ctypes.data
    n_items = (s.H + s.R - 1) // s.R
    n_threads = _team(n_threads, n_items, s.H * s.W * (s.Kr + s.Kc))
    area, per = _scratch(n_threads, (s.R + s.Kr - 1) * s.W + (s.R + 1) * (s.W + s.Kc - 1) + s.W)
    base = _aligned(area)
    with nogil:
        _run(_sep_f if single else _sep_d, &s, n_items, base, per, n_threads)
    return out


cdef void _sep_f(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _sep_item(<const Sep*>job, item, <float*>work)


cdef void _sep_d(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _sep_item(<const Sep*>job, item, work)


# ---- the 2-D uniform filter in one sweep ----

cdef struct Box:
    char* x
    char* y
    Py_ssize_t H, W, R, isz, osz, size_r, size_c, start_r, start_c
    int mode_r, mode_c, tin, tout
    bint trunc                # integer means that fit the output: rounding = truncation
    double cval


cdef void _box_row(const Box* s, Py_ssize_t r, floating* dst) noexcept nogil:
    """dst[0:W] = row r of X extended along axis 0 (the constant row when it falls outside)."""
    cdef Py_ssize_t idx = map_index(r, s.H, s.mode_r), i
    if idx < 0:
        for i in range(s.W):
            dst[i] = <floating>s.cval
    else:
        _load(dst, 1, s.x + idx * s.W * s.isz, s.isz, s.W, s.tin)


cdef void _box_ext(const Box* s, const floating* mid, Py_ssize_t ms, floating* ext, Py_ssize_t lo,
                   Py_ssize_t hi, Py_ssize_t nb, Py_ssize_t B) noexcept nogil:
    """ext[p * B + b] = row b of `mid` (rows `ms` apart) extended along axis 1, at position
    start_c + p; the interior [lo, hi) is not copied when `ext` is that row itself (B == 1)."""
    cdef Py_ssize_t n_ext = s.W + s.size_c - 1, b, p, idx
    if B > 1 or ext + lo != mid + s.start_c + lo:
        for b in range(nb):
            for p in range(lo, hi):
                ext[p * B + b] = mid[b * ms + s.start_c + p]
    p = 0
    while p < n_ext:                # the ends, [0, lo) and [hi, n_ext)
        if lo <= p < hi:
            p = hi
            continue
        idx = map_index(s.start_c + p, s.W, s.mode_c)
        for b in range(nb):
            ext[p * B + b] = <floating>s.cval if idx < 0 else mid[b * ms + idx]
        p += 1


cdef void _box_item(const Box* s, Py_ssize_t item, floating* work) noexcept nogil:
    cdef Py_ssize_t r0 = item * s.R
    cdef Py_ssize_t nr = s.H - r0 if s.H - r0 < s.R else s.R
    cdef Py_ssize_t W = s.W, i, j, b, g0, nb, q0, nq, lo, hi
    cdef Py_ssize_t n_ext = W + s.size_c - 1
    cdef Py_ssize_t per_tile = TILE // 16
    # float buffers, short row windows: each row of the axis-0 result is written straight into
    # its extended row (a stride of n_ext, the row at offset -start_c), whose windows are then
    # added up directly
    cdef bint direct = floating is float and s.size_c <= BOX_DIRECT and s.start_c <= 0
    cdef Py_ssize_t ms = n_ext if direct else W
    cdef Py_ssize_t off = -s.start_c if direct else 0
    cdef floating* run = work                   # W: running sums down the columns
    cdef floating* rows = run + W               # (R + size_r - 1) x W: the strip's input rows
    cdef floating* mid = rows + (s.R + s.size_r - 1) * W   # R x ms: the axis-0 result (rounded)
    cdef floating* ext = mid + s.R * n_ext      # n_ext x 16
    cdef floating* acc = ext + n_ext * 16       # TILE
    cdef floating* run16 = acc + TILE           # 16
    for j in range(nr + s.size_r - 1):
        _box_row(s, r0 + s.start_r + j, rows + j * W)
    # axis 0: the window of the strip's first row added up, then entering minus leaving rows
    _colrun(mid + off, ms, run, rows, nr, W, s.size_r, s.tin, s.trunc)
    if not (floating is float and s.trunc):
        for i in range(nr):
            _round(mid + off + i * ms, W, s.tout)
    lo = -s.start_c if s.start_c < 0 else 0     # ext positions [lo, hi) read inside the row
    hi = W - s.start_c if W - s.start_c < n_ext else n_ext
    if lo > hi:
        lo = hi
    if direct:
        for i in range(nr):
            _box_ext(s, mid + off + i * ms, ms, mid + i * ms, lo, hi, 1, 1)
            _boxsum(ext, mid + i * ms, W, s.size_c, s.tin)
            if floating is float:
                if s.trunc and s.tout <= T_I32:
                    # means of integers that fit the output: truncated with no range check
                    cl_store_fit_f(s.y + (r0 + i) * W * s.osz, ext, W, s.tout)
                    continue
            _store(s.y + (r0 + i) * W * s.osz, s.osz, ext, 1, W, s.tout)
        return
    # axis 1: groups of 16 rows interleaved, running sums across them (as _uniform_item)
    g0 = 0
    while g0 < nr:
        nb = nr - g0 if nr - g0 < 16 else 16
        _box_ext(s, mid + g0 * W, W, ext, lo, hi, nb, 16)
        for b in range(16):
            run16[b] = 0.0
        for j in range(s.size_c):
            for b in range(16):
                run16[b] += ext[j * 16 + b]
        q0 = 0
        while q0 < W:
            nq = W - q0 if W - q0 < per_tile else per_tile
            _running(acc, run16, ext, q0, nq, 16, s.size_c)
            for b in range(nb):
                _store(s.y + ((r0 + g0 + b) * W + q0) * s.osz, s.osz, acc + b, 16, nq, s.tout)
            q0 += nq
        g0 += nb


def uniform2d(x, Py_ssize_t size_r, Py_ssize_t start_r, int mode_r, Py_ssize_t size_c,
              Py_ssize_t start_c, int mode_c, out, double cval, int n_threads,
              bint single=False):
    """The running means of ``uniform`` along axis 0 and then axis 1 of a 2-D image, one sweep.

    Each strip of output rows starts its running sums down the columns afresh (the window of its
    first row added up), which is exact for integer images and equal to rounding otherwise; the
    axis-0 result is stored in ``out``'s dtype and read back as SciPy's intermediate array is.
    ``single`` computes with float buffers (as :func:`uniform`).
    """
    cdef Box s
    cdef Py_ssize_t n_items, item, per
    cdef double* base
    if x.ndim != 2 or out.shape != x.shape:
        raise ValueError("x must be 2-D and out of the same shape")
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("x and out must be C-contiguous")
    if x.dtype not in _CODES or out.dtype not in _CODES:
        raise TypeError(f"unsupported dtypes {x.dtype} -> {out.dtype}")
    if size_r < 1 or size_c < 1:
        raise ValueError("sizes must be positive")
    s.H, s.W = x.shape[0], x.shape[1]
    if s.H == 0 or s.W == 0:
        return out
    s.isz, s.osz = x.dtype.itemsize, out.dtype.itemsize
    s.tin, s.tout = _CODES[x.dtype], _CODES[out.dtype]
    s.size_r, s.start_r, s.mode_r = size_r, start_r, mode_r
    s.size_c, s.start_c, s.mode_c = size_c, start_c, mode_c
    s.cval = cval
    # integer data whose every mean (of samples and cval) fits the output and an int
    s.trunc = (x.dtype.kind in "iu" and out.dtype.kind in "iu" and out.dtype.itemsize <= 4
               and np.can_cast(x.dtype, out.dtype, "safe")
               and np.iinfo(out.dtype).min <= cval <= np.iinfo(out.dtype).max)
    s.R = 32
    s.x = <char*><size_t>x.ctypes.data
    s.y = <char*><size_t>out.ctypes.data
    n_items = (s.H + s.R - 1) // s.R
    n_threads = _team(n_threads, n_items, s.H * s.W * 8)
    area, per = _scratch(n_threads, (1 + s.R + s.size_r - 1) * s.W
                         + (s.W + s.size_c - 1) * (s.R + 16) + TILE + 16)
    base = _aligned(area)
    with nogil:
        _run(_box_f if single else _box_d, &s, n_items, base, per, n_threads)
    return out


cdef void _box_f(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _box_item(<const Box*>job, item, <float*>work)


cdef void _box_d(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _box_item(<const Box*>job, item, work)


# ---- the 2-D uniform filter of 8-bit images in 16-bit integer lanes ----

# A window of at most 257 uint8 (or int8) samples sums to at most 255 * 257 < 2**16 in magnitude,
# so both running sums run exactly on 16-bit lanes (16 per AVX2 vector, twice float32's). SciPy
# truncates each pass's mean toward zero: for a sum 0 <= S <= top that is floor(S / d), computed
# as mulhi(S, M) = (S * M) >> 16 for a magic M (and, when it needs a shift sh > 0, a second
# mulhi by P = 2**(16 - sh), which is >> sh on 16-bit lanes: a plain shift by a variable count
# makes GCC widen to 32 bits). `magic16` finds M and sh and checks the quotient for every S in
# 0..top, so the result is exact by exhaustion, not by a bound. Signed sums (int8) take the
# quotient of |S| and the sign back: truncation toward zero.
# cl_b8add_S: run[c] += row[c] (mod 2**16); cl_b8col_S: the running sums down the columns one
# row on (first: as they are), each mean stored in mid; cl_b8row_S: out[i] = the truncated mean
# of ext[i .. i + size - 1], one sweep for windows up to 8, longer ones as the sum of blocks of
# 1, 2, 4, ... samples built by doubling (log2(size) sweeps; acc: 1280 spare lanes).
cdef extern from *:
    """
    #define CL_MULHI(s, M) ((unsigned short)(((unsigned int)(unsigned short)(s) * (M)) >> 16))
    /* the quotient step by K: unsigned, and signed (of |v|, the sign put back) */
    #define CL_QU(a, K) CL_MULHI(a, K)
    #define CL_QS(v, K) ((short)(v) < 0 ? (unsigned short)-CL_MULHI(-(short)(v), K)            \
                                        : CL_MULHI((short)(v), K))
    #define CL_E2 (unsigned short)(f[i] + f[i + 1])
    #define CL_E3 (unsigned short)(CL_E2 + f[i + 2])
    #define CL_E4 (unsigned short)(CL_E3 + f[i + 3])
    #define CL_E5 (unsigned short)(CL_E4 + f[i + 4])
    #define CL_E6 (unsigned short)(CL_E5 + f[i + 5])
    #define CL_E7 (unsigned short)(CL_E6 + f[i + 6])
    #define CL_E8 (unsigned short)(CL_E7 + f[i + 7])
    #define CL_B8_SWEEP(DST, SUM, FIN) for (i = 0; i < n; i++) DST[i] = FIN(SUM); break;
    #define CL_B8_SHORT(DST, FIN)                                                             \
        switch (size) {                                                                       \
        case 1: CL_B8_SWEEP(DST, f[i], FIN)                                                   \
        case 2: CL_B8_SWEEP(DST, CL_E2, FIN)                                                  \
        case 3: CL_B8_SWEEP(DST, CL_E3, FIN)                                                  \
        case 4: CL_B8_SWEEP(DST, CL_E4, FIN)                                                  \
        case 5: CL_B8_SWEEP(DST, CL_E5, FIN)                                                  \
        case 6: CL_B8_SWEEP(DST, CL_E6, FIN)                                                  \
        case 7: CL_B8_SWEEP(DST, CL_E7, FIN)                                                  \
        default: CL_B8_SWEEP(DST, CL_E8, FIN)                                                 \
        }
    #define CL_B8_KEEP(s) (s)
    #define CL_B8_FIN_u(s) (unsigned char)CL_QU(s, M)
    #define CL_B8_FIN_s(s) (signed char)CL_QS(s, M)
    /* (a second mulhi chained in one loop, or a shift by a variable count, makes GCC widen the
       lanes to 32 bits: each quotient step is a loop of its own over 16-bit lanes) */
    #define CL_T_B8(S, T, Q)                                                                  \
    static void cl_b8add_##S(unsigned short *__restrict run,                        \
                                       const T *__restrict row, Py_ssize_t W) {               \
        Py_ssize_t c;                                                                         \
        for (c = 0; c < W; c++) run[c] = (unsigned short)(run[c] + (unsigned short)row[c]);   \
    }                                                                                         \
    static void cl_b8col_##S(unsigned short *__restrict mid,                        \
                                       unsigned short *__restrict run,                        \
                                       const T *__restrict e, const T *__restrict l,          \
                                       Py_ssize_t W, int first, unsigned short M,             \
                                       unsigned short P) {                                    \
        Py_ssize_t c;                                                                         \
        if (first) { for (c = 0; c < W; c++) mid[c] = Q(run[c], M); }                         \
        else {                                                                                \
            for (c = 0; c < W; c++) {                                                         \
                unsigned short r = (unsigned short)(run[c] + (unsigned short)e[c]             \
                                                    - (unsigned short)l[c]);                  \
                run[c] = r; mid[c] = Q(r, M);                                                 \
            }                                                                                 \
        }                                                                                     \
        if (P) { for (c = 0; c < W; c++) mid[c] = Q(mid[c], P); }                             \
    }                                                                                         \
    static void cl_b8row_##S(T *__restrict out, const unsigned short *__restrict e, \
                                       Py_ssize_t W, Py_ssize_t size, unsigned short M,       \
                                       unsigned short P, unsigned short *__restrict acc) {    \
        Py_ssize_t i, i0, n = W;                                                              \
        const unsigned short *f = e;                                                          \
        unsigned short *b0 = acc + 256, *b1 = b0 + 512;                                       \
        if (size <= 8 && !P) {                                                                \
            CL_B8_SHORT(out, CL_B8_FIN_##S)                                                   \
            return;                                                                           \
        }                                                                                     \
        for (i0 = 0; i0 < W; i0 += 256) {                                                     \
            n = W - i0 < 256 ? W - i0 : 256;                                                  \
            f = e + i0;                                                                       \
            if (size <= 8) { CL_B8_SHORT(acc, CL_B8_KEEP) }                                   \
            else {                                                                            \
                /* blocks of len = 1, 2, 4, ... samples (b[i]: the block at i); the window    \
                   is the blocks of its size's set bits, the lowest first */                  \
                Py_ssize_t len = 1, L = n + size - 1, off;                                    \
                const unsigned short *b = f;                                                  \
                int any = 0;                                                                  \
                for (;;) {                                                                    \
                    if (size & len) {                                                         \
                        off = size & (len - 1);                                               \
                        if (any) { for (i = 0; i < n; i++) acc[i] += b[i + off]; }            \
                        else { for (i = 0; i < n; i++) acc[i] = b[i + off]; }                 \
                        any = 1;                                                              \
                    }                                                                         \
                    if (2 * len > size) break;                                                \
                    {                                                                         \
                        unsigned short *nb = b == b0 ? b1 : b0;                               \
                        L -= len;                                                             \
                        for (i = 0; i < L; i++) nb[i] = (unsigned short)(b[i] + b[i + len]);  \
                        b = nb;                                                               \
                    }                                                                         \
                    len *= 2;                                                                 \
                }                                                                             \
            }                                                                                 \
            for (i = 0; i < n; i++) acc[i] = Q(acc[i], M);                                    \
            if (P) { for (i = 0; i < n; i++) out[i0 + i] = (T)Q(acc[i], P); }                 \
            else { for (i = 0; i < n; i++) out[i0 + i] = (T)acc[i]; }                         \
        }                                                                                     \
    }
    CL_T_B8(u, unsigned char, CL_QU)
    CL_T_B8(s, signed char, CL_QS)
    """
    void cl_b8add_u(unsigned short* run, const unsigned char* row, Py_ssize_t W) noexcept nogil
    void cl_b8add_s(unsigned short* run, const signed char* row, Py_ssize_t W) noexcept nogil
    void cl_b8col_u(unsigned short* mid, unsigned short* run, const unsigned char* e,
                    const unsigned char* l, Py_ssize_t W, int first, unsigned short M,
                    unsigned short P) noexcept nogil
    void cl_b8col_s(unsigned short* mid, unsigned short* run, const signed char* e,
                    const signed char* l, Py_ssize_t W, int first, unsigned short M,
                    unsigned short P) noexcept nogil
    void cl_b8row_u(unsigned char* out, const unsigned short* e, Py_ssize_t W, Py_ssize_t size,
                    unsigned short M, unsigned short P, unsigned short* acc) noexcept nogil
    void cl_b8row_s(signed char* out, const unsigned short* e, Py_ssize_t W, Py_ssize_t size,
                    unsigned short M, unsigned short P, unsigned short* acc) noexcept nogil


cdef enum:
    BOX8_MAX = 257       # the longest window whose 8-bit sums fit 16 bits (255 * 257 < 2**16)
    BOX8_ROWS = 64       # rows per work item of box8

BOX8_SIZE_MAX = BOX8_MAX


def magic16(Py_ssize_t divisor, Py_ssize_t top):
    """``(M, P)`` with ``floor(S / divisor) == mulhi(S, M)`` (P == 0) or ``mulhi(mulhi(S, M), P)``
    for every ``0 <= S <= top`` (``mulhi(a, b) = (a * b) >> 16`` on 16-bit values), checked for
    each S; None when no 16-bit M does (divisor 1 among them)."""
    cdef Py_ssize_t sh, S, m, q
    cdef unsigned int M
    cdef bint ok
    if divisor < 1 or top < 0 or top > 65535:
        raise ValueError("divisor must be positive and top within 0..65535")
    for sh in range(16):
        m = ((1 << (16 + sh)) + divisor - 1) // divisor
        if m >= 65536:
            continue
        M = <unsigned int>m
        ok = True
        with nogil:
            for S in range(top + 1):
                if sh == 0:
                    q = (S * M) >> 16
                else:
                    q = ((((S * M) >> 16) & 0xFFFF) * (1 << (16 - sh))) >> 16
                if q != S // divisor:
                    ok = False
                    break
        if ok:
            return m, (0 if sh == 0 else 1 << (16 - sh))
    return None


cdef struct Box8:
    const char* x
    char* y
    Py_ssize_t H, W, R, size_r, size_c, start_r, start_c
    int mode_r, mode_c, cval
    bint sgn
    unsigned short mr, pr, mc, pc


cdef inline const char* _b8_row(const Box8* s, Py_ssize_t r, const char* crow) noexcept nogil:
    cdef Py_ssize_t idx = map_index(r, s.H, s.mode_r)
    return crow if idx < 0 else s.x + idx * s.W


cdef void _b8_item(const Box8* s, Py_ssize_t item, unsigned short* work) noexcept nogil:
    cdef Py_ssize_t r0 = item * s.R
    cdef Py_ssize_t nr = s.H - r0 if s.H - r0 < s.R else s.R
    cdef Py_ssize_t W = s.W, i, j, p, idx
    cdef Py_ssize_t n_ext = W + s.size_c - 1
    cdef Py_ssize_t lo = -s.start_c, hi = lo + W     # ext[lo:hi] is the row itself
    cdef unsigned short cv = <unsigned short>s.cval
    cdef unsigned short* run = work                  # W: running sums down the columns
    cdef unsigned short* acc = run + W               # 1280: cl_b8row's sums and blocks
    cdef unsigned short* ext = acc + 1280            # n_ext: the axis-0 means, extended
    cdef unsigned short* mid = ext + lo
    cdef char* crow = <char*>(ext + n_ext + 16)      # W: a row of cval
    cdef const char* e
    cdef const char* l
    memset(crow, s.cval & 0xFF, W)
    memset(run, 0, W * sizeof(unsigned short))
    for j in range(s.size_r):
        e = _b8_row(s, r0 + s.start_r + j, crow)
        if s.sgn:
            cl_b8add_s(run, <const signed char*>e, W)
        else:
            cl_b8add_u(run, <const unsigned char*>e, W)
    for i in range(nr):
        e = _b8_row(s, r0 + s.start_r + i + s.size_r - 1, crow)
        l = _b8_row(s, r0 + s.start_r + i - 1, crow)
        if s.sgn:
            cl_b8col_s(mid, run, <const signed char*>e, <const signed char*>l, W, i == 0,
                       s.mr, s.pr)
        else:
            cl_b8col_u(mid, run, <const unsigned char*>e, <const unsigned char*>l, W, i == 0,
                       s.mr, s.pr)
        p = 0
        while p < n_ext:                             # the ends, [0, lo) and [hi, n_ext)
            if p == lo:
                p = hi
                continue
            idx = map_index(s.start_c + p, W, s.mode_c)
            ext[p] = cv if idx < 0 else mid[idx]
            p += 1
        if s.sgn:
            cl_b8row_s(<signed char*>(s.y + (r0 + i) * W), ext, W, s.size_c, s.mc, s.pc, acc)
        else:
            cl_b8row_u(<unsigned char*>(s.y + (r0 + i) * W), ext, W, s.size_c, s.mc, s.pc, acc)


def box8(x, Py_ssize_t size_r, Py_ssize_t start_r, int mode_r, Py_ssize_t size_c,
         Py_ssize_t start_c, int mode_c, out, int cval, int n_threads, magic_r, magic_c):
    """``uniform2d`` of an 8-bit image (uint8 or int8, ``out`` of the same dtype) on 16-bit
    integer lanes: SciPy's result exactly. ``magic_r`` / ``magic_c``: ``magic16(size, top)`` of
    each axis with ``top = 255 * size`` (uint8) or ``128 * size`` (int8); ``cval`` within the
    dtype; ``-size < start <= 0`` on axis 1; sizes up to BOX8_MAX."""
    cdef Box8 s
    cdef Py_ssize_t n_items, item, per
    cdef double* base
    if x.ndim != 2 or out.shape != x.shape or x.dtype != out.dtype:
        raise ValueError("x must be 2-D and out of the same shape and dtype")
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("x and out must be C-contiguous")
    if x.dtype != np.uint8 and x.dtype != np.int8:
        raise TypeError(f"unsupported dtype {x.dtype}")
    if not (1 <= size_r <= BOX8_MAX and 1 <= size_c <= BOX8_MAX):
        raise ValueError(f"sizes must be within 1..{BOX8_MAX}")
    if not -size_c < start_c <= 0:
        raise ValueError("start_c must be within -size_c + 1..0")
    info = np.iinfo(x.dtype)
    if not info.min <= cval <= info.max:
        raise ValueError("cval must be within the dtype's range")
    s.H, s.W = x.shape[0], x.shape[1]
    if s.H == 0 or s.W == 0:
        return out
    s.size_r, s.start_r, s.mode_r = size_r, start_r, mode_r
    s.size_c, s.start_c, s.mode_c = size_c, start_c, mode_c
    s.cval = cval
    s.sgn = x.dtype == np.int8
    s.mr, s.pr = magic_r
    s.mc, s.pc = magic_c
    s.R = BOX8_ROWS
    s.x = <char*><size_t>x.ctypes.data
    s.y = <char*><size_t>out.ctypes.data
    n_items = (s.H + s.R - 1) // s.R
    n_threads = _team(n_threads, n_items, s.H * s.W * 8)
    # in doubles: run (W) + acc (1280) + ext (W + size_c - 1) + 16 spare, 2 bytes each; crow W
    area, per = _scratch(n_threads, (2 * (2 * s.W + s.size_c + 1296) + s.W) // 8 + 8)
    base = _aligned(area)
    with nogil:
        _run(_b8_job, &s, n_items, base, per, n_threads)
    return out


cdef void _b8_job(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _b8_item(<const Box8*>job, item, <unsigned short*>work)


# ---- N-D correlation results re-checked near truncation boundaries ----

# cl_flag_S: flags[i] = 1 where y = res[i] has an integer boundary within e (vectorised truncs);
# returns how many
cdef extern from *:
    """
    #include <math.h>
    #define CL_T_FLAG(R, S, TR)                                                                 \
    static Py_ssize_t cl_flag_##S(unsigned char *__restrict flags,                    \
                                            const R *__restrict res, Py_ssize_t m, R e) {       \
        Py_ssize_t i, n = 0;                                                                    \
        for (i = 0; i < m; i++) {                                                               \
            unsigned char f = TR(res[i] - e) != TR(res[i] + e);                                 \
            flags[i] = f;                                                                       \
            n += f;                                                                             \
        }                                                                                       \
        return n;                                                                               \
    }
    CL_T_FLAG(double, d, trunc)
    CL_T_FLAG(float, f, truncf)
    """
    double trunc(double v) noexcept nogil
    Py_ssize_t cl_flag_d(unsigned char* flags, const double* res, Py_ssize_t m,
                         double e) noexcept nogil
    Py_ssize_t cl_flag_f(unsigned char* flags, const float* res, Py_ssize_t m,
                         float e) noexcept nogil


cdef struct Nd:
    const char* x
    const double* w
    int tin, ndim, mode
    Py_ssize_t n, kn, isz
    Py_ssize_t shape[32]
    Py_ssize_t kshape[32]
    Py_ssize_t start[32]
    Py_ssize_t xstride[32]            # elements
    double cval
    void* res                         # the results (float or double), re-checked in chunks
    Py_ssize_t chunk
    double check


cdef double _scipy_sum(const Nd* g, Py_ssize_t flat) noexcept nogil:
    """The correlation at output `flat` as scipy.ndimage computes it: 0.0, then w[k] * X[...] added
    for every kernel element k in C order (X: x extended by the edge rule, cval outside)."""
    cdef Py_ssize_t o[32]
    cdef Py_ssize_t k[32]
    cdef Py_ssize_t d, i, off, idx, rem = flat
    cdef double tmp = 0.0, v
    cdef bint outside
    for d in range(g.ndim - 1, -1, -1):
        o[d] = rem % g.shape[d]
        rem = rem // g.shape[d]
        k[d] = 0
    for i in range(g.kn):
        off = 0
        outside = False
        for d in range(g.ndim):
            idx = map_index(o[d] + g.start[d] + k[d], g.shape[d], g.mode)
            if idx < 0:
                outside = True
                break
            off += idx * g.xstride[d]
        if outside:
            v = g.cval
        else:
            cl_load_d(&v, 1, g.x + off * g.isz, g.isz, 1, g.tin)
        tmp += g.w[i] * v
        d = g.ndim - 1
        while d >= 0:
            k[d] += 1
            if k[d] < g.kshape[d]:
                break
            k[d] = 0
            d -= 1
    return tmp


cdef void _recheck_chunk(const Nd* g, floating* res, Py_ssize_t i0, Py_ssize_t i1,
                         floating e) noexcept nogil:
    cdef Py_ssize_t i, n
    cdef unsigned char flags[RECHECK_CHUNK]
    if floating is float:
        n = cl_flag_f(flags, res + i0, i1 - i0, e)
    else:
        n = cl_flag_d(flags, res + i0, i1 - i0, e)
    if n == 0:
        return
    for i in range(i0, i1):
        if flags[i - i0]:
            res[i] = <floating>trunc(_scipy_sum(g, i))


def recheck(res, x, w, start, int mode, double cval, double check, int n_threads):
    """Make an approximate N-D correlation truncate as SciPy's does.

    ``res`` (float32 or float64) holds ``out[o] = sum over k of w[k] * X[start + o + k]`` (``X``:
    ``x`` extended by ``mode``, ``cval`` outside; ``w`` float64, ``x``, ``res`` and ``w``
    C-contiguous of one ndim, ``res`` of ``x``'s shape) to within ``check`` of SciPy's double
    result. Every output with an integer boundary within ``check`` of it is replaced by SciPy's
    double sum truncated toward zero (an integer), so that storing ``res`` into an integer array
    by C's conversion then gives SciPy's result bit for bit.
    """
    cdef Nd g
    cdef Py_ssize_t d, nchunks, chunk = RECHECK_CHUNK, c, i0, i1
    cdef double[::1] rd
    cdef float[::1] rf
    cdef const double[::1] wflat
    if res.shape != x.shape or not (res.flags.c_contiguous and x.flags.c_contiguous):
        raise ValueError("res and x must be C-contiguous and of the same shape")
    if res.dtype not in (np.float32, np.float64) or x.dtype not in _CODES:
        raise TypeError(f"unsupported dtypes {x.dtype} -> {res.dtype}")
    if not 1 <= x.ndim <= 32 or len(start) != x.ndim or w.ndim != x.ndim:
        raise ValueError("start and w need one entry per axis of x (at most 32)")
    if w.dtype != np.float64 or not w.flags.c_contiguous or w.size == 0:
        raise ValueError("w must be a non-empty C-contiguous float64 array")
    wflat = w.reshape(-1)
    kshape = w.shape
    starts = start
    g.x = <char*><size_t>x.ctypes.data
    g.w = &wflat[0]
    g.tin, g.ndim, g.mode, g.isz = _CODES[x.dtype], x.ndim, mode, x.dtype.itemsize
    g.n, g.kn, g.cval = x.size, w.size, cval
    for d in range(g.ndim):
        g.shape[d], g.kshape[d], g.start[d] = x.shape[d], kshape[d], starts[d]
        g.xstride[d] = x.strides[d] // x.dtype.itemsize
    if g.n == 0:
        return res
    nchunks = (g.n + chunk - 1) // chunk
    n_threads = _team(n_threads, nchunks, g.n)
    g.chunk, g.check = chunk, check
    cdef bint single = res.dtype == np.float32
    if single:
        rf = res.reshape(-1)
        g.res = &rf[0]
    else:
        rd = res.reshape(-1)
        g.res = &rd[0]
    with nogil:
        _run(_recheck_f if single else _recheck_d, &g, nchunks, NULL, 0, n_threads)
    return res


cdef void _recheck_f(const void* job, Py_ssize_t c, double* work) noexcept nogil:
    cdef const Nd* g = <const Nd*>job
    cdef Py_ssize_t i0 = c * g.chunk
    _recheck_chunk(g, <float*>g.res, i0, min(i0 + g.chunk, g.n), <float>g.check)


cdef void _recheck_d(const void* job, Py_ssize_t c, double* work) noexcept nogil:
    cdef const Nd* g = <const Nd*>job
    cdef Py_ssize_t i0 = c * g.chunk
    _recheck_chunk(g, <double*>g.res, i0, min(i0 + g.chunk, g.n), g.check)


# ---- 2-D correlation of integer images on float buffers, re-checked (see correlate2d) ----

cdef struct C2:
    char* x
    char* y
    const float* wf
    const double* wd
    Py_ssize_t H, W, R, Kr, Kc, start_r, start_c, isz, osz, n_ext, ptr_off
    int tin, tout, mode
    double cval
    float check


cdef void _c2_item(const C2* s, Py_ssize_t item, float* work, const float** src) noexcept nogil:
    """Output rows [r0, r0 + R): the strip's input rows extended along both axes, then for each
    output row every tap as a shifted extended row."""
    cdef Py_ssize_t r0 = item * s.R
    cdef Py_ssize_t nr = s.H - r0 if s.H - r0 < s.R else s.R
    cdef Py_ssize_t W = s.W, n_ext = s.n_ext, p, q, i, a, b, idx, ridx, lo, hi, t0, n
    cdef float* rows = work                         # (R + Kr - 1) x n_ext
    cdef float* acc = rows + (s.R + s.Kr - 1) * n_ext   # TILE
    cdef float* row
    lo = -s.start_c if s.start_c < 0 else 0     # ext positions [lo, hi) read inside a row
    hi = W - s.start_c if W - s.start_c < n_ext else n_ext
    if lo > hi:
        lo = hi
    for p in range(nr + s.Kr - 1):
        row = rows + p * n_ext
        ridx = map_index(r0 + s.start_r + p, s.H, s.mode)
        if ridx < 0:
            for q in range(n_ext):
                row[q] = <float>s.cval
            continue
        _load(row + lo, 1, s.x + (ridx * W + s.start_c + lo) * s.isz, s.isz, hi - lo, s.tin)
        q = 0
        while q < n_ext:            # the ends, [0, lo) and [hi, n_ext)
            if lo <= q < hi:
                q = hi
                continue
            idx = map_index(s.start_c + q, W, s.mode)
            if idx < 0:
                row[q] = <float>s.cval
            else:
                _load(row + q, 1, s.x + (ridx * W + idx) * s.isz, s.isz, 1, s.tin)
            q += 1
    for i in range(nr):
        t0 = 0
        while t0 < W:
            n = W - t0 if W - t0 < TILE else TILE
            for a in range(s.Kr):
                for b in range(s.Kc):
                    src[a * s.Kc + b] = rows + (i + a) * n_ext + b + t0
            cl_taps2_f(acc, src, s.wf, s.Kr * s.Kc, n)
            if s.check > 0:
                cl_check2_f(acc, src, s.wd, s.Kr * s.Kc, n, s.check)
            _store(s.y + ((r0 + i) * W + t0) * s.osz, s.osz, acc, 1, n, s.tout)
            t0 += n


def correlate2d(x, w, out, Py_ssize_t start_r, Py_ssize_t start_c, int mode, double cval,
                double check, int n_threads):
    """``out[r, c] = sum over (a, b) of w[a, b] * X[start_r + r + a, start_c + c + b]`` for a
    C-contiguous 2-D image ``x`` and ``out`` of its shape, ``w`` a C-contiguous 2-D float64 kernel
    (``X``: ``x`` extended by ``mode`` along both axes, ``cval`` outside), with float buffers.

    For integer data into an integer ``out`` with ``check > 0`` (a margin proven as for
    :func:`correlate`'s): the outputs within ``check`` of a truncation boundary are computed again
    in double, from 0.0 adding ``w[a, b] * X[...]`` in C order as scipy.ndimage.correlate does, so
    the result is SciPy's bit for bit. Each strip of output rows reads its input rows once,
    extended in a float buffer; every tap is then a contiguous sweep over an output tile.
    """
    cdef C2 s
    cdef Py_ssize_t n_items, item, per
    cdef double* base
    cdef const float[::1] wf
    cdef const double[::1] wd
    cdef Py_ssize_t[::1] ptrs
    if x.ndim != 2 or out.shape != x.shape or w.ndim != 2:
        raise ValueError("x and w must be 2-D and out of x's shape")
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("x and out must be C-contiguous")
    if x.dtype not in _CODES or out.dtype not in _CODES:
        raise TypeError(f"unsupported dtypes {x.dtype} -> {out.dtype}")
    if w.size == 0:
        raise ValueError("weights must not be empty")
    s.H, s.W = x.shape[0], x.shape[1]
    if s.H == 0 or s.W == 0:
        return out
    wd = np.ascontiguousarray(w, dtype=np.float64).reshape(-1)
    wf = np.asarray(wd, dtype=np.float32)
    s.wf, s.wd = &wf[0], &wd[0]
    s.Kr, s.Kc = w.shape[0], w.shape[1]
    s.start_r, s.start_c, s.mode, s.cval = start_r, start_c, mode, cval
    s.check = _check(True, check)
    s.isz, s.osz = x.dtype.itemsize, out.dtype.itemsize
    s.tin, s.tout = _CODES[x.dtype], _CODES[out.dtype]
    s.n_ext = s.W + s.Kc - 1
    s.R = 16 if s.Kr <= 9 else 2 * (s.Kr - 1)
    s.x = <char*><size_t>x.ctypes.data
    s.y = <char*><size_t>out.ctypes.data
    n_items = (s.H + s.R - 1) // s.R
    n_threads = _team(n_threads, n_items, s.H * s.W * s.Kr * s.Kc)
    # floats per thread: the rows and a tile, counted in doubles; then the tap pointers
    # floats per thread: the rows and a tile, counted in doubles; then the tap pointers
    s.ptr_off = ((s.R + s.Kr - 1) * s.n_ext + TILE) // 2 + 8
    area, per = _scratch(n_threads, s.ptr_off + s.Kr * s.Kc)
    base = _aligned(area)
    with nogil:
        _run(_c2_job, &s, n_items, base, per, n_threads)
    return out


cdef void _c2_job(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    cdef const C2* s = <const C2*>job
    _c2_item(s, item, <float*>work, <const float**>(work + s.ptr_off))
