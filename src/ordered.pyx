"""N-D correlation of float64 data in scipy.ndimage's order of operations: SciPy's bits, in vectors.

One public function::

    correlate(x, w, out, start, mode, cval, n_threads)

computes, for every index ``o`` of ``out`` (``x``, ``w`` and ``out`` float64, C-contiguous, of one
ndim >= 1; ``out`` of ``x``'s shape)::

    out[o] = 0.0 + w[k0] * X[start + o + k0] + w[k1] * X[start + o + k1] + ...

added left to right over the kernel elements ``k`` in C order whose weight SciPy keeps (``|w[k]|
> DBL_EPSILON``: smaller weights, zeros and NaN, are left out of its footprint), each product
rounded before its sum. ``X`` is ``x`` extended by the edge rule ``mode`` (a code of
``src/modes.pxd``; MODE_CONSTANT reads ``cval``), ``start`` (one int per axis, any sign) the input
coordinate that ``w[0, ..., 0]`` meets for ``out[0, ..., 0]``. That is scipy.ndimage's
``NI_Correlate`` step for step, so ``out`` is SciPy's result bit for bit, NaN and infinities
included (a left-out tap never meets them).

The work: an item is a run of one output row (last axis; long rows are cut into runs so that 1-D
signals spread over the threads too). Where every tap of a kernel row reads inside ``x`` the taps
read ``x`` in place; the few outputs near the row's ends, and the rows whose window meets the
constant beyond a leading axis, read a copy of their kernel rows' samples extended by the edge
rule, in the thread's slot of the work area. Either way the sums are
``convcore_dw_taps_double`` (src/c/depthwise_wide.h): vectors of consecutive outputs kept in
registers over all the taps, built without FMA contraction (setup.py), so every build and thread
count gives the same bits.
"""
import numpy as np

from .linework import work_area as _work_area

from libc.float cimport DBL_EPSILON

from buffers cimport address
from depthwise_c cimport dw_taps
from linebuf cimport run_job
from modes cimport map_index
from ndindex cimport next_index
from parallel cimport import_parallel

import_parallel()  # the one runner of the process (src/parallel.pxd)


cdef enum:
    MAX_DIMS = 32
    RUN = 8192        # outputs per item at most (a long row is cut into runs)


cdef struct Job:
    const double* x
    double* out
    int ndim, mode
    double cval
    Py_ssize_t width, kw, runs, run, kr, nt, span  # width: of the input and output rows
    Py_ssize_t shape[MAX_DIMS]
    Py_ssize_t kshape[MAX_DIMS]
    Py_ssize_t start[MAX_DIMS]
    const Py_ssize_t* trow   # the kept taps in C order: kernel row (leading indices, flat),
    const Py_ssize_t* tcol   # column (last index)
    const double* tw         # and weight


cdef void _fill(const Job* g, double* dst, const double* row, Py_ssize_t first,
                Py_ssize_t n) noexcept nogil:
    """dst[t] = the sample that position first + t of an input row reads (row NULL: beyond a
    leading axis, the constant), t < n."""
    cdef Py_ssize_t t, i
    for t in range(n):
        if row == NULL:
            dst[t] = g.cval
        else:
            i = map_index(first + t, g.width, g.mode)
            dst[t] = g.cval if i < 0 else row[i]


