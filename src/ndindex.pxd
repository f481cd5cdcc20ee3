# Multi-indices in C order, for kernels that walk an N-D kernel tap by tap (src/ordered.pyx,
# src/recheck.pyx).

cdef inline void next_index(Py_ssize_t* k, const Py_ssize_t* shape, int ndim) noexcept nogil:
    """Advance k (ndim entries) to the next index of an array of `shape` in C order (past the
    last one it wraps to all zeros)."""
    cdef int d = ndim - 1
    while d >= 0:
        k[d] += 1
        if k[d] < shape[d]:
            return
        k[d] = 0
        d -= 1
