"""Smoke test of benchmarks/bench_ndimage.py's helpers on a tiny image (no timing asserted)."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("convcore.ndimage")
PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ndimage.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(PATH.parent))  # the script imports its sibling _timing.py
    spec = importlib.util.spec_from_file_location("bench_ndimage", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_case_agrees_with_scipy_and_the_table_prints(bench):
    rows = bench.run(size=40, repeats=1)  # each library in its own worker process
    assert len(rows) == 3 * 6
    assert all(ok for *_, ok in rows), [r for r in rows if not r[-1]]
    text = bench.table(rows)
    assert "gaussian s=16" in text and "correlate 5x5" in text and "MISMATCH" not in text
    assert "targets: >= 3x scipy.ndimage in " in text


def test_opencv_peers_compute_the_same_filters(bench):
    pytest.importorskip("cv2")
    x = bench.make_image(48, np.float64)
    ours, theirs = bench.filters("convcore"), bench.filters("opencv")
    assert list(ours) == list(theirs) == bench.NAMES
    for name, fn in ours.items():
        np.testing.assert_allclose(theirs[name](x), fn(x), rtol=1e-6, atol=1e-6, err_msg=name)


def test_same_result_rules(bench):
    a = np.ones((3, 3), np.uint8)
    assert bench.same_result(a, a.copy())
    assert not bench.same_result(a, a + 1)
    assert not bench.same_result(a, a.astype(np.float32))
    f = np.ones(4, np.float32)
    assert bench.same_result(f, f * (1 + 1e-7)) and not bench.same_result(f, f * 1.001)
