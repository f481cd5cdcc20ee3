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

from .._kernels import channels as _channels
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
        if x3.dtype not in (np.float32, np.float64):
            x3 = x3.astype(np.float64)
        x3 = np.ascontiguousarray(x3)
        t = x3.dtype.type
        c = self.num_features
        threads = threads_for(x3.size, _GRAIN)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            m = x3.shape[0] * x3.shape[2]
            if m < 2 and self.training:
                raise ValueError("batch normalisation needs more than one value per channel in "
                                 f"training, got shape {x.shape}")
            mean, var = np.empty(c, dtype=x3.dtype), np.empty(c, dtype=x3.dtype)
            _channels.batch_stats(x3, mean, var, threads)
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
            # the running statistics: the normalisation is one affine map per channel
            mean = self._buffers["running_mean"].astype(x3.dtype)
            var = self._buffers["running_var"].astype(x3.dtype)
        inv_std = t(1) / np.sqrt(var + t(self.eps))
        scale = inv_std * self.weight.data.astype(x3.dtype) if self.affine else inv_std
        shift = -mean * scale
        if self.affine:
            shift += self.bias.data
        y = np.empty_like(x3)
        _channels.affine(x3, scale, shift, y, threads)
        self._x3, self._mean, self._inv_std, self._batch_stats = x3, mean, inv_std, use_batch
        return y.reshape(x.shape)

    def backward(self, grad_output):
        """One compiled pass for the sums over each channel (the parameters' gradients, and
        what the batch statistics pass back), one for the input gradient."""
        x3 = self._x3
        g = np.ascontiguousarray(grad_output.reshape(x3.shape), dtype=x3.dtype)
        inv_std = self._inv_std
        scale = inv_std * self.weight.data.astype(x3.dtype) if self.affine else inv_std
        gx = np.empty_like(x3)
        sums = np.empty((2, x3.shape[1]), dtype=x3.dtype)
        _channels.batch_norm_backward(g, x3, self._mean, inv_std, scale, gx, sums,
                                      self._batch_stats, threads_for(x3.size, _GRAIN))
        if self.affine:
            if self.weight.trainable:
                self.weight.accumulate(sums[1])
            if self.bias.trainable:
                self.bias.accumulate(sums[0])
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
