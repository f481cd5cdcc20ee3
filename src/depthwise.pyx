"""Depthwise convolution (one filter per output channel, each reading one input channel), direct.

With ``groups == C_in`` the im2col GEMM of a group has one row per output channel and a depth of
only the kernel's taps (9 for 3x3): far too small for a GEMM to pay. Here every output plane is
made straight from its input plane, one tap at a time, as runs along the output rows that the
compiler vectorises.

- ``forward(x, w, bias, y, geometry, multiplier, n_threads)``: ``x`` (N, C_in, D*H*W), ``w``
  (C_out, kd*kh*kw) with ``C_out = C_in * multiplier`` (output channel ``o`` reads input channel
  ``o // multiplier``), ``bias`` (C_out,) or empty, ``y`` (N, C_out, L) written. ``geometry`` as
  in ``_im2col``. The planes ``(n, o)`` are spread over the threads; each is summed in the same
  order whatever the thread count.
- ``backward_input(grad_y, w, grad_x, geometry, multiplier, n_threads)``: ``grad_x`` (N, C_in,
  D*H*W) written; the input planes ``(n, c)`` over the threads, each gathering its ``multiplier``
  output planes in order.
- ``backward_weight(grad_y, x, grad_w, geometry, multiplier, n_threads)``: ``grad_w`` (C_out,
  kd*kh*kw) written; the output channels over the threads, each summing its images in order (in
  double), so the result is the same bits on any number of threads.
"""
from libc.string cimport memset

import numpy as np

from depthwise_c cimport dw_small, dw_taps
from fused cimport floating
from geometry cimport Geometry, read_geometry, valid_range
from parallel cimport batch_size, import_parallel, run_batches

import_parallel()

cdef enum:
    WIDE_MAX = 32  # output widths up to which small planes take the padded-plane runs
    STACK_VALUES = 4096  # padded positions of the planes stacked into one run (L1 for two arrays)
    SMALL_PLANE = 16  # input and output positions per plane up to which planes go channels innermost

cdef enum Op:
    FORWARD        # y += w * x
    INPUT_GRAD     # grad_x += w * grad_y, at the positions the forward read
    WEIGHT_GRAD    # acc[tap, ow] += grad_y * x (in double)


cdef void _tap_ranges(const Geometry *g, Py_ssize_t *lo, Py_ssize_t *hi,
                      Py_ssize_t *start) noexcept nogil:
    """The output columns [lo[l], hi[l]) tap l along W reaches, reading column ow * stride +
    start[l]: the same for every row and plane."""
    cdef Py_ssize_t l
    for l in range(g.k[2]):
        start[l] = l * g.dil[2] - g.p[2]
        valid_range(start[l], g.s[2], g.n_in[2], g.n_out[2], &lo[l], &hi[l])


