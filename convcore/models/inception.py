"""GoogLeNet (Szegedy et al., 2014): a stem of convolutions, then nine inception blocks. Each block
runs four branches on the same input and stacks their channels: a 1x1 convolution; a 1x1
reduction then a 3x3; a 1x1 reduction then a second 3x3 (the "5x5" branch, as torchvision builds
it); a 3x3 max-pool then a 1x1 projection. The 1x1 reductions are what keep the block cheap.
Layer names and the parameter count (6,624,904 for 1000 classes, without the auxiliary heads)
follow torchvision's ``googlenet``; with ``aux_logits=True`` the two auxiliary classifiers
(``aux1``, ``aux2``) are built too, so torchvision's published file (which holds them) loads
strictly, and ``transform_input=True`` rescales ImageNet-normalised input as those weights expect.

Examples
--------
>>> import numpy as np
>>> from convcore.models import googlenet
>>> model = googlenet(num_classes=10)
>>> model.num_parameters()
5610154
>>> model.eval()(np.zeros((1, 3, 32, 32), dtype=np.float32)).shape
(1, 10)
"""
import numpy as np

from .. import nn
from .._validation import as_int
from ..nn.fold import ConvNorm
from ..nn.normalization import fuses_relu
from ._base import check_arguments
from .pretrained import build

__all__ = ["BasicConv2d", "Inception", "InceptionAux", "GoogLeNet", "googlenet"]


class BasicConv2d(nn.Module):
    """Convolution (no bias), batch normalisation (eps 1e-3) and ReLU: ``conv``, ``bn``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dtype=np.float32):
        super().__init__()
        self._args = {"in_channels": in_channels, "out_channels": out_channels,
                      "kernel_size": kernel_size, "stride": stride, "padding": padding,
                      "dtype": np.dtype(dtype).name}
        if kernel_size == 1 and padding == 0:
            self.conv = nn.PointConv2d(in_channels, out_channels, stride=stride, bias=False,
                                       dtype=dtype)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                                  padding=padding, bias=False, dtype=dtype)
        self.bn = nn.BatchNorm2d(out_channels, eps=1e-3, dtype=dtype)
        self.relu = nn.ReLU()

    def forward(self, x):
        # the normalisation applies the ReLU in its own pass when both are the plain layers; in
        # evaluation mode it folds into the convolution (ConvNorm)
        self._fused = fuses_relu(self.bn, self.relu)
        self._step = ConvNorm(self.conv, self.bn, relu=self._fused)
        y = self._step.forward(x)
        return y if self._fused else self.relu.forward(y)

    def backward(self, grad_output):
        g = grad_output if self._fused else self.relu.backward(grad_output)
        return self._step.backward(g)

    def output_shape(self, input_shape):
        return self.conv.output_shape(input_shape)

    def get_config(self):
        return dict(self._args)


class Inception(nn.Module):
    """Four parallel branches joined along the channels: ``branch1`` (1x1), ``branch2`` (1x1 then
    3x3), ``branch3`` (1x1 then 3x3), ``branch4`` (3x3 max-pool then 1x1).

    Parameters
    ----------
    in_channels : int
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj : int
        Output channels of each convolution (torchvision's argument names); the block outputs
        ``ch1x1 + ch3x3 + ch5x5 + pool_proj`` channels.
    dtype : {float32, float64}
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj,
                 dtype=np.float32):
        super().__init__()
        self._args = [as_int(v, name, 1) for v, name in zip(
            (in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj),
            ("in_channels", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj"))]
        self._dtype = np.dtype(dtype).name
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1, dtype=dtype)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1, dtype=dtype),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1, dtype=dtype))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1, dtype=dtype),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1, dtype=dtype))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, 1, dtype=dtype))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def _branches(self):
        return [self.branch1, self.branch2, self.branch3, self.branch4]

    def forward(self, x):
        outs = [b.forward(x) for b in self._branches()]
        self._splits = np.cumsum([o.shape[1] for o in outs])[:-1]
        return np.concatenate(outs, axis=1)

    def backward(self, grad_output):
        parts = np.split(grad_output, self._splits, axis=1)
        total = None
        for branch, g in zip(self._branches(), parts):
            gx = branch.backward(np.ascontiguousarray(g))
            total = gx if total is None else total + gx
        return total

    def output_shape(self, input_shape):
        return (input_shape[0], self.out_channels) + tuple(input_shape[2:])

    def get_config(self):
        names = ("in_channels", "ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")
        return dict(zip(names, self._args), dtype=self._dtype)


class InceptionAux(nn.Module):
    """An auxiliary classifier, as GoogLeNet trains with on intermediate features: average pool to
    4x4, a 1x1 :class:`BasicConv2d` to 128 channels (``conv``), ``fc1`` (2048 -> 1024) with ReLU
    and dropout, ``fc2`` (1024 -> ``num_classes``).

    Parameters
    ----------
    in_channels, num_classes : int
    dropout : float
    dtype : {float32, float64}
    """

    def __init__(self, in_channels, num_classes, dropout=0.7, dtype=np.float32):
        super().__init__()
        self._args = {"in_channels": as_int(in_channels, "in_channels", 1),
                      "num_classes": as_int(num_classes, "num_classes", 1),
                      "dropout": float(dropout), "dtype": np.dtype(dtype).name}
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = BasicConv2d(in_channels, 128, 1, dtype=dtype)
        self.fc1 = nn.Linear(2048, 1024, dtype=dtype)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes, dtype=dtype)

    def forward(self, x):
        h = self.conv.forward(self.pool.forward(x))
        self._conv_shape = h.shape
        h = self.relu.forward(self.fc1.forward(h.reshape(h.shape[0], -1)))
        return self.fc2.forward(self.dropout.forward(h))

    def backward(self, grad_output):
        g = self.fc1.backward(self.relu.backward(self.dropout.backward(
            self.fc2.backward(grad_output))))
        return self.pool.backward(self.conv.backward(g.reshape(self._conv_shape)))

    def output_shape(self, input_shape):
        return (input_shape[0], self._args["num_classes"])

    def get_config(self):
        return dict(self._args)


