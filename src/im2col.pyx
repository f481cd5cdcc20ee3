"""im2col / col2im and convolution by im2col + GEMM, forward and backward, 1-D, 2-D and 3-D.

Every input is seen as ``(N, C, D, H, W)``: 1-D and 2-D inputs have leading singleton spatial axes,
so one source serves the three dimensionalities. ``geometry`` is an int64 array of shape (6, 3):
input size, output size, kernel, stride, low-side zero padding and dilation over (D, H, W). The
high-side padding is implicit in the output size, so asymmetric padding needs nothing more.

For one image and one group, im2col lays the input patches out as a matrix ``cols`` of shape
``(K, L)``, ``K = C_g * kd * kh * kw`` kernel taps by ``L = oD * oH * oW`` output positions, and the
convolution is the GEMM ``y[C_out_g, L] = w[C_out_g, K] @ cols[K, L]``. The kernels build that
matrix in column tiles of ``tile`` output positions (a few hundred, chosen by the caller: for a
deep K a tile is about the size of L2) and hand each tile straight to sgemm/dgemm; within a tile,
the kw taps along a row share its bounds and a stride-1 run of an input row is one straight copy.
The input gradient goes the other way, tile by tile:
``cols = w^T @ grad_y`` then col2im adds every column back onto the input positions it came from.

Images are spread over threads with ``prange``; the caller limits SciPy's BLAS to one thread
meanwhile (or, for a batch smaller than the thread count, passes ``n_threads=1`` and lets BLAS own
the threads), so the two kinds of threads never multiply.

Functions (arrays C-contiguous; arguments validated by ``convcore.functional.conv``, array shapes
checked here against the geometry before any memory is touched):

- ``im2col(x, geometry, cols)``: one image ``x`` (C, D*H*W) -> ``cols`` (C * k, L), written.
- ``col2im(cols, geometry, x)``: ``x`` (C, D*H*W) += the columns of ``cols`` (C * k, L).
- ``forward(x, w, bias, y, geometry, groups, tile, images, work, n_threads)``: ``x`` (N, C_in,
  D*H*W), ``w`` (C_out, K) or (C_out, K + 1) with the bias as its last column (then ``bias`` is
  empty and the GEMM adds it against a row of ones under the patches), ``bias`` (C_out,) or
  empty, ``y`` (N, C_out, L) written; ``work`` (n_threads, K' * (tile + COLS_PAD)) scratch, K' the
  columns of w. With ``images`` > 1 every work item is that many images in one GEMM.
- ``backward_input(grad_y, w, grad_x, geometry, groups, tile, work, n_threads, images=1)``:
  ``grad_x`` (N, C_in, D*H*W) written; ``work`` (n_threads, K * (tile + COLS_PAD)).
- ``backward_weight(grad_y, x, grad_w, geometry, groups, tile, work, n_threads, images=1)``: ``grad_w``
  (n_chunks, C_out, K) zero-filled by the caller; chunk c receives the sum over images
  ``c * N // n_chunks`` to ``(c + 1) * N // n_chunks``, taken in order, and the caller adds the
  chunks up in order. The chunks are fixed by the caller, not by the thread count, so the result
  is the same bits on any number of threads. ``work`` (n_threads, K * (tile + COLS_PAD)).
  With ``images`` > 1 (both gradients), the output gradients and patches of that many images sit
  side by side in one GEMM, as in ``forward``: small maps (a deep layer on 32x32 inputs has 1 to
  16 output positions per image) make GEMMs of depth or width 1 to 16 one image at a time.

- ``forward_winograd(x, u, bias, y, geometry, tile_rows, images, work, n_threads)``: the same
  forward for a 2-D 3x3 kernel with stride 1 by Winograd F(2x2, 3x3) (see the section below);
  ``u`` (16, C_out, C_in) the transformed weights; small images ``images`` to a step.
- ``backward_weight_winograd(grad_y, x, grad_u, geometry, tile_rows, images, work, n_threads)``:
  its weight gradient in the Winograd domain, ``grad_u`` (n_chunks, 16, C_out, C_in), chunked as
  in ``backward_weight``.

A 1x1 convolution with stride 1 and no padding skips im2col: its input already is the matrix.
"""
from cython.parallel cimport prange, threadid
from libc.string cimport memcpy, memset

from blas cimport gemm
from fused cimport floating
from geometry cimport Geometry, read_geometry, valid_range


