"""Convolution through the FFT (scipy.fft, fast lengths, the project's worker threads).

``fftconvolve`` and ``oaconvolve`` behave as SciPy's (same arguments, axes handling, result dtypes,
empty and 0-d inputs) plus ``stride``. The FFT engine of ``convolve`` / ``convolve2d`` (``run_fft``)
evaluates a :class:`~._plan.Plan`, edge rules included.

Only the output window that is returned is protected from circular wrap-around: the transform length
along an axis is the smallest fast length ``f`` with ``f >= full - first`` and ``f >= last``, where
``[first, last)`` is the slice of the full convolution the mode keeps. For 'valid' this is the length
of the larger input instead of the sum of both lengths, for 'same' about half a kernel less.
"""
import itertools
import math

import numpy as np
import scipy.fft as sp_fft

from .._modes import MODE_CONSTANT, MODE_MIRROR, MODE_NEAREST, MODE_REFLECT, MODE_WRAP
from .._threads import get_num_threads
from ._dtypes import fft_input, round_to
from ._options import check_mode, check_stride, valid_swap_needed
from ._plan import Plan

_NP_PAD = {MODE_CONSTANT: "constant", MODE_REFLECT: "symmetric", MODE_MIRROR: "reflect",
           MODE_NEAREST: "edge", MODE_WRAP: "wrap"}


def conv_window(a, b, axes, first, count):
    """Entries ``[first, first + count)`` along `axes` of the full linear convolution of a and b.

    Other axes broadcast. Entries outside the full convolution are zero.
    """
    is_complex = a.dtype.kind == "c" or b.dtype.kind == "c"
    workers = get_num_threads()
    out_shape = list(np.broadcast_shapes(
        tuple(1 if i in axes else n for i, n in enumerate(a.shape)),
        tuple(1 if i in axes else n for i, n in enumerate(b.shape))))
    lo, hi, fshape = [], [], []
    for ax, f0, n in zip(axes, first, count):
        full = a.shape[ax] + b.shape[ax] - 1
        low = min(max(f0, 0), full)
        high = max(min(f0 + n, full), low)
        lo.append(low)
        hi.append(high)
        fshape.append(sp_fft.next_fast_len(max(full - low, high, 1), not is_complex))
        out_shape[ax] = n
    dtype = np.result_type(a.dtype, b.dtype)
    if any(h == l for l, h in zip(lo, hi)):
        return np.zeros(out_shape, dtype=dtype)
    fwd, inv = (sp_fft.fftn, sp_fft.ifftn) if is_complex else (sp_fft.rfftn, sp_fft.irfftn)
    spec = fwd(a, fshape, axes=axes, workers=workers)
    other = fwd(b, fshape, axes=axes, workers=workers)
    if other.shape == spec.shape:
        spec *= other
    else:  # broadcasting over a non-convolved axis
        spec = spec * other
    ret = inv(spec, fshape, axes=axes, workers=workers)
    take = [slice(None)] * ret.ndim
    place = [slice(None)] * ret.ndim
    whole = True
    for ax, f0, n, low, high in zip(axes, first, count, lo, hi):
        take[ax] = slice(low, high)
        place[ax] = slice(low - f0, high - f0)
        whole = whole and low == f0 and high == f0 + n
    if whole:
        return ret[tuple(take)]
    out = np.zeros(out_shape, dtype=ret.dtype)
    out[tuple(place)] = ret[tuple(take)]
    return out


def _region(plan):
    """(array, offset): the input samples the plan reads, and where the array starts in that region.

    Under the constant rule with a zero constant the input itself is returned (the FFT pads with
    zeros anyway); other rules get the region materialised with ``np.pad`` (the FFT needs it).
    """
    x = plan.x
    need = [m + k - 1 for m, k in zip(plan.shape, plan.w.shape)]
    if plan.boundary == MODE_CONSTANT and plan.cval == 0:
        lo = [min(max(s, 0), n) for s, n in zip(plan.start, x.shape)]
        hi = [max(min(s + r, n), l) for s, r, n, l in zip(plan.start, need, x.shape, lo)]
        sub = x[tuple(slice(a, b) for a, b in zip(lo, hi))]
        return sub, [l - s for l, s in zip(lo, plan.start)]
    before = [max(0, -s) for s in plan.start]
    after = [max(0, s + r - n) for s, r, n in zip(plan.start, need, x.shape)]
    extra = {"constant_values": plan.cval} if plan.boundary == MODE_CONSTANT else {}
    ext = np.pad(x, list(zip(before, after)), mode=_NP_PAD[plan.boundary], **extra)
    sl = tuple(slice(s + b, s + b + r) for s, b, r in zip(plan.start, before, need))
    return ext[sl], [0] * x.ndim


MAX_PHASES = 64   # polyphase FFT up to this many phases (product of the strides)


