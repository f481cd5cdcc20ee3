"""Classification metrics: hand-computed cases, and scikit-learn's numbers on random labels."""
import warnings

import numpy as np
import pytest

from convcore import metrics as M


class TestHandComputed:
    y_true = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    y_pred = np.array([1, 0, 1, 0, 1, 0, 0, 1])  # TP 3, FN 1, FP 1, TN 3

    def test_confusion_matrix_and_scores(self):
        np.testing.assert_array_equal(M.confusion_matrix(self.y_true, self.y_pred), [[3, 1], [1, 3]])
        assert M.accuracy_score(self.y_true, self.y_pred) == 0.75
        assert M.accuracy_score(self.y_true, self.y_pred, normalize=False) == 6
        assert M.precision_score(self.y_true, self.y_pred) == 0.75
        assert M.recall_score(self.y_true, self.y_pred) == 0.75
        assert M.f1_score(self.y_true, self.y_pred) == 0.75

    def test_fbeta_weighs_recall_against_precision(self):
        # TP 2, FP 1, FN 3: precision 2/3 and recall 2/5 differ, so beta matters;
        # F_beta = (1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP)
        y_true, y_pred = [1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1, 0, 0]
        assert M.precision_score(y_true, y_pred) == pytest.approx(2 / 3)
        assert M.recall_score(y_true, y_pred) == pytest.approx(2 / 5)
        assert M.fbeta_score(y_true, y_pred, beta=2) == pytest.approx(10 / 23)
        assert M.fbeta_score(y_true, y_pred, beta=0.5) == pytest.approx(10 / 17)
        assert M.fbeta_score(y_true, y_pred, beta=1) == M.f1_score(y_true, y_pred) == 0.5
        assert M.fbeta_score(y_true, y_pred, beta=0) == pytest.approx(2 / 3)  # precision
        assert M.fbeta_score(y_true, y_pred, beta=1e4) == pytest.approx(2 / 5, rel=1e-6)  # recall
        # per class (class 0 has TP 2, FP 3, FN 1: 10 / (10 + 4 + 3)) and averaged
        f = M.precision_recall_fscore_support(y_true, y_pred, beta=2)[2]
        np.testing.assert_allclose(f, [10 / 17, 10 / 23], rtol=1e-14)
        assert M.fbeta_score(y_true, y_pred, beta=2, average="macro") == pytest.approx(np.mean(f))

    def test_normalized_by_columns_and_total_and_label_subsets(self):
        y_true, y_pred = [0, 0, 0, 1, 1, 2], [0, 1, 1, 1, 2, 2]  # counts [[1,2,0],[0,1,1],[0,0,1]]
        np.testing.assert_allclose(M.confusion_matrix(y_true, y_pred, normalize="pred"),
                                   [[1, 2 / 3, 0], [0, 1 / 3, 1 / 2], [0, 0, 1 / 2]])
        np.testing.assert_allclose(M.confusion_matrix(y_true, y_pred, normalize="all"),
                                   [[1 / 6, 2 / 6, 0], [0, 1 / 6, 1 / 6], [0, 0, 1 / 6]])
        # labels in a given order, a label never seen (its column sum is 0: 0, not NaN)
        np.testing.assert_allclose(M.confusion_matrix(y_true, y_pred, labels=[2, 0, 5], normalize="pred"),
                                   [[1, 0, 0], [0, 1, 0], [0, 0, 0]])
        np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred, labels=[1, 0]), [[1, 0], [2, 1]])
        assert M.precision_score(y_true, y_pred, labels=[2], average="macro") == 0.5
        assert M.recall_score(y_true, y_pred, labels=[0], average="macro") == pytest.approx(1 / 3)

    def test_undefined_metric_warnings_name_the_metric(self):
        # class 2 is never predicted and class 1 never true: precision, recall and F are 0/0
        with pytest.warns(M.UndefinedMetricWarning, match="Recall is ill-defined"):
            M.recall_score([0, 0, 2], [0, 1, 0], labels=[1], average="macro")
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            M.f1_score([0, 0], [0, 0], labels=[1], average="macro")
        # f1_score warns for the F-score only, as scikit-learn does
        assert [str(w.message).split()[0] for w in record] == ["F-score"]
        out = M.classification_report([0, 0, 1], [0, 0, 0], zero_division=1, output_dict=True)
        assert out["1"]["precision"] == 1.0 and out["1"]["recall"] == 0.0

    def test_undefined_metric_warnings_point_at_the_callers_line(self):
        # (mutmut deselects this one: its trampolines add frames between the caller and metrics)
        for call in (M.recall_score, M.f1_score, M.precision_recall_fscore_support):
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                call([0, 0], [0, 0], labels=[1], average="macro")
            assert record and {w.filename for w in record} == {__file__}, call.__name__

    def test_multiclass_averages(self):
        y_true, y_pred = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0]
        p, r, f, s = M.precision_recall_fscore_support(y_true, y_pred)
        np.testing.assert_allclose(p, [1 / 2, 1 / 2, 1])
        np.testing.assert_allclose(r, [1 / 2, 1, 2 / 3])
        np.testing.assert_array_equal(s, [2, 1, 3])
        assert M.precision_score(y_true, y_pred, average="macro") == pytest.approx(2 / 3)
        assert M.recall_score(y_true, y_pred, average="weighted") == pytest.approx(4 / 6)
        assert M.f1_score(y_true, y_pred, average="micro") == pytest.approx(4 / 6)

    def test_string_labels_and_label_order(self):
        cm = M.confusion_matrix(["p", "n", "p"], ["p", "p", "p"], labels=["p", "n"])
        np.testing.assert_array_equal(cm, [[2, 0], [1, 0]])
        assert M.precision_score(["p", "n", "p"], ["p", "p", "p"], pos_label="p") == pytest.approx(2 / 3)

    def test_normalized_confusion_matrix(self):
        cm = M.confusion_matrix([0, 0, 1], [0, 1, 1], normalize="true")
        np.testing.assert_allclose(cm, [[0.5, 0.5], [0, 1]])

    def test_zero_division(self):
        with pytest.warns(M.UndefinedMetricWarning, match="Precision is ill-defined"):
            assert M.precision_score([1, 0], [0, 0]) == 0.0
        assert M.precision_score([1, 0], [0, 0], zero_division=1) == 1.0
        assert np.isnan(M.precision_score([1, 0], [0, 0], zero_division=np.nan))

    def test_weighted_average_without_support_is_the_plain_mean(self):
        # class 1 is predicted twice but never true: precision 0/2, recall 0/0 -> zero_division
        p, r, f, s = M.precision_recall_fscore_support([0, 0], [1, 1], labels=[1],
                                                       average="weighted", zero_division=1)
        assert (p, r, f, s) == (0.0, 1.0, 0.0, None)
        p, r, _, _ = M.precision_recall_fscore_support([0, 0, 2], [1, 1, 2], labels=[1, 3],
                                                       average="weighted", zero_division=np.nan)
        assert p == 0.0 and np.isnan(r)

    def test_report_layout(self):
        report = M.classification_report([0, 1, 1, 0], [0, 1, 0, 0], target_names=["no", "yes"])
        assert report.splitlines()[0].split() == ["precision", "recall", "f1-score", "support"]
        assert "accuracy" in report and "macro avg" in report and "weighted avg" in report
        d = M.classification_report([0, 1, 1, 0], [0, 1, 0, 0], output_dict=True)
        assert d["accuracy"] == 0.75 and d["1"]["recall"] == 0.5 and d["macro avg"]["support"] == 4

    @pytest.mark.parametrize("call, error, match", [
        (lambda: M.accuracy_score([0, 1], [0]), ValueError, "same length"),
        (lambda: M.accuracy_score([], []), ValueError, "must not be empty"),
        (lambda: M.confusion_matrix([[0, 1]], [[0, 1]]), ValueError, "y_true must be a 1-D array"),
        (lambda: M.confusion_matrix([0.5, np.nan], [0, 1]), ValueError, "NaN"),
        (lambda: M.confusion_matrix([0, 1], [0, 1], labels=[2, 3]), ValueError, "must be present"),
        (lambda: M.confusion_matrix([0, 1], [0, 1], normalize="rows"), ValueError, "normalize must be"),
        (lambda: M.f1_score([0, 1, 2], [0, 1, 2]), ValueError, "Target is multiclass"),
        (lambda: M.f1_score([0, 1], [0, 1], average="mean"), ValueError,
         "The 'average' parameter of f1_score must be a str among"),
        (lambda: M.f1_score([0, 1], [0, 1], pos_label=2), ValueError, "pos_label=2 is not a valid"),
        (lambda: M.f1_score([0, 1], [0, 1], zero_division=5), ValueError,
         "The 'zero_division' parameter of f1_score must be a float among"),
        (lambda: M.classification_report([0, 1], [0, 1], target_names=["a"]), ValueError,
         "1 names for 2 classes"),
    ])
    def test_clear_errors(self, call, error, match):
        with pytest.raises(error, match=match):
            call()


