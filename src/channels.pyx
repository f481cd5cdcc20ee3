"""Per-channel passes over an ``(N, C, L)`` array: batch normalisation's statistics, its affine
map and its gradient, each one parallel pass (NumPy takes three to five, on one thread).

- ``affine(x, center, scale, shift, y, n_threads, relu=False)`` and ``affine_add(x, center, scale,
  shift, residual, y, relu, n_threads)``: ``y[n, c, l] = (x[n, c, l] - center[c]) * scale[c] +
  shift[c]``, then ``+ residual[n, c, l]`` and ``max(., 0)`` when asked (a ResNet block's batch
  normalisation, shortcut and ReLU in one pass, the same bits as three), the planes ``(n, c)``
  spread over ``n_threads`` threads. ``y`` may be ``x`` itself. The mean is taken off first, as
  PyTorch's training forward does: ``x * scale + shift`` with ``shift = -mean * scale`` rounds
  two values as large as ``mean * scale`` and keeps their difference (float32 channels of mean
  100 and spread 0.01: errors of 1e-3 against 1e-4).
- ``batch_stats(x, mean, var, n_threads)``: the mean and the biased variance of every channel
  over ``(n, l)``, summed in double (the mean first, then the squared deviations from it).
- ``batch_norm_backward(g, x, mean, inv_std, scale, gx, sums, batch_stats, n_threads)``: with
  ``xhat = (x - mean) * inv_std``, ``sums[0, c] = sum g`` and ``sums[1, c] = sum g * xhat``
  (the bias and weight gradients) and the input gradient ``gx = scale * (g - sums[0] / m - xhat *
  sums[1] / m)`` (``m = N * L``) when the statistics came from the batch, else ``scale * g``.
- ``batch_norm_relu_backward(g, y, x, mean, inv_std, scale, gm, gx, sums, batch_stats,
  n_threads)``: the same behind a ReLU whose output was ``y``: ``gm = g * (not y <= 0)`` (the ReLU's
  input gradient, which a shortcut also takes) is written first and stands for ``g``. ``gm`` may
  be ``gx`` itself.

Channels are spread over the threads and every channel is summed in one fixed order, so the
results are the same bits on any number of threads. Sums run in LANES independent double
accumulators, which the compiler can keep in vector registers.
"""
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from fused cimport floating
from parallel cimport batch_size, import_parallel, run_batches

import_parallel()

cdef enum:
    LANES = 8
    SMALL_PLANE = 16  # values per plane up to which the affine map runs image by image


cdef inline void _add_relu(const floating *r, bint relu, floating *y, Py_ssize_t i0,
                           Py_ssize_t i1) noexcept nogil:
    """y[i0:i1] += r[i0:i1] (unless r is NULL), then the ReLU when asked."""
    cdef Py_ssize_t i
    cdef floating v, zero = 0
    if r != NULL:
        for i in range(i0, i1):
            y[i] = y[i] + r[i]
    if relu:
        for i in range(i0, i1):
            v = y[i]
            y[i] = v if (v > 0 or v != v) else zero


