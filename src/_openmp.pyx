"""Reports how the compiled core was built (OpenMP or serial)."""
from _parallel cimport CONVCORE_OPENMP, convcore_omp_max_threads


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(CONVCORE_OPENMP)


def omp_max_threads():
    """The OpenMP runtime's default thread count (1 without OpenMP)."""
    return convcore_omp_max_threads()
