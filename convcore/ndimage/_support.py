"""Argument handling shared by the ndimage filters: modes, axes, per-axis sequences, outputs.

Each helper follows the rule of its scipy.ndimage counterpart (same defaults, same broadcasting of
a scalar to every axis) and raises what SciPy raises: a ValueError/TypeError that names the
argument, or SciPy's RuntimeError (with its message) where SciPy's own tests pin that class.
"""
import math
import numbers
import operator
import warnings

import numpy as np

from .._modes import NDIMAGE_MODES

#: dtypes the compiled line kernel reads and writes directly.
KERNEL_DTYPES = frozenset(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                                np.uint32, np.int64, np.uint64, np.float32,
                                                np.float64))


def mode_code(mode, name="mode"):
    """The kernel code of an ndimage mode name (grid-* aliases included)."""
    if not isinstance(mode, str) or mode not in NDIMAGE_MODES:
        raise RuntimeError(f"boundary mode not supported: {name} must be one of "
                           f"{sorted(NDIMAGE_MODES)}, got {mode!r}")
    return NDIMAGE_MODES[mode]


def as_sequence(value, n, name):
    """`value` repeated for `n` axes, or a sequence of exactly `n` items (strings are scalars)."""
    if not isinstance(value, str) and np.iterable(value):
        items = list(value)
        if len(items) != n:
            raise RuntimeError("sequence argument must have length equal to input rank "
                               f"({name}: {n} filtered axes, got {value!r})")
        return items
    return [value] * n


def check_axes(axes, ndim):
    """Tuple of distinct non-negative axes (None: every axis)."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        axes = (axes,)
    elif not np.iterable(axes):
        raise TypeError(f"axes must be an int, a sequence of ints or None, got {axes!r}")
    out = []
    for ax in axes:
        ax = operator.index(ax)     # SciPy's TypeError: "... cannot be interpreted as an integer"
        if not -ndim <= ax < ndim:
            raise ValueError(f"axes entry {ax} is out of range for a {ndim}-D input")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axes must be unique, got {tuple(axes)!r}")
    return tuple(out)


def check_axis(axis, ndim):
    """`axis` as a non-negative int."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def as_input(input):
    """The input as an ndarray of numbers: objects and dates are SciPy's RuntimeError (its
    message), strings and records a TypeError."""
    arr = np.asarray(input)
    if arr.dtype.kind in "OMm":
        raise RuntimeError(f"array type {arr.dtype!r} not supported (input must hold numbers)")
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"input must hold numbers, got dtype {arr.dtype}")
    return arr


#: a huge page (x86-64): new outputs of at least HUGE_OUTPUT bytes start on such a boundary
HUGE_PAGE = 2 << 20
HUGE_OUTPUT = 16 << 20


def empty(shape, dtype, huge=HUGE_OUTPUT):
    """A new uninitialised C-contiguous array; from `huge` bytes up, on a 2 MiB boundary.

    NumPy asks the kernel for transparent huge pages on arrays this large, but a huge page only
    backs a 2 MiB-aligned stretch that lies wholly inside the allocation: an array placed 1 MiB
    past a boundary (where malloc happens to map it) takes 4 KiB pages on its first and last
    MiB. A 2048x2048 float64 result then cost 528 page faults on first touch, 17 when aligned
    (each fault ~1 us; the zeroing of the pages is the same either way). The array is a view of
    a buffer 2 MiB longer whose spare part is never touched (at most 1/8 more address space at
    the default `huge`; a caller whose arrays live briefly may take `huge` down to HUGE_PAGE,
    where NumPy's own threshold, 4 MiB allocated, still asks for the huge pages).
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < max(huge, HUGE_PAGE):
        return np.empty(shape, dtype=dtype)
    raw = np.empty(nbytes + HUGE_PAGE, dtype=np.uint8)
    start = -raw.ctypes.data % HUGE_PAGE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def get_output(output, input, complex_output=False):
    """The array the result goes to: new (None or a dtype) or `output` itself, checked.

    As SciPy: a real dtype asked for complex data is promoted with a warning, a real output array
    for complex data or one of the wrong shape is a RuntimeError. A new array is left uninitialised
    (every filter writes each of its elements; zeros would cost a sweep of memory).
    """
    shape = input.shape
    if output is None:   # the input's type in the machine's byte order, as SciPy's
        dtype = input.dtype.newbyteorder("=")
        if complex_output and dtype.kind != "c":
            dtype = np.promote_types(dtype, np.complex64)
        return empty(shape, dtype)
    if isinstance(output, (type, np.dtype, str)):
        try:
            dtype = np.dtype(output)
        except TypeError:
            raise TypeError(f"output must be an array or a numeric dtype, got {output!r}")
        if dtype.kind not in "biufc":
            raise RuntimeError(f"output must have numeric dtype, got {output!r}")
        if complex_output and dtype.kind != "c":
            if isinstance(output, str):
                raise RuntimeError(f"output must have complex dtype, got {output!r}")
            warnings.warn("promoting specified output dtype to complex", stacklevel=4)
            dtype = np.promote_types(dtype, np.complex64)
        return empty(shape, dtype)
    if not isinstance(output, np.ndarray):
        raise TypeError(f"output must be an array or a numeric dtype, got {type(output).__name__}")
    if output.shape != shape:
        raise RuntimeError(f"output shape not correct: {output.shape} for an input of shape "
                           f"{shape}")
    if output.dtype.kind not in "biufc":   # SciPy's RuntimeError and message
        raise RuntimeError(f"array type {output.dtype!r} not supported (output must have a "
                           "numeric dtype)")
    if complex_output and output.dtype.kind != "c":
        raise RuntimeError(f"output must have complex dtype for complex data, got {output.dtype}")
    if not output.flags.writeable:
        raise ValueError("output array is read-only")
    return output


def check_supported(x, output):
    """SciPy's RuntimeError for the dtypes its filters do not compute in: float16, and a complex
    output for real data."""
    for a in (x, output):
        if a.dtype == np.float16 or (a.dtype.kind == "c" and x.dtype.kind != "c"):
            raise RuntimeError(f"array type {a.dtype!r} not supported")


def check_origin(origin, size, name="origin"):
    """`origin` as an int within SciPy's range for a filter of `size` taps, checked in SciPy's
    order: the range first (a number outside it is a ValueError), then the type (a float, even a
    whole one, is a TypeError; a bool is an int)."""
    if isinstance(origin, numbers.Real) and not -(size // 2) <= origin <= (size - 1) // 2:
        raise ValueError(f"{name} must satisfy -({size} // 2) <= {name} <= ({size} - 1) // 2 "
                         f"for a filter of size {size}, got {origin}")
    if not isinstance(origin, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {origin!r}")
    return int(origin)


def check_cval(cval, input):
    """`cval` as a float (a complex one only for complex input)."""
    if type(cval) in (float, int):   # the usual call: no NumPy type checks
        return float(cval)
    if np.iscomplexobj(cval) and input.dtype.kind != "c":
        raise TypeError("cval must be real for real input, got a complex value")
    try:
        return complex(cval) if np.iscomplexobj(cval) else float(cval)
    except (TypeError, ValueError):
        raise TypeError(f"cval must be a number, got {cval!r}")
