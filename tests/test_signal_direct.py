"""The compiled direct-correlation kernel (convcore._kernels.direct) against a plain NumPy loop."""
import itertools
import os
import threading
import warnings

import numpy as np
import pytest

from convcore._cpu import load
from convcore._modes import MODE_CONSTANT, MODE_MIRROR, MODE_NEAREST, MODE_REFLECT, MODE_WRAP

_direct = load("direct")

NP_PAD = {MODE_CONSTANT: "constant", MODE_REFLECT: "symmetric", MODE_MIRROR: "reflect",
          MODE_NEAREST: "edge", MODE_WRAP: "wrap"}


def reference(x, w, out_shape, start, step, mode, cval):
    """out[o] = sum_k w[k] * X[start + o*step + k], X = x extended by np.pad (loop over o)."""
    lo = [max(0, -s) for s in start]
    hi = [max(0, s + (m - 1) * st + k - n)
          for s, m, st, k, n in zip(start, out_shape, step, w.shape, x.shape)]
    kw = {"constant_values": cval} if mode == MODE_CONSTANT else {}
    ext = np.pad(x, list(zip(lo, hi)), mode=NP_PAD[mode], **kw)
    out = np.zeros(out_shape, dtype=x.dtype)
    for o in np.ndindex(*out_shape):
        sl = tuple(slice(s + l + oi * st, s + l + oi * st + k)
                   for s, l, oi, st, k in zip(start, lo, o, step, w.shape))
        out[o] = np.sum(w * ext[sl], dtype=x.dtype)
    return out


def run(x, w, out_shape, start, step, mode, cval=0, threads=2):
    out = np.empty(out_shape, dtype=x.dtype)
    return _direct.correlate(x, w, out, start, step, mode, cval, threads)


@pytest.mark.parametrize("mode", [MODE_CONSTANT, MODE_REFLECT, MODE_MIRROR, MODE_NEAREST, MODE_WRAP])
@pytest.mark.parametrize("xs, ws, step", [
    ((7, 9), (3, 3), (1, 1)), ((5, 4), (6, 7), (2, 3)), ((1, 1), (3, 5), (1, 1)),
    ((11,), (4,), (2,)), ((3, 4, 5), (2, 3, 2), (1, 2, 1)), ((2, 1, 3, 2), (2, 2, 1, 3), (1, 1, 1, 2)),
])
def test_matches_loop(mode, xs, ws, step):
    rng = np.random.default_rng(1)
    x, w = rng.random(xs), rng.random(ws)
    start = [-(k - 1) for k in ws]
    out_shape = [(n + k - 1 - 1) // s + 1 for n, k, s in zip(xs, ws, step)]
    got = run(x, w, out_shape, start, step, mode, cval=0.25)
    np.testing.assert_allclose(got, reference(x, w, out_shape, start, step, mode, 0.25), rtol=1e-12)


@pytest.mark.parametrize("mode", [MODE_CONSTANT, MODE_REFLECT, MODE_WRAP])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_three_and_five_wide_kernels_every_row_count(mode, dtype):
    # the rect passes (up to 3 kernel rows at once, the first one writing over the row): 1 to 7
    # kernel rows, rows outside the input (constant rows), rows too short for an interior
    rng = np.random.default_rng(6)
    for kh, kw, xs, cval in itertools.product(range(1, 8), (3, 5), [(9, 12), (4, 3), (6, 1)],
                                              (0, 2)):
        x = (rng.standard_normal(xs) * 9).astype(dtype)
        w = (rng.standard_normal((kh, kw)) * 5).astype(dtype)
        start = [-(kh // 2) - 1, -(kw // 2)]
        out_shape = (xs[0] + 2, xs[1])
        got = run(x, w, out_shape, start, (1, 1), mode, cval=cval)
        want = reference(x, w, out_shape, start, (1, 1), mode, cval)
        if dtype == np.int32:
            np.testing.assert_array_equal(got, want)
        else:
            tol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_pairs_on_chunked_rows(dtype, k):
    # 3x3 and 5x5 float kernels compute two output rows per item where both read inside the
    # input (5x5 float32 on AVX2: 24 columns a step, the rest one by one); rows longer than a work
    # item's column chunk, odd and even row counts, 'same' and 'valid' windows; 1 and 2 threads
    # give the same bits
    rng = np.random.default_rng(10)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for rows, start, cols in ((6, (-1, -1), 4500), (9, (0, 0), 4500), (8, (-2, 1), 61)):
        x = rng.standard_normal((rows, cols)).astype(dtype)
        w = rng.standard_normal((k, k)).astype(dtype)
        out_shape = (rows + 1, cols - 3)
        want = reference(x, w, out_shape, start, (1, 1), MODE_REFLECT, 0)
        one = run(x, w, out_shape, start, (1, 1), MODE_REFLECT, threads=1)
        np.testing.assert_allclose(one, want, rtol=tol, atol=tol * np.abs(want).max())
        np.testing.assert_array_equal(run(x, w, out_shape, start, (1, 1), MODE_REFLECT,
                                          threads=2), one)


@pytest.mark.parametrize("mode", [MODE_CONSTANT, MODE_MIRROR, MODE_WRAP])
def test_short_rows_wide_kernel_extended_copy_on_threads(mode):
    # a kernel as wide as the rows: the rows are first copied extended by the edge rule (in
    # parallel over rows), then filtered; 1 and 2 threads agree bit for bit
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((260, 20)), rng.standard_normal((3, 15))
    args = ((260, 20), (-1, -7), (1, 1), mode, 0.5)
    one = run(x, w, *args, threads=1)
    np.testing.assert_array_equal(run(x, w, *args, threads=2), one)
    np.testing.assert_allclose(one, reference(x, w, *args), rtol=1e-12, atol=1e-12)


def test_long_row_split_in_chunks_and_offset_window():
    rng = np.random.default_rng(2)
    x, w = rng.random(10000), rng.random(7)
    got = run(x, w, (9000,), [500], [1], MODE_REFLECT)
    np.testing.assert_allclose(got, np.correlate(x, w, "valid")[500:9500], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                   np.int64, np.uint64])
def test_integers_wrap_around_exactly(dtype):
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, (6, 7), dtype=dtype, endpoint=True)
    w = rng.integers(info.min, info.max, (3, 2), dtype=dtype, endpoint=True)
    got = run(x, w, (4, 6), [0, 0], [1, 1], MODE_CONSTANT)
    with np.errstate(over="ignore"):
        want = reference(x, w, (4, 6), [0, 0], [1, 1], MODE_CONSTANT, 0)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.complex64, np.complex128])
