"""The lecture's ready filters as small float64 arrays, and a registry of them by name.

Every kernel is meant for *correlation*, the lecture's ``C[m, n] = sum h[i + w, j + w] A[m + i,
n + j]`` (no flip), which is what :func:`convcore.filters.apply` and ``scipy.ndimage.correlate`` do:
``h[0, 0]`` meets the upper-left neighbour. Axis 0 is y (rows, downwards), axis 1 is x (columns).

The builders that take a size refuse, with a ValueError naming it and before allocating, a kernel
whose float64 array needs more bytes than the memory available now (Linux's ``MemAvailable``,
else ``os.sysconf``): ``box(99999)`` would take 74.5 GiB.
"""
import numpy as np

from .._validation import as_int, check_memory


def _odd_size(size, name="size"):
    size = as_int(size, name, 1)
    if size % 2 == 0:
        raise ValueError(f"{name} must be odd, got {size}")
    return size


def _ndim(ndim):
    return as_int(ndim, "ndim", 1)


def _cube(size, ndim):
    """The shape ``(size,) * ndim``, refused when its float64 array cannot fit in memory."""
    shape = (size,) * ndim
    check_memory(shape, 8, f"size={size}" + (f", ndim={ndim}" if ndim != 2 else ""))
    return shape


def identity(size=3, ndim=2):
    """The identity: a single 1 in the centre of a ``size``-wide cube (the output is the input).

    Examples
    --------
    >>> identity()
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 0.]])
    """
    size, ndim = _odd_size(size), _ndim(ndim)
    k = np.zeros(_cube(size, ndim))
    k[(size // 2,) * ndim] = 1.0
    return k


def box(size=3, ndim=2):
    """The box (mean) filter: ``size**ndim`` equal weights summing to 1; each output is the mean
    of its neighbourhood.

    Examples
    --------
    >>> box(3) * 9
    array([[1., 1., 1.],
           [1., 1., 1.],
           [1., 1., 1.]])
    """
    size, ndim = as_int(size, "size", 1), _ndim(ndim)
    return np.full(_cube(size, ndim), 1.0 / size**ndim)


def moving_average(length=5, weight=None):
    """The lecture's 1-D moving average: a row of ``length`` equal weights, ``1 / length`` each
    (the mean of ``length`` neighbours), or ``weight`` each when given (the lecture's 1x5 slide
    uses 0.5). Shape ``(1, length)``, a row filter for images; ``.ravel()`` gives the 1-D one.

    Examples
    --------
    >>> moving_average()
    array([[0.2, 0.2, 0.2, 0.2, 0.2]])
    >>> moving_average(5, weight=0.5).ravel()
    array([0.5, 0.5, 0.5, 0.5, 0.5])
    """
    length = as_int(length, "length", 1)
    check_memory((1, length), 8, f"length={length}")
    if weight is None:
        weight = 1.0 / length
    weight = float(weight)
    if not np.isfinite(weight):
        raise ValueError(f"weight must be finite, got {weight}")
    return np.full((1, length), weight)


def gaussian(size=5, sigma=None, ndim=2):
    """The Gaussian blur: ``exp(-r**2 / (2 sigma**2))`` sampled on a ``size``-wide cube around the
    centre, normalised to sum 1. ``sigma`` defaults to ``(size - 1) / 6`` (the cube spans +-3 sigma,
    so the lecture's 101x101 blur has sigma 50/3); it is the product of 1-D Gaussians, so the
    filters run it as separable passes.

    Examples
    --------
    >>> k = gaussian(3, sigma=1.0)
    >>> k.shape, round(float(k.sum()), 12), bool(k[1, 1] > k[0, 1] > k[0, 0])
    ((3, 3), 1.0, True)
    """
    size, ndim = _odd_size(size), _ndim(ndim)
    _cube(size, ndim)
    if sigma is None:
        sigma = max((size - 1) / 6.0, 1e-12) if size > 1 else 1.0
    sigma = float(sigma)
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive, got {sigma}")
    r = np.arange(size) - size // 2
    g = np.exp(-0.5 * (r / sigma) ** 2)
    g /= g.sum()
    k = g
    for _ in range(ndim - 1):
        k = np.multiply.outer(k, g)
    return k


def sharpen():
    """Sharpen: the image plus its negative Laplacian, ``[[0,-1,0],[-1,5,-1],[0,-1,0]]`` (weights
    sum to 1, so flat regions keep their value and edges are boosted).

    Examples
    --------
    >>> sharpen()
    array([[ 0., -1.,  0.],
           [-1.,  5., -1.],
           [ 0., -1.,  0.]])
    """
    return np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])


