"""Timing shared by the benchmark scripts (run them as `python benchmarks/bench_x.py`).

A comparison between libraries runs each library in its own process, so that neither loads the
other (two libraries in one process share OpenMP and BLAS runtimes and each other's settings):
the script starts itself once per library with ``--worker LIBRARY``; the worker imports only that
library, builds every case (a function of no arguments), says "ready" and then runs the cases the
parent asks for. The parent asks the workers in turns, case by case and round by round (the order
of the libraries alternating), so that a change of load on a shared machine hits them alike, and
reports medians. :func:`header` prints the thread count, the load average and the CPU's vector
features, without which no figure from a shared machine means much.

Each worker starts in the steady state of a long-running program (:func:`steady_heap`): otherwise
a library whose first large blocks come straight from the system pays a page fault per 4 KiB of
every result, call after call (PyTorch's forward of 64x1x28x28 by 32x1x5x5: 3,100 faults and
about 7 ms a call in a fresh process, none and 1 ms once any block of 32 MiB has been freed).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def median_times(fns, repeat):
    """Median run time of each function, the functions taking turns so that a load change on the
    (shared) machine hits all of them alike (for functions of one library, in one process)."""
    for fn in fns:
        fn()  # warm up (allocations, thread pools)
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [float(np.median(ts)) for ts in times]


def cpu_features(disabled=None):
    """The CPU's model and its vector features (AVX2, AVX-512F), and what convcore may use
    (`disabled`: what the convcore worker is given as CONVCORE_DISABLE_CPU_FEATURES; default:
    this process's environment)."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    have = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX512F")) if flag in flags]
    if disabled is None:
        disabled = os.environ.get("CONVCORE_DISABLE_CPU_FEATURES", "")
    text = f"{model}, {' '.join(have) or 'no AVX2/AVX-512 seen'}"
    return text + (f", CONVCORE_DISABLE_CPU_FEATURES={disabled}" if disabled else "")


def header(threads, disabled=None):
    """Lines saying how the run was made: threads, load and CPU (print them above a table)."""
    load = (f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())} on "
            f"{os.cpu_count()} CPUs" if hasattr(os, "getloadavg") else "load average unknown")
    return (f"threads={threads}; each library in its own process, rounds alternating\n"
            f"{load}; {cpu_features(disabled)}")


def add_disable_argument(parser):
    """--disable-cpu-features: what the convcore worker alone gets as
    CONVCORE_DISABLE_CPU_FEATURES (e.g. AVX512F: time the AVX2 path on an AVX-512 machine)."""
    parser.add_argument("--disable-cpu-features", metavar="FEATURES", default=None,
                        help="CONVCORE_DISABLE_CPU_FEATURES of the convcore worker only "
                             "(e.g. AVX512F)")


def add_worker_arguments(parser):
    """The options every comparing script takes: --threads (default 2, or the cores if fewer),
    and --worker, with which the script serves as a library's worker (hidden from --help)."""
    import argparse

    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                        help="threads of every library (default: 2)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)


def add_settle_argument(parser):
    """--settle: seconds of pause before each turn of Workers.time (default 0.05), for scripts
    that take turns with a library whose threads spin on after its calls (PyTorch's OpenMP)."""
    parser.add_argument("--settle", type=float, default=0.05,
                        help="seconds of pause before each turn, so that neither library's "
                             "threads still spin from its last turn (default: 0.05)")


def add_calls_argument(parser):
    """--calls: timed calls per turn of each library in Workers.time (default 3). The first call
    after the --settle pause runs cold for every library (its data out of the caches, its threads
    asleep), and a median of one call a turn rests on cold calls only."""
    parser.add_argument("--calls", type=int, default=3,
                        help="timed calls per turn of each library (default 3; the first after "
                             "the --settle pause runs cold)")


def steady_heap():
    """Allocate and free a block of almost 32 MiB, as any program that has run a while has done.

    glibc's malloc serves blocks above its mmap threshold (128 KiB at start) by fresh mappings,
    each page faulted in on first touch and returned on free; freeing such a block raises the
    threshold to its size (up to 32 MiB), after which blocks up to that size are reused from the
    heap. Both libraries' workers do this, so neither is timed in a state a training loop never sees.
    """
    np.empty(2**25 - 2**16, np.uint8)


