"""Batch normalisation over the channel axis with running statistics (BatchNorm1d, BatchNorm2d).

Training: ``y = weight * (x - mean_B) / sqrt(var_B + eps) + bias`` with the batch's mean and biased
variance per channel; the running mean and the *unbiased* running variance move by ``momentum``
(a cumulative average when ``momentum`` is None), as in PyTorch. Evaluation uses the running
statistics.

Examples
--------
>>> import numpy as np
>>> bn = BatchNorm1d(2, dtype=np.float64)
>>> y = bn(np.array([[1.0, 2.0], [3.0, 6.0]]))
>>> y
array([[-0.999995  , -0.99999875],
       [ 0.999995  ,  0.99999875]])
>>> bn.running_mean, int(bn.num_batches_tracked)
(array([0.2, 0.4]), 1)
"""
import numpy as np

from .. import _channels
from .._threads import threads_for
from .._validation import as_int
from ._module import Module, Parameter, dtype_name

__all__ = ["BatchNorm1d", "BatchNorm2d"]

_GRAIN = 1 << 16  # values per thread from which a second thread pays


class _BatchNorm(Module):
    _ndims = (4,)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=np.float32):
        super().__init__()
        self.num_features = as_int(num_features, "num_features", 1)
        if not float(eps) > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self._dtype = dtype_name(dtype)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(np.ones(c, dtype=self._dtype))
            self.bias = Parameter(np.zeros(c, dtype=self._dtype))
        else:
            self.weight = self.bias = None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, dtype=self._dtype))
            self.register_buffer("running_var", np.ones(c, dtype=self._dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def _view(self, x):
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            dims = " or ".join(f"{d}-D" for d in self._ndims)
            raise ValueError(f"x must be {dims} with {self.num_features} channels on axis 1, got shape {x.shape}")
        return x.reshape(x.shape[0], x.shape[1], -1)

    def forward(self, x):
        x3 = self._view(x)
        t = x3.dtype.type
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            m = x3.shape[0] * x3.shape[2]
            if m < 2 and self.training:
                raise ValueError("batch normalisation needs more than one value per channel in "
                                 f"training, got shape {x.shape}")
            mean = x3.mean(axis=(0, 2))
            xc = x3 - mean[:, None]
            var = (xc * xc).mean(axis=(0, 2))
            if self.training and self.track_running_stats:
                nbt = self._buffers["num_batches_tracked"]
                self._buffers["num_batches_tracked"] = nbt + 1
                f = 1.0 / float(nbt + 1) if self.momentum is None else self.momentum
                unbiased = var * t(m / max(m - 1, 1))
                rm, rv = self._buffers["running_mean"], self._buffers["running_var"]
                rm *= 1 - f
                rm += f * mean.astype(rm.dtype)
                rv *= 1 - f
                rv += f * unbiased.astype(rv.dtype)
        else:
            return self._eval_forward(x, x3)
        inv_std = 1.0 / np.sqrt(var + t(self.eps))
        xhat = xc * inv_std[:, None]
        self._xhat, self._inv_std, self._batch_stats = xhat, inv_std, use_batch
        y = xhat
        if self.affine:
            y = xhat * self.weight.data[:, None] + self.bias.data[:, None]
        return y.reshape(x.shape)

    def _eval_forward(self, x, x3):
        """With the running statistics, the normalisation is one affine map per channel,
        ``x * scale + shift``: one pass over the data (compiled, parallel) instead of four. The normalised input is
        only formed again if a backward pass asks for it (a trainable affine part)."""
        t = x3.dtype.type
        mean = self._buffers["running_mean"].astype(x3.dtype)
        inv_std = t(1) / np.sqrt(self._buffers["running_var"].astype(x3.dtype) + t(self.eps))
        scale = inv_std * self.weight.data if self.affine else inv_std
        shift = -mean * scale
        if self.affine:
            shift += self.bias.data
        if x3.dtype in (np.float32, np.float64):  # one parallel pass
            x3 = np.ascontiguousarray(x3)
            y = np.empty_like(x3)
            _channels.affine(x3, scale, shift, y, threads_for(x3.size, _GRAIN))
        else:
            y = np.multiply(x3, scale[:, None])
            y += shift[:, None]
        self._x3, self._mean, self._xhat = x3, mean, None
        self._inv_std, self._batch_stats = inv_std, False
        return y.reshape(x.shape)

    def backward(self, grad_output):
        if self._xhat is None:  # after an evaluation-mode forward
            self._xhat = (self._x3 - self._mean[:, None]) * self._inv_std[:, None]
        g = grad_output.reshape(self._xhat.shape)
        xhat, inv_std = self._xhat, self._inv_std
        if self.affine:
            if self.weight.trainable:
                self.weight.accumulate((g * xhat).sum(axis=(0, 2)))
            if self.bias.trainable:
                self.bias.accumulate(g.sum(axis=(0, 2)))
            gamma = self.weight.data
            scale = (gamma * inv_std)[:, None]
        else:
            scale = inv_std[:, None]
        if not self._batch_stats:
            return (g * scale).reshape(grad_output.shape)
        mean_g = g.mean(axis=(0, 2))
        mean_gx = (g * xhat).mean(axis=(0, 2))
        gx = (g - mean_g[:, None] - xhat * mean_gx[:, None]) * scale
        return gx.reshape(grad_output.shape)

    def get_config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats,
                "dtype": self._dtype}

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` input."""
    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` input."""
    _ndims = (4,)
