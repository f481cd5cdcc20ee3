# The address of an array's data for the kernels' entry points, without NumPy's Python code.
from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBuffer_Release, PyObject_GetBuffer


cdef inline char* address(array) except? NULL:
    """The first byte of a contiguous array, through the buffer protocol (NumPy's
    ``array.ctypes.data`` runs Python code, and a typed memoryview builds an object: each
    ~10-30 us a call once the caches are cold between calls). The caller holds `array` while the
    kernel uses the address."""
    cdef Py_buffer view
    cdef char* p
    PyObject_GetBuffer(array, &view, PyBUF_ANY_CONTIGUOUS)
    p = <char*>view.buf
    PyBuffer_Release(&view)
    return p
