# Window geometry shared by the convolution and pooling kernels. The Python layer passes it as an
# int64 array of shape (6, 3): input size, output size, kernel, stride, low-side padding and
# dilation, each over (D, H, W) (1-D and 2-D inputs have leading singleton axes).

# what a convolution engine's job computes (im2col's and the shifted GEMMs' jobs carry it)
cdef enum:
    FORWARD = 0
    INPUT_GRAD = 1
    WEIGHT_GRAD = 2


cdef struct Geometry:
    Py_ssize_t n_in[3]
    Py_ssize_t n_out[3]
    Py_ssize_t k[3]
    Py_ssize_t s[3]
    Py_ssize_t p[3]
    Py_ssize_t dil[3]
    Py_ssize_t plane    # D * H * W
    Py_ssize_t taps     # kd * kh * kw
    Py_ssize_t L        # oD * oH * oW
    bint pointwise      # 1x1x1 kernel, stride 1, no padding, output = input: the im2col matrix


cdef inline Geometry read_geometry(const long long[:, ::1] g) except *:
    cdef Geometry geo
    cdef int a
    if g.shape[0] != 6 or g.shape[1] != 3:
        raise ValueError(f"geometry must have shape (6, 3), got {(g.shape[0], g.shape[1])}")
    geo.plane = geo.taps = geo.L = 1
    geo.pointwise = True
    for a in range(3):
        geo.n_in[a] = g[0, a]
        geo.n_out[a] = g[1, a]
        geo.k[a] = g[2, a]
        geo.s[a] = g[3, a]
        geo.p[a] = g[4, a]
        geo.dil[a] = g[5, a]
        geo.plane *= geo.n_in[a]
        geo.taps *= geo.k[a]
        geo.L *= geo.n_out[a]
        # (a 1x1 kernel padded on the high side only has a larger output: not the input itself)
        if geo.k[a] != 1 or geo.s[a] != 1 or geo.p[a] != 0 or geo.n_out[a] != geo.n_in[a]:
            geo.pointwise = False
    return geo


cdef inline void valid_range(Py_ssize_t start, Py_ssize_t step, Py_ssize_t n, Py_ssize_t count,
                             Py_ssize_t *lo, Py_ssize_t *hi) noexcept nogil:
    """Outputs o in [lo, hi) for which start + o * step lies in [0, n); count outputs in all."""
    lo[0] = 0 if start >= 0 else (-start + step - 1) // step
    hi[0] = 0 if start >= n else (n - 1 - start) // step + 1
    if hi[0] > count:
        hi[0] = count
    if lo[0] > hi[0]:
        lo[0] = hi[0]
