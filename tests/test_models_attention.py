"""Self-attention layers (convcore.nn.MultiheadSelfAttention, SpatialSelfAttention): a per-head
NumPy reference, numerical gradients, torch.nn.MultiheadAttention's names and outputs."""
import numpy as np
import pytest
from gradcheck import numerical_grad

from convcore import nn
from convcore.nn import MultiheadSelfAttention, SpatialSelfAttention


def reference(x, layer):
    """Per-sequence, per-head loop written from the formula."""
    e, h = layer.embed_dim, layer.num_heads
    d = e // h
    w_in, b_in = layer.in_proj_weight.data, layer.in_proj_bias.data
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        q, k, v = np.split(x[n] @ w_in.T + b_in, 3, axis=1)
        heads = []
        for i in range(h):
            s = slice(i * d, (i + 1) * d)
            scores = q[:, s] @ k[:, s].T / np.sqrt(d)
            a = np.exp(scores - scores.max(axis=1, keepdims=True))
            a /= a.sum(axis=1, keepdims=True)
            heads.append(a @ v[:, s])
        out[n] = np.concatenate(heads, axis=1) @ layer.out_proj.weight.data.T + layer.out_proj.bias.data
    return out


def randomize(layer, rng):
    for _, p in layer.named_parameters():
        p.data = rng.standard_normal(p.shape).astype(p.dtype) * 0.5


def test_sequence_attention_matches_reference():
    rng = np.random.default_rng(0)
    layer = MultiheadSelfAttention(6, num_heads=3, dtype=np.float64)
    randomize(layer, rng)
    x = rng.standard_normal((2, 5, 6))
    np.testing.assert_allclose(layer(x), reference(x, layer), rtol=1e-12, atol=1e-12)


def test_spatial_attention_treats_pixels_as_positions():
    rng = np.random.default_rng(1)
    layer = SpatialSelfAttention(4, num_heads=2, dtype=np.float64)
    randomize(layer, rng)
    x = rng.standard_normal((2, 4, 3, 2))
    seq = x.reshape(2, 4, 6).transpose(0, 2, 1)
    expected = reference(seq, layer).transpose(0, 2, 1).reshape(x.shape)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls, shape", [(MultiheadSelfAttention, (2, 4, 4)),
                                        (SpatialSelfAttention, (2, 4, 2, 3))])
def test_gradients(cls, shape):
    rng = np.random.default_rng(2)
    layer = cls(4, 2, dtype=np.float64)
    randomize(layer, rng)
    x = rng.standard_normal(shape)
    r = rng.standard_normal(shape)

    def loss():
        return float(np.sum(layer.forward(x) * r))

    layer.forward(x)
    gx = layer.backward(r)
    np.testing.assert_allclose(gx, numerical_grad(loss, x), rtol=1e-5, atol=1e-8)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, numerical_grad(loss, p.data), rtol=1e-5, atol=1e-8,
                                   err_msg=name)


def test_frozen_and_config():
    layer = SpatialSelfAttention(4, 2, bias=False)
    assert [n for n, _ in layer.named_parameters()] == ["in_proj_weight", "out_proj.weight"]
    layer.out_proj.trainable = False
    x = np.ones((1, 4, 2, 2), dtype=np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    layer.backward(np.ones_like(y))
    assert layer.in_proj_weight.grad is not None and layer.out_proj.weight.grad is None
    clone = nn.deserialize(nn.serialize(layer))
    assert type(clone) is SpatialSelfAttention and repr(clone) == repr(layer)


def test_errors():
    with pytest.raises(ValueError, match="num_heads=3 must divide embed_dim=4"):
        MultiheadSelfAttention(4, 3)
    with pytest.raises(ValueError, match=r"x must be \(N, L, 4\)"):
        MultiheadSelfAttention(4, 2)(np.zeros((2, 3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"x must be \(N, 4, H, W\)"):
        SpatialSelfAttention(4, 2)(np.zeros((2, 3, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="backward called before forward"):
        MultiheadSelfAttention(4, 2).backward(np.zeros((1, 1, 4), dtype=np.float32))


def test_state_dict_fits_torch_multihead_attention():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    layer = SpatialSelfAttention(8, 2)
    state = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    layer.load_state_dict(state)
    x = np.random.default_rng(3).standard_normal((2, 8, 3, 3)).astype(np.float32)
    seq = torch.from_numpy(x.reshape(2, 8, 9).transpose(0, 2, 1).copy())
    expected = ref(seq, seq, seq, need_weights=False)[0].detach().numpy()
    np.testing.assert_allclose(layer(x), expected.transpose(0, 2, 1).reshape(x.shape),
                               rtol=1e-4, atol=1e-5)
