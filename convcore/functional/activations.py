"""Element-wise activations and dropout with their gradients, as ``torch.nn.functional``'s
``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``, ``gelu`` and ``dropout``.

ReLU, tanh and the gradients of ReLU and tanh run in the compiled core (src/activations.pyx) on
C-contiguous float arrays of one shape; anything else takes the NumPy expression, which gives the
same values (tanh: within 1.5 ulp of the exact value, NumPy's within about 1; NumPy's float tanh
is a one-thread libm call, ours a vectorised formula on the kernels' threads). A gradient takes
what its forward function gave (the output, the input, or the cache of ``gelu`` and
``dropout``), so a layer keeps what its backward pass needs.

Examples
--------
>>> import numpy as np
>>> relu(np.array([-1.0, 0.5]))
array([0. , 0.5])
>>> y = sigmoid(np.array([0.0]))
>>> y, sigmoid_backward(np.array([1.0]), y)
(array([0.5]), array([0.25]))
"""
import math

import numpy as np

from .._cpu import load
from .._threads import threads_for

_activations = load("activations")  # the widest build this CPU may run (the same bits in each)

__all__ = ["relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "sigmoid",
           "sigmoid_backward", "tanh", "tanh_backward", "gelu", "gelu_backward", "dropout",
           "dropout_backward"]

# Elements a thread should have before a second one is worth waking.
_GRAIN = 1 << 16


def _compiled(*arrays):
    """True when the arrays can go to the compiled kernels: C-contiguous, of one float dtype and
    one shape (anything else takes the NumPy expression, which gives the same values)."""
    a = arrays[0]
    return all(isinstance(b, np.ndarray) and b.dtype == a.dtype and b.shape == a.shape
               and b.flags.c_contiguous for b in arrays) and a.dtype in (np.float32, np.float64)


def _run(kernel, *arrays):
    """``kernel(*flat arrays, out, threads)`` into a new array shaped like the first."""
    out = np.empty_like(arrays[0])
    kernel(*(a.reshape(-1) for a in arrays), out.reshape(-1), threads_for(out.size, _GRAIN))
    return out


def _unary(name, kernel, numpy_op, input, inplace):
    """`numpy_op` of `input` by the compiled `kernel` where it may run (else `numpy_op`, which
    takes ``out=``): a new array, or with `inplace` written over `input` (a writeable float
    ndarray), which is returned."""
    x = _real(input)
    if not inplace:
        return _run(kernel, x) if _compiled(x) else numpy_op(x)
    if not isinstance(input, np.ndarray) or x.dtype.kind != "f" or not x.flags.writeable:
        raise TypeError(f"{name}(inplace=True) needs a writeable float ndarray")
    if _compiled(x):
        kernel(x.reshape(-1), x.reshape(-1), threads_for(x.size, _GRAIN))
    else:
        numpy_op(x, out=x)
    return x


def _real(x, name="input"):
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x


def relu(input, inplace=False):
    """``max(input, 0)``; with ``inplace``, written over ``input`` (a float ndarray), which is
    returned, as ``torch.nn.functional.relu(input, inplace=True)``.

    >>> import numpy as np
    >>> x = np.array([-1.0, 0.5])
    >>> relu(x, inplace=True) is x, x
    (True, array([0. , 0.5]))
    """
    return _unary("relu", _activations.relu, _relu_numpy, input, inplace)


def _relu_numpy(x, out=None):
    return np.maximum(x, 0, out=out)


def _by_kernel(kernel, grad_output, output, inplace):
    """`kernel`'s gradient from the output, or None where the kernel may not run; with `inplace`,
    written over a writeable `grad_output`, which is returned."""
    if not _compiled(grad_output, output):
        return None
    if not (inplace and grad_output.flags.writeable):
        return _run(kernel, grad_output, output)
    g = grad_output.reshape(-1)
    kernel(g, output.reshape(-1), g, threads_for(g.size, _GRAIN))
    return grad_output


def relu_backward(grad_output, output, inplace=False):
    """The gradient of :func:`relu` from its ``output``: ``grad_output`` where it is positive or
    NaN (as PyTorch's, whose mask is ``not output <= 0``), else 0.
    With ``inplace``, ``grad_output`` may be overwritten by the result (what a container does
    with a gradient that nothing else holds: it saves an array as large as the layer's output)."""
    gx = _by_kernel(_activations.relu_backward, grad_output, output, inplace)
    return grad_output * ~(np.asarray(output) <= 0) if gx is None else gx


def leaky_relu(input, negative_slope=0.01):
    """``input`` where positive, ``negative_slope * input`` elsewhere."""
    x = _real(input)
    return np.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_backward(grad_output, input, negative_slope=0.01):
    """The gradient of :func:`leaky_relu` at ``input``."""
    t = np.asarray(input).dtype.type
    return grad_output * np.where(input > 0, t(1), t(negative_slope))


