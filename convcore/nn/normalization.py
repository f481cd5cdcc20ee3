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

from .._validation import as_int
from ..functional import normalization as F
from ._module import Module, Parameter, dtype_name
from .activations import ReLU

__all__ = ["BatchNorm1d", "BatchNorm2d", "fuses_relu"]


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

    def forward(self, x, residual=None, relu=False):
        """:func:`convcore.functional.batch_norm` with this layer's parameters and statistics:
        the batch's in training (then moving the running ones), else the running ones (the
        batch's when they are not tracked), as PyTorch's layers do.

        ``residual`` (added) and ``relu`` fuse what follows in a ResNet block,
        ``relu(bn(x) + residual)``, into the same pass; :meth:`backward` then takes the
        gradient of that result and, with a residual, returns ``(grad_input, grad_residual)``.
        """
        self._view(x)
        track = self.track_running_stats
        momentum = self.momentum
        if track and momentum is None:  # a cumulative average
            momentum = 1.0 / float(self._buffers["num_batches_tracked"] + 1)
        affine = (self.weight.data, self.bias.data) if self.affine else (None, None)
        y, self._cache = F.batch_norm(
            x, *((self._buffers["running_mean"], self._buffers["running_var"]) if track
                 else (None, None)), *affine, training=self.training or not track,
            momentum=0.0 if momentum is None else momentum, eps=self.eps, return_cache=True,
            residual=residual, relu=relu)
        if self.training and track:
            self._buffers["num_batches_tracked"] = self._buffers["num_batches_tracked"] + 1
        return y

    def running_affine(self, dtype):
        """(scale, shift) in `dtype` of what :meth:`forward` computes in evaluation mode,
        ``scale * x + shift`` per channel, or None when it normalises by the batch (training
        mode, or statistics not tracked)."""
        if self.training or not self.track_running_stats:
            return None
        affine = (self.weight.data, self.bias.data) if self.affine else (None, None)
        return F.running_affine(self._buffers["running_mean"], self._buffers["running_var"],
                                *affine, self.eps, dtype)

    def backward(self, grad_output):
        gx, gw, gb, *g_residual = F.batch_norm_backward(grad_output, self._cache)
        if self.affine:
            if self.weight.trainable:
                self.weight.accumulate(gw)
            if self.bias.trainable:
                self.bias.accumulate(gb)
        return (gx, *g_residual) if g_residual else gx

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


def fuses_relu(norm, relu):
    """True when ``norm`` is a plain :class:`BatchNorm1d` or :class:`BatchNorm2d` and ``relu`` a
    plain :class:`~convcore.nn.ReLU`, so that the normalisation may apply the ReLU in its own
    pass (``forward(x, relu=True)``: the same numbers, one pass and one array fewer). A subclass
    of either may change what it computes, so it is run on its own.

    Examples
    --------
    >>> from convcore import nn
    >>> fuses_relu(nn.BatchNorm2d(4), nn.ReLU()), fuses_relu(nn.BatchNorm2d(4), nn.Tanh())
    (True, False)
    """
    return type(norm) in (BatchNorm1d, BatchNorm2d) and type(relu) is ReLU
