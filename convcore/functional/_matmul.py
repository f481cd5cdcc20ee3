"""Row-major matrix products through the compiled core (src/_dense.pyx), shared by the dense
layer and the small-map convolutions."""
import numpy as np

from .._kernels import dense as _dense
from .._threads import blas_threads, threads_for

# Multiply-adds from which a product uses every thread: single-threaded GEMMs over blocks of
# output columns, spread over convcore's threads (see src/_dense.pyx for why not BLAS's own
# threads); waking a second thread costs more than a few million multiply-adds.
_PARALLEL_WORK = 1 << 24


def matmul(a, b, trans_a=False, trans_b=False):
    """``op(a) @ op(b)`` (``op`` a transpose where asked) as a new C-contiguous array."""
    m = a.shape[1] if trans_a else a.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    c = np.empty((m, n), dtype=a.dtype)
    with blas_threads(1):
        _dense.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b), c, trans_a, trans_b,
                      threads_for(m * n * k, _PARALLEL_WORK))
    return c
