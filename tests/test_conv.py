"""Convolution against a plain NumPy loop written from the lecture's formula, numerical gradients
and PyTorch (when installed)."""
import itertools

import numpy as np
import pytest
from gradcheck import numerical_grad

import convcore
import convcore.functional as F
from convcore._cpu import load
from convcore.functional import _scratch as scratch
from convcore.functional._conv import (by_shallow, by_shifted, by_smallmaps, by_winograd, choice,
                                       dispatch, kernels, plan as plan_module)

_im2col = load("im2col")  # the build conv2d runs on this CPU
_winograd = load("winograd")
_shallow = load("shallow")

rng = np.random.default_rng(1)


def reference_conv(x, w, b, stride, pads, dilation, groups):
    """C[m, n] = sum_i sum_j h[i, j] * A[m + i, n + j] over channels, with stride, zero padding
    (low, high) per axis, dilation and groups, written as loops over outputs and kernel taps."""
    nd = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    n_batch, c_in = x.shape[:2]
    c_out, cg = w.shape[:2]
    kernel = w.shape[2:]
    og = c_out // groups
    outs = [(xp.shape[2 + a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1 for a in range(nd)]
    y = np.zeros((n_batch, c_out) + tuple(outs))
    for n, o in itertools.product(range(n_batch), range(c_out)):
        g = o // og
        for pos in itertools.product(*map(range, outs)):
            acc = 0.0 if b is None else b[o]
            for c in range(cg):
                for tap in itertools.product(*map(range, kernel)):
                    src = tuple(pos[a] * stride[a] + tap[a] * dilation[a] for a in range(nd))
                    acc += w[(o, c) + tap] * xp[(n, g * cg + c) + src]
            y[(n, o) + pos] = acc
    return y


def conv(nd):
    return getattr(F, f"conv{nd}d")


def conv_backward(nd):
    return getattr(F, f"conv{nd}d_backward")


def expand(v, nd):
    return tuple(v) if isinstance(v, tuple) else (v,) * nd


CASES = [  # nd, N, C_in, C_out, spatial, kernel, stride, padding, dilation, groups
    (1, 2, 3, 4, (9,), 1, 1, 0, 1, 1),
    (1, 1, 2, 2, (8,), 2, 3, 1, 1, 1),  # stride larger than the kernel
    (1, 2, 4, 4, (10,), 3, 1, ((2, 1),), 2, 2),  # asymmetric padding, dilation, groups
    (1, 1, 1, 1, (5,), 5, 1, 0, 1, 1),  # kernel == input
    (2, 2, 3, 4, (6, 5), 3, 1, 1, 1, 1),
    (2, 1, 2, 3, (7, 7), 5, 2, 2, 1, 1),
    (2, 2, 4, 6, (6, 6), (2, 3), (1, 2), (1, 0), (2, 1), 2),
    (2, 1, 3, 3, (5, 5), 3, 2, 1, 1, 3),  # depthwise
    (2, 2, 4, 8, (4, 4), 1, 1, 0, 1, 2),  # point convolution (pure GEMM path), grouped
    (2, 1, 2, 2, (4, 4), 4, 1, 0, 1, 1),  # kernel == input
    (3, 1, 2, 3, (4, 5, 4), 3, 1, 1, 1, 1),
    (3, 2, 2, 2, (5, 4, 6), (2, 1, 3), (2, 1, 2), 0, (1, 1, 2), 2),
    (1, 2, 4, 4, (12,), 3, 2, 1, 2, 4),  # depthwise, strided and dilated
    (2, 2, 3, 3, (5, 5), 1, 1, 0, 1, 3),  # depthwise point convolution
    (2, 3, 2, 1, (6, 6), 3, 1, 1, 1, 1),  # one output channel
]


def _pads(padding, nd):
    if isinstance(padding, tuple) and isinstance(padding[0], tuple):
        return list(padding)
    return [(p, p) for p in expand(padding, nd)]


def reference_im2col(x, kernel, stride, pads, dilation):
    """cols[(c, *tap), position] = x_padded[c, position * stride + tap * dilation], one image."""
    nd = x.ndim - 1
    xp = np.pad(x, [(0, 0)] + list(pads))
    outs = [(xp.shape[1 + a] - dilation[a] * (kernel[a] - 1) - 1) // stride[a] + 1 for a in range(nd)]
    cols = []
    for c in range(x.shape[0]):
        for tap in itertools.product(*map(range, kernel)):
            cols.append([xp[(c,) + tuple(pos[a] * stride[a] + tap[a] * dilation[a] for a in range(nd))]
                         for pos in itertools.product(*map(range, outs))])
    return np.array(cols)


def check_im2col_and_col2im(x, kernel, stride, pads, dilation):
    """im2col of one image `x` (c_in, *spatial) equals the reference exactly, and col2im is its
    transpose: <im2col(x), c> == <x, col2im(c)>."""
    c_in, nd = x.shape[0], len(kernel)
    geometry = plan_module.Plan(x[None], np.zeros((1, c_in) + kernel, x.dtype), stride, pads,
                                dilation, 1, nd).geometry
    ref = reference_im2col(x.astype(float), kernel, stride, pads, dilation)
    cols = np.full(ref.shape, np.nan, dtype=x.dtype)
    _im2col.im2col(x.reshape(c_in, -1), geometry, cols)
    np.testing.assert_array_equal(cols, ref.astype(x.dtype))
    c = rng.standard_normal(ref.shape)
    back = np.zeros((c_in, x[0].size))
    _im2col.col2im(c, geometry.copy(), back)
    assert np.sum(ref * c) == pytest.approx(np.sum(x.astype(float).ravel() * back.ravel()),
                                            rel=1e-10)


def _matches_reference_on_one_and_two_threads(case, dtype):
    """Random arrays for `case` in `dtype`: the convolution on 1 and on 2 threads equals the NumPy
    reference and gives the same bits on both. Returns (x, w, b)."""
    nd, n, c_in, c_out, spatial, k, s, p, d, g = case
    kernel = expand(k, nd)
    x = rng.standard_normal((n, c_in) + spatial).astype(dtype)
    w = rng.standard_normal((c_out, c_in // g) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    ref = reference_conv(x.astype(float), w.astype(float), b.astype(float), expand(s, nd),
                         _pads(p, nd), expand(d, nd), g)
    ys = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            ys.append(conv(nd)(x, w, b, stride=s, padding=p, dilation=d, groups=g))
    finally:
        convcore.set_num_threads(None)
    assert ys[0].dtype == dtype
    if dtype == np.float32:  # a float32 sum rounds relative to its terms, not to its result
        terms = reference_conv(np.abs(x.astype(float)), np.abs(w.astype(float)),
                               np.abs(b.astype(float)), expand(s, nd), _pads(p, nd),
                               expand(d, nd), g)
        np.testing.assert_array_less(np.abs(ys[0] - ref), 1e-5 * terms + 1e-6)
    else:
        np.testing.assert_allclose(ys[0], ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ys[0], ys[1])
    return x, w, b


class TestIm2col:
    @pytest.mark.parametrize("case", CASES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_im2col_and_its_adjoint_col2im(self, case, dtype):
        nd, _, c_in, _, spatial, k, s, p, d, _ = case
        x = rng.standard_normal((c_in,) + spatial).astype(dtype)
        check_im2col_and_col2im(x, expand(k, nd), expand(s, nd), _pads(p, nd), expand(d, nd))

    def test_shapes_must_match_the_geometry(self):
        geometry = plan_module.Plan(np.zeros((1, 1, 4)), np.zeros((1, 1, 2)), 1, 0, 1, 1,
                                     1).geometry
        with pytest.raises(ValueError, match="im2col: array shapes do not match"):
            _im2col.im2col(np.zeros((1, 4)), geometry, np.zeros((2, 2)))
        with pytest.raises(ValueError, match="col2im: array shapes do not match"):
            _im2col.col2im(np.zeros((2, 2)), geometry, np.zeros((1, 4)))
        with pytest.raises(ValueError, match=r"geometry must have shape \(6, 3\)"):
            _im2col.im2col(np.zeros((1, 4)), geometry[:5].copy(), np.zeros((2, 3)))

    def test_kernels_refuse_arrays_that_disagree_with_the_geometry(self):
        c = plan_module.Plan(np.zeros((2, 4, 6, 6)), np.zeros((4, 2, 3, 3)), 1, 0, 1, 2, 2)
        x, y, w = np.zeros((2, 4, 36)), np.zeros((2, 4, 16)), np.zeros((4, 18))
        work, bias = np.zeros((1, 18 * (16 + _im2col.COLS_PAD))), np.zeros(0)
        with pytest.raises(ValueError, match="forward: array shapes do not match"):
            _im2col.forward(x, w, bias, np.zeros((2, 3, 16)), c.geometry, 2, 16, 1, work, 1)
        with pytest.raises(ValueError, match="forward: bias must be empty or hold one value"):
            _im2col.forward(x, w, np.zeros(2), y, c.geometry, 2, 16, 1, work, 1)
        with pytest.raises(ValueError, match="backward_input: array shapes do not match"):
            _im2col.backward_input(y, w, x, c.geometry, 2, 16, work, 2)  # one work row
        with pytest.raises(ValueError, match="backward_weight: array shapes do not match"):
            _im2col.backward_weight(y, x, np.zeros((1, 4, 18)), c.geometry, 2, 16, work[:, :100].copy(), 1)
        with pytest.raises(ValueError, match="backward_weight: grad_w must hold between 1 and N"):
            _im2col.backward_weight(y, x, np.zeros((3, 4, 18)), c.geometry, 2, 16, work, 1)
        with pytest.raises(ValueError, match="forward: work is too small for the images"):
            _im2col.forward(x, w, bias, y, c.geometry, 2, 16, 2, work, 1)
        _im2col.forward(x, w, bias, y, c.geometry, 2, 16, 1, work, 1)  # the right shapes pass


    @pytest.mark.parametrize("groups", [1, 2])
    def test_bias_as_a_weight_column(self, groups):
        # w (C_out, K + 1) with the bias last: the GEMM adds it against a row of ones
        x = rng.standard_normal((3, 4, 7, 6))
        w = rng.standard_normal((6, 4 // groups, 3, 2))
        b = rng.standard_normal(6)
        c = plan_module.Plan(x, w, 1, 1, 1, groups, 2)
        K = w[0].size
        y = np.empty((3, 6) + c.out_spatial)
        w_b = np.concatenate([w.reshape(6, K), b[:, None]], axis=1)
        _im2col.forward(plan_module.flat(x), w_b, np.zeros(0), plan_module.flat(y), c.geometry,
                        groups, 5, 1, np.empty((1, (K + 1) * (5 + _im2col.COLS_PAD))), 1)
        np.testing.assert_allclose(y, reference_conv(x, w, b, (1, 1), [(1, 1)] * 2, (1, 1), groups),
                                   rtol=1e-12, atol=1e-12)


class TestForward:
    @pytest.mark.parametrize("case", CASES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_matches_reference(self, case, dtype):
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        kernel = expand(k, nd)
        x = rng.standard_normal((n, c_in) + spatial).astype(dtype)
        w = rng.standard_normal((c_out, c_in // g) + kernel).astype(dtype)
        b = rng.standard_normal(c_out).astype(dtype)
        y = conv(nd)(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        ref = reference_conv(x.astype(float), w.astype(float), b.astype(float), expand(s, nd),
                             _pads(p, nd), expand(d, nd), g)
        assert y.dtype == dtype
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(y, ref, rtol=tol, atol=tol)

    @pytest.mark.parametrize("case", CASES + [(2, 5, 4, 6, (3, 3), 3, 1, 1, 1, 2),
                                              (2, 7, 1, 3, (9, 8), 5, 1, 0, 1, 1)])
    @pytest.mark.parametrize("images", [1, 2, 3])
    def test_several_images_per_gemm(self, case, images, monkeypatch):
        # small outputs: several images' columns share one GEMM (a short last item included)
        monkeypatch.setattr(choice, "images_per_gemm", lambda K, L, batch: images)
        monkeypatch.setattr(choice, "GRAIN", 1)  # small as they are, use both threads
        monkeypatch.setattr(choice, "small_maps", lambda c: False)  # im2col, not dense
        _matches_reference_on_one_and_two_threads(case, np.float32)

    def test_images_per_gemm_fill_small_outputs_only(self):
        assert choice.images_per_gemm(4608, 1, 32) == 16  # at most half the batch
        assert choice.images_per_gemm(576, 64, 32) == 8  # 512 columns
        assert choice.images_per_gemm(576, 3136, 32) == 1  # a large image alone
        assert choice.images_per_gemm(25, 576, 64) == 1  # shallow K, wide enough alone
        assert choice.images_per_gemm(25, 64, 64) == 4  # 256 columns

    def test_tiles_depend_on_the_shapes_only(self):
        assert choice.tile(576, 3136, 64) == 512  # deep K: about L2
        assert choice.tile(25, 784, 32) == 784  # 32 x 784 x 26 stays a small GEMM
        assert choice.tile(75, 1024, 32) == 1_000_000 // (32 * 76)
        assert choice.tile(75, 1024, 512) == 256  # at least 256 columns
        assert choice.tile(75, 100, 32) == 100  # never more than the image

    @pytest.mark.parametrize("case", [  # taps that meet only padding are dropped
        (2, 3, 4, 5, (1, 1), 3, 1, 1, 1, 1),  # 3x3 on 1x1: the centre tap
        (2, 2, 3, 2, (1, 4), 3, 1, 1, 1, 1),  # one axis trimmed
        (2, 2, 2, 3, (2, 2), 5, 1, 2, 1, 1),  # 5x5 on 2x2: the middle 3x3
        (2, 2, 4, 4, (3, 1), 3, 2, 1, 1, 2),  # stride, groups
        (2, 1, 2, 2, (1, 3), 3, 1, 2, 2, 1),  # dilation
        (1, 2, 3, 2, (2,), 7, 3, 3, 1, 1),
        (3, 2, 2, 3, (1, 2, 1), 3, 1, 1, 1, 1),
    ])
    def test_taps_on_padding_only_are_dropped(self, case, monkeypatch):
        monkeypatch.setattr(choice, "small_maps", lambda c: False)  # not the dense path
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        kernel = expand(k, nd)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in // g) + kernel)
        b = rng.standard_normal(c_out)
        c = plan_module.Plan(x, w, s, p, d, g, nd)
        assert plan_module.trim_taps(c).weight.size < w.size
        y = conv(nd)(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        ref = reference_conv(x, w, b, expand(s, nd), _pads(p, nd), expand(d, nd), g)
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("case", [  # groups == C_in: the direct depthwise kernel
        (2, 3, 4, 4, (7, 6), 3, 1, 1, 1, 4),
        (2, 2, 2, 2, (3, 40), 3, 1, 1, 1, 2),  # rows wider than the padded-plane path takes
        (2, 2, 3, 3, (4, 4), 3, 1, 2, 2, 3),  # dilated, padding past the kernel
        (2, 2, 3, 6, (9, 8), 3, 2, ((1, 0), (2, 1)), (1, 2), 3),  # multiplier 2, strided
        (2, 2, 2, 6, (5, 5), (2, 3), 1, 0, 1, 2),  # multiplier 3, even kernel
        (1, 3, 5, 5, (11,), 5, 3, 2, 1, 5),
        (3, 2, 2, 4, (4, 5, 3), 3, (2, 1, 1), 1, 1, 2),
        # small planes stacked over the images: 8 of 22x22 a stack (20 images: 8, 8 and 4),
        # 4 of 32x32 with padding on one side (9: 4, 4 and 1)
        (2, 20, 3, 3, (20, 20), 3, 1, 1, 1, 3),
        (2, 9, 2, 4, (30, 31), 3, 1, ((2, 0), (0, 1)), 1, 2),
        # planes of at most 16 positions, channels innermost (more channels than a register
        # block holds, and a tail): 2x2, 4x4, 1x1 and 3x5 maps, strided, dilated, 3-D
        (2, 3, 37, 37, (2, 2), 3, 1, 1, 1, 37),
        (2, 2, 70, 70, (4, 4), 3, 1, 1, 1, 70),
        (2, 3, 130, 130, (1, 1), 3, 1, 1, 1, 130),
        (2, 2, 33, 33, (3, 5), (3, 2), 1, ((2, 0), (0, 1)), 1, 33),
        (2, 2, 20, 20, (4, 4), 3, 2, 1, 1, 20),
        (2, 2, 9, 9, (4, 4), 3, 1, 2, 2, 9),
        (3, 2, 5, 5, (2, 2, 2), 3, 1, 1, 1, 5),
    ])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_depthwise_direct(self, case, dtype, monkeypatch):
        monkeypatch.setattr(choice, "GRAIN", 1)  # small as they are, use both threads
        x, w, b = _matches_reference_on_one_and_two_threads(case, dtype)
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        with pytest.raises(ValueError, match="depthwise forward: array shapes do not match"):
            from convcore._kernels import depthwise as _depthwise
            c = plan_module.Plan(x, w, s, p, d, g, nd)
            _depthwise.forward(c.x.reshape(n, c_in, -1), w.reshape(c_out, -1), b,
                               np.empty((n, c_out + 1, 1), dtype), c.geometry, c_out // g, 1)

    @pytest.mark.parametrize("shape", [(21, 3, 22, 22), (5, 4, 2, 2), (7, 2, 1, 1)])
    def test_depthwise_same_bits_alone_or_stacked_with_other_images(self, shape):
        """Small planes run as stacks of images: an image's result never depends on the
        others."""
        x = rng.standard_normal(shape).astype(np.float32)
        w = rng.standard_normal((shape[1], 1, 3, 3)).astype(np.float32)
        b = rng.standard_normal(shape[1]).astype(np.float32)
        y = F.conv2d(x, w, b, padding=1, groups=shape[1])
        for i in (0, shape[0] // 2, shape[0] - 1):
            np.testing.assert_array_equal(y[i:i + 1], F.conv2d(x[i:i + 1], w, b, padding=1,
                                                               groups=shape[1]))

    def test_every_build_of_the_depthwise_kernels_gives_the_same_bits(self):
        """The baseline, AVX2 and AVX-512 builds (those this CPU runs) of the depthwise forward
        (stacked small planes, row runs): the same bits, none contracting into FMA."""
        from convcore import _cpu
        results = {}
        for module in _cpu.builds("depthwise"):
            # stacked planes, rows wider than the stacks take, then small planes channels
            # innermost (one output channel per input channel, 70: a register block and a tail)
            for size, c_in, m in ((4, 6, 2), (40, 6, 2), (2, 70, 1), (4, 70, 1)):
                x = np.random.default_rng(size).standard_normal((9, c_in, size, size))
                w = np.random.default_rng(1).standard_normal((c_in * m, 1, 3, 3))
                b = np.random.default_rng(2).standard_normal(c_in * m)
                for dtype in (np.float32, np.float64):
                    c = plan_module.Plan(x.astype(dtype), w.astype(dtype), 1, 1, 1, c_in, 2)
                    y = np.empty(c.out_shape, dtype)
                    module.forward(c.x.reshape(9, c_in, -1), c.weight.reshape(c_in * m, -1),
                                   b.astype(dtype), y.reshape(9, c_in * m, -1), c.geometry, m, 2)
                    results.setdefault((size, c_in, dtype), []).append(y.tobytes())
        assert all(len(set(v)) == 1 for v in results.values())

    @pytest.mark.parametrize("shape", [(32, 256, 2, 2), (32, 256, 4, 4), (32, 512, 1, 1)])
    def test_depthwise_small_planes_against_torch(self, shape, monkeypatch):
        # Xception's middle and exit flows on 32x32 images (planes channels innermost): the
        # forward and both gradients against PyTorch's autograd, the same bits on 1 and 2 threads
        torch = pytest.importorskip("torch")
        monkeypatch.setattr(choice, "GRAIN", 1)
        x = rng.standard_normal(shape).astype(np.float32)
        w = rng.standard_normal((shape[1], 1, 3, 3)).astype(np.float32)
        b = rng.standard_normal(shape[1]).astype(np.float32)
        gy = rng.standard_normal(shape).astype(np.float32)
        _against_torch_on_one_and_two_threads(torch, x, w, b, gy, padding=1, groups=shape[1])

    @pytest.mark.parametrize("w", [1, 2])
    def test_lecture_formula_on_an_8x8_binary_image(self, w):
        # C[m, n] = sum_{i=-w..w} sum_{j=-w..w} h[i + w, j + w] * A[m + i, n + j], for the
        # (m, n) where the (2w+1) x (2w+1) filter fits; 'same' padding extends A with zeros
        A = (rng.random((8, 8)) > 0.5).astype(float)
        h = rng.standard_normal((2 * w + 1, 2 * w + 1))
        taps = range(-w, w + 1)
        C = np.array([[sum(h[i + w, j + w] * A[m + i, n + j] for i in taps for j in taps)
                       for n in range(w, 8 - w)] for m in range(w, 8 - w)])
        np.testing.assert_allclose(F.conv2d(A[None, None], h[None, None])[0, 0], C, rtol=1e-12)
        padded = np.pad(A, w)
        C_same = np.array([[sum(h[i + w, j + w] * padded[w + m + i, w + n + j]
                                for i in taps for j in taps) for n in range(8)] for m in range(8)])
        np.testing.assert_allclose(F.conv2d(A[None, None], h[None, None], padding="same")[0, 0],
                                   C_same, rtol=1e-12, atol=1e-15)

    @pytest.mark.parametrize("nd, kernel", [(1, (4,)), (2, (2, 4)), (2, (3, 3)), (3, (2, 3, 4))])
    def test_same_padding_keeps_the_size(self, nd, kernel):
        x = rng.standard_normal((1, 2) + (7,) * nd)
        w = rng.standard_normal((3, 2) + kernel)
        y = conv(nd)(x, w, padding="same", dilation=2 if nd == 2 else 1)
        assert y.shape == (1, 3) + (7,) * nd
        d = 2 if nd == 2 else 1
        pads = [((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2) for k in kernel]
        np.testing.assert_allclose(y, reference_conv(x, w, None, (1,) * nd, pads, (d,) * nd, 1),
                                   rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("bias", [False, True])
    def test_point_convolution_padded_on_the_high_side(self, bias):
        # a 1x1 kernel with padding after the input only: the output is larger than the input,
        # so it is not the plain GEMM over the input (that read and wrote past the arrays)
        x, w = rng.standard_normal((2, 11, 5, 14)), rng.standard_normal((5, 11, 1, 1))
        b = rng.standard_normal(5) if bias else None
        kw = dict(padding=((0, 3), (0, 3)))
        y = F.conv2d(x, w, b, **kw)
        ref = reference_conv(x, w, b, (1, 1), [(0, 3), (0, 3)], (1, 1), 1)
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
        gy = rng.standard_normal(y.shape)
        gx, gw, _ = F.conv2d_backward(gy, x, w, **kw)
        total = np.sum(gy * (y - (0 if b is None else b[:, None, None])))
        assert np.sum(gx * x) == pytest.approx(total, rel=1e-10)
        assert np.sum(gw * w) == pytest.approx(total, rel=1e-10)

    def test_outputs_that_read_only_padding(self):
        # stride 2 over a width-1 input padded by 3: no output column ever reads the input
        x, w, b = rng.standard_normal((2, 2, 8, 1)), rng.standard_normal((3, 2, 1, 1)), np.arange(3.)
        kw = dict(stride=2, padding=((3, 0), (3, 3)))
        y = F.conv2d(x, w, b, **kw)
        ref = reference_conv(x, w, b, (2, 2), [(3, 0), (3, 3)], (1, 1), 1)
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)
        gx, gw, gb = F.conv2d_backward(np.ones_like(y), x, w, **kw)
        assert not gx.any() and not gw.any() and gb.tolist() == [y[:, 0].size] * 3

    def test_valid_padding(self):
        x, w = rng.standard_normal((1, 1, 6, 6)), rng.standard_normal((1, 1, 3, 3))
        np.testing.assert_array_equal(F.conv2d(x, w, padding="valid"), F.conv2d(x, w))

    def test_unbatched_integer_and_non_contiguous_inputs(self):
        x = rng.integers(-5, 5, (3, 8, 8))
        w = rng.standard_normal((2, 3, 3, 3))
        y = F.conv2d(x, w)
        assert y.shape == (2, 6, 6) and y.dtype == np.float64
        np.testing.assert_allclose(y, F.conv2d(x[None].astype(float), w)[0], rtol=1e-12)
        big = rng.standard_normal((2, 6, 10, 10))
        xs = big[:, ::2, 1::2, ::-1]
        np.testing.assert_allclose(F.conv2d(xs, w), F.conv2d(xs.copy(), w), rtol=1e-12)

    def test_mixed_dtypes_promote(self):
        x = rng.standard_normal((1, 1, 4, 4)).astype(np.float32)
        assert F.conv2d(x, np.ones((1, 1, 2, 2), np.float32)).dtype == np.float32
        assert F.conv2d(x, np.ones((1, 1, 2, 2))).dtype == np.float64
        # integers and bools are converted to float64, whatever their width
        image = rng.integers(0, 255, (1, 1, 4, 4)).astype(np.uint8)
        y = F.conv2d(image, np.ones((1, 1, 2, 2), np.float32))
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y, F.conv2d(image.astype(float), np.ones((1, 1, 2, 2))))
        assert F.conv1d(np.ones((1, 1, 3), bool), np.ones((1, 1, 2), np.int8)).dtype == np.float64


def window_conv(x, w, b, pads):
    """2-D, stride 1, ungrouped: tensordot of the weights with the sliding windows of the padded
    input (a second reference, fast enough for many channels)."""
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (n, oh, ow, c_out)
    return np.moveaxis(y, -1, 1) + (0 if b is None else b[:, None, None])


class TestWinograd:
    """3x3, stride-1 convolutions between enough channels run by Winograd F(2x2, 3x3)."""

    @pytest.fixture(autouse=True)
    def _small_images_too(self, monkeypatch):
        # the tests' images have few 2x2 tiles; by default those go to im2col
        monkeypatch.setattr(choice, "MIN_WINOGRAD_TILES", 1)
        monkeypatch.setattr(choice, "MIN_WINOGRAD_TILES_WEIGHT_GRAD", 1)

    CASES = [  # N, C_in, C_out, (H, W), padding, bias
        (2, 16, 16, (7, 9), 1, True),  # odd output: the last tiles are cut
        (1, 17, 20, (8, 8), 0, False),
        (3, 16, 24, (5, 6), ((0, 2), (1, 0)), True),  # asymmetric padding
        (1, 32, 16, (3, 3), 2, True),  # more padding than input
        (2, 20, 16, (12, 11), 1, False),
    ]

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("n, c_in", [  # within, at and across the 128-kernel blocks
        (1, 1), (127, 1), (128, 1), (300, 1),
        (300, 3), (300, 100), (256, 128), (7, 7)])  # columns (C_in, C_out): 100 x 3, 128 x 2, ...
    def test_weight_transform(self, dtype, n, c_in):
        """transform_weights against G w G^T in float64, G the F(2x2, 3x3) weight transform, on
        1 and 2 threads; with c_in > 1 the kernels (o, c) in the columns c * C_out + o."""
        w = rng.standard_normal((n, 3, 3))
        g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
        expected = np.einsum("ri,nij,sj->rsn", g, w, g).reshape(16, n // c_in, c_in)
        expected = expected.transpose(0, 2, 1).reshape(16, n)
        tol = 1e-6 if dtype == np.float32 else 1e-15
        for threads in (1, 2):
            u = np.full((16, n), np.nan, dtype)
            _winograd.transform_weights(w.astype(dtype).reshape(n, 9), u, c_in, threads)
            np.testing.assert_allclose(u, expected, rtol=tol, atol=tol)
        with pytest.raises(ValueError, match="c_in must be positive and divide N"):
            _winograd.transform_weights(w.reshape(n, 9), np.zeros((16, n)), n + 1, 1)

    @pytest.mark.parametrize("case", CASES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("tiles", [3, 256])  # several steps per image, or one
    def test_matches_reference(self, case, dtype, tiles, monkeypatch):
        monkeypatch.setattr(choice, "WINOGRAD_TILES", tiles)
        n, c_in, c_out, spatial, p, with_bias = case
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in, 3, 3))
        b = rng.standard_normal(c_out) if with_bias else None
        c = plan_module.Plan(x, w, 1, p, 1, 1, 2)
        assert choice.use_winograd(c)
        y = F.conv2d(x.astype(dtype), w.astype(dtype), None if b is None else b.astype(dtype),
                     padding=p)
        assert y.dtype == dtype
        tol = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(y, window_conv(x, w, b, _pads(p, 2)), rtol=tol, atol=tol)

    @pytest.mark.parametrize("case", CASES)
    @pytest.mark.parametrize("tiles", [3, 256])
    def test_gradients(self, case, tiles, monkeypatch):
        # grad_w[o, c, i, j] = sum over images and outputs p of grad_y[o, p] * x_padded[c, p + (i, j)];
        # grad_x (a Winograd convolution too) against the col2im path
        monkeypatch.setattr(choice, "WINOGRAD_TILES", tiles)
        n, c_in, c_out, spatial, p, _ = case
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in, 3, 3))
        gy = rng.standard_normal(F.conv2d(x, w, padding=p).shape)
        xp = np.pad(x, [(0, 0), (0, 0)] + _pads(p, 2))
        win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
        ref_w = np.einsum("nopq,ncpqij->ocij", gy, win)
        for dtype, tol in ((np.float64, 1e-11), (np.float32, 2e-5)):
            gx, gw, gb = F.conv2d_backward(gy.astype(dtype), x.astype(dtype), w.astype(dtype),
                                           padding=p)
            assert gw.dtype == gx.dtype == dtype
            np.testing.assert_allclose(gw, ref_w, rtol=tol, atol=tol * np.abs(ref_w).max())
            # a float32 sum's error scales with the sum of its terms' magnitudes
            np.testing.assert_allclose(gb, gy.sum(axis=(0, 2, 3)), rtol=tol,
                                       atol=tol * np.abs(gy).sum(axis=(0, 2, 3)).max())
        monkeypatch.setattr(dispatch, "input_grad_by_conv", lambda *args, **kwargs: None)
        ref_x = F.conv2d_backward(gy, x, w, padding=p, need_weight=False, need_bias=False)[0]
        np.testing.assert_allclose(gx, ref_x, rtol=2e-5, atol=2e-5 * np.abs(ref_x).max())

    @pytest.mark.parametrize("images", [1, 2, 3])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_several_images_per_step(self, images, dtype, monkeypatch):
        # small images share a step (5 images by 2 or 3: a short last item), forward and weight
        # gradient (2 chunks of 2 and 3 images); 1 and 2 threads give the same bits
        monkeypatch.setattr(choice, "winograd_forward_images", lambda c: images)
        monkeypatch.setattr(choice, "weight_grad_winograd", lambda c: (2, images))
        monkeypatch.setattr(choice, "GRAIN", 1)
        x = rng.standard_normal((5, 16, 5, 7))
        w = rng.standard_normal((12, 16, 3, 3))
        b = rng.standard_normal(12)
        ref = window_conv(x, w, b, [(1, 1), (1, 1)])
        gy = rng.standard_normal(ref.shape)
        win = np.lib.stride_tricks.sliding_window_view(np.pad(x, [(0, 0)] * 2 + [(1, 1)] * 2),
                                                       (3, 3), axis=(2, 3))
        ref_w = np.einsum("nopq,ncpqij->ocij", gy, win)
        results = []
        try:
            for threads in (1, 2):
                convcore.set_num_threads(threads)
                xd, wd = x.astype(dtype), w.astype(dtype)
                results.append((F.conv2d(xd, wd, b.astype(dtype), padding=1),
                                F.conv2d_backward(gy.astype(dtype), xd, wd, padding=1)[1]))
        finally:
            convcore.set_num_threads(None)
        tol = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(results[0][0], ref, rtol=tol, atol=tol)
        np.testing.assert_allclose(results[0][1], ref_w, rtol=tol, atol=tol * np.abs(ref_w).max())
        for one, two in zip(*results):
            np.testing.assert_array_equal(one, two)

    @pytest.mark.parametrize("case", [  # N, C_in, C_out, (H, W), padding
        (5, 16, 12, (8, 8), 1),  # ResNet's first stage, 4 tiles a row
        (3, 19, 10, (5, 7), 1),  # cut tiles; channels not a multiple of the vector width
        (2, 9, 8, (6, 4), 0),
        (2, 12, 16, (3, 3), 2),  # more padding than input: tiles all padding but one row
        (4, 17, 16, (16, 16), ((0, 2), (1, 0))),  # 8 tiles a row (the most), asymmetric padding
    ])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("small_gemm", [0, choice.SMALL_GEMM])  # by U_xi, by U_xi^T
    def test_channels_innermost_input_transform(self, case, dtype, small_gemm, monkeypatch):
        # whole small images a step transform their input a vector of channels at a time: the
        # reference's values, the same bits on 1 and 2 threads, and the tile-row transform's
        # values (not its bits: the two layouts multiply by different GEMMs, (U^T)^T V^T against
        # U V, and OpenBLAS's AVX-512 small-matrix kernels sum those over C_in in different
        # orders)
        n, c_in, c_out, spatial, p = case
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in, 3, 3))
        b = rng.standard_normal(c_out)
        c = plan_module.Plan(x.astype(dtype), w.astype(dtype), 1, p, 1, 1, 2)
        images = choice.winograd_forward_images(c)
        assert images and choice.winograd_channels_inner(
            c, by_winograd._image_steps(c, images, choice.winograd_forward_tiles(c))[0])
        calls = []
        kernel = _winograd.forward_winograd
        monkeypatch.setattr(kernels.winograd, "forward_winograd",
                            lambda *args: calls.append(args[7:9]) or kernel(*args), raising=False)
        monkeypatch.setattr(choice, "GRAIN", 1)
        monkeypatch.setattr(choice, "SMALL_GEMM", small_gemm)
        results = []
        try:
            for threads, inner in ((1, 8), (2, 8), (1, 0)):
                convcore.set_num_threads(threads)
                monkeypatch.setattr(choice, "WINOGRAD_CHANNELS_INNER_TILES", inner)
                results.append(F.conv2d(x.astype(dtype), w.astype(dtype), b.astype(dtype),
                                        padding=p))
        finally:
            convcore.set_num_threads(None)
        by_input = small_gemm > 0
        assert calls == [(True, by_input), (True, by_input), (False, False)]
        tol = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(results[0], window_conv(x, w, b, _pads(p, 2)), rtol=tol,
                                   atol=tol)
        np.testing.assert_array_equal(results[0], results[1])
        np.testing.assert_allclose(results[2], results[0], rtol=tol / 100, atol=tol / 100)

    @pytest.mark.parametrize("case", [  # N, C_in, C_out, (H, W), padding
        (8, 16, 12, (8, 8), 1),  # ResNet's first stage, 4 tiles a row
        (6, 19, 10, (5, 7), 1),  # cut tiles; channels not a multiple of the vector width
        (4, 12, 16, (3, 3), 2),  # more padding than input
        (4, 17, 16, (16, 16), ((0, 2), (1, 0))),  # 8 tiles a row (the most), asymmetric padding
    ])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_channels_innermost_weight_gradient(self, case, dtype, monkeypatch):
        # the weight gradient of whole small images a step, its input transformed a vector of
        # channels at a time: the reference's values, the same bits on 1 and 2 threads, the
        # tile-row transform's values
        n, c_in, c_out, spatial, p = case
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in, 3, 3))
        gy = rng.standard_normal(window_conv(x, w, None, _pads(p, 2)).shape)
        win = np.lib.stride_tricks.sliding_window_view(np.pad(x, [(0, 0)] * 2 + _pads(p, 2)),
                                                       (3, 3), axis=(2, 3))
        ref = np.einsum("nopq,ncpqij->ocij", gy, win)
        monkeypatch.setattr(choice, "weight_grad_winograd", lambda c: (2, n // 2))
        calls = []
        kernel = _winograd.backward_weight_winograd
        monkeypatch.setattr(kernels.winograd, "backward_weight_winograd",
                            lambda *args: calls.append(args[-1]) or kernel(*args), raising=False)
        monkeypatch.setattr(choice, "GRAIN", 1)
        results = []
        try:
            for threads, inner in ((1, 8), (2, 8), (1, 0)):
                convcore.set_num_threads(threads)
                monkeypatch.setattr(choice, "WINOGRAD_CHANNELS_INNER_TILES", inner)
                results.append(F.conv2d_backward(gy.astype(dtype), x.astype(dtype),
                                                 w.astype(dtype), padding=p, need_input=False,
                                                 need_bias=False)[1])
        finally:
            convcore.set_num_threads(None)
        assert calls == [True, True, False]
        tol = 2e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(results[0], ref, rtol=tol, atol=tol * np.abs(ref).max())
        np.testing.assert_array_equal(results[0], results[1])
        np.testing.assert_allclose(results[2], results[0], rtol=tol, atol=tol * np.abs(ref).max())

    def test_images_per_step_depend_on_the_shapes_only(self, monkeypatch):
        monkeypatch.undo()  # the default thresholds

        def images(n, c, h):
            return choice.winograd_forward_images(plan_module.Plan(
                np.zeros((n, c, h, h), np.float32), np.zeros((c, c, 3, 3), np.float32), 1, 1, 1,
                1, 2))
        assert images(8, 64, 56) == 1  # 784 tiles: steps within the image
        assert images(32, 128, 8) == 2  # 16 tiles, at most 48 per step: 3, then 16 even steps of 2
        assert images(32, 512, 4) == 8  # 4 tiles (uncached weights: 32 tiles per step pay), 4 steps
        assert images(2, 512, 4) == 0  # a batch of 2: one image per step, too few tiles
        assert images(8, 64, 2) == 0  # one tile per image: im2col

    def test_one_and_two_threads_give_the_same_bits(self, monkeypatch, openmp):
        monkeypatch.setattr(choice, "GRAIN", 1)  # small as it is, use both threads
        x = rng.standard_normal((5, 16, 9, 10)).astype(np.float32)
        w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
        b = rng.standard_normal(16).astype(np.float32)
        gy = rng.standard_normal((5, 16, 9, 10)).astype(np.float32)
        results = []
        try:
            for threads in (1, 2):
                convcore.set_num_threads(threads)
                results.append((F.conv2d(x, w, b, padding=1),)
                               + F.conv2d_backward(gy, x, w, padding=1))
        finally:
            convcore.set_num_threads(None)
        for one, two in zip(*results):
            np.testing.assert_array_equal(one, two)

    @pytest.mark.parametrize("kw, shape, expected", [
        ({}, (16, 16, 3, 3), True),
        (dict(stride=2), (16, 16, 3, 3), False),
        (dict(dilation=2), (16, 16, 3, 3), False),
        (dict(groups=2), (16, 8, 3, 3), False),
        ({}, (16, 16, 5, 5), False),
        ({}, (4, 16, 3, 3), False),  # too few output channels
        ({}, (8, 8, 3, 3), True),
        ({}, (16, 3, 3, 3), False),  # too few input channels
    ])
    def test_used_only_where_it_applies(self, kw, shape, expected):
        c_in = shape[1] * kw.get("groups", 1)
        c = plan_module.Plan(np.zeros((1, c_in, 9, 9)), np.zeros(shape), kw.get("stride", 1), 2,
                              kw.get("dilation", 1), kw.get("groups", 1), 2)
        assert choice.use_winograd(c) is expected

    @pytest.mark.parametrize("shape, expected", [
        ((8, 512, 7, 7), False),  # 16 tiles per image, 16 MiB of transformed weights
        ((8, 512, 10, 10), True),  # 25 tiles
        ((8, 256, 14, 14), True),  # 49 tiles
        ((32, 64, 8, 8), True),  # 16 tiles, 256 KiB of weights that stay in cache
        ((32, 128, 4, 4), True),  # 4 tiles, 1 MiB
        ((32, 512, 4, 4), False),  # 4 tiles, 16 MiB
        ((32, 256, 2, 2), False),  # one tile
        ((32, 128, 3, 3), False),  # 4 tiles cut by the edge: 9 of their 16 outputs
        ((32, 128, 5, 5), True),  # 25 of 36
    ])
    def test_used_where_the_tiles_pay(self, shape, expected, monkeypatch):
        monkeypatch.undo()  # the default threshold
        c = plan_module.Plan(np.zeros(shape, np.float32), np.zeros((shape[1],) * 2 + (3, 3),
                              np.float32), 1, 1, 1, 1, 2)
        assert choice.use_winograd(c) is expected

    def test_kernel_refuses_other_geometries_and_shapes(self):
        x, w = np.zeros((1, 16, 6, 6)), np.zeros((16, 16, 3, 3))
        u, y, work = np.zeros((16, 16, 16)), np.zeros((1, 16, 36)), np.zeros((1, 100000))
        c = plan_module.Plan(x, w, 1, 1, 1, 1, 2)
        strided = plan_module.Plan(x, w, 2, 1, 1, 1, 2)
        with pytest.raises(ValueError, match="forward_winograd: the geometry is not a 3x3"):
            _winograd.forward_winograd(x.reshape(1, 16, 36), u, np.zeros(0), y, strided.geometry,
                                     1, 1, False, False, work, 1)
        with pytest.raises(ValueError, match="forward_winograd: array shapes do not match"):
            _winograd.forward_winograd(x.reshape(1, 16, 36), u, np.zeros(0), y, c.geometry, 1, 1,
                                     False, False, work[:, :100].copy(), 1)
        with pytest.raises(ValueError, match="forward_winograd: array shapes do not match"):
            # several images per step need steps that cover an image (3 rows of tiles here)
            _winograd.forward_winograd(x.reshape(1, 16, 36), u, np.zeros(0), y, c.geometry, 1, 2,
                                     False, False, work, 1)
        with pytest.raises(ValueError, match="forward_winograd: array shapes do not match"):
            # so does the transform with channels innermost, and it needs room for an image
            _winograd.forward_winograd(x.reshape(1, 16, 36), u, np.zeros(0), y, c.geometry, 1, 1,
                                       True, False, work, 1)
        with pytest.raises(ValueError, match="forward_winograd: bias must be empty or hold one"):
            _winograd.forward_winograd(x.reshape(1, 16, 36), u, np.zeros(3), y, c.geometry, 1, 1,
                                     False, False, work, 1)
        # by input channel, the transformed weights are (16, C_in, C_out): 16 -> 8 here, and
        # only with the input transformed channels innermost
        y8 = np.zeros((1, 8, 36))
        _winograd.forward_winograd(x.reshape(1, 16, 36), np.zeros((16, 16, 8)), np.zeros(0), y8,
                                   c.geometry, 3, 1, True, True, work, 1)
        with pytest.raises(ValueError, match="forward_winograd: array shapes do not match"):
            _winograd.forward_winograd(x.reshape(1, 16, 36), np.zeros((16, 8, 16)), np.zeros(0),
                                       y8, c.geometry, 3, 1, True, True, work, 1)
        with pytest.raises(ValueError, match="forward_winograd: array shapes do not match"):
            _winograd.forward_winograd(x.reshape(1, 16, 36), np.zeros((16, 16, 8)), np.zeros(0),
                                       y8, c.geometry, 3, 1, False, True, work, 1)
        gu = np.zeros((1, 16, 16, 16))
        with pytest.raises(ValueError, match="backward_weight_winograd: the geometry is not"):
            _winograd.backward_weight_winograd(y, x.reshape(1, 16, 36), gu, strided.geometry, 1,
                                             1, work, 1)
        with pytest.raises(ValueError, match="backward_weight_winograd: array shapes do not"):
            _winograd.backward_weight_winograd(y, x.reshape(1, 16, 36), gu[:, :, :8].copy(),
                                             c.geometry, 1, 1, work, 1)
        with pytest.raises(ValueError, match="backward_weight_winograd: grad_u must hold"):
            _winograd.backward_weight_winograd(y, x.reshape(1, 16, 36), np.zeros((2, 16, 16, 16)),
                                             c.geometry, 1, 1, work, 1)

class TestShallow:
    """1-D and 2-D convolutions with few input channels (first layers) run directly from packed
    bands of output rows (src/shallow.pyx), in register blocks of OB output channels by whole
    vectors of outputs: the cases cut both."""

    CASES = [  # nd, N, C_in, C_out, spatial, kernel, stride, padding, dilation, groups
        (2, 3, 1, 5, (28, 28), 5, 1, 2, 1, 1),  # the single-channel first layer, small
        (2, 2, 3, 9, (23, 21), 7, 2, 3, 1, 1),  # a stem: 3 channels 7x7 stride 2, odd sizes
        (2, 2, 3, 4, (9, 11), (3, 4), (2, 3), ((1, 0), (2, 1)), (2, 1), 1),  # asymmetric all
        (2, 1, 3, 17, (19, 17), 11, 4, 2, 1, 1),  # AlexNet's first layer, one image
        (2, 2, 3, 6, (9, 5), 5, 2, 0, 1, 1),  # strided, one output per row
        (2, 2, 6, 3, (7, 6), 5, 1, 0, 1, 1),  # LeNet's second layer: outputs < one vector
        (2, 2, 2, 8, (5, 70), (3, 5), 1, (1, 2), (1, 3), 1),  # wide rows, many vectors
        (2, 1, 8, 4, (6, 6), 3, 1, 1, 1, 1),  # the most input channels it takes
        (1, 3, 1, 6, (40,), 25, 1, 12, 1, 1),  # 1-D
        (1, 2, 3, 5, (31,), 9, 3, 4, 2, 1),  # 1-D, strided, dilated
        # one image whose whole band (182 KiB in float32) is larger than L1: its outputs run
        # run by run (shallow.h's CC_SH_L1_BYTES); with a band per row (21 KiB), block by block
        (2, 1, 3, 9, (64, 61), 7, 2, 3, 1, 1),
        # the output rows near the padding run apart with the kernel rows that meet the input:
        # whole rows of outputs in the padding (bias alone), taller padding than the kernel,
        # dilated and strided rows, and rows of the width of a vector (no part-filled vectors)
        (2, 2, 1, 5, (6, 7), 5, 1, 6, 1, 1),
        (2, 1, 3, 6, (12, 10), 5, 2, ((5, 1), (1, 0)), (2, 1), 1),
        (2, 2, 3, 10, (32, 32), 7, 2, 3, 1, 1),
    ]

    @pytest.mark.parametrize("case", CASES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("band_bytes", [1, 1 << 20])  # a band per row, or whole images
    def test_matches_reference(self, case, dtype, band_bytes, monkeypatch):
        monkeypatch.setattr(choice, "SHALLOW_BAND_BYTES", band_bytes)
        monkeypatch.setattr(choice, "SHALLOW_GRAIN", 1)  # small as they are, use both threads
        c_in, k, nd = case[2], case[5], case[0]
        assert choice.shallow(plan_module.Plan(
            np.zeros((1, c_in) + case[4]), np.zeros((1, c_in) + expand(k, nd)), case[6],
            case[7], case[8], 1, nd))
        calls = []
        monkeypatch.setattr(by_shallow, "forward", _spy(by_shallow.forward, calls))
        _matches_reference_on_one_and_two_threads(case, dtype)
        assert calls

    @pytest.mark.parametrize("case", CASES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("band_bytes", [1, 1 << 20])  # a band per row, or whole images
    def test_weight_grad_matches_reference(self, case, dtype, band_bytes, threaded, monkeypatch):
        """The weight gradient from the packed bands against the formula (a tap at a time), on
        1 to 3 threads with the same bits; the bias gradient and the others untouched."""
        monkeypatch.setattr(choice, "SHALLOW_BAND_BYTES", band_bytes)
        monkeypatch.setattr(choice, "SHALLOW_GRAIN", 1)
        calls = []
        monkeypatch.setattr(by_shallow, "weight_grad", _spy(by_shallow.weight_grad, calls))
        nd, n, c_in, c_out, spatial, k, s, p, d, _ = case
        x = rng.standard_normal((n, c_in) + spatial).astype(dtype)
        w = rng.standard_normal((c_out, c_in) + expand(k, nd)).astype(dtype)
        kw = dict(stride=s, padding=p, dilation=d)
        gy = rng.standard_normal(conv(nd)(x, w, **kw).shape).astype(dtype)
        _, ref = reference_conv_grads(x.astype(float), w.astype(float), gy.astype(float),
                                      expand(s, nd), _pads(p, nd), expand(d, nd))
        backward = getattr(F, f"conv{nd}d_backward")
        tol = 1e-5 if dtype == np.float32 else 1e-12
        grads = []
        try:
            for threads in (1, 2, 3):
                convcore.set_num_threads(threads)
                gx, gw, gb = backward(gy, x, w, need_input=False, need_bias=False, **kw)
                assert gx is None and gb is None and gw.dtype == dtype
                grads.append(gw)
        finally:
            convcore.set_num_threads(None)
        assert calls
        np.testing.assert_allclose(grads[0], ref, rtol=tol, atol=tol * np.abs(ref).max())
        for g in grads[1:]:
            np.testing.assert_array_equal(g, grads[0])

    def test_weight_grad_against_torch(self):
        """A ResNet stem and a 5x5 first layer on odd sizes: the weight gradient, with the other
        gradients, against PyTorch's autograd."""
        torch = pytest.importorskip("torch")
        for xs, ws, kw in (((3, 3, 29, 27), (10, 3, 7, 7), dict(stride=2, padding=3)),
                           ((5, 3, 17, 19), (7, 3, 5, 5), dict(stride=1, padding=2)),
                           ((2, 1, 13, 30), (9, 1, 5, 5), dict(stride=(1, 3), padding=(0, 2)))):
            x = rng.standard_normal(xs).astype(np.float32)
            w = rng.standard_normal(ws).astype(np.float32)
            gy = rng.standard_normal(F.conv2d(x, w, **kw).shape).astype(np.float32)
            tx, tw = (torch.from_numpy(a).requires_grad_() for a in (x, w))
            torch.nn.functional.conv2d(tx, tw, **kw).backward(torch.from_numpy(gy))
            gx, gw, _ = F.conv2d_backward(gy, x, w, **kw)
            scale = np.abs(tw.grad.numpy()).max()
            np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-4, atol=1e-5 * scale)
            np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-4, atol=1e-4)

    def test_forward_against_torch(self):
        """First layers whose output rows near the padding read fewer kernel rows (the
        benchmark's shapes, a smaller batch) against PyTorch's forward."""
        torch = pytest.importorskip("torch")
        for xs, ws, kw in (((4, 3, 32, 32), (64, 3, 7, 7), dict(stride=2, padding=3)),
                           ((4, 1, 28, 28), (32, 1, 5, 5), dict(padding=2)),
                           ((1, 3, 61, 58), (16, 3, 7, 7), dict(stride=2, padding=3)),
                           ((2, 3, 20, 17), (8, 3, 5, 5), dict(stride=(2, 1), padding=(4, 1),
                                                              dilation=(2, 1)))):
            x = rng.standard_normal(xs).astype(np.float32)
            w = rng.standard_normal(ws).astype(np.float32)
            b = rng.standard_normal(ws[0]).astype(np.float32)
            ref = torch.nn.functional.conv2d(*(torch.from_numpy(a) for a in (x, w, b)), **kw)
            np.testing.assert_allclose(F.conv2d(x, w, b, **kw), ref.numpy(), rtol=1e-4,
                                       atol=1e-4)

    @staticmethod
    def _weight_grad(module, c, gy, rows, off, threads, chunk, group, copy):
        """The partial sums (one per chunk of bands) of `module`'s weight_grad kernel for the
        plan `c` on `threads` threads, the scratch as weight_grad_work sizes it."""
        n, c_in, c_out = c.x.shape[0], c.x.shape[1], gy.shape[1]
        taps = c_in * c.weight.shape[2] * c.weight.shape[3]
        items = n * -(-int(c.geometry[1, 1]) // rows)
        partial = np.zeros((-(-items // chunk), c_out, taps), c.dtype)
        size = module.weight_grad_work(c.geometry, c_in, c_out, rows, chunk, group, c.x.itemsize)
        module.weight_grad(c.x.reshape(n, c_in, -1), gy.astype(c.dtype).reshape(n, c_out, -1),
                           off, partial, c.geometry, rows, np.empty((threads, size), c.dtype),
                           chunk, group, copy, threads)
        return partial

    def test_weight_grad_in_every_build_of_the_kernel(self):
        """The weight gradient of the baseline, AVX2 and AVX-512 builds (those this CPU runs)
        against the formula, with a band tail past the last whole vector."""
        from convcore import _cpu
        x = rng.standard_normal((2, 3, 13, 19))
        w = rng.standard_normal((6, 3, 5, 5))
        gy = rng.standard_normal((2, 6, 7, 19))
        _, ref = reference_conv_grads(x, w, gy, (2, 1), [(2, 2), (2, 2)], (1, 1))
        for module in _cpu.builds("shallow"):
            for dtype in (np.float32, np.float64):
                c = plan_module.Plan(x.astype(dtype), w.astype(dtype), (2, 1), 2, 1, 1, 2)
                rows, off, _ = by_shallow.layout(c, 1)
                partial = self._weight_grad(module, c, gy, rows, off, 1, 2 * -(-7 // rows), 1,
                                            True)
                tol = 1e-5 if dtype == np.float32 else 1e-12
                np.testing.assert_allclose(partial[0].reshape(w.shape), ref, rtol=tol,
                                           atol=tol * np.abs(ref).max(), err_msg=module.__name__)

    def test_weight_grad_groups_of_bands_give_the_same_bits(self):
        """Bands packed and run together (the sums carried in registers across a group, and in
        memory from group to group) in every build: chunks of 5 bands (one part-filled), in
        groups of 1 to 5, from grad_output or from an aligned copy of it, against the formula
        and with the same bits for every group; bands with a tail past the last whole vector
        and a block of channels part-filled."""
        from convcore import _cpu
        own = np.random.default_rng(5)  # (the module's generator feeds the tests after this)
        x = own.standard_normal((3, 3, 13, 19))
        w = own.standard_normal((6, 3, 5, 5))
        gy = own.standard_normal((3, 6, 7, 19))
        _, ref = reference_conv_grads(x, w, gy, (2, 1), [(2, 2), (2, 2)], (1, 1))
        for module in _cpu.builds("shallow"):
            for dtype in (np.float32, np.float64):
                c = plan_module.Plan(x.astype(dtype), w.astype(dtype), (2, 1), 2, 1, 1, 2)
                rows, off, _ = by_shallow.layout(c, 8)  # 3 rows a band, 3 bands an image
                assert -(-7 // rows) == 3
                partials = []
                for group, copy in itertools.product(range(1, 6), (False, True)):
                    partials.append(self._weight_grad(module, c, gy, rows, off, 2, 5, group, copy))
                tol = 1e-5 if dtype == np.float32 else 1e-12
                np.testing.assert_allclose(partials[0].sum(axis=0).reshape(w.shape), ref,
                                           rtol=tol, atol=tol * np.abs(ref).max(),
                                           err_msg=module.__name__)
                for p in partials[1:]:
                    np.testing.assert_array_equal(p, partials[0], err_msg=module.__name__)
                size = module.weight_grad_work(c.geometry, 3, 6, rows, 5, 2, c.x.itemsize)
                with pytest.raises(ValueError, match="weight_grad: work is too small"):
                    module.weight_grad(c.x.reshape(3, 3, -1), gy.astype(dtype).reshape(3, 6, -1),
                                       off, partials[0], c.geometry, rows,
                                       np.empty((2, size - 1), dtype), 5, 2, False, 2)

    def test_weight_grad_kernel_refuses_arrays_that_disagree(self):
        c = plan_module.Plan(np.zeros((2, 2, 6, 6)), np.zeros((3, 2, 3, 3)), 1, 1, 1, 1, 2)
        rows, off, size = by_shallow.layout(c, 1)
        x, gy = np.zeros((2, 2, 36)), np.zeros((2, 3, 36))
        work = np.zeros((1, _shallow.weight_grad_work(c.geometry, 2, 3, rows, 1, 1, 8)))
        _shallow.weight_grad(x, gy, off, np.zeros((2, 3, 18)), c.geometry, rows, work, 1, 1, True,
                             1)
        with pytest.raises(ValueError, match="weight_grad: array shapes do not match"):
            _shallow.weight_grad(x, gy[:, :2].copy(), off, np.zeros((2, 3, 18)), c.geometry, rows,
                                 work, 1, 1, True, 1)
        with pytest.raises(ValueError, match="weight_grad: partial must hold one sum per chunk"):
            _shallow.weight_grad(x, gy, off, np.zeros((1, 3, 18)), c.geometry, rows, work, 1, 1,
                                 True, 1)
        with pytest.raises(ValueError, match="weight_grad: work is too small"):
            _shallow.weight_grad(x, gy, off, np.zeros((2, 3, 18)), c.geometry, rows,
                                 work[:, :size].copy(), 1, 1, True, 1)
        with pytest.raises(ValueError, match="weight_grad: a tap offset reaches past"):
            _shallow.weight_grad(x, gy, off + size, np.zeros((2, 3, 18)), c.geometry, rows, work,
                                 1, 1, True, 1)

    @pytest.mark.parametrize("threads", [1, 2, 3, 4])
    def test_any_thread_count_gives_the_same_bits(self, threads, threaded, monkeypatch):
        monkeypatch.setattr(choice, "SHALLOW_GRAIN", 1)
        x = rng.standard_normal((3, 3, 30, 26)).astype(np.float32)
        w = rng.standard_normal((10, 3, 5, 5)).astype(np.float32)
        one = F.conv2d(x, w, stride=(1, 2), padding=2)
        try:
            convcore.set_num_threads(threads)
            np.testing.assert_array_equal(F.conv2d(x, w, stride=(1, 2), padding=2), one)
            # one image on several threads: bands of output rows
            np.testing.assert_array_equal(F.conv2d(x[:1], w, stride=(1, 2), padding=2), one[:1])
        finally:
            convcore.set_num_threads(None)

    def test_numerical_gradients_through_it(self):
        x, w = rng.standard_normal((2, 3, 8, 9)), rng.standard_normal((4, 3, 5, 3))
        kw = dict(stride=(2, 1), padding=(2, 1))
        gy = rng.standard_normal(F.conv2d(x, w, **kw).shape)
        _numerical_and_on_one_and_two_threads(2, x, w, gy, kw)

    @pytest.mark.parametrize("nd, c_in, kernel, groups, expected", [
        (2, 1, 5, 1, True), (2, 3, 7, 1, True), (2, 3, 3, 1, True), (2, 8, 3, 1, True),
        (1, 1, 25, 1, True),
        (2, 1, 3, 1, False),  # K = 9: im2col, whose columns the weight gradient reuses
        (2, 1, 2, 1, False),  # K = 4
        (2, 16, 3, 1, False),  # many channels: im2col or Winograd
        (2, 4, 5, 2, False),  # grouped
        (3, 1, 3, 1, False),  # 3-D
    ])
    def test_used_where_it_pays(self, nd, c_in, kernel, groups, expected):
        c = plan_module.Plan(np.zeros((1, c_in) + (30,) * nd), np.zeros(
            (4, c_in // groups) + (kernel,) * nd), 1, 0, 1, groups, nd)
        assert choice.shallow(c) is expected

    @pytest.mark.parametrize("c_in, c_out, kernel, expected", [
        (3, 64, 7, True),  # ResNet's stem: 64 x 147 vector sums
        (1, 32, 5, True),
        (3, 64, 11, False),  # AlexNet's first layer: 64 x 363 sums, im2col as fast
        (8, 512, 3, False),
        (16, 8, 3, False),  # not a shallow layer
    ])
    def test_weight_grad_used_where_it_pays(self, c_in, c_out, kernel, expected, monkeypatch):
        c = plan_module.Plan(np.zeros((2, c_in, 20, 20)), np.zeros((c_out, c_in, kernel, kernel)),
                             1, 0, 1, 1, 2)
        assert choice.shallow_weight_grad(c) is expected
        calls = []
        monkeypatch.setattr(by_shallow, "weight_grad", _spy(by_shallow.weight_grad, calls))
        x = rng.standard_normal((1, c_in, kernel + 2, kernel + 1))
        w = rng.standard_normal((c_out, c_in, kernel, kernel))
        gy = rng.standard_normal((1, c_out, 3, 2))
        _, gw, _ = F.conv2d_backward(gy, x, w, need_input=False, need_bias=False)
        assert bool(calls) is expected
        np.testing.assert_allclose(gw, reference_conv_grads(x, w, gy, (1, 1), [(0, 0)] * 2,
                                                            (1, 1))[1], rtol=1e-10, atol=1e-10)

    def test_kernel_refuses_arrays_that_disagree_with_the_geometry(self):
        c = plan_module.Plan(np.zeros((1, 2, 6, 6)), np.zeros((3, 2, 3, 3)), 1, 1, 1, 1, 2)
        rows, off, size = by_shallow.layout(c, 1)
        pitch = (rows + 2) * 6  # (kh - 1) more input rows than output rows, 6 columns
        x, y = np.zeros((1, 2, 36)), np.zeros((1, 3, 36))
        w, b = np.zeros((3, 18)), np.zeros(3)
        work = np.zeros((1, size))
        assert size == 2 * 3 * pitch + _shallow.SLACK
        _shallow.forward(x, w, off, b, y, c.geometry, rows, work, 1)  # the arguments agree
        _shallow.forward(x, w, off, b[:0], y, c.geometry, rows, work, 1)  # no bias
        with pytest.raises(ValueError, match="forward: array shapes do not match"):
            _shallow.forward(x, w[:, :9].copy(), off[:9].copy(), b, y, c.geometry, rows, work, 1)
        with pytest.raises(ValueError, match="forward: array shapes do not match"):
            _shallow.forward(x, w[:2].copy(), off, b, y, c.geometry, rows, work, 1)
        with pytest.raises(ValueError, match="forward: array shapes do not match"):
            _shallow.forward(x, w, off, b[:1].copy(), y, c.geometry, rows, work, 1)
        with pytest.raises(ValueError, match="forward: work is too small"):
            _shallow.forward(x, w, off, b, y, c.geometry, rows, work[:, :20].copy(), 1)
        with pytest.raises(ValueError, match="forward: work is too small"):
            _shallow.forward(x, w, off, b, y, c.geometry, rows, work, 2)
        with pytest.raises(ValueError, match="forward: a tap offset reaches past"):
            _shallow.forward(x, w, off + pitch, b, y, c.geometry, rows, work, 1)

    def test_every_build_of_the_kernel(self):
        """The baseline, AVX2 and AVX-512 builds (those this CPU runs) give the reference's
        result: with any build CONVCORE_DISABLE_CPU_FEATURES may pick."""
        from convcore import _cpu
        x = rng.standard_normal((2, 3, 13, 40))
        w = rng.standard_normal((6, 3, 5, 5))
        b = rng.standard_normal(6)
        ref = reference_conv(x, w, b, (2, 1), [(2, 2), (2, 2)], (1, 1), 1)
        for module in _cpu.builds("shallow"):
            for dtype in (np.float32, np.float64):
                c = plan_module.Plan(x.astype(dtype), w.astype(dtype), (2, 1), 2, 1, 1, 2)
                rows, off, size = by_shallow.layout(c, 1)
                # the layout's scratch has the slack of the build in use: this build's instead
                size += module.SLACK - by_shallow.kernels.shallow.SLACK
                y = np.empty(c.out_shape, dtype)
                work = np.empty((1, size), dtype)
                module.forward(c.x.reshape(2, 3, -1), c.weight.reshape(6, 75), off,
                               b.astype(dtype), y.reshape(2, 6, -1), c.geometry, rows, work, 1)
                tol = 1e-5 if dtype == np.float32 else 1e-12
                np.testing.assert_allclose(y, ref, rtol=tol, atol=tol, err_msg=module.__name__)


def _spy(fn, calls):
    def spy(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)
    return spy


class TestLargerThanATile:
    """Images with more output positions than an im2col tile, split mid-row (the small cases
    above fit in one tile). Forward against sliding windows; gradients by linearity:
    sum(grad_y * conv(x, w)) == sum(grad_x * x) == sum(grad_w * w)."""

    @pytest.mark.parametrize("nd, x_shape, w_shape, kw", [
        (1, (3, 5, 700), (4, 5, 3), dict(padding=((2, 0),), dilation=2)),
        (2, (3, 32, 37, 41), (8, 32, 3, 3), dict(padding=1)),  # K = 288: 512-column tiles
        (2, (2, 4, 45, 50), (6, 2, 5, 4), dict(stride=(2, 1), padding=(2, 1), groups=2)),
        (3, (2, 3, 9, 10, 11), (2, 3, 2, 3, 3), dict(padding=1)),
    ])
    def test_forward_and_gradients(self, nd, x_shape, w_shape, kw):
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal(w_shape)
        y = conv(nd)(x, w, **kw)
        pads = _pads(kw.get("padding", 0), nd)
        stride, dilation = expand(kw.get("stride", 1), nd), expand(kw.get("dilation", 1), nd)
        groups = kw.get("groups", 1)
        xp = np.pad(x, [(0, 0), (0, 0)] + pads)
        span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, w_shape[2:]))
        win = np.lib.stride_tricks.sliding_window_view(xp, span, axis=tuple(range(2, 2 + nd)))
        win = win[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)]
        win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
        og, cg = w_shape[0] // groups, w_shape[1]
        taps = list(range(2 + nd, 2 + 2 * nd))  # window axes, after (n, c, *out)
        ref = np.concatenate([np.tensordot(win[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og],
                                           axes=([1] + taps, list(range(1, 2 + nd))))
                              for g in range(groups)], axis=-1)  # (n, *out, c_out)
        ref = np.moveaxis(ref, -1, 1)
        np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
        gy = rng.standard_normal(y.shape)
        gx, gw, _ = conv_backward(nd)(gy, x, w, **kw)
        total = np.sum(gy * y)
        assert np.sum(gx * x) == pytest.approx(total, rel=1e-9)
        assert np.sum(gw * w) == pytest.approx(total, rel=1e-9)


def _numerical_and_on_one_and_two_threads(nd, x, w, gy, kw):
    """The float64 gradients (returned) against numerical ones; in float32 on 1 and 2 threads,
    the same bits and close to them."""
    gx, gw, _ = conv_backward(nd)(gy, x, w, **kw)
    loss = lambda: float(np.sum(conv(nd)(x, w, **kw) * gy))  # noqa: E731
    np.testing.assert_allclose(gx, numerical_grad(loss, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, numerical_grad(loss, w), rtol=1e-6, atol=1e-8)
    outs = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            outs.append(conv_backward(nd)(gy.astype(np.float32), x.astype(np.float32),
                                          w.astype(np.float32), **kw)[:2])
    finally:
        convcore.set_num_threads(None)
    for one, two, ref in zip(*outs, (gx, gw)):
        assert one.dtype == np.float32
        np.testing.assert_array_equal(one, two)
        np.testing.assert_allclose(one, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    return gx, gw


class TestGradients:
    @pytest.mark.parametrize("case", [  # groups == C_in: the direct depthwise kernels
        (2, 3, 4, 4, (7, 6), 3, 1, 1, 1, 4),
        (2, 2, 3, 6, (9, 8), 3, 2, ((1, 0), (2, 1)), (1, 2), 3),  # multiplier 2, strided
        (2, 2, 2, 6, (5, 5), (2, 3), 1, 0, 1, 2),  # multiplier 3, even kernel
        (1, 3, 5, 5, (11,), 5, 3, 2, 1, 5),
        (3, 2, 2, 4, (4, 5, 3), 3, (2, 1, 1), 1, 1, 2),
        (2, 2, 2, 2, (3, 40), 3, 1, 1, 1, 2),  # wide rows: the weight gradient by im2col
    ])
    def test_depthwise_gradients(self, case, monkeypatch):
        # the convolution is linear in x and in w: <gy, conv(x, w)> = <grad_x, x> = <grad_w, w>;
        # and numerical gradients; float32 on 1 and 2 threads gives the same bits
        monkeypatch.setattr(choice, "GRAIN", 1)
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        kernel = expand(k, nd)
        kw = dict(stride=s, padding=p, dilation=d, groups=g)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in // g) + kernel)
        gy = rng.standard_normal(conv(nd)(x, w, **kw).shape)
        gx, gw = _numerical_and_on_one_and_two_threads(nd, x, w, gy, kw)
        total = np.sum(gy * conv(nd)(x, w, **kw))
        assert np.sum(gx * x) == pytest.approx(total, rel=1e-10)
        assert np.sum(gw * w) == pytest.approx(total, rel=1e-10)

    @pytest.mark.parametrize("groups", [1, 4])  # im2col, the depthwise kernels
    def test_unbatched_gradients_have_the_unbatched_shapes(self, groups):
        # an unbatched call's gradients are the batched call's with the batch axis dropped (the
        # depthwise input gradient used to lose its channel axis as well)
        x = rng.standard_normal((4, 5, 5))
        w = rng.standard_normal((4, 4 // groups, 3, 3))
        gy = rng.standard_normal((4, 3, 3))
        unbatched = F.conv2d_backward(gy, x, w, groups=groups)
        batched = F.conv2d_backward(gy[None], x[None], w, groups=groups)
        assert unbatched[0].shape == x.shape
        for one, many in zip(unbatched, batched):
            np.testing.assert_array_equal(one, many[0] if one.shape == x.shape else many)

    def test_depthwise_kernels_refuse_mismatched_shapes(self):
        from convcore._kernels import depthwise as _depthwise
        c = plan_module.Plan(np.zeros((2, 4, 5, 5)), np.zeros((8, 1, 3, 3)), 1, 1, 1, 4, 2)
        gy, x = np.zeros((2, 8, 25)), np.zeros((2, 4, 25))
        with pytest.raises(ValueError, match="depthwise backward_input: array shapes do not"):
            _depthwise.backward_input(gy, np.zeros((8, 9)), np.zeros((2, 4, 24)), c.geometry, 2, 1)
        with pytest.raises(ValueError, match="depthwise backward_weight: array shapes do not"):
            _depthwise.backward_weight(gy, x, np.zeros((8, 9)), c.geometry, 3, 1)
        _depthwise.backward_weight(gy, x, np.zeros((8, 9)), c.geometry, 2, 1)  # these fit

    @pytest.mark.parametrize("case", [CASES[i] for i in (1, 2, 4, 6, 7, 8, 11, 12, 13, 14)])
    def test_numerical_gradients(self, case):
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        kernel = expand(k, nd)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in // g) + kernel)
        b = rng.standard_normal(c_out)
        kw = dict(stride=s, padding=p, dilation=d, groups=g)
        gy = rng.standard_normal(conv(nd)(x, w, b, **kw).shape)
        gx, gw, gb = conv_backward(nd)(gy, x, w, **kw)
        loss = lambda xx, ww, bb: float(np.sum(conv(nd)(xx, ww, bb, **kw) * gy))
        np.testing.assert_allclose(gx, numerical_grad(lambda: loss(x, w, b), x), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gw, numerical_grad(lambda: loss(x, w, b), w), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gb, numerical_grad(lambda: loss(x, w, b), b), rtol=1e-6, atol=1e-8)

    @pytest.mark.parametrize("case", [
        (2, 5, 4, 6, (3, 3), 3, 2, 1, 1, 2),  # strided, groups: the input gradient by col2im
        (2, 7, 3, 5, (2, 2), 3, 1, 1, 1, 1),  # 2x2 maps, every tap reaches the input
        (2, 4, 6, 4, (1, 1), 3, 1, 1, 1, 1),  # 3x3 on 1x1: the centre tap only
        (2, 5, 3, 4, (2, 2), 3, 2, 1, 1, 1),  # stride 2 on 2x2: 2x2 of the 3x3 taps
        (2, 3, 2, 3, (2, 2), 5, 1, 2, 1, 1),  # 5x5 on 2x2: the middle 3x3
        (1, 5, 2, 3, (5,), 3, 2, 1, 1, 1),
        (3, 3, 2, 2, (1, 2, 1), 3, 1, 1, 1, 1),
    ])
    @pytest.mark.parametrize("images", [1, 2, 3])
    def test_gradients_of_small_maps(self, case, images, monkeypatch):
        # several images per GEMM (a short last one included) and the taps that meet only padding
        # left out: numerical gradients (zero for those taps), and float32 on 1 and 2 threads
        # gives the same bits
        monkeypatch.setattr(choice, "images_per_gemm", lambda K, L, batch: images)
        monkeypatch.setattr(choice, "GRAIN", 1)
        monkeypatch.setattr(dispatch, "input_grad_by_conv", lambda *args, **kwargs: None)
        monkeypatch.setattr(choice, "small_maps", lambda c: False)  # im2col, not dense
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        kw = dict(stride=s, padding=p, dilation=d, groups=g)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in // g) + expand(k, nd))
        gy = rng.standard_normal(conv(nd)(x, w, **kw).shape)
        _numerical_and_on_one_and_two_threads(nd, x, w, gy, kw)

    def test_kernels_refuse_too_little_work_for_the_images(self):
        c = plan_module.Plan(np.zeros((4, 2, 2, 2)), np.zeros((3, 2, 3, 3)), 1, 1, 1, 1, 2)
        gy, x = np.zeros((4, 3, 4)), np.zeros((4, 2, 4))
        work = np.zeros((1, 18 * (4 + _im2col.COLS_PAD)))  # one image's tile, not 8 images
        with pytest.raises(ValueError, match="backward_weight: work is too small for the images"):
            _im2col.backward_weight(gy, x, np.zeros((1, 3, 18)), c.geometry, 1, 4, work, 1, 8)
        with pytest.raises(ValueError, match="backward_input: work is too small for the images"):
            _im2col.backward_input(gy, np.zeros((3, 18)), x, c.geometry, 1, 4, work, 1, 8)

    @pytest.mark.parametrize("case", CASES + [(2, 2, 32, 8, (6, 7), (2, 3), 1, ((0, 2), (1, 0)), 2, 2),
                                      (2, 2, 16, 16, (7, 6), 3, 1, ((1, 0), (2, 1)), 1, 1)])  # Winograd
    def test_input_gradient_by_convolution_equals_col2im(self, case, monkeypatch):
        # stride 1: the input gradient runs as a convolution with flipped weights (deep layers)
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        kernel = expand(k, nd)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in // g) + kernel)
        kw = dict(stride=s, padding=p, dilation=d, groups=g)
        gy = rng.standard_normal(conv(nd)(x, w, **kw).shape)
        monkeypatch.setattr(choice, "MIN_CHANNELS_BY_CONV", 1)
        by_conv = conv_backward(nd)(gy, x, w, **kw, need_weight=False, need_bias=False)[0]
        monkeypatch.setattr(dispatch, "input_grad_by_conv", lambda *args, **kwargs: None)
        by_col2im = conv_backward(nd)(gy, x, w, **kw, need_weight=False, need_bias=False)[0]
        np.testing.assert_allclose(by_conv, by_col2im, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("c_in, expected", [(8, True), (4, False), (16, True)])
    def test_few_input_channels_by_convolution_only_if_winograd(self, c_in, expected, monkeypatch):
        # stride 1, 3x3, 16 output channels: fewer than 16 input channels go by convolution only
        # when it runs by Winograd (8 or more)
        calls = []
        by_conv = dispatch.input_grad_by_conv

        def spy(*args, **kwargs):
            calls.append(by_conv(*args, **kwargs))
            return calls[-1]
        monkeypatch.setattr(dispatch, "input_grad_by_conv", spy)
        x = rng.standard_normal((2, c_in, 12, 12))
        w = rng.standard_normal((16, c_in, 3, 3))
        gy = rng.standard_normal((2, 16, 12, 12))
        gx = F.conv2d_backward(gy, x, w, padding=1, need_weight=False, need_bias=False)[0]
        assert (calls[0] is not None) is expected
        monkeypatch.setattr(dispatch, "input_grad_by_conv", lambda *args, **kwargs: None)
        ref = F.conv2d_backward(gy, x, w, padding=1, need_weight=False, need_bias=False)[0]
        np.testing.assert_allclose(gx, ref, rtol=1e-12, atol=1e-12)

    def test_lecture_1d_backprop(self):
        # the slide's indices: o0 = F0 x0 + F1 x1, o1 = F0 x1 + F1 x2, so
        # dJ/dF1 = dJ/do0 x1 + dJ/do1 x2 is grad_w[..., 1] and dJ/dF0 = dJ/do0 x0 + dJ/do1 x1
        x0, x1, x2 = 0.5, -1.5, 2.0
        dj_do0, dj_do1 = 3.0, -0.25
        _, gw, _ = F.conv1d_backward([[[dj_do0, dj_do1]]], [[[x0, x1, x2]]], [[[0.7, -0.2]]])
        assert gw[0, 0, 0] == pytest.approx(dj_do0 * x0 + dj_do1 * x1)
        assert gw[0, 0, 1] == pytest.approx(dj_do0 * x1 + dj_do1 * x2)
        # the docstring's worked example: x = (1, 2, 3), dJ/do = (10, 100) -> dJ/dF1 = 320
        _, gw, _ = F.conv1d_backward([[[10.0, 100.0]]], [[[1.0, 2.0, 3.0]]], [[[0.5, 0.5]]])
        np.testing.assert_array_equal(gw[0, 0], [210.0, 320.0])

    def test_backward_docstring_uses_the_slide_indices(self):
        import doctest
        doc = F.conv1d_backward.__doc__
        assert "o_0 = F_0 x_0 + F_1 x_1" in doc and "grad_w[..., 1]" in doc
        examples = doctest.DocTestParser().get_examples(doc)
        assert any("320." in e.want for e in examples)

    def test_only_the_requested_gradients(self):
        x, w = rng.standard_normal((1, 1, 4, 4)), rng.standard_normal((1, 1, 2, 2))
        gy = np.ones((1, 1, 3, 3))
        gx, gw, gb = F.conv2d_backward(gy, x, w, need_input=False, need_bias=False)
        assert gx is None and gb is None and gw.shape == w.shape

    def test_float32_gradients_keep_dtype(self):
        x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
        w = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
        grads = F.conv2d_backward(np.ones((2, 2, 3, 3), np.float32), x, w)
        assert all(gr.dtype == np.float32 for gr in grads)


class TestSmallMaps:
    """Maps smaller than the kernel: the convolution as one dense matrix (src/_smallmaps.pyx)."""

    CASES = [  # nd, n, c_in, c_out, spatial, kernel, stride, padding, dilation
        (2, 3, 4, 5, (2, 2), 3, 1, 1, 1),  # ResNet's third stage on 32x32 images
        (2, 2, 3, 4, (2, 3), (3, 5), 1, (1, 2), 1),
        (2, 2, 2, 3, (2, 2), 5, 1, 2, 1),  # 5x5 on 2x2 (trimmed to the middle 3x3)
        (2, 3, 2, 3, (3, 3), 5, 2, 2, 1),  # strided
        (2, 2, 2, 3, (3, 3), 5, 1, ((2, 2), (3, 1)), 1),  # uneven padding
        (3, 2, 2, 3, (2, 2, 1), 3, 1, 1, 1),
        (3, 1, 2, 2, (2, 2, 2), 3, 1, 1, 1),
        (2, 3, 4, 5, (1, 1), 3, 1, 1, 1),  # 3x3 on 1x1: the centre taps (ResNet's last stage)
        (2, 2, 3, 4, (2, 2), 3, 2, 1, 1),  # stride 2 from 2x2 to 1x1
    ]
    # geometries the dense path does not take (dilated, 1-D, too many positions): the tap table
    # holds for them too
    OTHERS = [(2, 2, 3, 2, (2, 2), 3, 1, 2, 2), (1, 4, 3, 2, (3,), 7, 1, 3, 1),
              (2, 3, 2, 3, (3, 2), 5, 2, ((2, 1), (1, 2)), 1), (2, 1, 1, 1, (4, 5), 3, 2, 1, 2)]

    @pytest.mark.parametrize("case", CASES)
    def test_matches_reference_and_numerical_gradients(self, case, monkeypatch):
        # forward with bias against the loop from the formula; gradients against numerical ones;
        # float32 on 1 and 2 threads (every pass on both) gives the same bits
        from convcore.functional import _matmul
        for module, name in ((choice, "GRAIN"), (choice, "EXPAND_GRAIN"),
                             (_matmul, "_PARALLEL_WORK")):
            monkeypatch.setattr(module, name, 1)
        nd, n, c_in, c_out, spatial, k, s, p, d = case
        kw = dict(stride=s, padding=p, dilation=d)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in) + expand(k, nd))
        b = rng.standard_normal(c_out)
        c = plan_module.Plan(x, w, s, p, d, 1, nd)
        assert choice.small_maps(c)  # the dense path runs
        ref = reference_conv(x, w, b, expand(s, nd), _pads(p, nd), expand(d, nd), 1)
        np.testing.assert_allclose(conv(nd)(x, w, b, **kw), ref, rtol=1e-12, atol=1e-12)
        gy = rng.standard_normal(ref.shape)
        _numerical_and_on_one_and_two_threads(nd, x, w, gy, kw)
        assert conv_backward(nd)(gy, x, w, **kw, need_input=False)[0] is None

    def test_deep_layer_matches_reference(self, monkeypatch):
        # more output rows (C_out x L_out = 320) than one block of the product: M @ x^T runs in
        # blocks of rows, on 1 and 2 threads the same bits
        from convcore.functional import _matmul
        monkeypatch.setattr(choice, "shifted_images", lambda c: 0)  # (it would run by those)
        x = rng.standard_normal((3, 72, 2, 2))
        w = rng.standard_normal((80, 72, 3, 3))
        b = rng.standard_normal(80)
        c = plan_module.Plan(x, w, 1, 1, 1, 1, 2)
        assert choice.small_maps(c)  # the dense path runs
        ref = reference_conv(x, w, b, (1, 1), _pads(1, 2), (1, 1), 1)
        np.testing.assert_allclose(F.conv2d(x, w, b, padding=1), ref, rtol=1e-12, atol=1e-12)
        x32, w32 = x.astype(np.float32), w.astype(np.float32)
        outs = []
        for work in (1 << 40, 1):  # one thread, then every block on a thread of its own
            monkeypatch.setattr(_matmul, "_PARALLEL_WORK", work)
            outs.append(F.conv2d(x32, w32, padding=1))
        assert outs[0].flags.c_contiguous
        np.testing.assert_allclose(outs[0], ref - b[:, None, None], rtol=1e-4, atol=1e-3)
        np.testing.assert_array_equal(outs[0], outs[1])

    @pytest.mark.parametrize("case", CASES + OTHERS)
    def test_tap_table_by_definition(self, case):
        # output position p meets input position q through the tap t with, on every axis,
        # q = p * stride + t * dilation - padding_low
        nd, n, c_in, c_out, spatial, k, s, p, d = case
        c = plan_module.Plan(np.zeros((1, 1) + spatial), np.zeros((1, 1) + expand(k, nd)), s, p,
                              d, 1, nd)
        table = by_smallmaps.tap_table(tuple(map(tuple, c.geometry.T.tolist())))
        kernel, lows = c.weight.shape[2:], [lo for lo, _ in c.pads]
        outs, ins = list(itertools.product(*map(range, c.out_spatial))), list(
            itertools.product(*map(range, spatial)))
        taps = list(itertools.product(*map(range, kernel)))
        expected = np.full((len(outs), len(ins)), -1)
        for (i, o), (j, q) in itertools.product(enumerate(outs), enumerate(ins)):
            for t_index, t in enumerate(taps):
                if all(q[a] == o[a] * c.stride[a] + t[a] * c.dilation[a] - lows[a]
                       for a in range(nd)):
                    expected[i, j] = t_index
        np.testing.assert_array_equal(table, expected)

    @pytest.mark.parametrize("threads", [1, 2])
    def test_dense_matrix_by_definition(self, threads):
        # M[o * L_out + p, c * L_in + q] = w[o, c, tap[p, q]], zero where tap[p, q] is -1
        from convcore._kernels import smallmaps as _smallmaps
        w = rng.standard_normal((5, 3, 9)).astype(np.float32)
        tap = np.array([[4, -1, 0], [8, 2, -1]], np.int64)
        m = np.full((10, 9), np.nan, np.float32)
        _smallmaps.expand(w, tap, m, threads)
        expected = np.zeros((5, 2, 3, 3), np.float32)  # (o, p, c, q)
        for p, q in itertools.product(range(2), range(3)):
            if tap[p, q] >= 0:
                expected[:, p, :, q] = w[:, :, tap[p, q]]
        np.testing.assert_array_equal(m, expected.reshape(10, 9))

    @pytest.mark.parametrize("x_shape, w_shape, groups, dense", [
        ((32, 256, 2, 2), (256, 256, 3, 3), 1, True),
        ((32, 128, 4, 4), (128, 128, 3, 3), 1, False),  # 16 positions, 9 taps: im2col/Winograd
        ((32, 256, 2, 2), (256, 128, 3, 3), 2, False),  # grouped
        ((8, 3, 2, 2), (4, 3, 2, 2), 1, False),  # as many positions as taps
        ((32, 512, 1, 1), (512, 512, 3, 3), 1, True),
    ])
    def test_used_where_it_pays(self, x_shape, w_shape, groups, dense):
        c = plan_module.Plan(np.zeros(x_shape), np.zeros(w_shape), 1, 1, 1, groups, 2)
        assert choice.small_maps(c) == dense

    def test_kernels_refuse_mismatched_shapes(self):
        from convcore._kernels import smallmaps as _smallmaps
        tap = np.zeros((4, 4), np.int64)
        with pytest.raises(ValueError, match="expand: array shapes do not agree"):
            _smallmaps.expand(np.zeros((2, 3, 9)), tap, np.zeros((8, 11)), 1)
        with pytest.raises(ValueError, match="fold: array shapes do not agree"):
            _smallmaps.fold(np.zeros((8, 11)), tap, np.zeros((2, 3, 9)), 1)


def reference_conv_grads(x, w, gy, stride, pads, dilation):
    """(grad_x, grad_w) of an ungrouped convolution from the formula, a kernel tap at a time: tap
    t reads x_padded[n, c, o * stride + t * dilation] for every output o, so grad_w[:, :, t] sums
    gy times those values and grad_x gets gy @ w[:, :, t] added back where they came from."""
    nd = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    outs = gy.shape[2:]
    for tap in itertools.product(*map(range, w.shape[2:])):
        window = (Ellipsis,) + tuple(
            slice(t * d, t * d + s * (o - 1) + 1, s) for t, d, s, o in zip(tap, dilation, stride, outs))
        summed = [0] + list(range(2, nd + 2))  # the batch and the output positions
        gw[(slice(None), slice(None)) + tap] = np.tensordot(gy, xp[window], (summed, summed))
        gxp[window] += np.einsum("no...,oc->nc...", gy, w[(slice(None), slice(None)) + tap])
    crop = (Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, x.shape[2:]))
    return gxp[crop], gw


def _on_one_and_two_threads(fn):
    """[fn() on 1 thread, fn() on 2 threads], the thread setting restored after."""
    outs = []
    try:
        for threads in (1, 2):
            convcore.set_num_threads(threads)
            outs.append(fn())
    finally:
        convcore.set_num_threads(None)
    return outs


def _against_torch_on_one_and_two_threads(torch, x, w, b, gy, **conv_args):
    """The forward and both gradients of ``F.conv2d`` against PyTorch's autograd in float32,
    and the same bits on 1 and 2 threads."""
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **conv_args)
    ty.backward(torch.tensor(gy))
    outs = _on_one_and_two_threads(lambda: (F.conv2d(x, w, b, **conv_args),)
                                   + F.conv2d_backward(gy, x, w, **conv_args))
    for ours, two, theirs in zip(outs[0], outs[1], (ty, tx.grad, tw.grad, tb.grad)):
        theirs = theirs.detach().numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())
        np.testing.assert_array_equal(ours, two)


class TestOnePosition:
    """One input and one output position per image (1x1 maps): a dense layer over the
    channels by the one kernel tap that meets the input."""

    CASES = [  # nd, n, c_in, c_out, spatial, kernel, stride, padding, dilation, groups
        (2, 4, 20, 7, (1, 1), 1, 1, 0, 1, 1),
        (2, 40, 20, 7, (1, 1), 3, 1, 1, 1, 1),  # more images than the rows kernel takes
        (2, 3, 9, 5, (1, 1), (3, 2), 2, ((2, 0), (0, 1)), 1, 1),  # uneven padding: tap (2, 1)
        (2, 3, 9, 5, (1, 1), 1, 3, 1, 1, 1),  # no tap meets the input: the bias alone
        (1, 3, 9, 5, (1,), 5, 1, 2, 1, 1),
        (3, 3, 9, 5, (1, 1, 1), 3, 1, 1, 1, 1),
    ]

    @pytest.mark.parametrize("case", CASES)
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_matches_reference(self, case, dtype, monkeypatch):
        monkeypatch.setattr(choice, "GRAIN", 1)
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        c = plan_module.Plan(np.zeros((n, c_in) + spatial), np.zeros((c_out, c_in) + expand(k, nd)),
                             s, p, d, g, nd)
        assert choice.one_position(c)
        _matches_reference_on_one_and_two_threads(case, dtype)

    @pytest.mark.parametrize("n, c_in, c_out", [(32, 512, 512), (5, 37, 13), (1, 3, 6),
                                                 (4, 17, 4)])
    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_tap_read_in_place_has_the_bits_of_its_copy(self, n, c_in, c_out, dtype,
                                                        monkeypatch):
        # the tap is read from the weights a block of rows at a time (ResNet-34's 512 -> 512
        # layers on 1x1 maps): the bits of the dense layer on the tap copied out, on 1 and 2
        # threads, with and without a bias; output blocks of 4 rows with some left over, a
        # batch not a multiple of 4, input channels not a multiple of a vector
        from convcore.functional._matmul import linear
        monkeypatch.setattr(choice, "GRAIN", 1)
        x = rng.standard_normal((n, c_in, 1, 1)).astype(dtype)
        w = rng.standard_normal((c_out, c_in, 3, 3)).astype(dtype)
        for b in (None, rng.standard_normal(c_out).astype(dtype)):
            copied = linear(x.reshape(n, c_in), np.ascontiguousarray(w[:, :, 1, 1]), b, 1)
            ys = _on_one_and_two_threads(lambda: F.conv2d(x, w, b, padding=1))
            for y in ys:
                np.testing.assert_array_equal(y.reshape(n, c_out), copied)
            ref = x.reshape(n, c_in).astype(float) @ w[:, :, 1, 1].astype(float).T
            np.testing.assert_allclose(ys[0].reshape(n, c_out), ref + (0 if b is None else b),
                                       rtol=1e-4, atol=1e-4 * np.abs(ref).max())

    @pytest.mark.parametrize("w_shape", [(384, 832, 1, 1), (384, 192, 3, 3)])
    def test_against_torch_in_float32(self, w_shape, monkeypatch):
        # GoogLeNet's last inception block on 32x32 images: forward and both gradients against
        # PyTorch's autograd, the same bits on 1 and 2 threads
        torch = pytest.importorskip("torch")
        monkeypatch.setattr(choice, "GRAIN", 1)
        x = rng.standard_normal((32, w_shape[1], 1, 1)).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        gy = rng.standard_normal((32, w_shape[0], 1, 1)).astype(np.float32)
        _against_torch_on_one_and_two_threads(torch, x, w, b, gy, padding=w_shape[2] // 2)


class TestShifted:
    """Small maps between many channels: shifted GEMMs over images laid out batch innermost
    (src/shifted.pyx)."""

    CASES = [  # nd, n, c_in, c_out, spatial, kernel, stride, padding, dilation
        (2, 4, 16, 6, (4, 4), 3, 1, 1, 1),  # the digits network's second layer, smaller
        (2, 4, 16, 5, (2, 2), 3, 1, 1, 1),  # ResNet's third stage on 32x32 images
        (2, 4, 16, 3, (5, 2), (3, 2), 2, ((1, 0), (2, 1)), 1),  # strided, uneven padding
        (2, 4, 16, 3, (5, 4), 3, (2, 1), 1, 1),  # strided along H only: runs along W
        (2, 4, 17, 4, (6, 5), 3, 1, 0, (2, 1)),  # dilated, no padding
        (2, 4, 16, 4, (4, 4), 1, 2, 0, 1),  # a strided 1x1 shortcut
        # strided, the input laid out by phase: ResNet's stride-2 layer of its second stage,
        # a stride of 3 over maps not a multiple of it (short phases), 3-D
        (2, 4, 16, 5, (8, 8), 3, 2, 1, 1),
        (2, 4, 16, 3, (7, 5), 3, 3, 1, 1),
        (3, 4, 16, 3, (3, 4, 5), 3, 2, 1, 1),
        # outer taps that meet only padding (their weight gradient all zeros); 12 images in 4
        # chunks of 2 steps each (a chunk's first step writes, the next adds)
        (2, 12, 16, 3, (2, 2), 5, 1, 2, 1),
        (1, 4, 16, 4, (9,), 3, 1, 1, 1),
        (3, 4, 16, 3, (2, 3, 2), 3, 1, 1, 1),
    ]

    @pytest.mark.parametrize("case", CASES)
    def test_matches_reference(self, case, monkeypatch):
        # the forward with bias and both gradients against the formula in float64; in float32
        # close to them and the same bits on 1 and 2 threads; steps of 2 images, so that a thread
        # runs several and the weight gradient sums several chunks
        monkeypatch.setattr(choice, "GRAIN", 1)
        monkeypatch.setattr(choice, "SHIFTED_IMAGES", 2)
        nd, n, c_in, c_out, spatial, k, s, p, d = case
        kw = dict(stride=s, padding=p, dilation=d)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in) + expand(k, nd))
        b = rng.standard_normal(c_out)
        assert choice.shifted_images(plan_module.Plan(x, w, s, p, d, 1, nd)) == 2  # it runs
        # the weight gradient's partial sums are written whole (no zero fill first): old
        # values in their scratch must not show
        scratch.empty("shifted_partial", (1 << 16,), np.float64).fill(np.nan)
        ref = reference_conv(x, w, b, expand(s, nd), _pads(p, nd), expand(d, nd), 1)
        gy = rng.standard_normal(ref.shape)
        grads = reference_conv_grads(x, w, gy, expand(s, nd), _pads(p, nd), expand(d, nd))
        np.testing.assert_allclose(conv(nd)(x, w, b, **kw), ref, rtol=1e-12, atol=1e-12)
        for ours, exact in zip(conv_backward(nd)(gy, x, w, **kw),
                               grads + (gy.sum(axis=(0,) + tuple(range(2, nd + 2))),)):
            np.testing.assert_allclose(ours, exact, rtol=1e-12, atol=1e-12)
        x32, w32, b32, gy32 = (a.astype(np.float32) for a in (x, w, b, gy))
        outs = _on_one_and_two_threads(lambda: (conv(nd)(x32, w32, b32, **kw),)
                                       + conv_backward(nd)(gy32, x32, w32, **kw)[:2])
        for one, two, exact in zip(*outs, (ref,) + grads):
            assert one.dtype == np.float32
            np.testing.assert_array_equal(one, two)
            np.testing.assert_allclose(one, exact, rtol=1e-4, atol=1e-4 * np.abs(exact).max())

    @pytest.mark.parametrize("x_shape, w_shape, stride, padding, groups, images", [
        ((32, 32, 4, 4), (64, 32, 3, 3), 1, 1, 1, 16),  # the digits network
        ((32, 128, 4, 4), (128, 128, 3, 3), 1, 1, 1, 16),  # ResNet on 32x32: second stage
        ((32, 256, 2, 2), (256, 256, 3, 3), 1, 1, 1, 16),  # third stage
        ((32, 128, 4, 4), (256, 128, 1, 1), 2, 0, 1, 16),  # its strided shortcut
        ((12, 64, 4, 4), (64, 64, 3, 3), 1, 1, 1, 6),  # half the batch a step
        ((32, 64, 8, 8), (64, 64, 3, 3), 1, 1, 1, 0),  # 64 positions: Winograd
        ((32, 64, 8, 8), (128, 64, 3, 3), 2, 1, 1, 16),  # strided, by phase: 16 positions
        ((32, 64, 8, 8), (128, 64, 1, 1), 2, 0, 1, 0),  # 1x1 reads a quarter: im2col
        ((32, 256, 2, 2), (512, 256, 3, 3), 2, 1, 1, 0),  # one position: the dense matrix
        ((32, 128, 4, 4), (128, 128, 1, 1), 1, 0, 1, 0),  # 1x1: the input is the GEMM's operand
        ((32, 8, 4, 4), (64, 8, 3, 3), 1, 1, 1, 0),  # few input channels
        ((32, 64, 4, 4), (64, 32, 3, 3), 1, 1, 2, 0),  # grouped
        ((8, 16, 40, 40), (16, 16, 3, 3), 20, 1, 1, 0),  # a large input, few outputs
    ])
    def test_used_where_it_pays(self, x_shape, w_shape, stride, padding, groups, images):
        c = plan_module.Plan(np.zeros(x_shape), np.zeros(w_shape), stride, padding, 1, groups, 2)
        assert choice.shifted_images(c) == images

    @pytest.mark.parametrize("c_in, c_out, side, stride", [
        (32, 64, 4, 1),     # the digits network's 32 -> 64 layer on 4x4 maps
        (64, 128, 8, 2),    # ResNet's 64 -> 128 stride-2 layer on 8x8 maps (laid out by phase)
    ])
    def test_against_torch_in_float32(self, monkeypatch, c_in, c_out, side, stride):
        # forward and both gradients against PyTorch's autograd, the same bits on 1 and 2 threads
        torch = pytest.importorskip("torch")
        monkeypatch.setattr(choice, "GRAIN", 1)
        x = rng.standard_normal((32, c_in, side, side)).astype(np.float32)
        w = rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32)
        b = rng.standard_normal(c_out).astype(np.float32)
        gy = rng.standard_normal((32, c_out, side // stride, side // stride)).astype(np.float32)
        assert choice.shifted_images(plan_module.Plan(x, w, stride, 1, 1, 1, 2)) == 16
        _against_torch_on_one_and_two_threads(torch, x, w, b, gy, stride=stride, padding=1)

    @pytest.mark.parametrize("spatial, stride", [((7, 5), 3), ((5, 3), 1)])
    def test_layout_in_blocks_and_left_over(self, spatial, stride, monkeypatch):
        # steps of 6 images over maps of 35 and 15 positions: the batch-innermost copies move
        # blocks of four images at four positions and the rest one by one (float32), both
        # against the float64 formula, the same bits on 1 and 2 threads
        monkeypatch.setattr(choice, "GRAIN", 1)
        monkeypatch.setattr(choice, "SHIFTED_IMAGES", 6)
        x = rng.standard_normal((12, 16) + spatial)
        w = rng.standard_normal((5, 16, 3, 3))
        b = rng.standard_normal(5)
        assert choice.shifted_images(plan_module.Plan(x, w, stride, 1, 1, 1, 2)) == 6
        ref = reference_conv(x, w, b, (stride,) * 2, _pads(1, 2), (1, 1), 1)
        gy = rng.standard_normal(ref.shape)
        grads = reference_conv_grads(x, w, gy, (stride,) * 2, _pads(1, 2), (1, 1))
        x32, w32, b32, gy32 = (a.astype(np.float32) for a in (x, w, b, gy))
        outs = _on_one_and_two_threads(
            lambda: (F.conv2d(x32, w32, b32, stride, 1),)
            + F.conv2d_backward(gy32, x32, w32, stride, 1)[:2])
        for one, two, exact in zip(*outs, (ref,) + grads):
            np.testing.assert_array_equal(one, two)
            np.testing.assert_allclose(one, exact, rtol=1e-4, atol=1e-4 * np.abs(exact).max())

    @pytest.mark.parametrize("x_shape, w_shape, stride, by_winograd_forward", [
        ((32, 128, 4, 4), (128, 128, 3, 3), 1, True),  # ResNet's second stage on 32x32 images
        ((8, 64, 4, 4), (96, 64, 3, 3), 1, True),
        ((32, 32, 4, 4), (64, 32, 3, 3), 1, False),  # few input channels
        ((32, 256, 4, 4), (256, 256, 3, 3), 1, False),  # GEMMs too large for U_xi^T
        ((32, 128, 4, 4), (128, 128, 3, 3), 2, False),  # strided: not Winograd's
    ])
    def test_forward_by_winograd_where_faster(self, x_shape, w_shape, stride,
                                              by_winograd_forward, monkeypatch):
        # maps both engines take: the forward by Winograd where its GEMMs are small, against
        # PyTorch in float32 and the same bits on 1 and 2 threads; the gradients stay shifted
        torch = pytest.importorskip("torch")
        engines = []
        for name, module in (("winograd", by_winograd), ("shifted", by_shifted)):
            fn = module.forward
            monkeypatch.setattr(module, "forward",
                                lambda *a, fn=fn, name=name: engines.append(name) or fn(*a))
        monkeypatch.setattr(choice, "GRAIN", 1)
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        b = rng.standard_normal(w_shape[0]).astype(np.float32)
        assert choice.shifted_images(plan_module.Plan(x, w, stride, 1, 1, 1, 2))
        assert choice.winograd_over_shifted(
            plan_module.Plan(x, w, stride, 1, 1, 1, 2)) is by_winograd_forward
        one, two = _on_one_and_two_threads(lambda: F.conv2d(x, w, b, stride, 1))
        np.testing.assert_array_equal(one, two)
        assert engines == ["winograd" if by_winograd_forward else "shifted"] * 2
        theirs = torch.nn.functional.conv2d(*map(torch.from_numpy, (x, w, b)), stride=stride,
                                            padding=1).numpy()
        np.testing.assert_allclose(one, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


    @pytest.mark.parametrize("kernel, stride", [(1, 2), (3, 1)])
    def test_gradients_are_new_arrays(self, kernel, stride):
        # the weight gradient is summed in scratch kept between calls: what a call returns must
        # not change with the next call (a 1x1 kernel's sum has the gradient's layout already)
        x = rng.standard_normal((4, 16, 4, 4)).astype(np.float32)
        w = rng.standard_normal((8, 16, kernel, kernel)).astype(np.float32)
        gy = rng.standard_normal(F.conv2d(x, w, stride=stride, padding=kernel // 2).shape)
        first = F.conv2d_backward(gy, x, w, stride=stride, padding=kernel // 2)
        kept = [g.copy() for g in first]
        F.conv2d_backward(2 * gy, -x, w, stride=stride, padding=kernel // 2)
        for g, k in zip(first, kept):
            np.testing.assert_array_equal(g, k)

    def test_kernels_refuse_mismatched_shapes(self):
        from convcore._kernels import shifted as _shifted
        c = plan_module.Plan(np.zeros((2, 16, 4, 4)), np.zeros((4, 16, 3, 3)), 1, 1, 1, 1, 2)
        x, y = np.zeros((2, 16, 16)), np.zeros((2, 4, 16))
        wt, work = np.zeros((4, 9, 16)), np.zeros((1, 320))
        with pytest.raises(ValueError, match="forward: array shapes do not match"):
            _shifted.forward(x, wt[:, :8].copy(), np.zeros(0), y, c.geometry, 1, work, 1)
        with pytest.raises(ValueError, match="forward: array shapes do not match"):
            _shifted.forward(x, wt, np.zeros(0), y, c.geometry, 2, work, 1)  # work too small
        with pytest.raises(ValueError, match="forward: bias must be empty or hold one"):
            _shifted.forward(x, wt, np.zeros(3), y, c.geometry, 1, work, 1)
        with pytest.raises(ValueError, match="backward_input: array shapes do not match"):
            _shifted.backward_input(y, wt, np.zeros((2, 15, 16)), c.geometry, 1, work, 1)
        with pytest.raises(ValueError, match="backward_weight: array shapes do not match"):
            _shifted.backward_weight(y, x, np.zeros((1, 4, 9, 15)), c.geometry, 1, work, 1)
        with pytest.raises(ValueError, match="backward_weight: grad_wt must hold between 1"):
            _shifted.backward_weight(y, x, np.zeros((3, 4, 9, 16)), c.geometry, 1, work, 1)
        with pytest.raises(ValueError, match="by_tap: wt must have the shape"):
            _shifted.by_tap(np.zeros((4, 16, 9)), np.zeros((9, 16, 4)), 1)
        with pytest.raises(ValueError, match="from_taps: grad_wt must have the shape"):
            _shifted.from_taps(np.zeros((2, 9, 4, 16)), np.zeros((4, 9, 16)), 1)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("c_out, c_in, taps, chunks", [
        (64, 48, 9, 3),  # a 3x3 layer's weights, three partial sums
        (5, 300, 9, 1),  # more channels than a block of the sum
        (3, 4, 2500, 2),  # more taps than the sum's buffer holds (one channel at a time)
        (7, 1, 1, 4),
        (3, 7, 6, 2),  # channels and taps beyond the blocks of four swapped in registers
    ])
    def test_weight_reorders(self, dtype, c_out, c_in, taps, chunks):
        # the weights tap by tap, and the chunks' sum back in the weight's layout, against
        # NumPy's transposes and its sum in the same order (the same bits), on 1 and 2 threads
        from convcore._kernels import shifted as _shifted
        w = rng.standard_normal((c_out, c_in, taps)).astype(dtype)
        parts = rng.standard_normal((chunks, c_out, taps, c_in)).astype(dtype)
        total = parts[0].copy()
        for p in parts[1:]:
            total += p
        for threads in (1, 2):
            wt = np.full((c_out, taps, c_in), np.nan, dtype)
            _shifted.by_tap(w, wt, threads)
            np.testing.assert_array_equal(wt, w.transpose(0, 2, 1))
            grad_w = np.full((c_out, c_in, taps), np.nan, dtype)
            _shifted.from_taps(parts, grad_w, threads)
            assert grad_w.tobytes() == np.ascontiguousarray(total.transpose(0, 2, 1)).tobytes()


class TestPointwiseJoined:
    """1x1 stride-1 convolutions with large weights on small maps: images joined into one GEMM
    (copied there) rather than one GEMM per image reading its input in place."""

    @pytest.mark.parametrize("n, c_in, c_out, spatial", [
        (5, 6, 4, (2, 2)), (4, 3, 7, (1, 1)), (6, 4, 5, (3, 1))])
    def test_matches_reference(self, n, c_in, c_out, spatial, monkeypatch):
        # forward with bias (and the input gradient, which runs as a 1x1 convolution too) against
        # the formula in float64; in float32 close to it and the same bits on 1 and 2 threads
        monkeypatch.setattr(choice, "GRAIN", 1)
        monkeypatch.setattr(choice, "POINTWISE_JOIN_BYTES", 1)
        x = rng.standard_normal((n, c_in) + spatial)
        w = rng.standard_normal((c_out, c_in, 1, 1))
        b = rng.standard_normal(c_out)
        c = plan_module.Plan(x, w, 1, 0, 1, 1, 2)
        assert choice.join_pointwise(c) and choice.images_per_gemm(c_in, 1, n) > 1
        ref = reference_conv(x, w, b, (1, 1), ((0, 0), (0, 0)), (1, 1), 1)
        gy = rng.standard_normal(ref.shape)
        grad_x = reference_conv_grads(x, w, gy, (1, 1), ((0, 0), (0, 0)), (1, 1))[0]
        np.testing.assert_allclose(F.conv2d(x, w, b), ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(F.conv2d_backward(gy, x, w)[0], grad_x, rtol=1e-12,
                                   atol=1e-12)
        x32, w32, b32, gy32 = (a.astype(np.float32) for a in (x, w, b, gy))
        outs = _on_one_and_two_threads(lambda: (F.conv2d(x32, w32, b32),
                                                F.conv2d_backward(gy32, x32, w32)[0]))
        for one, two, exact in zip(*outs, (ref, grad_x)):
            assert one.dtype == np.float32
            np.testing.assert_array_equal(one, two)
            np.testing.assert_allclose(one, exact, rtol=1e-4, atol=1e-4 * np.abs(exact).max())

    @pytest.mark.parametrize("batch", [1, 2, 5])
    def test_with_a_bias_on_few_images(self, batch):
        # one image per GEMM: the bias is the kernel's to add (not a weight column), as for a
        # 1x1 layer read in place (GoogLeNet's 832 -> 256 layer on 2x2 maps, a batch of one)
        x = rng.standard_normal((batch, 832, 2, 2)).astype(np.float32)
        w = rng.standard_normal((256, 832, 1, 1)).astype(np.float32)
        b = rng.standard_normal(256).astype(np.float32)
        assert choice.join_pointwise(plan_module.Plan(x, w, 1, 0, 1, 1, 2))
        ref = np.einsum("oc,nchw->nohw", w[:, :, 0, 0].astype(float), x.astype(float))
        np.testing.assert_allclose(F.conv2d(x, w, b), ref + b[:, None, None], rtol=1e-4,
                                   atol=1e-4 * np.abs(ref).max())

    @pytest.mark.parametrize("x_shape, w_shape, joined", [
        ((32, 512, 2, 2), (512, 512, 1, 1), True),  # Xception's exit flow
        ((32, 512, 1, 1), (768, 512, 1, 1), True),  # ... on 1x1 maps
        ((32, 832, 1, 1), (384, 832, 1, 1), True),  # GoogLeNet's last inception block
        ((32, 832, 1, 1), (256, 832, 1, 1), True),
        ((32, 528, 2, 2), (256, 528, 1, 1), False),  # weights within L2: read in place
        ((32, 512, 8, 8), (512, 512, 1, 1), False),  # maps wide enough for a GEMM each
    ])
    def test_used_where_it_pays(self, x_shape, w_shape, joined):
        c = plan_module.Plan(np.zeros(x_shape, np.float32), np.zeros(w_shape, np.float32), 1, 0, 1,
                             1, 2)
        assert choice.join_pointwise(c) == joined

    def test_against_torch_in_float32(self, monkeypatch):
        # Xception's 512 -> 512 layer on 2x2 maps, forward and both gradients against PyTorch's
        # autograd, the same bits on 1 and 2 threads
        torch = pytest.importorskip("torch")
        monkeypatch.setattr(choice, "GRAIN", 1)
        x = rng.standard_normal((32, 512, 2, 2)).astype(np.float32)
        w = rng.standard_normal((512, 512, 1, 1)).astype(np.float32)
        b = rng.standard_normal(512).astype(np.float32)
        gy = rng.standard_normal((32, 512, 2, 2)).astype(np.float32)
        _against_torch_on_one_and_two_threads(torch, x, w, b, gy)


class TestAgainstTorch:
    @pytest.fixture(autouse=True)
    def _torch(self):
        # in a fixture, not the class body: a skip at import time would skip the whole module
        self.torch = pytest.importorskip("torch")

    @pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
    @pytest.mark.parametrize("case", CASES + [(2, 2, 4, 6, (7, 6), (2, 4), 1, "same", (1, 2), 2),
                                      (2, 3, 16, 24, (13, 12), 3, 1, 1, 1, 1),  # Winograd
                                      (2, 4, 16, 24, (2, 2), 3, 1, 1, 1, 1),  # dense matrix
                                      (2, 2, 3, 16, (40, 38), 7, 2, 3, 1, 1),  # shallow: a stem
                                      (2, 4, 1, 8, (28, 28), 5, 1, 2, 1, 1)])  # 1 channel 5x5
    def test_forward_and_backward(self, case):
        nd, n, c_in, c_out, spatial, k, s, p, d, g = case
        kernel = expand(k, nd)
        x = rng.standard_normal((n, c_in) + spatial).astype(np.float32)
        w = rng.standard_normal((c_out, c_in // g) + kernel).astype(np.float32)
        b = rng.standard_normal(c_out).astype(np.float32)
        tx, tw, tb = (self.torch.tensor(a, requires_grad=True) for a in (x, w, b))
        if isinstance(p, tuple) and isinstance(p[0], tuple):  # torch pads asymmetrically apart
            tin = self.torch.nn.functional.pad(tx, [v for pair in reversed(p) for v in pair])
            ty = getattr(self.torch.nn.functional, f"conv{nd}d")(tin, tw, tb, s, 0, d, g)
        else:
            ty = getattr(self.torch.nn.functional, f"conv{nd}d")(tx, tw, tb, s, p, d, g)
        gy = rng.standard_normal(ty.shape).astype(np.float32)
        ty.backward(self.torch.from_numpy(gy))
        kw = dict(stride=s, padding=p, dilation=d, groups=g)
        np.testing.assert_allclose(conv(nd)(x, w, b, **kw), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
        for ours, theirs in zip(conv_backward(nd)(gy, x, w, **kw), (tx, tw, tb)):
            np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-4, atol=1e-4)


class TestBadInput:
    x = np.zeros((1, 2, 5, 5))
    w = np.zeros((4, 2, 3, 3))

    @pytest.mark.parametrize("call, error, match", [
        (lambda x, w: F.conv2d(x[0, 0], w), ValueError, r"x must be 4-D"),
        (lambda x, w: F.conv2d(x, w[0]), ValueError, r"weight must be 4-D"),
        (lambda x, w: F.conv2d(x[:, :1], w), ValueError, r"x has 1 channels but weight expects 2"),
        (lambda x, w: F.conv2d(x, w[:3], groups=2), ValueError, r"groups=2 must divide the output"),
        (lambda x, w: F.conv2d(x, w, groups=0), ValueError, r"groups must be positive"),
        (lambda x, w: F.conv2d(x, w, stride=0), ValueError, r"stride must be positive, got 0"),
        (lambda x, w: F.conv2d(x, w, stride=-2), ValueError, r"stride must be positive"),
        (lambda x, w: F.conv2d(x, w, padding=-1), ValueError, r"padding must be >= 0"),
        (lambda x, w: F.conv2d(x, w, padding="full"), ValueError, r"padding must be an int, a tuple"),
        (lambda x, w: F.conv2d(x, w, stride=2, padding="same"), ValueError, r"'same' needs stride 1"),
        (lambda x, w: F.conv2d(x, w, dilation=(1, 0)), ValueError, r"dilation must be positive"),
        (lambda x, w: F.conv2d(x, w, stride=1.5), TypeError, r"stride must be an integer"),
        (lambda x, w: F.conv2d(x, np.zeros((1, 2, 6, 6))), ValueError, r"larger than the padded input"),
        (lambda x, w: F.conv2d(x, w, dilation=3), ValueError, r"larger than the padded input"),
        (lambda x, w: F.conv2d(np.zeros((1, 2, 0, 5)), w), ValueError, r"x must not be empty"),
        (lambda x, w: F.conv2d(x.astype(complex), w), TypeError, r"x must hold real numbers"),
        (lambda x, w: F.conv2d(x.astype(object), w), TypeError, r"x must hold real numbers"),
        (lambda x, w: F.conv2d(x, w.astype(complex)), TypeError, r"weight must hold real numbers"),
        (lambda x, w: F.conv2d(x, w, bias=np.zeros(3)), ValueError, r"bias must have shape \(4,\)"),
        (lambda x, w: F.conv2d_backward(np.zeros((1, 4, 2, 2)), x, w), ValueError,
         r"grad_output must have the output's shape \(1, 4, 3, 3\)"),
        (lambda x, w: F.conv2d_backward(np.zeros((1, 4, 3, 3), complex), x, w), TypeError,
         r"grad_output must hold real numbers"),
        (lambda x, w: F.conv2d(x, w, bias=np.zeros(4, complex)), TypeError,
         r"bias must hold real numbers"),
        (lambda x, w: F.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 1, 3, 3)), groups=2), ValueError,
         r"x has 3 channels but weight expects 1 x groups=2 = 2"),
        (lambda x, w: F.conv2d(x, np.zeros((4, 2, 0, 3))), ValueError, r"weight must not be empty"),
        (lambda x, w: F.conv2d(x, w, stride=(1, 1, 1)), ValueError,
         r"stride must be an int or a sequence of 2 ints"),
        (lambda x, w: F.conv2d(x, w, padding=((1, 1), (1, 2, 3))), ValueError,
         r"padding must hold \(low, high\) pairs"),
        (lambda x, w: F.conv2d(x, w, padding=((1, -1), (0, 0))), ValueError, r"padding must be >= 0"),
        (lambda x, w: F.conv1d(x, w), ValueError, r"x must be 3-D \(N, C_in, \*spatial\) or 2-D"),
        (lambda x, w: F.conv3d(x[None], w), ValueError, r"weight must be 5-D"),
    ])
    def test_clear_errors(self, call, error, match):
        with pytest.raises(error, match=match):
            call(self.x, self.w)
