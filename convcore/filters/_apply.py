"""Filtering photographs: grey (H, W) or colour (H, W, C) images, channel by channel; 8- and
16-bit photographs scaled to [0, 1] as scikit-image scales them, any other array keeps its values."""
import numbers

import numpy as np

from .. import ndimage, signal
from .._dask import dask_aware
from .._modes import FILTER_BOUNDARIES
from ..signal._separable import separable_factors
from .._validation import as_tuple, check_memory
from ._kernels import sobel_x, sobel_y

_FLOATS = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float32,
           np.dtype(np.float64): np.float64}
# the dtypes photographs come in (Pillow, imageio, scikit-image's data): scaled as img_as_float
# scales them, their maximum to 1.0; a grid of int64 0/1 typed by hand keeps its 0 and 1
_PHOTO_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def as_float_image(image, preserve_range=False):
    """`image` as floats: photographs (uint8, uint16) scaled to [0, 1], anything else as it is.

    The image dtypes uint8 and uint16 are divided by their maximum (255 -> 1.0, 65535 -> 1.0),
    as scikit-image's ``img_as_float`` does, unless ``preserve_range=True``. Every other integer
    dtype (int8 to int64, uint32, uint64) keeps its values, so a grid typed by hand filters to
    the numbers worked out on paper; bools become 0.0 / 1.0 (what both rules give). All of
    these come out as float64 (exact up to 2**53). Floats keep their dtype (float16 becomes
    float32) and their values.

    Examples
    --------
    >>> import numpy as np
    >>> as_float_image(np.array([[0, 51, 255]], dtype=np.uint8))
    array([[0. , 0.2, 1. ]])
    >>> as_float_image(np.array([[0, 51, 255]], dtype=np.uint8), preserve_range=True)
    array([[  0.,  51., 255.]])
    >>> as_float_image(np.array([[0, 1, 255]]))           # int64: the values themselves
    array([[  0.,   1., 255.]])
    """
    image = np.asarray(image)
    kind = image.dtype.kind
    if kind == "f":
        return image.astype(_FLOATS.get(image.dtype, np.float64), copy=False)
    if kind == "b":
        return image.astype(np.float64)
    if kind not in "iu":
        raise TypeError(f"image must hold real numbers (bool, integers or floats), got dtype "
                        f"{image.dtype}")
    out = image.astype(np.float64)
    if image.dtype in _PHOTO_DTYPES and not preserve_range:
        out /= np.iinfo(image.dtype).max
    return out


def _check_image(image):
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) grey or (H, W, C) colour, got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"image must not be empty, got shape {image.shape}")
    return image


def _check_kernel(kernel):
    kernel = np.asarray(kernel)
    if kernel.dtype.kind not in "biuf":
        raise TypeError(f"kernel must hold real numbers, got dtype {kernel.dtype}")
    if kernel.ndim == 1:
        kernel = kernel[np.newaxis, :]
    if kernel.ndim != 2 or kernel.size == 0:
        raise ValueError(f"kernel must be a non-empty 1-D or 2-D array, got shape {kernel.shape}")
    if not np.all(np.isfinite(kernel)):
        raise ValueError("kernel must be finite")
    return kernel


def _check_boundary(boundary):
    """The scipy.signal boundary that `boundary` runs as (None for 'none', mode='valid')."""
    if not isinstance(boundary, str) or boundary not in FILTER_BOUNDARIES:
        names = ", ".join(FILTER_BOUNDARIES)
        raise ValueError(f"boundary must be one of {names}; got {boundary!r}")
    return FILTER_BOUNDARIES[boundary]


def _check_fits(image_shape, kernel_shape):
    """Under the rule 'none' an output pixel needs the whole kernel inside the image."""
    h, w = image_shape[:2]
    if kernel_shape[0] > h or kernel_shape[1] > w:
        raise ValueError(f"kernel of shape {tuple(kernel_shape)} is larger than the image "
                         f"({h}, {w}): with boundary='none' (only where the whole kernel fits) "
                         f"there is no output")


_NDIMAGE_MODE = {"fill": "constant", "pad": "constant", "symm": "reflect", "symmetric": "reflect",
                 "wrap": "wrap", "circular": "wrap"}


def _planes(work):
    """The image as a C-contiguous stack of planes (C, H, W) (one plane for a grey image)."""
    if work.ndim == 2:
        return np.ascontiguousarray(work)[np.newaxis]
    return np.ascontiguousarray(np.moveaxis(work, -1, 0))


