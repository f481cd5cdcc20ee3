"""Row-major matrix products through the compiled core (src/dense.pyx), shared by the dense
layer and the small-map convolutions."""
import numpy as np

from .._cpu import load
from .._threads import blas_threads, threads_for
from . import _scratch as scratch

_dense = load("dense")

# Multiply-adds from which a product uses every thread: single-threaded GEMMs over blocks of
# output columns, spread over convcore's threads (see src/_dense.pyx for why not BLAS's own
# threads); waking a second thread costs more than a few million multiply-adds.
_PARALLEL_WORK = 1 << 24
# Batch rows up to which ``x @ w^T`` (a dense layer's forward) runs by the kernel that reads
# each row of w once (src/c/dense_rows.h) rather than by GEMM, which packs w first. Besides the
# time (ms of one thread with AVX-512, busy machine, kernel against GEMM: 16x9216 by 4096x9216
# 19.5 against 53.4, 16x4096 by 4096x4096 7.7 against 25.8, 32x4096 by 4096x4096 25.4 against
# 48.0; us with AVX2, load 5: 20x8 by 16x8 6.6 against 17.4, 32x784 by 10x784 16.0 against 33.8,
# 32x120 by 84x120 27.7 against 32.4), the kernel sums each output the same way wherever its row
# lies in the batch, where OpenBLAS's GEMM on AVX2 rounds the rows of a partial block otherwise:
# scikit-learn's check that predictions do not depend on the samples' order (at rtol 1e-7)
# holds by it. Larger batches keep the GEMM (64x400 by 120x400: 118 us against 163).
SMALL_BATCH = 32


def matmul(a, b, trans_a=False, trans_b=False, grain=_PARALLEL_WORK):
    """``op(a) @ op(b)`` (``op`` a transpose where asked) as a new C-contiguous array, each
    thread given at least `grain` multiply-adds."""
    m = a.shape[1] if trans_a else a.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    c = np.empty((m, n), dtype=a.dtype)
    with blas_threads(1):
        _dense.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b), c, trans_a, trans_b,
                      threads_for(m * n * k, grain))
    return c


def linear_rows(x, w, bias=None, grain=_PARALLEL_WORK):
    """``x @ w.T + bias`` for a C-contiguous batch `x` of at most SMALL_BATCH rows, reading each
    row of `w` once; each output is summed the same way on any number of threads (each given at
    least `grain` multiply-adds)."""
    m, k = x.shape
    n = w.shape[0]
    y = np.empty((m, n), dtype=x.dtype)
    b = np.empty(0, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    _dense.rows(x, np.ascontiguousarray(w), b, y, threads_for(m * n * k, grain))
    return y


def linear_tap(x, weight, tap, bias=None, grain=_PARALLEL_WORK):
    """``x @ weight[:, :, tap].T + bias`` for a C-contiguous batch `x` (M, K) and a convolution's
    C-contiguous weights `weight` (N, K, taps): :func:`linear` with the tap's matrix, the same
    bits, read from `weight` in place (no copy of the tap written and read again). The tap of a
    3x3 layer's weights lies a ninth apart in memory, so taking it out is a pass over all of
    them; here each thread gathers only the block of rows it is about to multiply."""
    m, k = x.shape
    n, _, taps = weight.shape
    if m > SMALL_BATCH or taps == 1:  # (a GEMM, or a tap already contiguous)
        return linear(x, np.ascontiguousarray(weight[:, :, tap]), bias, grain)
    threads = threads_for(m * n * k, grain)
    y = np.empty((m, n), dtype=x.dtype)
    b = np.empty(0, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    buf = scratch.empty("dense_tap", (threads, _dense.ROW_BLOCK * k), x.dtype)
    _dense.rows_tap(x, weight, tap, b, y, buf, threads)
    return y


def linear(x, w, bias=None, grain=_PARALLEL_WORK):
    """``x @ w.T + bias`` for C-contiguous 2-D `x` and `w`: a batch of up to SMALL_BATCH rows
    reads each weight once (:func:`linear_rows`; each row's outputs the same bits wherever the
    row lies), a larger one is one GEMM; each thread given at least `grain` multiply-adds."""
    if x.shape[0] <= SMALL_BATCH:
        return linear_rows(x, w, bias, grain)
    y = matmul(x, w, trans_b=True, grain=grain)
    if bias is not None:
        y += bias
    return y
