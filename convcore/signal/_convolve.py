"""convolve, correlate (N-D, with `method`), convolve2d and correlate2d (with `boundary`).

Each function checks its arguments as SciPy does, builds a :class:`~._plan.Plan` (the correlation
that gives its result) and hands it to the engine the cost model picks (``_method.choose``).
"""
import timeit
import warnings

import numpy as np
import scipy.signal

from .._dask import dask_aware
from .._modes import MODE_CONSTANT
from ._direct import run_direct, run_separable
from ._extended import extended_to_scipy
from ._dtypes import fill_scalar, result_dtype
from ._fft import run_fft
from ._fftconvolve import run_oa
from ._method import choose
from ._options import (boundary_code, check_method, check_mode, check_not_empty, check_stride,
                       conv_start, corr2d_start, out_shape, valid_swap_needed)
from ._plan import Plan
from ._tiles import run_tiles


#: result dtypes that SciPy's N-D direct kernels (and convolve2d) refuse
_NO_SCIPY_KERNEL = (np.dtype(np.bool_), np.dtype(np.float16))


def _reverse(a):
    return a[(slice(None, None, -1),) * a.ndim]


def _conj(a):
    return np.conj(a) if a.dtype.kind == "c" else a


def execute(plan, method, leave_out=False):
    """Run `plan` with the engine `method` allows and the cost model prefers (`leave_out`: see
    :func:`~._direct.run_direct`)."""
    engine, factors = choose(plan, method)
    if engine in ("fft", "oa", "tiles"):
        out = {"fft": run_fft, "oa": run_oa, "tiles": run_tiles}[engine](plan)
        if out.size and out.dtype.kind in "fc" and not np.isfinite(out[(0,) * out.ndim]):
            warnings.warn("Use of fft convolution on input with NAN or inf results in NAN or inf "
                          "output. Consider using method='direct' instead.",
                          category=RuntimeWarning, stacklevel=3)
        return out
    if engine == "separable":
        return run_separable(plan, factors)
    return run_direct(plan, leave_out)


def _conv_plan(volume, kernel, mode, stride, result):
    """The plan of convolve(volume, kernel, mode) at `stride` (inputs already ordered for 'valid')."""
    return Plan(x=volume, w=_reverse(kernel), start=conv_start(mode, kernel.shape),
                shape=out_shape(mode, volume.shape, kernel.shape), stride=stride,
                boundary=MODE_CONSTANT, cval=result.type(0), result=result)


