"""1-D filtering of every line of an N-D array along one axis, in double precision.

Two public functions; ``x`` and ``out`` are C-contiguous arrays viewed as 3-D
``(outer, n, inner)`` / ``(outer, n_out, inner)`` where the filtered axis is the middle one (the
caller reshapes: ``outer`` = product of the axes before it, ``inner`` = product of those after)::

    correlate(x, w, out, start, step, mode, cval, symmetry, n_threads)
    uniform(x, size, out, start, mode, cval, n_threads)

``correlate`` computes, for every line and every output index ``q``::

    out[o, q, i] = sum over j of  w[j] * X[o, start + q * step + j, i]

``uniform`` computes the running mean of ``size`` samples, ``X[start + q] ... X[start + q + size -
1]`` (step 1), as a running sum: the first window is added up, then each step adds the sample that
enters and subtracts the one that leaves, and every output is that sum divided by ``size``.

``X`` is the line extended by the edge rule ``mode`` (a code of ``src/_modes.pxd``; MODE_CONSTANT
reads ``cval``). ``w`` is float64 (1-D), ``start`` any int, ``step >= 1``. ``symmetry`` is 1 for a
symmetric odd-length ``w``, -1 for an antisymmetric one, 0 otherwise: the symmetric kernels add
pairs of samples first, ``w[c] * X[c] + sum over j of w[c-j] * (X[c-j] +/- X[c+j])``, outermost pair
first, and a general kernel starts from the last tap, then adds ``w[0] ...`` in order. That is
scipy.ndimage's order of operations, so float64 results are bit for bit SciPy's and integer
outputs truncate at the same places.

dtypes: ``x`` and ``out`` may be any of int8..uint64, float32, float64 (independently: e.g. uint8
in, float64 out). Every sample is read into a double buffer and every result is stored from double
by C's conversion: floats rounded, integers truncated toward zero and wrapped to the width of the
output (through a 64-bit integer), which is what SciPy returns.

Layout of the work: a work item is one line when the axis is the last one (``inner == 1``), else a
block of up to 32 neighbouring lines (consecutive ``i``): the block's samples are gathered row by
row (contiguous runs of memory) into a buffer ``buf[p * B + b]``, so the filter runs along the
buffer as contiguous loops over ``t = q * B + b`` that the C compiler vectorises, in tiles of the
output small enough to stay in L1. Items are handed out dynamically over ``n_threads`` threads;
each thread owns one buffer. Results do not depend on the thread count.
"""
from cython.parallel cimport parallel, prange
from libc.stdlib cimport free, malloc

import numpy as np

from _modes cimport MODE_CONSTANT, map_index

ctypedef signed char i8
ctypedef unsigned char u8
ctypedef short i16
ctypedef unsigned short u16
ctypedef int i32
ctypedef unsigned int u32
ctypedef long long i64
ctypedef unsigned long long u64

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

_CODES = {np.dtype(np.int8): T_I8, np.dtype(np.uint8): T_U8, np.dtype(np.int16): T_I16,
          np.dtype(np.uint16): T_U16, np.dtype(np.int32): T_I32, np.dtype(np.uint32): T_U32,
          np.dtype(np.int64): T_I64, np.dtype(np.uint64): T_U64, np.dtype(np.float32): T_F32,
          np.dtype(np.float64): T_F64}


cdef struct Geom:
    char* x
    char* y
    Py_ssize_t outer, n, inner, n_out, ext, B, n_blocks
    Py_ssize_t isz, osz, start, step
    int tin, tout, mode
    double cval


cdef void _load(double* d, const char* s, Py_ssize_t m, int t) noexcept nogil:
    """d[k] = (double) s[k] for k < m, s of type code t."""
    cdef Py_ssize_t k
    if t == T_F64:
        for k in range(m):
            d[k] = (<const double*>s)[k]
    elif t == T_F32:
        for k in range(m):
            d[k] = (<const float*>s)[k]
    elif t == T_U8:
        for k in range(m):
            d[k] = (<const u8*>s)[k]
    elif t == T_I8:
        for k in range(m):
            d[k] = (<const i8*>s)[k]
    elif t == T_U16:
        for k in range(m):
            d[k] = (<const u16*>s)[k]
    elif t == T_I16:
        for k in range(m):
            d[k] = (<const i16*>s)[k]
    elif t == T_U32:
        for k in range(m):
            d[k] = (<const u32*>s)[k]
    elif t == T_I32:
        for k in range(m):
            d[k] = (<const i32*>s)[k]
    elif t == T_U64:
        for k in range(m):
            d[k] = <double>(<const u64*>s)[k]
    else:
        for k in range(m):
            d[k] = <double>(<const i64*>s)[k]