def _polyphase(plan, region, offset, work):
    """Strided valid correlation as a sum over stride phases, one inverse FFT of the strided size.

    With ``k = s*q + r`` per axis, ``out[o] = sum_r sum_q w[s*q + r] * R[r + s*(o + q)]``: phase r
    correlates the input decimated from r with the kernel decimated from r, both about 1/s as
    long. The phases' spectra are summed, so only the outputs that are kept are transformed back.
    """
    s, m, k = plan.stride, plan.shape, plan.w.shape
    m_out = [-(-a // b) for a, b in zip(m, s)]
    k_out = [-(-a // b) for a, b in zip(k, s)]
    padded = np.zeros([st * (mo + ko - 1) for st, mo, ko in zip(s, m_out, k_out)], dtype=work)
    dst = tuple(slice(p, max(p, min(p + n, lp)))
                for p, n, lp in zip(offset, region.shape, padded.shape))
    padded[dst] = region[tuple(slice(0, d.stop - d.start) for d in dst)]
    weights = np.zeros([st * ko for st, ko in zip(s, k_out)], dtype=work)
    weights[tuple(slice(0, n) for n in k)] = plan.w
    is_complex = np.dtype(work).kind == "c"
    fwd, inv = (sp_fft.fftn, sp_fft.ifftn) if is_complex else (sp_fft.rfftn, sp_fft.irfftn)
    fshape = [sp_fft.next_fast_len(mo + ko - 1, not is_complex) for mo, ko in zip(m_out, k_out)]
    axes = list(range(len(s)))
    workers = get_num_threads()
    flip = (slice(None, None, -1),) * len(s)
    spec = None
    for phase in itertools.product(*(range(st) for st in s)):
        taps = tuple(slice(r, None, st) for r, st in zip(phase, s))
        w_r = weights[taps]
        if not w_r.any():
            continue
        term = fwd(padded[taps], fshape, axes=axes, workers=workers)
        term *= fwd(w_r[flip], fshape, axes=axes, workers=workers)
        if spec is None:
            spec = term
        else:
            spec += term
    if spec is None:
        return np.zeros(m_out, dtype=work)
    ret = inv(spec, fshape, axes=axes, workers=workers)
    return ret[tuple(slice(ko - 1, ko - 1 + mo) for ko, mo in zip(k_out, m_out))]


def run_fft(plan):
    """Evaluate `plan` by FFT; integer and bool results are rounded to exact integers.

    A stride > 1 runs as a polyphase sum (:func:`_polyphase`) so the skipped outputs are never
    transformed back; very many phases fall back to slicing the stride-1 result.
    """
    region, offset = _region(plan)
    work = np.result_type(fft_input(plan.x[:0].reshape(-1)).dtype,
                          fft_input(plan.w[:0].reshape(-1)).dtype)
    a = region.astype(work, copy=False)
    if 1 < math.prod(plan.stride) <= MAX_PHASES:
        ret = _polyphase(plan, a, offset, work)
    else:
        b = np.ascontiguousarray(plan.w[(slice(None, None, -1),) * plan.w.ndim], dtype=work)
        axes = list(range(plan.x.ndim))
        # valid correlation of the region = full convolution with reversed w, from K-1 on
        first = [k - 1 - p for k, p in zip(plan.w.shape, offset)]
        ret = conv_window(a, b, axes, first, list(plan.shape))
        ret = ret[tuple(slice(None, None, s) for s in plan.stride)]
    if plan.result.kind in "biu":
        return round_to(ret, plan.result)
    return np.ascontiguousarray(ret, dtype=plan.result)


def _normalise_axes(in1, in2, axes):
    """SciPy's axes rules: unique, in range, size-1 axes dropped, other axes broadcastable."""
    s1, s2 = in1.shape, in2.shape
    if axes is None:
        axes = list(range(in1.ndim))
    else:
        axes = [axes] if np.ndim(axes) == 0 else list(axes)
        if not axes:
            raise ValueError("when provided, axes cannot be empty")
        try:
            axes = [int(a) for a in axes]
        except (TypeError, ValueError):
            raise ValueError(f"axes must be integers, got {axes!r}") from None
        if any(a >= in1.ndim or a < -in1.ndim for a in axes):
            raise ValueError(f"axes exceeds dimensionality of input: axes={axes}, "
                             f"ndim={in1.ndim}")
        axes = [a % in1.ndim for a in axes]
        if len(set(axes)) != len(axes):
            raise ValueError(f"all axes must be unique, got {axes}")
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
    """Shared checks of fftconvolve and oaconvolve; returns None for the 0-d / empty answers."""
    in1, in2 = np.asarray(in1), np.asarray(in2)
    check_mode(mode)
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
    if valid_swap_needed(mode, in1.shape, in2.shape, axes):
        in1, in2 = in2, in1
    return (fft_input(in1), fft_input(in2), axes, stride), True


def _finish(ret, in1, in2, mode, axes, stride, windowed=True):
    """Crop `ret` (full along `axes` unless `windowed`) to the mode's window, then stride it."""
    first, count = _mode_window(mode, in1.shape, in2.shape, axes, in1.ndim)
    crop = []
    for a, (f, n, s) in enumerate(zip(first, count, stride)):
        f = 0 if (windowed and a in axes) else f
        crop.append(slice(f, f + n, s))
    return np.ascontiguousarray(ret[tuple(crop)])


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
    if not axes:
        return _finish(a * b, a, b, mode, axes, stride)
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
    if not axes:
        return _finish(a * b, a, b, mode, axes, stride)
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
    # reshape: each blocked axis becomes (blocks, step) in the blocked input, (1, n) in the other
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
    workers = get_num_threads()
    fwd, inv = (sp_fft.fftn, sp_fft.ifftn) if is_complex else (sp_fft.rfftn, sp_fft.irfftn)
    spec = fwd(a2, fshape, axes=fft_axes, workers=workers)
    spec = spec * fwd(b2, fshape, axes=fft_axes, workers=workers)
    ret = inv(spec, fshape, axes=fft_axes, workers=workers)
    # overlap-add the blocked axes (last first, so earlier positions stay put); crop the others
    for ax in sorted(plan, reverse=True):
        pos = block_axes[sorted(plan).index(ax)]
        ret = _overlap_add(ret, pos, plan[ax][2], plan[ax][4])
    crop = tuple(slice(0, a.shape[ax] + b.shape[ax] - 1) if ax in axes else slice(None)
                 for ax in range(a.ndim))
    return _finish(ret[crop], a, b, mode, axes, stride, windowed=False)
