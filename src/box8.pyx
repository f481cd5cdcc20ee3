"""``uniform2d`` of an 8-bit image into its own dtype (uint8 or int8) on 16-bit integer lanes, with
``magic16``'s divisions: SciPy's result exactly, twice the lanes of float32 (the C and why it is
exact: src/c/box8.h.tp).
"""
import numpy as np

from .linework import work_area as _work_area

from libc.string cimport memset

from buffers cimport address
from linebuf cimport run_job
from modes cimport map_index
from parallel cimport import_parallel

import_parallel()  # the one runner of the process (src/parallel.pxd)


cdef extern from "c/box8.h":
    void cl_b8add(unsigned short* run, const char* row, Py_ssize_t W, int sgn) noexcept nogil
    void cl_b8col(unsigned short* mid, unsigned short* run, const char* e, const char* l,
                  Py_ssize_t W, int first, unsigned short M, unsigned short P,
                  int sgn) noexcept nogil
    void cl_b8row(char* out, const unsigned short* e, Py_ssize_t W, Py_ssize_t size,
                  unsigned short M, unsigned short P, unsigned short* acc, int sgn) noexcept nogil


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
        cl_b8add(run, e, W, s.sgn)
    for i in range(nr):
        e = _b8_row(s, r0 + s.start_r + i + s.size_r - 1, crow)
        l = _b8_row(s, r0 + s.start_r + i - 1, crow)
        cl_b8col(mid, run, e, l, W, i == 0, s.mr, s.pr, s.sgn)
        p = 0
        while p < n_ext:                             # the ends, [0, lo) and [hi, n_ext)
            if p == lo:
                p = hi
                continue
            idx = map_index(s.start_c + p, W, s.mode_c)
            ext[p] = cv if idx < 0 else mid[idx]
            p += 1
        cl_b8row(s.y + (r0 + i) * W, ext, W, s.size_c, s.mc, s.pc, acc, s.sgn)


def box8(x, Py_ssize_t size_r, Py_ssize_t start_r, int mode_r, Py_ssize_t size_c,
         Py_ssize_t start_c, int mode_c, out, int cval, int n_threads, magic_r, magic_c):
    """``uniform2d`` of an 8-bit image (uint8 or int8, ``out`` of the same dtype) on 16-bit
    integer lanes: SciPy's result exactly. ``magic_r`` / ``magic_c``: ``magic16(size, top)`` of
    each axis with ``top = 255 * size`` (uint8) or ``128 * size`` (int8); ``cval`` within the
    dtype; ``-size < start <= 0`` on axis 1; sizes up to BOX8_MAX."""
    cdef Box8 s
    cdef Py_ssize_t n_items
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
    s.x = address(x)
    s.y = address(out)
    n_items = (s.H + s.R - 1) // s.R
    # in doubles: run (W) + acc (1280) + ext (W + size_c - 1) + 16 spare, 2 bytes each; crow W
    run_job(_b8_job, &s, n_items, (2 * (2 * s.W + s.size_c + 1296) + s.W) // 8 + 8, n_threads,
            _work_area)
    return out


cdef void _b8_job(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _b8_item(<const Box8*>job, item, <unsigned short*>work)

