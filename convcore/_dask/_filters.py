"""convcore.filters.apply on a dask image (H, W) or (H, W, C).

Without a stride the image is filtered as :mod:`._ndimage` filters: ``apply`` itself on every
chunk grown by the kernel's reach (``K // 2`` along y and x, none across channels). With a stride
the in-memory path correlates each channel with :func:`convcore.signal.correlate2d`; so does this
one, through the dask path of that function, after the same conversion to floats.
"""
import functools

import dask.array as da
import numpy as np

from .. import signal
from .._modes import MODE_WRAP, SIGNAL_BOUNDARIES
from .._validation import as_tuple
from ..filters._apply import _check_kernel, as_float_image
from ._blocks import (OnThreads, call, check_in_memory, chunk_threads, direct_last_axis,
                      fit_chunks, meta)
from ._halo import halo_map


def run(public, func_name, name, bound):
    """The lazy dask result of ``apply(image, ...)`` with `bound` arguments."""
    args = dict(bound.arguments)
    image = args.pop("image")
    check_in_memory("kernel", args["kernel"])
    # the NumPy path checks every argument and tells the result's dtype
    probe = public(np.zeros(tuple(min(n, 1) for n in image.shape), image.dtype), **args)
    kernel = _check_kernel(args["kernel"])
    stride = as_tuple(args["stride"], 2, "stride")
    wrap = SIGNAL_BOUNDARIES[args["boundary"]] == MODE_WRAP
    if stride != (1, 1):
        work = image.map_blocks(as_float_image, args["preserve_range"], dtype=probe.dtype,
                                meta=meta(image.ndim, probe.dtype))
        cval = float(probe.dtype.type(args["cval"]))
        planes = [work] if work.ndim == 2 else [work[..., c] for c in range(work.shape[2])]
        out = [signal.correlate2d(p, kernel.astype(probe.dtype), mode="same",
                                  boundary=args["boundary"], fillvalue=cval, stride=stride)
               for p in planes]
        return out[0] if work.ndim == 2 else da.stack(out, axis=-1)
    depth = [k // 2 for k in kernel.shape] + [0] * (image.ndim - 2)
    least = list(depth)
    # the rows (x) are the last axis of the planes the direct kernel filters
    k, width = kernel.shape[1], image.shape[1]
    least[1] = direct_last_axis(width, k, kernel.size, -((k - 1) // 2), width, 1, wrap)
    least[1] = width if least[1] is None else max(least[1], depth[1])
    chunks = []
    for ax in range(image.ndim):
        c = fit_chunks(image.chunks[ax], least[ax])
        if len(c) == 1:
            depth[ax] = 0
        chunks.append(c)
    image = image.rechunk(tuple(chunks))
    fn = OnThreads(functools.partial(call, public, "image", args), chunk_threads())
    return halo_map(fn, image, depth, [wrap] * image.ndim, probe.dtype,
                    meta(image.ndim, probe.dtype), "convcore-apply", least=least)
