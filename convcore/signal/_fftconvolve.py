"""fftconvolve and oaconvolve: SciPy's FFT convolutions (axes, broadcasting, dtypes) plus `stride`.

Both behave as SciPy's: same arguments, axes handling (size-1 axes broadcast, other non-convolved
axes must match), result dtypes (integers and bools become float64), empty inputs give an empty
array, 0-d inputs their product.
"""
import math
import operator

import numpy as np
import scipy.fft as sp_fft

from .._dask import dask_aware
from .._modes import MODE_CONSTANT
from .._threads import get_num_threads
from ._extended import extended_to_scipy
from ._dtypes import fft_input
from ._fft import as_result, conv_window, inverse, region_of, run_fft, work_dtype
from ._options import check_mode, check_stride, valid_swap_needed
from ._plan import Plan


def _axes_list(axes, ndim):
    """`axes` as a list of non-negative ints, with scipy.fft's checks and messages."""
    try:
        axes = [operator.index(axes)] if np.ndim(axes) == 0 else \
            [operator.index(a) for a in axes]
    except TypeError:
        raise ValueError(f"axes must be a scalar or iterable of integers, got {axes!r}") from None
    axes = [a + ndim if a < 0 else a for a in axes]
    if any(a >= ndim or a < 0 for a in axes):
        raise ValueError(f"axes exceeds dimensionality of input: axes={axes}, ndim={ndim}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"all axes must be unique, got {axes}")
    return axes


def _normalise_axes(in1, in2, axes):
    """SciPy's axes rules: unique, in range, size-1 axes dropped, other axes broadcastable."""
    s1, s2 = in1.shape, in2.shape
    if axes is None:
        axes = list(range(in1.ndim))
    else:
        axes = _axes_list(axes, in1.ndim)
        if not axes:
            raise ValueError("when provided, axes cannot be empty")
    axes = [a for a in axes if s1[a] != 1 and s2[a] != 1]
    for a in range(in1.ndim):
        if a not in axes and not (s1[a] == s2[a] or s1[a] == 1 or s2[a] == 1):
            raise ValueError(f"incompatible shapes for in1 and in2: {s1} and {s2}")
    return sorted(axes)


def _mode_window(mode, s1, s2, axes, ndim):
    """(first, count) per axis of the full result that `mode` keeps (SciPy's centring)."""
    first, count = [], []
    for a in range(ndim):
        full = s1[a] + s2[a] - 1 if a in axes else max(s1[a], s2[a])
        if mode == "full":
            n = full
        elif mode == "same":
            n = s1[a]
        else:
            n = s1[a] - s2[a] + 1 if a in axes else full
        first.append((full - n) // 2)
        count.append(n)
    return first, count


def _prepare(in1, in2, mode, axes, stride):
    """Shared checks of fftconvolve and oaconvolve (in SciPy's order); returns None for the answers
    without a transform: 0-d inputs, empty inputs, no axis left to convolve (SciPy then returns
    ``in1 * in2`` in NumPy's dtype, integers kept)."""
    in1, in2 = np.asarray(in1), np.asarray(in2)
    if in1.ndim == in2.ndim == 0:
        check_stride(stride, 0)
        return in1 * in2, None
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality; got "
                         f"in1.ndim={in1.ndim}, in2.ndim={in2.ndim}")
    stride = check_stride(stride, in1.ndim)
    for name, arr in (("in1", in1), ("in2", in2)):
        if arr.dtype.kind not in "biufc":
            raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if in1.size == 0 or in2.size == 0:
        return np.asarray([]), None
    axes = _normalise_axes(in1, in2, axes)
    check_mode(mode, "acceptable")
    if valid_swap_needed(mode, in1.shape, in2.shape, axes):
        in1, in2 = in2, in1
    if not axes:
        return _finish(in1 * in2, in1, in2, mode, axes, stride), None
    return (fft_input(in1), fft_input(in2), axes, stride), True


def _finish(ret, in1, in2, mode, axes, stride, windowed=True):
    """Crop `ret` (full along `axes` unless `windowed`) to the mode's window, then stride it."""
    first, count = _mode_window(mode, in1.shape, in2.shape, axes, in1.ndim)
    crop = []
    for a, (f, n, s) in enumerate(zip(first, count, stride)):
        f = 0 if (windowed and a in axes) else f
        crop.append(slice(f, f + n, s))
    return np.ascontiguousarray(ret[tuple(crop)])


@dask_aware()
@extended_to_scipy
def fftconvolve(in1, in2, mode="full", axes=None, stride=1):
    """Convolve two N-D arrays using the FFT (scipy.signal.fftconvolve plus `stride`).

    Parameters
    ----------
    in1, in2 : array_like
        Inputs with the same number of dimensions. Integer and bool inputs are converted to float64.
    mode : {'full', 'valid', 'same'}, optional
        Output size: the full convolution, only the part that does not rely on zero padding (one
        input must be at least as large as the other in every convolved axis), or centred with the
        size of `in1`.
    axes : int or sequence of int, optional
        Axes to convolve over (default all). Other axes must be equal or 1 in one input (broadcast).
    stride : int or tuple of int, optional
        Output step per axis: the result equals ``fftconvolve(in1, in2, mode)[::s0, ::s1, ...]``.

    Returns
    -------
    out : ndarray
        float32/complex64 for single-precision inputs, else float64/complex128.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import signal
    >>> out = signal.fftconvolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    >>> bool(np.allclose(out, [0.0, 1.0, 2.5, 4.0, 1.5]))
    True
    >>> signal.fftconvolve(np.ones(6), np.ones(3), mode='valid', stride=2).round(6)
    array([3., 3.])
    """
    prepared, ok = _prepare(in1, in2, mode, axes, stride)
    if ok is None:
        return prepared
    a, b, axes, stride = prepared
    first, count = _mode_window(mode, a.shape, b.shape, axes, a.ndim)
    if math.prod(stride) > 1 and all(ax in axes or a.shape[ax] == b.shape[ax] == 1
                                     for ax in range(a.ndim)):
        # every axis convolved (no broadcasting): the strided plan skips the dropped outputs
        plan = Plan(x=a, w=b[(slice(None, None, -1),) * b.ndim],
                    start=tuple(f - (k - 1) for f, k in zip(first, b.shape)), shape=tuple(count),
                    stride=stride, boundary=MODE_CONSTANT, cval=0,
                    result=np.result_type(a.dtype, b.dtype))
        return run_fft(plan)
    ret = conv_window(a, b, axes, [first[x] for x in axes], [count[x] for x in axes])
    return _finish(ret, a, b, mode, axes, stride)


def _block_length(signal_len, kernel_len, is_complex):
    """FFT length for overlap-add: least FFT work per output sample among fast lengths."""
    best, best_cost = None, np.inf
    length = sp_fft.next_fast_len(2 * kernel_len, not is_complex)
    limit = sp_fft.next_fast_len(signal_len + kernel_len - 1, not is_complex)
    while True:
        step = length - kernel_len + 1
        n_blocks = -(-signal_len // step)
        cost = n_blocks * length * np.log2(length)
        if cost < best_cost:
            best, best_cost = length, cost
        if length >= limit:
            break
        length = sp_fft.next_fast_len(length * 2, not is_complex)
    return best


def _overlap_add(ret, block_axis, step, full):
    """Merge axes (block_axis: blocks, block_axis+1: block samples) adding overlaps; crop to full."""
    n_blocks, length = ret.shape[block_axis], ret.shape[block_axis + 1]
    q = -(-length // step)
    pad = [(0, 0)] * ret.ndim
    pad[block_axis + 1] = (0, q * step - length)
    ret = np.pad(ret, pad)
    ret = ret.reshape(ret.shape[:block_axis + 1] + (q, step) + ret.shape[block_axis + 2:])
    out_shape = list(ret.shape)
    out_shape[block_axis] = n_blocks + q - 1
    del out_shape[block_axis + 1]
    out = np.zeros(out_shape, dtype=ret.dtype)
    for j in range(q):
        dst = [slice(None)] * out.ndim
        dst[block_axis] = slice(j, j + n_blocks)
        src = [slice(None)] * ret.ndim
        src[block_axis + 1] = j
        out[tuple(dst)] += ret[tuple(src)]
    out = out.reshape(out.shape[:block_axis] + (-1,) + out.shape[block_axis + 2:])
    keep = [slice(None)] * out.ndim
    keep[block_axis] = slice(0, full)
    return out[tuple(keep)]


def _blocked(a, b, axes, plan, is_complex):
    """Reshape the inputs for overlap-add: each blocked axis becomes (blocks, step) in the input
    that is cut into blocks and (1, n) in the other; returns the arrays, the transform axes and
    lengths, and where each blocked axis' block index sits."""
    shape_a, shape_b, fft_axes, fshape, block_axes = [], [], [], [], []
    pads_a, pads_b = [], []
    for ax in range(a.ndim):
        if ax in plan:
            long_first, length, step, n_blocks, _ = plan[ax]
            block_axes.append(len(shape_a))
            if long_first:
                pads_a.append((0, n_blocks * step - a.shape[ax]))
                pads_b.append((0, 0))
                shape_a += [n_blocks, step]
                shape_b += [1, b.shape[ax]]
            else:
                pads_a.append((0, 0))
                pads_b.append((0, n_blocks * step - b.shape[ax]))
                shape_a += [1, a.shape[ax]]
                shape_b += [n_blocks, step]
            fft_axes.append(len(shape_a) - 1)
            fshape.append(length)
        else:
            pads_a.append((0, 0))
            pads_b.append((0, 0))
            shape_a.append(a.shape[ax])
            shape_b.append(b.shape[ax])
            if ax in axes:
                fft_axes.append(len(shape_a) - 1)
                fshape.append(sp_fft.next_fast_len(a.shape[ax] + b.shape[ax] - 1, not is_complex))
    a2 = np.pad(a, pads_a).reshape(shape_a)
    b2 = np.pad(b, pads_b).reshape(shape_b)
    return a2, b2, fft_axes, fshape, block_axes


@dask_aware()
@extended_to_scipy
def oaconvolve(in1, in2, mode="full", axes=None, stride=1):
    """Convolve two N-D arrays by overlap-add (scipy.signal.oaconvolve plus `stride`).

    The longer input along each convolved axis is cut into blocks whose FFT length minimises the
    work per output sample; block results are added where they overlap. Efficient when one input
    is much larger than the other; otherwise the same as :func:`fftconvolve`, which it falls back
    to when there is a single block. Arguments and result as :func:`fftconvolve`.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import signal
    >>> x = np.arange(10.0)
    >>> bool(np.allclose(signal.oaconvolve(x, [1.0, -1.0]), np.convolve(x, [1.0, -1.0])))
    True
    """
    prepared, ok = _prepare(in1, in2, mode, axes, stride)
    if ok is None:
        return prepared
    a, b, axes, stride = prepared
    if a.shape == b.shape:
        return fftconvolve(a, b, mode, axes, stride)
    is_complex = a.dtype.kind == "c" or b.dtype.kind == "c"
    plan = {}
    for ax in axes:
        long_first = a.shape[ax] >= b.shape[ax]
        n_sig, n_ker = (a.shape[ax], b.shape[ax]) if long_first else (b.shape[ax], a.shape[ax])
        length = _block_length(n_sig, n_ker, is_complex)
        step = length - n_ker + 1
        if step < n_sig:
            plan[ax] = (long_first, length, step, -(-n_sig // step), n_sig + n_ker - 1)
    if not plan:
        return fftconvolve(a, b, mode, axes, stride)
    a2, b2, fft_axes, fshape, block_axes = _blocked(a, b, axes, plan, is_complex)
    workers = get_num_threads()
    fwd = sp_fft.fftn if is_complex else sp_fft.rfftn
    spec = fwd(a2, fshape, axes=fft_axes, workers=workers)
    spec = spec * fwd(b2, fshape, axes=fft_axes, workers=workers)
    ret = inverse(spec, fshape, fft_axes, is_complex, workers)
    # overlap-add the blocked axes (last first, so earlier positions stay put); crop the others
    for ax in sorted(plan, reverse=True):
        pos = block_axes[sorted(plan).index(ax)]
        ret = _overlap_add(ret, pos, plan[ax][2], plan[ax][4])
    crop = tuple(slice(0, a.shape[ax] + b.shape[ax] - 1) if ax in axes else slice(None)
                 for ax in range(a.ndim))
    return _finish(ret[crop], a, b, mode, axes, stride, windowed=False)


def run_oa(plan):
    """Evaluate a 1-D `plan` by overlap-add: a long signal with a long kernel, where one big
    transform is slower than many cache-sized ones (batched over the worker threads)."""
    region, offset = region_of(plan)
    work = work_dtype(plan)
    need = plan.shape[0] + plan.w.shape[0] - 1
    full = np.zeros(need, dtype=work)
    stop = min(need, offset[0] + region.shape[0])
    full[offset[0]:stop] = region[:stop - offset[0]]
    ret = oaconvolve(full, plan.w[::-1].astype(work), "valid", stride=plan.stride)
    return as_result(ret, plan)