class TestAgainstScikitLearn:
    @pytest.fixture(autouse=True)
    def sklearn_metrics(self):
        """Skipped test by test (not at import, which would skip the hand-computed cases too)."""
        self.sk = pytest.importorskip("sklearn.metrics")

    @pytest.mark.parametrize("seed", range(40))
    def test_random_labels(self, seed):
        rng = np.random.default_rng(seed)
        k, n = rng.integers(2, 6), rng.integers(5, 60)
        y_true, y_pred = rng.integers(0, k, n), rng.integers(0, k, n)
        np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred),
                                      self.sk.confusion_matrix(y_true, y_pred))
        assert M.accuracy_score(y_true, y_pred) == self.sk.accuracy_score(y_true, y_pred)
        averages = ["micro", "macro", "weighted", None]
        if len(np.union1d(y_true, y_pred)) <= 2:
            averages.append("binary")
        for average in averages:
            for zero_division in (0, 1, np.nan):
                ours = M.precision_recall_fscore_support(y_true, y_pred, average=average,
                                                         zero_division=zero_division)
                theirs = self.sk.precision_recall_fscore_support(y_true, y_pred, average=average,
                                                                 zero_division=zero_division)
                for a, b in zip(ours, theirs):
                    if b is None:
                        assert a is None
                    else:
                        np.testing.assert_allclose(a, b, rtol=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert M.classification_report(y_true, y_pred, zero_division=0) == \
                self.sk.classification_report(y_true, y_pred, zero_division=0)
            assert M.classification_report(y_true, y_pred, zero_division=0, digits=4, output_dict=True) \
                == self.sk.classification_report(y_true, y_pred, zero_division=0, digits=4,
                                                 output_dict=True)

    @pytest.mark.parametrize("seed", range(30))
    def test_string_labels_subsets_and_beta(self, seed):
        rng = np.random.default_rng(100 + seed)
        names = np.array(["electron", "muon", "pion", "proton", "kaon"])
        n = rng.integers(1, 20)
        y_true, y_pred = names[rng.integers(0, 3, n)], names[rng.integers(0, 4, n)]
        labels = list(rng.choice(names, rng.integers(1, 4), replace=False)) if seed % 2 else None
        for average in ("micro", "macro", "weighted", None):
            for zero_division in (0, 1, np.nan):
                for beta in (0.5, 1.0, 2.0):
                    kw = dict(labels=labels, average=average, zero_division=zero_division, beta=beta)
                    ours = M.precision_recall_fscore_support(y_true, y_pred, **kw)
                    theirs = self.sk.precision_recall_fscore_support(y_true, y_pred, **kw)
                    for a, b in zip(ours, theirs):
                        if b is None:
                            assert a is None
                        else:
                            np.testing.assert_allclose(a, b, rtol=1e-12)
        cm_labels = labels if labels is None or np.isin(y_true, labels).any() else None
        with warnings.catch_warnings():  # scikit-learn warns when a single label is seen
            warnings.simplefilter("ignore", UserWarning)
            expected = self.sk.confusion_matrix(y_true, y_pred, labels=cm_labels)
        np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred, labels=cm_labels), expected)

    def test_subset_of_labels(self):
        y_true, y_pred = [0, 1, 1, 0, 2, 2], [0, 1, 0, 0, 2, 1]
        assert M.classification_report(y_true, y_pred, labels=[1, 2]) == \
            self.sk.classification_report(y_true, y_pred, labels=[1, 2])
        assert M.f1_score(y_true, y_pred, labels=[1, 2], average="macro") == \
            pytest.approx(self.sk.f1_score(y_true, y_pred, labels=[1, 2], average="macro"))