cdef inline void _taps(Op op, floating *out, const floating *oplane, const floating *iplane,
                      const floating *w, double *acc, const Geometry *g, const Py_ssize_t *lo,
                      const Py_ssize_t *hi, const Py_ssize_t *start) noexcept nogil:
    """Every tap (i, j, l) of one plane pair, as runs along the output rows: output row (od, oh)
    of the output-side plane meets input row (d, h) of the input-side plane, tap l reading input
    column ow * stride + start[l] for the outputs ow in [lo[l], hi[l]). FORWARD: `out` is the
    output plane, `iplane` the input; INPUT_GRAD: `oplane` is grad_y, `out` grad_x (not cleared
    here); WEIGHT_GRAD: `oplane` is grad_y, `iplane` x, the products summed per output column into
    `acc` (element-wise adds the compiler vectorises; the caller adds the columns up)."""
    cdef Py_ssize_t oD = g.n_out[0], oH = g.n_out[1], oW = g.n_out[2]
    cdef Py_ssize_t H = g.n_in[1], W = g.n_in[2], sw = g.s[2], kw = g.k[2]
    cdef Py_ssize_t od, oh, ow, i, j, l, d, h, s0, t
    cdef floating wv
    cdef floating *orow_out
    cdef floating *irow_out
    cdef const floating *orow
    cdef const floating *irow
    cdef double *row
    for od in range(oD):
        for i in range(g.k[0]):
            d = od * g.s[0] - g.p[0] + i * g.dil[0]
            if d < 0 or d >= g.n_in[0]:
                continue
            for oh in range(oH):
                orow = oplane + (od * oH + oh) * oW
                orow_out = out + (od * oH + oh) * oW
                for j in range(g.k[1]):
                    h = oh * g.s[1] - g.p[1] + j * g.dil[1]
                    if h < 0 or h >= H:
                        continue
                    irow = iplane + (d * H + h) * W
                    irow_out = out + (d * H + h) * W
                    for l in range(kw):
                        t = (i * g.k[1] + j) * kw + l
                        s0 = start[l]
                        if op == FORWARD:
                            wv = w[t]
                            if sw == 1:
                                for ow in range(lo[l], hi[l]):
                                    orow_out[ow] += wv * irow[ow + s0]
                            else:
                                for ow in range(lo[l], hi[l]):
                                    orow_out[ow] += wv * irow[ow * sw + s0]
                        elif op == INPUT_GRAD:
                            wv = w[t]
                            if sw == 1:
                                for ow in range(lo[l], hi[l]):
                                    irow_out[ow + s0] += wv * orow[ow]
                            else:
                                for ow in range(lo[l], hi[l]):
                                    irow_out[ow * sw + s0] += wv * orow[ow]
                        else:
                            row = acc + t * oW
                            if sw == 1:
                                for ow in range(lo[l], hi[l]):
                                    row[ow] += <double> orow[ow] * <double> irow[ow + s0]
                            else:
                                for ow in range(lo[l], hi[l]):
                                    row[ow] += <double> orow[ow] * <double> irow[ow * sw + s0]


cdef bint _wide_pays(const Geometry *g) noexcept nogil:
    """A small 2-D (or 1-D) plane with stride 1: the padded-plane runs of ``_plane_wide``."""
    return (g.n_out[0] == 1 and g.k[0] == 1 and g.s[1] == 1 and g.s[2] == 1
            and g.n_out[2] <= WIDE_MAX)


cdef Py_ssize_t[::1] _pairs(const Geometry *g):
    """The taps of each output position that meet the input, for the small-plane forward:
    ``[start (L + 1), input positions, taps]``, output p's pairs at [start[p], start[p + 1]) of
    the last two parts (each L * taps long), in tap order."""
    cdef Py_ssize_t L = g.L, T = g.taps, p = 0, k = 0, t, od, oh, ow, i, jj, l, d, h, w
    cdef Py_ssize_t[::1] out = np.zeros(L + 1 + 2 * L * T, dtype=np.intp)
    for od in range(g.n_out[0]):
        for oh in range(g.n_out[1]):
            for ow in range(g.n_out[2]):
                out[p] = k
                for i in range(g.k[0]):
                    d = od * g.s[0] - g.p[0] + i * g.dil[0]
                    for jj in range(g.k[1]):
                        h = oh * g.s[1] - g.p[1] + jj * g.dil[1]
                        for l in range(g.k[2]):
                            w = ow * g.s[2] - g.p[2] + l * g.dil[2]
                            if 0 <= d < g.n_in[0] and 0 <= h < g.n_in[1] and 0 <= w < g.n_in[2]:
                                t = (i * g.k[1] + jj) * g.k[2] + l
                                out[L + 1 + k] = (d * g.n_in[1] + h) * g.n_in[2] + w
                                out[L + 1 + L * T + k] = t
                                k += 1
                p += 1
    out[L] = k
    return out


