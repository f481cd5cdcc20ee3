"""convcore.signal and convcore.filters.apply on dask arrays, against the in-memory call.

The direct engines give the in-memory result bit for bit (float64 and integers, every mode,
boundary and stride, uneven and one-sample chunks); fftconvolve / oaconvolve transform each
chunk on its own, so they agree to rounding, as two FFT sizes do.
"""
import itertools

import numpy as np
import pytest

from convcore import filters, signal

SHAPES = {1: (41,), 2: (23, 17), 3: (9, 11, 7)}
CHUNKS = {(1, "uneven"): ((3, 9, 1, 20, 8),), (1, "pixel"): ((1,) * 41,),
          (2, "uneven"): ((5, 1, 9, 8), (4, 4, 2, 7)), (2, "pixel"): ((1,) * 23, (17,)),
          (3, "uneven"): ((2, 3, 4), (5, 1, 5), (1, 6)), (3, "pixel"): ((9,), (1,) * 11, (7,))}


@pytest.fixture
def da():
    return pytest.importorskip("dask.array")


def _data(shape, dtype, seed=3):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-50, 50, shape).astype(dtype)


def _same(got, expected, exact=True):
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if exact:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("mode,boundary", list(itertools.product(
    ["full", "same", "valid"], ["fill", "symm", "wrap"])))
@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_2d_boundaries_modes_strides(da, name, mode, boundary, dtype):
    x = _data((23, 17), dtype)
    func = getattr(signal, name)
    for kshape, stride, chunking in [((3, 4), 1, "uneven"), ((5, 2), (2, 3), "uneven"),
                                     ((4, 3), 3, "pixel"), ((1, 6), (1, 2), "uneven")]:
        k = _data(kshape, dtype, seed=5)
        kw = dict(mode=mode, boundary=boundary, fillvalue=3, stride=stride)
        lazy = func(da.from_array(x, chunks=CHUNKS[2, chunking]), k, **kw)
        assert isinstance(lazy, da.Array)
        _same(lazy.compute(), func(x, k, **kw))


@pytest.mark.parametrize("boundary", ["fill", "symm", "wrap"])
def test_wide_rows(da, boundary):
    """Rows much longer than the kernel (the direct kernel's edge columns: test_dask_ndimage)."""
    x = _data((10, 300), np.float64)
    d = da.from_array(x, chunks=(4, 13))
    for mode, stride, kshape in [("full", 1, (3, 4)), ("same", (1, 2), (2, 5)),
                                 ("valid", 1, (3, 3))]:
        k = _data(kshape, np.float64, seed=8)
        kw = dict(mode=mode, boundary=boundary, stride=stride)
        _same(signal.correlate2d(d, k, **kw).compute(), signal.correlate2d(x, k, **kw))
    kw = dict(boundary=boundary, stride=1)
    _same(filters.apply(d, filters.sharpen(), **kw).compute(),
          filters.apply(x, filters.sharpen(), **kw))


@pytest.mark.parametrize("name", ["convolve", "correlate", "fftconvolve", "oaconvolve"])
@pytest.mark.parametrize("ndim,chunking", list(itertools.product([1, 2, 3], ["uneven", "pixel"])))
@pytest.mark.parametrize("dtype", [np.float64, np.int16])
def test_nd_modes_strides(da, name, ndim, chunking, dtype):
    x = _data(SHAPES[ndim], dtype)
    func = getattr(signal, name)
    fft = name in ("fftconvolve", "oaconvolve")
    for mode, stride, kshape in [("full", 1, (3, 4, 2)), ("same", 2, (4, 3, 3)),
                                 ("valid", (2, 1, 3), (2, 5, 3))]:
        k = _data(kshape[:ndim], dtype, seed=4)
        kw = dict(mode=mode, stride=stride[:ndim] if isinstance(stride, tuple) else stride)
        lazy = func(da.from_array(x, chunks=CHUNKS[ndim, chunking]), k, **kw)
        _same(lazy.compute(), func(x, k, **kw), exact=not fft)


