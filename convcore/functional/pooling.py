"""Max, average and global average pooling over 1-D, 2-D and 3-D inputs, with their gradients.

Inputs are channels-first, ``(N, C, *spatial)`` (or unbatched ``(C, *spatial)``), as in PyTorch, and
keep their float dtype; integer and boolean inputs are pooled in float64. The arguments follow
``torch.nn.functional``: ``stride=None`` means ``stride = kernel_size``, ``padding`` is implicit
(``-inf`` for max pooling, zeros for average pooling) and at most half the kernel.
"""
import math

import numpy as np

from .._cpu import load
from .._threads import threads_for
from .._validation import as_float_array, as_int, as_tuple

_pooling = load("pooling")  # the widest build this CPU may run (the same results in each)

# Elements a thread should have to read before a second one is worth waking.
_GRAIN = 1 << 16

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_backward", "max_pool2d_backward", "max_pool3d_backward",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "avg_pool1d_backward", "avg_pool2d_backward", "avg_pool3d_backward",
    "global_avg_pool", "global_avg_pool_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
]


def _pool_input(x, nd, name="x"):
    """Return (array, batched): x as a float array of ndim nd + 2 (a batch axis added if missing)."""
    arr = np.asarray(x)
    if arr.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{name} must be {nd + 2}-D (N, C, *spatial) or {nd + 1}-D (C, *spatial) "
                         f"for {nd}-D pooling, got shape {arr.shape}")
    arr = as_float_array(arr, name, empty_batch=arr.ndim == nd + 2)
    return (arr if arr.ndim == nd + 2 else arr[np.newaxis]), arr.ndim == nd + 2


def check_padding(kernel, padding):
    """PyTorch's rule: padding up to half the kernel's taps along each axis, whatever the
    dilation."""
    if any(2 * p > k for k, p in zip(kernel, padding)):
        raise ValueError(f"padding must be at most half the kernel size, got padding={padding} "
                         f"for kernel_size={kernel}")


