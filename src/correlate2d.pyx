"""2-D correlation of integer images on float or double buffers (scipy.ndimage.correlate of a 2-D
image with a kernel that does not separate), re-checked near truncation boundaries so that the
result is SciPy's bit for bit (see ``correlate2d``; the C: src/c/line_taps.h, trunc_check.h, and
on float buffers in AVX2 builds on CPUs with FMA, the multiply-add taps of src/c/taps2d.h).
"""
import numpy as np

from .linework import array_codes as _array_codes, work_area as _work_area

from buffers cimport address
from fused cimport floating
from linebuf cimport (CL_INT32, TILE, check_margin, cl_check2, cl_load, cl_store, cl_store_fit_f,
                      cl_taps2, run_job)
from modes cimport map_index
from parallel cimport import_parallel

import_parallel()  # the one runner of the process (src/parallel.pxd)


cdef extern from "c/taps2d.h":
    int cl_taps2d_ready() noexcept nogil
    int cl_taps2d_f(float* acc, const float* rows, Py_ssize_t n, const float* w, const double* wd,
                    Py_ssize_t Kr, Py_ssize_t Kc, Py_ssize_t T, float e,
                    double e2) noexcept nogil
    int cl_taps2d_f2(float* acc0, float* acc1, const float* rows, Py_ssize_t n, const float* w,
                     const double* wd, Py_ssize_t Kr, Py_ssize_t Kc, Py_ssize_t T, float e,
                     double e2) noexcept nogil


def taps2d_available():
    """Whether this build and CPU have the multiply-add taps of c/taps2d.h (AVX2 builds, FMA)."""
    return bool(cl_taps2d_ready())


cdef struct C2:
    char* x
    char* y
    const float* wf
    const double* wd
    Py_ssize_t H, W, R, Kr, Kc, start_r, start_c, isz, osz, n_ext, ptr_off
    int tin, tout, mode
    bint dbl                # double buffers (else float)
    double cval, check
    float fma_check         # the margins of the multiply-add taps (c/taps2d.h)
    double fma_check2


cdef inline void _store_taps(const C2* s, Py_ssize_t r, Py_ssize_t t0, const float* acc,
                             Py_ssize_t n) noexcept nogil:
    """Outputs [t0, t0 + n) of row r from the multiply-add taps' truncated sums: integers below
    2**24 (the margins need it), so a dtype of at most 32 bits takes them with no range check
    (cl_store_fit_f, the same conversion as cl_store's for values that fit an int)."""
    cdef char* d = s.y + (r * s.W + t0) * s.osz
    if s.tout <= CL_INT32:
        cl_store_fit_f(d, acc, n, s.tout)
    else:
        cl_store(d, s.osz, acc, 1, n, s.tout)


cdef void _c2_item(const C2* s, Py_ssize_t item, floating* work,
                   const floating** src) noexcept nogil:
    """Output rows [r0, r0 + R): the strip's input rows extended along both axes, then for each
    output row every tap as a shifted extended row."""
    cdef Py_ssize_t r0 = item * s.R
    cdef Py_ssize_t nr = s.H - r0 if s.H - r0 < s.R else s.R
    cdef Py_ssize_t W = s.W, n_ext = s.n_ext, p, q, i, a, b, idx, ridx, lo, hi, t0, n
    cdef floating* rows = work                      # (R + Kr - 1) x n_ext
    cdef floating* acc = rows + (s.R + s.Kr - 1) * n_ext   # TILE, then another for a pair
    cdef floating* row
    cdef const floating* w
    if floating is double:
        w = s.wd
    else:
        w = s.wf
    lo = -s.start_c if s.start_c < 0 else 0     # ext positions [lo, hi) read inside a row
    hi = W - s.start_c if W - s.start_c < n_ext else n_ext
    if lo > hi:
        lo = hi
    for p in range(nr + s.Kr - 1):
        row = rows + p * n_ext
        ridx = map_index(r0 + s.start_r + p, s.H, s.mode)
        if ridx < 0:
            for q in range(n_ext):
                row[q] = <floating>s.cval
            continue
        cl_load(row + lo, 1, s.x + (ridx * W + s.start_c + lo) * s.isz, s.isz, hi - lo, s.tin)
        q = 0
        while q < n_ext:            # the ends, [0, lo) and [hi, n_ext)
            if lo <= q < hi:
                q = hi
                continue
            idx = map_index(s.start_c + q, W, s.mode)
            if idx < 0:
                row[q] = <floating>s.cval
            else:
                cl_load(row + q, 1, s.x + (ridx * W + idx) * s.isz, s.isz, 1, s.tin)
            q += 1
    i = 0
    while i < nr:
        if floating is float:
            # two output rows a sweep on the multiply-add taps: their input rows loaded once
            if s.check > 0 and i + 1 < nr:
                t0 = 0
                while t0 < W:
                    n = W - t0 if W - t0 < TILE else TILE
                    if not cl_taps2d_f2(acc, acc + TILE, rows + i * n_ext + t0, n_ext, w, s.wd,
                                        s.Kr, s.Kc, n, s.fma_check, s.fma_check2):
                        break
                    _store_taps(s, r0 + i, t0, acc, n)
                    _store_taps(s, r0 + i + 1, t0, acc + TILE, n)
                    t0 += n
                if t0 >= W:
                    i += 2
                    continue
        t0 = 0
        while t0 < W:
            n = W - t0 if W - t0 < TILE else TILE
            if floating is float:
                # by multiply-adds where the build and the CPU have them, truncated and checked
                if s.check > 0 and cl_taps2d_f(acc, rows + i * n_ext + t0, n_ext, w, s.wd, s.Kr,
                                               s.Kc, n, s.fma_check, s.fma_check2):
                    _store_taps(s, r0 + i, t0, acc, n)
                    t0 += n
                    continue
            for a in range(s.Kr):
                for b in range(s.Kc):
                    src[a * s.Kc + b] = rows + (i + a) * n_ext + b + t0
            cl_taps2(acc, src, w, s.Kr * s.Kc, n)
            if s.check > 0:
                cl_check2(acc, src, s.wd, s.Kr * s.Kc, n, <floating>s.check)
            cl_store(s.y + ((r0 + i) * W + t0) * s.osz, s.osz, acc, 1, n, s.tout)
            t0 += n
        i += 1