cdef inline void _copy_run(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    """dst[:n] = src[:n]: short runs (an image row) copied inline, no call."""
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = src[i]


cdef inline void _add_run(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    """dst[:n] += src[:n] (separate arrays: a loop the compiler vectorises)."""
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] += src[i]


cdef inline void _zero_run(floating *dst, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = 0


cdef extern from *:
    """
    /* im2col's stride-1 gather of one output-row run for the kw taps along W: row l of dst
       (rows ld apart) gets src[w0 + l * dil + n] for n in [0, run), zero where that column lies
       outside [0, W). */
    #define CONVCORE_GATHER(T, NAME)                                                              \
    static void NAME(const T *__restrict src, T *__restrict dst,           \
            ptrdiff_t ld, ptrdiff_t kw, ptrdiff_t W, ptrdiff_t w0, ptrdiff_t dil,                 \
            ptrdiff_t run) {                                                                      \
        for (ptrdiff_t l = 0; l < kw; l++) {                                                      \
            T *__restrict row = dst + l * ld;                                                     \
            ptrdiff_t ws = w0 + l * dil, lo = ws < 0 ? -ws : 0, hi = W - ws;                      \
            if (hi > run) hi = run;                                                               \
            if (lo > run) lo = run;                                                               \
            if (hi < lo) hi = lo;                                                                 \
            for (ptrdiff_t n = 0; n < lo; n++) row[n] = 0;                                        \
            for (ptrdiff_t n = lo; n < hi; n++) row[n] = src[ws + n];                             \
            for (ptrdiff_t n = hi; n < run; n++) row[n] = 0;                                      \
        }                                                                                         \
    }
    /* The same for stride 2 along W (downsampling layers): row l gets src[w0 + l * dil + 2n]. */
    #define CONVCORE_GATHER2(T, NAME)                                                          \
    static void NAME(const T *__restrict src, T *__restrict dst,        \
            ptrdiff_t ld, ptrdiff_t kw, ptrdiff_t W, ptrdiff_t w0, ptrdiff_t dil,              \
            ptrdiff_t run) {                                                                   \
        for (ptrdiff_t l = 0; l < kw; l++) {                                                   \
            T *__restrict row = dst + l * ld;                                                  \
            ptrdiff_t ws = w0 + l * dil;                                                       \
            ptrdiff_t lo = ws < 0 ? (-ws + 1) / 2 : 0, hi = ws < W ? (W - 1 - ws) / 2 + 1 : 0; \
            if (hi > run) hi = run;                                                            \
            if (lo > hi) lo = hi;                                                              \
            for (ptrdiff_t n = 0; n < lo; n++) row[n] = 0;                                     \
            const T *__restrict from = src + ws;                                               \
            for (ptrdiff_t n = lo; n < hi; n++) row[n] = from[2 * n];                          \
            for (ptrdiff_t n = hi; n < run; n++) row[n] = 0;                                   \
        }                                                                                      \
    }
    CONVCORE_GATHER(float, convcore_gather_f)
    CONVCORE_GATHER(double, convcore_gather_d)
    CONVCORE_GATHER2(float, convcore_gather2_f)
    CONVCORE_GATHER2(double, convcore_gather2_d)
    """
    void convcore_gather_f(const float *src, float *dst, Py_ssize_t ld, Py_ssize_t kw,
                           Py_ssize_t W, Py_ssize_t w0, Py_ssize_t dil,
                           Py_ssize_t run) noexcept nogil
    void convcore_gather_d(const double *src, double *dst, Py_ssize_t ld, Py_ssize_t kw,
                           Py_ssize_t W, Py_ssize_t w0, Py_ssize_t dil,
                           Py_ssize_t run) noexcept nogil
    void convcore_gather2_f(const float *src, float *dst, Py_ssize_t ld, Py_ssize_t kw,
                            Py_ssize_t W, Py_ssize_t w0, Py_ssize_t dil,
                            Py_ssize_t run) noexcept nogil
    void convcore_gather2_d(const double *src, double *dst, Py_ssize_t ld, Py_ssize_t kw,
                            Py_ssize_t W, Py_ssize_t w0, Py_ssize_t dil,
                            Py_ssize_t run) noexcept nogil


cdef void _patches(floating *x, floating *cols, Py_ssize_t channels, const Geometry *g,
                   Py_ssize_t first, Py_ssize_t count, Py_ssize_t ld, bint scatter) noexcept nogil:
    """im2col (scatter False): cols[K, count] = the patches of output positions first..first+count.
    col2im (scatter True): x[...] += cols[K, count] for the same positions (x is then written).
    ``ld`` (>= count) is the distance between rows of cols.

    Rows of cols run over (c, i, j, l) kernel taps; columns over output positions. The positions
    are walked one output row (or the part of it inside the tile) at a time, and for each the kw
    taps l along the row share the input row they read: one run per tap, whose in-bounds part is
    found without a division when the stride along W is 1.
    """
    cdef Py_ssize_t c, i, j, l, t, od, oh, ow, d, h, w_start, run, lo, hi, n
    cdef Py_ssize_t oW = g.n_out[2], oHW = g.n_out[1] * g.n_out[2], sw = g.s[2]
    cdef Py_ssize_t kw = g.k[2], W = g.n_in[2], od0, oh0, ow0
    cdef floating *rows
    cdef floating *row
    cdef floating *src
    od0 = first // oHW
    oh0 = (first - od0 * oHW) // oW
    ow0 = first - od0 * oHW - oh0 * oW
    for c in range(channels):
        for i in range(g.k[0]):
            for j in range(g.k[1]):
                rows = cols + ((c * g.k[0] + i) * g.k[1] + j) * kw * ld
                t = 0
                od = od0
                oh = oh0
                ow = ow0
                while t < count:
                    run = oW - ow  # the rest of this output row, or of the tile
                    if run > count - t:
                        run = count - t
                    d = od * g.s[0] - g.p[0] + i * g.dil[0]
                    h = oh * g.s[1] - g.p[1] + j * g.dil[1]
                    if d < 0 or d >= g.n_in[0] or h < 0 or h >= g.n_in[1]:
                        if not scatter:
                            for l in range(kw):
                                _zero_run(rows + l * ld + t, run)
                    elif sw == 1 and not scatter:
                        src = x + c * g.plane + (d * g.n_in[1] + h) * W
                        if floating is float:
                            convcore_gather_f(src, rows + t, ld, kw, W, ow - g.p[2], g.dil[2], run)
                        else:
                            convcore_gather_d(src, rows + t, ld, kw, W, ow - g.p[2], g.dil[2], run)
                    elif sw == 2 and not scatter:
                        src = x + c * g.plane + (d * g.n_in[1] + h) * W
                        if floating is float:
                            convcore_gather2_f(src, rows + t, ld, kw, W, 2 * ow - g.p[2], g.dil[2],
                                               run)
                        else:
                            convcore_gather2_d(src, rows + t, ld, kw, W, 2 * ow - g.p[2], g.dil[2],
                                               run)
                    else:
                        src = x + c * g.plane + (d * g.n_in[1] + h) * W
                        for l in range(kw):
                            row = rows + l * ld + t
                            w_start = ow * sw - g.p[2] + l * g.dil[2]
                            if sw == 1:
                                lo = -w_start if w_start < 0 else 0
                                hi = W - w_start
                                if hi > run:
                                    hi = run
                                if lo > run:
                                    lo = run
                                if hi < lo:
                                    hi = lo
                            else:
                                valid_range(w_start, sw, W, run, &lo, &hi)
                            if scatter:
                                if sw == 1:
                                    _add_run(src + w_start + lo, row + lo, hi - lo)
                                else:
                                    for n in range(lo, hi):
                                        src[w_start + n * sw] += row[n]
                            else:
                                _zero_run(row, lo)
                                if sw == 1:
                                    _copy_run(row + lo, src + w_start + lo, hi - lo)
                                else:
                                    for n in range(lo, hi):
                                        row[n] = src[w_start + n * sw]
                                _zero_run(row + hi, run - hi)
                    t += run
                    ow = 0
                    oh += 1
                    if oh == g.n_out[1]:
                        oh = 0
                        od += 1


cdef enum:
    _COLS_PAD = 16

# Scratch columns of an im2col tile of `count` output positions (a tile's row length, the GEMM's
# leading dimension): padded, so that a tile of a power-of-two width does not put every row of
# the matrix on one cache set when sgemm packs it.
COLS_PAD = _COLS_PAD


cdef inline Py_ssize_t _cols_ld(Py_ssize_t count) noexcept nogil:
    return count + _COLS_PAD


cdef int _check(str name, const Geometry *g, Py_ssize_t batch, Py_ssize_t c_in, Py_ssize_t plane,
                Py_ssize_t c_out, Py_ssize_t K, Py_ssize_t out_batch, Py_ssize_t out_channels,
                Py_ssize_t L, Py_ssize_t groups, Py_ssize_t tile, Py_ssize_t work_rows,
                Py_ssize_t work_size, int n_threads) except -1:
    """Refuse a call whose arrays do not agree with the geometry (the kernels trust their sizes)."""
    if (groups < 1 or c_in % groups or c_out % groups or K != c_in // groups * g.taps
            or plane != g.plane or L != g.L or out_batch != batch
            or out_channels != c_out or tile < 1 or work_rows < max(n_threads, 1)
            or work_size < K * _cols_ld(min(tile, g.L))):
        raise ValueError(f"{name}: array shapes do not match the geometry")
    return 0


def im2col(const floating[:, ::1] x, const long long[:, ::1] geometry, floating[:, ::1] cols):
    """cols[C * kd * kh * kw, L] = the patches of one image x[C, D * H * W] (zero outside)."""
    cdef Geometry g = read_geometry(geometry)
    if (x.shape[1] != g.plane or cols.shape[0] != x.shape[0] * g.taps
            or cols.shape[1] != g.L):
        raise ValueError("im2col: array shapes do not match the geometry")
    with nogil:
        _patches(<floating *> &x[0, 0], &cols[0, 0], x.shape[0], &g, 0, g.L, g.L, False)


def col2im(const floating[:, ::1] cols, const long long[:, ::1] geometry, floating[:, ::1] x):
    """x[C, D * H * W] += every column of cols added back onto the input positions it came from."""
    cdef Geometry g = read_geometry(geometry)
    if (x.shape[1] != g.plane or cols.shape[0] != x.shape[0] * g.taps
            or cols.shape[1] != g.L):
        raise ValueError("col2im: array shapes do not match the geometry")
    with nogil:
        _patches(&x[0, 0], <floating *> &cols[0, 0], x.shape[0], &g, 0, g.L, g.L, True)


cdef void _forward_image(const floating *x, const floating *w, const floating *bias, floating *y,
                         floating *cols, const Geometry *g, Py_ssize_t c_in, Py_ssize_t c_out,
                         Py_ssize_t groups, Py_ssize_t tile, bint folded) noexcept nogil:
    """``folded``: w has one more column, the bias, which the GEMM multiplies by a row of ones
    under the patches (y is then written once, by the GEMM)."""
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, first, count, o, q
    cdef Py_ssize_t K = cg * g.taps, L = g.L, kw = K + folded
    cdef floating beta = 0
    cdef floating *yo
    cdef floating *ones
    if bias != NULL:  # y starts as the bias, the GEMMs add onto it
        beta = 1
        for o in range(c_out):
            yo = y + o * L
            for q in range(L):
                yo[q] = bias[o]
    for grp in range(groups):
        if g.pointwise:
            gemm(False, False, og, L, K, 1, w + grp * og * K, K, x + grp * cg * L, L,
                 beta, y + grp * og * L, L)
            continue
        first = 0
        while first < L:
            count = tile if L - first > tile else L - first
            _patches(<floating *> x + grp * cg * g.plane, cols, cg, g, first, count,
                     _cols_ld(count), False)
            if folded:
                ones = cols + K * _cols_ld(count)
                for q in range(count):
                    ones[q] = 1
            gemm(False, False, og, count, kw, 1, w + grp * og * kw, kw, cols, _cols_ld(count),
                 beta, y + grp * og * L + first, L)
            first += count


cdef void _forward_images(const floating *x, const floating *w, const floating *bias,
                          floating *y, floating *work, const Geometry *g, Py_ssize_t nb,
                          Py_ssize_t c_in, Py_ssize_t c_out, Py_ssize_t groups) noexcept nogil:
    """nb images at once, for outputs too small to fill a GEMM alone: cols[K, nb * L] holds image
    b's patches in columns b * L ..., one GEMM per group writes out[og, nb * L], which is then
    copied (with the bias) to y[b, o, :]."""
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, b, o, q
    cdef Py_ssize_t K = cg * g.taps, L = g.L, M = nb * L
    cdef floating *cols = work
    cdef floating *out = work + K * M
    cdef floating *dst
    cdef const floating *src
    cdef floating shift
    for grp in range(groups):
        for b in range(nb):
            _patches(<floating *> x + (b * c_in + grp * cg) * g.plane, cols + b * L, cg, g, 0, L,
                     M, False)
        gemm(False, False, og, M, K, 1, w + grp * og * K, K, cols, M, 0, out, M)
        for b in range(nb):
            for o in range(og):
                dst = y + (b * c_out + grp * og + o) * L
                src = out + o * M + b * L
                shift = bias[grp * og + o] if bias != NULL else 0
                for q in range(L):
                    dst[q] = src[q] + shift


def forward(const floating[:, :, ::1] x, const floating[:, ::1] w, const floating[::1] bias,
            floating[:, :, ::1] y, const long long[:, ::1] geometry, Py_ssize_t groups,
            Py_ssize_t tile, Py_ssize_t images, floating[:, ::1] work, int n_threads):
    """With ``images`` > 1, every work item is that many images in one GEMM (``work`` then holds
    (K + C_out / groups) * images * L values per thread); otherwise one image in column tiles."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t n, item, nb, N = x.shape[0]
    cdef Py_ssize_t n_items = (N + images - 1) // images if images > 1 else N
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    cdef bint folded = (groups >= 1 and w.shape[1] == x.shape[1] // groups * g.taps + 1
                        and not g.pointwise and images == 1 and b == NULL)
    _check("forward", &g, x.shape[0], x.shape[1], x.shape[2], w.shape[0], w.shape[1] - folded,
           y.shape[0], y.shape[1], y.shape[2], groups, tile, work.shape[0],
           work.shape[1] - folded * _cols_ld(min(tile, g.L)), n_threads)
    if bias.shape[0] not in (0, w.shape[0]):
        raise ValueError("forward: bias must be empty or hold one value per output channel")
    if images > 1 and work.shape[1] < (w.shape[1] + w.shape[0] // groups) * images * g.L:
        raise ValueError("forward: work is too small for the images per work item")
    with nogil:
        if images > 1:
            for item in prange(n_items, num_threads=max(n_threads, 1), schedule="dynamic"):
                n = item * images
                nb = images if N - n > images else N - n
                _forward_images(&x[n, 0, 0], &w[0, 0], b, &y[n, 0, 0], &work[threadid(), 0],
                                &g, nb, x.shape[1], w.shape[0], groups)
        elif n_threads <= 1:
            for n in range(N):
                _forward_image(&x[n, 0, 0], &w[0, 0], b, &y[n, 0, 0], &work[0, 0], &g,
                               x.shape[1], w.shape[0], groups, tile, folded)
        else:
            for n in prange(N, num_threads=n_threads, schedule="dynamic"):
                _forward_image(&x[n, 0, 0], &w[0, 0], b, &y[n, 0, 0], &work[threadid(), 0], &g,
                               x.shape[1], w.shape[0], groups, tile, folded)


cdef void _input_grad_image(const floating *gy, const floating *w, floating *gx, floating *cols,
                            const Geometry *g, Py_ssize_t c_in, Py_ssize_t c_out,
                            Py_ssize_t groups, Py_ssize_t tile) noexcept nogil:
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, first, count
    cdef Py_ssize_t K = cg * g.taps, L = g.L
    if not g.pointwise:
        memset(gx, 0, c_in * g.plane * sizeof(floating))
    for grp in range(groups):
        if g.pointwise:
            gemm(True, False, K, L, og, 1, w + grp * og * K, K, gy + grp * og * L, L,
                 0, gx + grp * cg * L, L)
            continue
        first = 0
        while first < L:  # cols[K, tile] = w_g^T @ gy_g[:, tile], added back where it came from
            count = tile if L - first > tile else L - first
            gemm(True, False, K, count, og, 1, w + grp * og * K, K,
                 gy + grp * og * L + first, L, 0, cols, _cols_ld(count))
            _patches(gx + grp * cg * g.plane, cols, cg, g, first, count, _cols_ld(count), True)
            first += count


cdef void _join_images(const floating *src, floating *dst, Py_ssize_t nb, Py_ssize_t rows,
                       Py_ssize_t image_stride, Py_ssize_t L) noexcept nogil:
    """dst[r, b * L + q] = src[b * image_stride + r * L + q] for nb images of `rows` rows of L: the
    rows of several images side by side, as one GEMM operand."""
    cdef Py_ssize_t b, r, M = nb * L
    for b in range(nb):
        for r in range(rows):
            memcpy(dst + r * M + b * L, src + b * image_stride + r * L, L * sizeof(floating))


cdef void _input_grad_images(const floating *gy, const floating *w, floating *gx,
                             floating *work, const Geometry *g, Py_ssize_t nb, Py_ssize_t c_in,
                             Py_ssize_t c_out, Py_ssize_t groups) noexcept nogil:
    """nb images at once (outputs too small to fill a GEMM alone): gys[og, nb * L] their output
    gradients side by side, cols[K, nb * L] = w_g^T @ gys by one GEMM per group, each image's
    columns then added back onto its input positions."""
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, b
    cdef Py_ssize_t K = cg * g.taps, L = g.L, M = nb * L
    cdef floating *cols = work
    cdef floating *gys = work + K * M
    memset(gx, 0, nb * c_in * g.plane * sizeof(floating))
    for grp in range(groups):
        _join_images(gy + grp * og * L, gys, nb, og, c_out * L, L)
        gemm(True, False, K, M, og, 1, w + grp * og * K, K, gys, M, 0, cols, M)
        for b in range(nb):
            _patches(gx + (b * c_in + grp * cg) * g.plane, cols + b * L, cg, g, 0, L, M, True)


def backward_input(const floating[:, :, ::1] grad_y, const floating[:, ::1] w,
                   floating[:, :, ::1] grad_x, const long long[:, ::1] geometry, Py_ssize_t groups,
                   Py_ssize_t tile, floating[:, ::1] work, int n_threads, Py_ssize_t images=1):
    """grad_x = the input gradient, image by image in column tiles of ``tile``, or with
    ``images`` > 1 that many images per GEMM (``work`` then holds (K + C_out / groups) * images
    * L values per thread)."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t n, item, nb, N = grad_y.shape[0]
    _check("backward_input", &g, grad_x.shape[0], grad_x.shape[1], grad_x.shape[2], w.shape[0],
           w.shape[1], grad_y.shape[0], grad_y.shape[1], grad_y.shape[2], groups, tile,
           work.shape[0], work.shape[1], n_threads)
    if images > 1 and work.shape[1] < (w.shape[1] + w.shape[0] // groups) * images * g.L:
        raise ValueError("backward_input: work is too small for the images per GEMM")
    with nogil:
        if images > 1:
            for item in prange((N + images - 1) // images, num_threads=max(n_threads, 1),
                               schedule="dynamic"):
                n = item * images
                nb = images if N - n > images else N - n
                _input_grad_images(&grad_y[n, 0, 0], &w[0, 0], &grad_x[n, 0, 0],
                                   &work[threadid(), 0], &g, nb, grad_x.shape[1], w.shape[0],
                                   groups)
        elif n_threads <= 1:
            for n in range(grad_y.shape[0]):
                _input_grad_image(&grad_y[n, 0, 0], &w[0, 0], &grad_x[n, 0, 0], &work[0, 0], &g,
                                  grad_x.shape[1], w.shape[0], groups, tile)
        else:
            for n in prange(grad_y.shape[0], num_threads=n_threads, schedule="dynamic"):
                _input_grad_image(&grad_y[n, 0, 0], &w[0, 0], &grad_x[n, 0, 0],
                                  &work[threadid(), 0], &g, grad_x.shape[1], w.shape[0], groups,
                                  tile)


cdef void _weight_grad_image(const floating *gy, const floating *x, floating *gw, floating *cols,
                             const Geometry *g, Py_ssize_t c_in, Py_ssize_t c_out,
                             Py_ssize_t groups, Py_ssize_t tile) noexcept nogil:
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, first, count
    cdef Py_ssize_t K = cg * g.taps, L = g.L
    for grp in range(groups):
        if g.pointwise:
            gemm(False, True, og, K, L, 1, gy + grp * og * L, L, x + grp * cg * L, L,
                 1, gw + grp * og * K, K)
            continue
        first = 0
        while first < L:  # gw_g[og, K] += gy_g[og, tile] @ cols[K, tile]^T
            count = tile if L - first > tile else L - first
            _patches(<floating *> x + grp * cg * g.plane, cols, cg, g, first, count,
                     _cols_ld(count), False)
            gemm(False, True, og, K, count, 1, gy + grp * og * L + first, L, cols, _cols_ld(count),
                 1, gw + grp * og * K, K)
            first += count


cdef void _weight_grad_images(const floating *gy, const floating *x, floating *gw,
                              floating *work, const Geometry *g, Py_ssize_t nb, Py_ssize_t c_in,
                              Py_ssize_t c_out, Py_ssize_t groups) noexcept nogil:
    """nb images at once, for outputs too small to fill a GEMM alone (a 3x3 layer on 2x2 maps is
    a GEMM of depth 4 per image): cols[K, nb * L] holds their patches side by side, gys[og, nb * L]
    their output gradients, and one GEMM per group adds gys @ cols^T to gw."""
    cdef Py_ssize_t cg = c_in // groups, og = c_out // groups, grp, b
    cdef Py_ssize_t K = cg * g.taps, L = g.L, M = nb * L
    cdef floating *cols = work
    cdef floating *gys = work + K * M
    for grp in range(groups):
        for b in range(nb):
            _patches(<floating *> x + (b * c_in + grp * cg) * g.plane, cols + b * L, cg, g, 0, L,
                     M, False)
        _join_images(gy + grp * og * L, gys, nb, og, c_out * L, L)
        gemm(False, True, og, K, M, 1, gys, M, cols, M, 1, gw + grp * og * K, K)


def backward_weight(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                    floating[:, :, ::1] grad_w, const long long[:, ::1] geometry,
                    Py_ssize_t groups, Py_ssize_t tile, floating[:, ::1] work, int n_threads,
                    Py_ssize_t images=1):
    """grad_w[k] (zero-filled by the caller) += the weight gradient of images k * N // n_chunks
    to (k + 1) * N // n_chunks, in order (the same bits on any thread count). With ``images`` > 1
    they go that many at a time into one GEMM (``work`` then holds (K + C_out / groups) * images
    * L values per thread); otherwise one image in column tiles of ``tile``."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t chunk, n, n1, nb, n_chunks = grad_w.shape[0], N = x.shape[0]
    _check("backward_weight", &g, N, x.shape[1], x.shape[2], grad_w.shape[1], grad_w.shape[2],
           grad_y.shape[0], grad_y.shape[1], grad_y.shape[2], groups, tile, work.shape[0],
           work.shape[1], n_threads)
    if n_chunks < 1 or n_chunks > max(N, 1):
        raise ValueError("backward_weight: grad_w must hold between 1 and N partial sums")
    if images > 1 and work.shape[1] < (grad_w.shape[2] + grad_w.shape[1] // groups) * images * g.L:
        raise ValueError("backward_weight: work is too small for the images per GEMM")
    with nogil:
        if images > 1:
            for chunk in prange(n_chunks, num_threads=max(n_threads, 1), schedule="dynamic"):
                n = chunk * N // n_chunks
                n1 = (chunk + 1) * N // n_chunks
                while n < n1:
                    nb = images if n1 - n > images else n1 - n
                    _weight_grad_images(&grad_y[n, 0, 0], &x[n, 0, 0], &grad_w[chunk, 0, 0],
                                        &work[threadid(), 0], &g, nb, x.shape[1],
                                        grad_w.shape[1], groups)
                    n = n + nb
        elif n_threads <= 1:
            for chunk in range(n_chunks):
                for n in range(chunk * N // n_chunks, (chunk + 1) * N // n_chunks):
                    _weight_grad_image(&grad_y[n, 0, 0], &x[n, 0, 0], &grad_w[chunk, 0, 0],
                                       &work[0, 0], &g, x.shape[1], grad_w.shape[1], groups, tile)
        else:
            for chunk in prange(n_chunks, num_threads=n_threads, schedule="dynamic"):
                for n in range(chunk * N // n_chunks, (chunk + 1) * N // n_chunks):
                    _weight_grad_image(&grad_y[n, 0, 0], &x[n, 0, 0], &grad_w[chunk, 0, 0],
                                       &work[threadid(), 0], &g, x.shape[1], grad_w.shape[1],
                                       groups, tile)


# ---- Winograd F(2x2, 3x3): 2-D, 3x3 kernel, stride 1, no dilation, one group --------------------
#
# Every 2x2 block of outputs ("tile" t = (a, b), outputs rows 2a, 2a+1 and columns 2b, 2b+1) comes
# from a 4x4 input patch d (rows 2a - p_h ..., zero outside the input). With
# B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], A^T = [[1, 1, 1, 0],
# [0, 1, -1, -1]] and U = G w G^T (made by the caller), the block is
# A^T [sum_c U_c * (B^T d_c B)] A:
# the sum over channels is, for each of the 16 entries xi of the 4x4 products, one GEMM
# M_xi[C_out, tiles] = U_xi[C_out, C_in] @ V_xi[C_in, tiles], with 4 * C_out * C_in * tiles
# multiply-adds where im2col + GEMM has 9 * C_out * C_in * tiles.


cdef extern from *:
    """
    /* Winograd transforms of a run of whole tiles along a tile row, written as plain loops over
       the tiles b that the compiler vectorises (__restrict, which GCC, Clang and MSVC know: the
       16 streams of v or m and the rows
       do not overlap; stride-2 loads that overlap from one tile to the next do not vectorise, so
       the input rows are first split into even and odd columns). The output transforms of the
       tiles cut by the output's edge run tile by tile in Cython with the same arithmetic in the
       same order, so every tile gets the bits it would get here. */
    #define CONVCORE_WINO_RUN 64
    #define CONVCORE_WINO_IN(T, NAME)                                                             \
    static void NAME(const T *__restrict x0, const T *__restrict x1,               \
                                     const T *__restrict x2, const T *__restrict x3,               \
                                     T *__restrict v, ptrdiff_t bv, ptrdiff_t n) {                 \
        /* e[q][j], o[q][j]: (B^T d)[q] at input columns 2j and 2j + 1 (tile b reads columns      \
           2b ... 2b + 3, i.e. j = b and b + 1), then v[4q + s] along the tiles */                \
        T e[4][CONVCORE_WINO_RUN + 1], o[4][CONVCORE_WINO_RUN + 1];                               \
        for (ptrdiff_t b0 = 0; b0 < n; b0 += CONVCORE_WINO_RUN) {                                 \
            ptrdiff_t m = n - b0 < CONVCORE_WINO_RUN ? n - b0 : CONVCORE_WINO_RUN;                \
            const T *__restrict r0 = x0 + 2 * b0, *__restrict r1 = x1 + 2 * b0;                   \
            const T *__restrict r2 = x2 + 2 * b0, *__restrict r3 = x3 + 2 * b0;                   \
            for (ptrdiff_t j = 0; j <= m; j++) {                                                  \
                T e0 = r0[2 * j], e1 = r1[2 * j], e2 = r2[2 * j], e3 = r3[2 * j];                 \
                T o0 = r0[2 * j + 1], o1 = r1[2 * j + 1], o2 = r2[2 * j + 1], o3 = r3[2 * j + 1]; \
                e[0][j] = e0 - e2; e[1][j] = e1 + e2; e[2][j] = e2 - e1; e[3][j] = e1 - e3;       \
                o[0][j] = o0 - o2; o[1][j] = o1 + o2; o[2][j] = o2 - o1; o[3][j] = o1 - o3;       \
            }                                                                                     \
            for (int q = 0; q < 4; q++) {                                                         \
                const T *__restrict eq = e[q], *__restrict oq = o[q];                             \
                T *__restrict v0 = v + b0 + (4 * q) * bv, *__restrict v1 = v0 + bv;               \
                T *__restrict v2 = v1 + bv, *__restrict v3 = v2 + bv;                             \
                for (ptrdiff_t b = 0; b < m; b++) {                                               \
                    v0[b] = eq[b] - eq[b + 1];                                                    \
                    v1[b] = oq[b] + eq[b + 1];                                                    \
                    v2[b] = eq[b + 1] - oq[b];                                                    \
                    v3[b] = oq[b] - oq[b + 1];                                                    \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }
    #define CONVCORE_WINO_GRAD(T, NAME)                                                           \
    static void NAME(const T *__restrict y0, const T *__restrict y1,               \
                                     T *__restrict m, ptrdiff_t bm, ptrdiff_t n) {                 \
        /* m[xi * bm + b] = (A dy A^T)[xi] for the 2x2 blocks of rows y0, y1 at columns 2b:       \
           the rows split into even and odd columns, then 4 outputs per row r of A dy */          \
        T e0[CONVCORE_WINO_RUN], o0[CONVCORE_WINO_RUN];                                           \
        T e1[CONVCORE_WINO_RUN], o1[CONVCORE_WINO_RUN];                                           \
        for (ptrdiff_t b0 = 0; b0 < n; b0 += CONVCORE_WINO_RUN) {                                 \
            ptrdiff_t k = n - b0 < CONVCORE_WINO_RUN ? n - b0 : CONVCORE_WINO_RUN;                \
            const T *__restrict r0 = y0 + 2 * b0, *__restrict r1 = y1 + 2 * b0;                   \
            for (ptrdiff_t j = 0; j < k; j++) {                                                   \
                e0[j] = r0[2 * j]; o0[j] = r0[2 * j + 1];                                         \
                e1[j] = r1[2 * j]; o1[j] = r1[2 * j + 1];                                         \
            }                                                                                     \
            for (int r = 0; r < 4; r++) {                                                         \
                T *__restrict v0 = m + b0 + (4 * r) * bm, *__restrict v1 = v0 + bm;               \
                T *__restrict v2 = v1 + bm, *__restrict v3 = v2 + bm;                             \
                for (ptrdiff_t b = 0; b < k; b++) {                                               \
                    T a, c;                                                                       \
                    if (r == 0) { a = e0[b]; c = o0[b]; }                                         \
                    else if (r == 1) { a = e0[b] + e1[b]; c = o0[b] + o1[b]; }                    \
                    else if (r == 2) { a = e0[b] - e1[b]; c = o0[b] - o1[b]; }                    \
                    else { a = -e1[b]; c = -o1[b]; }                                              \
                    v0[b] = a; v1[b] = a + c; v2[b] = a - c; v3[b] = -c;                          \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }
    #define CONVCORE_WINO_OUT(T, NAME)                                                            \
    static void NAME(const T *__restrict m, ptrdiff_t bm, T shift,                 \
                                     T *__restrict y0, T *__restrict y1, ptrdiff_t n) {            \
        for (ptrdiff_t b = 0; b < n; b++) {                                                       \
            T s[2][4];                                                                            \
            for (int r = 0; r < 4; r++) {                                                         \
                s[0][r] = m[r * bm + b] + m[(4 + r) * bm + b] + m[(8 + r) * bm + b];              \
                s[1][r] = m[(4 + r) * bm + b] - m[(8 + r) * bm + b] - m[(12 + r) * bm + b];       \
            }                                                                                     \
            y0[2 * b] = s[0][0] + s[0][1] + s[0][2] + shift;                                      \
            y0[2 * b + 1] = s[0][1] - s[0][2] - s[0][3] + shift;                                  \
            y1[2 * b] = s[1][0] + s[1][1] + s[1][2] + shift;                                      \
            y1[2 * b + 1] = s[1][1] - s[1][2] - s[1][3] + shift;                                  \
        }                                                                                         \
    }
    CONVCORE_WINO_IN(float, convcore_wino_in_f)
    CONVCORE_WINO_IN(double, convcore_wino_in_d)
    CONVCORE_WINO_OUT(float, convcore_wino_out_f)
    CONVCORE_WINO_OUT(double, convcore_wino_out_d)
    CONVCORE_WINO_GRAD(float, convcore_wino_grad_f)
    CONVCORE_WINO_GRAD(double, convcore_wino_grad_d)
    """
    void convcore_wino_in_f(const float *x0, const float *x1, const float *x2, const float *x3,
                            float *v, Py_ssize_t bv, Py_ssize_t n) noexcept nogil
    void convcore_wino_in_d(const double *x0, const double *x1, const double *x2,
                            const double *x3, double *v, Py_ssize_t bv, Py_ssize_t n) noexcept nogil
    void convcore_wino_out_f(const float *m, Py_ssize_t bm, float shift, float *y0, float *y1,
                             Py_ssize_t n) noexcept nogil
    void convcore_wino_out_d(const double *m, Py_ssize_t bm, double shift, double *y0,
                             double *y1, Py_ssize_t n) noexcept nogil
    void convcore_wino_grad_f(const float *y0, const float *y1, float *m, Py_ssize_t bm,
                              Py_ssize_t n) noexcept nogil
    void convcore_wino_grad_d(const double *y0, const double *y1, double *m, Py_ssize_t bm,
                              Py_ssize_t n) noexcept nogil


# Values between consecutive xi blocks of the transformed input and of the products, beyond the
# blocks themselves: the 16 streams a tile is written to (or read from) then start 256 bytes apart
# modulo 4 KiB instead of all on one cache set when the block size is a power of two.
cdef enum:
    _WINO_SKEW = 64


WINOGRAD_SKEW = _WINO_SKEW


cdef inline Py_ssize_t _winograd_work_size(Py_ssize_t c_in, Py_ssize_t c_out,
                                           Py_ssize_t tile_rows, Py_ssize_t tw) noexcept nogil:
    """Scratch values per thread for ``tile_rows`` rows of ``tw`` tiles per step (the caller's
    formula, with WINOGRAD_SKEW): the transformed input, the 16 products, 4 padded input rows."""
    return 16 * (c_in + c_out) * tile_rows * tw + 32 * _WINO_SKEW + 4 * (2 * tw + 2)


cdef void _wino_input_step(const floating *x, floating *V, const Geometry *g, Py_ssize_t c_in,
                           Py_ssize_t a0, Py_ssize_t a1, Py_ssize_t bv, Py_ssize_t count,
                           floating *rows) noexcept nogil:
    """V[xi * bv + c * count + q] = (B^T d B)[xi] for the tiles q of tile rows a0..a1 of every
    channel c (count >= (a1 - a0) * tiles per row: the step may hold more images' tiles). The 4
    input rows of a tile row are read in place when they and the columns the tiles span lie
    inside the input, else copied into ``rows`` (4 * (2 * tiles per row + 2) values) with the
    zero padding around them."""
    cdef Py_ssize_t tw = (g.n_out[2] + 1) // 2, c, a, r, k, rr, r0
    cdef Py_ssize_t H = g.n_in[1], W = g.n_in[2], pw = g.p[2], span = 2 * tw + 2
    cdef Py_ssize_t lo = pw if pw < span else span  # buffer columns k <-> input column k - pw
    cdef Py_ssize_t hi = W + pw if W + pw < span else span
    cdef bint inside_w = pw == 0 and span <= W
    cdef const floating *src
    cdef const floating *row[4]
    cdef floating *buf
    if hi < lo:
        hi = lo
    for c in range(c_in):
        for a in range(a0, a1):
            r0 = 2 * a - g.p[1]
            for r in range(4):
                rr = r0 + r
                if inside_w and 0 <= rr < H:
                    row[r] = x + c * g.plane + rr * W
                    continue
                buf = rows + r * span
                if rr < 0 or rr >= H:
                    _zero_run(buf, span)
                else:
                    src = x + c * g.plane + rr * W
                    _zero_run(buf, lo)
                    for k in range(lo, hi):
                        buf[k] = src[k - pw]
                    _zero_run(buf + hi, span - hi)
                row[r] = buf
            if floating is float:
                convcore_wino_in_f(row[0], row[1], row[2], row[3], V + c * count + (a - a0) * tw,
                                   bv, tw)
            else:
                convcore_wino_in_d(row[0], row[1], row[2], row[3], V + c * count + (a - a0) * tw,
                                   bv, tw)


cdef void _winograd_images(const floating *x, const floating *u, const floating *bias,
                           floating *y, floating *work, const Geometry *g, Py_ssize_t c_in,
                           Py_ssize_t c_out, Py_ssize_t tile_rows, Py_ssize_t nb) noexcept nogil:
    """``nb`` images by Winograd: one image ``tile_rows`` rows of tiles at a time, or (nb > 1,
    then tile_rows covers the image) the nb images' tiles side by side in one step, so that the
    16 transformed weight matrices are read once for them all. work holds
    16 * (c_in + c_out) * nb * tile_rows * tw + 32 * WINOGRAD_SKEW + 8 * tw + 8 values,
    tw = ceil(W_out / 2)."""
    cdef Py_ssize_t oH = g.n_out[1], oW = g.n_out[2]
    cdef Py_ssize_t th = (oH + 1) // 2, tw = (oW + 1) // 2
    cdef Py_ssize_t a0, a1, a, b, o, xi, count, i, j, r, full, img, q0
    cdef Py_ssize_t bv, bm
    cdef floating *V = work
    cdef floating *M = work + 16 * (c_in * nb * tile_rows * tw + _WINO_SKEW)
    cdef floating *rows = M + 16 * (c_out * nb * tile_rows * tw + _WINO_SKEW)  # 4 padded rows
    cdef const floating *m
    cdef floating *yo
    cdef floating s[2][4]
    cdef floating out[2][2]
    cdef floating shift
    a0 = 0
    while a0 < th:
        a1 = a0 + tile_rows if a0 + tile_rows < th else th
        count = nb * (a1 - a0) * tw
        bv = c_in * count + _WINO_SKEW
        bm = c_out * count + _WINO_SKEW
        for img in range(nb):
            _wino_input_step(x + img * c_in * g.plane, V + img * (a1 - a0) * tw, g, c_in, a0, a1,
                             bv, count, rows)
        for xi in range(16):
            gemm(False, False, c_out, count, c_in, 1, u + xi * c_out * c_in, c_in,
                 V + xi * bv, count, 0, M + xi * bm, count)
        for img in range(nb):
            q0 = img * (a1 - a0) * tw  # the image's first tile in the step
            for o in range(c_out):  # y = A^T M A (+ bias), the blocks cut at the output's edge
                shift = bias[o] if bias != NULL else 0
                yo = y + (img * c_out + o) * oH * oW
                for a in range(a0, a1):
                    full = tw if 2 * a + 1 < oH else 0  # tiles wholly inside the output
                    if full and oW % 2:
                        full -= 1
                    m = M + o * count + q0 + (a - a0) * tw
                    if floating is float:
                        convcore_wino_out_f(m, bm, shift, yo + 2 * a * oW, yo + (2 * a + 1) * oW,
                                            full)
                    else:
                        convcore_wino_out_d(m, bm, shift, yo + 2 * a * oW, yo + (2 * a + 1) * oW,
                                            full)
                    for b in range(full, tw):
                        m = M + o * count + q0 + (a - a0) * tw + b
                        for r in range(4):  # s = A^T m
                            s[0][r] = m[r * bm] + m[(4 + r) * bm] + m[(8 + r) * bm]
                            s[1][r] = m[(4 + r) * bm] - m[(8 + r) * bm] - m[(12 + r) * bm]
                        for i in range(2):  # out = s A
                            out[i][0] = s[i][0] + s[i][1] + s[i][2] + shift
                            out[i][1] = s[i][1] - s[i][2] - s[i][3] + shift
                        for i in range(2):
                            if 2 * a + i < oH:
                                for j in range(2):
                                    if 2 * b + j < oW:
                                        yo[(2 * a + i) * oW + 2 * b + j] = out[i][j]
        a0 = a1


def forward_winograd(const floating[:, :, ::1] x, const floating[:, :, ::1] u,
                     const floating[::1] bias, floating[:, :, ::1] y,
                     const long long[:, ::1] geometry, Py_ssize_t tile_rows, Py_ssize_t images,
                     floating[:, ::1] work, int n_threads):
    """y = the 3x3, stride-1 convolution of x by Winograd F(2x2, 3x3); ``u`` (16, C_out, C_in) the
    transformed weights G w G^T. Every work item is ``images`` images (then ``tile_rows`` must
    cover an image: all their tiles in one step) or one image in steps of ``tile_rows`` rows of
    tiles; ``work`` (n_threads, 16 * (C_in + C_out) * images * tile_rows * tw +
    32 * WINOGRAD_SKEW + 8 * tw + 8), tw = ceil(W_out / 2)."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t n, item, nb, c_in = x.shape[1], c_out = u.shape[1], N = x.shape[0]
    cdef Py_ssize_t tw = (g.n_out[2] + 1) // 2, th = (g.n_out[1] + 1) // 2
    cdef Py_ssize_t n_items
    cdef const floating *b = &bias[0] if bias.shape[0] > 0 else NULL
    if (g.n_in[0] != 1 or g.n_out[0] != 1 or g.k[0] != 1 or g.k[1] != 3 or g.k[2] != 3
            or g.s[1] != 1 or g.s[2] != 1 or g.dil[1] != 1 or g.dil[2] != 1):
        raise ValueError("forward_winograd: the geometry is not a 3x3, stride-1 2-D convolution")
    if (x.shape[2] != g.plane or u.shape[0] != 16 or u.shape[2] != c_in or y.shape[0] != x.shape[0]
            or y.shape[1] != c_out or y.shape[2] != g.L or tile_rows < 1 or images < 1
            or (images > 1 and tile_rows < th) or work.shape[0] < max(n_threads, 1)
            or work.shape[1] < _winograd_work_size(c_in, c_out, images * tile_rows, tw)):
        raise ValueError("forward_winograd: array shapes do not match the geometry")
    n_items = (N + images - 1) // images
    if bias.shape[0] not in (0, c_out):
        raise ValueError("forward_winograd: bias must be empty or hold one value per output "
                         "channel")
    with nogil:
        if n_threads <= 1:
            for item in range(n_items):
                n = item * images
                nb = images if N - n > images else N - n
                _winograd_images(&x[n, 0, 0], &u[0, 0, 0], b, &y[n, 0, 0], &work[0, 0], &g, c_in,
                                 c_out, tile_rows, nb)
        else:
            for item in prange(n_items, num_threads=n_threads, schedule="dynamic"):
                n = item * images
                nb = images if N - n > images else N - n
                _winograd_images(&x[n, 0, 0], &u[0, 0, 0], b, &y[n, 0, 0], &work[threadid(), 0],
                                 &g, c_in, c_out, tile_rows, nb)


cdef void _winograd_weight_grad_images(const floating *gy, const floating *x, floating *gu,
                                       floating *work, const Geometry *g, Py_ssize_t c_in,
                                       Py_ssize_t c_out, Py_ssize_t tile_rows,
                                       Py_ssize_t nb) noexcept nogil:
    """gu[xi, o, c] += sum over the tiles t of ``nb`` images of dM[xi, o, t] * V[xi, c, t], where
    dM = A dy A^T is the 4x4 image of the tile's 2x2 output gradient (zero past the edge): the
    adjoint of the forward's y = A^T M A, M_xi = U_xi @ V_xi. The caller turns gu into the weight
    gradient G^T gu G. ``work`` as for the forward; with nb > 1, tile_rows covers an image and
    the nb images' tiles go side by side into one step."""
    cdef Py_ssize_t oH = g.n_out[1], oW = g.n_out[2]
    cdef Py_ssize_t th = (oH + 1) // 2, tw = (oW + 1) // 2
    cdef Py_ssize_t a0, a1, a, b, o, xi, count, i, j, r, bv, bm, full, img, q0
    cdef floating *V = work
    cdef floating *M = work + 16 * (c_in * nb * tile_rows * tw + _WINO_SKEW)
    cdef floating *rows = M + 16 * (c_out * nb * tile_rows * tw + _WINO_SKEW)  # 4 padded rows
    cdef floating *m
    cdef const floating *gyo
    cdef floating d[2][2]
    cdef floating t[4][2]
    a0 = 0
    while a0 < th:
        a1 = a0 + tile_rows if a0 + tile_rows < th else th
        count = nb * (a1 - a0) * tw
        bv = c_in * count + _WINO_SKEW
        bm = c_out * count + _WINO_SKEW
        for img in range(nb):
            _wino_input_step(x + img * c_in * g.plane, V + img * (a1 - a0) * tw, g, c_in, a0, a1,
                             bv, count, rows)
        for img in range(nb):  # dM[xi, o, q] = (A dy A^T)[xi]
            q0 = img * (a1 - a0) * tw  # the image's first tile in the step
            for o in range(c_out):
                gyo = gy + (img * c_out + o) * oH * oW
                for a in range(a0, a1):
                    full = tw if 2 * a + 1 < oH else 0  # blocks wholly inside the output
                    if full and oW % 2:
                        full -= 1
                    m = M + o * count + q0 + (a - a0) * tw
                    if floating is float:
                        convcore_wino_grad_f(gyo + 2 * a * oW, gyo + (2 * a + 1) * oW, m, bm,
                                             full)
                    else:
                        convcore_wino_grad_d(gyo + 2 * a * oW, gyo + (2 * a + 1) * oW, m, bm,
                                             full)
                    for b in range(full, tw):
                        for i in range(2):
                            for j in range(2):
                                if 2 * a + i < oH and 2 * b + j < oW:
                                    d[i][j] = gyo[(2 * a + i) * oW + 2 * b + j]
                                else:
                                    d[i][j] = 0
                        for j in range(2):  # t = A d
                            t[0][j] = d[0][j]
                            t[1][j] = d[0][j] + d[1][j]
                            t[2][j] = d[0][j] - d[1][j]
                            t[3][j] = -d[1][j]
                        m = M + o * count + q0 + (a - a0) * tw + b
                        for r in range(4):  # dM = t A^T
                            m[(4 * r) * bm] = t[r][0]
                            m[(4 * r + 1) * bm] = t[r][0] + t[r][1]
                            m[(4 * r + 2) * bm] = t[r][0] - t[r][1]
                            m[(4 * r + 3) * bm] = -t[r][1]
        for xi in range(16):  # gu_xi[c_out, c_in] += dM_xi[c_out, count] @ V_xi[c_in, count]^T
            gemm(False, True, c_out, c_in, count, 1, M + xi * bm, count, V + xi * bv, count,
                 1, gu + xi * c_out * c_in, c_in)
        a0 = a1


def backward_weight_winograd(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                             floating[:, :, :, ::1] grad_u, const long long[:, ::1] geometry,
                             Py_ssize_t tile_rows, Py_ssize_t images, floating[:, ::1] work,
                             int n_threads):
    """The weight gradient of forward_winograd in the Winograd domain: ``grad_u`` (n_chunks, 16,
    C_out, C_in), zero-filled by the caller, chunk k receiving the images k * N // n_chunks to
    (k + 1) * N // n_chunks in order, ``images`` at a time (as backward_weight: the same bits on
    any thread count); ``tile_rows``, ``images`` and ``work`` as for forward_winograd."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t chunk, n, n1, nb, N = x.shape[0], n_chunks = grad_u.shape[0]
    cdef Py_ssize_t c_in = x.shape[1], c_out = grad_y.shape[1]
    cdef Py_ssize_t tw = (g.n_out[2] + 1) // 2, th = (g.n_out[1] + 1) // 2
    if (g.n_in[0] != 1 or g.n_out[0] != 1 or g.k[0] != 1 or g.k[1] != 3 or g.k[2] != 3
            or g.s[1] != 1 or g.s[2] != 1 or g.dil[1] != 1 or g.dil[2] != 1):
        raise ValueError("backward_weight_winograd: the geometry is not a 3x3, stride-1 2-D "
                         "convolution")
    if (x.shape[2] != g.plane or grad_y.shape[0] != N or grad_y.shape[2] != g.L
            or grad_u.shape[1] != 16 or grad_u.shape[2] != c_out or grad_u.shape[3] != c_in
            or tile_rows < 1 or images < 1 or (images > 1 and tile_rows < th)
            or work.shape[0] < max(n_threads, 1)
            or work.shape[1] < _winograd_work_size(c_in, c_out, images * tile_rows, tw)):
        raise ValueError("backward_weight_winograd: array shapes do not match the geometry")
    if n_chunks < 1 or n_chunks > max(N, 1):
        raise ValueError("backward_weight_winograd: grad_u must hold between 1 and N partial sums")
    with nogil:
        if n_threads <= 1:
            for chunk in range(n_chunks):
                n = chunk * N // n_chunks
                n1 = (chunk + 1) * N // n_chunks
                while n < n1:
                    nb = images if n1 - n > images else n1 - n
                    _winograd_weight_grad_images(&grad_y[n, 0, 0], &x[n, 0, 0],
                                                 &grad_u[chunk, 0, 0, 0], &work[0, 0], &g, c_in,
                                                 c_out, tile_rows, nb)
                    n = n + nb
        else:
            for chunk in prange(n_chunks, num_threads=n_threads, schedule="dynamic"):
                n = chunk * N // n_chunks
                n1 = (chunk + 1) * N // n_chunks
                while n < n1:
                    nb = images if n1 - n > images else n1 - n
                    _winograd_weight_grad_images(&grad_y[n, 0, 0], &x[n, 0, 0],
                                                 &grad_u[chunk, 0, 0, 0], &work[threadid(), 0],
                                                 &g, c_in, c_out, tile_rows, nb)
                    n = n + nb
