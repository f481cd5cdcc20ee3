"""The tiled FFT engine for 2-D plans: overlap-save over cache-sized tiles.

One transform of the whole (padded) image moves every sample through memory several times and needs
the kernel's spectrum at the full size too. Cutting the extended input ``X`` into overlapping tiles
of ``T0 x T1`` samples (fast lengths), each tile gives ``(T0 - K0 + 1) x (T1 - K1 + 1)`` valid
outputs: ``irfft2(rfft2(tile) * rfft2(reversed w, T))`` taken from index ``K - 1`` on is the valid
correlation of the tile with ``w``; the circular wrap-around only touches the first ``K - 1`` entries
that are dropped. The kernel's spectrum is ``T0 x T1`` only, a row of tiles is transformed at once
(one batched scipy.fft call; rows of tiles are shared between the caller and helper threads), and
a tile's spectrum stays in the core's cache between the forward transform, the product and the
inverse. Float32 data are transformed in float32 (complex64), float64 and integers in float64
(integers are rounded back, exact only where ``_method._fft_allowed`` says so).

``tile_shape`` picks the tile by the FFT work per output sample (tile count, including the last
partial row and column, times ``T0 T1 log2(T0 T1)``, plus a fixed cost per tile), with a penalty
for tiles whose samples and spectrum do not fit in a core's L2 cache; a single tile covering the
whole output is the plain FFT convolution.
"""
import functools
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft as sp_fft
from numpy.lib.stride_tricks import sliding_window_view

from .._threads import get_num_threads
from ._fft import as_result, inverse, region_of, work_dtype

L2_BYTES = 1 << 20        # per-core L2 of the project's machine (AMD EPYC, 1 MiB)
OUT_OF_CACHE = 2.0        # measured: a tile whose samples and spectrum spill L2 costs ~2x per
                          # n log n (1024x1024 float32, 101x101 kernel, one thread: 9 tiles of
                          # 480x480 21 ms, 25 of 320x320 15 ms, one 1125x1125 tile 21 ms)
TILE_OVERHEAD = 2.0e4     # fixed work per tile (n log n units): the calls and copies of a row of
                          # tiles shared out per tile (measured: 90x90 tiles, 11x11 kernel)


def _lengths(k, full):
    """Candidate tile lengths along an axis: fast real lengths from about 2k up, and the one length
    that covers the whole axis (a single tile)."""
    whole = sp_fft.next_fast_len(full, True)
    out = {whole}
    base = max(2 * k, 16)
    n = sp_fft.next_fast_len(base, True)
    while n < whole:
        out.add(n)
        n = sp_fft.next_fast_len(int(n * 1.19) + 1, True)
    return sorted(out)


