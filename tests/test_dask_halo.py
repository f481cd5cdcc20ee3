"""The overlap of convcore's dask path (two tasks per chunk) against dask's own map_overlap."""
import itertools

import numpy as np
import pytest

CASES = [  # shape, chunks, depth, periodic
    ((29,), ((3, 7, 4, 10, 5),), (3,), (False,)),
    ((29,), ((3, 7, 4, 10, 5),), (3,), (True,)),
    ((12,), ((5, 7),), (4,), (True,)),                  # two chunks: both neighbours the same
    ((23, 17), ((5, 2, 9, 7), (4, 4, 2, 7)), (2, 1), (False, True)),
    ((23, 17), ((5, 2, 9, 7), (17,)), (2, 0), (True, False)),
    ((9, 11, 7), ((3, 3, 3), (5, 2, 4), (2, 5)), (1, 2, 2), (True, False, True)),
    ((9, 11, 7), ((9,), (5, 2, 4), (7,)), (0, 1, 0), (False, False, False)),
]


@pytest.fixture
def da():
    return pytest.importorskip("dask.array")


def _marks(block):
    """Each sample with a weighted sum of its neighbours: wrong wherever a neighbour is missing
    or misplaced, and a function of the grown block's shape (the outer samples see zeros)."""
    out = block * 1000.0
    for ax, shift in itertools.product(range(block.ndim), (-1, 1)):
        out += (ax + 1) * shift * np.roll(block, shift, axis=ax)
    return out + block.shape[0]


@pytest.mark.parametrize("shape, chunks, depth, periodic", CASES)
def test_same_blocks_as_map_overlap(da, shape, chunks, depth, periodic):
    from convcore._dask._halo import halo_map

    x = np.random.default_rng(3).standard_normal(shape)
    d = da.from_array(x, chunks=chunks)
    ours = halo_map(_marks, d, depth, periodic, x.dtype, x[:0], "marks")
    theirs = d.map_overlap(_marks, depth=dict(enumerate(depth)),
                           boundary={ax: "periodic" if p else "none"
                                     for ax, p in enumerate(periodic)}, dtype=x.dtype)
    assert ours.chunks == theirs.chunks == d.chunks
    np.testing.assert_array_equal(ours.compute(scheduler="sync"),
                                  theirs.compute(scheduler="sync"))
    assert len(dict(ours.__dask_graph__())) == 3 * d.npartitions   # input, edges, output


@pytest.mark.parametrize("shape, chunks, depth, periodic", CASES)
def test_heavy_edges_travel_per_face(da, monkeypatch, shape, chunks, depth, periodic):
    """Edges heavier than SPLIT_BYTES are cut a piece per face and one for the corners, each
    output task reading only the pieces that face it: the blocks are still map_overlap's."""
    from convcore._dask import _halo

    monkeypatch.setattr(_halo, "SPLIT_BYTES", 0)
    x = np.random.default_rng(5).standard_normal(shape)
    d = da.from_array(x, chunks=chunks)
    ours = _halo.halo_map(_marks, d, depth, periodic, x.dtype, x[:0], "marks")
    theirs = d.map_overlap(_marks, depth=dict(enumerate(depth)),
                           boundary={ax: "periodic" if p else "none"
                                     for ax, p in enumerate(periodic)}, dtype=x.dtype)
    np.testing.assert_array_equal(ours.compute(scheduler="sync"),
                                  theirs.compute(scheduler="sync"))
    graph = dict(ours.__dask_graph__())
    for idx in np.ndindex(*d.numblocks):
        task = graph[(ours.name,) + idx]
        for side, key in zip(task[0].args[2], task[3:]):
            lent = graph[key][0](d.blocks[key[1:]].compute(scheduler="sync"))
            wanted = tuple(-s for s in side)
            if np.count_nonzero(wanted) == 1:       # a face travels alone
                assert list(lent) == [wanted]
            else:                                   # with the other corners, and no face
                assert wanted in lent and min(np.count_nonzero(k) for k in lent) > 1


def test_light_edges_travel_together(da):
    """Below SPLIT_BYTES a chunk's edges are one task, cut only where a neighbour reads them."""
    from convcore._dask._halo import halo_map

    d = da.zeros((12, 12), chunks=4)
    ours = halo_map(np.negative, d, [1, 1], [False, False], float, np.zeros((0, 0)), "n")
    graph = dict(ours.__dask_graph__())
    edges = {k: v for k, v in graph.items() if "-edges-" in k[0]}
    assert len(edges) == 9
    corner = graph[next(k for k in edges if k[1:] == (0, 0))][0](np.zeros((4, 4)))
    assert sorted(corner) == [(0, 1), (1, 0), (1, 1)]   # the sides that face a chunk


