"""What the filtering kernel modules on line buffers (lines, separable2d, uniform2d, correlate2d,
recheck, box8) share at the Python level: the codes of their arrays' dtypes and the per-thread work
areas kept between calls, one cache for all of them (so no memory is allocated in the hot path).
"""
import threading

import numpy as np

cdef extern from "c/line_convert.h":
    const char* CL_DTYPE_NAMES

#: {dtype: code} of the arrays the kernels read and write, in the order of src/c/line_convert.h
CODES = {np.dtype(name): code for code, name in enumerate(CL_DTYPE_NAMES.decode().split())}

#: work areas up to this many doubles (8 MiB) are kept for the next call; larger ones are not
KEEP_SCRATCH = 1 << 20

_local = threading.local()


def work_area(Py_ssize_t n_threads, Py_ssize_t per_thread):
    """(area, per): a float64 array with a slot of ``per >= per_thread`` doubles for each thread,
    every slot starting on a 64-byte line once the area is aligned (8 spare doubles), kept between
    calls of the calling Python thread."""
    per_thread = (per_thread + 7) // 8 * 8
    need = n_threads * per_thread + 8
    cache = getattr(_local, "scratch", None)
    if cache is None or cache.shape[0] < need:
        cache = np.empty(need, dtype=np.float64)
        if need <= KEEP_SCRATCH:
            _local.scratch = cache
    return cache, per_thread


def array_codes(x, out):
    """(code of ``x``'s dtype, code of ``out``'s) for two C-contiguous arrays the kernels read and
    write; ValueError or TypeError otherwise."""
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("x and out must be C-contiguous")
    if x.dtype not in CODES or out.dtype not in CODES:
        raise TypeError(f"unsupported dtypes {x.dtype} -> {out.dtype}")
    return CODES[x.dtype], CODES[out.dtype]
