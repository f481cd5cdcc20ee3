"""Classification metrics: confusion matrix, accuracy, precision, recall, F1 and a report.

The definitions and the numbers are scikit-learn's (``sklearn.metrics``), without depending on it.
For a class c, with TP, FP and FN counted from the confusion matrix::

    precision = TP / (TP + FP)      recall = TP / (TP + FN)
    F_beta    = (1 + beta^2) TP / ((1 + beta^2) TP + beta^2 FN + FP)

``average`` combines the classes: 'binary' reports the class ``pos_label``; 'micro' pools the
counts of all classes; 'macro' is the plain mean over classes; 'weighted' weights each class by its
support (its number of true samples); None returns one value per class. A ratio with a zero
denominator takes the value ``zero_division`` (0, 1 or nan; 'warn' means 0 with an
:class:`UndefinedMetricWarning`, raised, as scikit-learn raises it, only for the metric the
function returns: ``recall_score`` of a classifier that never predicts the class is 0 without a
warning, since recall's denominator, the true samples, is not zero). Bad arguments raise
:class:`InvalidParameterError` (both a ValueError and a TypeError) with scikit-learn's message.
"""
import math
import numbers
import sys
import warnings

import numpy as np

__all__ = ["InvalidParameterError", "UndefinedMetricWarning", "accuracy_score", "classification_report", "confusion_matrix",
           "f1_score", "fbeta_score", "precision_recall_fscore_support", "precision_score",
           "recall_score"]

_AVERAGES = ("binary", "micro", "macro", "weighted", None)


class UndefinedMetricWarning(UserWarning):
    """A precision, recall or F-score had a zero denominator and was set to 0."""


class InvalidParameterError(ValueError, TypeError):
    """An argument of the wrong type or value (scikit-learn's class of the same name: catch it
    as either ValueError or TypeError)."""


def _check_params(func, average, zero_division, beta=1.0):
    """scikit-learn's checks of `average`, `zero_division` and `beta`, with its messages."""
    def bad(name, expected, value):
        return InvalidParameterError(f"The {name!r} parameter of {func} must be {expected}. "
                                     f"Got {value!r} instead.")
    if not (average is None or isinstance(average, str) and average in _AVERAGES):
        raise bad("average", "a str among {'binary', 'micro', 'macro', 'weighted'} or None",
                  average)
    real = isinstance(zero_division, numbers.Real)
    if not (isinstance(zero_division, str) and zero_division == "warn"
            or real and (zero_division in (0, 1) or math.isnan(zero_division))):
        raise bad("zero_division", "a float among {0.0, 1.0}, numpy.nan or a str among "
                                   "{'warn'}", zero_division)
    if not (isinstance(beta, numbers.Real) and beta >= 0):  # False for nan
        raise bad("beta", "a float in the range [0.0, inf]", beta)


def _labels_1d(y, name):
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must not contain NaN or infinity")
    if arr.dtype.kind not in "biufUSO":
        raise TypeError(f"{name} must hold class labels, got dtype {arr.dtype}")
    return arr


def _check_pair(y_true, y_pred):
    y_true, y_pred = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and "
                         f"{len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("y_true and y_pred must not be empty")
    return y_true, y_pred


