"""An Xception-style network (Chollet, 2017) for small images: a convolutional stem, then blocks
of depthwise-separable convolutions with batch normalisation, each block with a residual
shortcut (a strided 1x1 point convolution where the shape changes), and global average pooling.

A separable 3x3 convolution costs ``C_in * 9 + C_in * C_out`` weights against ``C_in * C_out * 9``
for a full one; Xception stacks them instead of inception blocks.

Examples
--------
>>> import numpy as np
>>> from convcore.models import xception
>>> model = xception(num_classes=2, in_channels=1, width=64, middle=1)
>>> model.eval()(np.zeros((2, 1, 16, 16), dtype=np.float32)).shape
(2, 2)
"""
import numpy as np

from .. import nn
from .._validation import as_int
from ._base import check_arguments

__all__ = ["XceptionBlock", "Xception", "xception"]


class XceptionBlock(nn.Module):
    """``reps`` x (ReLU, SeparableConv2d 3x3, BatchNorm), then a 3x3 max-pool of ``stride``,
    plus a shortcut: the identity, or a strided point convolution and BatchNorm (``skip``) when
    the channels or the size change.

    Parameters
    ----------
    in_channels, out_channels : int
    reps : int
    stride : {1, 2}
    dtype : {float32, float64}
    """

    def __init__(self, in_channels, out_channels, reps=2, stride=1, dtype=np.float32):
        super().__init__()
        self._config = {"in_channels": as_int(in_channels, "in_channels", 1),
                        "out_channels": as_int(out_channels, "out_channels", 1),
                        "reps": as_int(reps, "reps", 1), "stride": as_int(stride, "stride", 1),
                        "dtype": np.dtype(dtype).name}
        layers, c = [], in_channels
        for _ in range(reps):
            layers += [nn.ReLU(), nn.SeparableConv2d(c, out_channels, 3, padding=1, bias=False,
                                                     dtype=dtype),
                       nn.BatchNorm2d(out_channels, dtype=dtype)]
            c = out_channels
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride=stride, padding=1))
        self.rep = nn.Sequential(*layers)
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(
                nn.PointConv2d(in_channels, out_channels, stride=stride, bias=False, dtype=dtype),
                nn.BatchNorm2d(out_channels, dtype=dtype))
        else:
            self.skip = None

    def forward(self, x):
        shortcut = x if self.skip is None else self.skip.forward(x)
        return self.rep.forward(x) + shortcut

    def backward(self, grad_output):
        g = self.rep.backward(grad_output)
        return g + (grad_output if self.skip is None else self.skip.backward(grad_output))

    def output_shape(self, input_shape):
        return self.rep.output_shape(input_shape)

    def get_config(self):
        return dict(self._config)


class Xception(nn.Module):
    """Stem (3x3 convolutions to 32 and 64 channels), entry blocks to 128, 256 and ``width``
    channels (each halving the size), ``middle`` residual blocks of three separable convolutions,
    an exit block to 2 ``width`` channels, a separable convolution to 3 ``width``, global average
    pooling and ``fc``. Any input of at least 16x16 pixels.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    width : int
        Channels of the middle flow (728 in the paper; 256 here by default, for small images).
    middle : int
        Number of middle-flow blocks (8 in the paper).
    dtype : {float32, float64}
    """

    def __init__(self, num_classes=1000, in_channels=3, width=256, middle=4, dtype=np.float32):
        super().__init__()
        self.num_classes, self.in_channels = check_arguments(num_classes, in_channels)
        self.width = as_int(width, "width", 1)
        self.middle = as_int(middle, "middle", 0)
        self._dtype = np.dtype(dtype).name
        w = self.width
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, 32, 3, stride=2, padding=1, bias=False, dtype=dtype),
            nn.BatchNorm2d(32, dtype=dtype), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, bias=False, dtype=dtype),
            nn.BatchNorm2d(64, dtype=dtype))
        blocks = [XceptionBlock(64, 128, 2, 2, dtype), XceptionBlock(128, 256, 2, 2, dtype),
                  XceptionBlock(256, w, 2, 2, dtype)]
        blocks += [XceptionBlock(w, w, 3, 1, dtype) for _ in range(self.middle)]
        blocks.append(XceptionBlock(w, 2 * w, 2, 2, dtype))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.SeparableConv2d(2 * w, 3 * w, 3, padding=1, bias=False, dtype=dtype),
            nn.BatchNorm2d(3 * w, dtype=dtype), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)))
        self.fc = nn.Linear(3 * w, self.num_classes, dtype=dtype)

    def features(self, x):
        """The ``3 * width`` pooled features per image (the input of ``fc``)."""
        h = self.head.forward(self.blocks.forward(self.stem.forward(x)))
        return h.reshape(h.shape[0], -1)

    def forward(self, x):
        h = self.features(x)
        self._pooled_shape = h.shape + (1, 1)
        return self.fc.forward(h)

    def backward(self, grad_output):
        g = self.fc.backward(grad_output).reshape(self._pooled_shape)
        return self.stem.backward(self.blocks.backward(self.head.backward(g)))

    def output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {"num_classes": self.num_classes, "in_channels": self.in_channels,
                "width": self.width, "middle": self.middle, "dtype": self._dtype}


def xception(num_classes=1000, in_channels=3, width=256, middle=4, dtype=np.float32):
    """An Xception-style network of separable convolutions; see :class:`Xception`."""
    return Xception(num_classes, in_channels, width, middle, dtype)
