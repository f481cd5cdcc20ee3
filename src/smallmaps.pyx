"""A convolution over small feature maps as one dense matrix: the map from an image's ``C_in x
L_in`` inputs to its ``C_out x L_out`` outputs, ``M[o * L_out + p, c * L_in + q] = w[o, c,
tap[p, q]]`` (zero where no tap joins output position p to input position q).

On maps smaller than the kernel (a 3x3 layer on 2x2 maps, the third stage of a ResNet on 32x32
images) im2col multiplies mostly padding; the dense matrix holds only the pairs that meet, and the
whole batch is one GEMM with it (its transpose for the input gradient).

- ``expand(w, tap, m, n_threads)``: ``w`` (C_out, C_in, T), ``tap`` (L_out, L_in) tap indices or
  -1, ``m`` (C_out * L_out, C_in * L_in) written whole.
- ``fold(dm, tap, dw, n_threads)``: the weight gradient from the gradient of ``m``: ``dw[o, c, t]
  = sum of dm[o * L_out + p, c * L_in + q] over the (p, q) with tap[p, q] == t``, summed in the
  order of (p, q), so any thread count gives the same bits.
"""
from libc.string cimport memset

from fused cimport floating
from parallel cimport import_parallel, run_batches

import_parallel()

ctypedef struct Job:
    bint f64, fold   # fold (else expand)
    const void* src  # w to expand, dm to fold
    void* out        # m, dw
    const long long* tap
    Py_ssize_t C_in, L_out, L_in, T


cdef void _part(floating* dst, const Job* j, Py_ssize_t o0, Py_ssize_t o1,
               int tid) noexcept nogil:
    """Output channels o0 to o1 of expand or fold (`dst` is j.out, typed). Expand runs a tap
    (input position) at a time over the channels, a strided copy without a lookup per value (the
    dense matrix of a 3x3 layer on 2x2 maps, or its centre tap alone: 512 x 512 channels 295 -> 187
    us on one thread, min of 300, busy machine)."""
    cdef const floating* src = <const floating*>j.src
    cdef const floating* s
    cdef floating* d
    cdef Py_ssize_t o, c, p, q, C_in = j.C_in, L_out = j.L_out, L_in = j.L_in, T = j.T
    cdef Py_ssize_t row = C_in * L_in  # m's and dm's row length
    cdef long long t
    if not j.fold:
        for o in range(o0, o1):
            for p in range(L_out):
                d = dst + (o * L_out + p) * row
                for q in range(L_in):
                    t = j.tap[p * L_in + q]
                    if t < 0:
                        for c in range(C_in):
                            d[c * L_in + q] = 0
                    else:
                        s = src + o * C_in * T + t
                        for c in range(C_in):
                            d[c * L_in + q] = s[c * T]
        return
    for o in range(o0, o1):
        memset(dst + o * C_in * T, 0, C_in * T * sizeof(floating))
        for p in range(L_out):
            for c in range(C_in):
                for q in range(L_in):
                    t = j.tap[p * L_in + q]
                    if t >= 0:
                        dst[(o * C_in + c) * T + t] += src[(o * L_out + p) * row + c * L_in + q]


include "batch.pxi"


cdef void _run(bint fold, const floating* src, floating* dst, const long long[:, ::1] tap,
               Py_ssize_t C_out, Py_ssize_t C_in, Py_ssize_t T, int n_threads):
    cdef Job j
    j.f64, j.fold, j.src, j.out = floating is double, fold, src, dst
    j.tap = &tap[0, 0] if tap.shape[0] * tap.shape[1] else NULL
    j.C_in, j.L_out, j.L_in, j.T = C_in, tap.shape[0], tap.shape[1], T
    with nogil:
        run_batches(_batch, &j, C_out, 1, n_threads)


def expand(const floating[:, :, ::1] w, const long long[:, ::1] tap, floating[:, ::1] m,
           int n_threads):
    cdef Py_ssize_t C_out = w.shape[0], C_in = w.shape[1], T = w.shape[2]
    if m.shape[0] != C_out * tap.shape[0] or m.shape[1] != C_in * tap.shape[1]:
        raise ValueError("expand: array shapes do not agree")
    if m.shape[0] * m.shape[1]:  # (no weight at all: every tap is -1, m all zero)
        _run(False, &w[0, 0, 0] if C_out * C_in * T else NULL, &m[0, 0], tap, C_out, C_in, T,
             n_threads)


def fold(const floating[:, ::1] dm, const long long[:, ::1] tap, floating[:, :, ::1] dw,
         int n_threads):
    cdef Py_ssize_t C_out = dw.shape[0], C_in = dw.shape[1], T = dw.shape[2]
    if dm.shape[0] != C_out * tap.shape[0] or dm.shape[1] != C_in * tap.shape[1]:
        raise ValueError("fold: array shapes do not agree")
    if C_out * C_in * T:  # (no map position: dw zeroed, nothing read)
        _run(True, &dm[0, 0] if dm.shape[0] * dm.shape[1] else NULL, &dw[0, 0, 0], tap, C_out,
             C_in, T, n_threads)
