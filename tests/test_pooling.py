"""Pooling against a plain NumPy loop written from the definition, numerical gradients and PyTorch."""
import itertools

import numpy as np
import pytest
from gradcheck import numerical_grad

import convcore
from convcore._validation import as_tuple
from convcore.functional import pooling as P

rng = np.random.default_rng(0)


def out_size(n, k, s, p, d=1, ceil_mode=False):
    span = (k - 1) * d + 1
    room = n + 2 * p - span
    o = (-(-room // s) if ceil_mode else room // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def reference_pool(x, kind, k, s, p, d=None, ceil_mode=False, count_include_pad=True):
    """Pool every (n, c) plane of x by looping over output positions and window offsets."""
    nd = x.ndim - 2
    d = d or (1,) * nd
    outs = [out_size(x.shape[2 + a], k[a], s[a], p[a], d[a], ceil_mode) for a in range(nd)]
    y = np.zeros(x.shape[:2] + tuple(outs))
    idx = np.zeros(y.shape, dtype=np.int64)
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        plane = x[n, c]
        for o in itertools.product(*map(range, outs)):
            starts = [o[a] * s[a] - p[a] for a in range(nd)]
            values, offsets, divisor = [], [], 1
            for a in range(nd):
                end = min(starts[a] + k[a], x.shape[2 + a] + p[a])
                lo, hi = max(starts[a], 0), min(starts[a] + k[a], x.shape[2 + a])
                divisor *= (end - starts[a]) if count_include_pad else (hi - lo)
            for w in itertools.product(*map(range, k)):
                pos = tuple(starts[a] + w[a] * d[a] for a in range(nd))
                if all(0 <= pos[a] < x.shape[2 + a] for a in range(nd)):
                    values.append(plane[pos])
                    offsets.append(np.ravel_multi_index(pos, plane.shape))
            if kind == "max":
                first = int(np.argmax(values))  # argmax returns the first maximum
                y[(n, c) + o], idx[(n, c) + o] = values[first], offsets[first]
            else:
                y[(n, c) + o] = sum(values) / divisor
    return y, idx


CASES = [  # nd, spatial, kernel, stride, padding
    (1, (7,), 2, None, 0),
    (1, (9,), 3, 2, 1),
    (1, (5,), 5, 1, 0),
    (2, (6, 6), 2, None, 0),
    (2, (7, 5), (3, 2), (2, 1), (1, 0)),
    (2, (5, 5), 3, 4, 1),  # stride larger than the kernel
    (2, (4, 4), 4, 1, 2),  # kernel == input, padding half the kernel
    (3, (4, 5, 3), 2, 1, 0),
    (3, (5, 4, 4), (3, 2, 2), (2, 2, 1), (1, 1, 0)),
]


def _args(nd, kernel, stride, padding):
    k = as_tuple(kernel, nd, "k")
    s = k if stride is None else as_tuple(stride, nd, "s")
    return k, s, as_tuple(padding, nd, "p", 0)


def _fn(kind, nd, backward=False):
    return getattr(P, f"{kind}_pool{nd}d" + ("_backward" if backward else ""))


class TestMaxPool:
    def test_lecture_example(self):
        a = np.array([[1, 1, 2, 4], [5, 6, 9, 3], [3, 2, 4, 4], [1, 2, 0, 7]])
        y = P.max_pool2d(a[None, None], 2, stride=2)
        np.testing.assert_array_equal(y[0, 0], [[6, 9], [3, 7]])
        assert y.dtype == np.float64  # integers are pooled in float64

    @pytest.mark.parametrize("nd, spatial, kernel, stride, padding", CASES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_matches_reference(self, nd, spatial, kernel, stride, padding, dtype):
        x = rng.standard_normal((2, 3) + spatial).astype(dtype)
        y, idx = _fn("max", nd)(x, kernel, stride, padding, return_indices=True)
        ref_y, ref_idx = reference_pool(x, "max", *_args(nd, kernel, stride, padding))
        assert y.dtype == dtype and idx.dtype == np.int64
        np.testing.assert_array_equal(y, ref_y.astype(dtype))
        np.testing.assert_array_equal(idx, ref_idx)

    @pytest.mark.parametrize("spatial, kernel, stride, padding, dilation, ceil_mode, one", [
        ((1, 1), 3, 1, 1, 1, True, True),  # GoogLeNet's pool of 1x1 maps: each value itself
        ((1, 1, 1), 3, 2, 1, 1, False, True),
        ((1, 1), (2, 1), 2, (1, 0), 1, False, True),  # the window's second tap reads it
        ((2, 2), 3, 2, 1, 1, False, False),  # Xception's of 2x2 maps to 1x1: by the kernel
        ((3, 3), 2, 2, 0, 1, False, False),
        ((2, 2), 3, 1, 1, 1, False, False),
    ])
    def test_windows_of_one_value(self, spatial, kernel, stride, padding, dilation, ceil_mode,
                                  one):
        """Planes of one value, each window reading it: a copy (a NaN, -0 pass through), the
        kernel's values (with indices) and the reference's."""
        nd = len(spatial)
        x = np.random.default_rng(5).standard_normal((3, 4) + spatial).astype(np.float32)
        x[1, 2].flat[-1] = np.nan
        x[2, 1].flat[0] = -0.0
        args = (kernel, stride, padding, dilation, ceil_mode)
        tuples = [as_tuple(a, nd, "arg", min_value=0) for a in args[:4]]
        geometry, _ = P._geometry(spatial, nd, *tuples, ceil_mode)
        assert P._one_value_windows(geometry) == one
        pool = getattr(P, f"max_pool{nd}d")
        y = pool(x, *args)
        with_indices, _ = pool(x, *args, return_indices=True)
        np.testing.assert_array_equal(y, with_indices)
        ref, _ = reference_pool(x, "max", *tuples, ceil_mode)
        np.testing.assert_array_equal(y, ref.astype(np.float32))
        assert np.array_equal(np.signbit(y), np.signbit(ref))

    @pytest.mark.parametrize("ceil_mode", [False, True])
    def test_dilation_and_ceil_mode(self, ceil_mode):
        x = rng.standard_normal((1, 2, 9, 8))
        y, idx = P.max_pool2d(x, 3, 2, 1, dilation=(2, 1), ceil_mode=ceil_mode, return_indices=True)
        ref_y, ref_idx = reference_pool(x, "max", (3, 3), (2, 2), (1, 1), (2, 1), ceil_mode)
        np.testing.assert_array_equal(y, ref_y)
        np.testing.assert_array_equal(idx, ref_idx)

    @pytest.mark.parametrize("kernel, stride, padding, dilation", [
        (2, 2, 0, 1), (3, 1, 1, 1), (3, 2, 1, 1), ((2, 3), (1, 3), (1, 1), (1, 2))])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_wide_rows_without_indices(self, kernel, stride, padding, dilation, dtype):
        # rows of 8 and more inner outputs take the vector loop when no indices are kept:
        # the reference's maxima, NaN where a window holds one, and the zero of the first
        # maximum (signed zeros compare equal)
        x = rng.standard_normal((2, 2, 6, 41)).astype(dtype)
        x[0, 0] = np.where(rng.random(x.shape[2:]) < 0.7, -0.0, 0.0)  # maxima of zeros
        x[1, 1, 3, 17] = np.nan
        x[1, 0, :, 30:] = -np.inf
        y = P.max_pool2d(x, kernel, stride, padding, dilation)
        y_idx, idx = P.max_pool2d(x, kernel, stride, padding, dilation, return_indices=True)
        k, s, p = _args(2, kernel, stride, padding)
        ref_y, ref_idx = reference_pool(x, "max", k, s, p, as_tuple(dilation, 2, "d"))
        np.testing.assert_array_equal(y, ref_y.astype(dtype))
        assert np.isnan(y).any() and np.array_equal(np.signbit(y), np.signbit(ref_y))
        assert np.signbit(y[0, 0]).any() and not np.signbit(y[0, 0]).all()
        np.testing.assert_array_equal(y, y_idx)
        np.testing.assert_array_equal(idx, ref_idx)

    @pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil_mode", [
        ((300, 2, 4, 4), 3, 1, 1, 1, True),  # GoogLeNet's branch pool: stacks of 113 planes
        ((7, 3, 2, 2), 3, 1, 1, 1, False),
        ((5, 2, 1, 1), 3, 1, 1, 1, True),
        ((3, 2, 9, 16), (2, 3), 1, (1, 0), (2, 1), False),
        ((40, 2, 4, 4), 3, 2, 0, 1, True),  # stride 2, ceil mode past the edge
        ((40, 2, 2, 2), 2, 2, 0, 1, True),
        ((6, 2, 7, 8), 3, (2, 1), 1, 1, False),
        ((3, 2, 16, 16), 3, 2, 1, 1, False),  # ResNet's stem pool on 32x32 inputs: 8 outputs a row
        ((3, 2, 31, 32), 3, 2, 1, 1, True)])  # 16 outputs a row, the widest stacked
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_small_planes_stacked_without_indices(self, shape, kernel, stride, padding, dilation,
                                                  ceil_mode, dtype, monkeypatch):
        # short rows without indices run as stacks of planes: the reference's maxima, NaN where
        # a window holds one, the zero of the first maximum, the same on 1 and 2 threads
        x = rng.standard_normal(shape).astype(dtype)
        x[0, 0] = np.where(rng.random(shape[2:]) < 0.7, -0.0, 0.0)
        x[-1, 1].flat[rng.integers(x[-1, 1].size)] = np.nan
        x[1, 0, : shape[2] // 2] = -np.inf
        k, s, p = _args(2, kernel, stride, padding)
        ref, _ = reference_pool(x, "max", k, s, p, as_tuple(dilation, 2, "d"), ceil_mode)
        monkeypatch.setattr(P, "_GRAIN", 1)
        before = convcore.get_num_threads()
        try:
            for threads in (1, 2):
                convcore.set_num_threads(threads)
                y = P.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
                np.testing.assert_array_equal(y, ref.astype(dtype))
                assert np.array_equal(np.signbit(y), np.signbit(ref)) and np.isnan(y).any()
        finally:
            convcore.set_num_threads(before)

    def test_gradient_goes_to_first_maximum(self):
        x = np.array([[[[2., 2.], [1., 2.]]]])
        y, idx = P.max_pool2d(x, 2, return_indices=True)
        g = P.max_pool2d_backward(np.full_like(y, 5.0), idx, x.shape)
        np.testing.assert_array_equal(g[0, 0], [[5, 0], [0, 0]])

    def test_overlapping_windows_add_up(self):
        x = np.array([[[0., 9., 1., 0.]]])
        y, idx = P.max_pool1d(x, 2, stride=1, return_indices=True)
        g = P.max_pool1d_backward(np.ones_like(y), idx, x.shape)
        np.testing.assert_array_equal(g, [[[0, 2, 1, 0]]])

    def test_nan_propagates(self):
        x = np.array([[[1.0, np.nan, 3.0, 2.0]]])
        np.testing.assert_array_equal(P.max_pool1d(x, 2), [[[np.nan, 3.0]]])
        y, idx = P.max_pool1d(x, 2, return_indices=True)
        np.testing.assert_array_equal(y, [[[np.nan, 3.0]]])
        np.testing.assert_array_equal(idx, [[[1, 2]]])

    def test_window_of_minus_infinity_has_a_valid_index(self):
        x = np.array([[[-np.inf, -np.inf, 1.0, -np.inf]]])
        y, idx = P.max_pool1d(x, 2, return_indices=True)
        np.testing.assert_array_equal(y, [[[-np.inf, 1.0]]])
        np.testing.assert_array_equal(idx, [[[0, 2]]])

    @pytest.mark.parametrize("nd, spatial, kernel, stride, padding",
                             [CASES[1], CASES[4], CASES[5], CASES[8]])
    def test_numerical_gradient(self, nd, spatial, kernel, stride, padding):
        x = rng.permutation(np.prod((1, 2) + spatial)).reshape((1, 2) + spatial) * 0.1
        w = rng.standard_normal(_fn("max", nd)(x, kernel, stride, padding).shape)
        loss = lambda z: float(np.sum(_fn("max", nd)(z, kernel, stride, padding) * w))
        _, idx = _fn("max", nd)(x, kernel, stride, padding, return_indices=True)
        g = _fn("max", nd, True)(w, idx, x.shape)
        np.testing.assert_allclose(g, numerical_grad(lambda: loss(x), x), atol=1e-7)

    def test_unbatched_input(self):
        x = rng.standard_normal((3, 6, 6))
        np.testing.assert_array_equal(P.max_pool2d(x, 2), P.max_pool2d(x[None], 2)[0])

    def test_non_contiguous_input(self):
        x = rng.standard_normal((2, 3, 8, 8))[:, :, ::2, 1::2]
        np.testing.assert_array_equal(P.max_pool2d(x, 2), P.max_pool2d(x.copy(), 2))


class TestAvgPool:
    @pytest.mark.parametrize("nd, spatial, kernel, stride, padding", CASES)
    @pytest.mark.parametrize("count_include_pad", [True, False])
    def test_matches_reference(self, nd, spatial, kernel, stride, padding, count_include_pad):
        x = rng.standard_normal((2, 3) + spatial)
        y = _fn("avg", nd)(x, kernel, stride, padding, count_include_pad=count_include_pad)
        ref, _ = reference_pool(x, "avg", *_args(nd, kernel, stride, padding),
                                count_include_pad=count_include_pad)
        np.testing.assert_allclose(y, ref, rtol=1e-12)

    def test_float32_keeps_dtype(self):
        x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
        y = P.avg_pool2d(x, 3, 1, 1)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, reference_pool(x, "avg", (3, 3), (1, 1), (1, 1))[0],
                                   rtol=1e-6, atol=1e-6)

    def test_ceil_mode(self):
        x = rng.standard_normal((1, 1, 7, 7))
        for include in (True, False):
            y = P.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=include)
            ref, _ = reference_pool(x, "avg", (3, 3), (2, 2), (1, 1), None, True, include)
            np.testing.assert_allclose(y, ref, rtol=1e-12)

    @pytest.mark.parametrize("nd, spatial, kernel, stride, padding", [CASES[1], CASES[4], CASES[8]])
    @pytest.mark.parametrize("count_include_pad", [True, False])
    def test_numerical_gradient(self, nd, spatial, kernel, stride, padding, count_include_pad):
        x = rng.standard_normal((1, 2) + spatial)
        kw = dict(stride=stride, padding=padding, count_include_pad=count_include_pad)
        w = rng.standard_normal(_fn("avg", nd)(x, kernel, **kw).shape)
        loss = lambda z: float(np.sum(_fn("avg", nd)(z, kernel, **kw) * w))
        g = _fn("avg", nd, True)(w, x.shape, kernel, **kw)
        np.testing.assert_allclose(g, numerical_grad(lambda: loss(x), x), rtol=1e-6, atol=1e-8)


    @pytest.mark.parametrize("nd, spatial, kernel", [
        (2, (7, 5), 2),  # windows that tile the plane, a row and a column left over
        (2, (8, 6), (2, 3)),
        (1, (7,), 2),
        (3, (3, 4, 5), (1, 2, 2)),
    ])
    def test_tiling_windows(self, nd, spatial, kernel, monkeypatch):
        # the path without per-window bounds: reference, numerical gradient (zero where no window
        # reads), float32 on 1 and 2 threads gives the same bits
        monkeypatch.setattr(P, "_GRAIN", 1)
        x = rng.standard_normal((2, 3) + spatial)
        y = _fn("avg", nd)(x, kernel)
        np.testing.assert_allclose(y, reference_pool(x, "avg", *_args(nd, kernel, None, 0))[0],
                                   rtol=1e-12)
        w = rng.standard_normal(y.shape)
        g = _fn("avg", nd, True)(w, x.shape, kernel)
        loss = lambda: float(np.sum(_fn("avg", nd)(x, kernel) * w))  # noqa: E731
        np.testing.assert_allclose(g, numerical_grad(loss, x), rtol=1e-6, atol=1e-8)
        outs = []
        try:
            for threads in (1, 2):
                convcore.set_num_threads(threads)
                outs.append((_fn("avg", nd)(x.astype(np.float32), kernel),
                             _fn("avg", nd, True)(w.astype(np.float32), x.shape, kernel)))
        finally:
            convcore.set_num_threads(None)
        for one, two in zip(*outs):
            np.testing.assert_array_equal(one, two)


