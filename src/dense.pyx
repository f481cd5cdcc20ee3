"""Matrix products of the dense (fully connected) layers, spread over OpenMP threads.

``matmul(a, b, c, trans_a, trans_b, n_threads)``: ``c[M, N] = op(a) @ op(b)``, row-major, with
``op`` a transpose where asked. The columns of ``c`` are cut into blocks of ``BLOCK`` (a fixed
width, so the result is the same bits on any number of threads) that the threads take in turn,
each block one single-threaded GEMM through SciPy's BLAS. A product of fewer than ``BLOCK``
columns and more rows (a small-map convolution's ``M @ x^T``: the dense matrix against a batch of
32 images) is cut into blocks of ``BLOCK`` rows instead, so that it still spreads over the threads.

Why not BLAS's own threads: a dense layer's product is wide and flat (a batch of 16 against 4096 x
9216 weights), which OpenBLAS splits poorly, and its worker threads spin between calls against the
convolution kernels' OpenMP threads. Measured, AlexNet's classifier on 16 images, 2 threads on the
shared machine: 243 ms per forward with OpenBLAS's threads, 61 ms on one thread.
"""
from cython.parallel cimport prange

from blas cimport gemm
from fused cimport floating

cdef enum:
    BLOCK = 256


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
           bint trans_a, bint trans_b, int n_threads):
    cdef Py_ssize_t M = a.shape[1] if trans_a else a.shape[0]
    cdef Py_ssize_t K = a.shape[0] if trans_a else a.shape[1]
    cdef Py_ssize_t N = b.shape[0] if trans_b else b.shape[1]
    cdef Py_ssize_t Kb = b.shape[1] if trans_b else b.shape[0]
    cdef Py_ssize_t blocks = (N + BLOCK - 1) // BLOCK, blk, j0, width
    cdef const floating *b0
    cdef const floating *a0
    if Kb != K or c.shape[0] != M or c.shape[1] != N:
        raise ValueError("matmul: array shapes do not agree")
    if M == 0 or N == 0:
        return
    if N < BLOCK < M:  # tall and narrow: blocks of rows (the choice depends on the shapes only)
        blocks = (M + BLOCK - 1) // BLOCK
        with nogil:
            for blk in prange(blocks, num_threads=max(n_threads, 1), schedule="dynamic"):
                j0 = blk * BLOCK
                width = min(<Py_ssize_t> BLOCK, M - j0)
                # the block's first row of op(a): a column of a when transposed, else a row
                a0 = &a[0, j0] if trans_a else &a[j0, 0]
                gemm(trans_a, trans_b, width, N, K, 1, a0, a.shape[1], &b[0, 0], b.shape[1], 0,
                     &c[j0, 0], N)
        return
    with nogil:
        for blk in prange(blocks, num_threads=max(n_threads, 1), schedule="dynamic"):
            j0 = blk * BLOCK
            width = min(<Py_ssize_t> BLOCK, N - j0)
            # the block's first column of op(b): a row of b when transposed, else a column
            b0 = &b[j0, 0] if trans_b else &b[0, j0]
            gemm(trans_a, trans_b, M, width, K, 1, &a[0, 0], a.shape[1], b0, b.shape[1], 0,
                 &c[0, j0], N)