@functools.lru_cache(maxsize=256)
def tile_shape(shape, kshape, itemsize):
    """((T0, T1), work): the tile shape of least modelled FFT work for an output `shape` and a kernel
    `kshape`, and that work in units of ``n log2 n`` of real transforms (forward + inverse of every
    tile; the kernel's one transform is small and left out)."""
    cand = [np.asarray(_lengths(k, m + k - 1)) for m, k in zip(shape, kshape)]
    t0, t1 = np.meshgrid(cand[0], cand[1], indexing="ij")
    tiles = (-(-shape[0] // (t0 - kshape[0] + 1))) * (-(-shape[1] // (t1 - kshape[1] + 1)))
    size = (t0 * t1).astype(np.float64)
    footprint = (t0 * (t1 // 2 + 1) * 2.0 + t0 * t1) * itemsize   # spectrum and samples
    per = np.where(footprint > L2_BYTES, OUT_OF_CACHE, 1.0)
    work = tiles * (2 * size * np.log2(size) * per + TILE_OVERHEAD)
    i, j = np.unravel_index(np.argmin(work), work.shape)
    return (int(t0[i, j]), int(t1[i, j])), float(work[i, j])


def usable(plan):
    """Tiles cover 2-D real (or exactly integer) plans at stride 1."""
    return (plan.x.ndim == 2 and plan.result.kind in "fiu" and tuple(plan.stride) == (1, 1)
            and plan.x.dtype.kind != "c" and plan.w.dtype.kind != "c")


_pool = None
_pool_size = 0
_pool_lock = threading.Lock()


def _helpers(n):
    """A thread pool with at least `n` helper threads (kept for later calls)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="convcore-tiles")
            _pool_size = n
        return _pool


class _Rows:
    """Rows of tiles handed out one at a time to the caller and helper threads.

    The caller never waits for a helper that has not started: it claims rows itself until none is
    left, then waits only for rows a helper has claimed and is still computing (a helper that
    starts late finds nothing to do). Every row is computed the same way whichever thread takes it,
    so results do not depend on the thread count.
    """

    def __init__(self, count, body):
        self.count, self.body = count, body
        self.next = self.busy = 0
        self.error = None
        self.cond = threading.Condition()

    def work(self):
        state = {}
        while True:
            with self.cond:
                if self.next >= self.count or self.error is not None:
                    return
                i = self.next
                self.next += 1
                self.busy += 1
            try:
                self.body(i, state)
            except BaseException as exc:  # handed to the caller, which raises it
                with self.cond:
                    self.error = self.error or exc
            finally:
                with self.cond:
                    self.busy -= 1
                    self.cond.notify_all()

    def run(self, threads):
        if threads > 1 and self.count > 1:
            pool = _helpers(threads - 1)
            for _ in range(min(threads, self.count) - 1):
                pool.submit(self.work)
        self.work()
        with self.cond:
            while self.busy:
                self.cond.wait()
        if self.error is not None:
            raise self.error


def run_tiles(plan, tile=None):
    """Evaluate a 2-D stride-1 `plan` by overlap-save FFT over tiles (``tile`` = (T0, T1) forces
    a tile shape; each must exceed the kernel's length along its axis).

    Rows of tiles are shared out between the caller and helper threads (``_Rows``); each thread
    transforms its row of tiles in one batched call on one core.
    """
    work = work_dtype(plan)
    region, offset = region_of(plan)
    (m0, m1), (k0, k1) = plan.shape, plan.w.shape
    if tile is None:
        tile = tile_shape(tuple(plan.shape), tuple(plan.w.shape), work.itemsize)[0]
    t0, t1 = tile
    b0, b1 = t0 - k0 + 1, t1 - k1 + 1
    n0, n1 = -(-m0 // b0), -(-m1 // b1)
    spec_w = sp_fft.rfft2(plan.w[::-1, ::-1].astype(work), tile, workers=1)
    out = np.empty((m0, m1), dtype=work)
    width = n1 * b1 + k1 - 1
    # columns of a strip that the region fills (the rest stay zero: the constant-zero edge)
    c_lo, c_hi = offset[1], min(offset[1] + region.shape[1], width)

    def row(i, state):
        if "strip" not in state:   # one strip per thread, reused for its rows
            state["strip"] = np.zeros((t0, width), dtype=work)
            state["clean"] = True
        strip = state["strip"]
        top = i * b0 - offset[0]          # region row of the strip's first row
        r_lo, r_hi = max(top, 0), min(top + t0, region.shape[0])
        covered = r_lo == top and r_hi == top + t0 and c_lo == 0 and c_hi == width
        if not (covered or state["clean"]):
            strip.fill(0)
        state["clean"] = False
        if r_hi > r_lo and c_hi > c_lo:
            strip[r_lo - top:r_hi - top, c_lo:c_hi] = region[r_lo:r_hi, :c_hi - c_lo]
        windows = sliding_window_view(strip, t1, axis=1)[:, ::b1].transpose(1, 0, 2)
        spec = sp_fft.rfft2(windows, tile, workers=1)
        spec *= spec_w
        res = inverse(spec, tile, (1, 2), False, 1)
        rows = min(b0, m0 - i * b0)
        valid = res[:, k0 - 1:k0 - 1 + rows, k1 - 1:]                  # (n1, rows, b1)
        dst = out[i * b0:i * b0 + rows]
        if n1 * b1 == m1:
            dst.reshape(rows, n1, b1)[...] = valid.transpose(1, 0, 2)
        else:
            dst[:, :(n1 - 1) * b1].reshape(rows, n1 - 1, b1)[...] = \
                valid[:n1 - 1].transpose(1, 0, 2)
            dst[:, (n1 - 1) * b1:] = valid[n1 - 1, :, :m1 - (n1 - 1) * b1]

    _Rows(n0, row).run(get_num_threads())
    return as_result(out, plan)
