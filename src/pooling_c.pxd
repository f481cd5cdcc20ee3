# The C of the pooling kernels (src/pooling.pyx), in src/c/pool_wide.h (rendered from its Tempita
# template): C11 _Generic over the element type, declared with `(...)` so that Cython hands the
# typed pointers through unchanged and the C compiler checks every argument.

cdef extern from "c/pool_wide.h":
    # (pad, wide, n, off, taps): wide[q] = the first largest of pad[q + off[t]], q < n
    void max_taps "convcore_max_taps"(...) noexcept nogil
