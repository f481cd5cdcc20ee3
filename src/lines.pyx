"""1-D filtering of every line of an N-D array along one axis, in double precision (or in float
where that gives SciPy's result, see ``single`` below).

Two line functions; ``x`` and ``out`` are C-contiguous arrays viewed as 3-D
``(outer, n, inner)`` / ``(outer, n_out, inner)`` where the filtered axis is the middle one (the
caller reshapes: ``outer`` = product of the axes before it, ``inner`` = product of those after)::

    correlate(x, w, out, start, step, mode, cval, symmetry, n_threads, single=False, check=0.0,
              lo=None, hi=None)
    uniform(x, size, out, start, mode, cval, n_threads, single=False)

The 2-D images have modules of their own, built on the same buffers (src/linebuf.pxd):
``separable2d`` and ``uniform2d`` (two passes in one sweep), ``box8`` (``uniform2d`` of uint8 /
int8 images on 16-bit integer lanes), ``correlate2d`` (a 2-D kernel over integer images on float
buffers) and ``recheck`` (settles an N-D correlation of integers computed in another order than
SciPy's).

``correlate`` computes, for every line and every output index ``q``::

    out[o, q, i] = sum over j of  w[j] * X[o, start + q * step + j, i]

``uniform`` computes the running mean of ``size`` samples, ``X[start + q] ... X[start + q + size -
1]`` (step 1), as a running sum: the first window is added up, then each step adds the sample that
enters and subtracts the one that leaves, and every output is that sum divided by ``size``.

``lo`` and ``hi`` (``correlate``), when given, are ``(outer, d, inner)`` arrays of ``x``'s dtype
whose lines come before and after ``x``'s: ``X`` is then the three joined along the line (a
chunk between its neighbours' edges, read where they lie instead of copied into one array), the
edge rule applying past the joined line; ``start`` still counts from ``x``'s first sample.

``out`` may be ``x`` itself (in place, with ``n_out == n`` and ``step == 1``): a work item reads
all of its lines before it writes them. Otherwise the two must not overlap.

``X`` is the line extended by the edge rule ``mode`` (a code of ``src/modes.pxd``; MODE_CONSTANT
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

``single=True`` does the same with float buffers and float weights: twice the
lanes of a vector and half the memory traffic. The caller chooses it where that is safe
(``convcore/ndimage/_engine.py``): float32 data to float32 results with short kernels (the float
sums' rounding stays far below float32's 1e-5), or integer data, weights and ``cval`` whose every
partial sum stays below 2**24 (float holds them exactly, so the results are SciPy's bit for bit).
A float running sum (``uniform``) is added up afresh from its window every 32 outputs, so that it
cannot drift along a long line.

``check = e > 0`` (with ``single``, ``correlate``) serves integer data with any
weights into an integer output: the caller proves that every float result ``y`` lies within ``e``
of SciPy's double one. Where ``[y - e, y + e]`` holds no integer boundary, both truncate to the
same integer; the few outputs where it does are computed again in double in SciPy's order. The
result is then SciPy's bit for bit.

Layout of the work: lines are filtered in blocks of ``B`` at once, their samples interleaved in a
double buffer ``buf[p * B + b]`` (line ``b``, position ``p``), so that every tap is one contiguous
loop over ``t = q * B + b`` that the C compiler vectorises (an AVX2 build of the module is picked
at import on x86-64, see convcore._cpu; no FMA, so the rounding stays SciPy's), over tiles of the
output that stay in L1 (their C: src/c/line_taps.h, window_sums.h, line_convert.h). Along an inner
axis (``inner > 1``) a block is a run of neighbouring lines, i.e. one contiguous run of each row
(whole rows where they fit, else about 256 lines: see ``_inner_block``): the rows are read and
written as streams, never across rows whose power-of-two strides would compete for the same cache
sets. Along the last axis (``inner == 1``)
a block is one line, or a chunk of 8192 outputs of a long one (``correlate``), or 16 lines read
one after the other (``uniform``, whose running sum is then vectorised across lines). Blocks are
handed out dynamically over ``n_threads`` threads (the caller's decision, convcore._threads) by the
process's one parallel runner; each thread owns one slot of a work area kept between calls (per
calling Python thread, convcore._kernels.linework), so no memory is allocated in the hot path.
Results do not depend on the thread count.
"""
import numpy as np

from .linework import array_codes as _array_codes, work_area as _work_area

from buffers cimport address
from fused cimport floating
from linebuf cimport TILE, check_margin, cl_load, cl_store, run_job, running, taps
from modes cimport map_index
from parallel cimport import_parallel

