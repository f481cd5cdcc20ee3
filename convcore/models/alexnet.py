"""AlexNet (Krizhevsky et al., 2012) in torchvision's layout: the same layers, parameter names and
counts (61,100,840 for 1000 classes), so torchvision's weight files load unchanged.

Examples
--------
Building it allocates 57 million parameters (230 MB), so these lines are not run as a test:

>>> import numpy as np
>>> from convcore.models import alexnet
>>> model = alexnet(num_classes=10)  # doctest: +SKIP
>>> model.num_parameters()  # doctest: +SKIP
57044810
>>> model(np.zeros((1, 3, 64, 64), dtype=np.float32)).shape  # doctest: +SKIP
(1, 10)
"""
import numpy as np

from .. import nn
from ._base import FeatureClassifier, check_arguments
from .pretrained import build

__all__ = ["AlexNet", "alexnet"]


class AlexNet(FeatureClassifier):
    """AlexNet: five convolutions (11x11/4, 5x5, 3x3 x3) with three max-pools (``features``), an
    adaptive average pool to 6x6 (``avgpool``) and three fully connected layers with dropout
    (``classifier``). Any input of at least 63x63 pixels.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    dropout : float
    dtype : {float32, float64}
    """

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.5, dtype=np.float32):
        super().__init__()
        self.num_classes, self.in_channels = check_arguments(num_classes, in_channels)
        self.dropout, self._dtype = float(dropout), np.dtype(dtype).name

        def conv(c_in, c_out, k, stride=1, padding=0):
            return nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding, dtype=dtype)

        self.features = nn.Sequential(
            conv(self.in_channels, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            conv(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            conv(192, 384, 3, padding=1), nn.ReLU(),
            conv(384, 256, 3, padding=1), nn.ReLU(),
            conv(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(self.dropout), nn.Linear(256 * 6 * 6, 4096, dtype=dtype), nn.ReLU(),
            nn.Dropout(self.dropout), nn.Linear(4096, 4096, dtype=dtype), nn.ReLU(),
            nn.Linear(4096, self.num_classes, dtype=dtype))

    def get_config(self):
        return {"num_classes": self.num_classes, "in_channels": self.in_channels,
                "dropout": self.dropout, "dtype": self._dtype}


def alexnet(num_classes=1000, in_channels=3, dropout=0.5, dtype=np.float32, *, weights=None,
            progress=False):
    """AlexNet in torchvision's layout; see :class:`AlexNet`.
    ``weights="IMAGENET1K_V1"`` loads torchvision's published ImageNet weights, downloaded on first
    use (``progress=True`` reports it); see :func:`~convcore.models.get_weights`."""
    return build("alexnet", lambda: AlexNet(num_classes, in_channels, dropout, dtype), weights,
                 progress, num_classes, in_channels)
