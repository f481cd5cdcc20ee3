"""Pooling layers: MaxPool1d/2d/3d, AvgPool1d/2d/3d, GlobalAvgPool and AdaptiveAvgPool2d.

Examples
--------
>>> import numpy as np
>>> MaxPool2d(2)(np.arange(16.).reshape(1, 1, 4, 4))[0, 0]
array([[ 5.,  7.],
       [13., 15.]])
>>> GlobalAvgPool().output_shape((8, 3, 5, 5))
(8, 3)
"""
from .. import functional as F
from .._validation import as_tuple
from ..functional.pooling import _adaptive_args, _geometry, check_padding
from ._module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "GlobalAvgPool", "AdaptiveAvgPool2d"]


# The functional forward and backward of each dimension, as PyTorch's pooling layers call F.*.
_MAX = {1: (F.max_pool1d, F.max_pool1d_backward), 2: (F.max_pool2d, F.max_pool2d_backward),
        3: (F.max_pool3d, F.max_pool3d_backward)}
_AVG = {1: (F.avg_pool1d, F.avg_pool1d_backward), 2: (F.avg_pool2d, F.avg_pool2d_backward),
        3: (F.avg_pool3d, F.avg_pool3d_backward)}


class _PoolNd(Module):
    nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        nd = self.nd
        self.kernel_size = as_tuple(kernel_size, nd, "kernel_size")
        self.stride = self.kernel_size if stride is None else as_tuple(stride, nd, "stride")
        self.padding = as_tuple(padding, nd, "padding", min_value=0)
        self.dilation = as_tuple(dilation, nd, "dilation")
        self.ceil_mode = bool(ceil_mode)
        check_padding(self.kernel_size, self.padding)

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        _, out = _geometry(input_shape[-self.nd:], self.nd, self.kernel_size, self.stride,
                           self.padding, self.dilation, self.ceil_mode)
        return input_shape[:-self.nd] + out

    def get_config(self):
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "dilation": list(self.dilation),
                "ceil_mode": self.ceil_mode}

    def extra_repr(self):
        s = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        if self.dilation != (1,) * self.nd:
            s += f", dilation={self.dilation}"
        return s + (", ceil_mode=True" if self.ceil_mode else "")


class _MaxPoolNd(_PoolNd):
    def forward(self, x):
        self._shape = x.shape
        pool, _ = _MAX[self.nd]
        args = (self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)
        if not self.training:  # evaluation: the cheaper kernel, without indices (a backward
            self._x, self._indices = x, None  # pass, rarely asked for, finds them again)
            return pool(x, *args)
        y, self._indices = pool(x, *args, True)
        return y

    def backward(self, grad_output):
        pool, pool_backward = _MAX[self.nd]
        if self._indices is None:
            _, self._indices = pool(self._x, self.kernel_size, self.stride, self.padding,
                                    self.dilation, self.ceil_mode, True)
            self._x = None
        return pool_backward(grad_output, self._indices, self._shape)


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling (PyTorch's ``nn.MaxPool1d`` arguments)."""
    nd = 1


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling (PyTorch's ``nn.MaxPool2d`` arguments)."""
    nd = 2


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling (PyTorch's ``nn.MaxPool3d`` arguments)."""
    nd = 3


class _AvgPoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x):
        self._shape = x.shape
        pool, _ = _AVG[self.nd]
        return pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                    self.count_include_pad)

    def backward(self, grad_output):
        _, pool_backward = _AVG[self.nd]
        return pool_backward(grad_output, self._shape, self.kernel_size, self.stride,
                             self.padding, self.ceil_mode, self.count_include_pad)

    def get_config(self):
        cfg = super().get_config()
        del cfg["dilation"]
        cfg["count_include_pad"] = self.count_include_pad
        return cfg


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling (PyTorch's ``nn.AvgPool1d`` arguments)."""
    nd = 1


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling (PyTorch's ``nn.AvgPool2d`` arguments)."""
    nd = 2


class AvgPool3d(_AvgPoolNd):
    """3-D average pooling (PyTorch's ``nn.AvgPool3d`` arguments)."""
    nd = 3


class GlobalAvgPool(Module):
    """Mean over every spatial axis: ``(N, C, *spatial)`` to ``(N, C)``."""

    def forward(self, x):
        self._shape = x.shape
        return F.global_avg_pool(x)

    def backward(self, grad_output):
        return F.global_avg_pool_backward(grad_output, self._shape)

    def output_shape(self, input_shape):
        return tuple(input_shape[:2])


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed ``output_size`` (int or pair; None keeps that axis)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = tuple(output_size) if isinstance(output_size, (list, tuple)) else output_size
        _adaptive_args((1, 1, 1, 1), self.output_size)  # validates

    def forward(self, x):
        self._shape = x.shape
        return F.adaptive_avg_pool2d(x, self.output_size)

    def backward(self, grad_output):
        return F.adaptive_avg_pool2d_backward(grad_output, self._shape)

    def output_shape(self, input_shape):
        rows, cols = _adaptive_args(tuple(input_shape), self.output_size)
        return tuple(input_shape[:-2]) + (len(rows), len(cols))

    def get_config(self):
        o = self.output_size
        return {"output_size": list(o) if isinstance(o, tuple) else o}

    def extra_repr(self):
        return f"output_size={self.output_size}"