def _geometry(spatial, nd, kernel_size, stride, padding, dilation, ceil_mode):
    """Check the window arguments against the spatial shape; return the (6, 3) geometry array
    expected by the kernels and the output spatial shape."""
    kernel = as_tuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None else as_tuple(stride, nd, "stride")
    padding = as_tuple(padding, nd, "padding", min_value=0)
    dilation = as_tuple(dilation, nd, "dilation")
    check_padding(kernel, padding)
    out = []
    for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        room = n + 2 * p - (k - 1) * d - 1
        # PyTorch's count: with ceil_mode a window may run past the padded input's end, as long
        # as it starts inside the input or the padding before it
        o = (-(-room // s) if ceil_mode else room // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        if o < 1:
            raise ValueError(f"kernel_size {kernel} is larger than the padded input {tuple(spatial)} "
                             f"(padding={padding})")
        out.append(o)
    lead = 3 - nd  # 1-D and 2-D pool as 3-D with singleton leading axes
    rows = (spatial, out, kernel, stride, padding, dilation)
    fill = (1, 1, 1, 1, 0, 1)
    geometry = np.array([(f,) * lead + tuple(r) for r, f in zip(rows, fill)], dtype=np.int64)
    return geometry, tuple(out)


def _one_value_windows(geometry):
    """Whether every plane is one value (1x1 maps) and its one window reads it: along each axis
    one output, and a tap ``t`` with ``t * dilation == padding``."""
    return all(n == 1 and n_out == 1 and p % d == 0 and p // d < k
               for n, n_out, k, _, p, d in geometry.T.tolist())


def _max_pool(x, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    arr, batched = _pool_input(x, nd)
    geometry, out_spatial = _geometry(arr.shape[2:], nd, kernel_size, stride, padding, dilation,
                                      bool(ceil_mode))
    planes = arr.shape[0] * arr.shape[1]
    if not return_indices and _one_value_windows(geometry):
        # every window holds its plane's one value (GoogLeNet's 3x3 pool of 1x1 maps: 0.29 ms
        # by the kernel's padded planes, one thread, against 0.02 for the copy)
        y = arr.reshape(planes, 1).copy()
    else:
        y = np.empty((planes, int(np.prod(out_spatial))), dtype=arr.dtype)
        indices = np.empty(y.shape, dtype=np.int64) if return_indices else None
        _pooling.max_forward(_planes(arr), y, indices, geometry, threads_for(arr.size, _GRAIN))
    shape = arr.shape[:2] + out_spatial if batched else arr.shape[1:2] + out_spatial
    y = y.reshape(shape)
    return (y, indices.reshape(shape)) if return_indices else y


def _planes(a):
    """(N, C, *spatial) as (N * C, positions), also for N = 0."""
    return a.reshape(a.shape[0] * a.shape[1], math.prod(a.shape[2:]))


def _input_shape(shape, name, ndims):
    """`shape` as a tuple of ints, of one of the lengths `ndims`: positive, but for a batch of
    no items (N = 0) when it has the longest length."""
    if not isinstance(shape, (tuple, list)) or len(shape) not in ndims:
        return None
    lowest = [0 if i == 0 and len(shape) == max(ndims) else 1 for i in range(len(shape))]
    return tuple(as_int(s, name, m) for s, m in zip(shape, lowest))


def _check_shape(shape, nd, name):
    checked = _input_shape(shape, name, (nd + 1, nd + 2))
    if checked is None:
        raise ValueError(f"{name} must be a tuple of {nd + 2} (or {nd + 1}) positive ints, got {shape!r}")
    return checked


def _max_pool_backward(grad_output, indices, input_shape, nd):
    input_shape = _check_shape(input_shape, nd, "input_shape")
    grad, _ = _pool_input(grad_output, nd, "grad_output")
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"indices must hold integers, got dtype {idx.dtype}")
    if idx.size != grad.size or idx.shape[-nd:] != grad.shape[-nd:]:
        raise ValueError(f"indices must have the shape of grad_output {grad.shape}, got {idx.shape}")
    full_shape = input_shape if len(input_shape) == nd + 2 else (1,) + input_shape
    if full_shape[:2] != grad.shape[:2]:
        raise ValueError(f"input_shape {input_shape} does not match grad_output {grad.shape}")
    plane = int(np.prod(full_shape[2:]))
    idx = _planes(np.ascontiguousarray(idx, dtype=np.int64).reshape(grad.shape))
    grad_x = np.empty((idx.shape[0], plane), dtype=grad.dtype)
    # the kernel checks every index as it scatters (a separate min/max pass cost a fifth)
    if _pooling.max_backward(_planes(grad), idx, grad_x, threads_for(grad_x.size, _GRAIN)):
        raise ValueError(f"indices must lie in [0, {plane}) (offsets within an input plane)")
    return grad_x.reshape(input_shape)


def _avg_pool(x, nd, kernel_size, stride, padding, ceil_mode, count_include_pad):
    arr, batched = _pool_input(x, nd)
    geometry, out_spatial = _geometry(arr.shape[2:], nd, kernel_size, stride, padding, 1,
                                      bool(ceil_mode))
    planes = arr.shape[0] * arr.shape[1]
    y = np.empty((planes, int(np.prod(out_spatial))), dtype=arr.dtype)
    _pooling.avg_forward(_planes(arr), y, geometry, bool(count_include_pad),
                         threads_for(arr.size, _GRAIN))
    return y.reshape((arr.shape[:2] if batched else arr.shape[1:2]) + out_spatial)


def _avg_pool_backward(grad_output, input_shape, nd, kernel_size, stride, padding, ceil_mode,
                       count_include_pad):
    input_shape = _check_shape(input_shape, nd, "input_shape")
    full_shape = input_shape if len(input_shape) == nd + 2 else (1,) + input_shape
    geometry, out_spatial = _geometry(full_shape[2:], nd, kernel_size, stride, padding, 1,
                                      bool(ceil_mode))
    grad, _ = _pool_input(grad_output, nd, "grad_output")
    if grad.shape != full_shape[:2] + out_spatial:
        raise ValueError(f"grad_output must have shape {full_shape[:2] + out_spatial} for "
                         f"input_shape {input_shape}, got {grad.shape}")
    planes = grad.shape[0] * grad.shape[1]
    grad_x = np.empty((planes, int(np.prod(full_shape[2:]))), dtype=grad.dtype)
    _pooling.avg_backward(_planes(grad), grad_x, geometry, bool(count_include_pad),
                          threads_for(grad_x.size, _GRAIN))
    return grad_x.reshape(input_shape)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling over an ``(N, C, H, W)`` input, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding, dilation : int or tuple of 2 ints
        Window size, step (default: ``kernel_size``), implicit ``-inf`` padding on both sides (at
        most half the kernel) and spacing between window elements.
    ceil_mode : bool
        Round the output size up, so a last partial window is kept.
    return_indices : bool
        Also return, for every output, the flat offset within its ``(H, W)`` input plane of the
        first maximum of its window (int64), as needed by :func:`max_pool2d_backward`.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)
    indices : ndarray of int64, same shape (only with ``return_indices``)

    Examples
    --------
    The lecture's 2x2, stride-2 max pool:

    >>> import numpy as np
    >>> a = np.array([[1, 1, 2, 4], [5, 6, 9, 3], [3, 2, 4, 4], [1, 2, 0, 7]], dtype=float)
    >>> max_pool2d(a[None, None], 2)[0, 0]
    array([[6., 9.],
           [3., 7.]])
    """
    return _max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling over an ``(N, C, L)`` input; arguments as :func:`max_pool2d`.

    >>> max_pool1d([[[1., 3., 2., 5., 4.]]], 2)
    array([[[3., 5.]]])
    """
    return _max_pool(x, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling over an ``(N, C, D, H, W)`` input; arguments as :func:`max_pool2d`.

    >>> import numpy as np
    >>> max_pool3d(np.arange(8.).reshape(1, 1, 2, 2, 2), 2).ravel()
    array([7.])
    """
    return _max_pool(x, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d_backward(grad_output, indices, input_shape):
    """Gradient of :func:`max_pool2d` for its input: each output's gradient goes to the input
    element its index names (the first maximum of its window); overlapping windows add up.

    Parameters
    ----------
    grad_output : array_like, shape of the pooled output
    indices : array_like of int, shape of the pooled output, from ``return_indices=True``
    input_shape : tuple of ints, shape of the pooled input

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[[[1., 2.], [4., 3.]]]])
    >>> y, idx = max_pool2d(x, 2, return_indices=True)
    >>> max_pool2d_backward(np.ones_like(y), idx, x.shape)[0, 0]
    array([[0., 0.],
           [1., 0.]])
    """
    return _max_pool_backward(grad_output, indices, input_shape, 2)


def max_pool1d_backward(grad_output, indices, input_shape):
    """Gradient of :func:`max_pool1d` for its input; see :func:`max_pool2d_backward`.

    >>> y, idx = max_pool1d([[[1., 3., 2., 5.]]], 2, return_indices=True)
    >>> max_pool1d_backward([[[10., 20.]]], idx, (1, 1, 4))
    array([[[ 0., 10.,  0., 20.]]])
    """
    return _max_pool_backward(grad_output, indices, input_shape, 1)


def max_pool3d_backward(grad_output, indices, input_shape):
    """Gradient of :func:`max_pool3d` for its input; see :func:`max_pool2d_backward`.

    >>> import numpy as np
    >>> y, idx = max_pool3d(np.arange(8.).reshape(1, 1, 2, 2, 2), 2, return_indices=True)
    >>> max_pool3d_backward(np.ones_like(y), idx, (1, 1, 2, 2, 2)).ravel()
    array([0., 0., 0., 0., 0., 0., 0., 1.])
    """
    return _max_pool_backward(grad_output, indices, input_shape, 3)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-D average pooling over an ``(N, C, H, W)`` input, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : array_like, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding : int or tuple of 2 ints
        Window size, step (default: ``kernel_size``) and implicit zero padding (at most half the
        kernel).
    ceil_mode : bool
        Round the output size up, so a last partial window is kept.
    count_include_pad : bool
        Divide by the whole window, padding included (default), or only by its part inside the
        input.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16.).reshape(1, 1, 4, 4)
    >>> avg_pool2d(x, 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    >>> avg_pool2d(x, 3, stride=3, padding=1, count_include_pad=False)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return _avg_pool(x, 2, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over an ``(N, C, L)`` input; arguments as :func:`avg_pool2d`.

    >>> avg_pool1d([[[1., 3., 2., 6.]]], 2)
    array([[[2., 4.]]])
    """
    return _avg_pool(x, 1, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """3-D average pooling over an ``(N, C, D, H, W)`` input; arguments as :func:`avg_pool2d`.

    >>> import numpy as np
    >>> avg_pool3d(np.arange(8.).reshape(1, 1, 2, 2, 2), 2).ravel()
    array([3.5])
    """
    return _avg_pool(x, 3, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True):
    """Gradient of :func:`avg_pool2d` for its input: each output's gradient is shared evenly by
    the elements of its window (same arguments as the forward call).

    Examples
    --------
    >>> import numpy as np
    >>> avg_pool2d_backward(np.full((1, 1, 1, 1), 4.), (1, 1, 2, 2), 2)[0, 0]
    array([[1., 1.],
           [1., 1.]])
    """
    return _avg_pool_backward(grad_output, input_shape, 2, kernel_size, stride, padding,
                              ceil_mode, count_include_pad)


def avg_pool1d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True):
    """Gradient of :func:`avg_pool1d` for its input; see :func:`avg_pool2d_backward`.

    >>> avg_pool1d_backward([[[2., 4.]]], (1, 1, 4), 2)
    array([[[1., 1., 2., 2.]]])
    """
    return _avg_pool_backward(grad_output, input_shape, 1, kernel_size, stride, padding,
                              ceil_mode, count_include_pad)


