"""The line kernel (src/_lines.pyx) on its own: any start, stride and output length, against a
NumPy loop written from the formula in its module docstring."""
import numpy as np
import pytest

from convcore import _lines
from convcore._modes import NDIMAGE_MODES

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
        _lines.separable2d(x, w, 0, 1, w[:5], 0, 4, a, 0.0, True, n)
        _lines.uniform2d(x, 5, -2, 1, 3, -1, 0, b, 0.5, n)
        outs.append((a, b))
    for a, b in outs[1:]:
        np.testing.assert_array_equal(a, outs[0][0])
        np.testing.assert_array_equal(b, outs[0][1])


def test_one_sweep_checks():
    x = np.zeros((4, 5))
    w = np.ones(3)
    with pytest.raises(ValueError, match="x must be 2-D and out of the same shape"):
        _lines.separable2d(np.zeros(5), w, 1, 1, w, 1, 1, np.zeros(5), 0.0, False, 1)
    with pytest.raises(ValueError, match="x and out must be C-contiguous"):
        _lines.separable2d(np.zeros((4, 10))[:, ::2], w, 1, 1, w, 1, 1, x, 0.0, False, 1)
    with pytest.raises(TypeError, match="unsupported dtypes"):
        _lines.separable2d(x.astype(np.complex64), w, 1, 1, w, 1, 1, x, 0.0, False, 1)
    with pytest.raises(ValueError, match="weights must not be empty"):
        _lines.separable2d(x, np.ones(0), 0, 1, w, 1, 1, x.copy(), 0.0, False, 1)
    with pytest.raises(ValueError, match="symmetry needs an odd number of weights"):
        _lines.separable2d(x, np.ones(2), 1, 1, w, 1, 1, x.copy(), 0.0, False, 1)
    with pytest.raises(ValueError, match="x must be 2-D and out of the same shape"):
        _lines.uniform2d(x, 3, -1, 1, 3, -1, 1, np.zeros((4, 4)), 0.0, 1)
    with pytest.raises(ValueError, match="sizes must be positive"):
        _lines.uniform2d(x, 0, 0, 1, 3, -1, 1, x.copy(), 0.0, 1)