def _filter_planes(planes, kernel, boundary, stride, cval):
    """Correlate every plane with `kernel` (signal's 'same' centring, or 'valid' for boundary
    None); float planes in and out."""
    if boundary is None:
        _check_fits(planes.shape[1:], kernel.shape)
        if stride != (1, 1):
            return np.stack([signal.correlate2d(p, kernel, mode="valid", stride=stride)
                             for p in planes])
        # where the whole kernel fits, the 'same' result never reads outside: cut it out
        (k0, k1), (h, w) = kernel.shape, planes.shape[1:]
        y, x = (k0 - 1) // 2, (k1 - 1) // 2      # the first 'same' pixel whose kernel fits
        same = _filter_planes(planes, kernel, "fill", stride, 0.0)
        return same[:, y:y + h - k0 + 1, x:x + w - k1 + 1].copy()
    if stride != (1, 1):
        return np.stack([signal.correlate2d(p, kernel, mode="same", boundary=boundary,
                                            fillvalue=cval, stride=stride) for p in planes])
    mode = _NDIMAGE_MODE[boundary]
    # scipy.signal's 'same' centre for an even width is one step left of scipy.ndimage's
    origin = [(k - 1) // 2 - k // 2 for k in kernel.shape]
    # two 1-D passes pay off against the direct kernel's K0 * K1 taps for wide kernels only
    wide = kernel.size > 3 * (kernel.shape[0] + kernel.shape[1])
    factors = separable_factors(kernel.astype(np.float64)) if wide else None
    if factors is None:
        return ndimage.correlate(planes, kernel[np.newaxis], mode=mode, cval=cval,
                                 origin=[0] + origin)
    column, row = factors
    out = ndimage.correlate1d(planes, column, axis=1, mode=mode, cval=cval, origin=origin[0])
    # the columns outside the image, once filtered down, hold cval * sum(column)
    return ndimage.correlate1d(out, row, axis=2, mode=mode, cval=cval * float(column.sum()),
                               origin=origin[1])


@dask_aware()
def apply(image, kernel, boundary="mirror", stride=1, cval=0.0, preserve_range=False):
    """Filter a grey or colour image with `kernel` (correlation, the lecture's convention).

    Parameters
    ----------
    image : array_like
        ``(H, W)`` grey or ``(H, W, C)`` colour (each channel filtered on its own). bool, integer
        or float; see Returns for the values a dtype stands for.
    kernel : array_like
        2-D filter (a 1-D one is a row), e.g. from :mod:`convcore.filters`. ``kernel[0, 0]`` meets
        the upper-left neighbour; the centre is ``kernel[K0 // 2, K1 // 2]`` for odd widths, and
        the output has the image's size before the stride (SciPy's
        ``correlate2d(..., mode='same')``, even widths centred as it centres them).
    boundary : {'mirror', 'none', 'zero', 'wrap', 'fill', 'symm', ...}, optional
        The lecture's edge rules: ``'none'`` filters only where the whole kernel fits, so the
        output shrinks by ``K - 1`` (scipy.signal's ``mode='valid'``; ``'valid'`` is an alias);
        ``'zero'`` reads 0 outside the image; ``'mirror'`` (default) reflects the image about its
        edge, the edge pixel repeated (scipy.signal's ``'symm'``, scipy.ndimage's ``'reflect'``,
        not its ``'mirror'``); ``'wrap'`` is periodic. scipy.signal's names are accepted too:
        ``'fill'`` reads `cval` outside, ``'symm'``/``'symmetric'``, ``'pad'``, ``'circular'``.
    stride : int or (int, int), optional
        Keep every `stride`-th output pixel along y and x (computing only those).
    cval : float, optional
        The value outside the image for ``boundary='fill'``, in the float image's range
        (``'zero'`` takes none but 0).
    preserve_range : bool, optional
        True keeps the values of uint8 and uint16 images too (no scaling to [0, 1]).

    Returns
    -------
    out : ndarray
        float64 (float32 for a float32 or float16 image), ``(ceil(H / s0), ceil(W / s1)[, C])``
        (with ``boundary='none'``: ``H - K0 + 1`` and ``W - K1 + 1`` before the stride).
        The values are those of the image filtered as floats, where only the photograph dtypes
        are rescaled: uint8 and uint16 are divided by 255 and 65535 (scikit-image's
        ``img_as_float``; not with ``preserve_range=True``); every other integer (int8 ... int64,
        uint32, uint64), bool (0 and 1) and float keeps its values, so the horizontal-line
        detector on a one-pixel line of int64 ones gives 6. Values are not clipped: an edge
        filter gives negative values.

    Notes
    -----
    A wide kernel that factorises into a column times a row (box, Gaussian) runs as two 1-D
    passes of :mod:`convcore.ndimage`, so the lecture's 101x101 Gaussian costs 2 x 101 instead
    of 101**2 multiply-adds per pixel; small and non-separable kernels run on the direct N-D
    kernel. Colour channels are filtered as one stack of planes.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import filters
    >>> image = np.zeros((5, 5), dtype=np.uint8)
    >>> image[2] = 255
    >>> filters.apply(image, filters.line_horizontal())[1:4, 2]
    array([-3.,  6., -3.])
    >>> filters.apply(np.ones((4, 6, 3), np.float32), filters.box(3), stride=2).shape
    (2, 3, 3)
    >>> filters.apply(np.ones((8, 8)), filters.box(3), boundary="none").shape   # the slides' 'none'
    (6, 6)
    """
    image = _check_image(image)
    kernel = _check_kernel(kernel)
    rule = _check_boundary(boundary)
    stride = as_tuple(stride, 2, "stride")
    if not isinstance(cval, numbers.Real) or not np.isfinite(cval):
        raise ValueError(f"cval must be a finite real number, got {cval!r}")
    if boundary == "zero" and cval != 0:
        raise ValueError(f"boundary='zero' reads 0 outside the image, so cval must be 0, got "
                         f"{cval!r}: use boundary='fill' for another value")
    work = as_float_image(image, preserve_range)
    if rule is not None:
        # the edge rules filter the image padded by the kernel's reach: refuse what cannot fit
        k0, k1 = kernel.shape
        check_memory((image.size // (image.shape[0] * image.shape[1]), image.shape[0] + k0 - 1,
                      image.shape[1] + k1 - 1), work.itemsize,
                     f"kernel of shape {kernel.shape} (the image padded by its reach)")
    out = _filter_planes(_planes(work), kernel.astype(work.dtype, copy=False), rule, stride,
                         float(work.dtype.type(cval)))
    return out[0] if work.ndim == 2 else np.moveaxis(out, 0, -1)


def edges(image, boundary="mirror", preserve_range=False):
    """Gradient magnitude by the Sobel filter, as scikit-image's ``filters.sobel`` computes it.

    With ``Gx`` and ``Gy`` the image correlated with ``sobel_x() / 4`` and ``sobel_y() / 4``
    (derivatives whose smoothing weights sum to 1), the result is ``sqrt((Gx**2 + Gy**2) / 2)``:
    0 on flat regions, ``1 / sqrt(2)`` on a sharp step from 0 to 1 (a step along one axis).
    Colour images give one magnitude per channel.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(H, W, C)``, as for :func:`apply`.
    boundary : {'mirror', 'none', 'zero', 'wrap', ...}, optional
        Edge rule, as for :func:`apply` ('fill' reads 0 outside; 'none' drops a one-pixel rim).
    preserve_range : bool, optional
        As for :func:`apply` (uint8 and uint16 are scaled to [0, 1] unless True; other dtypes
        keep their values).

    Returns
    -------
    out : ndarray
        The magnitude, float64 (float32 for float32 images), the image's shape.

    Examples
    --------
    >>> import numpy as np
    >>> from convcore import filters
    >>> step = np.zeros((4, 6))
    >>> step[:, 3:] = 1.0
    >>> np.round(filters.edges(step)[0], 4)
    array([0.    , 0.    , 0.7071, 0.7071, 0.    , 0.    ])
    """
    image = _check_image(image)
    rule = _check_boundary(boundary)
    work = as_float_image(image, preserve_range)
    planes = _planes(work)
    out = None
    for kernel in (sobel_x(), sobel_y()):
        g = _filter_planes(planes, (kernel / 4.0).astype(work.dtype), rule, (1, 1), 0.0)
        g *= g
        out = g if out is None else np.add(out, g, out=out)
    out /= 2
    np.sqrt(out, out=out)
    return out[0] if work.ndim == 2 else np.moveaxis(out, 0, -1)