cdef inline u64 _to_u64(double v) noexcept nogil:
    if v < 0:
        return <u64>(<i64>v)
    return <u64>v


cdef void _store(char* d, const double* s, Py_ssize_t m, int t) noexcept nogil:
    """d[k] = s[k] converted to type code t (integers: truncation, then wrap-around)."""
    cdef Py_ssize_t k
    if t == T_F64:
        for k in range(m):
            (<double*>d)[k] = s[k]
    elif t == T_F32:
        for k in range(m):
            (<float*>d)[k] = <float>s[k]
    elif t == T_U8:
        for k in range(m):
            (<u8*>d)[k] = <u8>(<i64>s[k])
    elif t == T_I8:
        for k in range(m):
            (<i8*>d)[k] = <i8>(<i64>s[k])
    elif t == T_U16:
        for k in range(m):
            (<u16*>d)[k] = <u16>(<i64>s[k])
    elif t == T_I16:
        for k in range(m):
            (<i16*>d)[k] = <i16>(<i64>s[k])
    elif t == T_U32:
        for k in range(m):
            (<u32*>d)[k] = <u32>(<i64>s[k])
    elif t == T_I32:
        for k in range(m):
            (<i32*>d)[k] = <i32>(<i64>s[k])
    elif t == T_U64:
        for k in range(m):
            (<u64*>d)[k] = _to_u64(s[k])
    else:
        for k in range(m):
            (<i64*>d)[k] = <i64>s[k]


cdef void _gather(const Geom* g, Py_ssize_t item, double* buf, Py_ssize_t* i0,
                  Py_ssize_t* o, Py_ssize_t* nb) noexcept nogil:
    """Fill buf[p * B + b] with X[o, start + p, i0 + b] for p < ext (edge rule applied)."""
    cdef Py_ssize_t blk = item % g.n_blocks
    cdef Py_ssize_t p, b, idx, lo, hi
    cdef Py_ssize_t B = g.B
    o[0] = item // g.n_blocks
    i0[0] = blk * g.B
    nb[0] = g.inner - i0[0] if g.inner - i0[0] < g.B else g.B
    cdef const char* base = g.x + (o[0] * g.n * g.inner + i0[0]) * g.isz
    # p in [lo, hi) reads inside the line
    lo = -g.start if g.start < 0 else 0
    hi = g.n - g.start
    if hi > g.ext:
        hi = g.ext
    if lo > hi:
        lo = hi
    if nb[0] == g.inner and lo < hi:
        _load(buf + lo * B, base + (g.start + lo) * g.inner * g.isz, (hi - lo) * B, g.tin)
    else:
        for p in range(lo, hi):
            _load(buf + p * B, base + (g.start + p) * g.inner * g.isz, nb[0], g.tin)
    for p in range(g.ext):
        if lo <= p < hi:
            continue
        idx = map_index(g.start + p, g.n, g.mode)
        if idx < 0:
            for b in range(nb[0]):
                buf[p * B + b] = g.cval
        else:
            _load(buf + p * B, base + idx * g.inner * g.isz, nb[0], g.tin)


cdef void _put(const Geom* g, const double* acc, Py_ssize_t o, Py_ssize_t q0, Py_ssize_t nq,
               Py_ssize_t i0, Py_ssize_t nb) noexcept nogil:
    """Store acc[(q - q0) * B + b] into out[o, q, i0 + b] for q0 <= q < q0 + nq."""
    cdef Py_ssize_t q
    cdef char* dst = g.y + ((o * g.n_out + q0) * g.inner + i0) * g.osz
    if nb == g.inner and nb == g.B:
        _store(dst, acc, nq * nb, g.tout)
        return
    for q in range(nq):
        _store(dst + q * g.inner * g.osz, acc + q * g.B, nb, g.tout)


cdef void _taps(double* acc, const double* buf, Py_ssize_t nq, Py_ssize_t B, Py_ssize_t step,
                const double* w, Py_ssize_t K, int sym) noexcept nogil:
    """acc[q * B + b] = sum_j w[j] * buf[(q * step + j) * B + b], in SciPy's order of operations."""
    cdef Py_ssize_t c = K // 2
    cdef Py_ssize_t T = nq * B
    cdef Py_ssize_t t, j, q, b
    cdef double wj
    cdef const double* lo
    cdef const double* hi
    if step == 1:
        if sym != 0:
            lo = buf + c * B
            wj = w[c]
            for t in range(T):
                acc[t] = lo[t] * wj
            for j in range(c):
                lo = buf + j * B
                hi = buf + (K - 1 - j) * B
                wj = w[j]
                if sym > 0:
                    for t in range(T):
                        acc[t] += (lo[t] + hi[t]) * wj
                else:
                    for t in range(T):
                        acc[t] += (lo[t] - hi[t]) * wj
        else:
            lo = buf + (K - 1) * B
            wj = w[K - 1]
            for t in range(T):
                acc[t] = lo[t] * wj
            for j in range(K - 1):
                lo = buf + j * B
                wj = w[j]
                for t in range(T):
                    acc[t] += lo[t] * wj
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


