r"""Softmax and the losses of the lecture, with their gradients, as in ``torch.nn.functional``.

The lecture's slide on losses gives, for ``N`` samples, predictions :math:`\hat y` and targets
:math:`y`:

* mean squared error, :math:`J = \frac1N \sum_i (\hat y_i - y_i)^2` (:func:`mse_loss`);
* mean absolute error, :math:`J = \frac1N \sum_i |\hat y_i - y_i|` (:func:`l1_loss`);
* cross-entropy, :math:`L = -\sum_{i=1}^N \sum_{j=1}^C y_{ij} \log \hat y_{ij}` with
  :math:`\hat y_i = \mathrm{softmax}(x_i)`, :math:`\mathrm{softmax}(x)_j = e^{x_j} / \sum_k e^{x_k}`
  (:func:`softmax`, :func:`cross_entropy`, :func:`nll_loss`).

Every loss takes ``reduction``: ``'sum'`` is the slide's double sum, ``'mean'`` (the default, as in
PyTorch) divides it by the number of samples (by the summed class weights of the targets when the
targets are class indices and ``weight`` is given), ``'none'`` returns one loss per sample.
:func:`cross_entropy` takes **logits** (any real scores; the softmax is applied inside, in a stable
log-sum-exp form), never probabilities: see its notes for the slide's formula from probabilities.
Each loss ``f`` has ``f_backward(grad_output, ...)``, the gradient with respect to its input.
"""
import numpy as np
from numpy.lib.array_utils import normalize_axis_index

__all__ = ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward",
           "cross_entropy", "cross_entropy_backward", "nll_loss", "nll_loss_backward",
           "mse_loss", "mse_loss_backward", "l1_loss", "l1_loss_backward",
           "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward"]

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction):
    """Return `reduction` if it is 'mean', 'sum' or 'none', else raise PyTorch's ValueError."""
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction: "
                         "expected 'mean', 'sum' or 'none'")
    return reduction


