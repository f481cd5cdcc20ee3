"""Convolution by im2col + GEMM, forward and backward, for 1-D, 2-D and 3-D inputs.

Every input is seen as ``(N, C, D, H, W)``: 1-D and 2-D inputs have leading singleton spatial axes,
so one source serves the three dimensionalities. ``geometry`` is an int64 array of shape (6, 3):
input size, output size, kernel, stride, low-side zero padding and dilation over (D, H, W). The
high-side padding is implicit in the output size, so asymmetric padding needs nothing more.

For one image and one group, im2col lays the input patches out as a matrix ``cols`` of shape
``(C_g * kd * kh * kw, L)`` with ``L = oD * oH * oW`` output positions, and the convolution is the
GEMM ``y[C_out_g, L] = w[C_out_g, K] @ cols[K, L]``. The matrix is built in column tiles of at
most ``TILE`` output positions, so it stays in cache on its way into the GEMM; a stride-1 row of a
tile is a plain copy. Images are spread over threads with ``prange``; the caller holds SciPy's BLAS
to one thread meanwhile, so the two kinds of threads never multiply.

Functions (arrays C-contiguous, validated by ``convcore.functional.conv``):

- ``forward(x, w, y, geometry, groups, work, n_threads)``: ``x`` (N, C_in, in), ``w`` (C_out, K),
  ``y`` (N, C_out, L) written; ``work`` (n_threads, K * TILE) scratch.
- ``backward_input(grad_y, w, grad_x, geometry, groups, work, n_threads)``: ``grad_x``
  (N, C_in, in) written; ``work`` (n_threads, K * L) scratch.
- ``backward_weight(grad_y, x, geometry, groups, grad_w, work, n_threads)``: ``grad_w``
  (n_threads, C_out, K) zero-filled, receives per-thread partial sums (the caller adds them);
  ``work`` (n_threads, K * TILE).

A 1x1 convolution with stride 1 and no padding skips im2col: its input already is the matrix.
"""
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

from _blas cimport gemm
from _fused cimport floating

# Output positions per im2col tile: K x TILE floats stay in L2 for the usual K (C_in * k * k <= 1152).
TILE = 256


cdef struct Geometry:
    Py_ssize_t n_in[3]
    Py_ssize_t n_out[3]
    Py_ssize_t k[3]
    Py_ssize_t s[3]
    Py_ssize_t p[3]
    Py_ssize_t dil[3]


cdef Geometry _geometry(const long long[:, ::1] g) except *:
    cdef Geometry geo
    cdef int a
    for a in range(3):
        geo.n_in[a] = g[0, a]
        geo.n_out[a] = g[1, a]
        geo.k[a] = g[2, a]
        geo.s[a] = g[3, a]
        geo.p[a] = g[4, a]
        geo.dil[a] = g[5, a]
    return geo


cdef inline bint _pointwise(const Geometry *g) noexcept nogil:
    """A 1x1 convolution with stride 1 and no padding: the input already is the im2col matrix."""
    cdef int a
    for a in range(3):
        if g.k[a] != 1 or g.s[a] != 1 or g.p[a] != 0:
            return False
    return True


