"""Suite-wide rule: an optional library missing skips the tests that need it, never a whole module.

A ``pytest.importorskip`` that runs at import time (module level or a class body) skips every test
of its file; once that hid all the convolution and pooling tests wherever PyTorch was absent.
"""
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    report = (yield).get_result()
    if report.skipped and isinstance(collector, pytest.Module):
        report.outcome = "failed"
        report.longrepr = (f"{collector.nodeid} was skipped as a whole at import ({report.longrepr[2]}"
                           "); skip inside the tests that need the missing library instead")


# CI sets CONVCORE_REQUIRE_TORCH=1 where it installed torch: the PyTorch cross-checks must then run,
# so a missing torch stops the session and a test skipped for want of torch counts as failed.
_REQUIRE_TORCH = __import__("os").environ.get("CONVCORE_REQUIRE_TORCH") == "1"


def pytest_sessionstart(session):
    if _REQUIRE_TORCH:
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise pytest.UsageError(f"CONVCORE_REQUIRE_TORCH=1 but torch cannot be imported: {exc}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if _REQUIRE_TORCH and report.skipped and "torch" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"skipped although CONVCORE_REQUIRE_TORCH=1: {report.longrepr}"


# Hypothesis profiles of tests/test_properties.py (and SciPy's own @given tests in tests/conformance):
# "ci" by default (a few seconds per test, the same examples on every run), "long" for the nightly
# script (benchmarks/fidelity_nightly.sh: pytest --hypothesis-profile=long).
try:
    from hypothesis import HealthCheck, settings
except ImportError:
    pass
else:
    _quiet = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
    settings.register_profile("ci", max_examples=120, deadline=None, derandomize=True,
                              suppress_health_check=_quiet, print_blob=True)
    import os
    # CONVCORE_LONG_EXAMPLES: examples per test of the long profile (a shorter nightly run)
    settings.register_profile("long", deadline=None, suppress_health_check=_quiet,
                              max_examples=int(os.environ.get("CONVCORE_LONG_EXAMPLES", 25_000)),
                              print_blob=True)
    settings.load_profile("ci")


@pytest.fixture
def threaded():
    """For tests comparing thread counts: on a build without the thread pool every kernel runs on
    one thread, and such a comparison would pass without testing anything."""
    from convcore._kernels import parallel
    if not parallel.pool_built():
        pytest.skip("convcore was built without its thread pool: its kernels run on one thread")


@pytest.fixture
def openmp(threaded):
    """The former name of `threaded` (the kernels ran on OpenMP then)."""
