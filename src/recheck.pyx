"""An N-D correlation of integers computed in another order than SciPy's (in float, or by another
engine), made to truncate as SciPy's does: the outputs near an integer boundary are computed again
in SciPy's double order (see ``recheck``; the C: src/c/trunc_check.h).
"""
import numpy as np

from .linework import CODES as _CODES

from libc.math cimport trunc

from buffers cimport address
from fused cimport floating
from linebuf cimport cl_flag, cl_load_d, run_items, team_size
from modes cimport map_index
from ndindex cimport next_index
from parallel cimport import_parallel

import_parallel()  # the one runner of the process (src/parallel.pxd)


cdef enum:
    RECHECK_CHUNK = 4096 # outputs per work item


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
        next_index(k, g.kshape, g.ndim)
    return tmp


cdef void _recheck_chunk(const Nd* g, floating* res, Py_ssize_t i0, Py_ssize_t i1,
                         floating e) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned char flags[RECHECK_CHUNK]
    if cl_flag(flags, res + i0, i1 - i0, e) == 0:
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
    g.x = address(x)
    g.w = &wflat[0]
    g.tin, g.ndim, g.mode, g.isz = _CODES[x.dtype], x.ndim, mode, x.dtype.itemsize
    g.n, g.kn, g.cval = x.size, w.size, cval
    for d in range(g.ndim):
        g.shape[d], g.kshape[d], g.start[d] = x.shape[d], kshape[d], starts[d]
        g.xstride[d] = x.strides[d] // x.dtype.itemsize
    if g.n == 0:
        return res
    nchunks = (g.n + chunk - 1) // chunk
    n_threads = team_size(n_threads, nchunks)
    g.chunk, g.check = chunk, check
    cdef bint single = res.dtype == np.float32
    if single:
        rf = res.reshape(-1)
        g.res = &rf[0]
    else:
        rd = res.reshape(-1)
        g.res = &rd[0]
    with nogil:
        run_items(_recheck_f if single else _recheck_d, &g, nchunks, NULL, 0, n_threads)
    return res


cdef void _recheck_f(const void* job, Py_ssize_t c, double* work) noexcept nogil:
    cdef const Nd* g = <const Nd*>job
    cdef Py_ssize_t i0 = c * g.chunk
    _recheck_chunk(g, <float*>g.res, i0, min(i0 + g.chunk, g.n), <float>g.check)


cdef void _recheck_d(const void* job, Py_ssize_t c, double* work) noexcept nogil:
    cdef const Nd* g = <const Nd*>job
    cdef Py_ssize_t i0 = c * g.chunk
    _recheck_chunk(g, <double*>g.res, i0, min(i0 + g.chunk, g.n), g.check)

