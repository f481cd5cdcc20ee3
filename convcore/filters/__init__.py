"""The lecture's filters as ready kernels, and filtering photographs.

Kernels (float64 arrays, for correlation: ``kernel[0, 0]`` meets the upper-left neighbour):
:func:`identity`, :func:`box`, :func:`gaussian`, :func:`moving_average` (the lecture's 1x5),
:func:`sharpen`, :func:`laplacian`, :func:`sobel_x` / :func:`sobel_y`, :func:`prewitt_x` /
:func:`prewitt_y`, :func:`scharr_x` / :func:`scharr_y`, the four line detectors
:func:`line_horizontal`, :func:`line_vertical`, :func:`line_diagonal_45`,
:func:`line_diagonal_135`, and :func:`emboss`; :func:`get_kernel` finds one by name (``KERNELS``).

Photographs: :func:`apply` filters a grey ``(H, W)`` or colour ``(H, W, C)`` image channel by
channel (uint8/uint16 photographs scaled to [0, 1] floats as scikit-image does, other integers
keep their values) with the lecture's edge rules (none, zero, mirror, wrap), :func:`edges`
gives the Sobel gradient magnitude. The command line: ``convcore filter INPUT OUTPUT --kernel
gaussian --size 101 --boundary none``.

Examples
--------
>>> import numpy as np
>>> from convcore import filters
>>> image = np.zeros((7, 7))
>>> image[:, 3] = 1.0                       # a vertical line
>>> float(filters.apply(image, filters.line_vertical())[3, 3])
6.0
>>> float(filters.apply(image, filters.line_horizontal())[3, 3])
0.0
"""
from ._apply import apply, as_float_image, edges
from ._kernels import (KERNELS, box, emboss, gaussian, get_kernel, identity, laplacian,
                       line_diagonal_45, line_diagonal_135, line_horizontal, line_vertical,
                       moving_average, prewitt_x, prewitt_y, scharr_x, scharr_y, sharpen, sobel_x,
                       sobel_y)

__all__ = ["KERNELS", "apply", "as_float_image", "box", "edges", "emboss", "gaussian",
           "get_kernel", "identity", "laplacian", "line_diagonal_45", "line_diagonal_135",
           "line_horizontal", "line_vertical", "moving_average", "prewitt_x", "prewitt_y",
           "scharr_x", "scharr_y", "sharpen", "sobel_x", "sobel_y"]
