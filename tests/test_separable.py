"""Depthwise, point and separable convolution layers: a NumPy-loop reference, numerical gradients,
frozen parameters, configs and (when installed) PyTorch."""
import numpy as np
import pytest
from gradcheck import numerical_grad

from convcore import nn
from convcore.nn import DepthwiseConv2d, PointConv2d, SeparableConv2d


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Tiny convolutions called thousands of times run fastest on one thread (no team start-up)."""
    from convcore import _threads
    monkeypatch.setattr(_threads, "_setting", 1)


def check_gradients(layer, x, rtol=1e-5, atol=1e-7):
    """Compare backward's input and parameter gradients of sum(y * r) with central differences."""
    rng = np.random.default_rng(1)
    r = rng.standard_normal(layer.forward(x).shape)

    def loss():
        return float(np.sum(layer.forward(x) * r))

    layer.zero_grad()
    layer.forward(x)
    gx = layer.backward(r)
    np.testing.assert_allclose(gx, numerical_grad(loss, x), rtol=rtol, atol=atol)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, numerical_grad(loss, p.data), rtol=rtol, atol=atol,
                                   err_msg=name)


def depthwise_reference(x, w, b, stride, pad, m):
    n, c, h, wd = x.shape
    k = w.shape[-1]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, c * m, oh, ow))
    for o in range(c * m):
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, o // m, i * stride:i * stride + k, j * stride:j * stride + k]
                y[:, o, i, j] = (patch * w[o, 0]).sum(axis=(1, 2)) + b[o]
    return y


@pytest.mark.parametrize("stride, pad, m", [(1, 1, 1), (2, 0, 2), (1, 2, 3)])
def test_depthwise_matches_loop(stride, pad, m):
    rng = np.random.default_rng(0)
    layer = DepthwiseConv2d(3, 3, stride=stride, padding=pad, depth_multiplier=m, dtype=np.float64)
    layer.bias.data = rng.standard_normal(layer.bias.shape)
    x = rng.standard_normal((2, 3, 7, 6))
    y = layer(x)
    np.testing.assert_allclose(y, depthwise_reference(x, layer.weight.data, layer.bias.data,
                                                      stride, pad, m), rtol=1e-12, atol=1e-12)
    assert y.shape == layer.output_shape(x.shape)
    assert layer.weight.shape == (3 * m, 1, 3, 3)


def test_depthwise_gradients():
    rng = np.random.default_rng(2)
    layer = DepthwiseConv2d(2, 3, stride=2, padding=1, depth_multiplier=2, dtype=np.float64)
    layer.bias.data = rng.standard_normal(4)
    check_gradients(layer, rng.standard_normal((2, 2, 5, 5)))


def test_point_matches_einsum_and_strides():
    rng = np.random.default_rng(3)
    layer = PointConv2d(4, 5, stride=2, dtype=np.float64)
    layer.bias.data = rng.standard_normal(5)
    x = rng.standard_normal((3, 4, 5, 6))
    w = layer.weight.data[:, :, 0, 0]
    expected = np.einsum("oc,nchw->nohw", w, x[:, :, ::2, ::2]) + layer.bias.data[:, None, None]
    y = layer(x)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert y.shape == layer.output_shape(x.shape) == (3, 5, 3, 3)


@pytest.mark.parametrize("stride", [1, 2])
def test_point_gradients(stride):
    rng = np.random.default_rng(4)
    layer = PointConv2d(3, 2, stride=stride, dtype=np.float64)
    layer.bias.data = rng.standard_normal(2)
    check_gradients(layer, rng.standard_normal((2, 3, 5, 4)))


def test_point_float32_keeps_dtype():
    layer = PointConv2d(3, 2)
    y = layer(np.ones((1, 3, 2, 2), dtype=np.float32))
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert layer.weight.grad.dtype == np.float32


def test_separable_gradients_and_names():
    rng = np.random.default_rng(5)
    layer = SeparableConv2d(3, 4, 3, padding=1, dtype=np.float64)
    layer.pointwise.bias.data = rng.standard_normal(4)
    assert [n for n, _ in layer.named_parameters()] == [
        "depthwise.weight", "pointwise.weight", "pointwise.bias"]
    check_gradients(layer, rng.standard_normal((2, 3, 4, 4)))
    assert layer.output_shape((2, 3, 4, 4)) == (2, 4, 4, 4)


def test_separable_equals_dense_conv_with_factored_kernel():
    rng = np.random.default_rng(6)
    sep = SeparableConv2d(2, 3, 3, dtype=np.float64)
    dense = nn.Conv2d(2, 3, 3, dtype=np.float64)
    dw = sep.depthwise.weight.data[:, 0]           # (C_in, 3, 3)
    pw = sep.pointwise.weight.data[:, :, 0, 0]     # (C_out, C_in)
    dense.weight.data = np.einsum("oc,chw->ochw", pw, dw)
    dense.bias.data = sep.pointwise.bias.data.copy()
    x = rng.standard_normal((2, 2, 6, 6))
    np.testing.assert_allclose(sep(x), dense(x), rtol=1e-12, atol=1e-12)


def test_frozen_layers_accumulate_nothing():
    layer = SeparableConv2d(2, 2, 3, padding=1, dtype=np.float64)
    layer.depthwise.trainable = False
    x = np.ones((1, 2, 3, 3))
    layer.backward(np.ones_like(layer(x)))
    assert layer.depthwise.weight.grad is None and layer.pointwise.weight.grad is not None


def test_configs_rebuild_layers():
    for layer in (DepthwiseConv2d(4, 3, stride=2, padding=1, depth_multiplier=2),
                  PointConv2d(3, 5, stride=2, bias=False), SeparableConv2d(3, 6, 5, padding=2)):
        clone = nn.deserialize(nn.serialize(layer))
        assert type(clone) is type(layer)
        assert {k: v.shape for k, v in clone.state_dict().items()} == \
            {k: v.shape for k, v in layer.state_dict().items()}
        assert repr(clone) == repr(layer)


def test_errors():
    with pytest.raises(ValueError, match="depth_multiplier must be positive"):
        DepthwiseConv2d(3, 3, depth_multiplier=0)
    with pytest.raises(ValueError, match="out_channels must be positive"):
        PointConv2d(3, 0)
    with pytest.raises(ValueError, match="PointConv2d: x must have 3 channels"):
        PointConv2d(3, 2)(np.zeros((1, 2, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"PointConv2d: x must be 4-D \(N, C, H, W\)"):
        PointConv2d(3, 2)(np.zeros((3, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="grad_output must have the output's shape"):
        layer = PointConv2d(3, 2)
        layer(np.zeros((1, 3, 4, 4), dtype=np.float32))
        layer.backward(np.zeros((1, 2, 3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="init must be one of"):
        PointConv2d(3, 2, init="zeros")


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    sep = SeparableConv2d(4, 6, 3, stride=2, padding=1)
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    dw = torch.nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4, bias=False)
    pw = torch.nn.Conv2d(4, 6, 1)
    with torch.no_grad():
        dw.weight.copy_(torch.from_numpy(sep.depthwise.weight.data))
        pw.weight.copy_(torch.from_numpy(sep.pointwise.weight.data))
        pw.bias.copy_(torch.from_numpy(sep.pointwise.bias.data))
    xt = torch.from_numpy(x).requires_grad_()
    yt = pw(dw(xt))
    y = sep(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    yt.backward(torch.from_numpy(g))
    gx = sep.backward(g)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(sep.depthwise.weight.grad, dw.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sep.pointwise.weight.grad, pw.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
