# One output channel's row of weights reordered tap by tap (src/c/tap_order.h): C11 _Generic
# over the element type, declared with `(...)` so the C compiler checks the typed pointers.
cdef extern from "c/tap_order.h":
    # (src, dst, C, T): dst[t * C + c] = src[c * T + t]
    void tap_order "convcore_tap_order"(...) noexcept nogil