@pytest.mark.parametrize("grid, split", [((2, 2), False), ((4, 4), False), ((4, 2, 2), True)])
def test_edges_cut_before_their_chunk_is_filtered(da, monkeypatch, grid, split):
    """Each output task depends on its own chunk's edges too (without reading them), so dask's
    order cuts a chunk's edges before filtering it; on a 2x2 grid every edge comes first (without
    that dependency dask filtered the last chunk before cutting its edges, which its three
    neighbours wait for)."""
    from dask.order import order

    from convcore._dask import _halo

    if split:
        monkeypatch.setattr(_halo, "SPLIT_BYTES", 0)
    ones = da.ones(tuple(4 * n for n in grid), chunks=4).persist(scheduler="sync")
    out = _halo.halo_map(np.negative, ones, [1] * len(grid), [False] * len(grid), float,
                         np.zeros((0,) * len(grid)), "n")
    graph = {k: v for k, v in dict(out.__dask_graph__()).items() if k[0] != ones.name}
    rank = order(graph)
    for idx in np.ndindex(*grid):
        own = [k for k in graph if "-edges-" in k[0] and k[1:] == idx]
        assert own and max(rank[k] for k in own) < rank[(out.name,) + idx]
    if grid == (2, 2):
        edges = [rank[k] for k in graph if "-edges-" in k[0]]
        assert max(edges) < min(rank[k] for k in graph if k[0] == out.name)
    np.testing.assert_array_equal(out.compute(scheduler="sync"), -np.ones(ones.shape))


def test_untrimmed_output_with_block_id(da):
    """With `chunks` given, what the function returns is the output chunk; it is told its index."""
    from convcore._dask._halo import halo_map

    d = da.arange(10, chunks=(4, 6))
    seen = halo_map(lambda b, block_id: np.array([b.size, *block_id]), d, [2], [True], int,
                    np.zeros(0, int), "sizes", chunks=((2, 2),), block_id=True)
    assert seen.compute(scheduler="sync").tolist() == [8, 0, 10, 1]


def test_refuses_chunks_shorter_than_the_depth(da):
    from convcore._dask._halo import halo_map

    with pytest.raises(ValueError, match=r"axis 0: chunks \(4, 2\) cannot lend a depth of 3"):
        halo_map(np.negative, da.zeros(6, chunks=4), [3], [False], float, np.zeros(0), "n")
    with pytest.raises(ValueError, match="axis 0"):
        halo_map(np.negative, da.zeros(6, chunks=6), [1], [True], float, np.zeros(0), "n")


def _local(block):
    """A filter of reach 1 (zeros beyond the block's edge): only the block's rim depends on
    where the block ends."""
    out = block * 1000.0
    for ax, shift in itertools.product(range(block.ndim), (-1, 1)):
        moved = np.zeros_like(block)
        to = [slice(None)] * block.ndim
        at = [slice(None)] * block.ndim
        to[ax], at[ax] = (slice(1, None), slice(None, -1)) if shift > 0 else \
            (slice(None, -1), slice(1, None))
        moved[tuple(to)] = block[tuple(at)]
        out += (ax + 1) * shift * moved
    return out


@pytest.mark.parametrize("shape, chunks, depth, periodic, least, patched", [
    ((600,), ((200, 160, 240),), (1,), (False,), (0,), [True] * 3),
    ((600,), ((200, 100, 300),), (2,), (True,), (0,), [True, False, True]),
    ((160, 480), ((80, 80), (240, 240)), (1, 2), (False, True), (0, 6), [True] * 4),
    ((160, 480), ((80, 80), (240, 240)), (1, 2), (False, True), (0, 12), [False] * 4),
    ((48, 300), ((48,), (100, 120, 80)), (0, 1), (False, False), (0, 0), [True] * 3),
    ((4, 128, 128), ((2, 2), (64, 64), (64, 64)), (0, 1, 1), (True, False, False), (0, 0, 3),
     [True] * 8),
    ((24, 26, 28), ((12, 12), (13, 13), (14, 14)), (1, 1, 1), (True, False, True), (0, 0, 0),
     [False] * 8),
])
def test_rim_recomputed_as_map_overlap(da, shape, chunks, depth, periodic, least, patched):
    """Chunks much wider than the depth are filtered as they are and their rims again from thin
    slabs (when those are at most RIM_SHARE of the chunk): the same result as dask's
    map_overlap, whichever path a chunk takes."""
    from convcore._dask._halo import _run_patched, halo_map

    x = np.random.default_rng(4).standard_normal(shape)
    d = da.from_array(x, chunks=chunks)
    ours = halo_map(_local, d, depth, periodic, x.dtype, x[:0], "local", least=least)
    layer = ours.dask.layers[ours.name]
    assert [layer[(ours.name,) + idx][0].func is _run_patched
            for idx in np.ndindex(*d.numblocks)] == patched
    theirs = d.map_overlap(_local, depth=dict(enumerate(depth)),
                           boundary={ax: "periodic" if p else "none"
                                     for ax, p in enumerate(periodic)}, dtype=x.dtype)
    np.testing.assert_array_equal(ours.compute(scheduler="sync"),
                                  theirs.compute(scheduler="sync"))
