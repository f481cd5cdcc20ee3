"""ResNet-18 and ResNet-34 (He et al., 2015) in torchvision's layout: a 7x7 stem, four stages of
basic residual blocks (two 3x3 convolutions with batch normalisation, plus a 1x1 projection
shortcut where the shape changes), global average pooling and one fully connected layer. Parameter
and buffer names and the parameter counts (11,689,512 and 21,797,672 for 1000 classes) are
torchvision's, so its weight files load unchanged.

Examples
--------
>>> import numpy as np
>>> from convcore.models import resnet18
>>> model = resnet18(num_classes=10)
>>> model.num_parameters()
11181642
>>> model.eval()(np.zeros((1, 3, 16, 16), dtype=np.float32)).shape
(1, 10)
>>> model.get_submodule('layer2.0.downsample.0')
PointConv2d(64, 128, stride=(2, 2), bias=False)
"""
import numpy as np

from .. import nn
from .._validation import as_int
from ..nn.fold import ConvNorm, folds
from ..nn.normalization import fuses_relu
from ._base import check_arguments
from .pretrained import build

__all__ = ["BasicBlock", "ResNet", "resnet18", "resnet34", "LAYERS"]

#: Basic blocks per stage.
LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``; the shortcut is ``downsample``
    (a strided 1x1 point convolution and batch normalisation) when the stride or the channel count
    changes, the identity otherwise.

    Parameters
    ----------
    in_channels, channels : int
    stride : int
    dtype : {float32, float64}
    """

    def __init__(self, in_channels, channels, stride=1, dtype=np.float32):
        super().__init__()
        self.in_channels = as_int(in_channels, "in_channels", 1)
        self.channels = as_int(channels, "channels", 1)
        self.stride = as_int(stride, "stride", 1)
        self._dtype = np.dtype(dtype).name
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False,
                               dtype=dtype)
        self.bn1 = nn.BatchNorm2d(channels, dtype=dtype)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False, dtype=dtype)
        self.bn2 = nn.BatchNorm2d(channels, dtype=dtype)
        self.relu2 = nn.ReLU()
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.PointConv2d(in_channels, channels, stride=stride, bias=False, dtype=dtype),
                nn.BatchNorm2d(channels, dtype=dtype))
        else:
            self.downsample = None

    def _fusable(self):
        """True when the block's normalisations and ReLUs are the ones it was built with, so
        that each normalisation can apply the shortcut and the ReLU in its own pass."""
        return fuses_relu(self.bn1, self.relu) and fuses_relu(self.bn2, self.relu2)

    def forward(self, x):
        short = x if self.downsample is None else self.downsample.forward(x)
        self._fused = self._fusable()
        if self._fused:
            h = self.bn1.forward(self.conv1.forward(x), relu=True)
            return self.bn2.forward(self.conv2.forward(h), residual=short, relu=True)
        h = self.relu.forward(self.bn1.forward(self.conv1.forward(x)))
        h = self.bn2.forward(self.conv2.forward(h))
        return self.relu2.forward(h + short)

    def backward(self, grad_output):
        if self._fused:
            g, g_short = self.bn2.backward(grad_output)
            g = self.conv1.backward(self.bn1.backward(self.conv2.backward(g)))
        else:
            g_short = g = self.relu2.backward(grad_output)
            g = self.conv1.backward(self.bn1.backward(self.relu.backward(
                self.conv2.backward(self.bn2.backward(g)))))
        return g + (g_short if self.downsample is None else self.downsample.backward(g_short))

    def output_shape(self, input_shape):
        return self.conv2.output_shape(self.conv1.output_shape(input_shape))

    def get_config(self):
        return {"in_channels": self.in_channels, "channels": self.channels, "stride": self.stride,
                "dtype": self._dtype}


class ResNet(nn.Module):
    """ResNet of ``depth`` 18 or 34 with basic blocks.

    Parameters
    ----------
    depth : {18, 34}
    num_classes : int
    in_channels : int
    dtype : {float32, float64}
    """

    def __init__(self, depth=18, num_classes=1000, in_channels=3, dtype=np.float32):
        super().__init__()
        if depth not in LAYERS:
            raise ValueError(f"depth must be one of {sorted(LAYERS)}, got {depth!r}")
        self.depth = depth
        self.num_classes, self.in_channels = check_arguments(num_classes, in_channels)
        self._dtype = np.dtype(dtype).name
        self.conv1 = nn.Conv2d(self.in_channels, 64, 7, stride=2, padding=3, bias=False,
                               dtype=dtype)
        self.bn1 = nn.BatchNorm2d(64, dtype=dtype)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c_in = 64
        for i, (blocks, channels) in enumerate(zip(LAYERS[depth], (64, 128, 256, 512))):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(c_in, channels, stride, dtype=dtype)]
            stage += [BasicBlock(channels, channels, dtype=dtype) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            c_in = channels
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, self.num_classes, dtype=dtype)

    def _body(self):
        """The steps before ``fc``, made from the layers each time (a replaced layer takes part
        at once). The stem's convolution, normalisation and ReLU are one step where they are the
        plain layers (:class:`~convcore.nn.fold.ConvNorm`, as in ``nn.Sequential``): folded in
        evaluation mode, the ReLU in the normalisation's pass in training, one pass over the
        stem's output (the network's largest) fewer either way."""
        if folds(self.conv1, self.bn1) and fuses_relu(self.bn1, self.relu):
            stem = [ConvNorm(self.conv1, self.bn1, relu=True)]
        else:
            stem = [self.conv1, self.bn1, self.relu]
        return stem + [self.maxpool, self.layer1, self.layer2, self.layer3, self.layer4,
                       self.avgpool]

    def features(self, x):
        """The 512 pooled features per image (the input of ``fc``)."""
        self._steps = self._body()  # (backward goes back through these very steps)
        for layer in self._steps:
            x = layer.forward(x)
        return x.reshape(x.shape[0], -1)

    def forward(self, x):
        h = self.features(x)
        self._pooled_shape = h.shape + (1, 1)
        return self.fc.forward(h)

    def backward(self, grad_output):
        g = self.fc.backward(grad_output).reshape(self._pooled_shape)
        for layer in reversed(self._steps):
            g = layer.backward(g)
        return g

    def output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {"depth": self.depth, "num_classes": self.num_classes,
                "in_channels": self.in_channels, "dtype": self._dtype}

    def extra_repr(self):
        return f"depth={self.depth}"


def resnet18(num_classes=1000, in_channels=3, dtype=np.float32, *, weights=None, progress=False):
    """ResNet-18 in torchvision's layout; see :class:`ResNet`.
    ``weights="IMAGENET1K_V1"`` loads torchvision's published ImageNet weights, downloaded on first
    use (``progress=True`` reports it); see :func:`~convcore.models.get_weights`."""
    return build("resnet18", lambda: ResNet(18, num_classes, in_channels, dtype), weights, progress,
                 num_classes, in_channels)


def resnet34(num_classes=1000, in_channels=3, dtype=np.float32, *, weights=None, progress=False):
    """ResNet-34 in torchvision's layout; see :class:`ResNet`.
    ``weights="IMAGENET1K_V1"`` loads torchvision's published ImageNet weights, downloaded on first
    use (``progress=True`` reports it); see :func:`~convcore.models.get_weights`."""
    return build("resnet34", lambda: ResNet(34, num_classes, in_channels, dtype), weights, progress,
                 num_classes, in_channels)
