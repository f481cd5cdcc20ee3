"""Random calls of convcore.ndimage / convcore.signal compared with the same calls of SciPy.

Hypothesis draws shapes (0-d, empty, one pixel, 1-D to 4-D), every dtype SciPy filters (bool, all
integers, float16/32/64, complex), values with NaN and infinities, modes, origins, axes, output
dtypes and arrays, non-contiguous and negative-stride views. Each call must do what SciPy does:
raise the same exception class when SciPy refuses, else return the same dtype and shape and the
same values (bit for bit where convcore follows SciPy's order of operations: ndimage filters, integer
and bool results; to a tolerance scaled by the operands elsewhere), NaN and infinities in the same
places. The profiles are registered in tests/conftest.py: a short one in CI, ``long`` (over 20,000
examples per test) in ``benchmarks/fidelity_nightly.sh``.
"""
import warnings

import numpy as np
import pytest
import scipy.ndimage as sn
import scipy.signal as ss

from convcore import ndimage as cn
from convcore import signal as cs

try:
    from hypothesis import assume, given, note
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as npst
except ImportError:     # the test extra installs hypothesis; without it one test says so
    given = None

INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOATS = [np.float16, np.float32, np.float64]
COMPLEX = [np.complex64, np.complex128]
DTYPES = [np.bool_] + INTS + FLOATS + COMPLEX
NDIMAGE_MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror",
                 "grid-constant", "grid-wrap"]


