"""Ready architectures and their weights: LeNet, AlexNet, VGG, ResNet, Inception, Xception, and
PyTorch/NumPy weight files read without torch."""
from .weights import load_weights, read_state_dict, save_weights

__all__ = ["load_weights", "read_state_dict", "save_weights"]
