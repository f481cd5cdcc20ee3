"""Element-wise activations (ReLU, LeakyReLU, Sigmoid, Tanh, GELU) and Softmax over one axis.

Examples
--------
>>> import numpy as np
>>> ReLU()(np.array([-1.0, 0.5]))
array([0. , 0.5])
>>> Softmax(dim=0)(np.array([0.0, 0.0]))
array([0.5, 0.5])
"""
import math

import numpy as np
from scipy.special import erf, expit

from .._kernels import activations as _activations
from .._threads import threads_for
from ._module import Module
from ..functional import losses as F

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax"]

# Elements a thread should have before a second one is worth waking.
_GRAIN = 1 << 16


def _compiled(*arrays):
    """True when the arrays can go to the compiled kernels: C-contiguous, of one float dtype and
    one shape (anything else takes the NumPy expression, which gives the same values)."""
    a = arrays[0]
    return all(isinstance(b, np.ndarray) and b.dtype == a.dtype and b.shape == a.shape
               and b.flags.c_contiguous for b in arrays) and a.dtype in (np.float32, np.float64)


def _run(kernel, *arrays):
    """``kernel(*flat arrays, out, threads)`` into a new array shaped like the first."""
    out = np.empty_like(arrays[0])
    kernel(*(a.reshape(-1) for a in arrays), out.reshape(-1), threads_for(out.size, _GRAIN))
    return out


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x):
        y = _run(_activations.relu, x) if _compiled(x) else np.maximum(x, 0)
        self._y = y
        return y

    def backward(self, grad_output):
        if _compiled(grad_output, self._y):
            return _run(_activations.relu_backward, grad_output, self._y)
        return grad_output * (self._y > 0)


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
            raise TypeError(f"negative_slope must be a number, got {type(negative_slope).__name__}")
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        self._x = x
        return np.where(x > 0, x, x * x.dtype.type(self.negative_slope))

    def backward(self, grad_output):
        x = self._x
        return grad_output * np.where(x > 0, x.dtype.type(1), x.dtype.type(self.negative_slope))

    def get_config(self):
        return {"negative_slope": self.negative_slope}

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` (overflow-free)."""

    def forward(self, x):
        y = expit(x)
        self._y = y
        return y

    def backward(self, grad_output):
        y = self._y
        return grad_output * y * (1 - y)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x):
        y = np.tanh(x)
        self._y = y
        return y

    def backward(self, grad_output):
        y = self._y
        if _compiled(grad_output, y):
            return _run(_activations.tanh_backward, grad_output, y)
        return grad_output * (1 - y * y)


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        self._x = x
        t = x.dtype.type
        if self.approximate == "tanh":
            inner = t(math.sqrt(2 / math.pi)) * (x + t(0.044715) * x ** 3)
            self._th = np.tanh(inner)
            return t(0.5) * x * (1 + self._th)
        self._cdf = t(0.5) * (1 + erf(x * t(1 / math.sqrt(2))))
        return x * self._cdf

    def backward(self, grad_output):
        x = self._x
        t = x.dtype.type
        if self.approximate == "tanh":
            th = self._th
            d_inner = t(math.sqrt(2 / math.pi)) * (1 + t(3 * 0.044715) * x * x)
            return grad_output * (t(0.5) * (1 + th) + t(0.5) * x * (1 - th * th) * d_inner)
        pdf = np.exp(t(-0.5) * x * x) * t(1 / math.sqrt(2 * math.pi))
        return grad_output * (self._cdf + x * pdf)

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
        self._y = F.softmax(x, self.dim)
        return self._y

    def backward(self, grad_output):
        return F.softmax_backward(grad_output, self._y, self.dim)

    def get_config(self):
        return {"dim": self.dim}

    def extra_repr(self):
        return f"dim={self.dim}"
