"""The one parallel runner (src/parallel.pxd, the pool of convcore._kernels.parallel): every index
of a job runs exactly once, on a thread id below the thread count, whatever the number of
threads, batches, nesting or concurrent callers; one pool serves every kernel module; a forked
child gets a working pool of its own; kernels give the bits of a serial NumPy reference on 1 to 4
threads."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import convcore
from convcore._kernels import activations as _activations
from convcore._kernels import parallel as _parallel


def _cover(n, batch, threads, nested=False):
    hits = np.zeros(n, np.int64)
    tids = np.full(n, -1, np.int32)
    used = _parallel.cover(hits, tids, batch, threads, nested)
    return hits, tids, used


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
@pytest.mark.parametrize("n, batch", [(0, 1), (1, 1), (7, 3), (1000, 1), (1000, 7),
                                      (100_003, 4096), (5, 100)])
def test_every_index_runs_exactly_once_on_a_thread_in_range(n, batch, threads, nested):
    hits, tids, used = _cover(n, batch, threads, nested)
    assert np.all(hits == 1)
    assert np.all((tids >= 0) & (tids < threads))
    assert 1 <= used <= threads


def test_a_large_job_gets_the_threads_it_asks_for():
    if not _parallel.pool_built():
        pytest.skip("built without the helper-thread pool: every job runs on its caller")
    # the pool backs off for a few calls after a helper was late (a busy machine), so ask again
    used = [_cover(1 << 20, 1 << 12, 2)[2] for _ in range(40)]
    assert 2 in used and set(used) <= {1, 2}


def test_concurrent_callers_neither_deadlock_nor_corrupt_each_other():
    errors = []

    def caller(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(200):
                n = int(rng.integers(0, 20_000))
                threads = int(rng.integers(1, 5))
                hits, tids, _ = _cover(n, int(rng.integers(1, 2000)), threads, bool(seed % 2))
                assert np.all(hits == 1) and np.all((tids >= 0) & (tids < threads))
        except Exception as exc:  # reported in the main thread
            errors.append(exc)

    workers = [threading.Thread(target=caller, args=(seed,)) for seed in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers), "a caller hung"
    assert errors == []


def _run_child(code, tmp_path):
    # the child imports the convcore under test (an in-place build or the installed wheel), not
    # the source tree that may stand in the working directory
    home = os.path.dirname(os.path.dirname(os.path.abspath(convcore.__file__)))
    path = os.pathsep.join(filter(None, [home, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_one_pool_serves_every_kernel_module(tmp_path):
    if not _parallel.pool_built():
        pytest.skip("built without the helper-thread pool")
    # helper threads are started on first use: a second module using 2 threads adds none
    out = _run_child("""
        import os, numpy as np
        from convcore._kernels import activations, parallel
        tasks = lambda: len(os.listdir("/proc/self/task"))
        x = np.ones(1 << 20, np.float32)
        before = tasks()
        for _ in range(20):
            activations.relu(x, x, 2)
        after_one = tasks()
        for _ in range(20):
            parallel.cover(np.zeros(1 << 20, np.int64), np.zeros(1 << 20, np.int32), 4096, 2)
        print(before, after_one, tasks())
    """, tmp_path)
    before, after_one, after_two = map(int, out.split())
    assert after_one == before + 1 and after_two == after_one


def test_a_forked_child_runs_jobs_on_a_pool_of_its_own(tmp_path):
    if not hasattr(os, "fork") or not _parallel.pool_built():
        pytest.skip("needs fork and the helper-thread pool")
    _run_child("""
        import os, numpy as np
        from convcore._kernels import parallel

        def check():
            n = 1 << 18
            for _ in range(20):
                hits, tids = np.zeros(n, np.int64), np.full(n, -1, np.int32)
                parallel.cover(hits, tids, 1024, 2)
                assert (hits == 1).all() and ((tids >= 0) & (tids < 2)).all()

        check()                      # the parent's helper is running
        pid = os.fork()
        if pid == 0:
            try:
                check()
                os._exit(0)
            except BaseException:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        check()
    """, tmp_path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_activations_give_numpys_bits_on_any_thread_count(dtype, threads):
    rng = np.random.default_rng(threads)
    x = rng.standard_normal(300_007).astype(dtype)
    x[:4] = [np.nan, -0.0, np.inf, -np.inf]
    g = rng.standard_normal(x.size).astype(dtype)
    g[4] = np.inf
    y = np.empty_like(x)
    _activations.relu(x, y, threads)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    assert not np.signbit(y[1])
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 in the references
        mask, slope = g * ~(x <= 0), g * (1 - x * x)   # a NaN output passes g
    _activations.relu_backward(g, x, y, threads)
    np.testing.assert_array_equal(y, mask)
    _activations.tanh_backward(g, x, y, threads)
    np.testing.assert_array_equal(y, slope)
    _activations.tanh(x, y, 1)
    one = y.copy()
    _activations.tanh(x, y, threads)
    np.testing.assert_array_equal(y, one)  # every element alone: any split, the same bits
    _activations.tanh(x, x, threads)  # in place
    np.testing.assert_array_equal(x, one)
