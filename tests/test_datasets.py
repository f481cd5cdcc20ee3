"""The simulated detector events: shapes, reproducibility and the physics they claim to model."""
import numpy as np
import pytest

from convcore.datasets import PARTICLES, detector_events, load_digits


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
