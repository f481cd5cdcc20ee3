# The Winograd F(2x2, 3x3) transforms of whole tiles (src/c/winograd.h, rendered from its Tempita
# template): one C function per dtype, and one fused entry each that picks it, as blas.pxd picks
# sgemm or dgemm.
from fused cimport floating


cdef extern from "c/winograd.h":
    void convcore_wino_in_float(const float *x0, const float *x1, const float *x2,
                                const float *x3, float *v, Py_ssize_t bv,
                                Py_ssize_t n) noexcept nogil
    void convcore_wino_in_double(const double *x0, const double *x1, const double *x2,
                                 const double *x3, double *v, Py_ssize_t bv,
                                 Py_ssize_t n) noexcept nogil
    void convcore_wino_out_float(const float *m, Py_ssize_t bm, float shift, float *y0, float *y1,
                                 Py_ssize_t n) noexcept nogil
    void convcore_wino_out_double(const double *m, Py_ssize_t bm, double shift, double *y0,
                                  double *y1, Py_ssize_t n) noexcept nogil
    void convcore_wino_grad_float(const float *y0, const float *y1, float *m, Py_ssize_t bm,
                                  Py_ssize_t n) noexcept nogil
    void convcore_wino_grad_double(const double *y0, const double *y1, double *m, Py_ssize_t bm,
                                   Py_ssize_t n) noexcept nogil


cdef inline void wino_in(const floating *x0, const floating *x1, const floating *x2,
                         const floating *x3, floating *v, Py_ssize_t bv,
                         Py_ssize_t n) noexcept nogil:
    """v[xi * bv + b] = (B^T d B)[xi] for the n tiles b of the input rows x0..x3."""
    if floating is float:
        convcore_wino_in_float(x0, x1, x2, x3, v, bv, n)
    else:
        convcore_wino_in_double(x0, x1, x2, x3, v, bv, n)


cdef inline void wino_out(const floating *m, Py_ssize_t bm, floating shift, floating *y0,
                          floating *y1, Py_ssize_t n) noexcept nogil:
    """The 2x2 outputs A^T m A + shift of n whole tiles into the output rows y0, y1."""
    if floating is float:
        convcore_wino_out_float(m, bm, shift, y0, y1, n)
    else:
        convcore_wino_out_double(m, bm, shift, y0, y1, n)


cdef inline void wino_grad(const floating *y0, const floating *y1, floating *m, Py_ssize_t bm,
                           Py_ssize_t n) noexcept nogil:
    """m[xi * bm + b] = (A dy A^T)[xi] for the n whole 2x2 blocks of the rows y0, y1."""
    if floating is float:
        convcore_wino_grad_float(y0, y1, m, bm, n)
    else:
        convcore_wino_grad_double(y0, y1, m, bm, n)