def serve(build, library, threads):
    """The worker's loop: build {case: function} for `library` and run what the parent asks.

    `build(library, threads)` imports only `library`, sets its thread count and returns the
    cases; it raises ImportError when the library is not installed. Requests on stdin, one per
    line, fields separated by tabs: ``time CASE N`` (answers the N run times as JSON) and
    ``save CASE PATH`` (saves the function's result with numpy.save).
    """
    steady_heap()
    try:
        cases = build(library, threads)
    except ImportError as exc:
        print(json.dumps({"missing": str(exc)}), flush=True)
        return 0
    print(json.dumps({"ready": sorted(cases)}), flush=True)
    for line in sys.stdin:
        verb, case, arg = line.rstrip("\n").split("\t")
        fn = cases[case]
        if verb == "time":
            times = []
            for _ in range(int(arg)):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            print(json.dumps(times), flush=True)
        else:
            np.save(arg, np.asarray(fn()))
            print("[]", flush=True)
    return 0


class Workers:
    """One worker process per library, started from `script` with `args`.

    Use as a context manager; ``cases[library]`` lists what each worker can run (a library that
    is not installed has no worker).
    """

    def __init__(self, script, libraries, args, env=None):
        self.procs, self.cases, self.missing = {}, {}, {}
        # the workers import what this process would (a source tree on sys.path, say); `env`:
        # {library: {variable: value}} set in that library's worker only
        base = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        for lib in libraries:
            proc = subprocess.Popen([sys.executable, os.path.abspath(script), "--worker", lib,
                                     *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True, env=dict(base, **(env or {}).get(lib, {})))
            answer = json.loads(proc.stdout.readline() or '{"missing": "worker failed"}')
            if "ready" in answer:
                self.procs[lib], self.cases[lib] = proc, set(answer["ready"])
            else:
                self.missing[lib] = answer["missing"]
                print(f"{lib}: not available ({answer['missing']})")
                proc.stdin.close()
                proc.wait()
                proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc in self.procs.values():
            proc.stdin.close()
            proc.wait()
            proc.stdout.close()

    def _ask(self, lib, line):
        proc = self.procs[lib]
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        answer = proc.stdout.readline()
        if not answer:
            raise RuntimeError(f"the {lib} worker stopped")
        return json.loads(answer)

    def run(self, lib, case, n=1):
        """The times of `n` runs of `case` in `lib`'s worker (one turn)."""
        return self._ask(lib, f"time\t{case}\t{n}")

    def time(self, cases, repeat, rounds, settle=0.0, libraries=None):
        """{case: {library: median seconds}}: every case, rounds x repeat runs per library (of
        `libraries`, default all), the libraries taking turns (their order reversed every other
        round). `settle` seconds pass before each turn: a library's threads may go on spinning
        after its last call (PyTorch's OpenMP workers burn 3-8 ms of CPU after a 0.5 ms
        convolution), and the next library's turn would otherwise start on a core still taken by
        the previous one."""
        runs = {case: {lib: [] for lib in self.procs if case in self.cases[lib]
                       and (libraries is None or lib in libraries)} for case in cases}
        for case, libs in runs.items():  # warm up
            for lib in libs:
                self._ask(lib, f"time\t{case}\t1")
        for r in range(rounds):
            for case, libs in runs.items():
                for lib in (list(libs) if r % 2 == 0 else list(libs)[::-1]):
                    time.sleep(settle)
                    libs[lib] += self._ask(lib, f"time\t{case}\t{repeat}")
        return {case: {lib: float(np.median(ts)) for lib, ts in libs.items()}
                for case, libs in runs.items()}

    def result(self, lib, case):
        """What `case` returns in `lib`'s worker (as a NumPy array)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "r.npy")
            self._ask(lib, f"save\t{case}\t{path}")
            return np.load(path)