cdef inline void _valid_range(Py_ssize_t start, Py_ssize_t step, Py_ssize_t n, Py_ssize_t count,
                              Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """Outputs o in [lo, hi) for which start + o * step lies in [0, n); count outputs in all."""
    lo[0] = 0 if start >= 0 else (-start + step - 1) // step
    hi[0] = 0 if start >= n else (n - 1 - start) // step + 1
    if hi[0] > count:
        hi[0] = count
    if lo[0] > hi[0]:
        lo[0] = hi[0]


cdef void _patches(const floating *x, floating *cols, Py_ssize_t channels, const Geometry *g,
                   Py_ssize_t first, Py_ssize_t count, bint scatter) noexcept nogil:
    """im2col (scatter False): cols[K, count] = the patches of output positions first..first+count.
    col2im (scatter True): x[...] += cols[K, count] for the same positions (x is then written).

    Rows of cols run over (c, i, j, l) kernel taps; columns over output positions, whose
    (od, oh, ow) are walked incrementally along the tile.
    """
    cdef Py_ssize_t c, i, j, l, r = 0, t, od, oh, ow, d, h, w_start, run, lo, hi, n
    cdef Py_ssize_t plane = g.n_in[0] * g.n_in[1] * g.n_in[2]
    cdef Py_ssize_t oW = g.n_out[2], oHW = g.n_out[1] * g.n_out[2]
    cdef floating *row
    cdef floating *src
    for c in range(channels):
        for i in range(g.k[0]):
            for j in range(g.k[1]):
                for l in range(g.k[2]):
                    row = cols + r * count
                    r += 1
                    t = 0
                    od = first // oHW
                    oh = (first - od * oHW) // oW
                    ow = first - od * oHW - oh * oW
                    while t < count:
                        run = oW - ow  # the rest of this output row, or of the tile
                        if run > count - t:
                            run = count - t
                        d = od * g.s[0] - g.p[0] + i * g.dil[0]
                        h = oh * g.s[1] - g.p[1] + j * g.dil[1]
                        if d < 0 or d >= g.n_in[0] or h < 0 or h >= g.n_in[1]:
                            if not scatter:
                                memset(row + t, 0, run * sizeof(floating))
                        else:
                            src = <floating *> x + c * plane + (d * g.n_in[1] + h) * g.n_in[2]
                            w_start = ow * g.s[2] - g.p[2] + l * g.dil[2]
                            _valid_range(w_start, g.s[2], g.n_in[2], run, &lo, &hi)
                            if scatter:
                                for n in range(lo, hi):
                                    src[w_start + n * g.s[2]] += row[t + n]
                            else:
                                if lo > 0:
                                    memset(row + t, 0, lo * sizeof(floating))
                                if g.s[2] == 1 and hi > lo:
                                    memcpy(row + t + lo, src + w_start + lo, (hi - lo) * sizeof(floating))
                                else:
                                    for n in range(lo, hi):
                                        row[t + n] = src[w_start + n * g.s[2]]
                                if hi < run:
                                    memset(row + t + hi, 0, (run - hi) * sizeof(floating))
                        t += run
                        ow = 0
                        oh += 1
                        if oh == g.n_out[1]:
                            oh = 0
                            od += 1


cdef void _forward_image(const floating *x, const floating *w, floating *y, floating *cols,
                         const Geometry *g, Py_ssize_t c_in, Py_ssize_t c_out, Py_ssize_t groups,
                         Py_ssize_t tile) noexcept nogil:
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, first, count
    cdef Py_ssize_t K = cg * g.k[0] * g.k[1] * g.k[2], L = g.n_out[0] * g.n_out[1] * g.n_out[2]
    cdef Py_ssize_t plane = g.n_in[0] * g.n_in[1] * g.n_in[2]
    for grp in range(groups):
        if _pointwise(g):
            gemm(False, False, og, L, K, 1.0, w + grp * og * K, K, x + grp * cg * plane, L,
                 0.0, y + grp * og * L, L)
            continue
        first = 0
        while first < L:
            count = tile if L - first > tile else L - first
            _patches(x + grp * cg * plane, cols, cg, g, first, count, False)
            gemm(False, False, og, count, K, 1.0, w + grp * og * K, K, cols, count,
                 0.0, y + grp * og * L + first, L)
            first += count


def forward(const floating[:, :, ::1] x, const floating[:, ::1] w, floating[:, :, ::1] y,
            const long long[:, ::1] geometry, Py_ssize_t groups, floating[:, ::1] work,
            int n_threads):
    cdef Geometry g = _geometry(geometry)
    cdef Py_ssize_t n, tile = work.shape[1] // w.shape[1]
    with nogil:
        if n_threads <= 1:
            for n in range(x.shape[0]):
                _forward_image(&x[n, 0, 0], &w[0, 0], &y[n, 0, 0], &work[0, 0], &g,
                               x.shape[1], w.shape[0], groups, tile)
        else:
            for n in prange(x.shape[0], num_threads=n_threads, schedule="dynamic"):
                _forward_image(&x[n, 0, 0], &w[0, 0], &y[n, 0, 0], &work[threadid(), 0], &g,
                               x.shape[1], w.shape[0], groups, tile)


cdef void _input_grad_image(const floating *gy, const floating *w, floating *gx, floating *cols,
                            const Geometry *g, Py_ssize_t c_in, Py_ssize_t c_out,
                            Py_ssize_t groups) noexcept nogil:
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp
    cdef Py_ssize_t K = cg * g.k[0] * g.k[1] * g.k[2], L = g.n_out[0] * g.n_out[1] * g.n_out[2]
    cdef Py_ssize_t plane = g.n_in[0] * g.n_in[1] * g.n_in[2]
    if not _pointwise(g):
        memset(gx, 0, c_in * plane * sizeof(floating))
    for grp in range(groups):
        if _pointwise(g):
            gemm(True, False, K, L, og, 1.0, w + grp * og * K, K, gy + grp * og * L, L,
                 0.0, gx + grp * cg * plane, L)
            continue
        # cols[K, L] = w_g^T @ gy_g, then scattered back onto the input positions they came from
        gemm(True, False, K, L, og, 1.0, w + grp * og * K, K, gy + grp * og * L, L, 0.0, cols, L)
        _patches(gx + grp * cg * plane, cols, cg, g, 0, L, True)


def backward_input(const floating[:, :, ::1] grad_y, const floating[:, ::1] w,
                   floating[:, :, ::1] grad_x, const long long[:, ::1] geometry, Py_ssize_t groups,
                   floating[:, ::1] work, int n_threads):
    cdef Geometry g = _geometry(geometry)
    cdef Py_ssize_t n
    with nogil:
        if n_threads <= 1:
            for n in range(grad_y.shape[0]):
                _input_grad_image(&grad_y[n, 0, 0], &w[0, 0], &grad_x[n, 0, 0], &work[0, 0], &g,
                                  grad_x.shape[1], w.shape[0], groups)
        else:
            for n in prange(grad_y.shape[0], num_threads=n_threads, schedule="dynamic"):
                _input_grad_image(&grad_y[n, 0, 0], &w[0, 0], &grad_x[n, 0, 0],
                                  &work[threadid(), 0], &g, grad_x.shape[1], w.shape[0], groups)


cdef void _weight_grad_image(const floating *gy, const floating *x, floating *gw, floating *cols,
                             const Geometry *g, Py_ssize_t c_in, Py_ssize_t c_out,
                             Py_ssize_t groups, Py_ssize_t tile) noexcept nogil:
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, first, count
    cdef Py_ssize_t K = cg * g.k[0] * g.k[1] * g.k[2], L = g.n_out[0] * g.n_out[1] * g.n_out[2]
    cdef Py_ssize_t plane = g.n_in[0] * g.n_in[1] * g.n_in[2]
    for grp in range(groups):
        if _pointwise(g):
            gemm(False, True, og, K, L, 1.0, gy + grp * og * L, L, x + grp * cg * plane, L,
                 1.0, gw + grp * og * K, K)
            continue
        first = 0
        while first < L:
            count = tile if L - first > tile else L - first
            _patches(x + grp * cg * plane, cols, cg, g, first, count, False)
            # gw_g[og, K] += gy_g[og, tile] @ cols[K, tile]^T
            gemm(False, True, og, K, count, 1.0, gy + grp * og * L + first, L, cols, count,
                 1.0, gw + grp * og * K, K)
            first += count


def backward_weight(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                    const long long[:, ::1] geometry, Py_ssize_t groups,
                    floating[:, :, ::1] grad_w, floating[:, ::1] work, int n_threads):
    cdef Geometry g = _geometry(geometry)
    cdef Py_ssize_t n, tile = work.shape[1] // grad_w.shape[2]
    with nogil:
        if n_threads <= 1:
            for n in range(x.shape[0]):
                _weight_grad_image(&grad_y[n, 0, 0], &x[n, 0, 0], &grad_w[0, 0, 0], &work[0, 0],
                                   &g, x.shape[1], grad_w.shape[1], groups, tile)
        else:
            for n in prange(x.shape[0], num_threads=n_threads, schedule="dynamic"):
                _weight_grad_image(&grad_y[n, 0, 0], &x[n, 0, 0], &grad_w[threadid(), 0, 0],
                                   &work[threadid(), 0], &g, x.shape[1], grad_w.shape[1],
                                   groups, tile)
