"""The simulated detector events: shapes, reproducibility and the physics they claim to model."""
import numpy as np
import pytest

from convcore.datasets import PARTICLES, detector_events, load_digits, train_test_split


def test_shapes_dtypes_and_labels():
    images, labels = detector_events(300, size=24, seed=1)
    assert images.shape == (300, 1, 24, 24) and images.dtype == np.float32
    assert labels.dtype == np.int64 and set(labels.tolist()) == {0, 1}
    assert 0.35 < labels.mean() < 0.65  # proton_fraction 0.5


def test_reproducible_with_a_seed_and_binary_matches_multiclass():
    a, la = detector_events(50, seed=7)
    b, lb = detector_events(50, seed=7, multiclass=True)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb == PARTICLES.index("proton"))
    c, _ = detector_events(50, seed=8)
    assert not np.array_equal(a, c)


def test_physics_of_the_tracks():
    images, labels = detector_events(800, size=32, seed=0, noise=0.0, multiclass=True)
    planes = images[:, 0]
    lit = (planes > 0.2).sum(axis=(1, 2))
    peak = planes.max(axis=(1, 2))
    total = planes.sum(axis=(1, 2))

    def mean(values, name):
        return values[labels == PARTICLES.index(name)].mean()
    # protons stop quickly: short tracks, but a dense Bragg peak at their end
    assert mean(lit, "proton") < 0.7 * mean(lit, "muon")
    assert mean(peak, "proton") > 1.3 * mean(peak, "muon")
    # muons and pions are minimum ionising: their deposit per lit pixel is alike
    per_pixel = total / np.maximum(lit, 1)
    assert mean(per_pixel, "muon") == pytest.approx(mean(per_pixel, "pion"), rel=0.15)
    # electron showers branch and deposit the most energy
    assert mean(total, "electron") > 1.5 * mean(total, "muon")


def test_noise_level():
    images, _ = detector_events(20, size=64, seed=3, noise=0.1, proton_fraction=1.0)
    corner = images[:, 0, :6, :6]  # tracks start near the centre, protons are short
    assert corner.std() == pytest.approx(0.1, rel=0.15)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n=0), ValueError, "n must be positive"),
    (dict(n=2.5), TypeError, "n must be an integer"),
    (dict(size=8), ValueError, "size must be >= 16"),
    (dict(noise=-1.0), ValueError, "noise must be a non-negative number"),
    (dict(proton_fraction=1.5), ValueError, r"proton_fraction must lie in \[0, 1\]"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        detector_events(**{"n": 10, **kwargs})


def test_load_digits():
    pytest.importorskip("sklearn")
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(labels.tolist()) == set(range(10))


class TestTrainTestSplit:
    def test_parts_cover_the_data_once(self):
        x, y = np.arange(100).reshape(50, 2), np.arange(50) % 3
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, seed=0)
        assert len(x_te) == 10 and len(x_tr) == 40
        np.testing.assert_array_equal(np.sort(np.concatenate([x_tr[:, 0], x_te[:, 0]])),
                                      np.arange(0, 100, 2))
        np.testing.assert_array_equal(y_tr, x_tr[:, 0] // 2 % 3)  # rows stay paired

    def test_stratified_and_reproducible(self):
        y = np.array([0] * 80 + [1] * 20)
        a = train_test_split(y, test_size=0.25, seed=3, stratify=y)
        b = train_test_split(y, test_size=0.25, seed=3, stratify=y)
        np.testing.assert_array_equal(a[1], b[1])
        assert np.sum(a[1] == 1) == 5 and np.sum(a[1] == 0) == 20
        _, test = train_test_split(np.arange(10), test_size=3, seed=0)
        assert len(test) == 3

    @pytest.mark.parametrize("args, kwargs, error, match", [
        ((), {}, ValueError, "at least one array"),
        ((np.zeros(4), np.zeros(5)), {}, ValueError, "same first dimension"),
        ((np.zeros(4),), dict(test_size=1.5), ValueError, "strictly between 0 and 1"),
        ((np.zeros(4),), dict(test_size=4), ValueError, r"test_size must lie in \[1, 3\]"),
        ((np.zeros(4),), dict(test_size="half"), TypeError, "test_size must be a number"),
        ((np.zeros(4),), dict(stratify=[0, 1]), ValueError, "stratify must be 1-D with 4 labels"),
    ])
    def test_errors(self, args, kwargs, error, match):
        with pytest.raises(error, match=match):
            train_test_split(*args, **kwargs)
