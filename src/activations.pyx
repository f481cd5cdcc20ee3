"""Element-wise activations and their gradients over flat C-contiguous arrays, each one parallel
pass (NumPy takes two or three passes and as many temporaries, on one thread).

- ``relu(x, y, n_threads)``: ``y = max(x, 0)`` as ``numpy.maximum(x, 0)`` (NaN stays NaN, -0
  gives 0). ``y`` may be ``x`` itself.
- ``relu_backward(g, y, gx, n_threads)``: ``gx = g * (not y <= 0)`` (the mask as 1 or 0, so an
  infinite or NaN ``g`` gives what NumPy gives; a NaN output passes ``g`` on, as in PyTorch).
- ``tanh(x, y, n_threads)``: ``y = tanh(x)`` by a vectorisable formula (src/c/tanh.h), within
  1.5 ulp of the exact value (NumPy's ``tanh`` is within about 1: the bits differ), saturating to
  exactly +-1, -0 and NaN kept. ``y`` may be ``x`` itself.
- ``tanh_backward(g, y, gx, n_threads)``: ``gx = g * (1 - y * y)``, rounded after every operation
  in that order, as NumPy computes it.

Every element is computed alone, so any thread count (and any build: AVX2, AVX-512, baseline)
gives the same bits, those of NumPy except for ``tanh``.
"""
from fused cimport floating
from parallel cimport batch_size, import_parallel, run_batches

import_parallel()

cdef extern from "c/tanh.h":
    # (x, out, n): out[i] = tanh(x[i]), i < n; out may be x
    void tanh_rows "convcore_tanh"(...) noexcept nogil

cdef enum Op:
    RELU
    RELU_BACKWARD
    TANH
    TANH_BACKWARD

ctypedef struct Job:
    Op op
    bint f64        # the arrays hold doubles (else floats)
    const void* a   # x, or g for the gradients
    const void* b   # y for the gradients
    void* out


cdef void _part(floating* out, const Job* j, Py_ssize_t lo, Py_ssize_t hi,
               int tid) noexcept nogil:
    """out[lo:hi] of the job's operation (`out` is j.out, typed)."""
    cdef const floating* a = <const floating*>j.a
    cdef const floating* b = <const floating*>j.b
    cdef floating one = 1, zero = 0, v
    cdef Py_ssize_t i
    if j.op == RELU:
        for i in range(lo, hi):
            v = a[i]
            # one unordered comparison (true for v > 0 and for NaN): a compare and a blend once
            # vectorised; `v > 0 or v != v` stayed a branch per element with -fno-trapping-math
            out[i] = v if not (v <= 0) else zero
    elif j.op == TANH:
        tanh_rows(a + lo, out + lo, hi - lo)
    elif j.op == RELU_BACKWARD:
        for i in range(lo, hi):
            out[i] = a[i] * (one if not (b[i] <= 0) else zero)
    else:
        for i in range(lo, hi):
            v = b[i] * b[i]
            v = one - v
            out[i] = a[i] * v


include "batch.pxi"


cdef int _run(Op op, str name, const floating[::1] a, const floating[::1] b, floating[::1] out,
              int n_threads) except -1:
    """out = op(a, b) after checking the sizes (relu reads a only)."""
    cdef Py_ssize_t n = a.shape[0]
    cdef Job j
    if out.shape[0] != n or b.shape[0] != n:
        raise ValueError(f"{name}: array sizes do not agree")
    if n == 0:
        return 0
    j.op, j.f64, j.a, j.b, j.out = op, floating is double, &a[0], &b[0], &out[0]
    with nogil:
        run_batches(_batch, &j, n, batch_size(n, n_threads, 4, 4096), n_threads)
    return 0


def relu(const floating[::1] x, floating[::1] y, int n_threads):
    _run(RELU, "relu", x, x, y, n_threads)


def relu_backward(const floating[::1] g, const floating[::1] y, floating[::1] gx, int n_threads):
    _run(RELU_BACKWARD, "relu_backward", g, y, gx, n_threads)


def tanh(const floating[::1] x, floating[::1] y, int n_threads):
    _run(TANH, "tanh", x, x, y, n_threads)


def tanh_backward(const floating[::1] g, const floating[::1] y, floating[::1] gx, int n_threads):
    _run(TANH_BACKWARD, "tanh_backward", g, y, gx, n_threads)