def sigmoid(input):
    """``1 / (1 + exp(-input))`` (overflow-free)."""
    from scipy.special import expit  # on first use: scipy.special adds a tenth to `import convcore`
    return expit(_real(input))


def sigmoid_backward(grad_output, output):
    """The gradient of :func:`sigmoid` from its ``output`` y: ``grad_output * y * (1 - y)``."""
    return grad_output * output * (1 - output)


def tanh(input, inplace=False):
    """Hyperbolic tangent; with ``inplace``, written over ``input`` (a float ndarray), which is
    returned (what a container does with a layer's fresh result, as for :func:`relu`).

    Float32 and float64 C-contiguous arrays take the compiled kernel: within 1.5 ulp of the exact
    value (NumPy's ``tanh``, which other arrays take, is within about 1 ulp), exactly +-1 where
    the result rounds to it, -0 and NaN kept.

    >>> import numpy as np
    >>> tanh(np.array([-np.inf, -0.0, 0.5, 20.0]))
    array([-1.        , -0.        ,  0.46211716,  1.        ])
    """
    return _unary("tanh", _activations.tanh, np.tanh, input, inplace)


def tanh_backward(grad_output, output, inplace=False):
    """The gradient of :func:`tanh` from its ``output`` y: ``grad_output * (1 - y^2)``; with
    ``inplace``, ``grad_output`` may be overwritten, as in :func:`relu_backward`."""
    gx = _by_kernel(_activations.tanh_backward, grad_output, output, inplace)
    return grad_output * (1 - output * output) if gx is None else gx


def gelu(input, approximate="none", return_cache=False):
    """Gaussian error linear unit ``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula.

    With ``return_cache``, also returns what :func:`gelu_backward` needs (so that it does not
    evaluate ``Phi`` again).

    Examples
    --------
    >>> import numpy as np
    >>> gelu(np.array([0.0, 1.0]))
    array([0.        , 0.84134475])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _real(input)
    t = x.dtype.type
    if approximate == "tanh":
        th = np.tanh(t(math.sqrt(2 / math.pi)) * (x + t(0.044715) * x ** 3))
        y, cache = t(0.5) * x * (1 + th), (x, approximate, th)
    else:
        from scipy.special import erf  # on first use, as in sigmoid
        cdf = t(0.5) * (1 + erf(x * t(1 / math.sqrt(2))))
        y, cache = x * cdf, (x, approximate, cdf)
    return (y, cache) if return_cache else y


def gelu_backward(grad_output, cache):
    """The gradient of :func:`gelu` from the cache its forward call returned."""
    x, approximate, saved = cache
    t = x.dtype.type
    if approximate == "tanh":
        d_inner = t(math.sqrt(2 / math.pi)) * (1 + t(3 * 0.044715) * x * x)
        return grad_output * (t(0.5) * (1 + saved) + t(0.5) * x * (1 - saved * saved) * d_inner)
    pdf = np.exp(t(-0.5) * x * x) * t(1 / math.sqrt(2 * math.pi))
    return grad_output * (saved + x * pdf)


def dropout(input, p=0.5, training=True, rng=None, return_mask=False):
    """Inverted dropout: in training, each element zeroed with probability ``p`` and the rest
    scaled by ``1 / (1 - p)``; otherwise ``input`` itself.

    Parameters
    ----------
    input : array_like
    p : float in [0, 1)
    training : bool
    rng : numpy.random.Generator, optional
        Draws the mask (default: a fresh, unseeded one; :class:`convcore.nn.Dropout` passes the
        generator of :mod:`convcore.nn.init`, which ``manual_seed`` and ``fit(seed=)`` seed).
    return_mask : bool
        Also return the scaled mask (None when nothing is dropped), which
        :func:`dropout_backward` takes.

    Examples
    --------
    >>> import numpy as np
    >>> y, mask = dropout(np.ones(4), 0.5, rng=np.random.default_rng(0), return_mask=True)
    >>> y, mask
    (array([2., 0., 0., 0.]), array([2., 0., 0., 0.]))
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p must be a number, got {type(p).__name__}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        y, mask = input, None
    else:
        rng = np.random.default_rng() if rng is None else rng
        x = _real(input)
        mask = (rng.random(x.shape) >= p) * x.dtype.type(1.0 / (1.0 - p))
        y = x * mask
    return (y, mask) if return_mask else y


def dropout_backward(grad_output, mask):
    """The gradient of :func:`dropout` from its mask: ``grad_output * mask`` (``grad_output``
    when the mask is None)."""
    return grad_output if mask is None else grad_output * mask
