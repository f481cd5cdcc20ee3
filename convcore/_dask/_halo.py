"""Overlapping chunks in two tasks per chunk: the chunk's edges cut once, then the chunk filtered.

``dask.array.map_overlap`` cuts every piece a chunk lends its neighbours as a task of its own
(``3**ndim - 1`` per chunk: 100 tasks for a 4x4 grid, 16 for the chunks themselves), moves each
one separately between workers, and lets another task concatenate them around the chunk before
the function runs. For filters of a few milliseconds per chunk that bookkeeping costs more than
the filtering. Here every chunk gives one task that copies the edges its neighbours read (a few
rows of each side, so the chunk itself is not pinned by its neighbours), and every output chunk
is one task: its own chunk and its neighbours' edges assembled in one copy, the function, the
trim. Only edges travel between workers, and where they are heavy (3-D chunks) they are cut a
piece per face and one for the corners, so each neighbour fetches only what faces it. A filter
whose outputs read only within the depth (``least=``) skips the copy where the chunk is wide:
it filters the chunk as it is and then recomputes the rim from thin slabs; one of passes along
an axis at a time (``pieces=``) reads the edges where they lie and copies nothing.

Every output task also takes its own chunk's edges, without reading them: dask orders a task
after its dependencies, so a chunk's edges are cut before the chunk itself is filtered (on a 2x2
grid dask's order otherwise cut one chunk's edges after filtering it, its neighbours idle that
long).

The grown block is the one ``map_overlap`` would pass (per axis ``boundary='none'``, nothing
added at the array's outer edge, or ``'periodic'``, the far end's edge), so a chunk function
written for it runs unchanged.
"""
import functools
import itertools
import math

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from ..ndimage._support import HUGE_PAGE, empty


def _sides(depth):
    """Every direction a chunk lends an edge to: -1, 0 or +1 per axis (0 where the depth is 0),
    not all 0."""
    return [s for s in itertools.product(*[(-1, 0, 1) if d else (0,) for d in depth]) if any(s)]


def _edge_index(side, depth, shape):
    return tuple(slice(None) if s == 0 else slice(None, d) if s < 0 else slice(n - d, None)
                 for s, d, n in zip(side, depth, shape))


def _copy(piece):
    """A C-contiguous copy of `piece`, from 2 MiB up on huge pages: in a worker (whose malloc
    maps every large block afresh, ``MALLOC_TRIM_THRESHOLD_``) copying a 2 MiB face into 4 KiB
    pages took 1.6 ms, 0.1 ms into memory already touched, and the edges' copies were most of a
    chunk's edge cutting (5.9 against 1.2 ms for a 128x256x256 float32 chunk at depth 8)."""
    out = empty(piece.shape, piece.dtype, huge=HUGE_PAGE)
    out[...] = piece
    return out


def _edges(depth, sides, block):
    """{side: a copy of `block`'s edge there} for each of `sides`: per axis the first (-1) or
    last (+1) ``depth`` samples, or all of them (0)."""
    return {side: _copy(block[_edge_index(side, depth, block.shape)]) for side in sides}


#: a chunk's edges travel in one piece per face and one for all the corners (each fetched only by
#: the neighbours that read it) when together they weigh more than this; below it one task cuts
#: them all. A task costs the cluster ~1.5 ms; the edges of a 128x256x256 float32 chunk 8 deep
#: weigh 8.4 MB, and each of its up to 26 neighbours would fetch them all to use a sixth or less
#: (task stream of a 3-D Gaussian of sigma 2, 512^3 float32 in 16 chunks, two workers: 596 ms
#: spent in transfers with the edges whole, 221 ms split; 2-D chunks of 2048^2 lend ~0.1 MB)
SPLIT_BYTES = 2 ** 21


def _group(side):
    """The piece that `side` travels in when a chunk's edges are split: the face it lies on (axis
    and direction) or, touching more than one face, the corners."""
    faces = [(ax, s) for ax, s in enumerate(side) if s]
    return faces[0] if len(faces) == 1 else "corners"


