"""Element-wise activations (ReLU, LeakyReLU, Sigmoid, Tanh, GELU) and Softmax over one axis.

Examples
--------
>>> import numpy as np
>>> ReLU()(np.array([-1.0, 0.5]))
array([0. , 0.5])
>>> Softmax(dim=0)(np.array([0.0, 0.0]))
array([0.5, 0.5])
"""
import numpy as np

from ..functional import activations as F
from ..functional import losses as F_losses
from ._module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax"]


class _ByOutput(Module):
    """An activation whose gradient is a function of its output, which forward keeps."""

    def forward(self, x):
        self._y = self._function(x)
        return self._y

    def backward(self, grad_output):
        return self._gradient(grad_output, self._y)


class _InPlace(_ByOutput):
    """An activation whose forward and backward may write over their argument: ``forward(x,
    inplace=True)`` over ``x``, ``backward(g, inplace=True)`` over ``g``, what a container does
    with a fresh array that nothing else holds (a convolution's or a linear layer's result, the
    input gradient of a convolution, a linear or a pooling layer)."""

    def forward(self, x, inplace=False):
        self._y = self._function(x, inplace)
        return self._y

    def backward(self, grad_output, inplace=False):
        return self._gradient(grad_output, self._y, inplace)


class ReLU(_InPlace):
    """``max(x, 0)``. ``forward(x, inplace=True)`` writes over ``x`` and ``backward(g,
    inplace=True)`` over ``g``: what a container does with fresh arrays that nothing else holds."""
    _function, _gradient = staticmethod(F.relu), staticmethod(F.relu_backward)


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
            raise TypeError(f"negative_slope must be a number, got {type(negative_slope).__name__}")
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        self._x = x
        return F.leaky_relu(x, self.negative_slope)

    def backward(self, grad_output):
        return F.leaky_relu_backward(grad_output, self._x, self.negative_slope)

    def get_config(self):
        return {"negative_slope": self.negative_slope}

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(_ByOutput):
    """``1 / (1 + exp(-x))`` (overflow-free)."""
    _function, _gradient = staticmethod(F.sigmoid), staticmethod(F.sigmoid_backward)


class Tanh(_InPlace):
    """Hyperbolic tangent; may work in place, as :class:`ReLU`."""
    _function, _gradient = staticmethod(F.tanh), staticmethod(F.tanh_backward)


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        y, self._cache = F.gelu(x, self.approximate, return_cache=True)
        return y

    def backward(self, grad_output):
        return F.gelu_backward(grad_output, self._cache)

    def get_config(self):
        return {"approximate": self.approximate}

    def extra_repr(self):
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``dim``: :func:`convcore.functional.softmax` as a layer."""

    def __init__(self, dim=1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"dim must be an integer, got {type(dim).__name__}")
        self.dim = int(dim)

    def forward(self, x):
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"dim {self.dim} is out of range for an input with {x.ndim} dimensions")
        self._y = F_losses.softmax(x, self.dim)
        return self._y

    def backward(self, grad_output):
        return F_losses.softmax_backward(grad_output, self._y, self.dim)

    def get_config(self):
        return {"dim": self.dim}

    def extra_repr(self):
        return f"dim={self.dim}"
