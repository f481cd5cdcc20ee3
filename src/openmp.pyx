"""Reports how the compiled core was built (OpenMP or serial)."""
from cython.parallel cimport prange, threadid

cdef extern from *:
    """
    #if CONVCORE_OPENMP
    #include <omp.h>
    static int convcore_omp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int convcore_omp_max_threads(void) { return 1; }
    #endif
    """
    int CONVCORE_OPENMP
    int convcore_omp_max_threads() noexcept nogil


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CONVCORE_OPENMP)


def omp_max_threads():
    """The OpenMP runtime's default thread count (1 without OpenMP)."""
    return convcore_omp_max_threads()


def team_size(int n_threads):
    """How many threads a kernel's ``prange(num_threads=n_threads)`` actually runs on (at most 256)."""
    cdef int seen[256]
    cdef Py_ssize_t i
    cdef int count = 0
    n_threads = min(max(n_threads, 1), 256)
    for i in range(256):
        seen[i] = 0
    with nogil:
        for i in prange(256, num_threads=n_threads, schedule="static", chunksize=1):
            seen[threadid()] = 1
    for i in range(256):
        count += seen[i]
    return count
