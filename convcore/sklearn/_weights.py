"""Per-sample weights for the estimators' losses: the weighted mean ``sum w_i l_i / sum w_i``.

convcore's training loop hands a loss the targets of each mini-batch; the weights ride along as the
targets' last column, so they are shuffled and batched with them. Within a batch the weights are
normalised by their sum, as scikit-learn's SGD-trained models do; a batch whose weights are all
zero contributes nothing.
"""
import numpy as np

from .. import losses
from ..functional import log_softmax

__all__ = ["SampleWeighted", "pack"]


def pack(y, sample_weight):
    """Targets ``(n, k)`` with the weights appended as column ``k``."""
    return np.column_stack([np.asarray(y, dtype=np.float64).reshape(len(y), -1), sample_weight])


class SampleWeighted(losses.Loss):
    """Weighted cross-entropy of logits (``kind='cross_entropy'``, label in column 0) or weighted
    mean squared error over the target columns (``kind='mse'``).

    The task is reported as regression: the packed targets are not labels, so ``fit`` records the
    loss but no accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> loss = SampleWeighted("cross_entropy")
    >>> unweighted = losses.CrossEntropyLoss()(z, np.array([0, 0]))
    >>> bool(np.isclose(loss(z, pack([0, 0], [1.0, 1.0])), unweighted))
    True
    """

    task = "regression"

    def __init__(self, kind):
        if kind not in ("cross_entropy", "mse"):
            raise ValueError(f"kind must be 'cross_entropy' or 'mse', got {kind!r}")
        self.kind = kind

    def forward(self, prediction, target):
        z = np.asarray(prediction)
        n = z.shape[0]
        z2 = z.reshape(n, -1)
        target = np.asarray(target)
        w = target[:, -1].astype(z.dtype)
        total = float(w.sum())
        share = w / total if total > 0 else np.zeros_like(w)
        if self.kind == "cross_entropy":
            labels = target[:, 0].astype(np.intp)
            logp = log_softmax(z2, dim=1)
            rows = np.arange(n)
            per_sample = -logp[rows, labels]
            grad = np.exp(logp)
            grad[rows, labels] -= 1
        else:
            diff = z2 - target[:, :-1].astype(z.dtype)
            per_sample = (diff * diff).mean(axis=1)
            grad = diff * z.dtype.type(2.0 / diff.shape[1])
        self._grad = (grad * share[:, None].astype(z.dtype)).reshape(z.shape)
        return float(per_sample @ share)

    def backward(self):
        return self._grad

    def get_config(self):
        return {"kind": self.kind}