def _as_float(x, name):
    """`x` as a float array: float32/float64 kept, integers and bools in float64 (empty allowed)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def _dim(x, dim):
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim must be an int, got {dim!r}")
    return normalize_axis_index(int(dim), max(x.ndim, 1), "dim")


# --------------------------------------------------------------------------- softmax

def softmax(input, dim=-1):
    r"""The slide's softmax along one axis: :math:`\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}`.

    Computed as :math:`e^{x_i - m} / \sum_j e^{x_j - m}` with :math:`m = \max_j x_j`, so large
    logits do not overflow (the result is the same: the factor :math:`e^{-m}` cancels).

    Parameters
    ----------
    input : array_like
        Logits (any real scores). Integers and bools are taken in float64.
    dim : int, optional
        The axis that holds the classes (``torch.nn.functional.softmax``'s ``dim``, NumPy's
        ``axis``); the last one by default. For ``(N, C, ...)`` logits pass ``dim=1``.

    Returns
    -------
    ndarray, the shape and float dtype of `input`
        Non-negative values that sum to 1 along `dim`.

    Examples
    --------
    >>> import numpy as np
    >>> softmax([1.0, 2.0, 3.0]).round(4)
    array([0.09  , 0.2447, 0.6652])
    >>> softmax([[1000.0, 1000.0], [0.0, np.log(3.0)]], dim=1)   # no overflow
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    """
    x = _as_float(input, "input")
    axis = _dim(x, dim)
    if x.ndim == 0:
        return np.ones_like(x)
    with np.errstate(invalid="ignore"):   # a row of -inf or nan gives nan, as in PyTorch
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)


def log_softmax(input, dim=-1):
    r"""Logarithm of :func:`softmax`, by the log-sum-exp trick:
    :math:`\log \mathrm{softmax}(x)_i = x_i - m - \log \sum_j e^{x_j - m}`, :math:`m = \max_j x_j`.

    Stable where ``np.log(softmax(x))`` is not: a probability that underflows to 0 still has a
    finite logarithm here. Parameters and result as :func:`softmax` (values <= 0).

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax([0.0, np.log(3.0)]).round(4)
    array([-1.3863, -0.2877])
    >>> log_softmax([0.0, 800.0])        # np.log(softmax(...)) would give -inf
    array([-800.,    0.])
    """
    x = _as_float(input, "input")
    axis = _dim(x, dim)
    if x.ndim == 0:
        return np.zeros_like(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_backward(grad_output, output, dim=-1):
    r"""Gradient of :func:`softmax` from its output :math:`s`:
    :math:`\partial J/\partial x_i = s_i (g_i - \sum_j g_j s_j)` with :math:`g = \partial J/\partial s`.

    Examples
    --------
    >>> s = softmax([0.0, 0.0])
    >>> softmax_backward([1.0, 0.0], s)
    array([ 0.25, -0.25])
    """
    s = _as_float(output, "output")
    g = _grad_like(grad_output, s.shape, s.dtype)
    axis = _dim(s, dim)
    if s.ndim == 0:
        return np.zeros_like(s)
    return s * (g - (g * s).sum(axis=axis, keepdims=True))


def log_softmax_backward(grad_output, output, dim=-1):
    r"""Gradient of :func:`log_softmax` from its output :math:`\ell = \log s`:
    :math:`\partial J/\partial x_i = g_i - s_i \sum_j g_j` with :math:`g = \partial J/\partial \ell`.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax_backward([-1.0, 0.0], np.log([0.25, 0.75]))   # -log p_0: p - onehot
    array([-0.75,  0.75])
    """
    ell = _as_float(output, "output")
    g = _grad_like(grad_output, ell.shape, ell.dtype)
    axis = _dim(ell, dim)
    if ell.ndim == 0:
        return np.zeros_like(ell)
    return g - np.exp(ell) * g.sum(axis=axis, keepdims=True)


def _grad_like(grad_output, shape, dtype):
    g = np.asarray(_as_float(grad_output, "grad_output"), dtype=dtype)
    if g.shape != shape:
        raise ValueError(f"grad_output must have shape {shape}, got {g.shape}")
    return g


# --------------------------------------------------------------------------- reductions

def _reduce(per_sample, reduction, denom, shape, dtype):
    """One loss per sample -> the reduced loss (a NumPy scalar of `dtype`, or an array)."""
    if reduction == "none":
        return per_sample.reshape(shape).astype(dtype, copy=False)[()]   # unbatched: a scalar
    total = np.float64(per_sample.sum(dtype=np.float64))
    if reduction == "sum":
        return dtype.type(total)
    with np.errstate(invalid="ignore", divide="ignore"):   # an empty batch: nan, as in PyTorch
        return dtype.type(total / np.float64(denom))


def _scale(grad_output, reduction, denom, shape, dtype):
    """The factor that takes d(per-sample loss) to d(loss): broadcastable against the per-sample
    gradients (a scalar, or one value per sample as a column)."""
    g = _as_float(grad_output, "grad_output")
    if reduction == "none":
        if g.shape != tuple(shape):
            raise ValueError(f"grad_output must have the shape of the unreduced loss {tuple(shape)}, "
                             f"got {g.shape}")
        return g.astype(dtype, copy=False).reshape(-1, 1)
    if g.size != 1:
        raise ValueError(f"grad_output must be a scalar for reduction='{reduction}', got shape {g.shape}")
    g = float(g.reshape(()))
    return dtype.type(g if reduction == "sum" else g / denom)


# --------------------------------------------------------------------------- classification

class _ClassPlan:
    """The checked arguments of a classification loss, classes moved to the last axis:
    ``x`` (M, C) scores, ``qw`` (M, C) the weighted target distribution w_c q_ic, ``denom`` the
    divisor of reduction='mean', ``shape`` the unreduced loss's shape."""

    def __init__(self, input, target, weight, reduction, label_smoothing, probabilities, fname):
        self.reduction = check_reduction(reduction)
        x = _as_float(input, "input")
        if x.ndim == 0:
            raise ValueError("input must be (C,) or (N, C, *d) class scores, got a 0-d array")
        self.dtype, self.in_shape = x.dtype, x.shape
        c = x.shape[0] if x.ndim == 1 else x.shape[1]
        # unbatched (C,) -> (1, C); batched (N, C, *d) -> (N * prod(d), C)
        self.x = x[None] if x.ndim == 1 else np.moveaxis(x, 1, -1).reshape(-1, c)
        self.shape = () if x.ndim == 1 else x.shape[:1] + x.shape[2:]
        m = self.x.shape[0]
        eps = float(label_smoothing)
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        w = None
        if weight is not None:
            w = np.asarray(weight, dtype=np.float64)
            if w.ndim != 1 or np.any(w < 0) or not np.all(np.isfinite(w)):
                raise ValueError("weight must be a 1-D array of non-negative finite class weights")
            if w.shape != (c,):
                raise ValueError(f"weight has {w.shape[0]} entries but there are {c} classes")
            w = w.astype(self.dtype)
        t = np.asarray(target)
        if probabilities and t.shape == x.shape:
            # PyTorch's rule: a target of the input's shape holds class probabilities
            if t.dtype.kind != "f":
                raise ValueError(
                    f"target has the input's shape {x.shape}, so it holds class probabilities and "
                    f"must be floating point, got dtype {t.dtype} (pass "
                    f"np.asarray(target, dtype=float) for one-hot rows)")
            q = t.astype(self.dtype)[None] if x.ndim == 1 else np.moveaxis(
                t.astype(self.dtype), 1, -1).reshape(-1, c)
            if eps:
                q = q * self.dtype.type(1.0 - eps) + self.dtype.type(eps / c)
            self.denom = m
        else:
            if t.shape != self.shape:
                kinds = f"class indices of shape {self.shape}"
                if probabilities:
                    kinds += f" or class probabilities of the input's shape {x.shape}"
                raise ValueError(f"{fname}: target must hold {kinds}, got shape {t.shape}")
            if t.dtype.kind not in "iub":
                raise ValueError(f"{fname}: target of shape {t.shape} holds class indices and must be "
                                 f"integer, got dtype {t.dtype}")
            labels = t.reshape(-1).astype(np.intp)
            if labels.size and (labels.min() < 0 or labels.max() >= c):
                bad = labels[(labels < 0) | (labels >= c)][0]
                raise ValueError(f"target {bad} is out of bounds: class indices must be in [0, {c - 1}]")
            self.denom = m if w is None else float(w[labels].sum(dtype=np.float64))
            if not eps and w is None:  # one-hot rows, read by index (built only when asked)
                self.labels, self._qw = labels, None
                return
            q = np.full((m, c), eps / c, dtype=self.dtype)
            q[np.arange(m), labels] += self.dtype.type(1.0 - eps)
        self.labels, self._qw = None, q if w is None else q * w

    @property
    def qw(self):
        if self._qw is None:
            self._qw = np.zeros(self.x.shape, dtype=self.dtype)
            self._qw[np.arange(self.x.shape[0]), self.labels] = 1
        return self._qw

    def reduce(self, logp):
        """The reduced loss from the (M, C) log-probabilities: -sum_j w_j q_ij log p_ij per sample,
        a zero weight times log 0 counting as 0 (0 log 0 = 0); for one-hot rows, the log
        probability of each sample's class (the same numbers without the (M, C) products)."""
        if self.labels is not None:
            per_sample = -logp[np.arange(logp.shape[0]), self.labels]
        else:
            with np.errstate(invalid="ignore"):
                per_sample = -np.where(self.qw == 0, 0, self.qw * logp).sum(axis=1)
        return _reduce(per_sample, self.reduction, self.denom, self.shape, self.dtype)

    def softmax_grad(self, p):
        """d(per-sample cross-entropy)/d(scores) from the softmax `p` (M, C), which it may
        overwrite: ``p * sum_j w_j q_ij - w q_i``, for one-hot rows ``p - onehot``."""
        if self.labels is None:
            return p * self.qw.sum(axis=1, keepdims=True) - self.qw
        p[np.arange(p.shape[0]), self.labels] -= self.dtype.type(1)
        return p

    def input_grad(self, grad_output, g):
        """d(loss)/d(input) from d(per-sample loss)/d(scores) `g`, (M, C), in the input's layout."""
        g = g * _scale(grad_output, self.reduction, self.denom, self.shape, self.dtype)
        if len(self.in_shape) == 1:
            return g[0]
        n, c, *d = self.in_shape
        return np.moveaxis(g.reshape(n, *d, c), -1, 1)


