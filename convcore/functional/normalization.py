"""Batch normalisation over the channel axis (axis 1) and its gradients, as
``torch.nn.functional.batch_norm``.

Training: ``y = weight * (x - mean_B) / sqrt(var_B + eps) + bias`` with the batch's mean and biased
variance per channel; running statistics, when given, move in place by ``momentum`` towards the
batch's mean and *unbiased* variance. Evaluation normalises by the running statistics: one affine
map per channel. Both run as one compiled pass (src/channels.pyx), which can also add a residual
and apply a ReLU (a ResNet block's ``relu(bn(x) + shortcut)``) on the way.
"""
import math

import numpy as np

from .._cpu import load
from .._threads import threads_for

_channels = load("channels")  # the widest build this CPU may run (the same bits in each)

__all__ = ["batch_norm", "batch_norm_backward"]

_GRAIN = 1 << 16  # values per thread from which a second thread pays


def _channel_vector(value, name, c):
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.shape != (c,):
        raise ValueError(f"{name} must have shape ({c},) (one value per channel), got {a.shape}")
    return a


def _running(value, name, c):
    """A running statistic: updated in place, so a float ndarray of one value per channel."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or not value.flags.writeable:
        raise TypeError(f"{name} must be a writeable float ndarray (it is updated in place), got "
                        f"{type(value).__name__}")
    return _channel_vector(value, name, c)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, return_cache=False, *, residual=None, relu=False):
    """Normalise each channel of ``input`` (axis 1), as ``torch.nn.functional.batch_norm``.

    Parameters
    ----------
    input : array_like, shape (N, C, ...)
        float32 and float64 keep their dtype; integers are converted to float64.
    running_mean, running_var : ndarray, shape (C,), or None
        Used to normalise when ``training`` is False (then required); with ``training`` they are
        updated in place: ``running = (1 - momentum) * running + momentum * batch`` (the
        variance unbiased), unless None.
    weight, bias : array_like, shape (C,), optional
        The per-channel scale and shift applied after the normalisation.
    training : bool
        Normalise by the batch's statistics (which needs more than one value per channel).
    momentum : float
    eps : float
        Added to the variance.
    return_cache : bool
        Also return what :func:`batch_norm_backward` needs.
    residual : array_like, the shape of input, optional
        Added to the normalised values (a shortcut), in the same pass.
    relu : bool
        Return ``max(y, 0)`` (after the residual): batch normalisation and the ReLU after it in
        one pass, the same numbers as the two functions one after the other.

    Returns
    -------
    y : ndarray, the shape of input
    cache : tuple (only with ``return_cache``)

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> mean, var = np.zeros(2), np.ones(2)
    >>> batch_norm(x, mean, var, training=True)
    array([[-0.999995  , -0.99999875],
           [ 0.999995  ,  0.99999875]])
    >>> mean, var
    (array([0.2, 0.4]), array([1.1, 1.7]))
    >>> batch_norm(x, None, None, training=True, relu=True)
    array([[0.        , 0.        ],
           [0.999995  , 0.99999875]])
    """
    x = np.asarray(input)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"input must hold real numbers, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"input must be at least 2-D (N, C, ...), got shape {x.shape}")
    x3 = x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))
    if x3.dtype not in (np.float32, np.float64):
        x3 = x3.astype(np.float64)
    x3 = np.ascontiguousarray(x3)
    t = x3.dtype.type
    c = x3.shape[1]
    stats = (running_mean, running_var)
    if any(s is not None for s in stats) or not training:
        if any(s is None for s in stats):
            raise ValueError("running_mean and running_var must both be given (both None is "
                             "allowed only with training=True)")
        check = _running if training else _channel_vector  # updated in place in training
        rm, rv = (check(s, n, c) for s, n in zip(stats, ("running_mean", "running_var")))
    if weight is not None:
        weight = _channel_vector(weight, "weight", c)
    if bias is not None:
        bias = _channel_vector(bias, "bias", c)
    threads = threads_for(x3.size, _GRAIN)
    if training:
        if not float(eps) > 0:  # a constant channel would divide 0 by 0 (PyTorch's check too)
            raise ValueError(f"batch_norm eps must be positive during training, got {eps}")
        m = x3.shape[0] * x3.shape[2]
        if m < 2:
            raise ValueError("batch normalisation needs more than one value per channel in "
                             f"training, got shape {x.shape}")
        mean, var = np.empty(c, dtype=x3.dtype), np.empty(c, dtype=x3.dtype)
        _channels.batch_stats(x3, mean, var, threads)
        if running_mean is not None:
            f = float(momentum)
            unbiased = var * t(m / max(m - 1, 1))
            rm *= 1 - f
            rm += f * mean.astype(rm.dtype)
            rv *= 1 - f
            rv += f * unbiased.astype(rv.dtype)
    else:
        mean, var = rm.astype(x3.dtype), rv.astype(x3.dtype)
    inv_std, scale = _scale(var, weight, eps)
    shift = np.zeros_like(mean) if bias is None else bias.astype(mean.dtype)
    y = np.empty_like(x3)
    if residual is None:
        _channels.affine(x3, mean, scale, shift, y, threads, bool(relu))
    else:
        r = np.asarray(residual)
        if r.shape != x.shape:
            raise ValueError(f"residual must have the input's shape {x.shape}, got {r.shape}")
        _channels.affine_add(x3, mean, scale, shift,
                             np.ascontiguousarray(r.reshape(x3.shape), dtype=x3.dtype),
                             y, bool(relu), threads)
    if return_cache:
        return y.reshape(x.shape), (x3, mean, inv_std, scale, bool(training), weight is not None,
                                    bias is not None, y if relu else None, residual is not None)
    return y.reshape(x.shape)


def _scale(var, weight, eps):
    """(1 / std, scale) of the normalisation ``(x - mean) * scale + bias`` by the variance `var`
    (an array of the working dtype), then `weight` (or None)."""
    t = var.dtype.type
    inv_std = t(1) / np.sqrt(var + t(eps))
    return inv_std, inv_std if weight is None else inv_std * weight.astype(var.dtype)


def running_affine(running_mean, running_var, weight, bias, eps, dtype):
    """(scale, shift) in `dtype` of the normalisation by running statistics (evaluation
    mode): :func:`batch_norm` with ``training=False`` is ``scale * x + shift`` per channel, to
    rounding (it takes the mean off first, then scales and adds the bias)."""
    dtype = np.dtype(dtype)
    _, scale = _scale(np.asarray(running_var).astype(dtype), weight, eps)
    shift = -np.asarray(running_mean).astype(dtype) * scale
    if bias is not None:
        shift += np.asarray(bias).astype(dtype)
    return scale, shift


def batch_norm_backward(grad_output, cache):
    """Gradients of :func:`batch_norm` from the cache its forward call returned: one compiled
    pass for the sums over each channel (the parameters' gradients, and what the batch
    statistics pass back), one for the input gradient.

    With ``relu`` in the forward call, ``grad_output`` is the gradient of the ReLU's output
    (its mask is applied in the same pass).

    Returns
    -------
    grad_input : ndarray, the shape of input
    grad_weight, grad_bias : ndarray, shape (C,), or None
        None when the forward call had no weight (bias).
    grad_residual : ndarray, the shape of input
        Only when the forward call added a residual: its gradient (``grad_output``, through the
        ReLU's mask with ``relu``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> y, cache = batch_norm(x, None, None, np.ones(2), np.zeros(2), training=True,
    ...                       return_cache=True)
    >>> gx, gw, gb = batch_norm_backward(np.ones_like(x), cache)
    >>> gx, gb
    (array([[0., 0.],
           [0., 0.]]), array([2., 2.]))
    """
    x3, mean, inv_std, scale, training, has_weight, has_bias, y, has_residual = cache
    gy = np.asarray(grad_output)
    if gy.size != x3.size:
        raise ValueError(f"grad_output must have the input's size {x3.size}, got shape "
                         f"{gy.shape}")
    g = np.ascontiguousarray(gy.reshape(x3.shape), dtype=x3.dtype)
    gx = np.empty_like(x3)
    sums = np.empty((2, x3.shape[1]), dtype=x3.dtype)
    threads = threads_for(x3.size, _GRAIN)
    g_residual = g
    if y is None:
        _channels.batch_norm_backward(g, x3, mean, inv_std, scale, gx, sums, training, threads)
    else:  # the ReLU's mask, written where the residual's gradient needs it (else into gx)
        g_residual = np.empty_like(x3) if has_residual else gx
        _channels.batch_norm_relu_backward(g, y, x3, mean, inv_std, scale, g_residual, gx, sums,
                                           training, threads)
    grads = (gx.reshape(gy.shape), sums[1] if has_weight else None,
             sums[0] if has_bias else None)
    return grads + (g_residual.reshape(gy.shape),) if has_residual else grads
