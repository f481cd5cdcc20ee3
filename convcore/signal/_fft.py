"""The FFT engine (scipy.fft, fast lengths, the project's worker threads).

``run_fft`` evaluates a :class:`~._plan.Plan` (edge rules included) for ``convolve``,
``convolve2d`` and the strided ``fftconvolve``; ``conv_window`` is the transform-multiply-invert
step shared with ``fftconvolve``.

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

_NP_PAD = {MODE_CONSTANT: "constant", MODE_REFLECT: "symmetric", MODE_MIRROR: "reflect",
           MODE_NEAREST: "edge", MODE_WRAP: "wrap"}


def forward(arr, fshape, axes, is_complex, workers):
    """rfftn / fftn of `arr` zero-padded to `fshape` along `axes`.

    A small operand (a kernel) is transformed one axis at a time, the last axis first on its own
    rows only, instead of padding it to the full transform shape first: same numbers, a fraction
    of the work (a 31x31 kernel on a 1050x1050 transform: 3.6 -> 1.0 ms).
    """
    full = math.prod(fshape)
    if len(axes) < 2 or math.prod(arr.shape[ax] for ax in axes) * 4 > full:
        fwd = sp_fft.fftn if is_complex else sp_fft.rfftn
        return fwd(arr, fshape, axes=axes, workers=workers)
    last = sp_fft.fft if is_complex else sp_fft.rfft
    out = last(arr, fshape[-1], axis=axes[-1], workers=workers)
    for ax, n in zip(axes[-2::-1], fshape[-2::-1]):
        out = sp_fft.fft(out, n, axis=ax, workers=workers, overwrite_x=True)
    return out


def inverse(spec, fshape, axes, is_complex, workers):
    """ifftn / irfftn of `spec` to `fshape` along `axes`, consuming `spec`.

    The real inverse runs as complex inverses along the leading axes (in place) and one c2r along
    the last: the same steps irfftn takes, but scipy 1.17's multi-axis c2r of float64 data is about
    2.5x slower than the two calls (batches of 180x180 tiles: 2.1 ms against 0.8 ms; a 1080x1080
    image 7.6 against 5.5 ms; float32 the same either way).
    """
    if is_complex:
        return sp_fft.ifftn(spec, fshape, axes=axes, workers=workers, overwrite_x=True)
    if len(axes) > 1:
        spec = sp_fft.ifftn(spec, fshape[:-1], axes=axes[:-1], workers=workers, overwrite_x=True)
    return sp_fft.irfft(spec, fshape[-1], axis=axes[-1], workers=workers, overwrite_x=True)


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
    spec = forward(a, fshape, axes, is_complex, workers)
    other = forward(b, fshape, axes, is_complex, workers)
    if other.shape == spec.shape and other.dtype == spec.dtype:
        spec *= other
    else:  # broadcasting over a non-convolved axis
        spec = spec * other
    ret = inverse(spec, fshape, axes, is_complex, workers)
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


def work_dtype(plan):
    """The float or complex dtype the transforms of `plan` run in (integers in float64)."""
    return np.result_type(fft_input(plan.x[:0].reshape(-1)).dtype,
                          fft_input(plan.w[:0].reshape(-1)).dtype)


def region_of(plan):
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
        term = forward(padded[taps], fshape, axes, is_complex, workers)
        term *= forward(w_r[flip], fshape, axes, is_complex, workers)
        if spec is None:
            spec = term
        else:
            spec += term
    if spec is None:
        return np.zeros(m_out, dtype=work)
    ret = inverse(spec, fshape, axes, is_complex, workers)
    return ret[tuple(slice(ko - 1, ko - 1 + mo) for ko, mo in zip(k_out, m_out))]


def run_fft(plan):
    """Evaluate `plan` by FFT; integer and bool results are rounded to exact integers.

    A stride > 1 runs as a polyphase sum (:func:`_polyphase`) so the skipped outputs are never
    transformed back; very many phases fall back to slicing the stride-1 result.
    """
    region, offset = region_of(plan)
    work = work_dtype(plan)
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
    return as_result(ret, plan)


def as_result(ret, plan):
    """An FFT result in the plan's dtype: integers and bools rounded to exact integers."""
    if plan.result.kind in "biu":
        return round_to(ret, plan.result)
    return np.ascontiguousarray(ret, dtype=plan.result)
