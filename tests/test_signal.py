"""convcore.signal against scipy.signal: values, result dtypes, errors, stride, threads, engines."""
import itertools
import warnings

import numpy as np
import pytest
from scipy import signal as ss

import convcore
from convcore import signal as cs
from convcore.signal import _direct, _fft, _method
from convcore.signal._convolve import _conv_plan
from convcore.signal._fftconvolve import run_oa
from convcore.signal._options import boundary_code, conv_start, out_shape
from convcore.signal._plan import Plan
from convcore.signal._separable import separable_factors
from convcore.signal._tiles import _Rows, run_tiles, tile_shape

INTS = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOATS = [np.float32, np.float64, np.complex64, np.complex128]
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]


def data(shape, dtype, rng, small=False):
    """Random samples of `dtype`: full-range integers (overflow included) unless `small`."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = (max(info.min, -9), 9) if small else (info.min, info.max)
        return rng.integers(lo, hi, shape, dtype=dtype, endpoint=True)
    x = rng.standard_normal(shape)
    if dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def assert_same(got, want):
    """Same dtype and shape; exact for integers and bools, 1e-12 / 1e-5 relative for floats."""
    want = np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want)
        return
    rtol = 1e-5 if want.dtype in (np.float32, np.complex64, np.float16) else 1e-12
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


SHAPES_2D = [((7, 9), (3, 3)), ((5, 4), (2, 5)), ((3, 2), (6, 7)), ((1, 8), (1, 3)),
             ((8, 1), (3, 1)), ((6, 6), (4, 4))]


class TestConvolve2d:
    @pytest.mark.parametrize("dtype", INTS + FLOATS)
    @pytest.mark.parametrize("boundary", BOUNDARIES)
    def test_matches_scipy(self, dtype, boundary):
        rng = np.random.default_rng(0)
        for (s1, s2), mode in itertools.product(SHAPES_2D, MODES):
            if mode == "valid" and not (all(a >= b for a, b in zip(s1, s2))
                                        or all(b >= a for a, b in zip(s1, s2))):
                continue
            a, b = data(s1, dtype, rng), data(s2, dtype, rng)
            for f, g in ((cs.convolve2d, ss.convolve2d), (cs.correlate2d, ss.correlate2d)):
                with np.errstate(over="ignore"):
                    want = g(a, b, mode=mode, boundary=boundary)
                assert_same(f(a, b, mode=mode, boundary=boundary), want)

    @pytest.mark.parametrize("dtypes", [(np.uint8, np.int8), (np.int16, np.float32),
                                        (np.float32, np.complex128), (np.bool_, np.int8),
                                        (np.int64, np.float32), (np.float64, np.complex64),
                                        (np.uint16, np.bool_)])
    def test_mixed_dtypes(self, dtypes):
        rng = np.random.default_rng(1)
        a, b = data((6, 7), dtypes[0], rng), data((3, 2), dtypes[1], rng)
        for f, g in ((cs.convolve2d, ss.convolve2d), (cs.correlate2d, ss.correlate2d)):
            with np.errstate(over="ignore"):
                want = g(a, b, mode="same", boundary="symm")
            assert_same(f(a, b, mode="same", boundary="symm"), want)

    @pytest.mark.parametrize("dtype, fill", [(np.float64, 1.5), (np.int64, 1.5), (np.uint8, 255),
                                             (np.float32, 1.1), (np.complex128, 2 - 1j),
                                             (np.int8, True)])
    def test_fillvalue(self, dtype, fill):
        rng = np.random.default_rng(2)
        a, b = data((5, 6), dtype, rng), data((3, 4), dtype, rng)
        for f, g in ((cs.convolve2d, ss.convolve2d), (cs.correlate2d, ss.correlate2d)):
            with np.errstate(over="ignore"):
                want = g(a, b, fillvalue=fill)
            assert_same(f(a, b, fillvalue=fill), want)

    def test_bool_and_float16_refused_as_in_scipy(self):
        a = np.ones((3, 3), bool)
        for other in (a, a.astype(np.float16)):
            with pytest.raises(ValueError, match="convolve2d not available for this type"):
                ss.convolve2d(a, other)
            with pytest.raises(ValueError, match="convolve2d not available for this type"):
                cs.correlate2d(a, other)

    @pytest.mark.parametrize("shapes", [((0, 3), (1, 4)), ((3, 3), (0, 2)), ((1, 1), (0, 0)),
                                        ((0, 0), (1, 1)), ((0, 0), (2, 2)), ((0, 2), (3, 2))])
    @pytest.mark.parametrize("mode", MODES)
    def test_empty_as_scipy(self, shapes, mode):
        """An empty input: SciPy's shape, each output the sum of its taps over the fill value."""
        a = np.arange(np.prod(shapes[0]), dtype=float).reshape(shapes[0]) + 1
        b = np.arange(np.prod(shapes[1]), dtype=float).reshape(shapes[1]) + 1
        for name in ("convolve2d", "correlate2d"):
            assert_same(getattr(cs, name)(a, b, mode, fillvalue=2),
                        getattr(ss, name)(a, b, mode, fillvalue=2))
            # complex taps: correlate2d's are the conjugates
            assert_same(getattr(cs, name)(a, b * (1 - 2j), mode, fillvalue=2 + 1j),
                        getattr(ss, name)(a, b * (1 - 2j), mode, fillvalue=2 + 1j))

    @pytest.mark.parametrize("boundary", BOUNDARIES)
    @pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
    def test_large_kernels_all_engines(self, boundary, dtype):
        # large enough for the cost model to leave the direct kernel (FFT / separable)
        rng = np.random.default_rng(4)
        a = data((48, 40), dtype, rng, small=True)
        for b in (data((17, 15), dtype, rng, small=True),
                  np.outer(data(13, dtype, rng, small=True), data(9, dtype, rng, small=True))):
            for mode in MODES:
                want = ss.convolve2d(a, b, mode=mode, boundary=boundary, fillvalue=2)
                assert_same(cs.convolve2d(a, b, mode=mode, boundary=boundary, fillvalue=2), want)

    def test_lecture_binary_image_3x3(self):
        image = np.array([[1, 0, 1, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0, 0],
                          [0, 0, 1, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0, 0],
                          [0, 0, 1, 0, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1],
                          [0, 0, 1, 0, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0, 0, 1]])
        for h in (np.ones((3, 3)) / 9, np.array([[-1, -1, -1], [2, 2, 2], [-1, -1, -1]]),
                  np.array([[-1, 2, -1]] * 3)):
            for mode, boundary in itertools.product(MODES, BOUNDARIES):
                assert_same(cs.convolve2d(image, h, mode=mode, boundary=boundary),
                            ss.convolve2d(image, h, mode=mode, boundary=boundary))
            # the lecture's formula: C[m, n] = sum_ij h[i, j] A[m + i, n + j], no edges
            loop = np.array([[np.sum(h * image[m:m + 3, n:n + 3]) for n in range(6)]
                             for m in range(6)])
            np.testing.assert_allclose(cs.correlate2d(image, h, mode="valid"), loop, rtol=1e-12)

    def test_errors(self):
        a = np.ones((3, 3))
        with pytest.raises(ValueError, match="convolve2d inputs must both be 2-D arrays; got"):
            cs.convolve2d(np.ones(3), a)
        with pytest.raises(ValueError, match="correlate2d inputs must both be 2-D arrays"):
            cs.correlate2d(a, np.ones((1, 1, 1)))
        with pytest.raises(ValueError, match="Acceptable mode flags are 'valid', 'same', or "
                                             "'full'; got mode='foo'"):
            cs.convolve2d(a, a, mode="foo")
        with pytest.raises(ValueError, match=r"Acceptable boundary flags .*got boundary='reflect'"):
            cs.correlate2d(a, a, boundary="reflect")
        with pytest.raises(ValueError, match="For 'valid' mode, one must be at least as large as "
                                             r"the other in every dimension; got shapes \(3, 3\)"):
            cs.convolve2d(a, np.ones((2, 4)), mode="valid")
        # SciPy 1.17 dies with SIGFPE here: convcore refuses
        with pytest.raises(ValueError, match=r"in1 cannot be empty, got shape \(0, 3\)"):
            cs.convolve2d(np.zeros((0, 3)), a, boundary="wrap")
        with pytest.raises(ValueError, match="could not cast `fillvalue` directly to the output "
                                             "type float64"):
            cs.convolve2d(a, a, fillvalue=1j)
        with pytest.raises(ValueError, match="could not cast `fillvalue` directly .* uint8"):
            cs.convolve2d(a.astype(np.uint8), a.astype(np.uint8), fillvalue=300)
        with pytest.raises(ValueError, match="`fillvalue` must be scalar or an array with one "
                                             r"element, got shape \(2,\)"):
            cs.convolve2d(a, a, fillvalue=[1, 2])
        with pytest.raises(ValueError, match="`fillvalue` cannot be an empty array"):
            cs.convolve2d(a, a, fillvalue=[])
        with pytest.raises(ValueError, match="in1 must hold numbers .* got dtype object"):
            cs.convolve2d(a.astype(object), a)
        with pytest.raises(ValueError, match="stride must be positive, got 0"):
            cs.convolve2d(a, a, stride=0)
        with pytest.raises(ValueError, match="stride must be an int or a sequence of 2 ints"):
            cs.convolve2d(a, a, stride=(1, 2, 3))
        with pytest.raises(TypeError, match="stride must be an integer, got 1.5"):
            cs.correlate2d(a, a, stride=1.5)


