"""Direct N-D correlation of an array with a small dense kernel, with an edge rule and a stride.

One public function::

    correlate(x, w, out, start, step, mode, cval, threads)

computes, for every index ``o`` of ``out`` (all arrays of the same ndim >= 1, C-contiguous, of one
dtype)::

    out[o] = sum over k of  w[k] * X[start + o * step + k]

where ``X`` is ``x`` extended beyond its edges by the edge rule ``mode`` (a code of
``src/modes.pxd``: MODE_CONSTANT reads ``cval``; REFLECT, MIRROR, NEAREST and WRAP read a sample of
``x`` chosen by ``modes.map_index``). ``start`` and ``step`` are sequences of ints, one per axis:
``start[d]`` (any sign) is the input coordinate that ``w[0, ..., 0]`` meets for ``out[0, ..., 0]``,
``step[d] >= 1`` the stride. ``out`` is overwritten; its shape sets the output size. This is a
*correlation* (no kernel flip): a convolution passes the reversed kernel.

dtypes: uint8/16/32/64, float32/64, complex64/128 directly. Signed integers are computed in the
unsigned type of the same width (a view, no copy): two's-complement wrap-around is defined there and
gives bit for bit the wrapped signed result, which is what SciPy returns for integer input. ``cval``
is converted to the arrays' dtype (numpy's rules). Results do not depend on ``threads``: every
output is one sum in a fixed order.

How the work is laid out: the output is a stack of rows along the last axis; a work item is one row
(or a column chunk of a long row, so 1-D signals run in parallel too), and batches of items are
handed out dynamically by the process's one parallel runner (``src/parallel.pxd``); ``threads`` is
decided by the caller (``convcore._threads.direct_threads``). For a row, the kernel's taps along
the last axis are added in groups of up to 8 per pass,
``out_row[j] += w[c]*x_row[base+j+c] + ... + w[c+7]*x_row[base+j+c+7]``, over the columns where
every tap of the group reads inside ``x``: a contiguous loop the C compiler vectorises (an
AVX2+FMA variant is picked at run time on x86), with the accumulating row hot in L1. 3- and 5-wide
kernels add up to 3 kernel rows per pass; a column kernel (one tap wide) adds up to 8 input rows
per pass. 2-D float kernels of at least 7x7 taps (stride 1, AVX2) instead compute 4 output rows
per work item with the outputs in registers, each input row loaded once for all the output rows
it meets (``cc_block``; the same sums in the same order over the interior columns). Those
passes are C in ``src/c/direct_*.h`` (declared in ``src/direct_c.pxd``), generated once per dtype
from Tempita templates; the rest is fused Cython over ``fused.modular``. Only the
few columns near the edges go through ``map_index``; rows of the leading axes that fall outside
``x`` are mapped once per output row (or read the constant). No padded copy of ``x`` is made,
except when rows are short against a wide kernel (edge columns would then dominate): the rows are
then copied once, extended along the last axis by the edge rule.
"""
import functools
import math

import numpy as np

from direct_c cimport (CC_BLOCK_ROWS, cc_anynan, cc_block, cc_pair3, cc_pair5, cc_rect, cc_row,
                       cc_rows, cc_set_flag, cc_simd_init, cc_use_avx2)
from fused cimport complexing, floating, modular
from modes cimport MODE_CONSTANT, MODE_WRAP, map_index
from parallel cimport batch_fn, batch_size, import_parallel, run_batches

import_parallel()
cc_simd_init(1)


def set_cpu_features(bint avx2):
    """Let the row kernels use their AVX2+FMA copies (when the CPU has them) or not."""
    cc_simd_init(avx2)


def cpu_features():
    """The instruction sets the row kernels use now."""
    return ("AVX2",) if cc_use_avx2 else ()


