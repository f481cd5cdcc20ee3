"""convcore.set_num_threads reaches the kernels: the Python layer passes the setting to every
kernel call, and a kernel's parallel loop runs on that many threads."""
import numpy as np
import pytest

import convcore
from convcore import _openmp
from convcore.functional import conv as conv_module
from convcore.functional import pooling as pooling_module


class KernelSpy:
    """Stands in for a compiled kernel module and records the thread count of every call."""

    def __init__(self, module):
        self._module = module
        self.threads = []

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if not callable(attr):
            return attr

        def call(*args):
            self.threads.append(args[-1])  # every kernel takes n_threads last
            return attr(*args)
        return call


@pytest.fixture
def spies(monkeypatch):
    conv_spy, pool_spy = KernelSpy(conv_module.kernels), KernelSpy(pooling_module._pool)
    monkeypatch.setattr(conv_module, "kernels", conv_spy)
    monkeypatch.setattr(pooling_module, "_pool", pool_spy)
    yield conv_spy, pool_spy
    convcore.set_num_threads(None)


@pytest.mark.parametrize("n", [1, 2])
def test_set_num_threads_changes_what_kernels_use(spies, n):
    conv_spy, pool_spy = spies
    convcore.set_num_threads(n)
    expected = n if _openmp.openmp_enabled() else 1
    x = np.random.default_rng(0).standard_normal((4, 2, 8, 8))
    w = np.ones((3, 2, 3, 3))
    y = convcore.functional.conv2d(x, w)
    convcore.functional.conv2d_backward(y, x, w)
    convcore.functional.max_pool2d(x, 2, return_indices=True)
    convcore.functional.avg_pool2d(x, 2)
    assert conv_spy.threads and set(conv_spy.threads) == {expected}
    assert pool_spy.threads and set(pool_spy.threads) == {expected}
    assert _openmp.team_size(convcore.get_num_threads()) == expected


def test_small_batch_leaves_the_threads_to_blas(spies):
    conv_spy, _ = spies
    convcore.set_num_threads(2)
    convcore.functional.conv2d(np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3)))
    assert conv_spy.threads == [1]  # one image: the GEMM owns the threads, not the batch loop