class TestConvolveND:
    @pytest.mark.parametrize("method", ["direct", "fft", "auto"])
    @pytest.mark.parametrize("shapes", [((9,), (4,)), ((3,), (6,)), ((6, 5), (3, 2)),
                                        ((4, 5, 3), (2, 3, 2)), ((3, 2, 4, 3), (2, 2, 3, 2)),
                                        ((1, 5), (1, 2)), ((5, 1), (2, 1))])
    @pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32, np.float64,
                                       np.complex64, np.complex128])
    def test_matches_scipy(self, method, shapes, dtype):
        rng = np.random.default_rng(5)
        a, b = data(shapes[0], dtype, rng, small=True), data(shapes[1], dtype, rng, small=True)
        for mode in MODES:
            for f, g in ((cs.convolve, ss.convolve), (cs.correlate, ss.correlate)):
                assert_same(f(a, b, mode=mode, method=method), g(a, b, mode=mode, method=method))

    @pytest.mark.parametrize("dtype", INTS)
    def test_integer_wrap_around_exact(self, dtype):
        rng = np.random.default_rng(6)
        for shapes in (((17,), (5,)), ((6, 7), (3, 3)), ((4, 3, 5), (2, 2, 3))):
            a, b = data(shapes[0], dtype, rng), data(shapes[1], dtype, rng)
            for mode, method in itertools.product(MODES, ["direct", "auto"]):
                with np.errstate(over="ignore"):
                    want = ss.convolve(a, b, mode=mode, method="direct")
                    want_c = ss.correlate(a, b, mode=mode, method="direct")
                assert_same(cs.convolve(a, b, mode=mode, method=method), want)
                assert_same(cs.correlate(a, b, mode=mode, method=method), want_c)

    def test_bool(self):
        rng = np.random.default_rng(7)
        a, b = data((30,), np.bool_, rng), data((4,), np.bool_, rng)
        for mode, method in itertools.product(MODES, ["direct", "fft", "auto"]):
            assert_same(cs.convolve(a, b, mode=mode, method=method),
                        ss.convolve(a, b, mode=mode, method="direct"))
            assert_same(cs.correlate(a, b, mode=mode, method=method),
                        ss.correlate(a, b, mode=mode, method="direct"))
        a2, b2 = data((6, 5), np.bool_, rng), data((2, 3), np.bool_, rng)
        # SciPy's FFT answer for bool is its float result != 0 (rounding noise included):
        # convcore's is the exact one
        want = ss.convolve(a2.astype(int), b2.astype(int)) > 0
        assert_same(cs.convolve(a2, b2, method="fft"), want)
        for method in ("direct", "auto"):   # SciPy's N-D direct kernel has no bool version
            with pytest.raises(ValueError, match="Unsupported type"):
                ss.convolve(a2, b2, method=method)
            with pytest.raises(ValueError, match="Unsupported type"):
                cs.convolve(a2, b2, method=method)

    def test_zero_dim(self):
        assert_same(cs.convolve(np.array(3), np.array(4)), ss.convolve(np.array(3), np.array(4)))
        x, y = np.array(2 + 1j), np.array(3 - 2j)
        assert_same(cs.correlate(x, y), ss.correlate(x, y))
        assert_same(cs.convolve(np.float32(2), np.int8(3)), ss.convolve(np.float32(2), np.int8(3)))

    def test_moving_average_1x5(self):
        x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])
        h = np.full(5, 0.2)
        for mode in MODES:
            assert_same(cs.convolve(x, h, mode=mode), ss.convolve(x, h, mode=mode))
        want = [np.mean(x[i:i + 5]) for i in range(6)]
        np.testing.assert_allclose(cs.convolve(x, h, mode="valid"), want, rtol=1e-12)
        # the lecture's (1x5) filter of 0.5 on a 2-D row
        row = x[None, :]
        assert_same(cs.convolve(row, np.full((1, 5), 0.5), mode="same"),
                    ss.convolve(row, np.full((1, 5), 0.5), mode="same"))

    def test_mixed_and_filter_larger_than_input(self):
        rng = np.random.default_rng(8)
        a = data((4, 3), np.int8, rng, small=True)
        b = data((6, 7), np.float32, rng)
        for mode in ("full", "same"):
            assert_same(cs.convolve(a, b, mode=mode), ss.convolve(a, b, mode=mode))
            assert_same(cs.correlate(a, b, mode=mode), ss.correlate(a, b, mode=mode))
        assert_same(cs.correlate(a, b, mode="valid", method="direct"),
                    ss.correlate(a, b, mode="valid", method="direct"))

    def test_errors(self):
        a = np.ones((3, 3))
        with pytest.raises(ValueError, match="volume and kernel should have the same "
                                             "dimensionality; got in1.ndim=2, in2.ndim=1"):
            cs.convolve(a, np.ones(3))
        with pytest.raises(ValueError, match="in1 and in2 should have the same dimensionality"):
            cs.correlate(np.ones(3), a)
        with pytest.raises(ValueError, match="Acceptable method flags are 'auto', 'direct', or "
                                             "'fft'; got method='fast'"):
            cs.convolve(a, a, method="fast")
        with pytest.raises(ValueError, match="Acceptable mode flags"):
            cs.correlate(a, a, mode="circular")
        with pytest.raises(ValueError, match="For 'valid' mode, one must be at least as large"):
            cs.correlate(a, np.ones((2, 4)), mode="valid")
        with pytest.raises(ValueError, match=r"in1 cannot be empty, got shape \(0,\)"):
            cs.convolve(np.zeros(0), np.ones(3))
        with pytest.raises(ValueError, match=r"in2 cannot be empty"):
            cs.correlate(np.ones(3), np.zeros(0))
        with pytest.raises(ValueError, match="in2 must hold numbers"):
            cs.convolve(a, a.astype(str))
        with pytest.raises(ValueError, match="stride must be an int or a sequence of 2 ints"):
            cs.convolve(a, a, stride=(1,))

    def test_nan_warning_with_fft(self):
        a = np.ones(8)
        a[0] = np.nan
        with pytest.warns(RuntimeWarning, match="Use of fft convolution on input with NAN"):
            cs.convolve(a, np.ones(3), method="fft")
        # auto never picks the FFT for non-finite input: the NaN stays local, as SciPy's direct
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            big = np.ones((40, 40))
            big[0, 0] = np.nan
            out = cs.convolve2d(big, np.ones((21, 21)), mode="same")
        assert np.isnan(out[0, 0]) and np.isfinite(out[-1, -1])