# What ``transform_input`` does: torchvision's weights were trained (ported) with inputs scaled to
# [-1, 1], x / 127.5 - 1; from ImageNet-normalised input (x/255 - mean) / std that is
# x_norm * (std / 0.5) + (mean - 0.5) / 0.5, per channel.
_TRANSFORM_SCALE = np.array([0.229, 0.224, 0.225]) / 0.5
_TRANSFORM_SHIFT = (np.array([0.485, 0.456, 0.406]) - 0.5) / 0.5


#: torchvision's inception blocks: name -> (in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)
BLOCKS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "maxpool3": None,
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "maxpool4": None,
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    """GoogLeNet as torchvision's ``googlenet``. Any input of at least 32x32 pixels.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    dropout : float
    dtype : {float32, float64}
    aux_logits : bool
        Build the auxiliary classifiers ``aux1`` (on ``inception4a``'s output) and ``aux2`` (on
        ``inception4d``'s), so that a state dict holding them loads strictly. ``forward`` does not
        run them (the network's output is the main classifier's, in training too); they are
        layers of their own that can be called on those features.
    transform_input : bool
        Rescale each channel of ImageNet-normalised input to the [-1, 1] range torchvision's
        published weights were trained on, before the first layer (3 input channels only).
    """

    def __init__(self, num_classes=1000, in_channels=3, dropout=0.2, dtype=np.float32,
                 aux_logits=False, transform_input=False):
        super().__init__()
        self.num_classes, self.in_channels = check_arguments(num_classes, in_channels)
        self.dropout_p, self._dtype = float(dropout), np.dtype(dtype).name
        self.aux_logits, self.transform_input = bool(aux_logits), bool(transform_input)
        if self.transform_input and self.in_channels != 3:
            raise ValueError(f"transform_input needs in_channels=3, got {self.in_channels}")
        self.conv1 = BasicConv2d(self.in_channels, 64, 7, stride=2, padding=3, dtype=dtype)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1, dtype=dtype)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1, dtype=dtype)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, args in BLOCKS.items():
            if args is None:
                k = 3 if name == "maxpool3" else 2
                setattr(self, name, nn.MaxPool2d(k, stride=2, ceil_mode=True))
            else:
                setattr(self, name, Inception(*args, dtype=dtype))
        if self.aux_logits:
            self.aux1 = InceptionAux(512, self.num_classes, dtype=dtype)
            self.aux2 = InceptionAux(528, self.num_classes, dtype=dtype)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(self.dropout_p)
        self.fc = nn.Linear(1024, self.num_classes, dtype=dtype)

    def _body(self):
        """The layers before the dropout and ``fc``, in order, looked up each time."""
        return [m for name, m in self.named_children()
                if name not in ("dropout", "fc", "aux1", "aux2")]

    def _scale(self, dtype):
        return _TRANSFORM_SCALE.astype(dtype).reshape(1, 3, 1, 1)

    def features(self, x):
        """The 1024 pooled features per image (the input of the dropout and ``fc``)."""
        if self.transform_input:
            x = np.asarray(x)
            self._check_input(x)
            x = x * self._scale(x.dtype) + _TRANSFORM_SHIFT.astype(x.dtype).reshape(1, 3, 1, 1)
        for layer in self._body():
            x = layer.forward(x)
        return x.reshape(x.shape[0], -1)

    def forward(self, x):
        h = self.features(x)
        self._pooled_shape = h.shape + (1, 1)
        return self.fc.forward(self.dropout.forward(h))

    def backward(self, grad_output):
        g = self.dropout.backward(self.fc.backward(grad_output)).reshape(self._pooled_shape)
        for layer in reversed(self._body()):
            g = layer.backward(g)
        return g * self._scale(g.dtype) if self.transform_input else g

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"input must be (N, 3, H, W), got shape {x.shape}")

    def output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {"num_classes": self.num_classes, "in_channels": self.in_channels,
                "dropout": self.dropout_p, "dtype": self._dtype, "aux_logits": self.aux_logits,
                "transform_input": self.transform_input}


def googlenet(num_classes=1000, in_channels=3, dropout=0.2, dtype=np.float32, *, weights=None,
              progress=False, aux_logits=False, transform_input=None):
    """GoogLeNet built from inception blocks; see :class:`GoogLeNet`.

    Parameters
    ----------
    weights : str or Weights, optional
        Published weights to load (``"IMAGENET1K_V1"``; see :mod:`convcore.models.pretrained`),
        downloaded on first use. As torchvision does, the file's auxiliary classifiers are loaded
        and then dropped unless ``aux_logits=True``, and ``transform_input`` defaults to True.
    progress : bool
        Report the download on standard error.
    aux_logits : bool
    transform_input : bool, optional
        Default: True with ``weights``, else False.
    """
    if transform_input is None:
        transform_input = weights is not None
    model = build("googlenet", lambda: GoogLeNet(
        num_classes, in_channels, dropout, dtype, aux_logits=aux_logits or weights is not None,
        transform_input=transform_input), weights, progress, num_classes, in_channels)
    if weights is not None and not aux_logits:
        model.aux_logits, model.aux1, model.aux2 = False, None, None
    return model
