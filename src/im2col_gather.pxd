# im2col's row gathers (src/c/im2col_gather.h, rendered from its Tempita template): one C
# function per dtype, and one fused entry that picks it, as blas.pxd picks sgemm or dgemm.
from fused cimport floating


cdef extern from "c/im2col_gather.h":
    void convcore_gather_rows_float(const float *src, float *dst, Py_ssize_t ld, Py_ssize_t kw,
                                    Py_ssize_t W, Py_ssize_t w0, Py_ssize_t dil,
                                    Py_ssize_t stride, Py_ssize_t run) noexcept nogil
    void convcore_gather_rows_double(const double *src, double *dst, Py_ssize_t ld,
                                     Py_ssize_t kw, Py_ssize_t W, Py_ssize_t w0, Py_ssize_t dil,
                                     Py_ssize_t stride, Py_ssize_t run) noexcept nogil


cdef inline void gather(const floating *src, floating *dst, Py_ssize_t ld, Py_ssize_t kw,
                        Py_ssize_t W, Py_ssize_t w0, Py_ssize_t dil, Py_ssize_t stride,
                        Py_ssize_t run) noexcept nogil:
    """Row l of dst (rows ld apart) = src[w0 + l * dil + stride * n] for n in [0, run), zero
    outside [0, W); stride 1 or 2."""
    if floating is float:
        convcore_gather_rows_float(src, dst, ld, kw, W, w0, dil, stride, run)
    else:
        convcore_gather_rows_double(src, dst, ld, kw, W, w0, dil, stride, run)