def correlate2d(x, w, out, Py_ssize_t start_r, Py_ssize_t start_c, int mode, double cval,
                double check, int n_threads, bint double=False, fma_checks=None):
    """``out[r, c] = sum over (a, b) of w[a, b] * X[start_r + r + a, start_c + c + b]`` for a
    C-contiguous 2-D image ``x`` and ``out`` of its shape, ``w`` a C-contiguous 2-D float64 kernel
    (``X``: ``x`` extended by ``mode`` along both axes, ``cval`` outside), with float buffers (or
    double ones: ``double=True``).

    For integer data into an integer ``out`` with ``check > 0`` (a margin proven as for
    ``lines.correlate``'s, for float sums or for double sums in another order than SciPy's): the
    outputs within ``check`` of a truncation boundary are computed again in double, from 0.0
    adding ``w[a, b] * X[...]`` in C order as scipy.ndimage.correlate does, so the result is
    SciPy's bit for bit. Each strip of output rows reads its input rows once, extended in a
    buffer; every tap is then a contiguous sweep over an output tile.

    ``fma_checks``: (float margin, double margin) of the multiply-add taps of c/taps2d.h when
    they run (float buffers, ``check > 0``, ``taps2d_available()``), tighter than ``check`` for
    their order of operations (see convcore/ndimage/_engine.py); default ``check`` and
    ``check * 2**-27`` (``check`` as lines.correlate's: ``(K + 4) 2**-24 S``).
    """
    cdef C2 s
    cdef Py_ssize_t n_items, size
    cdef const float[::1] wf
    cdef const double[::1] wd
    if x.ndim != 2 or out.shape != x.shape or w.ndim != 2:
        raise ValueError("x and w must be 2-D and out of x's shape")
    s.tin, s.tout = _array_codes(x, out)
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
    s.dbl = double
    check_margin(True, check)           # validated; kept in double for double buffers
    s.check = check
    e, e2 = (check, check * 2.0 ** -27) if fma_checks is None else fma_checks
    s.fma_check, s.fma_check2 = check_margin(True, e), e2
    if not e2 >= 0:
        raise ValueError("fma_checks must be non-negative numbers")
    s.isz, s.osz = x.dtype.itemsize, out.dtype.itemsize
    s.n_ext = s.W + s.Kc - 1
    # float buffers: strips of 32 rows, fewer rows read twice than 16 (2048x2048 uint8, 5x5
    # kernel, one thread, AVX2: 1-4% less CPU time); double buffers keep 16 (twice the bytes)
    s.R = (16 if double else 32) if s.Kr <= 9 else 2 * (s.Kr - 1)
    s.x = address(x)
    s.y = address(out)
    n_items = (s.H + s.R - 1) // s.R
    # per thread, counted in doubles: the rows and a tile, then the tap pointers
    size = (s.R + s.Kr - 1) * s.n_ext + 2 * TILE
    s.ptr_off = (size if double else size // 2) + 8
    run_job(_c2_job, &s, n_items, s.ptr_off + s.Kr * s.Kc, n_threads, _work_area)
    return out


cdef void _c2_job(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    cdef const C2* s = <const C2*>job
    if s.dbl:
        _c2_item(s, item, work, <const double**>(work + s.ptr_off))
    else:
        _c2_item(s, item, <float*>work, <const float**>(work + s.ptr_off))
