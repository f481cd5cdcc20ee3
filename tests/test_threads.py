"""convcore.set_num_threads reaches the kernels: the Python layer passes the setting to every
kernel call, a kernel's parallel loop runs on that many threads, and 1 or 2 threads give the same
convolutions and gradients, bit for bit."""
import os

import numpy as np
import pytest

import convcore
from convcore._kernels import parallel as _parallel
from convcore.functional._conv import kernels as conv_kernels
from convcore.functional import pooling as pooling_module


class KernelSpy:
    """Stands in for a compiled kernel module and records the thread count of every call."""

    def __init__(self, module):
        self._module = module
        self.threads = []

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if not callable(attr) or name.endswith("_work"):  # (scratch sizes: no threads)
            return attr

        def call(*args):
            self.threads.append(args[-1])  # every kernel takes n_threads last
            return attr(*args)
        return call


@pytest.fixture
def spies(monkeypatch):
    conv_spy, pool_spy = KernelSpy(conv_kernels.im2col), KernelSpy(pooling_module._pooling)
    winograd_spy = KernelSpy(conv_kernels.winograd)
    shallow_spy = KernelSpy(conv_kernels.shallow)
    # one record for the GEMM engines' kernels and the direct one of first layers
    winograd_spy.threads = shallow_spy.threads = conv_spy.threads
    monkeypatch.setattr(conv_kernels, "im2col", conv_spy)
    monkeypatch.setattr(conv_kernels, "winograd", winograd_spy)
    monkeypatch.setattr(conv_kernels, "shallow", shallow_spy)
    monkeypatch.setattr(pooling_module, "_pooling", pool_spy)
    yield conv_spy, pool_spy
    convcore.set_num_threads(None)


@pytest.mark.parametrize("n", [1, 2])
def test_set_num_threads_changes_what_kernels_use(spies, n):
    conv_spy, pool_spy = spies
    convcore.set_num_threads(n)
    expected = n if _parallel.pool_built() else 1
    # large enough for every kernel to be worth two threads
    x = np.random.default_rng(0).standard_normal((8, 8, 64, 64))
    w = np.ones((8, 8, 3, 3))
    y = convcore.functional.conv2d(x, w)
    convcore.functional.conv2d_backward(y, x, w)
    convcore.functional.max_pool2d(x, 2, return_indices=True)
    convcore.functional.avg_pool2d(x, 2)
    assert conv_spy.threads and set(conv_spy.threads) == {expected}
    assert pool_spy.threads and set(pool_spy.threads) == {expected}
    # and the pool runs a job on that many (it backs off a few calls when a helper was late)
    hits, tids = np.zeros(1 << 20, np.int64), np.zeros(1 << 20, np.int32)
    assert expected in {_parallel.cover(hits, tids, 4096, convcore.get_num_threads())
                        for _ in range(40)}


def test_small_calls_run_on_one_thread(spies):
    conv_spy, pool_spy = spies
    convcore.set_num_threads(2)
    convcore.functional.conv2d(np.ones((1, 1, 6, 6)), np.ones((1, 1, 3, 3)))
    convcore.functional.max_pool2d(np.ones((4, 4, 8, 8)), 2)
    assert conv_spy.threads == [1] and pool_spy.threads == [1]  # waking a thread costs more


def test_one_large_image_leaves_the_threads_to_blas(spies):
    conv_spy, _ = spies
    convcore.set_num_threads(2)
    convcore.functional.conv2d(np.ones((1, 64, 64, 64)), np.ones((64, 64, 3, 3)))
    # one image: the GEMM owns the threads, not the batch loop (nor the weight transform)
    assert conv_spy.threads and set(conv_spy.threads) == {1}


THREAD_CASES = [  # conv dims, x shape, weight shape, keyword arguments
    (2, (11, 4, 12, 12), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2)),  # col2im path
    (2, (5, 32, 9, 9), (16, 32, 3, 3), dict(padding=(1, 2), dilation=2)),  # input grad by conv
    (2, (3, 8, 6, 6), (4, 8, 1, 1), {}),  # pointwise: GEMM only
    (1, (7, 3, 20), (4, 3, 5), dict(padding="same")),
    (3, (3, 2, 5, 6, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=1)),
]


@pytest.mark.parametrize("nd, x_shape, w_shape, kw", THREAD_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_and_two_threads_give_the_same_bits(nd, x_shape, w_shape, kw, dtype, threaded):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    conv = getattr(convcore.functional, f"conv{nd}d")
    backward = getattr(convcore.functional, f"conv{nd}d_backward")
    gy = rng.standard_normal(conv(x, w, b, **kw).shape).astype(dtype)
    results = []
    try:
        for n in (1, 2):
            convcore.set_num_threads(n)
            assert convcore.get_num_threads() == (n if _parallel.pool_built() else 1)
            results.append((conv(x, w, b, **kw),) + backward(gy, x, w, **kw))
    finally:
        convcore.set_num_threads(None)
    for one, two in zip(*results):
        assert one.dtype == dtype
        np.testing.assert_array_equal(one, two)


def test_weight_gradient_chunks_depend_on_sizes_only():
    from convcore.functional._conv.choice import weight_chunks
    assert weight_chunks(1, 100) == 1
    assert weight_chunks(3, 100) == 3
    assert weight_chunks(64, 100) == 4
    assert weight_chunks(64, 3 * 1024 * 1024) == 2  # a large layer: 2 partial sums, not 4


def test_blas_threads_holds_every_openblas_in_the_process():
    # SciPy's OpenBLAS (the kernels' GEMMs) and NumPy's (numpy.matmul) are separate libraries
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from convcore._threads import blas_threads

    np.ones((2, 2)) @ np.ones((2, 2))  # both libraries loaded
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401

    homes = tuple(os.path.dirname(m.__file__) for m in (np, scipy))  # their wheels' .libs too

    def openblas_threads():  # (other packages, e.g. OpenCV, may bring OpenBLAS copies of their own)
        return {p["filepath"]: p["num_threads"] for p in threadpoolctl.threadpool_info()
                if p.get("internal_api") == "openblas" and p["filepath"].startswith(homes)}

    before = openblas_threads()
    if not before:
        pytest.skip("no OpenBLAS in this process")
    with blas_threads(1):
        assert set(openblas_threads().values()) == {1}
    assert openblas_threads() == before
