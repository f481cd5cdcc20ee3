"""A faster drop-in for scipy.signal's convolutions: same names, arguments, results and dtypes.

Change ``from scipy import signal`` to ``from convcore import signal``::

    convolve2d(in1, in2, mode='full', boundary='fill', fillvalue=0, stride=1)
    correlate2d(in1, in2, mode='full', boundary='fill', fillvalue=0, stride=1)
    convolve(in1, in2, mode='full', method='auto', stride=1)
    correlate(in1, in2, mode='full', method='auto', stride=1)
    fftconvolve(in1, in2, mode='full', axes=None, stride=1)
    oaconvolve(in1, in2, mode='full', axes=None, stride=1)
    choose_conv_method(in1, in2, mode='full', measure=False, stride=1)

``stride`` (not in SciPy) gives ``result[::s0, ::s1, ...]`` without computing the skipped outputs
in the direct methods. The work is done by a compiled direct kernel (edges handled in place,
parallel over rows with :func:`convcore.set_num_threads`), by separable 1-D passes for rank-1 float
filters, or by ``scipy.fft`` with worker threads, chosen by a measured cost model.

Examples
--------
The lecture's moving average of width 5 on a 1-D array:

>>> import numpy as np
>>> from convcore import signal
>>> signal.convolve(np.arange(8.0), np.full(5, 0.2), mode='valid')
array([2., 3., 4., 5.])
"""
from ._convolve import choose_conv_method, convolve, convolve2d, correlate, correlate2d
from ._fftconvolve import fftconvolve, oaconvolve

__all__ = ["choose_conv_method", "convolve", "convolve2d", "correlate", "correlate2d",
           "fftconvolve", "oaconvolve"]
