"""convcore.signal on dask arrays: each chunk of ``in1`` computes the outputs anchored in it.

Every call becomes a :class:`~convcore.signal._plan.Plan` of the whole array (``out[o] = sum_k
w[k] X[start + o * stride + k]``), built by the NumPy path's own helpers. Output ``o`` belongs to
the chunk holding the centre of its window, ``start + o * stride + K // 2`` (the first and the last
chunk also take the outputs whose window centre lies outside ``in1``, 'full' mode's rim), so
'full' and 'valid' only widen or narrow the outer chunks, and with a stride the chunk boundaries are
moved to where whole steps fall (the output chunks stay aligned with the input's). A chunk grown
by ``K // 2`` on each side (two tasks per chunk, :mod:`._halo`) then holds every sample its
outputs read; outside ``in1`` the kernel applies the edge rule itself (fill, symm) at the chunk's
outer edge, which is ``in1``'s, and 'wrap' gives the outer chunks the far end's edge. The engine (direct, separable passes, FFT) is
chosen once for the whole plan and then run on every chunk, so the direct engines give the
in-memory result bit for bit; an FFT is exact only to rounding, chunk or not.
"""
import dataclasses
import functools

import dask.array as da
import numpy as np

from .._modes import MODE_CONSTANT, MODE_WRAP
from ..signal import _convolve, _fftconvolve
from ..signal._direct import pass_order, run_direct, run_separable
from ..signal._fft import run_fft
from ..signal._method import choose
from ..signal._options import (check_stride, conv_start, corr2d_start, out_shape,
                               valid_swap_needed)
from ..signal._plan import Plan
from ._blocks import (OnThreads, OnThreadsAt, call, check_in_memory, chunk_threads,
                      direct_last_axis, fit_chunks, meta)
from ._halo import halo_map


