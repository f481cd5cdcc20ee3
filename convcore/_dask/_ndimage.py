"""convcore.ndimage on dask arrays: the in-memory filter on every chunk grown by its exact overlap.

Each chunk is filtered with the same call as the whole array, grown as ``map_overlap`` would grow
it (in two tasks per chunk, :mod:`._halo`): an output reads only samples within the filter's reach
of it, so with that much overlap every kept output is the in-memory one. The outer edge is the
filter's own business: nothing added there and the chunk's edge is the array's, so every mode,
``cval`` included, acts as in memory; only ``wrap`` needs the far end of the array, which the outer
chunks get (dask's ``boundary='periodic'``). An axis whose passes mix ``wrap`` with other modes is
kept in one chunk.
"""
import functools
import itertools
import math

import numpy as np

from .._modes import MODE_WRAP, NDIMAGE_MODES
from ..ndimage._engine import line_correlate
from ..ndimage._smooth import _radius, _weights
from ..ndimage._support import (HUGE_PAGE, as_sequence, check_axes, check_axis, check_cval,
                                empty, mode_code)
from ._blocks import (OnThreads, call, check_in_memory, check_output, chunk_threads,
                      direct_last_axis, fit_chunks, meta)
from ._halo import halo_map


def _reach(size, origin):
    """How far a window of `size` taps at `origin` (ndimage's convention) reads on either side."""
    return max(size // 2 + origin, size - 1 - size // 2 - origin)


def _flipped(origin, size):
    """The origin of the correlation that a convolution of `size` taps at `origin` is."""
    return -origin - (1 if size % 2 == 0 else 0)


def _gauss(sigma, truncate, radius):
    return _radius(float(sigma), truncate, radius) if float(sigma) > 1e-15 else 0


def _plan(name, a, ndim):
    """(depth per axis, the modes each axis sees, the N-D kernel's (taps, origin) per axis) of
    ndimage filter `name` with arguments `a`."""
    depth, modes, window = [0] * ndim, [set() for _ in range(ndim)], [(1, 0)] * ndim

    def along(ax, d, mode):
        depth[ax] = max(depth[ax], d)
        modes[ax].add(mode)

    mode = a.get("mode")
    if name in ("correlate1d", "convolve1d", "uniform_filter1d", "gaussian_filter1d"):
        axis = check_axis(a["axis"], ndim)
        if name == "gaussian_filter1d":
            along(axis, _gauss(a["sigma"], a["truncate"], a["radius"]), mode)
        else:
            size = a["size"] if name == "uniform_filter1d" else np.asarray(a["weights"]).size
            origin = a["origin"]
            along(axis, _reach(size, _flipped(origin, size) if name == "convolve1d" else origin),
                  mode)
        return depth, modes, window
    if name in ("sobel", "prewitt"):
        for ax, m in enumerate(as_sequence(mode, ndim, "mode")):
            along(ax, 1, m)
        return depth, modes, window
    axes = check_axes(a["axes"], ndim)
    if name in ("correlate", "convolve"):
        shape = np.shape(a["weights"])
        origins = as_sequence(a["origin"], len(axes), "origin")
        for k, ax in zip(shape, sorted(axes)):
            o = origins[axes.index(ax)]
            window[ax] = (k, _flipped(o, k) if name == "convolve" else o)
            along(ax, _reach(*window[ax]), mode)
        return depth, modes, window
    per_axis = as_sequence(mode, len(axes), "mode")
    if name == "uniform_filter":
        sizes = as_sequence(a["size"], len(axes), "size")
        origins = as_sequence(a["origin"], len(axes), "origin")
        for ax, s, o, m in zip(axes, sizes, origins, per_axis):
            along(ax, _reach(s, o) if s > 1 else 0, m)
    elif name == "gaussian_filter":
        sigmas = as_sequence(a["sigma"], len(axes), "sigma")
        radii = as_sequence(a["radius"], len(axes), "radius")
        for ax, s, r, m in zip(axes, sigmas, radii, per_axis):
            along(ax, _gauss(s, a["truncate"], r), m)
    elif name == "laplace":
        for ax, m in zip(axes, per_axis):
            along(ax, 1, m)
    else:  # gaussian_laplace, gaussian_gradient_magnitude: one Gaussian pass per axis of `axes`,
        # each over every axis whose sigma is positive, in the mode of its own axis
        kw = a["kwargs"]
        truncate, radius = kw.get("truncate", 4.0), kw.get("radius")
        if name == "gaussian_laplace":
            sigmas = [0.0] * ndim
            for ax, s in zip(axes, as_sequence(a["sigma"], len(axes), "sigma")):
                sigmas[ax] = s
        else:
            sigmas = as_sequence(a["sigma"], ndim, "sigma")
        radii = as_sequence(radius, ndim, "radius")
        for m in per_axis:
            for ax in range(ndim):
                along(ax, _gauss(sigmas[ax], truncate, radii[ax]), m)
    return depth, modes, window


def _scratch(shapes, dtype):
    """New C-contiguous arrays of `shapes` one after another in one buffer, each on a 64-byte
    boundary, from 2 MiB up on huge pages: for the edges' outputs, which live only as long as
    the task (in a worker, whose malloc maps every large block afresh, a 1 MiB edge's output in
    4 KiB pages faulted 256 times)."""
    step = 64 // dtype.itemsize if 64 % dtype.itemsize == 0 else 1
    sizes = [-(-math.prod(shape) // step) * step for shape in shapes]
    buffer = empty((sum(sizes),), dtype, huge=HUGE_PAGE)
    return [buffer[a:a + math.prod(shape)].reshape(shape)
            for a, shape in zip(itertools.accumulate([0] + sizes), shapes)]


def _gaussian_passes(args, dtype, block, pieces):
    """``gaussian_filter``'s 1-D passes along each axis in turn (as it runs on 3-D and more) on a
    chunk, the neighbours' edges (`pieces`, {direction: edge}) read where they lie.

    A pass along an axis runs on every piece in line with the chunk along that axis (the chunk
    and the edges beside it, each extended by the pieces before and after it there: the kernel's
    ``lo`` / ``hi``), and those before and after are dropped: the next pass reads the outputs
    of this one, the edges' included. Each pass is stored in the output's dtype, the first into
    a new array, the later ones in place, as in memory. No chunk-sized copy of the chunk and its
    edges is made, and no pass computes outputs that a later one does not read.
    """
    ndim = block.ndim
    axes = check_axes(args["axes"], ndim)
    per_axis = [as_sequence(args[k], len(axes), k) for k in ("sigma", "order", "mode", "radius")]
    cval = check_cval(args["cval"], block)
    cur, own = {(0,) * ndim: block, **pieces}, set()
    for ax, sigma, order, mode, radius in zip(axes, *per_axis):
        if not sigma > 1e-15:
            continue
        w = _weights(sigma, order, args["truncate"], radius)
        passed, new = {}, {}
        if not own:     # the first pass writes new arrays: the output chunk and the edges' ones
            lent = [o for o in cur if any(o) and not o[ax]]
            new = dict(zip(lent, _scratch([cur[o].shape for o in lent], dtype)))
            new[(0,) * ndim] = empty(block.shape, dtype)
        for o, x in cur.items():
            if o[ax]:
                continue
            lo, hi = (cur.get(o[:ax] + (s,) + o[ax + 1:]) for s in (-1, 1))
            out = x if o in own else new[o]
            passed[o] = line_correlate(x, w, ax, out, mode_code(mode), cval, 0, lo, hi)
            own.add(o)
        cur = passed
    out = cur[(0,) * ndim]
    return out if out is not block else block.astype(dtype)  # no pass: the input, converted


def run(public, func_name, name, bound):
    """The lazy dask result of ndimage filter `public` called with `bound` arguments."""
    x = bound.arguments[name]
    check_output(bound.arguments.get("output"))
    for key in ("weights",):
        if key in bound.arguments:
            check_in_memory(key, bound.arguments[key])
    args = {k: v for k, v in bound.arguments.items() if k not in (name, "kwargs")}
    args.update(bound.arguments.get("kwargs", {}))
    # the NumPy path checks every argument (same errors, now) and tells the result's dtype
    probe = public(**{name: np.zeros((1,) * x.ndim, dtype=x.dtype)}, **args)
    depth, modes, window = _plan(func_name, bound.arguments, x.ndim)
    chunks, periodic, leasts = [], [], []
    for ax in range(x.ndim):
        wrap = {NDIMAGE_MODES[m] == MODE_WRAP for m in modes[ax]}
        least = depth[ax]
        if ax == x.ndim - 1:  # correlate / convolve run on the direct kernel
            (k, o), n = window[ax], x.shape[ax]
            least = direct_last_axis(n, k, math.prod(w for w, _ in window), -(k // 2) - o, n, 1,
                                     True in wrap)
            least = n if least is None else max(least, depth[ax])
        c = x.chunks[ax] if len(wrap) < 2 else (x.shape[ax],)
        c = fit_chunks(c, least)
        if len(c) == 1:
            depth[ax] = 0
        chunks.append(c)
        periodic.append(True in wrap)
        leasts.append(least)
    x = x.rechunk(tuple(chunks))
    fn, pieces = functools.partial(call, public, name, args), False
    if func_name == "gaussian_filter" and x.ndim > 2:    # in memory, one 1-D pass per axis
        fn, pieces = functools.partial(_gaussian_passes, args, probe.dtype), True
    return halo_map(OnThreads(fn, chunk_threads()), x, depth, periodic, probe.dtype,
                    meta(x.ndim, probe.dtype), f"convcore_{func_name}", least=leasts,
                    pieces=pieces)
