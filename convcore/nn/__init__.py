"""Layers and containers for small CNNs: explicit forward/backward, PyTorch's names and layouts.

Examples
--------
>>> import numpy as np
>>> from convcore import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> model(np.zeros((2, 4), dtype=np.float32)).shape
(2, 3)

The losses live in :mod:`convcore.losses` and are also here, where PyTorch keeps them:

>>> nn.CrossEntropyLoss(reduction="sum")
CrossEntropyLoss(weight=None, label_smoothing=0.0, reduction='sum')
"""
from . import init
from ._module import Module, Parameter, deserialize, serialize
from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .containers import Concat, Residual, Sequential
from .conv import Conv1d, Conv2d, Conv3d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear
from .separable import DepthwiseConv2d, PointConv2d, SeparableConv2d
from .attention import MultiheadSelfAttention, SpatialSelfAttention
from .normalization import BatchNorm1d, BatchNorm2d
from ..losses import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MAELoss, MSELoss, NLLLoss
from .pooling import (AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, AvgPool3d, GlobalAvgPool, MaxPool1d,
                      MaxPool2d, MaxPool3d)

__all__ = ["Module", "Parameter", "init", "serialize", "deserialize", "Sequential", "Residual",
           "Concat", "Linear", "Identity", "Flatten", "Dropout", "ReLU", "LeakyReLU", "Sigmoid",
           "Tanh", "GELU", "Softmax", "Conv1d", "Conv2d", "Conv3d", "MaxPool1d", "MaxPool2d",
           "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "GlobalAvgPool", "AdaptiveAvgPool2d",
           "BatchNorm1d", "BatchNorm2d", "DepthwiseConv2d", "PointConv2d", "SeparableConv2d",
           "MultiheadSelfAttention", "SpatialSelfAttention", "MSELoss", "L1Loss", "MAELoss",
           "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss"]
