"""convcore.ndimage on dask arrays: lazy results equal to the in-memory convcore result bit for bit.

Every filter, every mode, 1-D to 3-D, float64 and integer data, uneven chunks and chunks of one
pixel, against the same call on the NumPy array (whose agreement with scipy.ndimage the other
test modules establish). The one exception, pinned below: a float uniform filter is a running sum
whose rounding depends on where its line starts, so chunks agree with the whole array to rounding.
"""
import itertools

import numpy as np
import pytest

from convcore import ndimage

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant",
         "grid-wrap"]
SHAPES = {1: (29,), 2: (23, 17), 3: (9, 11, 7)}
CHUNKS = {  # uneven chunks, and chunks of one pixel (along one axis at least)
    (1, "uneven"): ((3, 7, 1, 10, 8),), (1, "pixel"): ((1,) * 29,),
    (2, "uneven"): ((5, 1, 9, 8), (4, 4, 2, 7)), (2, "pixel"): ((1,) * 23, (3, 3, 3, 3, 3, 1, 1)),
    (3, "uneven"): ((2, 3, 4), (5, 1, 5), (1, 6)), (3, "pixel"): ((9,), (1,) * 11, (7,)),
}


@pytest.fixture
def da():
    return pytest.importorskip("dask.array")


def _weights(ndim, seed=1):
    shape = (3, 4, 3)[:ndim]
    return np.random.default_rng(seed).integers(-3, 4, shape) * 0.25


def _cases(ndim, mode):
    """(function, kwargs) for every filter, with origins, axes and per-axis options exercised."""
    last = ndim - 1
    cases = [
        ("correlate1d", dict(weights=[1.0, 3.0, -2.0, 0.5], axis=0, origin=1)),
        ("convolve1d", dict(weights=[2, -1, 1, 3], axis=last, origin=-2)),
        ("correlate", dict(weights=_weights(ndim), origin=1)),
        ("convolve", dict(weights=_weights(ndim, 2), origin=[-1] + [0] * (ndim - 1))),
        ("uniform_filter1d", dict(size=4, axis=last, origin=1)),
        ("uniform_filter", dict(size=[3, 5, 2][:ndim], origin=[1, -2, 0][:ndim])),
        ("gaussian_filter1d", dict(sigma=1.5, axis=0, order=1, truncate=3.0)),
        ("gaussian_filter", dict(sigma=[1.0, 2.0, 0.7][:ndim], order=[0, 1, 0][:ndim])),
        ("sobel", dict(axis=0)),
        ("prewitt", dict(axis=last)),
        ("laplace", dict()),
        ("gaussian_laplace", dict(sigma=1.2, truncate=3.0)),
        ("gaussian_gradient_magnitude", dict(sigma=0.8, radius=3)),
    ]
    if ndim == 3:
        cases += [("correlate", dict(weights=_weights(2), axes=(2, 0), origin=(1, 0))),
                  ("gaussian_filter", dict(sigma=1.0, axes=(0, 2), radius=(2, 4))),
                  ("uniform_filter", dict(size=3, axes=[1])),
                  ("laplace", dict(axes=(0, 1)))]
    return [(name, dict(kw, mode=mode, cval=2.5 if "constant" in mode else 0.0))
            for name, kw in cases]


def _data(shape, dtype):
    rng = np.random.default_rng(7)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 200, shape).astype(dtype)


def _check(da, name, kwargs, ndim, dtype, chunking, scheduler="threads"):
    """The lazy result of filter `name` equals the in-memory one; returns the lazy array."""
    shape, chunks = WIDE[ndim] if chunking == "wide" else (SHAPES[ndim], CHUNKS[ndim, chunking])
    x = _data(shape, dtype)
    func = getattr(ndimage, name)
    lazy = func(da.from_array(x, chunks=chunks), **kwargs)
    assert isinstance(lazy, da.Array)
    expected = func(x, **kwargs)
    got = lazy.compute(scheduler=scheduler)
    assert got.dtype == expected.dtype == lazy.dtype
    assert got.shape == expected.shape
    if name.startswith("uniform") and x.dtype.kind == "f":
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_array_equal(got, expected)
    return lazy