def confusion_matrix(y_true, y_pred, labels=None, normalize=None):
    """Count, for every true class i and predicted class j, the samples ``C[i, j]``.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n_samples,)
        True and predicted labels (integers or strings).
    labels : array_like, optional
        The classes, in the order of the rows and columns; default: every label seen, sorted.
    normalize : {None, 'true', 'pred', 'all'}
        Divide by the row sums, the column sums or the total.

    Returns
    -------
    C : ndarray of shape (n_classes, n_classes)
        Rows are true classes, columns predicted classes (scikit-learn's convention).

    Examples
    --------
    >>> confusion_matrix([1, 0, 1, 1, 0], [1, 1, 1, 0, 0])
    array([[1, 1],
           [1, 2]])
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    else:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.size == 0:
            raise ValueError("labels must be a non-empty 1-D list of classes")
        if len(np.unique(labels)) != len(labels):
            raise ValueError("labels must not repeat a class")
        if not np.isin(y_true, labels).any():
            raise ValueError("At least one label in labels must be present in y_true")
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]

    def index(y):
        pos = np.clip(np.searchsorted(sorted_labels, y), 0, len(labels) - 1)
        known = sorted_labels[pos] == y
        return order[pos], known

    ti, t_known = index(y_true)
    pi, p_known = index(y_pred)
    keep = t_known & p_known  # samples whose labels are outside `labels` are left out
    n = len(labels)
    cm = np.bincount(ti[keep] * n + pi[keep], minlength=n * n).reshape(n, n)
    if normalize is None:
        return cm
    with np.errstate(divide="ignore", invalid="ignore"):
        if normalize == "true":
            out = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            out = cm / cm.sum(axis=0, keepdims=True)
        else:
            out = cm / cm.sum()
    return np.nan_to_num(out)


def accuracy_score(y_true, y_pred, normalize=True):
    """Fraction (or, with ``normalize=False``, number) of samples predicted correctly.

    >>> accuracy_score([0, 1, 2, 2], [0, 2, 2, 2])
    0.75
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    correct = y_true == y_pred
    return float(correct.mean()) if normalize else int(correct.sum())


def _outside_this_module():
    """The stack level of the first caller outside this module (a warning points at its line,
    whichever public function it called)."""
    level, frame = 2, sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        level, frame = level + 1, frame.f_back
    return level


def _divide(num, den, zero_division, metric, modifier, warn):
    """num / den, `zero_division` where den is 0 (0 with a warning naming `metric` if `warn`)."""
    num, den = np.atleast_1d(np.asarray(num, dtype=float)), np.atleast_1d(np.asarray(den, float))
    bad = den == 0
    out = np.divide(num, np.where(bad, 1.0, den))
    if not bad.any():
        return out
    fill = 0.0 if zero_division == "warn" else float(zero_division)
    if zero_division == "warn" and warn:
        where = "due to" if out.size == 1 else "in labels with"
        warnings.warn(f"{metric} is ill-defined and being set to 0.0 {where} no {modifier} "
                      f"samples. Use `zero_division` parameter to control this behavior.",
                      UndefinedMetricWarning, stacklevel=_outside_this_module())
    return np.where(bad, fill, out)


def precision_recall_fscore_support(y_true, y_pred, beta=1.0, labels=None, pos_label=1,
                                    average=None, warn_for=("precision", "recall", "f-score"),
                                    zero_division="warn"):
    """Precision, recall, F-beta and support of every class, or averaged over classes.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n_samples,)
    beta : float
        Weight of recall in the F-score (1: the F1 score, 0: precision, inf: recall); a
        non-negative real number.
    labels : array_like, optional
        Classes to report (and to average over); default: every label seen, sorted.
    pos_label : int or str
        The class reported when ``average='binary'``.
    average : {'binary', 'micro', 'macro', 'weighted', None}
    warn_for : tuple of {'precision', 'recall', 'f-score'}
        The metrics that warn when ``zero_division='warn'`` sets them to 0 (each single-metric
        function passes its own).
    zero_division : {'warn', 0, 1, nan}
        Value of a ratio whose denominator is zero.

    Returns
    -------
    precision, recall, fscore : float, or ndarray per class when ``average`` is None
    support : ndarray of int per class, or None when averaged

    Examples
    --------
    >>> p, r, f, s = precision_recall_fscore_support([0, 1, 1, 2], [0, 1, 2, 2])
    >>> p, r, s
    (array([1. , 1. , 0.5]), array([1. , 0.5, 1. ]), array([1, 2, 1]))
    """
    return _prfs("precision_recall_fscore_support", y_true, y_pred, beta, labels, pos_label,
                 average, warn_for, zero_division)


