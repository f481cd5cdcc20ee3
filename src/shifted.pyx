"""Convolution of small feature maps between many channels as shifted GEMMs, batch innermost.

A step takes ``nb`` images and lays them out batch innermost, ``xt[c, q, b] = x[b, c, q]`` (q an
input position). A kernel tap then joins a run of output positions along a row to a run of input
positions, and for all nb images both runs are contiguous: the tap's share of the run is one GEMM
``yt[:, run] += w_tap[C_out, C_in] @ xt[:, run]`` that reads the input in place. Where im2col
copies every input value once per tap and multiplies the zero padding with the rest (a 3x3 'same'
layer on 4x4 maps: 144 tap-position pairs of which 100 meet the input), the runs here stop at the
input's edge, and a tap's runs that follow on from each other in both the output and the input
(whole rows as wide as the input) are one GEMM. With a stride, the layout groups each axis's input
positions by phase (their remainder modulo the stride: ``_phases``), so that a tap's inputs at
successive outputs, a stride apart, lie side by side as with stride 1: its runs are as long,
where each output position of a strided row was a GEMM of its own.

The runs ("segments": tap, first output position, first input position, length) depend on the
geometry only; they are listed once per call and shared by every step.

Functions (arrays C-contiguous; arguments validated by ``convcore.functional.conv``, array shapes
checked here against the geometry; ungrouped convolutions only):

- ``forward(x, wt, bias, y, geometry, images, work, n_threads)``: ``x`` (N, C_in, D*H*W), ``wt``
  (C_out, taps, C_in) the weights tap by tap (tap t's matrix ``wt[:, t, :]``, its rows taps *
  C_in apart, as GEMM reads it), ``bias`` (C_out,) or empty, ``y`` (N, C_out, L)
  written; ``images`` images a step, ``work`` (n_threads, (C_in * places + C_out * L) * images),
  places = D*H*W with stride 1, else the product over the axes of ceil(n / stride) * stride.
- ``backward_input(grad_y, wt, grad_x, geometry, images, work, n_threads)``: ``grad_x`` (N, C_in,
  D*H*W) written: every run's ``w_tap^T @ grad_y[:, run]`` added onto the input positions it
  read; ``work`` as for ``forward``.
- ``backward_weight(grad_y, x, grad_wt, geometry, images, work, n_threads)``: ``grad_wt``
  (n_chunks, C_out, taps, C_in), written whole; chunk k receives the images k * N //
  n_chunks to (k + 1) * N // n_chunks, ``images`` at a time, in order (the same bits on any
  thread count, as im2col's ``backward_weight``); ``work`` as for ``forward``.
- ``by_tap(w, wt, n_threads)``: ``wt[o, t, c] = w[o, c, t]`` for ``w`` (C_out, C_in, taps).
- ``from_taps(grad_wt, grad_w, n_threads)``: ``grad_w[o, c, t] = grad_wt[0, o, t, c] +
  grad_wt[1, o, t, c] + ...``, added in that order (the bits of summing the chunks first).

Both reorders run on the pool, an output channel at a time: its row is one contiguous block in
either layout (taps and channels swapped within it, in L1), where NumPy's transposing copy to
(taps, C_out, C_in) read the whole array again for every tap (a fifth of a 3x3 layer's forward
on 2x2 maps, 256 -> 256 channels). ``by_tap`` swaps them four by four in SSE registers
(src/c/tap_order.h): 256 x 256 x 9 float32 weights 213 -> 174 us on one thread, 512 x 512 x 9
1071 -> 807 (min of 300, busy machine).
"""
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from batch_inner cimport from_batch_inner, to_batch_inner
from blas cimport gemm
from fused cimport floating
from geometry cimport (FORWARD, INPUT_GRAD, WEIGHT_GRAD, Geometry, read_geometry,
                      valid_range)
from image_items cimport run_images
from parallel cimport import_parallel, run_batches
from tap_order cimport tap_order

import_parallel()


cdef struct Segment:
    Py_ssize_t tap, out, inp, n   # tap; first output and input position; positions in the run