# every filter in every mode (2-D, float64 and integers, uneven chunks)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.int16])
def test_every_mode(da, mode, dtype):
    for name, kwargs in _cases(2, mode):
        _check(da, name, kwargs, 2, dtype, "uneven")


# every filter in 1-D, 2-D and 3-D, with uneven chunks and one-pixel chunks, the modes in turn
@pytest.mark.parametrize("ndim,chunking,dtype", list(itertools.product(
    [1, 2, 3], ["uneven", "pixel"], [np.float64, np.uint8])))
def test_dimensions_and_chunks(da, ndim, chunking, dtype):
    for i, (name, kwargs) in enumerate(_cases(ndim, "reflect")):
        kwargs["mode"] = MODES[(i + ndim) % len(MODES)]
        _check(da, name, kwargs, ndim, dtype, chunking)


# chunks much wider than the overlap, filtered as they are and their rims again from thin slabs
WIDE = {2: ((240, 480), (120, 240)), 3: ((6, 8, 480), (3, 4, 240))}


@pytest.mark.parametrize("ndim,mode", [(2, m) for m in MODES] + [(3, "mirror"), (3, "wrap")])
@pytest.mark.parametrize("dtype", [np.float64, np.int16])
def test_wide_chunks(da, ndim, mode, dtype):
    from convcore._dask._halo import _run_patched

    patched = []
    for name, kwargs in _cases(ndim, mode):
        lazy = _check(da, name, kwargs, ndim, dtype, "wide")
        layer = lazy.dask.layers[lazy.name]
        if any(task[0].func is _run_patched for key, task in layer.items()
               if key[0] == lazy.name):
            patched.append(name)
    assert {"convolve1d", "uniform_filter1d"} <= set(patched), patched
    if ndim == 2:
        assert {"sobel", "prewitt", "laplace"} <= set(patched), patched


@pytest.mark.parametrize("dtype,output", [(np.uint8, np.float64), (np.float64, np.int32),
                                          (np.int32, None), (np.float32, None)])
