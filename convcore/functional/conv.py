"""N-D convolution (cross-correlation, as in deep learning) and its gradients, im2col + GEMM
(3x3 stride-1 layers between many channels by Winograd F(2x2, 3x3): 4 multiply-adds where the
GEMM has 9, after cheap transforms of 4x4 input patches and 2x2 output blocks).

``y[n, o, p] = bias[o] + sum_{c, t} weight[o, c, t] * x_padded[n, g(o) * C_in/groups + c, p * stride + t * dilation]``
— the lecture's ``C[m, n] = sum_i sum_j h[i, j] A[m + i, n + j]`` with channels, batch, stride,
padding, dilation and groups. Inputs are channels-first ``(N, C_in, *spatial)`` (or unbatched
``(C_in, *spatial)``) and weights ``(C_out, C_in / groups, *kernel)``, PyTorch's layout, so weights
move between the two unchanged.

The checks, the choice of engine and the engines live in ``convcore/functional/_conv/`` (plan ->
choice -> engines, as :mod:`convcore.signal`); this module holds the public functions.
"""
import numpy as np

from .._dask import dask_aware
from ._conv import dispatch
from ._conv.plan import Plan

__all__ = ["conv1d", "conv2d", "conv3d", "conv1d_backward", "conv2d_backward", "conv3d_backward"]


def _conv(x, weight, bias, stride, padding, dilation, groups, nd):
    c = Plan(x, weight, stride, padding, dilation, groups, nd)
    bias = c.bias(bias)
    if not len(c.x):  # a batch of no images: no images out (PyTorch's answer)
        return np.empty(c.out_shape, c.dtype)
    return c.unbatch(dispatch.forward(c, bias))


def _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                   need_weight, need_bias, nd):
    c = Plan(x, weight, stride, padding, dilation, groups, nd)
    gy = c.grad_output(grad_output)
    if not len(c.x):  # a batch of no images: nothing flows, the parameters' gradients are 0
        shapes = (c.x.shape, c.weight.shape, c.weight.shape[:1])
        return tuple(np.zeros(shape, c.dtype) if need else None
                     for shape, need in zip(shapes, (need_input, need_weight, need_bias)))
    grad_x, grad_w, grad_b = dispatch.backward(c, gy, need_input, need_weight, need_bias)
    return None if grad_x is None else c.unbatch(grad_x), grad_w, grad_b


_PARAMS = """x : array_like, shape (N, C_in, {sp}) or (C_in, {sp})
        Input, channels first. float32 and float64 keep their dtype; integers are converted to
        float64; non-contiguous arrays are copied.
    weight : array_like, shape (C_out, C_in / groups, {k})
    bias : array_like, shape (C_out,), optional
    stride, dilation : int or tuple of {nd} ints
    padding : int, tuple of {nd} ints, tuple of {nd} (low, high) pairs, 'valid' or 'same'
        Zero padding. 'same' (stride 1 only) keeps the spatial size; an odd total puts the extra
        row on the high side, as PyTorch does.
    groups : int
        Input and output channels are split into this many groups, convolved separately
        (groups == C_in is a depthwise convolution)."""


@dask_aware()
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of a batch of images, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    {params}

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = (H + pad_low + pad_high - dilation * (kh - 1) - 1) // stride + 1``, same for W.

    Examples
    --------
    A vertical-line detector from the lecture on a 4x4 image with a vertical line:

    >>> import numpy as np
    >>> image = np.array([[0, 1, 0, 0]] * 4, dtype=float)[None, None]
    >>> kernel = np.array([[-1, 2, -1]] * 3, dtype=float)[None, None]
    >>> conv2d(image, kernel)[0, 0]
    array([[ 6., -3.],
           [ 6., -3.]])
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution of a batch of signals, as ``torch.nn.functional.conv1d``.

    Parameters
    ----------
    {params}

    Returns
    -------
    y : ndarray, shape (N, C_out, L_out)

    Examples
    --------
    The lecture's 1x5 moving average:

    >>> import numpy as np
    >>> conv1d(np.arange(8.)[None, None], np.full((1, 1, 5), 0.2))[0, 0]
    array([2., 3., 4., 5.])
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution of a batch of volumes, as ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    {params}

    Returns
    -------
    y : ndarray, shape (N, C_out, D_out, H_out, W_out)

    Examples
    --------
    >>> import numpy as np
    >>> conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2)), padding=1).shape
    (1, 1, 4, 4, 4)
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 3)