cdef Py_ssize_t _phases(const Geometry *g, Py_ssize_t *pos) noexcept nogil:
    """The input positions' places in the batch-innermost layout: with a stride, every axis's
    positions grouped by their remainder modulo the stride (its phase), so that the positions a
    tap reads at successive outputs (a stride apart) lie side by side, as with stride 1. Writes
    pos[q] (input position q's place; `pos` has room for g.plane) unless NULL, and returns the
    places in all: phases times the phase maps, each ceil(n / stride) along an axis (the last
    places of a short phase stay unused). With stride 1 the places are the positions."""
    cdef Py_ssize_t a, d, h, w
    cdef Py_ssize_t u[3]
    cdef Py_ssize_t size = 1
    for a in range(3):
        u[a] = (g.n_in[a] + g.s[a] - 1) // g.s[a]
        size *= u[a] * g.s[a]
    if pos != NULL:
        for d in range(g.n_in[0]):
            for h in range(g.n_in[1]):
                for w in range(g.n_in[2]):
                    pos[(d * g.n_in[1] + h) * g.n_in[2] + w] = (
                        (((d % g.s[0]) * g.s[1] + h % g.s[1]) * g.s[2] + w % g.s[2])
                        * u[0] * u[1] * u[2]
                        + ((d // g.s[0]) * u[1] + h // g.s[1]) * u[2] + w // g.s[2])
    return size


cdef Py_ssize_t _segments(const Geometry *g, const Py_ssize_t *pos, Segment *seg) noexcept nogil:
    """Write the runs of `g` to seg (room for taps * oD * oH * oW of them) and return their
    number: per tap and output row, the positions ow in the range that read the input (their
    input places `pos`, see _phases, follow on whatever the stride), a run continuing the tap's
    previous one where both its output positions and its input places follow on."""
    cdef Py_ssize_t n = 0, i, j, l, t, od, oh, d, h, w0, lo, hi, q_out, q_in, first
    cdef Py_ssize_t oH = g.n_out[1], oW = g.n_out[2], H = g.n_in[1], W = g.n_in[2]
    for i in range(g.k[0]):
        for j in range(g.k[1]):
            for l in range(g.k[2]):
                t = (i * g.k[1] + j) * g.k[2] + l
                first = n  # this tap's first run
                w0 = l * g.dil[2] - g.p[2]
                valid_range(w0, g.s[2], W, oW, &lo, &hi)
                if lo == hi:
                    continue
                for od in range(g.n_out[0]):
                    d = od * g.s[0] - g.p[0] + i * g.dil[0]
                    if d < 0 or d >= g.n_in[0]:
                        continue
                    for oh in range(oH):
                        h = oh * g.s[1] - g.p[1] + j * g.dil[1]
                        if h < 0 or h >= H:
                            continue
                        q_out = (od * oH + oh) * oW + lo
                        q_in = pos[(d * H + h) * W + w0 + lo * g.s[2]]
                        if (n > first and seg[n - 1].out + seg[n - 1].n == q_out
                                and seg[n - 1].inp + seg[n - 1].n == q_in):
                            seg[n - 1].n += hi - lo
                        else:
                            seg[n].tap, seg[n].out, seg[n].inp, seg[n].n = t, q_out, q_in, hi - lo
                            n += 1
    return n


cdef struct _Job:
    int kind           # FORWARD, INPUT_GRAD or WEIGHT_GRAD
    const void *x
    const void *w      # forward, input gradient: the weights tap by tap (taps, C_out, C_in)
    const void *bias   # forward: NULL or (C_out,)
    const void *gy     # both gradients: the output gradient
    const Segment *seg
    const Py_ssize_t *pos  # the input positions' places (see _phases), NULL with stride 1
    Py_ssize_t n_seg, c_in, c_out, taps, plane, places, L, N, n_chunks
    bint every_tap     # every tap has a run (else the weight gradient's other taps are zeros)


cdef void _step(const void *job, floating *out, floating *work, Py_ssize_t item, Py_ssize_t n,
                Py_ssize_t nb) noexcept nogil:
    """Images n..n + nb: the forward's outputs, their input gradient, or their weight gradient
    added to chunk ``item`` of grad_wt."""
    cdef const _Job *j = <const _Job *> job
    cdef Py_ssize_t c_in = j.c_in, c_out = j.c_out, plane = j.plane, L = j.L, s
    cdef Py_ssize_t places = j.places
    cdef floating *xt = work
    cdef floating *yt = work + c_in * places * nb
    cdef const floating *w = <const floating *> j.w
    cdef const Segment *sg
    cdef Py_ssize_t ld = j.taps * c_in  # the rows of a tap's matrix in wt and grad_wt
    cdef floating beta
    cdef bint first  # the chunk's first step: each tap's first run overwrites its matrix
    if j.kind != INPUT_GRAD:
        to_batch_inner(<const floating *> j.x + n * c_in * plane, xt, nb, c_in, plane, places,
                       j.pos)
    if j.kind != FORWARD:
        to_batch_inner(<const floating *> j.gy + n * c_out * L, yt, nb, c_out, L, L,
                       <const Py_ssize_t *> NULL)
    if j.kind == FORWARD:
        memset(yt, 0, c_out * L * nb * sizeof(floating))
        for s in range(j.n_seg):  # yt[:, out run] += w_tap @ xt[:, input run]
            sg = &j.seg[s]
            gemm(False, False, c_out, sg.n * nb, c_in, 1, w + sg.tap * c_in, ld,
                 xt + sg.inp * nb, places * nb, 1, yt + sg.out * nb, L * nb)
        from_batch_inner(<const floating *> yt, out + n * c_out * L, nb, c_out, L, L,
                         <const Py_ssize_t *> NULL, <const floating *> j.bias)
    elif j.kind == INPUT_GRAD:
        memset(xt, 0, c_in * places * nb * sizeof(floating))
        for s in range(j.n_seg):  # gxt[:, input run] += w_tap^T @ gyt[:, out run]
            sg = &j.seg[s]
            gemm(True, False, c_in, sg.n * nb, c_out, 1, w + sg.tap * c_in, ld,
                 yt + sg.out * nb, L * nb, 1, xt + sg.inp * nb, places * nb)
        from_batch_inner(<const floating *> xt, out + n * c_in * plane, nb, c_in, plane, places,
                         j.pos, <const floating *> NULL)
    else:
        out += item * c_out * ld  # the item's chunk of grad_wt
        first = n == item * j.N // j.n_chunks
        if first and not j.every_tap:
            memset(out, 0, c_out * ld * sizeof(floating))
        for s in range(j.n_seg):  # gw_tap[C_out, C_in] += gyt[:, out run] @ xt[:, input run]^T
            sg = &j.seg[s]
            # (runs come tap by tap: a tap's first run in the chunk overwrites its matrix)
            beta = 0 if first and (s == 0 or j.seg[s - 1].tap != sg.tap) else 1
            gemm(False, True, c_out, c_in, sg.n * nb, 1, yt + sg.out * nb, L * nb,
                 xt + sg.inp * nb, places * nb, beta, out + sg.tap * c_in, ld)


cdef int _run(int kind, const floating *x, const floating *w, const floating *bias, const floating *gy,
              floating *out, floating[:, ::1] work, const Geometry *g, Py_ssize_t N,
              Py_ssize_t c_in, Py_ssize_t c_out, Py_ssize_t images, Py_ssize_t n_chunks,
              int n_threads) except -1:
    cdef _Job j
    cdef Py_ssize_t s, taps_run = 0
    cdef Segment *seg = <Segment *> malloc(max(g.taps * g.L, 1) * sizeof(Segment))
    cdef Py_ssize_t *pos = <Py_ssize_t *> malloc(max(g.plane, 1) * sizeof(Py_ssize_t))
    if seg == NULL or pos == NULL:
        free(seg)
        free(pos)
        raise MemoryError()
    j.kind, j.x, j.w, j.bias, j.gy, j.seg = kind, x, w, bias, gy, seg
    j.c_in, j.c_out, j.taps, j.plane, j.L = c_in, c_out, g.taps, g.plane, g.L
    j.N, j.n_chunks = N, n_chunks
    try:
        with nogil:
            j.places = _phases(g, pos)
            # (with stride 1 every place is its position)
            j.pos = NULL if g.s[0] == g.s[1] == g.s[2] == 1 else pos
            j.n_seg = _segments(g, pos, seg)
            for s in range(j.n_seg):
                taps_run += s == 0 or seg[s - 1].tap != seg[s].tap
            j.every_tap = taps_run == g.taps
            run_images(_step[float], _step[double], floating is double, &j, out, &work[0, 0],
                       work.shape[1], N, images, n_chunks, n_threads)
    finally:
        free(seg)
        free(pos)
    return 0


ctypedef struct Job:
    bint f64, gather   # gather: the chunks' sum back to (C_out, C_in, taps); else tap by tap
                       # (both an output channel's row at a time: taps * C_in values)
    const void *src
    void *out
    Py_ssize_t chunks, c_out, c_in, taps


cdef enum:
    SUMS = 2048  # values of a gather's buffer on the stack (a block of channels, every tap)


cdef void _part(floating *dst, const Job *j, Py_ssize_t o0, Py_ssize_t o1,
                int tid) noexcept nogil:
    """Output channels o0 to o1 of a reorder (`dst` is j.out, typed)."""
    cdef const floating *src = <const floating *> j.src
    cdef const floating *p
    cdef Py_ssize_t o, c, c0, nc, t, k, C = j.c_in, T = j.taps, row = j.taps * j.c_in
    cdef Py_ssize_t chunk = j.c_out * row
    cdef floating sums[SUMS]
    cdef Py_ssize_t block = max(SUMS // T, 1)
    for o in range(o0, o1):
        if not j.gather:  # dst[o, t, c] = src[o, c, t]
            tap_order(src + o * row, dst + o * row, C, T)
            continue
        # dst[o, c, t] = src[0, o, t, c] + src[1, o, t, c] + ..., a block of channels at a
        # time: the chunks added row by row (contiguous), then written out tap innermost
        c0 = 0
        while c0 < C:
            nc = min(block, C - c0)
            if nc * T > SUMS:  # (more taps than the buffer holds: one channel, tap by tap)
                for t in range(T):
                    p = src + o * row + t * C + c0
                    sums[0] = p[0]
                    for k in range(1, j.chunks):
                        sums[0] = sums[0] + p[k * chunk]
                    dst[(o * C + c0) * T + t] = sums[0]
                c0 += 1
                continue
            for t in range(T):
                p = src + o * row + t * C + c0
                for c in range(nc):
                    sums[t * nc + c] = p[c]
                for k in range(1, j.chunks):
                    p = p + chunk
                    for c in range(nc):
                        sums[t * nc + c] = sums[t * nc + c] + p[c]
            for c in range(nc):
                for t in range(T):
                    dst[(o * C + c0 + c) * T + t] = sums[t * nc + c]
            c0 += nc


include "batch.pxi"


cdef void _reorder(bint gather, const floating *src, floating *dst, Py_ssize_t chunks,
                   Py_ssize_t c_out, Py_ssize_t c_in, Py_ssize_t taps, int n_threads) noexcept nogil:
    cdef Job j
    j.f64, j.gather, j.src, j.out = floating is double, gather, src, dst
    j.chunks, j.c_out, j.c_in, j.taps = chunks, c_out, c_in, taps
    run_batches(_batch, &j, c_out, 1, n_threads)


def by_tap(const floating[:, :, ::1] w, floating[:, :, ::1] wt, int n_threads):
    """wt[o, t, c] = w[o, c, t]: the weight matrix of every kernel tap."""
    if wt.shape[0] != w.shape[0] or wt.shape[1] != w.shape[2] or wt.shape[2] != w.shape[1]:
        raise ValueError("by_tap: wt must have the shape (C_out, taps, C_in) of w")
    if w.shape[0] * w.shape[1] * w.shape[2]:
        with nogil:
            _reorder(False, &w[0, 0, 0], &wt[0, 0, 0], 1, w.shape[0], w.shape[1], w.shape[2],
                     n_threads)


def from_taps(const floating[:, :, :, ::1] grad_wt, floating[:, :, ::1] grad_w, int n_threads):
    """grad_w[o, c, t] = the sum over k of grad_wt[k, o, t, c], k in order."""
    if (grad_wt.shape[0] < 1 or grad_wt.shape[1] != grad_w.shape[0]
            or grad_wt.shape[2] != grad_w.shape[2] or grad_wt.shape[3] != grad_w.shape[1]):
        raise ValueError("from_taps: grad_wt must have the shape (chunks, C_out, taps, C_in) "
                         "of grad_w")
    if grad_w.shape[0] * grad_w.shape[1] * grad_w.shape[2]:
        with nogil:
            _reorder(True, &grad_wt[0, 0, 0, 0], &grad_w[0, 0, 0], grad_wt.shape[0],
                     grad_w.shape[0], grad_w.shape[1], grad_w.shape[2], n_threads)


cdef int _check(str name, const Geometry *g, bint ok, Py_ssize_t c_in, Py_ssize_t c_out,
                Py_ssize_t images, Py_ssize_t work_rows, Py_ssize_t work_size,
                int n_threads) except -1:
    if (not ok or images < 1 or work_rows < max(n_threads, 1)
            or work_size < (c_in * _phases(g, NULL) + c_out * g.L) * images):
        raise ValueError(f"{name}: array shapes do not match the geometry")
    return 0


def forward(const floating[:, :, ::1] x, const floating[:, :, ::1] wt, const floating[::1] bias,
            floating[:, :, ::1] y, const long long[:, ::1] geometry, Py_ssize_t images,
            floating[:, ::1] work, int n_threads):
    """y = the convolution of x with the weights wt (C_out, taps, C_in), ``images`` a step."""
    cdef Geometry g = read_geometry(geometry)
    _check("forward", &g, x.shape[2] == g.plane and wt.shape[1] == g.taps
           and wt.shape[2] == x.shape[1] and y.shape[0] == x.shape[0]
           and y.shape[1] == wt.shape[0] and y.shape[2] == g.L, x.shape[1], wt.shape[0], images,
           work.shape[0], work.shape[1], n_threads)
    if bias.shape[0] not in (0, wt.shape[0]):
        raise ValueError("forward: bias must be empty or hold one value per output channel")
    _run(FORWARD, &x[0, 0, 0], &wt[0, 0, 0], &bias[0] if bias.shape[0] > 0 else NULL, NULL, &y[0, 0, 0],
         work, &g, x.shape[0], x.shape[1], wt.shape[0], images, 0, n_threads)


def backward_input(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] wt,
                   floating[:, :, ::1] grad_x, const long long[:, ::1] geometry, Py_ssize_t images,
                   floating[:, ::1] work, int n_threads):
    """grad_x = the input gradient for the weights wt (C_out, taps, C_in), ``images`` a step."""
    cdef Geometry g = read_geometry(geometry)
    _check("backward_input", &g, grad_x.shape[2] == g.plane and wt.shape[1] == g.taps
           and wt.shape[2] == grad_x.shape[1] and grad_y.shape[0] == grad_x.shape[0]
           and grad_y.shape[1] == wt.shape[0] and grad_y.shape[2] == g.L, grad_x.shape[1],
           wt.shape[0], images, work.shape[0], work.shape[1], n_threads)
    _run(INPUT_GRAD, NULL, &wt[0, 0, 0], NULL, &grad_y[0, 0, 0], &grad_x[0, 0, 0], work, &g,
         grad_x.shape[0], grad_x.shape[1], wt.shape[0], images, 0, n_threads)


def backward_weight(const floating[:, :, ::1] grad_y, const floating[:, :, ::1] x,
                    floating[:, :, :, ::1] grad_wt, const long long[:, ::1] geometry,
                    Py_ssize_t images, floating[:, ::1] work, int n_threads):
    """grad_wt[k] = the weight gradient, tap by tap, of images
    k * N // n_chunks to (k + 1) * N // n_chunks, ``images`` at a time, in order."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t N = x.shape[0], n_chunks = grad_wt.shape[0]
    _check("backward_weight", &g, x.shape[2] == g.plane and grad_y.shape[0] == N
           and grad_y.shape[2] == g.L and grad_wt.shape[2] == g.taps
           and grad_wt.shape[1] == grad_y.shape[1] and grad_wt.shape[3] == x.shape[1],
           x.shape[1], grad_y.shape[1], images, work.shape[0], work.shape[1], n_threads)
    if n_chunks < 1 or n_chunks > max(N, 1):
        raise ValueError("backward_weight: grad_wt must hold between 1 and N partial sums")
    _run(WEIGHT_GRAD, &x[0, 0, 0], NULL, NULL, &grad_y[0, 0, 0], &grad_wt[0, 0, 0, 0], work, &g, N,
         x.shape[1], grad_y.shape[1], images, n_chunks, n_threads)