import_parallel()  # the one runner of the process (src/parallel.pxd)


cdef enum:
    LINE_CHUNK = 8192    # outputs per work item on a long line filtered on its own
    INNER_RUN = 256      # lines of a block along an inner axis (see _inner_block)
    PIECE_BYTES = 1 << 19
    WHOLE_BYTES = 1 << 21


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
    const char* lo                    # the samples before each line (dlo of them) and after it
    const char* hi                    # (dhi): its neighbours' (see ``correlate``); the edge rule
    Py_ssize_t dlo, dhi, nv           # extends the whole line of nv = dlo + n + dhi samples


cdef void _block(const Geom* g, Py_ssize_t item, Py_ssize_t* line, Py_ssize_t* i0,
                 Py_ssize_t* yoff, Py_ssize_t* nb) noexcept nogil:
    """The first line of block `item` (its outer index and inner offset), the byte offset of
    its first output, and its number of lines."""
    cdef Py_ssize_t o
    if g.inner == 1:
        o = item * g.B
        nb[0] = g.outer - o if g.outer - o < g.B else g.B
        line[0], i0[0] = o, 0
        yoff[0] = o * g.n_out * g.osz
    else:
        o = item // g.n_blocks
        i0[0] = (item % g.n_blocks) * g.B
        nb[0] = g.inner - i0[0] if g.inner - i0[0] < g.B else g.B
        line[0] = o
        yoff[0] = (o * g.n_out * g.inner + i0[0]) * g.osz


cdef inline const char* _at(const Geom* g, Py_ssize_t line, Py_ssize_t i0, Py_ssize_t v,
                            Py_ssize_t* ls) noexcept nogil:
    """Address of sample `v` (0 <= v < nv) of the extended line `line` (inner offset `i0`): in
    the piece before it, the array, or the piece after it; `ls`: the byte stride from one line of
    that piece to the next."""
    cdef const char* base = g.x
    cdef Py_ssize_t n = g.n
    if v < g.dlo:
        base, n = g.lo, g.dlo
    elif v >= g.dlo + g.n:
        base, n, v = g.hi, g.dhi, v - g.dlo - g.n
    else:
        v -= g.dlo
    ls[0] = g.isz if g.inner > 1 else n * g.isz
    return base + ((line * n + v) * g.inner + i0) * g.isz


cdef void _gather(const Geom* g, Py_ssize_t line, Py_ssize_t i0, Py_ssize_t nb, floating* buf,
                  Py_ssize_t p0, Py_ssize_t p1) noexcept nogil:
    """buf[(p - p0) * B + b] = X[line b, start + p] for p0 <= p < p1 (edge rule applied), X the
    line extended by its pieces (none: ``dlo = dhi = 0``)."""
    cdef Py_ssize_t p, b, idx, lo, hi, s = g.start + g.dlo, v0, v1, seg, ls
    cdef Py_ssize_t cuts[4]
    cdef const char* src
    # p in [lo, hi) reads inside the extended line
    lo = -s if s < 0 else 0
    hi = g.nv - s
    if lo < p0:
        lo = p0
    if hi > p1:
        hi = p1
    if lo > hi:
        lo = hi
    cuts[0], cuts[1], cuts[2], cuts[3] = 0, g.dlo, g.dlo + g.n, g.nv
    for seg in range(3):            # the runs read from each piece
        v0 = s + lo if s + lo > cuts[seg] else cuts[seg]
        v1 = s + hi if s + hi < cuts[seg + 1] else cuts[seg + 1]
        if v0 >= v1:
            continue
        if g.inner == 1:
            # lines are rows far apart: read each one in a stream (not across rows, whose
            # addresses would compete for the same cache sets)
            for b in range(nb):
                src = _at(g, line + b, 0, v0, &ls)
                cl_load(buf + (v0 - s - p0) * g.B + b, g.B, src, g.xes, v1 - v0, g.tin)
        else:
            for p in range(v0 - s, v1 - s):
                src = _at(g, line, i0, s + p, &ls)
                cl_load(buf + (p - p0) * g.B, 1, src, ls, nb, g.tin)
    p = p0
    while p < p1:                   # the positions outside the line, [p0, lo) and [hi, p1)
        if lo <= p < hi:
            p = hi
            continue
        idx = map_index(s + p, g.nv, g.mode)
        if idx < 0:
            for b in range(nb):
                buf[(p - p0) * g.B + b] = <floating>g.cval
        else:
            src = _at(g, line, i0, idx, &ls)
            cl_load(buf + (p - p0) * g.B, 1, src, ls, nb, g.tin)
        p += 1