def test_float_and_complex(dtype):
    rng = np.random.default_rng(4)
    imag = 1j if np.dtype(dtype).kind == "c" else 0
    x = (rng.random((5, 6)) + imag * rng.random((5, 6))).astype(dtype)
    w = (rng.random((3, 3)) - imag * rng.random((3, 3))).astype(dtype)
    got = run(x, w, (5, 6), [-1, -1], [1, 1], MODE_CONSTANT, cval=2)
    want = reference(x, w, (5, 6), [-1, -1], [1, 1], MODE_CONSTANT, 2)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype in (np.float32, np.complex64) else 1e-12)


def test_threads_give_identical_results(openmp):
    rng = np.random.default_rng(5)
    x, w = rng.random((64, 70)), rng.random((5, 4))
    a = run(x, w, (64, 70), [-2, -1], [1, 1], MODE_WRAP, threads=1)
    b = run(x, w, (64, 70), [-2, -1], [1, 1], MODE_WRAP, threads=2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint8, np.complex128])
def test_thread_pool_every_dtype_and_concurrent_callers(dtype):
    # large enough for the helper-thread pool (every dtype goes through its batch function); four
    # Python threads calling at once: one uses the pool, the others run serially, same results
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((300, 257)) * 20).astype(dtype)
    w = (rng.standard_normal((3, 5)) * 4).astype(dtype)
    want = run(x, w, (300, 257), (-1, -2), (1, 1), MODE_REFLECT, threads=1)
    loop = reference(x, w, (300, 257), (-1, -2), (1, 1), MODE_REFLECT, 0)
    if x.dtype.kind in "iu":
        np.testing.assert_array_equal(want, loop)
    else:
        tol = 1e-4 if x.dtype in (np.float32, np.complex64) else 1e-12
        np.testing.assert_allclose(want, loop, rtol=tol, atol=tol * np.abs(loop).max())
    got = [None] * 4

    def call(i):
        got[i] = [run(x, w, (300, 257), (-1, -2), (1, 1), MODE_REFLECT, threads=2 + i % 2)
                  for _ in range(5)]

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for results in got:
        for out in results:
            np.testing.assert_array_equal(out, want)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_thread_pool_in_a_forked_child():
    # the helper threads do not survive a fork: the child starts its own and gets the same result
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((400, 300)), rng.standard_normal((3, 3))
    want = run(x, w, (400, 300), (-1, -1), (1, 1), MODE_WRAP, threads=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (Python >= 3.12)
        pid = os.fork()
    if pid == 0:
        ok = np.array_equal(run(x, w, (400, 300), (-1, -1), (1, 1), MODE_WRAP, threads=2), want)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_argument_errors():
    x = np.zeros((3, 3))
    with pytest.raises(ValueError, match="one ndim"):
        run(x, np.zeros(3), (3, 3), [0, 0], [1, 1], MODE_CONSTANT)
    with pytest.raises(TypeError, match="share one dtype"):
        run(x, np.zeros((2, 2), np.float32), (3, 3), [0, 0], [1, 1], MODE_CONSTANT)
    with pytest.raises(ValueError, match="step >= 1"):
        run(x, np.zeros((2, 2)), (3, 3), [0, 0], [1, 0], MODE_CONSTANT)
    with pytest.raises(ValueError, match="edge-rule code"):
        run(x, np.zeros((2, 2)), (3, 3), [0, 0], [1, 1], 9)
    with pytest.raises(ValueError, match="C-contiguous"):
        _direct.correlate(x.T[:, :2], np.zeros((2, 2)), np.empty((3, 3)), [0, 0], [1, 1], 0)
    with pytest.raises(TypeError, match="bool"):
        run(x.astype(bool), np.zeros((2, 2), bool), (3, 3), [0, 0], [1, 1], MODE_CONSTANT)
    with pytest.raises(TypeError, match="unsupported dtype float16"):
        run(x.astype(np.float16), np.zeros((2, 2), np.float16), (3, 3), [0, 0], [1, 1], 0)
    with pytest.raises(ValueError, match="an empty x can only be extended with MODE_CONSTANT"):
        run(np.zeros((0, 3)), np.ones((2, 2)), (3, 3), [0, 0], [1, 1], MODE_WRAP)


def test_empty_input_reads_the_constant():
    got = run(np.zeros((0, 3)), np.ones((2, 2)), (2, 3), [-1, 0], [1, 1], MODE_CONSTANT, cval=1.5)
    np.testing.assert_array_equal(got, np.full((2, 3), 6.0))


def test_every_start_sign_against_loop():
    rng = np.random.default_rng(6)
    x, w = rng.random((4, 5)), rng.random((2, 3))
    for s0, s1 in itertools.product([-3, 0, 2], [-4, 1]):
        got = run(x, w, (3, 3), [s0, s1], [2, 1], MODE_MIRROR)
        np.testing.assert_allclose(got, reference(x, w, (3, 3), [s0, s1], [2, 1], MODE_MIRROR, 0),
                                   rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                   np.int64, np.uint64, np.float32, np.float64, np.complex64,
                                   np.complex128])