cdef void _stack_wide(const floating *x, Py_ssize_t x_step, Py_ssize_t count,
                      const floating *w, floating shift, floating *y, Py_ssize_t y_step,
                      const Geometry *g, const Py_ssize_t *off, floating *pad,
                      floating *wide) noexcept nogil:
    """The output planes of `count` images for one filter (small planes, stride 1): the input
    planes (``x_step`` apart) are copied once, one after another, into the padded planes of
    ``pad`` (Hp x Wp each, then a tail; zero outside the input since the scratch was made), and
    every tap is then one run over all of them at once, a wide output of Wp columns per row; the rows and columns past each plane's output are dropped when
    the planes are copied out (``y_step`` apart). Every output is the shift plus its taps in
    order, whatever the count. (Row-by-row runs on a 4x4 plane are 4 long: loop overhead, not
    arithmetic; a run over 32 stacked 4x4 planes is 32 vectors.)"""
    cdef Py_ssize_t oH = g.n_out[1], oW = g.n_out[2], H = g.n_in[1], W = g.n_in[2]
    cdef Py_ssize_t kh = g.k[1], kw = g.k[2], dh = g.dil[1], dw = g.dil[2]
    cdef Py_ssize_t Hp = oH + (kh - 1) * dh, Wp = oW + (kw - 1) * dw, size = Hp * Wp
    cdef Py_ssize_t n = (count - 1) * size + oH * Wp
    cdef Py_ssize_t pt = g.p[1], pl = g.p[2], r, c, i
    # the padded rows [r0, r1) and columns [c0, c1) hold input row r - pt, column c - pl
    cdef Py_ssize_t r0 = min(max(pt, 0), Hp), r1 = min(max(H + pt, r0), Hp)
    cdef Py_ssize_t c0 = min(max(pl, 0), Wp), c1 = min(max(W + pl, c0), Wp)
    cdef const floating *src
    cdef floating *dst
    for i in range(count):  # (the zero border was written once, when the scratch was made)
        for r in range(r0, r1):
            src = x + i * x_step + (r - pt) * W - pl
            dst = pad + i * size + r * Wp
            for c in range(c0, c1):
                dst[c] = src[c]
    dw_taps(pad, wide, n, w, off, kh * kw, shift)
    for i in range(count):
        for r in range(oH):
            for c in range(oW):
                y[i * y_step + r * oW + c] = wide[i * size + r * Wp + c]


ctypedef struct Job:
    Op op
    bint f64, wide, small
    const void* a            # x (FORWARD, WEIGHT_GRAD) or grad_y (INPUT_GRAD)
    const void* b            # w (FORWARD, INPUT_GRAD) or grad_y (WEIGHT_GRAD)
    const void* bias         # FORWARD, or NULL
    void* out                # y, grad_x or grad_w
    void* scratch            # FORWARD on wide planes: one row of scratch_size per thread
    Py_ssize_t scratch_size, pad_size
    Py_ssize_t stack, stacks # FORWARD on wide planes: images per item, items per filter
    const Py_ssize_t* off    # FORWARD on wide planes: each tap's offset in the padded planes
    const void* wt           # FORWARD on small planes: the weights transposed, (taps, C)
    const Py_ssize_t* pairs  # FORWARD on small planes: the taps meeting the input (see _pairs)
    double* acc              # WEIGHT_GRAD: one row of acc_size per output channel
    Py_ssize_t acc_size
    const Geometry* g
    const Py_ssize_t* lo
    const Py_ssize_t* hi
    const Py_ssize_t* start
    Py_ssize_t N, C, O, multiplier


