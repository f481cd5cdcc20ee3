"""Max and average pooling, forward and backward, for 1-D, 2-D and 3-D inputs.

Every input is seen as a stack of planes ``(P, D, H, W)`` with ``P = N * C`` (1-D and 2-D inputs have
leading singleton spatial axes), so one source serves the three dimensionalities. Geometry is passed as
``(D, H, W)`` triples: input and output sizes, kernel, stride, padding (low side) and, for max pooling,
dilation. A window is clipped to the input; for average pooling with ``count_include_pad`` the divisor
counts the part of the window inside the padded input, as PyTorch does. Planes are independent, so
every function hands batches of planes to the threads (``run_batches``), as many as the caller gives.

Functions (arrays C-contiguous, validated by ``convcore.functional.pooling``):

- ``max_forward(x, y, indices, geometry, n_threads)``: ``x`` (P, in), ``y`` (P, out), ``indices`` int64
  (P, out) or None; stores each window's maximum and the flat in-plane offset of its first maximum
  (NaN propagates).
- ``max_backward(grad_y, indices, grad_x, n_threads)``: ``grad_x`` (P, in) written: each plane
  zeroed, then every output gradient added to the input element its index names (while the plane
  is in cache). Indices outside the plane are skipped and counted; the count is returned.
- ``avg_forward(x, y, geometry, count_include_pad, n_threads)`` and
  ``avg_backward(grad_y, grad_x, geometry, count_include_pad, n_threads)`` (``grad_x`` written:
  each plane zeroed, then every output gradient spread over its window; windows that tile the
  plane take a path without per-window bounds).
- ``global_avg(x, y, n_threads)``: ``y[p] = mean(x[p, :])`` accumulated in double.

``geometry`` is an int64 array of shape (6, 3): input size, output size, kernel, stride, padding,
dilation, each over (D, H, W).
"""
from libc.math cimport INFINITY
from libc.string cimport memset

import numpy as np

from fused cimport floating
from geometry cimport Geometry, read_geometry
from parallel cimport batch_size, import_parallel, run_batches
from pooling_c cimport max_taps

import_parallel()

cdef enum:
    STACK_MAX_WIDTH = 16  # output widths (times the stride) up to which max pooling stacks planes
    STACK_MAX_STRIDED = 64  # the same with a stride of 2 (output widths times 4)
    STACK_VALUES = 4096   # padded positions of the planes stacked into one run


cdef inline void _window(const Geometry *geo, int a, Py_ssize_t o, bint include_pad,
                         Py_ssize_t *lo, Py_ssize_t *hi, Py_ssize_t *span) noexcept nogil:
    """Average-pooling window of output `o` along axis `a`: [lo, hi) inside the input and the
    length counted by the divisor (inside the padded input when include_pad, else hi - lo)."""
    cdef Py_ssize_t start = o * geo.s[a] - geo.p[a]
    cdef Py_ssize_t end = start + geo.k[a]
    cdef Py_ssize_t padded_end = geo.n_in[a] + geo.p[a]
    lo[0] = start if start > 0 else 0
    hi[0] = end if end < geo.n_in[a] else geo.n_in[a]
    if include_pad:
        span[0] = (end if end < padded_end else padded_end) - start
    else:
        span[0] = hi[0] - lo[0]


