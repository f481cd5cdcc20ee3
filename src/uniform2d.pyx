"""The 2-D uniform filter (scipy.ndimage.uniform_filter of an image) in one sweep: the running
means of ``lines.uniform`` along axis 0 and then along axis 1, on the double or float line buffers
of src/linebuf.pxd (8-bit images into their own dtype have ``box8``).
"""
import numpy as np

from .linework import array_codes as _array_codes, work_area as _work_area

from buffers cimport address
from fused cimport floating
from linebuf cimport (CL_INT32, TILE, buffer_code, cl_boxsum, cl_colrun, cl_rowrun, cl_store,
                      cl_store_fit_f, load_row, recip, round_to, run_job, running)
from modes cimport map_index
from parallel cimport import_parallel

import_parallel()  # the one runner of the process (src/parallel.pxd)


cdef enum:
    BOX_DIRECT = 32      # float buffers add up row windows of up to 32 directly


cdef inline void _colrun(floating* mid, Py_ssize_t ms, floating* run, const floating* rows,
                         Py_ssize_t nr, Py_ssize_t W, Py_ssize_t size, int tin,
                         bint trunc) noexcept nogil:
    """The running means down the columns; `trunc` (float buffers): truncated toward zero, which
    is their rounding into an integer output whose range holds every mean (no wrapping)."""
    if floating is float:
        cl_colrun(mid, ms, run, rows, nr, W, size, recip(size, tin), trunc)
    else:
        cl_colrun(mid, ms, run, rows, nr, W, size, 0.0, 0)   # divided by size, as SciPy


cdef inline void _boxsum(floating* out, const floating* ext, Py_ssize_t W, Py_ssize_t size,
                         int tin) noexcept nogil:
    cl_boxsum(out, ext, W, size, recip(size, tin) if floating is float else 1.0 / size)


cdef struct Box:
    char* x
    char* y
    Py_ssize_t H, W, R, isz, osz, size_r, size_c, start_r, start_c
    int mode_r, mode_c, tin, tout
    bint trunc                # integer means that fit the output: rounding = truncation
    double cval


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
    # double buffers into float64: the extended rows likewise, whose running sums (SciPy's) are
    # then taken along each row where it lies (cl_rowrun: no interleaving of 16 rows)
    cdef bint rowrun = floating is double and s.tout == buffer_code(work) and s.start_c <= 0
    cdef Py_ssize_t ms = n_ext if direct or rowrun else W
    cdef Py_ssize_t off = -s.start_c if direct or rowrun else 0
    cdef floating* run = work                   # W: running sums down the columns
    cdef floating* rows = run + W               # (R + size_r - 1) x W: the strip's input rows
    cdef floating* mid = rows + (s.R + s.size_r - 1) * W   # R x ms: the axis-0 result (rounded)
    cdef floating* ext = mid + s.R * n_ext      # n_ext x 16
    cdef floating* acc = ext + n_ext * 16       # TILE
    cdef floating* run16 = acc + TILE           # 16
    cdef const floating* src = rows
    if (s.tin == buffer_code(rows) and r0 + s.start_r >= 0
            and r0 + s.start_r + nr + s.size_r - 1 <= s.H):
        # data of the buffers' type, the strip's rows all inside: read where they are
        src = <const floating*>s.x + (r0 + s.start_r) * W
    else:
        for j in range(nr + s.size_r - 1):
            load_row(rows + j * W, s.x, map_index(r0 + s.start_r + j, s.H, s.mode_r), W, s.isz,
                     s.tin, s.cval)
    # axis 0: the window of the strip's first row added up, then entering minus leaving rows
    _colrun(mid + off, ms, run, src, nr, W, s.size_r, s.tin, s.trunc)
    if not (floating is float and s.trunc):
        for i in range(nr):
            round_to(mid + off + i * ms, W, s.tout)
    lo = -s.start_c if s.start_c < 0 else 0     # ext positions [lo, hi) read inside the row
    hi = W - s.start_c if W - s.start_c < n_ext else n_ext
    if lo > hi:
        lo = hi
    if rowrun:
        for i in range(nr):
            _box_ext(s, mid + off + i * ms, ms, mid + i * ms, lo, hi, 1, 1)
        cl_rowrun(<floating*>s.y + r0 * W, W, mid, ms, nr, W, s.size_c)
        return
    if direct:
        for i in range(nr):
            _box_ext(s, mid + off + i * ms, ms, mid + i * ms, lo, hi, 1, 1)
            if s.tout == buffer_code(ext):      # float32 results: written where they go
                _boxsum(<floating*>s.y + (r0 + i) * W, mid + i * ms, W, s.size_c, s.tin)
                continue
            _boxsum(ext, mid + i * ms, W, s.size_c, s.tin)
            if floating is float:
                if s.trunc and s.tout <= CL_INT32:
                    # means of integers that fit the output: truncated with no range check
                    cl_store_fit_f(s.y + (r0 + i) * W * s.osz, ext, W, s.tout)
                    continue
            cl_store(s.y + (r0 + i) * W * s.osz, s.osz, ext, 1, W, s.tout)
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
            running(acc, run16, ext, q0, nq, 16, s.size_c)
            for b in range(nb):
                cl_store(s.y + ((r0 + g0 + b) * W + q0) * s.osz, s.osz, acc + b, 16, nq, s.tout)
            q0 += nq
        g0 += nb


def uniform2d(x, Py_ssize_t size_r, Py_ssize_t start_r, int mode_r, Py_ssize_t size_c,
              Py_ssize_t start_c, int mode_c, out, double cval, int n_threads,
              bint single=False):
    """The running means of ``uniform`` along axis 0 and then axis 1 of a 2-D image, one sweep.

    Each strip of output rows starts its running sums down the columns afresh (the window of its
    first row added up), which is exact for integer images and equal to rounding otherwise; the
    axis-0 result is stored in ``out``'s dtype and read back as SciPy's intermediate array is.
    ``single`` computes with float buffers (as ``lines.uniform``).
    """
    cdef Box s
    cdef Py_ssize_t n_items
    if x.ndim != 2 or out.shape != x.shape:
        raise ValueError("x must be 2-D and out of the same shape")
    s.tin, s.tout = _array_codes(x, out)
    if size_r < 1 or size_c < 1:
        raise ValueError("sizes must be positive")
    s.H, s.W = x.shape[0], x.shape[1]
    if s.H == 0 or s.W == 0:
        return out
    s.isz, s.osz = x.dtype.itemsize, out.dtype.itemsize
    s.size_r, s.start_r, s.mode_r = size_r, start_r, mode_r
    s.size_c, s.start_c, s.mode_c = size_c, start_c, mode_c
    s.cval = cval
    # integer data whose every mean (of samples and cval) fits the output and an int
    s.trunc = (x.dtype.kind in "iu" and out.dtype.kind in "iu" and out.dtype.itemsize <= 4
               and np.can_cast(x.dtype, out.dtype, "safe")
               and np.iinfo(out.dtype).min <= cval <= np.iinfo(out.dtype).max)
    s.R = 32
    s.x = address(x)
    s.y = address(out)
    n_items = (s.H + s.R - 1) // s.R
    run_job(_box_f if single else _box_d, &s, n_items,
            (1 + s.R + s.size_r - 1) * s.W + (s.W + s.size_c - 1) * (s.R + 16) + TILE + 16,
            n_threads, _work_area)
    return out


cdef void _box_f(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _box_item(<const Box*>job, item, <float*>work)


cdef void _box_d(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _box_item(<const Box*>job, item, work)