@pytest.mark.parametrize("ws", [(1, 1), (7, 1), (2, 9), (3, 3), (5, 5), (4, 3), (2, 5)])
def test_every_dtype_every_pass(dtype, ws):
    # each dtype has its own entry point and C passes (src/direct_entries.pxi.tp, src/c/*.h.tp):
    # column kernels (cc_rows), taps along a row (cc_row, complex too), 3- and 5-wide kernels
    # (cc_rect), 3x3 and 5x5 row pairs (cc_pair3/5, floats); each against the loop, exact for
    # integers, on 1 and 2 threads
    rng = np.random.default_rng(13)
    kind = np.dtype(dtype).kind
    if kind in "iu":
        x, w = rng.integers(0, 100, (40, 33)).astype(dtype), rng.integers(0, 9, ws).astype(dtype)
    else:
        x, w = rng.standard_normal((40, 33)), rng.standard_normal(ws)
        if kind == "c":
            x, w = x + 1j * rng.standard_normal(x.shape), w - 1j * rng.standard_normal(ws)
        x, w = x.astype(dtype), w.astype(dtype)
    start = [-(k // 2) for k in ws]
    want = reference(x, w, x.shape, start, (1, 1), MODE_REFLECT, 0)
    one = run(x, w, x.shape, start, (1, 1), MODE_REFLECT, threads=1)
    np.testing.assert_array_equal(run(x, w, x.shape, start, (1, 1), MODE_REFLECT, threads=2), one)
    assert one.dtype == dtype
    if kind in "iu":
        np.testing.assert_array_equal(one, want)
    else:
        tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-12
        np.testing.assert_allclose(one, want, rtol=tol, atol=tol * np.abs(want).max())


def _windows(x, w, start, mode, cval):
    """Stride-1 correlation over the window that starts at `start` (2-D, as many outputs as x has
    samples along each axis), in float64 through np.pad and sliding windows (fast for long rows)."""
    lo = [max(0, -s) for s in start]
    hi = [max(0, s + n - 1 + k - n) for s, n, k in zip(start, x.shape, w.shape)]
    kw = {"constant_values": cval} if mode == MODE_CONSTANT else {}
    ext = np.pad(x.astype(np.float64), list(zip(lo, hi)), mode=NP_PAD[mode], **kw)
    ext = ext[start[0] + lo[0]:, start[1] + lo[1]:]
    view = np.lib.stride_tricks.sliding_window_view(ext, w.shape)[:x.shape[0], :x.shape[1]]
    return np.einsum("ijkl,kl->ij", view, w.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ws", [(7, 7), (9, 11), (11, 7), (13, 13), (7, 40)])
def test_large_kernels_four_rows_per_item(dtype, ws):
    # 2-D float kernels of 7x7 and more (stride 1) compute 4 output rows per item on AVX2
    # (cc_block), the rows near the edges and the rest of a count not divisible by 4 row by row;
    # rows longer than a work item's column chunk, windows starting inside and outside the
    # input. Against sums in float64; 1 and 2 threads give the same bits, and over the columns
    # where every tap reads inside, the same bits as the row passes (a stride of 2 along the
    # rows takes those for every other row)
    rng = np.random.default_rng(14)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    kh, kw = ws
    for (rows, cols), start, mode in (((23, 45), (-(kh // 2), -(kw // 2)), MODE_REFLECT),
                                      ((30, 4200), (0, -3), MODE_CONSTANT),
                                      ((kh + 6, kw + 9), (-2, -kw + 1), MODE_WRAP)):
        x = rng.standard_normal((rows, cols)).astype(dtype)
        w = rng.standard_normal(ws).astype(dtype)
        one = run(x, w, x.shape, start, (1, 1), mode, 0.5, threads=1)
        want = _windows(x, w, start, mode, 0.5)
        np.testing.assert_allclose(one, want, rtol=tol, atol=tol * np.abs(want).max() * kw)
        np.testing.assert_array_equal(run(x, w, x.shape, start, (1, 1), mode, 0.5, threads=2), one)
        rows_by_row = run(x, w, ((rows + 1) // 2, cols), start, (2, 1), mode, 0.5, threads=1)
        inside = slice(max(0, -start[1]), max(0, cols - kw + 1 - start[1]))
        np.testing.assert_array_equal(rows_by_row[:, inside], one[::2, inside])


def test_every_edge_rule_code_is_tested_and_named():
    # the codes come from one table, the enum of src/modes.pxd: each has a reference here and
    # the public names of both peers map onto exactly those codes
    from convcore import _modes
    from convcore._kernels.modes import Mode

    assert sorted(NP_PAD) == sorted(int(m) for m in Mode)
    assert {_modes.MODE_CONSTANT, _modes.MODE_REFLECT, _modes.MODE_MIRROR, _modes.MODE_NEAREST,
            _modes.MODE_WRAP} == set(NP_PAD)
    assert set(_modes.NDIMAGE_MODES.values()) == set(NP_PAD)
    assert set(_modes.SIGNAL_BOUNDARIES.values()) == {MODE_CONSTANT, MODE_REFLECT, MODE_WRAP}


class _ThreadSpy:
    """Stands in for the compiled module and records the `threads` of every correlate call (its
    last positional argument)."""

    def __init__(self, module):
        self._module, self.threads = module, []

    def __getattr__(self, name):
        return getattr(self._module, name)

    def correlate(self, *args, **kwargs):
        self.threads.append(args[-1])
        return self._module.correlate(*args, **kwargs)


def test_thread_count_decided_by_direct_threads(monkeypatch):
    # the callers ask convcore._threads.direct_threads; small calls stay on one thread
    import convcore
    from convcore import ndimage, signal
    from convcore.ndimage import _engine
    from convcore.signal import _direct as signal_direct

    # (ndimage's float64 correlation runs on the ordered kernel, SciPy's order)
    sig, img = _ThreadSpy(signal_direct._kernel), _ThreadSpy(_engine._ordered)
    monkeypatch.setattr(signal_direct, "_kernel", sig)
    monkeypatch.setattr(_engine, "_ordered", img)
    convcore.set_num_threads(2)
    try:
        rng = np.random.default_rng(14)
        small, large = rng.standard_normal((8, 8)), rng.standard_normal((300, 300))
        w = rng.standard_normal((3, 3))
        for x in (small, large):
            signal.correlate2d(x, w, mode="same")
            ndimage.correlate(x, w)
    finally:
        convcore.set_num_threads(None)
    assert sig.threads == [1, 2] and img.threads == [1, 2]
