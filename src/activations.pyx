"""Element-wise activations and their gradients over flat C-contiguous arrays, each one parallel
pass (NumPy takes two or three passes and as many temporaries, on one thread).

- ``relu(x, y, n_threads)``: ``y = max(x, 0)`` as ``numpy.maximum(x, 0)`` (NaN stays NaN, -0
  gives 0). ``y`` may be ``x`` itself.
- ``relu_backward(g, y, gx, n_threads)``: ``gx = g * (y > 0)`` (the mask as 1 or 0, so an infinite
  or NaN ``g`` gives what NumPy gives).
- ``tanh_backward(g, y, gx, n_threads)``: ``gx = g * (1 - y * y)``, rounded after every operation
  in that order, as NumPy computes it.

Every element is computed alone, so any thread count gives the same bits as NumPy.
"""
from cython.parallel cimport prange

from fused cimport floating


def relu(const floating[::1] x, floating[::1] y, int n_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef floating v
    if y.shape[0] != n:
        raise ValueError("relu: array sizes do not agree")
    with nogil:
        for i in prange(n, num_threads=max(n_threads, 1), schedule="static"):
            v = x[i]
            y[i] = v if (v > 0 or v != v) else 0


def relu_backward(const floating[::1] g, const floating[::1] y, floating[::1] gx, int n_threads):
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating one = 1, zero = 0
    if y.shape[0] != n or gx.shape[0] != n:
        raise ValueError("relu_backward: array sizes do not agree")
    with nogil:
        for i in prange(n, num_threads=max(n_threads, 1), schedule="static"):
            gx[i] = g[i] * (one if y[i] > 0 else zero)


def tanh_backward(const floating[::1] g, const floating[::1] y, floating[::1] gx, int n_threads):
    cdef Py_ssize_t i, n = g.shape[0]
    cdef floating one = 1, t
    if y.shape[0] != n or gx.shape[0] != n:
        raise ValueError("tanh_backward: array sizes do not agree")
    with nogil:
        for i in prange(n, num_threads=max(n_threads, 1), schedule="static"):
            t = y[i] * y[i]
            t = one - t
            gx[i] = g[i] * t