def _zeros(shape, stride, result, value=0):
    return np.full(tuple(-(-n // s) for n, s in zip(shape, stride)), value, dtype=result)


def _empty_nd(volume, kernel, mode, stride, result):
    """SciPy's answer when an input of convolve / correlate is empty: zeros (no term to add) of
    the mode's shape where its N-D direct path gives one, else a ValueError as it raises. (Its
    1-D path is NumPy's, which refuses empty inputs; its N-D path zero-pads the larger input to
    the full shape, which works when every axis fits or has length 1.)"""
    numpy_path = volume.ndim == 1 and (mode != "same" or volume.size >= kernel.size)
    if mode == "valid":
        if not numpy_path:
            if valid_swap_needed(mode, volume.shape, kernel.shape):
                volume, kernel = kernel, volume
            return _zeros(out_shape(mode, volume.shape, kernel.shape), stride, result)
    elif not numpy_path:
        full = out_shape("full", volume.shape, kernel.shape)
        padded = kernel if mode == "full" and kernel.size > volume.size else volume
        if all(n <= f or n == 1 for n, f in zip(padded.shape, full)):
            return _zeros(full if mode == "full" else volume.shape, stride, result)
    check_not_empty(volume, kernel)


def _nd(volume, kernel, mode, method, stride):
    """Shared body of convolve / correlate once `kernel` is the convolution kernel."""
    result = result_dtype(volume, kernel)
    # SciPy's direct path for 1-D inputs is NumPy's, which never multiplies the zero padding;
    # its N-D direct kernel has no bool or float16 version (nor has its convolve2d)
    numpy_path = volume.ndim == 1 and (mode != "same" or volume.size >= kernel.size)
    if result in _NO_SCIPY_KERNEL and not numpy_path and method != "fft":
        if method == "direct" or scipy.signal.choose_conv_method(volume, kernel, mode) == "direct":
            raise ValueError(f"Unsupported type: {result} inputs of more than one dimension "
                             "need method='fft' (as in SciPy)")
    if volume.size == 0 or kernel.size == 0:
        return _empty_nd(volume, kernel, mode, stride, result)
    if valid_swap_needed(mode, volume.shape, kernel.shape):
        volume, kernel = kernel, volume
    return execute(_conv_plan(volume, kernel, mode, stride, result), method, numpy_path)


@dask_aware()
@extended_to_scipy
def convolve(in1, in2, mode="full", method="auto", stride=1):
    """Convolve two N-dimensional arrays (scipy.signal.convolve plus `stride`).

    Parameters
    ----------
    in1, in2 : array_like
        Inputs with the same number of dimensions (0-d included).
    mode : {'full', 'valid', 'same'}, optional
        'full': the whole convolution; 'valid': only outputs that need no zero padding (one input
        must be at least as large as the other in every dimension); 'same': the size of `in1`,
        centred as SciPy centres it.
    method : {'auto', 'direct', 'fft'}, optional
        'direct' sums the products (exact for integers; a separable float kernel runs as one 1-D
        pass per axis), 'fft' uses the FFT (integers rounded), 'auto' picks the fastest by a cost
        model and never loses integer exactness.
    stride : int or tuple of int, optional
        Output step per axis; the result equals ``convolve(in1, in2, mode)[::s0, ::s1, ...]`` and
        only those outputs are computed by the direct methods.

    Returns
    -------
    out : ndarray
        dtype ``numpy.result_type(in1, in2)`` (bool inputs give bool).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import signal
    >>> signal.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> signal.convolve(np.arange(5, dtype=np.int8), [1, 1], mode='valid', stride=2)
    array([1, 5])
    """
    volume, kernel = np.asarray(in1), np.asarray(in2)
    check_mode(mode)
    check_method(method)
    if volume.ndim == kernel.ndim == 0:
        check_stride(stride, 0)
        return volume * kernel
    if volume.ndim != kernel.ndim:
        raise ValueError("volume and kernel should have the same dimensionality; got "
                         f"in1.ndim={volume.ndim}, in2.ndim={kernel.ndim}")
    stride = check_stride(stride, volume.ndim)
    return _nd(volume, kernel, mode, method, stride)


@dask_aware()
@extended_to_scipy
def correlate(in1, in2, mode="full", method="auto", stride=1):
    """Cross-correlate two N-dimensional arrays (scipy.signal.correlate plus `stride`).

    ``z[k] = sum_l in1[l] * conj(in2[l - k + N - 1])`` in 'full' mode: the convolution of `in1`
    with `in2` reversed and conjugated. Arguments, modes and result dtype as :func:`convolve`.

    Examples
    --------
    >>> from convcore import signal
    >>> signal.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0.5, 2. , 3.5, 3. , 0. ])
    >>> signal.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], mode='same')
    array([2. , 3.5, 3. ])
    """
    a, b = np.asarray(in1), np.asarray(in2)
    check_mode(mode)
    check_method(method)
    if a.ndim == b.ndim == 0:
        check_stride(stride, 0)
        return a * _conj(b)
    if a.ndim != b.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality; got "
                         f"in1.ndim={a.ndim}, in2.ndim={b.ndim}")
    stride = check_stride(stride, a.ndim)
    result_dtype(a, b)
    return _nd(a, _conj(_reverse(b)), mode, method, stride)


def _check_2d(name, in1, in2):
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays; got shapes {in1.shape} and "
                         f"{in2.shape}")


def _empty_2d(in1, in2, mode, code, cval, stride, result):
    """SciPy's answer when an input of convolve2d / correlate2d is empty: the usual output shape,
    each output the sum of its taps over the fill value (zeros without taps). SciPy 1.17 dies
    with SIGFPE on an empty `in1` with the 'wrap' and 'symm' rules: that is refused here."""
    if in1.size == 0 and code != MODE_CONSTANT:
        check_not_empty(in1, in2)
    if valid_swap_needed(mode, in1.shape, in2.shape):
        in1, in2 = in2, in1
    value = 0
    if in2.size and mode == "full":     # every tap reads the fill value
        with np.errstate(over="ignore"):
            value = (np.asarray(in2).astype(result) * cval).sum(dtype=result)
    return _zeros(out_shape(mode, in1.shape, in2.shape), stride, result, value)


def _fill(boundary, fillvalue, result):
    if result in _NO_SCIPY_KERNEL:
        raise ValueError(f"convolve2d not available for this type. ({result} result: convert "
                         "an input to a wider dtype)")
    code = boundary_code(boundary)
    if code == MODE_CONSTANT:
        return code, fill_scalar(fillvalue, result)
    return code, result.type(0)


@dask_aware()
@extended_to_scipy
def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, stride=1):
    """Convolve two 2-D arrays with an edge rule (scipy.signal.convolve2d plus `stride`).

    Parameters
    ----------
    in1, in2 : array_like
        2-D inputs.
    mode : {'full', 'valid', 'same'}, optional
        Output size, as in :func:`convolve`.
    boundary : {'fill', 'wrap', 'symm'}, optional
        How `in1` is extended beyond its edges: with `fillvalue` ('fill', alias 'pad'),
        periodically ('wrap', alias 'circular') or mirrored with the edge sample repeated
        ('symm', alias 'symmetric').
    fillvalue : scalar, optional
        The value outside `in1` for ``boundary='fill'``, converted to the output dtype.
    stride : int or (int, int), optional
        Output step per axis: the result equals ``convolve2d(...)[::s0, ::s1]``, computing only
        those outputs.

    Returns
    -------
    out : ndarray
        dtype ``numpy.result_type(in1, in2)``: exact wrapped integers for integer inputs.

    Examples
    --------
    The lecture's 3x3 box filter over a binary image, no edges ('valid'):

    >>> import numpy as np
    >>> from convcore import signal
    >>> image = np.eye(4, dtype=np.uint8)
    >>> signal.convolve2d(image, np.ones((3, 3), np.uint8), mode='valid')
    array([[3, 2],
           [2, 3]], dtype=uint8)
    >>> signal.convolve2d(image, [[1, -1]], boundary='wrap', mode='same', stride=(2, 1))
    array([[ 1, -1,  0,  0],
           [ 0,  0,  1, -1]])
    """
    in1, in2 = np.asarray(in1), np.asarray(in2)
    _check_2d("convolve2d", in1, in2)
    check_mode(mode)
    stride = check_stride(stride, 2)
    result = result_dtype(in1, in2)
    code, cval = _fill(boundary, fillvalue, result)
    if in1.size == 0 or in2.size == 0:
        return _empty_2d(in1, in2, mode, code, cval, stride, result)
    if valid_swap_needed(mode, in1.shape, in2.shape):
        in1, in2 = in2, in1
    plan = Plan(x=in1, w=_reverse(in2), start=conv_start(mode, in2.shape),
                shape=out_shape(mode, in1.shape, in2.shape), stride=stride, boundary=code,
                cval=cval, result=result)
    return execute(plan, "auto")


