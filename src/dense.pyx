"""Matrix products of the dense (fully connected) layers, spread over the helper threads.

``matmul(a, b, c, trans_a, trans_b, n_threads)``: ``c[M, N] = op(a) @ op(b)``, row-major, with
``op`` a transpose where asked. The columns of ``c`` are cut into blocks of ``BLOCK`` (a fixed
width, so the result is the same bits on any number of threads) that the threads take in turn,
each block one single-threaded GEMM through SciPy's BLAS. A product of fewer than ``BLOCK``
columns and more rows (a small-map convolution's ``M @ x^T``: the dense matrix against a batch of
32 images) is cut into blocks of ``BLOCK`` rows instead, so that it still spreads over the threads.

``rows(x, w, bias, y, n_threads)``: ``y[M, N] = x @ w^T + bias`` for a small batch ``M`` (a dense
layer's forward), reading each row of ``w`` once (src/c/dense_rows.h): blocks of the rows of ``w``
(the columns of ``y``) over the threads, each output summed the same way on any number of them.
``rows_tap(x, wt, tap, bias, y, buf, n_threads)``: the same with ``w = wt[:, :, tap]`` read in
place from a convolution's weights ``wt`` (N, K, T), a block of rows at a time into the calling
thread's row of ``buf`` (threads, DR_RB * K): the same bits as copying the tap out first.

Why not BLAS's own threads: a dense layer's product is wide and flat (a batch of 16 against 4096 x
9216 weights), which OpenBLAS splits poorly, and its worker threads spin between calls against the
convolution kernels' threads. Measured, AlexNet's classifier on 16 images, 2 threads on the
shared machine: 243 ms per forward with OpenBLAS's threads, 61 ms on one thread.
"""
from blas cimport gemm
from dense_c cimport DR_RB, dense_rows, dense_rows_tap
from fused cimport floating
from parallel cimport batch_size, import_parallel, run_batches

import_parallel()

cdef enum:
    BLOCK = 256

ctypedef struct Job:
    bint f64, trans_a, trans_b
    bint by_rows            # blocks of rows of c (else of columns)
    bint direct             # rows(): blocks of DR_RB rows of b (columns of c), no GEMM
    const void* a
    const void* b
    const void* bias        # rows(): the bias, or NULL
    void* out
    void* buf               # rows_tap(): a row of DR_RB * K values per thread, else NULL
    Py_ssize_t M, N, K, lda, ldb
    Py_ssize_t T, tap       # rows_tap(): taps per weight and the one read


cdef void _part(floating* c, const Job* j, Py_ssize_t lo, Py_ssize_t hi,
               int tid) noexcept nogil:
    """Blocks lo to hi of c (`c` is j.out, typed): one single-threaded GEMM each."""
    cdef const floating* a = <const floating*>j.a
    cdef const floating* b = <const floating*>j.b
    cdef Py_ssize_t blk, j0, width
    if j.direct and j.buf != NULL:
        dense_rows_tap(a, j.M, j.K, b, j.T, j.tap, <const floating*>j.bias, c, j.N, lo * DR_RB,
                       min(hi * DR_RB, j.N), <floating*>j.buf + tid * DR_RB * j.K)
        return
    if j.direct:
        dense_rows(a, j.M, j.K, b, <const floating*>j.bias, c, j.N, lo * DR_RB,
                   min(hi * DR_RB, j.N))
        return
    for blk in range(lo, hi):
        j0 = blk * BLOCK
        if j.by_rows:
            width = min(<Py_ssize_t> BLOCK, j.M - j0)
            # the block's first row of op(a): a column of a when transposed, else a row
            gemm(j.trans_a, j.trans_b, width, j.N, j.K, 1, a + j0 if j.trans_a else a + j0 * j.lda,
                 j.lda, b, j.ldb, 0, c + j0 * j.N, j.N)
        else:
            width = min(<Py_ssize_t> BLOCK, j.N - j0)
            # the block's first column of op(b): a row of b when transposed, else a column
            gemm(j.trans_a, j.trans_b, j.M, width, j.K, 1, a, j.lda,
                 b + j0 * j.ldb if j.trans_b else b + j0, j.ldb, 0, c + j0, j.N)


