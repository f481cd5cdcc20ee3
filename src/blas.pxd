# Row-major GEMM over float/double through SciPy's BLAS (no link step): C = alpha*op(A)@op(B) + beta*C.
# BLAS is column-major, so a row-major product is computed as C^T = op(B)^T @ op(A)^T by swapping
# the operands. Header-only (inline), so every kernel module gets its own copy and no runtime import.
from scipy.linalg.cython_blas cimport sgemm, dgemm

from fused cimport floating


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating *a, int lda,
                      const floating *b, int ldb,
                      floating beta, floating *c, int ldc) noexcept nogil:
    """Row-major C[m, n] = alpha * op(A)[m, k] @ op(B)[k, n] + beta * C; ld* are row strides."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if m <= 0 or n <= 0:
        return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float *> b, &ldb, <float *> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double *> b, &ldb, <double *> a, &lda, &beta, c, &ldc)
