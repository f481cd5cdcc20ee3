"""The fully connected map ``y = x W^T + b`` over the last axis and its gradients, with PyTorch's
weight layout (``weight`` is ``(out_features, in_features)``); the products run through the
compiled core (``_matmul``)."""
import numpy as np

from . import _matmul
from ._matmul import matmul

__all__ = ["linear", "linear_backward"]


def _real(name, a):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def _check(x, weight, bias):
    """(x as (M, in_features), weight, bias or None, the output's shape), in one float dtype:
    float32 and float64 kept, integers and bools as float64."""
    x, weight = _real("input", x), _real("weight", weight)
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    out_features, in_features = weight.shape
    if x.ndim < 1 or x.shape[-1] != in_features:
        raise ValueError(f"input must have in_features={in_features} on its last axis (weight "
                         f"{weight.shape}), got shape {x.shape}")
    dtype = np.result_type(*(a.dtype if a.dtype.kind == "f" else np.float64 for a in (x, weight)))
    if bias is not None:
        bias = _real("bias", bias)
        if bias.shape != (out_features,):
            raise ValueError(f"bias must have shape ({out_features},), got {bias.shape}")
        bias = bias.astype(dtype, copy=False)
    x2 = np.ascontiguousarray(x.reshape(-1, in_features), dtype=dtype)
    return x2, np.ascontiguousarray(weight, dtype=dtype), bias, x.shape[:-1] + (out_features,)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last axis, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    input : array_like, shape (..., in_features)
        float32 and float64 keep their dtype (the result takes the wider of input and weight);
        integers are converted to float64.
    weight : array_like, shape (out_features, in_features)
    bias : array_like, shape (out_features,), optional

    Returns
    -------
    y : ndarray, shape (..., out_features)

    Examples
    --------
    >>> import numpy as np
    >>> linear(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0], [0.0, -1.0]]), np.array([0.5, 0.0]))
    array([[ 3.5, -2. ]])
    """
    x2, w, b, shape = _check(input, weight, bias)
    return _matmul.linear(x2, w, b).reshape(shape)


def linear_backward(grad_output, input, weight, need_input=True, need_weight=True,
                    need_bias=True):
    """Gradients of :func:`linear` for its input, weight and bias.

    Parameters
    ----------
    grad_output : array_like, shape (..., out_features)
    input : array_like, shape (..., in_features)
    weight : array_like, shape (out_features, in_features)
        The forward call's arguments.
    need_input, need_weight, need_bias : bool
        The gradients to compute (the others come back as None).

    Returns
    -------
    grad_input : ndarray, shape of input, or None
        ``grad_output @ weight``.
    grad_weight : ndarray, shape (out_features, in_features), or None
        ``grad_output^T @ input`` summed over every leading axis.
    grad_bias : ndarray, shape (out_features,), or None

    Examples
    --------
    >>> import numpy as np
    >>> gx, gw, gb = linear_backward(np.ones((2, 1)), np.array([[1.0, 2.0], [3.0, 4.0]]),
    ...                              np.array([[0.5, -1.0]]))
    >>> gx, gw, gb
    (array([[ 0.5, -1. ],
           [ 0.5, -1. ]]), array([[4., 6.]]), array([2.]))
    """
    x2, w, _, shape = _check(input, weight, None)
    gy = _real("grad_output", grad_output)
    if gy.shape != shape:
        raise ValueError(f"grad_output must have the output's shape {shape}, got {gy.shape}")
    g2 = np.ascontiguousarray(gy.reshape(-1, w.shape[0]), dtype=w.dtype)
    grad_x = matmul(g2, w).reshape(np.shape(input)) if need_input else None  # g W
    grad_w = matmul(g2, x2, trans_a=True) if need_weight else None  # g^T x
    grad_b = g2.sum(axis=0) if need_bias else None
    return grad_x, grad_w, grad_b