include "batch.pxi"

ROW_BLOCK = DR_RB  # weight rows per block (the rows of rows_tap's buf hold DR_RB * K values)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c,
           bint trans_a, bint trans_b, int n_threads):
    cdef Job j
    j.M = a.shape[1] if trans_a else a.shape[0]
    j.K = a.shape[0] if trans_a else a.shape[1]
    j.N = b.shape[0] if trans_b else b.shape[1]
    cdef Py_ssize_t Kb = b.shape[1] if trans_b else b.shape[0]
    if Kb != j.K or c.shape[0] != j.M or c.shape[1] != j.N:
        raise ValueError("matmul: array shapes do not agree")
    if j.M == 0 or j.N == 0:
        return
    j.f64, j.trans_a, j.trans_b, j.direct = floating is double, trans_a, trans_b, False
    j.a, j.b, j.out, j.lda, j.ldb = &a[0, 0], &b[0, 0], &c[0, 0], a.shape[1], b.shape[1]
    # tall and narrow: blocks of rows (the choice depends on the shapes only)
    j.by_rows = j.N < BLOCK < j.M
    with nogil:
        run_batches(_batch, &j, ((j.M if j.by_rows else j.N) + BLOCK - 1) // BLOCK, 1, n_threads)


def rows(const floating[:, ::1] x, const floating[:, ::1] w, const floating[::1] bias,
         floating[:, ::1] y, int n_threads):
    cdef Job j
    j.M, j.K, j.N = x.shape[0], x.shape[1], w.shape[0]
    if (w.shape[1] != j.K or y.shape[0] != j.M or y.shape[1] != j.N
            or bias.shape[0] not in (0, j.N)):
        raise ValueError("rows: array shapes do not agree")
    if j.M == 0 or j.N == 0:
        return
    j.f64, j.direct, j.out, j.buf = floating is double, True, &y[0, 0], NULL
    j.a = &x[0, 0] if j.K else NULL
    j.b = &w[0, 0] if j.K else NULL
    j.bias = &bias[0] if bias.shape[0] else NULL
    cdef Py_ssize_t blocks = (j.N + DR_RB - 1) // DR_RB
    with nogil:  # a few batches per thread: a thread held up on a busy machine is caught up
        run_batches(_batch, &j, blocks, batch_size(blocks, n_threads, 4, 1), n_threads)


def rows_tap(const floating[:, ::1] x, const floating[:, :, ::1] wt, Py_ssize_t tap,
             const floating[::1] bias, floating[:, ::1] y, floating[:, ::1] buf, int n_threads):
    cdef Job j
    j.M, j.K, j.N, j.T = x.shape[0], x.shape[1], wt.shape[0], wt.shape[2]
    if (wt.shape[1] != j.K or y.shape[0] != j.M or y.shape[1] != j.N
            or bias.shape[0] not in (0, j.N) or not 0 <= tap < j.T):
        raise ValueError("rows_tap: array shapes do not agree")
    if n_threads < 1 or buf.shape[0] < n_threads or buf.shape[1] < DR_RB * j.K:
        raise ValueError("rows_tap: buf must have a row of DR_RB * K values per thread")
    if j.M == 0 or j.N == 0:
        return
    j.f64, j.direct, j.out, j.tap = floating is double, True, &y[0, 0], tap
    j.a = &x[0, 0] if j.K else NULL
    j.b = &wt[0, 0, 0] if j.K else NULL
    j.buf = &buf[0, 0] if j.K else &y[0, 0]  # (not NULL: it selects this kernel; nothing gathered)
    j.bias = &bias[0] if bias.shape[0] else NULL
    cdef Py_ssize_t blocks = (j.N + DR_RB - 1) // DR_RB
    with nogil:  # as rows(): blocks of DR_RB weight rows, a few batches per thread
        run_batches(_batch, &j, blocks, batch_size(blocks, n_threads, 4, 1), n_threads)
