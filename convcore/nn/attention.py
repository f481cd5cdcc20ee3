"""Multi-head self-attention layers: over a sequence ``(N, L, E)`` and over the pixels of a feature
map ``(N, C, H, W)``.

A convolution sees a fixed neighbourhood; attention lets every position weigh every other one by
similarity (``softmax(Q K^T / sqrt(d)) V`` per head), so a feature can draw on the whole image in
one layer. The maths (and its backward pass) is :func:`convcore.functional.self_attention`; these
layers own the weights, with the names of ``torch.nn.MultiheadAttention`` (``in_proj_weight``,
``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``) so state dicts move between the two.

Examples
--------
>>> import numpy as np
>>> from convcore.nn import SpatialSelfAttention
>>> layer = SpatialSelfAttention(8, num_heads=2)
>>> layer(np.zeros((2, 8, 3, 4), dtype=np.float32)).shape
(2, 8, 3, 4)
>>> [name for name, _ in layer.named_parameters()]
['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
"""
import numpy as np

from .. import functional as F
from .._validation import as_int
from . import init as _init
from ._module import Module, Parameter, dtype_name
from .linear import Linear

__all__ = ["MultiheadSelfAttention", "SpatialSelfAttention"]


class MultiheadSelfAttention(Module):
    """Self-attention over sequences of shape ``(N, L, embed_dim)`` (batch first).

    Parameters
    ----------
    embed_dim : int
    num_heads : int
        Must divide ``embed_dim``.
    bias : bool
        Biases of the input and output projections.
    dtype : {float32, float64}

    Attributes
    ----------
    in_proj_weight : Parameter, shape (3 embed_dim, embed_dim)  (W_q, W_k, W_v stacked)
    in_proj_bias : Parameter or None, shape (3 embed_dim,)
    out_proj : Linear(embed_dim, embed_dim)

    Examples
    --------
    >>> import numpy as np
    >>> layer = MultiheadSelfAttention(4, num_heads=2, dtype=np.float64)
    >>> y = layer(np.ones((3, 5, 4)))
    >>> y.shape, layer.backward(np.ones_like(y)).shape
    ((3, 5, 4), (3, 5, 4))
    """

    def __init__(self, embed_dim, num_heads, bias=True, dtype=np.float32):
        super().__init__()
        self.embed_dim = as_int(embed_dim, "embed_dim", 1)
        self.num_heads = as_int(num_heads, "num_heads", 1)
        if self.embed_dim % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide embed_dim={self.embed_dim}")
        self._dtype = dtype_name(dtype)
        e = self.embed_dim
        self.in_proj_weight = Parameter(np.zeros((3 * e, e), self._dtype))
        self.in_proj_bias = Parameter(np.zeros(3 * e, self._dtype)) if bias else None
        self.out_proj = Linear(e, e, bias=bias, init="glorot_uniform", dtype=self._dtype)
        self.reset_parameters()

    def reset_parameters(self):
        """Glorot-uniform projections (as PyTorch) and zero biases."""
        self.in_proj_weight.data = _init.glorot_uniform(self.in_proj_weight.shape, self._dtype)
        if self.in_proj_bias is not None:
            self.in_proj_bias.data = np.zeros(3 * self.embed_dim, self._dtype)
        self.out_proj.reset_parameters()

    def _attend(self, seq):
        b_in = None if self.in_proj_bias is None else self.in_proj_bias.data
        b_out = None if self.out_proj.bias is None else self.out_proj.bias.data
        y, self._cache = F.self_attention(seq, self.in_proj_weight.data, b_in,
                                          self.out_proj.weight.data, b_out, self.num_heads,
                                          return_cache=True)
        return y

    def _attend_backward(self, grad_seq):
        if getattr(self, "_cache", None) is None:
            raise ValueError("backward called before forward")
        gx, gw_in, gb_in, gw_out, gb_out = F.self_attention_backward(grad_seq, self._cache)
        for param, grad in ((self.in_proj_weight, gw_in), (self.in_proj_bias, gb_in),
                            (self.out_proj.weight, gw_out), (self.out_proj.bias, gb_out)):
            if param is not None and grad is not None:
                param.accumulate(grad.astype(param.dtype, copy=False))
        return gx

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != self.embed_dim:
            raise ValueError(f"x must be (N, L, {self.embed_dim}), got shape {x.shape}")
        return self._attend(x)

    def backward(self, grad_output):
        return self._attend_backward(grad_output)

    def get_config(self):
        return {"embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "bias": self.in_proj_bias is not None, "dtype": self._dtype}

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"


class SpatialSelfAttention(MultiheadSelfAttention):
    """Self-attention among the pixels of a feature map ``(N, C, H, W)``, ``C`` features per
    pixel; the output has the input's shape.

    Parameters
    ----------
    channels : int
        The feature map's channels (the embedding size).
    num_heads : int
    bias : bool
    dtype : {float32, float64}
    """

    def __init__(self, channels, num_heads, bias=True, dtype=np.float32):
        super().__init__(channels, num_heads, bias=bias, dtype=dtype)

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] != self.embed_dim:
            raise ValueError(f"x must be (N, {self.embed_dim}, H, W), got shape {x.shape}")
        n, c, h, w = x.shape
        seq = x.reshape(n, c, h * w).transpose(0, 2, 1)
        y = self._attend(seq)
        return np.ascontiguousarray(y.transpose(0, 2, 1)).reshape(n, c, h, w)

    def backward(self, grad_output):
        g = np.asarray(grad_output)
        n, c, h, w = g.shape
        gseq = self._attend_backward(g.reshape(n, c, h * w).transpose(0, 2, 1))
        return np.ascontiguousarray(gseq.transpose(0, 2, 1)).reshape(n, c, h, w)

    def get_config(self):
        return {"channels": self.embed_dim, "num_heads": self.num_heads,
                "bias": self.in_proj_bias is not None, "dtype": self._dtype}