def test_output_dtypes(da, dtype, output):
    x = _data((30, 20), dtype)
    d = da.from_array(x, chunks=(7, 6))
    for name in ("gaussian_filter", "sobel", "correlate"):
        kw = {"weights": _weights(2)} if name == "correlate" else (
            {"sigma": 1.3} if name == "gaussian_filter" else {})
        expected = getattr(ndimage, name)(x, output=output, **kw)
        got = getattr(ndimage, name)(d, output=output, **kw)
        assert got.dtype == expected.dtype
        if x.dtype == np.float32:   # float32: not part of the bit-for-bit promise
            np.testing.assert_allclose(got.compute(), expected, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(got.compute(), expected)


@pytest.mark.parametrize("mode", MODES)
def test_wide_rows(da, mode):
    """Rows much longer than the kernel: the direct kernel sums edge columns in its own order,
    and chunks at the edges make the whole array's choice of that order."""
    x = _data((12, 300), np.float64)
    d = da.from_array(x, chunks=(5, 11))
    for name, kw in [("correlate", dict(weights=_weights(2), origin=(0, 1))),
                     ("convolve", dict(weights=_weights(2, 3)[:, :2])),
                     ("correlate", dict(weights=_weights(1), axes=1))]:
        func = getattr(ndimage, name)
        np.testing.assert_array_equal(func(d, mode=mode, **kw).compute(),
                                      func(x, mode=mode, **kw))


@pytest.mark.parametrize("size", [3, 5, 7])
def test_real_weights_on_wide_rows(da, size):
    """Weights with full mantissas, so that any change in the order of a sum shows: a chunk's
    rows pair up differently from the whole array's (odd and uneven row counts) and its columns
    fall into other vector steps and tails, yet every output sums its taps the same way."""
    rng = np.random.default_rng(size)
    x = rng.standard_normal((31, 301))
    w = rng.standard_normal((size, size))
    expected = ndimage.correlate(x, w)
    for chunks in [((7, 1, 12, 11), (37, 100, 64, 100)), ((10, 21), (150, 151)), ((31,), (3, 298))]:
        got = ndimage.correlate(da.from_array(x, chunks=chunks), w).compute()
        np.testing.assert_array_equal(got, expected)


def test_per_axis_modes_and_mixed_wrap(da):
    x = _data((25, 19), np.float64)
    d = da.from_array(x, chunks=(4, 3))
    for name, kw in [("gaussian_filter", dict(sigma=1.5, mode=["wrap", "mirror"])),
                     ("sobel", dict(mode=["constant", "wrap"], cval=1.0)),
                     ("uniform_filter", dict(size=(4, 3), mode=["grid-wrap", "nearest"])),
                     ("gaussian_laplace", dict(sigma=1.0, mode=["wrap", "reflect"])),
                     ("gaussian_gradient_magnitude", dict(sigma=1.0, mode=["nearest", "wrap"]))]:
        func = getattr(ndimage, name)
        got = func(d, **kw).compute()
        if name == "uniform_filter":
            np.testing.assert_allclose(got, func(x, **kw), rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(got, func(x, **kw))


def test_overlap_is_the_reach(da):
    """Two tasks per chunk (its edges, its filtering), and a chunk lends exactly the filter's
    reach: a Gaussian of radius 3 takes 3 samples from each side of its neighbours."""
    import dask

    d = da.from_array(np.zeros((40, 40)), chunks=(10, 10))
    lazy = ndimage.gaussian_filter(d, sigma=1.0, truncate=3.0)
    graph = dict(lazy.__dask_graph__())
    assert len(graph) == 3 * 16     # the input's 16 chunks, then 2 tasks per chunk
    assert lazy.chunks == d.chunks
    edges = dask.get(graph, next(k for k in graph if "-edges-" in k[0] and k[1:] == (1, 1)))
    assert {side: piece.shape for side, piece in edges.items()} == {
        (-1, -1): (3, 3), (-1, 0): (3, 10), (-1, 1): (3, 3), (0, -1): (10, 3),
        (0, 1): (10, 3), (1, -1): (3, 3), (1, 0): (3, 10), (1, 1): (3, 3)}
    small = ndimage.gaussian_filter(da.from_array(np.zeros((40, 40)), chunks=(2, 40)), sigma=1.0,
                                    truncate=3.0)
    assert min(small.chunks[0]) >= 3    # chunks shorter than the overlap were merged


def test_tasks_named_per_filter_and_job(da):
    """dask's scheduler estimates a task's run time from its key's prefix (``key_split``) and steals
    tasks it thinks long to idle workers, moving their inputs: a filter's edge cuts (a millisecond,
    their input a whole chunk) and its filtering, and each filter, carry prefixes of their own."""
    from dask.utils import key_split

    d = da.from_array(np.zeros((40, 40)), chunks=(10, 10))
    prefixes = {}
    for name, lazy in [("gaussian_filter", ndimage.gaussian_filter(d, sigma=1.0)),
                       ("sobel", ndimage.sobel(d)), ("uniform_filter", ndimage.uniform_filter(d))]:
        keys = [k for k in dict(lazy.__dask_graph__()) if k[0].startswith("convcore")]
        prefixes[name] = {key_split(k) for k in keys}
        assert prefixes[name] == {f"convcore_{name}", f"convcore_{name}-edges"}
    assert len(set.union(*prefixes.values())) == 6


@pytest.mark.parametrize("dtype,output", [(np.float32, None), (np.float64, None),
                                          (np.uint8, None), (np.int16, np.float32),
                                          (np.float64, np.int8), (np.complex128, None)])
@pytest.mark.parametrize("kw", [dict(sigma=2.0),
                                dict(sigma=(1.0, 0.0, 1.5), order=(0, 0, 1), mode="wrap"),
                                dict(sigma=1.2, mode=["nearest", "constant", "mirror"], cval=3.0),
                                dict(sigma=(1.5, 0.8), axes=(2, 0), radius=(4, 2)),
                                dict(sigma=(0.0, 1.1, 0.9), mode="mirror")])
def test_3d_gaussian_pass_by_pass(da, dtype, output, kw):
    """On 3-D chunks a Gaussian runs its passes one axis at a time on the chunk and its
    neighbours' edges where they lie (no grown copy): the same samples as the whole array's
    call, bit for bit."""
    from convcore._dask._halo import _run_pieces

    x = _data((20, 26, 24), dtype)
    if dtype == np.complex128:
        x = x + 1j * _data((20, 26, 24), np.float64)[::-1]
    d = da.from_array(x, chunks=(9, 13, 12))
    lazy = ndimage.gaussian_filter(d, output=output, **kw)
    layer = lazy.dask.layers[lazy.name]
    assert {task[0].func for key, task in layer.items() if key[0] == lazy.name} == {_run_pieces}
    expected = ndimage.gaussian_filter(x, output=output, **kw)
    got = lazy.compute(scheduler="threads")
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_3d_gaussian_arrays_on_huge_pages(da, monkeypatch, dtype):
    """Edges from 2 MiB up are copied, and the passes' new arrays written, on huge-page
    boundaries (the edges' outputs carved from one buffer): with the page made 4 KiB, these
    small chunks take that path, and the result is still the whole array's, bit for bit."""
    from convcore._dask import _halo, _ndimage
    from convcore.ndimage import _support

    for module in (_support, _halo, _ndimage):
        monkeypatch.setattr(module, "HUGE_PAGE", 4096)
    x = _data((24, 40, 36), np.float64).astype(dtype)
    edge = _halo._copy(x[:, :, -8:])
    assert edge.ctypes.data % 4096 == 0 and edge.flags.c_contiguous
    np.testing.assert_array_equal(edge, x[:, :, -8:])
    d = da.from_array(x, chunks=(12, 20, 18))     # every face and edges' output >= 4 KiB
    got = ndimage.gaussian_filter(d, 2.0).compute(scheduler="threads")
    np.testing.assert_array_equal(got, ndimage.gaussian_filter(x, 2.0))


def test_4d_gaussian_and_bool_output(da):
    """Four axes, passes dropping their margins as they go, and a bool output, whose bytes each
    pass stores and the next one reads, as in memory."""
    x = _data((7, 8, 9, 10), np.float64)
    d = da.from_array(x, chunks=(3, 4, 5, 4))
    np.testing.assert_array_equal(ndimage.gaussian_filter(d, 0.8).compute(scheduler="sync"),
                                  ndimage.gaussian_filter(x, 0.8))
    y = x[..., 0] - 0.5
    b = ndimage.gaussian_filter(d[..., 0] - 0.5, 1.0, output=bool)
    np.testing.assert_array_equal(b.compute(scheduler="sync"),
                                  ndimage.gaussian_filter(y, 1.0, output=bool))


def test_short_axis_and_long_kernel(da):
    """An axis shorter than the kernel becomes one chunk (several reflections, as in memory)."""
    x = _data((5, 40), np.float64)
    d = da.from_array(x, chunks=(2, 9))
    for mode in MODES:
        kw = dict(sigma=4.0, mode=mode)
        np.testing.assert_array_equal(ndimage.gaussian_filter(d, **kw).compute(),
                                      ndimage.gaussian_filter(x, **kw))


def test_zero_size_chunks_and_empty(da):
    x = _data((12, 9), np.float64)
    d = da.from_array(x, chunks=((3, 0, 9), (0, 4, 5)))
    np.testing.assert_array_equal(ndimage.sobel(d).compute(), ndimage.sobel(x))
    e = ndimage.gaussian_filter(da.zeros((0, 5), chunks=(1, 5)), 1.0)
    assert e.shape == (0, 5) and e.compute().shape == (0, 5)


@pytest.mark.parametrize("call", [
    lambda m, x: m.gaussian_filter(x, 1.0, mode="reflected"),
    lambda m, x: m.correlate1d(x, [1, 2, 3], origin=2),
    lambda m, x: m.uniform_filter(x, size=(3, 3, 3)),
    lambda m, x: m.sobel(x, axis=2),
    lambda m, x: m.gaussian_filter1d(x, -1.0),
    lambda m, x: m.correlate(x, np.ones((3, 3, 3))),
    lambda m, x: m.laplace(x, mode=["reflect"]),
])
def test_errors_are_the_numpy_ones_and_eager(da, call):
    x = np.zeros((6, 6))
    with pytest.raises((ValueError, TypeError, RuntimeError)) as expected:   # SciPy refuses some with RuntimeError
        call(ndimage, x)
    with pytest.raises(expected.type) as got:
        call(ndimage, da.from_array(x, chunks=3))   # raised by the call: nothing computed
    assert str(got.value) == str(expected.value)


def test_refuses_output_array_and_dask_weights(da):
    d = da.zeros((6, 6), chunks=3)
    with pytest.raises(TypeError, match="output must be None or a dtype"):
        ndimage.sobel(d, output=np.zeros((6, 6)))
    with pytest.raises(TypeError, match="weights must be an in-memory array"):
        ndimage.correlate(d, da.ones((3, 3), chunks=3))


def test_chunk_threads(da):
    """One kernel thread per chunk task unless dask.config's ``convcore.threads`` says more; the
    setting is the task thread's own (the process setting is left alone)."""
    import dask

    from convcore import get_num_threads
    from convcore._dask._blocks import OnThreads, chunk_threads

    before = get_num_threads()
    assert chunk_threads() == 1
    with dask.config.set({"convcore.threads": 2}):
        assert chunk_threads() == 2
    seen = da.from_array(np.zeros(4), chunks=1).map_blocks(
        OnThreads(lambda b: np.full(b.shape, get_num_threads()), 3), dtype=int)
    assert seen.compute(scheduler="threads").tolist() == [3] * 4
    assert get_num_threads() == before


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap", "constant"])
@pytest.mark.parametrize("dtype,out", [(np.float64, np.float64), (np.float32, np.float32),
                                       (np.int16, np.int32), (np.uint8, np.float64),
                                       (np.complex128, np.complex128)])
@pytest.mark.parametrize("shape,axis,cut", [((30, 7, 9), 0, (8, 8)), ((5, 31, 9), 1, (0, 5)),
                                            ((4, 6, 40), 2, (9, 3)), ((2, 20000), 1, (8, 0))])
def test_line_pass_reads_neighbours_where_they_lie(mode, dtype, out, shape, axis, cut):
    """A line pass given the samples before and after each line (``lo`` / ``hi``, the chunk's
    neighbours' edges) computes what it computes on the three joined, past whose ends the mode
    applies; in place too (long lines of 20000 are cut into pieces of work)."""
    from convcore._modes import NDIMAGE_MODES
    from convcore.ndimage._engine import line_correlate

    rng = np.random.default_rng(7)
    x = (rng.random(shape) * 100).astype(dtype)
    if dtype == np.complex128:
        x = x + 1j * rng.random(shape)
    n, (before, after) = shape[axis], cut

    def part(a, b):
        return np.ascontiguousarray(x[(slice(None),) * axis + (slice(a, b),)])

    for w, origin in [(np.r_[1.0, 2.0, 4.0, 2.0, 1.0] / 10, 0), (rng.standard_normal(4), 1)]:
        whole = line_correlate(x, w, axis, np.empty(shape, out), NDIMAGE_MODES[mode], 2.5, origin)
        mid = part(before, n - after)
        lo, hi = (part(0, before) if before else None), (part(n - after, n) if after else None)
        got = line_correlate(mid, w, axis, np.empty(mid.shape, out), NDIMAGE_MODES[mode], 2.5,
                             origin, lo, hi)
        expected = whole[(slice(None),) * axis + (slice(before, n - after),)]
        np.testing.assert_array_equal(got, expected)
        if dtype == out:
            np.testing.assert_array_equal(line_correlate(mid, w, axis, mid, NDIMAGE_MODES[mode],
                                                         2.5, origin, lo, hi), expected)


def test_line_pass_refuses_pieces_that_do_not_fit():
    """The kernel checks the pieces it reads beside the lines (shape, dtype, layout): a piece
    that does not fit is a ValueError, never a read out of bounds."""
    from convcore._kernels import lines

    x, w = np.zeros((2, 5, 3)), np.ones(3)
    for piece in [np.zeros((2, 4, 4)), np.zeros((3, 4, 3)), np.zeros((2, 4, 3), np.float32),
                  np.zeros((2, 3, 4)).transpose(0, 2, 1), np.zeros((2, 4))]:
        with pytest.raises(ValueError, match="lo and hi"):
            lines.correlate(x, w, np.empty_like(x), -1, 1, 0, 0.0, 1, 1, lo=piece)
        with pytest.raises(ValueError, match="lo and hi"):
            lines.correlate(x, w, np.empty_like(x), -1, 1, 0, 0.0, 1, 1, hi=piece)
