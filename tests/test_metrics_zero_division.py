"""convcore.metrics against scikit-learn: the same values AND the same warnings (class and
message) for every zero_division, average and label set, degenerate ones included, and the same
refusals of bad `beta`, `zero_division` and `average`."""
import math
import warnings

import numpy as np
import pytest

from convcore import metrics as M

FUNCS = ["precision_score", "recall_score", "f1_score", "fbeta_score",
         "precision_recall_fscore_support"]
ZERO_DIVISIONS = ["warn", 0, 1.0, np.nan]
BETAS = [0, 0.5, 2.0, math.inf]


def _label_sets():
    """(y_true, y_pred, labels) cases: the slide's 'always not proton', one-class, empty classes,
    labels given that never occur, string labels, and random ones."""
    cases = [
        ([1, 1, 0, 0, 1], [0, 0, 0, 0, 0], None),     # the classifier that always says "no"
        ([0, 0, 0, 0, 0], [1, 1, 1, 1, 1], None),
        ([0, 0, 0], [0, 0, 0], None),                 # one class seen: pos_label 1 never occurs
        ([1, 1, 1], [1, 1, 1], None),
        ([1], [0], None),
        ([0, 1, 2, 2], [0, 0, 0, 0], None),
        ([0, 1, 2, 2], [0, 1, 1, 2], [1, 3]),         # a label that never occurs
        ([0, 0, 2], [1, 1, 2], [1, 3]),
        ([0, 0], [0, 0], [1]),
        (["p", "n", "n"], ["n", "n", "n"], None),
        (["proton", "pion", "kaon"], ["pion", "pion", "pion"], ["proton", "muon"]),
    ]
    rng = np.random.default_rng(20)
    for _ in range(15):
        k, n = int(rng.integers(2, 5)), int(rng.integers(1, 12))
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        labels = list(rng.choice(k + 1, int(rng.integers(1, 3)), replace=False)) \
            if rng.random() < 0.3 else None
        cases.append((y_true.tolist(), y_pred.tolist(), labels))
    return cases


CASES = _label_sets()


