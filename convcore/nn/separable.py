"""Cheap convolutions: depthwise, point (1x1) and depthwise-separable layers, and adaptive pooling.

A standard ``k x k`` convolution from ``C_in`` to ``C_out`` channels costs ``C_in * C_out * k^2``
multiply-adds per pixel. Xception and MobileNet split it in two:

- a **depthwise** convolution filters each channel on its own (``groups = C_in``),
  ``C_in * k^2`` per pixel;
- a **point** convolution (``1 x 1``) mixes the channels at each pixel, ``C_in * C_out`` per pixel.
  It is a plain matrix product ``W (C_out, C_in) @ X (C_in, H*W)`` per image: no im2col at all.

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
from scipy.linalg import blas as _blas

from .._threads import blas_threads, get_num_threads
from .._validation import as_int, as_tuple
from . import init as _init
from ._module import Module, Parameter, dtype_name
from .conv import Conv2d

__all__ = ["DepthwiseConv2d", "PointConv2d", "SeparableConv2d"]


_PARALLEL_WORK = 1 << 24  # multiply-adds per product from which BLAS gets every thread


def _gemm(a, b, trans_a=False, trans_b=False, beta=0.0, c=None):
    """SciPy's BLAS (the one whose threads convcore manages) on Fortran-ordered operands: the
    transposes of C-ordered arrays, so nothing is copied. ``c`` (Fortran) is updated in place."""
    gemm = _blas.sgemm if a.dtype == np.float32 else _blas.dgemm
    m = a.shape[1] if trans_a else a.shape[0]
    k = a.shape[0] if trans_a else a.shape[1]
    n = b.shape[0] if trans_b else b.shape[1]
    with blas_threads(1 if m * n * k < _PARALLEL_WORK else get_num_threads()):
        if c is None:
            return gemm(1.0, a, b, trans_a=trans_a, trans_b=trans_b)
        return gemm(1.0, a, b, beta, c, trans_a=trans_a, trans_b=trans_b, overwrite_c=True)


def _check_input(x, channels, layer):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{layer}: x must be 4-D (N, C, H, W), got shape {x.shape}")
    if x.shape[1] != channels:
        raise ValueError(f"{layer}: x must have {channels} channels, got shape {x.shape}")
    return x


def _check_init(init):
    if init not in _init.INITIALIZERS:
        raise ValueError(f"init must be one of {sorted(_init.INITIALIZERS)}, got {init!r}")
    return init


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


class PointConv2d(Module):
    """1x1 convolution as one matrix product per image: ``y[n] = W @ x[n] + b``.

    Parameters
    ----------
    in_channels, out_channels : int
    stride : int or pair of ints
        Takes every ``stride``-th pixel before the product (ResNet's downsampling shortcut).
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
        super().__init__()
        self.in_channels = as_int(in_channels, "in_channels", 1)
        self.out_channels = as_int(out_channels, "out_channels", 1)
        self.stride = as_tuple(stride, 2, "stride")
        self.init = _check_init(init)
        self._dtype = dtype_name(dtype)
        self.weight = Parameter(np.zeros((self.out_channels, self.in_channels, 1, 1), self._dtype))
        self.bias = Parameter(np.zeros(self.out_channels, self._dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        self.weight.data = _init.initialize(self.init, self.weight.shape, self._dtype)
        if self.bias is not None:
            self.bias.data = np.zeros(self.out_channels, self._dtype)

    def _matrix(self, dtype):
        return self.weight.data.reshape(self.out_channels, self.in_channels).astype(dtype, copy=False)

    # Row-major products as column-major ones on transposed views: y[n] = W @ x[n] is computed as
    # y[n]^T = x[n]^T @ W^T, where x[n].T and W.T are Fortran-ordered views (no copies).
    def forward(self, x):
        x = _check_input(x, self.in_channels, "PointConv2d")
        dtype = np.result_type(x.dtype, self.weight.dtype)
        if dtype not in (np.float32, np.float64):
            dtype = np.dtype(np.float64)
        self._input_shape = x.shape
        sh, sw = self.stride
        if (sh, sw) != (1, 1):
            x = x[:, :, ::sh, ::sw]
        x = np.ascontiguousarray(x, dtype=dtype)
        n, c, h, w = x.shape
        cols = x.reshape(n, c, h * w)
        self._cols = cols
        wt = self._matrix(dtype).T
        y = np.empty((n, self.out_channels, h * w), dtype=dtype)
        for i in range(n):
            y[i] = _gemm(cols[i].T, wt).T
        if self.bias is not None:
            y += self.bias.data.astype(dtype, copy=False)[:, None]
        return y.reshape(n, self.out_channels, h, w)

    def backward(self, grad_output):
        cols = self._cols
        n, _, length = cols.shape
        g = np.ascontiguousarray(grad_output, dtype=cols.dtype)
        if g.shape[:2] != (n, self.out_channels) or g.ndim != 4 or g.shape[2] * g.shape[3] != length:
            raise ValueError(f"grad_output has shape {g.shape}, which does not match the last "
                             f"forward output")
        g = g.reshape(n, self.out_channels, length)
        w, b = self.weight, self.bias
        if w.trainable:  # gW^T = sum_n x[n] @ g[n]^T, accumulated in a Fortran (C_in, C_out) array
            acc = np.zeros((self.in_channels, self.out_channels), dtype=cols.dtype, order="F")
            for i in range(n):
                acc = _gemm(cols[i].T, g[i].T, trans_a=True, beta=1.0, c=acc)
            w.accumulate(np.ascontiguousarray(acc.T).reshape(w.shape).astype(w.dtype, copy=False))
        if b is not None and b.trainable:
            b.accumulate(g.sum(axis=(0, 2)).astype(b.dtype, copy=False))
        wt = self._matrix(cols.dtype).T
        gcols = np.empty((n, self.in_channels, length), dtype=cols.dtype)
        for i in range(n):  # gx[n]^T = g[n]^T @ W
            gcols[i] = _gemm(g[i].T, wt, trans_b=True).T
        n_, c, h, wd = self._input_shape
        sh, sw = self.stride
        if (sh, sw) == (1, 1):
            return gcols.reshape(n_, c, h, wd)
        gx = np.zeros(self._input_shape, dtype=cols.dtype)
        gx[:, :, ::sh, ::sw] = gcols.reshape(n, c, grad_output.shape[2], grad_output.shape[3])
        return gx

    def output_shape(self, input_shape):
        n, _, h, w = input_shape
        return (n, self.out_channels, (h - 1) // self.stride[0] + 1, (w - 1) // self.stride[1] + 1)

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

