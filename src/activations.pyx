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
from fused cimport floating
from parallel cimport batch_size, import_parallel, run_batches

import_parallel()

cdef enum Op:
    RELU
    RELU_BACKWARD
    TANH_BACKWARD

ctypedef struct Job:
    Op op
    bint f64        # the arrays hold doubles (else floats)
    const void* a   # x, or g for the gradients
    const void* b   # y for the gradients
    void* out


cdef void _elements(floating* out, const Job* j, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """out[lo:hi] of the job's operation (`out` is j.out, typed)."""
    cdef const floating* a = <const floating*>j.a
    cdef const floating* b = <const floating*>j.b
    cdef floating one = 1, zero = 0, v
    cdef Py_ssize_t i
    if j.op == RELU:
        for i in range(lo, hi):
            v = a[i]
            out[i] = v if (v > 0 or v != v) else zero
    elif j.op == RELU_BACKWARD:
        for i in range(lo, hi):
            out[i] = a[i] * (one if b[i] > 0 else zero)
    else:
        for i in range(lo, hi):
            v = b[i] * b[i]
            v = one - v
            out[i] = a[i] * v


cdef void _batch(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    cdef const Job* j = <const Job*>ctx
    if j.f64:
        _elements(<double*>j.out, j, lo, hi)
    else:
        _elements(<float*>j.out, j, lo, hi)


cdef void _run(Op op, const floating* a, const floating* b, floating* out, Py_ssize_t n,
               int n_threads) noexcept nogil:
    cdef Job j
    j.op, j.f64, j.a, j.b, j.out = op, floating is double, a, b, out
    run_batches(_batch, &j, n, batch_size(n, n_threads, 4, 4096), n_threads)


def relu(const floating[::1] x, floating[::1] y, int n_threads):
    cdef Py_ssize_t n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError("relu: array sizes do not agree")
    if n:
        with nogil:
            _run(RELU, &x[0], <floating*>NULL, &y[0], n, n_threads)


def relu_backward(const floating[::1] g, const floating[::1] y, floating[::1] gx, int n_threads):
    cdef Py_ssize_t n = g.shape[0]
    if y.shape[0] != n or gx.shape[0] != n:
        raise ValueError("relu_backward: array sizes do not agree")
    if n:
        with nogil:
            _run(RELU_BACKWARD, &g[0], &y[0], &gx[0], n, n_threads)


def tanh_backward(const floating[::1] g, const floating[::1] y, floating[::1] gx, int n_threads):
    cdef Py_ssize_t n = g.shape[0]
    if y.shape[0] != n or gx.shape[0] != n:
        raise ValueError("tanh_backward: array sizes do not agree")
    if n:
        with nogil:
            _run(TANH_BACKWARD, &g[0], &y[0], &gx[0], n, n_threads)
