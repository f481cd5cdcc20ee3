"""Published ImageNet weights by name: the table of files, the class names and the preprocessing.

``models.resnet18(weights="IMAGENET1K_V1")`` looks the name up here, downloads torchvision's file on
first use (:mod:`convcore.models._hub`: cached, checked, never run as code) and loads it. The
:class:`Weights` entry also gives what a photograph needs before the network sees it
(:meth:`Weights.transforms`) and what the 1000 outputs mean (:attr:`Weights.categories`).

About the checksums: torchvision names each file after the first hexadecimal digits of its SHA-256
(``resnet18-f37072fd.pth``). Where this table records the file's full SHA-256 the download must
match it exactly; where it does not (the full digests of the published files could not be read
when this table was written) the digest must start with the prefix in the file name — what
``torch.hub`` checks with ``check_hash=True`` — which catches truncated or corrupt downloads but
not a file forged to match 32 bits.

Examples
--------
>>> from convcore import models
>>> w = models.get_weights("resnet18", "IMAGENET1K_V1")
>>> w.filename, w.num_classes, w.categories[:2]
('resnet18-f37072fd.pth', 1000, ('tench', 'goldfish'))
>>> import numpy as np
>>> photo = np.zeros((300, 400, 3), dtype=np.uint8)
>>> w.transforms()(photo).shape
(3, 224, 224)
"""
import numpy as np

from . import _hub
from ._base import check_arguments
from ._imagenet_classes import IMAGENET_CATEGORIES
from .weights import load_weights

__all__ = ["Weights", "ImageClassification", "get_weights", "list_weights", "WEIGHTS"]

_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _resize_matrix(n_in, n_out):
    """(n_out, n_in) weights of an antialiased linear (triangle) resampling, as Pillow's and
    torchvision's ``antialias=True`` bilinear resize: when shrinking, the triangle widens by the
    scale so every input pixel contributes."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centers = (np.arange(n_out) + 0.5) * scale
    x = np.arange(n_in) + 0.5
    w = np.maximum(0.0, 1.0 - np.abs(x[None, :] - centers[:, None]) / support)
    return w / w.sum(axis=1, keepdims=True)


class ImageClassification:
    """A photograph in, the network's input out: resize the shorter side to ``resize_size``
    (antialiased bilinear), crop the centre ``crop_size`` square, scale to [0, 1] and normalise
    each channel with ImageNet's ``mean`` and ``std`` — torchvision's ``ImageClassification``.

    Parameters
    ----------
    crop_size, resize_size : int
    mean, std : sequence of 3 floats

    Call it on an (H, W, 3) array (uint8 in [0, 255], or floats in [0, 1]), an (H, W) grey image
    (repeated to three channels) or a Pillow image; it returns a float32 (3, crop, crop) array.
    Stack several with ``np.stack`` to make a batch.
    """

    def __init__(self, crop_size=224, resize_size=256, mean=_MEAN, std=_STD):
        self.crop_size, self.resize_size = int(crop_size), int(resize_size)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    def __call__(self, image):
        img = np.asarray(image)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if img.ndim != 3 or img.shape[2] not in (3, 4) or min(img.shape[:2]) < 1:
            raise ValueError(f"image must be an (H, W), (H, W, 3) or (H, W, 4) array, got shape "
                             f"{img.shape}")
        if img.dtype.kind not in "uif" and img.dtype != bool:
            raise TypeError(f"image must hold numbers, got dtype {img.dtype}")
        x = img[:, :, :3].astype(np.float64)
        if img.dtype.kind in "ui":
            x /= 255.0
        h, w = x.shape[:2]
        short, long = (h, w) if h <= w else (w, h)
        new_long = int(self.resize_size * long / short)
        new_h, new_w = (self.resize_size, new_long) if h <= w else (new_long, self.resize_size)
        if new_h < self.crop_size or new_w < self.crop_size:
            raise ValueError(f"resize_size {self.resize_size} is smaller than crop_size "
                             f"{self.crop_size}")
        x = np.einsum("oh,hwc->owc", _resize_matrix(h, new_h), x)
        x = np.einsum("pw,owc->opc", _resize_matrix(w, new_w), x)
        top = int(round((new_h - self.crop_size) / 2.0))
        left = int(round((new_w - self.crop_size) / 2.0))
        x = x[top:top + self.crop_size, left:left + self.crop_size].astype(np.float32)
        x = (x - self.mean) / self.std
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def __repr__(self):
        return (f"ImageClassification(crop_size={self.crop_size}, resize_size={self.resize_size}, "
                f"mean={tuple(self.mean.round(3).tolist())}, std={tuple(self.std.round(3).tolist())})")


class Weights:
    """One published set of weights for one architecture.

    Attributes
    ----------
    arch : str
        The builder's name in :mod:`convcore.models` (``"resnet18"``).
    name : str
        torchvision's name for the weights (``"IMAGENET1K_V1"``).
    filename : str
        The published file name; its last ``-`` part starts the file's SHA-256.
    sha256 : str or None
        The full SHA-256 when it is known; see the module's note on checksums.
    num_classes : int
    categories : tuple of str
        The name of each output class, in order.
    accuracy : dict
        The top-1 and top-5 ImageNet accuracies torchvision reports for these weights.
    """

    def __init__(self, arch, name, filename, accuracy, sha256=None, crop_size=224,
                 resize_size=256, categories=IMAGENET_CATEGORIES):
        self.arch, self.name, self.filename, self.sha256 = arch, name, filename, sha256
        self.accuracy, self.categories = dict(accuracy), tuple(categories)
        self.num_classes = len(self.categories)
        self.crop_size, self.resize_size = crop_size, resize_size

    def url(self, base_url=None):
        """The address the file is downloaded from (see :func:`convcore.models._hub.weights_url`)."""
        return _hub.weights_url(self.filename, base_url)

    def get_path(self, base_url=None, progress=False):
        """The cached file's path, downloading and checking it on first use."""
        return _hub.fetch(self.filename, self.sha256, base_url=base_url, progress=progress)

    def transforms(self):
        """The preprocessing these weights were trained with, as an :class:`ImageClassification`."""
        return ImageClassification(self.crop_size, self.resize_size)

    def __repr__(self):
        return f"Weights({self.arch!r}, {self.name!r}, {self.filename!r})"


