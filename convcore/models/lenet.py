"""LeNet-5 (LeCun et al., 1998): two 5x5 convolutions with average pooling, then three fully
connected layers, tanh activations, for 32x32 images (pad 28x28 digits by 2).

Examples
--------
>>> import numpy as np
>>> from convcore.models import lenet5
>>> model = lenet5(num_classes=10, in_channels=1)
>>> model.num_parameters()
61706
>>> model(np.zeros((2, 1, 32, 32), dtype=np.float32)).shape
(2, 10)
"""
import numpy as np

from .. import nn
from ._base import FeatureClassifier, check_arguments

__all__ = ["LeNet5", "lenet5"]


class LeNet5(FeatureClassifier):
    """LeNet-5: ``features`` (conv 5x5 -> 6, tanh, avg-pool 2, conv 5x5 -> 16, tanh, avg-pool 2)
    and ``classifier`` (400 -> 120 -> 84 -> num_classes, tanh between).

    Parameters
    ----------
    num_classes : int
    in_channels : int
    dtype : {float32, float64}
    """

    def __init__(self, num_classes=10, in_channels=1, dtype=np.float32):
        super().__init__()
        self.num_classes, self.in_channels = check_arguments(num_classes, in_channels)
        self._dtype = np.dtype(dtype).name
        self.features = nn.Sequential(
            nn.Conv2d(self.in_channels, 6, 5, init="glorot_uniform", dtype=dtype), nn.Tanh(),
            nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5, init="glorot_uniform", dtype=dtype), nn.Tanh(), nn.AvgPool2d(2))
        self.avgpool = None
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120, init="glorot_uniform", dtype=dtype), nn.Tanh(),
            nn.Linear(120, 84, init="glorot_uniform", dtype=dtype), nn.Tanh(),
            nn.Linear(84, self.num_classes, init="glorot_uniform", dtype=dtype))

    def forward(self, x):
        if np.ndim(x) != 4 or np.shape(x)[2:] != (32, 32):
            raise ValueError(f"LeNet5 takes (N, C, 32, 32) images, got shape {np.shape(x)}")
        return super().forward(x)

    def get_config(self):
        return {"num_classes": self.num_classes, "in_channels": self.in_channels,
                "dtype": self._dtype}


def lenet5(num_classes=10, in_channels=1, dtype=np.float32):
    """LeNet-5 for 32x32 images; see :class:`LeNet5`."""
    return LeNet5(num_classes, in_channels, dtype)