_CE_FORMULA = r"""
    .. math:: \ell_i = -\sum_{j=1}^C w_j\, q_{ij} \log \mathrm{softmax}(x_i)_j, \qquad
              q_{ij} = (1 - \varepsilon)\, y_{ij} + \varepsilon / C

    with :math:`y_{ij}` the one-hot rows of class indices or the given class probabilities,
    :math:`w` the class weights (1 by default) and :math:`\varepsilon` the label smoothing (0 by
    default). With no weights and no smoothing, ``reduction='sum'`` is the slide's
    :math:`L = -\sum_{i=1}^N \sum_{j=1}^C y_{ij} \log \hat y_{ij}`,
    :math:`\hat y_i = \mathrm{softmax}(x_i)`.
"""

_CLASS_PARAMS = """
    input : array_like, shape (C,) or (N, C) or (N, C, d1, ...)
        {input}
    target : array_like
        Class indices, integers in ``[0, C)`` of shape ``()``, ``(N,)`` or ``(N, d1, ...)``{probs}
    weight : array_like, shape (C,), optional
        A non-negative weight per class (PyTorch's ``weight``).
    reduction : {{'mean', 'sum', 'none'}}, optional
        ``'none'``: one loss per sample, shape ``()``, ``(N,)`` or ``(N, d1, ...)``; ``'sum'``: their
        sum; ``'mean'`` (default): the sum divided by the number of samples, or for class indices
        with `weight`, by the summed weights of the samples' classes (PyTorch's definition).
"""