cdef void _item(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    cdef const Job* g = <const Job*>job
    cdef Py_ssize_t orow = item // g.runs, a = (item % g.runs) * g.run
    cdef Py_ssize_t b = min(a + g.run, g.width)
    cdef Py_ssize_t o[MAX_DIMS]
    cdef Py_ssize_t k[MAX_DIMS]
    cdef Py_ssize_t d, r, t, rem = orow, idx, lo, hi, s, e, flat
    cdef int side
    cdef Py_ssize_t last = g.ndim - 1
    cdef Py_ssize_t* rowat = <Py_ssize_t*>work                 # kr: x's row (flat), or -1
    cdef Py_ssize_t* off = rowat + g.kr                         # nt: each tap's offset
    cdef double* ext = <double*>(off + g.nt)                    # kr rows of span samples
    cdef bint constant = False
    cdef double* outrow = g.out + orow * g.width
    for d in range(last - 1, -1, -1):
        o[d] = rem % g.shape[d]
        rem = rem // g.shape[d]
        k[d] = 0
    for r in range(g.kr):      # the input row each kernel row reads, in C order of the kernel
        flat = 0
        for d in range(last):
            idx = map_index(o[d] + g.start[d] + k[d], g.shape[d], g.mode)
            if idx < 0:
                flat = -1
                break
            flat = flat * g.shape[d] + idx
        rowat[r] = flat
        constant = constant or flat < 0
        next_index(k, g.kshape, last)
    # outputs [lo, hi) read inside x along the row for every tap (none where a row is constant)
    lo = min(max(-g.start[last], a), b)
    hi = max(min(g.width - g.kw + 1 - g.start[last], b), lo)
    if constant:
        lo = hi = b
    if hi > lo:
        for t in range(g.nt):
            off[t] = rowat[g.trow[t]] * g.width + g.start[last] + g.tcol[t]
        dw_taps(g.x + lo, outrow + lo, hi - lo, g.tw, off, g.nt, 0.0)
    for side in range(2):       # the ends: kernel rows copied, extended by the rule
        s, e = (a, lo) if side == 0 else (hi, b)
        if e <= s:
            continue
        for r in range(g.kr):
            _fill(g, ext + r * g.span, g.x + rowat[r] * g.width if rowat[r] >= 0 else NULL,
                  g.start[last] + s, e - s + g.kw - 1)
        for t in range(g.nt):
            off[t] = g.trow[t] * g.span + g.tcol[t]
        dw_taps(<const double*>ext, outrow + s, e - s, g.tw, off, g.nt, 0.0)


def correlate(x, w, out, start, int mode, double cval, int n_threads):
    """``out`` = the correlation of ``x`` with ``w`` in scipy.ndimage's order (see the module's
    docstring); returns ``out``."""
    cdef Job g
    cdef Py_ssize_t d, rows
    for a, name in ((x, "x"), (w, "w"), (out, "out")):
        if a.dtype != np.float64 or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous float64 array")
    if not 1 <= x.ndim <= MAX_DIMS or w.ndim != x.ndim or out.shape != x.shape:
        raise ValueError("x, w and out need the same ndim (1 to 32), out x's shape")
    if len(start) != x.ndim:
        raise ValueError("start needs one entry per axis")
    if out.size == 0:
        return out
    flat_w = w.reshape(-1)
    kept = np.flatnonzero(np.abs(flat_w) > DBL_EPSILON)          # SciPy's footprint, C order
    kw = w.shape[w.ndim - 1]
    trow = np.ascontiguousarray(kept // kw, dtype=np.intp)
    tcol = np.ascontiguousarray(kept % kw, dtype=np.intp)
    tw = np.ascontiguousarray(flat_w[kept])
    g.ndim, g.mode, g.cval = x.ndim, mode, cval
    for d in range(x.ndim):
        g.shape[d], g.kshape[d], g.start[d] = x.shape[d], w.shape[d], start[d]
    g.width = x.shape[x.ndim - 1]
    g.kw, g.kr, g.nt = kw, w.size // kw, kept.size
    rows = x.size // g.width
    runs = (g.width + RUN - 1) // RUN
    if rows < 4 * n_threads:   # few rows (a 1-D signal): cut them into runs of 512 or more
        runs = max(runs, min((g.width + 511) // 512, (4 * n_threads + rows - 1) // rows))
    g.runs = runs
    g.run = (g.width + runs - 1) // runs
    g.span = g.run + kw - 1
    g.x, g.out = <const double*>address(x), <double*>address(out)
    g.trow, g.tcol, g.tw = <const Py_ssize_t*>address(trow), <const Py_ssize_t*>address(tcol), \
        <const double*>address(tw)
    if g.nt == 0:          # SciPy's sum of no terms
        out[...] = 0.0
        return out
    run_job(_item, &g, rows * g.runs, g.kr + g.nt + g.kr * g.span, n_threads, _work_area)
    return out
