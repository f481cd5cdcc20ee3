"""convcore is a good neighbour in a shared process: importing it and calling it leaves the
environment, other libraries' thread pools, signal handlers and NumPy's global state as they were,
loads no OpenMP runtime (whose settings PyTorch and others would share), and PyTorch runs as fast
next to it as without it.

Each check runs in a fresh child process, since what an import changes is only seen in a process
that had not imported convcore before.
"""
import contextlib
import os
import statistics
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import convcore
from convcore._threads import blas_threads

# the child imports this very convcore (run from elsewhere, a source tree would shadow it)
HOME = os.path.dirname(os.path.dirname(os.path.abspath(convcore.__file__)))

# a few calls through the kernels that start the pool's threads and hold BLAS to one thread
CALLS = """
import numpy as np
import convcore
from convcore import ndimage, signal
convcore.set_num_threads(2)
x = np.random.default_rng(0).standard_normal((8, 8, 64, 64)).astype(np.float32)
w = np.ones((8, 8, 3, 3), np.float32)
y = convcore.conv2d(x, w)
convcore.conv2d_backward(y, x, w)
convcore.max_pool2d(x, 2)
ndimage.gaussian_filter(x[0, 0], 2.0)
signal.convolve2d(x[0, 0], w[0, 0], mode="same")
convcore.set_num_threads(None)
"""


# What dask's LocalCluster (its nanny's pre-spawn-environ) leaves in the environment of the process
# that started it, here the pytest process after the dask tests: not the user's environment.
# (With OPENBLAS_NUM_THREADS=1 and MALLOC_TRIM_THRESHOLD_=65536 inherited, the step of the child
# that imports convcore, and with it SciPy, measured 1.5-2.9x the other's.)
DASK_NANNY_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                  "MALLOC_TRIM_THRESHOLD_", "KMP_INIT_AT_FORK", "__DASK_PARENT_PID")


def child_env(extra_env=None, drop=("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") + DASK_NANNY_ENV):
    """This environment without the runtime's wait settings (nor what a dask cluster started by
    an earlier test left behind), importing the convcore under test."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [HOME, env.get("PYTHONPATH")]))
    env.update(extra_env or {})
    return env


def run_child(code, tmp_path, extra_env=None):
    env = child_env(extra_env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_import_and_calls_set_no_environment_variable_even_for_a_moment(tmp_path):
    # NumPy sets OPENBLAS_MAIN_FREE for a moment while it loads its BLAS: import it first
    code = """
    import os
    import numpy
    changes = []
    os.putenv = lambda key, value: changes.append(("set", key, value))
    os.unsetenv = lambda key: changes.append(("unset", key))
    before = dict(os.environb)
    import convcore
    after_import = dict(os.environb)
    """ + textwrap.indent(CALLS, "    ") + """
    assert changes == [], changes
    assert after_import == before and dict(os.environb) == before
    print("ok")
    """
    assert run_child(code, tmp_path).stdout.split() == ["ok"]


def test_import_and_calls_leave_signals_and_numpy_state_alone(tmp_path):
    code = """
    import signal as sig
    import numpy as np

    def state():
        handlers = {s: sig.getsignal(s) for s in sig.valid_signals()
                    if s not in (sig.SIGKILL, sig.SIGSTOP)}
        return (handlers, np.geterr(), np.getbufsize(), np.get_printoptions(),
                repr(np.random.get_state()))

    before = state()
    import convcore
    """ + textwrap.indent(CALLS, "    ") + """
    assert state() == before
    print("ok")
    """
    assert run_child(code, tmp_path).stdout.split() == ["ok"]


def test_no_openmp_runtime_is_loaded(tmp_path):
    # an OpenMP runtime reads OMP_WAIT_POLICY, GOMP_SPINCOUNT, ... once, when loaded, and then
    # holds PyTorch and every other OpenMP library in the process to it: convcore's kernels run on
    # their own threads and load none (compared with what NumPy and SciPy load without convcore)
    maps = """
    names = {line.split()[-1].rsplit("/", 1)[-1] for line in open("/proc/self/maps")}
    print(sorted(n for n in names if n.startswith(("libgomp", "libomp", "libiomp"))))
    """
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("needs /proc/self/maps")
    alone = run_child("import numpy, scipy.linalg, scipy.ndimage, scipy.signal\n"
                      + textwrap.dedent(maps), tmp_path)
    with_convcore = run_child(textwrap.dedent(CALLS) + textwrap.dedent(maps), tmp_path)
    assert with_convcore.stdout == alone.stdout


def test_blas_thread_pools_are_unchanged_after_calls_and_after_an_exception():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def pools():
        return [(p["internal_api"], p["filepath"], p["num_threads"])
                for p in threadpoolctl.threadpool_info()]

    before = pools()
    exec(CALLS, {})
    assert pools() == before
    with pytest.raises(RuntimeError, match="inside"):
        with blas_threads(1):
            raise RuntimeError("inside")
    assert pools() == before
    # a kernel call that fails at the boundary changes nothing either
    with pytest.raises(ValueError):
        convcore.conv2d(np.ones((1, 2, 5, 5)), np.ones((1, 3, 3, 3)))
    assert pools() == before


TORCH_STEPS = """
import sys, time
if sys.argv[1] == "convcore":
""" + textwrap.indent(CALLS, "    ") + """
import torch
torch.manual_seed(0)
torch.set_num_threads(2)
net = torch.nn.Sequential(
    torch.nn.Conv1d(1, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.Conv1d(16, 16, 5, padding=2),
    torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(16 * 40, 10))
opt = torch.optim.Adam(net.parameters(), 1e-3)
x, y = torch.randn(100, 1, 40), torch.randint(0, 10, (100,))

def step():
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()

for _ in range(10):
    step()
print("ready", flush=True)
for _ in sys.stdin:  # one line in: time 10 steps, print their times
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(*times, flush=True)
"""


def test_pytorch_trains_as_fast_next_to_convcore(tmp_path):
    # PyTorch once shared its OpenMP runtime with convcore; when convcore changed how it waited, a
    # training step took 2-2.5x as long. Two processes, one with convcore imported and called, take
    # turns, so that both see the same machine load.
    pytest.importorskip("torch")
    script = tmp_path / "steps.py"
    script.write_text(TORCH_STEPS)
    env = child_env()
    with contextlib.ExitStack() as stack:
        procs = {mode: stack.enter_context(subprocess.Popen(
            [sys.executable, str(script), mode], env=env, cwd=tmp_path, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)) for mode in ("alone", "convcore")}
        for proc in procs.values():
            assert proc.stdout.readline().strip() == "ready"
        times = {mode: [] for mode in procs}
        for _ in range(15):
            for mode, proc in procs.items():
                proc.stdin.write("go\n")
                proc.stdin.flush()
                times[mode] += map(float, proc.stdout.readline().split())
    # a low quantile of each: the step as fast as the machine's load let it run (a slower runtime
    # slows every step; a busy machine slows some steps of both)
    quantile = {mode: statistics.quantiles(t, n=10)[0] for mode, t in times.items()}
    ratio = quantile["convcore"] / quantile["alone"]
    assert ratio < 1.5, quantile
