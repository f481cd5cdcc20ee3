"""Fully connected layer ``y = x W^T + b`` (PyTorch's ``nn.Linear`` layout) and Identity."""
import numpy as np

from ..functional import dense as F
from . import init as _init
from ._module import Module, Parameter, dtype_name

__all__ = ["Linear", "Identity"]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


class Linear(Module):
    """Affine map over the last axis: ``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
    init : {'he_uniform', 'he_normal', 'glorot_uniform', 'glorot_normal'}
        Weight initialiser (seeded by :func:`convcore.nn.init.manual_seed`); the bias starts at 0.
    dtype : {float32, float64}

    Examples
    --------
    >>> import numpy as np
    >>> layer = Linear(3, 2, dtype=np.float64)
    >>> layer.weight.shape, layer.bias.shape
    ((2, 3), (2,))
    >>> layer(np.ones((5, 3))).shape
    (5, 2)
    """

    def __init__(self, in_features, out_features, bias=True, init="he_uniform", dtype=np.float32):
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features")
        self.out_features = _positive_int(out_features, "out_features")
        self._dtype = dtype_name(dtype)
        if init not in _init.INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(_init.INITIALIZERS)}, got {init!r}")
        self.init = init
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), dtype=self._dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=self._dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        self.weight.data = _init.initialize(self.init, self.weight.shape, self._dtype)
        if self.bias is not None:
            self.bias.data = np.zeros(self.out_features, dtype=self._dtype)

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"x must have {self.in_features} features on its last axis, got shape {np.shape(x)}")
        self._x = np.ascontiguousarray(x, dtype=self.weight.dtype)  # the layer's dtype
        return F.linear(self._x, self.weight.data, None if self.bias is None else self.bias.data)

    def backward(self, grad_output):
        has_bias = self.bias is not None
        gx, gw, gb = F.linear_backward(grad_output, self._x, self.weight.data,
                                       need_weight=self.weight.trainable,
                                       need_bias=has_bias and self.bias.trainable)
        if gw is not None:
            self.weight.accumulate(gw)
        if gb is not None:
            self.bias.accumulate(gb)
        return gx

    def output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.out_features,)

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "init": self.init, "dtype": self._dtype}

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (e.g. a Residual shortcut).

    Examples
    --------
    >>> Identity()(3.0)
    3.0
    """

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output