def _prfs(func, y_true, y_pred, beta, labels, pos_label, average, warn_for, zero_division):
    _check_params(func, average, zero_division, beta)
    y_true, y_pred = _check_pair(y_true, y_pred)
    present = np.union1d(y_true, y_pred)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(f"Target is multiclass but average='binary'; choose average from "
                             f"'micro', 'macro', 'weighted' or None (labels seen: {present.tolist()})")
        if pos_label not in present:
            if len(present) == 2 or np.asarray(pos_label).dtype.kind != present.dtype.kind:
                raise ValueError(f"pos_label={pos_label!r} is not a valid label: it must be one of "
                                 f"{present.tolist()}")
        labels = np.asarray([pos_label])
    else:
        if pos_label not in (None, 1):
            warnings.warn(f"Note that pos_label (set to {pos_label!r}) is ignored when average "
                          f"!= 'binary' (got {average!r}). You may use labels=[pos_label] to "
                          f"specify a single positive class.", UserWarning,
                          stacklevel=_outside_this_module())
        if labels is None:
            labels = present
    labels = np.asarray(labels)
    cm = confusion_matrix(y_true, y_pred, labels=np.union1d(labels, present))
    all_labels = np.union1d(labels, present)
    idx = np.searchsorted(all_labels, labels)
    tp = np.diag(cm)[idx].astype(float)
    pred_count = cm.sum(axis=0)[idx].astype(float)
    true_count = cm.sum(axis=1)[idx].astype(float)
    if average == "micro":
        tp, pred_count, true_count = tp.sum(), pred_count.sum(), true_count.sum()
    beta = float(beta)
    b2 = beta ** 2 if beta < 1e150 else math.inf     # (a larger beta's square overflows)
    precision = _divide(tp, pred_count, zero_division, "Precision", "predicted",
                        "precision" in warn_for)
    recall = _divide(tp, true_count, zero_division, "Recall", "true", "recall" in warn_for)
    if math.isinf(b2):
        fscore = recall
    elif b2 == 0:
        fscore = precision
    else:
        # from the counts (scikit-learn >= 1.3), so zero_division applies to it directly
        fscore = _divide((1 + b2) * tp, b2 * true_count + pred_count, zero_division, "F-score",
                         "true nor predicted", "f-score" in warn_for)
    support = np.atleast_1d(true_count).astype(int)
    if average is None:
        return precision, recall, fscore, support
    weights = true_count if average == "weighted" else None

    def mean(v):
        # scikit-learn's rule: classes whose value is NaN (zero_division=nan) are left out; when
        # the classes left all have zero support, the weighted mean falls back to the plain mean
        v = np.atleast_1d(v)
        keep = ~np.isnan(v)
        if not keep.any():
            return float("nan")
        if weights is None or weights[keep].sum() == 0:
            return float(np.mean(v[keep]))
        return float(np.average(v[keep], weights=weights[keep]))
    return mean(precision), mean(recall), mean(fscore), None


def _single(func, y_true, y_pred, labels, pos_label, average, zero_division, beta=1.0):
    """The one metric `func` returns (warning, as scikit-learn does, for that one only)."""
    metric = {"precision_score": "precision", "recall_score": "recall"}.get(func, "f-score")
    index = ("precision", "recall", "f-score").index(metric)
    return _prfs(func, y_true, y_pred, beta, labels, pos_label, average, (metric,),
                 zero_division)[index]


def precision_score(y_true, y_pred, labels=None, pos_label=1, average="binary",
                    zero_division="warn"):
    """Precision ``TP / (TP + FP)``; arguments as :func:`precision_recall_fscore_support`.

    >>> precision_score([0, 1, 1, 0], [1, 1, 1, 0])
    0.6666666666666666
    """
    return _single("precision_score", y_true, y_pred, labels, pos_label, average,
                   zero_division)


