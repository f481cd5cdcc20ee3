# OpenMP availability, known at C compile time (setup.py defines CONVCORE_OPENMP to 0 or 1).
# Kernels take the thread count as an argument decided in Python (convcore._threads), and pass it
# to prange(num_threads=...); without OpenMP, prange runs serially.
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