def _layout(n, chunks, k, start, m, s, periodic, least=0):
    """Per chunk along one axis: (core start, left overlap, first output, number of outputs).

    Also the chunk sizes (refitted, each at least `least` long) and the depth of the overlap.
    """
    centre = start + k // 2
    depth = k // 2
    if periodic:  # the rim outputs of the outer chunks read up to this far outside in1
        depth = max(depth, -start, start + (m - 1) + k - n)
    chunks = fit_chunks(chunks, max(depth, k - 1, least), s, centre % s)
    if len(chunks) == 1:
        depth = 0
    rows, a = [], 0
    for j, c in enumerate(chunks):
        lo = 0 if j == 0 else max(0, a - centre)
        hi = m if j == len(chunks) - 1 else max(0, min(m, a + c - centre))
        first = -(-lo // s) * s
        count = max(0, -(-hi // s) - first // s)
        left = depth if (j > 0 or periodic) else 0
        rows.append((a, left, first, count))
        a += c
    return rows, chunks, depth


def _engine(plan, method):
    """The engine of the whole plan, decided once: integers never leave the exact direct
    engines (the in-memory path takes an FFT for them only where it is exact, i.e. equal)."""
    standin = np.broadcast_to(np.zeros((), plan.x.dtype), plan.x.shape)
    whole = Plan(x=standin, w=plan.w, start=plan.start, shape=plan.shape, stride=plan.stride,
                 boundary=plan.boundary, cval=plan.cval, result=plan.result)
    if method != "fft" and plan.result.kind in "biu":
        method = "direct"
    engine, factors = choose(whole, method)
    if engine in ("fft", "oa", "tiles"):
        return "fft", None, None
    return engine, factors, pass_order(whole) if engine == "separable" else None


def _block(plan, engine, layouts, block, block_id=None):
    """The outputs of one chunk (`block`: the chunk with its overlaps)."""
    start, shape = [], []
    for ax, j in enumerate(block_id):
        a, left, first, count = layouts[ax][j]
        if count == 0:
            return np.empty([r[block_id[i]][3] for i, r in enumerate(layouts)], plan.result)
        start.append(plan.start[ax] + first - (a - left))
        shape.append((count - 1) * plan.stride[ax] + 1)
    local = Plan(x=block, w=plan.w, start=tuple(start), shape=tuple(shape), stride=plan.stride,
                 boundary=plan.boundary, cval=plan.cval, result=plan.result)
    name, factors, order = engine
    if name == "direct":
        return run_direct(local)
    if name == "separable":
        return run_separable(local, factors, order)
    return run_fft(local)


def lazy(plan, method):
    """The dask array of `plan` (``plan.x`` a dask array), engine chosen for the whole plan."""
    x = plan.x
    engine = _engine(plan, method)
    periodic = plan.boundary == MODE_WRAP
    least = [0] * x.ndim
    if engine[0] == "direct":
        ax = x.ndim - 1
        least[ax] = direct_last_axis(x.shape[ax], plan.w.shape[ax], plan.w.size, plan.start[ax],
                                     plan.shape[ax], plan.stride[ax], periodic)
        if least[ax] is None:
            least[ax] = x.shape[ax]
    layouts, chunks, depth = [], [], []
    for ax in range(x.ndim):
        rows, c, d = _layout(x.shape[ax], x.chunks[ax], plan.w.shape[ax], plan.start[ax],
                             plan.shape[ax], plan.stride[ax], periodic, least[ax])
        layouts.append(rows)
        chunks.append(c)
        depth.append(d)
    x = x.rechunk(tuple(chunks))
    out_chunks = tuple(tuple(r[3] for r in rows) for rows in layouts)
    # the chunk function carries the plan without its input (the chunks come as arguments)
    fn = OnThreadsAt(functools.partial(_block, dataclasses.replace(plan, x=None), engine, layouts),
                     chunk_threads())
    return halo_map(fn, x, depth, [periodic] * x.ndim, plan.result, meta(x.ndim, plan.result),
                    "convcore-signal", chunks=out_chunks, block_id=True)


def _whole(public, x, args, shape, dtype):
    """Fallback: `x` as one chunk through the NumPy path (small outputs, paired axes)."""
    x = x.rechunk(-1)
    fn = OnThreads(functools.partial(call, public, "in1", args), chunk_threads())
    return da.map_blocks(fn, x, chunks=tuple((n,) for n in shape), dtype=dtype,
                         meta=meta(len(shape), dtype), token="convcore-signal")


def _probe_shape(x, kernel):
    """A stand-in for in1 of at most ``kernel + 1`` samples per axis: every shape rule (empty,
    'valid' sizes, broadcasting) answers for it as for `x`."""
    if x.ndim != kernel.ndim:
        return tuple(min(n, 1) for n in x.shape)
    return tuple(min(n, k + 1) for n, k in zip(x.shape, kernel.shape))


def run(public, func_name, name, bound):
    """The lazy dask result of signal function `public` called with `bound` arguments."""
    args = dict(bound.arguments)
    x = args.pop("in1")
    check_in_memory("in2", args["in2"])
    kernel = np.asarray(args["in2"])
    try:
        probe = public(np.zeros(_probe_shape(x, kernel), x.dtype), **args)
    except (ValueError, TypeError):
        # the same refusal again with in1's own shape in the message (a view of one zero)
        public(np.broadcast_to(np.zeros((), x.dtype), x.shape), **args)
        raise
    result = probe.dtype
    if x.size == 0:  # fftconvolve's empty answer (the others refused an empty in1)
        return da.from_array(probe)
    if x.ndim == 0:
        return _whole(public, x, args, probe.shape, result)
    mode, stride = args["mode"], check_stride(args["stride"], x.ndim)
    if func_name in ("fftconvolve", "oaconvolve"):
        axes = _fftconvolve._normalise_axes(x, kernel, args["axes"])
        swap = valid_swap_needed(mode, x.shape, kernel.shape, axes)
        first, count = _fftconvolve._mode_window(mode, x.shape, kernel.shape, axes, x.ndim)
        if swap or any(ax not in axes and kernel.shape[ax] != 1 for ax in range(x.ndim)):
            return _whole(public, x, args, [-(-n // s) for n, s in zip(count, stride)], result)
        w = kernel[(slice(None, None, -1),) * kernel.ndim]
        plan = Plan(x=x, w=w, start=tuple(f - (k - 1) for f, k in zip(first, kernel.shape)),
                    shape=tuple(count), stride=stride, boundary=MODE_CONSTANT, cval=0,
                    result=result)
        return lazy(plan, "fft")
    if valid_swap_needed(mode, x.shape, kernel.shape):
        return _whole(public, x, args, probe.shape, result)
    if func_name in ("convolve", "correlate"):
        if func_name == "correlate":
            kernel = _convolve._conj(_convolve._reverse(kernel))
        plan = _convolve._conv_plan(x, kernel, mode, stride, result)
        return lazy(plan, args["method"])
    code, cval = _convolve._fill(args["boundary"], args["fillvalue"], result)
    if func_name == "convolve2d":
        w, start = _convolve._reverse(kernel), conv_start(mode, kernel.shape)
    else:
        w, start = _convolve._conj(kernel), corr2d_start(mode, kernel.shape)
    plan = Plan(x=x, w=w, start=start, shape=out_shape(mode, x.shape, kernel.shape),
                stride=stride, boundary=code, cval=cval, result=result)
    return lazy(plan, "auto")