cdef void _corr_item(const Geom* g, Py_ssize_t item, double* buf, double* acc, const double* w,
                     Py_ssize_t K, int sym) noexcept nogil:
    cdef Py_ssize_t i0, o, nb, q0, nq
    cdef Py_ssize_t per_tile = TILE // g.B
    _gather(g, item, buf, &i0, &o, &nb)
    q0 = 0
    while q0 < g.n_out:
        nq = g.n_out - q0 if g.n_out - q0 < per_tile else per_tile
        _taps(acc, buf + q0 * g.step * g.B, nq, g.B, g.step, w, K, sym)
        _put(g, acc, o, q0, nq, i0, nb)
        q0 += nq


cdef void _uniform_item(const Geom* g, Py_ssize_t item, double* buf, double* acc, double* run,
                        Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t i0, o, nb, q0, nq, q, b, j, B = g.B
    cdef Py_ssize_t per_tile = TILE // g.B
    cdef double fs = <double>size
    _gather(g, item, buf, &i0, &o, &nb)
    for b in range(B):
        run[b] = 0.0
    for j in range(size):
        for b in range(B):
            run[b] += buf[j * B + b]
    q0 = 0
    while q0 < g.n_out:
        nq = g.n_out - q0 if g.n_out - q0 < per_tile else per_tile
        for q in range(q0, q0 + nq):
            if q > 0:
                for b in range(B):
                    run[b] += buf[(q + size - 1) * B + b] - buf[(q - 1) * B + b]
            for b in range(B):
                acc[(q - q0) * B + b] = run[b] / fs
        _put(g, acc, o, q0, nq, i0, nb)
        q0 += nq


cdef Geom _geometry(x, out, Py_ssize_t start, Py_ssize_t step, Py_ssize_t k, int mode,
                    double cval) except *:
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
    g.B = 1 if g.inner == 1 else (g.inner if g.inner < 32 else 32)
    if g.inner > 1 and x.dtype.itemsize >= 4 and g.B > 16:
        g.B = 16
    g.n_blocks = (g.inner + g.B - 1) // g.B
    g.isz, g.osz = x.dtype.itemsize, out.dtype.itemsize
    g.start, g.step = start, step
    g.tin, g.tout = _CODES[x.dtype], _CODES[out.dtype]
    g.mode, g.cval = mode, cval
    g.x = <char*><size_t>x.ctypes.data
    g.y = <char*><size_t>out.ctypes.data
    return g


def correlate(x, const double[::1] w, out, Py_ssize_t start, Py_ssize_t step, int mode,
              double cval, int symmetry, int n_threads):
    """See the module docstring."""
    cdef Py_ssize_t K = w.shape[0]
    cdef Geom g = _geometry(x, out, start, step, K, mode, cval)
    cdef Py_ssize_t n_items = g.outer * g.n_blocks
    cdef Py_ssize_t item
    cdef double* buf
    cdef double* acc
    if symmetry != 0 and K % 2 == 0:
        raise ValueError("symmetry needs an odd number of weights")
    if n_items == 0 or g.n_out == 0:
        return out
    buf = NULL
    acc = NULL
    with nogil, parallel(num_threads=n_threads):
        buf = <double*>malloc(g.ext * g.B * sizeof(double))
        acc = <double*>malloc(TILE * sizeof(double))
        if buf != NULL and acc != NULL:
            for item in prange(n_items, schedule="dynamic"):
                _corr_item(&g, item, buf, acc, &w[0], K, symmetry)
        free(buf)
        free(acc)
    return out


def uniform(x, Py_ssize_t size, out, Py_ssize_t start, int mode, double cval, int n_threads):
    """See the module docstring."""
    cdef Geom g = _geometry(x, out, start, 1, size, mode, cval)
    cdef Py_ssize_t n_items = g.outer * g.n_blocks
    cdef Py_ssize_t item
    cdef double* buf
    cdef double* acc
    cdef double* run
    if n_items == 0 or g.n_out == 0:
        return out
    buf = NULL
    acc = NULL
    run = NULL
    with nogil, parallel(num_threads=n_threads):
        buf = <double*>malloc(g.ext * g.B * sizeof(double))
        acc = <double*>malloc(TILE * sizeof(double))
        run = <double*>malloc(g.B * sizeof(double))
        if buf != NULL and acc != NULL and run != NULL:
            for item in prange(n_items, schedule="dynamic"):
                _uniform_item(&g, item, buf, acc, run, size)
        free(buf)
        free(acc)
        free(run)
    return out
