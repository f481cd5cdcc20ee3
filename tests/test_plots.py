"""Figures build from real data and are written to disk (needs matplotlib)."""
import numpy as np
import pytest

from convcore import plots


@pytest.fixture
def matplotlib():
    """For the tests that draw; the argument checks run without matplotlib."""
    return pytest.importorskip("matplotlib")


def test_confusion_matrix_figure_shows_the_counts(tmp_path, matplotlib):
    path = tmp_path / "cm.png"
    fig = plots.plot_confusion_matrix([[5, 1], [2, 7]], labels=["proton", "other"], path=path)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1", "2", "5", "7"]
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = plots.plot_confusion_matrix([[5, 1], [2, 6]], normalize=True)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["0.17", "0.25", "0.75", "0.83"]


def test_history_pairs_training_and_validation(tmp_path, matplotlib):
    fig = plots.plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2], "accuracy": [0.1, 0.5, 0.9]},
                             path=tmp_path / "h.svg")
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
    np.testing.assert_array_equal(loss_ax.lines[1].get_ydata(), [3, 2.5, 2])
    assert (tmp_path / "h.svg").exists()


def test_filters_and_feature_maps(matplotlib):
    w = np.random.default_rng(0).normal(size=(40, 2, 3, 3))
    assert len(plots.plot_filters(w, channel=1).axes) == 32
    assert len(plots.plot_feature_maps(np.zeros((3, 5, 5))).axes) == 3


@pytest.mark.parametrize("call, match", [
    (lambda: plots.plot_confusion_matrix([[1, 2, 3]]), "cm must be a square"),
    (lambda: plots.plot_confusion_matrix([[1, 2], [3, 4]], labels=["a"]), "1 names for 2 classes"),
    (lambda: plots.plot_history({}), "history must be a non-empty mapping"),
    (lambda: plots.plot_history({"loss": [1]}, metrics=["f1"]), "metrics: 'f1' is not in the history"),
    (lambda: plots.plot_history({"lr": [1]}), "metrics must name at least one metric"),
    (lambda: plots.plot_filters(np.zeros((2, 3, 3))), "weight must be 4-D"),
    (lambda: plots.plot_filters(np.zeros((2, 1, 3, 3)), channel=1), r"channel must lie in \[0, 1\)"),
    (lambda: plots.plot_feature_maps(np.zeros((2, 2, 3, 3))), "maps must be"),
])
def test_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_images_side_by_side(tmp_path, matplotlib):
    fig = plots.plot_images([np.eye(6), np.ones((3, 3)), np.zeros((6, 6))], titles=["a", "b", "c"],
                            cols=2, path=tmp_path / "img.png")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert fig.axes[1].images[0].get_array().shape == (3, 3)
    assert (tmp_path / "img.png").exists()


@pytest.mark.parametrize("kwargs, match", [
    (dict(images=[]), "images must hold at least one image"),
    (dict(images=[np.zeros(3)]), r"images\[0\] must be 2-D"),
    (dict(images=[np.zeros((2, 2))], titles=["a", "b"]), "titles has 2 entries for 1 images"),
    (dict(images=[np.zeros((2, 2))], cols=0), "cols must be a positive integer"),
])
def test_images_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.plot_images(**kwargs)
