r"""Losses as objects: ``loss(prediction, target)`` then ``loss.backward()``, as PyTorch's
``torch.nn.*Loss``; each one calls its function in :mod:`convcore.functional` (one implementation).

The lecture's slide: mean squared error :math:`J = \frac1N \sum_i (\hat y_i - y_i)^2`
(:class:`MSELoss`), mean absolute error :math:`J = \frac1N \sum_i |\hat y_i - y_i|` (:class:`MAELoss`,
alias :class:`L1Loss`) and cross-entropy :math:`L = -\sum_{i=1}^N \sum_{j=1}^C y_{ij} \log \hat y_{ij}`
(:class:`CrossEntropyLoss` from logits, :class:`NLLLoss` from log-probabilities). Every loss takes
``reduction='mean'|'sum'|'none'``: ``'sum'`` is the slide's sum, ``'mean'`` (default) divides it by
the number of samples, ``'none'`` keeps one loss per sample. Calling a loss returns a Python float
(an array for ``'none'``); ``loss.backward()`` returns the gradient with respect to the prediction
(for ``'none'``, ``loss.backward(grad_output)`` with one value per sample, as PyTorch asks).

Examples
--------
>>> import numpy as np
>>> loss = CrossEntropyLoss()
>>> round(loss(np.zeros((2, 4)), np.array([0, 3])), 6)  # log(4)
1.386294
>>> loss.backward()
array([[-0.375,  0.125,  0.125,  0.125],
       [ 0.125,  0.125,  0.125, -0.375]])
>>> y = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])    # the same targets, one-hot
>>> round(CrossEntropyLoss(reduction="sum")(np.zeros((2, 4)), y), 6)  # 2 log(4)
2.772589
"""
import numpy as np

from .functional import losses as F

__all__ = ["Loss", "MSELoss", "MAELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
           "get_loss"]


class Loss:
    """Base class: ``__call__(prediction, target)`` returns the loss, ``backward(grad_output=None)``
    its gradient with respect to the prediction. A subclass names its functional pair (``_loss``,
    ``_grad``) and the keyword arguments it passes (``_options``)."""

    #: 'classification' when predictions are class scores (accuracy is meaningful)
    task = "regression"
    _loss = _grad = None

    def __init__(self, reduction="mean"):
        self.reduction = F.check_reduction(reduction)

    def __call__(self, prediction, target):
        return self.forward(prediction, target)

    def _options(self):
        return {}

    def forward(self, prediction, target):
        value = type(self)._loss(prediction, target, reduction=self.reduction, **self._options())
        self._inputs = (prediction, target)
        return value if self.reduction == "none" else float(value)

    def backward(self, grad_output=None):
        """Gradient of the last loss computed with respect to its prediction.

        Parameters
        ----------
        grad_output : float or array_like, optional
            Gradient with respect to the loss: 1 by default; for ``reduction='none'`` required, an
            array of the unreduced loss's shape (PyTorch asks the same of a non-scalar loss).
        """
        if grad_output is None:
            if self.reduction == "none":
                raise ValueError("backward() of a loss with reduction='none' needs grad_output, "
                                 "one value per element of the loss")
            grad_output = 1.0
        return type(self)._grad(grad_output, *self._inputs, reduction=self.reduction,
                                **self._options())

    def get_config(self):
        return {**self._options(), "reduction": self.reduction}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if not (k == "reduction" and v == "mean"))
        return f"{type(self).__name__}({args})"


class MSELoss(Loss):
    r"""Squared error :math:`(\hat y - y)^2` of every element; see :func:`convcore.mse_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> loss = MSELoss()
    >>> loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))          # (1 + 9) / 2
    5.0
    >>> loss.backward()                                             # 2 (yhat - y) / N
    array([1., 3.])
    """

    _loss, _grad = staticmethod(F.mse_loss), staticmethod(F.mse_loss_backward)


class MAELoss(Loss):
    r"""Absolute error :math:`|\hat y - y|` of every element (gradient ``sign``, 0 at ties); see
    :func:`convcore.l1_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> MAELoss(reduction="none")(np.array([1.0, -3.0]), np.array([0.0, 0.0]))
    array([1., 3.])
    """

    _loss, _grad = staticmethod(F.l1_loss), staticmethod(F.l1_loss_backward)


