"""Random calls of the drop-ins against SciPy, and of their dask paths against the NumPy ones.

Each case draws a function of ``convcore.ndimage`` or ``convcore.signal``, an input of 1 to 3 axes
and a dtype, and arguments (modes, origins, cval, strides, kernels with zeros, 'valid' shapes that
do not fit): the same call on SciPy must give the same dtype, shape and values (integers and
ndimage's float64 results bit for bit, floats from FFTs and float32 sums to rounding) or the same
exception class, its message starting with SciPy's (convcore adds the shapes it got). On dask
arrays of random chunks (uneven, of one sample) the lazy result must equal the in-memory one.
A fuzz of this kind found ndimage's float64 N-D correlations 1-2 ulp off SciPy's (fixed by
src/ordered.pyx).
"""
import random
import warnings

import numpy as np
import pytest
import scipy.ndimage as sp_ndimage
import scipy.signal as sp_signal

from convcore import ndimage, signal

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant",
         "grid-wrap"]
NDIMAGE = ["correlate", "convolve", "correlate1d", "convolve1d", "uniform_filter",
           "uniform_filter1d", "gaussian_filter", "gaussian_filter1d", "sobel", "prewitt",
           "laplace", "gaussian_laplace", "gaussian_gradient_magnitude"]
SIGNAL = ["convolve", "correlate", "convolve2d", "correlate2d", "fftconvolve", "oaconvolve"]
#: convcore's message where SciPy's says nothing of the argument
REWORDED = {"float division by zero": "sigma must not be zero"}


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
    except Exception as exc:  # compared with the peer's below
        return None, exc


def _same_error(got, want):
    assert type(got) is type(want), (got, want)
    message = str(want)
    assert str(got).startswith(message) or str(got) == REWORDED.get(message), (got, want)


def _close(got, want, exact, single=False):
    """`got` is `want` (exact), or within rounding of it: float32's when the result or, for
    `single`, an input was float32 (SciPy transforms float32 inputs in float32)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        scale = max(float(np.max(np.abs(want))), 1.0) if want.size else 1.0
        tol = 1e-5 if single or want.dtype in (np.float32, np.complex64) else 1e-10
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_calls_match_scipy(seed):
    peers = {"ndimage": (ndimage, sp_ndimage), "signal": (signal, sp_signal)}
    for package, name, extra, kw, x in _cases(seed, 300):
        ours, theirs = (getattr(module, name) for module in peers[package])
        scipy_kw = dict(kw)
        stride = scipy_kw.pop("stride", 1)
        want, error = _call(theirs, x, *extra, **scipy_kw)
        got, our_error = _call(ours, x, *extra, **kw)
        if error is not None or our_error is not None:
            _same_error(our_error, error)
            continue
        want = np.asarray(want)[(slice(None, None, stride),) * np.ndim(want)]
        # float sums in SciPy's order: ndimage's float64 results (its running means aside);
        # integers exactly everywhere
        exact = want.dtype.kind in "iub" or (
            package == "ndimage" and want.dtype == np.float64 and "uniform" not in name)
        _close(got, want, exact, single=x.dtype == np.float32)


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


@pytest.mark.parametrize("seed", [4, 5])
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
