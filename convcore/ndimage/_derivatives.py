"""Derivative filters of scipy.ndimage: sobel, prewitt, laplace and the Gaussian derivatives."""
import numpy as np

from .._dask import dask_aware
from . import _engine
from ._linear import correlate1d
from ._smooth import gaussian_filter
from ._support import (as_input, as_sequence, check_axes, check_axis, check_cval, get_output,
                       mode_code)


def _gradient(input, axis, output, mode, cval, smooth):
    input = as_input(input)
    axis = check_axis(axis, input.ndim)
    output = get_output(output, input)
    modes = as_sequence(mode, input.ndim, "mode")
    if input.ndim == 2:
        diff = [-1.0, 0.0, 1.0]
        w_rows, w_cols = (diff, smooth) if axis == 0 else (smooth, diff)
        if _engine.two_pass_2d(input, w_rows, mode_code(modes[0]), w_cols, mode_code(modes[1]),
                               output, check_cval(cval, input), rows_first=axis == 1):
            return output
    correlate1d(input, [-1, 0, 1], axis, output, modes[axis], cval, 0)
    for ax in range(input.ndim):
        if ax != axis:
            correlate1d(output, smooth, ax, output, modes[ax], cval, 0)
    return output


@dask_aware()
def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0):
    """Sobel derivative along `axis`: [-1, 0, 1] there, smoothed by [1, 2, 1] along the others.

    As scipy.ndimage.sobel (each pass stored in the output's dtype; `mode` may be per axis).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.sobel(np.array([[0.0, 0, 1, 1]] * 3), axis=1)
    array([[0., 4., 4., 0.],
           [0., 4., 4., 0.],
           [0., 4., 4., 0.]])
    """
    return _gradient(input, axis, output, mode, cval, [1, 2, 1])


@dask_aware()
def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0):
    """Prewitt derivative along `axis`: [-1, 0, 1] there, [1, 1, 1] along the others.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.prewitt(np.array([[0.0, 0, 1, 1]] * 3), axis=1)
    array([[0., 3., 3., 0.],
           [0., 3., 3., 0.],
           [0., 3., 3., 0.]])
    """
    return _gradient(input, axis, output, mode, cval, [1, 1, 1])


def _laplace_sum(input, derivative2, output, mode, cval, axes):
    """sum over `axes` of derivative2(axis), accumulated in the output's dtype (SciPy's rule)."""
    input = as_input(input)
    output = get_output(output, input)
    axes = check_axes(axes, input.ndim)
    if not axes:
        output[...] = input
        return output
    modes = as_sequence(mode, len(axes), "mode")
    derivative2(input, axes[0], output, modes[0], cval)
    for ax, m in zip(axes[1:], modes[1:]):
        output += derivative2(input, ax, output.dtype, m, cval)
    return output


@dask_aware()
def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None):
    """Discrete Laplacian: the sum over axes of [1, -2, 1] (scipy.ndimage.laplace).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.laplace(np.array([0.0, 0, 1, 0, 0]))
    array([ 0.,  1., -2.,  1.,  0.])
    """
    def second(x, axis, out, m, c):
        return correlate1d(x, [1, -2, 1], axis, out, m, c, 0)
    return _laplace_sum(input, second, output, mode, cval, axes)


def _sigma_per_axis(sigma, axes, ndim):
    sig = as_sequence(sigma, len(axes), "sigma")
    full = [0.0] * ndim
    for ax, s in zip(axes, sig):
        full[ax] = s
    return full


@dask_aware()
def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None,
                     **kwargs):
    """Laplacian of Gaussian: sum over axes of the second Gaussian derivative (scipy.ndimage).

    `kwargs` (truncate, radius) go to :func:`gaussian_filter`.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.gaussian_laplace(np.array([0.0, 0, 1, 0, 0]), 1).round(3)
    array([ 0.197,  0.002, -0.399,  0.002,  0.197])
    """
    input = as_input(input)
    checked = check_axes(axes, input.ndim)
    sig = _sigma_per_axis(sigma, checked, input.ndim)

    def second(x, axis, out, m, c):
        order = [0] * x.ndim
        order[axis] = 2
        return gaussian_filter(x, sig, order, out, m, c, **kwargs)
    return _laplace_sum(input, second, output, mode, cval, checked)


@dask_aware()
def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *,
                                axes=None, **kwargs):
    """Gradient magnitude with Gaussian derivatives (scipy.ndimage.gaussian_gradient_magnitude).

    ``sqrt(sum over axes of (d/dx_axis G_sigma * input)**2)``, squares summed in the output's
    dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.gaussian_gradient_magnitude(np.array([0.0, 0, 1, 1, 1]), 1).round(3)
    array([0.108, 0.363, 0.364, 0.122, 0.013])
    """
    input = as_input(input)
    output = get_output(output, input)
    axes = check_axes(axes, input.ndim)
    if not axes:
        output[...] = input
        return output
    modes = as_sequence(mode, len(axes), "mode")

    def first(axis, out, m):
        order = [0] * input.ndim
        order[axis] = 1
        return gaussian_filter(input, sigma, order, out, m, cval, **kwargs)
    first(axes[0], output, modes[0])
    np.multiply(output, output, output)
    for ax, m in zip(axes[1:], modes[1:]):
        tmp = first(ax, output.dtype, m)
        np.multiply(tmp, tmp, tmp)
        output += tmp
    np.sqrt(output, output, casting="unsafe")
    return output
