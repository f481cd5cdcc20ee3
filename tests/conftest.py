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
