"""Multi-head scaled dot-product self-attention, forward and backward.

Self-attention lets every position of a sequence (or of a feature map, its pixels taken as a
sequence) look at every other one: for each head ``h``::

    Q, K, V = X W_q^T + b_q, X W_k^T + b_k, X W_v^T + b_v          (split into heads of size d)
    A_h = softmax(Q_h K_h^T / sqrt(d))                              (L x L attention weights)
    Y = concat_h(A_h V_h) W_o^T + b_o

The weights are laid out as in ``torch.nn.MultiheadAttention`` (``in_proj_weight`` stacks W_q, W_k,
W_v), so they move between the two unchanged. The products run in NumPy's BLAS.
"""
import numpy as np

from .._validation import as_float_array, as_int

__all__ = ["self_attention", "self_attention_backward"]


def _split(t, heads):
    n, length, embed = t.shape
    return t.reshape(n, length, heads, embed // heads).transpose(0, 2, 1, 3)


def _merge(t):
    n, heads, length, d = t.shape
    return t.transpose(0, 2, 1, 3).reshape(n, length, heads * d)


def _check_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    x = as_float_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (N, L, E), got shape {x.shape}")
    embed = x.shape[2]
    heads = as_int(num_heads, "num_heads", 1)
    if embed % heads:
        raise ValueError(f"num_heads={heads} must divide the embedding size {embed}")
    arrays = []
    for name, value, shape in (("in_proj_weight", in_proj_weight, (3 * embed, embed)),
                               ("in_proj_bias", in_proj_bias, (3 * embed,)),
                               ("out_proj_weight", out_proj_weight, (embed, embed)),
                               ("out_proj_bias", out_proj_bias, (embed,))):
        if value is None and name.endswith("bias"):
            arrays.append(None)
            continue
        value = as_float_array(value, name, dtype=x.dtype)
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {value.shape}")
        arrays.append(value)
    return (x, *arrays, heads)


def self_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads,
                   return_cache=False):
    """Multi-head self-attention over the positions of a batch of sequences.

    Parameters
    ----------
    x : array_like, shape (N, L, E)
        N sequences of L positions with E features each.
    in_proj_weight : array_like, shape (3E, E); in_proj_bias : shape (3E,) or None
    out_proj_weight : array_like, shape (E, E); out_proj_bias : shape (E,) or None
    num_heads : int
        Must divide E.
    return_cache : bool
        Also return what :func:`self_attention_backward` needs.

    Returns
    -------
    y : ndarray, shape (N, L, E)
    cache : tuple (only with ``return_cache``)

    Examples
    --------
    With identity projections and one position, attention returns its input:

    >>> import numpy as np
    >>> eye = np.eye(2)
    >>> self_attention(np.array([[[1.0, 2.0]]]), np.vstack([eye] * 3), None, eye, None, 1)
    array([[[1., 2.]]])
    """
    x, w_in, b_in, w_out, b_out, heads = _check_attention(
        x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads)
    qkv = x @ w_in.T
    if b_in is not None:
        qkv += b_in
    q, k, v = (_split(t, heads) for t in np.split(qkv, 3, axis=2))
    scale = x.dtype.type(1.0 / np.sqrt(q.shape[-1]))  # a NumPy float64 scalar would upcast float32
    scores = (q @ k.transpose(0, 1, 3, 2)) * scale
    scores -= scores.max(axis=-1, keepdims=True)  # stable softmax
    attn = np.exp(scores)
    attn /= attn.sum(axis=-1, keepdims=True)
    context = _merge(attn @ v)
    y = context @ w_out.T
    if b_out is not None:
        y += b_out
    if return_cache:
        return y, (x, w_in, w_out, q, k, v, attn, context, heads, b_in is not None,
                   b_out is not None)
    return y


def self_attention_backward(grad_output, cache):
    """Gradients of :func:`self_attention` from the cache its forward call returned.

    Returns
    -------
    grad_x, grad_in_proj_weight, grad_in_proj_bias, grad_out_proj_weight, grad_out_proj_bias
        The biases' gradients are None when the forward call had no bias.
    """
    x, w_in, w_out, q, k, v, attn, context, heads, has_b_in, has_b_out = cache
    gy = as_float_array(grad_output, "grad_output", dtype=x.dtype)
    if gy.shape != x.shape:
        raise ValueError(f"grad_output must have shape {x.shape}, got {gy.shape}")
    n, length, embed = x.shape
    g_w_out = gy.reshape(-1, embed).T @ context.reshape(-1, embed)
    g_b_out = gy.sum(axis=(0, 1)) if has_b_out else None
    g_context = _split(gy @ w_out, heads)
    g_attn = g_context @ v.transpose(0, 1, 3, 2)
    g_v = attn.transpose(0, 1, 3, 2) @ g_context
    # softmax backward: dS = A * (dA - sum(dA * A))
    g_scores = attn * (g_attn - (g_attn * attn).sum(axis=-1, keepdims=True))
    g_scores *= x.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    g_q = g_scores @ k
    g_k = g_scores.transpose(0, 1, 3, 2) @ q
    g_qkv = np.concatenate([_merge(g_q), _merge(g_k), _merge(g_v)], axis=2)
    g_w_in = g_qkv.reshape(-1, 3 * embed).T @ x.reshape(-1, embed)
    g_b_in = g_qkv.sum(axis=(0, 1)) if has_b_in else None
    g_x = g_qkv @ w_in
    return g_x, g_w_in, g_b_in, g_w_out, g_b_out