def _label(group):
    return group if group in ("all", "corners") else f"{group[0]}{'+' if group[1] > 0 else '-'}"


def _neighbour(idx, side, numblocks, periodic):
    """The index of the chunk beside chunk `idx` in direction `side`; None past the array's edge."""
    out = []
    for i, s, n, p in zip(idx, side, numblocks, periodic):
        j = (i + s) % n if p else i + s
        if not 0 <= j < n:
            return None
        out.append(j)
    return tuple(out)


def _window(block, margins, lent, box):
    """The part `box` (per axis ``(start, stop)``) of `block` grown by `margins` with its
    neighbours' edges; `lent` pairs each neighbour's direction with its edges (of which the side
    facing `block` is taken). Only that part is assembled."""
    out = np.empty([stop - start for start, stop in box], block.dtype)
    for offset, piece in [((0,) * block.ndim, block)] + [
            (o, edges[tuple(-v for v in o)]) for o, edges in lent]:
        src, dst = [], []
        for o, (lo, hi), n, (start, stop) in zip(offset, margins, block.shape, box):
            at = 0 if o < 0 else lo + n if o > 0 else lo    # where the piece lies in the grown
            a, b = max(at, start), min(at + (hi if o > 0 else lo if o < 0 else n), stop)
            if a >= b:
                break
            src.append(slice(a - at, b - at))
            dst.append(slice(a - start, b - start))
        else:
            out[tuple(dst)] = piece[tuple(src)]
    return out


def _run_pieces(fn, offsets, block, cut, *edges):
    """`fn` on the chunk and ``pieces=`` {direction: the edge its neighbour there lends it},
    nothing copied together; `cut` is not read, as in :func:`_run`."""
    return fn(block, pieces={o: lent[tuple(-v for v in o)] for o, lent in zip(offsets, edges)})


def _grown_box(margins, shape):
    return [(0, lo + n + hi) for (lo, hi), n in zip(margins, shape)]


def _run(fn, margins, offsets, block_id, trim, block, cut, *edges):
    """`fn` on the whole grown block; its margins trimmed from the result afterwards (`trim`
    'after') or not at all (None: `fn` returns the output chunk). `cut` (the chunk's own
    edges) is not read: see :func:`halo_map`."""
    lent = list(zip(offsets, edges))
    grown = block if not lent else _window(block, margins, lent, _grown_box(margins, block.shape))
    out = fn(grown) if block_id is None else fn(grown, block_id=block_id)
    if trim is None:
        return out
    return out[tuple(slice(lo, lo + n) for (lo, _), n in zip(margins, block.shape))]


#: a chunk is filtered as it is and its rim again when the slabs are at most this share of it
#: (measured on 2048^2 float32 chunks, one thread: the copy into a grown block costs about as
#: much as filtering 10% more samples with the cheapest filters; thicker slabs lose)
RIM_SHARE = 0.1


def _rim_share(margins, depth, least, shape):
    """The slabs' size over the chunk's: one slab per side that has a neighbour, `3 * depth`
    thick (the rim and the reach on both sides of it) or `least`."""
    return sum((bool(lo) + bool(hi)) * max(3 * d, m) / n
               for (lo, hi), d, m, n in zip(margins, depth, least, shape) if lo or hi)


def _run_patched(fn, margins, offsets, least, block, cut, *edges):
    """`fn` on `block` alone, right wherever the filter's reach stays inside it, then the rim
    (`depth` samples along each side that has a neighbour) recomputed from slabs of the grown
    block: the rim plus the reach on both sides, as thick as `least` says. The chunk is not
    copied; the slabs are small. `cut` is not read, as in :func:`_run`."""
    lent = list(zip(offsets, edges))
    out = fn(block)
    if np.may_share_memory(out, block):
        out = out.copy()
    box = _grown_box(margins, block.shape)
    for ax, ((lo, hi), n, (_, size)) in enumerate(zip(margins, block.shape, box)):
        for depth, low in ((lo, True), (hi, False)):
            if not depth:
                continue
            thick = min(max(3 * depth, least[ax]), size)
            start = 0 if low else size - thick
            slab_box = list(box)
            slab_box[ax] = (start, start + thick)
            result = fn(_window(block, margins, lent, slab_box))
            rim = lo if low else lo + n - depth     # the rim's start in the grown block
            keep = [slice(m, m + k) for (m, _), k in zip(margins, block.shape)]
            keep[ax] = slice(rim - start, rim - start + depth)
            put = [slice(None)] * block.ndim
            put[ax] = slice(rim - lo, rim - lo + depth)
            out[tuple(put)] = result[tuple(keep)]
    return out