L1Loss = MAELoss


class _ClassLoss(Loss):
    task = "classification"

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        if weight is not None:
            weight = np.asarray(weight, dtype=np.float64)
            if weight.ndim != 1 or np.any(weight < 0) or not np.all(np.isfinite(weight)):
                raise ValueError("weight must be a 1-D array of non-negative finite class weights")
        self.weight = weight

    def _options(self):
        return {"weight": self.weight}

    def get_config(self):
        return {**super().get_config(), "weight": None if self.weight is None else self.weight.tolist()}


class CrossEntropyLoss(_ClassLoss):
    r"""Cross-entropy from **logits** (softmax fused, stable), with class-index or class-probability
    targets, class weights and label smoothing: :func:`convcore.cross_entropy`, where the
    formulas, and the slide's formula from probabilities, are given.

    Examples
    --------
    The slide's :math:`L = -\sum_i \sum_j y_{ij} \log \hat y_{ij}` for two events whose
    predicted probabilities are ``y_hat``: the logits are any scores with that softmax, e.g.
    ``log(y_hat)``.

    >>> import numpy as np
    >>> y_hat = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2]])
    >>> y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> loss = CrossEntropyLoss(reduction="sum")
    >>> round(loss(np.log(y_hat), y), 4), round(float(-(y * np.log(y_hat)).sum()), 4)
    (1.0498, 1.0498)
    >>> loss.backward().round(4)                                      # softmax - y
    array([[-0.3,  0.2,  0.1],
           [ 0.3, -0.5,  0.2]])
    """

    def __init__(self, weight=None, label_smoothing=0.0, reduction="mean"):
        super().__init__(weight, reduction)
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    _loss, _grad = staticmethod(F.cross_entropy), staticmethod(F.cross_entropy_backward)

    def _options(self):
        return {**super()._options(), "label_smoothing": self.label_smoothing}


class NLLLoss(_ClassLoss):
    r"""Negative log-likelihood of class indices from **log-probabilities**:
    :func:`convcore.nll_loss`. ``NLLLoss(reduction='sum')(np.log(y_hat), labels)`` is
    the slide's cross-entropy computed from probabilities ``y_hat``.

    Examples
    --------
    >>> import numpy as np
    >>> y_hat = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2]])
    >>> round(NLLLoss(reduction="sum")(np.log(y_hat), np.array([0, 1])), 4)   # -log 0.7 - log 0.5
    1.0498
    """

    _loss, _grad = staticmethod(F.nll_loss), staticmethod(F.nll_loss_backward)


class BCEWithLogitsLoss(Loss):
    r"""Binary cross-entropy of targets in [0, 1] given logits (sigmoid fused, stable):
    :func:`convcore.binary_cross_entropy_with_logits`.

    Examples
    --------
    >>> import numpy as np
    >>> round(BCEWithLogitsLoss()(np.array([0.0]), np.array([1.0])), 4)   # log 2
    0.6931
    """

    task = "binary"
    _loss = staticmethod(F.binary_cross_entropy_with_logits)
    _grad = staticmethod(F.binary_cross_entropy_with_logits_backward)

    def __init__(self, pos_weight=None, reduction="mean"):
        super().__init__(reduction)
        if pos_weight is not None:
            pos_weight = float(pos_weight)
            if not pos_weight > 0:
                raise ValueError(f"pos_weight must be positive, got {pos_weight}")
        self.pos_weight = pos_weight

    def _options(self):
        return {"pos_weight": self.pos_weight}


_NAMES = {"mse": MSELoss, "mae": MAELoss, "l1": MAELoss, "cross_entropy": CrossEntropyLoss,
          "crossentropy": CrossEntropyLoss, "nll": NLLLoss, "bce": BCEWithLogitsLoss,
          "binary_cross_entropy": BCEWithLogitsLoss}


def get_loss(loss):
    """A Loss from an instance or a name ('mse', 'mae', 'cross_entropy', 'nll', 'bce')."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in _NAMES:
        return _NAMES[loss.lower()]()
    raise ValueError(f"loss must be a Loss or one of {sorted(_NAMES)}, got {loss!r}")
