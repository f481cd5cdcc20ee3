"""Convolution by Winograd F(2x2, 3x3): 2-D, 3x3 kernel, stride 1, no dilation, one group.

Every 2x2 block of outputs ("tile" t = (a, b), output rows 2a, 2a+1 and columns 2b, 2b+1) comes
from a 4x4 input patch d (rows 2a - p_h ..., zero outside the input). With
B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], A^T = [[1, 1, 1, 0],
[0, 1, -1, -1]] and U = G w G^T (made by the caller), the block is
A^T [sum_c U_c * (B^T d_c B)] A:
the sum over channels is, for each of the 16 entries xi of the 4x4 products, one GEMM
M_xi[C_out, tiles] = U_xi[C_out, C_in] @ V_xi[C_in, tiles], with 4 * C_out * C_in * tiles
multiply-adds where im2col + GEMM has 9 * C_out * C_in * tiles. The transforms of whole tiles are
C (src/c/winograd.h); the tiles cut by the output's edge are done here with the same arithmetic.

Images (or chunks of images) are spread over the threads of convcore's pool (src/parallel.pxd);
the caller limits SciPy's BLAS to one thread meanwhile, as for im2col.

Functions (arrays C-contiguous; arguments validated by ``convcore.functional.conv``, array shapes
checked here against the geometry, as in ``im2col``):

- ``forward_winograd(x, u, bias, y, geometry, tile_rows, images, channels_inner, by_input,
  work, n_threads)``: ``x`` (N, C_in, H*W), ``u`` (16, C_out, C_in) the transformed weights, or
  (16, C_in, C_out) with ``by_input`` (with ``channels_inner`` only), ``bias`` (C_out,) or
  empty, ``y`` (N, C_out, oH*oW) written; small images ``images`` to a step, their input
  transformed channels innermost with ``channels_inner``.
- ``transform_weights(w, u, c_in, n_threads)``: the transformed weights ``u`` (16, N) of the 3x3
  kernels ``w`` (N, 9), N = C_out * c_in kernels, their columns in the order (C_in, C_out) when
  c_in > 1.
- ``backward_weight_winograd(grad_y, x, grad_u, geometry, tile_rows, images, work, n_threads,
  channels_inner)``: its weight gradient in the Winograd domain, ``grad_u`` (n_chunks, 16, C_out,
  C_in), chunked as im2col's ``backward_weight`` (the same bits on any thread count).
"""
from libc.string cimport memcpy

from blas cimport gemm
from fused cimport floating
from geometry cimport Geometry, read_geometry
from image_items cimport run_images
from parallel cimport import_parallel, run_batches
from runs cimport zero_run
from wino_transforms cimport (WINO_WB, wino_grad, wino_grad_images, wino_in, wino_in_ci,
                              wino_out, wino_out_images, wino_prefetch, wino_weights)

import_parallel()


# Values between consecutive xi blocks of the transformed input and of the products, beyond the
# blocks themselves: the 16 streams a tile is written to (or read from) then start 256 bytes apart
# modulo 4 KiB instead of all on one cache set when the block size is a power of two.
cdef enum:
    _WINO_SKEW = 64


WINOGRAD_SKEW = _WINO_SKEW


cdef inline Py_ssize_t _work_size(Py_ssize_t c_in, Py_ssize_t c_out, Py_ssize_t tile_rows,
                                  Py_ssize_t tw, Py_ssize_t plane,
                                  bint channels_inner) noexcept nogil:
    """Scratch values per thread for ``tile_rows`` rows of ``tw`` tiles per step (the caller's
    formula, with WINOGRAD_SKEW): the transformed input, the 16 products, 4 padded input rows;
    with ``channels_inner`` also an image laid out channels innermost and a row of zeros."""
    return (16 * (c_in + c_out) * tile_rows * tw + 32 * _WINO_SKEW + 4 * (2 * tw + 2)
            + ((plane + 1) * c_in if channels_inner else 0))


