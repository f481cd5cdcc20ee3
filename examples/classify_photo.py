"""Classify a photograph with a network pretrained on ImageNet (ResNet-18 by default).

Run:  python examples/classify_photo.py photo.jpg [--arch resnet18] [--top 5]

Without a file name it classifies scikit-image's photograph of a cat (``skimage.data.chelsea``),
when scikit-image is installed. Reading a photograph needs Pillow (``pip install "convcore[image]"``).

1. ``models.resnet18(weights="IMAGENET1K_V1")`` downloads torchvision's published weights on first
   use (45 MB; checked against the SHA-256 recorded in convcore, then cached in
   ``$CONVCORE_HOME/weights`` or ``~/.cache/convcore/weights``) and loads them without torch and
   without running any code from the file.
2. ``weights.transforms()`` prepares the photograph as the network was trained: the shorter side
   resized to 256 pixels, the centre 224x224 cropped, each channel normalised.
3. The softmax of the 1000 outputs, named by ``weights.categories``, gives the top classes.

Offline, step 1 fails with the address of the file and the path to put it at.
"""
import argparse
import sys

import numpy as np
from scipy.special import softmax

from convcore import models


def classify(image, arch="resnet18", weights="IMAGENET1K_V1", top=5, progress=True):
    """The ``top`` most likely ImageNet classes of ``image`` (an (H, W, 3) array) as
    ``[(name, probability), ...]``."""
    entry = models.get_weights(arch, weights)
    model = getattr(models, arch)(weights=entry, progress=progress).eval()
    batch = entry.transforms()(image)[None]          # (1, 3, 224, 224)
    probabilities = softmax(model(batch)[0].astype(np.float64))
    best = np.argsort(probabilities)[::-1][:top]
    return [(entry.categories[i], float(probabilities[i])) for i in best]


def read_photo(path):
    if path is None:
        try:
            from skimage import data
        except ImportError:
            sys.exit("give a photograph to classify (or install scikit-image for its sample cat)")
        return data.chelsea()
    try:
        from PIL import Image
    except ImportError:
        sys.exit('reading a photograph needs Pillow: pip install "convcore[image]"')
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", help="a photograph (JPEG, PNG, ...)")
    parser.add_argument("--arch", default="resnet18", choices=sorted(models.list_weights()),
                        help="network (default resnet18)")
    parser.add_argument("--top", type=int, default=5, help="classes to show (default 5)")
    args = parser.parse_args(argv)
    image = read_photo(args.photo)
    try:
        ranking = classify(image, args.arch, top=args.top)
    except OSError as exc:                           # offline: say where the file goes
        sys.exit(str(exc))
    for name, p in ranking:
        print(f"{p:7.2%}  {name}")


if __name__ == "__main__":
    main()