cdef void _put(const Geom* g, const floating* acc, char* base, Py_ssize_t q0, Py_ssize_t nq,
               Py_ssize_t nb) noexcept nogil:
    """out[line b, q] = acc[(q - q0) * B + b] for q0 <= q < q0 + nq."""
    cdef Py_ssize_t q, b
    if g.inner == 1:
        for b in range(nb):
            cl_store(base + b * g.yls + q0 * g.yes, g.yes, acc + b, g.B, nq, g.tout)
    else:
        for q in range(nq):
            cl_store(base + (q0 + q) * g.yes, g.yls, acc + q * g.B, 1, nb, g.tout)


cdef void _strided_taps(floating* acc, const floating* buf, Py_ssize_t nq, Py_ssize_t B,
                        Py_ssize_t step, const floating* w, Py_ssize_t K, int sym,
                        const double* wd, float check) noexcept nogil:
    """acc[q * B + b] = sum_j w[j] * buf[(q * step + j) * B + b] (SciPy's order of operations)."""
    cdef Py_ssize_t c = K // 2
    cdef Py_ssize_t t, j, q, b
    cdef floating wj
    cdef const floating* lo
    cdef const floating* hi
    if step == 1:
        taps(acc, buf, nq * B, B, w, K, sym, wd, check)
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
    cdef Py_ssize_t line, i0, yoff, nb, q0, nq
    cdef Py_ssize_t per_tile = TILE // g.B
    cdef Py_ssize_t q_lo = (item % g.n_chunks) * g.qchunk
    cdef Py_ssize_t q_hi = q_lo + g.qchunk if q_lo + g.qchunk < g.n_out else g.n_out
    _block(g, item // g.n_chunks, &line, &i0, &yoff, &nb)
    _gather(g, line, i0, nb, buf, q_lo * g.step, (q_hi - 1) * g.step + K)
    q0 = q_lo
    while q0 < q_hi:
        nq = q_hi - q0 if q_hi - q0 < per_tile else per_tile
        _strided_taps(acc, buf + (q0 - q_lo) * g.step * g.B, nq, g.B, g.step, w, K, sym, g.wd,
                      g.check)
        _put(g, acc, g.y + yoff, q0, nq, nb)
        q0 += nq


cdef void _uniform_item(const Geom* g, Py_ssize_t item, floating* buf, floating* acc,
                        floating* run, Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t line, i0, yoff, nb, q0, nq, b, j, B = g.B
    cdef Py_ssize_t per_tile = TILE // g.B
    _block(g, item, &line, &i0, &yoff, &nb)
    _gather(g, line, i0, nb, buf, 0, g.ext)
    for b in range(B):
        run[b] = 0.0
    for j in range(size):
        for b in range(B):
            run[b] += buf[j * B + b]
    q0 = 0
    while q0 < g.n_out:
        nq = g.n_out - q0 if g.n_out - q0 < per_tile else per_tile
        running(acc, run, buf, q0, nq, B, size)
        _put(g, acc, g.y + yoff, q0, nq, nb)
        q0 += nq


cdef Py_ssize_t _inner_block(Py_ssize_t outer, Py_ssize_t inner, Py_ssize_t ext,
                             Py_ssize_t bsz) noexcept:
    """Lines a block holds along an inner axis (buffer values of `bsz` bytes, `ext` of each line).

    A block reads a run of B samples from each of `ext` rows that lie a row (or a plane) apart:
    short runs at such strides are latency-bound (measured, float32 sigma 2 on 144x272x272 and
    512^3, 1 thread: 64 lines took 1.1-1.5x the time of the choices below). Whole rows, when they
    fit a block and its buffer stays within WHOLE_BYTES, make a block one contiguous slab; else
    runs of about INNER_RUN lines, the row cut into equal pieces, with a buffer of at most
    PIECE_BYTES (it stays in L2); never fewer than 64 lines (or the row).
    """
    cdef Py_ssize_t wide, pieces
    ext = ext if ext > 1 else 1
    if inner <= TILE and outer >= 8 and inner * ext * bsz <= WHOLE_BYTES:
        return inner
    wide = PIECE_BYTES // (ext * bsz)
    wide = INNER_RUN if wide > INNER_RUN else (64 if wide < 64 else wide)
    if inner <= wide:
        return inner
    pieces = (inner + wide - 1) // wide
    return ((inner + pieces - 1) // pieces + 15) // 16 * 16


cdef Geom _geometry(x, out, Py_ssize_t start, Py_ssize_t step, Py_ssize_t k, int mode,
                    double cval, Py_ssize_t rows_per_block, Py_ssize_t bsz) except *:
    cdef Geom g
    if x.ndim != 3 or out.ndim != 3:
        raise ValueError("x and out must be 3-D (outer, n, inner)")
    if x.shape[0] != out.shape[0] or x.shape[2] != out.shape[2]:
        raise ValueError("x and out must agree on the outer and inner axes")
    g.tin, g.tout = _array_codes(x, out)
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
        g.B = _inner_block(g.outer, g.inner, g.ext, bsz)
        g.n_blocks = (g.inner + g.B - 1) // g.B
        g.n_items = g.outer * g.n_blocks
        g.xls, g.xes, g.yls, g.yes = g.isz, g.inner * g.isz, g.osz, g.inner * g.osz
    g.qchunk, g.n_chunks, g.ext_chunk = g.n_out, 1, g.ext
    if g.B == 1 and g.n_out > 2 * LINE_CHUNK and address(x) != address(out):
        # long lines one at a time: split into chunks of outputs (parallel work, small buffers);
        # not in place, where a chunk would read samples that its neighbour has overwritten
        g.qchunk = LINE_CHUNK
        g.n_chunks = (g.n_out + LINE_CHUNK - 1) // LINE_CHUNK
        g.n_items = g.n_items * g.n_chunks
        g.ext_chunk = (LINE_CHUNK - 1) * step + k
    g.start, g.step = start, step
    g.mode, g.cval = mode, cval
    g.lo = g.hi = NULL
    g.dlo = g.dhi = 0
    g.nv = g.n
    g.x = address(x)
    g.y = address(out)
    return g


def correlate(x, const double[::1] w, out, Py_ssize_t start, Py_ssize_t step, int mode,
              double cval, int symmetry, int n_threads, bint single=False, double check=0.0,
              lo=None, hi=None):
    """See the module docstring (``single``, ``check``: float buffers and weights, see there;
    ``lo``, ``hi``: the lines' neighbours, see _pieces)."""
    cdef Py_ssize_t K = w.shape[0]
    cdef Geom g = _geometry(x, out, start, step, K, mode, cval, 1, 4 if single else 8)
    _pieces(&g, x, lo, hi)
    cdef Py_ssize_t n_items = g.n_items
    cdef const float[::1] wf
    cdef CorrJob job
    if symmetry != 0 and K % 2 == 0:
        raise ValueError("symmetry needs an odd number of weights")
    g.wd, g.check = &w[0], check_margin(single, check)
    if g.check > 0 and step != 1:
        raise ValueError("check needs step 1")
    if n_items == 0 or g.n_out == 0:
        return out
    job.g, job.w, job.K, job.sym = &g, &w[0], K, symmetry
    if single:
        wf = np.asarray(w, dtype=np.float32)
        job.w = &wf[0]
    run_job(_corr_f if single else _corr_d, &job, n_items, g.ext_chunk * g.B + TILE, n_threads,
            _work_area)
    return out


cdef int _pieces(Geom* g, x, lo, hi) except -1:
    """Extend every line of `x` by the samples of `lo` before it and of `hi` after it (each C-
    contiguous ``(outer, d, inner)`` of x's dtype, or None): `start` counts from the line's
    first sample, and the edge rule applies past the extended line, as if the three were one
    array (a chunk and its neighbours' edges, without copying them together)."""
    for piece, before in ((lo, True), (hi, False)):
        if piece is None:
            continue
        if (piece.ndim != 3 or piece.dtype != x.dtype or not piece.flags.c_contiguous
                or piece.shape[0] != x.shape[0] or piece.shape[2] != x.shape[2]):
            raise ValueError("lo and hi must be C-contiguous (outer, d, inner) of x's dtype")
        if before:
            g.lo, g.dlo = address(piece), piece.shape[1]
        else:
            g.hi, g.dhi = address(piece), piece.shape[1]
    g.nv = g.dlo + g.n + g.dhi
    return 0


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
    cdef Geom g = _geometry(x, out, start, 1, size, mode, cval, 16, 4 if single else 8)
    cdef Py_ssize_t n_items = g.n_items
    cdef Py_ssize_t ext_b = g.ext * g.B
    if n_items == 0 or g.n_out == 0:
        return out
    g.size = size
    run_job(_uniform_f if single else _uniform_d, &g, n_items, ext_b + TILE + g.B, n_threads,
            _work_area)
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

