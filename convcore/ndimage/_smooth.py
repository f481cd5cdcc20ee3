"""Uniform (box) and Gaussian filters as 1-D passes along each axis, like scipy.ndimage."""
import functools
import numbers

import numpy as np

from .._dask import dask_aware
from . import _engine
from ._linear import correlate1d
from ._support import (as_input, as_sequence, check_axes, check_axis, check_cval, check_origin,
                       get_output, mode_code)


@dask_aware()
def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    """Mean of `size` neighbours along `axis` (scipy.ndimage.uniform_filter1d).

    Runs as a running sum, in SciPy's order of operations, so results equal SciPy's.

    Examples
    --------
    >>> from convcore import ndimage
    >>> ndimage.uniform_filter1d([2, 8, 0, 4, 1, 9, 9, 0], size=3)
    array([4, 3, 4, 1, 4, 6, 6, 3])
    """
    input = as_input(input)
    axis = check_axis(axis, input.ndim)      # SciPy's order: axis, size, output, origin
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Integral):
        raise TypeError(f"size must be an integer, got {size!r}")
    size = int(size)
    if size < 1:
        raise RuntimeError(f"incorrect filter size: size must be positive, got {size}")
    output = get_output(output, input, complex_output=input.dtype.kind == "c")
    origin = check_origin(origin, size)
    code = mode_code(mode)
    cval = check_cval(cval, input)
    return _engine.line_uniform(input, size, axis, output, code, cval, origin)


@dask_aware()
def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *,
                   axes=None):
    """N-D mean filter: a :func:`uniform_filter1d` pass per axis (scipy.ndimage.uniform_filter).

    `size`, `mode` and `origin` may be given per axis (sequences of ``len(axes)``). As in SciPy,
    each pass is stored in the output's dtype before the next one.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.uniform_filter(np.arange(9.0).reshape(3, 3), size=3)
    array([[1.33333333, 2.        , 2.66666667],
           [3.33333333, 4.        , 4.66666667],
           [5.33333333, 6.        , 6.66666667]])
    """
    input = as_input(input)
    output = get_output(output, input, complex_output=input.dtype.kind == "c")
    axes = check_axes(axes, input.ndim)
    sizes = as_sequence(size, len(axes), "size")
    origins = as_sequence(origin, len(axes), "origin")
    modes = as_sequence(mode, len(axes), "mode")
    passes = [(ax, s, o, m) for ax, s, o, m in zip(axes, sizes, origins, modes) if s > 1]
    if not passes:
        output[...] = input
        return output
    if input.ndim == 2 and [p[0] for p in passes] == [0, 1]:
        sz = [int(p[1]) for p in passes]
        org = [check_origin(p[2], k) for p, k in zip(passes, sz)]
        codes = [mode_code(p[3]) for p in passes]
        if _engine.uniform_2d(input, sz, org, codes, output, check_cval(cval, input)):
            return output
    for axis, s, o, m in passes:
        uniform_filter1d(input, int(s), axis, output, m, cval, o)
        input = output
    return output


def gaussian_kernel1d(sigma, order, radius):
    """Weights of a sampled Gaussian (or its `order`-th derivative) on ``-radius..radius``.

    ``phi(x) = exp(-x**2 / (2 sigma**2))`` normalised to sum 1; a derivative multiplies `phi` by
    the polynomial ``q`` with ``q_0 = 1`` and ``q_{k+1} = q_k' - x q_k / sigma**2``.

    Examples
    --------
    >>> gaussian_kernel1d(1.0, 0, 1).round(4)
    array([0.2741, 0.4519, 0.2741])
    """
    order = _order(order)
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / sigma2 * x ** 2)
    phi = phi / phi.sum()
    if order == 0:
        return phi
    powers = np.arange(order + 1)
    # q as polynomial coefficients; one step: q' (derivative) plus q * (-x / sigma**2)
    step = np.diag(powers[1:], 1) + np.diag(np.ones(order) / -sigma2, -1)
    q = np.zeros(order + 1)
    q[0] = 1
    for _ in range(order):
        q = step.dot(q)
    return (x[:, None] ** powers).dot(q) * phi


def _radius(sigma, truncate, radius):
    if radius is not None:
        if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, numbers.Integral) \
                or radius < 0:
            raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
        return int(radius)
    lw = int(truncate * float(sigma) + 0.5)
    if lw < 0:
        raise ValueError(f"truncate * sigma must not be negative, got {truncate} * {sigma}")
    return lw


