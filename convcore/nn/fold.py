"""A convolution followed by a batch normalisation (and a ReLU), run as one step of a container.

In evaluation mode a batch normalisation with running statistics is a fixed map per channel,
``scale * y + shift``; after a convolution it folds into the convolution's weights and bias
(``W * scale``, ``b * scale + shift``), so the normalisation's pass over the output and its array
go away (a ReLU after it then runs in place). The numbers are the unfolded ones up to rounding:
the scaled weights are rounded once, where the unfolded step rounds each output once more. Where
the weights outnumber the outputs (a deep layer on 1x1 maps) the normalisation's pass costs less
than scaling them, and the layers run in turn. The fold is made on every call from the current
parameters, so nothing goes stale when weights change in place. In training mode, or with
statistics not tracked, the layers run one after the other.

Examples
--------
>>> import numpy as np
>>> from convcore import nn
>>> conv, bn = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64), nn.BatchNorm2d(3, dtype=np.float64)
>>> bn.running_mean[:] = [0.1, -0.2, 0.3]
>>> x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
>>> step = ConvNorm(conv.eval(), bn.eval(), relu=True)
>>> np.allclose(step.forward(x), np.maximum(bn.forward(conv.forward(x)), 0))
True
"""
import math

import numpy as np

from ..functional import relu
from .conv import _FUNCTIONS, Conv1d, Conv2d, Conv3d
from .normalization import BatchNorm1d, BatchNorm2d
from .separable import DepthwiseConv2d, PointConv2d, SeparableConv2d

__all__ = ["ConvNorm", "folds"]

# Scaled weights per output value at most for a fold to pay: scaling the weights is a pass over
# them, the normalisation a pass over the output. Measured (us, one thread, batch 32, float32,
# the normalisation against the fold's (scale, shift) plus the weights' scaling): 256 -> 256 on
# 2x2 maps (2 weights per output) 30 against 5 + 14; 832 -> 384 on 1x1 maps (27) 28 against
# 6 + 67; 512 -> 768 on 1x1 (16) 42 against 7 + 82; 64 -> 128 on 16x16 maps 173 against 5 + 3.
MAX_WEIGHTS_PER_OUTPUT = 2

# exact types only: a subclass may change what its forward computes
_CONVS = (Conv1d, Conv2d, Conv3d, DepthwiseConv2d, PointConv2d)
_NORMS = (BatchNorm1d, BatchNorm2d)


def folds(conv, norm):
    """True when ``norm`` (a plain batch normalisation) may fold into ``conv`` (a plain
    convolution, or a :class:`~convcore.nn.SeparableConv2d`, whose point step takes it) in
    evaluation mode."""
    last = conv.pointwise if type(conv) is SeparableConv2d else conv
    return (type(last) in _CONVS and type(norm) in _NORMS and norm.num_features ==
            last.out_channels and last.nd + 2 in norm._ndims)


class ConvNorm:
    """``norm(conv(x))``, then ``max(., 0)`` with ``relu``: folded in evaluation mode (see the
    module), else the layers in turn. Not a module of its own: a container's step over its
    layers, with ``forward`` and ``backward``.

    Parameters
    ----------
    conv : Module
        The convolution (folded when :func:`folds` says so).
    norm : Module
        The normalisation after it.
    relu : bool
        Apply a ReLU after the normalisation (in place on the folded result).
    """

    def __init__(self, conv, norm, relu=False):
        self.conv, self.norm, self.relu = conv, norm, bool(relu)
        self._folded_input = None

    def _fold(self, x):
        """The folded forward, or None where it does not apply."""
        last = self.conv.pointwise if type(self.conv) is SeparableConv2d else self.conv
        if self.conv.training or np.ndim(x) != last.nd + 2 or not folds(self.conv, self.norm):
            return None
        w = last.weight.data
        strides = last.stride if last is self.conv else last.stride + self.conv.depthwise.stride
        outputs = len(x) * last.out_channels * math.prod(x.shape[2:]) // math.prod(strides)
        if w.size > MAX_WEIGHTS_PER_OUTPUT * outputs:
            return None
        affine = self.norm.running_affine(w.dtype)
        if affine is None:
            return None
        scale, shift = affine
        if last is not self.conv:
            x = self.conv.depthwise.forward(x)
        bias = shift if last.bias is None else last.bias.data * scale + shift
        conv, _ = _FUNCTIONS[last.nd]
        return conv(x, w * scale.reshape((-1,) + (1,) * (w.ndim - 1)), bias, last.stride,
                    last.padding, last.dilation, last.groups)

    def forward(self, x):
        y = self._fold(x)
        if y is None:
            self._folded_input = None
            return self.norm.forward(self.conv.forward(x), relu=self.relu)
        self._folded_input = x
        return relu(y, inplace=True) if self.relu else y

    def backward(self, grad_output):
        if self._folded_input is not None:  # the layers' own forward, for what they cache
            x, self._folded_input = self._folded_input, None
            self.norm.forward(self.conv.forward(x), relu=self.relu)
        return self.conv.backward(self.norm.backward(grad_output))