@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
def test_methods_and_separable_kernels(da, method):
    """A rank-1 float kernel runs as 1-D passes in the order the whole array takes; a large
    kernel with 'auto' goes to the FFT, per chunk."""
    x = _data((60, 50), np.float64)
    d = da.from_array(x, chunks=(13, 11))
    rng = np.random.default_rng(0)
    for k in (np.outer(rng.random(9), rng.random(15)), rng.random((3, 3)),
              rng.random((25, 25))):
        kw = dict(mode="same", method=method, stride=(1, 2))
        exact = method != "fft" and signal.choose_conv_method(x, k, "same") == "direct"
        _same(signal.convolve(d, k, **kw).compute(), signal.convolve(x, k, **kw), exact)


def test_output_chunks_follow_the_input(da):
    d = da.from_array(np.ones((40, 300)), chunks=(10, 100))
    assert signal.convolve2d(d, np.ones((3, 3)), mode="same").chunks == d.chunks
    full = signal.convolve2d(d, np.ones((3, 5)), mode="full")
    assert full.chunks == ((11, 10, 10, 11), (102, 100, 102))  # the rim goes to the outer chunks
    valid = signal.convolve2d(d, np.ones((3, 5)), mode="valid")
    assert valid.chunks == ((9, 10, 10, 9), (98, 100, 98))
    strided = signal.convolve2d(d, np.ones((3, 3)), mode="same", stride=2)
    assert strided.chunks == ((5, 5, 5, 5), (50, 50, 50))


def test_fftconvolve_axes(da):
    x = _data((20, 6, 30), np.float64)
    k = _data((5, 1, 7), np.float64, seed=2)
    d = da.from_array(x, chunks=(7, 2, 9))
    for mode in ("full", "same", "valid"):
        _same(signal.fftconvolve(d, k, mode=mode, axes=(0, 2)).compute(),
              signal.fftconvolve(x, k, mode=mode, axes=(0, 2)), exact=False)
    paired = _data((20, 6, 30), np.float64, seed=9)[:3, :, :4]   # axis 1 paired, not convolved
    _same(signal.fftconvolve(d, paired, axes=(0, 2)).compute(),
          signal.fftconvolve(x, paired, axes=(0, 2)), exact=False)


@pytest.mark.parametrize("call", [
    lambda s, x: s.convolve2d(x, np.ones((3, 3)), boundary="reflect"),
    lambda s, x: s.convolve(x, np.ones((3, 3)), mode="ful"),
    lambda s, x: s.convolve(x, np.ones((3, 30)), mode="valid"),     # too short for 'valid'
    lambda s, x: s.correlate(x, np.ones(3)),
    lambda s, x: s.convolve(x[:0], np.ones((3, 3))),
    lambda s, x: s.fftconvolve(x, np.ones((3, 3)), axes=(0, 5)),
    lambda s, x: s.correlate2d(x, np.ones((2, 2)), stride=0),
    lambda s, x: s.convolve(x, np.ones((3, 3)), method="fast"),
])
def test_errors_are_the_numpy_ones_and_eager(da, call):
    x = np.zeros((12, 10))
    with pytest.raises((ValueError, TypeError, RuntimeError)) as expected:   # SciPy refuses some with RuntimeError
        call(signal, x)
    with pytest.raises(expected.type) as got:
        call(signal, da.from_array(x, chunks=(5, 4)))
    assert str(got.value) == str(expected.value)


def test_small_valid_swap_and_zero_size_chunks(da):
    x = _data((12, 9), np.float64)
    k = _data((20, 15), np.float64)
    _same(signal.convolve(da.from_array(x, chunks=4), k, mode="valid").compute(),
          signal.convolve(x, k, mode="valid"))
    d = da.from_array(x, chunks=((4, 0, 8), (9,)))
    _same(signal.correlate2d(d, np.ones((3, 2)), mode="full").compute(),
          signal.correlate2d(x, np.ones((3, 2)), mode="full"))


@pytest.mark.parametrize("boundary", ["symm", "fill", "wrap"])
@pytest.mark.parametrize("stride", [1, 2, (3, 1)])
@pytest.mark.parametrize("shape,dtype", [((30, 25), np.uint8), ((30, 25, 3), np.float64)])
def test_filters_apply(da, boundary, stride, shape, dtype):
    image = _data(shape, dtype) if dtype == np.float64 else \
        np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
    d = da.from_array(image, chunks=(7, 6) + shape[2:])
    for kernel in (filters.box(3), filters.gaussian(9, 2.0), filters.line_vertical()):
        kw = dict(boundary=boundary, stride=stride, cval=0.25)
        _same(filters.apply(d, kernel, **kw).compute(), filters.apply(image, kernel, **kw))
