"""Smoke test of benchmarks/bench_signal.py: its helpers run (on tiny inputs, no timing claims)."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_signal.py"


@pytest.fixture(scope="module")
def bench():
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


def test_plot(bench, tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"dtype": d, "size": k, "convcore": 1e-3 * k, "convolve2d": 2e-3 * k}
            for d in ("float32", "float64") for k in (3, 5)]
    bench.plot(rows, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0
