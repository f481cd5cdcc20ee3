"""Ready architectures and their weights: LeNet-5, AlexNet, VGG-11/16, ResNet-18/34, GoogLeNet
(Inception), an Xception-style network, and PyTorch/NumPy weight files read without torch.

AlexNet, VGG, ResNet and GoogLeNet follow torchvision's layer structure and parameter names, so
``load_weights(resnet18(), 'resnet18.pth')`` reads torchvision's file directly, and
``resnet18(weights="IMAGENET1K_V1")`` downloads, checks and caches the published file first
(:mod:`convcore.models.pretrained`).
"""
from .alexnet import AlexNet, alexnet
from .inception import GoogLeNet, Inception, InceptionAux, googlenet
from .lenet import LeNet5, lenet5
from .pretrained import ImageClassification, Weights, get_weights, list_weights
from .resnet import BasicBlock, ResNet, resnet18, resnet34
from .vgg import VGG, vgg11, vgg16
from .weights import load_weights, read_state_dict, save_weights
from .xception import Xception, xception

__all__ = ["load_weights", "read_state_dict", "save_weights", "LeNet5", "lenet5", "AlexNet",
           "alexnet", "VGG", "vgg11", "vgg16", "BasicBlock", "ResNet", "resnet18", "resnet34",
           "Inception", "InceptionAux", "GoogLeNet", "googlenet", "Xception", "xception",
           "Weights", "ImageClassification", "get_weights", "list_weights"]