def laplacian(ndim=2):
    """The discrete Laplacian: ``-2 * ndim`` in the centre and 1 at each of the ``2 * ndim`` nearest
    neighbours (``[[0,1,0],[1,-4,1],[0,1,0]]`` in 2-D); weights sum to 0.

    Examples
    --------
    >>> laplacian()
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    ndim = _ndim(ndim)
    k = np.zeros((3,) * ndim)
    centre = (1,) * ndim
    k[centre] = -2.0 * ndim
    for axis in range(ndim):
        for side in (0, 2):
            idx = list(centre)
            idx[axis] = side
            k[tuple(idx)] = 1.0
    return k


def _gradient(smooth, axis):
    """3x3 derivative along `axis` (0: y, 1: x): [-1, 0, 1] along it, `smooth` across it."""
    diff = np.array([-1.0, 0.0, 1.0])
    smooth = np.asarray(smooth, dtype=float)
    return np.outer(diff, smooth) if axis == 0 else np.outer(smooth, diff)


def sobel_x():
    """Sobel derivative along x (columns): ``[[-1,0,1],[-2,0,2],[-1,0,1]]``; positive where the
    image gets brighter to the right.

    Examples
    --------
    >>> sobel_x()
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    """
    return _gradient([1, 2, 1], 1)


def sobel_y():
    """Sobel derivative along y (rows, downwards): the transpose of :func:`sobel_x`.

    Examples
    --------
    >>> sobel_y()
    array([[-1., -2., -1.],
           [ 0.,  0.,  0.],
           [ 1.,  2.,  1.]])
    """
    return _gradient([1, 2, 1], 0)


def prewitt_x():
    """Prewitt derivative along x: ``[[-1,0,1],[-1,0,1],[-1,0,1]]``.

    Examples
    --------
    >>> prewitt_x()[0]
    array([-1.,  0.,  1.])
    """
    return _gradient([1, 1, 1], 1)


def prewitt_y():
    """Prewitt derivative along y: the transpose of :func:`prewitt_x`.

    Examples
    --------
    >>> prewitt_y()[:, 0]
    array([-1.,  0.,  1.])
    """
    return _gradient([1, 1, 1], 0)


def scharr_x():
    """Scharr derivative along x: ``[[-3,0,3],[-10,0,10],[-3,0,3]]`` (better rotation symmetry).

    Examples
    --------
    >>> scharr_x()[1]
    array([-10.,   0.,  10.])
    """
    return _gradient([3, 10, 3], 1)


def scharr_y():
    """Scharr derivative along y: the transpose of :func:`scharr_x`.

    Examples
    --------
    >>> scharr_y()[:, 1]
    array([-10.,   0.,  10.])
    """
    return _gradient([3, 10, 3], 0)


def line_horizontal():
    """The lecture's horizontal line detector: 2 along the middle row, -1 above and below
    (weights sum to 0: flat regions give 0, a bright one-pixel horizontal line gives 6).

    Examples
    --------
    >>> line_horizontal()
    array([[-1., -1., -1.],
           [ 2.,  2.,  2.],
           [-1., -1., -1.]])
    """
    return np.array([[-1.0, -1.0, -1.0], [2.0, 2.0, 2.0], [-1.0, -1.0, -1.0]])


def line_vertical():
    """The lecture's vertical line detector: 2 down the middle column, -1 left and right.

    Examples
    --------
    >>> line_vertical()
    array([[-1.,  2., -1.],
           [-1.,  2., -1.],
           [-1.,  2., -1.]])
    """
    return line_horizontal().T.copy()


def line_diagonal_45():
    """The lecture's +45 degree line detector: 2 along the rising diagonal (lower left to upper
    right, as a line of slope +1 appears in an image whose rows go down), -1 elsewhere.

    Examples
    --------
    >>> line_diagonal_45()
    array([[-1., -1.,  2.],
           [-1.,  2., -1.],
           [ 2., -1., -1.]])
    """
    return np.fliplr(line_diagonal_135()).copy()


def line_diagonal_135():
    """The lecture's -45 degree line detector: 2 along the falling diagonal (upper left to lower
    right), -1 elsewhere.

    Examples
    --------
    >>> line_diagonal_135()
    array([[ 2., -1., -1.],
           [-1.,  2., -1.],
           [-1., -1.,  2.]])
    """
    return 3.0 * np.eye(3) - 1.0


def emboss():
    """Emboss: ``[[-2,-1,0],[-1,1,1],[0,1,2]]``, a relief lit from the lower right (weights sum
    to 1, so flat regions keep their value).

    Examples
    --------
    >>> emboss()
    array([[-2., -1.,  0.],
           [-1.,  1.,  1.],
           [ 0.,  1.,  2.]])
    """
    return np.array([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])


#: name -> (factory, takes a size, takes a sigma). The names the command line accepts.
KERNELS = {
    "identity": (identity, True, False),
    "box": (box, True, False),
    "mean": (box, True, False),
    "gaussian": (gaussian, True, True),
    "moving_average": (moving_average, True, False),
    "sharpen": (sharpen, False, False),
    "laplacian": (laplacian, False, False),
    "sobel_x": (sobel_x, False, False),
    "sobel_y": (sobel_y, False, False),
    "prewitt_x": (prewitt_x, False, False),
    "prewitt_y": (prewitt_y, False, False),
    "scharr_x": (scharr_x, False, False),
    "scharr_y": (scharr_y, False, False),
    "line_horizontal": (line_horizontal, False, False),
    "line_vertical": (line_vertical, False, False),
    "line_45": (line_diagonal_45, False, False),
    "line_135": (line_diagonal_135, False, False),
    "emboss": (emboss, False, False),
}


def get_kernel(name, size=None, sigma=None):
    """The 2-D kernel called `name` (a key of ``KERNELS``), with its `size` / `sigma` when it
    takes them (the fixed 3x3 ones refuse a size other than 3 or None).

    Examples
    --------
    >>> get_kernel('box', size=3).shape
    (3, 3)
    >>> get_kernel('moving_average', size=5)
    array([[0.2, 0.2, 0.2, 0.2, 0.2]])
    """
    if not isinstance(name, str) or name not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(sorted(KERNELS))}; got {name!r}")
    factory, takes_size, takes_sigma = KERNELS[name]
    if sigma is not None and not takes_sigma:
        raise ValueError(f"sigma applies to the gaussian kernel only, not {name!r}")
    if not takes_size:
        if size is not None and size != 3:
            raise ValueError(f"the {name} kernel is 3x3: size must be 3 or None, got {size}")
        return factory()
    args = {} if size is None else {"size": size}
    if name == "moving_average":
        args = {} if size is None else {"length": size}
    if takes_sigma:
        args["sigma"] = sigma
    return factory(**args)