def cross_entropy(input, target, weight=None, reduction="mean", label_smoothing=0.0):
    plan = _ClassPlan(input, target, weight, reduction, label_smoothing, True, "cross_entropy")
    return plan.reduce(log_softmax(plan.x, dim=1))


def cross_entropy_backward(grad_output, input, target, weight=None, reduction="mean",
                           label_smoothing=0.0):
    r"""Gradient of :func:`cross_entropy` with respect to its logits: per sample
    :math:`\mathrm{softmax}(x_i) \sum_j w_j q_{ij} - w \odot q_i`, i.e. ``softmax(x) - y`` for
    one-hot targets, times `grad_output` (a scalar, or one value per sample for
    ``reduction='none'``) and divided by the 'mean' divisor.

    Parameters
    ----------
    grad_output : float or array_like
        Gradient with respect to the loss: a scalar (1.0 for the loss itself), or an array of the
        unreduced loss's shape when ``reduction='none'``.
    input, target, weight, reduction, label_smoothing :
        The arguments of the :func:`cross_entropy` call.

    Returns
    -------
    ndarray, the shape and dtype of `input`

    Examples
    --------
    >>> import numpy as np
    >>> cross_entropy_backward(1.0, [[0.0, np.log(3.0)]], [[1.0, 0.0]])   # softmax - y
    array([[-0.75,  0.75]])
    """
    plan = _ClassPlan(input, target, weight, reduction, label_smoothing, True, "cross_entropy")
    return plan.input_grad(grad_output, plan.softmax_grad(softmax(plan.x, dim=1)))


cross_entropy.__doc__ = r"""Cross-entropy between the softmax of logits and a target, as
    ``torch.nn.functional.cross_entropy``: per sample :math:`i`
""" + _CE_FORMULA + r"""
    Parameters
    ----------""" + _CLASS_PARAMS.format(
    input="Logits: real scores, **not probabilities**; the softmax is applied here.",
    probs=(",\n        or class probabilities (one-hot or soft rows), floating point, of the input's "
           "shape.")) + r"""    label_smoothing : float in [0, 1], optional
        :math:`\varepsilon` above.

    Returns
    -------
    loss : NumPy float of the input's dtype, or ndarray for ``reduction='none'``

    See Also
    --------
    cross_entropy_backward, nll_loss, softmax

    Notes
    -----
    **Logits, not probabilities.** The slide writes the loss with the network's probabilities
    :math:`\hat y_{ij}`; this function (like PyTorch's) takes the scores *before* the softmax.
    Probabilities passed in are not detected (they are valid logits too) and give another number:
    the softmax is applied a second time. To evaluate the slide's formula from probabilities `p`
    (rows summing to 1), take their logarithm: ``nll_loss(np.log(p), labels, reduction='sum')``
    for class indices, or ``cross_entropy(np.log(p), y, reduction='sum')`` for probability
    targets (:math:`\mathrm{softmax}(\log p) = p`).

    A target of the input's shape holds class probabilities (PyTorch's rule) and must be floating
    point; anything else holds class indices and must be integer.

    Examples
    --------
    The slide gives the formula, not numbers; two events and three classes, the formula by hand
    from the probabilities :math:`\hat y`:

    >>> import numpy as np
    >>> y_hat = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2]])
    >>> y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])             # one-hot y_ij
    >>> round(float(-(y * np.log(y_hat)).sum()), 4)               # L = -sum_i sum_j y_ij log yhat_ij
    1.0498
    >>> logits = np.log(y_hat)                                        # any scores with this softmax
    >>> round(float(cross_entropy(logits, y, reduction="sum")), 4)
    1.0498
    >>> round(float(cross_entropy(logits, np.array([0, 1]), reduction="sum")), 4)   # class indices
    1.0498
    >>> round(float(cross_entropy(logits, y)), 4)                  # 'mean': divided by N = 2
    0.5249
    >>> cross_entropy(logits, y, reduction="none").round(4)
    array([0.3567, 0.6931])

    The trap: probabilities passed as logits are softmaxed again and give another number.

    >>> round(float(cross_entropy(y_hat, y, reduction="sum")), 4)
    1.7078
"""


