"""Smoke test of benchmarks/bench_signal.py: its helpers run (on tiny inputs, no timing claims)."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_signal.py"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH.parent))  # the script imports its sibling _timing.py
    spec = importlib.util.spec_from_file_location("bench_signal", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timeit_interleaves_and_reports_every_function(bench):
    calls = []
    result = bench.timeit({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                          repeats=3, warmup=2)
    assert set(result) == {"a", "b"} and all(t >= 0 for t in result.values())
    assert calls[-6:] == ["a", "b"] * 3


def test_peers_compute_the_same_convolution(bench):
    from convcore import signal

    rng = np.random.default_rng(0)
    image, kernel = rng.standard_normal((20, 24)), rng.standard_normal((5, 4))
    want = signal.convolve2d(image, kernel, mode="same")
    for name, func in bench.peers().items():
        np.testing.assert_allclose(func(image, kernel), want, rtol=1e-9, atol=1e-9,
                                   err_msg=name)


def test_each_library_runs_in_its_own_worker(bench):
    from _timing import Workers

    with Workers(bench.__file__, ["convcore", "convolve2d"], ["--sizes", "3", "--threads", "1"]) as workers:
        assert "convcore" in workers.procs and "convolve2d" in workers.procs
        t = workers.time(["float64|3"], 1, 2)["float64|3"]
        assert set(t) == set(workers.procs) and all(v > 0 for v in t.values())
        only = workers.time(["float64|3"], 1, 1, libraries=["convolve2d"])["float64|3"]
        assert set(only) == {"convolve2d"} and only["convolve2d"] > 0
        ours, theirs = (workers.result(lib, "float64|3") for lib in ("convcore", "convolve2d"))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_plot(bench, tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"dtype": d, "size": k, "convcore": 1e-3 * k, "convolve2d": 2e-3 * k}
            for d in ("float32", "float64") for k in (3, 5)]
    bench.plot(rows, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0
