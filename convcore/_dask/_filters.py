"""convcore.filters.apply on a dask image (H, W) or (H, W, C).

Without a stride the image is filtered as :mod:`._ndimage` filters: ``apply`` itself on every
chunk grown by the kernel's reach (``K // 2`` along y and x, none across channels). With a stride
the in-memory path correlates each channel with :func:`convcore.signal.correlate2d`; so does this
one, through the dask path of that function, after the same conversion to floats. The edge rule
'none' (only where the whole kernel fits) is the 'fill' result with its rim cut off, or
``correlate2d(mode='valid')`` with a stride.
"""
import functools

import dask.array as da
import numpy as np

from .. import signal
from .._validation import as_tuple
from ..filters._apply import _check_boundary, _check_fits, _check_kernel, as_float_image
from ._blocks import (OnThreads, call, check_in_memory, chunk_threads, direct_last_axis,
                      fit_chunks, meta)
from ._halo import halo_map


def run(public, func_name, name, bound):
    """The lazy dask result of ``apply(image, ...)`` with `bound` arguments."""
    return _lazy(public, dict(bound.arguments))


def _lazy(public, args):
    image = args.pop("image")
    check_in_memory("kernel", args["kernel"])
    rule = _check_boundary(args["boundary"])
    if rule is None:
        _check_fits(image.shape, _check_kernel(args["kernel"]).shape)
        args["boundary"] = "fill"
    # the NumPy path checks every argument and tells the result's dtype
    probe = public(np.zeros(tuple(min(n, 1) for n in image.shape), image.dtype), **args)
    kernel = _check_kernel(args["kernel"])
    stride = as_tuple(args["stride"], 2, "stride")
    if rule is None and stride == (1, 1):
        (k0, k1), (h, w) = kernel.shape, image.shape[:2]
        y, x = (k0 - 1) // 2, (k1 - 1) // 2      # as the in-memory path cuts it
        same = _lazy(public, dict(args, image=image))
        return same[y:y + h - k0 + 1, x:x + w - k1 + 1]
    wrap = rule == "wrap"
    if stride != (1, 1):
        work = image.map_blocks(as_float_image, args["preserve_range"], dtype=probe.dtype,
                                meta=meta(image.ndim, probe.dtype))
        cval = float(probe.dtype.type(args["cval"]))
        planes = [work] if work.ndim == 2 else [work[..., c] for c in range(work.shape[2])]
        out = [signal.correlate2d(p, kernel.astype(probe.dtype),
                                  mode="same" if rule is not None else "valid",
                                  boundary=rule or "fill", fillvalue=cval, stride=stride)
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
