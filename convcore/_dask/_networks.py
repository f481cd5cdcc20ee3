"""Networks over dask batches: ``predict``, ``predict_proba`` and ``conv2d`` chunk by chunk.

The batch axis keeps its chunks, every other axis becomes one chunk, and each chunk of samples goes
through the in-memory function (``map_blocks``). The model (or the weights) enters the graph once,
as one ``dask.delayed`` object every chunk task depends on: a distributed worker fetches it once
and keeps it for all its chunks, instead of unpickling a copy per task.
"""
import functools

import dask
import dask.array as da
import numpy as np

from ._blocks import OnThreads, check_in_memory, chunk_threads, meta


def _call(public, name, args, keys, block, *shipped):
    return public(**{name: block}, **args, **dict(zip(keys, shipped)))


def run(public, func_name, name, bound):
    """The lazy dask result of `public` (predict, predict_proba, conv2d) on a dask batch."""
    args = dict(bound.arguments)
    x = args.pop(name)
    if x.ndim == 0:
        raise ValueError(f"{name} must be a batch (N, ...), got a 0-d dask array")
    heavy = ["model"] if "model" in args else ["weight", "bias"]
    for key in heavy:
        check_in_memory(key, args[key])
    # the NumPy path checks the arguments on one sample (same errors, now) and tells the
    # output's per-sample shape and dtype
    probe = public(**{name: np.zeros((min(x.shape[0], 1),) + x.shape[1:], x.dtype)}, **args)
    shipped = [dask.delayed(args.pop(key), pure=False) for key in heavy]
    x = x.rechunk({ax: -1 for ax in range(1, x.ndim)})
    rest = probe.shape[1:]
    fn = OnThreads(functools.partial(_call, public, name, args, heavy), chunk_threads())
    keep = min(x.ndim, probe.ndim)
    return da.map_blocks(fn, x, *shipped,
                         chunks=(x.chunks[0],) + tuple((n,) for n in rest),
                         drop_axis=list(range(keep, x.ndim)),
                         new_axis=list(range(keep, probe.ndim)),
                         dtype=probe.dtype, meta=meta(probe.ndim, probe.dtype),
                         token=f"convcore_{func_name}")
