# im2col's row gathers, in C (src/c/im2col_gather.h, rendered from its Tempita template): C11
# _Generic over the element type of dst, declared with `(...)` so that Cython hands the typed
# pointers through unchanged and the C compiler checks every argument against the chosen function.

cdef extern from "c/im2col_gather.h":
    # (src, dst, ld, kw, W, w0, dil, stride, run): row l of dst (rows ld apart) =
    # src[w0 + l * dil + stride * n] for n in [0, run), zero outside [0, W); stride 1 or 2
    void gather "convcore_gather_rows"(...) noexcept nogil
