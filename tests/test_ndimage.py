"""convcore.ndimage against scipy.ndimage: every function x mode x dtype, origins, axes, output."""
import numpy as np
import pytest
from scipy import ndimage as sp

from convcore import _cpu, ndimage as cc
from convcore.ndimage._support import mode_code

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror", "grid-constant",
         "grid-wrap"]
INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
DTYPES = INT_DTYPES + [np.float32, np.float64]


def make(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" else -50
        return rng.integers(lo, 100, size=shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def check(got, want):
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    if want.dtype.kind in "iub":
        np.testing.assert_array_equal(got, want)
    elif want.dtype in (np.float32, np.complex64):
        scale = max(float(np.max(np.abs(want))), 1.0) if want.size else 1.0
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)
    else:
        scale = max(float(np.max(np.abs(want))), 1e-300) if want.size else 1.0
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13 * scale)


def same(name, *args, **kwargs):
    """convcore.ndimage.<name> and scipy.ndimage.<name> agree on these arguments."""
    check(getattr(cc, name)(*args, **kwargs), getattr(sp, name)(*args, **kwargs))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_correlate1d_modes_dtypes(mode, dtype):
    x = make((7, 9), dtype)
    for w, axis in (([0.25, 0.5, -0.3], 0), ([1, 3], 1), ([0.2] * 5, 1), ([-1, 0, 1], 0)):
        check(cc.correlate1d(x, w, axis, mode=mode, cval=1.5),
              sp.correlate1d(x, w, axis, mode=mode, cval=1.5))


@pytest.mark.parametrize("origin", [-2, -1, 0, 1, 2])
@pytest.mark.parametrize("size", [4, 5])
def test_correlate1d_convolve1d_origins(origin, size):
    x = make((6, 11), np.float64)
    w = make(size, np.float64, seed=3)
    if -(size // 2) <= origin <= (size - 1) // 2:
        same("correlate1d", x, w, origin=origin)
        check(cc.convolve1d(x, w, origin=origin, mode="wrap"),
              sp.convolve1d(x, w, origin=origin, mode="wrap"))
    else:
        with pytest.raises(ValueError, match="origin must satisfy"):
            cc.correlate1d(x, w, origin=origin)


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_correlate1d_every_axis_nd(ndim):
    shape = (5, 4, 37, 3)[:ndim]
    x = make(shape, np.float64)
    w = make(7, np.float64, seed=1)
    for axis in range(-ndim, ndim):
        same("correlate1d", x, w, axis, mode="mirror")


def test_wide_kernels_and_blocks_of_lines():
    # longer than the input (edge rule applied repeatedly) and more than 32 neighbouring lines
    x = make((5, 70), np.float64)
    for mode in MODES:
        w = make(23, np.float64, seed=2)
        same("correlate1d", x, w, 0, mode=mode, cval=-2)
        same("uniform_filter1d", x, 13, 0, mode=mode)
    same("correlate1d", x[:1, :1], [1.0, 2.0, 3.0], 1)


def test_float64_bit_exact_symmetric_and_general():
    x = make((40, 50), np.float64)
    for w in ([0.1, 0.2, 0.4, 0.2, 0.1], [-0.3, -0.1, 0.0, 0.1, 0.3], [0.3, -1.2, 0.7, 0.5]):
        np.testing.assert_array_equal(cc.correlate1d(x, w, 0), sp.correlate1d(x, w, 0))
        np.testing.assert_array_equal(cc.correlate1d(x, w, 1), sp.correlate1d(x, w, 1))


@pytest.mark.parametrize("dtype", DTYPES + [np.complex64, np.complex128])
@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap", ("nearest", "mirror")])
def test_gaussian_filter(dtype, mode):
    x = make((12, 15), dtype) * (3 if np.dtype(dtype).kind == "f" else 1)
    for sigma, order in ((1.0, 0), ((0.7, 2.5), 0), (1.5, (1, 0)), (1.2, (0, 2))):
        check(cc.gaussian_filter(x, sigma, order, mode=mode, cval=0.5),
              sp.gaussian_filter(x, sigma, order, mode=mode, cval=0.5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (5, 1), (37, 41)])
def test_gaussian_kernels_of_one_tap(dtype, shape):
    # sigma 0.1 (truncate * sigma rounds to radius 0) or radius=0 on an axis or both: a kernel of
    # a single tap, which the fused 2-D sweep read past (float32 and integer images gave memory
    # garbage); the derivative filters run the same Gaussian passes
    x = make(shape, dtype) * (3 if np.dtype(dtype).kind == "f" else 1)
    for sigma in (0.1, (1.0, 0.1), (0.1, 1.5)):
        for mode in ("reflect", "constant", "wrap"):
            check(cc.gaussian_filter(x, sigma, mode=mode, cval=0.5),
                  sp.gaussian_filter(x, sigma, mode=mode, cval=0.5))
            check(cc.gaussian_laplace(x, sigma, mode=mode),
                  sp.gaussian_laplace(x, sigma, mode=mode))
            with np.errstate(invalid="ignore"):  # int8 squares wrap: sqrt of negatives
                check(cc.gaussian_gradient_magnitude(x, sigma, mode=mode),
                      sp.gaussian_gradient_magnitude(x, sigma, mode=mode))
    check(cc.gaussian_filter(x, 1.0, radius=0), sp.gaussian_filter(x, 1.0, radius=0))
    check(cc.gaussian_filter(x, 1.0, radius=(0, 2)), sp.gaussian_filter(x, 1.0, radius=(0, 2)))


def test_gaussian_truncate_radius_axes_output():
    x = make((9, 8, 7), np.float64)
    same("gaussian_filter", x, 2.0, truncate=1.5)
    same("gaussian_filter", x, 2.0, radius=(1, 2, 3))
    same("gaussian_filter", x, (1.0, 2.0), axes=(2, 0))
    same("gaussian_filter", x, 1.0, output=np.float32)
    out = np.empty_like(x)
    assert cc.gaussian_filter(x, 1.0, output=out) is out
    check(out, sp.gaussian_filter(x, 1.0))
    check(cc.gaussian_filter(x, 0.0), x)
    same("gaussian_filter1d", x, 3.0, axis=1, order=3)
    same("gaussian_filter1d", x, 30.0, axis=1)


@pytest.mark.parametrize("dtype", DTYPES + [np.complex128])
@pytest.mark.parametrize("mode", MODES)
def test_uniform_filter(dtype, mode):
    x = make((10, 13), dtype)
    for size, origin in ((3, 0), (4, -1), ((2, 5), (0, 1)), (1, 0), (20, 0)):
        check(cc.uniform_filter(x, size, mode=mode, cval=2, origin=origin),
              sp.uniform_filter(x, size, mode=mode, cval=2, origin=origin))
    check(cc.uniform_filter1d(x, 4, axis=0, mode=mode, origin=1),
          sp.uniform_filter1d(x, 4, axis=0, mode=mode, origin=1))


def test_uniform_axes_and_output_dtype():
    x = make((6, 7, 8), np.uint8)
    same("uniform_filter", x, 3, axes=(0, 2))
    same("uniform_filter", x, 5, output=np.float64)
    check(cc.uniform_filter(x, 3, mode=("wrap", "nearest", "constant")),
          sp.uniform_filter(x, 3, mode=("wrap", "nearest", "constant")))


def test_non_contiguous_input_and_output():
    x = make((20, 30), np.float64)[::2, ::3]
    out = np.zeros((10, 20), np.float32)[:, ::2]
    cc.correlate1d(x, [1.0, 2.0, 0.5], 0, output=out)
    check(out, sp.correlate1d(x, [1.0, 2.0, 0.5], 0, output=np.float32))
    y = make((8, 9), np.float64)
    cc.correlate1d(y, [1.0, 2.0, 0.5], 1, output=y)  # in place
    check(y, sp.correlate1d(make((8, 9), np.float64), [1.0, 2.0, 0.5], 1))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_correlate_convolve_nd(dtype, mode):
    x = make((9, 10), dtype)
    w = make((3, 4), np.float64, seed=5)
    for origin in (0, (-1, 1), (1, -2)):
        check(cc.correlate(x, w, mode=mode, cval=1, origin=origin),
              sp.correlate(x, w, mode=mode, cval=1, origin=origin))
        check(cc.convolve(x, w, mode=mode, cval=1, origin=origin),
              sp.convolve(x, w, mode=mode, cval=1, origin=origin))


def _scipy_bits(got, want):
    """The same float64 values as SciPy's, NaN where SciPy has NaN (whose sign bit means nothing)
    and the signs of zeros too."""
    np.testing.assert_array_equal(got, want)
    numbers = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[numbers]), np.signbit(want[numbers]))