cdef void _affine_planes(const floating *x, const floating *center, const floating *scale,
                         const floating *shift, const floating *r, bint relu, floating *y,
                         Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    """Planes p0 to p1 (plane p = n * C + c) of the affine map, then, over the whole range at
    once (a loop per plane costs more than a 1x1 plane), plus `r` (unless NULL) and the ReLU
    (as relu in activations.pyx: NaN stays NaN, -0 gives 0); the channel advances with the
    plane (a division per plane cost more than the plane itself on a 1x1 map)."""
    cdef Py_ssize_t p, l, c = p0 % C
    cdef floating m, s, b
    for p in range(p0, p1):
        m = center[c]
        s = scale[c]
        b = shift[c]
        for l in range(L):
            y[p * L + l] = (x[p * L + l] - m) * s + b
        c += 1
        if c == C:
            c = 0
    _add_relu(r, relu, y, p0 * L, p1 * L)


cdef void _affine_rows(const floating *x, const floating *center, const floating *scale,
                       const floating *shift, const floating *r, bint relu, floating *y,
                       Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t C, Py_ssize_t L) noexcept nogil:
    """As _affine_planes, for small planes: `center`, `scale` and `shift` hold a value per
    position of an image (C * L, each channel's repeated L times), so each image's run of planes
    is one loop over contiguous values that the compiler vectorises (a plane of 1 to 16 values
    left the loop per plane mostly overhead: 32x512x1x1 36 us against 4). The same operations on
    every value, so the same bits."""
    cdef Py_ssize_t CL = C * L, i = p0 * L, end = p1 * L, j, k, run
    while i < end:
        j = i % CL
        run = min(end - i, CL - j)
        for k in range(run):
            y[i + k] = (x[i + k] - center[j + k]) * scale[j + k] + shift[j + k]
        i += run
    _add_relu(r, relu, y, p0 * L, p1 * L)


cdef inline double _dot(const floating *a, double a_shift, const floating *b, double b_shift,
                        Py_ssize_t L, bint product) noexcept nogil:
    """sum over l of (a[l] - a_shift) * (b[l] - b_shift), or of a[l] alone when not `product`,
    in LANES accumulators added up at the end (in a fixed order)."""
    cdef double acc[LANES]
    cdef Py_ssize_t i, l, j, L0 = L - L % LANES
    if L < LANES:  # a small map (4x4 and less): no lanes to set up
        acc[0] = 0
        for l in range(L):
            acc[0] += (a[l] - a_shift) * (b[l] - b_shift) if product else a[l]
        return acc[0]
    for j in range(LANES):
        acc[j] = 0
    for i in range(L0 // LANES):
        l = i * LANES
        for j in range(LANES):
            acc[j] += (a[l + j] - a_shift) * (b[l + j] - b_shift) if product else a[l + j]
    for l in range(L0, L):
        acc[0] += (a[l] - a_shift) * (b[l] - b_shift) if product else a[l]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


cdef enum Op:
    AFFINE
    STATS
    NORM_BACKWARD

ctypedef struct Job:
    Op op
    bint f64, batch_stats
    const void* x
    const void* g           # the output gradient (NORM_BACKWARD)
    const void* scale
    const void* center      # AFFINE
    const void* shift       # AFFINE
    const void* mean        # NORM_BACKWARD (written by STATS)
    const void* inv_std
    const void* r           # the residual added (AFFINE), or NULL
    bint relu               # AFFINE: a ReLU after
    bint rows               # AFFINE: center, scale and shift hold a value per position (C * L)
    const void* y           # NORM_BACKWARD: the ReLU's output, whose mask g takes, or NULL
    void* gm                # NORM_BACKWARD with y: g * (not y <= 0), written (may be out)
    void* out               # y (AFFINE), mean (STATS), gx (NORM_BACKWARD)
    void* out2              # var (STATS), sums (NORM_BACKWARD)
    Py_ssize_t N, C, L


cdef void _stats_small(floating* mean, const Job* j, Py_ssize_t c0, Py_ssize_t c1,
                       double* acc) noexcept nogil:
    """Channels c0 to c1 of batch_stats on planes of up to SMALL_PLANE values, image by image:
    each image's run of these channels is one loop over contiguous values that the compiler
    vectorises, summed per position into `acc` (2 * (c1 - c0) * L doubles), and the positions
    of a channel added up at the end (a loop per plane of 1 to 16 values was mostly overhead:
    32x512x1x1 41 us). The sums in another order than _stats, in double as there."""
    cdef const floating* x = <const floating*>j.x
    cdef const floating* xs
    cdef floating* var = <floating*>j.out2
    cdef Py_ssize_t n, c, l, p, N = j.N, C = j.C, L = j.L, P = (c1 - c0) * L
    cdef double m = N * L, s, d
    cdef double* mu = acc + P
    for p in range(P):
        acc[p] = 0
    for n in range(N):
        xs = x + (n * C + c0) * L
        for p in range(P):
            acc[p] += xs[p]
    for c in range(P // L):
        s = 0
        for l in range(L):
            s += acc[c * L + l]
            acc[c * L + l] = 0
        s = s / m
        mean[c0 + c] = <floating> s
        for l in range(L):
            mu[c * L + l] = s
    for n in range(N):
        xs = x + (n * C + c0) * L
        for p in range(P):
            d = xs[p] - mu[p]
            acc[p] += d * d
    for c in range(P // L):
        s = 0
        for l in range(L):
            s += acc[c * L + l]
        var[c0 + c] = <floating> (s / m)


cdef void _stats(floating* mean, const Job* j, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Channels c0 to c1 of batch_stats."""
    cdef const floating* x = <const floating*>j.x
    cdef floating* var = <floating*>j.out2
    cdef Py_ssize_t n, c, N = j.N, C = j.C, L = j.L
    cdef double m = N * L, s, mu
    cdef double* acc
    if L <= SMALL_PLANE:
        acc = <double*>malloc(2 * (c1 - c0) * L * sizeof(double))
        if acc != NULL:  # else the loop per plane below, which needs no memory
            _stats_small(mean, j, c0, c1, acc)
            free(acc)
            return
    for c in range(c0, c1):
        s = 0
        for n in range(N):
            s = s + _dot(x + (n * C + c) * L, 0, x, 0, L, False)
        mu = s / m
        s = 0
        for n in range(N):
            s = s + _dot(x + (n * C + c) * L, mu, x + (n * C + c) * L, mu, L, True)
        mean[c] = <floating> mu
        var[c] = <floating> (s / m)


cdef inline void _norm_channel(floating* gx, const floating* g, const Job* j,
                               Py_ssize_t c) noexcept nogil:
    """Channel c of batch_norm_backward, from the output gradient g."""
    cdef const floating* x = <const floating*>j.x
    cdef const floating* mean = <const floating*>j.mean
    cdef const floating* inv_std = <const floating*>j.inv_std
    cdef const floating* scale = <const floating*>j.scale
    cdef floating* sums = <floating*>j.out2
    cdef Py_ssize_t n, l, q, N = j.N, C = j.C, L = j.L
    cdef double sg = 0, sgx = 0, mu = mean[c]
    cdef floating k, a, b, mu_f
    for n in range(N):
        q = (n * C + c) * L
        sg = sg + _dot(g + q, 0, g, 0, L, False)
        sgx = sgx + _dot(g + q, 0, x + q, mu, L, True)
    sums[c] = <floating> sg
    sums[C + c] = <floating> (sgx * inv_std[c])
    # gx = k * g + a * (x - mean) + b, the batch terms folded into a and b
    k = scale[c]
    a = 0
    b = 0
    if j.batch_stats:
        a = <floating> (-scale[c] * inv_std[c] * inv_std[c] * sgx / (N * L))
        b = <floating> (-scale[c] * sg / (N * L))
    mu_f = mean[c]
    for n in range(N):
        q = (n * C + c) * L
        for l in range(L):
            gx[q + l] = k * g[q + l] + a * (x[q + l] - mu_f) + b


cdef void _norm_small(floating* gx, const floating* g, const Job* j, Py_ssize_t c0,
                      Py_ssize_t c1, double* acc) noexcept nogil:
    """Channels c0 to c1 of batch_norm_backward on planes of up to SMALL_PLANE values, image by
    image as _stats_small: the sums per position in `acc` (3 * P doubles, then 4 * P values
    of the dtype, P = (c1 - c0) * L), then gx from k, a, b and the mean repeated per position
    (the same operations as _norm_channel on each value)."""
    cdef const floating* x = <const floating*>j.x
    cdef const floating* mean = <const floating*>j.mean
    cdef const floating* inv_std = <const floating*>j.inv_std
    cdef const floating* scale = <const floating*>j.scale
    cdef floating* sums = <floating*>j.out2
    cdef const floating* gs
    cdef const floating* xs
    cdef floating* gxs
    cdef Py_ssize_t n, c, l, p, q, N = j.N, C = j.C, L = j.L, P = (c1 - c0) * L
    cdef double sg, sgx
    cdef double* acc_gx = acc + P
    cdef double* mu = acc + 2 * P
    cdef floating* kp = <floating*>(acc + 3 * P)
    cdef floating* ap = kp + P
    cdef floating* bp = ap + P
    cdef floating* mp = bp + P
    cdef floating k, a, b
    for c in range(P // L):
        for l in range(L):
            q = c * L + l
            acc[q] = 0
            acc_gx[q] = 0
            mu[q] = mean[c0 + c]
    for n in range(N):
        gs = g + (n * C + c0) * L
        xs = x + (n * C + c0) * L
        for p in range(P):
            acc[p] += gs[p]
            acc_gx[p] += gs[p] * (xs[p] - mu[p])
    for c in range(P // L):
        sg = 0
        sgx = 0
        for l in range(L):
            sg += acc[c * L + l]
            sgx += acc_gx[c * L + l]
        sums[c0 + c] = <floating> sg
        sums[C + c0 + c] = <floating> (sgx * inv_std[c0 + c])
        k = scale[c0 + c]  # as in _norm_channel
        a = 0
        b = 0
        if j.batch_stats:
            a = <floating> (-scale[c0 + c] * inv_std[c0 + c] * inv_std[c0 + c] * sgx / (N * L))
            b = <floating> (-scale[c0 + c] * sg / (N * L))
        for l in range(L):
            q = c * L + l
            kp[q], ap[q], bp[q], mp[q] = k, a, b, mean[c0 + c]
    for n in range(N):
        gs = g + (n * C + c0) * L
        xs = x + (n * C + c0) * L
        gxs = gx + (n * C + c0) * L
        for p in range(P):
            gxs[p] = kp[p] * gs[p] + ap[p] * (xs[p] - mp[p]) + bp[p]


cdef void _norm_backward(floating* gx, const Job* j, Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Channels c0 to c1 of batch_norm_backward; of batch_norm_relu_backward when j.y is set
    (the masked gradient of these channels written to j.gm first, and read in place of g)."""
    cdef const floating* g = <const floating*>j.g
    cdef const floating* y = <const floating*>j.y
    cdef floating* gm = <floating*>j.gm
    cdef Py_ssize_t n, c, i, N = j.N, C = j.C, L = j.L
    cdef floating one = 1, zero = 0
    if y != NULL:  # the ReLU's gradient, as relu_backward in activations.pyx, row by row
        for n in range(N):
            for i in range((n * C + c0) * L, (n * C + c1) * L):
                gm[i] = g[i] * (one if not (y[i] <= 0) else zero)
        g = gm
    cdef double* acc
    if L <= SMALL_PLANE:
        acc = <double*>malloc((c1 - c0) * L * (3 * sizeof(double) + 4 * sizeof(floating)))
        if acc != NULL:  # else the loop per channel below, which needs no memory
            _norm_small(gx, g, j, c0, c1, acc)
            free(acc)
            return
    for c in range(c0, c1):
        _norm_channel(gx, g, j, c)


cdef void _part(floating* out, const Job* j, Py_ssize_t lo, Py_ssize_t hi,
               int tid) noexcept nogil:
    if j.op == AFFINE and j.rows:  # planes lo to hi, center, scale and shift per position
        _affine_rows(<const floating*>j.x, <const floating*>j.center, <const floating*>j.scale,
                     <const floating*>j.shift, <const floating*>j.r, j.relu, out, lo, hi,
                     j.C, j.L)
    elif j.op == AFFINE:  # planes lo to hi
        _affine_planes(<const floating*>j.x, <const floating*>j.center,
                       <const floating*>j.scale, <const floating*>j.shift,
                       <const floating*>j.r, j.relu, out, lo, hi, j.C, j.L)
    elif j.op == STATS:
        _stats(out, j, lo, hi)
    else:
        _norm_backward(out, j, lo, hi)


include "batch.pxi"


cdef void _run(Job* j, const floating[:, :, ::1] x, floating* out, int n_threads) noexcept:
    """Run the job: over the planes (n, c) for AFFINE, else over the channels."""
    cdef Py_ssize_t n = x.shape[0] * x.shape[1] if j.op == AFFINE else x.shape[1]
    j.f64, j.x, j.out = floating is double, &x[0, 0, 0], out
    j.N, j.C, j.L = x.shape[0], x.shape[1], x.shape[2]
    with nogil:
        run_batches(_batch, j, n, batch_size(n, n_threads, 4, 1), n_threads)


cdef bint _same(const floating[:, :, ::1] a, const floating[:, :, ::1] b) noexcept:
    return a.shape[0] == b.shape[0] and a.shape[1] == b.shape[1] and a.shape[2] == b.shape[2]


cdef int _affine(Job* j, const floating[:, :, ::1] x, const floating[::1] center,
                 const floating[::1] scale, const floating[::1] shift, floating[:, :, ::1] y,
                 bint relu, int n_threads) except -1:
    if (not _same(x, y) or center.shape[0] != x.shape[1] or scale.shape[0] != x.shape[1]
            or shift.shape[0] != x.shape[1]):
        raise ValueError("affine: array shapes do not agree")
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return 0
    cdef Py_ssize_t C = x.shape[1], L = x.shape[2], i
    cdef floating *per_position = NULL
    j.op, j.center, j.scale, j.shift, j.relu = AFFINE, &center[0], &scale[0], &shift[0], relu
    if L <= SMALL_PLANE:  # center, scale and shift repeated per position (see _affine_rows)
        per_position = <floating *> malloc(3 * C * L * sizeof(floating))
        if per_position == NULL:
            raise MemoryError()
        for i in range(C * L):
            per_position[i] = center[i // L]
            per_position[C * L + i] = scale[i // L]
            per_position[2 * C * L + i] = shift[i // L]
        j.center, j.scale, j.shift = per_position, per_position + C * L, per_position + 2 * C * L
        j.rows = True
    try:
        _run(j, x, &y[0, 0, 0], n_threads)
    finally:
        free(per_position)
    return 0


def affine(const floating[:, :, ::1] x, const floating[::1] center, const floating[::1] scale,
           const floating[::1] shift, floating[:, :, ::1] y, int n_threads, bint relu=False):
    cdef Job j
    memset(&j, 0, sizeof(Job))
    _affine(&j, x, center, scale, shift, y, relu, n_threads)


def affine_add(const floating[:, :, ::1] x, const floating[::1] center,
               const floating[::1] scale, const floating[::1] shift,
               const floating[:, :, ::1] residual,
               floating[:, :, ::1] y, bint relu, int n_threads):
    cdef Job j
    if not _same(x, residual):
        raise ValueError("affine_add: array shapes do not agree")
    memset(&j, 0, sizeof(Job))
    if residual.shape[0] * residual.shape[1] * residual.shape[2]:
        j.r = &residual[0, 0, 0]
    _affine(&j, x, center, scale, shift, y, relu, n_threads)


def batch_stats(const floating[:, :, ::1] x, floating[::1] mean, floating[::1] var,
                int n_threads):
    cdef Job j
    if mean.shape[0] != x.shape[1] or var.shape[0] != x.shape[1] or x.shape[0] * x.shape[2] < 1:
        raise ValueError("batch_stats: array shapes do not agree")
    if x.shape[1] == 0:
        return
    memset(&j, 0, sizeof(Job))
    j.op, j.out2 = STATS, &var[0]
    _run(&j, x, &mean[0], n_threads)


cdef int _backward(Job* j, const floating[:, :, ::1] g, const floating[:, :, ::1] x,
                   const floating[::1] mean, const floating[::1] inv_std,
                   const floating[::1] scale, floating[:, :, ::1] gx, floating[:, ::1] sums,
                   bint batch_stats, int n_threads) except -1:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2]
    if (not _same(g, x) or not _same(gx, x) or mean.shape[0] != C
            or inv_std.shape[0] != C or scale.shape[0] != C or sums.shape[0] != 2
            or sums.shape[1] != C or N * L < 1):
        raise ValueError("batch_norm_backward: array shapes do not agree")
    if C == 0:
        return 0
    j.op, j.batch_stats, j.g, j.out2 = NORM_BACKWARD, batch_stats, &g[0, 0, 0], &sums[0, 0]
    j.mean, j.inv_std, j.scale = &mean[0], &inv_std[0], &scale[0]
    _run(j, x, &gx[0, 0, 0], n_threads)
    return 0


def batch_norm_backward(const floating[:, :, ::1] g, const floating[:, :, ::1] x,
                        const floating[::1] mean, const floating[::1] inv_std,
                        const floating[::1] scale, floating[:, :, ::1] gx, floating[:, ::1] sums,
                        bint batch_stats, int n_threads):
    cdef Job j
    memset(&j, 0, sizeof(Job))
    _backward(&j, g, x, mean, inv_std, scale, gx, sums, batch_stats, n_threads)


def batch_norm_relu_backward(const floating[:, :, ::1] g, const floating[:, :, ::1] y,
                             const floating[:, :, ::1] x, const floating[::1] mean,
                             const floating[::1] inv_std, const floating[::1] scale,
                             floating[:, :, ::1] gm, floating[:, :, ::1] gx,
                             floating[:, ::1] sums, bint batch_stats, int n_threads):
    cdef Job j
    if not _same(y, x) or not _same(gm, x):
        raise ValueError("batch_norm_relu_backward: array shapes do not agree")
    memset(&j, 0, sizeof(Job))
    if x.shape[0] * x.shape[1] * x.shape[2]:
        j.y, j.gm = &y[0, 0, 0], &gm[0, 0, 0]
    _backward(&j, g, x, mean, inv_std, scale, gx, sums, batch_stats, n_threads)