def _outcome(call):
    """(result, None) or (None, exception) of `call`, warnings ignored (compared elsewhere)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return call(), None
        except Exception as exc:     # the class is compared with SciPy's
            return None, exc


def _tolerance(got, *operands, exact):
    """Absolute tolerance: 0 when exact, else a few ulps of the largest partial sum."""
    if exact:
        return 0.0
    scale = 1.0
    for op in operands:
        arr = np.asarray(op)
        if arr.size and arr.dtype.kind in "biufc":
            finite = np.abs(arr[np.isfinite(arr)]) if arr.dtype.kind in "fc" else np.abs(arr)
            scale *= max(float(finite.astype(np.float64).sum()), 1.0)
    # the least precise operand sets the rounding (SciPy transforms complex64 in single precision)
    kinds = [got.dtype] + [np.asarray(op).dtype for op in operands]
    eps = max([float(np.finfo(d).eps) for d in kinds if d.kind in "fc"] or [2.0 ** -52])
    return 64 * eps * max(scale, 1.0)


def _same(expected, got, *operands, exact):
    note(f"expected {expected!r}\ngot {got!r}")
    assert type(got) is type(expected)       # an array, or a NumPy scalar where SciPy gives one
    expected, got = np.asarray(expected), np.asarray(got)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    if expected.dtype.kind == "b":
        # SciPy's C stores (npy_bool)value: -1 is kept as the byte 255, compared as such
        expected, got = expected.view(np.uint8), got.view(np.uint8)
    if expected.dtype.kind in "biu" or exact:
        np.testing.assert_array_equal(got, expected)
        return
    for part in ((lambda a: a.real), (lambda a: a.imag)) if expected.dtype.kind == "c" else \
            ((lambda a: a),):
        e = part(expected).astype(np.float64)
        g = part(got).astype(np.float64)
        assert np.array_equal(np.isnan(e), np.isnan(g)), "NaN in other places"
        assert np.array_equal(np.isposinf(e), np.isposinf(g)), "+inf in other places"
        assert np.array_equal(np.isneginf(e), np.isneginf(g)), "-inf in other places"
        fin = np.isfinite(e)
        # the result's own precision counts too: float32 results of integer data round there
        np.testing.assert_allclose(g[fin], e[fin], rtol=0,
                                   atol=_tolerance(part(expected), *operands, exact=False))


def check(scipy_call, convcore_call, *operands, exact=False):
    """The two calls end alike: same exception class, or same result (see ``_same``)."""
    expected, refused = _outcome(scipy_call)
    got, error = _outcome(convcore_call)
    if refused is not None:
        note(f"SciPy raised {refused!r}; convcore {error!r}")
        assert error is not None, f"SciPy raised {refused!r}, convcore returned"
        assert isinstance(error, type(refused)), f"SciPy raised {refused!r}, convcore {error!r}"
        return
    if error is not None:
        raise AssertionError(f"convcore raised {error!r} where SciPy returned") from error
    if isinstance(expected, tuple):
        for e, g in zip(expected, got):
            _same(e, g, *operands, exact=exact)
    else:
        _same(expected, got, *operands, exact=exact)


if given is None:
    def test_hypothesis_installed():
        pytest.skip("hypothesis is not installed (pip install convcore[test])")
else:
    def _values(dtype, nonfinite):
        dtype = np.dtype(dtype)
        if dtype.kind == "b":
            return st.booleans()
        if dtype.kind in "iu":
            lo = 0 if dtype.kind == "u" else -100
            return st.integers(lo, 100)
        finite = st.floats(-1000, 1000, width=16 if dtype.itemsize == 2 else 32)
        real = st.one_of(finite, st.sampled_from([np.nan, np.inf, -np.inf])) if nonfinite \
            else finite
        if dtype.kind == "c":
            return st.builds(complex, real, real)
        return real

    @st.composite
    def arrays(draw, dtypes=DTYPES, min_dims=0, max_dims=4, max_side=6, shape=None,
               nonfinite=True):
        """An array of a drawn dtype and shape, possibly a non-contiguous or reversed view."""
        dtype = np.dtype(draw(st.sampled_from(dtypes)))
        if shape is None:
            shape = draw(npst.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0,
                                           max_side=max_side))
        layout = draw(st.sampled_from(["c", "f", "reversed", "strided"]))
        big = tuple(2 * n if layout == "strided" else n for n in shape)
        # complex infinities are not compared: C99 and NumPy multiply them differently
        nonfinite = nonfinite and dtype.kind != "c" and draw(st.booleans())
        arr = draw(npst.arrays(dtype, big, elements=_values(dtype, nonfinite)))
        if layout == "f":
            arr = np.asfortranarray(arr)
        elif layout == "reversed":
            arr = arr[(slice(None, None, -1),) * arr.ndim]
        elif layout == "strided":
            arr = arr[(slice(None, None, 2),) * arr.ndim]
        return arr

    def weights_like(ndim):
        """Weights of `ndim` axes (1 to 4 taps each), real of any dtype, mostly float64."""
        return npst.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=4).flatmap(
            lambda shape: arrays(dtypes=INTS + FLOATS + [np.float64] * 6, shape=shape))

    def _outputs(input_dtype):
        return st.one_of(st.none(), st.sampled_from([np.float64, np.float32, np.int32,
                                                     np.uint8, np.int16, np.complex128,
                                                     input_dtype]))

    modes = st.sampled_from(NDIMAGE_MODES)
    cvals = st.one_of(st.just(0.0), st.integers(-3, 3).map(float))
    # a NaN constant only for float data (SciPy converts it to integers in C: undefined)
    float_cvals = st.one_of(cvals, st.sampled_from([np.nan, np.inf]))

    def cvals_for(x):
        return float_cvals if x.dtype.kind in "fc" else cvals

    def _array_output(draw, x, out):
        """Either the dtype `out` or a preallocated array of it (maybe a strided view)."""
        if out is None or not draw(st.booleans()):
            return lambda: out
        strided = draw(st.booleans())

        def make():
            if strided and x.ndim:
                return np.zeros(tuple(2 * n for n in x.shape), out)[
                    (slice(None, None, 2),) * x.ndim]
            return np.zeros(x.shape, out)
        return make

    def _run(func_name, x, args, kwargs, make_out, exact):
        """Call SciPy and convcore with a fresh output each (returned so both are compared)."""
        def call(lib):
            def go():
                out = make_out()
                res = getattr(lib, func_name)(x.copy() if x.base is None else x, *args,
                                              output=out, **kwargs)
                return res if out is None or isinstance(out, type) else out.copy()
            return go
        check(call(sn), call(cn), x, *[a for a in args if isinstance(a, np.ndarray)],
              exact=exact)

    def _exact(x, out):
        """ndimage follows SciPy's order in double precision: float64 and integer results of real
        data are bit for bit."""
        od = np.dtype(out) if out is not None else x.dtype
        if x.dtype.kind == "f" and od.kind in "iu":
            # a NaN or an infinity converted to an integer is undefined in C: not compared
            assume(np.isfinite(x).all())
        return x.dtype.kind != "c" and (od.kind in "biu" or od == np.float64)

    @given(data=st.data())
    def test_correlate1d(data):
        x = data.draw(arrays())
        w = data.draw(arrays(dtypes=INTS + FLOATS + COMPLEX + [np.float64] * 6, min_dims=1,
                             max_dims=1, max_side=5))
        out = data.draw(_outputs(x.dtype))
        func = data.draw(st.sampled_from(["correlate1d", "convolve1d"]))
        kwargs = dict(axis=data.draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)),
                      mode=data.draw(modes), cval=data.draw(cvals_for(x)),
                      origin=data.draw(st.integers(-2, 2)))
        _run(func, x, (w,), kwargs, _array_output(data.draw, x, out),
             exact=_exact(x, out) and w.dtype.kind != "c")

    @given(data=st.data())
    def test_correlate_nd(data):
        x = data.draw(arrays(max_dims=3, max_side=5))
        naxes = data.draw(st.integers(0, x.ndim))
        axes = data.draw(st.one_of(st.none(), st.permutations(range(x.ndim)).map(
            lambda p: tuple(p[:naxes]))))
        wdim = x.ndim if axes is None else len(axes)
        w = data.draw(weights_like(data.draw(st.sampled_from([wdim, wdim, max(wdim - 1, 0)]))))
        out = data.draw(_outputs(x.dtype))
        origin = data.draw(st.one_of(st.integers(-1, 1),
                                     st.lists(st.integers(-1, 1), min_size=wdim,
                                              max_size=wdim)))
        kwargs = dict(mode=data.draw(modes), cval=data.draw(cvals_for(x)), origin=origin, axes=axes)
        func = data.draw(st.sampled_from(["correlate", "convolve"]))
        if np.dtype(out or x.dtype).kind in "iu" and w.dtype.kind == "f":
            assume(np.isfinite(w).all())   # an infinite sum into integers is undefined in C
        # in double precision the taps are added in SciPy's order (src/ordered.pyx): bit for bit
        _run(func, x, (w,), kwargs, _array_output(data.draw, x, out),
             exact=_exact(x, out) and w.dtype.kind != "c")

    def _sequence(draw, n, values):
        return draw(st.one_of(values, st.lists(values, min_size=n, max_size=n)))

    @given(data=st.data())
    def test_smoothing(data):
        x = data.draw(arrays(max_dims=3))
        func = data.draw(st.sampled_from(["uniform_filter", "uniform_filter1d",
                                          "gaussian_filter", "gaussian_filter1d"]))
        out = data.draw(_outputs(x.dtype))
        n = max(x.ndim, 1)
        kwargs = dict(mode=data.draw(modes), cval=data.draw(cvals_for(x)))
        if func.endswith("1d"):
            kwargs["axis"] = data.draw(st.integers(-n, n - 1))
        if func.startswith("uniform"):
            size = st.integers(1, 5)
            args = (data.draw(size) if func.endswith("1d") else _sequence(data.draw, x.ndim,
                                                                            size),)
            kwargs["origin"] = data.draw(st.integers(-1, 1))
        else:
            sigma = st.sampled_from([0.5, 1.0, 1.7, 3.0])
            args = (data.draw(sigma) if func.endswith("1d") else _sequence(data.draw, x.ndim,
                                                                             sigma),)
            kwargs["order"] = data.draw(st.integers(0, 2))
            kwargs["truncate"] = data.draw(st.sampled_from([4.0, 2.0, 1.0]))
        _run(func, x, args, kwargs, _array_output(data.draw, x, out), exact=_exact(x, out))

    @given(data=st.data())
    def test_derivatives(data):
        x = data.draw(arrays(max_dims=3, max_side=5))
        func = data.draw(st.sampled_from(["sobel", "prewitt", "laplace", "gaussian_laplace",
                                          "gaussian_gradient_magnitude"]))
        out = data.draw(_outputs(x.dtype))
        n = max(x.ndim, 1)
        kwargs = dict(mode=data.draw(modes), cval=data.draw(cvals_for(x)))
        args = ()
        if func in ("sobel", "prewitt"):
            kwargs["axis"] = data.draw(st.integers(-n, n - 1))
        elif func.startswith("gaussian"):
            args = (data.draw(st.sampled_from([0.7, 1.0, 2.0])),)
        _run(func, x, args, kwargs, _array_output(data.draw, x, out),
             exact=_exact(x, out) and func in ("sobel", "prewitt", "laplace"))

    # ---- scipy.signal ----------------------------------------------------------------------

    def _pair(data, max_dims=3, max_side=6, dtypes=DTYPES):
        a = data.draw(arrays(dtypes=dtypes, max_dims=max_dims, max_side=max_side))
        b = data.draw(arrays(dtypes=dtypes, shape=data.draw(npst.array_shapes(
            min_dims=a.ndim, max_dims=a.ndim, min_side=0, max_side=4)) if a.ndim else ()))
        return a, b

    def _exact_signal(a, b):
        return np.result_type(a, b).kind in "biu"

    def _scipy_choice(a, b, mode):
        try:
            return ss.choose_conv_method(a, b, mode)
        except (OverflowError, ValueError):    # int(inf) / int(nan) inside SciPy
            return None

    @given(data=st.data())
    def test_convolve_correlate(data):
        a, b = _pair(data)
        mode = data.draw(st.sampled_from(["full", "same", "valid"]))
        method = data.draw(st.sampled_from(["direct", "auto", "fft"]))
        func = data.draw(st.sampled_from(["convolve", "correlate"]))
        # SciPy 1.17's FFT path fails with an IndexError on an empty input, and gives bool
        # results as its float result != 0 (rounding noise included)
        assume(method == "direct" or (a.size and b.size and np.result_type(a, b) != bool))
        finite = all(np.isfinite(v).all() for v in (a, b) if v.dtype.kind in "fc")
        # complex products with a NaN or an infinity: SciPy's C and NumPy's formulas differ
        assume(finite or np.result_type(a, b).kind != "c")
        if method != "direct" and not finite:
            # the FFT spreads a NaN or an infinity everywhere; which method 'auto' picks is
            # each library's own choice, so only where both sum directly are values compared
            # (SciPy's choice itself fails on integers with a NaN or an infinity)
            assume(method == "auto" and a.ndim and _scipy_choice(a, b, mode) == "direct")
        check(lambda: getattr(ss, func)(a, b, mode, method),
              lambda: getattr(cs, func)(a, b, mode, method), a, b,
              exact=_exact_signal(a, b) and method == "direct")

    @given(data=st.data())
    def test_convolve2d(data):
        a = data.draw(arrays(min_dims=2, max_dims=2))
        b = data.draw(arrays(min_dims=2, max_dims=2, max_side=4))
        boundary = data.draw(st.sampled_from(["fill", "wrap", "symm"]))
        # SciPy 1.17 dies with SIGFPE on an empty input with an edge rule other than 'fill'
        assume(boundary == "fill" or (a.size and b.size))
        mode = data.draw(st.sampled_from(["full", "same", "valid"]))
        fill = data.draw(st.sampled_from([0, 1, 2.5]))
        func = data.draw(st.sampled_from(["convolve2d", "correlate2d"]))
        assume(np.result_type(a, b).kind != "c" or all(
            np.isfinite(v).all() for v in (a, b) if v.dtype.kind in "fc"))
        check(lambda: getattr(ss, func)(a, b, mode, boundary, fill),
              lambda: getattr(cs, func)(a, b, mode, boundary, fill), a, b, fill,
              exact=_exact_signal(a, b))

    @given(data=st.data())
    def test_fftconvolve(data):
        a = data.draw(arrays(max_dims=3, nonfinite=False))
        mode = data.draw(st.sampled_from(["full", "same", "valid"]))
        axes = None
        if a.ndim and data.draw(st.booleans()):
            axes = data.draw(st.lists(st.integers(-a.ndim, a.ndim - 1), min_size=1,
                                      max_size=a.ndim, unique=True))
        convolved = range(a.ndim) if axes is None else [ax % a.ndim for ax in axes]
        shape = tuple(data.draw(st.integers(0, 4)) if i in convolved
                      else data.draw(st.sampled_from([1, a.shape[i]])) for i in range(a.ndim))
        b = data.draw(arrays(shape=shape, nonfinite=False))
        func = data.draw(st.sampled_from(["fftconvolve", "oaconvolve"]))
        check(lambda: getattr(ss, func)(a, b, mode, axes),
              lambda: getattr(cs, func)(a, b, mode, axes), a, b, exact=False)