def recall_score(y_true, y_pred, labels=None, pos_label=1, average="binary", zero_division="warn"):
    """Recall ``TP / (TP + FN)``; arguments as :func:`precision_recall_fscore_support`.

    >>> recall_score([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _single("recall_score", y_true, y_pred, labels, pos_label, average, zero_division)


def fbeta_score(y_true, y_pred, beta, labels=None, pos_label=1, average="binary",
                zero_division="warn"):
    """F-beta score, the weighted harmonic mean of precision and recall.

    >>> round(fbeta_score([0, 1, 1, 0], [1, 1, 0, 0], beta=2), 4)
    0.5
    """
    return _single("fbeta_score", y_true, y_pred, labels, pos_label, average, zero_division,
                   beta)


def f1_score(y_true, y_pred, labels=None, pos_label=1, average="binary", zero_division="warn"):
    """F1 score ``2 TP / (2 TP + FP + FN)``; arguments as :func:`precision_recall_fscore_support`.

    >>> round(f1_score([0, 1, 2, 2], [0, 1, 1, 2], average="macro"), 4)
    0.7778
    """
    return _single("f1_score", y_true, y_pred, labels, pos_label, average, zero_division)


def classification_report(y_true, y_pred, labels=None, target_names=None, digits=2,
                          output_dict=False, zero_division="warn"):
    """Precision, recall, F1 and support per class, with the accuracy and the macro and
    weighted averages, laid out as scikit-learn's ``classification_report``.

    Examples
    --------
    >>> print(classification_report([0, 1, 1, 0], [0, 1, 0, 0], target_names=["other", "proton"]))
                  precision    recall  f1-score   support
    <BLANKLINE>
           other       0.67      1.00      0.80         2
          proton       1.00      0.50      0.67         2
    <BLANKLINE>
        accuracy                           0.75         4
       macro avg       0.83      0.75      0.73         4
    weighted avg       0.83      0.75      0.73         4
    <BLANKLINE>
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    present = np.union1d(y_true, y_pred)
    labels_given = labels is not None
    labels = present if labels is None else np.asarray(labels)
    if target_names is None:
        target_names = [str(label) for label in labels]
    elif len(target_names) != len(labels):
        raise ValueError(f"target_names has {len(target_names)} names for {len(labels)} classes")
    kw = dict(labels=labels, zero_division=zero_division)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, **kw)
    rows = {name: dict(zip(("precision", "recall", "f1-score", "support"), (p[i], r[i], f[i], s[i])))
            for i, name in enumerate(target_names)}
    # scikit-learn prints an accuracy row when micro averages equal accuracy (all classes used)
    micro_is_accuracy = not labels_given or set(present.tolist()) <= set(labels.tolist())
    averages = {}
    if micro_is_accuracy:
        averages["accuracy"] = accuracy_score(y_true, y_pred)
    else:
        averages["micro avg"] = precision_recall_fscore_support(y_true, y_pred, average="micro", **kw)
    for avg in ("macro", "weighted"):
        averages[f"{avg} avg"] = precision_recall_fscore_support(y_true, y_pred, average=avg, **kw)
    total = int(s.sum())
    if output_dict:
        out = {name: {k: (int(v) if k == "support" else float(v)) for k, v in row.items()}
               for name, row in rows.items()}
        for name, value in averages.items():
            if name == "accuracy":
                out[name] = float(value)
            else:
                out[name] = dict(zip(("precision", "recall", "f1-score"), map(float, value[:3])),
                                 support=total)
        return out
    width = max(len("weighted avg"), digits, *(len(n) for n in target_names))
    head = f"{'':>{width}s} " + "".join(f" {h:>9}" for h in ("precision", "recall", "f1-score",
                                                              "support"))
    lines = [head, ""]
    for name, row in rows.items():
        values = "".join(f" {row[k]:>9.{digits}f}" for k in ("precision", "recall", "f1-score"))
        lines.append(f"{name:>{width}s} {values} {row['support']:>9}")
    lines.append("")
    for name, value in averages.items():
        if name == "accuracy":
            lines.append(f"{name:>{width}s}  {'':>9} {'':>9} {value:>9.{digits}f} {total:>9}")
        else:
            values = "".join(f" {v:>9.{digits}f}" for v in value[:3])
            lines.append(f"{name:>{width}s} {values} {total:>9}")
    return "\n".join(lines) + "\n"