class TestStride:
    @pytest.mark.parametrize("stride", [2, 3, (1, 2), (3, 1)])
    def test_2d_equals_slicing(self, stride):
        rng = np.random.default_rng(9)
        a, b = data((11, 10), np.float64, rng), data((3, 4), np.float64, rng)
        s = (stride, stride) if isinstance(stride, int) else stride
        sl = (slice(None, None, s[0]), slice(None, None, s[1]))
        for mode, boundary in itertools.product(MODES, BOUNDARIES):
            for f in (cs.convolve2d, cs.correlate2d):
                assert_same(f(a, b, mode, boundary, 0.5, stride=stride),
                            f(a, b, mode, boundary, 0.5)[sl])
        small = data((2, 3), np.float64, rng)  # 'valid' with swapped inputs
        assert_same(cs.correlate2d(small, a, "valid", stride=stride),
                    ss.correlate2d(small, a, "valid")[sl])
        assert_same(cs.convolve2d(small, a, "valid", stride=stride),
                    ss.convolve2d(small, a, "valid")[sl])
        big = np.outer(data(15, np.float64, rng), data(13, np.float64, rng))  # separable path
        for mode in MODES:
            x = data((30, 33), np.float64, rng)
            assert_same(cs.convolve2d(x, big, mode, "symm", stride=stride),
                        cs.convolve2d(x, big, mode, "symm")[sl])

    @pytest.mark.parametrize("method", ["direct", "fft", "auto"])
    def test_nd_equals_slicing(self, method):
        rng = np.random.default_rng(10)
        for shapes, stride in ((((20,), (5,)), 3), (((7, 8, 6), (3, 2, 3)), (2, 1, 3))):
            a = data(shapes[0], np.int32, rng, small=True)
            b = data(shapes[1], np.int32, rng, small=True)
            st = (stride,) * a.ndim if isinstance(stride, int) else stride
            sl = tuple(slice(None, None, s) for s in st)
            for mode in MODES:
                for f in (cs.convolve, cs.correlate):
                    assert_same(f(a, b, mode, method, stride=stride), f(a, b, mode, method)[sl])
        x, y = data((40,), np.float64, rng), data((6,), np.float64, rng)
        for mode in MODES:
            for f in (cs.fftconvolve, cs.oaconvolve):
                assert_same(f(x, y, mode, stride=4), ss.fftconvolve(x, y, mode)[::4])
        x2, y2 = data((17, 23), np.complex128, rng), data((5, 4), np.float64, rng)
        for mode, stride in itertools.product(MODES, [(2, 3), (3, 1), (9, 2)]):
            sl = (slice(None, None, stride[0]), slice(None, None, stride[1]))
            assert_same(cs.fftconvolve(x2, y2, mode, stride=stride),
                        ss.fftconvolve(x2, y2, mode)[sl])
            if mode != "valid":  # kernel larger than the input
                assert_same(cs.fftconvolve(y2, x2, mode, stride=stride),
                            ss.fftconvolve(y2, x2, mode)[sl])


