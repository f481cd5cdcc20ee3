# Images laid out batch innermost and back (src/c/batch_inner.h): C11 _Generic over the element
# type, declared with `(...)` so the C compiler checks the typed pointers.
cdef extern from "c/batch_inner.h":
    # (src, dst, nb, C, L, places, pos):
    # dst[(c * places + pos[q]) * nb + b] = src[(b * C + c) * L + q]; pos NULL: q itself
    void to_batch_inner "convcore_to_batch_inner"(...) noexcept nogil
    # (src, dst, nb, C, L, places, pos, bias):
    # dst[(b * C + c) * L + q] = src[(c * places + pos[q]) * nb + b] + bias[c]; NULL: none
    void from_batch_inner "convcore_from_batch_inner"(...) noexcept nogil
