"""Dropout: in training, zero each element with probability ``p`` and scale the rest by 1/(1-p).

The mask comes from the generator of :mod:`convcore.nn.init` (``init.manual_seed`` and ``fit(seed=)``
make it reproducible); in evaluation mode the layer is the identity.

Examples
--------
>>> import numpy as np
>>> layer = Dropout(0.5).eval()
>>> layer(np.ones(3))
array([1., 1., 1.])
"""
from ..functional import activations as F
from . import init as _init
from ._module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` in [0, 1)."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)):
            raise TypeError(f"p must be a number, got {type(p).__name__}")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x):
        rng = _init.get_rng() if self.training and self.p else None
        y, self._mask = F.dropout(x, self.p, self.training, rng, return_mask=True)
        return y

    def backward(self, grad_output):
        return F.dropout_backward(grad_output, self._mask)

    def get_config(self):
        return {"p": self.p}

    def extra_repr(self):
        return f"p={self.p}"