class TestGlobalAvgPool:
    def test_forward_and_gradient(self):
        x = rng.standard_normal((2, 3, 4, 5))
        np.testing.assert_allclose(P.global_avg_pool(x), x.mean(axis=(2, 3)), rtol=1e-12)
        w = rng.standard_normal((2, 3))
        g = P.global_avg_pool_backward(w, x.shape)
        num = numerical_grad(lambda: float(np.sum(P.global_avg_pool(x) * w)), x)
        np.testing.assert_allclose(g, num, rtol=1e-6)

    def test_float32(self):
        x = rng.standard_normal((2, 3, 4)).astype(np.float32)
        y = P.global_avg_pool(x)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y, x.mean(axis=2), rtol=1e-6)


class TestAgainstTorch:
    @pytest.fixture(autouse=True)
    def _torch(self):
        # in a fixture, not the class body: a skip at import time would skip the whole module
        self.torch = pytest.importorskip("torch")

    @pytest.mark.parametrize("nd, spatial, kernel, stride, padding", CASES)
    def test_forward_and_backward(self, nd, spatial, kernel, stride, padding):
        F = self.torch.nn.functional
        x = rng.standard_normal((2, 3) + spatial).astype(np.float32)
        gy = None
        for kind in ("max", "avg"):
            tx = self.torch.tensor(x, requires_grad=True)
            ty = getattr(F, f"{kind}_pool{nd}d")(tx, kernel, stride, padding)
            gy = rng.standard_normal(ty.shape).astype(np.float32)
            ty.backward(self.torch.from_numpy(gy))
            if kind == "max":
                y, idx = _fn(kind, nd)(x, kernel, stride, padding, return_indices=True)
                g = _fn(kind, nd, True)(gy, idx, x.shape)
            else:
                y = _fn(kind, nd)(x, kernel, stride, padding)
                g = _fn(kind, nd, True)(gy, x.shape, kernel, stride, padding)
            np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-5, atol=1e-6)

    def test_which_windows_are_accepted_and_their_values(self):
        # PyTorch's rules, drawn at random: padding up to half the kernel's taps whatever the
        # dilation; with ceil_mode a window wider than the padded input that starts inside it
        # gives an output (a 1-D input of 3 and a window of 5: one output of its 3 values). The
        # same calls raise in both, or give the same values and gradients
        F, r = self.torch.nn.functional, np.random.default_rng(5)
        accepted = past_the_end = 0
        for _ in range(600):
            nd, kind = int(r.integers(1, 4)), ("max", "avg")[int(r.integers(2))]
            spatial = tuple(int(v) for v in r.integers(1, 7, nd))
            kernel = tuple(int(v) for v in r.integers(1, 7, nd))
            stride = tuple(int(v) for v in r.integers(1, 5, nd))
            padding = tuple(int(r.integers(0, k // 2 + 2)) for k in kernel)
            ceil = bool(r.integers(2))
            dilation = tuple(int(v) for v in r.integers(1, 4, nd)) if kind == "max" else None
            extra = dict(dilation=dilation, ceil_mode=ceil) if kind == "max" else dict(
                ceil_mode=ceil, count_include_pad=bool(r.integers(2)))
            x = r.standard_normal((2, 2) + spatial)
            tx = self.torch.tensor(x, requires_grad=True)
            try:
                ty = getattr(F, f"{kind}_pool{nd}d")(tx, kernel, stride, padding, **extra)
            except RuntimeError:
                ty = None
            if ty is None and kind == "avg" and nd == 3:
                continue  # torch's avg_pool3d alone refuses a kernel wider than the input
            if ty is None:
                with pytest.raises(ValueError):
                    _fn(kind, nd)(x, kernel, stride, padding, **extra)
                continue
            gy = r.standard_normal(ty.shape)
            ty.backward(self.torch.from_numpy(gy))
            if kind == "max":
                y, idx = _fn(kind, nd)(x, kernel, stride, padding, return_indices=True, **extra)
                if not np.isfinite(y).all():
                    continue  # a window of padding alone: -inf, an index outside (as torch's)
                g = _fn(kind, nd, True)(gy, idx, x.shape)
            else:
                y = _fn(kind, nd)(x, kernel, stride, padding, **extra)
                g = _fn(kind, nd, True)(gy, x.shape, kernel, stride, padding, **extra)
            np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
            accepted += 1
            span = [(k - 1) * (d if dilation else 1) + 1 for k, d in zip(kernel, dilation or kernel)]
            past_the_end += any(n + 2 * p < s for n, p, s in zip(spatial, padding, span))
        assert accepted > 150 and past_the_end > 5


def test_a_batch_of_no_items_as_torch():
    # PyTorch's layers pass a batch of no items through (an empty mask's selection, say): the
    # convolutions, every pooling and batch normalisation in evaluation, forward and backward;
    # the parameters' gradients are zero
    torch = pytest.importorskip("torch")
    T = torch.nn.functional
    from convcore import functional as F
    for nd in (1, 2, 3):
        x = np.zeros((0, 2) + (6,) * nd, np.float32)
        w = rng.standard_normal((3, 2) + (3,) * nd).astype(np.float32)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        tb = torch.ones(3, requires_grad=True)
        ty = getattr(T, f"conv{nd}d")(tx, tw, tb, padding=1)
        ty.backward(torch.ones_like(ty))
        y = getattr(F, f"conv{nd}d")(x, w, np.ones(3, np.float32), padding=1)
        grads = getattr(F, f"conv{nd}d_backward")(np.ones(y.shape, np.float32), x, w, padding=1)
        assert y.shape == tuple(ty.shape) and y.dtype == np.float32
        for ours, theirs in zip(grads, (tx.grad, tw.grad, tb.grad)):
            np.testing.assert_array_equal(ours, theirs.numpy())
        for kind in ("max", "avg"):
            ty = getattr(T, f"{kind}_pool{nd}d")(torch.tensor(x), 2)
            if kind == "max":
                y, idx = _fn(kind, nd)(x, 2, return_indices=True)
                g = _fn(kind, nd, True)(np.ones(y.shape, np.float32), idx, x.shape)
            else:
                y = _fn(kind, nd)(x, 2)
                g = _fn(kind, nd, True)(np.ones(y.shape, np.float32), x.shape, 2)
            assert y.shape == tuple(ty.shape) and g.shape == x.shape
    x = np.zeros((0, 2, 6, 6))
    assert F.adaptive_avg_pool2d(x, 3).shape == (0, 2, 3, 3)
    assert F.adaptive_avg_pool2d_backward(np.zeros((0, 2, 3, 3)), x.shape).shape == x.shape
    assert F.global_avg_pool(x).shape == (0, 2)
    assert F.global_avg_pool_backward(np.zeros((0, 2)), x.shape).shape == x.shape
    assert F.batch_norm(x, np.zeros(2), np.ones(2)).shape == x.shape
    with pytest.raises(ValueError, match="more than one value per channel"):
        F.batch_norm(x, None, None, training=True)   # as PyTorch
    with pytest.raises(ValueError, match="x must not be empty"):
        F.max_pool2d(np.zeros((2, 0, 4, 4)), 2)      # no channels: PyTorch refuses it too


class TestThreads:
    def test_one_and_two_threads_agree(self, threaded):
        x = rng.standard_normal((4, 8, 17, 17)).astype(np.float32)
        before = convcore.get_num_threads()
        try:
            results = []
            for n in (1, 2):
                convcore.set_num_threads(n)
                y, idx = P.max_pool2d(x, 3, 2, 1, return_indices=True)
                results.append((y, idx, P.avg_pool2d(x, 3, 2, 1),
                                P.max_pool2d_backward(y, idx, x.shape)))
        finally:
            convcore.set_num_threads(before)
        for a, b in zip(*results):
            np.testing.assert_array_equal(a, b)


class TestBadInput:
    x = np.zeros((1, 1, 4, 4))

    @pytest.mark.parametrize("call, error, match", [
        (lambda x: P.max_pool2d(x[0, 0], 2), ValueError, r"x must be 4-D"),
        (lambda x: P.max_pool2d(x, 0), ValueError, r"kernel_size must be positive"),
        (lambda x: P.max_pool2d(x, 2, stride=-1), ValueError, r"stride must be positive"),
        (lambda x: P.max_pool2d(x, 2, padding=-1), ValueError, r"padding must be >= 0"),
        (lambda x: P.max_pool2d(x, 2, padding=2), ValueError, r"padding must be at most half"),
        (lambda x: P.max_pool2d(x, 5), ValueError, r"kernel_size \(5, 5\) is larger than the padded"),
        (lambda x: P.max_pool2d(x, 2.5), TypeError, r"kernel_size must be an integer"),
        (lambda x: P.max_pool2d(x, (2, 2, 2)), ValueError, r"kernel_size must be an int or a sequence of 2"),
        (lambda x: P.avg_pool2d(x.astype(complex), 2), TypeError, r"x must hold real numbers"),
        (lambda x: P.avg_pool2d(x.astype(object), 2), TypeError, r"x must hold real numbers"),
        (lambda x: P.avg_pool2d(np.zeros((1, 0, 4, 4)), 2), ValueError, r"x must not be empty"),
        (lambda x: P.max_pool2d_backward(np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16), x.shape),
         ValueError, r"indices must lie in \[0, 16\)"),
        (lambda x: P.max_pool2d_backward(np.ones((1, 1, 2, 2)), np.array([[[[0, 1], [-1, 2]]]]),
                                         x.shape), ValueError, r"indices must lie in \[0, 16\)"),
        (lambda x: P.max_pool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), x.shape),
         TypeError, r"indices must hold integers"),
        (lambda x: P.max_pool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 3, 2), int), x.shape),
         ValueError, r"indices must have the shape of grad_output"),
        (lambda x: P.avg_pool2d_backward(np.ones((1, 1, 3, 3)), x.shape, 2), ValueError,
         r"grad_output must have shape \(1, 1, 2, 2\)"),
        (lambda x: P.avg_pool2d_backward(np.ones((1, 1, 2, 2)), "4x4", 2), ValueError,
         r"input_shape must be a tuple"),
        (lambda x: P.global_avg_pool(np.ones((2, 3))), ValueError, r"at least one spatial axis"),
        (lambda x: P.global_avg_pool_backward(np.ones((2, 2)), (1, 1, 4)), ValueError,
         r"grad_output must have shape \(1, 1\)"),
    ])
    def test_clear_errors(self, call, error, match):
        with pytest.raises(error, match=match):
            call(self.x)


