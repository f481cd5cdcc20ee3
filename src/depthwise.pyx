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
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc

import numpy as np

from fused cimport floating
from geometry cimport Geometry, read_geometry, valid_range

cdef enum:
    WIDE_MAX = 32  # output widths up to which small planes take the padded-plane runs


cdef void _tap_ranges(const Geometry *g, Py_ssize_t *lo, Py_ssize_t *hi,
                      Py_ssize_t *start) noexcept nogil:
    """The output columns [lo[l], hi[l]) tap l along W reaches, reading column ow * stride +
    start[l]: the same for every row and plane."""
    cdef Py_ssize_t l
    for l in range(g.k[2]):
        start[l] = l * g.dil[2] - g.p[2]
        valid_range(start[l], g.s[2], g.n_in[2], g.n_out[2], &lo[l], &hi[l])


cdef void _plane(const floating *x, const floating *w, floating shift, floating *y,
                 const Geometry *g, const Py_ssize_t *lo, const Py_ssize_t *hi,
                 const Py_ssize_t *start) noexcept nogil:
    """y[od, oh, ow] = shift + sum over taps (i, j, l) of w[i, j, l] * x[d, h, w] (zero outside).
    Tap l reads input column ow * stride + start[l] for the outputs ow in [lo[l], hi[l])."""
    cdef Py_ssize_t oD = g.n_out[0], oH = g.n_out[1], oW = g.n_out[2]
    cdef Py_ssize_t H = g.n_in[1], W = g.n_in[2], sw = g.s[2], kw = g.k[2]
    cdef Py_ssize_t od, oh, ow, i, j, l, d, h, q, s0
    cdef floating wv
    cdef floating *yrow
    cdef const floating *xrow
    cdef const floating *wrow
    for q in range(g.L):
        y[q] = shift
    for od in range(oD):
        for i in range(g.k[0]):
            d = od * g.s[0] - g.p[0] + i * g.dil[0]
            if d < 0 or d >= g.n_in[0]:
                continue
            for oh in range(oH):
                yrow = y + (od * oH + oh) * oW
                for j in range(g.k[1]):
                    h = oh * g.s[1] - g.p[1] + j * g.dil[1]
                    if h < 0 or h >= H:
                        continue
                    xrow = x + (d * H + h) * W
                    wrow = w + (i * g.k[1] + j) * kw
                    for l in range(kw):
                        wv = wrow[l]
                        s0 = start[l]
                        if sw == 1:
                            for ow in range(lo[l], hi[l]):
                                yrow[ow] += wv * xrow[ow + s0]
                        else:
                            for ow in range(lo[l], hi[l]):
                                yrow[ow] += wv * xrow[ow * sw + s0]


cdef bint _wide_pays(const Geometry *g) noexcept nogil:
    """A small 2-D (or 1-D) plane with stride 1: the padded-plane runs of ``_plane_wide``."""
    return (g.n_out[0] == 1 and g.k[0] == 1 and g.s[1] == 1 and g.s[2] == 1
            and g.n_out[2] <= WIDE_MAX)


cdef void _plane_wide(const floating *x, const floating *w, floating shift, floating *y,
                      const Geometry *g, floating *pad, floating *wide) noexcept nogil:
    """``_plane`` for a small plane with stride 1: the plane is copied once, zero padded, into
    ``pad`` (Hp x Wp rows, then a zero tail), and every tap is then one run over all oH * Wp
    positions of a wide output; the Wp - oW extra columns of each row are dropped at the end.
    (Row-by-row runs on a 4x4 plane are 4 long: loop overhead, not arithmetic.)"""
    cdef Py_ssize_t oH = g.n_out[1], oW = g.n_out[2], H = g.n_in[1], W = g.n_in[2]
    cdef Py_ssize_t kh = g.k[1], kw = g.k[2], dh = g.dil[1], dw = g.dil[2]
    cdef Py_ssize_t Hp = oH + (kh - 1) * dh, Wp = oW + (kw - 1) * dw, n = oH * Wp
    cdef Py_ssize_t r, c, sr, sc, j, l, q, off
    cdef floating wv
    for r in range(Hp):
        sr = r - g.p[1]
        for c in range(Wp):
            sc = c - g.p[2]
            pad[r * Wp + c] = x[sr * W + sc] if 0 <= sr < H and 0 <= sc < W else 0
    for q in range(Hp * Wp, Hp * Wp + (kw - 1) * dw):
        pad[q] = 0
    for q in range(n):
        wide[q] = shift
    for j in range(kh):
        for l in range(kw):
            wv = w[j * kw + l]
            off = j * dh * Wp + l * dw
            for q in range(n):
                wide[q] += wv * pad[q + off]
    for r in range(oH):
        for c in range(oW):
            y[r * oW + c] = wide[r * Wp + c]


