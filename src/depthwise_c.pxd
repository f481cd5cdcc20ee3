# The C of the depthwise kernels (src/depthwise.pyx), in src/c/depthwise_wide.h (rendered from its
# Tempita template): C11 _Generic over the element type, declared with `(...)` so that Cython
# hands the typed pointers through unchanged and the C compiler checks every argument.

cdef extern from "c/depthwise_wide.h":
    # (pad, wide, n, w, off, taps, shift): wide[q] = shift + sum_t w[t] * pad[q + off[t]], q < n
    void dw_taps "convcore_dw_taps"(...) noexcept nogil

cdef extern from "c/depthwise_small.h":
    # (x, y, C, plane, L, wt, bias, pstart, pin, ptap, xt, yt): one image of small planes,
    # channels innermost; yt[p][c] = bias[c] + sum over k in [pstart[p], pstart[p + 1]) of
    # wt[ptap[k]][c] * xt[pin[k]][c] (bias may be NULL); xt, yt scratch of plane x C, L x C
    void dw_small "convcore_dw_small"(...) noexcept nogil