cdef inline void _taps(const Geometry *geo, int a, Py_ssize_t start,
                       Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """Window taps [lo, hi) along axis `a` that fall inside the input for a window at `start`."""
    cdef Py_ssize_t n = geo.n_in[a], k = geo.k[a], dil = geo.dil[a]
    if dil == 1:
        lo[0] = -start if start < 0 else 0
        hi[0] = n - start if n - start < k else k
    else:
        lo[0] = (-start + dil - 1) // dil if start < 0 else 0
        hi[0] = (n - 1 - start) // dil + 1
        if hi[0] > k:
            hi[0] = k


cdef inline void _max_outputs(const floating *x, floating *y, long long *idx, const Geometry *geo,
                       Py_ssize_t d0, Py_ssize_t kd_lo, Py_ssize_t kd_hi, Py_ssize_t h0,
                       Py_ssize_t kh_lo, Py_ssize_t kh_hi, Py_ssize_t ow0,
                       Py_ssize_t ow1) noexcept nogil:
    """Outputs ow0 to ow1 of one output row (y and idx point at the row), one window at a time,
    each clipped to the input."""
    cdef Py_ssize_t ow, kd, kh, kw, w0, off, row, best_off, nan_off
    cdef Py_ssize_t kw_lo, kw_hi
    cdef Py_ssize_t W = geo.n_in[2], dw = geo.dil[2]
    cdef floating v, best
    cdef bint take
    for ow in range(ow0, ow1):
        w0 = ow * geo.s[2] - geo.p[2]
        _taps(geo, 2, w0, &kw_lo, &kw_hi)
        # NaN is tracked apart from the max: folding it into the comparison stops the
        # compiler from emitting a branch-free max and costs 4x on random data
        best = -INFINITY
        best_off = ((d0 + kd_lo * geo.dil[0]) * geo.n_in[1] + h0 + kh_lo * geo.dil[1]) * W \
            + w0 + kw_lo * dw
        nan_off = -1
        for kd in range(kd_lo, kd_hi):
            for kh in range(kh_lo, kh_hi):
                row = ((d0 + kd * geo.dil[0]) * geo.n_in[1] + h0 + kh * geo.dil[1]) * W + w0
                if idx == NULL:
                    for kw in range(kw_lo, kw_hi):
                        v = x[row + kw * dw]
                        best = v if v > best else best
                        if v != v:
                            nan_off = row + kw * dw
                else:
                    for kw in range(kw_lo, kw_hi):
                        off = row + kw * dw
                        v = x[off]
                        take = v > best  # strict: the first maximum keeps the index
                        best = v if take else best
                        best_off = off if take else best_off
                        if v != v and nan_off < 0:
                            nan_off = off
        if nan_off >= 0:  # NaN propagates, with the first NaN's index
            best = x[nan_off]
            best_off = nan_off
        y[ow] = best
        if idx != NULL:
            idx[ow] = best_off


cdef bint _max_inner(const floating *x, floating *y, const Geometry *geo, Py_ssize_t d0,
                     Py_ssize_t kd_lo, Py_ssize_t kd_hi, Py_ssize_t h0, Py_ssize_t kh_lo,
                     Py_ssize_t kh_hi, Py_ssize_t ow0, Py_ssize_t ow1) noexcept nogil:
    """_max_outputs without indices for outputs whose windows lie inside the input along W:
    the taps outer and the outputs inner (a loop the compiler vectorizes), NaN only counted.
    Every output sees its taps in the same order, so the same maxima (the first of equal
    values, as for signed zeros). Returns True when a NaN was read (the caller then takes the
    outputs again one by one, which keeps the first NaN)."""
    cdef Py_ssize_t ow, kd, kh, kw, row, s = geo.s[2], dw = geo.dil[2]
    cdef Py_ssize_t W = geo.n_in[2], H = geo.n_in[1]
    cdef int nans = 0
    cdef floating v
    for ow in range(ow0, ow1):
        y[ow] = -INFINITY
    for kd in range(kd_lo, kd_hi):
        for kh in range(kh_lo, kh_hi):
            row = ((d0 + kd * geo.dil[0]) * H + h0 + kh * geo.dil[1]) * W - geo.p[2]
            for kw in range(geo.k[2]):
                for ow in range(ow0, ow1):
                    v = x[row + kw * dw + ow * s]
                    y[ow] = v if v > y[ow] else y[ow]
                    nans += v != v
    return nans != 0


cdef void _max_2x2(const floating *x, floating *y, long long *idx, Py_ssize_t row,
                   Py_ssize_t W, Py_ssize_t oW) noexcept nogil:
    """One output row of 2x2 windows that tile the plane (no padding, no dilation), the first
    input row at offset `row` of the plane x: _max_outputs' maxima, indices and NaN rule,
    without the taps' loops."""
    cdef Py_ssize_t ow, off, k, best_off, nan_off
    cdef Py_ssize_t taps[4]
    cdef floating v, best
    taps[0], taps[1], taps[2], taps[3] = 0, 1, W, W + 1
    for ow in range(oW):
        best = -INFINITY
        best_off = row + 2 * ow
        nan_off = -1
        for k in range(4):
            off = row + 2 * ow + taps[k]
            v = x[off]
            best_off = off if v > best else best_off
            best = v if v > best else best
            if v != v and nan_off < 0:
                nan_off = off
        if nan_off >= 0:
            best = x[nan_off]
            best_off = nan_off
        y[ow] = best
        if idx != NULL:
            idx[ow] = best_off


cdef void _max_plane(const floating *x, floating *y, long long *idx,
                     const Geometry *geo) noexcept nogil:
    """Every output of a plane, one window at a time, each clipped to the input."""
    cdef Py_ssize_t od, oh, d0, h0, o, oW = geo.n_out[2]
    cdef Py_ssize_t kd_lo, kd_hi, kh_lo, kh_hi
    for od in range(geo.n_out[0]):
        d0 = od * geo.s[0] - geo.p[0]
        _taps(geo, 0, d0, &kd_lo, &kd_hi)
        for oh in range(geo.n_out[1]):
            h0 = oh * geo.s[1] - geo.p[1]
            _taps(geo, 1, h0, &kh_lo, &kh_hi)
            o = (od * geo.n_out[1] + oh) * oW
            _max_outputs(x, y + o, NULL if idx == NULL else idx + o, geo, d0, kd_lo, kd_hi, h0,
                         kh_lo, kh_hi, 0, oW)


cdef inline void _inner(const Geometry *geo, Py_ssize_t *ow0, Py_ssize_t *ow1) noexcept nogil:
    """The outputs [ow0, ow1) of a row whose windows lie inside the input along W."""
    cdef Py_ssize_t room = geo.n_in[2] - 1 - (geo.k[2] - 1) * geo.dil[2] + geo.p[2]
    ow1[0] = min(room // geo.s[2] + 1 if room >= 0 else 0, geo.n_out[2])
    ow0[0] = min((geo.p[2] + geo.s[2] - 1) // geo.s[2], ow1[0])


cdef bint _by_rows(const Geometry *geo, bint indices, bint *tiles2) noexcept nogil:
    """Whether max pooling goes row by row (_max_rows): 2x2 windows that tile the plane (then
    `tiles2`), or no indices and rows of 8 or more inner outputs (a vector loop's worth)."""
    cdef Py_ssize_t ow0, ow1
    tiles2[0] = _tiles(geo) and geo.k[1] == geo.k[2] == 2 and geo.dil[1] == geo.dil[2] == 1
    _inner(geo, &ow0, &ow1)
    return tiles2[0] or (not indices and ow1 - ow0 >= 8)


cdef void _max_rows(const floating *x, floating *y, long long *idx, const Geometry *geo,
                    bint tiles2) noexcept nogil:
    """Every output of a plane row by row: 2x2 windows that tile the plane (`tiles2`) by
    _max_2x2; else, without indices, the inner outputs of rows of 8 or more by _max_inner."""
    cdef Py_ssize_t od, oh, d0, h0, o, ow0 = geo.n_out[2], ow1 = geo.n_out[2]
    cdef Py_ssize_t kd_lo, kd_hi, kh_lo, kh_hi, oW = geo.n_out[2]
    cdef long long *idx_row = NULL
    if idx == NULL:
        _inner(geo, &ow0, &ow1)
    for od in range(geo.n_out[0]):
        d0 = od * geo.s[0] - geo.p[0]
        _taps(geo, 0, d0, &kd_lo, &kd_hi)
        for oh in range(geo.n_out[1]):
            h0 = oh * geo.s[1] - geo.p[1]
            _taps(geo, 1, h0, &kh_lo, &kh_hi)
            o = (od * geo.n_out[1] + oh) * oW
            if idx != NULL:
                idx_row = idx + o
            if tiles2:
                _max_2x2(x, y + o, idx_row, (d0 * geo.n_in[1] + h0) * geo.n_in[2],
                         geo.n_in[2], oW)
                continue
            _max_outputs(x, y + o, idx_row, geo, d0, kd_lo, kd_hi, h0, kh_lo, kh_hi, 0, ow0)
            if _max_inner(x, y + o, geo, d0, kd_lo, kd_hi, h0, kh_lo, kh_hi, ow0, ow1):
                _max_outputs(x, y + o, idx_row, geo, d0, kd_lo, kd_hi, h0, kh_lo, kh_hi, ow0,
                             ow1)
            _max_outputs(x, y + o, idx_row, geo, d0, kd_lo, kd_hi, h0, kh_lo, kh_hi, ow1, oW)


cdef bint _stacks(const Geometry *geo, bint indices) noexcept nogil:
    """Whether max pooling stacks its planes (_max_stack): no indices, 2-D, short rows (where
    row-by-row loops are mostly overhead): stride 1 and rows up to STACK_MAX_WIDTH, or stride 2
    and rows up to STACK_MAX_STRIDED / 4 (the stacked run takes every position, four times the
    outputs kept, and still wins: us, 2 threads, 3x3 stride 2 padding 1, stacked against row
    loops: 32x64x16x16 273 against 1045, 32x64x32x32 1084 against 2698; 2x2 stride 2 on
    32x64x16x16 198 against 415)."""
    cdef Py_ssize_t most = geo.s[1] * geo.s[2]
    return (not indices and geo.n_in[0] == 1 and geo.k[0] == 1 and most <= 4
            and geo.s[1] <= 2 and geo.s[2] <= 2
            and geo.n_out[2] * most <= (STACK_MAX_WIDTH if most == 1 else STACK_MAX_STRIDED))


cdef inline void _padded(const Geometry *geo, Py_ssize_t *Hp, Py_ssize_t *Wp) noexcept nogil:
    """The rows and columns of a padded plane of _max_stack: every window's reach."""
    Hp[0] = (geo.n_out[1] - 1) * geo.s[1] + (geo.k[1] - 1) * geo.dil[1] + 1
    Wp[0] = (geo.n_out[2] - 1) * geo.s[2] + (geo.k[2] - 1) * geo.dil[2] + 1


cdef bint _max_stack(const floating *x, Py_ssize_t count, floating *y, const Geometry *geo,
                     const Py_ssize_t *off, floating *pad, floating *wide) noexcept nogil:
    """The maxima of `count` consecutive planes: the planes are copied one after another into
    the -inf padded planes of ``pad`` (Hp x Wp each, then a tail; -inf outside the input since
    the scratch was made), every tap is then one run over all of them (max_taps), a wide output
    of the windows at every position, of which the rows and columns of the stride are kept. The taps in the same order as _max_outputs, the padding never larger: the same maxima.
    Returns True when a NaN was read (the caller then takes these planes the other way, which
    keeps the first NaN)."""
    cdef Py_ssize_t oH = geo.n_out[1], oW = geo.n_out[2], H = geo.n_in[1], W = geo.n_in[2]
    cdef Py_ssize_t sh = geo.s[1], sw = geo.s[2], Hp, Wp
    _padded(geo, &Hp, &Wp)
    cdef Py_ssize_t size = Hp * Wp, pt = geo.p[1], pl = geo.p[2], i, r, c
    # the padded rows [r0, r1) and columns [c0, c1) hold input row r - pt, column c - pl
    cdef Py_ssize_t r0 = min(max(pt, 0), Hp), r1 = min(max(H + pt, r0), Hp)
    cdef Py_ssize_t c0 = min(max(pl, 0), Wp), c1 = min(max(W + pl, c0), Wp)
    cdef const floating *src
    cdef floating *dst
    cdef int nans = 0
    for i in range(count):
        for r in range(r0, r1):
            src = x + i * H * W + (r - pt) * W - pl
            dst = pad + i * size + r * Wp
            for c in range(c0, c1):
                dst[c] = src[c]
                nans += src[c] != src[c]
    if nans:
        return True
    max_taps(pad, wide, (count - 1) * size + ((oH - 1) * sh + 1) * Wp, off,
             geo.k[1] * geo.k[2])
    for i in range(count):
        for r in range(oH):
            for c in range(oW):
                y[(i * oH + r) * oW + c] = wide[i * size + r * sh * Wp + c * sw]
    return False


cdef void _avg_plane(const floating *x, floating *y, const Geometry *geo,
                     bint include_pad, bint backward) noexcept nogil:
    """Forward: y[o] = mean of the window of x. Backward (x is grad_y, y is grad_x): spread each
    output gradient evenly over its window."""
    cdef Py_ssize_t od, oh, ow, d, h, w, o = 0
    cdef Py_ssize_t dlo, dhi, dspan, hlo, hhi, hspan, wlo, whi, wspan
    cdef double acc, share
    for od in range(geo.n_out[0]):
        _window(geo, 0, od, include_pad, &dlo, &dhi, &dspan)
        for oh in range(geo.n_out[1]):
            _window(geo, 1, oh, include_pad, &hlo, &hhi, &hspan)
            for ow in range(geo.n_out[2]):
                _window(geo, 2, ow, include_pad, &wlo, &whi, &wspan)
                if backward:
                    share = x[o] / <double> (dspan * hspan * wspan)
                    for d in range(dlo, dhi):
                        for h in range(hlo, hhi):
                            for w in range(wlo, whi):
                                y[(d * geo.n_in[1] + h) * geo.n_in[2] + w] += <floating> share
                else:
                    acc = 0.0
                    for d in range(dlo, dhi):
                        for h in range(hlo, hhi):
                            for w in range(wlo, whi):
                                acc = acc + x[(d * geo.n_in[1] + h) * geo.n_in[2] + w]
                    y[o] = <floating> (acc / (dspan * hspan * wspan))
                o += 1


cdef bint _tiles(const Geometry *geo) noexcept nogil:
    """Windows that tile the plane (LeNet's 2x2 pooling): along D one tap, along H and W a stride
    equal to the kernel, no padding, and no window cut by the input's edge."""
    cdef int a
    if geo.k[0] != 1 or geo.s[0] != 1:
        return False
    for a in range(3):
        if geo.p[a] != 0 or geo.s[a] != geo.k[a] or geo.n_out[a] * geo.k[a] > geo.n_in[a]:
            return False
    return True


cdef inline void _avg_2x2(const floating *x, floating *y, Py_ssize_t W, Py_ssize_t oW,
                          bint backward) noexcept nogil:
    """One output row of _avg_tiles for 2x2 windows. Forward: x the first of the row's two
    input rows (W wide), y the row's outputs. Backward: x the row's output gradients, y the
    first of the two input rows' gradients."""
    cdef Py_ssize_t ow
    cdef floating share
    cdef double acc
    if backward:
        for ow in range(oW):
            share = <floating> (x[ow] / 4.0)
            y[2 * ow] = share
            y[2 * ow + 1] = share
            y[W + 2 * ow] = share
            y[W + 2 * ow + 1] = share
    else:
        for ow in range(oW):
            acc = 0.0
            acc = acc + x[2 * ow]
            acc = acc + x[2 * ow + 1]
            acc = acc + x[W + 2 * ow]
            acc = acc + x[W + 2 * ow + 1]
            y[ow] = <floating> (acc / 4.0)


cdef void _avg_tiles(const floating *x, floating *y, const Geometry *geo,
                     bint backward) noexcept nogil:
    """_avg_plane for windows that tile the plane (the same sums in the same order), without
    the per-window bounds. Backward writes every input gradient once (zero outside the tiles)."""
    cdef Py_ssize_t d, oh, ow, i, j, o = 0, row
    cdef Py_ssize_t H = geo.n_in[1], W = geo.n_in[2], kh = geo.k[1], kw = geo.k[2]
    cdef Py_ssize_t oH = geo.n_out[1], oW = geo.n_out[2], used = oW * kw
    cdef double acc, size = kh * kw
    cdef floating share
    for d in range(geo.n_out[0]):
        for oh in range(oH):
            row = (d * H + oh * kh) * W
            if kh == 2 and kw == 2:  # LeNet's windows: the same sums, a loop without the taps
                if backward:
                    _avg_2x2(x + o, y + row, W, oW, True)
                else:
                    _avg_2x2(x + row, y + o, W, oW, False)
                o += oW
            for ow in range(oW if kh != 2 or kw != 2 else 0):
                row = (d * H + oh * kh) * W + ow * kw
                if backward:
                    share = <floating> (x[o] / size)
                    for i in range(kh):
                        for j in range(kw):
                            y[row + i * W + j] = share
                else:
                    acc = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            acc = acc + x[row + i * W + j]
                    y[o] = <floating> (acc / size)
                o += 1
            if backward and used < W:
                for i in range(kh):
                    memset(&y[(d * H + oh * kh + i) * W + used], 0, (W - used) * sizeof(floating))
        if backward and oH * kh < H:
            memset(&y[(d * H + oH * kh) * W], 0, (H - oH * kh) * W * sizeof(floating))


cdef enum Op:
    MAX_FORWARD
    MAX_BACKWARD
    AVG_FORWARD
    AVG_BACKWARD
    GLOBAL_AVG

ctypedef struct Job:
    Op op
    bint f64
    const void* x        # the input planes (grad_y for the backward passes)
    void* out              # the output planes (grad_x for the backward passes)
    long long* idx       # max pooling's indices, or NULL
    Py_ssize_t x_size, y_size, idx_size   # one plane's length in each
    const Geometry* geo
    bint include_pad, tiles
    bint max_rows, tiles2    # max_forward: by _max_rows (see _by_rows)
    bint stacked             # max_forward: stacks of planes by _max_stack (see _stacks)
    Py_ssize_t stack, scratch_size, pad_size   # planes a stack, scratch per thread, pad's part
    void* scratch
    const Py_ssize_t* off    # each tap's offset in the padded planes
    Py_ssize_t* bad      # max_backward: indices outside the plane, one count per thread


cdef void _part(floating* y, const Job* j, Py_ssize_t lo, Py_ssize_t hi,
               int tid) noexcept nogil:
    """Planes lo to hi of the job (`y` is j.out, typed)."""
    cdef const floating* x = <const floating*>j.x
    cdef const floating* xp
    cdef floating* yp
    cdef Py_ssize_t plane, o, size = j.y_size
    cdef long long i
    cdef double acc
    cdef floating* pad
    if j.stacked:
        pad = <floating*>j.scratch + tid * j.scratch_size
        plane = lo
        while plane < hi:
            size = min(j.stack, hi - plane)
            if _max_stack(x + plane * j.x_size, size, y + plane * j.y_size, j.geo, j.off, pad,
                          pad + j.pad_size):
                for o in range(plane, plane + size):
                    _max_plane(x + o * j.x_size, y + o * j.y_size, NULL, j.geo)
            plane += size
        return
    for plane in range(lo, hi):
        xp = x + plane * j.x_size
        yp = y + plane * j.y_size
        if j.op == MAX_FORWARD:
            if j.max_rows:
                _max_rows(xp, yp, j.idx + plane * j.idx_size if j.idx != NULL else NULL, j.geo,
                          j.tiles2)
            else:
                _max_plane(xp, yp, j.idx + plane * j.idx_size if j.idx != NULL else NULL, j.geo)
        elif j.op == MAX_BACKWARD:
            memset(yp, 0, size * sizeof(floating))
            for o in range(j.x_size):
                i = j.idx[plane * j.idx_size + o]
                if 0 <= i < size:
                    yp[i] += xp[o]
                else:
                    j.bad[tid] += 1
        elif j.tiles and j.op != GLOBAL_AVG:
            _avg_tiles(xp, yp, j.geo, j.op == AVG_BACKWARD)
        elif j.op != GLOBAL_AVG:
            if j.op == AVG_BACKWARD:
                memset(yp, 0, size * sizeof(floating))
            _avg_plane(xp, yp, j.geo, j.include_pad, j.op == AVG_BACKWARD)
        else:
            acc = 0.0
            for o in range(j.x_size):
                acc = acc + xp[o]
            yp[0] = <floating> (acc / j.x_size)


include "batch.pxi"


cdef Job _job(Op op, const Geometry* geo, bint include_pad) noexcept:
    cdef Job j
    memset(&j, 0, sizeof(Job))
    j.op, j.geo, j.include_pad = op, geo, include_pad
    j.tiles = geo != NULL and _tiles(geo)
    return j


cdef Py_ssize_t _run(Job* j, const floating[:, ::1] x, floating[:, ::1] y,
                     int n_threads) except -1:
    """Run the job over the planes of x and y; returns max_backward's count of bad indices."""
    cdef Py_ssize_t[::1] bad = np.zeros(max(n_threads, 1), dtype=np.intp)
    if x.shape[0] == 0:
        return 0
    j.f64, j.bad = floating is double, &bad[0]
    j.x_size, j.y_size = x.shape[1], y.shape[1]
    j.x = &x[0, 0] if x.shape[1] else NULL
    j.out = &y[0, 0] if y.shape[1] else NULL
    with nogil:
        run_batches(_batch, j, x.shape[0], batch_size(x.shape[0], n_threads, 4, 1), n_threads)
    return sum(bad)


cdef void _set_indices(Job* j, const long long[:, ::1] indices):
    # (max_forward writes them: the one caller whose indices are not const)
    if indices is not None and indices.shape[0] * indices.shape[1]:
        j.idx, j.idx_size = <long long*>&indices[0, 0], indices.shape[1]


def max_forward(const floating[:, ::1] x, floating[:, ::1] y, long long[:, ::1] indices,
                const long long[:, ::1] geometry, int n_threads):
    cdef Geometry geo = read_geometry(geometry)
    cdef Job j = _job(MAX_FORWARD, &geo, False)
    _set_indices(&j, indices)
    j.max_rows = _by_rows(&geo, j.idx != NULL, &j.tiles2)
    j.stacked = _stacks(&geo, j.idx != NULL)
    cdef Py_ssize_t size, hp, wp
    cdef Py_ssize_t[::1] off
    cdef floating[:, ::1] scratch
    if j.stacked:  # per thread: the -inf padded planes, then the wide output
        _padded(&geo, &hp, &wp)
        size = hp * wp
        j.stack = max(1, STACK_VALUES // size)
        j.pad_size = j.stack * size + (geo.k[2] - 1) * geo.dil[2]
        j.scratch_size = j.pad_size + j.stack * size
        scratch = np.full((max(n_threads, 1), j.scratch_size), -np.inf,
                          dtype=np.float64 if floating is double else np.float32)
        j.scratch = &scratch[0, 0]
        off = np.array([a * geo.dil[1] * wp + c * geo.dil[2] for a in range(geo.k[1])
                        for c in range(geo.k[2])], dtype=np.intp)
        j.off = &off[0]
    _run(&j, x, y, n_threads)


def max_backward(const floating[:, ::1] grad_y, const long long[:, ::1] indices,
                 floating[:, ::1] grad_x, int n_threads):
    cdef Job j = _job(MAX_BACKWARD, NULL, False)
    if grad_x.shape[0] != grad_y.shape[0] or indices.shape[0] != grad_y.shape[0] \
            or indices.shape[1] != grad_y.shape[1]:
        raise ValueError("max_backward: array shapes do not agree")
    _set_indices(&j, indices)
    return _run(&j, grad_y, grad_x, n_threads)


def avg_forward(const floating[:, ::1] x, floating[:, ::1] y, const long long[:, ::1] geometry,
                bint count_include_pad, int n_threads):
    cdef Geometry geo = read_geometry(geometry)
    cdef Job j = _job(AVG_FORWARD, &geo, count_include_pad)
    _run(&j, x, y, n_threads)


def avg_backward(const floating[:, ::1] grad_y, floating[:, ::1] grad_x,
                 const long long[:, ::1] geometry, bint count_include_pad, int n_threads):
    cdef Geometry geo = read_geometry(geometry)
    cdef Job j = _job(AVG_BACKWARD, &geo, count_include_pad)
    _run(&j, grad_y, grad_x, n_threads)


def global_avg(const floating[:, ::1] x, floating[:, ::1] y, int n_threads):
    cdef Job j = _job(GLOBAL_AVG, NULL, False)
    _run(&j, x, y, n_threads)