def runs_blocks(kernel_shape, step):
    """Whether a 2-D float problem with this kernel shape and step runs its inner rows by the
    4-row blocks (see _blocks): the cost model prices those apart."""
    return bool(cc_use_avx2 and len(kernel_shape) == 2 and len(step) == 2
                and BLOCK_MIN_K <= kernel_shape[0] <= BLOCK_MAX_K
                and kernel_shape[1] >= BLOCK_MIN_K and step[0] == 1 and step[1] == 1)


cdef inline void _flag_nan(const Geom* g, const modular* v, Py_ssize_t n) noexcept nogil:
    """Set g.nan_flag when one of v[0:n] is NaN (a compare per output of a row still in cache)."""
    if modular in floating or modular in complexing:
        if cc_anynan(v, n):
            cc_set_flag(<unsigned char*>g.nan_flag)


cdef enum:
    MAX_DIMS = 64
    CHUNK = 4096          # columns per work item: a long 1-D row is split across threads
    GROUP = 8             # kernel taps per pass over the accumulating row
    RECT_ROWS = 3         # kernel rows of a 3- or 5-wide kernel per pass
    BLOCK_MIN_K = 7       # 2-D float kernels at least this tall and wide: 4 rows per item (AVX2)
    BLOCK_MAX_K = 64      # ... and at most this tall (the input rows' pointers sit on the stack)


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


cdef inline modular _madd(modular acc, modular w, modular v) noexcept nogil:
    """acc + w * v with wrap-around for the small unsigned types (no promotion to signed int)."""
    if modular is "unsigned char" or modular is "unsigned short":
        return <modular>(<unsigned int>acc + <unsigned int>w * <unsigned int>v)
    else:
        return acc + w * v


cdef inline void _batch_rows(modular* d, const modular** s, const modular* w, Py_ssize_t g,
                             Py_ssize_t n) noexcept nogil:
    """d[t] += sum_{i<g} w[i] * s[i][t] (real types; complex rows never batch)."""
    if modular not in complexing:
        cc_rows(d, s, w, g, n)


cdef inline void _rect(modular* d, const modular** s, const modular* w, Py_ssize_t kw,
                       Py_ssize_t r, Py_ssize_t n, int acc) noexcept nogil:
    """d[t] += sum_{i<r} sum_{c<kw} w[i*kw + c] * s[i][t + c] (kw 3 or 5, r <= RECT_ROWS; real
    types only)."""
    if modular not in complexing:
        cc_rect(d, s, w, kw, r, n, acc)


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


cdef inline void _edges(modular* dst, const modular* src, const modular* w, Py_ssize_t c0,
                        Py_ssize_t g, Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t jlo, Py_ssize_t jhi,
                        Py_ssize_t start, Py_ssize_t step, Py_ssize_t n, int mode,
                        modular cval) noexcept nogil:
    """Taps c0 .. c0+g-1 for the columns outside [jlo, jhi), through the edge rule."""
    cdef Py_ssize_t c, j, v
    for c in range(c0, c0 + g):
        for j in range(j0, jlo):
            v = map_index(start + c + j * step, n, mode)
            dst[j] = _madd(dst[j], w[c], src[v] if v >= 0 else cval)
        for j in range(jhi, j1):
            v = map_index(start + c + j * step, n, mode)
            dst[j] = _madd(dst[j], w[c], src[v] if v >= 0 else cval)


