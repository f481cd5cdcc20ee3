# The Winograd F(2x2, 3x3) transforms of whole tiles, in C (src/c/winograd.h, rendered from its
# Tempita template): C11 _Generic over the element type of their output, declared with `(...)` so
# that Cython hands the typed pointers through unchanged and the C compiler checks every argument
# against the chosen function.

cdef extern from "c/winograd.h":
    # (x0, x1, x2, x3, v, bv, n): v[xi * bv + b] = (B^T d B)[xi], n tiles of the input rows x0..x3
    void wino_in "convcore_wino_in"(...) noexcept nogil
    # (p, v, bv, C): v[xi * bv + c] = (B^T d B)[xi] of one tile, channels innermost: d[i][j] the
    # C values at p[4 * i + j]
    void wino_in_ci "convcore_wino_in_ci"(...) noexcept nogil
    # (m, bm, shift, y0, y1, n): the 2x2 outputs A^T m A + shift of n whole tiles, rows y0, y1
    void wino_out "convcore_wino_out"(...) noexcept nogil
    # (y0, y1, m, bm, n): m[xi * bm + b] = (A dy A^T)[xi], n whole 2x2 blocks of the rows y0, y1
    void wino_grad "convcore_wino_grad"(...) noexcept nogil
    # (k, u, n): u[xi * WINO_WB + b] = (G w_b G^T)[xi] of n <= WINO_WB kernels, tap j of kernel b
    # at k[j * WINO_WB + b]
    void wino_weights "convcore_wino_weights"(...) noexcept nogil
    enum: WINO_WB "CONVCORE_WINO_WB"
    # (m, bm, shift, y, ys, oH, oW, th, tw, n): the oH x oW outputs A^T m A + shift of n whole
    # images (y + img * ys), their th x tw tiles t at m[xi * bm + img * th * tw + t]
    void wino_out_images "convcore_wino_out_images"(...) noexcept nogil
    # (y, ys, m, bm, oH, oW, th, tw, n): m[xi * bm + ...] = (A dy A^T)[xi] of those tiles
    void wino_grad_images "convcore_wino_grad_images"(...) noexcept nogil
    # (p, bytes): a hint to fetch the cache lines of bytes at p (reads soon to come)
    void wino_prefetch "convcore_wino_prefetch"(const void *p, Py_ssize_t nbytes) noexcept nogil
