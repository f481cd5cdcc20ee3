"""Overlapping chunks in two tasks per chunk: the chunk's edges cut once, then grown, run, trimmed.

``dask.array.map_overlap`` cuts every piece a chunk lends its neighbours as a task of its own
(``3**ndim - 1`` per chunk: 100 tasks for a 4x4 grid, 16 for the chunks themselves), moves each
one separately between workers, and lets another task concatenate them around the chunk before
the function runs. For filters of a few milliseconds per chunk that bookkeeping costs more than
the filtering. Here every chunk gives one task that copies all its edges at once (a few rows of
each side, so the chunk itself is not pinned by its neighbours), and every output chunk is one
task: its own chunk and its neighbours' edges assembled in one copy, the function, the trim.

The grown block is the one ``map_overlap`` would pass (per axis ``boundary='none'``, nothing
added at the array's outer edge, or ``'periodic'``, the far end's edge), so a chunk function
written for it runs unchanged.
"""
import functools
import itertools

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph


def _sides(depth):
    """Every direction a chunk lends an edge to: -1, 0 or +1 per axis (0 where the depth is 0),
    not all 0."""
    return [s for s in itertools.product(*[(-1, 0, 1) if d else (0,) for d in depth]) if any(s)]


def _edge_index(side, depth, shape):
    return tuple(slice(None) if s == 0 else slice(None, d) if s < 0 else slice(n - d, None)
                 for s, d, n in zip(side, depth, shape))


def _edges(depth, block):
    """{side: a copy of `block`'s edge there}: per axis the first (-1) or last (+1) ``depth``
    samples, or all of them (0)."""
    return {side: block[_edge_index(side, depth, block.shape)].copy() for side in _sides(depth)}


def _grow(block, margins, lent):
    """`block` with its neighbours' edges around it; `lent` pairs each neighbour's direction
    with its edges (the side facing `block` is taken)."""
    shape = tuple(lo + n + hi for (lo, hi), n in zip(margins, block.shape))
    if shape == block.shape:
        return block
    grown = np.empty(shape, block.dtype)

    def place(offset):
        return tuple(slice(0, lo) if o < 0 else slice(lo + n, lo + n + hi) if o > 0
                     else slice(lo, lo + n) for o, (lo, hi), n in zip(offset, margins, block.shape))

    grown[place((0,) * block.ndim)] = block
    for offset, edges in lent:
        grown[place(offset)] = edges[tuple(-o for o in offset)]
    return grown


def _run(fn, margins, offsets, block_id, trim, block, *edges):
    grown = _grow(block, margins, zip(offsets, edges))
    out = fn(grown) if block_id is None else fn(grown, block_id=block_id)
    if not trim:
        return out
    return out[tuple(slice(lo, lo + n) for (lo, _), n in zip(margins, block.shape))]


def halo_map(fn, x, depth, periodic, dtype, meta, name, chunks=None, block_id=False):
    """``fn`` on every chunk of `x` grown by `depth` samples per axis (two tasks per chunk).

    Parameters
    ----------
    fn : callable
        Takes the grown block (and ``block_id=`` when `block_id`); picklable.
    x : dask.array.Array
        Every chunk along an axis of nonzero depth at least that deep; an axis of one chunk must
        have depth 0.
    depth : sequence of int
        Samples added on either side, per axis.
    periodic : sequence of bool
        Per axis, whether the outer chunks get the far end's edge (else nothing at the outer edge).
    dtype, meta
        Of the result.
    name : str
        Prefix of the result's keys.
    chunks : tuple of tuples, optional
        The result's chunks when `fn` returns them exactly (no trim); default: `x`'s chunks, the
        margins trimmed from what `fn` returns.
    block_id : bool
        Pass the chunk's index to `fn` as ``block_id``.

    Examples
    --------
    A moving sum of three samples, chunk by chunk:

    >>> import dask.array as da
    >>> x = da.arange(8, chunks=3)
    >>> moving = halo_map(lambda b: np.convolve(b, [1, 1, 1], "same"), x, [1], [False],
    ...                   x.dtype, x._meta, "moving-sum")
    >>> moving.compute()
    array([ 1,  3,  6,  9, 12, 15, 18, 13])
    """
    depth = tuple(int(d) for d in depth)
    for ax, d in enumerate(depth):
        if d and (len(x.chunks[ax]) < 2 or min(x.chunks[ax]) < d):
            raise ValueError(f"axis {ax}: chunks {x.chunks[ax]} cannot lend a depth of {d}")
    token = tokenize(fn, x, depth, tuple(periodic), chunks, block_id)
    out_name, edge_name = f"{name}-{token}", f"{name}-edges-{token}"
    numblocks = x.numblocks
    dsk = {}
    sides = _sides(depth)
    if sides:
        cut = functools.partial(_edges, depth)
        for idx in np.ndindex(*numblocks):
            dsk[(edge_name,) + idx] = (cut, (x.name,) + idx)
    for idx in np.ndindex(*numblocks):
        margins, offsets, keys = [], [], []
        for ax, (i, d) in enumerate(zip(idx, depth)):
            n = numblocks[ax]
            margins.append((d if (i > 0 or periodic[ax]) else 0,
                            d if (i < n - 1 or periodic[ax]) else 0))
        for side in sides:
            neighbour = []
            for ax, (i, o) in enumerate(zip(idx, side)):
                j = i + o
                if periodic[ax]:
                    j %= numblocks[ax]
                neighbour.append(j)
            if all(0 <= j < n for j, n in zip(neighbour, numblocks)):
                offsets.append(side)
                keys.append((edge_name,) + tuple(neighbour))
        task = functools.partial(_run, fn, tuple(margins), tuple(offsets),
                                 tuple(idx) if block_id else None, chunks is None)
        dsk[(out_name,) + idx] = (task, (x.name,) + idx, *keys)
    graph = HighLevelGraph.from_collections(out_name, dsk, dependencies=[x])
    return da.Array(graph, out_name, x.chunks if chunks is None else chunks, dtype=dtype,
                    meta=meta)