class TestEngines:
    def _plan(self, x, w, mode="same", stride=(1, 1)):
        return _conv_plan(x, w, mode, stride, np.result_type(x, w))

    def test_separable_detection(self):
        sobel = np.outer([1.0, 2.0, 1.0], [1.0, 0.0, -1.0])
        factors = separable_factors(sobel)
        np.testing.assert_allclose(np.outer(*factors), sobel, atol=1e-15)
        assert separable_factors(np.outer([1, 2], [3, 4])) is None  # integers: never
        assert separable_factors(np.array([[1.0, 2.0], [3.0, 4.0]])) is None
        cube = np.einsum("i,j,k->ijk", [1.0, 2.0], [3.0, -1.0, 2.0], [0.5, 4.0])
        f3 = separable_factors(cube)
        np.testing.assert_allclose(np.einsum("i,j,k->ijk", *f3), cube, rtol=1e-14)

    @pytest.mark.parametrize("boundary", [0, 1, 4])
    @pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
    def test_separable_and_fft_equal_direct(self, boundary, dtype):
        rng = np.random.default_rng(11)
        x = data((23, 19), dtype, rng)
        w = np.outer(rng.standard_normal(5), rng.standard_normal(4))
        for mode, stride in itertools.product(MODES, [(1, 1), (2, 3), (4, 4), (1, 5)]):
            plan = self._plan(x, w.astype(np.float32 if dtype == np.float32 else np.float64), mode, stride)
            plan.boundary, plan.cval = boundary, plan.result.type(0.5)
            want = _direct.run_direct(plan)
            assert_same(_direct.run_separable(plan, separable_factors(plan.w)), want)
            assert_same(_fft.run_fft(plan), want)

    @pytest.mark.parametrize("boundary", [0, 1, 4])
    def test_fft_with_kernel_larger_than_input(self, boundary):
        rng = np.random.default_rng(17)
        x, w = data((5, 4), np.float64, rng), data((13, 11), np.float64, rng)
        for mode, stride in itertools.product(("full", "same"), [(1, 1), (3, 2)]):
            plan = self._plan(x, w, mode, stride)
            plan.boundary, plan.cval = boundary, np.float64(-1.5)
            assert_same(_fft.run_fft(plan), _direct.run_direct(plan))

    @pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.int32])
    def test_overlap_add_engine_equals_direct(self, dtype):
        rng = np.random.default_rng(21)
        x, w = data((3000,), dtype, rng, small=True), data((300,), dtype, rng, small=True)
        for mode, stride in itertools.product(MODES, [(1,), (3,)]):
            plan = _conv_plan(x, w, mode, stride, np.result_type(x, w))
            assert_same(run_oa(plan), _direct.run_direct(plan))
        plan = _conv_plan(x, w, "same", (1,), np.result_type(x, w))
        assert _method.choose(plan, "auto")[0] in ("direct", "fft", "oa")

    def test_integer_fill_keeps_auto_exact(self):
        # a huge fill value: the FFT would not be exact, so auto must stay direct
        rng = np.random.default_rng(18)
        a, b = data((40, 40), np.int64, rng, small=True), data((25, 25), np.int64, rng, small=True)
        for boundary in BOUNDARIES:
            assert_same(cs.convolve2d(a, b, "same", boundary, fillvalue=2 ** 45),
                        ss.convolve2d(a, b, "same", boundary, fillvalue=2 ** 45))

    def test_non_native_byte_order(self):
        rng = np.random.default_rng(19)
        a, b = data((9, 8), np.float64, rng), data((3, 3), np.float64, rng)
        big_a, big_b = a.astype(">f8"), b.astype(">f8")
        assert_same(cs.convolve2d(big_a, big_b, "same"), ss.convolve2d(a, b, "same"))
        assert_same(cs.correlate(big_a, big_b, "valid"), ss.correlate(a, b, "valid"))

    def test_auto_equals_direct(self):
        rng = np.random.default_rng(12)
        for xs, ws in (((64, 64), (3, 3)), ((80, 70), (25, 25)), ((500,), (200,)),
                       ((12, 12, 12), (5, 5, 5))):
            x, w = data(xs, np.float64, rng), data(ws, np.float64, rng)
            assert_same(cs.convolve(x, w, "same"), cs.convolve(x, w, "same", method="direct"))

    def test_cost_model_choices(self, monkeypatch):
        # the choice weighs the threads a method would get: pinned, so any machine chooses alike
        monkeypatch.setattr(convcore._threads, "_setting", 2)
        rng = np.random.default_rng(16)
        assert cs.choose_conv_method(np.ones((512, 512)), rng.random((3, 3))) == "direct"
        assert cs.choose_conv_method(np.ones((512, 512)), rng.random((101, 101))) == "fft"
        # a separable kernel runs as 1-D passes: part of the direct method
        assert cs.choose_conv_method(np.ones((512, 512)), np.ones((101, 101))) == "direct"
        big = np.full((64, 64), 2 ** 30, np.int64)
        assert cs.choose_conv_method(big, big) == "direct"  # FFT would not be exact
        assert cs.choose_conv_method(np.ones((64, 64), bool), np.ones((64, 64), bool)) == "direct"
        assert cs.choose_conv_method(np.ones((200, 200), np.int16),
                                     rng.integers(0, 9, (60, 60), dtype=np.int16)) == "fft"
        plan = self._plan(np.ones((256, 256)), np.outer(np.ones(25), np.arange(1.0, 26.0)))
        assert _method.choose(plan, "direct")[0] == "separable"
        method, times = cs.choose_conv_method(np.ones(50), np.ones(5), measure=True)
        assert method in ("direct", "fft") and set(times) == {"direct", "fft"}
        with pytest.raises(ValueError, match="Acceptable mode flags"):
            cs.choose_conv_method(np.ones(3), np.ones(3), mode="nope")
        with pytest.raises(ValueError, match="in1 and in2 should have the same dimensionality"):
            cs.choose_conv_method(np.ones(3), np.ones((3, 3)))
        with pytest.raises(ValueError, match="in2 cannot be empty"):
            cs.choose_conv_method(np.ones(3), np.ones(0))

    @staticmethod
    def _conv2d_plan(x, w, mode, boundary, fillvalue):
        """The plan of scipy.signal.convolve2d(x, w, mode, boundary, fillvalue)."""
        result = np.result_type(x, w)
        return Plan(x=x, w=w[::-1, ::-1], start=conv_start(mode, w.shape),
                    shape=out_shape(mode, x.shape, w.shape), stride=(1, 1),
                    boundary=boundary_code(boundary), cval=result.type(fillvalue), result=result)

    @pytest.mark.parametrize("boundary", BOUNDARIES)
    @pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
    def test_tiles_match_scipy(self, boundary, dtype):
        # overlap-save tiles: forced tile shapes leave partial last rows and columns of tiles,
        # the smallest tiles (kernel + 1), one tile, non-square tiles; kernel larger than input
        rng = np.random.default_rng(31)
        for xs, ws, tiles in (((45, 38), (7, 5), [(8, 6), (16, 9), (20, 32), (64, 64), None]),
                              ((30, 33), (11, 11), [(12, 24), (27, 18), None]),
                              ((6, 5), (9, 8), [(10, 9), (16, 16), None]),
                              ((1, 17), (1, 4), [(1, 5), None])):
            x, w = data(xs, dtype, rng, small=True), data(ws, dtype, rng, small=True)
            for mode, tile in itertools.product(MODES, tiles):
                if mode == "valid" and (xs[0] < ws[0] or xs[1] < ws[1]):
                    continue
                want = ss.convolve2d(x, w, mode=mode, boundary=boundary, fillvalue=3)
                got = run_tiles(self._conv2d_plan(x, w, mode, boundary, 3), tile)
                assert_same(got, want)

    def test_tiles_chosen_for_mid_sized_dense_kernels(self, monkeypatch):
        monkeypatch.setattr(convcore._threads, "_setting", 2)  # the choice depends on the thread count
        rng = np.random.default_rng(32)
        for dtype in (np.float32, np.float64):
            x, w = data((300, 280), dtype, rng), data((31, 31), dtype, rng)
            plan = self._conv2d_plan(x, w, "same", "fill", 0)
            assert _method.choose(plan, "auto")[0] == "tiles"
            assert cs.choose_conv_method(x, w, "same") == "fft"
            assert_same(cs.convolve2d(x, w, "same"), ss.convolve2d(x, w, "same"))
            assert_same(cs.correlate2d(x, w, "valid", "symm"),
                        ss.correlate2d(x, w, "valid", "symm"))
        (t0, t1), work = tile_shape((1024, 1024), (31, 31), 4)
        assert 31 < t0 < 1024 and 31 < t1 < 1024 and work > 0
        assert tile_shape((10, 10), (3, 3), 8)[0] == (12, 12)  # one tile covers it

    def test_tiles_threads_identical(self):
        rng = np.random.default_rng(33)
        plan = self._conv2d_plan(data((90, 70), np.float64, rng), data((9, 13), np.float64, rng),
                                 "same", "wrap", 0)
        results = []
        for n in (1, 2):
            convcore.set_num_threads(n)
            try:
                results.append(run_tiles(plan, (32, 40)))
            finally:
                convcore.set_num_threads(None)
        np.testing.assert_array_equal(*results)

    def test_cost_floor_bounds_every_other_engine(self):
        # choose() returns 'direct' at once when it is cheaper than this floor: it must lie below
        # the cost of every other engine
        rng = np.random.default_rng(34)
        cases = [((1024, 1024), (3, 3), np.float64, (1, 1)), ((512, 300), (31, 31), np.float32,
                                                              (1, 1)),
                 ((200, 200), (5, 5), np.complex128, (2, 1)), ((100000,), (301,), np.float64, (1,)),
                 ((64, 64, 64), (3, 5, 3), np.float32, (1, 1, 1))]
        for xs, ws, dtype, stride in cases:
            plan = self._plan(data(xs, dtype, rng), data(ws, dtype, rng), "same", stride)
            for threads in (1, 2, 4):
                floor = _method._floor(plan, threads)
                costs = [_method.fft_cost(plan, threads), _method.separable_cost(plan, threads)]
                if plan.x.ndim == 1:
                    costs.append(_method.oa_cost(plan, threads))
                if _method.tiles_usable(plan):
                    costs.append(_method.tiles_cost(plan, threads))
                assert floor <= min(costs), (xs, ws, dtype, threads)
        plan = self._plan(np.ones((1024, 1024)), rng.random((3, 3)))
        assert _method.choose(plan, "auto") == ("direct", None)

    def test_block_rate_where_the_direct_kernel_runs_blocks(self):
        # the cost model asks the kernel which plans run by its 4-row blocks (7..64 rows, >= 7
        # columns, stride 1, AVX2) and prices only those float32 plans at DIRECT_BLOCK_F4
        kernel = _method._direct_kernel
        avx2 = "AVX2" in kernel.cpu_features()
        for shape, step in [((7, 7), (1, 1)), ((64, 7), (1, 1)), ((11, 300), (1, 1))]:
            assert kernel.runs_blocks(shape, step) is avx2
        for shape, step in [((6, 7), (1, 1)), ((7, 6), (1, 1)), ((65, 7), (1, 1)),
                            ((11, 11), (2, 1)), ((11,), (1,)), ((7, 7, 7), (1, 1, 1))]:
            assert not kernel.runs_blocks(shape, step)
        rng = np.random.default_rng(35)
        for dtype, rate in [(np.float32, _method.DIRECT_BLOCK_F4 if avx2 else _method.DIRECT["f4"]),
                            (np.float64, _method.DIRECT["f8"])]:
            plan = self._plan(data((256, 256), dtype, rng), data((11, 11), dtype, rng))
            expected = _method.DIRECT_SETUP + rate * plan.outputs * plan.taps
            assert _method.direct_cost(plan, 1) == pytest.approx(expected)

    def test_tile_rows_every_row_once_and_errors_reach_the_caller(self):
        seen = []
        _Rows(50, lambda i, state: seen.append(i)).run(3)
        assert sorted(seen) == list(range(50))

        def body(i, state):
            if i == 3:
                raise MemoryError("row 3")

        with pytest.raises(MemoryError, match="row 3"):
            _Rows(8, body).run(2)

    def test_threads_identical(self):
        rng = np.random.default_rng(13)
        x = data((70, 66), np.float64, rng)
        results = []
        for n in (1, 2):
            convcore.set_num_threads(n)
            try:
                results.append([cs.convolve2d(x, data((5, 5), np.float64,
                                                      np.random.default_rng(1)), "same", "wrap"),
                                cs.convolve(x, data((41, 40), np.float64,
                                                    np.random.default_rng(2)), method="fft"),
                                cs.convolve(x, np.outer(np.ones(7), np.arange(7.0))),
                                cs.convolve(x.astype(np.int32), np.ones((3, 4), np.int32))])
            finally:
                convcore.set_num_threads(None)
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