_BACKWARD = """Gradients of :func:`conv{nd}d` for its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape of the forward output
        Gradient of the loss with respect to the output.
    x, weight, stride, padding, dilation, groups :
        The arguments of the forward call.
    need_input, need_weight, need_bias : bool
        Which gradients to compute; the others are returned as None.

    Returns
    -------
    grad_input : ndarray, shape of x, or None
        The full (transposed) convolution of grad_output with the weights: with stride 1 and
        many channels a convolution with the flipped weights, else GEMM + col2im.
    grad_weight : ndarray, shape of weight, or None
        Correlation of the input with grad_output, by im2col + GEMM (by Winograd F(2x2, 3x3)
        for the 3x3 stride-1 convolutions that run forward by it, and from the shallow engine's
        packed bands for first layers of few input channels).
    grad_bias : ndarray, shape (C_out,), or None
        grad_output summed over the batch and the spatial axes.
"""


def conv1d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    return _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                          need_weight, need_bias, 1)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    return _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                          need_weight, need_bias, 2)


def conv3d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1,
                    need_input=True, need_weight=True, need_bias=True):
    return _conv_backward(grad_output, x, weight, stride, padding, dilation, groups, need_input,
                          need_weight, need_bias, 3)


def _document():
    spatial = {1: ("L", "kl"), 2: ("H, W", "kh, kw"), 3: ("D, H, W", "kd, kh, kw")}
    for nd, (sp, k) in spatial.items():
        params = _PARAMS.format(sp=sp, k=k, nd=nd)
        fwd = globals()[f"conv{nd}d"]
        fwd.__doc__ = fwd.__doc__.replace("{params}", params)
        globals()[f"conv{nd}d_backward"].__doc__ = _BACKWARD.format(nd=nd) + _BACKWARD_EXAMPLES[nd]


_BACKWARD_EXAMPLES = {
    1: """
    Examples
    --------
    The lecture's backpropagation slide: :math:`o[n] = \\sum_i x[i + n + \\omega]\\, F[i + \\omega]`,
    so with two weights :math:`o_0 = F_0 x_0 + F_1 x_1` and :math:`o_1 = F_0 x_1 + F_1 x_2`, and

    .. math:: \\frac{\\partial J}{\\partial F_1}
              = \\frac{\\partial J}{\\partial o_0} \\frac{\\partial o_0}{\\partial F_1}
              + \\frac{\\partial J}{\\partial o_1} \\frac{\\partial o_1}{\\partial F_1}
              = \\frac{\\partial J}{\\partial o_0} x_1 + \\frac{\\partial J}{\\partial o_1} x_2,

    which is ``grad_w[..., 1]`` (and :math:`\\partial J / \\partial F_0` is ``grad_w[..., 0]``).
    With :math:`x = (1, 2, 3)` and :math:`\\partial J / \\partial o = (10, 100)`:

    >>> import numpy as np
    >>> x0, x1, x2 = 1.0, 2.0, 3.0
    >>> dJ_do0, dJ_do1 = 10.0, 100.0
    >>> F0, F1 = 0.5, 0.5
    >>> o = conv1d([[[x0, x1, x2]]], [[[F0, F1]]])
    >>> o[0, 0], (F0 * x0 + F1 * x1, F0 * x1 + F1 * x2)              # o0, o1
    (array([1.5, 2.5]), (1.5, 2.5))
    >>> _, grad_w, _ = conv1d_backward([[[dJ_do0, dJ_do1]]], [[[x0, x1, x2]]], [[[F0, F1]]])
    >>> grad_w[0, 0]                                                  # dJ/dF0, dJ/dF1
    array([210., 320.])
    >>> dJ_do0 * x1 + dJ_do1 * x2                                     # dJ/dF1 by the slide
    320.0
    >>> F1 - 0.001 * grad_w[0, 0, 1]                                  # F1 <- F1 - eta dJ/dF1
    np.float64(0.18)
""",
    2: """
    Examples
    --------
    >>> import numpy as np
    >>> x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    >>> gx, gw, gb = conv2d_backward(np.ones((1, 1, 2, 2)), x, w)
    >>> gx[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> gw[0, 0], gb
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
""",
    3: """
    Examples
    --------
    >>> import numpy as np
    >>> gx, gw, gb = conv3d_backward(np.ones((1, 1, 1, 1, 1)), np.ones((1, 1, 2, 2, 2)),
    ...                              np.ones((1, 1, 2, 2, 2)), need_input=False)
    >>> gx is None, float(gw.sum()), gb
    (True, 8.0, array([1.]))
""",
}
_document()
