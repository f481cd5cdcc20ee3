"""Losses: mean squared / absolute error, cross-entropy from logits, binary cross-entropy from logits.

Each loss object is called as ``loss(prediction, target)`` and returns a Python float (the mean over
the batch); ``loss.backward()`` then returns the gradient with respect to the prediction.

Examples
--------
>>> import numpy as np
>>> loss = CrossEntropyLoss()
>>> round(loss(np.zeros((2, 4)), np.array([0, 3])), 6)  # log(4)
1.386294
>>> loss.backward()
array([[-0.375,  0.125,  0.125,  0.125],
       [ 0.125,  0.125,  0.125, -0.375]])
"""
import numpy as np

__all__ = ["Loss", "MSELoss", "MAELoss", "L1Loss", "CrossEntropyLoss", "BCEWithLogitsLoss", "get_loss"]


def _float_pred(prediction):
    prediction = np.asarray(prediction)
    if prediction.dtype.kind != "f":
        prediction = prediction.astype(np.float64)
    return prediction


class Loss:
    """Base class: ``__call__(prediction, target) -> float`` then ``backward() -> grad``."""

    #: 'classification' when predictions are class scores (accuracy is meaningful)
    task = "regression"

    def __call__(self, prediction, target):
        return self.forward(prediction, target)

    def get_config(self):
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MSELoss(Loss):
    """Mean of ``(prediction - target)^2`` over all elements."""

    def forward(self, prediction, target):
        prediction = _float_pred(prediction)
        target = np.asarray(target, dtype=prediction.dtype)
        if target.shape != prediction.shape:
            if target.size != prediction.size:
                raise ValueError(f"target shape {target.shape} does not match prediction shape {prediction.shape}")
            target = target.reshape(prediction.shape)
        diff = prediction - target
        self._diff = diff
        return float(np.mean(diff * diff))

    def backward(self):
        d = self._diff
        return d * d.dtype.type(2.0 / d.size)


class MAELoss(Loss):
    """Mean of ``|prediction - target|`` over all elements (gradient ``sign`` / n, 0 at ties)."""

    def forward(self, prediction, target):
        prediction = _float_pred(prediction)
        target = np.asarray(target, dtype=prediction.dtype)
        if target.shape != prediction.shape:
            if target.size != prediction.size:
                raise ValueError(f"target shape {target.shape} does not match prediction shape {prediction.shape}")
            target = target.reshape(prediction.shape)
        diff = prediction - target
        self._diff = diff
        return float(np.mean(np.abs(diff)))

    def backward(self):
        d = self._diff
        return np.sign(d) * d.dtype.type(1.0 / d.size)


L1Loss = MAELoss


def _log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class CrossEntropyLoss(Loss):
    """Cross-entropy of integer class labels given logits ``(N, C)`` (softmax fused, stable).

    With class ``weight`` ``w`` and ``label_smoothing`` ``e`` the target distribution is
    ``q = (1 - e) * onehot(y) + e / C`` and the loss is
    ``sum_i sum_c w_c q_ic (-log p_ic) / sum_i w_{y_i}`` (PyTorch's definition).
    """

    task = "classification"

    def __init__(self, weight=None, label_smoothing=0.0):
        if weight is not None:
            weight = np.asarray(weight, dtype=np.float64)
            if weight.ndim != 1 or np.any(weight < 0) or not np.all(np.isfinite(weight)):
                raise ValueError("weight must be a 1-D array of non-negative finite class weights")
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.weight = weight
        self.label_smoothing = float(label_smoothing)

    def forward(self, prediction, target):
        z = _float_pred(prediction)
        if z.ndim != 2:
            raise ValueError(f"prediction must be 2-D logits (N, C), got shape {z.shape}")
        n, c = z.shape
        target = np.asarray(target)
        if target.shape != (n,) or target.dtype.kind not in "iub":
            raise ValueError(f"target must be {n} integer class labels, got shape {target.shape} dtype {target.dtype}")
        target = target.astype(np.intp)
        if n and (target.min() < 0 or target.max() >= c):
            raise ValueError(f"target labels must be in [0, {c - 1}]")
        if self.weight is not None and self.weight.shape != (c,):
            raise ValueError(f"weight has {self.weight.shape[0]} entries but there are {c} classes")
        logp = _log_softmax(z)
        rows = np.arange(n)
        eps = self.label_smoothing
        q = np.full((n, c), eps / c, dtype=z.dtype)
        q[rows, target] += 1.0 - eps
        if self.weight is not None:
            w = self.weight.astype(z.dtype)
            qw = q * w
            denom = float(w[target].sum())
        else:
            qw = q
            denom = float(n)
        self._p = np.exp(logp)
        self._qw = qw
        self._denom = denom
        return float(-(qw * logp).sum() / denom)

    def backward(self):
        qw, p = self._qw, self._p
        g = p * qw.sum(axis=1, keepdims=True) - qw
        g *= g.dtype.type(1.0 / self._denom)
        return g

    def get_config(self):
        return {"weight": None if self.weight is None else self.weight.tolist(),
                "label_smoothing": self.label_smoothing}


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy of targets in [0, 1] given logits (sigmoid fused, stable).

    ``loss = mean(-(pos_weight * y * log s(z) + (1 - y) * log(1 - s(z))))``.
    """

    task = "binary"

    def __init__(self, pos_weight=None):
        if pos_weight is not None:
            pos_weight = float(pos_weight)
            if not pos_weight > 0:
                raise ValueError(f"pos_weight must be positive, got {pos_weight}")
        self.pos_weight = pos_weight

    def forward(self, prediction, target):
        z = _float_pred(prediction)
        y = np.asarray(target, dtype=z.dtype)
        if y.shape != z.shape:
            if y.size != z.size:
                raise ValueError(f"target shape {y.shape} does not match prediction shape {z.shape}")
            y = y.reshape(z.shape)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError("target values must be in [0, 1]")
        # log s(z) = -softplus(-z), log(1 - s(z)) = -softplus(z)
        sp_pos = np.logaddexp(0, z)
        sp_neg = sp_pos - z
        pw = 1.0 if self.pos_weight is None else self.pos_weight
        self._z, self._y = z, y
        return float(np.mean(pw * y * sp_neg + (1 - y) * sp_pos))

    def backward(self):
        z, y = self._z, self._y
        s = np.exp(-np.logaddexp(0, -z)).astype(z.dtype)
        pw = 1.0 if self.pos_weight is None else self.pos_weight
        g = (pw * y + 1 - y) * s - pw * y
        return (g * (1.0 / z.size)).astype(z.dtype)

    def get_config(self):
        return {"pos_weight": self.pos_weight}


_NAMES = {"mse": MSELoss, "mae": MAELoss, "l1": MAELoss, "cross_entropy": CrossEntropyLoss,
          "crossentropy": CrossEntropyLoss, "bce": BCEWithLogitsLoss,
          "binary_cross_entropy": BCEWithLogitsLoss}


def get_loss(loss):
    """A Loss from an instance or a name ('mse', 'mae', 'cross_entropy', 'bce')."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.lower() in _NAMES:
        return _NAMES[loss.lower()]()
    raise ValueError(f"loss must be a Loss or one of {sorted(_NAMES)}, got {loss!r}")
