"""What the zoo's networks share: argument checks and the features -> pool -> classifier chain."""
import numpy as np

from .._validation import as_int
from ..nn import Module

__all__ = ["check_arguments", "FeatureClassifier"]


def check_arguments(num_classes, in_channels):
    """Validate the two arguments every zoo network takes."""
    return as_int(num_classes, "num_classes", 1), as_int(in_channels, "in_channels", 1)


class FeatureClassifier(Module):
    """``classifier(flatten(avgpool(features(x))))``, torchvision's AlexNet/VGG layout.

    Subclasses set the children ``features``, ``avgpool`` (or None) and ``classifier``; the
    flattening has no parameters and is not a child, so the state-dict keys are torchvision's.
    """

    def forward(self, x):
        h = self.features.forward(x)
        if self.avgpool is not None:
            h = self.avgpool.forward(h)
        self._feature_shape = h.shape
        return self.classifier.forward(h.reshape(h.shape[0], -1))

    def backward(self, grad_output):
        g = self.classifier.backward(grad_output).reshape(self._feature_shape)
        if self.avgpool is not None:
            g = self.avgpool.backward(g)
        return self.features.backward(g)

    def output_shape(self, input_shape):
        shape = self.features.output_shape(input_shape)
        if self.avgpool is not None:
            shape = self.avgpool.output_shape(shape)
        return self.classifier.output_shape((shape[0], int(np.prod(shape[1:]))))
