"""The engines' scratch buffers (convcore.functional._scratch): reused per thread and slot,
never shared between slots or threads, and never read before being written: gradients computed
over buffers full of NaN equal those over fresh arrays and satisfy the convolution's linearity."""
import threading

import numpy as np
import pytest

import convcore
import convcore.functional as F
from convcore.functional import _scratch as scratch

rng = np.random.default_rng(7)


def test_a_slot_reuses_its_buffer_and_slots_do_not_overlap():
    a = scratch.empty("test_a", (4, 8), np.float32)
    b = scratch.empty("test_b", (4, 8), np.float32)
    assert not np.shares_memory(a, b)
    again = scratch.empty("test_a", (2, 3), np.float64)
    assert np.shares_memory(a, again)
    assert again.shape == (2, 3) and again.dtype == np.float64 and again.flags.c_contiguous
    z = scratch.zeros("test_a", (5,), np.float32)
    assert np.shares_memory(a, z) and not z.any()


def test_large_arrays_are_not_kept():
    n = scratch.MAX_BYTES // 8 + 1
    assert not np.shares_memory(scratch.empty("test_big", (n,), np.float64),
                                scratch.empty("test_big", (n,), np.float64))


def test_each_thread_has_its_own_buffers():
    mine = scratch.empty("test_thread", (16,), np.float32)
    other = []
    t = threading.Thread(target=lambda: other.append(scratch.empty("test_thread", (16,),
                                                                   np.float32)))
    t.start()
    t.join()
    assert not np.shares_memory(mine, other[0])


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", [
    ((32, 16, 4, 4), (16, 16, 3, 3), 1, 1),  # Winograd: forward of the input gradient, weight grad
    ((6, 8, 12, 12), (8, 8, 3, 3), 1, 1),  # Winograd in tile rows
    ((8, 16, 8, 8), (16, 16, 3, 3), 2, 1),  # im2col, several images a GEMM
    ((4, 3, 11, 11), (5, 3, 3, 3), 1, 0),  # im2col and col2im
])
@pytest.mark.parametrize("threads", [1, 2])
def test_gradients_do_not_read_stale_scratch(x_shape, w_shape, stride, padding, threads,
                                             monkeypatch):
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    kw = dict(stride=stride, padding=padding)
    y = F.conv2d(x, w, **kw)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    try:
        convcore.set_num_threads(threads)
        monkeypatch.setattr(scratch, "MAX_BYTES", -1)  # every array fresh
        fresh = F.conv2d_backward(gy, x, w, **kw)
        y_fresh = F.conv2d(x, w, **kw)
        monkeypatch.undo()
        F.conv2d_backward(gy, x, w, **kw)  # sizes the buffers
        for buf in scratch._local.buffers.values():
            buf.fill(0xFF)  # NaN in every float
        reused = F.conv2d_backward(gy, x, w, **kw)
        for buf in scratch._local.buffers.values():
            buf.fill(0xFF)
        y_reused = F.conv2d(x, w, **kw)
    finally:
        convcore.set_num_threads(None)
    np.testing.assert_array_equal(y_reused, y_fresh)
    for a, b in zip(reused, fresh):
        np.testing.assert_array_equal(a, b)
    # linearity: <gy, conv(x, w)> = <grad_x, x> = <grad_w, w>
    total = np.sum(gy.astype(np.float64) * y)
    gx, gw, _ = reused
    assert np.sum(gx * x.astype(np.float64)) == pytest.approx(total, rel=1e-4)
    assert np.sum(gw * w.astype(np.float64)) == pytest.approx(total, rel=1e-4)


@pytest.mark.parametrize("chunks", [1, 2, 5])
def test_sum_chunks_has_the_bits_of_sum(chunks):
    partial = rng.standard_normal((chunks, 7, 33)).astype(np.float32)
    expected = partial.sum(axis=0)
    total = scratch.sum_chunks(partial)
    np.testing.assert_array_equal(total, expected)
    assert np.shares_memory(total, partial)