def forward(const floating[:, :, ::1] x, const floating[:, ::1] w, const floating[::1] bias,
            floating[:, :, ::1] y, const long long[:, ::1] geometry, Py_ssize_t multiplier,
            int n_threads):
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], O = w.shape[0], p, n, o, l
    if (multiplier < 1 or O != C * multiplier or w.shape[1] != g.taps or x.shape[2] != g.plane
            or y.shape[0] != N or y.shape[1] != O or y.shape[2] != g.L
            or bias.shape[0] not in (0, O)):
        raise ValueError("depthwise forward: array shapes do not match the geometry")
    if N == 0 or O == 0:
        return
    # the output columns each tap along W reaches: the same for every row and plane
    cdef Py_ssize_t[::1] lo = np.empty(g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] hi = np.empty(g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] start = np.empty(g.k[2], dtype=np.intp)
    _tap_ranges(&g, &lo[0], &hi[0], &start[0])
    cdef int teams = max(n_threads, 1), t
    cdef Py_ssize_t P = N * O, pad_size = 0, wide_size = 0
    cdef bint wide = _wide_pays(&g)
    cdef floating *scratch
    if wide:
        pad_size = ((g.n_out[1] + (g.k[1] - 1) * g.dil[1]) * (g.n_out[2] + (g.k[2] - 1) * g.dil[2])
                    + (g.k[2] - 1) * g.dil[2])
        wide_size = g.n_out[1] * (g.n_out[2] + (g.k[2] - 1) * g.dil[2])
    with nogil:
        for t in prange(teams, num_threads=teams, schedule="static", chunksize=1):
            scratch = NULL
            if wide:
                scratch = <floating *> malloc((pad_size + wide_size) * sizeof(floating))
            for p in range(t * P // teams, (t + 1) * P // teams):
                n = p // O
                o = p - n * O
                if wide and scratch != NULL:  # (out of memory: the row-by-row way needs none)
                    _plane_wide(&x[n, o // multiplier, 0], &w[o, 0],
                                bias[o] if bias.shape[0] else 0, &y[n, o, 0], &g, scratch,
                                scratch + pad_size)
                else:
                    _plane(&x[n, o // multiplier, 0], &w[o, 0], bias[o] if bias.shape[0] else 0,
                           &y[n, o, 0], &g, &lo[0], &hi[0], &start[0])
            free(scratch)


cdef void _plane_input_grad(const floating *gy, const floating *w, floating *gx,
                            const Geometry *g, const Py_ssize_t *lo, const Py_ssize_t *hi,
                            const Py_ssize_t *start) noexcept nogil:
    """gx[d, h, :] += w[i, j, l] * gy[od, oh, ow] at every input position the forward read it
    from (the transpose of ``_plane``); gx is not cleared here."""
    cdef Py_ssize_t oD = g.n_out[0], oH = g.n_out[1], oW = g.n_out[2]
    cdef Py_ssize_t H = g.n_in[1], W = g.n_in[2], sw = g.s[2], kw = g.k[2]
    cdef Py_ssize_t od, oh, ow, i, j, l, d, h, s0
    cdef floating wv
    cdef const floating *gyrow
    cdef floating *gxrow
    for od in range(oD):
        for i in range(g.k[0]):
            d = od * g.s[0] - g.p[0] + i * g.dil[0]
            if d < 0 or d >= g.n_in[0]:
                continue
            for oh in range(oH):
                gyrow = gy + (od * oH + oh) * oW
                for j in range(g.k[1]):
                    h = oh * g.s[1] - g.p[1] + j * g.dil[1]
                    if h < 0 or h >= H:
                        continue
                    gxrow = gx + (d * H + h) * W
                    for l in range(kw):
                        wv = w[(i * g.k[1] + j) * kw + l]
                        s0 = start[l]
                        if sw == 1:
                            for ow in range(lo[l], hi[l]):
                                gxrow[ow + s0] += wv * gyrow[ow]
                        else:
                            for ow in range(lo[l], hi[l]):
                                gxrow[ow * sw + s0] += wv * gyrow[ow]


cdef void _plane_weight_grad(const floating *gy, const floating *x, double *acc,
                             const Geometry *g, const Py_ssize_t *lo, const Py_ssize_t *hi,
                             const Py_ssize_t *start) noexcept nogil:
    """acc[t, ow] += gy[od, oh, ow] * x[d, h, ow * stride + start[l]] for tap t = (i, j, l): the
    products are summed per output column (element-wise adds the compiler vectorises; a running
    scalar sum would wait on every add), the columns added up by the caller."""
    cdef Py_ssize_t oD = g.n_out[0], oH = g.n_out[1], oW = g.n_out[2]
    cdef Py_ssize_t H = g.n_in[1], W = g.n_in[2], sw = g.s[2], kw = g.k[2]
    cdef Py_ssize_t od, oh, ow, i, j, l, d, h, s0
    cdef double *row
    cdef const floating *gyrow
    cdef const floating *xrow
    for od in range(oD):
        for i in range(g.k[0]):
            d = od * g.s[0] - g.p[0] + i * g.dil[0]
            if d < 0 or d >= g.n_in[0]:
                continue
            for oh in range(oH):
                gyrow = gy + (od * oH + oh) * oW
                for j in range(g.k[1]):
                    h = oh * g.s[1] - g.p[1] + j * g.dil[1]
                    if h < 0 or h >= H:
                        continue
                    xrow = x + (d * H + h) * W
                    for l in range(kw):
                        s0 = start[l]
                        row = acc + ((i * g.k[1] + j) * kw + l) * oW
                        if sw == 1:
                            for ow in range(lo[l], hi[l]):
                                row[ow] += <double> gyrow[ow] * <double> xrow[ow + s0]
                        else:
                            for ow in range(lo[l], hi[l]):
                                row[ow] += <double> gyrow[ow] * <double> xrow[ow * sw + s0]


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
    cdef Py_ssize_t N = grad_x.shape[0], C = grad_x.shape[1], P = N * C, p, n, c, j, q, o
    _check_grads("backward_input", &g, N, C, grad_x.shape[2], w.shape[0], w.shape[1],
                 grad_y.shape[0], grad_y.shape[1], grad_y.shape[2], multiplier)
    cdef Py_ssize_t[::1] lo = np.empty(g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] hi = np.empty(g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] start = np.empty(g.k[2], dtype=np.intp)
    _tap_ranges(&g, &lo[0], &hi[0], &start[0])
    if P == 0:
        return
    with nogil:
        for p in prange(P, num_threads=max(n_threads, 1), schedule="static"):
            n = p // C
            c = p - n * C
            for q in range(g.plane):
                grad_x[n, c, q] = 0
            for j in range(multiplier):
                o = c * multiplier + j
                _plane_input_grad(&grad_y[n, o, 0], &w[o, 0], &grad_x[n, c, 0], &g, &lo[0],
                                  &hi[0], &start[0])


def backward_weight(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                    floating[:, ::1] grad_w, const long long[:, ::1] geometry,
                    Py_ssize_t multiplier, int n_threads):
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t N = x.shape[0], O = grad_w.shape[0], taps = grad_w.shape[1], o, n, t, q
    cdef Py_ssize_t oW = g.n_out[2]
    cdef double total
    _check_grads("backward_weight", &g, N, x.shape[1], x.shape[2], O, taps, grad_y.shape[0],
                 grad_y.shape[1], grad_y.shape[2], multiplier)
    cdef Py_ssize_t[::1] lo = np.empty(g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] hi = np.empty(g.k[2], dtype=np.intp)
    cdef Py_ssize_t[::1] start = np.empty(g.k[2], dtype=np.intp)
    _tap_ranges(&g, &lo[0], &hi[0], &start[0])
    # per output channel: a row of column sums per tap, in double
    cdef double[:, ::1] acc = np.zeros((O, taps * oW + 1))
    with nogil:
        for o in prange(O, num_threads=max(n_threads, 1), schedule="dynamic"):
            for n in range(N):
                _plane_weight_grad(&grad_y[n, o, 0], &x[n, o // multiplier, 0], &acc[o, 0], &g,
                                   &lo[0], &hi[0], &start[0])
            for t in range(taps):
                total = 0
                for q in range(oW):
                    total = total + acc[o, t * oW + q]
                grad_w[o, t] = <floating> total
