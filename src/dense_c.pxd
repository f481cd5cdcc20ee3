# The C of the small-batch dense product (src/dense.pyx), in src/c/dense_rows.h (rendered from its
# Tempita template): C11 _Generic over the element type, declared with `(...)` so that Cython
# hands the typed pointers through unchanged and the C compiler checks every argument.

cdef extern from "c/dense_rows.h":
    # weight rows per block
    int DR_RB "CC_DR_RB"
    # (x, M, K, w, bias or NULL, y, N, o0, o1): columns o0..o1-1 of y = x @ w^T + bias
    void dense_rows "convcore_dense_rows"(...) noexcept nogil
    # (x, M, K, wt, T, tap, bias or NULL, y, N, o0, o1, buf): as dense_rows with w[o, k] =
    # wt[(o * K + k) * T + tap], each block gathered into buf (DR_RB * K values) first
    void dense_rows_tap "convcore_dense_rows_tap"(...) noexcept nogil
