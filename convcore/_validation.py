"""Argument checks shared by the public functions: each error names the argument it is about."""

import numbers
import operator

import numpy as np


def as_int(value, name, min_value=None):
    """Return `value` as a Python int, refusing bools, floats and strings."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = operator.index(value)
    if min_value is not None and value < min_value:
        kind = "positive" if min_value == 1 else f">= {min_value}"
        raise ValueError(f"{name} must be {kind}, got {value}")
    return value


def as_tuple(value, n, name, min_value=1):
    """Normalise an int or a length-`n` sequence of ints to a tuple of `n` ints (PyTorch's _ntuple).

    >>> as_tuple(3, 2, 'stride')
    (3, 3)
    >>> as_tuple((1, 2), 2, 'stride')
    (1, 2)
    """
    if isinstance(value, (tuple, list, np.ndarray)):
        if len(value) != n:
            raise ValueError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
        return tuple(as_int(v, name, min_value) for v in value)
    return (as_int(value, name, min_value),) * n


def as_float_array(x, name, ndim=None, dtype=None):
    """Return `x` as a C-contiguous float32/float64 array, converting integers and bools to float64.

    Complex, object and string data are refused with a TypeError; empty arrays with a ValueError.
    `dtype` forces a working dtype (e.g. the input's, for weights).
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)
