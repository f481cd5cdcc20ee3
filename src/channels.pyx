"""Per-channel passes over an ``(N, C, L)`` array: batch normalisation's statistics, its affine
map and its gradient, each one parallel pass (NumPy takes three to five, on one thread).

- ``affine(x, scale, shift, y, n_threads)``: ``y[n, c, l] = x[n, c, l] * scale[c] + shift[c]``,
  the planes ``(n, c)`` spread over ``n_threads`` threads. ``y`` may be ``x`` itself.
- ``batch_stats(x, mean, var, n_threads)``: the mean and the biased variance of every channel
  over ``(n, l)``, summed in double (the mean first, then the squared deviations from it).
- ``batch_norm_backward(g, x, mean, inv_std, scale, gx, sums, batch_stats, n_threads)``: with
  ``xhat = (x - mean) * inv_std``, ``sums[0, c] = sum g`` and ``sums[1, c] = sum g * xhat``
  (the bias and weight gradients) and the input gradient ``gx = scale * (g - sums[0] / m - xhat *
  sums[1] / m)`` (``m = N * L``) when the statistics came from the batch, else ``scale * g``.

Channels are spread over the threads and every channel is summed in one fixed order, so the
results are the same bits on any number of threads. Sums run in LANES independent double
accumulators, which the compiler can keep in vector registers.
"""
from cython.parallel cimport prange

from fused cimport floating

cdef enum:
    LANES = 8


cdef void _affine_planes(const floating *x, const floating *scale, const floating *shift,
                         floating *y, Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t C,
                         Py_ssize_t L) noexcept nogil:
    """Planes p0 to p1 (plane p = n * C + c) of the affine map; the channel advances with the
    plane (a division per plane cost more than the plane itself on a 1x1 map)."""
    cdef Py_ssize_t p, l, c = p0 % C
    cdef floating s, b
    for p in range(p0, p1):
        s = scale[c]
        b = shift[c]
        for l in range(L):
            y[p * L + l] = x[p * L + l] * s + b
        c += 1
        if c == C:
            c = 0


def affine(const floating[:, :, ::1] x, const floating[::1] scale, const floating[::1] shift,
           floating[:, :, ::1] y, int n_threads):
    cdef Py_ssize_t part, C = x.shape[1], L = x.shape[2], P = x.shape[0] * x.shape[1]
    cdef Py_ssize_t parts = max(n_threads, 1)
    if (y.shape[0] != x.shape[0] or y.shape[1] != C or y.shape[2] != L
            or scale.shape[0] != C or shift.shape[0] != C):
        raise ValueError("affine: array shapes do not agree")
    if P * L == 0:
        return
    with nogil:
        for part in prange(parts, num_threads=parts, schedule="static", chunksize=1):
            _affine_planes(&x[0, 0, 0], &scale[0], &shift[0], &y[0, 0, 0], part * P // parts,
                           (part + 1) * P // parts, C, L)


cdef inline double _sum(const floating *a, Py_ssize_t L) noexcept nogil:
    """sum over l of a[l], in LANES accumulators added up at the end (in a fixed order)."""
    cdef double acc[LANES]
    cdef Py_ssize_t i, l, j, L0 = L - L % LANES
    if L < LANES:  # a small map (4x4 and less): no lanes to set up
        acc[0] = 0
        for l in range(L):
            acc[0] += a[l]
        return acc[0]
    for j in range(LANES):
        acc[j] = 0
    for i in range(L0 // LANES):
        l = i * LANES
        for j in range(LANES):
            acc[j] += a[l + j]
    for l in range(L0, L):
        acc[0] += a[l]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


cdef inline double _dot(const floating *a, double a_shift, const floating *b, double b_shift,
                 Py_ssize_t L) noexcept nogil:
    """sum over l of (a[l] - a_shift) * (b[l] - b_shift)."""
    cdef double acc[LANES]
    cdef Py_ssize_t i, l, j, L0 = L - L % LANES
    if L < LANES:
        acc[0] = 0
        for l in range(L):
            acc[0] += (a[l] - a_shift) * (b[l] - b_shift)
        return acc[0]
    for j in range(LANES):
        acc[j] = 0
    for i in range(L0 // LANES):
        l = i * LANES
        for j in range(LANES):
            acc[j] += (a[l + j] - a_shift) * (b[l + j] - b_shift)
    for l in range(L0, L):
        acc[0] += (a[l] - a_shift) * (b[l] - b_shift)
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


def batch_stats(const floating[:, :, ::1] x, floating[::1] mean, floating[::1] var,
                int n_threads):
    cdef Py_ssize_t n, c, N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef double m = N * L, s, mu
    if mean.shape[0] != C or var.shape[0] != C or N * L < 1:
        raise ValueError("batch_stats: array shapes do not agree")
    with nogil:
        for c in prange(C, num_threads=max(n_threads, 1), schedule="static"):
            s = 0
            for n in range(N):
                s = s + _sum(&x[n, c, 0], L)
            mu = s / m
            s = 0
            for n in range(N):
                s = s + _dot(&x[n, c, 0], mu, &x[n, c, 0], mu, L)
            mean[c] = <floating> mu
            var[c] = <floating> (s / m)


def batch_norm_backward(const floating[:, :, ::1] g, const floating[:, :, ::1] x,
                        const floating[::1] mean, const floating[::1] inv_std,
                        const floating[::1] scale, floating[:, :, ::1] gx, floating[:, ::1] sums,
                        bint batch_stats, int n_threads):
    cdef Py_ssize_t n, c, l, N = x.shape[0], C = x.shape[1], L = x.shape[2]
    cdef double sg, sgx, mu
    cdef floating k, a, b, mu_f
    if (g.shape[0] != N or g.shape[1] != C or g.shape[2] != L or gx.shape[0] != N
            or gx.shape[1] != C or gx.shape[2] != L or mean.shape[0] != C
            or inv_std.shape[0] != C or scale.shape[0] != C or sums.shape[0] != 2
            or sums.shape[1] != C or N * L < 1):
        raise ValueError("batch_norm_backward: array shapes do not agree")
    with nogil:
        for c in prange(C, num_threads=max(n_threads, 1), schedule="static"):
            mu = mean[c]
            sg = 0
            sgx = 0
            for n in range(N):
                sg = sg + _sum(&g[n, c, 0], L)
                sgx = sgx + _dot(&g[n, c, 0], 0, &x[n, c, 0], mu, L)
            sums[0, c] = <floating> sg
            sums[1, c] = <floating> (sgx * inv_std[c])
            # gx = k * g + a * (x - mean) + b, the batch terms folded into a and b
            k = scale[c]
            a = 0
            b = 0
            if batch_stats:
                a = <floating> (-scale[c] * inv_std[c] * inv_std[c] * sgx / (N * L))
                b = <floating> (-scale[c] * sg / (N * L))
            mu_f = mean[c]
            for n in range(N):
                for l in range(L):
                    gx[n, c, l] = k * g[n, c, l] + a * (x[n, c, l] - mu_f) + b