def avg_pool3d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True):
    """Gradient of :func:`avg_pool3d` for its input; see :func:`avg_pool2d_backward`.

    >>> avg_pool3d_backward([[[[[8.]]]]], (1, 1, 2, 2, 2), 2).ravel()
    array([1., 1., 1., 1., 1., 1., 1., 1.])
    """
    return _avg_pool_backward(grad_output, input_shape, 3, kernel_size, stride, padding,
                              ceil_mode, count_include_pad)


def global_avg_pool(x):
    """Mean over every spatial axis: ``(N, C, *spatial)`` to ``(N, C)``.

    >>> import numpy as np
    >>> global_avg_pool(np.arange(8.).reshape(1, 2, 2, 2))
    array([[1.5, 5.5]])
    """
    arr = np.asarray(x)
    if arr.ndim < 3:
        raise ValueError(f"x must be (N, C, *spatial) with at least one spatial axis, got shape {arr.shape}")
    arr = as_float_array(arr, "x", empty_batch=True)
    planes = arr.shape[0] * arr.shape[1]
    y = np.empty((planes, 1), dtype=arr.dtype)
    _pooling.global_avg(_planes(arr), y, threads_for(arr.size, _GRAIN))
    return y.reshape(arr.shape[:2])


def global_avg_pool_backward(grad_output, input_shape):
    """Gradient of :func:`global_avg_pool`: each plane receives its output gradient divided by
    the plane size.

    >>> global_avg_pool_backward([[4.]], (1, 1, 2, 2))
    array([[[[1., 1.],
             [1., 1.]]]])
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
        raise ValueError(f"input_shape must be (N, C, *spatial), got {input_shape!r}")
    input_shape = _input_shape(input_shape, "input_shape", (len(input_shape),))
    grad = np.asarray(grad_output)
    if grad.shape != input_shape[:2]:
        raise ValueError(f"grad_output must have shape {input_shape[:2]}, got {grad.shape}")
    grad = as_float_array(grad, "grad_output", empty_batch=True)
    size = int(np.prod(input_shape[2:]))
    scaled = grad / grad.dtype.type(size)
    return np.ascontiguousarray(
        np.broadcast_to(scaled.reshape(scaled.shape + (1,) * (len(input_shape) - 2)), input_shape))


def _bins(n_in, n_out):
    """PyTorch's adaptive pooling windows: [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    return [(i * n_in // n_out, -((-(i + 1) * n_in) // n_out)) for i in range(n_out)]


