"""Ready architectures and their weights: LeNet-5, AlexNet, VGG-11/16, ResNet-18/34, GoogLeNet
(Inception), an Xception-style network, and PyTorch/NumPy weight files read without torch.

AlexNet, VGG and ResNet follow torchvision's layer structure and parameter names, so
``load_weights(resnet18(), 'resnet18.pth')`` reads torchvision's file directly.
"""
from .alexnet import AlexNet, alexnet
from .inception import GoogLeNet, Inception, googlenet
from .lenet import LeNet5, lenet5
from .resnet import BasicBlock, ResNet, resnet18, resnet34
from .vgg import VGG, vgg11, vgg16
from .weights import load_weights, read_state_dict, save_weights
from .xception import Xception, xception

__all__ = ["load_weights", "read_state_dict", "save_weights", "LeNet5", "lenet5", "AlexNet",
           "alexnet", "VGG", "vgg11", "vgg16", "BasicBlock", "ResNet", "resnet18", "resnet34",
           "Inception", "GoogLeNet", "googlenet", "Xception", "xception"]
