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

Images are spread over the threads of convcore's pool (src/parallel.pxd); the caller limits SciPy's
BLAS to one thread meanwhile (or, for a batch smaller than the thread count, passes
``n_threads=1`` and lets BLAS own the threads), so the two kinds of threads never multiply.

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

Winograd F(2x2, 3x3) for 3x3 kernels is the module ``winograd``.

A 1x1 convolution with stride 1 and no padding skips im2col: its input already is the matrix.
"""
from libc.string cimport memcpy, memset

from blas cimport gemm
from fused cimport floating
from geometry cimport (FORWARD, INPUT_GRAD, WEIGHT_GRAD, Geometry, read_geometry,
                      valid_range)
from im2col_gather cimport gather
from image_items cimport run_images
from parallel cimport import_parallel
from runs cimport add_run, zero_run

import_parallel()


cdef enum:
    # Taps x positions up to which, on output rows of at most _TABLE_MAX_WIDTH, the patches are
    # copied through a table of input offsets: runs of a few elements cost more in bounds and
    # calls than they copy (32x64x8x8 by 128x64x3x3 stride 2, 4-wide rows: im2col and col2im
    # took 28% of the gradients' time against 35% for their GEMMs).
    _TABLE = 4096
    _TABLE_MAX_WIDTH = 4


cdef void _patches_by_table(floating *x, floating *cols, Py_ssize_t channels,
                            const Geometry *g, Py_ssize_t first, Py_ssize_t count, Py_ssize_t ld,
                            bint scatter) noexcept nogil:
    """_patches through a table: off[tap * count + n] is the offset in a channel's plane that
    output position first + n reads at kernel tap `tap`, or -1 in the zero padding (count *
    taps <= _TABLE)."""
    cdef int off[_TABLE]
    cdef Py_ssize_t c, tap, n, q, a, v, pos
    cdef Py_ssize_t i[3]
    cdef Py_ssize_t o[3]
    cdef floating *row
    cdef floating *src
    cdef const int *idx
    for tap in range(g.taps):
        i[0] = tap // (g.k[1] * g.k[2])
        i[1] = (tap // g.k[2]) % g.k[1]
        i[2] = tap % g.k[2]
        for n in range(count):
            q = first + n
            o[2] = q % g.n_out[2]
            o[1] = (q // g.n_out[2]) % g.n_out[1]
            o[0] = q // (g.n_out[2] * g.n_out[1])
            pos = 0
            for a in range(3):
                v = o[a] * g.s[a] - g.p[a] + i[a] * g.dil[a]
                if v < 0 or v >= g.n_in[a]:
                    pos = -1
                    break
                pos = pos * g.n_in[a] + v
            off[tap * count + n] = <int> pos
    for c in range(channels):
        src = x + c * g.plane
        for tap in range(g.taps):
            row = cols + (c * g.taps + tap) * ld
            idx = off + tap * count
            if scatter:
                for n in range(count):
                    if idx[n] >= 0:
                        src[idx[n]] += row[n]
            else:
                for n in range(count):
                    row[n] = src[idx[n]] if idx[n] >= 0 else 0


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
    if oW <= _TABLE_MAX_WIDTH and count * g.taps <= _TABLE and g.plane < 0x7fffffff:
        _patches_by_table(x, cols, channels, g, first, count, ld, scatter)
        return
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
                                zero_run(rows + l * ld + t, run)
                    elif sw <= 2 and not scatter:
                        gather(x + c * g.plane + (d * g.n_in[1] + h) * W, rows + t, ld, kw, W,
                               ow * sw - g.p[2], g.dil[2], sw, run)
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
                                    add_run(src + w_start + lo, row + lo, hi - lo)
                                else:
                                    for n in range(lo, hi):
                                        src[w_start + n * sw] += row[n]
                            else:
                                zero_run(row, lo)  # (strides 1 and 2 are gathered above)
                                for n in range(lo, hi):
                                    row[n] = src[w_start + n * sw]
                                zero_run(row + hi, run - hi)
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


cdef int _whole(str name, floating *x, const long long[:, ::1] geometry, floating *cols,
                Py_ssize_t channels, Py_ssize_t plane, Py_ssize_t rows, Py_ssize_t columns,
                bint scatter) except -1:
    """im2col or col2im (``scatter``) of one whole image, after checking the shapes."""
    cdef Geometry g = read_geometry(geometry)
    if plane != g.plane or rows != channels * g.taps or columns != g.L:
        raise ValueError(f"{name}: array shapes do not match the geometry")
    with nogil:
        _patches(x, cols, channels, &g, 0, g.L, g.L, scatter)
    return 0


def im2col(const floating[:, ::1] x, const long long[:, ::1] geometry, floating[:, ::1] cols):
    """cols[C * kd * kh * kw, L] = the patches of one image x[C, D * H * W] (zero outside)."""
    _whole("im2col", <floating *> &x[0, 0], geometry, &cols[0, 0], x.shape[0], x.shape[1],
           cols.shape[0], cols.shape[1], False)


def col2im(const floating[:, ::1] cols, const long long[:, ::1] geometry, floating[:, ::1] x):
    """x[C, D * H * W] += every column of cols added back onto the input positions it came from."""
    _whole("col2im", &x[0, 0], geometry, <floating *> &cols[0, 0], x.shape[0], x.shape[1],
           cols.shape[0], cols.shape[1], True)


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


cdef struct _Job:
    int kind           # FORWARD, INPUT_GRAD or WEIGHT_GRAD
    const void *x      # the input (forward, weight gradient)
    const void *gy     # the output gradient (both gradients)
    const void *w      # the weights (forward, input gradient)
    const void *bias   # forward: NULL or (C_out,)
    Py_ssize_t c_in, c_out, groups, tile, images
    bint folded
    const Geometry *g


cdef void _step(const void *job, floating *out, floating *work, Py_ssize_t item, Py_ssize_t n,
                Py_ssize_t nb) noexcept nogil:
    """Images n..n + nb of work item ``item``: in one GEMM when the job puts several images in
    one (``images`` > 1), else the one image n in column tiles."""
    cdef const _Job *j = <const _Job *> job
    cdef const floating *x = <const floating *> j.x
    cdef const floating *gy = <const floating *> j.gy
    cdef const floating *w = <const floating *> j.w
    cdef const floating *bias = <const floating *> j.bias
    cdef Py_ssize_t at_x = n * j.c_in * j.g.plane, at_y = n * j.c_out * j.g.L  # image n
    if j.kind == FORWARD:
        if j.images > 1:
            _forward_images(x + at_x, w, bias, out + at_y, work, j.g, nb, j.c_in, j.c_out,
                            j.groups)
        else:
            _forward_image(x + at_x, w, bias, out + at_y, work, j.g, j.c_in, j.c_out,
                           j.groups, j.tile, j.folded)
    elif j.kind == INPUT_GRAD:
        if j.images > 1:
            _input_grad_images(gy + at_y, w, out + at_x, work, j.g, nb, j.c_in,
                               j.c_out, j.groups)
        else:
            _input_grad_image(gy + at_y, w, out + at_x, work, j.g, j.c_in, j.c_out,
                              j.groups, j.tile)
    else:
        out += item * j.c_out * (j.c_in // j.groups) * j.g.taps  # the item's chunk of grad_w
        if j.images > 1:
            _weight_grad_images(gy + at_y, x + at_x, out, work, j.g, nb, j.c_in, j.c_out,
                                j.groups)
        else:
            _weight_grad_image(gy + at_y, x + at_x, out, work, j.g, j.c_in, j.c_out, j.groups,
                               j.tile)


cdef void _run(int kind, const floating *x, const floating *gy, const floating *w,
               const floating *bias, floating *out, floating[:, ::1] work, const Geometry *g,
               Py_ssize_t N, Py_ssize_t c_in, Py_ssize_t c_out, Py_ssize_t groups, Py_ssize_t tile,
               Py_ssize_t images, Py_ssize_t n_chunks, bint folded, int n_threads) noexcept:
    """One of the three kernels on the pool: ``images`` images a work item, or for the weight
    gradient (n_chunks > 0) one chunk of images."""
    cdef _Job j
    j.kind = kind
    j.x, j.gy, j.w, j.bias = x, gy, w, bias
    j.c_in, j.c_out, j.groups, j.tile, j.images = c_in, c_out, groups, tile, images
    j.folded, j.g = folded, g
    with nogil:
        run_images(_step[float], _step[double], floating is double, &j, out, &work[0, 0],
                   work.shape[1], N, images, n_chunks, n_threads)


def forward(const floating[:, :, ::1] x, const floating[:, ::1] w, const floating[::1] bias,
            floating[:, :, ::1] y, const long long[:, ::1] geometry, Py_ssize_t groups,
            Py_ssize_t tile, Py_ssize_t images, floating[:, ::1] work, int n_threads):
    """With ``images`` > 1, every work item is that many images in one GEMM (``work`` then holds
    (K + C_out / groups) * images * L values per thread); otherwise one image in column tiles."""
    cdef Geometry g = read_geometry(geometry)
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
    _run(FORWARD, &x[0, 0, 0], NULL, &w[0, 0], b, &y[0, 0, 0], work, &g, x.shape[0], x.shape[1],
         w.shape[0], groups, tile, images, 0, folded, n_threads)


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
    _check("backward_input", &g, grad_x.shape[0], grad_x.shape[1], grad_x.shape[2], w.shape[0],
           w.shape[1], grad_y.shape[0], grad_y.shape[1], grad_y.shape[2], groups, tile,
           work.shape[0], work.shape[1], n_threads)
    if images > 1 and work.shape[1] < (w.shape[1] + w.shape[0] // groups) * images * g.L:
        raise ValueError("backward_input: work is too small for the images per GEMM")
    _run(INPUT_GRAD, NULL, &grad_y[0, 0, 0], &w[0, 0], NULL, &grad_x[0, 0, 0], work, &g,
         grad_y.shape[0], grad_x.shape[1], w.shape[0], groups, tile, images, 0, False, n_threads)


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
    cdef Py_ssize_t n_chunks = grad_w.shape[0], N = x.shape[0]
    _check("backward_weight", &g, N, x.shape[1], x.shape[2], grad_w.shape[1], grad_w.shape[2],
           grad_y.shape[0], grad_y.shape[1], grad_y.shape[2], groups, tile, work.shape[0],
           work.shape[1], n_threads)
    if n_chunks < 1 or n_chunks > max(N, 1):
        raise ValueError("backward_weight: grad_w must hold between 1 and N partial sums")
    if images > 1 and work.shape[1] < (grad_w.shape[2] + grad_w.shape[1] // groups) * images * g.L:
        raise ValueError("backward_weight: work is too small for the images per GEMM")
    _run(WEIGHT_GRAD, &x[0, 0, 0], &grad_y[0, 0, 0], NULL, NULL, &grad_w[0, 0, 0], work, &g, N,
         x.shape[1], grad_w.shape[1], groups, tile, images, n_chunks, False, n_threads)


