"""The demo runs the whole workflow on a tiny setting and prints the lecture's metrics; the
examples run on tiny settings too."""
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from convcore import _threads, cli, demo, metrics


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output = tmp_path_factory.mktemp("demo")
    lines = []
    pytest.importorskip("matplotlib")
    result = demo.run_demo(events=160, epochs=1, seed=1, size=16, output=str(output),
                           verbose=False, out=lines.append)
    return result, lines, output


def test_prints_the_workflow_and_metrics(tiny_run):
    result, lines, _ = tiny_run
    text = "\n".join(lines)
    for expected in ("1. Simulated 160 events", "2. The lecture's filters", "line: diagonal 45",
                     "3. Training a CNN", "4. On the 40 held-out events", "PREDICTED",
                     "TP", "FN", "FP", "TN", "accuracy  =", "precision =", "recall    =",
                     "F1        =", "macro avg", "Finished in"):
        assert expected in text, expected
    assert f"accuracy  = (TP + TN) / all            = {result['accuracy']:.3f}" in text


def test_numbers_agree_with_the_confusion_matrix(tiny_run):
    result, _, _ = tiny_run
    (tp, fn), (fp, tn) = result["confusion_matrix"]
    assert tp + fn + fp + tn == 40
    assert result["accuracy"] == pytest.approx((tp + tn) / 40)
    assert result["recall"] == pytest.approx(tp / (tp + fn))
    if tp + fp:
        assert result["precision"] == pytest.approx(tp / (tp + fp))
    assert 0.0 <= result["f1"] <= 1.0
    assert len(result["history"]["loss"]) == 1


def test_figures_are_written(tiny_run):
    result, _, output = tiny_run
    names = sorted(p.name for p in output.iterdir())
    assert names == ["confusion_matrix.png", "feature_maps.png", "filters_on_events.png",
                     "learned_filters.png", "training_curves.png"]
    assert sorted(map(str, (output / n for n in names))) == sorted(result["figures"])


def test_ascii_rendering_marks_the_peak():
    image = np.zeros((3, 4))
    image[1, 2] = 2.0
    image[1, 1] = 1.0
    assert demo._ascii(image) == ["    ", " =@ ", "    "]


def test_command_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _threads._setting
    code = cli.main(["demo", "--events", "120", "--epochs", "1", "--size", "16", "--seed", "2",
                     "--no-plots"])
    out = capsys.readouterr().out
    assert code == 0
    assert "seed 2, 120 events of 16x16 pixels, 1 epochs, 1 threads" in out and "F1" in out
    assert list(tmp_path.iterdir()) == []  # --no-plots writes nothing
    assert _threads._setting == before  # the demo's --threads does not leak


@pytest.mark.parametrize("argv, match", [
    (["--size", "18"], "size must be a multiple of 4, got 18"),
    (["--events", "10"], "events must be >= 40, got 10"),
    (["--epochs", "0"], "epochs must be positive, got 0"),
    (["--proton-fraction", "1"], "proton_fraction must lie strictly between 0 and 1"),
    (["--threads", "0"], "threads must be positive, got 0"),
])
def test_bad_options(capsys, argv, match):
    assert cli.main(["demo", *argv]) == 2
    out, err = capsys.readouterr()
    assert match in err and out == ""


def test_metrics_layout_matches_the_lecture():
    # the lecture's table puts the positive class (proton) first: labels=[1, 0]
    cm = metrics.confusion_matrix([1, 1, 0, 0, 0], [1, 0, 1, 0, 0], labels=[1, 0])
    lines = []
    demo._print_confusion(cm, lines.append)
    assert lines[2].split() == ["TRUE", "proton", "1", "TP", "1", "FN"]
    assert lines[3].split() == ["not", "proton", "1", "FP", "2", "TN"]


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script, argv, expected", [
    ("detector_binary.py", ["--events", "200", "--epochs", "1"], "threshold precision"),
    ("detector_multiclass.py", ["--events", "200", "--epochs", "1"], "electron"),
    ("cnn_vs_dense.py", ["--events", "200", "--epochs", "1"], "dense"),
    ("digits_cnn.py", ["--epochs", "1"], "test accuracy"),
])
def test_examples_run(script, argv, expected, monkeypatch, capsys):
    if script == "digits_cnn.py":
        pytest.importorskip("sklearn")
    path = EXAMPLES / script
    if not path.exists():
        pytest.skip("examples/ is not shipped with the installed package")
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    runpy.run_path(str(path), run_name="__main__")
    assert expected in capsys.readouterr().out


def test_same_seed_same_run():
    runs = [demo.run_demo(events=80, epochs=1, seed=5, size=16, verbose=False, out=lambda line: None)
            for _ in range(2)]
    assert runs[0]["history"]["loss"] == runs[1]["history"]["loss"]
    np.testing.assert_array_equal(runs[0]["confusion_matrix"], runs[1]["confusion_matrix"])


def test_without_matplotlib_the_figures_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    lines = []
    result = demo.run_demo(events=80, epochs=1, seed=3, size=16, output=str(tmp_path / "figs"),
                           verbose=False, out=lines.append)
    assert result["figures"] == []
    assert any(line.startswith("5. Figures skipped: matplotlib is not installed") for line in lines)
    assert not (tmp_path / "figs").exists()
