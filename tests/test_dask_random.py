"""Random calls of the drop-ins on dask arrays against the same calls on the NumPy arrays.

Each case draws a function of ``convcore.ndimage`` or ``convcore.signal``, an input of 1 to 3 axes
and a dtype, arguments (modes, origins, cval, strides, kernels with zeros, 'valid' shapes that do
not fit) and random chunks (uneven, of one sample): the lazy result must equal the in-memory one
(bit for bit for float64 and integers where the direct and line kernels run, to rounding for FFTs
and float running means), and a call the NumPy path refuses must raise the same error at once,
not at ``compute()``. (tests/test_properties.py compares the NumPy path with SciPy.)
"""
import random
import warnings

import numpy as np
import pytest

from convcore import ndimage, signal

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant",
         "grid-wrap"]
NDIMAGE = ["correlate", "convolve", "correlate1d", "convolve1d", "uniform_filter",
           "uniform_filter1d", "gaussian_filter", "gaussian_filter1d", "sobel", "prewitt",
           "laplace", "gaussian_laplace", "gaussian_gradient_magnitude"]
SIGNAL = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve"]


def _ndimage_case(r, rng, ndim):
    name = r.choice(NDIMAGE)
    kw = {"mode": r.choice(MODES)}
    if r.random() < 0.3:
        kw["cval"] = r.choice([0, 1.5, -2, 7])
    if name in ("correlate", "convolve"):
        shape = tuple(r.randint(1, 5) for _ in range(ndim))
        kw["weights"] = rng.integers(-3, 4, shape) * 0.5
        if r.random() < 0.5:
            kw["origin"] = [r.randint(-(s // 2), (s - 1) // 2) for s in shape]
    elif name in ("correlate1d", "convolve1d"):
        size = r.randint(1, 6)
        kw["weights"] = list(rng.integers(-3, 4, size) * 0.5)
        kw["axis"] = r.randint(-ndim, ndim - 1)
        if r.random() < 0.5:
            kw["origin"] = r.randint(-(size // 2), (size - 1) // 2)
    elif name == "uniform_filter":
        kw["size"] = r.randint(1, 5)
        if r.random() < 0.3:
            kw["origin"] = r.randint(-(kw["size"] // 2), (kw["size"] - 1) // 2)
    elif name == "uniform_filter1d":
        kw["size"], kw["axis"] = r.randint(1, 6), r.randint(-ndim, ndim - 1)
    elif name.startswith("gaussian"):
        kw["sigma"] = r.choice([0.5, 1.0, 1.5, 2.0, 0.0])
        one = name in ("gaussian_filter", "gaussian_filter1d")
        if name == "gaussian_filter1d":
            kw["axis"] = r.randint(-ndim, ndim - 1)
        if one and r.random() < 0.3:
            kw["order"] = r.randint(0, 2)
        if r.random() < 0.3:
            kw["truncate"] = r.choice([2.0, 3.0])
        if one and r.random() < 0.2:
            kw["radius"] = r.randint(1, 4)
    elif name in ("sobel", "prewitt"):
        kw["axis"] = r.randint(-ndim, ndim - 1)
    return "ndimage", name, (), kw, ndim


def _signal_case(r, rng, ndim):
    name = r.choice(SIGNAL)
    if name.endswith("2d"):
        ndim = 2
    kernel = rng.integers(-3, 4, tuple(r.randint(1, 5) for _ in range(ndim))) * 0.5
    kw = {"mode": r.choice(["full", "same", "valid"])}
    if name.endswith("2d"):
        kw["boundary"] = r.choice(["fill", "wrap", "symm"])
        if r.random() < 0.3:
            kw["fillvalue"] = r.choice([0, 2.5])
    if name in ("convolve", "correlate", "convolve2d", "correlate2d") and r.random() < 0.4:
        kw["stride"] = r.randint(1, 3)
    return "signal", name, (kernel,), kw, ndim


def _cases(seed, count):
    """(package, name, extra positional arguments, keywords, input array) of `count` calls."""
    r, rng = random.Random(seed), np.random.default_rng(seed)
    for _ in range(count):
        ndim = r.randint(1, 3)
        make = _signal_case if r.random() < 0.35 else _ndimage_case
        package, name, extra, kw, ndim = make(r, rng, ndim)
        shape = tuple(r.randint(1, 14) for _ in range(ndim))
        dtype = r.choice([np.float64, np.float32, np.int16, np.uint8, np.int32])
        low = 0 if dtype == np.uint8 else -50
        x = rng.integers(low, 100, shape).astype(dtype)
        if x.dtype.kind == "f":
            x = (x * 0.37).astype(dtype)
        yield package, name, extra, kw, x


def _call(func, *args, **kw):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return func(*args, **kw), None
    except Exception as exc:  # compared with the other path's below
        return None, exc


def _same_error(got, want):
    assert type(got) is type(want) and str(got) == str(want), (got, want)


def _close(got, want, exact, single=False):
    """`got` is `want` (exact), or within rounding of it: float32's when the result or, for
    `single`, an input was float32 (fftconvolve transforms a float32 input in float32, chunk by
    chunk on dask)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        scale = max(float(np.max(np.abs(want))), 1.0) if want.size else 1.0
        tol = 1e-5 if single or want.dtype in (np.float32, np.complex64) else 1e-10
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def _chunks(r, n):
    kind = r.choice(["one", "even", "uneven", "pixel"])
    if kind == "one":
        return (n,)
    if kind == "pixel":
        return (1,) * n
    if kind == "even":
        c = r.randint(1, n)
        return (c,) * (n // c) + ((n % c,) if n % c else ())
    out, left = [], n
    while left:
        out.append(r.randint(1, left))
        left -= out[-1]
    return tuple(out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_dask_calls_match_in_memory(seed):
    da = pytest.importorskip("dask.array")
    r = random.Random(seed)
    modules = {"ndimage": ndimage, "signal": signal}
    for package, name, extra, kw, x in _cases(seed, 200):
        func = getattr(modules[package], name)
        want, error = _call(func, x, *extra, **kw)
        lazy, our_error = _call(func, da.from_array(x, chunks=tuple(_chunks(r, n)
                                                                    for n in x.shape)),
                                *extra, **kw)
        if error is not None or our_error is not None:   # raised by the call, not at compute
            _same_error(our_error, error)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = lazy.compute(scheduler="sync")
        # in-memory bits for float64 and integers, as promised (the direct and line kernels);
        # FFTs and float running means to rounding (their sums start where the chunk does)
        exact = want.dtype.kind in "iub" or (
            want.dtype == np.float64 and "uniform" not in name and name not in (
                "fftconvolve", "oaconvolve"))
        _close(got, want, exact, single=x.dtype == np.float32)
