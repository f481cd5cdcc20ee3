"""SciPy's result-dtype rules for the convolutions, and the dtype each engine works in.

- direct results (``convolve``, ``correlate``, ``convolve2d``, ``correlate2d``) have
  ``numpy.result_type(in1, in2)``: integers stay integers with wrap-around arithmetic, float32 stays
  float32, mixed inputs promote as NumPy does, complex with real gives complex;
- bool with bool gives bool: True where any pair of True samples meets (SciPy's 1-D answer, which
  convcore gives in every dimension and for every method);
- ``fftconvolve`` / ``oaconvolve`` turn integer and bool inputs into float64 first, so their result is
  float32 only when both inputs are float32 (or complex64).
"""
import warnings

import numpy as np

_NUMERIC = "biufc"


def result_dtype(in1, in2):
    """The dtype SciPy's direct convolution returns for these inputs.

    >>> import numpy as np
    >>> result_dtype(np.zeros(2, np.uint8), np.zeros(2, np.int8))
    dtype('int16')
    """
    for name, arr in (("in1", in1), ("in2", in2)):
        if arr.dtype.kind not in _NUMERIC:
            raise ValueError(f"{name} must hold numbers (bool, integer, float or complex), "
                             f"got dtype {arr.dtype}")
        if arr.dtype.kind in "fc" and arr.dtype.itemsize > (8 if arr.dtype.kind == "f" else 16):
            raise ValueError(f"{name} has dtype {arr.dtype}: extended precision is not supported, "
                             "convert to float64 or complex128")
    return np.result_type(in1.dtype, in2.dtype).newbyteorder("=")


def work_dtype(result):
    """The dtype the kernels compute in for a given result dtype.

    bool counts overlapping True pairs in uint32 (no wrap to 0 as uint8 could); float16 works in
    float32; everything else in itself.
    """
    if result.kind == "b":
        return np.dtype(np.uint32)
    if result == np.float16:
        return np.dtype(np.float32)
    return result


def finish(out, result):
    """Turn a result computed in ``work_dtype(result)`` into `result`."""
    if result.kind == "b":
        return out != 0
    if out.dtype != result:
        return out.astype(result)
    return out


def fill_scalar(fillvalue, result):
    """convolve2d's `fillvalue` converted to the output dtype, with SciPy's checks and messages."""
    if type(fillvalue) is int and fillvalue == 0:   # the default: nothing to check
        return result.type(0)
    try:
        with np.errstate(over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = np.asarray(fillvalue, dtype=result)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError("could not cast `fillvalue` directly to the output type "
                         f"{result} (got {fillvalue!r}: {exc}).") from None
    if value.size == 0:
        raise ValueError("`fillvalue` cannot be an empty array.")
    if value.size != 1:
        raise ValueError("`fillvalue` must be scalar or an array with one element, "
                         f"got shape {value.shape}.")
    return value.reshape(())[()]


def fft_input(arr):
    """An input as scipy.fft sees it in fftconvolve: integers and bools become float64."""
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype == np.float16:
        return arr.astype(np.float32)
    return arr


def round_to(out, result):
    """A float result of an FFT turned into an integer or bool `result` dtype, as exact integers.

    Values are rounded to the nearest integer, taken through int64 (or uint64) and then cast, so the
    narrowing wraps around exactly as the direct method's integer arithmetic does.
    """
    out = np.rint(out.real if out.dtype.kind == "c" else out)
    if result.kind == "b":
        return out != 0
    wide = np.uint64 if result.kind == "u" and result.itemsize == 8 else np.int64
    with np.errstate(invalid="ignore", over="ignore"):
        return out.astype(wide).astype(result)