class TestAdaptiveAvgPool:
    @pytest.mark.parametrize("shape, out", [((2, 3, 7, 5), (3, 4)), ((1, 2, 4, 4), 2),
                                            ((1, 1, 3, 3), (7, 7)), ((2, 2, 6, 5), (None, 1)),
                                            # windows of one cell (VGG's 1x1 maps to 7x7)
                                            ((2, 3, 1, 1), (7, 7)), ((1, 2, 2, 3), (4, 6)),
                                            ((2, 2, 5, 4), None)])
    def test_windows_and_gradient(self, shape, out):
        x = rng.standard_normal(shape)
        y = P.adaptive_avg_pool2d(x, out)
        oh, ow = y.shape[-2:]
        h, w = shape[-2:]
        for i in range(oh):
            for j in range(ow):
                r0, r1 = i * h // oh, -(-(i + 1) * h // oh)
                c0, c1 = j * w // ow, -(-(j + 1) * w // ow)
                np.testing.assert_allclose(y[..., i, j], x[..., r0:r1, c0:c1].mean(axis=(-2, -1)))
        gy = rng.standard_normal(y.shape)
        g = P.adaptive_avg_pool2d_backward(gy, shape)
        num = numerical_grad(lambda: float(np.sum(P.adaptive_avg_pool2d(x, out) * gy)), x)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)

    def test_bad_output_size(self):
        with pytest.raises(ValueError, match="output_size must be positive"):
            P.adaptive_avg_pool2d(np.zeros((1, 1, 4, 4)), 0)
        with pytest.raises(ValueError, match=r"x must be \(N, C, H, W\)"):
            P.adaptive_avg_pool2d(np.zeros((4, 4)), 2)


