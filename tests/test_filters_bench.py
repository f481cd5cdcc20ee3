"""Smoke test of benchmarks/bench_ndimage.py's helpers on a tiny image (no timing asserted)."""
import importlib.util
import os
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
    assert all(r[5] for r in rows), [r for r in rows if not r[5]]
    text = bench.table(rows)
    assert "gaussian s=16" in text and "correlate 5x5" in text and "MISMATCH" not in text
    assert "targets: >= 3x scipy.ndimage in " in text


def test_the_avx2_path_runs_and_agrees(bench):
    rows = bench.run(size=40, dtypes=(np.uint8, np.float32), repeats=1,
                     only=["gaussian s=1", "correlate"], disable="AVX512F")
    assert rows and all(r[5] for r in rows), [r for r in rows if not r[5]]


def test_workers_set_the_environment_of_one_library_only(bench, tmp_path):
    script = tmp_path / "envworker.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(PATH.parent)!r})\n"
        "import numpy as np\n"
        "from _timing import serve\n"
        "def build(lib, threads):\n"
        "    value = os.environ.get('CONVCORE_BENCH_PROBE', '')\n"
        "    return {'env': lambda: np.frombuffer(value.encode() or b'-', np.uint8)}\n"
        "serve(build, sys.argv[sys.argv.index('--worker') + 1], 1)\n")
    assert "CONVCORE_BENCH_PROBE" not in os.environ
    env = {"a": {"CONVCORE_BENCH_PROBE": "AVX512F"}}
    with bench.Workers(str(script), ["a", "b"], [], env) as workers:
        seen = {lib: workers.result(lib, "env").tobytes().decode() for lib in ("a", "b")}
    assert seen == {"a": "AVX512F", "b": "-"}


def test_opencv_peers_compute_the_same_filters(bench):
    pytest.importorskip("cv2")
    x = bench.make_image(48, np.float64)
    ours, theirs = bench.filters("convcore"), bench.filters("opencv")
    assert list(ours) == list(theirs) == bench.NAMES
    for name, fn in ours.items():
        np.testing.assert_allclose(theirs[name](x), fn(x), rtol=1e-6, atol=1e-6, err_msg=name)


def test_agreement_counts_equal_outputs(bench):
    a = np.arange(4, dtype=np.uint8)
    assert bench.agreement(a, a.copy()) == 1.0
    assert bench.agreement(a, np.array([0, 1, 2, 4], np.uint8)) == 0.75
    assert bench.agreement(a, a.astype(np.float32)) == 0.0


def test_same_result_rules(bench):
    a = np.ones((3, 3), np.uint8)
    assert bench.same_result(a, a.copy())
    assert not bench.same_result(a, a + 1)
    assert not bench.same_result(a, a.astype(np.float32))
    f = np.ones(4, np.float32)
    assert bench.same_result(f, f * (1 + 1e-7)) and not bench.same_result(f, f * 1.001)
