"""Convolution layers Conv1d/2d/3d over channels-first input, calling :mod:`convcore.functional`.

Weights are ``(out_channels, in_channels / groups, *kernel_size)`` as in PyTorch.

Examples
--------
>>> import numpy as np
>>> layer = Conv2d(1, 4, 3, padding=1)
>>> layer.weight.shape
(4, 1, 3, 3)
>>> layer(np.zeros((2, 1, 8, 8), dtype=np.float32)).shape
(2, 4, 8, 8)
>>> layer.output_shape((2, 1, 8, 8))
(2, 4, 8, 8)
"""
import numpy as np

from .. import functional as F
from .._validation import as_int, as_tuple
from ..functional._conv.plan import padding_pairs
from . import init as _init
from ._module import Module, Parameter, dtype_name

__all__ = ["Conv1d", "Conv2d", "Conv3d"]


def _to_tuples(value):
    """JSON lists back to the tuples the constructor was given."""
    if isinstance(value, list):
        return tuple(_to_tuples(v) for v in value)
    return value


# The functional forward and backward of each dimension, as PyTorch's ConvNd layers call F.convNd.
_FUNCTIONS = {1: (F.conv1d, F.conv1d_backward), 2: (F.conv2d, F.conv2d_backward),
              3: (F.conv3d, F.conv3d_backward)}


class _ConvNd(Module):
    nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, init="he_uniform", dtype=np.float32):
        super().__init__()
        nd = self.nd
        self.in_channels = as_int(in_channels, "in_channels", 1)
        self.out_channels = as_int(out_channels, "out_channels", 1)
        self.kernel_size = as_tuple(kernel_size, nd, "kernel_size")
        self.stride = as_tuple(stride, nd, "stride")
        self.dilation = as_tuple(dilation, nd, "dilation")
        self.groups = as_int(groups, "groups", 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"groups={self.groups} must divide in_channels={self.in_channels} "
                             f"and out_channels={self.out_channels}")
        padding_pairs(padding, nd, self.kernel_size, self.stride, self.dilation)  # validates
        self.padding = padding if isinstance(padding, str) else _to_tuples(
            list(padding) if isinstance(padding, (list, tuple)) else padding)
        if isinstance(self.padding, (int, np.integer)):
            self.padding = as_tuple(self.padding, nd, "padding", min_value=0)
        if init not in _init.INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(_init.INITIALIZERS)}, got {init!r}")
        self.init = init
        self._dtype = dtype_name(dtype)
        wshape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.zeros(wshape, dtype=self._dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=self._dtype)) if bias else None
        self.need_input_grad = True
        self.reset_parameters()

    def reset_parameters(self):
        self.weight.data = _init.initialize(self.init, self.weight.shape, self._dtype)
        if self.bias is not None:
            self.bias.data = np.zeros(self.out_channels, dtype=self._dtype)

    def forward(self, x):
        self._x = x
        conv, _ = _FUNCTIONS[self.nd]
        return conv(x, self.weight.data, None if self.bias is None else self.bias.data,
                    self.stride, self.padding, self.dilation, self.groups)

    def backward(self, grad_output):
        w, b = self.weight, self.bias
        need_b = b is not None and b.trainable
        _, conv_backward = _FUNCTIONS[self.nd]
        gx, gw, gb = conv_backward(grad_output, self._x, w.data, self.stride, self.padding,
                                   self.dilation, self.groups, self.need_input_grad, w.trainable,
                                   need_b)
        if w.trainable:
            w.accumulate(gw)
        if need_b:
            b.accumulate(gb)
        return gx

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        pads = padding_pairs(self.padding, self.nd, self.kernel_size, self.stride, self.dilation)
        out = []
        for n, k, s, d, (lo, hi) in zip(input_shape[-self.nd:], self.kernel_size, self.stride,
                                        self.dilation, pads):
            out.append((n + lo + hi - d * (k - 1) - 1) // s + 1)
        return input_shape[:-self.nd - 1] + (self.out_channels,) + tuple(out)

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else
                [list(p) if isinstance(p, tuple) else p for p in self.padding],
                "dilation": list(self.dilation), "groups": self.groups,
                "bias": self.bias is not None, "init": self.init, "dtype": self._dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**{k: _to_tuples(v) for k, v in config.items()})

    def extra_repr(self):
        nd = self.nd
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * nd:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over ``(N, C_in, L)`` (PyTorch's ``nn.Conv1d`` arguments)."""
    nd = 1


class Conv2d(_ConvNd):
    """2-D convolution over ``(N, C_in, H, W)`` (PyTorch's ``nn.Conv2d`` arguments)."""
    nd = 2


class Conv3d(_ConvNd):
    """3-D convolution over ``(N, C_in, D, H, W)`` (PyTorch's ``nn.Conv3d`` arguments)."""
    nd = 3
