"""Cheap convolutions: depthwise, point (1x1) and depthwise-separable layers, and adaptive pooling.

A standard ``k x k`` convolution from ``C_in`` to ``C_out`` channels costs ``C_in * C_out * k^2``
multiply-adds per pixel. Xception and MobileNet split it in two:

- a **depthwise** convolution filters each channel on its own (``groups = C_in``),
  ``C_in * k^2`` per pixel;
- a **point** convolution (``1 x 1``) mixes the channels at each pixel, ``C_in * C_out`` per pixel.
  It is a plain matrix product ``W (C_out, C_in) @ X (C_in, H*W)`` per image: no im2col at all
  (the compiled core's 1x1 path).

:class:`SeparableConv2d` chains the two.

Examples
--------
>>> import numpy as np
>>> from convcore.nn import SeparableConv2d
>>> layer = SeparableConv2d(8, 16, 3, padding=1)
>>> layer(np.zeros((2, 8, 5, 5), dtype=np.float32)).shape
(2, 16, 5, 5)
>>> layer.num_parameters()  # 8*9 depthwise + 16*8 + 16 point, against 16*8*9 + 16 = 1168
216
"""
import numpy as np

from .._validation import as_int
from ._module import Module
from .conv import Conv2d

__all__ = ["DepthwiseConv2d", "PointConv2d", "SeparableConv2d"]


def _check_input(x, channels, layer):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{layer}: x must be 4-D (N, C, H, W), got shape {x.shape}")
    if x.shape[1] != channels:
        raise ValueError(f"{layer}: x must have {channels} channels, got shape {x.shape}")
    return x


class DepthwiseConv2d(Conv2d):
    """Each input channel convolved with its own ``depth_multiplier`` filters: a :class:`Conv2d`
    with ``groups = in_channels`` and ``out_channels = in_channels * depth_multiplier``.

    Parameters
    ----------
    in_channels : int
    kernel_size, stride, padding, dilation
        As for :class:`Conv2d`.
    depth_multiplier : int
        Output channels per input channel (output ``c * m + j`` comes from input ``c``).
    bias : bool
    init : str
        Weight initialiser, see :mod:`convcore.nn.init`.
    dtype : {float32, float64}

    Attributes
    ----------
    weight : Parameter, shape (in_channels * depth_multiplier, 1, kh, kw)
        PyTorch's layout for ``Conv2d(C, C * m, k, groups=C)``.
    bias : Parameter or None, shape (in_channels * depth_multiplier,)

    Examples
    --------
    >>> import numpy as np
    >>> layer = DepthwiseConv2d(3, 3, padding=1, dtype=np.float64)
    >>> layer.weight.shape
    (3, 1, 3, 3)
    >>> layer(np.ones((1, 3, 4, 4))).shape
    (1, 3, 4, 4)
    """

    def __init__(self, in_channels, kernel_size, stride=1, padding=0, dilation=1,
                 depth_multiplier=1, bias=True, init="he_uniform", dtype=np.float32):
        channels = as_int(in_channels, "in_channels", 1)
        multiplier = as_int(depth_multiplier, "depth_multiplier", 1)
        super().__init__(channels, channels * multiplier, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=channels, bias=bias, init=init, dtype=dtype)
        self.depth_multiplier = multiplier

    def get_config(self):
        config = super().get_config()
        del config["out_channels"], config["groups"]
        config["depth_multiplier"] = self.depth_multiplier
        return config


class PointConv2d(Conv2d):
    """1x1 convolution, ``y[n] = W @ x[n] + b``: a :class:`Conv2d` with ``kernel_size=1``, which
    the compiled core runs as a pure GEMM on the input in place (no im2col) when the stride is 1.

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int or pair of ints
        Takes every ``stride``-th pixel (ResNet's downsampling shortcut).
    bias : bool
    init : str
    dtype : {float32, float64}

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels, 1, 1)
        PyTorch's ``Conv2d(in, out, 1)`` layout, so weight files fit unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> layer = PointConv2d(2, 1, bias=False, dtype=np.float64)
    >>> layer.weight.data[:] = [[[[1.0]], [[10.0]]]]
    >>> layer(np.stack([np.ones((1, 2, 2)), np.full((1, 2, 2), 2.0)], axis=1))[0, 0]
    array([[21., 21.],
           [21., 21.]])
    """

    def __init__(self, in_channels, out_channels, stride=1, bias=True, init="he_uniform",
                 dtype=np.float32):
        super().__init__(in_channels, out_channels, 1, stride=stride, bias=bias, init=init,
                         dtype=dtype)

    def forward(self, x):
        return super().forward(_check_input(x, self.in_channels, "PointConv2d"))

    def get_config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "stride": list(self.stride), "bias": self.bias is not None, "init": self.init,
                "dtype": self._dtype}

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}"
        if self.stride != (1, 1):
            s += f", stride={self.stride}"
        return s + ("" if self.bias is not None else ", bias=False")


class SeparableConv2d(Module):
    """Depthwise ``k x k`` convolution then a point convolution (Xception's building block).

    Children ``depthwise`` (:class:`DepthwiseConv2d`, no bias) and ``pointwise``
    (:class:`PointConv2d`); parameters ``depthwise.weight``, ``pointwise.weight``,
    ``pointwise.bias``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding, dilation : int or pair of ints (of the depthwise step)
    bias : bool
        Bias of the point step.
    init : str
    dtype : {float32, float64}
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, init="he_uniform", dtype=np.float32):
        super().__init__()
        self.depthwise = DepthwiseConv2d(in_channels, kernel_size, stride, padding, dilation,
                                         bias=False, init=init, dtype=dtype)
        self.pointwise = PointConv2d(in_channels, out_channels, bias=bias, init=init, dtype=dtype)

    def forward(self, x):
        return self.pointwise.forward(self.depthwise.forward(x))

    def backward(self, grad_output):
        return self.depthwise.backward(self.pointwise.backward(grad_output))

    def output_shape(self, input_shape):
        return self.pointwise.output_shape(self.depthwise.output_shape(input_shape))

    def get_config(self):
        d = self.depthwise
        return {"in_channels": d.in_channels, "out_channels": self.pointwise.out_channels,
                "kernel_size": list(d.kernel_size), "stride": list(d.stride),
                "padding": list(d.padding), "dilation": list(d.dilation),
                "bias": self.pointwise.bias is not None, "init": d.init, "dtype": d._dtype}

