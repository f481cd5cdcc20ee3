"""What SciPy's own tests need from pytest (markers, the ``xp`` fixture), and the conformance report.

SciPy's test modules run here with convcore's functions in SciPy's place (see ``_loader``), under
NumPy only: the ``xp`` fixture is NumPy, and SciPy's ``skip_xp_backends`` / ``xfail_xp_backends``
marks apply when they name NumPy. At the end, a table tells per function how its tests went:
passed / failed / skipped for the functions convcore provides, and which functions the suite calls
that convcore does not provide (those run on SciPy's own function).
"""
import collections
import os

import numpy as np
import pytest

from . import _loader

#: markers SciPy's test modules use (registered here so that --strict-markers accepts them)
SCIPY_MARKERS = [
    "xslow: extremely slow (SciPy runs it with SCIPY_XSLOW=1)",
    "xfail_on_32bit: fails on 32-bit platforms",
    "array_api_backends: iterates over array API backends",
    "skip_xp_backends(backend=None, *, reason=None, np_only=False, cpu_only=False, "
    "eager_only=False, exceptions=None): backends to skip",
    "xfail_xp_backends(backend=None, *, reason=None, np_only=False, cpu_only=False, "
    "eager_only=False, exceptions=None): backends expected to fail",
    "thread_unsafe: not to be run in parallel threads",
    "parallel_threads_limit(n): at most n threads",
    "iterations(n): repeat n times per thread",
    "fail_slow(duration): fails when slower",
    "timeout(seconds): time limit",
]


def pytest_configure(config):
    for line in SCIPY_MARKERS:
        config.addinivalue_line("markers", line)


def _in_scipy_suite(nodeid):
    """Whether a test comes from one of SciPy's suites (test_scipy_*.py here)."""
    return "conformance/test_scipy_" in nodeid.replace(os.sep, "/")


def _is_conformance(item):
    return _in_scipy_suite(item.nodeid)


def _xp_marked(item, kind):
    """The reason a ``{kind}_xp_backends`` mark gives for NumPy, or None."""
    for mark in item.iter_markers(f"{kind}_xp_backends"):
        if mark.args == ("numpy",):
            return mark.kwargs.get("reason") or f"{kind} on numpy"
    return None


@pytest.fixture(params=[pytest.param(np, id="numpy")])
def xp(request):
    """NumPy as SciPy's tests see it (SciPy's array-API-compatible view of it where it has one)."""
    reason = _xp_marked(request.node, "skip")
    if reason:
        pytest.skip(reason)
    reason = _xp_marked(request.node, "xfail")
    if reason:
        pytest.xfail(reason)
    try:
        from scipy._lib._array_api import array_namespace
    except ImportError:   # a SciPy without array API support: plain NumPy
        return np
    return array_namespace(np.empty(0))


@pytest.fixture
def num_parallel_threads():
    return 1


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and _is_conformance(item):
            for key, value in callspec.params.items():
                callspec.params[key] = _loader.swap(value)


def pytest_runtest_setup(item):
    if _is_conformance(item):
        _loader.CALLED.clear()
        if item.get_closest_marker("xslow") and not os.environ.get("SCIPY_XSLOW"):
            pytest.skip("very slow test (SciPy runs it with SCIPY_XSLOW=1)")


_outcomes = {}                                   # nodeid -> passed / failed / skipped / xfailed
_calls = {}                                      # nodeid -> labels of the functions it called
_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "failed": 3}


def pytest_runtest_logreport(report):
    if not _in_scipy_suite(report.nodeid):
        return
    outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
    if report.when != "call" and outcome == "passed":
        outcome = _outcomes.get(report.nodeid, "passed")
    if _RANK[outcome] >= _RANK[_outcomes.get(report.nodeid, "passed")]:
        _outcomes[report.nodeid] = outcome
    if report.when == "teardown":
        _calls[report.nodeid] = set(_loader.CALLED)


def pytest_terminal_summary(terminalreporter):
    if not _outcomes:
        return
    import scipy
    per = collections.defaultdict(collections.Counter)
    other = collections.Counter()          # functions not provided -> tests that call them
    silent = collections.Counter()         # outcome of tests that called no public function
    for nodeid, outcome in _outcomes.items():
        called = _calls.get(nodeid, set())
        ours = called & _loader.PROVIDED
        for label in ours:
            per[label][outcome] += 1
        for label in called - _loader.PROVIDED:
            other[label] += 1
        if not called:
            silent[outcome] += 1
    write = terminalreporter.write_line
    terminalreporter.section(f"convcore conformance: SciPy {scipy.__version__}'s own tests")
    write(f"{'function':34} {'passed':>7} {'failed':>7} {'skipped':>8} {'xfailed':>8}")
    for label in sorted(per):
        c = per[label]
        write(f"{label:34} {c['passed']:7} {c['failed']:7} {c['skipped']:8} {c['xfailed']:8}")
    for label in sorted(_loader.PROVIDED - set(per)):
        write(f"{label:34} {'(no test calls it)':>33}")
    if other:
        write("not provided (tests ran SciPy's own): " +
              ", ".join(f"{k} ({n} tests)" for k, n in sorted(other.items())))
    if silent:
        write("tests calling no public function (private helpers, or skipped before a call): " +
              ", ".join(f"{n} {k}" for k, n in sorted(silent.items())))