def _adaptive_args(input_shape, output_size):
    if len(input_shape) not in (3, 4):
        raise ValueError(f"x must be (N, C, H, W) or (C, H, W), got shape {tuple(input_shape)}")
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    if len(output_size) != 2:
        raise ValueError(f"output_size must be an int or a pair, got {output_size!r}")
    h, w = input_shape[-2:]
    out = tuple(n if o is None else as_int(o, "output_size", 1) for o, n in zip(output_size, (h, w)))
    return _bins(h, out[0]), _bins(w, out[1])


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size, whatever the input size (``AdaptiveAvgPool2d``).

    Output cell ``(i, j)`` averages input rows ``floor(i H / oh) .. ceil((i + 1) H / oh)`` and the
    matching columns, as PyTorch does; an output larger than the input repeats input cells.

    Examples
    --------
    >>> import numpy as np
    >>> adaptive_avg_pool2d(np.arange(16.).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    x = as_float_array(x, "x", empty_batch=np.ndim(x) == 4)
    rows, cols = _adaptive_args(x.shape, output_size)
    if all(r1 - r0 == 1 for r0, r1 in rows + cols):  # windows of one cell each: a gather
        return x[..., [r0 for r0, _ in rows], :][..., [c0 for c0, _ in cols]]
    y = np.empty(x.shape[:-2] + (len(rows), len(cols)), dtype=x.dtype)
    for i, (r0, r1) in enumerate(rows):
        band = x[..., r0:r1, :].mean(axis=-2)
        for j, (c0, c1) in enumerate(cols):
            y[..., i, j] = band[..., c0:c1].mean(axis=-1)
    return y


def adaptive_avg_pool2d_backward(grad_output, input_shape):
    """Gradient of :func:`adaptive_avg_pool2d`: each output's gradient is shared by its window.

    >>> import numpy as np
    >>> adaptive_avg_pool2d_backward(np.ones((1, 1, 1, 1)), (1, 1, 2, 2))[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    input_shape = _input_shape(input_shape, "input_shape", (3, 4)) or tuple(input_shape)
    gy = as_float_array(grad_output, "grad_output", empty_batch=len(input_shape) == 4)
    rows, cols = _adaptive_args(input_shape, gy.shape[-2:])
    if gy.shape[:-2] != input_shape[:-2]:
        raise ValueError(f"grad_output {gy.shape} does not match input_shape {input_shape}")
    gx = np.zeros(input_shape, dtype=gy.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            share = gy[..., i, j] / ((r1 - r0) * (c1 - c0))
            gx[..., r0:r1, c0:c1] += share[..., None, None]
    return gx
