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
from cython.parallel cimport prange
from libc.string cimport memset

from fused cimport floating


def expand(const floating[:, :, ::1] w, const long long[:, ::1] tap, floating[:, ::1] m,
           int n_threads):
    cdef Py_ssize_t o, c, p, q, C_out = w.shape[0], C_in = w.shape[1]
    cdef Py_ssize_t L_out = tap.shape[0], L_in = tap.shape[1]
    cdef long long t
    if m.shape[0] != C_out * L_out or m.shape[1] != C_in * L_in:
        raise ValueError("expand: array shapes do not agree")
    with nogil:
        for o in prange(C_out, num_threads=max(n_threads, 1), schedule="static"):
            for p in range(L_out):
                for c in range(C_in):
                    for q in range(L_in):
                        t = tap[p, q]
                        m[o * L_out + p, c * L_in + q] = w[o, c, t] if t >= 0 else 0


def fold(const floating[:, ::1] dm, const long long[:, ::1] tap, floating[:, :, ::1] dw,
         int n_threads):
    cdef Py_ssize_t o, c, p, q, C_out = dw.shape[0], C_in = dw.shape[1], T = dw.shape[2]
    cdef Py_ssize_t L_out = tap.shape[0], L_in = tap.shape[1]
    cdef long long t
    if dm.shape[0] != C_out * L_out or dm.shape[1] != C_in * L_in:
        raise ValueError("fold: array shapes do not agree")
    if C_in * T == 0:
        return
    with nogil:
        for o in prange(C_out, num_threads=max(n_threads, 1), schedule="static"):
            memset(&dw[o, 0, 0], 0, C_in * T * sizeof(floating))
            for p in range(L_out):
                for c in range(C_in):
                    for q in range(L_in):
                        t = tap[p, q]
                        if t >= 0:
                            dw[o, c, t] += dm[o * L_out + p, c * L_in + q]
