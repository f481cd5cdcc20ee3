"""The string and shape options of scipy.signal's convolutions, checked and turned into numbers.

Every public function of :mod:`convcore.signal` passes its ``mode``, ``boundary``, ``method`` and
``stride`` through here, so each rule and each error message lives in one place. The messages start
with SciPy's own wording (programs that match on them keep working) and add what was received.
"""
from .._modes import SIGNAL_BOUNDARIES
from .._validation import as_tuple

MODES = ("full", "same", "valid")
METHODS = ("auto", "direct", "fft")


def check_mode(mode, first_word="Acceptable"):
    """Return `mode` if it is one of 'full', 'same', 'valid', else raise SciPy's ValueError
    (whose first word is lower case in SciPy's FFT convolutions)."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{first_word} mode flags are 'valid', 'same', or 'full'; "
                         f"got mode={mode!r}.")
    return mode


def check_method(method):
    """Return `method` if it is one of 'auto', 'direct', 'fft', else raise SciPy's ValueError."""
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(
            f"Acceptable method flags are 'auto', 'direct', or 'fft'; got method={method!r}.")
    return method


def boundary_code(boundary):
    """The edge-rule code (src/modes.pxd) of a convolve2d `boundary` name.

    >>> boundary_code('symm') == boundary_code('symmetric')
    True
    """
    if not isinstance(boundary, str) or boundary not in SIGNAL_BOUNDARIES:
        raise ValueError("Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
                         f"'symmetric' (or 'symm'); got boundary={boundary!r}.")
    return SIGNAL_BOUNDARIES[boundary]


def check_stride(stride, ndim):
    """`stride` (an int or one int per axis, each >= 1) as a tuple of `ndim` ints.

    >>> check_stride(2, 3)
    (2, 2, 2)
    """
    return as_tuple(stride, ndim, "stride", min_value=1)


def check_not_empty(in1, in2):
    """Raise ValueError naming the empty input (SciPy's direct method cannot use one either)."""
    for name, arr in (("in1", in1), ("in2", in2)):
        if arr.size == 0:
            raise ValueError(f"{name} cannot be empty, got shape {arr.shape}")


def valid_swap_needed(mode, shape1, shape2, axes=None):
    """True when 'valid' mode must swap the inputs (in2 larger in every axis of `axes`).

    Raises SciPy's ValueError when neither input is at least as large as the other in every axis.
    """
    if mode != "valid" or not shape1:
        return False
    axes = range(len(shape1)) if axes is None else axes
    first_larger = all(shape1[a] >= shape2[a] for a in axes)
    second_larger = all(shape2[a] >= shape1[a] for a in axes)
    if not (first_larger or second_larger):
        raise ValueError("For 'valid' mode, one must be at least as large as the other in every "
                         f"dimension; got shapes {tuple(shape1)} and {tuple(shape2)}")
    return not first_larger


def out_shape(mode, shape1, shape2):
    """Stride-1 output shape of a convolution of shapes `shape1` and `shape2` in `mode`."""
    if mode == "full":
        return tuple(n + k - 1 for n, k in zip(shape1, shape2))
    if mode == "same":
        return tuple(shape1)
    return tuple(n - k + 1 for n, k in zip(shape1, shape2))


def conv_start(mode, kernel_shape):
    """Where the reversed kernel starts (per axis) for output 0 of a convolution in `mode`.

    A convolution ``sum_k h[k] x[o - k]`` is the correlation of ``x`` with ``h`` reversed, whose
    first tap reads ``x[o + start]``: -(K-1) in 'full', -(K//2) in 'same' (the centre SciPy picks
    for even sizes too), 0 in 'valid'.
    """
    if mode == "full":
        return tuple(-(k - 1) for k in kernel_shape)
    if mode == "same":
        return tuple(-(k // 2) for k in kernel_shape)
    return (0,) * len(kernel_shape)


def corr2d_start(mode, kernel_shape):
    """Start of correlate2d's window: its 'same' centre is K//2 into the full result, not (K-1)//2."""
    if mode == "same":
        return tuple(-((k - 1) // 2) for k in kernel_shape)
    return conv_start(mode, kernel_shape)

