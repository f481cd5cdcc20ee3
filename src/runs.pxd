# Short runs of values (an image row, a tile row) copied, added or zeroed inline, no call: the
# runs are a few to a few hundred values, where a call to memcpy/memset costs more than the loop.
from fused cimport floating


cdef inline void add_run(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    """dst[:n] += src[:n] (separate arrays: a loop the compiler vectorises)."""
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] += src[i]


cdef inline void zero_run(floating *dst, Py_ssize_t n) noexcept nogil:
    """dst[:n] = 0."""
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] = 0
