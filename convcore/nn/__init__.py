"""Layers and containers for small CNNs: explicit forward/backward, PyTorch's names and layouts.

Examples
--------
>>> import numpy as np
>>> from convcore import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> model(np.zeros((2, 4), dtype=np.float32)).shape
(2, 3)
"""
from . import init
from ._module import Module, Parameter, deserialize, serialize
from .activations import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .containers import Concat, Residual, Sequential
from .dropout import Dropout
from .flatten import Flatten
from .linear import Identity, Linear

__all__ = ["Module", "Parameter", "init", "serialize", "deserialize", "Sequential", "Residual",
           "Concat", "Linear", "Identity", "Flatten", "Dropout", "ReLU", "LeakyReLU", "Sigmoid",
           "Tanh", "GELU", "Softmax"]
