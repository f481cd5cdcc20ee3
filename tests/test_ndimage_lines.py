"""The line kernels on their own (src/lines.pyx and its 2-D siblings separable2d, uniform2d, box8,
correlate2d, recheck): any start, stride and output length, against a NumPy loop written from the
formula in their docstrings."""
import numpy as np
import pytest

from convcore._cpu import load
from convcore._modes import NDIMAGE_MODES

# the builds the filters run on this CPU
_lines, _sep2d, _uni2d = load("lines"), load("separable2d"), load("uniform2d")
_box8, _corr2d, _recheck = load("box8"), load("correlate2d"), load("recheck")

CODES = sorted(set(NDIMAGE_MODES.values()))
PAD = {0: "constant", 1: "symmetric", 2: "reflect", 3: "edge", 4: "wrap"}


def reference(x3, w, start, step, n_out, code, cval):
    outer, n, inner = x3.shape
    k = w.size
    idx = start + np.arange(n_out)[:, None] * step + np.arange(k)[None, :]
    lo = max(0, -idx.min())
    hi = max(0, idx.max() - n + 1)
    kw = {"constant_values": cval} if code == 0 else {}
    xe = np.pad(x3.astype(np.float64), ((0, 0), (lo, hi), (0, 0)), mode=PAD[code], **kw)
    taps = xe[:, idx + lo, :]                       # (outer, n_out, k, inner)
    return np.einsum("oqki,k->oqi", taps, w)


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("shape", [(1, 23, 1), (20, 17, 1), (3, 9, 70), (2, 5, 3)])
def test_strided_windows(code, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    for k, start, step, n_out in ((5, -2, 1, shape[1]), (4, -7, 3, 6), (9, 3, 2, 4), (1, -1, 4, 5),
                                  (30, -12, 1, shape[1])):
        w = rng.standard_normal(k)
        for sym, ww in ((0, w), (1, w + w[::-1]), (-1, w - w[::-1])):
            if sym and k % 2 == 0:
                continue
            out = np.empty((shape[0], n_out, shape[2]))
            _lines.correlate(x, ww, out, start, step, code, 0.75, sym, 2)
            np.testing.assert_allclose(out, reference(x, ww, start, step, n_out, code, 0.75),
                                       rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("code", CODES)
def test_uniform_running_mean(code):
    x = np.random.default_rng(2).standard_normal((4, 31, 5))
    out = np.empty_like(x)
    _lines.uniform(x, 6, out, -3, code, -1.0, 2)
    np.testing.assert_allclose(out, reference(x, np.full(6, 1 / 6), -3, 1, 31, code, -1.0),
                               rtol=1e-12, atol=1e-12)


def test_threads_do_not_change_results():
    x = np.random.default_rng(3).standard_normal((40, 50, 30)).astype(np.float32)
    w = np.random.default_rng(4).standard_normal(7)
    outs = []
    for n in (1, 2, 3):
        out = np.empty((40, 50, 30), np.float32)
        _lines.correlate(x, w, out, -3, 1, 1, 0.0, 0, n)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_kernel_checks():
    x = np.zeros((1, 4, 1))
    with pytest.raises(ValueError, match="x and out must be 3-D"):
        _lines.correlate(np.zeros(4), np.ones(1), np.zeros(4), 0, 1, 0, 0.0, 0, 1)
    with pytest.raises(ValueError, match="agree on the outer and inner axes"):
        _lines.correlate(x, np.ones(1), np.zeros((2, 4, 1)), 0, 1, 0, 0.0, 0, 1)
    with pytest.raises(TypeError, match="unsupported dtypes"):
        _lines.correlate(x.astype(np.complex128), np.ones(1), x, 0, 1, 0, 0.0, 0, 1)
    with pytest.raises(ValueError, match="step, kernel size and line length must be positive"):
        _lines.correlate(x, np.ones(1), x.copy(), 0, 0, 0, 0.0, 0, 1)
    with pytest.raises(ValueError, match="symmetry needs an odd number of weights"):
        _lines.correlate(x, np.ones(2), x.copy(), 0, 1, 0, 0.0, 1, 1)
    with pytest.raises(ValueError, match="C-contiguous"):
        _lines.correlate(np.zeros((1, 8, 2))[:, ::2], np.ones(1), np.zeros((1, 4, 2)), 0, 1, 0,
                         0.0, 0, 1)


@pytest.mark.parametrize("code", CODES)
def test_long_lines_split_into_chunks(code):
    # a line longer than two chunks of 8192 outputs is shared out between threads
    x = np.random.default_rng(5).standard_normal((2, 20011, 1))
    w = np.random.default_rng(6).standard_normal(9)
    for start, step, n_out in ((-4, 1, 20011), (-9, 3, 6700), (2, 1, 19000)):
        out = np.empty((2, n_out, 1))
        _lines.correlate(x, w, out, start, step, code, 0.5, 0, 2)
        np.testing.assert_allclose(out, reference(x, w, start, step, n_out, code, 0.5),
                                   rtol=1e-12, atol=1e-12)


def test_in_place_long_line():
    x = np.random.default_rng(7).standard_normal((1, 40000, 1))
    w = np.random.default_rng(8).standard_normal(11)
    want = reference(x, w, -5, 1, 40000, 1, 0.0)
    _lines.correlate(x, w, x, -5, 1, 1, 0.0, 0, 2)
    np.testing.assert_allclose(x, want, rtol=1e-12, atol=1e-12)


def test_one_sweep_paths_do_not_depend_on_threads():
    x = np.random.default_rng(9).standard_normal((150, 70))
    w = np.random.default_rng(10).standard_normal(7)
    outs = []
    for n in (1, 2, 3):
        a, b = np.empty_like(x), np.empty_like(x)
        _sep2d.separable2d(x, w, 0, 1, w[:5], 0, 4, a, 0.0, True, n)
        _uni2d.uniform2d(x, 5, -2, 1, 3, -1, 0, b, 0.5, n)
        outs.append((a, b))
    for a, b in outs[1:]:
        np.testing.assert_array_equal(a, outs[0][0])
        np.testing.assert_array_equal(b, outs[0][1])


def test_one_sweep_checks():
    x = np.zeros((4, 5))
    w = np.ones(3)
    with pytest.raises(ValueError, match="x must be 2-D and out of the same shape"):
        _sep2d.separable2d(np.zeros(5), w, 1, 1, w, 1, 1, np.zeros(5), 0.0, False, 1)
    with pytest.raises(ValueError, match="x and out must be C-contiguous"):
        _sep2d.separable2d(np.zeros((4, 10))[:, ::2], w, 1, 1, w, 1, 1, x, 0.0, False, 1)
    with pytest.raises(TypeError, match="unsupported dtypes"):
        _sep2d.separable2d(x.astype(np.complex64), w, 1, 1, w, 1, 1, x, 0.0, False, 1)
    with pytest.raises(ValueError, match="weights must not be empty"):
        _sep2d.separable2d(x, np.ones(0), 0, 1, w, 1, 1, x.copy(), 0.0, False, 1)
    with pytest.raises(ValueError, match="symmetry needs an odd number of weights"):
        _sep2d.separable2d(x, np.ones(2), 1, 1, w, 1, 1, x.copy(), 0.0, False, 1)
    with pytest.raises(ValueError, match="x must be 2-D and out of the same shape"):
        _uni2d.uniform2d(x, 3, -1, 1, 3, -1, 1, np.zeros((4, 4)), 0.0, 1)
    with pytest.raises(ValueError, match="sizes must be positive"):
        _uni2d.uniform2d(x, 0, 0, 1, 3, -1, 1, x.copy(), 0.0, 1)


# ---- float buffers (single=True): float32 data to float32 precision, integers exactly ----

def rel_close(got, want):
    scale = max(float(np.max(np.abs(want))), 1.0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("shape", [(3, 37, 1), (2, 29, 13), (1, 8, 70)])
def test_single_float32_correlate(code, shape):
    # line lengths and runs of lines that are not multiples of the 8 float lanes
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape).astype(np.float32)
    for k in (1, 3, 8, 17):
        w = rng.standard_normal(k)
        for sym, ww in ((0, w), (1, w + w[::-1]), (-1, w - w[::-1])):
            if sym and k % 2 == 0:
                continue
            out = np.empty(shape, np.float32)
            _lines.correlate(x, ww, out, -(k // 2), 1, code, 0.25, sym, 2, True)
            rel_close(out, reference(x, ww, -(k // 2), 1, shape[1], code, 0.25))
            out2 = np.empty((shape[0], 5, shape[2]), np.float32)
            _lines.correlate(x, ww, out2, -1, 3, code, 0.25, sym, 2, True)
            rel_close(out2, reference(x, ww, -1, 3, 5, code, 0.25))


@pytest.mark.parametrize("code", CODES)
def test_single_float32_uniform_does_not_drift(code):
    # long ramps: a float32 running sum that never started afresh would drift by more than 1e-5
    # of the result along 5000 samples (3.7e-5 for size 5; its rounding errors all lean one way)
    ramp = np.arange(5003) * 0.37 + 1
    x = np.stack([ramp, ramp[::-1], ramp + np.random.default_rng(12).random(5003)])
    x = x.astype(np.float32)[:, :, None]
    for size in (1, 5, 16):
        out = np.empty_like(x)
        _lines.uniform(x, size, out, -(size // 2), code, 3.0, 2, True)
        rel_close(out, reference(x, np.full(size, 1 / size), -(size // 2), 1, 5003, code, 3.0))
    xt = np.ascontiguousarray(x.transpose(2, 1, 0))          # lines along an inner axis
    out = np.empty_like(xt)
    _lines.uniform(xt, 7, out, -3, code, 3.0, 2, True)
    rel_close(out, reference(xt, np.full(7, 1 / 7), -3, 1, 5003, code, 3.0))


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16])
@pytest.mark.parametrize("code", CODES)
def test_single_integers_exact(dtype, code):
    # integer data, integer weights: the float sums are exact, so single equals double bit for bit
    info = np.iinfo(dtype)
    rng = np.random.default_rng(13)
    x = rng.integers(info.min, info.max, size=(4, 45, 19), endpoint=True).astype(dtype)
    for w in ([-1.0, 0.0, 1.0], [1.0, 2.0, 1.0], [1.0, -3.0, 5.0, 2.0, 7.0]):
        w = np.array(w)
        for start in (-1, -2):
            outs = []
            for single in (False, True):
                out = np.empty_like(x)
                _lines.correlate(x, w, out, start, 1, code, -2.0, 0, 2, single)
                outs.append(out)
            np.testing.assert_array_equal(outs[1], outs[0])
    for size in (2, 5, 9):
        outs = []
        for single in (False, True):
            out = np.empty_like(x)
            _lines.uniform(x.reshape(-1, 19, 1), size, out.reshape(-1, 19, 1), -(size // 2),
                           code, 7.0, 2, single)
            outs.append(out)
        np.testing.assert_array_equal(outs[1], outs[0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_single_one_sweep_paths(dtype):
    rng = np.random.default_rng(14)
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal((83, 61)).astype(dtype)
        wr, wc = rng.standard_normal(5), rng.standard_normal(9)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, size=(83, 61), endpoint=True).astype(dtype)
        wr, wc = np.array([1.0, 2.0, 1.0]), np.array([-1.0, 0.0, 1.0])
    for rows_first in (False, True):
        for modes in ((1, 0), (4, 2), (3, 1)):
            a, b = np.empty_like(x), np.empty_like(x)
            _sep2d.separable2d(x, wr, 0, modes[0], wc, 0, modes[1], a, 3.0, rows_first, 2)
            _sep2d.separable2d(x, wr, 0, modes[0], wc, 0, modes[1], b, 3.0, rows_first, 2, True)
            c, d = np.empty_like(x), np.empty_like(x)
            _uni2d.uniform2d(x, 5, -2, modes[0], 4, -1, modes[1], c, 3.0, 2)
            _uni2d.uniform2d(x, 5, -2, modes[0], 4, -1, modes[1], d, 3.0, 2, True)
            if np.dtype(dtype).kind == "f":
                rel_close(b, a)
                rel_close(d, c)
            else:
                np.testing.assert_array_equal(b, a)
                np.testing.assert_array_equal(d, c)


# ---- float buffers re-checked near truncation boundaries (check > 0): integers, any weights ----

def margin(dtype, w):
    """The float32 error bound of convcore.ndimage._engine._checks, for these tests' cval 4."""
    info = np.iinfo(dtype)
    bound = max(-int(info.min), int(info.max))
    return (len(w) + 4) * 2.0 ** -24 * float(np.abs(w).sum()) * bound


# weights whose sums of integers fall on (or a rounding away from) integers again and again
CHECKED = ([0.1, 0.2, 0.4, 0.2, 0.1], [0.1, 0.7, 0.2], [-0.3, 0.0, 0.3], [0.3, 0.3, 0.4, 0.1],
           [0.05, 0.25, 0.4, 0.25, 0.05])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16])
@pytest.mark.parametrize("code", CODES)
def test_checked_correlate_is_bit_exact(dtype, code):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(15)
    for shape in ((7, 1001, 1), (2, 45, 23)):
        x = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
        for w in CHECKED:
            w = np.array(w)
            sym = 1 if np.array_equal(w, w[::-1]) else (-1 if np.array_equal(w, -w[::-1]) else 0)
            want = np.empty_like(x)
            _lines.correlate(x, w, want, -(w.size // 2), 1, code, 4.0, sym, 2)
            got = np.empty_like(x)
            _lines.correlate(x, w, got, -(w.size // 2), 1, code, 4.0, sym, 2, True,
                             margin(dtype, w))
            np.testing.assert_array_equal(got, want)


def test_unchecked_float_sums_would_truncate_differently():
    # what the check is for: plain float32 sums differ from SciPy's double ones here
    x = np.random.default_rng(16).integers(0, 256, size=(20, 999, 1)).astype(np.uint8)
    w = np.array(CHECKED[1])
    want, plain = np.empty_like(x), np.empty_like(x)
    _lines.correlate(x, w, want, -1, 1, 1, 0.0, 0, 1)
    _lines.correlate(x, w, plain, -1, 1, 1, 0.0, 0, 1, True)
    assert np.count_nonzero(plain != want) > 100


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_checked_one_sweep_is_bit_exact(dtype):
    info = np.iinfo(dtype)
    x = np.random.default_rng(17).integers(info.min, info.max, size=(70, 93),
                                           endpoint=True).astype(dtype)
    wr, wc = np.array(CHECKED[0]), np.array(CHECKED[3])
    for rows_first in (False, True):
        for modes in ((1, 0), (4, 2), (0, 3)):
            want, got = np.empty_like(x), np.empty_like(x)
            _sep2d.separable2d(x, wr, 1, modes[0], wc, 0, modes[1], want, 2.0, rows_first, 2)
            _sep2d.separable2d(x, wr, 1, modes[0], wc, 0, modes[1], got, 2.0, rows_first, 2,
                               True, margin(dtype, wr), margin(dtype, wc))
            np.testing.assert_array_equal(got, want)


def test_check_arguments():
    x = np.zeros((1, 9, 1), np.uint8)
    w = np.ones(3) / 3
    with pytest.raises(ValueError, match="check needs single"):
        _lines.correlate(x, w, x.copy(), -1, 1, 0, 0.0, 1, 1, False, 0.1)
    with pytest.raises(ValueError, match="check must be a non-negative number"):
        _lines.correlate(x, w, x.copy(), -1, 1, 0, 0.0, 1, 1, True, -1.0)
    with pytest.raises(ValueError, match="check needs step 1"):
        _lines.correlate(x, w, np.zeros((1, 4, 1), np.uint8), -1, 2, 0, 0.0, 1, 1, True, 0.1)
    with pytest.raises(ValueError, match="check needs single"):
        _sep2d.separable2d(x[0], w, 1, 0, w, 1, 0, x[0].copy(), 0.0, False, 1, False, 0.1)


def test_recheck_settles_outputs_near_boundaries():
    # an exact result nudged just below integers is settled to SciPy's truncation; the others
    # are left alone
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    w = np.full((1, 3), 0.1)
    from scipy import ndimage as sp
    want = sp.correlate(x.astype(np.float64), w, mode="nearest")
    res = (want - 1e-9).astype(np.float64)
    _recheck.recheck(res, x, w, [0, -1], 3, 0.0, 1e-6, 2)
    near = np.abs(want - np.round(want)) < 1e-6
    np.testing.assert_array_equal(res[near], np.trunc(want[near]))
    np.testing.assert_array_equal(res[~near], want[~near] - 1e-9)
    with pytest.raises(ValueError, match="same shape"):
        _recheck.recheck(res[:2], x, w, [0, -1], 3, 0.0, 1e-6, 1)
    with pytest.raises(TypeError, match="unsupported dtypes"):
        _recheck.recheck(res.astype(np.int64), x, w, [0, -1], 3, 0.0, 1e-6, 1)
    with pytest.raises(ValueError, match="one entry per axis"):
        _recheck.recheck(res, x, w, [0], 3, 0.0, 1e-6, 1)
    with pytest.raises(ValueError, match="C-contiguous float64"):
        _recheck.recheck(res, x, w.astype(np.float32), [0, -1], 3, 0.0, 1e-6, 1)


@pytest.mark.parametrize("code", CODES)
def test_correlate2d_kernel(code):
    from scipy import ndimage as sp
    x = np.random.default_rng(18).integers(0, 256, size=(45, 50)).astype(np.uint8)
    mode = {0: "constant", 1: "reflect", 2: "mirror", 3: "nearest", 4: "wrap"}[code]
    for w in (np.full((3, 3), 0.1), np.array([[1.0, -2.0, 3.0], [0.0, 5.0, 1.0]])):
        for origin in ((0, 0), (-1, 1)):
            want = sp.correlate(x, w, mode=mode, cval=7, origin=origin)
            got = np.empty_like(x)
            start = [-(k // 2) - o for k, o in zip(w.shape, origin)]
            _corr2d.correlate2d(x, w, got, start[0], start[1], code, 7.0,
                               margin(np.uint8, w.ravel()), 2)
            np.testing.assert_array_equal(got, want)
    # unchecked float sums would differ (what the check is for)
    got = np.empty_like(x)
    _corr2d.correlate2d(x, np.full((3, 3), 0.1), got, -1, -1, code, 7.0, 0.0, 2)
    assert np.count_nonzero(got != sp.correlate(x, np.full((3, 3), 0.1), mode=mode, cval=7)) > 0
    with pytest.raises(ValueError, match="x and w must be 2-D"):
        _corr2d.correlate2d(x[0], w, got[0], 0, 0, code, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="weights must not be empty"):
        _corr2d.correlate2d(x, np.ones((0, 3)), got, 0, 0, code, 0.0, 0.0, 1)


def test_float_paths_do_not_depend_on_threads():
    rng = np.random.default_rng(19)
    x = rng.integers(0, 256, size=(150, 70)).astype(np.uint8)
    xf = rng.standard_normal((150, 70)).astype(np.float32)
    w = np.array(CHECKED[0])
    w2 = np.outer(w, w[:3])
    outs = []
    for n in (1, 2, 3):
        a, b, c, d = (np.empty_like(x) for _ in range(4))
        e = np.empty_like(xf)
        _sep2d.separable2d(x, w, 1, 1, w, 1, 4, a, 0.0, True, n, True, margin(np.uint8, w),
                           margin(np.uint8, w))
        _uni2d.uniform2d(x, 5, -2, 1, 3, -1, 0, b, 2.0, n, True)
        _corr2d.correlate2d(x, w2, c, -2, -1, 1, 0.0, margin(np.uint8, w2.ravel()), n)
        _lines.correlate(x[:, :, None], w, d[:, :, None], -2, 1, 2, 0.0, 1, n, True,
                         margin(np.uint8, w))
        _uni2d.uniform2d(xf, 4, -2, 1, 7, -3, 0, e, 0.5, n, True)
        outs.append((a, b, c, d, e))
    for got in outs[1:]:
        for g, want in zip(got, outs[0]):
            np.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("rows_first", [False, True])
def test_two_rows_per_sweep_every_strip_height(rows_first):
    # float buffers compute two output rows per sweep across rows (symmetric kernels of 3 to 9
    # taps); strips of 32 rows leave odd and even remainders
    rng = np.random.default_rng(20)
    for h in (1, 2, 33, 34, 65):
        x = rng.integers(0, 256, size=(h, 41)).astype(np.uint8)
        for k in (3, 5, 7, 9, 11):
            wr = np.round(rng.random(k), 1)
            wr = wr + wr[::-1]
            wc = np.array(CHECKED[2])
            want, got = np.empty_like(x), np.empty_like(x)
            _sep2d.separable2d(x, wr, 1, 1, wc, -1, 2, want, 0.0, rows_first, 2)
            _sep2d.separable2d(x, wr, 1, 1, wc, -1, 2, got, 0.0, rows_first, 2, True,
                               margin(np.uint8, wr), margin(np.uint8, wc))
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_read_in_place_every_width(dtype):
    # rows_first on data of the buffers' type reads each row where it is (widths from
    # 2 * (len(w_cols) - 1) on), its two ends through a small extension, and writes the output
    # in place: the same as the pass along axis 1 into the output's dtype, then along axis 0
    rng = np.random.default_rng(21)
    wr = np.array([0.25, 0.5, 0.25])
    for kc in (1, 2, 3, 4, 5, 9):
        wc = rng.standard_normal(kc)
        for width in range(1, 2 * kc + 3):
            x = rng.standard_normal((37, width)).astype(dtype)
            for code in CODES:
                mid = reference(x[:, :, None], wc, -(kc // 2), 1, width, code, 1.5)
                mid = mid[:, :, 0].astype(dtype)
                want = reference(mid[None], wr, -1, 1, 37, code, 1.5)[0]
                got = np.empty_like(x)
                _sep2d.separable2d(x, wr, 0, code, wc, 0, code, got, 1.5, True, 2,
                                   dtype == np.float32)
                if dtype == np.float64:
                    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
                else:
                    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_box8_magic_exhaustive(dtype):
    # floor(S / size) == mulhi(S, M) (then mulhi by P when P > 0) for every window sum S of the
    # dtype's values, every window size with a magic; every size of 2..185 has one
    from convcore.ndimage._engine import box8_magic
    top = 255 if dtype == np.uint8 else 128
    S = np.arange(top * 257 + 1, dtype=np.uint64)
    for size in range(2, 258):
        magic = box8_magic(size, dtype)
        if size <= 185:
            assert magic is not None
        if magic is None:
            continue
        M, P = magic
        assert 0 < M < 65536 and 0 <= P < 65536
        s = S[:top * size + 1]
        q = (s * np.uint64(M)) >> np.uint64(16)
        if P:
            q = (q * np.uint64(P)) >> np.uint64(16)
        np.testing.assert_array_equal(q, s // np.uint64(size))
    assert box8_magic(1, dtype) is None and box8_magic(258, dtype) is None
    assert _box8.magic16(7, 7 * 255) == (9363, 0)


def test_box8_threads_and_checks():
    rng = np.random.default_rng(21)
    x = rng.integers(0, 256, size=(300, 517)).astype(np.uint8)   # 5 strips of 64 rows
    m5, m3 = _box8.magic16(5, 5 * 255), _box8.magic16(3, 3 * 255)
    outs = []
    for n in (1, 2):
        out = np.empty_like(x)
        _box8.box8(x, 5, -2, 1, 3, -1, 4, out, 0, n, m5, m3)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    y = np.empty_like(x)
    with pytest.raises(ValueError, match="same shape and dtype"):
        _box8.box8(x, 5, -2, 1, 3, -1, 1, y.view(np.int8), 0, 1, m5, m3)
    with pytest.raises(ValueError, match="C-contiguous"):
        _box8.box8(x[:, ::2], 5, -2, 1, 3, -1, 1, y[:, ::2], 0, 1, m5, m3)
    with pytest.raises(TypeError, match="unsupported dtype"):
        _box8.box8(x.astype(np.int16), 5, -2, 1, 3, -1, 1, y.astype(np.int16), 0, 1, m5, m3)
    with pytest.raises(ValueError, match="sizes must be within"):
        _box8.box8(x, 258, -2, 1, 3, -1, 1, y, 0, 1, m5, m3)
    with pytest.raises(ValueError, match="start_c"):
        _box8.box8(x, 5, -2, 1, 3, -3, 1, y, 0, 1, m5, m3)
    with pytest.raises(ValueError, match="cval"):
        _box8.box8(x, 5, -2, 1, 3, -1, 1, y, 256, 1, m5, m3)
    with pytest.raises(ValueError, match="divisor"):
        _box8.magic16(0, 10)


def test_team_threads_rule():
    # the one thread-count rule of the line kernels (convcore._threads): the caller alone below
    # SERIAL_WORK multiply-adds, else every thread of the setting
    from convcore._threads import SERIAL_WORK, kernel_threads, team_threads

    with kernel_threads(2):
        assert team_threads(0) == 1
        assert team_threads(SERIAL_WORK - 1) == 1
        assert team_threads(SERIAL_WORK) == 2
        assert team_threads(10**9) == 2


def test_dtype_codes_cover_the_kernels_dtypes():
    # one list of dtypes (src/c/line_convert.h.tp): every integer and float dtype the filters
    # read and write, each with its own code
    from convcore._kernels.linework import CODES

    names = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32",
             "float64"]
    assert sorted(CODES, key=CODES.get) == [np.dtype(n) for n in names]
    assert sorted(CODES.values()) == list(range(len(names)))


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
@pytest.mark.parametrize("shape", [(10, 30, 300), (1, 40, 700), (2, 25, 1100), (9, 600, 3)])
def test_blocks_along_inner_axes_every_width(shape, mode):
    """Blocks of whole rows (outer >= 8, rows up to 1024) and of equal pieces of a row (the last
    one shorter) along axes before the last: SciPy's results, also written in place."""
    ndi = pytest.importorskip("scipy.ndimage")
    from convcore import ndimage as cnd
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape) * 50
    w = np.array([0.5, -1.0, 3.0, 1.25, 0.25])
    for axis in (0, 1):
        want = ndi.correlate1d(x, w, axis=axis, mode=mode, cval=2.0)
        np.testing.assert_array_equal(cnd.correlate1d(x, w, axis=axis, mode=mode, cval=2.0), want)
        y = x.copy()
        cnd.correlate1d(y, w, axis=axis, output=y, mode=mode, cval=2.0)
        np.testing.assert_array_equal(y, want)
        u = (x + 100).astype(np.uint8)
        np.testing.assert_array_equal(cnd.gaussian_filter1d(u, 3, axis=axis, mode=mode),
                                      ndi.gaussian_filter1d(u, 3, axis=axis, mode=mode))
        f = x.astype(np.float32)
        np.testing.assert_allclose(cnd.gaussian_filter1d(f, 2, axis=axis, mode=mode),
                                   ndi.gaussian_filter1d(f, 2, axis=axis, mode=mode),
                                   rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(cnd.uniform_filter1d(x, 6, axis=axis, mode=mode),
                                   ndi.uniform_filter1d(x, 6, axis=axis, mode=mode),
                                   rtol=1e-12, atol=1e-10)


# ---- uint8 images on the byte-reading kernels of src/c/sep8.h (separable2d, sep8) ----

# symmetric kernels whose sums of 0..255 stay inside (-1, 256); the thirds and tenths put many
# float sums within the margin of an integer (dense re-checks), the last one has negative taps
SEP8 = ([0.25, 0.5, 0.25], [1 / 3] * 3, [0.1] * 5, [0.05, 0.1, 0.15, 0.4, 0.15, 0.1, 0.05],
        [0.1] * 9, [-0.001, 1.002, -0.001])


def _sep8_call(x, wr, wc, mode_r, mode_c, cval, threads=2):
    from convcore.ndimage import _engine
    single, (er, ec) = _engine._plan(x, x, [np.array(wr), np.array(wc)], cval)
    assert single
    out = np.empty_like(x)
    _sep2d.separable2d(x, np.array(wr), 1, mode_r, np.array(wc), 1, mode_c, out, cval, False,
                       threads, True, er, ec)
    return out


def test_sep8_taken():
    u8, i8 = np.dtype(np.uint8), np.dtype(np.int8)
    assert _sep2d.sep8_fits(u8, u8, np.array(SEP8[0]), 1, np.array(SEP8[4]), 1, 2, 2, 0.0, 1e-4,
                            1e-4) == _sep2d.sep8_available()
    # not taken: antisymmetric, too long, sums beyond 255, a constant outside 0..255, int8
    assert not _sep2d.sep8_fits(u8, u8, np.array([-1.0, 0, 1]), -1, np.ones(3) / 3, 1, 2, 2, 0.0,
                                0, 0)
    assert not _sep2d.sep8_fits(u8, u8, np.ones(11) / 11, 1, np.ones(3) / 3, 1, 2, 2, 0.0, 0, 0)
    assert not _sep2d.sep8_fits(u8, u8, np.ones(3) / 2, 1, np.ones(3) / 3, 1, 2, 2, 0.0, 0, 0)
    assert not _sep2d.sep8_fits(u8, u8, np.ones(3) / 3, 1, np.ones(3) / 3, 1, 0, 2, 256.0, 0, 0)
    assert not _sep2d.sep8_fits(i8, i8, np.ones(3) / 3, 1, np.ones(3) / 3, 1, 2, 2, 0.0, 0, 0)


def test_two_pass_setup_kept_equals_computed():
    """The setup two_pass_2d keeps between calls gives the bytes of separable2d's own (the
    float32 weights and the sep8 choice computed inside the call)."""
    from convcore.ndimage import _engine
    from convcore.ndimage._smooth import _weights

    rng = np.random.default_rng(3)
    x = (rng.random((40, 37)) * 255).astype(np.uint8)
    w = _weights(1.0, 0, 4.0, None)
    kept = np.empty_like(x)
    assert _engine.two_pass_2d(x, w, 1, w, 1, kept, 0.0, False)
    assert _engine.two_pass_2d(x, w, 1, w, 1, kept, 0.0, False)   # from the kept setup
    wr = np.ascontiguousarray(w, dtype=np.float64)
    single, (er, ec) = _engine._plan(x, x, [wr, wr], 0.0)
    own = np.empty_like(x)
    _sep2d.separable2d(x, wr, 1, 1, wr, 1, 1, own, 0.0, False, 2, single, er, ec)
    np.testing.assert_array_equal(kept, own)
    with pytest.raises(ValueError, match="float32 copies"):
        _sep2d.separable2d(x, wr, 1, 1, wr, 1, 1, own, 0.0, False, 2, True, er, ec,
                           w_single=(np.ones(3, np.float32), np.ones(9, np.float32)))


@pytest.mark.parametrize("code", CODES)
def test_sep8_every_width_is_scipys(code):
    from scipy import ndimage as sp
    mode = {0: "constant", 1: "reflect", 2: "mirror", 3: "nearest", 4: "wrap"}[code]
    rng = np.random.default_rng(31)
    for width in range(1, 141):
        # random bytes, and flat patches (sums of equal values land on integers: dense checks)
        x = rng.integers(0, 256, size=(41, width)).astype(np.uint8)
        x[5:20, : width // 2] = 200
        x[25:33] = 3
        wr, wc = SEP8[width % len(SEP8)], SEP8[(width // len(SEP8)) % len(SEP8)]
        want = sp.correlate1d(x, wr, axis=0, mode=mode, cval=7.0)
        want = sp.correlate1d(want, wc, axis=1, mode=mode, cval=7.0)
        np.testing.assert_array_equal(_sep8_call(x, wr, wc, code, code, 7.0), want,
                                      err_msg=f"width {width}")


def test_sep8_gaussian_is_scipys_for_any_strip_and_threads():
    from scipy import ndimage as sp
    from convcore import ndimage as cn
    from convcore.ndimage._smooth import _weights
    rng = np.random.default_rng(32)
    for shape in ((1, 1), (1, 50), (70, 1), (33, 64), (97, 131), (300, 257)):
        x = rng.integers(0, 256, size=shape).astype(np.uint8)
        x[: shape[0] // 3] = 128
        for sigma in (0.5, 0.8, 1.0, 1.5, 2.0):
            want = sp.gaussian_filter(x, sigma)
            np.testing.assert_array_equal(cn.gaussian_filter(x, sigma), want)
            wr = _weights(sigma, 0, 4.0, None)
            if wr.size <= 9:
                for threads in (1, 3):
                    np.testing.assert_array_equal(_sep8_call(x, wr, wr, 1, 1, 0.0, threads),
                                                  want)


def test_correlate2d_every_width_is_scipys():
    # the multiply-add taps of src/c/taps2d.h (two output rows a sweep, a strip's last odd row
    # alone; 32, then 8 outputs a step, then one at a time):
    # random weights (about 1% of the float sums re-checked), tenths and quarters on flat
    # patches (sums land on integers: dense re-checks), negative results wrapped into uint8 and
    # an int16 result
    from scipy import ndimage as sp
    from convcore import ndimage as cn
    rng = np.random.default_rng(33)
    kernels = (rng.standard_normal((5, 5)), np.full((3, 3), 0.1),
               np.array([[0.25, -0.5, 0.75, 0.25], [1.0, 0.0, -0.25, 0.5]]),
               rng.standard_normal((1, 7)))
    modes = ("reflect", "constant", "nearest", "mirror", "wrap")
    for width in range(1, 141):
        x = rng.integers(0, 256, size=((23, 18, 2, 1)[width // 4 % 4], width)).astype(np.uint8)
        x[3:11, : width // 2] = 40
        w = kernels[width % len(kernels)]
        mode = modes[width % len(modes)]
        for out in (np.uint8, np.int16):
            want = sp.correlate(x, w, output=out, mode=mode, cval=5)
            np.testing.assert_array_equal(cn.correlate(x, w, output=out, mode=mode, cval=5),
                                          want, err_msg=f"width {width} {mode} {out}")


@pytest.mark.parametrize("code", CODES)
def test_uniform2d_float32_reads_and_writes_in_place(code):
    # float32 into float32: the strips inside the image read its rows where they are and the
    # results go straight into the output (the strips at the edges copy their rows)
    rng = np.random.default_rng(34)
    x = rng.standard_normal((203, 77)).astype(np.float32)
    for (sr, st_r), (sc, st_c) in (((5, -2), (5, -2)), ((3, -2), (7, -3)), ((6, -3), (4, -1))):
        got = np.empty_like(x)
        _uni2d.uniform2d(x, sr, st_r, code, sc, st_c, code, got, 0.5, 2, True)
        mid = reference(x[None].astype(np.float64), np.ones(sr) / sr, st_r, 1, 203, code, 0.5)
        want = reference(mid[0, :, :, None], np.ones(sc) / sc, st_c, 1, 77, code, 0.5)[:, :, 0]
        rel_close(got, want)
        one = np.empty_like(x)
        _uni2d.uniform2d(x, sr, st_r, code, sc, st_c, code, one, 0.5, 1, True)
        np.testing.assert_array_equal(one, got)


def test_uniform2d_float64_running_sums_along_rows():
    # into float64: the running sums along each extended row where it lies (cl_rowrun, four rows'
    # chains at a time and the rest one by one): SciPy's bytes for integers, for any width,
    # window and thread count
    from scipy import ndimage as sp
    rng = np.random.default_rng(36)
    for shape in ((70, 3), (37, 41), (5, 130)):
        x = rng.standard_normal(shape) * 7
        ints = rng.integers(-300, 300, size=shape).astype(np.int16)
        for (sr, org_r), (sc, org_c), mode in (((5, 0), (5, 0), "reflect"),
                                               ((2, 0), (9, -4), "constant"),
                                               ((4, 1), (1, 0), "wrap"), ((11, 0), (6, 2), "mirror")):
            for data in (x, ints):
                want = sp.uniform_filter(data, (sr, sc), origin=(org_r, org_c), mode=mode,
                                         cval=-1.5, output=np.float64)
                for threads in (1, 2):
                    got = np.empty(shape)
                    _uni2d.uniform2d(data, sr, -(sr // 2) - org_r, NDIMAGE_MODES[mode], sc,
                                     -(sc // 2) - org_c, NDIMAGE_MODES[mode], got, -1.5, threads)
                    if data is ints:    # exact sums: SciPy's bytes
                        np.testing.assert_array_equal(got, want, err_msg=f"{shape} {sc} {mode}")
                    else:               # each strip of 32 rows restarts its column sums
                        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


def test_correlate2d_wider_margins_on_taps2d():
    # margins between MAX_CHECK and MAX_CHECK_TAPS2D: float buffers where the multiply-add taps
    # run (about 3% of the outputs re-checked), double buffers elsewhere; SciPy's bytes either way
    from scipy import ndimage as sp
    from convcore import ndimage as cn
    from convcore.ndimage import _engine
    rng = np.random.default_rng(35)
    x = rng.integers(0, 256, size=(157, 203)).astype(np.uint8)
    w = rng.standard_normal((5, 5))
    w *= 0.015 / _engine._checks(x, x, [w.ravel()], 0.0, limit=1.0)[0]
    assert _engine._checks(x, x, [w.ravel()], 0.0) is None
    assert _engine._checks(x, x, [w.ravel()], 0.0, limit=_engine.MAX_CHECK_TAPS2D) is not None
    for mode in ("reflect", "constant"):
        np.testing.assert_array_equal(cn.correlate(x, w, mode=mode), sp.correlate(x, w, mode=mode))


def test_taps2d_margin_bounds_the_multiply_add_chain():
    # c/taps2d.h sums each output as one chain of float32 multiply-adds in C order; emulated
    # here exactly (the product of a float32 weight and a byte, and its sum with a float32 partial
    # sum below 2**24, are exact in double; rounding that to float32 is the fused result), and
    # compared with the exact sum of the float64 weights: within the margin of _taps2d_margins
    from fractions import Fraction
    from convcore.ndimage import _engine
    rng = np.random.default_rng(37)
    x = np.full((1, 1), 0, np.uint8)
    for w in (rng.standard_normal((5, 5)), rng.standard_normal((3, 7)) * 40,
              np.abs(rng.standard_normal((5, 5))), np.full((3, 3), 0.1)):
        e, e2 = _engine._taps2d_margins(x, x, w, 0.0)
        assert 0 < e < _engine._checks(x, x, [w.ravel()], 0.0, limit=np.inf)[0]
        assert 0 < e2 < e * 2.0 ** -20
        flat = w.ravel()
        v = flat.astype(np.float32).astype(np.float64)
        worst = 0.0
        for _ in range(300):
            # bytes at the extremes where the weight's sign makes the partial sums largest
            data = np.where(rng.random(flat.size) < 0.7, np.where(flat > 0, 255, 0),
                            rng.integers(0, 256, flat.size)).astype(np.float64)
            s = np.float32(0.0)
            for vk, xk in zip(v, data):
                s = np.float32(float(s) + vk * xk)
            exact = sum(Fraction(float(wk)) * int(xk) for wk, xk in zip(flat, data))
            worst = max(worst, abs(float(Fraction(float(s)) - exact)))
        assert worst <= e, (worst, e)


def test_large_outputs_start_on_a_huge_page():
    # new results of 16 MiB and more start on a 2 MiB boundary (transparent huge pages back
    # them whole), the same values as SciPy's; smaller ones are plain arrays
    from scipy import ndimage as sp
    from convcore import ndimage as cn
    x = np.random.default_rng(38).random((1500, 1400))
    got = cn.gaussian_filter(x, 1)
    assert got.ctypes.data % (2 << 20) == 0 and got.flags.c_contiguous
    np.testing.assert_allclose(got, sp.gaussian_filter(x, 1), rtol=1e-12, atol=1e-14)
    small = cn.gaussian_filter(x[:1000], 1)
    assert small.flags.owndata
    np.testing.assert_allclose(small, sp.gaussian_filter(x[:1000], 1), rtol=1e-12, atol=1e-14)
