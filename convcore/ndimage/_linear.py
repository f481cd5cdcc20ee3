"""correlate1d, convolve1d, correlate and convolve with scipy.ndimage's signatures and results."""
import numbers

import numpy as np

from .._dask import dask_aware
from . import _engine
from ._support import (as_input, as_sequence, check_axes, check_axis, check_cval, check_origin,
                       get_output, mode_code)


def _weights(weights, name="weights"):
    w = np.asarray(weights)
    if w.dtype.kind in "OUS":   # objects and strings of numbers: SciPy reads them as float64
        w = w.astype(np.float64)
    if w.dtype.kind not in "biufc":
        raise TypeError(f"{name} must hold numbers, got dtype {w.dtype}")
    if w.size == 0:
        raise RuntimeError(f"no filter weights given: {name} has shape {w.shape}")
    return w


def _complex_split(func, input, weights, output, cval, **kw):
    """A filter with complex input or weights as real filters of the parts (SciPy's rule)."""
    if input.dtype.kind == "c" and weights.dtype.kind == "c":
        func(input.real, weights.real, output=output.real, cval=np.real(cval), **kw)
        output.real -= func(input.imag, weights.imag, cval=np.imag(cval), **kw)
        func(input.real, weights.imag, output=output.imag, cval=np.real(cval), **kw)
        output.imag += func(input.imag, weights.real, cval=np.imag(cval), **kw)
    elif input.dtype.kind == "c":
        func(input.real, weights, output=output.real, cval=np.real(cval), **kw)
        func(input.imag, weights, output=output.imag, cval=np.imag(cval), **kw)
    else:
        if np.iscomplexobj(cval):
            raise ValueError("Cannot provide a complex-valued cval when the input is real.")
        func(input, weights.real, output=output.real, cval=cval, **kw)
        func(input, weights.imag, output=output.imag, cval=cval, **kw)
    return output


@dask_aware()
def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """1-D correlation of every line of `input` along `axis` with `weights`.

    Same arguments and results as :func:`scipy.ndimage.correlate1d`, along `axis`:
    ``output[i] = sum_j weights[j] * input[i + j - len(weights) // 2 - origin]``
    with `input` extended by `mode` ('reflect', 'constant', 'nearest', 'mirror', 'wrap' and the
    ``'grid-*'`` aliases; 'constant' reads `cval`). Computed as SciPy does (see the package docstring
    for where float32 gives the same result); `output` (an array or a dtype, default the input's
    dtype) receives the result, integers truncated as in SciPy.

    Examples
    --------
    >>> from convcore import ndimage
    >>> ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    """
    input = as_input(input)
    weights = _weights(weights)
    if input.dtype.kind == "c" or weights.dtype.kind == "c":
        if weights.dtype.kind == "c":
            weights = weights.conj().astype(np.complex128)
        output = get_output(output, input, complex_output=True)
        return _complex_split(correlate1d, input, weights, output, cval, axis=axis, mode=mode,
                              origin=origin)
    if weights.ndim != 1:
        raise RuntimeError(f"no filter weights given: weights must be 1-D, got shape "
                           f"{weights.shape}")
    axis = check_axis(axis, input.ndim)
    origin = check_origin(origin, weights.size)
    code = mode_code(mode)
    cval = check_cval(cval, input)
    output = get_output(output, input)
    return _engine.line_correlate(input, weights, axis, output, code, cval, origin)


@dask_aware()
def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """1-D convolution of every line of `input` along `axis` with `weights`.

    Same as :func:`scipy.ndimage.convolve1d`: a correlation with the reversed weights, the origin
    mirrored (one more step for an even number of weights).

    Examples
    --------
    >>> from convcore import ndimage
    >>> ndimage.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    weights = _weights(weights)
    if weights.ndim == 1:    # correlate1d checks the rest in SciPy's order (axis, then origin)
        weights = weights[::-1]
        if isinstance(origin, numbers.Integral):   # a bool too: SciPy negates it
            origin = -int(origin) - (1 if weights.size % 2 == 0 else 0)
    if weights.dtype.kind == "c":
        weights = weights.conj()
    return correlate1d(input, weights, axis, output, mode, cval, origin)


def _correlate_nd(input, weights, output, mode, cval, origin, convolution, axes):
    input = as_input(input)
    weights = _weights(weights)
    if input.dtype.kind == "c" or weights.dtype.kind == "c":
        if weights.dtype.kind == "c" and not convolution:
            weights = weights.conj()
        output = get_output(output, input, complex_output=True)
        func = convolve if convolution else correlate
        return _complex_split(func, input, weights, output, cval, mode=mode, origin=origin,
                              axes=axes)
    axes = check_axes(axes, input.ndim)
    weights = np.asarray(weights, dtype=np.float64)
    # SciPy's footprint: taps with |w| <= DBL_EPSILON (and NaN taps) are left out of the sum
    kept = np.abs(weights) > np.finfo(np.float64).eps
    if not kept.all():
        weights = np.where(kept, weights, 0.0)
    if weights.ndim != len(axes):
        raise RuntimeError(f"weights.ndim ({weights.ndim}) must match len(axes) ({len(axes)})")
    origins = as_sequence(origin, len(axes), "origin")
    for o in origins:   # SciPy's N-D correlation refuses a bool (convolve negates it first)
        if isinstance(o, (bool, np.bool_)) and not convolution:
            raise TypeError(f"an integer is required: origin must not be a bool, got {o!r}")
    # as SciPy: the kernel's axes go to `axes` in increasing order, origins in the order given
    weights = np.expand_dims(weights, tuple(ax for ax in range(input.ndim) if ax not in axes))
    shape = list(weights.shape)
    full_origins = [0] * input.ndim
    # as SciPy: with every axis filtered the origins apply in axis order, whatever `axes` says
    for ax, o in zip(axes if len(axes) < input.ndim else range(input.ndim), origins):
        full_origins[ax] = o
    if convolution:
        weights = weights[(slice(None, None, -1),) * weights.ndim]
        full_origins = [-o - (1 if k % 2 == 0 else 0) for o, k in zip(full_origins, shape)]
    for o, k in zip(full_origins, shape):
        check_origin(o, k)
    if not isinstance(mode, str) and np.iterable(mode):
        raise RuntimeError(f"A sequence of modes is not supported, got {mode!r}")
    code = mode_code(mode)
    cval = check_cval(cval, input)
    output = get_output(output, input)
    return _engine.nd_correlate(input, weights, output, code, cval, full_origins)


@dask_aware()
def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """N-D correlation of `input` with `weights` (scipy.ndimage.correlate).

    ``output[i] = sum_k weights[k] * input[i + k - shape // 2 - origin]`` with `input` extended by
    `mode`; `axes` restricts the kernel to some axes (``weights.ndim == len(axes)``).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.correlate(np.arange(9.0).reshape(3, 3), np.ones((3, 3)), mode='constant')
    array([[ 8., 15., 12.],
           [21., 36., 27.],
           [20., 33., 24.]])
    """
    return _correlate_nd(input, weights, output, mode, cval, origin, False, axes)


@dask_aware()
def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None):
    """N-D convolution of `input` with `weights` (scipy.ndimage.convolve).

    A correlation with the kernel reversed along every axis and each origin mirrored.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.convolve(np.eye(3), [[0, 1], [0, 0]], mode='constant')
    array([[0., 1., 0.],
           [0., 0., 1.],
           [0., 0., 0.]])
    """
    return _correlate_nd(input, weights, output, mode, cval, origin, True, axes)
