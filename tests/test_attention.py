"""Self-attention: a NumPy reference written per head, numerical gradients and PyTorch."""
import numpy as np
import pytest
from gradcheck import numerical_grad

from convcore.functional import self_attention, self_attention_backward

rng = np.random.default_rng(3)


def params(embed, bias=True):
    return (rng.standard_normal((3 * embed, embed)) * 0.5, rng.standard_normal(3 * embed) if bias else None,
            rng.standard_normal((embed, embed)) * 0.5, rng.standard_normal(embed) if bias else None)


def reference(x, w_in, b_in, w_out, b_out, heads):
    """Loop over sequences and heads: softmax(q k^T / sqrt(d)) v, then the output projection."""
    n, length, embed = x.shape
    d = embed // heads
    b_in = np.zeros(3 * embed) if b_in is None else b_in
    b_out = np.zeros(embed) if b_out is None else b_out
    y = np.zeros_like(x)
    for s in range(n):
        q, k, v = np.split(x[s] @ w_in.T + b_in, 3, axis=1)
        heads_out = []
        for h in range(heads):
            cols = slice(h * d, (h + 1) * d)
            scores = q[:, cols] @ k[:, cols].T / np.sqrt(d)
            weights = np.exp(scores - scores.max(axis=1, keepdims=True))
            weights /= weights.sum(axis=1, keepdims=True)
            heads_out.append(weights @ v[:, cols])
        y[s] = np.concatenate(heads_out, axis=1) @ w_out.T + b_out
    return y


@pytest.mark.parametrize("n, length, embed, heads, bias", [(2, 5, 8, 2, True), (1, 1, 4, 1, True),
                                                           (3, 7, 6, 3, False), (2, 16, 8, 4, True)])
def test_matches_reference(n, length, embed, heads, bias):
    x = rng.standard_normal((n, length, embed))
    p = params(embed, bias)
    np.testing.assert_allclose(self_attention(x, *p, heads), reference(x, *p, heads), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_numerical_gradients(bias):
    x = rng.standard_normal((2, 4, 6))
    p = list(params(6, bias))
    gy = rng.standard_normal(x.shape)
    y, cache = self_attention(x, *p, 2, return_cache=True)
    grads = self_attention_backward(gy, cache)
    loss = lambda: float(np.sum(self_attention(x, *p, 2) * gy))
    np.testing.assert_allclose(grads[0], numerical_grad(loss, x), rtol=1e-5, atol=1e-8)
    for g, a in zip(grads[1:], p):
        if a is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, numerical_grad(loss, a), rtol=1e-5, atol=1e-8)


def test_against_torch_multihead_attention():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 9, 8)).astype(np.float32)
    layer = torch.nn.MultiheadAttention(8, 4, batch_first=True)
    tx = torch.tensor(x, requires_grad=True)
    ty, _ = layer(tx, tx, tx, need_weights=False)
    gy = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.from_numpy(gy))
    s = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    p = (s["in_proj_weight"], s["in_proj_bias"], s["out_proj.weight"], s["out_proj.bias"])
    y, cache = self_attention(x, *p, 4, return_cache=True)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = self_attention_backward(gy, cache)
    expected = (tx.grad, layer.in_proj_weight.grad, layer.in_proj_bias.grad,
                layer.out_proj.weight.grad, layer.out_proj.bias.grad)
    for ours, theirs in zip(g, expected):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda p: self_attention(np.zeros((2, 3)), *p, 2), ValueError, r"x must be 3-D"),
    (lambda p: self_attention(np.zeros((1, 2, 4)), *p, 3), ValueError, r"num_heads=3 must divide"),
    (lambda p: self_attention(np.zeros((1, 2, 4)), *p, 0), ValueError, r"num_heads must be positive"),
    (lambda p: self_attention(np.zeros((1, 2, 4)), p[0][:4], *p[1:], 2), ValueError,
     r"in_proj_weight must have shape \(12, 4\)"),
    (lambda p: self_attention(np.zeros((1, 2, 4), complex), *p, 2), TypeError, r"x must hold real"),
    (lambda p: self_attention_backward(np.zeros((1, 3, 4)),
                                       self_attention(np.zeros((1, 2, 4)), *p, 2, return_cache=True)[1]),
     ValueError, r"grad_output must have shape \(1, 2, 4\)"),
])
def test_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(params(4))