cdef void _part(floating* out, const Job* j, Py_ssize_t lo, Py_ssize_t hi,
               int tid) noexcept nogil:
    """Items lo to hi of the job: output planes (n, o) (FORWARD; on small planes, stacks of
    images of filter o), input planes (n, c) (INPUT_GRAD) or output channels o (WEIGHT_GRAD)."""
    cdef const Geometry* g = j.g
    cdef const floating* a = <const floating*>j.a
    cdef const floating* b = <const floating*>j.b
    cdef floating* scratch = (<floating*>j.scratch + tid * j.scratch_size
                              if j.wide or j.small else NULL)
    cdef Py_ssize_t p, n, o, c, q, t, m = j.multiplier, O = j.O
    cdef floating shift
    cdef double total
    for p in range(lo, hi):
        if j.op == FORWARD and j.small:  # item p: image p, channels innermost
            dw_small(a + p * j.C * g.plane, out + p * O * g.L, O, g.plane, g.L,
                     <const floating*>j.wt, <const floating*>j.bias, j.pairs,
                     j.pairs + g.L + 1, j.pairs + g.L + 1 + g.L * g.taps, scratch,
                     scratch + g.plane * O)
        elif j.op == FORWARD and j.wide:  # item p: images n to n + stack of filter o
            o = p // j.stacks
            n = (p - o * j.stacks) * j.stack
            shift = (<const floating*>j.bias)[o] if j.bias != NULL else 0
            _stack_wide(a + (n * j.C + o // m) * g.plane, j.C * g.plane, min(j.stack, j.N - n),
                        b + o * g.taps, shift, out + (n * O + o) * g.L, O * g.L, g, j.off,
                        scratch, scratch + j.pad_size)
        elif j.op == FORWARD:
            n = p // O
            o = p - n * O
            shift = (<const floating*>j.bias)[o] if j.bias != NULL else 0
            for q in range(g.L):
                out[p * g.L + q] = shift
            _taps(FORWARD, out + p * g.L, <const floating*>NULL,
                  a + (n * j.C + o // m) * g.plane, b + o * g.taps, NULL, g, j.lo, j.hi,
                  j.start)
        elif j.op == INPUT_GRAD:
            n = p // j.C
            c = p - n * j.C
            memset(out + p * g.plane, 0, g.plane * sizeof(floating))
            for q in range(m):
                o = c * m + q
                _taps(INPUT_GRAD, out + p * g.plane, a + (n * O + o) * g.L, <const floating*>NULL,
                      b + o * g.taps, NULL, g, j.lo, j.hi, j.start)
        else:
            for n in range(j.C):  # (C is the batch size N here)
                _taps(WEIGHT_GRAD, <floating*>NULL, b + (n * O + p) * g.L,
                      a + (n * (O // m) + p // m) * g.plane, <const floating*>NULL,
                      j.acc + p * j.acc_size, g, j.lo, j.hi, j.start)
            for t in range(g.taps):
                total = 0
                for q in range(g.n_out[2]):
                    total = total + j.acc[p * j.acc_size + t * g.n_out[2] + q]
                out[p * g.taps + t] = <floating> total


include "batch.pxi"


cdef void _run(Job* j, floating* out, Py_ssize_t items, Py_ssize_t batch, int n_threads):
    """Run the job over `items` with the tap ranges of its geometry."""
    cdef Py_ssize_t[::1] lo = np.empty(j.g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] hi = np.empty(j.g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] start = np.empty(j.g.k[2], dtype=np.intp)
    _tap_ranges(j.g, &lo[0], &hi[0], &start[0])
    j.f64, j.out, j.lo, j.hi, j.start = floating is double, out, &lo[0], &hi[0], &start[0]
    with nogil:
        run_batches(_batch, j, items, batch, n_threads)


def forward(const floating[:, :, ::1] x, const floating[:, ::1] w, const floating[::1] bias,
            floating[:, :, ::1] y, const long long[:, ::1] geometry, Py_ssize_t multiplier,
            int n_threads):
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], O = w.shape[0]
    cdef Job j
    if (multiplier < 1 or O != C * multiplier or w.shape[1] != g.taps or x.shape[2] != g.plane
            or y.shape[0] != N or y.shape[1] != O or y.shape[2] != g.L
            or bias.shape[0] not in (0, O)):
        raise ValueError("depthwise forward: array shapes do not match the geometry")
    if N == 0 or O == 0:
        return
    memset(&j, 0, sizeof(Job))
    j.op, j.g, j.C, j.O, j.multiplier = FORWARD, &g, C, O, multiplier
    j.a, j.b, j.bias = &x[0, 0, 0], &w[0, 0], &bias[0] if bias.shape[0] else NULL
    j.small = multiplier == 1 and g.plane <= SMALL_PLANE and g.L <= SMALL_PLANE
    j.wide, j.N = _wide_pays(&g) and not j.small, N
    cdef floating[:, ::1] scratch
    cdef floating[:, ::1] wt
    cdef Py_ssize_t size, wp, items = N * O
    cdef Py_ssize_t[::1] off, pairs
    if j.small:  # per thread: the input and the output rows, plane x C and L x C
        wt = np.ascontiguousarray(np.asarray(w).T)
        pairs = _pairs(&g)
        j.wt, j.pairs = &wt[0, 0], &pairs[0]
        j.scratch_size = (g.plane + g.L) * O
        scratch = np.empty((max(n_threads, 1), j.scratch_size),
                           dtype=np.float64 if floating is double else np.float32)
        j.scratch = &scratch[0, 0]
        items = N
    elif j.wide:  # per thread: the padded planes, then the wide output
        size = ((g.n_out[1] + (g.k[1] - 1) * g.dil[1]) * (g.n_out[2] + (g.k[2] - 1) * g.dil[2]))
        j.stack = min(N, max(1, STACK_VALUES // size))
        j.stacks = (N + j.stack - 1) // j.stack
        j.pad_size = j.stack * size + (g.k[2] - 1) * g.dil[2]
        j.scratch_size = j.pad_size + j.stack * size
        scratch = np.zeros((max(n_threads, 1), j.scratch_size),
                           dtype=np.float64 if floating is double else np.float32)
        j.scratch = &scratch[0, 0]
        items = O * j.stacks
        wp = g.n_out[2] + (g.k[2] - 1) * g.dil[2]
        off = np.array([a * g.dil[1] * wp + c * g.dil[2] for a in range(g.k[1])
                        for c in range(g.k[2])], dtype=np.intp)
        j.off = &off[0]
    _run(&j, &y[0, 0, 0], items, batch_size(items, n_threads, 4, 1), n_threads)


cdef int _check_grads(str name, const Geometry *g, Py_ssize_t N, Py_ssize_t C, Py_ssize_t plane,
                      Py_ssize_t O, Py_ssize_t taps, Py_ssize_t gN, Py_ssize_t gO, Py_ssize_t L,
                      Py_ssize_t multiplier) except -1:
    if (multiplier < 1 or O != C * multiplier or taps != g.taps or plane != g.plane or gN != N
            or gO != O or L != g.L):
        raise ValueError(f"depthwise {name}: array shapes do not match the geometry")
    return 0


def backward_input(const floating[:, :, ::1] grad_y, const floating[:, ::1] w,
                   floating[:, :, ::1] grad_x, const long long[:, ::1] geometry,
                   Py_ssize_t multiplier, int n_threads):
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t N = grad_x.shape[0], C = grad_x.shape[1], P = N * C
    cdef Job j
    _check_grads("backward_input", &g, N, C, grad_x.shape[2], w.shape[0], w.shape[1],
                 grad_y.shape[0], grad_y.shape[1], grad_y.shape[2], multiplier)
    if P == 0:
        return
    memset(&j, 0, sizeof(Job))
    j.op, j.g, j.C, j.O, j.multiplier = INPUT_GRAD, &g, C, w.shape[0], multiplier
    j.a = &grad_y[0, 0, 0] if grad_y.shape[1] * grad_y.shape[2] else NULL
    j.b = &w[0, 0] if w.shape[0] * w.shape[1] else NULL
    _run(&j, &grad_x[0, 0, 0], P, batch_size(P, n_threads, 4, 1), n_threads)


def backward_weight(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                    floating[:, ::1] grad_w, const long long[:, ::1] geometry,
                    Py_ssize_t multiplier, int n_threads):
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t N = x.shape[0], O = grad_w.shape[0], taps = grad_w.shape[1]
    cdef Job j
    _check_grads("backward_weight", &g, N, x.shape[1], x.shape[2], O, taps, grad_y.shape[0],
                 grad_y.shape[1], grad_y.shape[2], multiplier)
    if O * taps == 0:
        return
    # per output channel: a row of column sums per tap, in double
    cdef double[:, ::1] acc = np.zeros((O, taps * g.n_out[2] + 1))
    memset(&j, 0, sizeof(Job))
    j.op, j.g, j.C, j.O, j.multiplier = WEIGHT_GRAD, &g, N, O, multiplier
    j.a = &x[0, 0, 0] if N * x.shape[1] * x.shape[2] else NULL
    j.b = &grad_y[0, 0, 0] if N * grad_y.shape[2] else NULL
    j.acc, j.acc_size = &acc[0, 0], acc.shape[1]
    _run(&j, &grad_w[0, 0], O, 1, n_threads)
