"""One description of a filtering job, shared by the direct, separable and FFT engines.

Every public convolution of :mod:`convcore.signal` becomes a correlation::

    out[o] = sum over k of  w[k] * X[start + o * stride + k]

with ``X`` the input ``x`` extended by an edge rule (a code of ``src/modes.pxd``, ``cval`` for the
constant rule). A convolution passes its kernel reversed, a correlation passes it conjugated; the
``mode`` of SciPy only sets ``start`` and the output shape. Engines take a :class:`Plan` and return
the result in ``plan.result`` dtype, so the choice between them never changes the interface.
"""
import functools
import math
from dataclasses import dataclass

import numpy as np


@dataclass
class Plan:
    x: np.ndarray          # input (any dtype; engines convert)
    w: np.ndarray          # correlation weights, same ndim as x
    start: tuple           # input coordinate of w[0, ...] for out[0, ...], per axis
    shape: tuple           # output shape at stride 1
    stride: tuple          # output step per axis (>= 1)
    boundary: int          # edge-rule code
    cval: object           # constant for MODE_CONSTANT, a scalar of dtype `result`
    result: np.dtype       # dtype of the returned array

    @functools.cached_property
    def out_shape(self):
        """Shape of the strided result (``result_at_stride_1[::s0, ::s1, ...]``; computed once:
        a plan is not changed after it is made)."""
        return tuple(-(-m // s) for m, s in zip(self.shape, self.stride))

    @property
    def taps(self):
        return int(self.w.size)

    @property
    def outputs(self):
        return math.prod(self.out_shape)