@dask_aware()
def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0,
                      truncate=4.0, *, radius=None):
    """1-D Gaussian filter along `axis` (scipy.ndimage.gaussian_filter1d).

    The kernel is :func:`gaussian_kernel1d` with radius ``int(truncate * sigma + 0.5)`` (or
    `radius`); `order` > 0 filters with a derivative of the Gaussian.

    Examples
    --------
    >>> from convcore import ndimage
    >>> ndimage.gaussian_filter1d([1.0, 2.0, 3.0, 4.0, 5.0], 1).round(4)
    array([1.427 , 2.0678, 3.    , 3.9322, 4.573 ])
    """
    weights = _weights(sigma, order, truncate, radius)
    return correlate1d(input, weights, axis, output, mode, cval, 0)


def _weights(sigma, order, truncate, radius):
    """The correlation weights of gaussian_filter1d (the kernel reversed; read-only)."""
    if isinstance(sigma, (str, bytes)):   # float() would read it; SciPy's arithmetic refuses it
        raise TypeError(f"sigma must be a number, got {sigma!r}")
    sigma = float(sigma)
    if sigma == 0:   # SciPy divides by sigma**2
        raise ZeroDivisionError("sigma must not be zero")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    radius = _radius(sigma, truncate, radius)  # (checked before order, as SciPy does)
    return _kept_weights(sigma, _order(order), radius)


def _order(order):
    """`order` checked, as an int (hashable: a key of the kept weights)."""
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, numbers.Integral):
        raise TypeError(f"order must be an integer, got {order!r}")
    if order < 0:
        raise ValueError(f"order must be non-negative, got {order}")
    return int(order)


@functools.lru_cache(maxsize=64)
def _kept_weights(sigma, order, radius):
    """_weights of checked arguments, kept: a filter called again and again (every frame of a
    video, every chunk of a dask array) computes its kernel once (an image of 2048x2048 takes
    1-3 ms; the kernel, its checks and plan took ~0.1 ms a call)."""
    w = np.ascontiguousarray(gaussian_kernel1d(sigma, order, radius)[::-1])
    w.flags.writeable = False
    return w


@functools.lru_cache(maxsize=64)
def _same_on_both_axes(sigma, order, mode, truncate):
    """(weights, mode code) of gaussian_filter's passes when `sigma`, `order` and `mode` are one
    value for both axes of a 2-D input (checked as the general path checks them)."""
    return _weights(sigma, order, truncate, None), mode_code(mode)


@dask_aware()
def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0,
                    *, radius=None, axes=None):
    """N-D Gaussian filter: a :func:`gaussian_filter1d` pass per axis (scipy.ndimage).

    `sigma`, `order`, `mode` and `radius` may be given per axis; axes with ``sigma <= 1e-15`` are
    skipped. Each pass is stored in the output's dtype, as in SciPy.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import ndimage
    >>> ndimage.gaussian_filter(np.eye(3), 1).round(3)
    array([[0.502, 0.329, 0.168],
           [0.329, 0.342, 0.329],
           [0.168, 0.329, 0.502]])
    """
    input = as_input(input)
    output = get_output(output, input)
    if (input.ndim == 2 and axes is None and radius is None and type(sigma) in (int, float)
            and type(order) is int and type(mode) is str and type(truncate) in (int, float)
            and sigma > 1e-15):
        # the usual call (one sigma, order and mode for both axes of an image): its weights and
        # mode code kept, so a call with cold caches does not run a dozen argument checks
        w, code = _same_on_both_axes(sigma, order, mode, truncate)
        if _engine.two_pass_2d(input, w, code, w, code, output, check_cval(cval, input),
                               rows_first=False):
            return output
    axes = check_axes(axes, input.ndim)
    n = len(axes)
    orders = as_sequence(order, n, "order")
    sigmas = as_sequence(sigma, n, "sigma")
    modes = as_sequence(mode, n, "mode")
    radii = as_sequence(radius, n, "radius")
    passes = [p for p in zip(axes, sigmas, orders, modes, radii) if p[1] > 1e-15]
    if not passes:
        output[...] = input
        return output
    if input.ndim == 2 and len(passes) == 2:
        (a0, s0, o0, m0, r0), (_, s1, o1, m1, r1) = passes
        w0, w1 = _weights(s0, o0, truncate, r0), _weights(s1, o1, truncate, r1)
        w_rows, w_cols = (w0, w1) if a0 == 0 else (w1, w0)
        mode_rows, mode_cols = (m0, m1) if a0 == 0 else (m1, m0)
        if _engine.two_pass_2d(input, w_rows, mode_code(mode_rows), w_cols, mode_code(mode_cols),
                               output, check_cval(cval, input), rows_first=a0 == 1):
            return output
    for axis, s, o, m, r in passes:
        gaussian_filter1d(input, s, axis, o, output, m, cval, truncate, radius=r)
        input = output
    return output