@pytest.mark.parametrize("mode", MODES)
def test_nd_float64_is_scipys_bits(mode):
    # N-D float64 correlations add SciPy's kept taps (|w| > DBL_EPSILON) in C order, each product
    # rounded before its sum (src/ordered.pyx): SciPy's bits, where an order of its own (groups
    # of taps, fused multiply-adds) was within rounding only. Kernels wider than the input, short
    # and long rows (a long 1-D signal runs in pieces), tiny, zero and NaN weights, NaN and
    # infinities under kept and left-out taps, every origin, 1-D to 4-D.
    rng = np.random.default_rng(40)
    cases = [((29,), (4,)), ((20000,), (9,)), ((9, 10), (3, 4)), ((5, 3), (7, 6)),
             ((3, 70), (2, 11)), ((6, 7, 5), (3, 2, 3)), ((3, 4, 2, 5), (2, 3, 1, 2))]
    for shape, ks in cases:
        x = rng.standard_normal(shape) * 10
        w = rng.integers(-3, 4, ks) * 0.3
        w.flat[0], w.flat[-1] = 1e-17, np.nan          # both left out by SciPy
        x.flat[rng.integers(0, x.size, 3)] = [np.inf, -np.inf, np.nan]
        for cval, origin in ((0.0, None), (-1.5, [(k - 1) // 2 for k in ks]),
                             (np.inf, [-(k // 2) for k in ks])):
            kw = dict(mode=mode, cval=cval, origin=0 if origin is None else origin)
            _scipy_bits(cc.correlate(x, w, **kw), sp.correlate(x, w, **kw))
            _scipy_bits(cc.convolve(x, w, **kw), sp.convolve(x, w, **kw))


def test_nd_float64_sums_into_other_dtypes_and_every_build():
    # the double sums, then SciPy's conversion (integers truncated and wrapped); the same bits in
    # every build this CPU runs (baseline, AVX2, AVX-512F) on 1 to 3 threads
    rng = np.random.default_rng(41)
    x = rng.integers(0, 256, (37, 45)).astype(np.uint8)
    w = rng.standard_normal((4, 3)) * 40
    for out in (np.int16, np.uint8, np.float32, np.float64):
        np.testing.assert_array_equal(cc.correlate(x, w, output=out, mode="mirror"),
                                      sp.correlate(x, w, output=out, mode="mirror"))
    x = rng.standard_normal((7, 300))
    w = rng.standard_normal((3, 5))
    want = sp.correlate(x, w, mode="wrap", origin=(1, -2))
    start = [-(3 // 2) - 1, -(5 // 2) + 2]
    for module in _cpu.builds("ordered"):
        for threads in (1, 2, 3):
            got = np.empty_like(x)
            module.correlate(x, w, got, start, mode_code("wrap"), 0.0, threads)
            _scipy_bits(got, want)


def test_correlate_nd_complex_weights_axes_3d():
    x = make((5, 6, 7), np.float64)
    w = make((3, 2), np.complex128, seed=2)
    same("correlate", x, w, axes=(0, 2))
    same("convolve", x, w, axes=(2, 1))
    w3 = make((2, 3, 5), np.float64, seed=1)
    same("correlate", x, w3, mode="mirror")
    same("correlate", x, w3, output=np.int32)
    big = make((11, 12, 13), np.float64, seed=4)
    same("correlate", x, big, mode="wrap")


@pytest.mark.parametrize("func", ["sobel", "prewitt"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32, np.float32, np.float64])
def test_sobel_prewitt(func, dtype):
    x = make((9, 11, 4), dtype)
    for axis in (0, 1, -1):
        for mode in ("reflect", "constant", ("wrap", "nearest", "mirror")):
            check(getattr(cc, func)(x, axis, mode=mode, cval=3),
                  getattr(sp, func)(x, axis, mode=mode, cval=3))
    check(getattr(cc, func)(x, 0, output=np.float64), getattr(sp, func)(x, 0, output=np.float64))


@pytest.mark.parametrize("func", ["sobel", "prewitt"])
def test_sobel_prewitt_uint8_images_in_byte_arithmetic(func):
    # 2-D uint8 into uint8: the sums modulo 256 in bytes (separable2d.wrap3_u8), both pass
    # orders, one edge rule per axis, integer constants outside [0, 255] (taken modulo 256) and
    # a fractional one (SciPy's truncation: the float path), single rows and columns, strips of
    # rows not filling the last work item; equal to SciPy bit for bit
    for shape in ((37, 53), (1, 6), (6, 1), (1, 1), (70, 2)):
        x = make(shape, np.uint8)
        for axis in (0, 1):
            for mode, cval in (("reflect", 0), ("constant", -7), ("constant", 300),
                               (("wrap", "constant"), 250), (("constant", "mirror"), 0.5),
                               (("nearest", "wrap"), 0)):
                same(func, x, axis, mode=mode, cval=cval)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_laplace_family(dtype):
    x = make((10, 12), dtype)
    same("laplace", x)
    same("laplace", x, mode=("wrap", "constant"), cval=1)
    same("laplace", x, axes=(1,))
    same("gaussian_laplace", x, 1.5)
    check(cc.gaussian_laplace(x, (1.0, 2.0), mode="nearest", truncate=3.0),
          sp.gaussian_laplace(x, (1.0, 2.0), mode="nearest", truncate=3.0))
    same("gaussian_gradient_magnitude", x, 1.0)
    check(cc.gaussian_gradient_magnitude(x, 2.0, output=np.float64, axes=(0,)),
          sp.gaussian_gradient_magnitude(x, 2.0, output=np.float64, axes=(0,)))


def test_integer_truncation_and_wraparound():
    x = np.array([[0, 255, 255, 0, 10]], dtype=np.uint8)
    for w in ([1.0, 1.0, 1.0], [-1.0, 0.0, 1.0], [0.3, 0.3, 0.3], [2.5]):
        same("correlate1d", x, w, 1)
    big = np.array([3e9, -3e9, 1.5e19], dtype=np.float64)
    same("correlate1d", big, [1.0], output=np.uint64)


def test_empty_and_bool_input():
    same("gaussian_filter", np.zeros((0, 5)), 1.0)
    b = np.eye(5, dtype=bool)
    same("uniform_filter", b, 3, output=np.float64)


def test_errors():
    x = np.zeros((4, 5))
    with pytest.raises(RuntimeError, match="boundary mode not supported"):
        cc.correlate1d(x, [1.0], mode="edge")
    with pytest.raises(RuntimeError, match="no filter weights given"):
        cc.correlate1d(x, [])
    with pytest.raises(RuntimeError, match="weights must be 1-D"):
        cc.correlate1d(x, [[1.0]])
    with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds"):
        cc.correlate1d(x, [1.0], axis=2)
    with pytest.raises(TypeError, match="axis must be an int"):
        cc.correlate1d(x, [1.0], axis=1.0)
    with pytest.raises(RuntimeError, match="output shape not correct"):
        cc.correlate1d(x, [1.0], output=np.zeros(3))
    with pytest.raises(RuntimeError, match="output must have numeric dtype"):
        cc.correlate1d(x, [1.0], output="U5")
    with pytest.raises(TypeError, match="cval must be real"):
        cc.correlate1d(x, [1.0], cval=1j)
    with pytest.raises(TypeError, match="input must hold numbers"):
        cc.correlate1d(np.array(["a"]), [1.0])
    with pytest.raises(RuntimeError, match="incorrect filter size"):
        cc.uniform_filter1d(x, 0)
    with pytest.raises(TypeError, match="size must be an integer"):
        cc.uniform_filter1d(x, 2.5)
    with pytest.raises(ValueError, match="origin must satisfy"):
        cc.uniform_filter1d(x, 3, origin=2)
    with pytest.raises(RuntimeError, match="sequence argument must have length equal to input rank"):
        cc.gaussian_filter(x, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="sigma must be positive"):
        cc.gaussian_filter1d(x, -1.0)
    with pytest.raises(ValueError, match="radius must be a non-negative integer"):
        cc.gaussian_filter1d(x, 1.0, radius=-1)
    with pytest.raises(ValueError, match="order must be non-negative"):
        cc.gaussian_filter1d(x, 1.0, order=-1)
    with pytest.raises(ValueError, match="axes must be unique"):
        cc.uniform_filter(x, 3, axes=(0, 0))
    with pytest.raises(ValueError, match="axes entry 3 is out of range"):
        cc.gaussian_filter(x, 1.0, axes=(3,))
    with pytest.raises(RuntimeError, match=r"weights.ndim \(1\) must match len\(axes\) \(2\)"):
        cc.correlate(x, np.ones(3))
    with pytest.raises(RuntimeError, match="A sequence of modes is not supported"):
        cc.correlate(x, np.ones((3, 3)), mode=("wrap", "wrap"))
    with pytest.raises(ValueError, match="output array is read-only"):
        ro = np.zeros_like(x)
        ro.flags.writeable = False
        cc.correlate1d(x, [1.0], output=ro)


ALL_FILTERS = [  # (name, arguments after the input) of every ndimage function
    ("correlate", (np.ones((3, 2)),)), ("convolve", (np.ones((3, 2)),)),
    ("correlate1d", ([1.0, 2.0],)), ("convolve1d", ([1.0, 2.0],)),
    ("uniform_filter", (3,)), ("uniform_filter1d", (3,)), ("gaussian_filter", (1.0,)),
    ("gaussian_filter1d", (1.0,)), ("sobel", ()), ("prewitt", ()), ("laplace", ()),
    ("gaussian_laplace", (1.0,)), ("gaussian_gradient_magnitude", (1.0,))]


@pytest.mark.parametrize("name, args", ALL_FILTERS, ids=[f[0] for f in ALL_FILTERS])
def test_inputs_scipy_reads_its_own_way(name, args):
    # byte-swapped data give a result in the machine's byte order (SciPy names the dtype);
    # objects and dates are SciPy's RuntimeError; weights of objects or strings of numbers are
    # read as float64, as SciPy reads them
    for dtype in (">f8", ">i4", ">u2", ">c16"):
        x = make((5, 6), np.dtype(dtype).newbyteorder("=")).astype(dtype)
        got, want = getattr(cc, name)(x, *args), getattr(sp, name)(x, *args)
        assert got.dtype == want.dtype and got.dtype.isnative
        check(got, want)
    unsupported = r"array type (dtype\('(O|<M8\[s\])'\) )?not supported"
    for bad in (np.ones((5, 6), object), np.ones((5, 6), "M8[s]")):
        for module in (sp, cc):
            with pytest.raises(RuntimeError, match=unsupported):
                getattr(module, name)(bad, *args)
            with pytest.raises(RuntimeError, match=unsupported):   # as the output
                getattr(module, name)(np.ones((5, 6)), *args, output=bad)
    if name in ("correlate", "convolve", "correlate1d", "convolve1d"):
        x = make((5, 6), np.float64)
        for weights in (np.asarray(args[0]).astype(object), np.asarray(args[0]).astype(str)):
            check(getattr(cc, name)(x, weights), getattr(sp, name)(x, weights))


def test_origins_and_sigmas_of_other_types_as_scipy():
    # SciPy checks an origin's range first (ValueError), then its type: a float, even a whole
    # one, is a TypeError (the uniform filters truncated it), a bool is an int for the 1-D
    # filters, the uniform ones and convolve (which negates it), a TypeError for the N-D
    # correlate; a string sigma is a TypeError (float() read it)
    x = make((6, 7), np.float64)
    calls = [lambda m: m.uniform_filter(x, 3, origin=True),
             lambda m: m.uniform_filter1d(x, 3, origin=True),
             lambda m: m.correlate1d(x, [1.0, 2.0, 3.0], origin=True),
             lambda m: m.convolve1d(x, [1.0, 2.0, 3.0, 4.0], origin=True),
             lambda m: m.convolve(x, np.ones((3, 3)), origin=True),
             lambda m: m.correlate(x, np.ones((3, 3)), origin=(0, True)),
             lambda m: m.convolve(x, np.ones((2, 2)), origin=True),
             lambda m: m.uniform_filter(x, 3, origin=0.5),
             lambda m: m.uniform_filter(x, 3, origin=1.0),
             lambda m: m.uniform_filter1d(x, 1, origin=1.0),
             lambda m: m.correlate(x, np.ones((2, 2)), origin=0.5),
             lambda m: m.convolve1d(x, [1.0, 2.0, 3.0], origin=0.5),
             lambda m: m.gaussian_filter1d(x, "1"), lambda m: m.gaussian_filter(x, "1")]
    for call in calls:
        try:
            want = call(sp)
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc)):
                call(cc)
        else:
            check(call(cc), want)


def test_in_place_and_complex_1d():
    x = make((12, 10), np.float32)
    y = x.copy()
    assert cc.gaussian_filter(y, 1.5, output=y) is y
    check(y, sp.gaussian_filter(x, 1.5))
    z = make((9, 8), np.complex128)
    w = make(4, np.complex128, seed=7)
    same("correlate1d", z, w, 0, mode="wrap")
    same("convolve1d", z.real, w, 1)
    same("uniform_filter1d", z, 3, 0)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_four_d_and_per_axis_arguments(dtype):
    x = make((3, 4, 5, 6), dtype)
    same("gaussian_filter", x, (0.5, 1.0, 0.0, 2.0), mode=("wrap", "reflect", "nearest", "mirror"))
    check(cc.uniform_filter(x, (1, 2, 3, 4), origin=(0, 0, 1, -2)),
          sp.uniform_filter(x, (1, 2, 3, 4), origin=(0, 0, 1, -2)))
    same("correlate", x, np.ones((2, 2, 2, 2)) / 16)


def test_float32_large_nd_kernel_in_double():
    x = make((30, 30), np.float32)
    w = make((9, 9), np.float64, seed=8)
    same("correlate", x, w)
    same("convolve", x, w, output=np.uint8)


@pytest.mark.parametrize("shape", [(70, 1030), (37, 45), (40, 24)])
@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_long_column_kernels_in_one_sweep(dtype, shape, monkeypatch):
    # column kernels of 5 to 33 taps run band by band of columns (src/separable2d.pyx), the
    # strip's rows at a padded stride; from 11 taps float buffers by multiply-adds (float32:
    # SciPy's to tolerance; integers: re-checked, SciPy's exactly), double buffers in one sweep in
    # SciPy's order (float64: SciPy's bits); 1 and 2 threads give the same bits
    from convcore import _threads
    x = make(shape, dtype) * (3 if np.dtype(dtype).kind == "f" else 1)
    for sigma, order, mode in ((4.0, 0, "reflect"), ((3.0, 1.5), 0, "constant"),
                               (2.6, 1, "wrap"), (4.0, (0, 2), "mirror"), (1.4, 0, "nearest"),
                               (1.0, 0, "reflect"), ((0.5, 1.0), 0, "constant"),
                               (0.7, 1, "mirror")):
        want = sp.gaussian_filter(x, sigma, order=order, mode=mode, cval=2)
        got = []
        for threads in (1, 2):
            monkeypatch.setattr(_threads, "_setting", threads)
            got.append(cc.gaussian_filter(x, sigma, order=order, mode=mode, cval=2))
        check(got[0], want)
        if x.dtype != np.float32:
            np.testing.assert_array_equal(got[0], want)
        np.testing.assert_array_equal(got[1], got[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
@pytest.mark.parametrize("mode", ["reflect", "constant", ("wrap", "nearest"),
                                  ("mirror", "grid-constant")])
def test_images_in_one_sweep(dtype, mode):
    # 2-D images take the one-sweep path (src/_lines.pyx separable2d) when the column kernel is
    # short, the two-pass path otherwise: both must give SciPy's result, intermediate rounding
    # included
    x = make((45, 38), dtype) * (2 if np.dtype(dtype).kind == "f" else 1)
    for axis in (0, 1):
        same("sobel", x, axis, mode=mode, cval=2)
        same("prewitt", x, axis, mode=mode, cval=2)
    for sigma in (0.8, (3.0, 1.0), (1.0, 3.0), 9.0):
        same("gaussian_filter", x, sigma, mode=mode, cval=1)
        check(cc.gaussian_filter(x, sigma, mode=mode, axes=(1, 0)),
              sp.gaussian_filter(x, sigma, mode=mode, axes=(1, 0)))
    check(cc.gaussian_filter(x, 1.5, order=(1, 0), output=np.float32),
          sp.gaussian_filter(x, 1.5, order=(1, 0), output=np.float32))
    same("sobel", x, 0, output=np.int32)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint32, np.float32, np.float64])
def test_uniform_images_in_one_sweep(dtype):
    # taller than one strip (32 rows): every strip restarts its running sums down the columns
    x = make((75, 41), dtype) * (5 if np.dtype(dtype).kind == "f" else 1)
    for size, origin, mode in ((5, 0, "reflect"), ((3, 8), (1, -3), "constant"),
                               ((33, 2), (0, 0), ("wrap", "mirror")), (40, 0, "nearest")):
        same("uniform_filter", x, size, origin=origin, mode=mode, cval=3)
    same("uniform_filter", x, 4, output=np.float64)
    # float image, integer output: two passes
    same("uniform_filter", x.astype(np.float64), 3, output=np.uint8)
    with pytest.raises(ValueError, match="origin must satisfy"):
        cc.uniform_filter(x, 3, origin=(0, 2))


def test_float32_buffers_when_exact_or_float32():
    from convcore.ndimage._engine import SINGLE_MAX_WINDOW, _single
    f32, f64, u8, i32 = (np.empty(1, t) for t in (np.float32, np.float64, np.uint8, np.int32))
    short, long_ = np.ones(17), np.ones(18)
    assert _single(f32, f32, [np.ones(33)], 0.0) and not _single(f32, f32, [np.ones(34)], 0.0)
    assert _single(f32, f32, [short], 0.0, max_taps=SINGLE_MAX_WINDOW)
    assert not _single(f32, f32, [long_], 0.0, max_taps=SINGLE_MAX_WINDOW)
    assert not _single(f32, f64, [short], 0.0) and not _single(f64, f64, [short], 0.0)
    assert _single(u8, u8, [np.array([-1.0, 0, 1]), long_], 0.0)
    assert not _single(u8, u8, [np.array([0.5, 1.0])], 0.0)       # weights not integers
    assert not _single(u8, u8, [short], 0.5)                       # cval not an integer
    assert not _single(i32, i32, [short], 0.0)                     # sums may pass 2**24
    assert not _single(u8, f32, [short], 0.0)
    assert not _single(u8, u8, [np.ones(65794)], 0.0)              # 255 * 65794 > 2**24


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.float32])
def test_float32_buffer_paths_against_scipy(mode, dtype):
    # full-range integers (wrap-around of the intermediate included), odd sizes, transposed
    # (non-contiguous) input, every mode
    rng = np.random.default_rng(21)
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal((37, 53)).astype(dtype) * 3
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, size=(37, 53), endpoint=True).astype(dtype)
    for arr in (x, x.T):
        for axis in (0, 1):
            same("sobel", arr, axis, mode=mode, cval=3)
            same("prewitt", arr, axis, mode=mode)
            same("correlate1d", arr, [1, -2, 4, 0, 3], axis, mode=mode, cval=-1)
            same("uniform_filter1d", arr, 6, axis, mode=mode, cval=2)
        same("uniform_filter", arr, (5, 3), mode=mode, cval=1)
        same("laplace", arr, mode=mode)
        if np.dtype(dtype).kind == "f":
            same("gaussian_filter", arr, 1.3, mode=mode, cval=0.5)
            same("gaussian_filter1d", arr, 0.9, 1, order=1, mode=mode)


def test_checked_float32_margins():
    from convcore.ndimage._engine import _checks, _plan
    f32, u8, i16, i32 = (np.empty(1, t) for t in (np.float32, np.uint8, np.int16, np.int32))
    g = np.array([0.25, 0.5, 0.25])
    assert _checks(u8, u8, [g], 0.0) == [7 * 2.0 ** -24 * 255]
    assert _checks(f32, f32, [g], 0.0) is None and _checks(i32, i32, [g], 0.0) is None
    assert _checks(u8, u8, [g], 0.1) is None                       # cval not a float32
    assert _checks(i16, i16, [np.ones(99) / 3], 0.0) is None       # margin too wide
    assert _plan(u8, u8, [g], 0.0) == (True, _checks(u8, u8, [g], 0.0))
    assert _plan(u8, u8, [np.array([1.0, 2, 1])], 0.0) == (True, [0.0])
    assert _plan(i32, i32, [g], 0.0) == (False, [0.0])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_checked_integer_filters_against_scipy(mode, dtype):
    # weights whose sums land on integers again and again: SciPy's truncation, bit for bit
    info = np.iinfo(dtype)
    x = np.random.default_rng(22).integers(info.min, info.max, size=(41, 67),
                                           endpoint=True).astype(dtype)
    for arr in (x, x.T):
        for axis in (0, 1):
            same("correlate1d", arr, [0.1, 0.2, 0.4, 0.2, 0.1], axis, mode=mode, cval=3)
            same("correlate1d", arr, [0.1, 0.7, 0.2], axis, mode=mode)
            same("gaussian_filter1d", arr, 1.7, axis, mode=mode)
        same("gaussian_filter", arr, 1.0, mode=mode)
        same("gaussian_filter", arr, (0.7, 2.5), mode=mode, cval=2)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.uint16])
def test_nd_correlate_integers_truncate_as_scipy(dtype):
    # weights whose sums of integers land on integers: the direct kernel adds the taps in its own
    # order, and the outputs near a truncation boundary are settled in SciPy's order
    info = np.iinfo(dtype)
    rng = np.random.default_rng(23)
    x = rng.integers(max(info.min, -1000), min(info.max, 1000), size=(53, 61),
                     endpoint=True).astype(dtype)
    for w in (np.full((3, 3), 0.1), np.array([[0.1, 0.2, 0.1], [0.2, 0.3, 0.1], [0.1, 0, 0.1]]),
              np.full((5, 5), 0.04), np.full((2, 3, 1), 0.3)):
        x3 = x if w.ndim == 2 else np.stack([x, x[::-1]], axis=-1)
        for mode in ("reflect", "constant", "wrap", "nearest"):
            same("correlate", x3, w, mode=mode, cval=2)
            same("convolve", x3, w, mode=mode)
        same("correlate", x3, w, output=np.uint8)


@pytest.mark.parametrize("out", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                 np.int64])
@pytest.mark.parametrize("src", [np.float32, np.float64])
def test_nonfinite_and_out_of_range_into_integers(out, src):
    # C leaves these conversions undefined; x86-64 compilers (SciPy's build) give INT_MIN for
    # NaN, infinities and values beyond int's range in every type of up to 32 bits but uint32
    # (wrapped: 0 for 8 and 16 bits), INT64_MIN for uint32 and int64 beyond their range
    vals = np.array([3e9, -3e9, 5e9, -5e9, 1e19, -1e19, np.inf, -np.inf, np.nan, 2147483647.5,
                     2147483648.0, -2147483648.7, -2147483649.0, 4294967295.9, 4294967296.0,
                     7e4 + 0.5, -7e4, 1e30, -5.0, 0.0], dtype=src)
    img = np.stack([vals, vals[::-1], vals])
    with np.errstate(invalid="ignore", over="ignore"):
        same("correlate1d", vals, [0.0, 1.0, 0.0], output=out)
        same("uniform_filter1d", vals, 1, output=out)
        same("correlate", img, np.array([[0, 0, 0], [0, 1.0, 0], [0, 0, 0]]), output=out)
        same("uniform_filter", img, 1, output=out)
        same("gaussian_filter", img, 1e-4, output=out)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16])