def nll_loss(input, target, weight=None, reduction="mean"):
    plan = _ClassPlan(input, target, weight, reduction, 0.0, False, "nll_loss")
    return plan.reduce(plan.x)


def nll_loss_backward(grad_output, input, target, weight=None, reduction="mean"):
    r"""Gradient of :func:`nll_loss` with respect to its log-probabilities: :math:`-w_{y_i}` at
    the target class of each sample, 0 elsewhere, times `grad_output` and divided by the 'mean'
    divisor (parameters as :func:`cross_entropy_backward`).

    Examples
    --------
    >>> nll_loss_backward(1.0, [[-1.0, -0.5], [-0.2, -2.0]], [0, 0])
    array([[-0.5, -0. ],
           [-0.5, -0. ]])
    """
    plan = _ClassPlan(input, target, weight, reduction, 0.0, False, "nll_loss")
    return plan.input_grad(grad_output, -plan.qw)


nll_loss.__doc__ = r"""Negative log-likelihood of class indices given log-probabilities, as
    ``torch.nn.functional.nll_loss``: per sample :math:`\ell_i = -w_{y_i} \log \hat y_{i, y_i}`.

    With ``reduction='sum'`` and no weights this is the slide's
    :math:`L = -\sum_i \sum_j y_{ij} \log \hat y_{ij}` for one-hot :math:`y`, computed from
    ``input = log(yhat)``; ``nll_loss(log_softmax(x, dim=1), y)`` is ``cross_entropy(x, y)``.

    Parameters
    ----------""" + _CLASS_PARAMS.format(
    input="Log-probabilities (e.g. :func:`log_softmax` of logits, or ``np.log`` of probabilities).",
    probs=".") + r"""
    Returns
    -------
    loss : NumPy float of the input's dtype, or ndarray for ``reduction='none'``

    Examples
    --------
    >>> import numpy as np
    >>> y_hat = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2]])
    >>> round(float(nll_loss(np.log(y_hat), [0, 1], reduction="sum")), 4)   # -log 0.7 - log 0.5
    1.0498
"""


# --------------------------------------------------------------------------- regression

def _pair(input, target):
    """The prediction as float and the target in its dtype and shape (a target that differs only
    by axes of length 1, e.g. (N,) against (N, 1), is reshaped: PyTorch would broadcast to
    (N, N); any other shape is refused, even of the same size)."""
    x = _as_float(input, "input")
    t = np.asarray(target)
    if t.dtype.kind not in "biuf":
        raise TypeError(f"target must hold real numbers, got dtype {t.dtype}")
    t = t.astype(x.dtype, copy=False)
    if t.shape != x.shape:
        if [n for n in t.shape if n != 1] != [n for n in x.shape if n != 1]:
            raise ValueError(f"target shape {t.shape} does not match input shape {x.shape}")
        t = t.reshape(x.shape)
    return x, t


def _elementwise(values, reduction, dtype):
    return _reduce(values, check_reduction(reduction), values.size, values.shape, dtype)


def _elementwise_grad(grad_output, g, reduction):
    scale = _scale(grad_output, check_reduction(reduction), g.size, g.shape, g.dtype)
    return g * (scale.reshape(g.shape) if reduction == "none" else scale)


def mse_loss(input, target, reduction="mean"):
    r"""The slide's mean squared error, :math:`J = \frac1N \sum_{i} (\hat y_i - y_i)^2`, over
    every element, as ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    input : array_like
        Predictions :math:`\hat y`.
    target : array_like
        Targets :math:`y`: the input's shape (or its size: it is then reshaped to it).
    reduction : {'mean', 'sum', 'none'}, optional
        ``'none'`` returns the squared errors, ``'sum'`` their sum, ``'mean'`` their mean.

    Returns
    -------
    loss : NumPy float of the input's dtype, or ndarray for ``reduction='none'``

    Examples
    --------
    >>> float(mse_loss([1.0, 3.0], [0.0, 0.0]))        # (1 + 9) / 2
    5.0
    >>> mse_loss([1.0, 3.0], [0.0, 0.0], reduction="none")
    array([1., 9.])
    """
    x, t = _pair(input, target)
    d = x - t
    return _elementwise(d * d, reduction, x.dtype)