class TestFFTConvolve:
    @pytest.mark.parametrize("func", ["fftconvolve", "oaconvolve"])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int16,
                                       np.complex128])
    def test_matches_scipy(self, func, dtype):
        rng = np.random.default_rng(14)
        f, g = getattr(cs, func), getattr(ss, func)
        for s1, s2 in (((300,), (7,)), ((7,), (300,)), ((40, 37), (5, 3)), ((6, 30, 5), (2, 9, 5)),
                       ((25, 25), (25, 25))):
            a, b = data(s1, dtype, rng, small=True), data(s2, dtype, rng, small=True)
            for mode in MODES:
                if mode == "valid" and func == "oaconvolve" and s1 == (6, 30, 5):
                    continue
                assert_same(f(a, b, mode), g(a, b, mode))

    @pytest.mark.parametrize("func", ["fftconvolve", "oaconvolve"])
    def test_axes_and_broadcasting(self, func):
        rng = np.random.default_rng(15)
        f, g = getattr(cs, func), getattr(ss, func)
        a, b = data((4, 200), np.float64, rng), data((1, 9), np.float64, rng)
        for mode in MODES:
            assert_same(f(a, b, mode, axes=1), g(a, b, mode, axes=1))
            assert_same(f(a, b, mode, axes=[-1]), g(a, b, mode, axes=[-1]))
        c = data((4, 200), np.float64, rng)
        assert_same(f(a, c, "same", axes=[1]), g(a, c, "same", axes=[1]))
        d = data((3, 1), np.float64, rng)
        for mode in MODES:
            assert_same(f(a, d, mode, axes=0), g(a, d, mode, axes=0))

    @pytest.mark.parametrize("s1, s2", [((300, 5), (7, 200)), ((1, 40), (30, 5)), ((30, 1), (5, 40)),
                                        ((50,), (49,)), ((2, 100, 3), (2, 7, 1)), ((513,), (3,))])
    def test_blocking_and_broadcasting_shapes(self, s1, s2):
        rng = np.random.default_rng(20)
        a, b = data(s1, np.float64, rng), data(s2, np.float64, rng)
        for mode in MODES:
            for f, g in ((cs.fftconvolve, ss.fftconvolve), (cs.oaconvolve, ss.oaconvolve)):
                try:
                    want = g(a, b, mode)
                except ValueError:
                    with pytest.raises(ValueError, match="For 'valid' mode"):
                        f(a, b, mode)
                    continue
                assert_same(f(a, b, mode), want)

    def test_special_inputs(self):
        for f, g in ((cs.fftconvolve, ss.fftconvolve), (cs.oaconvolve, ss.oaconvolve)):
            assert_same(f(np.zeros((0, 3)), np.ones((2, 2))), g(np.zeros((0, 3)), np.ones((2, 2))))
            assert_same(f(np.array(2.0), np.array(3.0)), g(np.array(2.0), np.array(3.0)))
            assert_same(f(np.ones((3, 1)), np.ones((1, 4))), g(np.ones((3, 1)), np.ones((1, 4))))

    def test_errors(self):
        a = np.ones((3, 3))
        for f in (cs.fftconvolve, cs.oaconvolve):
            with pytest.raises(ValueError, match="in1 and in2 should have the same dimensionality"):
                f(a, np.ones(3))
            with pytest.raises(ValueError, match="acceptable mode flags"):
                f(a, a, mode="bad")
            with pytest.raises(ValueError, match="when provided, axes cannot be empty"):
                f(a, a, axes=[])
            with pytest.raises(ValueError, match="axes exceeds dimensionality of input"):
                f(a, a, axes=[2])
            with pytest.raises(ValueError, match="all axes must be unique"):
                f(a, a, axes=[0, -2])
            with pytest.raises(ValueError, match=r"incompatible shapes for in1 and in2: \(2, 3\)"):
                f(np.ones((2, 3)), a, axes=[1])
            with pytest.raises(ValueError, match="For 'valid' mode, one must be at least"):
                f(a, np.ones((2, 4)), mode="valid")
            with pytest.raises(ValueError, match="in1 must hold numbers"):
                f(a.astype(object), a)
            with pytest.raises(ValueError, match="axes must be a scalar or iterable of integers, got"):
                f(a, a, axes=["x"])


@pytest.mark.parametrize("name", ["convolve", "correlate", "convolve2d", "correlate2d",
                                  "fftconvolve", "oaconvolve"])
@pytest.mark.parametrize("dtype", [np.longdouble, np.clongdouble])
def test_extended_precision_as_scipy(name, dtype):
    """long double inputs keep their precision: SciPy's own function computes them, then `stride`."""
    rng = np.random.default_rng(5)
    a = rng.random((9, 8)).astype(dtype)
    b = rng.random((3, 4)).astype(dtype)
    expected = getattr(ss, name)(a, b)
    got = getattr(cs, name)(a, b)
    assert got.dtype == expected.dtype == np.result_type(a, b)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(getattr(cs, name)(a, b, stride=(2, 3)), expected[::2, ::3])