def halo_map(fn, x, depth, periodic, dtype, meta, name, chunks=None, block_id=False, least=None,
             pieces=False):
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
    least : sequence of int, optional
        With it, `fn` is a filter whose every output reads only samples within `depth` of it,
        the same way in any block at least `least` long per axis: a chunk is then filtered as
        it is, and only its rim again, from slabs that thick, instead of copied into a grown
        block, when the slabs are at most :data:`RIM_SHARE` of it.
    pieces : bool
        `fn` is given the chunk itself (not to be overwritten) and ``pieces=``, {direction (-1,
        0 or +1 per axis): the edge of the neighbour there}, instead of a grown block, and
        returns the output chunk: a filter that reads the edges where they lie (one pass along
        an axis at a time, ``lines.correlate``'s ``lo`` / ``hi``) needs no chunk-sized copy.

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
    token = tokenize(fn, x, depth, tuple(periodic), chunks, block_id, least, pieces)
    out_name, edge_name = f"{name}-{token}", f"{name}-edges-{token}"
    numblocks, sides = x.numblocks, _sides(depth)
    cuts, dsk, lender, own = {}, {}, {}, {}
    for idx in np.ndindex(*numblocks):
        # the sides some neighbour reads (side s goes to the chunk in direction s), in one
        # piece or, when heavy, a piece per face and one for the corners
        read = [s for s in sides if _neighbour(idx, s, numblocks, periodic) is not None]
        shape = [c[i] for c, i in zip(x.chunks, idx)]
        size = sum(math.prod(d if s else n for s, d, n in zip(side, depth, shape))
                   for side in read) * x.dtype.itemsize
        groups = {}
        for side in read:
            groups.setdefault(_group(side) if size > SPLIT_BYTES else "all", []).append(side)
        for group, members in groups.items():
            key = (f"{edge_name}-{_label(group)}",) + idx
            cuts[key] = (functools.partial(_edges, depth, tuple(members)), (x.name,) + idx)
            lender.update({(idx, side): key for side in members})
            own.setdefault(idx, []).append(key)
    for idx in np.ndindex(*numblocks):
        margins, offsets, keys = [], [], []
        shape = [c[i] for c, i in zip(x.chunks, idx)]
        for ax, (i, d) in enumerate(zip(idx, depth)):
            n = numblocks[ax]
            margins.append((d if (i > 0 or periodic[ax]) else 0,
                            d if (i < n - 1 or periodic[ax]) else 0))
        for side in sides:
            neighbour = _neighbour(idx, side, numblocks, periodic)
            if neighbour is not None:
                offsets.append(side)
                keys.append(lender[neighbour, tuple(-s for s in side)])
        if pieces:
            task = functools.partial(_run_pieces, fn, tuple(offsets))
        elif (least is not None and chunks is None and not block_id
                and _rim_share(margins, depth, least, shape) <= RIM_SHARE):
            task = functools.partial(_run_patched, fn, tuple(margins), tuple(offsets),
                                     tuple(least))
        else:
            trim = None if chunks is not None else "after"
            task = functools.partial(_run, fn, tuple(margins), tuple(offsets),
                                     tuple(idx) if block_id else None, trim)
        dsk[(out_name,) + idx] = (task, (x.name,) + idx, own.get(idx, []), *keys)
    graph = HighLevelGraph.from_collections(out_name, {**cuts, **dsk}, dependencies=[x])
    return da.Array(graph, out_name, x.chunks if chunks is None else chunks, dtype=dtype,
                    meta=meta)