def _run(call):
    """(result or exception class name, [(warning class name, message), ...])."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            out = call()
        except (ValueError, TypeError) as exc:
            out = type(exc).__name__
    return out, [(w.category.__name__, str(w.message)) for w in record]


def _same(ours, theirs):
    if isinstance(theirs, str) or theirs is None:
        assert ours == theirs
    elif isinstance(theirs, tuple):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        np.testing.assert_array_equal(np.asarray(ours, float), np.asarray(theirs, float))


def _averages(y_true, y_pred, labels):
    averages = ["micro", "macro", "weighted", None]
    if len(set(y_true) | set(y_pred)) <= 2 and labels is None:
        averages.append("binary")
    return averages


@pytest.mark.parametrize("y_true,y_pred,labels", CASES, ids=[str(i) for i in range(len(CASES))])
def test_values_and_warnings_as_scikit_learn(y_true, y_pred, labels):
    sk = pytest.importorskip("sklearn.metrics")
    pos = y_true[0] if isinstance(y_true[0], str) else 1
    for average in _averages(y_true, y_pred, labels):
        for zero_division in ZERO_DIVISIONS:
            for func in FUNCS:
                for beta in {"fbeta_score": BETAS, "precision_recall_fscore_support": [2.0]}.get(
                        func, [None]):
                    kw = dict(labels=labels, average=average, zero_division=zero_division,
                              pos_label=pos)
                    if beta is not None:
                        kw["beta"] = beta
                    ours, our_warnings = _run(lambda: getattr(M, func)(y_true, y_pred, **kw))
                    theirs, their_warnings = _run(lambda: getattr(sk, func)(y_true, y_pred, **kw))
                    where = f"{func}({y_true}, {y_pred}, **{kw})"
                    assert our_warnings == their_warnings, where
                    _same(ours, theirs)


def test_the_slides_not_proton_classifier():
    # recall of a classifier that never says "proton" is 0 (3 protons, none found): defined, so
    # no warning (scikit-learn 1.9.1 gives none); precision 0/0 is the ill-defined one
    y_true, y_pred = [1, 1, 0, 0, 1], [0, 0, 0, 0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert M.recall_score(y_true, y_pred) == 0.0
        assert M.f1_score(y_true, y_pred) == 0.0          # 2 TP / (2 TP + FP + FN) = 0 / 3
        assert M.precision_score([0] * 5, [1] * 5) == 0.0  # 0 / 5; recall 0/0 is not its business
    with pytest.warns(M.UndefinedMetricWarning, match=r"^Precision is ill-defined and being set "
                      r"to 0.0 due to no predicted samples. Use `zero_division` parameter"):
        assert M.precision_score(y_true, y_pred) == 0.0
    assert M.precision_score(y_true, y_pred, zero_division=1) == 1.0
    assert np.isnan(M.precision_score(y_true, y_pred, zero_division=np.nan))


def test_warning_classes():
    assert issubclass(M.UndefinedMetricWarning, UserWarning)
    assert issubclass(M.InvalidParameterError, ValueError)
    assert issubclass(M.InvalidParameterError, TypeError)
    with pytest.warns(M.UndefinedMetricWarning, match="in labels with no true samples"):
        M.recall_score([0, 0], [0, 1], labels=[1, 2], average=None)
    with pytest.warns(UserWarning, match=r"pos_label \(set to 0\) is ignored"):
        M.f1_score([0, 1], [0, 1], average="macro", pos_label=0)


BAD_BETAS = ["x", np.nan, -1, -0.5, None, 1 + 1j, "1", [1]]


@pytest.mark.parametrize("beta", BAD_BETAS, ids=repr)
def test_bad_beta_as_scikit_learn(beta):
    message = (f"The 'beta' parameter of fbeta_score must be a float in the range [0.0, inf]. "
               f"Got {beta!r} instead.")
    with pytest.raises(M.InvalidParameterError) as ours:
        M.fbeta_score([1, 0, 1], [1, 1, 1], beta=beta)
    assert str(ours.value) == message
    sk = pytest.importorskip("sklearn.metrics")
    with pytest.raises(ValueError) as theirs:
        sk.fbeta_score([1, 0, 1], [1, 1, 1], beta=beta)
    assert type(theirs.value).__name__ == type(ours.value).__name__
    assert str(theirs.value) == message


@pytest.mark.parametrize("beta", [True, 0, 3, np.float32(0.5), math.inf])
def test_good_betas_as_scikit_learn(beta):
    sk = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = [1, 0, 1, 1, 0], [1, 1, 0, 1, 0]
    assert M.fbeta_score(y_true, y_pred, beta=beta) == \
        pytest.approx(sk.fbeta_score(y_true, y_pred, beta=beta), rel=1e-12)


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("zero_division", [2, -1, "x", None, 0.5])
def test_bad_zero_division_as_scikit_learn(func, zero_division):
    kw = dict(zero_division=zero_division, **({"beta": 1} if func == "fbeta_score" else {}))
    message = (f"The 'zero_division' parameter of {func} must be a float among {{0.0, 1.0}}, "
               f"numpy.nan or a str among {{'warn'}}. Got {zero_division!r} instead.")
    with pytest.raises(M.InvalidParameterError) as ours:
        getattr(M, func)([1, 0], [1, 1], **kw)
    assert str(ours.value) == message
    sk = pytest.importorskip("sklearn.metrics")
    with pytest.raises(ValueError) as theirs:
        getattr(sk, func)([1, 0], [1, 1], **kw)
    assert str(theirs.value) == message


@pytest.mark.parametrize("func", FUNCS)
def test_bad_average(func):
    kw = {"beta": 1} if func == "fbeta_score" else {}
    with pytest.raises(M.InvalidParameterError, match=rf"^The 'average' parameter of {func} must "
                       r"be a str among \{.*\} or None. Got 'mean' instead.$"):
        getattr(M, func)([1, 0], [1, 1], average="mean", **kw)
