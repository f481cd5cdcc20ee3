"""Extended-precision inputs (``np.longdouble`` / ``np.clongdouble``) go to SciPy's own function.

convcore's kernels and transforms compute in at most double precision; SciPy's direct kernels and
scipy.fft keep the extra bits, so a drop-in hands such calls to SciPy (and applies `stride` to its
result) rather than return fewer digits than the caller asked for.
"""
import functools
import inspect

import numpy as np
import scipy.signal

from ._options import check_stride


def _extended(x):
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.asarray(x).dtype
    return dtype.kind in "fc" and dtype.itemsize > (8 if dtype.kind == "f" else 16)


def extended_to_scipy(func):
    """Decorate a public function of convcore.signal: extended-precision inputs run SciPy's."""
    peer = getattr(scipy.signal, func.__name__)
    signature = inspect.signature(func)

    @functools.wraps(func)
    def call(in1, in2, *args, **kwargs):
        if not (_extended(in1) or _extended(in2)):
            return func(in1, in2, *args, **kwargs)
        arguments = signature.bind(in1, in2, *args, **kwargs).arguments
        stride = arguments.pop("stride", 1)
        out = peer(**arguments)
        if isinstance(out, np.ndarray) and out.ndim:
            out = out[tuple(slice(None, None, s) for s in check_stride(stride, out.ndim))]
        return out
    return call
