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


# TEMPORARY (im2col branch only, until the runner's pool lands in integ): the contract's
# run_batches over an OpenMP prange, so the kernels already written against it build and run.
from cython.parallel cimport prange, threadid

ctypedef void (*batch_fn)(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil


cdef inline int run_batches(batch_fn fn, void *ctx, Py_ssize_t n, Py_ssize_t batch,
                            int threads) noexcept nogil:
    cdef Py_ssize_t i
    if threads <= 1:
        fn(ctx, 0, n, 0)
        return 1
    for i in prange((n + batch - 1) // batch, num_threads=threads, schedule="dynamic"):
        fn(ctx, i * batch, (i + 1) * batch if (i + 1) * batch < n else n, threadid())
    return threads