def _table(*entries):
    table = {}
    for entry in entries:
        table.setdefault(entry.arch, {})[entry.name] = entry
    return table


#: Every published set: architecture -> weights name -> :class:`Weights`. The file names and
#: accuracies are torchvision's; no full SHA-256 is recorded yet (see the module's note).
WEIGHTS = _table(
    Weights("alexnet", "IMAGENET1K_V1", "alexnet-owt-7be5be79.pth", {"acc@1": 56.522, "acc@5": 79.066}),
    Weights("vgg11", "IMAGENET1K_V1", "vgg11-8a719046.pth", {"acc@1": 69.02, "acc@5": 88.628}),
    Weights("vgg16", "IMAGENET1K_V1", "vgg16-397923af.pth", {"acc@1": 71.592, "acc@5": 90.382}),
    Weights("resnet18", "IMAGENET1K_V1", "resnet18-f37072fd.pth", {"acc@1": 69.758, "acc@5": 89.078}),
    Weights("resnet34", "IMAGENET1K_V1", "resnet34-b627a593.pth", {"acc@1": 73.314, "acc@5": 91.42}),
    Weights("googlenet", "IMAGENET1K_V1", "googlenet-1378be20.pth", {"acc@1": 69.778, "acc@5": 89.53}),
)


def list_weights(arch=None):
    """The names of the published weights: ``{arch: [names]}``, or the list for one ``arch``."""
    if arch is None:
        return {a: list(names) for a, names in WEIGHTS.items()}
    return list(_table_for(arch))


def _table_for(arch):
    if arch not in WEIGHTS:
        raise ValueError(f"no published weights for {arch!r}; architectures with weights: "
                         f"{', '.join(WEIGHTS)}")
    return WEIGHTS[arch]


def get_weights(arch, weights):
    """Look up published weights.

    Parameters
    ----------
    arch : str
        A builder's name: ``"alexnet"``, ``"vgg11"``, ``"vgg16"``, ``"resnet18"``, ``"resnet34"``
        or ``"googlenet"``.
    weights : str or Weights
        A name from :func:`list_weights` (``"IMAGENET1K_V1"``), ``"DEFAULT"`` (the best published
        set), or a :class:`Weights` for that architecture.

    Returns
    -------
    Weights

    Raises
    ------
    ValueError
        For an architecture without published weights or an unknown name.
    """
    table = _table_for(arch)
    if isinstance(weights, Weights):
        if weights.arch != arch:
            raise ValueError(f"weights are for {weights.arch}, not {arch}")
        return weights
    if not isinstance(weights, str):
        raise TypeError(f"weights must be a name such as 'IMAGENET1K_V1' or a Weights, got "
                        f"{type(weights).__name__}")
    if weights == "DEFAULT":
        return list(table.values())[-1]
    if weights not in table:
        raise ValueError(f"unknown weights {weights!r} for {arch}; published: "
                         f"{', '.join(table)} (or 'DEFAULT')")
    return table[weights]


def build(arch, make, weights, progress, num_classes, in_channels):
    """``make()``, with the published ``weights`` loaded when they are given (the builders' shared
    step): the arguments are checked and the file fetched before the network is allocated."""
    if weights is None:
        return make()
    entry = get_weights(arch, weights)
    num_classes, in_channels = check_arguments(num_classes, in_channels)
    if num_classes != entry.num_classes or in_channels != 3:
        raise ValueError(f"weights {entry.name} are for {entry.num_classes} classes and 3 input "
                         f"channels; got num_classes={num_classes}, in_channels={in_channels} "
                         f"(load them, then replace the head for another number of classes)")
    return load_weights(make(), entry.get_path(progress=progress))
