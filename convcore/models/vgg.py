"""VGG-11 and VGG-16 (Simonyan and Zisserman, 2014) in torchvision's layout: 3x3 convolutions in
blocks separated by 2x2 max-pools, an adaptive pool to 7x7 and three fully connected layers; the
parameter names and counts are torchvision's (132,863,336 and 138,357,544 for 1000 classes).

Examples
--------
The depth counts the weight layers: the 3x3 convolutions of the configuration and three fully
connected layers (building ``vgg16()`` allocates its 138 million parameters, 550 MB):

>>> sum(v != "M" for v in CONFIGS[16]) + 3
16
>>> sum(v != "M" for v in CONFIGS[11]) + 3
11
"""
import numpy as np

from .. import nn
from ._base import FeatureClassifier, check_arguments
from .pretrained import build

__all__ = ["VGG", "vgg11", "vgg16", "CONFIGS"]

#: Output channels of each 3x3 convolution, "M" for a 2x2 max-pool (torchvision's cfgs "A", "D").
CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


class VGG(FeatureClassifier):
    """VGG of ``depth`` 11 or 16 weight layers (no batch normalisation, as torchvision's
    ``vgg11``/``vgg16``). Any input of at least 32x32 pixels.

    Parameters
    ----------
    depth : {11, 16}
    num_classes : int
    in_channels : int
    dropout : float
    dtype : {float32, float64}
    """

    def __init__(self, depth=16, num_classes=1000, in_channels=3, dropout=0.5, dtype=np.float32):
        super().__init__()
        if depth not in CONFIGS:
            raise ValueError(f"depth must be one of {sorted(CONFIGS)}, got {depth!r}")
        self.depth = depth
        self.num_classes, self.in_channels = check_arguments(num_classes, in_channels)
        self.dropout, self._dtype = float(dropout), np.dtype(dtype).name
        layers, c_in = [], self.in_channels
        for v in CONFIGS[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, v, 3, padding=1, dtype=dtype), nn.ReLU()]
                c_in = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096, dtype=dtype), nn.ReLU(), nn.Dropout(self.dropout),
            nn.Linear(4096, 4096, dtype=dtype), nn.ReLU(), nn.Dropout(self.dropout),
            nn.Linear(4096, self.num_classes, dtype=dtype))

    def get_config(self):
        return {"depth": self.depth, "num_classes": self.num_classes,
                "in_channels": self.in_channels, "dropout": self.dropout, "dtype": self._dtype}

    def extra_repr(self):
        return f"depth={self.depth}"


def vgg11(num_classes=1000, in_channels=3, dropout=0.5, dtype=np.float32, *, weights=None,
          progress=False):
    """VGG-11 (configuration "A"); see :class:`VGG`.
    ``weights="IMAGENET1K_V1"`` loads torchvision's published ImageNet weights, downloaded on first
    use (``progress=True`` reports it); see :func:`~convcore.models.get_weights`."""
    return build("vgg11", lambda: VGG(11, num_classes, in_channels, dropout, dtype), weights,
                 progress, num_classes, in_channels)


def vgg16(num_classes=1000, in_channels=3, dropout=0.5, dtype=np.float32, *, weights=None,
          progress=False):
    """VGG-16 (configuration "D"); see :class:`VGG`.
    ``weights="IMAGENET1K_V1"`` loads torchvision's published ImageNet weights, downloaded on first
    use (``progress=True`` reports it); see :func:`~convcore.models.get_weights`."""
    return build("vgg16", lambda: VGG(16, num_classes, in_channels, dropout, dtype), weights,
                 progress, num_classes, in_channels)