def mse_loss_backward(grad_output, input, target, reduction="mean"):
    r"""Gradient of :func:`mse_loss`: :math:`2 (\hat y - y)`, divided by the number of elements
    for 'mean', times `grad_output`.

    Examples
    --------
    >>> mse_loss_backward(1.0, [1.0, 3.0], [0.0, 0.0])
    array([1., 3.])
    """
    x, t = _pair(input, target)
    return _elementwise_grad(grad_output, 2 * (x - t), reduction)


def l1_loss(input, target, reduction="mean"):
    r"""The slide's mean absolute error, :math:`J = \frac1N \sum_{i} |\hat y_i - y_i|`, over every
    element, as ``torch.nn.functional.l1_loss`` (parameters as :func:`mse_loss`).

    Examples
    --------
    >>> float(l1_loss([1.0, -3.0], [0.0, 0.0]))        # (1 + 3) / 2
    2.0
    >>> float(l1_loss([1.0, -3.0], [0.0, 0.0], reduction="sum"))
    4.0
    """
    x, t = _pair(input, target)
    return _elementwise(np.abs(x - t), reduction, x.dtype)


def l1_loss_backward(grad_output, input, target, reduction="mean"):
    r"""Gradient of :func:`l1_loss`: :math:`\mathrm{sign}(\hat y - y)` (0 at ties, as PyTorch),
    divided by the number of elements for 'mean', times `grad_output`.

    Examples
    --------
    >>> l1_loss_backward(1.0, [1.0, -3.0, 0.0], [0.0, 0.0, 0.0], reduction="sum")
    array([ 1., -1.,  0.])
    """
    x, t = _pair(input, target)
    return _elementwise_grad(grad_output, np.sign(x - t), reduction)


# --------------------------------------------------------------------------- binary

def _binary(input, target, pos_weight):
    z, y = _pair(input, target)
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError("target values must be in [0, 1]")
    if pos_weight is None:
        return z, y, 1.0
    pw = float(pos_weight)
    if not pw > 0:
        raise ValueError(f"pos_weight must be positive, got {pos_weight}")
    return z, y, pw


def binary_cross_entropy_with_logits(input, target, pos_weight=None, reduction="mean"):
    r"""Binary cross-entropy of targets in [0, 1] given logits, the sigmoid applied inside (as
    ``torch.nn.functional.binary_cross_entropy_with_logits`` with a scalar `pos_weight`):

    .. math:: \ell = -\left(p\, y \log \sigma(z) + (1 - y) \log(1 - \sigma(z))\right)

    computed as :math:`p\, y\, \mathrm{softplus}(-z) + (1 - y)\, \mathrm{softplus}(z)`, finite for any
    logit. `reduction` as :func:`mse_loss`.

    Examples
    --------
    >>> round(float(binary_cross_entropy_with_logits([0.0], [1.0])), 4)   # log 2
    0.6931
    """
    z, y, pw = _binary(input, target, pos_weight)
    # softplus(+-z) = log1p(exp(-|z|)) + max(+-z, 0), each without cancellation: softplus(-z) as
    # softplus(z) - z lost it (y = 1, z = 17: 0 in float32 instead of 4.1e-8)
    tail = np.log1p(np.exp(-np.abs(z)))
    loss = pw * y * (tail + np.maximum(-z, 0)) + (1 - y) * (tail + np.maximum(z, 0))
    return _elementwise(loss, reduction, z.dtype)


def binary_cross_entropy_with_logits_backward(grad_output, input, target, pos_weight=None,
                                              reduction="mean"):
    r"""Gradient of :func:`binary_cross_entropy_with_logits`:
    :math:`(p y + 1 - y) \sigma(z) - p y`, times `grad_output`, divided by the number of elements
    for 'mean'.

    Examples
    --------
    >>> binary_cross_entropy_with_logits_backward(1.0, [0.0, 0.0], [1.0, 0.0], reduction="sum")
    array([-0.5,  0.5])
    """
    z, y, pw = _binary(input, target, pos_weight)
    s = np.exp(-np.logaddexp(0, -z)).astype(z.dtype, copy=False)   # sigmoid without overflow
    return _elementwise_grad(grad_output, (pw * y + 1 - y) * s - pw * y, reduction)