cdef inline void _row(modular* dst, const modular* src, const modular* w, Py_ssize_t kw,
                      Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t start, Py_ssize_t step,
                      Py_ssize_t n, int mode, modular cval) noexcept nogil:
    """dst[j] += sum_c w[c] * SRC[start + j*step + c] for j in [j0, j1); src NULL = constant row.

    Taps go in groups of GROUP: the columns where every tap of the group reads inside the row run
    through `cc_row` (contiguous, vectorised); the others, near the edges, through map_index.
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
                cc_row(dst + jlo, src + start + c0 + jlo, w + c0, g, jhi - jlo)
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


cdef void _pair(const Geom* g, const modular* x, const modular* w, modular* y, modular cval,
                Py_ssize_t o, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """Output rows o and o + 1, columns [j0, j1), of a problem where _pairs(g, o)."""
    cdef Py_ssize_t base = g.start[0] + o, jlo = 0, jhi = 0, t, q, k = g.k[0]
    cdef modular* d0 = y + o * g.y_stride[0]
    cdef modular* d1 = d0 + g.y_stride[0]
    cdef const modular* s0 = x + base * g.x_stride[0]
    cdef const modular* rows[6]
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
        if modular in floating:
            if k == 3:
                cc_pair3(d0 + jlo, d1 + jlo, s0, s0 + xs, s0 + 2 * xs, s0 + 3 * xs, w, jhi - jlo)
            else:
                cc_pair5(d0 + jlo, d1 + jlo, rows, w, jhi - jlo)


cdef inline bint _blocks(const Geom* g, Py_ssize_t o) noexcept nogil:
    """True when output rows o .. o + CC_BLOCK_ROWS - 1 (o a multiple of it) of a 2-D stride-1
    float problem with a large kernel all read only rows inside the input, on AVX2: one item then
    computes them all (see _block)."""
    cdef Py_ssize_t base = g.start[0] + o
    return (cc_use_avx2 and g.nd == 2 and g.k[0] >= BLOCK_MIN_K and g.k[1] >= BLOCK_MIN_K
            and g.k[0] <= BLOCK_MAX_K and g.step[0] == 1 and g.step[1] == 1
            and o % CC_BLOCK_ROWS == 0 and o + CC_BLOCK_ROWS <= g.m[0] and base >= 0
            and base + CC_BLOCK_ROWS + g.k[0] - 1 <= g.n[0])


cdef void _block(const Geom* g, const modular* x, const modular* w, modular* y, modular cval,
                 Py_ssize_t o, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """Output rows o .. o + CC_BLOCK_ROWS - 1, columns [j0, j1), of a problem where _blocks(g, o):
    the interior columns by cc_block (the outputs in registers, each input row loaded once for
    every output row it meets), the edge columns through the edge rule as in _row."""
    cdef Py_ssize_t jlo = 0, jhi = 0, t, q, r, kh = g.k[0], kw = g.k[1]
    cdef Py_ssize_t xs = g.x_stride[0]
    cdef const modular* s0 = x + (g.start[0] + o) * xs
    cdef modular* d[CC_BLOCK_ROWS]
    cdef const modular* s[BLOCK_MAX_K + CC_BLOCK_ROWS]
    _group_range(g.start[1], kw, j0, j1, 1, g.n[1], &jlo, &jhi)
    for r in range(CC_BLOCK_ROWS):
        d[r] = y + (o + r) * g.y_stride[0]
        for t in range(j0, jlo):
            d[r][t] = 0
        for t in range(jhi, j1):
            d[r][t] = 0
        for q in range(kh):
            _edges(d[r], s0 + (r + q) * xs, w + kw * q, 0, kw, j0, j1, jlo, jhi, g.start[1], 1,
                   g.n[1], g.mode, cval)
        d[r] = d[r] + jlo
    if jhi > jlo:
        for q in range(kh + CC_BLOCK_ROWS - 1):
            s[q] = s0 + q * xs + g.start[1] + jlo
        if modular in floating:
            cc_block(d, s, w, kh, kw, jhi - jlo)


cdef void _item(const Geom* g, const modular* x, const modular* w, modular* y, modular cval,
                Py_ssize_t item, Py_ssize_t* idx, Py_ssize_t* cnt) noexcept nogil:
    """One output row (or a column chunk of it)."""
    cdef int L = g.nd - 1
    cdef int d
    cdef Py_ssize_t row = item // g.n_chunks
    cdef Py_ssize_t j0 = (item % g.n_chunks) * CHUNK
    cdef Py_ssize_t j1 = j0 + CHUNK
    cdef Py_ssize_t r, o, t, q, v, base, y_off = 0, x_off
    cdef bint outside
    cdef modular* dst
    cdef const modular* src
    cdef const modular* srcs[GROUP]
    cdef modular ws[GROUP * RECT_ROWS]
    cdef int nb = 0
    cdef Py_ssize_t kw = g.k[L], jlo = 0, jhi = 0, c
    cdef bint batch, rect, fresh = False
    if j1 > g.m[L]:
        j1 = g.m[L]
    if modular in floating:
        # large kernels on CC_BLOCK_ROWS rows at once: the first row's item computes them all
        if _blocks(g, row):
            _block(g, x, w, y, cval, row, j0, j1)
            if g.nan_flag:
                _flag_rows(g, y, row, CC_BLOCK_ROWS, j0, j1)
            return
        if _blocks(g, row - row % CC_BLOCK_ROWS):
            return
        # 3x3 on two rows at once: the even row's item computes both, the odd row's does nothing
        if _pairs(g, row):
            _pair(g, x, w, y, cval, row, j0, j1)
            if g.nan_flag:
                _flag_rows(g, y, row, 2, j0, j1)
            return
        if row % 2 == 1 and _pairs(g, row - 1):
            return
    # a column kernel whose columns all read inside the rows: add GROUP input rows per pass
    batch = (kw == 1 and g.step[L] == 1 and g.start[L] + j0 >= 0
             and g.start[L] + j1 <= g.n[L] and GROUP > 0)
    # a 3- or 5-wide kernel: up to RECT_ROWS kernel rows per pass (edges apart, row by row)
    rect = (kw == 3 or kw == 5) and g.step[L] == 1 and g.n_lead > 1
    if modular in complexing:
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


cdef void _flag_rows(const Geom* g, const modular* y, Py_ssize_t row, Py_ssize_t rows,
                     Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """_flag_nan over columns [j0, j1) of output rows `row` .. `row + rows - 1` (what _pair or
    _block wrote)."""
    cdef Py_ssize_t r, o, y_off
    cdef int d
    for r in range(row, row + rows):
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


cdef inline void _job_rows(const Job* j, const modular* x, modular* y, const modular* cval,
                           Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    if j.op == 1:
        _extend(x, y, lo, hi, j.n, j.ne, j.first, j.mode, cval)
    else:
        _items(j.g, x, <const modular*>j.w, y, cval, lo, hi, j.scratch + tid * j.stride)


cdef inline void _items(const Geom* g, const modular* x, const modular* w, modular* y,
                        const modular* cval, Py_ssize_t lo, Py_ssize_t hi,
                        Py_ssize_t* scratch) noexcept nogil:
    cdef Py_ssize_t item
    for item in range(lo, hi):
        _item(g, x, w, y, cval[0], item, scratch, scratch + g.idx_size)


cdef void _run(const Geom* g, const modular* x, const modular* w, modular* y,
               const modular* cval, Py_ssize_t* scratch, Py_ssize_t stride, int threads,
               batch_fn fn) noexcept nogil:
    """Every item of the problem `g`, on up to `threads` threads (`fn`: _batch_<dtype> of x's
    type; `scratch`: one row of `stride` entries per thread)."""
    cdef Py_ssize_t n_items = g.n_chunks
    cdef int d
    cdef Job job
    for d in range(g.nd - 1):
        n_items *= g.m[d]
    if threads <= 1 or n_items == 1:
        _items(g, x, w, y, cval, 0, n_items, scratch)
        return
    # dynamic hand-out of small batches (about 16 a thread): on a shared machine a preempted
    # thread does not hold up the others (each output is one fixed-order sum, so results do not
    # depend on the schedule)
    job.op = 0
    job.g = g
    job.x, job.w, job.y, job.cval = x, w, y, cval
    job.scratch, job.stride = scratch, stride
    run_batches(fn, &job, n_items, batch_size(n_items, threads, 16, 1), threads)


cdef inline void _extend(const modular* x, modular* xe, Py_ssize_t r0, Py_ssize_t r1,
                         Py_ssize_t n, Py_ssize_t ne, Py_ssize_t first, int mode,
                         const modular* cval) noexcept nogil:
    """Rows [r0, r1) of _extend_rows (row length n in x, ne in xe)."""
    cdef Py_ssize_t r, i, v, lo, hi
    cdef const modular* src
    cdef modular* dst
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


cdef void _extend_rows(const modular* x, modular* xe, Py_ssize_t rows, Py_ssize_t n,
                       Py_ssize_t ne, Py_ssize_t first, int mode, const modular* cval,
                       int threads, batch_fn fn) noexcept nogil:
    """xe[r, i] = X[r, first + i] for `rows` rows of n (x) and ne (xe) entries: each row extended
    along its axis by the edge rule (rows in parallel; the inside part is a straight copy)."""
    cdef Job job
    if threads <= 1:
        _extend(x, xe, 0, rows, n, ne, first, mode, cval)
        return
    job.op = 1
    job.x, job.y, job.cval = x, xe, cval
    job.n, job.ne, job.first, job.mode = n, ne, first, mode
    run_batches(fn, &job, rows, 16, threads)


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


@functools.lru_cache(maxsize=256)
def _geometry(shape_x, shape_w, shape_y, start, step, int mode):
    """The Geom struct (as a dict, not to be changed) of a problem with >= 2 axes (tuples); kept:
    building it took ~50 us a call once the caches had gone cold between calls."""
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
            "idx_size": total, "nan_flag": 0, "n_lead": math.prod(shape_w[:nd - 1]),
            "n_chunks": -(-shape_y[nd - 1] // CHUNK)}


def correlate(x, w, out, start, step, int mode, cval=0, int threads=1, nan_flag=None):
    """out[o] = sum_k w[k] * X[start + o*step + k] (X: x extended by `mode`); see the module doc.

    ``threads``: how many threads may work on it (decided by the caller: see
    ``convcore._threads.direct_threads``); the result does not depend on it.

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
        raise ValueError(f"mode must be an edge-rule code of modes.pxd, got {mode}")
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
    if x.dtype.kind == "b":
        raise TypeError("bool arrays are not supported: convert to an integer type")
    xk, wk, yk = x, w, out
    if x.dtype.kind in "iu":  # the unsigned type of the width: defined wrap-around, same bits
        unsigned = np.dtype(f"u{x.dtype.itemsize}")
        xk, wk, yk, cv = x.view(unsigned), w.view(unsigned), out.view(unsigned), cv.view(unsigned)
    entries = _ENTRIES.get(xk.dtype)   # (run, extend rows) of direct_entries.pxi.tp
    if entries is None or not x.dtype.isnative:
        raise TypeError(f"unsupported dtype {x.dtype}")
    threads = max(1, threads)
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
        entries[1](xk.reshape(rows, shape_x[nd - 1]), xe, start[nd - 1], mode, cv, threads)
        xk = xe
        shape_x = tuple(shape_x[:nd - 1]) + (ne,)
        start = start[:nd - 1] + [0]
    g = _geometry(tuple(shape_x), tuple(shape_w), tuple(shape_y), tuple(start), tuple(step),
                  mode)
    scratch = np.empty((threads, g["idx_size"] + nd), dtype=np.intp)
    if nan_flag is not None and (x.dtype.kind not in "fc" or w.size == 0):
        nan_flag = None
    elif nan_flag is not None and (nan_flag.dtype != np.uint8 or nan_flag.shape != (1,)):
        raise ValueError("nan_flag must be a uint8 array of one element")
    entries[0](xk.reshape(-1), wk.reshape(-1), yk.reshape(-1), cv, g, scratch, threads, nan_flag)
    return out


include "direct_entries.pxi"

# dtype -> (_run_<name>, _extend_rows_<name>): found by a dict lookup (``dtype.name`` is Python
# code in NumPy, ~20 us a call once the caches are cold between calls)
_ENTRIES = {np.dtype(name): (globals()[f"_run_{name}"], globals()[f"_extend_rows_{name}"])
            for name in ("uint8", "uint16", "uint32", "uint64", "float32", "float64",
                         "complex64", "complex128")}