cdef void _input_step(const floating *x, floating *V, const Geometry *g, Py_ssize_t c_in,
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
    # the input rows the step reads (the same in every channel)
    cdef Py_ssize_t first = 2 * a0 - g.p[1], last = 2 * a1 + 2 - g.p[1]
    if first < 0:
        first = 0
    if last > H:
        last = H
    if hi < lo:
        hi = lo
    for c in range(c_in):
        if c + 1 < c_in and last > first:  # the next channel's rows on their way meanwhile
            wino_prefetch(x + (c + 1) * g.plane + first * W, (last - first) * W * sizeof(floating))
        for a in range(a0, a1):
            r0 = 2 * a - g.p[1]
            for r in range(4):
                rr = r0 + r
                if inside_w and 0 <= rr < H:
                    row[r] = x + c * g.plane + rr * W
                    continue
                buf = rows + r * span
                if rr < 0 or rr >= H:
                    zero_run(buf, span)
                else:
                    src = x + c * g.plane + rr * W
                    zero_run(buf, lo)
                    for k in range(lo, hi):
                        buf[k] = src[k - pw]
                    zero_run(buf + hi, span - hi)
                row[r] = buf
            wino_in(row[0], row[1], row[2], row[3], V + c * count + (a - a0) * tw, bv, tw)


cdef void _input_image_ci(const floating *x, floating *V, const Geometry *g, Py_ssize_t c_in,
                          Py_ssize_t bv, floating *t, const floating *zeros) noexcept nogil:
    """V[xi * bv + q * c_in + c] = (B^T d B)[xi] of every tile q of one image, channels
    innermost: the image laid out position by position first (t[p * c_in + c] = x[c, p]), then
    each tile's 16 inputs are vectors of channels read in place (``zeros`` in the padding), so the
    transform runs a vector of channels at a time where the tile-row transform has a few tiles
    (4 on an 8x8 map) to a row."""
    cdef Py_ssize_t H = g.n_in[1], W = g.n_in[2], plane = g.plane
    cdef Py_ssize_t th = (g.n_out[1] + 1) // 2, tw = (g.n_out[2] + 1) // 2
    cdef Py_ssize_t c, q, a, b, i, k, h, w
    cdef const floating *p[16]
    for c in range(c_in):
        for q in range(plane):
            t[q * c_in + c] = x[c * plane + q]
    for a in range(th):
        for b in range(tw):
            for i in range(4):
                h = 2 * a + i - g.p[1]
                for k in range(4):
                    w = 2 * b + k - g.p[2]
                    if 0 <= h < H and 0 <= w < W:
                        p[4 * i + k] = t + (h * W + w) * c_in
                    else:
                        p[4 * i + k] = zeros
            wino_in_ci(p, V + (a * tw + b) * c_in, bv, c_in)


cdef void _output_row(const floating *m, Py_ssize_t bm, floating shift, floating *yo,
                      const Geometry *g, Py_ssize_t a) noexcept nogil:
    """Output rows 2a, 2a + 1 of one channel (yo) = A^T m A + shift for the tiles of tile row a
    (m[xi * bm + b] the products of tile b); the tiles cut by the output's edge one by one."""
    cdef Py_ssize_t oH = g.n_out[1], oW = g.n_out[2], tw = (oW + 1) // 2, b, r, i, j
    cdef Py_ssize_t full = tw if 2 * a + 1 < oH else 0  # tiles wholly inside the output
    cdef const floating *mb
    cdef floating s[2][4]
    cdef floating out[2][2]
    if full and oW % 2:
        full -= 1
    wino_out(m, bm, shift, yo + 2 * a * oW, yo + (2 * a + 1) * oW, full)
    for b in range(full, tw):
        mb = m + b
        for r in range(4):  # s = A^T m
            s[0][r] = mb[r * bm] + mb[(4 + r) * bm] + mb[(8 + r) * bm]
            s[1][r] = mb[(4 + r) * bm] - mb[(8 + r) * bm] - mb[(12 + r) * bm]
        for i in range(2):  # out = s A
            out[i][0] = s[i][0] + s[i][1] + s[i][2] + shift
            out[i][1] = s[i][1] - s[i][2] - s[i][3] + shift
        for i in range(2):
            if 2 * a + i < oH:
                for j in range(2):
                    if 2 * b + j < oW:
                        yo[(2 * a + i) * oW + 2 * b + j] = out[i][j]


cdef void _grad_row(const floating *gyo, floating *m, Py_ssize_t bm, const Geometry *g,
                    Py_ssize_t a) noexcept nogil:
    """m[xi * bm + b] = (A dy A^T)[xi] for the tiles b of tile row a of one channel's output
    gradient gyo (zero past the output's edge): the adjoint of _output_row."""
    cdef Py_ssize_t oH = g.n_out[1], oW = g.n_out[2], tw = (oW + 1) // 2, b, r, i, j
    cdef Py_ssize_t full = tw if 2 * a + 1 < oH else 0  # blocks wholly inside the output
    cdef floating *mb
    cdef floating d[2][2]
    cdef floating t[4][2]
    if full and oW % 2:
        full -= 1
    wino_grad(gyo + 2 * a * oW, gyo + (2 * a + 1) * oW, m, bm, full)
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
        mb = m + b
        for r in range(4):  # dM = t A^T
            mb[(4 * r) * bm] = t[r][0]
            mb[(4 * r + 1) * bm] = t[r][0] + t[r][1]
            mb[(4 * r + 2) * bm] = t[r][0] - t[r][1]
            mb[(4 * r + 3) * bm] = -t[r][1]


cdef void _images(const floating *x, const floating *u, const floating *bias,
                  const floating *gy, floating *out, floating *work, const Geometry *g,
                  Py_ssize_t c_in, Py_ssize_t c_out, Py_ssize_t tile_rows,
                  Py_ssize_t nb, bint channels_inner, bint by_input) noexcept nogil:
    """``nb`` images by Winograd, the forward (gy NULL: out = y, with the bias when not NULL) or
    the weight gradient (out = gu += sum over the tiles of dM_xi @ V_xi^T, dM = A dy A^T the
    adjoint of y = A^T M A; the caller turns gu into G^T gu G). One image ``tile_rows`` rows of
    tiles at a time, or (nb > 1, then tile_rows covers the image) the nb images' tiles side by
    side in one step, so that the 16 weight matrices are read once for them all. work holds
    _work_size(c_in, c_out, nb * tile_rows, tw, plane, channels_inner) values, tw = ceil(W_out /
    2). With ``channels_inner`` (whole images, tile_rows covering them) the transformed input
    is laid out channels innermost, V_xi (tiles, C_in), and multiplied transposed (the forward)
    or as it is (the weight gradient); ``by_input``: u holds U_xi^T (C_in, C_out)."""
    cdef Py_ssize_t oL = g.n_out[1] * g.n_out[2]
    cdef Py_ssize_t th = (g.n_out[1] + 1) // 2, tw = (g.n_out[2] + 1) // 2
    cdef Py_ssize_t a0, a1, a, o, xi, count, bv, bm, img, q
    cdef floating *V = work
    cdef floating *M = work + 16 * (c_in * nb * tile_rows * tw + _WINO_SKEW)
    cdef floating *rows = M + 16 * (c_out * nb * tile_rows * tw + _WINO_SKEW)  # 4 padded rows
    cdef floating *t = rows + 4 * (2 * tw + 2)  # channels_inner: an image, then a row of zeros
    cdef floating *zeros = t + g.plane * c_in
    if channels_inner:
        for o in range(c_in):
            zeros[o] = 0
    a0 = 0
    while a0 < th:
        a1 = a0 + tile_rows if a0 + tile_rows < th else th
        count = nb * (a1 - a0) * tw
        bv = c_in * count + _WINO_SKEW
        bm = c_out * count + _WINO_SKEW
        for img in range(nb):
            if channels_inner:
                _input_image_ci(x + img * c_in * g.plane, V + img * th * tw * c_in, g, c_in, bv,
                                t, zeros)
            else:
                _input_step(x + img * c_in * g.plane, V + img * (a1 - a0) * tw, g, c_in, a0, a1,
                            bv, count, rows)
        if gy == NULL and by_input:  # M_xi = (U_xi^T)^T @ V_xi^T (see choice.winograd_by_input)
            for xi in range(16):
                gemm(True, True, c_out, count, c_in, 1, u + xi * c_out * c_in, c_out,
                     V + xi * bv, c_in, 0, M + xi * bm, count)
        elif gy == NULL and channels_inner:  # M_xi = U_xi @ V_xi^T
            for xi in range(16):
                gemm(False, True, c_out, count, c_in, 1, u + xi * c_out * c_in, c_in,
                     V + xi * bv, c_in, 0, M + xi * bm, count)
        elif gy == NULL:
            for xi in range(16):
                gemm(False, False, c_out, count, c_in, 1, u + xi * c_out * c_in, c_in,
                     V + xi * bv, count, 0, M + xi * bm, count)
        if a0 == 0 and a1 == th:  # whole images: a vector of tiles at a time
            for o in range(c_out):
                if gy == NULL:
                    wino_out_images(M + o * count, bm, bias[o] if bias != NULL else 0,
                                    out + o * oL, c_out * oL, g.n_out[1], g.n_out[2], th, tw, nb)
                else:
                    wino_grad_images(gy + o * oL, c_out * oL, M + o * count, bm, g.n_out[1],
                                     g.n_out[2], th, tw, nb)
        for img in range(nb if a0 > 0 or a1 < th else 0):
            for o in range(c_out):
                for a in range(a0, a1):
                    q = o * count + img * (a1 - a0) * tw + (a - a0) * tw  # the row's first tile
                    if gy == NULL:
                        _output_row(M + q, bm, bias[o] if bias != NULL else 0,
                                    out + (img * c_out + o) * oL, g, a)
                    else:
                        _grad_row(gy + (img * c_out + o) * oL, M + q, bm, g, a)
        if gy != NULL and channels_inner:  # gu_xi += dM_xi[c_out, count] @ V_xi[count, c_in]
            for xi in range(16):
                gemm(False, False, c_out, c_in, count, 1, M + xi * bm, count, V + xi * bv, c_in,
                     1, out + xi * c_out * c_in, c_in)
        elif gy != NULL:  # gu_xi[c_out, c_in] += dM_xi[c_out, count] @ V_xi[c_in, count]^T
            for xi in range(16):
                gemm(False, True, c_out, c_in, count, 1, M + xi * bm, count, V + xi * bv, count,
                     1, out + xi * c_out * c_in, c_in)
        a0 = a1


cdef struct _Job:
    const void *x
    const void *u      # forward: the transformed weights
    const void *bias   # forward: NULL or (C_out,)
    const void *gy     # weight gradient: the output gradient (NULL: the forward)
    Py_ssize_t c_in, c_out, tile_rows
    bint channels_inner  # forward: the transformed input channels innermost
    bint by_input        # forward: u holds U_xi^T (with channels_inner)
    const Geometry *g


cdef void _step(const void *job, floating *out, floating *work, Py_ssize_t item, Py_ssize_t n,
                Py_ssize_t nb) noexcept nogil:
    """Images n..n + nb of work item ``item``: the forward's, or the weight gradient's into the
    item's chunk of grad_u."""
    cdef const _Job *j = <const _Job *> job
    cdef const floating *x = <const floating *> j.x + n * j.c_in * j.g.plane
    if j.gy == NULL:
        _images(x, <const floating *> j.u, <const floating *> j.bias, NULL,
                out + n * j.c_out * j.g.L, work, j.g, j.c_in, j.c_out, j.tile_rows, nb,
                j.channels_inner, j.by_input)
    else:
        _images(x, NULL, NULL, <const floating *> j.gy + n * j.c_out * j.g.L,
                out + item * 16 * j.c_out * j.c_in, work, j.g, j.c_in, j.c_out, j.tile_rows, nb,
                j.channels_inner, False)


cdef void _run(const floating *x, const floating *u, const floating *bias, const floating *gy,
               floating *out, floating[:, ::1] work, const Geometry *g, Py_ssize_t N,
               Py_ssize_t c_in, Py_ssize_t c_out, Py_ssize_t tile_rows, Py_ssize_t images,
               Py_ssize_t n_chunks, int n_threads, bint channels_inner=False,
               bint by_input=False) noexcept:
    """The forward (gy NULL; out = y) or the weight gradient (out = grad_u, n_chunks > 0 of them)
    on the pool: ``images`` images or one chunk a work item."""
    cdef _Job j
    j.x, j.u, j.bias, j.gy = x, u, bias, gy
    j.c_in, j.c_out, j.tile_rows, j.g = c_in, c_out, tile_rows, g
    j.channels_inner, j.by_input = channels_inner, by_input
    with nogil:
        run_images(_step[float], _step[double], floating is double, &j, out, &work[0, 0],
                   work.shape[1], N, images, n_chunks, n_threads)


cdef int _check(str name, const Geometry *g, Py_ssize_t ok, Py_ssize_t c_in, Py_ssize_t c_out,
                Py_ssize_t tile_rows, Py_ssize_t images, Py_ssize_t work_rows,
                Py_ssize_t work_size, int n_threads, bint channels_inner=False) except -1:
    """Refuse a geometry that is not a 3x3, stride-1 2-D convolution, or arrays that do not agree
    with it (``ok``: the caller's own shape checks passed)."""
    cdef Py_ssize_t tw = (g.n_out[2] + 1) // 2, th = (g.n_out[1] + 1) // 2
    if (g.n_in[0] != 1 or g.n_out[0] != 1 or g.k[0] != 1 or g.k[1] != 3 or g.k[2] != 3
            or g.s[1] != 1 or g.s[2] != 1 or g.dil[1] != 1 or g.dil[2] != 1):
        raise ValueError(f"{name}: the geometry is not a 3x3, stride-1 2-D convolution")
    if (not ok or tile_rows < 1 or images < 1
            or ((images > 1 or channels_inner) and tile_rows < th)
            or work_rows < max(n_threads, 1)
            or work_size < _work_size(c_in, c_out, images * tile_rows, tw, g.plane,
                                      channels_inner)):
        raise ValueError(f"{name}: array shapes do not match the geometry")
    return 0


cdef enum:
    _WEIGHTS_CHANNELS = 8  # input channels of a block of transform_weights (with c_in > 1)


cdef void _weights_block(const floating *w, floating *u, Py_ssize_t c_out, Py_ssize_t c_in,
                         Py_ssize_t cb, Py_ssize_t c0, Py_ssize_t o0) noexcept nogil:
    """The kernels (o, c), o0 <= o < o0 + WINO_WB / cb, c0 <= c < c0 + cb, of
    transform_weights: gathered tap by tap, transformed a vector of kernels at a time
    (wino_weights), copied out by runs of WINO_WB / cb columns. A block reads cb adjacent kernels
    of each of its output channels (taking the kernels of one input channel read a cache line per
    kernel), and goes through buffers because the 16 rows of u lie a power of two apart for many
    channel counts, on one cache set. (Column by column, reading each column's kernel wherever it
    lies: scattering the columns of kernels taken in order cost 1.6 times the whole forward of
    8x256x14x14 by 256x256x3x3.)"""
    cdef Py_ssize_t ob = WINO_WB // cb, no = min(ob, c_out - o0), nc = min(cb, c_in - c0)
    cdef Py_ssize_t N = c_out * c_in, n, o, c, i
    cdef floating k[9][WINO_WB]
    cdef floating buf[16][WINO_WB]
    cdef const floating *src
    for c in range(nc):  # column (c0 + c) * C_out + o0 + o holds kernel (o0 + o) * c_in + c0 + c
        for o in range(no):
            src = w + ((o0 + o) * c_in + c0 + c) * 9
            n = c * no + o
            for i in range(9):
                k[i][n] = src[i]
    wino_weights(&k[0][0], &buf[0][0], nc * no)
    for i in range(16):
        for c in range(nc):
            memcpy(u + i * N + (c0 + c) * c_out + o0, &buf[i][c * no], no * sizeof(floating))


cdef struct _Weights:
    const void *w
    void *u
    Py_ssize_t c_out, c_in, cb, o_blocks
    bint is_double


cdef void _weights_batch(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    cdef const _Weights *j = <const _Weights *> ctx
    cdef Py_ssize_t b, c0, o0
    for b in range(lo, hi):
        c0, o0 = b // j.o_blocks * j.cb, b % j.o_blocks * (WINO_WB // j.cb)
        if j.is_double:
            _weights_block(<const double *> j.w, <double *> j.u, j.c_out, j.c_in, j.cb, c0, o0)
        else:
            _weights_block(<const float *> j.w, <float *> j.u, j.c_out, j.c_in, j.cb, c0, o0)


def transform_weights(const floating[:, ::1] w, floating[:, ::1] u, Py_ssize_t c_in,
                      int n_threads):
    """u[xi, n] = (G w[n] G^T) flattened over its 4x4 entries xi, for the 3x3 kernels w[n] (n,
    9): the rows of G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]] applied to
    each column of w[n], then to each row of the result (a few adds per entry, where a GEMM with
    kron(G, G) has a depth of 9), in blocks of 128 kernels on ``n_threads`` threads. With
    ``c_in`` > 1 the N kernels are C_out x c_in (n = o * c_in + c) and go to the columns of
    (C_in, C_out) instead: u[xi, c * C_out + o] (the layout the channels-innermost forward
    reads)."""
    cdef _Weights j
    if w.shape[1] != 9 or u.shape[0] != 16 or u.shape[1] != w.shape[0]:
        raise ValueError("transform_weights: w must be (N, 9) and u (16, N)")
    if c_in < 1 or w.shape[0] % c_in:
        raise ValueError("transform_weights: c_in must be positive and divide N")
    if w.shape[0] == 0:
        return
    # c_in == 1: the columns in the kernels' order, as C_out = N kernels of one input channel
    j.w, j.u, j.c_out, j.c_in = &w[0, 0], &u[0, 0], w.shape[0] // c_in, c_in
    j.cb, j.is_double = min(c_in, _WEIGHTS_CHANNELS), floating is double
    j.o_blocks = (j.c_out + WINO_WB // j.cb - 1) // (WINO_WB // j.cb)
    with nogil:
        run_batches(_weights_batch, &j, (c_in + j.cb - 1) // j.cb * j.o_blocks, 1, n_threads)


def forward_winograd(const floating[:, :, ::1] x, const floating[:, :, ::1] u,
                     const floating[::1] bias, floating[:, :, ::1] y,
                     const long long[:, ::1] geometry, Py_ssize_t tile_rows, Py_ssize_t images,
                     bint channels_inner, bint by_input, floating[:, ::1] work,
                     int n_threads):
    """y = the 3x3, stride-1 convolution of x by Winograd F(2x2, 3x3); ``u`` (16, C_out, C_in) the
    transformed weights G w G^T. Every work item is ``images`` images (then ``tile_rows`` must
    cover an image: all their tiles in one step) or one image in steps of ``tile_rows`` rows of
    tiles; ``work`` (n_threads, 16 * (C_in + C_out) * images * tile_rows * tw +
    32 * WINOGRAD_SKEW + 8 * tw + 8), tw = ceil(W_out / 2). With ``channels_inner`` (whole
    images a step: ``tile_rows`` covers an image) the input is transformed channels innermost,
    ``work`` then (H * W + 1) * C_in values longer, and with ``by_input`` too ``u`` is laid out
    (16, C_in, C_out) (``transform_weights`` with c_in)."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t c_out = y.shape[1]
    _check("forward_winograd", &g, x.shape[2] == g.plane and u.shape[0] == 16
           and (channels_inner or not by_input) and u.shape[1 if by_input else 2] == x.shape[1]
           and u.shape[2 if by_input else 1] == c_out and y.shape[0] == x.shape[0]
           and y.shape[2] == g.L, x.shape[1], c_out, tile_rows, images, work.shape[0],
           work.shape[1], n_threads, channels_inner)
    if bias.shape[0] not in (0, c_out):
        raise ValueError("forward_winograd: bias must be empty or hold one value per output "
                         "channel")
    _run(&x[0, 0, 0], &u[0, 0, 0], &bias[0] if bias.shape[0] > 0 else NULL, NULL, &y[0, 0, 0],
         work, &g, x.shape[0], x.shape[1], c_out, tile_rows, images, 0, n_threads,
         channels_inner, by_input)


def backward_weight_winograd(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                             floating[:, :, :, ::1] grad_u, const long long[:, ::1] geometry,
                             Py_ssize_t tile_rows, Py_ssize_t images, floating[:, ::1] work,
                             int n_threads, bint channels_inner=False):
    """The weight gradient of forward_winograd in the Winograd domain: ``grad_u`` (n_chunks, 16,
    C_out, C_in), zero-filled by the caller, chunk k receiving the images k * N // n_chunks to
    (k + 1) * N // n_chunks in order, ``images`` at a time (as backward_weight: the same bits on
    any thread count); ``tile_rows``, ``images``, ``work`` and ``channels_inner`` (the input
    transformed channels innermost, then multiplied untransposed) as for forward_winograd."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t N = x.shape[0], n_chunks = grad_u.shape[0]
    _check("backward_weight_winograd", &g, x.shape[2] == g.plane and grad_y.shape[0] == N
           and grad_y.shape[2] == g.L and grad_u.shape[1] == 16
           and grad_u.shape[2] == grad_y.shape[1] and grad_u.shape[3] == x.shape[1], x.shape[1],
           grad_y.shape[1], tile_rows, images, work.shape[0], work.shape[1], n_threads,
           channels_inner)
    if n_chunks < 1 or n_chunks > max(N, 1):
        raise ValueError("backward_weight_winograd: grad_u must hold between 1 and N partial sums")
    _run(&x[0, 0, 0], NULL, NULL, &grad_y[0, 0, 0], &grad_u[0, 0, 0, 0], work, &g, N, x.shape[1],
         grad_y.shape[1], tile_rows, images, n_chunks, n_threads, channels_inner)
