"""Flatten: collapse the axes from ``start_dim`` to ``end_dim`` into one (default: all but the batch).

Examples
--------
>>> import numpy as np
>>> Flatten()(np.zeros((2, 3, 4, 4))).shape
(2, 48)
"""
import numpy as np

from ._module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """Reshape ``(N, d1, ..., dk)`` to ``(N, d1*...*dk)`` (PyTorch's ``nn.Flatten``)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        for name, v in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def _target(self, shape):
        nd = len(shape)
        s = self.start_dim % nd if nd else 0
        e = self.end_dim % nd if nd else 0
        if s > e:
            raise ValueError(f"start_dim {self.start_dim} comes after end_dim {self.end_dim} for shape {tuple(shape)}")
        return tuple(shape[:s]) + (int(np.prod(shape[s:e + 1])),) + tuple(shape[e + 1:])

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(self._target(x.shape))

    def backward(self, grad_output):
        return grad_output.reshape(self._shape)

    def output_shape(self, input_shape):
        return self._target(tuple(input_shape))

    def get_config(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