def test_integer_images_correlate2d(mode, dtype):
    # 2-D integer images take src/_lines.pyx correlate2d (float32 taps, re-checked): SciPy's
    # truncation bit for bit, with weights whose sums keep landing on integers and random ones;
    # widths below and above the 8 float lanes and the kernel's width, origins, transposed input
    info = np.iinfo(dtype)
    rng = np.random.default_rng(24)
    lo, hi = max(info.min, -300), min(info.max, 300)
    for shape in ((37, 29), (6, 3), (19, 1)):
        x = rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype)
        for w in (np.full((5, 5), 0.04), np.array([[0.1, 0.2, 0.1], [0.2, 0.3, 0.1]]),
                  rng.standard_normal((3, 4)), np.array([[0.7]])):
            same("correlate", x, w, mode=mode, cval=5)
            same("convolve", x.T, w, mode=mode)
            if w.shape == (5, 5):
                same("correlate", x, w, mode=mode, origin=(-2, 1))
                same("correlate", x, w, mode=mode, output=np.int32)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16])
def test_integer_images_dense_truncation_flags_every_width(dtype):
    # weights of 0.04 put most sums within the margin of an integer (uint8: float32 sums; int16:
    # double sums, its range being too wide for float32), so nearly every block of 64 outputs has
    # flagged ones (read 8 at a time): widths 1-140 cover every tail of a block
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(9, 140)).astype(dtype)
    w = np.full((5, 5), 0.04)
    for width in range(1, 141):
        same("correlate", x[:, :width].copy(), w, mode="reflect")
        same("correlate", -x[:, :width], w.T[::-1], mode="wrap", output=np.int32)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16])