def test_max_pool_layer_in_evaluation_keeps_no_indices_yet_has_a_gradient():
    x = rng.standard_normal((2, 3, 9, 20)).astype(np.float32)
    layer = convcore.nn.MaxPool2d(3, 2, 1)
    y_train = layer.train().forward(x)
    g_train = layer.backward(np.ones_like(y_train))
    y_eval = layer.eval().forward(x)
    assert layer._indices is None  # the cheaper kernel
    np.testing.assert_array_equal(y_eval, y_train)
    np.testing.assert_array_equal(layer.backward(np.ones_like(y_eval)), g_train)


def test_every_build_of_the_pooling_kernels_gives_the_same_bits():
    """The baseline, AVX2 and AVX-512 builds (those this CPU runs) of max pooling's stacked
    planes and row loops: the same bits, NaN and signed zeros included."""
    from convcore import _cpu
    x = rng.standard_normal((40, 3, 6, 13)).astype(np.float32)
    x[0, 0] = np.where(rng.random(x.shape[2:]) < 0.5, -0.0, 0.0)
    x[3, 1, 2, 5] = np.nan
    results = []
    for module in _cpu.builds("pooling"):
        for kernel, stride, padding in ((3, 1, 1), (2, 2, 0), (3, 2, 1)):
            geometry, out = P._geometry(x.shape[2:], 2, kernel, stride, padding, 1, True)
            y = np.empty((x.shape[0] * x.shape[1], int(np.prod(out))), np.float32)
            module.max_forward(x.reshape(y.shape[0], -1), y, None, geometry, 2)
            results.append((module.__name__, kernel, stride, y))
    reference = {(k, s): y for name, k, s, y in results if name.endswith("pooling")}
    for name, k, s, y in results:
        assert y.tobytes() == reference[k, s].tobytes(), name