@dask_aware()
@extended_to_scipy
def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, stride=1):
    """Cross-correlate two 2-D arrays with an edge rule (scipy.signal.correlate2d plus `stride`).

    Arguments and result as :func:`convolve2d`; `in2` is conjugated, not reversed, and 'same'
    is centred as SciPy's correlate2d centres it (``K // 2`` into the full result).

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import signal
    >>> signal.correlate2d(np.arange(9.0).reshape(3, 3), [[0, 1], [0, 0]], mode='valid')
    array([[1., 2.],
           [4., 5.]])
    """
    in1, in2 = np.asarray(in1), np.asarray(in2)
    _check_2d("correlate2d", in1, in2)
    check_mode(mode)
    stride = check_stride(stride, 2)
    result = result_dtype(in1, in2)
    code, cval = _fill(boundary, fillvalue, result)
    if in1.size == 0 or in2.size == 0:     # the taps are in2's conjugates
        return _empty_2d(in1, _conj(in2), mode, code, cval, stride, result)
    if valid_swap_needed(mode, in1.shape, in2.shape):
        # SciPy correlates in2 with conj(in1) and reverses the result: that is the valid
        # correlation of in2 reversed with conj(in1 reversed)
        x, w = _reverse(in2), _conj(_reverse(in1))
        start = (0, 0)
    else:
        x, w = in1, _conj(in2)
        start = corr2d_start(mode, in2.shape)
    plan = Plan(x=x, w=w, start=start, shape=out_shape(mode, x.shape, w.shape), stride=stride,
                boundary=code, cval=cval, result=result)
    return execute(plan, "auto")


@extended_to_scipy
def choose_conv_method(in1, in2, mode="full", measure=False, stride=1):
    """Find the faster method for :func:`convolve` / :func:`correlate` of these inputs.

    Parameters
    ----------
    in1, in2 : array_like
        Inputs as for :func:`convolve`.
    mode : {'full', 'valid', 'same'}, optional
    measure : bool, optional
        If True, time both methods and return the faster with the timings.
    stride : int or tuple of int, optional
        The stride the convolution will use (it lowers the direct cost).

    Returns
    -------
    method : {'direct', 'fft'}
        'direct' also covers the separable passes. Integer inputs get 'fft' only when the FFT is
        provably exact; bool inputs always 'direct'.
    times : dict, only with ``measure=True``
        Seconds per call of each method.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import signal
    >>> rng = np.random.default_rng(0)
    >>> signal.choose_conv_method(rng.random((64, 64)), rng.random((3, 3)))
    'direct'
    >>> signal.choose_conv_method(rng.random((512, 512)), rng.random((101, 101)))
    'fft'

    A separable kernel (here a box) runs as 1-D passes, which the direct method includes:

    >>> signal.choose_conv_method(rng.random((512, 512)), np.ones((101, 101)))
    'direct'
    """
    volume, kernel = np.asarray(in1), np.asarray(in2)
    check_mode(mode)
    if measure:
        times = {}
        for method in ("fft", "direct"):
            def call(method=method):
                return convolve(volume, kernel, mode=mode, method=method, stride=stride)
            timer = timeit.Timer(call)
            number, _ = timer.autorange()
            times[method] = min(timer.repeat(3, number)) / number
        return ("fft" if times["fft"] < times["direct"] else "direct"), times
    if volume.ndim == kernel.ndim == 0:
        return "direct"
    if volume.ndim != kernel.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality; got "
                         f"in1.ndim={volume.ndim}, in2.ndim={kernel.ndim}")
    stride = check_stride(stride, volume.ndim)
    result = result_dtype(volume, kernel)
    check_not_empty(volume, kernel)
    if valid_swap_needed(mode, volume.shape, kernel.shape):
        volume, kernel = kernel, volume
    engine, _ = choose(_conv_plan(volume, kernel, mode, stride, result), "auto")
    return "fft" if engine in ("fft", "oa", "tiles") else "direct"
