"""``convcore filter INPUT OUTPUT``: filter a photograph (PNG, JPEG, ... through Pillow).

Exit status 0 on success, 1 when an image cannot be read or written (missing file, not an image,
Pillow not installed, OUTPUT would overwrite INPUT), 2 for bad arguments, among them a kernel
larger than the image or one whose array cannot fit in memory: refused before it is built.
"""
import os
import sys

import numpy as np

from .._modes import FILTER_BOUNDARIES
from ._apply import apply, edges
from ._kernels import KERNELS, get_kernel

EDGES = "edges"


class CommandError(Exception):
    """A failure reported as one line on stderr with a non-zero exit status."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def add_arguments(parser):
    """Arguments of ``convcore filter``."""
    parser.add_argument("input", metavar="INPUT", help="image to read (any format Pillow reads)")
    parser.add_argument("output", metavar="OUTPUT",
                        help="image to write; the format follows the extension (.png, .jpg, ...)")
    parser.add_argument("--kernel", default="gaussian", choices=sorted(KERNELS) + [EDGES],
                        help="the filter (default: gaussian); 'edges' is the Sobel gradient "
                             "magnitude")
    parser.add_argument("--size", type=int, default=None,
                        help="kernel width for identity/box/mean/gaussian/moving_average "
                             "(gaussian: odd, default 5; at most the image's width and height)")
    parser.add_argument("--sigma", type=float, default=None,
                        help="gaussian standard deviation in pixels (default: (size - 1) / 6)")
    parser.add_argument("--stride", type=int, default=1,
                        help="keep every N-th output pixel along both axes (default 1)")
    parser.add_argument("--boundary", default="mirror", choices=list(FILTER_BOUNDARIES),
                        metavar="{none,zero,mirror,wrap}",
                        help="the lecture's edge rules: none (only where the whole kernel fits: "
                             "the image shrinks by size - 1), zero (black outside), mirror "
                             "(default) or wrap; scipy.signal's fill/symm/... also work")


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise CommandError("Pillow is needed to read and write images: "
                           "pip install 'convcore[image]'") from None
    return Image


def _check_paths(src, dst, Image):
    if not os.path.exists(src):
        raise CommandError(f"input file not found: {src}")
    if not os.path.isfile(src):
        raise CommandError(f"input is not a file: {src}")
    same = os.path.realpath(src) == os.path.realpath(dst)
    if not same and os.path.exists(dst):
        same = os.path.samefile(src, dst)
    if same:
        raise CommandError(f"refusing to overwrite the input {src}: give another OUTPUT")
    ext = os.path.splitext(dst)[1].lower()
    if ext not in Image.registered_extensions():
        raise CommandError(f"cannot tell the image format of OUTPUT {dst!r} from its extension: "
                           f"use .png, .jpg, .tif, ...")
    parent = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(parent):
        raise CommandError(f"the folder of OUTPUT does not exist: {parent}")


def _read(src, Image):
    """(array, max) of the image: uint8 grey/colour (max 255) or uint16 grey (max 65535)."""
    try:
        with Image.open(src) as img:
            img.load()
            mode = img.mode
            if mode.startswith("I;16"):
                return np.asarray(img, dtype=np.uint16), 65535
            if mode in ("1", "I", "F"):
                img = img.convert("L")
            elif mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif mode not in ("L", "LA", "RGB", "RGBA"):
                img = img.convert("RGB")
            return np.asarray(img), 255
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        # UnidentifiedImageError (not an image) and truncated files are OSErrors
        raise CommandError(f"cannot read {src} as an image: {exc}") from None


def _check_size(name, size, image):
    """A kernel larger than the image along either axis is refused before it is built."""
    if size is None or name == EDGES or not KERNELS[name][1]:
        return
    height, width = image.shape[:2]
    # moving_average is a row (1, size); the other sized kernels are squares
    if size > width or (name != "moving_average" and size > height):
        raise CommandError(f"--size {size} makes the {name} kernel larger than the image "
                           f"({width}x{height} pixels)", 2)


def _filter(image, args):
    """The filtered image as floats in [0, 1]."""
    stride = args.stride
    if stride < 1:
        raise CommandError(f"--stride must be positive, got {stride}", 2)
    _check_size(args.kernel, args.size, image)
    if args.kernel == EDGES:
        if args.size is not None or args.sigma is not None:
            raise CommandError("--size and --sigma do not apply to the edges filter", 2)
        out = edges(image, boundary=args.boundary)[::stride, ::stride]
        zero_sum = True
    else:
        try:
            kernel = get_kernel(args.kernel, size=args.size, sigma=args.sigma)
        except (TypeError, ValueError) as exc:
            raise CommandError(str(exc), 2) from None
        out = apply(image, kernel, boundary=args.boundary, stride=stride)
        zero_sum = abs(float(kernel.sum())) < 1e-9
    if zero_sum:
        # derivative and line filters: their magnitude, stretched to the full range
        out = np.abs(out)
        peak = float(out.max())
        if peak > 0:
            out /= peak
    return np.clip(out, 0.0, 1.0)


def _write(out, top, dst, Image):
    dtype = np.uint16 if top == 65535 else np.uint8
    pixels = np.rint(out * top).astype(dtype)
    img = Image.fromarray(pixels)
    if os.path.splitext(dst)[1].lower() in (".jpg", ".jpeg") and img.mode in ("LA", "RGBA"):
        img = img.convert("L" if img.mode == "LA" else "RGB")     # JPEG has no alpha
    try:
        img.save(dst)
    except (OSError, ValueError, KeyError) as exc:
        raise CommandError(f"cannot write {dst}: {exc}") from None
    return img.size


def run(args):
    """Read, filter, write; one line on stderr and a non-zero status on failure."""
    try:
        Image = _pillow()
        _check_paths(args.input, args.output, Image)
        image, top = _read(args.input, Image)
        out = _filter(image, args)
        width, height = _write(out, top, args.output, Image)
    except CommandError as exc:
        print(f"convcore filter: error: {exc}", file=sys.stderr)
        return exc.status
    print(f"wrote {args.output} ({width}x{height}, kernel {args.kernel})")
    return 0