def test_uniform_images_reciprocal_exact(dtype):
    # the one-sweep uniform filter on float buffers multiplies integer window sums by a reciprocal
    # rounded up: the quotient must still truncate as SciPy's division does, for every window size
    # up to the largest the float path takes (size * bound < 2**20) and past it
    info = np.iinfo(dtype)
    x = np.random.default_rng(25).integers(info.min, info.max, size=(40, 47),
                                           endpoint=True).astype(dtype)
    x[:6] = info.max                        # windows of equal extreme values: exact quotients
    x[6:9] = info.min
    for size in ((1, 2), (3, 7), (9, 13), (15, 16), (31, 2), (2, 33), (6, 41)):
        same("uniform_filter", x, size)
        same("uniform_filter", x, size, mode="constant", cval=-3)


def test_uniform_images_means_that_wrap():
    # integer means that do not fit the output wrap around as in SciPy (the float path truncates
    # in the column sweep only when every mean fits)
    rng = np.random.default_rng(26)
    x = rng.integers(0, 256, size=(45, 37)).astype(np.uint8)
    same("uniform_filter", x, 5, output=np.int8)
    same("uniform_filter", x.astype(np.int16) * 100, (3, 4), output=np.uint8)
    same("uniform_filter", x, 3, mode="constant", cval=300)
    same("uniform_filter", x.astype(np.int8), (5, 2), output=np.int16, mode="constant", cval=-7)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_uniform_8bit_images_exact(dtype):
    # 8-bit images into their own dtype run on 16-bit integer lanes (box8.box8): every mode,
    # window sizes 1..40 and a few up to and past the longest 16-bit window (257), odd widths,
    # origins, cval at the dtype's ends (and outside it or fractional: the float path)
    info = np.iinfo(dtype)
    rng = np.random.default_rng(7)
    x = rng.integers(info.min, int(info.max) + 1, size=(29, 37)).astype(dtype)
    for mode in MODES:
        for s in range(1, 41):
            s0 = (s * 7) % 40 + 1
            same("uniform_filter", x, (s0, s), mode=mode, cval=info.max)
        same("uniform_filter", x, (40, 1), mode=mode, cval=info.min)
    for size in ((186, 3), (3, 186), (200, 257), (257, 17), (258, 5), (5, 258)):
        same("uniform_filter", x, size, mode="reflect")
    same("uniform_filter", x, (4, 6), origin=(1, -3), mode="constant", cval=5)
    same("uniform_filter", x, (3, 8), origin=(-1, 3), mode="wrap")
    for cval in (2.5, 300, -200):
        same("uniform_filter", x, 5, mode="constant", cval=cval)
    # rows longer than cl_b8row's chunks of 256 outputs, short and long (doubled) windows
    wide = rng.integers(info.min, int(info.max) + 1, size=(70, 601)).astype(dtype)
    for size in ((3, 17), (20, 9), (5, 100), (9, 257), (2, 8), (65, 6)):
        same("uniform_filter", wide, size, mode="nearest")
    for shape in ((1, 53), (53, 1), (1, 1), (131, 3)):
        same("uniform_filter", rng.integers(info.min, int(info.max) + 1, size=shape)
             .astype(dtype), 5, mode="mirror")


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_uniform_8bit_views_threads_and_outputs(dtype, monkeypatch):
    import convcore
    from convcore._cpu import load

    _box8 = load("box8")  # the build the filters run
    info = np.iinfo(dtype)
    x = np.random.default_rng(8).integers(info.min, int(info.max) + 1, size=(301, 263))
    x = x.astype(dtype)
    for view in (x[::2, ::3], x.T, x[5:-7, 3:-2]):          # not C-contiguous
        same("uniform_filter", view, 5)
        same("uniform_filter", view, (7, 3), axes=(1, 0))
    same("uniform_filter", x, 5, output=np.int16)           # another output dtype: float path
    out = np.empty_like(x)
    cc.uniform_filter(x, 5, output=out)
    np.testing.assert_array_equal(out, sp.uniform_filter(x, 5))
    old = convcore.get_num_threads()
    try:
        convcore.set_num_threads(1)
        one = cc.uniform_filter(x, 9, mode="wrap")
        convcore.set_num_threads(2)
        two = cc.uniform_filter(x, 9, mode="wrap")
    finally:
        convcore.set_num_threads(old)
    np.testing.assert_array_equal(one, two)
    calls = []
    monkeypatch.setattr(_box8, "box8", lambda *a: calls.append(a) or a[7])
    cc.uniform_filter(x, 5)
    assert len(calls) == 1                                  # the 16-bit path was taken


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint8, np.complex128])
def test_new_outputs_are_written_everywhere(dtype):
    # new outputs are np.empty: NumPy hands small freed blocks back as they were, so each call
    # first leaves a block of the output's size full of NaN, 99 or ones behind
    x = make((9, 11), dtype) * 3
    w = np.arange(1.0, 7.0).reshape(2, 3)
    calls = [("correlate", (w,), {}), ("convolve", (w,), {"mode": "constant"}),
             ("correlate1d", ([1.0, -2.0, 0.5], 0), {}), ("convolve1d", ([1.0, 3.0], 1), {}),
             ("uniform_filter", (3,), {}), ("uniform_filter1d", (4, 0), {}),
             ("gaussian_filter", (1.2,), {}), ("gaussian_filter1d", (0.8, 1), {}),
             ("sobel", (0,), {}), ("prewitt", (1,), {}), ("laplace", (), {}),
             ("gaussian_laplace", (1.0,), {}), ("gaussian_gradient_magnitude", (1.0,), {})]
    for name, args, kwargs in calls:
        if np.dtype(dtype).kind == "c" and name not in ("correlate", "convolve", "correlate1d",
                                                        "convolve1d", "uniform_filter",
                                                        "uniform_filter1d", "gaussian_filter",
                                                        "gaussian_filter1d"):
            continue
        for fill in ((np.nan, 1) if np.dtype(dtype).kind in "fc" else (99, 1)):
            del_me = np.full(x.shape, fill, dtype=x.dtype)
            del del_me
            check(getattr(cc, name)(x, *args, **kwargs), getattr(sp, name)(x, *args, **kwargs))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_correlate_5x5_float_images_row_pairs(dtype, mode, monkeypatch):
    # 2-D float images with a 5x5 kernel run two output rows per item (src/c/direct_pairs.h;
    # float32 on AVX2 24 columns a step, the rest one by one): widths around 16 and 24 columns,
    # an odd row count, origins; against scipy.ndimage, and 1 and 2 threads alike
    from convcore import _threads

    w = make((5, 5), np.float64, seed=7)
    for shape in ((37, 16 + 4), (21, 48 + 4 + 5), (64, 301)):
        x = make(shape, dtype, seed=shape[1])
        for origin in (0, (1, -2)):
            same("correlate", x, w, mode=mode, cval=0.5, origin=origin)
        same("convolve", x, w, mode=mode, cval=0.5)
        got = []
        for threads in (1, 2):
            monkeypatch.setattr(_threads, "_setting", threads)
            got.append(cc.correlate(x, w, mode=mode))
        np.testing.assert_array_equal(got[0], got[1])


@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.6, 4.0, (4.0, 1.0)])
def test_float32_column_kernels_same_bits_at_any_row(sigma):
    # float32 column kernels run two output rows a sweep (5 to 9 taps: cl_sym2_f in SciPy's
    # order; 11 taps or more: cl_sym2_fma_f by multiply-adds), the rows left over one at a time:
    # every output the same bits wherever its row falls in a pair or a strip (the image shifted
    # by 1 to 3 rows)
    x = make((150, 70), np.float32) * 3
    r = int(4 * np.max(sigma) + 0.5)
    want = cc.gaussian_filter(x, sigma)
    for shift in (1, 2, 3):
        got = cc.gaussian_filter(x[shift:], sigma)
        np.testing.assert_array_equal(got[r:-r], want[shift + r:-r])
