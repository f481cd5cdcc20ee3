"""A faster drop-in for scipy.ndimage's linear filters: same names, arguments, dtypes and results.

Change ``from scipy import ndimage`` to ``from convcore import ndimage`` for::

    correlate, convolve, correlate1d, convolve1d, uniform_filter, uniform_filter1d,
    gaussian_filter, gaussian_filter1d, sobel, prewitt, laplace, gaussian_laplace,
    gaussian_gradient_magnitude

Every mode ('reflect', 'constant', 'nearest', 'mirror', 'wrap', 'grid-mirror', 'grid-constant',
'grid-wrap'; one per axis for the separable filters), `cval`, `origin`, `axes`, `output` (an array
or a dtype), `truncate` and `radius` work as in SciPy. float64 results are computed in double
precision in SciPy's order of operations, so they are SciPy's; float32 data with short kernels are
filtered in float32 (8 AVX2 lanes; within float32's 1e-5 of SciPy's result); integer images keep
their dtype with SciPy's truncation, bit for bit: in float32 where every sum is exact there
(integer weights) or, for other weights, with the few outputs that a float32 sum could truncate
otherwise recomputed in double in SciPy's order. Separable filters run as 1-D passes on the
compiled line kernel (``src/lines.pyx``), parallel over lines (:func:`convcore.set_num_threads`);
on 2-D images (Gaussian with short kernels, Sobel, Prewitt, uniform) both passes run in one sweep
over strips of rows (``src/separable2d.pyx``, ``src/uniform2d.pyx``). N-D kernels run in double
precision in SciPy's order (``src/ordered.pyx``: SciPy's float64 bits), or for float32 images
with small kernels and for small integers in float32 on the direct kernel (``src/direct.pyx``).

Examples
--------
>>> import numpy as np
>>> from convcore import ndimage
>>> ndimage.uniform_filter1d(np.array([0.0, 3.0, 0.0, 0.0]), 3)
array([1., 1., 1., 0.])
"""
from ._derivatives import gaussian_gradient_magnitude, gaussian_laplace, laplace, prewitt, sobel
from ._linear import convolve, convolve1d, correlate, correlate1d
from ._smooth import gaussian_filter, gaussian_filter1d, uniform_filter, uniform_filter1d

__all__ = ["convolve", "convolve1d", "correlate", "correlate1d", "gaussian_filter",
           "gaussian_filter1d", "gaussian_gradient_magnitude", "gaussian_laplace", "laplace",
           "prewitt", "sobel", "uniform_filter", "uniform_filter1d"]
