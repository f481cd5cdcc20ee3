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
"""
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc

import numpy as np

from _fused cimport floating
from _geometry cimport Geometry, read_geometry, valid_range

cdef enum:
    WIDE_MAX = 32  # output widths up to which small planes take the padded-plane runs


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
    for l in range(g.k[2]):
        start[l] = l * g.dil[2] - g.p[2]
        valid_range(start[l], g.s[2], g.n_in[2], g.n_out[2], &lo[l], &hi[l])
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
