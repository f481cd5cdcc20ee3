# The C of the depthwise kernels (src/depthwise.pyx), in src/c/depthwise_wide.h (rendered from its
# Tempita template): C11 _Generic over the element type, declared with `(...)` so that Cython
# hands the typed pointers through unchanged and the C compiler checks every argument.

cdef extern from "c/depthwise_wide.h":
    # (pad, wide, n, w, off, taps, shift): wide[q] = shift + sum_t w[t] * pad[q + off[t]], q < n
    void dw_taps "convcore_dw_taps"(...) noexcept nogil
