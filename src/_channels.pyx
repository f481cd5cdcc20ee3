"""Per-channel affine map of an ``(N, C, L)`` array in one pass: BatchNorm in evaluation mode.

- ``affine(x, scale, shift, y, n_threads)``: ``y[n, c, l] = x[n, c, l] * scale[c] + shift[c]``,
  the planes ``(n, c)`` spread over ``n_threads`` threads. ``y`` may be ``x`` itself.

NumPy needs two passes over the data (a product, then a sum) on one thread; this is one.
"""
from cython.parallel cimport prange

from _fused cimport floating


def affine(const floating[:, :, ::1] x, const floating[::1] scale, const floating[::1] shift,
           floating[:, :, ::1] y, int n_threads):
    cdef Py_ssize_t p, l, n, c, C = x.shape[1], L = x.shape[2]
    cdef floating s, b
    if (y.shape[0] != x.shape[0] or y.shape[1] != C or y.shape[2] != L
            or scale.shape[0] != C or shift.shape[0] != C):
        raise ValueError("affine: array shapes do not agree")
    with nogil:
        for p in prange(x.shape[0] * C, num_threads=max(n_threads, 1), schedule="static"):
            n = p // C
            c = p - n * C
            s = scale[c]
            b = shift[c]
            for l in range(L):
                y[n, c, l] = x[n, c, l] * s + b
